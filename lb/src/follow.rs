//! The follower: Marathon's apps and events in, configurations to apply and fetches to make
//! out. Pure and synchronous; the runner feeds it and carries out its effects.
//!
//! - A snapshot (`GET /v2/apps?embed=apps.tasks`) replaces what it knows and renders.
//! - A task that Marathon is killing or that ended (`status_update_event`) leaves the
//!   rotation at once, from the last snapshot, without waiting for a fetch: that is the
//!   drain on kill (a task being killed stays as a backup server, used only when no other
//!   server is left, since it serves through its grace period). That state overrides later
//!   snapshots that still show the task running (a fetch that was on its way before the
//!   kill) until Marathon stops listing it.
//! - Other relevant events ask for a fetch; fetches never overlap, and the events that
//!   arrive during one are answered by one more fetch after it.

use std::collections::{BTreeMap, BTreeSet};

use crate::events::Event;
use crate::model::{is_ending_state, App};
use crate::render::{render, Layout};
use crate::services::{plan, Settings, Skip};

/// What the runner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fetch the apps and feed them back with [`Follower::on_snapshot`] (or
    /// [`Follower::on_fetch_failed`]).
    Fetch,
    /// Apply this configuration (the driver skips it when it equals the running one).
    Apply { text: String, skipped: Vec<Skip> },
}

pub struct Follower {
    settings: Settings,
    layout: Layout,
    apps: Option<Vec<App>>,
    /// Tasks seen being killed or ended, with that state: never active again.
    drained: BTreeMap<String, String>,
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
        self.apps = Some(apps);
        let mut effects = vec![self.apply()];
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
        match event {
            Event::Status { task_id, state, .. } => {
                let mut effects = vec![];
                let news = self.drained.get(&task_id) != Some(&state);
                if is_ending_state(&state) && news {
                    self.drained.insert(task_id.clone(), state);
                    let known = self
                        .apps
                        .iter()
                        .flatten()
                        .any(|a| a.tasks.iter().any(|t| t.id == task_id));
                    if known {
                        effects.push(self.apply());
                    }
                }
                effects.extend(self.refresh());
                effects
            }
            Event::Changed(_) => self.refresh(),
            Event::Other(_) => vec![],
        }
    }

    fn apply(&self) -> Effect {
        let mut apps = self.apps.clone().unwrap_or_default();
        for task in apps.iter_mut().flat_map(|a| a.tasks.iter_mut()) {
            if let Some(state) = self.drained.get(&task.id) {
                task.state = Some(state.clone());
            }
        }
        let p = plan(&apps, &self.settings);
        Effect::Apply {
            text: render(&p, &self.layout),
            skipped: p.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::tests::{app, settings, task};

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
                Effect::Fetch => None,
            })
            .collect()
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
        f.on_snapshot(web(&[("a", 31000), ("b", 31001)]));
        let effects = f.on_event(status("a", "TASK_KILLING"));
        assert_eq!(servers(&effects), vec![vec!["127.0.0.1:31001"]]);
        let Effect::Apply { text, .. } = &effects[0] else {
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
        f.on_snapshot(web(&[("a", 31000)]));
        assert_eq!(
            f.on_event(status("zzz", "TASK_KILLED")),
            vec![Effect::Fetch]
        );
        let effects = f.on_event(status("a", "TASK_KILLED"));
        assert_eq!(effects.len(), 1, "a fetch is already running: {effects:?}");
        assert_eq!(servers(&effects), vec![Vec::<String>::new()]);
        assert_eq!(f.on_event(status("a", "TASK_KILLED")), vec![]);
    }
}
