//! The in-process transport: a message to another pool is handed to that pool's migration
//! runtime by the cluster's [`Network`] thread, and so is the answer.
//!
//! Why not call the target directly: the runtime drives everything a call leads to on the
//! calling thread. With every service answering at once, a job whose copies keep failing
//! (a target that refuses them) would then retry forever inside one call: the shell command
//! that started it would never return. Like a real network, the [`Network`] ends each chain
//! at a message boundary; messages are delivered in the order they were sent.
//!
//! The exception: a message sent from a p2p transfer thread (a transfer finished, the
//! target answers, the source's job starts its next file and asks the target again) is
//! delivered on that thread. No shell command waits for a transfer thread, and the core's
//! runtime handles what the delivery leads to in a loop on the thread rather than by
//! recursion, so the chain still ends: at the next transfer, which runs as a job of its own
//! (next on the same thread, once this one has ended: see [`crate::p2p::TransferPool::spawn`]),
//! or after one pass of failing files, when the job sleeps. This saves two
//! thread wake-ups per file, which is most of what a migration of small files costs.

use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use migration_core::PoolName;
use migration_core::error::Failure;
use migration_core::host::{self, Completion};
use parking_lot::Mutex;

use crate::pool::Registry;

type Delivery = Box<dyn FnOnce() + Send>;

thread_local! {
    /// Whether messages sent from this thread are delivered on it (a transfer thread).
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Messages sent from the calling thread from now on are delivered on it, without the
/// network thread. Only for threads nothing waits for (the p2p transfer threads).
pub fn deliver_on_this_thread() {
    INLINE.with(|inline| inline.set(true));
}

/// One thread that carries every message and reply between pools, first in, first out.
pub struct Network {
    sender: Mutex<Option<mpsc::Sender<Delivery>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Network {
    /// Starts the network thread.
    pub fn start() -> std::io::Result<Arc<Network>> {
        let (sender, receiver) = mpsc::channel::<Delivery>();
        let thread = std::thread::Builder::new().name("minidcache-network".to_string()).spawn(move || {
            while let Ok(delivery) = receiver.recv() {
                // A bug on one delivery must not cut every pool off from the others.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(delivery)).is_err() {
                    tracing::error!(target: "minidcache", "a message delivery panicked");
                }
            }
        })?;
        Ok(Arc::new(Network { sender: Mutex::new(Some(sender)), thread: Mutex::new(Some(thread)) }))
    }

    /// Queues a delivery, or runs it at once on a thread that delivers messages itself;
    /// after [`Network::stop`] it is dropped (with what it carries, so a pending completion
    /// reports a failure).
    fn post(&self, delivery: Delivery) {
        let sender = self.sender.lock().clone();
        let Some(sender) = sender else { return };
        if INLINE.with(std::cell::Cell::get) {
            delivery();
        } else {
            let _ = sender.send(delivery);
        }
    }

    /// Stops the thread after the deliveries already queued. Safe to call more than once.
    pub fn stop(&self) {
        self.sender.lock().take();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// The transport of one pool (it knows its own name, the sender of everything it sends).
pub struct InProcessTransport {
    from: PoolName,
    registry: Arc<Registry>,
    network: Weak<Network>,
}

impl InProcessTransport {
    /// The transport of pool `from`.
    pub fn new(from: &str, registry: Arc<Registry>, network: &Arc<Network>) -> InProcessTransport {
        InProcessTransport { from: PoolName::from(from), registry, network: Arc::downgrade(network) }
    }
}

impl host::Transport for InProcessTransport {
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        let Some(network) = self.network.upgrade() else { return };
        let (from, to, registry) = (self.from.clone(), to.to_string(), Arc::clone(&self.registry));
        let back = Arc::downgrade(&network);
        network.post(Box::new(move || match registry.get(&to).and_then(|node| node.runtime()) {
            Some(runtime) => {
                // The answer travels back over the network too (or on the thread that
                // answers, if that is a transfer thread).
                let reply = reply.map(|reply| {
                    Completion::new(move |outcome| {
                        if let Some(network) = back.upgrade() {
                            network.post(Box::new(move || reply.complete(outcome)));
                        }
                    })
                });
                runtime.deliver(from, message, reply);
            }
            None => {
                if let Some(reply) = reply {
                    reply.complete(Err(Failure::NoRoute));
                }
            }
        }));
    }
}
