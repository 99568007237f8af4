//! Source and target modes (`-smode`, `-tmode`, spec §9) and the repository changes they
//! make: on the source after a successful task, and on the target when a copy already exists.

use std::borrow::Cow;
use std::fmt;

use crate::Millis;
use crate::error::ReturnCode;
use crate::replica::{Durability, NEVER_EXPIRES, ReplicaState, StickyRecord};

/// The state part of a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeState {
    /// Keep (source) / copy (target) the source replica's state.
    Same,
    /// Make the replica cached.
    Cached,
    /// Make the replica precious.
    Precious,
    /// Source only: cached, and every non-pin sticky record expires.
    Removable,
    /// Source only: delete the replica, unless pinned (then as `removable`).
    Delete,
}

/// A parsed `-smode`/`-tmode` value: a state and sticky records to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mode {
    /// The state part.
    pub state: ModeState,
    /// `+OWNER(LIFETIME)` parts, with absolute expiry fixed when the job was created.
    pub sticky: Vec<StickyRecord>,
}

impl Mode {
    /// A mode with no sticky records.
    pub fn plain(state: ModeState) -> Mode {
        Mode { state, sticky: Vec::new() }
    }

    /// Parses `<state>[+<owner>[(<lifetime>)]]...`; lifetimes in seconds are made absolute
    /// relative to `now` (dCache does this once, when the job is created).
    pub fn parse(value: &str, now: Millis) -> Result<Mode, String> {
        let mut parts: Vec<&str> = value.split('+').collect();
        // Trailing empty parts are ignored: `same+` is `same`.
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        let mut sticky = Vec::new();
        // dCache checks the sticky parts before the state name.
        for part in &parts[1..] {
            sticky.push(parse_sticky(part, now)?);
        }
        let state = match parts[0] {
            "same" => ModeState::Same,
            "cached" => ModeState::Cached,
            "precious" => ModeState::Precious,
            "removable" => ModeState::Removable,
            "delete" => ModeState::Delete,
            _ => return Err(format!("{value}: Invalid value")),
        };
        Ok(Mode { state, sticky })
    }
}

fn parse_sticky(part: &str, now: Millis) -> Result<StickyRecord, String> {
    let syntax = || format!("{part}: Syntax error");
    let (owner, lifetime) = match part.split_once('(') {
        None => (part, None),
        Some((owner, rest)) => {
            let inner = rest.strip_suffix(')').ok_or_else(syntax)?;
            (owner, Some(inner))
        }
    };
    let owner_ok = !owner.is_empty() && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let lifetime_ok = lifetime.is_none_or(|l| {
        let digits = l.strip_prefix('-').unwrap_or(l);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !owner_ok || !lifetime_ok {
        return Err(syntax());
    }
    let expire = match lifetime {
        None => NEVER_EXPIRES,
        Some(l) => match l.parse::<i32>() {
            Ok(-1) => NEVER_EXPIRES,
            Ok(0) => 0,
            Ok(n) if n > 0 => now + i64::from(n) * 1000,
            _ => return Err(format!("{l}: Invalid lifetime")),
        },
    };
    Ok(StickyRecord::new(owner, expire))
}

impl fmt::Display for ModeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModeState::Same => "same",
            ModeState::Cached => "cached",
            ModeState::Precious => "precious",
            ModeState::Removable => "removable",
            ModeState::Delete => "delete",
        })
    }
}

/// One change to a local replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryChange {
    /// Change the replica's state; `reason` goes to the pool's log.
    SetState {
        /// The new state.
        state: ReplicaState,
        /// Why, in dCache's words (mostly a fixed text: not allocated per file).
        reason: Cow<'static, str>,
    },
    /// Delete the replica if it is still as `seen`, the entry the decision was made on
    /// ([`Repository::remove_if_unchanged`](crate::host::Repository::remove_if_unchanged)).
    Remove {
        /// The state and sticky records of the entry read.
        seen: Durability,
        /// Why, as for [`RepositoryChange::SetState`].
        reason: Cow<'static, str>,
    },
    /// Change the replica's state to `state` if it is still in state `seen`, the state the
    /// decision was made on; with `state == seen`, only check that it is
    /// ([`Repository::set_state_if_unchanged`](crate::host::Repository::set_state_if_unchanged)).
    SetStateIfUnchanged {
        /// The state read.
        seen: ReplicaState,
        /// The new state.
        state: ReplicaState,
        /// Why, as for [`RepositoryChange::SetState`].
        reason: Cow<'static, str>,
    },
    /// Set a sticky record with dCache's `overwrite` semantics (§1.4).
    SetSticky {
        /// The record.
        record: StickyRecord,
        /// Replace a record of the same owner even when that shortens it.
        overwrite: bool,
    },
}

