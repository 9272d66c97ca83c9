//! The subcommands. Each is a thin layer over the engine's public API.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use crossbeam_channel::bounded;
use gwen::input::synth::{write_synthetic, SynthOptions};
use gwen::{
    Batch, Engine, EngineOptions, EvalSummary, Evaluation, Prefetched, Schema, StatsSnapshot,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::logging;
use crate::pipeline::{BatchStream, ReadSummary};
use crate::{say, DataArgs};

/// Options of the RAM tier and threads, shared by every command that opens a database.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Model database directory.
    #[arg(long)]
    db: PathBuf,
    /// Budget of the RAM tier in MiB: cached rows, the write-back buffer and (an eighth) the
    /// presence filter of stored ids.
    #[arg(long, default_value_t = 1024)]
    cache_mb: usize,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

impl EngineArgs {
    fn options(&self, read_only: bool) -> EngineOptions {
        EngineOptions {
            cache_bytes: self.cache_mb.saturating_mul(1 << 20),
            threads: self.threads,
            read_only,
            ..EngineOptions::default()
        }
    }
}

/// Arguments of `gwen train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Schema TOML (default: the built-in Criteo schema, one group per categorical field).
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Passes over the data.
    #[arg(long, default_value_t = 1)]
    epochs: u32,
    /// Take a checkpoint every this many steps (0 = only at the end).
    #[arg(long, default_value_t = 0)]
    checkpoint_every: u64,
    /// Feature admission: an id gets a row only after this many sightings (overrides the
    /// schema's `min_count`).
    #[arg(long)]
    min_count: Option<u32>,
    /// Batches whose rows are read ahead of the trainer on an I/O thread (0 = none).
    #[arg(long, default_value_t = 2)]
    lookahead: usize,
    /// Checkpoints to keep (0 = all).
    #[arg(long, default_value_t = 2)]
    keep_checkpoints: usize,
    /// Seconds between progress log lines.
    #[arg(long, default_value_t = 10)]
    log_every_s: u64,
}

