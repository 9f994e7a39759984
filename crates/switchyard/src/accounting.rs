//! The per-request accounting record and the sinks it is handed to.
//!
//! Every request the gateway sees ends in exactly one [`RequestLog`]: built once when the
//! request finishes (completed, incomplete, failed, refused, or abandoned by the client) and
//! shared, as one `Arc`, with every registered [`LogSink`]. Spend logs, metrics, traces and
//! webhooks are all consumers of this one payload; its JSON form (`serde_json::to_value`) is
//! the documented logging payload (README, "Accounting").

use std::sync::Arc;

use arc_swap::ArcSwap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use switchyard_types::JsonMap;

/// What the caller knows about a request before the gateway sees it (who asked, from where,
/// with which tags). The proxy fills it in; library callers may leave it empty.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The HTTP route (`/v1/responses`).
    pub route: Option<String>,
    /// SHA-256 (hex) of the bearer key; never the key itself.
    pub api_key_hash: Option<String>,
    /// The end user (customer) the request is attributed to.
    pub end_user: Option<String>,
    /// The virtual key's alias, team and owner, when the caller used one.
    pub owner: KeyOwner,
    /// Request tags (`x-litellm-tags`, `metadata.tags`).
    pub tags: Vec<String>,
    /// Request metadata (`metadata`, `x-litellm-spend-logs-metadata`).
    pub metadata: JsonMap,
    /// The client's address.
    pub client_ip: Option<String>,
    /// Keep the request input and response output in the record: the spend logs store
    /// prompts (`general_settings.store_prompts_in_spend_logs`) or a logging callback
    /// receives them. Each sink decides what it keeps.
    pub store_prompts: bool,
}

/// Who a virtual key belongs to, as the proxy's key store knows it (empty for the master key
/// and for library callers). Names are LiteLLM's (spend logs, metric labels).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyOwner {
    /// The key's `key_alias`.
    pub api_key_alias: Option<String>,
    /// The key's team.
    pub team_id: Option<String>,
    /// That team's `team_alias`.
    pub team_alias: Option<String>,
    /// The key's `user_id`.
    pub user_id: Option<String>,
}

/// Token counts, in the Responses API's accounting: `input_tokens` includes cached and
/// cache-write tokens, `output_tokens` includes reasoning tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenCounts {
    /// Every prompt token.
    pub input_tokens: u64,
    /// Prompt tokens read from the cache.
    pub cached_tokens: u64,
    /// Prompt tokens written to the cache.
    pub cache_write_tokens: u64,
    /// Every generated token.
    pub output_tokens: u64,
    /// Generated tokens spent reasoning.
    pub reasoning_tokens: u64,
    /// Input plus output.
    pub total_tokens: u64,
}

/// Tags from a comma-separated header (`x-litellm-tags`) and a `tags` value (a list, or
/// comma-separated text, as in `metadata.tags` and `litellm_params.tags`): trimmed, each once,
/// in order.
pub fn tags(header: Option<&str>, value: Option<&Value>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut add = |text: &str| {
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        }
    };
    if let Some(text) = header {
        add(text);
    }
    match value {
        Some(Value::String(text)) => add(text),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).for_each(add),
        _ => {}
    }
    tags
}

/// What the provider said is left of the deployment's rate limits, from the answer's headers
/// (`x-ratelimit-remaining-*`, `anthropic-ratelimit-*-remaining`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RateLimits {
    /// Requests left in the current window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_requests: Option<u64>,
    /// Tokens left in the current window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_tokens: Option<u64>,
}

