//! The `generic_api` callback: batches of [`RequestLog`] JSON POSTed to an HTTP endpoint.
//!
//! Configured as LiteLLM configures it: the callback name `generic_api` with
//! `GENERIC_LOGGER_ENDPOINT` and `GENERIC_LOGGER_HEADERS` (`Name=value,Name2=value2`), or any
//! callback name with a `callback_settings.<name>` entry of `callback_type: generic_api`
//! (`endpoint`, `headers`, `event_types`, `log_format`, `batch_size`, `flush_interval`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use switchyard::accounting::RequestLog;
use switchyard::config::Env;
use switchyard_types::JsonMap;

use super::Scope;
use super::batch::{BatchOptions, Encoder};

/// How records are laid out in a POST body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// A JSON array of records per batch (the default).
    JsonArray,
    /// One record per line.
    Ndjson,
    /// One POST per record, the record itself.
    Single,
}

/// A webhook's settings.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Endpoint, headers, batching and retries.
    pub batch: BatchOptions,
    /// Body layout.
    pub format: LogFormat,
    /// Which requests it receives (from `event_types`).
    pub events: Scope,
}

impl WebhookOptions {
    /// A webhook to `endpoint` with the defaults.
    pub fn new(endpoint: impl Into<String>) -> WebhookOptions {
        WebhookOptions {
            batch: BatchOptions::new(endpoint),
            format: LogFormat::JsonArray,
            events: Scope::All,
        }
    }

    /// The `generic_api` callback configured by environment variables.
    pub fn from_env(env: &Env) -> Result<WebhookOptions, String> {
        let endpoint = env.get("GENERIC_LOGGER_ENDPOINT").ok_or(
            "the generic_api callback needs GENERIC_LOGGER_ENDPOINT (or a callback_settings \
             entry with callback_type: generic_api)",
        )?;
        let mut options = WebhookOptions::new(endpoint);
        if let Some(headers) = env.get("GENERIC_LOGGER_HEADERS") {
            for pair in headers.split(',').filter(|p| !p.trim().is_empty()) {
                let (name, value) = pair
                    .split_once('=')
                    .ok_or("GENERIC_LOGGER_HEADERS must be Name=value pairs separated by commas")?;
                add_header(
                    &mut options.batch.headers,
                    name,
                    value,
                    "GENERIC_LOGGER_HEADERS",
                )?;
            }
        }
        Ok(options)
    }

    /// A `callback_settings.<name>` entry of `callback_type: generic_api`.
    pub fn from_settings(name: &str, settings: &JsonMap) -> Result<WebhookOptions, String> {
        let path = format!("callback_settings.{name}");
        let endpoint = settings
            .get("endpoint")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| format!("{path}.endpoint is required for a generic_api callback"))?;
        let mut options = WebhookOptions::new(endpoint);
        match settings.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(headers)) => {
                for (header, value) in headers {
                    let value = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    add_header(
                        &mut options.batch.headers,
                        header,
                        &value,
                        &format!("{path}.headers"),
                    )?;
                }
            }
            Some(_) => return Err(format!("{path}.headers must be a mapping")),
        }
        if let Some(events) = settings.get("event_types").filter(|v| !v.is_null()) {
            let names: Vec<&str> = events
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let success = names.contains(&"llm_api_success");
            let failure = names.contains(&"llm_api_failure");
            options.events = match (success, failure) {
                (true, false) => Scope::Success,
                (false, true) => Scope::Failure,
                (true, true) => Scope::All,
                (false, false) => {
                    return Err(format!(
                        "{path}.event_types must list llm_api_success and/or llm_api_failure"
                    ));
                }
            };
        }
        match settings.get("log_format").and_then(Value::as_str) {
            None | Some("json_array") => {}
            Some("ndjson") => options.format = LogFormat::Ndjson,
            Some("single") => options.format = LogFormat::Single,
            Some(other) => {
                return Err(format!(
                    "{path}.log_format {other:?} is not one of json_array, ndjson, single"
                ));
            }
        }
        if let Some(size) = settings.get("batch_size").and_then(number) {
            options.batch.batch_size = (size as usize).max(1);
        }
        if let Some(secs) = settings.get("flush_interval").and_then(number) {
            options.batch.flush_interval = Duration::from_secs_f64(secs.max(0.0));
        }
        Ok(options)
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn add_header(headers: &mut HeaderMap, name: &str, value: &str, path: &str) -> Result<(), String> {
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{path}: {:?} is not a header name", name.trim()))?;
    // The value may be a credential: never repeat it in a message.
    let mut value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("{path}: the value of {name} is not a valid header value"))?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

