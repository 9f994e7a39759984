//! Errors in Anthropic's envelope: `{"type":"error","error":{"type","message"},"request_id"}`
//! with Anthropic's status codes (as its API reference lists them).

use serde_json::json;

use crate::ids;
use crate::reply::Reply;

/// `req_011` + 21 alphanumerics, like Anthropic's request ids.
pub(crate) fn request_id() -> String {
    format!("req_011{}", ids::alnum(21))
}

/// An error reply of Anthropic's `kind` with `status`.
pub(crate) fn error(status: u16, kind: &str, message: &str) -> Reply {
    let id = request_id();
    Reply::error(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": id}),
    )
    .with_header("request-id", &id)
}

/// A 400 `invalid_request_error`.
pub(crate) fn invalid_request(message: &str) -> Reply {
    error(400, "invalid_request_error", message)
}

/// The reply for `[[mock:error=CODE]]`; 503 is answered the way Anthropic signals overload, 529.
pub(crate) fn directive_error(code: &str, model: &str) -> Reply {
    match code {
        "400" => invalid_request("temperature: range: 0..1"),
        "401" => error(401, "authentication_error", "invalid x-api-key"),
        "403" => error(
            403,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        "404" => error(404, "not_found_error", &format!("model: {model}")),
        "429" => error(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 input \
             tokens per minute.",
        )
        .with_header("retry-after", "1"),
        "500" => error(500, "api_error", "Internal server error"),
        "503" | "529" => error(529, "overloaded_error", "Overloaded"),
        "context" => invalid_request("prompt is too long: 208310 tokens > 200000 maximum"),
        other => match other.parse::<u16>().ok().filter(|s| (400..600).contains(s)) {
            Some(status) => error(
                status,
                if status >= 500 {
                    "api_error"
                } else {
                    "invalid_request_error"
                },
                &format!("switchyard-mock: HTTP {status}"),
            ),
            None => invalid_request(&format!(
                "switchyard-mock: unknown error directive `{other}`"
            )),
        },
    }
}

/// The in-stream failure `[[mock:midstream-error]]` sends.
pub(crate) fn midstream_event() -> bytes::Bytes {
    bytes::Bytes::from_static(
        b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    )
}
