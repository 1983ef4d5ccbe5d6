//! A Marathon-compatible framework: apps as JSON on `/v2/apps`, kept running on Mesos.
//!
//! Layers (each imports only the ones above it in this list):
//! - core (pure, synchronous, time as an input): `placement` (offers and instances in,
//!   launches and rejection reasons out).
//! - edges: `storage` (one trait, a ZooKeeper store and an embedded on-disk store).
//! - `config` (Marathon's flags and `MARATHON_*` variables, checked before anything starts)
//!   and `info` (the `/v2/info` document built from it).
#![forbid(unsafe_code)]

pub mod config;
pub mod info;
pub mod placement;
pub mod storage;
