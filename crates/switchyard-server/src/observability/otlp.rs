//! The `otel` callback: one OpenTelemetry span per request, with the GenAI semantic-convention
//! attributes, exported over OTLP/HTTP (`http/protobuf` or `http/json`).
//!
//! Why not the OpenTelemetry SDK and `opentelemetry-otlp`: a span here is written after the
//! fact from the finished [`RequestLog`] (start and end times included), so there is no live
//! span or context to manage; the SDK's batch processor runs on its own thread, which cannot
//! drive the async reqwest client the gateway already has without extra runtime features;
//! and its HTTP exporter brings a second HTTP stack. `opentelemetry-proto` gives the exact
//! OTLP messages; prost encodes them; the shared batch exporter ([`super::batch`]) queues,
//! batches, retries and flushes on shutdown like the webhook does.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;
use switchyard::accounting::RequestLog;
use switchyard::config::Env;

use super::batch::{BatchOptions, Encoder};

/// The OTLP/HTTP default when no endpoint is set (the specification's).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// The wire encoding of the export requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf` (the default).
    Protobuf,
    /// `http/json`.
    Json,
}

/// Where and how spans go.
#[derive(Debug, Clone)]
pub struct OtlpOptions {
    /// The traces URL (`…/v1/traces`), headers, batching and retries.
    pub batch: BatchOptions,
    /// The encoding.
    pub protocol: Protocol,
    /// Resource attributes; `service.name` among them.
    pub resource: Vec<(String, String)>,
}

impl OtlpOptions {
    /// Spans for `service_name` to the full traces URL `traces_url`, as protobuf.
    pub fn new(traces_url: impl Into<String>, service_name: &str) -> OtlpOptions {
        OtlpOptions {
            batch: BatchOptions::new(traces_url),
            protocol: Protocol::Protobuf,
            resource: vec![("service.name".into(), service_name.into())],
        }
    }

    /// The settings of the standard variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as
    /// is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`), default `http://localhost:4318`;
    /// `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` (`name=value,…`, values percent-decoded);
    /// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (`http/protobuf` or `http/json`; `grpc` is
    /// refused); `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else
    /// `switchyard`.
    pub fn from_env(env: &Env) -> Result<OtlpOptions, String> {
        let url = match env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(url) => url,
            None => {
                let base = env
                    .get("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
        };
        let protocol = match env
            .first(&[
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ])
            .as_deref()
            .map(str::trim)
        {
            None | Some("http/protobuf") => Protocol::Protobuf,
            Some("http/json") => Protocol::Json,
            Some(other) => {
                return Err(format!(
                    "OTLP protocol {other:?} is not supported: use http/protobuf or http/json"
                ));
            }
        };
        let mut resource: Vec<(String, String)> = Vec::new();
        if let Some(attrs) = env.get("OTEL_RESOURCE_ATTRIBUTES") {
            for (k, v) in pairs(&attrs, "OTEL_RESOURCE_ATTRIBUTES")? {
                resource.push((k, v));
            }
        }
        let service = env.get("OTEL_SERVICE_NAME").or_else(|| {
            resource
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        });
        resource.retain(|(k, _)| k != "service.name");
        resource.insert(
            0,
            (
                "service.name".into(),
                service.unwrap_or_else(|| "switchyard".into()),
            ),
        );
        let mut options = OtlpOptions {
            batch: BatchOptions::new(url),
            protocol,
            resource,
        };
        // Signal-specific headers override the general ones of the same name.
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(headers) = env.get(var) {
                for (name, value) in pairs(&headers, var)? {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("{var}: {name:?} is not a header name"))?;
                    let mut value = HeaderValue::from_str(&value).map_err(|_| {
                        format!("{var}: the value of {name} is not a valid header value")
                    })?;
                    value.set_sensitive(true);
                    options.batch.headers.insert(name, value);
                }
            }
        }
        Ok(options)
    }

    /// The encoder of these options.
    pub fn encoder(&self) -> SpanEncoder {
        SpanEncoder {
            protocol: self.protocol,
            resource: self.resource.clone(),
        }
    }
}

/// The W3C-baggage-like lists of the OTEL variables: `k=v,k2=v2`, values percent-encoded.
fn pairs(text: &str, var: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("{var} must be name=value pairs separated by commas"))?;
            Ok((k.trim().to_string(), percent_decode(v.trim())))
        })
        .collect()
}

