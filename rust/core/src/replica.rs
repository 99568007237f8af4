//! Replicas as the local repository knows them: state, sticky records and the entry snapshot
//! that filters and tasks look at (spec §1.3, §1.4).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::pnfsid::PnfsId;

/// The state of a replica in a pool's repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplicaState {
    /// No such replica (also what a repository answers for an unknown id).
    New,
    /// Being written by a client.
    FromClient,
    /// Being written by a pool-to-pool transfer.
    FromPool,
    /// Being restored from tape.
    FromStore,
    /// Damaged.
    Broken,
    /// A cached copy: may be garbage-collected when not sticky.
    Cached,
    /// The only copy until flushed to tape: never garbage-collected.
    Precious,
    /// Deleted; the entry is going away.
    Removed,
    /// Gone.
    Destroyed,
}

/// What a requested state change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The change is applied.
    Allowed,
    /// `REMOVED` requested for a replica that is not (or no longer) there: nothing happens.
    NoOp,
    /// dCache's repository refuses it.
    Illegal,
}

impl ReplicaState {
    /// The name dCache prints (`CACHED`, `FROM_POOL`, …).
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::New => "NEW",
            ReplicaState::FromClient => "FROM_CLIENT",
            ReplicaState::FromPool => "FROM_POOL",
            ReplicaState::FromStore => "FROM_STORE",
            ReplicaState::Broken => "BROKEN",
            ReplicaState::Cached => "CACHED",
            ReplicaState::Precious => "PRECIOUS",
            ReplicaState::Removed => "REMOVED",
            ReplicaState::Destroyed => "DESTROYED",
        }
    }

    /// Every state, in declaration order (for integer conversions at the bindings).
    pub const ALL: [ReplicaState; 9] = [
        ReplicaState::New,
        ReplicaState::FromClient,
        ReplicaState::FromPool,
        ReplicaState::FromStore,
        ReplicaState::Broken,
        ReplicaState::Cached,
        ReplicaState::Precious,
        ReplicaState::Removed,
        ReplicaState::Destroyed,
    ];

    /// The legal state changes the migration module relies on (§1.3).
    pub fn transition_to(self, to: ReplicaState) -> Transition {
        use ReplicaState::*;
        match (self, to) {
            (Precious | Cached | Broken, Precious | Cached | Broken | Removed) => Transition::Allowed,
            (New | Removed | Destroyed, Removed) => Transition::NoOp,
            _ => Transition::Illegal,
        }
    }

    /// A replica whose data is complete and readable (what migration jobs select).
    pub fn is_cached_or_precious(self) -> bool {
        matches!(self, ReplicaState::Cached | ReplicaState::Precious)
    }
}

impl fmt::Display for ReplicaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `expire` value of a sticky record that never expires.
pub const NEVER_EXPIRES: Millis = -1;

/// A sticky record: `owner` keeps the replica on the pool until `expire` (ms since the epoch,
/// `-1` never, `0` already expired).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StickyRecord {
    /// Who holds the flag (the pin manager's records start with its cell name).
    pub owner: String,
    /// Expiry in ms since the epoch; `-1` never expires.
    pub expire: Millis,
}

impl StickyRecord {
    /// A record for `owner` expiring at `expire`.
    pub fn new(owner: impl Into<String>, expire: Millis) -> StickyRecord {
        StickyRecord { owner: owner.into(), expire }
    }

    /// When it expires, as an order: a record that never expires last (`Millis::MAX`).
    pub fn until(&self) -> Millis {
        if self.expire == NEVER_EXPIRES { Millis::MAX } else { self.expire }
    }

    /// Valid at time `t` iff it never expires or expires after `t`.
    pub fn is_valid_at(&self, t: Millis) -> bool {
        self.expire == NEVER_EXPIRES || self.expire > t
    }

    /// Whether this record is a pin: its owner starts with the pin manager's cell name.
    pub fn is_pin(&self, pin_manager: &str) -> bool {
        self.owner.starts_with(pin_manager)
    }
}

/// Why a sticky record could not be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyError {
    /// The replica is still being written.
    Incomplete,
    /// The replica is being deleted.
    Removed,
    /// `expire < -1`.
    InvalidExpire(Millis),
    /// An empty owner.
    NoOwner,
}

/// Whether `owner` and `expire` make a sticky record any repository takes.
pub fn check_sticky(owner: &str, expire: Millis) -> Result<(), StickyError> {
    if owner.is_empty() {
        return Err(StickyError::NoOwner);
    }
    if expire < NEVER_EXPIRES {
        return Err(StickyError::InvalidExpire(expire));
    }
    Ok(())
}

