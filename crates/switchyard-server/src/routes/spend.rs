//! The spend API (master key): `GET /spend/logs`, `GET /global/spend/report`, and the end-user
//! (customer) routes `GET /customer/info`, `POST /customer/new`, `/customer/update`,
//! `/customer/block`, `/customer/unblock`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchyard::{Error, ErrorKind};

use crate::error::ApiError;
use crate::identity::hash_key;
use crate::spend::store::{GroupBy, LogFilter, parse_day};
use crate::spend::{Accounting, EndUser};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;

type Params = Query<HashMap<String, String>>;

fn accounting(state: &AppState) -> Result<&Accounting, ApiError> {
    state.accounting().ok_or_else(|| {
        ApiError(
            Error::new(
                ErrorKind::NotFound,
                "Spend tracking is not enabled on this gateway (no spend-log database).",
            )
            .with_code("spend_tracking_disabled"),
        )
    })
}

fn bad(message: String, param: &str) -> ApiError {
    ApiError(Error::invalid_request(message, Some(param)))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("spend API: {e}");
    ApiError(Error::new(
        ErrorKind::Internal,
        "The spend-log database could not answer.",
    ))
}

/// Filters shared by the log and report routes.
fn filter(params: &HashMap<String, String>) -> Result<LogFilter, ApiError> {
    let day = |name: &str| -> Result<Option<i64>, ApiError> {
        match params.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_day(v)
                .map(Some)
                .ok_or_else(|| bad(format!("{name} must be a date as YYYY-MM-DD."), name)),
        }
    };
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| params.get(*n).filter(|v| !v.is_empty()).cloned())
    };
    let api_key = text(&["api_key"]).map(|key| {
        // A stored hash is accepted as it is; anything else is a key to hash.
        if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            key.to_ascii_lowercase()
        } else {
            hash_key(key.strip_prefix("Bearer ").unwrap_or(&key))
        }
    });
    let limit = match params.get("limit") {
        None => 1000,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| bad("limit must be a number.".into(), "limit"))?,
    };
    Ok(LogFilter {
        start_ms: day("start_date")?,
        // The end date is inclusive: rows up to the end of that day.
        end_ms: day("end_date")?.map(|d| d + DAY_MS),
        api_key_hash: api_key,
        end_user: text(&["end_user", "user", "customer_id", "end_user_id"]),
        team_id: text(&["team_id"]),
        key_alias: text(&["key_alias", "api_key_alias"]),
        model: text(&["model"]),
        request_id: text(&["request_id"]),
        limit,
    })
}

