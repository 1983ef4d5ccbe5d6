//! `/v2/apps` and everything under an app's id.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{
    add_deployment_header, deployment_response, json_response, leader_header, method_not_allowed,
    query_bool, query_pairs, query_values, read_json, wants_text, HttpState, LeaderCall,
};
use crate::app::update::AppUpdate;
use crate::app::PathId;
use crate::service::{
    ApiOrigin, AppChange, ChangeMode, Command, Service, ServiceError, ServiceHandle,
};
use crate::views::{app_definition_json, app_json, task_json, tasks_text, AppsView, Embed};

/// One app as `GET /v2/apps` and `GET /v2/apps/{id}` show it.
pub fn app_view(s: &Service, id: &PathId, embed: Embed) -> Option<Value> {
    let tracker = s.tracker();
    let app = tracker.app(id).filter(|a| !a.is_pod())?;
    let instances: Vec<_> = tracker.instances_of(id).collect();
    Some(app_json(
        app,
        &instances,
        &s.deployments_of(id),
        tracker.last_failure(id),
        embed,
        s.health(),
    ))
}

pub async fn apps_root(State(state): State<HttpState>, call: LeaderCall) -> Response {
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
        Method::GET => list_apps(&service, &pairs).await,
        Method::POST => {
            let origin = ApiOrigin {
                client_ip,
                uri: uri.path().to_string(),
            };
            create_app(&service, body, &pairs, origin).await
        }
        Method::PUT | Method::PATCH => {
            update_many(&service, body, &pairs, method == Method::PATCH).await
        }
        _ => method_not_allowed(),
    };
    leader_header(&state.me, response)
}

async fn list_apps(service: &ServiceHandle, pairs: &[(String, String)]) -> Response {
    let embed = Embed::parse(query_values(pairs, "embed"));
    let cmd = pairs
        .iter()
        .find(|(k, _)| k == "cmd")
        .map(|(_, v)| v.clone());
    let id = pairs
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.clone());
    let label = pairs
        .iter()
        .find(|(k, _)| k == "label")
        .map(|(_, v)| v.clone());
    let selector = match label.as_deref().map(LabelSelector::parse).transpose() {
        Ok(s) => s,
        Err(e) => return super::message(StatusCode::BAD_REQUEST, e),
    };
    let body = service
        .read(move |s| {
            let t = s.tracker();
            let only_apps = || t.apps().filter(|a| !a.is_pod());
            let deployments: Vec<(PathId, Vec<String>)> = only_apps()
                .map(|a| (a.id.clone(), s.deployments_of(&a.id)))
                .collect();
            let instances: Vec<Vec<&crate::instance::Instance>> = only_apps()
                .map(|a| t.instances_of(&a.id).collect())
                .collect();
            let apps = only_apps()
                .zip(&instances)
                .zip(&deployments)
                .filter(|((a, _), _)| {
                    cmd.as_ref()
                        .is_none_or(|c| a.cmd.as_deref().unwrap_or("").contains(c.as_str()))
                })
                .filter(|((a, _), _)| {
                    id.as_ref()
                        .is_none_or(|i| a.id.to_string().contains(i.as_str()))
                })
                .filter(|((a, _), _)| selector.as_ref().is_none_or(|sel| sel.matches(&a.labels)))
                .map(|((a, inst), (_, deps))| {
                    crate::views::app_view(a, inst, deps, t.last_failure(&a.id), embed, s.health())
                })
                .collect();
            serde_json::to_vec(&AppsView { apps }).expect("apps serialize")
        })
        .await
        .unwrap_or_else(|| b"{\"apps\":[]}".to_vec());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

pub(super) async fn change(
    service: &ServiceHandle,
    changes: Vec<AppChange>,
    force: bool,
    origin: Option<ApiOrigin>,
) -> Result<crate::service::ChangeResult, Response> {
    match service
        .ask(|reply| Command::Change {
            changes,
            force,
            origin,
            reply,
        })
        .await
    {
        Some(Ok(r)) => Ok(r),
        Some(Err(e)) => Err(e.into_response()),
        None => Err(super::lost_leadership()),
    }
}

fn parse_update(value: Value) -> Result<AppUpdate, Response> {
    AppUpdate::from_value(value).map_err(|e| {
        ServiceError::Invalid(vec![crate::app::validate::Violation {
            path: e.path,
            errors: vec![e.message],
        }])
        .into_response()
    })
}

