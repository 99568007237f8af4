//! A small seeded pseudo-random number generator.
//!
//! We write it ourselves to keep the dependency set small and to make every
//! simulation reproducible from a single `u64` seed. The stream is
//! xoshiro256** (Blackman & Vigna), seeded through SplitMix64 so that any
//! seed, including 0, yields a well-mixed non-zero state. It is not
//! cryptographically secure and must not be used for secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// One step of SplitMix64: advances `state` and returns the mixed output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A xoshiro256** generator; the same seed always gives the same stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn seeded(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        // SplitMix64 is a bijection on its counter, so four consecutive outputs
        // cannot all be zero; xoshiro's only bad state is unreachable.
        Rng { s }
    }

    /// A generator seeded from the clock and the process's hash keys, for
    /// production use where reproducibility is not wanted.
    pub fn from_entropy() -> Rng {
        // RandomState is keyed from the OS's randomness once per thread and
        // perturbed per instance, so this needs no extra dependency.
        let mut hasher = RandomState::new().build_hasher();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        hasher.write_u128(nanos);
        Rng::seeded(hasher.finish())
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform `f64` in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits scaled by 2^-53: every value is exactly representable
        // and 1.0 itself can never come out.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` without modulo bias; `0` when `n == 0`
    /// (callers index with it only after checking for emptiness).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let n = n as u64;
        // Lemire's multiply-and-reject: the high word of x*n is uniform once
        // the few low words that would over-represent some results are rejected.
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        // The high word is < n, and n came from a usize.
        usize::try_from((m >> 64) as u64).expect("value below n fits in usize")
    }

    /// Shuffles `items` uniformly in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// 16 random bytes with the RFC 4122 version-4 and variant bits set.
    pub fn uuid(&mut self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        bytes[6] = (bytes[6] & 0x0F) | 0x40;
        bytes[8] = (bytes[8] & 0x3F) | 0x80;
        bytes
    }

    /// A fresh v4 UUID in the canonical lower-case hyphenated form.
    pub fn uuid_string(&mut self) -> String {
        format_uuid(&self.uuid())
    }
}

/// Formats 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lower case).
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_output_for_seed_zero() {
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut state), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn same_seed_gives_same_stream() {
        let mut a = Rng::seeded(42);
        let mut b = Rng::seeded(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let mut a = Rng::seeded(1);
        let mut b = Rng::seeded(2);
        let same = (0..100).filter(|_| a.next_u64() == b.next_u64()).count();
        assert_eq!(same, 0);
    }

    #[test]
    fn seed_zero_is_not_degenerate() {
        let mut r = Rng::seeded(0);
        let values: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert!(values.iter().all(|&v| v != 0));
    }

    #[test]
    fn next_f64_stays_in_unit_interval_and_has_mean_one_half() {
        let mut r = Rng::seeded(7);
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        // Standard error of the mean is sqrt(1/12/n) ≈ 0.0009; allow ~5.5 sigma.
        assert!((sum / n as f64 - 0.5).abs() < 0.005);
    }

    #[test]
    fn below_zero_and_one_return_zero() {
        let mut r = Rng::seeded(3);
        assert_eq!(r.below(0), 0);
        for _ in 0..100 {
            assert_eq!(r.below(1), 0);
        }
    }

    #[test]
    fn below_is_uniform_by_chi_square() {
        let mut r = Rng::seeded(11);
        let k = 10;
        let n = 100_000;
        let mut counts = vec![0u64; k];
        for _ in 0..n {
            counts[r.below(k)] += 1;
        }
        let expected = n as f64 / k as f64;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
        // Critical value of chi-square with 9 degrees of freedom at p = 0.001.
        assert!(chi2 < 27.877, "chi2 = {chi2}, counts = {counts:?}");
    }

    #[test]
    fn below_handles_huge_bounds() {
        let mut r = Rng::seeded(5);
        for _ in 0..1000 {
            assert!(r.below(usize::MAX) < usize::MAX);
            assert!(r.below(usize::MAX / 2 + 1) <= usize::MAX / 2);
        }
    }

    #[test]
    fn shuffle_keeps_elements() {
        let mut r = Rng::seeded(9);
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
        r.shuffle(&mut Vec::<u32>::new());
    }

    #[test]
    fn uuid_has_version_four_and_rfc_variant() {
        let mut r = Rng::seeded(13);
        for _ in 0..100 {
            let s = r.uuid_string();
            assert_eq!(s.len(), 36);
            let parts: Vec<&str> = s.split('-').collect();
            assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
            assert!(s.chars().all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f')));
            assert!(parts[2].starts_with('4'));
            assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        }
    }

    #[test]
    fn format_uuid_is_canonical() {
        let bytes: [u8; 16] = core::array::from_fn(|i| i as u8 * 0x11);
        assert_eq!(format_uuid(&bytes), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn from_entropy_differs_between_calls() {
        let mut a = Rng::from_entropy();
        let mut b = Rng::from_entropy();
        assert_ne!((a.next_u64(), a.next_u64()), (b.next_u64(), b.next_u64()));
    }
}
