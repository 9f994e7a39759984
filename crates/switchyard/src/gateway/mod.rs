//! The gateway: validates a Responses request, picks a deployment, calls its upstream (with
//! timeouts and retries) and returns the `Response` or a stream of its events.
//!
//! [`Gateway`] is what the proxy serves and what library users call. Network I/O happens here
//! and only here; providers translate, the builder writes events.

mod ids_map;
mod record;
pub mod registry;
mod stream;
mod validate;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_types::responses::{CreateResponse, Response};
use tokio::time::{Instant, timeout_at};

use crate::config::{Config, ConfigError, Env};
use crate::error::{Error, ErrorKind};
use crate::ids;
use crate::providers::UpstreamRequest;
use crate::stream::{ResponseBuilder, envelope};
use ids_map::IdMap;
use record::CallRecord;
use registry::{Deployment, Registry};
use stream::{Driver, connection_error, timeout_error};

pub use record::Outcome;
pub use stream::ResponseStream;
pub use validate::validate;

/// The whole-request timeout when neither the deployment nor `litellm_settings.request_timeout`
/// sets one (LiteLLM's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6000);

/// Upstream retries never wait longer than this; a longer `Retry-After` goes to the client.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// How much of an upstream error body is read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An LLM gateway. Cheap to clone; clones share connections and state.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    client: reqwest::Client,
    keepalive: Option<Duration>,
    ids: IdMap,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("registry", &self.inner.registry)
            .finish_non_exhaustive()
    }
}

/// Per-request information from the caller.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The request's id (`x-request-id`).
    pub request_id: String,
}

impl Default for CallContext {
    fn default() -> Self {
        CallContext {
            request_id: ids::request_id(),
        }
    }
}

/// A request in progress: the deployment serving it and its result.
#[derive(Debug)]
pub struct Execution {
    /// The deployment that answered.
    pub deployment: Arc<Deployment>,
    /// The response, or the stream of its events.
    pub output: Output,
}

/// What a request produced.
#[derive(Debug)]
pub enum Output {
    /// A complete response (`stream` was false).
    Response(Box<Response>),
    /// A primed stream of events (`stream` was true).
    Stream(ResponseStream),
}

/// A model group, as `GET /v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    /// The group name clients send as `model`.
    pub id: String,
    /// The provider of its first deployment.
    pub owned_by: String,
}

impl Gateway {
    /// A gateway serving `config`. Returns warnings about deployments that cannot work as
    /// configured; errors when the config cannot be served at all.
    pub fn from_config(config: &Config) -> Result<(Gateway, Vec<String>), ConfigError> {
        let (registry, warnings) = Registry::from_config(config).map_err(ConfigError)?;
        let gateway = Gateway::with_registry(registry, config.switchyard.stream_keepalive)
            .map_err(|e| ConfigError(e.message))?;
        Ok((gateway, warnings))
    }

