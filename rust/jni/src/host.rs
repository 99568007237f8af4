//! The host traits backed by Java: one `HostBridge` object per module forwards each call to the
//! pool's services (the repository, pool manager, PnfsManager, cell transport, p2p client and
//! pin manager interfaces of the facade).
//!
//! Every call into Java goes through [`with_java`], on the JNI function table ([`raw`]): the
//! thread is attached (it already is on the runtime's threads and on Java threads calling in),
//! a panic is caught, the arguments' local references are deleted after the call, and a
//! pending exception is cleared and turned into a [`CallError`]. The core then treats it like
//! any other failure of that service: a failed request is noted by the job and retried, a
//! failed repository change is reported, a lost one-way message is logged.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jni::ids::{JMethodID, JStaticMethodID};
use jni::objects::JObject;
use jni::refs::{Global, Reference};
use jni::sys::{jlong, jvalue};
use migration_core::PnfsId;
use migration_core::error::{Failure, Outcome, ReturnCode};
use migration_core::host::{
    Completion, Host, P2p, P2pRequest, PinManager, PinMove, PnfsManager, PoolList, PoolManager, PoolSelection,
    Repository, RepositoryError, Transport, inspect_copy_separately,
};
use migration_core::message::RequestId;
use migration_core::replica::{Durability, ReplicaEntry, ReplicaState, StickyRecord};

use crate::cache::{self, BridgeMethods, Cache};
use crate::codec::{self, Reader, Writer};
use crate::error::panic_message;
use crate::pending::{self, Pending};
use crate::raw::{self, GlobalRef, Jni, Method, Returned, Returns};
use crate::threads::CallbackScope;

/// Where a Java exception came from, as `HostBridge.describe` classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrownKind {
    /// Any exception.
    Other,
    /// `ServiceException`: the service failed with a dCache return code.
    Service,
    /// `RepositoryException`: the repository refused a change.
    Repository,
    /// `RepositoryNotLoadedException`: the pool is still loading its repository.
    NotLoaded,
}

/// How a call into Java failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The callback threw.
    Thrown {
        /// Which kind of exception.
        kind: ThrownKind,
        /// The return code of a `ServiceException`, the kind of a `RepositoryException`.
        code: i32,
        /// The exception's text (`class: message` for unexpected exceptions).
        text: String,
    },
    /// JNI itself failed, or this layer did.
    Jni(String),
}

impl From<jni::errors::Error> for CallError {
    fn from(e: jni::errors::Error) -> Self {
        CallError::Jni(format!("JNI failure: {e}"))
    }
}

impl From<codec::DecodeError> for CallError {
    fn from(e: codec::DecodeError) -> Self {
        CallError::Jni(e.to_string())
    }
}

impl CallError {
    /// The text the job notes.
    pub fn text(&self) -> String {
        match self {
            CallError::Thrown { text, .. } | CallError::Jni(text) => text.clone(),
        }
    }

    /// As the failure of a request: a `ServiceException` keeps its return code, anything else
    /// is dCache's unexpected-exception code.
    pub fn failure(&self) -> Failure {
        match self {
            CallError::Thrown { kind: ThrownKind::Service, code: 0, text } => {
                // A ServiceException built with dCache's success code still failed.
                Failure::error(ReturnCode::DEFAULT_ERROR_CODE, text)
            }
            CallError::Thrown { kind: ThrownKind::Service, code, text } => Failure::error(ReturnCode(*code), text),
            other => Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, other.text()),
        }
    }

    /// As the failure of a repository change.
    pub fn repository(&self) -> RepositoryError {
        match self {
            CallError::Thrown { kind: ThrownKind::Repository, code: 0, .. } => RepositoryError::NotFound,
            CallError::Thrown { kind: ThrownKind::Repository, code: 1, text } => {
                RepositoryError::IllegalTransition(text.clone())
            }
            other => RepositoryError::Other(other.text()),
        }
    }

    /// As the failure of a repository scan: `RepositoryNotLoadedException` is the one signal
    /// that the pool is still loading (the job waits); anything else fails the scan.
    pub fn scan(&self) -> RepositoryError {
        match self {
            CallError::Thrown { kind: ThrownKind::NotLoaded, .. } => RepositoryError::NotLoaded,
            other => RepositoryError::Other(other.text()),
        }
    }
}

