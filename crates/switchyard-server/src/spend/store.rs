//! The spend logs and end users in the gateway's database (SQLite, a file, by default, or
//! PostgreSQL; the schema and its migrations are `switchyard-store`'s), through sqlx's `Any`
//! driver so that one set of queries serves both. Queries use `$N`
//! placeholders, which both databases accept, each number once and in order; only the bulk
//! insert of spend-log rows uses SQLite's own `?` (see [`super::row`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use switchyard::accounting::RequestLog;
use switchyard_store::Database;

use super::row::{insert_statements, nullable_float, row_arguments, row_json};

/// A statement with its values bound so far.
type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The spend-log database.
#[derive(Clone, Debug)]
pub struct SpendStore {
    /// The gateway's database; on SQLite bulk inserts use `?` placeholders (see
    /// [`super::row`]).
    database: Database,
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
    /// The virtual key's team.
    pub team_id: Option<String>,
    /// The virtual key's alias.
    pub key_alias: Option<String>,
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
    /// The virtual key's team.
    Team,
    /// The virtual key's alias.
    KeyAlias,
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
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations (the
    /// schema is `switchyard-store`'s, shared with stored responses).
    pub async fn open(url: &str) -> Result<SpendStore, StoreError> {
        let database = Database::open(url)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(SpendStore::on(&database))
    }

    /// The spend logs on an open database.
    pub fn on(database: &Database) -> SpendStore {
        SpendStore {
            database: database.clone(),
        }
    }

    /// Connects without migrating: for administration (creating a database) and tests.
    pub async fn admin(url: &str) -> Result<SpendStore, StoreError> {
        let database = Database::admin(url)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(SpendStore::on(&database))
    }

    /// The database underneath (shared with the state store).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Runs one statement.
    pub async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::query(sql).execute(self.database.pool()).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.database.pool().close().await;
    }

    /// Writes a batch of rows (when `rows` is set) and adds their cost to their end users'
    /// spend, in one transaction. A row already written (same request id) is skipped.
    pub async fn write_batch(
        &self,
        batch: &[Arc<RequestLog>],
        rows: bool,
    ) -> Result<(), StoreError> {
        let none = BTreeMap::new();
        self.write_batch_with(batch, rows, (&none, &none)).await
    }

    /// [`SpendStore::write_batch`], adding what keys and teams spent in the same transaction.
    pub async fn write_batch_with(
        &self,
        batch: &[Arc<RequestLog>],
        rows: bool,
        (keys, teams): (&BTreeMap<String, f64>, &BTreeMap<String, f64>),
    ) -> Result<(), StoreError> {
        // The response store's writer shares SQLite's one write lock: take turns in-process
        // rather than in SQLite's sleeping busy handler.
        let _writing = self.database.write_lock().await;
        let mut tx = self.database.pool().begin().await?;
        if rows {
            insert_rows(&mut tx, batch, self.database.is_sqlite()).await?;
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
        crate::keys::store::add_spend(&mut tx, keys, teams).await?;
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
            .fetch_all(self.database.pool())
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
            GroupBy::Team => "team_id",
            GroupBy::KeyAlias => "api_key_alias",
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
            .fetch_all(self.database.pool())
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
        let rows = query.fetch_all(self.database.pool()).await?;
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
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    /// The connection pool (this module's tests).
    #[cfg(test)]
    pub(super) fn pool(&self) -> &sqlx::AnyPool {
        self.database.pool()
    }

    /// How many spend-log rows exist (tests and health).
    pub async fn count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM spend_logs")
            .fetch_one(self.database.pool())
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

/// Writes `logs` as spend-log rows, a few multi-row statements at a time.
async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    mut logs: &[Arc<RequestLog>],
    sqlite: bool,
) -> Result<(), StoreError> {
    // The statements end with a one-row one, so a statement fits whatever is left.
    while let Some((rows, sql)) = insert_statements(sqlite)
        .iter()
        .find(|(n, _)| *n <= logs.len())
    {
        let (chunk, rest) = logs.split_at(*rows);
        let args = row_arguments(chunk)
            .map_err(|e| StoreError(format!("cannot bind a spend-log row: {e}")))?;
        sqlx::query_with(sql, args).execute(&mut **tx).await?;
        logs = rest;
    }
    Ok(())
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
    if let Some(v) = &f.team_id {
        add(sql, " AND team_id = $?", Arg::Text(v.clone()));
    }
    if let Some(v) = &f.key_alias {
        add(sql, " AND api_key_alias = $?", Arg::Text(v.clone()));
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

fn bind_all<'q>(mut query: Query<'q>, args: &'q [Arg]) -> Query<'q> {
    for arg in args {
        query = match arg {
            Arg::Int(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.as_str()),
        };
    }
    query
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
