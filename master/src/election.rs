//! Leader election through ZooKeeper, in Mesos's layout: each master creates an
//! EPHEMERAL|SEQUENTIAL `<path>/json.info_<seq>` holding its MasterInfo as JSON, and the
//! lowest sequence leads.
//!
//! ```text
//!   ZooKeeper ◀── create json.info_ / list (watch) / probe ── contender task
//!                                                            │ Elected{term, registry}
//!   registry writer ◀── snapshots ── actor ◀─────────────────┘ (recovers, then acks)
//!                                        │
//!   HTTP / agent edges ── Leadership (watch) ◀── Leading{until} / Standby{leader}
//! ```
//!
//! No two masters act as leader at once. A master leads on a *lease*: every successful
//! round trip to ZooKeeper proves its session alive on the server until the moment the
//! request was sent plus the session timeout, and the lease ends well before that
//! (`LEASE_FRACTION`). Everyone who acts as leader checks the lease's end against the clock
//! (`Leadership::is_leading`), so a leader whose session might have expired stops at once,
//! even if this task is stuck waiting on ZooKeeper. Another master can only win after the
//! old session expired on the server and its znode was deleted, which is later.
//!
//! A master that loses leadership does not exit (as Mesos does): the actor drops all its
//! state, closing every framework and agent stream, and the master contends again as a
//! fresh standby in a new *term* with a new master id (so ids it hands out never collide
//! with those of its earlier terms). Each term's MasterInfo replaces the znodes this
//! master left behind in earlier terms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos_common::zk::{self, Session, SessionState, ZkError, ZkUrl};
use mesos_proto::v1;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};
use zookeeper_async::CreateMode;

use crate::handle::{Command, Leadership};
use crate::registry::{self, Refusal, Registry, RegistryCursor, RegistryVersion};

/// Part of the session timeout a lease lasts from the sending of the request that proved
/// the session alive. The rest is margin for acting on its end.
const LEASE_FRACTION: f64 = 0.75;
/// Proofs per session timeout.
const PROBES_PER_TIMEOUT: u32 = 6;
/// Pause after a failed ZooKeeper call before trying again.
const RETRY: Duration = Duration::from_millis(250);

/// A registry snapshot from the actor, tagged with the term it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) term: u64,
    pub(crate) bytes: Arc<Vec<u8>>,
}

pub(crate) struct ElectionSetup {
    pub(crate) url: ZkUrl,
    pub(crate) session_timeout: Duration,
    /// This master's MasterInfo; each term gets a copy with a fresh id.
    pub(crate) template: v1::MasterInfo,
    /// `--registry=in_memory`: nothing is read from or written to ZooKeeper.
    pub(crate) persist_registry: bool,
}

pub(crate) struct Election {
    pub(crate) setup: ElectionSetup,
    pub(crate) leadership: watch::Sender<Leadership>,
    pub(crate) actor: mpsc::Sender<Command>,
    pub(crate) snapshots: watch::Receiver<Option<Snapshot>>,
    pub(crate) stop: watch::Receiver<bool>,
}

/// How a term ended.
enum TermEnd {
    /// The session expired: contend again with a new one.
    Expired,
    /// Leadership (or the znode) was lost with the session alive: contend again.
    Lost(String),
    Stopped,
}

