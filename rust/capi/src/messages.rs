//! The module's inter-pool messages as C structs with the fields of dCache's
//! `PoolMigration*Message` classes, so that a bridge to a pool, Rebalancer, QoS engine or
//! resilience service that speaks dCache's messages copies fields instead of parsing our
//! bytes. The bytes stay the wire format of `docs/wire.md`; these functions only translate.

use std::collections::BTreeMap;
use std::ffi::{CString, c_char};
use std::ptr;

use parking_lot::Mutex;

use migration_core::error::ReturnCode;
use migration_core::message::{CopyRequest, Message, Reply, RequestId, decode, encode};

use crate::constants::{MessageKind, State};
use crate::error::{Result, dcm_error, guard, guard_value, invalid, null};
use crate::live::Live;
use crate::strings::{cstring, into_raw_string, opt_str_arg, slice_arg, str_arg};
use crate::types::{OwnedAttributes, OwnedSticky, dcm_file_attributes, dcm_sticky_record, pnfsid_arg, sticky_from_c};

/// A message between migration modules. Which fields count depends on `kind`:
///
/// | kind | fields (dCache's getter) |
/// |---|---|
/// | `DCM_MESSAGE_COPY` | `uuid`, `pool` (the source pool), `attributes` (`getFileAttributes`), `state`, `sticky` (`getStickyRecords`), `compute_checksum_on_update`, `force_source_mode`, `has_atime`/`atime`, `meta_only` |
/// | `DCM_MESSAGE_PING` | `uuid`, `pool`, `attributes.pnfsid` |
/// | `DCM_MESSAGE_CANCEL` | `uuid`, `pool`, `attributes.pnfsid`, `reason` (NULL: none) |
/// | `DCM_MESSAGE_COPY_FINISHED` | `uuid`, `pool`, `attributes.pnfsid`, `return_code` (0: success), `error_message` (NULL: none) |
/// | `DCM_MESSAGE_JOB_CANCEL` | `job_id`, `forced`, `reason` |
///
/// Fields a kind does not use are ignored by `dcm_message_encode` and zero/NULL in a decoded
/// message. `uuid` is the text form of dCache's `UUID` (`8-4-4-4-12` hex digits).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_message {
    /// `DCM_MESSAGE_*`.
    pub kind: i32,
    /// The request (`getUUID`).
    pub uuid: *const c_char,
    /// The source pool of the request (`getPool`).
    pub pool: *const c_char,
    /// The file; only `pnfsid` for ping, cancel and copy-finished.
    pub attributes: dcm_file_attributes,
    /// `DCM_STATE_CACHED` or `DCM_STATE_PRECIOUS`: the target replica's state.
    pub state: i32,
    /// Sticky records of the target replica.
    pub sticky: *const dcm_sticky_record,
    /// Number of sticky records.
    pub sticky_count: usize,
    /// Verify the checksum when an existing replica is updated (`-verify`).
    pub compute_checksum_on_update: bool,
    /// Let the source deliver even if it is disabled for p2p.
    pub force_source_mode: bool,
    /// Whether `atime` is set.
    pub has_atime: bool,
    /// The source's access time (ms since the epoch), when `has_atime`.
    pub atime: i64,
    /// Only update an existing replica, never create one.
    pub meta_only: bool,
    /// Why a request or job is cancelled.
    pub reason: *const c_char,
    /// dCache's return code of a finished request: 0 on success.
    pub return_code: i32,
    /// The error of a failed request.
    pub error_message: *const c_char,
    /// The job to cancel (`getJobId`).
    pub job_id: *const c_char,
    /// Cancel the job's running transfers too (`isForced`).
    pub forced: bool,
}

/// A decoded message: read it with `dcm_decoded_message_view`, free it with
/// `dcm_decoded_message_free`.
pub struct dcm_decoded_message {
    view: dcm_message,
    _text: Vec<CString>,
    _attributes: Option<OwnedAttributes>,
    _sticky: Option<OwnedSticky>,
}

