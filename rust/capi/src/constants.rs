//! Every number of the ABI: its version, error codes, and the integer values of the
//! enumerations that cross it. Numbers are never changed, only added; `tests` below pins the
//! error codes to the core's `migration_core::ErrorKind` numbers.
//!
//! cbindgen writes these as `#define`s, so they must stay literals.

use crate::error::invalid;

/// The version of this ABI. A host checks `dcm_abi_version() == DCM_ABI_VERSION` at
/// start-up: a library with another version has incompatible structs or functions.
pub const DCM_ABI_VERSION: u32 = 4;

/// Error code: a malformed command line or invalid option value; nothing changed.
pub const DCM_ERROR_SYNTAX: u32 = 1;
/// Error code: an unknown job (`Job not found`).
pub const DCM_ERROR_NOT_FOUND: u32 = 2;
/// Error code: the job's state does not allow the command.
pub const DCM_ERROR_STATE: u32 = 3;
/// Error code: a bug or unexpected failure inside the library (a caught panic, too).
pub const DCM_ERROR_INTERNAL: u32 = 4;
/// Error code: an invalid argument: NULL pointer, unknown enumeration value, invalid UTF-8,
/// unknown or already completed token.
pub const DCM_ERROR_INVALID_ARGUMENT: u32 = 5;
/// Error code: the handle was freed (or never existed).
pub const DCM_ERROR_CLOSED: u32 = 6;
/// Error code: a host callback failed.
pub const DCM_ERROR_HOST: u32 = 7;
/// Error code: a call from inside one of the module's own callbacks that cannot be served
/// there (freeing the module).
pub const DCM_ERROR_REENTRANT: u32 = 8;
/// Error code: the feature exists in dCache but is not built yet.
pub const DCM_ERROR_UNSUPPORTED: u32 = 9;

/// Replica state: no such replica.
pub const DCM_STATE_NEW: i32 = 0;
/// Replica state: being written by a client.
pub const DCM_STATE_FROM_CLIENT: i32 = 1;
/// Replica state: being written by a pool-to-pool transfer.
pub const DCM_STATE_FROM_POOL: i32 = 2;
/// Replica state: being restored from tape.
pub const DCM_STATE_FROM_STORE: i32 = 3;
/// Replica state: damaged.
pub const DCM_STATE_BROKEN: i32 = 4;
/// Replica state: a cached copy (garbage-collectable unless sticky).
pub const DCM_STATE_CACHED: i32 = 5;
/// Replica state: the only copy until flushed to tape.
pub const DCM_STATE_PRECIOUS: i32 = 6;
/// Replica state: deleted; the entry is going away.
pub const DCM_STATE_REMOVED: i32 = 7;
/// Replica state: gone.
pub const DCM_STATE_DESTROYED: i32 = 8;

/// Access latency not known.
pub const DCM_ACCESS_LATENCY_UNKNOWN: i32 = 0;
/// Access latency ONLINE.
pub const DCM_ACCESS_LATENCY_ONLINE: i32 = 1;
/// Access latency NEARLINE.
pub const DCM_ACCESS_LATENCY_NEARLINE: i32 = 2;

/// Retention policy not known.
pub const DCM_RETENTION_POLICY_UNKNOWN: i32 = 0;
/// Retention policy CUSTODIAL.
pub const DCM_RETENTION_POLICY_CUSTODIAL: i32 = 1;
/// Retention policy REPLICA.
pub const DCM_RETENTION_POLICY_REPLICA: i32 = 2;
/// Retention policy OUTPUT.
pub const DCM_RETENTION_POLICY_OUTPUT: i32 = 3;

/// Failure kind: the service answered with an error (`code`, `cause`).
pub const DCM_FAILURE_ERROR: i32 = 0;
/// Failure kind: no answer in time.
pub const DCM_FAILURE_TIMEOUT: i32 = 1;
/// Failure kind: the peer cannot be reached.
pub const DCM_FAILURE_NO_ROUTE: i32 = 2;

/// Repository status: done.
pub const DCM_REPOSITORY_OK: i32 = 0;
/// Repository status: no such replica.
pub const DCM_REPOSITORY_NOT_FOUND: i32 = 1;
/// Repository status: the change is not allowed from the replica's state (message in errbuf).
pub const DCM_REPOSITORY_ILLEGAL_TRANSITION: i32 = 2;
/// Repository status: any other failure, I/O for example (message in errbuf).
pub const DCM_REPOSITORY_OTHER: i32 = 3;
/// Repository status, from `for_each` only: the repository is still loading at pool start
/// (dCache's repository throws `IllegalStateException` then). Jobs wait instead of failing;
/// report each replica as a state change while loading, then call
/// `dcm_module_repository_loaded`.
pub const DCM_REPOSITORY_NOT_LOADED: i32 = 4;
/// Repository status, from `remove_if_unchanged` and `set_state_if_unchanged` only: the
/// replica is not as the module saw it, and nothing changed.
pub const DCM_REPOSITORY_CHANGED: i32 = 5;

