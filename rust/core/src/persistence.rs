//! What the pool's `save` writes for the module, and re-executing it on start or reload
//! (spec §11). Saved lines use the same syntax as the commands.

use crate::Millis;
use crate::error::Error;
use crate::job::JobState;
use crate::module::Module;
use crate::syntax;

/// The header of the module's section in the pool's setup file.
pub const SECTION_HEADER: [&str; 3] = ["#", "# MigrationModule", "#"];

impl Module {
    /// The setup lines `save` writes (§11.1): changed defaults, then each running permanent
    /// job with its concurrency.
    ///
    /// Two fixes over dCache: a default is written only when it differs from the configured
    /// value (R11), and each job's line carries `-id=<id>` so that the concurrency line that
    /// follows still names it after a reload (R15).
    pub fn setup_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = SECTION_HEADER.iter().map(|s| s.to_string()).collect();
        let config = self.config();
        let defaults = self.defaults();
        if defaults.concurrency != config.concurrency_default {
            lines.push(format!("migration set concurrency-default {}", defaults.concurrency));
        }
        if defaults.hotfile_replicas != config.hotfile_replicas {
            lines.push(format!("hotfile set replicas {}", defaults.hotfile_replicas));
        }
        if defaults.hotfile_threshold != config.hotfile_threshold {
            lines.push(format!("hotfile set threshold {}", defaults.hotfile_threshold));
        }
        if defaults.refresh != config.refresh_default {
            lines.push(format!("migration set refresh-default {}", defaults.refresh));
        }
        if defaults.max_incoming != crate::module::MAX_INCOMING_DEFAULT {
            lines.push(format!("migration set max-incoming {}", defaults.max_incoming));
        }
        if self.shared.wire != crate::message::WireVersion::default() {
            lines.push(format!("migration set wire-version {}", self.shared.wire.number()));
        }
        if defaults.max_attempts != 0 {
            lines.push(format!("migration set max-attempts-default {}", defaults.max_attempts));
        }
        for job in self.jobs() {
            let saved = matches!(
                job.state(),
                JobState::New
                    | JobState::Initializing
                    | JobState::Running
                    | JobState::Sleeping
                    | JobState::Paused
                    | JobState::Suspended
            );
            if job.is_permanent() && saved {
                let mut line = with_id(&job.definition.command_line, &job.id);
                // A limit of attempts taken from the default when the job was made: the saved
                // default (above) may be another by now.
                if job.max_attempts() != defaults.max_attempts && !has_option(&line, "max-attempts") {
                    line = with_option(&line, "max-attempts", &job.max_attempts().to_string());
                }
                lines.push(line);
                // A negative value only after `--`, where it does not read as an option (the
                // line dCache writes otherwise, so that its setup stays readable by dCache).
                let end_of_options = if job.concurrency < 0 { "-- " } else { "" };
                let id = syntax::escape(&job.id);
                lines.push(format!("migration set concurrency {id} {end_of_options}{}", job.concurrency));
                match job.bandwidth() {
                    Some(rate) => lines.push(format!("migration set bandwidth {id} {rate}")),
                    // Removed since: the command line's -bandwidth would bring it back.
                    None if has_option(&job.definition.command_line, "bandwidth") => {
                        lines.push(format!("migration set bandwidth {id} 0"))
                    }
                    None => {}
                }
            }
        }
        lines
    }

    /// Re-executes saved setup lines (§11.2): running permanent jobs are first cancelled with
    /// force (reason `reloading config`), so that no job is duplicated. Comments and blank
    /// lines are skipped; every line is tried, and the errors are returned with their lines.
    pub fn reload(&mut self, now: Millis, lines: &[String]) -> Vec<(String, Error)> {
        let permanent: Vec<String> =
            self.jobs().filter(|j| j.is_permanent() && !j.state().is_terminal()).map(|j| j.id.clone()).collect();
        for id in permanent {
            if let Some(key) = self.job_key(&id) {
                let mut ctx = self.shared.ctx(now);
                if let Some(job) = self.jobs.get_mut(&key) {
                    job.cancel(true, "reloading config", None, &mut ctx);
                }
            }
        }
        let errors = self.replay(now, lines);
        self.prune_hot_file_jobs();
        errors
    }

    /// Checks setup lines without executing them (dCache runs a setup on a side-effect-free
    /// copy before a `reload`): every line is parsed and executed in order on a scratch
    /// module with this pool's name, configuration and checksum capability, which is then
    /// dropped. This module is not touched. Returns the failing lines with their errors.
    pub fn validate(&self, lines: &[String]) -> Vec<(String, Error)> {
        let mut scratch = Module::new(self.pool(), self.config().clone(), 0);
        scratch.set_verifies_checksums(self.verifies_checksums());
        // Never started: jobs stay NEW and produce no effects.
        let errors = scratch.replay(0, lines);
        debug_assert!(scratch.take_effects().is_empty(), "a scratch module that never started asks for nothing");
        errors
    }

    /// Executes setup lines at pool start (nothing to cancel).
    pub fn replay(&mut self, now: Millis, lines: &[String]) -> Vec<(String, Error)> {
        let mut errors = Vec::new();
        for line in lines {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Err(e) = self.execute(now, trimmed) {
                errors.push((trimmed.to_string(), e));
            }
        }
        errors
    }
}

/// Inserts `-id=<id>` after the command name unless the line already names an id.
fn with_id(line: &str, id: &str) -> String {
    if has_option(line, "id") {
        return line.to_string();
    }
    with_option(line, "id", id)
}

/// Whether the recorded command `line` gives option `-name`.
fn has_option(line: &str, name: &str) -> bool {
    syntax::tokenize(line)
        .map(|words| words.iter().any(|w| w.option_parts().is_some_and(|(option, _)| option == name)))
        .unwrap_or(false)
}

/// `line` with `-name=value` after the command's name.
fn with_option(line: &str, name: &str, value: &str) -> String {
    // Recorded lines start with the two words of the command name (`migration copy`).
    let mut words = line.splitn(3, ' ');
    let (first, second, rest) = (words.next().unwrap_or(""), words.next().unwrap_or(""), words.next());
    match rest {
        Some(rest) => format!("{first} {second} -{name}={} {rest}", syntax::escape(value)),
        None => format!("{first} {second} -{name}={}", syntax::escape(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_inserted_after_the_command_name_once() {
        assert_eq!(with_id("migration copy -permanent pool2", "3"), "migration copy -id=3 -permanent pool2");
        assert_eq!(with_id("migration cache -id=x -permanent p", "x"), "migration cache -id=x -permanent p");
        assert_eq!(with_id("migration move pool2", "my-job"), "migration move -id=my\\-job pool2");
    }
}
