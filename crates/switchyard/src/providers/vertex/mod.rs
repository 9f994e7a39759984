//! Vertex AI (`vertex_ai/<model>`): Google's publisher models (Gemini) reached with
//! service-account credentials. This module holds what every Vertex publisher shares — the
//! endpoint URLs ([`publisher_url`]) and the OAuth token source ([`ServiceAccountTokenSource`])
//! — and builds Gemini deployments on the shared [`super::gemini`] translation.
//!
//! Configuration (LiteLLM's names): `vertex_project` / `vertex_ai_project` (else
//! `VERTEXAI_PROJECT`, `VERTEX_PROJECT`, `GOOGLE_CLOUD_PROJECT`, else the key's `project_id`),
//! `vertex_location` / `vertex_ai_location` (else `VERTEXAI_LOCATION`, `VERTEX_LOCATION`,
//! `GOOGLE_CLOUD_LOCATION`, else `us-central1`), `vertex_credentials` as a file path, JSON
//! text or a mapping (else `GOOGLE_APPLICATION_CREDENTIALS`). `api_base` replaces the
//! `https://{location}-aiplatform.googleapis.com` host.
//!
//! Reference: <https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference>.

pub mod auth;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use auth::{ServiceAccountKey, ServiceAccountTokenSource};

use super::anthropic::AnthropicProvider;
use super::gemini::{GeminiAuth, GeminiEndpoint, GeminiProvider};
use super::path::{PathModel, check_model_in_path};
use super::{BuiltProvider, ProviderConfig};
use crate::config::{DeploymentConfig, Env};

/// The location used when none is configured (LiteLLM's default).
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The API version in Vertex URLs.
pub const API_VERSION: &str = "v1";

/// The scheme and host serving `location`: `global` → `aiplatform.googleapis.com`, the
/// multi-regions `us` / `eu` → `aiplatform.{us|eu}.rep.googleapis.com`, a region →
/// `{region}-aiplatform.googleapis.com`.
pub fn default_base(location: &str) -> String {
    match location {
        "global" => "https://aiplatform.googleapis.com".to_string(),
        "us" | "eu" => format!("https://aiplatform.{location}.rep.googleapis.com"),
        region => format!("https://{region}-aiplatform.googleapis.com"),
    }
}

/// The URL of `method` on a publisher model:
/// `{base}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`.
/// `base` is [`default_base`] or a configured `api_base` (a trailing `/v1` or `/v1beta1` is
/// kept instead of adding `/v1`); `method` may carry a query (`streamGenerateContent?alt=sse`).
/// Publishers: `google` (`generateContent`, `streamGenerateContent`), `anthropic`
/// (`rawPredict`, `streamRawPredict`).
pub fn publisher_url(
    base: &str,
    project: &str,
    location: &str,
    publisher: &str,
    model: &str,
    method: &str,
) -> Result<reqwest::Url, String> {
    let url = format!(
        "{}/publishers/{publisher}/models/{model}:{method}",
        location_url(base, project, location)
    );
    reqwest::Url::parse(&url).map_err(|e| format!("`{url}` is not a usable URL: {e}"))
}

/// The location's resource URL, `{base}/v1/projects/{project}/locations/{location}`, under
/// which every publisher's models live.
pub fn location_url(base: &str, project: &str, location: &str) -> String {
    let base = base.trim_end_matches('/');
    let versioned = if base.ends_with("/v1") || base.ends_with("/v1beta1") {
        base.to_string()
    } else {
        format!("{base}/{API_VERSION}")
    };
    format!("{versioned}/projects/{project}/locations/{location}")
}

/// Project, location, credentials and base URL of a Vertex deployment, read from its config.
#[derive(Debug, Clone)]
pub struct VertexSettings {
    /// The Google Cloud project.
    pub project: String,
    /// The region, multi-region or `global`.
    pub location: String,
    /// The scheme and host (or a configured `api_base`).
    pub base: String,
    /// Access tokens for the configured service account.
    pub tokens: Arc<ServiceAccountTokenSource>,
}

