//! The gateway: validates a Responses request, picks a deployment, calls its upstream (with
//! timeouts and retries) and returns the `Response` or a stream of its events.
//!
//! [`Gateway`] is what the proxy serves and what library users call. Network I/O happens here
//! and only here; providers translate, the builder writes events.

mod health;
mod ids_map;
mod record;
pub mod registry;
mod stream;
mod validate;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_types::responses::{CreateResponse, Response};
use tokio::time::{Instant, timeout_at};

use crate::accounting::{RequestMeta, RequestParams, Sinks};
use crate::config::{Config, ConfigError, Env};
use crate::error::{Error, ErrorKind};
use crate::ids;
use crate::providers::{CallInfo, UpstreamRequest};
use crate::router::overrides::RequestOverrides;
use crate::router::{self, RequestFallback, Router, RouterSettings, Target, tags};
use crate::stream::{ResponseBuilder, envelope};
use ids_map::IdMap;
use record::CallRecord;
use registry::{Deployment, Registry};
use stream::{Driver, connection_error, timeout_error};

pub use health::{HealthCheck, HealthReport};
pub use record::Outcome;
pub use stream::ResponseStream;
pub use validate::validate;

/// The whole-request timeout when neither the deployment nor `litellm_settings.request_timeout`
/// sets one (LiteLLM's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6000);

/// How much of an upstream error body is read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An LLM gateway. Cheap to clone; clones share connections and state.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    router: Router,
    client: reqwest::Client,
    keepalive: Option<Duration>,
    ids: IdMap,
    /// Response id → the deployment that produced it (native Responses upstreams only), so
    /// that a `previous_response_id` continues where its state lives.
    affinity: IdMap,
    sinks: Sinks,
    cost_in_usage: bool,
    health: health::Background,
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
    /// The client's request headers; providers read the few they pass on by name.
    pub client_headers: http::HeaderMap,
    /// Who asked, for the request's accounting record.
    pub meta: RequestMeta,
}

