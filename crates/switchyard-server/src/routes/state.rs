//! The stateful routes: stored responses (`GET` / `DELETE /v1/responses/{id}`, its
//! `input_items`, `cancel`) and the Conversations API. Each is a thin reading of the request
//! around [`switchyard::state::State`], which holds the rules.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, Uri};
use serde::Deserialize;
use switchyard::Error;
use switchyard::state::ListQuery;
use switchyard::types::responses::Item;
use switchyard_types::JsonMap;

use super::responses::{caller, read_json};
use crate::error::ApiError;
use crate::state::AppState;

/// Decoded query pairs (`include[]=a&include[]=b` stays two pairs).
fn pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn list_query(uri: &Uri) -> Result<ListQuery, Error> {
    let pairs = pairs(uri);
    ListQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// `include=reasoning.encrypted_content` (or `include[]=…`) is on the query.
fn includes_encrypted(uri: &Uri) -> bool {
    pairs(uri)
        .iter()
        .any(|(k, v)| (k == "include" || k == "include[]") && v == "reasoning.encrypted_content")
}

fn answer<T: serde::Serialize>(result: Result<T, Error>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => ApiError(error).into_response(),
    }
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    extensions: Extensions,
) -> Response {
    let pairs = pairs(&uri);
    if pairs.iter().any(|(k, v)| k == "stream" && v == "true") {
        let after = match pairs.iter().find(|(k, _)| k == "starting_after") {
            None => None,
            Some((_, v)) => match v.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return ApiError(
                        Error::invalid_request(
                            "Invalid 'starting_after': expected a sequence number.",
                            Some("starting_after"),
                        )
                        .with_code("invalid_value"),
                    )
                    .into_response();
                }
            },
        };
        return match state
            .gateway()
            .replay(&id, &caller(&extensions), after)
            .await
        {
            Ok(events) => crate::sse::response(events),
            Err(error) => ApiError(error).into_response(),
        };
    }
    let result = state
        .gateway()
        .state()
        .retrieve(&id, &caller(&extensions), includes_encrypted(&uri))
        .await;
    answer(result)
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: Extensions,
) -> Response {
    answer(
        state
            .gateway()
            .state()
            .delete(&id, &caller(&extensions))
            .await,
    )
}

/// `GET /v1/responses/{id}/input_items`.
pub async fn input_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    extensions: Extensions,
) -> Response {
    let result = async {
        let query = list_query(&uri)?;
        state
            .gateway()
            .state()
            .input_items(&id, &caller(&extensions), &query)
            .await
    }
    .await;
    answer(result)
}

/// `POST /v1/responses/{id}/cancel`: cancels a background response, on whichever replica
/// runs it.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: Extensions,
) -> Response {
    answer(state.gateway().cancel(&id, &caller(&extensions)).await)
}

/// The body of `POST /v1/conversations`.
#[derive(Debug, Default, Deserialize)]
struct NewConversation {
    #[serde(default)]
    items: Option<Vec<Item>>,
    #[serde(default)]
    metadata: Option<JsonMap>,
}

/// The body of `POST /v1/conversations/{id}`.
#[derive(Debug, Deserialize)]
struct ConversationUpdate {
    metadata: JsonMap,
}

/// The body of `POST /v1/conversations/{id}/items`.
#[derive(Debug, Deserialize)]
struct NewItems {
    items: Vec<Item>,
}

/// `POST /v1/conversations`.
pub async fn create_conversation(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body: NewConversation = read_json(&state, &headers, body, true).await?;
        state
            .gateway()
            .state()
            .create_conversation(
                body.items.unwrap_or_default(),
                body.metadata.unwrap_or_default(),
                &caller(&extensions),
            )
            .await
    }
    .await;
    answer(result)
}

/// `GET /v1/conversations/{id}`.
pub async fn conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: Extensions,
) -> Response {
    answer(
        state
            .gateway()
            .state()
            .conversation(&id, &caller(&extensions))
            .await,
    )
}

/// `POST /v1/conversations/{id}`: updates the metadata.
pub async fn update_conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body: ConversationUpdate = read_json(&state, &headers, body, false).await?;
        state
            .gateway()
            .state()
            .update_conversation(&id, body.metadata, &caller(&extensions))
            .await
    }
    .await;
    answer(result)
}

/// `DELETE /v1/conversations/{id}`.
pub async fn delete_conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: Extensions,
) -> Response {
    answer(
        state
            .gateway()
            .state()
            .delete_conversation(&id, &caller(&extensions))
            .await,
    )
}

/// `POST /v1/conversations/{id}/items`.
pub async fn add_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body: NewItems = read_json(&state, &headers, body, false).await?;
        state
            .gateway()
            .state()
            .add_items(
                &id,
                body.items,
                &caller(&extensions),
                includes_encrypted(&uri),
            )
            .await
    }
    .await;
    answer(result)
}

/// `GET /v1/conversations/{id}/items`.
pub async fn list_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    extensions: Extensions,
) -> Response {
    let result = async {
        let query = list_query(&uri)?;
        state
            .gateway()
            .state()
            .list_items(&id, &caller(&extensions), &query)
            .await
    }
    .await;
    answer(result)
}

/// `GET /v1/conversations/{id}/items/{item_id}`.
pub async fn item(
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
    uri: Uri,
    extensions: Extensions,
) -> Response {
    answer(
        state
            .gateway()
            .state()
            .item(&id, &item, &caller(&extensions), includes_encrypted(&uri))
            .await,
    )
}

/// `DELETE /v1/conversations/{id}/items/{item_id}`: answers the conversation.
pub async fn delete_item(
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
    extensions: Extensions,
) -> Response {
    answer(
        state
            .gateway()
            .state()
            .delete_item(&id, &item, &caller(&extensions))
            .await,
    )
}
