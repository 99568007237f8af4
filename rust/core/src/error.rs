//! The module's error vocabulary: dCache's numbered return codes for task and server failures
//! (spec §1.7), and the kinds of error a command or a binding call can end in.
//!
//! Numbers are part of the ABI (C and Java see them): never renumber, only add.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A dCache `CacheException` return code. Open-ended because peers may send any code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReturnCode(pub i32);

impl ReturnCode {
    /// Success.
    pub const OK: ReturnCode = ReturnCode(0);
    /// Internal failure of a task's state machine.
    pub const INTERNAL: ReturnCode = ReturnCode(-1);
    /// The target refuses copies: `Pool is disabled`.
    pub const POOL_DISABLED: ReturnCode = ReturnCode(104);
    /// I/O error while verifying a checksum on the target.
    pub const ERROR_IO_DISK: ReturnCode = ReturnCode(204);
    /// The replica appeared on the target during p2p: `Replica already exists`.
    pub const FILE_IN_CACHE: ReturnCode = ReturnCode(210);
    /// Generic failure.
    pub const DEFAULT_ERROR_CODE: ReturnCode = ReturnCode(666);
    /// The file was deleted from the namespace.
    pub const FILE_NOT_FOUND: ReturnCode = ReturnCode(10001);
    /// Checksum mismatch.
    pub const FILE_CORRUPTED: ReturnCode = ReturnCode(10004);
    /// No reply in time.
    pub const TIMEOUT: ReturnCode = ReturnCode(10006);
    /// Meta-only with no replica.
    pub const FILE_NOT_IN_REPOSITORY: ReturnCode = ReturnCode(10007);
    /// Unexpected failure.
    pub const UNEXPECTED_SYSTEM_EXCEPTION: ReturnCode = ReturnCode(10011);
    /// Ping or cancel for an unknown request: `No such request`.
    pub const INVALID_ARGS: ReturnCode = ReturnCode(10015);
    /// The target replica is busy: `Target file is busy`.
    pub const LOCKED: ReturnCode = ReturnCode(10020);
    /// No route to the peer.
    pub const SERVICE_UNAVAILABLE: ReturnCode = ReturnCode(10023);
    /// No target available: `No targets available`.
    pub const NO_POOL_ONLINE: ReturnCode = ReturnCode(10025);
    /// The target serves as many incoming copies as `migration set max-incoming` allows
    /// (beyond dCache; the source tries another target and counts no failure).
    pub const TARGET_BUSY: ReturnCode = ReturnCode(10099);

    /// dCache's name for the known codes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "OK",
            -1 => "INTERNAL",
            104 => "POOL_DISABLED",
            204 => "ERROR_IO_DISK",
            210 => "FILE_IN_CACHE",
            666 => "DEFAULT_ERROR_CODE",
            10001 => "FILE_NOT_FOUND",
            10004 => "FILE_CORRUPTED",
            10006 => "TIMEOUT",
            10007 => "FILE_NOT_IN_REPOSITORY",
            10011 => "UNEXPECTED_SYSTEM_EXCEPTION",
            10015 => "INVALID_ARGS",
            10020 => "LOCKED",
            10023 => "SERVICE_UNAVAILABLE",
            10025 => "NO_POOL_ONLINE",
            10099 => "TARGET_BUSY",
            _ => return None,
        })
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How a request to another service ended when it did not succeed: the transport classifies
/// every reply as success or one of these (§1.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// The peer answered with an error.
    Error {
        /// dCache return code.
        code: ReturnCode,
        /// The peer's error text.
        cause: String,
    },
    /// No answer in time.
    Timeout,
    /// The peer cannot be reached.
    NoRoute,
}

impl Failure {
    /// An error reply.
    pub fn error(code: ReturnCode, cause: impl Into<String>) -> Failure {
        Failure::Error { code, cause: cause.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error { code, cause } => write!(f, "{cause} (rc={code})"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::NoRoute => f.write_str("no route"),
        }
    }
}

/// The result of a request to another service.
pub type Outcome<T> = Result<T, Failure>;

/// The kind of error a command or a binding call ends in. The numbers are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u32)]
pub enum ErrorKind {
    /// A malformed command or invalid option value; nothing changed.
    Syntax = 1,
    /// An unknown job id (`Job not found`).
    NotFound = 2,
    /// The job is not in a state that allows the command.
    State = 3,
    /// A bug or an unexpected failure inside the module.
    Internal = 4,
    /// A binding was given an invalid argument (NULL pointer, bad enum value, bad UTF-8).
    InvalidArgument = 5,
    /// A handle that was closed or never existed.
    Closed = 6,
    /// A host callback failed (a C callback returned an error, a Java callback threw).
    Host = 7,
    /// A call into the module from inside one of its own callbacks that would deadlock.
    Reentrant = 8,
    /// The feature exists in dCache but is not built yet.
    Unsupported = 9,
}

impl ErrorKind {
    /// The stable number.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// An error from the module's API: a kind and dCache's message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong, as a stable number.
    pub kind: ErrorKind,
    /// The normative message (e.g. `Job not found`).
    pub message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }

    /// A syntax/validation error.
    pub fn syntax(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Syntax, message)
    }

    /// `Job not found`.
    pub fn job_not_found() -> Error {
        Error::new(ErrorKind::NotFound, "Job not found")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The message a caught panic was raised with, if it was text (`panic!` with a literal or a
/// format): what every place that catches one reports.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> Option<&str> {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str))
}

#[cfg(test)]
mod panic_message_tests {
    use super::*;

    #[test]
    fn a_literal_and_a_formatted_message_are_read_and_anything_else_is_not() {
        let caught = |f: fn()| std::panic::catch_unwind(f).expect_err("it panics");
        assert_eq!(panic_message(&*caught(|| panic!("literal"))), Some("literal"));
        assert_eq!(panic_message(&*caught(|| panic!("formatted {}", 1))), Some("formatted 1"));
        assert_eq!(panic_message(&*caught(|| std::panic::panic_any(7u8))), None);
    }
}
