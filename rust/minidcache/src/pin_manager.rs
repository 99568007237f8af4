//! The pin manager: pins per file, each held on one pool as a sticky record owned by
//! `PinManager-<id>`, and moved from pool to pool when a migration job asks (`-pins=move`).
//! Pins are kept in the home's database (`pins`); every change is committed before it is
//! reported.

use std::sync::Arc;

use migration_core::driver::runtime::Clock;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion, PinMove, Repository as _};
use migration_core::replica::{NEVER_EXPIRES, StickyRecord};
use migration_core::{Error, ErrorKind, Millis, PnfsId};
use parking_lot::Mutex;
use rusqlite::{Connection, params};

use crate::pool::{PoolNode, Registry};
use crate::store::Store;

/// The pin manager's table in the home's database.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pins (
    id     INTEGER PRIMARY KEY,
    pnfsid TEXT NOT NULL,
    pool   TEXT NOT NULL,
    expire INTEGER NOT NULL
);
";

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

/// The pins as read from the database.
#[derive(Default)]
pub struct Table {
    pins: Vec<Pin>,
    next: u64,
}

/// The pin manager shared by every pool.
pub struct PinManager {
    registry: Arc<Registry>,
    clock: Clock,
    table: Mutex<Table>,
    store: Arc<Store>,
}

fn write_pin(c: &Connection, pin: &Pin) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT OR REPLACE INTO pins (id, pnfsid, pool, expire) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![pin.id as i64, pin.pnfsid.to_string(), pin.pool, pin.expire])
        .map(|_| ())
}

impl PinManager {
    /// Reads the pins from `connection` (before the store's writer thread takes it).
    pub fn load(connection: &Connection) -> rusqlite::Result<Table> {
        let mut query = connection.prepare("SELECT id, pnfsid, pool, expire FROM pins ORDER BY id")?;
        let rows = query.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut table = Table { pins: Vec::new(), next: 1 };
        for row in rows {
            let (id, pnfsid, pool, expire) = row?;
            let Ok(pnfsid) = PnfsId::parse(&pnfsid) else { continue };
            let id = id.max(0) as u64;
            table.next = table.next.max(id + 1);
            table.pins.push(Pin { id, pnfsid, pool, expire });
        }
        Ok(table)
    }

    /// A pin manager over the pools of `registry`, with the pins loaded, writing to `store`.
    pub fn new(registry: Arc<Registry>, clock: Clock, table: Table, store: Arc<Store>) -> PinManager {
        PinManager { registry, clock, table: Mutex::new(table), store }
    }

    fn save(&self, pins: Vec<Pin>) -> Result<(), Error> {
        self.store
            .write(move |c| pins.iter().try_for_each(|p| write_pin(c, p)))
            .map_err(|e| Error::new(ErrorKind::Host, e))
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
            .filter(|node| node.is_running())
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
        self.save(vec![pin.clone()])?;
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
        let ids: Vec<i64> = removed.iter().map(|p| p.id as i64).collect();
        let deleted = self.store.write(move |c| {
            let mut delete = c.prepare_cached("DELETE FROM pins WHERE id = ?1")?;
            ids.iter().try_for_each(|id| delete.execute([id]).map(|_| ()))
        });
        if let Err(e) = deleted {
            tracing::error!(target: "minidcache", "cannot delete pins: {e}");
        }
        // A stopped pool keeps the record until it starts again (`pool_started`). A record
        // whose row cannot be removed (here and below) comes back at the pool's next start: a
        // pin kept, not lost, and the pool refuses copies until then.
        for pin in &removed {
            if let Some(node) = self.registry.running(&pin.pool) {
                let _ = node.repository.remove_sticky(pnfsid, &pin.owner());
            }
        }
        removed.len()
    }

