//! The module's conversation with its drivers: the [`Input`]s it is fed and the [`Effect`]s
//! it asks for. The module itself does no I/O; a driver (tokio in production, the simulator
//! in tests) executes effects against the host and feeds the results back as inputs.

use std::sync::Arc;

use crate::Millis;
use crate::definition::Order;
use crate::error::{Failure, Outcome};
use crate::filter::ReplicaFilter;
use crate::host::{P2pRequest, PinMove, PoolList, PoolSelection, RepositoryError};
use crate::message::RequestId;
use crate::mode::RepositoryChange;
use crate::pnfsid::PnfsId;
use crate::replica::{ReplicaEntry, ReplicaState};

/// A job's internal identity; unlike its id it is never reused (`-id` may replace a job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey(pub u64);

/// Identifies an outstanding asynchronous request; its answer comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

/// Identifies an inbound request whose answer the module owes (a reply to another pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundId(pub u64);

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

/// Something the module asks its driver to do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Scan the repository: every entry passing `filter` at `now`, in repository order or
    /// sorted by `order`; answer [`Input::Scanned`].
    Scan {
        /// The job.
        job: JobKey,
        /// Which replicas.
        filter: Arc<ReplicaFilter>,
        /// Sorting.
        order: Option<Order>,
        /// Evaluation time of `-accessed`.
        now: Millis,
    },
    /// Read one entry; answer [`Input::Entry`].
    ReadEntry {
        /// Why.
        purpose: EntryPurpose,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Apply changes in order, stopping at the first error; answer [`Input::Changed`].
    Change {
        /// Why.
        purpose: ChangePurpose,
        /// The file.
        pnfsid: PnfsId,
        /// The changes.
        changes: Vec<RepositoryChange>,
    },
    /// On the target, for a copy request: ask the pool's mode and, if it accepts copies, read
    /// the local entry; answer [`Input::CopyInspected`].
    InspectCopy {
        /// The copy request.
        request: RequestId,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Verify a replica's checksum (may be slow); answer [`Input::Verified`].
    VerifyChecksum {
        /// The copy request.
        request: RequestId,
        /// The file.
        pnfsid: PnfsId,
    },
    /// Ask the namespace for cache locations; answer [`Input::Reply`] with `Locations`.
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
        to: String,
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
}

/// The successful answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Cache locations.
    Locations(Vec<String>),
    /// A pool list.
    Pools(PoolList),
    /// Pool group names.
    Groups(Vec<String>),
    /// A reply message from another pool.
    Bytes(Vec<u8>),
    /// The operation succeeded.
    Done,
}

impl Answer {
    /// The variant's name, for error messages.
    fn kind(&self) -> &'static str {
        match self {
            Answer::Locations(_) => "locations",
            Answer::Pools(_) => "a pool list",
            Answer::Groups(_) => "pool groups",
            Answer::Bytes(_) => "a message",
            Answer::Done => "done",
        }
    }

    /// The answer as the variant a request expects (`pick`); any other variant is a routing
    /// bug, reported as an internal failure rather than read as an empty answer or a success.
    pub fn expect<T>(outcome: Outcome<Answer>, wanted: &str, pick: fn(Answer) -> Option<T>) -> Outcome<T> {
        let answer = outcome?;
        let kind = answer.kind();
        pick(answer).ok_or_else(|| {
            let text = format!("internal error: a request for {wanted} was answered with {kind}");
            tracing::error!(target: "org.dcache.pool.migration.MigrationModule", "{text}");
            Failure::error(crate::error::ReturnCode::INTERNAL, text)
        })
    }
}

/// A change in the local repository (§1.6).
#[derive(Debug, Clone, PartialEq)]
pub enum RepositoryEvent {
    /// The replica changed state (also reported for every replica while the pool loads).
    StateChanged {
        /// Before.
        old: ReplicaState,
        /// After.
        new: ReplicaState,
        /// The entry after the change.
        entry: ReplicaEntry,
    },
    /// Sticky records changed.
    StickyChanged {
        /// Before.
        old: ReplicaEntry,
        /// After.
        new: ReplicaEntry,
    },
    /// The access time changed.
    AccessTimeChanged {
        /// Before.
        old: ReplicaEntry,
        /// After.
        new: ReplicaEntry,
    },
}

