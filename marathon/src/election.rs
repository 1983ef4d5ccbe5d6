//! Leader election among Marathons through ZooKeeper, in the layout of Marathon's Curator
//! leader latch: each contender creates an EPHEMERAL|SEQUENTIAL
//! `<--zk path>/leader-curator/_c_<uuid>-latch-<seq>` holding its `host:port`; the lowest
//! sequence leads.
//!
//! As with Curator's default policy, a leader whose ZooKeeper connection is suspended
//! (not only expired) stops leading at once: another Marathon can only win after this
//! session expired, which is later, so two never lead together.

use std::sync::Arc;
use std::time::Duration;

use mesos_common::zk::{open_until_connected, Session, SessionState, ZkError, ZkUrl};
use tokio::sync::{mpsc, watch};
use zookeeper_async::CreateMode;

use crate::http::Leadership;

const LATCH_DIR: &str = "leader-curator";

/// Holding leadership; [`Elected::lost`] completes when it is gone.
pub struct Elected {
    session: Arc<Session>,
    node: String,
    lost: watch::Receiver<bool>,
    watcher: tokio::task::JoinHandle<()>,
}

fn sequence(child: &str) -> Option<u64> {
    child
        .rsplit_once("-latch-")
        .and_then(|(_, s)| s.parse().ok())
}

fn dir(url: &ZkUrl) -> String {
    format!("{}/{LATCH_DIR}", url.path.trim_end_matches('/'))
}

/// Joins the election and returns once this process leads, telling `leadership` who
/// leads meanwhile.
pub async fn contend(
    url: &ZkUrl,
    session_timeout: Duration,
    me: &str,
    leadership: &watch::Sender<Leadership>,
) -> Result<Elected, ZkError> {
    let session = open_until_connected(url, session_timeout, || false)
        .await
        .expect("retries until connected");
    match wait_lowest(&session, url, me, leadership).await {
        Ok(node) => Ok(watch_leadership(session, node)),
        Err(e) => {
            // Closed, or the client reconnects it once ZooKeeper answers again (a lost
            // connection is not an expired session) and its latch node stays: every
            // Marathon would then follow a leader that never leads.
            session.close();
            Err(e)
        }
    }
}

/// Creates this process's latch node and waits until it is the lowest; returns its path.
async fn wait_lowest(
    session: &Session,
    url: &ZkUrl,
    me: &str,
    leadership: &watch::Sender<Leadership>,
) -> Result<String, ZkError> {
    let dir = dir(url);
    session.ensure_path(&dir).await?;
    let node = session
        .create(
            &format!("{dir}/_c_{}-latch-", uuid::Uuid::new_v4()),
            me.as_bytes().to_vec(),
            CreateMode::EphemeralSequential,
        )
        .await?;
    let ours = node.rsplit('/').next().unwrap_or("").to_string();
    let mut state = session.state();
    loop {
        let (tx, mut fired) = mpsc::channel(1);
        let mut children = session.children_watched(&dir, tx).await?;
        children.retain(|c| sequence(c).is_some());
        children.sort_by_key(|c| sequence(c));
        match children.first() {
            Some(first) if *first == ours => break,
            Some(first) => {
                let leader = session
                    .get(&format!("{dir}/{first}"))
                    .await?
                    .map(|(data, _)| String::from_utf8_lossy(&data).to_string());
                leadership.send_replace(Leadership::Standby(leader));
            }
            None => {}
        }
        if !children.contains(&ours) {
            return Err(ZkError::Expired);
        }
        tokio::select! {
            _ = fired.recv() => {}
            changed = state.changed() => {
                if changed.is_err() || *state.borrow() == SessionState::Expired {
                    return Err(ZkError::Expired);
                }
            }
        }
    }
    Ok(node)
}

/// Leadership held on `session`: lost as soon as the connection is suspended.
fn watch_leadership(session: Session, node: String) -> Elected {
    let (lost_tx, lost) = watch::channel(false);
    let mut state = session.state();
    let watcher = tokio::spawn(async move {
        loop {
            if *state.borrow() != SessionState::Connected {
                let _ = lost_tx.send(true);
                return;
            }
            if state.changed().await.is_err() {
                let _ = lost_tx.send(true);
                return;
            }
        }
    });
    tracing::info!(node = %node, "elected as the leading Marathon");
    Elected {
        session: Arc::new(session),
        node,
        lost,
        watcher,
    }
}

impl Elected {
    /// The election's session: a store opened on it can write only while this process
    /// may lead (an expired session's requests are refused), which fences a deposed leader.
    pub fn session(&self) -> Arc<Session> {
        self.session.clone()
    }

    /// Completes when leadership is lost (connection suspended or session expired).
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        let _ = lost.wait_for(|l| *l).await;
    }

    /// Gives up leadership: deletes the latch node and closes the session.
    pub async fn resign(self) {
        self.watcher.abort();
        let _ = self.session.delete(&self.node, None).await;
        self.session.close_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latch_sequences() {
        assert_eq!(sequence("_c_1b2-latch-0000000007"), Some(7));
        assert_eq!(sequence("other"), None);
    }
}
