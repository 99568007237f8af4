//! What the module's commands are: every command's schema, its options with dCache's
//! categories, and its help text (spec §2, Appendix A).

use crate::syntax::{self, ArgSpec, CommandSpec, OptionKind, OptionSpec};

use OptionKind::String as Text;
use OptionKind::{Enum, Flag, Int, List};

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
        Int,
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