impl fmt::Display for StickyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StickyError::Incomplete => f.write_str("File is incomplete"),
            StickyError::Removed => f.write_str("File has been removed"),
            StickyError::InvalidExpire(e) => write!(f, "Illegal expiration time: {e}"),
            StickyError::NoOwner => f.write_str("A sticky record needs an owner"),
        }
    }
}

/// The records a new replica in `state` gets from a copy request's list, applied as a
/// repository applies them one by one: one per owner, extended, never shortened (a request may
/// list an owner twice, e.g. `-tmode=same+foo` on a source that has `foo`). Invalid records
/// are left out; a target refuses a request that carries one before it copies.
pub fn sticky_as_applied(state: ReplicaState, listed: &[StickyRecord]) -> Vec<StickyRecord> {
    let mut records = Vec::with_capacity(listed.len());
    for record in listed {
        let _ = set_sticky(state, &mut records, &record.owner, record.expire, false);
    }
    records
}

/// Applies `set_sticky(owner, expire, overwrite)` to a replica's records with dCache's rules
/// ("extend, never shorten" unless `overwrite`); returns whether anything changed.
///
/// Kept from dCache on purpose: with `overwrite == false`, asking for `-1` over a finite
/// record changes nothing, because any finite record is "valid at -1".
pub fn set_sticky(
    state: ReplicaState,
    records: &mut Vec<StickyRecord>,
    owner: &str,
    expire: Millis,
    overwrite: bool,
) -> Result<bool, StickyError> {
    match state {
        ReplicaState::Broken | ReplicaState::Precious | ReplicaState::Cached => {}
        ReplicaState::Removed | ReplicaState::Destroyed => return Err(StickyError::Removed),
        _ => return Err(StickyError::Incomplete),
    }
    check_sticky(owner, expire)?;
    match records.iter_mut().find(|r| r.owner == owner) {
        Some(existing) if existing.expire == expire => Ok(false),
        Some(existing) if !overwrite && existing.is_valid_at(expire) => Ok(false),
        Some(existing) => {
            existing.expire = expire;
            Ok(true)
        }
        None => {
            records.push(StickyRecord::new(owner, expire));
            Ok(true)
        }
    }
}

/// Access latency of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLatency {
    /// On disk.
    #[serde(alias = "ONLINE")]
    Online,
    /// May have to come from tape.
    #[serde(alias = "NEARLINE")]
    Nearline,
}

/// Retention policy of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionPolicy {
    /// Written to tape.
    #[serde(alias = "CUSTODIAL")]
    Custodial,
    /// Disk copies only.
    #[serde(alias = "REPLICA")]
    Replica,
    /// Scratch output.
    #[serde(alias = "OUTPUT")]
    Output,
}

impl AccessLatency {
    /// The lower-case name used in commands (`-al=online`).
    pub fn name(self) -> &'static str {
        match self {
            AccessLatency::Online => "online",
            AccessLatency::Nearline => "nearline",
        }
    }

    /// Parses the case-insensitive name.
    pub fn parse(text: &str) -> Option<AccessLatency> {
        match text.to_ascii_lowercase().as_str() {
            "online" => Some(AccessLatency::Online),
            "nearline" => Some(AccessLatency::Nearline),
            _ => None,
        }
    }
}

impl RetentionPolicy {
    /// The lower-case name used in commands (`-rp=custodial`).
    pub fn name(self) -> &'static str {
        match self {
            RetentionPolicy::Custodial => "custodial",
            RetentionPolicy::Replica => "replica",
            RetentionPolicy::Output => "output",
        }
    }

    /// Parses the case-insensitive name.
    pub fn parse(text: &str) -> Option<RetentionPolicy> {
        match text.to_ascii_lowercase().as_str() {
            "custodial" => Some(RetentionPolicy::Custodial),
            "replica" => Some(RetentionPolicy::Replica),
            "output" => Some(RetentionPolicy::Output),
            _ => None,
        }
    }
}

/// A checksum as the namespace records it (`ADLER32:0a1b2c3d`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Checksum {
    /// The algorithm, e.g. `ADLER32`.
    pub kind: String,
    /// Lower-case hex digest.
    pub value: String,
}

/// The largest file size: dCache's sizes are Java `long`s, so a larger one in a message is
/// malformed, refused as it is decoded rather than wrapped to a negative size in Java.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

fn size_of_a_file<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let size = <u64 as serde::Deserialize>::deserialize(d)?;
    if size > MAX_FILE_SIZE {
        return Err(serde::de::Error::custom(format!("file size {size} is larger than {MAX_FILE_SIZE}")));
    }
    Ok(size)
}

