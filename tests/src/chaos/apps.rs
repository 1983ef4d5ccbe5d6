//! The Marathon apps the chaos harness keeps running: light Docker containers (busybox)
//! and plain commands, some health-checked, one with `hostname:UNIQUE`.

use serde_json::{json, Value};

use crate::docker::IMAGE;

/// One app: its definition and what the invariants need to know of it.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub id: &'static str,
    pub instances: u32,
    /// `upgradeStrategy` as (minimumHealthCapacity, maximumOverCapacity).
    pub strategy: (f64, f64),
    pub health_checked: bool,
    pub unique: bool,
    pub definition: Value,
}

impl AppSpec {
    /// Marathon's safe id (`chaos_web`), which its task ids start with.
    pub fn safe_id(&self) -> String {
        self.id.trim_start_matches('/').replace('/', "_")
    }
}

/// The apps, in the order the schedule's app indexes name them.
pub fn apps() -> Vec<AppSpec> {
    let docker = |network: &str| {
        let mut d = json!({"type": "DOCKER", "docker": {"image": IMAGE, "network": network}});
        if network == "BRIDGE" {
            d["docker"]["portMappings"] =
                json!([{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}]);
        }
        d
    };
    vec![
        // A web server checked by Marathon over HTTP through its host port, rolling with
        // room for one extra instance.
        AppSpec {
            id: "/chaos/web",
            instances: 2,
            strategy: (0.5, 0.5),
            health_checked: true,
            unique: false,
            definition: json!({
                "id": "/chaos/web", "cpus": 0.05, "mem": 16, "instances": 2,
                "cmd": "mkdir -p /www && echo ok > /www/index.html && exec busybox httpd -f -p 8080 -h /www",
                "container": docker("BRIDGE"),
                "env": {"ROUND": "0"},
                "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
                    "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 2,
                    "maxConsecutiveFailures": 3}],
                "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
            }),
        },
        // One instance per host, and never an extra one while rolling.
        AppSpec {
            id: "/chaos/uniq",
            instances: 2,
            strategy: (0.5, 0.0),
            health_checked: false,
            unique: true,
            definition: json!({
                "id": "/chaos/uniq", "cpus": 0.05, "mem": 16, "instances": 2,
                "cmd": "exec sleep 1000000",
                "container": docker("HOST"),
                "env": {"ROUND": "0"},
                "constraints": [["hostname", "UNIQUE"]],
                "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
            }),
        },
        // A plain command with the agent's COMMAND check, Marathon's default strategy.
        AppSpec {
            id: "/chaos/cmd",
            instances: 2,
            strategy: (1.0, 1.0),
            health_checked: true,
            unique: false,
            definition: json!({
                "id": "/chaos/cmd", "cpus": 0.05, "mem": 16, "instances": 2,
                "cmd": "exec sleep 1000000",
                "env": {"ROUND": "0"},
                "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"},
                    "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 5,
                    "maxConsecutiveFailures": 3}],
            }),
        },
    ]
}
