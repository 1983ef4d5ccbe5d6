//! The `/v2/info` document, in the shape of Marathon 1.4's (`docs/.../examples/info.json`).
//!
//! Strict clients (marathon-python 0.13.0) build objects from it with `cls(**keys)`, so an
//! extra key is an error there: every key below is one Marathon emits and that client
//! accepts, and no other. `marathon_config` reports Marathon's defaults for the settings this
//! implementation does not have, so clients reading them see the usual values.
//!
//! `marathon_config.mesos_leader_ui_url` is the flag's value (null if unset); Marathon
//! reports the detected Mesos leader there when the flag is unset, which the caller may set.

use serde_json::{json, Value};

use crate::config::Config;

/// The build's git commit when the build provides one (as the master's `/state` does).
fn buildref() -> &'static str {
    option_env!("MESOS_RS_GIT_SHA").unwrap_or("unknown")
}

/// The `/v2/info` body. `leader` is the elected Marathon as `host:port`.
pub fn info_json(
    config: &Config,
    leader: Option<&str>,
    elected: bool,
    framework_id: Option<&str>,
    version: &str,
) -> Value {
    json!({
        "name": "marathon",
        "version": version,
        "buildref": buildref(),
        "elected": elected,
        "leader": leader,
        "frameworkId": framework_id,
        "marathon_config": marathon_config(config),
        "zookeeper_config": zookeeper_config(config),
        "event_subscriber": event_subscriber(config),
        "http_config": {
            "http_port": config.http_port,
            "https_port": config.https_port,
        },
    })
}

fn marathon_config(c: &Config) -> Value {
    json!({
        "access_control_allow_origin": c.access_control_allow_origin,
        "checkpoint": c.checkpoint(),
        "decline_offer_duration": c.decline_offer_duration_ms,
        "default_network_name": null,
        "env_vars_prefix": c.env_vars_prefix,
        "executor": "//cmd",
        "failover_timeout": c.failover_timeout_secs,
        "features": [],
        "framework_name": c.framework_name,
        "ha": c.ha(),
        "hostname": c.hostname(),
        "launch_token": 100,
        "launch_token_refresh_interval": 30_000,
        "leader_proxy_connection_timeout_ms": c.leader_proxy_connection_timeout_ms,
        "leader_proxy_read_timeout_ms": c.leader_proxy_read_timeout_ms,
        "local_port_max": c.local_port_max,
        "local_port_min": c.local_port_min,
        "master": redact_credentials(&c.master),
        "max_instances_per_offer": c.max_instances_per_offer,
        "mesos_heartbeat_failure_threshold": c.mesos_heartbeat_failure_threshold,
        "mesos_heartbeat_interval": c.mesos_heartbeat_interval_ms,
        "mesos_leader_ui_url": c.mesos_leader_ui_url,
        "mesos_role": c.mesos_role,
        "mesos_user": c.mesos_user(),
        "min_revive_offers_interval": 5_000,
        "offer_matching_timeout": 1_000,
        "on_elected_prepare_timeout": 180_000,
        "reconciliation_initial_delay": c.reconciliation_initial_delay_ms,
        "reconciliation_interval": c.reconciliation_interval_ms,
        "revive_offers_for_new_apps": true,
        "revive_offers_repetitions": 3,
        "scale_apps_initial_delay": 15_000,
        "scale_apps_interval": 300_000,
        "store_cache": true,
        "task_launch_confirm_timeout": 300_000,
        "task_launch_timeout": c.task_launch_timeout_ms,
        "task_lost_expunge_initial_delay": 300_000,
        "task_lost_expunge_interval": 30_000,
        "task_reservation_timeout": 20_000,
        "webui_url": c.webui_url,
    })
}

fn zookeeper_config(c: &Config) -> Value {
    json!({
        "zk": redact_credentials(&c.zk),
        "zk_compression": c.zk_compression(),
        "zk_compression_threshold": c.zk_compression_threshold,
        "zk_connection_timeout": c.zk_connection_timeout_ms,
        "zk_max_node_size": c.zk_max_node_size,
        "zk_max_versions": c.zk_max_versions,
        "zk_session_timeout": c.zk_session_timeout_ms,
        "zk_timeout": c.zk_timeout_ms,
    })
}

/// Null unless `--event_subscriber` is set, as in Marathon.
fn event_subscriber(c: &Config) -> Value {
    match &c.event_subscriber {
        None => Value::Null,
        Some(kind) => json!({
            "type": kind,
            "http_endpoints": c.http_endpoints().ok().filter(|e| !e.is_empty()),
        }),
    }
}

