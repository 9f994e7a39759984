//! `GET /v1/models`: the model groups, in OpenAI's list format (for a virtual key, only those
//! it may call).

use axum::Json;
use axum::extract::State;
use http::Extensions;
use serde_json::{Value, json};

use crate::state::AppState;

/// Lists the configured model groups.
pub async fn list(State(state): State<AppState>, extensions: Extensions) -> Json<Value> {
    let auth = crate::identity::key_auth(&extensions);
    let data: Vec<Value> = state
        .gateway()
        .models()
        .into_iter()
        .filter(|m| match (auth, state.keys()) {
            (Some(auth), Some(keys)) => {
                let resolved = state
                    .gateway()
                    .router()
                    .settings()
                    .model_group_alias
                    .get(&m.id)
                    .map(|a| a.group.clone());
                keys.check_model(auth, &m.id, resolved.as_deref()).is_ok()
            }
            _ => true,
        })
        .map(|m| {
            json!({"id": m.id, "object": "model", "created": state.started_at(), "owned_by": m.owned_by})
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}
