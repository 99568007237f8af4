//! A job's definition: everything `migration copy|move|cache` fixed when the job was created.
//! Immutable for the life of the job; only the concurrency can change (spec §2.1).

use crate::expr::Expression;
use crate::filter::ReplicaFilter;
use crate::glob::Glob;
use crate::mode::Mode;
use crate::selection::SelectionStrategy;

/// Initial queue order (`-order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending size.
    Size,
    /// Descending size.
    SizeDescending,
    /// Least recently used first.
    Lru,
    /// Most recently used first.
    LruDescending,
}

impl Order {
    /// Parses `size`, `-size`, `lru`, `-lru`.
    pub fn parse(text: &str) -> Option<Order> {
        Some(match text {
            "size" => Order::Size,
            "-size" => Order::SizeDescending,
            "lru" => Order::Lru,
            "-lru" => Order::LruDescending,
            _ => return None,
        })
    }
}

/// How the target arguments are read (`-target`, §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Pool names.
    Pool,
    /// Pool group names (or none: the source pool's own group).
    PoolGroup,
    /// One link name.
    Link,
    /// HSM instance names.
    Hsm,
    /// Pools that may serve reads of the file (hot-file jobs only, §12).
    Readers,
}

impl TargetKind {
    /// The option value.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Pool => "pool",
            TargetKind::PoolGroup => "pgroup",
            TargetKind::Link => "link",
            TargetKind::Hsm => "hsm",
            TargetKind::Readers => "readers",
        }
    }
}

/// What to do when fewer targets exist than replicas requested (§5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeficitMode {
    /// Keep trying; sleep while there is no target.
    Wait,
    /// Complete with fewer replicas.
    Limit,
}

/// The immutable part of a job.
#[derive(Debug, Clone)]
pub struct JobDefinition {
    /// The command line as recorded (what `ls`, `info` and `save` print).
    pub command_line: String,
    /// Which replicas to select.
    pub filter: ReplicaFilter,
    /// What happens to the source replica after a successful task.
    pub source_mode: Mode,
    /// State and sticky records of the target replica.
    pub target_mode: Mode,
    /// `-pins=move`.
    pub move_pins: bool,
    /// `-verify`.
    pub verify: bool,
    /// `-atime`.
    pub atime: bool,
    /// `-force-source-mode`.
    pub force_source_mode: bool,
    /// `-eager`.
    pub eager: bool,
    /// `-meta-only`.
    pub meta_only: bool,
    /// `-permanent`.
    pub permanent: bool,
    /// `-replicas`.
    pub replicas: usize,
    /// `-target-deficit-mode`.
    pub deficit: DeficitMode,
    /// `-target`.
    pub target_kind: TargetKind,
    /// The target arguments.
    pub targets: Vec<String>,
    /// `-include` globs.
    pub include: Vec<Glob>,
    /// `-exclude` globs (the source pool is added when the job is created).
    pub exclude: Vec<Glob>,
    /// `-include-when`.
    pub include_when: Option<Expression>,
    /// `-exclude-when`.
    pub exclude_when: Option<Expression>,
    /// `-pause-when`.
    pub pause_when: Option<Expression>,
    /// `-stop-when`.
    pub stop_when: Option<Expression>,
    /// `-refresh`, seconds.
    pub refresh_secs: u64,
    /// `-select`.
    pub select: SelectionStrategy,
    /// `-order`.
    pub order: Option<Order>,
    /// Hot-file jobs: what the read-pool query needs; also turns on the tag constraint.
    pub hot_file: Option<HotFileQuery>,
}

/// The read request that made a file hot (§12.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotFileQuery {
    /// The file, with its storage info.
    pub attributes: crate::replica::FileAttributes,
    /// `<protocol>/<major>[.<minor>]` or `*/*`.
    pub protocol: String,
    /// The client's address, or empty.
    pub net: String,
}
