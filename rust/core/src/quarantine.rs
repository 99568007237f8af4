//! Files a job stopped retrying (beyond dCache, issue #13). dCache retries a failing file for
//! ever (#1983: one bad file was retried 23 141 times); with `-max-attempts=N` a file that
//! failed N times in a row waits here, with its last error, until `migration retry`.

use std::collections::BTreeMap;

use serde::Serialize;

use rustc_hash::FxHashMap;

use crate::error::ReturnCode;
use crate::pnfsid::PnfsId;

/// A file the job no longer retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    /// Its size, as queued.
    #[serde(skip)]
    pub size: u64,
    /// Attempts that failed.
    pub attempts: u32,
    /// dCache's return code of the last failure.
    pub rc: ReturnCode,
    /// The last error.
    pub error: String,
}

/// Failure counts of a job's files, and its quarantined files.
#[derive(Debug, Default)]
pub struct Quarantine {
    /// Failed attempts of files that are queued or running again.
    failures: FxHashMap<PnfsId, u32>,
    files: BTreeMap<PnfsId, Quarantined>,
}

impl Quarantine {
    /// A transient failure of `pnfsid`; `true` when it reached `max_attempts` (0: no limit)
    /// and was quarantined rather than retried.
    pub fn failed(&mut self, pnfsid: PnfsId, size: u64, rc: ReturnCode, error: &str, max_attempts: u32) -> bool {
        if max_attempts == 0 {
            return false;
        }
        let attempts = self.failures.entry(pnfsid).or_insert(0);
        *attempts += 1;
        if *attempts < max_attempts {
            return false;
        }
        let attempts = self.failures.remove(&pnfsid).unwrap_or(max_attempts);
        self.files.insert(pnfsid, Quarantined { size, attempts, rc, error: error.to_string() });
        true
    }

    /// The file was copied, or left the job: its count starts over.
    pub fn forget(&mut self, pnfsid: &PnfsId) {
        self.failures.remove(pnfsid);
        self.files.remove(pnfsid);
    }

    /// Takes every quarantined file out, for another round of attempts.
    pub fn release_all(&mut self) -> Vec<(PnfsId, u64)> {
        std::mem::take(&mut self.files).into_iter().map(|(id, q)| (id, q.size)).collect()
    }

    /// The quarantined files, by id.
    pub fn files(&self) -> impl Iterator<Item = (&PnfsId, &Quarantined)> {
        self.files.iter()
    }

    /// Whether `pnfsid` is quarantined.
    pub fn holds(&self, pnfsid: &PnfsId) -> bool {
        self.files.contains_key(pnfsid)
    }

    /// Number of quarantined files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is quarantined.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_quarantined_at_its_nth_failure_and_forgotten_on_success() {
        let a = PnfsId::parse("A").expect("valid");
        let b = PnfsId::parse("B").expect("valid");
        let mut q = Quarantine::default();
        assert!(!q.failed(a, 10, ReturnCode::TIMEOUT, "t1", 3));
        assert!(!q.failed(a, 10, ReturnCode::TIMEOUT, "t2", 3));
        assert!(!q.failed(b, 20, ReturnCode::TIMEOUT, "x", 3));
        q.forget(&b);
        assert!(!q.failed(b, 20, ReturnCode::TIMEOUT, "x", 3), "B starts over after success");
        assert!(q.failed(a, 10, ReturnCode::LOCKED, "busy", 3));
        assert_eq!(q.len(), 1);
        let (id, entry) = q.files().next().expect("one");
        assert_eq!((*id, entry.attempts, entry.rc, entry.error.as_str()), (a, 3, ReturnCode::LOCKED, "busy"));
        assert_eq!(q.release_all(), vec![(a, 10)]);
        assert!(q.is_empty());
        assert!(!q.failed(a, 10, ReturnCode::LOCKED, "busy", 3), "released files start over");
    }

    #[test]
    fn no_limit_means_no_quarantine() {
        let a = PnfsId::parse("A").expect("valid");
        let mut q = Quarantine::default();
        assert!((0..10_000).all(|_| !q.failed(a, 1, ReturnCode::TIMEOUT, "t", 0)));
    }
}
