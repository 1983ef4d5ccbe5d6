//! Wires the parts: Marathon's listing and events into the follower, its configurations
//! into the HAProxy driver. With `--sse` it follows the event stream (polling while the
//! stream is down or missing); without, it writes the configuration once.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::driver::{Applied, Haproxy};
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
            if let Effect::Apply { text, skipped } = effect {
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
        // Only the newest configuration matters: events that queued while HAProxy reloaded
        // make one reload, not one each (a reload takes 0.3-2 s on a busy machine).
        let newest = pending
            .iter()
            .rposition(|e| matches!(e, Effect::Apply { .. }));
        for (i, effect) in pending.drain(..).enumerate() {
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
                Effect::Apply { text, skipped } if Some(i) == newest => {
                    report_skips(&mut reported, skipped);
                    match driver.apply(&text).await {
                        Ok(a) => applied(a),
                        Err(e) => tracing::error!("{e}"),
                    }
                }
                Effect::Apply { .. } => {}
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            Some(result) = fetched.recv() => pending = on_fetched(&mut follower, result),
            Some(n) = news.recv() => pending = stream.on_news(&mut follower, n),
            _ = poll.tick(), if !stream.streaming => pending = follower.refresh(),
            Some(()) = hangups.recv() => {
                tracing::info!("SIGHUP: fetching the apps again");
                pending = follower.refresh();
            }
        }
        // Take in what else is waiting before acting.
        loop {
            if let Ok(n) = news.try_recv() {
                pending.extend(stream.on_news(&mut follower, n));
            } else if let Ok(result) = fetched.try_recv() {
                pending.extend(on_fetched(&mut follower, result));
            } else {
                break;
            }
        }
    }
    following.abort();
    Ok(())
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
