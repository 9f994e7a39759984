//! Configuration: LiteLLM's proxy `config.yaml`, as it is.
//!
//! Loading happens in three steps: YAML (anchors and `<<` merges applied) becomes a JSON tree;
//! `environment_variables` and then every `os.environ/NAME` reference are resolved; each section
//! is read by a [`reader::Reader`] that takes the keys switchyard acts on and sorts the rest into
//! "parsed, acted on by a later version" and "unknown". Both lists reach the operator once, in
//! a startup warning; neither is fatal. A missing environment variable or a value of the wrong
//! type is fatal, with the key's path in the message.

mod defaults;
pub mod env;
mod reader;
pub mod router_settings;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use switchyard_types::JsonMap;

pub use defaults::RequestDefaults;
pub use env::Env;
use reader::{Notes, Reader};
use router_settings::{LITELLM_ROUTER_KEYS, RouterSettings};

use crate::secret::Secret;

/// A configuration problem; the message names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Keys of `litellm_settings` that later work acts on; parsed now, reported as not acted on.
const LITELLM_LATER: &[&str] = &[
    "cache",
    "cache_params",
    "set_verbose",
    "json_logs",
    "telemetry",
    "responses",
    "cold_storage_custom_logger",
    "log_raw_request_response",
    "return_response_headers",
    "disable_end_user_cost_tracking",
];

/// Keys of `general_settings` parsed now and acted on later.
const GENERAL_LATER: &[&str] = &[
    "store_prompts_in_cold_storage",
    "maximum_spend_logs_retention_period",
    "global_max_parallel_requests",
    "use_redis_transaction_buffer",
    "health_check_details",
    "enforce_user_param",
    "disable_responses_id_security",
    "allow_unmanaged_response_ids",
    "max_response_size_mb",
    "alerting",
];

/// Keys of `litellm_params` that only some providers read (credentials, regions, projects);
/// kept in [`DeploymentConfig::provider_params`] for the provider to take what it needs.
const PROVIDER_PARAMS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "aws_role_name",
    "aws_session_name",
    "aws_profile_name",
    "aws_web_identity_token",
    "aws_bedrock_runtime_endpoint",
    "vertex_project",
    "vertex_location",
    "vertex_credentials",
    "vertex_ai_project",
    "vertex_ai_location",
    "azure_ad_token",
    "tenant_id",
    "client_id",
    "client_secret",
    "region_name",
];

/// Keys of `litellm_params` the router reads (limits, weights, priority, tags).
const ROUTING_PARAMS: &[&str] = &[
    "rpm",
    "tpm",
    "weight",
    "order",
    "max_parallel_requests",
    "tags",
];

/// The whole configuration, validated.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Deployments, in file order.
    pub deployments: Vec<DeploymentConfig>,
    /// `litellm_settings.drop_params`.
    pub drop_params: bool,
    /// `litellm_settings.request_timeout`: default whole-request timeout.
    pub request_timeout: Option<Duration>,
    /// `general_settings.master_key`.
    pub master_key: Option<Secret>,
    /// `general_settings.max_request_size_mb`.
    pub max_request_size_mb: Option<f64>,
    /// `switchyard_settings`.
    pub switchyard: SwitchyardSettings,
    /// `router_settings`, with the router keys of `litellm_settings` (`router_settings` wins).
    pub router: RouterSettings,
    /// Cost, spend logs and end-user budgets.
    pub accounting: AccountingSettings,
    /// Logging callbacks (metrics, traces, webhooks) and what they may see.
    pub logging: LoggingSettings,
    /// The environment (with `environment_variables`) used to resolve references.
    pub env: Env,
    /// Keys parsed but not acted on by this version.
    pub not_acted_on: Vec<String>,
    /// Keys switchyard does not know.
    pub unknown: Vec<String>,
}

