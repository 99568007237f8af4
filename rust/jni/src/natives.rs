//! The native methods of `org.dcache.migration.internal.Natives`, the facade's only class with
//! natives. Every body runs in [`guard`]: errors become `MigrationException` with the module's
//! error code, panics are caught. Modules are addressed by handle ([`registry`]).
//!
//! Calls may come from inside a host callback (re-entrant): the core queues the work such a
//! call causes on the calling thread and runs it after the callback returns, and `close()`
//! from one of the module's own threads does not wait for them, so nothing blocks or panics.

use std::sync::Arc;

use jni::objects::{JByteArray, JClass, JLongArray, JObject, JString};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned};
use migration_core::commands::{self, COMMANDS};
use migration_core::driver::runtime::worker_threads;
use migration_core::hotfile::ProtocolInfo;
use migration_core::status::JobStatus;
use migration_core::{ErrorKind, PnfsId};

use crate::codec::{self, Reader, Writer};
use crate::error::{NativeResult, guard, guard_raw, invalid};
use crate::raw::Jni;
use crate::registry::{self, ModuleHandle};
use crate::{ABI_VERSION, cache, host, logging, messages, pending};

/// A string that names something (a command line, a job id, a pool, a file): refused if it holds
/// half of a surrogate pair, rather than made lossy as jni-rs would: "\uD800" and "\uDBFF"
/// would both come out as U+FFFD, so a job named by one would answer to the other.
fn string(env: &Env<'_>, s: &JString<'_>, what: &str) -> NativeResult<String> {
    if s.is_null() {
        return Err(invalid(format!("{what} must not be null")));
    }
    let chars = s.mutf8_chars(env)?;
    whole_characters(chars.to_bytes(), what)?;
    Ok(chars.to_str().into_owned())
}

/// A free text (an error message, a client's description): taken lossily, never refused. A
/// completion's message refused would leave its request unanswered for ever (the Java side
/// claimed it before calling), and a text cut inside an emoji is still worth reading.
fn text(env: &Env<'_>, s: &JString<'_>, what: &str) -> NativeResult<String> {
    if s.is_null() {
        return Err(invalid(format!("{what} must not be null")));
    }
    Ok(s.try_to_string(env)?)
}

/// Refuses a name holding half of a surrogate pair (in its modified UTF-8 form, `bytes`):
/// taken lossily it would be U+FFFD, the same name as any other such half.
fn whole_characters(bytes: &[u8], what: &str) -> NativeResult<()> {
    if has_unpaired_surrogate(bytes) {
        return Err(invalid(format!("{what} is not valid Unicode (it holds an unpaired surrogate)")));
    }
    Ok(())
}

/// Whether modified UTF-8 `bytes` encode a UTF-16 surrogate without its other half. A surrogate
/// is three bytes, `ED A0..AF xx` for the high half and `ED B0..BF xx` for the low; `ED` only
/// ever leads a character, so each is found by looking for it.
fn has_unpaired_surrogate(bytes: &[u8]) -> bool {
    let half = |at: usize, range: std::ops::RangeInclusive<u8>| {
        bytes.get(at) == Some(&0xED) && bytes.get(at + 1).is_some_and(|b| range.contains(b))
    };
    let mut i = 0;
    while i < bytes.len() {
        if half(i, 0xA0..=0xAF) {
            if !half(i + 3, 0xB0..=0xBF) {
                return true;
            }
            i += 6;
        } else if half(i, 0xB0..=0xBF) {
            return true;
        } else {
            i += 1;
        }
    }
    false
}

fn bytes(env: &Env<'_>, b: &JByteArray<'_>, what: &str) -> NativeResult<Vec<u8>> {
    if b.is_null() {
        return Err(invalid(format!("{what} must not be null")));
    }
    Ok(env.convert_byte_array(b)?)
}

/// The longest name [`raw_string`] takes: a cell address is a few dozen characters.
const MAX_NAME_CHARS: usize = 65_536;

