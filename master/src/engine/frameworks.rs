//! Frameworks and their subscriptions: SUBSCRIBE and failover, the event stream, teardown
//! and the failover timeout, UPDATE_FRAMEWORK, and what a framework holds (tasks,
//! executors, offers, usage).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mesos_common::ids;
use mesos_common::resources::{ResourceSum, Resources};
use mesos_proto::internal::{self as internal, master_message};
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, TaskState};
use tracing::{info, warn};

use mesos_common::auth::{Action, Object};

use super::{
    allocator_result, error_event, fid, framework_roles, has_capability, offer_proto,
    wall_clock_secs, CallError, Delivery, Engine, EngineEvent, Framework, SubscribeRequest,
    HEARTBEAT_INTERVAL_SECS,
};
use crate::allocator::FrameworkSpec;
use crate::event_queue;

impl Engine {
    /// SUBSCRIBE: a new framework, or a known one failing over to a new connection.
    pub fn subscribe(&mut self, req: SubscribeRequest, now: Duration) -> Result<String, CallError> {
        let SubscribeRequest {
            mut info,
            suppressed_roles,
            subscriber,
        } = req;
        validate_framework_info(&info)?;
        let framework_id = match info.id.as_ref().map(|i| i.value.clone()) {
            Some(id) if !id.is_empty() => id,
            _ => {
                let id = ids::framework_id(&self.id, self.next_framework);
                self.next_framework += 1;
                id
            }
        };
        let roles = framework_roles(&info);
        let unauthorized: Vec<&String> = roles
            .iter()
            .filter(|role| {
                !self.authorized(
                    Action::RegisterFrameworks,
                    info.principal.as_deref(),
                    Object::Value(role),
                )
            })
            .collect();
        if !unauthorized.is_empty() {
            // As Mesos prints it: the id the framework asked for (empty for a new one)
            // and the set of its roles.
            let asked = info.id.as_ref().map(|i| i.value.as_str()).unwrap_or("");
            let sorted: std::collections::BTreeSet<&String> = roles.iter().collect();
            let listed: Vec<&str> = sorted.iter().map(|r| r.as_str()).collect();
            let message = format!(
                "Not authorized to register framework {asked} with roles {{ {} }}",
                listed.join(", ")
            );
            info!(framework = %info.name, %message, "refusing subscription");
            return Err(CallError::Refused(message));
        }
        if let Some(existing) = self.frameworks.get(&framework_id) {
            if existing.info.principal != info.principal {
                warn!(
                    framework_id = %framework_id,
                    old = existing.info.principal.as_deref().unwrap_or("<NONE>"),
                    new = info.principal.as_deref().unwrap_or("<NONE>"),
                    "framework tried to re-subscribe with a new principal"
                );
                return Err(CallError::Refused(
                    "Changing framework's principal is not allowed.".to_string(),
                ));
            }
        }
        info.id = Some(fid(&framework_id));
        let wall = wall_clock_secs();

        if self
            .completed_frameworks
            .iter()
            .any(|f| f.id == framework_id)
        {
            return Err(CallError::Forbidden(format!(
                "Framework {framework_id} has been removed"
            )));
        }

        if let Some(existing) = self.frameworks.get_mut(&framework_id) {
            info!(framework_id = %framework_id, "framework re-subscribed (failover)");
            if let Some(old) = existing.subscriber.take() {
                if old.stream_id != subscriber.stream_id {
                    old.send(&error_event("Framework failed over"));
                }
            }
            existing.info = info;
            existing.last_stream_id = subscriber.stream_id.clone();
            existing.subscriber = Some(subscriber);
            existing.active = true;
            existing.recovered = false;
            existing.failover_deadline = None;
            existing.reregistered_time = Some(wall);
            existing.unregistered_time = None;
            allocator_result(self.allocator.update_framework(
                &framework_id,
                FrameworkSpec {
                    roles,
                    suppressed_roles,
                },
            ));
            allocator_result(self.allocator.activate_framework(&framework_id));
            self.emit(|| EngineEvent::FrameworkUpdated {
                framework_id: framework_id.clone(),
            });
        } else {
            info!(framework_id = %framework_id, name = %info.name, "framework subscribed");
            allocator_result(self.allocator.add_framework(
                &framework_id,
                FrameworkSpec {
                    roles,
                    suppressed_roles,
                },
                true,
            ));
            self.frameworks.insert(
                framework_id.clone(),
                Framework {
                    id: framework_id.clone(),
                    info,
                    last_stream_id: subscriber.stream_id.clone(),
                    subscriber: Some(subscriber),
                    active: true,
                    recovered: false,
                    registered_time: wall,
                    reregistered_time: None,
                    unregistered_time: None,
                    failover_deadline: None,
                    tasks: BTreeMap::new(),
                    completed_tasks: VecDeque::new(),
                    unreachable_tasks: VecDeque::new(),
                    executors: BTreeMap::new(),
                    offers: HashSet::new(),
                    offered: ResourceSum::default(),
                },
            );
            self.emit(|| EngineEvent::FrameworkAdded {
                framework_id: framework_id.clone(),
            });
        }

        let mut subscribed = scheduler::Event {
            subscribed: Some(event::Subscribed {
                framework_id: fid(&framework_id),
                heartbeat_interval_seconds: Some(HEARTBEAT_INTERVAL_SECS),
                master_info: Some(self.info.clone()),
            }),
            ..Default::default()
        };
        subscribed.set_type(event::Type::Subscribed);
        self.send_to_framework(&framework_id, &subscribed);
        self.allocation_pending = true;
        let _ = now;
        Ok(framework_id)
    }