    /// A gateway serving the config file at `path`; warnings are logged.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Gateway, ConfigError> {
        let config = Config::from_file(path)?;
        if let Some(warning) = config.warning() {
            tracing::warn!("{warning}");
        }
        let (gateway, warnings) = Gateway::from_config(&config)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        Ok(gateway)
    }

    /// A gateway without a config: `model` is a `provider/model` string and credentials come
    /// from the provider's usual environment variables (`OPENAI_API_KEY`, …).
    pub fn adhoc() -> Result<Gateway, Error> {
        Gateway::with_registry(Registry::adhoc(Env::process()), None)
    }

    fn with_registry(registry: Registry, keepalive: Option<Duration>) -> Result<Gateway, Error> {
        // ring keeps the build free of toolchains beyond `cc` (aws-lc wants more).
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        Ok(Gateway {
            inner: Arc::new(Inner {
                registry,
                client,
                keepalive,
                ids: IdMap::default(),
            }),
        })
    }

    /// The model groups, in config order.
    pub fn models(&self) -> Vec<ModelEntry> {
        self.inner
            .registry
            .groups()
            .into_iter()
            .map(|(id, owned_by)| ModelEntry {
                id: id.to_string(),
                owned_by: owned_by.to_string(),
            })
            .collect()
    }

    /// The deployments and how they are resolved.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Creates a response and waits for it (`stream` is forced off).
    pub async fn responses(&self, mut request: CreateResponse) -> Result<Response, Error> {
        request.stream = None;
        match self.execute(request, CallContext::default()).await?.output {
            Output::Response(response) => Ok(*response),
            Output::Stream(_) => Err(Error::new(ErrorKind::Internal, "unexpected stream")),
        }
    }

    /// Creates a response and streams its events (`stream` is forced on).
    pub async fn responses_stream(
        &self,
        mut request: CreateResponse,
    ) -> Result<ResponseStream, Error> {
        request.stream = Some(true);
        match self.execute(request, CallContext::default()).await?.output {
            Output::Stream(stream) => Ok(stream),
            Output::Response(_) => Err(Error::new(ErrorKind::Internal, "unexpected response")),
        }
    }

    /// Serves one request. Failures before any output (including every failure of a
    /// non-streamed request) are returned as errors; a stream that fails later ends with
    /// `response.failed`.
    pub async fn execute(
        &self,
        mut request: CreateResponse,
        ctx: CallContext,
    ) -> Result<Execution, Error> {
        let stream = request.is_stream();
        let deployment =
            match validate(&request).and_then(|model| self.inner.registry.resolve(model)) {
                Ok(deployment) => deployment,
                Err(error) => {
                    record::log_rejected(&ctx.request_id, request.model.as_deref(), stream, &error);
                    return Err(error);
                }
            };
        if let Some(previous) = request.previous_response_id.as_deref()
            && let Some(upstream) = self.inner.ids.upstream(previous)
        {
            request.previous_response_id = Some(upstream);
        }
        let mut record = CallRecord::start(&ctx.request_id, &deployment, stream);
        let mut retries = 0;
        loop {
            record.attempt();
            let result = if stream {
                self.stream_once(&deployment, &request, record)
                    .await
                    .map(Output::Stream)
            } else {
                self.call_once(&deployment, &request, &mut record)
                    .await
                    .map(|r| Output::Response(Box::new(r)))
                    .map_err(|e| (e, record))
            };
            match result {
                Ok(output) => return Ok(Execution { deployment, output }),
                Err((error, returned)) => {
                    record = returned;
                    match retry_delay(&error, retries, deployment.max_retries) {
                        Some(delay) => {
                            tracing::debug!(
                                deployment = %deployment.id,
                                error = %error,
                                ?delay,
                                "retrying the upstream"
                            );
                            retries += 1;
                            tokio::time::sleep(delay).await;
                        }
                        None => {
                            record.finish_error(&error);
                            return Err(error);
                        }
                    }
                }
            }
        }
    }

    fn builder(
        &self,
        request: &CreateResponse,
        deployment: &Deployment,
        streaming: bool,
    ) -> ResponseBuilder {
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        ResponseBuilder::new(
            envelope(
                request,
                ids::response_id(),
                deployment.provider.model().to_string(),
                created_at,
            ),
            streaming,
            request.includes("reasoning.encrypted_content"),
        )
    }

    async fn call_once(
        &self,
        deployment: &Deployment,
        request: &CreateResponse,
        record: &mut CallRecord,
    ) -> Result<Response, Error> {
        let prepared = deployment.provider.prepare(request, false)?;
        let deadline = Instant::now() + deployment.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let answer = self.send(deployment, prepared.request, deadline).await?;
        let provider = deployment.provider.name();
        let body = match timeout_at(deadline, answer.bytes()).await {
            Err(_) => return Err(timeout_error(provider)),
            Ok(Err(e)) => return Err(connection_error(provider, &e)),
            Ok(Ok(body)) => body,
        };
        let mut decoder = prepared.decoder;
        let mut items = Vec::new();
        decoder.body(&body, &mut items)?;
        let mut builder = self.builder(request, deployment, false);
        builder.apply(&mut items)?;
        builder.complete();
        if let Some(upstream) = builder.upstream_response_id()
            && upstream != builder.response().id
        {
            self.inner
                .ids
                .insert(builder.response().id.clone(), upstream.to_string());
        }
        let response = builder.into_response();
        record.output_started();
        record.finish_response(&response);
        Ok(response)
    }

    async fn stream_once(
        &self,
        deployment: &Deployment,
        request: &CreateResponse,
        record: CallRecord,
    ) -> Result<ResponseStream, (Error, CallRecord)> {
        let prepared = match deployment.provider.prepare(request, true) {
            Ok(prepared) => prepared,
            Err(e) => return Err((e, record)),
        };
        let start = Instant::now();
        let deadline = start + deployment.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let first_output_by = deployment.stream_timeout.map(|t| start + t);
        let answer = match self
            .send(
                deployment,
                prepared.request,
                first_output_by.map_or(deadline, |t| t.min(deadline)),
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => return Err((e, record)),
        };
        let native = deployment.provider.is_native_responses();
        let mut builder = self.builder(request, deployment, true);
        if !native {
            builder.start();
        }
        let mut driver = Driver::new(
            builder,
            answer,
            prepared.decoder,
            native,
            deadline,
            self.inner.keepalive,
            record,
            self.inner.ids.clone(),
            deployment.provider.name().to_string(),
        );
        match driver.prime(first_output_by).await {
            Ok(()) => Ok(driver.into_stream()),
            Err(e) => Err((e, driver.into_record())),
        }
    }

    /// Sends `request`; a non-2xx answer becomes the provider's [`Error`].
    async fn send(
        &self,
        deployment: &Deployment,
        request: UpstreamRequest,
        deadline: Instant,
    ) -> Result<reqwest::Response, Error> {
        let provider = deployment.provider.name();
        let call = self
            .inner
            .client
            .post(request.url)
            .headers(request.headers)
            .body(request.body)
            .send();
        let answer = match timeout_at(deadline, call).await {
            Err(_) => return Err(timeout_error(provider)),
            Ok(Err(e)) => return Err(connection_error(provider, &e)),
            Ok(Ok(answer)) => answer,
        };
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let headers = answer.headers().clone();
        let body = read_limited(answer, deadline).await;
        Err(deployment.provider.error_from(status, &headers, &body))
    }
}

