//! The migration server: the target side of a copy (spec §6). Every pool runs one; it answers
//! copy, ping and cancel requests, starts the pool-to-pool transfer for a new replica, or
//! updates an existing replica without ever making it more volatile.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::PoolName;
use crate::context::{Ctx, Route};
use crate::effect::{ChangePurpose, Effect, Inbound};
use crate::error::{Failure, Outcome, ReturnCode};
use crate::host::{P2pRequest, RepositoryError};
use crate::input::{EntryResult, entry_of};
use crate::message::{CopyRequest, Message, Reply, RequestId, WireVersion};
use crate::mode::existing_replica_changes;
use crate::replica::{ReplicaEntry, ReplicaState, check_sticky};

/// Where a registered request stands.
#[derive(Debug)]
enum Phase {
    /// Reading the local entry to choose between transfer and update.
    Inspecting,
    /// A pool-to-pool transfer runs; the request's attributes and sticky records went to it.
    Transferring,
    /// Verifying the checksum of the replica found (still interruptible).
    Verifying,
    /// Reading the local entry again after its checksum was verified, or after an update was
    /// refused because the replica had changed since it was read (still interruptible).
    Rechecking,
    /// Changing the replica found (no longer interruptible); its state before, for the
    /// "Cannot update" text.
    Updating { found: ReplicaState },
}

#[derive(Debug)]
struct Registered {
    request: CopyRequest,
    /// Where the copy-finished message goes: the pool that sent the request.
    reply_to: PoolName,
    inbound: Option<Inbound>,
    /// The version the request came in, for the copy-finished message.
    wire: WireVersion,
    phase: Phase,
    /// How many times an update of the replica found was refused because the replica had
    /// changed since it was read ([`REREADS`]).
    rereads: u8,
}

/// How many times a target reads a replica again, after its update was refused because the
/// replica changed between the read and the update, before it fails the request. A replica
/// made precious by someone else meanwhile is confirmed on the next read; one that keeps
/// changing fails the request, and the source tries again later.
const REREADS: u8 = 3;

/// What the pool admits at the moment: whether it accepts copies at all (its pool mode), and
/// how many it serves at once (`migration set max-incoming`, 0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// The pool mode lets copies in.
    pub accepts_copies: bool,
    /// The cap on requests served at once.
    pub max_incoming: usize,
}

/// Requests finished or refused, remembered so that a duplicated copy request is not executed
/// again.
const REMEMBERED: usize = 10_000;

/// The requests finished or refused lately: the last [`REMEMBERED`] at least, twice that at
/// most.
///
/// Two generations of a set, rather than one set and a list in finishing order: forgetting
/// the oldest request at every finish looked its id up in a random bucket of a set of ten
/// thousand, a cache miss that held about 4 % of a profile when files went one at a time.
/// Adding an id reads only the set's control bytes, and a generation is dropped whole.
#[derive(Debug, Default)]
struct Remembered {
    current: FxHashSet<RequestId>,
    previous: FxHashSet<RequestId>,
}

