//! Rate limits of keys and teams: requests and tokens per minute, requests in flight.
//!
//! With Redis (`router_settings.redis_*`), every replica counts in the same Redis keys, so N
//! replicas together allow exactly the limit: a request reserves its place with one `INCR`
//! (plus `EXPIRE`, in one pipeline) of `{prefix}:keylimit:rpm:{scope}:{minute}` and is refused
//! when the count it gets back is over the limit; tokens are added with `INCRBY` when the
//! request ends, and a request is refused while the minute's tokens are at the limit; requests
//! in flight are an `INCR` / `DECR` pair. Without Redis, or while it does not answer (50 ms at
//! most on the request path), the same counts are kept in this process: limits then hold per
//! replica.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard::router::settings::RedisSettings;

use crate::spend::store::now_ms;

/// The longest a request waits for Redis before counting locally.
const DEADLINE: Duration = Duration::from_millis(50);
/// Counters outlive their minute by this much.
const WINDOW_TTL_SECS: i64 = 120;
/// A replica that dies with requests in flight leaves its count behind for this long at most.
const PARALLEL_TTL_SECS: i64 = 600;

/// Who a limit is counted for: a key (by hash) or a team.
#[derive(Debug, Clone)]
pub struct Scope {
    /// `key:{hash}` or `team:{id}`.
    pub id: String,
    /// `key` or `team`, for messages.
    pub kind: &'static str,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Requests in flight.
    pub parallel: Option<u64>,
}

/// A limit a request ran into.
#[derive(Debug, Clone)]
pub struct Exceeded {
    /// `key` or `team`.
    pub kind: &'static str,
    /// `requests`, `tokens` or `parallel_requests`.
    pub what: &'static str,
    /// The limit.
    pub limit: u64,
    /// Until the window resets, in ms (1 s for parallel requests).
    pub retry_after_ms: u64,
}

/// What is left of the tightest request and token limits after a request was admitted, for
/// LiteLLM's `x-ratelimit-*` headers.
#[derive(Debug, Clone, Default)]
pub struct Remaining {
    /// (limit, remaining) of requests per minute.
    pub requests: Option<(u64, u64)>,
    /// (limit, remaining) of tokens per minute.
    pub tokens: Option<(u64, u64)>,
    /// Seconds until the minute resets.
    pub reset_secs: u64,
}

/// The limiter: shared through Redis when configured, else local.
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Option<RedisSettings>,
    connection: Mutex<Option<ConnectionManager>>,
    warned: AtomicBool,
    /// Local windows: (counter key) → (minute, value).
    windows: Mutex<HashMap<String, (u64, u64)>>,
    /// Local requests in flight per scope.
    parallel: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("shared", &self.redis.is_some())
            .finish()
    }
}

fn minute_now() -> (u64, u64) {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    (now / 60_000, 60_000 - now % 60_000)
}

/// Held while a request runs: gives its place among the requests in flight back when dropped.
#[derive(Debug)]
pub struct InFlight {
    limiter: Limiter,
    scopes: Vec<(String, bool)>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for (id, shared) in std::mem::take(&mut self.scopes) {
            self.limiter.release(id, shared);
        }
    }
}

impl Limiter {
    /// A limiter sharing its counts through `redis` when given.
    pub fn new(redis: Option<RedisSettings>) -> Limiter {
        let limiter = Limiter {
            inner: Arc::new(Inner {
                redis,
                connection: Mutex::new(None),
                warned: AtomicBool::new(false),
                windows: Mutex::new(HashMap::new()),
                parallel: Mutex::new(HashMap::new()),
            }),
        };
        if limiter.inner.redis.is_some() && tokio::runtime::Handle::try_current().is_ok() {
            let connecting = limiter.clone();
            tokio::spawn(async move { connecting.connect().await });
        }
        limiter
    }

    /// True when limits are shared between replicas.
    pub fn is_shared(&self) -> bool {
        self.inner.redis.is_some()
    }

