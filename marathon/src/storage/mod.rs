//! Marathon's state storage: one trait, [`Store`], and the stores behind it.
//!
//! Everything Marathon keeps across restarts and failovers goes through [`Store`]: apps and
//! their versions, instances, the framework id, deployments, service-port assignments. Values
//! are opaque bytes (the callers serialize JSON); keys are `/`-separated relative paths:
//!
//! ```text
//!   apps/prod/web                                     instances/prod_web.7c1f…
//!   versions/prod/web/2026-12-02T05:00:00.000Z        framework-id
//! ```
//!
//! A key is one or more non-empty segments, none of them `.` or `..`; any other character
//! is allowed (each store encodes what it cannot hold as is). [`validate_key`] says why a
//! key is refused.
//!
//! # The trait
//! - `get`, `put`, `delete` (deleting a missing key is not an error), each atomic.
//! - `list(prefix)`: every key *under* `prefix` at any depth, as full keys, sorted (byte
//!   order); `""` lists every key. `list("versions/prod/web")` also returns the versions of
//!   an app `/prod/web/api`; a caller that wants one level keeps the keys with one more
//!   segment than the prefix.
//! - `apply(ops)`: puts and deletes that land together or not at all; within a batch a
//!   later op on the same key wins.
//!
//! Errors ([`StoreError`]): `Unavailable` means "retry later, or step down" (ZooKeeper
//! disconnected, a call timed out, the session expired); after it a write may or may not
//! have landed, but never half of an `apply`. The other variants are not cured by
//! retrying.
//!
//! # The stores
//! ```text
//!              Arc<dyn Store>
//!        ┌───────────┼────────────────┐
//!   MemoryStore   RedbStore         ZkStore
//!   (unit tests)  (one node:        (production: --zk, values of any size in
//!                  a redb file)      chunks of at most --zk_max_node_size)
//! ```
//! The three pass one conformance suite (`conformance`, test builds only).
//!
//! # ZooKeeper layout
//! Under `<--zk path>/state` (see [`ZkStore::root_for`]):
//! ```text
//!   /marathon/state
//!   ├── keys                    the key tree: one directory node per key segment,
//!   │   ├── =framework-id       a value node ("=" + segment) per key
//!   │   ├── apps
//!   │   │   └── prod
//!   │   │       └── =web        header: the value inline, or a pointer to chunks
//!   │   └── instances
//!   │       └── =prod_web.7c1f…
//!   ├── blobs                   chunks of values too large for one node:
//!   │   ├── <gen>-0-apps%2Fprod%2Fweb      <generation>-<index>-<key, escaped>
//!   │   ├── <gen>-1-apps%2Fprod%2Fweb
//!   │   └── <gen>-0-                       (empty key: a batch record's chunks)
//!   └── commit                  only while an apply is in flight: the batch record
//! ```
//! A value node's data is `v` + the value when that fits one node, else `c` + JSON
//! `{"gen","chunks","len"}` naming its chunks in `blobs`. Segments are percent-encoded
//! where ZooKeeper would refuse a character, and for `%`, `=` (and `/` in blob names).
//!
//! # Why a reader never sees half a write (kill -9 included)
//! zookeeper-async has no `multi`, and a ZooKeeper multi-op could not carry values above
//! 1 MB anyway, so atomicity rests on single-node writes:
//! - put: the chunks of a large value go to fresh `blobs` nodes that nothing names yet;
//!   then the value node is set (version-checked) or created in one write, which is the
//!   moment the new value appears; then the old chunks are deleted. A crash before the
//!   switch leaves unnamed chunks and the old value intact; after it, stale chunks. Both
//!   are garbage, swept at the next open (and by this process before its next operation).
//! - delete: the value node goes in one write; its chunks after it.
//! - apply: the new values' chunks are staged as above, then one record of every key's
//!   new header (and old chunks) is written as the `commit` node: creating that node is
//!   the commit point. Then each value node is set or deleted, old chunks go, and the
//!   `commit` node is deleted last. Rolling forward is idempotent, so a crash anywhere
//!   after the commit point is finished by the next open (and a failed call by this
//!   process's next operation) before anything is read; a crash before it leaves only
//!   garbage. Readers wait while an apply rolls forward; they are all in the leader's
//!   process, since only the leader opens a store.
//! - Writers: one, the leader, and only the leader opens a store (opening finishes and
//!   sweeps what a dead writer left). With [`ZkStore::with_session`] the store shares the
//!   election's session; ZooKeeper refuses every request of an expired session, so a
//!   deposed leader's late write cannot land after a new leader (elected only once that
//!   session is gone) has opened its store. An expired session makes the store answer
//!   `Unavailable` for good: the leader steps down and a new store is opened.
//!
//! The embedded store gets the same guarantees from redb: `apply` is one write
//! transaction, committed durably.
//!
//! Operating note: a ZooKeeper server keeps its last 500 transactions in memory
//! (`zookeeper.commitLogCount`); with chunks of ~1 MB that is up to 500 MB of heap, so
//! size the servers' heap (or lower that count) when Marathon stores large apps.