impl Remembered {
    fn insert(&mut self, uuid: RequestId) {
        if self.current.len() == REMEMBERED {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.insert(uuid);
    }

    fn contains(&self, uuid: &RequestId) -> bool {
        self.current.contains(uuid) || self.previous.contains(uuid)
    }
}

/// The requests this pool currently serves.
#[derive(Debug, Default)]
pub struct Server {
    requests: FxHashMap<RequestId, Registered>,
    /// Requests this pool is done with: finished, or refused copies. A task asks one pool for
    /// at most one copy with its id (a refused copy fails the task, and its retry is a new
    /// task with a new id), so a copy request seen again is a duplicate; one refused while the
    /// pool was busy or disabled and executed when its duplicate came later would leave a copy
    /// its source never counts.
    finished: Remembered,
    /// Refused updates (`meta_only`), apart: a task whose known location turned out not to
    /// hold the file goes on to ask for a copy, and may ask the same pool with the same id.
    /// Only a duplicate of the update is not run again.
    refused_updates: Remembered,
}

fn respond(ctx: &mut Ctx<'_>, inbound: Option<Inbound>, reply: Reply) {
    if let Some(inbound) = inbound {
        ctx.respond(inbound, &reply);
    }
}

fn error(code: ReturnCode, message: impl Into<String>) -> Reply {
    Reply::Error { code, message: message.into() }
}

/// The checks of a copy request that need nothing but the request and the pool's locks: the
/// refusal, if it fails one.
fn check(request: &CopyRequest, ctx: &Ctx<'_>) -> Result<(), Reply> {
    if ctx.locks.contains(&request.attributes.pnfsid) {
        // A local task works on the same file: two pools moving files to each other must not
        // lose a replica.
        return Err(error(ReturnCode::LOCKED, "Target file is busy"));
    }
    if !request.state.is_cached_or_precious() {
        return Err(error(ReturnCode::INVALID_ARGS, "State must be either CACHED or PRECIOUS"));
    }
    if let Some(e) = request.sticky.iter().find_map(|r| check_sticky(&r.owner, r.expire).err()) {
        // Refused whole, before anything is changed: an update applies the records one by one,
        // and one the repository refuses half-way would leave the others applied, and the
        // request failing the same way on every retry with the wrong reason.
        return Err(error(ReturnCode::INVALID_ARGS, format!("Invalid sticky record: {e}")));
    }
    Ok(())
}

/// The replica a read of the local entry found: an entry in state NEW is no replica yet.
fn replica_in(result: EntryResult) -> EntryResult {
    result.map(|entry| entry.filter(|e| e.state != ReplicaState::New))
}

impl Server {
    /// Number of registered requests (`serverRequests`, §6.7).
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether no request is registered.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// A copy request (§6.1) that came in wire version `wire`. The checks come first; a
    /// failing request changes nothing.
    pub fn copy(
        &mut self,
        from: PoolName,
        request: CopyRequest,
        (inbound, wire): (Option<Inbound>, WireVersion),
        admission: Admission,
        ctx: &mut Ctx<'_>,
    ) {
        let Admission { accepts_copies, max_incoming } = admission;
        let (uuid, meta_only) = (request.uuid, request.meta_only);
        let pnfsid = request.attributes.pnfsid;
        if let Some(reg) = self.requests.get_mut(&uuid) {
            let becomes_the_copy = !meta_only
                && reg.request.meta_only
                && matches!(reg.phase, Phase::Inspecting)
                && reg.reply_to == from
                && reg.request.attributes.pnfsid == pnfsid;
            if !becomes_the_copy {
                // A duplicated request whose work is under way (see below). An update past
                // inspecting found the replica, and its finished message answers the copy too;
                // if the replica went meanwhile, the task fails and its retry asks anew.
                return respond(ctx, inbound, Reply::Ok);
            }
            // The task asked this pool to update a replica it was told of, gave up waiting for
            // the answer (`-eager`), and now asks for a copy: the update becomes the copy, so
            // that a missing replica is transferred rather than refused with no copy to
            // follow. The copy is checked as a new one would be; refused, it leaves the
            // update as it was.
            if let Err(reply) = check(&request, ctx) {
                return respond(ctx, inbound, reply);
            }
            respond(ctx, reg.inbound.take(), Reply::Ok);
            reg.request = request;
            reg.inbound = inbound;
            reg.wire = wire;
            return;
        }
        if self.finished.contains(&uuid) || (meta_only && self.refused_updates.contains(&uuid)) {
            // A duplicated request: the work is done or was refused. Doing it again would
            // leave a copy the source never counts (found by migration-sim with duplicated
            // messages). The source's wait was answered by the first one; this answer only
            // acknowledges.
            return respond(ctx, inbound, Reply::Ok);
        }
        if !accepts_copies {
            return self.refuse((uuid, meta_only), inbound, error(ReturnCode::POOL_DISABLED, "Pool is disabled"), ctx);
        }
        if let Err(reply) = check(&request, ctx) {
            return self.refuse((uuid, meta_only), inbound, reply, ctx);
        }
        if max_incoming > 0 && self.requests.len() >= max_incoming {
            // dCache #7578: without a cap, 400 transfers from many sources landed on one pool.
            let text = format!("Target is busy: {max_incoming} incoming copies at once");
            return self.refuse((uuid, meta_only), inbound, error(ReturnCode::TARGET_BUSY, text), ctx);
        }
        self.requests
            .insert(uuid, Registered { request, reply_to: from, inbound, wire, phase: Phase::Inspecting, rereads: 0 });
        ctx.effects.push(Effect::InspectCopy { request: uuid, pnfsid });
    }

