//! The switchyard proxy: the Responses API over HTTP, in front of a [`switchyard::Gateway`].
//!
//! [`app`] builds the router (tests drive it directly); `main.rs` adds the CLI, logging and
//! graceful shutdown around it.

mod auth;
mod error;
mod routes;
mod sse;
mod state;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;
pub use state::AppState;

/// The proxy's routes, with authentication and panic isolation.
pub fn app(state: AppState) -> Router {
    let responses = post(routes::responses::create);
    let authenticated = Router::new()
        .route("/v1/responses", responses.clone())
        .route("/responses", responses.clone())
        .route("/openai/v1/responses", responses)
        .route("/v1/models", get(routes::models::list))
        .route("/models", get(routes::models::list))
        .route_layer(from_fn_with_state(state.clone(), auth::require_key));
    Router::new()
        .route("/health/liveliness", get(routes::health::liveliness))
        .route("/health/liveness", get(routes::health::liveliness))
        .route("/health/readiness", get(routes::health::readiness))
        .merge(authenticated)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}
