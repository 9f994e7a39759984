//! The `prometheus` callback: LiteLLM's metric names and label keys, served at `/metrics` in
//! the Prometheus text format, so dashboards built for LiteLLM keep working.
//!
//! Counters carry the `_total` suffix in their name, as the Python client LiteLLM uses
//! exposes them (`litellm_proxy_total_requests_metric_total`). Labels LiteLLM has and
//! switchyard has no value for (teams, key aliases, users, user agents) are present and empty.
//! Latency histograms use LiteLLM's buckets. Deployment counters count the deployment that
//! ended each request (a retried attempt's deployment is not counted separately).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus::{
    CounterVec, Encoder as _, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use switchyard::Gateway;
use switchyard::accounting::{LogSink, RequestLog};
use switchyard::router::state::now_ms;

/// LiteLLM's latency buckets (seconds; `+Inf` is implicit).
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0,
    5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0,
    240.0, 300.0,
];

/// The label keys of each metric, in LiteLLM's order.
mod labels {
    pub const PROXY_TOTAL: &[&str] = &[
        "end_user",
        "hashed_api_key",
        "api_key_alias",
        "requested_model",
        "team",
        "team_alias",
        "user",
        "status_code",
        "user_email",
        "route",
        "client_ip",
        "user_agent",
        "model_id",
    ];
    pub const PROXY_FAILED: &[&str] = &[
        "end_user",
        "hashed_api_key",
        "api_key_alias",
        "requested_model",
        "team",
        "team_alias",
        "user",
        "user_email",
        "exception_status",
        "exception_class",
        "route",
        "client_ip",
        "user_agent",
        "model_id",
    ];
    /// `litellm_requests_metric` and `litellm_spend_metric`.
    pub const SPEND: &[&str] = &[
        "end_user",
        "hashed_api_key",
        "api_key_alias",
        "model",
        "team",
        "team_alias",
        "user",
        "user_email",
        "client_ip",
        "user_agent",
        "model_id",
    ];
    pub const TOKENS: &[&str] = &[
        "end_user",
        "hashed_api_key",
        "api_key_alias",
        "model",
        "team",
        "team_alias",
        "user",
        "user_email",
        "requested_model",
        "model_id",
    ];
    /// `litellm_cached_tokens_metric` (and switchyard's reasoning-token counter).
    pub const CACHE: &[&str] = &[
        "model",
        "hashed_api_key",
        "api_key_alias",
        "team",
        "team_alias",
        "end_user",
        "user",
        "model_id",
    ];
    pub const TOTAL_LATENCY: &[&str] = &[
        "end_user",
        "hashed_api_key",
        "api_key_alias",
        "requested_model",
        "team",
        "team_alias",
        "user",
        "model",
        "model_id",
    ];
    /// `litellm_llm_api_latency_metric` and `litellm_llm_api_time_to_first_token_metric`.
    pub const API_LATENCY: &[&str] = &[
        "model",
        "hashed_api_key",
        "api_key_alias",
        "team",
        "team_alias",
        "requested_model",
        "end_user",
        "user",
        "model_id",
    ];
    /// `litellm_deployment_total_requests` and `litellm_deployment_success_responses`.
    pub const DEPLOYMENT: &[&str] = &[
        "requested_model",
        "litellm_model_name",
        "model_id",
        "api_base",
        "api_provider",
        "hashed_api_key",
        "api_key_alias",
        "team",
        "team_alias",
        "client_ip",
        "user_agent",
    ];
    pub const DEPLOYMENT_FAILURE: &[&str] = &[
        "requested_model",
        "litellm_model_name",
        "model_id",
        "api_base",
        "api_provider",
        "exception_status",
        "exception_class",
        "hashed_api_key",
        "api_key_alias",
        "team",
        "team_alias",
        "client_ip",
        "user_agent",
    ];
    /// `litellm_deployment_state` and the deployment limits.
    pub const DEPLOYMENT_STATE: &[&str] =
        &["litellm_model_name", "model_id", "api_base", "api_provider"];
    /// `litellm_remaining_requests_metric` and `litellm_remaining_tokens_metric`.
    pub const REMAINING: &[&str] = &[
        "model_group",
        "api_provider",
        "api_base",
        "litellm_model_name",
        "hashed_api_key",
        "api_key_alias",
    ];
}

