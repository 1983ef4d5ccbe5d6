//! Marathon's JSON shapes for apps, tasks and failures, with exactly the keys Marathon
//! emits (strict client models break on any other key).

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::app::AppDefinition;
use crate::health::{Health, HealthMonitor};
use crate::instance::{instance_id_of, Condition, Instance};
use crate::tracker::TaskFailure;

/// `2026-01-02T03:04:05.123Z` from milliseconds since the epoch.
pub fn iso(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What `embed` asked to add to each app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Embed {
    pub tasks: bool,
    pub counts: bool,
    pub deployments: bool,
    pub last_task_failure: bool,
}

impl Embed {
    /// Reads repeated `embed` values; `app.`, `apps.` and `group.apps.` prefixes mean the
    /// same, unknown values are ignored. `tasks` also embeds deployments.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Embed {
        let mut e = Embed::default();
        for v in values {
            let v = v
                .trim_start_matches("group.")
                .trim_start_matches("apps.")
                .trim_start_matches("app.");
            match v {
                "tasks" => {
                    e.tasks = true;
                    e.deployments = true;
                }
                "counts" => e.counts = true,
                "deployments" => e.deployments = true,
                "lastTaskFailure" => e.last_task_failure = true,
                _ => {}
            }
        }
        e
    }

    /// What `GET /v2/apps/{id}` always embeds.
    pub fn all() -> Embed {
        Embed {
            tasks: true,
            counts: true,
            deployments: true,
            last_task_failure: true,
        }
    }
}

/// Instance counts of an app, as `tasksStaged` etc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub staged: usize,
    pub running: usize,
    pub healthy: usize,
    pub unhealthy: usize,
}

impl Counts {
    pub fn of<'a>(instances: impl IntoIterator<Item = &'a Instance>) -> Counts {
        let mut c = Counts::default();
        for i in instances {
            if i.condition.is_terminal() {
                continue;
            }
            if i.condition.is_staged() {
                c.staged += 1;
            }
            if i.condition == Condition::Running {
                c.running += 1;
                match i.healthy {
                    Some(true) => c.healthy += 1,
                    Some(false) => c.unhealthy += 1,
                    None => {}
                }
            }
        }
        c
    }
}

/// The app definition alone (as in `/versions/{v}` and queue items).
pub fn app_definition_json(app: &AppDefinition) -> Map<String, Value> {
    let Value::Object(m) = serde_json::to_value(app).expect("apps serialize") else {
        unreachable!("an app is an object")
    };
    m
}

/// An app with its counts, deployments, tasks and last failure, as `embed` asks. It
/// serializes straight to JSON text (no `Value` tree): `/v2/apps?embed=apps.tasks` of
/// 10,000 tasks is one pass over borrowed data.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView<'a> {
    #[serde(flatten)]
    app: &'a AppDefinition,
    tasks_staged: usize,
    tasks_running: usize,
    tasks_healthy: usize,
    tasks_unhealthy: usize,
    deployments: Vec<DeploymentRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<Vec<TaskView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_task_failure: Option<Value>,
}

#[derive(Serialize)]
struct DeploymentRef<'a> {
    id: &'a str,
}

pub fn app_view<'a>(
    app: &'a AppDefinition,
    instances: &[&'a Instance],
    deployments: &'a [String],
    last_failure: Option<&TaskFailure>,
    embed: Embed,
    health: &'a HealthMonitor,
) -> AppView<'a> {
    // dcos and marathon-lb read the counts and deployments even without `embed`.
    let c = Counts::of(instances.iter().copied());
    AppView {
        app,
        tasks_staged: c.staged,
        tasks_running: c.running,
        tasks_healthy: c.healthy,
        tasks_unhealthy: c.unhealthy,
        deployments: deployments.iter().map(|id| DeploymentRef { id }).collect(),
        tasks: embed.tasks.then(|| {
            instances
                .iter()
                .filter(|i| !i.condition.is_terminal())
                .map(|i| task_view(i, health))
                .collect()
        }),
        last_task_failure: last_failure
            .filter(|_| embed.last_task_failure)
            .map(failure_json),
    }
}

