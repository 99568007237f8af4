//! What the module asks its drivers to do: the [`Effect`]s, and the ids that tie an effect to
//! the [`Input`](crate::input::Input) that answers it. The module itself does no I/O; a driver
//! (tokio in production, the simulator in tests) executes effects against the host and feeds
//! the results back as inputs.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::definition::Order;
use crate::filter::ReplicaFilter;
use crate::host::{P2pRequest, PinMove, PoolSelection};
use crate::message::{Reply, RequestId, WireVersion, encode_as};
use crate::mode::RepositoryChange;
use crate::pnfsid::PnfsId;
use crate::{Millis, PoolName};

/// A job's internal identity; unlike its id it is never reused (`-id` may replace a job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey(pub u64);

/// Identifies an outstanding asynchronous request; its answer comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

/// Identifies an inbound request whose answer the module owes (a reply to another pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundId(pub u64);

/// An answer the module owes, and the wire version to give it in: the version the request
/// came in, so that a pool that reads only an older version understands its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    /// The request.
    pub id: InboundId,
    /// Its wire version.
    pub wire: WireVersion,
}

impl Inbound {
    /// The effect that sends `reply` as the answer.
    pub fn respond(self, reply: &Reply) -> Effect {
        Effect::Respond { inbound: self.id, reply: encode_as(reply, self.wire) }
    }
}

/// Why the module wants to read an entry of the local repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPurpose {
    /// To create the task for a file the scheduler took from the queue.
    StartTask {
        /// The job.
        job: JobKey,
        /// The file.
        pnfsid: PnfsId,
    },
    /// To apply the source mode after a successful task.
    SourceMode {
        /// The job.
        job: JobKey,
        /// The file.
        pnfsid: PnfsId,
    },
    /// To create the hot-file job of a file read by many clients.
    HotFile {
        /// The file.
        pnfsid: PnfsId,
    },
}

/// Why the module wants to change the local repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangePurpose {
    /// The source mode after a successful task.
    SourceMode {
        /// The job.
        job: JobKey,
        /// The file.
        pnfsid: PnfsId,
    },
    /// On the target: updating an existing replica.
    ServerUpdate {
        /// The copy request.
        request: RequestId,
    },
}

/// Memory the module let go of, for its driver to free once the module's lock is released.
///
/// A large free can make glibc merge every small chunk that other threads have freed into the
/// same arena: in minidcache, after `populate` had made a million files' entries on one thread,
/// such a merge took 50–185 ms when a job's queue dropped its dead prefix, and under the
/// module's lock it stalled `migration info` and every message for as long. A clone shares
/// the memory, which is freed with the last one.
#[derive(Clone)]
pub struct Released {
    #[expect(dead_code, reason = "held only to be dropped")]
    memory: Arc<dyn Any + Send + Sync>,
    bytes: usize,
}

impl Released {
    /// Wraps `memory`, which holds about `bytes` of heap.
    pub fn new(memory: impl Any + Send + Sync, bytes: usize) -> Released {
        Released { memory: Arc::new(memory), bytes }
    }

    /// The heap it holds, roughly.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl std::fmt::Debug for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Released({} bytes)", self.bytes)
    }
}

/// Something the module asks its driver to do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Scan the repository: every entry passing `filter` at `now`, in repository order or
    /// sorted by `order`; answer [`Input::Scanned`](crate::input::Input::Scanned).
    Scan {
        /// The job.
        job: JobKey,
        /// Which replicas.
        filter: Arc<ReplicaFilter>,
        /// Sorting.
        order: Option<Order>,
        /// Evaluation time of `-accessed`.
        now: Millis,
        /// The key of the job's queue index, to index the files beside the scan.
        queue_seed: u64,
        /// Set once the job leaves INITIALIZING (cancelled, say): the scan may stop early,
        /// its result no longer wanted (§3.2).
        stop: Arc<AtomicBool>,
    },
    /// Read one entry; answer [`Input::Entry`](crate::input::Input::Entry).
    ReadEntry {
        /// Why.
        purpose: EntryPurpose,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Apply changes in order, stopping at the first error; answer [`Input::Changed`](crate::input::Input::Changed).
    Change {
        /// Why.
        purpose: ChangePurpose,
        /// The file.
        pnfsid: PnfsId,
        /// The changes.
        changes: Vec<RepositoryChange>,
    },
    /// On the target, for a copy request: ask the pool's mode and, if it accepts copies, read
    /// the local entry; answer [`Input::CopyInspected`](crate::input::Input::CopyInspected).
    InspectCopy {
        /// The copy request.
        request: RequestId,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Verify a replica's checksum (may be slow); answer [`Input::Verified`](crate::input::Input::Verified).
    VerifyChecksum {
        /// The copy request.
        request: RequestId,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Ask the namespace for cache locations; answer [`Input::Reply`](crate::input::Input::Reply) with `Locations`.
    QueryLocations {
        /// Answer token.
        token: Token,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Ask the pool manager for pools; answer with `Pools`.
    QueryPools {
        /// Answer token.
        token: Token,
        /// Which pools.
        selection: PoolSelection,
    },
    /// Ask the pool manager for the groups of a pool; answer with `Groups`.
    QueryGroups {
        /// Answer token.
        token: Token,
        /// The pool.
        pool: String,
    },
    /// Send an encoded message to another pool's module; with a token, answer with `Bytes`.
    Send {
        /// The pool.
        to: PoolName,
        /// Encoded [`crate::message::Message`].
        message: Vec<u8>,
        /// Present when a reply is expected.
        token: Option<Token>,
    },
    /// Answer an inbound request with an encoded [`crate::message::Reply`].
    Respond {
        /// The request.
        inbound: InboundId,
        /// The encoded reply.
        reply: Vec<u8>,
    },
    /// Ask the pin manager to move pins; answer with `Done`.
    MovePins {
        /// Answer token.
        token: Token,
        /// What to move.
        request: PinMove,
    },
    /// Start a pool-to-pool transfer on this pool; answer with `Done`.
    StartP2p {
        /// Answer token.
        token: Token,
        /// The transfer.
        request: P2pRequest,
    },
    /// Abort a transfer started by `StartP2p`.
    CancelP2p {
        /// The transfer.
        id: RequestId,
    },
    /// Drop this memory after the module's lock is released; there is nothing to answer.
    Release(Released),
}
