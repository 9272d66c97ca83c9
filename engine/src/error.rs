//! The one error type of the engine.

use std::path::PathBuf;

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
///
/// Variants carry the facts a caller needs to act: the path, the line, the group, the id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{op} {path}")]
    Io {
        /// What was being done (`open`, `read`, `create`).
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of an input file could not be parsed.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The input file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        reason: String,
    },
    /// The schema file is invalid.
    #[error("invalid schema: {0}")]
    Schema(String),
    /// The schema given does not match the one stored in the database.
    #[error("schema mismatch with {path}: {difference}")]
    SchemaMismatch {
        /// The database directory.
        path: PathBuf,
        /// The first difference found, e.g. `group C1: dim 16 stored, 8 given`.
        difference: String,
    },
    /// A caller passed an argument the engine cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Stored data is not what the format says it must be.
    #[error("corruption in {what}: {reason}")]
    Corruption {
        /// Where the bad data was found (e.g. `group C3 id 0x00ab..`).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store (RocksDB) reported an error.
    #[error("store {op} at {path}")]
    Store {
        /// The operation that failed.
        op: &'static str,
        /// The database directory.
        path: PathBuf,
        /// The RocksDB error.
        #[source]
        source: rocksdb::Error,
    },
    /// Another process holds the database open for writing.
    #[error("{path} is in use by another process (a trainer or an admin command)")]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// A previous write failed part-way; the engine refuses further writes.
    #[error("engine is poisoned after an earlier write failure: {0}")]
    Poisoned(String),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }
}
