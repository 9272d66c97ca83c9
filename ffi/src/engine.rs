//! Engine exports: open and close, schema introspection, predict, train, row lookup,
//! checkpoint and stats.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use gwen::{EngineOptions, Group, Pooling, Schema};

use crate::args::{c_str, copy_text, reference, Out, OutSlice};
use crate::batch::{to_batch, GwenBatch};
use crate::guard::{guard, guard_void, ErrMsg};
use crate::handle::SharedEngine;
use crate::status::{FfiError, GwenStatus};

/// An open engine. Created by `gwen_engine_open`, freed by `gwen_engine_close`; opaque to C.
pub struct GwenEngine {
    shared: SharedEngine,
}

// The handle is shared by serving threads and a trainer: it must stay Send + Sync.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GwenEngine>();
};

/// Options of `gwen_engine_open`. Start from `gwen_engine_options_default()` and change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GwenEngineOptions {
    /// Budget of the RAM row cache in bytes (default 1 GiB).
    pub cache_bytes: u64,
    /// Worker threads used inside one call; 0 means one per core (the default). At most
    /// `GWEN_MAX_THREADS`.
    pub threads: u32,
    /// Open the newest checkpoint without writing anything: train and checkpoint are refused
    /// (default false). Read-only engines may be open while a trainer process writes.
    pub read_only: bool,
    /// Checkpoints kept under `<db>/checkpoints/` (0 keeps all; default 2).
    pub keep_checkpoints: u32,
    /// Feature admission threshold in sightings; 0 takes the schema's value (the default),
    /// 1 admits every id at once.
    pub min_count: u32,
}

/// How a group combines the rows of one sample.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(non_camel_case_types, reason = "the C names, so the header and the Rust code agree")]
pub enum GwenPooling {
    /// Sum of the rows.
    GWEN_POOLING_SUM = 0,
    /// Mean of the rows (the zero vector when the sample has none).
    GWEN_POOLING_MEAN = 1,
    /// Sum divided by the square root of the number of rows (of `sum(w^2)` when weighted).
    GWEN_POOLING_SQRTN = 2,
}

/// The shape of the model, for building batches.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GwenSchemaInfo {
    /// Feature groups; a batch has exactly this many `GwenGroupIds`.
    pub group_count: usize,
    /// Dense inputs per sample.
    pub dense_width: usize,
    /// Seed of the feature hash, for `gwen_hash_feature` / `gwen_hash_field_seed`.
    pub hash_seed: u64,
    /// Width of the MLP input (pooled groups plus dense inputs).
    pub mlp_input_width: usize,
}

/// One feature group.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GwenGroupInfo {
    /// Width of each row (the length `gwen_engine_row` writes).
    pub dim: usize,
    /// Input fields hashed into this group (see `gwen_engine_group_field`).
    pub field_count: usize,
    /// Pooling of the group.
    pub pooling: GwenPooling,
}

/// What one training step did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GwenStepReport {
    /// The step number after this batch.
    pub step: u64,
    /// Samples in the batch.
    pub samples: u64,
    /// Sum of the per-sample log losses, computed before the update.
    pub loss_sum: f64,
}

/// Counters of the engine since it was opened, and its progress.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GwenStats {
    /// Training steps applied in the database's life.
    pub step: u64,
    /// The step of the last completed checkpoint.
    pub checkpoint_step: u64,
    /// Row lookups served by the RAM tier.
    pub cache_hits: u64,
    /// Row lookups that went to the store (or found a never-trained id).
    pub cache_misses: u64,
    /// Rows evicted from the RAM tier.
    pub evictions: u64,
    /// Rows found in the store.
    pub rows_read: u64,
    /// Bytes of row records read from the store.
    pub bytes_read: u64,
    /// Rows written to the store.
    pub rows_written: u64,
    /// Bytes of row records written to the store.
    pub bytes_written: u64,
    /// Rows created on first admitted training sighting.
    pub rows_created: u64,
    /// Sightings of ids kept out by feature admission.
    pub not_admitted: u64,
    /// Train steps applied since open.
    pub train_steps: u64,
    /// Samples trained on since open.
    pub samples_trained: u64,
    /// Nanoseconds spent waiting on store reads and writes.
    pub store_wait_ns: u64,
    /// Nanoseconds spent reading missed rows from the store (part of `store_wait_ns`).
    pub read_ns: u64,
    /// Nanoseconds the trainer spent getting its rows (cache, store reads, write-back).
    pub train_wait_ns: u64,
}

