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

use prometheus::core::{MetricVec, MetricVecBuilder};
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

/// The label keys of each metric, in LiteLLM's order. Each key's value comes from
/// [`LabelValues::get`] by name, so this order is only the order of declaration.
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
    proxy_total: Labeled<IntCounterVec>,
    proxy_failed: Labeled<IntCounterVec>,
    requests: Labeled<IntCounterVec>,
    spend: Labeled<CounterVec>,
    total_tokens: Labeled<IntCounterVec>,
    input_tokens: Labeled<IntCounterVec>,
    output_tokens: Labeled<IntCounterVec>,
    cached_tokens: Labeled<IntCounterVec>,
    reasoning_tokens: Labeled<IntCounterVec>,
    total_latency: Labeled<HistogramVec>,
    api_latency: Labeled<HistogramVec>,
    ttft: Labeled<HistogramVec>,
    deployment_total: Labeled<IntCounterVec>,
    deployment_success: Labeled<IntCounterVec>,
    deployment_failure: Labeled<IntCounterVec>,
    deployment_state: Labeled<GaugeVec>,
    deployment_rpm_limit: Labeled<GaugeVec>,
    deployment_tpm_limit: Labeled<GaugeVec>,
    remaining_requests: Labeled<GaugeVec>,
    remaining_tokens: Labeled<GaugeVec>,
    in_flight: IntGauge,
    /// Deployment id → the last request it ended failed for a reason of its own.
    last_failed: Mutex<HashMap<String, bool>>,
    /// The combinations of the labels clients choose, bounded.
    client_series: ClientSeries,
}

/// The most distinct combinations of the labels whose values clients choose (model names,
/// end users, keys, addresses) the metrics keep apart; later ones share [`OVERFLOW_VALUE`] in
/// all of those labels. Every combination is a time series in every metric family, held in
/// memory and written on every scrape: without a bound, random model names or user ids grow
/// `/metrics` and the process without end.
pub const MAX_CLIENT_SERIES: usize = 200;

/// The value client-chosen labels take past [`MAX_CLIENT_SERIES`].
pub const OVERFLOW_VALUE: &str = "other";

/// The combinations of client-chosen label values admitted so far.
#[derive(Default)]
struct ClientSeries {
    seen: std::sync::RwLock<std::collections::HashSet<u64>>,
}

impl ClientSeries {
    /// True when the combination `values` has its own series (known, or room for it).
    fn admit(&self, values: &[&str]) -> bool {
        use std::hash::{Hash, Hasher};
        // A fixed-key hasher: the same combination is the same key in every run.
        let mut hasher = std::hash::DefaultHasher::new();
        values.hash(&mut hasher);
        let key = hasher.finish();
        if let Ok(seen) = self.seen.read()
            && seen.contains(&key)
        {
            return true;
        }
        let Ok(mut seen) = self.seen.write() else {
            return false;
        };
        seen.len() < MAX_CLIENT_SERIES && seen.insert(key) || seen.contains(&key)
    }
}

/// The values of every label key the metrics use, by key. Keys LiteLLM has and switchyard has
/// no value for are empty.
#[derive(Debug, Default, Clone, Copy)]
struct LabelValues<'a> {
    /// `end_user`.
    end_user: &'a str,
    /// `hashed_api_key`.
    hashed_api_key: &'a str,
    /// The model group the client asked for: `requested_model` and `model_group`.
    requested_model: &'a str,
    /// The upstream model: `model` and `litellm_model_name`.
    model: &'a str,
    /// The deployment: `model_id`.
    model_id: &'a str,
    /// `route`.
    route: &'a str,
    /// `client_ip`.
    client_ip: &'a str,
    /// `api_base`.
    api_base: &'a str,
    /// The provider: `api_provider`.
    api_provider: &'a str,
    /// The HTTP status answered: `status_code` and `exception_status`.
    status: &'a str,
    /// `exception_class`.
    exception_class: &'a str,
    /// The virtual key's `api_key_alias`.
    api_key_alias: &'a str,
    /// Its team: `team`.
    team: &'a str,
    /// That team's `team_alias`.
    team_alias: &'a str,
    /// The key's owner: `user`.
    user: &'a str,
}

