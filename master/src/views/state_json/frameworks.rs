//! Frameworks in the state views: what a snapshot takes of each, and how it is written.

use std::sync::Arc;

use mesos_common::resources::Resources;
use mesos_common::wire::ResourcesStateJson;
use mesos_proto::v1;

use super::json::{array, write, write_executor, write_task, Object, TaskSnapshot};
use crate::engine::{Engine, Framework};

pub(super) struct OfferSnapshot {
    pub(super) id: String,
    pub(super) framework_id: String,
    pub(super) agent_id: String,
    pub(super) resources: Resources,
}

/// What the full views add to a framework: its tasks and offers.
pub(super) struct FrameworkDetail {
    pub(super) tasks: Vec<TaskSnapshot>,
    completed: Vec<Arc<v1::Task>>,
    unreachable: Vec<Arc<v1::Task>>,
    pub(super) offers: Vec<OfferSnapshot>,
    /// (agent id, executor).
    executors: Vec<(String, v1::ExecutorInfo)>,
}

pub(super) struct FrameworkSnapshot {
    pub(super) id: String,
    pub(super) info: v1::FrameworkInfo,
    pub(super) active: bool,
    connected: bool,
    recovered: bool,
    pub(super) registered_time: f64,
    pub(super) reregistered_time: Option<f64>,
    unregistered_time: Option<f64>,
    pub(super) used: Resources,
    pub(super) offered: Resources,
    active_tasks: usize,
    /// None in the summary.
    pub(super) detail: Option<FrameworkDetail>,
}

impl FrameworkSnapshot {
    pub(super) fn take(e: &Engine, f: &Framework, detail: bool) -> Self {
        let (used, offered) = e.framework_usage(f);
        let detail = detail.then(|| FrameworkDetail {
            tasks: f
                .tasks
                .values()
                .map(|t| (t.task.clone(), Some(t.resources.clone())))
                .collect(),
            completed: f.completed_tasks.iter().cloned().collect(),
            unreachable: f.unreachable_tasks.iter().cloned().collect(),
            // From the offer table itself: rebuilding each v1::Offer only to take its
            // resources back out cost ~3 us per offer, 150 ms in the actor when 50,000
            // agents had just been offered again.
            offers: f
                .offers
                .iter()
                .filter_map(|id| {
                    let offer = e.offers.get(id)?;
                    Some(OfferSnapshot {
                        id: id.clone(),
                        framework_id: offer.framework_id.clone(),
                        agent_id: offer.agent_id.clone(),
                        resources: offer.resources.clone(),
                    })
                })
                .collect(),
            executors: Engine::framework_executors(f),
        });
        FrameworkSnapshot {
            id: f.id.clone(),
            info: f.info.clone(),
            active: f.active,
            connected: Engine::framework_connected(f),
            recovered: f.recovered,
            registered_time: f.registered_time,
            reregistered_time: f.reregistered_time,
            unregistered_time: f.unregistered_time,
            used,
            offered,
            active_tasks: f.tasks.len(),
            detail,
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        let info = &self.info;
        let mut o = Object::open(out);
        o.field("id", &self.id);
        o.field("name", &info.name);
        o.field("user", &info.user);
        o.field("hostname", info.hostname.as_deref().unwrap_or_default());
        o.field("webui_url", info.webui_url.as_deref().unwrap_or_default());
        o.field("active", &self.active);
        o.field("connected", &self.connected);
        o.field("recovered", &self.recovered);
        o.field("failover_timeout", &info.failover_timeout.unwrap_or(0.0));
        o.field("checkpoint", &info.checkpoint.unwrap_or(false));
        o.field("role", info.role());
        o.field("roles", &crate::engine::framework_roles(info));
        if let Some(p) = &info.principal {
            o.field("principal", p);
        }
        array(o.key("capabilities"), &info.capabilities, |out, c| {
            write(out, c.r#type().as_str_name())
        });
        o.field("registered_time", &self.registered_time);
        if let Some(t) = self.reregistered_time {
            o.field("reregistered_time", &t);
        }
        o.field("unregistered_time", &self.unregistered_time.unwrap_or(0.0));
        o.field(
            "resources",
            &ResourcesStateJson(&self.used.plus(&self.offered)),
        );
        o.field("used_resources", &ResourcesStateJson(&self.used));
        o.field("offered_resources", &ResourcesStateJson(&self.offered));
        let Some(detail) = &self.detail else {
            o.field("TASK_RUNNING", &self.active_tasks);
            o.close();
            return;
        };
        array(o.key("tasks"), &detail.tasks, |out, (t, r)| {
            write_task(out, t, r.as_ref())
        });
        array(o.key("unreachable_tasks"), &detail.unreachable, |out, t| {
            write_task(out, t, None)
        });
        array(o.key("completed_tasks"), &detail.completed, |out, t| {
            write_task(out, t, None)
        });
        array(o.key("offers"), &detail.offers, |out, offer| {
            let mut o = Object::open(out);
            o.field("id", &offer.id);
            o.field("framework_id", &offer.framework_id);
            o.field("slave_id", &offer.agent_id);
            o.field("resources", &ResourcesStateJson(&offer.resources));
            o.close();
        });
        array(
            o.key("executors"),
            &detail.executors,
            |out, (agent_id, executor)| write_executor(out, agent_id, executor),
        );
        o.close();
    }
}