/// [`string`] on the raw env, for the natives on a file's path: a name, refused if it holds
/// an unpaired surrogate (as [`string`] refuses it) or is longer than [`MAX_NAME_CHARS`].
fn raw_string(jni: &Jni, s: &JString<'_>, what: &str) -> NativeResult<String> {
    if s.is_null() {
        return Err(invalid(format!("{what} must not be null")));
    }
    // SAFETY: a non-null `String` argument of the native call.
    let Some(bytes) = (unsafe { jni.string_bytes(s.as_raw(), MAX_NAME_CHARS) }) else {
        return Err(invalid(format!("{what} is longer than {MAX_NAME_CHARS} characters")));
    };
    whole_characters(&bytes, what)?;
    Ok(crate::raw::mutf8_to_string(bytes))
}

/// [`bytes`] on the raw env, for the natives on a file's path.
fn raw_bytes(jni: &Jni, b: &JByteArray<'_>, what: &str) -> NativeResult<Vec<u8>> {
    if b.is_null() {
        return Err(invalid(format!("{what} must not be null")));
    }
    // SAFETY: a non-null `byte[]` argument of the native call.
    Ok(unsafe { jni.byte_array(b.as_raw()) })
}

fn module(handle: jlong) -> NativeResult<Arc<ModuleHandle>> {
    Ok(registry::get(u64::try_from(handle).unwrap_or(0))?)
}

fn new_string<'local>(env: &mut Env<'local>, s: &str) -> NativeResult<JString<'local>> {
    Ok(JString::new(env, s)?)
}

/// `static native int abiVersion()`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_abiVersion<'local>(
    _env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jint {
    ABI_VERSION
}

/// `static native void init()`: caches classes and method ids through `Natives`' class loader.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_init<'local>(
    mut env: EnvUnowned<'local>,
    class: JClass<'local>,
) {
    guard(&mut env, |env| Ok(cache::init(env, &class)?))
}

/// `static native boolean installLogging(int maxLevel)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_installLogging<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    max_level: jint,
) -> jboolean {
    guard(&mut env, |_env| Ok(logging::install(max_level)))
}

/// `static native void pumpLogs()`: forwards log records forever (the `migration-log` thread).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_pumpLogs<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) {
    guard(&mut env, logging::pump)
}

/// `static native long create(String pool, HostBridge bridge, byte[] config, int workers,
/// long seed, boolean seeded)`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_create<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    pool: JString<'local>,
    bridge: JObject<'local>,
    config: JByteArray<'local>,
    workers: jint,
    seed: jlong,
    seeded: jboolean,
) -> jlong {
    guard(&mut env, |env| {
        let pool = string(env, &pool, "pool")?;
        if pool.is_empty() {
            return Err(invalid("pool must not be empty"));
        }
        if bridge.is_null() {
            return Err(invalid("bridge must not be null"));
        }
        let config = bytes(env, &config, "config")?;
        let mut reader = Reader::new(&config);
        let config = reader.config()?;
        reader.finish()?;
        let bridge = env.new_global_ref(&bridge)?;
        let workers = worker_threads(i128::from(workers))?;
        let id = registry::open(&pool, config, bridge, workers, seeded.then_some(seed as u64))?;
        Ok(id as jlong)
    })
}

/// `static native void close(long handle)`: idempotent.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_close<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    guard(&mut env, |_env| {
        registry::close(u64::try_from(handle).unwrap_or(0));
        Ok(())
    })
}

/// `static native String execute(long handle, String line)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_execute<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    line: JString<'local>,
) -> JString<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let line = string(env, &line, "command line")?;
        let output = module.runtime.execute(&line)?;
        new_string(env, &output)
    })
}

/// `static native void poolStarted(long handle)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_poolStarted<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    guard(&mut env, |_env| {
        module(handle)?.runtime.pool_started();
        Ok(())
    })
}

/// `static native void repositoryEvent(long handle, byte[] event)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_repositoryEvent<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    event: JByteArray<'local>,
) {
    guard_raw(&mut env, |jni| {
        let module = module(handle)?;
        let event = raw_bytes(jni, &event, "event")?;
        let mut reader = Reader::new(&event);
        let event = reader.repository_event()?;
        reader.finish()?;
        event.validate()?;
        module.runtime.repository_event(event);
        Ok(())
    })
}

