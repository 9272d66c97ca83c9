//! `gwen bench`: trains on a reproducible synthetic stream under four configurations and
//! writes one JSON record per configuration (see `docs/bench.md`).
//!
//! - (a) the cache holds every row;
//! - (b) the cache holds a small share (5%) of the rows, and a thread prefetches ahead;
//! - (c) the same cache without prefetch;
//! - (d) raw RocksDB `batched_multi_get_cf` of the miss stream of (c), with no engine.
//!
//! The parent process sizes the stream (it counts distinct ids until enough rows would be
//! materialized) and runs each configuration, and then the reopen of a trained table, in a
//! child process of the same binary, so each peak RSS is its own.

mod raw;
mod run;
mod stream;

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use gwen::{RocksOptions, Schema, ENTRY_OVERHEAD_BYTES};
use serde_json::{json, Value};

use crate::{say, MAX_BATCH};
use stream::StreamOptions;

/// Default rows to materialize.
const DEFAULT_ROWS: u64 = 20_000_000;
/// Rows with `--quick`.
const QUICK_ROWS: u64 = 1_000_000;
/// Most rows accepted (counting them takes about 16 bytes of RAM each).
const MAX_ROWS: u64 = 4_000_000_000;
/// Bytes of a row record's header (`docs/design.md`, on-disk layout).
const ROW_HEADER_BYTES: usize = 16;
/// A stream longer than this many samples per row is refused (exponent too steep).
const MAX_SAMPLES_PER_ROW: u64 = 10;
/// Fixed RAM a configuration may use beyond its cache budget and RocksDB's block cache and
/// memtables: code, allocator, MLP, thread stacks, batches in flight, write sets. With the
/// default 32 MiB block cache and 64 MiB of memtables this makes the 192 MiB documented in
/// `docs/design.md` ("Memory").
const PROCESS_OVERHEAD_BYTES: u64 = 96 << 20;

/// Arguments of `gwen bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Distinct rows the stream must materialize [default: 20000000, or 1000000 with
    /// --quick]; 200000000 and more go out of core.
    #[arg(long)]
    rows: Option<u64>,
    /// A small run (1,000,000 rows unless --rows is given) for smoke tests.
    #[arg(long)]
    quick: bool,
    /// JSON-lines output: one record per configuration, then the reopen.
    #[arg(long, default_value = "bench.jsonl")]
    out: PathBuf,
    /// Working directory for the databases; must be new or empty [default: a new directory
    /// in the system's temporary directory]. Removed at the end unless --keep.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the databases.
    #[arg(long)]
    keep: bool,
    /// Configurations to run, a subset of "abcdw" ((d) reads the store of (c), so it needs c;
    /// w is (d) replayed with the write-backs of (c) on a new store).
    #[arg(long, default_value = "abcd")]
    configs: String,
    /// Seed of the stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Zipf exponent of the ids (0.5..=1.5); larger means more repeats, a longer stream.
    #[arg(long, default_value_t = 1.05)]
    zipf: f64,
    /// Samples per batch.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Batches in flight ahead of the trainer in (b) (the channel holds lookahead - 1).
    #[arg(long, default_value_t = 4)]
    lookahead: usize,
    /// Share of the materialized rows the cache holds in (b) and (c).
    #[arg(long, default_value_t = 0.05)]
    cache_fraction: f64,
    /// Worker threads of the engine (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Run (b) and (c) without the presence filter (their RAM tier is then the rows' share
    /// alone; with the filter it is that plus one seventh, the filter's eighth of the whole).
    #[arg(long)]
    no_presence_filter: bool,
    /// Internal: run one configuration in this process and print its record.
    #[arg(long, hide = true)]
    config: Option<Config>,
    /// Internal: the database of the configuration.
    #[arg(long, hide = true)]
    db: Option<PathBuf>,
    /// Internal: samples of the stream.
    #[arg(long, hide = true)]
    samples: Option<u64>,
    /// Internal: cache budget in bytes.
    #[arg(long, hide = true)]
    cache_bytes: Option<usize>,
    /// Internal: rows the stream materializes.
    #[arg(long, hide = true)]
    expected_rows: Option<u64>,
}

/// One measured configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Config {
    /// Every row cached.
    A,
    /// Small cache, prefetch.
    B,
    /// Small cache, no prefetch.
    C,
    /// Raw RocksDB reads of the miss stream of (c).
    D,
    /// Raw RocksDB reads and write-backs of the stream of (c) on a new store.
    Dw,
    /// Reopen a trained database.
    Reopen,
}