/// Encodes records as the documented JSON payload.
#[derive(Debug)]
pub struct JsonEncoder {
    /// The body layout.
    pub format: LogFormat,
}

impl Encoder for JsonEncoder {
    fn content_type(&self) -> &'static str {
        match self.format {
            LogFormat::Ndjson => "application/x-ndjson",
            _ => "application/json",
        }
    }

    fn encode(&self, batch: &[Arc<RequestLog>]) -> Vec<Bytes> {
        let records: Vec<&RequestLog> = batch.iter().map(|l| l.as_ref()).collect();
        let encoded = match self.format {
            LogFormat::JsonArray => serde_json::to_vec(&records).map(|b| vec![Bytes::from(b)]),
            LogFormat::Ndjson => {
                let mut body = Vec::new();
                let mut result = Ok(());
                for record in &records {
                    if let Err(e) = serde_json::to_writer(&mut body, record) {
                        result = Err(e);
                        break;
                    }
                    body.push(b'\n');
                }
                result.map(|()| vec![Bytes::from(body)])
            }
            LogFormat::Single => records
                .iter()
                .map(|r| serde_json::to_vec(r).map(Bytes::from))
                .collect(),
        };
        match encoded {
            Ok(bodies) => bodies,
            Err(e) => {
                // RequestLog holds only JSON-safe types; this cannot happen short of a bug.
                tracing::error!("cannot encode a logging payload: {e}");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_litellms_environment_form() {
        let env = Env::with_overlay(
            [
                ("GENERIC_LOGGER_ENDPOINT", "https://logs.example/in"),
                (
                    "GENERIC_LOGGER_HEADERS",
                    "Authorization=Bearer tok,X-Team=a=b",
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let o = WebhookOptions::from_env(&env).unwrap();
        assert_eq!(o.batch.endpoint, "https://logs.example/in");
        assert_eq!(o.batch.headers["authorization"], "Bearer tok");
        assert_eq!(o.batch.headers["x-team"], "a=b");
        assert_eq!(o.format, LogFormat::JsonArray);
    }

    #[test]
    fn reads_callback_settings() {
        let settings: JsonMap = serde_json::from_value(serde_json::json!({
            "callback_type": "generic_api",
            "endpoint": "http://h/x",
            "headers": {"Authorization": "Bearer t"},
            "event_types": ["llm_api_failure"],
            "log_format": "ndjson",
            "batch_size": 7,
            "flush_interval": "0.5"
        }))
        .unwrap();
        let o = WebhookOptions::from_settings("hook", &settings).unwrap();
        assert_eq!(o.events, Scope::Failure);
        assert_eq!(o.format, LogFormat::Ndjson);
        assert_eq!(o.batch.batch_size, 7);
        assert_eq!(o.batch.flush_interval, Duration::from_millis(500));
        let missing = WebhookOptions::from_settings("hook", &JsonMap::new()).unwrap_err();
        assert!(
            missing.contains("callback_settings.hook.endpoint"),
            "{missing}"
        );
        let bad: JsonMap = serde_json::from_value(
            serde_json::json!({"endpoint": "http://h", "headers": {"A": "x\ny-secret"}}),
        )
        .unwrap();
        let err = WebhookOptions::from_settings("hook", &bad).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn encodes_each_layout() {
        let log = Arc::new(RequestLog {
            request_id: "req_1".into(),
            ..RequestLog::default()
        });
        let batch = [log.clone(), log];
        let array = JsonEncoder {
            format: LogFormat::JsonArray,
        }
        .encode(&batch);
        let v: Value = serde_json::from_slice(&array[0]).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[0]["request_id"], "req_1");
        let nd = JsonEncoder {
            format: LogFormat::Ndjson,
        }
        .encode(&batch);
        assert_eq!(nd.len(), 1);
        assert_eq!(std::str::from_utf8(&nd[0]).unwrap().lines().count(), 2);
        let single = JsonEncoder {
            format: LogFormat::Single,
        }
        .encode(&batch);
        assert_eq!(single.len(), 2);
        let one: Value = serde_json::from_slice(&single[1]).unwrap();
        assert_eq!(one["request_id"], "req_1");
    }
}