/// The file attributes a task sends to the target so that it can create the replica.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileAttributes {
    /// The file.
    pub pnfsid: PnfsId,
    /// Size in bytes; at most `i64::MAX`, a Java `long`, which a decoded message is held to.
    #[serde(deserialize_with = "size_of_a_file")]
    pub size: u64,
    /// Storage class, e.g. `atlas:default@osm`.
    pub storage_class: Option<String>,
    /// Cache class.
    pub cache_class: Option<String>,
    /// Access latency.
    pub access_latency: Option<AccessLatency>,
    /// Retention policy.
    pub retention_policy: Option<RetentionPolicy>,
    /// Known checksums.
    pub checksums: Vec<Checksum>,
}

/// A snapshot of a repository entry: what filters select on and what a task copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaEntry {
    /// The file.
    pub pnfsid: PnfsId,
    /// Replica state.
    pub state: ReplicaState,
    /// Sticky records, pins included.
    pub sticky: Vec<StickyRecord>,
    /// Size in bytes.
    pub size: u64,
    /// Last access, ms since the epoch.
    pub last_access: Millis,
    /// Storage class; `None` when the pool does not know it.
    pub storage_class: Option<String>,
    /// Cache class; `None` means "no cache class".
    pub cache_class: Option<String>,
    /// Access latency.
    pub access_latency: Option<AccessLatency>,
    /// Retention policy.
    pub retention_policy: Option<RetentionPolicy>,
    /// Known checksums.
    pub checksums: Vec<Checksum>,
}

impl ReplicaEntry {
    /// A complete entry with no optional attributes, for tests and simple hosts.
    pub fn new(pnfsid: PnfsId, state: ReplicaState, size: u64, last_access: Millis) -> Self {
        ReplicaEntry {
            pnfsid,
            state,
            sticky: Vec::new(),
            size,
            last_access,
            storage_class: None,
            cache_class: None,
            access_latency: None,
            retention_policy: None,
            checksums: Vec::new(),
        }
    }

    /// Whether a sticky record of it is valid at `now`: what makes it sticky (dCache's `X`
    /// flag, `rep ls -l=s`, a pool's count of sticky files), where an expired record that has
    /// not been dropped yet does not.
    pub fn is_sticky_at(&self, now: Millis) -> bool {
        self.sticky.iter().any(|r| r.is_valid_at(now))
    }

    /// When the first of its sticky records that expire does so (`None`: none of them does).
    pub fn first_expiry(&self) -> Option<Millis> {
        self.sticky.iter().map(|r| r.expire).filter(|&expire| expire != NEVER_EXPIRES).min()
    }

    /// The attributes sent to a target pool.
    pub fn attributes(&self) -> FileAttributes {
        FileAttributes {
            pnfsid: self.pnfsid,
            size: self.size,
            storage_class: self.storage_class.clone(),
            cache_class: self.cache_class.clone(),
            access_latency: self.access_latency,
            retention_policy: self.retention_policy,
            checksums: self.checksums.clone(),
        }
    }

    /// The attributes sent to a target pool, taken from the entry rather than copied.
    pub fn into_attributes(self) -> FileAttributes {
        FileAttributes {
            pnfsid: self.pnfsid,
            size: self.size,
            storage_class: self.storage_class,
            cache_class: self.cache_class,
            access_latency: self.access_latency,
            retention_policy: self.retention_policy,
            checksums: self.checksums,
        }
    }

    /// Whether any record is a pin.
    pub fn is_pinned(&self, pin_manager: &str) -> bool {
        self.sticky.iter().any(|r| r.is_pin(pin_manager))
    }
}

/// What keeps a replica on its pool: its state and sticky records. The module decides on
/// it, and compares it later: a removal happens only if the replica's is still the one the
/// decision was made on ([`Repository::remove_if_unchanged`](crate::host::Repository::remove_if_unchanged);
/// the access time, which every read moves, does not count), and a move's source is not
/// lowered below what its copies were asked to be ([`crate::mode::outgrown_copies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// The state.
    pub state: ReplicaState,
    /// The sticky records (a source's pins included; a copy is never asked for pins).
    pub sticky: Vec<StickyRecord>,
}

impl Durability {
    /// What `entry` has.
    pub fn of(entry: &ReplicaEntry) -> Durability {
        Durability { state: entry.state, sticky: entry.sticky.clone() }
    }