/// Decodes `%XX` escapes (the only encoding the OTEL variables use); a malformed escape is
/// kept as written. Hand-rolled: three lines do not justify a crate.
fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Turns records into OTLP export requests.
#[derive(Debug, Clone)]
pub struct SpanEncoder {
    protocol: Protocol,
    resource: Vec<(String, String)>,
}

impl Encoder for SpanEncoder {
    fn content_type(&self) -> &'static str {
        match self.protocol {
            Protocol::Protobuf => "application/x-protobuf",
            Protocol::Json => "application/json",
        }
    }

    fn encode(&self, batch: &[Arc<RequestLog>]) -> Vec<Bytes> {
        let request = self.request(batch);
        match self.protocol {
            Protocol::Protobuf => vec![Bytes::from(request.encode_to_vec())],
            Protocol::Json => match serde_json::to_vec(&request) {
                Ok(body) => vec![Bytes::from(body)],
                Err(e) => {
                    tracing::error!("cannot encode OTLP JSON: {e}");
                    Vec::new()
                }
            },
        }
    }
}

impl SpanEncoder {
    /// The export request for `batch`: one resource, one scope, one span per record.
    pub fn request(&self, batch: &[Arc<RequestLog>]) -> ExportTraceServiceRequest {
        let resource = Resource {
            attributes: self
                .resource
                .iter()
                .map(|(k, v)| kv(k, string(v)))
                .collect(),
            ..Resource::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "switchyard".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..InstrumentationScope::default()
                    }),
                    spans: batch.iter().map(|log| span_of(log)).collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }
}

/// The GenAI `gen_ai.provider.name` (formerly `gen_ai.system`) of a provider prefix, where the
/// semantic conventions define one.
fn genai_provider(provider: &str) -> &str {
    match provider {
        "azure" => "azure.ai.openai",
        "azure_ai" => "azure.ai.inference",
        "bedrock" => "aws.bedrock",
        "gemini" => "gcp.gemini",
        "vertex_ai" | "vertex_ai_beta" => "gcp.vertex_ai",
        "mistral" => "mistral_ai",
        "xai" => "x_ai",
        "watsonx" => "ibm.watsonx.ai",
        other => other,
    }
}

