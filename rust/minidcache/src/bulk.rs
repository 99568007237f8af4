//! Work that makes many long-lived entries (loading a home, starting a pool, `populate`) runs
//! on a thread of its own, not on the thread that runs the shell.
//!
//! glibc gives each thread an arena and returns a chunk freed by another thread to the arena
//! it came from, where it waits in a fast bin until that arena serves a request of a kilobyte
//! or more; that request first merges every such chunk (`malloc_consolidate`). Replicas and
//! namespace entries made on the shell's thread are freed by the transfer threads as a move
//! goes, so every `migration info` (which makes such a request) merged a move's worth of
//! them: 59 % of the shell's time in a profile of a 400 000-file move, answers of 1–2 ms with
//! a median and up to tens of milliseconds. Made on a short-lived thread, they come from that
//! thread's arena instead. That arena passes to the next thread started (in a move, the
//! scan's), and a large free into it still merges the backlog, wherever it happens: the
//! migration module therefore frees its large memory after its lock (`Effect::Release`).

/// Runs `work` on a thread named `name` and returns its result (an error if no thread can be
/// started); a panic in it is resumed here.
pub fn on_its_own_thread<T: Send>(name: &str, work: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new().name(name.to_string()).spawn_scoped(scope, work)?;
        Ok(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_runs_on_another_thread_and_its_panic_comes_back() {
        let here = std::thread::current().id();
        let there = on_its_own_thread("bulk-test", || {
            (std::thread::current().id(), std::thread::current().name().map(String::from))
        })
        .expect("a thread starts");
        assert_ne!(there.0, here);
        assert_eq!(there.1.as_deref(), Some("bulk-test"));
        let panicked = std::panic::catch_unwind(|| on_its_own_thread("bulk-test", || -> u8 { panic!("inside") }));
        let payload = panicked.expect_err("the panic is resumed here");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"inside"));
    }
}