impl Config {
    fn letter(self) -> &'static str {
        match self {
            Config::A => "a",
            Config::B => "b",
            Config::C => "c",
            Config::D => "d",
            Config::Dw => "dw",
            Config::Reopen => "reopen",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Config::A => "cache holds every row",
            Config::B => "cache holds a share of the rows; prefetch thread ahead of the trainer",
            Config::C => "cache holds a share of the rows; no prefetch",
            Config::D => "raw RocksDB batched_multi_get_cf of the miss stream of (c), no engine",
            Config::Dw => {
                "as (d), on a new store that also takes the write-backs of (c) as they happened"
            }
            Config::Reopen => "Engine::open (read-write) of a trained database, then one predict",
        }
    }
}

/// Everything a child process needs to run one configuration.
#[derive(Debug, Clone)]
pub struct ChildSetup {
    config: Config,
    db: PathBuf,
    samples: u64,
    cache_bytes: usize,
    expected_rows: u64,
    batch: usize,
    lookahead: usize,
    threads: usize,
    /// Whether (b) and (c) get a presence filter on top of their rows' share.
    presence_filter: bool,
    stream: StreamOptions,
    schema: Schema,
    /// Bytes the cache charges per row.
    entry_bytes: usize,
}

/// The benchmark's schema: the default Criteo one (26 groups, dim 16, Adagrad), seeded.
fn bench_schema(seed: u64) -> Schema {
    let mut schema = Schema::criteo_default();
    schema.seed = seed;
    schema
}

/// Bytes the cache charges for one row of the widest group.
fn entry_bytes(schema: &Schema) -> usize {
    (0..schema.groups.len())
        .map(|g| {
            let floats = schema.groups[g].dim + schema.group_optimizer(g).kind.state_len();
            ROW_HEADER_BYTES + 4 * floats + ENTRY_OVERHEAD_BYTES
        })
        .max()
        .unwrap_or(0)
}

/// `gwen bench`.
pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    check(args)?;
    let schema = bench_schema(args.seed);
    let stream = StreamOptions {
        seed: args.seed,
        exponent: args.zipf,
        groups: schema.groups.len(),
        dense: schema.dense_width(),
    };
    if let Some(config) = args.config {
        return child(args, config, schema, stream);
    }
    parent(args, &schema, stream)
}

fn check(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&args.batch),
        "--batch {} must be in 1..={MAX_BATCH}",
        args.batch
    );
    anyhow::ensure!(args.lookahead >= 1, "--lookahead must be at least 1");
    anyhow::ensure!((0.5..=1.5).contains(&args.zipf), "--zipf {} must be in 0.5..=1.5", args.zipf);
    anyhow::ensure!(
        args.cache_fraction > 0.0 && args.cache_fraction <= 1.0,
        "--cache-fraction {} must be in (0, 1]",
        args.cache_fraction
    );
    if let Some(c) = args.configs.chars().find(|c| !"abcdw".contains(*c)) {
        bail!("--configs {:?}: {c:?} is not one of a, b, c, d, w", args.configs);
    }
    anyhow::ensure!(!args.configs.is_empty(), "--configs names no configuration");
    anyhow::ensure!(
        !args.configs.contains('d') || args.configs.contains('c'),
        "--configs {:?}: (d) replays the misses of (c), so it needs c",
        args.configs
    );
    Ok(())
}

fn child(
    args: &BenchArgs,
    config: Config,
    schema: Schema,
    stream: StreamOptions,
) -> anyhow::Result<()> {
    let missing = |what: &str| anyhow::anyhow!("--config needs --{what}");
    let setup = ChildSetup {
        config,
        db: args.db.clone().ok_or_else(|| missing("db"))?,
        samples: args.samples.ok_or_else(|| missing("samples"))?,
        cache_bytes: args.cache_bytes.ok_or_else(|| missing("cache-bytes"))?,
        expected_rows: args.expected_rows.unwrap_or(0),
        batch: args.batch,
        lookahead: args.lookahead,
        threads: args.threads,
        presence_filter: !args.no_presence_filter,
        stream,
        entry_bytes: entry_bytes(&schema),
        schema,
    };
    let record = match config {
        Config::A | Config::C => run::train(&setup, false)?,
        Config::B => run::train(&setup, true)?,
        Config::D => raw::raw(&setup, false)?,
        Config::Dw => raw::raw(&setup, true)?,
        Config::Reopen => run::reopen(&setup)?,
    };
    say!("{record}")?;
    Ok(())
}

/// The sizes every configuration shares.
struct Sizes {
    plan: stream::Plan,
    groups: usize,
    dim: usize,
    rows_target: u64,
    full_cache_bytes: usize,
    small_cache_bytes: usize,
}

