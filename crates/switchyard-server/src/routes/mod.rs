//! HTTP routes.

pub mod compact;
pub mod health;
pub mod input_tokens;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod responses;
pub mod spend;
pub mod state;
pub mod websocket;

use axum::response::{IntoResponse, Response};
use http::{Method, Uri};
use switchyard::{Error, ErrorKind};

use crate::error::ApiError;

/// The paths that create responses (and whose requests each leave an accounting record).
pub const MODEL_ROUTES: &[&str] = &["/v1/responses", "/responses", "/openai/v1/responses"];

/// The prefixes the OpenAI routes are served under, as LiteLLM serves them.
pub const API_PREFIXES: &[&str] = &["/v1", "", "/openai/v1"];

/// True for a path in [`MODEL_ROUTES`].
pub fn is_model_route(path: &str) -> bool {
    MODEL_ROUTES.contains(&path)
}

/// Any unknown path.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    let error = Error {
        code: Some("unknown_url".into()),
        ..Error::new(
            ErrorKind::NotFound,
            format!(
                "Unknown request URL: {method} {}.",
                switchyard::text::echo(uri.path())
            ),
        )
    };
    ApiError(error).into_response()
}

/// A known path with the wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let error = Error::invalid_request(
        format!(
            "{method} is not allowed on {}.",
            switchyard::text::echo(uri.path())
        ),
        None,
    )
    .with_code("method_not_allowed");
    let mut response = ApiError(error).into_response();
    *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    response
}
