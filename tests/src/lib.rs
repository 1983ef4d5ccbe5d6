//! Harness for the cross-process tests in `tests/tests/*.rs`.
//!
//! The tests start the real binaries built by `cargo build --workspace --bins` (found next to
//! the test executable, in `target/<profile>/`) on loopback ports, and talk to them only over
//! the documented HTTP APIs with plain `serde_json::Value`s. No project crate is used, so a
//! test passes only if the wire contract itself is right.
//!
//! Parts:
//! - [`process`]: locating binaries, free ports, child processes (kill -9, restart, logs).
//! - [`cluster`]: one master plus N agents in a private temp dir, readiness, state queries.
//! - [`credentials`]: `--credentials` / `--credential` files and HTTP Basic values.
//! - [`scheduler`]: a v1 scheduler over HTTP: SUBSCRIBE stream, events, calls.
//! - [`recordio`]: the small RecordIO decoder the scheduler reads its stream with.
//! - [`http`]: plain and raw HTTP requests (for status-code and framing checks).
//! - [`json`]: builders for calls and tasks, accessors for events, offers and ids.
//! - [`docker`]: the local test image, the docker CLI, Docker task builders, label-based
//!   container cleanup and a proxy that makes the daemon unreachable.
//! - [`zookeeper`]: ZooKeeper servers, masters electing a leader through them, a proxy to
//!   cut a process off, and a third-party-style leader detector (the HA tests).
//! - [`marathon`] / [`marathon_lb`]: a Marathon process and its REST calls; marathon-lb with
//!   its HAProxy files, and a client that loops requests through a service port.
//! - [`mesos_dns`]: a `mesos-dns` process and a real DNS client asking it.
//! - [`tls`]: the test CA, the `LIBPROCESS_SSL_*` environment, HTTPS clients, and
//!   processes started with TLS on.
//! - [`python_clients`]: the third-party Python clients (marathon-python, pymesos) of
//!   `scripts/client-venv.sh`.
//! - [`browser`]: ChromeDriver and a headless Chromium session, for the dashboard tests.
//! - [`chaos`]: the seeded chaos harness: a full HA cluster, a fault schedule from a seed,
//!   invariants checked while faults hit it.
//! - [`proto`]: Mesos protobuf types generated from the `.proto` files, for protobuf tests.
//!
//! ```text
//!  test ──► Cluster::start ──► mesos-master ◄── mesos-agent (child processes, logs in tmp)
//!    │                              ▲
//!    └──► Scheduler ── POST /api/v1/scheduler (SUBSCRIBE: chunked RecordIO events)
//!                    ── POST calls with Mesos-Stream-Id ──► 202 / 4xx
//! ```
//!
//! Every test gets its own ports and temp dir, so tests run in parallel. On a failing test
//! the processes' log tails are printed and the temp dir is kept for inspection.
#![forbid(unsafe_code)]

pub mod browser;
pub mod chaos;
pub mod cluster;
pub mod credentials;
pub mod docker;
pub mod http;
pub mod json;
pub mod marathon;
pub mod marathon_lb;
pub mod mesos_dns;
pub mod process;
pub mod proto;
pub mod python_clients;
pub mod recordio;
pub mod scheduler;
pub mod tls;
pub mod zookeeper;

pub use cluster::{Cluster, ClusterOptions, MasterTask};
pub use json::*;
pub use process::{binary, free_port, run_command, CommandOutput, Proc};
pub use scheduler::Scheduler;

use std::time::Duration;

/// How long a test waits for anything that should happen: generous, because the tests assert
/// behaviour, never speed.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Polls `probe` every 100 ms until it yields a value; panics naming `what` after `timeout`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
