//! `gwen export` and `gwen import`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gwen::admin::ExportOptions;

use crate::say;

/// Arguments of `gwen export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model database directory (its newest checkpoint is read; a trainer may keep running).
    #[arg(long)]
    db: PathBuf,
    /// Output directory (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Export only this feature group.
    #[arg(long)]
    group: Option<String>,
    /// Export only rows updated after this step (an incremental export for a serving copy).
    #[arg(long)]
    since_step: Option<u64>,
}

/// Arguments of `gwen import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Model database directory (created when missing).
    #[arg(long)]
    db: PathBuf,
    /// Directory written by `gwen export`.
    #[arg(long)]
    from: PathBuf,
}

/// `gwen export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let options = ExportOptions { group: args.group.clone(), since_step: args.since_step };
    let report = gwen::admin::export(&args.db, &args.out, &options)
        .with_context(|| format!("exporting {} to {}", args.db.display(), args.out.display()))?;
    let selection = match report.since_step {
        Some(since) => format!(" (updated after step {since})"),
        None => String::new(),
    };
    say!(
        "exported {} rows{selection} of step {} from {} to {}",
        total_rows(&report.groups),
        report.step,
        args.db.display(),
        args.out.display()
    )?;
    print_groups(&report.groups)?;
    log::debug!("{report:?}");
    Ok(())
}

/// `gwen import`.
pub fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let report = gwen::admin::import(&args.db, &args.from, gwen::EngineOptions::default())
        .with_context(|| format!("importing {} into {}", args.from.display(), args.db.display()))?;
    let created = if report.created { " (new database)" } else { "" };
    say!(
        "imported {} rows from {} into {}{created}; checkpoint at step {}",
        total_rows(&report.groups),
        args.from.display(),
        args.db.display(),
        report.step
    )?;
    print_groups(&report.groups)?;
    log::debug!("{report:?}");
    Ok(())
}

fn total_rows(groups: &[(String, u64)]) -> u64 {
    groups.iter().map(|(_, n)| n).sum()
}

fn print_groups(groups: &[(String, u64)]) -> std::io::Result<()> {
    let width = groups.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, rows) in groups {
        say!("  group {name:<width$}  {rows} rows")?;
    }
    Ok(())
}
