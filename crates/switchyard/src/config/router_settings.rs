//! `router_settings` (and the router keys LiteLLM also accepts under `litellm_settings`), typed.
//!
//! Values are read leniently (numbers written as strings, `"true"`), strictly otherwise: a
//! wrong type is a [`ConfigError`] naming the key. Keys LiteLLM knows that the router does not
//! act on are returned so the startup warning can name them.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use switchyard_types::JsonMap;

use super::{ConfigError, Env};
use crate::error::{Error, ErrorKind};

/// LiteLLM's `DEFAULT_ALLOWED_FAILS`.
pub const DEFAULT_ALLOWED_FAILS: u32 = 3;
/// LiteLLM's `DEFAULT_COOLDOWN_TIME_SECONDS`.
pub const DEFAULT_COOLDOWN_TIME: Duration = Duration::from_secs(5);
/// LiteLLM's `ROUTER_MAX_FALLBACKS`.
pub const DEFAULT_MAX_FALLBACKS: usize = 5;
/// LiteLLM's default `health_check_interval`.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(300);

/// How the router picks a deployment inside a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Weighted random by `weight`, else `rpm`, else `tpm`, else uniform.
    #[default]
    SimpleShuffle,
    /// Fewest requests in flight.
    LeastBusy,
    /// Lowest recent latency (time to first token for streams).
    LatencyBased,
    /// Lowest rpm/tpm use in the current minute.
    UsageBased,
    /// Lowest per-token price.
    CostBased,
}

/// The class of a failure, as LiteLLM's `retry_policy` and `allowed_fails_policy` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 400 and other client errors (`context_length_exceeded` included).
    BadRequest,
    /// 401 / 403.
    Authentication,
    /// Timeouts.
    Timeout,
    /// 429.
    RateLimit,
    /// A content filter refused the prompt.
    ContentPolicyViolation,
    /// 5xx, overload, lost connections.
    InternalServer,
    /// 404 (an unknown upstream model).
    NotFound,
}

impl ErrorClass {
    /// The class of `error`.
    pub fn of(error: &Error) -> ErrorClass {
        match error.kind {
            ErrorKind::InvalidRequest
            | ErrorKind::ContextLengthExceeded
            | ErrorKind::PayloadTooLarge
            | ErrorKind::UnsupportedMediaType
            | ErrorKind::RequestTimeout => ErrorClass::BadRequest,
            ErrorKind::Authentication | ErrorKind::PermissionDenied => ErrorClass::Authentication,
            ErrorKind::Timeout => ErrorClass::Timeout,
            ErrorKind::RateLimited => ErrorClass::RateLimit,
            ErrorKind::ContentFilter => ErrorClass::ContentPolicyViolation,
            ErrorKind::NotFound => ErrorClass::NotFound,
            ErrorKind::Overloaded | ErrorKind::Upstream | ErrorKind::Internal => {
                ErrorClass::InternalServer
            }
        }
    }

    fn from_policy_key(key: &str, suffix: &str) -> Option<ErrorClass> {
        Some(match key.strip_suffix(suffix)? {
            "BadRequestError" => ErrorClass::BadRequest,
            "AuthenticationError" => ErrorClass::Authentication,
            "TimeoutError" => ErrorClass::Timeout,
            "RateLimitError" => ErrorClass::RateLimit,
            "ContentPolicyViolationError" => ErrorClass::ContentPolicyViolation,
            "InternalServerError" => ErrorClass::InternalServer,
            "NotFoundError" => ErrorClass::NotFound,
            _ => return None,
        })
    }
}

/// Where rpm/tpm counters and cooldowns are shared between gateway processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port[/db]`; may hold a password, never logged.
    pub url: String,
    /// Prefix of every key (`switchyard_settings.redis_key_prefix`, default `switchyard`).
    pub key_prefix: String,
}

