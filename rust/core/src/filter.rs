//! Replica filters: which replicas of the pool a job selects (spec §7).

use std::fmt;

use crate::Millis;
use crate::pnfsid::PnfsId;
use crate::replica::{AccessLatency, ReplicaEntry, ReplicaState, RetentionPolicy};

/// An inclusive range of `i64` (`n`, `n..m`, `n..`, `..m`, `..`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Lower bound, if any.
    pub min: Option<i64>,
    /// Upper bound, if any.
    pub max: Option<i64>,
}

impl Range {
    /// Parses dCache's range syntax; the error texts are Java's (§7.1).
    pub fn parse(text: &str) -> Result<Range, String> {
        let long = |part: &str| -> Result<i64, String> {
            let digits = part.strip_prefix('+').unwrap_or(part);
            // Java's Long.parseLong: one optional sign, then at least one decimal digit.
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            let signs_ok = !(part.starts_with('+') && digits.starts_with('-'));
            let valid = signs_ok && !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit());
            if !valid {
                return Err(format!("For input string: \"{part}\""));
            }
            digits.parse::<i64>().map_err(|_| format!("For input string: \"{part}\""))
        };
        match text.split_once("..") {
            None => {
                let n = long(text)?;
                Ok(Range { min: Some(n), max: Some(n) })
            }
            Some((lo, hi)) => {
                let min = if lo.is_empty() { None } else { Some(long(lo)?) };
                let max = if hi.is_empty() { None } else { Some(long(hi)?) };
                if let (Some(n), Some(m)) = (min, max)
                    && n > m
                {
                    return Err(format!("Invalid range: [{n}..{m}]"));
                }
                Ok(Range { min, max })
            }
        }
    }

    /// Whether `x` lies in the range.
    pub fn contains(&self, x: i64) -> bool {
        self.min.is_none_or(|n| x >= n) && self.max.is_none_or(|m| x <= m)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(n), Some(m)) if n == m => write!(f, "{n}"),
            (n, m) => {
                if let Some(n) = n {
                    write!(f, "{n}")?;
                }
                f.write_str("..")?;
                if let Some(m) = m {
                    write!(f, "{m}")?;
                }
                Ok(())
            }
        }
    }
}

/// The `-sticky` filter: bare (`-sticky`) or a list of required (`o`) and forbidden (`-o`)
/// owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyFilter {
    /// `-sticky` alone: at least one record of any owner.
    Any,
    /// Owner lists.
    Owners {
        /// Owners that must have a record.
        required: Vec<String>,
        /// Owners that must not.
        forbidden: Vec<String>,
    },
}

/// All filters of a job; a replica is selected iff it passes every one given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaFilter {
    /// `-state`: `None` means cached or precious.
    pub state: Option<ReplicaState>,
    /// `-storage`: exact storage class.
    pub storage_class: Option<String>,
    /// `-cache`: exact cache class; `Some("")` means "no cache class".
    pub cache_class: Option<String>,
    /// `-pnfsid`: only these files (sorted for binary search).
    pub pnfsids: Option<Vec<PnfsId>>,
    /// `-sticky`.
    pub sticky: Option<StickyFilter>,
    /// `-size` in bytes.
    pub size: Option<Range>,
    /// `-accessed`: seconds since the last access.
    pub accessed: Option<Range>,
    /// `-al`.
    pub access_latency: Option<AccessLatency>,
    /// `-rp`.
    pub retention_policy: Option<RetentionPolicy>,
}

impl ReplicaFilter {
    /// Sets the `-pnfsid` list, keeping it sorted for lookups.
    pub fn with_pnfsids(mut self, mut ids: Vec<PnfsId>) -> Self {
        ids.sort();
        ids.dedup();
        self.pnfsids = Some(ids);
        self
    }

    /// Whether `entry` passes every filter at time `now` (ms since the epoch).
    pub fn matches(&self, entry: &ReplicaEntry, now: Millis) -> bool {
        let state_ok = match self.state {
            None => entry.state.is_cached_or_precious(),
            Some(s) => entry.state == s,
        };
        state_ok
            // dCache fails with an internal error on a missing storage class (R14); we say
            // "no match".
            && self.storage_class.as_deref().is_none_or(|sc| entry.storage_class.as_deref() == Some(sc))
            && self.cache_class.as_deref().is_none_or(|cc| {
                entry.cache_class.as_deref().unwrap_or("") == cc
            })
            && self.pnfsids.as_ref().is_none_or(|ids| ids.binary_search(&entry.pnfsid).is_ok())
            && self.sticky.as_ref().is_none_or(|s| sticky_matches(s, entry))
            && self.size.is_none_or(|r| r.contains(i64::try_from(entry.size).unwrap_or(i64::MAX)))
            && self.accessed.is_none_or(|r| {
                // Truncation toward zero, like Java's long division.
                r.contains(now.saturating_sub(entry.last_access) / 1000)
            })
            && self.access_latency.is_none_or(|al| entry.access_latency == Some(al))
            && self.retention_policy.is_none_or(|rp| entry.retention_policy == Some(rp))
    }
}

