//! The library's `tracing` events, written to Python's `logging`.
//!
//! Events are formatted where they happen and handed to one thread that writes them to the
//! `switchyard` loggers (`switchyard::request` becomes the logger `switchyard.request`; other
//! crates' events go under `switchyard.lib`). The thread is the only one that attaches to the
//! interpreter for logging: an event raised while a runtime thread holds a lock must never
//! wait for the GIL, which a Python thread waiting on that lock could hold.
//!
//! Which events are formatted at all is decided by one level, the `switchyard` logger's
//! effective level, which the Python package passes in with [`set_log_level`] before each call.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Records waiting for the logging thread at most; past that, events are dropped rather than
/// slowing the gateway down.
const QUEUE: usize = 10_000;

/// The most verbose level forwarded: 0 none, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(2);

/// A record for the logging thread, or a request to say when everything before it is written.
enum Message {
    Record {
        logger: String,
        level: u8,
        text: String,
    },
    Flush(SyncSender<()>),
}

static QUEUE_TX: OnceLock<SyncSender<Message>> = OnceLock::new();

/// Installs the forwarding subscriber as the process's default (unless another one is
/// installed) and starts the logging thread.
pub fn install() {
    let (tx, rx) = sync_channel(QUEUE);
    if QUEUE_TX.set(tx).is_err() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("switchyard-log".into())
        .spawn(move || write_records(rx));
    if started.is_ok() {
        let subscriber = tracing_subscriber::registry().with(ToPython);
        // An embedding program may have installed its own subscriber; it keeps it.
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

/// Sets the most verbose level forwarded, from a Python `logging` level (the `switchyard`
/// logger's effective level).
#[pyfunction]
pub fn set_log_level(level: i32) {
    let max = match level {
        l if l > 40 => 0,
        l if l > 30 => 1,
        l if l > 20 => 2,
        l if l > 10 => 3,
        l if l > 5 => 4,
        _ => 5,
    };
    MAX_LEVEL.store(max, Ordering::Relaxed);
}

/// Waits (detached) until every event raised before the call is written to `logging`.
#[pyfunction]
pub fn flush_logs(py: Python<'_>) {
    let Some(tx) = QUEUE_TX.get() else { return };
    let (done_tx, done_rx) = sync_channel(1);
    if tx.send(Message::Flush(done_tx)).is_ok() {
        py.detach(move || {
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(5));
        });
    }
}

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Python's number for a level.
fn python_level(rank: u8) -> i32 {
    match rank {
        1 => 40,
        2 => 30,
        3 => 20,
        4 => 10,
        _ => 5,
    }
}

/// The logger name for an event's target.
fn logger_name(target: &str) -> String {
    if target == "switchyard" || target.starts_with("switchyard::") {
        target.replace("::", ".")
    } else {
        let krate = target.split("::").next().unwrap_or(target);
        format!("switchyard.lib.{krate}")
    }
}

/// Other crates (HTTP, TLS) only reach Python with warnings and errors.
fn wanted(metadata: &Metadata<'_>) -> bool {
    if metadata.is_span() {
        return false;
    }
    let rank = rank(metadata.level());
    if rank > MAX_LEVEL.load(Ordering::Relaxed) {
        return false;
    }
    metadata.target().starts_with("switchyard") || rank <= 2
}

struct ToPython;

impl<S: tracing::Subscriber> Layer<S> for ToPython {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // The level can change at any time: ask at every event.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        wanted(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut text = Text::default();
        event.record(&mut text);
        let record = Message::Record {
            logger: logger_name(metadata.target()),
            level: rank(metadata.level()),
            text: text.finish(),
        };
        if let Some(tx) = QUEUE_TX.get() {
            let _ = tx.try_send(record);
        }
    }
}

/// `message key=value key=value`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else if self.message.is_empty() {
            self.fields
        } else {
            format!("{} {}", self.message, self.fields)
        }
    }

    fn field(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={}", field.name(), value);
        }
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

/// The logging thread: writes each record to its logger, attached only while it does.
fn write_records(rx: Receiver<Message>) {
    while let Ok(message) = rx.recv() {
        match message {
            Message::Flush(done) => {
                let _ = done.send(());
            }
            Message::Record {
                logger,
                level,
                text,
            } => {
                Python::try_attach(|py| {
                    let written = py.import("logging").and_then(|logging| {
                        logging
                            .call_method1("getLogger", (logger,))?
                            .call_method1("log", (python_level(level), text))
                    });
                    if let Err(error) = written {
                        // A handler failed: nothing better to do than say so on stderr.
                        error.print(py);
                    }
                });
            }
        }
    }
}
