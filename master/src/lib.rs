//! A Mesos-compatible master.
//!
//! Parts:
//! - [`config`]: flags (`--port`, `--allocation_interval`, ...) with Mesos's names.
//! - [`allocator`]: a pure hierarchical-DRF allocator (events in, allocations out; time
//!   is an argument).
//! - [`engine`]: frameworks, agents, tasks and offers; the rules of the scheduler API.
//! - [`server`]: the actor that owns the engine, its timers, and [`run`].
//! - `election`: leader election through ZooKeeper (`--zk`), leading on a lease;
//!   `registry`: what a new leader recovers (agents, frameworks, weights), kept in ZooKeeper.
//! - `operator`: the operator API v1 (`POST /api/v1`): queries, agent and role actions,
//!   and the SUBSCRIBE event stream.
//! - `http`: `/api/v1/scheduler` and the JSON endpoints; `agent_link`: the agents' gRPC
//!   stream; `state_json`: Mesos's JSON shapes.
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

mod agent_link;
pub mod allocator;
mod api;
pub mod config;
mod election;
pub mod engine;
mod event_queue;
mod handle;
mod http;
mod operator;
mod registry;
pub mod server;
#[cfg(test)]
mod test_support;
mod views;

pub use config::Config;
pub use server::{run, MasterError};

/// Version reported on `/version`, in MasterInfo and in the state.
pub const VERSION: &str = "1.11.0";
