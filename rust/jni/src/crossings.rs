//! How often this library crossed the JNI boundary, for the throughput bench's figure of
//! crossings per file: calls into Java ([`crate::host::with_java`]) and native methods called
//! from Java ([`crate::error::guard`]). A crossing is the dearest step of a file's path through
//! the facade, so this is the number a change to the bridge should lower. Counted process-wide
//! with relaxed atomics, a few cycles beside the crossing itself.

use std::sync::atomic::{AtomicU64, Ordering};

static INTO_JAVA: AtomicU64 = AtomicU64::new(0);
static FROM_JAVA: AtomicU64 = AtomicU64::new(0);

/// A call into Java.
pub fn into_java() {
    INTO_JAVA.fetch_add(1, Ordering::Relaxed);
}

/// A native method called from Java.
pub fn from_java() {
    FROM_JAVA.fetch_add(1, Ordering::Relaxed);
}

/// Calls into Java and native calls from Java so far.
pub fn counted() -> (u64, u64) {
    (INTO_JAVA.load(Ordering::Relaxed), FROM_JAVA.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_are_counted_apart() {
        let (into0, from0) = counted();
        into_java();
        into_java();
        from_java();
        let (into1, from1) = counted();
        // Other tests of this binary may cross at the same time: at least ours are counted.
        assert!(into1 - into0 >= 2, "{into0} → {into1}");
        assert!(from1 - from0 >= 1, "{from0} → {from1}");
    }
}
