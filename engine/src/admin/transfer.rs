//! Export of rows to portable files and import back.
//!
//! An export is a directory (layout in `docs/design.md`, "Export format"):
//!
//! ```text
//! manifest.toml          format, version, step, since_step, per group: rows, dim, state_len
//! schema.toml            the stored schema
//! dense.bin              the dense record (MLP and Adam state) exactly as stored
//! <group>.ids.npy        <u8 (u64), shape (n,)
//! <group>.weights.npy    <f4, shape (n, dim)
//! <group>.state.npy      <f4, shape (n, state_len); only when the optimizer has state
//! <group>.meta.npy       <u8 (u64), shape (n, 2): seen count, last step
//! ```
//!
//! Row `i` of every file of a group belongs to the id at row `i` of `ids.npy`. Together the
//! files hold every bit of a stored row, so export followed by import is exact.

mod npy;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use self::npy::{NpyReader, NpyWriter};
use super::{group_index, open_view, View};
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::layout;
use crate::schema::Schema;
use crate::store::record::{decode_row, encode_row, RowHeader};
use crate::store::{self, Store as _, WriteSet};

/// The `format` entry of every manifest.
const FORMAT: &str = "gwen-export";
/// The layout version this build writes and reads.
const VERSION: u32 = 1;
const MANIFEST_FILE: &str = "manifest.toml";
const SCHEMA_FILE: &str = "schema.toml";
const DENSE_FILE: &str = "dense.bin";
/// Rows per store write (and per read from the files) on import.
const ROWS_PER_BATCH: usize = 10_000;

/// What [`export`] writes.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Only this group (all groups when `None`).
    pub group: Option<String>,
    /// Only rows updated after this step (all rows when `None`).
    pub since_step: Option<u64>,
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    /// The checkpoint step exported.
    pub step: u64,
    /// Rows written per group, in schema order.
    pub groups: Vec<(String, u64)>,
    /// The `since_step` the rows were selected with.
    pub since_step: Option<u64>,
}

/// What [`import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// The step of the database after the import.
    pub step: u64,
    /// Rows imported per group.
    pub groups: Vec<(String, u64)>,
    /// True when the import created the database.
    pub created: bool,
}

/// `manifest.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    version: u32,
    step: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since_step: Option<u64>,
    groups: Vec<ManifestGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestGroup {
    name: String,
    rows: u64,
    dim: usize,
    state_len: usize,
}

fn group_file(dir: &Path, group: &str, kind: &str) -> PathBuf {
    dir.join(format!("{group}.{kind}.npy"))
}

/// Writes the rows of the newest checkpoint of `dir` to files under `out`.
///
/// `out` must not exist or be an empty directory. The files are written into `<out>.tmp`,
/// which is renamed to `out` once complete, so a failed export leaves nothing behind. The
/// database is only read (its newest checkpoint), so this works while a trainer runs.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when `dir` holds no database, for an unknown group, or when
/// `out` (or `<out>.tmp`) is in the way; [`Error::Corruption`] for a bad stored row (naming
/// its group and id); I/O and store errors.
pub fn export(dir: &Path, out: &Path, options: &ExportOptions) -> Result<ExportReport> {
    let started = Instant::now();
    let view = open_view(dir)?;
    let groups: Vec<usize> = match &options.group {
        Some(name) => vec![group_index(&view.schema, name)?],
        None => (0..view.schema.groups.len()).collect(),
    };
    let staging = prepare_out(dir, out)?;
    log::info!(
        "exporting step {} of {} to {} ({} groups, since step {:?})",
        view.step,
        dir.display(),
        out.display(),
        groups.len(),
        options.since_step
    );
    let report = write_export(&view, &groups, options.since_step, &staging)
        .and_then(|report| publish(&staging, out).map(|()| report))
        .inspect_err(|_| {
            if let Err(e) = layout::remove_if_exists(&staging) {
                log::warn!("could not remove {}: {e}", staging.display());
            }
        })?;
    let rows: u64 = report.groups.iter().map(|(_, n)| n).sum();
    log::info!(
        "exported {rows} rows of step {} to {} in {:.3}s",
        report.step,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(report)
}

/// Checks that `out` may receive an export and creates the staging directory beside it.
fn prepare_out(db: &Path, out: &Path) -> Result<PathBuf> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{} exists and is not a directory",
                out.display()
            )));
        }
        let entries = fs::read_dir(out).map_err(|e| Error::io("list", out, e))?;
        if entries.count() > 0 {
            return Err(Error::InvalidArgument(format!(
                "{} exists and is not empty; refusing to write an export there",
                out.display()
            )));
        }
    }
    // Inside the database an export could pass for a checkpoint (`checkpoints/step-<N>`).
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let (Ok(parent), Ok(db)) = (parent.canonicalize(), db.canonicalize()) {
        if parent.starts_with(&db) {
            return Err(Error::InvalidArgument(format!(
                "{} is inside the database {}; export to a directory outside it",
                out.display(),
                db.display()
            )));
        }
    }
    let name = out.file_name().ok_or_else(|| {
        Error::InvalidArgument(format!("{} does not name a directory to create", out.display()))
    })?;
    let mut staging_name = name.to_os_string();
    staging_name.push(".tmp");
    let staging = out.with_file_name(staging_name);
    if staging.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} exists (left by an interrupted export?); remove it first",
            staging.display()
        )));
    }
    fs::create_dir(&staging).map_err(|e| Error::io("create", &staging, e))?;
    Ok(staging)
}