fn parent(args: &BenchArgs, schema: &Schema, stream: StreamOptions) -> anyhow::Result<()> {
    let rows_target = args.rows.unwrap_or(if args.quick { QUICK_ROWS } else { DEFAULT_ROWS });
    anyhow::ensure!(
        (1000..=MAX_ROWS).contains(&rows_target),
        "--rows {rows_target} must be in 1000..={MAX_ROWS}"
    );
    // Fail on an unwritable output before spending minutes on the runs.
    let out =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut records = Records { out, path: args.out.clone(), all: Vec::new() };

    let started = Instant::now();
    let plan = stream::plan(stream, args.batch, rows_target, rows_target * MAX_SAMPLES_PER_ROW)
        .with_context(|| {
            format!(
                "--zipf {} needs more than {} samples for {rows_target} rows",
                args.zipf,
                rows_target * MAX_SAMPLES_PER_ROW
            )
        })?;
    log::info!(
        "stream: {} samples materialize {} rows (counted in {:.1}s)",
        plan.samples,
        plan.rows,
        started.elapsed().as_secs_f64()
    );
    let entry = entry_bytes(schema);
    let rows = usize::try_from(plan.rows).context("row count")?;
    let sizes = Sizes {
        plan,
        groups: schema.groups.len(),
        dim: schema.groups.iter().map(|g| g.dim).max().unwrap_or(0),
        rows_target,
        // Every row plus one batch of slack, so nothing is ever evicted.
        full_cache_bytes: (rows + schema.groups.len() * args.batch) * entry,
        small_cache_bytes: ((plan.rows as f64 * args.cache_fraction).ceil() as usize) * entry,
    };
    warn_about_memory(sizes.full_cache_bytes, args.configs.contains('a'));

    let (dir, created) = work_dir(args.dir.as_deref())?;
    let result = run_all(args, &dir, &sizes, &mut records);
    let cleanup = if args.keep { Ok(()) } else { remove_work_dir(&dir, created) };
    result?;
    cleanup?;
    print_summary(args, &sizes, &records.all, stream)?;
    say!("records written to {}", args.out.display())?;
    Ok(())
}

/// The records so far; each is written to the output file as soon as it exists, so a run
/// stopped part-way keeps what it measured.
struct Records {
    out: File,
    path: PathBuf,
    all: Vec<Value>,
}

impl Records {
    fn push(&mut self, record: Value) -> anyhow::Result<()> {
        writeln!(self.out, "{record}")
            .and_then(|()| self.out.flush())
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.all.push(record);
        Ok(())
    }
}

/// Runs the selected configurations in order, then the reopen; removes each database once
/// nothing needs it (unless --keep), so the disk holds one or two at a time.
fn run_all(
    args: &BenchArgs,
    dir: &Path,
    sizes: &Sizes,
    records: &mut Records,
) -> anyhow::Result<()> {
    let mut reopened = false;
    for (letter, config) in [('a', Config::A), ('b', Config::B), ('c', Config::C)] {
        if !args.configs.contains(letter) {
            continue;
        }
        let db = dir.join(letter.to_string());
        let cache =
            if config == Config::A { sizes.full_cache_bytes } else { sizes.small_cache_bytes };
        let record = run_child(args, config, &db, sizes, cache)?;
        check_rows(&record, sizes.plan.rows)?;
        records.push(annotate(record, args, sizes))?;
        if config == Config::C && args.configs.contains('d') {
            let record = run_child(args, Config::D, &db, sizes, sizes.small_cache_bytes)?;
            records.push(annotate(record, args, sizes))?;
        }
        if !reopened {
            let record = run_child(args, Config::Reopen, &db, sizes, sizes.small_cache_bytes)?;
            records.push(annotate(record, args, sizes))?;
            reopened = true;
        }
        if !args.keep {
            std::fs::remove_dir_all(&db).with_context(|| format!("removing {}", db.display()))?;
        }
    }
    if args.configs.contains('w') {
        let db = dir.join("dw");
        std::fs::create_dir_all(&db).with_context(|| format!("creating {}", db.display()))?;
        let record = run_child(args, Config::Dw, &db, sizes, sizes.small_cache_bytes)?;
        records.push(annotate(record, args, sizes))?;
        if !args.keep {
            std::fs::remove_dir_all(&db).with_context(|| format!("removing {}", db.display()))?;
        }
    }
    Ok(())
}

