//! What the drivers feed the module: the [`Input`]s, the typed [`Answer`]s to its requests and
//! the repository's [`RepositoryEvent`]s. Each answers an [`Effect`](crate::effect::Effect)
//! or reports something the pool saw.

use crate::PoolName;
use crate::effect::{ChangePurpose, EntryPurpose, InboundId, JobKey, Token};
use crate::error::{Error, ErrorKind, Failure, Outcome};
use crate::host::PoolList;
use crate::host::RepositoryError;
use crate::message::RequestId;
use crate::pnfsid::PnfsId;
use crate::queue::ScannedFiles;
use crate::replica::{ReplicaEntry, ReplicaState};

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

impl RepositoryEvent {
    /// A state change, from the entry before it (`None`: a new replica) and after it.
    pub fn state_changed(before: Option<ReplicaEntry>, after: ReplicaEntry) -> Result<RepositoryEvent, Error> {
        if let Some(before) = &before {
            same_file(before, &after)?;
        }
        Ok(RepositoryEvent::StateChanged {
            old: before.map_or(ReplicaState::New, |b| b.state),
            new: after.state,
            entry: after,
        })
    }

    /// A change of sticky records.
    pub fn sticky_changed(old: ReplicaEntry, new: ReplicaEntry) -> Result<RepositoryEvent, Error> {
        same_file(&old, &new)?;
        Ok(RepositoryEvent::StickyChanged { old, new })
    }

    /// A change of the access time.
    pub fn access_time_changed(old: ReplicaEntry, new: ReplicaEntry) -> Result<RepositoryEvent, Error> {
        same_file(&old, &new)?;
        Ok(RepositoryEvent::AccessTimeChanged { old, new })
    }

    /// Checks an event a binding decoded whole: its entries before and after are one file.
    /// An event about two files is the host's bug; both bindings refuse it with this error
    /// rather than let the module act on half of it.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            RepositoryEvent::StateChanged { .. } => Ok(()),
            RepositoryEvent::StickyChanged { old, new } | RepositoryEvent::AccessTimeChanged { old, new } => {
                same_file(old, new)
            }
        }
    }
}

fn same_file(before: &ReplicaEntry, after: &ReplicaEntry) -> Result<(), Error> {
    if before.pnfsid != after.pnfsid {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("before is {} but after is {}", before.pnfsid, after.pnfsid),
        ));
    }
    Ok(())
}

/// A repository entry as an [`Input`] carries it: boxed, because a drive step moves its
/// input several times and an entry alone is twice the size of any other input.
pub type EntryResult = Result<Option<Box<ReplicaEntry>>, String>;

/// A read of `asked`, refused if the repository answered another file's entry (a stale cache,
/// an id mixed up in a binding): acted on, a target would confirm a copy of `asked` on another
/// replica, and the move that asked would then delete `asked`'s source. The module checks
/// every read it is given; [`remove_if_unchanged_in_two_steps`](crate::host::remove_if_unchanged_in_two_steps)
/// checks its own.
pub fn entry_of(asked: &PnfsId, result: EntryResult) -> EntryResult {
    match result {
        Ok(Some(entry)) if entry.pnfsid != *asked => Err(crate::host::another_file(&entry.pnfsid, asked)),
        other => other,
    }
}