type Called<T> = Result<T, CallError>;

/// A static method of the bridge class.
fn on_class(cache: &Cache, method: JStaticMethodID) -> Method {
    Method::Static(raw::bridge_class(cache), method.into_raw())
}

/// The bytes a call with [`Returns::Bytes`] returned, `None` for null.
fn returned_bytes(returned: Returned<'_>) -> Option<Vec<u8>> {
    match returned {
        Returned::Bytes(bytes) => bytes,
        _ => None,
    }
}

/// Runs `f` attached to the JVM, with panics caught.
///
/// On the runtime's threads (attached for good when they start) and on Java threads inside a
/// native call, the thread's env is known and used as it is; any other thread is attached
/// for this call only ([`raw::attached`]).
pub fn with_java<T>(what: &str, f: impl FnOnce(&Jni, &'static Cache) -> Called<T>) -> Called<T> {
    let _scope = CallbackScope::enter();
    crate::crossings::into_java();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let cache = cache::get()?;
        raw::attached(|jni| f(jni, cache))
    }));
    result.unwrap_or_else(|payload| {
        Err(CallError::Jni(format!("panic while calling {what}: {}", panic_message(payload.as_ref()))))
    })
}

/// The six host services of one module, backed by its Java `HostBridge`.
pub struct JavaHost {
    module: u64,
    bridge: Global<JObject<'static>>,
}

impl JavaHost {
    /// The host of module `module`, calling `bridge`.
    pub fn new(module: u64, bridge: Global<JObject<'static>>) -> Arc<JavaHost> {
        Arc::new(JavaHost { module, bridge })
    }

    /// The core's view of it.
    pub fn into_host(self: Arc<Self>) -> Host {
        Host {
            repository: self.clone(),
            pool_manager: self.clone(),
            pnfs_manager: self.clone(),
            transport: self.clone(),
            p2p: self.clone(),
            pin_manager: self,
        }
    }

    /// An instance method of this module's bridge.
    fn bridge(&self, method: JMethodID) -> Method {
        Method::Instance(self.bridge.as_raw(), method.into_raw())
    }

    /// A yes-or-no question to the bridge (a `()Z` method); `false` when Java cannot answer,
    /// logged with what that means (`otherwise`).
    fn ask(&self, what: &str, method: fn(&BridgeMethods) -> JMethodID, otherwise: &str) -> bool {
        let result = with_java(what, |jni, cache| {
            // SAFETY: the method is ()Z on HostBridge (the callers pick `verifiesChecksums` or
            // `acceptsCopies`).
            let returned = unsafe { jni.call(self.bridge(method(&cache.m)), Returns::Boolean, &[])? };
            Ok(matches!(returned, Returned::Boolean(true)))
        });
        result.unwrap_or_else(|e| {
            tracing::warn!(target: "migration::jni", "{what} failed, {otherwise}: {}", e.text());
            false
        })
    }

    /// Registers `pending`, then calls Java with its token; if Java throws, the request fails
    /// with the exception (unless Java already answered it).
    fn call_async(&self, what: &str, pending: Pending, f: impl FnOnce(&Jni, &'static Cache, jvalue) -> Called<()>) {
        let token = match pending::register(self.module, pending) {
            Ok(token) => token,
            Err(pending) => {
                // Closed while this thread was on its way here: Java is not called.
                let text = format!("{what}: the migration module is closed");
                return pending.fail(Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, text));
            }
        };
        let result = with_java(what, |jni, cache| f(jni, cache, jvalue { j: token as jlong }));
        if let Err(e) = result {
            tracing::warn!(target: "migration::jni", "{what} failed: {}", e.text());
            if let Some(pending) = pending::take(token) {
                pending.fail(e.failure());
            }
        }
    }
}

