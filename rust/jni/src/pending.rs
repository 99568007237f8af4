//! Asynchronous host calls waiting for Java to answer them.
//!
//! Java holds only a token (inside its `Completion` object); the core's [`Completion`] stays
//! here until Java completes the token, the Java object is garbage-collected unanswered (its
//! cleaner drops the token, which reports a failure), or the module closes. A token is taken
//! out of the table before it is completed, so each completes at most once, and the table's
//! lock is never held while the module runs.

pub use migration_core::driver::pending::Pending;
use migration_core::driver::pending::PendingTable;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::Completion;

use crate::codec::{DecodeError, Reader};

/// Completes `pending` with the answer Java encoded in `payload`. A payload that does not
/// decode completes with a failure and returns the error.
fn complete_with(pending: Pending, payload: &[u8]) -> Result<(), DecodeError> {
    fn decode<'a, T>(
        payload: &'a [u8],
        read: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut reader = Reader::new(payload);
        let value = read(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }
    fn deliver<T>(completion: Completion<T>, value: Result<T, DecodeError>) -> Result<(), DecodeError> {
        match value {
            Ok(v) => {
                completion.complete(Ok(v));
                Ok(())
            }
            Err(e) => {
                completion.complete(Err(Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e.to_string())));
                Err(e)
            }
        }
    }
    match pending {
        Pending::Locations(c) | Pending::Groups(c) => deliver(c, decode(payload, Reader::strings)),
        Pending::Pools(c) => deliver(c, decode(payload, Reader::pools)),
        Pending::Message(c) => deliver(c, Ok(payload.to_vec())),
        Pending::Done(c) => deliver(c, Ok(())),
    }
}

/// Java holds only tokens, not module handles: one table for every module of the process.
static TABLE: PendingTable = PendingTable::new();

/// Registers a completion of `module`; returns its token (never 0), or gives it back if the
/// module is closed.
pub fn register(module: u64, pending: Pending) -> Result<u64, Pending> {
    TABLE.register(module, pending)
}

/// Takes a completion out of the table.
pub fn take(token: u64) -> Option<Pending> {
    TABLE.take(token)
}

/// Completes `token` with an encoded answer. `Ok(false)`: no such token (already completed,
/// or its module closed).
pub fn complete_ok(token: u64, payload: &[u8]) -> Result<bool, DecodeError> {
    match take(token) {
        Some(pending) => complete_with(pending, payload).map(|()| true),
        None => Ok(false),
    }
}

/// Completes `token` with a failure; `false` if there is no such token.
pub fn complete_failure(token: u64, failure: Failure) -> bool {
    match take(token) {
        Some(pending) => {
            pending.fail(failure);
            true
        }
        None => false,
    }
}

/// Drops every completion of a closed module (each reports a failure to the closed module,
/// which ignores it).
pub fn drop_module(module: u64) {
    TABLE.drop_owner(module);
}

/// Completions waiting for `module` (for tests and diagnostics).
pub fn count(module: u64) -> usize {
    TABLE.count(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::test_util::recorder;

    #[test]
    fn a_token_completes_once() {
        let (seen, completion) = recorder();
        let token = register(900, Pending::Locations(completion)).expect("registered");
        let mut payload = Vec::new();
        payload.extend_from_slice(&1i32.to_be_bytes());
        payload.extend_from_slice(&5i32.to_be_bytes());
        payload.extend_from_slice(b"pool2");
        assert_eq!(complete_ok(token, &payload), Ok(true));
        assert_eq!(complete_ok(token, &payload), Ok(false));
        assert!(!complete_failure(token, Failure::Timeout));
        assert_eq!(*seen.lock(), vec![Ok(vec!["pool2".to_string()])]);
    }

    #[test]
    fn a_malformed_answer_fails_the_request() {
        let (seen, completion) = recorder();
        let token = register(901, Pending::Groups(completion)).expect("registered");
        assert!(complete_ok(token, &[1, 2]).is_err());
        assert!(matches!(seen.lock()[0], Err(Failure::Error { .. })));
    }

    #[test]
    fn closing_a_module_fails_its_requests() {
        let (seen, completion) = recorder();
        register(902, Pending::Locations(completion)).expect("registered");
        assert_eq!(count(902), 1);
        drop_module(902);
        assert_eq!(count(902), 0);
        assert_eq!(seen.lock().len(), 1);
    }
}
