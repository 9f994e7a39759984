//! Google Gemini: the Gemini API (`gemini/<model>`) and, through [`super::vertex`], Gemini on
//! Vertex AI (`vertex_ai/<gemini model>`). Both speak the same `generateContent` format; they
//! differ in URL and credentials only.
//!
//! References: the Google Gemini API reference, <https://ai.google.dev/api/generate-content>,
//! and its guide to thought signatures,
//! <https://ai.google.dev/gemini-api/docs/thought-signatures>.

pub mod count;
pub mod errors;
pub mod request;
pub mod response;
pub mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

use super::path::{PathModel, check_model_in_path};
use super::translate::defaults::with_defaults;
use super::{
    BoxFuture, BuiltProvider, CallInfo, CountCall, InputTokens, PreparedCall, Provider,
    ProviderConfig, ProviderOptions, TokenSource, UpstreamRequest, headers, json_body,
};
use crate::error::{Error, ErrorKind};
use crate::secret::Secret;
use crate::text::echo;
use errors::classify_google_error;
use request::{GeminiTarget, to_gemini};
use response::GeminiDecoder;

/// The Gemini API's default base URL.
pub const DEFAULT_API_BASE: &str = "https://generativelanguage.googleapis.com";

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum GeminiAuth {
    /// `x-goog-api-key` (the Gemini API).
    ApiKey(Secret),
    /// `Authorization: Bearer` from a token source (Vertex AI).
    Bearer(Arc<dyn TokenSource>),
    /// Nothing configured: requests go out unauthenticated and the upstream's 401/403 is
    /// passed on (the startup warning already named the problem).
    None,
}

/// Where a Gemini deployment is reached.
#[derive(Debug, Clone)]
pub struct GeminiEndpoint {
    /// `gemini` or `vertex_ai`.
    pub name: &'static str,
    /// `Gemini` or `Vertex AI`, in messages.
    pub label: &'static str,
    /// The base URL, for listings.
    pub api_base: String,
    /// `…:generateContent`.
    pub generate_url: reqwest::Url,
    /// `…:streamGenerateContent?alt=sse`.
    pub stream_url: reqwest::Url,
}

/// A Gemini model behind the Gemini API or Vertex AI.
#[derive(Debug)]
pub struct GeminiProvider {
    endpoint: GeminiEndpoint,
    model: String,
    auth: GeminiAuth,
    options: ProviderOptions,
}

impl GeminiProvider {
    /// A provider for `model` at `endpoint`.
    pub fn new(
        endpoint: GeminiEndpoint,
        model: impl Into<String>,
        auth: GeminiAuth,
        options: ProviderOptions,
    ) -> Self {
        GeminiProvider {
            endpoint,
            model: model.into(),
            auth,
            options,
        }
    }

    fn secrets(&self) -> Vec<Secret> {
        match &self.auth {
            GeminiAuth::ApiKey(key) => vec![key.clone()],
            _ => Vec::new(),
        }
    }

    /// The request as Google gets it, and the function names to map back.
    fn translate(
        &self,
        request: &CreateResponse,
    ) -> Result<
        (
            wire::GenerateContentRequest,
            crate::providers::translate::ToolNames,
        ),
        Error,
    > {
        let request = with_defaults(&self.options.defaults, request);
        let target = GeminiTarget {
            label: self.endpoint.label,
            model: &self.model,
            drop_params: self.options.drop_params,
        };
        to_gemini(&request, &target)
    }