    async fn connect(&self) {
        let Some(settings) = &self.inner.redis else {
            return;
        };
        loop {
            let client = match redis::Client::open(settings.url.as_str()) {
                Ok(c) => c,
                Err(_) => {
                    tracing::warn!("key rate limits: invalid Redis URL; limits hold per replica");
                    return;
                }
            };
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Duration::from_secs(1))
                .set_response_timeout(Duration::from_secs(1))
                .set_number_of_retries(1);
            match tokio::time::timeout(
                Duration::from_secs(3),
                ConnectionManager::new_with_config(client, config),
            )
            .await
            {
                Ok(Ok(manager)) => {
                    if let Ok(mut slot) = self.inner.connection.lock() {
                        *slot = Some(manager);
                    }
                    return;
                }
                _ => {
                    self.trouble("connecting");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// Connected to Redis (tests wait for it).
    pub fn connected(&self) -> bool {
        self.connection().is_some()
    }

    fn connection(&self) -> Option<ConnectionManager> {
        self.inner.connection.lock().ok().and_then(|c| c.clone())
    }

    fn trouble(&self, what: &str) {
        if !self.inner.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "key rate limits: Redis failed while {what}; counting in this replica until it answers"
            );
        }
    }

    fn key(&self, parts: &str) -> String {
        let prefix = self
            .inner
            .redis
            .as_ref()
            .map_or("switchyard", |r| r.key_prefix.as_str());
        format!("{prefix}:keylimit:{parts}")
    }

    /// Admits a request for `scopes` or names the limit it ran into. Requests are counted
    /// even when refused by a later scope (as LiteLLM counts them).
    pub async fn admit(&self, scopes: &[Scope]) -> Result<(InFlight, Remaining), Exceeded> {
        let (minute, left_ms) = minute_now();
        let mut remaining = Remaining {
            reset_secs: left_ms.div_ceil(1000),
            ..Remaining::default()
        };
        let exceeded = |kind, what, limit| Exceeded {
            kind,
            what,
            limit,
            retry_after_ms: left_ms,
        };
        let mut flight = InFlight {
            limiter: self.clone(),
            scopes: Vec::new(),
        };
        for scope in scopes {
            if let Some(limit) = scope.tpm {
                let used = self
                    .read(&format!("tpm:{}:{minute}", scope.id), minute)
                    .await;
                if used >= limit {
                    return Err(exceeded(scope.kind, "tokens", limit));
                }
                tighter(&mut remaining.tokens, limit, limit - used);
            }
        }
        for scope in scopes {
            if let Some(limit) = scope.rpm {
                let count = self
                    .incr(&format!("rpm:{}:{minute}", scope.id), minute)
                    .await;
                if count > limit {
                    return Err(exceeded(scope.kind, "requests", limit));
                }
                tighter(&mut remaining.requests, limit, limit - count);
            }
        }
        for scope in scopes {
            if let Some(limit) = scope.parallel {
                let (count, shared) = self.enter(&scope.id).await;
                flight.scopes.push((scope.id.clone(), shared));
                if count > limit {
                    return Err(Exceeded {
                        retry_after_ms: 1000,
                        ..exceeded(scope.kind, "parallel_requests", limit)
                    });
                }
            }
        }
        Ok((flight, remaining))
    }

    /// Adds a finished request's tokens to its scopes' current minute.
    pub fn add_tokens(&self, scope_ids: Vec<String>, tokens: u64) {
        if tokens == 0 || scope_ids.is_empty() {
            return;
        }
        let (minute, _) = minute_now();
        let keys: Vec<String> = scope_ids
            .iter()
            .map(|id| format!("tpm:{id}:{minute}"))
            .collect();
        if let Some(mut connection) = self.connection() {
            let redis_keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
            let limiter = self.clone();
            if tokio::runtime::Handle::try_current().is_ok() {
                tokio::spawn(async move {
                    let mut pipe = redis::pipe();
                    for key in &redis_keys {
                        pipe.cmd("INCRBY")
                            .arg(key)
                            .arg(tokens)
                            .ignore()
                            .cmd("EXPIRE")
                            .arg(key)
                            .arg(WINDOW_TTL_SECS)
                            .ignore();
                    }
                    let call = pipe.query_async::<()>(&mut connection);
                    if !matches!(
                        tokio::time::timeout(Duration::from_secs(1), call).await,
                        Ok(Ok(()))
                    ) {
                        limiter.trouble("adding tokens");
                        for key in keys {
                            limiter.local_add(&key, minute, tokens);
                        }
                    }
                });
                return;
            }
        }
        for key in keys {
            self.local_add(&key, minute, tokens);
        }
    }

    async fn read(&self, key: &str, minute: u64) -> u64 {
        if let Some(mut connection) = self.connection() {
            let mut get = redis::cmd("GET");
            get.arg(self.key(key));
            let call = get.query_async::<Option<u64>>(&mut connection);
            match tokio::time::timeout(DEADLINE, call).await {
                Ok(Ok(v)) => return v.unwrap_or(0),
                _ => self.trouble("reading a token count"),
            }
        }
        self.local_get(key, minute)
    }

    async fn incr(&self, key: &str, minute: u64) -> u64 {
        if let Some(mut connection) = self.connection() {
            let redis_key = self.key(key);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("INCR")
                .arg(&redis_key)
                .cmd("EXPIRE")
                .arg(&redis_key)
                .arg(WINDOW_TTL_SECS)
                .ignore();
            let call = pipe.query_async::<(u64,)>(&mut connection);
            match tokio::time::timeout(DEADLINE, call).await {
                Ok(Ok((v,))) => return v,
                _ => self.trouble("counting a request"),
            }
        }
        self.local_add(key, minute, 1)
    }

    /// One more request in flight for `id`: (count now, counted in Redis).
    async fn enter(&self, id: &str) -> (u64, bool) {
        if let Some(mut connection) = self.connection() {
            let redis_key = self.key(&format!("parallel:{id}"));
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("INCR")
                .arg(&redis_key)
                .cmd("EXPIRE")
                .arg(&redis_key)
                .arg(PARALLEL_TTL_SECS)
                .ignore();
            let call = pipe.query_async::<(u64,)>(&mut connection);
            match tokio::time::timeout(DEADLINE, call).await {
                Ok(Ok((v,))) => return (v, true),
                _ => self.trouble("counting requests in flight"),
            }
        }
        let Ok(mut parallel) = self.inner.parallel.lock() else {
            return (0, false);
        };
        let count = parallel.entry(id.to_string()).or_insert(0);
        *count += 1;
        (*count, false)
    }

    fn release(&self, id: String, shared: bool) {
        if shared {
            if let (Some(mut connection), Ok(_)) =
                (self.connection(), tokio::runtime::Handle::try_current())
            {
                let key = self.key(&format!("parallel:{id}"));
                tokio::spawn(async move {
                    let mut decr = redis::cmd("DECR");
                    decr.arg(key);
                    let call = decr.query_async::<i64>(&mut connection);
                    let _ = tokio::time::timeout(Duration::from_secs(1), call).await;
                });
            }
            return;
        }
        if let Ok(mut parallel) = self.inner.parallel.lock()
            && let Some(count) = parallel.get_mut(&id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                parallel.remove(&id);
            }
        }
    }

