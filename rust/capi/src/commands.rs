//! The module's command list, so that a C host can register the commands in its own admin
//! shell: names and summaries as static strings, help pages as owned strings.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use migration_core::commands::{COMMANDS, help};

use crate::error::{dcm_error, guard, guard_value, invalid, null};
use crate::strings::{cstring, into_raw_string, write_out};

struct CommandText {
    name: CString,
    summary: CString,
}

fn texts() -> &'static [CommandText] {
    static TEXTS: OnceLock<Vec<CommandText>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        COMMANDS.iter().map(|c| CommandText { name: cstring(c.name), summary: cstring(c.summary) }).collect()
    })
}

/// The number of admin commands the module understands (`migration copy`, `migration info`,
/// …); index them from 0.
///
/// Errors: none. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn dcm_command_count() -> usize {
    guard_value(0, || texts().len())
}

/// The name of command `index` (e.g. `migration move`): a static string, valid for the
/// life of the library; do not free it. NULL when `index` is out of range.
///
/// Errors: none. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn dcm_command_name(index: usize) -> *const c_char {
    guard_value(ptr::null(), || texts().get(index).map_or(ptr::null(), |t| t.name.as_ptr()))
}

/// The one-line summary of command `index`: a static string like `dcm_command_name`'s.
/// NULL when `index` is out of range.
///
/// Errors: none. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn dcm_command_summary(index: usize) -> *const c_char {
    guard_value(ptr::null(), || texts().get(index).map_or(ptr::null(), |t| t.summary.as_ptr()))
}

/// Writes the help page of command `index` (synopsis, options, description) to `*output`;
/// free it with `dcm_string_free`.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` when `index` is out of range or `output` is NULL.
///
/// Threads: any.
///
/// # Safety
/// `output` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_command_help(index: usize, output: *mut *mut c_char) -> *mut dcm_error {
    guard(|| {
        // SAFETY: caller's contract.
        unsafe { write_out(output, ptr::null_mut()) };
        if output.is_null() {
            return Err(null("output"));
        }
        let spec = COMMANDS.get(index).ok_or_else(|| invalid(format!("no command {index}")))?;
        let page = help(spec.name)?;
        // SAFETY: checked non-NULL above.
        unsafe { *output = into_raw_string(&page) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_command_has_a_name_summary_and_help_page() {
        let n = dcm_command_count();
        assert!(n > 10);
        let names: Vec<String> =
            (0..n).map(|i| unsafe { CStr::from_ptr(dcm_command_name(i)) }.to_string_lossy().into_owned()).collect();
        assert!(names.iter().any(|n| n == "migration move"), "{names:?}");
        for (i, name) in names.iter().enumerate() {
            assert!(!dcm_command_summary(i).is_null());
            let mut page = ptr::null_mut();
            let e = unsafe { dcm_command_help(i, &mut page) };
            assert!(e.is_null(), "help of {name}");
            let text = unsafe { CStr::from_ptr(page) }.to_string_lossy().into_owned();
            assert!(!text.is_empty());
            unsafe { crate::strings::dcm_string_free(page) };
        }
        assert!(dcm_command_name(n).is_null());
        let mut page = ptr::null_mut();
        let e = unsafe { dcm_command_help(n, &mut page) };
        assert!(!e.is_null() && page.is_null());
        unsafe { crate::error::dcm_error_free(e) };
    }
}
