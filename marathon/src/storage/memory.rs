//! [`MemoryStore`]: a map behind a lock, for unit tests of the logic that uses a [`Store`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::{collapse, validate_key, validate_prefix, Op, Store, StoreError};

/// Values in memory. Clones share the same map, so a clone is a "reopened" store.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    values: Arc<RwLock<BTreeMap<String, Vec<u8>>>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-changed: every write
        // below is one map operation, or a batch applied without a fallible step.
        self.values.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.values.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_key(key)?;
        Ok(self.read().get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        validate_key(key)?;
        self.write().insert(key.to_string(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.write().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        validate_prefix(prefix)?;
        let values = self.read();
        if prefix.is_empty() {
            return Ok(values.keys().cloned().collect());
        }
        let under = format!("{prefix}/");
        Ok(values
            .range(under.clone()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&under))
            .cloned()
            .collect())
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let last = collapse(ops)?;
        let mut values = self.write();
        for (key, value) in last {
            match value {
                Some(value) => values.insert(key, value),
                None => values.remove(&key),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_conforms() {
        let store = MemoryStore::new();
        super::super::conformance::run(|| {
            let store = store.clone();
            async move { Arc::new(store) as Arc<dyn Store> }
        })
        .await;
    }
}
