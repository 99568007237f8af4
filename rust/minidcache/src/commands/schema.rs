//! What the cells' commands are: the tables of a pool's, the pin manager's and the
//! namespace's commands, with their options and help texts.

use migration_core::syntax::{self, CommandSpec, NO_ARGS, OptionKind, OptionSpec, args, opt};

use OptionKind::String as Text;
use OptionKind::{Enum, Flag, Int, Long};

/// The options of `populate` and `put` that describe the new files.
const FILE_OPTIONS: [OptionSpec; 8] = [
    opt("storage", Text, "class", "Storage class (default: atlas:default@osm)."),
    opt("cache", Text, "class", "Cache class (default: none)."),
    opt("state", Enum(&["cached", "precious"]), "", "Replica state (default: precious)."),
    opt("sticky", Text, "owner[(seconds)]", "Add a sticky record, forever or for the lifetime."),
    opt("al", Enum(&["online", "nearline"]), "", "Access latency (default: nearline)."),
    opt("rp", Enum(&["custodial", "replica", "output"]), "", "Retention policy (default: custodial)."),
    opt("age", Long, "seconds", "Last accessed this many seconds ago (default: now)."),
    opt(
        "no-storage-info",
        Flag,
        "",
        "Without storage info (no storage or cache class), as a file whose attributes lack it: hot-file replication then has no pools to ask for.",
    ),
];

const POPULATE_OPTIONS: [OptionSpec; 10] = [
    opt("files", Int, "n", "Number of files (required)."),
    opt("size", Text, "n|min..max", "Size in bytes, fixed or uniform in the range (required)."),
    FILE_OPTIONS[0],
    FILE_OPTIONS[1],
    FILE_OPTIONS[2],
    FILE_OPTIONS[3],
    FILE_OPTIONS[4],
    FILE_OPTIONS[5],
    FILE_OPTIONS[6],
    FILE_OPTIONS[7],
];

/// How a read reached the pool (`get`, `debug readers`).
const READ_OPTIONS: [OptionSpec; 2] = [
    opt(
        "protocol",
        Text,
        "protocol/major[.minor]",
        "The read's protocol, e.g. DCap/3, xrootd/2, NFS/4.1 (default: none, protocol unit */*).",
    ),
    opt("client", Text, "address", "The client's IP address, the read's net unit (needs -protocol)."),
];

/// A pool's own commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PoolCommand {
    /// `rep ls`
    RepLs,
    /// `rep sticky ls`
    RepStickyLs,
    /// `rep rm`
    RepRm,
    /// `rep set sticky`
    RepSetSticky,
    /// `rep set precious`
    RepSetPrecious,
    /// `rep set cached`
    RepSetCached,
    /// `pool disable`
    PoolDisable,
    /// `pool enable`
    PoolEnable,
    /// `pool set tag`
    PoolSetTag,
    /// `pool unset tag`
    PoolUnsetTag,
    /// `populate`
    Populate,
    /// `put`
    Put,
    /// `get`
    Get,
    /// `wait`
    Wait,
    /// `save`
    Save,
    /// `info`
    Info,
    /// `hsm set`
    HsmSet,
    /// `hsm unset`
    HsmUnset,
    /// `hsm ls`
    HsmLs,
    /// `debug readers`
    DebugReaders,
}

