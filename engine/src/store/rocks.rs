//! The RocksDB tier: a column family per feature group plus one for metadata.
//!
//! Keys are the [`EmbeddingId`] as 8 big-endian bytes (so ids sort numerically); values are
//! the fixed-length records of [`super::record`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rocksdb::compaction_filter::Decision;
use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamilyDescriptor, CompactOptions,
    DBCompressionType, IteratorMode, Options, ReadOptions, WriteBatch, WriteBufferManager,
    WriteOptions, DB,
};

use super::record::peek_header;
use super::{EvictionPolicy, Store, WriteSet};
use crate::error::{Error, Result};
use crate::hash::EmbeddingId;

const META_CF: &str = "meta";
const GROUP_CF_PREFIX: &str = "g.";

/// Tuning of the RocksDB tier.
#[derive(Debug, Clone)]
pub struct RocksOptions {
    /// RocksDB's share for SST blocks (uncompressed), in bytes. The block cache holds this
    /// plus `memtable_bytes`, which the memtables are charged against.
    pub block_cache_bytes: usize,
    /// Background flush and compaction threads.
    pub background_jobs: i32,
    /// Memtable budget shared by all column families, in bytes, charged to the block cache:
    /// memtables flush once half of it is mutable; those waiting for their flush take the rest,
    /// and beyond it room from the blocks.
    pub memtable_bytes: usize,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions { block_cache_bytes: 32 << 20, background_jobs: 2, memtable_bytes: 64 << 20 }
    }
}

/// How to open a [`RocksStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode<'a> {
    /// Create a new store with these group names; the directory must not hold one.
    Create(&'a [String]),
    /// Open an existing store for reading and writing.
    ReadWrite,
    /// Open an existing store without taking its write lock; nothing is written.
    ReadOnly,
}

/// A [`Store`] on RocksDB.
pub struct RocksStore {
    db: DB,
    /// The block cache shared by every column family (kept for its usage figures).
    cache: Cache,
    /// The memtables' manager, which charges them to `cache`.
    memtables: WriteBufferManager,
    path: PathBuf,
    group_cfs: Vec<String>,
    read_only: bool,
    dropped: HashMap<String, Arc<AtomicU64>>,
}

/// RocksDB's view of one group's column family, from its properties (no scan).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupProperties {
    /// Estimated number of rows.
    pub estimated_rows: u64,
    /// Estimated bytes of live data.
    pub live_data_bytes: u64,
    /// Bytes of all SST files.
    pub sst_bytes: u64,
    /// Bytes compaction estimates it still has to rewrite.
    pub pending_compaction_bytes: u64,
}

/// Memory RocksDB holds for the store right now, from its cache and properties.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreMemory {
    /// Bytes of blocks in the block cache (data, index and filter blocks), pinned ones
    /// included; the memtables' reservation in the same cache is left out (it is about
    /// `memtable_bytes`).
    pub block_cache_bytes: u64,
    /// Bytes of the block cache pinned by readers, by table files (L0 index and filters) and by
    /// the memtables' reservation.
    pub block_cache_pinned_bytes: u64,
    /// Bytes of all memtables, active and waiting to be flushed, over every column family.
    pub memtable_bytes: u64,
    /// RocksDB's estimate of table-reader memory outside the block cache.
    pub table_readers_bytes: u64,
}

