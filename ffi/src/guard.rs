//! The panic guard around every export, the error message handed to the caller, and
//! `gwen_string_free`.

use std::any::Any;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::{FfiError, GwenStatus};

/// Where a call's error message goes: the caller's optional `char **err_msg`.
pub(crate) struct ErrMsg {
    slot: *mut *mut c_char,
}

impl ErrMsg {
    /// Wraps the `err_msg` argument of an export; null (or a misaligned pointer, which cannot
    /// be written) means the caller does not want the message.
    ///
    /// # Safety
    ///
    /// `slot` is null or valid for writing one pointer until the export returns.
    pub(crate) unsafe fn new(slot: *mut *mut c_char) -> ErrMsg {
        let usable = !slot.is_null() && slot.is_aligned();
        ErrMsg { slot: if usable { slot } else { std::ptr::null_mut() } }
    }

    /// Stores `message` as a new C string, or null.
    fn set(self, message: Option<String>) {
        if self.slot.is_null() {
            return;
        }
        let raw = message.map_or(std::ptr::null_mut(), |text| to_c_string(text).into_raw());
        // SAFETY: non-null and aligned (checked in `new`); writable by the contract of `new`.
        unsafe { self.slot.write(raw) };
    }
}

/// Runs the body of an export: a panic becomes `GWEN_INTERNAL`, an error its status, and the
/// message (or null on success) goes to `err_msg`.
///
/// `AssertUnwindSafe` is sound here: after a panic nothing the closure touched is used again
/// except the engine, whose locks turn poisoned by the panic and make every later call on it
/// return `GWEN_POISONED`.
pub(crate) fn guard(err_msg: ErrMsg, body: impl FnOnce() -> Result<(), FfiError>) -> GwenStatus {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(FfiError {
            status: GwenStatus::GWEN_INTERNAL,
            message: format!("internal error (panic): {}", panic_text(payload.as_ref())),
        })
    });
    let (status, message) = match result {
        Ok(()) => (GwenStatus::GWEN_OK, None),
        Err(error) => (error.status, Some(error.message)),
    };
    err_msg.set(message);
    status
}

/// Runs the body of an export that cannot report anything (`gwen_engine_close`,
/// `gwen_string_free`); a panic is swallowed rather than unwound into C.
pub(crate) fn guard_void(body: impl FnOnce()) {
    // Nothing to report to; the panic hook has already printed the message.
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// `text` as a C string; interior NUL bytes (from paths or raw values) become `?`.
fn to_c_string(text: String) -> CString {
    let bytes: Vec<u8> =
        text.into_bytes().into_iter().map(|b| if b == 0 { b'?' } else { b }).collect();
    CString::new(bytes).expect("should hold no NUL byte after replacing them")
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Frees a string this library returned through `err_msg`. Null is accepted and ignored.
///
/// # Safety
///
/// `s` is null or a pointer from an `err_msg` of this library that was not freed yet; it must
/// not be used afterwards. Do not pass strings from `free()`-style allocators or static
/// strings such as `gwen_version()`. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn gwen_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: `s` came from `CString::into_raw` in `set_message` and is freed only once,
        // as the caller guarantees.
        drop(unsafe { CString::from_raw(s) });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn run(body: impl FnOnce() -> Result<(), FfiError>) -> (GwenStatus, Option<String>) {
        let mut msg: *mut c_char = c"stale".as_ptr().cast_mut();
        // SAFETY: `msg` is a local, writable pointer slot.
        let status = guard(unsafe { ErrMsg::new(&mut msg) }, body);
        if msg.is_null() {
            return (status, None);
        }
        // SAFETY: a non-null message is a fresh C string from `set_message`.
        let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned();
        // SAFETY: freed once, not used afterwards.
        unsafe { gwen_string_free(msg) };
        (status, Some(text))
    }

    #[test]
    fn success_clears_the_message() {
        assert_eq!(run(|| Ok(())), (GwenStatus::GWEN_OK, None));
    }

    #[test]
    fn errors_carry_status_and_message() {
        let (status, msg) = run(|| Err(FfiError::invalid("batch is null")));
        assert_eq!(status, GwenStatus::GWEN_INVALID_ARGUMENT);
        assert_eq!(msg.as_deref(), Some("batch is null"));
    }

    #[test]
    fn a_panic_becomes_internal_with_its_text() {
        let (status, msg) = run(|| panic!("boom {}", 7));
        assert_eq!(status, GwenStatus::GWEN_INTERNAL);
        assert_eq!(msg.as_deref(), Some("internal error (panic): boom 7"));
        let (status, msg) = run(|| std::panic::panic_any(42u8));
        assert_eq!(status, GwenStatus::GWEN_INTERNAL);
        assert!(msg.is_some_and(|m| m.contains("unknown panic payload")));
    }

    #[test]
    fn a_null_err_msg_is_fine_and_nul_bytes_are_replaced() {
        // SAFETY: a null err_msg is allowed.
        let err_msg = unsafe { ErrMsg::new(std::ptr::null_mut()) };
        let status = guard(err_msg, || Err(FfiError::invalid("x")));
        assert_eq!(status, GwenStatus::GWEN_INVALID_ARGUMENT);
        let (_, msg) = run(|| Err(FfiError::invalid("a\0b")));
        assert_eq!(msg.as_deref(), Some("a?b"));
    }

    #[test]
    fn void_guard_swallows_panics() {
        guard_void(|| panic!("must not unwind"));
        // SAFETY: null is accepted.
        unsafe { gwen_string_free(std::ptr::null_mut()) };
    }
}