fn sticky_matches(filter: &StickyFilter, entry: &ReplicaEntry) -> bool {
    match filter {
        StickyFilter::Any => !entry.sticky.is_empty(),
        StickyFilter::Owners { required, forbidden } => {
            let has = |o: &String| entry.sticky.iter().any(|r| &r.owner == o);
            required.iter().all(has) && !forbidden.iter().any(has)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::StickyRecord;

    fn entry(state: ReplicaState) -> ReplicaEntry {
        ReplicaEntry::new(PnfsId::parse("1").expect("valid"), state, 40, 0)
    }

    #[test]
    fn range_syntax_follows_dcache() {
        assert_eq!(Range::parse("5"), Ok(Range { min: Some(5), max: Some(5) }));
        assert_eq!(Range::parse(".."), Ok(Range { min: None, max: None }));
        assert_eq!(Range::parse("..7"), Ok(Range { min: None, max: Some(7) }));
        assert_eq!(Range::parse("-3.."), Ok(Range { min: Some(-3), max: None }));
        assert_eq!(Range::parse("+3..4"), Ok(Range { min: Some(3), max: Some(4) }));
    }

    #[test]
    fn range_errors_use_java_texts() {
        assert_eq!(Range::parse("1..2..3"), Err("For input string: \"2..3\"".into()));
        assert_eq!(Range::parse(""), Err("For input string: \"\"".into()));
        assert_eq!(Range::parse("5..1"), Err("Invalid range: [5..1]".into()));
        assert_eq!(Range::parse("1k"), Err("For input string: \"1k\"".into()));
        assert_eq!(Range::parse("+-1"), Err("For input string: \"+-1\"".into()));
    }

    #[test]
    fn default_state_filter_selects_cached_and_precious_only() {
        let f = ReplicaFilter::default();
        assert!(f.matches(&entry(ReplicaState::Cached), 0));
        assert!(f.matches(&entry(ReplicaState::Precious), 0));
        assert!(!f.matches(&entry(ReplicaState::FromClient), 0));
        assert!(!f.matches(&entry(ReplicaState::Broken), 0));
    }

    #[test]
    fn missing_storage_class_does_not_match_and_missing_cache_class_is_empty() {
        let e = entry(ReplicaState::Cached);
        let storage = ReplicaFilter { storage_class: Some("a:b".into()), ..Default::default() };
        assert!(!storage.matches(&e, 0));
        let no_cache = ReplicaFilter { cache_class: Some(String::new()), ..Default::default() };
        assert!(no_cache.matches(&e, 0));
        let cache = ReplicaFilter { cache_class: Some("x".into()), ..Default::default() };
        assert!(!cache.matches(&e, 0));
    }

    #[test]
    fn sticky_filter_requires_and_forbids_owners() {
        let mut e = entry(ReplicaState::Cached);
        e.sticky.push(StickyRecord::new("foo", -1));
        let any = ReplicaFilter { sticky: Some(StickyFilter::Any), ..Default::default() };
        assert!(any.matches(&e, 0));
        let not_bar = ReplicaFilter {
            sticky: Some(StickyFilter::Owners { required: vec![], forbidden: vec!["bar".into()] }),
            ..Default::default()
        };
        assert!(not_bar.matches(&e, 0));
        assert!(not_bar.matches(&entry(ReplicaState::Cached), 0), "need not be sticky");
        let not_foo = ReplicaFilter {
            sticky: Some(StickyFilter::Owners { required: vec![], forbidden: vec!["foo".into()] }),
            ..Default::default()
        };
        assert!(!not_foo.matches(&e, 0));
    }

    #[test]
    fn accessed_is_whole_seconds_since_last_access() {
        let mut e = entry(ReplicaState::Cached);
        e.last_access = 1_000;
        let f = ReplicaFilter { accessed: Range::parse("0..2").ok(), ..Default::default() };
        assert!(f.matches(&e, 3_999));
        assert!(!f.matches(&e, 4_000));
    }

    #[test]
    fn pnfsid_list_compares_canonically() {
        let f = ReplicaFilter::default().with_pnfsids(vec![PnfsId::parse("000000000000000000000001").expect("valid")]);
        assert!(f.matches(&entry(ReplicaState::Cached), 0));
    }
}
