//! marathon-lb: keeps HAProxy in front of Marathon's apps, with marathon-lb's labels and
//! flags. Every service port of an app (`servicePort` of BRIDGE port mappings,
//! `portDefinitions[].port` on host networking) becomes an HAProxy frontend balancing over
//! the app's running, healthy, ready tasks; `HAPROXY_{n}_VHOST` routes host names on port 80.
//!
//! Layers (each imports only the layers above it in this list):
//! - core (pure, synchronous):
//!   - `model`: apps and tasks as plain values;
//!   - `labels`: `HAPROXY_*` labels read and checked (a bad value names its label);
//!   - `events`: server-sent-event frames and the Marathon events that matter;
//!   - `services`: apps + flags -> the services to serve and the ports skipped, with reasons;
//!   - `render`: services -> HAProxy configuration text;
//!   - `drain`: which servers a leaving task takes out through the runtime API, at once;
//!   - `follow`: snapshots and events in, configurations, runtime commands and fetches out.
//! - edges: `wire` (Marathon's JSON into the model), `config` (flags), `marathon` (the
//!   listing and event stream over HTTP), `driver` (write, `haproxy -c`, reload),
//!   `runner` (wires them: [`run`]).
//!
//! ```text
//!   GET /v2/apps ──wire──▶ snapshot ─┐
//!   /v2/events ──events──▶ event ────┼─▶ follow ──▶ services ──▶ render ──▶ driver ──▶ haproxy
//!   (404: poll every second) ────────┘     │                                  -c, then -D -x -sf
//!                                          └─ TASK_KILLING, ended, unhealthy ──▶ drain ──▶ runtime
//!                                             API: `set server b/s state drain` (ms, no reload)
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod drain;
pub mod driver;
pub mod events;
pub mod follow;
pub mod labels;
pub mod marathon;
pub mod model;
pub mod render;
pub mod runner;
pub mod services;
pub mod wire;

pub use config::Config;
pub use runner::{run, RunError};

#[cfg(test)]
mod tests {
    const LAYERS: mesos_common::layers::Layers = &[
        (
            "core",
            &[
                "model", "labels", "events", "services", "render", "drain", "follow",
            ],
        ),
        ("edges", &["wire", "config", "marathon", "driver", "runner"]),
    ];

    #[test]
    fn layers_hold() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let problems = mesos_common::layers::check_dir(&src, LAYERS, &[]);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
