//! [`Engine`]: a model (schema, rows, MLP) opened on a store, trained and queried by batch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use crate::admission::{Admission, DEFAULT_SKETCH_WIDTH};
use crate::batch::Batch;
use crate::cache::{IdBuildHasher, LruCache, Slot};
use crate::error::{Error, Result};
use crate::hash::EmbeddingId;
use crate::keylog::{KeyLog, RowKey};
use crate::layout;
use crate::presence::{PresenceFilter, DEFAULT_SHARE_DIVISOR, MAX_DEFAULT_FILTER_BYTES};
use crate::schema::Schema;
use crate::stats::{bump, Stats, StatsSnapshot};
use crate::store::record::{decode_row, init_row, RowHeader};
use crate::store::{
    self, MemoryStore, OpenMode, RocksOptions, RocksStore, Store, StoreMemory, WriteSet,
};
use crate::train::mlp::{self, Adam, Mlp};
use crate::train::{self, Gathered};

/// Rows per write batch when a checkpoint writes the dirty rows.
const CHECKPOINT_BATCH_ROWS: usize = 65_536;

/// Numbers the engines of the process, so a [`Prefetched`] is never used by another one.
static ENGINE_IDS: AtomicU64 = AtomicU64::new(0);

/// Evicted rows are written once this share of the row budget (or [`MAX_WRITE_BACK_BYTES`])
/// waits: large sorted batches make the store's inserts cheaper than one write per step.
const WRITE_BACK_SHARE: usize = 32;

/// The most bytes of evicted rows one write-back writes in the usual case.
const MAX_WRITE_BACK_BYTES: usize = 4 << 20;

/// Slot marker of an id with no cached row: kept out by feature admission in the batch in
/// flight, or (in a prefetch) left for the trainer to look up.
const NO_SLOT: Slot = Slot::MAX;

/// [`NO_SLOT`] in a batch in flight: a row feature admission kept out.
const NOT_ADMITTED: Slot = NO_SLOT;

/// Options of an opened engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Budget of the RAM tier (rows plus their bookkeeping), in bytes.
    pub cache_bytes: usize,
    /// Worker threads for one batch; 0 means one per core.
    pub threads: usize,
    /// Open without writing anything: training and checkpoints are refused.
    pub read_only: bool,
    /// RocksDB tuning.
    pub rocks: RocksOptions,
    /// Checkpoints kept under `<db>/checkpoints/` after each new one (0 keeps all). Two by
    /// default, so a reader that just picked the newest can still open it while the trainer
    /// takes the next.
    pub keep_checkpoints: usize,
    /// Feature admission: an id gets a stored row only once it was seen this many times;
    /// `None` takes the schema's `min_count`.
    pub min_count: Option<u32>,
    /// Bytes of `cache_bytes` given to the presence filter, which answers lookups of ids
    /// never stored without a store read (about 10 bits per stored row keep its false
    /// positives near 1%); `None` gives it one eighth, at most 256 MiB. 0 turns it off (right
    /// when the cache holds the whole table).
    pub presence_filter_bytes: Option<usize>,
}

impl EngineOptions {
    /// Bytes of the RAM tier the presence filter takes (0 when it is off or too small to
    /// help).
    pub fn presence_filter_share(&self) -> usize {
        let wanted = self
            .presence_filter_bytes
            .unwrap_or((self.cache_bytes / DEFAULT_SHARE_DIVISOR).min(MAX_DEFAULT_FILTER_BYTES))
            .min(self.cache_bytes);
        PresenceFilter::usable_bytes(wanted)
    }

    /// Bytes of the RAM tier left for rows: `cache_bytes` less the presence filter's share.
    pub fn row_cache_bytes(&self) -> usize {
        self.cache_bytes - self.presence_filter_share()
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            cache_bytes: 1 << 30,
            threads: 0,
            read_only: false,
            rocks: RocksOptions::default(),
            keep_checkpoints: 2,
            min_count: None,
            presence_filter_bytes: None,
        }
    }
}

/// Rows of one future batch pinned in the RAM tier by [`Engine::prefetch`]. Pass it to
/// [`Engine::train_prefetched`] (or [`Engine::release`]); dropping it instead leaves the rows
/// pinned for the life of the engine.
#[derive(Debug)]
#[must_use = "prefetched rows stay pinned until trained or released"]
pub struct Prefetched {
    /// Per group, the pinned slot of each distinct id of `rows`, in its order, or `NO_SLOT`
    /// for the ids the trainer looks up itself.
    slots: Vec<Vec<Slot>>,
    /// Per group, the sorted ids the store did not have when the prefetch read it.
    absent: Vec<Vec<EmbeddingId>>,
    /// The step counter before the prefetch looked anything up.
    step: u64,
    /// The batch's distinct ids as the prefetch deduplicated them; the trainer takes them
    /// instead of deduplicating again.
    rows: Vec<Gathered>,
    /// The engine that made it (see [`ENGINE_IDS`]): slots mean nothing to another engine.
    engine: u64,
}

impl Prefetched {
    /// Rows loaded and pinned.
    pub fn rows(&self) -> usize {
        self.slots.iter().flatten().filter(|&&slot| slot != NO_SLOT).count()
    }
}

/// What one training step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// The step number after this batch.
    pub step: u64,
    /// Samples in the batch.
    pub samples: usize,
    /// Sum of the per-sample log losses, computed before the update.
    pub loss_sum: f64,
}

/// A GwEN model open on its store: train it, predict with it, checkpoint it.
///
/// ```
/// # fn main() -> gwen::Result<()> {
/// let schema = gwen::Schema::from_toml_str("[[groups]]\nname='ad'\nfields=['C1']\ndim=4")?;
/// let dir = tempfile::tempdir().expect("temp dir");
/// let engine = gwen::Engine::create(dir.path(), &schema, gwen::EngineOptions::default())?;
/// let batch = gwen::Batch {
///     len: 1,
///     labels: vec![1.0],
///     dense: vec![0.0; 13],
///     groups: vec![gwen::GroupIds::new(vec![0, 1], vec![42])],
/// };
/// engine.train_step(&batch)?;
/// assert_eq!(engine.checkpoint()?, 1);
/// let p = engine.predict(&batch)?;
/// assert!(p[0] > 0.0 && p[0] < 1.0);
/// # Ok(())
/// # }
/// ```
pub struct Engine {
    dir: Option<PathBuf>,
    store: Arc<dyn Store>,
    /// Which ids the store may hold (see `presence.rs`).
    presence: Arc<PresenceFilter>,
    /// The thread adding the keys stored before this open to `presence`.
    presence_scan: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held by whoever writes rows of the write-back buffer; taken before `cache`.
    write_lock: Mutex<()>,
    /// This engine's number among those of the process (see [`ENGINE_IDS`]).
    id: u64,
    /// Bytes of evicted rows that make a write-back worth its store write.
    write_back_bytes: usize,
    schema: Schema,
    dense: RwLock<Dense>,
    cache: Mutex<CacheState>,
    trainer: Mutex<Trainer>,
    stats: Stats,
    step: AtomicU64,
    checkpoint_step: AtomicU64,
    pool: rayon::ThreadPool,
    read_only: bool,
    keep_checkpoints: usize,
    state_dirty: AtomicBool,
    poisoned: Mutex<Option<String>>,
}

/// The MLP and its optimizer: read by every prediction, written once per step.
struct Dense {
    mlp: Mlp,
    adam: Adam,
}

/// The RAM tier plus a counter of writes of dirty rows to the store (see `gather`).
struct CacheState {
    lru: LruCache,
    generation: u64,
    /// Which rows the recent generations wrote, so a read that overlapped them can keep the
    /// rows nobody wrote meanwhile.
    written: KeyLog,
}