    /// Checks that a call comes from the framework's current stream and, when the call
    /// was authenticated, from the framework's principal.
    pub fn authorize_call(
        &self,
        framework_id: &str,
        stream_id: &str,
        principal: Option<&str>,
    ) -> Result<(), CallError> {
        let framework = self.frameworks.get(framework_id).ok_or_else(|| {
            CallError::Forbidden(format!("Framework '{framework_id}' is not subscribed"))
        })?;
        if let Some(principal) = principal {
            let own = framework.info.principal.as_deref().unwrap_or("");
            if principal != own {
                return Err(CallError::BadRequest(format!(
                    "Authenticated principal '{principal}' does not match principal '{own}' set in `FrameworkInfo`"
                )));
            }
        }
        match &framework.subscriber {
            Some(s) if s.stream_id == stream_id => Ok(()),
            Some(_) => Err(CallError::BadRequest(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}"
            ))),
            None => Err(CallError::Forbidden(format!(
                "Framework '{framework_id}' is not subscribed"
            ))),
        }
    }

    /// The event stream of a framework closed (client went away or could not keep up).
    pub fn framework_stream_closed(&mut self, framework_id: &str, stream_id: &str, now: Duration) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let current = match &framework.subscriber {
            Some(s) => s.stream_id == stream_id,
            // The engine dropped this stream itself (queue full); still a disconnect.
            None => framework.last_stream_id == stream_id && framework.failover_deadline.is_none(),
        };
        if !current {
            return;
        }
        info!(framework_id, "framework disconnected");
        framework.subscriber = None;
        framework.active = false;
        framework.unregistered_time = Some(wall_clock_secs());
        let timeout = framework.info.failover_timeout.unwrap_or(0.0);
        let timeout = if timeout.is_finite() && timeout > 0.0 {
            Duration::from_secs_f64(timeout.min(1e9))
        } else {
            Duration::ZERO
        };
        framework.failover_deadline = Some(now + timeout);
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(EngineEvent::FrameworkUpdated {
                framework_id: framework_id.to_string(),
            });
        }
        allocator_result(self.allocator.deactivate_framework(framework_id));
        let offers: Vec<String> = framework.offers.iter().cloned().collect();
        for offer in offers {
            self.remove_offer(&offer, false, now);
        }
        if timeout.is_zero() {
            self.remove_framework(framework_id, now);
        }
    }

    /// TEARDOWN, or a failover timeout that ran out: kill every task, forget the framework.
    pub fn remove_framework(&mut self, framework_id: &str, now: Duration) {
        let Some(mut framework) = self.frameworks.remove(framework_id) else {
            return;
        };
        info!(framework_id, "removing framework");
        for offer in framework.offers.clone() {
            self.remove_offer(&offer, false, now);
        }
        framework.offers.clear();
        // Its offers are gone with it: a completed framework holds nothing.
        framework.offered = ResourceSum::default();
        let mut agents_to_tell = HashSet::new();
        let tasks = std::mem::take(&mut framework.tasks);
        for (task_id, mut entry) in tasks {
            let agent_id = entry.task.agent_id.value.clone();
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent
                    .tasks
                    .remove(&(framework_id.to_string(), task_id.clone()));
            }
            if !entry.task.state().is_terminal() {
                agents_to_tell.insert(agent_id.clone());
                Arc::make_mut(&mut entry.task).set_state(TaskState::TaskKilled);
                self.counters.tasks_killed += 1;
            }
            framework.keep_finished(entry.task, self.config.history_limits());
        }
        for agent_id in agents_to_tell {
            self.send_to_agent(
                &agent_id,
                master_message::Message::ShutdownFramework(internal::ShutdownFramework {
                    framework_id: fid(framework_id),
                }),
            );
        }
        allocator_result(self.allocator.remove_framework(framework_id));
        framework.active = false;
        framework.subscriber = None;
        framework.unregistered_time = Some(wall_clock_secs());
        self.emit(|| EngineEvent::FrameworkRemoved {
            info: Box::new(framework.info.clone()),
        });
        self.completed_frameworks.push_back(framework);
        while self.completed_frameworks.len() > self.config.max_completed_frameworks {
            self.completed_frameworks.pop_front();
        }
        self.allocation_pending = true;
    }

    pub fn teardown(&mut self, framework_id: &str, now: Duration) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            // TEARDOWN ends the stream: dropping the sender closes the response body.
            f.subscriber = None;
        }
        self.remove_framework(framework_id, now);
    }

    /// UPDATE_FRAMEWORK: new FrameworkInfo (roles, capabilities, failover timeout, ...) and
    /// suppressed roles for a subscribed framework. The user, principal and checkpoint flag
    /// are fixed at subscription, as in Mesos.
    pub fn update_framework(
        &mut self,
        framework_id: &str,
        update: scheduler::call::UpdateFramework,
    ) -> Result<(), CallError> {
        let info = update.framework_info;
        validate_framework_info(&info)?;
        let framework = self.frameworks.get_mut(framework_id).ok_or_else(|| {
            CallError::Forbidden(format!("Framework '{framework_id}' is not subscribed"))
        })?;
        if info.user != framework.info.user {
            return Err(CallError::BadRequest(
                "Updating 'FrameworkInfo.user' is unsupported".to_string(),
            ));
        }
        if info.principal != framework.info.principal {
            return Err(CallError::BadRequest(
                "Updating 'FrameworkInfo.principal' is unsupported".to_string(),
            ));
        }
        if info.checkpoint() != framework.info.checkpoint() {
            return Err(CallError::BadRequest(
                "Updating 'FrameworkInfo.checkpoint' is unsupported".to_string(),
            ));
        }
        let roles = framework_roles(&info);
        framework.info = info;
        allocator_result(self.allocator.update_framework(
            framework_id,
            FrameworkSpec {
                roles,
                suppressed_roles: update.suppressed_roles,
            },
        ));
        self.emit(|| EngineEvent::FrameworkUpdated {
            framework_id: framework_id.to_string(),
        });
        self.allocation_pending = true;
        Ok(())
    }

    /// SHUTDOWN: stop a custom executor (and with it its tasks) on an agent.
    pub fn shutdown_executor(&mut self, framework_id: &str, shutdown: scheduler::call::Shutdown) {
        self.send_to_agent(
            &shutdown.agent_id.value,
            master_message::Message::ShutdownExecutor(internal::ShutdownExecutor {
                framework_id: fid(framework_id),
                executor_id: shutdown.executor_id,
            }),
        );
    }

    pub fn framework_message(&mut self, framework_id: &str, msg: scheduler::call::Message) {
        let agent_id = msg.agent_id.value.clone();
        self.send_to_agent(
            &agent_id,
            master_message::Message::FrameworkMessage(internal::FrameworkToExecutor {
                framework_id: fid(framework_id),
                executor_id: msg.executor_id,
                data: msg.data,
            }),
        );
    }

    pub(crate) fn add_recovered_framework(&mut self, framework_id: &str, info: v1::FrameworkInfo) {
        info!(framework_id, "recovered framework from an agent's report");
        allocator_result(self.allocator.add_framework(
            framework_id,
            FrameworkSpec {
                roles: framework_roles(&info),
                suppressed_roles: Vec::new(),
            },
            false,
        ));
        self.frameworks.insert(
            framework_id.to_string(),
            Framework {
                id: framework_id.to_string(),
                info,
                subscriber: None,
                last_stream_id: String::new(),
                active: false,
                recovered: true,
                registered_time: wall_clock_secs(),
                reregistered_time: None,
                unregistered_time: None,
                failover_deadline: None,
                tasks: BTreeMap::new(),
                completed_tasks: VecDeque::new(),
                unreachable_tasks: VecDeque::new(),
                executors: BTreeMap::new(),
                offers: HashSet::new(),
                offered: ResourceSum::default(),
            },
        );
    }

    pub(crate) fn send_to_framework(&mut self, framework_id: &str, event: &scheduler::Event) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let Some(subscriber) = &framework.subscriber else {
            return;
        };
        match subscriber.send(event) {
            Delivery::Queued => {}
            Delivery::Deferred => self.counters.deferred_updates += 1,
            Delivery::Lost => {
                self.counters.dropped_messages += 1;
                warn!(
                    framework_id,
                    queued_bytes = subscriber.tx.queued_bytes(),
                    "event stream closed or hopelessly behind; dropping the connection"
                );
                self.drop_subscriber(framework_id);
            }
        }
    }

    /// Dropping the sender ends the response body; the stream's guard then reports the
    /// close and `framework_stream_closed` handles it like any disconnect.
    fn drop_subscriber(&mut self, framework_id: &str) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.subscriber = None;
        }
    }

    /// Drops subscribers that have read nothing for a long time with a full queue: a
    /// connection that is open but never read would otherwise hold its queue forever.
    pub(super) fn drop_stalled_subscribers(&mut self, now: Duration) {
        let mut stalled = Vec::new();
        for framework in self.frameworks.values_mut() {
            if let Some(subscriber) = &mut framework.subscriber {
                if subscriber.stall.stalled(&subscriber.tx, now) {
                    stalled.push(framework.id.clone());
                }
            }
        }
        for framework_id in stalled {
            warn!(
                framework_id,
                "event stream read nothing for {}s with a full queue; dropping the connection",
                event_queue::STALL_TIMEOUT.as_secs()
            );
            self.counters.dropped_messages += 1;
            self.drop_subscriber(&framework_id);
        }
    }

    pub(crate) fn framework_tasks<'a>(&self, f: &'a Framework) -> Vec<&'a v1::Task> {
        f.tasks.values().map(|e| &*e.task).collect()
    }

    /// The framework's executors by agent: those it launched, and those its tasks name
    /// that the master has not seen launched (it learnt of them from a re-registering
    /// agent after a change of leader), with what the tasks tell of them.
    pub(crate) fn framework_executors(f: &Framework) -> Vec<(String, v1::ExecutorInfo)> {
        let mut out: BTreeMap<(String, String), v1::ExecutorInfo> = f.executors.clone();
        for entry in f.tasks.values() {
            let task = &entry.task;
            if let Some(executor_id) = &task.executor_id {
                out.entry((task.agent_id.value.clone(), executor_id.value.clone()))
                    .or_insert_with(|| v1::ExecutorInfo {
                        executor_id: executor_id.clone(),
                        framework_id: Some(task.framework_id.clone()),
                        ..Default::default()
                    });
            }
        }
        out.into_iter()
            .map(|((agent_id, _), info)| (agent_id, info))
            .collect()
    }

    /// An agent left: the executors it ran are gone with it.
    pub(crate) fn forget_executors_on(&mut self, agent_id: &str) {
        for f in self.frameworks.values_mut() {
            f.executors.retain(|(agent, _), _| agent != agent_id);
        }
    }

    pub(crate) fn framework_offers(&self, f: &Framework) -> Vec<v1::Offer> {
        f.offers
            .iter()
            .filter_map(|id| {
                let entry = self.offers.get(id)?;
                Some(offer_proto(id, entry, self.agents.get(&entry.agent_id)?))
            })
            .collect()
    }

    pub(crate) fn framework_connected(f: &Framework) -> bool {
        f.subscriber.is_some()
    }

    /// (used by tasks, offered) resources of a framework: what the allocator has allocated
    /// to it less its outstanding offers, as for an agent ([`Engine::agent_usage`]); a
    /// framework the allocator does not know (completed) sums its tasks.
    pub(crate) fn framework_usage(&self, f: &Framework) -> (Resources, Resources) {
        let offered = f.offered.total();
        if let Some(allocated) = self.allocator.framework_allocated(&f.id) {
            let used = if offered.is_empty() {
                allocated
            } else {
                allocated.minus(&offered)
            };
            return (used, offered);
        }
        let mut used = Resources::default();
        for e in f.tasks.values() {
            if !e.task.state().is_terminal() {
                used.add(&e.resources);
            }
        }
        (used, offered)
    }
}