static DECODED: Live = Live::new();
/// The live buffers handed out, by address, with their lengths: a buffer is freed with the
/// length it was made with, whatever length the caller passes back.
static BUFFERS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

fn text(holder: &mut Vec<CString>, value: &str) -> *const c_char {
    let c = cstring(value);
    let p = c.as_ptr();
    holder.push(c);
    p
}

fn opt_text(holder: &mut Vec<CString>, value: Option<&str>) -> *const c_char {
    value.map_or(ptr::null(), |v| text(holder, v))
}

fn blank(kind: MessageKind) -> dcm_message {
    dcm_message {
        kind: kind.code(),
        uuid: ptr::null(),
        pool: ptr::null(),
        attributes: dcm_file_attributes::none(),
        state: 0,
        sticky: ptr::null(),
        sticky_count: 0,
        compute_checksum_on_update: false,
        force_source_mode: false,
        has_atime: false,
        atime: 0,
        meta_only: false,
        reason: ptr::null(),
        return_code: 0,
        error_message: ptr::null(),
        job_id: ptr::null(),
        forced: false,
    }
}

impl dcm_decoded_message {
    fn new(message: &Message) -> dcm_decoded_message {
        let mut t = Vec::new();
        let mut attributes = None;
        let mut sticky = None;
        let pnfsid_only = |t: &mut Vec<CString>, id: &migration_core::PnfsId| {
            let mut a = dcm_file_attributes::none();
            a.pnfsid = text(t, &id.to_string());
            a
        };
        let view = match message {
            Message::Copy(r) => {
                let owned_attributes = OwnedAttributes::new(&r.attributes);
                let owned_sticky = OwnedSticky::new(&r.sticky);
                let mut m = blank(MessageKind::Copy);
                m.uuid = text(&mut t, &r.uuid.to_string());
                m.pool = text(&mut t, &r.source);
                m.attributes = owned_attributes.view();
                m.state = State::from(r.state).code();
                m.sticky = owned_sticky.ptr();
                m.sticky_count = owned_sticky.len();
                m.compute_checksum_on_update = r.verify;
                m.force_source_mode = r.force_source_mode;
                m.has_atime = r.atime.is_some();
                m.atime = r.atime.unwrap_or(0);
                m.meta_only = r.meta_only;
                attributes = Some(owned_attributes);
                sticky = Some(owned_sticky);
                m
            }
            Message::Ping { uuid, source, pnfsid } => {
                let mut m = blank(MessageKind::Ping);
                m.uuid = text(&mut t, &uuid.to_string());
                m.pool = text(&mut t, source);
                m.attributes = pnfsid_only(&mut t, pnfsid);
                m
            }
            Message::Cancel { uuid, source, pnfsid, reason } => {
                let mut m = blank(MessageKind::Cancel);
                m.uuid = text(&mut t, &uuid.to_string());
                m.pool = text(&mut t, source);
                m.attributes = pnfsid_only(&mut t, pnfsid);
                m.reason = opt_text(&mut t, reason.as_deref());
                m
            }
            Message::CopyFinished { uuid, pool, pnfsid, rc, error } => {
                let mut m = blank(MessageKind::CopyFinished);
                m.uuid = text(&mut t, &uuid.to_string());
                m.pool = text(&mut t, pool);
                m.attributes = pnfsid_only(&mut t, pnfsid);
                m.return_code = rc.0;
                m.error_message = opt_text(&mut t, error.as_deref());
                m
            }
            Message::CancelJob { job, forced, reason } => {
                let mut m = blank(MessageKind::JobCancel);
                m.job_id = text(&mut t, job);
                m.forced = *forced;
                m.reason = text(&mut t, reason);
                m
            }
        };
        dcm_decoded_message { view, _text: t, _attributes: attributes, _sticky: sticky }
    }
}

