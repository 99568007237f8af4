//! Calls into Java on the JNI function table itself: the path every file takes.
//!
//! jni-rs checks for a pending exception before and after each JNI function, keeps a guard
//! (with its thread-local level) for every attachment scope, pushes a local frame, and copies
//! every string into a fresh modified-UTF-8 allocation. A file crosses into Java nine times,
//! each crossing two to four JNI functions, and in a profile of the JNI bench that bookkeeping
//! was about an eighth of the thread that drives the modules. Here a call makes its arguments,
//! calls the method, checks once for an exception, and deletes its local references when they
//! drop.
//!
//! The rules jni-rs checks at run time are kept here by construction:
//! * a [`Jni`] exists only for an env attached to the current thread (the runtime's threads,
//!   attached for good when they start, and Java threads inside a native call), and it is
//!   neither `Send` nor `Sync`;
//! * no JNI function but the exception ones is called with an exception pending: every call
//!   that can throw is followed by [`Jni::thrown`], which clears the exception and describes it;
//! * every local reference is a [`Local`] that deletes itself, so a runtime thread, which has no
//!   Java frame to free them, does not accumulate references.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use jni::strings::{JNIStr, JNIString};
use jni::sys::{self, jboolean, jbyte, jmethodID, jobject, jsize, jvalue};

use crate::cache::Cache;
use crate::codec::Reader;
use crate::host::{CallError, ThrownKind};

thread_local! {
    /// This thread's `JNIEnv` while it is known to be attached: for good on the runtime's
    /// threads, for the length of a native call on any other thread. Null when unknown.
    static ENV: Cell<*mut sys::JNIEnv> = const { Cell::new(ptr::null_mut()) };
}

/// Java strings for the few texts that cross again and again (the pools messages go to, the
/// reasons of state changes), each made once and shared as a global reference. Bounded: at
/// [`INTERNED_MAX`] texts it starts again, so a stream of ever new texts cannot grow it.
static INTERNED: Mutex<Option<FxHashMap<Box<str>, Arc<GlobalRef>>>> = Mutex::new(None);

/// Most texts [`INTERNED`] keeps.
const INTERNED_MAX: usize = 256;

/// Notes that the current thread is attached with `env` for as long as it stays attached (a
/// runtime thread); [`forget`] undoes it before the thread detaches.
///
/// # Safety
/// `env` must be the current thread's env, and [`forget`] must be called before it detaches.
pub unsafe fn remember(env: *mut sys::JNIEnv) {
    ENV.with(|e| e.set(env));
}

/// The current thread is about to detach.
pub fn forget() {
    ENV.with(|e| e.set(ptr::null_mut()));
}

/// Notes the env of a native call for its length (restoring what was noted before when it
/// drops), so that calls into Java made inside it take this path.
pub struct NativeCall {
    previous: *mut sys::JNIEnv,
}

impl NativeCall {
    /// # Safety
    /// `env` must be the env a native method of the current thread was called with, and the
    /// guard must drop before that method returns.
    pub unsafe fn enter(env: *mut sys::JNIEnv) -> NativeCall {
        NativeCall { previous: ENV.with(|e| e.replace(env)) }
    }
}

impl Drop for NativeCall {
    fn drop(&mut self) {
        ENV.with(|e| e.set(self.previous));
    }
}

/// The current thread's attachment, for calling Java.
pub struct Jni {
    env: *mut sys::JNIEnv,
    /// Raw pointers already make this `!Send` and `!Sync`; the marker says it is on purpose.
    _thread_bound: PhantomData<*mut ()>,
}

/// A local reference that deletes itself.
pub struct Local<'a> {
    jni: &'a Jni,
    obj: jobject,
}

impl Local<'_> {
    /// As a method argument.
    pub fn arg(&self) -> jvalue {
        jvalue { l: self.obj }
    }
}

impl Drop for Local<'_> {
    fn drop(&mut self) {
        if !self.obj.is_null() {
            // SAFETY: `obj` is a live local reference of this thread; DeleteLocalRef may be
            // called with an exception pending.
            unsafe { (self.jni.fns().DeleteLocalRef)(self.jni.env, self.obj) }
        }
    }
}

/// How a method returns, for [`Jni::call`].
#[derive(Clone, Copy)]
pub enum Returns {
    Void,
    Boolean,
    Object,
    /// A `byte[]`, read into Rust as the call returns.
    Bytes,
}

/// What a method returned.
pub enum Returned<'a> {
    Void,
    Boolean(bool),
    /// `None` for null.
    Object(Option<Local<'a>>),
    /// `None` for null.
    Bytes(Option<Vec<u8>>),
}

