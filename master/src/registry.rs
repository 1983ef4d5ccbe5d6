//! The registry: what a newly elected master must know before it serves, kept in ZooKeeper
//! next to the election (`<zk path>/registry`).
//!
//! It holds the admitted agents (their AgentInfo), the agents marked unreachable, the
//! frameworks (active ones with their FrameworkInfo, removed ones by id), role weights and
//! quotas, and what the operator decided (agents gone, deactivated or drained, quota
//! configs). Tasks are not in it: agents report their tasks when they re-register.
//!
//! ```text
//!   actor (every 100 ms) ──RegistryTracker::changed──▶ bytes ──watch──▶ writer (election)
//!                                                                         │ set, version-checked
//!   new leader ◀──load──────────────────────────────── <path>/registry ◀──┘
//!        └──recover──▶ Engine (frameworks, unreachable agents, weights, quotas)
//!                      + the agents expected to re-register
//! ```
//!
//! The node holds the registry as JSON. A registry larger than a znode may hold is written
//! as numbered children `<path>/registry/<generation>-<i>` first, then the node is pointed
//! at them (`{"chunks": n, "generation": g}`), so a reader never sees half a write.
//! Every write of the node checks its version: a deposed leader's late write fails.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use mesos_common::resources::ResourceQuantities;
use mesos_common::zk::{Session, ZkError};
use mesos_proto::v1;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};
use zookeeper_async::CreateMode;

use crate::engine::admin::{self, OperatorRecords};
use crate::engine::Engine;

/// Name of the registry node under the election path.
pub(crate) const REGISTRY_NODE: &str = "registry";
/// Largest piece written into one znode (ZooKeeper refuses packets over 1 MB).
const CHUNK: usize = 512 * 1024;
/// After a snapshot that took `t` to build, none is built for `SNAPSHOT_PACING * t`. A
/// snapshot walks the whole registry in the actor loop (tens of milliseconds at 10,000
/// agents), and while agents re-register after a failover the registry changes at every
/// tick: unpaced, snapshots took over half of the new leader's time and slowed the
/// re-registrations they record. The writer stores only the newest snapshot anyway.
const SNAPSHOT_PACING: u32 = 9;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Registry {
    /// AgentInfo (with `id`) of every admitted agent, in Mesos's JSON mapping.
    pub(crate) agents: Vec<Value>,
    /// Agents marked unreachable: id -> when (seconds since the epoch).
    pub(crate) unreachable: BTreeMap<String, f64>,
    /// FrameworkInfo (with `id`) of every framework the master knows.
    pub(crate) frameworks: Vec<Value>,
    /// Frameworks torn down or timed out; they may not subscribe again.
    pub(crate) removed_frameworks: Vec<String>,
    pub(crate) weights: BTreeMap<String, f64>,
    /// Role -> quota limits (`cpus:4;mem:1024`).
    pub(crate) quotas: BTreeMap<String, String>,
    /// Agents gone, deactivated or drained, and quota configs, as the operator set them.
    pub(crate) operator: OperatorRecords,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error(transparent)]
    Zk(#[from] ZkError),
    #[error("the registry in ZooKeeper is unreadable: {0}")]
    Corrupt(String),
}

/// The agents a recovered master waits for, by id.
pub(crate) type ExpectedAgents = BTreeMap<String, v1::AgentInfo>;

impl Registry {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the registry is plain JSON")
    }
}

// ------------------------------------------------------------------------- snapshots

/// Builds the registry from the engine when something it holds changed. Agents' JSON is
/// kept between snapshots: it only changes when an agent (re-)registers.
#[derive(Default)]
pub(crate) struct RegistryTracker {
    last: Option<u64>,
    agent_json: HashMap<String, (u64, Value)>,
    /// No snapshot before then (see [`RegistryTracker::changed_paced`]).
    resume_at: Option<std::time::Instant>,
}

fn hash_of(item: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    item.hash(&mut h);
    h.finish()
}

fn agent_stamp(agent: &crate::engine::Agent) -> u64 {
    hash_of((
        agent.registered_time.to_bits(),
        agent.reregistered_time.map(f64::to_bits),
    ))
}

