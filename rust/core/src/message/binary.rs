//! Version 2 of the wire format: a compact binary form. Writing and reading JSON was the
//! largest cost of orchestrating a copy (issue #14); this form needs no text escaping, no
//! number formatting and no field names. The layout is in `docs/wire.md`:
//!
//! ```text
//! 0xDC 0x02 <kind> <fields in declaration order>
//! ```
//!
//! Integers are LEB128 varints (signed ones zig-zag first), strings a varint length and UTF-8,
//! an optional value a 0/1 byte before it, a list a varint count before its items, a request
//! id 16 bytes most significant first, a PNFS id its length (12 or 18) and raw bytes.

use crate::PoolName;
use crate::error::ReturnCode;
use crate::pnfsid::PnfsId;
use crate::replica::{AccessLatency, Checksum, FileAttributes, ReplicaState, RetentionPolicy, StickyRecord};

use super::{CopyRequest, Message, Reply, RequestId, Wire};

/// The first byte of every binary message: no JSON text starts with it, so one byte tells
/// the versions apart.
const MAGIC: u8 = 0xDC;
const VERSION: u8 = 2;

// Kinds. Messages and replies do not share numbers, so that a reply read as a message (or
// the reverse) is refused by name rather than misread.
const COPY: u8 = 1;
const PING: u8 = 2;
const CANCEL: u8 = 3;
const COPY_FINISHED: u8 = 4;
const CANCEL_JOB: u8 = 5;
const OK: u8 = 16;
const ERROR: u8 = 17;

pub(super) fn is_binary(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MAGIC)
}

pub(super) fn encode<T: Wire>(body: &T) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(128));
    out.u8(MAGIC);
    out.u8(VERSION);
    body.write_binary(&mut out);
    out.0
}

pub(super) fn decode<T: Wire>(bytes: &[u8], known: &[&PoolName]) -> Result<T, String> {
    let mut input = Reader { bytes, at: 0, known };
    input.u8()?; // the magic, checked by `is_binary`
    let version = input.u8()?;
    if version != VERSION {
        return Err(format!("unsupported message version {version}"));
    }
    let body = T::read_binary(&mut input)?;
    match input.bytes.len() - input.at {
        0 => {
            body.check()?;
            Ok(body)
        }
        n => Err(format!("malformed message: {n} bytes after the end")),
    }
}

/// Builds a binary message.
#[doc(hidden)]
pub struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bool(&mut self, b: bool) {
        self.u8(u8::from(b));
    }

    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn signed(&mut self, n: i64) {
        self.varint(((n << 1) ^ (n >> 63)) as u64);
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn option<T>(&mut self, value: Option<&T>, write: impl FnOnce(&mut Writer, &T)) {
        self.bool(value.is_some());
        if let Some(value) = value {
            write(self, value);
        }
    }

    fn list<T>(&mut self, items: &[T], mut write: impl FnMut(&mut Writer, &T)) {
        self.varint(items.len() as u64);
        for item in items {
            write(self, item);
        }
    }

    fn uuid(&mut self, id: RequestId) {
        self.0.extend_from_slice(&id.0.to_be_bytes());
    }

    fn pnfsid(&mut self, id: &PnfsId) {
        let bytes = id.as_bytes();
        self.u8(bytes.len() as u8);
        self.0.extend_from_slice(bytes);
    }
}

/// Reads a binary message; every read checks what is left, so short or garbled bytes are an
/// error and never a panic or a huge allocation.
#[doc(hidden)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Pool names a message is likely to carry (its sender's, the receiver's own), handed out
    /// again rather than allocated anew for every message.
    known: &'a [&'a PoolName],
}

