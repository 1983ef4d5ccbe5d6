//! Views: what the master shows of itself, built from what the engine exposes and never
//! changing it. The edges take a view inside the actor (cheap: reference counts and
//! revision numbers) and write it out outside the actor.
//!
//! - [`state_json`]: `/master/state` and its family (`state-summary`, `frameworks`, `slaves`,
//!   `tasks`, `roles`, `metrics/snapshot`, `version`) in Mesos's JSON shapes.
//! - [`operator`]: the operator API's `GET_*` answers, as protobuf messages.
//! - [`authorized`]: those answers with what the `view_*` ACLs hide taken out.

pub(crate) mod authorized;
pub(crate) mod operator;
pub(crate) mod state_json;
