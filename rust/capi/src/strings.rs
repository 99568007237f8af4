//! Strings and buffers across the boundary: borrowed inputs (validated UTF-8), returned
//! strings (owned by the caller, freed with `dcm_string_free`), and the message buffers that
//! callbacks write their error text into.

use std::ffi::{CStr, CString, c_char};
use std::fmt::{self, Display};
use std::{ptr, slice};

use migration_core::PnfsId;

use crate::error::{Result, guard_value, invalid, null};
use crate::live::Live;

static STRINGS: Live = Live::new();

/// A C string of `text`. Rust strings may hold NUL; C strings cannot, so a NUL becomes U+FFFD
/// rather than silently cutting the text short.
pub(crate) fn cstring(text: &str) -> CString {
    CString::new(text)
        .unwrap_or_else(|_| CString::new(text.replace('\0', "\u{FFFD}")).expect("every NUL was just replaced"))
}

/// A PNFS id as a C string, held inline: a callback that names a file gets its id without an
/// allocation (several such calls are made for each file moved).
pub(crate) struct CPnfsId([u8; 37]);

impl CPnfsId {
    pub(crate) fn new(id: &PnfsId) -> CPnfsId {
        let text = id.text();
        let mut c = [0u8; 37];
        c[..text.as_bytes().len()].copy_from_slice(text.as_bytes());
        CPnfsId(c)
    }

    /// The string; valid while `self` is neither moved nor dropped.
    pub(crate) fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }
}

/// A PNFS id as an owned C string, for structures whose views outlive a move of the owner.
pub(crate) fn pnfsid_cstring(id: &PnfsId) -> CString {
    CString::new(id.text().as_bytes()).expect("hex digits are not NUL")
}

/// Hands an owned string to C; the caller frees it with `dcm_string_free`.
pub(crate) fn into_raw_string(text: &str) -> *mut c_char {
    let raw = cstring(text).into_raw();
    STRINGS.insert(raw);
    raw
}

/// Borrows a required string argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: impl Display + Copy) -> Result<&'a str> {
    // SAFETY: forwarded to the caller.
    unsafe { opt_str_arg(p, what) }?.ok_or_else(|| null(what))
}

/// Where in an argument a field is (`entry` and `.pnfsid`), written out only when an error
/// names it: formatting the path of every field of every entry a host hands over was a fifth
/// of the work of a C host (issue #14).
#[derive(Clone, Copy)]
pub(crate) struct Field<W>(pub W, pub &'static str);

impl<W: Display> Display for Field<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0, self.1)
    }
}

/// Item `i` of a list argument and a field of it (`entry.sticky`, 2, `.owner`).
#[derive(Clone, Copy)]
pub(crate) struct Item<W>(pub W, pub usize, pub &'static str);

impl<W: Display> Display for Item<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]{}", self.0, self.1, self.2)
    }
}

/// Borrows an optional string argument (NULL is `None`).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: impl Display) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: `p` is a NUL-terminated string valid for `'a` (caller's contract).
    let text = unsafe { CStr::from_ptr(p) };
    text.to_str().map(Some).map_err(|e| invalid(format!("{what} is not valid UTF-8: {e}")))
}

/// Borrows `len` elements at `p`; NULL is accepted when `len` is 0.
///
/// # Safety
/// `p` is NULL or points to `len` initialised elements valid for `'a`.
pub(crate) unsafe fn slice_arg<'a, T>(p: *const T, len: usize, what: impl Display) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL but its count is {len}")));
    }
    // A count no array can have (a negative `int` passed as `size_t`) or a misaligned array is
    // refused here: `from_raw_parts` would abort the process in a debug build, and be undefined
    // behaviour in a release one.
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(invalid(format!("{what} has a count of {len}, more than any array can hold")));
    }
    if !p.is_aligned() {
        return Err(invalid(format!("{what} is not aligned for its type")));
    }
    // SAFETY: caller's contract.
    Ok(unsafe { slice::from_raw_parts(p, len) })
}

