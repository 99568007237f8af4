//! The module's state as data, for monitoring and a REST frontend (spec §13), and for the
//! `-json` forms of `migration ls` and `migration info`; and the text of `migration info`,
//! which prints the same numbers.

use std::fmt::Write as _;

use serde::Serialize;

use crate::Millis;
use crate::job::{Job, JobState, Note, Statistics};
use crate::module::Module;
use crate::progress::{self, Rate};

/// One job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Job id.
    pub id: String,
    /// State.
    pub state: JobState,
    /// The recorded command line.
    pub command: String,
    /// The summary line of `migration ls`.
    pub summary: String,
    /// Permanent job.
    pub permanent: bool,
    /// Concurrency.
    pub concurrency: i32,
    /// Queued files.
    pub queued: usize,
    /// Counters.
    #[serde(flatten)]
    pub statistics: Statistics,
    /// `floor(100 × transferred / total)`, when anything was enqueued.
    pub percent: Option<u64>,
    /// Selectable target pools.
    pub targets: Vec<String>,
    /// The `Targets` value of `migration info`.
    pub targets_description: String,
    /// Running tasks.
    pub running_tasks: Vec<TaskStatus>,
    /// The most recent notes, oldest first.
    pub notes: Vec<Note>,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// When the job started (left NEW), ms since the epoch (beyond dCache).
    pub started: Option<i64>,
    /// Files and bytes per second over the last minute of active time (beyond dCache).
    pub rate: Option<Rate>,
    /// Milliseconds the remaining files need at that rate (beyond dCache).
    pub eta_millis: Option<i64>,
    /// Files no longer retried after `-max-attempts` failures, with their last error (beyond
    /// dCache).
    pub quarantined: Vec<QuarantineStatus>,
}

/// A quarantined file.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineStatus {
    /// The file.
    pub pnfsid: String,
    /// Its failed attempts and last error.
    #[serde(flatten)]
    pub quarantined: crate::quarantine::Quarantined,
}

/// One running task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    /// Task id.
    pub id: u64,
    /// The file.
    pub pnfsid: String,
    /// `Copying`, `Pinging`, …
    pub state: &'static str,
    /// Current target pool.
    pub target: Option<String>,
}

/// dCache's `migrationData` object (§13.1) plus every job in full.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleStatus {
    /// Always `Migration`.
    pub label: &'static str,
    /// One summary line per job.
    pub job_info: Vec<String>,
    /// Requests the migration server currently serves.
    pub server_requests: usize,
    /// Every job.
    pub jobs: Vec<JobStatus>,
}

impl JobStatus {
    /// The status of `job` at `now`.
    pub fn of(job: &Job, now: i64) -> JobStatus {
        let s = job.statistics();
        JobStatus {
            id: job.id.clone(),
            state: job.state(),
            command: job.definition.command_line.clone(),
            summary: job.summary(),
            permanent: job.is_permanent(),
            concurrency: job.concurrency,
            queued: job.queued(),
            statistics: s,
            percent: (s.total > 0).then(|| (u128::from(s.transferred) * 100 / u128::from(s.total)) as u64),
            targets: job.targets().iter().map(|p| p.name.to_string()).collect(),
            targets_description: job.targets_description(),
            running_tasks: job
                .running_tasks()
                .into_iter()
                .map(|(id, pnfsid, state, target)| TaskStatus {
                    id,
                    pnfsid: pnfsid.to_string(),
                    state,
                    target: target.map(str::to_string),
                })
                .collect(),
            notes: job.notes().cloned().collect(),
            created: job.created,
            started: job.started(),
            rate: job.rate(now),
            eta_millis: job.eta(now),
            quarantined: job
                .quarantined()
                .map(|(id, q)| QuarantineStatus { pnfsid: id.to_string(), quarantined: q.clone() })
                .collect(),
        }
    }
}

