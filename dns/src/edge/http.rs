//! Mesos-DNS's HTTP API: `/v1/version`, `/v1/config`, `/v1/hosts/{host}`,
//! `/v1/services/{service}`, and with `EnumerationOn` `/v1/enumerate` and `/v1/axfr`.
//! Answers are JSON in Mesos-DNS's shapes; an unknown path is 404 and another method
//! than GET is 405, each with a JSON message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use super::ZoneCell;
use crate::config::Config;
use crate::core::zone::Zone;

#[derive(Clone)]
pub struct Api {
    pub config: Arc<Config>,
    pub zone: ZoneCell,
    pub version: &'static str,
}

impl Api {
    fn zone(&self) -> Arc<Zone> {
        self.zone.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub fn router(api: Api) -> Router {
    let mut router = Router::new()
        .route("/v1/version", get(version))
        .route("/v1/config", get(config))
        .route("/v1/hosts/{host}", get(hosts))
        .route("/v1/hosts/{host}/ports", get(ports))
        .route("/v1/services/{service}", get(services));
    if api.config.enumeration_on {
        router = router
            .route("/v1/enumerate", get(enumerate))
            .route("/v1/axfr", get(axfr));
    }
    router
        .fallback(|| async { error(StatusCode::NOT_FOUND, "404: Page Not Found") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed")
        })
        .with_state(api)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

async fn version(State(api): State<Api>) -> Response {
    Json(json!({
        "Service": "Mesos-DNS",
        "Version": api.version,
        "URL": "https://github.com/mesosphere/mesos-dns",
    }))
    .into_response()
}

async fn config(State(api): State<Api>) -> Response {
    let mut config = (*api.config).clone();
    config.soa_serial = api.zone().serial();
    Json(config).into_response()
}

/// The name as the records spell it: wildcard labels dropped, lowercase, trailing dot.
fn record_name(name: &str) -> String {
    let mut name = name.replace(".*", "").to_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    name
}

#[derive(Serialize, Default)]
struct Host {
    host: String,
    ip: String,
}

async fn hosts(State(api): State<Api>, Path(host): Path<String>) -> Response {
    let name = record_name(&host);
    let zone = api.zone();
    let mut out: Vec<Host> = zone
        .records()
        .addresses(&name)
        .map(|ip| Host {
            host: name.clone(),
            ip: ip.to_string(),
        })
        .collect();
    if out.is_empty() {
        out.push(Host::default());
    }
    Json(out).into_response()
}

async fn ports() -> Response {
    error(StatusCode::NOT_IMPLEMENTED, "To be implemented...")
}

#[derive(Serialize, Default)]
struct Service {
    service: String,
    host: String,
    ip: String,
    port: String,
}

async fn services(State(api): State<Api>, Path(service): Path<String>) -> Response {
    let name = record_name(&service);
    let zone = api.zone();
    let records = zone.records();
    let mut out = Vec::new();
    for (host, port) in records.srv.get(&name).into_iter().flatten() {
        let first_a = records.a.get(host).and_then(|s| s.iter().next());
        let first_aaaa = records.aaaa.get(host).and_then(|s| s.iter().next());
        for ip in first_a.into_iter().chain(first_aaaa) {
            out.push(Service {
                service: service.clone(),
                host: host.clone(),
                ip: ip.to_string(),
                port: port.to_string(),
            });
        }
    }
    if out.is_empty() {
        out.push(Service::default());
    }
    Json(out).into_response()
}

async fn enumerate(State(api): State<Api>) -> Response {
    Json(&api.zone().records().enumeration).into_response()
}

async fn axfr(State(api): State<Api>) -> Response {
    let zone = api.zone();
    let records = zone.records();
    let c = &api.config;
    Json(json!({
        "TTL": c.ttl,
        "Serial": zone.serial(),
        "RefreshSeconds": c.refresh_seconds,
        "Mname": c.soa_mname,
        "Rname": c.soa_rname,
        "Domain": c.domain,
        "Records": {
            "As": rr_sets(&records.a, ToString::to_string),
            "AAAAs": rr_sets(&records.aaaa, ToString::to_string),
            "SRVs": rr_sets(&records.srv, |(host, port)| format!("{host}:{port}")),
        },
    }))
    .into_response()
}

/// Mesos-DNS's transferable record sets: name to record values as text.
fn rr_sets<T>(
    map: &BTreeMap<String, BTreeSet<T>>,
    show: impl Fn(&T) -> String,
) -> BTreeMap<&str, Vec<String>> {
    map.iter()
        .map(|(name, values)| (name.as_str(), values.iter().map(&show).collect()))
        .collect()
}
