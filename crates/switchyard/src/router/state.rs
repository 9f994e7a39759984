//! What the router knows about one deployment: its configured limits and weights, and its live
//! state (requests in flight, this minute's usage and failures, cooldown, recent latency).
//!
//! Live state is local and lock-light (atomics, and one short mutex for the minute window); with
//! Redis configured, [`super::shared`] folds the other instances' counts into the same window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchyard_types::JsonMap;

use super::settings::ErrorClass;

/// How many latency samples a deployment keeps.
const LATENCY_SAMPLES: usize = 16;

/// Milliseconds since the Unix epoch: cooldowns and minute windows are wall-clock so that
/// several instances sharing them through Redis agree.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The minute window a time falls in.
pub fn minute_of(ms: u64) -> u64 {
    ms / 60_000
}

/// Time left until the current minute window ends.
pub fn until_next_minute(ms: u64) -> Duration {
    Duration::from_millis(60_000 - ms % 60_000)
}

/// A deployment's routing parameters from `litellm_params` / `model_info`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// `rpm`: requests per minute (a limit and a shuffle weight).
    pub rpm: Option<u64>,
    /// `tpm`: tokens per minute (a limit and a shuffle weight).
    pub tpm: Option<u64>,
    /// `max_parallel_requests`.
    pub max_parallel: Option<u32>,
    /// `weight` for simple-shuffle.
    pub weight: Option<f64>,
    /// `order`: lower is preferred; higher orders serve only when lower ones cannot.
    pub order: Option<i64>,
    /// `input_cost_per_token` (litellm_params, else model_info), for cost-based routing.
    pub input_cost: Option<f64>,
    /// `output_cost_per_token`, likewise.
    pub output_cost: Option<f64>,
    /// `model_info.health_check_model`.
    pub health_check_model: Option<String>,
    /// `tags`, for tag routing.
    pub tags: Vec<String>,
}

impl Limits {
    /// Reads the routing keys of an entry: `params` are the `litellm_params` keys the router
    /// takes, `prices` the other `litellm_params` holding prices, `info` the `model_info`.
    pub fn read(params: &JsonMap, prices: &JsonMap, info: &JsonMap) -> Limits {
        let num = |map: &JsonMap, key: &str| -> Option<f64> {
            match map.get(key)? {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        };
        let price = |key: &str| num(prices, key).or_else(|| num(info, key));
        Limits {
            rpm: num(params, "rpm").map(|v| v as u64),
            tpm: num(params, "tpm").map(|v| v as u64),
            max_parallel: num(params, "max_parallel_requests").map(|v| v.min(1e9) as u32),
            weight: num(params, "weight"),
            order: match params.get("order") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            },
            input_cost: price("input_cost_per_token"),
            output_cost: price("output_cost_per_token"),
            health_check_model: info
                .get("health_check_model")
                .and_then(Value::as_str)
                .map(str::to_string),
            tags: crate::accounting::tags(None, params.get("tags")),
        }
    }
}

/// One minute of a deployment's use.
#[derive(Debug, Default)]
struct Window {
    minute: u64,
    requests: u64,
    tokens: u64,
    successes: u32,
    failures: u32,
    failures_by_class: HashMap<ErrorClass, u32>,
    /// Every instance's counts this minute, as last read from Redis.
    shared_requests: u64,
    shared_tokens: u64,
}

/// A deployment's failure counts in the current minute, after a failure was noted.
#[derive(Debug, Clone, Copy)]
pub struct FailureCounts {
    /// Failures this minute.
    pub failures: u32,
    /// Failures of this class this minute.
    pub of_class: u32,
    /// Successes this minute.
    pub successes: u32,
}

/// A deployment's live routing state.
#[derive(Debug, Default)]
pub struct DeploymentState {
    in_flight: AtomicU32,
    cooldown_until_ms: AtomicU64,
    window: Mutex<Window>,
    latency: Mutex<VecDeque<(u64, f64)>>,
}

