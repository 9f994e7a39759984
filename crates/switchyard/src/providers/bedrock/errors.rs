//! Bedrock errors (listed under "Errors" in the Converse API reference): an HTTP status with the
//! exception name in `x-amzn-ErrorType` (`ThrottlingException:http://internal.amazon.com/coral/…`)
//! and a body `{"message": …}`; in a stream, an exception frame named by `:exception-type`.

use http::HeaderMap;
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::providers::openai_errors::retry_after_from;
use crate::secret::{Secret, redact};

use super::request::LABEL;

/// Classifies an HTTP error answer.
pub fn classify_http(status: u16, headers: &HeaderMap, body: &[u8], secrets: &[&Secret]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let name = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or_default().to_string())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            // `__type` may be namespaced: `com.amazon.coral.service#UnrecognizedClientException`.
            parsed
                .as_ref()
                .and_then(|b| b.get("__type"))
                .and_then(Value::as_str)
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        })
        .unwrap_or_default();
    let message = parsed
        .as_ref()
        .and_then(|b| b.get("message").or_else(|| b.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("{LABEL} returned HTTP {status}")
            } else {
                format!(
                    "{LABEL} returned HTTP {status}: {}",
                    text.chars().take(500).collect::<String>()
                )
            }
        });
    let error = classify(&name, Some(status), &message, secrets);
    let retry_after = retry_after_from(headers).or_else(|| {
        // Bedrock's throttles usually carry no Retry-After (the AWS SDKs back off on their
        // own); clients of the gateway are promised a hint on every 429, so they get the
        // shortest useful wait rather than none.
        (error.kind == ErrorKind::RateLimited).then_some(DEFAULT_THROTTLE_WAIT)
    });
    error.with_retry_after(retry_after)
}