/// Adds what every record shares: the stream and the row counts.
fn annotate(mut record: Value, args: &BenchArgs, sizes: &Sizes) -> Value {
    if let Some(map) = record.as_object_mut() {
        map.insert("rows_target".into(), json!(sizes.rows_target));
        map.insert("rows".into(), json!(sizes.plan.rows));
        map.insert("stream_samples".into(), json!(sizes.plan.samples));
        map.insert("zipf".into(), json!(args.zipf));
        map.insert("seed".into(), json!(args.seed));
        map.insert("groups".into(), json!(sizes.groups));
        map.insert("dim".into(), json!(sizes.dim));
    }
    record
}

/// A trained configuration must have created exactly the rows the parent counted.
fn check_rows(record: &Value, rows: u64) -> anyhow::Result<()> {
    let created = record["rows_created"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        created == rows,
        "configuration ({}) created {created} rows, the stream has {rows}",
        record["config"].as_str().unwrap_or("?")
    );
    Ok(())
}

fn run_child(
    args: &BenchArgs,
    config: Config,
    db: &Path,
    sizes: &Sizes,
    cache_bytes: usize,
) -> anyhow::Result<Value> {
    log::info!("({}) {}: running", config.letter(), config.description());
    let exe = std::env::current_exe().context("locating the gwen binary")?;
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .args(["--config", config.letter()])
        .arg("--db")
        .arg(db)
        .args(["--samples", &sizes.plan.samples.to_string()])
        .args(["--cache-bytes", &cache_bytes.to_string()])
        .args(["--expected-rows", &sizes.plan.rows.to_string()])
        .args(["--seed", &args.seed.to_string()])
        .args(["--zipf", &args.zipf.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--lookahead", &args.lookahead.to_string()])
        .args(["--threads", &args.threads.to_string()])
        .args(args.no_presence_filter.then_some("--no-presence-filter"))
        .args(verbosity())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let output = command.output().context("starting a configuration process")?;
    anyhow::ensure!(
        output.status.success(),
        "configuration ({}) failed ({}); its error is above",
        config.letter(),
        output.status
    );
    let text = String::from_utf8(output.stdout).context("configuration output is not UTF-8")?;
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .with_context(|| format!("configuration ({}) printed no record", config.letter()))?;
    let record: Value = serde_json::from_str(line)
        .with_context(|| format!("configuration ({}) printed {line:?}", config.letter()))?;
    log::info!("({}) done: {record}", config.letter());
    Ok(record)
}

/// The flag that gives a child this process's log level.
fn verbosity() -> Option<&'static str> {
    match log::max_level() {
        log::LevelFilter::Info => None,
        log::LevelFilter::Debug => Some("-v"),
        log::LevelFilter::Trace => Some("-vv"),
        _ => Some("-q"),
    }
}

/// The working directory and whether this run created it.
fn work_dir(given: Option<&Path>) -> anyhow::Result<(PathBuf, bool)> {
    let dir = match given {
        Some(dir) => dir.to_path_buf(),
        None => std::env::temp_dir().join(format!("gwen-bench-{}", std::process::id())),
    };
    let existed = dir.exists();
    if existed {
        let mut entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "{} is not empty; give --dir a new or empty directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok((dir, !existed))
}

fn remove_work_dir(dir: &Path, created: bool) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    if created {
        std::fs::remove_dir(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

fn warn_about_memory(full_cache_bytes: usize, runs_a: bool) {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
    });
    if let (true, Some(available)) = (runs_a, available) {
        if full_cache_bytes as u64 > available / 2 {
            log::warn!(
                "(a) caches every row: {} MiB of budget (more in RSS) against {} MiB available; \
                 leave it out with --configs bcd if it does not fit",
                full_cache_bytes >> 20,
                available >> 20
            );
        }
    }
}

/// Peak resident set of this process (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("reading /proc/self/status (peak RSS needs Linux)")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("no VmHWM in /proc/self/status")?;
    Ok(kb * 1024)
}

/// Bytes of all files under `dir`.
pub fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry.with_context(|| format!("reading {}", d.display()))?;
            let meta = entry.metadata().with_context(|| format!("{}", entry.path().display()))?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

fn find<'a>(records: &'a [Value], config: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["config"] == config)
}

