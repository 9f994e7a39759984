//! The Chat Completions bridge: OpenAI's `/chat/completions` and every compatible server
//! (vLLM, Ollama, Groq, DeepSeek, Mistral, xAI, OpenRouter, Together, Fireworks, DeepInfra,
//! Cerebras).
//!
//! References: the OpenAI Chat Completions API reference,
//! <https://platform.openai.com/docs/api-reference/chat>, and each compatible server's own API
//! reference for its deviations (the `flavor` module).

pub mod count;
pub mod flavor;
pub mod request;
pub mod response;
pub mod wire;

#[cfg(test)]
mod tests;

use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

pub use flavor::{FLAVORS, Flavor, flavor};

use super::translate::defaults::with_defaults;
use super::{
    BoxFuture, CallInfo, Credential, InputTokens, PreparedCall, Provider, ProviderOptions,
    UpstreamRequest, classify_openai_error, join_url, json_body, openai_style_headers,
};
use crate::error::Error;
use crate::secret::Secret;
use request::{ChatTarget, to_chat};
use response::ChatDecoder;

/// The flavor of vLLM servers, the one Chat Completions server with a token counter.
const VLLM: &str = "hosted_vllm";

/// A deployment reached through Chat Completions.
#[derive(Debug)]
pub struct ChatProvider {
    flavor: &'static Flavor,
    model: String,
    api_base: String,
    url: reqwest::Url,
    credential: Credential,
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
            credential: Credential::bearer(api_key),
            organization,
            replay_reasoning: replay_reasoning.unwrap_or(flavor.replay_reasoning),
            options,
        })
    }

    /// Sends to `url` instead of `{api_base}/chat/completions` (Azure's URL forms).
    pub fn with_url(mut self, url: reqwest::Url) -> Self {
        self.url = url;
        self
    }

    /// Authenticates with `credential` instead of a bearer key.
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = credential;
        self
    }

    fn secrets(&self) -> Vec<Secret> {
        self.credential.secret().into_iter().cloned().collect()
    }

    /// The request as this server gets it.
    fn translate(
        &self,
        request: &CreateResponse,
        stream: bool,
    ) -> Result<(wire::ChatCompletionsRequest, super::translate::ToolNames), Error> {
        let request = with_defaults(&self.options.defaults, request);
        let target = ChatTarget {
            flavor: self.flavor,
            model: &self.model,
            drop_params: self.options.drop_params,
            stream,
            replay_reasoning: self.replay_reasoning,
        };
        to_chat(&request, &target)
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

    fn prepare(&self, request: &CreateResponse, call: CallInfo<'_>) -> Result<PreparedCall, Error> {
        let stream = call.stream;
        let (chat, tools) = self.translate(request, stream)?;
        let body = json_body(&chat)?;
        let headers = openai_style_headers(
            &self.credential,
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

    fn count_input_tokens(
        &self,
        request: &CreateResponse,
        _call: CallInfo<'_>,
    ) -> Result<InputTokens, Error> {
        let (chat, _) = self.translate(request, false)?;
        if self.flavor.name != VLLM {
            return Ok(InputTokens::Estimate(Box::new(chat)));
        }
        let url = count::tokenize_url(&self.api_base).map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Internal,
                format!("no vLLM /tokenize URL: {e}"),
            )
        })?;
        let headers = openai_style_headers(
            &self.credential,
            self.organization.as_deref(),
            false,
            &self.options,
        );
        count::tokenize_call(url, headers, &chat).map(|call| InputTokens::Upstream(Box::new(call)))
    }

    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        classify_openai_error(self.flavor.label, status, headers, body, &refs)
    }

    fn authorize<'a>(
        &'a self,
        request: &'a mut UpstreamRequest,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.credential.authorize(request))
    }
}
