//! Logging callbacks end to end: `/metrics` read by a Prometheus text parser, OTLP spans
//! decoded by a real OTLP/HTTP receiver, webhook batches received (and retried) by a test
//! server; redaction checked in what they receive.
//!
//! Settings are passed in code (never through process environment variables), so tests run
//! in parallel without leaking configuration into each other.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use switchyard::Config;
use switchyard::config::Env;
use switchyard_mock::MockServer;
use switchyard_server::observability::otlp::{OtlpOptions, Protocol};
use switchyard_server::observability::webhook::WebhookOptions;
use switchyard_server::observability::{
    Callback, CallbackKind, Observability, ObservabilityOptions, Scope,
};
use switchyard_server::{AppState, app};

use crate::common::{Harness, KEY, UPSTREAM_KEY};

const IN: f64 = 1e-6;
const OUT: f64 = 2e-6;
const CACHE_READ: f64 = 1e-7;
const REASONING: f64 = 3e-6;

/// usage=100,50,40,20: 60 uncached + 40 cached in; 30 text + 20 reasoning out.
const USAGE: &str = "[[mock:usage=100,50,40,20]] hello there";
fn usage_cost() -> f64 {
    60.0 * IN + 40.0 * CACHE_READ + 30.0 * OUT + 20.0 * REASONING
}

fn config(mock: &str, extra: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: passthrough
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}, rpm: 600, input_cost_per_token: {IN}, output_cost_per_token: {OUT}, cache_read_input_token_cost: {CACHE_READ}, output_cost_per_reasoning_token: {REASONING}}}
    model_info: {{id: pass-1}}
  - model_name: bridged
    litellm_params: {{model: hosted_vllm/mock-llama, api_base: "{mock}/vllm/v1"}}
    model_info: {{id: vllm-1}}
router_settings: {{num_retries: 0}}
general_settings: {{master_key: {KEY}}}
{extra}
"#
    )
}

/// A proxy with `callbacks` in front of a mock upstream.
async fn start(
    extra: &str,
    tweak: impl FnOnce(&mut ObservabilityOptions),
) -> (Harness, Arc<Observability>) {
    let mock = MockServer::start().await;
    let yaml = config(&mock.url(), extra);
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).expect("config");
    let (gateway, _) = switchyard::Gateway::from_config(&config).expect("gateway");
    // The settings the config names (no environment variables needed for prometheus), then
    // what the test adds in code.
    let (mut options, _warnings) = ObservabilityOptions::from_config(&config);
    tweak(&mut options);
    let observability = Arc::new(Observability::start(options).expect("callbacks"));
    let state = AppState::new(
        gateway,
        config.master_key.clone(),
        AppState::default_max_body(),
    )
    .with_observability(observability.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    let harness = Harness {
        mock,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
    };
    (harness, observability)
}

// ---------------------------------------------------------------------------------------
// A receiver for webhooks and OTLP: records every POST, answers with scripted statuses.

