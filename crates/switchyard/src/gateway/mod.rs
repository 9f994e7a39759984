//! The gateway: validates a Responses request, picks a deployment, calls its upstream (with
//! timeouts and retries) and returns the `Response` or a stream of its events.
//!
//! [`Gateway`] is what the proxy serves and what library users call. Network I/O happens here
//! and only here; providers translate, the builder writes events. By job:
//!
//! * this module: building a gateway from config, listing its models, the public types;
//! * `execute.rs`: one request — admission, then its group and fallbacks;
//! * `attempt.rs`: attempts inside one group — selection, retries, reports to the router;
//! * `upstream.rs`: one call to one deployment — send, read, build the response;
//! * `affinity.rs`: continuations routed to the deployment that holds their state;
//! * `stream.rs`: priming and driving a streamed answer; `record.rs`: the per-request record;
//! * `registry.rs`: model groups and their deployments; `health.rs`: health probes;
//! * `warmup.rs`: `generate: false`, a response completed without calling a model.

mod affinity;
mod attempt;
mod background;
mod compaction;
mod execute;
mod health;
mod ids_map;
mod persist;
mod record;
pub mod registry;
mod stream;
pub mod tokens;
mod upstream;
mod validate;
mod warmup;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use switchyard_types::responses::{CreateResponse, Response};

use crate::accounting::{RequestMeta, Sinks};
use crate::config::{Config, ConfigError, Env};
use crate::error::{Error, ErrorKind};
use crate::ids;
use crate::router::{Deployment, Router, RouterSettings, Target};
use crate::state::{Caller, MemoryStore, State};
use ids_map::IdMap;
use registry::Registry;

pub use health::{HealthCheck, HealthReport};
pub use record::Outcome;
pub use stream::ResponseStream;
pub use validate::validate;

/// Idle connections kept per upstream host for reuse (enough for steady load; a burst beyond it
/// opens new ones).
pub const UPSTREAM_IDLE_CONNECTIONS: usize = 128;

/// The whole-request timeout when neither the deployment nor `litellm_settings.request_timeout`
/// sets one (LiteLLM's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6000);

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
    /// Stored responses and conversations; in memory unless [`Gateway::set_state`] gave
    /// another store.
    state: OnceLock<State>,
    /// Background responses running here.
    runs: background::Runs,
    /// Seals the blobs clients hold for the gateway (compaction summaries).
    sealer: crate::seal::Sealer,
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
    /// Who asked, for the state it may read and the state it creates.
    pub caller: Caller,
    /// The state this request reads and writes, when not the gateway's own (a WebSocket
    /// connection's, see [`State::for_connection`]).
    pub state: Option<State>,
    /// Whatever the caller needs kept until the request's work ends, when that outlives the
    /// answer (a background response): dropped with the request.
    pub held: Held,
}

impl Default for CallContext {
    fn default() -> Self {
        CallContext {
            request_id: ids::request_id(),
            client_headers: http::HeaderMap::new(),
            meta: RequestMeta::default(),
            caller: Caller::admin(),
            state: None,
            held: Held::default(),
        }
    }
}

/// A value kept alive for as long as a request's work goes on (such as a place among a key's
/// requests in flight, given back when dropped). A background response's task keeps it until
/// the response ends.
#[derive(Clone, Default)]
pub struct Held(Option<Arc<dyn std::any::Any + Send + Sync>>);

impl Held {
    /// Keeps `value` until the request's work ends.
    pub fn new<T: std::any::Any + Send + Sync>(value: T) -> Held {
        Held(Some(Arc::new(value)))
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Held(..)"
        } else {
            "Held(none)"
        })
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
    /// A complete response's JSON, when the gateway serialised it already (to store it):
    /// the bytes [`Response::to_json`] gives for `output`'s response, to answer with rather
    /// than serialising it again.
    ///
    /// [`Response::to_json`]: crate::types::responses::Response::to_json
    pub response_json: Option<Bytes>,
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
            background::Runs::new(
                config.switchyard.max_background,
                config.switchyard.max_background_per_key,
            ),
            crate::seal::Sealer::new(config.sealing_secret().as_ref().map(|s| s.expose())),
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
            background::Runs::new(256, 32),
            crate::seal::Sealer::new(
                Env::process()
                    .first(&["SWITCHYARD_ENCRYPTION_KEY", "LITELLM_SALT_KEY"])
                    .as_deref(),
            ),
        )
    }

    fn with_registry(
        registry: Registry,
        router: Router,
        keepalive: Option<Duration>,
        cost_in_usage: bool,
        runs: background::Runs,
        sealer: crate::seal::Sealer,
    ) -> Result<Gateway, Error> {
        // ring keeps the build free of toolchains beyond `cc` (aws-lc wants more).
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            // Idle connections are reaped only when the pool is next used: after a burst of
            // 2,000 streams, 700 stayed open for good, with their buffers (measured: RSS grew
            // from 13 to 175 MB and stayed). Past this many per upstream host, a connection is
            // closed when its request ends.
            .pool_max_idle_per_host(UPSTREAM_IDLE_CONNECTIONS)
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
                state: OnceLock::new(),
                runs,
                sealer,
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

    /// Stored responses and conversations. Unless [`Gateway::set_state`] named a store, they
    /// are kept in this process's memory ([`MemoryStore`], bounded).
    pub fn state(&self) -> &State {
        self.inner.state.get_or_init(|| {
            State::new(
                Arc::new(MemoryStore::default()),
                crate::state::DEFAULT_RETENTION_DAYS,
            )
        })
    }

    /// Keeps stored responses and conversations in `state` (a database shared by replicas).
    /// Call it before serving: once a request has used the state, it is fixed, and `state` is
    /// given back.
    pub fn set_state(&self, state: State) -> Result<(), State> {
        self.inner.state.set(state)
    }

    /// True when sealed blobs open only on this instance until it restarts (no key was
    /// configured; see [`Config::sealing_secret`]).
    pub fn sealing_key_is_ephemeral(&self) -> bool {
        self.inner.sealer.is_ephemeral()
    }

    /// The sinks every finished request is handed to (spend logs, metrics); add yours.
    pub fn sinks(&self) -> &Sinks {
        &self.inner.sinks
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
