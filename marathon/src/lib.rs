//! A Marathon-compatible framework: apps as JSON on `/v2/apps`, kept running on Mesos.
//!
//! Layers (each imports only the layers above it in this list):
//! - core (pure, synchronous, time as an input):
//!   - `app`: app definitions, their defaults, old and new JSON forms, validation;
//!   - `instance`: an instance (one task) and its condition;
//!   - `placement`: offers and instances in, launches and rejection reasons out;
//!   - `tracker`: apps vs. instances: replacement, backoff, launch timeout, unreachable,
//!     kills, offer interest;
//!   - `matcher`: offers against the tracker's demand, through placement;
//!   - `deployment`: plans (steps by dependency depth), running them step by step against
//!     the observed instances (the tracker's holds, rolling-restart kills within
//!     `upgradeStrategy`), the `readinessChecks` model;
//!   - `health`: per instance and health check Marathon's health records; which probes
//!     are due, what an outcome means (grace period, consecutive failures, kills);
//!   - `group`: the group tree apps live in, group updates (`scaleBy`, nested groups),
//!     dependencies expanded to apps and checked (unknown, cycles);
//!   - `events`: the event bus's events, each with Marathon's JSON keys;
//!   - `service_ports`: service ports from `--local_port_min/max`;
//!   - `pod`: pods (`/v2/pods`), their rules, and the run spec a pod is to the rest.
//! - views: `views` (Marathon's JSON for apps, tasks, failures), `pod_status`
//!   (`/v2/pods/{id}::status`), `info` (`/v2/info`).
//! - edges: `config` (flags; `auth` the authentication flags), `storage` (one trait; ZooKeeper, embedded, memory),
//!   `event_bus` (fan-out of events to `/v2/events` subscribers, slow ones cut),
//!   `wire`, `task_info` and `task_group` (Mesos protobufs in and out: an app's TaskInfo,
//!   a pod's LAUNCH_GROUP; health checks run by the agent included), `service` (the leading actor; it runs Marathon's health probes and
//!   readiness checks, and persists and executes the deployments),
//!   `election` (ZooKeeper leader latch), `http` (REST API v2 behind HTTP Basic when
//!   `--http_credentials` is set, and the standby proxy),
//!   `server` (wires them: [`run`]).
//!
//! ```text
//!   HTTP /v2 ──▶ http ──Command──▶ service ──▶ deployment ─holds/kills─▶ tracker
//!                  ▲ (standby: proxy)  │ ▲         matcher / placement / group (pure cores)
//!                  │                   │ └── Mesos events (scheduler client in mesos-cli)
//!   election ──Leadership──┘           ├──▶ storage (ZooKeeper or embedded), Mesos calls
//!   /v2/events ◀── event_bus ◀─publish─┘ (and http: api_post_event, stream attach/detach)
//! ```
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod config;
pub mod deployment;
pub mod election;
pub mod event_bus;
pub mod events;
pub mod group;
pub mod health;
pub mod http;
pub mod https;
pub mod info;
pub mod instance;
pub mod matcher;
pub mod placement;
pub mod pod;
pub mod pod_status;
pub mod server;
pub mod service;
pub mod service_ports;
pub mod storage;
pub mod task_group;
pub mod task_info;
pub mod tracker;
pub mod views;
pub mod wire;

pub use config::Config;
pub use server::{run, run_listeners, Listeners, MarathonError};

/// The version `/v2/info` reports: Marathon's API generation, then ours.
pub const VERSION: &str = concat!("1.10.0-mesos-rs-", env!("CARGO_PKG_VERSION"));
