//! `/v2/deployments`: the running plans in Marathon's shape, and DELETE (rollback, or with
//! `force=true` only a cancel).
//!
//! Why a step waits (beyond Marathon): `?embed=waitingFor` adds `waitingFor`, a list of
//! plain sentences, to each current action (and `/v2/queue?embed=waitingFor` to each
//! queue item). It is opt-in because clients such as marathon-python refuse any key they
//! do not know in these objects.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{json_response, leader_header, query_bool, query_pairs, query_values, HttpState};
use super::{method_not_allowed, LeaderCall};
use crate::app::PathId;
use crate::deployment::plan::{Action, ActionKind};
use crate::deployment::rolling;
use crate::instance::Condition;
use crate::service::{Command, Deployment, Service};
use crate::tracker::Hold;

/// An action as Marathon shows it: `{"action": "ScaleApplication", "app": "/id"}`, or for
/// a pod `{"action": "ScalePod", "pod": "/id"}`.
fn action_json(a: &Action, pod: bool) -> Value {
    match pod {
        false => json!({"action": a.kind.name(), "app": a.app.to_string()}),
        true => {
            let name = a.kind.name().replace("Application", "Pod");
            json!({"action": name, "pod": a.app.to_string()})
        }
    }
}

/// Whether the deployment's run spec `id` is (or was, for one it removes) a pod.
fn is_pod(s: &Service, d: &Deployment, id: &PathId) -> bool {
    match s.tracker().app(id) {
        Some(app) => app.is_pod(),
        None => d
            .original
            .iter()
            .any(|(i, before)| i == id && before.as_ref().is_some_and(|b| b.is_pod())),
    }
}

