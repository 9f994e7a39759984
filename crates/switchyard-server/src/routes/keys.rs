//! LiteLLM's key and team management API: `POST /key/generate`, `/key/update`, `/key/delete`,
//! `/key/block`, `/key/unblock`, `/key/regenerate` (and `/key/{key}/regenerate`); `GET
//! /key/info`, `/key/list`; `POST /team/new`, `/team/update`, `/team/delete`,
//! `/team/member_add`, `/team/member_delete`, `/team/block`, `/team/unblock`; `GET
//! /team/info`, `/team/list`. The master key only, except `GET /key/info` for the caller's own
//! key. Keys are answered with their text only when created or regenerated; afterwards they
//! are known by their hash (`token`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{Extensions, HeaderMap};
use serde_json::{Value, json};
use switchyard::{Error, ErrorKind};

use crate::error::ApiError;
use crate::identity::{hash_key, key_auth};
use crate::keys::model::{Fields, KeyChanges, Member, Team, TeamChanges, VirtualKey, abbreviate};
use crate::keys::{KeyAuth, KeyStore};
use crate::routes::responses::read_json;
use crate::spend::store::now_ms;
use crate::state::AppState;

type Params = Query<HashMap<String, String>>;
type Answer = Result<Value, ApiError>;

fn respond(answer: Answer) -> Response {
    match answer {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

fn keys(state: &AppState) -> Result<&Arc<KeyStore>, ApiError> {
    state.keys().ok_or_else(|| {
        ApiError(
            Error::new(
                ErrorKind::NotFound,
                "Virtual keys need the gateway's database, which is not enabled here.",
            )
            .with_code("keys_disabled"),
        )
    })
}

fn bad(message: impl Into<String>, param: &str) -> ApiError {
    ApiError(Error::invalid_request(message, Some(param)))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("key API: {e}");
    ApiError(
        Error::new(ErrorKind::Internal, "The key store could not answer.")
            .with_code("key_store_unavailable"),
    )
}

fn key_not_found() -> ApiError {
    ApiError(Error::new(ErrorKind::NotFound, "No such key.").with_code("key_not_found"))
}

fn team_not_found(id: &str) -> ApiError {
    ApiError(
        Error::new(
            ErrorKind::NotFound,
            format!("No team {}.", switchyard::text::echo(id)),
        )
        .with_code("team_not_found"),
    )
}

fn store_error(e: crate::spend::StoreError, what: &str) -> ApiError {
    if e.0 == "conflict" {
        return ApiError(
            Error::invalid_request(format!("{what} is already taken."), None)
                .with_code("already_exists"),
        );
    }
    internal(e)
}

/// The hash a request names a key by: its text (`sk-…`), or the hash itself.
fn token_of(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_prefix("Bearer ").unwrap_or(text);
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        text.to_ascii_lowercase()
    } else {
        hash_key(text)
    }
}

/// The key text the caller chose in `field` (`sk-…`, at least 8 characters), or a new one.
fn chosen_or_new_key(fields: &Fields<'_>, field: &str) -> Result<String, ApiError> {
    match fields.text(field).map_err(ApiError)?.value() {
        Some(text) if !text.starts_with("sk-") || text.len() < 8 => Err(bad(
            format!("A key given as '{field}' must start with sk- and be at least 8 characters."),
            field,
        )),
        Some(text) => Ok(text),
        None => new_key(),
    }
}

/// A new key: `sk-` and 16 random bytes, URL-safe base64 (LiteLLM's shape).
fn new_key() -> Result<String, ApiError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| internal("the system's random source failed"))?;
    Ok(format!(
        "sk-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn new_team_id() -> Result<String, ApiError> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| internal("the system's random source failed"))?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

async fn body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    read_json::<Value>(state, headers, body, true)
        .await
        .map_err(ApiError)
}

fn read(fields: Result<Fields<'_>, Error>) -> Result<Fields<'_>, ApiError> {
    fields.map_err(ApiError)
}

/// A key's answer: the row, its spend now.
fn key_json(keys: &KeyStore, key: &VirtualKey) -> Value {
    let mut value = key.to_json(keys.key_spend(&key.token));
    if key.budget_duration.is_some() {
        value["budget_reset_at"] = reset_json(keys.reset_at(false, &key.token));
    }
    value
}

fn team_json(keys: &KeyStore, team: &Team) -> Value {
    let mut value = team.to_json(keys.team_spend(&team.team_id));
    if team.budget_duration.is_some() {
        value["budget_reset_at"] = reset_json(keys.reset_at(true, &team.team_id));
    }
    value
}

fn reset_json(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| {
        Value::String(crate::spend::store::rfc3339(ms))
    })
}

/// The generate answer: the row with the key's text (shown this once) under `key`.
fn generated(keys: &KeyStore, key: &VirtualKey, text: &str) -> Value {
    let mut value = key_json(keys, key);
    if let Value::Object(map) = &mut value {
        map.insert("key".into(), Value::String(text.to_string()));
    }
    value
}

fn check_team(keys: &KeyStore, key: &VirtualKey) -> Result<(), ApiError> {
    match &key.team_id {
        Some(team) if keys.team(team).is_none() => Err(bad(
            format!("team_id {} names no team.", switchyard::text::echo(team)),
            "team_id",
        )),
        _ => Ok(()),
    }
}

/// `POST /key/generate`.
pub async fn generate(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let text = chosen_or_new_key(&fields, "key")?;
            let now = now_ms();
            let changes = KeyChanges::read(&fields, now).map_err(ApiError)?;
            let mut key = VirtualKey {
                token: hash_key(&text),
                key_name: abbreviate(&text),
                created_at: now,
                updated_at: now,
                ..VirtualKey::default()
            };
            changes.apply(&mut key, now);
            check_team(keys, &key)?;
            keys.store()
                .insert_key(&key)
                .await
                .map_err(|e| store_error(e, "The key or its key_alias"))?;
            keys.cache_key(key.clone(), None);
            Ok(generated(keys, &key, &text))
        }
        .await,
    )
}

