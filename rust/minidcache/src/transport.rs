//! The in-process transport: a message to another pool is handed to that pool's migration
//! runtime by the cluster's [`Network`] thread, and so is the answer.
//!
//! Why not call the target directly: the runtime drives everything a call leads to on the
//! calling thread. With every service answering at once, a job whose copies keep failing
//! (a target that refuses them) would then retry forever inside one call: the shell command
//! that started it would never return. Like a real network, the [`Network`] ends each chain
//! at a message boundary; messages are delivered in the order they were sent.

use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use migration_core::error::Failure;
use migration_core::host::{self, Completion};
use parking_lot::Mutex;

use crate::pool::Registry;

type Delivery = Box<dyn FnOnce() + Send>;

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

    /// Queues a delivery; after [`Network::stop`] it is dropped (with what it carries, so a
    /// pending completion reports a failure).
    fn post(&self, delivery: Delivery) {
        let sender = self.sender.lock().clone();
        if let Some(sender) = sender {
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
    from: String,
    registry: Arc<Registry>,
    network: Weak<Network>,
}

impl InProcessTransport {
    /// The transport of pool `from`.
    pub fn new(from: &str, registry: Arc<Registry>, network: &Arc<Network>) -> InProcessTransport {
        InProcessTransport { from: from.to_string(), registry, network: Arc::downgrade(network) }
    }
}

impl host::Transport for InProcessTransport {
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        let Some(network) = self.network.upgrade() else { return };
        let (from, to, registry) = (self.from.clone(), to.to_string(), Arc::clone(&self.registry));
        let back = Arc::downgrade(&network);
        network.post(Box::new(move || match registry.get(&to).and_then(|node| node.runtime()) {
            Some(runtime) => {
                // The answer travels back over the network too.
                let reply = reply.map(|reply| {
                    Completion::new(move |outcome| {
                        if let Some(network) = back.upgrade() {
                            network.post(Box::new(move || reply.complete(outcome)));
                        }
                    })
                });
                runtime.deliver(&from, message, reply);
            }
            None => {
                if let Some(reply) = reply {
                    reply.complete(Err(Failure::NoRoute));
                }
            }
        }));
    }
}
