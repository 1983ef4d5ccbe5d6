//! Readiness checks (`readinessChecks`): HTTP(S) requests Marathon makes to the new
//! instances of a deployment; an instance counts as ready, and lets the deployment go on,
//! once every check answered with one of its `httpStatusCodesForReady`.
//!
//! Pure: the check as stored (with Marathon's defaults), its validation against the app's
//! port names, the URL of one instance's check, and a response judged. The requests are
//! made at the edge (`service::readiness`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::validate::Violations;
use crate::app::{AppDefinition, NetworkMode};
use crate::instance::Instance;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default = "default_port_name")]
    pub port_name: String,
    #[serde(default = "default_interval")]
    pub interval_seconds: u64,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "default_codes")]
    pub http_status_codes_for_ready: Vec<u16>,
    #[serde(default)]
    pub preserve_last_response: bool,
}

fn default_name() -> String {
    "readinessCheck".into()
}
fn default_protocol() -> String {
    "HTTP".into()
}
fn default_path() -> String {
    "/".into()
}
fn default_port_name() -> String {
    "http-api".into()
}
fn default_interval() -> u64 {
    30
}
fn default_timeout() -> u64 {
    10
}
fn default_codes() -> Vec<u16> {
    vec![200]
}

/// The last response of a check, kept with `preserveLastResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// One check's latest result for one task (`readinessCheckResults[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessResult {
    pub name: String,
    pub task_id: String,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_response: Option<LastResponse>,
}

/// The app's port names, in port order (`portDefinitions` on host networking, the port
/// mappings otherwise).
fn port_names(app: &AppDefinition) -> Vec<Option<&str>> {
    match app.network_mode() {
        NetworkMode::Host => app
            .port_definitions
            .iter()
            .map(|p| p.name.as_deref())
            .collect(),
        _ => app
            .port_mappings()
            .iter()
            .map(|m| m.name.as_deref())
            .collect(),
    }
}

/// The app's checks with Marathon's defaults filled in; None when one does not parse
/// (validation says why).
pub fn checks(app: &AppDefinition) -> Option<Vec<ReadinessCheck>> {
    app.readiness_checks
        .iter()
        .map(|v| serde_json::from_value(v.clone()).ok())
        .collect()
}

/// The checks as stored and shown: each with its defaults (unparsable ones as given).
pub fn normalize(values: &[Value]) -> Vec<Value> {
    values
        .iter()
        .map(|v| {
            serde_json::from_value::<ReadinessCheck>(v.clone())
                .ok()
                .and_then(|c| serde_json::to_value(c).ok())
                .unwrap_or_else(|| v.clone())
        })
        .collect()
}

/// Marathon's rules for `readinessChecks`, into `v`.
pub fn validate(app: &AppDefinition, v: &mut Violations) {
    let names = port_names(app);
    for (i, value) in app.readiness_checks.iter().enumerate() {
        let path = |field: &str| format!("/readinessChecks({i}){field}");
        let check: ReadinessCheck = match serde_json::from_value(value.clone()) {
            Ok(c) => c,
            Err(e) => {
                v.add(path(""), format!("is not a readiness check: {e}"));
                continue;
            }
        };
        if check.name.is_empty() {
            v.add(path("/name"), "must not be empty");
        }
        if !matches!(check.protocol.as_str(), "HTTP" | "HTTPS") {
            v.add(path("/protocol"), "must be HTTP or HTTPS");
        }
        if check.path.is_empty() {
            v.add(path("/path"), "must not be empty");
        }
        if check.port_name.is_empty() {
            v.add(path("/portName"), "must not be empty");
        } else if !names.contains(&Some(check.port_name.as_str())) {
            let known: Vec<&str> = names.iter().flatten().copied().collect();
            v.add(
                path("/portName"),
                format!("is not one of the app's port names ({})", known.join(", ")),
            );
        }
        if check.timeout_seconds == 0 {
            v.add(path("/timeoutSeconds"), "must be greater than 0");
        }
        if check.timeout_seconds >= check.interval_seconds {
            v.add(path("/timeoutSeconds"), "must be less than intervalSeconds");
        }
        if check.http_status_codes_for_ready.is_empty() {
            v.add(path("/httpStatusCodesForReady"), "must not be empty");
        }
    }
}