/// The engine's defaults: 1 GiB cache, one thread per core, read-write, 2 checkpoints kept,
/// the schema's admission threshold.
///
/// # Safety
///
/// Takes no pointers; returns a value. Callable from any thread.
#[no_mangle]
pub extern "C" fn gwen_engine_options_default() -> GwenEngineOptions {
    let defaults = EngineOptions::default();
    GwenEngineOptions {
        cache_bytes: defaults.cache_bytes as u64,
        threads: u32::try_from(defaults.threads).unwrap_or(0),
        read_only: defaults.read_only,
        keep_checkpoints: u32::try_from(defaults.keep_checkpoints).unwrap_or(0),
        min_count: defaults.min_count.unwrap_or(0),
    }
}

/// Largest `GwenEngineOptions.threads` accepted: a garbage value must not spawn billions of
/// threads.
pub const GWEN_MAX_THREADS: u32 = 1024;

fn engine_options(options: &GwenEngineOptions) -> Result<EngineOptions, FfiError> {
    if options.threads > GWEN_MAX_THREADS {
        return Err(FfiError::invalid(format!(
            "threads {} is more than {GWEN_MAX_THREADS}",
            options.threads
        )));
    }
    let cache_bytes = usize::try_from(options.cache_bytes).map_err(|_| {
        FfiError::invalid(format!("cache_bytes {} does not fit this platform", options.cache_bytes))
    })?;
    Ok(EngineOptions {
        cache_bytes,
        threads: options.threads as usize,
        read_only: options.read_only,
        keep_checkpoints: options.keep_checkpoints as usize,
        min_count: (options.min_count > 0).then_some(options.min_count),
        ..EngineOptions::default()
    })
}

#[cfg(unix)]
fn to_path(path: &CStr) -> Result<PathBuf, FfiError> {
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(path.to_bytes())))
}

#[cfg(not(unix))]
fn to_path(path: &CStr) -> Result<PathBuf, FfiError> {
    let text = path.to_str().map_err(|_| FfiError::invalid("path is not UTF-8"))?;
    Ok(PathBuf::from(text))
}