/// Moves the complete staging directory to `out`.
fn publish(staging: &Path, out: &Path) -> Result<()> {
    layout::sync_dir(staging)?;
    if out.exists() {
        // Checked empty before the export started.
        fs::remove_dir(out).map_err(|e| Error::io("replace", out, e))?;
    }
    fs::rename(staging, out).map_err(|e| Error::io("rename", staging, e))?;
    match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => layout::sync_dir(parent),
        _ => layout::sync_dir(Path::new(".")),
    }
}

fn write_export(
    view: &View,
    groups: &[usize],
    since_step: Option<u64>,
    staging: &Path,
) -> Result<ExportReport> {
    let dense = view.store.meta(store::META_DENSE)?.ok_or_else(|| Error::Corruption {
        what: view.path.display().to_string(),
        reason: "no dense parameters".into(),
    })?;
    write_file(&staging.join(SCHEMA_FILE), view.schema.to_toml_string().as_bytes())?;
    write_file(&staging.join(DENSE_FILE), &dense)?;
    let mut manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        step: view.step,
        since_step,
        groups: Vec::with_capacity(groups.len()),
    };
    for &g in groups {
        manifest.groups.push(export_group(view, g, since_step, staging)?);
    }
    let text = toml::to_string(&manifest)
        .map_err(|e| Error::InvalidArgument(format!("cannot write the manifest: {e}")))?;
    // Written last: an export directory with a manifest is complete.
    write_file(&staging.join(MANIFEST_FILE), text.as_bytes())?;
    Ok(ExportReport {
        step: view.step,
        groups: manifest.groups.iter().map(|m| (m.name.clone(), m.rows)).collect(),
        since_step,
    })
}

/// Streams the rows of group `g` (those updated after `since_step`) into its array files.
fn export_group(
    view: &View,
    g: usize,
    since_step: Option<u64>,
    staging: &Path,
) -> Result<ManifestGroup> {
    let (name, dim) = (view.schema.groups[g].name.as_str(), view.schema.groups[g].dim);
    let kind = view.schema.group_optimizer(g).kind;
    let (state_len, tag) = (kind.state_len(), kind.tag());
    let mut ids = NpyWriter::<u64>::create(&group_file(staging, name, "ids"), None)?;
    let mut weights = NpyWriter::<f32>::create(&group_file(staging, name, "weights"), Some(dim))?;
    let mut state = match state_len {
        0 => None,
        s => Some(NpyWriter::<f32>::create(&group_file(staging, name, "state"), Some(s))?),
    };
    let mut meta = NpyWriter::<u64>::create(&group_file(staging, name, "meta"), Some(2))?;
    let mut values = vec![0f32; dim + state_len];
    let mut scanned = 0u64;
    view.store.scan_group(g, &mut |id, bytes| {
        scanned += 1;
        let header = decode_row(bytes, tag, &mut values, name, id)?;
        if since_step.is_some_and(|since| header.last_step <= since) {
            return Ok(true);
        }
        ids.push(&[id])?;
        weights.push(&values[..dim])?;
        if let Some(state) = state.as_mut() {
            state.push(&values[dim..])?;
        }
        meta.push(&[u64::from(header.seen_count), header.last_step])?;
        Ok(true)
    })?;
    let rows = ids.finish()?;
    weights.finish()?;
    if let Some(state) = state {
        state.finish()?;
    }
    meta.finish()?;
    log::debug!("group {name}: exported {rows} of {scanned} rows");
    Ok(ManifestGroup { name: name.to_string(), rows, dim, state_len })
}

