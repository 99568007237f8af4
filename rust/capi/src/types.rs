//! The plain data that crosses the boundary, as `repr(C)` structs of borrowed pointers, and
//! their conversions: `from_c` validates what a host hands in (UTF-8, enumeration values,
//! counts) and copies it; the `Owned*` holders keep the C strings alive while a callback reads
//! a view of Rust data.
//!
//! Strings are `const char *`; an optional string is NULL when absent. Arrays are a pointer
//! and a count; the pointer may be NULL when the count is 0.

use std::ffi::{CString, c_char};
use std::fmt::Display;
use std::ptr;

use migration_core::PnfsId;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{P2pRequest, PinMove, PoolSelection};
use migration_core::pool_info::{NamedPoolQueueInfo, PoolCostInfo, PoolInfo, PoolQueueInfo, PoolQueues, PoolSpaceInfo};
use migration_core::replica::{Checksum, FileAttributes, ReplicaEntry, StickyRecord};

use crate::constants::{FailureKind, Latency, Retention, SelectionKind, State};
use crate::error::{Result, invalid};
use crate::strings::{Field, Item, cstring, opt_str_arg, pnfsid_cstring, slice_arg, str_arg};

/// A sticky record: `owner` keeps the replica until `expire` (ms since the epoch; -1 never).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_sticky_record {
    /// Who holds the flag; records whose owner starts with the pin manager's name are pins.
    pub owner: *const c_char,
    /// Expiry in ms since the epoch; -1 never expires.
    pub expire: i64,
}

/// A checksum as the namespace records it, e.g. kind `ADLER32`, value `0a1b2c3d`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_checksum {
    /// The algorithm, e.g. `ADLER32`.
    pub kind: *const c_char,
    /// Lower-case hex digest.
    pub value: *const c_char,
}

/// A replica as the repository knows it. Passed by the host to `visit`/`receive` and to
/// `dcm_module_repository_event`; the library copies it during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_replica_entry {
    /// The PNFS id: 24 or 36 hex digits (shorter ids are zero-padded on the left).
    pub pnfsid: *const c_char,
    /// `DCM_STATE_*`.
    pub state: i32,
    /// Sticky records, pins included (`sticky_count` of them).
    pub sticky: *const dcm_sticky_record,
    /// Number of sticky records.
    pub sticky_count: usize,
    /// Size in bytes.
    pub size: u64,
    /// Last access, ms since the epoch.
    pub last_access: i64,
    /// Storage class (e.g. `atlas:default@osm`); NULL when the pool does not know it.
    pub storage_class: *const c_char,
    /// Cache class; NULL when there is none.
    pub cache_class: *const c_char,
    /// `DCM_ACCESS_LATENCY_*`.
    pub access_latency: i32,
    /// `DCM_RETENTION_POLICY_*`.
    pub retention_policy: i32,
    /// Known checksums (`checksum_count` of them).
    pub checksums: *const dcm_checksum,
    /// Number of checksums.
    pub checksum_count: usize,
}

/// The attributes of a file that a target needs to create its replica.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_file_attributes {
    /// The PNFS id (24 or 36 upper-case hex digits).
    pub pnfsid: *const c_char,
    /// Size in bytes.
    pub size: u64,
    /// Storage class, or NULL.
    pub storage_class: *const c_char,
    /// Cache class, or NULL.
    pub cache_class: *const c_char,
    /// `DCM_ACCESS_LATENCY_*`.
    pub access_latency: i32,
    /// `DCM_RETENTION_POLICY_*`.
    pub retention_policy: i32,
    /// Known checksums.
    pub checksums: *const dcm_checksum,
    /// Number of checksums.
    pub checksum_count: usize,
}

/// How a request to a service failed. A NULL `const dcm_failure *` means success.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_failure {
    /// `DCM_FAILURE_*`.
    pub kind: i32,
    /// For `DCM_FAILURE_ERROR`: the dCache return code (`DCM_RC_*`, non-zero).
    pub code: i32,
    /// For `DCM_FAILURE_ERROR`: the error text; NULL is the empty text.
    pub cause: *const c_char,
}