impl RateLimits {
    /// Reads the headers OpenAI, Azure OpenAI and OpenAI-compatible servers send
    /// (`x-ratelimit-remaining-requests`, `-tokens`) and Anthropic's
    /// (`anthropic-ratelimit-requests-remaining`, `-tokens-remaining`).
    pub fn from_headers(headers: &http::HeaderMap) -> RateLimits {
        let number = |names: [&str; 2]| {
            names.iter().find_map(|name| {
                headers
                    .get(*name)?
                    .to_str()
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        RateLimits {
            remaining_requests: number([
                "x-ratelimit-remaining-requests",
                "anthropic-ratelimit-requests-remaining",
            ]),
            remaining_tokens: number([
                "x-ratelimit-remaining-tokens",
                "anthropic-ratelimit-tokens-remaining",
            ]),
        }
    }
}

/// The sampling parameters the client asked for (after none of the deployment's defaults),
/// for traces (`gen_ai.request.*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RequestParams {
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `top_p`.
    pub top_p: Option<f64>,
    /// `max_output_tokens`.
    pub max_output_tokens: Option<u64>,
}

/// One request, as it ended. Serialised once per sink that wants JSON; field names are part of
/// the documented payload.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestLog {
    /// The gateway's request id (`x-request-id`).
    pub request_id: String,
    /// The response id the client saw, when a response was created.
    pub response_id: Option<String>,
    /// `responses`.
    pub call_type: &'static str,
    /// The HTTP route.
    pub route: Option<String>,
    /// SHA-256 (hex) of the caller's key.
    pub api_key_hash: Option<String>,
    /// The end user.
    pub end_user: Option<String>,
    /// The virtual key's alias, team and owner.
    #[serde(flatten)]
    pub owner: KeyOwner,
    /// The model group the client asked for.
    pub model_group: Option<String>,
    /// The upstream model of the deployment that answered.
    pub model: Option<String>,
    /// The model the response names (as the upstream reported it), when there was one.
    pub response_model: Option<String>,
    /// The deployment that answered (`model_info.id`).
    pub deployment_id: Option<String>,
    /// Its provider.
    pub provider: Option<String>,
    /// Its base URL.
    pub api_base: Option<String>,
    /// Streamed or not.
    pub stream: bool,
    /// `success` or `failure`.
    pub status: &'static str,
    /// `completed`, `incomplete`, `failed`, `error`, `rejected` or `client_disconnected`.
    pub outcome: &'static str,
    /// The HTTP status of the answer (499 when the client went away).
    pub http_status: u16,
    /// The OpenAI error type (`rate_limit_error`, …) of a failure.
    pub error_class: Option<String>,
    /// The error code of a failure (`context_length_exceeded`, …).
    pub error_code: Option<String>,
    /// Upstream attempts made.
    pub attempts: u32,
    /// Tokens, from the final usage.
    pub usage: TokenCounts,
    /// USD; `None` when the model has no price (never a made-up zero).
    pub cost: Option<f64>,
    /// When the request reached the gateway (Unix ms).
    pub start_time_ms: i64,
    /// When the first output was ready (Unix ms).
    pub completion_start_time_ms: Option<i64>,
    /// When it ended (Unix ms).
    pub end_time_ms: i64,
    /// `end − start`, in ms.
    pub duration_ms: f64,
    /// Time to first output, in ms.
    pub ttft_ms: Option<f64>,
    /// Request tags.
    pub request_tags: Vec<String>,
    /// Request metadata.
    pub metadata: JsonMap,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The request input, only when prompts are stored: compact JSON, serialised once from
    /// the typed input and written as it is by every sink (no `Value` tree in between).
    pub messages: Option<Box<RawValue>>,
    /// The response output, only when prompts are stored (compact JSON, as `messages`).
    pub response: Option<Box<RawValue>>,
    /// The client's sampling parameters.
    pub request_params: RequestParams,
    /// The answering deployment's rate limits, as its provider reported them.
    #[serde(flatten)]
    pub rate_limits: RateLimits,
}

impl RequestLog {
    /// True when the request succeeded (completed or incomplete).
    pub fn is_success(&self) -> bool {
        self.status == "success"
    }
}

/// A consumer of finished requests. `record` is called on the request's own task, often from
/// a destructor: it must return at once (hand the record to a queue, bump a counter), never
/// block or await.
pub trait LogSink: Send + Sync + 'static {
    /// Takes one finished request.
    fn record(&self, log: &Arc<RequestLog>);
}

/// The sinks a gateway fans out to, and whether the gateway is cutting what is still open
/// (records finished from then on were ended by the gateway, not by their client). Cheap to
/// clone.
#[derive(Clone)]
pub struct Sinks {
    /// Read by every finished request, changed only when a sink is added: swapped whole, so
    /// that reading takes no lock.
    inner: Arc<ArcSwap<Vec<Arc<dyn LogSink>>>>,
    cutting: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Sinks {
    fn default() -> Self {
        Sinks {
            inner: Arc::default(),
            cutting: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inner.load().len();
        f.debug_struct("Sinks").field("count", &n).finish()
    }
}

impl Sinks {
    /// Adds a sink; every request finished from now on reaches it.
    pub fn add(&self, sink: Arc<dyn LogSink>) {
        self.inner.rcu(|sinks| {
            let mut sinks = Vec::clone(sinks);
            sinks.push(sink.clone());
            sinks
        });
    }

    /// The gateway is shutting down and cuts every request still open: streams end with
    /// `response.failed`, and records finished from now on say the gateway ended them.
    pub fn cut_open_requests(&self) {
        self.cutting.send_replace(true);
    }

    /// True once [`Sinks::cut_open_requests`] was called.
    pub fn is_cutting(&self) -> bool {
        *self.cutting.borrow()
    }

    /// Resolves once [`Sinks::cut_open_requests`] is called (at once if it was).
    pub fn cut(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut cutting = self.cutting.subscribe();
        async move {
            let _ = cutting.wait_for(|cut| *cut).await;
        }
    }

    /// Hands `log` to every sink.
    pub fn emit(&self, log: RequestLog) {
        let sinks = self.inner.load();
        if sinks.is_empty() {
            return;
        }
        let log = Arc::new(log);
        for sink in sinks.iter() {
            sink.record(&log);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn rate_limits_are_read_from_openai_and_anthropic_headers() {
        let openai = headers(&[
            ("x-ratelimit-limit-requests", "10000"),
            ("x-ratelimit-remaining-requests", "9999"),
            ("x-ratelimit-remaining-tokens", " 29999000 "),
        ]);
        assert_eq!(
            RateLimits::from_headers(&openai),
            RateLimits {
                remaining_requests: Some(9999),
                remaining_tokens: Some(29_999_000)
            }
        );
        let anthropic = headers(&[
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-tokens-remaining", "79000"),
            ("anthropic-ratelimit-tokens-reset", "2026-11-24T20:00:01Z"),
        ]);
        assert_eq!(
            RateLimits::from_headers(&anthropic),
            RateLimits {
                remaining_requests: Some(49),
                remaining_tokens: Some(79_000)
            }
        );
        // Absent or unreadable values are unknown, never zero.
        let odd = headers(&[("x-ratelimit-remaining-requests", "lots")]);
        assert_eq!(RateLimits::from_headers(&odd), RateLimits::default());
        let log = serde_json::to_value(RequestLog::default()).unwrap();
        assert!(log.get("remaining_requests").is_none());
    }
}
