//! Messages between the migration modules of two pools (spec §5.7, §6) and the job-cancel
//! message other dCache services send. The host carries them as opaque bytes; the format is
//! ours (JSON through serde), versioned by the envelope.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::error::{Failure, ReturnCode};
use crate::pnfsid::PnfsId;
use crate::replica::{FileAttributes, ReplicaState, StickyRecord};

/// Identifies one copy request on the target (dCache's request UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u128);

impl fmt::Display for RequestId {
    /// UUID form: `8-4-4-4-12` lower-case hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(f, "{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
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
        source: String,
        /// The file (not checked by the target).
        pnfsid: PnfsId,
    },
    /// Abort `uuid` (§6.6).
    Cancel {
        /// The request.
        uuid: RequestId,
        /// The requesting pool.
        source: String,
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
        pool: String,
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
    pub source: String,
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

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    body: T,
}

const WIRE_VERSION: u32 = 1;

/// Encodes a message for the transport.
pub fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(&Envelope { v: WIRE_VERSION, body }).expect("messages always serialise")
}

/// Decodes bytes that another pool sent; anything malformed is an error, never a panic.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let envelope: Envelope<T> = serde_json::from_slice(bytes).map_err(|e| format!("malformed message: {e}"))?;
    if envelope.v != WIRE_VERSION {
        return Err(format!("unsupported message version {}", envelope.v));
    }
    Ok(envelope.body)
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

    /// The examples of `docs/wire.md`: version 1 must keep reading and writing exactly these.
    #[test]
    fn version_1_is_what_the_wire_page_shows() {
        let id = PnfsId::parse("A1").expect("valid");
        let ping = Message::Ping { uuid: RequestId(4660), source: "pool1".into(), pnfsid: id };
        assert_eq!(
            String::from_utf8(encode(&ping)).expect("utf-8"),
            r#"{"v":1,"body":{"Ping":{"uuid":4660,"source":"pool1","pnfsid":"0000000000000000000000A1"}}}"#
        );
        let cancel = Message::CancelJob { job: "rebalance".into(), forced: false, reason: "stopped".into() };
        assert_eq!(
            String::from_utf8(encode(&cancel)).expect("utf-8"),
            r#"{"v":1,"body":{"CancelJob":{"job":"rebalance","forced":false,"reason":"stopped"}}}"#
        );
        let copy = r#"{"v":1,"body":{"Copy":{"uuid":4660,"source":"pool1","attributes":{"pnfsid":"0000000000000000000000A1","size":40,"storage_class":"atlas:default@osm","cache_class":null,"access_latency":null,"retention_policy":null,"checksums":[{"kind":"ADLER32","value":"0a0b0c0d"}]},"state":"CACHED","sticky":[{"owner":"PinManager-9","expire":-1}],"verify":true,"force_source_mode":false,"atime":1600000000000,"meta_only":false}}}"#;
        let Ok(Message::Copy(request)) = decode::<Message>(copy.as_bytes()) else { panic!("the page's copy request") };
        assert_eq!(String::from_utf8(encode(&Message::Copy(request))).expect("utf-8"), copy);
        let error = r#"{"v":1,"body":{"Error":{"code":104,"message":"Pool is disabled"}}}"#;
        assert_eq!(
            decode::<Reply>(error.as_bytes()),
            Ok(Reply::Error { code: ReturnCode::POOL_DISABLED, message: "Pool is disabled".into() })
        );
    }
}