impl CacheState {
    /// Ends the write-back of the rows `keys` (taken from the buffer): with `written` fine,
    /// they are in the store as a new generation the log records.
    fn landed(&mut self, keys: Vec<RowKey>, written: Result<()>) -> Result<()> {
        self.lru.finish_write();
        written?;
        self.generation += 1;
        self.written.push_epoch(self.generation, keys);
        self.written.trim(usize::MAX, WRITTEN_LOG_ROWS);
        Ok(())
    }

    /// Starts a new generation after a write the log does not record row by row (checkpoint
    /// batches, imports): every earlier read counts as possibly stale.
    fn forget_written(&mut self) {
        self.generation += 1;
        self.written.reset(self.generation);
    }
}

/// Rows the written-rows log keeps beyond its newest generation (16 bytes each).
const WRITTEN_LOG_ROWS: usize = 1 << 16;

/// State only the (single) trainer touches.
struct Trainer {
    admission: Option<Admission>,
    /// The rows the last [`CREATED_STEPS`] steps that created any created, so a prefetch's
    /// "absent" can be trusted for ids no step created since it looked.
    created: KeyLog,
}

/// Steps of row creations remembered for prefetch hints (deeper lookaheads just read again).
const CREATED_STEPS: usize = 64;

// The handle is shared by serving threads and a trainer (C ABI, services).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
};

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir)
            .field("step", &self.step())
            .field("groups", &self.schema.groups.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Creates a new database in `dir` (which must not hold one) for `schema`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `dir` already holds a database or is a non-empty
    /// directory; I/O and store errors otherwise.
    pub fn create(dir: &Path, schema: &Schema, options: EngineOptions) -> Result<Engine> {
        if options.read_only {
            return Err(Error::InvalidArgument("cannot create a database read-only".into()));
        }
        let not_empty = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
        if not_empty {
            return Err(Error::InvalidArgument(format!(
                "{} exists and is not empty; refusing to create a database there",
                dir.display()
            )));
        }
        let existed = dir.exists();
        let engine = Engine::create_inside(dir, schema, options).inspect_err(|_| {
            // Leave nothing half-made behind: a later open would take it for a database.
            let _ = layout::remove_if_exists(&layout::store_dir(dir));
            let _ = layout::remove_if_exists(&layout::checkpoints_dir(dir));
            if !existed {
                let _ = std::fs::remove_dir(dir);
            }
        })?;
        log::info!(
            "created database {} with {} groups, mlp input width {}",
            dir.display(),
            schema.groups.len(),
            schema.mlp_input_width()
        );
        Ok(engine)
    }

    fn create_inside(dir: &Path, schema: &Schema, options: EngineOptions) -> Result<Engine> {
        let store_dir = layout::store_dir(dir);
        std::fs::create_dir_all(&store_dir).map_err(|e| Error::io("create", &store_dir, e))?;
        let names: Vec<String> = schema.groups.iter().map(|g| g.name.clone()).collect();
        let mut store = RocksStore::open(&store_dir, &options.rocks, OpenMode::Create(&names))?;
        store.bind_groups(&names)?;
        let engine = Engine::assemble(Arc::new(store), Some(dir), schema.clone(), options, true)?;
        engine.write_initial_meta()?;
        engine.checkpoint()?;
        Ok(engine)
    }

    /// Opens the database in `dir` with the schema stored there. A read-only open reads the
    /// newest checkpoint, so it sees a consistent model even while a trainer writes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `dir` holds no database; [`Error::Corruption`] for a
    /// bad or foreign store; store errors such as a lock held by another process.
    pub fn open(dir: &Path, options: EngineOptions) -> Result<Engine> {
        Engine::open_checked(dir, None, options)
    }

    /// Opens the database in `dir`, or creates it when `dir` is missing or empty, and checks
    /// that `schema` agrees with the stored one.
    ///
    /// # Errors
    ///
    /// [`Error::SchemaMismatch`] naming the first difference; the errors of [`Engine::open`]
    /// and [`Engine::create`].
    pub fn open_or_create(dir: &Path, schema: &Schema, options: EngineOptions) -> Result<Engine> {
        let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
        if empty {
            return Engine::create(dir, schema, options);
        }
        Engine::open_checked(dir, Some(schema), options)
    }

    /// An engine over an in-RAM store, for tests and experiments; nothing is persisted.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad thread count.
    pub fn in_memory(schema: &Schema, options: EngineOptions) -> Result<Engine> {
        let store = MemoryStore::new(schema.groups.len());
        let engine = Engine::assemble(Arc::new(store), None, schema.clone(), options, true)?;
        engine.write_initial_meta()?;
        Ok(engine)
    }

    fn open_checked(dir: &Path, given: Option<&Schema>, options: EngineOptions) -> Result<Engine> {
        if !dir.is_dir() {
            return Err(Error::InvalidArgument(format!("no database at {}", dir.display())));
        }
        let store_dir = layout::store_dir(dir);
        let checkpoints = layout::list_checkpoints(dir)?;
        if !store_dir.is_dir() && checkpoints.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a gwen database (no store/ inside)",
                dir.display()
            )));
        }
        let store = if options.read_only {
            let (_, newest) = checkpoints.last().ok_or_else(|| Error::Corruption {
                what: dir.display().to_string(),
                reason: "no checkpoint to read".into(),
            })?;
            let store = RocksStore::open(newest, &options.rocks, OpenMode::ReadOnly)?;
            store.verify_checkpoint()?;
            store
        } else {
            Engine::open_live(dir, &checkpoints, &options)?
        };
        let stored = read_schema(&store, dir)?;
        if let Some(given) = given {
            if let Some(difference) = given.difference_from(&stored) {
                return Err(Error::SchemaMismatch { path: dir.to_path_buf(), difference });
            }
        }
        // Learning rates may change between runs; structure may not (checked above).
        let schema = given.cloned().unwrap_or(stored);
        let mut store = store;
        let names: Vec<String> = schema.groups.iter().map(|g| g.name.clone()).collect();
        store.bind_groups(&names)?;
        let engine = Engine::assemble(Arc::new(store), Some(dir), schema, options, false)?;
        engine.load_dense()?;
        log::info!("opened database {} at step {}", dir.display(), engine.step());
        Ok(engine)
    }

    /// Opens the live store for writing, first restoring the newest checkpoint when the store
    /// was left with writes newer than it (a crash, or a close without checkpoint).
    fn open_live(
        dir: &Path,
        checkpoints: &[(u64, PathBuf)],
        options: &EngineOptions,
    ) -> Result<RocksStore> {
        let live = layout::store_dir(dir);
        // Look read-only first: a directory that is not a gwen database is never written to.
        let probe = if live.is_dir() {
            live.clone()
        } else {
            checkpoints.last().map(|(_, p)| p.clone()).ok_or_else(|| Error::Corruption {
                what: dir.display().to_string(),
                reason: "no store/ and no checkpoint".into(),
            })?
        };
        let (dirty, live_step) = {
            let view = open_probe(&probe, &options.rocks, probe == live)?;
            read_schema(&view, dir)?;
            let state = view.meta(store::META_STATE)?;
            (state.as_deref() == Some(b"dirty".as_slice()), read_step(&view)?)
        };
        if live.is_dir() && !dirty {
            let store = RocksStore::open(&live, &options.rocks, OpenMode::ReadWrite)?;
            // IMPORTANT: only with the write lock held: a running trainer's staging
            // directories are its own.
            layout::remove_staging(dir)?;
            if checkpoints.last().map(|(step, _)| *step) != Some(live_step) {
                // The store was marked clean but its snapshot did not complete: finish it.
                log::warn!("{}: completing the checkpoint of step {live_step}", dir.display());
                layout::take_snapshot(dir, &store, live_step, options.keep_checkpoints)?;
            }
            return Ok(store);
        }
        if live.is_dir() {
            // Taking the write lock first: a trainer still running keeps its store.
            drop(RocksStore::open(&live, &options.rocks, OpenMode::ReadWrite)?);
        }
        layout::remove_staging(dir)?;
        let (step, newest) = checkpoints.last().ok_or_else(|| Error::Corruption {
            what: dir.display().to_string(),
            reason: "the store holds writes after its last checkpoint and no checkpoint exists"
                .into(),
        })?;
        log::warn!(
            "{}: the store is not at a checkpoint (crash or stop without one); restoring step \
             {step}",
            dir.display()
        );
        layout::restore_store(dir, newest)?;
        RocksStore::open(&live, &options.rocks, OpenMode::ReadWrite)
    }

    /// Builds the engine around an open store; `fresh` says the store holds no rows yet (so the
    /// presence filter needs no scan).
    fn assemble(
        store: Arc<dyn Store>,
        dir: Option<&Path>,
        schema: Schema,
        options: EngineOptions,
        fresh: bool,
    ) -> Result<Engine> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads)
            .thread_name(|i| format!("gwen-worker-{i}"))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("thread pool: {e}")))?;
        let floats: Vec<usize> = (0..schema.groups.len())
            .map(|g| schema.groups[g].dim + schema.group_optimizer(g).kind.state_len())
            .collect();
        let tags: Vec<u8> =
            (0..schema.groups.len()).map(|g| schema.group_optimizer(g).kind.tag()).collect();
        let min_count = options.min_count.unwrap_or(schema.min_count);
        let admission = (min_count > 1).then(|| Admission::new(min_count, DEFAULT_SKETCH_WIDTH));
        if let Some(a) = &admission {
            log::info!(
                "feature admission at {min_count} sightings ({} bytes of sketch)",
                a.bytes()
            );
        }
        let mlp = Mlp::new(schema.mlp_input_width(), &schema.mlp.hidden, schema.seed);
        let adam = Adam::new(&mlp, schema.mlp.lr);
        let presence = Arc::new(PresenceFilter::new(options.presence_filter_share(), fresh));
        let presence_scan = if presence.is_enabled() && !presence.is_ready() {
            spawn_presence_scan(&store, &presence, schema.groups.len())
        } else {
            None
        };
        Ok(Engine {
            dir: dir.map(Path::to_path_buf),
            store,
            presence,
            presence_scan: Mutex::new(presence_scan),
            write_lock: Mutex::new(()),
            id: ENGINE_IDS.fetch_add(1, Ordering::Relaxed),
            write_back_bytes: (options.row_cache_bytes() / WRITE_BACK_SHARE)
                .min(MAX_WRITE_BACK_BYTES),
            cache: Mutex::new(CacheState {
                written: KeyLog::default(),
                lru: LruCache::new(options.row_cache_bytes(), &floats, &tags),
                generation: 0,
            }),
            schema,
            dense: RwLock::new(Dense { mlp, adam }),
            trainer: Mutex::new(Trainer { admission, created: Default::default() }),
            stats: Stats::default(),
            step: AtomicU64::new(0),
            checkpoint_step: AtomicU64::new(0),
            pool,
            read_only: options.read_only,
            keep_checkpoints: options.keep_checkpoints,
            state_dirty: AtomicBool::new(false),
            poisoned: Mutex::new(None),
        })
    }

    /// The schema of the model.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The number of training steps applied so far.
    pub fn step(&self) -> u64 {
        self.step.load(Ordering::Acquire)
    }

    /// The step of the last completed checkpoint (what a reopen after a crash comes back to).
    pub fn checkpoint_step(&self) -> u64 {
        self.checkpoint_step.load(Ordering::Acquire)
    }

    /// The database directory, if the engine is backed by one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// What the store (RocksDB) holds in memory now, outside the RAM tier: block cache,
    /// memtables, table readers.
    ///
    /// # Errors
    ///
    /// Store errors reading its properties.
    pub fn store_memory(&self) -> Result<StoreMemory> {
        self.store.memory()
    }

    /// Bytes the RAM tier's structures hold on the heap, the presence filter included (see the
    /// cache's budget rules in `docs/design.md`, "Memory"); at most the budget plus one partly
    /// filled chunk per group.
    pub fn cache_heap_bytes(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.lru.heap_bytes()) + self.presence.bytes()
    }

    /// Whether the presence filter answers lookups: false while it is off, and after an open
    /// until its scan of the stored keys finishes (lookups then all go to the store).
    pub fn presence_filter_ready(&self) -> bool {
        self.presence.is_ready()
    }

    /// Rows in the RAM tier and the bytes charged for them.
    pub fn cache_usage(&self) -> (usize, usize) {
        match self.cache.lock() {
            Ok(c) => (c.lru.len(), c.lru.used_bytes()),
            Err(_) => (0, 0),
        }
    }

    /// Trains on one batch: forward, backward, sparse update of the rows, Adam on the MLP.
    /// Steps (and checkpoints) run one at a time; predictions may run alongside.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed batch (nothing is changed), a batch whose loss
    /// or gradients are not finite (no parameter is updated), a read-only engine, or a
    /// poisoned one; store errors (the engine is then poisoned).
    pub fn train_step(&self, batch: &Batch) -> Result<StepReport> {
        self.train_step_with(batch, None, None)
    }

    /// Trains on a batch whose rows [`Engine::prefetch`] loaded, then releases them. The
    /// result is the same as [`Engine::train_step`]; only the waiting differs.
    ///
    /// # Errors
    ///
    /// As [`Engine::train_step`]; the prefetched rows are released in every case.
    pub fn train_prefetched(
        &self,
        batch: &Batch,
        mut prefetched: Prefetched,
    ) -> Result<StepReport> {
        if prefetched.engine != self.id {
            return Err(Error::InvalidArgument(
                "these prefetched rows were pinned by another engine".into(),
            ));
        }
        // Another batch than the one prefetched is trained correctly, only without the help.
        let deduped =
            same_ids(&prefetched.rows, batch).then(|| std::mem::take(&mut prefetched.rows));
        let result = self.train_step_with(batch, Some(&prefetched), deduped);
        self.release(prefetched)?;
        result
    }

    /// Loads the rows of a future batch into the RAM tier (reading the store without blocking
    /// training or predictions) and pins them there until the batch is trained with
    /// [`Engine::train_prefetched`] or given back with [`Engine::release`]. Meant to run on
    /// an I/O thread a few batches ahead of the trainer.
    ///
    /// # Errors
    ///
    /// Read-only or poisoned engine, a malformed batch, store errors (nothing stays pinned).
    pub fn prefetch(&self, batch: &Batch) -> Result<Prefetched> {
        self.check_writable()?;
        batch.validate(&self.schema, false)?;
        let started = Instant::now();
        let mut rows = self.dedup(batch);
        let mut prefetched = Prefetched {
            slots: rows.iter().map(|r| vec![NO_SLOT; r.ids.len()]).collect(),
            absent: vec![Vec::new(); rows.len()],
            step: self.step(),
            rows: Vec::new(),
            engine: self.id,
        };
        let mut misses: Vec<Vec<u32>> = vec![Vec::new(); rows.len()];
        let generation = {
            let mut cache = lock(&self.cache, "cache")?;
            for (g, r) in rows.iter_mut().enumerate() {
                for i in 0..r.ids.len() {
                    let looked = match self.lookup(&mut cache.lru, g, r, i, true) {
                        Ok(looked) => looked,
                        Err(e) => {
                            unpin_all(&mut cache.lru, &prefetched.slots);
                            return Err(e);
                        }
                    };
                    match looked {
                        Some(slot) => {
                            cache.lru.pin(slot);
                            prefetched.slots[g][i] = slot;
                        }
                        None => misses[g].push(i as u32),
                    }
                }
            }
            let miss_count: usize = misses.iter().map(Vec::len).sum();
            let lookups: usize = rows.iter().map(|r| r.ids.len()).sum();
            bump(&self.stats.cache_hits, (lookups - miss_count) as u64);
            bump(&self.stats.cache_misses, miss_count as u64);
            cache.generation
        };
        let found = match self.read_misses(&mut rows, &misses) {
            Ok(found) => found,
            Err(e) => {
                self.release(prefetched)?;
                return Err(e);
            }
        };
        let mut cache = lock(&self.cache, "cache")?;
        // IMPORTANT: if a dirty row reached the store while we read, what we read of it may be
        // older (the trainer may have read, updated and evicted the same row meanwhile); the
        // trainer then reads those rows itself. The log says which rows were written; when it
        // does not reach back to our read, every row read counts as possibly stale.
        let unchanged = cache.generation == generation;
        let known = unchanged || cache.written.covers(generation);
        for (g, miss) in misses.iter().enumerate() {
            let f = rows[g].floats;
            for (k, &i) in miss.iter().enumerate() {
                let (i, id) = (i as usize, rows[g].ids[i as usize]);
                // A row this loop's own inserts evicted dirty is newer in the pending set than
                // in what we read.
                let fresh = known
                    && (unchanged || !cache.written.touched_after((g as u32, id), generation))
                    && !cache.lru.is_pending(g, id);
                let slot = match (cache.lru.get(g, id), found[g][k]) {
                    (Some(slot), _) => slot,
                    (None, Some(header)) if fresh => {
                        let values = &rows[g].values[i * f..(i + 1) * f];
                        cache.lru.insert(g, id, header, values, false, &self.stats)
                    }
                    // Never trained: the trainer creates it without reading again.
                    (None, None) => {
                        prefetched.absent[g].push(id);
                        continue;
                    }
                    // Read while the store changed: the trainer reads it again.
                    (None, Some(_)) => continue,
                };
                cache.lru.pin(slot);
                prefetched.slots[g][i] = slot;
            }
            prefetched.absent[g].sort_unstable();
        }
        prefetched.rows = rows;
        // Write-back of rows these inserts evicted happens here, off the training thread.
        if let Err(e) = self.write_back(cache, self.write_back_bytes) {
            if let Ok(mut cache) = self.cache.lock() {
                unpin_all(&mut cache.lru, &prefetched.slots);
            }
            return Err(e);
        }
        bump(&self.stats.prefetches, 1);
        bump(&self.stats.prefetch_ns, started.elapsed().as_nanos() as u64);
        Ok(prefetched)
    }

    /// Gives back the pins of a prefetch whose batch will not be trained (and evicts down to
    /// the budget what the pins held over it).
    ///
    /// # Errors
    ///
    /// A lock poisoned by a panic.
    pub fn release(&self, prefetched: Prefetched) -> Result<()> {
        if prefetched.engine != self.id {
            return Err(Error::InvalidArgument(
                "these prefetched rows were pinned by another engine".into(),
            ));
        }
        let mut cache = lock(&self.cache, "cache")?;
        unpin_all(&mut cache.lru, &prefetched.slots);
        // Rows pinned over budget (a window wider than the budget) go as soon as they are free,
        // into the write-back buffer; the prefetcher's next write takes them.
        cache.lru.evict_to_budget(&self.stats);
        Ok(())
    }

    /// The most bytes of rows that training with `batch` samples per batch and `lookahead`
    /// prefetched batches can pin at once: every id slot of every batch in flight, at the
    /// widest row. A cache budget below this may not hold the window.
    pub fn max_pinned_bytes(&self, batch: usize, lookahead: usize) -> usize {
        max_pinned_bytes(&self.schema, batch, lookahead)
    }

    /// One step; `hint` is the batch's prefetch, `deduped` its distinct ids when they belong to
    /// this batch.
    fn train_step_with(
        &self,
        batch: &Batch,
        hint: Option<&Prefetched>,
        deduped: Option<Vec<Gathered>>,
    ) -> Result<StepReport> {
        let mut trainer = lock(&self.trainer, "trainer")?;
        self.check_writable()?;
        batch.validate(&self.schema, true)?;
        if batch.len == 0 {
            return Ok(StepReport { step: self.step(), samples: 0, loss_sum: 0.0 });
        }
        let (mut rows, slots) = self.gather(batch, Some(&mut trainer), hint, deduped)?;
        let schema = &self.schema;
        let grads = {
            let dense = read(&self.dense)?;
            self.pool.install(|| train::forward_backward(schema, &dense.mlp, &rows, batch))
        };
        if let Some(what) = grads.non_finite(schema) {
            // Applying it would make the model useless for good; refuse the batch instead.
            let mut cache = lock(&self.cache, "cache")?;
            unpin_all(&mut cache.lru, &slots);
            return Err(Error::InvalidArgument(format!(
                "the batch gives a non-finite (or overflowing) {what} at step {}; nothing was \
                 updated (dense inputs or pooling weights too large for the model: transform \
                 or scale them)",
                self.step() + 1
            )));
        }
        self.pool.install(|| {
            use rayon::prelude::*;
            rows.par_iter_mut().zip(&grads.rows).enumerate().for_each(|(g, (r, grad))| {
                train::apply_sparse(schema.group_optimizer(g), schema.groups[g].dim, r, grad)
            });
        });
        {
            let mut dense = write(&self.dense)?;
            let Dense { mlp, adam } = &mut *dense;
            adam.step(mlp, &grads.mlp);
        }
        let step = self.step.fetch_add(1, Ordering::AcqRel) + 1;
        self.scatter(&rows, &slots, step, hint.is_none())?;
        bump(&self.stats.train_steps, 1);
        bump(&self.stats.samples_trained, batch.len as u64);
        log::trace!("step {step} trained {} samples", batch.len);
        Ok(StepReport { step, samples: batch.len, loss_sum: grads.loss_sum })
    }

    /// Click probabilities of every sample of `batch`. Ids never trained read as zero
    /// vectors; nothing is created or written. Safe to call from many threads at once, also
    /// while another thread trains (a prediction then sees each row and the MLP either before
    /// or after a concurrent step).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a malformed batch; store read errors.
    pub fn predict(&self, batch: &Batch) -> Result<Vec<f32>> {
        Ok(self.predict_logits(batch)?.into_iter().map(mlp::sigmoid).collect())
    }

    /// Logits of every sample of `batch` (see [`Engine::predict`]).
    ///
    /// # Errors
    ///
    /// As [`Engine::predict`].
    pub fn predict_logits(&self, batch: &Batch) -> Result<Vec<f32>> {
        self.check_poisoned()?;
        batch.validate(&self.schema, false)?;
        let (rows, _) = self.gather(batch, None, None, None)?;
        let dense = read(&self.dense)?;
        let schema = &self.schema;
        Ok(self.pool.install(|| train::predict(schema, &dense.mlp, &rows, batch)))
    }

    /// The weights of one trained row of group index `group`, or `None` for an id never
    /// trained. Reads the RAM tier first, then the store; creates nothing.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a group index out of range; store and corruption errors.
    pub fn row(&self, group: usize, id: EmbeddingId) -> Result<Option<Vec<f32>>> {
        self.check_poisoned()?;
        let Some(spec) = self.schema.groups.get(group) else {
            return Err(Error::InvalidArgument(format!(
                "group index {group} out of range (the schema has {})",
                self.schema.groups.len()
            )));
        };
        {
            let mut cache = lock(&self.cache, "cache")?;
            if let Some(slot) = cache.lru.get(group, id) {
                return Ok(Some(cache.lru.values(slot)[..spec.dim].to_vec()));
            }
            let kind = self.schema.group_optimizer(group).kind;
            if let Some((bytes, _)) = cache.lru.waiting(group, id) {
                let mut values = vec![0f32; spec.dim + kind.state_len()];
                decode_row(bytes, kind.tag(), &mut values, &spec.name, id)?;
                values.truncate(spec.dim);
                return Ok(Some(values));
            }
        }
        let kind = self.schema.group_optimizer(group).kind;
        let mut values = vec![0f32; spec.dim + kind.state_len()];
        let mut found = false;
        self.store.multi_get(group, &[id], &mut |_, bytes| {
            decode_row(bytes, kind.tag(), &mut values, &spec.name, id)?;
            found = true;
            Ok(())
        })?;
        values.truncate(spec.dim);
        Ok(found.then_some(values))
    }

    /// Makes the current state durable and consistent: every dirty row, the MLP and its Adam
    /// state and the step are written atomically, then a point-in-time copy is taken under
    /// `checkpoints/`. Returns the step. Waits for a training step in progress.
    ///
    /// # Errors
    ///
    /// Read-only or poisoned engine; I/O and store errors (the engine is then poisoned).
    pub fn checkpoint(&self) -> Result<u64> {
        let _trainer = lock(&self.trainer, "trainer")?;
        self.check_writable()?;
        let started = Instant::now();
        let step = self.step();
        let rows = {
            // IMPORTANT: the rows drained here are marked clean; they must reach the store
            // before the cache lock is released, or a prediction could read them stale.
            let (_writing, mut cache) = self.write_back_all()?;
            // Rows go in bounded write batches (RAM stays bounded however many rows are
            // dirty); the store is marked dirty first, so a crash part-way restores the
            // previous checkpoint.
            let (mut cursor, mut rows, mut set) = (Some(0), 0, WriteSet::new());
            while let Some(from) = cursor {
                set.clear();
                cursor = cache.lru.drain_dirty_from(from, CHECKPOINT_BATCH_ROWS, &mut set);
                if set.row_count() > 0 {
                    self.mark_dirty()?;
                    self.write(&set, false)?;
                    rows += set.row_count();
                }
            }
            set.clear();
            set.put_meta(store::META_DENSE, self.encode_dense()?);
            set.put_meta(store::META_STEP, step.to_le_bytes().to_vec());
            self.write(&set, true)?;
            cache.forget_written();
            rows
        };
        // IMPORTANT: rows written back with the WAL off since the last checkpoint must be on
        // disk before the store may say `clean`; otherwise a crash in between would leave a
        // store that claims to be complete and is not.
        if self.state_dirty.load(Ordering::Acquire) {
            self.store.flush().inspect_err(|e| self.poison(e))?;
        }
        let mut clean = WriteSet::new();
        clean.put_meta(store::META_STATE, b"clean".to_vec());
        self.write(&clean, true)?;
        self.state_dirty.store(false, Ordering::Release);
        self.checkpoint_step.store(step, Ordering::Release);
        if let Some(dir) = &self.dir {
            layout::take_snapshot(dir, self.store.as_ref(), step, self.keep_checkpoints)
                .inspect_err(|e| self.poison(e))?;
        }
        log::info!(
            "checkpoint at step {step}: {rows} rows written in {:.3}s",
            started.elapsed().as_secs_f64()
        );
        Ok(step)
    }

    fn check_poisoned(&self) -> Result<()> {
        match &*lock(&self.poisoned, "poison flag")? {
            Some(reason) => Err(Error::Poisoned(reason.clone())),
            None => Ok(()),
        }
    }

    fn check_writable(&self) -> Result<()> {
        self.check_poisoned()?;
        if self.read_only {
            return Err(Error::InvalidArgument("engine is open read-only".into()));
        }
        Ok(())
    }

    fn poison(&self, e: &Error) {
        log::error!("store write failed, engine poisoned: {e}");
        if let Ok(mut p) = self.poisoned.lock() {
            p.get_or_insert_with(|| e.to_string());
        }
    }

    /// Copies the rows of `batch` out of the cache, reading misses from the store without
    /// holding the cache lock. With a trainer (training mode) every row is pinned and
    /// never-seen ids get their initial value (or are kept out by admission); without one
    /// (prediction) never-seen ids read as zero and nothing is pinned.
    fn gather(
        &self,
        batch: &Batch,
        mut trainer: Option<&mut Trainer>,
        hint: Option<&Prefetched>,
        deduped: Option<Vec<Gathered>>,
    ) -> Result<(Vec<Gathered>, Vec<Vec<Slot>>)> {
        let train = trainer.is_some();
        // The prefetch's slots line up with its deduplicated ids only.
        let (mut rows, pinned) = match (deduped, hint) {
            (Some(rows), Some(hint)) => (rows, Some(&hint.slots)),
            _ => (self.dedup(batch), None),
        };
        let mut slots: Vec<Vec<Slot>> =
            rows.iter().map(|r| vec![NOT_ADMITTED; r.ids.len()]).collect();
        let mut misses: Vec<Vec<u32>> = vec![Vec::new(); rows.len()];
        let generation = {
            let mut cache = lock(&self.cache, "cache")?;
            for (g, r) in rows.iter_mut().enumerate() {
                for i in 0..r.ids.len() {
                    let f = r.floats;
                    match pinned.map_or(NO_SLOT, |p| p[g][i]) {
                        NO_SLOT => {}
                        slot => {
                            // Pinned by the prefetch: the row is there, no lookup needed.
                            r.values[i * f..(i + 1) * f].copy_from_slice(cache.lru.values(slot));
                            cache.lru.pin(slot);
                            slots[g][i] = slot;
                            continue;
                        }
                    }
                    if pinned.is_some() {
                        // The prefetch's scratch values of a row it left to us.
                        r.values[i * f..(i + 1) * f].fill(0.0);
                    }
                    let looked = match self.lookup(&mut cache.lru, g, r, i, train) {
                        Ok(looked) => looked,
                        Err(e) => {
                            unpin_all(&mut cache.lru, &slots);
                            return Err(e);
                        }
                    };
                    match looked {
                        Some(slot) => {
                            let f = r.floats;
                            r.values[i * f..(i + 1) * f].copy_from_slice(cache.lru.values(slot));
                            if train {
                                cache.lru.pin(slot);
                                slots[g][i] = slot;
                            }
                        }
                        // A waiting row a prediction read: its values are in place already.
                        None if !train && cache.lru.is_pending(g, r.ids[i]) => {}
                        None => misses[g].push(i as u32),
                    }
                }
            }
            let miss_count: usize = misses.iter().map(Vec::len).sum();
            let lookups: usize = rows.iter().map(|r| r.ids.len()).sum();
            if hint.is_none() {
                // With a prefetch, its lookups were the ones that counted.
                bump(&self.stats.cache_hits, (lookups - miss_count) as u64);
                bump(&self.stats.cache_misses, miss_count as u64);
            }
            cache.generation
        };
        let to_read = match (hint, trainer.as_deref_mut()) {
            (Some(hint), Some(trainer)) => skip_known_absent(hint, trainer, &rows, &misses),
            _ => misses.clone(),
        };
        let read_started = Instant::now();
        let found = match self.read_misses(&mut rows, &to_read) {
            Ok(found) => found,
            Err(e) => {
                if let Ok(mut cache) = self.cache.lock() {
                    unpin_all(&mut cache.lru, &slots);
                }
                return Err(e);
            }
        };

        if train {
            bump(&self.stats.train_wait_ns, read_started.elapsed().as_nanos() as u64);
        }
        let found = align_found(&misses, &to_read, found);
        let mut cache = lock(&self.cache, "cache")?;
        // A prediction may insert what it read only if no dirty row reached the store since
        // it looked: otherwise its copy could be older than the store's.
        let fresh = cache.generation == generation;
        for (g, miss) in misses.iter().enumerate() {
            let (dim, f) = (self.schema.groups[g].dim, rows[g].floats);
            for (k, &i) in miss.iter().enumerate() {
                let i = i as usize;
                let id = rows[g].ids[i];
                if let Some(slot) = cache.lru.get(g, id) {
                    // Inserted by a prediction meanwhile: the cached copy is the current one.
                    rows[g].values[i * f..(i + 1) * f].copy_from_slice(cache.lru.values(slot));
                    if train {
                        cache.lru.pin(slot);
                        slots[g][i] = slot;
                    }
                    continue;
                }
                let header = match (found[g][k], trainer.as_deref_mut()) {
                    (Some(header), _) => header,
                    (None, Some(trainer)) => {
                        let seen = rows[g].occurrences[i];
                        if let Some(admission) = &mut trainer.admission {
                            if !admission.sight(g, id, seen) {
                                // Reads as the zero vector; no row, no update.
                                bump(&self.stats.not_admitted, u64::from(seen));
                                continue;
                            }
                        }
                        let values = &mut rows[g].values[i * f..(i + 1) * f];
                        init_row(self.schema.seed, g, id, self.schema.init_range, values, dim);
                        bump(&self.stats.rows_created, 1);
                        trainer.created.push(self.step() + 1, (g as u32, id));
                        RowHeader::default()
                    }
                    (None, None) => continue,
                };
                if !train && (!fresh || cache.lru.is_pending(g, id)) {
                    continue;
                }
                let values = &rows[g].values[i * f..(i + 1) * f];
                let slot = cache.lru.insert(g, id, header, values, false, &self.stats);
                if train {
                    cache.lru.pin(slot);
                    slots[g][i] = slot;
                }
            }
        }
        if let Some(trainer) = trainer {
            trainer.created.trim(CREATED_STEPS, usize::MAX);
        }
        // The inserts above may have evicted dirty rows. They wait in the write-back buffer,
        // where lookups find them; with a prefetcher running, it writes them, off this thread.
        let threshold = match hint {
            Some(_) => self.write_back_bytes.saturating_mul(4),
            None => self.write_back_bytes,
        };
        let started = Instant::now();
        let written = self.write_back(cache, threshold);
        if train {
            bump(&self.stats.train_wait_ns, started.elapsed().as_nanos() as u64);
        }
        match written {
            Ok(cache) => drop(cache),
            Err(e) => {
                if let Ok(mut cache) = self.cache.lock() {
                    unpin_all(&mut cache.lru, &slots);
                }
                return Err(e);
            }
        }
        Ok((rows, slots))
    }

    /// Looks up distinct id `i` of `r` in the RAM tier. A row evicted dirty and not yet in the
    /// store is decoded from the write-back buffer into `r.values`; with `take`, it also goes
    /// back into the cache (dirty unless a store write holds it already) and its slot is
    /// returned. `None` is a miss, or a waiting row read without `take`.
    fn lookup(
        &self,
        lru: &mut LruCache,
        g: usize,
        r: &mut Gathered,
        i: usize,
        take: bool,
    ) -> Result<Option<Slot>> {
        let id = r.ids[i];
        if let Some(slot) = lru.get(g, id) {
            return Ok(Some(slot));
        }
        let Some((bytes, in_flight)) = lru.waiting(g, id) else { return Ok(None) };
        let f = r.floats;
        let values = &mut r.values[i * f..(i + 1) * f];
        let tag = self.schema.group_optimizer(g).kind.tag();
        let header = decode_row(bytes, tag, values, &self.schema.groups[g].name, id)?;
        if !take {
            return Ok(None);
        }
        if !in_flight {
            lru.reclaim(g, id);
        }
        Ok(Some(lru.insert(g, id, header, values, !in_flight, &self.stats)))
    }

    /// Distinct ids per group, in first-seen order, with the occurrence map.
    fn dedup(&self, batch: &Batch) -> Vec<Gathered> {
        let mut index: HashMap<EmbeddingId, u32, IdBuildHasher> = HashMap::default();
        batch
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                index.clear();
                let floats =
                    self.schema.groups[g].dim + self.schema.group_optimizer(g).kind.state_len();
                let mut r = Gathered { floats, ..Gathered::default() };
                r.local.reserve(group.ids.len());
                for &id in &group.ids {
                    let next = r.ids.len() as u32;
                    let at = *index.entry(id).or_insert(next);
                    if at == next {
                        r.ids.push(id);
                        r.occurrences.push(0);
                    }
                    r.occurrences[at as usize] += 1;
                    r.local.push(at);
                }
                r.values = vec![0.0; r.ids.len() * floats];
                r
            })
            .collect()
    }

    /// Reads the missed rows of every group; returns, per miss, the header when found.
    fn read_misses(
        &self,
        rows: &mut [Gathered],
        misses: &[Vec<u32>],
    ) -> Result<Vec<Vec<Option<RowHeader>>>> {
        if misses.iter().all(Vec::is_empty) {
            return Ok(vec![Vec::new(); rows.len()]);
        }
        let started = Instant::now();
        let mut found = Vec::with_capacity(rows.len());
        let mut skipped = 0;
        for (g, miss) in misses.iter().enumerate() {
            let r = &mut rows[g];
            // The misses the store may hold, by their index in `miss`; the others were never
            // stored, and the filter says so without a store lookup.
            let (mut ids, mut at) =
                (Vec::with_capacity(miss.len()), Vec::with_capacity(miss.len()));
            for (k, &i) in miss.iter().enumerate() {
                let id = r.ids[i as usize];
                if self.presence.may_contain(g, id) {
                    ids.push(id);
                    at.push(k);
                }
            }
            skipped += (miss.len() - ids.len()) as u64;
            let mut headers = vec![None; miss.len()];
            let (f, tag) = (r.floats, self.schema.group_optimizer(g).kind.tag());
            let name = &self.schema.groups[g].name;
            let (mut n, mut bytes_read) = (0u64, 0u64);
            if !ids.is_empty() {
                self.store.multi_get(g, &ids, &mut |j, bytes| {
                    let k = at[j];
                    let i = miss[k] as usize;
                    let values = &mut r.values[i * f..(i + 1) * f];
                    headers[k] = Some(decode_row(bytes, tag, values, name, ids[j])?);
                    n += 1;
                    bytes_read += bytes.len() as u64;
                    Ok(())
                })?;
            }
            bump(&self.stats.rows_read, n);
            bump(&self.stats.bytes_read, bytes_read);
            found.push(headers);
        }
        bump(&self.stats.presence_skips, skipped);
        let elapsed = started.elapsed().as_nanos() as u64;
        bump(&self.stats.store_wait_ns, elapsed);
        bump(&self.stats.read_ns, elapsed);
        Ok(found)
    }

    /// Writes the updated rows back into the cache, releases their pins and, unless a
    /// prefetcher does it, evicts to budget and writes the evicted dirty rows.
    fn scatter(
        &self,
        rows: &[Gathered],
        slots: &[Vec<Slot>],
        step: u64,
        evict: bool,
    ) -> Result<()> {
        let mut cache = lock(&self.cache, "cache")?;
        for (g, r) in rows.iter().enumerate() {
            for (i, &slot) in slots[g].iter().enumerate() {
                if slot == NOT_ADMITTED {
                    continue;
                }
                let mut header = cache.lru.header(slot);
                header.seen_count = header.seen_count.saturating_add(r.occurrences[i]);
                header.last_step = step;
                cache.lru.update(slot, &r.values[i * r.floats..(i + 1) * r.floats], header);
                cache.lru.unpin(slot);
            }
        }
        if !evict {
            // A prefetcher is running: its next inserts evict and write back, off this thread.
            return Ok(());
        }
        cache.lru.evict_to_budget(&self.stats);
        let started = Instant::now();
        let written = self.write_back(cache, self.write_back_bytes);
        bump(&self.stats.train_wait_ns, started.elapsed().as_nanos() as u64);
        written.map(drop)
    }

    /// Writes the rows evicted dirty when at least `threshold` bytes of them wait and no
    /// other write-back is in flight. The cache lock is released while the store writes (the
    /// rows stay visible to lookups meanwhile) and taken again; the guard is returned.
    fn write_back<'a>(
        &'a self,
        cache: MutexGuard<'a, CacheState>,
        threshold: usize,
    ) -> Result<MutexGuard<'a, CacheState>> {
        if !cache.lru.has_pending() || cache.lru.pending_bytes() < threshold {
            return Ok(cache);
        }
        // NOTE: `write_lock` is taken before `cache` everywhere else; here `cache` is held,
        // so only a try is safe. A write in flight will be followed by ours next time, unless
        // the buffer has grown past its cap: then we wait (in lock order), so it stays bounded.
        let full = cache.lru.pending_bytes() >= self.write_back_bytes.saturating_mul(4);
        let (_writing, mut cache) = match self.write_lock.try_lock() {
            Ok(guard) => (guard, cache),
            Err(std::sync::TryLockError::WouldBlock) if full => {
                drop(cache);
                let writing = lock(&self.write_lock, "write-back")?;
                let cache = lock(&self.cache, "cache")?;
                if !cache.lru.has_pending() {
                    return Ok(cache);
                }
                (writing, cache)
            }
            Err(std::sync::TryLockError::WouldBlock) => return Ok(cache),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                let e = Error::Poisoned("the write-back lock was poisoned by a panic".into());
                self.poison(&e);
                return Err(e);
            }
        };
        let set = cache.lru.take_pending();
        drop(cache);
        let written = self.write_evicted(&set);
        let keys = row_keys(&set);
        let mut cache = lock(&self.cache, "cache")?;
        cache.landed(keys, written)?;
        Ok(cache)
    }

    /// Writes every row evicted dirty, after any write-back in flight; returns with both the
    /// write-back lock and the cache lock held, so nothing is written behind the caller.
    fn write_back_all(&self) -> Result<(MutexGuard<'_, ()>, MutexGuard<'_, CacheState>)> {
        let writing = lock(&self.write_lock, "write-back")?;
        let mut cache = lock(&self.cache, "cache")?;
        if cache.lru.has_pending() {
            let set = cache.lru.take_pending();
            let written = self.write_evicted(&set);
            cache.landed(row_keys(&set), written)?;
        }
        Ok((writing, cache))
    }

    /// Writes rows taken from the write-back buffer, marking the store as holding
    /// post-checkpoint writes first (durably), so a crash from here on restores the checkpoint.
    fn write_evicted(&self, set: &WriteSet) -> Result<()> {
        let started = Instant::now();
        self.mark_dirty()?;
        self.write(set, false)?;
        log::debug!(
            "wrote back {} evicted rows ({} bytes) in {} us",
            set.row_count(),
            set.row_bytes(),
            started.elapsed().as_micros()
        );
        Ok(())
    }

    /// Durably records that the store is about to hold writes newer than its checkpoint.
    fn mark_dirty(&self) -> Result<()> {
        if !self.state_dirty.load(Ordering::Acquire) {
            let mut marker = WriteSet::new();
            marker.put_meta(store::META_STATE, b"dirty".to_vec());
            self.write(&marker, true)?;
            self.state_dirty.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn write(&self, set: &WriteSet, durable: bool) -> Result<()> {
        let started = Instant::now();
        // IMPORTANT: keys enter the filter before their rows reach the store, so that a "no"
        // from the filter never hides a stored row.
        for (g, id, _) in set.rows() {
            self.presence.insert(g, id);
        }
        if let Err(e) = self.store.write(set, durable) {
            self.poison(&e);
            return Err(e);
        }
        bump(&self.stats.rows_written, set.row_count() as u64);
        bump(&self.stats.bytes_written, set.row_bytes() as u64);
        bump(&self.stats.store_wait_ns, started.elapsed().as_nanos() as u64);
        Ok(())
    }

    fn write_initial_meta(&self) -> Result<()> {
        let mut set = WriteSet::new();
        set.put_meta(store::META_FORMAT_VERSION, store::FORMAT_VERSION.to_le_bytes().to_vec());
        set.put_meta(store::META_SCHEMA, self.schema.to_toml_string().into_bytes());
        set.put_meta(store::META_DENSE, self.encode_dense()?);
        set.put_meta(store::META_STEP, 0u64.to_le_bytes().to_vec());
        set.put_meta(store::META_STATE, b"clean".to_vec());
        self.write(&set, true)
    }

    /// `[u64 n][n f32 params][u64 adam t][u64 m][m f32 adam state]`, little-endian.
    fn encode_dense(&self) -> Result<Vec<u8>> {
        let dense = read(&self.dense)?;
        let params = dense.mlp.params();
        let (t, state) = dense.adam.state();
        let mut out = Vec::with_capacity(24 + 4 * (params.len() + state.len()));
        out.extend_from_slice(&(params.len() as u64).to_le_bytes());
        params.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&(state.len() as u64).to_le_bytes());
        state.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        Ok(out)
    }

    fn load_dense(&self) -> Result<()> {
        let corrupt =
            |reason: String| Error::Corruption { what: "dense parameters".into(), reason };
        let bytes = self.store.meta(store::META_DENSE)?.ok_or_else(|| corrupt("missing".into()))?;
        self.set_dense_record(&bytes)?;
        let step = read_step(self.store.as_ref())?;
        self.step.store(step, Ordering::Release);
        self.checkpoint_step.store(step, Ordering::Release);
        Ok(())
    }

    /// Replaces the dense parameters and Adam state with a record as stored under `META_DENSE`.
    pub(crate) fn set_dense_record(&self, bytes: &[u8]) -> Result<()> {
        let corrupt =
            |reason: String| Error::Corruption { what: "dense parameters".into(), reason };
        let mut reader = LeReader { bytes, at: 0 };
        let n = reader.u64().ok_or_else(|| corrupt("truncated".into()))? as usize;
        let params = reader.f32s(n).ok_or_else(|| corrupt("truncated params".into()))?;
        let t = reader.u64().ok_or_else(|| corrupt("truncated".into()))?;
        let m = reader.u64().ok_or_else(|| corrupt("truncated".into()))? as usize;
        let state = reader.f32s(m).ok_or_else(|| corrupt("truncated adam state".into()))?;
        let mut dense = write(&self.dense)?;
        let mut mlp = dense.mlp.clone();
        mlp.set_params(&params).map_err(corrupt)?;
        let mut adam = Adam::new(&mlp, self.schema.mlp.lr);
        adam.set_state(t, &state).map_err(corrupt)?;
        *dense = Dense { mlp, adam };
        Ok(())
    }

    /// Sets the step counter (import of a model trained elsewhere).
    pub(crate) fn set_step(&self, step: u64) {
        self.step.store(step, Ordering::Release);
    }

    /// Writes encoded rows straight to the store (import), replacing any cached copies.
    pub(crate) fn write_rows(&self, set: &WriteSet) -> Result<()> {
        let _trainer = lock(&self.trainer, "trainer")?;
        self.check_writable()?;
        let (_writing, mut cache) = self.write_back_all()?;
        for (g, id, _) in set.rows() {
            cache.lru.remove(g, id);
        }
        self.mark_dirty()?;
        self.write(set, false)?;
        cache.forget_written();
        Ok(())
    }
}