/// The metrics, and the per-deployment health the state gauge needs.
pub struct Metrics {
    registry: Registry,
    proxy_total: IntCounterVec,
    proxy_failed: IntCounterVec,
    requests: IntCounterVec,
    spend: CounterVec,
    total_tokens: IntCounterVec,
    input_tokens: IntCounterVec,
    output_tokens: IntCounterVec,
    cached_tokens: IntCounterVec,
    reasoning_tokens: IntCounterVec,
    total_latency: HistogramVec,
    api_latency: HistogramVec,
    ttft: HistogramVec,
    deployment_total: IntCounterVec,
    deployment_success: IntCounterVec,
    deployment_failure: IntCounterVec,
    deployment_state: GaugeVec,
    deployment_rpm_limit: GaugeVec,
    deployment_tpm_limit: GaugeVec,
    remaining_requests: GaugeVec,
    remaining_tokens: GaugeVec,
    in_flight: IntGauge,
    /// Deployment id → the last request it ended failed for a reason of its own.
    last_failed: Mutex<HashMap<String, bool>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

type Built<M> = Result<M, prometheus::Error>;

fn counter(registry: &Registry, name: &str, help: &str, keys: &[&str]) -> Built<IntCounterVec> {
    register(registry, IntCounterVec::new(Opts::new(name, help), keys))
}

fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: Built<M>,
) -> Built<M> {
    let metric = metric?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram(registry: &Registry, name: &str, help: &str, keys: &[&str]) -> Built<HistogramVec> {
    let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
    register(registry, HistogramVec::new(opts, keys))
}

fn gauge(registry: &Registry, name: &str, help: &str, keys: &[&str]) -> Built<GaugeVec> {
    register(registry, GaugeVec::new(Opts::new(name, help), keys))
}

impl Metrics {
    /// Every metric, registered and empty. Fails only on an invalid definition (a bug).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
        Ok(Metrics {
            proxy_total: counter(
                &r,
                "litellm_proxy_total_requests_metric_total",
                "Total number of requests made to the proxy server - track number of client side requests",
                labels::PROXY_TOTAL,
            )?,
            proxy_failed: counter(
                &r,
                "litellm_proxy_failed_requests_metric_total",
                "Total number of failed responses from proxy - the client did not get a success response from the proxy",
                labels::PROXY_FAILED,
            )?,
            requests: counter(
                &r,
                "litellm_requests_metric_total",
                "Total number of LLM calls to the proxy",
                labels::SPEND,
            )?,
            spend: register(
                &r,
                CounterVec::new(
                    Opts::new(
                        "litellm_spend_metric_total",
                        "Total spend on LLM requests (USD)",
                    ),
                    labels::SPEND,
                ),
            )?,
            total_tokens: counter(
                &r,
                "litellm_total_tokens_metric_total",
                "Total number of input + output tokens from LLM requests",
                labels::TOKENS,
            )?,
            input_tokens: counter(
                &r,
                "litellm_input_tokens_metric_total",
                "Total number of input tokens from LLM requests",
                labels::TOKENS,
            )?,
            output_tokens: counter(
                &r,
                "litellm_output_tokens_metric_total",
                "Total number of output tokens from LLM requests",
                labels::TOKENS,
            )?,
            cached_tokens: counter(
                &r,
                "litellm_cached_tokens_metric_total",
                "Total number of input tokens read from the provider's prompt cache",
                labels::CACHE,
            )?,
            reasoning_tokens: counter(
                &r,
                "switchyard_reasoning_tokens_metric_total",
                "Total number of output tokens spent reasoning (part of the output tokens)",
                labels::CACHE,
            )?,
            total_latency: histogram(
                &r,
                "litellm_request_total_latency_metric",
                "Total latency (seconds) for a request to the proxy",
                labels::TOTAL_LATENCY,
            )?,
            api_latency: histogram(
                &r,
                "litellm_llm_api_latency_metric",
                "Total latency (seconds) for a models LLM API call",
                labels::API_LATENCY,
            )?,
            ttft: histogram(
                &r,
                "litellm_llm_api_time_to_first_token_metric",
                "Time to first token for a models LLM API call (streaming requests)",
                labels::API_LATENCY,
            )?,
            deployment_total: counter(
                &r,
                "litellm_deployment_total_requests_total",
                "LLM Deployment Analytics - Total number of LLM API calls via the proxy - success + failure",
                labels::DEPLOYMENT,
            )?,
            deployment_success: counter(
                &r,
                "litellm_deployment_success_responses_total",
                "LLM Deployment Analytics - Total number of successful LLM API calls via the proxy",
                labels::DEPLOYMENT,
            )?,
            deployment_failure: counter(
                &r,
                "litellm_deployment_failure_responses_total",
                "LLM Deployment Analytics - Total number of failed LLM API calls for a specific LLM deployment. exception_status is the status of the exception from the llm api",
                labels::DEPLOYMENT_FAILURE,
            )?,
            deployment_state: gauge(
                &r,
                "litellm_deployment_state",
                "LLM Deployment Analytics - The state of the deployment: 0 = healthy, 1 = partial outage, 2 = complete outage",
                labels::DEPLOYMENT_STATE,
            )?,
            deployment_rpm_limit: gauge(
                &r,
                "litellm_deployment_rpm_limit",
                "Deployment RPM limit found in config",
                labels::DEPLOYMENT_STATE,
            )?,
            deployment_tpm_limit: gauge(
                &r,
                "litellm_deployment_tpm_limit",
                "Deployment TPM limit found in config",
                labels::DEPLOYMENT_STATE,
            )?,
            remaining_requests: gauge(
                &r,
                "litellm_remaining_requests_metric",
                "LLM Deployment Analytics - remaining requests for model, returned from LLM API Provider",
                labels::REMAINING,
            )?,
            remaining_tokens: gauge(
                &r,
                "litellm_remaining_tokens_metric",
                "LLM Deployment Analytics - remaining tokens for model, returned from LLM API Provider",
                labels::REMAINING,
            )?,
            in_flight: register(
                &r,
                IntGauge::new(
                    "litellm_in_flight_requests",
                    "Upstream calls in flight across every deployment",
                ),
            )?,
            registry: r,
            last_failed: Mutex::new(HashMap::new()),
        })
    }

    /// The text exposition, with the deployment gauges read from `gateway`'s router state.
    pub fn render(&self, gateway: &Gateway) -> String {
        let now = now_ms();
        let failed = self
            .last_failed
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut in_flight = 0i64;
        for d in gateway.registry().deployments() {
            let provider = d.provider.name();
            let values = [
                d.provider.model(),
                d.id.as_str(),
                d.provider.api_base(),
                provider,
            ];
            // LiteLLM: 2 while cooling down (complete outage), 1 after a failure (partial
            // outage), 0 after a success.
            let state = if d.state.cooling_until(now).is_some() {
                2.0
            } else if failed.get(&d.id).copied().unwrap_or(false) {
                1.0
            } else {
                0.0
            };
            self.deployment_state.with_label_values(&values).set(state);
            if let Some(rpm) = d.limits.rpm {
                self.deployment_rpm_limit
                    .with_label_values(&values)
                    .set(rpm as f64);
            }
            if let Some(tpm) = d.limits.tpm {
                self.deployment_tpm_limit
                    .with_label_values(&values)
                    .set(tpm as f64);
            }
            in_flight += i64::from(d.state.in_flight());
        }
        self.in_flight.set(in_flight);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot encode metrics: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The `content-type` of [`Metrics::render`].
    pub fn content_type() -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }
}

