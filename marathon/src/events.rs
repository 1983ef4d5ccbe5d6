//! Marathon's event bus events: one variant per event type, each serializing to exactly
//! the keys Marathon's `/v2/events` sends (clients map `data` onto strict models), plus
//! `eventType` and `timestamp`. Pure: values in, JSON out; the bus that fans them out is
//! [`crate::event_bus`].
//!
//! ```text
//!   service / http ──Event::new(EventKind::…)──▶ event_bus::publish ──▶ SSE subscribers
//! ```
//! Deployment events carry the plan in its full form, `{id, original, target, steps,
//! version}` with the root group before and after (Marathon before 1.7, and what
//! marathon-python 0.13.0 parses; the light form crashes it).

use serde::Serialize;
use serde_json::Value;

use crate::app::{AppDefinition, PathId};
use crate::instance::Instance;
use crate::tracker::StatusUpdate;

/// An event as published: its type and fields, and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
    pub timestamp: String,
}

impl Event {
    pub fn new(kind: EventKind, now_ms: u64) -> Event {
        Event {
            kind,
            timestamp: crate::views::iso(now_ms),
        }
    }

    /// The `eventType` (and SSE `event:` name).
    pub fn event_type(&self) -> &'static str {
        self.kind.event_type()
    }

    /// The `data` of the SSE frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