/// The URL a check calls for `instance`: its host and the host port named by
/// `portName`. None when the instance has no such port (yet).
pub fn url(check: &ReadinessCheck, app: &AppDefinition, instance: &Instance) -> Option<String> {
    let index = port_names(app)
        .iter()
        .position(|n| *n == Some(check.port_name.as_str()))?;
    let port = *instance.host_ports.get(index)?;
    if port == 0 || instance.hostname.is_empty() {
        return None;
    }
    let scheme = if check.protocol == "HTTPS" {
        "https"
    } else {
        "http"
    };
    let path = if check.path.starts_with('/') {
        check.path.clone()
    } else {
        format!("/{}", check.path)
    };
    Some(format!("{scheme}://{}:{port}{path}", instance.hostname))
}

/// A response judged: ready when its status is one the check accepts.
pub fn judge(
    check: &ReadinessCheck,
    task_id: &str,
    response: Result<LastResponse, String>,
) -> ReadinessResult {
    let (ready, last) = match response {
        Ok(r) => (
            check.http_status_codes_for_ready.contains(&r.status),
            Some(r),
        ),
        Err(_) => (false, None),
    };
    ReadinessResult {
        name: check.name.clone(),
        task_id: task_id.to_string(),
        ready,
        last_response: if check.preserve_last_response {
            last
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{PathId, PortDefinition};
    use serde_json::json;

    fn app(checks: Vec<Value>) -> AppDefinition {
        let mut a = AppDefinition::with_defaults(PathId::parse("/web"));
        a.port_definitions = vec![PortDefinition {
            port: 0,
            protocol: "tcp".into(),
            name: Some("http-api".into()),
            labels: Default::default(),
        }];
        a.readiness_checks = checks;
        a
    }

    fn violations(a: &AppDefinition) -> Vec<(String, Vec<String>)> {
        let mut v = Violations::default();
        validate(a, &mut v);
        v.into_vec()
            .into_iter()
            .map(|v| (v.path, v.errors))
            .collect()
    }

    #[test]
    fn an_empty_check_gets_marathons_defaults() {
        let shown = normalize(&[json!({})]);
        assert_eq!(
            shown[0],
            json!({"name": "readinessCheck", "protocol": "HTTP", "path": "/",
                "portName": "http-api", "intervalSeconds": 30, "timeoutSeconds": 10,
                "httpStatusCodesForReady": [200], "preserveLastResponse": false})
        );
        assert!(violations(&app(shown)).is_empty());
    }

    #[test]
    fn bad_checks_name_every_failing_path() {
        let a = app(vec![
            json!({"name": "", "protocol": "TCP", "portName": "nope",
            "intervalSeconds": 5, "timeoutSeconds": 5, "httpStatusCodesForReady": []}),
        ]);
        let paths: Vec<String> = violations(&a).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "/readinessChecks(0)/name",
                "/readinessChecks(0)/protocol",
                "/readinessChecks(0)/portName",
                "/readinessChecks(0)/timeoutSeconds",
                "/readinessChecks(0)/httpStatusCodesForReady",
            ]
        );
        let a = app(vec![json!({"intervalSeconds": "often"})]);
        assert_eq!(violations(&a)[0].0, "/readinessChecks(0)");
    }

    #[test]
    fn the_url_uses_the_named_host_port_and_the_status_decides() {
        let a = app(vec![json!({"path": "ready"})]);
        let check = &checks(&a).unwrap()[0];
        let mut i: Instance = serde_json::from_value(json!({
            "taskId": "t", "appId": "/web", "version": "v", "configVersion": "v",
            "agentId": "a", "hostname": "h1", "hostPorts": [31005], "servicePorts": [],
            "condition": "Running", "stagedAt": 0, "startedAt": 1}))
        .unwrap();
        assert_eq!(url(check, &a, &i).as_deref(), Some("http://h1:31005/ready"));
        i.host_ports.clear();
        assert_eq!(url(check, &a, &i), None);
        let ok = LastResponse {
            status: 200,
            content_type: "text/plain".into(),
            body: "ok".into(),
        };
        assert!(judge(check, "t", Ok(ok.clone())).ready);
        assert!(!judge(check, "t", Ok(LastResponse { status: 503, ..ok })).ready);
        let failed = judge(check, "t", Err("refused".into()));
        assert!(!failed.ready && failed.last_response.is_none());
    }
}
