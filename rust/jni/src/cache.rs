//! Classes and method ids the layer calls, resolved once and kept as global references.
//!
//! They are resolved in `Natives.init()`, called by the facade's loader right after the library
//! is loaded, through the class loader that loaded `Natives`. A pool loads the facade through a
//! plugin class loader, which a bare `FindClass` on a Rust thread would not see; with the loader
//! cached here (and set as the context class loader of the runtime's threads) every later
//! lookup works from any thread.

use std::sync::OnceLock;

use jni::errors::{Error as JniCallError, Result};
use jni::objects::{JClass, JClassLoader, JMethodID, JStaticMethodID, LoaderContext};
use jni::refs::Global;
use jni::{Env, jni_sig, jni_str};

/// The facade's classes and the ids of the methods the layer calls.
pub struct Cache {
    /// The class loader of the facade (null when it is the bootstrap loader).
    pub loader: Global<JClassLoader<'static>>,
    /// `org.dcache.migration.internal.HostBridge`: the Java side of every host call.
    pub bridge: Global<JClass<'static>>,
    /// `org.dcache.migration.MigrationException`.
    pub exception: Global<JClass<'static>>,
    /// `MigrationException(int code, String message)`.
    pub exception_new: JMethodID,
    /// `org.dcache.migration.internal.NativeLog`.
    pub log: Global<JClass<'static>>,
    /// `static void NativeLog.log(String target, int level, String message)`.
    pub log_record: JStaticMethodID,
    /// The bridge's methods.
    pub m: BridgeMethods,
}

/// Method ids of `HostBridge` (instance methods unless marked static).
pub struct BridgeMethods {
    /// `byte[] entry(long high, long low, int tail)`: a PnfsId as [`crate::host::pnfsid_args`]
    /// passes it, as every id below.
    pub entry: JMethodID,
    /// `Object openScan()`.
    pub open_scan: JMethodID,
    /// `byte[] nextBatch(Object scan)`.
    pub next_batch: JMethodID,
    /// `void closeScan(Object scan)`.
    pub close_scan: JMethodID,
    /// `void setState(<id>, int state, String reason)`.
    pub set_state: JMethodID,
    /// `boolean removeIfUnchanged(<id>, int state, byte[] sticky, String reason)`.
    pub remove_if_unchanged: JMethodID,
    /// `boolean setStateIfUnchanged(<id>, int seen, int state, String reason)`.
    pub set_state_if_unchanged: JMethodID,
    /// `void setSticky(<id>, String owner, long expire, boolean overwrite)`.
    pub set_sticky: JMethodID,
    /// `boolean verifiesChecksums()`.
    pub verifies_checksums: JMethodID,
    /// `void verifyChecksum(<id>)`.
    pub verify_checksum: JMethodID,
    /// `boolean acceptsCopies()`.
    pub accepts_copies: JMethodID,
    /// `byte[] inspectCopy(<id>)`.
    pub inspect_copy: JMethodID,
    /// `void pools(byte[] selection, long token)`.
    pub pools: JMethodID,
    /// `void groupsOf(String pool, long token)`.
    pub groups_of: JMethodID,
    /// `void cacheLocations(<id>, long token)`.
    pub cache_locations: JMethodID,
    /// `void send(String to, byte[] message, long token)`.
    pub send: JMethodID,
    /// `void p2pStart(byte[] request, long token)`.
    pub p2p_start: JMethodID,
    /// `void p2pCancel(long mostSignificant, long leastSignificant)`.
    pub p2p_cancel: JMethodID,
    /// `void movePins(byte[] request, long token)`.
    pub move_pins: JMethodID,
    /// `static void reply(Object completion, byte[] message)`.
    pub reply: JStaticMethodID,
    /// `static void replyFailed(Object completion, int kind, int code, String message)`.
    pub reply_failed: JStaticMethodID,
    /// `static byte[] describe(Throwable t)`.
    pub describe: JStaticMethodID,
}

static CACHE: OnceLock<Cache> = OnceLock::new();

/// The cache; an error before `Natives.init()` ran.
pub fn get() -> Result<&'static Cache> {
    CACHE.get().ok_or(JniCallError::NullPtr("the JNI cache is not initialised (Natives.init was not called)"))
}

