//! Operator tools over a database directory: inspection, compaction with eviction,
//! checkpoint management, export and import.
//!
//! Reading tools look at the newest checkpoint, opened read-only: they never take the write
//! lock, so they work while a trainer runs, and they see one consistent step.

mod transfer;

use std::path::{Path, PathBuf};

pub use transfer::{export, import, ExportOptions, ExportReport, ImportReport};

use crate::engine::{read_schema, Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::hash::EmbeddingId;
use crate::layout;
use crate::schema::Schema;
use crate::store::record::decode_row;
use crate::store::{
    EvictionPolicy, GroupProperties, OpenMode, RocksOptions, RocksStore, SstFile, Store,
};

/// A read-only view of a database: its newest checkpoint.
pub(crate) struct View {
    /// The checkpoint's store, groups bound in schema order.
    pub store: RocksStore,
    /// The stored schema.
    pub schema: Schema,
    /// The step of the checkpoint.
    pub step: u64,
    /// The checkpoint directory.
    pub path: PathBuf,
}

/// Opens the newest checkpoint of the database in `dir` read-only.
pub(crate) fn open_view(dir: &Path) -> Result<View> {
    if !dir.is_dir() {
        return Err(Error::InvalidArgument(format!("no database at {}", dir.display())));
    }
    let checkpoints = layout::list_checkpoints(dir)?;
    let (step, path) = checkpoints.last().cloned().ok_or_else(|| {
        Error::InvalidArgument(format!("{} is not a gwen database (no checkpoint)", dir.display()))
    })?;
    let mut store = RocksStore::open(&path, &RocksOptions::default(), OpenMode::ReadOnly)?;
    store.verify_checkpoint()?;
    let schema = read_schema(&store, dir)?;
    let names: Vec<String> = schema.groups.iter().map(|g| g.name.clone()).collect();
    store.bind_groups(&names)?;
    Ok(View { store, schema, step, path })
}

/// The index of the group called `name`.
pub(crate) fn group_index(schema: &Schema, name: &str) -> Result<usize> {
    schema.groups.iter().position(|g| g.name == name).ok_or_else(|| {
        let names: Vec<&str> = schema.groups.iter().map(|g| g.name.as_str()).collect();
        Error::InvalidArgument(format!("no group {name:?}; the groups are {}", names.join(", ")))
    })
}

/// One checkpoint on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointInfo {
    /// The train step it holds.
    pub step: u64,
    /// Its directory.
    pub path: PathBuf,
    /// When it was completed (seconds since the Unix epoch).
    pub created_unix_s: u64,
    /// Bytes of its files (SST files are hard links shared with the live store).
    pub bytes: u64,
}

/// The checkpoints of the database in `dir`, oldest first.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when `dir` is not a database; I/O errors.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<CheckpointInfo>> {
    check_database_dir(dir)?;
    let mut out = Vec::new();
    for (step, path) in layout::list_checkpoints(dir)? {
        let meta = std::fs::metadata(&path).map_err(|e| Error::io("stat", &path, e))?;
        let created = meta.modified().map_err(|e| Error::io("stat", &path, e))?;
        let created_unix_s =
            created.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        out.push(CheckpointInfo { step, bytes: dir_bytes(&path)?, path, created_unix_s });
    }
    Ok(out)
}

/// Takes a checkpoint of the current state now (opening the database for writing, which
/// first restores the newest checkpoint if the store was left unfinished). Keeps every
/// existing checkpoint. Returns the new checkpoint.
///
/// # Errors
///
/// [`Error::Locked`] while a trainer runs; the errors of [`Engine::open`].
pub fn create_checkpoint(dir: &Path) -> Result<CheckpointInfo> {
    let options = EngineOptions { keep_checkpoints: 0, ..EngineOptions::default() };
    let step = Engine::open(dir, options)?.checkpoint()?;
    list_checkpoints(dir)?.into_iter().find(|c| c.step == step).ok_or_else(|| Error::Corruption {
        what: dir.display().to_string(),
        reason: format!("checkpoint of step {step} missing right after it was taken"),
    })
}

