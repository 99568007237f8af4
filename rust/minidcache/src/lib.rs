//! minidcache: several dCache-like pools in one process, each running the migration module on
//! the core's tokio driver over an on-disk repository (data files and SQLite metadata), with a
//! shared namespace, pool manager and pin manager, and an admin shell that speaks dCache's
//! commands. Everything lives under one home directory (see [`home`]).
//!
//! It is a host like any other: it uses the core only through the host traits.

pub mod adler32;
pub mod bulk;
pub mod cell;
pub mod cluster;
pub mod commands;
pub mod demo;
pub mod expirer;
pub mod home;
pub mod local_cell;
pub mod namespace;
pub mod p2p;
pub mod pin_manager;
pub mod pool;
pub mod pool_manager;
pub mod pool_manager_cell;
pub mod priority;
pub mod protocol;
pub mod replica_listing;
pub mod repository;
pub mod selection_unit;
pub mod shell;
pub mod store;
pub mod tags;
pub mod transport;

pub use cluster::{Cluster, ClusterConfig};
pub use shell::{Mode, Reply, Shell};
