//! Virtual keys and teams: the key store (the database's tables behind a per-replica cache),
//! the checks made before a request reaches a provider, and key/team spend.
//!
//! **Cache and changes.** Every replica holds every key and team in memory (a key is looked
//! up by the SHA-256 of what the client sent; a key this replica has never seen is read from
//! the database once). Every change (generate, update, block, delete, regenerate, and the
//! same for teams) bumps a counter row (`auth_version`) in its transaction; each replica
//! polls that counter every [`POLL_EVERY`] and reloads keys and teams when it moved, so a
//! change made anywhere takes effect everywhere within that interval (plus one reload). The
//! replica that made the change applies it at once. A key a replica does not know yet is
//! looked up once (at most [`MISSES_PER_SECOND`] such lookups a second, so made-up keys
//! cannot flood the database). The database is the only channel: no
//! Redis is needed for this, and a replica that misses a poll catches up on the next.
//!
//! **Spend.** A finished request's cost is added, in memory, to its key and team the moment
//! its record is made (before a non-streamed answer or a stream's terminal event leaves), so
//! budgets hold on the next request here; the spend-log writer adds it to the rows in the
//! same transaction as the spend-log row. Other replicas' spend is read back every
//! [`SPEND_EVERY`].
//!
//! **Budgets.** Before the provider is called a request reserves its estimated cost against
//! its key's and team's `max_budget` (its estimated input tokens and `max_output_tokens`, else
//! the same default as the tpm estimate, at the price of the dearest deployment it may be sent
//! to; an unpriced model reserves 0). It is refused when spend + the reservations of requests
//! running + its estimate would pass the budget, so requests started together cannot pass it
//! between them. Its record replaces the reservation with its cost, in one step; a request that
//! ends without a record gives the reservation back when its place in flight is dropped.
//!
//! *With Redis* (`router_settings.redis_*`), the check and the reservation are one Lua script
//! over every replica's figures (see [`limits`]'s `budget` module): per budget and budget
//! period, the period's spend and the reservations of requests running anywhere, each
//! reservation under a lease its request renews (one left by a replica that died lapses within
//! a minute). The record's script takes the reservation out and adds the cost, sent before a
//! non-streamed answer or a stream's terminal event leaves, so the next request on any replica
//! sees it (tested: exactly N of many concurrent requests split over two replicas admitted;
//! the other replica refusing at once). Redis's spend is seeded with, and never kept below,
//! the figure the checking replica knows (the database's plus its own unwritten costs), so a
//! lost or evicted Redis figure heals. *Without Redis*, or when Redis does not answer within
//! the limiter's 50 ms, the replica checks alone: its own reservations and the spend it knows,
//! other replicas' spend read back every [`SPEND_EVERY`] after their batch is written. N
//! replicas may then each admit up to the budget left as they last read it, so together they
//! can pass it by what runs at once elsewhere.
//!
//! Either way, a request whose actual cost exceeds its estimate (an answer longer than the
//! default output estimate, input heavier than estimated, a configured fallback to a dearer
//! model) can still take spend past the budget; the next request is refused. With
//! `budget_duration`, spend starts again from zero at `budget_reset_at`: the first request
//! after that moves the database's period on (a conditional update, so exactly once across
//! replicas) before it is admitted; Redis's figures are named by the period, so the new one
//! starts from the database's.

pub mod limits;
pub mod model;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;
use switchyard::accounting::{KeyOwner, RequestLog};
use switchyard::router::settings::RedisSettings;
use switchyard::{Error, ErrorKind};
use switchyard_store::Database;
use tokio::task::JoinHandle;

use crate::error::Refusal;
pub use crate::identity::hash_key;
use crate::spend::StoreError;
use crate::spend::store::now_ms;
use limits::{BudgetScope, Checked, SharedHold};
pub use limits::{Exceeded, InFlight, Limiter, Remaining, Reserve, Scope};
pub use model::{Team, VirtualKey};
use store::AuthStore;

/// How often each replica looks for key and team changes.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How often each replica reads the other replicas' key and team spend.
pub const SPEND_EVERY: Duration = Duration::from_millis(500);
/// Spend rows changed this long ago are read again (replicas' clocks may differ this much).
const SPEND_LOOKBACK_MS: i64 = 10_000;

/// One key or team's spend, as this replica knows it.
#[derive(Debug, Clone, Copy, Default)]
struct Spend {
    /// As the database held it at the last read.
    stored: f64,
    /// Recorded here and not yet written.
    unwritten: f64,
    /// Estimated costs of requests running here (reserved, not yet recorded).
    reserved: f64,
    /// How many requests `reserved` is for.
    holding: u32,
    /// When the current budget period ends (Unix ms).
    reset_at: Option<i64>,
}

impl Spend {
    fn current(&self, now: i64) -> f64 {
        // A period that has ended counts from zero until the database is moved on.
        if self.reset_at.is_some_and(|at| at <= now) {
            return 0.0;
        }
        self.stored + self.unwritten
    }
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<VirtualKey>>,
    teams: HashMap<String, Arc<Team>>,
    /// `auth_version` at the last load.
    version: i64,
    /// Counts this replica's own writes to the cache, so that a reload whose read of the
    /// database raced one of them is read again instead of hiding it.
    local_writes: u64,
}

/// A caller that presented a valid virtual key: the key and its team, as of the check.
#[derive(Clone)]
pub struct KeyAuth {
    /// The key.
    pub key: Arc<VirtualKey>,
    /// Its team, when it has one (a key whose team no longer exists is refused).
    pub team: Option<Arc<Team>>,
}

