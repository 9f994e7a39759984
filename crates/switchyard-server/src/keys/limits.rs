//! Rate limits of keys and teams: requests and tokens per minute, requests in flight.
//!
//! With Redis (`router_settings.redis_*`), every replica counts in the same Redis keys, so N
//! replicas together allow exactly the limit. Each count is one Lua script, atomic in Redis,
//! whose minute is read from Redis's own clock (`TIME`), so replicas whose clocks differ still
//! share one window: a request reserves its place with an `INCR` of
//! `{prefix}:keylimit:rpm:{scope}:{minute}` and is refused when the count it gets back is over
//! the limit; tokens are added with `INCRBY` when the request ends, and a request is refused
//! while the minute's tokens are at the limit. Requests in flight are a sorted set per scope
//! (`{prefix}:keylimit:parallel:{scope}`), one member per request scored by its deadline: the
//! script drops members past their deadline, counts the rest and adds the request only when
//! there is room; the request renews its deadline while it runs and removes its member when it
//! ends. A count lost with a replica, a release that failed or a reservation applied after its
//! caller gave up on it therefore lapses with its deadline instead of drifting for good.
//! Without Redis, or while it does not answer (50 ms at most on the request path), the same
//! counts are kept in this process: limits then hold per replica.
//!
//! Key and team budgets use the same connection and clock (see [`budget`]).

mod budget;

pub use budget::{BudgetScope, Checked, SharedHold};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard::router::settings::RedisSettings;

use crate::spend::store::now_ms;

/// The longest a request waits for Redis before counting locally.
const DEADLINE: Duration = Duration::from_millis(50);
/// Counters outlive their minute by this much (ms).
const WINDOW_TTL_MS: u64 = 120_000;
/// A request in flight's deadline (ms): renewed every third of it while the request runs, so a
/// replica that dies with requests in flight leaves them counted for this long at most.
const PARALLEL_LEASE_MS: u64 = 60_000;

/// The minute of Redis's clock and the ms left in it, as `now`, `minute` and `left`.
const CLOCK: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = math.floor(now / 60000)
local left = 60000 - now % 60000
";

/// KEYS[1]: the counter's prefix; ARGV[1]: its TTL (ms). Counts one request in this minute:
/// {count, ms left}.
const COUNT: &str = "local key = KEYS[1] .. ':' .. string.format('%d', minute)
local n = redis.call('INCR', key)
if n == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
return {n, left}
";