/// Message kind: create or update a replica (dCache's `PoolMigrationCopyReplicaMessage`).
pub const DCM_MESSAGE_COPY: i32 = 0;
/// Message kind: does the target still work on a request (`PoolMigrationPingMessage`).
pub const DCM_MESSAGE_PING: i32 = 1;
/// Message kind: abort a request (`PoolMigrationCancelMessage`).
pub const DCM_MESSAGE_CANCEL: i32 = 2;
/// Message kind: the target finished a request (`PoolMigrationCopyFinishedMessage`).
pub const DCM_MESSAGE_COPY_FINISHED: i32 = 3;
/// Message kind: cancel a job, answered once it has ended (`PoolMigrationJobCancelMessage`).
pub const DCM_MESSAGE_JOB_CANCEL: i32 = 4;

/// Repository event: a replica changed state (also reported for every replica while the
/// pool loads); `before` may be NULL for a new replica, `after` is the entry after the change.
pub const DCM_EVENT_STATE_CHANGED: i32 = 0;
/// Repository event: a replica's sticky records changed (`before` and `after` required).
pub const DCM_EVENT_STICKY_CHANGED: i32 = 1;
/// Repository event: a replica's access time changed (`before` and `after` required).
pub const DCM_EVENT_ACCESS_TIME_CHANGED: i32 = 2;

/// Pool selection: pools by name (`names`); unknown names are left out.
pub const DCM_SELECT_NAMES: i32 = 0;
/// Pool selection: members of the pool groups in `names`, concatenated in order
/// (duplicates kept); empty if any group is unknown.
pub const DCM_SELECT_GROUPS: i32 = 1;
/// Pool selection: members of the pool groups attached to the link `names[0]`.
pub const DCM_SELECT_LINK: i32 = 2;
/// Pool selection: active pools with any of the HSM instances in `names` attached.
pub const DCM_SELECT_HSM: i32 = 3;
/// Pool selection: the pools that may serve reads of `attributes` (hot-file replication):
/// answer the first non-empty preference level, with cost data.
pub const DCM_SELECT_READERS: i32 = 4;

/// dCache return code: success.
pub const DCM_RC_OK: i32 = 0;
/// dCache return code: the target refuses copies (`Pool is disabled`).
pub const DCM_RC_POOL_DISABLED: i32 = 104;
/// dCache return code: I/O error on disk.
pub const DCM_RC_ERROR_IO_DISK: i32 = 204;
/// dCache return code: the replica already exists on the target.
pub const DCM_RC_FILE_IN_CACHE: i32 = 210;
/// dCache return code: generic failure.
pub const DCM_RC_DEFAULT_ERROR_CODE: i32 = 666;
/// dCache return code: the file was deleted from the namespace (permanent for a task).
pub const DCM_RC_FILE_NOT_FOUND: i32 = 10001;
/// dCache return code: checksum mismatch.
pub const DCM_RC_FILE_CORRUPTED: i32 = 10004;
/// dCache return code: no reply in time.
pub const DCM_RC_TIMEOUT: i32 = 10006;
/// dCache return code: the pool has no such replica.
pub const DCM_RC_FILE_NOT_IN_REPOSITORY: i32 = 10007;
/// dCache return code: unexpected failure.
pub const DCM_RC_UNEXPECTED_SYSTEM_EXCEPTION: i32 = 10011;
/// dCache return code: the replica is busy.
pub const DCM_RC_LOCKED: i32 = 10020;
/// dCache return code: the peer cannot be reached.
pub const DCM_RC_SERVICE_UNAVAILABLE: i32 = 10023;
/// Return code (beyond dCache): the target serves as many copies as `migration set
/// max-incoming` allows; the source tries another target.
pub const DCM_RC_TARGET_BUSY: i32 = 10099;

/// Declares an enumeration that crosses the ABI as an `i32`, with a validating `TryFrom<i32>`
/// and the inverse `code()`.
macro_rules! c_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident = $value:path),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("`", stringify!($value), "`")]
                $variant,
            )+
        }

        impl TryFrom<i32> for $name {
            type Error = migration_core::Error;

            fn try_from(code: i32) -> Result<Self, migration_core::Error> {
                $(if code == $value {
                    return Ok($name::$variant);
                })+
                Err(invalid(format!("invalid {} {code}", $what)))
            }
        }

        impl $name {
            /// The integer that crosses the ABI.
            pub fn code(self) -> i32 {
                match self {
                    $($name::$variant => $value,)+
                }
            }
        }
    };
}