/// Every event type Marathon 1.x emits for apps and pods.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "eventType", rename_all = "snake_case")]
pub enum EventKind {
    /// An app was created or changed through the API (not on delete).
    #[serde(rename_all = "camelCase")]
    ApiPostEvent {
        client_ip: String,
        uri: String,
        app_definition: Value,
    },
    /// A Mesos status update of one of Marathon's tasks.
    #[serde(rename_all = "camelCase")]
    StatusUpdateEvent {
        slave_id: String,
        task_id: String,
        task_status: String,
        message: String,
        app_id: PathId,
        host: String,
        ip_addresses: Vec<IpAddress>,
        ports: Vec<u32>,
        version: String,
    },
    /// An instance's condition changed.
    #[serde(rename_all = "camelCase")]
    InstanceChangedEvent {
        instance_id: String,
        condition: String,
        run_spec_id: PathId,
        agent_id: Option<String>,
        host: String,
        run_spec_version: String,
    },
    #[serde(rename_all = "camelCase")]
    InstanceHealthChangedEvent {
        instance_id: String,
        run_spec_id: PathId,
        healthy: Option<bool>,
        run_spec_version: String,
    },
    /// A task Marathon does not know ended.
    #[serde(rename_all = "camelCase")]
    UnknownInstanceTerminatedEvent {
        instance_id: String,
        run_spec_id: PathId,
        condition: String,
    },
    #[serde(rename_all = "camelCase")]
    AddHealthCheckEvent {
        app_id: PathId,
        version: String,
        health_check: Value,
    },
    #[serde(rename_all = "camelCase")]
    RemoveHealthCheckEvent {
        app_id: PathId,
    },
    /// `taskId` holds the instance id, as Marathon writes it.
    #[serde(rename_all = "camelCase")]
    FailedHealthCheckEvent {
        app_id: PathId,
        task_id: String,
        health_check: Value,
    },
    #[serde(rename_all = "camelCase")]
    HealthStatusChangedEvent {
        app_id: PathId,
        instance_id: String,
        version: String,
        alive: bool,
    },
    #[serde(rename_all = "camelCase")]
    UnhealthyInstanceKillEvent {
        app_id: PathId,
        task_id: String,
        instance_id: String,
        version: String,
        reason: String,
        host: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        slave_id: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    GroupChangeSuccess {
        group_id: PathId,
        version: String,
    },
    #[serde(rename_all = "camelCase")]
    GroupChangeFailed {
        group_id: PathId,
        version: String,
        reason: String,
    },
    /// A deployment step started.
    #[serde(rename = "deployment_info", rename_all = "camelCase")]
    DeploymentInfo {
        plan: Plan,
        current_step: Step,
    },
    #[serde(rename_all = "camelCase")]
    DeploymentStepSuccess {
        plan: Plan,
        current_step: Step,
    },
    #[serde(rename_all = "camelCase")]
    DeploymentStepFailure {
        plan: Plan,
        current_step: Step,
    },
    DeploymentSuccess {
        id: String,
        plan: Plan,
    },
    DeploymentFailed {
        id: String,
        plan: Plan,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A pod was created through `/v2/pods`.
    #[serde(rename_all = "camelCase")]
    PodCreatedEvent {
        client_ip: String,
        uri: String,
    },
    #[serde(rename_all = "camelCase")]
    PodUpdatedEvent {
        client_ip: String,
        uri: String,
    },
    #[serde(rename_all = "camelCase")]
    PodDeletedEvent {
        client_ip: String,
        uri: String,
    },
    /// All instances of a removed app are gone.
    #[serde(rename_all = "camelCase")]
    AppTerminatedEvent {
        app_id: PathId,
    },
    /// `message` as the bytes' values, as Marathon writes `Array[Byte]`.
    #[serde(rename_all = "camelCase")]
    FrameworkMessageEvent {
        executor_id: String,
        slave_id: String,
        message: Vec<u8>,
    },
    #[serde(rename_all = "camelCase")]
    SchedulerRegisteredEvent {
        framework_id: String,
        master: String,
    },
    SchedulerReregisteredEvent {
        master: String,
    },
    SchedulerDisconnectedEvent {},
    #[serde(rename_all = "camelCase")]
    EventStreamAttached {
        remote_address: String,
    },
    #[serde(rename_all = "camelCase")]
    EventStreamDetached {
        remote_address: String,
    },
}
impl EventKind {
    pub fn event_type(&self) -> &'static str {
        match self {
            EventKind::ApiPostEvent { .. } => "api_post_event",
            EventKind::StatusUpdateEvent { .. } => "status_update_event",
            EventKind::InstanceChangedEvent { .. } => "instance_changed_event",
            EventKind::InstanceHealthChangedEvent { .. } => "instance_health_changed_event",
            EventKind::UnknownInstanceTerminatedEvent { .. } => "unknown_instance_terminated_event",
            EventKind::AddHealthCheckEvent { .. } => "add_health_check_event",
            EventKind::RemoveHealthCheckEvent { .. } => "remove_health_check_event",
            EventKind::FailedHealthCheckEvent { .. } => "failed_health_check_event",
            EventKind::HealthStatusChangedEvent { .. } => "health_status_changed_event",
            EventKind::UnhealthyInstanceKillEvent { .. } => "unhealthy_instance_kill_event",
            EventKind::GroupChangeSuccess { .. } => "group_change_success",
            EventKind::GroupChangeFailed { .. } => "group_change_failed",
            EventKind::DeploymentInfo { .. } => "deployment_info",
            EventKind::DeploymentStepSuccess { .. } => "deployment_step_success",
            EventKind::DeploymentStepFailure { .. } => "deployment_step_failure",
            EventKind::DeploymentSuccess { .. } => "deployment_success",
            EventKind::DeploymentFailed { .. } => "deployment_failed",
            EventKind::PodCreatedEvent { .. } => "pod_created_event",
            EventKind::PodUpdatedEvent { .. } => "pod_updated_event",
            EventKind::PodDeletedEvent { .. } => "pod_deleted_event",
            EventKind::AppTerminatedEvent { .. } => "app_terminated_event",
            EventKind::FrameworkMessageEvent { .. } => "framework_message_event",
            EventKind::SchedulerRegisteredEvent { .. } => "scheduler_registered_event",
            EventKind::SchedulerReregisteredEvent { .. } => "scheduler_reregistered_event",
            EventKind::SchedulerDisconnectedEvent {} => "scheduler_disconnected_event",
            EventKind::EventStreamAttached { .. } => "event_stream_attached",
            EventKind::EventStreamDetached { .. } => "event_stream_detached",
        }
    }

    /// `api_post_event` for an app created or changed by a request to `uri`.
    pub fn api_post(client_ip: &str, uri: &str, app: &AppDefinition) -> EventKind {
        EventKind::ApiPostEvent {
            client_ip: client_ip.to_string(),
            uri: uri.to_string(),
            app_definition: serde_json::to_value(app).expect("apps serialize"),
        }
    }

    /// `status_update_event` for `update` of `instance` (as the tracker has it after the
    /// update).
    pub fn status_update(update: &StatusUpdate, instance: &Instance) -> EventKind {
        EventKind::StatusUpdateEvent {
            slave_id: update
                .agent_id
                .clone()
                .unwrap_or_else(|| instance.agent_id.clone()),
            task_id: instance.task_id.clone(),
            task_status: update.state.clone(),
            message: update.message.clone().unwrap_or_default(),
            app_id: instance.app_id.clone(),
            host: instance.hostname.clone(),
            ip_addresses: instance
                .ip_addresses
                .iter()
                .map(|ip| IpAddress::of(ip))
                .collect(),
            ports: instance.host_ports.clone(),
            version: instance.version.clone(),
        }
    }

    /// `instance_changed_event` for `instance` in its current condition.
    pub fn instance_changed(instance: &Instance) -> EventKind {
        EventKind::InstanceChangedEvent {
            instance_id: crate::instance::instance_id_of(&instance.task_id).to_string(),
            condition: instance.condition.name().to_string(),
            run_spec_id: instance.app_id.clone(),
            agent_id: (!instance.agent_id.is_empty()).then(|| instance.agent_id.clone()),
            host: instance.hostname.clone(),
            run_spec_version: instance.version.clone(),
        }
    }
}

/// A Mesos `NetworkInfo.IPAddress` as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    pub ip_address: String,
    pub protocol: &'static str,
}

