//! Anthropic error answers → [`Error`].
//!
//! The body is `{"type":"error","error":{"type":…,"message":…},"request_id":…}`, before the
//! stream (with an HTTP status) or inside it (`event: error`, no status). The `error.type`
//! decides the class when there is no status; otherwise the status does, with the shared
//! OpenAI-style rules (which already read `error.message` and `retry-after`, spot "prompt is
//! too long" as a context overflow and treat 529 as overloaded).

use http::HeaderMap;
use serde_json::Value;

use crate::error::Error;
use crate::providers::classify_openai_error;
use crate::secret::Secret;

/// The HTTP status Anthropic pairs with an `error.type` (Anthropic's errors reference,
/// <https://docs.anthropic.com/en/api/errors>).
pub fn status_for_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// Classifies an Anthropic error body; `status` is `None` for an in-stream `event: error`.
pub fn classify(
    label: &str,
    status: Option<u16>,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&Secret],
) -> Error {
    let kind = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/type")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let status = match (status, kind.as_deref()) {
        (Some(status), _) => status,
        (None, Some(kind)) => status_for_type(kind),
        (None, None) => 500,
    };
    let mut error = classify_openai_error(label, status, headers, body, secrets);
    if let Some(kind) = kind
        && error.code.is_none()
        && kind != "invalid_request_error"
        && kind != "api_error"
    {
        // Anthropic has no `code`; its type is the closest machine-readable value.
        error.code = Some(kind);
    }
    error
}