    /// The pool's mode and local entry for a copy request: refuse, transfer or update.
    pub fn inspected(&mut self, uuid: RequestId, accepts_copies: bool, result: EntryResult, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.get_mut(&uuid) else { return };
        let result = entry_of(&reg.request.attributes.pnfsid, result);
        match reg.phase {
            Phase::Inspecting => {}
            Phase::Rechecking => return self.rechecked(uuid, accepts_copies, result, ctx),
            _ => return,
        }
        let inbound = reg.inbound.take();
        let meta_only = reg.request.meta_only;
        if !accepts_copies {
            // The pool was disabled without telling the module (an automatic disable after
            // an I/O fault): the host's answer counts, as dCache checks its mode per request.
            return self.refuse((uuid, meta_only), inbound, error(ReturnCode::POOL_DISABLED, "Pool is disabled"), ctx);
        }
        match replica_in(result) {
            Err(e) => self.refuse((uuid, meta_only), inbound, error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e), ctx),
            Ok(None) => {
                if reg.request.meta_only {
                    // R13 fixed: the request is unregistered, later pings fail.
                    let text = format!("Pool does not contain {}", reg.request.attributes.pnfsid);
                    return self.refuse(
                        (uuid, meta_only),
                        inbound,
                        error(ReturnCode::FILE_NOT_IN_REPOSITORY, text),
                        ctx,
                    );
                }
                reg.phase = Phase::Transferring;
                // From here on the request needs only its source and file id, to report how
                // it ended: its attributes and sticky records move to the transfer.
                let r = &mut reg.request;
                let pnfsid = r.attributes.pnfsid;
                let p2p = P2pRequest {
                    id: uuid,
                    source: r.source.clone(),
                    attributes: std::mem::replace(
                        &mut r.attributes,
                        ReplicaEntry::new(pnfsid, ReplicaState::New, 0, 0).into_attributes(),
                    ),
                    state: r.state,
                    sticky: std::mem::take(&mut r.sticky),
                    atime: r.atime,
                    force_source_mode: r.force_source_mode,
                };
                let token = ctx.request_untimed(Route::ServerP2p { request: uuid });
                ctx.effects.push(Effect::StartP2p { token, request: p2p });
                respond(ctx, inbound, Reply::Ok);
            }
            Ok(Some(entry)) => {
                let pnfsid = entry.pnfsid;
                respond(ctx, inbound, Reply::Ok);
                if reg.request.verify && !ctx.verifies_checksums {
                    // Updating without the verification the source asked for could let a move
                    // delete its source on the strength of a corrupt copy.
                    let text =
                        "Cannot verify the checksum of the existing replica: this pool does not verify checksums";
                    self.finish(uuid, Err((ReturnCode::DEFAULT_ERROR_CODE, text.to_string())), ctx);
                } else if reg.request.verify {
                    reg.phase = Phase::Verifying;
                    ctx.effects.push(Effect::VerifyChecksum { request: uuid, pnfsid });
                } else {
                    self.update(uuid, &entry, ctx);
                }
            }
        }
    }

    /// The checksum of the existing replica was verified.
    pub fn verified(&mut self, uuid: RequestId, result: Result<(), Failure>, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.get_mut(&uuid) else { return };
        if !matches!(reg.phase, Phase::Verifying) {
            return;
        }
        match result {
            Ok(()) => {
                // Read again before it is confirmed: a verification can take minutes, and a
                // replica removed meanwhile, reported as held, would have its source delete
                // the last copy (dCache answers from the entry it read before verifying).
                let pnfsid = reg.request.attributes.pnfsid;
                reg.phase = Phase::Rechecking;
                ctx.effects.push(Effect::InspectCopy { request: uuid, pnfsid });
            }
            Err(Failure::Error { code, cause }) => self.finish(uuid, Err((code, cause)), ctx),
            Err(other) => {
                let text = format!("I/O error during checksum calculation: {other}");
                self.finish(uuid, Err((ReturnCode::ERROR_IO_DISK, text)), ctx)
            }
        }
    }