/// Opens the database in directory `path` (made by `gwen train` or this library's trainer)
/// and stores a new handle in `*out_engine`.
///
/// `options` may be null for the defaults. A read-write open restores the newest checkpoint
/// when the store was left with later writes (a crash, or a close without checkpoint).
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` (null `path` or `out_engine`, no database there, more than
/// `GWEN_MAX_THREADS` threads),
/// `GWEN_LOCKED` (another process has it open for writing), `GWEN_CORRUPTION`, `GWEN_IO`,
/// `GWEN_STORE`. `*out_engine` is set only on success.
///
/// # Safety
///
/// `path` is a NUL-terminated string; `options` is null or points to a `GwenEngineOptions`;
/// `out_engine` is valid for writing a pointer; `err_msg` is null or valid for writing a
/// pointer, and on error receives a string to free with `gwen_string_free` (on success, null).
/// The handle is owned by the caller until `gwen_engine_close`. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_open(
    path: *const c_char,
    options: *const GwenEngineOptions,
    out_engine: *mut *mut GwenEngine,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (path, out) = unsafe { (c_str(path, "path")?, Out::new(out_engine, "out_engine")?) };
        let options = if options.is_null() {
            gwen_engine_options_default()
        } else {
            // SAFETY: non-null `options` points to a `GwenEngineOptions` (contract).
            *unsafe { reference(options, "options") }?
        };
        let shared = SharedEngine::open(&to_path(path)?, engine_options(&options)?)?;
        out.write(Box::into_raw(Box::new(GwenEngine { shared })));
        Ok(())
    })
}

/// Closes an engine and frees its handle; null is ignored. It does not checkpoint: training
/// since the last `gwen_engine_checkpoint` is lost (the next open restores that checkpoint).
///
/// # Safety
///
/// `engine` is null or a handle from `gwen_engine_open` not closed yet. No other thread may
/// use the handle during or after this call; the caller must join them first.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_close(engine: *mut GwenEngine) {
    if engine.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: `engine` came from `Box::into_raw` in `gwen_engine_open` and is freed once,
        // with no other user left (this function's contract).
        drop(unsafe { Box::from_raw(engine) });
    });
}

/// The shared engine behind a handle.
///
/// # Safety
///
/// `engine` is null or a live handle from `gwen_engine_open`.
unsafe fn shared<'a>(engine: *const GwenEngine) -> Result<&'a SharedEngine, FfiError> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { reference(engine, "engine") }?.shared)
}

fn group_of(schema: &Schema, group: usize) -> Result<&Group, FfiError> {
    schema.groups.get(group).ok_or_else(|| {
        FfiError::invalid(format!(
            "group index {group} is out of range: the schema has {} groups",
            schema.groups.len()
        ))
    })
}

/// Writes the model's shape (group count, dense width, hash seed) to `*out`.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null `engine` or `out`.
///
/// # Safety
///
/// `engine` is a live handle; `out` is valid for writing a `GwenSchemaInfo`; `err_msg` as in
/// `gwen_engine_open`. Thread-safe: never waits for other calls on the handle.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_schema(
    engine: *const GwenEngine,
    out: *mut GwenSchemaInfo,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, out) = unsafe { (shared(engine)?, Out::new(out, "out")?) };
        let schema = engine.schema();
        out.write(GwenSchemaInfo {
            group_count: schema.groups.len(),
            dense_width: schema.dense_width(),
            hash_seed: schema.hash_seed,
            mlp_input_width: schema.mlp_input_width(),
        });
        Ok(())
    })
}

/// Writes the shape of group `group` (0-based, schema order) to `*out`.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null pointer or `group >= group_count`.
///
/// # Safety
///
/// `engine` is a live handle; `out` is valid for writing a `GwenGroupInfo`; `err_msg` as in
/// `gwen_engine_open`. Thread-safe: never waits for other calls on the handle.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_group(
    engine: *const GwenEngine,
    group: usize,
    out: *mut GwenGroupInfo,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, out) = unsafe { (shared(engine)?, Out::new(out, "out")?) };
        let info = group_of(engine.schema(), group)?;
        out.write(GwenGroupInfo {
            dim: info.dim,
            field_count: info.fields.len(),
            pooling: match info.pooling {
                Pooling::Sum => GwenPooling::GWEN_POOLING_SUM,
                Pooling::Mean => GwenPooling::GWEN_POOLING_MEAN,
                Pooling::Sqrtn => GwenPooling::GWEN_POOLING_SQRTN,
            },
        });
        Ok(())
    })
}

/// Copies the name of group `group` plus a NUL into `buf` and its length (without the NUL)
/// into `*out_len`. Pass a null `buf` with `buf_len` 0 to learn the length.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null `engine` or `out_len`, a null `buf` with a non-zero
/// `buf_len`, or `group >= group_count`; `GWEN_BUFFER_TOO_SMALL` when `buf_len` is less than
/// the length plus one (`*out_len` is still set, `buf` untouched).
///
/// # Safety
///
/// `engine` is a live handle; `buf` is valid for writing `buf_len` bytes; `out_len` is valid
/// for writing a `size_t`; `err_msg` as in `gwen_engine_open`. Thread-safe: never waits for
/// other calls on the handle.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_group_name(
    engine: *const GwenEngine,
    group: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, buf, out_len) = unsafe {
            (shared(engine)?, OutSlice::new(buf, buf_len, "buf")?, Out::new(out_len, "out_len")?)
        };
        copy_text(&group_of(engine.schema(), group)?.name, buf, out_len)
    })
}

/// Copies the name of input field `field` of group `group` (e.g. `"C7"`, the name to pass to
/// `gwen_hash_feature`) like `gwen_engine_group_name`.
///
/// # Errors
///
/// As `gwen_engine_group_name`, and `GWEN_INVALID_ARGUMENT` for `field >= field_count`.
///
/// # Safety
///
/// As `gwen_engine_group_name`.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_group_field(
    engine: *const GwenEngine,
    group: usize,
    field: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, buf, out_len) = unsafe {
            (shared(engine)?, OutSlice::new(buf, buf_len, "buf")?, Out::new(out_len, "out_len")?)
        };
        let info = group_of(engine.schema(), group)?;
        let name = info.fields.get(field).ok_or_else(|| {
            FfiError::invalid(format!(
                "field index {field} is out of range: group {} has {} fields",
                info.name,
                info.fields.len()
            ))
        })?;
        copy_text(name, buf, out_len)
    })
}

/// Finds the group called `name` (NUL-terminated) and writes its index to `*out_group`.
///
/// # Errors
///
/// `GWEN_NOT_FOUND` when no group has that name; `GWEN_INVALID_ARGUMENT` for a null pointer.
///
/// # Safety
///
/// `engine` is a live handle; `name` is a NUL-terminated string; `out_group` is valid for
/// writing a `size_t`; `err_msg` as in `gwen_engine_open`. Thread-safe: never waits for other
/// calls on the handle.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_group_find(
    engine: *const GwenEngine,
    name: *const c_char,
    out_group: *mut usize,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, name, out) =
            unsafe { (shared(engine)?, c_str(name, "name")?, Out::new(out_group, "out_group")?) };
        let groups = &engine.schema().groups;
        let found = groups.iter().position(|g| g.name.as_bytes() == name.to_bytes());
        let index = found
            .ok_or_else(|| FfiError::not_found(format!("no group {:?}", name.to_string_lossy())))?;
        out.write(index);
        Ok(())
    })
}

/// Predicts the click probability of every sample of `batch` into `out_probs[0 .. len]`.
/// Ids never trained read as zero vectors; nothing is written to the database.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` (null pointer, `out_len < batch->len`, a length that does not
/// match the batch or schema, bad offsets, a non-finite dense value or weight), `GWEN_STORE`,
/// `GWEN_CORRUPTION`, `GWEN_POISONED`.
/// On error `out_probs` may be untouched.
///
/// # Safety
///
/// `engine` is a live handle; `batch` points to a `GwenBatch` whose pointers each hold as many
/// values as their lengths say; `out_probs` is valid for writing `out_len` floats and not
/// accessed by another thread during the call; `err_msg` as in `gwen_engine_open`.
/// Thread-safe: any number of threads may predict on one handle at once, also while another
/// trains or checkpoints (a prediction sees each row and the MLP before or after a
/// concurrent step).
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_predict(
    engine: *const GwenEngine,
    batch: *const GwenBatch,
    out_probs: *mut f32,
    out_len: usize,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, batch, out) = unsafe {
            let engine = shared(engine)?;
            let batch = reference(batch, "batch")?;
            (engine, batch, OutSlice::new(out_probs, out_len, "out_probs")?)
        };
        out.require(batch.len, "out_probs")?;
        // SAFETY: the batch's pointers follow this function's contract.
        let batch = unsafe { to_batch(batch, engine.schema(), false) }?;
        out.fill(&engine.predict(&batch)?);
        Ok(())
    })
}

