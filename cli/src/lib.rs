//! Mesos command-line tools and the scheduler client library they share.
//!
//! - [`scheduler`]: the v1 scheduler API client, the `mesos-scheduler` crate (master
//!   detection, SUBSCRIBE stream, calls, heartbeat watchdog, failover), which Marathon
//!   and the simulator use too.
//! - [`execute`]: `mesos-execute`: flags, the TaskInfo they describe, and the small
//!   framework that runs it to completion.
//! - [`ps`]: `mesos-ps`: the task table built from the master's `/master/state`.
//! - [`dispatch`]: `mesos <command>`: finding and running `mesos-<command>`.
//! - [`dcos`]: `dcos marathon app|deployment|task ...`, the DC/OS CLI's Marathon commands.
//! - `mesos-local` (binary, feature `local`): a master and agents in one process.
//!
//! ```text
//!   mesos ps ──exec──▶ mesos-ps ──GET /master/state──▶ table
//!   mesos execute ──exec──▶ mesos-execute ──execute::run──▶ scheduler ◀──▶ master
//! ```
#![forbid(unsafe_code)]

pub mod dcos;
pub mod dispatch;
pub mod execute;
pub mod ps;
pub use mesos_scheduler as scheduler;