c_enum!(
    /// A replica state (`DCM_STATE_*`).
    State, "replica state" {
        New = DCM_STATE_NEW,
        FromClient = DCM_STATE_FROM_CLIENT,
        FromPool = DCM_STATE_FROM_POOL,
        FromStore = DCM_STATE_FROM_STORE,
        Broken = DCM_STATE_BROKEN,
        Cached = DCM_STATE_CACHED,
        Precious = DCM_STATE_PRECIOUS,
        Removed = DCM_STATE_REMOVED,
        Destroyed = DCM_STATE_DESTROYED,
    }
);

c_enum!(
    /// An access latency (`DCM_ACCESS_LATENCY_*`).
    Latency, "access latency" {
        Unknown = DCM_ACCESS_LATENCY_UNKNOWN,
        Online = DCM_ACCESS_LATENCY_ONLINE,
        Nearline = DCM_ACCESS_LATENCY_NEARLINE,
    }
);

c_enum!(
    /// A retention policy (`DCM_RETENTION_POLICY_*`).
    Retention, "retention policy" {
        Unknown = DCM_RETENTION_POLICY_UNKNOWN,
        Custodial = DCM_RETENTION_POLICY_CUSTODIAL,
        Replica = DCM_RETENTION_POLICY_REPLICA,
        Output = DCM_RETENTION_POLICY_OUTPUT,
    }
);

c_enum!(
    /// A failure kind (`DCM_FAILURE_*`).
    FailureKind, "failure kind" {
        Error = DCM_FAILURE_ERROR,
        Timeout = DCM_FAILURE_TIMEOUT,
        NoRoute = DCM_FAILURE_NO_ROUTE,
    }
);

c_enum!(
    /// A repository status (`DCM_REPOSITORY_*`).
    RepositoryStatus, "repository status" {
        Ok = DCM_REPOSITORY_OK,
        NotFound = DCM_REPOSITORY_NOT_FOUND,
        IllegalTransition = DCM_REPOSITORY_ILLEGAL_TRANSITION,
        Other = DCM_REPOSITORY_OTHER,
        NotLoaded = DCM_REPOSITORY_NOT_LOADED,
        Changed = DCM_REPOSITORY_CHANGED,
    }
);

c_enum!(
    /// A message kind (`DCM_MESSAGE_*`).
    MessageKind, "message kind" {
        Copy = DCM_MESSAGE_COPY,
        Ping = DCM_MESSAGE_PING,
        Cancel = DCM_MESSAGE_CANCEL,
        CopyFinished = DCM_MESSAGE_COPY_FINISHED,
        JobCancel = DCM_MESSAGE_JOB_CANCEL,
    }
);

c_enum!(
    /// A repository event kind (`DCM_EVENT_*`).
    EventKind, "repository event kind" {
        StateChanged = DCM_EVENT_STATE_CHANGED,
        StickyChanged = DCM_EVENT_STICKY_CHANGED,
        AccessTimeChanged = DCM_EVENT_ACCESS_TIME_CHANGED,
    }
);

c_enum!(
    /// A pool selection kind (`DCM_SELECT_*`).
    SelectionKind, "pool selection kind" {
        Names = DCM_SELECT_NAMES,
        Groups = DCM_SELECT_GROUPS,
        Link = DCM_SELECT_LINK,
        Hsm = DCM_SELECT_HSM,
        Readers = DCM_SELECT_READERS,
    }
);

use migration_core::replica::{AccessLatency, ReplicaState, RetentionPolicy};

impl From<State> for ReplicaState {
    fn from(state: State) -> ReplicaState {
        match state {
            State::New => ReplicaState::New,
            State::FromClient => ReplicaState::FromClient,
            State::FromPool => ReplicaState::FromPool,
            State::FromStore => ReplicaState::FromStore,
            State::Broken => ReplicaState::Broken,
            State::Cached => ReplicaState::Cached,
            State::Precious => ReplicaState::Precious,
            State::Removed => ReplicaState::Removed,
            State::Destroyed => ReplicaState::Destroyed,
        }
    }
}

impl From<ReplicaState> for State {
    fn from(state: ReplicaState) -> State {
        match state {
            ReplicaState::New => State::New,
            ReplicaState::FromClient => State::FromClient,
            ReplicaState::FromPool => State::FromPool,
            ReplicaState::FromStore => State::FromStore,
            ReplicaState::Broken => State::Broken,
            ReplicaState::Cached => State::Cached,
            ReplicaState::Precious => State::Precious,
            ReplicaState::Removed => State::Removed,
            ReplicaState::Destroyed => State::Destroyed,
        }
    }
}