/// The key without its hash (see [`VirtualKey`]'s Debug).
impl std::fmt::Debug for KeyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAuth")
            .field("key", &self.key)
            .field("team", &self.team.as_ref().map(|t| &t.team_id))
            .finish()
    }
}

impl KeyAuth {
    /// The key's alias, team and owner for the accounting record.
    pub fn owner(&self) -> KeyOwner {
        KeyOwner {
            api_key_alias: self.key.key_alias.clone(),
            team_id: self.key.team_id.clone(),
            team_alias: self.team.as_ref().and_then(|t| t.team_alias.clone()),
            user_id: self.key.user_id.clone(),
        }
    }
}

/// Keys and teams, cached; their spend; their rate limits.
pub struct KeyStore {
    store: AuthStore,
    cache: RwLock<Cache>,
    /// `k:{hash}` / `t:{team}` → spend.
    spend: Arc<Mutex<HashMap<String, Spend>>>,
    /// Budget reservations of requests running, by request id.
    holds: Arc<Mutex<HashMap<String, Hold>>>,
    /// Held while spend is committed and settled, and while it is read back (as for end
    /// users), so a read never misses a settled batch.
    pub(crate) sync: tokio::sync::Mutex<()>,
    limiter: Limiter,
    refresher: Mutex<Option<JoinHandle<()>>>,
    misses: MissBudget,
}

/// Unknown keys looked up in the database: at most [`MISSES_PER_SECOND`] a second.
#[derive(Debug, Default)]
struct MissBudget {
    /// (second, lookups in it).
    window: Mutex<(i64, u32)>,
}

/// Database lookups of keys this replica does not know, per second at most.
const MISSES_PER_SECOND: u32 = 200;

impl MissBudget {
    fn admit(&self) -> bool {
        let second = now_ms() / 1000;
        let Ok(mut window) = self.window.lock() else {
            return false;
        };
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 += 1;
        window.1 <= MISSES_PER_SECOND
    }
}

/// How many keys and teams, not which: the cache and the spend are keyed by hashes.
impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (keys, teams) = self.counts();
        f.debug_struct("KeyStore")
            .field("keys", &keys)
            .field("teams", &teams)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

fn key_id(token: &str) -> String {
    format!("k:{token}")
}

fn team_id(team: &str) -> String {
    format!("t:{team}")
}

/// An authentication failure: 401, a message naming what is wrong, never the key.
fn unauthorized(message: impl Into<String>, code: &str) -> Refusal {
    Refusal {
        error: Error::new(ErrorKind::Authentication, message).with_code(code),
        error_type: None,
        headers: None,
    }
}

fn forbidden(message: impl Into<String>, code: &str) -> Refusal {
    Refusal {
        error: Error::new(ErrorKind::PermissionDenied, message).with_code(code),
        error_type: None,
        headers: None,
    }
}

impl KeyStore {
    /// Loads every key and team from `database` and starts following changes; rate limits
    /// are shared through `redis` when given.
    pub async fn start(
        database: &Database,
        redis: Option<RedisSettings>,
    ) -> Result<Arc<KeyStore>, StoreError> {
        let keys = Arc::new(KeyStore {
            store: AuthStore::on(database),
            cache: RwLock::new(Cache::default()),
            spend: Arc::new(Mutex::new(HashMap::new())),
            holds: Arc::new(Mutex::new(HashMap::new())),
            sync: tokio::sync::Mutex::new(()),
            limiter: Limiter::new(redis),
            refresher: Mutex::new(None),
            misses: MissBudget::default(),
        });
        keys.reload().await?;
        let weak = Arc::downgrade(&keys);
        let task = tokio::spawn(async move { follow(weak).await });
        if let Ok(mut slot) = keys.refresher.lock() {
            *slot = Some(task);
        }
        Ok(keys)
    }

    /// Stops following changes.
    pub fn stop(&self) {
        if let Some(task) = self.refresher.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }

    /// The database tables.
    pub fn store(&self) -> &AuthStore {
        &self.store
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Keys and teams in the cache.
    pub fn counts(&self) -> (usize, usize) {
        self.cache
            .read()
            .map(|c| (c.keys.len(), c.teams.len()))
            .unwrap_or_default()
    }

    /// Reads every key and team again.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _sync = self.sync.lock().await;
        // A key or team written here while the database is read may be missing from what was
        // read: then read again (writes are rare; after a few tries the next poll catches up).
        for attempt in 0..4 {
            let before = self.cache.read().map(|c| c.local_writes).unwrap_or(0);
            let mut cache = self.load_cache().await?;
            if let Ok(mut slot) = self.cache.write()
                && (slot.local_writes == before || attempt == 3)
            {
                cache.local_writes = slot.local_writes;
                if slot.local_writes != before {
                    cache.version = -1;
                }
                *slot = cache;
                break;
            }
        }
        Ok(())
    }