/// The method a call targets.
#[derive(Clone, Copy)]
pub enum Method {
    /// An instance method of `obj`.
    Instance(jobject, jmethodID),
    /// A static method of class `class`.
    Static(jobject, jmethodID),
}

type Called<T> = Result<T, CallError>;

impl Jni {
    /// The current thread's attachment, if this layer knows it.
    pub fn current() -> Option<Jni> {
        let env = ENV.with(|e| e.get());
        // SAFETY: a non-null ENV is the current thread's attached env (see `remember` and
        // `NativeCall`), and no exception is pending between calls of this module.
        (!env.is_null()).then(|| unsafe { Jni::new(env) })
    }

    /// # Safety
    /// `env` must be attached to the current thread, with no exception pending.
    pub unsafe fn new(env: *mut sys::JNIEnv) -> Jni {
        Jni { env, _thread_bound: PhantomData }
    }

    fn fns(&self) -> &sys::JNINativeInterface__1_2 {
        // SAFETY: an attached env points at the JVM's function table, which lives as long as
        // the JVM; every function used here exists since JNI 1.2 (`ExceptionCheck`).
        unsafe { &(**self.env).v1_2 }
    }

    fn local(&self, obj: jobject) -> Option<Local<'_>> {
        (!obj.is_null()).then_some(Local { jni: self, obj })
    }

    /// A Java string. Strings in modified UTF-8 (no NUL, no characters outside the Basic
    /// Multilingual Plane, which is every PnfsId, pool name and most reasons) are passed as
    /// they are, through a buffer on the stack when short; others are converted first.
    pub fn string(&self, s: &str) -> Called<Local<'_>> {
        const SHORT: usize = 96;
        let plain = !s.bytes().any(|b| b == 0 || b >= 0xF0);
        // SAFETY (all three): NewStringUTF reads a NUL-terminated modified-UTF-8 string.
        let obj = if plain && s.len() < SHORT {
            let mut buffer = [0u8; SHORT];
            buffer[..s.len()].copy_from_slice(s.as_bytes());
            unsafe { (self.fns().NewStringUTF)(self.env, buffer.as_ptr().cast()) }
        } else if plain {
            let mut buffer = Vec::with_capacity(s.len() + 1);
            buffer.extend_from_slice(s.as_bytes());
            buffer.push(0);
            unsafe { (self.fns().NewStringUTF)(self.env, buffer.as_ptr().cast()) }
        } else {
            let converted = JNIString::new(s);
            unsafe { (self.fns().NewStringUTF)(self.env, converted.as_ptr()) }
        };
        self.local(obj).ok_or_else(|| self.thrown().unwrap_or_else(|| CallError::Jni("NewStringUTF failed".into())))
    }

    /// A Java string with the text `s`, shared with every other call that passes the same text
    /// (see `INTERNED`): for texts of which there are few, such as pool names.
    pub fn interned(&self, s: &str) -> Called<Arc<GlobalRef>> {
        if let Some(found) = INTERNED.lock().as_ref().and_then(|texts| texts.get(s).cloned()) {
            return Ok(found);
        }
        let local = self.string(s)?;
        // SAFETY: `local` is a live local reference of this thread.
        let global = Arc::new(unsafe { self.new_global(local.obj)? });
        let mut texts = INTERNED.lock();
        let texts = texts.get_or_insert_with(FxHashMap::default);
        if texts.len() >= INTERNED_MAX {
            // Deleting the global references calls nothing in Java; a caller still holding one
            // keeps it alive through its `Arc`.
            texts.clear();
        }
        texts.insert(s.into(), Arc::clone(&global));
        Ok(global)
    }

    /// A Java `byte[]` holding `bytes`.
    pub fn bytes(&self, bytes: &[u8]) -> Called<Local<'_>> {
        let len = jsize::try_from(bytes.len()).map_err(|_| CallError::Jni("a byte array over 2 GiB".into()))?;
        // SAFETY: NewByteArray with a non-negative length.
        let obj = unsafe { (self.fns().NewByteArray)(self.env, len) };
        let array = self
            .local(obj)
            .ok_or_else(|| self.thrown().unwrap_or_else(|| CallError::Jni("NewByteArray failed".into())))?;
        // SAFETY: the region is the whole of an array of `len` bytes; `bytes` has `len` bytes.
        unsafe { (self.fns().SetByteArrayRegion)(self.env, array.obj, 0, len, bytes.as_ptr().cast::<jbyte>()) };
        Ok(array)
    }

    /// The contents of a `byte[]`.
    ///
    /// # Safety
    /// `array` must be a live, non-null reference to a `byte[]`.
    pub unsafe fn byte_array(&self, array: jobject) -> Vec<u8> {
        // SAFETY: the region read is the whole array, into a buffer of that many bytes, which
        // it then holds; reading within bounds throws nothing.
        unsafe {
            let len = (self.fns().GetArrayLength)(self.env, array).max(0);
            let mut out = Vec::<u8>::with_capacity(len as usize);
            (self.fns().GetByteArrayRegion)(self.env, array, 0, len, out.as_mut_ptr().cast::<jbyte>());
            out.set_len(len as usize);
            out
        }
    }

    /// The modified UTF-8 form of a Java string, read into a buffer of ours
    /// (`GetStringUTFChars` would have the JVM allocate one); `None` if the string is longer
    /// than `max_chars`: the length of that form is a `jint`, which a string of some 700
    /// million characters overflows, and the buffer would be sized from it.
    ///
    /// # Safety
    /// `string` must be a live, non-null reference to a `String`.
    pub unsafe fn string_bytes(&self, string: jobject, max_chars: usize) -> Option<Vec<u8>> {
        // SAFETY: the region is the whole string; its modified UTF-8 form is `bytes` long (no
        // overflow at this length), and the buffer has room for it and a terminating NUL,
        // written here whether or not the JVM writes one.
        unsafe {
            let chars = (self.fns().GetStringLength)(self.env, string).max(0);
            if chars as usize > max_chars {
                return None;
            }
            let bytes = (self.fns().GetStringUTFLength)(self.env, string).max(0) as usize;
            let mut buffer = Vec::<u8>::with_capacity(bytes + 1);
            (self.fns().GetStringUTFRegion)(self.env, string, 0, chars, buffer.as_mut_ptr().cast());
            buffer.as_mut_ptr().add(bytes).write(0);
            buffer.set_len(bytes);
            Some(buffer)
        }
    }

    /// A global reference to `obj`.
    ///
    /// # Safety
    /// `obj` must be a live reference of this thread.
    pub unsafe fn new_global(&self, obj: jobject) -> Called<GlobalRef> {
        // SAFETY: guaranteed by the caller.
        let global = unsafe { (self.fns().NewGlobalRef)(self.env, obj) };
        if global.is_null() {
            return Err(self.thrown().unwrap_or_else(|| CallError::Jni("NewGlobalRef failed".into())));
        }
        Ok(GlobalRef(global))
    }

    /// Calls `method` with `args`; a thrown exception is cleared and described.
    ///
    /// # Safety
    /// `method` must take arguments of the types of `args` and return as `returns` says.
    pub unsafe fn call(&self, method: Method, returns: Returns, args: &[jvalue]) -> Called<Returned<'_>> {
        let f = self.fns();
        let a = args.as_ptr();
        // SAFETY: guaranteed by the caller; no exception is pending (see the module doc).
        let returned = unsafe {
            match (method, returns) {
                (Method::Instance(o, m), Returns::Void) => {
                    (f.CallVoidMethodA)(self.env, o, m, a);
                    Returned::Void
                }
                (Method::Instance(o, m), Returns::Boolean) => {
                    Returned::Boolean((f.CallBooleanMethodA)(self.env, o, m, a))
                }
                (Method::Instance(o, m), Returns::Object | Returns::Bytes) => {
                    Returned::Object(self.local((f.CallObjectMethodA)(self.env, o, m, a)))
                }
                (Method::Static(c, m), Returns::Void) => {
                    (f.CallStaticVoidMethodA)(self.env, c, m, a);
                    Returned::Void
                }
                (Method::Static(c, m), Returns::Boolean) => {
                    Returned::Boolean((f.CallStaticBooleanMethodA)(self.env, c, m, a))
                }
                (Method::Static(c, m), Returns::Object | Returns::Bytes) => {
                    Returned::Object(self.local((f.CallStaticObjectMethodA)(self.env, c, m, a)))
                }
            }
        };
        if let Some(e) = self.thrown() {
            return Err(e);
        }
        Ok(match (returns, returned) {
            // SAFETY: the method returns `byte[]` (guaranteed by the caller).
            (Returns::Bytes, Returned::Object(array)) => {
                Returned::Bytes(array.map(|array| unsafe { self.byte_array(array.obj) }))
            }
            (_, returned) => returned,
        })
    }

    /// If a Java exception is pending: clears it and says what it was.
    pub fn thrown(&self) -> Option<CallError> {
        // SAFETY: the exception functions may be called with an exception pending.
        let pending: jboolean = unsafe { (self.fns().ExceptionCheck)(self.env) };
        if !pending {
            return None;
        }
        let throwable = unsafe { (self.fns().ExceptionOccurred)(self.env) };
        unsafe { (self.fns().ExceptionClear)(self.env) };
        Some(match self.local(throwable) {
            Some(throwable) => self.describe(&throwable),
            None => CallError::Jni("a Java exception was pending but could not be read".into()),
        })
    }

    /// Asks `HostBridge.describe` what a throwable is; never leaves an exception pending.
    fn describe(&self, throwable: &Local<'_>) -> CallError {
        let cache = match crate::cache::get() {
            Ok(cache) => cache,
            Err(e) => return CallError::Jni(format!("a Java callback threw before the cache was set: {e}")),
        };
        let (class, method) = (bridge_class(cache), cache.m.describe.into_raw());
        let f = self.fns();
        // SAFETY: `describe` is static (Ljava/lang/Throwable;)[B on HostBridge. It is called
        // directly rather than through `call`, which would describe its exception in turn.
        let bytes = unsafe {
            let returned = self.local((f.CallStaticObjectMethodA)(self.env, class, method, [throwable.arg()].as_ptr()));
            if (f.ExceptionCheck)(self.env) {
                (f.ExceptionClear)(self.env);
                return CallError::Jni("a Java callback threw, and describing it threw too".into());
            }
            returned.map(|array| self.byte_array(array.obj))
        };
        let Some(bytes) = bytes else {
            return CallError::Jni("a Java callback threw an exception that cannot be described".into());
        };
        let mut r = Reader::new(&bytes);
        let (kind, code, text) = match (r.i32(), r.i32(), r.str()) {
            (Ok(k), Ok(c), Ok(t)) => (k, c, t),
            _ => return CallError::Jni("a Java callback threw an exception that cannot be described".into()),
        };
        let kind = match kind {
            1 => ThrownKind::Service,
            2 => ThrownKind::Repository,
            3 => ThrownKind::NotLoaded,
            _ => ThrownKind::Other,
        };
        CallError::Thrown { kind, code, text }
    }
}