mod embedded;
mod memory;
mod zk;

#[cfg(test)]
pub(crate) mod conformance;

pub use embedded::RedbStore;
pub use memory::MemoryStore;
pub use zk::{ZkStore, DEFAULT_MAX_NODE_SIZE};

/// A write in a batch given to [`Store::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: String, value: Vec<u8> },
    Delete { key: String },
}

impl Op {
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    pub fn delete(key: impl Into<String>) -> Op {
        Op::Delete { key: key.into() }
    }

    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now (ZooKeeper disconnected, a call timed out, the
    /// session expired): retry, or step down as leader. A write that failed so may or may
    /// not have landed, but an `apply` never lands in part.
    #[error("storage unavailable: {reason}")]
    Unavailable { reason: String },
    /// The caller's key is not a key.
    #[error("invalid storage key '{key}': {reason}")]
    InvalidKey { key: String, reason: String },
    /// What is stored under a key cannot be read back.
    #[error("stored value of '{key}' is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    /// Anything else the store cannot recover from (I/O error, permissions, a bad
    /// configuration).
    #[error("storage failed: {reason}")]
    Fatal { reason: String },
}

impl StoreError {
    /// Whether the same call may succeed later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    fn fatal(reason: impl std::fmt::Display) -> StoreError {
        StoreError::Fatal {
            reason: reason.to_string(),
        }
    }
}

/// Marathon's state: values under `/`-separated keys. See the module doc for the contract.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// The value under `key`, or None.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value`, replacing what was there.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError>;
    /// Removes `key`; Ok when it did not exist.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Every key under `prefix` (at any depth; `""`: every key), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Applies the ops in order, all or none.
    async fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError>;
}

/// Refuses what is not a key: empty, a leading or trailing `/`, an empty, `.` or `..`
/// segment.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let refuse = |reason: &str| {
        Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    };
    if key.is_empty() {
        return refuse("empty");
    }
    for segment in key.split('/') {
        match segment {
            "" => return refuse("empty segment (leading, trailing or double '/')"),
            "." | ".." => return refuse("'.' and '..' are not segments"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a `list` prefix: `""` or a key.
fn validate_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.is_empty() {
        Ok(())
    } else {
        validate_key(prefix)
    }
}

/// The last op per key of a batch (later ops win), keys validated; None: delete.
fn collapse(
    ops: Vec<Op>,
) -> Result<std::collections::BTreeMap<String, Option<Vec<u8>>>, StoreError> {
    let mut last = std::collections::BTreeMap::new();
    for op in ops {
        validate_key(op.key())?;
        match op {
            Op::Put { key, value } => last.insert(key, Some(value)),
            Op::Delete { key } => last.insert(key, None),
        };
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        for good in [
            "framework-id",
            "apps/prod/web",
            "versions/prod/web/2026-12-02T05:00:00.000Z",
            "a/=b/%41/ü/with space/.hidden",
        ] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/", "/apps", "apps/", "apps//web", "a/./b", "a/..", "."] {
            assert!(
                matches!(validate_key(bad), Err(StoreError::InvalidKey { .. })),
                "{bad}"
            );
        }
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("apps/").is_err());
    }

    #[test]
    fn later_ops_on_a_key_win() {
        let last = collapse(vec![
            Op::put("a", "1"),
            Op::delete("b"),
            Op::delete("a"),
            Op::put("b", "2"),
            Op::put("a", "3"),
        ])
        .unwrap();
        assert_eq!(last["a"], Some(b"3".to_vec()));
        assert_eq!(last["b"], Some(b"2".to_vec()));
        assert!(collapse(vec![Op::put("ok", ""), Op::put("bad/", "")]).is_err());
    }
}