/// A PnfsId as three arguments `(long high, long low, int tail)`: its first eight bytes, the
/// next eight (zero after its end), and its length in bytes above its last two (an id has 12
/// or 18). Java builds the id from them (`HostBridge.pnfsId`): a `String` made here would cost
/// a JNI allocation for each of the five calls a file makes with an id.
pub fn pnfsid_args(id: &PnfsId) -> [jvalue; 3] {
    let bytes = id.as_bytes();
    let mut padded = [0u8; 18];
    padded[..bytes.len()].copy_from_slice(bytes);
    let [h0, h1, h2, h3, h4, h5, h6, h7, l0, l1, l2, l3, l4, l5, l6, l7, t0, t1] = padded;
    let high = i64::from_be_bytes([h0, h1, h2, h3, h4, h5, h6, h7]);
    let low = i64::from_be_bytes([l0, l1, l2, l3, l4, l5, l6, l7]);
    let tail = (bytes.len() as i32) << 16 | i32::from(t0) << 8 | i32::from(t1);
    [jvalue { j: high }, jvalue { j: low }, jvalue { i: tail }]
}

fn state_ordinal(state: ReplicaState) -> i32 {
    ReplicaState::ALL.iter().position(|s| *s == state).unwrap_or(0) as i32
}

// SAFETY, for every `jni.call` below: the comment above it names the bridge method and its
// signature (resolved with that signature in `cache::init`), and the arguments and the
// return kind match it.
impl Repository for JavaHost {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        with_java("Repository.entries", |jni, cache| {
            // openScan: ()Ljava/lang/Object;
            let scan = unsafe { jni.call(self.bridge(cache.m.open_scan), Returns::Object, &[])? };
            let Returned::Object(Some(scan)) = scan else { return Ok(()) };
            let visited = (|| loop {
                // nextBatch: (Ljava/lang/Object;)[B
                let batch = unsafe { jni.call(self.bridge(cache.m.next_batch), Returns::Bytes, &[scan.arg()])? };
                let Some(bytes) = returned_bytes(batch) else { return Ok(()) };
                let mut reader = Reader::new(&bytes);
                for entry in reader.entries()? {
                    if !visit(&entry) {
                        return Ok(());
                    }
                }
            })();
            // However the scan ended (its end, a stop, an exception from the iterator, bytes
            // that did not decode), an iterator holding a cursor or a file is closed: an
            // abandoned one would keep it until the collector found it.
            // closeScan: (Ljava/lang/Object;)V
            if let Err(e) = unsafe { jni.call(self.bridge(cache.m.close_scan), Returns::Void, &[scan.arg()]) } {
                tracing::warn!(target: "migration::jni", "closing the repository's iterator failed: {}", e.text());
            }
            visited
        })
        .map_err(|e| e.scan())
    }

    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        with_java("Repository.getEntry", |jni, cache| {
            // entry: (JJI)[B
            let returned = unsafe { jni.call(self.bridge(cache.m.entry), Returns::Bytes, &pnfsid_args(pnfsid))? };
            match returned_bytes(returned) {
                None => Ok(None),
                Some(bytes) => {
                    let mut reader = Reader::new(&bytes);
                    let entry = reader.entry()?;
                    reader.finish()?;
                    Ok(Some(entry))
                }
            }
        })
        .map_err(|e| e.text())
    }

    fn set_state(&self, pnfsid: &PnfsId, state: ReplicaState, reason: &str) -> Result<(), RepositoryError> {
        with_java("Repository.setState", |jni, cache| {
            let why = jni.interned(reason)?;
            // setState: (JJIILjava/lang/String;)V
            let [high, low, tail] = pnfsid_args(pnfsid);
            let args = [high, low, tail, jvalue { i: state_ordinal(state) }, why.arg()];
            unsafe { jni.call(self.bridge(cache.m.set_state), Returns::Void, &args)? };
            Ok(())
        })
        .map_err(|e| e.repository())
    }

    /// One crossing, as the removal it replaces: Java looks and removes under its own lock.
    fn remove_if_unchanged(&self, pnfsid: &PnfsId, seen: &Durability, reason: &str) -> Result<(), RepositoryError> {
        // Most replicas hold no record: nothing to encode, and Java takes null for none.
        let sticky = (!seen.sticky.is_empty()).then(|| {
            let mut w = Writer::new();
            w.sticky(&seen.sticky);
            w.into_bytes()
        });
        let removed = with_java("Repository.removeIfUnchanged", |jni, cache| {
            let records = sticky.as_deref().map(|bytes| jni.bytes(bytes)).transpose()?;
            let why = jni.interned(reason)?;
            // removeIfUnchanged: (JJII[BLjava/lang/String;)Z
            let [high, low, tail] = pnfsid_args(pnfsid);
            let records = records.as_ref().map_or(jvalue { l: std::ptr::null_mut() }, |r| r.arg());
            let args = [high, low, tail, jvalue { i: state_ordinal(seen.state) }, records, why.arg()];
            let returned = unsafe { jni.call(self.bridge(cache.m.remove_if_unchanged), Returns::Boolean, &args)? };
            Ok(matches!(returned, Returned::Boolean(true)))
        })
        .map_err(|e| e.repository())?;
        if removed { Ok(()) } else { Err(RepositoryError::Changed) }
    }

    /// One crossing: Java looks and changes under its own lock.
    fn set_state_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: ReplicaState,
        state: ReplicaState,
        reason: &str,
    ) -> Result<(), RepositoryError> {
        let changed = with_java("Repository.setStateIfUnchanged", |jni, cache| {
            let why = jni.interned(reason)?;
            // setStateIfUnchanged: (JJIIILjava/lang/String;)Z
            let [high, low, tail] = pnfsid_args(pnfsid);
            let (seen, state) = (jvalue { i: state_ordinal(seen) }, jvalue { i: state_ordinal(state) });
            let args = [high, low, tail, seen, state, why.arg()];
            let returned = unsafe { jni.call(self.bridge(cache.m.set_state_if_unchanged), Returns::Boolean, &args)? };
            Ok(matches!(returned, Returned::Boolean(true)))
        })
        .map_err(|e| e.repository())?;
        if changed { Ok(()) } else { Err(RepositoryError::Changed) }
    }

    fn set_sticky(&self, pnfsid: &PnfsId, record: &StickyRecord, overwrite: bool) -> Result<(), RepositoryError> {
        with_java("Repository.setSticky", |jni, cache| {
            let owner = jni.string(&record.owner)?;
            // setSticky: (JJILjava/lang/String;JZ)V
            let [high, low, tail] = pnfsid_args(pnfsid);
            let args = [high, low, tail, owner.arg(), jvalue { j: record.expire }, jvalue { z: overwrite }];
            unsafe { jni.call(self.bridge(cache.m.set_sticky), Returns::Void, &args)? };
            Ok(())
        })
        .map_err(|e| e.repository())
    }

    fn verifies_checksums(&self) -> bool {
        // A host that cannot say is treated as one that cannot verify: -verify is refused.
        self.ask("Repository.verifiesChecksums", |m| m.verifies_checksums, "assuming false")
    }

    fn accepts_copies(&self) -> bool {
        // Refusing is safe: the source notes "Pool is disabled" and tries again later.
        self.ask("Repository.acceptsCopies", |m| m.accepts_copies, "refusing the copy")
    }

    /// One crossing instead of two (the pool's mode, then the entry). If Java throws, the two
    /// questions are asked one by one, so that each failure keeps its own meaning: a pool
    /// whose mode cannot be read refuses the copy, an entry that cannot be read fails it.
    fn inspect_copy(&self, pnfsid: &PnfsId) -> (bool, Result<Option<ReplicaEntry>, String>) {
        let inspected = with_java("Repository.inspectCopy", |jni, cache| {
            // inspectCopy: (JJI)[B
            let inspect = self.bridge(cache.m.inspect_copy);
            let returned = unsafe { jni.call(inspect, Returns::Bytes, &pnfsid_args(pnfsid))? };
            let bytes = returned_bytes(returned).ok_or_else(|| CallError::Jni("inspectCopy returned null".into()))?;
            let mut reader = Reader::new(&bytes);
            let inspection = reader.inspection()?;
            reader.finish()?;
            Ok(inspection)
        });
        match inspected {
            Ok((accepts, entry)) => (accepts, Ok(entry)),
            Err(_) => inspect_copy_separately(self, pnfsid),
        }
    }

    fn verify_checksum(&self, pnfsid: &PnfsId) -> Result<(), Failure> {
        with_java("Repository.verifyChecksum", |jni, cache| {
            // verifyChecksum: (JJI)V
            unsafe { jni.call(self.bridge(cache.m.verify_checksum), Returns::Void, &pnfsid_args(pnfsid))? };
            Ok(())
        })
        .map_err(|e| e.failure())
    }
}