/// `static native void deliver(long handle, String from, byte[] message, Object reply)`:
/// `reply` is a `Completion<byte[]>` or null for one-way messages.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_deliver<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    from: JString<'local>,
    message: JByteArray<'local>,
    reply: JObject<'local>,
) {
    guard_raw(&mut env, |jni| {
        let module = module(handle)?;
        let from = raw_string(jni, &from, "from")?;
        let message = raw_bytes(jni, &message, "message")?;
        // SAFETY: a live argument of this call.
        let reply =
            if reply.is_null() { None } else { Some(host::java_reply(unsafe { jni.new_global(reply.as_raw())? })) };
        module.runtime.deliver(from, message, reply);
        Ok(())
    })
}

/// `static native void repositoryLoaded(long handle)`: the pool finished loading its
/// repository; jobs that found it still loading (`RepositoryNotLoadedException`) scan it now.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_repositoryLoaded<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    guard(&mut env, |_env| {
        module(handle)?.runtime.repository_loaded();
        Ok(())
    })
}

/// `static native void setAcceptsCopies(long handle, boolean accepts)`: whether the pool takes
/// replicas from other pools (`pool disable -rdonly` turns it off).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_setAcceptsCopies<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    accepts: jboolean,
) {
    guard(&mut env, |_env| {
        module(handle)?.runtime.with_module_mut(|m| m.set_accepts_copies(accepts));
        Ok(())
    })
}

/// `static native void reportReaders(long handle, String pnfsid, long readers, String protocol,
/// int major, int minor, String client)`: hot-file replication's trigger.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_reportReaders<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    pnfsid: JString<'local>,
    readers: jlong,
    protocol: JString<'local>,
    major: jint,
    minor: jint,
    client: JString<'local>,
) {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let id = string(env, &pnfsid, "pnfsid")?;
        let pnfsid = PnfsId::parse(&id).map_err(|e| invalid(format!("{id}: {e}")))?;
        let protocol = if protocol.is_null() {
            None
        } else {
            let name = text(env, &protocol, "protocol")?;
            let client = if client.is_null() { None } else { Some(text(env, &client, "client")?) };
            Some(ProtocolInfo::new(name, major.into(), minor.into(), client))
        };
        module.runtime.call(|m, _now| m.report_readers(pnfsid, readers, protocol.as_ref()))?;
        Ok(())
    })
}

/// `static native String setupLines(long handle)`: the lines `save` writes, one per line.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_setupLines<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        // Command lines never contain control characters (execute refuses them), so a newline
        // separates lines safely.
        let lines = module.runtime.with_module(|m| m.setup_lines()).join("\n");
        new_string(env, &lines)
    })
}

/// `static native byte[] reload(long handle, String lines)`: re-executes setup lines; returns
/// the failed lines as (line, error code, message) triples.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_reload<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    lines: JString<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let lines = setup_text(env, &lines)?;
        let errors = module.runtime.call(|m, now| m.reload(now, &lines))?;
        Ok(env.byte_array_from_slice(&line_errors(&errors))?)
    })
}

/// The lines of a setup text passed from Java.
fn setup_text(env: &Env<'_>, lines: &JString<'_>) -> NativeResult<Vec<String>> {
    Ok(string(env, lines, "lines")?.lines().map(str::to_string).collect())
}

/// Failed setup lines as the facade decodes them: a count, then (line, error code, message).
fn line_errors(errors: &[(String, migration_core::Error)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(i32::try_from(errors.len()).unwrap_or(i32::MAX));
    for (line, error) in errors {
        w.str(line);
        w.i32(error.kind.code() as i32);
        w.str(&error.message);
    }
    w.into_bytes()
}

/// `static native byte[] validate(long handle, String lines)`: checks setup lines on a scratch
/// module without changing this one; returns the failing lines in `reload`'s format.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_validate<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    lines: JString<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let lines = setup_text(env, &lines)?;
        let errors = module.runtime.with_module(|m| m.validate(&lines));
        Ok(env.byte_array_from_slice(&line_errors(&errors))?)
    })
}

