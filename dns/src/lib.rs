//! `mesos-dns`: DNS names for every task of a Mesos cluster, compatible with Mesos-DNS
//! (same names, configuration file and HTTP API), kept current by the master's operator
//! event stream instead of polling.
#![forbid(unsafe_code)]

pub mod config;
pub mod core;
pub mod edge;
pub mod service;

pub use config::Config;
pub use service::{run, Listeners, ServiceError};