    /// The local entry, read again after its checksum was verified or after a refused update:
    /// the replica as it is now is upgraded and confirmed, or the request fails.
    fn rechecked(&mut self, uuid: RequestId, accepts_copies: bool, result: EntryResult, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.get(&uuid) else { return };
        let pnfsid = reg.request.attributes.pnfsid;
        match replica_in(result) {
            _ if !accepts_copies => {
                self.finish(uuid, Err((ReturnCode::POOL_DISABLED, "Pool is disabled".to_string())), ctx);
            }
            Err(e) => self.finish(uuid, Err((ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e)), ctx),
            Ok(None) => {
                let text = if reg.rereads > 0 {
                    format!("{pnfsid} was removed before it could be updated")
                } else {
                    format!("{pnfsid} was removed while its checksum was verified")
                };
                self.finish(uuid, Err((ReturnCode::FILE_NOT_IN_REPOSITORY, text)), ctx);
            }
            Ok(Some(entry)) => self.update(uuid, &entry, ctx),
        }
    }

    /// Computes the changes that upgrade the existing replica (§6.3) and applies them.
    fn update(&mut self, uuid: RequestId, found: &ReplicaEntry, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.get_mut(&uuid) else { return };
        let pnfsid = found.pnfsid;
        match existing_replica_changes(found.state, reg.request.state, &reg.request.sticky, &reg.request.source) {
            Err(e) => self.finish(uuid, Err(e), ctx),
            Ok(changes) if changes.is_empty() => self.finish(uuid, Ok(()), ctx),
            Ok(changes) => {
                reg.phase = Phase::Updating { found: found.state };
                ctx.effects.push(Effect::Change {
                    purpose: ChangePurpose::ServerUpdate { request: uuid },
                    pnfsid,
                    changes,
                });
            }
        }
    }

    /// The existing replica was changed.
    pub fn updated(&mut self, uuid: RequestId, result: Result<(), RepositoryError>, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.get_mut(&uuid) else { return };
        let state = match reg.phase {
            Phase::Updating { found } => found,
            _ => ReplicaState::New,
        };
        let pnfsid = reg.request.attributes.pnfsid;
        if result == Err(RepositoryError::Changed) && reg.rereads < REREADS {
            // The replica is no longer in the state the update was decided on: read it again
            // and decide anew (a replica marked BROKEN meanwhile is then refused).
            reg.rereads += 1;
            reg.phase = Phase::Rechecking;
            ctx.effects.push(Effect::InspectCopy { request: uuid, pnfsid });
            return;
        }
        let outcome = match result {
            Ok(()) => Ok(()),
            Err(RepositoryError::Changed) => {
                Err((ReturnCode::DEFAULT_ERROR_CODE, format!("{pnfsid} kept changing while it was updated")))
            }
            Err(RepositoryError::Other(e)) => Err((ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e)),
            // Gone since it was read: what dCache's repository answers then (its setSticky
            // throws FileNotInCacheException), not a state it no longer has.
            Err(RepositoryError::NotFound) => {
                Err((ReturnCode::FILE_NOT_IN_REPOSITORY, format!("{pnfsid} was removed before it could be updated")))
            }
            Err(_) => Err((ReturnCode::DEFAULT_ERROR_CODE, format!("Cannot update file in state {state}"))),
        };
        self.finish(uuid, outcome, ctx);
    }

    /// The pool-to-pool transfer ended.
    pub fn transferred(&mut self, uuid: RequestId, outcome: Outcome<()>, ctx: &mut Ctx<'_>) {
        let result = outcome.map_err(|f| match f {
            Failure::Error { code, cause } => (code, cause),
            Failure::Timeout => (ReturnCode::TIMEOUT, "Transfer timed out".to_string()),
            Failure::NoRoute => (ReturnCode::SERVICE_UNAVAILABLE, "Source pool unreachable".to_string()),
        });
        self.finish(uuid, result, ctx);
    }

