//! The RocksDB tier: a column family per feature group plus one for metadata.
//!
//! Keys are the [`EmbeddingId`] as 8 big-endian bytes (so ids sort numerically); values are
//! the fixed-length records of [`super::record`].

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Options, WriteBatch,
    WriteOptions, DB,
};

use super::{Store, WriteSet};
use crate::error::{Error, Result};
use crate::hash::EmbeddingId;

const META_CF: &str = "meta";
const GROUP_CF_PREFIX: &str = "g.";

/// Tuning of the RocksDB tier.
#[derive(Debug, Clone)]
pub struct RocksOptions {
    /// Size of RocksDB's own block cache (compressed-free SST blocks), in bytes.
    pub block_cache_bytes: usize,
    /// Background flush and compaction threads.
    pub background_jobs: i32,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions { block_cache_bytes: 64 << 20, background_jobs: 2 }
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
    path: PathBuf,
    group_cfs: Vec<String>,
    read_only: bool,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore").field("path", &self.path).finish_non_exhaustive()
    }
}

fn cf_options(cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    // NOTE: point lookups dominate; a bloom filter lets a miss for a never-trained id skip
    // the SST read entirely. Rows are random floats, so compression would cost CPU for
    // almost no space (see docs/design.md).
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_block_size(16 << 10);
    let mut cf = Options::default();
    cf.set_block_based_table_factory(&table);
    cf.set_compression_type(DBCompressionType::None);
    cf.set_level_compaction_dynamic_level_bytes(true);
    cf.set_write_buffer_size(64 << 20);
    cf
}

impl RocksStore {
    /// Opens (or creates) the store at `path`.
    pub(crate) fn open(path: &Path, options: &RocksOptions, mode: OpenMode<'_>) -> Result<Self> {
        let store_err = |op, source| Error::Store { op, path: path.to_path_buf(), source };
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut db_opts = Options::default();
        db_opts.set_max_background_jobs(options.background_jobs);
        db_opts.set_keep_log_file_num(4);

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
        let descriptors = names
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(n, cf_options(&cache)))
            .collect::<Vec<_>>();
        let db = if mode == OpenMode::ReadOnly {
            DB::open_cf_descriptors_read_only(&db_opts, path, descriptors, false)
        } else {
            DB::open_cf_descriptors(&db_opts, path, descriptors)
        }
        .map_err(|e| store_err("open", e))?;
        if db.cf_handle(META_CF).is_none() {
            return Err(Error::Corruption {
                what: path.display().to_string(),
                reason: "not a gwen store: no meta column family".into(),
            });
        }
        log::debug!("opened rocksdb at {} with {} column families", path.display(), names.len());
        Ok(RocksStore {
            db,
            path: path.to_path_buf(),
            group_cfs: Vec::new(),
            read_only: mode == OpenMode::ReadOnly,
        })
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

    /// The directory of the store.
    #[expect(dead_code, reason = "not used by the engine yet")]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// RocksDB's estimate of the number of rows in `group`.
    #[expect(dead_code, reason = "not used by the engine yet")]
    pub fn estimated_rows(&self, group: usize) -> Result<u64> {
        let cf = self.group_cf(group)?;
        let n = self
            .db
            .property_int_value_cf(&cf, "rocksdb.estimate-num-keys")
            .map_err(|source| self.error("property", source))?;
        Ok(n.unwrap_or(0))
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

    fn write(&self, set: &WriteSet, durable: bool) -> Result<()> {
        if self.read_only {
            return Err(Error::InvalidArgument(format!(
                "store {} is open read-only",
                self.path.display()
            )));
        }
        let mut batch = WriteBatch::default();
        let mut cfs = Vec::with_capacity(self.group_cfs.len());
        for g in 0..self.group_cfs.len() {
            cfs.push(self.group_cf(g)?);
        }
        for (group, id, bytes) in set.rows() {
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