/// One SST file of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SstFile {
    /// The column family (`g.<group>` or `meta`).
    pub column_family: String,
    /// File name.
    pub name: String,
    /// LSM level.
    pub level: i32,
    /// Size in bytes.
    pub bytes: u64,
    /// Entries in the file.
    pub entries: u64,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl RocksOptions {
    /// The database options of the store, with the block cache every column family shares and
    /// the memtables' manager that charges them to it (the table in `docs/design.md`); public
    /// so that benchmarks can open a store exactly as the engine does.
    pub fn database_options(&self) -> (Options, Cache, WriteBufferManager) {
        // NOTE: the memtables are charged to the block cache, which holds both budgets: SST
        // blocks give way while memtables wait for their flush, so RocksDB's memory stays
        // within the sum however far flushes fall behind (at 20 million rows they reached 88
        // MiB of a 64 MiB memtable budget before). Memtables flush once 32 MiB are mutable;
        // immutable ones wait on top, so the flush point is half the budget. A manager that
        // stalls writes at the limit hung here instead: no flush was scheduled to end the stall.
        let cache = Cache::new_lru_cache(self.block_cache_bytes + self.memtable_bytes);
        let memtables = WriteBufferManager::new_write_buffer_manager_with_cache(
            self.memtable_bytes / 2,
            false,
            cache.clone(),
        );
        let mut db_opts = Options::default();
        db_opts.set_max_background_jobs(self.background_jobs);
        db_opts.set_keep_log_file_num(4);
        db_opts.set_write_buffer_manager(&memtables);
        (db_opts, cache, memtables)
    }

    /// The options of every group's column family (the table in `docs/design.md`), with
    /// `cache` as block cache; public so that benchmarks can open a store exactly as the
    /// engine does.
    pub fn column_family_options(cache: &Cache) -> Options {
        let mut table = BlockBasedOptions::default();
        // NOTE: point lookups dominate; a bloom filter lets a miss for a never-trained id skip
        // the SST read entirely. Rows are random floats, so compression would cost CPU for
        // almost no space (see docs/design.md).
        table.set_bloom_filter(10.0, false);
        table.set_block_cache(cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        // NOTE: a row read brings its whole block in (copied and checksummed); 4 KiB blocks
        // read rows 10% faster than 16 KiB at 20 million rows, for a larger index.
        table.set_block_size(4 << 10);
        let mut cf = Options::default();
        cf.set_block_based_table_factory(&table);
        cf.set_compression_type(DBCompressionType::None);
        cf.set_level_compaction_dynamic_level_bytes(true);
        // NOTE: each memtable takes its arena blocks (an eighth of this) and its bloom filter
        // up front, 27 column families over: 16 MiB buffers held about 100 MiB before any row.
        // The shared budget flushes them far below this size anyway.
        cf.set_write_buffer_size(4 << 20);
        // NOTE: most lookups while a table grows are for ids no memtable holds; a bloom filter
        // over each memtable's keys answers those without a skiplist search (see
        // docs/design.md).
        cf.set_memtable_whole_key_filtering(true);
        cf.set_memtable_prefix_bloom_ratio(0.05);
        // NOTE: the engine's presence filter keeps ids never stored from reaching RocksDB, so
        // a lookup that gets here usually finds its row; the last level, nine tenths of the
        // data, then needs no bloom filter, and the block cache keeps the rest.
        cf.set_optimize_filters_for_hits(true);
        cf
    }
}

impl RocksStore {
    /// Opens (or creates) the store at `path`.
    pub(crate) fn open(path: &Path, options: &RocksOptions, mode: OpenMode<'_>) -> Result<Self> {
        RocksStore::open_with_eviction(path, options, mode, None, None)
    }

    /// Opens the store with a compaction filter that drops the rows `policy` selects in the
    /// groups named in `only` (every group when `None`), counting them per group (see
    /// [`RocksStore::dropped_rows`]).
    pub(crate) fn open_with_eviction(
        path: &Path,
        options: &RocksOptions,
        mode: OpenMode<'_>,
        policy: Option<EvictionPolicy>,
        only: Option<&[String]>,
    ) -> Result<Self> {
        let store_err = |op, source| Error::Store { op, path: path.to_path_buf(), source };
        let (mut db_opts, cache, memtables) = options.database_options();

        let names: Vec<String> = match mode {
            OpenMode::Create(groups) => {
                db_opts.create_if_missing(true);
                db_opts.create_missing_column_families(true);
                db_opts.set_error_if_exists(true);
                let mut names = vec![META_CF.to_string()];
                names.extend(groups.iter().map(|g| format!("{GROUP_CF_PREFIX}{g}")));
                names
            }
            OpenMode::ReadWrite | OpenMode::ReadOnly => {
                DB::list_cf(&db_opts, path).map_err(|e| store_err("list column families", e))?
            }
        };
        let mut dropped = HashMap::new();
        let mut descriptors = Vec::with_capacity(names.len());
        for name in &names {
            let mut cf = RocksOptions::column_family_options(&cache);
            // Only the groups asked for get the filter: background compactions of the others,
            // which RocksDB may run while the store is open, must not drop their rows.
            let filtered = name
                .strip_prefix(GROUP_CF_PREFIX)
                .is_some_and(|group| only.is_none_or(|only| only.iter().any(|g| g == group)));
            if let (Some(policy), true) = (policy, filtered) {
                let counter = Arc::new(AtomicU64::new(0));
                dropped.insert(name.clone(), Arc::clone(&counter));
                cf.set_compaction_filter("gwen-eviction", move |_level, _key, value: &[u8]| {
                    // A record that cannot be read is kept: eviction never destroys evidence.
                    match peek_header(value) {
                        Some(header) if policy.should_drop(header) => {
                            counter.fetch_add(1, Ordering::Relaxed);
                            Decision::Remove
                        }
                        _ => Decision::Keep,
                    }
                });
            }
            descriptors.push(ColumnFamilyDescriptor::new(name, cf));
        }
        let db = if mode == OpenMode::ReadOnly {
            DB::open_cf_descriptors_read_only(&db_opts, path, descriptors, false)
        } else {
            DB::open_cf_descriptors(&db_opts, path, descriptors)
        }
        .map_err(|e| {
            // RocksDB reports a held LOCK file only in its message text.
            let text = e.to_string();
            if text.contains("lock") && text.contains("Resource temporarily unavailable") {
                let db = path.parent().unwrap_or(path);
                Error::Locked { path: db.to_path_buf() }
            } else {
                store_err("open", e)
            }
        })?;
        if db.cf_handle(META_CF).is_none() {
            return Err(Error::Corruption {
                what: path.display().to_string(),
                reason: "not a gwen store: no meta column family".into(),
            });
        }
        log::debug!("opened rocksdb at {} with {} column families", path.display(), names.len());
        Ok(RocksStore {
            db,
            cache,
            memtables,
            path: path.to_path_buf(),
            group_cfs: Vec::new(),
            read_only: mode == OpenMode::ReadOnly,
            dropped,
        })
    }

    /// Rows of `group` dropped by the eviction filter since open.
    pub fn dropped_rows(&self, group: usize) -> u64 {
        let name = self.group_cfs.get(group);
        name.and_then(|n| self.dropped.get(n)).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Properties of one group's column family.
    ///
    /// # Errors
    ///
    /// Store errors; an unknown group index.
    pub fn group_properties(&self, group: usize) -> Result<GroupProperties> {
        let cf = self.group_cf(group)?;
        let get = |name: &str| -> Result<u64> {
            let value = self.db.property_int_value_cf(&cf, name);
            Ok(value.map_err(|source| self.error("property", source))?.unwrap_or(0))
        };
        Ok(GroupProperties {
            estimated_rows: get("rocksdb.estimate-num-keys")?,
            live_data_bytes: get("rocksdb.estimate-live-data-size")?,
            sst_bytes: get("rocksdb.total-sst-files-size")?,
            pending_compaction_bytes: get("rocksdb.estimate-pending-compaction-bytes")?,
        })
    }

    /// What RocksDB holds in memory for this store (see [`StoreMemory`]).
    ///
    /// # Errors
    ///
    /// Store errors reading a property.
    pub fn memory(&self) -> Result<StoreMemory> {
        let mut memory = StoreMemory {
            block_cache_bytes: self.cache.get_usage().saturating_sub(self.memtables.get_usage())
                as u64,
            block_cache_pinned_bytes: self.cache.get_pinned_usage() as u64,
            ..StoreMemory::default()
        };
        let mut names = vec![META_CF.to_string()];
        names.extend(self.group_cfs.iter().cloned());
        for name in &names {
            let Some(cf) = self.db.cf_handle(name) else { continue };
            let get = |property: &str| -> Result<u64> {
                let value = self.db.property_int_value_cf(&cf, property);
                Ok(value.map_err(|source| self.error("property", source))?.unwrap_or(0))
            };
            memory.memtable_bytes += get("rocksdb.cur-size-all-mem-tables")?;
            memory.table_readers_bytes += get("rocksdb.estimate-table-readers-mem")?;
        }
        Ok(memory)
    }

    /// Checks a checkpoint opened read-only against the file list written with it.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] when RocksDB's view lacks or changed files; store errors.
    pub(crate) fn verify_checkpoint(&self) -> Result<()> {
        let files: Vec<(String, u64)> =
            self.sst_files()?.into_iter().map(|f| (f.name, f.bytes)).collect();
        crate::layout::verify_checkpoint(&self.path, &files)
    }

    /// Every live SST file with its column family and level.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn sst_files(&self) -> Result<Vec<SstFile>> {
        let files = self.db.live_files().map_err(|source| self.error("live files", source))?;
        Ok(files
            .into_iter()
            .map(|f| SstFile {
                column_family: f.column_family_name,
                name: f.name,
                level: f.level,
                bytes: f.size as u64,
                entries: f.num_entries,
            })
            .collect())
    }

    /// Calls `f(id, record)` for every row of `group` in id order; stops when `f` returns
    /// `Ok(false)`.
    ///
    /// # Errors
    ///
    /// Store errors, a key that is not 8 bytes (corruption), or the first error of `f`.
    pub fn scan_group(
        &self,
        group: usize,
        f: &mut dyn FnMut(EmbeddingId, &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let cf = self.group_cf(group)?;
        for item in self.db.iterator_cf(&cf, IteratorMode::Start) {
            let (key, value) = item.map_err(|source| self.error("scan", source))?;
            let id = <[u8; 8]>::try_from(&*key).map(u64::from_be_bytes).map_err(|_| {
                Error::Corruption {
                    what: format!("{} group {}", self.path.display(), self.group_cfs[group]),
                    reason: format!("key of {} bytes, expected 8", key.len()),
                }
            })?;
            if !f(id, &value)? {
                break;
            }
        }
        Ok(())
    }

    /// Flushes and fully compacts one group, the bottommost level included, so an eviction
    /// filter sees every row.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn compact_group(&self, group: usize) -> Result<()> {
        let cf = self.group_cf(group)?;
        self.db.flush_cf(&cf).map_err(|source| self.error("flush", source))?;
        let mut opts = CompactOptions::default();
        opts.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        opts.set_exclusive_manual_compaction(true);
        self.db.compact_range_cf_opt(&cf, None::<&[u8]>, None::<&[u8]>, &opts);
        Ok(())
    }

    /// Binds group indexes to column families, in schema order.
    pub(crate) fn bind_groups(&mut self, groups: &[String]) -> Result<()> {
        let cfs: Vec<String> = groups.iter().map(|g| format!("{GROUP_CF_PREFIX}{g}")).collect();
        if let Some(missing) = cfs.iter().find(|cf| self.db.cf_handle(cf).is_none()) {
            return Err(Error::Corruption {
                what: self.path.display().to_string(),
                reason: format!("column family {missing} of the stored schema is missing"),
            });
        }
        self.group_cfs = cfs;
        Ok(())
    }

    fn error(&self, op: &'static str, source: rocksdb::Error) -> Error {
        Error::Store { op, path: self.path.clone(), source }
    }

    fn group_cf(&self, group: usize) -> Result<std::sync::Arc<rocksdb::BoundColumnFamily<'_>>> {
        let name = self
            .group_cfs
            .get(group)
            .ok_or_else(|| Error::InvalidArgument(format!("group index {group} out of range")))?;
        self.db.cf_handle(name).ok_or_else(|| Error::Corruption {
            what: self.path.display().to_string(),
            reason: format!("column family {name} vanished"),
        })
    }

    fn meta_cf(&self) -> Result<std::sync::Arc<rocksdb::BoundColumnFamily<'_>>> {
        self.db.cf_handle(META_CF).ok_or_else(|| Error::Corruption {
            what: self.path.display().to_string(),
            reason: "meta column family vanished".into(),
        })
    }
}