/// The key a body names under `key` (its text or its hash): (that text, the key).
fn named_key(keys: &KeyStore, fields: &Fields<'_>) -> Result<(String, Arc<VirtualKey>), ApiError> {
    let text = fields
        .text("key")
        .map_err(ApiError)?
        .value()
        .ok_or_else(|| bad("'key' is required.", "key"))?;
    let token = token_of(&text);
    let key = keys.key(&token).ok_or_else(key_not_found)?;
    Ok((text, key))
}

/// Writes a changed key; answers `{"key": …, …row}`: `key` is the new text of a regenerated
/// key (shown this once), else the hash, so an answer never repeats a key's text.
async fn save(keys: &KeyStore, old_token: &str, key: VirtualKey, shown: Option<&str>) -> Answer {
    check_team(keys, &key)?;
    let written = keys
        .store()
        .update_key(old_token, &key)
        .await
        .map_err(|e| store_error(e, "The key_alias"))?;
    if !written {
        return Err(key_not_found());
    }
    keys.cache_key(key.clone(), Some(old_token));
    let mut value = key_json(keys, &key);
    if let Value::Object(map) = &mut value {
        let shown = shown.unwrap_or(&key.token);
        map.insert("key".into(), Value::String(shown.to_string()));
    }
    Ok(value)
}

/// `POST /key/update`.
pub async fn update(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let (_, key) = named_key(keys, &fields)?;
            let now = now_ms();
            let changes = KeyChanges::read(&fields, now).map_err(ApiError)?;
            let mut key = VirtualKey::clone(&key);
            changes.apply(&mut key, now);
            key.updated_at = now;
            let token = key.token.clone();
            save(keys, &token, key, None).await
        }
        .await,
    )
}

async fn set_blocked(state: AppState, headers: HeaderMap, raw: Body, blocked: bool) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let (_, key) = named_key(keys, &fields)?;
            let mut key = VirtualKey::clone(&key);
            key.blocked = blocked;
            key.updated_at = now_ms();
            let token = key.token.clone();
            save(keys, &token, key, None).await
        }
        .await,
    )
}

/// `POST /key/block`.
pub async fn block(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    set_blocked(state, headers, raw, true).await
}