/// Creates `path` (which must not exist) with `bytes`, synced.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut file = fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io("write", path, e))
}

/// Reads an export into the database `dir`, creating it when missing.
///
/// The whole export is checked first (manifest, schema, dense record, the header, shape and
/// length of every array file, the seen counts), before the database is opened. A missing or
/// empty `dir` gets a new database with the exported schema, rows, dense parameters and step;
/// this needs a full export (every group, no `since_step`). Into an existing database, whose
/// schema must agree, rows are upserted, the dense parameters replaced and the step becomes
/// the larger of the two; an incremental export must start at or before the database's step.
/// The import ends with a checkpoint; until then the database stays at its last one.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when `from` is not an export, when a partial export would make
/// a new database, or when an incremental export does not reach back to the database's step;
/// [`Error::Corruption`] naming the file for a bad manifest, dense record or array file;
/// [`Error::SchemaMismatch`] naming the first difference; the errors of [`Engine::open`] and
/// [`Engine::create`]; I/O and store errors.
pub fn import(dir: &Path, from: &Path, options: EngineOptions) -> Result<ImportReport> {
    let started = Instant::now();
    if options.read_only {
        return Err(Error::InvalidArgument("cannot import into a read-only engine".into()));
    }
    let export = ExportDir::open(from)?;
    if dir.exists() && !dir.is_dir() {
        return Err(Error::InvalidArgument(format!("{} is not a directory", dir.display())));
    }
    let is_new = fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
    let report = if is_new {
        import_new(dir, &export, options)?
    } else {
        import_into(dir, &export, options)?
    };
    let rows: u64 = report.groups.iter().map(|(_, n)| n).sum();
    log::info!(
        "imported {rows} rows from {} into {} (step {}) in {:.3}s",
        from.display(),
        dir.display(),
        report.step,
        started.elapsed().as_secs_f64()
    );
    Ok(report)
}

/// Creates the database in `dir` from a full export; removes it again if the import fails.
fn import_new(dir: &Path, export: &ExportDir, options: EngineOptions) -> Result<ImportReport> {
    if let Some(missing) = export.partial() {
        return Err(Error::InvalidArgument(format!(
            "{} holds {missing}; a new database needs a full export (all groups, no \
             --since-step)",
            export.path.display()
        )));
    }
    let existed = dir.exists();
    let engine = Engine::create(dir, &export.schema, options)?;
    match fill(&engine, export, export.manifest.step) {
        Ok(groups) => Ok(ImportReport { step: engine.step(), groups, created: true }),
        Err(e) => {
            drop(engine);
            // Leave nothing half-made behind: a later open would take it for a database.
            for leftover in [layout::store_dir(dir), layout::checkpoints_dir(dir)] {
                if let Err(e) = layout::remove_if_exists(&leftover) {
                    log::warn!("could not remove {}: {e}", leftover.display());
                }
            }
            if !existed {
                let _ = fs::remove_dir(dir);
            }
            Err(e)
        }
    }
}

/// Upserts an export into the existing database in `dir`.
fn import_into(dir: &Path, export: &ExportDir, options: EngineOptions) -> Result<ImportReport> {
    // Checked on the read-only view: a refused import must not even open the store for writing.
    let view = open_view(dir)?;
    if let Some(difference) = export.schema.difference_from(&view.schema) {
        return Err(Error::SchemaMismatch { path: dir.to_path_buf(), difference });
    }
    if let Some(since) = export.manifest.since_step.filter(|&since| since > view.step) {
        return Err(Error::InvalidArgument(format!(
            "{} is at step {}, but {} holds only rows updated after step {since}; rows updated \
             in between would be missing (export with --since-step {} or lower)",
            dir.display(),
            view.step,
            export.path.display(),
            view.step
        )));
    }
    drop(view);
    let engine = Engine::open(dir, options)?;
    let step = engine.step().max(export.manifest.step);
    let groups = fill(&engine, export, step).inspect_err(|e| {
        log::error!(
            "import into {} failed ({e}); the database stays at its last checkpoint",
            dir.display()
        );
    })?;
    Ok(ImportReport { step: engine.step(), groups, created: false })
}

