//! `GET /metrics`: the Prometheus exposition, when the `prometheus` callback is on.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Method, Uri, header};

use crate::observability::metrics::Metrics;
use crate::state::AppState;

/// The metrics; 404 when `prometheus` is not among the callbacks.
pub async fn metrics(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    match state.observability().and_then(|o| o.metrics()) {
        Some(metrics) => (
            [(header::CONTENT_TYPE, Metrics::content_type())],
            metrics.render(state.gateway()),
        )
            .into_response(),
        None => super::not_found(method, uri).await,
    }
}
