//! Providers: each turns a Responses request into its upstream's native request, and the
//! upstream's answer (a body or a stream of bytes) into [`Upstream`] items — normalized
//! [`StreamEvent`]s for translated providers, native events for those that speak the Responses
//! API. Network I/O, timeouts and retries live in [`crate::gateway`], never here.
//!
//! * [`openai_responses`]: native Responses pass-through (`openai/`, and any compatible server
//!   whose deployment lists `/v1/responses` in `supported_endpoints`).
//! * [`openai_chat`]: the Chat Completions bridge for OpenAI-compatible servers, with one
//!   [`openai_chat::Flavor`] per server family.

pub mod openai_chat;
mod openai_errors;
pub mod openai_responses;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

use crate::error::Error;
use crate::secret::Secret;
pub use crate::stream::Upstream;

pub(crate) use openai_errors::classify_openai_error;

/// An HTTP request ready to send upstream.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    /// The full URL, parsed once when the deployment was built.
    pub url: reqwest::Url,
    /// Headers, credentials included.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Bytes,
}

/// A request translated for one upstream, and the decoder for its answer.
pub struct PreparedCall {
    /// What to send.
    pub request: UpstreamRequest,
    /// How to read what comes back.
    pub decoder: Box<dyn Decoder>,
}

impl fmt::Debug for PreparedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedCall")
            .field("url", &self.request.url)
            .finish_non_exhaustive()
    }
}

/// Reads an upstream's successful answer.
pub trait Decoder: Send {
    /// Decodes a complete, non-streamed body.
    fn body(&mut self, body: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error>;
    /// Decodes the next piece of a streamed body (pieces split anywhere, even inside UTF-8).
    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error>;
    /// The streamed body ended; an upstream that ended without its terminator is an error.
    fn end(&mut self, out: &mut Vec<Upstream>) -> Result<(), Error>;
}

/// A configured upstream: URL, credentials, model and wire format.
pub trait Provider: Send + Sync + fmt::Debug {
    /// The provider name as written in model strings (`openai`, `mistral`, …).
    fn name(&self) -> &str;
    /// The upstream model id.
    fn model(&self) -> &str;
    /// The base URL requests go to.
    fn api_base(&self) -> &str;
    /// True when this provider speaks the Responses API natively.
    fn is_native_responses(&self) -> bool {
        false
    }
    /// Translates `request`; `stream` says whether to ask the upstream for a stream.
    fn prepare(&self, request: &CreateResponse, stream: bool) -> Result<PreparedCall, Error>;
    /// Turns a non-2xx answer into an [`Error`] (credentials already redacted).
    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error;
}

/// Per-deployment behaviour shared by every provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    /// Drop parameters the upstream cannot honour instead of answering 400.
    pub drop_params: bool,
    /// Extra headers sent on every upstream request.
    pub extra_headers: Vec<(String, String)>,
    /// Default request parameters, applied when the request leaves them unset.
    pub defaults: RequestDefaults,
}

/// Request parameters a deployment sets by default (`litellm_params.temperature`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestDefaults {
    /// Default `temperature`.
    pub temperature: Option<f64>,
    /// Default `top_p`.
    pub top_p: Option<f64>,
    /// Default `max_output_tokens` (`max_tokens` in LiteLLM configs).
    pub max_output_tokens: Option<u64>,
    /// Default `reasoning.effort`.
    pub reasoning_effort: Option<String>,
}

impl RequestDefaults {
    /// Fills unset fields of `request` from these defaults.
    pub fn apply(&self, request: &mut CreateResponse) {
        if request.temperature.is_none() {
            request.temperature = self.temperature;
        }
        if request.top_p.is_none() {
            request.top_p = self.top_p;
        }
        if request.max_output_tokens.is_none() {
            request.max_output_tokens = self.max_output_tokens;
        }
        if let Some(effort) = &self.reasoning_effort {
            let reasoning = request.reasoning.get_or_insert_with(Default::default);
            if reasoning.effort.is_none() {
                reasoning.effort = Some(effort.clone());
            }
        }
    }

    /// True when no default is set.
    pub fn is_empty(&self) -> bool {
        *self == RequestDefaults::default()
    }
}

/// Headers of an OpenAI-style JSON request: content type, bearer key, organization, `accept`
/// for streams, then the deployment's extra headers.
pub(crate) fn openai_style_headers(
    api_key: Option<&Secret>,
    organization: Option<&str>,
    stream: bool,
    options: &ProviderOptions,
) -> HeaderMap {
    let auth = api_key.map(|key| format!("Bearer {}", key.expose()));
    let mut pairs: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        pairs.push(("authorization", auth));
    }
    if let Some(org) = organization {
        pairs.push(("openai-organization", org));
    }
    if stream {
        pairs.push(("accept", "text/event-stream"));
    }
    pairs.extend(
        options
            .extra_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    headers(pairs)
}

/// Serialises an upstream request body.
pub(crate) fn json_body(body: &impl serde::Serialize) -> Result<Bytes, Error> {
    serde_json::to_vec(body).map(Bytes::from).map_err(|e| {
        Error::new(
            crate::error::ErrorKind::Internal,
            format!("could not encode the request: {e}"),
        )
    })
}

/// Builds a header map, skipping any header whose name or value is not valid HTTP (a config
/// mistake that must not crash a request).
pub(crate) fn headers<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        } else {
            tracing::warn!(header = name, "skipping an invalid upstream header");
        }
    }
    map
}

/// Joins a base URL and a path with exactly one slash, and parses the result.
pub(crate) fn join_url(base: &str, path: &str) -> Result<reqwest::Url, String> {
    let joined = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    reqwest::Url::parse(&joined).map_err(|e| format!("`{base}` is not a usable base URL: {e}"))
}

/// The longest `Retry-After` the gateway passes on (a sanity cap; clients decide from the value
/// whether to wait, so it is otherwise passed through as the upstream sent it).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);