/// A global reference that deletes itself, on the raw env where this thread has one (see
/// [`Jni::current`]), otherwise attached for the deletion only.
pub struct GlobalRef(jobject);

// SAFETY: a global reference is valid on every thread until deleted, and it is deleted once,
// when this drops.
unsafe impl Send for GlobalRef {}
unsafe impl Sync for GlobalRef {}

impl GlobalRef {
    /// The reference, for an argument.
    pub fn arg(&self) -> jvalue {
        jvalue { l: self.0 }
    }
}

impl Drop for GlobalRef {
    fn drop(&mut self) {
        let global = self.0;
        // Failing to attach (the JVM is going away) leaks the reference.
        let _ = attached(|jni| {
            // SAFETY: `global` is a live global reference, deleted only here;
            // DeleteGlobalRef may be called with an exception pending.
            unsafe { (jni.fns().DeleteGlobalRef)(jni.env, global) };
            Ok(())
        });
    }
}

/// Runs `f` on this thread's env: the one noted for it (see [`Jni::current`]), or else an
/// attachment for the call only, so that no stray non-daemon thread keeps the JVM alive.
pub fn attached<T>(f: impl FnOnce(&Jni) -> Called<T>) -> Called<T> {
    match Jni::current() {
        Some(jni) => f(&jni),
        None => jni::JavaVM::singleton()?.attach_current_thread_for_scope(|env| {
            // SAFETY: the scope keeps the env attached to this thread while `f` runs, and it
            // returned early if an exception was pending.
            let jni = unsafe { Jni::new(env.get_raw()) };
            f(&jni)
        }),
    }
}

/// The bridge class, for its static methods.
pub fn bridge_class(cache: &Cache) -> jobject {
    use jni::refs::Reference;
    cache.bridge.as_raw()
}

/// Modified UTF-8, as [`Jni::string_bytes`] reads it, as a Rust string (a surrogate pair,
/// written half by half, becomes its character).
pub fn mutf8_to_string(mut buffer: Vec<u8>) -> String {
    if buffer.is_ascii() {
        // ASCII is the same in modified UTF-8 and UTF-8.
        return String::from_utf8(buffer).unwrap_or_default();
    }
    buffer.push(0);
    // SAFETY: NUL-terminated modified UTF-8, as the JVM wrote it.
    unsafe { JNIStr::from_ptr(buffer.as_ptr().cast()) }.to_str().into_owned()
}
