//! Spend tracking: the spend-log writer (a [`LogSink`] of the gateway), end users and their
//! budgets, and the database behind both.
//!
//! Writes never hold up a response. A finished request's [`RequestLog`] goes into a bounded
//! queue; one writer task drains it in batches (a batch closes after
//! `general_settings.proxy_batch_write_at`, default 1 s, or at [`BATCH_ROWS`] rows) and writes
//! each batch in one transaction. When the queue is full the row is dropped, counted, and
//! logged at error level with its request id (the request's own `switchyard::request` log line
//! still carries its tokens and cost): a request never waits on the database. Graceful
//! shutdown closes the queue and writes everything in it before the process exits.
//!
//! End users' spend is kept in memory as well, updated the moment a request finishes, so a
//! budget is enforced on the very next request rather than after the next batch. Several
//! gateways may share one database: each re-reads the end users (spend, budgets, blocks) every
//! batch interval, so spend through one instance counts against the budget in all of them
//! within about that interval. In memory, an end user's spend is what the database held at the
//! last read plus what this instance has recorded and not yet written.

mod row;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::batches::Batches;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchyard::Config;
use switchyard::accounting::{LogSink, RequestLog};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use store::{EndUser, SpendStore, StoreError};

use crate::keys::KeyStore;

/// Rows queued before the writer (about 2 KB each without prompts).
pub const QUEUE_ROWS: usize = 50_000;
/// Rows per transaction at most. Small, because the store's saves wait on the same write lock
/// while a batch commits: 64 rather than 500 cut the gateway's p99 with the store on from
/// 25 to 15 ms, for 3 % of JSON throughput at most (BENCHMARKS.md, session 3).
pub const BATCH_ROWS: usize = 64;
/// The default of `proxy_batch_write_at`.
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Where spend logs go, from the config and the environment.
#[derive(Debug, Clone)]
pub struct AccountingOptions {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Write spend-log rows (`disable_spend_logs` turns this off; end-user spend is kept).
    pub write_rows: bool,
    /// How long a row waits for its batch at most.
    pub batch_interval: Duration,
    /// The budget of end users without their own.
    pub default_budget: Option<f64>,
    /// Headers naming the end user, after LiteLLM's two.
    pub user_headers: Vec<String>,
    /// Keep inputs and outputs in the rows.
    pub store_prompts: bool,
    /// Where key and team rate limits are shared (`router_settings.redis_*`).
    pub redis: Option<switchyard::router::settings::RedisSettings>,
}

impl AccountingOptions {
    /// Options from `config`: `general_settings.database_url`, else `DATABASE_URL`, else the
    /// SQLite file `switchyard_settings.spend_log_path` (default `./switchyard.db`).
    pub fn from_config(config: &Config) -> AccountingOptions {
        let a = &config.accounting;
        let database_url = a
            .database_url
            .as_ref()
            .map(|s| s.expose().to_string())
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| {
                let path = a
                    .spend_log_path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("switchyard.db"));
                sqlite_url(&path)
            });
        AccountingOptions {
            database_url: creating_sqlite_file(database_url),
            write_rows: !a.disable_spend_logs,
            batch_interval: a.batch_interval.unwrap_or(DEFAULT_BATCH_INTERVAL),
            default_budget: a.max_end_user_budget,
            user_headers: a.user_header_mappings.clone(),
            // `turn_off_message_logging` keeps prompts out of every sink, spend logs included.
            store_prompts: a.store_prompts && !config.logging.turn_off_message_logging,
            redis: config.router.redis.clone(),
        }
    }
}