/// KEYS: counters' prefixes; ARGV[1]: tokens; ARGV[2]: TTL (ms). Adds to this minute's.
const ADD: &str = "for _, prefix in ipairs(KEYS) do
  local key = prefix .. ':' .. string.format('%d', minute)
  redis.call('INCRBY', key, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return left
";

/// KEYS[1]: the counter's prefix; ARGV: limit, tokens, TTL (ms). Refused when this minute's
/// tokens are at the limit, else the tokens are reserved: {1 admitted | 0, used, ms left,
/// minute}.
const RESERVE: &str = "local key = KEYS[1] .. ':' .. string.format('%d', minute)
local used = tonumber(redis.call('GET', key)) or 0
if used >= tonumber(ARGV[1]) then return {0, used, left, minute} end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', key, ARGV[2])
  redis.call('PEXPIRE', key, ARGV[3])
end
return {1, used, left, minute}
";

/// KEYS: counters' prefixes; ARGV: reserved tokens, used tokens, TTL (ms), then the minute
/// each reservation was made in. Takes the reservation back (from its minute, while that
/// counter lives) and adds what was used to this minute's.
const SETTLE: &str = "for i, prefix in ipairs(KEYS) do
  local reserved = prefix .. ':' .. ARGV[3 + i]
  if tonumber(ARGV[1]) > 0 and redis.call('EXISTS', reserved) == 1 then
    redis.call('DECRBY', reserved, ARGV[1])
  end
  if tonumber(ARGV[2]) > 0 then
    local key = prefix .. ':' .. string.format('%d', minute)
    redis.call('INCRBY', key, ARGV[2])
    redis.call('PEXPIRE', key, ARGV[3])
  end
end
return left
";

/// KEYS[1]: the set; ARGV: limit, member, lease (ms). {1 admitted | 0 full, count}.
const ENTER: &str = "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return {0, n} end
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return {1, n + 1}
";

/// KEYS: sets; ARGV: member, lease (ms). Moves the member's deadline on where it still is.
const RENEW: &str = "local lease = tonumber(ARGV[2])
for _, set in ipairs(KEYS) do
  if redis.call('ZADD', set, 'XX', 'CH', now + lease, ARGV[1]) == 1 then
    if redis.call('PTTL', set) < lease then redis.call('PEXPIRE', set, lease) end
  end
end
return 1
";

/// The scripts, each prefixed with [`CLOCK`].
struct Scripts {
    count: redis::Script,
    add: redis::Script,
    enter: redis::Script,
    renew: redis::Script,
    reserve: redis::Script,
    settle: redis::Script,
}

impl Scripts {
    fn new() -> Scripts {
        let script = |body: &str| redis::Script::new(&format!("{CLOCK}{body}"));
        Scripts {
            count: script(COUNT),
            add: script(ADD),
            enter: script(ENTER),
            renew: script(RENEW),
            reserve: script(RESERVE),
            settle: script(SETTLE),
        }
    }
}

/// Who a limit is counted for: a key (by hash) or a team.
#[derive(Clone)]
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

/// The limits, not the id (a key's holds its hash).
impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("kind", &self.kind)
            .field("rpm", &self.rpm)
            .field("tpm", &self.tpm)
            .field("parallel", &self.parallel)
            .finish_non_exhaustive()
    }
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

/// Tokens a request reserves against its tpm limits before its call, taken back for what it
/// used when it ends.
#[derive(Debug, Clone)]
pub struct Reserve {
    /// The request's id, which its record carries.
    pub request_id: String,
    /// The estimate.
    pub tokens: u64,
}

/// A reservation made: per counter, (counter, minute, made in Redis).
struct Reservation {
    counters: Vec<(String, u64, bool)>,
    tokens: u64,
}

/// The limiter: shared through Redis when configured, else local.
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Option<RedisSettings>,
    scripts: Scripts,
    budget: budget::Scripts,
    connection: Mutex<Option<ConnectionManager>>,
    warned: AtomicBool,
    /// Local windows: (counter key) → (minute, value).
    windows: Mutex<HashMap<String, (u64, u64)>>,
    /// Local requests in flight per scope.
    parallel: Mutex<HashMap<String, u64>>,
    /// Token reservations of requests running, by request id.
    reservations: Mutex<HashMap<String, Reservation>>,
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
pub struct InFlight {
    limiter: Limiter,
    /// Scopes counted here (released locally).
    local: Vec<String>,
    /// Sets in Redis holding `member`.
    shared: Vec<String>,
    /// This request's member in the sets.
    member: String,
    /// Renews the member's deadline while the request runs.
    renewer: Option<tokio::task::JoinHandle<()>>,
    /// The request whose tokens are reserved, until its record settles them.
    reserved: Option<String>,
    /// Held as long as the request's place (its budget reservation), dropped with it.
    held: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// How many places it holds, not where (the scopes' names hold key hashes).
impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("local", &self.local.len())
            .field("shared", &self.shared.len())
            .finish_non_exhaustive()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
        for id in std::mem::take(&mut self.local) {
            self.limiter.release_local(&id);
        }
        let sets = std::mem::take(&mut self.shared);
        self.limiter.remove(sets, std::mem::take(&mut self.member));
        // Ended without a record (none is made for it any more): nothing was used.
        if let Some(request_id) = self.reserved.take() {
            self.limiter.settle(&request_id, Vec::new(), 0);
        }
    }
}

impl InFlight {
    /// Keeps `guard` until this place is given back (a budget reservation lives as long).
    pub fn hold(&mut self, guard: impl std::any::Any + Send + Sync) {
        self.held = Some(Box::new(guard));
    }

