//! The read side of the operator API: Response messages built from the engine's state, in
//! the shapes Mesos's `GET_*` calls answer with. Everything here is a pure function of the
//! engine (plus the operator's own records in [`crate::engine::admin`]).

use mesos_common::resources::{Resource, Resources};
use mesos_common::wire;
use mesos_proto::v1::master::response::{self, get_agents, get_executors, get_frameworks};
use mesos_proto::v1::{self, master};

use crate::engine::admin;
use crate::engine::{framework_roles, Agent, Engine, Framework};
use crate::views::state_json;

pub(crate) fn time_info(secs: f64) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: (secs * 1e9) as i64,
    }
}

fn framework_id(id: &str) -> v1::FrameworkId {
    v1::FrameworkId {
        value: id.to_string(),
    }
}

/// A Response of `kind` with nothing filled in yet.
pub(crate) fn response(kind: response::Type) -> master::Response {
    master::Response {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

// ----------------------------------------------------------------------------- agents

/// The libprocess pid tools expect (`slave(1)@<ip>:<port>`).
fn agent_pid(a: &Agent) -> String {
    let host = a
        .http_address
        .rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_else(|| a.info.hostname.clone());
    format!("slave(1)@{}:{}", host, a.info.port.unwrap_or(5051))
}

pub(crate) fn agent(e: &Engine, a: &Agent) -> get_agents::Agent {
    let (used, offered) = e.agent_usage(a);
    let (deactivated, drain_info) = admin::agent_status(e, &a.id);
    let mut info = a.agent_info();
    info.id = Some(v1::AgentId {
        value: a.id.clone(),
    });
    get_agents::Agent {
        agent_info: info,
        active: Engine::agent_connected_now(a),
        deactivated: Some(deactivated),
        version: a.version.clone(),
        pid: Some(agent_pid(a)),
        registered_time: Some(time_info(a.registered_time)),
        reregistered_time: a.reregistered_time.map(time_info),
        total_resources: wire::resources_to_proto(&a.total, None),
        allocated_resources: wire::resources_to_proto(&used, None),
        offered_resources: wire::resources_to_proto(&offered, None),
        drain_info,
        ..Default::default()
    }
}

pub(crate) fn agents(e: &Engine) -> response::GetAgents {
    let mut list: Vec<&Agent> = e.agents.values().collect();
    list.sort_by(|x, y| x.id.cmp(&y.id));
    response::GetAgents {
        agents: list.into_iter().map(|a| agent(e, a)).collect(),
        recovered_agents: Vec::new(),
    }
}

// ------------------------------------------------------------------------- frameworks

/// `detailed` adds offers and resources, which Mesos leaves out of stream events.
pub(crate) fn framework(e: &Engine, f: &Framework, detailed: bool) -> get_frameworks::Framework {
    let mut out = get_frameworks::Framework {
        framework_info: f.info.clone(),
        active: f.active,
        connected: Engine::framework_connected(f),
        recovered: f.recovered,
        registered_time: Some(time_info(f.registered_time)),
        reregistered_time: f.reregistered_time.map(time_info),
        unregistered_time: f.unregistered_time.map(time_info),
        ..Default::default()
    };
    if detailed {
        let (used, offered) = e.framework_usage(f);
        let roles = framework_roles(&f.info);
        let role = roles.first().map(String::as_str);
        out.offers = e.framework_offers(f);
        out.allocated_resources = wire::resources_to_proto(&used, role);
        out.offered_resources = wire::resources_to_proto(&offered, role);
    }
    out
}

#[allow(deprecated)] // `recovered_frameworks` must still be present, empty, as in Mesos
pub(crate) fn frameworks(e: &Engine) -> response::GetFrameworks {
    let mut active: Vec<&Framework> = e.frameworks.values().collect();
    active.sort_by(|x, y| x.id.cmp(&y.id));
    response::GetFrameworks {
        frameworks: active.into_iter().map(|f| framework(e, f, true)).collect(),
        completed_frameworks: e
            .completed_frameworks
            .iter()
            .map(|f| framework(e, f, true))
            .collect(),
        recovered_frameworks: Vec::new(),
    }
}

// -------------------------------------------------------------------- executors, tasks

/// Executors the master knows of: those named by tasks (command tasks run in executors
/// their agent makes up, which the master never sees, as in Mesos).
#[allow(deprecated)] // `orphan_executors` must still be present, empty, as in Mesos
pub(crate) fn executors(e: &Engine) -> response::GetExecutors {
    let mut frameworks: Vec<&Framework> = e.frameworks.values().collect();
    frameworks.sort_by(|x, y| x.id.cmp(&y.id));
    let executors = frameworks
        .into_iter()
        .flat_map(Engine::framework_executors)
        .map(|(agent, executor_info)| get_executors::Executor {
            executor_info,
            agent_id: v1::AgentId { value: agent },
        })
        .collect();
    response::GetExecutors {
        executors,
        orphan_executors: Vec::new(),
    }
}

#[allow(deprecated)] // `orphan_tasks` must still be present, empty, as in Mesos
pub(crate) fn tasks(e: &Engine) -> response::GetTasks {
    let mut frameworks: Vec<&Framework> = e.frameworks.values().collect();
    frameworks.sort_by(|x, y| x.id.cmp(&y.id));
    let mut out = response::GetTasks::default();
    for f in frameworks {
        out.tasks.extend(e.framework_tasks(f).into_iter().cloned());
        out.completed_tasks
            .extend(f.completed_tasks.iter().map(|t| v1::Task::clone(t)));
        out.unreachable_tasks
            .extend(f.unreachable_tasks.iter().map(|t| v1::Task::clone(t)));
    }
    for f in &e.completed_frameworks {
        out.completed_tasks
            .extend(e.framework_tasks(f).into_iter().cloned());
        out.completed_tasks
            .extend(f.completed_tasks.iter().map(|t| v1::Task::clone(t)));
        out.unreachable_tasks
            .extend(f.unreachable_tasks.iter().map(|t| v1::Task::clone(t)));
    }
    out
}

pub(crate) fn state(e: &Engine) -> response::GetState {
    response::GetState {
        get_tasks: Some(tasks(e)),
        get_executors: Some(executors(e)),
        get_frameworks: Some(frameworks(e)),
        get_agents: Some(agents(e)),
    }
}

// -------------------------------------------------------------------- roles, weights

pub(crate) fn roles(e: &Engine) -> response::GetRoles {
    let roles = e
        .allocator
        .role_shares()
        .into_iter()
        .map(|share| {
            let allocated: Resources = share
                .allocated
                .iter()
                .map(|(name, amount)| Resource::scalar(name, amount.value()))
                .collect();
            v1::Role {
                name: share.role,
                weight: share.weight,
                frameworks: share.frameworks.iter().map(|f| framework_id(f)).collect(),
                resources: wire::resources_to_proto(&allocated, None),
            }
        })
        .collect();
    response::GetRoles { roles }
}

pub(crate) fn weights(e: &Engine) -> response::GetWeights {
    let mut weights: Vec<(String, f64)> = e.allocator.weights().into_iter().collect();
    weights.sort_by(|x, y| x.0.cmp(&y.0));
    response::GetWeights {
        weight_infos: weights
            .into_iter()
            .map(|(role, weight)| v1::WeightInfo {
                weight,
                role: Some(role),
            })
            .collect(),
    }
}

// --------------------------------------------------------- flags, metrics, version, master

pub(crate) fn flags(e: &Engine) -> response::GetFlags {
    let flags = e
        .config
        .flag_map()
        .into_iter()
        .map(|(name, value)| v1::Flag {
            name,
            value: Some(match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        })
        .collect();
    response::GetFlags { flags }
}

pub(crate) fn metrics(e: &Engine) -> response::GetMetrics {
    let serde_json::Value::Object(map) = state_json::metrics(e) else {
        return response::GetMetrics::default();
    };
    let metrics = map
        .into_iter()
        .map(|(name, value)| v1::Metric {
            name,
            value: value.as_f64(),
        })
        .collect();
    response::GetMetrics { metrics }
}

pub(crate) fn version() -> response::GetVersion {
    let v = state_json::version();
    let text = |key: &str| v[key].as_str().map(str::to_string);
    response::GetVersion {
        version_info: v1::VersionInfo {
            version: text("version").unwrap_or_default(),
            build_date: text("build_date"),
            build_time: v["build_time"].as_f64(),
            build_user: text("build_user"),
            git_sha: text("git_sha"),
            git_branch: text("git_branch"),
            git_tag: text("git_tag"),
        },
    }
}

pub(crate) fn master(e: &Engine) -> response::GetMaster {
    response::GetMaster {
        master_info: Some(e.info.clone()),
        start_time: Some(e.start_time),
        elected_time: Some(e.elected_time),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mesos_proto::v1::TaskState;

    use super::*;
    use crate::test_support::{self, add_agent, framework_in_role as framework, launch, subscribe};
    use crate::views::operator as views;

    fn engine() -> Engine {
        test_support::engine(&[])
    }

    #[test]
    fn state_views_follow_the_engine() {
        let mut e = engine();
        let mut f = subscribe(&mut e, framework("f", "*", false));
        let (agent_id, _agent) = add_agent(&mut e, "cpus:1;mem:64");
        e.allocate(Duration::ZERO, false);
        let offer = f.offers().remove(0);
        launch(&mut e, &f.id, &offer, "t1", None);

        let state = views::state(&e);
        let agents = state.get_agents.unwrap().agents;
        assert_eq!(agents.len(), 1);
        assert_eq!(agents[0].agent_info.id.as_ref().unwrap().value, agent_id);
        assert!(agents[0].active);
        assert!(agents[0].pid.as_deref().unwrap().starts_with("slave(1)@"));
        let frameworks = state.get_frameworks.unwrap();
        assert_eq!(frameworks.frameworks.len(), 1);
        assert!(frameworks.frameworks[0].connected);
        let tasks = state.get_tasks.unwrap();
        assert_eq!(tasks.tasks.len(), 1);
        assert_eq!(tasks.tasks[0].state(), TaskState::TaskStaging);

        e.teardown(&f.id, Duration::ZERO);
        let frameworks = views::frameworks(&e);
        assert!(frameworks.frameworks.is_empty());
        assert_eq!(frameworks.completed_frameworks.len(), 1);
        assert_eq!(views::tasks(&e).completed_tasks.len(), 1);
        assert!(views::metrics(&e)
            .metrics
            .iter()
            .any(|m| m.name == "master/tasks_killed" && m.value == Some(1.0)));
        assert!(views::flags(&e).flags.iter().any(|f| f.name == "port"));
    }

    #[test]
    fn unreachable_tasks_are_kept_apart_and_bounded() {
        let mut e = test_support::engine(&[
            "--max_agent_ping_timeouts=1",
            "--max_unreachable_tasks_per_framework=1",
        ]);
        let mut f = subscribe(&mut e, framework("f", "*", true));
        let mut agents = Vec::new();
        for n in 0..2 {
            agents.push(add_agent(&mut e, "cpus:1;mem:64"));
            e.allocate(Duration::ZERO, true);
            let offer = f.offers().remove(0);
            launch(&mut e, &f.id, &offer, &format!("t{n}"), None);
        }
        e.ping_agents(Duration::from_secs(15));
        e.ping_agents(Duration::from_secs(30));
        assert!(e.agents.is_empty(), "both agents are unreachable");

        let tasks = views::tasks(&e);
        assert!(tasks.tasks.is_empty());
        assert!(tasks.completed_tasks.is_empty());
        assert_eq!(tasks.unreachable_tasks.len(), 1, "at most one is kept");
        let unreachable = tasks.unreachable_tasks[0].clone();
        assert_eq!(unreachable.state(), TaskState::TaskUnreachable);

        // Its agent comes back still running it: it is an active task again, and only that.
        let mut task = unreachable.clone();
        task.set_state(TaskState::TaskRunning);
        task.statuses.clear();
        let (tx, _rx) = tokio::sync::mpsc::channel(1024);
        let register = mesos_proto::internal::Register {
            agent_info: v1::AgentInfo {
                id: Some(task.agent_id.clone()),
                hostname: "agent-host".to_string(),
                resources: mesos_common::wire::resources_to_proto(
                    &mesos_common::resources::Resources::parse("cpus:1;mem:64").unwrap(),
                    None,
                ),
                ..Default::default()
            },
            tasks: vec![task],
            ..Default::default()
        };
        e.agent_connected(9, register, tx, Duration::from_secs(31))
            .expect("re-registered");
        let tasks = views::tasks(&e);
        assert_eq!(tasks.tasks.len(), 1, "{tasks:?}");
        assert_eq!(tasks.tasks[0].task_id, unreachable.task_id);
        assert!(tasks.unreachable_tasks.is_empty(), "{tasks:?}");
    }
}