fn set_state(state: ReplicaState, reason: impl Into<Cow<'static, str>>) -> RepositoryChange {
    RepositoryChange::SetState { state, reason: reason.into() }
}

fn overwrite(record: &StickyRecord) -> RepositoryChange {
    RepositoryChange::SetSticky { record: record.clone(), overwrite: true }
}

/// What the source mode does to the source replica after a successful task (§9.4), computed
/// from its state and sticky records as read at that moment. Pins are never touched.
///
/// A state the replica already has is not set again: the repository would report a state
/// change, and a permanent job re-adds a replica on every state change, so a permanent
/// `-smode=cached` job would migrate every file again every 10 s, for ever (found by the
/// fault simulation, `migration-sim`).
///
/// Nor is the state of a replica that is neither cached nor precious changed: one that turned
/// BROKEN while it was copied (a failed read, a checksum found wrong) would be made readable
/// again, as CACHED or even PRECIOUS and flushed to tape. dCache sets it regardless; a task
/// refuses to start on a BROKEN replica, and a target to update one, for the same reason.
pub fn source_mode_changes(mode: &Mode, source: &Durability, pin_manager: &str) -> Vec<RepositoryChange> {
    let mut changes = mode_changes(mode, source, pin_manager);
    let settable = source.state.is_cached_or_precious();
    changes.retain(|c| !matches!(c, RepositoryChange::SetState { state, .. } if !settable || *state == source.state));
    changes
}

fn mode_changes(mode: &Mode, source: &Durability, pin_manager: &str) -> Vec<RepositoryChange> {
    let listed = mode.sticky.iter().map(overwrite);
    match mode.state {
        ModeState::Same => listed.collect(),
        ModeState::Cached => {
            listed.chain([set_state(ReplicaState::Cached, "migration job making source cached")]).collect()
        }
        ModeState::Precious => [set_state(ReplicaState::Precious, "migration job making source precious")]
            .into_iter()
            .chain(listed)
            .collect(),
        // Only if still unpinned when it goes: a pin set after the read keeps the replica.
        ModeState::Delete if !source.is_pinned(pin_manager) => {
            vec![RepositoryChange::Remove { seen: source.clone(), reason: "migration job deleting source".into() }]
        }
        ModeState::Removable | ModeState::Delete => {
            let expire_others = source
                .sticky
                .iter()
                .filter(|r| !r.is_pin(pin_manager))
                .filter(|r| !mode.sticky.iter().any(|l| l.owner == r.owner))
                .map(|r| overwrite(&StickyRecord::new(r.owner.clone(), 0)));
            listed
                .chain(expire_others)
                .chain([set_state(ReplicaState::Cached, "migration job making source removable")])
                .collect()
        }
    }
}

impl Mode {
    /// Whether this source mode can leave the source more volatile than it was: cached,
    /// unsticky or gone.
    pub fn may_lower_source(&self) -> bool {
        matches!(self.state, ModeState::Cached | ModeState::Removable | ModeState::Delete)
    }
}

/// Why the source replica, as read now, is more durable than the copies a `-tmode=same` task
/// made of it, if it is: made precious, or given a sticky record (not a pin) the copies were
/// not asked for or were asked for shorter, while it was copied. dCache applies the source
/// mode regardless (§9.4), so that a move could leave a file that had just become precious
/// only as cached copies; here the source is left as it is instead, and the copies are
/// brought up to date first (`Job::entry_for_source_mode`).
///
/// `copied` is what the copies were asked to be under `-tmode=same`: the source's state and
/// (pins aside) sticky records as the task read them, with the mode's own records.
pub fn outgrown_copies(copied: &Durability, source: &Durability, pin_manager: &str, now: Millis) -> Option<String> {
    if source.state == ReplicaState::Precious && copied.state != ReplicaState::Precious {
        return Some("it became precious while it was copied".to_string());
    }
    let uncovered =
        source.sticky.iter().filter(|held| !held.is_pin(pin_manager) && held.is_valid_at(now)).find(|held| {
            !copied.sticky.iter().any(|asked| asked.owner == held.owner && asked.until() >= held.until())
        })?;
    Some(format!("its sticky record of {} changed while it was copied", uncovered.owner))
}

