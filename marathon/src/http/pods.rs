//! `/v2/pods`: pods in Marathon's shapes (`PodsResource`).
//!
//! ```text
//!   /v2/pods                      GET list, POST create (201), HEAD (pods supported)
//!   /v2/pods/::status             GET every pod's status
//!   /v2/pods/{id}                 GET, PUT (create or replace, 200), DELETE (202)
//!   /v2/pods/{id}::status         GET
//!   /v2/pods/{id}::versions[/{v}] GET
//!   /v2/pods/{id}::instances[/{i}] DELETE (kill instances; they are replaced)
//! ```

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::apps::change;
use super::{
    add_deployment_header, json_response, leader_header, method_not_allowed, query_bool,
    query_pairs, read_json, HttpState, LeaderCall,
};
use crate::app::update::{from_body, AppUpdate};
use crate::app::validate::Violation;
use crate::app::PathId;
use crate::instance::Instance;
use crate::pod::PodDefinition;
use crate::pod_status::pod_status;
use crate::service::{
    now_ms, ApiOrigin, AppChange, ChangeMode, Command, ServiceError, ServiceHandle,
};

/// What a path below `/v2/pods/` names.
#[derive(Debug, PartialEq)]
enum Target {
    AllStatus,
    Pod(PathId),
    Status(PathId),
    Versions(PathId),
    Version(PathId, String),
    Instances(PathId),
    Instance(PathId, String),
}

fn parse_target(path: &str) -> Target {
    let Some((id, rest)) = path.split_once("::") else {
        return Target::Pod(PathId::parse(path));
    };
    let id = PathId::parse(id);
    if id.is_root() && rest == "status" {
        return Target::AllStatus;
    }
    match rest.split_once('/') {
        None if rest == "status" => Target::Status(id),
        None if rest == "versions" => Target::Versions(id),
        None if rest == "instances" => Target::Instances(id),
        Some(("versions", v)) => Target::Version(id, v.to_string()),
        Some(("instances", i)) => Target::Instance(id, i.to_string()),
        _ => Target::Pod(PathId::parse(path)),
    }
}

pub async fn pods_root(State(state): State<HttpState>, call: LeaderCall) -> Response {
    let LeaderCall {
        service,
        method,
        uri,
        body,
        client_ip,
        ..
    } = call;
    let pairs = query_pairs(uri.query());
    let response = match method {
        Method::HEAD => StatusCode::OK.into_response(),
        Method::GET => {
            let pods = service
                .read(|s| {
                    s.tracker()
                        .apps()
                        .filter_map(|a| a.pod.as_deref().cloned())
                        .collect::<Vec<PodDefinition>>()
                })
                .await
                .unwrap_or_default();
            json_response(StatusCode::OK, json!(pods))
        }
        Method::POST => {
            let origin = ApiOrigin {
                client_ip,
                uri: uri.path().to_string(),
            };
            let force = query_bool(&pairs, "force", false);
            upsert(&service, body, None, force, origin).await
        }
        _ => method_not_allowed(),
    };
    leader_header(&state.me, response)
}

/// Reads a pod body: 400 when not JSON, 422 with the path of a value of the wrong type or
/// a missing id.
fn read_pod(body: Result<Bytes, BytesRejection>) -> Result<PodDefinition, Response> {
    let value = read_json(body)?;
    let invalid = |path: String, message: String| {
        ServiceError::Invalid(vec![Violation {
            path,
            errors: vec![message],
        }])
        .into_response()
    };
    if value.is_object() && value.get("id").is_none() {
        return Err(invalid("/id".into(), "error.path.missing".into()));
    }
    from_body::<PodDefinition>(value).map_err(|e| invalid(e.path, e.message))
}