/// `POST /key/unblock`.
pub async fn unblock(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    set_blocked(state, headers, raw, false).await
}

/// `POST /key/delete`: `{"keys": [...]}` (texts or hashes) or `{"key_aliases": [...]}`;
/// answers the hashes deleted (never the texts), or the aliases.
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let named = fields.list("keys").map_err(ApiError)?.value();
            let aliases = fields.list("key_aliases").map_err(ApiError)?.value();
            let mut tokens = Vec::new();
            let mut shown = Vec::new();
            match (named, aliases) {
                (Some(named), _) if !named.is_empty() => {
                    for text in named {
                        let token = token_of(&text);
                        if keys.key(&token).is_some() {
                            shown.push(token.clone());
                            tokens.push(token);
                        }
                    }
                }
                (_, Some(aliases)) if !aliases.is_empty() => {
                    for key in keys.keys() {
                        if let Some(alias) = key.key_alias.as_ref().filter(|a| aliases.contains(a))
                        {
                            tokens.push(key.token.clone());
                            shown.push(alias.clone());
                        }
                    }
                }
                _ => return Err(bad("Give 'keys' or 'key_aliases' (a list).", "keys")),
            }
            if tokens.is_empty() {
                return Err(key_not_found());
            }
            let deleted = keys.store().delete_keys(&tokens).await.map_err(internal)?;
            keys.uncache_keys(&deleted);
            Ok(json!({"deleted_keys": shown}))
        }
        .await,
    )
}

async fn regenerate_key(state: &AppState, named: Option<String>, value: Value) -> Answer {
    let keys = keys(state)?;
    let fields = read(Fields::of(&value))?;
    let text = match named {
        Some(text) => text,
        None => fields
            .text("key")
            .map_err(ApiError)?
            .value()
            .ok_or_else(|| bad("'key' is required.", "key"))?,
    };
    let old = keys.key(&token_of(&text)).ok_or_else(key_not_found)?;
    let new_text = chosen_or_new_key(&fields, "new_key")?;
    let now = now_ms();
    let changes = KeyChanges::read(&fields, now).map_err(ApiError)?;
    let mut key = VirtualKey::clone(&old);
    changes.apply(&mut key, now);
    key.token = hash_key(&new_text);
    key.key_name = abbreviate(&new_text);
    key.updated_at = now;
    save(keys, &old.token, key, Some(&new_text)).await
}

/// `POST /key/regenerate` (`{"key": …}`): a new key text for the same key; the old one stops
/// working.
pub async fn regenerate(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let value = body(&state, &headers, raw).await?;
            regenerate_key(&state, None, value).await
        }
        .await,
    )
}

/// `POST /key/{key}/regenerate`.
pub async fn regenerate_named(
    State(state): State<AppState>,
    Path(named): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    respond(
        async {
            let value = body(&state, &headers, raw).await?;
            regenerate_key(&state, Some(named), value).await
        }
        .await,
    )
}

/// `GET /key/info?key=…`: `{"key": hash, "info"}` (the hash, as LiteLLM answers for the
/// caller's own key: the text is never repeated). A virtual key may ask only about itself
/// (and without `key`, it is asking about itself).
pub async fn info(
    State(state): State<AppState>,
    extensions: Extensions,
    Query(params): Params,
) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let own: Option<&KeyAuth> = key_auth(&extensions);
            let asked = params.get("key").filter(|k| !k.is_empty()).cloned();
            let token = match (&asked, own) {
                (Some(text), _) => token_of(text),
                (None, Some(auth)) => auth.key.token.clone(),
                (None, None) => return Err(bad("'key' is required.", "key")),
            };
            if let Some(auth) = own
                && !bool::from(subtle::ConstantTimeEq::ct_eq(
                    auth.key.token.as_bytes(),
                    token.as_bytes(),
                ))
            {
                return Err(ApiError(
                    Error::new(
                        ErrorKind::PermissionDenied,
                        "A virtual key may only read its own /key/info.",
                    )
                    .with_code("route_not_allowed"),
                ));
            }
            let key = keys.key(&token).ok_or_else(key_not_found)?;
            let mut info = key_json(keys, &key);
            info["spend"] = json!(
                keys.spend_now(false, &key.token, key.max_budget.is_some())
                    .await
            );
            Ok(json!({"key": key.token, "info": info}))
        }
        .await,
    )
}

