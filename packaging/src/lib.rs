//! `mesos-init-wrapper`: how the packages' systemd units start `mesos-master`, `mesos-agent`
//! and `marathon` from Mesosphere-style configuration (`/etc/mesos/zk`, one file per flag
//! in `/etc/mesos-master/`, `/etc/mesos-slave/`, `/etc/marathon/conf/`, variables in
//! `/etc/default/*`), and stops a bad configuration at start with one line naming the file.
//! The RPM and .deb recipes that install it live next to this crate (`packaging/`).
//!
//! Layers (each names only its own and lower ones; `layers_hold` checks):
//!
//! ```text
//!  check    the program's own Config parser and validate() judge the plan;
//!    ▼      a rejection becomes "<file>: <problem with --flag>"
//!  plan     files + environment + command line ──► Plan { flags with origins, variables }
//!    ▼
//!  core     service (paths and names per service), envfile (/etc/default syntax),
//!           files (the read-only file seam: Disk, or Memory in tests)
//! ```
//!
//! The binary (`src/bin/mesos-init-wrapper.rs`) gathers, plans, sets the variables, checks,
//! then execs the program, so that systemd supervises the program itself.
#![forbid(unsafe_code)]

pub mod check;
pub mod envfile;
pub mod files;
pub mod plan;
pub mod service;

#[cfg(test)]
mod fuzz;

pub use check::check;
pub use plan::{plan, ConfigError, Origin, Plan};
pub use service::Service;

/// Exit status for a configuration error (sysexits' EX_CONFIG): the units list it in
/// `RestartPreventExitStatus=`, so a bad file fails the unit instead of restarting it.
pub const EXIT_CONFIG: i32 = 78;

#[cfg(test)]
const LAYERS: mesos_common::layers::Layers = &[
    ("core", &["files", "envfile", "service"]),
    ("plan", &["plan"]),
    ("check", &["check", "fuzz"]),
];

#[test]
fn layers_hold() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = mesos_common::layers::check_dir(&src, LAYERS, &[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