/// Writes every row, the dense record and `step`, then takes a checkpoint.
fn fill(engine: &Engine, export: &ExportDir, step: u64) -> Result<Vec<(String, u64)>> {
    let mut groups = Vec::with_capacity(export.manifest.groups.len());
    for entry in &export.manifest.groups {
        let g = group_index(engine.schema(), &entry.name)?;
        let rows = import_group(engine, export, entry, g)?;
        groups.push((entry.name.clone(), rows));
    }
    engine.set_dense_record(&export.dense)?;
    engine.set_step(step);
    engine.checkpoint()?;
    Ok(groups)
}

fn import_group(
    engine: &Engine,
    export: &ExportDir,
    entry: &ManifestGroup,
    g: usize,
) -> Result<u64> {
    let tag = engine.schema().group_optimizer(g).kind.tag();
    let (dim, state_len) = (entry.dim, entry.state_len);
    let mut files = GroupFiles::open(&export.path, entry)?;
    let (mut ids, mut weights, mut state, mut meta) = (Vec::new(), Vec::new(), Vec::new(), vec![]);
    let mut values = Vec::with_capacity(dim + state_len);
    let mut set = WriteSet::new();
    let mut done = 0u64;
    while done < entry.rows {
        let k = usize::try_from(entry.rows - done).unwrap_or(usize::MAX).min(ROWS_PER_BATCH);
        files.ids.read(k, &mut ids)?;
        files.weights.read(k, &mut weights)?;
        if let Some(reader) = files.state.as_mut() {
            reader.read(k, &mut state)?;
        }
        files.meta.read(k, &mut meta)?;
        set.clear();
        for (i, &id) in ids.iter().enumerate() {
            let header = row_header(&meta[2 * i..2 * i + 2], files.meta.path(), done + i as u64)?;
            values.clear();
            values.extend_from_slice(&weights[i * dim..(i + 1) * dim]);
            values.extend_from_slice(&state[i * state_len..(i + 1) * state_len]);
            set.put_row(g, id, |buf| encode_row(buf, tag, header, &values));
        }
        engine.write_rows(&set)?;
        done += k as u64;
    }
    log::debug!("group {}: imported {done} rows", entry.name);
    Ok(done)
}

/// The header of row `row` from its two `meta.npy` values.
fn row_header(meta: &[u64], path: &Path, row: u64) -> Result<RowHeader> {
    let seen_count = u32::try_from(meta[0]).map_err(|_| Error::Corruption {
        what: path.display().to_string(),
        reason: format!("row {row}: seen count {} does not fit in 32 bits", meta[0]),
    })?;
    Ok(RowHeader { seen_count, last_step: meta[1] })
}

/// A checked export directory.
#[derive(Debug)]
struct ExportDir {
    path: PathBuf,
    manifest: Manifest,
    schema: Schema,
    dense: Vec<u8>,
}

impl ExportDir {
    /// Reads the manifest, schema and dense record and checks every array file.
    fn open(path: &Path) -> Result<ExportDir> {
        if !path.is_dir() {
            return Err(Error::InvalidArgument(format!("no export at {}", path.display())));
        }
        let manifest_path = path.join(MANIFEST_FILE);
        if !manifest_path.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a gwen export (no {MANIFEST_FILE})",
                path.display()
            )));
        }
        let manifest = read_manifest(&manifest_path)?;
        let schema = Schema::from_path(&path.join(SCHEMA_FILE))?;
        check_manifest_groups(&manifest, &schema, &manifest_path)?;
        let dense_path = path.join(DENSE_FILE);
        let dense = fs::read(&dense_path).map_err(|e| Error::io("read", &dense_path, e))?;
        check_dense(&dense, &schema).map_err(|reason| Error::Corruption {
            what: dense_path.display().to_string(),
            reason,
        })?;
        for entry in &manifest.groups {
            let mut files = GroupFiles::open(path, entry)?;
            check_seen_counts(&mut files.meta)?;
        }
        Ok(ExportDir { path: path.to_path_buf(), manifest, schema, dense })
    }

    /// What is missing for this to be a full export, in words; `None` when it is full.
    fn partial(&self) -> Option<String> {
        if let Some(since) = self.manifest.since_step {
            return Some(format!("only the rows updated after step {since}"));
        }
        if self.manifest.groups.len() < self.schema.groups.len() {
            let names: Vec<&str> = self.manifest.groups.iter().map(|m| m.name.as_str()).collect();
            return Some(format!("only the groups {}", names.join(", ")));
        }
        None
    }
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let corrupt = |reason: String| Error::Corruption { what: path.display().to_string(), reason };
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| corrupt(e.message().into()))?;
    if manifest.format != FORMAT {
        return Err(corrupt(format!("format {:?}, expected {FORMAT:?}", manifest.format)));
    }
    if manifest.version != VERSION {
        return Err(corrupt(format!(
            "export version {}, this build reads {VERSION}",
            manifest.version
        )));
    }
    Ok(manifest)
}

