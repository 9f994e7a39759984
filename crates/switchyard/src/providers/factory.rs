//! The provider factory: which provider serves a `model_list` entry, by the prefix of its model
//! string (`anthropic/claude-…`) or its `custom_llm_provider`.
//!
//! Providers with a wire format of their own are listed in [`BUILDERS`]; every other prefix is
//! the OpenAI family (the Responses pass-through or the Chat Completions bridge, one
//! [`Flavor`] per compatible server). Adding a provider means adding its folder under
//! `providers/` and one line to [`BUILDERS`].

use std::sync::Arc;

use switchyard_types::responses::CreateResponse;

use super::openai_chat::{ChatProvider, FLAVORS, Flavor, flavor};
use super::openai_responses::ResponsesProvider;
use super::{
    BuiltProvider, CallInfo, PreparedCall, Provider, ProviderConfig, ProviderOptions, anthropic,
    azure, bedrock, gemini, vertex,
};
use crate::config::{DeploymentConfig, Env};
use crate::error::{Error, ErrorKind};
use crate::secret::Secret;

/// Builds the provider of one config entry.
pub type Builder = fn(ProviderConfig<'_>) -> Result<BuiltProvider, String>;

/// Providers with a wire format of their own, by prefix. Any other prefix is the OpenAI
/// family.
pub const BUILDERS: &[(&str, Builder)] = &[
    ("azure", azure::build),
    ("azure_ai", azure::build_foundry),
    ("bedrock", bedrock::build),
    ("anthropic", anthropic::build),
    ("gemini", gemini::build),
    ("vertex_ai", vertex::build),
];

/// Providers LiteLLM knows that this version cannot call yet.
const NOT_YET: &[&str] = &[
    "vertex_ai_beta",
    "cohere",
    "huggingface",
    "sagemaker",
    "watsonx",
    "databricks",
    "perplexity",
    "litellm_proxy",
];

/// Builds the provider for one config entry, with `model` as the upstream model string (a
/// wildcard already expanded); `global_drop_params` is `litellm_settings.drop_params`.
pub fn build(
    d: &DeploymentConfig,
    model: &str,
    env: &Env,
    global_drop_params: bool,
) -> Result<BuiltProvider, String> {
    let (prefix, upstream) = match &d.custom_llm_provider {
        Some(provider) => (provider.as_str(), model),
        None => split_model(model)?,
    };
    let options = ProviderOptions {
        drop_params: d.drop_params.unwrap_or(global_drop_params),
        extra_headers: d.extra_headers.clone(),
        defaults: d.defaults.clone(),
    };
    let cfg = ProviderConfig {
        deployment: d,
        prefix,
        model: upstream,
        env,
        options,
    };
    let builder = BUILDERS
        .iter()
        .find(|(name, _)| *name == prefix)
        .map_or(openai_family as Builder, |(_, builder)| *builder);
    builder(cfg)
}

/// OpenAI and every OpenAI-compatible server: the Responses pass-through or the Chat
/// Completions bridge.
fn openai_family(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let ProviderConfig {
        deployment: d,
        prefix,
        model: upstream,
        env,
        options,
    } = cfg;
    let (upstream, forced_chat) = match upstream.strip_prefix("chat_completions/") {
        Some(rest) if prefix == "openai" => (rest, true),
        _ => (upstream, false),
    };
    if NOT_YET.contains(&prefix) {
        return Ok(unsupported(d, prefix, upstream));
    }
    let Some(flavor) = flavor(prefix) else {
        return Err(unknown_provider(d, prefix));
    };
    let (api_base, api_key) = endpoint(d, flavor, env)?;
    let warning = (flavor.key_required && api_key.is_none()).then(|| {
        format!(
            "model_list entry `{}` has no API key (set litellm_params.api_key or {})",
            d.model_name,
            flavor.key_env.join(" / ")
        )
    });
    let organization = d.organization.clone();
    let provider: Arc<dyn Provider> = if !forced_chat && speaks_responses(d, prefix) {
        let built =
            ResponsesProvider::new(prefix, upstream, api_base, api_key, organization, options);
        Arc::new(built.map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?)
    } else {
        let replay = d.replay_reasoning_content;
        let built = ChatProvider::new(
            flavor,
            upstream,
            api_base,
            api_key,
            organization,
            replay,
            options,
        );
        Arc::new(built.map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?)
    };
    Ok((provider, warning))
}

/// OpenAI speaks Responses natively unless told otherwise; compatible servers are bridged
/// unless their entry lists `/v1/responses` among `supported_endpoints`.
fn speaks_responses(d: &DeploymentConfig, prefix: &str) -> bool {
    let lists_responses = d.supported_endpoints.as_ref().map(|list| {
        list.iter()
            .any(|e| e.trim_end_matches('/').ends_with("/responses"))
    });
    !d.use_chat_completions_api && lists_responses.unwrap_or(prefix == "openai")
}

/// A provider LiteLLM knows and this version does not: it refuses every request, and startup
/// warns about it.
fn unsupported(d: &DeploymentConfig, prefix: &str, model: &str) -> BuiltProvider {
    let provider = Arc::new(Unsupported {
        name: prefix.to_string(),
        model: model.to_string(),
    });
    let warning = format!(
        "model_list entry `{}` uses the `{prefix}` provider, which this version does not \
         support yet; requests to it are refused",
        d.model_name
    );
    (provider, Some(warning))
}

/// The error for a prefix no provider answers to, listing those that do.
fn unknown_provider(d: &DeploymentConfig, prefix: &str) -> String {
    let known: Vec<&str> = FLAVORS
        .iter()
        .filter(|f| f.name != "openai")
        .map(|f| f.name)
        .collect();
    format!(
        "unknown provider `{prefix}` in `{}`; supported prefixes: openai, {}",
        d.model,
        known.join(", ")
    )
}

/// The base URL and key for a deployment: its own, then the flavor's environment variables,
/// then the flavor's default base URL.
fn endpoint(
    d: &DeploymentConfig,
    flavor: &Flavor,
    env: &Env,
) -> Result<(String, Option<Secret>), String> {
    let api_base = d
        .api_base
        .clone()
        .or_else(|| env.first(flavor.base_env))
        .or_else(|| flavor.default_api_base.map(str::to_string))
        .ok_or_else(|| {
            format!(
                "model_list entry `{}` ({}) needs `api_base`{}",
                d.model_name,
                flavor.label,
                if flavor.base_env.is_empty() {
                    String::new()
                } else {
                    format!(" (or {})", flavor.base_env.join(" / "))
                }
            )
        })?;
    let api_key = d
        .api_key
        .clone()
        .or_else(|| env.first(flavor.key_env).map(Secret::new));
    Ok((api_base, api_key))
}

/// Splits `provider/model`, inferring the provider of well-known bare OpenAI model names.
fn split_model(model: &str) -> Result<(&str, &str), String> {
    if let Some((prefix, rest)) = model.split_once('/') {
        return Ok((prefix, rest));
    }
    const OPENAI: &[&str] = &[
        "gpt-",
        "o1",
        "o3",
        "o4",
        "chatgpt-",
        "codex-",
        "computer-use",
    ];
    if OPENAI.iter().any(|p| model.starts_with(p)) {
        return Ok(("openai", model));
    }
    if model.starts_with("claude-") {
        return Ok(("anthropic", model));
    }
    if model.starts_with("gemini-") {
        return Ok(("gemini", model));
    }
    Err(format!(
        "model `{model}` has no provider prefix; write it as `provider/model`, for example \
         `openai/{model}` or `hosted_vllm/{model}`"
    ))
}

/// A provider this version cannot call; every request to it gets a clear refusal.
#[derive(Debug)]
struct Unsupported {
    name: String,
    model: String,
}

impl Provider for Unsupported {
    fn name(&self) -> &str {
        &self.name
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn api_base(&self) -> &str {
        ""
    }
    fn prepare(&self, _: &CreateResponse, _: CallInfo<'_>) -> Result<PreparedCall, Error> {
        Err(Error::invalid_request(
            format!(
                "This model is served by the `{}` provider, which this version of switchyard \
                 does not support yet.",
                self.name
            ),
            Some("model"),
        )
        .with_code("unsupported_provider"))
    }
    fn error_from(&self, status: u16, _: &http::HeaderMap, _: &[u8]) -> Error {
        Error::new(
            ErrorKind::Internal,
            format!("unexpected upstream status {status}"),
        )
    }
}
