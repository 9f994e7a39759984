//! The library's error type.
//!
//! One [`Error`] describes every failure a caller can see: a bad request, an unknown model, an
//! upstream refusal or a broken stream. Its [`ErrorKind`] decides the HTTP status and OpenAI
//! error `type` (mapped in one place, [`ErrorKind::status`]); `code`, `param` and `retry_after`
//! carry what clients act on. Messages never contain credentials: upstream text passes through
//! [`crate::redact`] before it lands here.

use std::fmt;
use std::time::Duration;

/// The class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or asks for something the deployment cannot do (400).
    InvalidRequest,
    /// Missing or wrong credentials, the client's or the gateway's upstream ones (401).
    Authentication,
    /// The credentials are valid but not allowed to do this (403).
    PermissionDenied,
    /// Unknown model or resource (404).
    NotFound,
    /// The request body is too large (413).
    PayloadTooLarge,
    /// Too many requests or tokens; see `retry_after` (429).
    RateLimited,
    /// The prompt does not fit the model's context window (400, `context_length_exceeded`).
    ContextLengthExceeded,
    /// A content filter rejected the prompt (400).
    ContentFilter,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The client did not send its request in time (408).
    RequestTimeout,
    /// The request body is not in a format the gateway reads (415).
    UnsupportedMediaType,
    /// The upstream is overloaded (503).
    Overloaded,
    /// The upstream failed, answered with something unreadable, or could not be reached (502
    /// unless the upstream's own 5xx status is known).
    Upstream,
    /// A bug or an unexpected state in the gateway (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status for this kind when no upstream status refines it.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::ContextLengthExceeded => 400,
            ErrorKind::ContentFilter => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTimeout => 408,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Upstream => 502,
            ErrorKind::Overloaded => 503,
            ErrorKind::Timeout => 504,
        }
    }

    /// The OpenAI error `type` for this kind.
    pub fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::ContextLengthExceeded
            | ErrorKind::ContentFilter
            | ErrorKind::PayloadTooLarge
            | ErrorKind::UnsupportedMediaType
            | ErrorKind::RequestTimeout => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Overloaded => "service_unavailable_error",
            ErrorKind::Upstream | ErrorKind::Internal => "server_error",
        }
    }
}

/// Where a failure was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// The client's request was refused by the gateway itself.
    Client,
    /// The upstream provider failed or refused.
    Upstream,
    /// The gateway failed.
    Gateway,
}

/// A failure, with everything needed to answer the client in OpenAI's error format.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// The class of failure.
    pub kind: ErrorKind,
    /// A message safe to show the client.
    pub message: String,
    /// The request parameter at fault.
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, `rate_limit_exceeded`, …).
    pub code: Option<String>,
    /// The upstream's HTTP status, when the failure came from one.
    pub upstream_status: Option<u16>,
    /// How long the client should wait before retrying.
    pub retry_after: Option<Duration>,
    /// Where the failure was detected.
    pub origin: ErrorOrigin,
}

impl Error {
    /// A new error of `kind` detected in the gateway.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            param: None,
            code: None,
            upstream_status: None,
            retry_after: None,
            origin: ErrorOrigin::Gateway,
        }
    }

    /// A 400 about the client's request.
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>) -> Self {
        Error {
            origin: ErrorOrigin::Client,
            param: param.map(str::to_string),
            ..Error::new(ErrorKind::InvalidRequest, message)
        }
    }

    /// A 400 naming a parameter the deployment cannot honour.
    pub fn unsupported_parameter(param: &str, target: &str) -> Self {
        Error::invalid_request(
            format!(
                "Unsupported parameter: '{param}' is not supported by {target}. \
                 Remove it, or set `litellm_settings.drop_params: true` to drop unsupported \
                 parameters."
            ),
            Some(param),
        )
        .with_code("unsupported_parameter")
    }

    /// A failure reported by (or about) the upstream.
    pub fn upstream(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            origin: ErrorOrigin::Upstream,
            ..Error::new(kind, message)
        }
    }

    /// Sets the machine-readable code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the parameter at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Records the upstream's HTTP status.
    pub fn with_upstream_status(mut self, status: u16) -> Self {
        self.upstream_status = Some(status);
        self
    }

    /// Sets the retry delay.
    pub fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    /// The HTTP status to answer with: the kind's, refined by a known upstream 5xx status so that
    /// a 500 from the provider stays a 500 and a 504 a 504.
    pub fn status(&self) -> u16 {
        match (self.kind, self.upstream_status) {
            (ErrorKind::Upstream, Some(s)) if (500..600).contains(&s) && s != 529 => s,
            _ => self.kind.status(),
        }
    }

    /// The `code` to put in `response.error` of a failed streamed response. Codex decides
    /// whether to retry from it, so it is one of the codes Codex knows where possible.
    pub fn response_error_code(&self) -> String {
        match self.kind {
            ErrorKind::RateLimited => match self.code.as_deref() {
                Some("insufficient_quota") => "insufficient_quota".into(),
                _ => "rate_limit_exceeded".into(),
            },
            ErrorKind::ContextLengthExceeded => "context_length_exceeded".into(),
            ErrorKind::Overloaded => "server_is_overloaded".into(),
            ErrorKind::InvalidRequest | ErrorKind::ContentFilter => match self.code.as_deref() {
                Some(code @ ("invalid_prompt" | "cyber_policy" | "bio_policy")) => code.into(),
                _ => "invalid_prompt".into(),
            },
            _ => "server_error".into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_5xx_status_is_kept() {
        let e = Error::upstream(ErrorKind::Upstream, "x").with_upstream_status(504);
        assert_eq!(e.status(), 504);
        let e = Error::upstream(ErrorKind::Upstream, "x");
        assert_eq!(e.status(), 502);
    }

    #[test]
    fn stream_failure_codes_are_ones_codex_understands() {
        let rl = Error::upstream(ErrorKind::RateLimited, "slow down");
        assert_eq!(rl.response_error_code(), "rate_limit_exceeded");
        let quota = rl.clone().with_code("insufficient_quota");
        assert_eq!(quota.response_error_code(), "insufficient_quota");
        let ctx = Error::upstream(ErrorKind::ContextLengthExceeded, "too long");
        assert_eq!(ctx.response_error_code(), "context_length_exceeded");
        let down = Error::upstream(ErrorKind::Overloaded, "busy");
        assert_eq!(down.response_error_code(), "server_is_overloaded");
    }
}
