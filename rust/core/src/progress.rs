//! A job's pace (beyond dCache, issue #13): when it started, how fast it completes files over
//! a recent window, and how long the rest will take. Only active time counts: a job that was
//! SUSPENDED or PAUSED overnight must not report a rate near zero and an ETA of weeks.

use std::collections::VecDeque;

use serde::Serialize;

use crate::Millis;

/// How much active time the rate looks back over.
pub const WINDOW: Millis = 60_000;

/// How long after its last completed file a job's rate still counts as the pool's recent pace
/// (for a dry run's estimate): a job that ended days ago says little of the pool today.
pub const RECENT: Millis = 60 * 60_000;

/// Below this much active time there is no meaningful rate yet.
const MIN_SPAN: Millis = 1_000;

/// Completions closer together than this share a sample. A sample per file would hold
/// millions over the window at the rates the module reaches (and `migration info` would walk
/// them all); this keeps at most `WINDOW / GRAIN` of them, for an error far below 1 %.
const GRAIN: Millis = 250;

/// The counters at a moment of active time.
#[derive(Debug, Clone, Copy)]
struct Sample {
    active: Millis,
    files: u64,
    bytes: u64,
}

/// Completions over active time.
#[derive(Debug, Default)]
pub struct Progress {
    started: Option<Millis>,
    idle_since: Option<Millis>,
    idle_total: Millis,
    /// The first sample is the baseline just before the window; the rest lie inside it.
    samples: VecDeque<Sample>,
    /// When the last file completed (wall time).
    last_completed: Option<Millis>,
}

/// Files and bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    /// Files completed per second.
    pub files_per_second: f64,
    /// Bytes completed per second.
    pub bytes_per_second: f64,
}

impl Progress {
    /// The job started now (leaves NEW).
    pub fn start(&mut self, now: Millis) {
        if self.started.is_none() {
            self.started = Some(now);
            self.samples.push_back(Sample { active: 0, files: 0, bytes: 0 });
        }
    }

    /// When the job started, if it has.
    pub fn started(&self) -> Option<Millis> {
        self.started
    }

    /// The job became idle (SUSPENDED, PAUSED) or active again.
    pub fn set_idle(&mut self, idle: bool, now: Millis) {
        match (idle, self.idle_since) {
            (true, None) => self.idle_since = Some(now),
            (false, Some(since)) => {
                self.idle_total += now.saturating_sub(since);
                self.idle_since = None;
            }
            _ => {}
        }
    }

    fn active(&self, now: Millis) -> Millis {
        let Some(started) = self.started else { return 0 };
        let idle_now = self.idle_since.map_or(0, |since| now.saturating_sub(since));
        now.saturating_sub(started).saturating_sub(self.idle_total).saturating_sub(idle_now)
    }

    /// A file completed; `files` and `bytes` are the job's totals after it.
    pub fn completed(&mut self, now: Millis, files: u64, bytes: u64) {
        if self.started.is_none() {
            return;
        }
        self.last_completed = Some(now);
        let active = self.active(now);
        let sample = Sample { active, files, bytes };
        let n = self.samples.len();
        // The newest sample (never the baseline) still filling its grain moves forward.
        if n >= 2 && self.samples[n - 1].active - self.samples[n - 2].active < GRAIN {
            self.samples[n - 1] = sample;
        } else {
            self.samples.push_back(sample);
        }
        // Keep one sample at or before the window's start as the baseline.
        while self.samples.len() > 2 && self.samples[1].active <= active - WINDOW {
            self.samples.pop_front();
        }
    }

    /// Whether a file completed within [`RECENT`] of `now`.
    pub fn completed_recently(&self, now: Millis) -> bool {
        self.last_completed.is_some_and(|at| now.saturating_sub(at) <= RECENT)
    }

    /// The rate over the window ending now; `None` before a second of active time.
    pub fn rate(&self, now: Millis, files: u64, bytes: u64) -> Option<Rate> {
        let active = self.active(now);
        let base = self.samples.iter().rev().find(|s| s.active <= active - WINDOW).or(self.samples.front())?;
        let span = active - base.active;
        if span < MIN_SPAN {
            return None;
        }
        let seconds = span as f64 / 1000.0;
        Some(Rate {
            files_per_second: files.saturating_sub(base.files) as f64 / seconds,
            bytes_per_second: bytes.saturating_sub(base.bytes) as f64 / seconds,
        })
    }
}

