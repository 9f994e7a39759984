//! State shared by every request handler.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard::secret::Secret;
use switchyard::{Config, Gateway};

use crate::observability::Observability;
use crate::spend::Accounting;

/// The default request body limit (LiteLLM sets none; base64 images and long histories need
/// room, a runaway client must not exhaust memory).
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// The default time a client has to send a whole request body.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Shared by all handlers; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    gateway: Gateway,
    master_key: Option<Secret>,
    max_body: usize,
    body_read_timeout: Duration,
    websocket_max_lifetime: Duration,
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
                body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
                websocket_max_lifetime: switchyard::config::DEFAULT_WEBSOCKET_MAX_LIFETIME,
                started_at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                accounting: None,
                observability: None,
            }),
        }
    }

    /// State for `gateway` with what `config` says of clients: the master key, the body limit
    /// (`general_settings.max_request_size_mb`) and the body-read deadline.
    pub fn from_config(gateway: Gateway, config: &Config) -> Self {
        let max_body = config
            .max_request_size_mb
            .map_or(DEFAULT_MAX_BODY, |mb| (mb * 1024.0 * 1024.0) as usize);
        AppState::new(gateway, config.master_key.clone(), max_body)
            .with_body_read_timeout(config.switchyard.body_read_timeout)
            .with_websocket_max_lifetime(config.switchyard.websocket_max_lifetime)
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        change(&mut inner);
        AppState {
            inner: Arc::new(inner),
        }
    }

    /// The same state with another body-read deadline.
    pub fn with_body_read_timeout(self, timeout: Duration) -> Self {
        self.with(|inner| inner.body_read_timeout = timeout)
    }

    /// The same state with another lifetime for Responses WebSockets.
    pub fn with_websocket_max_lifetime(self, lifetime: Duration) -> Self {
        self.with(|inner| inner.websocket_max_lifetime = lifetime)
    }

    /// The same state with spend logs, end users and budgets; registers the spend-log sink
    /// with the gateway.
    pub fn with_accounting(self, accounting: Arc<Accounting>) -> Self {
        self.inner.gateway.sinks().add(accounting.sink());
        self.with(|inner| inner.accounting = Some(accounting))
    }

    /// The same state with logging callbacks; registers their sink with the gateway.
    pub fn with_observability(self, observability: Arc<Observability>) -> Self {
        self.inner.gateway.sinks().add(observability.sink());
        self.with(|inner| inner.observability = Some(observability))
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

    /// Virtual keys and teams (they live in the spend-log database).
    pub fn keys(&self) -> Option<&std::sync::Arc<crate::keys::KeyStore>> {
        self.accounting().map(crate::spend::Accounting::keys)
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

    /// How long a client has to send a whole request body.
    pub fn body_read_timeout(&self) -> Duration {
        self.inner.body_read_timeout
    }

    /// How long a Responses WebSocket may be used.
    pub fn websocket_max_lifetime(&self) -> Duration {
        self.inner.websocket_max_lifetime
    }

    /// When the server started (Unix seconds), reported as models' `created`.
    pub fn started_at(&self) -> u64 {
        self.inner.started_at
    }
}