/// Brings the live store of `dir` back to the checkpoint of `step`. Later checkpoints are
/// deleted, so every reader sees the restored step.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when there is no checkpoint of `step` (the message lists the
/// ones there are); [`Error::Locked`] while a trainer runs; I/O errors.
pub fn restore_checkpoint(dir: &Path, step: u64) -> Result<Vec<u64>> {
    check_database_dir(dir)?;
    let all = layout::list_checkpoints(dir)?;
    let Some((_, path)) = all.iter().find(|(s, _)| *s == step) else {
        let steps: Vec<String> = all.iter().map(|(s, _)| s.to_string()).collect();
        return Err(Error::InvalidArgument(format!(
            "{} has no checkpoint of step {step}; it has {}",
            dir.display(),
            if steps.is_empty() { "none".to_string() } else { steps.join(", ") }
        )));
    };
    // Validate the checkpoint, then hold the live store's lock while nothing else may run.
    drop(open_view_at(dir, path)?);
    let live = layout::store_dir(dir);
    if live.is_dir() {
        drop(RocksStore::open(&live, &RocksOptions::default(), OpenMode::ReadWrite)?);
    }
    let mut removed = Vec::new();
    for (later, later_path) in all.iter().filter(|(s, _)| *s > step) {
        layout::remove_if_exists(later_path)?;
        removed.push(*later);
    }
    layout::restore_store(dir, path)?;
    log::info!("{}: restored checkpoint {step}; removed later ones {removed:?}", dir.display());
    Ok(removed)
}

/// Deletes all but the newest `keep` checkpoints (at least one is always kept). Returns the
/// steps removed.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for `keep == 0` or a directory that is not a database; I/O errors.
pub fn prune_checkpoints(dir: &Path, keep: usize) -> Result<Vec<u64>> {
    check_database_dir(dir)?;
    if keep == 0 {
        return Err(Error::InvalidArgument("keep at least one checkpoint".into()));
    }
    let all = layout::list_checkpoints(dir)?;
    let mut removed = Vec::new();
    for (step, path) in all.iter().take(all.len().saturating_sub(keep)) {
        layout::remove_if_exists(path)?;
        removed.push(*step);
    }
    Ok(removed)
}

fn open_view_at(dir: &Path, checkpoint: &Path) -> Result<RocksStore> {
    let store = RocksStore::open(checkpoint, &RocksOptions::default(), OpenMode::ReadOnly)?;
    read_schema(&store, dir)?;
    Ok(store)
}

/// A gwen database directory has `store/` or `checkpoints/`; anything else is refused before
/// it is touched.
fn check_database_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::InvalidArgument(format!("no database at {}", dir.display())));
    }
    if !layout::store_dir(dir).is_dir() && !layout::checkpoints_dir(dir).is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{} is not a gwen database (no store/ or checkpoints/ inside)",
            dir.display()
        )));
    }
    Ok(())
}

/// Total bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| Error::io("list", &d, e))? {
            let entry = entry.map_err(|e| Error::io("list", &d, e))?;
            let meta = entry.metadata().map_err(|e| Error::io("stat", entry.path(), e))?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// What `gwen inspect` shows of one group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupInfo {
    /// Group name.
    pub name: String,
    /// Input fields pooled by the group.
    pub fields: Vec<String>,
    /// Row width.
    pub dim: usize,
    /// Pooling (`sum` or `mean`).
    pub pooling: String,
    /// Sparse optimizer (`adagrad` or `sgd`).
    pub optimizer: String,
    /// Its learning rate.
    pub lr: f32,
    /// Bytes of one stored row record.
    pub row_bytes: usize,
    /// RocksDB's properties of the group's column family (estimates; no scan).
    pub properties: GroupProperties,
}

/// Files and bytes at one LSM level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LevelInfo {
    /// The level.
    pub level: i32,
    /// SST files at this level.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// What `gwen inspect` shows of a database.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DatabaseInfo {
    /// The database directory.
    pub path: PathBuf,
    /// On-disk format version.
    pub format_version: u32,
    /// The step of the newest checkpoint: what this view shows.
    pub step: u64,
    /// The checkpoint read.
    pub view: PathBuf,
    /// Seconds since that checkpoint was completed.
    pub view_age_s: u64,
    /// State of the live store: `clean` (at a checkpoint), `dirty` (training, or stopped
    /// without a checkpoint: the next writer restores the newest checkpoint), or why it could
    /// not be read.
    pub live_state: String,
    /// Bytes of the live store directory.
    pub live_bytes: u64,
    /// Seed of the feature hash (to hash raw values as training did).
    pub hash_seed: u64,
    /// How the model's input files are read (the schema's `[input]`).
    pub input: crate::InputSettings,
    /// MLP hidden widths.
    pub mlp_hidden: Vec<usize>,
    /// Dense inputs.
    pub dense_width: usize,
    /// The groups.
    pub groups: Vec<GroupInfo>,
    /// SST files per level (all column families).
    pub levels: Vec<LevelInfo>,
    /// Every SST file.
    pub sst_files: Vec<SstFile>,
    /// The checkpoints on disk.
    pub checkpoints: Vec<CheckpointInfo>,
}

