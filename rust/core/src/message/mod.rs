//! Messages between the migration modules of two pools (spec §5.7, §6) and the job-cancel
//! message other dCache services send. The host carries them as opaque bytes; the format is
//! ours and versioned (`docs/wire.md`): version 1 is JSON (`json.rs`), version 2 a compact
//! binary form (`binary.rs`). Every version is read; a pool writes the one it is told to, and
//! answers a request in the version the request came in.

mod binary;
mod json;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Failure, ReturnCode};
use crate::pnfsid::PnfsId;
use crate::replica::{FileAttributes, ReplicaState, StickyRecord};
use crate::{Millis, PoolName};

/// Identifies one copy request on the target (dCache's request UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u128);

impl fmt::Display for RequestId {
    /// UUID form: `8-4-4-4-12` lower-case hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Digit by digit into one buffer: a C or Java host is handed the id of every transfer.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (i, byte) in self.0.to_be_bytes().iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1; // the dash already there
            }
            text[at] = HEX[usize::from(byte >> 4)];
            text[at + 1] = HEX[usize::from(byte & 0x0F)];
            at += 2;
        }
        f.write_str(std::str::from_utf8(&text).expect("hex digits and dashes are ASCII"))
    }
}

impl std::str::FromStr for RequestId {
    type Err = String;

    /// The UUID form (`8-4-4-4-12` hex digits, either case), as dCache's `UUID.toString`.
    fn from_str(text: &str) -> Result<RequestId, String> {
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        let hex = groups.concat();
        if lengths != [8, 4, 4, 4, 12] || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("not a UUID: {text:?}"));
        }
        u128::from_str_radix(&hex, 16).map(RequestId).map_err(|e| format!("not a UUID: {text:?}: {e}"))
    }
}

/// A request or notification sent to another pool's migration module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Create or update a replica (§6.1).
    Copy(CopyRequest),
    /// Does the target still work on `uuid`? (§6.5)
    Ping {
        /// The request.
        uuid: RequestId,
        /// The requesting pool.
        source: PoolName,
        /// The file (not checked by the target).
        pnfsid: PnfsId,
    },
    /// Abort `uuid` (§6.6).
    Cancel {
        /// The request.
        uuid: RequestId,
        /// The requesting pool.
        source: PoolName,
        /// The file.
        pnfsid: PnfsId,
        /// Why, if known.
        reason: Option<String>,
    },
    /// The target finished `uuid` (§6.2); one-way.
    CopyFinished {
        /// The request.
        uuid: RequestId,
        /// The source pool as named in the request.
        pool: PoolName,
        /// The file.
        pnfsid: PnfsId,
        /// 0 on success.
        rc: ReturnCode,
        /// The error text on failure.
        error: Option<String>,
    },
    /// Cancel a job, as QoS or resilience do (§2.12); answered once the job has ended.
    CancelJob {
        /// The job id.
        job: String,
        /// Also cancel running tasks.
        forced: bool,
        /// Why.
        reason: String,
    },
}

/// The copy request's fields (§5.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyRequest {
    /// Identifies the request.
    pub uuid: RequestId,
    /// The source pool's name.
    pub source: PoolName,
    /// What the target needs to create the replica.
    pub attributes: FileAttributes,
    /// `CACHED` or `PRECIOUS`.
    pub state: ReplicaState,
    /// Sticky records for the target replica.
    pub sticky: Vec<StickyRecord>,
    /// Verify the checksum when updating an existing replica.
    pub verify: bool,
    /// Let the source deliver even if it is disabled for p2p.
    pub force_source_mode: bool,
    /// The source's access time, for a new replica.
    pub atime: Option<Millis>,
    /// Never create a replica, only update.
    pub meta_only: bool,
}

/// The answer to a request: success, or dCache's return code and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Success.
    Ok,
    /// An error reply.
    Error {
        /// Return code.
        code: ReturnCode,
        /// Error text.
        message: String,
    },
}

/// A version of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireVersion {
    /// Version 1: one JSON object, `{"v":1,"body":…}`.
    Json,
    /// Version 2: a compact binary form, a tenth of the work to write and read.
    #[default]
    Binary,
}

impl WireVersion {
    /// The number on the wire and in `migration set wire-version`.
    pub fn number(self) -> u32 {
        match self {
            WireVersion::Json => 1,
            WireVersion::Binary => 2,
        }
    }

    /// The version numbered `n`, if this module knows it.
    pub fn from_number(n: u32) -> Option<WireVersion> {
        match n {
            1 => Some(WireVersion::Json),
            2 => Some(WireVersion::Binary),
            _ => None,
        }
    }
}

