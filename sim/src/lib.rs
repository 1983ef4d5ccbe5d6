//! Simulated agents and benchmark frameworks, for measuring the master at scale.
//!
//! Parts:
//! - [`agent`]: one simulated agent speaking the real agent protocol (register, pings,
//!   tasks that "run" for their `sleep` time, reliable status updates, kills).
//! - [`fleet`]: thousands of them in one process, each on its own gRPC stream, carried by
//!   one or a few HTTP/2 connections, to a fixed master or to whichever leads the election.
//! - [`framework`]: the benchmark framework, on the project's scheduler library, in JSON
//!   or protobuf.
//! - [`alloc_bench`]: the allocator's DeclineOffers benchmark, in process.
//! - [`process`]: the real `mesos-master` / `mesos-agent` binaries as child processes.
//! - [`bench`]: scenarios a to e, and [`failover`] (f, masters electing through ZooKeeper);
//!   [`report`]: the table, JSON and markdown they produce.
//! - [`marathon`]: Marathon's benchmarks (`mesos-sim marathon`): a real `marathon` on a
//!   real master and simulated agents, driven over its REST API.
//! - [`seed`]: every random choice derived from one seed.
//!
//! ```text
//!                    ┌──────────── mesos-sim (one process) ───────────────┐
//!  mesos-master ◀════╪═ gRPC streams ══ Fleet ─▶ SimAgent × N (tasks, timers)
//!   (child)     ◀────╪─ v1 scheduler API ── Workload(s) (scheduler library)
//!               ─────╪─ /master/state, /proc/<pid>/status ─▶ bench ─▶ Report
//!                    └────────────────────────────────────────────────────┘
//! ```
#![forbid(unsafe_code)]

pub mod agent;
pub mod alloc_bench;
pub mod bench;
pub mod failover;
pub mod fleet;
pub mod framework;
pub mod marathon;
pub mod marathon_events;
pub mod process;
pub mod report;
pub mod seed;
