//! Wires the parts: Marathon's listing and events into the follower, its configurations
//! into the HAProxy driver, its runtime commands to HAProxy's runtime API at once. With
//! `--sse` it follows the event stream (polling while the stream is down or missing);
//! without, it writes the configuration once.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::drain::Command;
use crate::driver::{set_states, Applied, Haproxy};
use crate::follow::{Effect, Follower};
use crate::marathon::{FetchError, Marathon, StreamNews};
use crate::model::App;
use crate::services::Skip;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Driver(#[from] crate::driver::DriverError),
}

/// Runs until `shutdown` completes (with `--sse`), or once.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    // validate() refused a malformed --auth-credentials before we got here.
    let auth = config.auth().ok().flatten();
    let marathon = Marathon::new(config.marathon.clone(), auth);
    let mut follower = Follower::new(config.settings(), config.layout());
    let mut driver = Haproxy::new(
        config.haproxy_bin.clone(),
        config.haproxy_config.clone(),
        config.pidfile_path(),
        config.socket_path(),
        config.server_state_path(),
        config.command.clone(),
        config.skip_validation,
    );
    let mut reported = BTreeSet::new();
    if config.dry || !config.sse {
        follower.refresh();
        let effects = follower.on_snapshot(marathon.apps().await?);
        for effect in effects {
            if let Effect::Apply { text, skipped, .. } = effect {
                report_skips(&mut reported, skipped);
                if config.dry {
                    print!("{text}");
                } else {
                    applied(driver.apply(&text).await?);
                }
            }
        }
        return Ok(());
    }

    let (news_tx, mut news) = mpsc::channel(1024);
    let following = tokio::spawn(marathon.clone().follow_events(news_tx));
    let (fetched_tx, mut fetched) = mpsc::channel::<Result<Vec<App>, FetchError>>(4);
    let socket = config.socket_path();
    let (reloader, mut reloaded) = Reloader::spawn(driver);
    let mut hangups = hangups();
    let mut poll = tokio::time::interval(Duration::from_millis(config.poll_interval_ms));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = StreamState {
        streaming: false,
        polling_announced: false,
        poll_interval_ms: config.poll_interval_ms,
    };
    let mut pending = follower.refresh();
    tokio::pin!(shutdown);
    loop {
        for effect in pending.drain(..) {
            match effect {
                Effect::Fetch => {
                    let (m, tx) = (marathon.clone(), fetched_tx.clone());
                    tokio::spawn(async move {
                        let started = std::time::Instant::now();
                        let result = m.apps().await;
                        tracing::debug!(
                            took_ms = started.elapsed().as_millis() as u64,
                            ok = result.is_ok(),
                            "fetched the apps"
                        );
                        let _ = tx.send(result).await;
                    });
                }
                // Milliseconds, and HAProxy takes them even while a reload runs.
                Effect::Admin(commands) => send_states(&socket, &commands).await,
                Effect::Apply {
                    generation,
                    text,
                    skipped,
                } => {
                    report_skips(&mut reported, skipped);
                    reloader.want(generation, text);
                }
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            Some(result) = fetched.recv() => pending = on_fetched(&mut follower, result),
            Some(n) = news.recv() => pending = stream.on_news(&mut follower, n),
            Some(generation) = reloaded.recv() => pending = follower.on_reloaded(generation),
            _ = poll.tick(), if !stream.streaming => pending = follower.refresh(),
            Some(()) = hangups.recv() => {
                tracing::info!("SIGHUP: fetching the apps again");
                pending = follower.refresh();
            }
        }
    }
    following.abort();
    reloader.stop().await;
    Ok(())
}

async fn send_states(socket: &std::path::Path, commands: &[Command]) {
    for c in commands {
        tracing::info!("{c}");
    }
    if let Err(e) = set_states(socket, commands).await {
        // A server HAProxy does not run yet, or no HAProxy yet: the configuration on its
        // way says the same, and the states are sent again after its reload.
        tracing::debug!("runtime API: {e}");
    }
}

/// Reloads HAProxy in a task of its own, so that events, fetches and runtime commands go
/// on while a reload runs (0.3-4 s on a busy machine). Only the newest configuration
/// matters: the ones wanted during a reload make one reload after it, not one each.
struct Reloader {
    want: watch::Sender<Option<(u64, String)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Reloader {
    /// The reloader, and the generations HAProxy runs as they are reached.
    fn spawn(mut driver: Haproxy) -> (Reloader, mpsc::Receiver<u64>) {
        let (want, mut wanted) = watch::channel::<Option<(u64, String)>>(None);
        let (done, reloaded) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            while wanted.changed().await.is_ok() {
                let Some((generation, text)) = wanted.borrow_and_update().clone() else {
                    continue;
                };
                match driver.apply(&text).await {
                    Ok(a) => {
                        applied(a);
                        if done.send(generation).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::error!("{e}"),
                }
            }
        });
        (Reloader { want, task }, reloaded)
    }

    fn want(&self, generation: u64, text: String) {
        self.want.send_replace(Some((generation, text)));
    }

    /// Lets a reload under way finish, then ends the task.
    async fn stop(self) {
        drop(self.want);
        let _ = self.task.await;
    }
}

fn on_fetched(follower: &mut Follower, result: Result<Vec<App>, FetchError>) -> Vec<Effect> {
    match result {
        Ok(apps) => follower.on_snapshot(apps),
        Err(e) => {
            tracing::warn!("cannot fetch the apps: {e}");
            follower.on_fetch_failed()
        }
    }
}

/// Whether the event stream runs (else the apps are polled).
struct StreamState {
    streaming: bool,
    /// The 404 notice is printed once per switch to polling, not every 30 s.
    polling_announced: bool,
    poll_interval_ms: u64,
}

impl StreamState {
    fn on_news(&mut self, follower: &mut Follower, news: StreamNews) -> Vec<Effect> {
        match news {
            StreamNews::Connected => {
                tracing::info!("following Marathon's event stream");
                self.streaming = true;
                self.polling_announced = false;
                follower.refresh()
            }
            StreamNews::Event(event) => {
                tracing::debug!(?event, "event");
                follower.on_event(event)
            }
            StreamNews::NotFound => {
                if !std::mem::replace(&mut self.polling_announced, true) {
                    tracing::info!(
                        "Marathon has no /v2/events (404): fetching the apps every {} ms",
                        self.poll_interval_ms
                    );
                }
                self.streaming = false;
                vec![]
            }
            StreamNews::Lost(why) => {
                tracing::warn!("event stream: {why}; polling until it is back");
                self.streaming = false;
                vec![]
            }
        }
    }
}

fn applied(a: Applied) {
    if let Applied::Reloaded(took) = a {
        tracing::info!(
            took_ms = took.as_millis() as u64,
            "HAProxy runs the new configuration"
        );
    }
}

/// Logs each skipped service port once, while it stays skipped.
fn report_skips(reported: &mut BTreeSet<Skip>, skipped: Vec<Skip>) {
    let now: BTreeSet<Skip> = skipped.into_iter().collect();
    for s in now.difference(reported) {
        tracing::warn!("skipped {s}");
    }
    *reported = now;
}

/// SIGHUP asks for a fresh fetch (as in marathon-lb).
fn hangups() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    return;
                }
            }
        });
    }
    rx
}