/// `static native String status(long handle)`: the module's status as JSON.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_status<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let now = module.runtime.now();
        let status = module.runtime.with_module(|m| m.status(now));
        let json = serde_json::to_string(&status)
            .map_err(|e| migration_core::Error::new(ErrorKind::Internal, format!("status: {e}")))?;
        new_string(env, &json)
    })
}

/// `static native String commandNames()`: the admin commands, one per line.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_commandNames<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    guard(&mut env, |env| {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        new_string(env, &names.join("\n"))
    })
}

/// `static native String help(String command)`: a command's help page (the list when empty).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_help<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    command: JString<'local>,
) -> JString<'local> {
    guard(&mut env, |env| {
        let command = string(env, &command, "command")?;
        let page = commands::help(&command)?;
        new_string(env, &page)
    })
}

/// `static native byte[] commandSpec(String command)`: a command's schema (its options with
/// their category, kind and value syntax, and its positional arguments) in
/// [`Writer::command_spec`]'s layout, for a host that registers typed commands. `No such
/// command: …` (`NOT_FOUND`) for a name that is not exactly one command's, `INVALID_ARGUMENT`
/// for an empty one.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_commandSpec<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    command: JString<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let command = string(env, &command, "command")?;
        // Spaces as `help` accepts them: `migration  copy` is `migration copy`.
        let name = command.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(invalid("command must not be empty"));
        }
        let spec = COMMANDS
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| migration_core::Error::new(ErrorKind::NotFound, format!("No such command: {name}")))?;
        let mut w = Writer::new();
        w.command_spec(spec);
        Ok(env.byte_array_from_slice(&w.into_bytes())?)
    })
}

/// `static native String metrics(long handle)`: the module's counters and gauges in
/// Prometheus' text format (what `migration metrics` prints).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_metrics<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let text = module.runtime.with_module(|m| m.metrics());
        new_string(env, &text)
    })
}

/// `static native boolean completeOk(long token, byte[] payload)`: `false` if the request is
/// no longer waiting (its module closed).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_completeOk<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    token: jlong,
    payload: JByteArray<'local>,
) -> jboolean {
    guard_raw(&mut env, |jni| {
        // SAFETY: a non-null `byte[]` argument of this call.
        let payload = if payload.is_null() { Vec::new() } else { unsafe { jni.byte_array(payload.as_raw()) } };
        Ok(pending::complete_ok(token as u64, &payload)?)
    })
}

/// `static native boolean completeFailure(long token, int kind, int code, String message)`:
/// kind 0 an error reply with `code`, 1 a timeout, 2 no route.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_completeFailure<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    token: jlong,
    kind: jint,
    code: jint,
    message: JString<'local>,
) -> jboolean {
    guard(&mut env, |env| {
        let message = if message.is_null() { String::new() } else { text(env, &message, "message")? };
        Ok(pending::complete_failure(token as u64, codec::failure(kind, code, message)))
    })
}

/// `static native void dropCompletion(long token)`: a Java completion was garbage-collected
/// without an answer; the request fails.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_dropCompletion<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    token: jlong,
) {
    guard(&mut env, |_env| {
        drop(pending::take(token as u64));
        Ok(())
    })
}

/// `static native int pendingRequests(long handle)`: host requests Java has not answered yet.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_pendingRequests<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    guard(&mut env, |_env| {
        let module = module(handle)?;
        Ok(i32::try_from(pending::count(module.id)).unwrap_or(i32::MAX))
    })
}

/// `static native byte[] decodeMessage(byte[] wire)`: a message as a pool sends it, in the
/// codec layout of `org.dcache.migration.messages`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_decodeMessage<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    wire: JByteArray<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let codec = messages::message_to_codec(&bytes(env, &wire, "message")?)?;
        Ok(env.byte_array_from_slice(&codec)?)
    })
}