impl Default for CallContext {
    fn default() -> Self {
        CallContext {
            request_id: ids::request_id(),
            client_headers: http::HeaderMap::new(),
            meta: RequestMeta::default(),
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
    /// Retries made, over every group tried.
    pub attempted_retries: u32,
    /// Fallback groups tried.
    pub attempted_fallbacks: u32,
    /// The most fallback groups this request could have tried (`max_fallbacks`, or the
    /// request's own).
    pub max_fallbacks: usize,
    /// The cost (USD) of a non-streamed response; `None` for streams (known only at their
    /// end) and for models without a price.
    pub cost: Option<f64>,
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
        let router = Router::new(config.router.clone());
        let gateway = Gateway::with_registry(
            registry,
            router,
            config.switchyard.stream_keepalive,
            config.accounting.include_cost_in_usage,
        )
        .map_err(|e| ConfigError(e.message))?;
        // Connects to Redis now when built inside a runtime; otherwise on the first request.
        let inner = &gateway.inner;
        inner
            .router
            .start(|| inner.registry.deployments().cloned().collect());
        gateway.start_health_checks();
        let mut warnings = warnings;
        for (alias, target) in &config.router.model_group_alias {
            if gateway.inner.registry.target(&target.group).is_err() {
                warnings.push(format!(
                    "router_settings.model_group_alias `{alias}` names `{}`, which no model_list \
                     entry serves; requests for `{alias}` will fail",
                    target.group
                ));
            }
        }
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
        Gateway::with_registry(
            Registry::adhoc(Env::process()),
            Router::new(RouterSettings::default()),
            None,
            false,
        )
    }

    fn with_registry(
        registry: Registry,
        router: Router,
        keepalive: Option<Duration>,
        cost_in_usage: bool,
    ) -> Result<Gateway, Error> {
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
                router,
                client,
                keepalive,
                ids: IdMap::default(),
                affinity: IdMap::default(),
                sinks: Sinks::default(),
                cost_in_usage,
                health: health::Background::default(),
            }),
        })
    }

    /// The model groups, in config order, then the aliases of `model_group_alias` not marked
    /// `hidden` (sorted by name).
    pub fn models(&self) -> Vec<ModelEntry> {
        let groups = self.inner.registry.groups();
        let mut aliases: Vec<ModelEntry> = self
            .inner
            .router
            .settings()
            .model_group_alias
            .iter()
            .filter(|(name, alias)| !alias.hidden && !groups.iter().any(|(g, _)| g == name))
            .filter_map(|(name, alias)| {
                let (_, owned_by) = groups.iter().find(|(g, _)| *g == alias.group)?;
                Some(ModelEntry {
                    id: name.clone(),
                    owned_by: owned_by.to_string(),
                })
            })
            .collect();
        aliases.sort_by(|a, b| a.id.cmp(&b.id));
        groups
            .iter()
            .map(|(id, owned_by)| ModelEntry {
                id: id.to_string(),
                owned_by: owned_by.to_string(),
            })
            .chain(aliases)
            .collect()
    }

    /// What a request (or a fallback) naming `model` goes to: `model_group_alias` applied
    /// first (as LiteLLM does), then the registry's groups, deployment ids and wildcards.
    fn target(&self, model: &str) -> Result<Target, Error> {
        let model = match self.inner.router.settings().model_group_alias.get(model) {
            Some(alias) => alias.group.as_str(),
            None => model,
        };
        self.inner.registry.target(model)
    }

    /// The router: strategy, retries, fallbacks, cooldowns, limits.
    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    /// The deployments and how they are resolved.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The sinks every finished request is handed to (spend logs, metrics); add yours.
    pub fn sinks(&self) -> &Sinks {
        &self.inner.sinks
    }

    /// Records a request refused before it reached a deployment; returns the error to answer.
    fn rejected(&self, ctx: CallContext, model: Option<&str>, stream: bool, error: Error) -> Error {
        self.log_rejected(ctx, model, stream, &error);
        error
    }

    /// Records a request the caller refused before calling [`Gateway::execute`] (over budget,
    /// blocked end user), so that it is logged and reaches the sinks like any other.
    pub fn log_rejected(&self, ctx: CallContext, model: Option<&str>, stream: bool, error: &Error) {
        record::log_rejected(
            &self.inner.sinks,
            &ctx.request_id,
            ctx.meta,
            model,
            stream,
            error,
        );
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

    /// Serves one request: picks a deployment of the requested group, retries inside the group
    /// and falls back to other groups as `router_settings` say. Failures before any output
    /// (including every failure of a non-streamed request) are returned as errors; a stream that
    /// fails later ends with `response.failed`.
    pub async fn execute(
        &self,
        mut request: CreateResponse,
        ctx: CallContext,
    ) -> Result<Execution, Error> {
        let stream = request.is_stream();
        let router = &self.inner.router;
        router.start(|| self.inner.registry.deployments().cloned().collect());
        self.start_health_checks();
        let first = validate(&request)
            .and_then(|model| self.target(model))
            .and_then(|target| {
                let overrides = RequestOverrides::read(&request, &ctx.client_headers)?;
                Ok((target, overrides))
            });
        let (mut target, overrides) = match first {
            Ok(first) => first,
            Err(error) => return Err(self.rejected(ctx, request.model.as_deref(), stream, error)),
        };
        // The deployment that produced the previous response holds its state.
        // Redis is asked only for a group with a choice of deployments (a fallback group's
        // responses are found locally, or not at all).
        let continues_on = match request.previous_response_id.as_deref() {
            Some(previous) => match self.inner.affinity.upstream(previous) {
                Some(found) => Some(found),
                None if target.deployments.len() > 1 => {
                    self.inner.router.shared_response_deployment(previous).await
                }
                None => None,
            },
            None => None,
        };
        if let Some(previous) = request.previous_response_id.as_deref()
            && let Some(upstream) = self.inner.ids.upstream(previous)
        {
            request.previous_response_id = Some(upstream);
        }
        // Read after the id rewrite so that per-target copies carry it too.
        let from_request = match router::request_fallbacks(&request) {
            Ok(list) => list,
            Err(error) => return Err(self.rejected(ctx, request.model.as_deref(), stream, error)),
        };
        let from_request_names: Option<Vec<String>> = from_request
            .as_ref()
            .map(|list| list.iter().map(|f| f.model.clone()).collect());
        let max_fallbacks = overrides
            .max_fallbacks
            .unwrap_or_else(|| router.max_fallbacks());
        let requested = target.name.clone();
        let messages = if ctx.meta.store_prompts {
            serde_json::to_value(&request.input).ok()
        } else {
            None
        };
        let scope = RequestScope {
            overrides,
            messages,
            continues_on,
        };
        let mut record: Option<CallRecord> = None;
        let mut retries = 0;
        let mut fallbacks = 0;
        let mut queue: Option<VecDeque<String>> = None;
        let mut force_fallback = router::mock_testing_fallbacks(&request);
        // The request as sent to the current target (a fallback entry may override fields).
        let mut current: &CreateResponse = &request;
        // The failure that started the fallbacks, for when a fallback group is ruled out by
        // the request's tags (which says nothing about why the request failed).
        let mut first_failure: Option<Error> = None;
        loop {
            let result = if std::mem::take(&mut force_fallback) {
                Err(Error::new(
                    ErrorKind::Upstream,
                    "mock_testing_fallbacks: the requested model group fails on purpose",
                ))
            } else {
                self.try_target(&target, current, &ctx, &scope, &mut record, &mut retries)
                    .await
            };
            let error = match result {
                Ok((deployment, output, cost)) => {
                    return Ok(Execution {
                        deployment,
                        output,
                        attempted_retries: retries,
                        attempted_fallbacks: fallbacks,
                        max_fallbacks,
                        cost,
                    });
                }
                Err(error) if error.code.as_deref() == Some(tags::NO_DEPLOYMENT_FOR_TAGS) => {
                    first_failure.clone().unwrap_or(error)
                }
                Err(error) => error,
            };
            first_failure.get_or_insert_with(|| error.clone());
            let queue = queue.get_or_insert_with(|| {
                router.fallbacks(&requested, &error, from_request_names.as_deref())
            });
            let mut next = None;
            while next.is_none() && (fallbacks as usize) < max_fallbacks {
                let Some(name) = queue.pop_front() else { break };
                match self.target(&name) {
                    Ok(found) => {
                        current =
                            fallback_request(from_request.as_deref(), &name).unwrap_or(&request);
                        next = Some(found);
                    }
                    Err(e) => {
                        tracing::warn!(fallback = %name, error = %e, "fallback target skipped")
                    }
                }
            }
            let Some(next) = next else {
                match record.as_mut() {
                    Some(record) => record.finish_error(&error),
                    None => record::log_rejected(
                        &self.inner.sinks,
                        &ctx.request_id,
                        ctx.meta.clone(),
                        Some(&requested),
                        stream,
                        &error,
                    ),
                }
                return Err(error);
            };
            tracing::debug!(from = %target.name, to = %next.name, error = %error, "falling back");
            fallbacks += 1;
            target = next;
        }
    }

    /// For a request continuing a previous response, the deployment that produced it, when it
    /// is in `target`, not yet tried, and available (not cooling down, not at its limits).
    /// Otherwise the router picks as usual: a group whose deployments share one account still
    /// answers, and any other gets the upstream's own error.
    async fn continuation(
        &self,
        target: &Target,
        scope: &RequestScope,
        tried: &[String],
    ) -> Option<Arc<Deployment>> {
        let id = scope.continues_on.as_deref()?;
        if tried.iter().any(|t| t == id) {
            return None;
        }
        let deployment = target.deployments.iter().find(|d| d.id == id)?;
        let only = Target {
            name: target.name.clone(),
            deployments: vec![deployment.clone()],
            pinned: false,
        };
        self.inner.router.select(&only, tried).await.ok()
    }

    /// Tries `target`, retrying inside it as the router allows. `retries` counts retries over
    /// the whole request; `record` follows the request from deployment to deployment.
    async fn try_target(
        &self,
        target: &Target,
        request: &CreateResponse,
        ctx: &CallContext,
        scope: &RequestScope,
        record: &mut Option<CallRecord>,
        retries: &mut u32,
    ) -> Result<(Arc<Deployment>, Output, Option<f64>), Error> {
        let router = &self.inner.router;
        let by_tags = router.for_tags(target, || request_tags(request, &ctx.meta))?;
        let target = by_tags.as_ref().unwrap_or(target);
        let stream = request.is_stream();
        let mut tried: Vec<String> = Vec::new();
        let mut last_error: Option<Error> = None;
        // Which deployment answered matters to a later continuation only where the upstream
        // keeps the response and the group has a choice of deployments.
        let remember = request.store != Some(false) && target.deployments.len() > 1;
        loop {
            let selected = match self.continuation(target, scope, &tried).await {
                Some(deployment) => Ok(deployment),
                None => router.select(target, &tried).await,
            };
            let deployment = match selected {
                Ok(deployment) => deployment,
                // After a failure here, the upstream's error says more than "all cooling".
                Err(error) => return Err(last_error.unwrap_or(error)),
            };
            tried.push(deployment.id.clone());
            let mut current = match record.take() {
                Some(mut current) => {
                    current.serve_by(&deployment);
                    current
                }
                None => {
                    let mut record = CallRecord::start(
                        &ctx.request_id,
                        &deployment,
                        stream,
                        ctx.meta.clone(),
                        scope.messages.clone(),
                        self.inner.sinks.clone(),
                    );
                    record.set_params(RequestParams {
                        temperature: request.temperature,
                        top_p: request.top_p,
                        max_output_tokens: request.max_output_tokens,
                    });
                    record
                }
            };
            current.attempt();
            let in_flight = router.begin(&deployment);
            let started = Instant::now();
            let timeout = scope
                .overrides
                .timeout
                .or(deployment.timeout)
                .unwrap_or(DEFAULT_TIMEOUT);
            let result = if stream {
                let first_output = scope.overrides.stream_timeout.or(deployment.stream_timeout);
                self.stream_once(
                    &deployment,
                    request,
                    &ctx.client_headers,
                    (timeout, first_output),
                    current,
                    remember,
                )
                .await
                .map(|s| (Output::Stream(s), None))
            } else {
                self.call_once(
                    &deployment,
                    request,
                    &ctx.client_headers,
                    timeout,
                    &mut current,
                    remember,
                )
                .await
                .map(|(r, cost)| (Output::Response(Box::new(r)), cost))
                .map_err(|e| (e, current))
            };
            match result {
                Ok((output, cost)) => {
                    router.succeeded(&deployment, started.elapsed());
                    let output = match output {
                        Output::Response(response) => {
                            router.used_tokens(&deployment, total_tokens(response.usage.as_ref()));
                            Output::Response(response)
                        }
                        Output::Stream(events) => Output::Stream(self.observe(
                            events,
                            in_flight,
                            target.deployments.len(),
                        )),
                    };
                    return Ok((deployment, output, cost));
                }
                Err((error, returned)) => {
                    *record = Some(returned);
                    drop(in_flight);
                    router.failed(&deployment, target.deployments.len(), &error);
                    let now = router::state::now_ms();
                    let elsewhere = target
                        .deployments
                        .iter()
                        .any(|d| d.id != deployment.id && d.state.cooling_until(now).is_none());
                    let attempt = tried.len() as u32 - 1;
                    let Some(delay) = router.retry_delay(
                        &error,
                        &deployment,
                        attempt,
                        elsewhere,
                        scope.overrides.num_retries,
                    ) else {
                        return Err(error);
                    };
                    tracing::debug!(
                        deployment = %deployment.id,
                        error = %error,
                        ?delay,
                        "retrying"
                    );
                    *retries += 1;
                    last_error = Some(error);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Keeps the deployment in flight while the client reads the stream, and reports how the
    /// stream ended to the router (tokens for tpm; a failure after output counts for cooldowns).
    fn observe(
        &self,
        events: ResponseStream,
        in_flight: router::InFlight,
        group_size: usize,
    ) -> ResponseStream {
        let gateway = self.clone();
        events.observed(move |event| {
            let deployment = in_flight.deployment();
            let router = &gateway.inner.router;
            match event.kind() {
                "response.completed" | "response.incomplete" => {
                    let usage = event.response().and_then(|r| r.usage.as_ref());
                    router.used_tokens(deployment, total_tokens(usage));
                }
                "response.failed" => {
                    let message = event
                        .response()
                        .and_then(|r| r.error.as_ref())
                        .map(|e| e.message.clone())
                        .unwrap_or_default();
                    router.failed(
                        deployment,
                        group_size,
                        &Error::upstream(ErrorKind::Upstream, message),
                    );
                }
                _ => {}
            }
        })
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
        .with_cost_in_usage(self.inner.cost_in_usage, deployment.price.clone())
    }

    async fn call_once(
        &self,
        deployment: &Deployment,
        request: &CreateResponse,
        client_headers: &http::HeaderMap,
        timeout: Duration,
        record: &mut CallRecord,
        remember: bool,
    ) -> Result<(Response, Option<f64>), Error> {
        let call = CallInfo {
            stream: false,
            client_headers,
        };
        let prepared = deployment.provider.prepare(request, call)?;
        let deadline = Instant::now() + timeout;
        let answer = self
            .send(deployment, prepared.request, deadline, record)
            .await?;
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
        record.report_cost(builder.reported_cost());
        let response = builder.into_response();
        if remember {
            self.remember_deployment(deployment, &response.id);
        }
        record.output_started();
        let cost = record.finish_response(&response);
        Ok((response, cost))
    }

    async fn stream_once(
        &self,
        deployment: &Deployment,
        request: &CreateResponse,
        client_headers: &http::HeaderMap,
        (timeout, first_output): (Duration, Option<Duration>),
        mut record: CallRecord,
        remember: bool,
    ) -> Result<ResponseStream, (Error, CallRecord)> {
        let call = CallInfo {
            stream: true,
            client_headers,
        };
        let prepared = match deployment.provider.prepare(request, call) {
            Ok(prepared) => prepared,
            Err(e) => return Err((e, record)),
        };
        let start = Instant::now();
        let deadline = start + timeout;
        let first_output_by = first_output.map(|t| start + t);
        let answer = match self
            .send(
                deployment,
                prepared.request,
                first_output_by.map_or(deadline, |t| t.min(deadline)),
                &mut record,
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
            Ok(()) => {
                if remember {
                    self.remember_deployment(deployment, driver.response_id());
                }
                Ok(driver.into_stream())
            }
            Err(e) => Err((e, driver.into_record())),
        }
    }

    /// Notes that `deployment` produced `response_id`, for continuations; only upstreams that
    /// keep state behind response ids (the Responses API) need it. In memory and bounded, like
    /// the id map, and shared through Redis when the router shares state.
    fn remember_deployment(&self, deployment: &Deployment, response_id: &str) {
        if deployment.provider.is_native_responses() {
            self.inner
                .affinity
                .insert(response_id.to_string(), deployment.id.clone());
            self.inner
                .router
                .share_response_deployment(response_id, &deployment.id);
        }
    }

    /// Sends `request`; a non-2xx answer becomes the provider's [`Error`]. The rate limits of
    /// any answer go on `record` (a 429 says most about them).
    async fn send(
        &self,
        deployment: &Deployment,
        mut request: UpstreamRequest,
        deadline: Instant,
        record: &mut CallRecord,
    ) -> Result<reqwest::Response, Error> {
        let provider = deployment.provider.name();
        match timeout_at(deadline, deployment.provider.authorize(&mut request)).await {
            Err(_) => return Err(timeout_error(provider)),
            Ok(result) => result?,
        }
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
        record.rate_limits_from(answer.headers());
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let headers = answer.headers().clone();
        let body = read_limited(answer, deadline).await;
        Err(deployment.provider.error_from(status, &headers, &body))
    }
}

/// What every attempt of one request shares.
struct RequestScope {
    /// The request's own timeouts and retry count.
    overrides: RequestOverrides,
    /// The input, kept for the spend log when prompts are stored.
    messages: Option<serde_json::Value>,
    /// The deployment that produced `previous_response_id`, when known.
    continues_on: Option<String>,
}

/// The request a fallback to `name` sends, when the request's own `fallbacks` entry for it
/// overrides fields.
fn fallback_request<'r>(
    list: Option<&'r [RequestFallback]>,
    name: &str,
) -> Option<&'r CreateResponse> {
    list?
        .iter()
        .find(|f| f.model == name)
        .and_then(|f| f.request.as_deref())
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

/// The request's tags: the proxy's (`x-litellm-tags`, `metadata.tags`), else, for library
/// callers, `metadata.tags`.
fn request_tags(request: &CreateResponse, meta: &crate::accounting::RequestMeta) -> Vec<String> {
    if !meta.tags.is_empty() {
        return meta.tags.clone();
    }
    crate::accounting::tags(None, request.metadata.as_ref().and_then(|m| m.get("tags")))
}

/// Tokens a response used, for tpm accounting.
fn total_tokens(usage: Option<&switchyard_types::responses::Usage>) -> u64 {
    usage.map_or(0, |u| u.input_tokens + u.output_tokens)
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