/// [`app_view`] as a JSON value.
pub fn app_json(
    app: &AppDefinition,
    instances: &[&Instance],
    deployments: &[String],
    last_failure: Option<&TaskFailure>,
    embed: Embed,
    health: &HealthMonitor,
) -> Value {
    serde_json::to_value(app_view(
        app,
        instances,
        deployments,
        last_failure,
        embed,
        health,
    ))
    .expect("apps serialize")
}

/// `GET /v2/apps`: `{"apps": [...]}`.
#[derive(Serialize)]
pub struct AppsView<'a> {
    pub apps: Vec<AppView<'a>>,
}

/// A task as `/v2/tasks` and `/v2/apps/{id}/tasks` show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView<'a> {
    id: &'a str,
    app_id: String,
    host: &'a str,
    slave_id: &'a str,
    state: &'static str,
    staged_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    version: &'a str,
    ports: &'a [u32],
    service_ports: &'a [u32],
    ip_addresses: Vec<IpAddressView<'a>>,
    health_check_results: Vec<HealthView<'a>>,
    local_volumes: [(); 0],
}

/// One entry of a task's `healthCheckResults` (Marathon writes unset times as null).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthView<'a> {
    alive: bool,
    consecutive_failures: u32,
    first_success: Option<String>,
    last_failure: Option<String>,
    last_success: Option<String>,
    last_failure_cause: Option<&'a str>,
    instance_id: &'a str,
}

