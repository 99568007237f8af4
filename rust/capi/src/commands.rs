//! The module's command list, so that a C host can register the commands in its own admin
//! shell: names and summaries as static strings, help pages as owned strings.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use migration_core::commands::{COMMANDS, help};
use migration_core::syntax::{OptionKind, placeholder};

use crate::error::{dcm_error, guard, guard_value, invalid, null};
use crate::strings::{cstring, into_raw_string, write_out};

/// One option of a command, for registration in a host's command interpreter (dCache's
/// `@Option`): static strings, valid for the life of the library; do not free them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_command_option {
    /// The name without `-` (`accessed`).
    pub name: *const c_char,
    /// dCache's category (`Filter options`, `Transfer options`, `Target options`,
    /// `Lifetime options`), or an empty string.
    pub category: *const c_char,
    /// How the help page shows the value (`=<n>|[<n>]..[<m>]`, `=wait|limit`); empty for a flag.
    pub value: *const c_char,
    /// The option's help text.
    pub help: *const c_char,
    /// False for a flag (`-permanent`, also `-permanent=false`), true when a value is needed.
    pub takes_value: bool,
}

struct OptionText {
    name: CString,
    category: CString,
    value: CString,
    help: CString,
    takes_value: bool,
}

struct CommandText {
    name: CString,
    summary: CString,
    options: Vec<OptionText>,
}

fn texts() -> &'static [CommandText] {
    static TEXTS: OnceLock<Vec<CommandText>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        COMMANDS
            .iter()
            .map(|c| CommandText {
                name: cstring(c.name),
                summary: cstring(c.summary),
                options: c
                    .options
                    .iter()
                    .map(|o| OptionText {
                        name: cstring(o.name),
                        category: cstring(o.category),
                        value: cstring(&placeholder(o)),
                        help: cstring(o.help),
                        takes_value: o.kind != OptionKind::Flag,
                    })
                    .collect(),
            })
            .collect()
    })
}

/// The number of options of command `index` (0 when `index` is out of range).
///
/// Errors: none. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn dcm_command_option_count(index: usize) -> usize {
    guard_value(0, || texts().get(index).map_or(0, |t| t.options.len()))
}

/// Writes option `option` of command `index` to `*out`, so that a host can register the
/// command with typed options in its own command interpreter.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` when an index is out of range or `out` is NULL.
///
/// Threads: any.
///
/// # Safety
/// `out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_command_option_get(
    index: usize,
    option: usize,
    out: *mut dcm_command_option,
) -> *mut dcm_error {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        let command = texts().get(index).ok_or_else(|| invalid(format!("no command {index}")))?;
        let o = command.options.get(option).ok_or_else(|| invalid(format!("no option {option} of command {index}")))?;
        let view = dcm_command_option {
            name: o.name.as_ptr(),
            category: o.category.as_ptr(),
            value: o.value.as_ptr(),
            help: o.help.as_ptr(),
            takes_value: o.takes_value,
        };
        // SAFETY: checked non-NULL above.
        unsafe { *out = view };
        Ok(())
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
    fn job_commands_list_their_options_with_dcache_categories() {
        let n = dcm_command_count();
        let copy = (0..n)
            .find(|&i| unsafe { CStr::from_ptr(dcm_command_name(i)) }.to_str() == Ok("migration copy"))
            .expect("migration copy");
        let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        let options: Vec<(String, String, String, bool)> = (0..dcm_command_option_count(copy))
            .map(|k| {
                let mut o = std::mem::MaybeUninit::<dcm_command_option>::uninit();
                assert!(unsafe { dcm_command_option_get(copy, k, o.as_mut_ptr()) }.is_null());
                let o = unsafe { o.assume_init() };
                (text(o.name), text(o.category), text(o.value), o.takes_value)
            })
            .collect();
        let find = |name: &str| options.iter().find(|o| o.0 == name).cloned().expect(name);
        assert_eq!(find("accessed"), ("accessed".into(), "Filter options".into(), "=<n>|[<n>]..[<m>]".into(), true));
        assert_eq!(find("permanent"), ("permanent".into(), "Lifetime options".into(), String::new(), false));
        assert_eq!(find("verify").1, "Transfer options");
        assert_eq!(find("exclude-when").1, "Target options");
        assert_eq!(find("id").1, "");
        assert_eq!(dcm_command_option_count(usize::MAX), 0);
        let e = unsafe { dcm_command_option_get(copy, 999, ptr::null_mut()) };
        assert!(!e.is_null());
        unsafe { crate::error::dcm_error_free(e) };
    }

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