impl From<Latency> for Option<AccessLatency> {
    fn from(latency: Latency) -> Option<AccessLatency> {
        match latency {
            Latency::Unknown => None,
            Latency::Online => Some(AccessLatency::Online),
            Latency::Nearline => Some(AccessLatency::Nearline),
        }
    }
}

impl From<Option<AccessLatency>> for Latency {
    fn from(latency: Option<AccessLatency>) -> Latency {
        match latency {
            None => Latency::Unknown,
            Some(AccessLatency::Online) => Latency::Online,
            Some(AccessLatency::Nearline) => Latency::Nearline,
        }
    }
}

impl From<Retention> for Option<RetentionPolicy> {
    fn from(policy: Retention) -> Option<RetentionPolicy> {
        match policy {
            Retention::Unknown => None,
            Retention::Custodial => Some(RetentionPolicy::Custodial),
            Retention::Replica => Some(RetentionPolicy::Replica),
            Retention::Output => Some(RetentionPolicy::Output),
        }
    }
}

impl From<Option<RetentionPolicy>> for Retention {
    fn from(policy: Option<RetentionPolicy>) -> Retention {
        match policy {
            None => Retention::Unknown,
            Some(RetentionPolicy::Custodial) => Retention::Custodial,
            Some(RetentionPolicy::Replica) => Retention::Replica,
            Some(RetentionPolicy::Output) => Retention::Output,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::ErrorKind;
    use migration_core::error::ReturnCode;

    #[test]
    fn error_codes_are_the_core_error_kind_numbers() {
        let pairs = [
            (DCM_ERROR_SYNTAX, ErrorKind::Syntax),
            (DCM_ERROR_NOT_FOUND, ErrorKind::NotFound),
            (DCM_ERROR_STATE, ErrorKind::State),
            (DCM_ERROR_INTERNAL, ErrorKind::Internal),
            (DCM_ERROR_INVALID_ARGUMENT, ErrorKind::InvalidArgument),
            (DCM_ERROR_CLOSED, ErrorKind::Closed),
            (DCM_ERROR_HOST, ErrorKind::Host),
            (DCM_ERROR_REENTRANT, ErrorKind::Reentrant),
            (DCM_ERROR_UNSUPPORTED, ErrorKind::Unsupported),
        ];
        for (code, kind) in pairs {
            assert_eq!(code, kind.code(), "{kind:?}");
        }
    }

    #[test]
    fn replica_states_round_trip_in_core_order() {
        for (i, state) in ReplicaState::ALL.iter().enumerate() {
            let code = State::from(*state).code();
            assert_eq!(code, i as i32);
            assert_eq!(ReplicaState::from(State::try_from(code).expect("valid")), *state);
        }
        assert!(State::try_from(9).is_err());
        assert!(State::try_from(-1).is_err());
    }

    #[test]
    fn return_codes_are_dcache_numbers() {
        assert_eq!(DCM_RC_FILE_NOT_FOUND, ReturnCode::FILE_NOT_FOUND.0);
        assert_eq!(DCM_RC_FILE_CORRUPTED, ReturnCode::FILE_CORRUPTED.0);
        assert_eq!(DCM_RC_FILE_IN_CACHE, ReturnCode::FILE_IN_CACHE.0);
        assert_eq!(DCM_RC_SERVICE_UNAVAILABLE, ReturnCode::SERVICE_UNAVAILABLE.0);
        assert_eq!(DCM_RC_LOCKED, ReturnCode::LOCKED.0);
        assert_eq!(DCM_RC_TARGET_BUSY, ReturnCode::TARGET_BUSY.0);
        assert_eq!(DCM_RC_FILE_NOT_IN_REPOSITORY, ReturnCode::FILE_NOT_IN_REPOSITORY.0);
        assert_eq!(DCM_RC_UNEXPECTED_SYSTEM_EXCEPTION, ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION.0);
    }

    #[test]
    fn invalid_enumeration_values_are_invalid_arguments() {
        let e = FailureKind::try_from(3).expect_err("3 is no failure kind");
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(e.message, "invalid failure kind 3");
        assert!(EventKind::try_from(99).is_err());
        assert!(SelectionKind::try_from(5).is_err());
        assert_eq!(RepositoryStatus::try_from(4), Ok(RepositoryStatus::NotLoaded));
        assert_eq!(RepositoryStatus::try_from(5), Ok(RepositoryStatus::Changed));
        assert!(RepositoryStatus::try_from(6).is_err());
        assert_eq!(Latency::try_from(2).map(Option::<AccessLatency>::from), Ok(Some(AccessLatency::Nearline)));
        assert_eq!(Retention::try_from(0).map(Option::<RetentionPolicy>::from), Ok(None));
    }
}
