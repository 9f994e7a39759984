//! Keys and teams in the gateway's database (tables `virtual_keys`, `teams`, `auth_version`).
//! Every change to a key or a team bumps `auth_version` in its own transaction, which is how
//! the other replicas learn that their caches are stale.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use switchyard_store::Database;
use switchyard_types::JsonMap;

use super::model::{Member, Team, VirtualKey};
use crate::spend::StoreError;
use crate::spend::store::now_ms;

/// A NULL bound for an optional number: the `Any` driver types a NULL `i64`/`f64` by the
/// first value it sees in a cached statement, so optional numbers travel as -1 and are read
/// back through `NULLIF(…, -1)` (limits, budgets and times are never negative).
fn opt_i(v: Option<i64>) -> i64 {
    v.unwrap_or(-1)
}

fn opt_f(v: Option<f64>) -> f64 {
    v.unwrap_or(-1.0)
}

fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn map(text: &str) -> JsonMap {
    serde_json::from_str(text).unwrap_or_default()
}

const KEY_COLUMNS: &str = "token, key_name, key_alias, team_id, user_id, models, max_budget, \
    spend, budget_duration, budget_reset_at, rpm_limit, tpm_limit, max_parallel_requests, \
    expires, metadata, tags, allowed_routes, blocked, created_at, updated_at";

const TEAM_COLUMNS: &str = "team_id, team_alias, members_with_roles, models, max_budget, spend, \
    budget_duration, budget_reset_at, rpm_limit, tpm_limit, max_parallel_requests, metadata, \
    blocked, created_at, updated_at";

