//! The write side of the operator API: what an operator does to agents (mark gone, drain,
//! deactivate, reactivate) and to roles (weights, quota), and what the master must remember
//! about it.
//!
//! The records live in `Engine::operator` ([`OperatorState`]), reached through [`read`] and
//! [`write`]. They are kept in the registry ([`OperatorRecords`]), so that a new leader
//! still refuses gone agents, keeps deactivated ones out of offers, finishes drains and
//! answers GET_QUOTA as the old one did.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mesos_common::resources::{validate_role, ResourceQuantities, Scalar, DEFAULT_ROLE};
use mesos_proto::internal::{self, master_message};
use mesos_proto::v1::master::{call, response};
use mesos_proto::v1::task_status::Reason;
use mesos_proto::v1::{self, quota, TaskState};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

use crate::engine::{wall_clock_secs, Engine, EngineEvent};

/// What the operator decided about agents and roles.
#[derive(Debug, Default)]
pub(crate) struct OperatorState {
    /// Agents that get no offers: DEACTIVATE_AGENT, or DRAIN_AGENT.
    deactivated: BTreeSet<String>,
    /// Agents being drained or drained, with the DRAIN_AGENT options.
    drains: BTreeMap<String, v1::DrainInfo>,
    /// Agents marked gone, never admitted again; when (seconds since the epoch).
    gone: BTreeMap<String, f64>,
    /// Roles with a non-default quota, as last set.
    quotas: BTreeMap<String, quota::QuotaConfig>,
    /// Draining agents that (re-)registered since their tasks were last told to die: a
    /// new leader learns of a drain from the registry, the agent from the new leader.
    rekill: BTreeSet<String>,
    /// Bumped by every [`write`]: the registry is rewritten when it moves.
    revision: u64,
}

pub(crate) fn read<T>(e: &Engine, f: impl FnOnce(&OperatorState) -> T) -> T {
    f(&e.operator)
}

pub(crate) fn write<T>(e: &mut Engine, f: impl FnOnce(&mut OperatorState) -> T) -> T {
    e.operator.revision = e.operator.revision.wrapping_add(1);
    f(&mut e.operator)
}

/// A number that changes whenever the operator records may have changed.
pub(crate) fn revision(e: &Engine) -> u64 {
    e.operator.revision
}

/// Why a call was refused; each maps to one HTTP status.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum OperatorError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("Master is shutting down")]
    Unavailable,
    /// The ACLs refuse the call (403 `403 Forbidden.`).
    #[error("403 Forbidden.")]
    Forbidden,
}

// ------------------------------------------------------------------------ registry

/// The operator records as the registry keeps them (protobuf messages in Mesos's JSON
/// mapping, so the registry stays readable by people).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct OperatorRecords {
    /// Agents marked gone: id -> when (seconds since the epoch).
    pub(crate) gone: BTreeMap<String, f64>,
    /// Agents deactivated, directly or by a drain.
    pub(crate) deactivated: BTreeSet<String>,
    /// Agent id -> DrainInfo.
    pub(crate) drains: BTreeMap<String, Value>,
    /// QuotaConfig of every role with a non-default quota.
    pub(crate) quota_configs: Vec<Value>,
}

pub(crate) fn records(e: &Engine) -> OperatorRecords {
    read(e, |s| OperatorRecords {
        gone: s.gone.clone(),
        deactivated: s.deactivated.clone(),
        drains: s
            .drains
            .iter()
            .map(|(id, d)| (id.clone(), mesos_proto::json::to_json_value(d)))
            .collect(),
        quota_configs: s
            .quotas
            .values()
            .map(mesos_proto::json::to_json_value)
            .collect(),
    })
}

