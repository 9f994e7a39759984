//! Who a request is for: the hashed key, the end user (LiteLLM's resolution order), tags and
//! metadata for the spend log, and the end user's budget, checked before any provider call.

use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard::accounting::RequestMeta;
use switchyard::types::responses::CreateResponse;
use switchyard::{Error, ErrorKind};
use switchyard_types::JsonMap;

use crate::auth::presented_key;
use crate::error::Refusal;
use crate::state::AppState;

/// The accounting facts of one request.
pub fn request_meta(
    state: &AppState,
    route: &str,
    headers: &HeaderMap,
    request: &CreateResponse,
    client_ip: Option<String>,
) -> RequestMeta {
    let accounting = state.accounting();
    let user_headers = accounting.map_or(&[][..], |a| a.options().user_headers.as_slice());
    RequestMeta {
        route: Some(route.to_string()),
        api_key_hash: presented_key(headers).map(hash_key),
        end_user: end_user(headers, user_headers, request),
        owner: Default::default(),
        tags: tags(headers, request),
        metadata: metadata(headers, request),
        client_ip,
        store_prompts: state.keeps_messages(),
    }
}

/// SHA-256 of a key, in hex: what spend logs store and `api_key` filters match.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The end user, first found of: `x-litellm-customer-id`, `x-litellm-end-user-id`, the
/// configured `user_header_mappings`, body `user`, `litellm_metadata.user`,
/// `metadata.user_id`, `safety_identifier`.
pub fn end_user(
    headers: &HeaderMap,
    user_headers: &[String],
    request: &CreateResponse,
) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    header("x-litellm-customer-id")
        .or_else(|| header("x-litellm-end-user-id"))
        .or_else(|| user_headers.iter().find_map(|name| header(name)))
        .or_else(|| non_empty(request.user.as_deref()))
        .or_else(|| {
            non_empty(
                request
                    .extra
                    .get("litellm_metadata")
                    .and_then(|m| m.get("user"))
                    .and_then(Value::as_str),
            )
        })
        .or_else(|| {
            non_empty(
                request
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("user_id"))
                    .and_then(Value::as_str),
            )
        })
        .or_else(|| non_empty(request.safety_identifier.as_deref()))
}

/// `x-litellm-tags` (comma-separated) and `metadata.tags` (a list or comma-separated text).
fn tags(headers: &HeaderMap, request: &CreateResponse) -> Vec<String> {
    switchyard::accounting::tags(
        headers.get("x-litellm-tags").and_then(|v| v.to_str().ok()),
        request.metadata.as_ref().and_then(|m| m.get("tags")),
    )
}

/// The request's `metadata` with the JSON object of `x-litellm-spend-logs-metadata` over it.
fn metadata(headers: &HeaderMap, request: &CreateResponse) -> JsonMap {
    let mut metadata = request.metadata.clone().unwrap_or_default();
    if let Some(Value::Object(extra)) = headers
        .get("x-litellm-spend-logs-metadata")
        .and_then(|v| v.to_str().ok())
        .and_then(|text| serde_json::from_str(text).ok())
    {
        metadata.extend(extra);
    }
    metadata
}

/// A request admitted under a virtual key's limits: its place among the requests in flight
/// (held until the answer has been sent, or a background response has ended) and what is left
/// of its rate limits.
#[derive(Debug)]
pub struct Admitted {
    /// Released when dropped; taken by a background response, whose run holds it.
    pub in_flight: Option<crate::keys::InFlight>,
    /// For the `x-ratelimit-*` headers.
    pub remaining: crate::keys::Remaining,
}

/// The virtual key the authentication middleware found, if the caller used one.
pub fn key_auth(extensions: &http::Extensions) -> Option<&crate::keys::KeyAuth> {
    extensions
        .get::<std::sync::Arc<crate::keys::KeyAuth>>()
        .map(|a| a.as_ref())
}

/// The checks of a virtual key before a model is called: the model, and every model the
/// request's own `fallbacks` name, is one it (and its team) may use, its estimated cost fits
/// in what is left of both budgets (and is reserved there), and the rate limits admit one more
/// request.
pub async fn check_key(
    state: &AppState,
    extensions: &http::Extensions,
    request: &CreateResponse,
    request_id: &str,
) -> Result<Option<Admitted>, Refusal> {
    check_auth(state, key_auth(extensions), request, request_id).await
}

/// [`check_key`] for a request that generates nothing (counting input tokens): no cost is
/// reserved on the budgets, which must not be spent already.
pub async fn check_key_to_count(
    state: &AppState,
    extensions: &http::Extensions,
    request: &CreateResponse,
    request_id: &str,
) -> Result<Option<Admitted>, Refusal> {
    check(state, key_auth(extensions), request, request_id, false).await
}

