//! The commands of minidcache's cells: a pool's own commands (`rep ls|rm|set|sticky ls`,
//! `pool disable|enable|set tag|unset tag`, `populate`, `put`, `get`, `wait`, `save`, `info`,
//! `hsm …`, `debug readers`; `migration …` and `hotfile …` go to the module), the pin
//! manager's and the namespace's; the pool manager's are in [`crate::pool_manager_cell`], the
//! `(local)` cell's in [`crate::local_cell`]. Schemas, parsing and help pages use the core's
//! dCache command-line conventions.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use migration_core::driver::replica_index::ReplicaCounts;
use migration_core::host::Repository as _;
use migration_core::hotfile::ProtocolInfo;
use migration_core::replica::{
    AccessLatency, Checksum, NEVER_EXPIRES, ReplicaEntry, ReplicaState, RetentionPolicy, StickyRecord,
};
use migration_core::syntax::{
    self, CommandSpec, NO_ARGS, OptionKind, OptionSpec, ParsedArgs, Word, args, lookup_by, opt,
};
use migration_core::{Error, ErrorKind, Millis, PnfsId};

#[cfg(test)]
use migration_core::syntax::lookup;

use crate::adler32::Adler32;
use crate::cell::{help_of, interpret, syntax, unknown, words_of};
use crate::cluster::Cluster;
use crate::p2p::copy_with_checksum;
use crate::pool::{PoolMode, PoolNode};
use crate::repository::{BUFFER, Reservation, ReserveError, adler32_of};

/// Reports a command's progress (a line to show in place); only given at a terminal.
pub type Progress<'a> = Option<&'a mut dyn FnMut(&str)>;

/// The cell a command is executed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// A pool.
    Pool(String),
    /// The pool manager.
    PoolManager,
    /// The pin manager.
    PinManager,
    /// The namespace.
    PnfsManager,
}

impl Cell {
    /// The cell's name as `\l` lists it.
    pub fn name(&self) -> &str {
        match self {
            Cell::Pool(name) => name,
            Cell::PoolManager => "PoolManager",
            Cell::PinManager => crate::pin_manager::CELL,
            Cell::PnfsManager => "PnfsManager",
        }
    }
}