fn quotas(engine: &Engine) -> BTreeMap<String, String> {
    engine
        .allocator
        .role_shares()
        .into_iter()
        .filter_map(|r| r.quota.map(|q| (r.role, q.to_string())))
        .collect()
}

impl RegistryTracker {
    /// An order-independent digest of everything the registry holds.
    fn fingerprint(engine: &Engine, expected: &ExpectedAgents) -> u64 {
        let mut sum: u64 = 0;
        let mut add = |h: u64| sum = sum.wrapping_add(h);
        for (id, agent) in &engine.agents {
            add(hash_of(("agent", id, agent_stamp(agent))));
        }
        for id in expected.keys() {
            add(hash_of(("expected", id)));
        }
        for (id, time) in &engine.unreachable_agents {
            add(hash_of(("unreachable", id, time.to_bits())));
        }
        for (id, f) in &engine.frameworks {
            add(hash_of((
                "framework",
                id,
                f.registered_time.to_bits(),
                f.reregistered_time.map(f64::to_bits),
            )));
        }
        for f in &engine.completed_frameworks {
            add(hash_of(("removed", &f.id)));
        }
        for (role, weight) in engine.allocator.weights() {
            add(hash_of(("weight", role, weight.to_bits())));
        }
        for (role, quota) in quotas(engine) {
            add(hash_of(("quota", role, quota)));
        }
        add(hash_of(("operator", admin::revision(engine))));
        sum
    }

    /// The serialized registry, if it differs from the one returned last time.
    pub(crate) fn changed(
        &mut self,
        engine: &Engine,
        expected: &ExpectedAgents,
    ) -> Option<Vec<u8>> {
        let fingerprint = Self::fingerprint(engine, expected);
        if self.last == Some(fingerprint) {
            return None;
        }
        self.last = Some(fingerprint);
        Some(self.snapshot(engine, expected).to_bytes())
    }

    /// [`RegistryTracker::changed`], but at most a tenth of the caller's time goes into
    /// building snapshots (see [`SNAPSHOT_PACING`]).
    pub(crate) fn changed_paced(
        &mut self,
        engine: &Engine,
        expected: &ExpectedAgents,
    ) -> Option<Vec<u8>> {
        let started = std::time::Instant::now();
        if self.resume_at.is_some_and(|at| started < at) {
            return None;
        }
        let bytes = self.changed(engine, expected)?;
        self.resume_at = Some(started + started.elapsed() * SNAPSHOT_PACING);
        Some(bytes)
    }

    fn snapshot(&mut self, engine: &Engine, expected: &ExpectedAgents) -> Registry {
        self.agent_json
            .retain(|id, _| engine.agents.contains_key(id) || expected.contains_key(id));
        let mut agents = Vec::with_capacity(engine.agents.len() + expected.len());
        for (id, agent) in &engine.agents {
            let stamp = agent_stamp(agent);
            let entry = self
                .agent_json
                .entry(id.clone())
                .and_modify(|(s, json)| {
                    if *s != stamp {
                        *s = stamp;
                        *json = mesos_proto::json::to_json_value(&agent.agent_info());
                    }
                })
                .or_insert_with(|| (stamp, mesos_proto::json::to_json_value(&agent.agent_info())));
            agents.push(entry.1.clone());
        }
        for (id, info) in expected {
            if !engine.agents.contains_key(id) {
                agents.push(mesos_proto::json::to_json_value(info));
            }
        }
        Registry {
            agents,
            unreachable: engine
                .unreachable_agents
                .iter()
                .map(|(id, t)| (id.clone(), *t))
                .collect(),
            frameworks: engine
                .frameworks
                .values()
                .map(|f| mesos_proto::json::to_json_value(&f.info))
                .collect(),
            removed_frameworks: engine
                .completed_frameworks
                .iter()
                .map(|f| f.id.clone())
                .collect(),
            weights: engine.allocator.weights().into_iter().collect(),
            quotas: quotas(engine),
            operator: admin::records(engine),
        }
    }
}

// ------------------------------------------------------------------------- recovery