/// POST (`path_id` None: created, 201) or PUT (`path_id`: created or replaced, 200).
async fn upsert(
    service: &ServiceHandle,
    body: Result<Bytes, BytesRejection>,
    path_id: Option<PathId>,
    force: bool,
    origin: ApiOrigin,
) -> Response {
    let pod = match read_pod(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(id) = &path_id {
        if *id != pod.id {
            return super::message(
                StatusCode::BAD_REQUEST,
                format!("'{id}' does not match definition's id ('{}')", pod.id),
            );
        }
    }
    let id = pod.id.clone();
    let mode = match path_id {
        None => ChangeMode::Create,
        Some(_) => ChangeMode::Replace,
    };
    let update = AppUpdate {
        pod: Some(Box::new(pod)),
        ..Default::default()
    };
    let result = match change(
        service,
        vec![AppChange { id, update, mode }],
        force,
        Some(origin),
    )
    .await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(pod) = result.apps.first().and_then(|a| a.pod.as_deref()) else {
        return super::lost_leadership();
    };
    let status = match mode {
        ChangeMode::Create => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    let mut response = json_response(status, json!(pod));
    add_deployment_header(&mut response, &result.deployment_id);
    if let Ok(v) = HeaderValue::from_str(&pod.id.to_string()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

pub async fn pod_path(
    State(state): State<HttpState>,
    Path(path): Path<String>,
    call: LeaderCall,
) -> Response {
    let LeaderCall {
        service,
        method,
        uri,
        body,
        client_ip,
        ..
    } = call;
    let pairs = query_pairs(uri.query());
    let force = query_bool(&pairs, "force", false);
    let origin = ApiOrigin {
        client_ip,
        uri: uri.path().to_string(),
    };
    let response = match (parse_target(&path), method) {
        (Target::AllStatus, Method::GET) => {
            let all = service
                .read(|s| {
                    let t = s.tracker();
                    let now = now_ms();
                    t.apps()
                        .filter_map(|a| {
                            let pod = a.pod.as_deref()?;
                            let instances: Vec<&Instance> = t.instances_of(&a.id).collect();
                            Some(pod_status(pod, &instances, now))
                        })
                        .collect::<Vec<Value>>()
                })
                .await
                .unwrap_or_default();
            json_response(StatusCode::OK, json!(all))
        }
        (Target::Pod(id), Method::GET) => match find(&service, &id).await {
            Some(pod) => json_response(StatusCode::OK, json!(pod)),
            None => ServiceError::UnknownPod(id).into_response(),
        },
        (Target::Pod(id), Method::PUT) => upsert(&service, body, Some(id), force, origin).await,
        (Target::Pod(id), Method::DELETE) => {
            let deleted = change(
                &service,
                vec![AppChange {
                    id,
                    update: AppUpdate::default(),
                    mode: ChangeMode::DeletePod,
                }],
                force,
                Some(origin),
            )
            .await;
            match deleted {
                Ok(r) => {
                    let mut response = StatusCode::ACCEPTED.into_response();
                    add_deployment_header(&mut response, &r.deployment_id);
                    if let Ok(v) = HeaderValue::from_str(&r.deployment_id) {
                        response.headers_mut().insert(header::LOCATION, v);
                    }
                    response
                }
                Err(r) => r,
            }
        }
        (Target::Status(id), Method::GET) => {
            let missing = id.clone();
            let status = service
                .read(move |s| {
                    let t = s.tracker();
                    let pod = t.app(&id)?.pod.as_deref()?;
                    let instances: Vec<&Instance> = t.instances_of(&id).collect();
                    Some(pod_status(pod, &instances, now_ms()))
                })
                .await
                .flatten();
            match status {
                Some(v) => json_response(StatusCode::OK, v),
                None => ServiceError::UnknownPod(missing).into_response(),
            }
        }
        (Target::Versions(id), Method::GET) => {
            if find(&service, &id).await.is_none() {
                return ServiceError::UnknownPod(id).into_response();
            }
            match service
                .ask(|reply| Command::AppVersions { app: id, reply })
                .await
            {
                Some(Ok(mut versions)) => {
                    versions.reverse();
                    json_response(StatusCode::OK, json!(versions))
                }
                Some(Err(e)) => e.into_response(),
                None => super::lost_leadership(),
            }
        }
        (Target::Version(id, version), Method::GET) => {
            let (app, v) = (id.clone(), version.clone());
            let found = service
                .ask(|reply| Command::AppVersion {
                    app,
                    version: v,
                    reply,
                })
                .await;
            match found.and_then(Result::ok).flatten().and_then(|a| a.pod) {
                Some(pod) => json_response(StatusCode::OK, json!(pod)),
                None => super::not_found(format!("Pod '{id}' does not exist in version {version}")),
            }
        }
        (Target::Instance(id, instance), Method::DELETE) => {
            let wipe = query_bool(&pairs, "wipe", false);
            match kill(&service, &id, vec![instance.clone()], wipe).await {
                Ok(mut killed) if !killed.is_empty() => {
                    json_response(StatusCode::OK, killed.remove(0))
                }
                Ok(_) => ServiceError::UnknownTask(instance).into_response(),
                Err(r) => r,
            }
        }
        (Target::Instances(id), Method::DELETE) => {
            let wipe = query_bool(&pairs, "wipe", false);
            let ids: Vec<String> = match read_json(body).map(serde_json::from_value) {
                Ok(Ok(ids)) => ids,
                Ok(Err(e)) => {
                    return super::message(StatusCode::BAD_REQUEST, format!("Invalid JSON: {e}"))
                }
                Err(r) => return r,
            };
            match kill(&service, &id, ids, wipe).await {
                Ok(killed) => json_response(StatusCode::OK, json!(killed)),
                Err(r) => r,
            }
        }
        _ => method_not_allowed(),
    };
    leader_header(&state.me, response)
}

async fn find(service: &ServiceHandle, id: &PathId) -> Option<PodDefinition> {
    let id = id.clone();
    service
        .read(move |s| s.tracker().app(&id).and_then(|a| a.pod.as_deref().cloned()))
        .await
        .flatten()
}

/// Kills the pod's instances among `ids` (Marathon replaces them); answers each killed
/// instance as Marathon's `Instance` shows it.
async fn kill(
    service: &ServiceHandle,
    pod: &PathId,
    ids: Vec<String>,
    wipe: bool,
) -> Result<Vec<Value>, Response> {
    let pod_id = pod.clone();
    let views = service
        .read(move |s| {
            let t = s.tracker();
            if t.app(&pod_id).is_none_or(|a| !a.is_pod()) {
                return None;
            }
            Some(
                ids.iter()
                    .filter_map(|i| t.instance(i).filter(|i| i.app_id == pod_id))
                    .map(|i| (i.task_id.clone(), instance_json(i)))
                    .collect::<Vec<_>>(),
            )
        })
        .await
        .flatten();
    let Some(views) = views else {
        return Err(ServiceError::UnknownPod(pod.clone()).into_response());
    };
    let task_ids = views.iter().map(|(id, _)| id.clone()).collect();
    match service
        .ask(|reply| Command::KillTasks {
            task_ids,
            scale: false,
            wipe,
            force: false,
            reply,
        })
        .await
    {
        Some(Ok(_)) => Ok(views.into_iter().map(|(_, v)| v).collect()),
        Some(Err(e)) => Err(e.into_response()),
        None => Err(super::lost_leadership()),
    }
}

/// An instance as Marathon's `Instance` RAML type shows it (the answer of a kill).
fn instance_json(i: &Instance) -> Value {
    let tasks: serde_json::Map<String, Value> = i
        .pod_tasks
        .iter()
        .map(|(id, t)| {
            (
                id.clone(),
                json!({
                    "taskId": id,
                    "runSpecVersion": i.version,
                    "status": {
                        "stagedAt": crate::views::iso(i.staged_at),
                        "condition": t.condition.name(),
                    },
                }),
            )
        })
        .collect();
    json!({
        "instanceId": { "idString": i.task_id },
        "agentInfo": { "host": i.hostname, "agentId": i.agent_id, "attributes": [] },
        "tasksMap": tasks,
        "runSpecVersion": i.version,
        "state": {
            "condition": i.condition.name(),
            "since": crate::views::iso(i.staged_at),
            "activeSince": i.started_at.map(crate::views::iso),
            "goal": "Running",
        },
        "unreachableStrategy": { "inactiveAfterSeconds": 0, "expungeAfterSeconds": 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_pods_and_their_parts() {
        let id = || PathId::parse("/a/b");
        assert_eq!(parse_target("::status"), Target::AllStatus);
        assert_eq!(parse_target("a/b"), Target::Pod(id()));
        assert_eq!(parse_target("a/b::status"), Target::Status(id()));
        assert_eq!(parse_target("/a/b::versions"), Target::Versions(id()));
        assert_eq!(
            parse_target("a/b::versions/2026-01-01T00:00:00.000Z"),
            Target::Version(id(), "2026-01-01T00:00:00.000Z".into())
        );
        assert_eq!(parse_target("a/b::instances"), Target::Instances(id()));
        assert_eq!(
            parse_target("a/b::instances/a_b.instance-x"),
            Target::Instance(id(), "a_b.instance-x".into())
        );
    }
}
