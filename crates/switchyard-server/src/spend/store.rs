//! The spend-log database: SQLite (a file, the default) or PostgreSQL, through sqlx's `Any`
//! driver so that one set of queries and one set of migrations serves both. Queries use `$N`
//! placeholders, which both databases accept, each number once and in order; only the bulk
//! insert of spend-log rows uses SQLite's own `?` (see [`insert_sql`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Row};
use switchyard::accounting::RequestLog;

/// The migrations, in order; applied at start.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "spend logs",
        include_str!("../../migrations/0001_spend_logs.sql"),
    ),
    (
        2,
        "end users by update time",
        include_str!("../../migrations/0002_end_users_updated_at.sql"),
    ),
];

#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>>
    {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The spend-log database.
#[derive(Clone, Debug)]
pub struct SpendStore {
    pool: AnyPool,
    /// SQLite rather than PostgreSQL: bulk inserts use `?` placeholders (see [`insert_sql`]).
    sqlite: bool,
}

/// A database failure, with a message fit for a log line (no URL, so no password).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(format!("database error: {e}"))
    }
}

/// One end user's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EndUser {
    /// The id.
    pub user_id: String,
    /// Spend so far (USD).
    pub spend: f64,
    /// Own budget (USD); `None`: the default applies.
    pub max_budget: Option<f64>,
    /// Refused outright.
    pub blocked: bool,
}

/// Filters of `GET /spend/logs`.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    /// Rows starting at or after (Unix ms).
    pub start_ms: Option<i64>,
    /// Rows starting before (Unix ms).
    pub end_ms: Option<i64>,
    /// SHA-256 of the key.
    pub api_key_hash: Option<String>,
    /// End user.
    pub end_user: Option<String>,
    /// Model group or upstream model.
    pub model: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// At most this many rows.
    pub limit: i64,
}

/// How `GET /global/spend/report` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Calendar day (UTC).
    Day,
    /// Model group.
    Model,
    /// Hashed key.
    Key,
    /// End user.
    EndUser,
}

/// One group of a spend report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// The group's key (day `YYYY-MM-DD`, model, key hash or end user; `null` when unset).
    pub group: Option<String>,
    /// Requests.
    pub requests: i64,
    /// USD (priced requests only).
    pub spend: f64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// All tokens.
    pub total_tokens: i64,
}

