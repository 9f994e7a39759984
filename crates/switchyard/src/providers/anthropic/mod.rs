//! Anthropic's Messages API (`anthropic/<model>`), and the same wire format served by Vertex AI
//! (`…/publishers/anthropic/models/{model}:rawPredict`).
//!
//! References: the Anthropic Messages API reference, <https://docs.anthropic.com/en/api/messages>
//! (request, streaming, errors), and Google Cloud's Vertex AI documentation of Claude as a
//! partner model (`rawPredict`, `anthropic_version` in the body). Decisions, briefly:
//! * `max_tokens` is required: the request's `max_output_tokens`, else the deployment's
//!   `max_tokens`, else the model's maximum output from [`models`]; with thinking on, an
//!   explicit cap shrinks the budget to fit, a default cap grows to hold it.
//! * `reasoning.effort` → `thinking.budget_tokens`: low 1024, medium 2048, high 4096, xhigh
//!   8192 (LiteLLM's values, and xhigh one step further); `none` / `minimal` → no thinking.
//! * Structured output uses a forced tool whose input is streamed back as message text
//!   ([`request::JSON_TOOL`]): it works on every Claude model and on Vertex, unlike the newer
//!   native `output_format`.
//! * Thinking blocks travel through the client in `encrypted_content` as the verbatim block
//!   ([`opaque`](super::opaque) tag `anthropic`) and are put back at their place in the next
//!   turn's assistant message.

pub mod count;
pub mod errors;
pub mod request;
pub mod response;
pub mod wire;

pub use super::translate::claude::models;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

use super::count::count_at;
use super::translate::defaults::with_defaults;
use super::{
    BuiltProvider, CallInfo, CountCall, InputTokens, PreparedCall, Provider, ProviderConfig,
    ProviderOptions, TokenSource, UpstreamRequest, json_body,
};
use crate::error::{Error, ErrorKind};
use crate::secret::Secret;
use request::{Target, messages_request};
use response::MessagesDecoder;

/// The Messages API version every request declares.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The body field Vertex AI wants instead of the `anthropic-version` header.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// Where Anthropic lives when the config names no `api_base`.
pub const DEFAULT_API_BASE: &str = "https://api.anthropic.com";
/// The tag of the opaque blobs this provider mints.
pub const OPAQUE_TAG: &str = "anthropic";

/// How requests reach the model and are authenticated.
#[derive(Debug)]
enum Endpoint {
    /// `POST {api_base}/v1/messages` (and `/v1/messages/count_tokens`) with `x-api-key`.
    FirstParty {
        url: reqwest::Url,
        count_url: reqwest::Url,
        api_key: Option<Secret>,
    },
    /// Vertex AI's `:rawPredict` / `:streamRawPredict` (and the publisher's
    /// `count-tokens:rawPredict`), with a Google OAuth token.
    Vertex {
        url: reqwest::Url,
        stream_url: reqwest::Url,
        count_url: reqwest::Url,
        tokens: Arc<dyn TokenSource>,
    },
}

/// A deployment speaking the Anthropic Messages API.
#[derive(Debug)]
pub struct AnthropicProvider {
    name: &'static str,
    model: String,
    api_base: String,
    endpoint: Endpoint,
    options: ProviderOptions,
}

