//! Marathon's rules for an app definition. Every failing path is reported at once, as
//! Marathon's 422 `details` list.

use std::collections::{BTreeMap, BTreeSet};

use super::{AppDefinition, ContainerType, NetworkMode, UnreachableStrategy};

/// One failing path and its messages (`{"path": "/cpus", "errors": ["..."]}`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Violation {
    pub path: String,
    pub errors: Vec<String>,
}

/// Collects messages per path, in the order paths first fail.
#[derive(Default)]
pub struct Violations(BTreeMap<String, Vec<String>>, Vec<String>);

impl Violations {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        if !self.0.contains_key(&path) {
            self.1.push(path.clone());
        }
        self.0.entry(path).or_default().push(message.into());
    }

    pub fn into_vec(mut self) -> Vec<Violation> {
        self.1
            .iter()
            .map(|p| Violation {
                path: p.clone(),
                errors: self.0.remove(p).unwrap_or_default(),
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.1.is_empty()
    }
}

/// A finite number no smaller than `min` (NaN and infinities fail).
fn at_least(value: f64, min: f64) -> bool {
    value.is_finite() && value >= min
}

const RESERVED_NAMES: [&str; 3] = ["restart", "tasks", "versions"];

/// Checks `app`; `check_constraint` parses one constraint and says why it is invalid.
pub fn validate(
    app: &AppDefinition,
    check_constraint: impl Fn(&[String]) -> Result<(), String>,
) -> Vec<Violation> {
    let mut v = Violations::default();
    if let Err(e) = app.id.validate() {
        v.add("/id", e.0);
    } else if RESERVED_NAMES.contains(&app.id.name()) {
        v.add(
            "/id",
            format!(
                "must not end with any of the following reserved keywords: {}",
                RESERVED_NAMES.join(", ")
            ),
        );
    }
    if !at_least(app.cpus, 0.001) {
        v.add(
            "/cpus",
            "got ".to_string() + &app.cpus.to_string() + ", expected 0.001 or more",
        );
    }
    if !at_least(app.mem, 0.0) {
        v.add("/mem", format!("got {}, expected 0.0 or more", app.mem));
    }
    if !at_least(app.disk, 0.0) {
        v.add("/disk", format!("got {}, expected 0.0 or more", app.disk));
    }
    if !at_least(app.backoff_seconds, 0.0) {
        v.add(
            "/backoffSeconds",
            "got a negative value, expected 0 or more",
        );
    }
    if !at_least(app.backoff_factor, 1.0) {
        v.add(
            "/backoffFactor",
            format!("got {}, expected 1.0 or more", app.backoff_factor),
        );
    }
    if !at_least(app.max_launch_delay_seconds, 0.0) {
        v.add(
            "/maxLaunchDelaySeconds",
            "got a negative value, expected 0 or more",
        );
    }
    let us = &app.upgrade_strategy;
    if !(0.0..=1.0).contains(&us.minimum_health_capacity) {
        v.add(
            "/upgradeStrategy/minimumHealthCapacity",
            format!(
                "got {}, expected between 0.0 and 1.0",
                us.minimum_health_capacity
            ),
        );
    }
    if !(0.0..=1.0).contains(&us.maximum_over_capacity) {
        v.add(
            "/upgradeStrategy/maximumOverCapacity",
            format!(
                "got {}, expected between 0.0 and 1.0",
                us.maximum_over_capacity
            ),
        );
    }
    if let UnreachableStrategy::Enabled {
        inactive_after_seconds,
        expunge_after_seconds,
    } = app.unreachable_strategy
    {
        if !at_least(inactive_after_seconds, 0.0) {
            v.add(
                "/unreachableStrategy/inactiveAfterSeconds",
                "got a negative value, expected 0 or more",
            );
        }
        if !at_least(expunge_after_seconds, inactive_after_seconds) {
            v.add(
                "/unreachableStrategy/expungeAfterSeconds",
                "expungeAfterSeconds must be greater than or equal to inactiveAfterSeconds",
            );
        }
    }
    if let Some(g) = app.task_kill_grace_period_seconds {
        if g.is_nan() || g <= 0.0 {
            v.add(
                "/taskKillGracePeriodSeconds",
                format!("got {g}, expected more than 0"),
            );
        }
    }
    if app.cmd.is_some() && app.args.is_some() {
        v.add(
            "/",
            "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
        );
    }
    let has_image = app.docker_image().is_some_and(|i| !i.trim().is_empty());
    if app.cmd.is_none() && app.args.is_none() && !has_image {
        v.add(
            "/",
            "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
        );
    }
    if let Some(c) = &app.container {
        match (c.kind, &c.docker) {
            (ContainerType::Docker, None) => v.add("/container/docker", "error.path.missing"),
            (ContainerType::Docker, Some(d)) if d.image.trim().is_empty() => {
                v.add("/container/docker/image", "must not be empty")
            }
            _ => {}
        }
        for (i, vol) in c.volumes.iter().enumerate() {
            if vol.container_path.is_empty() {
                v.add(
                    format!("/container/volumes({i})/containerPath"),
                    "must not be empty",
                );
            }
            if !["RW", "RO"].contains(&vol.mode.as_str()) {
                v.add(
                    format!("/container/volumes({i})/mode"),
                    "must be one of RW, RO",
                );
            }
        }
    }
    match app.networks.as_slice() {
        [] => {}
        [one] => {
            if one.mode == NetworkMode::Container && one.name.as_deref().unwrap_or("").is_empty() {
                v.add("/networks(0)/name", "container networks need a name");
            }
        }
        many => {
            if many.iter().any(|n| n.mode != NetworkMode::Container) {
                v.add(
                    "/networks",
                    "host and container/bridge networks cannot be combined with others",
                );
            }
        }
    }
    if app.network_mode() != NetworkMode::Host && app.container.is_none() {
        v.add(
            "/networks",
            "container/bridge and container networks need a container",
        );
    }
    check_ports(app, &mut v);
    super::health_check::validate(app, &mut v);
    for (i, c) in app.constraints.iter().enumerate() {
        if let Err(e) = check_constraint(c) {
            v.add(format!("/constraints({i})"), e);
        }
    }
    for (i, f) in app.fetch.iter().enumerate() {
        if f.uri.trim().is_empty() {
            v.add(format!("/fetch({i})/uri"), "must not be empty");
        }
    }
    for (i, d) in app.dependencies.iter().enumerate() {
        if d.validate().is_err() {
            v.add(format!("/dependencies({i})"), "is not a valid path");
        }
    }
    if let Some(roles) = &app.accepted_resource_roles {
        if roles.is_empty() {
            v.add(
                "/acceptedResourceRoles",
                "must not be empty; leave it out for the default",
            );
        }
    }
    for (k, _) in app.env.iter() {
        if k.is_empty() {
            v.add("/env", "names must not be empty");
        }
    }
    v.into_vec()
}

fn check_ports(app: &AppDefinition, v: &mut Violations) {
    let mut names = BTreeSet::new();
    let mut declared = BTreeSet::new();
    for (i, p) in app.port_definitions.iter().enumerate() {
        if p.port > 65535 {
            v.add(
                format!("/portDefinitions({i})/port"),
                "got a port above 65535",
            );
        }
        if p.port != 0 && !declared.insert(p.port) {
            v.add("/portDefinitions", "Ports must be unique.");
        }
        if let Some(n) = &p.name {
            if !names.insert(n.clone()) {
                v.add("/portDefinitions", "Port names must be unique.");
            }
        }
        check_protocol(&p.protocol, &format!("/portDefinitions({i})/protocol"), v);
    }
    let mut host_ports = BTreeSet::new();
    for (i, m) in app.port_mappings().iter().enumerate() {
        let path = format!("/container/portMappings({i})");
        if m.container_port > 65535 {
            v.add(format!("{path}/containerPort"), "got a port above 65535");
        }
        if m.container_port == 0 && !app.takes_host_port(m) {
            v.add(
                format!("{path}/containerPort"),
                "must be set on a container network when there is no hostPort",
            );
        }
        if let Some(h) = m.host_port {
            if h > 65535 {
                v.add(format!("{path}/hostPort"), "got a port above 65535");
            }
            if h != 0 && !host_ports.insert(h) {
                v.add("/container/portMappings", "Host ports must be unique.");
            }
        }
        if m.service_port > 65535 {
            v.add(format!("{path}/servicePort"), "got a port above 65535");
        }
        if let Some(n) = &m.name {
            if !names.insert(n.clone()) {
                v.add("/container/portMappings", "Port names must be unique.");
            }
        }
        check_protocol(&m.protocol, &format!("{path}/protocol"), v);
    }
}

fn check_protocol(protocol: &str, path: &str, v: &mut Violations) {
    for p in protocol.split(',') {
        if p != "tcp" && p != "udp" {
            v.add(path, "must be one of tcp, udp, udp,tcp");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::update::AppUpdate;
    use crate::app::PathId;
    use serde_json::{json, Value};

    fn errors(body: Value) -> Vec<String> {
        let u = AppUpdate::from_value(body).unwrap();
        let id = PathId::parse(u.id.as_deref().unwrap_or(""));
        let app = u.apply(crate::app::AppDefinition::with_defaults(id), true);
        validate(&app, |c| {
            if c.len() >= 2 {
                Ok(())
            } else {
                Err("bad".into())
            }
        })
        .into_iter()
        .map(|v| v.path)
        .collect()
    }

    #[test]
    fn a_good_app_passes() {
        assert!(errors(json!({"id": "web", "cmd": "sleep 1"})).is_empty());
        assert!(errors(
            json!({"id": "/a/b", "container": {"docker": {"image": "x", "network": "BRIDGE",
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}}})
        )
        .is_empty());
    }

    #[test]
    fn container_networks_need_container_ports_without_host_ports() {
        let app = |mappings: Value| {
            json!({"id": "web", "networks": [{"mode": "container", "name": "n"}],
                "container": {"docker": {"image": "x"}, "portMappings": mappings}})
        };
        assert!(errors(app(json!([{"containerPort": 80}, {"hostPort": 0}]))).is_empty());
        assert_eq!(
            errors(app(json!([{"containerPort": 80}, {"name": "x"}]))),
            ["/container/portMappings(1)/containerPort"]
        );
    }

    #[test]
    fn every_failing_path_is_listed() {
        let paths = errors(json!({
            "id": "Web", "cmd": "x", "cpus": 0, "mem": -1, "backoffFactor": 0.5,
            "upgradeStrategy": {"minimumHealthCapacity": 1.5, "maximumOverCapacity": -0.1},
            "constraints": [["hostname"]], "portDefinitions": [{"port": 80}, {"port": 80}]
        }));
        for p in [
            "/id",
            "/cpus",
            "/mem",
            "/backoffFactor",
            "/upgradeStrategy/minimumHealthCapacity",
            "/upgradeStrategy/maximumOverCapacity",
            "/constraints(0)",
            "/portDefinitions",
        ] {
            assert!(paths.contains(&p.to_string()), "{p} missing in {paths:?}");
        }
    }

    #[test]
    fn nothing_to_run_and_both_cmd_and_args() {
        assert_eq!(errors(json!({"id": "w"})), vec!["/"]);
        assert_eq!(
            errors(json!({"id": "w", "cmd": "x", "args": ["y"]})),
            vec!["/"]
        );
    }

    #[test]
    fn reserved_last_segment_and_empty_image() {
        assert_eq!(errors(json!({"id": "/a/tasks", "cmd": "x"})), vec!["/id"]);
        let p = errors(json!({"id": "w", "cmd": "x", "container": {"docker": {"image": " "}}}));
        assert_eq!(p, vec!["/container/docker/image"]);
    }
}