    /// A ping (§6.5): success iff the request is registered.
    pub fn ping(&self, uuid: RequestId, inbound: Option<Inbound>, ctx: &mut Ctx<'_>) {
        let reply = if self.requests.contains_key(&uuid) {
            Reply::Ok
        } else {
            error(ReturnCode::INVALID_ARGS, "No such request")
        };
        respond(ctx, inbound, reply);
    }

    /// A cancel (§6.6): aborts a transfer or an update that is still interruptible.
    pub fn cancel(&mut self, uuid: RequestId, reason: Option<String>, inbound: Option<Inbound>, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.get_mut(&uuid) else {
            return respond(ctx, inbound, error(ReturnCode::INVALID_ARGS, "No such request"));
        };
        match reg.phase {
            Phase::Transferring => {
                // The transfer's completion reports the error and unregisters the request.
                ctx.effects.push(Effect::CancelP2p { id: uuid });
                respond(ctx, inbound, Reply::Ok);
            }
            Phase::Inspecting | Phase::Verifying | Phase::Rechecking => {
                let text = match reason {
                    Some(r) => format!("Task was cancelled: {r}"),
                    None => "Task was cancelled".to_string(),
                };
                respond(ctx, reg.inbound.take(), error(ReturnCode::DEFAULT_ERROR_CODE, text.clone()));
                self.finish(uuid, Err((ReturnCode::DEFAULT_ERROR_CODE, text)), ctx);
                respond(ctx, inbound, Reply::Ok);
            }
            Phase::Updating { .. } => respond(ctx, inbound, error(ReturnCode::INVALID_ARGS, "No such request")),
        }
    }

    /// Answers a request with a refusal, unregistering it if it was registered, and remembers
    /// it so that a duplicate is not executed.
    fn refuse(
        &mut self,
        (uuid, meta_only): (RequestId, bool),
        inbound: Option<Inbound>,
        reply: Reply,
        ctx: &mut Ctx<'_>,
    ) {
        self.requests.remove(&uuid);
        if meta_only {
            self.refused_updates.insert(uuid);
        } else {
            self.finished.insert(uuid);
        }
        respond(ctx, inbound, reply);
    }

    /// Unregisters the request and tells the source how it ended (§6.2).
    fn finish(&mut self, uuid: RequestId, result: Result<(), (ReturnCode, String)>, ctx: &mut Ctx<'_>) {
        let Some(reg) = self.requests.remove(&uuid) else { return };
        self.finished.insert(uuid);
        let (rc, error) = match result {
            Ok(()) => (ReturnCode::OK, None),
            // A host that fails with return code 0 (a Java `fail(0, …)`, a `ServiceException`
            // built with 0) still failed: sent as is, the source would read 0 as success,
            // count the copy and, in a move, delete the only good replica.
            Err((ReturnCode::OK, text)) => (ReturnCode::DEFAULT_ERROR_CODE, Some(text)),
            Err((code, text)) => (code, Some(text)),
        };
        let message =
            Message::CopyFinished { uuid, pool: reg.request.source, pnfsid: reg.request.attributes.pnfsid, rc, error };
        ctx.send_as(reg.wire, reg.reply_to, &message, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_finished_requests_are_remembered_and_the_oldest_forgotten() {
        let mut finished = Remembered::default();
        let total = 3 * REMEMBERED as u128 + 17;
        for id in 0..total {
            finished.insert(RequestId(id));
            assert!(finished.current.len() + finished.previous.len() <= 2 * REMEMBERED);
        }
        for id in total - REMEMBERED as u128..total {
            assert!(finished.contains(&RequestId(id)), "{id} finished among the last {REMEMBERED}");
        }
        assert!(!finished.contains(&RequestId(0)));
        assert!(!finished.contains(&RequestId(total - 2 * REMEMBERED as u128 - 1)));
    }
}