/// Something that happened, fed to the module by its driver.
///
/// Kept small (large payloads are boxed): drivers queue and move inputs by value, and a
/// move of more than a few cache lines is a `memcpy`.
#[derive(Debug, Clone)]
pub enum Input {
    /// The pool finished starting: jobs still `NEW` start.
    PoolStarted,
    /// A repository change (boxed: it holds two entries, and every input is as large as the
    /// largest).
    Repository(Box<RepositoryEvent>),
    /// The repository finished loading: jobs waiting for it scan it now.
    RepositoryLoaded,
    /// Result of [`Effect::Scan`](crate::effect::Effect::Scan): matching files with their sizes, in queue order.
    Scanned {
        /// The job.
        job: JobKey,
        /// Files, packed and indexed for the job's queue, or the scan's error (boxed: one
        /// scan per job, not worth every input's size).
        result: Result<Box<ScannedFiles>, RepositoryError>,
    },
    /// Result of [`Effect::ReadEntry`](crate::effect::Effect::ReadEntry) (`None`: no such replica).
    Entry {
        /// Why it was read.
        purpose: EntryPurpose,
        /// The entry.
        result: EntryResult,
    },
    /// Result of [`Effect::Change`](crate::effect::Effect::Change).
    Changed {
        /// Why.
        purpose: ChangePurpose,
        /// The first error, if any.
        result: Result<(), RepositoryError>,
    },
    /// Result of [`Effect::InspectCopy`](crate::effect::Effect::InspectCopy).
    CopyInspected {
        /// The copy request.
        request: RequestId,
        /// The pool's mode at the time of the request.
        accepts_copies: bool,
        /// The local entry (`None`: no replica); not read when copies are refused.
        entry: EntryResult,
    },
    /// Result of [`Effect::VerifyChecksum`](crate::effect::Effect::VerifyChecksum).
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
        from: PoolName,
        /// The encoded message.
        bytes: Vec<u8>,
        /// Where the answer goes.
        reply: Option<InboundId>,
    },
}

impl Input {
    /// [`Input::Repository`] for `event`.
    pub fn repository(event: RepositoryEvent) -> Input {
        Input::Repository(Box::new(event))
    }

    /// [`Input::Scanned`] for a scan's result.
    pub fn scanned(job: JobKey, result: Result<ScannedFiles, RepositoryError>) -> Input {
        Input::Scanned { job, result: result.map(Box::new) }
    }

    /// [`Input::Entry`] for the repository's answer.
    pub fn entry(purpose: EntryPurpose, result: Result<Option<ReplicaEntry>, String>) -> Input {
        Input::Entry { purpose, result: boxed(result) }
    }

    /// [`Input::CopyInspected`] for the pool's mode and the repository's answer.
    pub fn copy_inspected(
        request: RequestId,
        accepts_copies: bool,
        entry: Result<Option<ReplicaEntry>, String>,
    ) -> Input {
        Input::CopyInspected { request, accepts_copies, entry: boxed(entry) }
    }
}

fn boxed(result: Result<Option<ReplicaEntry>, String>) -> EntryResult {
    result.map(|entry| entry.map(Box::new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TaskReply;
    use crate::error::ReturnCode;
    use crate::job::task_reply_event;
    use crate::task::TaskEvent;

    fn entry(id: &str, state: ReplicaState) -> ReplicaEntry {
        ReplicaEntry::new(PnfsId::parse(id).expect("valid id"), state, 10, 0)
    }

    #[test]
    fn an_event_about_two_files_is_an_invalid_argument() {
        let (a, b) = (entry("A", ReplicaState::Cached), entry("B", ReplicaState::Cached));
        for event in [
            RepositoryEvent::state_changed(Some(a.clone()), b.clone()),
            RepositoryEvent::sticky_changed(a.clone(), b.clone()),
            RepositoryEvent::access_time_changed(a.clone(), b.clone()),
        ] {
            let e = event.expect_err("two files");
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert_eq!(e.message, format!("before is {} but after is {}", a.pnfsid, b.pnfsid));
        }
        let decoded = RepositoryEvent::StickyChanged { old: b.clone(), new: a.clone() };
        let e = decoded.validate().expect_err("two files");
        assert_eq!(e.message, format!("before is {} but after is {}", b.pnfsid, a.pnfsid));
        let created = RepositoryEvent::state_changed(None, a.clone()).expect("a new replica");
        assert_eq!(
            created,
            RepositoryEvent::StateChanged { old: ReplicaState::New, new: ReplicaState::Cached, entry: a }
        );
        assert!(created.validate().is_ok());
    }

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