/// Describes the database in `dir` from its newest checkpoint, read-only: safe while a
/// trainer runs, and changes nothing on disk.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a directory that is not a database; corruption and store
/// errors.
pub fn inspect(dir: &Path) -> Result<DatabaseInfo> {
    check_database_dir(dir)?;
    let view = open_view(dir)?;
    let checkpoints = list_checkpoints(dir)?;
    let newest = checkpoints.iter().find(|c| c.path == view.path);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now = now.map(|d| d.as_secs()).unwrap_or(0);
    let view_age_s = newest.map_or(0, |c| now.saturating_sub(c.created_unix_s));
    let mut groups = Vec::with_capacity(view.schema.groups.len());
    for (g, group) in view.schema.groups.iter().enumerate() {
        let optimizer = view.schema.group_optimizer(g);
        groups.push(GroupInfo {
            name: group.name.clone(),
            fields: group.fields.clone(),
            dim: group.dim,
            pooling: format!("{:?}", group.pooling).to_lowercase(),
            optimizer: format!("{:?}", optimizer.kind).to_lowercase(),
            lr: optimizer.lr,
            row_bytes: crate::store::record::record_len(group.dim + optimizer.kind.state_len()),
            properties: view.store.group_properties(g)?,
        });
    }
    let sst_files = view.store.sst_files()?;
    let mut levels: Vec<LevelInfo> = Vec::new();
    for file in &sst_files {
        match levels.iter_mut().find(|l| l.level == file.level) {
            Some(level) => {
                level.files += 1;
                level.bytes += file.bytes;
            }
            None => levels.push(LevelInfo { level: file.level, files: 1, bytes: file.bytes }),
        }
    }
    levels.sort_by_key(|l| l.level);
    let live = layout::store_dir(dir);
    let live_bytes = if live.is_dir() { dir_bytes(&live)? } else { 0 };
    Ok(DatabaseInfo {
        path: dir.to_path_buf(),
        format_version: crate::store::FORMAT_VERSION,
        step: view.step,
        view: view.path.clone(),
        view_age_s,
        live_state: live_state(&live),
        live_bytes,
        hash_seed: view.schema.hash_seed,
        input: view.schema.input.clone(),
        mlp_hidden: view.schema.mlp.hidden.clone(),
        dense_width: view.schema.dense_width(),
        groups,
        levels,
        sst_files,
        checkpoints,
    })
}

fn live_state(live: &Path) -> String {
    if !live.is_dir() {
        return "missing (the next writer restores the newest checkpoint)".into();
    }
    let state = RocksStore::open(live, &RocksOptions::default(), OpenMode::ReadOnly)
        .and_then(|store| store.meta(crate::store::META_STATE));
    match state {
        Ok(Some(s)) if s == b"clean" => "clean".into(),
        Ok(Some(s)) if s == b"dirty" => "dirty".into(),
        Ok(other) => format!("unknown state {other:?}"),
        Err(e) => format!("unreadable: {e}"),
    }
}

/// One stored row, decoded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RowInfo {
    /// Its group.
    pub group: String,
    /// Its id.
    pub id: EmbeddingId,
    /// The weights (`dim` values).
    pub weights: Vec<f32>,
    /// The optimizer state (one Adagrad accumulator, or nothing for SGD).
    pub state: Vec<f32>,
    /// Sightings in training batches.
    pub seen_count: u32,
    /// The step that last updated it.
    pub last_step: u64,
}

/// Reads one row of the newest checkpoint; `None` for an id that was never trained (or was
/// evicted).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an unknown group or a directory that is not a database;
/// corruption and store errors.
pub fn read_row(dir: &Path, group: &str, id: EmbeddingId) -> Result<Option<RowInfo>> {
    check_database_dir(dir)?;
    let view = open_view(dir)?;
    let g = group_index(&view.schema, group)?;
    let mut row = None;
    view.store.multi_get(g, &[id], &mut |_, bytes| {
        row = Some(decode_info(&view.schema, g, id, bytes)?);
        Ok(())
    })?;
    Ok(row)
}

