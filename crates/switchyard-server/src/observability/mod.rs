//! Logging callbacks: what `litellm_settings.callbacks`, `success_callback` and
//! `failure_callback` name, acted on.
//!
//! Implemented: `prometheus` (metrics at `/metrics`, [`metrics`]), `otel` (OTLP spans,
//! [`otlp`]) and `generic_api` (JSON webhooks, [`webhook`]; also any name whose
//! `callback_settings` entry says `callback_type: generic_api`). Every other name is accepted
//! and named in one startup warning.
//!
//! All of them consume the gateway's one [`RequestLog`] per request through a single fan-out
//! sink, which first applies the redaction settings (`turn_off_message_logging`,
//! `redact_user_api_key_info`) once, then hands the record to each callback whose scope admits
//! it (`callbacks`: every request; `success_callback`: successes; `failure_callback`:
//! failures). Nothing here blocks a request: metrics are atomic updates, exporters queue.

pub mod batch;
pub mod metrics;
pub mod otlp;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use switchyard::Config;
use switchyard::accounting::{LogSink, RequestLog};
use switchyard::config::{Env, LoggingSettings};

use batch::{BatchExporter, Encoder};
use metrics::Metrics;
use otlp::OtlpOptions;
use webhook::{JsonEncoder, WebhookOptions};

/// Which requests a callback receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every request (`callbacks`).
    All,
    /// Successful requests (`success_callback`).
    Success,
    /// Failed requests (`failure_callback`).
    Failure,
}

impl Scope {
    fn admits(self, log: &RequestLog) -> bool {
        match self {
            Scope::All => true,
            Scope::Success => log.is_success(),
            Scope::Failure => !log.is_success(),
        }
    }

    /// The narrower of two scopes (both must admit).
    fn and(self, other: Scope) -> Option<Scope> {
        match (self, other) {
            (Scope::All, s) | (s, Scope::All) => Some(s),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }
}

/// What a callback does.
#[derive(Debug, Clone)]
pub enum CallbackKind {
    /// Prometheus metrics at `/metrics`.
    Prometheus,
    /// OTLP spans.
    Otel(OtlpOptions),
    /// JSON batches to an HTTP endpoint.
    Webhook(WebhookOptions),
}

/// One configured callback.
#[derive(Debug, Clone)]
pub struct Callback {
    /// Its name in the config.
    pub name: String,
    /// What it does.
    pub kind: CallbackKind,
    /// Which requests it receives.
    pub scope: Scope,
}

/// The logging settings the proxy acts on, resolved (environment variables read).
#[derive(Debug, Clone, Default)]
pub struct ObservabilityOptions {
    /// The callbacks to run.
    pub callbacks: Vec<Callback>,
    /// No request input or response output reaches any sink.
    pub turn_off_message_logging: bool,
    /// No key hash, end user or client address reaches the callbacks.
    pub redact_user_api_key_info: bool,
    /// `/metrics` needs the master key.
    pub metrics_require_auth: bool,
}

/// The callbacks switchyard implements.
pub const IMPLEMENTED: &[&str] = &["prometheus", "otel", "generic_api"];

impl ObservabilityOptions {
    /// Options from the config; environment variables (`OTEL_*`, `GENERIC_LOGGER_*`) are read
    /// through `config.env`. Returns warnings: names not implemented, callbacks that cannot
    /// run as configured (they are left out; startup never fails on a callback).
    pub fn from_config(config: &Config) -> (ObservabilityOptions, Vec<String>) {
        ObservabilityOptions::from_settings(&config.logging, &config.env)
    }