/// One deployment as `GET /v2/deployments` shows it (Marathon's `DeploymentStepInfo`).
pub fn deployment_json(s: &Service, d: &Deployment, waiting_for: bool, now: u64) -> Value {
    let steps: Vec<Value> = d
        .steps
        .iter()
        .map(|step| {
            let actions: Vec<Value> = step
                .iter()
                .map(|a| action_json(a, is_pod(s, d, &a.app)))
                .collect();
            json!({ "actions": actions })
        })
        .collect();
    let current: Vec<Value> = d
        .current()
        .into_iter()
        .flatten()
        .map(|a| {
            let mut v = action_json(a, is_pod(s, d, &a.app));
            v["readinessCheckResults"] = s
                .readiness_results(&a.app)
                .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
                .collect();
            if waiting_for {
                v["waitingFor"] = action_waits(s, a, now).into();
            }
            v
        })
        .collect();
    json!({
        "id": d.id,
        "version": d.version,
        "affectedApps": d.affected_apps().filter(|a| !is_pod(s, d, a)).map(|a| a.to_string()).collect::<Vec<_>>(),
        "affectedPods": d.affected_apps().filter(|a| is_pod(s, d, a)).map(|a| a.to_string()).collect::<Vec<_>>(),
        "steps": steps,
        "currentActions": current,
        // 1-based, as Marathon counts.
        "currentStep": (d.current_step + 1).min(d.steps.len()),
        "totalSteps": d.steps.len(),
    })
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Why `app` has instances it cannot launch now: a hold, a backoff, or offers that do
/// not fit (with the constraint, resource or role and on how many agents). Empty when
/// it launches freely or wants nothing.
pub fn launch_waits(s: &Service, app: &PathId, now: u64) -> Vec<String> {
    let t = s.tracker();
    if t.app(app).is_none() {
        return vec![];
    }
    if t.hold(app) == Some(Hold::Frozen) {
        return vec!["waits for an earlier step of its deployment".into()];
    }
    let Some(since) = t.waiting_since(app) else {
        return vec![];
    };
    let mut out = vec![];
    match t.backoff(app) {
        Some(b) if b.until_ms > now => {
            let mut text = format!(
                "launches delayed by the backoff: {:.0} s left",
                ((b.until_ms - now) as f64 / 1000.0).ceil()
            );
            if let Some(f) = t.last_failure(app) {
                text += &format!(
                    " (the last task, {}, ended {}: {})",
                    f.task_id, f.state, f.message
                );
            }
            out.push(text);
        }
        _ => {
            let n = t.launch_demand(app, now) as usize;
            let why = match s.offer_stats(app).and_then(|st| st.waiting_reason()) {
                Some(reason) => format!("no offer fits ({reason})"),
                None => "no offer received yet".to_string(),
            };
            out.push(format!(
                "{} to launch, waiting for offers since {}: {why}",
                plural(n, "instance"),
                crate::views::iso(since)
            ));
        }
    }
    out
}

/// Why a current action of a deployment has not finished, in plain words.
pub fn action_waits(s: &Service, action: &Action, now: u64) -> Vec<String> {
    let status = s.action_status(action);
    if status.done {
        return vec![];
    }
    let t = s.tracker();
    let mut out = vec![];
    if action.kind == ActionKind::StopApplication || t.app(&action.app).is_none() {
        out.push(format!(
            "{} of the removed app still to end",
            plural(status.old, "instance")
        ));
        return out;
    }
    out.extend(launch_waits(s, &action.app, now));
    let app = t.app(&action.app).expect("checked above");
    if status.current > status.ready {
        out.push(format!(
            "{} of {} new instances healthy and ready",
            status.ready, status.wanted
        ));
        let config = &app.version_info.last_config_change_at;
        let checked = !app.health_checks.is_empty();
        let results: Vec<_> = s.readiness_results(&action.app).collect();
        for i in t
            .instances_of(&action.app)
            .filter(|i| i.is_active() && &i.config_version == config)
        {
            let not_ready: Vec<String> = results
                .iter()
                .filter(|r| r.task_id == i.task_id && !r.ready)
                .map(|r| match &r.last_response {
                    Some(resp) => format!("readiness check {} answered {}", r.name, resp.status),
                    None => format!("readiness check {} not passed", r.name),
                })
                .collect();
            let why = if i.condition != Condition::Running {
                format!("{} (not running yet)", i.condition.mesos_state())
            } else if checked && i.healthy != Some(true) {
                match (&i.healthy, &i.message) {
                    (Some(false), Some(m)) => format!("unhealthy: {m}"),
                    (Some(false), None) => "unhealthy".to_string(),
                    _ => "running, health not yet known".to_string(),
                }
            } else if !app.readiness_checks.is_empty() && !s.is_ready(i, app) {
                if not_ready.is_empty() {
                    "running, readiness not checked yet".to_string()
                } else {
                    not_ready.join(", ")
                }
            } else {
                continue;
            };
            out.push(format!("task {}: {why}", i.task_id));
        }
    }
    if status.old > 0 {
        let (min_healthy, max_capacity) = rolling::bounds(status.wanted, &app.upgrade_strategy);
        out.push(format!(
            "{} of the old config left, each to go once new ones are healthy and ready \
             (upgradeStrategy: at least {min_healthy} healthy, at most {max_capacity} alive)",
            plural(status.old, "instance")
        ));
    }
    if let Some(f) = t.last_failure(&action.app) {
        out.push(format!(
            "last task failure: {} {} at {}: {}",
            f.task_id,
            f.state,
            crate::views::iso(f.timestamp_ms),
            f.message
        ));
    }
    out
}

pub async fn list(State(state): State<HttpState>, call: LeaderCall) -> Response {
    let LeaderCall { service, uri, .. } = call;
    let pairs = query_pairs(uri.query());
    let waiting_for = query_values(&pairs, "embed").contains(&"waitingFor");
    let list = service
        .read(move |s| {
            let now = crate::service::now_ms();
            s.deployments()
                .map(|d| deployment_json(s, d, waiting_for, now))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
    leader_header(&state.me, json_response(StatusCode::OK, Value::Array(list)))
}

pub async fn cancel(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    call: LeaderCall,
) -> Response {
    let LeaderCall {
        service,
        method,
        uri,
        ..
    } = call;
    if method != Method::DELETE {
        return method_not_allowed();
    }
    let force = query_bool(&query_pairs(uri.query()), "force", false);
    let cancelled = service
        .ask(|reply| Command::CancelDeployment { id, force, reply })
        .await;
    let response = match cancelled {
        Some(Ok(Some(result))) => super::deployment_response(StatusCode::OK, &result),
        Some(Ok(None)) => StatusCode::ACCEPTED.into_response(),
        Some(Err(e)) => e.into_response(),
        None => super::lost_leadership(),
    };
    leader_header(&state.me, response)
}