/// True when a failure says something about the deployment (not about the request).
fn deployment_at_fault(log: &RequestLog) -> bool {
    matches!(log.outcome, "error" | "failed")
        && (log.http_status >= 500 || log.http_status == 429 || log.http_status == 408)
}

impl LogSink for Metrics {
    fn record(&self, log: &Arc<RequestLog>) {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let end_user = s(&log.end_user);
        let key = s(&log.api_key_hash);
        let requested = s(&log.model_group);
        let model = s(&log.model);
        let model_id = s(&log.deployment_id);
        let route = s(&log.route);
        let ip = s(&log.client_ip);
        let api_base = s(&log.api_base);
        let provider = s(&log.provider);
        let status = log.http_status.to_string();
        let class = s(&log.error_class);
        let e = "";

        self.proxy_total
            .with_label_values(&[
                &end_user, &key, e, &requested, e, e, e, &status, e, &route, &ip, e, &model_id,
            ])
            .inc();
        if !log.is_success() {
            self.proxy_failed
                .with_label_values(&[
                    &end_user, &key, e, &requested, e, e, e, e, &status, &class, &route, &ip, e,
                    &model_id,
                ])
                .inc();
        }
        // Requests refused before any deployment was chosen stop here.
        if log.deployment_id.is_none() {
            return;
        }
        let spend_labels = [
            end_user.as_str(),
            &key,
            e,
            &model,
            e,
            e,
            e,
            e,
            &ip,
            e,
            &model_id,
        ];
        self.requests.with_label_values(&spend_labels).inc();
        if let Some(cost) = log.cost.filter(|c| *c > 0.0) {
            self.spend.with_label_values(&spend_labels).inc_by(cost);
        }
        let u = &log.usage;
        let token_labels = [
            end_user.as_str(),
            &key,
            e,
            &model,
            e,
            e,
            e,
            e,
            &requested,
            &model_id,
        ];
        self.total_tokens
            .with_label_values(&token_labels)
            .inc_by(u.total_tokens);
        self.input_tokens
            .with_label_values(&token_labels)
            .inc_by(u.input_tokens);
        self.output_tokens
            .with_label_values(&token_labels)
            .inc_by(u.output_tokens);
        let cache_labels = [model.as_str(), &key, e, e, e, &end_user, e, &model_id];
        self.cached_tokens
            .with_label_values(&cache_labels)
            .inc_by(u.cached_tokens);
        self.reasoning_tokens
            .with_label_values(&cache_labels)
            .inc_by(u.reasoning_tokens);

        let seconds = log.duration_ms / 1000.0;
        self.total_latency
            .with_label_values(&[&end_user, &key, e, &requested, e, e, e, &model, &model_id])
            .observe(seconds);
        let api_labels = [
            model.as_str(),
            &key,
            e,
            e,
            e,
            &requested,
            &end_user,
            e,
            &model_id,
        ];
        if log.is_success() {
            self.api_latency
                .with_label_values(&api_labels)
                .observe(seconds);
            if log.stream
                && let Some(ttft) = log.ttft_ms
            {
                self.ttft
                    .with_label_values(&api_labels)
                    .observe(ttft / 1000.0);
            }
        }

        let limits = &log.rate_limits;
        let remaining_labels = [requested.as_str(), &provider, &api_base, &model, &key, e];
        if let Some(n) = limits.remaining_requests {
            self.remaining_requests
                .with_label_values(&remaining_labels)
                .set(n as f64);
        }
        if let Some(n) = limits.remaining_tokens {
            self.remaining_tokens
                .with_label_values(&remaining_labels)
                .set(n as f64);
        }

        self.deployment_total
            .with_label_values(&[
                &requested, &model, &model_id, &api_base, &provider, &key, e, e, e, &ip, e,
            ])
            .inc();
        if log.is_success() {
            self.deployment_success
                .with_label_values(&[
                    &requested, &model, &model_id, &api_base, &provider, &key, e, e, e, &ip, e,
                ])
                .inc();
        } else if log.outcome != "client_disconnected" {
            self.deployment_failure
                .with_label_values(&[
                    &requested, &model, &model_id, &api_base, &provider, &status, &class, &key, e,
                    e, e, &ip, e,
                ])
                .inc();
        }
        if log.outcome != "client_disconnected"
            && let Ok(mut failed) = self.last_failed.lock()
        {
            failed.insert(model_id, deployment_at_fault(log));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_metric_definition_is_valid_and_unique() {
        // Registration rejects invalid names, label keys and duplicates.
        let m = Metrics::new().unwrap();
        m.in_flight.set(3);
        let text = {
            let mut out = Vec::new();
            TextEncoder::new()
                .encode(&m.registry.gather(), &mut out)
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(text.contains("litellm_in_flight_requests 3"), "{text}");
    }
}