/// Loads `registry` into a fresh engine. Returns the agents to wait for; frameworks come
/// back disconnected, with their failover timeout counted from the end of the wait for
/// agents (`agent_reregister_timeout`).
pub(crate) fn recover(engine: &mut Engine, registry: &Registry, now: Duration) -> ExpectedAgents {
    if !registry.weights.is_empty() {
        let weights = registry
            .weights
            .iter()
            .map(|(r, w)| (r.clone(), *w))
            .collect();
        if let Err(e) = engine.allocator.set_weights(weights) {
            warn!(error = %e, "registry holds invalid weights; ignored");
        }
    }
    for (role, text) in &registry.quotas {
        match ResourceQuantities::parse(text) {
            Ok(limits) => {
                if let Err(e) = engine.allocator.set_quota(role, limits) {
                    warn!(role, error = %e, "registry holds an invalid quota; ignored");
                }
            }
            Err(e) => warn!(role, error = %e, "registry holds an unreadable quota; ignored"),
        }
    }
    for (id, time) in &registry.unreachable {
        engine.unreachable_agents.insert(id.clone(), *time);
    }
    admin::restore(engine, &registry.operator);
    for id in &registry.removed_frameworks {
        // Through the ordinary removal, so that a removed framework looks the same to
        // every later check (SUBSCRIBE refused, listed as completed).
        engine.add_recovered_framework(
            id,
            v1::FrameworkInfo {
                id: Some(v1::FrameworkId { value: id.clone() }),
                ..Default::default()
            },
        );
        engine.remove_framework(id, now);
    }
    let wait = engine.config.agent_reregister_timeout;
    for json in &registry.frameworks {
        let info = match mesos_proto::json::from_json_value::<v1::FrameworkInfo>(json) {
            Ok(info) => info,
            Err(e) => {
                warn!(error = %e, "registry holds an unreadable framework; skipped");
                continue;
            }
        };
        let Some(id) = info.id.as_ref().map(|i| i.value.clone()) else {
            continue;
        };
        if engine.frameworks.contains_key(&id) {
            continue;
        }
        let failover = info
            .failover_timeout
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(|t| Duration::from_secs_f64(t.min(1e9)))
            .unwrap_or_default();
        engine.add_recovered_framework(&id, info);
        if let Some(f) = engine.frameworks.get_mut(&id) {
            f.failover_deadline = Some(now + wait + failover);
        }
    }
    let mut expected = ExpectedAgents::new();
    for json in &registry.agents {
        match mesos_proto::json::from_json_value::<v1::AgentInfo>(json) {
            Ok(info) => match info.id.as_ref().map(|i| i.value.clone()) {
                Some(id) if registry.operator.gone.contains_key(&id) => {
                    // Marked gone before the registry caught up with its removal.
                    warn!(agent_id = %id, "registry lists a gone agent as admitted; not waiting for it");
                }
                Some(id) if !id.is_empty() => {
                    engine.unreachable_agents.remove(&id);
                    expected.insert(id, info);
                }
                _ => warn!("registry holds an agent without an id; skipped"),
            },
            Err(e) => warn!(error = %e, "registry holds an unreadable agent; skipped"),
        }
    }
    info!(
        agents = expected.len(),
        frameworks = engine.frameworks.len(),
        unreachable = engine.unreachable_agents.len(),
        "recovered the registry"
    );
    expected
}

// ------------------------------------------------------------------------- storage

/// The version of the registry node last read or written (None: no node yet).
pub(crate) type RegistryVersion = Option<i32>;

#[derive(Deserialize)]
struct ChunkHeader {
    chunks: usize,
    generation: String,
}

fn chunk_path(node: &str, generation: &str, index: usize) -> String {
    format!("{node}/{generation}-{index}")
}

/// Reads the registry; an absent node is an empty registry.
pub(crate) async fn load(session: &Session) -> Result<(Registry, RegistryVersion), RegistryError> {
    let node = session.url().child(REGISTRY_NODE);
    let Some((data, stat)) = session.get(&node).await? else {
        return Ok((Registry::default(), None));
    };
    if data.is_empty() {
        return Ok((Registry::default(), Some(stat.version)));
    }
    let value: Value =
        serde_json::from_slice(&data).map_err(|e| RegistryError::Corrupt(e.to_string()))?;
    let bytes = if value.get("chunks").is_some() {
        let header: ChunkHeader =
            serde_json::from_value(value).map_err(|e| RegistryError::Corrupt(e.to_string()))?;
        let mut bytes = Vec::new();
        for i in 0..header.chunks {
            let path = chunk_path(&node, &header.generation, i);
            let (chunk, _) = session
                .get(&path)
                .await?
                .ok_or_else(|| RegistryError::Corrupt(format!("missing chunk {path}")))?;
            bytes.extend_from_slice(&chunk);
        }
        bytes
    } else {
        data
    };
    let registry =
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Corrupt(e.to_string()))?;
    Ok((registry, Some(stat.version)))
}

