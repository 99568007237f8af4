//! minidcache: several dCache-like pools in one process, each running the migration module on
//! the core's tokio driver, with an in-memory repository, a shared namespace, pool manager and
//! pin manager, and an admin shell that speaks dCache's commands.
//!
//! It is a host like any other: it uses the core only through the host traits.

pub mod cluster;
pub mod commands;
pub mod namespace;
pub mod p2p;
pub mod pin_manager;
pub mod pool_manager;
pub mod shell;
pub mod transport;

pub use cluster::{Cluster, ClusterConfig};
pub use shell::{Mode, Reply, Shell};