    /// Every key and team as the database holds them now, with their spend taken in.
    async fn load_cache(&self) -> Result<Cache, StoreError> {
        let (version, keys, teams) = self.store.load().await?;
        let mut spend = self.spend.lock().unwrap_or_else(|e| e.into_inner());
        let mut cache = Cache {
            version,
            ..Cache::default()
        };
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            let id = key_id(&key.token);
            let entry = spend.entry(id.clone()).or_default();
            entry.stored = key.spend;
            entry.reset_at = key.budget_reset_at;
            seen.insert(id);
            cache.keys.insert(key.token.clone(), Arc::new(key));
        }
        for team in teams {
            let id = team_id(&team.team_id);
            let entry = spend.entry(id.clone()).or_default();
            entry.stored = team.spend;
            entry.reset_at = team.budget_reset_at;
            seen.insert(id);
            cache.teams.insert(team.team_id.clone(), Arc::new(team));
        }
        spend.retain(|id, s| seen.contains(id) || s.unwritten != 0.0 || s.holding > 0);
        Ok(cache)
    }

    /// Puts a key this replica just wrote into the cache (the others reload it).
    pub fn cache_key(&self, key: VirtualKey, replaced: Option<&str>) {
        let mut spend = self.spend.lock().unwrap_or_else(|e| e.into_inner());
        let carried = replaced
            .and_then(|old| spend.remove(&key_id(old)))
            // Reservations stay with the old hash, which their requests release.
            .map(|s| Spend {
                reserved: 0.0,
                holding: 0,
                ..s
            })
            .unwrap_or(Spend {
                stored: key.spend,
                ..Spend::default()
            });
        let entry = spend.entry(key_id(&key.token)).or_insert(carried);
        entry.reset_at = key.budget_reset_at;
        drop(spend);
        if let Ok(mut cache) = self.cache.write() {
            cache.local_writes += 1;
            if let Some(old) = replaced {
                cache.keys.remove(old);
            }
            cache.keys.insert(key.token.clone(), Arc::new(key));
        }
    }

    /// Takes keys out of the cache.
    pub fn uncache_keys(&self, tokens: &[String]) {
        if let Ok(mut cache) = self.cache.write() {
            cache.local_writes += 1;
            for token in tokens {
                cache.keys.remove(token);
            }
        }
    }

    /// Puts a team this replica just wrote into the cache.
    pub fn cache_team(&self, team: Team) {
        if let Ok(mut spend) = self.spend.lock() {
            let entry = spend.entry(team_id(&team.team_id)).or_insert(Spend {
                stored: team.spend,
                ..Spend::default()
            });
            entry.reset_at = team.budget_reset_at;
        }
        if let Ok(mut cache) = self.cache.write() {
            cache.local_writes += 1;
            cache.teams.insert(team.team_id.clone(), Arc::new(team));
        }
    }

    /// Takes teams (and their keys) out of the cache.
    pub fn uncache_teams(&self, ids: &[String]) {
        if let Ok(mut cache) = self.cache.write() {
            cache.local_writes += 1;
            for id in ids {
                cache.teams.remove(id);
            }
            cache
                .keys
                .retain(|_, k| k.team_id.as_ref().is_none_or(|t| !ids.contains(t)));
        }
    }

    /// The key with this hash, from the cache.
    pub fn key(&self, token: &str) -> Option<Arc<VirtualKey>> {
        self.cache.read().ok()?.keys.get(token).cloned()
    }

    /// The team with this id, from the cache.
    pub fn team(&self, id: &str) -> Option<Arc<Team>> {
        self.cache.read().ok()?.teams.get(id).cloned()
    }

    /// Every cached key.
    pub fn keys(&self) -> Vec<Arc<VirtualKey>> {
        let mut keys: Vec<Arc<VirtualKey>> = self
            .cache
            .read()
            .map(|c| c.keys.values().cloned().collect())
            .unwrap_or_default();
        keys.sort_by(|a, b| {
            (a.created_at, a.token.as_str()).cmp(&(b.created_at, b.token.as_str()))
        });
        keys
    }

    /// Every cached team.
    pub fn teams(&self) -> Vec<Arc<Team>> {
        let mut teams: Vec<Arc<Team>> = self
            .cache
            .read()
            .map(|c| c.teams.values().cloned().collect())
            .unwrap_or_default();
        teams.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        teams
    }

    /// A key's spend now (this replica's view: the database's plus what is not written yet).
    pub fn key_spend(&self, token: &str) -> f64 {
        self.spend_of(&key_id(token))
    }

    /// A team's spend now.
    pub fn team_spend(&self, id: &str) -> f64 {
        self.spend_of(&team_id(id))
    }

    /// A key's or team's spend now for `/key/info` and `/team/info`. Under a budget held in
    /// Redis, the larger of Redis's figure (every replica's costs, as they are recorded) and
    /// this replica's (the database's plus its own unwritten costs); else this replica's.
    pub async fn spend_now(&self, team: bool, id: &str, budgeted: bool) -> f64 {
        let spend_id = if team { team_id(id) } else { key_id(id) };
        let local = self.spend_of(&spend_id);
        let period = self.reset_at(team, id);
        // A period that has ended counts from zero until a request moves it on.
        if !budgeted || !self.limiter.connected() || period.is_some_and(|at| at <= now_ms()) {
            return local;
        }
        match self.limiter.budget_spend(&spend_id, period).await {
            Some(shared) => shared.max(local),
            None => local,
        }
    }

    /// When a key's or team's budget period ends, as this replica knows it now (the cached
    /// row may predate a roll-over).
    pub fn reset_at(&self, team: bool, id: &str) -> Option<i64> {
        let id = if team { team_id(id) } else { key_id(id) };
        self.spend.lock().ok()?.get(&id)?.reset_at
    }

    /// What the requests running on this key reserve against its budget.
    pub fn key_reserved(&self, token: &str) -> f64 {
        self.reserved_of(&key_id(token))
    }

    /// What the requests running for this team reserve against its budget.
    pub fn team_reserved(&self, id: &str) -> f64 {
        self.reserved_of(&team_id(id))
    }

    fn reserved_of(&self, id: &str) -> f64 {
        self.spend
            .lock()
            .ok()
            .and_then(|s| s.get(id).map(|s| s.reserved))
            .unwrap_or(0.0)
    }

    fn spend_of(&self, id: &str) -> f64 {
        let now = now_ms();
        self.spend
            .lock()
            .ok()
            .and_then(|s| s.get(id).map(|s| s.current(now)))
            .unwrap_or(0.0)
    }

    /// The key `presented` names, checked: known, not expired, not blocked, its team not
    /// blocked. The lookup is by SHA-256 of the key; the hash found is compared again in
    /// constant time.
    pub async fn authenticate(&self, presented: &str) -> Result<KeyAuth, Refusal> {
        self.authorize(&hash_key(presented)).await
    }

    /// [`KeyStore::authenticate`] for a key known by its hash: a WebSocket checks its key
    /// again before each response, so a key revoked while the socket is open stops there.
    pub async fn authorize(&self, token: &str) -> Result<KeyAuth, Refusal> {
        let token = token.to_string();
        let key = match self.key(&token) {
            Some(key) => Some(key),
            // Unknown here: a flood of made-up keys must not become a flood of queries; the
            // poll finds new keys within its interval anyway.
            None if !self.misses.admit() => None,
            // Made on another replica since the last poll: read it once.
            None => match self.store.key(&token).await {
                Ok(Some(key)) => {
                    self.cache_key(key, None);
                    self.key(&token)
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::error!("virtual keys: cannot read a key: {e}");
                    return Err(Refusal::from(
                        Error::new(ErrorKind::Internal, "The key store could not answer.")
                            .with_code("key_store_unavailable"),
                    ));
                }
            },
        };
        let Some(key) = key.filter(|k| bool::from(k.token.as_bytes().ct_eq(token.as_bytes())))
        else {
            return Err(unauthorized(
                "Authentication Error: invalid API key (neither the master key nor a virtual key \
                 of this gateway).",
                "invalid_api_key",
            ));
        };
        let now = now_ms();
        if let Some(expires) = key.expires
            && expires <= now
        {
            return Err(unauthorized(
                format!(
                    "Authentication Error: the key expired at {}.",
                    crate::spend::store::rfc3339(expires)
                ),
                "expired_key",
            ));
        }
        if key.blocked {
            return Err(unauthorized(
                "Authentication Error: this key is blocked. An administrator can unblock it \
                 with /key/unblock.",
                "key_blocked",
            ));
        }
        let team = match key.team_id.as_deref() {
            None => None,
            Some(id) => match self.team(id) {
                Some(team) => Some(team),
                // Made on another replica since the last poll.
                None => match self.store.team(id).await {
                    Ok(Some(team)) => {
                        self.cache_team(team);
                        self.team(id)
                    }
                    Ok(None) => {
                        // Deleted (its keys go with it, so only by hand or mid-change):
                        // the key's team limits and models cannot be applied.
                        return Err(unauthorized(
                            format!(
                                "Authentication Error: this key's team {} no longer exists. An \
                                 administrator can move the key to a team with /key/update.",
                                switchyard::text::echo(id)
                            ),
                            "team_not_found",
                        ));
                    }
                    Err(e) => {
                        tracing::error!("virtual keys: cannot read a team: {e}");
                        return Err(Refusal::from(
                            Error::new(ErrorKind::Internal, "The key store could not answer.")
                                .with_code("key_store_unavailable"),
                        ));
                    }
                },
            },
        };
        if let Some(team) = &team
            && team.blocked
        {
            return Err(unauthorized(
                format!(
                    "Authentication Error: team {} is blocked. An administrator can unblock it \
                     with /team/unblock.",
                    team.team_id
                ),
                "team_blocked",
            ));
        }
        Ok(KeyAuth { key, team })
    }

    /// Refuses a model the key (or its team) may not use. `resolved` is the group an alias
    /// names, which the key may list instead of the alias.
    pub fn check_model(
        &self,
        auth: &KeyAuth,
        model: &str,
        resolved: Option<&str>,
    ) -> Result<(), Refusal> {
        let team_models = auth.team.as_ref().map(|t| t.models.as_slice());
        let allowed = |list: &[String], team_models: Option<&[String]>| -> bool {
            list.is_empty()
                || list.iter().any(|entry| {
                    if entry == "all-team-models" {
                        // Without a team there are no team models: nothing is admitted.
                        return team_models.is_some_and(|t| {
                            t.is_empty() || t.iter().any(|e| matches_model(e, model, resolved))
                        });
                    }
                    matches_model(entry, model, resolved)
                })
        };
        if !allowed(&auth.key.models, team_models) {
            return Err(unauthorized(
                format!(
                    "This key may not call model={}. It may call: {}.",
                    switchyard::text::echo(model),
                    auth.key.models.join(", ")
                ),
                "key_model_access_denied",
            ));
        }
        if let Some(team) = &auth.team
            && !allowed(&team.models, None)
        {
            return Err(unauthorized(
                format!(
                    "Team {} may not call model={}. It may call: {}.",
                    team.team_id,
                    switchyard::text::echo(model),
                    team.models.join(", ")
                ),
                "team_model_access_denied",
            ));
        }
        Ok(())
    }

    /// True when the key may see `model` in `/v1/models`.
    pub fn may_list(&self, auth: &KeyAuth, model: &str) -> bool {
        self.check_model(auth, model, None).is_ok()
    }

    /// Refuses a request whose key or team has spent its budget, or would with `reserve`'s
    /// estimate on top of what the requests running reserve (LiteLLM's 400 `budget_exceeded`).
    /// Admitted, the estimate is reserved on both budgets until the request's record (or the
    /// returned hold, dropped) gives it back.
    pub async fn check_budget(
        &self,
        auth: &KeyAuth,
        reserve: Option<BudgetReserve>,
    ) -> Result<Option<BudgetHold>, Refusal> {
        if auth.key.budget_duration.is_some() {
            self.roll_over(false, &auth.key.token, auth.key.budget_duration.as_deref())
                .await;
        }
        if let Some(team) = &auth.team
            && team.budget_duration.is_some()
        {
            self.roll_over(true, &team.team_id, team.budget_duration.as_deref())
                .await;
        }
        let estimate = reserve.as_ref().map_or(0.0, |r| r.cost).max(0.0);
        let mut budgets = Vec::with_capacity(2);
        if let Some(budget) = auth.key.max_budget {
            budgets.push((key_id(&auth.key.token), budget, None));
        }
        if let Some(team) = &auth.team
            && let Some(budget) = team.max_budget
        {
            budgets.push((team_id(&team.team_id), budget, Some(team)));
        }
        if budgets.is_empty() {
            return Ok(None);
        }
        // LiteLLM's 400, naming the budget (key or team), never the key.
        // The period end its row (the team's or the key's) gives.
        let row_reset = |team: Option<&Arc<Team>>| match team {
            Some(team) => team.budget_reset_at,
            None => auth.key.budget_reset_at,
        };
        let refuse = |team: Option<&Arc<Team>>, current: f64, running: f64, budget: f64| {
            let whose = match team {
                Some(team) => format!("Team={} budget", team.team_id),
                None => "Key budget".to_string(),
            };
            let reset = row_reset(team);
            let pending = if current >= budget {
                String::new()
            } else {
                format!(
                    ", reserved by requests running: {running}, this request's estimate: \
                     {estimate}"
                )
            };
            Refusal {
                error: Error::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "Budget has been exceeded! {whose}: current cost: {current}{pending}, \
                         max budget: {budget}{}",
                        reset_note(reset)
                    ),
                )
                .with_code("budget_exceeded"),
                error_type: Some("budget_exceeded"),
                headers: None,
            }
        };
        let now = now_ms();
        let request_id = reserve.as_ref().map_or("", |r| r.request_id.as_str());
        // With Redis, every replica's spend and reservations are checked in one script; when
        // Redis does not answer in time, this replica checks alone (below).
        if self.limiter.connected() {
            let scopes: Vec<BudgetScope> = {
                let spend = self.spend.lock().unwrap_or_else(|e| e.into_inner());
                budgets
                    .iter()
                    .map(|(id, budget, team)| {
                        let entry = spend.get(id).copied().unwrap_or_default();
                        BudgetScope {
                            id: id.clone(),
                            period: entry.reset_at.or(row_reset(*team)),
                            budget: *budget,
                            known: entry.current(now),
                        }
                    })
                    .collect()
            };
            match self
                .limiter
                .reserve_budget(&scopes, request_id, estimate)
                .await
            {
                Some(Checked::Refused { index, spend, held }) => {
                    let (_, budget, team) = &budgets[index.min(budgets.len() - 1)];
                    return Err(refuse(*team, spend, held, *budget));
                }
                Some(Checked::Admitted(shared)) => {
                    let (Some(reserve), Some(shared)) = (reserve, shared) else {
                        return Ok(None);
                    };
                    return Ok(Some(self.hold(
                        reserve.request_id,
                        Vec::new(),
                        0.0,
                        Some(shared),
                    )));
                }
                None => {}
            }
        }
        let ids: Vec<String> = {
            // Checked and reserved under one lock, never held across an await: two requests
            // cannot both see the room only one of them fits in.
            let mut spend = self.spend.lock().unwrap_or_else(|e| e.into_inner());
            for (id, budget, team) in &budgets {
                let entry = spend.get(id).copied().unwrap_or_default();
                let current = entry.current(now);
                let running = entry.reserved.max(0.0);
                if current >= *budget || current + running + estimate > *budget {
                    return Err(refuse(*team, current, running, *budget));
                }
            }
            if estimate <= 0.0 {
                return Ok(None);
            }
            budgets
                .into_iter()
                .map(|(id, _, _)| {
                    let entry = spend.entry(id.clone()).or_default();
                    entry.reserved += estimate;
                    entry.holding += 1;
                    id
                })
                .collect()
        };
        let Some(reserve) = reserve else {
            return Ok(None);
        };
        Ok(Some(self.hold(reserve.request_id, ids, estimate, None)))
    }

    /// Files a reservation made (here on `ids`, or in Redis) under its request's id.
    fn hold(
        &self,
        request_id: String,
        ids: Vec<String>,
        amount: f64,
        shared: Option<SharedHold>,
    ) -> BudgetHold {
        if let Ok(mut holds) = self.holds.lock() {
            holds.insert(
                request_id.clone(),
                Hold {
                    ids,
                    amount,
                    shared,
                },
            );
        }
        BudgetHold {
            spend: self.spend.clone(),
            holds: self.holds.clone(),
            limiter: self.limiter.clone(),
            request_id,
        }
    }

    /// Starts a key's or team's next budget period once its current one has ended: before
    /// the request that finds it over is admitted, so no spend of the new period is written
    /// before the reset. One replica moves the database on (a conditional update); every
    /// replica then takes the database's figures.
    async fn roll_over(&self, team: bool, id: &str, duration: Option<&str>) {
        let spend_id = if team { team_id(id) } else { key_id(id) };
        let now = now_ms();
        let due = self
            .spend
            .lock()
            .ok()
            .and_then(|s| s.get(&spend_id).and_then(|s| s.reset_at))
            .filter(|at| *at <= now);
        let (Some(due), Some(span)) = (due, span_of(duration)) else {
            return;
        };
        // The next period starts at the end of this one (whole periods missed are skipped).
        let mut next = span.after(due);
        while next <= now {
            next = span.after(next);
        }
        let _sync = self.sync.lock().await;
        let result = match self.store.reset_budget(team, id, due, next).await {
            Ok(_) => self.store.spend_row(team, id).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(Some(row)) => {
                if let Ok(mut spend) = self.spend.lock() {
                    let entry = spend.entry(spend_id).or_default();
                    entry.stored = row.spend;
                    entry.reset_at = row.budget_reset_at;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("virtual keys: cannot start a new budget period: {e}"),
        }
    }

    /// The rate-limit scopes of a key and its team.
    pub fn scopes(auth: &KeyAuth) -> Vec<Scope> {
        let limit = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
        let mut scopes = Vec::with_capacity(2);
        let key = &auth.key;
        if key.rpm_limit.is_some() || key.tpm_limit.is_some() || key.max_parallel_requests.is_some()
        {
            scopes.push(Scope {
                id: format!("key:{}", key.token),
                kind: "key",
                rpm: limit(key.rpm_limit),
                tpm: limit(key.tpm_limit),
                parallel: limit(key.max_parallel_requests),
            });
        }
        if let Some(team) = &auth.team
            && (team.rpm_limit.is_some()
                || team.tpm_limit.is_some()
                || team.max_parallel_requests.is_some())
        {
            scopes.push(Scope {
                id: format!("team:{}", team.team_id),
                kind: "team",
                rpm: limit(team.rpm_limit),
                tpm: limit(team.tpm_limit),
                parallel: limit(team.max_parallel_requests),
            });
        }
        scopes
    }

    /// Admits a request under the key's and team's rate limits.
    pub async fn admit(&self, auth: &KeyAuth) -> Result<(InFlight, Remaining), Refusal> {
        self.admit_reserving(auth, None).await
    }

    /// [`KeyStore::admit`], reserving `reserve`'s tokens on the tpm limits until the request's
    /// record says what it used.
    pub async fn admit_reserving(
        &self,
        auth: &KeyAuth,
        reserve: Option<limits::Reserve>,
    ) -> Result<(InFlight, Remaining), Refusal> {
        let scopes = KeyStore::scopes(auth);
        self.limiter
            .admit_reserving(&scopes, reserve)
            .await
            .map_err(|e| {
                let what = match e.what {
                    "requests" => "requests per minute (rpm_limit)",
                    "tokens" => "tokens per minute (tpm_limit)",
                    _ => "requests in flight (max_parallel_requests)",
                };
                let mut error = Error::new(
                    ErrorKind::RateLimited,
                    format!(
                        "Rate limit exceeded for this {}: {what} is {}. Retry after {} s.",
                        e.kind,
                        e.limit,
                        e.retry_after_ms.div_ceil(1000)
                    ),
                )
                .with_code("rate_limit_exceeded");
                error.retry_after = Some(Duration::from_millis(e.retry_after_ms));
                // LiteLLM's headers for the limit that was hit (nothing is left of it).
                let reset = format!("{}s", e.retry_after_ms.div_ceil(1000));
                let headers = match e.what {
                    "requests" => Some(Box::new([
                        ("x-ratelimit-limit-requests", e.limit.to_string()),
                        ("x-ratelimit-remaining-requests", "0".to_string()),
                        ("x-ratelimit-reset-requests", reset),
                    ])),
                    "tokens" => Some(Box::new([
                        ("x-ratelimit-limit-tokens", e.limit.to_string()),
                        ("x-ratelimit-remaining-tokens", "0".to_string()),
                        ("x-ratelimit-reset-tokens", reset),
                    ])),
                    _ => None,
                };
                Refusal {
                    error,
                    error_type: None,
                    headers,
                }
            })
    }

    /// A finished request: its cost to its key and team (in memory; the writer stores it),
    /// its tokens to their limits. Called from the spend-log sink.
    pub fn record(&self, log: &RequestLog) {
        let Some(token) = log.api_key_hash.as_deref() else {
            return;
        };
        let Some(key) = self.key(token) else {
            release(&self.limiter, &self.spend, &self.holds, &log.request_id);
            return;
        };
        let team = key.team_id.as_deref().and_then(|t| self.team(t));
        let hold = self
            .holds
            .lock()
            .ok()
            .and_then(|mut h| h.remove(&log.request_id));
        let cost = log.cost.filter(|c| *c > 0.0);
        let mut shared_hold = None;
        // Budgets in Redis: (scope, period, this replica's figure with the cost in).
        let mut spent = Vec::new();
        // The reservation gives way to the cost in one step, so the budget never sees neither.
        if let Ok(mut spend) = self.spend.lock() {
            if let Some(hold) = hold {
                unreserve(&mut spend, &hold);
                shared_hold = hold.shared;
            }
            if let Some(cost) = cost {
                let now = now_ms();
                let budgeted = std::iter::once((key_id(token), key.max_budget.is_some())).chain(
                    team.as_ref()
                        .map(|t| (team_id(&t.team_id), t.max_budget.is_some())),
                );
                for (id, budget) in budgeted {
                    let entry = spend.entry(id.clone()).or_default();
                    entry.unwritten += cost;
                    if budget && self.limiter.is_shared() {
                        spent.push((id, entry.reset_at, entry.current(now)));
                    }
                }
            }
        }
        if shared_hold.is_some() || !spent.is_empty() {
            self.limiter
                .settle_budget(shared_hold, spent, cost.unwrap_or(0.0));
        }
        let tokens = log.usage.total_tokens;
        let mut scopes = Vec::new();
        if key.tpm_limit.is_some() {
            scopes.push(format!("key:{token}"));
        }
        if let Some(team) = team.as_ref().filter(|t| t.tpm_limit.is_some()) {
            scopes.push(format!("team:{}", team.team_id));
        }
        self.limiter.settle(&log.request_id, scopes, tokens);
    }

    /// What each key and team spent in `batch` (rows of unknown keys left out).
    pub fn spend_of_batch(
        &self,
        batch: &[Arc<RequestLog>],
    ) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
        let mut keys = BTreeMap::new();
        let mut teams = BTreeMap::new();
        let Ok(cache) = self.cache.read() else {
            return (keys, teams);
        };
        for log in batch {
            let (Some(token), Some(cost)) = (log.api_key_hash.as_deref(), log.cost) else {
                continue;
            };
            if cost <= 0.0 {
                continue;
            }
            let Some(key) = cache.keys.get(token) else {
                continue;
            };
            *keys.entry(token.to_string()).or_default() += cost;
            if let Some(team) = key
                .team_id
                .as_ref()
                .filter(|t| cache.teams.contains_key(*t))
            {
                *teams.entry(team.clone()).or_default() += cost;
            }
        }
        (keys, teams)
    }

    /// Moves spend just committed from unwritten to stored.
    pub fn settle(&self, keys: &BTreeMap<String, f64>, teams: &BTreeMap<String, f64>) {
        let Ok(mut spend) = self.spend.lock() else {
            return;
        };
        let ids = keys
            .iter()
            .map(|(k, c)| (key_id(k), c))
            .chain(teams.iter().map(|(t, c)| (team_id(t), c)));
        for (id, cost) in ids {
            if let Some(s) = spend.get_mut(&id) {
                s.unwritten -= cost;
                s.stored += cost;
            }
        }
    }

    /// Reads the spend other replicas wrote.
    async fn refresh_spend(&self) -> Result<(), StoreError> {
        let now = now_ms();
        {
            let _sync = self.sync.lock().await;
            let (keys, teams) = self.store.spend_since(now - SPEND_LOOKBACK_MS).await?;
            let mut spend = self.spend.lock().unwrap_or_else(|e| e.into_inner());
            for (prefix, rows) in [("k:", keys), ("t:", teams)] {
                for row in rows {
                    let entry = spend.entry(format!("{prefix}{}", row.id)).or_default();
                    entry.stored = row.spend;
                    entry.reset_at = row.budget_reset_at;
                }
            }
        }
        Ok(())
    }

    async fn poll(&self) -> Result<(), StoreError> {
        let version = self.store.version().await?;
        let cached = self.cache.read().map(|c| c.version).unwrap_or(-1);
        if version != cached {
            self.reload().await?;
        }
        Ok(())
    }
}