/// Where this master's writes of the registry stand.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistryCursor {
    /// The version of the node last read or written by this master.
    pub(crate) version: RegistryVersion,
    /// A write whose answer was lost (the connection to a ZooKeeper server broke while it
    /// was in flight): the node version it would have produced, and the data it wrote. The
    /// write may have landed, and then the node's version has moved on without another
    /// master having written.
    unconfirmed: Option<(i32, Vec<u8>)>,
}

impl RegistryCursor {
    pub(crate) fn new(version: RegistryVersion) -> Self {
        RegistryCursor {
            version,
            unconfirmed: None,
        }
    }

    /// Runs a create or set that would leave the node at `next` with `data`, noting it as
    /// unconfirmed until ZooKeeper answers one way or the other.
    async fn write<T>(
        &mut self,
        next: i32,
        data: &[u8],
        op: impl std::future::Future<Output = Result<T, ZkError>>,
    ) -> Result<T, ZkError> {
        self.unconfirmed = Some((next, data.to_vec()));
        let result = op.await;
        if !result.as_ref().err().is_some_and(in_doubt) {
            // Done, or refused by the server: either way it is no longer in doubt.
            self.unconfirmed = None;
        }
        result
    }

    /// If the last write's answer was lost, looks whether it landed and adopts its version.
    /// The write stays in doubt until the node could be read: a failed read must not turn
    /// it into one that did not land.
    async fn settle(&mut self, session: &Session, node: &str) -> Result<(), ZkError> {
        let Some(unconfirmed) = &self.unconfirmed else {
            return Ok(());
        };
        let found = session.get(node).await?;
        if landed(
            unconfirmed,
            found
                .as_ref()
                .map(|(data, stat)| (data.as_slice(), stat.version)),
        ) {
            info!(
                version = unconfirmed.0,
                "a registry write whose answer was lost had landed"
            );
            self.version = Some(unconfirmed.0);
        }
        self.unconfirmed = None;
        Ok(())
    }

    /// Goes on from the node's version as read now, forgetting what was in doubt.
    pub(crate) fn restart_from(&mut self, version: RegistryVersion) {
        *self = RegistryCursor::new(version);
    }
}

/// Whether a write left in doubt (the version it would produce, its data) is what the node
/// holds now (`found`: its data and version; None: no node).
fn landed((next, data): &(i32, Vec<u8>), found: Option<(&[u8], i32)>) -> bool {
    found.is_some_and(|(found, version)| version == *next && found == data.as_slice())
}

/// The registry node's version now (None: no node), for a writer that starts over.
pub(crate) async fn version_now(session: &Session) -> Result<RegistryVersion, ZkError> {
    let node = session.url().child(REGISTRY_NODE);
    Ok(session.get(&node).await?.map(|(_, stat)| stat.version))
}

/// Whether ZooKeeper refused a registry write because the node changed since the writer
/// last read or wrote it (or, for a first write, because it exists).
pub(crate) fn is_refusal(e: &ZkError) -> bool {
    matches!(
        e.code(),
        Some(zookeeper_async::ZkError::BadVersion) | Some(zookeeper_async::ZkError::NodeExists)
    )
}

/// What the leader's registry writer makes of a refused write, given the election's
/// children and the registry node's version, both read after the refusal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// This master's election znode is no longer the lowest: another master may lead.
    Deposed,
    /// This master's znode is still the lowest, so no other master has been elected since
    /// it recovered the registry. What moved the node was a write whose answer was lost
    /// (this master's own, or a deposed master's that landed late): write again over it,
    /// from the version found.
    StillLeading(RegistryVersion),
}

/// Decides [`Refusal`]. A refused write alone does not tell "another master leads" from
/// "a write in doubt landed"; the election does.
pub(crate) fn judge_refusal(
    election: &[String],
    own_znode: &str,
    version_now: RegistryVersion,
) -> Refusal {
    if mesos_common::zk::leader_child(election) == Some(own_znode) {
        Refusal::StillLeading(version_now)
    } else {
        Refusal::Deposed
    }
}

