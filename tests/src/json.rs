//! Builders for the JSON the tests send and accessors for the JSON they receive, following
//! the protobuf JSON mapping Mesos uses (proto field names, enums as names, bytes base64).

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use serde_json::{json, Value};

/// The user tasks run as: the one running the tests.
pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_string())
}

/// Minimal FrameworkInfo.
pub fn framework_info(name: &str) -> Value {
    json!({ "user": current_user(), "name": name })
}

/// FrameworkInfo with the PARTITION_AWARE capability.
pub fn partition_aware_framework_info(name: &str) -> Value {
    let mut info = framework_info(name);
    info["capabilities"] = json!([{ "type": "PARTITION_AWARE" }]);
    info
}

/// A task id unique within this test process.
pub fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn scalar(name: &str, value: f64) -> Value {
    json!({ "name": name, "type": "SCALAR", "scalar": { "value": value } })
}

pub fn ports_resource(begin: u64, end: u64) -> Value {
    json!({
        "name": "ports",
        "type": "RANGES",
        "ranges": { "range": [{ "begin": begin, "end": end }] }
    })
}

/// A shell command task using `cpus` and `mem`.
pub fn command_task(task_id: &str, agent_id: &str, command: &str, cpus: f64, mem: f64) -> Value {
    json!({
        "name": task_id,
        "task_id": { "value": task_id },
        "agent_id": { "value": agent_id },
        "command": { "shell": true, "value": command },
        "resources": [scalar("cpus", cpus), scalar("mem", mem)]
    })
}

/// Sets the task's kill policy grace period.
pub fn with_grace_period(mut task: Value, seconds: f64) -> Value {
    task["kill_policy"] = json!({
        "grace_period": { "nanoseconds": (seconds * 1e9) as i64 }
    });
    task
}

/// Adds a resource to a task.
pub fn with_resource(mut task: Value, resource: Value) -> Value {
    task["resources"]
        .as_array_mut()
        .expect("task has resources")
        .push(resource);
    task
}

/// `value` of an id message like `{"value": "..."}`; "" when absent.
pub fn id_value(id: &Value) -> &str {
    id["value"].as_str().unwrap_or("")
}

pub fn event_type(event: &Value) -> &str {
    event["type"].as_str().unwrap_or("")
}

pub fn offer_id(offer: &Value) -> &str {
    id_value(&offer["id"])
}

pub fn offer_agent_id(offer: &Value) -> &str {
    id_value(&offer["agent_id"])
}

/// Offers carried by an OFFERS event (empty for any other event).
pub fn offers_of(event: &Value) -> Vec<Value> {
    event["offers"]["offers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Sum of the scalar resources called `name` in a resource list.
pub fn scalar_of(resources: &Value, name: &str) -> f64 {
    resources
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == name)
        .filter_map(|r| r["scalar"]["value"].as_f64())
        .sum()
}

/// All ranges of the range resources called `name` in a resource list.
pub fn ranges_of(resources: &Value, name: &str) -> Vec<(u64, u64)> {
    resources
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == name)
        .flat_map(|r| r["ranges"]["range"].as_array().cloned().unwrap_or_default())
        .filter_map(|range| Some((range["begin"].as_u64()?, range["end"].as_u64()?)))
        .collect()
}

/// The first port of an offer's ports resource.
pub fn first_port(offer: &Value) -> u64 {
    ranges_of(&offer["resources"], "ports")
        .first()
        .unwrap_or_else(|| panic!("offer has no ports: {offer}"))
        .0
}

pub fn task_id_of(status: &Value) -> &str {
    id_value(&status["task_id"])
}

pub fn state_of(status: &Value) -> &str {
    status["state"].as_str().unwrap_or("")
}

pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_ERROR"
            | "TASK_LOST"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

/// Decodes a status update's base64 `uuid`; panics unless it is 16 bytes.
pub fn status_uuid(status: &Value) -> Vec<u8> {
    let text = status["uuid"]
        .as_str()
        .unwrap_or_else(|| panic!("status has no uuid: {status}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("status uuid {text:?} is not base64: {e}"));
    assert_eq!(bytes.len(), 16, "status uuid {text:?} is not 16 bytes");
    bytes
}

/// True for a canonical lowercase or uppercase hyphenated UUID.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Asserts `id` is `<master_id>-<kind><n>` (kind "O" for offers, "S" for agents) or, with an
/// empty kind, `<master_id>-NNNN` (frameworks).
pub fn assert_id_shape(id: &str, master_id: &str, kind: &str) {
    assert!(is_uuid(master_id), "master id {master_id:?} is not a UUID");
    let suffix = id
        .strip_prefix(master_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_prefix(kind))
        .unwrap_or_else(|| panic!("id {id:?} is not `{master_id}-{kind}<n>`"));
    assert!(
        !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()),
        "id {id:?} does not end in a number after `{kind}`"
    );
    if kind.is_empty() {
        assert_eq!(
            suffix.len(),
            4,
            "framework id {id:?} should end in four digits"
        );
    }
}

/// Asserts an error body is a readable message: non-empty printable text.
pub fn assert_readable(status: u16, body: &str) {
    assert!(
        !body.trim().is_empty(),
        "status {status} came with an empty body; a readable message is expected"
    );
    assert!(
        body.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')),
        "status {status} body is not readable text: {body:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shapes() {
        let m = "0f6b4b0e-6d3c-4c5a-9a4e-1d2c3b4a5f60";
        assert!(is_uuid(m));
        assert!(!is_uuid("not-a-uuid"));
        assert_id_shape(&format!("{m}-0000"), m, "");
        assert_id_shape(&format!("{m}-O12"), m, "O");
        assert_id_shape(&format!("{m}-S0"), m, "S");
    }

    #[test]
    #[should_panic]
    fn wrong_kind_is_rejected() {
        let m = "0f6b4b0e-6d3c-4c5a-9a4e-1d2c3b4a5f60";
        assert_id_shape(&format!("{m}-S1"), m, "O");
    }

    #[test]
    fn resources() {
        let r = json!([
            scalar("cpus", 1.5),
            scalar("cpus", 0.5),
            ports_resource(31000, 31010)
        ]);
        assert_eq!(scalar_of(&r, "cpus"), 2.0);
        assert_eq!(ranges_of(&r, "ports"), vec![(31000, 31010)]);
    }
}