unsafe fn uuid_arg(p: *const c_char, what: &str) -> Result<RequestId> {
    // SAFETY: caller's contract.
    let text = unsafe { str_arg(p, what) }?;
    text.parse().map_err(|e| invalid(format!("{what}: {e}")))
}

impl dcm_message {
    /// Validates and copies the message.
    ///
    /// # Safety
    /// Every pointer the kind uses is NULL or valid as documented on the struct.
    unsafe fn copy_in(&self) -> Result<Message> {
        // SAFETY (for the block): the pointers are valid (caller's contract).
        unsafe {
            Ok(match MessageKind::try_from(self.kind)? {
                MessageKind::Copy => {
                    let state = State::try_from(self.state).map_err(|e| invalid(format!("message.state: {e}")))?;
                    Message::Copy(CopyRequest {
                        uuid: uuid_arg(self.uuid, "message.uuid")?,
                        source: str_arg(self.pool, "message.pool")?.into(),
                        attributes: self.attributes.copy_in("message.attributes")?,
                        state: state.into(),
                        sticky: sticky_from_c(self.sticky, self.sticky_count, "message.sticky")?,
                        verify: self.compute_checksum_on_update,
                        force_source_mode: self.force_source_mode,
                        atime: self.has_atime.then_some(self.atime),
                        meta_only: self.meta_only,
                    })
                }
                MessageKind::Ping => Message::Ping {
                    uuid: uuid_arg(self.uuid, "message.uuid")?,
                    source: str_arg(self.pool, "message.pool")?.into(),
                    pnfsid: pnfsid_arg(self.attributes.pnfsid, "message.attributes.pnfsid")?,
                },
                MessageKind::Cancel => Message::Cancel {
                    uuid: uuid_arg(self.uuid, "message.uuid")?,
                    source: str_arg(self.pool, "message.pool")?.into(),
                    pnfsid: pnfsid_arg(self.attributes.pnfsid, "message.attributes.pnfsid")?,
                    reason: opt_str_arg(self.reason, "message.reason")?.map(str::to_string),
                },
                MessageKind::CopyFinished => Message::CopyFinished {
                    uuid: uuid_arg(self.uuid, "message.uuid")?,
                    pool: str_arg(self.pool, "message.pool")?.into(),
                    pnfsid: pnfsid_arg(self.attributes.pnfsid, "message.attributes.pnfsid")?,
                    rc: ReturnCode(self.return_code),
                    error: opt_str_arg(self.error_message, "message.error_message")?.map(str::to_string),
                },
                MessageKind::JobCancel => Message::CancelJob {
                    job: str_arg(self.job_id, "message.job_id")?.to_string(),
                    forced: self.forced,
                    reason: str_arg(self.reason, "message.reason")?.to_string(),
                },
            })
        }
    }
}

fn give_bytes(bytes: Vec<u8>, out: *mut *mut u8, len: *mut usize) {
    let n = bytes.len();
    let p = Box::into_raw(bytes.into_boxed_slice()) as *mut u8;
    BUFFERS.lock().insert(p as usize, n);
    // SAFETY: the caller checked both out-pointers for NULL.
    unsafe {
        *out = p;
        *len = n;
    }
}

fn check_out<T>(p: *mut T, what: &str) -> Result<()> {
    if p.is_null() { Err(null(what)) } else { Ok(()) }
}

/// Decodes bytes a migration module sent (the `bytes` of `transport.send`, or of
/// `dcm_module_deliver`) into `*out`. A reply is not a message: use `dcm_reply_decode`.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for NULL pointers or bytes that are not a message
/// (nothing is written then).
///
/// Threads: any.
///
/// # Safety
/// `bytes` is NULL (with `len` 0) or valid for `len` bytes; `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_message_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut dcm_decoded_message,
) -> *mut dcm_error {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let bytes = unsafe { slice_arg(bytes, len, "bytes") }?;
        let message = decode::<Message>(bytes).map_err(invalid)?;
        let decoded = Box::into_raw(Box::new(dcm_decoded_message::new(&message)));
        DECODED.insert(decoded);
        // SAFETY: checked above.
        unsafe { *out = decoded };
        Ok(())
    })
}

