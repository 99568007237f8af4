//! Error objects (`dcm_error`), and the guard every exported function runs its body in: it
//! catches panics and turns them, like every `migration_core::Error`, into an error object.

use std::any::Any;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use migration_core::{Error, ErrorKind};

use crate::live::Live;
use crate::strings::cstring;

/// An error: a stable numeric code (`DCM_ERROR_*`) and a message. Returned by every fallible
/// function (NULL means success); owned by the caller, who frees it with `dcm_error_free`.
pub struct dcm_error {
    code: u32,
    message: CString,
}

static ERRORS: Live = Live::new();

impl dcm_error {
    /// Hands `error` to C.
    pub(crate) fn into_raw(error: Error) -> *mut dcm_error {
        let raw = Box::into_raw(Box::new(dcm_error { code: error.kind.code(), message: cstring(&error.message) }));
        ERRORS.insert(raw);
        raw
    }
}

/// The result of a body run by [`guard`].
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// An `InvalidArgument` error.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The error of a NULL pointer passed as `what`.
pub(crate) fn null(what: impl std::fmt::Display) -> Error {
    invalid(format!("{what} is NULL"))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = migration_core::error::panic_message(payload).unwrap_or("unknown panic");
    format!("internal error (panic): {text}")
}

/// Runs the body of an exported function: its error, or a panic, becomes an error object.
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> *mut dcm_error {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(error)) => dcm_error::into_raw(error),
        Err(payload) => dcm_error::into_raw(Error::new(ErrorKind::Internal, panic_message(payload.as_ref()))),
    }
}

/// Runs the body of an exported function that cannot report an error: a panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The code of an error (`DCM_ERROR_*`), or 0 when `error` is NULL or not a live error.
///
/// Errors: none. Threads: any; an error may be read from any thread until it is freed.
///
/// # Safety
/// Any pointer value is accepted; only live errors are read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_error_code(error: *const dcm_error) -> u32 {
    guard_value(0, || {
        // SAFETY: `with` runs the closure only while `error` is a live `dcm_error`.
        ERRORS.with(error, || unsafe { (*error).code }).unwrap_or(0)
    })
}

/// The message of an error, borrowed: valid until the error is freed; do not free it.
/// NULL when `error` is NULL or not a live error.
///
/// Errors: none. Threads: any; an error may be read from any thread until it is freed.
///
/// # Safety
/// Any pointer value is accepted; only live errors are read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_error_message(error: *const dcm_error) -> *const c_char {
    guard_value(ptr::null(), || {
        // SAFETY: as in `dcm_error_code`; the message lives as long as the error.
        ERRORS.with(error, || unsafe { (*error).message.as_ptr() }).unwrap_or(ptr::null())
    })
}

/// Frees an error. NULL, and a pointer that is not a live error (freed already), are ignored.
///
/// Errors: none. Threads: any.
///
/// # Safety
/// Any pointer value is accepted; only live errors are freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_error_free(error: *mut dcm_error) {
    guard_value((), || {
        if ERRORS.remove(error) {
            // SAFETY: the address was live, so it came from `Box::into_raw`, and removing it
            // from the set made this the only free.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn an_error_carries_its_code_and_message_until_freed_once() {
        let e = dcm_error::into_raw(Error::job_not_found());
        unsafe {
            assert_eq!(dcm_error_code(e), ErrorKind::NotFound.code());
            assert_eq!(CStr::from_ptr(dcm_error_message(e)).to_str(), Ok("Job not found"));
            dcm_error_free(e);
            assert_eq!(dcm_error_code(e), 0);
            assert!(dcm_error_message(e).is_null());
            dcm_error_free(e); // a double free is ignored
            dcm_error_free(ptr::null_mut());
            assert_eq!(dcm_error_code(ptr::null()), 0);
        }
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let e = guard(|| panic!("boom"));
        unsafe {
            assert_eq!(dcm_error_code(e), ErrorKind::Internal.code());
            let message = CStr::from_ptr(dcm_error_message(e)).to_string_lossy().into_owned();
            assert!(message.contains("boom"), "{message}");
            dcm_error_free(e);
        }
    }
}
