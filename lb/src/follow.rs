//! The follower: Marathon's apps and events in, configurations to apply, runtime API
//! commands to send and fetches to make out. Pure and synchronous; the runner feeds it and
//! carries out its effects.
//!
//! - A snapshot (`GET /v2/apps?embed=apps.tasks`) replaces what it knows and renders.
//! - A task that Marathon is killing or that ended (`status_update_event`) leaves the
//!   rotation at once, from the last snapshot, without waiting for a fetch: its servers are
//!   drained through the runtime API (`drain`) and the next configuration has it as a
//!   backup server, used only when no other server is left, since it serves through its
//!   grace period. That state overrides later snapshots that still show the task running
//!   (a fetch that was on its way before the kill) until Marathon stops listing it.
//! - With `--health-check`, a task whose Marathon health check fails
//!   (`health_status_changed_event`, `alive: false`) leaves the same way until one passes.
//! - Other relevant events ask for a fetch; fetches never overlap, and the events that
//!   arrive during one are answered by one more fetch after it.

use std::collections::{BTreeMap, BTreeSet};

use crate::drain::{take_out, AdminStates, Command};
use crate::events::Event;
use crate::model::{is_ending_state, App};
use crate::render::{render, Layout};
use crate::services::{plan, Plan, Settings, Skip};

/// What the runner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fetch the apps and feed them back with [`Follower::on_snapshot`] (or
    /// [`Follower::on_fetch_failed`]).
    Fetch,
    /// Send these commands to HAProxy's runtime API now, before any reload.
    Admin(Vec<Command>),
    /// Apply this configuration (the driver skips it when it equals the running one) and
    /// report it with [`Follower::on_reloaded`] once HAProxy runs it.
    Apply {
        generation: u64,
        text: String,
        skipped: Vec<Skip>,
    },
}

pub struct Follower {
    settings: Settings,
    layout: Layout,
    apps: Option<Vec<App>>,
    /// Tasks seen being killed or ended, with that state: never active again.
    drained: BTreeMap<String, String>,
    /// Tasks whose Marathon health check failed last.
    unhealthy: BTreeSet<String>,
    /// The last configuration rendered: HAProxy is about to run it.
    plan: Plan,
    generation: u64,
    /// The configuration HAProxy runs, as last reported ([`Follower::on_reloaded`]), and
    /// the ones rendered since, by generation.
    running: Plan,
    unconfirmed: BTreeMap<u64, Plan>,
    admin: AdminStates,
    fetching: bool,
    fetch_again: bool,
}

impl Follower {
    pub fn new(settings: Settings, layout: Layout) -> Follower {
        Follower {
            settings,
            layout,
            apps: None,
            drained: BTreeMap::new(),
            unhealthy: BTreeSet::new(),
            plan: Plan::default(),
            generation: 0,
            running: Plan::default(),
            unconfirmed: BTreeMap::new(),
            admin: AdminStates::default(),
            fetching: false,
            fetch_again: false,
        }
    }

    /// Asks for a fetch (at start, on a poll tick, after reconnecting to the stream).
    pub fn refresh(&mut self) -> Vec<Effect> {
        if self.fetching {
            self.fetch_again = true;
            return vec![];
        }
        self.fetching = true;
        vec![Effect::Fetch]
    }

    pub fn on_snapshot(&mut self, apps: Vec<App>) -> Vec<Effect> {
        self.fetching = false;
        let listed: BTreeSet<&str> = apps
            .iter()
            .flat_map(|a| a.tasks.iter().map(|t| t.id.as_str()))
            .collect();
        self.drained.retain(|id, _| listed.contains(id.as_str()));
        self.unhealthy.retain(|id| listed.contains(id.as_str()));
        self.apps = Some(apps);
        let mut effects = self.changed();
        if std::mem::take(&mut self.fetch_again) {
            effects.extend(self.refresh());
        }
        effects
    }

    pub fn on_fetch_failed(&mut self) -> Vec<Effect> {
        self.fetching = false;
        if std::mem::take(&mut self.fetch_again) {
            return self.refresh();
        }
        vec![]
    }