async fn create_app(
    service: &ServiceHandle,
    body: Result<Bytes, BytesRejection>,
    pairs: &[(String, String)],
    origin: ApiOrigin,
) -> Response {
    let value = match read_json(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let update = match parse_update(value) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(id) = update.id.as_deref().map(PathId::parse) else {
        return ServiceError::Invalid(vec![crate::app::validate::Violation {
            path: "/id".into(),
            errors: vec!["error.path.missing".into()],
        }])
        .into_response();
    };
    let force = query_bool(pairs, "force", false);
    let result = match change(
        service,
        vec![AppChange {
            id: id.clone(),
            update,
            mode: ChangeMode::Create,
        }],
        force,
        Some(origin),
    )
    .await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    let body = service
        .read(move |s| app_view(s, &id, Embed::default()))
        .await
        .flatten()
        .unwrap_or(Value::Null);
    let mut response = json_response(StatusCode::CREATED, body);
    add_deployment_header(&mut response, &result.deployment_id);
    if let Some(app) = result.apps.first() {
        if let Ok(v) = HeaderValue::from_str(&format!("/v2/apps{}", app.id)) {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    response
}

async fn update_many(
    service: &ServiceHandle,
    body: Result<Bytes, BytesRejection>,
    pairs: &[(String, String)],
    patch: bool,
) -> Response {
    let value = match read_json(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Value::Array(items) = value else {
        return ServiceError::Invalid(vec![crate::app::validate::Violation {
            path: "/".into(),
            errors: vec!["error.expected.jsarray".into()],
        }])
        .into_response();
    };
    let partial = patch || query_bool(pairs, "partialUpdate", true);
    let mut changes = vec![];
    for (n, item) in items.into_iter().enumerate() {
        let update = match AppUpdate::from_value(item) {
            Ok(u) => u,
            Err(e) => {
                return ServiceError::Invalid(vec![crate::app::validate::Violation {
                    path: format!("/({n}){}", e.path),
                    errors: vec![e.message],
                }])
                .into_response()
            }
        };
        let Some(id) = update.id.as_deref().map(PathId::parse) else {
            return ServiceError::Invalid(vec![crate::app::validate::Violation {
                path: format!("/({n})/id"),
                errors: vec!["error.path.missing".into()],
            }])
            .into_response();
        };
        changes.push(AppChange {
            id,
            update,
            mode: if partial {
                ChangeMode::Partial
            } else {
                ChangeMode::Replace
            },
        });
    }
    match change(service, changes, query_bool(pairs, "force", false), None).await {
        Ok(r) => deployment_response(StatusCode::OK, &r),
        Err(r) => r,
    }
}

/// What a path below `/v2/apps/` names.
#[derive(Debug, PartialEq)]
enum Target {
    App(PathId),
    Restart(PathId),
    Tasks(PathId),
    Task(PathId, String),
    Versions(PathId),
    Version(PathId, String),
}

fn parse_target(path: &str) -> Target {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let id = |n: usize| PathId::parse(&segs[..segs.len().saturating_sub(n)].join("/"));
    match segs.as_slice() {
        [.., "restart"] => Target::Restart(id(1)),
        [.., "tasks"] => Target::Tasks(id(1)),
        [.., "tasks", task] => Target::Task(id(2), task.to_string()),
        [.., "versions"] => Target::Versions(id(1)),
        [.., "versions", v] => Target::Version(id(2), v.to_string()),
        _ => Target::App(id(0)),
    }
}

pub async fn app_path(
    State(state): State<HttpState>,
    Path(path): Path<String>,
    call: LeaderCall,
) -> Response {
    let LeaderCall {
        service,
        method,
        uri,
        headers,
        body,
        client_ip,
    } = call;
    let pairs = query_pairs(uri.query());
    let force = query_bool(&pairs, "force", false);
    let response = match (parse_target(&path), method) {
        (Target::App(id), Method::GET) => {
            let embed = Embed::all();
            let missing = id.clone();
            match service
                .read(move |s| app_view(s, &id, embed))
                .await
                .flatten()
            {
                Some(app) => json_response(StatusCode::OK, json!({ "app": app })),
                None => ServiceError::UnknownApp(missing).into_response(),
            }
        }
        (Target::App(id), m @ (Method::PUT | Method::PATCH)) => {
            let value = match read_json(body) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let update = match parse_update(value) {
                Ok(u) => u,
                Err(r) => return r,
            };
            let partial = m == Method::PATCH || query_bool(&pairs, "partialUpdate", true);
            let mode = if partial {
                ChangeMode::Partial
            } else {
                ChangeMode::Replace
            };
            let origin = ApiOrigin {
                client_ip,
                uri: uri.path().to_string(),
            };
            match change(
                &service,
                vec![AppChange { id, update, mode }],
                force,
                Some(origin),
            )
            .await
            {
                Ok(r) => {
                    let status = if r.created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    };
                    deployment_response(status, &r)
                }
                Err(r) => r,
            }
        }
        (Target::App(id), Method::DELETE) => {
            let c = AppChange {
                id,
                update: AppUpdate::default(),
                mode: ChangeMode::Delete,
            };
            match change(&service, vec![c], force, None).await {
                Ok(r) => deployment_response(StatusCode::OK, &r),
                Err(r) => r,
            }
        }
        (Target::Restart(id), Method::POST) => {
            let c = AppChange {
                id,
                update: AppUpdate::default(),
                mode: ChangeMode::Restart,
            };
            match change(&service, vec![c], force, None).await {
                Ok(r) => deployment_response(StatusCode::OK, &r),
                Err(r) => r,
            }
        }
        (Target::Tasks(id), Method::GET) => app_tasks(&service, id, wants_text(&headers)).await,
        (Target::Tasks(id), Method::DELETE) => {
            let host = pairs
                .iter()
                .find(|(k, _)| k == "host")
                .map(|(_, v)| v.clone());
            let app = id.clone();
            let ids = service
                .read(move |s| {
                    s.tracker().app(&app).map(|_| {
                        s.tracker()
                            .instances_of(&app)
                            .filter(|i| !i.condition.is_terminal())
                            .filter(|i| host.as_ref().is_none_or(|h| &i.hostname == h))
                            .map(|i| i.task_id.clone())
                            .collect::<Vec<_>>()
                    })
                })
                .await
                .flatten();
            match ids {
                None => ServiceError::UnknownApp(id).into_response(),
                Some(ids) => kill(&service, ids, &pairs, force, false).await,
            }
        }
        (Target::Task(id, task), Method::DELETE) => {
            let app = id.clone();
            let t = task.clone();
            let exists = service
                .read(move |s| s.tracker().instance(&t).is_some_and(|i| i.app_id == app))
                .await
                .unwrap_or(false);
            if !exists {
                ServiceError::UnknownTask(task).into_response()
            } else {
                kill(&service, vec![task], &pairs, force, true).await
            }
        }
        (Target::Versions(id), Method::GET) => {
            let app = id.clone();
            match service
                .ask(|reply| Command::AppVersions { app, reply })
                .await
            {
                Some(Ok(mut versions)) if !versions.is_empty() => {
                    versions.reverse();
                    json_response(StatusCode::OK, json!({ "versions": versions }))
                }
                Some(Err(e)) => e.into_response(),
                _ => ServiceError::UnknownApp(id).into_response(),
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
            match found {
                Some(Ok(Some(app))) => {
                    json_response(StatusCode::OK, Value::Object(app_definition_json(&app)))
                }
                Some(Err(e)) => e.into_response(),
                _ => super::not_found(format!("App '{id}' does not exist in version {version}")),
            }
        }
        _ => method_not_allowed(),
    };
    leader_header(&state.me, response)
}

async fn app_tasks(service: &ServiceHandle, id: PathId, text: bool) -> Response {
    let app = id.clone();
    let found = service
        .read(move |s| {
            let t = s.tracker();
            let def = t.app(&app)?;
            if text {
                let instances: Vec<_> = t.instances_of(&app).collect();
                return Some(Err(tasks_text([(def, instances)])));
            }
            Some(Ok(t
                .instances_of(&app)
                .filter(|i| !i.condition.is_terminal())
                .map(|i| task_json(i, s.health()))
                .collect::<Vec<_>>()))
        })
        .await
        .flatten();
    match found {
        None => ServiceError::UnknownApp(id).into_response(),
        Some(Ok(tasks)) => json_response(StatusCode::OK, json!({ "tasks": tasks })),
        Some(Err(text)) => ([(header::CONTENT_TYPE, "text/plain")], text).into_response(),
    }
}

/// Kills tasks; answers a deployment with `scale`, else the tasks killed.
pub async fn kill(
    service: &ServiceHandle,
    task_ids: Vec<String>,
    pairs: &[(String, String)],
    force: bool,
    single: bool,
) -> Response {
    let scale = query_bool(pairs, "scale", false);
    let wipe = query_bool(pairs, "wipe", false);
    let before: Vec<String> = task_ids.clone();
    let views = service
        .read(move |s| {
            before
                .iter()
                .filter_map(|t| s.tracker().instance(t).map(|i| task_json(i, s.health())))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
    let killed = service
        .ask(|reply| Command::KillTasks {
            task_ids,
            scale,
            wipe,
            force,
            reply,
        })
        .await;
    match killed {
        Some(Ok((_, Some(result)))) => deployment_response(StatusCode::OK, &result),
        Some(Ok((_, None))) if single => json_response(
            StatusCode::OK,
            json!({ "task": views.into_iter().next().unwrap_or(Value::Null) }),
        ),
        Some(Ok((_, None))) => json_response(StatusCode::OK, json!({ "tasks": views })),
        Some(Err(e)) => e.into_response(),
        None => super::lost_leadership(),
    }
}

/// Marathon's label selectors, comma-separated, all must hold: `key`, `!key`,
/// `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`.
#[derive(Debug, Clone)]
struct LabelSelector(Vec<(String, LabelTest)>);

#[derive(Debug, Clone)]
enum LabelTest {
    Exists,
    Missing,
    In(Vec<String>),
    NotIn(Vec<String>),
}

impl LabelSelector {
    fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut terms = vec![];
        let mut rest = text.trim();
        while !rest.is_empty() {
            // A comma inside parentheses belongs to a set.
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    c == ',' && depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            let term = rest[..end].trim();
            rest = rest[end..].trim_start_matches(',').trim();
            let set = |s: &str| -> Result<Vec<String>, String> {
                let s = s.trim();
                let inner = s
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .ok_or_else(|| format!("Invalid label selector: '{term}'"))?;
                Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
            };
            let (key, test) = if let Some((k, v)) = term.split_once("!=") {
                (k, LabelTest::NotIn(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = term.split_once("==") {
                (k, LabelTest::In(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = term.split_once(" notin ") {
                (k, LabelTest::NotIn(set(v)?))
            } else if let Some((k, v)) = term.split_once(" in ") {
                (k, LabelTest::In(set(v)?))
            } else if let Some(k) = term.strip_prefix('!') {
                (k, LabelTest::Missing)
            } else {
                (term, LabelTest::Exists)
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("Invalid label selector: '{term}'"));
            }
            terms.push((key.to_string(), test));
        }
        Ok(LabelSelector(terms))
    }

    fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.0
            .iter()
            .all(|(key, test)| match (test, labels.get(key)) {
                (LabelTest::Exists, v) => v.is_some(),
                (LabelTest::Missing, v) => v.is_none(),
                (LabelTest::In(vals), Some(v)) => vals.contains(v),
                (LabelTest::In(_), None) => false,
                (LabelTest::NotIn(vals), Some(v)) => !vals.contains(v),
                (LabelTest::NotIn(_), None) => true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_an_app() {
        assert_eq!(
            parse_target("prod/web"),
            Target::App(PathId::parse("/prod/web"))
        );
        assert_eq!(
            parse_target("/web"),
            Target::App(PathId::parse("/web")),
            "//web from clients"
        );
        assert_eq!(
            parse_target("web/restart"),
            Target::Restart(PathId::parse("/web"))
        );
        assert_eq!(
            parse_target("a/b/tasks"),
            Target::Tasks(PathId::parse("/a/b"))
        );
        assert_eq!(
            parse_target("web/tasks/web.instance-1._app.1"),
            Target::Task(PathId::parse("/web"), "web.instance-1._app.1".into())
        );
        assert_eq!(
            parse_target("web/versions"),
            Target::Versions(PathId::parse("/web"))
        );
        assert_eq!(
            parse_target("web/versions/2026-01-01T00:00:00.000Z"),
            Target::Version(PathId::parse("/web"), "2026-01-01T00:00:00.000Z".into())
        );
    }

    #[test]
    fn label_selectors() {
        let labels: std::collections::BTreeMap<String, String> = [
            ("env".to_string(), "prod".to_string()),
            ("tier".into(), "web".into()),
        ]
        .into();
        for (sel, want) in [
            ("env", true),
            ("!env", false),
            ("env==prod", true),
            ("env!=prod", false),
            ("env in (dev, prod)", true),
            ("tier notin (web)", false),
            ("env==prod,tier==web", true),
            ("env==prod,missing", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&labels),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("env in dev").is_err());
    }
}