impl PoolManager for JavaHost {
    fn pools(&self, selection: PoolSelection, done: Completion<PoolList>) {
        let mut w = Writer::new();
        w.selection(&selection);
        let bytes = w.into_bytes();
        self.call_async("PoolManager.pools", Pending::Pools(done), |jni, cache, token| {
            let selection = jni.bytes(&bytes)?;
            // pools: ([BJ)V
            unsafe { jni.call(self.bridge(cache.m.pools), Returns::Void, &[selection.arg(), token])? };
            Ok(())
        });
    }

    fn groups_of(&self, pool: &str, done: Completion<Vec<String>>) {
        self.call_async("PoolManager.groupsOf", Pending::Groups(done), |jni, cache, token| {
            let pool = jni.string(pool)?;
            // groupsOf: (Ljava/lang/String;J)V
            unsafe { jni.call(self.bridge(cache.m.groups_of), Returns::Void, &[pool.arg(), token])? };
            Ok(())
        });
    }
}

impl PnfsManager for JavaHost {
    fn cache_locations(&self, pnfsid: PnfsId, done: Completion<Vec<String>>) {
        self.call_async("PnfsManager.getCacheLocations", Pending::Locations(done), |jni, cache, token| {
            // cacheLocations: (JJIJ)V
            let [high, low, tail] = pnfsid_args(&pnfsid);
            unsafe { jni.call(self.bridge(cache.m.cache_locations), Returns::Void, &[high, low, tail, token])? };
            Ok(())
        });
    }
}

