//! A dry run (beyond dCache, issue #13): what a `migration copy|move|cache` would do, without
//! doing it. The job scans, waits for its pool lists and asks the namespace where each file
//! already is, exactly as its tasks would, and then copies nothing and changes nothing.

use std::fmt::Write as _;

use crate::Millis;
use crate::progress;

/// The bytes per second an estimate assumes when no job of the pool has moved anything lately.
pub const ASSUMED_RATE: f64 = 100.0 * 1024.0 * 1024.0;

/// What the dry run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Files that match the filters.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files with enough copies on the targets already: updated, not copied.
    pub present: u64,
    /// Files that would be copied.
    pub copy_files: u64,
    /// Their bytes.
    pub copy_bytes: u64,
    /// Copies to make (more than `copy_files` with `-replicas`).
    pub copies: u64,
    /// The bytes those copies move: each file's size once per copy, what a bandwidth limit
    /// is charged.
    pub copies_bytes: u64,
    /// Files with fewer targets that lack a copy than `-replicas` asks for: given what there
    /// is room for, or waiting for more targets (`-target-deficit-mode`).
    pub short: u64,
    /// Files neither cached nor precious when read: a task would drop them.
    pub other_state: u64,
    /// Files a `-meta-only` job skips: too few copies on the targets to update.
    pub not_updatable: u64,
    /// Files the namespace no longer knows (they would be dropped).
    pub deleted: u64,
    /// Files whose locations could not be asked (the namespace failed).
    pub unknown: u64,
}

impl Plan {
    /// A matching file with `existing` copies on the job's targets and `free_targets`
    /// targets without one, `replicas` wanted; a `meta_only` job only updates copies.
    pub fn located(&mut self, size: u64, existing: usize, free_targets: usize, replicas: usize, meta_only: bool) {
        self.files += 1;
        self.bytes += size;
        let needed = replicas.saturating_sub(existing);
        if needed == 0 {
            self.present += 1;
        } else if meta_only {
            self.not_updatable += 1;
        } else {
            let copies = needed.min(free_targets) as u64;
            if copies < needed as u64 {
                self.short += 1;
            }
            if copies > 0 {
                self.copy_files += 1;
                self.copy_bytes += size;
                self.copies += copies;
                self.copies_bytes = self.copies_bytes.saturating_add(size.saturating_mul(copies));
            }
        }
    }

    /// A matching file that is neither cached nor precious any more.
    pub fn in_other_state(&mut self, size: u64) {
        self.files += 1;
        self.bytes += size;
        self.other_state += 1;
    }