/// A pool-to-pool transfer the module asks the p2p client of its pool (the target) to run.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_p2p_request {
    /// Identifies the transfer (UUID text); `cancel` names it.
    pub id: *const c_char,
    /// The pool that has the data.
    pub source: *const c_char,
    /// The file.
    pub attributes: dcm_file_attributes,
    /// `DCM_STATE_*`: the state the new replica gets.
    pub state: i32,
    /// Sticky records of the new replica.
    pub sticky: *const dcm_sticky_record,
    /// Number of sticky records.
    pub sticky_count: usize,
    /// Whether `atime` is set.
    pub has_atime: bool,
    /// Access time to give the new replica (ms since the epoch), when `has_atime`.
    pub atime: i64,
    /// Let the source deliver even if it is disabled for p2p.
    pub force_source_mode: bool,
}

/// A request to the pin manager to move a file's pins from `source` to `target`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pin_move {
    /// The file.
    pub pnfsid: *const c_char,
    /// The pin records on the source.
    pub pins: *const dcm_sticky_record,
    /// Number of pin records.
    pub pin_count: usize,
    /// The source pool.
    pub source: *const c_char,
    /// The pool that now has a copy.
    pub target: *const c_char,
}

/// Which pools a pool-manager query asks for.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pool_selection {
    /// `DCM_SELECT_*`.
    pub kind: i32,
    /// Pool names, group names, the link (one name) or HSM instances, by `kind`.
    pub names: *const *const c_char,
    /// Number of names.
    pub name_count: usize,
    /// `DCM_SELECT_READERS` only (else NULL): the file.
    pub attributes: *const dcm_file_attributes,
    /// `DCM_SELECT_READERS` only (else NULL): `<protocol>/<major>[.<minor>]`, or a star for both when unknown.
    pub protocol: *const c_char,
    /// `DCM_SELECT_READERS` only (else NULL): the client's address, or the empty string.
    pub net: *const c_char,
}

/// Counters of one request queue of a pool.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dcm_queue_info {
    /// Requests being served.
    pub active: u32,
    /// Limit of concurrently active requests (0: none configured).
    pub max_active: u32,
    /// Requests waiting.
    pub queued: u32,
    /// Active readers.
    pub readers: u32,
    /// Active writers.
    pub writers: u32,
}

/// A named mover queue.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_named_queue {
    /// Queue name, e.g. `regular`.
    pub name: *const c_char,
    /// Its counters.
    pub queue: dcm_queue_info,
}

/// A pool tag (`hostname`, `rack`, …); hot-file replication keeps one pool per tag value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pool_tag {
    /// Tag name.
    pub name: *const c_char,
    /// Tag value.
    pub value: *const c_char,
}

/// Space figures of a pool, bytes unless stated otherwise.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dcm_pool_space {
    /// Capacity.
    pub total: u64,
    /// Bytes not used by any replica.
    pub free: u64,
    /// Bytes of precious replicas.
    pub precious: u64,
    /// Bytes of removable cached replicas.
    pub removable: u64,
    /// Bytes the pool keeps free.
    pub gap: u64,
    /// Break-even parameter of the cost model (dCache's default 0.7).
    pub break_even: f64,
    /// Age in seconds of the least recently used removable replica.
    pub lru: i64,
}

/// A pool as the pool manager reports it. An offline pool has only its name; the other
/// fields are ignored.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pool_info {
    /// Pool name.
    pub name: *const c_char,
    /// Whether the pool is online, with cost data.
    pub online: bool,
    /// Space figures.
    pub space: dcm_pool_space,
    /// Flush queue, or NULL.
    pub store: *const dcm_queue_info,
    /// Stage queue, or NULL.
    pub restore: *const dcm_queue_info,
    /// P2p queue of the pool as a source, or NULL.
    pub p2p_server: *const dcm_queue_info,
    /// P2p queue of the pool as a target, or NULL.
    pub p2p_client: *const dcm_queue_info,
    /// Named mover queues.
    pub movers: *const dcm_named_queue,
    /// Number of mover queues.
    pub mover_count: usize,
    /// Weight of writers in proportional selection (dCache's default 0.5).
    pub mover_cost_factor: f64,
    /// Pool tags.
    pub tags: *const dcm_pool_tag,
    /// Number of tags.
    pub tag_count: usize,
}

/// How a read reached the pool (for `dcm_module_report_readers`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_protocol_info {
    /// e.g. `DCap`, `xrootd`.
    pub protocol: *const c_char,
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// The client's IP address, or NULL.
    pub client: *const c_char,
}

// ---------------------------------------------------------------------------------------
// From C

