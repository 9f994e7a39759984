//! The Chat Completions bridge: OpenAI's `/chat/completions` and every compatible server
//! (vLLM, Ollama, Groq, DeepSeek, Mistral, xAI, OpenRouter, Together, Fireworks, DeepInfra,
//! Cerebras).
//!
//! References: <https://platform.openai.com/docs/api-reference/chat>, and the vendor sections of
//! `providers.md` §1 and §8.

pub mod flavor;
pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

pub use flavor::{FLAVORS, Flavor, flavor};

use super::{
    PreparedCall, Provider, ProviderOptions, UpstreamRequest, classify_openai_error, join_url,
    json_body, openai_style_headers,
};
use crate::error::Error;
use crate::secret::Secret;
use request::{ChatTarget, to_chat};
use response::ChatDecoder;

/// A deployment reached through Chat Completions.
#[derive(Debug)]
pub struct ChatProvider {
    flavor: &'static Flavor,
    model: String,
    api_base: String,
    url: reqwest::Url,
    api_key: Option<Secret>,
    organization: Option<String>,
    replay_reasoning: bool,
    options: ProviderOptions,
}

impl ChatProvider {
    /// A provider for `model` on a `flavor` server at `api_base` (already resolved from the
    /// config, the flavor's environment variables or its default). Fails when `api_base` is not
    /// a URL.
    pub fn new(
        flavor: &'static Flavor,
        model: impl Into<String>,
        api_base: String,
        api_key: Option<Secret>,
        organization: Option<String>,
        replay_reasoning: Option<bool>,
        options: ProviderOptions,
    ) -> Result<Self, String> {
        let base = api_base.trim_end_matches('/');
        let url = if flavor.append_v1 && !base.ends_with("/v1") {
            join_url(base, "v1/chat/completions")?
        } else {
            join_url(base, "chat/completions")?
        };
        Ok(ChatProvider {
            flavor,
            model: model.into(),
            api_base,
            url,
            api_key,
            organization,
            replay_reasoning: replay_reasoning.unwrap_or(flavor.replay_reasoning),
            options,
        })
    }

    /// True when no API key was configured or found in the environment.
    pub fn missing_required_key(&self) -> bool {
        self.flavor.key_required && self.api_key.is_none()
    }

    fn secrets(&self) -> Vec<Secret> {
        self.api_key.iter().cloned().collect()
    }
}

impl Provider for ChatProvider {
    fn name(&self) -> &str {
        self.flavor.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn api_base(&self) -> &str {
        &self.api_base
    }

    fn prepare(&self, request: &CreateResponse, stream: bool) -> Result<PreparedCall, Error> {
        let request: Cow<'_, CreateResponse> = if self.options.defaults.is_empty() {
            Cow::Borrowed(request)
        } else {
            let mut owned = request.clone();
            self.options.defaults.apply(&mut owned);
            Cow::Owned(owned)
        };
        let target = ChatTarget {
            flavor: self.flavor,
            model: &self.model,
            drop_params: self.options.drop_params,
            stream,
            replay_reasoning: self.replay_reasoning,
        };
        let (chat, tools) = to_chat(&request, &target)?;
        let body = json_body(&chat)?;
        let headers = openai_style_headers(
            self.api_key.as_ref(),
            self.organization.as_deref(),
            stream,
            &self.options,
        );
        Ok(PreparedCall {
            request: UpstreamRequest {
                url: self.url.clone(),
                headers,
                body,
            },
            decoder: Box::new(ChatDecoder::new(self.flavor, tools, self.secrets())),
        })
    }

    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        classify_openai_error(self.flavor.label, status, headers, body, &refs)
    }
}