/// Opens a store read-only to look at it before taking its write lock. A trainer writing there
/// meanwhile may delete a log file between RocksDB listing it and reading it (more often the
/// more often memtables are flushed). For the live store (never for a checkpoint, which must
/// not be written) such a failure is explained by asking for the write lock: held, the store
/// is in use; free, no writer can interfere and the look is tried again.
fn open_probe(path: &Path, rocks: &RocksOptions, live: bool) -> Result<RocksStore> {
    let mut attempt = 0;
    loop {
        let failed = match RocksStore::open(path, rocks, OpenMode::ReadOnly) {
            Err(e @ Error::Store { .. }) => e,
            other => return other,
        };
        if live {
            if let Err(locked @ Error::Locked { .. }) =
                RocksStore::open(path, rocks, OpenMode::ReadWrite)
            {
                return Err(locked);
            }
        }
        attempt += 1;
        if attempt > 5 {
            return Err(failed);
        }
        std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.presence.request_stop();
        if let Some(scan) = self.presence_scan.get_mut().ok().and_then(Option::take) {
            // The scan only reads; it stops within a few thousand keys.
            let _ = scan.join();
        }
    }
}

/// Starts the thread that adds every key stored before this open to the presence filter, then
/// marks it ready. On a failure the filter stays unready: lookups keep going to the store.
fn spawn_presence_scan(
    store: &Arc<dyn Store>,
    filter: &Arc<PresenceFilter>,
    groups: usize,
) -> Option<std::thread::JoinHandle<()>> {
    let (store, filter) = (Arc::clone(store), Arc::clone(filter));
    let spawned = std::thread::Builder::new().name("gwen-presence".into()).spawn(move || {
        let started = Instant::now();
        let mut keys = 0u64;
        for g in 0..groups {
            let scanned = store.for_each_key(g, &mut |id| {
                filter.insert(g, id);
                keys += 1;
                !filter.stop_requested()
            });
            if let Err(e) = scanned {
                log::warn!(
                    "presence filter: scan of group {g} failed ({e}); lookups stay unfiltered"
                );
                return;
            }
            if filter.stop_requested() {
                return;
            }
        }
        filter.set_ready();
        log::info!(
            "presence filter ready: {keys} stored keys in {} bytes, scanned in {:.2}s",
            filter.bytes(),
            started.elapsed().as_secs_f64()
        );
    });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            log::warn!("presence filter: cannot start its scan ({e}); lookups stay unfiltered");
            None
        }
    }
}

