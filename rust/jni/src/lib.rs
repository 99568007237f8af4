//! The JNI layer of the migration module: the native methods of
//! `org.dcache.migration.internal.Natives` and Java-backed implementations of the core's host
//! traits. The public Java facade (`org.dcache.migration`) wraps the natives.
//!
//! How it is put together:
//!
//! * [`natives`]: every `Java_…` function. Each body runs inside one guard ([`error::guard`])
//!   that catches panics and turns errors into a `MigrationException` carrying the module's
//!   error code. Modules are addressed by `jlong` ids looked up in [`registry`], never by
//!   pointers, so a closed or unknown handle throws instead of crashing.
//! * [`cache`]: classes and method ids, resolved once through the facade's class loader and
//!   kept as global references, so calls work from the runtime's own threads too.
//! * [`host`]: the six host traits backed by one Java object (`HostBridge`). Every call checks
//!   for and clears a pending Java exception and turns it into an error the job records.
//! * [`raw`]: the calls into Java and the natives on a file's path, made on the JNI function
//!   table itself (one exception check per call, local references deleted as they drop).
//! * [`pending`]: asynchronous host calls waiting for Java to complete them, by token.
//! * [`threads`]: the runtime's threads are attached once, named, and detached when they stop.
//! * [`logging`]: `tracing` events go through a bounded channel to one Java thread that hands
//!   them to SLF4J; the subscriber itself never calls Java.
//! * [`codec`]: the byte format of values crossing the boundary.
//! * [`messages`]: the typed messages of `org.dcache.migration.messages`, converted between the
//!   module's wire format and the codec.

pub mod cache;
pub mod codec;
pub mod crossings;
pub mod error;
pub mod host;
pub mod logging;
pub mod messages;
pub mod natives;
pub mod pending;
pub mod raw;
pub mod registry;
pub mod threads;

/// The version of the contract between this library and the Java facade: the natives'
/// signatures, the bridge's methods and the codec. The facade refuses a library whose
/// `abiVersion()` differs from its own constant (`NativeLibrary.ABI_VERSION`).
pub const ABI_VERSION: i32 = 7;
