//! Agents and their liveness: registration and re-registration, messages from the agent
//! stream, pings, and an agent becoming unreachable.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mesos_common::ids;
use mesos_common::resources::Resources;
use mesos_common::wire;
use mesos_proto::internal::{self as internal, master_message};
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, task_status::Reason, TaskState};
use prost::Message as _;
use tracing::{info, warn};

use super::admin;
use super::{
    aid, allocator_result, fid, used_of, wall_clock_secs, Agent, AgentConn, AgentSender, Engine,
    EngineEvent, TaskEntry, ViewSlot,
};
use crate::allocator::AgentSpec;

impl Engine {
    /// An agent opened its stream and sent Register. Returns the id it now has.
    pub fn agent_connected(
        &mut self,
        conn_id: u64,
        register: internal::Register,
        tx: AgentSender,
        now: Duration,
    ) -> Result<String, String> {
        let mut info = register.agent_info;
        let total = wire::resources_from_proto(&info.resources)
            .map_err(|e| format!("invalid agent resources: {e}"))?;
        let wall = wall_clock_secs();
        let claimed = info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .filter(|s| !s.is_empty());
        let agent_id = match claimed {
            Some(id) => id,
            None => {
                let id = ids::agent_id(&self.id, self.next_agent);
                self.next_agent += 1;
                id
            }
        };
        if let Some(refusal) = admin::refusal(self, &agent_id) {
            return Err(refusal);
        }
        info.id = Some(aid(&agent_id));
        self.unreachable_agents.remove(&agent_id);

        let reported: HashMap<(String, String), v1::Task> = register
            .tasks
            .into_iter()
            .map(|t| {
                let f = t.framework_id.value.clone();
                let id = t.task_id.value.clone();
                ((f, id), t)
            })
            .collect();
        let reported_frameworks: HashMap<String, v1::FrameworkInfo> = register
            .frameworks
            .into_iter()
            .filter_map(|f| Some((f.id.clone()?.value, f)))
            .collect();

        let existing = self.agents.remove(&agent_id);
        let reregistered = existing.is_some();
        if let Some(old) = existing {
            info!(agent_id, "agent re-registered");
            // Tasks the master thought were there but the agent no longer has are lost.
            for key in &old.tasks {
                if !reported.contains_key(key) {
                    self.task_gone_with_agent(
                        &key.0,
                        &key.1,
                        &agent_id,
                        TaskState::TaskLost,
                        Reason::AgentReregistered,
                        "Task was not found on the agent when it re-registered",
                        now,
                    );
                }
            }
            for offer in old.offers {
                self.remove_offer(&offer, false, now);
            }
            allocator_result(self.allocator.remove_agent(&agent_id));
        } else {
            info!(agent_id, hostname = %info.hostname, "agent registered");
        }

        let resources_wire = v1::AgentInfo {
            resources: std::mem::take(&mut info.resources),
            ..Default::default()
        }
        .encode_to_vec()
        .into_boxed_slice();
        let mut agent = Agent {
            id: agent_id.clone(),
            total: total.clone(),
            info,
            resources_wire,
            version: register.version.unwrap_or_default(),
            http_address: register.http_address.unwrap_or_default(),
            registered_time: wall,
            reregistered_time: reregistered.then_some(wall),
            conn: Some(AgentConn { id: conn_id, tx }),
            missed_pings: 0,
            ping_outstanding: Arc::new(AtomicBool::new(false)),
            next_ping: now + self.config.agent_ping_timeout,
            tasks: HashSet::new(),
            offers: HashSet::new(),
            offered: Resources::default(),
            offers_revision: 0,
            allocator_slot: None,
            views: ViewSlot::default(),
        };
        self.ping_queue
            .push(Reverse((agent.next_ping, agent_id.clone())));

        // Rebuild what the agent reports: tasks the master does not know (it restarted)
        // and frameworks it has never seen (recovered, waiting for the scheduler).
        let mut used: HashMap<String, Resources> = HashMap::new();
        for ((framework_id, task_id), task) in reported {
            if !self.frameworks.contains_key(&framework_id) {
                if self
                    .completed_frameworks
                    .iter()
                    .any(|f| f.id == framework_id)
                {
                    self.send_to_conn(
                        &agent.conn,
                        master_message::Message::ShutdownFramework(internal::ShutdownFramework {
                            framework_id: fid(&framework_id),
                        }),
                    );
                    continue;
                }
                let finfo = reported_frameworks
                    .get(&framework_id)
                    .cloned()
                    .unwrap_or_else(|| v1::FrameworkInfo {
                        id: Some(fid(&framework_id)),
                        ..Default::default()
                    });
                self.add_recovered_framework(&framework_id, finfo);
            }
            let resources = wire::resources_from_proto(&task.resources).unwrap_or_default();
            let terminal = task.state().is_terminal();
            if !terminal {
                let entry = used.entry(framework_id.clone()).or_default();
                *entry = entry.plus(&resources);
            }
            let framework = self.frameworks.get_mut(&framework_id).expect("ensured");
            // Back from an unreachable agent: the task is no longer unreachable.
            if !framework.unreachable_tasks.is_empty() {
                framework
                    .unreachable_tasks
                    .retain(|t| t.task_id.value != task_id);
            }
            framework
                .tasks
                .entry(task_id.clone())
                .and_modify(|e| {
                    Arc::make_mut(&mut e.task).set_state(task.state());
                    e.recovered = terminal;
                })
                .or_insert(TaskEntry {
                    task: Arc::new(task),
                    resources,
                    recovered: terminal,
                    terminal_uuid: None,
                });
            agent.tasks.insert((framework_id, task_id));
        }

        allocator_result(self.allocator.add_agent(
            &agent_id,
            AgentSpec {
                hostname: agent.info.hostname.clone(),
                total,
            },
            used,
        ));
        agent.allocator_slot = self.allocator.agent_slot(&agent_id);
        self.agents.insert(agent_id.clone(), agent);
        admin::agent_admitted(self, &agent_id);
        self.emit(|| EngineEvent::AgentAdded {
            agent_id: agent_id.clone(),
        });

        self.send_to_agent(
            &agent_id,
            master_message::Message::Registered(internal::Registered {
                agent_id: aid(&agent_id),
                master_info: self.info.clone(),
                ping_interval_seconds: Some(self.config.agent_ping_timeout.as_secs_f64()),
                max_ping_timeouts: Some(self.config.max_agent_ping_timeouts),
            }),
        );
        self.allocation_pending = true;
        Ok(agent_id)
    }

