//! Marathon's rules for a pod (`PodsValidation`), every failing path reported at once in
//! the 422 `details` shape apps use. Rules about the pod as a whole (unique endpoint
//! names, container ports, host ports) fail at `/`, as Marathon reports them.

use std::collections::BTreeSet;

use crate::app::validate::{Violation, Violations};
use crate::app::{NetworkMode, UnreachableStrategy};

use super::{MesosCommand, PodContainer, PodDefinition, PodHealthCheck};

const NAME_RULE: &str =
    "must contain only alphanumeric chars or hyphens, and must begin with a letter";

/// Marathon's `NamePattern`: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && ok(b[0])
        && ok(b[b.len() - 1])
        && b.iter().all(|&c| ok(c) || c == b'-')
}

/// Checks `pod`; `check_constraint` parses one constraint and says why it is invalid.
pub fn validate(
    pod: &PodDefinition,
    check_constraint: impl Fn(&[String]) -> Result<(), String>,
) -> Vec<Violation> {
    let mut v = Violations::default();
    if let Err(e) = pod.id.validate() {
        v.add("/id", e.0);
    }
    if pod.user.as_deref().is_some_and(str::is_empty) {
        v.add("/user", "must not be empty");
    }
    if pod.containers.is_empty() {
        v.add("/containers", "must not be empty");
    }
    let mut names = BTreeSet::new();
    if !pod.containers.iter().all(|c| names.insert(c.name.as_str())) {
        v.add("/containers", "container names are unique");
    }
    for (i, c) in pod.containers.iter().enumerate() {
        check_container(pod, c, &format!("/containers({i})"), &mut v);
    }
    let mut volume_names = BTreeSet::new();
    if !pod
        .volumes
        .iter()
        .all(|vol| volume_names.insert(vol.name.as_str()))
    {
        v.add("/volumes", "volume names are unique");
    }
    for (i, vol) in pod.volumes.iter().enumerate() {
        if !valid_name(&vol.name) {
            v.add(format!("/volumes({i})/name"), NAME_RULE);
        }
        if vol.host.as_deref().is_some_and(str::is_empty) {
            v.add(format!("/volumes({i})/host"), "must not be empty");
        }
        let mounted = pod
            .containers
            .iter()
            .any(|c| c.volume_mounts.iter().any(|m| m.name == vol.name));
        if !mounted {
            v.add(
                format!("/volumes({i})"),
                "volume must be referenced by at least one container",
            );
        }
    }
    check_networks(pod, &mut v);
    if pod.scaling.kind != "fixed" {
        v.add("/scaling", "Not a fixed scaling policy");
    }
    if pod.scaling.instances < 0 {
        v.add(
            "/scaling/instances",
            format!("got {}, expected 0 or more", pod.scaling.instances),
        );
    }
    check_scheduling(pod, &check_constraint, &mut v);
    let endpoints = || pod.containers.iter().flat_map(|c| c.endpoints.iter());
    if !unique(endpoints().map(|e| e.name.as_str())) {
        v.add("/", "Endpoint names are unique");
    }
    if !unique(endpoints().filter_map(|e| e.container_port)) {
        v.add("/", "Container ports are unique");
    }
    if !unique(endpoints().filter_map(|e| e.host_port).filter(|&p| p != 0)) {
        v.add("/", "Host ports are unique");
    }
    let e = &pod.executor_resources;
    for (field, value) in [("cpus", e.cpus), ("mem", e.mem), ("disk", e.disk)] {
        if !(value.is_finite() && value >= 0.0) {
            v.add(
                format!("/executorResources/{field}"),
                format!("got {value}, expected 0.0 or more"),
            );
        }
    }
    for (k, _) in pod.environment.iter() {
        if k.is_empty() {
            v.add("/environment", "names must not be empty");
        }
    }
    v.into_vec()
}

fn unique<T: Ord>(items: impl Iterator<Item = T>) -> bool {
    let mut seen = BTreeSet::new();
    items.into_iter().all(|i| seen.insert(i))
}

