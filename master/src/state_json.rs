//! The master's JSON views (`/master/state` and friends) in Mesos's shapes. Tools such as
//! `mesos ps`, dashboards and DNS bridges read these keys, so names follow Mesos exactly,
//! including the old `slave` spellings.

use mesos_common::resources::Resources;
use mesos_common::wire;
use mesos_proto::json::to_json_value;
use mesos_proto::v1;
use serde_json::{json, Map, Value};

use crate::engine::{wall_clock_secs, Engine, Framework};
use crate::server::VERSION;

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

fn resources_json(r: &Resources) -> Value {
    wire::resources_state_json(r)
}

fn attributes_json(attrs: &[v1::Attribute]) -> Value {
    let mut m = Map::new();
    for a in attrs {
        let v = match a.r#type() {
            v1::value::Type::Scalar => json!(a.scalar.as_ref().map(|s| s.value).unwrap_or(0.0)),
            v1::value::Type::Ranges => Value::String(wire::ranges_text(
                a.ranges.as_ref().map(|r| r.range.as_slice()).unwrap_or(&[]),
            )),
            v1::value::Type::Set => Value::String(format!(
                "{{{}}}",
                a.set.as_ref().map(|s| s.item.join(",")).unwrap_or_default()
            )),
            v1::value::Type::Text => {
                Value::String(a.text.as_ref().map(|t| t.value.clone()).unwrap_or_default())
            }
        };
        m.insert(a.name.clone(), v);
    }
    Value::Object(m)
}

fn status_json(s: &v1::TaskStatus) -> Value {
    let mut o = Map::new();
    o.insert("state".into(), json!(s.state().as_str_name()));
    o.insert("timestamp".into(), json!(s.timestamp.unwrap_or(0.0)));
    if let Some(h) = s.healthy {
        o.insert("healthy".into(), json!(h));
    }
    if let Some(l) = &s.labels {
        o.insert("labels".into(), labels_json(l));
    }
    if let Some(c) = &s.container_status {
        o.insert("container_status".into(), to_json_value(c));
    }
    Value::Object(o)
}

fn labels_json(l: &v1::Labels) -> Value {
    Value::Array(
        l.labels
            .iter()
            .map(|l| json!({"key": l.key, "value": l.value.clone().unwrap_or_default()}))
            .collect(),
    )
}

pub(crate) fn task_json(task: &v1::Task, resources: Option<&Resources>) -> Value {
    let resources = resources
        .cloned()
        .or_else(|| wire::resources_from_proto(&task.resources).ok())
        .unwrap_or_default();
    let mut o = Map::new();
    o.insert("id".into(), json!(task.task_id.value));
    o.insert("name".into(), json!(task.name));
    o.insert("framework_id".into(), json!(task.framework_id.value));
    o.insert(
        "executor_id".into(),
        json!(task
            .executor_id
            .as_ref()
            .map(|e| e.value.clone())
            .unwrap_or_default()),
    );
    o.insert("slave_id".into(), json!(task.agent_id.value));
    o.insert("state".into(), json!(task.state().as_str_name()));
    o.insert("resources".into(), resources_json(&resources));
    if let Some(role) = task
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()))
    {
        o.insert("role".into(), json!(role));
    }
    o.insert(
        "statuses".into(),
        Value::Array(task.statuses.iter().map(status_json).collect()),
    );
    if let Some(user) = &task.user {
        o.insert("user".into(), json!(user));
    }
    if let Some(l) = &task.labels {
        o.insert("labels".into(), labels_json(l));
    }
    if let Some(d) = &task.discovery {
        o.insert("discovery".into(), to_json_value(d));
    }
    if let Some(c) = &task.container {
        o.insert("container".into(), to_json_value(c));
    }
    if let Some(h) = &task.health_check {
        o.insert("health_check".into(), to_json_value(h));
    }
    if let Some(k) = &task.kill_policy {
        o.insert("kill_policy".into(), to_json_value(k));
    }
    Value::Object(o)
}

