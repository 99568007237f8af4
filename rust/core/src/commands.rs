//! The admin commands of the module (spec §2): their schemas and help texts, validation in
//! dCache's order, and what each does to the module. Outputs and messages are dCache's.

use crate::Millis;
use crate::definition::{DeficitMode, JobDefinition, Order, TargetKind};
use crate::error::{Error, ErrorKind};
use crate::expr::{Expression, Symbols};
use crate::filter::{Range, ReplicaFilter, StickyFilter};
use crate::glob::Glob;
use crate::job::{Job, JobState};
use crate::message::WireVersion;
use crate::mode::{Mode, ModeState};
use crate::module::Module;
use crate::pnfsid::PnfsId;
use crate::replica::{AccessLatency, ReplicaState, RetentionPolicy};
use crate::selection::SelectionStrategy;
use crate::syntax::{self, ArgSpec, CommandSpec, OptionKind, OptionSpec, ParsedArgs};

use OptionKind::String as Text;
use OptionKind::{Enum, Flag, Int, List, Long};

const fn opt(name: &'static str, kind: OptionKind, value_name: &'static str, help: &'static str) -> OptionSpec {
    syntax::opt(name, kind, value_name, help).in_category(category_of(name))
}

/// dCache's category of a `migration copy|move|cache` option (its `@Option(category = …)`).
const fn category_of(name: &str) -> &'static str {
    const FILTER: &[&str] = &["accessed", "al", "pnfsid", "rp", "size", "state", "sticky", "storage", "cache"];
    const TRANSFER: &[&str] = &[
        "concurrency",
        "order",
        "pins",
        "smode",
        "tmode",
        "atime",
        "verify",
        "force-source-mode",
        "target-deficit-mode",
    ];
    const TARGET: &[&str] = &[
        "eager",
        "replicas",
        "exclude",
        "exclude-when",
        "include",
        "include-when",
        "refresh",
        "select",
        "target",
        "meta-only",
    ];
    const LIFETIME: &[&str] = &["pause-when", "permanent", "stop-when"];
    if contains(FILTER, name) {
        "Filter options"
    } else if contains(TRANSFER, name) {
        "Transfer options"
    } else if contains(TARGET, name) {
        "Target options"
    } else if contains(LIFETIME, name) {
        "Lifetime options"
    } else {
        ""
    }
}

