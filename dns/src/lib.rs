//! `mesos-dns`: DNS names for every task of a Mesos cluster, compatible with Mesos-DNS
//! (the same names, configuration file and HTTP API), kept current by the master's
//! operator event stream instead of polling every `refreshSeconds`.
//!
//! # Layers
//!
//! - core (pure, no I/O): [`config`] (Mesos-DNS's `config.json`: keys, defaults, checks),
//!   [`core::labels`] (names to DNS labels), [`core::cluster`] (what DNS knows of the
//!   cluster, changed by [`core::cluster::Change`]s), [`core::records`] (Mesos-DNS's
//!   record names for a cluster), [`core::zone`] (answers to questions, by its rules).
//! - edges: [`edge::master`] (leader via ZooKeeper or a masters list, GET_MASTER,
//!   SUBSCRIBE on `/api/v1`) with [`edge::wire`] (operator protobufs to core types),
//!   [`edge::dns`] (hickory-server handler, UDP and TCP), [`edge::forward`] (upstream
//!   resolvers), [`edge::http`] (`/v1/...`).
//! - [`service`]: wires them; `run(listeners, config, shutdown)`.
//!
//! ```text
//!   ZooKeeper / masters ─▶ edge::master ─SUBSCRIBE events─▶ edge::wire ─Change─▶ updater
//!                                                                   Cluster::apply
//!                                                      records::build ─▶ Zone (swapped)
//!   DNS client ─UDP/TCP─▶ hickory-server ─▶ edge::dns ─┬─ in the domain ─▶ Zone::answer
//!                                                      └─ elsewhere ─▶ edge::forward
//!   HTTP client ─▶ edge::http ─▶ Zone's records
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod core;
pub mod edge;
pub mod service;

pub use config::Config;
pub use service::{run, Listeners, ServiceError};

/// The crate's layers, bottom first, checked by a unit test.
#[cfg(test)]
const LAYERS: mesos_common::layers::Layers = &[
    ("core", &["config", "core"]),
    ("edges", &["edge"]),
    ("service", &["service"]),
];

#[cfg(test)]
mod tests {
    #[test]
    fn modules_depend_one_way() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let problems = mesos_common::layers::check_dir(&src, super::LAYERS, &["Config"]);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