impl Store for RocksStore {
    fn multi_get(
        &self,
        group: usize,
        ids: &[EmbeddingId],
        found: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let cf = self.group_cf(group)?;
        let keys: Vec<[u8; 8]> = ids.iter().map(|id| id.to_be_bytes()).collect();
        let values = self.db.batched_multi_get_cf(&cf, keys.iter(), false);
        for (i, value) in values.into_iter().enumerate() {
            if let Some(bytes) = value.map_err(|source| self.error("multi_get", source))? {
                found(i, &bytes)?;
            }
        }
        Ok(())
    }

    fn for_each_key(&self, group: usize, f: &mut dyn FnMut(EmbeddingId) -> bool) -> Result<()> {
        let cf = self.group_cf(group)?;
        let mut opts = ReadOptions::default();
        // A one-off sequential pass: keep the block cache for the lookups of training.
        opts.fill_cache(false);
        opts.set_readahead_size(2 << 20);
        let mut it = self.db.raw_iterator_cf_opt(&cf, opts);
        it.seek_to_first();
        while let Some(key) = it.key() {
            let id = <[u8; 8]>::try_from(key).map(u64::from_be_bytes).map_err(|_| {
                Error::Corruption {
                    what: format!("{} group {}", self.path.display(), self.group_cfs[group]),
                    reason: format!("key of {} bytes, expected 8", key.len()),
                }
            })?;
            if !f(id) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(|source| self.error("scan keys", source))
    }

    fn write(&self, set: &WriteSet, durable: bool) -> Result<()> {
        if self.read_only {
            return Err(Error::InvalidArgument(format!(
                "store {} is open read-only",
                self.path.display()
            )));
        }
        // Room for every record plus its key and framing, so the batch never regrows.
        let framing =
            set.row_count() * 24 + set.meta().map(|(k, v)| k.len() + v.len() + 24).sum::<usize>();
        let mut batch = WriteBatch::with_capacity_bytes(set.row_bytes() + framing);
        let mut cfs = Vec::with_capacity(self.group_cfs.len());
        for g in 0..self.group_cfs.len() {
            cfs.push(self.group_cf(g)?);
        }
        // NOTE: a memtable insert starts its search where the previous one ended, so rows in
        // key order cost far less than the cache's eviction order. The sort is stable: of two
        // writes of one row, the later still lands last and wins.
        let mut rows: Vec<(usize, EmbeddingId, &[u8])> = set.rows().collect();
        rows.sort_by_key(|&(group, id, _)| (group, id));
        for (group, id, bytes) in rows {
            let cf = cfs.get(group).ok_or_else(|| {
                Error::InvalidArgument(format!("group index {group} out of range"))
            })?;
            batch.put_cf(cf, id.to_be_bytes(), bytes);
        }
        let meta = self.meta_cf()?;
        for (key, value) in set.meta() {
            batch.put_cf(&meta, key.as_bytes(), value);
        }
        let mut opts = WriteOptions::default();
        // NOTE: between checkpoints the WAL buys nothing: after a crash the engine restores
        // the last checkpoint directory, not the live store. Durable writes sync the WAL.
        opts.set_sync(durable);
        opts.disable_wal(!durable);
        self.db.write_opt(batch, &opts).map_err(|source| self.error("write", source))
    }

    fn flush(&self) -> Result<()> {
        for g in 0..self.group_cfs.len() {
            let cf = self.group_cf(g)?;
            self.db.flush_cf(&cf).map_err(|source| self.error("flush", source))?;
        }
        let meta = self.meta_cf()?;
        self.db.flush_cf(&meta).map_err(|source| self.error("flush", source))
    }

    fn memory(&self) -> Result<StoreMemory> {
        RocksStore::memory(self)
    }

    fn snapshot_to(&self, dir: &Path) -> Result<()> {
        // Hard links for SST files; memtables are flushed first, so writes made with the WAL
        // off are included.
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.db)
            .map_err(|source| self.error("checkpoint", source))?;
        checkpoint.create_checkpoint(dir).map_err(|source| self.error("checkpoint", source))
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let cf = self.meta_cf()?;
        self.db.get_cf(&cf, key.as_bytes()).map_err(|source| self.error("get", source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{encode_row, RowHeader};

    /// The memtables are charged to the block cache, so RocksDB's memory has one bound: the
    /// cache holds a reservation for every memtable byte, and reports its blocks apart.
    #[test]
    fn memtables_are_charged_to_the_block_cache() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store");
        let groups = vec!["a".to_string()];
        let options = RocksOptions {
            block_cache_bytes: 4 << 20,
            memtable_bytes: 16 << 20,
            ..RocksOptions::default()
        };
        let mut store =
            RocksStore::open(&path, &options, OpenMode::Create(&groups)).expect("create");
        store.bind_groups(&groups).expect("bind");
        let mut set = WriteSet::new();
        let header = RowHeader { seen_count: 1, last_step: 1 };
        for id in 0..20_000u64 {
            set.put_row(0, id, |buf| encode_row(buf, 2, header, &[0.25; 32]));
        }
        store.write(&set, false).expect("write");
        let reserved = store.memtables.get_usage();
        assert!(reserved >= set.row_bytes(), "memtables {reserved} hold the rows written");
        assert!(
            store.cache.get_usage() >= reserved,
            "cache usage {} includes the memtables' {reserved}",
            store.cache.get_usage()
        );
        let memory = store.memory().expect("memory");
        assert!(memory.memtable_bytes >= set.row_bytes() as u64);
        assert!(memory.block_cache_bytes < reserved as u64, "blocks are reported apart");
    }

    /// Background compactions may run on any column family while a compaction filter is
    /// installed: only the groups asked for may lose rows.
    #[test]
    fn eviction_filter_touches_only_the_groups_asked_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store");
        let groups = vec!["a".to_string(), "b".to_string()];
        let options = RocksOptions::default();
        {
            let mut store =
                RocksStore::open(&path, &options, OpenMode::Create(&groups)).expect("create");
            store.bind_groups(&groups).expect("bind");
            let mut set = WriteSet::new();
            let rare = RowHeader { seen_count: 1, last_step: 1 };
            for g in 0..2 {
                for id in 0..100u64 {
                    set.put_row(g, id, |buf| encode_row(buf, 2, rare, &[0.5; 4]));
                }
            }
            store.write(&set, true).expect("write");
        }
        let policy = EvictionPolicy { ttl_steps: None, min_count: Some(2), current_step: 1 };
        let only = ["a".to_string()];
        let mut store = RocksStore::open_with_eviction(
            &path,
            &options,
            OpenMode::ReadWrite,
            Some(policy),
            Some(&only),
        )
        .expect("open");
        store.bind_groups(&groups).expect("bind");
        store.compact_group(0).expect("compact a");
        store.compact_group(1).expect("compact b");
        assert_eq!((store.dropped_rows(0), store.dropped_rows(1)), (100, 0));
        let mut left = 0;
        store
            .scan_group(1, &mut |_, _| {
                left += 1;
                Ok(true)
            })
            .expect("scan");
        assert_eq!(left, 100, "group b keeps every row");
    }
}
