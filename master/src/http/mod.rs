//! The master's HTTP edge: `/api/v1/scheduler` ([`scheduler_api`]) and the read-only
//! endpoints, `/master/teardown` included ([`endpoints`]).
//!
//! Request bodies are decoded here (JSON or protobuf by Content-Type), validated for the
//! fields each call needs, and handed to the engine. Every refusal is a 4xx with a JSON
//! body `{"code": .., "message": ..}`; nothing a client sends can reach a panic.

mod endpoints;
mod scheduler_api;

use axum::routing::{any, get};
use axum::Router;

use crate::handle::MasterHandle;

use endpoints::{
    flags, frameworks, health, metrics, redirect, roles, slaves, state, state_summary, tasks,
    teardown, version,
};
use scheduler_api::scheduler_api;

pub(crate) use scheduler_api::dispatch;

pub(crate) fn router(handle: MasterHandle) -> Router {
    let mut r = Router::new()
        .route("/api/v1/scheduler", any(scheduler_api))
        .route("/master/api/v1/scheduler", any(scheduler_api));
    // Mesos serves every master endpoint both as /master/X and as /X.
    for (path, handler) in [
        (
            "state",
            get(state) as axum::routing::MethodRouter<MasterHandle>,
        ),
        ("state.json", get(state)),
        ("state-summary", get(state_summary)),
        ("frameworks", get(frameworks)),
        ("slaves", get(slaves)),
        ("tasks", get(tasks)),
        ("tasks.json", get(tasks)),
        ("roles", get(roles)),
        ("roles.json", get(roles)),
        ("flags", get(flags)),
        ("health", get(health)),
        ("redirect", get(redirect)),
        ("version", get(version)),
    ] {
        r = r
            .route(&format!("/master/{path}"), handler.clone())
            .route(&format!("/{path}"), handler);
    }
    r.route("/metrics/snapshot", get(metrics))
        .route("/master/teardown", any(teardown))
        .route("/teardown", any(teardown))
        .with_state(handle)
}