/// Loads the records of a registry into a fresh engine. Quota limits reach the allocator
/// through the registry's own `quotas`; here the configs come back for GET_QUOTA.
/// Unreadable entries are skipped with a warning: a registry must never stop a leader.
pub(crate) fn restore(e: &mut Engine, records: &OperatorRecords) {
    let mut drains = BTreeMap::new();
    for (id, json) in &records.drains {
        match mesos_proto::json::from_json_value::<v1::DrainInfo>(json) {
            Ok(info) => {
                drains.insert(id.clone(), info);
            }
            Err(err) => {
                warn!(agent_id = %id, error = %err, "registry holds an unreadable drain; skipped")
            }
        }
    }
    let mut quotas = BTreeMap::new();
    for json in &records.quota_configs {
        match mesos_proto::json::from_json_value::<quota::QuotaConfig>(json) {
            Ok(config) => {
                quotas.insert(config.role.clone(), config);
            }
            Err(err) => warn!(error = %err, "registry holds an unreadable quota config; skipped"),
        }
    }
    write(e, |s| {
        s.gone = records.gone.clone();
        s.deactivated = records.deactivated.clone();
        s.drains = drains;
        s.quotas = quotas;
        s.rekill.clear();
    });
    for id in records.gone.keys() {
        // A gone agent is not unreachable: it is never coming back.
        e.unreachable_agents.remove(id);
    }
}

fn allocator_result(result: Result<(), crate::allocator::AllocatorError>) {
    if let Err(e) = result {
        warn!(error = %e, "allocator rejected an operator change");
    }
}

fn not_found(agent_id: &str) -> OperatorError {
    OperatorError::NotFound(format!("Agent '{agent_id}' not found"))
}

// -------------------------------------------------------------------- engine hooks

/// Whether the operator deactivated the agent (directly or by draining it), and its
/// drain state.
pub(crate) fn agent_status(e: &Engine, agent_id: &str) -> (bool, Option<v1::DrainInfo>) {
    read(e, |s| {
        (
            s.deactivated.contains(agent_id),
            s.drains.get(agent_id).cloned(),
        )
    })
}

/// Why an agent must not be admitted (it was marked gone), for the engine to answer a
/// registration with. Meant for `Engine::agent_connected`, before the agent is added.
pub(crate) fn refusal(e: &Engine, agent_id: &str) -> Option<String> {
    read(e, |s| s.gone.contains_key(agent_id))
        .then(|| format!("Agent {agent_id} was marked gone by the operator"))
}

/// Keeps an operator's deactivation over a re-registration. Meant for
/// `Engine::agent_connected`, after the agent was added to the allocator.
pub(crate) fn agent_admitted(e: &mut Engine, agent_id: &str) {
    if read(e, |s| s.deactivated.contains(agent_id)) {
        allocator_result(e.allocator.deactivate_agent(agent_id));
    }
    let draining = read(e, |s| {
        s.drains
            .get(agent_id)
            .is_some_and(|d| d.state() == v1::DrainState::Draining)
    });
    if draining {
        // Told on the next tick, after the agent heard it is registered.
        write(e, |s| s.rekill.insert(agent_id.to_string()));
    }
}

/// Called on every engine tick: tells re-registered draining agents to kill their tasks
/// again, and moves agents whose drain finished to DRAINED (and gone, if asked).
pub(crate) fn tick(e: &mut Engine, now: Duration) {
    let rekill = if read(e, |s| s.rekill.is_empty()) {
        Vec::new()
    } else {
        write(e, |s| std::mem::take(&mut s.rekill).into_iter().collect())
    };
    for agent_id in rekill {
        let max_grace = read(e, |s| {
            s.drains
                .get(&agent_id)
                .and_then(|d| d.config.max_grace_period)
        });
        info!(
            agent_id,
            "draining agent re-registered: killing its tasks again"
        );
        kill_for_drain(e, &agent_id, max_grace);
    }
    let draining: Vec<String> = read(e, |s| {
        s.drains
            .iter()
            .filter(|(_, d)| d.state() == v1::DrainState::Draining)
            .map(|(id, _)| id.clone())
            .collect()
    });
    for agent_id in draining {
        check_drain(e, &agent_id, now);
    }
}

// ---------------------------------------------------------------------- frameworks

pub(crate) fn teardown(
    e: &mut Engine,
    framework_id: &str,
    now: Duration,
) -> Result<(), OperatorError> {
    if !e.frameworks.contains_key(framework_id) {
        return Err(OperatorError::BadRequest(format!(
            "No framework found with specified ID {framework_id}"
        )));
    }
    info!(framework_id, "framework torn down by the operator");
    e.teardown(framework_id, now);
    Ok(())
}

// -------------------------------------------------------------------------- agents

