//! Errors as OpenAI error envelopes: the one place that turns a [`switchyard::Error`] into an
//! HTTP status, `{"error":{message,type,param,code}}` and `Retry-After`.

use std::any::Any;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use switchyard::types::error::ErrorEnvelope;
use switchyard::{Error, ErrorKind};

/// A failure answered with an OpenAI error envelope.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let envelope = ErrorEnvelope::new(
            error.message.clone(),
            error.kind.openai_type(),
            error.param.clone(),
            error.code.clone(),
        );
        let mut response = (status, Json(envelope)).into_response();
        if let Some(after) = error.retry_after {
            let headers = response.headers_mut();
            // Whole seconds, rounded up, so a client never retries early.
            let secs = after.as_millis().div_ceil(1000);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
            if let Ok(v) = HeaderValue::from_str(&after.as_millis().to_string()) {
                headers.insert("retry-after-ms", v);
            }
        }
        response
    }
}

/// A request refused with an error whose OpenAI `type` is not one of the gateway's error
/// kinds (LiteLLM's `budget_exceeded`), or an ordinary [`ApiError`].
#[derive(Debug)]
pub struct Refusal {
    /// The error (status, message, code).
    pub error: Error,
    /// Replaces the kind's `type` in the envelope.
    pub error_type: Option<&'static str>,
    /// Headers the answer carries besides `Retry-After` (a key's `x-ratelimit-*`).
    /// (Boxed: refusals travel in `Result`s, which should stay small.)
    pub headers: Option<Box<[(&'static str, String); 3]>>,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal {
            error,
            error_type: None,
            headers: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = match self.error_type {
            None => ApiError(self.error).into_response(),
            Some(error_type) => {
                let error = self.error;
                let status = StatusCode::from_u16(error.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let envelope =
                    ErrorEnvelope::new(error.message, error_type, error.param, error.code);
                (status, Json(envelope)).into_response()
            }
        };
        for (name, value) in self.headers.into_iter().flat_map(|h| *h) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A panic in a handler becomes a 500 envelope; the panic message stays in the log.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response<axum::body::Body> {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a request handler panicked");
    let error = Error::new(
        ErrorKind::Internal,
        "The gateway hit an internal error while handling the request.",
    )
    .with_code("internal_error");
    ApiError(error).into_response()
}
