//! What one request may change about its own routing: LiteLLM's request headers
//! `x-litellm-timeout`, `x-litellm-stream-timeout`, `x-litellm-num-retries` (and switchyard's
//! `x-litellm-max-fallbacks`), and the same names as body fields (`timeout`, `stream_timeout`,
//! `num_retries`, `max_fallbacks`). A header wins over the body field.

use std::time::Duration;

use serde_json::Value;
use switchyard_types::responses::CreateResponse;

use crate::error::Error;

/// The most retries a request may ask for (the config's own cap).
const MAX_REQUESTED_RETRIES: u32 = 10;

/// Per-request routing overrides; `None` keeps the configured value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestOverrides {
    /// Whole-attempt timeout, instead of the deployment's `timeout`.
    pub timeout: Option<Duration>,
    /// Time to a stream's first output, instead of the deployment's `stream_timeout`.
    pub stream_timeout: Option<Duration>,
    /// Retries inside each group, instead of `num_retries` / `max_retries` / `retry_policy`.
    pub num_retries: Option<u32>,
    /// Fallback groups tried at most, instead of `max_fallbacks`.
    pub max_fallbacks: Option<usize>,
}

impl RequestOverrides {
    /// Reads the overrides of `request` sent with `headers`; a malformed value is a 400
    /// naming the header or field.
    pub fn read(request: &CreateResponse, headers: &http::HeaderMap) -> Result<Self, Error> {
        let pick = |header: &'static str, field: &'static str| -> Option<(Value, &'static str)> {
            if let Some(value) = headers.get(header) {
                let text = value.to_str().unwrap_or("").trim().to_string();
                return Some((Value::String(text), header));
            }
            match request.extra.get(field) {
                None | Some(Value::Null) => None,
                Some(value) => Some((value.clone(), field)),
            }
        };
        Ok(RequestOverrides {
            timeout: pick("x-litellm-timeout", "timeout")
                .map(|(v, name)| seconds(&v, name))
                .transpose()?,
            stream_timeout: pick("x-litellm-stream-timeout", "stream_timeout")
                .map(|(v, name)| seconds(&v, name))
                .transpose()?,
            num_retries: pick("x-litellm-num-retries", "num_retries")
                .map(|(v, name)| count(&v, name).map(|n| n.min(u64::from(MAX_REQUESTED_RETRIES))))
                .transpose()?
                .map(|n| n as u32),
            max_fallbacks: pick("x-litellm-max-fallbacks", "max_fallbacks")
                .map(|(v, name)| count(&v, name))
                .transpose()?
                .map(|n| n.min(100) as usize),
        })
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn seconds(value: &Value, name: &str) -> Result<Duration, Error> {
    number(value)
        .filter(|v| *v > 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .ok_or_else(|| invalid(name, "a positive number of seconds"))
}

fn count(value: &Value, name: &str) -> Result<u64, Error> {
    number(value)
        .filter(|v| *v >= 0.0 && v.fract() == 0.0 && *v <= u32::MAX as f64)
        .map(|v| v as u64)
        .ok_or_else(|| invalid(name, "a non-negative integer"))
}

fn invalid(name: &str, what: &str) -> Error {
    Error::invalid_request(format!("`{name}` must be {what}."), Some(name))
        .with_code("invalid_routing_override")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: Value) -> CreateResponse {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn headers_win_over_body_fields() {
        let r = request(
            json!({"model": "g", "input": "x", "timeout": 3, "num_retries": 2,
            "stream_timeout": "0.5", "max_fallbacks": 1}),
        );
        let none = http::HeaderMap::new();
        let o = RequestOverrides::read(&r, &none).unwrap();
        assert_eq!(o.timeout, Some(Duration::from_secs(3)));
        assert_eq!(o.stream_timeout, Some(Duration::from_millis(500)));
        assert_eq!(o.num_retries, Some(2));
        assert_eq!(o.max_fallbacks, Some(1));
        let mut h = http::HeaderMap::new();
        h.insert("x-litellm-timeout", "1.5".parse().unwrap());
        h.insert("x-litellm-num-retries", "0".parse().unwrap());
        h.insert("x-litellm-max-fallbacks", "4".parse().unwrap());
        h.insert("x-litellm-stream-timeout", "2".parse().unwrap());
        let o = RequestOverrides::read(&r, &h).unwrap();
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(o.stream_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.num_retries, Some(0));
        assert_eq!(o.max_fallbacks, Some(4));
        let plain = request(json!({"model": "g", "input": "x"}));
        assert_eq!(
            RequestOverrides::read(&plain, &none).unwrap(),
            RequestOverrides::default()
        );
        let many = request(json!({"model": "g", "input": "x", "num_retries": 99}));
        assert_eq!(
            RequestOverrides::read(&many, &none).unwrap().num_retries,
            Some(10),
            "capped like the config"
        );
    }

    #[test]
    fn malformed_values_are_400s_naming_the_source() {
        let none = http::HeaderMap::new();
        for (body, param) in [
            (json!({"timeout": 0}), "timeout"),
            (json!({"timeout": "soon"}), "timeout"),
            (json!({"timeout": 1e300}), "timeout"),
            (json!({"num_retries": -1}), "num_retries"),
            (json!({"num_retries": 1.5}), "num_retries"),
            (json!({"max_fallbacks": [1]}), "max_fallbacks"),
        ] {
            let mut body = body;
            body["model"] = json!("g");
            let e = RequestOverrides::read(&request(body), &none).unwrap_err();
            assert_eq!(e.status(), 400);
            assert_eq!(e.param.as_deref(), Some(param));
            assert_eq!(e.code.as_deref(), Some("invalid_routing_override"));
        }
        let mut h = http::HeaderMap::new();
        h.insert("x-litellm-num-retries", "many".parse().unwrap());
        let e = RequestOverrides::read(&request(json!({"model": "g"})), &h).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("x-litellm-num-retries"));
    }
}
