//! The directory of a gwen database and its checkpoints.
//!
//! ```text
//! <db>/store/                    the live RocksDB store (trained rows, metadata)
//! <db>/checkpoints/step-<N>/     point-in-time copies (hard-linked SST files), newest kept
//! ```
//!
//! The live store is trusted only when its metadata says `clean` (nothing written since the
//! last checkpoint). Otherwise the newest complete checkpoint is copied back over it on open,
//! so a crash at any moment leads back to exactly the last checkpoint. A checkpoint directory
//! is written under a temporary name and renamed when complete.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::Store;

/// The live store inside a database directory.
pub(crate) fn store_dir(db: &Path) -> PathBuf {
    db.join("store")
}

/// The folder of the checkpoints.
pub(crate) fn checkpoints_dir(db: &Path) -> PathBuf {
    db.join("checkpoints")
}

/// The name of the checkpoint of `step`.
pub(crate) fn checkpoint_name(step: u64) -> String {
    format!("step-{step:012}")
}

/// Complete checkpoints, oldest first, as (step, directory).
pub(crate) fn list_checkpoints(db: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let dir = checkpoints_dir(db);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
        let name = entry.file_name();
        let step = name.to_str().and_then(|n| n.strip_prefix("step-")).and_then(|s| s.parse().ok());
        if let Some(step) = step {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Replaces the live store with a copy of the checkpoint at `from`: SST files are hard-linked
/// (they are immutable), everything else is copied. Safe to redo after a crash part-way.
pub(crate) fn restore_store(db: &Path, from: &Path) -> Result<()> {
    let live = store_dir(db);
    let staging = db.join("store.restoring");
    let discarded = db.join("store.discarded");
    remove_if_exists(&staging)?;
    fs::create_dir_all(&staging).map_err(|e| Error::io("create", &staging, e))?;
    for entry in fs::read_dir(from).map_err(|e| Error::io("list", from, e))? {
        let entry = entry.map_err(|e| Error::io("list", from, e))?;
        let target = staging.join(entry.file_name());
        let is_sst = entry.path().extension().is_some_and(|x| x == "sst");
        let linked = is_sst && fs::hard_link(entry.path(), &target).is_ok();
        if !linked {
            fs::copy(entry.path(), &target).map_err(|e| Error::io("copy", entry.path(), e))?;
        }
    }
    sync_dir(&staging)?;
    remove_if_exists(&discarded)?;
    if live.exists() {
        fs::rename(&live, &discarded).map_err(|e| Error::io("rename", &live, e))?;
    }
    fs::rename(&staging, &live).map_err(|e| Error::io("rename", &staging, e))?;
    sync_dir(db)?;
    remove_if_exists(&discarded)
}

/// Removes a directory tree if it is there.
pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Makes renames and new entries in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| Error::io("sync", dir, e))
}

/// Takes a point-in-time copy of `store` as the checkpoint of `step` (written under a
/// temporary name, then renamed), and keeps only the newest `keep` checkpoints (0 keeps all).
pub(crate) fn take_snapshot(db: &Path, store: &dyn Store, step: u64, keep: usize) -> Result<()> {
    let root = checkpoints_dir(db);
    fs::create_dir_all(&root).map_err(|e| Error::io("create", &root, e))?;
    let name = checkpoint_name(step);
    let staging = root.join(format!(".{name}.tmp"));
    remove_if_exists(&staging)?;
    store.snapshot_to(&staging)?;
    write_file_list(&staging)?;
    let target = root.join(&name);
    remove_if_exists(&target)?;
    fs::rename(&staging, &target).map_err(|e| Error::io("rename", &staging, e))?;
    sync_dir(&root)?;
    if keep > 0 {
        let all = list_checkpoints(db)?;
        for (_, old) in all.iter().take(all.len().saturating_sub(keep)) {
            if let Err(e) = remove_if_exists(old) {
                log::warn!("could not remove old checkpoint {}: {e}", old.display());
            }
        }
    }
    Ok(())
}

/// Removes what an interrupted checkpoint or restore left behind: hidden staging directories
/// under `checkpoints/` and a half-copied `store.restoring`.
pub(crate) fn remove_staging(db: &Path) -> Result<()> {
    remove_if_exists(&db.join("store.restoring"))?;
    let root = checkpoints_dir(db);
    let entries = match fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", &root, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", &root, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            remove_if_exists(&entry.path())?;
        }
    }
    Ok(())
}

/// The file in a checkpoint directory that lists its SST files with their sizes, so that a
/// damaged RocksDB manifest (which RocksDB may read as a shorter, valid history) is caught.
const FILE_LIST: &str = "GWEN-SST-FILES";

fn sst_sizes(dir: &Path) -> Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".sst") {
            let meta = entry.metadata().map_err(|e| Error::io("stat", entry.path(), e))?;
            files.push((name, meta.len()));
        }
    }
    files.sort();
    Ok(files)
}

fn write_file_list(checkpoint: &Path) -> Result<()> {
    let text: String =
        sst_sizes(checkpoint)?.iter().map(|(name, len)| format!("{name} {len}\n")).collect();
    let path = checkpoint.join(FILE_LIST);
    let file = fs::File::create(&path).map_err(|e| Error::io("create", &path, e))?;
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(file);
    file.write_all(text.as_bytes()).map_err(|e| Error::io("write", &path, e))?;
    let file = file.into_inner().map_err(|e| Error::io("write", &path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io("sync", &path, e))
}

/// Checks that RocksDB's view of a checkpoint (`live`: SST file names and sizes it opened)
/// is every file the checkpoint was written with. Checkpoints older than the list pass.
pub(crate) fn verify_checkpoint(checkpoint: &Path, live: &[(String, u64)]) -> Result<()> {
    let path = checkpoint.join(FILE_LIST);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let mut expected: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, len)| (name.to_string(), len.parse().unwrap_or(u64::MAX)))
        .collect();
    expected.sort();
    let mut live: Vec<(String, u64)> =
        live.iter().map(|(n, l)| (n.trim_start_matches('/').to_string(), *l)).collect();
    live.sort();
    if expected != live {
        let missing = expected.iter().filter(|f| !live.contains(f)).count();
        return Err(Error::Corruption {
            what: checkpoint.display().to_string(),
            reason: format!(
                "RocksDB opened {} SST files, the checkpoint was written with {} ({missing} \
                 missing or changed): its manifest is damaged",
                live.len(),
                expected.len()
            ),
        });
    }
    Ok(())
}