/// Writes `value` through an out-parameter that may be NULL (then nothing is written).
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: caller's contract.
        unsafe { ptr::write(out, value) };
    }
}

/// Frees a string returned by this library. NULL, a string already freed and a pointer this
/// library did not return are ignored (never passed to the allocator).
///
/// Errors: none. Threads: any.
///
/// # Safety
/// Any pointer value is accepted; only strings this library returned are freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_string_free(string: *mut c_char) {
    guard_value((), || {
        if STRINGS.remove(string) {
            // SAFETY: the address came from `CString::into_raw` and was live until now.
            drop(unsafe { CString::from_raw(string) });
        }
    })
}

/// Size of the buffer a callback may write its error message into.
pub(crate) const ERRBUF_SIZE: usize = 512;

/// The buffer a callback writes its error message into (`errbuf`, `errbuf_size`).
pub(crate) struct ErrBuf {
    bytes: [c_char; ERRBUF_SIZE],
}

impl ErrBuf {
    /// An empty, NUL-filled buffer.
    pub(crate) fn new() -> ErrBuf {
        ErrBuf { bytes: [0; ERRBUF_SIZE] }
    }

    /// The pointer passed to C.
    pub(crate) fn ptr(&mut self) -> *mut c_char {
        self.bytes.as_mut_ptr()
    }

    /// The size passed to C.
    pub(crate) fn size(&self) -> usize {
        ERRBUF_SIZE
    }

    /// What the callback wrote (up to the first NUL, invalid UTF-8 replaced), or `fallback`
    /// when it wrote nothing.
    pub(crate) fn message(&self, fallback: impl FnOnce() -> String) -> String {
        let bytes: Vec<u8> = self.bytes.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
        if bytes.is_empty() { fallback() } else { String::from_utf8_lossy(&bytes).into_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_an_invalid_argument() {
        let bad = b"migration ls \xff\0";
        let e = unsafe { str_arg(bad.as_ptr().cast(), "line") }.expect_err("not UTF-8");
        assert_eq!(e.kind, migration_core::ErrorKind::InvalidArgument);
        assert!(e.message.starts_with("line is not valid UTF-8"), "{}", e.message);
        let e = unsafe { str_arg(ptr::null(), "pool") }.expect_err("NULL");
        assert_eq!(e.message, "pool is NULL");
    }

    #[test]
    fn returned_strings_are_freed_once_and_foreign_pointers_ignored() {
        let s = into_raw_string("hello\0world");
        assert_eq!(unsafe { CStr::from_ptr(s) }.to_str(), Ok("hello\u{FFFD}world"));
        unsafe {
            dcm_string_free(s);
            dcm_string_free(s);
            let mut foreign = *b"abc\0";
            dcm_string_free(foreign.as_mut_ptr().cast());
            dcm_string_free(ptr::null_mut());
        }
    }

    #[test]
    fn ids_become_c_strings_in_their_canonical_form() {
        for text in ["0000a1b2c3d4e5f6a7b8c9d0", "000060d40698b4bf4be284666ed29cc826c7"] {
            let id = PnfsId::parse(text).expect("valid");
            let inline = CPnfsId::new(&id);
            assert_eq!(unsafe { CStr::from_ptr(inline.as_ptr()) }.to_str(), Ok(text.to_ascii_uppercase().as_str()));
            assert_eq!(pnfsid_cstring(&id).to_str(), Ok(text.to_ascii_uppercase().as_str()));
        }
    }

    #[test]
    fn a_null_slice_is_fine_only_when_empty() {
        assert!(unsafe { slice_arg::<u8>(ptr::null(), 0, "bytes") }.is_ok());
        assert!(unsafe { slice_arg::<u8>(ptr::null(), 3, "bytes") }.is_err());
    }

    #[test]
    fn an_unterminated_or_empty_errbuf_is_read_safely() {
        let mut buf = ErrBuf::new();
        assert_eq!(buf.message(|| "fallback".into()), "fallback");
        buf.bytes = [b'x' as c_char; ERRBUF_SIZE];
        assert_eq!(buf.message(String::new).len(), ERRBUF_SIZE);
    }
}
