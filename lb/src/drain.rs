//! Servers taken out through HAProxy's runtime API, at once, instead of one reload later.
//!
//! A reload takes 0.3-4 s on a busy machine, and a task being killed serves only through its
//! kill grace period: after that, requests still sent to it fail. So when a task leaves,
//! its servers in the configuration HAProxy runs are set to `drain` (no new connections;
//! the ones it has finish) or, once the task has ended, `maint`, in milliseconds. The next
//! configuration says the same by itself (the task is a backup server, or gone).
//!
//! HAProxy's state file carries these states across reloads, which is right while the
//! server means the same task, and wrong once a new task serves on the same address and
//! port (same server name): then the server is set `ready` again. A command sent while a
//! reload runs misses the new process (its state file was written before), so the states
//! are sent again after each reload until the configurations HAProxy runs no longer need
//! them. Configurations are numbered (generations) to know which one runs.

use std::collections::BTreeMap;
use std::fmt;

use crate::services::{Plan, Server, Service};

/// One server of one backend, as the runtime API names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerRef {
    pub backend: String,
    pub server: String,
}

/// An administrative state (`set server <b>/<s> state <state>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminState {
    /// Serves as the configuration says.
    Ready,
    /// No new connections; the open ones finish; health checks go on.
    Drain,
    /// No traffic, no checks (the task has ended).
    Maint,
}

/// One runtime API command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub server: ServerRef,
    pub state: AdminState,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        };
        write!(
            f,
            "set server {}/{} state {state}",
            self.server.backend, self.server.server
        )
    }
}

/// The commands that take `task_id`'s servers out of `running` (the configuration HAProxy
/// runs) now that `next` is the configuration to come, given the states already `set`:
/// `maint` when the task has `ended`; else `drain` for each server `next` drops or keeps
/// only as a backup beside an active one, as long as its backend in `running` has
/// another server to send to (draining the last one would answer 503 until the reload
/// that brings the new tasks in; a killed task's last resort stays usable).
pub fn take_out(
    task_id: &str,
    ended: bool,
    running: &Plan,
    next: &Plan,
    set: &AdminStates,
) -> Vec<Command> {
    let mut out = vec![];
    for service in &running.services {
        for server in service.servers.iter().filter(|s| s.task_id == task_id) {
            let at = ServerRef {
                backend: service.name.clone(),
                server: server.name.clone(),
            };
            let state = if ended {
                AdminState::Maint
            } else {
                let kept = next
                    .services
                    .iter()
                    .find(|s| s.name == service.name)
                    .map(|s| (s, s.servers.iter().find(|n| same(n, server))));
                let leaves = match kept {
                    Some((s, Some(n))) => n.backup && has_active(s),
                    _ => true,
                };
                let others = service.servers.iter().any(|o| {
                    o.task_id != task_id
                        && !o.backup
                        && !set.holds_out(&ServerRef {
                            backend: service.name.clone(),
                            server: o.name.clone(),
                        })
                });
                if server.backup || !leaves || !others {
                    continue;
                }
                AdminState::Drain
            };
            if set.state(&at) != Some(state) {
                out.push(Command { server: at, state });
            }
        }
    }
    out
}

fn same(a: &Server, b: &Server) -> bool {
    a.name == b.name && a.task_id == b.task_id
}

fn has_active(service: &Service) -> bool {
    service.servers.iter().any(|s| !s.backup)
}

/// The states set through the runtime API that HAProxy must keep, with the generation of
/// the first configuration that no longer needs them.
#[derive(Debug, Default)]
pub struct AdminStates {
    entries: BTreeMap<ServerRef, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    state: AdminState,
    /// From this generation on, the configuration does without it.
    settled_at: Option<u64>,
}

impl AdminStates {
    /// The state set for `server`, if one is kept.
    pub fn state(&self, server: &ServerRef) -> Option<AdminState> {
        self.entries.get(server).map(|e| e.state)
    }

    /// Whether `server` is drained or in maintenance.
    pub fn holds_out(&self, server: &ServerRef) -> bool {
        self.state(server).is_some_and(|s| s != AdminState::Ready)
    }

