//! `POST /v1/responses/compact`: a history compacted into one opaque `compaction` item (by the
//! upstream where it has compaction of its own, else by the same model through the gateway).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderValue, Uri};
use switchyard::ids;
use switchyard::types::responses::CreateResponse;

use super::responses::{call_context, client_ip, read_json};
use crate::error::Refusal;
use crate::identity;
use crate::state::AppState;

/// Compacts the history the body names (`input`, or `previous_response_id`).
pub async fn compact(
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
            .map_err(Refusal::from)?;
        let client = client_ip(&extensions);
        let ctx = call_context(
            &state,
            &uri,
            headers,
            &extensions,
            client,
            &request,
            &request_id,
        );
        // A compaction calls a model: the key's models, budgets and limits apply.
        let _admitted = identity::check_key(&state, &extensions, &request, &request_id).await?;
        identity::check_budget(&state, ctx.meta.end_user.as_deref())?;
        state
            .gateway()
            .compact(request, ctx)
            .await
            .map_err(Refusal::from)
    }
    .await;
    let mut response = match result {
        Ok(compacted) => Json(compacted).into_response(),
        Err(refusal) => refusal.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
