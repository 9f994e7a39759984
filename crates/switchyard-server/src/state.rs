//! State shared by every request handler.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use switchyard::Gateway;
use switchyard::secret::Secret;

use crate::observability::Observability;
use crate::spend::Accounting;

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
    accounting: Option<Arc<Accounting>>,
    observability: Option<Arc<Observability>>,
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
                accounting: None,
                observability: None,
            }),
        }
    }

    /// The same state with spend logs, end users and budgets; registers the spend-log sink
    /// with the gateway.
    pub fn with_accounting(self, accounting: Arc<Accounting>) -> Self {
        self.inner.gateway.sinks().add(accounting.sink());
        AppState {
            inner: Arc::new(Inner {
                gateway: self.inner.gateway.clone(),
                master_key: self.inner.master_key.clone(),
                max_body: self.inner.max_body,
                started_at: self.inner.started_at,
                accounting: Some(accounting),
                observability: self.inner.observability.clone(),
            }),
        }
    }

    /// The same state with logging callbacks; registers their sink with the gateway.
    pub fn with_observability(self, observability: Arc<Observability>) -> Self {
        self.inner.gateway.sinks().add(observability.sink());
        AppState {
            inner: Arc::new(Inner {
                gateway: self.inner.gateway.clone(),
                master_key: self.inner.master_key.clone(),
                max_body: self.inner.max_body,
                started_at: self.inner.started_at,
                accounting: self.inner.accounting.clone(),
                observability: Some(observability),
            }),
        }
    }

    /// The logging callbacks, when any.
    pub fn observability(&self) -> Option<&Observability> {
        self.inner.observability.as_deref()
    }

    /// `/metrics` needs the master key (the default; see [`Observability`]).
    pub fn metrics_require_auth(&self) -> bool {
        self.observability()
            .is_none_or(Observability::metrics_require_auth)
    }

    /// Requests keep their input and output in the record: the spend logs store prompts or
    /// a logging callback receives them.
    pub fn keeps_messages(&self) -> bool {
        self.accounting().is_some_and(|a| a.options().store_prompts)
            || self
                .observability()
                .is_some_and(Observability::wants_messages)
    }

    /// Spend logs and end users, when enabled.
    pub fn accounting(&self) -> Option<&Accounting> {
        self.inner.accounting.as_deref()
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
