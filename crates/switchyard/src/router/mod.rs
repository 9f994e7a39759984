//! The router: which deployment serves a request, how often to retry, where to fall back, and
//! when to rest a deployment (cooldowns).
//!
//! The gateway's `execute` loop asks the router at every step: [`Router::select`] a deployment
//! of a target, [`Router::begin`] an attempt (an in-flight guard), then report
//! [`Router::succeeded`] or [`Router::failed`]; on failure [`Router::retry_delay`] says whether
//! and when to retry inside the group, and [`Router::fallbacks`] which groups come next.
//! Selection ([`select`]) is a pure function of the deployments' state so it can be tested
//! statistically. With Redis configured, [`shared`] shares rpm/tpm counters and cooldowns
//! between gateway instances; local state stays authoritative on the hot path.

mod deployment;
pub mod overrides;
pub mod select;
pub mod shared;
pub mod state;
pub mod tags;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchyard_types::responses::CreateResponse;

/// `router_settings` are read with the rest of the config; re-exported where they are used.
pub use crate::config::router_settings as settings;
use crate::error::{Error, ErrorKind, ErrorOrigin};
pub use deployment::Deployment;
use select::{Policy, Unavailable, choose};
pub use settings::{ErrorClass, RouterSettings, Strategy};
use shared::Shared;
use state::now_ms;

/// Upstream retries never wait longer than this; a longer `Retry-After` goes to the client.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The longest a health probe may take.
pub const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// A group (or a single deployment named by id) requests can be sent to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The model group's name (for a pinned deployment, its group).
    pub name: String,
    /// Its deployments.
    pub deployments: Vec<Arc<Deployment>>,
    /// A fallback naming one deployment by `model_info.id`: its cooldown is ignored.
    pub pinned: bool,
}

/// Routing state shared by every request of one gateway.
#[derive(Debug)]
pub struct Router {
    settings: RouterSettings,
    shared: Option<Shared>,
}

/// Holds a deployment's in-flight slot while an attempt (or its stream) lives.
#[derive(Debug)]
pub struct InFlight {
    deployment: Arc<Deployment>,
}

impl InFlight {
    /// The deployment held.
    pub fn deployment(&self) -> &Arc<Deployment> {
        &self.deployment
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.deployment.state.leave();
    }
}

impl Router {
    /// A router acting on `settings`; connects to Redis in the background when configured.
    pub fn new(settings: RouterSettings) -> Router {
        let shared = settings.redis.clone().map(Shared::new);
        Router { settings, shared }
    }

    /// The settings acted on.
    pub fn settings(&self) -> &RouterSettings {
        &self.settings
    }

    /// Starts background work (Redis connection and sync) for the configured deployments;
    /// needs a Tokio runtime, so the gateway calls it from requests (it runs once).
    pub fn start(&self, deployments: impl FnOnce() -> Vec<Arc<Deployment>>) {
        if let Some(shared) = &self.shared
            && !shared.is_started()
        {
            shared.start(deployments());
        }
    }

    /// Redis status for readiness: `None` when not configured, else whether it answers.
    pub fn redis_status(&self) -> Option<bool> {
        self.shared.as_ref().map(Shared::is_connected)
    }

    /// Picks the deployment for the next attempt at `target`; `tried` are the deployments
    /// already tried for this request. The pick counts against its rpm at once (in Redis too,
    /// when shared), so concurrent requests see it.
    pub async fn select(
        &self,
        target: &Target,
        tried: &[String],
    ) -> Result<Arc<Deployment>, Error> {
        let policy = Policy {
            strategy: self.settings.strategy,
            latency_ttl: self.settings.latency_ttl,
            lowest_latency_buffer: self.settings.lowest_latency_buffer,
        };
        // Deployments found over their rpm in Redis are skipped for the rest of this pick.
        let mut skipped: Vec<String> = Vec::new();
        loop {
            let now = now_ms();
            let candidates: Vec<Arc<Deployment>> = target
                .deployments
                .iter()
                .filter(|d| !skipped.contains(&d.id))
                .cloned()
                .collect();
            // Seeded from the thread's own generator: no lock shared by every request.
            let mut rng = fastrand::Rng::new();
            let picked = choose(&candidates, &policy, now, tried, target.pinned, &mut rng);
            let deployment = match picked {
                Ok(d) => d,
                Err(Unavailable::Cooling(wait)) if skipped.is_empty() => {
                    return Err(all_cooling(&target.name, wait));
                }
                Err(Unavailable::Cooling(wait) | Unavailable::Saturated(wait)) => {
                    return Err(saturated(&target.name, wait));
                }
            };
            deployment.state.note_request(now);
            if let Some(shared) = &self.shared
                && let Some(limit) = deployment.limits.rpm
                && let Some(count) = shared.count_request(&deployment, now).await
                && count > limit
            {
                skipped.push(deployment.id.clone());
                continue;
            } else if let Some(shared) = &self.shared
                && deployment.limits.rpm.is_none()
            {
                shared.count_request_later(&deployment, now);
            }
            return Ok(deployment);
        }
    }

