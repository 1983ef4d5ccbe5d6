//! [`ZkStore`]: Marathon's state in ZooKeeper, for the leader of a highly-available
//! Marathon. The layout and the argument for why no reader sees half a write are in the
//! module doc of `storage`.

mod layout;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use mesos_common::zk::{Session, ZkError, ZkUrl};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use zookeeper_async::{CreateMode, ZkError as Code};

use self::layout::{
    blob_name, decode_record, encode_record, escape, parse_blob_name, unescape, Chunks, Entry,
    Header, VALUE_MARK,
};
use super::{collapse, validate_key, validate_prefix, Op, Store, StoreError};

/// `--zk_max_node_size`'s default: what a ZooKeeper node holds with the server's default
/// `jute.maxbuffer` (1 MiB) and room for the request around it.
pub const DEFAULT_MAX_NODE_SIZE: usize = 1_024_000;
/// Below this a chunk header might not fit one node.
const MIN_NODE_SIZE: usize = 256;
/// ZooKeeper calls one operation keeps in flight at once (listing, a batch's keys, chunks).
const PARALLEL: usize = 32;
/// Attempts of a write that keeps losing races with other writes to the same node.
const RACE_ATTEMPTS: usize = 50;

impl From<ZkError> for StoreError {
    fn from(e: ZkError) -> StoreError {
        let unavailable = match &e {
            ZkError::Timeout { .. } | ZkError::Expired => true,
            ZkError::Call { error, .. } => matches!(
                error,
                Code::ConnectionLoss
                    | Code::OperationTimeout
                    | Code::SessionExpired
                    | Code::SessionMoved
            ),
            ZkError::InvalidUrl { .. } | ZkError::UrlFile { .. } => false,
        };
        if unavailable {
            let reason = match e {
                ZkError::Expired => {
                    "ZooKeeper session expired; this store is closed, open a new one".to_string()
                }
                e => e.to_string(),
            };
            StoreError::Unavailable { reason }
        } else {
            StoreError::fatal(e)
        }
    }
}

/// What reading a chunked value found.
enum Loaded {
    Value(Vec<u8>),
    /// A chunk was gone: the value was replaced or deleted while it was read (or is
    /// damaged, when it stays so).
    ChunkMissing,
}

/// Marathon's state under `<root>` in ZooKeeper. See the `storage` module doc.
pub struct ZkStore {
    session: Arc<Session>,
    /// Whether [`ZkStore::close`] ends the session (false when it was lent to the store).
    owns_session: bool,
    closed: AtomicBool,
    root: String,
    keys: String,
    blobs: String,
    commit: String,
    max_node_size: usize,
    /// Shared by reads and single-key writes; exclusive for batches and recovery.
    gate: RwLock<()>,
    /// A write failed part-way: before anything else, a batch past its commit point must
    /// be finished and unnamed chunks swept.
    dirty: AtomicBool,
}

impl std::fmt::Debug for ZkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkStore")
            .field("url", self.session.url())
            .field("root", &self.root)
            .field("max_node_size", &self.max_node_size)
            .finish()
    }
}

impl ZkStore {
    /// The store's root for a `--zk` URL: `zk://host/marathon` -> `/marathon/state`.
    pub fn root_for(url: &ZkUrl) -> String {
        url.child("state")
    }

    /// Opens a session of its own to `url` and the store under [`ZkStore::root_for`] it.
    /// Unavailable when no server answers within `session_timeout`.
    ///
    /// Only the leader may open a store: opening finishes an interrupted batch and deletes
    /// chunks no value names, which would pull the chunks from under another live writer.
    /// `max_node_size` is `--zk_max_node_size`; a node's data plus its path must stay
    /// under the servers' `jute.maxbuffer` (1 MiB by default), or ZooKeeper drops the
    /// connection on every large write.
    pub async fn open(
        url: &ZkUrl,
        session_timeout: Duration,
        max_node_size: usize,
    ) -> Result<ZkStore, StoreError> {
        let session = Session::open(url, session_timeout, session_timeout).await?;
        let connected = tokio::time::timeout(session_timeout, session.wait_connected()).await;
        if connected != Ok(true) {
            session.close();
            return Err(StoreError::Unavailable {
                reason: format!("no ZooKeeper session to {url} within {session_timeout:?}"),
            });
        }
        let session = Arc::new(session);
        let root = Self::root_for(url);
        match Self::start(session.clone(), true, root, max_node_size).await {
            Ok(store) => Ok(store),
            Err(e) => {
                session.close();
                Err(e)
            }
        }
    }