/// Something that happened, fed to the module by its driver.
#[derive(Debug, Clone)]
pub enum Input {
    /// The pool finished starting: jobs still `NEW` start.
    PoolStarted,
    /// A repository change.
    Repository(RepositoryEvent),
    /// The repository finished loading: jobs waiting for it scan it now.
    RepositoryLoaded,
    /// Result of [`Effect::Scan`]: matching files with their sizes, in queue order.
    Scanned {
        /// The job.
        job: JobKey,
        /// Files or the scan's error.
        result: Result<Vec<(PnfsId, u64)>, RepositoryError>,
    },
    /// Result of [`Effect::ReadEntry`] (`None`: no such replica).
    Entry {
        /// Why it was read.
        purpose: EntryPurpose,
        /// The entry.
        result: Result<Option<ReplicaEntry>, String>,
    },
    /// Result of [`Effect::Change`].
    Changed {
        /// Why.
        purpose: ChangePurpose,
        /// The first error, if any.
        result: Result<(), RepositoryError>,
    },
    /// Result of [`Effect::InspectCopy`].
    CopyInspected {
        /// The copy request.
        request: RequestId,
        /// The pool's mode at the time of the request.
        accepts_copies: bool,
        /// The local entry (`None`: no replica); not read when copies are refused.
        entry: Result<Option<ReplicaEntry>, String>,
    },
    /// Result of [`Effect::VerifyChecksum`].
    Verified {
        /// The copy request.
        request: RequestId,
        /// The verification outcome.
        result: Result<(), Failure>,
    },
    /// The answer to a request sent with `token`.
    Reply {
        /// The request.
        token: Token,
        /// Its outcome.
        outcome: Outcome<Answer>,
    },
    /// Bytes another pool's module sent; `reply` is set when an answer is expected.
    Message {
        /// The sending pool (as the transport knows it).
        from: String,
        /// The encoded message.
        bytes: Vec<u8>,
        /// Where the answer goes.
        reply: Option<InboundId>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TaskReply;
    use crate::error::ReturnCode;
    use crate::job::task_reply_event;
    use crate::task::TaskEvent;

    /// A routing mistake must fail loudly: a copy request "answered" with a pool list would
    /// otherwise read as a successful copy, and a pool list answered with locations as an
    /// empty list.
    #[test]
    fn an_answer_of_the_wrong_kind_is_an_internal_failure() {
        let internal = |o: &Outcome<()>| matches!(o, Err(Failure::Error { code: ReturnCode::INTERNAL, .. }));
        match task_reply_event(TaskReply::Copy, Ok(Answer::Done)) {
            TaskEvent::CopyReply(o) => assert!(internal(&o), "{o:?}"),
            other => panic!("{other:?}"),
        }
        match task_reply_event(TaskReply::PinMove, Ok(Answer::Bytes(vec![]))) {
            TaskEvent::PinsMoved(o) => assert!(internal(&o), "{o:?}"),
            other => panic!("{other:?}"),
        }
        match task_reply_event(TaskReply::Locations, Ok(Answer::Pools(PoolList::default()))) {
            TaskEvent::Locations(Err(Failure::Error { code, cause })) => {
                assert_eq!(code, ReturnCode::INTERNAL);
                assert_eq!(cause, "internal error: a request for locations was answered with a pool list");
            }
            other => panic!("{other:?}"),
        }
        let pools = Answer::expect(Ok(Answer::Groups(vec![])), "a pool list", |a| match a {
            Answer::Pools(p) => Some(p),
            _ => None,
        });
        assert!(pools.is_err());
        assert_eq!(Answer::expect(Ok(Answer::Done), "done", |a| matches!(a, Answer::Done).then_some(())), Ok(()));
    }
}