/// Storage class of `populate` without `-storage`.
pub const DEFAULT_STORAGE_CLASS: &str = "atlas:default@osm";

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
enum PoolCommand {
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
const POOL: [(PoolCommand, CommandSpec); 20] = [
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
enum PinCommand {
    /// `pin`
    Pin,
    /// `unpin`
    Unpin,
    /// `ls`
    Ls,
}

/// Each of [`PinCommand`] with its schema, in the order `help` lists them.
const PIN_MANAGER: [(PinCommand, CommandSpec); 3] = [
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
enum PnfsCommand {
    /// `cacheinfoof`
    CacheInfoOf,
    /// `storageinfoof`
    StorageInfoOf,
}

/// Each of [`PnfsCommand`] with its schema, in the order `help` lists them.
const PNFS_MANAGER: [(PnfsCommand, CommandSpec); 2] = [
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

/// Executes `line` in `cell`; `progress`, when given, shows how long work is going.
pub fn execute(cluster: &Cluster, cell: &Cell, line: &str, progress: Progress<'_>) -> Result<String, Error> {
    match cell {
        Cell::Pool(pool) => pool_cell(cluster, pool, line, progress),
        Cell::PinManager => {
            interpret(&PIN_MANAGER, "", line, |command, args| pin_manager_command(cluster, command, args))
        }
        Cell::PnfsManager => {
            interpret(&PNFS_MANAGER, "", line, |command, args| pnfs_manager_command(cluster, command, args))
        }
        Cell::PoolManager => {
            let setup = cluster.home().pool_manager_setup();
            crate::pool_manager_cell::execute(cluster.pool_manager(), cluster.registry(), &setup, line)
        }
    }
}

/// A pool's cell: its own commands, and the migration module's, which go to its runtime.
fn pool_cell(cluster: &Cluster, pool: &str, line: &str, progress: Progress<'_>) -> Result<String, Error> {
    let words = words_of(line)?;
    let Some(first) = words.first() else { return Ok(String::new()) };
    // Like the cell of a stopped domain, a stopped pool answers nothing.
    pool_node(cluster, pool)?;
    if first.text() == "help" {
        let topic = words[1..].iter().map(Word::text).collect::<Vec<_>>().join(" ");
        return help(cluster, pool, &topic, line);
    }
    if matches!(first.text(), "migration" | "hotfile") {
        return pool_runtime(cluster, pool)?.execute(line);
    }
    let Some(((command, spec), n)) = lookup_by(&POOL, |(_, spec)| spec.name, &words) else {
        return Err(unknown(line));
    };
    let parsed = syntax::parse(spec, &words[n..]).map_err(syntax)?;
    pool_command(cluster, pool, *command, &parsed, progress)
}

fn help(cluster: &Cluster, pool: &str, topic: &str, line: &str) -> Result<String, Error> {
    let ours = help_of(POOL_COMMANDS, topic);
    if topic.is_empty() {
        // The module's commands first, then the pool's own.
        let module = pool_runtime(cluster, pool)?.execute("help")?;
        return Ok(module + &ours.unwrap_or_default());
    }
    match ours {
        Some(text) => Ok(text),
        None => pool_runtime(cluster, pool)?.execute(line),
    }
}

/// What a command to a stopped pool gets.
pub fn stopped(pool: &str) -> Error {
    Error::new(ErrorKind::Closed, format!("No route to cell {pool}: the pool is stopped"))
}

/// A running pool's node.
fn pool_node(cluster: &Cluster, pool: &str) -> Result<std::sync::Arc<PoolNode>, Error> {
    let node = cluster.pool(pool).ok_or_else(|| Error::new(ErrorKind::NotFound, format!("Cell not found: {pool}")))?;
    if !node.is_running() {
        return Err(stopped(pool));
    }
    Ok(node)
}

fn pool_runtime(
    cluster: &Cluster,
    pool: &str,
) -> Result<std::sync::Arc<migration_core::driver::runtime::Runtime>, Error> {
    cluster.runtime(pool).ok_or_else(|| stopped(pool))
}

fn parse_pnfsid(text: &str) -> Result<PnfsId, Error> {
    PnfsId::parse(text).map_err(|e| Error::syntax(format!("{text}: {e}")))
}

fn not_in_repository(pnfsid: &PnfsId) -> Error {
    Error::new(ErrorKind::NotFound, format!("Entry not in repository : {pnfsid}"))
}

fn pool_command(
    cluster: &Cluster,
    pool: &str,
    command: PoolCommand,
    args: &ParsedArgs,
    progress: Progress<'_>,
) -> Result<String, Error> {
    let node = pool_node(cluster, pool)?;
    match command {
        PoolCommand::RepLs => rep_ls(cluster, &node, args),
        PoolCommand::RepStickyLs => rep_sticky_ls(cluster, &node, args),
        PoolCommand::RepRm => rep_rm(cluster, &node, args),
        PoolCommand::RepSetSticky => rep_set_sticky(cluster, &node, args),
        PoolCommand::RepSetPrecious => rep_set_state(&node, args, ReplicaState::Precious),
        PoolCommand::RepSetCached => rep_set_state(&node, args, ReplicaState::Cached),
        PoolCommand::PoolDisable => {
            let rdonly = args.flag("rdonly").unwrap_or(false);
            let strict = args.flag("strict").unwrap_or(false);
            // Plain `pool disable` is as strict as it gets, as in dCache; -strict wins.
            let mode = if rdonly && !strict { PoolMode::ReadOnly } else { PoolMode::Strict };
            node.set_mode(mode);
            Ok(format!("Pool {} {}", node.name, mode.describe()))
        }
        PoolCommand::PoolEnable => {
            node.set_mode(PoolMode::Enabled);
            Ok(format!("Pool {} {}", node.name, PoolMode::Enabled.describe()))
        }
        PoolCommand::PoolSetTag | PoolCommand::PoolUnsetTag => {
            let tag = args.arg(0).unwrap_or_default();
            crate::tags::check("name", tag)?;
            let value = args.arg(1);
            if let Some(value) = value {
                crate::tags::check("value", value)?;
            }
            let existed = node.set_tag(tag, value).map_err(|e| io_error(crate::tags::file(&node.dir).display(), e))?;
            if value.is_none() && !existed {
                return Err(Error::new(ErrorKind::NotFound, format!("No such tag: {tag}")));
            }
            Ok(String::new())
        }
        PoolCommand::Populate => populate(cluster, &node, args),
        PoolCommand::Put => put(cluster, &node, args),
        PoolCommand::Get => get(cluster, &node, args),
        PoolCommand::Wait => wait(cluster, pool, args, progress),
        PoolCommand::Save => save_pool(cluster, &node),
        PoolCommand::Info => Ok(info(cluster, &node)),
        PoolCommand::HsmSet => {
            let instance = hsm_instance(args)?;
            node.attach_hsm(instance);
            Ok(String::new())
        }
        PoolCommand::HsmUnset => {
            let instance = hsm_instance(args)?;
            if node.detach_hsm(instance) {
                Ok(String::new())
            } else {
                Err(Error::new(ErrorKind::NotFound, format!("No such HSM instance: {instance}")))
            }
        }
        PoolCommand::HsmLs => Ok(node.hsms().iter().map(|h| format!("{h}\n")).collect()),
        PoolCommand::DebugReaders => debug_readers(cluster, &node, args),
    }
}

fn rep_ls(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    use crate::replica_listing::{self as listing, Flags, SizeUnit};
    let now = cluster.now();
    let entries = if args.args().is_empty() {
        node.repository.entries()
    } else {
        let mut entries = Vec::new();
        for text in args.args() {
            let pnfsid = parse_pnfsid(text)?;
            match node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))? {
                Some(entry) => entries.push(entry),
                None => return Err(not_in_repository(&pnfsid)),
            }
        }
        entries
    };
    let flags = Flags::parse(args.string("l").unwrap_or_default())?;
    let glob = args.string("storage").map(migration_core::glob::Glob::new);
    let listed: Vec<ReplicaEntry> = entries
        .into_iter()
        .filter(|e| listing::storage_matches(glob.as_ref(), e) && flags.keep(e, now, node.readers_of(&e.pnfsid)))
        .collect();
    if let Some(unit) = args.string("s") {
        return Ok(listing::statistics(&listed, now, SizeUnit::parse(unit)?));
    }
    Ok(listed.iter().map(|e| listing::line(e, now, node.readers_of(&e.pnfsid)) + "\n").collect())
}

fn rep_sticky_ls(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let entry = node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?;
    let entry = entry.ok_or_else(|| not_in_repository(&pnfsid))?;
    let now = cluster.now();
    Ok(entry
        .sticky
        .iter()
        .filter(|r| r.is_valid_at(now))
        .map(|r| crate::replica_listing::sticky_line(r) + "\n")
        .collect())
}

fn rep_rm(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let entry = node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?;
    let entry = entry.ok_or_else(|| not_in_repository(&pnfsid))?;
    if !args.flag("force").unwrap_or(false) {
        let sticky = entry.is_sticky_at(cluster.now());
        let why = match (entry.state == ReplicaState::Precious, sticky) {
            (true, _) => Some("precious"),
            (false, true) => Some("sticky"),
            _ => None,
        };
        if let Some(why) = why {
            return Err(Error::new(ErrorKind::State, format!("Replica {pnfsid} is {why}; use -force to remove it")));
        }
    }
    node.repository
        .set_state(&pnfsid, ReplicaState::Removed, "rep rm")
        .map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    Ok(format!("Removed {pnfsid}"))
}

fn rep_set_state(node: &PoolNode, args: &ParsedArgs, state: ReplicaState) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    if node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?.is_none() {
        return Err(not_in_repository(&pnfsid));
    }
    node.repository.set_state(&pnfsid, state, "rep set").map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    Ok(String::new())
}

fn rep_set_sticky(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let owner = args.string("o").unwrap_or("system");
    if owner.is_empty() {
        return Err(Error::syntax("Owner must not be empty"));
    }
    let on = match args.arg(1).unwrap_or_default() {
        "on" => true,
        "off" => false,
        other => return Err(Error::syntax(format!("Invalid sticky mode: {other} (expected on or off)"))),
    };
    if node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?.is_none() {
        return Err(not_in_repository(&pnfsid));
    }
    if on {
        let expire = match args.long("l") {
            None | Some(-1) => NEVER_EXPIRES,
            Some(l) if l < 0 => return Err(Error::syntax(format!("Illegal lifetime: {l}"))),
            Some(l) => cluster.now().saturating_add(l.saturating_mul(1000)),
        };
        node.repository
            .set_sticky(&pnfsid, &StickyRecord::new(owner, expire), true)
            .map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    } else {
        node.repository.remove_sticky(&pnfsid, owner);
    }
    Ok(String::new())
}

/// `n` or `min..max`.
fn parse_size(text: &str) -> Result<(u64, u64), Error> {
    let number = |t: &str| t.trim().parse::<u64>().map_err(|_| Error::syntax(format!("Invalid size: {text}")));
    let (min, max) = match text.split_once("..") {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let n = number(text)?;
            (n, n)
        }
    };
    if min > max {
        return Err(Error::syntax(format!("Invalid size range: {text}")));
    }
    Ok((min, max))
}