fn capability_names(info: &v1::FrameworkInfo) -> Vec<String> {
    info.capabilities
        .iter()
        .map(|c| c.r#type().as_str_name().to_string())
        .collect()
}

fn framework_json(e: &Engine, f: &Framework, summary: bool) -> Value {
    let (used, offered) = e.framework_usage(f);
    let mut o = Map::new();
    o.insert("id".into(), json!(f.id));
    o.insert("name".into(), json!(f.info.name));
    o.insert("user".into(), json!(f.info.user));
    o.insert(
        "hostname".into(),
        json!(f.info.hostname.clone().unwrap_or_default()),
    );
    o.insert(
        "webui_url".into(),
        json!(f.info.webui_url.clone().unwrap_or_default()),
    );
    o.insert("active".into(), json!(f.active));
    o.insert("connected".into(), json!(Engine::framework_connected(f)));
    o.insert("recovered".into(), json!(f.recovered));
    o.insert(
        "failover_timeout".into(),
        json!(f.info.failover_timeout.unwrap_or(0.0)),
    );
    o.insert(
        "checkpoint".into(),
        json!(f.info.checkpoint.unwrap_or(false)),
    );
    o.insert("role".into(), json!(f.info.role()));
    o.insert(
        "roles".into(),
        json!(crate::engine::framework_roles(&f.info)),
    );
    if let Some(p) = &f.info.principal {
        o.insert("principal".into(), json!(p));
    }
    o.insert("capabilities".into(), json!(capability_names(&f.info)));
    o.insert("registered_time".into(), json!(f.registered_time));
    if let Some(t) = f.reregistered_time {
        o.insert("reregistered_time".into(), json!(t));
    }
    o.insert(
        "unregistered_time".into(),
        json!(f.unregistered_time.unwrap_or(0.0)),
    );
    o.insert("resources".into(), resources_json(&used.plus(&offered)));
    o.insert("used_resources".into(), resources_json(&used));
    o.insert("offered_resources".into(), resources_json(&offered));
    if summary {
        let active_tasks = e.framework_tasks(f).len();
        o.insert("TASK_RUNNING".into(), json!(active_tasks));
        return Value::Object(o);
    }
    let tasks: Vec<Value> = e
        .framework_tasks(f)
        .into_iter()
        .map(|t| task_json(t, Engine::task_resources(f, &t.task_id.value)))
        .collect();
    let unreachable: Vec<Value> = f
        .completed_tasks
        .iter()
        .filter(|t| t.state() == v1::TaskState::TaskUnreachable)
        .map(|t| task_json(t, None))
        .collect();
    let completed: Vec<Value> = f
        .completed_tasks
        .iter()
        .filter(|t| t.state() != v1::TaskState::TaskUnreachable)
        .map(|t| task_json(t, None))
        .collect();
    let offers: Vec<Value> = e
        .framework_offers(f)
        .into_iter()
        .map(|offer| {
            let r = wire::resources_from_proto(&offer.resources).unwrap_or_default();
            json!({
                "id": offer.id.value,
                "framework_id": offer.framework_id.value,
                "slave_id": offer.agent_id.value,
                "resources": resources_json(&r),
            })
        })
        .collect();
    o.insert("tasks".into(), Value::Array(tasks));
    o.insert("unreachable_tasks".into(), Value::Array(unreachable));
    o.insert("completed_tasks".into(), Value::Array(completed));
    o.insert("offers".into(), Value::Array(offers));
    o.insert("executors".into(), json!([]));
    Value::Object(o)
}

fn slave_json(e: &Engine, a: &crate::engine::Agent) -> Value {
    let (used, offered) = e.agent_usage(a);
    let host = a
        .http_address
        .rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_else(|| a.info.hostname.clone());
    let port = a.info.port.unwrap_or(5051);
    json!({
        "id": a.id,
        "pid": format!("slave(1)@{}:{}", host, port),
        "hostname": a.info.hostname,
        "port": port,
        "registered_time": a.registered_time,
        "reregistered_time": a.reregistered_time,
        "resources": resources_json(&a.total),
        "used_resources": resources_json(&used),
        "offered_resources": resources_json(&offered),
        "reserved_resources": wire::reserved_state_json(&a.total),
        "unreserved_resources": resources_json(&a.total.unreserved()),
        "attributes": attributes_json(&a.info.attributes),
        "active": Engine::agent_connected_now(a),
        "deactivated": crate::operator::admin::agent_status(e, &a.id).0,
        "version": a.version,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
    })
}

pub(crate) fn state(e: &Engine) -> Value {
    let info = &e.info;
    let address = info.address.clone().unwrap_or_default();
    let mut frameworks: Vec<&Framework> = e.frameworks.values().collect();
    frameworks.sort_by(|a, b| a.id.cmp(&b.id));
    let mut agents: Vec<_> = e.agents.values().collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    let activated = agents
        .iter()
        .filter(|a| Engine::agent_connected_now(a))
        .count();
    json!({
        "version": VERSION,
        "git_sha": option_env!("MESOS_RS_GIT_SHA").unwrap_or(""),
        "build_date": env!("CARGO_PKG_VERSION"),
        "build_time": 0.0,
        "build_user": "mesos-rs",
        "start_time": e.start_time,
        "elected_time": e.elected_time,
        "id": e.id,
        "pid": info.pid.clone().unwrap_or_default(),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "activated_slaves": activated,
        "deactivated_slaves": agents.len() - activated,
        "unreachable_slaves": e.unreachable_agents.len(),
        "leader": info.pid.clone().unwrap_or_default(),
        "leader_info": to_json_value(info),
        "cluster": e.config.cluster.clone().unwrap_or_default(),
        "log_dir": e.config.log_dir.clone().unwrap_or_default(),
        "flags": e.config.flag_map(),
        "slaves": agents.iter().map(|a| slave_json(e, a)).collect::<Vec<_>>(),
        "recovered_slaves": [],
        "frameworks": frameworks.iter().map(|f| framework_json(e, f, false)).collect::<Vec<_>>(),
        "completed_frameworks": e.completed_frameworks.iter().map(|f| framework_json(e, f, false)).collect::<Vec<_>>(),
        "orphan_tasks": [],
        "unregistered_frameworks": [],
        "address": address.ip.unwrap_or_default(),
    })
}

pub(crate) fn state_summary(e: &Engine) -> Value {
    let info = &e.info;
    let mut agents: Vec<_> = e.agents.values().collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    let mut frameworks: Vec<&Framework> = e.frameworks.values().collect();
    frameworks.sort_by(|a, b| a.id.cmp(&b.id));
    json!({
        "hostname": info.hostname.clone().unwrap_or_default(),
        "cluster": e.config.cluster.clone().unwrap_or_default(),
        "slaves": agents.iter().map(|a| slave_json(e, a)).collect::<Vec<_>>(),
        "frameworks": frameworks.iter().map(|f| framework_json(e, f, true)).collect::<Vec<_>>(),
    })
}

pub(crate) fn frameworks(e: &Engine) -> Value {
    let mut frameworks: Vec<&Framework> = e.frameworks.values().collect();
    frameworks.sort_by(|a, b| a.id.cmp(&b.id));
    json!({
        "frameworks": frameworks.iter().map(|f| framework_json(e, f, false)).collect::<Vec<_>>(),
        "completed_frameworks": e.completed_frameworks.iter().map(|f| framework_json(e, f, false)).collect::<Vec<_>>(),
        "unregistered_frameworks": [],
    })
}

pub(crate) fn slaves(e: &Engine) -> Value {
    let mut agents: Vec<_> = e.agents.values().collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    json!({
        "slaves": agents.iter().map(|a| slave_json(e, a)).collect::<Vec<_>>(),
        "recovered_slaves": [],
    })
}

pub(crate) fn tasks(e: &Engine, limit: usize, offset: usize, descending: bool) -> Value {
    let mut all: Vec<(f64, Value)> = Vec::new();
    for f in e.frameworks.values() {
        for t in e.framework_tasks(f) {
            let ts = t.statuses.first().and_then(|s| s.timestamp).unwrap_or(0.0);
            all.push((
                ts,
                task_json(t, Engine::task_resources(f, &t.task_id.value)),
            ));
        }
        for t in &f.completed_tasks {
            let ts = t.statuses.first().and_then(|s| s.timestamp).unwrap_or(0.0);
            all.push((ts, task_json(t, None)));
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    if descending {
        all.reverse();
    }
    let page: Vec<Value> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    json!({ "tasks": page })
}

pub(crate) fn roles(e: &Engine) -> Value {
    let mut roles: std::collections::BTreeMap<String, (Vec<String>, Resources)> =
        std::collections::BTreeMap::new();
    roles.entry("*".to_string()).or_default();
    for f in e.frameworks.values() {
        let (used, offered) = e.framework_usage(f);
        for role in crate::engine::framework_roles(&f.info) {
            let entry = roles.entry(role).or_default();
            entry.0.push(f.id.clone());
            entry.1 = entry.1.plus(&used).plus(&offered);
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
        total = total.plus(&a.total);
        let (u, _) = e.agent_usage(a);
        used = used.plus(&u);
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