/// MARK_AGENT_GONE: the agent is removed for good. Its tasks end as TASK_GONE_BY_OPERATOR
/// (TASK_LOST for frameworks that are not partition-aware), the agent is told to stop, and
/// it is refused should it come back. Idempotent.
pub(crate) fn mark_agent_gone(
    e: &mut Engine,
    agent_id: &str,
    now: Duration,
) -> Result<(), OperatorError> {
    if read(e, |s| s.gone.contains_key(agent_id)) {
        return Ok(());
    }
    if let Some(agent) = e.agents.remove(agent_id) {
        warn!(agent_id, "agent marked gone by the operator");
        e.forget_executors_on(agent_id);
        // The agent is out of the map, so its offers' resources are not handed back.
        for offer in &agent.offers {
            e.remove_offer(offer, true, now);
        }
        allocator_result(e.allocator.remove_agent(agent_id));
        if let Some(conn) = &agent.conn {
            let refused = internal::MasterMessage {
                message: Some(master_message::Message::Refused(internal::Refused {
                    message: format!("Agent {agent_id} was marked gone by the operator"),
                })),
            };
            let _ = conn.tx.try_send(Box::new(refused));
        }
        e.emit(|| EngineEvent::AgentRemoved {
            agent_id: agent_id.to_string(),
        });
        for (framework_id, task_id) in agent.tasks {
            end_task_of_gone_agent(e, &framework_id, &task_id, agent_id, now);
        }
    } else if e.unreachable_agents.remove(agent_id).is_some() {
        warn!(agent_id, "unreachable agent marked gone by the operator");
        unreachable_tasks_gone(e, agent_id);
    } else {
        return Err(not_found(agent_id));
    }
    let when = wall_clock_secs();
    write(e, |s| {
        s.gone.insert(agent_id.to_string(), when);
        s.deactivated.remove(agent_id);
        s.drains.remove(agent_id);
    });
    e.allocation_pending = true;
    Ok(())
}

fn gone_status(task_id: &v1::TaskId, agent_id: &str) -> v1::TaskStatus {
    crate::engine::master_status(
        &task_id.value,
        Some(agent_id),
        TaskState::TaskGoneByOperator,
        Reason::AgentRemovedByOperator,
        "Agent was marked gone by the operator",
    )
}

fn end_task_of_gone_agent(
    e: &mut Engine,
    framework_id: &str,
    task_id: &str,
    agent_id: &str,
    now: Duration,
) {
    e.task_gone_with_agent(
        framework_id,
        task_id,
        agent_id,
        TaskState::TaskGoneByOperator,
        Reason::AgentRemovedByOperator,
        "Agent was marked gone by the operator",
        now,
    );
}

/// Partition-aware frameworks heard TASK_UNREACHABLE for the agent's tasks; now they hear
/// the tasks are gone. The others already got TASK_LOST.
fn unreachable_tasks_gone(e: &mut Engine, agent_id: &str) {
    let mut updates = Vec::new();
    let limits = e.config.history_limits();
    for framework in e.frameworks.values_mut() {
        if !crate::engine::partition_aware(&framework.info) {
            continue;
        }
        // Gone tasks are no longer unreachable: they move to the completed ones.
        let (gone, still): (Vec<_>, Vec<_>) = std::mem::take(&mut framework.unreachable_tasks)
            .into_iter()
            .partition(|t| t.agent_id.value == agent_id);
        framework.unreachable_tasks = still.into();
        for mut task in gone {
            let status = gone_status(&task.task_id, agent_id);
            let t = std::sync::Arc::make_mut(&mut task);
            t.set_state(TaskState::TaskGoneByOperator);
            t.statuses.push(status.clone());
            framework.keep_finished(task, limits);
            updates.push((framework.id.clone(), status));
        }
    }
    for (framework_id, status) in updates {
        e.publish_master_update(&framework_id, status);
    }
}

/// No more offers for the agent; its outstanding offers are rescinded.
fn stop_offers(e: &mut Engine, agent_id: &str, now: Duration) {
    allocator_result(e.allocator.deactivate_agent(agent_id));
    let offers: Vec<String> = e
        .agents
        .get(agent_id)
        .map(|a| a.offers.iter().cloned().collect())
        .unwrap_or_default();
    for offer in offers {
        e.remove_offer(&offer, true, now);
    }
}

pub(crate) fn deactivate_agent(
    e: &mut Engine,
    agent_id: &str,
    now: Duration,
) -> Result<(), OperatorError> {
    if !e.agents.contains_key(agent_id) {
        return Err(not_found(agent_id));
    }
    info!(agent_id, "agent deactivated by the operator");
    write(e, |s| s.deactivated.insert(agent_id.to_string()));
    stop_offers(e, agent_id, now);
    Ok(())
}