/// `owner` or `owner(seconds)`; seconds may be -1 (forever).
fn parse_sticky(text: &str, now: Millis) -> Result<StickyRecord, Error> {
    let bad = || Error::syntax(format!("Invalid sticky record: {text} (expected <owner>[(<seconds>)])"));
    let (owner, expire) = match text.split_once('(') {
        None => (text, NEVER_EXPIRES),
        Some((owner, rest)) => {
            let secs: i64 = rest.strip_suffix(')').ok_or_else(bad)?.parse().map_err(|_| bad())?;
            match secs {
                -1 => (owner, NEVER_EXPIRES),
                s if s < 0 => return Err(bad()),
                s => (owner, now.saturating_add(s.saturating_mul(1000))),
            }
        }
    };
    if owner.is_empty() {
        return Err(bad());
    }
    Ok(StickyRecord::new(owner, expire))
}

/// What `populate` and `put` give every new file.
struct FileTemplate {
    state: ReplicaState,
    sticky: Vec<StickyRecord>,
    last_access: Millis,
    /// `None`: no storage info (`-no-storage-info`).
    storage_class: Option<String>,
    cache_class: Option<String>,
    access_latency: AccessLatency,
    retention_policy: RetentionPolicy,
}

impl FileTemplate {
    fn parse(cluster: &Cluster, args: &ParsedArgs) -> Result<FileTemplate, Error> {
        let now = cluster.now();
        let age = args.long("age").unwrap_or(0);
        if age < 0 {
            return Err(Error::syntax(format!("Invalid age: {age}")));
        }
        let no_storage_info = args.flag("no-storage-info").unwrap_or(false);
        if no_storage_info && (args.string("storage").is_some() || args.string("cache").is_some()) {
            return Err(Error::syntax("-no-storage-info excludes -storage and -cache"));
        }
        Ok(FileTemplate {
            state: if args.string("state") == Some("cached") { ReplicaState::Cached } else { ReplicaState::Precious },
            sticky: args.string("sticky").map(|s| parse_sticky(s, now)).transpose()?.into_iter().collect(),
            last_access: now.saturating_sub(age.saturating_mul(1000)),
            storage_class: (!no_storage_info)
                .then(|| args.string("storage").unwrap_or(DEFAULT_STORAGE_CLASS).to_string()),
            cache_class: args.string("cache").filter(|c| !c.is_empty()).map(str::to_string),
            access_latency: args.string("al").and_then(AccessLatency::parse).unwrap_or(AccessLatency::Nearline),
            retention_policy: args.string("rp").and_then(RetentionPolicy::parse).unwrap_or(RetentionPolicy::Custodial),
        })
    }

