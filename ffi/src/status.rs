//! Status codes and the one mapping from [`gwen::Error`] to them.

use std::ffi::{c_char, CStr};

/// The result of every fallible call. `GWEN_OK` is 0; every other value is an error, and the
/// call's optional `err_msg` then holds a message. The numbers are stable across releases: new
/// codes are only ever appended.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "the C names, so the header and the Rust code agree")]
pub enum GwenStatus {
    /// Success.
    GWEN_OK = 0,
    /// A null pointer, a wrong length, an out-of-range index, a non-finite input, a malformed
    /// batch, or an operation the engine refuses in its state (e.g. training when open
    /// read-only). Nothing was changed.
    GWEN_INVALID_ARGUMENT = 1,
    /// The thing looked up does not exist (a row never trained, a group name not in the
    /// schema). Not a failure of the engine.
    GWEN_NOT_FOUND = 2,
    /// A caller buffer is too small; the call reports the length it needs.
    GWEN_BUFFER_TOO_SMALL = 3,
    /// A file could not be opened, read or written.
    GWEN_IO = 4,
    /// An input file line could not be parsed.
    GWEN_PARSE = 5,
    /// A schema is invalid.
    GWEN_SCHEMA = 6,
    /// A schema does not match the one stored in the database.
    GWEN_SCHEMA_MISMATCH = 7,
    /// Stored data is damaged or not a gwen database.
    GWEN_CORRUPTION = 8,
    /// RocksDB reported an error.
    GWEN_STORE = 9,
    /// Another process holds the database open for writing.
    GWEN_LOCKED = 10,
    /// An earlier write failed part-way (or a call panicked while holding the engine); the
    /// engine refuses further work. Close it and open it again.
    GWEN_POISONED = 11,
    /// An engine error that this version of the ABI has no code for; the message says what.
    GWEN_OTHER = 12,
    /// A bug in gwen: a panic was caught at the boundary. The message holds the panic text.
    GWEN_INTERNAL = 13,
}

impl GwenStatus {
    /// Every status, in numeric order.
    pub(crate) const ALL: [GwenStatus; 14] = [
        GwenStatus::GWEN_OK,
        GwenStatus::GWEN_INVALID_ARGUMENT,
        GwenStatus::GWEN_NOT_FOUND,
        GwenStatus::GWEN_BUFFER_TOO_SMALL,
        GwenStatus::GWEN_IO,
        GwenStatus::GWEN_PARSE,
        GwenStatus::GWEN_SCHEMA,
        GwenStatus::GWEN_SCHEMA_MISMATCH,
        GwenStatus::GWEN_CORRUPTION,
        GwenStatus::GWEN_STORE,
        GwenStatus::GWEN_LOCKED,
        GwenStatus::GWEN_POISONED,
        GwenStatus::GWEN_OTHER,
        GwenStatus::GWEN_INTERNAL,
    ];

    /// The constant's name as a NUL-terminated static string.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            GwenStatus::GWEN_OK => c"GWEN_OK",
            GwenStatus::GWEN_INVALID_ARGUMENT => c"GWEN_INVALID_ARGUMENT",
            GwenStatus::GWEN_NOT_FOUND => c"GWEN_NOT_FOUND",
            GwenStatus::GWEN_BUFFER_TOO_SMALL => c"GWEN_BUFFER_TOO_SMALL",
            GwenStatus::GWEN_IO => c"GWEN_IO",
            GwenStatus::GWEN_PARSE => c"GWEN_PARSE",
            GwenStatus::GWEN_SCHEMA => c"GWEN_SCHEMA",
            GwenStatus::GWEN_SCHEMA_MISMATCH => c"GWEN_SCHEMA_MISMATCH",
            GwenStatus::GWEN_CORRUPTION => c"GWEN_CORRUPTION",
            GwenStatus::GWEN_STORE => c"GWEN_STORE",
            GwenStatus::GWEN_LOCKED => c"GWEN_LOCKED",
            GwenStatus::GWEN_POISONED => c"GWEN_POISONED",
            GwenStatus::GWEN_OTHER => c"GWEN_OTHER",
            GwenStatus::GWEN_INTERNAL => c"GWEN_INTERNAL",
        }
    }
}

/// A failed call: its status and the message handed to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfiError {
    /// Never `GWEN_OK`.
    pub status: GwenStatus,
    /// Short, lower-case, names the argument or the engine's reason.
    pub message: String,
}

impl FfiError {
    /// A `GWEN_INVALID_ARGUMENT` error.
    pub fn invalid(message: impl Into<String>) -> FfiError {
        FfiError { status: GwenStatus::GWEN_INVALID_ARGUMENT, message: message.into() }
    }

