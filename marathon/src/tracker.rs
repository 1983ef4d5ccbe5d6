//! The tracker: apps, their instances, and what it takes to make the second match the first.
//!
//! A pure core: calls in (an app put or removed, a status update, a tick with the time),
//! [`Effect`]s out (kill this task, persist that instance, revive offers). Time is an
//! argument in milliseconds since the epoch; nothing here sleeps or does I/O. Which offers
//! run the missing instances is decided by [`crate::matcher`], which asks
//! [`Tracker::launch_demand`] how many each app still needs.
//!
//! ```text
//!   API change ──put_app/remove_app──▶ ┌─────────┐ ──Kill / Persist / Expunge──▶ edge
//!   Mesos UPDATE ──on_status─────────▶ │ Tracker │ ──Revive / Suppress──────────▶ edge
//!   timer ──tick(now)────────────────▶ └─────────┘ ◀── launch_demand ── matcher
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::app::{AppDefinition, KillSelection, PathId, UnreachableStrategy};
use crate::instance::{app_of_task_id, pod_condition, pod_health, Condition, Instance};

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Ask Mesos to kill a task.
    Kill {
        task_id: String,
        agent_id: Option<String>,
    },
    /// Write this instance to the store.
    Persist(Box<Instance>),
    /// Remove this instance from the store.
    Expunge { task_id: String },
    /// Ask for offers again (something waits to launch).
    Revive,
    /// Stop offers (nothing waits).
    Suppress,
}

/// A status update as the tracker needs it (converted from the wire at the edge).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub task_id: String,
    pub agent_id: Option<String>,
    /// The Mesos state name, `TASK_RUNNING`.
    pub state: String,
    pub message: Option<String>,
    pub healthy: Option<bool>,
    pub ip_addresses: Vec<String>,
    pub timestamp_ms: u64,
}

/// The last task of an app that ended in failure (`lastTaskFailure`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    pub app_id: PathId,
    pub task_id: String,
    pub agent_id: String,
    pub host: String,
    pub state: &'static str,
    pub message: String,
    pub timestamp_ms: u64,
    pub version: String,
}

/// Launch backoff of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Seconds of the current delay (0 before the first failure).
    pub delay_seconds: f64,
    /// No launch before this time.
    pub until_ms: u64,
}

/// How a running deployment holds an app back from plain convergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Its step has not come yet: nothing launched, nothing killed.
    Frozen,
    /// A rolling restart: instances of older configs are the deployment's to kill, and
    /// at most `new_cap` of the current config are kept active.
    Rolling { new_cap: u32 },
}

#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    pub task_launch_timeout_ms: u64,
}

