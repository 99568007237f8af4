//! The byte format of the values that cross between Java and Rust: big-endian, as Java's
//! `DataOutputStream` writes it, mirrored by `org.dcache.migration.internal.Codec`.
//!
//! Values travel as one `byte[]` per call instead of as Java objects built through JNI: one
//! array copy replaces dozens of JNI calls (each needing an exception check), and the Java side
//! stays plain Java. Strings are a 32-bit length and UTF-8 bytes (`-1` for null); lists are a
//! 32-bit count and the items; enums are validated integers.

use std::collections::BTreeMap;

use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{P2pRequest, PinMove, PoolList, PoolSelection};
use migration_core::input::RepositoryEvent;
use migration_core::job::{JobState, Note};
use migration_core::message::{CopyRequest, Message, Reply, RequestId};
use migration_core::pnfsid::PnfsIdText;
use migration_core::pool_info::{NamedPoolQueueInfo, PoolCostInfo, PoolInfo, PoolQueueInfo, PoolQueues, PoolSpaceInfo};
use migration_core::replica::{
    AccessLatency, Checksum, FileAttributes, ReplicaEntry, ReplicaState, RetentionPolicy, StickyRecord,
};
use migration_core::status::{JobStatus, QuarantineStatus, TaskStatus};
use migration_core::syntax::{self, ArgSpec, CommandSpec, OptionKind, OptionSpec};
use migration_core::{Config, PnfsId};

/// A malformed value from Java (a bug in one of the two codecs, or a foreign caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed value from Java: {}", self.0)
    }
}

type Decoded<T> = Result<T, DecodeError>;

