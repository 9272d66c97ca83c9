//! Operator commands: `inspect`, `compact`, `checkpoint`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use gwen::admin::{self, CheckpointInfo, DatabaseInfo};
use indicatif::{ProgressBar, ProgressStyle};

use crate::logging;
use crate::say;

/// Arguments of `gwen inspect`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InspectArgs {
    #[command(subcommand)]
    what: Option<InspectWhat>,
    /// Model database directory.
    db: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum InspectWhat {
    /// One row: by group and raw feature value (hashed as in training), or by numeric id.
    Row(RowArgs),
}

/// Arguments of `gwen inspect row`.
#[derive(Debug, Args)]
pub struct RowArgs {
    /// Model database directory.
    db: PathBuf,
    /// The feature group.
    #[arg(long)]
    group: String,
    /// The input field of the raw value (default: the group's only field).
    #[arg(long)]
    field: Option<String>,
    /// The raw feature value, as it appears in the input file.
    #[arg(long, conflicts_with = "id", required_unless_present = "id")]
    value: Option<String>,
    /// The numeric id (decimal, or hex with 0x).
    #[arg(long)]
    id: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `gwen compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Model database directory.
    db: PathBuf,
    /// Only this group (default: all).
    #[arg(long)]
    group: Option<String>,
    /// Drop rows whose last update is more than this many steps before the current step.
    #[arg(long)]
    ttl_steps: Option<u64>,
    /// Drop rows seen fewer than this many times in training.
    #[arg(long)]
    min_count: Option<u32>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `gwen checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(subcommand)]
    action: CheckpointAction,
}

#[derive(Debug, Subcommand)]
enum CheckpointAction {
    /// List checkpoints with step, time and size.
    List {
        /// Model database directory.
        db: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a checkpoint of the current state now.
    Create {
        /// Model database directory.
        db: PathBuf,
    },
    /// Bring the database back to a checkpoint (later checkpoints are deleted).
    Restore {
        /// Model database directory.
        db: PathBuf,
        /// The step of the checkpoint.
        #[arg(long)]
        step: u64,
    },
    /// Delete all but the newest checkpoints.
    Prune {
        /// Model database directory.
        db: PathBuf,
        /// How many to keep.
        #[arg(long, default_value_t = 1)]
        keep: usize,
    },
}

/// Exit code of `inspect row` when the row does not exist.
pub const EXIT_NOT_FOUND: u8 = 1;

/// `gwen inspect`; returns whether something was found.
pub fn inspect(args: &InspectArgs) -> anyhow::Result<bool> {
    if let Some(InspectWhat::Row(row)) = &args.what {
        return inspect_row(row);
    }
    let db = args.db.as_ref().context("give the database directory: gwen inspect DB")?;
    let info = admin::inspect(db).with_context(|| format!("inspecting {}", db.display()))?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&info)?)?;
    } else {
        print_info(&info)?;
    }
    Ok(true)
}

fn print_info(info: &DatabaseInfo) -> std::io::Result<()> {
    say!("database        {}", info.path.display())?;
    say!("format version  {}", info.format_version)?;
    say!(
        "view            checkpoint step {} ({}), written {} s ago",
        info.step,
        info.view.display(),
        info.view_age_s
    )?;
    say!("live store      {} ({})", info.live_state, mib(info.live_bytes))?;
    say!("input           {}", format!("{:?}", info.input.format).to_lowercase())?;
    say!("mlp             {} dense inputs, hidden {:?}", info.dense_width, info.mlp_hidden)?;
    say!("")?;
    say!(
        "{:<16} {:>4} {:<5} {:<8} {:>8} {:>12} {:>10} {:>10} {:>9}  fields",
        "group",
        "dim",
        "pool",
        "opt",
        "lr",
        "~rows",
        "sst",
        "live",
        "pending"
    )?;
    for g in &info.groups {
        let p = &g.properties;
        say!(
            "{:<16} {:>4} {:<5} {:<8} {:>8} {:>12} {:>10} {:>10} {:>9}  {}",
            g.name,
            g.dim,
            g.pooling,
            g.optimizer,
            g.lr,
            p.estimated_rows,
            mib(p.sst_bytes),
            mib(p.live_data_bytes),
            mib(p.pending_compaction_bytes),
            g.fields.join(",")
        )?;
    }
    let rows: u64 = info.groups.iter().map(|g| g.properties.estimated_rows).sum();
    let bytes: u64 = info.groups.iter().map(|g| g.properties.sst_bytes).sum();
    say!(
        "{:<16} {:>4} {:<5} {:<8} {:>8} {:>12} {:>10}",
        "total",
        "",
        "",
        "",
        "",
        rows,
        mib(bytes)
    )?;
    say!("")?;
    say!("sst files       {} in all", info.sst_files.len())?;
    for level in &info.levels {
        say!("  level {}       {} files, {}", level.level, level.files, mib(level.bytes))?;
    }
    say!("")?;
    print_checkpoints(&info.checkpoints)
}

