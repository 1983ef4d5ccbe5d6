//! Mesos command-line tools and the scheduler client library they share.
//!
//! - [`scheduler`]: the v1 scheduler API client, the `mesos-scheduler` crate (master
//!   detection, SUBSCRIBE stream, calls, heartbeat watchdog, failover), which Marathon
//!   and the simulator use too.
//! - [`execute`]: `mesos-execute`: flags, the TaskInfo they describe, and the small
//!   framework that runs it to completion.
//! - [`ps`]: `mesos-ps`: the task table built from the master's `/master/state`.
//! - [`dispatch`]: `mesos <command>`: one of its [`verbs`] or `mesos-<command>`.
//! - [`verbs`]: `mesos agent|framework|task ...`, the Mesos CLI's verbs, over [`master`]
//!   (the master's address and endpoints) and [`exec`] (`task exec`: a session in a task's
//!   container through its agent's operator API).
//! - [`dcos`]: `dcos marathon app|deployment|task|group ...`, `dcos node|service|task`: the
//!   DC/OS CLI's commands against Marathon, the master and the agents.
//! - `mesos-local` (binary, feature `local`): a master and agents in one process.
//!
//! ```text
//!   mesos ps ──exec──▶ mesos-ps ──GET /master/state──▶ table
//!   mesos execute ──exec──▶ mesos-execute ──execute::run──▶ scheduler ◀──▶ master
//!   mesos task list ──verbs──▶ master::Master ──GET /tasks──▶ master
//!   mesos task exec ──verbs──▶ exec ──LAUNCH_NESTED_CONTAINER_SESSION──▶ agent
//! ```
#![forbid(unsafe_code)]

pub mod dcos;
pub mod dispatch;
pub mod exec;
pub mod execute;
pub mod master;
pub mod ps;
pub mod verbs;
pub use mesos_scheduler as scheduler;
