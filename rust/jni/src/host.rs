//! The host traits backed by Java: one `HostBridge` object per module forwards each call to the
//! pool's services (the repository, pool manager, PnfsManager, cell transport, p2p client and
//! pin manager interfaces of the facade).
//!
//! Every call into Java goes through [`JavaHost::call_java`]: the thread is attached (a no-op
//! for the runtime's threads, attached at start, and for Java threads calling in), a local
//! frame is pushed, a panic is caught, and every JNI call is checked for a pending exception,
//! which is cleared and turned into a [`CallError`]. The core then treats it like any other
//! failure of that service: a failed request is noted by the job and retried, a failed
//! repository change is reported, a lost one-way message is logged.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jni::objects::{JByteArray, JObject, JString};
use jni::refs::Global;
use jni::signature::{JavaType, Primitive, ReturnType};
use jni::sys::{jlong, jvalue};
use jni::{Env, JValue, JValueOwned, JavaVM};
use migration_core::PnfsId;
use migration_core::error::{Failure, Outcome, ReturnCode};
use migration_core::host::{
    Completion, Host, P2p, P2pRequest, PinManager, PinMove, PnfsManager, PoolList, PoolManager, PoolSelection,
    Repository, RepositoryError, Transport, inspect_copy_separately,
};
use migration_core::message::RequestId;
use migration_core::replica::{ReplicaEntry, ReplicaState, StickyRecord};

use crate::cache::{self, Cache};
use crate::codec::{self, Reader, Writer};
use crate::error::panic_message;
use crate::pending::{self, Pending};
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

const VOID: ReturnType = JavaType::Primitive(Primitive::Void);
const BOOLEAN: ReturnType = JavaType::Primitive(Primitive::Boolean);
const OBJECT: ReturnType = JavaType::Object;
const ARRAY: ReturnType = JavaType::Array;

/// Checks a JNI result: a pending Java exception is cleared and described.
fn checked<T>(env: &mut Env<'_>, result: jni::errors::Result<T>) -> Called<T> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => match env.exception_occurred() {
            Some(throwable) => {
                env.exception_clear();
                Err(describe(env, &throwable))
            }
            None => Err(e.into()),
        },
    }
}

/// Asks `HostBridge.describe` what a throwable is; never leaves an exception pending.
fn describe(env: &mut Env<'_>, throwable: &JObject<'_>) -> CallError {
    let described = env.with_local_frame(4, |env| -> jni::errors::Result<CallError> {
        let cache = cache::get()?;
        let args = [JValue::Object(throwable).as_jni()];
        // SAFETY: `describe` is a static method of the bridge class with signature
        // (Ljava/lang/Throwable;)[B, and the argument is a Throwable.
        let bytes = unsafe { env.call_static_method_unchecked(&cache.bridge, cache.m.describe, ARRAY, &args)? }.l()?;
        let bytes = env.convert_byte_array(env.cast_local::<JByteArray>(bytes)?)?;
        let mut r = Reader::new(&bytes);
        let (kind, code, text) = match (r.i32(), r.i32(), r.str()) {
            (Ok(k), Ok(c), Ok(t)) => (k, c, t),
            _ => return Ok(CallError::Jni("a Java callback threw an exception that cannot be described".into())),
        };
        let kind = match kind {
            1 => ThrownKind::Service,
            2 => ThrownKind::Repository,
            3 => ThrownKind::NotLoaded,
            _ => ThrownKind::Other,
        };
        Ok(CallError::Thrown { kind, code, text })
    });
    described.unwrap_or_else(|e| {
        if env.exception_check() {
            env.exception_clear();
        }
        CallError::Jni(format!("a Java callback threw, and describing it failed: {e}"))
    })
}

/// Calls an instance method of `obj` by its cached id.
///
/// # Safety
/// `method` must be a method of `obj`'s class whose signature matches `ret` and `args`.
unsafe fn call<'local>(
    env: &mut Env<'local>,
    obj: &JObject<'_>,
    method: jni::objects::JMethodID,
    ret: ReturnType,
    args: &[jvalue],
) -> Called<JValueOwned<'local>> {
    // SAFETY: guaranteed by the caller.
    let result = unsafe { env.call_method_unchecked(obj, method, ret, args) };
    checked(env, result)
}

