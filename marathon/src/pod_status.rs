//! `/v2/pods/{id}::status` and `/v2/pods/::status`: Marathon's `PodStatus` made of a pod
//! and the tracker's instances of it.
//!
//! An instance is `STAGING` until every container runs, `STABLE` when they run and the
//! checked ones are healthy, `DEGRADED` while running otherwise, `TERMINAL` once it is
//! being killed or has ended. The pod is `STABLE` when as many instances as it asks for
//! are stable, `DEGRADED` otherwise.

use serde_json::{json, Value};

use crate::instance::{Condition, Instance};
use crate::pod::PodDefinition;
use crate::views::iso;

/// The status word of one instance.
pub fn instance_state(pod: &PodDefinition, i: &Instance) -> &'static str {
    let checked = pod.containers.iter().any(|c| c.health_check.is_some());
    if i.kill_requested_at.is_some()
        || i.condition.is_terminal()
        || i.condition == Condition::Killing
    {
        return "TERMINAL";
    }
    match i.condition {
        Condition::Provisioned | Condition::Staging | Condition::Starting => "STAGING",
        Condition::Running if !checked || i.healthy == Some(true) => "STABLE",
        _ => "DEGRADED",
    }
}

/// The `PodStatus` of `pod` with `instances` (its instances in the tracker).
pub fn pod_status(pod: &PodDefinition, instances: &[&Instance], now_ms: u64) -> Value {
    let stable = instances
        .iter()
        .filter(|i| instance_state(pod, i) == "STABLE")
        .count() as i64;
    let status = if stable >= pod.scaling.instances {
        "STABLE"
    } else {
        "DEGRADED"
    };
    let since = instances
        .iter()
        .map(|i| last_change(i))
        .max()
        .map(iso)
        .unwrap_or_else(|| pod.version.clone());
    let now = iso(now_ms);
    json!({
        "id": pod.id.to_string(),
        "spec": pod,
        "status": status,
        "statusSince": since,
        "instances": instances.iter().map(|i| instance_status(pod, i, &now)).collect::<Vec<_>>(),
        "terminationHistory": [],
        "lastUpdated": now,
        "lastChanged": since,
    })
}

fn last_change(i: &Instance) -> u64 {
    i.pod_tasks
        .values()
        .map(|t| t.since)
        .max()
        .unwrap_or(i.staged_at)
        .max(i.started_at.unwrap_or(0))
}

fn instance_status(pod: &PodDefinition, i: &Instance, now: &str) -> Value {
    let since = iso(last_change(i));
    // Host ports were placed in the order of the pod's host-port endpoints.
    let ports: Vec<(&str, &str, u32)> = pod
        .host_port_endpoints()
        .into_iter()
        .zip(&i.host_ports)
        .map(|((c, e), &p)| (c.name.as_str(), e.name.as_str(), p))
        .collect();
    let containers: Vec<Value> = pod
        .containers
        .iter()
        .filter_map(|c| {
            let (task_id, task) = i.pod_tasks.iter().find(|(_, t)| t.container == c.name)?;
            let endpoints: Vec<Value> = c
                .endpoints
                .iter()
                .map(|e| {
                    let mut v = json!({ "name": e.name });
                    if let Some((.., port)) = ports
                        .iter()
                        .find(|(cn, en, _)| *cn == c.name && *en == e.name)
                    {
                        v["allocatedHostPort"] = json!(port);
                    }
                    if let (Some(_), Some(h)) = (&c.health_check, task.healthy) {
                        v["healthy"] = json!(h);
                    }
                    v
                })
                .collect();
            let mut status = json!({
                "name": c.name,
                "status": task.condition.mesos_state(),
                "statusSince": iso(task.since),
                "containerId": task_id,
                "conditions": [],
                "endpoints": endpoints,
                "resources": resources(c.resources.cpus, c.resources.mem, c.resources.disk, c.resources.gpus),
                "lastUpdated": now,
                "lastChanged": iso(task.since),
            });
            if let Some(m) = task.message.as_ref().filter(|m| !m.is_empty()) {
                status["message"] = json!(m);
            }
            Some(status)
        })
        .collect();
    let total = |f: fn(&crate::pod::ContainerResources) -> f64| -> f64 {
        pod.containers.iter().map(|c| f(&c.resources)).sum()
    };
    let e = &pod.executor_resources;
    let networks: Vec<Value> = if i.ip_addresses.is_empty() {
        vec![]
    } else {
        vec![json!({ "addresses": i.ip_addresses })]
    };
    let mut status = json!({
        "id": i.task_id,
        "status": instance_state(pod, i),
        "statusSince": since,
        "conditions": [],
        "agentHostname": i.hostname,
        "agentId": i.agent_id,
        "resources": resources(
            total(|r| r.cpus) + e.cpus,
            total(|r| r.mem) + e.mem,
            total(|r| r.disk) + e.disk,
            pod.containers.iter().map(|c| c.resources.gpus).sum(),
        ),
        "networks": networks,
        "containers": containers,
        "specReference": format!("/v2/pods{}::versions/{}", pod.id, i.version),
        "lastUpdated": now,
        "lastChanged": since,
    });
    if let Some(m) = i.message.as_ref().filter(|m| !m.is_empty()) {
        status["message"] = json!(m);
    }
    status
}

fn resources(cpus: f64, mem: f64, disk: f64, gpus: u32) -> Value {
    json!({ "cpus": cpus, "mem": mem, "disk": disk, "gpus": gpus })
}
