//! The typed messages of `org.dcache.migration.messages`: conversions between the module's
//! wire format (the bytes a `CellTransport` carries, defined by `migration_core::message`) and
//! the codec layout the Java classes are read from and written in ([`Writer::message`],
//! [`Writer::reply`]). The format itself stays the core's; this only re-lays its values out.
//! Anything malformed is an `InvalidArgument` error, never a panic.

use migration_core::message::{self, Message, Reply};
use migration_core::{Error, ErrorKind};

use crate::codec::{Reader, Writer};
use crate::error::NativeResult;

fn malformed(e: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, e)
}

/// Wire bytes of a message to its codec layout.
pub fn message_to_codec(wire: &[u8]) -> NativeResult<Vec<u8>> {
    let m: Message = message::decode(wire).map_err(malformed)?;
    let mut w = Writer::new();
    w.message(&m);
    Ok(w.into_bytes())
}

/// A message in codec layout to wire bytes.
pub fn message_from_codec(codec: &[u8]) -> NativeResult<Vec<u8>> {
    let mut r = Reader::new(codec);
    let m = r.message()?;
    r.finish()?;
    // A failure's text with the success code: sent, its source would count the copy, and a
    // move delete its only good replica (the C ABI refuses it too).
    if let Some(text) = m.failure_text_with_success_code() {
        let text = format!("the return code is 0 (success) but an error is set ({text})");
        return Err(malformed(text).into());
    }
    Ok(message::encode(&m))
}

/// Wire bytes of a reply to its codec layout.
pub fn reply_to_codec(wire: &[u8]) -> NativeResult<Vec<u8>> {
    let reply: Reply = message::decode(wire).map_err(malformed)?;
    let mut w = Writer::new();
    w.reply(&reply);
    Ok(w.into_bytes())
}

/// A reply in codec layout to wire bytes.
pub fn reply_from_codec(codec: &[u8]) -> NativeResult<Vec<u8>> {
    let mut r = Reader::new(codec);
    let reply = r.reply()?;
    r.finish()?;
    Ok(message::encode(&reply))
}

#[cfg(test)]
mod tests {
    use migration_core::PnfsId;
    use migration_core::error::ReturnCode;
    use migration_core::message::{CopyRequest, RequestId};
    use migration_core::replica::{ReplicaEntry, ReplicaState, StickyRecord};

    use super::*;
    use crate::error::NativeError;

    fn pnfsid() -> PnfsId {
        PnfsId::parse("0000AB").expect("valid")
    }

    fn every_kind() -> Vec<Message> {
        let attributes = ReplicaEntry::new(pnfsid(), ReplicaState::Precious, 40, 1234).attributes();
        vec![
            Message::Copy(CopyRequest {
                uuid: RequestId(u128::MAX - 7),
                source: "pool1".into(),
                attributes,
                state: ReplicaState::Cached,
                sticky: vec![StickyRecord::new("foo", -1)],
                verify: true,
                force_source_mode: false,
                atime: Some(99),
                meta_only: true,
            }),
            Message::Ping { uuid: RequestId(1), source: "pool1".into(), pnfsid: pnfsid() },
            Message::Cancel { uuid: RequestId(2), source: "pool1".into(), pnfsid: pnfsid(), reason: None },
            Message::Cancel { uuid: RequestId(3), source: "pool1".into(), pnfsid: pnfsid(), reason: Some("r".into()) },
            Message::CopyFinished {
                uuid: RequestId(4),
                pool: "pool1".into(),
                pnfsid: pnfsid(),
                rc: ReturnCode(10004),
                error: Some("Checksum mismatch".into()),
            },
            Message::CancelJob { job: "7".into(), forced: true, reason: "rebalance".into() },
        ]
    }

    #[test]
    fn every_message_kind_survives_the_codec_layout() {
        for m in every_kind() {
            let codec = message_to_codec(&message::encode(&m)).expect("decodes");
            let wire = message_from_codec(&codec).expect("encodes");
            assert_eq!(message::decode::<Message>(&wire), Ok(m));
        }
    }

    #[test]
    fn replies_survive_the_codec_layout_and_code_zero_is_success() {
        for r in [Reply::Ok, Reply::Error { code: ReturnCode(104), message: "Pool is disabled".into() }] {
            let wire = reply_from_codec(&reply_to_codec(&message::encode(&r)).expect("decodes")).expect("encodes");
            assert_eq!(message::decode::<Reply>(&wire), Ok(r));
        }
        let mut w = Writer::new();
        w.reply(&Reply::Error { code: ReturnCode(0), message: "ignored".into() });
        let wire = reply_from_codec(&w.into_bytes()).expect("encodes");
        assert_eq!(message::decode::<Reply>(&wire), Ok(Reply::Ok));
    }

    #[test]
    fn malformed_input_is_an_invalid_argument() {
        let invalid =
            |r: NativeResult<Vec<u8>>| matches!(r, Err(NativeError::Module(e)) if e.kind == ErrorKind::InvalidArgument);
        assert!(invalid(message_to_codec(b"garbage")));
        assert!(invalid(message_to_codec(&message::encode(&Reply::Ok))));
        assert!(invalid(reply_to_codec(b"{\"v\":2,\"body\":\"Ok\"}")));
        assert!(invalid(message_from_codec(&[0, 0, 0, 9])));
        assert!(invalid(message_from_codec(&[])));
        let mut w = Writer::new();
        w.message(&every_kind()[1]);
        let mut bytes = w.into_bytes();
        bytes.push(0);
        assert!(invalid(message_from_codec(&bytes)), "trailing bytes");
        assert!(invalid(reply_from_codec(&[0, 0, 0])));
    }
}
