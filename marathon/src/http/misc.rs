//! `/v2/tasks`, `/v2/queue`, `/v2/info`, `/v2/leader`, `/metrics`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::proxy::Forward;
use super::{
    json_response, leader_header, message, method_not_allowed, query_bool, query_pairs,
    query_values, read_json, wants_text, HttpState, LeaderCall, Leadership,
};
use crate::app::PathId;
use crate::placement::UnusedOffer;
use crate::service::{Command, Service, ServiceError};
use crate::views::{app_definition_json, iso, task_view, tasks_text};

/// `{"<key>": value}` without a `Value` tree.
fn json_map<T: serde::Serialize>(
    key: &'static str,
    value: T,
) -> std::collections::BTreeMap<&'static str, T> {
    std::collections::BTreeMap::from([(key, value)])
}

fn forward(method: Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Forward {
    Forward {
        method,
        uri: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        headers: headers.clone(),
        body,
    }
}

pub async fn tasks(State(state): State<HttpState>, call: LeaderCall) -> Response {
    let LeaderCall {
        service,
        uri,
        headers,
        ..
    } = call;
    let pairs = query_pairs(uri.query());
    let status: Vec<String> = query_values(&pairs, "status")
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let text = wants_text(&headers);
    let answer = service
        .read(move |s| {
            let t = s.tracker();
            if text {
                let per_app: Vec<_> = t
                    .apps()
                    .filter(|a| !a.is_pod())
                    .map(|a| (a, t.instances_of(&a.id).collect()))
                    .collect();
                return Err(tasks_text(per_app));
            }
            // Pod instances are shown by /v2/pods/::status.
            let tasks = t
                .instances()
                .filter(|i| !i.condition.is_terminal() && i.pod_tasks.is_empty())
                .filter(|i| {
                    status.is_empty()
                        || status.iter().any(|st| match st.as_str() {
                            "running" => i.condition.mesos_state() == "TASK_RUNNING",
                            "staging" => i.condition.is_staged(),
                            "killing" => i.condition.mesos_state() == "TASK_KILLING",
                            other => i
                                .condition
                                .mesos_state()
                                .eq_ignore_ascii_case(&format!("task_{other}")),
                        })
                })
                .map(|i| task_view(i, s.health()))
                .collect::<Vec<_>>();
            Ok(serde_json::to_vec(&json_map("tasks", tasks)).expect("tasks serialize"))
        })
        .await;
    let response = match answer {
        Some(Ok(body)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Some(Err(text)) => ([(header::CONTENT_TYPE, "text/plain")], text).into_response(),
        None => message(StatusCode::SERVICE_UNAVAILABLE, "Marathon is stopping"),
    };
    leader_header(&state.me, response)
}

pub async fn tasks_delete(State(state): State<HttpState>, call: LeaderCall) -> Response {
    let LeaderCall {
        service, uri, body, ..
    } = call;
    let value = match read_json(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(ids) = value.get("ids").and_then(Value::as_array).map(|ids| {
        ids.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect::<Vec<_>>()
    }) else {
        return ServiceError::Invalid(vec![crate::app::validate::Violation {
            path: "/ids".into(),
            errors: vec!["error.path.missing".into()],
        }])
        .into_response();
    };
    let check = ids.clone();
    let unknown: Vec<String> = service
        .read(move |s| {
            check
                .into_iter()
                .filter(|t| s.tracker().instance(t).is_none())
                .collect()
        })
        .await
        .unwrap_or_default();
    if !unknown.is_empty() {
        return message(
            StatusCode::BAD_REQUEST,
            format!("Invalid task id(s): {}", unknown.join(", ")),
        );
    }
    let pairs = query_pairs(uri.query());
    let force = query_bool(&pairs, "force", false);
    leader_header(
        &state.me,
        super::apps::kill(&service, ids, &pairs, force, false).await,
    )
}

fn queue_item(
    s: &Service,
    id: &PathId,
    now: u64,
    unused_offers: bool,
    waiting_for: bool,
) -> Option<Value> {
    let t = s.tracker();
    let app = t.app(id)?;
    let since = t.waiting_since(id)?;
    let demand = {
        let active = t
            .instances_of(id)
            .filter(|i| i.is_active() && i.config_version == app.version_info.last_config_change_at)
            .count() as u32;
        app.instances.saturating_sub(active)
    };
    let (time_left, overdue) = match t.backoff(id) {
        Some(b) if b.until_ms > now => ((b.until_ms - now) as f64 / 1000.0, false),
        _ => (0.0, true),
    };
    let mut item = Map::new();
    match &app.pod {
        Some(pod) => item.insert("pod".into(), json!(pod)),
        None => item.insert("app".into(), Value::Object(app_definition_json(app))),
    };
    item.insert("count".into(), demand.into());
    item.insert(
        "delay".into(),
        json!({"timeLeftSeconds": time_left.ceil() as u64, "overdue": overdue}),
    );
    item.insert("since".into(), iso(since).into());
    let stats = s.offer_stats(id).cloned().unwrap_or_default();
    item.insert(
        "processedOffersSummary".into(),
        serde_json::to_value(stats.summary()).unwrap_or(Value::Null),
    );
    if unused_offers {
        item.insert(
            "lastUnusedOffers".into(),
            stats.last_unused_offers().map(unused_offer_json).collect(),
        );
    }
    if waiting_for {
        item.insert(
            "waitingFor".into(),
            super::deployments::launch_waits(s, id, now).into(),
        );
    }
    Some(Value::Object(item))
}

fn unused_offer_json(u: &UnusedOffer) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

pub async fn queue(State(state): State<HttpState>, call: LeaderCall) -> Response {
    let LeaderCall { service, uri, .. } = call;
    let pairs = query_pairs(uri.query());
    let embed = query_values(&pairs, "embed");
    let unused = embed.contains(&"lastUnusedOffers");
    let waiting_for = embed.contains(&"waitingFor");
    let items = service
        .read(move |s| {
            let now = crate::service::now_ms();
            s.tracker()
                .apps()
                .filter_map(|a| queue_item(s, &a.id, now, unused, waiting_for))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
    leader_header(
        &state.me,
        json_response(StatusCode::OK, json!({ "queue": items })),
    )
}

/// `DELETE /v2/queue/{id}/delay`.
pub async fn queue_delay(
    State(state): State<HttpState>,
    Path(path): Path<String>,
    call: LeaderCall,
) -> Response {
    let LeaderCall {
        service, method, ..
    } = call;
    let Some(id) = path.strip_suffix("/delay") else {
        return super::not_found("The requested resource could not be found.");
    };
    if method != Method::DELETE {
        return method_not_allowed();
    }
    let app = PathId::parse(id);
    let response = match service
        .ask(|reply| Command::ResetDelay { app, reply })
        .await
    {
        Some(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Some(Err(e)) => e.into_response(),
        None => super::lost_leadership(),
    };
    leader_header(&state.me, response)
}

pub async fn info(State(state): State<HttpState>) -> Response {
    let leadership = state.leadership.borrow().clone();
    let (leader, elected, framework_id) = match &leadership {
        Leadership::Leading(service) => {
            let fid = service
                .read(|s| s.framework_id().map(str::to_string))
                .await
                .flatten();
            (Some(state.me.clone()), true, fid)
        }
        Leadership::Standby(l) => (l.clone(), false, None),
    };
    let body = crate::info::info_json(
        &state.config,
        leader.as_deref(),
        elected,
        framework_id.as_deref(),
        crate::VERSION,
    );
    json_response(StatusCode::OK, body)
}

/// Ours, not Marathon's: whether this process listens beyond loopback without
/// `--http_credentials` (`exposure_warning`, null when not), for the dashboard's banner.
/// Not a key of `/v2/info`: marathon-python builds `MarathonInfo(**keys)` from that
/// document and fails on any key it does not know. Answered by this process, never
/// proxied: the exposure is the listener's own.
pub async fn exposure(State(state): State<HttpState>) -> Response {
    let warning = crate::auth::exposure_warning(&state.config);
    json_response(StatusCode::OK, json!({ "exposure_warning": warning }))
}

pub async fn leader(
    State(state): State<HttpState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let leadership = state.leadership.borrow().clone();
    match (method, leadership) {
        (Method::GET, Leadership::Leading(_)) => {
            json_response(StatusCode::OK, json!({ "leader": state.me }))
        }
        (Method::GET, Leadership::Standby(Some(l))) => {
            json_response(StatusCode::OK, json!({ "leader": l }))
        }
        (Method::GET, Leadership::Standby(None)) => super::not_found("There is no leader"),
        (Method::DELETE, Leadership::Leading(_)) => {
            (state.abdicate)();
            json_response(StatusCode::OK, json!({"message": "Leadership abdicated"}))
        }
        // A standby passes the abdication on to the leader.
        (Method::DELETE, Leadership::Standby(Some(l))) if l != state.me => {
            super::proxy::forward(
                &state,
                &l,
                &forward(Method::DELETE, &uri, &headers, Bytes::new()),
            )
            .await
        }
        (Method::DELETE, Leadership::Standby(_)) => super::not_found("There is no leader"),
        _ => method_not_allowed(),
    }
}

pub async fn metrics(State(state): State<HttpState>) -> Response {
    let leadership = state.leadership.borrow().clone();
    let mut gauges = Map::new();
    let mut gauge = |name: &str, value: f64| {
        gauges.insert(name.to_string(), json!({ "value": value }));
    };
    gauge(
        "marathon.leadership.elected",
        matches!(leadership, Leadership::Leading(_)) as u8 as f64,
    );
    if let Leadership::Leading(service) = &leadership {
        let counts = service
            .read(|s| {
                let t = s.tracker();
                let instances: Vec<_> = t.instances().collect();
                (
                    t.apps().count(),
                    instances.len(),
                    instances
                        .iter()
                        .filter(|i| i.condition.mesos_state() == "TASK_RUNNING")
                        .count(),
                    s.deployments().count(),
                    (crate::service::now_ms() - s.started_ms()) as f64 / 1000.0,
                )
            })
            .await;
        if let Some((apps, instances, running, deployments, uptime)) = counts {
            gauge("marathon.apps.active.gauge", apps as f64);
            gauge("marathon.instances.launched.gauge", instances as f64);
            gauge("marathon.instances.running.gauge", running as f64);
            gauge("marathon.deployments.active.gauge", deployments as f64);
            gauge("marathon.uptime.gauge.seconds", uptime);
        }
    }
    json_response(
        StatusCode::OK,
        json!({
            "version": "3.0.0",
            "gauges": gauges,
            "counters": {},
            "histograms": {},
            "meters": {},
            "timers": {},
        }),
    )
}