/// Writes values in the shared format.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty buffer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// A 32-bit integer.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    fn f64(&mut self, v: f64) {
        self.i64(v.to_bits() as i64);
    }

    fn len(&mut self, n: usize) {
        self.i32(i32::try_from(n).unwrap_or(i32::MAX));
    }

    /// A string.
    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.i32(-1),
        }
    }

    fn strings(&mut self, list: &[String]) {
        self.len(list.len());
        for s in list {
            self.str(s);
        }
    }

    fn state(&mut self, state: ReplicaState) {
        let ordinal = ReplicaState::ALL.iter().position(|s| *s == state).unwrap_or(0);
        self.i32(ordinal as i32);
    }

    /// Sticky records: a count, then each owner and expiry.
    pub fn sticky(&mut self, records: &[StickyRecord]) {
        self.len(records.len());
        for r in records {
            self.str(&r.owner);
            self.i64(r.expire);
        }
    }

    /// File attributes.
    pub fn attributes(&mut self, a: &FileAttributes) {
        self.str(a.pnfsid.text().as_str());
        self.i64(i64::try_from(a.size).unwrap_or(i64::MAX));
        self.opt_str(a.storage_class.as_deref());
        self.opt_str(a.cache_class.as_deref());
        self.i32(match a.access_latency {
            None => -1,
            Some(AccessLatency::Online) => 0,
            Some(AccessLatency::Nearline) => 1,
        });
        self.i32(match a.retention_policy {
            None => -1,
            Some(RetentionPolicy::Custodial) => 0,
            Some(RetentionPolicy::Replica) => 1,
            Some(RetentionPolicy::Output) => 2,
        });
        self.len(a.checksums.len());
        for c in &a.checksums {
            self.str(&c.kind);
            self.str(&c.value);
        }
    }

    /// A replica entry: its attributes, state, sticky records and access time.
    pub fn entry(&mut self, e: &ReplicaEntry) {
        self.attributes(&e.attributes());
        self.state(e.state);
        self.sticky(&e.sticky);
        self.i64(e.last_access);
    }

    /// A pool-manager query.
    pub fn selection(&mut self, s: &PoolSelection) {
        match s {
            PoolSelection::Names(names) => {
                self.i32(0);
                self.strings(names);
            }
            PoolSelection::Groups(groups) => {
                self.i32(1);
                self.strings(groups);
            }
            PoolSelection::Link(link) => {
                self.i32(2);
                self.strings(std::slice::from_ref(link));
            }
            PoolSelection::Hsm(instances) => {
                self.i32(3);
                self.strings(instances);
            }
            PoolSelection::Readers { attributes, protocol, net } => {
                self.i32(4);
                self.strings(&[]);
                self.attributes(attributes);
                self.str(protocol);
                self.str(net);
            }
        }
    }

    /// A request id as Java's `UUID`: the most, then the least significant 64 bits.
    fn uuid(&mut self, id: RequestId) {
        self.i64((id.0 >> 64) as i64);
        self.i64(id.0 as i64);
    }

    /// A pool-to-pool transfer request.
    pub fn p2p(&mut self, r: &P2pRequest) {
        self.uuid(r.id);
        self.str(&r.source);
        self.attributes(&r.attributes);
        self.state(r.state);
        self.sticky(&r.sticky);
        self.bool(r.atime.is_some());
        self.i64(r.atime.unwrap_or(0));
        self.bool(r.force_source_mode);
    }

    /// A pin-move request.
    pub fn pin_move(&mut self, r: &PinMove) {
        self.str(r.pnfsid.text().as_str());
        self.sticky(&r.pins);
        self.str(&r.source);
        self.str(&r.target);
    }

    /// A message between migration modules, as `org.dcache.migration.messages` holds it: a
    /// kind (0 copy, 1 ping, 2 cancel, 3 copy finished, 4 job cancel), then its fields.
    pub fn message(&mut self, m: &Message) {
        match m {
            Message::Copy(r) => {
                self.i32(0);
                self.uuid(r.uuid);
                self.str(&r.source);
                self.attributes(&r.attributes);
                self.state(r.state);
                self.sticky(&r.sticky);
                self.bool(r.verify);
                self.bool(r.force_source_mode);
                self.bool(r.atime.is_some());
                self.i64(r.atime.unwrap_or(0));
                self.bool(r.meta_only);
            }
            Message::Ping { uuid, source, pnfsid } => {
                self.i32(1);
                self.uuid(*uuid);
                self.str(source);
                self.str(pnfsid.text().as_str());
            }
            Message::Cancel { uuid, source, pnfsid, reason } => {
                self.i32(2);
                self.uuid(*uuid);
                self.str(source);
                self.str(pnfsid.text().as_str());
                self.opt_str(reason.as_deref());
            }
            Message::CopyFinished { uuid, pool, pnfsid, rc, error } => {
                self.i32(3);
                self.uuid(*uuid);
                self.str(pool);
                self.str(pnfsid.text().as_str());
                self.i32(rc.0);
                self.opt_str(error.as_deref());
            }
            Message::CancelJob { job, forced, reason } => {
                self.i32(4);
                self.str(job);
                self.bool(*forced);
                self.str(reason);
            }
        }
    }

    /// A reply: dCache's return code (0 for success) and error text (null on success).
    pub fn reply(&mut self, r: &Reply) {
        match r {
            Reply::Ok => {
                self.i32(0);
                self.opt_str(None);
            }
            Reply::Error { code, message } => {
                self.i32(code.0);
                self.str(message);
            }
        }
    }

    fn job_state(&mut self, state: JobState) {
        // The order of Java's `JobState`; an explicit match so that a new state in the core
        // does not compile until both sides know it.
        self.i32(match state {
            JobState::New => 0,
            JobState::Initializing => 1,
            JobState::Running => 2,
            JobState::Sleeping => 3,
            JobState::Paused => 4,
            JobState::Suspended => 5,
            JobState::Stopping => 6,
            JobState::Cancelling => 7,
            JobState::Cancelled => 8,
            JobState::Finished => 9,
            JobState::Failed => 10,
        });
    }

    fn task_status(&mut self, t: &TaskStatus) {
        self.i64(t.id as i64);
        self.str(&t.pnfsid);
        self.str(t.state);
        self.opt_str(t.target.as_deref());
    }

    fn note(&mut self, n: &Note) {
        self.i64(n.time);
        self.i64(n.task as i64);
        self.opt_str(n.pnfsid.map(|p| p.text()).as_ref().map(PnfsIdText::as_str));
        self.str(&n.text);
    }

    /// One job's status, as `org.dcache.migration.JobStatus` holds it.
    pub fn job_status(&mut self, j: &JobStatus) {
        self.str(&j.id);
        self.job_state(j.state);
        self.str(&j.command);
        self.str(&j.summary);
        self.bool(j.permanent);
        self.i32(j.concurrency);
        self.i64(i64::try_from(j.queued).unwrap_or(i64::MAX));
        let s = &j.statistics;
        for v in [s.attempts, s.completed_files, s.transferred, s.total, s.failures] {
            self.i64(i64::try_from(v).unwrap_or(i64::MAX));
        }
        self.bool(j.percent.is_some());
        self.i64(j.percent.map_or(0, |p| i64::try_from(p).unwrap_or(i64::MAX)));
        self.strings(&j.targets);
        self.str(&j.targets_description);
        self.len(j.running_tasks.len());
        for t in &j.running_tasks {
            self.task_status(t);
        }
        self.len(j.notes.len());
        for n in &j.notes {
            self.note(n);
        }
        self.i64(j.created);
        self.opt_i64(j.started);
        self.bool(j.rate.is_some());
        let rate = j.rate.as_ref();
        self.f64(rate.map_or(0.0, |r| r.files_per_second));
        self.f64(rate.map_or(0.0, |r| r.bytes_per_second));
        self.opt_i64(j.eta_millis);
        self.len(j.quarantined.len());
        for q in &j.quarantined {
            self.quarantined(q);
        }
    }

    /// An optional 64-bit integer: a presence flag, then the value (0 when absent).
    fn opt_i64(&mut self, v: Option<i64>) {
        self.bool(v.is_some());
        self.i64(v.unwrap_or(0));
    }

    fn quarantined(&mut self, q: &QuarantineStatus) {
        self.str(&q.pnfsid);
        self.i64(i64::try_from(q.quarantined.size).unwrap_or(i64::MAX));
        self.i32(i32::try_from(q.quarantined.attempts).unwrap_or(i32::MAX));
        self.i32(q.quarantined.rc.0);
        self.str(&q.quarantined.error);
    }

    /// A command's schema, as `org.dcache.migration.MigrationCommands` reads it: name, summary,
    /// the options, then the positional arguments.
    pub fn command_spec(&mut self, c: &CommandSpec) {
        self.str(c.name);
        self.str(c.summary);
        self.len(c.options.len());
        for o in c.options {
            self.option_spec(o);
        }
        self.arg_spec(&c.args);
    }

    fn option_spec(&mut self, o: &OptionSpec) {
        self.str(o.name);
        // The order of Java's `CommandOption.Type`; an explicit match so that a new kind in
        // the core does not compile until both sides know it.
        let (kind, values): (i32, &[&str]) = match o.kind {
            OptionKind::Flag => (0, &[]),
            OptionKind::Int => (1, &[]),
            OptionKind::Long => (2, &[]),
            OptionKind::String => (3, &[]),
            OptionKind::Enum(values) => (4, values),
            OptionKind::List => (5, &[]),
        };
        self.i32(kind);
        self.len(values.len());
        for v in values {
            self.str(v);
        }
        self.str(o.category);
        self.str(&syntax::placeholder(o));
        self.str(o.value_name);
        self.str(o.help);
    }

    fn arg_spec(&mut self, a: &ArgSpec) {
        self.len(a.names.len());
        for n in a.names {
            self.str(n);
        }
        self.len(a.required);
        self.bool(a.variadic);
    }

    #[cfg(test)]
    fn pool(&mut self, p: &PoolInfo) {
        match p {
            PoolInfo::Offline { name } => {
                self.bool(false);
                self.str(name);
            }
            PoolInfo::Online(c) => {
                self.bool(true);
                self.str(&c.name);
                let s = &c.space;
                for v in [s.total, s.free, s.precious, s.removable, s.gap] {
                    self.i64(v as i64);
                }
                self.f64(s.break_even);
                self.i64(s.lru);
                let q = &c.queues;
                for fixed in [q.store, q.restore, q.p2p_server, q.p2p_client] {
                    self.bool(fixed.is_some());
                    self.queue(&fixed.unwrap_or_default());
                }
                self.len(q.movers.len());
                for m in &q.movers {
                    self.str(&m.name);
                    self.queue(&m.queue);
                }
                self.f64(c.mover_cost_factor);
                self.len(c.tags.len());
                for (k, v) in &c.tags {
                    self.str(k);
                    self.str(v);
                }
            }
        }
    }

    #[cfg(test)]
    fn queue(&mut self, q: &PoolQueueInfo) {
        for v in [q.active, q.max_active, q.queued, q.readers, q.writers] {
            self.i32(v as i32);
        }
    }

    #[cfg(test)]
    fn repository_event(&mut self, e: &RepositoryEvent) {
        match e {
            RepositoryEvent::StateChanged { old, new, entry } => {
                self.i32(0);
                self.state(*old);
                self.state(*new);
                self.entry(entry);
            }
            RepositoryEvent::StickyChanged { old, new } => {
                self.i32(1);
                self.entry(old);
                self.entry(new);
            }
            RepositoryEvent::AccessTimeChanged { old, new } => {
                self.i32(2);
                self.entry(old);
                self.entry(new);
            }
        }
    }
}