    /// Options from `settings`, reading variables from `env`.
    pub fn from_settings(
        settings: &LoggingSettings,
        env: &Env,
    ) -> (ObservabilityOptions, Vec<String>) {
        let mut warnings = Vec::new();
        let mut options = ObservabilityOptions {
            callbacks: Vec::new(),
            turn_off_message_logging: settings.turn_off_message_logging,
            redact_user_api_key_info: settings.redact_user_api_key_info,
            // LiteLLM leaves /metrics open unless `require_auth_for_metrics_endpoint: true`;
            // switchyard protects it with the master key unless that key says `false`:
            // labels carry key hashes and end users.
            metrics_require_auth: settings.require_auth_for_metrics_endpoint.unwrap_or(true),
        };
        let mut unsupported: Vec<String> = Vec::new();
        for name in settings.all_names() {
            let in_all = settings.callbacks.contains(&name);
            let in_success = settings.success_callback.contains(&name);
            let in_failure = settings.failure_callback.contains(&name);
            let scope = if in_all || (in_success && in_failure) {
                Scope::All
            } else if in_success {
                Scope::Success
            } else if in_failure {
                Scope::Failure
            } else {
                // Only in service_callbacks: none implemented.
                unsupported.push(name);
                continue;
            };
            let custom = settings
                .callback_settings
                .get(&name)
                .and_then(|v| v.as_object())
                .filter(|s| s.get("callback_type").and_then(|t| t.as_str()) == Some("generic_api"));
            let kind = match (name.as_str(), custom) {
                (_, Some(custom)) => {
                    WebhookOptions::from_settings(&name, custom).map(CallbackKind::Webhook)
                }
                ("prometheus", None) => Ok(CallbackKind::Prometheus),
                ("otel", None) => OtlpOptions::from_env(env).map(CallbackKind::Otel),
                ("generic_api", None) => WebhookOptions::from_env(env).map(CallbackKind::Webhook),
                _ => {
                    unsupported.push(name);
                    continue;
                }
            };
            let kind = match kind {
                Ok(kind) => kind,
                Err(problem) => {
                    warnings.push(format!("logging callback {name} disabled: {problem}"));
                    continue;
                }
            };
            let scope = match &kind {
                CallbackKind::Webhook(w) => match scope.and(w.events) {
                    Some(scope) => scope,
                    None => {
                        warnings.push(format!(
                            "logging callback {name} receives nothing: its event_types exclude \
                             the requests its callback list gives it"
                        ));
                        continue;
                    }
                },
                _ => scope,
            };
            options.callbacks.push(Callback { name, kind, scope });
        }
        if !unsupported.is_empty() {
            warnings.push(format!(
                "logging callbacks not implemented by switchyard, ignored: {} (implemented: {})",
                unsupported.join(", "),
                IMPLEMENTED.join(", ")
            ));
        }
        let named = settings.all_names();
        for key in settings.callback_settings.keys() {
            if !named.contains(key) {
                warnings.push(format!(
                    "callback_settings.{key} is not named in litellm_settings.callbacks, \
                     success_callback or failure_callback: ignored"
                ));
            }
        }
        (options, warnings)
    }

    /// True when some callback may receive request inputs and outputs, so the gateway must
    /// keep them in the record.
    pub fn wants_messages(&self) -> bool {
        !self.turn_off_message_logging
            && self
                .callbacks
                .iter()
                .any(|c| !matches!(c.kind, CallbackKind::Prometheus))
    }
}

/// The running callbacks.
#[derive(Debug)]
pub struct Observability {
    metrics: Option<Arc<Metrics>>,
    exporters: Vec<Arc<BatchExporter>>,
    fanout: Arc<Fanout>,
    wants_messages: bool,
    metrics_require_auth: bool,
}

impl Observability {
    /// Starts the exporters (inside a Tokio runtime). Register [`Observability::sink`] with
    /// the gateway.
    pub fn start(options: ObservabilityOptions) -> Result<Observability, String> {
        switchyard::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the logging HTTP client: {e}"))?;
        let mut metrics: Option<Arc<Metrics>> = None;
        let mut exporters = Vec::new();
        let mut targets: Vec<(Scope, Arc<dyn LogSink>)> = Vec::new();
        for callback in &options.callbacks {
            let (batch, encoder): (_, Arc<dyn Encoder>) = match &callback.kind {
                CallbackKind::Prometheus => {
                    let m = match &metrics {
                        Some(m) => m.clone(),
                        None => {
                            let m = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
                            metrics = Some(m.clone());
                            m
                        }
                    };
                    targets.push((callback.scope, m));
                    continue;
                }
                CallbackKind::Otel(o) => (o.batch.clone(), Arc::new(o.encoder())),
                CallbackKind::Webhook(w) => {
                    (w.batch.clone(), Arc::new(JsonEncoder { format: w.format }))
                }
            };
            let exporter = Arc::new(BatchExporter::start(
                &callback.name,
                batch,
                encoder,
                client.clone(),
            ));
            exporters.push(exporter.clone());
            targets.push((callback.scope, Arc::new(ExporterSink(exporter))));
        }
        Ok(Observability {
            metrics,
            exporters,
            fanout: Arc::new(Fanout {
                redaction: Redaction {
                    messages: options.turn_off_message_logging,
                    user_info: options.redact_user_api_key_info,
                },
                targets,
            }),
            wants_messages: options.wants_messages(),
            metrics_require_auth: options.metrics_require_auth,
        })
    }

    /// The sink to add to the gateway.
    pub fn sink(&self) -> Arc<dyn LogSink> {
        self.fanout.clone()
    }

    /// The metrics, when `prometheus` is on.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    /// `/metrics` needs the master key.
    pub fn metrics_require_auth(&self) -> bool {
        self.metrics_require_auth
    }

    /// Some callback receives request inputs and outputs.
    pub fn wants_messages(&self) -> bool {
        self.wants_messages
    }

    /// Records dropped by full exporter queues.
    pub fn dropped(&self) -> u64 {
        self.exporters.iter().map(|e| e.dropped()).sum()
    }