    /// The agent's stream ended. Its tasks stay until it misses enough pings.
    pub fn agent_disconnected(&mut self, agent_id: &str, conn_id: u64, now: Duration) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if agent.conn.as_ref().is_none_or(|c| c.id != conn_id) {
            return;
        }
        info!(agent_id, "agent disconnected");
        agent.conn = None;
        let offers: Vec<String> = agent.offers.iter().cloned().collect();
        allocator_result(self.allocator.deactivate_agent(agent_id));
        for offer in offers {
            self.remove_offer(&offer, true, now);
        }
    }

    pub fn agent_message(&mut self, agent_id: &str, msg: internal::AgentMessage, now: Duration) {
        use internal::agent_message::Message;
        match msg.message {
            Some(Message::Pong(_)) => {
                // Streams take pongs themselves; one that reaches the engine counts the same.
                if let Some(agent) = self.agents.get(agent_id) {
                    agent.ping_outstanding.store(false, Ordering::Relaxed);
                }
            }
            Some(Message::StatusUpdate(update)) => self.status_update(agent_id, update, now),
            Some(Message::ExecutorMessage(m)) => {
                let framework_id = m.framework_id.value.clone();
                let mut e = scheduler::Event {
                    message: Some(event::Message {
                        agent_id: aid(agent_id),
                        executor_id: m.executor_id,
                        data: m.data,
                    }),
                    ..Default::default()
                };
                e.set_type(event::Type::Message);
                self.send_to_framework(&framework_id, &e);
            }
            Some(Message::ExitedExecutor(exited)) => {
                let framework_id = exited.framework_id.value.clone();
                if let Some(f) = self.frameworks.get_mut(&framework_id) {
                    f.executors
                        .remove(&(agent_id.to_string(), exited.executor_id.value.clone()));
                }
                let mut e = scheduler::Event {
                    failure: Some(event::Failure {
                        agent_id: Some(aid(agent_id)),
                        executor_id: Some(exited.executor_id),
                        status: exited.status,
                    }),
                    ..Default::default()
                };
                e.set_type(event::Type::Failure);
                self.send_to_framework(&framework_id, &e);
            }
            Some(Message::Register(_)) => {
                warn!(agent_id, "duplicate Register on an open stream ignored");
            }
            None => {}
        }
    }

    /// Liveness: pings the agents that are due at `now` (call it often: each agent has its own
    /// time). An agent that missed `max_agent_ping_timeouts` pings in a row is unreachable.
    pub fn ping_agents(&mut self, now: Duration) {
        let interval = self.config.agent_ping_timeout;
        let max = self.config.max_agent_ping_timeouts;
        let mut lost = Vec::new();
        while let Some(Reverse((due, _))) = self.ping_queue.peek() {
            if *due > now {
                break;
            }
            let Some(Reverse((due, agent_id))) = self.ping_queue.pop() else {
                break;
            };
            let Some(agent) = self.agents.get_mut(&agent_id) else {
                continue;
            };
            if agent.next_ping != due {
                // Left over from an earlier registration of the agent.
                continue;
            }
            let unanswered = agent.ping_outstanding.swap(true, Ordering::Relaxed);
            if unanswered || agent.conn.is_none() {
                agent.missed_pings += 1;
            } else {
                agent.missed_pings = 0;
            }
            if agent.missed_pings >= max {
                lost.push(agent_id);
                continue;
            }
            // Keep the agent's phase unless the master fell a whole interval behind.
            let next = (due + interval).max(now + interval / 2);
            agent.next_ping = next;
            self.ping_queue.push(Reverse((next, agent_id.clone())));
            self.send_to_agent(
                &agent_id,
                master_message::Message::Ping(internal::Ping { seq: 0 }),
            );
        }
        for agent_id in lost {
            self.mark_agent_unreachable(&agent_id, now);
        }
    }

    pub(crate) fn mark_agent_unreachable(&mut self, agent_id: &str, now: Duration) {
        let Some(agent) = self.agents.remove(agent_id) else {
            return;
        };
        warn!(agent_id, "agent unreachable: it missed too many pings");
        self.forget_executors_on(agent_id);
        for offer in agent.offers.iter() {
            self.remove_offer(offer, true, now);
        }
        allocator_result(self.allocator.remove_agent(agent_id));
        self.unreachable_agents
            .insert(agent_id.to_string(), wall_clock_secs());
        self.emit(|| EngineEvent::AgentRemoved {
            agent_id: agent_id.to_string(),
        });
        for (framework_id, task_id) in agent.tasks {
            self.task_gone_with_agent(
                &framework_id,
                &task_id,
                agent_id,
                TaskState::TaskUnreachable,
                Reason::AgentRemoved,
                "Agent is unreachable",
                now,
            );
            if let Some(framework) = self.frameworks.get(&framework_id) {
                let mut failure = scheduler::Event {
                    failure: Some(event::Failure {
                        agent_id: Some(aid(agent_id)),
                        executor_id: None,
                        status: None,
                    }),
                    ..Default::default()
                };
                failure.set_type(event::Type::Failure);
                if framework.subscriber.is_some() {
                    self.send_to_framework(&framework_id, &failure);
                }
            }
        }
    }

    fn send_to_conn(&mut self, conn: &Option<AgentConn>, message: master_message::Message) {
        if let Some(conn) = conn {
            if conn
                .tx
                .try_send(Box::new(internal::MasterMessage {
                    message: Some(message),
                }))
                .is_err()
            {
                self.counters.dropped_messages += 1;
            }
        }
    }

    pub(crate) fn send_to_agent(&mut self, agent_id: &str, message: master_message::Message) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let sent = agent.conn.as_ref().map(|c| {
            c.tx.try_send(Box::new(internal::MasterMessage {
                message: Some(message),
            }))
            .is_ok()
        });
        if sent == Some(false) {
            self.counters.dropped_messages += 1;
            warn!(agent_id, "agent queue full or closed; message dropped");
        }
    }

    pub(crate) fn agent_connected_now(a: &Agent) -> bool {
        a.conn.is_some()
    }

    /// (used by tasks, offered) resources on an agent: what the allocator has allocated
    /// there (it gets every launch and every recovery) less the outstanding offers, instead
    /// of a sum over the agent's tasks.
    pub(crate) fn agent_usage(&self, a: &Agent) -> (Resources, Resources) {
        let (allocated, offered) = self.agent_allocated_and_offered(a);
        (used_of(&allocated, &offered), offered)
    }

    /// What the allocator holds for the agent (offered or in use) and what of it is
    /// offered: cheap (usually shared, not summed); [`used_of`] makes the rest.
    pub(crate) fn agent_allocated_and_offered(&self, a: &Agent) -> (Resources, Resources) {
        let allocated = a
            .allocator_slot
            .and_then(|slot| self.allocator.agent_allocated(slot, &a.id))
            .unwrap_or_default();
        (allocated, a.offered.clone())
    }

    /// The flag an agent's stream clears when a pong comes (see `Agent::ping_outstanding`).
    pub(crate) fn agent_liveness(&self, agent_id: &str) -> Option<Arc<AtomicBool>> {
        Some(self.agents.get(agent_id)?.ping_outstanding.clone())
    }
}
