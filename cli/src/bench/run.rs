//! Configurations (a), (b), (c) and the reopen measurement, each run in its own process.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender};
use gwen::{Batch, Engine, EngineOptions, Prefetched, StatsSnapshot, StoreMemory};
use serde_json::json;

use super::stream::Stream;
use super::{dir_bytes, peak_rss_bytes, ChildSetup, Config};

/// Batches the generator thread builds ahead of its consumer.
const GENERATED_AHEAD: usize = 4;

/// Seconds between progress lines of a configuration.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// What the training loop measured, beside the engine's counters.
#[derive(Debug)]
struct Loop {
    samples: u64,
    steps: u64,
    train: Duration,
    input_wait: Duration,
    losses: Vec<f64>,
    started: Instant,
    logged: Instant,
    /// The largest store memory figures seen (sampled every [`MEMORY_EVERY`] steps).
    memory: StoreMemory,
    /// The largest heap of the RAM tier seen (same samples).
    cache_heap: usize,
}

/// Steps between samples of the store's memory.
const MEMORY_EVERY: u64 = 50;

impl Loop {
    fn new() -> Self {
        let now = Instant::now();
        Loop {
            samples: 0,
            steps: 0,
            train: Duration::ZERO,
            input_wait: Duration::ZERO,
            losses: Vec::new(),
            started: now,
            logged: now,
            memory: StoreMemory::default(),
            cache_heap: 0,
        }
    }

    /// Keeps the largest of each store memory figure.
    fn sample_memory(&mut self, engine: &Engine) -> anyhow::Result<()> {
        if self.steps % MEMORY_EVERY == 0 {
            let now = engine.store_memory().context("store memory")?;
            let m = &mut self.memory;
            m.block_cache_bytes = m.block_cache_bytes.max(now.block_cache_bytes);
            m.block_cache_pinned_bytes =
                m.block_cache_pinned_bytes.max(now.block_cache_pinned_bytes);
            m.memtable_bytes = m.memtable_bytes.max(now.memtable_bytes);
            m.table_readers_bytes = m.table_readers_bytes.max(now.table_readers_bytes);
            self.cache_heap = self.cache_heap.max(engine.cache_heap_bytes());
        }
        Ok(())
    }