/// Reads at most [`ERROR_BODY_LIMIT`] bytes of an error answer, whatever arrives in time.
async fn read_limited(mut answer: reqwest::Response, deadline: Instant) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match timeout_at(deadline, answer.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_LIMIT);
    body
}

/// How long to wait before retry number `retries + 1`, or `None` when the error is not worth
/// retrying or the deployment's retries are spent.
fn retry_delay(error: &Error, retries: u32, max_retries: u32) -> Option<Duration> {
    if retries >= max_retries {
        return None;
    }
    let retryable = match error.kind {
        ErrorKind::RateLimited => error.code.as_deref() != Some("insufficient_quota"),
        ErrorKind::Overloaded | ErrorKind::Upstream | ErrorKind::Timeout => true,
        _ => false,
    };
    if !retryable {
        return None;
    }
    if let Some(after) = error.retry_after {
        return (after <= MAX_RETRY_WAIT).then_some(after);
    }
    // Exponential backoff from 250 ms with up to 50 % jitter, at most 8 s.
    let base = Duration::from_millis(250).saturating_mul(1 << retries.min(5));
    let jitter = base.mul_f64(fastrand::f64() * 0.5);
    Some((base + jitter).min(Duration::from_secs(8)))
}

/// Creates a response with a gateway configured from the environment: `request.model` is a
/// `provider/model` string such as `openai/gpt-4o` or `groq/llama-3.3-70b-versatile`, and
/// credentials come from the provider's usual environment variables.
pub async fn responses(request: CreateResponse) -> Result<Response, Error> {
    shared_adhoc()?.responses(request).await
}

/// Like [`responses`], streaming the response's events.
pub async fn responses_stream(request: CreateResponse) -> Result<ResponseStream, Error> {
    shared_adhoc()?.responses_stream(request).await
}

fn shared_adhoc() -> Result<Gateway, Error> {
    static SHARED: OnceLock<Result<Gateway, Error>> = OnceLock::new();
    SHARED.get_or_init(Gateway::adhoc).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_what_is_worth_retrying() {
        let rate = Error::upstream(ErrorKind::RateLimited, "x");
        assert!(retry_delay(&rate, 0, 2).is_some());
        assert!(retry_delay(&rate, 2, 2).is_none(), "budget spent");
        let quota = rate.clone().with_code("insufficient_quota");
        assert!(retry_delay(&quota, 0, 2).is_none());
        let bad = Error::invalid_request("x", None);
        assert!(retry_delay(&bad, 0, 2).is_none());
        let waited = rate
            .clone()
            .with_retry_after(Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_delay(&waited, 0, 2),
            Some(Duration::from_millis(1500))
        );
        let too_long = rate.with_retry_after(Some(Duration::from_secs(120)));
        assert!(retry_delay(&too_long, 0, 2).is_none());
        let backoff = retry_delay(&Error::upstream(ErrorKind::Upstream, "x"), 1, 3).unwrap();
        assert!(backoff >= Duration::from_millis(500) && backoff <= Duration::from_millis(750));
    }
}