    /// Shares, with the other instances, which deployment produced `response_id`.
    pub(crate) fn share_response_deployment(&self, response_id: &str, deployment_id: &str) {
        if let Some(shared) = &self.shared {
            shared.remember_response_later(response_id, deployment_id);
        }
    }

    /// Which deployment produced `response_id` on another instance, when Redis is shared.
    pub(crate) async fn shared_response_deployment(&self, response_id: &str) -> Option<String> {
        self.shared.as_ref()?.response_deployment(response_id).await
    }

    /// With tag routing on, the part of `target` that may serve a request with `tags` (read
    /// only then; `None`: all of it); an error when the tags match no deployment.
    pub(crate) fn for_tags(
        &self,
        target: &Target,
        tags: impl FnOnce() -> Vec<String>,
    ) -> Result<Option<Target>, Error> {
        if !self.settings.tag_filtering {
            return Ok(None);
        }
        tags::filter(target, &tags(), self.settings.tag_match_any)
    }

    /// Starts an attempt on `deployment`: it counts as in flight until the guard drops.
    pub fn begin(&self, deployment: &Arc<Deployment>) -> InFlight {
        deployment.state.enter();
        InFlight {
            deployment: deployment.clone(),
        }
    }

    /// Records a successful attempt that took `latency` to its first output.
    pub fn succeeded(&self, deployment: &Deployment, latency: Duration) {
        deployment.state.note_success(now_ms(), latency);
    }

    /// Records tokens used (for tpm limits and usage-based routing).
    pub fn used_tokens(&self, deployment: &Deployment, tokens: u64) {
        if tokens == 0 {
            return;
        }
        let now = now_ms();
        deployment.state.note_tokens(now, tokens);
        if let Some(shared) = &self.shared {
            shared.count_tokens_later(deployment, now, tokens);
        }
    }

    /// Records a failed attempt and cools the deployment down when the failure calls for it.
    /// `group_size` is the number of deployments in its group: the sole deployment of a group
    /// is never cooled down (LiteLLM's rule; there is nowhere else to send its traffic).
    pub fn failed(&self, deployment: &Deployment, group_size: usize, error: &Error) {
        if error.origin == ErrorOrigin::Client {
            return; // the request was at fault, not the deployment
        }
        let class = ErrorClass::of(error);
        if matches!(
            class,
            ErrorClass::BadRequest | ErrorClass::ContentPolicyViolation
        ) {
            return;
        }
        let now = now_ms();
        let counts = deployment.state.note_failure(now, class);
        if self.settings.disable_cooldowns || group_size < 2 {
            return;
        }
        let cooldown = self.settings.cooldown_time;
        let duration = match class {
            // A 429 with Retry-After: rest exactly as long as the upstream asked.
            ErrorClass::RateLimit if error.retry_after.is_some() => error.retry_after,
            // Wrong credentials or an unknown model do not heal by retrying.
            ErrorClass::Authentication | ErrorClass::NotFound => Some(cooldown),
            _ => {
                let allowed = self
                    .settings
                    .allowed_fails_policy
                    .get(&class)
                    .map(|n| (counts.of_class, *n))
                    .or(self.settings.allowed_fails.map(|n| (counts.failures, n)));
                let trip = match allowed {
                    Some((seen, allowed)) => seen > allowed,
                    // LiteLLM's default: over half of this minute's calls failed, and more
                    // than one call was made.
                    None => {
                        let total = counts.failures + counts.successes;
                        total > 1 && f64::from(counts.failures) / f64::from(total) > 0.5
                    }
                };
                trip.then_some(cooldown)
            }
        };
        if let Some(duration) = duration.filter(|d| !d.is_zero()) {
            self.cool(deployment, now, duration, error, "a request failed");
        }
    }