/// Arguments of `gwen eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `gwen predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Write the probabilities here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `gwen synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Number of lines.
    #[arg(long, default_value_t = 100_000)]
    lines: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Arguments of `gwen demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working directory for the data and the model (replaced if it exists).
    #[arg(long, default_value = "target/gwen-demo")]
    dir: PathBuf,
    /// Synthetic lines to generate; the last 10% are held out.
    #[arg(long, default_value_t = 200_000)]
    lines: u64,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// `gwen train`.
pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    // Everything that can be checked is checked before the database is created or opened.
    anyhow::ensure!(args.epochs > 0, "--epochs must be at least 1");
    args.data.check()?;
    let schema = match &args.schema {
        Some(path) => Some(Schema::from_path(path)?),
        None => None,
    };
    let probe_schema = schema.clone().unwrap_or_else(Schema::criteo_default);
    let db = &args.engine.db;
    let is_new = std::fs::read_dir(db).map(|mut d| d.next().is_none()).unwrap_or(true);
    if is_new {
        // A database is only created for data that can at least be opened as the schema says.
        // An existing one is opened first instead: its stored schema (and a mismatch with the
        // one given) decides how the data is read.
        drop(BatchStream::spawn(&args.data, &probe_schema, true)?);
        check_lookahead(&probe_schema, args)?;
    }
    let options = EngineOptions {
        min_count: args.min_count,
        keep_checkpoints: args.keep_checkpoints,
        ..args.engine.options(false)
    };
    let engine = match (&schema, is_new) {
        (Some(schema), _) => Engine::open_or_create(db, schema, options),
        (None, true) => Engine::create(db, &probe_schema, options),
        // No --schema on an existing database: train with the schema stored there.
        (None, false) => Engine::open(db, options),
    }
    .with_context(|| format!("opening {}", db.display()))?;
    check_lookahead(engine.schema(), args)?;
    log::info!(
        "training {} on {} for {} epoch(s), batch {}, cache {} MiB",
        args.engine.db.display(),
        args.data.data.display(),
        args.epochs,
        args.data.batch,
        args.engine.cache_mb
    );
    let started = Instant::now();
    let mut total = ReadSummary::default();
    for epoch in 1..=args.epochs {
        let summary = train_epoch(&engine, args, epoch)?;
        total.samples += summary.samples;
        total.skipped_lines += summary.skipped_lines;
        total.skip_examples = summary.skip_examples;
    }
    let step = engine.checkpoint().context("final checkpoint")?;
    report_skips(&total);
    if total.samples == 0 && total.skipped_lines > 0 {
        log::warn!(
            "no samples were trained: every line of {} that was read is malformed ({} skipped)",
            args.data.data.display(),
            total.skipped_lines
        );
    } else if total.samples == 0 {
        log::warn!(
            "no samples were trained: {} holds none in the selected range",
            args.data.data.display()
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = engine.stats();
    say!(
        "trained {} samples in {:.1}s ({:.0} samples/s); checkpoint at step {step}",
        total.samples,
        elapsed,
        total.samples as f64 / elapsed.max(1e-9)
    )?;
    print_cache_report(&stats, engine.cache_usage())?;
    if let Some(peak) = peak_rss_bytes() {
        say!(
            "memory: peak RSS {:.1} MiB (cache budget {} MiB); trainer waited {:.0} ms on rows",
            peak as f64 / (1 << 20) as f64,
            args.engine.cache_mb,
            stats.train_wait_ns as f64 / 1e6
        )?;
    }
    Ok(())
}

/// The process's peak resident set size, from `/proc/self/status` (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a lookahead window whose pinned rows could exceed the cache budget.
fn check_lookahead(schema: &Schema, args: &TrainArgs) -> anyhow::Result<()> {
    let pinned = gwen::max_pinned_bytes(schema, args.data.batch, args.lookahead);
    // The presence filter's share of the budget holds no rows.
    let budget = args.engine.options(false).row_cache_bytes();
    anyhow::ensure!(
        pinned <= budget,
        "--lookahead {} with --batch {} may pin up to {:.1} MiB of rows, more than the {:.1} MiB \
         of --cache-mb {} left for rows; lower --lookahead or --batch, or raise --cache-mb",
        args.lookahead,
        args.data.batch,
        pinned as f64 / (1 << 20) as f64,
        budget as f64 / (1 << 20) as f64,
        args.engine.cache_mb
    );
    Ok(())
}

fn train_epoch(engine: &Engine, args: &TrainArgs, epoch: u32) -> anyhow::Result<ReadSummary> {
    let mut stream = BatchStream::spawn(&args.data, engine.schema(), true)?;
    let bar = progress_bar(args.data.max_lines, &format!("epoch {epoch}"));
    let mut progress = EpochProgress::new(engine, epoch, args.log_every_s);
    let stopped = |e: anyhow::Error| {
        anyhow::anyhow!(
            "{e:#}; training stopped, the database stays at its last checkpoint (step {})",
            engine.checkpoint_step()
        )
    };
    let mut train = |batch: Batch, prefetched: Option<Prefetched>| -> anyhow::Result<()> {
        let report = match prefetched {
            Some(p) => engine.train_prefetched(&batch, p)?,
            None => engine.train_step(&batch)?,
        };
        bar.inc(report.samples as u64);
        if args.checkpoint_every > 0 && report.step % args.checkpoint_every == 0 {
            engine.checkpoint().context("periodic checkpoint")?;
        }
        progress.record(engine, &report, &bar);
        Ok(())
    };
    if args.lookahead == 0 {
        for batch in stream.by_ref() {
            train(batch.map_err(stopped)?, None)?;
        }
    } else {
        // The prefetch stage: an I/O thread loads and pins the rows of the next `lookahead`
        // batches while the trainer works on the current one.
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let (sender, receiver) =
                bounded::<anyhow::Result<(Batch, Prefetched)>>(args.lookahead - 1);
            let stream = &mut stream;
            scope.spawn(move || {
                for batch in stream.by_ref() {
                    let item = batch.and_then(|b| Ok(engine.prefetch(&b).map(|p| (b, p))?));
                    let failed = item.is_err();
                    if let Err(unsent) = sender.send(item) {
                        if let Ok((_, p)) = unsent.into_inner() {
                            let _ = engine.release(p);
                        }
                        break;
                    }
                    if failed {
                        break;
                    }
                }
            });
            for item in receiver {
                let (batch, prefetched) = item.map_err(stopped)?;
                train(batch, Some(prefetched))?;
            }
            Ok(())
        })?;
    }
    bar.finish_and_clear();
    logging::set_progress(None);
    let summary = stream.finish()?;
    progress.finish(engine, &summary);
    Ok(summary)
}

/// Loss and speed of the samples since the last progress line.
struct EpochProgress {
    epoch: u32,
    every: Duration,
    last_log: Instant,
    loss: f64,
    samples: u64,
    stats: StatsSnapshot,
}

impl EpochProgress {
    fn new(engine: &Engine, epoch: u32, every_s: u64) -> Self {
        EpochProgress {
            epoch,
            every: Duration::from_secs(every_s.max(1)),
            last_log: Instant::now(),
            loss: 0.0,
            samples: 0,
            stats: engine.stats(),
        }
    }

    fn record(&mut self, engine: &Engine, report: &gwen::StepReport, bar: &ProgressBar) {
        self.loss += report.loss_sum;
        self.samples += report.samples as u64;
        if self.last_log.elapsed() < self.every {
            return;
        }
        let now = engine.stats();
        let window = now.since(&self.stats);
        let rate = self.samples as f64 / self.last_log.elapsed().as_secs_f64();
        let loss = self.loss / self.samples.max(1) as f64;
        bar.set_message(format!("loss {loss:.4}, hit rate {:.3}", window.hit_rate()));
        log::info!(
            "epoch {} step {}: loss {loss:.4}, {rate:.0} samples/s, cache hit rate {:.3}, \
             trainer waited {:.0} ms on rows",
            self.epoch,
            report.step,
            window.hit_rate(),
            window.train_wait_ns as f64 / 1e6
        );
        (self.last_log, self.loss, self.samples, self.stats) = (Instant::now(), 0.0, 0, now);
    }

    fn finish(&self, engine: &Engine, summary: &ReadSummary) {
        if self.samples > 0 {
            log::info!(
                "epoch {} done at step {}: {} samples, loss {:.4} over the last {} samples",
                self.epoch,
                engine.step(),
                summary.samples,
                self.loss / self.samples as f64,
                self.samples
            );
        }
    }
}

/// `gwen eval`.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let summary = evaluate(&args.engine, &args.data)?;
    if args.json {
        let json = serde_json::json!({
            "samples": summary.samples,
            "logloss": summary.logloss,
            "auc": summary.auc,
            "mean_prediction": summary.mean_prediction,
            "observed_ctr": summary.observed_ctr,
        });
        say!("{json}")?;
    } else {
        print_eval(&summary)?;
    }
    Ok(())
}

fn evaluate(engine_args: &EngineArgs, data: &DataArgs) -> anyhow::Result<EvalSummary> {
    data.check()?;
    let engine = open_read_only(engine_args)?;
    let mut stream = BatchStream::spawn(data, engine.schema(), true)?;
    let bar = progress_bar(data.max_lines, "eval");
    let mut evaluation = Evaluation::new();
    for batch in stream.by_ref() {
        let batch = batch?;
        for (z, y) in engine.predict_logits(&batch)?.into_iter().zip(&batch.labels) {
            evaluation.push(z, *y);
        }
        bar.inc(batch.len as u64);
    }
    bar.finish_and_clear();
    logging::set_progress(None);
    report_skips(&stream.finish()?);
    if evaluation.is_empty() {
        bail!("{}: no samples to evaluate", data.data.display());
    }
    Ok(evaluation.summary())
}

fn print_eval(s: &EvalSummary) -> std::io::Result<()> {
    say!("samples          {}", s.samples)?;
    say!("logloss          {:.6}", s.logloss)?;
    say!("auc              {:.6}", s.auc)?;
    say!("mean prediction  {:.6}", s.mean_prediction)?;
    say!("observed ctr     {:.6}", s.observed_ctr)?;
    Ok(())
}

/// `gwen predict`.
pub fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    args.data.check()?;
    // Skipping a line would shift every later probability onto the wrong input line.
    anyhow::ensure!(
        !args.data.skip_bad_lines,
        "predict writes one probability per input line, so it cannot skip bad lines"
    );
    if let Some(out) = &args.out {
        let same = std::fs::canonicalize(out).ok() == std::fs::canonicalize(&args.data.data).ok()
            && out.exists();
        anyhow::ensure!(!same, "--out {} is the input file", out.display());
    }
    let engine = open_read_only(&args.engine)?;
    let mut stream = BatchStream::spawn(&args.data, engine.schema(), false)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut written = 0u64;
    for batch in stream.by_ref() {
        for p in engine.predict(&batch?)? {
            writeln!(out, "{p:.9}").context("writing predictions")?;
            written += 1;
        }
    }
    out.flush().context("writing predictions")?;
    stream.finish()?;
    log::info!("wrote {written} predictions");
    Ok(())
}

/// `gwen synth`.
pub fn synth(args: &SynthArgs) -> anyhow::Result<()> {
    let options = SynthOptions { lines: args.lines, seed: args.seed, ..SynthOptions::default() };
    let n = write_synthetic(&args.out, &options)?;
    say!("wrote {n} synthetic lines to {}", args.out.display())?;
    Ok(())
}

/// `gwen demo`: the whole job on generated data.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.lines >= 1000, "--lines must be at least 1000");
    check_demo_dir(&args.dir)?;
    remove_dir(&args.dir)?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let data = args.dir.join("synthetic.tsv");
    let db = args.dir.join("model");
    say!("generating {} synthetic Criteo-format lines in {}", args.lines, data.display())?;
    write_synthetic(&data, &SynthOptions { lines: args.lines, ..SynthOptions::default() })?;

    let held_out = args.lines / 10;
    let train_args = TrainArgs {
        engine: EngineArgs { db: db.clone(), cache_mb: 256, threads: args.threads },
        data: DataArgs {
            data: data.clone(),
            skip_lines: 0,
            max_lines: args.lines - held_out,
            skip_bad_lines: false,
            batch: 256,
        },
        schema: None,
        min_count: None,
        lookahead: 2,
        keep_checkpoints: 2,
        epochs: 1,
        checkpoint_every: 0,
        log_every_s: 10,
    };
    train(&train_args)?;
    let data_args = DataArgs { skip_lines: args.lines - held_out, max_lines: 0, ..train_args.data };
    let summary = evaluate(&train_args.engine, &data_args)?;
    say!("held-out evaluation on the last {held_out} lines:")?;
    print_eval(&summary)?;
    say!("demo AUC {:.4}", summary.auc)?;
    Ok(())
}

/// `demo` replaces its directory; it refuses one holding anything but an earlier demo's files.
fn check_demo_dir(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let name = entry?.file_name();
        anyhow::ensure!(
            name == "synthetic.tsv" || name == "model",
            "{} holds {:?}, which is not from an earlier demo; pick an empty or new --dir",
            dir.display(),
            name
        );
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn open_read_only(args: &EngineArgs) -> anyhow::Result<Engine> {
    Engine::open(&args.db, args.options(true))
        .with_context(|| format!("opening {}", args.db.display()))
}

fn progress_bar(max_lines: u64, prefix: &str) -> ProgressBar {
    let bar = if max_lines > 0 { ProgressBar::new(max_lines) } else { ProgressBar::no_length() };
    let template = if max_lines > 0 {
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} samples ({per_sec}) {msg}"
    } else {
        "{prefix} [{elapsed_precise}] {spinner} {pos} samples ({per_sec}) {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_prefix(prefix.to_string());
    logging::set_progress(Some(bar.clone()));
    bar
}

fn report_skips(summary: &ReadSummary) {
    if summary.skipped_lines == 0 {
        return;
    }
    log::warn!("skipped {} malformed lines", summary.skipped_lines);
    for example in &summary.skip_examples {
        log::warn!("  skipped {example}");
    }
}

fn print_cache_report(stats: &StatsSnapshot, usage: (usize, usize)) -> std::io::Result<()> {
    let (rows, bytes) = usage;
    say!(
        "cache: {} hits, {} misses (hit rate {:.3}), {} evictions, {} rows resident ({:.1} MiB)",
        stats.cache_hits,
        stats.cache_misses,
        stats.hit_rate(),
        stats.evictions,
        rows,
        bytes as f64 / (1 << 20) as f64
    )?;
    say!(
        "store: {} rows read ({} bytes), {} rows written ({} bytes), {} rows created",
        stats.rows_read,
        stats.bytes_read,
        stats.rows_written,
        stats.bytes_written,
        stats.rows_created
    )?;
    Ok(())
}
