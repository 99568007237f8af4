//! The admin commands of the module (spec §2): their schemas and help texts, validation in
//! dCache's order, and what each does to the module. Outputs and messages are dCache's.
//!
//! This file runs them: one `Command` per entry of the table, and one exhaustive match. The
//! table itself, every command's options and help, is in `schema.rs`; how the options of
//! `migration copy|move|cache` become a job's definition is in `definition.rs`.

use crate::Millis;
use crate::effect::JobKey;
use crate::error::{Error, ErrorKind};
use crate::job::{Job, JobState};
use crate::message::WireVersion;
use crate::module::Module;
use crate::syntax::{self, CommandSpec, ParsedArgs};

mod definition;
mod schema;

use definition::parse_definition;
pub use schema::COMMANDS;

/// What a `migration copy|move|cache` line creates: a job with that command's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Copy,
    Move,
    Cache,
}

/// One variant per entry of [`COMMANDS`], so that running a command is an exhaustive match:
/// a spec without a handler does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    NewJob(JobKind),
    Info,
    Ls,
    Clear,
    Suspend,
    Resume,
    Cancel,
    SetConcurrency,
    Explain,
    Metrics,
    SetBandwidth,
    SetMaxIncoming,
    GetMaxIncoming,
    SetWireVersion,
    GetWireVersion,
    Retry,
    SetMaxAttemptsDefault,
    GetMaxAttemptsDefault,
    Concurrency,
    SetConcurrencyDefault,
    GetConcurrencyDefault,
    ConcurrencyDefault,
    SetRefreshDefault,
    GetRefreshDefault,
    HotfileSetReplicas,
    HotfileGetReplicas,
    HotfileSetThreshold,
    HotfileGetThreshold,
    HotfileShow,
}

/// The command of each entry of [`COMMANDS`], in the table's order (a test checks that each
/// variant is named after its entry).
const DISPATCH: [Command; 31] = [
    Command::NewJob(JobKind::Copy),
    Command::NewJob(JobKind::Move),
    Command::NewJob(JobKind::Cache),
    Command::Info,
    Command::Ls,
    Command::Clear,
    Command::Suspend,
    Command::Resume,
    Command::Cancel,
    Command::SetConcurrency,
    Command::Explain,
    Command::Metrics,
    Command::SetBandwidth,
    Command::SetMaxIncoming,
    Command::GetMaxIncoming,
    Command::SetWireVersion,
    Command::GetWireVersion,
    Command::Retry,
    Command::SetMaxAttemptsDefault,
    Command::GetMaxAttemptsDefault,
    Command::Concurrency,
    Command::SetConcurrencyDefault,
    Command::GetConcurrencyDefault,
    Command::ConcurrencyDefault,
    Command::SetRefreshDefault,
    Command::GetRefreshDefault,
    Command::HotfileSetReplicas,
    Command::HotfileGetReplicas,
    Command::HotfileSetThreshold,
    Command::HotfileGetThreshold,
    Command::HotfileShow,
];

const _: () = assert!(DISPATCH.len() == COMMANDS.len(), "one Command per entry of COMMANDS");

impl Command {
    /// The command `spec` (an entry of [`COMMANDS`]) describes.
    fn of(spec: &CommandSpec) -> Command {
        let index = COMMANDS.iter().position(|c| c.name == spec.name).expect("lookup finds specs in COMMANDS");
        DISPATCH[index]
    }
}

const DEPRECATED_SET: &str = " (Warning: this command is deprecated, please use 'migration set concurrency')";

/// The help page of `name` (e.g. `migration copy`), or the command list when `name` is empty.
pub fn help(name: &str) -> Result<String, Error> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Ok(COMMANDS.iter().map(syntax::synopsis_line).collect());
    }
    let matching: Vec<&CommandSpec> =
        COMMANDS.iter().filter(|c| c.name == name || c.name.starts_with(&format!("{name} "))).collect();
    match matching.as_slice() {
        [] => Err(Error::syntax(format!("No such command: {name}"))),
        [one] if one.name == name => Ok(syntax::usage(one)),
        several => Ok(several.iter().map(|c| syntax::synopsis_line(c)).collect()),
    }
}

fn syntax(e: impl ToString) -> Error {
    Error::syntax(e.to_string())
}

impl Module {
    /// Executes one admin command line at time `now`; returns its output or its error.
    pub fn execute(&mut self, now: Millis, line: &str) -> Result<String, Error> {
        let result = self.run_command(now, line);
        // A hot-file job ended by `migration cancel` counts against the cap like any other.
        self.prune_hot_file_jobs();
        result
    }

