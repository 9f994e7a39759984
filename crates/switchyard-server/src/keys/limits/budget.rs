//! Key and team budgets held in Redis, on the limiter's connection.
//!
//! Each budget scope (`k:{hash}` or `t:{team}`) in each budget period (the period's end,
//! `budget_reset_at`, is part of the names, so a new period starts from what the database
//! says of it) has two Redis keys:
//!
//! * `{prefix}:keybudget:spend:{scope}:{period}`: the period's spend, as a float written
//!   with 17 significant digits (a double round-trips; `INCRBYFLOAT` keeps 17 decimals, which
//!   loses most of a micro-dollar cost). A script that finds it missing (first use, Redis
//!   restarted, lapsed after [`SPEND_TTL_MS`] unused) or lower than the figure the calling
//!   replica knows (the database's plus its own unwritten spend, which never counts a cost
//!   twice) takes that figure, so a cost Redis lost heals once the database has it.
//! * `{prefix}:keybudget:held:{scope}:{period}`: the reservations of requests running, a
//!   sorted set of `{member}|{amount}` scored by a lease deadline that the request renews
//!   while it runs; a reservation left by a replica that died lapses at its deadline.
//!
//! One script checks spend + live reservations + the estimate against every budget of the
//! request (key and team together) and reserves on all of them, or on none; one replaces a
//! reservation with the request's cost; the release is a `ZREM`.

use std::time::Duration;

use super::{DEADLINE, Limiter, PARALLEL_LEASE_MS};

/// A budget's spend stays in Redis this long after its last use (ms): by then the database
/// has every cost recorded in it, and the figure is read from there again.
const SPEND_TTL_MS: u64 = 86_400_000;

/// KEYS: per budget, its spend and its reservations; ARGV: member, estimate, lease (ms),
/// spend TTL (ms), then per budget: the budget and the spend this replica knows.
/// {1, 0, '', ''} when reserved on all, else {0, which budget, its spend, its reservations}.
const RESERVE: &str = "local member = ARGV[1]
local estimate = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local budgets = #KEYS / 2
for i = 1, budgets do
  local spend_key, held_key = KEYS[2 * i - 1], KEYS[2 * i]
  local budget = tonumber(ARGV[3 + 2 * i])
  local known = tonumber(ARGV[4 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', held_key, '-inf', now)
  local spend = tonumber(redis.call('GET', spend_key))
  if spend == nil or spend < known then
    spend = known
    redis.call('SET', spend_key, string.format('%.17g', spend), 'PX', ttl)
  else
    redis.call('PEXPIRE', spend_key, ttl)
  end
  local held = 0
  for _, m in ipairs(redis.call('ZRANGE', held_key, 0, -1)) do
    held = held + (tonumber(string.match(m, '|([^|]*)$')) or 0)
  end
  if spend >= budget or spend + held + estimate > budget then
    return {0, i, string.format('%.17g', spend), string.format('%.17g', held)}
  end
end
if estimate > 0 then
  for i = 1, budgets do
    local held_key = KEYS[2 * i]
    redis.call('ZADD', held_key, now + lease, member)
    if redis.call('PTTL', held_key) < lease then redis.call('PEXPIRE', held_key, lease) end
  end
end
return {1, 0, '', ''}
";

/// KEYS: the sets holding the reservation, then the spend keys to add the cost to; ARGV:
/// member, how many sets, cost, spend TTL (ms), then per spend key the figure this replica
/// knows (the cost in). Takes the reservation out and adds the cost, in one step.
const SETTLE: &str = "local sets = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
for i = 1, sets do redis.call('ZREM', KEYS[i], ARGV[1]) end
for i = sets + 1, #KEYS do
  local known = tonumber(ARGV[4 + i - sets])
  local spend = tonumber(redis.call('GET', KEYS[i]))
  local after = known
  if spend ~= nil and spend + cost >= known then after = spend + cost end
  redis.call('SET', KEYS[i], string.format('%.17g', after), 'PX', ttl)
end
return 1
";

/// The budget scripts, each prefixed with the limiter's clock.
pub(super) struct Scripts {
    reserve: redis::Script,
    settle: redis::Script,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        let script = |body: &str| redis::Script::new(&format!("{}{body}", super::CLOCK));
        Scripts {
            reserve: script(RESERVE),
            settle: script(SETTLE),
        }
    }
}

/// One budget a request is checked against.
pub struct BudgetScope {
    /// `k:{hash}` or `t:{team}`.
    pub id: String,
    /// The end of its current period (Unix ms), when it has one.
    pub period: Option<i64>,
    /// `max_budget`.
    pub budget: f64,
    /// Its spend in this period as this replica knows it.
    pub known: f64,
}

/// What Redis answered to a budget check.
pub enum Checked {
    /// Within every budget; the reservation made (none for an estimate of 0).
    Admitted(Option<SharedHold>),
    /// The budget at `index` (into the scopes) would be passed: its spend and what requests
    /// running hold of it.
    Refused {
        /// Which scope.
        index: usize,
        /// Its spend, as Redis has it.
        spend: f64,
        /// Reserved by requests running (on any replica).
        held: f64,
    },
}

/// A reservation in Redis: its member in each scope's set, renewed while it is held.
pub struct SharedHold {
    sets: Vec<String>,
    member: String,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// Not the sets' names (they hold key hashes).
impl std::fmt::Debug for SharedHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedHold")
            .field("sets", &self.sets.len())
            .finish_non_exhaustive()
    }
}