fn page_params(params: &HashMap<String, String>) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(format!("{name} must be a number of at least 1."), name)),
        }
    };
    Ok((number("page", 1)?, number("size", 10)?.min(100)))
}

/// `GET /key/list?page=&size=&team_id=&user_id=&key_alias=&return_full_object=`.
pub async fn list(State(state): State<AppState>, Query(params): Params) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let (page, size) = page_params(&params)?;
            let want = |name: &str| params.get(name).filter(|v| !v.is_empty());
            let matching: Vec<Arc<VirtualKey>> = keys
                .keys()
                .into_iter()
                .filter(|k| want("team_id").is_none_or(|t| k.team_id.as_ref() == Some(t)))
                .filter(|k| want("user_id").is_none_or(|u| k.user_id.as_ref() == Some(u)))
                .filter(|k| want("key_alias").is_none_or(|a| k.key_alias.as_ref() == Some(a)))
                .collect();
            let full = params
                .get("return_full_object")
                .is_some_and(|v| v == "true" || v == "1");
            let total = matching.len();
            let shown: Vec<Value> = matching
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|k| {
                    if full {
                        key_json(keys, k)
                    } else {
                        Value::String(k.token.clone())
                    }
                })
                .collect();
            Ok(json!({
                "keys": shown,
                "total_count": total,
                "current_page": page,
                "total_pages": total.div_ceil(size),
            }))
        }
        .await,
    )
}

// --- Teams ---

fn named_team(keys: &KeyStore, fields: &Fields<'_>) -> Result<Arc<Team>, ApiError> {
    let id = fields
        .text("team_id")
        .map_err(ApiError)?
        .value()
        .ok_or_else(|| bad("'team_id' is required.", "team_id"))?;
    keys.team(&id).ok_or_else(|| team_not_found(&id))
}

async fn save_team(keys: &KeyStore, team: Team) -> Result<Team, ApiError> {
    let written = keys
        .store()
        .save_team(&team, false)
        .await
        .map_err(internal)?;
    if !written {
        return Err(team_not_found(&team.team_id));
    }
    keys.cache_team(team.clone());
    Ok(team)
}

/// `POST /team/new`.
pub async fn team_new(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let id = match fields.text("team_id").map_err(ApiError)?.value() {
                Some(id) if id.trim().is_empty() => {
                    return Err(bad("'team_id' must not be empty.", "team_id"));
                }
                Some(id) => id,
                None => new_team_id()?,
            };
            let now = now_ms();
            let mut team = Team {
                team_id: id,
                created_at: now,
                updated_at: now,
                ..Team::default()
            };
            TeamChanges::read(&fields)
                .map_err(ApiError)?
                .apply(&mut team, now);
            keys.store()
                .save_team(&team, true)
                .await
                .map_err(|e| store_error(e, "The team_id"))?;
            keys.cache_team(team.clone());
            Ok(team_json(keys, &team))
        }
        .await,
    )
}

/// `POST /team/update`: `{"team_id", "data"}`.
pub async fn team_update(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let mut team = Team::clone(named_team(keys, &fields)?.as_ref());
            let now = now_ms();
            TeamChanges::read(&fields)
                .map_err(ApiError)?
                .apply(&mut team, now);
            team.updated_at = now;
            let team = save_team(keys, team).await?;
            Ok(json!({"team_id": team.team_id, "data": team_json(keys, &team)}))
        }
        .await,
    )
}

/// `POST /team/delete`: `{"team_ids": [...]}`; the teams' keys go with them.
pub async fn team_delete(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let ids = fields
                .list("team_ids")
                .map_err(ApiError)?
                .value()
                .filter(|ids| !ids.is_empty())
                .ok_or_else(|| bad("'team_ids' is required (a list).", "team_ids"))?;
            if let Some(missing) = ids.iter().find(|id| keys.team(id).is_none()) {
                return Err(team_not_found(missing));
            }
            let deleted = keys.store().delete_teams(&ids).await.map_err(internal)?;
            keys.uncache_teams(&deleted);
            Ok(json!({"deleted_teams": deleted}))
        }
        .await,
    )
}