fn validate_framework_info(info: &v1::FrameworkInfo) -> Result<(), CallError> {
    if info.name.is_empty() {
        // Mesos accepts an empty name, but an unnamed framework is unreadable in every
        // UI; still, stay compatible and only reject what Mesos rejects.
    }
    let multi_role = has_capability(info, v1::framework_info::capability::Type::MultiRole);
    if !multi_role && !info.roles.is_empty() {
        return Err(CallError::BadRequest(
            "'FrameworkInfo.roles' is set but the MULTI_ROLE capability is not".to_string(),
        ));
    }
    #[allow(deprecated)] // the pre-MULTI_ROLE field is exactly what is checked here
    let legacy_role = info.role.is_some();
    if multi_role && legacy_role {
        return Err(CallError::BadRequest(
            "'FrameworkInfo.role' must not be set with the MULTI_ROLE capability".to_string(),
        ));
    }
    for role in framework_roles(info) {
        if role.is_empty() || role.contains('/') && role.split('/').any(|p| p.is_empty()) {
            return Err(CallError::BadRequest(format!("Role '{role}' is invalid")));
        }
        if role.chars().any(|c| c.is_whitespace() || c.is_control()) || role == "." || role == ".."
        {
            return Err(CallError::BadRequest(format!("Role '{role}' is invalid")));
        }
    }
    if let Some(t) = info.failover_timeout {
        if !t.is_finite() || t < 0.0 {
            return Err(CallError::BadRequest(
                "'FrameworkInfo.failover_timeout' must be a non-negative number".to_string(),
            ));
        }
    }
    Ok(())
}