impl Module {
    /// The module's status (§13.1) at `now`.
    pub fn status(&self, now: i64) -> ModuleStatus {
        ModuleStatus {
            label: "Migration",
            job_info: self.jobs().map(Job::summary).collect(),
            server_requests: self.server_requests(),
            jobs: self.jobs().map(|j| JobStatus::of(j, now)).collect(),
        }
    }
}

/// `migration info` (§2.3) at `now`; `clock` formats a note's time as `HH:MM:SS` and
/// `timestamp` the start as a date and time. dCache's lines come first, unchanged; the
/// pace (`Started`, `Rate`, `ETA`) follows them.
pub fn info(job: &Job, now: Millis, clock: &dyn Fn(Millis) -> String, timestamp: &dyn Fn(Millis) -> String) -> String {
    let mut out = String::new();
    let s = job.statistics();
    let _ = writeln!(out, "Command    : {}", job.definition.command_line);
    let _ = writeln!(out, "State      : {}", job.state().name());
    let _ = writeln!(out, "Queued     : {}", job.queued());
    let _ = writeln!(out, "Attempts   : {}", s.attempts);
    let _ = writeln!(out, "Targets    : {}", job.targets_description());
    if s.total > 0 {
        use JobState::*;
        match job.state() {
            Running | Suspended | Cancelling | Stopping | Sleeping | Paused => {
                let pct = (u128::from(s.transferred) * 100 / u128::from(s.total)) as u64;
                let _ = writeln!(out, "Completed  : {} files; {} bytes; {}%", s.completed_files, s.transferred, pct);
                let _ = writeln!(out, "Total      : {} bytes", s.total);
            }
            Initializing | Finished => {
                let _ = writeln!(out, "Completed  : {} files; {} bytes", s.completed_files, s.transferred);
                let _ = writeln!(out, "Total      : {} bytes", s.total);
            }
            Cancelled | Failed => {
                let _ = writeln!(out, "Completed  : {} files; {} bytes", s.completed_files, s.transferred);
            }
            New => {}
        }
    }
    let _ = writeln!(out, "Concurrency: {}", job.concurrency);
    out.push_str("Running tasks:\n");
    for (id, pnfsid, state, target) in job.running_tasks() {
        match target {
            Some(t) => {
                let _ = writeln!(out, "[{id}] {pnfsid}: TASK.{state} -> [{t}@local]");
            }
            None => {
                let _ = writeln!(out, "[{id}] {pnfsid}: TASK.{state}");
            }
        }
    }
    if job.notes().next().is_some() {
        out.push_str("Most recent notes:\n");
        for n in job.notes() {
            let file = n.pnfsid.map_or_else(|| "-".to_string(), |p| p.to_string());
            let _ = writeln!(out, "{} [{}] {}: {}", clock(n.time), n.task, file, n.text);
        }
    }
    // The pace of a job that still runs (an ended job's text stays dCache's).
    if let Some(started) = job.started().filter(|_| !job.state().is_terminal()) {
        let _ = writeln!(out, "Started    : {}", timestamp(started));
        let rate = match job.rate(now) {
            Some(r) => format!("{:.2} files/s; {:.0} bytes/s", r.files_per_second, r.bytes_per_second),
            None => "-".to_string(),
        };
        let _ = writeln!(out, "Rate       : {rate}");
        let eta = job.eta(now).map_or_else(|| "-".to_string(), progress::duration);
        let _ = writeln!(out, "ETA        : {eta}");
        if let Some(rate) = job.bandwidth() {
            let _ = writeln!(out, "Bandwidth  : {rate} bytes/s");
        }
    }
    if job.quarantined().next().is_some() {
        let _ = writeln!(
            out,
            "Quarantined: {} files (migration retry {} tries them again)",
            job.quarantined().count(),
            job.id
        );
        for (pnfsid, q) in job.quarantined() {
            let _ = writeln!(out, "{pnfsid}: {} attempts, last: {} (rc={})", q.attempts, q.error, q.rc);
        }
    }
    out
}
