//! Azure: Azure OpenAI (`azure/<deployment>`) and Azure AI Foundry model inference
//! (`azure_ai/<model>`). Both speak OpenAI's wire formats, so they reuse the Responses
//! pass-through and the Chat Completions bridge; what is Azure's own is the URL, the
//! `api-version`, the credential and, for Foundry, the `extra-parameters` header.
//!
//! Azure OpenAI URL forms, chosen from `api_version`:
//! * `v1`, `latest` or `preview` (or an `api_base` ending in `/openai/v1`): the v1 API,
//!   `{resource}/openai/v1/responses` and `{resource}/openai/v1/chat/completions`, deployment in
//!   the body (`?api-version=preview` only for `preview`);
//! * a dated version: `{resource}/openai/responses?api-version=…` and
//!   `{resource}/openai/deployments/{deployment}/chat/completions?api-version=…`.
//!
//! The Responses API is used unless the entry sets `use_chat_completions_api: true`, lists only
//! `/v1/chat/completions` in `model_info.supported_endpoints` (LiteLLM's rule), or names a dated
//! `api_version` older than the Responses API on Azure (2025-03-01-preview).

pub mod entra;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use super::openai_chat::{ChatProvider, flavor};
use super::openai_responses::ResponsesProvider;
use super::path::{PathModel, check_model_in_path};
use super::{BuiltProvider, Credential, ProviderConfig, join_url};
use crate::config::DeploymentConfig;
use crate::secret::Secret;

/// The `api-version` used when neither the entry nor `AZURE_API_VERSION` sets one: the
/// newest version that serves both Chat Completions (with `reasoning_effort`,
/// `max_completion_tokens`) and the Responses API.
pub const DEFAULT_API_VERSION: &str = "2025-04-01-preview";

/// The Foundry model-inference `api-version` for `*.services.ai.azure.com` endpoints.
pub const FOUNDRY_API_VERSION: &str = "2024-05-01-preview";

/// `litellm_params` the Azure providers act on.
const ACTED_ON: &[&str] = &["azure_ad_token", "tenant_id", "client_id", "client_secret"];

/// Builds an `azure/<deployment>` provider.
pub fn build(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let d = cfg.deployment;
    let entry = &d.model_name;
    let flavor = flavor("azure").ok_or("the azure flavor is missing")?;
    let api_base = api_base(&cfg, flavor, "https://my-resource.openai.azure.com")?;
    let api_version = d
        .api_version
        .clone()
        .or_else(|| cfg.env.get("AZURE_API_VERSION"))
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
    let key = d
        .api_key
        .clone()
        .or_else(|| cfg.env.first(flavor.key_env).map(Secret::new));
    let credential = azure_credential(d, &cfg, key, Credential::ApiKeyHeader)?;
    let listed = d.supported_endpoints.as_ref().map(|list| {
        list.iter()
            .any(|e| e.trim_end_matches('/').ends_with("/responses"))
    });
    let urls = AzureUrls::new(&api_base, &api_version);
    // Azure serves the Responses API from api-version 2025-03-01-preview on (and on v1): an
    // older dated version, common in existing LiteLLM configs, means Chat Completions unless
    // the entry lists `/v1/responses` itself.
    let responses_capable = urls.v1 || api_version.trim() >= "2025-03-01";
    let chat = d.use_chat_completions_api
        || match listed {
            Some(listed) => !listed,
            None => !responses_capable,
        };
    let deployment = cfg.model;
    let provider: Arc<dyn super::Provider> = if chat {
        Arc::new(
            ChatProvider::new(
                flavor,
                deployment,
                api_base.clone(),
                None,
                None,
                d.replay_reasoning_content,
                cfg.options,
            )
            .map_err(|e| format!("model_list entry `{entry}`: {e}"))?
            .with_url(
                urls.chat(deployment)
                    .map_err(|e| format!("model_list entry `{entry}`: {e}"))?,
            )
            .with_credential(credential.clone()),
        )
    } else {
        Arc::new(
            ResponsesProvider::new(
                "azure",
                deployment,
                api_base.clone(),
                None,
                None,
                cfg.options,
            )
            .map_err(|e| format!("model_list entry `{entry}`: {e}"))?
            .with_url(
                urls.responses()
                    .map_err(|e| format!("model_list entry `{entry}`: {e}"))?,
            )
            .with_credential(credential.clone()),
        )
    };
    Ok((provider, warning(d, &credential, "AZURE_API_KEY")))
}

