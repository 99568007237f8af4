//! Hot-file jobs on the module's side (spec §12): reads reported by the pool become jobs whose
//! definitions `hotfile` writes; finished ones are capped at [`MAX_FINISHED_HOT_FILE_JOBS`].

use crate::Millis;
use crate::effect::{Effect, EntryPurpose, JobKey};
use crate::hotfile::{self, MAX_FINISHED_HOT_FILE_JOBS, ProtocolInfo, job_id};
use crate::job::Job;
use crate::module::Module;
use crate::pnfsid::PnfsId;
use crate::replica::ReplicaEntry;

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
        // Its entry is being read for an earlier report, whose answer makes the job: each read
        // of a hot file would otherwise read its entry once more until then.
        if self.hot_reports.contains_key(&pnfsid) {
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
            self.remove_job(key);
        }
        let defaults = self.defaults();
        let definition = hotfile::definition(&entry, protocol, net, defaults.hotfile_replicas, defaults.refresh);
        let mut job =
            Job::new(self.new_job_key(), id, definition, defaults.concurrency, now, self.config().pool_timeout);
        job.set_max_attempts(defaults.max_attempts);
        self.prune_hot_file_jobs();
        self.add_job(job, now, Some(std::slice::from_ref(&entry)));
        self.hot_jobs += 1;
    }

    /// Keeps the newest [`MAX_FINISHED_HOT_FILE_JOBS`] terminal hot-file jobs. dCache prunes
    /// only when it creates the next hot-file job; we prune when a job ends, so the list never
    /// holds more than the limit. Cheap: the jobs are scanned only after one ended while there
    /// could be too many (called after every input, a scan each time cost O(jobs) per input
    /// while more than the limit ran at once).
    pub(crate) fn prune_hot_file_jobs(&mut self) {
        if self.hot_jobs <= MAX_FINISHED_HOT_FILE_JOBS || self.hot_pruned_at == self.shared.jobs_ended {
            return;
        }
        self.hot_pruned_at = self.shared.jobs_ended;
        let finished: Vec<JobKey> =
            self.jobs.iter().filter(|(_, j)| j.is_hot_file() && j.state().is_terminal()).map(|(k, _)| *k).collect();
        // Keys grow with creation time, so the first ones are the oldest.
        let excess = finished.len().saturating_sub(MAX_FINISHED_HOT_FILE_JOBS);
        for &key in &finished[..excess] {
            self.remove_job(key);
        }
        self.hot_jobs = self.jobs.values().filter(|j| j.is_hot_file()).count();
    }
}

#[cfg(test)]
mod tests {
    use crate::context::Config;
    use crate::effect::{Effect, EntryPurpose};
    use crate::module::Module;
    use crate::pnfsid::PnfsId;

    fn hot_file_reads(effects: &[Effect]) -> usize {
        effects.iter().filter(|e| matches!(e, Effect::ReadEntry { purpose: EntryPurpose::HotFile { .. }, .. })).count()
    }

    #[test]
    fn reports_while_the_entry_is_read_ask_for_it_once() {
        let mut module = Module::new("pool1", Config::default(), 1);
        let threshold = module.defaults().hotfile_threshold;
        let file = PnfsId::parse("00000000000000000000000A").expect("valid");
        for readers in threshold..threshold + 5 {
            module.report_readers(file, readers, None);
        }
        assert_eq!(hot_file_reads(&module.take_effects()), 1, "one read until it is answered");

        // Answered (the replica is gone): the next report reads again.
        module.hot_file_entry(0, file, Ok(None));
        module.report_readers(file, threshold, None);
        assert_eq!(hot_file_reads(&module.take_effects()), 1);
    }
}
