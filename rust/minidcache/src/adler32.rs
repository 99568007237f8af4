//! ADLER32, dCache's default checksum (RFC 1950), computed while data streams through.

/// The largest prime below 2^16.
const MOD: u32 = 65_521;
/// The most bytes that can be summed before `b` may overflow a `u32` (zlib's NMAX).
const NMAX: usize = 5552;

/// A running ADLER32 checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Adler32::new()
    }
}

impl Adler32 {
    /// The checksum of no bytes (1).
    pub fn new() -> Adler32 {
        Adler32 { a: 1, b: 0 }
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let (mut a, mut b) = (self.a, self.b);
        // The modulo is taken once per NMAX bytes, not once per byte.
        for chunk in data.chunks(NMAX) {
            let mut quads = chunk.chunks_exact(4);
            for q in &mut quads {
                a += u32::from(q[0]);
                b += a;
                a += u32::from(q[1]);
                b += a;
                a += u32::from(q[2]);
                b += a;
                a += u32::from(q[3]);
                b += a;
            }
            for &byte in quads.remainder() {
                a += u32::from(byte);
                b += a;
            }
            a %= MOD;
            b %= MOD;
        }
        self.a = a;
        self.b = b;
    }

    /// The checksum so far.
    pub fn value(&self) -> u32 {
        (self.b << 16) | self.a
    }

    /// The checksum as dCache prints it: 8 lower-case hex digits.
    pub fn hex(&self) -> String {
        format!("{:08x}", self.value())
    }
}

/// The ADLER32 of `data`.
pub fn adler32(data: &[u8]) -> u32 {
    let mut sum = Adler32::new();
    sum.update(data);
    sum.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one modulo per byte.
    fn reference(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + u32::from(byte)) % MOD;
            b = (b + a) % MOD;
        }
        (b << 16) | a
    }

    #[test]
    fn matches_the_reference_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn streaming_in_pieces_equals_one_pass_over_long_runs_of_0xff() {
        // 0xff maximises the sums: the worst case for the deferred modulo.
        let data = vec![0xffu8; 3 * NMAX + 17];
        assert_eq!(adler32(&data), reference(&data));
        let mut sum = Adler32::new();
        for piece in data.chunks(1000) {
            sum.update(piece);
        }
        assert_eq!(sum.value(), reference(&data));
        assert_eq!(sum.hex(), format!("{:08x}", reference(&data)));
    }
}
