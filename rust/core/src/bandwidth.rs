//! A job's bandwidth limit (beyond dCache, issue #13): a token bucket charged with each file's
//! size when its task starts, charged again for each further request for a new replica that
//! no target refused (the second copy of `-replicas=2`), and refunded when the file leaves with
//! no such request (its targets only updated the replicas they held). A file may overdraw the
//! bucket, so files larger than a second's worth still go; the next one waits until the debt
//! is paid. Over any stretch longer than a few files the job moves at most `rate` bytes per
//! second.

use crate::Millis;

/// How much the bucket holds: one second at the full rate, so an idle job may start a burst
/// of that size and no more.
const BURST: Millis = 1_000;

/// Bytes per second, with its tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: u64,
    tokens: f64,
    last: Millis,
}

impl TokenBucket {
    /// A full bucket for `rate` bytes per second (at least 1).
    pub fn new(rate: u64, now: Millis) -> TokenBucket {
        let rate = rate.max(1);
        TokenBucket { rate, tokens: rate as f64 * BURST as f64 / 1000.0, last: now }
    }

    /// The limit, bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Changes the limit; the tokens gathered so far stay (capped at the new burst).
    pub fn set_rate(&mut self, rate: u64, now: Millis) {
        self.refill(now);
        self.rate = rate.max(1);
        self.tokens = self.tokens.min(self.capacity());
    }

    fn capacity(&self) -> f64 {
        self.rate as f64 * BURST as f64 / 1000.0
    }

    fn refill(&mut self, now: Millis) {
        let elapsed = now.saturating_sub(self.last).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.capacity());
        self.last = now.max(self.last);
    }

    /// Charges `bytes` if the bucket is not in debt; otherwise the ms to wait until it is not.
    pub fn take(&mut self, bytes: u64, now: Millis) -> Result<(), Millis> {
        self.refill(now);
        if self.tokens < 0.0 {
            let wait = (-self.tokens / self.rate as f64 * 1000.0).ceil() as Millis;
            return Err(wait.max(1));
        }
        self.tokens -= bytes as f64;
        Ok(())
    }

    /// Charges `bytes` whatever the bucket holds: a copy request already sent is not held
    /// back; the next file waits for the debt instead.
    pub fn charge(&mut self, bytes: u64, now: Millis) {
        self.refill(now);
        self.tokens -= bytes as f64;
    }

    /// Gives back `bytes` charged for a copy no target took (no more than the bucket holds when
    /// full).
    pub fn refund(&mut self, bytes: u64, now: Millis) {
        self.refill(now);
        self.tokens = (self.tokens + bytes as f64).min(self.capacity());
    }
}

/// Parses `10M`, `512k`, `1G`, `2000` (bytes per second; K, M, G are powers of 1024).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_uppercase()),
        _ => (text, ' '),
    };
    let factor: u64 = match unit {
        ' ' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        _ => return Err(format!("Invalid bandwidth: {text} (bytes per second, with K, M or G)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("Invalid bandwidth: {text} (bytes per second, with K, M or G)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_binary_suffixes() {
        assert_eq!(parse_rate("2000"), Ok(2000));
        assert_eq!(parse_rate("10M"), Ok(10 << 20));
        assert_eq!(parse_rate("512k"), Ok(512 << 10));
        assert_eq!(parse_rate("1G"), Ok(1 << 30));
        assert!(parse_rate("10X").is_err());
        assert!(parse_rate("M").is_err());
        assert!(parse_rate("-5").is_err());
    }

    #[test]
    fn the_bucket_holds_the_rate_over_time() {
        let mut b = TokenBucket::new(1000, 0);
        let mut now = 0;
        let mut sent = 0u64;
        // Files of 300 bytes, started as soon as the bucket allows, for 60 s.
        while now < 60_000 {
            match b.take(300, now) {
                Ok(()) => sent += 300,
                Err(wait) => now += wait,
            }
        }
        // 60 s at 1000 B/s plus the initial second of burst and one file of overdraft.
        assert!((60_000..=61_300).contains(&sent), "{sent}");
    }

    #[test]
    fn a_charge_overdraws_and_a_refund_pays_the_debt_back_up_to_a_full_bucket() {
        let mut b = TokenBucket::new(1000, 0);
        assert_eq!(b.take(1000, 0), Ok(()));
        b.charge(3000, 0);
        assert_eq!(b.take(1, 0), Err(3000));
        b.refund(3000, 0);
        assert_eq!(b.take(1000, 0), Ok(()), "the debt is paid back");
        b.refund(1_000_000, 0);
        assert_eq!(b.take(1001, 0), Ok(()));
        assert_eq!(b.take(1, 0), Err(1), "a refund fills the bucket no further than one second's worth");
    }

    #[test]
    fn a_large_file_overdraws_and_the_next_waits() {
        let mut b = TokenBucket::new(1000, 0);
        assert_eq!(b.take(5000, 0), Ok(()));
        assert_eq!(b.take(1, 0), Err(4000));
        assert_eq!(b.take(1, 4000), Ok(()));
    }
}
