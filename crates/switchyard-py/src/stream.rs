//! `_native.Stream`: a primed stream of Responses events for Python.
//!
//! A task on the runtime (the pump) reads the stream ahead of Python, up to [`AHEAD`] events,
//! into a queue; Python takes events from the queue, blocking (detached) or, for `async for`,
//! asking to be woken when one arrives. An event that is already there costs no thread switch.
//! Closing the stream (or dropping it) aborts the pump where it waits, which drops the stream
//! and so closes the upstream connection. The terminal event is queued once the stream has
//! ended behind it, so that the request's record (with its cost) can go with it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyTuple};
use switchyard::error::ErrorKind;
use switchyard::types::responses::ResponseStreamEvent;
use switchyard::{Error, ResponseStream};

use crate::capture::Capture;
use crate::report::{Failure, Meta};

/// Events read ahead of Python at most.
const AHEAD: usize = 64;

/// How often a blocked read looks for a pending signal (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// One event as JSON, with the call's meta when it is the terminal event.
type Event = (String, Option<Meta>);

/// What the pump and the readers share.
#[derive(Default)]
struct Queue {
    items: VecDeque<Result<Event, Failure>>,
    /// The pump has queued everything.
    ended: bool,
    /// The reader closed the stream.
    closed: bool,
    /// An async reader to wake when an event arrives.
    waiter: Option<Py<PyAny>>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Sync readers wait here for events.
    ready: Condvar,
    /// The pump waits here for room.
    room: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A reader that panicked cannot leave the queue half-written: take it as it is.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a read finds.
enum Next {
    Event(Result<Event, Failure>),
    End,
    Pending,
}

impl Queue {
    fn take(&mut self) -> Next {
        if let Some(item) = self.items.pop_front() {
            return Next::Event(item);
        }
        if self.ended || self.closed {
            Next::End
        } else {
            Next::Pending
        }
    }
}

/// A primed stream of events.
#[pyclass(module = "switchyard._native", name = "Stream", frozen)]
pub struct NativeStream {
    shared: Arc<Shared>,
    pump: tokio::task::AbortHandle,
    meta: Meta,
}

impl NativeStream {
    /// The stream of `events`, made under `capture` and answered as `meta` says; its pump
    /// starts at once. Call it on the runtime.
    pub fn new(events: ResponseStream, capture: Capture, meta: Meta, want_log: bool) -> Self {
        let shared = Arc::new(Shared::default());
        let reading = Reading {
            events,
            capture,
            meta: meta.clone(),
            want_log,
        };
        let pump = tokio::spawn(pump(shared.clone(), reading)).abort_handle();
        NativeStream { shared, pump, meta }
    }

    fn shut(&self) {
        self.shared.lock().closed = true;
        self.pump.abort();
        self.shared.ready.notify_all();
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        self.shut();
    }
}

#[pymethods]
impl NativeStream {
    /// What is known about the call at its start (no cost yet).
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.meta.to_dict(py)
    }

    /// The next event, as `(event JSON, meta or None)`; `None` after the last one. Blocks,
    /// detached from the interpreter, until one is there. Ctrl-C closes the stream.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let found = self.shared.lock().take();
        let found = match found {
            Next::Pending => py.detach(|| self.wait())?,
            found => {
                self.shared.room.notify_one();
                found
            }
        };
        match found {
            Next::Event(Ok(event)) => event_tuple(py, event).map(Some),
            Next::Event(Err(failure)) => Err(failure.to_err(py)),
            Next::End | Next::Pending => Ok(None),
        }
    }

    /// The next event if one is there: `(event JSON, meta or None)`, `None` after the last
    /// one, or `False` when none is there yet, in which case `wake()` (when given) is called
    /// from another thread once one arrives.
    #[pyo3(signature = (wake=None))]
    fn poll<'py>(&self, py: Python<'py>, wake: Option<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let found = {
            let mut queue = self.shared.lock();
            let found = queue.take();
            if matches!(found, Next::Pending) {
                if wake.is_some() {
                    queue.waiter = wake;
                }
            } else {
                self.shared.room.notify_one();
            }
            found
        };
        match found {
            Next::Event(Ok(event)) => Ok(event_tuple(py, event)?.into_any()),
            Next::Event(Err(failure)) => Err(failure.to_err(py)),
            Next::End => Ok(py.None().into_bound(py)),
            Next::Pending => Ok(PyBool::new(py, false).to_owned().into_any()),
        }
    }

    /// Closes the stream and the upstream connection with it; nothing is read after.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.shut());
    }

    /// True once the stream was closed, or read to its end.
    #[getter]
    fn closed(&self) -> bool {
        let queue = self.shared.lock();
        queue.closed || (queue.ended && queue.items.is_empty())
    }
}

