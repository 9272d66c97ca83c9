//! `gwen export` and `gwen import`.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `gwen export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model database directory.
    #[arg(long)]
    db: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
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
    let report = gwen::admin::export(&args.db, &args.out, &gwen::admin::ExportOptions::default())?;
    log::info!("exported {report:?}");
    Ok(())
}

/// `gwen import`.
pub fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let report = gwen::admin::import(&args.db, &args.from, gwen::EngineOptions::default())?;
    log::info!("imported {report:?}");
    Ok(())
}
