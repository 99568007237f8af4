//! Hot-file replication (spec §12): when a file has more concurrent readers than the
//! threshold, a job copies it to pools that may serve its reads, on different hosts.

use std::collections::HashMap;

use crate::Millis;
use crate::definition::{DeficitMode, HotFileQuery, JobDefinition, TargetKind};
use crate::effect::{Effect, EntryPurpose, JobKey};
use crate::filter::ReplicaFilter;
use crate::job::Job;
use crate::mode::{Mode, ModeState};
use crate::module::Module;
use crate::pnfsid::PnfsId;
use crate::replica::ReplicaEntry;
use crate::selection::SelectionStrategy;

/// Terminal hot-file jobs kept; older ones are dropped when a new one is created.
pub const MAX_FINISHED_HOT_FILE_JOBS: usize = 50;

/// How a read reached the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolInfo {
    /// e.g. `DCap`, `xrootd`, `NFS`.
    pub protocol: String,
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// The client's IP address, if known.
    pub client: Option<String>,
}

impl ProtocolInfo {
    /// `<protocol>/<major>` or `<protocol>/<major>.<minor>` (the pool manager's protocol unit).
    pub fn unit(&self) -> String {
        if self.minor == 0 {
            format!("{}/{}", self.protocol, self.major)
        } else {
            format!("{}/{}.{}", self.protocol, self.major, self.minor)
        }
    }
}

/// Reports waiting for the file's entry: protocol unit and net unit.
pub type PendingReports = HashMap<PnfsId, (String, String)>;

/// The id of the hot-file job of `pnfsid`.
pub fn job_id(pnfsid: &PnfsId) -> String {
    format!("hotfile-{pnfsid}")
}

impl Module {
    /// A read request for `pnfsid` with `readers` concurrent non-p2p movers (§12.2). Errors
    /// are logged and swallowed: the read itself must never be affected.
    pub fn report_readers(&mut self, pnfsid: PnfsId, readers: i64, protocol: Option<&ProtocolInfo>) {
        if readers < self.defaults().hotfile_threshold {
            return;
        }
        if self.job(&job_id(&pnfsid)).is_some_and(|j| !j.state().is_terminal()) {
            return;
        }
        let protocol_unit = protocol.map_or_else(|| "*/*".to_string(), ProtocolInfo::unit);
        let net_unit = protocol.and_then(|p| p.client.clone()).unwrap_or_default();
        self.hot_reports.insert(pnfsid, (protocol_unit, net_unit));
        self.shared.effects_mut().push(Effect::ReadEntry { purpose: EntryPurpose::HotFile { pnfsid }, pnfsid });
    }

    /// The entry of a hot file was read: create and start its job.
    pub(crate) fn hot_file_entry(&mut self, now: Millis, pnfsid: PnfsId, result: Result<Option<ReplicaEntry>, String>) {
        let Some((protocol, net)) = self.hot_reports.remove(&pnfsid) else { return };
        let entry = match result {
            Ok(Some(entry)) => entry,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(target: crate::job::LOG_TARGET, %pnfsid, "hot-file replication skipped: {e}");
                return;
            }
        };
        let id = job_id(&pnfsid);
        if let Some(key) = self.job_key(&id) {
            if !self.jobs[&key].state().is_terminal() {
                return;
            }
            self.jobs.remove(&key);
        }
        let defaults = self.defaults();
        let definition = JobDefinition {
            command_line: format!("hotfile replication for {pnfsid}"),
            filter: ReplicaFilter::default().with_pnfsids(vec![pnfsid]),
            source_mode: Mode::plain(ModeState::Same),
            target_mode: Mode::plain(ModeState::Cached),
            move_pins: false,
            verify: false,
            atime: true,
            force_source_mode: false,
            eager: false,
            meta_only: false,
            permanent: false,
            // dCache: 0 or negative behave like 1.
            replicas: usize::try_from(defaults.hotfile_replicas).unwrap_or(0).max(1),
            deficit: DeficitMode::Limit,
            target_kind: TargetKind::Readers,
            targets: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            include_when: None,
            exclude_when: None,
            pause_when: None,
            stop_when: None,
            refresh_secs: defaults.refresh,
            select: SelectionStrategy::Proportional,
            order: None,
            hot_file: Some(HotFileQuery { attributes: entry.attributes(), protocol, net }),
        };
        let key = JobKey(self.next_key);
        self.next_key += 1;
        let mut job = Job::new(key, id, definition, defaults.concurrency, now, self.config().pool_timeout);
        job.set_max_attempts(defaults.max_attempts);
        self.jobs.insert(key, job);
        self.hot_jobs += 1;
        self.prune_hot_file_jobs();
        if self.started {
            let mut ctx = self.shared.ctx(now);
            if let Some(job) = self.jobs.get_mut(&key) {
                job.start_with_entries(std::slice::from_ref(&entry), &mut ctx);
            }
        }
    }

    /// Keeps the newest [`MAX_FINISHED_HOT_FILE_JOBS`] terminal hot-file jobs. dCache prunes
    /// only when it creates the next hot-file job; we also prune when one ends, so the list
    /// never holds more than the limit. Cheap: nothing is scanned until there could be more.
    pub(crate) fn prune_hot_file_jobs(&mut self) {
        if self.hot_jobs <= MAX_FINISHED_HOT_FILE_JOBS {
            return;
        }
        let finished: Vec<JobKey> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.id.starts_with("hotfile-") && j.state().is_terminal())
            .map(|(k, _)| *k)
            .collect();
        // Keys grow with creation time, so the first ones are the oldest.
        let excess = finished.len().saturating_sub(MAX_FINISHED_HOT_FILE_JOBS);
        for key in &finished[..excess] {
            self.jobs.remove(key);
        }
        self.hot_jobs = self.jobs.values().filter(|j| j.id.starts_with("hotfile-")).count();
    }
}