/// The SQLite URL of a file, created when missing.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A SQLite URL that creates its file when missing, as the default path does: sqlx opens an
/// existing file only unless told `mode=rwc`, and an operator writing
/// `sqlite:///var/lib/switchyard/spend.db` means "keep the spend logs there". A URL that names
/// a mode keeps it; other databases are left as they are.
pub fn creating_sqlite_file(url: String) -> String {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=") {
        return url;
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

/// The file a SQLite URL names (`None` for other databases and in-memory ones).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// How many virtual keys and teams the database at `url` holds, without creating or
/// migrating anything (`check-config`): `None` when there is no database yet.
pub async fn key_counts(url: &str) -> Result<Option<(i64, i64)>, StoreError> {
    if let Some(file) = sqlite_file(url)
        && !file.exists()
    {
        return Ok(None);
    }
    let database = switchyard_store::Database::admin(url)
        .await
        .map_err(|e| StoreError(e.to_string()))?;
    let counts = crate::keys::store::AuthStore::on(&database).counts().await;
    database.close().await;
    match counts {
        Ok(counts) => Ok(Some(counts)),
        // A database from before virtual keys has no such tables yet.
        Err(_) => Ok(Some((0, 0))),
    }
}

/// Spend logs, end users and budgets: what the proxy adds to the gateway's accounting.
#[derive(Debug)]
pub struct Accounting {
    store: SpendStore,
    keys: Arc<KeyStore>,
    end_users: Arc<EndUsers>,
    sink: Arc<SpendSink>,
    writer: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
    /// Re-reads the end users from the database (other instances' spend).
    refresher: Mutex<Option<JoinHandle<()>>>,
    options: AccountingOptions,
}

impl Accounting {
    /// Opens the database (applying migrations), loads the end users and starts the writer.
    /// Register [`Accounting::sink`] with the gateway.
    pub async fn start(options: AccountingOptions) -> Result<Accounting, StoreError> {
        if let Some(file) = sqlite_file(&options.database_url)
            && !file.exists()
        {
            tracing::info!("creating the SQLite database {}", file.display());
        }
        let store = SpendStore::open(&options.database_url).await?;
        let end_users = Arc::new(EndUsers::default());
        end_users.refresh(&store, None).await?;
        let keys = KeyStore::start(store.database(), options.redis.clone()).await?;
        let (tx, rx) = mpsc::channel(QUEUE_ROWS);
        let sink = Arc::new(SpendSink {
            queue: tx,
            dropped: AtomicU64::new(0),
            end_users: end_users.clone(),
            keys: keys.clone(),
            store_prompts: options.store_prompts,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let writer = tokio::spawn(write_loop(
            store.clone(),
            end_users.clone(),
            keys.clone(),
            rx,
            stop_rx,
            options.batch_interval,
            options.write_rows,
        ));
        let refresher = tokio::spawn(refresh_loop(
            store.clone(),
            end_users.clone(),
            options.batch_interval.max(MIN_REFRESH_INTERVAL),
        ));
        Ok(Accounting {
            store,
            keys,
            end_users,
            sink,
            writer: Mutex::new(Some((stop_tx, writer))),
            refresher: Mutex::new(Some(refresher)),
            options,
        })
    }

    /// The sink to add to the gateway.
    pub fn sink(&self) -> Arc<dyn LogSink> {
        self.sink.clone()
    }

    /// The database.
    pub fn store(&self) -> &SpendStore {
        &self.store
    }

    /// Virtual keys and teams.
    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// The settings in force.
    pub fn options(&self) -> &AccountingOptions {
        &self.options
    }

    /// Rows dropped because the queue was full (or closed).
    pub fn dropped(&self) -> u64 {
        self.sink.dropped.load(Ordering::Relaxed)
    }

    /// The end user `id`, if known.
    pub fn end_user(&self, id: &str) -> Option<EndUser> {
        self.end_users.lock().get(id).map(Known::current)
    }

    /// The budget that applies to `user`: its own, else the default.
    pub fn budget_of(&self, user: &EndUser) -> Option<f64> {
        user.max_budget.or(self.options.default_budget)
    }

    /// Creates or updates an end user (budget and blocked flag; spend is the database's).
    pub async fn save_end_user(&self, user: EndUser) -> Result<EndUser, StoreError> {
        // A refresh reading the database just before this write must not land after it.
        let _sync = self.end_users.sync.lock().await;
        self.store.save_end_user(&user).await?;
        let mut users = self.end_users.lock();
        let entry = users
            .entry(user.user_id.clone())
            .or_insert_with(|| Known::new(&user.user_id));
        entry.stored.max_budget = user.max_budget;
        entry.stored.blocked = user.blocked;
        Ok(entry.current())
    }

    /// Stops the writer after it has written every queued row; waits at most `within`.
    pub async fn shutdown(&self, within: Duration) {
        if let Some(refresher) = self.refresher.lock().ok().and_then(|mut r| r.take()) {
            // It only reads; stopping it mid-read loses nothing.
            refresher.abort();
        }
        self.keys.stop();
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some((stop, task)) = writer {
            let _ = stop.send(());
            if tokio::time::timeout(within, task).await.is_err() {
                tracing::error!(
                    "the spend-log writer did not finish within {}s; unwritten rows are lost",
                    within.as_secs_f64()
                );
            }
        }
        let dropped = self.dropped();
        if dropped > 0 {
            tracing::error!("{dropped} spend-log rows were dropped while running (queue full)");
        }
        self.store.close().await;
    }
}

/// Re-reading the end users more often than this buys nothing but load.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// End users by id, shared by the sink (spend), the writer, the refresher and the routes
/// (budgets).
#[derive(Debug, Default)]
pub struct EndUsers {
    users: Mutex<HashMap<String, Known>>,
    /// Held while a batch is committed and settled, and while the database is read back, so
    /// that a read never misses a batch that has already been settled (which would count its
    /// spend neither as stored nor as unwritten).
    sync: tokio::sync::Mutex<()>,
}

/// One end user as this instance knows it.
#[derive(Debug, Clone)]
struct Known {
    /// As the database held it at the last read (or after this instance's own writes).
    stored: EndUser,
    /// Spend recorded here and not yet written.
    unwritten: f64,
}

impl Known {
    fn new(id: &str) -> Known {
        Known {
            stored: EndUser {
                user_id: id.to_string(),
                ..EndUser::default()
            },
            unwritten: 0.0,
        }
    }

    fn current(&self) -> EndUser {
        EndUser {
            spend: self.stored.spend + self.unwritten,
            ..self.stored.clone()
        }
    }
}

impl EndUsers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Known>> {
        // A panic while holding this lock cannot leave a half-updated entry worth refusing.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the database's view of every end user (spend, budget, block), keeping what this
    /// instance has not written yet on top.
    async fn refresh(&self, store: &SpendStore, since_ms: Option<i64>) -> Result<(), StoreError> {
        let _sync = self.sync.lock().await;
        let stored = store.end_users_changed_since(since_ms).await?;
        let mut users = self.lock();
        for user in stored {
            match users.get_mut(&user.user_id) {
                Some(known) => known.stored = user,
                None => {
                    users.insert(
                        user.user_id.clone(),
                        Known {
                            stored: user,
                            unwritten: 0.0,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Moves spend this instance has just committed from unwritten to stored.
    fn settle(&self, written: &std::collections::BTreeMap<&str, f64>) {
        let mut users = self.lock();
        for (id, cost) in written {
            if let Some(known) = users.get_mut(*id) {
                known.unwritten -= cost;
                known.stored.spend += cost;
            }
        }
    }
}

/// The gateway sink: charges the end user, queues the row.
#[derive(Debug)]
struct SpendSink {
    queue: mpsc::Sender<Arc<RequestLog>>,
    dropped: AtomicU64,
    end_users: Arc<EndUsers>,
    keys: Arc<KeyStore>,
    /// Rows keep inputs and outputs (records may carry them for other sinks).
    store_prompts: bool,
}

impl LogSink for SpendSink {
    fn record(&self, log: &Arc<RequestLog>) {
        if let (Some(user), Some(cost)) = (log.end_user.as_deref(), log.cost) {
            let mut users = self.end_users.lock();
            users
                .entry(user.to_string())
                .or_insert_with(|| Known::new(user))
                .unwritten += cost;
        }
        self.keys.record(log);
        let row = if !self.store_prompts && (log.messages.is_some() || log.response.is_some()) {
            Arc::new(RequestLog {
                messages: None,
                response: None,
                ..RequestLog::clone(log)
            })
        } else {
            log.clone()
        };
        if self.queue.try_send(row).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(
                request_id = %log.request_id,
                dropped_total = n,
                "spend-log queue full or closed: row dropped"
            );
        }
    }
}

async fn write_loop(
    store: SpendStore,
    end_users: Arc<EndUsers>,
    keys: Arc<KeyStore>,
    rx: mpsc::Receiver<Arc<RequestLog>>,
    stop: oneshot::Receiver<()>,
    interval: Duration,
    write_rows: bool,
) {
    let mut batches = Batches::new(rx, stop, BATCH_ROWS, interval);
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    while batches.next(&mut batch).await {
        write_with_retries(&store, &end_users, &keys, &batch, write_rows).await;
    }
}

/// Re-reads the end users every `every`, for what other instances spent: the rows changed in
/// the last [`FULL_REFRESH_EVERY`] (by the row's own `updated_at`, so replicas' clocks may
/// disagree by up to that much), and every row once per [`FULL_REFRESH_EVERY`]. With many end
/// users, only the active ones are read each time.
async fn refresh_loop(store: SpendStore, end_users: Arc<EndUsers>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last_full = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let since = if last_full.elapsed() >= FULL_REFRESH_EVERY {
            last_full = tokio::time::Instant::now();
            None
        } else {
            Some(store::now_ms() - FULL_REFRESH_EVERY.as_millis() as i64)
        };
        if let Err(e) = end_users.refresh(&store, since).await {
            tracing::warn!("could not re-read end users' spend: {e}");
        }
    }
}

/// How often every end user is re-read, and how far back the reads in between look.
const FULL_REFRESH_EVERY: Duration = Duration::from_secs(60);

/// Writes a batch, retrying a failing database a few times before giving the rows up (with
/// an error naming how many). The spend of rows given up stays counted in memory.
async fn write_with_retries(
    store: &SpendStore,
    end_users: &EndUsers,
    keys: &KeyStore,
    batch: &[Arc<RequestLog>],
    write_rows: bool,
) {
    let spent = store::spend_by_end_user(batch);
    let (key_spend, team_spend) = keys.spend_of_batch(batch);
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=5 {
        let sync = end_users.sync.lock().await;
        let key_sync = keys.sync.lock().await;
        let result = store
            .write_batch_with(batch, write_rows, (&key_spend, &team_spend))
            .await;
        if result.is_ok() {
            end_users.settle(&spent);
            keys.settle(&key_spend, &team_spend);
        }
        drop(key_sync);
        drop(sync);
        match result {
            Ok(()) => return,
            Err(e) if attempt < 5 => {
                tracing::warn!("spend-log batch of {} failed, retrying: {e}", batch.len());
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::error!(
                    "spend-log batch of {} rows lost after 5 attempts: {e}",
                    batch.len()
                );
            }
        }
    }
}