/// Trains on one batch (labels required): forward, backward, sparse row updates, Adam on the
/// MLP. `out_report` may be null.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` (as predict, plus a wrong label count, a label not 0 or 1, an
/// engine open read-only; nothing is changed), `GWEN_STORE` and `GWEN_IO` (the engine is then
/// poisoned), `GWEN_POISONED`.
///
/// # Safety
///
/// As `gwen_engine_predict`; `out_report` is null or valid for writing a `GwenStepReport`.
/// Thread-safe: may run while other threads predict; train steps from several threads are
/// applied one after the other.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_train(
    engine: *const GwenEngine,
    batch: *const GwenBatch,
    out_report: *mut GwenStepReport,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, batch, out) = unsafe {
            let engine = shared(engine)?;
            (engine, reference(batch, "batch")?, Out::optional(out_report, "out_report")?)
        };
        // SAFETY: the batch's pointers follow this function's contract.
        let batch = unsafe { to_batch(batch, engine.schema(), true) }?;
        let report = engine.train_step(&batch)?;
        if let Some(out) = out {
            out.write(GwenStepReport {
                step: report.step,
                samples: report.samples as u64,
                loss_sum: report.loss_sum,
            });
        }
        Ok(())
    })
}

/// Copies the weights of row `id` of group `group` into `out_weights[0 .. dim]`.
///
/// The row is the live one: the RAM tier first, then the store, including updates not
/// checkpointed yet. Nothing is created.
///
/// # Errors
///
/// `GWEN_NOT_FOUND` when the id was never trained (or was evicted by compaction);
/// `GWEN_INVALID_ARGUMENT` for a null pointer, `group >= group_count` or `out_len < dim`;
/// `GWEN_STORE`, `GWEN_CORRUPTION`.
///
/// # Safety
///
/// `engine` is a live handle; `out_weights` is valid for writing `out_len` floats and not
/// accessed by another thread during the call; `err_msg` as in `gwen_engine_open`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_row(
    engine: *const GwenEngine,
    group: usize,
    id: u64,
    out_weights: *mut f32,
    out_len: usize,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, out) =
            unsafe { (shared(engine)?, OutSlice::new(out_weights, out_len, "out_weights")?) };
        let info = group_of(engine.schema(), group)?;
        out.require(info.dim, "out_weights")?;
        let weights = engine.row(group, id)?.ok_or_else(|| {
            FfiError::not_found(format!("group {} has no row {id:#018x}", info.name))
        })?;
        out.fill(&weights);
        Ok(())
    })
}

