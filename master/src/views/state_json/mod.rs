//! The master's JSON views (`/master/state` and friends) in Mesos's shapes. Tools such as
//! `mesos ps`, dashboards and DNS bridges read these keys, so names follow Mesos exactly,
//! including the old `slave` spellings.
//!
//! The large views (`state`, `state-summary`, `frameworks`, `slaves`, `tasks`) are written
//! straight into bytes, in two steps so that a big GET does not stall scheduling:
//!
//! ```text
//!  actor:  snapshot(engine)  Arc clones and a few numbers per agent, framework and task
//!  HTTP:   snapshot.state()  serialized on a blocking thread, no serde_json::Value tree
//! ```
//!
//! Each agent's JSON is kept from one request to the next ([`AgentJson`], in the agent's
//! [`ViewSlot`](crate::engine::ViewSlot)): what never changes while it stays registered (ids, hostname, resources,
//! attributes...) is rendered once, by the first view after its registration; its used and offered resources are re-rendered, outside the
//! actor, only when the allocator's revision of the agent or the agent's offers moved. A
//! snapshot of a quiet cluster is then one `Arc` clone per agent, and writing it mostly
//! copies bytes.

use mesos_common::resources::Resources;
use mesos_proto::json::to_json_value;
use mesos_proto::v1;
use serde_json::{json, Map, Value};

use crate::engine::{wall_clock_secs, Engine};
use crate::VERSION;

pub(crate) fn version() -> Value {
    json!({
        "version": VERSION,
        "build_date": env!("CARGO_PKG_VERSION"),
        "build_time": 0.0,
        "build_user": "mesos-rs",
        "git_sha": option_env!("MESOS_RS_GIT_SHA").unwrap_or(""),
        "git_branch": "main",
    })
}

mod agents;
mod frameworks;
mod json;

use agents::{sort_by_id, AgentSnapshot};
use frameworks::FrameworkSnapshot;
use json::{array, resources_json, write_task, Object, TaskSnapshot};

// ------------------------------------------------------------------ the views

/// Which view a snapshot is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    State,
    Summary,
    Frameworks,
    Slaves,
}

/// The master-wide members of `/master/state`.
struct MasterSnapshot {
    start_time: f64,
    elected_time: f64,
    id: String,
    pid: String,
    hostname: String,
    unreachable_slaves: usize,
    cluster: String,
    log_dir: String,
    flags: Map<String, Value>,
    address: String,
}

/// Everything one view needs, taken in the actor and written outside it.
pub(crate) struct Snapshot {
    view: View,
    master: Option<MasterSnapshot>,
    hostname: String,
    cluster: String,
    agents: Vec<AgentSnapshot>,
    frameworks: Vec<FrameworkSnapshot>,
    completed_frameworks: Vec<FrameworkSnapshot>,
}

/// Takes what `view` needs from the engine: cheap (reference counts and a few numbers per
/// agent, framework and task), as it runs inside the actor.
pub(crate) fn snapshot(e: &Engine, view: View) -> Snapshot {
    let with_agents = matches!(view, View::State | View::Summary | View::Slaves);
    let with_frameworks = view != View::Slaves;
    let detail = matches!(view, View::State | View::Frameworks);
    let with_completed = detail;
    let info = &e.info;
    Snapshot {
        view,
        master: (view == View::State).then(|| MasterSnapshot {
            start_time: e.start_time,
            elected_time: e.elected_time,
            id: e.id.clone(),
            pid: info.pid.clone().unwrap_or_default(),
            hostname: info.hostname.clone().unwrap_or_default(),
            unreachable_slaves: e.unreachable_agents.len(),
            cluster: e.config.cluster.clone().unwrap_or_default(),
            log_dir: e.config.log_dir.clone().unwrap_or_default(),
            flags: e.config.flag_map(),
            address: info
                .address
                .as_ref()
                .and_then(|a| a.ip.clone())
                .unwrap_or_default(),
        }),
        hostname: info.hostname.clone().unwrap_or_default(),
        cluster: e.config.cluster.clone().unwrap_or_default(),
        agents: if with_agents {
            e.agents
                .values()
                .map(|a| AgentSnapshot::take(e, a))
                .collect()
        } else {
            Vec::new()
        },
        frameworks: if with_frameworks {
            e.frameworks
                .values()
                .map(|f| FrameworkSnapshot::take(e, f, detail))
                .collect()
        } else {
            Vec::new()
        },
        completed_frameworks: if with_completed {
            e.completed_frameworks
                .iter()
                .map(|f| FrameworkSnapshot::take(e, f, true))
                .collect()
        } else {
            Vec::new()
        },
    }
}