    /// Cools `deployment` down for `duration` from `now`, here and, when shared, on every
    /// instance.
    fn cool(
        &self,
        deployment: &Deployment,
        now: u64,
        duration: Duration,
        error: &Error,
        cause: &'static str,
    ) {
        let until = now + duration.as_millis() as u64;
        deployment.state.cool_until(until);
        tracing::info!(
            deployment = %deployment.id,
            model_group = %deployment.model_name,
            seconds = duration.as_secs_f64(),
            error = ?error.kind,
            cause,
            "deployment cooling down"
        );
        if let Some(shared) = &self.shared {
            shared.cool_later(deployment, until);
        }
    }

    /// Acts on a background health probe of `deployment` (a group of `group_size`): a failure
    /// the deployment is to blame for cools it down until the next probe has had time to
    /// answer (a 429 for its `Retry-After`, else `cooldown_time`); a success ends a cooldown
    /// early. The sole deployment of a group is never cooled, as for requests; probe failures
    /// are not counted as traffic.
    pub fn probed(&self, deployment: &Deployment, group_size: usize, result: Result<(), &Error>) {
        let now = now_ms();
        let error = match result {
            Ok(()) => {
                if deployment.state.cooling_until(now).is_some() {
                    deployment.state.end_cooldown();
                    if let Some(shared) = &self.shared {
                        shared.end_cooldown_later(deployment);
                    }
                    tracing::info!(
                        deployment = %deployment.id,
                        model_group = %deployment.model_name,
                        "health probe succeeded: cooldown ended"
                    );
                }
                return;
            }
            Err(error) => error,
        };
        let class = ErrorClass::of(error);
        if self.settings.disable_cooldowns
            || group_size < 2
            || error.origin == ErrorOrigin::Client
            || matches!(
                class,
                ErrorClass::BadRequest | ErrorClass::ContentPolicyViolation
            )
        {
            return;
        }
        let duration = match class {
            ErrorClass::RateLimit => error.retry_after.unwrap_or(self.settings.cooldown_time),
            _ => {
                (self.settings.health_check_interval + PROBE_LIMIT).max(self.settings.cooldown_time)
            }
        };
        self.cool(deployment, now, duration, error, "a health probe failed");
    }

    /// How long to wait before retry number `retries + 1` inside a group after `error` on
    /// `deployment`, or `None` to stop retrying. `elsewhere`: another deployment of the group
    /// could take the retry, so an upstream `Retry-After` for this one need not be waited out.
    /// `requested`: the request's own `num_retries`, when it sets one.
    pub fn retry_delay(
        &self,
        error: &Error,
        deployment: &Deployment,
        retries: u32,
        elsewhere: bool,
        requested: Option<u32>,
    ) -> Option<Duration> {
        if error.origin == ErrorOrigin::Client
            || error.code.as_deref() == Some("insufficient_quota")
        {
            return None;
        }
        let allowed =
            self.settings
                .retries_for(ErrorClass::of(error), deployment.max_retries, requested);
        if retries >= allowed {
            return None;
        }
        let wait = match error.retry_after {
            Some(after) if !elsewhere => {
                if after > MAX_RETRY_WAIT {
                    return None;
                }
                after
            }
            _ => backoff(retries),
        };
        Some(wait.max(self.settings.retry_after))
    }

    /// The groups to fall back to, in order, after `group` failed with `error`: the request's
    /// own `fallbacks` first when given, else the configured lists for the error's class.
    pub fn fallbacks(
        &self,
        group: &str,
        error: &Error,
        from_request: Option<&[String]>,
    ) -> VecDeque<String> {
        let s = &self.settings;
        let specific = match error.kind {
            ErrorKind::ContextLengthExceeded => s.context_window_fallbacks.get(group),
            ErrorKind::ContentFilter => s.content_policy_fallbacks.get(group),
            // Other client errors would fail the same way anywhere.
            ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge => {
                return VecDeque::new();
            }
            _ => None,
        };
        if error.origin == ErrorOrigin::Client
            && !matches!(
                error.kind,
                ErrorKind::ContextLengthExceeded | ErrorKind::ContentFilter
            )
        {
            return VecDeque::new();
        }
        let list: Vec<String> = if let Some(list) = specific {
            list.clone()
        } else if let Some(list) = from_request {
            list.to_vec()
        } else if let Some(list) = s.fallbacks.get(group) {
            list.clone()
        } else {
            s.default_fallbacks.clone()
        };
        list.into_iter().filter(|g| g != group).collect()
    }