    /// The store under `root` (an absolute znode path) on a session the caller keeps,
    /// typically the leader election's: once that session expires no write of this store
    /// can land, which fences a deposed leader. [`ZkStore::close`] leaves it open. As with
    /// [`ZkStore::open`], only the leader may open a store.
    pub async fn with_session(
        session: Arc<Session>,
        root: &str,
        max_node_size: usize,
    ) -> Result<ZkStore, StoreError> {
        Self::start(session, false, root.to_string(), max_node_size).await
    }

    async fn start(
        session: Arc<Session>,
        owns_session: bool,
        root: String,
        max_node_size: usize,
    ) -> Result<ZkStore, StoreError> {
        if max_node_size < MIN_NODE_SIZE {
            return Err(StoreError::fatal(format!(
                "ZooKeeper max node size {max_node_size} is below {MIN_NODE_SIZE} bytes"
            )));
        }
        if !root.starts_with('/') || root.ends_with('/') || root.contains("//") {
            return Err(StoreError::fatal(format!("bad ZooKeeper root '{root}'")));
        }
        let store = ZkStore {
            keys: format!("{root}/keys"),
            blobs: format!("{root}/blobs"),
            commit: format!("{root}/commit"),
            root,
            session,
            owns_session,
            closed: AtomicBool::new(false),
            max_node_size,
            gate: RwLock::new(()),
            dirty: AtomicBool::new(false),
        };
        store.session.ensure_path(&store.keys).await?;
        store.session.ensure_path(&store.blobs).await?;
        // A previous leader may have died part-way through a write.
        store.recover().await?;
        Ok(store)
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Ends the store's own session (not one lent by [`ZkStore::with_session`]) and waits
    /// for the server's answer. Dropping the store ends it too, without waiting.
    pub async fn close(&self) {
        if self.owns_session && !self.closed.swap(true, Ordering::AcqRel) {
            self.session.close_now().await;
        }
    }

    // --------------------------------------------------------------------- paths

    /// The value node of `key`: its directories, then `=` + the last segment.
    fn value_path(&self, key: &str) -> String {
        let mut path = self.keys.clone();
        let mut segments = key.split('/').peekable();
        while let Some(segment) = segments.next() {
            path.push('/');
            if segments.peek().is_none() {
                path.push(VALUE_MARK);
            }
            path.push_str(&escape(segment, false));
        }
        path
    }

    /// The directory node holding the keys under `prefix` (`""`: all keys).
    fn dir_path(&self, prefix: &str) -> String {
        let mut path = self.keys.clone();
        for segment in prefix.split('/').filter(|s| !s.is_empty()) {
            path.push('/');
            path.push_str(&escape(segment, false));
        }
        path
    }

    fn blob_path(&self, gen: &str, index: u32, key: &str) -> String {
        format!("{}/{}", self.blobs, blob_name(gen, index, key))
    }

    // --------------------------------------------------------------------- gate

    /// Entry for reads and single-key writes: recovers first after a failed write.
    async fn shared(&self) -> Result<RwLockReadGuard<'_, ()>, StoreError> {
        loop {
            if self.dirty.load(Ordering::Acquire) {
                let _exclusive = self.gate.write().await;
                if self.dirty.load(Ordering::Acquire) {
                    self.recover().await?;
                }
            }
            let guard = self.gate.read().await;
            if !self.dirty.load(Ordering::Acquire) {
                return Ok(guard);
            }
        }
    }