/// Builds an `azure_ai/<model>` provider (Foundry model inference, serverless endpoints,
/// GitHub Models).
pub fn build_foundry(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let d = cfg.deployment;
    let entry = &d.model_name;
    let flavor = flavor("azure_ai").ok_or("the azure_ai flavor is missing")?;
    let api_base = api_base(&cfg, flavor, "https://my-resource.services.ai.azure.com")?;
    let url = foundry_url(&api_base, d.api_version.as_deref())
        .map_err(|e| format!("model_list entry `{entry}`: {e}"))?;
    let key = d
        .api_key
        .clone()
        .or_else(|| cfg.env.first(flavor.key_env).map(Secret::new));
    // Every Foundry endpoint form accepts `Authorization: Bearer` with a key or an Entra token
    // (GitHub Models accepts nothing else), so one header serves them all.
    let credential = azure_credential(d, &cfg, key, Credential::Bearer)?;
    let mut options = cfg.options;
    // Without this header Foundry answers 422 to any field the model does not declare. Pass
    // them through so the model decides; with `drop_params` let the service drop them, as the
    // gateway would. A header set in the entry's `extra_headers` wins.
    if !options
        .extra_headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("extra-parameters"))
    {
        let mode = if options.drop_params {
            "drop"
        } else {
            "pass-through"
        };
        options
            .extra_headers
            .push(("extra-parameters".to_string(), mode.to_string()));
    }
    let provider = ChatProvider::new(
        flavor,
        cfg.model,
        api_base,
        None,
        None,
        d.replay_reasoning_content,
        options,
    )
    .map_err(|e| format!("model_list entry `{entry}`: {e}"))?
    .with_url(url)
    .with_credential(credential.clone());
    Ok((
        Arc::new(provider),
        warning(d, &credential, "AZURE_AI_API_KEY"),
    ))
}

/// The entry's `api_base`, else the flavor's environment variable; Azure has no default.
fn api_base(
    cfg: &ProviderConfig<'_>,
    flavor: &super::openai_chat::Flavor,
    example: &str,
) -> Result<String, String> {
    cfg.deployment
        .api_base
        .clone()
        .or_else(|| cfg.env.first(flavor.base_env))
        .ok_or_else(|| {
            format!(
                "model_list entry `{}` ({}) needs `api_base` (or {}), such as {example}",
                cfg.deployment.model_name,
                flavor.label,
                flavor.base_env.join(" / ")
            )
        })
}

/// The credential of an Azure entry: its key (sent with `key_header`), else an Entra ID token
/// (`azure_ad_token` or `AZURE_AD_TOKEN`), else Entra client credentials (`tenant_id`,
/// `client_id`, `client_secret`, or `AZURE_TENANT_ID` / `AZURE_CLIENT_ID` /
/// `AZURE_CLIENT_SECRET`), exchanged for tokens before each attempt.
fn azure_credential(
    d: &DeploymentConfig,
    cfg: &ProviderConfig<'_>,
    key: Option<Secret>,
    key_header: fn(Secret) -> Credential,
) -> Result<Credential, String> {
    if let Some(key) = key {
        return Ok(key_header(key));
    }
    if let Some(token) = d
        .provider_param("azure_ad_token")
        .or_else(|| cfg.env.get("AZURE_AD_TOKEN"))
    {
        return Ok(Credential::Bearer(Secret::new(token)));
    }
    let param = |key: &str, env: &str| d.provider_param(key).or_else(|| cfg.env.get(env));
    match (
        param("tenant_id", "AZURE_TENANT_ID"),
        param("client_id", "AZURE_CLIENT_ID"),
        param("client_secret", "AZURE_CLIENT_SECRET"),
    ) {
        (Some(tenant), Some(client_id), Some(secret)) => {
            let authority = cfg
                .env
                .get("AZURE_AUTHORITY_HOST")
                .unwrap_or_else(|| entra::DEFAULT_AUTHORITY.to_string());
            let source =
                entra::EntraTokenSource::new(&authority, &tenant, client_id, Secret::new(secret))
                    .map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?;
            Ok(Credential::Token(Arc::new(source)))
        }
        (None, None, None) => Ok(Credential::None),
        _ => Err(format!(
            "model_list entry `{}` sets only part of the Entra client credentials: \
             tenant_id, client_id and client_secret are all needed",
            d.model_name
        )),
    }
}