fn key_row(row: &AnyRow) -> Result<VirtualKey, sqlx::Error> {
    Ok(VirtualKey {
        token: row.try_get("token")?,
        key_name: row.try_get("key_name")?,
        key_alias: row.try_get("key_alias")?,
        team_id: row.try_get("team_id")?,
        user_id: row.try_get("user_id")?,
        models: list(&row.try_get::<String, _>("models")?),
        max_budget: row.try_get("max_budget")?,
        spend: row.try_get("spend")?,
        budget_duration: row.try_get("budget_duration")?,
        budget_reset_at: row.try_get("budget_reset_at")?,
        rpm_limit: row.try_get("rpm_limit")?,
        tpm_limit: row.try_get("tpm_limit")?,
        max_parallel_requests: row.try_get("max_parallel_requests")?,
        expires: row.try_get("expires")?,
        metadata: map(&row.try_get::<String, _>("metadata")?),
        tags: list(&row.try_get::<String, _>("tags")?),
        allowed_routes: list(&row.try_get::<String, _>("allowed_routes")?),
        blocked: row.try_get::<i64, _>("blocked")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn members(text: &str) -> Vec<Member> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|m| Member::from_json(m, "members_with_roles").ok())
        .collect()
}

fn members_text(team: &Team) -> String {
    let items: Vec<Value> = team
        .members
        .iter()
        .map(|m| serde_json::json!({"user_id": m.user_id, "user_email": m.user_email, "role": m.role}))
        .collect();
    json_text(&items)
}

fn team_row(row: &AnyRow) -> Result<Team, sqlx::Error> {
    Ok(Team {
        team_id: row.try_get("team_id")?,
        team_alias: row.try_get("team_alias")?,
        members: members(&row.try_get::<String, _>("members_with_roles")?),
        models: list(&row.try_get::<String, _>("models")?),
        max_budget: row.try_get("max_budget")?,
        spend: row.try_get("spend")?,
        budget_duration: row.try_get("budget_duration")?,
        budget_reset_at: row.try_get("budget_reset_at")?,
        rpm_limit: row.try_get("rpm_limit")?,
        tpm_limit: row.try_get("tpm_limit")?,
        max_parallel_requests: row.try_get("max_parallel_requests")?,
        metadata: map(&row.try_get::<String, _>("metadata")?),
        blocked: row.try_get::<i64, _>("blocked")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One spend figure read back: whose, how much, and when its budget next resets.
#[derive(Debug, Clone)]
pub struct SpendRow {
    /// Key hash or team id.
    pub id: String,
    /// USD.
    pub spend: f64,
    /// Unix ms.
    pub budget_reset_at: Option<i64>,
}

/// The key and team tables.
#[derive(Debug, Clone)]
pub struct AuthStore {
    database: Database,
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

async fn bump(tx: &mut Tx<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_version SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl AuthStore {
    /// The tables on `database` (migrated).
    pub fn on(database: &Database) -> AuthStore {
        AuthStore {
            database: database.clone(),
        }
    }

    /// The change counter.
    pub async fn version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT version FROM auth_version WHERE id = 1")
            .fetch_one(self.database.pool())
            .await?;
        Ok(row.try_get("version")?)
    }

    /// Every key and every team, with the change counter they were read at.
    pub async fn load(&self) -> Result<(i64, Vec<VirtualKey>, Vec<Team>), StoreError> {
        let mut tx = self.database.pool().begin().await?;
        let version: i64 = sqlx::query("SELECT version FROM auth_version WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get("version")?;
        let keys = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys"))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(key_row)
            .collect::<Result<Vec<_>, _>>()?;
        let teams = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams"))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(team_row)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok((version, keys, teams))
    }

    /// One key by its hash.
    pub async fn key(&self, token: &str) -> Result<Option<VirtualKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM virtual_keys WHERE token = $1"
        ))
        .bind(token)
        .fetch_optional(self.database.pool())
        .await?;
        Ok(row.as_ref().map(key_row).transpose()?)
    }

    /// One team by id.
    pub async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE team_id = $1"
        ))
        .bind(id)
        .fetch_optional(self.database.pool())
        .await?;
        Ok(row.as_ref().map(team_row).transpose()?)
    }

    /// A key's or team's spend and budget period as the database has them now.
    pub async fn spend_row(&self, team: bool, id: &str) -> Result<Option<SpendRow>, StoreError> {
        let sql = if team {
            "SELECT team_id AS id, spend, budget_reset_at FROM teams WHERE team_id = $1"
        } else {
            "SELECT token AS id, spend, budget_reset_at FROM virtual_keys WHERE token = $1"
        };
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.database.pool())
            .await?;
        row.map(|row| {
            Ok(SpendRow {
                id: row.try_get("id")?,
                spend: row.try_get("spend")?,
                budget_reset_at: row.try_get("budget_reset_at")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// Creates `key`; an alias or hash already taken is a conflict.
    pub async fn insert_key(&self, key: &VirtualKey) -> Result<(), StoreError> {
        let mut tx = self.database.pool().begin().await?;
        let sql = format!(
            "INSERT INTO virtual_keys ({KEY_COLUMNS}, spend_updated_at) VALUES ($1, $2, $3, $4, \
             $5, $6, NULLIF($7, -1), $8, $9, NULLIF($10, -1), NULLIF($11, -1), NULLIF($12, -1), \
             NULLIF($13, -1), NULLIF($14, -1), $15, $16, $17, $18, $19, $20, $21)"
        );
        sqlx::query(&sql)
            .bind(&key.token)
            .bind(&key.key_name)
            .bind(key.key_alias.as_deref())
            .bind(key.team_id.as_deref())
            .bind(key.user_id.as_deref())
            .bind(json_text(&key.models))
            .bind(opt_f(key.max_budget))
            .bind(key.spend)
            .bind(key.budget_duration.as_deref())
            .bind(opt_i(key.budget_reset_at))
            .bind(opt_i(key.rpm_limit))
            .bind(opt_i(key.tpm_limit))
            .bind(opt_i(key.max_parallel_requests))
            .bind(opt_i(key.expires))
            .bind(json_text(&key.metadata))
            .bind(json_text(&key.tags))
            .bind(json_text(&key.allowed_routes))
            .bind(i64::from(key.blocked))
            .bind(key.created_at)
            .bind(key.updated_at)
            .bind(key.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the settings of `key` (found by `old_token`, which may differ from its new
    /// `token` when it is regenerated); spend is left as the database has it. False when no
    /// such key exists.
    pub async fn update_key(&self, old_token: &str, key: &VirtualKey) -> Result<bool, StoreError> {
        let mut tx = self.database.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE virtual_keys SET token = $1, key_name = $2, key_alias = $3, team_id = $4, \
             user_id = $5, models = $6, max_budget = NULLIF($7, -1), budget_duration = $8, \
             budget_reset_at = NULLIF($9, -1), rpm_limit = NULLIF($10, -1), \
             tpm_limit = NULLIF($11, -1), max_parallel_requests = NULLIF($12, -1), \
             expires = NULLIF($13, -1), metadata = $14, tags = $15, allowed_routes = $16, \
             blocked = $17, updated_at = $18 WHERE token = $19",
        )
        .bind(&key.token)
        .bind(&key.key_name)
        .bind(key.key_alias.as_deref())
        .bind(key.team_id.as_deref())
        .bind(key.user_id.as_deref())
        .bind(json_text(&key.models))
        .bind(opt_f(key.max_budget))
        .bind(key.budget_duration.as_deref())
        .bind(opt_i(key.budget_reset_at))
        .bind(opt_i(key.rpm_limit))
        .bind(opt_i(key.tpm_limit))
        .bind(opt_i(key.max_parallel_requests))
        .bind(opt_i(key.expires))
        .bind(json_text(&key.metadata))
        .bind(json_text(&key.tags))
        .bind(json_text(&key.allowed_routes))
        .bind(i64::from(key.blocked))
        .bind(key.updated_at)
        .bind(old_token)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?
        .rows_affected()
            > 0;
        if done {
            bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Deletes the keys with these hashes; returns those that existed.
    pub async fn delete_keys(&self, tokens: &[String]) -> Result<Vec<String>, StoreError> {
        let mut tx = self.database.pool().begin().await?;
        let mut deleted = Vec::new();
        for token in tokens {
            let n = sqlx::query("DELETE FROM virtual_keys WHERE token = $1")
                .bind(token)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                deleted.push(token.clone());
            }
        }
        bump(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Creates or replaces `team` (spend is the database's); `create` refuses an existing id.
    pub async fn save_team(&self, team: &Team, create: bool) -> Result<bool, StoreError> {
        let mut tx = self.database.pool().begin().await?;
        let done = if create {
            sqlx::query(&format!(
                "INSERT INTO teams ({TEAM_COLUMNS}, spend_updated_at) VALUES ($1, $2, $3, $4, \
                 NULLIF($5, -1), $6, $7, NULLIF($8, -1), NULLIF($9, -1), NULLIF($10, -1), \
                 NULLIF($11, -1), $12, $13, $14, $15, $16)"
            ))
            .bind(&team.team_id)
            .bind(team.team_alias.as_deref())
            .bind(members_text(team))
            .bind(json_text(&team.models))
            .bind(opt_f(team.max_budget))
            .bind(team.spend)
            .bind(team.budget_duration.as_deref())
            .bind(opt_i(team.budget_reset_at))
            .bind(opt_i(team.rpm_limit))
            .bind(opt_i(team.tpm_limit))
            .bind(opt_i(team.max_parallel_requests))
            .bind(json_text(&team.metadata))
            .bind(i64::from(team.blocked))
            .bind(team.created_at)
            .bind(team.updated_at)
            .bind(team.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?
            .rows_affected()
                > 0
        } else {
            sqlx::query(
                "UPDATE teams SET team_alias = $1, members_with_roles = $2, models = $3, \
                 max_budget = NULLIF($4, -1), budget_duration = $5, \
                 budget_reset_at = NULLIF($6, -1), rpm_limit = NULLIF($7, -1), \
                 tpm_limit = NULLIF($8, -1), max_parallel_requests = NULLIF($9, -1), \
                 metadata = $10, blocked = $11, updated_at = $12 WHERE team_id = $13",
            )
            .bind(team.team_alias.as_deref())
            .bind(members_text(team))
            .bind(json_text(&team.models))
            .bind(opt_f(team.max_budget))
            .bind(team.budget_duration.as_deref())
            .bind(opt_i(team.budget_reset_at))
            .bind(opt_i(team.rpm_limit))
            .bind(opt_i(team.tpm_limit))
            .bind(opt_i(team.max_parallel_requests))
            .bind(json_text(&team.metadata))
            .bind(i64::from(team.blocked))
            .bind(team.updated_at)
            .bind(&team.team_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0
        };
        if done {
            bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Deletes teams and their keys (a key of a deleted team would keep the team's models and
    /// budget no more); returns the teams that existed.
    pub async fn delete_teams(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut tx = self.database.pool().begin().await?;
        let mut deleted = Vec::new();
        for id in ids {
            sqlx::query("DELETE FROM virtual_keys WHERE team_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("DELETE FROM teams WHERE team_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                deleted.push(id.clone());
            }
        }
        bump(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Spend of keys and of teams changed at or after `since_ms`.
    pub async fn spend_since(
        &self,
        since_ms: i64,
    ) -> Result<(Vec<SpendRow>, Vec<SpendRow>), StoreError> {
        let read = |sql: &'static str| {
            let pool = self.database.pool().clone();
            async move {
                let rows = sqlx::query(sql).bind(since_ms).fetch_all(&pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(SpendRow {
                            id: row.try_get("id")?,
                            spend: row.try_get("spend")?,
                            budget_reset_at: row.try_get("budget_reset_at")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            }
        };
        let keys = read(
            "SELECT token AS id, spend, budget_reset_at FROM virtual_keys \
             WHERE spend_updated_at >= $1",
        )
        .await?;
        let teams = read(
            "SELECT team_id AS id, spend, budget_reset_at FROM teams WHERE spend_updated_at >= $1",
        )
        .await?;
        Ok((keys, teams))
    }

    /// Starts a new budget period: spend back to zero, the next reset at `next_ms`. Only the
    /// replica that finds the period still `due_ms` resets it, so a reset happens once.
    pub async fn reset_budget(
        &self,
        team: bool,
        id: &str,
        due_ms: i64,
        next_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = if team {
            "UPDATE teams SET spend = 0, budget_reset_at = $1, spend_updated_at = $2 \
             WHERE team_id = $3 AND budget_reset_at = $4"
        } else {
            "UPDATE virtual_keys SET spend = 0, budget_reset_at = $1, spend_updated_at = $2 \
             WHERE token = $3 AND budget_reset_at = $4"
        };
        let n = sqlx::query(sql)
            .bind(next_ms)
            .bind(now_ms())
            .bind(id)
            .bind(due_ms)
            .execute(self.database.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// How many keys and teams exist.
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        let keys: i64 = sqlx::query("SELECT COUNT(*) AS n FROM virtual_keys")
            .fetch_one(self.database.pool())
            .await?
            .try_get("n")?;
        let teams: i64 = sqlx::query("SELECT COUNT(*) AS n FROM teams")
            .fetch_one(self.database.pool())
            .await?
            .try_get("n")?;
        Ok((keys, teams))
    }
}

/// Adds spend to keys and teams inside the spend-log batch's transaction.
pub async fn add_spend(
    tx: &mut Tx<'_>,
    keys: &std::collections::BTreeMap<String, f64>,
    teams: &std::collections::BTreeMap<String, f64>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for (token, cost) in keys {
        sqlx::query(
            "UPDATE virtual_keys SET spend = spend + $1, spend_updated_at = $2 WHERE token = $3",
        )
        .bind(*cost)
        .bind(now)
        .bind(token.as_str())
        .execute(&mut **tx)
        .await?;
    }
    for (team, cost) in teams {
        sqlx::query(
            "UPDATE teams SET spend = spend + $1, spend_updated_at = $2 WHERE team_id = $3",
        )
        .bind(*cost)
        .bind(now)
        .bind(team.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A unique-constraint failure is the caller's (an alias or key taken), not the database's.
fn conflict(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError("conflict".into());
    }
    StoreError::from(e)
}