impl Election {
    /// Contends until `stop` turns true; then steps down and closes the session, which
    /// deletes this master's znode at once.
    pub(crate) async fn run(mut self) {
        let mut term = 0;
        loop {
            let stop = self.stop.clone();
            let opened =
                zk::open_until_connected(&self.setup.url, self.setup.session_timeout, || {
                    *stop.borrow()
                })
                .await;
            let Some(session) = opened else {
                self.step_down(term, None).await;
                return;
            };
            let session = Arc::new(session);
            info!(url = %self.setup.url, "connected to ZooKeeper");
            loop {
                term += 1;
                let end = self.contend(&session, term).await;
                let leader = match &*self.leadership.borrow() {
                    Leadership::Standby { leader } => leader.clone(),
                    _ => None,
                };
                self.step_down(term, leader).await;
                match end {
                    TermEnd::Stopped => {
                        session.close_now().await;
                        return;
                    }
                    TermEnd::Expired => {
                        warn!("ZooKeeper session expired; contending again with a new one");
                        session.close();
                        break;
                    }
                    TermEnd::Lost(why) => {
                        warn!(reason = %why, "contending again");
                        if session.is_expired() {
                            session.close();
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Stops leading (at once: the watch is what the edges consult) and tells the actor,
    /// which drops the term's engine and with it every stream to frameworks and agents.
    async fn step_down(&self, term: u64, leader: Option<Arc<v1::MasterInfo>>) {
        let was_leading = matches!(*self.leadership.borrow(), Leadership::Leading { .. });
        // This master is no one's leader after its term, even if it was about to be.
        let leader = leader.filter(|l| l.address != self.setup.template.address);
        self.leadership.send_replace(Leadership::Standby { leader });
        if was_leading {
            warn!(term, "no longer the leading master");
        }
        let _ = self.actor.send(Command::Deposed { term }).await;
    }

    /// One term: create a znode, follow the election, lead when ours is the lowest.
    async fn contend(&mut self, session: &Arc<Session>, term: u64) -> TermEnd {
        let mut info = self.setup.template.clone();
        info.id = mesos_common::ids::new_master_id();
        let info = Arc::new(info);
        let path = self.setup.url.path.clone();
        let mut state = session.state();

        let mut failures = 0u32;
        let my_name = loop {
            match self.join(session, &info).await {
                Ok(name) => break name,
                Err(ZkError::Expired) => return TermEnd::Expired,
                Err(e) => {
                    // While ZooKeeper is down this repeats: say it once.
                    if failures == 0 {
                        warn!(error = %e, "cannot join the election; retrying");
                    } else {
                        debug!(error = %e, attempt = failures + 1, "cannot join the election");
                    }
                    failures += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = stopped(&mut self.stop) => return TermEnd::Stopped,
                    }
                }
            }
        };
        info!(term, znode = %format!("{path}/{my_name}"), master_id = %info.id, "contending for leadership");

        let timeout = session.timeout();
        let lease = timeout.mul_f64(LEASE_FRACTION);
        let mut probes = tokio::time::interval(timeout / PROBES_PER_TIMEOUT);
        probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (fired_tx, mut fired) = mpsc::channel(1);
        let (writer_failed_tx, mut writer_failed) = mpsc::channel::<String>(1);
        let mut writer = AbortOnDrop(None);
        let mut leading = false;
        let mut recovery_failed = false;
        let mut list = true;

        let end = loop {
            if list {
                list = false;
                let sent = Instant::now();
                let children = match session.children_watched(&path, fired_tx.clone()).await {
                    Ok(c) => c,
                    Err(ZkError::Expired) => break TermEnd::Expired,
                    Err(e) => {
                        debug!(error = %e, "cannot list the election; retrying");
                        list = true;
                        Vec::new()
                    }
                };
                if !list {
                    if !children.contains(&my_name) {
                        break TermEnd::Lost("this master's znode is gone".into());
                    }
                    let lowest = zk::leader_child(&children).unwrap_or_default().to_string();
                    if lowest == my_name && !leading {
                        self.leadership.send_replace(Leadership::Standby {
                            leader: Some(info.clone()),
                        });
                        match self.recover(session, term, &info).await {
                            Ok(version) => {
                                leading = true;
                                recovery_failed = false;
                                // The listing proved the session alive when it was sent;
                                // recovery may have taken a while, so renew right away.
                                let until = match session.probe().await {
                                    Ok(t) => t + lease,
                                    Err(_) => sent + lease,
                                };
                                self.leadership.send_replace(Leadership::Leading {
                                    term,
                                    info: info.clone(),
                                    until,
                                });
                                info!(term, master_id = %info.id, "elected as the leading master");
                                if self.setup.persist_registry {
                                    writer.0 = Some(tokio::spawn(write_registry(
                                        RegistryWriter {
                                            session: session.clone(),
                                            term,
                                            writer: info.id.clone(),
                                            election: path.clone(),
                                            znode: my_name.clone(),
                                            leadership: self.leadership.subscribe(),
                                        },
                                        version,
                                        self.snapshots.clone(),
                                        writer_failed_tx.clone(),
                                    )));
                                }
                            }
                            Err(RecoveryError::Zk(ZkError::Expired)) => break TermEnd::Expired,
                            Err(RecoveryError::Stopped) => break TermEnd::Stopped,
                            Err(e) => {
                                if !recovery_failed {
                                    error!(error = %e, "cannot recover the registry; not leading");
                                }
                                recovery_failed = true;
                                self.leadership
                                    .send_replace(Leadership::Standby { leader: None });
                                list = true;
                            }
                        }
                    } else if lowest != my_name {
                        if leading {
                            break TermEnd::Lost("another master's znode is the lowest".into());
                        }
                        let leader = self.read_leader(session, &lowest).await;
                        self.leadership.send_if_modified(|l| {
                            let new = Leadership::Standby {
                                leader: leader.clone(),
                            };
                            let changed = match l {
                                Leadership::Standby { leader: old } => {
                                    old.as_ref().map(|i| &i.id) != leader.as_ref().map(|i| &i.id)
                                }
                                _ => true,
                            };
                            if changed {
                                info!(leader = ?leader.as_ref().map(|i| zk::master_endpoint(i)), "following the leading master");
                                *l = new;
                            }
                            changed
                        });
                    }
                }
            }
            tokio::select! {
                _ = fired.recv() => list = true,
                _ = probes.tick() => {
                    match session.probe().await {
                        Ok(sent) if leading => {
                            let until = sent + lease;
                            // A lease that ran out stays out: the actor may have stepped
                            // down already, and a late answer must not revive the term.
                            self.leadership.send_if_modified(|l| match l {
                                Leadership::Leading { until: u, .. } if Instant::now() < *u => {
                                    *u = until.max(*u);
                                    true
                                }
                                _ => false,
                            });
                        }
                        Ok(_) => {}
                        Err(ZkError::Expired) => break TermEnd::Expired,
                        Err(_) => {}
                    }
                    if leading && !self.leadership.borrow().is_leading() {
                        break TermEnd::Lost("the ZooKeeper lease ran out".into());
                    }
                    // A failed recovery or listing is retried on the next probe.
                    list |= recovery_failed;
                }
                changed = state.changed() => {
                    if changed.is_err() || *state.borrow() == SessionState::Expired {
                        break TermEnd::Expired;
                    }
                    // Watches do not survive a move to another server: list again.
                    list |= *state.borrow() == SessionState::Connected;
                }
                Some(why) = writer_failed.recv() => break TermEnd::Lost(why),
                _ = stopped(&mut self.stop) => break TermEnd::Stopped,
            }
        };
        // Whatever the writer sent reaches ZooKeeper before the znode's removal lets the
        // next master recover the registry. (An aborted task runs on until its next await,
        // on another thread, and may still send a write.)
        writer.stop().await;
        // The znode of an ended term must not stay the lowest; if this fails (ZooKeeper
        // unreachable), the next term removes it.
        if !matches!(end, TermEnd::Expired) {
            let _ = tokio::time::timeout(
                RETRY * 4,
                session.delete(&format!("{}/{my_name}", path_prefix(&path)), None),
            )
            .await;
        }
        end
    }

    /// Creates this term's znode, removing what this master left in earlier terms.
    async fn join(&self, session: &Session, info: &v1::MasterInfo) -> Result<String, ZkError> {
        let path = &self.setup.url.path;
        session.ensure_path(path).await?;
        let own = zk::master_endpoint(info);
        for child in session.children(path).await? {
            if zk::sequence_of(&child).is_none() {
                continue;
            }
            let node = format!("{}/{child}", path_prefix(path));
            if let Some((data, _)) = session.get(&node).await? {
                let stale = zk::parse_master_info(&data)
                    .map(|i| zk::master_endpoint(&i) == own && i.id != info.id)
                    .unwrap_or(false);
                if stale {
                    info!(znode = %node, "removing this master's znode from an earlier term");
                    match session.delete(&node, None).await {
                        Ok(()) => {}
                        Err(e) if e.code() == Some(zookeeper_async::ZkError::NoNode) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let created = session
            .create(
                &self.setup.url.child(zk::MASTER_INFO_PREFIX),
                zk::master_info_json(info),
                CreateMode::EphemeralSequential,
            )
            .await?;
        Ok(created.rsplit('/').next().unwrap_or_default().to_string())
    }

    async fn read_leader(&self, session: &Session, child: &str) -> Option<Arc<v1::MasterInfo>> {
        let node = format!("{}/{child}", path_prefix(&self.setup.url.path));
        match session.get(&node).await {
            Ok(Some((data, _))) => zk::parse_master_info(&data).ok().map(Arc::new),
            _ => None,
        }
    }

    /// Reads the registry and hands it to the actor; returns once the actor recovered.
    async fn recover(
        &mut self,
        session: &Session,
        term: u64,
        info: &Arc<v1::MasterInfo>,
    ) -> Result<RegistryVersion, RecoveryError> {
        let (registry, version) = if self.setup.persist_registry {
            registry::load(session).await?
        } else {
            (Registry::default(), None)
        };
        let (reply, done) = oneshot::channel();
        let elected = Command::Elected {
            term,
            info: info.clone(),
            registry: Box::new(registry),
            reply,
        };
        if self.actor.send(elected).await.is_err() {
            return Err(RecoveryError::Stopped);
        }
        done.await.map_err(|_| RecoveryError::Stopped)?;
        Ok(version)
    }
}

#[derive(Debug, thiserror::Error)]
enum RecoveryError {
    #[error(transparent)]
    Zk(ZkError),
    #[error("{0}")]
    Registry(String),
    #[error("the master is stopping")]
    Stopped,
}

impl From<registry::RegistryError> for RecoveryError {
    fn from(e: registry::RegistryError) -> Self {
        match e {
            registry::RegistryError::Zk(z) => RecoveryError::Zk(z),
            other => RecoveryError::Registry(other.to_string()),
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Aborts the registry writer with the term, however the term ends.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl AbortOnDrop {
    /// Aborts the task and waits until it is gone.
    async fn stop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// `path` as a prefix for children (`/` has none of its own).
fn path_prefix(path: &str) -> &str {
    if path == "/" {
        ""
    } else {
        path
    }
}

/// The leader's registry writer of one term.
struct RegistryWriter {
    session: Arc<Session>,
    term: u64,
    /// The term's master id (names the registry's chunks).
    writer: String,
    /// The election's path and this term's znode in it.
    election: String,
    znode: String,
    leadership: watch::Receiver<Leadership>,
}

impl RegistryWriter {
    /// Whether this master still leads in the writer's term on its lease. A master whose
    /// lease ran out writes nothing more, not even a retry: another master may lead by now.
    fn leads(&self) -> bool {
        self.leadership.borrow().is_leading_term(self.term)
    }

    /// After a refused write: reads the election and the registry node's version, in that
    /// order, and judges.
    async fn judge_refusal(&self) -> Result<Refusal, ZkError> {
        let election = self.session.children(&self.election).await?;
        let version = registry::version_now(&self.session).await?;
        Ok(registry::judge_refusal(&election, &self.znode, version))
    }
}

/// Writes the actor's registry snapshots of `term` until aborted or the lease runs out.
///
/// ZooKeeper refusing a write (the node's version moved) does not by itself mean another
/// master leads: a write whose answer was lost may have landed, and a master deposed while
/// cut off from ZooKeeper may have one land late. Taking every refusal for a lost race
/// made each newly elected master step down at its first write after a quorum loss, and
/// the masters took turns at that for minutes. So a refusal is judged by the election
/// ([`registry::judge_refusal`]): while this master's znode is still the lowest it writes
/// again from the version it finds; otherwise it reports that it no longer leads.
async fn write_registry(
    w: RegistryWriter,
    version: RegistryVersion,
    mut snapshots: watch::Receiver<Option<Snapshot>>,
    failed: mpsc::Sender<String>,
) {
    let mut cursor = RegistryCursor::new(version);
    snapshots.mark_changed();
    loop {
        if snapshots.changed().await.is_err() {
            return;
        }
        let Some(snapshot) = snapshots.borrow_and_update().clone() else {
            continue;
        };
        if snapshot.term != w.term {
            continue;
        }
        loop {
            if !w.leads() {
                return;
            }
            let stored = registry::store(&w.session, &w.writer, &snapshot.bytes, &mut cursor).await;
            match stored {
                Ok(()) => break,
                Err(ZkError::Expired) => return,
                Err(e) if registry::is_refusal(&e) => match w.judge_refusal().await {
                    Ok(Refusal::StillLeading(version)) => {
                        warn!(error = %e, version = ?version, "the registry changed under the leading master (a write in doubt landed, its own or a deposed master's); writing it again");
                        cursor.restart_from(version);
                    }
                    Ok(Refusal::Deposed) => {
                        let _ = failed
                            .send(format!("another master leads and wrote the registry: {e}"))
                            .await;
                        return;
                    }
                    Err(ZkError::Expired) => return,
                    Err(check) => {
                        warn!(error = %check, "cannot check the election after a refused registry write; retrying");
                    }
                },
                Err(e) => warn!(error = %e, "cannot write the registry; retrying"),
            }
            // Paused even after a refusal: a registry that keeps moving is no spin.
            tokio::time::sleep(RETRY).await;
            // Retry with the newest snapshot rather than this one.
            if snapshots.has_changed().unwrap_or(false) {
                break;
            }
        }
    }
}