fn print_summary(
    args: &BenchArgs,
    sizes: &Sizes,
    records: &[Value],
    stream: StreamOptions,
) -> anyhow::Result<()> {
    let mib = |v: &Value| v.as_f64().unwrap_or(0.0) / f64::from(1 << 20);
    say!(
        "gwen bench: {} samples, {} rows (target {}), {} groups, dim {}, Zipf {}, seed {}, \
         batch {}",
        sizes.plan.samples,
        sizes.plan.rows,
        sizes.rows_target,
        stream.groups,
        sizes.dim,
        args.zipf,
        args.seed,
        args.batch
    )?;
    say!(
        "{:<6} {:>11} {:>8} {:>9} {:>11} {:>12} {:>10} {:>10} {:>12}",
        "config",
        "samples/s",
        "hit rate",
        "wait s",
        "rows read",
        "rows written",
        "store MiB",
        "RSS MiB",
        "miss rows/s"
    )?;
    for r in records.iter().filter(|r| r["config"] != "reopen") {
        let wait =
            r["train_wait_s"].as_f64().unwrap_or(0.0) + r["input_wait_s"].as_f64().unwrap_or(0.0);
        say!(
            "({:<4} {:>11.0} {:>8.4} {:>9.2} {:>11} {:>12} {:>10.1} {:>10.1} {:>12.0}",
            format!("{})", r["config"].as_str().unwrap_or("?")),
            r["samples_per_s"].as_f64().unwrap_or(0.0),
            r["hit_rate"].as_f64().unwrap_or(0.0),
            wait,
            r["rows_read"].as_u64().unwrap_or(0),
            r["rows_written"].as_u64().unwrap_or(0),
            mib(&r["store_bytes"]),
            mib(&r["peak_rss_bytes"]),
            r["miss_rows_per_s"].as_f64().unwrap_or(0.0)
        )?;
    }
    let mut lines = String::new();
    targets(records, sizes, &mut lines);
    for line in lines.lines() {
        say!("{line}")?;
    }
    Ok(())
}

/// The targets of the issue, one line each.
fn targets(records: &[Value], sizes: &Sizes, out: &mut String) {
    let get = |c: &str, k: &str| find(records, c).and_then(|r| r[k].as_f64());
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    if let (Some(a), Some(b)) = (get("a", "samples_per_s"), get("b", "samples_per_s")) {
        let ratio = b / a;
        let _ = writeln!(
            out,
            "(b)/(a) samples/s: {ratio:.3} (target >= 0.7: {})",
            verdict(ratio >= 0.7)
        );
    }
    let with = |c: &str| get(c, "samples_per_s_with_checkpoint");
    if let (Some(a), Some(b)) = (with("a"), with("b")) {
        let _ = writeln!(out, "(b)/(a) samples/s with the final checkpoint: {:.3}", b / a);
    }
    for raw in ["d", "dw"] {
        let Some(d) = get(raw, "miss_rows_per_s") else { continue };
        for c in ["b", "c"] {
            if let Some(e) = get(c, "miss_rows_per_s") {
                let ratio = e / d;
                let _ = writeln!(
                    out,
                    "engine miss path ({c}) / raw ({raw}) rows/s: {ratio:.3} (target >= 0.8: {})",
                    verdict(ratio >= 0.8)
                );
            }
        }
    }
    for raw in ["d", "dw"] {
        if let (Some(c), Some(d)) = (find(records, "c"), find(records, raw)) {
            // The replay's LRU holds the row share exactly; the engine's also carries its
            // write-back buffer and takes buffered rows back without a read, so the two
            // streams of misses differ by a few percent.
            let n = |r: &Value, key: &str| r[key].as_f64().unwrap_or(0.0);
            let off = (n(d, "expected_rows_read") / n(c, "rows_read").max(1.0) - 1.0) * 100.0;
            let _ = writeln!(out, "({raw}) reads {off:+.1}% of the rows (c) read");
        }
    }
    if let (Some(rss), Some(cache)) = (get("b", "peak_rss_bytes"), get("b", "cache_bytes")) {
        let rocks = RocksOptions::default();
        let allowance =
            (rocks.block_cache_bytes + rocks.memtable_bytes) as f64 + PROCESS_OVERHEAD_BYTES as f64;
        let _ = writeln!(
            out,
            "peak RSS (b): {:.0} MiB; cache {:.0} MiB + overhead allowance {:.0} MiB = {:.0} MiB \
             ({})",
            rss / f64::from(1 << 20),
            cache / f64::from(1 << 20),
            allowance / f64::from(1 << 20),
            (cache + allowance) / f64::from(1 << 20),
            verdict(rss <= cache + allowance)
        );
    }
    if let Some(reopen) = get("reopen", "reopen_s") {
        let _ = writeln!(
            out,
            "reopen of {} rows: {reopen:.3} s (target < 5 s for 20M rows: {})",
            sizes.plan.rows,
            verdict(reopen < 5.0)
        );
    }
}
