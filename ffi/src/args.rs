//! Checked conversions of C arguments: pointers, buffers and strings. Every check that can be
//! made (null, alignment, length bounds) is made here; what cannot be checked (that a pointer
//! really points to that many live values) is the caller's contract in each `# Safety`.

use std::ffi::{c_char, CStr};
use std::marker::PhantomData;

use crate::status::{FfiError, GwenStatus};

/// Rejects lengths whose byte size does not fit `isize`, which no allocation can have.
fn check_len<T>(len: usize, what: &str) -> Result<(), FfiError> {
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(FfiError::invalid(format!("{what}: length {len} is too large")));
    }
    Ok(())
}

/// The `len` values at `ptr`; null is accepted for an empty slice only.
///
/// # Safety
///
/// Unless `len` is 0, `ptr` points to `len` initialised values of `T` that stay valid and
/// unmodified for `'a`.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    what: &str,
) -> Result<&'a [T], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::invalid(format!("{what} is null but its length is {len}")));
    }
    if !ptr.is_aligned() {
        return Err(FfiError::invalid(format!("{what} is not aligned for its element type")));
    }
    check_len::<T>(len, what)?;
    // SAFETY: non-null, aligned, byte size within isize (checked above); the caller guarantees
    // `len` initialised values that outlive `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A shared reference to the value at `ptr`.
///
/// # Safety
///
/// Unless null, `ptr` points to an initialised `T` that stays valid and unmodified for `'a`.
pub(crate) unsafe fn reference<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null(what));
    }
    if !ptr.is_aligned() {
        return Err(FfiError::invalid(format!("{what} is not aligned for its type")));
    }
    // SAFETY: non-null and aligned (checked above); valid for `'a` by the caller's guarantee.
    Ok(unsafe { &*ptr })
}

/// The NUL-terminated string at `ptr`.
///
/// # Safety
///
/// Unless null, `ptr` points to a NUL-terminated string that stays valid and unmodified for
/// `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a CStr, FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null(what));
    }
    // SAFETY: non-null; NUL-terminated and valid for `'a` by the caller's guarantee.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// The UTF-8 text of `len` bytes at `ptr` (not NUL-terminated).
///
/// # Safety
///
/// As [`slice`] for `len` bytes.
pub(crate) unsafe fn utf8<'a>(
    ptr: *const c_char,
    len: usize,
    what: &str,
) -> Result<&'a str, FfiError> {
    // SAFETY: forwarded contract of `slice`.
    let bytes = unsafe { slice(ptr.cast::<u8>(), len, what) }?;
    std::str::from_utf8(bytes).map_err(|e| FfiError::invalid(format!("{what} is not UTF-8: {e}")))
}

/// A checked out-pointer for one value, written once the call succeeded.
pub(crate) struct Out<'a, T> {
    ptr: *mut T,
    _lifetime: PhantomData<&'a mut T>,
}

impl<'a, T> Out<'a, T> {
    /// Checks a required out-pointer (not null, aligned).
    ///
    /// # Safety
    ///
    /// Unless null, `ptr` is valid for writing one `T` for `'a`; it need not be initialised.
    pub(crate) unsafe fn new(ptr: *mut T, what: &str) -> Result<Out<'a, T>, FfiError> {
        if ptr.is_null() {
            return Err(FfiError::null(what));
        }
        if !ptr.is_aligned() {
            return Err(FfiError::invalid(format!("{what} is not aligned for its type")));
        }
        Ok(Out { ptr, _lifetime: PhantomData })
    }

    /// Checks an optional out-pointer: null gives `None`.
    ///
    /// # Safety
    ///
    /// As [`Out::new`].
    pub(crate) unsafe fn optional(ptr: *mut T, what: &str) -> Result<Option<Out<'a, T>>, FfiError> {
        if ptr.is_null() {
            return Ok(None);
        }
        // SAFETY: forwarded contract.
        unsafe { Out::new(ptr, what) }.map(Some)
    }

    /// Stores `value`, without reading or dropping what was there.
    pub(crate) fn write(self, value: T) {
        // SAFETY: non-null and aligned (checked in `new`); writable for `'a` by the contract of
        // `new`. `write` does not read the old, possibly uninitialised, value.
        unsafe { self.ptr.write(value) };
    }
}

/// A checked caller buffer of `len` values, written once the call succeeded. It is never read,
/// so it may be uninitialised.
pub(crate) struct OutSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _lifetime: PhantomData<&'a mut [T]>,
}

impl<'a, T: Copy> OutSlice<'a, T> {
    /// Checks a caller buffer; null is accepted for an empty one only.
    ///
    /// # Safety
    ///
    /// Unless `len` is 0, `ptr` is valid for writing `len` values of `T` for `'a`, and no other
    /// thread reads or writes it meanwhile.
    pub(crate) unsafe fn new(
        ptr: *mut T,
        len: usize,
        what: &str,
    ) -> Result<OutSlice<'a, T>, FfiError> {
        if len > 0 {
            if ptr.is_null() {
                return Err(FfiError::invalid(format!("{what} is null but its length is {len}")));
            }
            if !ptr.is_aligned() {
                return Err(FfiError::invalid(format!("{what} is not aligned for its type")));
            }
            check_len::<T>(len, what)?;
        }
        Ok(OutSlice { ptr, len, _lifetime: PhantomData })
    }

    /// Capacity in values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Checks that `needed` values fit.
    pub(crate) fn require(&self, needed: usize, what: &str) -> Result<(), FfiError> {
        if self.len < needed {
            return Err(FfiError::invalid(format!(
                "{what} holds {} values, {needed} are needed",
                self.len
            )));
        }
        Ok(())
    }

    /// Copies `values` to the start of the buffer.
    ///
    /// # Panics
    ///
    /// When `values` is longer than the buffer; callers check with [`OutSlice::require`].
    pub(crate) fn fill(self, values: &[T]) {
        assert!(values.len() <= self.len, "should have checked the buffer length");
        if values.is_empty() {
            return;
        }
        // SAFETY: the buffer is non-null, aligned and writable for `self.len >= values.len()`
        // values (checked in `new` and above); it cannot overlap `values`, which Rust owns.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr, values.len()) };
    }
}