fn health_view<'a>(task_id: &'a str, h: &'a Health) -> HealthView<'a> {
    HealthView {
        alive: h.alive(),
        consecutive_failures: h.consecutive_failures,
        first_success: h.first_success.map(iso),
        last_failure: h.last_failure.map(iso),
        last_success: h.last_success.map(iso),
        last_failure_cause: h.last_failure_cause.as_deref(),
        instance_id: instance_id_of(task_id),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpAddressView<'a> {
    ip_address: &'a str,
    protocol: &'static str,
}

pub fn task_view<'a>(i: &'a Instance, health: &'a HealthMonitor) -> TaskView<'a> {
    TaskView {
        id: &i.task_id,
        app_id: i.app_id.to_string(),
        host: &i.hostname,
        slave_id: &i.agent_id,
        state: i.condition.mesos_state(),
        staged_at: iso(i.staged_at),
        started_at: i.started_at.map(iso),
        version: &i.version,
        ports: &i.host_ports,
        service_ports: &i.service_ports,
        ip_addresses: i
            .ip_addresses
            .iter()
            .map(|ip| IpAddressView {
                ip_address: ip,
                protocol: if ip.contains(':') { "IPv6" } else { "IPv4" },
            })
            .collect(),
        health_check_results: health
            .results(&i.task_id)
            .map(|h| health_view(&i.task_id, h))
            .collect(),
        local_volumes: [],
    }
}

/// [`task_view`] as a JSON value.
pub fn task_json(i: &Instance, health: &HealthMonitor) -> Value {
    serde_json::to_value(task_view(i, health)).expect("tasks serialize")
}

pub fn failure_json(f: &TaskFailure) -> Value {
    json!({
        "appId": f.app_id.to_string(),
        "host": f.host,
        "message": f.message,
        "state": f.state,
        "taskId": f.task_id,
        "instanceId": crate::instance::instance_id_of(&f.task_id),
        "slaveId": f.agent_id,
        "timestamp": iso(f.timestamp_ms),
        "version": f.version,
    })
}

/// The text/plain task list of Marathon <= 1.9: per service port one line
/// `safeId<TAB>servicePort<TAB>host:hostPort...`, or `safeId<TAB> <TAB>host...` without
/// ports.
pub fn tasks_text<'a>(
    apps: impl IntoIterator<Item = (&'a AppDefinition, Vec<&'a Instance>)>,
) -> String {
    let mut out = String::new();
    for (app, instances) in apps {
        let running: Vec<&&Instance> = instances
            .iter()
            .filter(|i| !i.condition.is_terminal())
            .collect();
        let service_ports = app.service_ports();
        if service_ports.is_empty() {
            out.push_str(&app.id.safe_id());
            out.push_str("\t \t");
            for i in &running {
                out.push_str(&i.hostname);
                out.push('\t');
            }
            out.push('\n');
        }
        for (n, sp) in service_ports.iter().enumerate() {
            out.push_str(&format!("{}\t{}\t", app.id.safe_id(), sp));
            for i in &running {
                if let Some(p) = i.host_ports.get(n) {
                    out.push_str(&format!("{}:{}\t", i.hostname, p));
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::PathId;

    #[test]
    fn timestamps_have_milliseconds_and_a_zulu_suffix() {
        assert_eq!(iso(1_767_323_045_123), "2026-01-02T03:04:05.123Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn embed_prefixes_mean_the_same() {
        let e = Embed::parse(["apps.tasks", "group.apps.counts", "bogus"]);
        assert!(e.tasks && e.deployments && e.counts && !e.last_task_failure);
        assert!(Embed::parse(["app.lastTaskFailure"]).last_task_failure);
    }

    #[test]
    fn app_json_has_marathons_keys_and_drops_unset_optionals() {
        let mut app = AppDefinition::with_defaults(PathId::parse("/web"));
        app.cmd = Some("sleep 1".into());
        let v = app_json(
            &app,
            &[],
            &["d1".into()],
            None,
            Embed::default(),
            &HealthMonitor::new(),
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "id",
            "cmd",
            "container",
            "healthChecks",
            "deployments",
            "tasksRunning",
            "tasksHealthy",
            "instances",
            "cpus",
            "mem",
            "portDefinitions",
            "networks",
            "upgradeStrategy",
            "versionInfo",
        ] {
            assert!(keys.contains(&k), "{k} missing");
        }
        for k in ["args", "user", "tasks", "lastTaskFailure"] {
            assert!(!keys.contains(&k), "{k} present");
        }
        assert_eq!(v["container"], Value::Null);
        assert_eq!(v["deployments"], json!([{"id": "d1"}]));
    }
}

#[cfg(test)]
mod scale {
    use super::*;
    use crate::app::PathId;
    use crate::instance::{new_task_id, Condition, Instance};

    /// `cargo test --release -p marathon --lib views::scale -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn app_json_with_ten_thousand_tasks() {
        let mut app = AppDefinition::with_defaults(PathId::parse("/big"));
        app.cmd = Some("sleep 1".into());
        let instances: Vec<Instance> = (0..10_000u128)
            .map(|n| Instance {
                version: "2026-12-02T05:00:00.000Z".into(),
                config_version: "2026-12-02T05:00:00.000Z".into(),
                service_ports: vec![10000],
                condition: Condition::Running,
                started_at: Some(1_767_323_046_123),
                ip_addresses: vec!["10.0.0.1".into()],
                ..Instance::provisioned(
                    &app,
                    new_task_id(&app.id, uuid::Uuid::from_u128(n)),
                    "agent-S1",
                    "host-1",
                    vec![31000],
                    1_767_323_045_123,
                )
            })
            .collect();
        let refs: Vec<&Instance> = instances.iter().collect();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let health = HealthMonitor::new();
            let v = app_view(
                &app,
                &refs,
                &[],
                None,
                Embed::parse(["apps.tasks"]),
                &health,
            );
            let built = t.elapsed();
            let text = serde_json::to_vec(&AppsView { apps: vec![v] }).unwrap();
            eprintln!(
                "10,000 tasks: built in {built:?}, serialized in {:?} ({} bytes)",
                t.elapsed() - built,
                text.len()
            );
        }
    }
}
