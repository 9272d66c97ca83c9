//! Feature hashing exports: the same ids as the CLI and the engine's Criteo reader.

use std::ffi::c_char;

use crate::args::{slice, utf8, Out};
use crate::guard::{guard, ErrMsg};
use crate::status::GwenStatus;

/// Hashes raw value `raw` (`raw_len` bytes, not NUL-terminated) of field `field` (`field_len`
/// bytes of UTF-8, e.g. `"C7"`) under `hash_seed` (from `GwenSchemaInfo`), writing the id to
/// `*out_id`. For Criteo data the field of column `C<k>` is `"C<k>"` and `raw` is the column's
/// text as it appears in the file (an empty column is a missing value: pass no id at all).
///
/// The rule: `id = xxh3_64(raw, seed = xxh3_64(field, seed = hash_seed))`, so callers may also
/// compute field seeds once with `gwen_hash_field_seed` and then call `gwen_hash_feature_id`.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null `field`, `raw` or `out_id` (a null pointer is allowed
/// for a length of 0), or a field name that is not UTF-8.
///
/// # Safety
///
/// `field` and `raw` point to `field_len` and `raw_len` readable bytes; `out_id` is valid for
/// writing a `uint64_t`; `err_msg` is null or valid for writing a pointer, and on error
/// receives a string to free with `gwen_string_free`. Needs no engine; callable from any
/// thread.
#[no_mangle]
pub unsafe extern "C" fn gwen_hash_feature(
    hash_seed: u64,
    field: *const c_char,
    field_len: usize,
    raw: *const c_char,
    raw_len: usize,
    out_id: *mut u64,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (field, raw, out) = unsafe {
            let field = utf8(field, field_len, "field")?;
            (field, slice(raw.cast::<u8>(), raw_len, "raw")?, Out::new(out_id, "out_id")?)
        };
        out.write(gwen::hash_feature(hash_seed, field, raw));
        Ok(())
    })
}

/// Writes the seed of field `field` (`field_len` bytes of UTF-8) under `hash_seed` to
/// `*out_seed`, for `gwen_hash_feature_id`.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null pointer or a field name that is not UTF-8.
///
/// # Safety
///
/// As `gwen_hash_feature`.
#[no_mangle]
pub unsafe extern "C" fn gwen_hash_field_seed(
    hash_seed: u64,
    field: *const c_char,
    field_len: usize,
    out_seed: *mut u64,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (field, out) =
            unsafe { (utf8(field, field_len, "field")?, Out::new(out_seed, "out_seed")?) };
        out.write(gwen::field_seed(hash_seed, field));
        Ok(())
    })
}

/// Hashes raw value `raw` (`raw_len` bytes) with a seed from `gwen_hash_field_seed`; equal to
/// `gwen_hash_feature` of the same field and value.
///
/// # Errors
///
/// `GWEN_INVALID_ARGUMENT` for a null `raw` (with a non-zero length) or `out_id`.
///
/// # Safety
///
/// As `gwen_hash_feature`.
#[no_mangle]
pub unsafe extern "C" fn gwen_hash_feature_id(
    field_seed: u64,
    raw: *const c_char,
    raw_len: usize,
    out_id: *mut u64,
    err_msg: *mut *mut c_char,
) -> GwenStatus {
    // SAFETY: `err_msg` is null or writable (this function's contract).
    let err_msg = unsafe { ErrMsg::new(err_msg) };
    guard(err_msg, || {
        // SAFETY: the pointers follow this function's contract.
        let (raw, out) =
            unsafe { (slice(raw.cast::<u8>(), raw_len, "raw")?, Out::new(out_id, "out_id")?) };
        out.write(gwen::feature_id(field_seed, raw));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_engine_hash() {
        let (field, raw) = ("C7", "68fd1e64");
        let mut id = 0u64;
        let mut seed = 0u64;
        let mut id2 = 0u64;
        // SAFETY: the pointers point to live locals of the given lengths.
        let statuses = unsafe {
            [
                gwen_hash_feature(
                    3,
                    field.as_ptr().cast(),
                    2,
                    raw.as_ptr().cast(),
                    8,
                    &mut id,
                    std::ptr::null_mut(),
                ),
                gwen_hash_field_seed(3, field.as_ptr().cast(), 2, &mut seed, std::ptr::null_mut()),
            ]
        };
        assert_eq!(statuses, [GwenStatus::GWEN_OK; 2]);
        // SAFETY: as above.
        let status = unsafe {
            gwen_hash_feature_id(seed, raw.as_ptr().cast(), 8, &mut id2, std::ptr::null_mut())
        };
        assert_eq!(status, GwenStatus::GWEN_OK);
        assert_eq!(id, gwen::hash_feature(3, field, raw.as_bytes()));
        assert_eq!(id, id2);
    }

    #[test]
    fn rejects_null_and_non_utf8() {
        let mut id = 0u64;
        // SAFETY: null pointers are rejected before use; the rest are live locals.
        let statuses = unsafe {
            [
                gwen_hash_feature(
                    0,
                    std::ptr::null(),
                    2,
                    c"x".as_ptr(),
                    1,
                    &mut id,
                    std::ptr::null_mut(),
                ),
                gwen_hash_feature(
                    0,
                    c"C1".as_ptr(),
                    2,
                    std::ptr::null(),
                    1,
                    &mut id,
                    std::ptr::null_mut(),
                ),
                gwen_hash_feature(
                    0,
                    c"C1".as_ptr(),
                    2,
                    c"x".as_ptr(),
                    1,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ),
                gwen_hash_feature(
                    0,
                    c"\xff".as_ptr(),
                    1,
                    c"x".as_ptr(),
                    1,
                    &mut id,
                    std::ptr::null_mut(),
                ),
            ]
        };
        assert_eq!(statuses, [GwenStatus::GWEN_INVALID_ARGUMENT; 4]);
        // An empty raw value may be null.
        // SAFETY: a null pointer with length 0 is allowed.
        let empty = unsafe {
            gwen_hash_feature(
                0,
                c"C1".as_ptr(),
                2,
                std::ptr::null(),
                0,
                &mut id,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(empty, GwenStatus::GWEN_OK);
        assert_eq!(id, gwen::hash_feature(0, "C1", b""));
    }
}