impl DeploymentState {
    fn with_window<T>(&self, now: u64, f: impl FnOnce(&mut Window) -> T) -> T {
        let mut guard = match self.window.lock() {
            Ok(guard) => guard,
            // A panic elsewhere cannot leave a counter half-written; keep using it.
            Err(poisoned) => poisoned.into_inner(),
        };
        let minute = minute_of(now);
        if guard.minute != minute {
            *guard = Window {
                minute,
                ..Window::default()
            };
        }
        f(&mut guard)
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(super) fn enter(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn leave(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// (requests, tokens) used this minute, by every instance as far as known.
    pub fn usage(&self, now: u64) -> (u64, u64) {
        self.with_window(now, |w| {
            (
                w.requests.max(w.shared_requests),
                w.tokens.max(w.shared_tokens),
            )
        })
    }

    /// Counts a request sent this minute.
    pub fn note_request(&self, now: u64) {
        self.with_window(now, |w| w.requests += 1);
    }

    /// Counts tokens used this minute.
    pub fn note_tokens(&self, now: u64, tokens: u64) {
        self.with_window(now, |w| w.tokens += tokens);
    }

    /// Folds in every instance's counts for `minute` (from Redis).
    pub fn note_shared(&self, now: u64, minute: u64, requests: u64, tokens: u64) {
        self.with_window(now, |w| {
            if w.minute == minute {
                w.shared_requests = w.shared_requests.max(requests);
                w.shared_tokens = w.shared_tokens.max(tokens);
            }
        });
    }

    /// Counts a success and its latency (time to first output for streams).
    pub fn note_success(&self, now: u64, latency: Duration) {
        self.with_window(now, |w| w.successes += 1);
        let mut samples = match self.latency.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if samples.len() == LATENCY_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((now, latency.as_secs_f64() * 1000.0));
    }

    /// Counts a failure of `class`.
    pub fn note_failure(&self, now: u64, class: ErrorClass) -> FailureCounts {
        self.with_window(now, |w| {
            w.failures += 1;
            let of_class = w.failures_by_class.entry(class).or_default();
            *of_class += 1;
            FailureCounts {
                failures: w.failures,
                of_class: *of_class,
                successes: w.successes,
            }
        })
    }

    /// Mean latency (ms) of the samples younger than `ttl`, or `None` without any.
    pub fn latency(&self, now: u64, ttl: Duration) -> Option<f64> {
        let samples = match self.latency.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let oldest = now.saturating_sub(ttl.as_millis() as u64);
        let recent: Vec<f64> = samples
            .iter()
            .filter(|(at, _)| *at >= oldest)
            .map(|(_, ms)| *ms)
            .collect();
        (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64)
    }

    /// Cools the deployment down until `until` (ms); a later end already set wins.
    pub fn cool_until(&self, until: u64) {
        self.cooldown_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// Ends a cooldown now (a health probe found the deployment answering).
    pub fn end_cooldown(&self) {
        self.cooldown_until_ms.store(0, Ordering::Relaxed);
    }

    /// When the cooldown ends (ms), if it has not yet.
    pub fn cooling_until(&self, now: u64) -> Option<u64> {
        let until = self.cooldown_until_ms.load(Ordering::Relaxed);
        (until > now).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_roll_over_each_minute() {
        let s = DeploymentState::default();
        let t = 60_000 * 1000 + 5;
        s.note_request(t);
        s.note_tokens(t, 40);
        assert_eq!(s.usage(t), (1, 40));
        s.note_shared(t, minute_of(t), 7, 10);
        assert_eq!(s.usage(t), (7, 40));
        assert_eq!(s.usage(t + 60_000), (0, 0));
        assert_eq!(until_next_minute(t), Duration::from_millis(59_995));
    }

    #[test]
    fn failures_and_cooldowns() {
        let s = DeploymentState::default();
        let t = 1_000_000;
        s.note_success(t, Duration::from_millis(100));
        let c = s.note_failure(t, ErrorClass::RateLimit);
        assert_eq!((c.failures, c.of_class, c.successes), (1, 1, 1));
        let c = s.note_failure(t, ErrorClass::Timeout);
        assert_eq!((c.failures, c.of_class), (2, 1));
        assert_eq!(s.cooling_until(t), None);
        s.cool_until(t + 500);
        s.cool_until(t + 100);
        assert_eq!(s.cooling_until(t), Some(t + 500));
        assert_eq!(s.cooling_until(t + 500), None);
        assert_eq!(s.latency(t, Duration::from_secs(1)), Some(100.0));
        assert_eq!(s.latency(t + 5000, Duration::from_secs(1)), None);
    }

    #[test]
    fn limits_read_from_params_and_model_info() {
        let params: JsonMap = serde_json::from_str(
            r#"{"rpm": 10, "tpm": "2000", "weight": 2, "order": 1, "max_parallel_requests": 3}"#,
        )
        .unwrap();
        let prices: JsonMap =
            serde_json::from_str(r#"{"input_cost_per_token": 0.000001}"#).unwrap();
        let info: JsonMap = serde_json::from_str(
            r#"{"output_cost_per_token": 0.000004, "input_cost_per_token": 9, "health_check_model": "tiny"}"#,
        )
        .unwrap();
        let l = Limits::read(&params, &prices, &info);
        assert_eq!(l.rpm, Some(10));
        assert_eq!(l.tpm, Some(2000));
        assert_eq!(l.max_parallel, Some(3));
        assert_eq!(l.weight, Some(2.0));
        assert_eq!(l.order, Some(1));
        assert_eq!(l.input_cost, Some(0.000001), "litellm_params wins");
        assert_eq!(l.output_cost, Some(0.000004));
        assert_eq!(l.health_check_model.as_deref(), Some("tiny"));
    }
}
