//! State shared by every request handler.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use switchyard::Gateway;
use switchyard::secret::Secret;

/// The default request body limit (LiteLLM sets none; base64 images and long histories need
/// room, a runaway client must not exhaust memory).
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// Shared by all handlers; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    gateway: Gateway,
    master_key: Option<Secret>,
    max_body: usize,
    started_at: u64,
}

impl AppState {
    /// State for `gateway`, requiring `master_key` when set, accepting bodies up to `max_body`.
    pub fn new(gateway: Gateway, master_key: Option<Secret>, max_body: usize) -> Self {
        AppState {
            inner: Arc::new(Inner {
                gateway,
                master_key,
                max_body,
                started_at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            }),
        }
    }

    /// The body limit used when the config sets none.
    pub fn default_max_body() -> usize {
        DEFAULT_MAX_BODY
    }

    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    /// The key clients must present, if any.
    pub fn master_key(&self) -> Option<&Secret> {
        self.inner.master_key.as_ref()
    }

    /// The request body limit in bytes.
    pub fn max_body(&self) -> usize {
        self.inner.max_body
    }

    /// When the server started (Unix seconds), reported as models' `created`.
    pub fn started_at(&self) -> u64 {
        self.inner.started_at
    }
}