/// Whether a write that failed with `e` may still have been applied by the ensemble.
fn in_doubt(e: &ZkError) -> bool {
    use zookeeper_async::ZkError as Code;
    match e {
        ZkError::Timeout { .. } => true,
        ZkError::Call { error, .. } => matches!(
            error,
            Code::ConnectionLoss | Code::OperationTimeout | Code::SessionMoved
        ),
        _ => false,
    }
}

/// Writes `bytes` as the registry if the node is still at the cursor's version, then
/// advances it. `writer` (the term's master id) names the chunks, so that two writers never
/// share one. A NodeExists or BadVersion error ([`is_refusal`]) means the node changed since:
/// see [`judge_refusal`].
pub(crate) async fn store(
    session: &Session,
    writer: &str,
    bytes: &[u8],
    cursor: &mut RegistryCursor,
) -> Result<(), ZkError> {
    let node = session.url().child(REGISTRY_NODE);
    cursor.settle(session, &node).await?;
    let current = match cursor.version {
        Some(v) => v,
        None => {
            // First write ever: the node must exist before chunks can go under it.
            session.ensure_path(&session.url().path).await?;
            let create = session.create(&node, Vec::new(), CreateMode::Persistent);
            cursor.write(0, &[], create).await?;
            cursor.version = Some(0);
            0
        }
    };
    let old_children = session.children(&node).await?;
    let (data, keep) = if bytes.len() <= CHUNK {
        (bytes.to_vec(), None)
    } else {
        let generation = format!("{writer}-{}", i64::from(current) + 1);
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            create_or_replace(session, &chunk_path(&node, &generation, i), chunk.to_vec()).await?;
        }
        let header = serde_json::json!({ "chunks": chunks.len(), "generation": generation });
        (
            header.to_string().into_bytes(),
            Some(format!("{generation}-")),
        )
    };
    let set = session.set(&node, data.clone(), Some(current));
    let stat = cursor.write(current + 1, &data, set).await?;
    cursor.version = Some(stat.version);
    // Chunks of earlier generations are garbage once the node points elsewhere.
    for child in old_children {
        if keep.as_deref().is_some_and(|k| child.starts_with(k)) {
            continue;
        }
        let _ = session.delete(&format!("{node}/{child}"), None).await;
    }
    Ok(())
}

