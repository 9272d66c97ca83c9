//! Export of rows to portable files and import back.

use std::path::Path;

use crate::engine::EngineOptions;
use crate::error::{Error, Result};

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

/// Writes the rows of the newest checkpoint of `dir` to files under `out`.
///
/// # Errors
///
/// Not available yet.
pub fn export(dir: &Path, out: &Path, options: &ExportOptions) -> Result<ExportReport> {
    let _ = (dir, out, options);
    Err(Error::InvalidArgument("export is not available in this build".into()))
}

/// Reads an export into the database `dir`, creating it when missing.
///
/// # Errors
///
/// Not available yet.
pub fn import(dir: &Path, from: &Path, options: EngineOptions) -> Result<ImportReport> {
    let _ = (dir, from, options);
    Err(Error::InvalidArgument("import is not available in this build".into()))
}
