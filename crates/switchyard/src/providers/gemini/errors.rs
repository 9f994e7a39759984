//! Classification of Google's error answers: `google.rpc.Status` JSON
//! (`{"error":{"code","message","status","details"}}`, Google's API error model,
//! <https://cloud.google.com/apis/design/errors>), also the `[{"error":…}]` form Vertex uses for
//! streams without `alt=sse`.

use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::providers::MAX_RETRY_AFTER;
use crate::providers::openai_errors::retry_after_from;
use crate::secret::{Secret, redact};

/// Turns a Google error answer into an [`Error`]; `label` names the upstream in messages.
pub fn classify_google_error(
    label: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&Secret],
) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| match v {
        Value::Array(list) => list.first()?.get("error"),
        other => other.get("error"),
    });
    let text = |key: &str| {
        error
            .and_then(|e| e.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let rpc_status = text("status");
    let details: &[Value] = error
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let reason = details
        .iter()
        .find_map(|d| d.get("reason").and_then(Value::as_str))
        .unwrap_or_default();
    let mut message = text("message");
    if message.is_empty() {
        let raw = String::from_utf8_lossy(body);
        let raw = raw.trim();
        message = if raw.is_empty() {
            format!("{label} returned HTTP {status}")
        } else {
            let cut: String = raw.chars().take(500).collect();
            format!("{label} returned HTTP {status}: {cut}")
        };
    }
    let message = redact(&message, secrets);
    let lower = message.to_ascii_lowercase();

    let key_problem = reason.starts_with("API_KEY")
        || lower.contains("api key")
        || lower.contains("unregistered callers")
        || rpc_status == "UNAUTHENTICATED";
    let kind = if status == 429 || rpc_status == "RESOURCE_EXHAUSTED" {
        ErrorKind::RateLimited
    } else if lower.contains("exceeds the maximum number of tokens")
        || lower.contains("input token count")
        || lower.contains("context window")
        || lower.contains("too many tokens")
    {
        ErrorKind::ContextLengthExceeded
    } else if matches!(status, 400 | 401 | 403) && key_problem {
        ErrorKind::Authentication
    } else {
        match status {
            400 | 409 | 422 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::PayloadTooLarge,
            503 | 529 => ErrorKind::Overloaded,
            _ if rpc_status == "UNAVAILABLE" => ErrorKind::Overloaded,
            _ => ErrorKind::Upstream,
        }
    };
    let code = match kind {
        ErrorKind::ContextLengthExceeded => Some("context_length_exceeded"),
        ErrorKind::RateLimited => Some("rate_limit_exceeded"),
        ErrorKind::Authentication => Some("invalid_api_key"),
        ErrorKind::NotFound => Some("model_not_found"),
        ErrorKind::Overloaded => Some("server_is_overloaded"),
        _ => None,
    };
    let message = if kind == ErrorKind::Authentication {
        format!("{label} rejected the deployment's credentials: {message}")
    } else {
        message
    };
    let retry_after = retry_after_from(headers).or_else(|| {
        details
            .iter()
            .filter(|d| {
                d.get("@type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
            })
            .find_map(|d| d.get("retryDelay").and_then(Value::as_str))
            .and_then(parse_duration)
    });
    let mut error = Error::upstream(kind, message)
        .with_upstream_status(status)
        .with_retry_after(retry_after);
    error.code = code.map(str::to_string);
    error
}

/// Parses a protobuf JSON `Duration` (`"34.4s"`, `"1s"`), capped at [`MAX_RETRY_AFTER`].
fn parse_duration(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> Error {
        classify_google_error("Gemini", status, &HeaderMap::new(), body.as_bytes(), &[])
    }

    #[test]
    fn rate_limit_with_retry_info() {
        let e = classify(
            429,
            r#"{"error":{"code":429,"message":"You exceeded your current quota, please check your plan.","status":"RESOURCE_EXHAUSTED",
              "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                         {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"34.4s"}]}}"#,
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after, Some(Duration::from_millis(34_400)));
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn overloaded_context_and_not_found() {
        let e = classify(
            503,
            r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert_eq!(e.status(), 503);
        let e = classify(
            400,
            r#"{"error":{"code":400,"message":"The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::ContextLengthExceeded);
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        let e = classify(
            404,
            r#"{"error":{"code":404,"message":"models/nope is not found for API version v1beta","status":"NOT_FOUND"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = classify(
            400,
            r#"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"foo\"","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        let e = classify(500, "<html>oops</html>");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert_eq!(e.status(), 500);
        // Vertex's array form.
        let e = classify(
            429,
            r#"[{"error":{"code":429,"message":"Resource exhausted. Please try again later.","status":"RESOURCE_EXHAUSTED"}}]"#,
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(e.message.contains("Resource exhausted"));
    }

    #[test]
    fn key_errors_are_authentication_failures_without_the_key() {
        let key = Secret::new("AIzaSyMockKey0123456789abcdefghij");
        let e = classify_google_error(
            "Gemini",
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key. (AIzaSyMockKey0123456789abcdefghij)","status":"INVALID_ARGUMENT",
                "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#,
            &[&key],
        );
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert_eq!(e.status(), 401);
        assert!(!e.message.contains("MockKey"), "{}", e.message);
        let e = classify(
            403,
            r#"{"error":{"code":403,"message":"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.","status":"PERMISSION_DENIED"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Authentication);
        let e = classify(
            401,
            r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Authentication);
        let e = classify(
            403,
            r#"{"error":{"code":403,"message":"Permission 'aiplatform.endpoints.predict' denied","status":"PERMISSION_DENIED"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
    }
}