    /// `max_fallbacks`.
    pub fn max_fallbacks(&self) -> usize {
        self.settings.max_fallbacks
    }
}

/// Exponential backoff from 250 ms with up to 50 % jitter, at most 8 s.
fn backoff(retries: u32) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1 << retries.min(5));
    let jitter = base.mul_f64(fastrand::f64() * 0.5);
    (base + jitter).min(Duration::from_secs(8))
}

fn all_cooling(group: &str, wait: Duration) -> Error {
    Error::new(
        ErrorKind::RateLimited,
        format!(
            "No deployment of model group `{group}` is available: every deployment is cooling \
             down after recent failures. Retry after {:.1}s.",
            wait.as_secs_f64()
        ),
    )
    .with_code("no_deployments_available")
    .with_retry_after(Some(wait))
}

fn saturated(group: &str, wait: Duration) -> Error {
    Error::new(
        ErrorKind::RateLimited,
        format!(
            "Model group `{group}` is at its configured limits (rpm, tpm or \
             max_parallel_requests). Retry after {:.0}s.",
            wait.as_secs_f64().ceil()
        ),
    )
    .with_code("rate_limit_exceeded")
    .with_retry_after(Some(wait))
}

/// One entry of the request body's `fallbacks`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFallback {
    /// The group (or deployment id) to fall back to.
    pub model: String,
    /// The request sent to it when the entry overrides fields (LiteLLM's
    /// `{"model": …, "messages": […]}` form), else `None`: the original request.
    pub request: Option<Box<CreateResponse>>,
}

/// Fields a fallback entry may not override: the output mode was settled with the client,
/// and fallbacks do not nest.
const NOT_OVERRIDABLE: &[&str] = &["model", "stream", "fallbacks"];

/// The request body's own `fallbacks` (a gateway field): names, or objects with a `model`
/// whose other fields override the request for that target (`messages`, LiteLLM's
/// Chat-Completions name, is taken as `input`).
pub fn request_fallbacks(request: &CreateResponse) -> Result<Option<Vec<RequestFallback>>, Error> {
    let Some(value) = request.extra.get("fallbacks") else {
        return Ok(None);
    };
    let bad = |detail: String| {
        Error::invalid_request(
            format!("`fallbacks` must be a list of model names or objects with a `model`{detail}."),
            Some("fallbacks"),
        )
        .with_code("invalid_fallbacks")
    };
    let list = match value {
        Value::Null => return Ok(None),
        Value::Array(list) => list,
        _ => return Err(bad(String::new())),
    };
    let mut base: Option<Value> = None;
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let fallback = match entry {
            Value::String(model) => RequestFallback {
                model: model.clone(),
                request: None,
            },
            Value::Object(fields) => {
                let model = fields
                    .get("model")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!(" (entry {i} has none)")))?
                    .to_string();
                let overrides: Vec<(&String, &Value)> = fields
                    .iter()
                    .filter(|(k, _)| !NOT_OVERRIDABLE.contains(&k.as_str()))
                    .collect();
                let request = if overrides.is_empty() {
                    None
                } else {
                    let mut merged = match &base {
                        Some(b) => b.clone(),
                        None => {
                            let b = serde_json::to_value(request).map_err(|e| {
                                Error::new(
                                    ErrorKind::Internal,
                                    format!("cannot copy the request: {e}"),
                                )
                            })?;
                            base = Some(b.clone());
                            b
                        }
                    };
                    for (key, value) in overrides {
                        let key = if key == "messages" {
                            "input"
                        } else {
                            key.as_str()
                        };
                        merged[key] = value.clone();
                    }
                    let parsed: CreateResponse = serde_json::from_value(merged).map_err(|e| {
                        bad(format!(" (entry {i} does not make a valid request: {e})"))
                    })?;
                    Some(Box::new(parsed))
                };
                RequestFallback { model, request }
            }
            _ => return Err(bad(format!(" (entry {i} is neither)"))),
        };
        out.push(fallback);
    }
    Ok(Some(out))
}

/// True when the request asks to exercise the fallback path (`mock_testing_fallbacks`).
pub fn mock_testing_fallbacks(request: &CreateResponse) -> bool {
    request.extra.get("mock_testing_fallbacks") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests;