const fn contains(names: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        if const_eq(names[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const NO_ARGS: ArgSpec = ArgSpec { names: &[], required: 0, variadic: false };
const JOB_ARG: ArgSpec = ArgSpec { names: &["JOB"], required: 1, variadic: false };

/// Options shared by `migration copy`, `move` and `cache`.
const JOB_OPTIONS: &[OptionSpec] = &[
    opt(
        "accessed",
        Text,
        "<n>|[<n>]..[<m>]",
        "Only copy replicas accessed n seconds ago, or within the given range of seconds.",
    ),
    opt("al", Enum(&["online", "nearline"]), "", "Only copy replicas with this access latency."),
    opt("pnfsid", List, "<pnfsid>[,<pnfsid>]...", "Only copy these files."),
    opt("rp", Enum(&["custodial", "replica", "output"]), "", "Only copy replicas with this retention policy."),
    opt("size", Text, "<n>|[<n>]..[<m>]", "Only copy replicas of this size in bytes, or within the range."),
    opt("state", Enum(&["cached", "precious"]), "", "Only copy replicas in this state (default: cached or precious)."),
    opt(
        "sticky",
        List,
        "[-]<owner>[,[-]<owner>]...",
        "Only copy sticky replicas; with owners, only replicas that have a record of each owner and none of each -owner.",
    ),
    opt("storage", Text, "<class>", "Only copy replicas of this storage class."),
    opt(
        "cache",
        Text,
        "<class>",
        "Only copy replicas of this cache class; an empty value selects replicas without one.",
    ),
    opt(
        "concurrency",
        Int,
        "<n>",
        "Number of concurrent transfers (default: the module default, see 'migration get concurrency-default').",
    ),
    opt(
        "dry-run",
        Flag,
        "",
        "Copy nothing and change nothing: find the matching files, ask where they are, and report in 'migration info dry-run-<n>' how many would be copied, how they would spread over the targets, and how long it would take. Beyond dCache.",
    ),
    opt(
        "bandwidth",
        Text,
        "<bytes/s>[K|M|G]",
        "Start transfers at no more than this many bytes per second (K, M, G: powers of 1024); change it with 'migration set bandwidth'. Beyond dCache.",
    ),
    opt(
        "max-attempts",
        Int,
        "<n>",
        "Stop retrying a file after n failed attempts in a row and list it as quarantined in 'migration info' until 'migration retry'; 0 retries for ever, as dCache does (default: see 'migration get max-attempts-default'). Beyond dCache.",
    ),
    opt(
        "order",
        Text,
        "size|-size|lru|-lru",
        "Sort the initial queue by size or last access, ascending or (with -) descending.",
    ),
    opt(
        "pins",
        Enum(&["keep", "move"]),
        "",
        "Keep pins on the source, or move them to the target through the pin manager.",
    ),
    opt(
        "smode",
        Text,
        "same|cached|precious|removable|delete[+<owner>[(<lifetime>)]]...",
        "What happens to the source replica after a successful copy. Pinned replicas are never deleted: 'delete' makes them removable instead.",
    ),
    opt(
        "tmode",
        Text,
        "same|cached|precious[+<owner>[(<lifetime>)]]...",
        "State and sticky records of the target replica. An existing replica is only ever upgraded, never made more volatile.",
    ),
    opt("atime", Flag, "", "Give a new target replica the source's last access time."),
    opt("verify", Flag, "", "Verify the checksum when an existing target replica is updated."),
    opt("force-source-mode", Flag, "", "Let the source deliver even if it is disabled for pool-to-pool transfers."),
    opt(
        "target-deficit-mode",
        Enum(&["wait", "limit"]),
        "",
        "With fewer usable targets than -replicas: wait for targets, or complete with fewer replicas.",
    ),
    opt(
        "eager",
        Flag,
        "",
        "Create new copies rather than waiting for an offline pool that holds a copy. Permanent jobs should never be eager: restarting several pools at once would create many needless copies.",
    ),
    opt("replicas", Int, "<n>", "Number of target replicas per file (default 1)."),
    opt("exclude", List, "<glob>[,<glob>]...", "Exclude target pools whose names match."),
    opt(
        "exclude-when",
        Text,
        "<expression>",
        concat!(
            "Exclude target pools for which the expression evaluates to true. The expression may refer to the following constants:\n",
            "    source.name/target.name: pool name\n",
            "    source.cpuCost/target.cpuCost: cpu cost\n",
            "    source.free/target.free: free space in bytes\n",
            "    source.total/target.total: total space in bytes\n",
            "    source.removable/target.removable: removable space in bytes\n",
            "    source.used/target.used: used space in bytes",
        ),
    ),
    opt(
        "include",
        List,
        "<glob>[,<glob>]...",
        "Only use target pools whose names match; -include-when is then ignored.",
    ),
    opt(
        "include-when",
        Text,
        "<expression>",
        "Only include target pools for which the expression evaluates to true. See the description of -exclude-when for the list of allowed constants.",
    ),
    opt(
        "refresh",
        Long,
        "<seconds>",
        "How often the pool lists are refreshed (default: the module default, see 'migration get refresh-default').",
    ),
    opt(
        "select",
        Enum(&["proportional", "random"]),
        "",
        "How a target is chosen: weighted by available space (default), or uniformly at random.",
    ),
    opt(
        "target",
        Enum(&["pool", "pgroup", "link", "hsm"]),
        "",
        "How the targets are named: pools, pool groups (none: the source pool's group), one link, or HSM instances.",
    ),
    opt("meta-only", Flag, "", "Never create replicas; only update existing ones."),
    opt(
        "pause-when",
        Text,
        "<expression>",
        "Pause while the expression is true (symbols source.*, queue.files, queue.bytes, targets).",
    ),
    opt(
        "permanent",
        Flag,
        "",
        "Keep running and pick up replicas that arrive or change to match. Saved by 'save'. Should not be combined with -eager.",
    ),
    opt("stop-when", Text, "<expression>", "Finish when the expression becomes true."),
    opt("id", Text, "<id>", "The job id (default: the next number)."),
];

const JOB_HELP: &str = "Creates a job that copies the replicas of this pool that pass all filter options to the target pools. The job runs in the background; 'migration info' shows its progress.\n\nA job is idempotent: an existing copy on a target is found through the namespace and only updated (cached to precious, sticky records extended), never copied twice and never made more volatile. A replica that cannot be copied is put back at the end of the queue and retried.\n\nStates: INITIALIZING (scanning), RUNNING, SLEEPING (no task could start: no usable target, lists not yet known, or all queued files locked; looks again in 10 s), PAUSED, SUSPENDED, STOPPING, CANCELLING, and finally FINISHED, CANCELLED or FAILED.";

macro_rules! job_command {
    ($name:literal, $summary:literal) => {
        CommandSpec {
            name: $name,
            options: JOB_OPTIONS,
            args: ArgSpec { names: &["TARGET"], required: 0, variadic: true },
            summary: $summary,
            help: JOB_HELP,
        }
    };
}

/// Every command the module understands, for help pages and for hosts that register them.
pub const COMMANDS: &[CommandSpec] = &[
    job_command!("migration copy", "Copy replicas to other pools."),
    job_command!("migration move", "Move replicas to other pools (copy -smode=delete -pins=move -verify -atime)."),
    job_command!("migration cache", "Cache replicas on other pools (copy -tmode=cached)."),
    CommandSpec {
        name: "migration info",
        options: &[opt("json", Flag, "", "Print the job's status as JSON.")],
        args: JOB_ARG,
        summary: "Show a job's progress.",
        help: concat!(
            "Shows detailed information about a migration job. Possible job states are:\n\n",
            "   INITIALIZING   Initial scan of repository\n",
            "   RUNNING        Job runs (schedules new tasks)\n",
            "   SLEEPING       A task failed; no tasks are scheduled for 10 seconds\n",
            "   PAUSED         Pause expression evaluates to true; no tasks for 10 seconds\n",
            "   STOPPING       Stop expression evaluated to true; waiting for tasks to stop\n",
            "   SUSPENDED      Job suspended by user; no tasks are scheduled\n",
            "   CANCELLING     Job cancelled by user; waiting for tasks to stop\n",
            "   CANCELLED      Job cancelled by user; no tasks are running\n",
            "   FINISHED       Job completed\n",
            "   FAILED         Job failed (check log file for details)\n\n",
            "Job tasks may be in any of the following states:\n\n",
            "   Queued               Queued for execution\n",
            "   GettingLocations     Querying PnfsManager for file locations\n",
            "   UpdatingExistingFile Updating the state of existing target file\n",
            "   CancellingUpdate     Task cancelled, waiting for update to complete\n",
            "   InitiatingCopy       Request send to target, waiting for confirmation\n",
            "   Copying              Waiting for target to complete the transfer\n",
            "   Pinging              Ping send to target, waiting for reply\n",
            "   NoResponse           Cell connection to target lost\n",
            "   Waiting              Waiting for final confirmation from target\n",
            "   MovingPin            Waiting for pin manager to move pin\n",
            "   Cancelling           Attempting to cancel transfer\n",
            "   Cancelled            Task cancelled, file was not copied\n",
            "   Failed               The task failed\n",
            "   Done                 The task completed successfully",
        ),
    },
    CommandSpec {
        name: "migration ls",
        options: &[opt("json", Flag, "", "Print every job's status as a JSON array.")],
        args: NO_ARGS,
        summary: "List all jobs.",
        help: "One line per job: [id] STATE command.",
    },
    CommandSpec {
        name: "migration clear",
        options: &[],
        args: NO_ARGS,
        summary: "Remove finished, cancelled and failed jobs.",
        help: "Removes completed migration jobs. For reference, information about migration jobs are kept until explicitly cleared.",
    },
    CommandSpec {
        name: "migration suspend",
        options: &[],
        args: JOB_ARG,
        summary: "Suspend a job.",
        help: "Running tasks finish; no new task starts until 'migration resume'.",
    },
    CommandSpec { name: "migration resume", options: &[], args: JOB_ARG, summary: "Resume a suspended job.", help: "" },
    CommandSpec {
        name: "migration cancel",
        options: &[opt("force", Flag, "", "Also cancel running transfers.")],
        args: JOB_ARG,
        summary: "Cancel a job.",
        help: "Without -force, running tasks finish (and apply the source mode) before the job is CANCELLED.",
    },
    CommandSpec {
        name: "migration set concurrency",
        options: &[],
        args: ArgSpec { names: &["JOB", "CONCURRENCY"], required: 2, variadic: false },
        summary: "Change a job's concurrency.",
        help: "Takes effect at once; lowering it lets running tasks finish.",
    },
    CommandSpec {
        name: "migration explain",
        options: &[],
        args: JOB_ARG,
        summary: "Show why each pool is or is not a target of a job (beyond dCache).",
        help: "Lists every pool of the job's target list as the pool manager last answered it: a target with its share of the selection, or the rule that leaves it out (the source pool, an -exclude glob, -include, -exclude-when or -include-when with its value, a hot-file tag already used, offline). 'No targets' always comes with its reason.",
    },
    CommandSpec {
        name: "migration metrics",
        options: &[],
        args: NO_ARGS,
        summary: "Show the module's counters in Prometheus' text format (beyond dCache).",
        help: "Per job: files, bytes, attempts, failures, running tasks, queued and quarantined files, state; per pool: jobs by state, copy requests served, locked files.",
    },
    CommandSpec {
        name: "migration set bandwidth",
        options: &[],
        args: ArgSpec { names: &["JOB", "RATE"], required: 2, variadic: false },
        summary: "Change a job's bandwidth limit (beyond dCache).",
        help: "RATE is bytes per second with an optional K, M or G (powers of 1024); 0 removes the limit. Takes effect for the next transfer.",
    },
    CommandSpec {
        name: "migration set max-incoming",
        options: &[],
        args: ArgSpec { names: &["N"], required: 1, variadic: false },
        summary: "Limit the copies this pool accepts from other pools at once (beyond dCache).",
        help: "A copy request past the limit is answered 'busy' (10099); its source tries another target without counting a failure, and tries again later when every target is busy. 0 removes the limit.",
    },
    CommandSpec {
        name: "migration get max-incoming",
        options: &[],
        args: NO_ARGS,
        summary: "Show the limit of incoming copies (beyond dCache).",
        help: "",
    },
    CommandSpec {
        name: "migration set wire-version",
        options: &[],
        args: ArgSpec { names: &["VERSION"], required: 1, variadic: false },
        summary: "Choose the wire format of the requests this pool sends: 1 (JSON) or 2 (binary, the default).",
        help: "Every pool reads both versions and answers a request in the version it came in. While pools of a release that reads only version 1 remain, set 1 on the upgraded ones; set 2 once every pool reads it (docs/wire.md).",
    },
    CommandSpec {
        name: "migration get wire-version",
        options: &[],
        args: NO_ARGS,
        summary: "Show the wire format of the requests this pool sends.",
        help: "",
    },
    CommandSpec {
        name: "migration retry",
        options: &[],
        args: JOB_ARG,
        summary: "Retry a job's quarantined files (beyond dCache).",
        help: "Puts the files that failed -max-attempts times back into the job's queue for another round of attempts. A job that finished with quarantined files runs again.",
    },
    CommandSpec {
        name: "migration set max-attempts-default",
        options: &[],
        args: ArgSpec { names: &["N"], required: 1, variadic: false },
        summary: "Set -max-attempts of jobs created without it (beyond dCache).",
        help: "0, the initial value, retries failing files for ever, as dCache does.",
    },
    CommandSpec {
        name: "migration get max-attempts-default",
        options: &[],
        args: NO_ARGS,
        summary: "Show the default -max-attempts (beyond dCache).",
        help: "",
    },
    CommandSpec {
        name: "migration concurrency",
        options: &[],
        args: ArgSpec { names: &["JOB", "CONCURRENCY"], required: 2, variadic: false },
        summary: "Deprecated: use 'migration set concurrency'.",
        help: "",
    },
    CommandSpec {
        name: "migration set concurrency-default",
        options: &[],
        args: ArgSpec { names: &["CONCURRENCY"], required: 1, variadic: false },
        summary: "Set the concurrency of jobs created without -concurrency.",
        help: "",
    },
    CommandSpec {
        name: "migration get concurrency-default",
        options: &[],
        args: NO_ARGS,
        summary: "Show the default concurrency.",
        help: "",
    },
    CommandSpec {
        name: "migration concurrency-default",
        options: &[opt("set", Int, "<n>", "The new default.")],
        args: NO_ARGS,
        summary: "Deprecated: use 'migration set|get concurrency-default'.",
        help: "",
    },
    CommandSpec {
        name: "migration set refresh-default",
        options: &[],
        args: ArgSpec { names: &["SECONDS"], required: 1, variadic: false },
        summary: "Set the refresh period of jobs created without -refresh.",
        help: "",
    },
    CommandSpec {
        name: "migration get refresh-default",
        options: &[],
        args: NO_ARGS,
        summary: "Show the default refresh period.",
        help: "",
    },
    CommandSpec {
        name: "hotfile set replicas",
        options: &[],
        args: ArgSpec { names: &["N"], required: 1, variadic: false },
        summary: "Set the number of replicas hot-file replication creates.",
        help: "",
    },
    CommandSpec {
        name: "hotfile get replicas",
        options: &[],
        args: NO_ARGS,
        summary: "Show the hot-file replica count.",
        help: "",
    },
    CommandSpec {
        name: "hotfile set threshold",
        options: &[],
        args: ArgSpec { names: &["N"], required: 1, variadic: false },
        summary: "Set the number of concurrent readers that makes a file hot.",
        help: "",
    },
    CommandSpec {
        name: "hotfile get threshold",
        options: &[],
        args: NO_ARGS,
        summary: "Show the hot-file threshold.",
        help: "",
    },
    CommandSpec { name: "hotfile show", options: &[], args: NO_ARGS, summary: "Show the hot-file settings.", help: "" },
];

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
                    // The pool's recent pace: the fastest of its jobs over their last minute.
                    let rate = self.jobs().filter_map(|j| j.rate(now)).map(|r| r.bytes_per_second).reduce(f64::max);
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
                self.jobs.retain(|_, j| !j.state().is_terminal());
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
                let n = decode_int(args.arg(0).unwrap_or_default())?;
                self.defaults.max_incoming =
                    u32::try_from(n).map_err(|_| Error::syntax("Maximum incoming copies must not be negative."))?;
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
                let n = decode_int(args.arg(0).unwrap_or_default())?;
                self.defaults.max_attempts =
                    u32::try_from(n).map_err(|_| Error::syntax("Maximum attempts must not be negative."))?;
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
                let n = decode_long(args.arg(0).unwrap_or_default())?;
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
            // A dry run is not a job: it takes no job number and no job's id.
            _ if dry_run => format!("dry-run-{}", self.next_key),
            None => self.next_free_number(),
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
            s if s.is_terminal() => {
                self.jobs.remove(&key);
            }
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

fn decode_long(text: &str) -> Result<i64, Error> {
    syntax::decode_long(text).map_err(syntax)
}

/// Builds the job definition from a parsed `migration copy|move|cache`, checking in the
/// order of §2.1 so that the first failing check is the one dCache would report.
fn parse_definition(
    now: Millis,
    kind: JobKind,
    args: &ParsedArgs,
    recorded: String,
    refresh_default: u64,
) -> Result<JobDefinition, Error> {
    let (smode, tmode, pins, verify, atime) = match kind {
        JobKind::Move => ("delete", "same", "move", true, true),
        JobKind::Cache => ("same", "cached", "keep", false, false),
        JobKind::Copy => ("same", "same", "keep", false, false),
    };
    // 1. Framework checks left: PnfsId syntax.
    let pnfsids = match args.list("pnfsid") {
        None => None,
        Some(ids) => Some(ids.iter().map(|s| PnfsId::parse(s).map_err(syntax)).collect::<Result<Vec<_>, _>>()?),
    };
    let permanent = args.flag("permanent").unwrap_or(false);
    // 2., 3.
    if permanent && args.is_present("order") {
        return Err(Error::syntax("Permanent jobs cannot be ordered"));
    }
    if permanent && args.is_present("stop-when") {
        return Err(Error::syntax("Permanent jobs cannot have a stop condition."));
    }
    // 4.
    let replicas = args.int("replicas").unwrap_or(1);
    if replicas < 1 {
        return Err(Error::syntax("Number of replicas must be positive."));
    }
    // 5., 6.
    let pool_expression = |name: &str| -> Result<Option<Expression>, Error> {
        args.string(name).map(|t| Expression::parse(t, &Symbols::pool_predicate()).map_err(syntax)).transpose()
    };
    let exclude_when = pool_expression("exclude-when")?;
    let include_when = pool_expression("include-when")?;
    // 7., 8.
    let target_kind = match args.string("target").unwrap_or("pool") {
        "pgroup" => TargetKind::PoolGroup,
        "link" => TargetKind::Link,
        "hsm" => TargetKind::Hsm,
        _ => TargetKind::Pool,
    };
    let targets: Vec<String> = args.args().to_vec();
    if targets.is_empty() && target_kind != TargetKind::PoolGroup {
        return Err(Error::syntax(format!("target(s) required when target type is {}", target_kind.name())));
    }
    if target_kind == TargetKind::Link && targets.len() != 1 {
        return Err(Error::syntax(format!("[{}]: Only one target supported for -type=link", targets.join(", "))));
    }
    // 9. Filters.
    let state = args.string("state").map(|s| match s {
        "cached" => ReplicaState::Cached,
        _ => ReplicaState::Precious,
    });
    let size = args.string("size").map(Range::parse).transpose().map_err(Error::syntax)?;
    let accessed = args.string("accessed").map(Range::parse).transpose().map_err(Error::syntax)?;
    let sticky = args.list("sticky").map(|owners| {
        if owners.is_empty() {
            StickyFilter::Any
        } else {
            let (forbidden, required): (Vec<&String>, Vec<&String>) = owners.iter().partition(|o| o.starts_with('-'));
            StickyFilter::Owners {
                required: required.into_iter().cloned().collect(),
                forbidden: forbidden.into_iter().map(|o| o[1..].to_string()).collect(),
            }
        }
    });
    let mut filter = ReplicaFilter {
        state,
        storage_class: args.string("storage").map(str::to_string),
        cache_class: args.string("cache").map(str::to_string),
        pnfsids: None,
        sticky,
        size,
        accessed,
        access_latency: args.string("al").and_then(AccessLatency::parse),
        retention_policy: args.string("rp").and_then(RetentionPolicy::parse),
    };
    if let Some(ids) = pnfsids {
        filter = filter.with_pnfsids(ids);
    }
    // 10.
    let source_mode = Mode::parse(args.string("smode").unwrap_or(smode), now).map_err(Error::syntax)?;
    let tmode_text = args.string("tmode").unwrap_or(tmode);
    let target_mode = Mode::parse(tmode_text, now).map_err(Error::syntax)?;
    // 11.
    let order = match args.string("order") {
        None => None,
        Some(o) => Some(Order::parse(o).ok_or_else(|| Error::syntax(format!("{o}: Invalid value for option -order")))?),
    };
    // 12.
    let lifetime_expression = |name: &str| -> Result<Option<Expression>, Error> {
        args.string(name).map(|t| Expression::parse(t, &Symbols::lifetime_predicate()).map_err(syntax)).transpose()
    };
    let pause_when = lifetime_expression("pause-when")?;
    let stop_when = lifetime_expression("stop-when")?;
    // 13.
    if matches!(target_mode.state, ModeState::Delete | ModeState::Removable) {
        return Err(Error::syntax(format!("{tmode_text}: Invalid value")));
    }
    // R12 fixed: a non-positive refresh is refused before anything is created.
    let refresh = args.long("refresh").unwrap_or(refresh_default as i64);
    if refresh <= 0 {
        return Err(Error::syntax("Refresh interval must be positive."));
    }
    let globs = |name: &str| args.list(name).unwrap_or_default().iter().map(|g| Glob::new(g)).collect();
    Ok(JobDefinition {
        command_line: recorded,
        filter,
        source_mode,
        target_mode,
        move_pins: args.string("pins").unwrap_or(pins) == "move",
        verify: args.flag("verify").unwrap_or(verify),
        atime: args.flag("atime").unwrap_or(atime),
        force_source_mode: args.flag("force-source-mode").unwrap_or(false),
        eager: args.flag("eager").unwrap_or(false),
        meta_only: args.flag("meta-only").unwrap_or(false),
        permanent,
        replicas: replicas as usize,
        deficit: if args.string("target-deficit-mode") == Some("limit") {
            DeficitMode::Limit
        } else {
            DeficitMode::Wait
        },
        target_kind,
        targets,
        include: globs("include"),
        exclude: globs("exclude"),
        include_when,
        exclude_when,
        pause_when,
        stop_when,
        refresh_secs: refresh as u64,
        select: if args.string("select") == Some("random") {
            SelectionStrategy::Random
        } else {
            SelectionStrategy::Proportional
        },
        order,
        hot_file: None,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("status is always serialisable")
}

/// `HH:MM:SS` of a note, in UTC (the module has no time-zone database; see
/// docs/compatibility.md).
/// `YYYY-MM-DD HH:MM:SS`, UTC (the module carries no time-zone database).
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