/// Undoes DEACTIVATE_AGENT and DRAIN_AGENT (a drained agent may be offered again).
pub(crate) fn reactivate_agent(e: &mut Engine, agent_id: &str) -> Result<(), OperatorError> {
    let Some(agent) = e.agents.get(agent_id) else {
        return Err(not_found(agent_id));
    };
    let connected = Engine::agent_connected_now(agent);
    info!(agent_id, "agent reactivated by the operator");
    write(e, |s| {
        s.deactivated.remove(agent_id);
        s.drains.remove(agent_id);
    });
    // A disconnected agent stays inactive in the allocator until it comes back.
    if connected {
        allocator_result(e.allocator.activate_agent(agent_id));
    }
    e.allocation_pending = true;
    Ok(())
}

/// DRAIN_AGENT: no more offers for the agent and every task on it is killed, with kill
/// grace periods capped at `max_grace_period`. The agent is DRAINING until no task is left
/// (terminal updates acknowledged), then DRAINED, and then gone if `mark_gone`. Returns
/// whether [`check_drain`] must keep watching.
pub(crate) fn drain_agent(
    e: &mut Engine,
    drain: call::DrainAgent,
    now: Duration,
) -> Result<bool, OperatorError> {
    let agent_id = drain.agent_id.value.clone();
    let Some(agent) = e.agents.get(&agent_id) else {
        return Err(not_found(&agent_id));
    };
    let max_grace = match drain.max_grace_period {
        None => None,
        Some(d) if d.seconds < 0 || d.nanos < 0 => {
            return Err(OperatorError::BadRequest(
                "'max_grace_period' must not be negative".to_string(),
            ))
        }
        Some(d) => Some(v1::DurationInfo {
            nanoseconds: d
                .seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::from(d.nanos)),
        }),
    };
    info!(agent_id, tasks = agent.tasks.len(), "draining agent");
    let mut info = v1::DrainInfo {
        config: v1::DrainConfig {
            max_grace_period: max_grace,
            mark_gone: Some(drain.mark_gone()),
        },
        ..Default::default()
    };
    info.set_state(v1::DrainState::Draining);
    write(e, |s| {
        s.deactivated.insert(agent_id.clone());
        s.drains.insert(agent_id.clone(), info);
    });
    stop_offers(e, &agent_id, now);

    kill_for_drain(e, &agent_id, max_grace);
    Ok(check_drain(e, &agent_id, now))
}

/// Kills every live task on the agent, with kill grace periods capped at `max_grace`.
fn kill_for_drain(e: &mut Engine, agent_id: &str, max_grace: Option<v1::DurationInfo>) {
    let Some(agent) = e.agents.get(agent_id) else {
        return;
    };
    let tasks: Vec<(String, String)> = agent.tasks.iter().cloned().collect();
    for (framework_id, task_id) in tasks {
        let Some(task) = e
            .frameworks
            .get(&framework_id)
            .and_then(|f| f.tasks.get(&task_id))
            .map(|t| &t.task)
        else {
            continue;
        };
        if task.state().is_terminal() {
            continue;
        }
        let own = task.kill_policy.as_ref().and_then(|k| k.grace_period);
        let grace = match (own, max_grace) {
            (Some(own), Some(max)) if own.nanoseconds > max.nanoseconds => Some(max),
            (Some(own), _) => Some(own),
            (None, max) => max,
        };
        let kill = internal::KillTask {
            framework_id: task.framework_id.clone(),
            task_id: task.task_id.clone(),
            kill_policy: grace.map(|g| v1::KillPolicy {
                grace_period: Some(g),
            }),
        };
        e.send_to_agent(agent_id, master_message::Message::KillTask(kill));
    }
}

/// Moves a draining agent to DRAINED once it runs no task, and marks it gone if asked to.
/// Returns whether the agent is still draining.
pub(crate) fn check_drain(e: &mut Engine, agent_id: &str, now: Duration) -> bool {
    let Some(drain) = read(e, |s| s.drains.get(agent_id).cloned()) else {
        return false;
    };
    if drain.state() != v1::DrainState::Draining {
        return false;
    }
    let Some(agent) = e.agents.get(agent_id) else {
        // Unreachable or gone: nothing to watch until it registers again.
        return false;
    };
    if !agent.tasks.is_empty() {
        return true;
    }
    info!(agent_id, "agent drained");
    write(e, |s| {
        if let Some(d) = s.drains.get_mut(agent_id) {
            d.set_state(v1::DrainState::Drained);
        }
    });
    if drain.config.mark_gone() {
        if let Err(err) = mark_agent_gone(e, agent_id, now) {
            warn!(agent_id, error = %err, "could not mark the drained agent gone");
        }
    }
    false
}

