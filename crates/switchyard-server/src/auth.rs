//! Authentication with the master key or a virtual key: `Authorization: Bearer <key>`, or LiteLLM's `x-litellm-api-key`,
//! or Azure-style `api-key`. Compared in constant time.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use subtle::ConstantTimeEq;
use switchyard::state::Caller;
use switchyard::types::responses::CreateResponse;
use switchyard::{CallContext, Error, ErrorKind};

use std::sync::Arc;

use crate::error::Refusal;
use crate::state::AppState;

/// Rejects requests without the master key or a valid virtual key (when a master key is
/// configured). A virtual key is checked (known, not expired, not blocked, its team not
/// blocked) and may call only the routes of [`crate::keys::check_route`].
///
/// Without a master key the gateway is open, but nobody administers keys and teams: their
/// routes are refused (LiteLLM too will not manage keys without one). A virtual key presented
/// anyway (made while a master key was set) is still checked and applied, so its models,
/// budgets and limits hold and its spend is its own; any other key, or none, is served openly.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = presented_key(request.headers()).map(str::to_string);
    let open = state.master_key().is_none();
    let refusal = match (state.master_key(), presented, state.keys()) {
        (None, _, _) if is_key_admin_route(request.uri().path()) => Refusal::from(
            Error::new(
                ErrorKind::PermissionDenied,
                "Key and team management needs an administrator: set \
                 general_settings.master_key (no master key is configured).",
            )
            .with_code("master_key_not_set"),
        ),
        (Some(expected), Some(key), _)
            if bool::from(key.as_bytes().ct_eq(expected.expose().as_bytes())) =>
        {
            request.extensions_mut().insert(Caller::admin());
            return next.run(request).await;
        }
        // An open gateway makes no keys (their routes are refused; one made by a replica
        // with a master key arrives with the next poll), so a key it has not loaded is served
        // openly without a database lookup: its clients often send some placeholder key.
        (None, Some(key), Some(keys)) if keys.key(&crate::identity::hash_key(&key)).is_none() => {
            request.extensions_mut().insert(Caller::admin());
            return next.run(request).await;
        }
        (_, Some(key), Some(keys)) => match keys.authenticate(&key).await {
            // An open gateway serves a key that is no virtual key as it serves no key.
            Err(refusal) if open && refusal.error.code.as_deref() == Some("invalid_api_key") => {
                request.extensions_mut().insert(Caller::admin());
                return next.run(request).await;
            }
            Err(refusal) => refusal,
            Ok(auth) => {
                let route = route_of(&request);
                match crate::keys::check_route(
                    &auth,
                    request.method(),
                    request.uri().path(),
                    &route,
                ) {
                    Ok(()) => {
                        request.extensions_mut().insert(Caller {
                            key_hash: Some(auth.key.token.clone()),
                            admin: false,
                        });
                        request.extensions_mut().insert(Arc::new(auth));
                        return next.run(request).await;
                    }
                    Err(refusal) => refusal,
                }
            }
        },
        (None, _, _) => {
            // An open gateway: every other caller is its administrator.
            request.extensions_mut().insert(Caller::admin());
            return next.run(request).await;
        }
        (Some(_), presented, _) => {
            let message = if presented.is_some() {
                "Incorrect API key provided. Use the gateway's master key or a virtual key."
            } else {
                "Missing API key. Send it as `Authorization: Bearer <key>`."
            };
            Refusal::from(Error {
                code: Some("invalid_api_key".into()),
                ..Error::new(ErrorKind::Authentication, message)
            })
        }
    };
    let request_id = record_refusal(&state, &request, &refusal.error);
    let mut response = refusal.into_response();
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The key and team management routes.
fn is_key_admin_route(path: &str) -> bool {
    path.starts_with("/key/") || path.starts_with("/team/")
}

/// Records a request refused here: a record like any other refusal on the model routes (spend
/// log, metrics), the request log line alone on the others.
fn record_refusal(state: &AppState, request: &Request, error: &Error) -> String {
    let request_id = switchyard::ids::request_id();
    let path = request.uri().path();
    if crate::routes::is_model_route(path) {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let meta = crate::identity::request_meta(
            state,
            path,
            request.headers(),
            &CreateResponse::default(),
            client,
        );
        let ctx = CallContext {
            request_id: request_id.clone(),
            client_headers: HeaderMap::new(),
            meta,
            caller: Caller::default(),
            state: None,
            held: Default::default(),
        };
        state.gateway().log_rejected(ctx, None, false, error);
    } else {
        tracing::info!(
            target: "switchyard::request",
            request_id = %request_id,
            route = %route_of(request),
            status = error.status(),
            outcome = "rejected",
            error = error.code.as_deref().unwrap_or(""),
            "request rejected"
        );
    }
    request_id
}

/// The route as its template (`/key/{key}/regenerate`), for log lines and messages: a path
/// may hold a key.
fn route_of(request: &Request) -> String {
    match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str().to_string(),
        // Outside the router (not reached: this runs as a route layer).
        None => "(unmatched)".to_string(),
    }
}

/// The key a client presented, from whichever header carried it.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(auth) = value("authorization") {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .unwrap_or(auth);
        return Some(token.trim());
    }
    for name in ["x-litellm-api-key", "api-key"] {
        if let Some(key) = value(name) {
            return Some(key.strip_prefix("Bearer ").unwrap_or(key).trim());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_accepted_header() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer sk-1".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-1"));
        let mut h = HeaderMap::new();
        h.insert("x-litellm-api-key", "Bearer sk-2".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-2"));
        let mut h = HeaderMap::new();
        h.insert("api-key", "sk-3".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-3"));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