/// Everything the router acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// `routing_strategy`.
    pub strategy: Strategy,
    /// `routing_strategy_args.ttl`: how long a latency sample counts.
    pub latency_ttl: Duration,
    /// `routing_strategy_args.lowest_latency_buffer`: deployments within this fraction of the
    /// fastest are picked at random among.
    pub lowest_latency_buffer: f64,
    /// `num_retries`: retries inside a model group.
    pub num_retries: u32,
    /// `retry_policy`: retries per error class, overriding `num_retries`.
    pub retry_policy: HashMap<ErrorClass, u32>,
    /// `retry_after`: the least wait before a retry.
    pub retry_after: Duration,
    /// `allowed_fails`, when set explicitly.
    pub allowed_fails: Option<u32>,
    /// `allowed_fails_policy`: allowed failures per error class.
    pub allowed_fails_policy: HashMap<ErrorClass, u32>,
    /// `cooldown_time`.
    pub cooldown_time: Duration,
    /// `disable_cooldowns`.
    pub disable_cooldowns: bool,
    /// `fallbacks`: group → groups (or deployment ids) tried in order.
    pub fallbacks: HashMap<String, Vec<String>>,
    /// `context_window_fallbacks`.
    pub context_window_fallbacks: HashMap<String, Vec<String>>,
    /// `content_policy_fallbacks`.
    pub content_policy_fallbacks: HashMap<String, Vec<String>>,
    /// `default_fallbacks`: for groups without an entry of their own.
    pub default_fallbacks: Vec<String>,
    /// `max_fallbacks`.
    pub max_fallbacks: usize,
    /// `timeout` (router) or `request_timeout` (litellm_settings): default whole-request timeout.
    pub timeout: Option<Duration>,
    /// `stream_timeout`: default time to a stream's first output.
    pub stream_timeout: Option<Duration>,
    /// Shared state, when Redis is configured.
    pub redis: Option<RedisSettings>,
    /// `background_health_checks`: probe every deployment every `health_check_interval`.
    pub background_health_checks: bool,
    /// `health_check_interval`.
    pub health_check_interval: Duration,
    /// `model_group_alias`: a public name → the group it serves.
    pub model_group_alias: HashMap<String, GroupAlias>,
    /// `enable_tag_filtering`: route by request tags ([`crate::router::tags`]).
    pub tag_filtering: bool,
    /// `tag_filtering_match_any` (default true): one shared tag suffices; else all of the
    /// request's tags must be on the deployment.
    pub tag_match_any: bool,
}

/// One `model_group_alias` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAlias {
    /// The model group requests for the alias go to.
    pub group: String,
    /// `hidden: true`: served, but not listed by `GET /v1/models`.
    pub hidden: bool,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            strategy: Strategy::SimpleShuffle,
            latency_ttl: Duration::from_secs(3600),
            lowest_latency_buffer: 0.0,
            num_retries: 0,
            retry_policy: HashMap::new(),
            retry_after: Duration::ZERO,
            allowed_fails: None,
            allowed_fails_policy: HashMap::new(),
            cooldown_time: DEFAULT_COOLDOWN_TIME,
            disable_cooldowns: false,
            fallbacks: HashMap::new(),
            context_window_fallbacks: HashMap::new(),
            content_policy_fallbacks: HashMap::new(),
            default_fallbacks: Vec::new(),
            max_fallbacks: DEFAULT_MAX_FALLBACKS,
            timeout: None,
            stream_timeout: None,
            redis: None,
            background_health_checks: false,
            health_check_interval: DEFAULT_HEALTH_CHECK_INTERVAL,
            model_group_alias: HashMap::new(),
            tag_filtering: false,
            tag_match_any: true,
        }
    }
}

/// Router keys LiteLLM accepts under `litellm_settings` as well (`router_settings` wins).
pub const LITELLM_ROUTER_KEYS: &[&str] = &[
    "num_retries",
    "retry_policy",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
    "allowed_fails",
    "allowed_fails_policy",
    "cooldown_time",
    "disable_cooldowns",
    "max_fallbacks",
];

/// LiteLLM router keys this router does not act on (reported, never fatal).
const NOT_ACTED_ON: &[&str] = &[
    "enable_pre_call_checks",
    "optional_pre_call_checks",
    "provider_budget_config",
    "redis_db",
    "cache_responses",
    "cache_kwargs",
    "client_ttl",
    "polling_interval",
    "default_litellm_params",
    "default_max_parallel_requests",
    "default_priority",
    "set_verbose",
    "debug_level",
    "alerting_config",
    "model_group_retry_policy",
    "router_general_settings",
    "deployment_affinity_ttl_seconds",
];

