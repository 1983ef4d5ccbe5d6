//! A seeded chaos harness: a real cluster (three ZooKeeper servers, three masters, three
//! Docker agents, two Marathons) runs Marathon apps while a schedule of faults, a pure
//! function of the seed, kills, pauses and cuts its parts; invariants are checked all the
//! time and at the end. A failing seed prints its fault history and the command that
//! replays it.
//!
//! ```text
//!   seed ─► schedule (pure) ─► run: change ─► fault ─► restore ─► converge ─► next step
//!                                    │                                 ▲
//!                                    └── poller: /master/state every 250 ms ─► Checker
//! ```
//!
//! Parts: [`schedule`] (the faults of a seed), [`invariants`] (pure checks over what was
//! observed), [`apps`] (the Marathon apps), [`cluster`] (the processes and their faults),
//! [`run`] (one seed end to end), [`report`] (the benchmark's table).

pub mod apps;
pub mod cluster;
pub mod invariants;
pub mod report;
pub mod run;
pub mod schedule;

pub use run::{run_seed, Options, Report};