    pub fn on_event(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = match event {
            Event::Status { task_id, state, .. } => {
                let news = self.drained.get(&task_id) != Some(&state);
                if !is_ending_state(&state) || !news {
                    return self.refresh();
                }
                self.drained.insert(task_id.clone(), state);
                self.changed_if_known(&[task_id])
            }
            Event::Health {
                instance, alive, ..
            } => {
                let tasks: Vec<String> = self
                    .apps
                    .iter()
                    .flatten()
                    .flat_map(|a| &a.tasks)
                    .filter(|t| of_instance(&t.id, &instance))
                    .map(|t| t.id.clone())
                    .collect();
                let changed = tasks.iter().fold(false, |changed, t| {
                    changed
                        | if alive {
                            self.unhealthy.remove(t)
                        } else {
                            self.unhealthy.insert(t.clone())
                        }
                });
                if alive || !changed {
                    return self.refresh();
                }
                self.changed_if_known(&tasks)
            }
            Event::Changed(_) => vec![],
            Event::Other(_) => return vec![],
        };
        effects.extend(self.refresh());
        effects
    }

    /// HAProxy runs configuration `generation` now: the runtime states it must be told
    /// again (a reload started before they were set did not carry them), and the servers
    /// of leaving tasks it can now do without.
    pub fn on_reloaded(&mut self, generation: u64) -> Vec<Effect> {
        if let Some(p) = self.unconfirmed.remove(&generation) {
            self.running = p;
        }
        self.unconfirmed.retain(|g, _| *g > generation);
        let mut commands = self.admin.on_reloaded(generation);
        commands.extend(self.take_outs());
        admin(commands)
    }

    /// [`Follower::changed`] when any of `tasks` is known (else a fetch will tell).
    fn changed_if_known(&mut self, tasks: &[String]) -> Vec<Effect> {
        let known = self
            .apps
            .iter()
            .flatten()
            .any(|a| a.tasks.iter().any(|t| tasks.contains(&t.id)));
        if known {
            self.changed()
        } else {
            vec![]
        }
    }

    /// Renders the next configuration. The leaving tasks' servers go out of the running
    /// one at once, and the servers it serves again are set ready (first: they are what
    /// cannot wait for a reload).
    fn changed(&mut self) -> Vec<Effect> {
        let p = self.plan_now();
        self.generation += 1;
        self.plan = p.clone();
        let mut commands = self.take_outs();
        commands.extend(self.admin.on_plan(self.generation, &p));
        let mut effects = admin(commands);
        effects.push(Effect::Apply {
            generation: self.generation,
            text: render(&p, &self.layout),
            skipped: p.skipped.clone(),
        });
        self.unconfirmed.insert(self.generation, p);
        effects
    }

    /// The commands that take the leaving tasks (being killed, ended, unhealthy) out of
    /// the running configuration, as far as it can do without them; recorded as set.
    fn take_outs(&mut self) -> Vec<Command> {
        let leaving: Vec<(String, bool)> = self
            .drained
            .iter()
            .map(|(task, state)| (task.clone(), state != "TASK_KILLING"))
            .chain(self.unhealthy.iter().map(|t| (t.clone(), false)))
            .collect();
        let mut commands = vec![];
        for (task, ended) in leaving {
            let more = take_out(&task, ended, &self.running, &self.plan, &self.admin);
            self.admin.set(&more);
            commands.extend(more);
        }
        commands
    }

    /// The plan of what is known now: the last snapshot with the events since.
    fn plan_now(&self) -> Plan {
        let mut apps = self.apps.clone().unwrap_or_default();
        for task in apps.iter_mut().flat_map(|a| a.tasks.iter_mut()) {
            if let Some(state) = self.drained.get(&task.id) {
                task.state = Some(state.clone());
            }
            if self.unhealthy.contains(&task.id) {
                task.alive = vec![false];
            }
        }
        plan(&apps, &self.settings)
    }
}

fn admin(commands: Vec<Command>) -> Vec<Effect> {
    if commands.is_empty() {
        vec![]
    } else {
        vec![Effect::Admin(commands)]
    }
}

