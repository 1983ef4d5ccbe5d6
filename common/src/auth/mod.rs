//! Authentication and authorization shared by the master and the agent, as Mesos does
//! them: credentials files ([`credentials`]), HTTP Basic and Bearer authentication by
//! realm ([`http`]), executor tokens ([`jwt`]) and the local authorizer's ACLs
//! ([`acls`]).

pub mod acls;
pub mod credentials;
pub mod http;
pub mod jwt;

pub use acls::{Acls, Action, Object};
pub use credentials::Credential;
pub use http::{Authenticator, HttpAuth, Principal};

/// Realms of the master's endpoints (Mesos's names).
pub const MASTER_READONLY_REALM: &str = "mesos-master-readonly";
pub const MASTER_READWRITE_REALM: &str = "mesos-master-readwrite";
pub const MASTER_SCHEDULER_REALM: &str = "mesos-master-scheduler";
/// Realms of the agent's endpoints.
pub const AGENT_READONLY_REALM: &str = "mesos-agent-readonly";
pub const AGENT_READWRITE_REALM: &str = "mesos-agent-readwrite";
pub const AGENT_EXECUTOR_REALM: &str = "mesos-agent-executor";

/// An `--http_authenticators` value: only Mesos's built-in `basic` exists here.
pub fn check_http_authenticators(value: &str) -> Result<(), String> {
    if value.split(',').any(|a| a.trim() != "basic") {
        return Err(format!(
            "HTTP authenticator '{value}' not found. Check the spelling (compare to 'basic')"
        ));
    }
    Ok(())
}

/// Mesos's `X.json` aliases and a process's id prefix name the same endpoint.
fn endpoint<'a>(path: &'a str, process: &str) -> &'a str {
    let path = path
        .strip_prefix(process)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path);
    path.strip_suffix(".json").unwrap_or(path)
}

/// The realm of a master endpoint (None: open), as Mesos's master routes them.
pub fn master_realm(path: &str) -> Option<&'static str> {
    if path.starts_with("/files/") {
        return Some(MASTER_READONLY_REALM);
    }
    match endpoint(path, "/master") {
        "/api/v1/scheduler" => Some(MASTER_SCHEDULER_REALM),
        "/api/v1"
        | "/teardown"
        | "/reserve"
        | "/unreserve"
        | "/create-volumes"
        | "/destroy-volumes"
        | "/weights"
        | "/quota"
        | "/maintenance/schedule"
        | "/machine/down"
        | "/machine/up"
        | "/logging/toggle" => Some(MASTER_READWRITE_REALM),
        p if p.starts_with("/profiler/") => Some(MASTER_READWRITE_REALM),
        "/state"
        | "/state-summary"
        | "/frameworks"
        | "/slaves"
        | "/tasks"
        | "/roles"
        | "/flags"
        | "/maintenance/status"
        | "/metrics/snapshot"
        | "/registrar(1)/registry" => Some(MASTER_READONLY_REALM),
        _ => None,
    }
}

/// The realm of an agent endpoint (None: open), as Mesos's agent routes them.
pub fn agent_realm(path: &str) -> Option<&'static str> {
    if path.starts_with("/files/") {
        return Some(AGENT_READONLY_REALM);
    }
    match endpoint(path, "/slave(1)") {
        "/api/v1/executor" => Some(AGENT_EXECUTOR_REALM),
        "/api/v1" => Some(AGENT_READWRITE_REALM),
        "/state"
        | "/flags"
        | "/monitor/statistics"
        | "/containers"
        | "/containerizer/debug"
        | "/metrics/snapshot" => Some(AGENT_READONLY_REALM),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_endpoints_fall_in_mesos_realms() {
        let ro = Some(MASTER_READONLY_REALM);
        let rw = Some(MASTER_READWRITE_REALM);
        for (path, realm) in [
            ("/api/v1/scheduler", Some(MASTER_SCHEDULER_REALM)),
            ("/master/api/v1/scheduler", Some(MASTER_SCHEDULER_REALM)),
            ("/api/v1", rw),
            ("/master/api/v1", rw),
            ("/master/teardown", rw),
            ("/teardown", rw),
            ("/weights", rw),
            ("/quota", rw),
            ("/master/state", ro),
            ("/state.json", ro),
            ("/master/state-summary", ro),
            ("/frameworks", ro),
            ("/slaves", ro),
            ("/master/tasks.json", ro),
            ("/roles", ro),
            ("/flags", ro),
            ("/metrics/snapshot", ro),
            ("/files/read", ro),
            ("/maintenance/status", ro),
            ("/health", None),
            ("/master/health", None),
            ("/redirect", None),
            ("/version", None),
            ("/system/stats.json", None),
            ("/", None),
            ("/app.js", None),
            ("/mesos.internal.AgentService/Connect", None),
            ("/masterstate", None),
        ] {
            assert_eq!(master_realm(path), realm, "{path}");
        }
    }

    #[test]
    fn agent_endpoints_fall_in_mesos_realms() {
        let ro = Some(AGENT_READONLY_REALM);
        for (path, realm) in [
            ("/api/v1/executor", Some(AGENT_EXECUTOR_REALM)),
            ("/slave(1)/api/v1/executor", Some(AGENT_EXECUTOR_REALM)),
            ("/api/v1", Some(AGENT_READWRITE_REALM)),
            ("/slave(1)/api/v1", Some(AGENT_READWRITE_REALM)),
            ("/state", ro),
            ("/slave(1)/state.json", ro),
            ("/flags", ro),
            ("/monitor/statistics.json", ro),
            ("/containers", ro),
            ("/metrics/snapshot", ro),
            ("/files/browse", ro),
            ("/health", None),
            ("/slave(1)/health", None),
            ("/version", None),
        ] {
            assert_eq!(agent_realm(path), realm, "{path}");
        }
    }
}
