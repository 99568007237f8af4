//! Memory the module lets go of: a large queue's compactions are freed by the driver after
//! the module's lock is released (`Effect::Release`), never under it.

mod common;

use common::*;
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::Precious;

/// A move of 10 000 files drops its queue's dead prefix (a 4096-file chunk and the old
/// index, over glibc's 64 KiB merge threshold) as files leave in order: that memory reaches
/// the driver as an effect, and the move completes as without it.
///
/// Catches: the queue freeing what it drops itself, or the job not handing it on.
#[test]
fn a_queue_compaction_is_freed_by_the_driver() {
    let mut c = two_pools();
    c.trace = Some(Vec::new());
    let files: Vec<String> = (0..10_000).map(|i| format!("{:X}", 0x10_000 + i)).collect();
    for f in &files {
        put(&mut c, "pool1", f, Precious, 1_000, vec![]);
    }
    ok(&mut c, "pool1", "migration move -concurrency=16 pool2");
    assert!(run_until(&mut c, 3_600_000, 1_000, |c| state(c, "pool1", "1") == JobState::Finished));
    let trace = c.trace.take().expect("tracing");
    let released: Vec<&String> = trace.iter().filter(|l| l.contains("pool1 ⇒ release")).collect();
    assert!(!released.is_empty(), "no memory was handed to the driver");
    // Only what is worth freeing later (glibc's 64 KiB merge threshold) goes this way.
    let bytes = |line: &str| -> usize {
        line.trim_end_matches(" bytes").rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a size")
    };
    assert!(released.iter().all(|l| bytes(l) >= 64 * 1024), "{released:?}");
    for f in files.iter().step_by(97) {
        assert!(entry(&c, "pool2", f).is_some() && was_removed(&c, "pool1", f), "{f} moved");
    }
}