/// The fields of a decoded message, borrowed until it is freed; NULL when `message` is NULL
/// or not a live decoded message.
///
/// # Safety
/// Any pointer value is accepted; only live decoded messages are read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_decoded_message_view(message: *const dcm_decoded_message) -> *const dcm_message {
    guard_value(ptr::null(), || {
        // SAFETY: `with` runs the closure only while `message` is live.
        DECODED.with(message, || unsafe { &(*message).view as *const dcm_message }).unwrap_or(ptr::null())
    })
}

/// Frees a decoded message. NULL, and a pointer that is not a live decoded message (freed
/// already), are ignored.
///
/// # Safety
/// Any pointer value is accepted; only live decoded messages are freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_decoded_message_free(message: *mut dcm_decoded_message) {
    guard_value((), || {
        if DECODED.remove(message) {
            // SAFETY: it was live, so it came from `Box::into_raw`; removing it made this the
            // only free.
            drop(unsafe { Box::from_raw(message) });
        }
    })
}

/// Encodes a message into the module's wire format, for `dcm_module_deliver`: `*bytes` (free
/// it with `dcm_bytes_free`) and `*len`.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for NULL pointers, an unknown kind, a malformed UUID,
/// PNFS id or state, invalid UTF-8, a file size above `INT64_MAX`, or a `COPY_FINISHED` with
/// `return_code` 0 (success) and a non-empty `error_message`: a failure must carry its code
/// (nothing is written then; an empty text is no error).
///
/// Threads: any.
///
/// # Safety
/// `message` is NULL or valid as documented on `dcm_message`; `bytes` and `len` are valid for
/// a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_message_encode(
    message: *const dcm_message,
    bytes: *mut *mut u8,
    len: *mut usize,
) -> *mut dcm_error {
    guard(|| {
        check_out(bytes, "bytes")?;
        check_out(len, "len")?;
        if message.is_null() {
            return Err(null("message"));
        }
        // SAFETY: caller's contract.
        let message = unsafe { (*message).copy_in() }?;
        // A failure's text with dCache's success code: encoded as is, its source would count
        // the copy, and a move delete its only good replica.
        if let Some(text) = message.failure_text_with_success_code() {
            return Err(invalid(format!(
                "message.return_code is 0 (success) but message.error_message is set ({text})"
            )));
        }
        give_bytes(encode(&message), bytes, len);
        Ok(())
    })
}

/// Encodes the answer to a request: success when `return_code` is 0, else dCache's error
/// with `error_message` (NULL: empty). Free `*bytes` with `dcm_bytes_free`.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for NULL out-pointers, invalid UTF-8, or
/// `return_code` 0 with a non-empty `error_message` (a failure must carry its code).
///
/// # Safety
/// `error_message` is NULL or a NUL-terminated string; `bytes` and `len` are valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_reply_encode(
    return_code: i32,
    error_message: *const c_char,
    bytes: *mut *mut u8,
    len: *mut usize,
) -> *mut dcm_error {
    guard(|| {
        check_out(bytes, "bytes")?;
        check_out(len, "len")?;
        // SAFETY: caller's contract.
        let text = unsafe { opt_str_arg(error_message, "error_message") }?.unwrap_or_default();
        let reply = match return_code {
            0 if !text.is_empty() => {
                return Err(invalid(format!("return_code is 0 (success) but error_message is set ({text})")));
            }
            0 => Reply::Ok,
            code => Reply::Error { code: ReturnCode(code), message: text.to_string() },
        };
        give_bytes(encode(&reply), bytes, len);
        Ok(())
    })
}