// --------------------------------------------------------------------------- roles

pub(crate) fn update_weights(
    e: &mut Engine,
    infos: Vec<v1::WeightInfo>,
) -> Result<(), OperatorError> {
    let mut weights = Vec::with_capacity(infos.len());
    for info in infos {
        let role = info.role.ok_or_else(|| {
            OperatorError::BadRequest("Expecting 'role' in every weight_info".to_string())
        })?;
        weights.push((role, info.weight));
    }
    e.allocator
        .set_weights(weights)
        .map_err(|err| OperatorError::BadRequest(format!("Invalid weights: {err}")))?;
    e.allocation_pending = true;
    Ok(())
}

/// Scalars by name, checked as Mesos checks quota amounts.
fn quantities(
    role: &str,
    what: &str,
    map: &std::collections::HashMap<String, v1::value::Scalar>,
) -> Result<ResourceQuantities, String> {
    let mut out = ResourceQuantities::new();
    for (name, scalar) in map {
        if name.is_empty() {
            return Err(format!("Role '{role}' has a {what} with an empty name"));
        }
        if !scalar.value.is_finite() || scalar.value < 0.0 {
            return Err(format!(
                "Role '{role}' has an invalid {what} for '{name}': {}",
                scalar.value
            ));
        }
        out.add(name, Scalar::new(scalar.value));
    }
    Ok(out)
}

/// A checked quota config: its limits, and whether it is the default (no quota at all).
fn check_config(config: &quota::QuotaConfig) -> Result<(ResourceQuantities, bool), String> {
    let role = config.role.as_str();
    validate_role(role).map_err(|err| format!("Invalid role: {err}"))?;
    if role == DEFAULT_ROLE {
        return Err(format!(
            "Invalid role '{role}': the default role cannot have a quota"
        ));
    }
    let guarantees = quantities(role, "guarantee", &config.guarantees)?;
    let limits = quantities(role, "limit", &config.limits)?;
    for (name, guarantee) in guarantees.iter() {
        if config.limits.contains_key(name) && guarantee > limits.get(name) {
            return Err(format!(
                "Role '{role}' has a guarantee of {guarantee} {name}, above its limit of {}",
                limits.get(name)
            ));
        }
    }
    let default = config.guarantees.is_empty() && config.limits.is_empty();
    Ok((limits, default))
}

/// What the role holds now (tasks and offers), by name.
fn consumed(e: &Engine, role: &str) -> ResourceQuantities {
    e.allocator
        .role_shares()
        .into_iter()
        .find(|share| share.role == role)
        .map(|share| share.allocated)
        .unwrap_or_default()
}

fn exceeds(held: &ResourceQuantities, limits: &ResourceQuantities) -> Option<String> {
    limits.iter().find_map(|(name, limit)| {
        let have = held.get(name);
        (have > limit).then(|| format!("{have} {name}, above the limit of {limit}"))
    })
}

/// UPDATE_QUOTA: all configs or none. Without `force`, a limit below what the role already
/// holds is refused. Offers that keep a role above its new limit are rescinded.
pub(crate) fn update_quota(
    e: &mut Engine,
    update: call::UpdateQuota,
    now: Duration,
) -> Result<(), OperatorError> {
    let force = update.force();
    let mut checked = Vec::with_capacity(update.quota_configs.len());
    let mut roles = BTreeSet::new();
    for config in update.quota_configs {
        let (limits, default) = check_config(&config).map_err(OperatorError::BadRequest)?;
        if !roles.insert(config.role.clone()) {
            return Err(OperatorError::BadRequest(format!(
                "Role '{}' appears more than once",
                config.role
            )));
        }
        if !force {
            if let Some(excess) = exceeds(&consumed(e, &config.role), &limits) {
                return Err(OperatorError::BadRequest(format!(
                    "Role '{}' already holds {excess} (set 'force' to apply it anyway)",
                    config.role
                )));
            }
        }
        checked.push((config, limits, default));
    }
    for (config, limits, default) in checked {
        let role = config.role.clone();
        info!(role, limits = %limits, "quota updated by the operator");
        e.allocator
            .set_quota(&role, limits.clone())
            .map_err(|err| OperatorError::BadRequest(err.to_string()))?;
        write(e, |s| {
            if default {
                s.quotas.remove(&role);
            } else {
                s.quotas.insert(role.clone(), config);
            }
        });
        rescind_above_limit(e, &role, &limits, now);
    }
    e.allocation_pending = true;
    Ok(())
}

