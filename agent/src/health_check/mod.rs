//! Health checks of `TaskInfo.health_check`, run next to the task as Mesos's executors run
//! them: COMMAND checks in the task's environment (inside the container for Docker tasks,
//! through the Engine's exec API), HTTP and TCP checks against the task's port.
//!
//! - [`checker`]: the rules (delay, interval, grace period, consecutive failures), pure;
//! - [`runner`]: one tokio task per checked task that sleeps, probes with the timeout,
//!   asks the checker and sends the core a [`runner::HealthReport`] when the task's
//!   health is to be reported (and whether to kill it).
//!
//! ```text
//!   core ──start(probe, timing)──▶ runner ──probe──▶ sh -c / docker exec / HTTP / TCP
//!    ▲                              │ checker.on_result
//!    └────── HealthReport ◀─────────┘ (core: TASK_RUNNING with `healthy`, kill)
//! ```

pub mod checker;
pub mod runner;

pub use checker::{Checker, Report, Timing};
pub use runner::{HealthHandle, HealthReport, Probe};