/// Settings of switchyard's own (`switchyard_settings` in the config file).
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchyardSettings {
    /// Send a `keepalive` event after this much upstream silence in a stream (`None`: never).
    pub stream_keepalive: Option<Duration>,
    /// How long a shutdown waits for open requests and streams.
    pub shutdown_grace: Duration,
    /// `header_read_timeout_seconds`: how long a client connection has to send a complete
    /// request head once it waits for one (new, or idle between kept-alive requests).
    pub header_read_timeout: Duration,
    /// `body_read_timeout_seconds`: how long a client has to send a whole request body.
    pub body_read_timeout: Duration,
    /// `max_connections`: client connections served at once (`None`: derived from the
    /// open-file limit).
    pub max_connections: Option<usize>,
    /// `response_retention_days`: how long stored responses are kept (OpenAI's 30 days).
    pub response_retention_days: u64,
    /// `state_database_url`: a database of its own for stored responses and conversations
    /// (`None`: the spend-log database).
    pub state_database_url: Option<Secret>,
    /// `max_background_responses`: background responses running at once on this gateway.
    pub max_background: usize,
    /// `max_background_responses_per_key`: background responses one key may run at once.
    pub max_background_per_key: usize,
    /// `encryption_key`: the key of the blobs the gateway seals for clients (compaction
    /// summaries); else `SWITCHYARD_ENCRYPTION_KEY`, LiteLLM's `LITELLM_SALT_KEY`, or the
    /// master key.
    pub encryption_key: Option<Secret>,
    /// `websocket_max_lifetime_seconds`: how long a WebSocket on `/v1/responses` may be used
    /// (OpenAI's limit is 60 minutes); past it the next `response.create` is refused with
    /// `websocket_connection_limit_reached` and the socket closed.
    pub websocket_max_lifetime: Duration,
}

/// The default lifetime of a Responses WebSocket (OpenAI's 60 minutes).
pub const DEFAULT_WEBSOCKET_MAX_LIFETIME: Duration = Duration::from_secs(3600);

impl Default for SwitchyardSettings {
    fn default() -> Self {
        SwitchyardSettings {
            stream_keepalive: Some(Duration::from_secs(15)),
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_connections: None,
            response_retention_days: crate::state::DEFAULT_RETENTION_DAYS,
            state_database_url: None,
            max_background: 256,
            max_background_per_key: 32,
            encryption_key: None,
            websocket_max_lifetime: DEFAULT_WEBSOCKET_MAX_LIFETIME,
        }
    }
}

/// Cost, spend-log and end-user settings, gathered from the sections LiteLLM keeps them in.
#[derive(Debug, Clone, Default)]
pub struct AccountingSettings {
    /// `switchyard_settings.model_cost_map_path`: a LiteLLM-format price file laid over the
    /// built-in catalog.
    pub model_cost_map_path: Option<PathBuf>,
    /// `litellm_settings.include_cost_in_streaming_usage`: add `cost` to the final `usage`.
    pub include_cost_in_usage: bool,
    /// `litellm_settings.max_end_user_budget`: the budget (USD) of end users without their own.
    pub max_end_user_budget: Option<f64>,
    /// `general_settings.database_url` (the proxy falls back to `DATABASE_URL`).
    pub database_url: Option<Secret>,
    /// `switchyard_settings.spend_log_path`: the SQLite file used without a database URL.
    pub spend_log_path: Option<PathBuf>,
    /// `general_settings.store_prompts_in_spend_logs`.
    pub store_prompts: bool,
    /// `general_settings.disable_spend_logs`.
    pub disable_spend_logs: bool,
    /// `general_settings.proxy_batch_write_at`: the longest a spend-log row waits for its batch.
    pub batch_interval: Option<Duration>,
    /// `general_settings.user_header_mappings`: headers naming the end user (role `customer`).
    pub user_header_mappings: Vec<String>,
}

/// Logging callbacks and redaction, from `litellm_settings`, `general_settings` and
/// `callback_settings`. Which names are implemented is the proxy's business; the config only
/// gathers them.
#[derive(Debug, Clone, Default)]
pub struct LoggingSettings {
    /// `litellm_settings.callbacks`: sinks for every request.
    pub callbacks: Vec<String>,
    /// `litellm_settings.success_callback`: sinks for successful requests only.
    pub success_callback: Vec<String>,
    /// `litellm_settings.failure_callback`: sinks for failed requests only.
    pub failure_callback: Vec<String>,
    /// `litellm_settings.service_callbacks`: accepted, none implemented.
    pub service_callbacks: Vec<String>,
    /// `litellm_settings.turn_off_message_logging`: no request input or response output in
    /// any sink.
    pub turn_off_message_logging: bool,
    /// `redact_user_api_key_info` (in `litellm_settings` or `general_settings`): no key hash,
    /// end user or client address in the logging callbacks.
    pub redact_user_api_key_info: bool,
    /// `litellm_settings.require_auth_for_metrics_endpoint` (`None`: not set).
    pub require_auth_for_metrics_endpoint: Option<bool>,
    /// `callback_settings`: per-callback settings by callback name, as written.
    pub callback_settings: JsonMap,
}

