//! Providers: each turns a Responses request into its upstream's native request, and the
//! upstream's answer (a body or a stream of bytes) into [`Upstream`] items — normalized
//! [`StreamEvent`]s for translated providers, native events for those that speak the Responses
//! API. Network I/O, timeouts and retries live in [`crate::gateway`], never here.
//!
//! * [`openai_responses`]: native Responses pass-through (`openai/`, and any compatible server
//!   whose deployment lists `/v1/responses` in `supported_endpoints`).
//! * [`openai_chat`]: the Chat Completions bridge for OpenAI-compatible servers, with one
//!   [`openai_chat::Flavor`] per server family.
//! * [`anthropic`]: Anthropic's Messages API, first-party and on Vertex AI.
//! * [`azure`]: Azure OpenAI and Azure AI Foundry (OpenAI wire formats, Azure URLs and keys).
//! * [`bedrock`]: AWS Bedrock through the Converse API, SigV4-signed.
//! * [`gemini`]: Google's `generateContent` format, for the Gemini API and Vertex AI.
//! * [`vertex`]: Vertex AI endpoints and service-account tokens, shared by its publishers.
//! * [`translate`]: what the translating providers share (tools, tool choice, history, Claude's
//!   rules).
//!
//! [`count`] is how a provider counts a request's input tokens without running it.
//!
//! [`factory`] picks and builds the provider of a `model_list` entry from its model prefix;
//! `path` checks model names that go into upstream URLs.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod count;
pub mod factory;
mod gate;
pub mod gemini;
pub(crate) mod oauth;
pub mod opaque;
pub mod openai_chat;
mod openai_errors;
pub mod openai_responses;
pub(crate) mod path;
pub mod translate;
pub mod vertex;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

pub use crate::config::RequestDefaults;
use crate::error::Error;
use crate::secret::Secret;
pub use crate::stream::Upstream;
pub use count::{CountCall, CountFallback, InputTokens};

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

/// What a provider needs to know about one call besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo<'a> {
    /// Ask the upstream for a stream.
    pub stream: bool,
    /// The client's request headers, for the few a provider passes on by name (such as
    /// `anthropic-beta`). Never forward them wholesale: they carry the gateway's own key.
    pub client_headers: &'a HeaderMap,
}

impl CallInfo<'_> {
    /// A call with no client headers (the library API, tests).
    pub fn new(stream: bool) -> CallInfo<'static> {
        static EMPTY: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
        CallInfo {
            stream,
            client_headers: EMPTY.get_or_init(HeaderMap::new),
        }
    }
}

/// A source of short-lived bearer tokens (Vertex AI service accounts, Entra ID), cached and
/// refreshed by the implementation.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token valid for at least the next minute.
    fn token(&self) -> BoxFuture<'_, Result<Secret, Error>>;
}

/// A boxed future, for the async hooks of object-safe traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

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
    /// Translates `request` for the upstream.
    fn prepare(&self, request: &CreateResponse, call: CallInfo<'_>) -> Result<PreparedCall, Error>;
    /// Adds credentials that need I/O or the final bytes (an OAuth token, a SigV4 signature)
    /// just before each attempt is sent; the default adds nothing.
    fn authorize<'a>(
        &'a self,
        _request: &'a mut UpstreamRequest,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(Ok(())))
    }
    /// Turns a non-2xx answer into an [`Error`] (credentials already redacted).
    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error;
    /// How to count `request`'s input tokens, built from the same translation as
    /// [`Provider::prepare`] so that the count is of what a create would send. The default is
    /// an upstream without a counter: the gateway estimates the request as the Chat
    /// Completions bridge would carry it.
    fn count_input_tokens(
        &self,
        request: &CreateResponse,
        _call: CallInfo<'_>,
    ) -> Result<InputTokens, Error> {
        openai_chat::count::generic_body(request).map(|body| InputTokens::Estimate(Box::new(body)))
    }

    /// For an upstream with compaction of its own (`POST /responses/compact`: OpenAI and
    /// Azure), the request that compacts `request`'s input there; `None` for the others, whose
    /// compaction the gateway does with the model itself.
    fn compact_request(&self, _request: &CreateResponse) -> Option<Result<UpstreamRequest, Error>> {
        None
    }
}

/// What a provider's constructor reads: the config entry, the upstream model (a wildcard
/// already expanded), the environment and the shared options.
#[derive(Debug)]
pub struct ProviderConfig<'a> {
    /// The `model_list` entry.
    pub deployment: &'a crate::config::DeploymentConfig,
    /// The provider prefix (`anthropic`, `vertex_ai`, …).
    pub prefix: &'a str,
    /// The upstream model, without its provider prefix.
    pub model: &'a str,
    /// Environment variables, config overlay included.
    pub env: &'a crate::config::Env,
    /// Shared per-deployment behaviour.
    pub options: ProviderOptions,
}

/// A provider built from config, and a startup warning when it cannot work as configured
/// (a missing key, a parameter it does not act on).
pub type BuiltProvider = (std::sync::Arc<dyn Provider>, Option<String>);

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

/// How an OpenAI-style upstream is authenticated.
#[derive(Debug, Clone, Default)]
pub enum Credential {
    /// No credential (local servers).
    #[default]
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(Secret),
    /// Azure's `api-key: <key>`.
    ApiKeyHeader(Secret),
    /// A short-lived bearer token fetched before each attempt (Entra ID).
    Token(std::sync::Arc<dyn TokenSource>),
}

impl Credential {
    /// A bearer key, or none.
    pub fn bearer(key: Option<Secret>) -> Credential {
        key.map_or(Credential::None, Credential::Bearer)
    }

    /// True when nothing authenticates the requests.
    pub fn is_none(&self) -> bool {
        matches!(self, Credential::None)
    }

    /// The static secret, for redaction from upstream error messages.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Credential::Bearer(key) | Credential::ApiKeyHeader(key) => Some(key),
            Credential::None | Credential::Token(_) => None,
        }
    }

    /// Adds a fetched token to `request` (static keys are added by [`openai_style_headers`]).
    pub async fn authorize(&self, request: &mut UpstreamRequest) -> Result<(), Error> {
        if let Credential::Token(source) = self {
            let token = source.token().await?;
            let value = http::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| {
                    Error::new(
                        crate::error::ErrorKind::Authentication,
                        "the identity provider returned a token that is not a valid header value",
                    )
                })?;
            request.headers.insert(http::header::AUTHORIZATION, value);
        }
        Ok(())
    }
}

/// Headers of an OpenAI-style JSON request: content type, the static credential, organization,
/// `accept` for streams, then the deployment's extra headers.
pub(crate) fn openai_style_headers(
    credential: &Credential,
    organization: Option<&str>,
    stream: bool,
    options: &ProviderOptions,
) -> HeaderMap {
    let auth = match credential {
        Credential::Bearer(key) => Some(("authorization", format!("Bearer {}", key.expose()))),
        Credential::ApiKeyHeader(key) => Some(("api-key", key.expose().to_string())),
        Credential::None | Credential::Token(_) => None,
    };
    let mut pairs: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some((name, value)) = &auth {
        pairs.push((name, value));
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

/// `(media type, base64 data)` of a `data:<media type>;base64,<data>` URL; `None` for anything
/// else (another URL, a data URL that is not base64).
pub(crate) fn base64_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
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
