//! [`RedbStore`]: the state of a single-node Marathon in one redb file.
//!
//! redb is a pure-Rust, ACID, copy-on-write B-tree store: a committed write transaction is
//! on disk (fsynced) when `commit` returns, and a crash at any point leaves the last
//! committed state. Each `put`, `delete` and `apply` is one write transaction; reads run in
//! read transactions (a snapshot), so a reader never sees part of an `apply`. redb calls
//! block, so they run on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition};

use super::{collapse, validate_key, validate_prefix, Op, Store, StoreError};

/// Key -> value, for every key.
const VALUES: TableDefinition<&str, &[u8]> = TableDefinition::new("values");

/// Marathon's state in a redb file (`--store_path`). Only one process may open a file.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStore {
    /// Opens the database file at `path`, creating it (not its directory) when missing. A
    /// file left by a crash is repaired on open, which may take a while for a large file.
    pub async fn open(path: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let db = tokio::task::spawn_blocking(move || -> Result<Database, redb::Error> {
            let db = Database::create(&opened)?;
            // The table exists from the start, so readers never meet "no such table".
            let txn = db.begin_write()?;
            txn.open_table(VALUES)?;
            txn.commit()?;
            Ok(db)
        })
        .await
        .map_err(StoreError::fatal)?
        .map_err(|e| StoreError::Fatal {
            reason: format!("cannot open the store {}: {e}", path.display()),
        })?;
        Ok(RedbStore {
            db: Arc::new(db),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the blocking pool with the database.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(StoreError::fatal)?
            .map_err(StoreError::fatal)
    }

    /// One write transaction: `change` edits the table, then the transaction commits.
    async fn write(
        &self,
        change: impl FnOnce(
                &mut redb::Table<'_, &'static str, &'static [u8]>,
            ) -> Result<(), redb::StorageError>
            + Send
            + 'static,
    ) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(VALUES)?;
                change(&mut table)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait::async_trait]
impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(VALUES)?;
            let value = table.get(key.as_str())?.map(|v| v.value().to_vec());
            Ok(value)
        })
        .await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.write(move |table| {
            table.insert(key.as_str(), value.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.write(move |table| {
            table.remove(key.as_str())?;
            Ok(())
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        validate_prefix(prefix)?;
        let under = match prefix {
            "" => String::new(),
            _ => format!("{prefix}/"),
        };
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(VALUES)?;
            let mut keys = Vec::new();
            for entry in table.range(under.as_str()..)? {
                let (key, _) = entry?;
                let key = key.value();
                if !key.starts_with(&under) {
                    break;
                }
                keys.push(key.to_string());
            }
            Ok(keys)
        })
        .await
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let last = collapse(ops)?;
        if last.is_empty() {
            return Ok(());
        }
        self.write(move |table| {
            for (key, value) in &last {
                match value {
                    Some(value) => {
                        table.insert(key.as_str(), value.as_slice())?;
                    }
                    None => {
                        table.remove(key.as_str())?;
                    }
                }
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redb_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        super::super::conformance::run(|| {
            let path = path.clone();
            async move {
                // The previous handle was dropped: reopening reads the file again.
                Arc::new(RedbStore::open(&path).await.unwrap()) as Arc<dyn Store>
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_file_open_elsewhere_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let first = RedbStore::open(&path).await.unwrap();
        first.put("framework-id", b"fw-1".to_vec()).await.unwrap();
        let second = RedbStore::open(&path).await;
        assert!(
            matches!(second, Err(StoreError::Fatal { .. })),
            "{second:?}"
        );
        drop(first);
        let reopened = RedbStore::open(&path).await.unwrap();
        assert_eq!(
            reopened.get("framework-id").await.unwrap(),
            Some(b"fw-1".to_vec())
        );
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_fatal_error() {
        let dir = tempfile::tempdir().unwrap();
        let opened = RedbStore::open(dir.path().join("no/such/dir/state.redb")).await;
        assert!(matches!(opened, Err(StoreError::Fatal { .. })));
    }
}