/// One request as a span.
pub fn span_of(log: &RequestLog) -> Span {
    let operation = "chat";
    let model = log.model.as_deref().or(log.model_group.as_deref());
    let mut attrs = vec![kv("gen_ai.operation.name", string(operation))];
    if let Some(provider) = log.provider.as_deref() {
        let name = genai_provider(provider);
        attrs.push(kv("gen_ai.provider.name", string(name)));
        attrs.push(kv("gen_ai.system", string(name)));
    }
    let mut opt = |key: &str, value: Option<any_value::Value>| {
        if let Some(value) = value {
            attrs.push(kv(key, value));
        }
    };
    opt("gen_ai.request.model", model.map(string));
    opt(
        "gen_ai.response.model",
        log.response_model.as_deref().map(string),
    );
    opt("gen_ai.response.id", log.response_id.as_deref().map(string));
    let p = &log.request_params;
    opt("gen_ai.request.temperature", p.temperature.map(double));
    opt("gen_ai.request.top_p", p.top_p.map(double));
    opt(
        "gen_ai.request.max_tokens",
        p.max_output_tokens.map(|n| int(n as i64)),
    );
    let usage = &log.usage;
    let has_usage = log.is_success() || usage.total_tokens > 0;
    if has_usage {
        opt(
            "gen_ai.usage.input_tokens",
            Some(int(usage.input_tokens as i64)),
        );
        opt(
            "gen_ai.usage.output_tokens",
            Some(int(usage.output_tokens as i64)),
        );
        opt(
            "gen_ai.usage.cache_read.input_tokens",
            Some(int(usage.cached_tokens as i64)),
        );
        opt(
            "gen_ai.usage.cache_creation.input_tokens",
            Some(int(usage.cache_write_tokens as i64)),
        );
        opt(
            "switchyard.usage.reasoning_tokens",
            Some(int(usage.reasoning_tokens as i64)),
        );
    }
    if let Some(base) = log.api_base.as_deref()
        && let Ok(url) = reqwest::Url::parse(base)
    {
        opt("server.address", url.host_str().map(string));
        opt(
            "server.port",
            url.port_or_known_default().map(|p| int(i64::from(p))),
        );
    }
    if log.http_status > 0 {
        opt(
            "http.response.status_code",
            Some(int(i64::from(log.http_status))),
        );
    }
    if !log.is_success() {
        let error_type = log
            .error_code
            .as_deref()
            .or(log.error_class.as_deref())
            .unwrap_or(log.outcome);
        opt("error.type", Some(string(error_type)));
    }
    opt("switchyard.request_id", Some(string(&log.request_id)));
    opt(
        "switchyard.model_group",
        log.model_group.as_deref().map(string),
    );
    opt(
        "switchyard.deployment_id",
        log.deployment_id.as_deref().map(string),
    );
    opt(
        "switchyard.stream",
        Some(any_value::Value::BoolValue(log.stream)),
    );
    opt("switchyard.outcome", Some(string(log.outcome)));
    opt("switchyard.attempts", Some(int(i64::from(log.attempts))));
    opt("switchyard.cost_usd", log.cost.map(double));
    opt("switchyard.ttft_ms", log.ttft_ms.map(double));
    opt("switchyard.route", log.route.as_deref().map(string));
    opt("user.id", log.end_user.as_deref().map(string));
    opt(
        "switchyard.api_key_hash",
        log.api_key_hash.as_deref().map(string),
    );
    opt("client.address", log.client_ip.as_deref().map(string));
    if !log.request_tags.is_empty() {
        opt(
            "switchyard.request_tags",
            Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: log
                        .request_tags
                        .iter()
                        .map(|t| AnyValue {
                            value: Some(string(t)),
                        })
                        .collect(),
                },
            )),
        );
    }
    // Present only when message logging is on (the fan-out strips them otherwise).
    opt(
        "gen_ai.input.messages",
        log.messages.as_deref().map(|m| string(m.get())),
    );
    opt(
        "gen_ai.output.messages",
        log.response.as_deref().map(|m| string(m.get())),
    );

    let start = (log.start_time_ms.max(0) as u64).saturating_mul(1_000_000);
    let duration_ns = (log.duration_ms.max(0.0) * 1_000_000.0) as u64;
    let end = start.saturating_add(duration_ns);
    let status = if log.is_success() {
        Status::default()
    } else {
        Status {
            code: status::StatusCode::Error as i32,
            message: log
                .error_code
                .clone()
                .or_else(|| log.error_class.clone())
                .unwrap_or_else(|| log.outcome.to_string()),
        }
    };
    Span {
        trace_id: random_id(16),
        span_id: random_id(8),
        name: match model {
            Some(model) => format!("{operation} {model}"),
            None => operation.to_string(),
        },
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attrs,
        status: Some(status),
        ..Span::default()
    }
}

fn random_id(len: usize) -> Vec<u8> {
    // Ids must not be all zero (invalid in OTLP).
    loop {
        let id: Vec<u8> = (0..len).map(|_| fastrand::u8(..)).collect();
        if id.iter().any(|b| *b != 0) {
            return id;
        }
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_string())
}

fn int(n: i64) -> any_value::Value {
    any_value::Value::IntValue(n)
}

fn double(x: f64) -> any_value::Value {
    any_value::Value::DoubleValue(x)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::with_overlay(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn reads_the_standard_variables() {
        let o = OtlpOptions::from_env(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20abc,x-tenant=t1",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=t2"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_SERVICE_NAME", "gw"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored,env=prod"),
        ]))
        .unwrap();
        assert_eq!(o.batch.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(o.batch.headers["authorization"], "Bearer abc");
        assert_eq!(o.batch.headers["x-tenant"], "t2");
        assert_eq!(o.protocol, Protocol::Json);
        assert_eq!(
            o.resource,
            [
                ("service.name".to_string(), "gw".to_string()),
                ("env".to_string(), "prod".to_string())
            ]
        );
        let o = OtlpOptions::from_env(&env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://x/custom",
        )]))
        .unwrap();
        assert_eq!(o.batch.endpoint, "https://x/custom");
        assert_eq!(o.protocol, Protocol::Protobuf);
        let grpc = OtlpOptions::from_env(&env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]));
        assert!(grpc.unwrap_err().contains("grpc"));
        assert_eq!(percent_decode("a%2Cb%zz%4"), "a,b%zz%4");
    }
}