/// `GET /spend/logs`: rows, newest first.
pub async fn logs(State(state): State<AppState>, Query(params): Params) -> Response {
    let result = async {
        let accounting = accounting(&state)?;
        let filter = filter(&params)?;
        accounting.store().logs(&filter).await.map_err(internal)
    }
    .await;
    match result {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /global/spend/report?group_by=day|model|api_key|end_user`.
pub async fn report(State(state): State<AppState>, Query(params): Params) -> Response {
    let result = async {
        let accounting = accounting(&state)?;
        let group_by = match params.get("group_by").map(String::as_str) {
            None | Some("day" | "date") => GroupBy::Day,
            Some("model" | "model_group") => GroupBy::Model,
            Some("api_key" | "key") => GroupBy::Key,
            Some("end_user" | "customer" | "user") => GroupBy::EndUser,
            Some("team" | "team_id") => GroupBy::Team,
            Some("key_alias" | "api_key_alias") => GroupBy::KeyAlias,
            Some(other) => {
                return Err(bad(
                    format!(
                        "group_by must be day, model, api_key, end_user, team or key_alias, not \
                         {other}."
                    ),
                    "group_by",
                ));
            }
        };
        let filter = filter(&params)?;
        let rows = accounting
            .store()
            .report(group_by, &filter)
            .await
            .map_err(internal)?;
        let name = match group_by {
            GroupBy::Day => "date",
            GroupBy::Model => "model",
            GroupBy::Key => "api_key",
            GroupBy::EndUser => "end_user",
            GroupBy::Team => "team_id",
            GroupBy::KeyAlias => "key_alias",
        };
        Ok(rows
            .into_iter()
            .map(|r| {
                json!({
                    name: r.group,
                    "spend": r.spend,
                    "requests": r.requests,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                    "total_tokens": r.total_tokens,
                })
            })
            .collect::<Vec<_>>())
    }
    .await;
    match result {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => e.into_response(),
    }
}

fn customer_json(accounting: &Accounting, user: &EndUser) -> Value {
    json!({
        "user_id": user.user_id,
        "spend": user.spend,
        "max_budget": user.max_budget,
        "budget": accounting.budget_of(user),
        "blocked": user.blocked,
    })
}

/// `GET /customer/info?end_user_id=`.
pub async fn customer_info(State(state): State<AppState>, Query(params): Params) -> Response {
    let result = (|| {
        let accounting = accounting(&state)?;
        let id = params
            .get("end_user_id")
            .or_else(|| params.get("user_id"))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad("end_user_id is required.".into(), "end_user_id"))?;
        let user = accounting.end_user(id).ok_or_else(|| {
            ApiError(
                Error::new(ErrorKind::NotFound, format!("End user {id} not found."))
                    .with_code("end_user_not_found"),
            )
        })?;
        Ok::<_, ApiError>(customer_json(accounting, &user))
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn body_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError(
            Error::invalid_request("The request body must be a JSON object.", None)
                .with_code("invalid_json"),
        )),
    }
}

fn budget_field(body: &serde_json::Map<String, Value>) -> Result<Option<f64>, ApiError> {
    match body.get("max_budget") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|b| b.is_finite() && *b >= 0.0)
            .map(Some)
            .ok_or_else(|| {
                bad(
                    "max_budget must be a non-negative number.".into(),
                    "max_budget",
                )
            }),
    }
}

fn user_id_field(body: &serde_json::Map<String, Value>) -> Result<String, ApiError> {
    body.get("user_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| bad("user_id is required.".into(), "user_id"))
}

/// `POST /customer/new {user_id, max_budget?, blocked?}`.
pub async fn customer_new(State(state): State<AppState>, body: bytes::Bytes) -> Response {
    let result = async {
        let accounting = accounting(&state)?;
        let body = body_object(&body)?;
        let user_id = user_id_field(&body)?;
        if accounting.end_user(&user_id).is_some() {
            return Err(ApiError(
                Error::invalid_request(format!("End user {user_id} already exists."), None)
                    .with_code("end_user_exists"),
            ));
        }
        let user = EndUser {
            user_id,
            spend: 0.0,
            max_budget: budget_field(&body)?,
            blocked: body
                .get("blocked")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        let saved = accounting.save_end_user(user).await.map_err(internal)?;
        Ok::<_, ApiError>(customer_json(accounting, &saved))
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /customer/update {user_id, max_budget?, blocked?}`.
pub async fn customer_update(State(state): State<AppState>, body: bytes::Bytes) -> Response {
    let result = async {
        let accounting = accounting(&state)?;
        let body = body_object(&body)?;
        let user_id = user_id_field(&body)?;
        let mut user = accounting.end_user(&user_id).ok_or_else(|| {
            ApiError(
                Error::new(
                    ErrorKind::NotFound,
                    format!("End user {user_id} not found."),
                )
                .with_code("end_user_not_found"),
            )
        })?;
        if body.contains_key("max_budget") {
            user.max_budget = budget_field(&body)?;
        }
        if let Some(blocked) = body.get("blocked").and_then(Value::as_bool) {
            user.blocked = blocked;
        }
        let saved = accounting.save_end_user(user).await.map_err(internal)?;
        Ok::<_, ApiError>(customer_json(accounting, &saved))
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn set_blocked(state: &AppState, body: &[u8], blocked: bool) -> Result<Value, ApiError> {
    let accounting = accounting(state)?;
    let body = body_object(body)?;
    let ids: Vec<String> = match body.get("user_ids") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![user_id_field(&body)?],
    };
    if ids.is_empty() {
        return Err(bad("user_ids must list end users.".into(), "user_ids"));
    }
    let mut out = Vec::new();
    for id in ids {
        let mut user = accounting.end_user(&id).unwrap_or(EndUser {
            user_id: id,
            ..EndUser::default()
        });
        user.blocked = blocked;
        let saved = accounting.save_end_user(user).await.map_err(internal)?;
        out.push(customer_json(accounting, &saved));
    }
    Ok(json!({ "blocked_users": out }))
}

/// `POST /customer/block {user_ids: [...]}`.
pub async fn customer_block(State(state): State<AppState>, body: bytes::Bytes) -> Response {
    match set_blocked(&state, &body, true).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /customer/unblock {user_ids: [...]}`.
pub async fn customer_unblock(State(state): State<AppState>, body: bytes::Bytes) -> Response {
    match set_blocked(&state, &body, false).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}