/// Reads values in the shared format.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Decoded<()> {
        if self.buf.is_empty() { Ok(()) } else { Err(DecodeError(format!("{} trailing bytes", self.buf.len()))) }
    }

    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if self.buf.len() < n {
            return Err(DecodeError("truncated".to_string()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// A 32-bit integer.
    pub fn i32(&mut self) -> Decoded<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Decoded<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn u64(&mut self, what: &str) -> Decoded<u64> {
        let v = self.i64()?;
        u64::try_from(v).map_err(|_| DecodeError(format!("negative {what}: {v}")))
    }

    fn u32(&mut self, what: &str) -> Decoded<u32> {
        let v = self.i32()?;
        u32::try_from(v).map_err(|_| DecodeError(format!("negative {what}: {v}")))
    }

    fn bool(&mut self) -> Decoded<bool> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(DecodeError(format!("bad boolean {b}"))),
        }
    }

    fn f64(&mut self) -> Decoded<f64> {
        Ok(f64::from_bits(self.i64()? as u64))
    }

    fn count(&mut self) -> Decoded<usize> {
        let n = self.i32()?;
        // Every item takes at least one byte: a count beyond the rest is malformed.
        match usize::try_from(n) {
            Ok(n) if n <= self.buf.len() => Ok(n),
            _ => Err(DecodeError(format!("bad count {n}"))),
        }
    }

    /// A string.
    pub fn str(&mut self) -> Decoded<String> {
        self.opt_str()?.ok_or_else(|| DecodeError("null string".to_string()))
    }

    fn opt_str(&mut self) -> Decoded<Option<String>> {
        Ok(self.opt_borrowed_str()?.map(str::to_owned))
    }

    /// A string left in the buffer, for values parsed from text (ids) that need no copy.
    fn opt_borrowed_str(&mut self) -> Decoded<Option<&'a str>> {
        let n = self.i32()?;
        if n == -1 {
            return Ok(None);
        }
        let n = usize::try_from(n).map_err(|_| DecodeError(format!("bad string length {n}")))?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map(Some).map_err(|_| DecodeError("string is not UTF-8".to_string()))
    }

    /// A list of strings.
    pub fn strings(&mut self) -> Decoded<Vec<String>> {
        (0..self.count()?).map(|_| self.str()).collect()
    }

    fn pnfsid(&mut self) -> Decoded<PnfsId> {
        let text = self.opt_borrowed_str()?.ok_or_else(|| DecodeError("null string".to_string()))?;
        PnfsId::parse(text).map_err(|e| DecodeError(format!("{text}: {e}")))
    }

    fn state(&mut self) -> Decoded<ReplicaState> {
        let n = self.i32()?;
        usize::try_from(n)
            .ok()
            .and_then(|i| ReplicaState::ALL.get(i).copied())
            .ok_or_else(|| DecodeError(format!("bad replica state {n}")))
    }

    fn sticky(&mut self) -> Decoded<Vec<StickyRecord>> {
        (0..self.count()?).map(|_| Ok(StickyRecord::new(self.str()?, self.i64()?))).collect()
    }

    fn attributes(&mut self) -> Decoded<FileAttributes> {
        let pnfsid = self.pnfsid()?;
        let size = self.u64("size")?;
        let storage_class = self.opt_str()?;
        let cache_class = self.opt_str()?;
        let access_latency = match self.i32()? {
            -1 => None,
            0 => Some(AccessLatency::Online),
            1 => Some(AccessLatency::Nearline),
            n => return Err(DecodeError(format!("bad access latency {n}"))),
        };
        let retention_policy = match self.i32()? {
            -1 => None,
            0 => Some(RetentionPolicy::Custodial),
            1 => Some(RetentionPolicy::Replica),
            2 => Some(RetentionPolicy::Output),
            n => return Err(DecodeError(format!("bad retention policy {n}"))),
        };
        let checksums = (0..self.count()?)
            .map(|_| Ok(Checksum { kind: self.str()?, value: self.str()? }))
            .collect::<Decoded<_>>()?;
        Ok(FileAttributes { pnfsid, size, storage_class, cache_class, access_latency, retention_policy, checksums })
    }

    /// A replica entry.
    pub fn entry(&mut self) -> Decoded<ReplicaEntry> {
        let a = self.attributes()?;
        let state = self.state()?;
        let sticky = self.sticky()?;
        let last_access = self.i64()?;
        Ok(ReplicaEntry {
            pnfsid: a.pnfsid,
            state,
            sticky,
            size: a.size,
            last_access,
            storage_class: a.storage_class,
            cache_class: a.cache_class,
            access_latency: a.access_latency,
            retention_policy: a.retention_policy,
            checksums: a.checksums,
        })
    }

    /// A target's look at a copy request (`HostBridge.inspectCopy`): whether the pool accepts
    /// copies, then its entry of the file if it has one. A pool that refuses sends no entry.
    pub fn inspection(&mut self) -> Decoded<(bool, Option<ReplicaEntry>)> {
        let accepts = self.bool()?;
        let has_entry = self.bool()?;
        if !accepts && has_entry {
            return Err(DecodeError("an entry from a pool that refuses copies".to_string()));
        }
        let entry = if has_entry { Some(self.entry()?) } else { None };
        Ok((accepts, entry))
    }

    fn uuid(&mut self) -> Decoded<RequestId> {
        let hi = self.i64()? as u64 as u128;
        let lo = self.i64()? as u64 as u128;
        Ok(RequestId((hi << 64) | lo))
    }

    /// A message between migration modules, in [`Writer::message`]'s layout.
    pub fn message(&mut self) -> Decoded<Message> {
        Ok(match self.i32()? {
            0 => {
                let uuid = self.uuid()?;
                let source = self.str()?;
                let attributes = self.attributes()?;
                let state = self.state()?;
                let sticky = self.sticky()?;
                let verify = self.bool()?;
                let force_source_mode = self.bool()?;
                let has_atime = self.bool()?;
                let atime = self.i64()?;
                let meta_only = self.bool()?;
                Message::Copy(CopyRequest {
                    uuid,
                    source: source.into(),
                    attributes,
                    state,
                    sticky,
                    verify,
                    force_source_mode,
                    atime: has_atime.then_some(atime),
                    meta_only,
                })
            }
            1 => Message::Ping { uuid: self.uuid()?, source: self.str()?.into(), pnfsid: self.pnfsid()? },
            2 => Message::Cancel {
                uuid: self.uuid()?,
                source: self.str()?.into(),
                pnfsid: self.pnfsid()?,
                reason: self.opt_str()?,
            },
            3 => Message::CopyFinished {
                uuid: self.uuid()?,
                pool: self.str()?.into(),
                pnfsid: self.pnfsid()?,
                rc: ReturnCode(self.i32()?),
                error: self.opt_str()?,
            },
            4 => Message::CancelJob { job: self.str()?, forced: self.bool()?, reason: self.str()? },
            n => return Err(DecodeError(format!("bad message kind {n}"))),
        })
    }

    /// A reply, in [`Writer::reply`]'s layout. Return code 0 is success whatever the text, as
    /// in dCache.
    pub fn reply(&mut self) -> Decoded<Reply> {
        let code = self.i32()?;
        let message = self.opt_str()?;
        Ok(if code == 0 {
            Reply::Ok
        } else {
            Reply::Error { code: ReturnCode(code), message: message.unwrap_or_default() }
        })
    }

    /// A batch of replica entries.
    pub fn entries(&mut self) -> Decoded<Vec<ReplicaEntry>> {
        (0..self.count()?).map(|_| self.entry()).collect()
    }

    fn queue(&mut self) -> Decoded<PoolQueueInfo> {
        Ok(PoolQueueInfo {
            active: self.u32("active")?,
            max_active: self.u32("max active")?,
            queued: self.u32("queued")?,
            readers: self.u32("readers")?,
            writers: self.u32("writers")?,
        })
    }

    fn opt_queue(&mut self) -> Decoded<Option<PoolQueueInfo>> {
        let present = self.bool()?;
        let queue = self.queue()?;
        Ok(present.then_some(queue))
    }

    fn pool(&mut self) -> Decoded<PoolInfo> {
        if !self.bool()? {
            return Ok(PoolInfo::Offline { name: self.str()? });
        }
        let name = self.str()?;
        let space = PoolSpaceInfo {
            total: self.u64("total")?,
            free: self.u64("free")?,
            precious: self.u64("precious")?,
            removable: self.u64("removable")?,
            gap: self.u64("gap")?,
            break_even: self.f64()?,
            lru: self.i64()?,
        };
        let queues = PoolQueues {
            store: self.opt_queue()?,
            restore: self.opt_queue()?,
            p2p_server: self.opt_queue()?,
            p2p_client: self.opt_queue()?,
            movers: (0..self.count()?)
                .map(|_| Ok(NamedPoolQueueInfo { name: self.str()?, queue: self.queue()? }))
                .collect::<Decoded<_>>()?,
        };
        let mover_cost_factor = self.f64()?;
        let tags = (0..self.count()?).map(|_| Ok((self.str()?, self.str()?))).collect::<Decoded<BTreeMap<_, _>>>()?;
        Ok(PoolInfo::Online(PoolCostInfo { name: name.into(), space, queues, mover_cost_factor, tags }))
    }

    /// A pool list.
    pub fn pools(&mut self) -> Decoded<PoolList> {
        Ok(PoolList { pools: (0..self.count()?).map(|_| self.pool()).collect::<Decoded<_>>()? })
    }

    /// A repository event.
    pub fn repository_event(&mut self) -> Decoded<RepositoryEvent> {
        match self.i32()? {
            0 => Ok(RepositoryEvent::StateChanged { old: self.state()?, new: self.state()?, entry: self.entry()? }),
            1 => Ok(RepositoryEvent::StickyChanged { old: self.entry()?, new: self.entry()? }),
            2 => Ok(RepositoryEvent::AccessTimeChanged { old: self.entry()?, new: self.entry()? }),
            n => Err(DecodeError(format!("bad repository event kind {n}"))),
        }
    }

    /// The module's configuration, as `MigrationModule.Builder` encodes it.
    pub fn config(&mut self) -> Decoded<Config> {
        let config = Config {
            pool_timeout: self.i64()?,
            namespace_timeout: self.i64()?,
            pool_manager_timeout: self.i64()?,
            pin_manager_timeout: self.i64()?,
            pin_manager: self.str()?,
            concurrency_default: self.i32()?,
            refresh_default: self.u64("refresh")?,
            hotfile_replicas: self.i32()?,
            hotfile_threshold: self.i64()?,
        };
        // The values are checked once, by `Config::validate`, for Java and C alike.
        config.validate().map_err(|e| DecodeError(e.message))?;
        Ok(config)
    }
}