fn check_container(pod: &PodDefinition, c: &PodContainer, at: &str, v: &mut Violations) {
    if !valid_name(&c.name) {
        v.add(format!("{at}/name"), NAME_RULE);
    }
    let r = &c.resources;
    for (field, value) in [("cpus", r.cpus), ("mem", r.mem), ("disk", r.disk)] {
        if !(value.is_finite() && value >= 0.0) {
            v.add(
                format!("{at}/resources/{field}"),
                format!("got {value}, expected 0.0 or more"),
            );
        }
    }
    let mode = pod.network_mode();
    for (j, e) in c.endpoints.iter().enumerate() {
        let at = format!("{at}/endpoints({j})");
        if !valid_name(&e.name) {
            v.add(format!("{at}/name"), NAME_RULE);
        }
        if e.container_port.is_some_and(|p| !(1..=65535).contains(&p)) {
            v.add(
                format!("{at}/containerPort"),
                "got a port outside 1 to 65535",
            );
        }
        if e.host_port.is_some_and(|p| p > 65535) {
            v.add(format!("{at}/hostPort"), "got a port outside 0 to 65535");
        }
        match mode {
            NetworkMode::Host => {
                if e.host_port.is_none() {
                    v.add(
                        format!("{at}/hostPort"),
                        "is required when using host-mode networking",
                    );
                }
                if e.container_port.is_some() {
                    v.add(
                        format!("{at}/containerPort"),
                        "is not allowed when using host-mode networking",
                    );
                }
            }
            NetworkMode::Container | NetworkMode::Bridge => {
                if e.container_port.is_none() {
                    v.add(
                        format!("{at}/containerPort"),
                        "is required when using container-mode networking",
                    );
                }
            }
        }
        if !unique(e.protocol.iter()) {
            v.add(
                format!("{at}/protocol"),
                "Duplicate protocols within the same endpoint are not allowed",
            );
        }
    }
    if let Some(image) = &c.image {
        if image.id.trim().is_empty() || image.id.len() > 1024 {
            v.add(format!("{at}/image/id"), "must be 1 to 1024 characters");
        }
    }
    if let Some(exec) = &c.exec {
        let empty = match &exec.command {
            MesosCommand::Shell { shell } => shell.trim().is_empty(),
            MesosCommand::Argv { argv } => argv.is_empty(),
        };
        if empty {
            v.add(format!("{at}/exec/command"), "must not be empty");
        }
    } else if c.image.is_none() {
        v.add(
            format!("{at}/exec"),
            "a container without an image needs a command to run",
        );
    }
    if let Some(hc) = &c.health_check {
        check_health(c, hc, &format!("{at}/healthCheck"), v);
    }
    for (j, m) in c.volume_mounts.iter().enumerate() {
        let at = format!("{at}/volumeMounts({j})");
        if !valid_name(&m.name) {
            v.add(format!("{at}/name"), NAME_RULE);
        }
        if m.mount_path.is_empty() || m.mount_path.len() > 1024 {
            v.add(format!("{at}/mountPath"), "must be 1 to 1024 characters");
        }
        if !pod.volumes.iter().any(|vol| vol.name == m.name) {
            v.add(
                format!("{at}/name"),
                "Referenced Volume in VolumeMount should exist",
            );
        }
    }
    for (j, a) in c.artifacts.iter().enumerate() {
        if a.uri.is_empty() || a.uri.len() > 1024 {
            v.add(
                format!("{at}/artifacts({j})/uri"),
                "must be 1 to 1024 characters",
            );
        }
    }
    if let Some(grace) = c.lifecycle.and_then(|l| l.kill_grace_period_seconds) {
        if grace.is_nan() || grace <= 0.0 {
            v.add(
                format!("{at}/lifecycle/killGracePeriodSeconds"),
                format!("got {grace}, expected more than 0"),
            );
        }
    }
}