/// The wait suggested for a throttle that came without `Retry-After`.
const DEFAULT_THROTTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Classifies an exception frame of a stream (`:exception-type`, camel-cased) or an HTTP
/// exception name (Pascal-cased).
pub fn classify(name: &str, status: Option<u16>, message: &str, secrets: &[&Secret]) -> Error {
    let message = redact(message, secrets);
    let lower_name = name.to_ascii_lowercase();
    let lower = message.to_ascii_lowercase();
    let too_long = lower.contains("too long")
        || lower.contains("max tokens")
        || lower.contains("maximum context")
        || lower.contains("context length")
        || lower.contains("context window")
        || lower.contains("input is too long")
        || lower.contains("prompt is too long");
    let kind = match lower_name.trim_end_matches("exception") {
        "throttling" | "modelnotready" | "servicequotaexceeded" if status != Some(400) => {
            if lower_name.starts_with("modelnotready") {
                ErrorKind::Overloaded
            } else {
                ErrorKind::RateLimited
            }
        }
        "validation" if too_long => ErrorKind::ContextLengthExceeded,
        "validation" | "servicequotaexceeded" | "conflict" => ErrorKind::InvalidRequest,
        "serviceunavailable" => ErrorKind::Overloaded,
        "unrecognizedclient"
        | "invalidsignature"
        | "expiredtoken"
        | "incompletesignature"
        | "missingauthenticationtoken"
        | "invalidclienttokenid"
        | "signaturedoesnotmatch" => ErrorKind::Authentication,
        "accessdenied" => ErrorKind::PermissionDenied,
        "resourcenotfound" => ErrorKind::NotFound,
        "modeltimeout" => ErrorKind::Timeout,
        "internalserver" | "modelerror" | "modelstreamerror" => ErrorKind::Upstream,
        _ => match status {
            Some(400) if too_long => ErrorKind::ContextLengthExceeded,
            Some(400 | 409 | 422) => ErrorKind::InvalidRequest,
            Some(401) => ErrorKind::Authentication,
            Some(403) => ErrorKind::PermissionDenied,
            Some(404) => ErrorKind::NotFound,
            Some(408) => ErrorKind::Timeout,
            Some(413) => ErrorKind::PayloadTooLarge,
            Some(429) => ErrorKind::RateLimited,
            Some(503 | 529) => ErrorKind::Overloaded,
            _ => ErrorKind::Upstream,
        },
    };
    let code = match kind {
        ErrorKind::ContextLengthExceeded => Some("context_length_exceeded"),
        ErrorKind::RateLimited => Some("rate_limit_exceeded"),
        ErrorKind::Authentication => Some("invalid_api_key"),
        ErrorKind::NotFound => Some("model_not_found"),
        ErrorKind::Overloaded => Some("server_is_overloaded"),
        _ => None,
    };
    let shown = match (kind, name.is_empty()) {
        (ErrorKind::Authentication, _) => {
            format!("{LABEL} rejected the deployment's credentials ({name}): {message}")
        }
        (_, false) => format!("{message} ({name})"),
        (_, true) => message,
    };
    let mut error = Error::upstream(kind, shown);
    error.code = code.map(str::to_string);
    // The upstream's 5xx status is kept (a 500 stays a 500); a stream exception has none, so
    // its kind decides.
    match status {
        Some(s) => error.with_upstream_status(s),
        None if lower_name.starts_with("internalserver") => error.with_upstream_status(500),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(error_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_str(error_type).unwrap(),
        );
        h
    }

    const CORAL: &str = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

    #[test]
    fn http_errors_by_exception_name() {
        let cases = [
            (
                429,
                "ThrottlingException",
                "Too many tokens, please wait before trying again.",
                ErrorKind::RateLimited,
                429,
            ),
            (
                503,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
                ErrorKind::Overloaded,
                503,
            ),
            (
                429,
                "ModelNotReadyException",
                "Model is not ready.",
                ErrorKind::Overloaded,
                503,
            ),
            (
                400,
                "ValidationException",
                "Input is too long for requested model.",
                ErrorKind::ContextLengthExceeded,
                400,
            ),
            (
                400,
                "ValidationException",
                "The model returned the following errors: prompt is too long: 200049 tokens > 200000 maximum",
                ErrorKind::ContextLengthExceeded,
                400,
            ),
            (
                400,
                "ValidationException",
                "The provided model identifier is invalid.",
                ErrorKind::InvalidRequest,
                400,
            ),
            (
                403,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
                ErrorKind::PermissionDenied,
                403,
            ),
            (
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                ErrorKind::Authentication,
                401,
            ),
            (
                403,
                "ExpiredTokenException",
                "The security token included in the request is expired",
                ErrorKind::Authentication,
                401,
            ),
            (
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match",
                ErrorKind::Authentication,
                401,
            ),
            (
                404,
                "ResourceNotFoundException",
                "This model version has reached the end of its life.",
                ErrorKind::NotFound,
                404,
            ),
            (
                500,
                "InternalServerException",
                "Internal error",
                ErrorKind::Upstream,
                500,
            ),
            (
                424,
                "ModelErrorException",
                "The model failed",
                ErrorKind::Upstream,
                502,
            ),
        ];
        for (status, name, message, kind, answered) in cases {
            let body = serde_json::json!({"message": message}).to_string();
            let e = classify_http(
                status,
                &headers(&format!("{name}{CORAL}")),
                body.as_bytes(),
                &[],
            );
            assert_eq!(e.kind, kind, "{name}: {message}");
            assert_eq!(e.status(), answered, "{name}");
            assert!(e.message.contains(message), "{}", e.message);
        }
    }

    #[test]
    fn context_and_throttling_codes_and_retry_after() {
        let mut h = headers(&format!("ThrottlingException{CORAL}"));
        h.insert("retry-after", HeaderValue::from_static("7"));
        let e = classify_http(
            429,
            &h,
            br#"{"message":"Too many requests, please wait before trying again."}"#,
            &[],
        );
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(7)));
        let e = classify_http(
            429,
            &headers(&format!("ThrottlingException{CORAL}")),
            b"{}",
            &[],
        );
        assert_eq!(e.retry_after, Some(DEFAULT_THROTTLE_WAIT));
        let e = classify_http(
            400,
            &headers("ValidationException"),
            br#"{"message":"max tokens exceeds the context"}"#,
            &[],
        );
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
    }

    #[test]
    fn falls_back_to_type_field_and_status_and_redacts() {
        let secret = Secret::new("AKIASECRETKEY12345");
        let e = classify_http(
            403,
            &HeaderMap::new(),
            br#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"bad key AKIASECRETKEY12345"}"#,
            &[&secret],
        );
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert!(!e.message.contains("AKIASECRETKEY12345"));
        let e = classify_http(502, &HeaderMap::new(), b"<html>bad gateway</html>", &[]);
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(e.message.contains("bad gateway"));
    }

    #[test]
    fn stream_exceptions() {
        let e = classify("throttlingException", None, "slow down", &[]);
        assert_eq!(e.response_error_code(), "rate_limit_exceeded");
        let e = classify("serviceUnavailableException", None, "busy", &[]);
        assert_eq!(e.response_error_code(), "server_is_overloaded");
        let e = classify(
            "validationException",
            None,
            "Input is too long for requested model.",
            &[],
        );
        assert_eq!(e.response_error_code(), "context_length_exceeded");
        let e = classify("internalServerException", None, "oops", &[]);
        assert_eq!(e.status(), 500);
        let e = classify("modelStreamErrorException", None, "model broke", &[]);
        assert_eq!(e.kind, ErrorKind::Upstream);
    }
}