impl LoggingSettings {
    /// Every callback name, each once, in config order.
    pub fn all_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self
            .callbacks
            .iter()
            .chain(&self.success_callback)
            .chain(&self.failure_callback)
            .chain(&self.service_callbacks)
        {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

/// One `model_list` entry.
#[derive(Debug, Clone, Default)]
pub struct DeploymentConfig {
    /// The public name (model group).
    pub model_name: String,
    /// `model_info.id`, when set.
    pub id: Option<String>,
    /// `litellm_params.model`: `provider/upstream-model`.
    pub model: String,
    /// `litellm_params.custom_llm_provider`.
    pub custom_llm_provider: Option<String>,
    /// `litellm_params.api_key`.
    pub api_key: Option<Secret>,
    /// `litellm_params.api_base`.
    pub api_base: Option<String>,
    /// `litellm_params.api_version`.
    pub api_version: Option<String>,
    /// `litellm_params.organization`.
    pub organization: Option<String>,
    /// `litellm_params.timeout`: whole-request timeout.
    pub timeout: Option<Duration>,
    /// `litellm_params.stream_timeout`: time allowed until a stream's first output.
    pub stream_timeout: Option<Duration>,
    /// `litellm_params.max_retries`: retries on this deployment before failing.
    pub max_retries: Option<u32>,
    /// `litellm_params.use_chat_completions_api`.
    pub use_chat_completions_api: bool,
    /// `litellm_params.drop_params`.
    pub drop_params: Option<bool>,
    /// `litellm_params.extra_headers`.
    pub extra_headers: Vec<(String, String)>,
    /// Default request parameters (`temperature`, `top_p`, `max_tokens`, `reasoning_effort`).
    pub defaults: RequestDefaults,
    /// `litellm_params.replay_reasoning_content` (switchyard's own key).
    pub replay_reasoning_content: Option<bool>,
    /// `model_info.supported_endpoints`.
    pub supported_endpoints: Option<Vec<String>>,
    /// `model_info`, whole.
    pub model_info: JsonMap,
    /// `litellm_params` the router reads (`rpm`, `tpm`, `weight`, `order`,
    /// `max_parallel_requests`, `tags`).
    pub routing_params: JsonMap,
    /// Per-deployment prices from `litellm_params` ([`crate::cost::PRICE_KEYS`]).
    pub prices: JsonMap,
    /// Provider-specific `litellm_params` (credentials, regions, projects); see
    /// [`DeploymentConfig::provider_param`].
    pub provider_params: JsonMap,
}

impl Config {
    /// Reads and validates a config file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Config::from_yaml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses and validates YAML text, resolving references against the process environment.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml_with_env(text, &Env::process())
    }

    /// Parses and validates YAML text with `base` as the environment.
    pub fn from_yaml_with_env(text: &str, base: &Env) -> Result<Config, ConfigError> {
        let mut yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError(format!("invalid YAML: {e}")))?;
        yaml.apply_merge()
            .map_err(|e| ConfigError(format!("invalid YAML merge: {e}")))?;
        let tree = match serde_json::to_value(yaml) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => JsonMap::new(),
            Ok(_) => return Err(ConfigError("the config must be a mapping".into())),
            Err(e) => return Err(ConfigError(format!("unsupported YAML value: {e}"))),
        };
        Config::from_tree(tree, base)
    }

    fn from_tree(mut tree: JsonMap, base: &Env) -> Result<Config, ConfigError> {
        let mut notes = Notes::default();

        // `environment_variables` first: references elsewhere may use them.
        let mut overlay = BTreeMap::new();
        if let Some(mut vars) = tree.shift_remove("environment_variables") {
            env::resolve_references(&mut vars, base, "environment_variables")
                .map_err(missing_var)?;
            match vars {
                Value::Object(map) => {
                    for (name, value) in map {
                        let text = match value {
                            Value::String(s) => s,
                            Value::Null => continue,
                            other => other.to_string(),
                        };
                        overlay.insert(name, text);
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(ConfigError(
                        "environment_variables must be a mapping of names to values".into(),
                    ));
                }
            }
        }
        let env = if overlay.is_empty() {
            base.clone()
        } else {
            let mut merged = BTreeMap::new();
            for (k, v) in overlay {
                merged.insert(k, v);
            }
            Env::with_overlay(merged)
        };
        let mut root = Value::Object(tree);
        env::resolve_references(&mut root, &env, "").map_err(missing_var)?;
        let Value::Object(mut tree) = root else {
            return Err(ConfigError("the config must be a mapping".into()));
        };

        let mut config = Config {
            env,
            ..Config::default()
        };

        let mut litellm = Reader::section(&mut tree, "litellm_settings")?;
        config.drop_params = litellm.bool("drop_params")?.unwrap_or(false);
        config.request_timeout = litellm.seconds("request_timeout")?;
        let mut router_keys = litellm.take_keys(LITELLM_ROUTER_KEYS);
        config.accounting.include_cost_in_usage = litellm
            .bool("include_cost_in_streaming_usage")?
            .unwrap_or(false);
        config.accounting.max_end_user_budget = litellm.f64("max_end_user_budget")?;
        let logging = &mut config.logging;
        logging.callbacks = litellm.string_list("callbacks")?;
        logging.success_callback = litellm.string_list("success_callback")?;
        logging.failure_callback = litellm.string_list("failure_callback")?;
        logging.service_callbacks = litellm.string_list("service_callbacks")?;
        logging.turn_off_message_logging =
            litellm.bool("turn_off_message_logging")?.unwrap_or(false);
        logging.redact_user_api_key_info =
            litellm.bool("redact_user_api_key_info")?.unwrap_or(false);
        logging.require_auth_for_metrics_endpoint =
            litellm.bool("require_auth_for_metrics_endpoint")?;
        litellm.later(LITELLM_LATER);
        litellm.finish(&mut notes);

        let mut general = Reader::section(&mut tree, "general_settings")?;
        config.master_key = general
            .string("master_key")?
            .filter(|k| !k.is_empty())
            .map(Secret::new);
        config.max_request_size_mb = general.f64("max_request_size_mb")?;
        config.accounting.database_url = general
            .string("database_url")?
            .filter(|u| !u.is_empty())
            .map(Secret::new);
        config.accounting.store_prompts = general
            .bool("store_prompts_in_spend_logs")?
            .unwrap_or(false);
        config.accounting.disable_spend_logs = general.bool("disable_spend_logs")?.unwrap_or(false);
        config.accounting.batch_interval = general.seconds("proxy_batch_write_at")?;
        config.accounting.user_header_mappings = general.header_mappings("user_header_mappings")?;
        // Health probing feeds the router, which reads these with its own keys (a value in
        // `router_settings` wins).
        router_keys
            .extend(general.take_keys(&["background_health_checks", "health_check_interval"]));
        // LiteLLM documents this key under `litellm_settings`; accept it here too.
        if general.bool("redact_user_api_key_info")? == Some(true) {
            config.logging.redact_user_api_key_info = true;
        }
        general.later(GENERAL_LATER);
        general.finish(&mut notes);

        // Router keys from both sections; `router_settings` wins. Typed (and checked) below,
        // once `switchyard_settings.redis_key_prefix` is known.
        let mut router = Reader::section(&mut tree, "router_settings")?;
        router_keys.extend(router.take_all());
        router.finish(&mut notes);
        let mut callbacks = Reader::section(&mut tree, "callback_settings")?;
        config.logging.callback_settings = callbacks.take_all();
        callbacks.finish(&mut notes);

        let mut own = Reader::section(&mut tree, "switchyard_settings")?;
        if let Some(secs) = own.f64("stream_keepalive_seconds")? {
            config.switchyard.stream_keepalive =
                (secs > 0.0).then(|| Duration::from_secs_f64(secs));
        }
        if let Some(grace) = own.seconds("shutdown_grace_seconds")? {
            config.switchyard.shutdown_grace = grace;
        }
        if let Some(t) = own.seconds("header_read_timeout_seconds")? {
            config.switchyard.header_read_timeout = t;
        }
        if let Some(t) = own.seconds("body_read_timeout_seconds")? {
            config.switchyard.body_read_timeout = t;
        }
        config.switchyard.max_connections = own
            .u64("max_connections")?
            .filter(|&n| n > 0)
            .map(|n| n.min(usize::MAX as u64) as usize);
        if let Some(days) = own.u64("response_retention_days")? {
            config.switchyard.response_retention_days = days.max(1);
        }
        if let Some(n) = own.u64("max_background_responses")? {
            config.switchyard.max_background = n.clamp(1, 1_000_000) as usize;
        }
        if let Some(n) = own.u64("max_background_responses_per_key")? {
            config.switchyard.max_background_per_key = n.clamp(1, 1_000_000) as usize;
        }
        config.switchyard.encryption_key = own
            .string("encryption_key")?
            .filter(|k| !k.is_empty())
            .map(Secret::new);
        if let Some(t) = own.seconds("websocket_max_lifetime_seconds")? {
            config.switchyard.websocket_max_lifetime = t;
        }
        config.switchyard.state_database_url = own
            .string("state_database_url")?
            .filter(|u| !u.is_empty())
            .map(Secret::new);
        let redis_key_prefix = own.string("redis_key_prefix")?;
        config.accounting.model_cost_map_path =
            own.string("model_cost_map_path")?.map(PathBuf::from);
        config.accounting.spend_log_path = own.string("spend_log_path")?.map(PathBuf::from);
        own.finish(&mut notes);
        let (router, router_not_acted) =
            RouterSettings::read(router_keys, &config.env, redis_key_prefix)?;
        config.router = router;
        notes.later.extend(router_not_acted);

        let models = tree.shift_remove("model_list").unwrap_or(Value::Null);
        let models = match models {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            _ => return Err(ConfigError("model_list must be a list".into())),
        };
        for (i, entry) in models.into_iter().enumerate() {
            config
                .deployments
                .push(read_deployment(entry, i, &mut notes)?);
        }

        for key in tree.keys() {
            notes.unknown.push(key.clone());
        }
        config.not_acted_on = notes.later;
        config.unknown = notes.unknown;
        Ok(config)
    }

    /// The secret that keys sealed blobs: `switchyard_settings.encryption_key`, else
    /// `SWITCHYARD_ENCRYPTION_KEY` or `LITELLM_SALT_KEY`, else the master key.
    pub fn sealing_secret(&self) -> Option<Secret> {
        self.switchyard
            .encryption_key
            .clone()
            .or_else(|| {
                self.env
                    .first(&["SWITCHYARD_ENCRYPTION_KEY", "LITELLM_SALT_KEY"])
                    .map(Secret::new)
            })
            .or_else(|| self.master_key.clone())
    }

    /// The startup warning about keys not acted on, if any.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.not_acted_on.is_empty() {
            parts.push(format!(
                "parsed but not acted on by this version: {}",
                self.not_acted_on.join(", ")
            ));
        }
        if !self.unknown.is_empty() {
            parts.push(format!("unknown, ignored: {}", self.unknown.join(", ")));
        }
        (!parts.is_empty()).then(|| format!("config keys {}", parts.join("; ")))
    }

    /// A human-readable account of what was understood, without secrets.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "model_list: {} deployment(s)", self.deployments.len());
        for d in &self.deployments {
            let _ = writeln!(
                out,
                "  - {} -> {}{}{}{}",
                d.model_name,
                d.model,
                d.api_base
                    .as_deref()
                    .map(|b| format!(" @ {b}"))
                    .unwrap_or_default(),
                if d.api_key.is_some() {
                    " (api_key set)"
                } else {
                    ""
                },
                d.id.as_deref()
                    .map(|id| format!(" [id {id}]"))
                    .unwrap_or_default(),
            );
        }
        let _ = writeln!(out, "drop_params: {}", self.drop_params);
        let _ = writeln!(
            out,
            "master_key: {}",
            if self.master_key.is_some() {
                "set"
            } else {
                "not set (the gateway serves without authentication)"
            }
        );
        if let Some(t) = self.request_timeout {
            let _ = writeln!(out, "request_timeout: {}s", t.as_secs_f64());
        }
        if let Some(mb) = self.max_request_size_mb {
            let _ = writeln!(out, "max_request_size_mb: {mb}");
        }
        if let Some(w) = self.warning() {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

impl DeploymentConfig {
    /// A provider-specific parameter as text (numbers and booleans are written out), or
    /// `None` when unset, null or empty.
    pub fn provider_param(&self, key: &str) -> Option<String> {
        match self.provider_params.get(key)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            // Inline JSON (a service account given as a mapping) is passed on as JSON text.
            other => Some(other.to_string()),
        }
    }
}