    /// Records commands just sent.
    pub fn set(&mut self, commands: &[Command]) {
        for c in commands {
            self.entries.insert(
                c.server.clone(),
                Entry {
                    state: c.state,
                    settled_at: None,
                },
            );
        }
    }

    /// Configuration `generation` will run `plan`: the servers it serves again (a new
    /// task on a drained server's address, or a backup that is its backend's last
    /// server) go back to `ready`; states of servers it drops are needed no longer.
    pub fn on_plan(&mut self, generation: u64, plan: &Plan) -> Vec<Command> {
        let mut ready = vec![];
        for (server, entry) in &mut self.entries {
            let found = plan
                .services
                .iter()
                .find(|s| s.name == server.backend)
                .and_then(|s| Some((s, s.servers.iter().find(|n| n.name == server.server)?)));
            match found {
                None => {
                    entry.settled_at.get_or_insert(generation);
                }
                Some(_) if entry.state == AdminState::Ready => {}
                Some((service, s)) if !s.backup || !has_active(service) => {
                    *entry = Entry {
                        state: AdminState::Ready,
                        settled_at: Some(generation),
                    };
                    ready.push(Command {
                        server: server.clone(),
                        state: AdminState::Ready,
                    });
                }
                Some(_) => entry.settled_at = None,
            }
        }
        ready
    }

