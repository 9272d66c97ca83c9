//! An in-RAM [`Store`] for tests: a sorted map per group, no durability.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Store, WriteSet};
use crate::error::{Error, Result};
use crate::hash::EmbeddingId;

type Tables = (Vec<BTreeMap<EmbeddingId, Vec<u8>>>, BTreeMap<String, Vec<u8>>);

/// A [`Store`] held in RAM.
#[derive(Debug)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store with `groups` groups.
    pub fn new(groups: usize) -> Self {
        MemoryStore { tables: Mutex::new((vec![BTreeMap::new(); groups], BTreeMap::new())) }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Tables>> {
        self.tables.lock().map_err(|_| Error::Poisoned("memory store lock".into()))
    }
}

impl Store for MemoryStore {
    fn multi_get(
        &self,
        group: usize,
        ids: &[EmbeddingId],
        found: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let tables = self.lock()?;
        let table = tables
            .0
            .get(group)
            .ok_or_else(|| Error::InvalidArgument(format!("group index {group} out of range")))?;
        for (i, id) in ids.iter().enumerate() {
            if let Some(bytes) = table.get(id) {
                found(i, bytes)?;
            }
        }
        Ok(())
    }

    fn for_each_key(&self, group: usize, f: &mut dyn FnMut(EmbeddingId) -> bool) -> Result<()> {
        let tables = self.lock()?;
        let table = tables
            .0
            .get(group)
            .ok_or_else(|| Error::InvalidArgument(format!("group index {group} out of range")))?;
        for &id in table.keys() {
            if !f(id) {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, set: &WriteSet, _durable: bool) -> Result<()> {
        let mut tables = self.lock()?;
        let groups = tables.0.len();
        if let Some((group, _, _)) = set.rows().find(|(g, _, _)| *g >= groups) {
            return Err(Error::InvalidArgument(format!("group index {group} out of range")));
        }
        for (group, id, bytes) in set.rows() {
            tables.0[group].insert(id, bytes.to_vec());
        }
        for (key, value) in set.meta() {
            tables.1.insert(key.to_string(), value.to_vec());
        }
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lock()?.1.get(key).cloned())
    }
}