async fn create_or_replace(session: &Session, path: &str, data: Vec<u8>) -> Result<(), ZkError> {
    match session
        .create(path, data.clone(), CreateMode::Persistent)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(zookeeper_async::ZkError::NodeExists) => {
            session.set(path, data, None).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn engine() -> Engine {
        let config =
            crate::Config::try_parse_from(["mesos-master", "--agent_reregister_timeout=1mins"])
                .unwrap();
        let info = v1::MasterInfo {
            id: "m".into(),
            ..Default::default()
        };
        Engine::new(config, info).unwrap()
    }

    fn agent_info(id: &str) -> v1::AgentInfo {
        v1::AgentInfo {
            hostname: format!("{id}.example"),
            id: Some(v1::AgentId { value: id.into() }),
            resources: mesos_common::wire::resources_to_proto(
                &mesos_common::resources::Resources::parse("cpus:2;mem:512").unwrap(),
                None,
            ),
            ..Default::default()
        }
    }

    fn operator_records() -> OperatorRecords {
        OperatorRecords {
            gone: BTreeMap::from([("a2".to_string(), 7.0)]),
            deactivated: ["a1".to_string(), "a3".to_string()].into(),
            drains: BTreeMap::from([(
                "a3".to_string(),
                serde_json::json!({
                    "state": "DRAINING",
                    "config": {"mark_gone": false, "max_grace_period": {"nanoseconds": 5000000000_u64}}
                }),
            )]),
            quota_configs: vec![serde_json::json!({
                "role": "prod",
                "guarantees": {"cpus": {"value": 2.0}},
                "limits": {"cpus": {"value": 4.0}}
            })],
        }
    }

    #[test]
    fn operator_records_survive_a_change_of_leader() {
        let registry = Registry {
            agents: ["a1", "a2", "a3"]
                .map(|id| mesos_proto::json::to_json_value(&agent_info(id)))
                .to_vec(),
            unreachable: BTreeMap::from([("a2".to_string(), 3.0)]),
            quotas: BTreeMap::from([("prod".to_string(), "cpus:4".to_string())]),
            operator: operator_records(),
            ..Default::default()
        };
        let mut e = engine();
        let expected = recover(&mut e, &registry, Duration::ZERO);
        // A gone agent is neither expected nor unreachable, and is refused if it comes.
        assert_eq!(expected.keys().collect::<Vec<_>>(), ["a1", "a3"]);
        assert!(!e.unreachable_agents.contains_key("a2"));
        assert!(admin::refusal(&e, "a2").is_some());
        assert!(admin::refusal(&e, "a1").is_none());
        // Deactivation and the drain are back, as is the quota config for GET_QUOTA.
        let (deactivated, drain) = admin::agent_status(&e, "a3");
        assert!(deactivated);
        let drain = drain.expect("drain info");
        assert_eq!(drain.state(), v1::DrainState::Draining);
        assert_eq!(
            drain.config.max_grace_period.map(|d| d.nanoseconds),
            Some(5_000_000_000)
        );
        assert!(admin::agent_status(&e, "a1").0);
        let quota = admin::quota_status(&e);
        assert_eq!(quota.status.configs.len(), 1);
        assert_eq!(quota.status.configs[0].guarantees["cpus"].value, 2.0);

        // Written back unchanged; any operator change rewrites the registry.
        let mut tracker = RegistryTracker::default();
        let bytes = tracker.changed(&e, &expected).expect("first snapshot");
        let written: Registry = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written.operator, registry.operator);
        assert!(tracker.changed(&e, &expected).is_none());
        admin::write(&mut e, |_| ());
        assert!(tracker.changed(&e, &expected).is_some());
    }

    #[test]
    fn a_registry_without_operator_records_still_loads() {
        let old = br#"{"agents":[],"weights":{"prod":2.0},"quotas":{}}"#;
        let registry: Registry = serde_json::from_slice(old).unwrap();
        assert_eq!(registry.operator, OperatorRecords::default());
    }

    #[test]
    fn registry_round_trips_through_an_engine() {
        let registry = Registry {
            agents: vec![
                mesos_proto::json::to_json_value(&agent_info("a1")),
                mesos_proto::json::to_json_value(&agent_info("a2")),
            ],
            unreachable: BTreeMap::from([("a0".to_string(), 12.5)]),
            frameworks: vec![serde_json::json!({
                "id": {"value": "f1"}, "name": "web", "user": "root", "failover_timeout": 30.0
            })],
            removed_frameworks: vec!["f0".into()],
            weights: BTreeMap::from([("prod".to_string(), 2.0)]),
            quotas: BTreeMap::from([("prod".to_string(), "cpus:4;mem:1024".to_string())]),
            operator: OperatorRecords::default(),
        };
        let mut e = engine();
        let now = Duration::from_secs(5);
        let expected = recover(&mut e, &registry, now);
        assert_eq!(expected.keys().collect::<Vec<_>>(), ["a1", "a2"]);
        assert!(e.unreachable_agents.contains_key("a0"));
        let f1 = &e.frameworks["f1"];
        assert!(!f1.active);
        assert_eq!(
            f1.failover_deadline,
            Some(now + Duration::from_secs(60) + Duration::from_secs(30))
        );
        assert!(e.completed_frameworks.iter().any(|f| f.id == "f0"));
        assert_eq!(e.allocator.weights().get("prod"), Some(&2.0));

        // What the recovered engine writes back is what it was given.
        let mut tracker = RegistryTracker::default();
        let bytes = tracker.changed(&e, &expected).expect("first snapshot");
        let written: Registry = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written.agents.len(), 2);
        assert_eq!(written.unreachable, registry.unreachable);
        assert_eq!(written.removed_frameworks, registry.removed_frameworks);
        assert_eq!(written.weights, registry.weights);
        assert_eq!(written.quotas, registry.quotas);
        assert_eq!(written.frameworks.len(), 1);
        assert_eq!(written.frameworks[0]["name"], "web");
        // Nothing changed: nothing to write.
        assert!(tracker.changed(&e, &expected).is_none());
        // An agent marked unreachable changes it.
        e.unreachable_agents.insert("a9".into(), 1.0);
        assert!(tracker.changed(&e, &expected).is_some());
    }

    /// A standalone ZooKeeper from `scripts/zookeeper.sh`, stopped on drop; None when the
    /// package is not installed (`scripts/zookeeper.sh install`).
    struct TestZooKeeper {
        dir: std::path::PathBuf,
        port: u16,
    }

    impl TestZooKeeper {
        fn script() -> std::path::PathBuf {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/zookeeper.sh")
        }

        fn start() -> Option<TestZooKeeper> {
            if !std::path::Path::new("/usr/share/java/zookeeper.jar").exists() {
                return None;
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir =
                std::env::temp_dir().join(format!("registry-zk-{}-{port}", std::process::id()));
            let status = std::process::Command::new(Self::script())
                .args(["start", dir.to_str().unwrap(), &port.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "scripts/zookeeper.sh start failed");
            Some(TestZooKeeper { dir, port })
        }
    }

    impl Drop for TestZooKeeper {
        fn drop(&mut self) {
            let _ = std::process::Command::new(Self::script())
                .args(["stop", self.dir.to_str().unwrap()])
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registry_is_stored_in_zookeeper_in_chunks_when_large() {
        let Some(zk) = TestZooKeeper::start() else {
            eprintln!("skipped: ZooKeeper is not installed (scripts/zookeeper.sh install)");
            return;
        };
        let url =
            mesos_common::zk::ZkUrl::parse(&format!("zk://127.0.0.1:{}/reg", zk.port)).unwrap();
        let session =
            mesos_common::zk::open_until_connected(&url, Duration::from_secs(5), || false)
                .await
                .unwrap();

        let (empty, version) = load(&session).await.unwrap();
        assert_eq!((empty, version), (Registry::default(), None));

        let small = Registry {
            weights: BTreeMap::from([("prod".to_string(), 2.0)]),
            ..Default::default()
        };
        let mut cursor = RegistryCursor::new(None);
        store(&session, "w1", &small.to_bytes(), &mut cursor)
            .await
            .unwrap();
        assert_eq!(
            load(&session).await.unwrap(),
            (small.clone(), cursor.version)
        );

        // Over a megabyte: more than one znode can hold.
        let large = Registry {
            agents: (0..3000)
                .map(|i| {
                    let mut info = agent_info(&format!("agent-{i}"));
                    info.hostname = format!("{i}-{}", "h".repeat(400));
                    mesos_proto::json::to_json_value(&info)
                })
                .collect(),
            ..Default::default()
        };
        assert!(large.to_bytes().len() > 2 * CHUNK);
        store(&session, "w1", &large.to_bytes(), &mut cursor)
            .await
            .unwrap();
        assert_eq!(
            load(&session).await.unwrap(),
            (large.clone(), cursor.version)
        );
        let node = url.child(REGISTRY_NODE);
        let chunks = session.children(&node).await.unwrap();
        assert_eq!(chunks.len(), large.to_bytes().len().div_ceil(CHUNK));

        // Small again: the chunks are gone.
        store(&session, "w1", &small.to_bytes(), &mut cursor)
            .await
            .unwrap();
        assert_eq!(load(&session).await.unwrap().0, small);
        assert!(session.children(&node).await.unwrap().is_empty());

        // A writer that did not see the latest version is refused.
        let mut stale = RegistryCursor::new(Some(0));
        let refused = store(&session, "w2", &large.to_bytes(), &mut stale).await;
        assert_eq!(
            refused.unwrap_err().code(),
            Some(zookeeper_async::ZkError::BadVersion)
        );
        assert_eq!(load(&session).await.unwrap().0, small);
        // So is one that thinks there is no registry yet.
        let mut none = RegistryCursor::new(None);
        let refused = store(&session, "w3", &small.to_bytes(), &mut none).await;
        assert_eq!(
            refused.unwrap_err().code(),
            Some(zookeeper_async::ZkError::NodeExists)
        );

        // A write whose answer was lost but which landed: the writer's next write goes on
        // from the version it produced instead of taking it for another master's write.
        let before = cursor.version.unwrap();
        let landed = Registry {
            weights: BTreeMap::from([("dev".to_string(), 3.0)]),
            ..Default::default()
        };
        session
            .set(&node, landed.to_bytes(), Some(before))
            .await
            .unwrap();
        cursor.unconfirmed = Some((before + 1, landed.to_bytes()));
        store(&session, "w1", &large.to_bytes(), &mut cursor)
            .await
            .unwrap();
        assert_eq!(cursor.version, Some(before + 2));
        assert_eq!(load(&session).await.unwrap().0, large);
        // One that did not land, while another master wrote: still refused.
        let mut lost = RegistryCursor::new(Some(before));
        lost.unconfirmed = Some((before + 1, small.to_bytes()));
        let refused = store(&session, "w4", &small.to_bytes(), &mut lost).await;
        assert_eq!(
            refused.unwrap_err().code(),
            Some(zookeeper_async::ZkError::BadVersion)
        );
        assert_eq!(load(&session).await.unwrap().0, large);

        // A refused writer that still leads goes on from the version it finds.
        let refused = store(&session, "w4", &small.to_bytes(), &mut lost).await;
        assert!(is_refusal(&refused.unwrap_err()));
        lost.restart_from(version_now(&session).await.unwrap());
        store(&session, "w4", &small.to_bytes(), &mut lost)
            .await
            .unwrap();
        assert_eq!(load(&session).await.unwrap(), (small.clone(), lost.version));
        session.close_now().await;
    }

    #[test]
    fn a_write_in_doubt_landed_only_if_the_node_holds_it_at_its_version() {
        let doubt = (5, b"mine".to_vec());
        for (found, expected) in [
            (Some((&b"mine"[..], 5)), true),
            // Another write on top of it, or another writer's in its place.
            (Some((&b"mine"[..], 6)), false),
            (Some((&b"theirs"[..], 5)), false),
            // Not landed: the node is where it was.
            (Some((&b"old"[..], 4)), false),
            (None, false),
        ] {
            assert_eq!(landed(&doubt, found), expected, "{found:?}");
        }
    }

    #[test]
    fn a_refused_write_deposes_only_a_master_whose_znode_is_no_longer_the_lowest() {
        let children = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let own = "json.info_0000000004";
        for (election, expected) in [
            // Still the lowest (other children do not count): write again from the node.
            (
                children(&["registry", "json.info_0000000007", own, "log_replicas"]),
                Refusal::StillLeading(Some(9)),
            ),
            (children(&[own]), Refusal::StillLeading(Some(9))),
            // A lower znode: another master may lead.
            (children(&["json.info_0000000002", own]), Refusal::Deposed),
            // This master's znode is gone (its session expired).
            (children(&["json.info_0000000007"]), Refusal::Deposed),
            (children(&[]), Refusal::Deposed),
        ] {
            assert_eq!(
                judge_refusal(&election, own, Some(9)),
                expected,
                "{election:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_stays_in_doubt_while_the_node_cannot_be_read() {
        let Some(zk) = TestZooKeeper::start() else {
            eprintln!("skipped: ZooKeeper is not installed (scripts/zookeeper.sh install)");
            return;
        };
        let url =
            mesos_common::zk::ZkUrl::parse(&format!("zk://127.0.0.1:{}/doubt", zk.port)).unwrap();
        let session =
            mesos_common::zk::open_until_connected(&url, Duration::from_secs(2), || false)
                .await
                .unwrap();
        let mut cursor = RegistryCursor::new(Some(3));
        cursor.unconfirmed = Some((4, b"mine".to_vec()));
        drop(zk);
        let node = url.child(REGISTRY_NODE);
        assert!(cursor.settle(&session, &node).await.is_err());
        // Forgotten here, a write that landed would meet itself as BadVersion next time.
        assert_eq!(cursor.unconfirmed, Some((4, b"mine".to_vec())));
        assert_eq!(cursor.version, Some(3));
        session.close();
    }

    #[test]
    fn unknown_and_missing_fields_are_tolerated() {
        let r: Registry = serde_json::from_str(r#"{"agents": [], "future_field": 1}"#).unwrap();
        assert_eq!(r, Registry::default());
        let r: Registry = serde_json::from_slice(&Registry::default().to_bytes()).unwrap();
        assert_eq!(r, Registry::default());
    }
}