/// `zk://user:pass@hosts/path` -> `zk://xxxxxxxx:xxxxxxxx@hosts/path`, Marathon's redaction;
/// anything without credentials is returned as written.
fn redact_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://xxxxxxxx:xxxxxxxx@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::BTreeSet;

    fn config(args: &[&str]) -> Config {
        let head = [
            "marathon",
            "--master",
            "zk://m:2181/mesos",
            "--hostname",
            "h1",
        ];
        Config::try_parse_from(head.iter().chain(args)).unwrap()
    }

    fn keys(v: &Value) -> BTreeSet<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    /// Marathon 1.4's keys; each is a parameter of marathon-python 0.13.0's model.
    const TOP: &[&str] = &[
        "name",
        "version",
        "buildref",
        "elected",
        "leader",
        "frameworkId",
        "marathon_config",
        "zookeeper_config",
        "event_subscriber",
        "http_config",
    ];
    const MARATHON_CONFIG: &[&str] = &[
        "access_control_allow_origin",
        "checkpoint",
        "decline_offer_duration",
        "default_network_name",
        "env_vars_prefix",
        "executor",
        "failover_timeout",
        "features",
        "framework_name",
        "ha",
        "hostname",
        "launch_token",
        "launch_token_refresh_interval",
        "leader_proxy_connection_timeout_ms",
        "leader_proxy_read_timeout_ms",
        "local_port_max",
        "local_port_min",
        "master",
        "max_instances_per_offer",
        "mesos_heartbeat_failure_threshold",
        "mesos_heartbeat_interval",
        "mesos_leader_ui_url",
        "mesos_role",
        "mesos_user",
        "min_revive_offers_interval",
        "offer_matching_timeout",
        "on_elected_prepare_timeout",
        "reconciliation_initial_delay",
        "reconciliation_interval",
        "revive_offers_for_new_apps",
        "revive_offers_repetitions",
        "scale_apps_initial_delay",
        "scale_apps_interval",
        "store_cache",
        "task_launch_confirm_timeout",
        "task_launch_timeout",
        "task_lost_expunge_initial_delay",
        "task_lost_expunge_interval",
        "task_reservation_timeout",
        "webui_url",
    ];
    const ZOOKEEPER_CONFIG: &[&str] = &[
        "zk",
        "zk_compression",
        "zk_compression_threshold",
        "zk_connection_timeout",
        "zk_max_node_size",
        "zk_max_versions",
        "zk_session_timeout",
        "zk_timeout",
    ];

    #[test]
    fn keys_are_marathons() {
        let info = info_json(&config(&[]), None, false, None, "1.4.8");
        assert_eq!(keys(&info), set(TOP));
        assert_eq!(keys(&info["marathon_config"]), set(MARATHON_CONFIG));
        assert_eq!(keys(&info["zookeeper_config"]), set(ZOOKEEPER_CONFIG));
        assert_eq!(
            keys(&info["http_config"]),
            set(&["http_port", "https_port"])
        );
    }

    #[test]
    fn defaults_and_unknowns() {
        let info = info_json(&config(&[]), None, false, None, "1.4.8");
        assert_eq!(info["name"], "marathon");
        assert_eq!(info["version"], "1.4.8");
        assert_eq!(info["elected"], false);
        assert_eq!(info["leader"], Value::Null);
        assert_eq!(info["frameworkId"], Value::Null);
        assert_eq!(info["event_subscriber"], Value::Null);
        let m = &info["marathon_config"];
        assert_eq!(m["master"], "zk://m:2181/mesos");
        assert_eq!(m["hostname"], "h1");
        assert_eq!(m["ha"], true);
        assert_eq!(m["checkpoint"], true);
        assert_eq!(m["failover_timeout"], 604_800);
        assert_eq!(m["task_launch_timeout"], 300_000);
        assert_eq!(m["decline_offer_duration"], 120_000);
        assert_eq!(m["leader_proxy_read_timeout_ms"], 10_000);
        assert_eq!(m["access_control_allow_origin"], Value::Null);
        assert_eq!(m["webui_url"], Value::Null);
        let z = &info["zookeeper_config"];
        assert_eq!(z["zk"], "zk://localhost:2181/marathon");
        assert_eq!(z["zk_max_node_size"], 1_024_000);
        assert_eq!(z["zk_max_versions"], 50);
        assert_eq!(info["http_config"]["http_port"], 8080);
        assert_eq!(info["http_config"]["https_port"], 8443);
    }

    #[test]
    fn values_follow_the_flags() {
        let c = config(&[
            "--zk",
            "zk://u:secret@z1:2181,z2:2181/marathon",
            "--http_port",
            "9090",
            "--disable_ha",
            "--event_subscriber",
            "http_callback",
            "--http_endpoints",
            "http://a/cb, http://b/cb",
        ]);
        let info = info_json(&c, Some("h1:9090"), true, Some("fw-1"), "1.4.8");
        assert_eq!(info["leader"], "h1:9090");
        assert_eq!(info["frameworkId"], "fw-1");
        assert_eq!(info["elected"], true);
        assert_eq!(info["marathon_config"]["ha"], false);
        assert_eq!(
            info["zookeeper_config"]["zk"],
            "zk://xxxxxxxx:xxxxxxxx@z1:2181,z2:2181/marathon"
        );
        assert_eq!(info["http_config"]["http_port"], 9090);
        assert_eq!(
            info["event_subscriber"],
            json!({"type": "http_callback", "http_endpoints": ["http://a/cb", "http://b/cb"]})
        );
        let text = info.to_string();
        assert!(!text.contains("secret"), "{text}");
    }

    /// Prints a document for checking against a real client:
    /// `cargo test -p marathon --lib info::tests::print -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn print() {
        let c = config(&["--event_subscriber", "http_callback"]);
        let info = info_json(&c, Some("h1:8080"), true, Some("fw-1"), "1.4.8");
        println!("{info}");
        println!("{}", info_json(&config(&[]), None, false, None, "1.4.8"));
    }
}