#[derive(Clone, Default)]
struct Receiver {
    posts: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Statuses for the next POSTs (then 200).
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        async fn take(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
            r.posts.lock().unwrap().push((headers, body));
            let mut script = r.script.lock().unwrap();
            let status = if script.is_empty() {
                200
            } else {
                script.remove(0)
            };
            StatusCode::from_u16(status).unwrap()
        }
        let router = Router::new()
            .route("/hook", post(take))
            .route("/v1/traces", post(take))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (receiver, format!("http://{addr}"))
    }

    fn posts(&self) -> Vec<(HeaderMap, Bytes)> {
        self.posts.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received (at most 15 s).
    async fn wait_for(
        &self,
        done: impl Fn(&[(HeaderMap, Bytes)]) -> bool,
    ) -> Vec<(HeaderMap, Bytes)> {
        let until = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let posts = self.posts();
            if done(&posts) || tokio::time::Instant::now() > until {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn fast(batch: &mut switchyard_server::observability::batch::BatchOptions) {
    batch.flush_interval = Duration::from_millis(50);
    batch.first_backoff = Duration::from_millis(20);
}

fn webhook(url: &str, scope: Scope) -> Callback {
    let mut options = WebhookOptions::new(format!("{url}/hook"));
    fast(&mut options.batch);
    options
        .batch
        .headers
        .insert("authorization", "Bearer hook-secret".parse().unwrap());
    Callback {
        name: "generic_api".into(),
        kind: CallbackKind::Webhook(options),
        scope,
    }
}

fn records(posts: &[(HeaderMap, Bytes)]) -> Vec<Value> {
    posts
        .iter()
        .flat_map(|(_, body)| {
            serde_json::from_slice::<Value>(body)
                .unwrap()
                .as_array()
                .cloned()
                .unwrap()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Prometheus

fn scrape(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The sum of the samples named `metric` whose labels include `labels`.
fn sum(s: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            other => panic!("{metric}: unexpected {other:?}"),
        })
        .sum()
}

async fn metrics(h: &Harness, key: Option<&str>) -> (u16, String) {
    let mut request = h.client.get(format!("{}/metrics", h.base));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn metrics_count_requests_failures_tokens_spend_and_latency() {
    let (h, _o) = start("litellm_settings: {callbacks: [prometheus]}", |_| {}).await;
    // One plain success, one streamed success, one upstream failure (400: not the
    // deployment's fault), one request refused before any deployment (unknown model).
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": USAGE}))
        .await;
    assert_eq!(status, 200);
    let (status, events) = h
        .stream(json!({"model": "passthrough", "input": USAGE, "user": "cust-1"}))
        .await;
    assert_eq!(status, 200);
    assert!(!events.is_empty());
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "x [[mock:error=400]]"}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = h.call(json!({"model": "nope", "input": "x"})).await;
    assert_eq!(status, 404);

    // Behind the master key by default.
    assert_eq!(metrics(&h, None).await.0, 401);
    assert_eq!(metrics(&h, Some("sk-wrong")).await.0, 401);
    let (status, text) = metrics(&h, Some(KEY)).await;
    assert_eq!(status, 200, "{text}");
    let s = scrape(&text);
    let key = sha256_hex(KEY);
    let pass = [("requested_model", "passthrough")];

    assert_eq!(
        sum(&s, "litellm_proxy_total_requests_metric_total", &[]),
        4.0
    );
    assert_eq!(
        sum(
            &s,
            "litellm_proxy_total_requests_metric_total",
            &[
                ("status_code", "200"),
                ("hashed_api_key", &key),
                ("model_id", "pass-1"),
                ("route", "/v1/responses")
            ]
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        sum(&s, "litellm_proxy_failed_requests_metric_total", &[]),
        2.0
    );
    assert_eq!(
        sum(
            &s,
            "litellm_proxy_failed_requests_metric_total",
            &[
                ("exception_status", "400"),
                ("exception_class", "invalid_request_error")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sum(
            &s,
            "litellm_proxy_failed_requests_metric_total",
            // Models nothing serves share one label value (their names are the client's).
            &[("exception_status", "404"), ("requested_model", "unknown")]
        ),
        1.0
    );
    // Tokens and spend: both successes carry usage=100,50,40,20; the failure none.
    let m = [("model", "gpt-mock"), ("model_id", "pass-1")];
    assert_eq!(sum(&s, "litellm_input_tokens_metric_total", &m), 200.0);
    assert_eq!(sum(&s, "litellm_output_tokens_metric_total", &m), 100.0);
    assert_eq!(sum(&s, "litellm_total_tokens_metric_total", &pass), 300.0);
    assert_eq!(sum(&s, "litellm_cached_tokens_metric_total", &m), 80.0);
    assert_eq!(
        sum(&s, "switchyard_reasoning_tokens_metric_total", &m),
        40.0
    );
    assert_eq!(
        sum(
            &s,
            "litellm_input_tokens_metric_total",
            &[("end_user", "cust-1")]
        ),
        100.0
    );
    let spend = sum(&s, "litellm_spend_metric_total", &m);
    assert!((spend - 2.0 * usage_cost()).abs() < 1e-12, "{spend}");
    assert_eq!(sum(&s, "litellm_requests_metric_total", &m), 3.0);
    // Latency: every request that reached a deployment; upstream latency of the successes;
    // time to first token of the stream only.
    assert_eq!(
        sum(&s, "litellm_request_total_latency_metric_count", &pass),
        3.0
    );
    assert_eq!(sum(&s, "litellm_llm_api_latency_metric_count", &pass), 2.0);
    assert_eq!(
        sum(
            &s,
            "litellm_llm_api_time_to_first_token_metric_count",
            &pass
        ),
        1.0
    );
    assert!(sum(&s, "litellm_request_total_latency_metric_sum", &pass) > 0.0);
    // Deployments.
    let dep = [("model_id", "pass-1"), ("api_provider", "openai")];
    assert_eq!(
        sum(&s, "litellm_deployment_total_requests_total", &dep),
        3.0
    );
    assert_eq!(
        sum(&s, "litellm_deployment_success_responses_total", &dep),
        2.0
    );
    assert_eq!(
        sum(
            &s,
            "litellm_deployment_failure_responses_total",
            &[("model_id", "pass-1"), ("exception_status", "400")]
        ),
        1.0
    );
    // A 400 says nothing about the deployment: still healthy. Every deployment is listed.
    assert_eq!(
        sum(&s, "litellm_deployment_state", &[("model_id", "pass-1")]),
        0.0
    );
    assert!(
        s.samples
            .iter()
            .any(|x| x.metric == "litellm_deployment_state"
                && x.labels.get("model_id") == Some("vllm-1")
                && x.labels.get("litellm_model_name") == Some("mock-llama"))
    );
    assert_eq!(
        sum(
            &s,
            "litellm_deployment_rpm_limit",
            &[("model_id", "pass-1")]
        ),
        600.0
    );
    assert_eq!(sum(&s, "litellm_in_flight_requests", &[]), 0.0);
}

#[tokio::test]
async fn remaining_rate_limits_follow_the_providers_headers() {
    let (h, _o) = start("litellm_settings: {callbacks: [prometheus]}", |_| {}).await;
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "hi [[mock:remaining=42,9000]]"}))
        .await;
    assert_eq!(status, 200);
    let s = scrape(&metrics(&h, Some(KEY)).await.1);
    let labels = [
        ("model_group", "passthrough"),
        ("api_provider", "openai"),
        ("litellm_model_name", "gpt-mock"),
    ];
    assert_eq!(sum(&s, "litellm_remaining_requests_metric", &labels), 42.0);
    assert_eq!(sum(&s, "litellm_remaining_tokens_metric", &labels), 9000.0);
    // A gauge: the latest answer (here a stream) replaces the value.
    let (status, _) = h
        .stream(json!({"model": "passthrough", "input": "hi [[mock:remaining=41,8000]]"}))
        .await;
    assert_eq!(status, 200);
    let s = scrape(&metrics(&h, Some(KEY)).await.1);
    assert_eq!(sum(&s, "litellm_remaining_requests_metric", &labels), 41.0);
    assert_eq!(sum(&s, "litellm_remaining_tokens_metric", &labels), 8000.0);
    // A 429 says most: nothing left.
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "x [[mock:error=429]]"}))
        .await;
    assert_eq!(status, 429);
    let s = scrape(&metrics(&h, Some(KEY)).await.1);
    assert_eq!(sum(&s, "litellm_remaining_requests_metric", &labels), 0.0);
    // A server that sends no rate-limit headers (vLLM) gets no series rather than a zero.
    let (status, _) = h.call(json!({"model": "bridged", "input": "hi"})).await;
    assert_eq!(status, 200);
    let s = scrape(&metrics(&h, Some(KEY)).await.1);
    assert!(
        !s.samples
            .iter()
            .any(|x| x.metric.starts_with("litellm_remaining_")
                && x.labels.get("model_group") == Some("bridged")),
        "no series for a deployment without rate-limit headers"
    );
}

#[tokio::test]
async fn deployment_state_shows_an_outage_after_upstream_failures() {
    let (h, _o) = start("litellm_settings: {callbacks: [prometheus]}", |_| {}).await;
    let (status, _) = h
        .call(json!({"model": "bridged", "input": "x [[mock:error=500]]"}))
        .await;
    assert!(status >= 500, "{status}");
    let s = scrape(&metrics(&h, Some(KEY)).await.1);
    let state = sum(&s, "litellm_deployment_state", &[("model_id", "vllm-1")]);
    // 1 (partial outage) after a failure, 2 once cooling down.
    assert!(state == 1.0 || state == 2.0, "{state}");
    assert_eq!(
        sum(&s, "litellm_deployment_state", &[("model_id", "pass-1")]),
        0.0
    );
    assert_eq!(
        sum(
            &s,
            "litellm_deployment_failure_responses_total",
            &[("model_id", "vllm-1"), ("exception_class", "server_error")]
        ),
        1.0
    );
}

#[tokio::test]
async fn metrics_can_be_opened_and_are_absent_without_the_callback() {
    let (h, _o) = start(
        "litellm_settings: {callbacks: [prometheus], require_auth_for_metrics_endpoint: false}",
        |_| {},
    )
    .await;
    let (status, text) = metrics(&h, None).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("# TYPE litellm_deployment_state gauge"),
        "{text}"
    );

    let (h, _o) = start("", |_| {}).await;
    assert_eq!(metrics(&h, Some(KEY)).await.0, 404);
}

// ---------------------------------------------------------------------------------------
// OTLP

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attr_str<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn attr_int(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(any_value::Value::IntValue(n)) => Some(*n),
        _ => None,
    }
}