fn check_health(c: &PodContainer, hc: &PodHealthCheck, at: &str, v: &mut Violations) {
    let kinds = [hc.http.is_some(), hc.tcp.is_some(), hc.exec.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        v.add(at, "Only one of http, tcp, or command may be specified");
    }
    let endpoint = hc
        .http
        .as_ref()
        .map(|h| ("http", &h.endpoint))
        .or(hc.tcp.as_ref().map(|t| ("tcp", &t.endpoint)));
    if let Some((kind, name)) = endpoint {
        if !c.endpoints.iter().any(|e| &e.name == name) {
            v.add(
                format!("{at}/{kind}/endpoint"),
                "contained in the container endpoints",
            );
        }
    }
    for (field, value) in [
        ("gracePeriodSeconds", hc.grace_period_seconds),
        ("intervalSeconds", hc.interval_seconds),
        ("maxConsecutiveFailures", hc.max_consecutive_failures),
        ("timeoutSeconds", hc.timeout_seconds),
        ("delaySeconds", hc.delay_seconds),
    ] {
        if value < 0 {
            v.add(
                format!("{at}/{field}"),
                format!("got {value}, expected 0 or more"),
            );
        }
    }
    if hc.timeout_seconds >= hc.interval_seconds {
        v.add(
            format!("{at}/timeoutSeconds"),
            format!(
                "got {}, expected less than {}",
                hc.timeout_seconds, hc.interval_seconds
            ),
        );
    }
}

fn check_networks(pod: &PodDefinition, v: &mut Violations) {
    match pod.networks.as_slice() {
        [] => v.add("/networks", "must not be empty"),
        [one] => {
            if one.mode == NetworkMode::Container && one.name.as_deref().unwrap_or("").is_empty() {
                v.add("/networks(0)/name", "container networks need a name");
            }
            if one.mode == NetworkMode::Host && one.name.is_some() {
                v.add("/networks(0)/name", "must be empty for host networking");
            }
        }
        _ => v.add("/networks", "only one network is supported"),
    }
}

fn check_scheduling(
    pod: &PodDefinition,
    check_constraint: &impl Fn(&[String]) -> Result<(), String>,
    v: &mut Violations,
) {
    let s = &pod.scheduling;
    let b = &s.backoff;
    if !(b.backoff.is_finite() && b.backoff >= 0.0) {
        v.add(
            "/scheduling/backoff/backoff",
            "got a negative value, expected 0 or more",
        );
    }
    if !(b.backoff_factor.is_finite() && b.backoff_factor >= 1.0) {
        v.add(
            "/scheduling/backoff/backoffFactor",
            format!("got {}, expected 1.0 or more", b.backoff_factor),
        );
    }
    if !(b.max_launch_delay.is_finite() && b.max_launch_delay >= 0.0) {
        v.add(
            "/scheduling/backoff/maxLaunchDelay",
            "got a negative value, expected 0 or more",
        );
    }
    let u = &s.upgrade;
    for (field, value) in [
        ("minimumHealthCapacity", u.minimum_health_capacity),
        ("maximumOverCapacity", u.maximum_over_capacity),
    ] {
        if !(0.0..=1.0).contains(&value) {
            v.add(
                format!("/scheduling/upgrade/{field}"),
                format!("got {value}, expected between 0.0 and 1.0"),
            );
        }
    }
    if let UnreachableStrategy::Enabled {
        inactive_after_seconds,
        expunge_after_seconds,
    } = s.unreachable_strategy
    {
        if !(inactive_after_seconds.is_finite() && inactive_after_seconds >= 0.0) {
            v.add(
                "/scheduling/unreachableStrategy/inactiveAfterSeconds",
                "got a negative value, expected 0 or more",
            );
        }
        if expunge_after_seconds < inactive_after_seconds {
            v.add(
                "/scheduling/unreachableStrategy/expungeAfterSeconds",
                "expungeAfterSeconds must be greater than or equal to inactiveAfterSeconds",
            );
        }
    }
    for (i, c) in s.placement.constraints.iter().enumerate() {
        if let Err(e) = check_constraint(c) {
            v.add(format!("/scheduling/placement/constraints({i})"), e);
        }
    }
}
