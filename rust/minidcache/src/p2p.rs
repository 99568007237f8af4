//! The p2p client of a pool: pulls a replica from another pool. Pools are in memory, so a
//! transfer copies the source's entry at once and completes synchronously.

use std::sync::Arc;

use migration_core::driver::runtime::Clock;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion, P2pRequest, Repository as _};
use migration_core::message::RequestId;
use migration_core::replica::ReplicaEntry;

use crate::cluster::{PoolMode, Registry};

/// The p2p client of one pool (the target of the transfers it runs).
pub struct P2pClient {
    pool: String,
    registry: Arc<Registry>,
    clock: Clock,
}

impl P2pClient {
    /// The client of pool `pool`.
    pub fn new(pool: &str, registry: Arc<Registry>, clock: Clock) -> P2pClient {
        P2pClient { pool: pool.to_string(), registry, clock }
    }

    /// Runs a transfer; the new replica is in the target's repository when this returns `Ok`.
    pub fn transfer(&self, request: &P2pRequest) -> Result<(), Failure> {
        let pnfsid = request.attributes.pnfsid;
        let target = self.registry.get(&self.pool).ok_or(Failure::NoRoute)?;
        // An unknown source cannot be reached at all.
        let source = self.registry.get(&request.source).ok_or(Failure::NoRoute)?;
        if source.mode() == PoolMode::Strict && !request.force_source_mode {
            return Err(Failure::error(ReturnCode::POOL_DISABLED, "Pool is disabled"));
        }
        let existing =
            target.repository.entry(&pnfsid).map_err(|e| Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e))?;
        if existing.is_some() {
            return Err(Failure::error(ReturnCode::FILE_IN_CACHE, "Replica already exists"));
        }
        let original =
            source.repository.entry(&pnfsid).map_err(|e| Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e))?;
        // dCache's source pool answers a missing (or unreadable) replica with
        // FileNotInCacheException, return code 10007.
        let original = match original {
            Some(entry) if entry.state.is_cached_or_precious() => entry,
            _ => {
                return Err(Failure::error(
                    ReturnCode::FILE_NOT_IN_REPOSITORY,
                    format!("Pool {} does not contain {pnfsid}", request.source),
                ));
            }
        };
        if source.repository.is_corrupt(&pnfsid) {
            return Err(Failure::error(ReturnCode::FILE_CORRUPTED, "Checksum mismatch"));
        }
        // No garbage collection yet: a transfer that does not fit is refused.
        if target.repository.used().saturating_add(original.size) > target.capacity() {
            return Err(Failure::error(ReturnCode::ERROR_IO_DISK, format!("Pool {} is full", self.pool)));
        }
        let a = &request.attributes;
        let entry = ReplicaEntry {
            pnfsid,
            state: request.state,
            sticky: request.sticky.clone(),
            size: original.size,
            last_access: request.atime.unwrap_or_else(|| (self.clock)()),
            storage_class: a.storage_class.clone().or(original.storage_class),
            cache_class: a.cache_class.clone().or(original.cache_class),
            access_latency: a.access_latency.or(original.access_latency),
            retention_policy: a.retention_policy.or(original.retention_policy),
            checksums: if a.checksums.is_empty() { original.checksums } else { a.checksums.clone() },
        };
        target.repository.insert(entry);
        Ok(())
    }
}

impl host::P2p for P2pClient {
    fn start(&self, request: P2pRequest, done: Completion<()>) {
        let outcome = self.transfer(&request);
        if let Err(failure) = &outcome {
            tracing::debug!(target: "minidcache", pool = %self.pool, pnfsid = %request.attributes.pnfsid, "p2p refused: {failure}");
        }
        done.complete(outcome);
    }

    fn cancel(&self, _id: RequestId) {
        // Transfers complete before `start` returns: there is never one to cancel.
    }
}