fn otel(url: &str, protocol: Protocol) -> Callback {
    let mut options = OtlpOptions::new(format!("{url}/v1/traces"), "swy-test");
    options.protocol = protocol;
    fast(&mut options.batch);
    options
        .batch
        .headers
        .insert("x-tenant", "acme".parse().unwrap());
    Callback {
        name: "otel".into(),
        kind: CallbackKind::Otel(options),
        scope: Scope::All,
    }
}

#[tokio::test]
async fn otlp_spans_carry_genai_attributes_and_error_status() {
    let (receiver, url) = Receiver::start().await;
    let (h, _o) = start("", |o| o.callbacks.push(otel(&url, Protocol::Protobuf))).await;
    let (status, body) = h
        .call(
            json!({"model": "passthrough", "input": USAGE, "temperature": 0.25,
                     "top_p": 0.5, "max_output_tokens": 300}),
        )
        .await;
    assert_eq!(status, 200);
    let response_id = body["id"].as_str().unwrap().to_string();
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "x [[mock:error=429]]"}))
        .await;
    assert_eq!(status, 429);

    let count = |posts: &[(HeaderMap, Bytes)]| -> usize {
        posts
            .iter()
            .map(|(_, b)| {
                ExportTraceServiceRequest::decode(b.as_ref())
                    .unwrap()
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum::<usize>()
            })
            .sum()
    };
    let posts = receiver.wait_for(|p| count(p) >= 2).await;
    assert_eq!(count(&posts), 2);
    let (headers, _) = &posts[0];
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["x-tenant"], "acme");
    let mut spans = Vec::new();
    for (_, body) in &posts {
        let request = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
        for rs in request.resource_spans {
            let resource = rs.resource.unwrap();
            assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
                && kv.value.as_ref().and_then(|v| v.value.as_ref())
                    == Some(&any_value::Value::StringValue("swy-test".into()))));
            for ss in rs.scope_spans {
                assert_eq!(ss.scope.unwrap().name, "switchyard");
                spans.extend(ss.spans);
            }
        }
    }
    let ok = spans
        .iter()
        .find(|s| attr_str(s, "gen_ai.response.id") == Some(response_id.as_str()))
        .expect("the success span");
    assert_eq!(ok.name, "chat gpt-mock");
    assert_eq!(ok.kind, 3, "SPAN_KIND_CLIENT");
    assert_eq!(ok.trace_id.len(), 16);
    assert_eq!(ok.span_id.len(), 8);
    assert!(ok.end_time_unix_nano > ok.start_time_unix_nano);
    assert!(ok.start_time_unix_nano > 1_600_000_000_000_000_000);
    assert_eq!(attr_str(ok, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(attr_str(ok, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(attr_str(ok, "gen_ai.system"), Some("openai"));
    assert_eq!(attr_str(ok, "gen_ai.request.model"), Some("gpt-mock"));
    assert!(attr_str(ok, "gen_ai.response.model").is_some());
    assert_eq!(
        attr(ok, "gen_ai.request.temperature"),
        Some(&any_value::Value::DoubleValue(0.25))
    );
    assert_eq!(
        attr(ok, "gen_ai.request.top_p"),
        Some(&any_value::Value::DoubleValue(0.5))
    );
    assert_eq!(attr_int(ok, "gen_ai.request.max_tokens"), Some(300));
    assert_eq!(attr_int(ok, "gen_ai.usage.input_tokens"), Some(100));
    assert_eq!(attr_int(ok, "gen_ai.usage.output_tokens"), Some(50));
    assert_eq!(
        attr_int(ok, "gen_ai.usage.cache_read.input_tokens"),
        Some(40)
    );
    assert_eq!(attr_int(ok, "switchyard.usage.reasoning_tokens"), Some(20));
    assert_eq!(attr_str(ok, "switchyard.model_group"), Some("passthrough"));
    assert_eq!(attr_str(ok, "switchyard.deployment_id"), Some("pass-1"));
    assert_eq!(attr_str(ok, "server.address"), Some("127.0.0.1"));
    assert_eq!(attr_int(ok, "http.response.status_code"), Some(200));
    assert_eq!(ok.status.as_ref().unwrap().code, 0, "unset on success");
    // Message logging is on by default for otel: the input and output are on the span.
    assert!(
        attr_str(ok, "gen_ai.input.messages")
            .unwrap()
            .contains("hello there")
    );
    assert!(attr_str(ok, "gen_ai.output.messages").is_some());

    let failed = spans
        .iter()
        .find(|s| attr_int(s, "http.response.status_code") == Some(429))
        .expect("the failure span");
    let status = failed.status.as_ref().unwrap();
    assert_eq!(status.code, 2, "STATUS_CODE_ERROR");
    assert!(!status.message.is_empty());
    assert!(attr_str(failed, "error.type").is_some());
    assert!(attr_int(failed, "gen_ai.usage.input_tokens").is_none());
}

#[tokio::test]
async fn otlp_http_json_is_spec_shaped() {
    let (receiver, url) = Receiver::start().await;
    let (h, _o) = start("", |o| o.callbacks.push(otel(&url, Protocol::Json))).await;
    let (status, _) = h.call(json!({"model": "bridged", "input": "hi"})).await;
    assert_eq!(status, 200);
    let posts = receiver.wait_for(|p| !p.is_empty()).await;
    let (headers, body) = &posts[0];
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(body).unwrap();
    let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    // OTLP/JSON: lowerCamelCase names, ids as hex strings, enums as integers.
    let trace_id = span["traceId"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert!(trace_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
    assert_eq!(span["kind"], 3);
    assert!(span["startTimeUnixNano"].is_string() || span["startTimeUnixNano"].is_u64());
    let attrs = span["attributes"].as_array().unwrap();
    assert!(
        attrs.iter().any(
            |a| a["key"] == "gen_ai.request.model" && a["value"]["stringValue"] == "mock-llama"
        )
    );
    // And a receiver reading OTLP/JSON gets the same span back.
    let decoded: ExportTraceServiceRequest = serde_json::from_slice(body).unwrap();
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Webhooks

#[tokio::test]
async fn webhook_batches_are_retried_after_a_server_error() {
    let (receiver, url) = Receiver::start().await;
    receiver.script.lock().unwrap().push(500);
    let (h, _o) = start("", |o| o.callbacks.push(webhook(&url, Scope::All))).await;
    for _ in 0..3 {
        let (status, _) = h
            .call(json!({"model": "passthrough", "input": USAGE}))
            .await;
        assert_eq!(status, 200);
    }
    let posts = receiver
        .wait_for(|p| p.len() >= 2 && records(&p[1..]).len() >= 3)
        .await;
    // The first POST got a 500; its records came again, none lost or doubled afterwards.
    let first: Vec<Value> = records(&posts[..1]);
    let after: Vec<Value> = records(&posts[1..]);
    assert!(!first.is_empty());
    let ids = |rs: &[Value]| -> Vec<String> {
        rs.iter()
            .map(|r| r["request_id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut later_ids = ids(&after);
    for id in ids(&first) {
        assert!(later_ids.contains(&id), "{id} was not retried");
    }
    later_ids.sort();
    later_ids.dedup();
    assert_eq!(later_ids.len(), 3);
    assert_eq!(after.len(), 3, "no record sent twice after success");
    let (headers, _) = &posts[1];
    assert_eq!(headers["authorization"], "Bearer hook-secret");
    assert_eq!(headers["content-type"], "application/json");
    // The documented payload.
    let r = &after[0];
    assert_eq!(r["call_type"], "responses");
    assert_eq!(r["model_group"], "passthrough");
    assert_eq!(r["model"], "gpt-mock");
    assert_eq!(r["deployment_id"], "pass-1");
    assert_eq!(r["status"], "success");
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["http_status"], 200);
    assert_eq!(r["usage"]["input_tokens"], 100);
    assert_eq!(r["usage"]["cached_tokens"], 40);
    assert_eq!(r["usage"]["reasoning_tokens"], 20);
    assert!((r["cost"].as_f64().unwrap() - usage_cost()).abs() < 1e-12);
    assert_eq!(r["api_key_hash"], sha256_hex(KEY));
    assert!(r["response_id"].as_str().unwrap().starts_with("resp_"));
    assert!(r["messages"].to_string().contains("hello there"), "{r}");
    assert!(r["response"].is_array(), "{r}");
}

#[tokio::test]
async fn success_and_failure_callbacks_get_only_their_requests() {
    let (ok_receiver, ok_url) = Receiver::start().await;
    let (fail_receiver, fail_url) = Receiver::start().await;
    let (h, _o) = start("", |o| {
        o.callbacks.push(webhook(&ok_url, Scope::Success));
        o.callbacks.push(webhook(&fail_url, Scope::Failure));
    })
    .await;
    assert_eq!(
        h.call(json!({"model": "passthrough", "input": "hi"}))
            .await
            .0,
        200
    );
    assert_eq!(
        h.call(json!({"model": "passthrough", "input": "x [[mock:error=401]]"}))
            .await
            .0,
        401
    );
    let ok = records(&ok_receiver.wait_for(|p| !p.is_empty()).await);
    let failed = records(&fail_receiver.wait_for(|p| !p.is_empty()).await);
    // Give stragglers a moment: nothing else may arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(records(&ok_receiver.posts()).len(), 1);
    assert_eq!(records(&fail_receiver.posts()).len(), 1);
    assert_eq!(ok[0]["status"], "success");
    assert_eq!(failed[0]["status"], "failure");
    assert_eq!(failed[0]["http_status"], 401);
    assert_eq!(failed[0]["outcome"], "error");
}

#[tokio::test]
async fn message_logging_off_and_user_redaction_reach_the_payload() {
    let (receiver, url) = Receiver::start().await;
    let (h, _o) = start(
        "litellm_settings: {turn_off_message_logging: true, redact_user_api_key_info: true}",
        |o| o.callbacks.push(webhook(&url, Scope::All)),
    )
    .await;
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "secret prompt text", "user": "cust-9"}))
        .await;
    assert_eq!(status, 200);
    let posts = receiver.wait_for(|p| !p.is_empty()).await;
    let r = &records(&posts)[0];
    assert!(r["messages"].is_null(), "{r}");
    assert!(r["response"].is_null(), "{r}");
    assert!(r["api_key_hash"].is_null(), "{r}");
    assert!(r["end_user"].is_null(), "{r}");
    assert!(r["client_ip"].is_null(), "{r}");
    let raw = String::from_utf8_lossy(&posts[0].1);
    assert!(!raw.contains("secret prompt"), "{raw}");
    assert!(!raw.contains(&sha256_hex(KEY)), "{raw}");
    assert!(!raw.contains("cust-9"), "{raw}");
    // What stays: the accounting facts.
    assert_eq!(r["model_group"], "passthrough");
    assert_eq!(r["status"], "success");
}

#[tokio::test]
async fn shutdown_sends_what_is_queued() {
    let (receiver, url) = Receiver::start().await;
    let (h, observability) = start("", |o| {
        let mut hook = webhook(&url, Scope::All);
        if let CallbackKind::Webhook(w) = &mut hook.kind {
            // A batch that would otherwise wait a minute.
            w.batch.flush_interval = Duration::from_secs(60);
        }
        o.callbacks.push(hook);
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            h.call(json!({"model": "bridged", "input": "hi"})).await.0,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.posts().is_empty());
    observability.shutdown(Duration::from_secs(10)).await;
    assert_eq!(records(&receiver.posts()).len(), 2);
}