impl Drop for SharedHold {
    fn drop(&mut self) {
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
    }
}

/// A number as the scripts read it (Rust's shortest form that reads back the same double).
fn number(x: f64) -> String {
    format!("{x}")
}

impl Limiter {
    fn spend_key(&self, id: &str, period: Option<i64>) -> String {
        self.budget_key("spend", id, period)
    }

    fn budget_key(&self, what: &str, id: &str, period: Option<i64>) -> String {
        let prefix = self
            .inner
            .redis
            .as_ref()
            .map_or("switchyard", |r| r.key_prefix.as_str());
        format!("{prefix}:keybudget:{what}:{id}:{}", period.unwrap_or(0))
    }

    /// Checks `scopes` in Redis and reserves `estimate` on all of them; `None` when Redis is
    /// not configured, not connected or does not answer within the limiter's deadline (the
    /// caller then checks in this replica).
    pub async fn reserve_budget(
        &self,
        scopes: &[BudgetScope],
        request_id: &str,
        estimate: f64,
    ) -> Option<Checked> {
        let mut connection = self.connection()?;
        let member = format!("{request_id}|{}", number(estimate));
        let mut sets = Vec::with_capacity(scopes.len());
        let mut call = self.inner.budget.reserve.prepare_invoke();
        for scope in scopes {
            let set = self.budget_key("held", &scope.id, scope.period);
            call.key(self.spend_key(&scope.id, scope.period)).key(&set);
            sets.push(set);
        }
        call.arg(&member)
            .arg(number(estimate))
            .arg(PARALLEL_LEASE_MS)
            .arg(SPEND_TTL_MS);
        for scope in scopes {
            call.arg(number(scope.budget)).arg(number(scope.known));
        }
        let answer = call.invoke_async::<(u8, usize, String, String)>(&mut connection);
        match tokio::time::timeout(DEADLINE, answer).await {
            Ok(Ok((1, _, _, _))) => {
                if estimate <= 0.0 {
                    return Some(Checked::Admitted(None));
                }
                let mut hold = SharedHold {
                    sets,
                    member,
                    renewer: None,
                };
                if tokio::runtime::Handle::try_current().is_ok() {
                    let limiter = self.clone();
                    let (sets, member) = (hold.sets.clone(), hold.member.clone());
                    hold.renewer = Some(tokio::spawn(async move {
                        let every = Duration::from_millis(PARALLEL_LEASE_MS / 3);
                        loop {
                            tokio::time::sleep(every).await;
                            limiter.renew(&sets, &member).await;
                        }
                    }));
                }
                Some(Checked::Admitted(Some(hold)))
            }
            Ok(Ok((_, index, spend, held))) => Some(Checked::Refused {
                index: index.saturating_sub(1),
                spend: spend.parse().unwrap_or(0.0),
                held: held.parse().unwrap_or(0.0),
            }),
            _ => {
                self.trouble("checking a budget");
                // The script may still run after the wait ended: take the reservation out
                // again (commands on one connection run in order); this replica checks.
                self.remove(sets, member);
                None
            }
        }
    }

    /// A request ended: its reservation (when it made one in Redis) gives way to `cost`,
    /// added to each of `spent` (scope, period, this replica's figure with the cost in), in
    /// one script, in the background. Lost with Redis, the cost comes back from the database.
    pub fn settle_budget(
        &self,
        hold: Option<SharedHold>,
        spent: Vec<(String, Option<i64>, f64)>,
        cost: f64,
    ) {
        let (sets, member) = match &hold {
            Some(hold) => (hold.sets.clone(), hold.member.clone()),
            None => (Vec::new(), String::new()),
        };
        drop(hold);
        if sets.is_empty() && spent.is_empty() {
            return;
        }
        let (Some(mut connection), Ok(_)) =
            (self.connection(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let mut keys = sets.clone();
        keys.extend(
            spent
                .iter()
                .map(|(id, period, _)| self.spend_key(id, *period)),
        );
        let known: Vec<String> = spent.iter().map(|(_, _, known)| number(*known)).collect();
        let count = sets.len();
        let limiter = self.clone();
        tokio::spawn(async move {
            let mut call = limiter.inner.budget.settle.prepare_invoke();
            for key in &keys {
                call.key(key);
            }
            call.arg(member)
                .arg(count)
                .arg(number(cost))
                .arg(SPEND_TTL_MS);
            for known in &known {
                call.arg(known);
            }
            let settled = call.invoke_async::<u8>(&mut connection);
            if !matches!(
                tokio::time::timeout(Duration::from_secs(1), settled).await,
                Ok(Ok(_))
            ) {
                limiter.trouble("recording spend");
            }
        });
    }

    /// Gives a reservation back (in the background; should it fail, it lapses at its
    /// deadline).
    pub fn release_budget(&self, mut hold: SharedHold) {
        let sets = std::mem::take(&mut hold.sets);
        let member = std::mem::take(&mut hold.member);
        drop(hold);
        self.remove(sets, member);
    }

    /// A scope's spend in `period` as Redis has it, if it answers in time and has it.
    pub async fn budget_spend(&self, id: &str, period: Option<i64>) -> Option<f64> {
        let mut connection = self.connection()?;
        let mut get = redis::cmd("GET");
        get.arg(self.spend_key(id, period));
        let answer = get.query_async::<Option<String>>(&mut connection);
        match tokio::time::timeout(DEADLINE, answer).await {
            Ok(Ok(spend)) => spend.and_then(|s| s.parse().ok()),
            _ => None,
        }
    }
}