fn pnfsid(text: &str, what: impl Display) -> Result<PnfsId> {
    PnfsId::parse(text).map_err(|e| invalid(format!("{what}: {e}: {text:?}")))
}

/// Parses a PNFS id argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn pnfsid_arg(p: *const c_char, what: impl Display + Copy) -> Result<PnfsId> {
    // SAFETY: caller's contract.
    pnfsid(unsafe { str_arg(p, what) }?, what)
}

/// Copies `n` strings.
///
/// # Safety
/// `p` is NULL (with `n == 0`) or points to `n` NUL-terminated strings.
pub(crate) unsafe fn strings_from_c(
    p: *const *const c_char,
    n: usize,
    what: impl Display + Copy,
) -> Result<Vec<String>> {
    // SAFETY: caller's contract.
    let items = unsafe { slice_arg(p, n, what) }?;
    items
        .iter()
        .enumerate()
        // SAFETY: each element is a NUL-terminated string (caller's contract).
        .map(|(i, s)| unsafe { str_arg(*s, Item(what, i, "")) }.map(str::to_string))
        .collect()
}

pub(crate) unsafe fn sticky_from_c(
    p: *const dcm_sticky_record,
    n: usize,
    what: impl Display + Copy,
) -> Result<Vec<StickyRecord>> {
    // SAFETY: caller's contract.
    let records = unsafe { slice_arg(p, n, what) }?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // SAFETY: the record's owner is a NUL-terminated string (caller's contract).
            let owner = unsafe { str_arg(r.owner, Item(what, i, ".owner")) }?;
            Ok(StickyRecord::new(owner, r.expire))
        })
        .collect()
}

unsafe fn checksums_from_c(p: *const dcm_checksum, n: usize, what: impl Display + Copy) -> Result<Vec<Checksum>> {
    // SAFETY: caller's contract.
    let items = unsafe { slice_arg(p, n, what) }?;
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // SAFETY: both fields are NUL-terminated strings (caller's contract).
            let kind = unsafe { str_arg(c.kind, Item(what, i, ".kind")) }?;
            let value = unsafe { str_arg(c.value, Item(what, i, ".value")) }?;
            Ok(Checksum { kind: kind.to_string(), value: value.to_string() })
        })
        .collect()
}

unsafe fn owned(p: *const c_char, what: impl Display) -> Result<Option<String>> {
    // SAFETY: caller's contract.
    Ok(unsafe { opt_str_arg(p, what) }?.map(str::to_string))
}

impl dcm_replica_entry {
    /// The file's attributes within the entry, as the C struct that carries them alone.
    fn file_attributes(&self) -> dcm_file_attributes {
        dcm_file_attributes {
            pnfsid: self.pnfsid,
            size: self.size,
            storage_class: self.storage_class,
            cache_class: self.cache_class,
            access_latency: self.access_latency,
            retention_policy: self.retention_policy,
            checksums: self.checksums,
            checksum_count: self.checksum_count,
        }
    }

    /// Validates and copies the entry.
    ///
    /// # Safety
    /// Every pointer is NULL or valid as documented on the struct.
    pub(crate) unsafe fn copy_in(&self, what: impl Display + Copy) -> Result<ReplicaEntry> {
        // SAFETY (for the block): the pointers are valid (caller's contract), and the
        // attributes' view points at the same data.
        unsafe {
            let FileAttributes {
                pnfsid,
                size,
                storage_class,
                cache_class,
                access_latency,
                retention_policy,
                checksums,
            } = self.file_attributes().copy_in(what)?;
            Ok(ReplicaEntry {
                pnfsid,
                state: State::try_from(self.state).map_err(|e| invalid(format!("{what}.state: {e}")))?.into(),
                sticky: sticky_from_c(self.sticky, self.sticky_count, Field(what, ".sticky"))?,
                size,
                last_access: self.last_access,
                storage_class,
                cache_class,
                access_latency,
                retention_policy,
                checksums,
            })
        }
    }
}

/// Copies a nullable entry pointer.
///
/// # Safety
/// `p` is NULL or points to a valid entry.
pub(crate) unsafe fn entry_from_c(p: *const dcm_replica_entry, what: &str) -> Result<Option<ReplicaEntry>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: caller's contract.
    unsafe { (*p).copy_in(what) }.map(Some)
}