    async fn exclusive(&self) -> Result<RwLockWriteGuard<'_, ()>, StoreError> {
        let guard = self.gate.write().await;
        if self.dirty.load(Ordering::Acquire) {
            self.recover().await?;
        }
        Ok(guard)
    }

    /// Runs a write; if it fails, whatever it left half-done is recovered before the next
    /// operation.
    async fn tainting<T>(
        &self,
        write: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = write.await;
        if result.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        result
    }

    // --------------------------------------------------------------------- node helpers

    async fn children_or_empty(&self, path: &str) -> Result<Vec<String>, StoreError> {
        match self.session.children(path).await {
            Ok(children) => Ok(children),
            Err(e) if e.code() == Some(Code::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_if_present(&self, path: &str) -> Result<(), StoreError> {
        match self.session.delete(path, None).await {
            Err(e) if e.code() != Some(Code::NoNode) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Creates the directory node `dir` and any missing parents.
    async fn ensure_dir(&self, dir: &str) -> Result<(), StoreError> {
        let mut missing = vec![dir.to_string()];
        // Two steps per missing level (find it missing, create it), plus races with
        // pruning.
        for _ in 0..RACE_ATTEMPTS + 2 * dir.matches('/').count() {
            let Some(next) = missing.last().cloned() else {
                return Ok(());
            };
            match self
                .session
                .create(&next, Vec::new(), CreateMode::Persistent)
                .await
            {
                Ok(_) => {
                    missing.pop();
                }
                Err(e) if e.code() == Some(Code::NodeExists) => {
                    missing.pop();
                }
                Err(e) if e.code() == Some(Code::NoNode) => {
                    missing.push(parent_of(&next).to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(lost_races(dir))
    }

    /// Creates a value node with its directories. NodeExists is the caller's to handle.
    async fn create_value(&self, path: &str, data: &[u8]) -> Result<(), ZkErrorOr> {
        for _ in 0..RACE_ATTEMPTS {
            match self
                .session
                .create(path, data.to_vec(), CreateMode::Persistent)
                .await
            {
                Ok(_) => return Ok(()),
                // A directory is missing, or was pruned between its creation and ours.
                Err(e) if e.code() == Some(Code::NoNode) => {
                    self.ensure_dir(parent_of(path)).await?;
                }
                Err(e) => return Err(ZkErrorOr::Zk(e)),
            }
        }
        Err(lost_races(path).into())
    }

    /// Sets a value node to `data` whatever it holds, creating it when absent.
    async fn overwrite_value(&self, path: &str, data: &[u8]) -> Result<(), StoreError> {
        for _ in 0..RACE_ATTEMPTS {
            match self.session.set(path, data.to_vec(), None).await {
                Ok(_) => return Ok(()),
                Err(e) if e.code() == Some(Code::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
            match self.create_value(path, data).await {
                Ok(()) => return Ok(()),
                Err(ZkErrorOr::Zk(e)) if e.code() == Some(Code::NodeExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(lost_races(path))
    }

    /// Deletes the now empty directories above a deleted value node. Best effort: an empty
    /// directory left behind is harmless and goes with the next delete under it.
    async fn prune(&self, value_path: &str) {
        let mut dir = parent_of(value_path);
        while dir.len() > self.keys.len() {
            match self.session.delete(dir, None).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(Code::NoNode) => {}
                Err(e) => {
                    if e.code() != Some(Code::NotEmpty) {
                        tracing::debug!(dir, error = %e, "cannot prune an empty key directory");
                    }
                    return;
                }
            }
            dir = parent_of(dir);
        }
    }

    // --------------------------------------------------------------------- values

    /// Makes `value` ready to be named by a header: small values go inline; a large one is
    /// written to fresh chunk nodes that nothing names yet.
    async fn stage(&self, key: &str, value: Vec<u8>) -> Result<Header, StoreError> {
        if value.len() < self.max_node_size {
            return Ok(Header::Inline(value));
        }
        let gen = uuid::Uuid::new_v4().simple().to_string();
        // Owned parts: a stream over borrowed items would not be `Send` for every lifetime.
        let parts: Vec<(u32, Vec<u8>)> = (0u32..)
            .zip(value.chunks(self.max_node_size).map(<[u8]>::to_vec))
            .collect();
        let chunks = parts.len() as u32;
        futures::stream::iter(parts)
            .map(|(index, part)| {
                let path = self.blob_path(&gen, index, key);
                async move {
                    self.session
                        .create(&path, part, CreateMode::Persistent)
                        .await
                }
            })
            .buffer_unordered(4)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(Header::Chunked(Chunks {
            gen,
            chunks,
            len: value.len() as u64,
        }))
    }

    /// The value a header names.
    async fn load(&self, key: &str, header: Header) -> Result<Loaded, StoreError> {
        let chunks = match header {
            Header::Inline(value) => return Ok(Loaded::Value(value)),
            Header::Chunked(chunks) => chunks,
        };
        let parts: Vec<Option<Vec<u8>>> = futures::stream::iter(0..chunks.chunks)
            .map(|index| {
                let path = self.blob_path(&chunks.gen, index, key);
                async move {
                    let found = self.session.get(&path).await?;
                    Ok::<_, StoreError>(found.map(|(data, _)| data))
                }
            })
            .buffered(4)
            .try_collect()
            .await?;
        let mut value = Vec::with_capacity(chunks.len as usize);
        for part in parts {
            match part {
                Some(part) => value.extend_from_slice(&part),
                None => return Ok(Loaded::ChunkMissing),
            }
        }
        if value.len() as u64 != chunks.len {
            return Err(StoreError::Corrupt {
                key: key.to_string(),
                reason: format!(
                    "chunks hold {} bytes, the header says {}",
                    value.len(),
                    chunks.len
                ),
            });
        }
        Ok(Loaded::Value(value))
    }

    async fn delete_chunks(&self, key: &str, chunks: &Chunks) -> Result<(), StoreError> {
        futures::stream::iter(0..chunks.chunks)
            .map(|index| {
                let path = self.blob_path(&chunks.gen, index, key);
                async move { self.delete_if_present(&path).await }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    // --------------------------------------------------------------------- operations

    async fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.value_path(key);
        let corrupt = |reason: String| StoreError::Corrupt {
            key: key.to_string(),
            reason,
        };
        let mut missing_at = None;
        for _ in 0..RACE_ATTEMPTS {
            let Some((data, stat)) = self.session.get(&path).await? else {
                return Ok(None);
            };
            let header = Header::decode(data).map_err(corrupt)?;
            match self.load(key, header).await? {
                Loaded::Value(value) => return Ok(Some(value)),
                // The same header twice with a chunk gone: no writer is moving it.
                Loaded::ChunkMissing if missing_at == Some(stat.mzxid) => {
                    return Err(corrupt("a chunk of the value is missing".to_string()))
                }
                Loaded::ChunkMissing => missing_at = Some(stat.mzxid),
            }
        }
        Err(lost_races(&path))
    }

    async fn put_value(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        let path = self.value_path(key);
        let data = self.stage(key, value).await?.encode();
        // Version-checked, so that of two writers of one key each deletes exactly the
        // chunks its own write replaced.
        for _ in 0..RACE_ATTEMPTS {
            let replaced = match self.session.get(&path).await? {
                Some((old, stat)) => match self
                    .session
                    .set(&path, data.clone(), Some(stat.version))
                    .await
                {
                    Ok(_) => Some(old),
                    Err(e) if matches!(e.code(), Some(Code::BadVersion | Code::NoNode)) => continue,
                    Err(e) => return Err(e.into()),
                },
                None => match self.create_value(&path, &data).await {
                    Ok(()) => None,
                    Err(ZkErrorOr::Zk(e)) if e.code() == Some(Code::NodeExists) => continue,
                    Err(e) => return Err(e.into()),
                },
            };
            if let Some(Ok(Header::Chunked(old))) = replaced.map(Header::decode) {
                self.delete_chunks(key, &old).await?;
            }
            return Ok(());
        }
        Err(lost_races(&path))
    }

    async fn delete_value(&self, key: &str) -> Result<(), StoreError> {
        let path = self.value_path(key);
        for _ in 0..RACE_ATTEMPTS {
            let Some((old, stat)) = self.session.get(&path).await? else {
                return Ok(());
            };
            match self.session.delete(&path, Some(stat.version)).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(Code::NoNode) => return Ok(()),
                Err(e) if e.code() == Some(Code::BadVersion) => continue,
                Err(e) => return Err(e.into()),
            }
            self.prune(&path).await;
            if let Ok(Header::Chunked(old)) = Header::decode(old) {
                self.delete_chunks(key, &old).await?;
            }
            return Ok(());
        }
        Err(lost_races(&path))
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut frontier = vec![(self.dir_path(prefix), prefix.to_string())];
        while !frontier.is_empty() {
            let listed: Vec<(String, String, Vec<String>)> =
                futures::stream::iter(std::mem::take(&mut frontier))
                    .map(|(dir, under)| async move {
                        let children = self.children_or_empty(&dir).await?;
                        Ok::<_, StoreError>((dir, under, children))
                    })
                    .buffer_unordered(PARALLEL)
                    .try_collect()
                    .await?;
            for (dir, under, children) in listed {
                for child in children {
                    let (is_value, name) = match child.strip_prefix(VALUE_MARK) {
                        Some(name) => (true, name),
                        None => (false, child.as_str()),
                    };
                    let Some(segment) = unescape(name) else {
                        tracing::warn!(dir, child, "a node under the keys is no key; ignored");
                        continue;
                    };
                    let key = match under.as_str() {
                        "" => segment,
                        _ => format!("{under}/{segment}"),
                    };
                    if is_value {
                        keys.push(key);
                    } else {
                        frontier.push((format!("{dir}/{child}"), key));
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    // --------------------------------------------------------------------- batches

    /// Stages a batch: for each key the new header (large values written to chunks) and
    /// the chunks it replaces. Nothing is visible yet.
    async fn prepare(
        &self,
        last: BTreeMap<String, Option<Vec<u8>>>,
    ) -> Result<Vec<Entry>, StoreError> {
        futures::stream::iter(last)
            .map(|(key, value)| async move {
                let old = match self.session.get(&self.value_path(&key)).await? {
                    Some((data, _)) => Header::decode(data).ok().and_then(|h| h.chunks().cloned()),
                    None => None,
                };
                let new = match value {
                    Some(value) => Some(self.stage(&key, value).await?.encode()),
                    None => None,
                };
                Ok::<_, StoreError>(Entry { key, new, old })
            })
            .buffer_unordered(PARALLEL)
            .try_collect()
            .await
    }

    /// The commit point: the batch record becomes the commit node (its bytes in chunks
    /// first when it is large).
    async fn commit(&self, entries: &[Entry]) -> Result<Header, StoreError> {
        let header = self.stage("", encode_record(entries)).await?;
        match self
            .session
            .create(&self.commit, header.encode(), CreateMode::Persistent)
            .await
        {
            Ok(_) => Ok(header),
            Err(e) if e.code() == Some(Code::NodeExists) => Err(StoreError::fatal(
                "another writer's batch is in flight in ZooKeeper: two Marathon leaders?",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Puts a committed batch in place; idempotent, so a batch interrupted at any point is
    /// finished by running this again.
    async fn roll_forward(&self, entries: &[Entry]) -> Result<(), StoreError> {
        futures::stream::iter(0..entries.len())
            .map(|i| async move {
                let entry = &entries[i];
                let path = self.value_path(&entry.key);
                match &entry.new {
                    Some(data) => self.overwrite_value(&path, data).await,
                    None => {
                        self.delete_if_present(&path).await?;
                        self.prune(&path).await;
                        Ok(())
                    }
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        let replaced: Vec<(String, Chunks)> = entries
            .iter()
            .filter_map(|e| Some((e.key.clone(), e.old.clone()?)))
            .collect();
        futures::stream::iter(replaced)
            .map(|(key, old)| async move { self.delete_chunks(&key, &old).await })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Ends a rolled-forward batch: the commit node goes, then its record's chunks.
    async fn finish(&self, commit: &Header) -> Result<(), StoreError> {
        self.delete_if_present(&self.commit).await?;
        if let Some(chunks) = commit.chunks() {
            self.delete_chunks("", chunks).await?;
        }
        Ok(())
    }

    async fn apply_batch(&self, last: BTreeMap<String, Option<Vec<u8>>>) -> Result<(), StoreError> {
        let entries = self.prepare(last).await?;
        let commit = self.commit(&entries).await?;
        self.roll_forward(&entries).await?;
        self.finish(&commit).await
    }

    // --------------------------------------------------------------------- recovery

    /// Finishes a batch past its commit point, then deletes every chunk no value node
    /// names. Runs at open and after a failed write, with no other operation running.
    async fn recover(&self) -> Result<(), StoreError> {
        if let Some((data, _)) = self.session.get(&self.commit).await? {
            let corrupt = |reason: String| StoreError::Corrupt {
                key: self.commit.clone(),
                reason,
            };
            let header = Header::decode(data).map_err(corrupt)?;
            let record = match self.load("", header.clone()).await? {
                Loaded::Value(record) => record,
                Loaded::ChunkMissing => {
                    return Err(corrupt("a chunk of the batch record is missing".into()))
                }
            };
            let entries = decode_record(&record).map_err(corrupt)?;
            tracing::info!(
                keys = entries.len(),
                "finishing a batch write interrupted after its commit point"
            );
            self.roll_forward(&entries).await?;
            self.finish(&header).await?;
        }
        self.sweep().await?;
        self.dirty.store(false, Ordering::Release);
        Ok(())
    }

    /// Deletes the chunks that no value node names: those of writes interrupted before
    /// their switch, and old ones whose deletion was interrupted.
    async fn sweep(&self) -> Result<(), StoreError> {
        let mut by_value: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for name in self.children_or_empty(&self.blobs).await? {
            match parse_blob_name(&name) {
                Some((gen, key)) => by_value
                    .entry((gen.to_string(), key))
                    .or_default()
                    .push(name),
                None => tracing::warn!(name, "a node under the blobs is no chunk; left alone"),
            }
        }
        let mut swept = 0usize;
        let garbage: Vec<Vec<String>> = futures::stream::iter(by_value)
            .map(|((gen, key), names)| async move {
                // No batch is in flight here, so a record's chunks are all garbage.
                if key.is_empty() || validate_key(&key).is_err() {
                    return Ok::<_, StoreError>(Some(names));
                }
                let named = match self.session.get(&self.value_path(&key)).await? {
                    Some((data, _)) => matches!(
                        Header::decode(data),
                        Ok(Header::Chunked(c)) if c.gen == gen
                    ),
                    None => false,
                };
                Ok((!named).then_some(names))
            })
            .buffer_unordered(PARALLEL)
            .try_filter_map(|names| async move { Ok(names) })
            .try_collect()
            .await?;
        for names in garbage {
            for name in names {
                self.delete_if_present(&format!("{}/{name}", self.blobs))
                    .await?;
                swept += 1;
            }
        }
        if swept > 0 {
            tracing::info!(chunks = swept, "deleted chunks left by interrupted writes");
        }
        Ok(())
    }
}

impl Drop for ZkStore {
    fn drop(&mut self) {
        // Without a close the session, unanswered, lives on in the ensemble until it
        // expires. Closing needs a runtime to send the request on.
        let runtime = tokio::runtime::Handle::try_current().is_ok();
        if self.owns_session && runtime && !self.closed.swap(true, Ordering::AcqRel) {
            self.session.close();
        }
    }
}

/// A [`StoreError`], or the ZooKeeper error a caller may want to look at (NodeExists).
enum ZkErrorOr {
    Zk(ZkError),
    Store(StoreError),
}

impl From<StoreError> for ZkErrorOr {
    fn from(e: StoreError) -> Self {
        ZkErrorOr::Store(e)
    }
}

impl From<ZkErrorOr> for StoreError {
    fn from(e: ZkErrorOr) -> Self {
        match e {
            ZkErrorOr::Zk(e) => e.into(),
            ZkErrorOr::Store(e) => e,
        }
    }
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// A write that kept losing races; only a second writer on the same keys does that.
fn lost_races(path: &str) -> StoreError {
    StoreError::Unavailable {
        reason: format!("{path} kept changing under {RACE_ATTEMPTS} attempts"),
    }
}

#[async_trait::async_trait]
impl Store for ZkStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_key(key)?;
        let _shared = self.shared().await?;
        self.get_value(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        validate_key(key)?;
        let _shared = self.shared().await?;
        self.tainting(self.put_value(key, value)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let _shared = self.shared().await?;
        self.tainting(self.delete_value(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        validate_prefix(prefix)?;
        let _shared = self.shared().await?;
        self.list_keys(prefix).await
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let mut last = collapse(ops)?;
        if last.len() <= 1 {
            // One key is written atomically without a batch record.
            let _shared = self.shared().await?;
            return match last.pop_first() {
                None => Ok(()),
                Some((key, Some(value))) => self.tainting(self.put_value(&key, value)).await,
                Some((key, None)) => self.tainting(self.delete_value(&key)).await,
            };
        }
        let _exclusive = self.exclusive().await?;
        self.tainting(self.apply_batch(last)).await
    }
}