/// The time the remaining work needs at `rate`: by bytes when the job moves bytes, else by
/// files; `None` when nothing moves.
pub fn eta(rate: Rate, remaining_files: u64, remaining_bytes: u64) -> Option<Millis> {
    let seconds = if rate.bytes_per_second > 0.0 && remaining_bytes > 0 {
        remaining_bytes as f64 / rate.bytes_per_second
    } else if rate.files_per_second > 0.0 {
        remaining_files as f64 / rate.files_per_second
    } else {
        return None;
    };
    Some((seconds * 1000.0).round() as Millis)
}

/// `42s`, `3m07s`, `2h05m00s`, `3d04h00m`.
pub fn duration(ms: Millis) -> String {
    // Saturating: an ETA from a rate of a byte a day can be as long as a Millis holds.
    let s = ms.max(0).saturating_add(500) / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
        s => format!("{}d{:02}h{:02}m", s / 86_400, s / 3600 % 24, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_covers_the_last_minute_of_active_time() {
        let mut p = Progress::default();
        p.start(0);
        // 1 file/s for two minutes, 100 bytes each.
        for i in 1..=120 {
            p.completed(i * 1000, i as u64, i as u64 * 100);
        }
        let r = p.rate(120_000, 120, 12_000).expect("a rate");
        assert!((r.files_per_second - 1.0).abs() < 1e-9, "{r:?}");
        assert!((r.bytes_per_second - 100.0).abs() < 1e-9, "{r:?}");
        // Then it stalls for 30 s: the window shows half the pace.
        let r = p.rate(150_000, 120, 12_000).expect("a rate");
        assert!((r.files_per_second - 0.5).abs() < 0.02, "{r:?}");
    }

    /// At a few hundred thousand files a second, a sample per file would hold millions; the
    /// grains keep a few hundred, and the rate stays exact for a steady pace.
    #[test]
    fn a_fast_job_keeps_few_samples() {
        let mut p = Progress::default();
        p.start(0);
        // 50 files every ms for five minutes: 15 million files.
        for ms in 1..=300_000u64 {
            p.completed(ms as Millis, ms * 50, ms * 50 * 4096);
        }
        assert!(p.samples.len() <= (WINDOW / GRAIN) as usize + 2, "{} samples", p.samples.len());
        let r = p.rate(300_000, 15_000_000, 15_000_000 * 4096).expect("a rate");
        assert!((r.files_per_second - 50_000.0).abs() < 1.0, "{r:?}");
    }

    #[test]
    fn idle_time_does_not_count() {
        let mut p = Progress::default();
        p.start(0);
        for i in 1..=30 {
            p.completed(i * 1000, i as u64, 0);
        }
        p.set_idle(true, 30_000);
        p.set_idle(false, 3_630_000); // suspended for an hour
        let r = p.rate(3_630_000, 30, 0).expect("a rate");
        assert!((r.files_per_second - 1.0).abs() < 1e-9, "{r:?}");
        p.set_idle(true, 3_630_000);
        let r = p.rate(9_999_999, 30, 0).expect("a rate");
        assert!((r.files_per_second - 1.0).abs() < 1e-9, "still idle: {r:?}");
    }

    #[test]
    fn no_rate_before_a_second_and_no_eta_without_movement() {
        let mut p = Progress::default();
        assert_eq!(p.rate(5_000, 0, 0), None, "not started");
        p.start(1_000);
        assert_eq!(p.rate(1_500, 0, 0), None);
        let r = p.rate(3_000, 0, 0).expect("a rate");
        assert_eq!(eta(r, 10, 10), None);
        assert_eq!(eta(Rate { files_per_second: 2.0, bytes_per_second: 0.0 }, 10, 0), Some(5_000));
        assert_eq!(eta(Rate { files_per_second: 2.0, bytes_per_second: 50.0 }, 10, 1000), Some(20_000));
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(41_600), "42s");
        assert_eq!(duration(187_000), "3m07s");
        assert_eq!(duration(7_500_000), "2h05m00s");
        assert_eq!(duration(273_600_000), "3d04h00m");
        // An ETA from a rate of a byte a day is as long as a Millis holds, and printing it
        // saturates instead of overflowing (the second assertion is the one that guards it).
        let eta = eta(Rate { bytes_per_second: 1.0 / 86_400.0, files_per_second: 0.0 }, 1, 300 << 30);
        assert_eq!(eta, Some(Millis::MAX));
        assert_eq!(duration(Millis::MAX), "106751991167d07h12m", "i64::MAX ms");
    }
}