/// Validates a failure pointer: NULL is success (`None`).
///
/// # Safety
/// `p` is NULL or points to a valid failure.
pub(crate) unsafe fn failure_from_c(p: *const dcm_failure) -> Result<Option<Failure>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: caller's contract.
    let f = unsafe { &*p };
    Ok(Some(match FailureKind::try_from(f.kind)? {
        FailureKind::Timeout => Failure::Timeout,
        FailureKind::NoRoute => Failure::NoRoute,
        FailureKind::Error => {
            if f.code == 0 {
                // Return code 0 is success in dCache: an error with it would read as one.
                return Err(invalid("failure.code is 0 (success) for DCM_FAILURE_ERROR"));
            }
            // SAFETY: caller's contract.
            let cause = unsafe { opt_str_arg(f.cause, "failure.cause") }?.unwrap_or_default();
            Failure::error(ReturnCode(f.code), cause)
        }
    }))
}

fn queue(q: &dcm_queue_info) -> PoolQueueInfo {
    PoolQueueInfo {
        active: q.active,
        max_active: q.max_active,
        queued: q.queued,
        readers: q.readers,
        writers: q.writers,
    }
}

fn optional_queue(p: *const dcm_queue_info) -> Option<PoolQueueInfo> {
    // SAFETY: NULL or a valid queue (the caller of `copy_in` vouches for every pointer).
    (!p.is_null()).then(|| queue(unsafe { &*p }))
}