/// Each of [`PoolCommand`] with its schema, in the order `help` lists them.
pub(super) const POOL: [(PoolCommand, CommandSpec); 20] = [
    (
        PoolCommand::RepLs,
        CommandSpec {
            name: "rep ls",
            options: &[
                opt(
                    "l",
                    Text,
                    "s|p|l|u|nc|e|c...",
                    "Only replicas with any of these flags: s sticky, p precious, l locked (none here), u in use, nc not cached, e error, c cached; -l alone lists all.",
                ),
                opt(
                    "storage",
                    Text,
                    "glob",
                    "Only replicas whose storage class matches (<unknown> without storage info).",
                ),
                opt(
                    "s",
                    Text,
                    "b|k|m|g|t",
                    "Per storage class statistics instead, sizes in bytes, KiB, MiB, GiB or TiB (-s alone: readable units).",
                ),
            ],
            args: args(&["PNFSID"], 0, true),
            summary: "List replicas.",
            help: "One line per replica, in repository order, as dCache prints it:\n\n    <pnfsid> <flags L(0)[n]> <size> si={<storage class>}\n\nFlags, one position each: C cached, P precious, C being written by a client, S being restored from tape, two unused positions (to client, to store), R removed, D destroyed, X sticky, E broken, one unused position. L(0)[n]: locks (always 0, as in dCache) and links (reads under way). A replica without storage info shows si={<unknown>}. Sticky records: rep sticky ls.",
        },
    ),
    (
        PoolCommand::RepStickyLs,
        CommandSpec {
            name: "rep sticky ls",
            options: &[],
            args: args(&["PNFSID"], 1, false),
            summary: "List the sticky records of a replica.",
            help: "One line per valid record: <owner> : never expires, or <owner> : expires <time (UTC)>.",
        },
    ),
    (
        PoolCommand::RepRm,
        CommandSpec {
            name: "rep rm",
            options: &[opt("force", Flag, "", "Also remove precious and sticky replicas.")],
            args: args(&["PNFSID"], 1, false),
            summary: "Remove a replica.",
            help: "Deletes the replica's data and metadata. A precious or sticky replica is only removed with -force.",
        },
    ),
    (
        PoolCommand::RepSetSticky,
        CommandSpec {
            name: "rep set sticky",
            options: &[
                opt("o", Text, "owner", "Owner of the sticky record (default: system)."),
                opt("l", Long, "seconds", "Lifetime in seconds (default: forever)."),
            ],
            args: args(&["PNFSID", "on|off"], 2, false),
            summary: "Set or remove a sticky record.",
            help: "'on' sets (or replaces) the owner's record; 'off' removes it.",
        },
    ),
    (
        PoolCommand::RepSetPrecious,
        CommandSpec {
            name: "rep set precious",
            options: &[],
            args: args(&["PNFSID"], 1, false),
            summary: "Make a replica precious.",
            help: "",
        },
    ),
    (
        PoolCommand::RepSetCached,
        CommandSpec {
            name: "rep set cached",
            options: &[],
            args: args(&["PNFSID"], 1, false),
            summary: "Make a replica cached.",
            help: "",
        },
    ),
    (
        PoolCommand::PoolDisable,
        CommandSpec {
            name: "pool disable",
            options: &[
                opt("rdonly", Flag, "", "Refuse new replicas, still serve data (also to other pools)."),
                opt("strict", Flag, "", "Refuse new replicas and do not serve data to other pools (the default)."),
            ],
            args: NO_ARGS,
            summary: "Disable the pool.",
            help: "A disabled pool refuses copies from migration jobs. A -strict pool is not a source for pool-to-pool transfers either, unless the job uses -force-source-mode.",
        },
    ),
    (
        PoolCommand::PoolEnable,
        CommandSpec { name: "pool enable", options: &[], args: NO_ARGS, summary: "Enable the pool.", help: "" },
    ),
    (
        PoolCommand::PoolSetTag,
        CommandSpec {
            name: "pool set tag",
            options: &[],
            args: args(&["NAME", "VALUE"], 2, false),
            summary: "Set a pool tag.",
            help: "Sets a tag of the pool (dCache sets them in the pool's layout: pool.tags=rack=r1 ...). The pool manager reports the tags with the pool's cost data, and hot-file replication keeps at most one replica per tag value, never one that shares a tag value with the source. Tags are written to <home>/<pool>/tags at once and survive a restart.",
        },
    ),
    (
        PoolCommand::PoolUnsetTag,
        CommandSpec {
            name: "pool unset tag",
            options: &[],
            args: args(&["NAME"], 1, false),
            summary: "Remove a pool tag.",
            help: "",
        },
    ),
    (
        PoolCommand::Populate,
        CommandSpec {
            name: "populate",
            options: &POPULATE_OPTIONS,
            args: NO_ARGS,
            summary: "Create replicas of new files on this pool.",
            help: "Each file gets a fresh PNFS id and random content (from the cluster's seeded generator), is written to the pool's data directory, and is registered in the namespace with its ADLER32 checksum.",
        },
    ),
    (
        PoolCommand::Put,
        CommandSpec {
            name: "put",
            options: &FILE_OPTIONS,
            args: args(&["LOCAL-FILE"], 1, false),
            summary: "Store a local file as a new file on this pool.",
            help: "A relative path is read from <home>/io; an absolute path must lie inside the home. Prints the new file's PNFS id, size and ADLER32 checksum.",
        },
    ),
    (
        PoolCommand::Get,
        CommandSpec {
            name: "get",
            options: &READ_OPTIONS,
            args: args(&["PNFSID", "LOCAL-FILE"], 2, false),
            summary: "Copy a replica's data to a local file.",
            help: "A relative path is written to <home>/io; an absolute path must lie inside the home, outside minidcache's own files. The data is checked against the namespace's ADLER32 checksum. The read is reported to the migration module as a mover would report it (hot-file replication), with the protocol and client given: hot-file jobs then ask the pool manager for the pools that may serve reads by that protocol unit and net unit (*/* and no net unit without them).",
        },
    ),
    (
        PoolCommand::Wait,
        CommandSpec {
            name: "wait",
            options: &[
                opt("timeout", Long, "seconds", "Give up after this many seconds (default 60)."),
                opt("completed", Long, "n", "Return as soon as the job has completed n files."),
            ],
            args: args(&["JOB"], 1, false),
            summary: "Wait until a job has ended (or completed n files).",
            help: "Blocks until the job is FINISHED, CANCELLED or FAILED (with -completed=n: or has completed n files, so that a script can act in the middle of a job) and prints its summary line. At a terminal it shows the job's progress meanwhile.",
        },
    ),
    (
        PoolCommand::Save,
        CommandSpec {
            name: "save",
            options: &[],
            args: NO_ARGS,
            summary: "Save the pool's setup.",
            help: "Writes <home>/<pool>/setup: the attached HSM instances, the migration module's changed defaults and its permanent jobs. A restarted minidcache replays it.",
        },
    ),
    (
        PoolCommand::Info,
        CommandSpec {
            name: "info",
            options: &[],
            args: NO_ARGS,
            summary: "Show the pool's summary.",
            help: "Mode, files, bytes, free space, the p2p transfers since start, HSM instances and tags.",
        },
    ),
    (
        PoolCommand::HsmSet,
        CommandSpec {
            name: "hsm set",
            options: &[],
            args: args(&["INSTANCE"], 1, false),
            summary: "Attach an HSM instance to the pool.",
            help: "Migration jobs with -target=hsm select the active pools with the instance attached.",
        },
    ),
    (
        PoolCommand::HsmUnset,
        CommandSpec {
            name: "hsm unset",
            options: &[],
            args: args(&["INSTANCE"], 1, false),
            summary: "Detach an HSM instance.",
            help: "",
        },
    ),
    (
        PoolCommand::HsmLs,
        CommandSpec {
            name: "hsm ls",
            options: &[],
            args: NO_ARGS,
            summary: "List the attached HSM instances.",
            help: "",
        },
    ),
    (
        PoolCommand::DebugReaders,
        CommandSpec {
            name: "debug readers",
            options: &READ_OPTIONS,
            args: args(&["PNFSID", "N"], 2, false),
            summary: "Test aid: report N concurrent readers of a file.",
            help: "Reports a read of the file with N concurrent readers to the migration module, as a mover would with the given protocol and client (none: protocol unit */*), so that a script can show hot-file replication. When that makes the module replicate the file, the command returns once the job hotfile-<pnfsid> exists.",
        },
    ),
];

