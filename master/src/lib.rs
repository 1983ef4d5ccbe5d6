//! A Mesos-compatible master.
//!
//! # Layout
//!
//! Three layers. A module names (`use crate::...`) modules of its own layer and of the
//! layers below, never above, and no modules name each other in a cycle (`layers_hold`
//! below checks both). Arrows point the way imports go.
//!
//! ```text
//!  edges   server: the actor loop that owns the Engine, its timers, run(); wires the rest
//!            ▼
//!          http: scheduler_api (/api/v1/scheduler), endpoints (/master/*, /metrics)
//!          the dashboard at / (the `mesos-ui` crate's files, merged in server)
//!          operator (POST /api/v1 and its SUBSCRIBE stream)   agent_link (agents' gRPC)
//!          election (ZooKeeper, Leadership)
//!            ▼
//!          api (request negotiation, error bodies)   handle (Command, MasterHandle)
//!          registry (what a new leader recovers, kept in ZooKeeper)
//!          security (the authentication flags' realms and credentials, the ACLs)
//!            ▼
//!  views   views::state_json (/master/state family)   views::operator (GET_* answers)
//!            ▼
//!  core    engine: Engine + frameworks, agents, offers, tasks, admin (operator decisions)
//!          allocator (pure hierarchical DRF)   config   event_queue
//! ```
//!
//! - Core: synchronous, no sockets, time is an argument. [`engine`] holds frameworks,
//!   agents, offers and tasks and the rules of the scheduler API; [`allocator`] decides
//!   who is offered what; [`config`] the flags (Mesos's names); `event_queue` the bounded
//!   queue of a subscriber's events.
//! - Views: read the engine (and the revision counters it keeps) and never change it;
//!   taken inside the actor, written outside it.
//! - Edges: turn requests into calls on the engine through the actor ([`server`]).
//!
//! ```text
//!  schedulers ──HTTP /api/v1/scheduler──▶ http ──Command──▶ ┌────────────┐
//!  tools ─────GET /master/state─────────▶ http ──Inspect──▶ │ actor loop │──▶ allocator
//!  agents ════gRPC AgentService.Connect═▶ agent_link ─────▶ │  (Engine)  │
//!         ◀═══ RunTask / KillTask / Ack ═════════════════════└────────────┘
//!  schedulers ◀── RecordIO events (SUBSCRIBED, OFFERS, UPDATE, ...) ──┘
//! ```
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

// core
pub mod allocator;
pub mod config;
pub mod engine;
mod event_queue;
#[cfg(test)]
mod test_support;

// views
mod views;

// edges
mod agent_link;
mod api;
mod election;
mod handle;
mod http;
mod operator;
mod registry;
mod security;
pub mod server;

pub use config::Config;
pub use server::{run, MasterError};

/// Version reported on `/version`, in MasterInfo and in the state.
pub const VERSION: &str = "1.11.0";

/// The layers of this crate, bottom first (see the crate's doc).
#[cfg(test)]
const LAYERS: mesos_common::layers::Layers = &[
    (
        "core",
        &[
            "allocator",
            "config",
            "engine",
            "event_queue",
            "test_support",
        ],
    ),
    ("views", &["views"]),
    (
        "edges",
        &[
            "agent_link",
            "api",
            "election",
            "handle",
            "http",
            "operator",
            "registry",
            "security",
            "server",
        ],
    ),
];

#[cfg(test)]
#[test]
fn layers_hold() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems =
        mesos_common::layers::check_dir(&src, LAYERS, &["Config", "VERSION", "test_support"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