    /// A pool started: sticky records of pins that were released (or moved away) while it
    /// was down are removed.
    pub fn pool_started(&self, node: &PoolNode) {
        let stale: Vec<(PnfsId, String)> = {
            let t = self.table.lock();
            node.repository
                .entries()
                .into_iter()
                .flat_map(|e| e.sticky.into_iter().map(move |r| (e.pnfsid, r.owner)))
                .filter(|(pnfsid, owner)| {
                    pin_id(owner).is_some_and(|id| {
                        !t.pins.iter().any(|p| p.id == id && p.pnfsid == *pnfsid && p.pool == node.name)
                    })
                })
                .collect()
        };
        // Never call a repository with the table locked: its listener drives a pool's module.
        for (pnfsid, owner) in stale {
            let _ = node.repository.remove_sticky(&pnfsid, &owner);
        }
    }

    /// Every pin, by id.
    pub fn pins(&self) -> Vec<Pin> {
        self.table.lock().pins.clone()
    }

    /// Moves each pin of `request` from its source to its target: the target's record first,
    /// then the table, then the source's record, so that a crash between two steps leaves the
    /// record on the pool the table names (the other one is cleared when its pool starts,
    /// [`PinManager::pool_started`]), never on no pool. A record the table does not hold on the
    /// source any more (a pin released since the task read the replica) is only cleared on the
    /// source (§9.5).
    fn move_one(&self, request: &PinMove) -> Result<(), Failure> {
        let source = self.registry.running(&request.source).ok_or(Failure::NoRoute)?;
        let target = self.registry.running(&request.target).ok_or(Failure::NoRoute)?;
        request.pins.iter().try_for_each(|record| self.move_pin(request, record, &source, &target))
    }

    /// Moves one pin of `request` (see [`PinManager::move_one`]).
    fn move_pin(
        &self,
        request: &PinMove,
        record: &StickyRecord,
        source: &PoolNode,
        target: &PoolNode,
    ) -> Result<(), Failure> {
        let (pnfsid, owner) = (&request.pnfsid, record.owner.as_str());
        let id = pin_id(owner);
        let on_source = |p: &Pin| Some(p.id) == id && p.pnfsid == *pnfsid && p.pool == request.source;
        if !self.table.lock().pins.iter().any(on_source) {
            let _ = source.repository.remove_sticky(pnfsid, owner);
            return Ok(());
        }
        // Never call a repository with the table locked: its listener drives a pool's module.
        target.repository.set_sticky(pnfsid, record, true).map_err(|e| {
            Failure::error(
                ReturnCode::FILE_NOT_IN_REPOSITORY,
                format!("Cannot pin {pnfsid} on {}: {e}", request.target),
            )
        })?;
        // The table is saved under its lock, so that an `unpin` meanwhile either finds the pin
        // on the target or has removed it before.
        let moved = {
            let mut t = self.table.lock();
            t.pins.iter_mut().find(|p| on_source(p)).map(|pin| {
                pin.pool = request.target.clone();
                let saved = self.save(vec![pin.clone()]);
                if saved.is_err() {
                    pin.pool = request.source.clone();
                }
                saved
            })
        };
        match moved {
            Some(Ok(())) => {
                let _ = source.repository.remove_sticky(pnfsid, owner);
                Ok(())
            }
            Some(Err(e)) => {
                let _ = target.repository.remove_sticky(pnfsid, owner);
                Err(Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e.message))
            }
            None => {
                // Released while its record was set on the target.
                let _ = target.repository.remove_sticky(pnfsid, owner);
                let _ = source.repository.remove_sticky(pnfsid, owner);
                Ok(())
            }
        }
    }
}

/// The pin id of a sticky record's owner (`PinManager-<id>`).
fn pin_id(owner: &str) -> Option<u64> {
    owner.strip_prefix(&format!("{CELL}-")).and_then(|n| n.parse::<u64>().ok())
}

impl host::PinManager for PinManager {
    fn move_pins(&self, request: PinMove, done: Completion<()>) {
        done.complete(self.move_one(&request));
    }
}