    /// Keeps the Redis members' deadlines ahead while the request runs (a request may run
    /// longer than one lease).
    fn renew_while_held(&mut self) {
        if self.shared.is_empty() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let limiter = self.limiter.clone();
        let sets = self.shared.clone();
        let member = self.member.clone();
        self.renewer = Some(tokio::spawn(async move {
            let every = Duration::from_millis(PARALLEL_LEASE_MS / 3);
            loop {
                tokio::time::sleep(every).await;
                limiter.renew(&sets, &member).await;
            }
        }));
    }
}

impl Limiter {
    /// A limiter sharing its counts through `redis` when given.
    pub fn new(redis: Option<RedisSettings>) -> Limiter {
        let limiter = Limiter {
            inner: Arc::new(Inner {
                redis,
                scripts: Scripts::new(),
                budget: budget::Scripts::new(),
                connection: Mutex::new(None),
                warned: AtomicBool::new(false),
                windows: Mutex::new(HashMap::new()),
                parallel: Mutex::new(HashMap::new()),
                reservations: Mutex::new(HashMap::new()),
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
                    tracing::warn!(
                        "key rate limits and budgets: invalid Redis URL; they hold per replica"
                    );
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
                "key rate limits and budgets: Redis failed while {what}; counting in this replica \
                 until it answers"
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
        self.admit_reserving(scopes, None).await
    }

    /// [`Limiter::admit`], reserving `reserve`'s tokens against every tpm limit (atomically
    /// with the check), so that requests running at once count each other's tokens; the
    /// request's record corrects the reservation to what it used ([`Limiter::settle`]).
    pub async fn admit_reserving(
        &self,
        scopes: &[Scope],
        reserve: Option<Reserve>,
    ) -> Result<(InFlight, Remaining), Exceeded> {
        let mut remaining = Remaining::default();
        let mut flight = InFlight {
            limiter: self.clone(),
            local: Vec::new(),
            shared: Vec::new(),
            member: switchyard::ids::request_id(),
            renewer: None,
            reserved: None,
            held: None,
        };
        let tokens = reserve.as_ref().map_or(0, |r| r.tokens);
        let mut reservation = Reservation {
            counters: Vec::new(),
            tokens,
        };
        let exceeded = |kind, what, limit, retry_after_ms| Exceeded {
            kind,
            what,
            limit,
            retry_after_ms,
        };
        let (_, mut left_ms) = minute_now();
        for scope in scopes {
            if let Some(limit) = scope.tpm {
                let counter = format!("tpm:{}", scope.id);
                let (admitted, used, left, minute, shared) =
                    self.reserve(&counter, limit, tokens).await;
                left_ms = left;
                if !admitted {
                    self.undo(reservation);
                    return Err(exceeded(scope.kind, "tokens", limit, left));
                }
                reservation.counters.push((counter, minute, shared));
                tighter(&mut remaining.tokens, limit, limit - used);
            }
        }
        if let Some(reserve) = reserve.filter(|_| !reservation.counters.is_empty())
            && let Ok(mut reservations) = self.inner.reservations.lock()
        {
            reservations.insert(reserve.request_id.clone(), reservation);
            flight.reserved = Some(reserve.request_id);
        }
        for scope in scopes {
            if let Some(limit) = scope.rpm {
                let (count, left) = self.incr(&format!("rpm:{}", scope.id)).await;
                left_ms = left;
                if count > limit {
                    return Err(exceeded(scope.kind, "requests", limit, left));
                }
                tighter(&mut remaining.requests, limit, limit - count);
            }
        }
        for scope in scopes {
            if let Some(limit) = scope.parallel
                && !self.enter(&scope.id, limit, &mut flight).await
            {
                return Err(exceeded(scope.kind, "parallel_requests", limit, 1000));
            }
        }
        flight.renew_while_held();
        remaining.reset_secs = left_ms.div_ceil(1000);
        Ok((flight, remaining))
    }

    /// A finished request used `tokens`: its reservation (when it made one) is taken back and
    /// the tokens added to this minute of the counters it reserved on, else of `scope_ids`'.
    pub fn settle(&self, request_id: &str, scope_ids: Vec<String>, tokens: u64) {
        let reservation = self
            .inner
            .reservations
            .lock()
            .ok()
            .and_then(|mut r| r.remove(request_id));
        match reservation {
            Some(reservation) => self.correct(reservation, tokens),
            None => self.add_tokens(scope_ids, tokens),
        }
    }

    /// Gives back a reservation of a request refused by a later scope.
    fn undo(&self, reservation: Reservation) {
        if !reservation.counters.is_empty() {
            self.correct(reservation, 0);
        }
    }

    /// Replaces a reservation with the tokens used.
    fn correct(&self, reservation: Reservation, used: u64) {
        let (minute, _) = minute_now();
        let mut shared = Vec::new();
        for (counter, at, in_redis) in reservation.counters {
            if in_redis {
                shared.push((counter, at));
            } else {
                self.local_sub(&counter, at, reservation.tokens);
                self.local_add(&counter, minute, used);
            }
        }
        if shared.is_empty() {
            return;
        }
        let connection = self.connection();
        let (Some(mut connection), Ok(_)) = (connection, tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let limiter = self.clone();
        let reserved = reservation.tokens;
        tokio::spawn(async move {
            let mut call = limiter.inner.scripts.settle.prepare_invoke();
            for (counter, _) in &shared {
                call.key(limiter.key(counter));
            }
            call.arg(reserved).arg(used).arg(WINDOW_TTL_MS);
            for (_, at) in &shared {
                call.arg(*at);
            }
            let settled = call.invoke_async::<u64>(&mut connection);
            if !matches!(
                tokio::time::timeout(Duration::from_secs(1), settled).await,
                Ok(Ok(_))
            ) {
                limiter.trouble("settling tokens");
            }
        });
    }

    /// Checks a tpm limit and reserves `tokens` on it: (admitted, used before, ms left,
    /// minute, in Redis).
    async fn reserve(&self, counter: &str, limit: u64, tokens: u64) -> (bool, u64, u64, u64, bool) {
        if let Some(mut connection) = self.connection() {
            let mut call = self.inner.scripts.reserve.key(self.key(counter));
            call.arg(limit).arg(tokens).arg(WINDOW_TTL_MS);
            let answer = call.invoke_async::<(u8, u64, u64, u64)>(&mut connection);
            match tokio::time::timeout(DEADLINE, answer).await {
                Ok(Ok((admitted, used, left, minute))) => {
                    return (admitted == 1, used, left, minute, true);
                }
                _ => self.trouble("reserving tokens"),
            }
        }
        let (minute, left) = minute_now();
        let used = self.local_get(counter, minute);
        if used >= limit {
            return (false, used, left, minute, false);
        }
        self.local_add(counter, minute, tokens);
        (true, used, left, minute, false)
    }

    /// Adds a finished request's tokens to its scopes' current minute.
    pub fn add_tokens(&self, scope_ids: Vec<String>, tokens: u64) {
        if tokens == 0 || scope_ids.is_empty() {
            return;
        }
        let keys: Vec<String> = scope_ids.iter().map(|id| format!("tpm:{id}")).collect();
        if let Some(mut connection) = self.connection()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let limiter = self.clone();
            tokio::spawn(async move {
                let mut call = limiter.inner.scripts.add.prepare_invoke();
                for key in &keys {
                    call.key(limiter.key(key));
                }
                call.arg(tokens).arg(WINDOW_TTL_MS);
                let added = call.invoke_async::<u64>(&mut connection);
                if !matches!(
                    tokio::time::timeout(Duration::from_secs(1), added).await,
                    Ok(Ok(_))
                ) {
                    limiter.trouble("adding tokens");
                    let (minute, _) = minute_now();
                    for key in keys {
                        limiter.local_add(&key, minute, tokens);
                    }
                }
            });
            return;
        }
        let (minute, _) = minute_now();
        for key in keys {
            self.local_add(&key, minute, tokens);
        }
    }

    /// One more request this minute for the counter `key`: (count now, ms left).
    async fn incr(&self, key: &str) -> (u64, u64) {
        if let Some(counted) = self.window(&self.inner.scripts.count, key).await {
            return counted;
        }
        let (minute, left) = minute_now();
        (self.local_add(key, minute, 1), left)
    }

    /// Runs a minute-window script on the counter `key` in Redis, if it answers in time.
    async fn window(&self, script: &redis::Script, key: &str) -> Option<(u64, u64)> {
        let mut connection = self.connection()?;
        let mut call = script.key(self.key(key));
        call.arg(WINDOW_TTL_MS);
        match tokio::time::timeout(DEADLINE, call.invoke_async::<(u64, u64)>(&mut connection)).await
        {
            Ok(Ok(answer)) => Some(answer),
            _ => {
                self.trouble("counting a request");
                None
            }
        }
    }

    /// One more request in flight for `id`, when fewer than `limit` are: true when admitted
    /// (and then recorded in `flight`).
    async fn enter(&self, id: &str, limit: u64, flight: &mut InFlight) -> bool {
        if let Some(mut connection) = self.connection() {
            let set = self.key(&format!("parallel:{id}"));
            let mut call = self.inner.scripts.enter.key(&set);
            call.arg(limit).arg(&flight.member).arg(PARALLEL_LEASE_MS);
            match tokio::time::timeout(DEADLINE, call.invoke_async::<(u8, u64)>(&mut connection))
                .await
            {
                Ok(Ok((admitted, _))) => {
                    if admitted == 1 {
                        flight.shared.push(set);
                    }
                    return admitted == 1;
                }
                _ => {
                    self.trouble("counting requests in flight");
                    // The script may still run after the wait ended: take the member out
                    // again (commands on one connection run in order), counting here instead.
                    self.remove(vec![set], flight.member.clone());
                }
            }
        }
        let Ok(mut parallel) = self.inner.parallel.lock() else {
            return true;
        };
        let count = parallel.entry(id.to_string()).or_insert(0);
        if *count >= limit {
            return false;
        }
        *count += 1;
        flight.local.push(id.to_string());
        true
    }

    async fn renew(&self, sets: &[String], member: &str) {
        let Some(mut connection) = self.connection() else {
            return;
        };
        let mut call = self.inner.scripts.renew.prepare_invoke();
        for set in sets {
            call.key(set);
        }
        call.arg(member).arg(PARALLEL_LEASE_MS);
        let renewed = call.invoke_async::<u8>(&mut connection);
        if !matches!(
            tokio::time::timeout(Duration::from_secs(1), renewed).await,
            Ok(Ok(_))
        ) {
            self.trouble("renewing requests in flight");
        }
    }

    /// Takes `member` out of the Redis sets `sets` (in the background; should it fail, the
    /// member lapses at its deadline).
    fn remove(&self, sets: Vec<String>, member: String) {
        if sets.is_empty() {
            return;
        }
        let (Some(mut connection), Ok(_)) =
            (self.connection(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        tokio::spawn(async move {
            let mut pipe = redis::pipe();
            for set in &sets {
                pipe.cmd("ZREM").arg(set).arg(&member).ignore();
            }
            let call = pipe.query_async::<()>(&mut connection);
            let _ = tokio::time::timeout(Duration::from_secs(1), call).await;
        });
    }

    fn release_local(&self, id: &str) {
        if let Ok(mut parallel) = self.inner.parallel.lock()
            && let Some(count) = parallel.get_mut(id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                parallel.remove(id);
            }
        }
    }

    fn local_sub(&self, key: &str, minute: u64, n: u64) {
        if let Ok(mut windows) = self.inner.windows.lock()
            && let Some(entry) = windows.get_mut(key)
            && entry.0 == minute
        {
            entry.1 = entry.1.saturating_sub(n);
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
