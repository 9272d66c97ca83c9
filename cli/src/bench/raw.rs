//! Configuration (d): the miss stream of (c) replayed as raw RocksDB reads, with no engine.
//!
//! The stream of (c) is replayed through a simulated LRU of the same number of rows, with the
//! engine's order of events per batch: look up every distinct id of every group (a hit becomes
//! most recently used), read the misses, insert them (evicting the least recently used rows
//! that are not in the batch), then evict down to the budget. A miss of a row seen before is
//! read by its key; a first sighting (a row the engine would have found absent and created) is
//! read by a stand-in key that is absent too. Only the `batched_multi_get_cf` calls and the
//! copy of the values are timed.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use gwen::RocksOptions;
use serde_json::json;

use super::stream::{KeyHasher, Stream, KEY_BITS};
use super::{dir_bytes, peak_rss_bytes, ChildSetup};

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;
type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

const NIL: u32 = u32::MAX;

/// One cached key in the simulated LRU.
#[derive(Debug, Clone, Copy)]
struct Node {
    key: u64,
    prev: u32,
    next: u32,
    /// The batch that last touched the row: rows of the batch in flight are pinned.
    batch: u64,
}

/// An LRU of keys with the engine's eviction rule (never a row of the batch in flight).
#[derive(Debug, Default)]
struct Lru {
    capacity: usize,
    map: KeyMap<u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    evictions: u64,
    /// Keys evicted since the caller last cleared this.
    evicted: Vec<u64>,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Lru { capacity, head: NIL, tail: NIL, ..Lru::default() }
    }

    /// Marks the key most recently used if it is cached.
    fn touch(&mut self, key: u64, batch: u64) -> bool {
        let Some(&i) = self.map.get(&key) else { return false };
        self.unlink(i);
        self.push_front(i);
        self.nodes[i as usize].batch = batch;
        true
    }

    fn insert(&mut self, key: u64, batch: u64) {
        if self.map.len() >= self.capacity {
            let mut cursor = self.tail;
            while cursor != NIL && self.nodes[cursor as usize].batch == batch {
                cursor = self.nodes[cursor as usize].prev;
            }
            if cursor != NIL {
                self.evict(cursor);
            }
        }
        let node = Node { key, prev: NIL, next: NIL, batch };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.push_front(i);
        self.map.insert(key, i);
    }

    /// Evicts down to the capacity once the batch is done (nothing is pinned then).
    fn end_batch(&mut self) {
        while self.map.len() > self.capacity && self.tail != NIL {
            self.evict(self.tail);
        }
    }

    fn evict(&mut self, i: u32) {
        self.unlink(i);
        let key = self.nodes[i as usize].key;
        self.map.remove(&key);
        self.evicted.push(key);
        self.free.push(i);
        self.evictions += 1;
    }

    fn unlink(&mut self, i: u32) {
        let Node { prev, next, .. } = self.nodes[i as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        self.nodes[i as usize].prev = NIL;
        self.nodes[i as usize].next = old;
        if old != NIL {
            self.nodes[old as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
}

/// Counts of the replay.
#[derive(Debug, Default)]
struct Replay {
    samples: u64,
    lookups: u64,
    misses: u64,
    /// Misses of rows seen before (the engine reads them from the store).
    expected_found: u64,
    rows_read: u64,
    bytes_read: u64,
    absent: u64,
    rows_written: u64,
    read: Duration,
    write: Duration,
}

/// The options the engine gives its store (`engine/src/store/rocks.rs`, table in
/// `docs/design.md`): database options, and those of every column family (the engine's own), so
/// the raw reads differ from the engine's only by the engine being absent.
fn engine_like_options() -> (rocksdb::Options, rocksdb::Options) {
    let (db, cache, _memtables) = RocksOptions::default().database_options();
    let family = RocksOptions::column_family_options(&cache);
    (db, family)
}

/// Opens the store of a trained database read-only.
fn open_trained(path: &Path) -> anyhow::Result<rocksdb::DB> {
    let (options, family) = engine_like_options();
    let names = rocksdb::DB::list_cf(&options, path)
        .with_context(|| format!("listing the column families of {}", path.display()))?;
    let families = names.iter().map(|n| rocksdb::ColumnFamilyDescriptor::new(n, family.clone()));
    rocksdb::DB::open_cf_descriptors_read_only(&options, path, families, false)
        .with_context(|| format!("opening {} read-only", path.display()))
}

/// Creates an empty store with the engine's column families.
fn create_empty(path: &Path, groups: &[String]) -> anyhow::Result<rocksdb::DB> {
    let (mut options, family) = engine_like_options();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_error_if_exists(true);
    let names = std::iter::once("meta".to_string()).chain(groups.iter().map(|g| format!("g.{g}")));
    let families = names.map(|n| rocksdb::ColumnFamilyDescriptor::new(n, family.clone()));
    rocksdb::DB::open_cf_descriptors(&options, path, families)
        .with_context(|| format!("creating {}", path.display()))
}

/// Runs configuration (d) on the store (c) left behind, or, with `write_back`, (dw) on a new
/// store that also receives the write-backs of (c) (rows evicted by the simulated LRU, written
/// after each batch with the WAL off, as the engine does between checkpoints).
pub fn raw(setup: &ChildSetup, write_back: bool) -> anyhow::Result<serde_json::Value> {
    let path = setup.db.join("store");
    let db = if write_back {
        let names: Vec<String> = setup.schema.groups.iter().map(|g| g.name.clone()).collect();
        create_empty(&path, &names)?
    } else {
        open_trained(&path)?
    };
    let mut families = Vec::with_capacity(setup.schema.groups.len());
    for group in &setup.schema.groups {
        let name = format!("g.{}", group.name);
        families.push(db.cf_handle(&name).with_context(|| format!("no column family {name}"))?);
    }
    let mut replayer = Replayer::new(setup);
    let mut write_options = rocksdb::WriteOptions::default();
    write_options.disable_wal(true);
    let record_bytes = setup.entry_bytes - gwen::ENTRY_OVERHEAD_BYTES;
    let value = vec![0x5au8; record_bytes];
    while replayer.replay.samples < setup.samples {
        replayer.next_batch(setup);
        replayer.read(&db, &families)?;
        replayer.insert_misses();
        if write_back && !replayer.lru.evicted.is_empty() {
            let started = Instant::now();
            let mut batch = rocksdb::WriteBatch::default();
            for &key in &replayer.lru.evicted {
                let (g, id) = ((key >> KEY_BITS) as usize, key & ((1 << KEY_BITS) - 1));
                batch.put_cf(&families[g], id.to_be_bytes(), &value);
            }
            db.write_opt(batch, &write_options).context("write-back")?;
            replayer.replay.write += started.elapsed();
            replayer.replay.rows_written += replayer.lru.evicted.len() as u64;
        }
        replayer.lru.evicted.clear();
    }
    drop(families);
    drop(db);
    record(setup, &replayer.replay, replayer.lru.evictions)
}

/// The simulated cache and the per-batch buffers of the replay.
struct Replayer {
    lru: Lru,
    seen: KeySet,
    stream: Stream,
    replay: Replay,
    batch_no: u64,
    distinct: KeySet,
    misses: Vec<Vec<u64>>,
    queries: Vec<Vec<[u8; 8]>>,
    scratch: Vec<u8>,
}

impl Replayer {
    fn new(setup: &ChildSetup) -> Self {
        let groups = setup.schema.groups.len();
        Replayer {
            lru: Lru::new(setup.cache_bytes / setup.entry_bytes),
            seen: KeySet::with_capacity_and_hasher(
                usize::try_from(setup.expected_rows).unwrap_or(0),
                BuildHasherDefault::default(),
            ),
            stream: Stream::new(setup.stream),
            replay: Replay::default(),
            batch_no: 0,
            distinct: KeySet::default(),
            misses: vec![Vec::new(); groups],
            queries: vec![Vec::new(); groups],
            scratch: Vec::new(),
        }
    }

    /// Looks up the distinct ids of the next batch, group by group, collecting the misses and
    /// the keys to read for them.
    fn next_batch(&mut self, setup: &ChildSetup) {
        let len = (setup.samples - self.replay.samples).min(setup.batch as u64) as usize;
        let batch = self.stream.next_batch(len);
        self.batch_no += 1;
        for (g, group) in batch.groups.iter().enumerate() {
            self.distinct.clear();
            self.misses[g].clear();
            self.queries[g].clear();
            for &id in &group.ids {
                let key = (g as u64) << KEY_BITS | id;
                if !self.distinct.insert(key) {
                    continue;
                }
                self.replay.lookups += 1;
                if self.lru.touch(key, self.batch_no) {
                    continue;
                }
                self.misses[g].push(id);
                let query = if self.seen.contains(&key) {
                    self.replay.expected_found += 1;
                    id
                } else {
                    self.stream.absent_id(g, id)
                };
                self.queries[g].push(query.to_be_bytes());
            }
        }
        self.replay.samples += len as u64;
    }

    /// Reads the misses of the batch, one `batched_multi_get_cf` per group (timed).
    fn read(
        &mut self,
        db: &rocksdb::DB,
        families: &[std::sync::Arc<rocksdb::BoundColumnFamily<'_>>],
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        for (g, keys) in self.queries.iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            for value in db.batched_multi_get_cf(&families[g], keys.iter(), false) {
                match value.context("multi_get")? {
                    Some(bytes) => {
                        self.scratch.clear();
                        self.scratch.extend_from_slice(&bytes);
                        self.replay.rows_read += 1;
                        self.replay.bytes_read += bytes.len() as u64;
                    }
                    None => self.replay.absent += 1,
                }
            }
        }
        self.replay.read += started.elapsed();
        Ok(())
    }

    /// Inserts the misses (evicting), then evicts down to the budget as the step ends.
    fn insert_misses(&mut self) {
        for (g, ids) in self.misses.iter().enumerate() {
            for &id in ids {
                let key = (g as u64) << KEY_BITS | id;
                self.seen.insert(key);
                self.lru.insert(key, self.batch_no);
                self.replay.misses += 1;
            }
        }
        self.lru.end_batch();
    }
}

fn record(setup: &ChildSetup, r: &Replay, evictions: u64) -> anyhow::Result<serde_json::Value> {
    let read_s = r.read.as_secs_f64();
    let per_s = |n: u64| if read_s > 0.0 { n as f64 / read_s } else { 0.0 };
    // Lookups of rows that existed; first sightings are neither hits nor reads.
    let existing = r.lookups - (r.misses - r.expected_found);
    let hit_rate =
        if existing == 0 { 1.0 } else { 1.0 - r.expected_found as f64 / existing as f64 };
    Ok(json!({
        "config": setup.config.letter(),
        "description": setup.config.description(),
        "samples": r.samples,
        "batch": setup.batch,
        "cache_bytes": setup.cache_bytes,
        "cache_rows": setup.cache_bytes / setup.entry_bytes,
        "lookups": r.lookups,
        "cache_misses": r.misses,
        "evictions": evictions,
        "expected_rows_read": r.expected_found,
        "rows_read": r.rows_read,
        "bytes_read": r.bytes_read,
        "absent_lookups": r.absent,
        "read_s": read_s,
        "rows_written": r.rows_written,
        "write_s": r.write.as_secs_f64(),
        "miss_rows_per_s": per_s(r.rows_read),
        "miss_lookups_per_s": per_s(r.misses),
        "hit_rate": hit_rate,
        "store_bytes": dir_bytes(&setup.db.join("store"))?,
        "peak_rss_bytes": peak_rss_bytes()?,
    }))
}