/// The most bytes of rows that training `schema` with `batch` samples per batch and
/// `lookahead` prefetched batches can pin at once (see [`Engine::max_pinned_bytes`]).
pub fn max_pinned_bytes(schema: &Schema, batch: usize, lookahead: usize) -> usize {
    let ids_per_sample: usize = schema.groups.iter().map(|g| g.fields.len()).sum();
    let widest = (0..schema.groups.len())
        .map(|g| {
            let floats = schema.groups[g].dim + schema.group_optimizer(g).kind.state_len();
            crate::store::record::record_len(floats) + crate::cache::ENTRY_OVERHEAD_BYTES
        })
        .max()
        .unwrap_or(0);
    (lookahead + 1).saturating_mul(batch).saturating_mul(ids_per_sample).saturating_mul(widest)
}

/// Whether `rows` (a prefetch's deduplication) describes exactly the ids of `batch`, id
/// occurrence by id occurrence, so the trainer may use it instead of deduplicating again.
fn same_ids(rows: &[Gathered], batch: &Batch) -> bool {
    rows.len() == batch.groups.len()
        && rows.iter().zip(&batch.groups).all(|(r, group)| {
            r.local.len() == group.ids.len()
                && r.local
                    .iter()
                    .zip(&group.ids)
                    .all(|(&at, &id)| r.ids.get(at as usize) == Some(&id))
        })
}