    fn entry(&self, pnfsid: PnfsId, size: u64, adler32: &Adler32) -> ReplicaEntry {
        ReplicaEntry {
            pnfsid,
            state: self.state,
            sticky: self.sticky.clone(),
            size,
            last_access: self.last_access,
            storage_class: self.storage_class.clone(),
            cache_class: self.cache_class.clone(),
            access_latency: Some(self.access_latency),
            retention_policy: Some(self.retention_policy),
            checksums: vec![Checksum { kind: "ADLER32".to_string(), value: adler32.hex() }],
        }
    }
}

fn reserve(node: &PoolNode, pnfsid: PnfsId, size: u64) -> Result<Reservation, Error> {
    node.repository.reserve(pnfsid, size, node.capacity()).map_err(|e| match e {
        ReserveError::Full => Error::new(ErrorKind::State, format!("Pool {} is full", node.name)),
        ReserveError::Exists => Error::new(ErrorKind::State, format!("Replica already exists: {pnfsid}")),
        ReserveError::Io(e) => io_error(format!("cannot write {pnfsid}"), e),
    })
}

fn io_error(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Host, format!("{what}: {e}"))
}

/// Files written per database transaction by `populate`. Each holds its data file open until
/// the commit, so this also bounds the descriptors a `populate` keeps open.
const POPULATE_BATCH: usize = 256;