    fn run_command(&mut self, now: Millis, line: &str) -> Result<String, Error> {
        if let Some(c) = syntax::find_control_character(line) {
            // A newline inside an argument would inject a line into the saved setup.
            return Err(Error::syntax(format!("Illegal control character {:?} in command", c)));
        }
        let words = syntax::tokenize(line).map_err(syntax)?;
        let first = words.first().map(|w| w.text()).unwrap_or_default();
        if first == "help" {
            let topic: Vec<&str> = words[1..].iter().map(|w| w.text()).collect();
            return help(&topic.join(" "));
        }
        let Some((spec, n)) = syntax::lookup(COMMANDS, &words) else {
            return Err(Error::syntax(format!(
                "Unknown command: {}",
                words.iter().map(|w| w.text()).collect::<Vec<_>>().join(" ")
            )));
        };
        let args = syntax::parse(spec, &words[n..]).map_err(syntax)?;
        let job_arg = |args: &ParsedArgs| args.arg(0).unwrap_or_default().to_string();
        let command = Command::of(spec);
        match command {
            Command::NewJob(kind) => {
                let recorded = syntax::normalized(line).map_err(syntax)?;
                self.create_job(now, kind, &args, recorded)
            }
            Command::Info => {
                let job = self.job(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                if args.flag("json").unwrap_or(false) {
                    return Ok(to_json(&crate::status::JobStatus::of(job, now)));
                }
                let mut text = crate::status::info(job, now, &clock, &timestamp);
                if job.state() == JobState::Finished {
                    // The pool's recent pace: the fastest of its jobs over their last minute,
                    // among those that completed a file within the hour.
                    let rate =
                        self.jobs().filter_map(|j| j.recent_rate(now)).map(|r| r.bytes_per_second).reduce(f64::max);
                    text.push_str(&job.plan_report(rate).unwrap_or_default());
                }
                Ok(text)
            }
            Command::Ls if args.flag("json").unwrap_or(false) => {
                let jobs: Vec<_> = self.jobs().map(|j| crate::status::JobStatus::of(j, now)).collect();
                Ok(to_json(&jobs))
            }
            Command::Ls => Ok(self.jobs().map(|j| format!("{}\n", j.summary())).collect()),
            Command::Clear => {
                let ended: Vec<JobKey> =
                    self.jobs.iter().filter(|(_, j)| j.state().is_terminal()).map(|(k, _)| *k).collect();
                for key in ended {
                    self.remove_job(key);
                }
                Ok(String::new())
            }
            Command::Suspend => {
                let key = self.job_key(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                let job = self.jobs.get_mut(&key).expect("key just found");
                job.suspend(now).map_err(|m| Error::new(ErrorKind::State, m))?;
                Ok(job.summary())
            }
            Command::Resume => {
                let key = self.job_key(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                let mut ctx = self.shared.ctx(now);
                let job = self.jobs.get_mut(&key).expect("key just found");
                job.resume(&mut ctx).map_err(|m| Error::new(ErrorKind::State, m))?;
                Ok(job.summary())
            }
            Command::Cancel => {
                let key = self.job_key(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                let force = args.flag("force").unwrap_or(false);
                let mut ctx = self.shared.ctx(now);
                let job = self.jobs.get_mut(&key).expect("key just found");
                job.cancel(force, "\"migration cancel\" admin command", None, &mut ctx);
                Ok(job.summary())
            }
            Command::SetConcurrency | Command::Concurrency => {
                let n = decode_int(args.arg(1).unwrap_or_default())?;
                let key = self.job_key(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                let mut ctx = self.shared.ctx(now);
                let job = self.jobs.get_mut(&key).expect("key just found");
                job.set_concurrency(n, &mut ctx);
                let suffix = if command == Command::Concurrency { DEPRECATED_SET } else { "" };
                Ok(format!("[{}] Concurrency set to {n}{suffix}", job.id))
            }
            Command::Metrics => Ok(self.metrics()),
            Command::Explain => {
                let job = self.job(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                Ok(job.explain(self.pool()))
            }
            Command::SetBandwidth => {
                let rate = crate::bandwidth::parse_rate(args.arg(1).unwrap_or_default()).map_err(Error::syntax)?;
                let key = self.job_key(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                let mut ctx = self.shared.ctx(now);
                let job = self.jobs.get_mut(&key).expect("key just found");
                job.set_bandwidth(rate, &mut ctx);
                Ok(format!("[{}] Bandwidth set to {rate} bytes/s", job.id))
            }
            Command::SetMaxIncoming => {
                let n = decode_count(args.arg(0).unwrap_or_default(), "Maximum incoming copies must not be negative.")?;
                self.defaults.max_incoming = n;
                Ok(format!("Maximum incoming copies set to {n}"))
            }
            Command::GetMaxIncoming => Ok(format!("Current maximum incoming copies: {}", self.defaults.max_incoming)),
            Command::SetWireVersion => {
                let text = args.arg(0).unwrap_or_default();
                let version = u32::try_from(decode_int(text)?).ok().and_then(WireVersion::from_number);
                let version = version.ok_or_else(|| Error::syntax(format!("Unknown wire version: {text} (1 or 2)")))?;
                self.shared.wire = version;
                Ok(format!("Wire version set to {}", version.number()))
            }
            Command::GetWireVersion => Ok(format!("Current wire version: {}", self.shared.wire.number())),
            Command::Retry => {
                let key = self.job_key(&job_arg(&args)).ok_or_else(Error::job_not_found)?;
                let mut ctx = self.shared.ctx(now);
                let job = self.jobs.get_mut(&key).expect("key just found");
                let n = job.retry(&mut ctx).map_err(|m| Error::new(ErrorKind::State, m))?;
                Ok(format!("[{}] {n} quarantined files queued again", job.id))
            }
            Command::SetMaxAttemptsDefault => {
                let n = decode_count(args.arg(0).unwrap_or_default(), "Maximum attempts must not be negative.")?;
                self.defaults.max_attempts = n;
                Ok(format!("Default maximum attempts set to {n}"))
            }
            Command::GetMaxAttemptsDefault => {
                Ok(format!("Current default maximum attempts: {}", self.defaults.max_attempts))
            }
            Command::SetConcurrencyDefault => {
                let n = decode_int(args.arg(0).unwrap_or_default())?;
                self.set_concurrency_default(n)?;
                Ok(format!("Default concurrency set to {n}"))
            }
            Command::GetConcurrencyDefault => Ok(format!("Current default concurrency: {}", self.defaults.concurrency)),
            Command::ConcurrencyDefault => match args.int("set") {
                Some(n) => {
                    self.set_concurrency_default(n)?;
                    Ok(format!(
                        "Default concurrency set to {n} (Warning: this command is deprecated, please use 'migration set concurrency-default')"
                    ))
                }
                None => Ok(format!(
                    "Current default concurrency: {} (Warning: this command is deprecated, please use 'migration get concurrency-default')",
                    self.defaults.concurrency
                )),
            },
            Command::SetRefreshDefault => {
                // An int, as dCache's: a larger value would be saved where dCache cannot read it.
                let n = decode_int(args.arg(0).unwrap_or_default())?;
                if n < 1 {
                    return Err(Error::syntax("Default refresh interval must be positive."));
                }
                self.defaults.refresh = n as u64;
                Ok(format!("Default refresh interval set to {n}"))
            }
            Command::GetRefreshDefault => Ok(format!("Current default refresh interval: {}", self.defaults.refresh)),
            Command::HotfileSetReplicas => {
                let n = decode_int(args.arg(0).unwrap_or_default())?;
                self.defaults.hotfile_replicas = n;
                Ok(format!("Number of replicas set to {n}"))
            }
            Command::HotfileGetReplicas => Ok(format!("Current replicas: {}", self.defaults.hotfile_replicas)),
            Command::HotfileSetThreshold => {
                let n = decode_long(args.arg(0).unwrap_or_default())?;
                self.defaults.hotfile_threshold = n;
                Ok(format!("Threshold set to {n}"))
            }
            Command::HotfileGetThreshold => Ok(format!("Current threshold: {}", self.defaults.hotfile_threshold)),
            Command::HotfileShow => Ok(format!(
                "replicas={}  threshold={}",
                self.defaults.hotfile_replicas, self.defaults.hotfile_threshold
            )),
        }
    }

    fn set_concurrency_default(&mut self, n: i32) -> Result<(), Error> {
        if n < 1 {
            return Err(Error::syntax("Default concurrency must be positive."));
        }
        self.defaults.concurrency = n;
        Ok(())
    }

    /// `migration copy|move|cache`: validates in dCache's order (§2.1), creates the job and
    /// starts it if the pool has started. Nothing changes when validation fails.
    fn create_job(&mut self, now: Millis, kind: JobKind, args: &ParsedArgs, recorded: String) -> Result<String, Error> {
        let definition = parse_definition(now, kind, args, recorded, self.defaults.refresh)?;
        if definition.verify && !self.verifies_checksums() {
            let hint = if kind == JobKind::Move { " (migration move verifies by default)" } else { "" };
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("-verify is not available: this pool cannot verify checksums{hint}; use -verify=false"),
            ));
        }
        let concurrency = args.int("concurrency").unwrap_or(self.defaults.concurrency);
        let bandwidth = match args.string("bandwidth") {
            Some(text) => Some(crate::bandwidth::parse_rate(text).map_err(Error::syntax)?),
            None => None,
        };
        let max_attempts = match args.int("max-attempts") {
            Some(n) => u32::try_from(n).map_err(|_| Error::syntax("-max-attempts must not be negative"))?,
            None => self.defaults.max_attempts,
        };
        let dry_run = args.flag("dry-run").unwrap_or(false);
        if dry_run && definition.permanent {
            return Err(Error::syntax("A dry run plans the files that match now; it cannot be permanent"));
        }
        let id = match args.string("id") {
            // A dry run is not a job: it takes no job number, and is named after its key unless
            // an operator's job has that name already (it would answer to the dry run's id).
            None if dry_run => {
                let mut n = self.next_key;
                while self.job_key(&format!("dry-run-{n}")).is_some() {
                    n += 1;
                }
                format!("dry-run-{n}")
            }
            None => self.next_free_number(),
            // A dry run changes nothing: it never replaces or renames a job to take its id,
            // though it may replace an ended dry run of that name (a plan made again).
            Some(id)
                if dry_run
                    && self.job_key(id).is_some_and(|key| {
                        let job = &self.jobs[&key];
                        !(job.is_dry_run() && job.state().is_terminal())
                    }) =>
            {
                return Err(Error::syntax(format!("Job id is already in use: {id}")));
            }
            Some(id) => self.claim_id(id)?,
        };
        let mut job = Job::new(self.new_job_key(), id, definition, concurrency, now, self.shared.config.pool_timeout);
        if dry_run {
            job.make_dry_run();
        }
        job.set_max_attempts(max_attempts);
        if let Some(rate) = bandwidth {
            let mut ctx = self.shared.ctx(now);
            job.set_bandwidth(rate, &mut ctx);
        }
        let key = self.add_job(job, now, None);
        Ok(self.jobs[&key].summary())
    }

    fn next_free_number(&mut self) -> String {
        loop {
            let candidate = self.next_job_number.to_string();
            self.next_job_number += 1;
            if self.job_key(&candidate).is_none() {
                return candidate;
            }
        }
    }

    /// `-id=<x>` (§2.1): replaces a terminal job, displaces a cancelling one.
    fn claim_id(&mut self, id: &str) -> Result<String, Error> {
        let Some(key) = self.job_key(id) else { return Ok(id.to_string()) };
        match self.jobs[&key].state() {
            s if s.is_terminal() => self.remove_job(key),
            JobState::Cancelling => {
                let fresh = self.next_free_number();
                self.jobs.get_mut(&key).expect("key just found").id = fresh;
            }
            _ => return Err(Error::syntax(format!("Job id is already in use: {id}"))),
        }
        Ok(id.to_string())
    }
}

fn decode_int(text: &str) -> Result<i32, Error> {
    syntax::decode_int(text).map_err(syntax)
}

/// A count set by a command: an int, refused with `negative` below 0.
fn decode_count(text: &str, negative: &'static str) -> Result<u32, Error> {
    u32::try_from(decode_int(text)?).map_err(|_| Error::syntax(negative))
}

fn decode_long(text: &str) -> Result<i64, Error> {
    syntax::decode_long(text).map_err(syntax)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("status is always serialisable")
}

/// `YYYY-MM-DD HH:MM:SS`, UTC (the module carries no time-zone database; see
/// docs/compatibility.md).
pub fn timestamp(time: Millis) -> String {
    // Days to a civil date (Howard Hinnant's algorithm).
    let days = time.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {}", clock(time))
}

/// `HH:MM:SS`, UTC.
pub fn clock(time: Millis) -> String {
    let secs = time.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `migration set max-incoming` runs `SetMaxIncoming`, `hotfile show` runs `HotfileShow`,
    /// `migration copy` runs `NewJob(Copy)`: a table reordered without its dispatch fails here.
    #[test]
    fn each_command_runs_the_handler_named_after_it() {
        for (spec, command) in COMMANDS.iter().zip(DISPATCH) {
            let words = spec.name.strip_prefix("migration ").unwrap_or(spec.name);
            let camel: String = words.split([' ', '-']).map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect();
            let named = match command {
                Command::NewJob(kind) => format!("{kind:?}"),
                other => format!("{other:?}"),
            };
            assert_eq!(named, camel, "{}", spec.name);
            assert_eq!(Command::of(spec), command);
        }
    }
}