    /// The report `migration info` prints; `shares` are the targets' selection shares, `rate`
    /// the pool's recent bytes per second, if any, and `limit` the job's bandwidth limit.
    pub fn report(&self, shares: &[(String, f64)], rate: Option<f64>, limit: Option<f64>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Dry run    : nothing was copied or changed");
        let _ = writeln!(out, "Matching   : {} files; {} bytes", self.files, self.bytes);
        let _ =
            writeln!(out, "On targets : {} files already have their copies there (updated, not copied)", self.present);
        let _ =
            writeln!(out, "To copy    : {} files; {} bytes; {} copies", self.copy_files, self.copy_bytes, self.copies);
        if self.short > 0 {
            let _ = writeln!(
                out,
                "Short      : {} files have fewer targets without a copy than -replicas asks",
                self.short
            );
        }
        if self.deleted + self.unknown + self.other_state + self.not_updatable > 0 {
            let mut skipped = format!("{} deleted, {} not located", self.deleted, self.unknown);
            if self.other_state > 0 {
                let _ = write!(skipped, ", {} neither cached nor precious", self.other_state);
            }
            if self.not_updatable > 0 {
                let _ = write!(skipped, ", {} with too few copies to update (-meta-only)", self.not_updatable);
            }
            let _ = writeln!(out, "Skipped    : {skipped}");
        }
        let spread: Vec<String> = shares
            .iter()
            .filter(|(_, share)| *share > 0.0)
            .map(|(name, share)| format!("{name} ~{:.0} ({:.1}%)", self.copies as f64 * share, share * 100.0))
            .collect();
        let _ = writeln!(
            out,
            "Spread     : {}",
            if spread.is_empty() { "no usable target".to_string() } else { spread.join(", ") }
        );
        // The pool's rate is of files moved; the limit is of bytes moved, each copy's. The
        // estimate is the slower of the two.
        let by_pace = match rate {
            Some(r) if r > 0.0 => (self.copy_bytes as f64 / r, r, "this pool's recent rate"),
            _ => (self.copy_bytes as f64 / ASSUMED_RATE, ASSUMED_RATE, "assumed: no recent transfers"),
        };
        let by_limit = limit.map(|l| (self.copies_bytes as f64 / l, l, "the job's bandwidth limit"));
        let (seconds, rate, source) = match by_limit {
            Some(held) if held.0 > by_pace.0 => held,
            _ => by_pace,
        };
        let eta = (seconds * 1000.0).round() as Millis;
        let _ = writeln!(out, "Estimate   : {} at {rate:.0} bytes/s ({source})", progress::duration(eta));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_counts_copies_spread_and_duration() {
        let mut p = Plan::default();
        p.located(100, 0, 2, 2, false); // two copies to make
        p.located(50, 2, 0, 2, false); // enough there
        p.located(30, 1, 1, 2, false); // one more
        assert_eq!((p.files, p.bytes, p.present, p.copy_files, p.copy_bytes, p.copies), (3, 180, 1, 2, 130, 3));
        let shares = [("pool2".into(), 0.5), ("pool3".into(), 0.5), ("full".into(), 0.0)];
        let text = p.report(&shares, Some(13.0), None);
        assert!(text.contains("Spread     : pool2 ~2 (50.0%), pool3 ~2 (50.0%)\n"), "{text}");
        assert!(text.contains("Estimate   : 10s at 13 bytes/s (this pool's recent rate)\n"), "{text}");
        // A bandwidth limit below the rate is what the job would run at, and it is charged
        // every copy's bytes: 100 twice and 30 once.
        assert_eq!(p.copies_bytes, 230);
        let text = p.report(&shares, Some(13.0), Some(2.0));
        assert!(text.contains("Estimate   : 1m55s at 2 bytes/s (the job's bandwidth limit)\n"), "{text}");
        let text = p.report(&shares, None, Some(2.0));
        assert!(text.contains("(the job's bandwidth limit)"), "{text}");
        assert!(p.report(&shares, Some(13.0), Some(100.0)).contains("(this pool's recent rate)"));
        assert!(!text.contains("Short") && !text.contains("Skipped"), "{text}");
        let text = Plan::default().report(&[], None, None);
        assert!(
            text.contains("Spread     : no usable target\n") && text.contains("(assumed: no recent transfers)"),
            "{text}"
        );
    }

    /// What a task would not copy is not counted as copies: targets too few for `-replicas`
    /// (as many copies as there are targets without one), a `-meta-only` job's files without
    /// enough copies to update, and replicas no longer cached or precious.
    #[test]
    fn the_plan_counts_only_the_copies_a_task_could_make() {
        let mut p = Plan::default();
        p.located(100, 0, 1, 3, false); // one target without a copy: one copy of three
        p.located(50, 1, 0, 2, false); // none: no copy, and short
        p.located(40, 0, 2, 1, true); // meta-only, no copy to update
        p.located(30, 1, 2, 1, true); // meta-only, its copy updated
        p.in_other_state(20);
        assert_eq!((p.files, p.bytes, p.present, p.copy_files, p.copy_bytes, p.copies), (5, 240, 1, 1, 100, 1));
        assert_eq!((p.short, p.not_updatable, p.other_state), (2, 1, 1));
        let text = p.report(&[("pool2".into(), 1.0)], None, None);
        assert!(text.contains("To copy    : 1 files; 100 bytes; 1 copies\n"), "{text}");
        assert!(
            text.contains("Short      : 2 files have fewer targets without a copy than -replicas asks\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "Skipped    : 0 deleted, 0 not located, 1 neither cached nor precious, 1 with too few copies to update (-meta-only)\n"
            ),
            "{text}"
        );
    }
}