impl RouterSettings {
    /// Reads `map` (router keys merged, `router_settings` winning). When the map names Redis
    /// (any `redis_*` key), `env` fills in what it leaves out from `REDIS_URL` / `REDIS_HOST` /
    /// `REDIS_PORT` / `REDIS_PASSWORD`;
    /// `key_prefix` prefixes Redis keys. Returns the settings and the keys not acted on.
    pub fn read(
        mut map: JsonMap,
        env: &Env,
        key_prefix: Option<String>,
    ) -> Result<(RouterSettings, Vec<String>), ConfigError> {
        let mut s = RouterSettings::default();
        let m = &mut map;
        if let Some(name) = string(m, "routing_strategy")? {
            s.strategy = match name.as_str() {
                "simple-shuffle" | "shuffle" => Strategy::SimpleShuffle,
                "least-busy" => Strategy::LeastBusy,
                "latency-based-routing" => Strategy::LatencyBased,
                "usage-based-routing" | "usage-based-routing-v2" => Strategy::UsageBased,
                "cost-based-routing" => Strategy::CostBased,
                other => {
                    return Err(ConfigError(format!(
                        "router_settings.routing_strategy `{other}` is not one of simple-shuffle, \
                         least-busy, latency-based-routing, usage-based-routing-v2, \
                         cost-based-routing"
                    )));
                }
            };
        }
        if let Some(args) = m.shift_remove("routing_strategy_args") {
            let Value::Object(mut args) = args else {
                return Err(ConfigError(
                    "router_settings.routing_strategy_args must be a mapping".into(),
                ));
            };
            if let Some(ttl) = number(&mut args, "ttl", "routing_strategy_args")? {
                s.latency_ttl = positive_secs(ttl, "router_settings.routing_strategy_args.ttl")?;
            }
            if let Some(buffer) =
                number(&mut args, "lowest_latency_buffer", "routing_strategy_args")?
            {
                s.lowest_latency_buffer = buffer.max(0.0);
            }
        }
        if let Some(n) = count(m, "num_retries")? {
            s.num_retries = n.min(10);
        }
        s.retry_policy = policy(m, "retry_policy", "Retries")?;
        if let Some(secs) = number(m, "retry_after", "router_settings")? {
            s.retry_after = Duration::from_secs_f64(secs.clamp(0.0, 60.0));
        }
        s.allowed_fails = count(m, "allowed_fails")?;
        s.allowed_fails_policy = policy(m, "allowed_fails_policy", "AllowedFails")?;
        if let Some(secs) = number(m, "cooldown_time", "router_settings")? {
            s.cooldown_time = Duration::from_secs_f64(secs.clamp(0.0, 86_400.0));
        }
        s.disable_cooldowns = boolean(m, "disable_cooldowns")?.unwrap_or(false);
        s.fallbacks = fallback_map(m, "fallbacks")?;
        s.context_window_fallbacks = fallback_map(m, "context_window_fallbacks")?;
        s.content_policy_fallbacks = fallback_map(m, "content_policy_fallbacks")?;
        s.default_fallbacks = match m.shift_remove("default_fallbacks") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => names(v, "router_settings.default_fallbacks")?,
        };
        if let Some(n) = count(m, "max_fallbacks")? {
            s.max_fallbacks = n as usize;
        }
        if let Some(t) = number(m, "timeout", "router_settings")? {
            s.timeout = Some(positive_secs(t, "router_settings.timeout")?);
        }
        if let Some(t) = number(m, "stream_timeout", "router_settings")? {
            s.stream_timeout = Some(positive_secs(t, "router_settings.stream_timeout")?);
        }
        s.redis = redis(m, env, key_prefix)?;
        s.background_health_checks = boolean(m, "background_health_checks")?.unwrap_or(false);
        if let Some(t) = number(m, "health_check_interval", "router_settings")? {
            s.health_check_interval = positive_secs(t, "general_settings.health_check_interval")?;
        }
        s.model_group_alias = aliases(m)?;
        // A `previous_response_id` always goes to the deployment that produced it (when that
        // deployment is available): the setting is read and has nothing left to switch.
        let _ = boolean(m, "enable_responses_api_affinity")?;
        s.tag_filtering = boolean(m, "enable_tag_filtering")?.unwrap_or(false);
        s.tag_match_any = boolean(m, "tag_filtering_match_any")?.unwrap_or(true);