use model::Span;

/// A request's estimated cost, to reserve against its key's and team's budgets.
#[derive(Debug, Clone)]
pub struct BudgetReserve {
    /// The request's id, which its record carries.
    pub request_id: String,
    /// USD.
    pub cost: f64,
}

/// A reservation made: the spend entries it is on here and how much, or where it is in Redis.
struct Hold {
    ids: Vec<String>,
    amount: f64,
    shared: Option<SharedHold>,
}

/// Gives a request's budget reservation back when dropped, if its record has not already
/// (a request refused later, failed before a record, or whose stream was dropped).
pub struct BudgetHold {
    spend: Arc<Mutex<HashMap<String, Spend>>>,
    holds: Arc<Mutex<HashMap<String, Hold>>>,
    limiter: Limiter,
    request_id: String,
}

/// Not the spend entries' names (they hold key hashes).
impl std::fmt::Debug for BudgetHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetHold").finish_non_exhaustive()
    }
}

impl Drop for BudgetHold {
    fn drop(&mut self) {
        release(&self.limiter, &self.spend, &self.holds, &self.request_id);
    }
}

fn release(
    limiter: &Limiter,
    spend: &Mutex<HashMap<String, Spend>>,
    holds: &Mutex<HashMap<String, Hold>>,
    request_id: &str,
) {
    let Some(hold) = holds.lock().ok().and_then(|mut h| h.remove(request_id)) else {
        return;
    };
    if let Ok(mut spend) = spend.lock() {
        unreserve(&mut spend, &hold);
    }
    if let Some(shared) = hold.shared {
        limiter.release_budget(shared);
    }
}