async fn team_blocked(state: AppState, headers: HeaderMap, raw: Body, blocked: bool) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let mut team = Team::clone(named_team(keys, &fields)?.as_ref());
            team.blocked = blocked;
            team.updated_at = now_ms();
            let team = save_team(keys, team).await?;
            Ok(team_json(keys, &team))
        }
        .await,
    )
}

/// `POST /team/block`.
pub async fn team_block(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    team_blocked(state, headers, raw, true).await
}

/// `POST /team/unblock`.
pub async fn team_unblock(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    team_blocked(state, headers, raw, false).await
}

/// `POST /team/member_add`: `{"team_id", "member": {…} | [{…}]}`.
pub async fn member_add(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let mut team = Team::clone(named_team(keys, &fields)?.as_ref());
            let members = match fields.value("member") {
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Member::from_json(m, &format!("member[{i}]")))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(ApiError)?,
                Some(m @ Value::Object(_)) => vec![Member::from_json(m, "member").map_err(ApiError)?],
                _ => return Err(bad("'member' is required (a member or a list).", "member")),
            };
            for member in &members {
                match team.members.iter_mut().find(|m| m.same(member)) {
                    Some(existing) => *existing = member.clone(),
                    None => team.members.push(member.clone()),
                }
            }
            team.updated_at = now_ms();
            let team = save_team(keys, team).await?;
            let mut answer = team_json(keys, &team);
            if let Value::Object(map) = &mut answer {
                let updated: Vec<Value> = members
                    .iter()
                    .map(|m| json!({"user_id": m.user_id, "user_email": m.user_email, "role": m.role}))
                    .collect();
                map.insert("updated_users".into(), Value::Array(updated));
            }
            Ok(answer)
        }
        .await,
    )
}

/// `POST /team/member_delete`: `{"team_id", "user_id" | "user_email"}`.
pub async fn member_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let value = body(&state, &headers, raw).await?;
            let fields = read(Fields::of(&value))?;
            let mut team = Team::clone(named_team(keys, &fields)?.as_ref());
            let gone = Member {
                user_id: fields.text("user_id").map_err(ApiError)?.value(),
                user_email: fields.text("user_email").map_err(ApiError)?.value(),
                role: "user".into(),
            };
            if gone.user_id.is_none() && gone.user_email.is_none() {
                return Err(bad("Give 'user_id' or 'user_email'.", "user_id"));
            }
            let before = team.members.len();
            team.members.retain(|m| !m.same(&gone));
            if team.members.len() == before {
                return Err(ApiError(
                    Error::new(ErrorKind::NotFound, "No such member in the team.")
                        .with_code("member_not_found"),
                ));
            }
            team.updated_at = now_ms();
            let team = save_team(keys, team).await?;
            Ok(team_json(keys, &team))
        }
        .await,
    )
}

/// `GET /team/info?team_id=`: `{"team_id", "team_info", "keys"}`.
pub async fn team_info(State(state): State<AppState>, Query(params): Params) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            let id = params
                .get("team_id")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad("'team_id' is required.", "team_id"))?;
            let team = keys.team(id).ok_or_else(|| team_not_found(id))?;
            let team_keys: Vec<Value> = keys
                .keys()
                .iter()
                .filter(|k| k.team_id.as_deref() == Some(id.as_str()))
                .map(|k| key_json(keys, k))
                .collect();
            let mut info = team_json(keys, &team);
            info["spend"] = json!(
                keys.spend_now(true, &team.team_id, team.max_budget.is_some())
                    .await
            );
            Ok(json!({
                "team_id": team.team_id,
                "team_info": info,
                "keys": team_keys,
                "team_memberships": [],
            }))
        }
        .await,
    )
}

/// `GET /team/list`: every team.
pub async fn team_list(State(state): State<AppState>) -> Response {
    respond(
        async {
            let keys = keys(&state)?;
            Ok(Value::Array(
                keys.teams().iter().map(|t| team_json(keys, t)).collect(),
            ))
        }
        .await,
    )
}
