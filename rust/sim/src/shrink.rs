//! Minimises a failing scenario: greedily drops job specs, files, timeline actions and fault
//! knobs while the run still violates the same invariant. The result replays exactly with
//! `--from SEED --seeds 1 --only MASK`.

use crate::run;
use crate::scenario::{KNOBS, Only, Scenario};

fn fails(base: &Scenario, only: &Only, invariant: &str, runs: &mut u64) -> bool {
    *runs += 1;
    let outcome = run::run(&base.restrict(only), false, None);
    matches!(outcome.result, Err(v) if v.invariant == invariant)
}

/// Tries to drop each element of one list in turn (chunks first), keeping drops that still
/// fail.
fn shrink_list(
    base: &Scenario,
    only: &mut Only,
    invariant: &str,
    runs: &mut u64,
    list: fn(&mut Only) -> &mut Vec<usize>,
) {
    let mut chunk = list(only).len().div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < list(only).len() {
            let mut candidate = only.clone();
            let items = list(&mut candidate);
            let end = (start + chunk).min(items.len());
            items.drain(start..end);
            if fails(base, &candidate, invariant, runs) {
                *only = candidate;
            } else {
                start = end;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// The minimal mask found for `base`, which fails with `invariant`; and how many runs it took.
pub fn shrink(base: &Scenario, invariant: &str) -> (Only, u64) {
    let mut only = Only::all(base);
    let mut runs = 0;
    for _ in 0..2 {
        shrink_list(base, &mut only, invariant, &mut runs, |o| &mut o.specs);
        shrink_list(base, &mut only, invariant, &mut runs, |o| &mut o.files);
        shrink_list(base, &mut only, invariant, &mut runs, |o| &mut o.actions);
        for knob in KNOBS {
            if only.faults.iter().any(|k| k == knob) {
                let mut candidate = only.clone();
                candidate.faults.retain(|k| k != knob);
                if fails(base, &candidate, invariant, &mut runs) {
                    only = candidate;
                }
            }
        }
    }
    (only, runs)
}