/// Calls `f` for every row of `group` in the newest checkpoint, in id order, until it returns
/// `Ok(false)`; returns how many rows were visited.
///
/// # Errors
///
/// As [`read_row`], and the first error of `f`.
pub fn for_each_row(
    dir: &Path,
    group: &str,
    f: &mut dyn FnMut(RowInfo) -> Result<bool>,
) -> Result<u64> {
    check_database_dir(dir)?;
    let view = open_view(dir)?;
    let g = group_index(&view.schema, group)?;
    let mut n = 0;
    view.store.scan_group(g, &mut |id, bytes| {
        n += 1;
        f(decode_info(&view.schema, g, id, bytes)?)
    })?;
    Ok(n)
}

fn decode_info(schema: &Schema, g: usize, id: EmbeddingId, bytes: &[u8]) -> Result<RowInfo> {
    let group = &schema.groups[g];
    let kind = schema.group_optimizer(g).kind;
    let mut values = vec![0f32; group.dim + kind.state_len()];
    let header = decode_row(bytes, kind.tag(), &mut values, &group.name, id)?;
    let state = values.split_off(group.dim);
    Ok(RowInfo {
        group: group.name.clone(),
        id,
        weights: values,
        state,
        seen_count: header.seen_count,
        last_step: header.last_step,
    })
}

/// What [`compact`] did to one group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupCompaction {
    /// The group.
    pub group: String,
    /// SST bytes before.
    pub bytes_before: u64,
    /// SST bytes after.
    pub bytes_after: u64,
    /// Rows dropped by the eviction policy.
    pub rows_dropped: u64,
}

/// Compacts one group (or all) of the live store, dropping the rows `ttl_steps`/`min_count`
/// select (see [`EvictionPolicy`]) in the same pass, then takes a checkpoint at the same step
/// so readers see the result. `progress(group, index, count)` is called before each group.
///
/// # Errors
///
/// [`Error::Locked`] while a trainer runs; [`Error::InvalidArgument`] for an unknown group or
/// a directory that is not a database; store errors.
pub fn compact(
    dir: &Path,
    group: Option<&str>,
    ttl_steps: Option<u64>,
    min_count: Option<u32>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<GroupCompaction>> {
    check_database_dir(dir)?;
    // Opening through the engine restores an unfinished store and checks the schema.
    let (schema, step) = {
        let engine = Engine::open(dir, EngineOptions::default())?;
        (engine.schema().clone(), engine.step())
    };
    let selected: Vec<usize> = match group {
        Some(name) => vec![group_index(&schema, name)?],
        None => (0..schema.groups.len()).collect(),
    };
    let policy = EvictionPolicy { ttl_steps, min_count, current_step: step };
    let live = layout::store_dir(dir);
    let rocks = RocksOptions::default();
    let selected_names: Vec<String> =
        selected.iter().map(|&g| schema.groups[g].name.clone()).collect();
    let mut store = RocksStore::open_with_eviction(
        &live,
        &rocks,
        OpenMode::ReadWrite,
        policy.is_active().then_some(policy),
        Some(&selected_names),
    )?;
    let names: Vec<String> = schema.groups.iter().map(|g| g.name.clone()).collect();
    store.bind_groups(&names)?;
    store.flush()?;
    let mut report = Vec::with_capacity(selected.len());
    for (i, &g) in selected.iter().enumerate() {
        progress(&names[g], i, selected.len());
        let before = store.group_properties(g)?.sst_bytes;
        let started = std::time::Instant::now();
        store.compact_group(g)?;
        let after = store.group_properties(g)?.sst_bytes;
        let rows_dropped = store.dropped_rows(g);
        log::info!(
            "compacted group {}: {before} -> {after} bytes, {rows_dropped} rows dropped in {:.2}s",
            names[g],
            started.elapsed().as_secs_f64()
        );
        report.push(GroupCompaction {
            group: names[g].clone(),
            bytes_before: before,
            bytes_after: after,
            rows_dropped,
        });
    }
    layout::take_snapshot(dir, &store, step, EngineOptions::default().keep_checkpoints)?;
    Ok(report)
}