fn unreserve(spend: &mut HashMap<String, Spend>, hold: &Hold) {
    for id in &hold.ids {
        if let Some(entry) = spend.get_mut(id) {
            entry.holding = entry.holding.saturating_sub(1);
            // Float sums of the same amounts need not come back to exactly zero.
            entry.reserved = if entry.holding == 0 {
                0.0
            } else {
                (entry.reserved - hold.amount).max(0.0)
            };
        }
    }
}

fn span_of(text: Option<&str>) -> Option<Span> {
    text.and_then(Span::parse)
}

fn reset_note(at: Option<i64>) -> String {
    at.map(|ms| {
        format!(
            "; the budget resets at {}",
            crate::spend::store::rfc3339(ms)
        )
    })
    .unwrap_or_default()
}

/// True when a `models` entry admits `model` (or the group `resolved` it is an alias of):
/// equal, `*`, or a wildcard such as `openai/*`.
pub fn matches_model(entry: &str, model: &str, resolved: Option<&str>) -> bool {
    let one = |name: &str| {
        entry == "*"
            || entry == name
            || entry
                .strip_suffix('*')
                .is_some_and(|prefix| name.starts_with(prefix))
    };
    one(model) || resolved.is_some_and(one)
}

/// Polls for changes and spend until the store is dropped.
async fn follow(keys: std::sync::Weak<KeyStore>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_spend = tokio::time::Instant::now();
    let mut failing = false;
    loop {
        tick.tick().await;
        let Some(keys) = keys.upgrade() else { return };
        let mut result = keys.poll().await;
        if result.is_ok() && last_spend.elapsed() >= SPEND_EVERY {
            last_spend = tokio::time::Instant::now();
            result = keys.refresh_spend().await;
        }
        match result {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("virtual keys: cannot read changes from the database: {e}");
            }
            Err(_) => {}
        }
    }
}