impl Snapshot {
    /// Writes the view. `leader` is who leads as this master knows it (for `/master/state`:
    /// without one, `leader` and `leader_info` are left out).
    /// The whole view at once (the tests compare views).
    #[cfg(test)]
    pub(crate) fn write(self, leader: Option<&v1::MasterInfo>) -> Vec<u8> {
        let mut whole = Vec::new();
        self.write_chunked(leader, usize::MAX, &mut |chunk| {
            whole.extend_from_slice(&chunk)
        });
        whole
    }

    /// Writes the view in pieces of about `chunk` bytes (cut between agents and between
    /// frameworks), handing each to `sink` as soon as it is full, so that sending the
    /// first ones overlaps with writing the rest.
    pub(crate) fn write_chunked(
        mut self,
        leader: Option<&v1::MasterInfo>,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<u8>),
    ) {
        let sink = std::cell::RefCell::new(sink);
        let flush = |out: &mut Vec<u8>| {
            if out.len() >= chunk {
                let full = std::mem::replace(out, Vec::with_capacity(chunk.min(1 << 22)));
                (*sink.borrow_mut())(full);
            }
        };
        for a in &mut self.agents {
            a.render();
        }
        sort_by_id(&mut self.agents);
        self.frameworks.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let estimate = self.agents.len() * 1024
            + self
                .frameworks
                .iter()
                .map(|f| 1024 + f.detail.as_ref().map_or(0, |d| d.tasks.len() * 700))
                .sum::<usize>();
        let mut out = Vec::with_capacity(estimate.min(chunk.saturating_add(1 << 16)));
        let agents = |out: &mut Vec<u8>| {
            array(out, &self.agents, |out, a| {
                a.write(out);
                flush(out);
            })
        };
        let frameworks = |out: &mut Vec<u8>| {
            array(out, &self.frameworks, |out, f| {
                f.write(out);
                flush(out);
            })
        };
        let completed = |out: &mut Vec<u8>| {
            array(out, &self.completed_frameworks, |out, f| {
                f.write(out);
                flush(out);
            })
        };
        let none: &[Value] = &[];
        let mut o = Object::open(&mut out);
        match self.view {
            View::State => {
                let m = self.master.as_ref().expect("taken for the state view");
                let activated = self.agents.iter().filter(|a| a.active).count();
                o.field("version", VERSION);
                o.field("git_sha", option_env!("MESOS_RS_GIT_SHA").unwrap_or(""));
                o.field("build_date", env!("CARGO_PKG_VERSION"));
                o.field("build_time", &0.0);
                o.field("build_user", "mesos-rs");
                o.field("start_time", &m.start_time);
                o.field("elected_time", &m.elected_time);
                o.field("id", &m.id);
                o.field("pid", &m.pid);
                o.field("hostname", &m.hostname);
                o.field("activated_slaves", &activated);
                o.field("deactivated_slaves", &(self.agents.len() - activated));
                o.field("unreachable_slaves", &m.unreachable_slaves);
                if let Some(leader) = leader {
                    o.field("leader", leader.pid.as_deref().unwrap_or_default());
                    o.field("leader_info", &to_json_value(leader));
                }
                o.field("cluster", &m.cluster);
                o.field("log_dir", &m.log_dir);
                o.field("flags", &m.flags);
                agents(o.key("slaves"));
                o.field("recovered_slaves", none);
                frameworks(o.key("frameworks"));
                completed(o.key("completed_frameworks"));
                o.field("orphan_tasks", none);
                o.field("unregistered_frameworks", none);
                o.field("address", &m.address);
            }
            View::Summary => {
                o.field("hostname", &self.hostname);
                o.field("cluster", &self.cluster);
                agents(o.key("slaves"));
                frameworks(o.key("frameworks"));
            }
            View::Frameworks => {
                frameworks(o.key("frameworks"));
                completed(o.key("completed_frameworks"));
                o.field("unregistered_frameworks", none);
            }
            View::Slaves => {
                agents(o.key("slaves"));
                o.field("recovered_slaves", none);
            }
        }
        o.close();
        (*sink.borrow_mut())(out);
    }
}