/// Writes `size` bytes of the stream of `seed` to `file`; returns their ADLER32.
fn write_random(mut file: &File, size: u64, seed: u64, buffer: &mut Vec<u8>) -> std::io::Result<Adler32> {
    let mut rng = migration_core::random::Rng::seeded(seed);
    let mut sum = Adler32::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(BUFFER as u64) as usize;
        buffer.clear();
        while buffer.len() < n {
            buffer.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        buffer.truncate(n);
        sum.update(buffer);
        file.write_all(buffer)?;
        left -= n as u64;
    }
    Ok(sum)
}

/// A disabled pool (`-rdonly` or `-strict`) stores nothing new.
fn check_stores(node: &PoolNode) -> Result<(), Error> {
    match node.mode() {
        PoolMode::Enabled => Ok(()),
        _ => Err(Error::new(ErrorKind::State, "Pool is disabled")),
    }
}

fn populate(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    check_stores(node)?;
    let files = args.int("files").ok_or_else(|| Error::syntax("Option -files is required"))?;
    if files < 0 {
        return Err(Error::syntax(format!("Invalid number of files: {files}")));
    }
    let (min, max) = parse_size(args.string("size").ok_or_else(|| Error::syntax("Option -size is required"))?)?;
    let template = FileTemplate::parse(cluster, args)?;
    // Sizes and contents come from the seeded generator, so a script always creates the
    // same files.
    let plan: Vec<(u64, u64)> = {
        let mut rng = cluster.rng().lock();
        (0..files)
            .map(|_| {
                let size = if min == max {
                    min
                } else {
                    let span = max - min;
                    let r = rng.next_u64();
                    min + if span == u64::MAX { r } else { r % (span + 1) }
                };
                (size, rng.next_u64())
            })
            .collect()
    };
    let needed: u64 = plan.iter().map(|(size, _)| size).sum();
    if node.repository.used().saturating_add(needed) > node.capacity() {
        return Err(Error::new(ErrorKind::State, format!("Pool {} is full", node.name)));
    }
    let ids = cluster.namespace().allocate(plan.len() as u64)?;
    // The entries live on in the pool and the namespace: made off the shell's thread (`bulk`).
    let write = || -> Result<u64, Error> {
        let mut buffer = Vec::with_capacity(BUFFER);
        let mut bytes = 0u64;
        for chunk in ids.iter().zip(&plan).collect::<Vec<_>>().chunks(POPULATE_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for (pnfsid, (size, seed)) in chunk {
                let reservation = reserve(node, **pnfsid, *size)?;
                let sum = write_random(reservation.file(), *size, *seed, &mut buffer)
                    .map_err(|e| io_error(format!("cannot write {pnfsid}"), e))?;
                batch.push((reservation, template.entry(**pnfsid, *size, &sum)));
                bytes += size;
            }
            cluster.namespace().create(batch.iter().map(|(_, e)| e.attributes()).collect())?;
            node.repository.commit(batch).map_err(|e| io_error("cannot store the files", e))?;
        }
        Ok(bytes)
    };
    let bytes =
        crate::bulk::on_its_own_thread("populate", write).map_err(|e| io_error("cannot start populate", e))??;
    Ok(format!("Created {files} files ({bytes} bytes)"))
}

fn put(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let text = args.arg(0).unwrap_or_default();
    let path = cluster.home().resolve_existing(text)?;
    check_stores(node)?;
    let template = FileTemplate::parse(cluster, args)?;
    let mut input = File::open(&path).map_err(|e| io_error(text, e))?;
    let size = input.metadata().map_err(|e| io_error(text, e))?.len();
    let pnfsid = cluster.namespace().allocate(1)?[0];
    let reservation = reserve(node, pnfsid, size)?;
    let (sum, length) = copy_with_checksum(&mut input, size, &mut reservation.file(), &AtomicBool::new(false))
        .map_err(|f| Error::new(ErrorKind::Host, f.to_string()))?;
    let entry = template.entry(pnfsid, length, &sum);
    cluster.namespace().create(vec![entry.attributes()])?;
    node.repository.commit(vec![(reservation, entry)]).map_err(|e| io_error("cannot store the file", e))?;
    Ok(format!("{pnfsid} {length} ADLER32:{}", sum.hex()))
}