impl IpAddress {
    pub fn of(ip: &str) -> IpAddress {
        IpAddress {
            ip_address: ip.to_string(),
            protocol: if ip.contains(':') { "IPv6" } else { "IPv4" },
        }
    }
}

/// A deployment plan in events: the root group before and after, and the steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub id: String,
    pub original: Value,
    pub target: Value,
    pub steps: Vec<Step>,
    pub version: String,
}

/// One step: actions that run together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub actions: Vec<StepAction>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepAction {
    pub action: String,
    pub app: PathId,
}

impl Step {
    /// A step of a deployment plan.
    pub fn of(actions: &[crate::deployment::plan::Action]) -> Step {
        Step {
            actions: actions
                .iter()
                .map(|a| StepAction {
                    action: a.kind.name().to_string(),
                    app: a.app.clone(),
                })
                .collect(),
        }
    }
}

impl Plan {
    pub fn new(
        id: &str,
        version: &str,
        original: Value,
        target: Value,
        steps: &[crate::deployment::plan::Step],
    ) -> Plan {
        Plan {
            id: id.to_string(),
            original,
            target,
            steps: steps.iter().map(|s| Step::of(s)).collect(),
            version: version.to_string(),
        }
    }

    /// The step at `index` (0-based); an empty step past the end.
    pub fn step(&self, index: usize) -> Step {
        self.steps
            .get(index)
            .cloned()
            .unwrap_or(Step { actions: vec![] })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::instance::Condition;

    fn keys(event: &EventKind) -> BTreeSet<String> {
        let v: Value = serde_json::from_str(&Event::new(event.clone(), 0).to_json()).unwrap();
        assert_eq!(v["eventType"], event.event_type(), "tag and name agree");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names
            .iter()
            .chain(&["eventType", "timestamp"])
            .map(|s| s.to_string())
            .collect()
    }

    fn instance() -> Instance {
        let app = AppDefinition::with_defaults(PathId::parse("/web"));
        let task_id = "web.instance-11111111-2222-3333-4444-555555555555._app.1";
        Instance {
            version: "2026-01-01T00:00:00.000Z".into(),
            config_version: "2026-01-01T00:00:00.000Z".into(),
            service_ports: vec![10000],
            condition: Condition::Running,
            started_at: Some(1),
            ip_addresses: vec!["10.0.0.1".into()],
            ..Instance::provisioned(&app, task_id.into(), "agent-1", "h1", vec![31000], 0)
        }
    }

    fn plan() -> Plan {
        Plan::new(
            "d1",
            "2026-01-01T00:00:00.000Z",
            json!({"id": "/"}),
            json!({"id": "/", "apps": []}),
            &[vec![crate::deployment::plan::Action {
                kind: crate::deployment::plan::ActionKind::ScaleApplication,
                app: PathId::parse("/web"),
            }]],
        )
    }

    #[test]
    fn each_event_type_has_marathons_field_set() {
        let app = AppDefinition::with_defaults(PathId::parse("/web"));
        let i = instance();
        let update = StatusUpdate {
            task_id: i.task_id.clone(),
            agent_id: Some("agent-1".into()),
            state: "TASK_RUNNING".into(),
            message: None,
            healthy: None,
            ip_addresses: vec![],
            timestamp_ms: 0,
        };
        let id = PathId::parse("/web");
        let hc = json!({"protocol": "HTTP", "path": "/"});
        let table: Vec<(EventKind, &[&str])> = vec![
            (
                EventKind::api_post("127.0.0.1", "/v2/apps/web", &app),
                &["clientIp", "uri", "appDefinition"],
            ),
            (
                EventKind::PodCreatedEvent {
                    client_ip: "127.0.0.1".into(),
                    uri: "/v2/pods".into(),
                },
                &["clientIp", "uri"],
            ),
            (
                EventKind::status_update(&update, &i),
                &[
                    "slaveId",
                    "taskId",
                    "taskStatus",
                    "message",
                    "appId",
                    "host",
                    "ipAddresses",
                    "ports",
                    "version",
                ],
            ),
            (
                EventKind::instance_changed(&i),
                &[
                    "instanceId",
                    "condition",
                    "runSpecId",
                    "agentId",
                    "host",
                    "runSpecVersion",
                ],
            ),
            (
                EventKind::InstanceHealthChangedEvent {
                    instance_id: "i".into(),
                    run_spec_id: id.clone(),
                    healthy: Some(true),
                    run_spec_version: "v".into(),
                },
                &["instanceId", "runSpecId", "healthy", "runSpecVersion"],
            ),
            (
                EventKind::UnknownInstanceTerminatedEvent {
                    instance_id: "i".into(),
                    run_spec_id: id.clone(),
                    condition: "Killed".into(),
                },
                &["instanceId", "runSpecId", "condition"],
            ),
            (
                EventKind::AddHealthCheckEvent {
                    app_id: id.clone(),
                    version: "v".into(),
                    health_check: hc.clone(),
                },
                &["appId", "version", "healthCheck"],
            ),
            (
                EventKind::RemoveHealthCheckEvent { app_id: id.clone() },
                &["appId"],
            ),
            (
                EventKind::FailedHealthCheckEvent {
                    app_id: id.clone(),
                    task_id: "i".into(),
                    health_check: hc,
                },
                &["appId", "taskId", "healthCheck"],
            ),
            (
                EventKind::HealthStatusChangedEvent {
                    app_id: id.clone(),
                    instance_id: "i".into(),
                    version: "v".into(),
                    alive: false,
                },
                &["appId", "instanceId", "version", "alive"],
            ),
            (
                EventKind::UnhealthyInstanceKillEvent {
                    app_id: id.clone(),
                    task_id: "t".into(),
                    instance_id: "i".into(),
                    version: "v".into(),
                    reason: "r".into(),
                    host: "h".into(),
                    slave_id: Some("a".into()),
                },
                &[
                    "appId",
                    "taskId",
                    "instanceId",
                    "version",
                    "reason",
                    "host",
                    "slaveId",
                ],
            ),
            (
                EventKind::GroupChangeSuccess {
                    group_id: id.clone(),
                    version: "v".into(),
                },
                &["groupId", "version"],
            ),
            (
                EventKind::GroupChangeFailed {
                    group_id: id.clone(),
                    version: "v".into(),
                    reason: "r".into(),
                },
                &["groupId", "version", "reason"],
            ),
            (
                EventKind::DeploymentInfo {
                    plan: plan(),
                    current_step: plan().step(0),
                },
                &["plan", "currentStep"],
            ),
            (
                EventKind::DeploymentStepSuccess {
                    plan: plan(),
                    current_step: plan().step(0),
                },
                &["plan", "currentStep"],
            ),
            (
                EventKind::DeploymentStepFailure {
                    plan: plan(),
                    current_step: plan().step(0),
                },
                &["plan", "currentStep"],
            ),
            (
                EventKind::DeploymentSuccess {
                    id: "d1".into(),
                    plan: plan(),
                },
                &["id", "plan"],
            ),
            (
                EventKind::DeploymentFailed {
                    id: "d1".into(),
                    plan: plan(),
                    reason: Some("cancelled".into()),
                },
                &["id", "plan", "reason"],
            ),
            (
                EventKind::AppTerminatedEvent { app_id: id.clone() },
                &["appId"],
            ),
            (
                EventKind::FrameworkMessageEvent {
                    executor_id: "e".into(),
                    slave_id: "a".into(),
                    message: vec![1, 2],
                },
                &["executorId", "slaveId", "message"],
            ),
            (
                EventKind::SchedulerRegisteredEvent {
                    framework_id: "f".into(),
                    master: "m".into(),
                },
                &["frameworkId", "master"],
            ),
            (
                EventKind::SchedulerReregisteredEvent { master: "m".into() },
                &["master"],
            ),
            (EventKind::SchedulerDisconnectedEvent {}, &[]),
            (
                EventKind::EventStreamAttached {
                    remote_address: "127.0.0.1".into(),
                },
                &["remoteAddress"],
            ),
            (
                EventKind::EventStreamDetached {
                    remote_address: "127.0.0.1".into(),
                },
                &["remoteAddress"],
            ),
        ];
        for (event, fields) in &table {
            assert_eq!(keys(event), set(fields), "{}", event.event_type());
        }
    }

    #[test]
    fn values_are_marathons() {
        let i = instance();
        let v: Value =
            serde_json::from_str(&Event::new(EventKind::instance_changed(&i), 0).to_json())
                .unwrap();
        assert_eq!(
            v["instanceId"],
            "web.instance-11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(v["condition"], "Running");
        assert_eq!(v["runSpecId"], "/web");
        let update = StatusUpdate {
            task_id: i.task_id.clone(),
            agent_id: None,
            state: "TASK_RUNNING".into(),
            message: Some("ok".into()),
            healthy: None,
            ip_addresses: vec![],
            timestamp_ms: 0,
        };
        let v: Value =
            serde_json::from_str(&Event::new(EventKind::status_update(&update, &i), 0).to_json())
                .unwrap();
        assert_eq!(
            v["slaveId"], "agent-1",
            "the instance's agent when the update has none"
        );
        assert_eq!(
            v["ipAddresses"],
            json!([{"ipAddress": "10.0.0.1", "protocol": "IPv4"}])
        );
        assert_eq!(v["ports"], json!([31000]));
        let info = EventKind::DeploymentInfo {
            plan: plan(),
            current_step: plan().step(0),
        };
        let v: Value = serde_json::from_str(&Event::new(info, 0).to_json()).unwrap();
        let plan_keys: BTreeSet<&str> = v["plan"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            plan_keys,
            BTreeSet::from(["id", "original", "target", "steps", "version"])
        );
        assert_eq!(
            v["currentStep"],
            json!({"actions": [{"action": "ScaleApplication", "app": "/web"}]})
        );
        let v: Value = serde_json::from_str(
            &Event::new(EventKind::SchedulerDisconnectedEvent {}, 0).to_json(),
        )
        .unwrap();
        assert_eq!(v["eventType"], "scheduler_disconnected_event");
    }
}