impl Transport for JavaHost {
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        let send = |jni: &Jni, cache: &'static Cache, token: jvalue| -> Called<()> {
            let to = jni.interned(to)?;
            let bytes = jni.bytes(&message)?;
            // send: (Ljava/lang/String;[BJ)V
            unsafe { jni.call(self.bridge(cache.m.send), Returns::Void, &[to.arg(), bytes.arg(), token])? };
            Ok(())
        };
        match reply {
            Some(reply) => self.call_async("CellTransport.send", Pending::Message(reply), send),
            None => {
                if let Err(e) = with_java("CellTransport.send", |jni, cache| send(jni, cache, jvalue { j: 0 })) {
                    tracing::warn!(target: "migration::jni", to, "a one-way message was lost: {}", e.text());
                }
            }
        }
    }
}

impl P2p for JavaHost {
    fn start(&self, request: P2pRequest, done: Completion<()>) {
        let mut w = Writer::new();
        w.p2p(&request);
        let bytes = w.into_bytes();
        self.call_async("P2pClient.start", Pending::Done(done), |jni, cache, token| {
            let request = jni.bytes(&bytes)?;
            // p2pStart: ([BJ)V
            unsafe { jni.call(self.bridge(cache.m.p2p_start), Returns::Void, &[request.arg(), token])? };
            Ok(())
        });
    }