impl AnthropicProvider {
    /// Anthropic's own API at `api_base` (`https://api.anthropic.com`, with or without `/v1`,
    /// or the full `…/v1/messages` URL). Fails when `api_base` is not a URL.
    pub fn new(
        model: impl Into<String>,
        api_base: String,
        api_key: Option<Secret>,
        options: ProviderOptions,
    ) -> Result<Self, String> {
        let base = api_base.trim_end_matches('/');
        let full = if base.ends_with("/v1/messages") {
            base.to_string()
        } else if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        };
        let parse = |full: &str| {
            reqwest::Url::parse(full)
                .map_err(|e| format!("`{api_base}` is not a usable base URL: {e}"))
        };
        let url = parse(&full)?;
        let count_url = parse(&format!("{full}/count_tokens"))?;
        Ok(AnthropicProvider {
            name: "anthropic",
            model: model.into(),
            api_base,
            endpoint: Endpoint::FirstParty {
                url,
                count_url,
                api_key,
            },
            options,
        })
    }

    /// Claude on Vertex AI. `url_base` is the location's resource URL,
    /// `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}`
    /// (`https://aiplatform.googleapis.com/v1/…/locations/global` for the global endpoint);
    /// requests go to `{url_base}/publishers/anthropic/models/{model}:rawPredict` (or
    /// `:streamRawPredict`) with a bearer token from `tokens`, fetched before every attempt.
    pub fn vertex(
        model: impl Into<String>,
        url_base: &str,
        tokens: Arc<dyn TokenSource>,
        options: ProviderOptions,
    ) -> Result<Self, String> {
        let model = model.into();
        let base = url_base.trim_end_matches('/');
        let parse = |model: &str, method: &str| {
            let full = format!("{base}/publishers/anthropic/models/{model}:{method}");
            reqwest::Url::parse(&full)
                .map_err(|e| format!("`{url_base}` is not a usable Vertex AI base URL: {e}"))
        };
        let url = parse(&model, "rawPredict")?;
        let stream_url = parse(&model, "streamRawPredict")?;
        // One counter serves every Claude model of the location; the body names the model.
        let count_url = parse("count-tokens", "rawPredict")?;
        Ok(AnthropicProvider {
            name: "vertex_ai",
            api_base: base.to_string(),
            model,
            endpoint: Endpoint::Vertex {
                url,
                stream_url,
                count_url,
                tokens,
            },
            options,
        })
    }

    fn secrets(&self) -> Vec<Secret> {
        match &self.endpoint {
            Endpoint::FirstParty { api_key, .. } => api_key.iter().cloned().collect(),
            Endpoint::Vertex { .. } => Vec::new(),
        }
    }

    /// The request as the Messages API gets it, and the tool names to map back.
    fn translate(
        &self,
        request: &CreateResponse,
        stream: bool,
    ) -> Result<(wire::MessagesRequest, request::ToolMap), Error> {
        // The cap the client set, before deployment defaults blur it with the configured one.
        let explicit_cap = request.max_output_tokens;
        let request = with_defaults(&self.options.defaults, request);
        let vertex = matches!(self.endpoint, Endpoint::Vertex { .. });
        let target = Target {
            label: self.label(),
            model: &self.model,
            drop_params: self.options.drop_params,
            stream,
            explicit_cap,
            vertex,
        };
        messages_request(&request, &target)
    }

    fn label(&self) -> &'static str {
        match self.endpoint {
            Endpoint::FirstParty { .. } => "Anthropic",
            Endpoint::Vertex { .. } => "Anthropic on Vertex AI",
        }
    }

    /// Request headers: credentials and version for the first-party API, the deployment's
    /// extra headers, and one merged `anthropic-beta` from the config and the client.
    fn headers(&self, client: &HeaderMap) -> HeaderMap {
        let mut pairs: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        let mut version = Some(ANTHROPIC_VERSION);
        if let Endpoint::FirstParty {
            api_key: Some(key), ..
        } = &self.endpoint
        {
            pairs.push(("x-api-key", key.expose()));
        }
        if matches!(self.endpoint, Endpoint::Vertex { .. }) {
            // Vertex reads the version from the body.
            version = None;
        }
        let mut betas: Vec<&str> = Vec::new();
        for (name, value) in &self.options.extra_headers {
            if name.eq_ignore_ascii_case("anthropic-beta") {
                push_betas(&mut betas, value);
            } else if name.eq_ignore_ascii_case("anthropic-version") {
                version = Some(value.as_str());
            } else {
                pairs.push((name.as_str(), value.as_str()));
            }
        }
        for value in client.get_all("anthropic-beta") {
            if let Ok(value) = value.to_str() {
                push_betas(&mut betas, value);
            }
        }
        let beta = betas.join(",");
        if let Some(version) = version {
            pairs.push(("anthropic-version", version));
        }
        if !beta.is_empty() {
            pairs.push(("anthropic-beta", &beta));
        }
        super::headers(pairs)
    }
}