/// Reads the Vertex settings of `d`; an error names what is missing or malformed.
pub fn settings(d: &DeploymentConfig, env: &Env) -> Result<VertexSettings, String> {
    let at = format!("model_list entry `{}` (Vertex AI)", d.model_name);
    let param = |keys: &[&str]| keys.iter().find_map(|k| d.provider_param(k));
    let credentials = param(&["vertex_credentials"])
        .or_else(|| env.first(&["GOOGLE_APPLICATION_CREDENTIALS"]))
        .ok_or_else(|| {
            format!(
                "{at} has no credentials: set `vertex_credentials` (a service-account key file \
                 path, its JSON text or a mapping) or GOOGLE_APPLICATION_CREDENTIALS"
            )
        })?;
    let text = if credentials.trim_start().starts_with('{') {
        credentials
    } else {
        std::fs::read_to_string(credentials.trim()).map_err(|e| {
            format!(
                "{at}: cannot read the credentials file `{}`: {e}",
                credentials.trim()
            )
        })?
    };
    let key = ServiceAccountKey::from_json(&text).map_err(|e| format!("{at}: {e}"))?;
    let project = param(&["vertex_project", "vertex_ai_project"])
        .or_else(|| env.first(&["VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"]))
        .or_else(|| key.project_id.clone())
        .ok_or_else(|| format!("{at} has no project: set `vertex_project` or VERTEXAI_PROJECT"))?;
    let location = param(&["vertex_location", "vertex_ai_location"])
        .or_else(|| {
            env.first(&[
                "VERTEXAI_LOCATION",
                "VERTEX_LOCATION",
                "GOOGLE_CLOUD_LOCATION",
            ])
        })
        .unwrap_or_else(|| DEFAULT_LOCATION.to_string());
    let base = d
        .api_base
        .clone()
        .unwrap_or_else(|| default_base(&location));
    let tokens = Arc::new(ServiceAccountTokenSource::new(key).map_err(|e| format!("{at}: {e}"))?);
    Ok(VertexSettings {
        project,
        location,
        base,
        tokens,
    })
}

/// Builds a `vertex_ai/<model>` deployment: Gemini models through the Gemini translation,
/// `claude-…` models through the Anthropic one (`rawPredict` / `streamRawPredict`).
pub fn build(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let d = cfg.deployment;
    let model = cfg.model;
    check_model_in_path(model, PathModel::Verbatim).map_err(|e| {
        format!(
            "model_list entry `{}` (Vertex AI): {e}",
            crate::text::echo(&d.model_name)
        )
    })?;
    let settings = settings(d, cfg.env)?;
    let warning = unused_params_warning(d);
    if model.starts_with("claude") {
        // Claude on Vertex: Anthropic's Messages translation, Vertex's URL and token.
        let provider = AnthropicProvider::vertex(
            model,
            &location_url(&settings.base, &settings.project, &settings.location),
            settings.tokens,
            cfg.options,
        )
        .map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?;
        return Ok((Arc::new(provider), warning));
    }
    let url = |method: &str| {
        publisher_url(
            &settings.base,
            &settings.project,
            &settings.location,
            "google",
            model,
            method,
        )
        .map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))
    };
    let endpoint = GeminiEndpoint {
        name: "vertex_ai",
        label: "Vertex AI",
        api_base: settings.base.clone(),
        generate_url: url("generateContent")?,
        stream_url: url("streamGenerateContent?alt=sse")?,
    };
    let provider = GeminiProvider::new(
        endpoint,
        model,
        GeminiAuth::Bearer(settings.tokens),
        cfg.options,
    );
    Ok((Arc::new(provider), warning))
}

/// The startup warning naming what a Vertex entry sets but Vertex does not use.
fn unused_params_warning(d: &DeploymentConfig) -> Option<String> {
    let mut ignored = Vec::new();
    if d.api_key.is_some() {
        ignored.push("`api_key` (Vertex express mode is not supported; credentials come from the service account)".to_string());
    }
    const USED: &[&str] = &[
        "vertex_project",
        "vertex_ai_project",
        "vertex_location",
        "vertex_ai_location",
        "vertex_credentials",
    ];
    ignored.extend(
        d.provider_params
            .keys()
            .filter(|k| !USED.contains(&k.as_str()))
            .map(|k| format!("`{k}`")),
    );
    (!ignored.is_empty()).then(|| {
        format!(
            "model_list entry `{}` (Vertex AI) does not use {}; ignored",
            d.model_name,
            ignored.join(", ")
        )
    })
}