fn missing_var((path, name): (String, String)) -> ConfigError {
    ConfigError(format!(
        "{path} refers to the environment variable {name}, which is not set"
    ))
}

fn read_deployment(
    entry: Value,
    index: usize,
    notes: &mut Notes,
) -> Result<DeploymentConfig, ConfigError> {
    let at = format!("model_list[{index}]");
    let Value::Object(mut entry) = entry else {
        return Err(ConfigError(format!("{at} must be a mapping")));
    };
    let model_name = match entry.shift_remove("model_name") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            return Err(ConfigError(format!(
                "{at}.model_name must be a non-empty string"
            )));
        }
    };
    let mut params = Reader::nested(&mut entry, "litellm_params", &at)?;
    let model = params
        .string("model")?
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ConfigError(format!("{at}.litellm_params.model is required")))?;
    let mut d = DeploymentConfig {
        model_name,
        model,
        custom_llm_provider: params.string("custom_llm_provider")?,
        api_key: params
            .string("api_key")?
            .filter(|k| !k.is_empty())
            .map(Secret::new),
        api_base: params.string("api_base")?.filter(|b| !b.is_empty()),
        api_version: params.string("api_version")?,
        organization: params.string("organization")?,
        timeout: params.seconds("timeout")?,
        stream_timeout: params.seconds("stream_timeout")?,
        max_retries: params.u64("max_retries")?.map(|n| n.min(10) as u32),
        use_chat_completions_api: params.bool("use_chat_completions_api")?.unwrap_or(false),
        drop_params: params.bool("drop_params")?,
        extra_headers: params.string_map("extra_headers")?,
        replay_reasoning_content: params.bool("replay_reasoning_content")?,
        ..DeploymentConfig::default()
    };
    d.defaults = RequestDefaults {
        temperature: params.f64("temperature")?,
        top_p: params.f64("top_p")?,
        max_output_tokens: match params.u64("max_output_tokens")? {
            Some(n) => Some(n),
            None => params.u64("max_tokens")?,
        },
        reasoning_effort: params.string("reasoning_effort")?,
    };
    d.routing_params = params.take_keys(ROUTING_PARAMS);
    d.prices = params.take_keys(crate::cost::PRICE_KEYS);
    d.provider_params = params.take_keys(PROVIDER_PARAMS);
    params.finish(notes);

    // `model_info` is a free-form bag in LiteLLM; only `id` and `supported_endpoints` steer
    // behaviour here, the rest is kept for `/model/info`-style listings.
    if let Some(info) = entry.shift_remove("model_info") {
        let Value::Object(info) = info else {
            return Err(ConfigError(format!("{at}.model_info must be a mapping")));
        };
        d.id = match info.get("id") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Null) | None => None,
            Some(_) => return Err(ConfigError(format!("{at}.model_info.id must be a string"))),
        };
        d.supported_endpoints = match info.get("supported_endpoints") {
            Some(Value::Array(list)) => Some(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            ),
            Some(Value::Null) | None => None,
            Some(_) => {
                return Err(ConfigError(format!(
                    "{at}.model_info.supported_endpoints must be a list"
                )));
            }
        };
        d.model_info = info;
    }
    for key in entry.keys() {
        notes.unknown.push(format!("{at}.{key}"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