/// What `/master/tasks` was asked for, read as Mesos reads its query: `limit` (default
/// 100) and `offset` (default 0) are integers where anything unreadable means the default
/// and a negative one means "no bound" (Mesos casts the int to size_t); `order` is `asc`
/// or else descending; `framework_id` and `task_id` keep only the tasks they name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskListing {
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) ascending: bool,
    pub(crate) framework_id: Option<String>,
    pub(crate) task_id: Option<String>,
}

/// Tasks listed when `limit` is not given.
pub(crate) const TASK_LIMIT: usize = 100;

impl TaskListing {
    pub(crate) fn from_query(
        limit: Option<&str>,
        offset: Option<&str>,
        order: Option<&str>,
        framework_id: Option<String>,
        task_id: Option<String>,
    ) -> Self {
        let count = |value: Option<&str>, default: usize| match value.map(str::parse::<i32>) {
            Some(Ok(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            _ => default,
        };
        TaskListing {
            limit: count(limit, TASK_LIMIT),
            offset: count(offset, 0),
            ascending: order == Some("asc"),
            framework_id,
            task_id,
        }
    }
}

/// `/master/tasks`: the active, unreachable and completed tasks of active and completed
/// frameworks, ordered by the time of each task's first status. Taken in the actor,
/// sorted and written outside it.
pub(crate) struct TasksSnapshot {
    tasks: Vec<(f64, TaskSnapshot)>,
}

pub(crate) fn tasks_snapshot(e: &Engine, listing: &TaskListing) -> TasksSnapshot {
    let first_status = |t: &v1::Task| t.statuses.first().and_then(|s| s.timestamp).unwrap_or(0.0);
    let wanted = |t: &v1::Task| {
        listing
            .task_id
            .as_ref()
            .is_none_or(|id| *id == t.task_id.value)
    };
    let frameworks = e
        .frameworks
        .values()
        .chain(&e.completed_frameworks)
        .filter(|f| listing.framework_id.as_ref().is_none_or(|id| *id == f.id));
    let mut tasks = Vec::new();
    for f in frameworks {
        for entry in f.tasks.values().filter(|entry| wanted(&entry.task)) {
            tasks.push((
                first_status(&entry.task),
                (entry.task.clone(), Some(entry.resources.clone())),
            ));
        }
        for t in f.unreachable_tasks.iter().chain(&f.completed_tasks) {
            if wanted(t) {
                tasks.push((first_status(t), (t.clone(), None)));
            }
        }
    }
    TasksSnapshot { tasks }
}

impl TasksSnapshot {
    pub(crate) fn write(mut self, listing: &TaskListing) -> Vec<u8> {
        // Stable, so that equal timestamps keep the order they were collected in.
        self.tasks.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !listing.ascending {
            self.tasks.reverse();
        }
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        array(
            o.key("tasks"),
            self.tasks.iter().skip(listing.offset).take(listing.limit),
            |out, (_, (t, r))| write_task(out, t, r.as_ref()),
        );
        o.close();
        out
    }
}

// ------------------------------------------------------------------ small views

pub(crate) fn roles(e: &Engine) -> Value {
    let mut roles: std::collections::BTreeMap<String, (Vec<String>, Resources)> =
        std::collections::BTreeMap::new();
    roles.entry("*".to_string()).or_default();
    for f in e.frameworks.values() {
        let (used, offered) = e.framework_usage(f);
        for role in crate::engine::framework_roles(&f.info) {
            let entry = roles.entry(role).or_default();
            entry.0.push(f.id.clone());
            entry.1.add(&used);
            entry.1.add(&offered);
        }
    }
    let weights = e.allocator.weights();
    let list: Vec<Value> = roles
        .into_iter()
        .map(|(name, (frameworks, resources))| {
            let weight = weights.get(&name).copied().unwrap_or(1.0);
            json!({
                "name": name,
                "weight": weight,
                "frameworks": frameworks,
                "resources": resources_json(&resources),
                "allocated": resources_json(&resources),
            })
        })
        .collect();
    json!({ "roles": list })
}

pub(crate) fn metrics(e: &Engine) -> Value {
    let mut total = Resources::default();
    let mut used = Resources::default();
    let mut connected = 0;
    for a in e.agents.values() {
        total.add(&a.total);
        let (u, _) = e.agent_usage(a);
        used.add(&u);
        if Engine::agent_connected_now(a) {
            connected += 1;
        }
    }
    let mut staging = 0;
    let mut starting = 0;
    let mut running = 0;
    let mut killing = 0;
    for f in e.frameworks.values() {
        for t in e.framework_tasks(f) {
            match t.state() {
                v1::TaskState::TaskStaging => staging += 1,
                v1::TaskState::TaskStarting => starting += 1,
                v1::TaskState::TaskRunning => running += 1,
                v1::TaskState::TaskKilling => killing += 1,
                s if s.is_terminal() => {}
                _ => {}
            }
        }
    }
    let c = &e.counters;
    let active_frameworks = e.frameworks.values().filter(|f| f.active).count();
    let connected_frameworks = e
        .frameworks
        .values()
        .filter(|f| Engine::framework_connected(f))
        .count();
    let uptime = wall_clock_secs() - e.start_time;
    let pct = |u: f64, t: f64| if t > 0.0 { u / t } else { 0.0 };
    json!({
        "master/elected": 1.0,
        "master/uptime_secs": uptime,
        "master/slaves_active": connected as f64,
        "master/slaves_inactive": 0.0,
        "master/slaves_connected": connected as f64,
        "master/slaves_disconnected": (e.agents.len() - connected) as f64,
        "master/slaves_unreachable": e.unreachable_agents.len() as f64,
        "master/frameworks_active": active_frameworks as f64,
        "master/frameworks_inactive": (e.frameworks.len() - active_frameworks) as f64,
        "master/frameworks_connected": connected_frameworks as f64,
        "master/frameworks_disconnected": (e.frameworks.len() - connected_frameworks) as f64,
        "master/tasks_staging": staging as f64,
        "master/tasks_starting": starting as f64,
        "master/tasks_running": running as f64,
        "master/tasks_killing": killing as f64,
        "master/tasks_finished": c.tasks_finished as f64,
        "master/tasks_failed": c.tasks_failed as f64,
        "master/tasks_killed": c.tasks_killed as f64,
        "master/tasks_lost": c.tasks_lost as f64,
        "master/tasks_error": c.tasks_error as f64,
        "master/tasks_dropped": c.tasks_dropped as f64,
        "master/tasks_unreachable": c.tasks_unreachable as f64,
        "master/tasks_gone": c.tasks_gone as f64,
        "master/cpus_total": total.cpus().unwrap_or(0.0),
        "master/cpus_used": used.cpus().unwrap_or(0.0),
        "master/cpus_percent": pct(used.cpus().unwrap_or(0.0), total.cpus().unwrap_or(0.0)),
        "master/mem_total": total.mem().unwrap_or(0.0),
        "master/mem_used": used.mem().unwrap_or(0.0),
        "master/mem_percent": pct(used.mem().unwrap_or(0.0), total.mem().unwrap_or(0.0)),
        "master/disk_total": total.disk().unwrap_or(0.0),
        "master/disk_used": used.disk().unwrap_or(0.0),
        "master/disk_percent": pct(used.disk().unwrap_or(0.0), total.disk().unwrap_or(0.0)),
        "master/outstanding_offers": e.outstanding_offers() as f64,
        "master/valid_status_updates": c.valid_status_updates as f64,
        "master/invalid_status_updates": c.invalid_status_updates as f64,
        "master/messages_decline_offers": c.offers_declined as f64,
        "master/messages_accept_offers": c.offers_accepted as f64,
        "master/offers_rescinded": c.offers_rescinded as f64,
        "master/dropped_messages": c.dropped_messages as f64,
        "master/deferred_status_updates": c.deferred_updates as f64,
        "master/messages_scheduler_calls": c.calls as f64,
        "allocator/mesos/allocation_runs": c.allocation_runs as f64,
        "allocator/mesos/allocation_run_ms": c.last_allocation_ms,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use mesos_common::wire;
    use mesos_proto::internal;
    use mesos_proto::v1::TaskState;
    use tokio::sync::mpsc;

    use super::agents::AgentRendering;
    use super::*;
    use crate::test_support::{
        accept_launching, add_agent, command_task, engine, framework, status_update, subscribe,
    };

    /// `/master/state-summary` as served, checked against the same view rendered from
    /// scratch (every agent's kept JSON set aside for it, then put back) and each
    /// framework's usage against a sum over its allocations.
    fn summary(e: &mut Engine) -> Value {
        for f in e.frameworks.values() {
            let mut summed = Resources::default();
            for a in e.allocator.framework_allocations(&f.id).unwrap_or_default() {
                summed.add(&a.resources);
            }
            let kept = e.allocator.framework_allocated(&f.id).unwrap_or_default();
            assert_eq!(kept, summed, "framework {}", f.id);
        }
        let served = snapshot(e, View::Summary).write(None);
        let mut kept = HashMap::new();
        for a in e.agents.values_mut() {
            kept.insert(a.id.clone(), std::mem::take(&mut a.views));
        }
        let fresh = snapshot(e, View::Summary).write(None);
        for a in e.agents.values_mut() {
            a.views = kept.remove(&a.id).expect("kept above");
        }
        assert_eq!(
            String::from_utf8_lossy(&served),
            String::from_utf8_lossy(&fresh),
            "a kept agent rendering was stale"
        );
        serde_json::from_slice(&served).expect("valid JSON")
    }

    fn the_agent(summary: &Value) -> &Value {
        let agents = summary["slaves"].as_array().expect("slaves");
        assert_eq!(agents.len(), 1);
        &agents[0]
    }

    fn cpus(v: &Value, key: &str) -> f64 {
        v[key]["cpus"].as_f64().expect("cpus")
    }

    /// Accepts `offer` with one task that uses all of it: nothing goes back to the
    /// allocator, only the offer goes away.
    fn launch_whole_offer(e: &mut Engine, framework_id: &str, offer: &v1::Offer, task_id: &str) {
        let task = command_task(task_id, &offer.agent_id, offer.resources.clone());
        let accept = accept_launching(offer, vec![task], None);
        e.accept(framework_id, accept, Duration::ZERO);
    }

    #[test]
    fn task_listing_reads_the_query_as_mesos_does() {
        let cases = [
            ((None, None, None), (TASK_LIMIT, 0, false)),
            ((Some("5"), Some("2"), Some("asc")), (5, 2, true)),
            ((Some("-1"), None, Some("desc")), (usize::MAX, 0, false)),
            (
                (Some("abc"), Some("x"), Some("sideways")),
                (TASK_LIMIT, 0, false),
            ),
            ((Some("0"), Some("-3"), Some("des")), (0, usize::MAX, false)),
            ((Some("99999999999"), None, None), (TASK_LIMIT, 0, false)),
        ];
        for ((limit, offset, order), want) in cases {
            let l = TaskListing::from_query(limit, offset, order, None, None);
            assert_eq!(
                (l.limit, l.offset, l.ascending),
                want,
                "{limit:?} {offset:?} {order:?}"
            );
        }
    }

    fn listed(e: &Engine, framework_id: Option<&str>, task_id: Option<&str>) -> Vec<String> {
        let listing = TaskListing::from_query(
            None,
            None,
            None,
            framework_id.map(str::to_string),
            task_id.map(str::to_string),
        );
        let tasks: Value =
            serde_json::from_slice(&tasks_snapshot(e, &listing).write(&listing)).unwrap();
        tasks["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t["id"].as_str().unwrap(),
                    t["state"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Paths to every `null` in `v`: Mesos leaves out a field it has no value for.
    fn nulls(v: &Value, path: &str, found: &mut Vec<String>) {
        match v {
            Value::Null => found.push(path.to_string()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    nulls(item, &format!("{path}[{i}]"), found);
                }
            }
            Value::Object(members) => {
                for (key, item) in members {
                    nulls(item, &format!("{path}.{key}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn no_view_writes_null() {
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        let mut g = subscribe(&mut e, framework("g"));
        let _a = add_agent(&mut e, "cpus:4;mem:1024;ports:[31000-31009]");
        let _b = add_agent(&mut e, "cpus:4;mem:1024;ports:[31000-31009]");
        e.allocate(Duration::ZERO, false);
        for p in [&mut f, &mut g] {
            if let Some(offer) = p.offers().pop() {
                crate::test_support::launch(&mut e, &p.id, &offer, &format!("{}-t", p.id), None);
            }
        }
        e.allocate(Duration::from_secs(1), true);
        e.teardown(&g.id, Duration::from_secs(1));

        for view in [View::State, View::Summary, View::Frameworks, View::Slaves] {
            let v: Value = serde_json::from_slice(&snapshot(&e, view).write(None)).unwrap();
            let mut found = Vec::new();
            nulls(&v, "", &mut found);
            assert!(found.is_empty(), "{view:?}: null at {found:?}\n{v:#}");
        }
        let listing = TaskListing::from_query(None, None, None, None, None);
        let v: Value =
            serde_json::from_slice(&tasks_snapshot(&e, &listing).write(&listing)).unwrap();
        assert_eq!(v["tasks"].as_array().unwrap().len(), 2);
        let mut found = Vec::new();
        nulls(&v, "", &mut found);
        assert!(found.is_empty(), "tasks: null at {found:?}");
    }

    #[test]
    fn a_task_holds_only_the_ports_it_took_from_an_offered_range() {
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        let (agent_id, _agent) = add_agent(&mut e, "cpus:4;mem:1024;ports:[31000-31100]");
        e.allocate(Duration::ZERO, false);
        let offer = f.offers().remove(0);
        let task = command_task(
            "t1",
            &v1::AgentId {
                value: agent_id.clone(),
            },
            wire::resources_to_proto(
                &Resources::parse("cpus:1;mem:32;ports:[31000-31000]").unwrap(),
                Some("*"),
            ),
        );
        e.accept(
            &f.id,
            accept_launching(&offer, vec![task], Some(100.0)),
            Duration::ZERO,
        );
        let framework = &e.frameworks[&f.id];
        let (used, offered) = e.framework_usage(framework);
        assert!(offered.is_empty(), "{offered}");
        assert_eq!(
            used,
            Resources::parse("cpus:1;mem:32;ports:[31000-31000]").unwrap()
        );
        let allocated = e.allocator.framework_allocated(&f.id).unwrap_or_default();
        assert_eq!(allocated, used);
    }

    #[test]
    fn a_removed_framework_holds_nothing_and_its_tasks_stay_listed() {
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        add_agent(&mut e, "cpus:4;mem:1024;ports:[31000-31009]");
        e.allocate(Duration::ZERO, false);
        let offer = f.offers().remove(0);
        crate::test_support::launch(&mut e, &f.id, &offer, "t1", None);
        e.allocate(Duration::from_secs(1), true);
        assert_eq!(f.offers().len(), 1, "the rest is offered again");
        e.teardown(&f.id, Duration::from_secs(1));

        for view in [View::State, View::Frameworks] {
            let state: Value = serde_json::from_slice(&snapshot(&e, view).write(None)).unwrap();
            let removed = &state["completed_frameworks"][0];
            assert_eq!(removed["id"], f.id.as_str());
            for key in ["resources", "used_resources", "offered_resources"] {
                assert_eq!(cpus(removed, key), 0.0, "{view:?} {key}");
                assert_eq!(removed[key]["mem"].as_f64(), Some(0.0), "{view:?} {key}");
                assert!(removed[key]["ports"].is_null(), "{view:?} {key}");
            }
            assert_eq!(removed["completed_tasks"][0]["id"], "t1");
        }
        assert_eq!(listed(&e, None, None), ["t1 TASK_KILLED"]);
        assert_eq!(listed(&e, Some(&f.id), Some("t1")), ["t1 TASK_KILLED"]);
        assert!(listed(&e, Some("other"), None).is_empty());
        assert!(listed(&e, None, Some("t2")).is_empty());
    }

    #[test]
    fn summary_follows_offers_launches_and_task_ends() {
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        let (agent_id, _agent) = add_agent(&mut e, "cpus:4;mem:1024;ports:[31000-31009]");
        let s = summary(&mut e);
        let a = the_agent(&s);
        assert_eq!(
            (cpus(a, "used_resources"), cpus(a, "offered_resources")),
            (0.0, 0.0)
        );

        e.allocate(Duration::ZERO, false);
        let offer = f.offers().remove(0);
        let s = summary(&mut e);
        let a = the_agent(&s);
        assert_eq!(
            (cpus(a, "used_resources"), cpus(a, "offered_resources")),
            (0.0, 4.0)
        );
        assert_eq!(cpus(&s["frameworks"][0], "offered_resources"), 4.0);

        e.decline(&f.id, std::slice::from_ref(&offer.id), None, Duration::ZERO);
        let s = summary(&mut e);
        assert_eq!(cpus(the_agent(&s), "offered_resources"), 0.0);

        e.allocate(Duration::from_secs(10), true);
        let offer = f.offers().remove(0);
        summary(&mut e);
        launch_whole_offer(&mut e, &f.id, &offer, "t1");
        let s = summary(&mut e);
        let a = the_agent(&s);
        assert_eq!(
            (cpus(a, "used_resources"), cpus(a, "offered_resources")),
            (4.0, 0.0)
        );
        assert_eq!(a["used_resources"]["ports"], json!("[31000-31009]"));
        assert_eq!(cpus(&s["frameworks"][0], "used_resources"), 4.0);

        let finished = status_update(&f.id, "t1", TaskState::TaskFinished, 1);
        e.agent_message(&agent_id, finished, Duration::ZERO);
        let s = summary(&mut e);
        assert_eq!(cpus(the_agent(&s), "used_resources"), 0.0);
    }

    #[test]
    fn framework_usage_over_agents_with_the_same_ports() {
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        let resources = "cpus:2;mem:64;ports:[31000-31009]";
        let (first, _a) = add_agent(&mut e, resources);
        add_agent(&mut e, resources);
        e.allocate(Duration::ZERO, false);
        let offers = f.offers();
        assert_eq!(offers.len(), 2);
        let s = summary(&mut e);
        assert_eq!(cpus(&s["frameworks"][0], "offered_resources"), 4.0);
        let on_first = offers.iter().find(|o| o.agent_id.value == first).unwrap();
        let other = offers.iter().find(|o| o.agent_id.value != first).unwrap();
        e.decline(&f.id, std::slice::from_ref(&other.id), None, Duration::ZERO);
        let s = summary(&mut e);
        let fw = &s["frameworks"][0];
        assert_eq!(cpus(fw, "offered_resources"), 2.0);
        assert_eq!(fw["offered_resources"]["ports"], json!("[31000-31009]"));
        launch_whole_offer(&mut e, &f.id, on_first, "t1");
        let s = summary(&mut e);
        let fw = &s["frameworks"][0];
        assert_eq!(
            (cpus(fw, "used_resources"), cpus(fw, "offered_resources")),
            (2.0, 0.0)
        );
        let finished = status_update(&f.id, "t1", TaskState::TaskFinished, 1);
        e.agent_message(&first, finished, Duration::ZERO);
        let s = summary(&mut e);
        assert_eq!(cpus(&s["frameworks"][0], "used_resources"), 0.0);
    }

    #[test]
    fn summary_follows_disconnection_deactivation_and_reregistration() {
        let mut e = engine(&[]);
        let (agent_id, _agent) = add_agent(&mut e, "cpus:4;mem:1024");
        let s = summary(&mut e);
        let a = the_agent(&s);
        assert_eq!(
            (&a["active"], &a["deactivated"]),
            (&json!(true), &json!(false))
        );
        assert_eq!(a["reregistered_time"], Value::Null);

        e.agent_disconnected(&agent_id, 1, Duration::ZERO);
        assert_eq!(the_agent(&summary(&mut e))["active"], json!(false));

        crate::engine::admin::deactivate_agent(&mut e, &agent_id, Duration::ZERO).unwrap();
        assert_eq!(the_agent(&summary(&mut e))["deactivated"], json!(true));

        let (tx, _rx) = mpsc::channel(16);
        let register = internal::Register {
            agent_info: v1::AgentInfo {
                id: Some(v1::AgentId {
                    value: agent_id.clone(),
                }),
                hostname: "moved-host".to_string(),
                resources: wire::resources_to_proto(&Resources::parse("cpus:8").unwrap(), None),
                ..Default::default()
            },
            ..Default::default()
        };
        e.agent_connected(2, register, tx, Duration::ZERO).unwrap();
        let s = summary(&mut e);
        let a = the_agent(&s);
        assert_eq!(a["active"], json!(true));
        assert_eq!(a["hostname"], json!("moved-host"));
        assert_eq!(cpus(a, "resources"), 8.0);
        assert!(a["reregistered_time"].is_f64());
    }

    #[test]
    fn agents_are_ordered_by_id_as_strings() {
        let mut e = engine(&[]);
        for _ in 0..12 {
            add_agent(&mut e, "cpus:1");
        }
        let mut s = snapshot(&e, View::Summary);
        sort_by_id(&mut s.agents);
        let ids: Vec<&str> = s.agents.iter().map(|a| a.id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids[..4], ["M-S0", "M-S1", "M-S10", "M-S11"]);
    }

    #[test]
    fn a_quiet_agent_is_not_rendered_again() {
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        add_agent(&mut e, "cpus:4;mem:1024");
        add_agent(&mut e, "cpus:4;mem:1024");
        let stale = |e: &Engine| {
            snapshot(e, View::Summary)
                .agents
                .iter()
                .filter(|a| matches!(a.rendering, AgentRendering::Stale { .. }))
                .count()
        };
        assert_eq!(stale(&e), 2, "never rendered");
        summary(&mut e);
        assert_eq!(stale(&e), 0);
        e.allocate(Duration::ZERO, false);
        assert_eq!(f.offers().len(), 2);
        assert_eq!(stale(&e), 2, "both offered");
        summary(&mut e);
        assert_eq!(stale(&e), 0);
    }
}

/// How long the summary takes with many agents, in process:
/// `cargo test --release -p mesos-master summary_at_scale -- --ignored --nocapture`.
#[cfg(test)]
mod scale {
    use std::time::{Duration, Instant};

    use mesos_common::wire;

    use super::*;
    use crate::test_support::{
        accept_launching, add_agent, command_task, engine, framework, subscribe,
    };

    fn task(n: usize, agent_id: &v1::AgentId) -> v1::TaskInfo {
        let resources = Resources::parse("cpus:1;mem:128").unwrap();
        command_task(
            &format!("t{n}"),
            agent_id,
            wire::resources_to_proto(&resources, Some("*")),
        )
    }

    #[test]
    #[ignore = "a measurement, not a check"]
    fn summary_at_scale() {
        let agents: usize = std::env::var("AGENTS").map_or(10_000, |v| v.parse().unwrap());
        let mut e = engine(&[]);
        let mut f = subscribe(&mut e, framework("f"));
        let mut queues = Vec::new();
        for _ in 0..agents {
            queues.push(add_agent(&mut e, "cpus:24;mem:4096;disk:4096;ports:[31000-32000]").1);
        }
        e.allocate(Duration::ZERO, false);
        let mut n = 0;
        for offer in f.offers() {
            let tasks = vec![task(n, &offer.agent_id), task(n + 1, &offer.agent_id)];
            n += 2;
            let accept = accept_launching(&offer, tasks, Some(5.0));
            e.accept(&f.id, accept, Duration::ZERO);
        }
        for round in 0..8 {
            if round >= 6 {
                // Every filter expired: every agent is offered again, so none is current.
                e.allocate(Duration::from_secs(10 * round), false);
            }
            let view = if round % 2 == 0 {
                View::Summary
            } else {
                View::Slaves
            };
            let started = Instant::now();
            let s = snapshot(&e, view);
            let taken = started.elapsed();
            let bytes = s.write(None);
            let written = started.elapsed() - taken;
            eprintln!(
                "{view:?}: {agents} agents, {n} tasks, {} bytes: snapshot {:.1} ms, \
                 write {:.1} ms",
                bytes.len(),
                taken.as_secs_f64() * 1e3,
                written.as_secs_f64() * 1e3
            );
        }
    }
}