fn get(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let text = args.arg(1).unwrap_or_default();
    let protocol = crate::protocol::from_options(args)?;
    let target = cluster.home().resolve_new(text, &cluster.pool_names())?;
    if node.mode() == PoolMode::Strict {
        return Err(Error::new(ErrorKind::State, "Pool is disabled"));
    }
    let opened = node.repository.open_data(&pnfsid).map_err(|e| io_error(pnfsid, e))?;
    let (entry, mut input) = opened.ok_or_else(|| not_in_repository(&pnfsid))?;
    let (_reading, readers) = node.start_reading(pnfsid);
    let runtime = pool_runtime(cluster, &node.name)?;
    runtime.call(|module, _| module.report_readers(pnfsid, i64::from(readers), protocol.as_ref()))?;

    // Written under a temporary name (never an existing file: create_new does not follow
    // links), renamed once complete and checked.
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = target.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let mut output = File::create_new(&partial).map_err(|e| io_error(text, e))?;
    let copied = copy_with_checksum(&mut input, entry.size, &mut output, &AtomicBool::new(false));
    drop(output);
    let result = copied.map_err(|f| Error::new(ErrorKind::Host, f.to_string())).and_then(|(sum, length)| {
        let recorded = cluster.namespace().file(&pnfsid).map(|f| f.attributes.checksums).unwrap_or_default();
        let expected = adler32_of(&recorded).or_else(|| adler32_of(&entry.checksums)).map(str::to_string);
        match expected {
            Some(expected) if !expected.eq_ignore_ascii_case(&sum.hex()) => Err(Error::new(
                ErrorKind::State,
                format!("Checksum mismatch for {pnfsid}: ADLER32 is {}, expected {expected}", sum.hex()),
            )),
            _ => Ok((sum, length)),
        }
    });
    let (sum, length) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &target).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io_error(text, e)
    })?;
    node.repository.touch(&pnfsid, cluster.now());
    Ok(format!("{length} bytes written to {} (ADLER32:{})", target.display(), sum.hex()))
}

fn debug_readers(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let text = args.arg(1).unwrap_or_default();
    let readers: i64 = text
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::syntax(format!("Invalid number of readers: {text}")))?;
    let protocol = crate::protocol::from_options(args)?;
    if node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?.is_none() {
        return Err(not_in_repository(&pnfsid));
    }
    let runtime = pool_runtime(cluster, &node.name)?;
    let id = migration_core::hotfile::job_id(&pnfsid);
    let job = |m: &migration_core::module::Module| m.job(&id).map(|j| (j.key, j.state().is_terminal()));
    let before = runtime.with_module(job);
    let replicates = readers >= runtime.with_module(|m| m.defaults().hotfile_threshold)
        && before.is_none_or(|(_, terminal)| terminal);
    runtime.call(|module, _| module.report_readers(pnfsid, readers, protocol.as_ref()))?;
    // The module creates the hot-file job once it has read the file's entry: a script's next
    // line (`wait hotfile-…`) must find it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while replicates && runtime.with_module(job) == before && Instant::now() < deadline {
        std::thread::sleep(WAIT_POLL);
    }
    let unit = protocol.as_ref().map_or_else(|| "*/*".to_string(), ProtocolInfo::unit);
    let net = protocol.and_then(|p| p.client).map(|c| format!(" from {c}")).unwrap_or_default();
    Ok(format!("Reported {readers} readers of {pnfsid} ({unit}{net})"))
}

fn hsm_instance(args: &ParsedArgs) -> Result<&str, Error> {
    let instance = args.arg(0).unwrap_or_default();
    if instance.is_empty() || instance.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::syntax(format!("Invalid HSM instance: {instance:?}")));
    }
    Ok(instance)
}

