//! Version 1 of the wire format: one JSON object `{"v":1,"body":…}` through serde. Kept so
//! that pools still on a release that writes it can be upgraded one at a time.

use serde::{Deserialize, Serialize};

use super::Wire;

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    body: T,
}

pub(super) fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(&Envelope { v: VERSION, body }).expect("messages always serialise")
}

pub(super) fn decode<T: Wire>(bytes: &[u8]) -> Result<T, String> {
    let envelope: Envelope<T> = serde_json::from_slice(bytes).map_err(|e| format!("malformed message: {e}"))?;
    if envelope.v != VERSION {
        return Err(format!("unsupported message version {}", envelope.v));
    }
    envelope.body.check()?;
    Ok(envelope.body)
}