    /// Sends what every exporter has queued; waits at most `within` for each.
    pub async fn shutdown(&self, within: Duration) {
        for exporter in &self.exporters {
            exporter.shutdown(within).await;
        }
    }
}

/// What the redaction settings remove.
#[derive(Debug, Clone, Copy)]
struct Redaction {
    messages: bool,
    user_info: bool,
}

impl Redaction {
    /// `log` without what must not be logged; the same `Arc` when nothing is removed.
    fn apply(self, log: &Arc<RequestLog>) -> Arc<RequestLog> {
        let strip_messages = self.messages && (log.messages.is_some() || log.response.is_some());
        let strip_user = self.user_info
            && (log.api_key_hash.is_some()
                || log.end_user.is_some()
                || log.client_ip.is_some()
                || log.owner != switchyard::accounting::KeyOwner::default());
        if !strip_messages && !strip_user {
            return log.clone();
        }
        let mut copy = RequestLog::clone(log);
        if strip_messages {
            copy.messages = None;
            copy.response = None;
        }
        if strip_user {
            copy.api_key_hash = None;
            copy.end_user = None;
            copy.client_ip = None;
            // LiteLLM's redaction removes the key's alias, team and user as well.
            copy.owner = switchyard::accounting::KeyOwner::default();
        }
        Arc::new(copy)
    }
}

/// The one sink registered with the gateway.
struct Fanout {
    redaction: Redaction,
    targets: Vec<(Scope, Arc<dyn LogSink>)>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("targets", &self.targets.len())
            .finish()
    }
}

impl LogSink for Fanout {
    fn record(&self, log: &Arc<RequestLog>) {
        if self.targets.is_empty() {
            return;
        }
        let log = self.redaction.apply(log);
        for (scope, target) in &self.targets {
            if scope.admits(&log) {
                target.record(&log);
            }
        }
    }
}

struct ExporterSink(Arc<BatchExporter>);

impl LogSink for ExporterSink {
    fn record(&self, log: &Arc<RequestLog>) {
        self.0.push(log);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(yaml: &str) -> (ObservabilityOptions, Vec<String>) {
        let env = Env::with_overlay(
            [("GENERIC_LOGGER_ENDPOINT", "http://logs.invalid/in")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let config = Config::from_yaml_with_env(yaml, &env).unwrap();
        ObservabilityOptions::from_settings(&config.logging, &config.env)
    }

    #[test]
    fn sorts_callbacks_into_scopes_and_warns_once_about_the_rest() {
        let (o, warnings) = settings(
            r#"
litellm_settings:
  callbacks: ["prometheus", "langfuse"]
  success_callback: ["generic_api", "datadog"]
  failure_callback: ["hook", "sentry"]
  service_callbacks: ["datadog"]
callback_settings:
  hook: {callback_type: generic_api, endpoint: "http://h/x"}
"#,
        );
        let scopes: Vec<(&str, Scope)> = o
            .callbacks
            .iter()
            .map(|c| (c.name.as_str(), c.scope))
            .collect();
        assert_eq!(
            scopes,
            [
                ("prometheus", Scope::All),
                ("generic_api", Scope::Success),
                ("hook", Scope::Failure)
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("langfuse, datadog, sentry"),
            "{warnings:?}"
        );
        assert!(o.metrics_require_auth);
        assert!(o.wants_messages());
    }

    #[test]
    fn a_misconfigured_callback_is_left_out_with_a_warning() {
        let (o, warnings) = settings(
            r#"
litellm_settings:
  callbacks: ["hook", "prometheus"]
  turn_off_message_logging: true
  require_auth_for_metrics_endpoint: false
callback_settings:
  hook: {callback_type: generic_api}
"#,
        );
        assert_eq!(o.callbacks.len(), 1);
        assert!(warnings[0].contains("hook disabled"), "{warnings:?}");
        assert!(!o.metrics_require_auth);
        assert!(!o.wants_messages());
    }

    #[test]
    fn redaction_removes_messages_and_user_info() {
        let log = Arc::new(RequestLog {
            api_key_hash: Some("abc".into()),
            end_user: Some("u1".into()),
            client_ip: Some("10.0.0.1".into()),
            messages: serde_json::value::to_raw_value("hi").ok(),
            response: serde_json::value::to_raw_value("hello").ok(),
            ..RequestLog::default()
        });
        let none = Redaction {
            messages: false,
            user_info: false,
        };
        assert!(Arc::ptr_eq(&none.apply(&log), &log));
        let both = Redaction {
            messages: true,
            user_info: true,
        }
        .apply(&log);
        assert!(both.messages.is_none() && both.response.is_none());
        assert!(both.api_key_hash.is_none() && both.end_user.is_none() && both.client_ip.is_none());
    }
}