/// Writes `lines` to `path` atomically (a temporary file renamed over it).
fn save_pool(cluster: &Cluster, node: &PoolNode) -> Result<String, Error> {
    let mut lines = vec!["#".to_string(), format!("# Pool {} (minidcache)", node.name), "#".to_string()];
    lines.extend(node.hsms().iter().map(|h| format!("hsm set {h}")));
    lines.extend(pool_runtime(cluster, &node.name)?.with_module(|m| m.setup_lines()));
    crate::home::write_setup(&node.setup_file(), &lines)?;
    Ok(String::new())
}

/// `1.2 GB`: decimal units, as `df -H` and most transfer tools print them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn info(cluster: &Cluster, node: &PoolNode) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let now = cluster.now();
    let ReplicaCounts { files, precious, sticky, bytes: used } = node.repository.counts(now);
    let total = node.capacity();
    let (removable, _) = node.repository.removable(now);
    let c = &node.counters;
    let hsms = node.hsms();
    let mut out = String::new();
    let _ = writeln!(out, "Pool       : {} ({})", node.name, node.mode().describe());
    let _ = writeln!(out, "Files      : {files} ({precious} precious, {sticky} sticky)");
    let _ = writeln!(out, "Bytes      : {used} ({})", human(used));
    let _ = writeln!(out, "Free       : {} of {}", total.saturating_sub(node.repository.used()), total);
    let _ = writeln!(out, "Removable  : {removable}");
    let _ = writeln!(
        out,
        "P2P in     : {} files; {} bytes",
        c.received_files.load(Relaxed),
        c.received_bytes.load(Relaxed)
    );
    let _ =
        writeln!(out, "P2P out    : {} files; {} bytes", c.served_files.load(Relaxed), c.served_bytes.load(Relaxed));
    let _ = writeln!(out, "HSM        : {}", if hsms.is_empty() { "none".to_string() } else { hsms.join(",") });
    let _ = writeln!(out, "Tags       : {}", crate::tags::describe(&node.tags()));
    let _ = write!(out, "Directory  : {}", node.dir.display());
    out
}

/// How often `wait` looks at the job.
const WAIT_POLL: Duration = Duration::from_millis(10);

/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

fn wait(cluster: &Cluster, pool: &str, args: &ParsedArgs, mut progress: Progress<'_>) -> Result<String, Error> {
    let id = args.arg(0).unwrap_or_default();
    let timeout = args.long("timeout").unwrap_or(60);
    if timeout < 0 {
        return Err(Error::syntax(format!("Invalid timeout: {timeout}")));
    }
    let completed = match args.long("completed") {
        Some(n) if n < 0 => return Err(Error::syntax(format!("Invalid number of files: {n}"))),
        Some(n) => Some(n as u64),
        None => None,
    };
    let runtime = pool_runtime(cluster, pool)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(timeout as u64);
    let mut shown = started;
    // The rate is measured from the first progress line on.
    let mut base: Option<(Instant, u64)> = None;
    loop {
        let seen = runtime.with_module(|m| {
            m.job(id).map(|j| (j.state().is_terminal(), j.summary(), j.state().name(), j.statistics(), j.queued()))
        });
        match seen {
            None => return Err(Error::job_not_found()),
            Some((true, summary, ..)) => return Ok(summary),
            Some((false, summary, _, stats, _)) if completed.is_some_and(|n| stats.completed_files >= n) => {
                return Ok(summary);
            }
            Some((false, ..)) if Instant::now() >= deadline => {
                return Err(Error::new(ErrorKind::State, format!("Timed out waiting for job {id}")));
            }
            Some((false, _, state, stats, queued)) => {
                if let Some(show) = progress.as_mut()
                    && shown.elapsed() >= PROGRESS_EVERY
                {
                    shown = Instant::now();
                    let (since, bytes) = *base.get_or_insert((shown, stats.transferred));
                    let secs = since.elapsed().as_secs_f64().max(0.001);
                    let rate = stats.transferred.saturating_sub(bytes) as f64 / secs;
                    show(&format!(
                        "[{id}] {state}: {} files ({} of {}), {queued} queued, {}/s",
                        stats.completed_files,
                        human(stats.transferred),
                        human(stats.total),
                        human(rate as u64)
                    ));
                }
                std::thread::sleep(WAIT_POLL);
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC: the module's rendering, so that a pin's expiry and a job's
/// times read alike.
pub use migration_core::commands::timestamp as utc;

fn pin_manager_command(cluster: &Cluster, command: PinCommand, args: &ParsedArgs) -> Result<String, Error> {
    let pins = cluster.pin_manager();
    match command {
        PinCommand::Pin => {
            let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
            let text = args.arg(1).unwrap_or_default();
            let secs: i64 = text.parse().map_err(|_| Error::syntax(format!("Invalid lifetime: {text}")))?;
            Ok(pins.pin(pnfsid, secs)?.id.to_string())
        }
        PinCommand::Unpin => {
            let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
            match pins.unpin(&pnfsid) {
                0 => Err(Error::new(ErrorKind::NotFound, format!("File is not pinned: {pnfsid}"))),
                _ => Ok(String::new()),
            }
        }
        PinCommand::Ls => Ok(pins
            .pins()
            .iter()
            .map(|p| {
                let expiry = if p.expire == NEVER_EXPIRES { "never".to_string() } else { utc(p.expire) };
                format!("{} {} {} {expiry}\n", p.id, p.pnfsid, p.pool)
            })
            .collect()),
    }
}

fn pnfs_manager_command(cluster: &Cluster, command: PnfsCommand, args: &ParsedArgs) -> Result<String, Error> {
    match command {
        PnfsCommand::CacheInfoOf => {
            let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
            let locations = cluster
                .namespace()
                .locations(&pnfsid)
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("No such file: {pnfsid}")))?;
            Ok(locations.join(" "))
        }
        PnfsCommand::StorageInfoOf => {
            let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
            let file = cluster
                .namespace()
                .file(&pnfsid)
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("No such file: {pnfsid}")))?;
            Ok(storage_info(&file.attributes))
        }
    }
}

