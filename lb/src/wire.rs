//! Marathon's JSON (`GET /v2/apps?embed=apps.tasks`) into [`App`]s. Each app converts on
//! its own: one that does not parse is reported and left out, the others go on. Service
//! ports and task ports follow marathon-lb's networking rules:
//!
//! | networking | service ports | task address | task ports |
//! |---|---|---|---|
//! | host | `portDefinitions[].port` (or `ports`) | the agent's | `ports` |
//! | BRIDGE | `portMappings[].servicePort` | the agent's | `ports` (host ports) |
//! | container (USER) | `portMappings[].servicePort` | `ipAddresses[0]` | `containerPort`s |

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;

use crate::model::{App, HealthCheck, Networking, Task};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireApp {
    id: String,
    labels: BTreeMap<String, String>,
    container: Option<WireContainer>,
    networks: Vec<WireNetwork>,
    port_definitions: Option<Vec<WirePortDefinition>>,
    ports: Vec<u32>,
    ip_address: Option<Value>,
    health_checks: Vec<WireHealthCheck>,
    tasks: Vec<WireTask>,
    readiness_check_results: Vec<WireReadiness>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireContainer {
    docker: Option<WireDocker>,
    port_mappings: Option<Vec<WirePortMapping>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireDocker {
    network: Option<String>,
    port_mappings: Option<Vec<WirePortMapping>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
struct WirePortMapping {
    container_port: Option<u32>,
    service_port: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireNetwork {
    mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WirePortDefinition {
    port: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireHealthCheck {
    protocol: String,
    port_index: Option<usize>,
    port: Option<u32>,
    path: String,
    interval_seconds: u32,
    timeout_seconds: u32,
    max_consecutive_failures: u32,
}

/// Marathon's defaults for what a health check leaves out.
impl Default for WireHealthCheck {
    fn default() -> Self {
        WireHealthCheck {
            protocol: "HTTP".into(),
            port_index: None,
            port: None,
            path: "/".into(),
            interval_seconds: 60,
            timeout_seconds: 20,
            max_consecutive_failures: 3,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireTask {
    id: String,
    host: String,
    ports: Vec<u32>,
    state: Option<String>,
    health_check_results: Vec<WireHealthResult>,
    ip_addresses: Vec<WireIpAddress>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireHealthResult {
    alive: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireIpAddress {
    ip_address: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireReadiness {
    task_id: String,
    ready: bool,
}

/// Why an app of the listing was left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("app {id}: {why}")]
pub struct AppError {
    pub id: String,
    pub why: String,
}

/// Why the listing as a whole is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the answer is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the answer has no \"apps\" array")]
    NoApps,
}

/// The apps of a `/v2/apps` answer; `resolve` turns an agent host name into an address.
pub fn apps(
    body: &[u8],
    resolve: &mut dyn FnMut(&str) -> Option<IpAddr>,
) -> Result<(Vec<App>, Vec<AppError>), ListError> {
    let v: Value = serde_json::from_slice(body).map_err(ListError::NotJson)?;
    let list = v["apps"].as_array().ok_or(ListError::NoApps)?;
    let mut good = vec![];
    let mut bad = vec![];
    for raw in list {
        match app(raw, resolve) {
            Ok(a) => good.push(a),
            Err(e) => bad.push(e),
        }
    }
    Ok((good, bad))
}

fn app(raw: &Value, resolve: &mut dyn FnMut(&str) -> Option<IpAddr>) -> Result<App, AppError> {
    let id = raw["id"].as_str().unwrap_or("?").to_string();
    let w: WireApp = serde_json::from_value(raw.clone()).map_err(|e| AppError {
        id: id.clone(),
        why: e.to_string(),
    })?;
    if !w.id.starts_with('/') {
        return Err(AppError {
            id,
            why: "the id is not an absolute path".into(),
        });
    }
    let networking = networking(&w);
    let mappings: Vec<WirePortMapping> = w
        .container
        .as_ref()
        .and_then(|c| {
            c.docker
                .as_ref()
                .and_then(|d| d.port_mappings.clone())
                .filter(|m| !m.is_empty())
                .or_else(|| c.port_mappings.clone())
        })
        .unwrap_or_default();
    let definition_ports: Vec<u32> = match &w.port_definitions {
        Some(defs) => defs.iter().filter_map(|d| d.port).collect(),
        None => w.ports.clone(),
    };
    let mapped_service_ports: Vec<u32> = mappings.iter().filter_map(|m| m.service_port).collect();
    let service_ports = if networking != Networking::Host && !mapped_service_ports.is_empty() {
        mapped_service_ports
    } else {
        definition_ports.clone()
    };
    let container_ports: Vec<u32> = mappings.iter().filter_map(|m| m.container_port).collect();
    let tasks = w
        .tasks
        .iter()
        .map(|t| {
            let (ip, ports) = match networking {
                Networking::Container => (
                    t.ip_addresses
                        .first()
                        .and_then(|a| a.ip_address.parse().ok()),
                    container_ports.clone(),
                ),
                _ => {
                    let ports = if t.ports.is_empty() {
                        definition_ports.clone()
                    } else {
                        t.ports.clone()
                    };
                    (resolve(&t.host), ports)
                }
            };
            Task {
                id: t.id.clone(),
                host: t.host.clone(),
                ip,
                ports,
                state: t.state.clone(),
                alive: t.health_check_results.iter().map(|r| r.alive).collect(),
            }
        })
        .collect();
    Ok(App {
        id: w.id.clone(),
        labels: w.labels.clone(),
        networking,
        service_ports,
        health_checks: w
            .health_checks
            .iter()
            .map(|c| HealthCheck {
                protocol: c.protocol.clone(),
                port_index: c.port_index,
                port: c.port,
                path: c.path.clone(),
                interval_seconds: c.interval_seconds,
                timeout_seconds: c.timeout_seconds,
                max_consecutive_failures: c.max_consecutive_failures,
            })
            .collect(),
        tasks,
        readiness: w
            .readiness_check_results
            .iter()
            .map(|r| (r.task_id.clone(), r.ready))
            .collect(),
    })
}

/// marathon-lb's networking mode: an `ipAddress` or a USER Docker network is a container
/// network, BRIDGE is bridge, and the last of `networks` decides when present.
fn networking(w: &WireApp) -> Networking {
    let mut mode = if w.ip_address.as_ref().is_some_and(|v| !v.is_null()) {
        Networking::Container
    } else {
        Networking::Host
    };
    match w
        .container
        .as_ref()
        .and_then(|c| c.docker.as_ref())
        .and_then(|d| d.network.as_deref())
    {
        Some("USER") => mode = Networking::Container,
        Some("BRIDGE") => mode = Networking::Bridge,
        _ => {}
    }
    if let Some(last) = w.networks.last() {
        mode = match last.mode.as_deref().unwrap_or("container") {
            "host" => Networking::Host,
            "container/bridge" => Networking::Bridge,
            _ => Networking::Container,
        };
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn localhost(host: &str) -> Option<IpAddr> {
        (host == "agent-1").then(|| "10.0.0.1".parse().unwrap())
    }

    fn one(app: Value) -> App {
        let body = json!({"apps": [app]}).to_string();
        let (mut apps, bad) = apps(body.as_bytes(), &mut localhost).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        apps.remove(0)
    }

    #[test]
    fn host_networking_uses_port_definitions_and_host_ports() {
        let a = one(json!({
            "id": "/web", "labels": {"HAPROXY_GROUP": "external"},
            "portDefinitions": [{"port": 10000, "protocol": "tcp"}, {"port": 10001}],
            "healthChecks": [{"protocol": "HTTP", "path": "/h", "portIndex": 0}],
            "tasks": [{"id": "t1", "host": "agent-1", "ports": [31000, 31001], "state": "TASK_RUNNING",
                       "healthCheckResults": [{"alive": true}]},
                      {"id": "t2", "host": "unknown-host", "ports": [31002, 31003]}],
            "readinessCheckResults": [{"taskId": "t2", "ready": false, "name": "r"}]
        }));
        assert_eq!(a.networking, Networking::Host);
        assert_eq!(a.service_ports, vec![10000, 10001]);
        assert_eq!(a.labels["HAPROXY_GROUP"], "external");
        assert_eq!(a.health_checks[0].path, "/h");
        assert_eq!(a.health_checks[0].interval_seconds, 60);
        assert_eq!(a.tasks[0].ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(a.tasks[0].ports, vec![31000, 31001]);
        assert_eq!(a.tasks[0].alive, vec![true]);
        assert_eq!(a.tasks[1].ip, None);
        assert_eq!(a.readiness.get("t2"), Some(&false));
    }

    #[test]
    fn bridge_uses_service_ports_of_port_mappings() {
        let a = one(json!({
            "id": "/b",
            "container": {"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE",
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 10005}]}},
            "portDefinitions": [],
            "tasks": [{"id": "t", "host": "agent-1", "ports": [31005]}]
        }));
        assert_eq!(a.networking, Networking::Bridge);
        assert_eq!(a.service_ports, vec![10005]);
        assert_eq!(a.tasks[0].ports, vec![31005]);
        // The newer form: container.portMappings with networks.
        let a = one(json!({
            "id": "/n", "networks": [{"mode": "container/bridge"}],
            "container": {"type": "DOCKER", "portMappings": [{"containerPort": 80, "servicePort": 10006}]},
            "tasks": []
        }));
        assert_eq!(
            (a.networking, a.service_ports),
            (Networking::Bridge, vec![10006])
        );
    }

    #[test]
    fn container_networks_use_the_task_address_and_container_ports() {
        let a = one(json!({
            "id": "/u", "networks": [{"mode": "container", "name": "dcos"}],
            "container": {"portMappings": [{"containerPort": 80, "servicePort": 10007}]},
            "tasks": [{"id": "t", "host": "agent-1", "ports": [],
                       "ipAddresses": [{"ipAddress": "172.17.0.5", "protocol": "IPv4"}]}]
        }));
        assert_eq!(a.networking, Networking::Container);
        assert_eq!(a.tasks[0].ip, Some("172.17.0.5".parse().unwrap()));
        assert_eq!(a.tasks[0].ports, vec![80]);
    }

    #[test]
    fn a_malformed_app_is_left_out_alone() {
        let body = json!({"apps": [
            {"id": "/ok", "portDefinitions": [{"port": 10000}], "tasks": []},
            {"id": "/bad", "labels": {"HAPROXY_GROUP": 7}},
            {"id": "relative"},
        ]})
        .to_string();
        let (good, bad) = apps(body.as_bytes(), &mut localhost).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(
            bad.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["/bad", "relative"]
        );
        assert!(matches!(
            apps(b"<html>", &mut localhost),
            Err(ListError::NotJson(_))
        ));
        assert!(matches!(
            apps(b"{\"message\":\"x\"}", &mut localhost),
            Err(ListError::NoApps)
        ));
    }
}
