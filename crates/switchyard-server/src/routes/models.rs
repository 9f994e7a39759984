//! `GET /v1/models`: the model groups, in OpenAI's list format.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// Lists the configured model groups.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state
        .gateway()
        .models()
        .into_iter()
        .map(|m| {
            json!({"id": m.id, "object": "model", "created": state.started_at(), "owned_by": m.owned_by})
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}
