//! Marathon's JSON shapes for apps, tasks and failures, with exactly the keys Marathon
//! emits (strict client models break on any other key).

use serde_json::{json, Map, Value};

use crate::app::AppDefinition;
use crate::instance::{Condition, Instance};
use crate::tracker::TaskFailure;

/// `2026-01-02T03:04:05.123Z` from milliseconds since the epoch.
pub fn iso(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
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
    let Value::Object(mut m) = serde_json::to_value(app).expect("apps serialize") else {
        unreachable!("an app is an object")
    };
    for optional in [
        "args",
        "user",
        "acceptedResourceRoles",
        "taskKillGracePeriodSeconds",
    ] {
        if m.get(optional) == Some(&Value::Null) {
            m.remove(optional);
        }
    }
    m
}

/// An app with its counts, deployments, tasks and last failure as `embed` asks.
pub fn app_json(
    app: &AppDefinition,
    instances: &[&Instance],
    deployments: &[String],
    last_failure: Option<&TaskFailure>,
    embed: Embed,
) -> Value {
    let mut m = app_definition_json(app);
    let c = Counts::of(instances.iter().copied());
    // dcos and marathon-lb read the counts and deployments even without `embed`.
    m.insert("tasksStaged".into(), c.staged.into());
    m.insert("tasksRunning".into(), c.running.into());
    m.insert("tasksHealthy".into(), c.healthy.into());
    m.insert("tasksUnhealthy".into(), c.unhealthy.into());
    m.insert(
        "deployments".into(),
        deployments.iter().map(|id| json!({ "id": id })).collect(),
    );
    if embed.tasks {
        m.insert(
            "tasks".into(),
            instances
                .iter()
                .filter(|i| !i.condition.is_terminal())
                .map(|i| task_json(i))
                .collect(),
        );
    }
    if embed.last_task_failure {
        if let Some(f) = last_failure {
            m.insert("lastTaskFailure".into(), failure_json(f));
        }
    }
    Value::Object(m)
}

/// A task as `/v2/tasks` and `/v2/apps/{id}/tasks` show it.
pub fn task_json(i: &Instance) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), i.task_id.clone().into());
    m.insert("appId".into(), i.app_id.to_string().into());
    m.insert("host".into(), i.hostname.clone().into());
    m.insert("slaveId".into(), i.agent_id.clone().into());
    m.insert("state".into(), i.condition.mesos_state().into());
    m.insert("stagedAt".into(), iso(i.staged_at).into());
    if let Some(s) = i.started_at {
        m.insert("startedAt".into(), iso(s).into());
    }
    m.insert("version".into(), i.version.clone().into());
    m.insert("ports".into(), i.host_ports.clone().into());
    m.insert("servicePorts".into(), i.service_ports.clone().into());
    m.insert(
        "ipAddresses".into(),
        i.ip_addresses
            .iter()
            .map(|ip| {
                let protocol = if ip.contains(':') { "IPv6" } else { "IPv4" };
                json!({"ipAddress": ip, "protocol": protocol})
            })
            .collect(),
    );
    m.insert("healthCheckResults".into(), json!([]));
    m.insert("localVolumes".into(), json!([]));
    Value::Object(m)
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
        let v = app_json(&app, &[], &["d1".into()], None, Embed::default());
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