/// `size=…;new=false;stored=false;sClass=…;cClass=…;hsm=…;accessLatency=…;retentionPolicy=…;`,
/// dCache's `GenericStorageInfo.toString()`; nothing is on tape here, so `stored=false`.
fn storage_info(a: &migration_core::replica::FileAttributes) -> String {
    let (class, hsm) = match a.storage_class.as_deref() {
        Some(sc) => sc.rsplit_once('@').unwrap_or((sc, "-")),
        None => ("-", "-"),
    };
    let upper = |name: Option<&str>| name.map_or_else(|| "-".to_string(), str::to_ascii_uppercase);
    format!(
        "size={};new=false;stored=false;sClass={class};cClass={};hsm={hsm};accessLatency={};retentionPolicy={};",
        a.size,
        a.cache_class.as_deref().unwrap_or("-"),
        upper(a.access_latency.map(AccessLatency::name)),
        upper(a.retention_policy.map(RetentionPolicy::name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_sticky_options_parse() {
        assert_eq!(parse_size("10").expect("ok"), (10, 10));
        assert_eq!(parse_size("10..20").expect("ok"), (10, 20));
        assert!(parse_size("20..10").is_err());
        assert!(parse_size("x").is_err());
        assert_eq!(parse_sticky("lhcb", 0).expect("ok"), StickyRecord::new("lhcb", NEVER_EXPIRES));
        assert_eq!(parse_sticky("lhcb(10)", 5).expect("ok"), StickyRecord::new("lhcb", 10_005));
        assert!(parse_sticky("lhcb(x)", 0).is_err());
    }

    #[test]
    fn negative_numbers_are_arguments() {
        let words = words_of("pin 1 -1").expect("ok");
        let (spec, n) = lookup(PIN_MANAGER_COMMANDS, &words).expect("found");
        let parsed = syntax::parse(spec, &words[n..]).expect("parsed");
        assert_eq!(parsed.args(), ["1", "-1"]);
    }

    #[test]
    fn utc_formats_the_epoch_and_a_leap_day() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
    }

    #[test]
    fn human_sizes_use_decimal_units() {
        assert_eq!(human(999), "999 bytes");
        assert_eq!(human(1_234_567), "1.2 MB");
        assert_eq!(human(1_200_000_000), "1.2 GB");
    }

    #[test]
    fn each_command_has_one_row() {
        crate::cell::assert_one_row_each(&POOL);
        crate::cell::assert_one_row_each(&PIN_MANAGER);
        crate::cell::assert_one_row_each(&PNFS_MANAGER);
    }
}