/// [`check_key`] for the key `auth` (none: the master key, nothing to check).
pub async fn check_auth(
    state: &AppState,
    auth: Option<&crate::keys::KeyAuth>,
    request: &CreateResponse,
    request_id: &str,
) -> Result<Option<Admitted>, Refusal> {
    check(state, auth, request, request_id, true).await
}

async fn check(
    state: &AppState,
    auth: Option<&crate::keys::KeyAuth>,
    request: &CreateResponse,
    request_id: &str,
    costs: bool,
) -> Result<Option<Admitted>, Refusal> {
    let (Some(auth), Some(keys)) = (auth, state.keys()) else {
        return Ok(None);
    };
    let aliases = &state.gateway().router().settings().model_group_alias;
    // The body's fallbacks are chosen by the client, so each must be a model the key may
    // use; the configured fallbacks of a group are the operator's choice and are not checked.
    // A malformed list is left to the gateway, which refuses it before any upstream call.
    let fallbacks = switchyard::router::request_fallbacks(request)
        .ok()
        .flatten()
        .unwrap_or_default();
    let models: Vec<String> = request
        .model
        .iter()
        .cloned()
        .chain(fallbacks.into_iter().map(|f| f.model))
        .collect();
    for model in &models {
        let resolved = aliases.get(model.as_str()).map(|a| a.group.as_str());
        keys.check_model(auth, model, resolved)?;
    }
    // The request's estimated cost is reserved on its budgets before the call, so the one
    // that would pass a budget is refused, not the one after it.
    let (input_tokens, output_tokens) = token_split(request);
    let budget_hold = keys
        .check_budget(
            auth,
            Some(crate::keys::BudgetReserve {
                request_id: request_id.to_string(),
                cost: if costs {
                    cost_estimate(state, &models, input_tokens, output_tokens)
                } else {
                    0.0
                },
            }),
        )
        .await?;
    // Under a tpm limit the request's tokens are reserved before the call, so requests
    // running at once see each other's; its record replaces the estimate with its usage.
    let tpm =
        auth.key.tpm_limit.is_some() || auth.team.as_ref().is_some_and(|t| t.tpm_limit.is_some());
    let reserve = tpm.then(|| crate::keys::Reserve {
        request_id: request_id.to_string(),
        tokens: token_estimate(request),
    });
    let (mut in_flight, remaining) = keys.admit_reserving(auth, reserve).await?;
    if let Some(hold) = budget_hold {
        in_flight.hold(hold);
    }
    Ok(Some(Admitted {
        in_flight: Some(in_flight),
        remaining,
    }))
}

/// Output tokens reserved for a request without `max_output_tokens`.
pub const DEFAULT_OUTPUT_RESERVE: u64 = 256;

/// What a request may use, before it runs: its input and instructions at 4 bytes a token,
/// plus `max_output_tokens` (else [`DEFAULT_OUTPUT_RESERVE`]).
fn token_estimate(request: &CreateResponse) -> u64 {
    let (input, output) = token_split(request);
    input.saturating_add(output)
}

/// [`token_estimate`]'s (input, output) tokens.
fn token_split(request: &CreateResponse) -> (u64, u64) {
    let input = request
        .input
        .as_ref()
        .and_then(|i| serde_json::to_string(i).ok())
        .map_or(0, |text| text.len());
    let instructions = request.instructions.as_ref().map_or(0, String::len);
    let input_tokens = u64::try_from(input + instructions)
        .unwrap_or(u64::MAX)
        .div_ceil(4);
    (
        input_tokens,
        request.max_output_tokens.unwrap_or(DEFAULT_OUTPUT_RESERVE),
    )
}

/// What `input` and `output` tokens cost at the dearest priced deployment of `models` (the
/// request's model and its body fallbacks, aliases applied); 0 when none is priced.
fn cost_estimate(state: &AppState, models: &[String], input: u64, output: u64) -> f64 {
    let gateway = state.gateway();
    let aliases = &gateway.router().settings().model_group_alias;
    models
        .iter()
        .filter_map(|model| {
            let model = aliases
                .get(model.as_str())
                .map_or(model.as_str(), |a| a.group.as_str());
            gateway.registry().target(model).ok()
        })
        .flat_map(|target| target.deployments)
        .filter_map(|d| {
            let price = d.price.as_ref()?;
            let rates = price.rates_for(input);
            Some(input as f64 * rates.input + output as f64 * rates.output)
        })
        .fold(0.0, f64::max)
}