/// Decodes the answer to a request: `*return_code` 0 on success, else dCache's code with the
/// error text in `*error_message` (free it with `dcm_string_free`; NULL on success).
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for NULL pointers or bytes that are not a reply.
///
/// # Safety
/// `bytes` is NULL (with `len` 0) or valid for `len` bytes; the out-pointers are valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_reply_decode(
    bytes: *const u8,
    len: usize,
    return_code: *mut i32,
    error_message: *mut *mut c_char,
) -> *mut dcm_error {
    guard(|| {
        check_out(return_code, "return_code")?;
        check_out(error_message, "error_message")?;
        // SAFETY: caller's contract.
        let bytes = unsafe { slice_arg(bytes, len, "bytes") }?;
        let (code, text) = match decode::<Reply>(bytes).map_err(invalid)? {
            Reply::Ok => (0, ptr::null_mut()),
            Reply::Error { code, message } => (code.0, into_raw_string(&message)),
        };
        // SAFETY: checked above.
        unsafe {
            *return_code = code;
            *error_message = text;
        }
        Ok(())
    })
}

/// Frees bytes from `dcm_message_encode` or `dcm_reply_encode`; `len` is the length they came
/// with. NULL, and a pointer that is not a live buffer (freed already), are ignored. The
/// buffer is freed with the length it was handed out with, so a wrong `len` does no harm.
///
/// # Safety
/// Any pointer value and any `len` are accepted; only live buffers are freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_bytes_free(bytes: *mut u8, len: usize) {
    let _ = len;
    guard_value((), || {
        let live = BUFFERS.lock().remove(&(bytes as usize));
        if let Some(n) = live {
            // SAFETY: it was live, so it came from `give_bytes` with length `n`; removing it
            // made this the only free.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(bytes, n)) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{dcm_error_code, dcm_error_free, dcm_error_message};
    use crate::strings::dcm_string_free;
    use migration_core::driver::sim::replica;
    use migration_core::replica::{ReplicaState, StickyRecord};
    use std::ffi::CStr;

    fn round_trip(message: &Message) -> Message {
        let bytes = encode(message);
        let mut decoded = ptr::null_mut();
        let e = unsafe { dcm_message_decode(bytes.as_ptr(), bytes.len(), &mut decoded) };
        assert!(e.is_null());
        let view = unsafe { dcm_decoded_message_view(decoded) };
        let (mut out, mut len) = (ptr::null_mut(), 0);
        let e = unsafe { dcm_message_encode(view, &mut out, &mut len) };
        assert!(e.is_null(), "{:?}", unsafe { CStr::from_ptr(dcm_error_message(e)) });
        let again = decode::<Message>(unsafe { std::slice::from_raw_parts(out, len) }).expect("ours");
        assert_eq!(BUFFERS.lock().get(&(out as usize)), Some(&len), "handed out, with its length");
        unsafe {
            // A wrong length: the buffer is freed with its own (which only Miri could check).
            dcm_bytes_free(out, len + 1);
        }
        assert!(!BUFFERS.lock().contains_key(&(out as usize)), "freed despite the wrong length");
        unsafe {
            dcm_bytes_free(out, len); // a second free is ignored
            dcm_decoded_message_free(decoded);
            dcm_decoded_message_free(decoded);
        }
        assert!(unsafe { dcm_decoded_message_view(decoded) }.is_null(), "freed");
        again
    }

    #[test]
    fn every_message_kind_survives_decode_and_encode() {
        let id = migration_core::PnfsId::parse("A1").expect("valid");
        let mut entry = replica("A1", ReplicaState::Precious, 40, 1_700_000_000_000, vec![]);
        entry.checksums = vec![migration_core::replica::Checksum { kind: "ADLER32".into(), value: "0a0b0c0d".into() }];
        let messages = [
            Message::Copy(CopyRequest {
                uuid: RequestId(0x1234_5678_9abc_def0_1122_3344_5566_7788),
                source: "pool1".into(),
                attributes: entry.attributes(),
                state: ReplicaState::Cached,
                sticky: vec![StickyRecord::new("lhcb", -1), StickyRecord::new("PinManager-9", 77)],
                verify: true,
                force_source_mode: true,
                atime: Some(1_600_000_000_000),
                meta_only: false,
            }),
            Message::Ping { uuid: RequestId(1), source: "pool1".into(), pnfsid: id },
            Message::Cancel { uuid: RequestId(2), source: "pool1".into(), pnfsid: id, reason: None },
            Message::Cancel { uuid: RequestId(3), source: "pool1".into(), pnfsid: id, reason: Some("stop".into()) },
            Message::CopyFinished {
                uuid: RequestId(4),
                pool: "pool1".into(),
                pnfsid: id,
                rc: ReturnCode(0),
                error: None,
            },
            Message::CopyFinished {
                uuid: RequestId(5),
                pool: "pool1".into(),
                pnfsid: id,
                rc: ReturnCode::FILE_CORRUPTED,
                error: Some("Checksum mismatch".into()),
            },
            Message::CancelJob { job: "rebalance".into(), forced: true, reason: "stopped".into() },
        ];
        for m in &messages {
            assert_eq!(&round_trip(m), m);
        }
    }

    #[test]
    fn the_view_has_dcache_fields() {
        let m = Message::CopyFinished {
            uuid: RequestId(5),
            pool: "pool1".into(),
            pnfsid: migration_core::PnfsId::parse("A1").expect("valid"),
            rc: ReturnCode::FILE_CORRUPTED,
            error: Some("Checksum mismatch".into()),
        };
        let decoded = dcm_decoded_message::new(&m);
        let v = decoded.view;
        let s = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_str().expect("utf-8").to_string();
        assert_eq!(v.kind, crate::DCM_MESSAGE_COPY_FINISHED);
        assert_eq!(s(v.uuid), "00000000-0000-0000-0000-000000000005");
        assert_eq!(s(v.pool), "pool1");
        assert_eq!(s(v.attributes.pnfsid), "0000000000000000000000A1");
        assert_eq!((v.return_code, s(v.error_message)), (10004, "Checksum mismatch".to_string()));
        assert!(v.job_id.is_null() && v.reason.is_null());
    }

    #[test]
    fn bad_input_is_an_error_and_writes_nothing() {
        let mut decoded = ptr::null_mut();
        let e = unsafe { dcm_message_decode(b"junk".as_ptr(), 4, &mut decoded) };
        assert_eq!(unsafe { dcm_error_code(e) }, crate::DCM_ERROR_INVALID_ARGUMENT);
        assert!(decoded.is_null());
        unsafe { dcm_error_free(e) };

        let mut m = blank(MessageKind::Ping);
        m.uuid = c"not-a-uuid".as_ptr();
        m.pool = c"pool1".as_ptr();
        m.attributes.pnfsid = c"A1".as_ptr();
        let (mut out, mut len) = (ptr::null_mut(), 0);
        let e = unsafe { dcm_message_encode(&m, &mut out, &mut len) };
        let text = unsafe { CStr::from_ptr(dcm_error_message(e)) }.to_string_lossy().into_owned();
        assert!(text.starts_with("message.uuid: not a UUID"), "{text}");
        assert!(out.is_null());
        unsafe { dcm_error_free(e) };
        m.kind = 17;
        let e = unsafe { dcm_message_encode(&m, &mut out, &mut len) };
        assert_eq!(unsafe { dcm_error_code(e) }, crate::DCM_ERROR_INVALID_ARGUMENT);
        unsafe { dcm_error_free(e) };
        let e = unsafe { dcm_message_encode(ptr::null(), &mut out, &mut len) };
        assert_eq!(unsafe { dcm_error_code(e) }, crate::DCM_ERROR_INVALID_ARGUMENT);
        unsafe { dcm_error_free(e) };
    }

    /// A copy-finished message or a reply with return code 0 (success) and an error text is a
    /// failure mislabelled: encoded, its source would count a copy that was never made.
    #[test]
    fn success_with_an_error_text_is_refused() {
        let message =
            |e: *mut dcm_error| unsafe { CStr::from_ptr(dcm_error_message(e)) }.to_string_lossy().into_owned();
        let mut m = blank(MessageKind::CopyFinished);
        m.uuid = c"01234567-89ab-cdef-0011-223344556677".as_ptr();
        m.pool = c"pool1".as_ptr();
        m.attributes.pnfsid = c"A1".as_ptr();
        m.error_message = c"transfer failed".as_ptr();
        let (mut out, mut len) = (ptr::null_mut(), 0);
        let e = unsafe { dcm_message_encode(&m, &mut out, &mut len) };
        assert!(message(e).contains("return_code is 0 (success) but message.error_message is set"), "{}", message(e));
        assert!(out.is_null());
        unsafe { dcm_error_free(e) };
        m.return_code = 666;
        assert!(unsafe { dcm_message_encode(&m, &mut out, &mut len) }.is_null(), "a failure with its code");
        unsafe { dcm_bytes_free(out, len) };
        // An empty text is no error (a host may write a null error object so), as for replies.
        (m.return_code, m.error_message) = (0, c"".as_ptr());
        assert!(unsafe { dcm_message_encode(&m, &mut out, &mut len) }.is_null(), "success, empty text");
        unsafe { dcm_bytes_free(out, len) };

        let e = unsafe { dcm_reply_encode(0, c"no such request".as_ptr(), &mut out, &mut len) };
        assert!(message(e).contains("return_code is 0 (success) but error_message is set"), "{}", message(e));
        unsafe { dcm_error_free(e) };
        assert!(unsafe { dcm_reply_encode(0, c"".as_ptr(), &mut out, &mut len) }.is_null(), "success, no text");
        unsafe { dcm_bytes_free(out, len) };
    }

    /// A file size beyond a Java long is refused as the message is encoded: no pool would
    /// decode it.
    #[test]
    fn a_file_size_beyond_a_java_long_is_refused() {
        let mut m = blank(MessageKind::Copy);
        m.state = crate::DCM_STATE_PRECIOUS;
        m.uuid = c"01234567-89ab-cdef-0011-223344556677".as_ptr();
        m.pool = c"pool1".as_ptr();
        m.attributes.pnfsid = c"A1".as_ptr();
        m.attributes.size = 1 << 63;
        let (mut out, mut len) = (ptr::null_mut(), 0);
        let e = unsafe { dcm_message_encode(&m, &mut out, &mut len) };
        assert_eq!(unsafe { dcm_error_code(e) }, crate::DCM_ERROR_INVALID_ARGUMENT);
        unsafe { dcm_error_free(e) };
        m.attributes.size = migration_core::replica::MAX_FILE_SIZE;
        assert!(unsafe { dcm_message_encode(&m, &mut out, &mut len) }.is_null());
        unsafe { dcm_bytes_free(out, len) };
    }

    #[test]
    fn replies_round_trip() {
        let (mut bytes, mut len) = (ptr::null_mut(), 0);
        assert!(unsafe { dcm_reply_encode(104, c"Pool is disabled".as_ptr(), &mut bytes, &mut len) }.is_null());
        let raw = unsafe { std::slice::from_raw_parts(bytes, len) }.to_vec();
        assert_eq!(
            decode::<Reply>(&raw),
            Ok(Reply::Error { code: ReturnCode(104), message: "Pool is disabled".into() })
        );
        let (mut code, mut text) = (0, ptr::null_mut());
        assert!(unsafe { dcm_reply_decode(bytes, len, &mut code, &mut text) }.is_null());
        assert_eq!(code, 104);
        assert_eq!(unsafe { CStr::from_ptr(text) }.to_str(), Ok("Pool is disabled"));
        unsafe { dcm_string_free(text) };
        unsafe { dcm_bytes_free(bytes, len) };
        let ok = encode(&Reply::Ok);
        assert!(unsafe { dcm_reply_decode(ok.as_ptr(), ok.len(), &mut code, &mut text) }.is_null());
        assert_eq!((code, text.is_null()), (0, true));
    }
}