fn print_checkpoints(checkpoints: &[CheckpointInfo]) -> std::io::Result<()> {
    say!("{:>12}  {:<23}  {:>10}  path", "step", "created", "size")?;
    for c in checkpoints {
        let created = utc(c.created_unix_s);
        say!("{:>12}  {created:<23}  {:>10}  {}", c.step, mib(c.bytes), c.path.display())?;
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time (proleptic Gregorian calendar).
fn utc(unix_s: u64) -> String {
    let (days, secs) = ((unix_s / 86_400) as i64, unix_s % 86_400);
    // Days since 1970-01-01 to a civil date, by 400-year eras of 146,097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn inspect_row(args: &RowArgs) -> anyhow::Result<bool> {
    let id = match (&args.id, &args.value) {
        (Some(id), _) => parse_id(id)?,
        (None, Some(value)) => {
            let info = admin::inspect(&args.db)
                .with_context(|| format!("inspecting {}", args.db.display()))?;
            let group = info.groups.iter().find(|g| g.name == args.group);
            let group = group.with_context(|| format!("no group {:?}", args.group))?;
            let field = match &args.field {
                Some(f) => f.clone(),
                None if group.fields.len() == 1 => group.fields[0].clone(),
                None => anyhow::bail!(
                    "group {} pools several fields ({}); say which with --field",
                    group.name,
                    group.fields.join(", ")
                ),
            };
            anyhow::ensure!(
                group.fields.contains(&field),
                "field {field} is not in group {}",
                group.name
            );
            let bytes = info.input.hashed_bytes(value)?;
            gwen::hash_feature(info.hash_seed, &field, &bytes)
        }
        (None, None) => anyhow::bail!("give --value or --id"),
    };
    let row = admin::read_row(&args.db, &args.group, id)
        .with_context(|| format!("reading {}", args.db.display()))?;
    let Some(row) = row else {
        say!("no such row: group {} id {id:#018x} was never trained (or was evicted)", args.group)?;
        return Ok(false);
    };
    if args.json {
        say!("{}", serde_json::to_string(&row)?)?;
        return Ok(true);
    }
    say!("group       {}", row.group)?;
    say!("id          {:#018x} ({})", row.id, row.id)?;
    say!("seen count  {}", row.seen_count)?;
    say!("last step   {}", row.last_step)?;
    say!("weights     {:?}", row.weights)?;
    say!("state       {:?}", row.state)?;
    Ok(true)
}

fn parse_id(text: &str) -> anyhow::Result<u64> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.with_context(|| format!("--id {text:?} is not a decimal or 0x-hex 64-bit number"))
}

/// `gwen compact`.
pub fn compact(args: &CompactArgs) -> anyhow::Result<()> {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("compact [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    logging::set_progress(Some(bar.clone()));
    let report = admin::compact(
        &args.db,
        args.group.as_deref(),
        args.ttl_steps,
        args.min_count,
        &mut |group, i, n| {
            bar.set_length(n as u64);
            bar.set_position(i as u64);
            bar.set_message(format!("group {group}"));
        },
    )
    .with_context(|| format!("compacting {}", args.db.display()));
    bar.finish_and_clear();
    logging::set_progress(None);
    let report = report?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    say!("{:<16} {:>12} {:>12} {:>12}", "group", "bytes before", "bytes after", "rows dropped")?;
    for g in &report {
        say!(
            "{:<16} {:>12} {:>12} {:>12}",
            g.group,
            g.bytes_before,
            g.bytes_after,
            g.rows_dropped
        )?;
    }
    let before: u64 = report.iter().map(|g| g.bytes_before).sum();
    let after: u64 = report.iter().map(|g| g.bytes_after).sum();
    let dropped: u64 = report.iter().map(|g| g.rows_dropped).sum();
    say!("{:<16} {:>12} {:>12} {:>12}", "total", before, after, dropped)?;
    Ok(())
}

/// `gwen checkpoint`.
pub fn checkpoint(args: &CheckpointArgs) -> anyhow::Result<()> {
    match &args.action {
        CheckpointAction::List { db, json } => {
            let list =
                admin::list_checkpoints(db).with_context(|| format!("listing {}", db.display()))?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&list)?)?;
            } else {
                print_checkpoints(&list)?;
            }
        }
        CheckpointAction::Create { db } => {
            let c = admin::create_checkpoint(db)
                .with_context(|| format!("checkpointing {}", db.display()))?;
            say!("checkpoint of step {} at {} ({})", c.step, c.path.display(), mib(c.bytes))?;
        }
        CheckpointAction::Restore { db, step } => {
            let removed = admin::restore_checkpoint(db, *step)
                .with_context(|| format!("restoring {}", db.display()))?;
            say!("restored step {step}; removed later checkpoints {removed:?}")?;
        }
        CheckpointAction::Prune { db, keep } => {
            let removed = admin::prune_checkpoints(db, *keep)
                .with_context(|| format!("pruning {}", db.display()))?;
            say!("removed checkpoints {removed:?}; kept the newest {keep}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_796_400_925), "2026-12-04 16:15:25 UTC");
    }
}
