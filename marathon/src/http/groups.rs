//! `/v2/groups[/{id}[/versions[/{version}]]]`: the group tree, as Marathon serves it.
//!
//! - GET: the group (`embed=group.apps|group.groups|group.pods`, all by default; app
//!   embeds `group.apps.tasks|counts|deployments|lastTaskFailure`); 404 for no group.
//! - POST: creates (201 + `Location`), 409 if it exists; PUT creates or changes (with
//!   `dryRun=true`: `{"steps": [...]}`, nothing done); `scaleBy`; `version` rolls back;
//!   DELETE removes the group and everything in it. Changes answer
//!   `{"deploymentId","version"}` with the `Marathon-Deployment-Id` header.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{
    deployment_response, json_response, leader_header, method_not_allowed, query_bool, query_pairs,
    query_values, read_json, HttpState, LeaderCall,
};
use crate::app::PathId;
use crate::group::view::{group_json, GroupEmbed};
use crate::group::{resolve, GroupUpdate};
use crate::service::{Command, GroupAnswer, GroupRequest, ServiceError, ServiceHandle};
use crate::views::{app_definition_json, Embed};

/// What a path below `/v2/groups` names.
#[derive(Debug, PartialEq)]
enum Target {
    Group(PathId),
    Versions(PathId),
    Version(PathId, String),
}

fn parse_target(path: &str) -> Target {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let id = |n: usize| PathId::parse(&segs[..segs.len().saturating_sub(n)].join("/"));
    match segs.as_slice() {
        [.., "versions"] => Target::Versions(id(1)),
        [.., "versions", v] => Target::Version(id(2), v.to_string()),
        _ => Target::Group(id(0)),
    }
}

pub async fn groups_root(State(state): State<HttpState>, call: LeaderCall) -> Response {
    answer(state, String::new(), call).await
}

pub async fn group_path(
    State(state): State<HttpState>,
    Path(path): Path<String>,
    call: LeaderCall,
) -> Response {
    answer(state, path, call).await
}

async fn ask(service: &ServiceHandle, request: GroupRequest) -> Result<GroupAnswer, Response> {
    match service.ask(|reply| Command::Group { request, reply }).await {
        Some(Ok(a)) => Ok(a),
        Some(Err(e)) => Err(e.into_response()),
        None => Err(super::lost_leadership()),
    }
}

async fn answer(state: HttpState, path: String, call: LeaderCall) -> Response {
    let LeaderCall {
        service,
        method,
        uri,
        body,
        ..
    } = call;
    let pairs = query_pairs(uri.query());
    let force = query_bool(&pairs, "force", false);
    let target = parse_target(&path);
    let response = match (target, method) {
        (Target::Group(id), Method::GET) => {
            let values = query_values(&pairs, "embed");
            let embed = GroupEmbed::parse(values.iter().copied());
            let apps = Embed::parse(
                values
                    .iter()
                    .copied()
                    .filter(|v| v.starts_with("group.apps.")),
            );
            let missing = id.clone();
            let found = service
                .read(move |s| {
                    let tree = s.group_tree();
                    let render = |a: &crate::app::AppDefinition| {
                        if apps == Embed::default() {
                            Value::Object(app_definition_json(a))
                        } else {
                            super::apps::app_view(s, &a.id, apps).unwrap_or(Value::Null)
                        }
                    };
                    group_json(&tree, &id, embed, &render)
                })
                .await
                .flatten();
            match found {
                Some(group) => json_response(StatusCode::OK, group),
                None => ServiceError::UnknownGroup(missing).into_response(),
            }
        }
        (Target::Versions(id), Method::GET) => {
            match ask(&service, GroupRequest::Versions { id }).await {
                Ok(GroupAnswer::Versions(v)) => json_response(StatusCode::OK, json!(v)),
                Ok(_) => super::lost_leadership(),
                Err(r) => r,
            }
        }
        (Target::Version(id, version), Method::GET) => {
            let request = GroupRequest::Version {
                id: id.clone(),
                version,
            };
            match ask(&service, request).await {
                Ok(GroupAnswer::Snapshot(tree)) => {
                    let plain =
                        |a: &crate::app::AppDefinition| Value::Object(app_definition_json(a));
                    match group_json(&tree, &id, GroupEmbed::default(), &plain) {
                        Some(g) => json_response(StatusCode::OK, g),
                        None => ServiceError::UnknownGroup(id).into_response(),
                    }
                }
                Ok(_) => super::lost_leadership(),
                Err(r) => r,
            }
        }
        (Target::Group(base), m @ (Method::POST | Method::PUT)) => {
            let value = match read_json(body) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let update = match GroupUpdate::from_value(value) {
                Ok(u) => u,
                Err(v) => return ServiceError::Invalid(vec![v]).into_response(),
            };
            let id = match update.id.as_deref() {
                Some(text) => resolve(&base, text),
                None => base,
            };
            let request = if m == Method::POST {
                GroupRequest::Create {
                    id: id.clone(),
                    update,
                    force,
                }
            } else {
                GroupRequest::Update {
                    id: id.clone(),
                    update,
                    force,
                    dry_run: query_bool(&pairs, "dryRun", false),
                }
            };
            match ask(&service, request).await {
                Ok(GroupAnswer::Deployed(result)) if m == Method::POST => {
                    let mut r = deployment_response(StatusCode::CREATED, &result);
                    if let Ok(v) = HeaderValue::from_str(&format!("/v2/groups{id}")) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    r
                }
                Ok(GroupAnswer::Deployed(result)) => deployment_response(StatusCode::OK, &result),
                Ok(GroupAnswer::DryRun(steps)) => {
                    let steps: Vec<Value> = steps
                        .iter()
                        .map(|step| {
                            let actions: Vec<Value> = step
                                .iter()
                                .map(|a| json!({"action": a.kind.name(), "app": a.app.to_string()}))
                                .collect();
                            json!({ "actions": actions })
                        })
                        .collect();
                    json_response(StatusCode::OK, json!({ "steps": steps }))
                }
                Ok(_) => super::lost_leadership(),
                Err(r) => r,
            }
        }
        // marathon-python's rollback_group (Marathon 0.x's form of `{"version": v}`).
        (Target::Version(id, version), Method::PUT) => {
            let update = GroupUpdate {
                version: Some(version),
                ..Default::default()
            };
            let request = GroupRequest::Update {
                id,
                update,
                force,
                dry_run: false,
            };
            match ask(&service, request).await {
                Ok(GroupAnswer::Deployed(result)) => deployment_response(StatusCode::OK, &result),
                Ok(_) => super::lost_leadership(),
                Err(r) => r,
            }
        }
        (Target::Group(id), Method::DELETE) => {
            match ask(&service, GroupRequest::Delete { id, force }).await {
                Ok(GroupAnswer::Deployed(result)) => deployment_response(StatusCode::OK, &result),
                Ok(_) => super::lost_leadership(),
                Err(r) => r,
            }
        }
        _ => method_not_allowed(),
    };
    leader_header(&state.me, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_groups() {
        assert_eq!(parse_target(""), Target::Group(PathId::root()));
        assert_eq!(
            parse_target("prod/web"),
            Target::Group(PathId::parse("/prod/web"))
        );
        assert_eq!(
            parse_target("prod/versions"),
            Target::Versions(PathId::parse("/prod"))
        );
        assert_eq!(parse_target("versions"), Target::Versions(PathId::root()));
        assert_eq!(
            parse_target("prod/versions/2026-01-01T00:00:00.000Z"),
            Target::Version(PathId::parse("/prod"), "2026-01-01T00:00:00.000Z".into())
        );
    }
}