/// Makes the current state durable and takes a checkpoint; writes its step to `*out_step`
/// (which may be null).
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` (null `engine`, engine open read-only), `GWEN_IO`, `GWEN_STORE`
/// (the engine is then poisoned), `GWEN_POISONED`.
///
/// # Safety
///
/// `engine` is a live handle; `out_step` is null or valid for writing a `uint64_t`; `err_msg`
/// as in `gwen_engine_open`. Thread-safe: may run while other threads predict and train.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_checkpoint(
    engine: *const GwenEngine,
    out_step: *mut u64,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, out) = unsafe { (shared(engine)?, Out::optional(out_step, "out_step")?) };
        let step = engine.checkpoint()?;
        if let Some(out) = out {
            out.write(step);
        }
        Ok(())
    })
}

/// Writes the engine's counters and progress to `*out`.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null pointer.
///
/// # Safety
///
/// `engine` is a live handle; `out` is valid for writing a `GwenStats`; `err_msg` as in
/// `gwen_engine_open`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn gwen_engine_stats(
    engine: *const GwenEngine,
    out: *mut GwenStats,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (engine, out) = unsafe { (shared(engine)?, Out::new(out, "out")?) };
        let p = engine.progress();
        let s = p.stats;
        out.write(GwenStats {
            step: p.step,
            checkpoint_step: p.checkpoint_step,
            cache_hits: s.cache_hits,
            cache_misses: s.cache_misses,
            evictions: s.evictions,
            rows_read: s.rows_read,
            bytes_read: s.bytes_read,
            rows_written: s.rows_written,
            bytes_written: s.bytes_written,
            rows_created: s.rows_created,
            not_admitted: s.not_admitted,
            train_steps: s.train_steps,
            samples_trained: s.samples_trained,
            store_wait_ns: s.store_wait_ns,
            read_ns: s.read_ns,
            train_wait_ns: s.train_wait_ns,
        });
        Ok(())
    })
}