    fn cancel(&self, id: RequestId) {
        let result = with_java("P2pClient.cancel", |jni, cache| {
            // p2pCancel: (JJ)V
            let args = [jvalue { j: (id.0 >> 64) as i64 }, jvalue { j: id.0 as i64 }];
            unsafe { jni.call(self.bridge(cache.m.p2p_cancel), Returns::Void, &args)? };
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(target: "migration::jni", "cancelling transfer {id} failed: {}", e.text());
        }
    }
}

impl PinManager for JavaHost {
    fn move_pins(&self, request: PinMove, done: Completion<()>) {
        let mut w = Writer::new();
        w.pin_move(&request);
        let bytes = w.into_bytes();
        self.call_async("PinManager.movePins", Pending::Done(done), |jni, cache, token| {
            let request = jni.bytes(&bytes)?;
            // movePins: ([BJ)V
            unsafe { jni.call(self.bridge(cache.m.move_pins), Returns::Void, &[request.arg(), token])? };
            Ok(())
        });
    }
}

/// The core's view of a Java `Completion<byte[]>` given to `deliver`: the module's answer to
/// an inbound request goes to it (a failure if the module drops the request unanswered).
pub fn java_reply(completion: GlobalRef) -> Completion<Vec<u8>> {
    Completion::new(move |outcome: Outcome<Vec<u8>>| {
        let result = with_java("Completion (reply)", |jni, cache| {
            let completion = completion.arg();
            match &outcome {
                Ok(bytes) => {
                    let bytes = jni.bytes(bytes)?;
                    // reply: static (Ljava/lang/Object;[B)V
                    let args = [completion, bytes.arg()];
                    unsafe { jni.call(on_class(cache, cache.m.reply), Returns::Void, &args)? };
                }
                Err(failure) => {
                    let (kind, code, text) = codec::failure_parts(failure);
                    let text = jni.string(&text)?;
                    // replyFailed: static (Ljava/lang/Object;IILjava/lang/String;)V
                    let args = [completion, jvalue { i: kind }, jvalue { i: code }, text.arg()];
                    unsafe { jni.call(on_class(cache, cache.m.reply_failed), Returns::Void, &args)? };
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(target: "migration::jni", "a reply could not be handed to Java: {}", e.text());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_crosses_as_two_longs_and_a_tail() {
        let unpack = |args: [jvalue; 3]| unsafe { (args[0].j, args[1].j, args[2].i) };
        let short = PnfsId::parse("0000ABCDEF0123456789ABCD").unwrap();
        assert_eq!(unpack(pnfsid_args(&short)), (0x0000_ABCD_EF01_2345, 0x6789_ABCD_0000_0000, 12 << 16));
        let long = PnfsId::parse("00001234567890ABCDEF1122334455667788").unwrap();
        assert_eq!(
            unpack(pnfsid_args(&long)),
            (0x0000_1234_5678_90AB, 0xCDEF_1122_3344_5566u64 as i64, 18 << 16 | 0x7788)
        );
    }

    #[test]
    fn service_exceptions_keep_their_return_code() {
        let e = CallError::Thrown { kind: ThrownKind::Service, code: 10004, text: "Checksum mismatch".into() };
        assert_eq!(e.failure(), Failure::error(ReturnCode::FILE_CORRUPTED, "Checksum mismatch"));
        let e = CallError::Thrown {
            kind: ThrownKind::Other,
            code: 0,
            text: "java.lang.IllegalStateException: boom".into(),
        };
        assert_eq!(
            e.failure(),
            Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, "java.lang.IllegalStateException: boom")
        );
    }

    #[test]
    fn repository_exceptions_map_to_repository_errors() {
        let thrown = |code| CallError::Thrown { kind: ThrownKind::Repository, code, text: "x".into() };
        assert_eq!(thrown(0).repository(), RepositoryError::NotFound);
        assert_eq!(thrown(1).repository(), RepositoryError::IllegalTransition("x".into()));
        assert_eq!(thrown(2).repository(), RepositoryError::Other("x".into()));
        assert_eq!(CallError::Jni("no JVM".into()).repository(), RepositoryError::Other("no JVM".into()));
    }

    #[test]
    fn only_the_not_loaded_exception_makes_a_scan_wait() {
        let thrown = |kind| CallError::Thrown { kind, code: 0, text: "t".into() };
        assert_eq!(thrown(ThrownKind::NotLoaded).scan(), RepositoryError::NotLoaded);
        assert_eq!(thrown(ThrownKind::Other).scan(), RepositoryError::Other("t".into()));
        assert_eq!(thrown(ThrownKind::Repository).scan(), RepositoryError::Other("t".into()));
        assert_eq!(CallError::Jni("no JVM".into()).scan(), RepositoryError::Other("no JVM".into()));
        // A change refused while loading is an ordinary failure, not "not found".
        assert_eq!(thrown(ThrownKind::NotLoaded).repository(), RepositoryError::Other("t".into()));
    }

    #[test]
    fn without_a_jvm_calls_fail_instead_of_panicking() {
        // No JVM in `cargo test`: the singleton is missing and every call is an error.
        let r = with_java("test", |_env, _cache| Ok(()));
        assert!(matches!(r, Err(CallError::Jni(_))));
    }
}