/// The routes a virtual key may call without `allowed_routes`: the OpenAI routes (creating,
/// reading and deleting its own responses and conversations, counting tokens), the model list
/// and its own `/key/info`.
pub fn default_route(method: &http::Method, path: &str) -> bool {
    llm_route(path) || info_route(method, path)
}

fn llm_route(path: &str) -> bool {
    crate::routes::API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix).is_some_and(|rest| {
            rest == "/responses"
                || rest.starts_with("/responses/")
                || rest == "/conversations"
                || rest.starts_with("/conversations/")
                || rest == "/models"
        })
    })
}

fn info_route(method: &http::Method, path: &str) -> bool {
    (method == http::Method::GET && path == "/key/info")
        || path == "/v1/models"
        || path == "/models"
}

/// Refuses a route the key may not call: 403 naming the route by its template `route` (the
/// path may hold a key).
pub fn check_route(
    auth: &KeyAuth,
    method: &http::Method,
    path: &str,
    route: &str,
) -> Result<(), Refusal> {
    let allowed = if auth.key.allowed_routes.is_empty() {
        default_route(method, path)
    } else {
        default_route(method, path)
            && auth
                .key
                .allowed_routes
                .iter()
                .any(|route| match route.as_str() {
                    "llm_api_routes" | "openai_routes" => llm_route(path),
                    "info_routes" => info_route(method, path),
                    route => {
                        route == path
                            || route
                                .strip_suffix('*')
                                .is_some_and(|prefix| path.starts_with(prefix))
                    }
                })
    };
    if allowed {
        Ok(())
    } else {
        Err(forbidden(
            format!(
                "This key may not call {method} {}: {}",
                switchyard::text::echo(route),
                if default_route(method, path) {
                    "it is not in the key's allowed_routes."
                } else {
                    "only the master key may."
                }
            ),
            "route_not_allowed",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_looked_up_a_bounded_number_of_times_a_second() {
        let misses = MissBudget::default();
        let second = now_ms() / 1000;
        let admitted = (0..1000).filter(|_| misses.admit()).count() as u32;
        // The window may have turned over once while counting.
        if now_ms() / 1000 == second {
            assert_eq!(admitted, MISSES_PER_SECOND);
        } else {
            assert!(admitted <= 2 * MISSES_PER_SECOND);
        }
    }

    #[test]
    fn model_entries_match_names_wildcards_and_alias_targets() {
        assert!(matches_model("gpt-4o", "gpt-4o", None));
        assert!(!matches_model("gpt-4o", "gpt-4o-mini", None));
        assert!(matches_model("openai/*", "openai/gpt-5", None));
        assert!(matches_model("*", "anything", None));
        assert!(matches_model("fast", "my-alias", Some("fast")));
    }

    #[test]
    fn virtual_keys_reach_only_the_model_routes_and_their_own_info() {
        let get = http::Method::GET;
        let post = http::Method::POST;
        for path in [
            "/v1/responses",
            "/responses",
            "/openai/v1/responses",
            "/v1/responses/resp_1",
            "/v1/responses/input_tokens",
            "/v1/conversations/conv_1/items",
            "/v1/models",
            "/models",
        ] {
            assert!(default_route(&post, path), "{path}");
        }
        assert!(default_route(&get, "/key/info"));
        for path in [
            "/key/generate",
            "/key/info",
            "/key/list",
            "/team/new",
            "/spend/logs",
            "/global/spend/report",
            "/customer/info",
            "/health",
            "/metrics",
            "/v1/responsesx",
        ] {
            assert!(!default_route(&post, path), "{path}");
        }
    }
}
