//! Operator tools over a database directory: inspection, compaction with eviction,
//! checkpoint management, export and import.
//!
//! Reading tools look at the newest checkpoint, opened read-only: they never take the write
//! lock, so they work while a trainer runs, and they see one consistent step.

mod transfer;

use std::path::{Path, PathBuf};

pub use transfer::{export, import, ExportOptions, ExportReport, ImportReport};

use crate::engine::read_schema;
use crate::error::{Error, Result};
use crate::layout;
use crate::schema::Schema;
use crate::store::{OpenMode, RocksOptions, RocksStore};

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