/// `static native byte[] encodeMessage(byte[] codec)`: the wire bytes of a typed message.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_encodeMessage<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    codec: JByteArray<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let wire = messages::message_from_codec(&bytes(env, &codec, "message")?)?;
        Ok(env.byte_array_from_slice(&wire)?)
    })
}

/// `static native byte[] decodeReply(byte[] wire)`: a reply as a pool sends it, in codec layout.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_decodeReply<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    wire: JByteArray<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let codec = messages::reply_to_codec(&bytes(env, &wire, "reply")?)?;
        Ok(env.byte_array_from_slice(&codec)?)
    })
}

/// `static native byte[] encodeReply(byte[] codec)`: the wire bytes of a typed reply.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_encodeReply<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    codec: JByteArray<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let wire = messages::reply_from_codec(&bytes(env, &codec, "reply")?)?;
        Ok(env.byte_array_from_slice(&wire)?)
    })
}

/// `static native byte[] jobs(long handle)`: every job's status (`migration info` as data), a
/// count and then each job in [`Writer::job_status`]'s layout.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_jobs<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let now = module.runtime.now();
        let jobs: Vec<JobStatus> = module.runtime.with_module(|m| m.jobs().map(|j| JobStatus::of(j, now)).collect());
        let mut w = Writer::new();
        w.i32(i32::try_from(jobs.len()).unwrap_or(i32::MAX));
        for job in &jobs {
            w.job_status(job);
        }
        Ok(env.byte_array_from_slice(&w.into_bytes())?)
    })
}

/// `static native byte[] job(long handle, String id)`: one job's status; `Job not found`
/// (`NOT_FOUND`) for an unknown id.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_job<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: JString<'local>,
) -> JByteArray<'local> {
    guard(&mut env, |env| {
        let module = module(handle)?;
        let id = string(env, &id, "job id")?;
        let now = module.runtime.now();
        let job = module
            .runtime
            .with_module(|m| m.job(&id).map(|j| JobStatus::of(j, now)))
            .ok_or_else(migration_core::Error::job_not_found)?;
        let mut w = Writer::new();
        w.job_status(&job);
        Ok(env.byte_array_from_slice(&w.into_bytes())?)
    })
}

/// `static native long[] crossings()`: calls from this library into Java and native calls
/// from Java so far, process-wide ([`crate::crossings`]); this call counts as one of the latter.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_dcache_migration_internal_Natives_crossings<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JLongArray<'local> {
    guard(&mut env, |env| {
        let (into_java, from_java) = crate::crossings::counted();
        let array = env.new_long_array(2)?;
        array.set_region(env, 0, &[into_java as jlong, from_java as jlong])?;
        Ok(array)
    })
}

#[cfg(test)]
mod tests {
    use super::has_unpaired_surrogate;

    #[test]
    fn unpaired_surrogates_are_found_and_pairs_and_other_characters_pass() {
        let smiley = [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]; // U+1F600 as a surrogate pair
        let high = [0xED, 0xA0, 0x80]; // U+D800 alone
        let low = [0xED, 0xB0, 0x80]; // U+DC00 alone
        let below = [0xED, 0x9F, 0xBF]; // U+D7FF, the last character before the surrogates
        assert!(!has_unpaired_surrogate(b"migration copy -id=job pool2"));
        assert!(!has_unpaired_surrogate(&smiley));
        assert!(!has_unpaired_surrogate(&below));
        assert!(!has_unpaired_surrogate(&[b"a".as_slice(), &smiley, b"b"].concat()));
        assert!(has_unpaired_surrogate(&high));
        assert!(has_unpaired_surrogate(&low));
        assert!(has_unpaired_surrogate(&[b"-id=".as_slice(), &high, b" pool2"].concat()));
        assert!(has_unpaired_surrogate(&[high.as_slice(), &high].concat()), "two highs are no pair");
        assert!(has_unpaired_surrogate(&[low.as_slice(), &high].concat()), "the wrong order is no pair");
        assert!(has_unpaired_surrogate(&[smiley.as_slice(), &low].concat()));
    }
}