/// A Java string argument.
fn jstring<'local>(env: &mut Env<'local>, s: &str) -> Called<JString<'local>> {
    let r = JString::new(env, s);
    checked(env, r)
}

/// A Java byte array argument.
fn jbytes<'local>(env: &mut Env<'local>, b: &[u8]) -> Called<JByteArray<'local>> {
    let r = env.byte_array_from_slice(b);
    checked(env, r)
}

/// The bytes of a returned `byte[]`, `None` for null.
fn returned_bytes(env: &mut Env<'_>, value: JValueOwned<'_>) -> Called<Option<Vec<u8>>> {
    let obj = value.l()?;
    if obj.is_null() {
        return Ok(None);
    }
    let array = env.cast_local::<JByteArray>(obj)?;
    Ok(Some(env.convert_byte_array(&array)?))
}

/// Runs `f` attached to the JVM, in its own local frame, with panics caught.
pub fn with_java<T>(what: &str, f: impl FnOnce(&mut Env<'_>, &'static Cache) -> Called<T>) -> Called<T> {
    let _scope = CallbackScope::enter();
    crate::crossings::into_java();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let vm = JavaVM::singleton()?;
        // The runtime's threads are attached for good when they start, and Java threads are
        // attached anyway: for them this is a cheap no-op. Any other thread is attached only
        // for this call, so that no stray non-daemon thread keeps the JVM alive.
        vm.attach_current_thread_for_scope(|env| -> Called<T> {
            let cache = cache::get()?;
            f(env, cache)
        })
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

    fn call_java<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Env<'_>, &'static Cache, &JObject<'_>) -> Called<T>,
    ) -> Called<T> {
        with_java(what, |env, cache| f(env, cache, &self.bridge))
    }

    /// Registers `pending`, then calls Java with its token; if Java throws, the request fails
    /// with the exception (unless Java already answered it).
    fn call_async(
        &self,
        what: &str,
        pending: Pending,
        f: impl FnOnce(&mut Env<'_>, &'static Cache, &JObject<'_>, jlong) -> Called<()>,
    ) {
        let token = pending::register(self.module, pending);
        let result = self.call_java(what, |env, cache, bridge| f(env, cache, bridge, token as jlong));
        if let Err(e) = result {
            tracing::warn!(target: "migration::jni", "{what} failed: {}", e.text());
            if let Some(pending) = pending::take(token) {
                pending.fail(e.failure());
            }
        }
    }
}

fn state_ordinal(state: ReplicaState) -> i32 {
    ReplicaState::ALL.iter().position(|s| *s == state).unwrap_or(0) as i32
}