impl NativeStream {
    /// Waits for an event, looking for signals every [`SIGNAL_CHECK`].
    fn wait(&self) -> PyResult<Next> {
        let mut queue = self.shared.lock();
        loop {
            match queue.take() {
                Next::Pending => {}
                found => {
                    self.shared.room.notify_one();
                    return Ok(found);
                }
            }
            let (guard, waited) = self
                .shared
                .ready
                .wait_timeout(queue, SIGNAL_CHECK)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue = guard;
            if waited.timed_out() {
                drop(queue);
                if let Err(interrupted) = Python::attach(|py| py.check_signals()) {
                    self.shut();
                    return Err(interrupted);
                }
                queue = self.shared.lock();
            }
        }
    }
}

/// The stream and what the pump needs to report its end.
struct Reading {
    events: ResponseStream,
    capture: Capture,
    meta: Meta,
    want_log: bool,
}

/// Reads the stream into the queue, staying at most [`AHEAD`] events ahead of the reader.
async fn pump(shared: Arc<Shared>, mut reading: Reading) {
    loop {
        loop {
            let room = shared.room.notified();
            {
                let queue = shared.lock();
                if queue.closed {
                    return;
                }
                if queue.items.len() < AHEAD {
                    break;
                }
            }
            room.await;
        }
        let next = read(&mut reading).await;
        let ended = !matches!(next, Some(Ok((_, None))));
        let waiter = {
            let mut queue = shared.lock();
            if queue.closed {
                return;
            }
            match next {
                Some(item) => queue.items.push_back(item),
                None => queue.ended = true,
            }
            queue.ended |= ended;
            queue.waiter.take()
        };
        shared.ready.notify_all();
        if let Some(wake) = waiter {
            Python::try_attach(|py| {
                if let Err(error) = wake.call0(py) {
                    // The reader's event loop is gone: nobody reads any more.
                    tracing::debug!(target: "switchyard::python", %error, "a stream reader was not woken");
                }
            });
        }
        if ended {
            return;
        }
    }
}

/// The next event, skipping keepalives (a transport matter, with no transport here). After
/// the terminal event the stream is read to its end, which finishes its record; the event
/// comes with the call's meta then.
async fn read(reading: &mut Reading) -> Option<Result<Event, Failure>> {
    loop {
        let event = reading.events.next().await?;
        if matches!(event, ResponseStreamEvent::Keepalive(_)) {
            continue;
        }
        let json = match serde_json::to_string(&event) {
            Ok(json) => json,
            Err(e) => {
                let error = Error::new(
                    ErrorKind::Internal,
                    format!("cannot write a stream event: {e}"),
                );
                return Some(Err(Failure::bare(error)));
            }
        };
        if !event.is_terminal() {
            return Some(Ok((json, None)));
        }
        while reading.events.next().await.is_some() {}
        let log = reading.capture.take();
        let mut meta = reading.meta.clone();
        meta.cost = log.as_ref().and_then(|l| l.cost);
        meta.log = if reading.want_log { log } else { None };
        return Some(Ok((json, Some(meta))));
    }
}

fn event_tuple<'py>(py: Python<'py>, (json, meta): Event) -> PyResult<Bound<'py, PyTuple>> {
    let meta = match meta {
        Some(meta) => meta.to_dict(py)?.into_any(),
        None => py.None().into_bound(py),
    };
    PyTuple::new(py, [json.into_pyobject(py)?.into_any(), meta])
}