/// The rows of a write set, as the written-rows log keeps them.
/// Sorted here, outside the cache lock, so that recording them under it is only a push.
fn row_keys(set: &WriteSet) -> Vec<RowKey> {
    let mut keys: Vec<RowKey> = set.rows().map(|(g, id, _)| (g as u32, id)).collect();
    keys.sort_unstable();
    keys
}

/// The misses of a prefetched batch that still need a store read: all but the ids the
/// prefetch found absent and that no step created since (when the creation log reaches back
/// that far).
fn skip_known_absent(
    hint: &Prefetched,
    trainer: &mut Trainer,
    rows: &[Gathered],
    misses: &[Vec<u32>],
) -> Vec<Vec<u32>> {
    // Steps after hint.step may have created rows; each must still be in the log.
    trainer.created.seal();
    let covered = trainer.created.covers(hint.step);
    misses
        .iter()
        .enumerate()
        .map(|(g, miss)| {
            miss.iter()
                .copied()
                .filter(|&i| {
                    let id = rows[g].ids[i as usize];
                    let absent = covered && hint.absent[g].binary_search(&id).is_ok();
                    !absent || trainer.created.touched_after((g as u32, id), hint.step)
                })
                .collect()
        })
        .collect()
}

/// Spreads the headers read for `to_read` (a subsequence of `misses`) over `misses`; the
/// misses not read are absent.
fn align_found(
    misses: &[Vec<u32>],
    to_read: &[Vec<u32>],
    found: Vec<Vec<Option<RowHeader>>>,
) -> Vec<Vec<Option<RowHeader>>> {
    misses
        .iter()
        .zip(to_read.iter().zip(found))
        .map(|(miss, (read, headers))| {
            let mut read = read.iter().zip(headers).peekable();
            miss.iter()
                .map(|&i| match read.peek() {
                    Some((&j, _)) if j == i => read.next().and_then(|(_, h)| h),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

fn unpin_all(lru: &mut LruCache, slots: &[Vec<Slot>]) {
    for &slot in slots.iter().flatten() {
        if slot != NOT_ADMITTED {
            lru.unpin(slot);
        }
    }
}

/// Locks a mutex; a poisoned lock (a panic while it was held) becomes an error.
fn lock<'a, T>(m: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>> {
    m.lock().map_err(|_| Error::Poisoned(format!("{what} lock poisoned by a panic")))
}

fn read(m: &RwLock<Dense>) -> Result<std::sync::RwLockReadGuard<'_, Dense>> {
    m.read().map_err(|_| Error::Poisoned("dense parameters lock poisoned by a panic".into()))
}

fn write(m: &RwLock<Dense>) -> Result<std::sync::RwLockWriteGuard<'_, Dense>> {
    m.write().map_err(|_| Error::Poisoned("dense parameters lock poisoned by a panic".into()))
}

struct LeReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl LeReader<'_> {
    fn u64(&mut self) -> Option<u64> {
        let b = self.bytes.get(self.at..self.at + 8)?;
        self.at += 8;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }

    fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        let b = self.bytes.get(self.at..self.at.checked_add(n.checked_mul(4)?)?)?;
        self.at += 4 * n;
        Some(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

/// The step recorded in a store's metadata.
pub(crate) fn read_step(store: &dyn Store) -> Result<u64> {
    let corrupt = |reason: &str| Error::Corruption { what: "step".into(), reason: reason.into() };
    let step = store.meta(store::META_STEP)?.ok_or_else(|| corrupt("missing"))?;
    let step: [u8; 8] = step.as_slice().try_into().map_err(|_| corrupt("not 8 bytes"))?;
    Ok(u64::from_le_bytes(step))
}

/// The schema stored in a database, after checking its format version.
pub(crate) fn read_schema(store: &RocksStore, dir: &Path) -> Result<Schema> {
    let corrupt = |reason: String| Error::Corruption { what: dir.display().to_string(), reason };
    let version = store
        .meta(store::META_FORMAT_VERSION)?
        .ok_or_else(|| corrupt("not a gwen database: no format version".into()))?;
    let version = <[u8; 4]>::try_from(version.as_slice())
        .map(u32::from_le_bytes)
        .map_err(|_| corrupt("bad format version record".into()))?;
    if version != store::FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {version}, this build reads {}",
            store::FORMAT_VERSION
        )));
    }
    let text = store.meta(store::META_SCHEMA)?.ok_or_else(|| corrupt("no schema".into()))?;
    let text = String::from_utf8(text).map_err(|_| corrupt("schema is not utf-8".into()))?;
    Schema::from_toml_str(&text).map_err(|e| corrupt(format!("stored schema: {e}")))
}