/// Takes back the role's outstanding offers, newest first, while it holds more than
/// `limits`.
fn rescind_above_limit(e: &mut Engine, role: &str, limits: &ResourceQuantities, now: Duration) {
    let mut offers: Vec<(Duration, String)> = e
        .offers
        .iter()
        .filter(|(_, o)| o.role == role)
        .map(|(id, o)| (o.created, id.clone()))
        .collect();
    offers.sort();
    while let Some((_, offer)) = offers.pop() {
        if exceeds(&consumed(e, role), limits).is_none() {
            break;
        }
        e.remove_offer(&offer, true, now);
    }
}

/// Legacy SET_QUOTA: the guarantee becomes both guarantee and limit, as in Mesos 1.10+.
/// Refused when the role already has a quota.
pub(crate) fn set_quota(
    e: &mut Engine,
    request: quota::QuotaRequest,
    now: Duration,
) -> Result<(), OperatorError> {
    let role = request.role().to_string();
    if read(e, |s| s.quotas.contains_key(&role)) {
        return Err(OperatorError::BadRequest(format!(
            "Role '{role}' already has a quota; use UPDATE_QUOTA to change it"
        )));
    }
    let mut amounts = std::collections::HashMap::new();
    for resource in &request.guarantee {
        let Some(scalar) = resource
            .scalar
            .as_ref()
            .filter(|_| resource.r#type() == v1::value::Type::Scalar)
        else {
            return Err(OperatorError::BadRequest(format!(
                "Quota guarantee '{}' is not a scalar",
                resource.name
            )));
        };
        let entry = amounts
            .entry(resource.name.clone())
            .or_insert(v1::value::Scalar { value: 0.0 });
        entry.value += scalar.value;
    }
    if amounts.is_empty() {
        return Err(OperatorError::BadRequest(
            "A quota request must guarantee some resources".to_string(),
        ));
    }
    let config = quota::QuotaConfig {
        role,
        guarantees: amounts.clone(),
        limits: amounts,
    };
    update_quota(
        e,
        call::UpdateQuota {
            force: request.force,
            quota_configs: vec![config],
        },
        now,
    )
}

/// Legacy REMOVE_QUOTA: back to no guarantee and no limit.
pub(crate) fn remove_quota(e: &mut Engine, role: &str, now: Duration) -> Result<(), OperatorError> {
    if !read(e, |s| s.quotas.contains_key(role)) {
        return Err(OperatorError::BadRequest(format!(
            "Role '{role}' has no quota to remove"
        )));
    }
    update_quota(
        e,
        call::UpdateQuota {
            force: Some(true),
            quota_configs: vec![quota::QuotaConfig {
                role: role.to_string(),
                ..Default::default()
            }],
        },
        now,
    )
}

/// GET_QUOTA: every non-default quota, in the current and the legacy form.
#[allow(deprecated)] // the legacy `infos` are still filled, as Mesos does
pub(crate) fn quota_status(e: &Engine) -> response::GetQuota {
    let configs: Vec<quota::QuotaConfig> = read(e, |s| s.quotas.values().cloned().collect());
    let infos = configs
        .iter()
        .map(|c| {
            let mut names: Vec<&String> = c.guarantees.keys().collect();
            names.sort();
            quota::QuotaInfo {
                role: Some(c.role.clone()),
                principal: None,
                guarantee: names
                    .into_iter()
                    .map(|name| {
                        let mut r = v1::Resource {
                            name: name.clone(),
                            scalar: Some(c.guarantees[name]),
                            ..Default::default()
                        };
                        r.set_type(v1::value::Type::Scalar);
                        r
                    })
                    .collect(),
            }
        })
        .collect();
    response::GetQuota {
        status: quota::QuotaStatus { infos, configs },
    }
}
