//! Offers and launches: allocation cycles turned into offers, DECLINE / REVIVE / SUPPRESS,
//! and ACCEPT with its LAUNCH and LAUNCH_GROUP operations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use mesos_common::auth::{Action, Object};
use mesos_common::ids;
use mesos_common::resources::Resources;
use mesos_common::wire;
use mesos_proto::internal::{self as internal, master_message};
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, task_status::Reason, TaskState};
use tracing::{debug, info, warn};

use super::{
    aid, allocator_result, error_event, fid, master_status, offer_proto, partition_aware,
    update_event, validate_id, Engine, EngineEvent, OfferEntry, TaskEntry, SLOW_ALLOCATION_MS,
};

impl Engine {
    pub fn decline(
        &mut self,
        framework_id: &str,
        offer_ids: &[v1::OfferId],
        filters: Option<&v1::Filters>,
        now: Duration,
    ) {
        let refuse = refuse_duration(filters);
        for offer_id in offer_ids {
            let Some(offer) = self.offers.get(&offer_id.value) else {
                continue;
            };
            if offer.framework_id != framework_id {
                continue;
            }
            let offer = self.take_offer(&offer_id.value).expect("offer exists");
            self.counters.offers_declined += 1;
            allocator_result(self.allocator.recover_resources(
                framework_id,
                &offer.agent_id,
                &offer.resources,
                refuse,
                now,
            ));
        }
        self.allocation_pending = true;
    }

    pub fn revive(&mut self, framework_id: &str, roles: Vec<String>) {
        let roles = if roles.is_empty() { None } else { Some(roles) };
        allocator_result(self.allocator.revive(framework_id, roles));
        self.allocation_pending = true;
    }

    pub fn suppress(&mut self, framework_id: &str, roles: Vec<String>) {
        let roles = if roles.is_empty() { None } else { Some(roles) };
        allocator_result(self.allocator.suppress(framework_id, roles));
    }