impl SpendStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations.
    pub async fn open(url: &str) -> Result<SpendStore, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            // SQLite takes one writer at a time; more connections only contend for its lock.
            .max_connections(if sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // On every connection: WAL lets readers (the spend API) run while the
                        // writer writes; busy_timeout makes a connection wait for the lock (a
                        // second gateway on the same file) instead of failing. synchronous=NORMAL
                        // is SQLite's advice for WAL: no fsync per commit, still never corrupt;
                        // a power cut (not a crash) may lose the last commits. temp_store keeps
                        // the statement journal of a bulk insert in memory, not a temp file.
                        for pragma in [
                            "PRAGMA journal_mode=WAL",
                            "PRAGMA busy_timeout=5000",
                            "PRAGMA synchronous=NORMAL",
                            "PRAGMA temp_store=MEMORY",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| StoreError(format!("cannot open the spend-log database: {e}")))?;
        let migrator = Migrator::new(Embedded)
            .await
            .map_err(|e| StoreError(format!("cannot read the migrations: {e}")))?;
        // Two gateways starting together on one SQLite file race to migrate it (PostgreSQL
        // migrations take an advisory lock; SQLite's do not): the loser's migration fails and
        // rolls back, and on a retry it finds the migration applied.
        let mut attempt = 0;
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(e) if sqlite && attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "retrying the spend-log migration");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => {
                    return Err(StoreError(format!(
                        "cannot migrate the spend-log database: {e}"
                    )));
                }
            }
        }
        Ok(SpendStore { pool, sqlite })
    }

    /// Connects without migrating: for administration (creating a database) and tests.
    pub async fn admin(url: &str) -> Result<SpendStore, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(|e| StoreError(format!("cannot connect: {e}")))?;
        Ok(SpendStore {
            pool,
            sqlite: url.starts_with("sqlite:"),
        })
    }

    /// Runs one statement.
    pub async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes a batch of rows (when `rows` is set) and adds their cost to their end users'
    /// spend, in one transaction. A row already written (same request id) is skipped.
    pub async fn write_batch(
        &self,
        batch: &[Arc<RequestLog>],
        rows: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if rows {
            insert_rows(&mut tx, batch, self.sqlite).await?;
        }
        let now = now_ms();
        for (user, cost) in spend_by_end_user(batch) {
            sqlx::query(
                "INSERT INTO end_users (user_id, spend, blocked, created_at, updated_at) \
                 VALUES ($1, $2, 0, $3, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET spend = end_users.spend + excluded.spend, \
                 updated_at = excluded.updated_at",
            )
            .bind(user)
            .bind(cost)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Spend-log rows, newest first.
    pub async fn logs(&self, filter: &LogFilter) -> Result<Vec<Value>, StoreError> {
        let mut sql = String::from("SELECT * FROM spend_logs WHERE 1 = 1");
        let mut args: Vec<Arg> = Vec::new();
        push_filters(&mut sql, &mut args, filter);
        sql.push_str(&format!(
            " ORDER BY start_time DESC, request_id LIMIT {}",
            filter.limit.clamp(1, 10_000)
        ));
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row_json).collect())
    }

    /// Spend, requests and tokens per group.
    pub async fn report(
        &self,
        group_by: GroupBy,
        filter: &LogFilter,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let key = match group_by {
            GroupBy::Day => "CAST(start_time / 86400000 AS BIGINT)",
            GroupBy::Model => "model_group",
            GroupBy::Key => "api_key",
            GroupBy::EndUser => "end_user",
        };
        let mut sql = format!(
            "SELECT {key} AS grp, COUNT(*) AS requests, \
             CAST(COALESCE(SUM(spend), 0) AS DOUBLE PRECISION) AS spend, \
             CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
             CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
             CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) AS total_tokens \
             FROM spend_logs WHERE 1 = 1"
        );
        let mut args = Vec::new();
        push_filters(&mut sql, &mut args, filter);
        sql.push_str(&format!(" GROUP BY {key} ORDER BY grp"));
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let group = if group_by == GroupBy::Day {
                    row.try_get::<Option<i64>, _>("grp")?.map(day_string)
                } else {
                    row.try_get::<Option<String>, _>("grp")?
                };
                Ok(ReportRow {
                    group,
                    requests: row.try_get("requests")?,
                    spend: row.try_get("spend")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    total_tokens: row.try_get("total_tokens")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every end user.
    pub async fn end_users(&self) -> Result<Vec<EndUser>, StoreError> {
        self.end_users_changed_since(None).await
    }

    /// End users whose row changed at or after `since_ms` (Unix ms; `None`: all).
    pub async fn end_users_changed_since(
        &self,
        since_ms: Option<i64>,
    ) -> Result<Vec<EndUser>, StoreError> {
        let query = match since_ms {
            Some(since) => sqlx::query(
                "SELECT user_id, spend, max_budget, blocked FROM end_users WHERE updated_at >= $1",
            )
            .bind(since),
            None => sqlx::query("SELECT user_id, spend, max_budget, blocked FROM end_users"),
        };
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(EndUser {
                    user_id: row.try_get("user_id")?,
                    spend: row.try_get("spend")?,
                    max_budget: row.try_get("max_budget")?,
                    blocked: row.try_get::<i64, _>("blocked")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Creates or replaces an end user's budget and blocked flag. Spend is never written here:
    /// the batch writer is its only writer, so a row created here starts at zero.
    pub async fn save_end_user(&self, user: &EndUser) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO end_users (user_id, spend, max_budget, blocked, created_at, updated_at) \
             VALUES ($1, $2, NULLIF($3, -1), $4, $5, $6) \
             ON CONFLICT (user_id) DO UPDATE SET max_budget = excluded.max_budget, \
             blocked = excluded.blocked, updated_at = excluded.updated_at",
        )
        .bind(&user.user_id)
        .bind(0.0_f64)
        .bind(nullable_float(user.max_budget))
        .bind(i64::from(user.blocked))
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many spend-log rows exist (tests and health).
    pub async fn count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM spend_logs")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// What each end user spent in `batch` (rows without an end user or a cost left out), in a
/// fixed order so that concurrent writers lock the rows alike.
pub fn spend_by_end_user(batch: &[Arc<RequestLog>]) -> BTreeMap<&str, f64> {
    let mut spend: BTreeMap<&str, f64> = BTreeMap::new();
    for log in batch {
        if let (Some(user), Some(cost)) = (log.end_user.as_deref(), log.cost) {
            *spend.entry(user).or_default() += cost;
        }
    }
    spend
}

/// The columns of a spend-log row, in insert order.
const ROW_COLUMNS: [&str; 35] = [
    "request_id",
    "response_id",
    "call_type",
    "route",
    "api_key",
    "end_user",
    "model_group",
    "model",
    "model_id",
    "custom_llm_provider",
    "api_base",
    "stream",
    "status",
    "outcome",
    "http_status",
    "error_class",
    "error_code",
    "attempts",
    "prompt_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "total_tokens",
    "spend",
    "start_time",
    "completion_start_time",
    "end_time",
    "request_duration_ms",
    "ttft_ms",
    "request_tags",
    "metadata",
    "requester_ip_address",
    "messages",
    "response",
];

/// Columns bound through [`nullable_float`].
const NULLABLE_FLOAT_COLUMNS: [&str; 2] = ["spend", "ttft_ms"];

/// An optional float as a bind value; the SQL reads it back with `NULLIF(…, -1)` (costs,
/// budgets and durations are never negative). sqlx's `Any` driver sends a NULL `f64` to
/// PostgreSQL typed as a 4-byte float, and a cached statement first run with a NULL then
/// rejects the 8-byte value of a later run ("incorrect binary data format"): a cost-less row
/// would make every later batch fail. Binding a float every time keeps the type fixed.
fn nullable_float(value: Option<f64>) -> f64 {
    value.unwrap_or(-1.0)
}

/// Rows per `INSERT` statement: a batch goes out as statements of these sizes (largest first),
/// so a few prepared statements serve every batch (sqlx caches them per SQL text) and a batch
/// costs a handful of round trips to SQLite's worker thread instead of one per row. 64 rows
/// bind 2,240 values, well inside both databases' limits.
const CHUNK_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// `INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING` for `rows` rows. SQLite gets anonymous
/// `?` placeholders: it resolves each numbered one by a linear search through the statement's
/// names, so binding thousands of `$N` costs quadratic time (three quarters of the writer's CPU
/// when measured); PostgreSQL only takes `$N`.
fn insert_sql(rows: usize, sqlite: bool) -> String {
    let mut sql = format!(
        "INSERT INTO spend_logs ({}) VALUES ",
        ROW_COLUMNS.join(", ")
    );
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for (i, column) in ROW_COLUMNS.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let nullable = NULLABLE_FLOAT_COLUMNS.contains(column);
            if nullable {
                sql.push_str("NULLIF(");
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&(row * ROW_COLUMNS.len() + i + 1).to_string());
            }
            if nullable {
                sql.push_str(", -1)");
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (request_id) DO NOTHING");
    sql
}

/// The insert statement for each of [`CHUNK_ROWS`], built once per database kind.
fn insert_statements(sqlite: bool) -> &'static [(usize, String)] {
    type Statements = std::sync::OnceLock<Vec<(usize, String)>>;
    static SQLITE: Statements = Statements::new();
    static POSTGRES: Statements = Statements::new();
    let cell = if sqlite { &SQLITE } else { &POSTGRES };
    cell.get_or_init(|| {
        CHUNK_ROWS
            .iter()
            .map(|&n| (n, insert_sql(n, sqlite)))
            .collect()
    })
}

async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    mut logs: &[Arc<RequestLog>],
    sqlite: bool,
) -> Result<(), StoreError> {
    // CHUNK_ROWS ends with 1, so a statement fits whatever is left.
    while let Some((rows, sql)) = insert_statements(sqlite)
        .iter()
        .find(|(n, _)| *n <= logs.len())
    {
        let (chunk, rest) = logs.split_at(*rows);
        let mut query = sqlx::query(sql);
        for log in chunk {
            query = bind_row(query, log);
        }
        query.execute(&mut **tx).await?;
        logs = rest;
    }
    Ok(())
}

/// Binds one row's values, in [`ROW_COLUMNS`] order.
fn bind_row<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    log: &'q RequestLog,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let json = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    let tags = serde_json::to_string(&log.request_tags).unwrap_or_else(|_| "[]".into());
    let metadata = serde_json::to_string(&log.metadata).unwrap_or_else(|_| "{}".into());
    let u = &log.usage;
    query
        .bind(log.request_id.as_str())
        .bind(log.response_id.as_deref())
        .bind(log.call_type)
        .bind(log.route.as_deref())
        .bind(log.api_key_hash.as_deref())
        .bind(log.end_user.as_deref())
        .bind(log.model_group.as_deref())
        .bind(log.model.as_deref())
        .bind(log.deployment_id.as_deref())
        .bind(log.provider.as_deref())
        .bind(log.api_base.as_deref())
        .bind(i64::from(log.stream))
        .bind(log.status)
        .bind(log.outcome)
        .bind(i64::from(log.http_status))
        .bind(log.error_class.as_deref())
        .bind(log.error_code.as_deref())
        .bind(i64::from(log.attempts))
        .bind(u.input_tokens as i64)
        .bind(u.cached_tokens as i64)
        .bind(u.cache_write_tokens as i64)
        .bind(u.output_tokens as i64)
        .bind(u.reasoning_tokens as i64)
        .bind(u.total_tokens as i64)
        .bind(nullable_float(log.cost))
        .bind(log.start_time_ms)
        .bind(log.completion_start_time_ms)
        .bind(log.end_time_ms)
        .bind(log.duration_ms)
        .bind(nullable_float(log.ttft_ms))
        .bind(tags)
        .bind(metadata)
        .bind(log.client_ip.as_deref())
        .bind(log.messages.as_ref().map(json))
        .bind(log.response.as_ref().map(json))
}

/// A bound filter value.
enum Arg {
    Int(i64),
    Text(String),
}

fn push_filters(sql: &mut String, args: &mut Vec<Arg>, f: &LogFilter) {
    let mut add = |sql: &mut String, clause: &str, arg: Arg| {
        args.push(arg);
        sql.push_str(&clause.replace("$?", &format!("${}", args.len())));
    };
    if let Some(v) = f.start_ms {
        add(sql, " AND start_time >= $?", Arg::Int(v));
    }
    if let Some(v) = f.end_ms {
        add(sql, " AND start_time < $?", Arg::Int(v));
    }
    if let Some(v) = &f.api_key_hash {
        add(sql, " AND api_key = $?", Arg::Text(v.clone()));
    }
    if let Some(v) = &f.end_user {
        add(sql, " AND end_user = $?", Arg::Text(v.clone()));
    }
    if let Some(v) = &f.model {
        // Model group or upstream model, each its own placeholder.
        add(sql, " AND (model_group = $?", Arg::Text(v.clone()));
        add(sql, " OR model = $?)", Arg::Text(v.clone()));
    }
    if let Some(v) = &f.request_id {
        add(sql, " AND request_id = $?", Arg::Text(v.clone()));
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Int(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.as_str()),
        };
    }
    query
}