    /// Whether a pin is among the records (as [`ReplicaEntry::is_pinned`]).
    pub fn is_pinned(&self, pin_manager: &str) -> bool {
        self.sticky.iter().any(|r| r.is_pin(pin_manager))
    }

    /// Whether `entry` still has this: the same state and the same sticky records, in any
    /// order. Each list is looked for in the other, so that a host that lists an owner twice
    /// is not taken for unchanged.
    pub fn matches(&self, entry: &ReplicaEntry) -> bool {
        entry.state == self.state
            && entry.sticky.len() == self.sticky.len()
            && entry.sticky.iter().all(|record| self.sticky.contains(record))
            && self.sticky.iter().all(|record| entry.sticky.contains(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplicaState::*;

    #[test]
    fn a_replica_is_as_seen_while_its_state_and_sticky_records_are() {
        let id = PnfsId::from_bytes(&[7; 12]).expect("an id");
        let mut entry = ReplicaEntry::new(id, Cached, 10, 1_000);
        entry.sticky = vec![StickyRecord::new("a", -1), StickyRecord::new("b", 5_000)];
        let seen = Durability::of(&entry);

        let mut read_again = entry.clone();
        read_again.last_access = 2_000;
        read_again.sticky.reverse();
        assert!(seen.matches(&read_again), "access time and record order do not count");

        let changed = |change: fn(&mut ReplicaEntry)| {
            let mut e = entry.clone();
            change(&mut e);
            seen.matches(&e)
        };
        assert!(!changed(|e| e.state = Precious));
        assert!(!changed(|e| e.sticky.push(StickyRecord::new("PinManager-1", -1))), "a pin added");
        assert!(!changed(|e| e.sticky[1].expire = 9_000), "a record extended");
        assert!(!changed(|e| e.sticky[1] = StickyRecord::new("c", 5_000)), "as many records, not the same");
        assert!(!changed(|e| e.sticky[1] = StickyRecord::new("a", -1)), "an owner listed twice");
        assert!(!changed(|e| {
            e.sticky.pop();
        }));
    }

    #[test]
    fn only_complete_replicas_change_state_freely() {
        assert_eq!(Precious.transition_to(Cached), Transition::Allowed);
        assert_eq!(Cached.transition_to(Precious), Transition::Allowed);
        assert_eq!(Broken.transition_to(Removed), Transition::Allowed);
        assert_eq!(Removed.transition_to(Removed), Transition::NoOp);
        assert_eq!(New.transition_to(Removed), Transition::NoOp);
        assert_eq!(FromPool.transition_to(Cached), Transition::Illegal);
        assert_eq!(Removed.transition_to(Cached), Transition::Illegal);
    }

    #[test]
    fn sticky_extends_but_never_shortens_without_overwrite() {
        let mut r = vec![StickyRecord::new("foo", 1000)];
        assert!(!set_sticky(Cached, &mut r, "foo", 500, false).expect("ok"));
        assert_eq!(r[0].expire, 1000);
        assert!(set_sticky(Cached, &mut r, "foo", 2000, false).expect("ok"));
        assert_eq!(r[0].expire, 2000);
        assert!(set_sticky(Cached, &mut r, "foo", 500, true).expect("ok"));
        assert_eq!(r[0].expire, 500);
    }

    #[test]
    fn never_expiring_over_finite_is_a_no_op_without_overwrite() {
        let mut r = vec![StickyRecord::new("foo", 1000)];
        assert!(!set_sticky(Precious, &mut r, "foo", NEVER_EXPIRES, false).expect("ok"));
        assert_eq!(r[0].expire, 1000);
    }

    #[test]
    fn new_owner_is_added_and_same_expire_changes_nothing() {
        let mut r = vec![StickyRecord::new("foo", -1)];
        assert!(!set_sticky(Cached, &mut r, "foo", -1, true).expect("ok"));
        assert!(set_sticky(Cached, &mut r, "bar", 0, false).expect("ok"));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn sticky_on_incomplete_or_removed_replicas_fails() {
        let mut r = Vec::new();
        assert_eq!(set_sticky(FromPool, &mut r, "a", -1, false), Err(StickyError::Incomplete));
        assert_eq!(set_sticky(Removed, &mut r, "a", -1, false), Err(StickyError::Removed));
        assert_eq!(set_sticky(Cached, &mut r, "a", -2, false), Err(StickyError::InvalidExpire(-2)));
    }

    #[test]
    fn pins_are_records_owned_by_the_pin_manager() {
        let pin = StickyRecord::new("PinManager-1234", -1);
        assert!(pin.is_pin("PinManager"));
        assert!(!StickyRecord::new("foo", -1).is_pin("PinManager"));
    }
}