        let mut not_acted = Vec::new();
        let mut unknown = Vec::new();
        for key in map.keys() {
            if NOT_ACTED_ON.contains(&key.as_str()) {
                not_acted.push(format!("router_settings.{key}"));
            } else {
                unknown.push(format!("router_settings.{key}"));
            }
        }
        // Unknown router keys are reported with the not-acted-on ones: LiteLLM grows new
        // router keys often and a typo is as harmless here as an unimplemented key.
        not_acted.extend(unknown);
        Ok((s, not_acted))
    }

    /// Retries allowed for a failure of `class` on a deployment whose own `max_retries` is
    /// `deployment_retries`. `requested`: the request's own `num_retries`
    /// (`x-litellm-num-retries`), which replaces the count for every class that is retried at
    /// all (by default, or because `retry_policy` allows it); other classes stay unretried.
    pub fn retries_for(
        &self,
        class: ErrorClass,
        deployment_retries: u32,
        requested: Option<u32>,
    ) -> u32 {
        let retried_by_default = matches!(
            class,
            ErrorClass::RateLimit | ErrorClass::Timeout | ErrorClass::InternalServer
        );
        let configured = match self.retry_policy.get(&class) {
            Some(n) => *n,
            None if retried_by_default => self.num_retries.max(deployment_retries),
            None => 0,
        };
        match requested {
            Some(n) if retried_by_default || configured > 0 => n,
            _ => configured,
        }
    }
}

fn redis(
    m: &mut JsonMap,
    env: &Env,
    key_prefix: Option<String>,
) -> Result<Option<RedisSettings>, ConfigError> {
    let url = string(m, "redis_url")?;
    let host = string(m, "redis_host")?;
    let port = string(m, "redis_port")?;
    let password = string(m, "redis_password")?;
    // The environment fills in only what a router_settings that names Redis leaves out: a
    // REDIS_URL exported for other tools (test suites do) must not silently make every
    // gateway of the machine share routing state. LiteLLM likewise needs `redis_host` /
    // `redis_url` in router_settings (usually as `os.environ/REDIS_HOST`).
    let named = url.is_some() || host.is_some() || port.is_some() || password.is_some();
    if !named {
        return Ok(None);
    }
    let url = match (url, host) {
        (Some(url), _) if !url.is_empty() => Some(url),
        (_, Some(host)) if !host.is_empty() => Some(compose(
            &host,
            port.or_else(|| env.first(&["REDIS_PORT"])),
            password.or_else(|| env.first(&["REDIS_PASSWORD"])),
        )),
        _ => env.first(&["REDIS_URL"]).or_else(|| {
            env.first(&["REDIS_HOST"]).map(|host| {
                compose(
                    &host,
                    port.or_else(|| env.first(&["REDIS_PORT"])),
                    password.or_else(|| env.first(&["REDIS_PASSWORD"])),
                )
            })
        }),
    };
    Ok(url.map(|url| RedisSettings {
        url,
        key_prefix: key_prefix.unwrap_or_else(|| "switchyard".into()),
    }))
}

fn compose(host: &str, port: Option<String>, password: Option<String>) -> String {
    let port = port.unwrap_or_else(|| "6379".into());
    match password.filter(|p| !p.is_empty()) {
        Some(p) => format!("redis://:{p}@{host}:{port}"),
        None => format!("redis://{host}:{port}"),
    }
}

fn positive_secs(v: f64, path: &str) -> Result<Duration, ConfigError> {
    if v > 0.0 && v.is_finite() {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(ConfigError(format!(
            "{path} must be a positive number of seconds, got {v}"
        )))
    }
}

fn string(m: &mut JsonMap, key: &str) -> Result<Option<String>, ConfigError> {
    match m.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ConfigError(format!(
            "router_settings.{key} must be a string"
        ))),
    }
}

fn number(m: &mut JsonMap, key: &str, section: &str) -> Result<Option<f64>, ConfigError> {
    match m.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError(format!("{section}.{key} must be a number, got {s:?}"))),
        Some(_) => Err(ConfigError(format!("{section}.{key} must be a number"))),
    }
}

fn count(m: &mut JsonMap, key: &str) -> Result<Option<u32>, ConfigError> {
    match number(m, key, "router_settings")? {
        None => Ok(None),
        Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(Some(v.min(f64::from(u32::MAX)) as u32)),
        Some(v) => Err(ConfigError(format!(
            "router_settings.{key} must be a non-negative integer, got {v}"
        ))),
    }
}

fn boolean(m: &mut JsonMap, key: &str) -> Result<Option<bool>, ConfigError> {
    match m.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if matches!(s.as_str(), "true" | "True" | "1") => Ok(Some(true)),
        Some(Value::String(s)) if matches!(s.as_str(), "false" | "False" | "0") => Ok(Some(false)),
        Some(_) => Err(ConfigError(format!(
            "router_settings.{key} must be true or false"
        ))),
    }
}