/// Every group of the manifest is in the schema, once, with the schema's dim and state length.
fn check_manifest_groups(manifest: &Manifest, schema: &Schema, path: &Path) -> Result<()> {
    let corrupt = |reason: String| Error::Corruption { what: path.display().to_string(), reason };
    for (i, entry) in manifest.groups.iter().enumerate() {
        let g =
            schema.groups.iter().position(|g| g.name == entry.name).ok_or_else(|| {
                corrupt(format!("group {:?} is not in {SCHEMA_FILE}", entry.name))
            })?;
        if manifest.groups[..i].iter().any(|m| m.name == entry.name) {
            return Err(corrupt(format!("group {} listed twice", entry.name)));
        }
        let (dim, state_len) = (schema.groups[g].dim, schema.group_optimizer(g).kind.state_len());
        if (entry.dim, entry.state_len) != (dim, state_len) {
            return Err(corrupt(format!(
                "group {}: dim {} and state_len {}, but {SCHEMA_FILE} says {dim} and {state_len}",
                entry.name, entry.dim, entry.state_len
            )));
        }
    }
    Ok(())
}

/// Checks the lengths in a dense record against the MLP shape of `schema`.
fn check_dense(bytes: &[u8], schema: &Schema) -> Result<(), String> {
    let mut sizes = vec![schema.mlp_input_width()];
    sizes.extend_from_slice(&schema.mlp.hidden);
    sizes.push(1);
    let params: u64 = sizes.windows(2).map(|w| (w[0] * w[1] + w[1]) as u64).sum();
    let u64_at = |at: usize| -> Option<u64> {
        let b = bytes.get(at..at.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    };
    let n = u64_at(0).ok_or("truncated")?;
    if n != params {
        return Err(format!("{n} MLP parameters, the schema's MLP has {params}"));
    }
    let m_at = 16 + 4 * params as usize;
    let m = u64_at(m_at).ok_or("truncated")?;
    if m != 2 * params {
        return Err(format!("{m} Adam state values, expected {}", 2 * params));
    }
    let expected = m_at + 8 + 4 * m as usize;
    if bytes.len() != expected {
        return Err(format!("{} bytes, expected {expected}", bytes.len()));
    }
    Ok(())
}

/// Reads all of `meta` to check that every seen count fits the row header.
fn check_seen_counts(meta: &mut NpyReader<u64>) -> Result<()> {
    let mut values = Vec::new();
    let mut row = 0u64;
    while row < meta.rows() {
        meta.read(ROWS_PER_BATCH, &mut values)?;
        for pair in values.chunks_exact(2) {
            row_header(pair, meta.path(), row)?;
            row += 1;
        }
    }
    Ok(())
}

/// The open array files of one group, each checked against the manifest entry.
struct GroupFiles {
    ids: NpyReader<u64>,
    weights: NpyReader<f32>,
    state: Option<NpyReader<f32>>,
    meta: NpyReader<u64>,
}

impl GroupFiles {
    fn open(dir: &Path, entry: &ManifestGroup) -> Result<GroupFiles> {
        let name = entry.name.as_str();
        let check_rows = |rows: u64, path: &Path| {
            if rows == entry.rows {
                return Ok(());
            }
            Err(Error::Corruption {
                what: path.display().to_string(),
                reason: format!("{rows} rows, the manifest says {}", entry.rows),
            })
        };
        let ids = NpyReader::open(&group_file(dir, name, "ids"), None)?;
        check_rows(ids.rows(), ids.path())?;
        let weights = NpyReader::open(&group_file(dir, name, "weights"), Some(entry.dim))?;
        check_rows(weights.rows(), weights.path())?;
        let state = match entry.state_len {
            0 => None,
            s => {
                let state = NpyReader::open(&group_file(dir, name, "state"), Some(s))?;
                check_rows(state.rows(), state.path())?;
                Some(state)
            }
        };
        let meta = NpyReader::open(&group_file(dir, name, "meta"), Some(2))?;
        check_rows(meta.rows(), meta.path())?;
        Ok(GroupFiles { ids, weights, state, meta })
    }
}
