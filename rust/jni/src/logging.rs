//! The module's `tracing` events in the pool's log (SLF4J).
//!
//! The subscriber never calls Java: an event may be emitted on any thread, with locks held, or
//! inside a JNI call. It formats the event and offers it to a bounded channel, dropping it (and
//! counting the drop) when the channel is full, so logging can never block the module. One Java
//! daemon thread (`migration-log`, started by the facade) sits in [`pump`] and hands each
//! record to `NativeLog.log(target, level, message)`, which logs it with the SLF4J logger named
//! after the tracing target. The subscriber is installed once per process.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use jni::Env;
use jni::JValue;
use jni::objects::JString;
use jni::signature::{JavaType, Primitive};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};

use crate::cache;
use crate::error::NativeResult;

/// Records the channel holds before new ones are dropped.
pub const CAPACITY: usize = 4096;

/// One formatted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 0 error, 1 warn, 2 info, 3 debug, 4 trace (as `NativeLog` maps them to SLF4J).
    pub level: i32,
    /// The tracing target: the SLF4J logger name.
    pub target: String,
    /// The message, then ` key=value` for each other field.
    pub message: String,
}

struct Channel {
    tx: Sender<Record>,
    rx: Receiver<Record>,
}

static CHANNEL: LazyLock<Channel> = LazyLock::new(|| {
    let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
    Channel { tx, rx }
});
static DROPPED: AtomicU64 = AtomicU64::new(0);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// The number `NativeLog` uses for a level.
pub fn level_number(level: Level) -> i32 {
    match level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

fn level_filter(max: i32) -> LevelFilter {
    match max {
        i32::MIN..=-1 => LevelFilter::OFF,
        0 => LevelFilter::ERROR,
        1 => LevelFilter::WARN,
        2 => LevelFilter::INFO,
        3 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the subscriber as the process's global default, passing events up to `max_level`
/// (a [`level_number`], -1 for none). Only the first call installs; it returns whether the
/// module's events reach Java (`false` if another subscriber was installed first).
pub fn install(max_level: i32) -> bool {
    *INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(ChannelSubscriber { max: level_filter(max_level) }).is_ok()
    })
}

/// Forwards records to Java forever; runs on the facade's `migration-log` daemon thread.
pub fn pump(env: &mut Env<'_>) -> NativeResult<()> {
    let rx = CHANNEL.rx.clone();
    while let Ok(record) = rx.recv() {
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            forward(
                env,
                &Record {
                    level: 1,
                    target: "migration::jni".to_string(),
                    message: format!("{dropped} log records were dropped: the log channel was full"),
                },
            );
        }
        forward(env, &record);
    }
    Ok(())
}

/// Hands one record to `NativeLog.log`; a logging backend that throws loses the record, not
/// the pump.
fn forward(env: &mut Env<'_>, record: &Record) {
    let result = env.with_local_frame(4, |env| -> jni::errors::Result<()> {
        let cache = cache::get()?;
        let target = JString::new(env, &record.target)?;
        let message = JString::new(env, &record.message)?;
        let args =
            [JValue::Object(&target).as_jni(), JValue::Int(record.level).as_jni(), JValue::Object(&message).as_jni()];
        // SAFETY: `log` is static (Ljava/lang/String;ILjava/lang/String;)V on NativeLog.
        unsafe {
            env.call_static_method_unchecked(
                &cache.log,
                cache.log_record,
                JavaType::Primitive(Primitive::Void),
                &args,
            )?;
        }
        Ok(())
    });
    if result.is_err() && env.exception_check() {
        env.exception_clear();
    }
}

/// The subscriber: formats events into the channel.
pub struct ChannelSubscriber {
    max: LevelFilter,
}

impl ChannelSubscriber {
    /// A subscriber passing events up to `max`.
    pub fn new(max: LevelFilter) -> ChannelSubscriber {
        ChannelSubscriber { max }
    }
}

impl Subscriber for ChannelSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.max >= *metadata.level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1) // spans are not forwarded
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let metadata = event.metadata();
        let record = Record {
            level: level_number(*metadata.level()),
            target: metadata.target().to_string(),
            message: visitor.finish(),
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = CHANNEL.tx.try_send(record) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl MessageVisitor {
    fn finish(self) -> String {
        self.message + &self.fields
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests share the process-wide channel.
    static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

    fn drain() -> Vec<Record> {
        CHANNEL.rx.try_iter().collect()
    }

    #[test]
    fn events_are_formatted_into_the_channel_with_target_and_level() {
        let _serial = SERIAL.lock();
        drain();
        tracing::subscriber::with_default(ChannelSubscriber::new(LevelFilter::INFO), || {
            tracing::warn!(target: "migration::test", pool = "pool1", count = 3, "copy failed");
            tracing::debug!(target: "migration::test", "not passed");
        });
        let records: Vec<Record> = drain().into_iter().filter(|r| r.target == "migration::test").collect();
        assert_eq!(
            records,
            vec![Record {
                level: 1,
                target: "migration::test".into(),
                message: "copy failed pool=pool1 count=3".into()
            }]
        );
    }

    #[test]
    fn a_full_channel_drops_and_counts_instead_of_blocking() {
        let _serial = SERIAL.lock();
        drain();
        tracing::subscriber::with_default(ChannelSubscriber::new(LevelFilter::TRACE), || {
            for i in 0..CAPACITY + 10 {
                tracing::trace!(target: "migration::flood", i);
            }
        });
        assert!(DROPPED.load(Ordering::Relaxed) >= 10);
        drain();
    }
}