fn policy(
    m: &mut JsonMap,
    key: &str,
    suffix: &str,
) -> Result<HashMap<ErrorClass, u32>, ConfigError> {
    let mut out = HashMap::new();
    let map = match m.shift_remove(key) {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ConfigError(format!(
                "router_settings.{key} must be a mapping"
            )));
        }
    };
    for (name, value) in map {
        let class = ErrorClass::from_policy_key(&name, suffix).ok_or_else(|| {
            ConfigError(format!(
                "router_settings.{key}.{name} is not a known error class (BadRequestError{suffix}, \
                 AuthenticationError{suffix}, TimeoutError{suffix}, RateLimitError{suffix}, \
                 ContentPolicyViolationError{suffix}, InternalServerError{suffix})"
            ))
        })?;
        let n = match &value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Null => continue,
            _ => None,
        }
        .ok_or_else(|| {
            ConfigError(format!(
                "router_settings.{key}.{name} must be a non-negative integer"
            ))
        })?;
        out.insert(class, n.min(10) as u32);
    }
    Ok(out)
}

/// `{alias: group}` or `{alias: {model: group, hidden: true}}`.
fn aliases(m: &mut JsonMap) -> Result<HashMap<String, GroupAlias>, ConfigError> {
    let bad = |name: &str| {
        ConfigError(format!(
            "router_settings.model_group_alias.{name} must be a model group name or \
             {{model: <group>, hidden: true|false}}"
        ))
    };
    let map = match m.shift_remove("model_group_alias") {
        None | Some(Value::Null) => return Ok(HashMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ConfigError(
                "router_settings.model_group_alias must be a mapping of names to groups".into(),
            ));
        }
    };
    let mut out = HashMap::new();
    for (name, value) in map {
        let alias = match value {
            Value::String(group) if !group.is_empty() => GroupAlias {
                group,
                hidden: false,
            },
            Value::Object(mut entry) => {
                let group = match entry.shift_remove("model") {
                    Some(Value::String(group)) if !group.is_empty() => group,
                    _ => return Err(bad(&name)),
                };
                let hidden = boolean(&mut entry, "hidden").map_err(|_| bad(&name))?;
                GroupAlias {
                    group,
                    hidden: hidden.unwrap_or(false),
                }
            }
            _ => return Err(bad(&name)),
        };
        out.insert(name, alias);
    }
    Ok(out)
}

