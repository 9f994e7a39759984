//! The accounting record of each call made from Python, caught on its way to the sinks.
//!
//! The gateway hands every finished request's [`RequestLog`] to its sinks; a stream's record is
//! only finished after its last event, and it carries the cost. Each call registers its request
//! id here before it starts ([`Capture::start`]), the sink keeps the records of registered ids
//! only, and the call takes its record when it ends. Dropping the [`Capture`] forgets the id,
//! so abandoned calls leave nothing behind.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use switchyard::accounting::{LogSink, RequestLog};

/// Records of calls in progress, by request id (`None` until the record arrives).
#[derive(Default)]
struct Slots {
    by_request: Mutex<HashMap<String, Option<Arc<RequestLog>>>>,
}

static SLOTS: LazyLock<Arc<Slots>> = LazyLock::new(Arc::default);

/// The sink every gateway made from Python gets.
pub struct CaptureSink;

impl LogSink for CaptureSink {
    fn record(&self, log: &Arc<RequestLog>) {
        if let Ok(mut slots) = SLOTS.by_request.lock()
            && let Some(slot) = slots.get_mut(&log.request_id)
        {
            *slot = Some(log.clone());
        }
    }
}

/// One call's claim on its record.
#[derive(Debug)]
pub struct Capture {
    request_id: String,
}

impl Capture {
    /// Registers a new request id.
    pub fn start() -> Capture {
        let request_id = switchyard::ids::request_id();
        if let Ok(mut slots) = SLOTS.by_request.lock() {
            slots.insert(request_id.clone(), None);
        }
        Capture { request_id }
    }

    /// The request id the call is made with.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The call's record, once the gateway finished it.
    pub fn take(&self) -> Option<Arc<RequestLog>> {
        SLOTS
            .by_request
            .lock()
            .ok()?
            .get_mut(&self.request_id)?
            .take()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(mut slots) = SLOTS.by_request.lock() {
            slots.remove(&self.request_id);
        }
    }
}