    /// HAProxy runs configuration `generation` (freshly reloaded): the states it still
    /// needs, to send again.
    pub fn on_reloaded(&mut self, generation: u64) -> Vec<Command> {
        self.entries
            .retain(|_, e| e.settled_at.is_none_or(|at| at > generation));
        self.entries
            .iter()
            .map(|(server, e)| Command {
                server: server.clone(),
                state: e.state,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{plan, tests::*};

    fn web(tasks: &[(&str, u32, &str)]) -> Plan {
        let mut a = app("/web", &[10000]);
        for (id, port, state) in tasks {
            let mut t = task(id, &[*port]);
            t.state = Some(state.to_string());
            a = a.task(t);
        }
        plan(&[a.build()], &settings(&["*"]))
    }

    fn cmd(server: &str, state: AdminState) -> Command {
        Command {
            server: ServerRef {
                backend: "web_10000".into(),
                server: server.into(),
            },
            state,
        }
    }

    const RUN: &str = "TASK_RUNNING";
    const KILLING: &str = "TASK_KILLING";
    const S1: &str = "127_0_0_1_31001";

    fn take_out(task: &str, ended: bool, running: &Plan, next: &Plan) -> Vec<Command> {
        super::take_out(task, ended, running, next, &AdminStates::default())
    }

    #[test]
    fn a_killed_task_drains_while_another_serves_and_stays_a_backup_when_alone() {
        let running = web(&[("a", 31001, RUN), ("b", 31002, RUN)]);
        let next = web(&[("a", 31001, KILLING), ("b", 31002, RUN)]);
        assert_eq!(
            take_out("a", false, &running, &next),
            vec![cmd(S1, AdminState::Drain)]
        );
        assert_eq!(
            cmd(S1, AdminState::Drain).to_string(),
            format!("set server web_10000/{S1} state drain")
        );
        // The last task: its backup server is all there is, so it keeps serving.
        let alone = web(&[("a", 31001, RUN)]);
        let next = web(&[("a", 31001, KILLING)]);
        assert_eq!(take_out("a", false, &alone, &next), vec![]);
        // Already a backup in the running configuration: nothing to do until it ends.
        let next2 = web(&[("a", 31001, KILLING), ("b", 31002, KILLING)]);
        assert_eq!(take_out("a", false, &next2, &next2), vec![]);
        // Ended: maintenance, backup or not, other servers or not.
        let gone = web(&[]);
        assert_eq!(
            take_out("a", true, &next, &gone),
            vec![cmd(S1, AdminState::Maint)]
        );
        // Dropped from the next configuration (unhealthy): drained.
        let dropped = web(&[("b", 31002, RUN)]);
        assert_eq!(
            take_out("a", false, &running, &dropped),
            vec![cmd(S1, AdminState::Drain)]
        );
        // Unknown task, or a task the next configuration keeps active: nothing.
        assert_eq!(take_out("zzz", true, &running, &next), vec![]);
        assert_eq!(take_out("a", false, &running, &running), vec![]);
    }

    #[test]
    fn the_last_usable_server_of_the_running_configuration_is_not_drained() {
        // HAProxy still runs a, b and c; a and b are drained already. c is killed while
        // the configuration with the new tasks d and e is still on its way: draining c
        // would leave nothing to send to.
        let mut set = AdminStates::default();
        set.set(&[
            cmd(S1, AdminState::Drain),
            cmd("127_0_0_1_31002", AdminState::Drain),
        ]);
        let running = web(&[("a", 31001, RUN), ("b", 31002, RUN), ("c", 31003, RUN)]);
        let next = web(&[("c", 31003, KILLING), ("d", 31004, RUN), ("e", 31005, RUN)]);
        assert_eq!(super::take_out("c", false, &running, &next, &set), vec![]);
        // Once HAProxy runs d and e beside it, c (a backup there) gets nothing anyway.
        assert_eq!(super::take_out("c", false, &next, &next, &set), vec![]);
        // A state already set is not sent again.
        let two = web(&[("a", 31001, RUN), ("b", 31002, RUN)]);
        let next = web(&[("a", 31001, KILLING), ("b", 31002, RUN)]);
        let mut only_a = AdminStates::default();
        only_a.set(&[cmd(S1, AdminState::Drain)]);
        assert_eq!(super::take_out("a", false, &two, &next, &only_a), vec![]);
    }

    #[test]
    fn states_are_sent_again_after_reloads_until_no_configuration_needs_them() {
        let mut states = AdminStates::default();
        let drain = cmd(S1, AdminState::Drain);
        states.set(std::slice::from_ref(&drain));
        // Generation 2 keeps the killed task as a backup beside b: the drain holds.
        let g2 = web(&[("a", 31001, KILLING), ("b", 31002, RUN)]);
        assert_eq!(states.on_plan(2, &g2), vec![]);
        // Generation 1 (from before the kill) finished reloading: send it again.
        assert_eq!(states.on_reloaded(1), vec![drain.clone()]);
        // The task ended: maintenance; generation 3 drops it.
        let maint = cmd(S1, AdminState::Maint);
        states.set(std::slice::from_ref(&maint));
        assert_eq!(states.on_plan(3, &web(&[("b", 31002, RUN)])), vec![]);
        // Generation 2 still has the server: it still needs maintenance.
        assert_eq!(states.on_reloaded(2), vec![maint]);
        // Generation 3 runs without it: forgotten.
        assert_eq!(states.on_reloaded(3), vec![]);
    }

    #[test]
    fn a_new_task_on_a_drained_address_is_made_ready() {
        let mut states = AdminStates::default();
        states.set(&[cmd(S1, AdminState::Drain)]);
        // A new task c on a's address while a is still listed, killed (deduplicated away
        // or not, the server name is the same): ready again.
        let g5 = web(&[("c", 31001, RUN), ("b", 31002, RUN)]);
        let ready = cmd(S1, AdminState::Ready);
        assert_eq!(states.on_plan(5, &g5), vec![ready.clone()]);
        // A reload of an older generation (state file written before the ready) hears it
        // again; generation 5's does not need it.
        assert_eq!(states.on_reloaded(4), vec![ready.clone()]);
        assert_eq!(states.on_plan(6, &g5), vec![]);
        assert_eq!(states.on_reloaded(5), vec![]);
    }

    #[test]
    fn a_drained_backup_left_alone_in_its_backend_serves_again() {
        let mut states = AdminStates::default();
        states.set(&[cmd(S1, AdminState::Drain)]);
        let with_b = web(&[("a", 31001, KILLING), ("b", 31002, RUN)]);
        assert_eq!(states.on_plan(1, &with_b), vec![]);
        // b is killed too: a (still serving its grace period) is all that is left.
        let both = web(&[("a", 31001, KILLING), ("b", 31002, KILLING)]);
        assert_eq!(take_out("b", false, &with_b, &both), vec![]);
        assert_eq!(states.on_plan(2, &both), vec![cmd(S1, AdminState::Ready)]);
    }
}
