//! Health endpoints, reachable without a key (orchestrators probe them).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /health/liveliness` (and `/health/liveness`): the process answers.
pub async fn liveliness() -> Json<&'static str> {
    Json("I'm alive!")
}

/// `GET /health/readiness`: ready to serve, with what it serves.
/// With Redis configured, `redis` says whether it answers; the gateway serves either way (on
/// this instance's own routing state while Redis is away), so readiness stays healthy.
pub async fn readiness(State(state): State<AppState>) -> Json<Value> {
    let redis = match state.gateway().router().redis_status() {
        None => "not configured",
        Some(true) => "connected",
        Some(false) => "unreachable (routing on local state)",
    };
    Json(json!({
        "status": "healthy",
        "version": env!("CARGO_PKG_VERSION"),
        "model_groups": state.gateway().models().len(),
        "redis": redis,
    }))
}

/// `GET /health` (master key): which deployments answer a tiny request, in LiteLLM's shape.
/// With `background_health_checks` this is the latest background round (as LiteLLM serves
/// it); otherwise every deployment is called now. Upstream error text is already redacted.
pub async fn deployments(State(state): State<AppState>) -> Json<Value> {
    let report = state.gateway().health().await;
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for check in &report.checks {
        let deployment = &check.deployment;
        let mut entry = json!({
            "model": deployment.model_name,
            "model_id": deployment.id,
            "provider": deployment.provider.name(),
            "upstream_model": check.probed_model,
            "api_base": deployment.provider.api_base(),
        });
        match &check.result {
            Ok(()) => healthy.push(entry),
            Err(error) => {
                entry["error"] = json!(error.message);
                entry["status"] = json!(error.status());
                unhealthy.push(entry);
            }
        }
    }
    Json(json!({
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "checked_at": report.checked_at,
        "background": report.background,
    }))
}
