//! The C ABI of gwen: `libgwen.so` / `libgwen.a` with the header `include/gwen.h`.
//!
//! C and C++ programs open a database trained by `gwen train` (or by this ABI), hash raw
//! feature values exactly as the CLI does, predict and train on batches given as CSR ids per
//! feature group plus dense inputs, read rows, checkpoint and read counters. This crate holds
//! only the boundary: opaque handles, status codes, argument checks and the panic guard. All
//! model logic is the `gwen` crate's public API.
//!
//! Conventions of every export:
//! - Fallible calls return a [`GwenStatus`]; outputs go through out-pointers placed last,
//!   followed by an optional `char **err_msg` that receives a message to free with
//!   [`gwen_string_free`] (null on success).
//! - Vectors are copied into buffers the caller allocates (pointer plus length).
//! - Null pointers, wrong lengths, out-of-range indices and non-finite inputs return
//!   `GWEN_INVALID_ARGUMENT`; a panic is caught and returns `GWEN_INTERNAL`.
//! - A `GwenEngine *` may be shared by any number of threads (the type is `Send + Sync`).
//!
//! ```
//! use std::ffi::CStr;
//!
//! // SAFETY: gwen_version returns a static NUL-terminated string.
//! let version = unsafe { CStr::from_ptr(gwen_ffi::gwen_version()) };
//! assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
//!
//! let (field, raw) = ("C1", "68fd1e64");
//! let mut id = 0u64;
//! // SAFETY: the pointers are valid for the lengths given; err_msg may be null.
//! let status = unsafe {
//!     gwen_ffi::gwen_hash_feature(
//!         0, field.as_ptr().cast(), field.len(), raw.as_ptr().cast(), raw.len(), &mut id,
//!         std::ptr::null_mut(),
//!     )
//! };
//! assert_eq!(status, gwen_ffi::GwenStatus::GWEN_OK);
//! assert_eq!(id, gwen::hash_feature(0, "C1", b"68fd1e64"));
//! ```

#![warn(missing_docs)]

mod args;
mod batch;
mod engine;
mod guard;
mod handle;
mod hash;
mod status;

use std::ffi::{c_char, CStr};

pub use batch::{GwenBatch, GwenGroupIds};
pub use engine::{
    gwen_engine_checkpoint, gwen_engine_close, gwen_engine_group, gwen_engine_group_field,
    gwen_engine_group_find, gwen_engine_group_name, gwen_engine_open, gwen_engine_options_default,
    gwen_engine_predict, gwen_engine_row, gwen_engine_schema, gwen_engine_stats, gwen_engine_train,
    GwenEngine, GwenEngineOptions, GwenGroupInfo, GwenPooling, GwenSchemaInfo, GwenStats,
    GwenStepReport, GWEN_MAX_THREADS,
};
pub use guard::gwen_string_free;
pub use hash::{gwen_hash_feature, gwen_hash_feature_id, gwen_hash_field_seed};
pub use status::{gwen_status_name, GwenStatus};

/// Version of the C ABI: bumped on every incompatible change of a function, struct or code.
/// Compare with `gwen_abi_version()` at startup to catch a header/library mismatch.
pub const GWEN_ABI_VERSION: u32 = 1;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version holds no NUL byte"),
    };

/// The library version, e.g. `"0.1.0"`.
///
/// # Safety
///
/// Takes no pointers. The string is static: do not free it. Callable from any thread.
#[no_mangle]
pub extern "C" fn gwen_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The ABI version of the library (`GWEN_ABI_VERSION` of the header it was built with).
///
/// # Safety
///
/// Takes no pointers. Callable from any thread.
#[no_mangle]
pub extern "C" fn gwen_abi_version() -> u32 {
    GWEN_ABI_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `extern "C"` function that does work runs it inside the panic guard: a panic
    /// must never unwind into C. Checked on the source, since a missing guard is invisible to
    /// the type system.
    #[test]
    fn every_export_is_guarded() {
        let sources = [
            include_str!("engine.rs"),
            include_str!("guard.rs"),
            include_str!("hash.rs"),
            include_str!("status.rs"),
            include_str!("lib.rs"),
        ];
        // Exports whose whole body is a constant or a plain struct: nothing can panic.
        let trivial = ["gwen_version", "gwen_abi_version", "gwen_engine_options_default"];
        let mut checked = 0;
        for source in sources {
            for chunk in source.split(concat!("#[no_mangle]", "\npub ")).skip(1) {
                let name = chunk.split("fn ").nth(1).and_then(|s| s.split('(').next());
                let name = name.expect("an exported fn follows #[no_mangle]");
                let body = chunk.split("\n}\n").next().expect("fn body");
                let guarded = body.contains("guard(") || body.contains("guard_void(");
                let simple = body.contains("status: i32") || trivial.contains(&name);
                assert!(guarded || simple, "export {name} is not wrapped in the panic guard");
                checked += 1;
            }
        }
        assert_eq!(checked, 20, "update this test when exports are added or removed");
    }

    #[test]
    fn version_is_the_package_version() {
        // SAFETY: a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(gwen_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert_eq!(gwen_abi_version(), GWEN_ABI_VERSION);
    }
}