fn malformed(what: &str) -> String {
    format!("malformed message: {what}")
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| malformed("it ends too early"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, String> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(malformed(&format!("{b} is not a boolean"))),
        }
    }

    /// Only the shortest form is read, as the writer writes it: a tenth byte beyond the 64th
    /// bit, or a last byte of 0 after the first, would let several byte strings mean one
    /// number (and the tenth, shifted out, turn a refused size into 0).
    fn varint(&mut self) -> Result<u64, String> {
        // Most numbers of a message (lengths, kinds, small codes) fit in one byte.
        let first = self.u8()?;
        if first & 0x80 == 0 {
            return Ok(u64::from(first));
        }
        let mut n = u64::from(first & 0x7F);
        for shift in (7..64).step_by(7) {
            let b = self.u8()?;
            n |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                if b == 0 {
                    return Err(malformed("a number is not in its shortest form"));
                }
                if shift == 63 && b > 1 {
                    return Err(malformed("a number is larger than 64 bits"));
                }
                return Ok(n);
            }
        }
        Err(malformed("a number is too long"))
    }

    fn signed(&mut self) -> Result<i64, String> {
        let n = self.varint()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, String> {
        i32::try_from(self.signed()?).map_err(|_| malformed("a return code is out of range"))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        // Every item takes at least a byte: a count beyond what is left is a lie.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| malformed("a length exceeds the message"))
    }

    fn text(&mut self) -> Result<&'a str, String> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| malformed("a string is not UTF-8"))
    }

    fn str(&mut self) -> Result<String, String> {
        self.text().map(str::to_owned)
    }

    fn pool_name(&mut self) -> Result<PoolName, String> {
        let text = self.text()?;
        Ok(match self.known.iter().find(|&&name| &**name == text) {
            Some(name) => PoolName::clone(name),
            None => PoolName::from(text),
        })
    }

    fn option<T>(&mut self, read: impl FnOnce(&mut Reader<'a>) -> Result<T, String>) -> Result<Option<T>, String> {
        if self.bool()? { read(self).map(Some) } else { Ok(None) }
    }

    fn list<T>(&mut self, mut read: impl FnMut(&mut Reader<'a>) -> Result<T, String>) -> Result<Vec<T>, String> {
        let n = self.len()?;
        (0..n).map(|_| read(self)).collect()
    }

    fn uuid(&mut self) -> Result<RequestId, String> {
        let bytes: [u8; 16] = self.take(16)?.try_into().expect("16 bytes taken");
        Ok(RequestId(u128::from_be_bytes(bytes)))
    }

    fn pnfsid(&mut self) -> Result<PnfsId, String> {
        let n = usize::from(self.u8()?);
        PnfsId::from_bytes(self.take(n)?).map_err(|e| malformed(&e.to_string()))
    }
}

fn state_code(state: ReplicaState) -> u8 {
    match state {
        ReplicaState::New => 0,
        ReplicaState::FromClient => 1,
        ReplicaState::FromPool => 2,
        ReplicaState::FromStore => 3,
        ReplicaState::Broken => 4,
        ReplicaState::Cached => 5,
        ReplicaState::Precious => 6,
        ReplicaState::Removed => 7,
        ReplicaState::Destroyed => 8,
    }
}

fn state_of(code: u8) -> Result<ReplicaState, String> {
    Ok(match code {
        0 => ReplicaState::New,
        1 => ReplicaState::FromClient,
        2 => ReplicaState::FromPool,
        3 => ReplicaState::FromStore,
        4 => ReplicaState::Broken,
        5 => ReplicaState::Cached,
        6 => ReplicaState::Precious,
        7 => ReplicaState::Removed,
        8 => ReplicaState::Destroyed,
        _ => return Err(malformed(&format!("{code} is not a replica state"))),
    })
}

fn write_attributes(out: &mut Writer, a: &FileAttributes) {
    out.pnfsid(&a.pnfsid);
    out.varint(a.size);
    out.option(a.storage_class.as_ref(), |o, s| o.str(s));
    out.option(a.cache_class.as_ref(), |o, s| o.str(s));
    out.option(a.access_latency.as_ref(), |o, l| {
        o.u8(match l {
            AccessLatency::Online => 0,
            AccessLatency::Nearline => 1,
        })
    });
    out.option(a.retention_policy.as_ref(), |o, p| {
        o.u8(match p {
            RetentionPolicy::Custodial => 0,
            RetentionPolicy::Replica => 1,
            RetentionPolicy::Output => 2,
        })
    });
    out.list(&a.checksums, |o, c| {
        o.str(&c.kind);
        o.str(&c.value);
    });
}

fn read_attributes(input: &mut Reader<'_>) -> Result<FileAttributes, String> {
    Ok(FileAttributes {
        pnfsid: input.pnfsid()?,
        size: match input.varint()? {
            size if size > crate::replica::MAX_FILE_SIZE => {
                return Err(malformed(&format!("file size {size} is larger than {}", crate::replica::MAX_FILE_SIZE)));
            }
            size => size,
        },
        storage_class: input.option(Reader::str)?,
        cache_class: input.option(Reader::str)?,
        access_latency: input.option(|i| match i.u8()? {
            0 => Ok(AccessLatency::Online),
            1 => Ok(AccessLatency::Nearline),
            b => Err(malformed(&format!("{b} is not an access latency"))),
        })?,
        retention_policy: input.option(|i| match i.u8()? {
            0 => Ok(RetentionPolicy::Custodial),
            1 => Ok(RetentionPolicy::Replica),
            2 => Ok(RetentionPolicy::Output),
            b => Err(malformed(&format!("{b} is not a retention policy"))),
        })?,
        checksums: input.list(|i| Ok(Checksum { kind: i.str()?, value: i.str()? }))?,
    })
}

impl Wire for Message {
    fn check(&self) -> Result<(), String> {
        self.check_codes()
    }

    fn write_binary(&self, out: &mut Writer) {
        match self {
            Message::Copy(r) => {
                out.u8(COPY);
                out.uuid(r.uuid);
                out.str(&r.source);
                write_attributes(out, &r.attributes);
                out.u8(state_code(r.state));
                out.list(&r.sticky, |o, s| {
                    o.str(&s.owner);
                    o.signed(s.expire);
                });
                out.bool(r.verify);
                out.bool(r.force_source_mode);
                out.option(r.atime.as_ref(), |o, t| o.signed(*t));
                out.bool(r.meta_only);
            }
            Message::Ping { uuid, source, pnfsid } => {
                out.u8(PING);
                out.uuid(*uuid);
                out.str(source);
                out.pnfsid(pnfsid);
            }
            Message::Cancel { uuid, source, pnfsid, reason } => {
                out.u8(CANCEL);
                out.uuid(*uuid);
                out.str(source);
                out.pnfsid(pnfsid);
                out.option(reason.as_ref(), |o, s| o.str(s));
            }
            Message::CopyFinished { uuid, pool, pnfsid, rc, error } => {
                out.u8(COPY_FINISHED);
                out.uuid(*uuid);
                out.str(pool);
                out.pnfsid(pnfsid);
                out.signed(i64::from(rc.0));
                out.option(error.as_ref(), |o, s| o.str(s));
            }
            Message::CancelJob { job, forced, reason } => {
                out.u8(CANCEL_JOB);
                out.str(job);
                out.bool(*forced);
                out.str(reason);
            }
        }
    }

    fn read_binary(input: &mut Reader<'_>) -> Result<Message, String> {
        Ok(match input.u8()? {
            COPY => Message::Copy(CopyRequest {
                uuid: input.uuid()?,
                source: input.pool_name()?,
                attributes: read_attributes(input)?,
                state: state_of(input.u8()?)?,
                sticky: input.list(|i| Ok(StickyRecord { owner: i.str()?, expire: i.signed()? }))?,
                verify: input.bool()?,
                force_source_mode: input.bool()?,
                atime: input.option(Reader::signed)?,
                meta_only: input.bool()?,
            }),
            PING => Message::Ping { uuid: input.uuid()?, source: input.pool_name()?, pnfsid: input.pnfsid()? },
            CANCEL => Message::Cancel {
                uuid: input.uuid()?,
                source: input.pool_name()?,
                pnfsid: input.pnfsid()?,
                reason: input.option(Reader::str)?,
            },
            COPY_FINISHED => Message::CopyFinished {
                uuid: input.uuid()?,
                pool: input.pool_name()?,
                pnfsid: input.pnfsid()?,
                rc: ReturnCode(input.i32()?),
                error: input.option(Reader::str)?,
            },
            CANCEL_JOB => Message::CancelJob { job: input.str()?, forced: input.bool()?, reason: input.str()? },
            kind => return Err(malformed(&format!("{kind} is not a message kind"))),
        })
    }
}

impl Wire for Reply {
    fn check(&self) -> Result<(), String> {
        self.check_codes()
    }

    fn write_binary(&self, out: &mut Writer) {
        match self {
            Reply::Ok => out.u8(OK),
            Reply::Error { code, message } => {
                out.u8(ERROR);
                out.signed(i64::from(code.0));
                out.str(message);
            }
        }
    }

    fn read_binary(input: &mut Reader<'_>) -> Result<Reply, String> {
        match input.u8()? {
            OK => Ok(Reply::Ok),
            ERROR => Ok(Reply::Error { code: ReturnCode(input.i32()?), message: input.str()? }),
            kind => Err(malformed(&format!("{kind} is not a reply kind"))),
        }
    }
}
