//! State shared between the [`MockServer`](crate::MockServer) handle and its request handlers.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::record::RecordedRequest;
use crate::reply::Reply;

/// Recorded requests, the script and the counters.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Off for the standalone binary, whose recordings nobody could read.
    pub recording: AtomicBool,
    /// Scripted replies with the path suffix that claims them, in the order they were queued.
    pub script: Mutex<VecDeque<(String, Reply)>>,
    pub disconnects: AtomicUsize,
    pub in_flight: AtomicUsize,
    /// Access tokens issued by the mock's OAuth endpoint (`/token`), accepted by Vertex routes.
    pub issued_tokens: Mutex<HashSet<String>>,
}

/// Locks `mutex`, shrugging off poisoning: a panicking test thread must not take the mock down
/// with it, and the data (plain lists) stays consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Removes and returns the first scripted reply whose suffix matches `path`.
    pub(crate) fn take_scripted(&self, path: &str) -> Option<Reply> {
        let mut script = lock(&self.script);
        let at = script
            .iter()
            .position(|(suffix, _)| path.ends_with(suffix))?;
        script.remove(at).map(|(_, reply)| reply)
    }
}

/// Counts a request as in flight while it lives; dropped before [`FlightGuard::finish`], it
/// counts a disconnect (the handler or the body stream was dropped because the client left).
#[derive(Debug)]
pub(crate) struct FlightGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl FlightGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        FlightGuard {
            shared,
            finished: false,
        }
    }

    /// The reply is complete (or deliberately aborted by the mock itself).
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.disconnects.fetch_add(1, Ordering::SeqCst);
        }
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
