//! Domain types and small codecs shared by the master, the agent and the CLI tools.
//!
//! - [`resources`]: Mesos resources (scalars, ranges, sets, reservations) and attributes,
//!   parsed from Mesos's text and JSON syntax, with the arithmetic the allocator needs.
//! - [`api`]: content negotiation and error answers of the v1 HTTP APIs (JSON or
//!   protobuf by Content-Type and Accept).
//! - [`flags`]: the value syntax of Mesos flags (durations such as `10secs`, byte sizes,
//!   `--no-flag` booleans, `file://` values) applied before `clap` parses a command line.
//! - [`recordio`]: the `<length>\n<bytes>` framing of the v1 HTTP event streams, with a
//!   streaming decoder that bounds record size.
//! - [`wire`]: conversions between these types and the Mesos v1 protobuf messages.
//! - [`ids`]: Mesos id formats (`<master>-0000`, `<master>-S3`, `<master>-O7`).
//! - [`zk`]: ZooKeeper URLs, Mesos's leader-election layout, bounded sessions and the
//!   leader detector used by agents, schedulers and `mesos-resolve`.
//! - [`auth`]: credentials files, HTTP Basic and executor-token authentication by realm,
//!   and the local authorizer's ACLs.
//! - [`tls`]: the `LIBPROCESS_SSL_*` settings and the rustls configurations of listeners
//!   and clients; [`serve`]: the serving edge of every listener (TLS with downgrade,
//!   HTTP/1.1 and HTTP/2, header and body timeouts, connection limits, graceful shutdown).
//! - [`exposure`]: whether a listener is reachable beyond loopback, and the warning every
//!   binary gives when it is and has authentication off.
//! - [`layers`]: a check that a crate's modules depend one way (core, views, edges), run
//!   by the master's and the agent's tests.
//!
//! ```text
//!   argv / MESOS_* env ──flags──▶ clap config structs
//!   "cpus:4;ports:[..]" ──resources──▶ Resources ──▶ allocator / agent
//!   HTTP chunks ──recordio::Decoder──▶ records ──▶ JSON / protobuf events
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod exposure;
pub mod flags;
pub mod ids;
pub mod layers;
pub mod logging;
pub mod recordio;
pub mod resources;
pub mod serve;
pub mod signals;
pub mod tls;
pub mod wire;
pub mod zk;

#[cfg(test)]
mod fuzz;
