//! The persistent tier: where every trained row and the dense parameters live.
//!
//! [`Store`] is the narrow interface the engine needs (batched reads of rows, atomic writes of
//! rows plus metadata); [`RocksStore`] is the RocksDB implementation and [`MemoryStore`] an
//! in-RAM one for tests.

mod memory;
pub(crate) mod record;
mod rocks;

use std::ops::Range;

pub use memory::MemoryStore;
pub(crate) use rocks::OpenMode;
pub use rocks::{GroupProperties, RocksOptions, RocksStore, SstFile, StoreMemory};

use crate::error::Result;
use crate::hash::EmbeddingId;

/// Metadata key: the on-disk format version (u32 LE).
pub const META_FORMAT_VERSION: &str = "format_version";
/// Metadata key: the schema as TOML text.
pub const META_SCHEMA: &str = "schema";
/// Metadata key: the dense parameters and their optimizer state.
pub const META_DENSE: &str = "dense";
/// Metadata key: the train step of the last checkpoint (u64 LE).
pub const META_STEP: &str = "step";
/// Metadata key: `clean` at a checkpoint, `dirty` once rows newer than it were written.
pub const META_STATE: &str = "state";

/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Which rows a compaction drops (see `gwen compact`): rows not updated in the last
/// `ttl_steps` steps before `current_step`, and rows seen fewer than `min_count` times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictionPolicy {
    /// Drop rows whose last update is more than this many steps before `current_step`.
    pub ttl_steps: Option<u64>,
    /// Drop rows seen fewer than this many times in training batches.
    pub min_count: Option<u32>,
    /// The step the age of a row is measured from (the database's step).
    pub current_step: u64,
}

impl EvictionPolicy {
    /// True when the policy drops anything at all.
    pub fn is_active(&self) -> bool {
        self.ttl_steps.is_some() || self.min_count.is_some()
    }

    /// True when a row with this header is to be dropped.
    pub fn should_drop(&self, header: record::RowHeader) -> bool {
        let stale = self
            .ttl_steps
            .is_some_and(|ttl| self.current_step.saturating_sub(header.last_step) > ttl);
        let rare = self.min_count.is_some_and(|k| header.seen_count < k);
        stale || rare
    }
}

/// A set of writes applied atomically: encoded rows of any groups plus metadata entries.
#[derive(Debug, Default)]
pub struct WriteSet {
    rows: Vec<(usize, EmbeddingId, Range<usize>)>,
    bytes: Vec<u8>,
    meta: Vec<(&'static str, Vec<u8>)>,
}

impl WriteSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with room for `rows` rows of `bytes` record bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        WriteSet {
            rows: Vec::with_capacity(rows),
            bytes: Vec::with_capacity(bytes),
            meta: Vec::new(),
        }
    }

    /// Adds one row; `encode` appends its record to the buffer it is given.
    pub fn put_row(&mut self, group: usize, id: EmbeddingId, encode: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        encode(&mut self.bytes);
        self.rows.push((group, id, start..self.bytes.len()));
    }

    /// Adds one metadata entry.
    pub fn put_meta(&mut self, key: &'static str, value: Vec<u8>) {
        self.meta.push((key, value));
    }

    /// Number of rows in the set.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// Bytes of row records in the set.
    pub fn row_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The record bytes of row `i` (in the order rows were put).
    pub fn row(&self, i: usize) -> &[u8] {
        &self.bytes[self.rows[i].2.clone()]
    }

    /// Iterates over (group, id, record bytes).
    pub fn rows(&self) -> impl Iterator<Item = (usize, EmbeddingId, &[u8])> {
        self.rows.iter().map(|(g, id, r)| (*g, *id, &self.bytes[r.clone()]))
    }

    /// Iterates over the metadata entries.
    pub fn meta(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        self.meta.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    /// Empties the set, keeping its buffers.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.bytes.clear();
        self.meta.clear();
    }
}

/// The persistent tier, as the engine uses it.
pub trait Store: Send + Sync {
    /// Reads the records of `ids` in `group`; `found(i, bytes)` is called for each present id.
    /// Ids never written are simply skipped.
    ///
    /// # Errors
    ///
    /// Store read failures.
    fn multi_get(
        &self,
        group: usize,
        ids: &[EmbeddingId],
        found: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()>;

    /// Calls `f(id)` for the key of every row stored in `group`, in no set order, until `f`
    /// returns false. Rows written meanwhile may or may not be seen.
    ///
    /// # Errors
    ///
    /// Store read failures; a corrupt key.
    fn for_each_key(&self, group: usize, f: &mut dyn FnMut(EmbeddingId) -> bool) -> Result<()>;

    /// Applies `set` atomically; `durable` asks for it to survive a crash once this returns.
    ///
    /// # Errors
    ///
    /// Store write failures; the engine treats them as fatal (poisoned).
    fn write(&self, set: &WriteSet, durable: bool) -> Result<()>;

    /// Reads one metadata entry.
    ///
    /// # Errors
    ///
    /// Store read failures.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Makes every write accepted so far durable, including those made without `durable`.
    ///
    /// # Errors
    ///
    /// Store flush failures.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// What the store holds in memory outside the engine's cache (zero for the in-RAM store,
    /// whose rows are the engine's own).
    ///
    /// # Errors
    ///
    /// Store errors.
    fn memory(&self) -> Result<StoreMemory> {
        Ok(StoreMemory::default())
    }

    /// Writes a consistent point-in-time copy of the whole store to the new directory `dir`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidArgument`] for stores that cannot (the in-RAM one); I/O and store
    /// errors.
    fn snapshot_to(&self, dir: &std::path::Path) -> Result<()> {
        Err(crate::Error::InvalidArgument(format!(
            "this store cannot snapshot to {}",
            dir.display()
        )))
    }
}
