//! Health endpoints, reachable without a key (orchestrators probe them).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /health/liveliness` (and `/health/liveness`): the process answers.
pub async fn liveliness() -> Json<&'static str> {
    Json("I'm alive!")
}

/// `GET /health/readiness`: ready to serve, with what it serves.
pub async fn readiness(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "version": env!("CARGO_PKG_VERSION"),
        "model_groups": state.gateway().models().len(),
    }))
}
