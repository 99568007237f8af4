//! The PNFS id: dCache's file identifier (spec §1.2).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A file identifier: 12 bytes (24 hex digits) or 18 bytes (36 hex digits).
///
/// Stored inline in 19 bytes so that a queue of millions of them stays compact.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PnfsId {
    len: u8,
    bytes: [u8; 18],
}

/// Why a string is not a PNFS id; the texts are dCache's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PnfsIdError {
    /// The empty string.
    Empty,
    /// Neither 24 nor 36 digits after padding.
    IllegalLength,
    /// A character that is not a hexadecimal digit.
    NotHex(char),
}

impl fmt::Display for PnfsIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PnfsIdError::Empty => f.write_str("Empty PnfsId"),
            PnfsIdError::IllegalLength => f.write_str("Illegal pnfsid string length"),
            PnfsIdError::NotHex(c) => write!(f, "Illegal pnfsid character: {c}"),
        }
    }
}

impl std::error::Error for PnfsIdError {}

impl PnfsId {
    /// Parses 1–24 or exactly 36 hex digits, case-insensitively; short forms are left-padded
    /// with `0` to 24 digits.
    pub fn parse(text: &str) -> Result<PnfsId, PnfsIdError> {
        match PnfsId::parse_full_length(text.as_bytes()) {
            Some(id) => Ok(id),
            None => PnfsId::parse_padded(text),
        }
    }

    /// Any text `parse` accepts, and dCache's message for any it does not.
    fn parse_padded(text: &str) -> Result<PnfsId, PnfsIdError> {
        if text.is_empty() {
            return Err(PnfsIdError::Empty);
        }
        // Bytes, not chars: every byte before the first non-hex one is ASCII, so that byte
        // starts a character (ids cross the bindings as text, once or twice per message).
        if let Some(at) = text.bytes().position(|b| !b.is_ascii_hexdigit()) {
            return Err(PnfsIdError::NotHex(text[at..].chars().next().expect("a character starts there")));
        }
        let digits = text.len();
        let padded = if digits <= 24 { 24 } else { digits };
        if padded != 24 && padded != 36 {
            return Err(PnfsIdError::IllegalLength);
        }
        // Digit `p` of the left-padded text, without building it (ids are parsed for every
        // message a pool receives).
        let pad = padded - digits;
        let text = text.as_bytes();
        let digit = |p: usize| if p < pad { 0 } else { HEX_VALUE[usize::from(text[p - pad])] };
        let mut bytes = [0u8; 18];
        for (i, byte) in bytes.iter_mut().enumerate().take(padded / 2) {
            *byte = (digit(2 * i) << 4) | digit(2 * i + 1);
        }
        Ok(PnfsId { len: (padded / 2) as u8, bytes })
    }

    /// The usual text, 24 or 36 hex digits, in one pass over it; `None` for anything else,
    /// which the general path then pads or rejects with dCache's message. Ids cross the
    /// bindings as text, several times for each file moved.
    fn parse_full_length(text: &[u8]) -> Option<PnfsId> {
        if text.len() != 24 && text.len() != 36 {
            return None;
        }
        let mut bytes = [0u8; 18];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let (high, low) = (HEX_VALUE[usize::from(pair[0])], HEX_VALUE[usize::from(pair[1])]);
            if (high | low) > 0x0F {
                return None;
            }
            *byte = (high << 4) | low;
        }
        Some(PnfsId { len: (text.len() / 2) as u8, bytes })
    }

    /// The canonical text (upper-case hex, 24 or 36 digits), without allocating.
    pub fn text(&self) -> PnfsIdText {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut text = [0u8; 36];
        for (pair, b) in text.chunks_exact_mut(2).zip(self.as_bytes()) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0F)];
        }
        PnfsIdText { len: 2 * self.len, text }
    }

    /// Builds an id from raw bytes (12 or 18 of them).
    pub fn from_bytes(raw: &[u8]) -> Result<PnfsId, PnfsIdError> {
        if raw.len() != 12 && raw.len() != 18 {
            return Err(PnfsIdError::IllegalLength);
        }
        let mut bytes = [0u8; 18];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(PnfsId { len: raw.len() as u8, bytes })
    }

    /// The decoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The value of each byte as a hex digit, 0xFF for a byte that is not one.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            digit @ b'0'..=b'9' => digit - b'0',
            digit @ b'a'..=b'f' => digit - b'a' + 10,
            digit @ b'A'..=b'F' => digit - b'A' + 10,
            _ => 0xFF,
        };
        b += 1;
    }
    table
};

