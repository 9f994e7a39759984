//! Classification of OpenAI-style error answers, shared by OpenAI and every compatible server:
//! nested `{"error":{…}}` bodies, flat `{"object":"error",…}` bodies (vLLM, Mistral), numeric
//! codes (OpenRouter, vLLM), Azure's string `"429"` codes and missing `type`s.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;
use switchyard_types::chat::ChatErrorBody;

use super::MAX_RETRY_AFTER;
use crate::error::{Error, ErrorKind};
use crate::secret::{Secret, redact};

/// Turns an upstream error answer into an [`Error`]; `provider` names the upstream in messages.
pub(crate) fn classify_openai_error(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&Secret],
) -> Error {
    let parsed: Option<ChatErrorBody> = serde_json::from_slice(body).ok();
    let (message, code, param, kind_text) = match &parsed {
        Some(b) => match &b.error {
            Some(Value::Object(e)) => (
                e.get("message").map(value_text),
                e.get("code").map(value_text),
                e.get("param").map(value_text),
                e.get("type").map(value_text),
            ),
            Some(Value::String(s)) => (Some(s.clone()), None, None, None),
            _ => (
                b.message.as_ref().map(value_text).or_else(|| {
                    b.detail
                        .as_ref()
                        .map(|d| format!("upstream validation error: {d}"))
                }),
                b.code.clone(),
                b.param.clone(),
                b.kind.clone(),
            ),
        },
        None => (None, None, None, None),
    };
    let message = message.filter(|m| !m.is_empty()).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("{provider} returned HTTP {status}")
        } else {
            format!("{provider} returned HTTP {status}: {}", truncate(text, 500))
        }
    });
    let message = redact(&message, secrets);
    // Numeric codes (vLLM's `400`, Azure's `"429"`) say nothing the status does not.
    let code = code.filter(|c| !c.is_empty() && !c.chars().all(|ch| ch.is_ascii_digit()));
    let lower = message.to_ascii_lowercase();
    let code_is = |c: &str| code.as_deref() == Some(c) || kind_text.as_deref() == Some(c);

    let kind = if code_is("context_length_exceeded")
        || lower.contains("maximum context length")
        || lower.contains("context length")
        || lower.contains("context window")
        || lower.contains("prompt is too long")
        || lower.contains("too many tokens")
    {
        if status == 429 {
            ErrorKind::RateLimited
        } else {
            ErrorKind::ContextLengthExceeded
        }
    } else {
        match status {
            400 | 422 if code_is("content_filter") || code_is("content_policy_violation") => {
                ErrorKind::ContentFilter
            }
            400 | 409 | 415 | 422 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            402 | 403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            413 => ErrorKind::PayloadTooLarge,
            429 => ErrorKind::RateLimited,
            503 | 529 => ErrorKind::Overloaded,
            _ if code_is("server_is_overloaded") || code_is("slow_down") => ErrorKind::Overloaded,
            _ => ErrorKind::Upstream,
        }
    };
    let code = match kind {
        ErrorKind::ContextLengthExceeded => Some("context_length_exceeded".to_string()),
        ErrorKind::RateLimited if !code_is("insufficient_quota") => {
            Some("rate_limit_exceeded".to_string())
        }
        ErrorKind::RateLimited => Some("insufficient_quota".to_string()),
        ErrorKind::Authentication => Some("invalid_api_key".to_string()),
        ErrorKind::NotFound => Some(code.unwrap_or_else(|| "model_not_found".to_string())),
        ErrorKind::Overloaded => Some("server_is_overloaded".to_string()),
        _ => code,
    };
    let message = if kind == ErrorKind::Authentication {
        format!("{provider} rejected the deployment's credentials: {message}")
    } else {
        message
    };
    let retry_after = retry_after_from(headers).or_else(|| {
        (kind == ErrorKind::RateLimited)
            .then(|| retry_after_from_message(&lower))
            .flatten()
    });
    Error {
        param: param.filter(|p| !p.is_empty()),
        code,
        ..Error::upstream(kind, message)
    }
    .with_upstream_status(status)
    .with_retry_after(retry_after)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Reads `retry-after-ms`, then `retry-after` (seconds or an HTTP date), capped at
/// [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after_from(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let delay =
        if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
            Duration::from_secs_f64(ms.max(0.0) / 1000.0)
        } else {
            let value = header("retry-after")?.trim();
            if let Ok(secs) = value.parse::<f64>() {
                Duration::from_secs_f64(secs.max(0.0))
            } else {
                let when = httpdate_parse(value)?;
                when.duration_since(SystemTime::now()).unwrap_or_default()
            }
        };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Reads "try again in 11.054s" / "in 28ms" / "after 35 seconds" from an OpenAI-style message.
fn retry_after_from_message(lower: &str) -> Option<Duration> {
    for marker in ["try again in ", "retry after ", "retry in "] {
        let Some(pos) = lower.find(marker) else {
            continue;
        };
        let rest = &lower[pos + marker.len()..];
        let number: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let value: f64 = number.parse().ok()?;
        let unit = rest[number.len()..].trim_start();
        let secs = if unit.starts_with("ms") {
            value / 1000.0
        } else {
            value
        };
        return Some(Duration::from_secs_f64(secs.max(0.0)).min(MAX_RETRY_AFTER));
    }
    None
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only `Retry-After` date form
/// servers use in practice. A dependency for this one format would weigh more than these lines.
fn httpdate_parse(value: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> Error {
        classify_openai_error("openai", status, &HeaderMap::new(), body.as_bytes(), &[])
    }

    #[test]
    fn recorded_openai_errors() {
        let e = classify(
            400,
            r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));

        let e = classify(
            400,
            r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 204308 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::ContextLengthExceeded);

        let e = classify(
            429,
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.code.as_deref(), Some("insufficient_quota"));

        let e = classify(
            429,
            r#"{"error":{"message":"Rate limit reached for gpt-4.1 on tokens per min (TPM). Please try again in 3.89s.","type":"tokens","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(e.retry_after, Some(Duration::from_millis(3890)));
    }

    #[test]
    fn compatible_server_shapes() {
        // vLLM / Mistral flat form with a numeric code.
        let e = classify(
            400,
            r#"{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.message, "bad");
        assert_eq!(e.code, None);
        // OpenRouter numeric code.
        let e = classify(
            429,
            r#"{"error":{"code":429,"message":"Provider returned error"},"user_id":"u"}"#,
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
        // Azure: string "429", no type.
        let e = classify(
            429,
            r#"{"error":{"code":"429","message":"Please retry after 86400 seconds."}}"#,
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(86400)));
        // Mistral 422.
        let e = classify(
            422,
            r#"{"object":"error","message":{"detail":[{"type":"extra_forbidden"}]},"type":"invalid_request_error"}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("extra_forbidden"));
        // Not JSON at all.
        let e = classify(502, "<html>Bad Gateway</html>");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert_eq!(e.status(), 502);
        assert!(e.message.contains("Bad Gateway"));
    }

    #[test]
    fn auth_failures_never_echo_the_key() {
        let key = Secret::new("sk-proj-abcdefghijklmnopqrstuvwxyz");
        let e = classify_openai_error(
            "openai",
            401,
            &HeaderMap::new(),
            br#"{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz.","code":"invalid_api_key"}}"#,
            &[&key],
        );
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert!(!e.message.contains("abcdefghijklmnop"), "{}", e.message);
    }

    #[test]
    fn retry_after_header_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after_from(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after_from(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_from(&h), Some(Duration::ZERO));
        assert_eq!(
            httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
    }
}