    fn record(&mut self, setup: &ChildSetup, samples: usize, loss_sum: f64) {
        self.samples += samples as u64;
        self.steps += 1;
        self.losses.push(loss_sum / samples.max(1) as f64);
        if self.logged.elapsed() >= PROGRESS_EVERY {
            self.logged = Instant::now();
            log::info!(
                "({}) {} of {} samples, {:.0} samples/s",
                setup.config.letter(),
                self.samples,
                setup.samples,
                self.samples as f64 / self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Mean batch loss over the first and the last tenth of the steps.
    fn loss_ends(&self) -> (f64, f64) {
        let n = self.losses.len();
        let k = (n / 10).max(1).min(n);
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        (mean(&self.losses[..k]), mean(&self.losses[n - k..]))
    }
}

/// Runs configuration (a), (b) or (c): a new database trained on the whole stream.
pub fn train(setup: &ChildSetup, prefetch: bool) -> anyhow::Result<serde_json::Value> {
    let options = EngineOptions {
        cache_bytes: setup.cache_bytes + presence_filter_bytes(setup),
        presence_filter_bytes: Some(presence_filter_bytes(setup)),
        threads: setup.threads,
        keep_checkpoints: 1,
        ..EngineOptions::default()
    };
    let engine = Engine::create(&setup.db, &setup.schema, options)
        .with_context(|| format!("creating {}", setup.db.display()))?;
    let started = Instant::now();
    let mut run =
        if prefetch { train_prefetched(&engine, setup)? } else { train_plain(&engine, setup)? };
    run.train = started.elapsed();
    let stats = engine.stats();
    let rss_training = peak_rss_bytes()?;
    let checkpoint_started = Instant::now();
    engine.checkpoint().context("final checkpoint")?;
    let checkpoint_s = checkpoint_started.elapsed().as_secs_f64();
    let checkpoint_rows = engine.stats().since(&stats).rows_written;
    let cached = engine.cache_usage();
    drop(engine);
    let end = End {
        checkpoint_s,
        checkpoint_rows,
        cached,
        store_bytes: dir_bytes(&setup.db.join("store"))?,
        rss_training,
        rss_all: peak_rss_bytes()?,
    };
    Ok(training_record(setup, prefetch, &run, &stats, &end))
}

/// What is measured after the training loop.
struct End {
    checkpoint_s: f64,
    /// Rows the final checkpoint wrote (the dirty rows still cached).
    checkpoint_rows: u64,
    /// Rows and bytes in the RAM tier after the checkpoint.
    cached: (usize, usize),
    store_bytes: u64,
    /// Peak RSS when the last step returned.
    rss_training: u64,
    /// Peak RSS after the final checkpoint (its write set adds to it).
    rss_all: u64,
}

/// The presence filter of a configuration: none in (a), whose cache holds every row; in (b)
/// and (c), an eighth of the RAM tier on top of the rows' share (so they still cache the
/// share of rows the run asks for).
fn presence_filter_bytes(setup: &ChildSetup) -> usize {
    match setup.config {
        Config::B | Config::C if setup.presence_filter => setup.cache_bytes / 7,
        _ => 0,
    }
}

fn training_record(
    setup: &ChildSetup,
    prefetch: bool,
    run: &Loop,
    s: &StatsSnapshot,
    end: &End,
) -> serde_json::Value {
    let secs = |ns: u64| ns as f64 * 1e-9;
    let train_s = run.train.as_secs_f64();
    let lookups = s.cache_hits + s.cache_misses;
    // Lookups of rows that already existed; the rest were first sightings (created).
    let existing = lookups.saturating_sub(s.rows_created);
    let hit_rate = if existing == 0 { 1.0 } else { 1.0 - s.rows_read as f64 / existing as f64 };
    let miss_rows_per_s = if s.read_ns == 0 { 0.0 } else { s.rows_read as f64 / secs(s.read_ns) };
    let (loss_first, loss_last) = run.loss_ends();
    json!({
        "config": setup.config.letter(),
        "description": setup.config.description(),
        "samples": run.samples,
        "steps": run.steps,
        "batch": setup.batch,
        "lookahead": if prefetch { setup.lookahead } else { 0 },
        "threads": setup.threads,
        "cache_bytes": setup.cache_bytes + presence_filter_bytes(setup),
        "presence_filter_bytes": presence_filter_bytes(setup),
        "presence_skips": s.presence_skips,
        "cache_rows": setup.cache_bytes / setup.entry_bytes,
        "train_s": train_s,
        "samples_per_s": run.samples as f64 / train_s.max(1e-9),
        "samples_per_s_with_checkpoint":
            run.samples as f64 / (train_s + end.checkpoint_s).max(1e-9),
        "hit_rate": hit_rate,
        "engine_hit_rate": s.hit_rate(),
        "lookups": lookups,
        "cache_hits": s.cache_hits,
        "cache_misses": s.cache_misses,
        "evictions": s.evictions,
        "rows_created": s.rows_created,
        "rows_read": s.rows_read,
        "bytes_read": s.bytes_read,
        "rows_written": s.rows_written,
        "bytes_written": s.bytes_written,
        "train_wait_s": secs(s.train_wait_ns),
        "input_wait_s": run.input_wait.as_secs_f64(),
        "prefetch_s": secs(s.prefetch_ns),
        "store_wait_s": secs(s.store_wait_ns),
        "read_s": secs(s.read_ns),
        "miss_rows_per_s": miss_rows_per_s,
        "checkpoint_s": end.checkpoint_s,
        "checkpoint_rows_written": end.checkpoint_rows,
        "cached_rows_at_end": end.cached.0,
        "cached_bytes_at_end": end.cached.1,
        "store_bytes": end.store_bytes,
        "peak_rss_bytes": end.rss_training,
        "peak_rss_with_checkpoint_bytes": end.rss_all,
        "max_rocksdb_memory": run.memory,
        "max_cache_heap_bytes": run.cache_heap,
        "loss_first_tenth": loss_first,
        "loss_last_tenth": loss_last,
    })
}

/// Sends the stream's batches; stops early when the receiver is gone.
fn generate(setup: &ChildSetup, sender: &Sender<Batch>) {
    let mut stream = Stream::new(setup.stream);
    let mut left = setup.samples;
    while left > 0 {
        let len = left.min(setup.batch as u64) as usize;
        if sender.send(stream.next_batch(len)).is_err() {
            return;
        }
        left -= len as u64;
    }
}

/// Receives one item, adding the time blocked to `waited`.
fn receive<T>(receiver: &Receiver<T>, waited: &mut Duration) -> Option<T> {
    let started = Instant::now();
    let item = receiver.recv().ok();
    *waited += started.elapsed();
    item
}

/// (a) and (c): the trainer gathers its own rows with `train_step`.
fn train_plain(engine: &Engine, setup: &ChildSetup) -> anyhow::Result<Loop> {
    std::thread::scope(|scope| {
        let (sender, receiver) = bounded(GENERATED_AHEAD);
        scope.spawn(move || generate(setup, &sender));
        let mut run = Loop::new();
        while let Some(batch) = receive(&receiver, &mut run.input_wait) {
            let report = engine.train_step(&batch).context("training step")?;
            run.record(setup, report.samples, report.loss_sum);
            run.sample_memory(engine)?;
        }
        Ok(run)
    })
}

/// (b): a prefetch thread loads and pins the rows of the next batches while the trainer
/// trains the current one; `lookahead - 1` batches wait prefetched between them.
fn train_prefetched(engine: &Engine, setup: &ChildSetup) -> anyhow::Result<Loop> {
    std::thread::scope(|scope| {
        let (batch_sender, batches) = bounded::<Batch>(GENERATED_AHEAD);
        let (ready_sender, ready) =
            bounded::<gwen::Result<(Batch, Prefetched)>>(setup.lookahead.saturating_sub(1));
        scope.spawn(move || generate(setup, &batch_sender));
        scope.spawn(move || prefetch_all(engine, &batches, &ready_sender));
        let mut run = Loop::new();
        while let Some(item) = receive(&ready, &mut run.input_wait) {
            let (batch, prefetched) = item.context("prefetch")?;
            let report = engine.train_prefetched(&batch, prefetched).context("training step")?;
            run.record(setup, report.samples, report.loss_sum);
            run.sample_memory(engine)?;
        }
        Ok(run)
    })
}

fn prefetch_all(
    engine: &Engine,
    batches: &Receiver<Batch>,
    ready: &Sender<gwen::Result<(Batch, Prefetched)>>,
) {
    for batch in batches {
        let item = engine.prefetch(&batch).map(|p| (batch, p));
        let failed = item.is_err();
        if let Err(crossbeam_channel::SendError(item)) = ready.send(item) {
            // The trainer stopped: give the pins back.
            if let Ok((_, prefetched)) = item {
                let _ = engine.release(prefetched);
            }
            return;
        }
        if failed {
            return;
        }
    }
}

/// Reopens a trained database for writing and predicts the stream's first batch.
pub fn reopen(setup: &ChildSetup) -> anyhow::Result<serde_json::Value> {
    let options = EngineOptions {
        cache_bytes: setup.cache_bytes,
        threads: setup.threads,
        ..EngineOptions::default()
    };
    let batch = Stream::new(setup.stream).next_batch(setup.batch);
    let started = Instant::now();
    let engine = Engine::open(&setup.db, options)
        .with_context(|| format!("opening {}", setup.db.display()))?;
    let open_s = started.elapsed().as_secs_f64();
    let predictions = engine.predict(&batch).context("first prediction")?;
    let reopen_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(predictions.len() == batch.len, "prediction count");
    let stats = engine.stats();
    let step = engine.step();
    // The presence filter's scan of the stored keys runs in the background after the open;
    // until it ends, lookups go to the store as without a filter.
    let mut presence_ready_s = None;
    while started.elapsed() < Duration::from_secs(900) {
        if engine.presence_filter_ready() {
            presence_ready_s = Some(started.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(engine);
    Ok(json!({
        "config": "reopen",
        "description": setup.config.description(),
        "db": db_name(&setup.db),
        "step": step,
        "open_s": open_s,
        "first_predict_s": reopen_s - open_s,
        "reopen_s": reopen_s,
        "presence_filter_ready_s": presence_ready_s,
        "rows_read": stats.rows_read,
        "store_bytes": dir_bytes(&setup.db.join("store"))?,
        "peak_rss_bytes": peak_rss_bytes()?,
    }))
}

fn db_name(db: &Path) -> String {
    db.file_name().map_or_else(|| db.display().to_string(), |n| n.to_string_lossy().into())
}