/// Whether `task_id` belongs to Marathon instance `instance` (`<instance>._app.1`, or the
/// same id before Marathon had instances).
fn of_instance(task_id: &str, instance: &str) -> bool {
    task_id
        .strip_prefix(instance)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::{AdminState, ServerRef};
    use crate::model::HealthCheck;
    use crate::services::tests::{app, http_check, settings, task};

    fn follower() -> Follower {
        Follower::new(
            settings(&["*"]),
            Layout {
                stats_socket: "/tmp/s".into(),
                server_state_file: "/tmp/s.state".into(),
                vhost_port: None,
                appid_port: None,
                bind_addr: "*".into(),
            },
        )
    }

    fn servers(effects: &[Effect]) -> Vec<Vec<String>> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Apply { text, .. } => Some(
                    text.lines()
                        .filter(|l| l.starts_with("  server ") && !l.ends_with(" backup"))
                        .map(|l| l.split(' ').nth(4).unwrap().to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    fn commands(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Admin(c) => Some(c.iter().map(|c| c.to_string())),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The generation of the configuration among `effects`.
    fn generation(effects: &[Effect]) -> u64 {
        effects
            .iter()
            .find_map(|e| match e {
                Effect::Apply { generation, .. } => Some(*generation),
                _ => None,
            })
            .unwrap()
    }

    fn health(instance: &str, alive: bool) -> Event {
        Event::Health {
            instance: instance.into(),
            app_id: "/web".into(),
            alive,
        }
    }

    fn web(tasks: &[(&str, u32)]) -> Vec<App> {
        let mut a = app("/web", &[10000]);
        for (id, port) in tasks {
            a = a.task(task(id, &[*port]));
        }
        vec![a.build()]
    }

    fn status(task: &str, state: &str) -> Event {
        Event::Status {
            task_id: task.into(),
            app_id: "/web".into(),
            state: state.into(),
        }
    }

    #[test]
    fn fetches_never_overlap_and_events_during_one_fetch_again() {
        let mut f = follower();
        assert_eq!(f.refresh(), vec![Effect::Fetch]);
        assert_eq!(f.on_event(Event::Changed("api_post_event".into())), vec![]);
        assert_eq!(f.on_event(Event::Changed("api_post_event".into())), vec![]);
        assert_eq!(f.on_event(Event::Other("deployment_info".into())), vec![]);
        let effects = f.on_snapshot(web(&[("a", 31000)]));
        assert_eq!(effects.len(), 2);
        assert_eq!(effects[1], Effect::Fetch);
        assert_eq!(servers(&effects), vec![vec!["127.0.0.1:31000"]]);
        // The second fetch fails: nothing pending, the next event fetches again.
        assert_eq!(f.on_fetch_failed(), vec![]);
        assert_eq!(f.on_event(status("b", "TASK_RUNNING")), vec![Effect::Fetch]);
    }

    #[test]
    fn a_killing_task_leaves_at_once_and_stays_out_until_marathon_forgets_it() {
        let mut f = follower();
        f.refresh();
        let first = f.on_snapshot(web(&[("a", 31000), ("b", 31001)]));
        f.on_reloaded(generation(&first));
        let effects = f.on_event(status("a", "TASK_KILLING"));
        // Drained through the runtime API first, then out of the next configuration.
        assert_eq!(
            effects[0],
            Effect::Admin(vec![Command {
                server: ServerRef {
                    backend: "web_10000".into(),
                    server: "127_0_0_1_31000".into()
                },
                state: AdminState::Drain
            }])
        );
        assert_eq!(servers(&effects), vec![vec!["127.0.0.1:31001"]]);
        let Some(Effect::Apply { text, .. }) = effects.get(1) else {
            panic!("{effects:?}")
        };
        let line = text
            .lines()
            .find(|l| l.contains("127.0.0.1:31000"))
            .unwrap();
        assert!(line.ends_with(" backup"), "{text}");
        assert_eq!(effects.last(), Some(&Effect::Fetch));
        // A snapshot taken before the kill still lists it as running: it stays out.
        let effects = f.on_snapshot(web(&[("a", 31000), ("b", 31001)]));
        assert_eq!(servers(&effects), vec![vec!["127.0.0.1:31001"]]);
        // Once Marathon no longer lists it, a new task on the same port is served.
        f.on_snapshot(web(&[("b", 31001)]));
        let effects = f.on_snapshot(web(&[("b", 31001), ("c", 31000)]));
        assert_eq!(
            servers(&effects),
            vec![vec!["127.0.0.1:31000", "127.0.0.1:31001"]]
        );
    }

    #[test]
    fn a_starting_task_is_not_drained() {
        let mut f = follower();
        f.refresh();
        f.on_snapshot(web(&[("a", 31000)]));
        assert_eq!(
            f.on_event(status("b", "TASK_STARTING")),
            vec![Effect::Fetch]
        );
        let effects = f.on_snapshot(web(&[("a", 31000), ("b", 31001)]));
        assert_eq!(
            servers(&effects),
            vec![vec!["127.0.0.1:31000", "127.0.0.1:31001"]]
        );
    }

    #[test]
    fn an_unknown_or_repeated_kill_only_fetches() {
        let mut f = follower();
        f.refresh();
        let first = f.on_snapshot(web(&[("a", 31000)]));
        f.on_reloaded(generation(&first));
        assert_eq!(
            f.on_event(status("zzz", "TASK_KILLED")),
            vec![Effect::Fetch]
        );
        let effects = f.on_event(status("a", "TASK_KILLED"));
        assert_eq!(effects.len(), 2, "a fetch is already running: {effects:?}");
        assert_eq!(
            commands(&effects),
            vec!["set server web_10000/127_0_0_1_31000 state maint"]
        );
        assert_eq!(servers(&effects), vec![Vec::<String>::new()]);
        assert_eq!(f.on_event(status("a", "TASK_KILLED")), vec![]);
    }

    fn checked_web(tasks: &[(&str, u32)]) -> Vec<App> {
        let mut apps = web(tasks);
        apps[0].health_checks = vec![HealthCheck {
            interval_seconds: 1,
            ..http_check()
        }];
        for t in &mut apps[0].tasks {
            t.alive = vec![true];
        }
        apps
    }

    #[test]
    fn a_failed_health_check_drains_until_one_passes() {
        let mut f = follower();
        f.refresh();
        let first = f.on_snapshot(checked_web(&[
            ("web.i1._app.1", 31000),
            ("web.i2._app.1", 31001),
        ]));
        f.on_reloaded(generation(&first));
        // Marathon names the instance; its task is drained and leaves the configuration.
        let effects = f.on_event(health("web.i1", false));
        assert_eq!(
            commands(&effects),
            vec!["set server web_10000/127_0_0_1_31000 state drain"]
        );
        assert_eq!(servers(&effects), vec![vec!["127.0.0.1:31001"]]);
        // Told again: nothing new. A snapshot from before still says alive: it stays out.
        assert_eq!(f.on_event(health("web.i1", false)), vec![]);
        let effects = f.on_snapshot(checked_web(&[
            ("web.i1._app.1", 31000),
            ("web.i2._app.1", 31001),
        ]));
        assert_eq!(servers(&effects), vec![vec!["127.0.0.1:31001"]]);
        // Alive again: the next snapshot (a fetch is on its way) serves it again, ready.
        assert_eq!(f.on_event(health("web.i1", true)), vec![]);
        let effects = f.on_snapshot(checked_web(&[
            ("web.i1._app.1", 31000),
            ("web.i2._app.1", 31001),
        ]));
        assert_eq!(
            commands(&effects),
            vec!["set server web_10000/127_0_0_1_31000 state ready"]
        );
        assert_eq!(
            servers(&effects),
            vec![vec!["127.0.0.1:31000", "127.0.0.1:31001"]]
        );
        // Another instance whose id starts the same is not this one.
        assert!(!of_instance("web.i10._app.1", "web.i1"));
        assert!(of_instance("web.i1", "web.i1"));
    }

    #[test]
    fn drains_wait_for_a_running_configuration_and_reloads_hear_them_again() {
        let mut f = follower();
        f.refresh();
        let first = f.on_snapshot(web(&[("a", 31000), ("b", 31001)]));
        // HAProxy runs nothing yet: nothing to drain. Once the first configuration runs
        // (its reload had started before the kill), a leaves it.
        let killing = f.on_event(status("a", "TASK_KILLING"));
        assert_eq!(commands(&killing), Vec::<String>::new());
        let drain = vec!["set server web_10000/127_0_0_1_31000 state drain".to_string()];
        assert_eq!(commands(&f.on_reloaded(generation(&first))), drain);
        // The configuration with a as a backup runs: told again, its state file may be
        // older than the drain.
        assert_eq!(commands(&f.on_reloaded(generation(&killing))), drain);
        // a ended: maintenance; once a configuration without it runs, nothing is sent.
        let ended = f.on_event(status("a", "TASK_KILLED"));
        assert_eq!(
            commands(&ended),
            vec!["set server web_10000/127_0_0_1_31000 state maint"]
        );
        assert_eq!(f.on_reloaded(generation(&ended)), vec![]);
    }
}