/// What travels on the wire: a [`Message`] or a [`Reply`].
pub trait Wire: Sized + Serialize + for<'de> Deserialize<'de> {
    #[doc(hidden)]
    fn write_binary(&self, out: &mut binary::Writer);
    #[doc(hidden)]
    fn read_binary(input: &mut binary::Reader<'_>) -> Result<Self, String>;
    /// Refuses what no encoder of ours writes and readers would take differently, in either
    /// version.
    #[doc(hidden)]
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Encodes a message or reply in the newest version ([`WireVersion::default`]).
pub fn encode<T: Wire>(body: &T) -> Vec<u8> {
    encode_as(body, WireVersion::default())
}

/// Encodes a message or reply in `version`.
pub fn encode_as<T: Wire>(body: &T, version: WireVersion) -> Vec<u8> {
    match version {
        WireVersion::Json => json::encode(body),
        WireVersion::Binary => binary::encode(body),
    }
}

/// Decodes bytes that another pool sent, in any version this module knows; anything
/// malformed is an error, never a panic.
pub fn decode<T: Wire>(bytes: &[u8]) -> Result<T, String> {
    decode_versioned(bytes).map(|(body, _)| body)
}

/// The version `bytes` claim to be in, by their first byte (to answer even garbage in a
/// form its sender reads).
pub fn version_of(bytes: &[u8]) -> WireVersion {
    if binary::is_binary(bytes) { WireVersion::Binary } else { WireVersion::Json }
}

/// As [`decode`], also saying which version the bytes were in (to answer in it).
pub fn decode_versioned<T: Wire>(bytes: &[u8]) -> Result<(T, WireVersion), String> {
    decode_naming(bytes, &[])
}

/// Decodes `bytes` as [`decode_versioned`] does; a pool name in them that is one of `known`
/// (the sender's, the receiver's own) comes out as a clone of it instead of a new string.
pub fn decode_naming<T: Wire>(bytes: &[u8], known: &[&PoolName]) -> Result<(T, WireVersion), String> {
    // Each version's decoder also applies [`Wire::check`]: done here, on the decoded value,
    // it cost a copy of every message read (a copy request is some 200 bytes).
    if binary::is_binary(bytes) {
        binary::decode(bytes, known).map(|body| (body, WireVersion::Binary))
    } else {
        json::decode(bytes).map(|body| (body, WireVersion::Json))
    }
}

/// Return code 0 is success to every reader (dCache's, a Java bridge's, a C host's), so a
/// failure carrying it would be counted as a copy by some and not by others. Our encoders
/// never write one; from anyone else it is refused as malformed rather than guessed at.
fn refuse_failed_success(what: &str) -> Result<(), String> {
    Err(format!("malformed message: {what} with return code 0 and an error text"))
}

impl Message {
    /// The error text of a copy-finished message that carries success's return code with it:
    /// a failure mislabelled, which a source would count as a copy. The wire decoders refuse
    /// it, and so do the bindings' encoders. An empty text is no error: a bridge may write
    /// dCache's null error object so.
    pub fn failure_text_with_success_code(&self) -> Option<&str> {
        match self {
            Message::CopyFinished { rc, error: Some(text), .. } if *rc == ReturnCode::OK && !text.is_empty() => {
                Some(text)
            }
            _ => None,
        }
    }

    fn check_codes(&self) -> Result<(), String> {
        match self.failure_text_with_success_code() {
            Some(_) => refuse_failed_success("a copy-finished message"),
            None => Ok(()),
        }
    }
}

impl Reply {
    fn check_codes(&self) -> Result<(), String> {
        match self {
            Reply::Error { code, .. } if *code == ReturnCode::OK => refuse_failed_success("an error reply"),
            _ => Ok(()),
        }
    }
}

impl Reply {
    /// Turns a decoded reply into the outcome a task sees.
    pub fn into_outcome(self) -> Result<(), Failure> {
        match self {
            Reply::Ok => Ok(()),
            Reply::Error { code, message } => Err(Failure::error(code, message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_prints_as_a_uuid() {
        let id = RequestId(0x0123456789abcdef_0011223344556677);
        assert_eq!(id.to_string(), "01234567-89ab-cdef-0011-223344556677");
        assert_eq!("01234567-89AB-cdef-0011-223344556677".parse(), Ok(id));
        assert!("0123456789abcdef0011223344556677".parse::<RequestId>().is_err());
        assert!("01234567-89ab-cdef-0011-22334455667g".parse::<RequestId>().is_err());
    }

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let m =
            Message::Ping { uuid: RequestId(7), source: "pool1".into(), pnfsid: PnfsId::parse("1").expect("valid") };
        assert_eq!(decode::<Message>(&encode(&m)), Ok(m));
        assert!(decode::<Message>(b"\xff\x00garbage").is_err());
        assert!(decode::<Message>(br#"{"v":99,"body":"Ok"}"#).is_err());
    }

    #[test]
    fn a_failure_with_return_code_0_is_malformed_in_both_versions() {
        let id = PnfsId::parse("1").expect("valid");
        let finished = |rc: i32, error: Option<&str>| Message::CopyFinished {
            uuid: RequestId(8),
            pool: "pool1".into(),
            pnfsid: id,
            rc: ReturnCode(rc),
            error: error.map(str::to_string),
        };
        let reply = |code: i32| Reply::Error { code: ReturnCode(code), message: "disk full".into() };
        for version in [WireVersion::Json, WireVersion::Binary] {
            let refused = decode::<Message>(&encode_as(&finished(0, Some("disk full")), version));
            assert!(refused.as_ref().is_err_and(|e| e.contains("return code 0")), "{version:?}: {refused:?}");
            let refused = decode::<Reply>(&encode_as(&reply(0), version));
            assert!(refused.as_ref().is_err_and(|e| e.contains("return code 0")), "{version:?}: {refused:?}");
            // What our encoders write is read as it was written; an empty text is no error.
            for m in [finished(0, None), finished(0, Some("")), finished(666, Some("disk full"))] {
                assert_eq!(decode::<Message>(&encode_as(&m, version)), Ok(m.clone()));
            }
            assert_eq!(decode::<Reply>(&encode_as(&reply(666), version)), Ok(reply(666)));
        }
    }

    #[test]
    fn a_number_is_read_only_in_its_shortest_form() {
        let reply = Reply::Error { code: ReturnCode(666), message: String::new() };
        let bytes = encode(&reply);
        // Magic, version, kind, then 666 zigzag-encoded (1332) as a varint, then the empty text.
        assert_eq!(&bytes[3..], &[0xB4, 0x0A, 0x00]);
        assert_eq!(decode::<Reply>(&bytes), Ok(reply));
        let with_code = |code: &[u8]| [&bytes[..3], code, &[0x00][..]].concat();
        let over_long = decode::<Reply>(&with_code(&[0xB4, 0x8A, 0x00]));
        assert!(over_long.as_ref().is_err_and(|e| e.contains("shortest form")), "{over_long:?}");
        // Ten bytes whose last holds bits beyond the 64th: 1332 plus bits shifted out.
        let mut beyond = vec![0xB4, 0x8A];
        beyond.extend([0x80; 7]);
        beyond.push(0x02);
        let beyond = decode::<Reply>(&with_code(&beyond));
        assert!(beyond.as_ref().is_err_and(|e| e.contains("larger than 64 bits")), "{beyond:?}");
        // The numbers at either end still read: an access time of i64::MIN is u64::MAX once
        // zigzag-encoded (ten bytes, the last 0x01), and 0 is the single byte 0.
        for atime in [i64::MIN, i64::MAX, 0] {
            let Message::Copy(mut request) = examples().remove(0) else { unreachable!("the first is a copy") };
            request.atime = Some(atime);
            let message = Message::Copy(request);
            assert_eq!(decode::<Message>(&encode(&message)), Ok(message));
        }
    }

    #[test]
    fn a_known_pool_name_is_handed_out_again_and_any_other_read_as_sent() {
        let id = PnfsId::parse("1").expect("valid");
        let (sender, receiver): (PoolName, PoolName) = ("pool1".into(), "pool2".into());
        let known = [&sender, &receiver];
        let ping = Message::Ping { uuid: RequestId(7), source: "pool1".into(), pnfsid: id };
        let finished = |pool: &str| Message::CopyFinished {
            uuid: RequestId(8),
            pool: pool.into(),
            pnfsid: id,
            rc: ReturnCode::OK,
            error: None,
        };
        let Ok((Message::Ping { source, .. }, _)) = decode_naming(&encode(&ping), &known) else { panic!("a ping") };
        assert!(std::sync::Arc::ptr_eq(&source, &sender), "the sender's name is not copied");
        let Ok((Message::CopyFinished { pool, .. }, _)) = decode_naming(&encode(&finished("pool2")), &known) else {
            panic!("a copy-finished message")
        };
        assert!(std::sync::Arc::ptr_eq(&pool, &receiver), "the receiver's own name is not copied");
        // Other names, one of them starting like a known one, are read as they were sent.
        for other in ["pool3", "pool22", "pool"] {
            assert_eq!(decode_naming::<Message>(&encode(&finished(other)), &known).map(|m| m.0), Ok(finished(other)));
        }
        // Bytes that are no UTF-8 stay an error, known names or not.
        let mut garbled = encode(&finished("pool\u{e9}"));
        let at = garbled.windows(2).position(|w| w == [0xc3, 0xa9]).expect("the name is in the message");
        garbled[at] = 0xff;
        assert!(decode_naming::<Message>(&garbled, &known).is_err());
    }

    /// Version 1 writes access latency and retention policy in lower case and reads the
    /// upper-case spellings too (dCache's names), so a writer that follows either is read.
    #[test]
    fn latency_and_policy_are_written_in_lower_case_and_read_in_either() {
        use crate::replica::{AccessLatency, RetentionPolicy};
        let copy = |latency: &str, policy: &str| {
            format!(
                r#"{{"v":1,"body":{{"Copy":{{"uuid":1,"source":"pool1","attributes":{{"pnfsid":"0000000000000000000000A1","size":40,"storage_class":null,"cache_class":null,"access_latency":"{latency}","retention_policy":"{policy}","checksums":[]}},"state":"CACHED","sticky":[],"verify":false,"force_source_mode":false,"atime":null,"meta_only":false}}}}}}"#
            )
        };
        for (latency, policy) in [("nearline", "custodial"), ("NEARLINE", "CUSTODIAL")] {
            let Ok(Message::Copy(request)) = decode::<Message>(copy(latency, policy).as_bytes()) else {
                panic!("{latency} {policy} read")
            };
            assert_eq!(request.attributes.access_latency, Some(AccessLatency::Nearline));
            assert_eq!(request.attributes.retention_policy, Some(RetentionPolicy::Custodial));
            let written = String::from_utf8(encode_as(&Message::Copy(request), WireVersion::Json)).expect("utf-8");
            assert_eq!(written, copy("nearline", "custodial"));
        }
    }

    /// The examples of `docs/wire.md`: version 1 must keep reading and writing exactly these.
    #[test]
    fn version_1_is_what_the_wire_page_shows() {
        let id = PnfsId::parse("A1").expect("valid");
        let ping = Message::Ping { uuid: RequestId(4660), source: "pool1".into(), pnfsid: id };
        assert_eq!(
            String::from_utf8(encode_as(&ping, WireVersion::Json)).expect("utf-8"),
            r#"{"v":1,"body":{"Ping":{"uuid":4660,"source":"pool1","pnfsid":"0000000000000000000000A1"}}}"#
        );
        let cancel = Message::CancelJob { job: "rebalance".into(), forced: false, reason: "stopped".into() };
        assert_eq!(
            String::from_utf8(encode_as(&cancel, WireVersion::Json)).expect("utf-8"),
            r#"{"v":1,"body":{"CancelJob":{"job":"rebalance","forced":false,"reason":"stopped"}}}"#
        );
        let copy = r#"{"v":1,"body":{"Copy":{"uuid":4660,"source":"pool1","attributes":{"pnfsid":"0000000000000000000000A1","size":40,"storage_class":"atlas:default@osm","cache_class":null,"access_latency":null,"retention_policy":null,"checksums":[{"kind":"ADLER32","value":"0a0b0c0d"}]},"state":"CACHED","sticky":[{"owner":"PinManager-9","expire":-1}],"verify":true,"force_source_mode":false,"atime":1600000000000,"meta_only":false}}}"#;
        let Ok(Message::Copy(request)) = decode::<Message>(copy.as_bytes()) else { panic!("the page's copy request") };
        assert_eq!(String::from_utf8(encode_as(&Message::Copy(request), WireVersion::Json)).expect("utf-8"), copy);
        let error = r#"{"v":1,"body":{"Error":{"code":104,"message":"Pool is disabled"}}}"#;
        assert_eq!(
            decode::<Reply>(error.as_bytes()),
            Ok(Reply::Error { code: ReturnCode::POOL_DISABLED, message: "Pool is disabled".into() })
        );
    }

    /// A file size beyond a Java `long` is malformed in both wire versions: Java would read
    /// it as a negative size. The largest one is read as sent.
    #[test]
    fn a_file_size_beyond_a_java_long_is_refused() {
        for version in [WireVersion::Binary, WireVersion::Json] {
            for (size, fits) in [(crate::replica::MAX_FILE_SIZE, true), (1 << 63, false), (u64::MAX, false)] {
                let Message::Copy(mut request) = examples().remove(0) else { unreachable!("the first is a copy") };
                request.attributes.size = size;
                let decoded = decode::<Message>(&encode_as(&Message::Copy(request.clone()), version));
                match decoded {
                    Ok(Message::Copy(back)) if fits => assert_eq!(back, request),
                    Err(e) if !fits => assert!(e.contains(&format!("file size {size} is larger than")), "{e}"),
                    other => panic!("{version:?}, size {size}: {other:?}"),
                }
            }
        }
    }

    fn examples() -> Vec<Message> {
        let id = PnfsId::parse("A1").expect("valid");
        let long = PnfsId::parse(&"B".repeat(36)).expect("valid");
        let attributes = FileAttributes {
            pnfsid: id,
            size: 40,
            storage_class: Some("atlas:default@osm".into()),
            cache_class: None,
            access_latency: Some(crate::replica::AccessLatency::Nearline),
            retention_policy: Some(crate::replica::RetentionPolicy::Output),
            checksums: vec![crate::replica::Checksum { kind: "ADLER32".into(), value: "0a0b0c0d".into() }],
        };
        vec![
            Message::Copy(CopyRequest {
                uuid: RequestId(u128::MAX - 5),
                source: "pool1".into(),
                attributes,
                state: ReplicaState::Precious,
                sticky: vec![StickyRecord::new("PinManager-9", -1), StickyRecord::new("qos", 1_600_000_000_000)],
                verify: true,
                force_source_mode: false,
                atime: Some(-3),
                meta_only: true,
            }),
            Message::Ping { uuid: RequestId(0), source: "p\u{e9}ool \"2\"".into(), pnfsid: long },
            Message::Cancel { uuid: RequestId(4660), source: "pool1".into(), pnfsid: id, reason: None },
            Message::Cancel {
                uuid: RequestId(4660),
                source: "pool1".into(),
                pnfsid: id,
                reason: Some("shutdown".into()),
            },
            Message::CopyFinished {
                uuid: RequestId(1 << 100),
                pool: "pool1".into(),
                pnfsid: id,
                rc: ReturnCode::INTERNAL,
                error: Some("Checksum mismatch".into()),
            },
            Message::CancelJob { job: "rebalance".into(), forced: true, reason: String::new() },
        ]
    }

    #[test]
    fn both_versions_round_trip_every_message_and_reply() {
        let replies = [Reply::Ok, Reply::Error { code: ReturnCode(i32::MIN), message: "Pool is disabled".into() }];
        for version in [WireVersion::Json, WireVersion::Binary] {
            for m in examples() {
                assert_eq!(decode_versioned::<Message>(&encode_as(&m, version)), Ok((m, version)));
            }
            for r in &replies {
                assert_eq!(decode_versioned::<Reply>(&encode_as(r, version)), Ok((r.clone(), version)));
            }
        }
        assert_eq!(WireVersion::default(), WireVersion::Binary);
        assert_eq!(encode(&Reply::Ok), encode_as(&Reply::Ok, WireVersion::Binary));
    }

    /// The binary example of `docs/wire.md`, byte for byte.
    #[test]
    fn version_2_is_what_the_wire_page_shows() {
        let id = PnfsId::parse("A1").expect("valid");
        let ping = Message::Ping { uuid: RequestId(4660), source: "pool1".into(), pnfsid: id };
        let hex: String = encode(&ping).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "dc02020000000000000000000000000000123405706f6f6c310c0000000000000000000000a1");
        assert_eq!(encode(&Reply::Ok), [0xdc, 0x02, 0x10]);
    }

    #[test]
    fn broken_binary_is_refused_with_a_reason() {
        for m in examples() {
            let bytes = encode(&m);
            for end in 0..bytes.len() {
                assert!(decode::<Message>(&bytes[..end]).is_err(), "{m:?} cut at {end}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(decode::<Message>(&longer), Err("malformed message: 1 bytes after the end".into()));
        }
        assert_eq!(decode::<Message>(&[0xdc, 3, 1]), Err("unsupported message version 3".into()));
        assert_eq!(decode::<Message>(&encode(&Reply::Ok)), Err("malformed message: 16 is not a message kind".into()));
        assert_eq!(decode::<Reply>(&[0xdc, 2, 2]), Err("malformed message: 2 is not a reply kind".into()));
        // A list that claims more items than there are bytes is refused before allocating.
        let huge = [0xdc, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(decode::<Message>(&huge), Err("malformed message: a length exceeds the message".into()));
        assert!(decode::<Message>(&[0xdc, 2, 5, 1, 0xff, 0]).is_err(), "not UTF-8");
        assert!(decode::<Message>(&[0xdc, 2, 5, 1, b'j', 2, 0]).is_err(), "2 is not a boolean");
    }
}