/// An id's canonical text, held inline: the bindings hand ids to their hosts as text, and a
/// `String` for each was an allocation and a free.
#[derive(Clone, Copy)]
pub struct PnfsIdText {
    len: u8,
    text: [u8; 36],
}

impl PnfsIdText {
    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("hex digits are ASCII")
    }

    /// The text's bytes (ASCII hex digits), without checking them again.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text[..usize::from(self.len)]
    }
}

impl fmt::Display for PnfsId {
    /// Canonical form: upper-case hex, 24 or 36 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl fmt::Debug for PnfsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PnfsId({self})")
    }
}

impl FromStr for PnfsId {
    type Err = PnfsIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PnfsId::parse(s)
    }
}

impl Ord for PnfsId {
    /// dCache compares the bytes as Java's signed bytes (0x80–0xFF sort before 0x00–0x7F),
    /// shorter prefix first; it only matters as a tie-breaker when sorting a job's queue.
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.as_bytes().iter().map(|&b| b as i8);
        let b = other.as_bytes().iter().map(|&b| b as i8);
        a.cmp(b)
    }
}

impl PartialOrd for PnfsId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for PnfsId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PnfsId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PnfsId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_is_left_padded_to_24_digits() {
        let id = PnfsId::parse("0000a1b2c3d4e5f6").expect("valid");
        assert_eq!(id.to_string(), "000000000000A1B2C3D4E5F6");
    }

    #[test]
    fn thirty_six_digits_keep_their_length_and_print_upper_case() {
        let id = PnfsId::parse("000060d40698b4bf4be284666ed29cc826c7").expect("valid");
        assert_eq!(id.to_string(), "000060D40698B4BF4BE284666ED29CC826C7");
    }

    #[test]
    fn equality_is_on_decoded_bytes() {
        assert_eq!(PnfsId::parse("abc").expect("valid"), PnfsId::parse("000000000000000000000ABC").expect("valid"));
    }

    #[test]
    fn malformed_ids_are_rejected_with_dcache_texts() {
        assert_eq!(PnfsId::parse("").unwrap_err().to_string(), "Empty PnfsId");
        assert_eq!(PnfsId::parse(&"1".repeat(25)).unwrap_err().to_string(), "Illegal pnfsid string length");
        assert_eq!(PnfsId::parse(&"1".repeat(37)).unwrap_err().to_string(), "Illegal pnfsid string length");
        assert!(matches!(PnfsId::parse("12g4"), Err(PnfsIdError::NotHex('g'))));
        assert!(matches!(PnfsId::parse("12é4"), Err(PnfsIdError::NotHex('é'))), "a non-ASCII character is named whole");
        assert!(PnfsId::parse(" 12").is_err());
    }

    proptest::proptest! {
        /// The one-pass parse of full-length ids agrees with the general path on every text
        /// of 24 or 36 characters drawn from hex digits and a few bytes that are not.
        #[test]
        fn full_length_ids_parse_as_the_general_path_does(
            text in "[0-9a-fA-FgG/: é]{24}|[0-9a-fA-F]{36}|[0-9a-fA-F]{23}[^0-9a-fA-F]"
        ) {
            let general = PnfsId::parse_padded(&text);
            proptest::prop_assert_eq!(PnfsId::parse(&text), general.clone());
            if let Ok(id) = general {
                let canonical = id.text();
                proptest::prop_assert_eq!(canonical.as_str(), text.to_ascii_uppercase());
                proptest::prop_assert_eq!(id.to_string(), text.to_ascii_uppercase());
            }
        }
    }

    #[test]
    fn ordering_treats_bytes_as_signed() {
        let high = PnfsId::parse("800000000000000000000000").expect("valid");
        let low = PnfsId::parse("010000000000000000000000").expect("valid");
        assert!(high < low);
        let short = PnfsId::parse("010000000000000000000000").expect("valid");
        let long = PnfsId::parse("010000000000000000000000000000000000").expect("valid");
        assert!(short < long, "a shorter prefix sorts first");
    }

    #[test]
    fn serde_round_trips_through_the_canonical_text() {
        let id = PnfsId::parse("abc").expect("valid");
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(json, "\"000000000000000000000ABC\"");
        let back: PnfsId = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, id);
    }
}
