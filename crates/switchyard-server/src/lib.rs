//! The switchyard proxy: the Responses API over HTTP, in front of a [`switchyard::Gateway`].
//!
//! [`app`] builds the router (tests drive it directly); `main.rs` adds the CLI, logging and
//! graceful shutdown around it.

mod auth;
mod batches;
mod error;
mod identity;
pub mod keys;
pub mod log_format;
pub mod observability;
mod routes;
pub mod serve;
pub mod spend;
mod sse;
mod state;
pub mod stored;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;
pub use state::AppState;

/// The proxy's routes, with authentication and panic isolation.
pub fn app(state: AppState) -> Router {
    let mut authenticated = Router::new();
    for path in routes::MODEL_ROUTES {
        authenticated = authenticated.route(
            path,
            post(routes::responses::create).get(routes::websocket::upgrade),
        );
    }
    for prefix in routes::API_PREFIXES {
        authenticated = stateful_routes(authenticated, prefix);
    }
    for prefix in routes::API_PREFIXES {
        let path = format!("{prefix}/responses/input_tokens");
        authenticated = authenticated.route(&path, post(routes::input_tokens::count));
    }
    let authenticated = authenticated
        .route("/v1/models", get(routes::models::list))
        .route("/models", get(routes::models::list))
        .route("/health", get(routes::health::deployments))
        .route("/spend/logs", get(routes::spend::logs))
        .route("/global/spend/report", get(routes::spend::report))
        .route("/customer/info", get(routes::spend::customer_info))
        .route("/customer/new", post(routes::spend::customer_new))
        .route("/customer/update", post(routes::spend::customer_update))
        .route("/customer/block", post(routes::spend::customer_block))
        .route("/customer/unblock", post(routes::spend::customer_unblock))
        .merge(key_routes())
        .route_layer(from_fn_with_state(state.clone(), auth::require_key));
    // `/metrics` is behind the master key unless `require_auth_for_metrics_endpoint: false`.
    let metrics = Router::new().route("/metrics", get(routes::metrics::metrics));
    let (authenticated, public_metrics) = if state.metrics_require_auth() {
        (
            authenticated
                .merge(metrics.route_layer(from_fn_with_state(state.clone(), auth::require_key))),
            None,
        )
    } else {
        (authenticated, Some(metrics))
    };
    Router::new()
        .route("/health/liveliness", get(routes::health::liveliness))
        .route("/health/liveness", get(routes::health::liveliness))
        .route("/health/readiness", get(routes::health::readiness))
        .merge(authenticated)
        .merge(public_metrics.unwrap_or_default())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}

/// LiteLLM's key and team management routes.
fn key_routes() -> Router<AppState> {
    use routes::keys::*;
    Router::new()
        .route("/key/generate", post(generate))
        .route("/key/update", post(update))
        .route("/key/delete", post(delete))
        .route("/key/block", post(block))
        .route("/key/unblock", post(unblock))
        .route("/key/regenerate", post(regenerate))
        .route("/key/{key}/regenerate", post(regenerate_named))
        .route("/key/info", get(info))
        .route("/key/list", get(list))
        .route("/team/new", post(team_new))
        .route("/team/update", post(team_update))
        .route("/team/delete", post(team_delete))
        .route("/team/member_add", post(member_add))
        .route("/team/member_delete", post(member_delete))
        .route("/team/block", post(team_block))
        .route("/team/unblock", post(team_unblock))
        .route("/team/info", get(team_info))
        .route("/team/list", get(team_list))
}

/// The stored-response and Conversations routes under `prefix`.
fn stateful_routes(router: Router<AppState>, prefix: &str) -> Router<AppState> {
    use routes::state::*;
    router
        .route(
            &format!("{prefix}/responses/{{id}}"),
            get(retrieve).delete(delete),
        )
        .route(
            &format!("{prefix}/responses/{{id}}/input_items"),
            get(input_items),
        )
        .route(&format!("{prefix}/responses/{{id}}/cancel"), post(cancel))
        .route(
            &format!("{prefix}/responses/compact"),
            post(routes::compact::compact),
        )
        .route(
            &format!("{prefix}/conversations"),
            post(create_conversation),
        )
        .route(
            &format!("{prefix}/conversations/{{id}}"),
            get(conversation)
                .post(update_conversation)
                .delete(delete_conversation),
        )
        .route(
            &format!("{prefix}/conversations/{{id}}/items"),
            get(list_items).post(add_items),
        )
        .route(
            &format!("{prefix}/conversations/{{id}}/items/{{item_id}}"),
            get(item).delete(delete_item),
        )
}