    pub fn accept(&mut self, framework_id: &str, accept: scheduler::call::Accept, now: Duration) {
        let refuse = refuse_duration(accept.filters.as_ref());
        let pa = self
            .frameworks
            .get(framework_id)
            .map(|f| partition_aware(&f.info))
            .unwrap_or(false);

        // Validate the offers first: every task of an ACCEPT with a bad offer is dropped.
        let mut offer_error = None;
        let mut agent_id: Option<String> = None;
        let mut seen = HashSet::new();
        if accept.offer_ids.is_empty() {
            offer_error = Some("No offers specified".to_string());
        }
        for offer_id in &accept.offer_ids {
            if !seen.insert(offer_id.value.clone()) {
                offer_error = Some(format!("Duplicate offer {} in ACCEPT", offer_id.value));
                break;
            }
            match self.offers.get(&offer_id.value) {
                None => {
                    offer_error = Some(format!("Offer {} is no longer valid", offer_id.value));
                    break;
                }
                Some(o) if o.framework_id != framework_id => {
                    offer_error = Some(format!(
                        "Offer {} has invalid framework {} while framework {} is expected",
                        offer_id.value, o.framework_id, framework_id
                    ));
                    break;
                }
                Some(o) => match &agent_id {
                    Some(a) if a != &o.agent_id => {
                        offer_error = Some(format!(
                            "Aggregated offers must belong to one single agent. Offer {} uses agent {} and agent {}",
                            offer_id.value, o.agent_id, a
                        ));
                        break;
                    }
                    _ => agent_id = Some(o.agent_id.clone()),
                },
            }
        }

        if let Some(error) = offer_error {
            warn!(framework_id, %error, "ACCEPT with invalid offers");
            // The valid offers among them go back to the allocator, as Mesos does.
            for offer_id in &accept.offer_ids {
                if self
                    .offers
                    .get(&offer_id.value)
                    .is_some_and(|o| o.framework_id == framework_id)
                {
                    let o = self.take_offer(&offer_id.value).expect("offer exists");
                    allocator_result(self.allocator.recover_resources(
                        framework_id,
                        &o.agent_id,
                        &o.resources,
                        None,
                        now,
                    ));
                }
            }
            let state = if pa {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for op in &accept.operations {
                for task in launch_tasks(op) {
                    let status = master_status(
                        &task.task_id.value.clone(),
                        Some(task.agent_id.value.as_str()),
                        state,
                        Reason::InvalidOffers,
                        format!("Task launched with invalid offers: {error}"),
                    );
                    self.count_terminal(state);
                    self.send_to_framework(framework_id, &update_event(status));
                }
            }
            self.allocation_pending = true;
            return;
        }

        let agent_id = agent_id.expect("at least one valid offer");
        let mut available = Resources::default();
        for offer_id in &accept.offer_ids {
            let o = self.take_offer(&offer_id.value).expect("validated");
            available = available.plus(&o.resources);
        }
        self.counters.offers_accepted += accept.offer_ids.len() as u64;

        for op in accept.operations {
            let op_type = op.r#type();
            match op_type {
                v1::offer::operation::Type::Launch => {
                    let tasks = op.launch.map(|l| l.task_infos).unwrap_or_default();
                    for task in tasks {
                        self.launch_task(framework_id, &agent_id, task, &mut available, pa);
                    }
                }
                v1::offer::operation::Type::LaunchGroup => match op.launch_group {
                    Some(group) => {
                        self.launch_group(framework_id, &agent_id, group, &mut available, pa)
                    }
                    None => self.send_to_framework(
                        framework_id,
                        &error_event("LAUNCH_GROUP operation without 'launch_group'"),
                    ),
                },
                other => {
                    // Reservations and volumes are not supported yet; say so instead of
                    // silently ignoring the operation.
                    self.send_to_framework(
                        framework_id,
                        &error_event(format!(
                            "Offer operation {} is not supported by this master",
                            other.as_str_name()
                        )),
                    );
                }
            }
        }

        if !available.is_empty() {
            allocator_result(self.allocator.recover_resources(
                framework_id,
                &agent_id,
                &available,
                refuse,
                now,
            ));
        }
        self.allocation_pending = true;
    }

    fn launch_task(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task: v1::TaskInfo,
        available: &mut Resources,
        partition_aware: bool,
    ) {
        let task_id = task.task_id.value.clone();
        if let Err(message) = self.authorize_task(framework_id, &task) {
            warn!(framework_id, task_id, %message, "unauthorized task");
            let status = master_status(
                &task_id,
                Some(agent_id),
                TaskState::TaskError,
                Reason::TaskUnauthorized,
                message,
            );
            self.count_terminal(TaskState::TaskError);
            self.send_to_framework(framework_id, &update_event(status));
            return;
        }
        let resources = match self.validate_task(framework_id, agent_id, &task, available) {
            Ok(r) => r,
            Err(message) => {
                warn!(framework_id, task_id, %message, "invalid task");
                let status = master_status(
                    &task_id,
                    Some(agent_id),
                    TaskState::TaskError,
                    Reason::TaskInvalid,
                    message,
                );
                self.count_terminal(TaskState::TaskError);
                self.send_to_framework(framework_id, &update_event(status));
                return;
            }
        };
        let connected = self.agents.get(agent_id).is_some_and(|a| a.conn.is_some());
        if !connected {
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            let status = master_status(
                &task_id,
                Some(agent_id),
                state,
                Reason::AgentRemoved,
                "Agent is not connected",
            );
            self.count_terminal(state);
            self.send_to_framework(framework_id, &update_event(status));
            return;
        }
        *available = available.minus(&resources);
        let framework_info = self.record_task(framework_id, agent_id, &task, resources);
        // Per task, so debug: at thousands of launches a second an INFO line each costs ~10%
        // of the master's CPU. Framework and agent events stay at INFO.
        debug!(framework_id, agent_id, task_id, "launching task");
        self.send_to_agent(
            agent_id,
            master_message::Message::RunTask(internal::RunTask {
                framework_info,
                task,
            }),
        );
    }

    /// LAUNCH_GROUP: every task of the group is valid and launched, or none is.
    fn launch_group(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        group: v1::offer::operation::LaunchGroup,
        available: &mut Resources,
        partition_aware: bool,
    ) {
        let v1::offer::operation::LaunchGroup {
            executor,
            task_group,
        } = group;
        // Every task of the group must be authorized, or none launches (Mesos's rule).
        if let Some(message) = task_group.tasks.iter().find_map(|task| {
            let mut task = task.clone();
            task.executor = Some(executor.clone());
            self.authorize_task(framework_id, &task).err()
        }) {
            warn!(framework_id, %message, "unauthorized task group");
            for task in &task_group.tasks {
                let status = master_status(
                    &task.task_id.value,
                    Some(agent_id),
                    TaskState::TaskError,
                    Reason::TaskUnauthorized,
                    message.clone(),
                );
                self.count_terminal(TaskState::TaskError);
                self.send_to_framework(framework_id, &update_event(status));
            }
            return;
        }
        let mut remaining = available.clone();
        let mut checked = Vec::new();
        let mut error = None;
        if task_group.tasks.is_empty() {
            error = Some("Task group is empty".to_string());
        }
        match wire::resources_from_proto(&executor.resources) {
            Ok(r) if remaining.contains(&r) => remaining = remaining.minus(&r),
            Ok(r) => {
                error = Some(format!(
                    "Executor uses more resources {r} than available {remaining}"
                ))
            }
            Err(e) => error = Some(format!("Executor uses invalid resources: {e}")),
        }
        if let Err(e) = validate_id("Executor", &executor.executor_id.value) {
            error = Some(e);
        }
        let mut ids = HashSet::new();
        for task in &task_group.tasks {
            if error.is_some() {
                break;
            }
            if task.executor.is_some() {
                error = Some(format!(
                    "Task {} in a task group must not set an executor",
                    task.task_id.value
                ));
                break;
            }
            if !ids.insert(task.task_id.value.clone()) {
                error = Some(format!(
                    "Task group has duplicate task ID: {}",
                    task.task_id.value
                ));
                break;
            }
            match self.validate_task(framework_id, agent_id, task, &remaining) {
                Ok(r) => {
                    remaining = remaining.minus(&r);
                    checked.push(r);
                }
                Err(e) => error = Some(e),
            }
        }
        if let Some(message) = error {
            warn!(framework_id, %message, "invalid task group");
            for task in &task_group.tasks {
                let status = master_status(
                    &task.task_id.value,
                    Some(agent_id),
                    TaskState::TaskError,
                    Reason::TaskGroupInvalid,
                    message.clone(),
                );
                self.count_terminal(TaskState::TaskError);
                self.send_to_framework(framework_id, &update_event(status));
            }
            return;
        }
        if self.agents.get(agent_id).is_none_or(|a| a.conn.is_none()) {
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for task in &task_group.tasks {
                let status = master_status(
                    &task.task_id.value,
                    Some(agent_id),
                    state,
                    Reason::AgentRemoved,
                    "Agent is not connected",
                );
                self.count_terminal(state);
                self.send_to_framework(framework_id, &update_event(status));
            }
            return;
        }
        *available = remaining;
        let mut framework_info = None;
        for (task, resources) in task_group.tasks.iter().zip(checked) {
            let mut task = task.clone();
            task.executor = Some(executor.clone());
            framework_info = Some(self.record_task(framework_id, agent_id, &task, resources));
        }
        info!(framework_id, agent_id, executor_id = %executor.executor_id.value, "launching task group");
        self.send_to_agent(
            agent_id,
            master_message::Message::RunTaskGroup(internal::RunTaskGroup {
                framework_info: framework_info.expect("non-empty group"),
                executor,
                task_group,
            }),
        );
    }

    /// Starts tracking a task that is on its way to the agent; returns the framework's info
    /// for the message that carries it there.
    fn record_task(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        resources: Resources,
    ) -> v1::FrameworkInfo {
        let task_id = task.task_id.value.clone();
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("caller checked");
        let framework_info = framework.info.clone();
        if let Some(executor) = &task.executor {
            let mut executor = executor.clone();
            executor.framework_id = Some(fid(framework_id));
            framework.executors.insert(
                (agent_id.to_string(), executor.executor_id.value.clone()),
                executor,
            );
        }
        let mut proto = v1::Task {
            name: task.name.clone(),
            task_id: task.task_id.clone(),
            framework_id: fid(framework_id),
            executor_id: task.executor.as_ref().map(|e| e.executor_id.clone()),
            agent_id: aid(agent_id),
            resources: task.resources.clone(),
            labels: task.labels.clone(),
            discovery: task.discovery.clone().map(Box::new),
            container: task.container.clone().map(Box::new),
            health_check: task.health_check.clone().map(Box::new),
            kill_policy: task.kill_policy,
            user: Some(
                task.command
                    .as_ref()
                    .and_then(|c| c.user.clone())
                    .unwrap_or_else(|| framework.info.user.clone()),
            ),
            ..Default::default()
        };
        proto.set_state(TaskState::TaskStaging);
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(EngineEvent::TaskAdded {
                task: Box::new(proto.clone()),
            });
        }
        framework.tasks.insert(
            task_id.clone(),
            TaskEntry {
                task: Arc::new(proto),
                resources,
                recovered: false,
                terminal_uuid: None,
            },
        );
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent
                .tasks
                .insert((framework_id.to_string(), task_id.clone()));
        }
        framework_info
    }

    /// The `run_tasks` ACL: the framework's principal may run the task as its user (the
    /// command's, else the executor's, else the framework's).
    fn authorize_task(&self, framework_id: &str, task: &v1::TaskInfo) -> Result<(), String> {
        if self.acls.allows_all(Action::RunTasks) {
            return Ok(());
        }
        let Some(framework) = self.frameworks.get(framework_id) else {
            return Ok(()); // validation refuses it
        };
        let user = task
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .or_else(|| {
                task.executor
                    .as_ref()
                    .and_then(|e| e.command.as_ref()?.user.clone())
            })
            .unwrap_or_else(|| framework.info.user.clone());
        if self.authorized(
            Action::RunTasks,
            framework.info.principal.as_deref(),
            Object::Value(&user),
        ) {
            return Ok(());
        }
        Err(format!(
            "Not authorized to launch task {} of framework {framework_id} under user '{user}'",
            task.task_id.value
        ))
    }

    fn validate_task(
        &self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        available: &Resources,
    ) -> Result<Resources, String> {
        let task_id = task.task_id.value.as_str();
        validate_id("Task", task_id)?;
        let framework = self
            .frameworks
            .get(framework_id)
            .ok_or_else(|| "Framework is not subscribed".to_string())?;
        if framework.tasks.contains_key(task_id) {
            return Err(format!("Task has duplicate ID: {task_id}"));
        }
        let task_agent = task.agent_id.value.as_str();
        if task_agent != agent_id {
            return Err(format!(
                "Task uses agent ID {task_agent} which does not match the offer's agent {agent_id}"
            ));
        }
        match (&task.command, &task.executor) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(
                    "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                        .to_string(),
                )
            }
        }
        let resources = wire::resources_from_proto(&task.resources)
            .map_err(|e| format!("Task uses invalid resources: {e}"))?;
        if resources.is_empty() {
            return Err("Task uses no resources".to_string());
        }
        if !available.contains(&resources) {
            return Err(format!(
                "Task uses more resources {} than available {}",
                resources, available
            ));
        }
        Ok(resources)
    }

    /// Runs an allocation cycle if anything may have changed (or `force`), sending offers.
    pub fn allocate(&mut self, now: Duration, force: bool) {
        if !force && !self.allocation_pending {
            return;
        }
        self.allocation_pending = false;
        let started = std::time::Instant::now();
        let allocations = self.allocator.allocate(now);
        self.counters.allocation_runs += 1;
        self.counters.last_allocation_ms = started.elapsed().as_secs_f64() * 1000.0;
        if self.counters.last_allocation_ms > SLOW_ALLOCATION_MS {
            debug!(
                ms = self.counters.last_allocation_ms,
                offers = allocations.len(),
                "slow allocation cycle"
            );
        }
        let mut per_framework: HashMap<String, Vec<v1::Offer>> = HashMap::new();
        for allocation in allocations {
            let framework_id = allocation.framework_id.clone();
            let agent_id = allocation.agent_id.clone();
            let (Some(agent), true) = (
                self.agents.get(&agent_id),
                self.frameworks
                    .get(&framework_id)
                    .is_some_and(|f| f.subscriber.is_some()),
            ) else {
                allocator_result(self.allocator.recover_resources(
                    &framework_id,
                    &agent_id,
                    &allocation.resources,
                    None,
                    now,
                ));
                continue;
            };
            let offer_id = ids::offer_id(&self.id, self.next_offer);
            self.next_offer += 1;
            let offered = allocation.resources.clone();
            let entry = OfferEntry {
                framework_id: framework_id.clone(),
                agent_id: agent_id.clone(),
                resources: allocation.resources,
                created: now,
                role: allocation.role,
            };
            per_framework
                .entry(framework_id.clone())
                .or_default()
                .push(offer_proto(&offer_id, &entry, agent));
            self.offers.insert(offer_id.clone(), entry);
            if let Some(f) = self.frameworks.get_mut(&framework_id) {
                f.offers.insert(offer_id.clone());
                f.offered.add(&offered);
            }
            if let Some(a) = self.agents.get_mut(&agent_id) {
                a.offers.insert(offer_id);
                a.offered.add(&offered);
                a.offers_revision += 1;
            }
        }
        for (framework_id, offers) in per_framework {
            let mut e = scheduler::Event {
                offers: Some(event::Offers { offers }),
                ..Default::default()
            };
            e.set_type(event::Type::Offers);
            self.send_to_framework(&framework_id, &e);
        }
    }

    pub(crate) fn take_offer(&mut self, offer_id: &str) -> Option<OfferEntry> {
        let offer = self.offers.remove(offer_id)?;
        if let Some(f) = self.frameworks.get_mut(&offer.framework_id) {
            f.offers.remove(offer_id);
            if f.offered.remove(&offer.resources).is_err() {
                warn!(
                    offer_id,
                    "a framework's offered sum lacked an offer's resources"
                );
            }
        }
        if let Some(a) = self.agents.get_mut(&offer.agent_id) {
            a.offers.remove(offer_id);
            // Summed again rather than subtracted: exact, and an agent has few offers.
            let mut offered = Resources::default();
            for o in a.offers.iter().filter_map(|o| self.offers.get(o)) {
                offered.add(&o.resources);
            }
            a.offered = offered;
            a.offers_revision += 1;
        }
        Some(offer)
    }

    /// Withdraws an offer, giving its resources back; `rescind` tells the framework.
    pub(crate) fn remove_offer(&mut self, offer_id: &str, rescind: bool, now: Duration) {
        let Some(offer) = self.take_offer(offer_id) else {
            return;
        };
        if rescind {
            self.counters.offers_rescinded += 1;
            let mut e = scheduler::Event {
                rescind: Some(event::Rescind {
                    offer_id: v1::OfferId {
                        value: offer_id.to_string(),
                    },
                }),
                ..Default::default()
            };
            e.set_type(event::Type::Rescind);
            self.send_to_framework(&offer.framework_id, &e);
        }
        if self.agents.contains_key(&offer.agent_id) {
            allocator_result(self.allocator.recover_resources(
                &offer.framework_id,
                &offer.agent_id,
                &offer.resources,
                None,
                now,
            ));
        }
        self.allocation_pending = true;
    }

    pub(crate) fn outstanding_offers(&self) -> usize {
        self.offers.len()
    }
}

fn launch_tasks(op: &v1::offer::Operation) -> Vec<&v1::TaskInfo> {
    let mut out: Vec<&v1::TaskInfo> = Vec::new();
    if let Some(l) = &op.launch {
        out.extend(l.task_infos.iter());
    }
    if let Some(g) = &op.launch_group {
        out.extend(g.task_group.tasks.iter());
    }
    out
}

fn refuse_duration(filters: Option<&v1::Filters>) -> Option<Duration> {
    let secs = filters.map(|f| f.refuse_seconds()).unwrap_or(5.0);
    if secs.is_finite() && secs > 0.0 {
        Some(Duration::from_secs_f64(secs.min(365.0 * 86400.0)))
    } else {
        None
    }
}