/// `[{"a": ["b", "c"]}, …]` (LiteLLM's form) or `{"a": ["b"]}`.
fn fallback_map(m: &mut JsonMap, key: &str) -> Result<HashMap<String, Vec<String>>, ConfigError> {
    let path = format!("router_settings.{key}");
    let entries: Vec<JsonMap> = match m.shift_remove(key) {
        None | Some(Value::Null) => return Ok(HashMap::new()),
        Some(Value::Object(map)) => vec![map],
        Some(Value::Array(list)) => list
            .into_iter()
            .map(|v| match v {
                Value::Object(map) => Ok(map),
                _ => Err(ConfigError(format!(
                    "{path} must be a list of {{group: [fallback groups]}} mappings"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ConfigError(format!(
                "{path} must be a list of {{group: [fallback groups]}} mappings"
            )));
        }
    };
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for entry in entries {
        for (group, targets) in entry {
            let targets = names(targets, &format!("{path}.{group}"))?;
            out.entry(group).or_default().extend(targets);
        }
    }
    Ok(out)
}

fn names(value: Value, path: &str) -> Result<Vec<String>, ConfigError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(list) => list
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ConfigError(format!("{path} must list model group names"))),
            })
            .collect(),
        _ => Err(ConfigError(format!("{path} must list model group names"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (RouterSettings, Vec<String>) {
        let map: JsonMap = serde_yaml_ng::from_str(yaml).unwrap();
        RouterSettings::read(map, &Env::default(), None).unwrap()
    }

    #[test]
    fn reads_litellm_router_settings() {
        let (s, rest) = read(
            r#"
routing_strategy: latency-based-routing
routing_strategy_args: {ttl: 60, lowest_latency_buffer: 0.5}
num_retries: 3
retry_policy: {RateLimitErrorRetries: 1, BadRequestErrorRetries: 0, AuthenticationErrorRetries: 2}
retry_after: 0.2
allowed_fails: 2
allowed_fails_policy: {TimeoutErrorAllowedFails: 7}
cooldown_time: 30
fallbacks: [{"a": ["b", "c"]}, {"d": "e"}]
context_window_fallbacks: [{"a": ["big"]}]
default_fallbacks: ["z"]
max_fallbacks: 2
timeout: 12
stream_timeout: "3"
redis_host: cache
redis_port: 6380
redis_password: pw
enable_pre_call_checks: true
background_health_checks: true
health_check_interval: 0.5
model_group_alias: {gpt-4: a, old: {model: d, hidden: true}}
"#,
        );
        assert!(s.background_health_checks);
        assert_eq!(s.health_check_interval, Duration::from_millis(500));
        assert_eq!(
            s.model_group_alias["gpt-4"],
            GroupAlias {
                group: "a".into(),
                hidden: false
            }
        );
        assert!(s.model_group_alias["old"].hidden);
        assert_eq!(s.model_group_alias["old"].group, "d");
        // The request's num_retries replaces every retried class's count, and only those.
        assert_eq!(s.retries_for(ErrorClass::RateLimit, 0, Some(0)), 0);
        assert_eq!(s.retries_for(ErrorClass::InternalServer, 5, Some(1)), 1);
        assert_eq!(s.retries_for(ErrorClass::Authentication, 0, Some(4)), 4);
        assert_eq!(s.retries_for(ErrorClass::BadRequest, 0, Some(4)), 0);
        assert_eq!(s.retries_for(ErrorClass::NotFound, 0, Some(4)), 0);
        assert_eq!(s.strategy, Strategy::LatencyBased);
        assert_eq!(s.latency_ttl, Duration::from_secs(60));
        assert_eq!(s.lowest_latency_buffer, 0.5);
        assert_eq!(s.retries_for(ErrorClass::RateLimit, 0, None), 1);
        assert_eq!(s.retries_for(ErrorClass::InternalServer, 0, None), 3);
        assert_eq!(s.retries_for(ErrorClass::InternalServer, 5, None), 5);
        assert_eq!(s.retries_for(ErrorClass::Authentication, 0, None), 2);
        assert_eq!(s.retries_for(ErrorClass::BadRequest, 9, None), 0);
        assert_eq!(s.retry_after, Duration::from_millis(200));
        assert_eq!(s.allowed_fails, Some(2));
        assert_eq!(s.allowed_fails_policy[&ErrorClass::Timeout], 7);
        assert_eq!(s.cooldown_time, Duration::from_secs(30));
        assert_eq!(s.fallbacks["a"], ["b", "c"]);
        assert_eq!(s.fallbacks["d"], ["e"]);
        assert_eq!(s.context_window_fallbacks["a"], ["big"]);
        assert_eq!(s.default_fallbacks, ["z"]);
        assert_eq!(s.max_fallbacks, 2);
        assert_eq!(s.timeout, Some(Duration::from_secs(12)));
        assert_eq!(s.stream_timeout, Some(Duration::from_secs(3)));
        assert_eq!(s.redis.unwrap().url, "redis://:pw@cache:6380");
        assert_eq!(rest, ["router_settings.enable_pre_call_checks"]);
    }

    #[test]
    fn defaults_and_mistakes() {
        let (s, _) = read("{}");
        assert_eq!(s, RouterSettings::default());
        assert!(!s.background_health_checks);
        assert_eq!(s.health_check_interval, Duration::from_secs(300));
        assert_eq!(s.retries_for(ErrorClass::RateLimit, 2, None), 2);
        assert_eq!(s.retries_for(ErrorClass::NotFound, 2, None), 0);
        for bad in [
            "routing_strategy: fastest",
            "retry_policy: {WeirdErrorRetries: 1}",
            "fallbacks: 3",
            "num_retries: -1",
            "timeout: 0",
            "health_check_interval: 0",
            "model_group_alias: [a]",
            "model_group_alias: {a: {hidden: true}}",
            "model_group_alias: {a: 3}",
        ] {
            let map: JsonMap = serde_yaml_ng::from_str(bad).unwrap();
            assert!(
                RouterSettings::read(map, &Env::default(), None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn redis_from_the_environment() {
        let env = Env::with_overlay(
            [("REDIS_HOST", "r"), ("REDIS_PASSWORD", "s")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let (s, _) = RouterSettings::read(JsonMap::new(), &env, None).unwrap();
        assert_eq!(
            s.redis, None,
            "the environment alone does not turn Redis on"
        );
        let map: JsonMap = serde_yaml_ng::from_str("redis_host: cache").unwrap();
        let (s, _) = RouterSettings::read(map, &env, Some("t1".into())).unwrap();
        let redis = s.redis.unwrap();
        assert_eq!(redis.url, "redis://:s@cache:6379");
        assert_eq!(redis.key_prefix, "t1");
    }
}
