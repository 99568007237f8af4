//! The pin manager: pins per file, each held on one pool as a sticky record owned by
//! `PinManager-<id>`, and moved from pool to pool when a migration job asks (`-pins=move`).

use std::sync::Arc;

use migration_core::driver::runtime::Clock;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion, PinMove, Repository as _};
use migration_core::replica::{NEVER_EXPIRES, StickyRecord};
use migration_core::{Error, ErrorKind, Millis, PnfsId};
use parking_lot::Mutex;

use crate::cluster::Registry;

/// The pin manager's cell name; sticky records whose owner starts with it are pins.
pub const CELL: &str = "PinManager";

/// One pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The pin's id.
    pub id: u64,
    /// The file.
    pub pnfsid: PnfsId,
    /// The pool holding the pinned replica.
    pub pool: String,
    /// Expiry, ms since the epoch; `-1` never.
    pub expire: Millis,
}

impl Pin {
    /// The owner of the pin's sticky record.
    pub fn owner(&self) -> String {
        owner(self.id)
    }
}

fn owner(id: u64) -> String {
    format!("{CELL}-{id}")
}

#[derive(Default)]
struct Table {
    pins: Vec<Pin>,
    next: u64,
}

/// The pin manager shared by every pool.
pub struct PinManager {
    registry: Arc<Registry>,
    clock: Clock,
    table: Mutex<Table>,
}

impl PinManager {
    /// A pin manager over the pools of `registry`.
    pub fn new(registry: Arc<Registry>, clock: Clock) -> PinManager {
        PinManager { registry, clock, table: Mutex::new(Table { pins: Vec::new(), next: 1 }) }
    }

    /// Pins `pnfsid` for `lifetime_secs` (`-1`: forever) on the first pool, in pool order, that
    /// holds a readable replica.
    pub fn pin(&self, pnfsid: PnfsId, lifetime_secs: i64) -> Result<Pin, Error> {
        if lifetime_secs < -1 {
            return Err(Error::syntax(format!("Illegal lifetime: {lifetime_secs}")));
        }
        let expire = if lifetime_secs == -1 {
            NEVER_EXPIRES
        } else {
            (self.clock)().saturating_add(lifetime_secs.saturating_mul(1000))
        };
        let node = self
            .registry
            .all()
            .into_iter()
            .find(|node| matches!(node.repository.entry(&pnfsid), Ok(Some(e)) if e.state.is_cached_or_precious()))
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("No pool holds a replica of {pnfsid}")))?;
        let id = {
            let mut t = self.table.lock();
            let id = t.next;
            t.next += 1;
            id
        };
        // Never call a repository with the table locked: its listener drives a pool's module.
        let record = StickyRecord::new(owner(id), expire);
        node.repository.set_sticky(&pnfsid, &record, true).map_err(|e| Error::new(ErrorKind::Host, e.to_string()))?;
        let pin = Pin { id, pnfsid, pool: node.name.clone(), expire };
        self.table.lock().pins.push(pin.clone());
        Ok(pin)
    }

    /// Removes every pin of `pnfsid` and its sticky record; returns how many there were.
    pub fn unpin(&self, pnfsid: &PnfsId) -> usize {
        let removed: Vec<Pin> = {
            let mut t = self.table.lock();
            let (gone, kept) = std::mem::take(&mut t.pins).into_iter().partition(|p| p.pnfsid == *pnfsid);
            t.pins = kept;
            gone
        };
        for pin in &removed {
            if let Some(node) = self.registry.get(&pin.pool) {
                node.repository.remove_sticky(pnfsid, &pin.owner());
            }
        }
        removed.len()
    }

    /// Every pin, by id.
    pub fn pins(&self) -> Vec<Pin> {
        self.table.lock().pins.clone()
    }

    fn move_one(&self, request: &PinMove) -> Result<(), Failure> {
        let source = self.registry.get(&request.source).ok_or(Failure::NoRoute)?;
        let target = self.registry.get(&request.target).ok_or(Failure::NoRoute)?;
        for record in &request.pins {
            target.repository.set_sticky(&request.pnfsid, record, true).map_err(|e| {
                Failure::error(
                    ReturnCode::FILE_NOT_IN_REPOSITORY,
                    format!("Cannot pin {} on {}: {e}", request.pnfsid, request.target),
                )
            })?;
            source.repository.remove_sticky(&request.pnfsid, &record.owner);
            let id = record.owner.strip_prefix(&format!("{CELL}-")).and_then(|n| n.parse::<u64>().ok());
            let mut t = self.table.lock();
            for pin in t.pins.iter_mut().filter(|p| Some(p.id) == id && p.pnfsid == request.pnfsid) {
                pin.pool = request.target.clone();
            }
        }
        Ok(())
    }
}

impl host::PinManager for PinManager {
    fn move_pins(&self, request: PinMove, done: Completion<()>) {
        done.complete(self.move_one(&request));
    }
}
