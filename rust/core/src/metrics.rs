//! The module's counters and gauges in Prometheus' text exposition format (beyond dCache,
//! issue #13): per job and per module, for `migration metrics` and a host's `/metrics`.

use std::fmt::Write as _;

use crate::job::JobState;
use crate::module::Module;

/// One metric family: its name, type, help and samples as (labels, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// A label value with Prometheus' escapes (`\`, `"`, newline).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Module {
    /// Every metric of the module and its jobs, in Prometheus' text format.
    pub fn metrics(&self) -> String {
        let pool = escape(self.pool());
        let job_labels = |id: &str| format!("pool=\"{pool}\",job=\"{}\"", escape(id));
        let per_job = |name, kind, help, value: &dyn Fn(&crate::job::Job) -> f64| Family {
            name,
            kind,
            help,
            samples: self.jobs().map(|j| (job_labels(&j.id), value(j))).collect(),
        };
        let mut families = vec![
            per_job("dcache_migration_job_files_completed_total", "counter", "Files the job completed.", &|j| {
                j.statistics().completed_files as f64
            }),
            per_job(
                "dcache_migration_job_bytes_completed_total",
                "counter",
                "Bytes of the files the job completed.",
                &|j| j.statistics().transferred as f64,
            ),
            per_job("dcache_migration_job_bytes_total", "counter", "Bytes of every file the job queued.", &|j| {
                j.statistics().total as f64
            }),
            per_job("dcache_migration_job_attempts_total", "counter", "Tasks the job started.", &|j| {
                j.statistics().attempts as f64
            }),
            per_job("dcache_migration_job_failures_total", "counter", "Tasks of the job that failed.", &|j| {
                j.statistics().failures as f64
            }),
            per_job("dcache_migration_job_running_tasks", "gauge", "Tasks the job runs now.", &|j| j.running() as f64),
            per_job("dcache_migration_job_queued_files", "gauge", "Files waiting in the job's queue.", &|j| {
                j.queued() as f64
            }),
            per_job("dcache_migration_job_quarantined_files", "gauge", "Files the job no longer retries.", &|j| {
                j.quarantined().count() as f64
            }),
        ];
        families.push(Family {
            name: "dcache_migration_job_state",
            kind: "gauge",
            help: "1 for the job's current state.",
            samples: self
                .jobs()
                .map(|j| (format!("{},state=\"{}\"", job_labels(&j.id), j.state().name()), 1.0))
                .collect(),
        });
        let states = [
            JobState::New,
            JobState::Initializing,
            JobState::Running,
            JobState::Sleeping,
            JobState::Paused,
            JobState::Suspended,
            JobState::Stopping,
            JobState::Cancelling,
            JobState::Cancelled,
            JobState::Finished,
            JobState::Failed,
        ];
        families.push(Family {
            name: "dcache_migration_jobs",
            kind: "gauge",
            help: "Jobs of the pool by state.",
            samples: states
                .iter()
                .map(|s| {
                    let n = self.jobs().filter(|j| j.state() == *s).count();
                    (format!("pool=\"{pool}\",state=\"{}\"", s.name()), n as f64)
                })
                .collect(),
        });
        families.push(Family {
            name: "dcache_migration_server_requests",
            kind: "gauge",
            help: "Copy requests from other pools this pool serves now.",
            samples: vec![(format!("pool=\"{pool}\""), self.server_requests() as f64)],
        });
        families.push(Family {
            name: "dcache_migration_locked_files",
            kind: "gauge",
            help: "Files a local task works on.",
            samples: vec![(format!("pool=\"{pool}\""), self.locked_files() as f64)],
        });
        let mut out = String::new();
        for f in families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
            for (labels, value) in f.samples {
                let _ = writeln!(out, "{}{{{labels}}} {value}", f.name);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Config;

    #[test]
    fn labels_are_escaped_and_every_family_is_typed() {
        let mut m = Module::new("pool\"1", Config::default(), 1);
        m.execute(0, "migration copy -id=a\\\\b pool2").expect("valid");
        let text = m.metrics();
        assert!(text.contains("dcache_migration_job_queued_files{pool=\"pool\\\"1\",job=\"a\\\\b\"} 0\n"), "{text}");
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!((helps, types), (12, 12), "{text}");
        assert!(text.contains("dcache_migration_jobs{pool=\"pool\\\"1\",state=\"NEW\"} 1\n"), "{text}");
    }
}