/// Resolves everything through the class loader of `natives` (the `Natives` class).
/// Idempotent.
pub fn init(env: &mut Env<'_>, natives: &JClass<'_>) -> Result<()> {
    if CACHE.get().is_some() {
        return Ok(());
    }
    let loader =
        env.call_method(natives, jni_str!("getClassLoader"), jni_sig!("()Ljava/lang/ClassLoader;"), &[])?.l()?;
    let loader = env.cast_local::<JClassLoader>(loader)?;
    let context = if loader.is_null() { LoaderContext::None } else { LoaderContext::Loader(&loader) };
    let bridge = context.load_class(env, jni_str!("org.dcache.migration.internal.HostBridge"), true)?;
    let exception = context.load_class(env, jni_str!("org.dcache.migration.MigrationException"), true)?;
    let log = context.load_class(env, jni_str!("org.dcache.migration.internal.NativeLog"), true)?;

    let b = &bridge;
    let m = BridgeMethods {
        entry: env.get_method_id(b, jni_str!("entry"), jni_sig!("(JJI)[B"))?,
        open_scan: env.get_method_id(b, jni_str!("openScan"), jni_sig!("()Ljava/lang/Object;"))?,
        next_batch: env.get_method_id(b, jni_str!("nextBatch"), jni_sig!("(Ljava/lang/Object;)[B"))?,
        close_scan: env.get_method_id(b, jni_str!("closeScan"), jni_sig!("(Ljava/lang/Object;)V"))?,
        set_state: env.get_method_id(b, jni_str!("setState"), jni_sig!("(JJIILjava/lang/String;)V"))?,
        remove_if_unchanged: env.get_method_id(
            b,
            jni_str!("removeIfUnchanged"),
            jni_sig!("(JJII[BLjava/lang/String;)Z"),
        )?,
        set_state_if_unchanged: env.get_method_id(
            b,
            jni_str!("setStateIfUnchanged"),
            jni_sig!("(JJIIILjava/lang/String;)Z"),
        )?,
        set_sticky: env.get_method_id(b, jni_str!("setSticky"), jni_sig!("(JJILjava/lang/String;JZ)V"))?,
        verifies_checksums: env.get_method_id(b, jni_str!("verifiesChecksums"), jni_sig!("()Z"))?,
        verify_checksum: env.get_method_id(b, jni_str!("verifyChecksum"), jni_sig!("(JJI)V"))?,
        accepts_copies: env.get_method_id(b, jni_str!("acceptsCopies"), jni_sig!("()Z"))?,
        inspect_copy: env.get_method_id(b, jni_str!("inspectCopy"), jni_sig!("(JJI)[B"))?,
        pools: env.get_method_id(b, jni_str!("pools"), jni_sig!("([BJ)V"))?,
        groups_of: env.get_method_id(b, jni_str!("groupsOf"), jni_sig!("(Ljava/lang/String;J)V"))?,
        cache_locations: env.get_method_id(b, jni_str!("cacheLocations"), jni_sig!("(JJIJ)V"))?,
        send: env.get_method_id(b, jni_str!("send"), jni_sig!("(Ljava/lang/String;[BJ)V"))?,
        p2p_start: env.get_method_id(b, jni_str!("p2pStart"), jni_sig!("([BJ)V"))?,
        p2p_cancel: env.get_method_id(b, jni_str!("p2pCancel"), jni_sig!("(JJ)V"))?,
        move_pins: env.get_method_id(b, jni_str!("movePins"), jni_sig!("([BJ)V"))?,
        reply: env.get_static_method_id(b, jni_str!("reply"), jni_sig!("(Ljava/lang/Object;[B)V"))?,
        reply_failed: env.get_static_method_id(
            b,
            jni_str!("replyFailed"),
            jni_sig!("(Ljava/lang/Object;IILjava/lang/String;)V"),
        )?,
        describe: env.get_static_method_id(b, jni_str!("describe"), jni_sig!("(Ljava/lang/Throwable;)[B"))?,
    };
    let exception_new = env.get_method_id(&exception, jni_str!("<init>"), jni_sig!("(ILjava/lang/String;)V"))?;
    let log_record =
        env.get_static_method_id(&log, jni_str!("log"), jni_sig!("(Ljava/lang/String;ILjava/lang/String;)V"))?;
    let cache = Cache {
        loader: env.new_global_ref(&loader)?,
        bridge: env.new_global_ref(&bridge)?,
        exception: env.new_global_ref(&exception)?,
        exception_new,
        log: env.new_global_ref(&log)?,
        log_record,
        m,
    };
    // A racing init resolved the same ids; keep the first.
    let _ = CACHE.set(cache);
    Ok(())
}

/// Makes the facade's class loader the context class loader of the current (attached) thread,
/// so that class lookups through the context loader, ours or a callback's, find the facade.
pub fn set_context_class_loader(env: &mut Env<'_>) -> Result<()> {
    let cache = get()?;
    if cache.loader.is_null() {
        return Ok(());
    }
    let thread = jni::objects::JThread::current_thread(env)?;
    thread.set_context_class_loader(env, &cache.loader)
}
