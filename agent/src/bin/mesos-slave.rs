//! `mesos-slave`: the agent under its historical name.
include!("../main.rs");