/// What the target does to a replica it already has (§6.3): only upgrade cached to precious
/// and only extend sticky records, so the replica never becomes more volatile.
///
/// The sticky records come first and the state last, conditional on the state `current` was
/// read in, whether it changes or not (`SetStateIfUnchanged`): the target confirms the copy
/// once the changes are made, and a move then deletes its source, so the last step checks
/// that the replica is still as it was read. One marked BROKEN since (a checksum scan, a
/// failed read) is then neither made precious nor confirmed. dCache applies its changes
/// without that check. With nothing to change there is nothing to apply: the read itself was
/// the check.
pub fn existing_replica_changes(
    current: ReplicaState,
    requested: ReplicaState,
    sticky: &[StickyRecord],
    source: &str,
) -> Result<Vec<RepositoryChange>, (ReturnCode, String)> {
    let state = match current {
        ReplicaState::Cached if requested == ReplicaState::Precious => ReplicaState::Precious,
        ReplicaState::Cached | ReplicaState::Precious => current,
        other => {
            return Err((ReturnCode::DEFAULT_ERROR_CODE, format!("Cannot update file in state {other}")));
        }
    };
    if state == current && sticky.is_empty() {
        return Ok(Vec::new());
    }
    let mut changes: Vec<RepositoryChange> =
        sticky.iter().map(|r| RepositoryChange::SetSticky { record: r.clone(), overwrite: false }).collect();
    let reason = if state == current {
        Cow::Borrowed("migration request: replica still as read")
    } else {
        Cow::Owned(format!("migration request from {source}"))
    };
    changes.push(RepositoryChange::SetStateIfUnchanged { seen: current, state, reason });
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_000_000;

    #[test]
    fn mode_parses_state_and_sticky_parts() {
        let m = Mode::parse("precious+foo(-1)+bar(60)+baz", NOW).expect("valid");
        assert_eq!(m.state, ModeState::Precious);
        assert_eq!(
            m.sticky,
            vec![StickyRecord::new("foo", -1), StickyRecord::new("bar", NOW + 60_000), StickyRecord::new("baz", -1)]
        );
        assert_eq!(Mode::parse("same+", NOW).expect("valid"), Mode::plain(ModeState::Same));
        assert_eq!(Mode::parse("cached+x(0)", NOW).expect("valid").sticky[0].expire, 0);
    }

    #[test]
    fn mode_errors_use_dcache_texts_and_check_sticky_first() {
        assert_eq!(Mode::parse("foo+bar", NOW), Err("foo+bar: Invalid value".into()));
        assert_eq!(Mode::parse("foo+b-r", NOW), Err("b-r: Syntax error".into()));
        assert_eq!(Mode::parse("same++x", NOW), Err(": Syntax error".into()));
        assert_eq!(Mode::parse("same+x(-2)", NOW), Err("-2: Invalid lifetime".into()));
        assert_eq!(Mode::parse("same+x(99999999999)", NOW), Err("99999999999: Invalid lifetime".into()));
        assert_eq!(Mode::parse("same+x(1", NOW), Err("x(1: Syntax error".into()));
    }

    fn pinned_precious() -> Durability {
        let sticky = vec![StickyRecord::new("foobar", -1), StickyRecord::new("PinManager-1", -1)];
        Durability { state: ReplicaState::Precious, sticky }
    }

    #[test]
    fn delete_of_a_pinned_replica_makes_it_removable_and_keeps_the_pin() {
        // The Book's example: foobar expires, the pin stays, the replica becomes cached.
        let changes = source_mode_changes(&Mode::plain(ModeState::Delete), &pinned_precious(), "PinManager");
        assert_eq!(
            changes,
            vec![
                RepositoryChange::SetSticky { record: StickyRecord::new("foobar", 0), overwrite: true },
                set_state(ReplicaState::Cached, "migration job making source removable"),
            ]
        );
    }

    /// A source that turned BROKEN while it was copied stays BROKEN whatever the source mode:
    /// made cached or precious it would be read (or flushed to tape) again.
    #[test]
    fn a_broken_source_keeps_its_state() {
        let mut broken = pinned_precious();
        broken.state = ReplicaState::Broken;
        for state in [ModeState::Cached, ModeState::Precious, ModeState::Removable, ModeState::Delete] {
            let changes = source_mode_changes(&Mode::plain(state), &broken, "PinManager");
            assert!(!changes.iter().any(|c| matches!(c, RepositoryChange::SetState { .. })), "{state:?}: {changes:?}");
        }
        // Its records are still what the mode says (the foobar record expires, the pin stays).
        let changes = source_mode_changes(&Mode::plain(ModeState::Removable), &broken, "PinManager");
        assert_eq!(
            changes,
            vec![RepositoryChange::SetSticky { record: StickyRecord::new("foobar", 0), overwrite: true }]
        );
    }

    #[test]
    fn delete_of_an_unpinned_replica_removes_it() {
        let mut e = pinned_precious();
        e.sticky.retain(|r| !r.is_pin("PinManager"));
        let changes = source_mode_changes(&Mode::plain(ModeState::Delete), &e, "PinManager");
        let seen = Durability { state: ReplicaState::Precious, sticky: vec![StickyRecord::new("foobar", -1)] };
        assert_eq!(changes, vec![RepositoryChange::Remove { seen, reason: "migration job deleting source".into() }]);
    }

    #[test]
    fn removable_keeps_listed_owners() {
        let mode = Mode::parse("removable+foobar(-1)", NOW).expect("valid");
        let changes = source_mode_changes(&mode, &pinned_precious(), "PinManager");
        assert_eq!(changes.len(), 2, "listed record set, state cached, nothing expired: {changes:?}");
    }

    #[test]
    fn existing_precious_replica_is_never_made_cached() {
        let changes = existing_replica_changes(
            ReplicaState::Precious,
            ReplicaState::Cached,
            &[StickyRecord::new("a", 5)],
            "pool1",
        )
        .expect("ok");
        assert_eq!(
            changes,
            vec![
                RepositoryChange::SetSticky { record: StickyRecord::new("a", 5), overwrite: false },
                RepositoryChange::SetStateIfUnchanged {
                    seen: ReplicaState::Precious,
                    state: ReplicaState::Precious,
                    reason: "migration request: replica still as read".into(),
                },
            ]
        );
    }

    #[test]
    fn existing_cached_replica_is_upgraded_to_precious_if_still_cached() {
        let changes = existing_replica_changes(ReplicaState::Cached, ReplicaState::Precious, &[], "pool1").expect("ok");
        let reason = "migration request from pool1".into();
        let upgrade =
            RepositoryChange::SetStateIfUnchanged { seen: ReplicaState::Cached, state: ReplicaState::Precious, reason };
        assert_eq!(changes, vec![upgrade]);
    }

    #[test]
    fn existing_replica_with_nothing_to_change_is_not_changed() {
        for state in [ReplicaState::Cached, ReplicaState::Precious] {
            let changes = existing_replica_changes(state, ReplicaState::Cached, &[], "pool1").expect("ok");
            assert_eq!(changes, vec![], "{state}");
        }
    }

    #[test]
    fn existing_replica_in_transfer_cannot_be_updated() {
        assert_eq!(
            existing_replica_changes(ReplicaState::FromPool, ReplicaState::Cached, &[], "p"),
            Err((ReturnCode::DEFAULT_ERROR_CODE, "Cannot update file in state FROM_POOL".into()))
        );
    }

    #[test]
    fn a_source_outgrows_its_copies_by_becoming_precious_or_stickier_than_they_were_asked_to_be() {
        let copied = |state, sticky: Vec<StickyRecord>| Durability { state, sticky };
        let source = |state, sticky: Vec<StickyRecord>| Durability { state, sticky };
        let (never, later, sooner) =
            (StickyRecord::new("a", -1), StickyRecord::new("a", NOW + 10), StickyRecord::new("a", NOW + 5));
        let outgrown = |c: &Durability, s: &Durability| outgrown_copies(c, s, "PinManager", NOW);
        let cached = ReplicaState::Cached;
        let precious = ReplicaState::Precious;

        assert_eq!(outgrown(&copied(cached, vec![]), &source(cached, vec![])), None);
        assert_eq!(
            outgrown(&copied(precious, vec![]), &source(cached, vec![])),
            None,
            "flushed meanwhile: less durable"
        );
        assert!(outgrown(&copied(cached, vec![]), &source(precious, vec![])).is_some_and(|w| w.contains("precious")));
        // Sticky records: covered by one of the same owner lasting as long, or never expiring.
        assert_eq!(outgrown(&copied(cached, vec![later.clone()]), &source(cached, vec![sooner.clone()])), None);
        assert_eq!(outgrown(&copied(cached, vec![never.clone()]), &source(cached, vec![later.clone()])), None);
        assert!(outgrown(&copied(cached, vec![sooner.clone()]), &source(cached, vec![later.clone()])).is_some());
        assert!(outgrown(&copied(cached, vec![later.clone()]), &source(cached, vec![never.clone()])).is_some());
        let other = StickyRecord::new("b", -1);
        assert!(
            outgrown(&copied(cached, vec![never.clone()]), &source(cached, vec![other]))
                .is_some_and(|w| w.contains(" b "))
        );
        // Pins move through the pin manager, and an expired record keeps nothing.
        assert_eq!(
            outgrown(&copied(cached, vec![]), &source(cached, vec![StickyRecord::new("PinManager-1", -1)])),
            None
        );
        assert_eq!(outgrown(&copied(cached, vec![]), &source(cached, vec![StickyRecord::new("x", NOW)])), None);
        assert_eq!(outgrown(&copied(cached, vec![]), &source(cached, vec![StickyRecord::new("x", 0)])), None);
    }
}