impl Repository for JavaHost {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        self.call_java("Repository.entries", |env, cache, bridge| {
            // SAFETY: openScan is ()Ljava/lang/Object; on HostBridge.
            let scan = unsafe { call(env, bridge, cache.m.open_scan, OBJECT, &[])? }.l()?;
            loop {
                let more = env.with_local_frame(4, |env| -> Called<bool> {
                    let args = [JValue::Object(&scan).as_jni()];
                    // SAFETY: nextBatch is (Ljava/lang/Object;)[B on HostBridge.
                    let batch = unsafe { call(env, bridge, cache.m.next_batch, ARRAY, &args)? };
                    let Some(bytes) = returned_bytes(env, batch)? else { return Ok(false) };
                    let mut reader = Reader::new(&bytes);
                    for entry in reader.entries()? {
                        if !visit(&entry) {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })?;
                if !more {
                    return Ok(());
                }
            }
        })
        .map_err(|e| e.scan())
    }

    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        self.call_java("Repository.getEntry", |env, cache, bridge| {
            let id = jstring(env, pnfsid.text().as_str())?;
            // SAFETY: entry is (Ljava/lang/String;)[B on HostBridge.
            let value = unsafe { call(env, bridge, cache.m.entry, ARRAY, &[JValue::Object(&id).as_jni()])? };
            match returned_bytes(env, value)? {
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
        self.call_java("Repository.setState", |env, cache, bridge| {
            let id = jstring(env, pnfsid.text().as_str())?;
            let why = jstring(env, reason)?;
            let args = [
                JValue::Object(&id).as_jni(),
                JValue::Int(state_ordinal(state)).as_jni(),
                JValue::Object(&why).as_jni(),
            ];
            // SAFETY: setState is (Ljava/lang/String;ILjava/lang/String;)V on HostBridge.
            unsafe { call(env, bridge, cache.m.set_state, VOID, &args)? };
            Ok(())
        })
        .map_err(|e| e.repository())
    }

    fn set_sticky(&self, pnfsid: &PnfsId, record: &StickyRecord, overwrite: bool) -> Result<(), RepositoryError> {
        self.call_java("Repository.setSticky", |env, cache, bridge| {
            let id = jstring(env, pnfsid.text().as_str())?;
            let owner = jstring(env, &record.owner)?;
            let args = [
                JValue::Object(&id).as_jni(),
                JValue::Object(&owner).as_jni(),
                JValue::Long(record.expire).as_jni(),
                JValue::Bool(overwrite).as_jni(),
            ];
            // SAFETY: setSticky is (Ljava/lang/String;Ljava/lang/String;JZ)V on HostBridge.
            unsafe { call(env, bridge, cache.m.set_sticky, VOID, &args)? };
            Ok(())
        })
        .map_err(|e| e.repository())
    }

    fn verifies_checksums(&self) -> bool {
        let result = self.call_java("Repository.verifiesChecksums", |env, cache, bridge| {
            // SAFETY: verifiesChecksums is ()Z on HostBridge.
            Ok(unsafe { call(env, bridge, cache.m.verifies_checksums, BOOLEAN, &[])? }.z()?)
        });
        result.unwrap_or_else(|e| {
            // A host that cannot say is treated as one that cannot verify: -verify is refused.
            tracing::warn!(target: "migration::jni", "Repository.verifiesChecksums failed, assuming false: {}", e.text());
            false
        })
    }

    fn accepts_copies(&self) -> bool {
        let result = self.call_java("Repository.acceptsCopies", |env, cache, bridge| {
            // SAFETY: acceptsCopies is ()Z on HostBridge.
            Ok(unsafe { call(env, bridge, cache.m.accepts_copies, BOOLEAN, &[])? }.z()?)
        });
        result.unwrap_or_else(|e| {
            // Refusing is safe: the source notes "Pool is disabled" and tries again later.
            tracing::warn!(target: "migration::jni", "Repository.acceptsCopies failed, refusing the copy: {}", e.text());
            false
        })
    }

    /// One crossing instead of two (the pool's mode, then the entry). If Java throws, the two
    /// questions are asked one by one, so that each failure keeps its own meaning: a pool
    /// whose mode cannot be read refuses the copy, an entry that cannot be read fails it.
    fn inspect_copy(&self, pnfsid: &PnfsId) -> (bool, Result<Option<ReplicaEntry>, String>) {
        let inspected = self.call_java("Repository.inspectCopy", |env, cache, bridge| {
            let id = jstring(env, pnfsid.text().as_str())?;
            // SAFETY: inspectCopy is (Ljava/lang/String;)[B on HostBridge.
            let value = unsafe { call(env, bridge, cache.m.inspect_copy, ARRAY, &[JValue::Object(&id).as_jni()])? };
            let bytes =
                returned_bytes(env, value)?.ok_or_else(|| CallError::Jni("inspectCopy returned null".into()))?;
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
        self.call_java("Repository.verifyChecksum", |env, cache, bridge| {
            let id = jstring(env, pnfsid.text().as_str())?;
            // SAFETY: verifyChecksum is (Ljava/lang/String;)V on HostBridge.
            unsafe { call(env, bridge, cache.m.verify_checksum, VOID, &[JValue::Object(&id).as_jni()])? };
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
        self.call_async("PoolManager.pools", Pending::Pools(done), |env, cache, bridge, token| {
            let selection = jbytes(env, &bytes)?;
            let args = [JValue::Object(&selection).as_jni(), JValue::Long(token).as_jni()];
            // SAFETY: pools is ([BJ)V on HostBridge.
            unsafe { call(env, bridge, cache.m.pools, VOID, &args)? };
            Ok(())
        });
    }

    fn groups_of(&self, pool: &str, done: Completion<Vec<String>>) {
        self.call_async("PoolManager.groupsOf", Pending::Groups(done), |env, cache, bridge, token| {
            let pool = jstring(env, pool)?;
            let args = [JValue::Object(&pool).as_jni(), JValue::Long(token).as_jni()];
            // SAFETY: groupsOf is (Ljava/lang/String;J)V on HostBridge.
            unsafe { call(env, bridge, cache.m.groups_of, VOID, &args)? };
            Ok(())
        });
    }
}

impl PnfsManager for JavaHost {
    fn cache_locations(&self, pnfsid: PnfsId, done: Completion<Vec<String>>) {
        self.call_async("PnfsManager.getCacheLocations", Pending::Locations(done), |env, cache, bridge, token| {
            let id = jstring(env, pnfsid.text().as_str())?;
            let args = [JValue::Object(&id).as_jni(), JValue::Long(token).as_jni()];
            // SAFETY: cacheLocations is (Ljava/lang/String;J)V on HostBridge.
            unsafe { call(env, bridge, cache.m.cache_locations, VOID, &args)? };
            Ok(())
        });
    }
}

impl Transport for JavaHost {
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        let send = |env: &mut Env<'_>, cache: &'static Cache, bridge: &JObject<'_>, token: jlong| -> Called<()> {
            let to = jstring(env, to)?;
            let bytes = jbytes(env, &message)?;
            let args = [JValue::Object(&to).as_jni(), JValue::Object(&bytes).as_jni(), JValue::Long(token).as_jni()];
            // SAFETY: send is (Ljava/lang/String;[BJ)V on HostBridge.
            unsafe { call(env, bridge, cache.m.send, VOID, &args)? };
            Ok(())
        };
        match reply {
            Some(reply) => self.call_async("CellTransport.send", Pending::Message(reply), send),
            None => {
                if let Err(e) = self.call_java("CellTransport.send", |env, cache, bridge| send(env, cache, bridge, 0)) {
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
        self.call_async("P2pClient.start", Pending::Done(done), |env, cache, bridge, token| {
            let request = jbytes(env, &bytes)?;
            let args = [JValue::Object(&request).as_jni(), JValue::Long(token).as_jni()];
            // SAFETY: p2pStart is ([BJ)V on HostBridge.
            unsafe { call(env, bridge, cache.m.p2p_start, VOID, &args)? };
            Ok(())
        });
    }

    fn cancel(&self, id: RequestId) {
        let result = self.call_java("P2pClient.cancel", |env, cache, bridge| {
            let args = [JValue::Long((id.0 >> 64) as i64).as_jni(), JValue::Long(id.0 as i64).as_jni()];
            // SAFETY: p2pCancel is (JJ)V on HostBridge.
            unsafe { call(env, bridge, cache.m.p2p_cancel, VOID, &args)? };
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
        self.call_async("PinManager.movePins", Pending::Done(done), |env, cache, bridge, token| {
            let request = jbytes(env, &bytes)?;
            let args = [JValue::Object(&request).as_jni(), JValue::Long(token).as_jni()];
            // SAFETY: movePins is ([BJ)V on HostBridge.
            unsafe { call(env, bridge, cache.m.move_pins, VOID, &args)? };
            Ok(())
        });
    }
}

/// The core's view of a Java `Completion<byte[]>` given to `deliver`: the module's answer to
/// an inbound request goes to it (a failure if the module drops the request unanswered).
pub fn java_reply(completion: Global<JObject<'static>>) -> Completion<Vec<u8>> {
    Completion::new(move |outcome: Outcome<Vec<u8>>| {
        let result = with_java("Completion (reply)", |env, cache| {
            match &outcome {
                Ok(bytes) => {
                    let bytes = jbytes(env, bytes)?;
                    let args = [JValue::Object(&completion).as_jni(), JValue::Object(&bytes).as_jni()];
                    // SAFETY: reply is static (Ljava/lang/Object;[B)V on HostBridge.
                    let r = unsafe { env.call_static_method_unchecked(&cache.bridge, cache.m.reply, VOID, &args) };
                    checked(env, r)?;
                }
                Err(failure) => {
                    let (kind, code, text) = codec::failure_parts(failure);
                    let text = jstring(env, &text)?;
                    let args = [
                        JValue::Object(&completion).as_jni(),
                        JValue::Int(kind).as_jni(),
                        JValue::Int(code).as_jni(),
                        JValue::Object(&text).as_jni(),
                    ];
                    // SAFETY: replyFailed is static (Ljava/lang/Object;IILjava/lang/String;)V.
                    let r =
                        unsafe { env.call_static_method_unchecked(&cache.bridge, cache.m.reply_failed, VOID, &args) };
                    checked(env, r)?;
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