/// A pool's own commands (the module's are in `migration_core::commands::COMMANDS`).
pub const POOL_COMMANDS: &[CommandSpec] = &syntax::schemas(&POOL);

/// The pin manager's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PinCommand {
    /// `pin`
    Pin,
    /// `unpin`
    Unpin,
    /// `ls`
    Ls,
}

/// Each of [`PinCommand`] with its schema, in the order `help` lists them.
pub(super) const PIN_MANAGER: [(PinCommand, CommandSpec); 3] = [
    (
        PinCommand::Pin,
        CommandSpec {
            name: "pin",
            options: &[],
            args: args(&["PNFSID", "SECONDS"], 2, false),
            summary: "Pin a file.",
            help: "Pins the replica on the first pool, in pool order, that holds one; -1 pins forever. Prints the pin id.",
        },
    ),
    (
        PinCommand::Unpin,
        CommandSpec {
            name: "unpin",
            options: &[],
            args: args(&["PNFSID"], 1, false),
            summary: "Remove every pin of a file.",
            help: "",
        },
    ),
    (
        PinCommand::Ls,
        CommandSpec {
            name: "ls",
            options: &[],
            args: NO_ARGS,
            summary: "List pins.",
            help: "One line per pin: <id> <pnfsid> <pool> <expiry (UTC) or never>.",
        },
    ),
];

/// The pin manager's commands.
pub const PIN_MANAGER_COMMANDS: &[CommandSpec] = &syntax::schemas(&PIN_MANAGER);

/// The namespace's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PnfsCommand {
    /// `cacheinfoof`
    CacheInfoOf,
    /// `storageinfoof`
    StorageInfoOf,
}

/// Each of [`PnfsCommand`] with its schema, in the order `help` lists them.
pub(super) const PNFS_MANAGER: [(PnfsCommand, CommandSpec); 2] = [
    (
        PnfsCommand::CacheInfoOf,
        CommandSpec {
            name: "cacheinfoof",
            options: &[],
            args: args(&["PNFSID"], 1, false),
            summary: "Show the pools that hold a replica of a file.",
            help: "",
        },
    ),
    (
        PnfsCommand::StorageInfoOf,
        CommandSpec {
            name: "storageinfoof",
            options: &[],
            args: args(&["PNFSID"], 1, false),
            summary: "Show a file's storage info.",
            help: "As dCache's GenericStorageInfo prints it: size, storage class and HSM, cache class, access latency and retention policy (- where the file has none).",
        },
    ),
];

/// The namespace's commands.
pub const PNFS_MANAGER_COMMANDS: &[CommandSpec] = &syntax::schemas(&PNFS_MANAGER);