/// The startup warning for an Azure entry: no credential, or parameters not acted on.
fn warning(d: &DeploymentConfig, credential: &Credential, key_env: &str) -> Option<String> {
    let mut notes = Vec::new();
    if credential.is_none() {
        notes.push(format!(
            "has no credential (set litellm_params.api_key, {key_env}, azure_ad_token, \
             AZURE_AD_TOKEN, or Entra client credentials)"
        ));
    }
    let unused: Vec<&str> = d
        .provider_params
        .keys()
        .map(String::as_str)
        .filter(|k| !ACTED_ON.contains(k))
        .collect();
    if !unused.is_empty() {
        notes.push(format!(
            "sets {} which this version does not act on for Azure",
            unused.join(", ")
        ));
    }
    (!notes.is_empty()).then(|| format!("model_list entry `{}` {}", d.model_name, notes.join("; ")))
}

/// Azure OpenAI endpoint URLs for one resource and `api-version`.
#[derive(Debug)]
struct AzureUrls {
    /// `https://{resource}.openai.azure.com`, without `/openai…`.
    resource: String,
    /// The v1 API rather than dated versions.
    v1: bool,
    /// The `api-version` query value, if one is sent.
    query: Option<String>,
}

impl AzureUrls {
    fn new(api_base: &str, api_version: &str) -> Self {
        let base = api_base.trim_end_matches('/');
        let (resource, v1_base) = if let Some(root) = base.strip_suffix("/openai/v1") {
            (root, true)
        } else if let Some(root) = base.strip_suffix("/openai") {
            (root, false)
        } else {
            (base, false)
        };
        let version = api_version.trim();
        let v1 = v1_base || matches!(version, "v1" | "latest" | "preview");
        let query = if v1 {
            (version == "preview").then(|| "preview".to_string())
        } else {
            Some(version.to_string())
        };
        AzureUrls {
            resource: resource.to_string(),
            v1,
            query,
        }
    }

    fn responses(&self) -> Result<reqwest::Url, String> {
        let path = if self.v1 {
            "openai/v1/responses"
        } else {
            "openai/responses"
        };
        self.url(path)
    }

    fn chat(&self, deployment: &str) -> Result<reqwest::Url, String> {
        if self.v1 {
            return self.url("openai/v1/chat/completions");
        }
        check_model_in_path(deployment, PathModel::Verbatim)?;
        let mut url = self.url("openai/deployments")?;
        // The deployment is one path segment, percent-encoded by the URL library.
        url.path_segments_mut()
            .map_err(|()| format!("`{}` cannot take a path", self.resource))?
            .push(deployment)
            .push("chat")
            .push("completions");
        Ok(url)
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, String> {
        let mut url = join_url(&self.resource, path)?;
        if let Some(version) = &self.query {
            url.query_pairs_mut().append_pair("api-version", version);
        }
        Ok(url)
    }
}

/// The Foundry chat URL: `{base}/chat/completions`, with `/models` added for Foundry resources
/// (`*.services.ai.azure.com`, `*.cognitiveservices.azure.com`) and their `api-version`.
/// Serverless endpoints and GitHub Models take the base as it is and no version unless one is
/// configured.
fn foundry_url(api_base: &str, api_version: Option<&str>) -> Result<reqwest::Url, String> {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix("/chat/completions").unwrap_or(base);
    let parsed = reqwest::Url::parse(base).map_err(|e| format!("`{base}` is not a URL: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let foundry =
        host.ends_with(".services.ai.azure.com") || host.ends_with(".cognitiveservices.azure.com");
    let base = if foundry && !base.ends_with("/models") {
        format!("{base}/models")
    } else {
        base.to_string()
    };
    let mut url = join_url(&base, "chat/completions")?;
    if let Some(version) = api_version.or(foundry.then_some(FOUNDRY_API_VERSION)) {
        url.query_pairs_mut().append_pair("api-version", version);
    }
    Ok(url)
}