pub struct Tracker {
    config: TrackerConfig,
    apps: BTreeMap<PathId, AppDefinition>,
    instances: BTreeMap<String, Instance>,
    /// Task ids of each app's instances (also of removed apps whose tasks still run).
    by_app: BTreeMap<PathId, BTreeSet<String>>,
    backoff: BTreeMap<PathId, Backoff>,
    /// Since when each app has waited for launches (`/v2/queue` `since`).
    waiting_since: BTreeMap<PathId, u64>,
    failures: BTreeMap<PathId, TaskFailure>,
    offers_wanted: bool,
    /// Demand at the last [`Tracker::converge`], to revive when it grows.
    last_demand: BTreeMap<PathId, u32>,
    /// Apps a deployment holds back (see [`Hold`]).
    holds: BTreeMap<PathId, Hold>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            config,
            apps: BTreeMap::new(),
            instances: BTreeMap::new(),
            by_app: BTreeMap::new(),
            backoff: BTreeMap::new(),
            waiting_since: BTreeMap::new(),
            failures: BTreeMap::new(),
            offers_wanted: false,
            last_demand: BTreeMap::new(),
            holds: BTreeMap::new(),
        }
    }

    /// Sets (or with None, lifts) a deployment's hold on an app.
    pub fn set_hold(&mut self, id: &PathId, hold: Option<Hold>, now: u64) -> Vec<Effect> {
        let changed = match hold {
            Some(h) => self.holds.insert(id.clone(), h) != Some(h),
            None => self.holds.remove(id).is_some(),
        };
        if changed {
            self.converge_app(id, now)
        } else {
            vec![]
        }
    }

    pub fn hold(&self, id: &PathId) -> Option<Hold> {
        self.holds.get(id).copied()
    }

    /// The apps under a hold.
    pub fn held(&self) -> impl Iterator<Item = &PathId> {
        self.holds.keys()
    }

    /// Loads what the store holds (after a restart or a new leader).
    pub fn load(&mut self, apps: Vec<AppDefinition>, instances: Vec<Instance>) {
        self.apps = apps.into_iter().map(|a| (a.id.clone(), a)).collect();
        self.instances.clear();
        self.by_app.clear();
        for i in instances {
            self.insert(i);
        }
    }

    fn insert(&mut self, i: Instance) {
        self.by_app
            .entry(i.app_id.clone())
            .or_default()
            .insert(i.task_id.clone());
        self.instances.insert(i.task_id.clone(), i);
    }

    fn remove(&mut self, task_id: &str) -> Option<Instance> {
        let i = self.instances.remove(task_id)?;
        if let Some(tasks) = self.by_app.get_mut(&i.app_id) {
            tasks.remove(task_id);
            if tasks.is_empty() {
                self.by_app.remove(&i.app_id);
            }
        }
        Some(i)
    }

    pub fn apps(&self) -> impl Iterator<Item = &AppDefinition> {
        self.apps.values()
    }

    pub fn app(&self, id: &PathId) -> Option<&AppDefinition> {
        self.apps.get(id)
    }

    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    pub fn instance(&self, task_id: &str) -> Option<&Instance> {
        self.instances.get(task_id)
    }

    pub fn instances_of<'a>(&'a self, app: &PathId) -> impl Iterator<Item = &'a Instance> {
        self.by_app
            .get(app)
            .into_iter()
            .flatten()
            .filter_map(|t| self.instances.get(t))
    }

    /// Sets an instance's health as [`crate::health`] judges it (not persisted: health is
    /// checked again by each leader).
    pub fn set_healthy(&mut self, task_id: &str, healthy: Option<bool>) {
        if let Some(i) = self.instances.get_mut(task_id) {
            i.healthy = healthy;
        }
    }

    pub fn backoff(&self, app: &PathId) -> Option<&Backoff> {
        self.backoff.get(app)
    }

    pub fn waiting_since(&self, app: &PathId) -> Option<u64> {
        self.waiting_since.get(app).copied()
    }

    pub fn last_failure(&self, app: &PathId) -> Option<&TaskFailure> {
        self.failures.get(app)
    }

    /// Creates or changes an app. A config change (anything but `instances`) resets the
    /// backoff; the outdated instances are replaced on the next [`Tracker::converge`].
    pub fn put_app(&mut self, app: AppDefinition, now: u64) -> Vec<Effect> {
        let config_changed = self
            .apps
            .get(&app.id)
            .is_none_or(|old| !old.is_only_scale_change(&app));
        if config_changed {
            self.backoff.remove(&app.id);
        }
        let id = app.id.clone();
        self.apps.insert(app.id.clone(), app);
        self.converge_app(&id, now)
    }

    /// Removes an app and kills its instances.
    pub fn remove_app(&mut self, id: &PathId, now: u64) -> Vec<Effect> {
        self.apps.remove(id);
        self.backoff.remove(id);
        self.failures.remove(id);
        self.waiting_since.remove(id);
        self.converge_app(id, now)
    }

    /// Resets an app's launch backoff (`DELETE /v2/queue/{id}/delay`).
    pub fn reset_delay(&mut self, id: &PathId) -> bool {
        self.backoff.remove(id).is_some()
    }

    /// Adds instances that are being launched.
    pub fn provisioned(&mut self, instances: Vec<Instance>) -> Vec<Effect> {
        let mut effects = vec![];
        for i in instances {
            effects.push(Effect::Persist(Box::new(i.clone())));
            self.insert(i);
        }
        effects
    }

    /// How many instances `app` still needs launched now (0 while backed off).
    pub fn launch_demand(&self, app: &PathId, now: u64) -> u32 {
        let Some(def) = self.apps.get(app) else {
            return 0;
        };
        if self.backoff.get(app).is_some_and(|b| b.until_ms > now) {
            return 0;
        }
        let wanted = match self.holds.get(app) {
            Some(Hold::Frozen) => return 0,
            Some(Hold::Rolling { new_cap }) => def.instances.min(*new_cap),
            None => def.instances,
        };
        let current = self
            .instances_of(app)
            .filter(|i| i.is_active() && i.config_version == def.version_info.last_config_change_at)
            .count() as u32;
        wanted.saturating_sub(current)
    }

    /// What every app needs launched now (backed-off apps need nothing yet).
    fn demand(&self, now: u64) -> BTreeMap<PathId, u32> {
        self.apps
            .keys()
            .map(|id| (id.clone(), self.launch_demand(id, now)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// A status update of one task of a pod instance, applied to that task and turned into
    /// the update of the whole instance (its id, the condition and health made of all its
    /// tasks'); any other update comes back as it is. Call before [`Tracker::on_status`].
    pub fn instance_update(&mut self, update: &StatusUpdate) -> StatusUpdate {
        let Some((instance_id, _)) = crate::pod::split_task_id(&update.task_id) else {
            return update.clone();
        };
        let Some(instance) = self.instances.get_mut(instance_id) else {
            return update.clone();
        };
        let Some(task) = instance.pod_tasks.get_mut(&update.task_id) else {
            return update.clone();
        };
        let condition = Condition::from_mesos(&update.state);
        if task.condition != condition {
            task.since = update.timestamp_ms;
        }
        task.condition = condition;
        if update.healthy.is_some() {
            task.healthy = update.healthy;
        }
        if update.message.is_some() {
            task.message = update.message.clone();
        }
        StatusUpdate {
            task_id: instance.task_id.clone(),
            agent_id: update.agent_id.clone(),
            state: pod_condition(instance.pod_tasks.values())
                .mesos_state()
                .to_string(),
            message: update.message.clone(),
            healthy: pod_health(instance.pod_tasks.values()),
            ip_addresses: update.ip_addresses.clone(),
            timestamp_ms: update.timestamp_ms,
        }
    }

    /// Handles a status update. Unknown tasks are killed (they belong to no app Marathon
    /// knows, or to an instance it forgot).
    pub fn on_status(&mut self, update: &StatusUpdate, now: u64) -> Vec<Effect> {
        let condition = Condition::from_mesos(&update.state);
        let app = self
            .instances
            .get(&update.task_id)
            .map(|i| i.app_id.clone());
        let Some(instance) = self.instances.get_mut(&update.task_id) else {
            // As Marathon: an unknown task that ended, is being killed or is unreachable
            // is left alone (a kill would only be answered with the same update again).
            if condition.is_terminal()
                || matches!(condition, Condition::Killing | Condition::Unreachable)
            {
                return vec![];
            }
            tracing::info!(task = %update.task_id, app = ?app_of_task_id(&update.task_id).map(|a| a.to_string()), "killing a task Marathon does not know");
            return vec![Effect::Kill {
                task_id: update.task_id.clone(),
                agent_id: update.agent_id.clone(),
            }];
        };
        let mut effects = vec![];
        if condition.is_terminal() {
            let instance = self.remove(&update.task_id).expect("present");
            effects.push(Effect::Expunge {
                task_id: instance.task_id.clone(),
            });
            if condition.is_failure() && instance.kill_requested_at.is_none() {
                if let Some(app) = self.apps.get(&instance.app_id) {
                    let delay = match self.backoff.get(&instance.app_id) {
                        Some(b) if b.delay_seconds > 0.0 => {
                            (b.delay_seconds * app.backoff_factor).min(app.max_launch_delay_seconds)
                        }
                        _ => app.backoff_seconds.min(app.max_launch_delay_seconds),
                    };
                    self.backoff.insert(
                        instance.app_id.clone(),
                        Backoff {
                            delay_seconds: delay,
                            until_ms: now + (delay * 1000.0) as u64,
                        },
                    );
                }
            }
            if condition != Condition::Killed || instance.kill_requested_at.is_none() {
                self.failures.insert(
                    instance.app_id.clone(),
                    TaskFailure {
                        app_id: instance.app_id.clone(),
                        task_id: instance.task_id.clone(),
                        agent_id: instance.agent_id.clone(),
                        host: instance.hostname.clone(),
                        state: condition.mesos_state(),
                        message: update.message.clone().unwrap_or_default(),
                        timestamp_ms: update.timestamp_ms,
                        version: instance.version.clone(),
                    },
                );
            }
        } else {
            let was = instance.condition;
            instance.condition = match condition {
                // Unreachable again after it was replaced stays inactive.
                Condition::Unreachable if was == Condition::UnreachableInactive => was,
                c => c,
            };
            if condition == Condition::Unreachable {
                instance.unreachable_since.get_or_insert(now);
            } else {
                instance.unreachable_since = None;
            }
            if condition == Condition::Running && instance.started_at.is_none() {
                instance.started_at = Some(update.timestamp_ms);
            }
            if let Some(agent) = &update.agent_id {
                instance.agent_id = agent.clone();
            }
            if update.healthy.is_some() {
                instance.mesos_healthy = update.healthy;
            }
            if !update.ip_addresses.is_empty() {
                instance.ip_addresses = update.ip_addresses.clone();
            }
            instance.message = update.message.clone();
            // A pod instance's tasks changed with the update even when it did not.
            if was != instance.condition || !instance.pod_tasks.is_empty() {
                effects.push(Effect::Persist(Box::new(instance.clone())));
            }
            // Asked to die, yet alive and not dying: the kill was lost (sent while its
            // agent was unreachable, which the master answers with TASK_UNREACHABLE,
            // and the agent came back). Send it again, as Marathon retries its kills.
            if instance.kill_requested_at.is_some()
                && (condition.is_staged() || condition == Condition::Running)
            {
                tracing::info!(task = %instance.task_id, state = %update.state, "alive after it was asked to die: killing it again");
                effects.extend(kills_of(instance));
            }
        }
        if let Some(app) = app {
            effects.extend(self.converge_app(&app, now));
        }
        effects
    }

    /// Kills instances on request (`DELETE .../tasks`); with `scale`, the app's instance
    /// count goes down by as many (the caller persists the new app version).
    pub fn kill(&mut self, task_ids: &[String], now: u64) -> Vec<Effect> {
        let mut effects = vec![];
        for id in task_ids {
            if let Some(i) = self.instances.get_mut(id) {
                effects.extend(request_kill(i, now));
            }
        }
        let apps: BTreeSet<PathId> = task_ids
            .iter()
            .filter_map(|t| self.instances.get(t).map(|i| i.app_id.clone()))
            .collect();
        for app in apps {
            effects.extend(self.converge_app(&app, now));
        }
        effects
    }

    /// Periodic work: launch timeouts, unreachable instances, offer interest.
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        let mut effects = vec![];
        let mut expunged = vec![];
        let timeout = self.config.task_launch_timeout_ms;
        for i in self.instances.values_mut() {
            if i.condition.is_staged()
                && i.kill_requested_at.is_none()
                && now.saturating_sub(i.staged_at) > timeout
            {
                tracing::info!(task = %i.task_id, "not running within --task_launch_timeout: killing it");
                effects.extend(request_kill(i, now));
            }
            if i.condition == Condition::Unreachable {
                let inactive_after = match self.apps.get(&i.app_id).map(|a| a.unreachable_strategy)
                {
                    Some(UnreachableStrategy::Enabled {
                        inactive_after_seconds,
                        ..
                    }) => Some((inactive_after_seconds * 1000.0) as u64),
                    _ => None,
                };
                if let (Some(after), Some(since)) = (inactive_after, i.unreachable_since) {
                    if now.saturating_sub(since) >= after {
                        i.condition = Condition::UnreachableInactive;
                        effects.push(Effect::Persist(Box::new(i.clone())));
                    }
                }
            }
            if i.condition == Condition::UnreachableInactive {
                let expunge_after = match self.apps.get(&i.app_id).map(|a| a.unreachable_strategy) {
                    Some(UnreachableStrategy::Enabled {
                        expunge_after_seconds,
                        ..
                    }) => (expunge_after_seconds * 1000.0) as u64,
                    _ => 0,
                };
                if i.unreachable_since
                    .is_some_and(|s| now.saturating_sub(s) >= expunge_after)
                {
                    expunged.push(i.task_id.clone());
                }
            }
        }
        // Gone long enough: forgotten, as Marathon expunges it (a kill now would reach
        // nobody). Should its task come back, it is a task Marathon does not know, and
        // killed as such.
        for task_id in expunged {
            tracing::info!(task = %task_id, "unreachable past expungeAfterSeconds: expunged");
            self.remove(&task_id);
            effects.push(Effect::Expunge { task_id });
        }
        effects.extend(self.converge(now));
        effects
    }

    /// Compares every app with its instances (see [`Tracker::converge_app`]) and
    /// recomputes the whole demand (a backoff may have run out).
    pub fn converge(&mut self, now: u64) -> Vec<Effect> {
        let ids: BTreeSet<PathId> = self
            .apps
            .keys()
            .chain(self.by_app.keys())
            .cloned()
            .collect();
        let mut effects = vec![];
        for id in &ids {
            effects.extend(self.reconcile_app(id, now));
        }
        self.last_demand.clear();
        let demand = self.demand(now);
        effects.extend(self.interest(demand, now));
        effects
    }

    /// Compares one app with its instances: kills what is too much, outdated or of a
    /// removed app, notes whether it waits for launches, and asks for offers only while
    /// some app does. Costs the app's instances, not every instance.
    pub fn converge_app(&mut self, id: &PathId, now: u64) -> Vec<Effect> {
        let mut effects = self.reconcile_app(id, now);
        let mut demand = std::mem::take(&mut self.last_demand);
        let before = demand.clone();
        match self.launch_demand(id, now) {
            0 => demand.remove(id),
            n => demand.insert(id.clone(), n),
        };
        self.last_demand = before;
        effects.extend(self.interest(demand, now));
        effects
    }

    fn reconcile_app(&mut self, id: &PathId, now: u64) -> Vec<Effect> {
        let mut effects = vec![];
        let Some(app) = self.apps.get(id) else {
            // Instances of an app that no longer exists.
            let orphans: Vec<String> = self
                .instances_of(id)
                .filter(|i| i.kill_requested_at.is_none())
                .map(|i| i.task_id.clone())
                .collect();
            for task in orphans {
                let i = self.instances.get_mut(&task).expect("present");
                effects.extend(request_kill(i, now));
            }
            self.waiting_since.remove(id);
            return effects;
        };
        let hold = self.holds.get(id).copied();
        if hold == Some(Hold::Frozen) {
            self.waiting_since.remove(id);
            return effects;
        }
        let config = &app.version_info.last_config_change_at;
        let wanted = app.instances as usize;
        let mut current: Vec<&Instance> = vec![];
        let mut to_kill: Vec<String> = vec![];
        for i in self.instances_of(id).filter(|i| i.is_active()) {
            if &i.config_version == config {
                current.push(i);
            } else if hold.is_none() {
                to_kill.push(i.task_id.clone());
            }
        }
        if current.len() > wanted {
            to_kill.extend(
                kill_order(current.clone(), app.kill_selection)
                    .into_iter()
                    .take(current.len() - wanted)
                    .map(|i| i.task_id.clone()),
            );
        }
        let waits = match hold {
            Some(Hold::Rolling { new_cap }) => current.len() < wanted.min(new_cap as usize),
            _ => current.len() < wanted,
        };
        for task in to_kill {
            let i = self.instances.get_mut(&task).expect("present");
            effects.extend(request_kill(i, now));
        }
        if waits {
            self.waiting_since.entry(id.clone()).or_insert(now);
        } else {
            self.waiting_since.remove(id);
        }
        effects
    }

    /// Offers are wanted while something waits; a new or larger demand (a new app, a
    /// backoff that ran out, a task to replace) revives, which also clears the filters of
    /// offers declined while nothing fitted.
    fn interest(&mut self, demand: BTreeMap<PathId, u32>, _now: u64) -> Vec<Effect> {
        let grew = demand
            .iter()
            .any(|(id, n)| self.last_demand.get(id).is_none_or(|old| n > old));
        let want = !demand.is_empty();
        let mut effects = vec![];
        if want && (grew || !self.offers_wanted) {
            effects.push(Effect::Revive);
        } else if !want && self.offers_wanted {
            effects.push(Effect::Suppress);
        }
        self.offers_wanted = want;
        self.last_demand = demand;
        effects
    }

    /// After (re)subscribing: the master forgets suppression, so say it again.
    pub fn offer_interest(&self) -> Effect {
        if self.offers_wanted {
            Effect::Revive
        } else {
            Effect::Suppress
        }
    }

    /// A kill for every instance asked to die that has not ended: after (re)subscribing,
    /// kills decided while no master listened are sent (again).
    pub fn pending_kills(&self) -> Vec<Effect> {
        self.instances
            .values()
            .filter(|i| i.kill_requested_at.is_some() && !i.condition.is_terminal())
            .flat_map(kills_of)
            .collect()
    }

    /// The tasks to reconcile explicitly: every task Marathon knows that Mesos has
    /// confirmed, or that was launched at least `settle_ms` ago. A task launched just
    /// now may not have reached the master yet (the launch and the reconciliation are
    /// separate calls), which would answer TASK_GONE and make Marathon forget a task
    /// about to run (Marathon reconciles confirmed tasks only). Once its launch call
    /// has had time to end, a task still unconfirmed was lost with its call (a master
    /// that failed over), and TASK_GONE replaces it sooner than the launch timeout.
    pub fn reconcile_list(&self, now: u64, settle_ms: u64) -> Vec<(String, Option<String>)> {
        self.instances
            .values()
            .flat_map(|i| {
                let agent = (!i.agent_id.is_empty()).then(|| i.agent_id.clone());
                let ids = if now.saturating_sub(i.staged_at) >= settle_ms {
                    i.mesos_task_ids()
                } else {
                    i.confirmed_task_ids()
                };
                ids.into_iter().map(move |t| (t, agent.clone()))
            })
            .collect()
    }
}

/// The order in which instances go when an app has too many: staged before running, then
/// by `killSelection`.
fn kill_order(mut current: Vec<&Instance>, selection: KillSelection) -> Vec<&Instance> {
    match selection {
        KillSelection::YoungestFirst => {
            current.sort_by_key(|i| (!i.condition.is_staged(), std::cmp::Reverse(i.staged_at)));
        }
        KillSelection::OldestFirst => {
            current.sort_by_key(|i| (!i.condition.is_staged(), i.staged_at));
        }
    }
    current
}

fn request_kill(i: &mut Instance, now: u64) -> Vec<Effect> {
    if i.condition.is_terminal() {
        return vec![];
    }
    i.kill_requested_at.get_or_insert(now);
    let mut effects = vec![Effect::Persist(Box::new(i.clone()))];
    effects.extend(kills_of(i));
    effects
}

/// A kill of each Mesos task of the instance (a pod instance has one per container).
fn kills_of(i: &Instance) -> Vec<Effect> {
    let agent_id = (!i.agent_id.is_empty()).then(|| i.agent_id.clone());
    i.mesos_task_ids()
        .into_iter()
        .map(|task_id| Effect::Kill {
            task_id,
            agent_id: agent_id.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
