//! `_native.Stream`: a primed stream of Responses events, read one event at a time by a
//! blocking call or by a task that reports to an `await`.
//!
//! A read takes the stream out of its slot and puts it back when it has an event, so a read
//! that is abandoned (Ctrl-C, a cancelled task) drops the stream with it, and dropping the
//! stream closes the upstream connection. The terminal event is held back until the stream
//! has ended behind it, so that the request's record (with its cost) can go with it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use switchyard::error::ErrorKind;
use switchyard::types::responses::ResponseStreamEvent;
use switchyard::{Error, ResponseStream};

use crate::capture::Capture;
use crate::gateway::{failed, reported};
use crate::report::{Failure, Meta};
use crate::runtime::{self, CallHandle};

/// The stream and what its reads need.
struct Reading {
    events: ResponseStream,
    capture: Capture,
    meta: Meta,
    want_log: bool,
}

/// Where the stream waits between reads.
#[derive(Default)]
struct Slot {
    reading: Mutex<Option<Reading>>,
    /// Closed by the caller, or ended: nothing is put back.
    closed: AtomicBool,
}

impl Slot {
    /// The stream for a read: `None` once it is closed or ended.
    fn take(&self) -> Result<Option<Reading>, Error> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(None);
        }
        match self.reading.lock().ok().and_then(|mut r| r.take()) {
            Some(reading) => Ok(Some(reading)),
            None => Err(Error::new(
                ErrorKind::InvalidRequest,
                "the stream is already being read",
            )),
        }
    }

    fn put_back(&self, reading: Reading) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut slot) = self.reading.lock() {
            *slot = Some(reading);
        }
    }
}

/// One event as JSON, with the call's meta when it is the terminal event.
type Next = Option<(String, Option<Meta>)>;

/// A primed stream of events.
#[pyclass(module = "switchyard._native", name = "Stream", frozen)]
pub struct NativeStream {
    slot: Arc<Slot>,
    meta: Meta,
}

impl NativeStream {
    /// The stream of `events`, made under `capture` and answered as `meta` says.
    pub fn new(events: ResponseStream, capture: Capture, meta: Meta, want_log: bool) -> Self {
        let reading = Reading {
            events,
            capture,
            meta: meta.clone(),
            want_log,
        };
        NativeStream {
            slot: Arc::new(Slot {
                reading: Mutex::new(Some(reading)),
                closed: AtomicBool::new(false),
            }),
            meta,
        }
    }
}

#[pymethods]
impl NativeStream {
    /// What is known about the call at its start (no cost yet).
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.meta.to_dict(py)
    }

    /// The next event, as `(event JSON, meta or None)`; `None` after the last one. Blocks,
    /// detached from the interpreter.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let slot = self.slot.clone();
        let Some(reading) = slot.take().map_err(|e| Failure::bare(e).to_err(py))? else {
            return Ok(None);
        };
        let next = runtime::block_on(py, advance(slot, reading))?;
        match next {
            Ok(next) => next_tuple(py, next),
            Err(failure) => Err(failure.to_err(py)),
        }
    }

    /// Reads the next event in a task; `notify(ok, value)` gets what [`NativeStream::next`]
    /// returns.
    fn start_next(&self, notify: Py<PyAny>) -> PyResult<CallHandle> {
        let slot = self.slot.clone();
        let taken = slot.take();
        let read = async move {
            match taken {
                Ok(Some(reading)) => advance(slot, reading).await,
                Ok(None) => Ok(None),
                Err(error) => Err(Failure::bare(error)),
            }
        };
        runtime::spawn_reporting(read, notify, report_next)
    }

    /// Closes the stream (the upstream connection with it). A read in progress ends with an
    /// error or its event; nothing is read after.
    fn close(&self, py: Python<'_>) {
        self.slot.closed.store(true, Ordering::Release);
        let reading = self.slot.reading.lock().ok().and_then(|mut r| r.take());
        // Dropping finishes the request's record; no need to hold the interpreter for it.
        py.detach(move || drop(reading));
    }

    /// True once the stream was closed or read to its end.
    #[getter]
    fn closed(&self) -> bool {
        self.slot.closed.load(Ordering::Acquire)
    }
}

impl Drop for NativeStream {
    fn drop(&mut self) {
        self.slot.closed.store(true, Ordering::Release);
    }
}

/// Reads the next event, skipping keepalives (a transport matter, with no transport here).
/// After the terminal event the stream is read to its end, which finishes its record.
async fn advance(slot: Arc<Slot>, mut reading: Reading) -> Result<Next, Failure> {
    loop {
        let Some(event) = reading.events.next().await else {
            slot.closed.store(true, Ordering::Release);
            return Ok(None);
        };
        if matches!(event, ResponseStreamEvent::Keepalive(_)) {
            continue;
        }
        let json = serde_json::to_string(&event).map_err(|e| {
            Failure::bare(Error::new(
                ErrorKind::Internal,
                format!("cannot write a stream event: {e}"),
            ))
        })?;
        if !event.is_terminal() {
            slot.put_back(reading);
            return Ok(Some((json, None)));
        }
        while reading.events.next().await.is_some() {}
        slot.closed.store(true, Ordering::Release);
        let log = reading.capture.take();
        let mut meta = reading.meta;
        meta.cost = log.as_ref().and_then(|l| l.cost);
        meta.log = if reading.want_log { log } else { None };
        return Ok(Some((json, Some(meta))));
    }
}

fn next_tuple<'py>(py: Python<'py>, next: Next) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let Some((json, meta)) = next else {
        return Ok(None);
    };
    let meta = match meta {
        Some(meta) => meta.to_dict(py)?.into_any(),
        None => py.None().into_bound(py),
    };
    PyTuple::new(py, [json.into_pyobject(py)?.into_any(), meta]).map(Some)
}

fn report_next(py: Python<'_>, outcome: Result<Next, Failure>) -> (bool, Py<PyAny>) {
    match outcome {
        Ok(next) => {
            let value = next_tuple(py, next).map(|t| match t {
                Some(t) => t.into_any(),
                None => py.None().into_bound(py),
            });
            reported(py, value)
        }
        Err(failure) => failed(py, &failure),
    }
}
