//! `POST /v1/responses/input_tokens` (also `/responses/input_tokens` and
//! `/openai/v1/responses/input_tokens`): the input tokens of a create's body, counted by the
//! deployment that would serve it, as `{"object": "response.input_tokens", "input_tokens": N}`.
//!
//! A count is not a paid call: no budget is checked and no spend row is written (the request
//! log line is). `x-switchyard-input-tokens` says whether the upstream counted (`exact`) or the
//! gateway estimated (`estimate`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri};
use serde_json::json;
use switchyard::types::responses::CreateResponse;
use switchyard::{CallContext, ids};

use super::responses::{caller, read_json};
use crate::identity;
use crate::state::AppState;

/// Counts the input tokens of a create's body.
pub async fn count(
    State(state): State<AppState>,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = ids::request_id();
    let result = async {
        let request: CreateResponse = read_json(&state, &headers, body, false)
            .await
            .map_err(crate::error::Refusal::from)?;
        // Counting may call the model's own counter: the key's models and limits apply (it
        // costs nothing, so nothing is reserved on its budgets).
        let _admitted =
            identity::check_key_to_count(&state, &extensions, &request, &request_id).await?;
        let mut meta = identity::request_meta(&state, uri.path(), &headers, &request, None);
        if let Some(auth) = identity::key_auth(&extensions) {
            meta.owner = auth.owner();
        }
        let ctx = CallContext {
            request_id: request_id.clone(),
            client_headers: headers,
            meta,
            caller: caller(&extensions),
            state: None,
            held: Default::default(),
        };
        state
            .gateway()
            .count_input_tokens(request, ctx)
            .await
            .map_err(crate::error::Refusal::from)
    }
    .await;
    let mut response = match result {
        Ok(count) => {
            let mut response = Json(json!({
                "object": "response.input_tokens",
                "input_tokens": count.input_tokens,
            }))
            .into_response();
            let source = if count.exact { "exact" } else { "estimate" };
            for (name, value) in [
                ("x-switchyard-input-tokens", source),
                ("x-switchyard-deployment", count.deployment.id.as_str()),
                ("x-litellm-model-id", count.deployment.id.as_str()),
                (
                    "x-litellm-model-group",
                    count.deployment.model_name.as_str(),
                ),
            ] {
                if let Ok(value) = HeaderValue::from_str(value) {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(name), value);
                }
            }
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
