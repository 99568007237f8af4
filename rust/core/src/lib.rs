//! The dCache pool migration module: commands, jobs, tasks, the target-side server, replica
//! filters and the expression language, written "sans-IO". The state machines take events and
//! return effects; a driver ([`driver`]) executes the effects against the pool's services
//! ([`host`]). See `docs/` and the project's design page for the map.

pub mod bandwidth;
pub mod commands;
pub mod context;
pub mod definition;
pub mod effect;
pub mod error;
pub mod expr;
pub mod filter;
pub mod glob;
pub mod host;
mod hot_jobs;
pub mod hotfile;
pub mod input;
pub mod job;
pub mod message;
pub mod metrics;
pub mod mode;
pub mod module;
pub mod persistence;
pub mod plan;
pub mod pnfsid;
pub mod pool_info;
pub mod progress;
pub mod quarantine;
pub mod queue;
mod radix;
pub mod random;
pub mod replica;
pub mod requests;
pub mod selection;
pub mod server;
pub mod status;
pub mod syntax;
pub mod target_filter;
pub mod task;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod timers;

/// Milliseconds since the Unix epoch: every time in the module.
pub type Millis = i64;

/// A pool's name where the module passes it on per file (a task's target, a message's
/// sender and addressee): shared, so that handing it on copies no string.
pub type PoolName = std::sync::Arc<str>;

pub use error::{Error, ErrorKind, ReturnCode};
pub use module::{Config, Module};
pub use pnfsid::PnfsId;
pub mod driver;