/// Copies `text` plus a NUL into `buf` and its length (without the NUL) into `out_len`. A
/// buffer too small gets nothing, `out_len` still gets the length, and the call returns
/// `GWEN_BUFFER_TOO_SMALL`, so callers can ask with a null buffer of length 0 first.
pub(crate) fn copy_text(
    text: &str,
    buf: OutSlice<'_, c_char>,
    out_len: Out<'_, usize>,
) -> Result<(), FfiError> {
    let needed = text.len() + 1;
    out_len.write(text.len());
    if buf.len() < needed {
        return Err(FfiError {
            status: GwenStatus::GWEN_BUFFER_TOO_SMALL,
            message: format!("buffer holds {} bytes, {needed} are needed", buf.len()),
        });
    }
    let bytes: Vec<c_char> = text.bytes().chain([0]).map(|b| b as c_char).collect();
    buf.fill(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_reject_null_misaligned_and_huge() {
        // SAFETY: a null pointer must be rejected before use.
        let null = unsafe { slice::<u32>(std::ptr::null(), 3, "ids") };
        assert_eq!(null.map(|_| ()), Err(FfiError::invalid("ids is null but its length is 3")));
        // SAFETY: null is allowed for an empty slice.
        let empty = unsafe { slice::<u32>(std::ptr::null(), 0, "ids") };
        assert_eq!(empty.map(<[u32]>::len), Ok(0));
        let data = [0u64; 4];
        let misaligned = data.as_ptr().cast::<u8>().wrapping_add(1).cast::<u64>();
        // SAFETY: a misaligned pointer must be rejected before use.
        let bad = unsafe { slice(misaligned, 1, "ids") };
        assert_eq!(bad.map_err(|e| e.status), Err(GwenStatus::GWEN_INVALID_ARGUMENT));
        // SAFETY: an impossible length must be rejected before use.
        let huge = unsafe { slice(data.as_ptr(), usize::MAX / 2, "ids") };
        assert_eq!(
            huge.map_err(|e| e.message),
            Err("ids: length 9223372036854775807 is too large".into())
        );
        // SAFETY: points to 4 live values.
        let ok = unsafe { slice(data.as_ptr(), 4, "ids") };
        assert_eq!(ok.map(<[u64]>::len), Ok(4));
    }

    #[test]
    fn out_pointers_reject_null_unless_optional() {
        // SAFETY: null pointers are rejected before any write.
        let out = unsafe { Out::<u64>::new(std::ptr::null_mut(), "out_step") };
        assert_eq!(out.map(|_| ()), Err(FfiError::invalid("out_step is null")));
        // SAFETY: as above.
        let optional = unsafe { Out::<u64>::optional(std::ptr::null_mut(), "out_step") };
        assert!(matches!(optional, Ok(None)));
        let mut value = 0u64;
        // SAFETY: points to a live local.
        unsafe { Out::new(&mut value, "out_step") }.expect("valid").write(9);
        assert_eq!(value, 9);
    }

    #[test]
    fn out_slices_check_their_length() {
        let mut buf = [0f32; 2];
        // SAFETY: points to a live local of 2 values.
        let out = unsafe { OutSlice::new(buf.as_mut_ptr(), 2, "out_probs") }.expect("valid");
        let err = out.require(3, "out_probs").map_err(|e| e.message);
        assert_eq!(err, Err("out_probs holds 2 values, 3 are needed".into()));
        out.fill(&[1.0, 2.0]);
        assert_eq!(buf, [1.0, 2.0]);
        // SAFETY: null with a non-zero length is rejected.
        let null = unsafe { OutSlice::<f32>::new(std::ptr::null_mut(), 5, "out_probs") };
        assert!(null.is_err());
    }

    #[test]
    fn text_is_copied_with_its_nul_or_sized() {
        let mut len = 0usize;
        let mut buf = [1 as c_char; 8];
        // SAFETY: live locals.
        let (out, out_len) =
            unsafe { (OutSlice::new(buf.as_mut_ptr(), 3, "buf"), Out::new(&mut len, "out_len")) };
        let small = copy_text("abc", out.expect("buf"), out_len.expect("len"));
        assert_eq!(small.map_err(|e| e.status), Err(GwenStatus::GWEN_BUFFER_TOO_SMALL));
        assert_eq!(len, 3);
        // SAFETY: live locals.
        let (out, out_len) =
            unsafe { (OutSlice::new(buf.as_mut_ptr(), 8, "buf"), Out::new(&mut len, "out_len")) };
        copy_text("abc", out.expect("buf"), out_len.expect("len")).expect("fits");
        assert_eq!(&buf[..4], &[b'a' as c_char, b'b' as c_char, b'c' as c_char, 0]);
    }
}