/// LiteLLM's `x-ratelimit-*` headers for what is left of a key's limits.
pub fn rate_limit_headers(remaining: &crate::keys::Remaining, headers: &mut HeaderMap) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    if let Some((limit, left)) = remaining.requests {
        put("x-ratelimit-limit-requests", limit.to_string());
        put("x-ratelimit-remaining-requests", left.to_string());
        put(
            "x-ratelimit-reset-requests",
            format!("{}s", remaining.reset_secs),
        );
    }
    if let Some((limit, left)) = remaining.tokens {
        put("x-ratelimit-limit-tokens", limit.to_string());
        put("x-ratelimit-remaining-tokens", left.to_string());
        put(
            "x-ratelimit-reset-tokens",
            format!("{}s", remaining.reset_secs),
        );
    }
}

/// Refuses a request of a blocked end user, or of one whose spend has reached the budget
/// (its own `max_budget`, else `litellm_settings.max_end_user_budget`).
pub fn check_budget(state: &AppState, end_user: Option<&str>) -> Result<(), Refusal> {
    let (Some(accounting), Some(id)) = (state.accounting(), end_user) else {
        return Ok(());
    };
    let user = accounting.end_user(id).unwrap_or_default();
    if user.blocked {
        return Err(Refusal {
            error: Error::new(
                ErrorKind::PermissionDenied,
                format!("End user {id} is blocked from making requests."),
            )
            .with_code("end_user_blocked"),
            error_type: None,
            headers: None,
        });
    }
    if let Some(budget) = accounting.budget_of(&user)
        && user.spend >= budget
    {
        return Err(Refusal {
            error: Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "ExceededBudget: End User={id} over budget. Spend={}, Budget={budget}",
                    user.spend
                ),
            )
            .with_code("budget_exceeded"),
            error_type: Some("budget_exceeded"),
            headers: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> CreateResponse {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn end_user_follows_litellm_order() {
        let body = request(serde_json::json!({
            "model": "m", "input": "x", "user": "body-user",
            "metadata": {"user_id": "meta-user"}, "safety_identifier": "safety",
            "litellm_metadata": {"user": "lm-user"}
        }));
        let mut h = HeaderMap::new();
        assert_eq!(end_user(&h, &[], &body).as_deref(), Some("body-user"));
        h.insert("x-openwebui-user-email", "mapped".parse().unwrap());
        let mapped = vec!["x-openwebui-user-email".to_string()];
        assert_eq!(end_user(&h, &mapped, &body).as_deref(), Some("mapped"));
        h.insert("x-litellm-end-user-id", "end-user".parse().unwrap());
        assert_eq!(end_user(&h, &mapped, &body).as_deref(), Some("end-user"));
        h.insert("x-litellm-customer-id", "customer".parse().unwrap());
        assert_eq!(end_user(&h, &mapped, &body).as_deref(), Some("customer"));

        let h = HeaderMap::new();
        let lm = request(serde_json::json!({"model": "m", "input": "x",
            "litellm_metadata": {"user": "lm-user"}, "metadata": {"user_id": "meta-user"}}));
        assert_eq!(end_user(&h, &[], &lm).as_deref(), Some("lm-user"));
        let meta = request(serde_json::json!({"model": "m", "input": "x",
            "metadata": {"user_id": "meta-user"}, "safety_identifier": "s"}));
        assert_eq!(end_user(&h, &[], &meta).as_deref(), Some("meta-user"));
        let safety =
            request(serde_json::json!({"model": "m", "input": "x", "safety_identifier": "s"}));
        assert_eq!(end_user(&h, &[], &safety).as_deref(), Some("s"));
        let none = request(serde_json::json!({"model": "m", "input": "x"}));
        assert_eq!(end_user(&h, &[], &none), None);
    }

    #[test]
    fn keys_are_hashed() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tags_and_metadata_merge_headers_and_body() {
        let body = request(serde_json::json!({"model": "m", "input": "x",
            "metadata": {"tags": "b, c", "team": "t1"}}));
        let mut h = HeaderMap::new();
        h.insert("x-litellm-tags", "a,b".parse().unwrap());
        h.insert(
            "x-litellm-spend-logs-metadata",
            r#"{"run": "r7"}"#.parse().unwrap(),
        );
        assert_eq!(tags(&h, &body), vec!["a", "b", "c"]);
        let m = metadata(&h, &body);
        assert_eq!(m["team"], "t1");
        assert_eq!(m["run"], "r7");
    }
}