/// How a Java completion failed: `0` an error reply with a code, `1` a timeout, `2` no route.
/// Code 0 is dCache's success, so an error with it is taken as the default error code.
pub fn failure(kind: i32, code: i32, message: String) -> Failure {
    match kind {
        1 => Failure::Timeout,
        2 => Failure::NoRoute,
        _ if code == 0 => Failure::Error { code: ReturnCode::DEFAULT_ERROR_CODE, cause: message },
        _ => Failure::Error { code: ReturnCode(code), cause: message },
    }
}

/// The kind and code of a failure as Java's `Completion.fail`, `timeout` and `noRoute` take them.
pub fn failure_parts(failure: &Failure) -> (i32, i32, String) {
    match failure {
        Failure::Error { code, cause } => (0, code.0, cause.clone()),
        Failure::Timeout => (1, ReturnCode::TIMEOUT.0, "timeout".to_string()),
        Failure::NoRoute => (2, ReturnCode::SERVICE_UNAVAILABLE.0, "no route".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::message::RequestId;

    /// Code 0 is dCache's success: a Java failure with it is the default error, never a reply
    /// that reads as success.
    #[test]
    fn a_java_failure_with_return_code_0_is_the_default_error() {
        assert_eq!(failure(0, 0, "disk full".into()), Failure::error(ReturnCode::DEFAULT_ERROR_CODE, "disk full"));
        assert_eq!(failure(0, 10011, "x".into()), Failure::error(ReturnCode(10011), "x"));
        assert_eq!(failure(1, 0, "x".into()), Failure::Timeout);
    }

    fn entry() -> ReplicaEntry {
        let mut e = ReplicaEntry::new(PnfsId::parse("0000AB").expect("valid"), ReplicaState::Precious, 40, 1234);
        e.sticky = vec![StickyRecord::new("foo", -1), StickyRecord::new("PinManager-1", 99)];
        e.storage_class = Some("atlas:default@osm".to_string());
        e.access_latency = Some(AccessLatency::Nearline);
        e.retention_policy = Some(RetentionPolicy::Output);
        e.checksums = vec![Checksum { kind: "ADLER32".to_string(), value: "0abc".to_string() }];
        e
    }

    #[test]
    fn entries_round_trip() {
        let mut w = Writer::new();
        w.entry(&entry());
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.entry().expect("decodes"), entry());
        r.finish().expect("all read");
    }

    #[test]
    fn an_inspection_carries_the_entry_only_from_a_pool_that_accepts_copies() {
        let inspection = |accepts: bool, e: Option<&ReplicaEntry>| {
            let mut w = Writer::new();
            w.bool(accepts);
            w.bool(e.is_some());
            if let Some(e) = e {
                w.entry(e);
            }
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            let decoded = r.inspection();
            decoded.and_then(|d| r.finish().map(|()| d))
        };
        assert_eq!(inspection(true, Some(&entry())).expect("decodes"), (true, Some(entry())));
        assert_eq!(inspection(true, None).expect("decodes"), (true, None));
        assert_eq!(inspection(false, None).expect("decodes"), (false, None));
        let refused = inspection(false, Some(&entry())).expect_err("an entry from a refusing pool is malformed");
        assert!(refused.0.contains("refuses copies"), "{refused}");
    }

    #[test]
    fn pools_round_trip_online_and_offline() {
        let mut online = PoolCostInfo::simple("pool2", 1000, 400, 100);
        online.tags.insert("hostname".to_string(), "h1".to_string());
        online.queues.p2p_client = Some(PoolQueueInfo { active: 1, max_active: 2, queued: 3, readers: 4, writers: 5 });
        let pools = vec![PoolInfo::Online(online), PoolInfo::Offline { name: "pool3".to_string() }];
        let mut w = Writer::new();
        w.len(pools.len());
        for p in &pools {
            w.pool(p);
        }
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.pools().expect("decodes").pools, pools);
        r.finish().expect("all read");
    }

    #[test]
    fn repository_events_round_trip() {
        let event = RepositoryEvent::StateChanged { old: ReplicaState::New, new: ReplicaState::Cached, entry: entry() };
        let mut w = Writer::new();
        w.repository_event(&event);
        let bytes = w.into_bytes();
        assert_eq!(Reader::new(&bytes).repository_event().expect("decodes"), event);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(Reader::new(&[0, 0, 0]).entry().is_err());
        assert!(Reader::new(&[0x7f, 0xff, 0xff, 0xff]).strings().is_err());
        let mut w = Writer::new();
        w.i32(0);
        w.i32(42);
        let bytes = w.into_bytes();
        assert!(Reader::new(&bytes).repository_event().is_err());
    }

    #[test]
    fn a_command_spec_carries_each_options_category_and_value_syntax() {
        let spec = migration_core::commands::COMMANDS.iter().find(|c| c.name == "migration copy").expect("copy");
        let mut w = Writer::new();
        w.command_spec(spec);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.str().expect("name"), "migration copy");
        assert_eq!(r.str().expect("summary"), spec.summary);
        let mut options = BTreeMap::new();
        for _ in 0..r.count().expect("count") {
            let name = r.str().expect("option");
            let kind = r.i32().expect("kind");
            let values = r.strings().expect("values");
            let category = r.str().expect("category");
            let syntax = r.str().expect("syntax");
            r.str().expect("value name");
            r.str().expect("help");
            options.insert(name, (kind, values, category, syntax));
        }
        assert_eq!(options["accessed"], (3, vec![], "Filter options".to_string(), "=<n>|[<n>]..[<m>]".to_string()));
        assert_eq!(options["permanent"], (0, vec![], "Lifetime options".to_string(), String::new()));
        assert_eq!(
            options["pins"],
            (4, vec!["keep".to_string(), "move".to_string()], "Transfer options".to_string(), "=keep|move".to_string())
        );
        assert_eq!(options["id"].2, "");
        assert_eq!(r.strings().expect("arguments"), ["TARGET"]);
        assert_eq!(r.i32().expect("required"), 0);
        assert!(r.bool().expect("variadic"));
        r.finish().expect("all read");
    }

    #[test]
    fn p2p_request_keeps_the_whole_uuid() {
        let r = P2pRequest {
            id: RequestId(u128::MAX - 5),
            source: "pool1".into(),
            attributes: entry().attributes(),
            state: ReplicaState::Cached,
            sticky: vec![],
            atime: Some(7),
            force_source_mode: true,
        };
        let mut w = Writer::new();
        w.p2p(&r);
        let bytes = w.into_bytes();
        let mut rd = Reader::new(&bytes);
        let hi = rd.i64().expect("hi") as u64 as u128;
        let lo = rd.i64().expect("lo") as u64 as u128;
        assert_eq!((hi << 64) | lo, r.id.0);
    }
}