impl dcm_pool_info {
    /// Validates and copies the pool.
    ///
    /// # Safety
    /// Every pointer is NULL or valid as documented on the struct.
    pub(crate) unsafe fn copy_in(&self, what: impl Display + Copy) -> Result<PoolInfo> {
        // SAFETY (for the block): the pointers are valid (caller's contract).
        unsafe {
            let name = str_arg(self.name, Field(what, ".name"))?;
            if !self.online {
                return Ok(PoolInfo::Offline { name: name.to_string() });
            }
            let movers = slice_arg(self.movers, self.mover_count, Field(what, ".movers"))?
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    Ok(NamedPoolQueueInfo {
                        name: str_arg(m.name, Item(Field(what, ".movers"), i, ".name"))?.to_string(),
                        queue: queue(&m.queue),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let tags = slice_arg(self.tags, self.tag_count, Field(what, ".tags"))?
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Ok((
                        str_arg(t.name, Item(Field(what, ".tags"), i, ".name"))?.to_string(),
                        str_arg(t.value, Item(Field(what, ".tags"), i, ".value"))?.to_string(),
                    ))
                })
                .collect::<Result<_>>()?;
            let s = &self.space;
            Ok(PoolInfo::Online(PoolCostInfo {
                name: name.into(),
                space: PoolSpaceInfo {
                    total: s.total,
                    free: s.free,
                    precious: s.precious,
                    removable: s.removable,
                    gap: s.gap,
                    break_even: s.break_even,
                    lru: s.lru,
                },
                queues: PoolQueues {
                    store: optional_queue(self.store),
                    restore: optional_queue(self.restore),
                    p2p_server: optional_queue(self.p2p_server),
                    p2p_client: optional_queue(self.p2p_client),
                    movers,
                },
                mover_cost_factor: self.mover_cost_factor,
                tags,
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------
// To C: owners of the C strings that a view points into. A view is valid while its owner
// lives; CString buffers do not move when the owner does.

/// Owned C strings, and the array of pointers to them.
pub(crate) struct OwnedStrings {
    _strings: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl OwnedStrings {
    pub(crate) fn new<S: AsRef<str>>(items: &[S]) -> OwnedStrings {
        let strings: Vec<CString> = items.iter().map(|s| cstring(s.as_ref())).collect();
        let pointers = strings.iter().map(|s| s.as_ptr()).collect();
        OwnedStrings { _strings: strings, pointers }
    }

    pub(crate) fn ptr(&self) -> *const *const c_char {
        if self.pointers.is_empty() { ptr::null() } else { self.pointers.as_ptr() }
    }

    pub(crate) fn len(&self) -> usize {
        self.pointers.len()
    }
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

fn array_ptr<T>(v: &[T]) -> *const T {
    if v.is_empty() { ptr::null() } else { v.as_ptr() }
}

/// Sticky records for C.
pub(crate) struct OwnedSticky {
    _owners: Vec<CString>,
    records: Vec<dcm_sticky_record>,
}

impl OwnedSticky {
    pub(crate) fn new(records: &[StickyRecord]) -> OwnedSticky {
        let owners: Vec<CString> = records.iter().map(|r| cstring(&r.owner)).collect();
        let records = owners
            .iter()
            .zip(records)
            .map(|(o, r)| dcm_sticky_record { owner: o.as_ptr(), expire: r.expire })
            .collect();
        OwnedSticky { _owners: owners, records }
    }

    pub(crate) fn ptr(&self) -> *const dcm_sticky_record {
        array_ptr(&self.records)
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

impl dcm_file_attributes {
    /// Validates and copies the attributes.
    ///
    /// # Safety
    /// Every pointer is NULL or valid as documented on the struct.
    pub(crate) unsafe fn copy_in(&self, what: impl Display + Copy) -> Result<FileAttributes> {
        // SAFETY (for the block): the pointers are valid (caller's contract).
        if self.size > migration_core::replica::MAX_FILE_SIZE {
            // dCache's sizes are Java longs: no pool would decode a message with this one.
            return Err(invalid(format!(
                "{what}.size is {}, more than a file can have ({})",
                self.size,
                migration_core::replica::MAX_FILE_SIZE
            )));
        }
        unsafe {
            Ok(FileAttributes {
                pnfsid: pnfsid_arg(self.pnfsid, Field(what, ".pnfsid"))?,
                size: self.size,
                storage_class: owned(self.storage_class, Field(what, ".storage_class"))?,
                cache_class: owned(self.cache_class, Field(what, ".cache_class"))?,
                access_latency: Latency::try_from(self.access_latency)
                    .map_err(|e| invalid(format!("{what}.access_latency: {e}")))?
                    .into(),
                retention_policy: Retention::try_from(self.retention_policy)
                    .map_err(|e| invalid(format!("{what}.retention_policy: {e}")))?
                    .into(),
                checksums: checksums_from_c(self.checksums, self.checksum_count, Field(what, ".checksums"))?,
            })
        }
    }

    /// Attributes that name no file (the fields of a message kind that has none).
    pub(crate) fn none() -> dcm_file_attributes {
        dcm_file_attributes {
            pnfsid: ptr::null(),
            size: 0,
            storage_class: ptr::null(),
            cache_class: ptr::null(),
            access_latency: Latency::from(None).code(),
            retention_policy: Retention::from(None).code(),
            checksums: ptr::null(),
            checksum_count: 0,
        }
    }
}

/// File attributes for C.
pub(crate) struct OwnedAttributes {
    pnfsid: CString,
    size: u64,
    storage_class: Option<CString>,
    cache_class: Option<CString>,
    latency: Latency,
    retention: Retention,
    _checksum_text: Vec<(CString, CString)>,
    checksums: Vec<dcm_checksum>,
}

impl OwnedAttributes {
    pub(crate) fn new(a: &FileAttributes) -> OwnedAttributes {
        let text: Vec<(CString, CString)> = a.checksums.iter().map(|c| (cstring(&c.kind), cstring(&c.value))).collect();
        let checksums = text.iter().map(|(k, v)| dcm_checksum { kind: k.as_ptr(), value: v.as_ptr() }).collect();
        OwnedAttributes {
            pnfsid: pnfsid_cstring(&a.pnfsid),
            size: a.size,
            storage_class: a.storage_class.as_deref().map(cstring),
            cache_class: a.cache_class.as_deref().map(cstring),
            latency: a.access_latency.into(),
            retention: a.retention_policy.into(),
            _checksum_text: text,
            checksums,
        }
    }

    pub(crate) fn view(&self) -> dcm_file_attributes {
        dcm_file_attributes {
            pnfsid: self.pnfsid.as_ptr(),
            size: self.size,
            storage_class: opt_ptr(&self.storage_class),
            cache_class: opt_ptr(&self.cache_class),
            access_latency: self.latency.code(),
            retention_policy: self.retention.code(),
            checksums: array_ptr(&self.checksums),
            checksum_count: self.checksums.len(),
        }
    }
}

/// A p2p request for C.
pub(crate) struct OwnedP2pRequest {
    id: CString,
    source: CString,
    attributes: OwnedAttributes,
    state: State,
    sticky: OwnedSticky,
    atime: Option<i64>,
    force_source_mode: bool,
}

impl OwnedP2pRequest {
    pub(crate) fn new(r: &P2pRequest) -> OwnedP2pRequest {
        OwnedP2pRequest {
            id: cstring(&r.id.to_string()),
            source: cstring(&r.source),
            attributes: OwnedAttributes::new(&r.attributes),
            state: r.state.into(),
            sticky: OwnedSticky::new(&r.sticky),
            atime: r.atime,
            force_source_mode: r.force_source_mode,
        }
    }

    pub(crate) fn view(&self) -> dcm_p2p_request {
        dcm_p2p_request {
            id: self.id.as_ptr(),
            source: self.source.as_ptr(),
            attributes: self.attributes.view(),
            state: self.state.code(),
            sticky: self.sticky.ptr(),
            sticky_count: self.sticky.len(),
            has_atime: self.atime.is_some(),
            atime: self.atime.unwrap_or(0),
            force_source_mode: self.force_source_mode,
        }
    }
}

/// A pin move for C.
pub(crate) struct OwnedPinMove {
    pnfsid: CString,
    pins: OwnedSticky,
    source: CString,
    target: CString,
}

impl OwnedPinMove {
    pub(crate) fn new(m: &PinMove) -> OwnedPinMove {
        OwnedPinMove {
            pnfsid: pnfsid_cstring(&m.pnfsid),
            pins: OwnedSticky::new(&m.pins),
            source: cstring(&m.source),
            target: cstring(&m.target),
        }
    }

    pub(crate) fn view(&self) -> dcm_pin_move {
        dcm_pin_move {
            pnfsid: self.pnfsid.as_ptr(),
            pins: self.pins.ptr(),
            pin_count: self.pins.len(),
            source: self.source.as_ptr(),
            target: self.target.as_ptr(),
        }
    }
}

/// A pool selection for C.
pub(crate) struct OwnedSelection {
    kind: SelectionKind,
    names: OwnedStrings,
    readers: Option<(OwnedAttributes, CString, CString)>,
    attributes: Option<dcm_file_attributes>,
}

impl OwnedSelection {
    pub(crate) fn new(s: &PoolSelection) -> OwnedSelection {
        let (kind, names, readers) = match s {
            PoolSelection::Names(n) => (SelectionKind::Names, OwnedStrings::new(n), None),
            PoolSelection::Groups(g) => (SelectionKind::Groups, OwnedStrings::new(g), None),
            PoolSelection::Link(l) => (SelectionKind::Link, OwnedStrings::new(std::slice::from_ref(l)), None),
            PoolSelection::Hsm(h) => (SelectionKind::Hsm, OwnedStrings::new(h), None),
            PoolSelection::Readers { attributes, protocol, net } => (
                SelectionKind::Readers,
                OwnedStrings::new::<String>(&[]),
                Some((OwnedAttributes::new(attributes), cstring(protocol), cstring(net))),
            ),
        };
        let attributes = readers.as_ref().map(|(a, _, _)| a.view());
        OwnedSelection { kind, names, readers, attributes }
    }

    /// The view; it points into `self`, so `self` must not move while C reads it.
    pub(crate) fn view(&self) -> dcm_pool_selection {
        dcm_pool_selection {
            kind: self.kind.code(),
            names: self.names.ptr(),
            name_count: self.names.len(),
            attributes: self.attributes.as_ref().map_or(ptr::null(), |a| a as *const _),
            protocol: self.readers.as_ref().map_or(ptr::null(), |(_, p, _)| p.as_ptr()),
            net: self.readers.as_ref().map_or(ptr::null(), |(_, _, n)| n.as_ptr()),
        }
    }
}

/// A failure for C.
pub(crate) struct OwnedFailure {
    kind: FailureKind,
    code: i32,
    cause: CString,
}

impl OwnedFailure {
    pub(crate) fn new(f: &Failure) -> OwnedFailure {
        match f {
            Failure::Error { code, cause } => {
                OwnedFailure { kind: FailureKind::Error, code: code.0, cause: cstring(cause) }
            }
            Failure::Timeout => OwnedFailure { kind: FailureKind::Timeout, code: 0, cause: cstring("timeout") },
            Failure::NoRoute => OwnedFailure { kind: FailureKind::NoRoute, code: 0, cause: cstring("no route") },
        }
    }

    pub(crate) fn view(&self) -> dcm_failure {
        dcm_failure { kind: self.kind.code(), code: self.code, cause: self.cause.as_ptr() }
    }
}

/// An entry for C (used by tests that play the host in Rust).
#[cfg(test)]
pub(crate) struct OwnedEntry {
    attributes: OwnedAttributes,
    state: State,
    sticky: OwnedSticky,
    last_access: i64,
}

#[cfg(test)]
impl OwnedEntry {
    pub(crate) fn new(e: &ReplicaEntry) -> OwnedEntry {
        OwnedEntry {
            attributes: OwnedAttributes::new(&e.attributes()),
            state: e.state.into(),
            sticky: OwnedSticky::new(&e.sticky),
            last_access: e.last_access,
        }
    }

    pub(crate) fn view(&self) -> dcm_replica_entry {
        let a = self.attributes.view();
        dcm_replica_entry {
            pnfsid: a.pnfsid,
            state: self.state.code(),
            sticky: self.sticky.ptr(),
            sticky_count: self.sticky.len(),
            size: a.size,
            last_access: self.last_access,
            storage_class: a.storage_class,
            cache_class: a.cache_class,
            access_latency: a.access_latency,
            retention_policy: a.retention_policy,
            checksums: a.checksums,
            checksum_count: a.checksum_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::replica::{AccessLatency, ReplicaState, RetentionPolicy};

    fn sample() -> ReplicaEntry {
        let mut e = ReplicaEntry::new(PnfsId::parse("1a").expect("valid"), ReplicaState::Precious, 42, 1000);
        e.sticky.push(StickyRecord::new("PinManager-1", -1));
        e.storage_class = Some("test:disk@osm".into());
        e.access_latency = Some(AccessLatency::Online);
        e.retention_policy = Some(RetentionPolicy::Replica);
        e.checksums.push(Checksum { kind: "ADLER32".into(), value: "0a0b0c0d".into() });
        e
    }

    #[test]
    fn an_entry_survives_the_round_trip_through_its_c_view() {
        let entry = sample();
        let owned = OwnedEntry::new(&entry);
        let back = unsafe { owned.view().copy_in("entry") }.expect("valid");
        assert_eq!(back, entry);
    }

    #[test]
    fn an_entry_with_a_bad_state_or_id_is_refused_with_the_field_named() {
        let owned = OwnedEntry::new(&sample());
        let mut view = owned.view();
        view.state = 12;
        let e = unsafe { view.copy_in("entry") }.expect_err("bad state");
        assert_eq!(e.message, "entry.state: invalid replica state 12");
        let mut view = owned.view();
        view.sticky = ptr::null();
        assert!(unsafe { view.copy_in("entry") }.is_err());
        let mut view = owned.view();
        view.pnfsid = c"xyz".as_ptr();
        let e = unsafe { view.copy_in("entry") }.expect_err("bad id");
        assert!(e.message.starts_with("entry.pnfsid: Illegal pnfsid character"), "{}", e.message);
    }

    #[test]
    fn a_failure_is_validated() {
        let ok = unsafe { failure_from_c(ptr::null()) }.expect("NULL is success");
        assert_eq!(ok, None);
        let f = dcm_failure { kind: 0, code: 10001, cause: c"No such file".as_ptr() };
        assert_eq!(unsafe { failure_from_c(&f) }, Ok(Some(Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file"))));
        let f = dcm_failure { kind: 0, code: 0, cause: ptr::null() };
        assert!(unsafe { failure_from_c(&f) }.is_err());
        let f = dcm_failure { kind: 7, code: 1, cause: ptr::null() };
        assert!(unsafe { failure_from_c(&f) }.is_err());
        let f = dcm_failure { kind: 2, code: 0, cause: ptr::null() };
        assert_eq!(unsafe { failure_from_c(&f) }, Ok(Some(Failure::NoRoute)));
    }

    #[test]
    fn an_offline_pool_needs_only_its_name() {
        let info = dcm_pool_info {
            name: c"pool9".as_ptr(),
            online: false,
            space: dcm_pool_space::default(),
            store: ptr::null(),
            restore: ptr::null(),
            p2p_server: ptr::null(),
            p2p_client: ptr::null(),
            movers: ptr::null(),
            mover_count: 3, // ignored for an offline pool
            mover_cost_factor: 0.0,
            tags: ptr::null(),
            tag_count: 0,
        };
        assert_eq!(unsafe { info.copy_in("pool") }, Ok(PoolInfo::Offline { name: "pool9".into() }));
    }
}
