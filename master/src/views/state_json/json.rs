//! Writing Mesos's JSON straight into bytes: objects, arrays, and the task, status and
//! executor shapes every large view shares.

use std::sync::Arc;

use mesos_common::resources::Resources;
use mesos_common::wire::{self, ResourcesStateJson};
use mesos_proto::json::to_json_value;
use mesos_proto::v1;
use serde::Serialize;
use serde_json::Value;

pub(super) fn resources_json(r: &Resources) -> Value {
    wire::resources_state_json(r)
}

pub(super) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("writing JSON into memory cannot fail");
}

/// A JSON object being written into `out`.
pub(super) struct Object<'a> {
    pub(super) out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Writes `"key":` and returns the buffer for the value.
    pub(super) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write(self.out, key);
        self.out.push(b':');
        self.out
    }

    pub(super) fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        let out = self.key(key);
        write(out, value);
    }

    pub(super) fn close(self) {
        self.out.push(b'}');
    }
}

pub(super) fn array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut each: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

fn write_labels(out: &mut Vec<u8>, labels: &v1::Labels) {
    array(out, &labels.labels, |out, l| {
        let mut o = Object::open(out);
        o.field("key", &l.key);
        o.field("value", l.value.as_deref().unwrap_or_default());
        o.close();
    });
}

fn write_status(out: &mut Vec<u8>, s: &v1::TaskStatus) {
    let mut o = Object::open(out);
    o.field("state", s.state().as_str_name());
    o.field("timestamp", &s.timestamp.unwrap_or(0.0));
    if let Some(h) = s.healthy {
        o.field("healthy", &h);
    }
    if let Some(l) = &s.labels {
        write_labels(o.key("labels"), l);
    }
    if let Some(c) = &s.container_status {
        o.field("container_status", &to_json_value(c));
    }
    o.close();
}

/// One task; `resources` are the master's own record of them, else read from the task.
/// An executor as Mesos's master writes one in a framework's `executors`.
pub(super) fn write_executor(out: &mut Vec<u8>, agent_id: &str, executor: &v1::ExecutorInfo) {
    let mut o = Object::open(out);
    o.field("executor_id", &executor.executor_id.value);
    o.field("name", executor.name.as_deref().unwrap_or(""));
    o.field(
        "framework_id",
        executor
            .framework_id
            .as_ref()
            .map(|f| f.value.as_str())
            .unwrap_or(""),
    );
    o.field(
        "command",
        &executor
            .command
            .as_ref()
            .map(to_json_value)
            .unwrap_or_else(|| Value::Object(Default::default())),
    );
    let resources = wire::resources_from_proto(&executor.resources).unwrap_or_default();
    o.field("resources", &ResourcesStateJson(&resources));
    if let Some(labels) = &executor.labels {
        o.field("labels", &to_json_value(labels));
    }
    if executor.r#type.is_some() {
        o.field("type", executor.r#type().as_str_name());
    }
    o.field("slave_id", agent_id);
    o.close();
}

pub(super) fn write_task(out: &mut Vec<u8>, task: &v1::Task, resources: Option<&Resources>) {
    let parsed;
    let resources = match resources {
        Some(r) => r,
        None => {
            parsed = wire::resources_from_proto(&task.resources).unwrap_or_default();
            &parsed
        }
    };
    let mut o = Object::open(out);
    o.field("id", &task.task_id.value);
    o.field("name", &task.name);
    o.field("framework_id", &task.framework_id.value);
    o.field(
        "executor_id",
        task.executor_id
            .as_ref()
            .map(|e| e.value.as_str())
            .unwrap_or_default(),
    );
    o.field("slave_id", &task.agent_id.value);
    o.field("state", task.state().as_str_name());
    o.field("resources", &ResourcesStateJson(resources));
    if let Some(role) = task
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.as_ref()))
    {
        o.field("role", role);
    }
    array(o.key("statuses"), &task.statuses, write_status);
    if let Some(user) = &task.user {
        o.field("user", user);
    }
    if let Some(l) = &task.labels {
        write_labels(o.key("labels"), l);
    }
    if let Some(d) = &task.discovery {
        o.field("discovery", &to_json_value(d));
    }
    if let Some(c) = &task.container {
        o.field("container", &to_json_value(c));
    }
    if let Some(h) = &task.health_check {
        o.field("health_check", &to_json_value(h));
    }
    if let Some(k) = &task.kill_policy {
        o.field("kill_policy", &to_json_value(k));
    }
    o.close();
}

/// A task as it stood when the snapshot was taken, with the master's record of its
/// resources (None for finished tasks: they are read from the task itself).
pub(super) type TaskSnapshot = (Arc<v1::Task>, Option<Resources>);
