//! Errors of the JNI layer, and the guard every native method runs in: panics are caught,
//! module errors become a `MigrationException` carrying the module's error code, and a Java
//! exception that is already pending is left to propagate.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use jni::errors::{Error as JniCallError, ErrorPolicy};
use jni::objects::{JString, JThrowable};
use jni::strings::JNIString;
use jni::{Env, EnvUnowned, jni_str};
use migration_core::{Error, ErrorKind};

use crate::cache;
use crate::codec::DecodeError;
use crate::host::CallError;
use crate::raw::{Jni, NativeCall};

/// Why a native method failed.
#[derive(Debug)]
pub enum NativeError {
    /// The module refused (thrown as `MigrationException` with the error's kind).
    Module(Error),
    /// A JNI call failed; if it left a Java exception pending, that exception propagates.
    Jni(JniCallError),
}

/// The result of a native method body.
pub type NativeResult<T> = Result<T, NativeError>;

impl From<JniCallError> for NativeError {
    fn from(e: JniCallError) -> Self {
        NativeError::Jni(e)
    }
}

impl From<Error> for NativeError {
    fn from(e: Error) -> Self {
        NativeError::Module(e)
    }
}

impl From<CallError> for NativeError {
    fn from(e: CallError) -> Self {
        NativeError::Module(Error::new(ErrorKind::Internal, e.text()))
    }
}

impl From<DecodeError> for NativeError {
    fn from(e: DecodeError) -> Self {
        NativeError::Module(Error::new(ErrorKind::InvalidArgument, e.to_string()))
    }
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NativeError::Module(e) => write!(f, "{e}"),
            NativeError::Jni(e) => write!(f, "JNI failure: {e}"),
        }
    }
}

impl std::error::Error for NativeError {}

/// A module error of kind `InvalidArgument`.
pub fn invalid(message: impl Into<String>) -> NativeError {
    NativeError::Module(Error::new(ErrorKind::InvalidArgument, message))
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    migration_core::error::panic_message(payload).unwrap_or("non-string panic payload").to_string()
}

/// Runs a native method body: the one place where errors and panics become Java exceptions.
pub fn guard<'local, T: Default + 'local>(
    env: &mut EnvUnowned<'local>,
    body: impl FnOnce(&mut Env<'local>) -> NativeResult<T>,
) -> T {
    let _call = enter(env);
    env.with_env(body).resolve::<ThrowMigrationException>()
}

/// What every native method does first: count the crossing, and note the thread's env for
/// the call's length so that calls into Java made inside it use it ([`crate::raw`]).
fn enter(env: &EnvUnowned<'_>) -> NativeCall {
    crate::crossings::from_java();
    // SAFETY: `env` is the env this native method was called with; the caller keeps the guard
    // only until the method returns.
    unsafe { NativeCall::enter(env.as_raw()) }
}

/// [`guard`] for the natives on a file's path (`deliver`, `repositoryEvent`, `completeOk`):
/// the same contract, with the body on the raw env ([`crate::raw`]), whose calls skip jni-rs's
/// per-call bookkeeping. jni-rs's `Env` is made only to throw an error or a caught panic.
pub fn guard_raw<'local, T: Default + 'local>(
    env: &mut EnvUnowned<'local>,
    body: impl FnOnce(&Jni) -> NativeResult<T>,
) -> T {
    let _call = enter(env);
    // SAFETY: the env this native method was called with, attached to this thread, with no
    // exception pending on entry; `jni` is dropped before the method returns.
    let jni = unsafe { Jni::new(env.as_raw()) };
    match catch_unwind(AssertUnwindSafe(|| body(&jni))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => env.with_env(|_| Err::<T, _>(e)).resolve::<ThrowMigrationException>(),
        // Raised again inside jni-rs's guard, so that one policy turns every panic into an
        // exception (`resume_unwind` does not run the panic hook a second time).
        Err(payload) => {
            env.with_env(|_| -> NativeResult<T> { resume_unwind(payload) }).resolve::<ThrowMigrationException>()
        }
    }
}

/// The error policy of [`guard`].
pub struct ThrowMigrationException;

impl<T: Default> ErrorPolicy<T, NativeError> for ThrowMigrationException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: NativeError,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            return Ok(T::default()); // a Java exception is already on its way
        }
        match err {
            NativeError::Module(e) => throw(env, e.kind, &e.message),
            NativeError::Jni(e) => throw(env, ErrorKind::Internal, &format!("JNI failure: {e}")),
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let message = panic_message(payload.as_ref());
        // Dropping a payload can itself panic; leaking it is harmless.
        std::mem::forget(payload);
        if env.exception_check() {
            env.exception_clear();
        }
        throw(env, ErrorKind::Internal, &format!("panic in the migration module: {message}"));
        Ok(T::default())
    }
}

/// Throws `MigrationException(kind, message)`; falls back to `IllegalStateException` before
/// the cache exists.
pub fn throw(env: &mut Env<'_>, kind: ErrorKind, message: &str) {
    let thrown = env.with_local_frame(8, |env| -> jni::errors::Result<()> {
        let cache = cache::get()?;
        let text = JString::new(env, message)?;
        let args = [jni::JValue::Int(kind.code() as i32).as_jni(), jni::JValue::Object(&text).as_jni()];
        // SAFETY: the constructor id was resolved from this class with signature
        // (ILjava/lang/String;)V, matching the arguments.
        let exception = unsafe { env.new_object_unchecked(&cache.exception, cache.exception_new, &args)? };
        let exception = env.cast_local::<JThrowable>(exception)?;
        match env.throw(exception) {
            Ok(()) | Err(JniCallError::JavaException) => Ok(()),
            Err(e) => Err(e),
        }
    });
    if thrown.is_err() || !env.exception_check() {
        let _ = env.throw_new(jni_str!("java/lang/IllegalStateException"), JNIString::new(message));
    }
}