    /// A `GWEN_NOT_FOUND` error.
    pub fn not_found(message: impl Into<String>) -> FfiError {
        FfiError { status: GwenStatus::GWEN_NOT_FOUND, message: message.into() }
    }

    /// The error for a null pointer passed as `what`.
    pub fn null(what: &str) -> FfiError {
        FfiError::invalid(format!("{what} is null"))
    }
}

/// The status code of an engine error. `gwen::Error` is `non_exhaustive`: variants added after
/// this ABI version map to `GWEN_OTHER` until they get a code of their own.
pub fn status_of(error: &gwen::Error) -> GwenStatus {
    match error {
        gwen::Error::InvalidArgument(_) => GwenStatus::GWEN_INVALID_ARGUMENT,
        gwen::Error::Io { .. } => GwenStatus::GWEN_IO,
        gwen::Error::Parse { .. } => GwenStatus::GWEN_PARSE,
        gwen::Error::Schema(_) => GwenStatus::GWEN_SCHEMA,
        gwen::Error::SchemaMismatch { .. } => GwenStatus::GWEN_SCHEMA_MISMATCH,
        gwen::Error::Corruption { .. } => GwenStatus::GWEN_CORRUPTION,
        gwen::Error::Store { .. } => GwenStatus::GWEN_STORE,
        gwen::Error::Locked { .. } => GwenStatus::GWEN_LOCKED,
        gwen::Error::Poisoned(_) => GwenStatus::GWEN_POISONED,
        _ => GwenStatus::GWEN_OTHER,
    }
}

impl From<gwen::Error> for FfiError {
    fn from(error: gwen::Error) -> FfiError {
        // The whole `source()` chain: "store open at /db: IO error: lock ..." tells the caller
        // more than the top message alone.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        FfiError { status: status_of(&error), message }
    }
}

/// The name of a status code (`"GWEN_LOCKED"`), or `"GWEN_UNKNOWN_STATUS"` for a number that
/// is not one. Never fails.
///
/// # Safety
///
/// Takes no pointers. The returned string is static: do not free it. Callable from any thread.
#[no_mangle]
pub extern "C" fn gwen_status_name(status: i32) -> *const c_char {
    let found = GwenStatus::ALL.iter().find(|s| **s as i32 == status);
    found.map_or(c"GWEN_UNKNOWN_STATUS", |s| s.name()).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn codes_are_stable_and_dense() {
        for (i, status) in GwenStatus::ALL.iter().enumerate() {
            assert_eq!(*status as i32, i as i32, "{status:?}");
        }
        assert_eq!(GwenStatus::GWEN_OK as i32, 0);
        assert_eq!(GwenStatus::GWEN_INTERNAL as i32, 13);
    }

    #[test]
    fn every_engine_error_maps_to_its_code() {
        let io = || std::io::Error::other("disk on fire");
        let cases = [
            (gwen::Error::InvalidArgument("x".into()), GwenStatus::GWEN_INVALID_ARGUMENT),
            (
                gwen::Error::Io { op: "open", path: PathBuf::from("/p"), source: io() },
                GwenStatus::GWEN_IO,
            ),
            (
                gwen::Error::Parse { path: PathBuf::from("/p"), line: 3, reason: "bad".into() },
                GwenStatus::GWEN_PARSE,
            ),
            (gwen::Error::Schema("bad".into()), GwenStatus::GWEN_SCHEMA),
            (
                gwen::Error::SchemaMismatch { path: PathBuf::from("/p"), difference: "d".into() },
                GwenStatus::GWEN_SCHEMA_MISMATCH,
            ),
            (
                gwen::Error::Corruption { what: "w".into(), reason: "r".into() },
                GwenStatus::GWEN_CORRUPTION,
            ),
            (gwen::Error::Locked { path: PathBuf::from("/p") }, GwenStatus::GWEN_LOCKED),
            (gwen::Error::Poisoned("earlier".into()), GwenStatus::GWEN_POISONED),
        ];
        for (error, status) in cases {
            assert_eq!(status_of(&error), status, "{error}");
            let ffi = FfiError::from(error);
            assert_eq!(ffi.status, status);
            assert!(!ffi.message.is_empty());
        }
    }

    #[test]
    fn messages_keep_the_source_chain() {
        let error = gwen::Error::Io {
            op: "open",
            path: PathBuf::from("/db/x"),
            source: std::io::Error::other("disk on fire"),
        };
        assert_eq!(FfiError::from(error).message, "open /db/x: disk on fire");
    }

    #[test]
    fn status_names_cover_every_code_and_unknown_numbers() {
        for status in GwenStatus::ALL {
            // SAFETY: gwen_status_name returns a pointer to a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(gwen_status_name(status as i32)) };
            assert_eq!(name, status.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(gwen_status_name(-7)) };
        assert_eq!(unknown, c"GWEN_UNKNOWN_STATUS");
    }
}