impl<'a> LabelValues<'a> {
    /// The value of the label `key`; `None` for a key no metric should have.
    fn get(&self, key: &str) -> Option<&'a str> {
        Some(match key {
            "end_user" => self.end_user,
            "hashed_api_key" => self.hashed_api_key,
            "requested_model" | "model_group" => self.requested_model,
            "model" | "litellm_model_name" => self.model,
            "model_id" => self.model_id,
            "route" => self.route,
            "client_ip" => self.client_ip,
            "api_base" => self.api_base,
            "api_provider" => self.api_provider,
            "status_code" | "exception_status" => self.status,
            "exception_class" => self.exception_class,
            "api_key_alias" => self.api_key_alias,
            "team" => self.team,
            "team_alias" => self.team_alias,
            "user" => self.user,
            // LiteLLM's, for users' e-mails and user agents.
            "user_email" | "user_agent" => "",
            _ => return None,
        })
    }
}

/// A metric with label keys, and the keys it was registered with: its values are always given
/// by key (see [`Labeled::with`]), so they cannot land under the wrong key.
struct Labeled<V> {
    metric: V,
    keys: &'static [&'static str],
}

impl<B: MetricVecBuilder> Labeled<MetricVec<B>> {
    /// The metric's child for `values`, each key's value looked up by name.
    fn with(&self, values: &LabelValues<'_>) -> B::M {
        // `labeled` checked that every key has a value.
        let in_key_order: Vec<&str> = self
            .keys
            .iter()
            .map(|key| values.get(key).unwrap_or_default())
            .collect();
        self.metric.with_label_values(&in_key_order)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

type Built<M> = Result<M, prometheus::Error>;

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    keys: &'static [&'static str],
) -> Built<Labeled<IntCounterVec>> {
    labeled(
        registry,
        keys,
        IntCounterVec::new(Opts::new(name, help), keys),
    )
}

fn float_counter(
    registry: &Registry,
    name: &str,
    help: &str,
    keys: &'static [&'static str],
) -> Built<Labeled<CounterVec>> {
    labeled(registry, keys, CounterVec::new(Opts::new(name, help), keys))
}

fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: Built<M>,
) -> Built<M> {
    let metric = metric?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// Registers `metric`, refusing a label key [`LabelValues`] has no value for.
fn labeled<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    keys: &'static [&'static str],
    metric: Built<M>,
) -> Built<Labeled<M>> {
    if let Some(key) = keys
        .iter()
        .find(|key| LabelValues::default().get(key).is_none())
    {
        return Err(prometheus::Error::Msg(format!(
            "no value is defined for the label {key}"
        )));
    }
    Ok(Labeled {
        metric: register(registry, metric)?,
        keys,
    })
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    keys: &'static [&'static str],
) -> Built<Labeled<HistogramVec>> {
    let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
    labeled(registry, keys, HistogramVec::new(opts, keys))
}

fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    keys: &'static [&'static str],
) -> Built<Labeled<GaugeVec>> {
    labeled(registry, keys, GaugeVec::new(Opts::new(name, help), keys))
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
            spend: float_counter(
                &r,
                "litellm_spend_metric_total",
                "Total spend on LLM requests (USD)",
                labels::SPEND,
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
            client_series: ClientSeries::default(),
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
            let values = LabelValues {
                model: d.provider.model(),
                model_id: &d.id,
                api_base: d.provider.api_base(),
                api_provider: d.provider.name(),
                ..LabelValues::default()
            };
            // LiteLLM: 2 while cooling down (complete outage), 1 after a failure (partial
            // outage), 0 after a success.
            let state = if d.state.cooling_until(now).is_some() {
                2.0
            } else if failed.get(&d.id).copied().unwrap_or(false) {
                1.0
            } else {
                0.0
            };
            self.deployment_state.with(&values).set(state);
            if let Some(rpm) = d.limits.rpm {
                self.deployment_rpm_limit.with(&values).set(rpm as f64);
            }
            if let Some(tpm) = d.limits.tpm {
                self.deployment_tpm_limit.with(&values).set(tpm as f64);
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
        fn s(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or_default()
        }
        let status = log.http_status.to_string();
        // A model no deployment serves is the client's invention: all of them share one value.
        let requested_model = match (&log.deployment_id, log.error_code.as_deref()) {
            (None, Some("model_not_found" | "invalid_model")) => "unknown",
            _ => s(&log.model_group),
        };
        let mut chosen = [
            s(&log.end_user),
            s(&log.api_key_hash),
            requested_model,
            s(&log.model),
            s(&log.deployment_id),
            s(&log.client_ip),
        ];
        if !self.client_series.admit(&chosen) {
            chosen = [OVERFLOW_VALUE; 6];
        }
        let [
            end_user,
            hashed_api_key,
            requested_model,
            model,
            model_id,
            client_ip,
        ] = chosen;
        let values = LabelValues {
            end_user,
            hashed_api_key,
            requested_model,
            model,
            model_id,
            route: s(&log.route),
            client_ip,
            api_base: s(&log.api_base),
            api_provider: s(&log.provider),
            status: &status,
            exception_class: s(&log.error_class),
            api_key_alias: s(&log.owner.api_key_alias),
            team: s(&log.owner.team_id),
            team_alias: s(&log.owner.team_alias),
            user: s(&log.owner.user_id),
        };

        self.proxy_total.with(&values).inc();
        if !log.is_success() {
            self.proxy_failed.with(&values).inc();
        }
        // Requests refused before any deployment was chosen stop here.
        if log.deployment_id.is_none() {
            return;
        }
        self.requests.with(&values).inc();
        if let Some(cost) = log.cost.filter(|c| *c > 0.0) {
            self.spend.with(&values).inc_by(cost);
        }
        let u = &log.usage;
        self.total_tokens.with(&values).inc_by(u.total_tokens);
        self.input_tokens.with(&values).inc_by(u.input_tokens);
        self.output_tokens.with(&values).inc_by(u.output_tokens);
        self.cached_tokens.with(&values).inc_by(u.cached_tokens);
        self.reasoning_tokens
            .with(&values)
            .inc_by(u.reasoning_tokens);

        let seconds = log.duration_ms / 1000.0;
        self.total_latency.with(&values).observe(seconds);
        if log.is_success() {
            self.api_latency.with(&values).observe(seconds);
            if log.stream
                && let Some(ttft) = log.ttft_ms
            {
                self.ttft.with(&values).observe(ttft / 1000.0);
            }
        }

        let limits = &log.rate_limits;
        if let Some(n) = limits.remaining_requests {
            self.remaining_requests.with(&values).set(n as f64);
        }
        if let Some(n) = limits.remaining_tokens {
            self.remaining_tokens.with(&values).set(n as f64);
        }

        self.deployment_total.with(&values).inc();
        if log.is_success() {
            self.deployment_success.with(&values).inc();
        } else if log.outcome != "client_disconnected" {
            self.deployment_failure.with(&values).inc();
        }
        if log.outcome != "client_disconnected"
            && let Ok(mut failed) = self.last_failed.lock()
        {
            failed.insert(values.model_id.to_string(), deployment_at_fault(log));
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

    fn scrape(m: &Metrics) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&m.registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn labels_clients_choose_are_bounded() {
        let m = Metrics::new().unwrap();
        for i in 0..5_000 {
            // Random model names, refused: one label value between them.
            m.record(&Arc::new(RequestLog {
                model_group: Some(format!("made-up-model-{i}")),
                status: "failure",
                outcome: "rejected",
                http_status: 404,
                error_code: Some("model_not_found".into()),
                ..RequestLog::default()
            }));
            // Random end users and addresses on a real deployment: bounded.
            m.record(&Arc::new(RequestLog {
                end_user: Some(format!("user-{i}")),
                client_ip: Some(format!("10.0.{}.{}", i / 256, i % 256)),
                model_group: Some("real".into()),
                model: Some("m".into()),
                deployment_id: Some("d".into()),
                status: "success",
                outcome: "completed",
                http_status: 200,
                ..RequestLog::default()
            }));
        }
        let text = scrape(&m);
        assert!(
            !text.contains("made-up-model"),
            "refused models share a value"
        );
        assert!(text.contains("requested_model=\"unknown\""));
        let users: std::collections::HashSet<&str> = text
            .split("end_user=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(
            users.len() <= MAX_CLIENT_SERIES + 2,
            "{} end users",
            users.len()
        );
        assert!(users.contains(OVERFLOW_VALUE));
        // About 15 KB per series over every family; 10,000 unbounded ones were 10 MB and more.
        assert!(text.len() < 4_000_000, "{} bytes", text.len());
    }

    #[test]
    fn a_label_key_without_a_value_is_refused() {
        let r = Registry::new();
        let keys: &'static [&'static str] = &["model_id", "no_such_label"];
        let made = counter(&r, "a_counter_total", "help", keys);
        assert!(made.is_err());
    }

    #[test]
    fn each_label_takes_the_value_of_its_own_key() {
        let m = Metrics::new().unwrap();
        m.record(&Arc::new(RequestLog {
            end_user: Some("the-user".into()),
            api_key_hash: Some("the-key".into()),
            model_group: Some("the-group".into()),
            model: Some("the-model".into()),
            deployment_id: Some("the-deployment".into()),
            provider: Some("the-provider".into()),
            api_base: Some("the-base".into()),
            client_ip: Some("the-ip".into()),
            route: Some("the-route".into()),
            status: "failure",
            outcome: "error",
            http_status: 503,
            error_class: Some("the-class".into()),
            owner: switchyard::accounting::KeyOwner {
                api_key_alias: Some("the-alias".into()),
                team_id: Some("the-team".into()),
                team_alias: Some("the-team-alias".into()),
                user_id: Some("the-owner".into()),
            },
            ..RequestLog::default()
        }));
        let family = m
            .registry
            .gather()
            .into_iter()
            .find(|f| f.name() == "litellm_deployment_failure_responses_total")
            .unwrap();
        let pairs: Vec<(String, String)> = family.get_metric()[0]
            .get_label()
            .iter()
            .map(|l| (l.name().to_string(), l.value().to_string()))
            .collect();
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(value("requested_model"), "the-group");
        assert_eq!(value("litellm_model_name"), "the-model");
        assert_eq!(value("model_id"), "the-deployment");
        assert_eq!(value("api_base"), "the-base");
        assert_eq!(value("api_provider"), "the-provider");
        assert_eq!(value("exception_status"), "503");
        assert_eq!(value("exception_class"), "the-class");
        assert_eq!(value("hashed_api_key"), "the-key");
        assert_eq!(value("client_ip"), "the-ip");
        assert_eq!(value("api_key_alias"), "the-alias");
        assert_eq!(value("team"), "the-team");
        assert_eq!(value("team_alias"), "the-team-alias");
        assert_eq!(pairs.len(), labels::DEPLOYMENT_FAILURE.len());
        // The request counters carry the key's owner as `user`.
        let family = m
            .registry
            .gather()
            .into_iter()
            .find(|f| f.name() == "litellm_proxy_total_requests_metric_total")
            .unwrap();
        let user = family.get_metric()[0]
            .get_label()
            .iter()
            .find(|l| l.name() == "user")
            .map(|l| l.value().to_string());
        assert_eq!(user.as_deref(), Some("the-owner"));
    }
}