    /// Request headers: JSON, the API key, `accept` for streams, the extra headers.
    fn headers(&self, stream: bool) -> HeaderMap {
        let mut pairs: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        if let GeminiAuth::ApiKey(key) = &self.auth {
            pairs.push(("x-goog-api-key", key.expose()));
        }
        if stream {
            pairs.push(("accept", "text/event-stream"));
        }
        pairs.extend(
            self.options
                .extra_headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        headers(pairs)
    }
}

impl Provider for GeminiProvider {
    fn name(&self) -> &str {
        self.endpoint.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn api_base(&self) -> &str {
        &self.endpoint.api_base
    }

    fn prepare(&self, request: &CreateResponse, call: CallInfo<'_>) -> Result<PreparedCall, Error> {
        let (body, tools) = self.translate(request)?;
        let url = if call.stream {
            self.endpoint.stream_url.clone()
        } else {
            self.endpoint.generate_url.clone()
        };
        let signatures = request.includes("reasoning.encrypted_content");
        Ok(PreparedCall {
            request: UpstreamRequest {
                url,
                headers: self.headers(call.stream),
                body: json_body(&body)?,
            },
            decoder: Box::new(
                GeminiDecoder::new(self.endpoint.label, tools, self.secrets(), signatures)
                    .carrying_signatures_in_call_ids(request.store == Some(false)),
            ),
        })
    }

    fn count_input_tokens(
        &self,
        request: &CreateResponse,
        _call: CallInfo<'_>,
    ) -> Result<InputTokens, Error> {
        let (body, _) = self.translate(request)?;
        let vertex = self.endpoint.name == "vertex_ai";
        Ok(InputTokens::Upstream(Box::new(CountCall {
            request: UpstreamRequest {
                url: count::count_url(&self.endpoint.generate_url),
                headers: self.headers(false),
                body: count::count_body(&body, &self.model, vertex)?,
            },
            read: |answer| super::count::count_at(answer, "/totalTokens"),
            fallback: None,
        })))
    }

    fn authorize<'a>(
        &'a self,
        request: &'a mut UpstreamRequest,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let GeminiAuth::Bearer(source) = &self.auth {
                let token = source.token().await?;
                let value = http::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Upstream,
                            format!(
                                "{} issued an access token that is not a valid header value",
                                self.endpoint.label
                            ),
                        )
                    })?;
                request.headers.insert(http::header::AUTHORIZATION, value);
            }
            Ok(())
        })
    }

    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        classify_google_error(self.endpoint.label, status, headers, body, &refs)
    }
}

/// The `:generateContent` and `:streamGenerateContent?alt=sse` URLs under `models_url` (which
/// ends in `/models/{model}`).
pub fn method_urls(models_url: &str) -> Result<(reqwest::Url, reqwest::Url), String> {
    let parse =
        |s: String| reqwest::Url::parse(&s).map_err(|e| format!("`{s}` is not a usable URL: {e}"));
    Ok((
        parse(format!("{models_url}:generateContent"))?,
        parse(format!("{models_url}:streamGenerateContent?alt=sse"))?,
    ))
}

/// Builds a `gemini/<model>` deployment: key from `api_key`, `GEMINI_API_KEY` or
/// `GOOGLE_API_KEY`; base from `api_base`, `GEMINI_API_BASE` or the public endpoint.
pub fn build(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let d = cfg.deployment;
    let api_base = d
        .api_base
        .clone()
        .or_else(|| cfg.env.first(&["GEMINI_API_BASE"]))
        .unwrap_or_else(|| DEFAULT_API_BASE.to_string());
    let key = d.api_key.clone().or_else(|| {
        cfg.env
            .first(&["GEMINI_API_KEY", "GOOGLE_API_KEY"])
            .map(Secret::new)
    });
    // `gemini/models/gemini-2.5-pro` and `gemini/gemini-2.5-pro` name the same model.
    let model = cfg.model.strip_prefix("models/").unwrap_or(cfg.model);
    check_model_in_path(model, PathModel::Verbatim)
        .map_err(|e| format!("model_list entry `{}`: {e}", echo(&d.model_name)))?;
    let base = api_base.trim_end_matches('/');
    let versioned =
        if base.ends_with("/v1beta") || base.ends_with("/v1") || base.ends_with("/v1alpha") {
            base.to_string()
        } else {
            format!("{base}/v1beta")
        };
    let (generate_url, stream_url) = method_urls(&format!("{versioned}/models/{model}"))
        .map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?;
    let mut warnings = Vec::new();
    if key.is_none() {
        warnings.push(format!(
            "model_list entry `{}` has no API key (set litellm_params.api_key or GEMINI_API_KEY / \
             GOOGLE_API_KEY)",
            d.model_name
        ));
    }
    let ignored: Vec<&String> = d.provider_params.keys().collect();
    if !ignored.is_empty() {
        warnings.push(format!(
            "model_list entry `{}` (Gemini API) does not use {}; they are ignored",
            d.model_name,
            ignored
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let auth = key.map_or(GeminiAuth::None, GeminiAuth::ApiKey);
    let endpoint = GeminiEndpoint {
        name: "gemini",
        label: "Gemini",
        api_base,
        generate_url,
        stream_url,
    };
    let provider = GeminiProvider::new(endpoint, model, auth, cfg.options);
    Ok((
        Arc::new(provider),
        (!warnings.is_empty()).then(|| warnings.join("; ")),
    ))
}