/// Adds the comma-separated beta names in `value` that are not in `betas` yet.
fn push_betas<'a>(betas: &mut Vec<&'a str>, value: &'a str) {
    for beta in value.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        if !betas.contains(&beta) {
            betas.push(beta);
        }
    }
}

impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn api_base(&self) -> &str {
        &self.api_base
    }

    fn prepare(&self, request: &CreateResponse, call: CallInfo<'_>) -> Result<PreparedCall, Error> {
        let (body, tools) = self.translate(request, call.stream)?;
        let body = json_body(&body)?;
        let url = match &self.endpoint {
            Endpoint::FirstParty { url, .. } => url.clone(),
            Endpoint::Vertex {
                url, stream_url, ..
            } => {
                if call.stream {
                    stream_url.clone()
                } else {
                    url.clone()
                }
            }
        };
        Ok(PreparedCall {
            request: UpstreamRequest {
                url,
                headers: self.headers(call.client_headers),
                body,
            },
            decoder: Box::new(MessagesDecoder::new(self.label(), tools, self.secrets())),
        })
    }

    fn count_input_tokens(
        &self,
        request: &CreateResponse,
        call: CallInfo<'_>,
    ) -> Result<InputTokens, Error> {
        let (body, _) = self.translate(request, false)?;
        let (url, vertex) = match &self.endpoint {
            Endpoint::FirstParty { count_url, .. } => (count_url.clone(), false),
            Endpoint::Vertex { count_url, .. } => (count_url.clone(), true),
        };
        let counted = count::CountTokensRequest::new(&body, &self.model, vertex);
        Ok(InputTokens::Upstream(Box::new(CountCall {
            request: UpstreamRequest {
                url,
                headers: self.headers(call.client_headers),
                body: json_body(&counted)?,
            },
            read: |answer| count_at(answer, "/input_tokens"),
            fallback: None,
        })))
    }

    fn authorize<'a>(
        &'a self,
        request: &'a mut UpstreamRequest,
    ) -> super::BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Endpoint::Vertex { tokens, .. } = &self.endpoint else {
                return Ok(());
            };
            let token = tokens.token().await?;
            let value = http::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Authentication,
                        "the Vertex AI access token is not a valid header value",
                    )
                })?;
            request.headers.insert(http::header::AUTHORIZATION, value);
            Ok(())
        })
    }

    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        errors::classify(self.label(), Some(status), headers, body, &refs)
    }
}

/// Builds an `anthropic/<model>` deployment from its config entry.
pub fn build(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let d = cfg.deployment;
    let env = cfg.env;
    let api_base = d
        .api_base
        .clone()
        .or_else(|| env.first(&["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"]))
        .unwrap_or_else(|| DEFAULT_API_BASE.to_string());
    let api_key = d
        .api_key
        .clone()
        .or_else(|| env.first(&["ANTHROPIC_API_KEY"]).map(Secret::new));
    let mut notes = Vec::new();
    if api_key.is_none() {
        notes.push("has no API key (set litellm_params.api_key or ANTHROPIC_API_KEY)".to_string());
    }
    let mut ignored: Vec<&str> = d.provider_params.keys().map(String::as_str).collect();
    if d.api_version.is_some() {
        ignored.push("api_version");
    }
    if d.organization.is_some() {
        ignored.push("organization");
    }
    if !ignored.is_empty() {
        notes.push(format!(
            "sets {}, which the anthropic provider does not use",
            ignored.join(", ")
        ));
    }
    let provider = AnthropicProvider::new(cfg.model, api_base, api_key, cfg.options)
        .map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?;
    let warning = (!notes.is_empty())
        .then(|| format!("model_list entry `{}` {}", d.model_name, notes.join("; ")));
    Ok((Arc::new(provider), warning))
}