/// A spend-log row as JSON, with LiteLLM's column names; JSON columns parsed back.
fn row_json(row: &AnyRow) -> Value {
    let mut out = serde_json::Map::new();
    let text = |name: &str| row.try_get::<Option<String>, _>(name).ok().flatten();
    let int = |name: &str| row.try_get::<Option<i64>, _>(name).ok().flatten();
    let float = |name: &str| row.try_get::<Option<f64>, _>(name).ok().flatten();
    for name in [
        "request_id",
        "response_id",
        "call_type",
        "route",
        "api_key",
        "end_user",
        "model_group",
        "model",
        "model_id",
        "custom_llm_provider",
        "api_base",
        "status",
        "outcome",
        "error_class",
        "error_code",
        "requester_ip_address",
    ] {
        out.insert(name.into(), text(name).map_or(Value::Null, Value::String));
    }
    for name in [
        "http_status",
        "attempts",
        "prompt_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "total_tokens",
    ] {
        out.insert(name.into(), int(name).map_or(Value::Null, Value::from));
    }
    out.insert(
        "stream".into(),
        Value::Bool(int("stream").unwrap_or(0) != 0),
    );
    out.insert(
        "spend".into(),
        float("spend").map_or(Value::Null, Value::from),
    );
    for name in ["request_duration_ms", "ttft_ms"] {
        out.insert(name.into(), float(name).map_or(Value::Null, Value::from));
    }
    for (name, column) in [
        ("startTime", "start_time"),
        ("completionStartTime", "completion_start_time"),
        ("endTime", "end_time"),
    ] {
        out.insert(
            name.into(),
            int(column).map_or(Value::Null, |ms| Value::String(rfc3339(ms))),
        );
    }
    for name in ["request_tags", "metadata", "messages", "response"] {
        let parsed = text(name)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        out.insert(name.into(), parsed);
    }
    Value::Object(out)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix ms → `2026-11-24T19:06:23.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Days since the epoch → `YYYY-MM-DD`.
fn day_string(days: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(days * 86_400)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `YYYY-MM-DD` → Unix ms at its start (UTC).
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}