    fn local_get(&self, key: &str, minute: u64) -> u64 {
        self.inner
            .windows
            .lock()
            .ok()
            .and_then(|w| w.get(key).copied())
            .filter(|(m, _)| *m == minute)
            .map_or(0, |(_, v)| v)
    }

    fn local_add(&self, key: &str, minute: u64, n: u64) -> u64 {
        let Ok(mut windows) = self.inner.windows.lock() else {
            return 0;
        };
        if windows.len() > 100_000 {
            // Old minutes are of no use; a full sweep now and then bounds the map.
            windows.retain(|_, (m, _)| *m >= minute);
        }
        let entry = windows.entry(key.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += n;
        entry.1
    }
}

fn tighter(slot: &mut Option<(u64, u64)>, limit: u64, left: u64) {
    if slot.is_none_or(|(_, l)| left < l) {
        *slot = Some((limit, left));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scope(rpm: Option<u64>, tpm: Option<u64>, parallel: Option<u64>) -> Scope {
        Scope {
            id: format!("key:{}", fastrand::u64(..)),
            kind: "key",
            rpm,
            tpm,
            parallel,
        }
    }

    #[tokio::test]
    async fn local_limits_hold_exactly() {
        let limiter = Limiter::new(None);
        let s = scope(Some(3), None, None);
        for left in [2, 1, 0] {
            let (_, remaining) = limiter.admit(std::slice::from_ref(&s)).await.unwrap();
            assert_eq!(remaining.requests, Some((3, left)));
        }
        let err = limiter.admit(&[s]).await.unwrap_err();
        assert_eq!((err.what, err.limit), ("requests", 3));

        let s = scope(None, None, Some(1));
        let held = limiter.admit(std::slice::from_ref(&s)).await.unwrap();
        assert_eq!(
            limiter
                .admit(std::slice::from_ref(&s))
                .await
                .unwrap_err()
                .what,
            "parallel_requests"
        );
        drop(held);
        assert!(limiter.admit(&[s]).await.is_ok());

        let s = scope(None, Some(10), None);
        assert!(limiter.admit(std::slice::from_ref(&s)).await.is_ok());
        limiter.add_tokens(vec![s.id.clone()], 10);
        assert_eq!(limiter.admit(&[s]).await.unwrap_err().what, "tokens");
    }
}
