//! One spend-log row: its columns, declared once in [`COLUMNS`], from which the bulk insert
//! (column list, placeholders, bound values) and the JSON of `GET /spend/logs` are all built.
//! Adding a column is one entry there plus a migration that adds it to `spend_logs` (a test
//! checks the entries against the migrated table, name by name and in order).

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::{Arguments as _, Row};
use switchyard::accounting::RequestLog;

use super::store::rfc3339;

/// One column of `spend_logs`.
struct Column {
    /// The column's name in the table.
    name: &'static str,
    /// Its key in the rows of `GET /spend/logs` (LiteLLM's name for it).
    key: &'static str,
    /// What it holds and where in a [`RequestLog`] that is.
    value: ColumnValue,
}

/// What a column holds, with the function that takes it from a [`RequestLog`]. The kind
/// decides how the value is bound, how it is read back and how it is shown.
#[derive(Clone, Copy)]
enum ColumnValue {
    /// Text; `null` when absent.
    Text(fn(&RequestLog) -> Option<&str>),
    /// A count or a status code.
    Int(fn(&RequestLog) -> i64),
    /// Stored as 0 or 1, shown as a boolean.
    Flag(fn(&RequestLog) -> bool),
    /// A float.
    Float(fn(&RequestLog) -> f64),
    /// A float that may be absent: bound through [`nullable_float`], stored through
    /// `NULLIF(…, -1)`.
    OptionalFloat(fn(&RequestLog) -> Option<f64>),
    /// Unix ms, shown in RFC 3339.
    Time(fn(&RequestLog) -> Option<i64>),
    /// JSON kept as text, shown parsed; borrowed from the record when it holds the text.
    Json(fn(&RequestLog) -> Option<Cow<'_, str>>),
}

impl Column {
    /// A column shown under its own name.
    const fn new(name: &'static str, value: ColumnValue) -> Column {
        Column {
            name,
            key: name,
            value,
        }
    }

    /// The same column shown under `key`.
    const fn shown_as(self, key: &'static str) -> Column {
        Column { key, ..self }
    }
}

impl ColumnValue {
    /// Where the column comes in a row of `GET /spend/logs`: grouped by kind (in this order),
    /// then in table order; the order that endpoint has always had.
    fn shown_rank(self) -> u8 {
        match self {
            ColumnValue::Text(_) => 0,
            ColumnValue::Int(_) => 1,
            ColumnValue::Flag(_) => 2,
            ColumnValue::Float(_) | ColumnValue::OptionalFloat(_) => 3,
            ColumnValue::Time(_) => 4,
            ColumnValue::Json(_) => 5,
        }
    }
}

/// Compact JSON text, as the JSON columns store it, serialised straight from the typed value;
/// `empty` (borrowed, no allocation) when there is nothing in it or it cannot be written.
fn json_text<T: serde::Serialize + ?Sized>(
    value: &T,
    is_empty: bool,
    empty: &'static str,
) -> Cow<'static, str> {
    if is_empty {
        return Cow::Borrowed(empty);
    }
    serde_json::to_string(value).map_or(Cow::Borrowed(empty), Cow::Owned)
}

/// The columns of a spend-log row, in the order of the insert (and of the table).
const COLUMNS: &[Column] = {
    use ColumnValue::{Flag, Float, Int, Json, OptionalFloat, Text, Time};
    &[
        Column::new("request_id", Text(|log| Some(&log.request_id))),
        Column::new("response_id", Text(|log| log.response_id.as_deref())),
        Column::new("call_type", Text(|log| Some(log.call_type))),
        Column::new("route", Text(|log| log.route.as_deref())),
        Column::new("api_key", Text(|log| log.api_key_hash.as_deref())),
        Column::new("end_user", Text(|log| log.end_user.as_deref())),
        Column::new("model_group", Text(|log| log.model_group.as_deref())),
        Column::new("model", Text(|log| log.model.as_deref())),
        Column::new("model_id", Text(|log| log.deployment_id.as_deref())),
        Column::new("custom_llm_provider", Text(|log| log.provider.as_deref())),
        Column::new("api_base", Text(|log| log.api_base.as_deref())),
        Column::new("stream", Flag(|log| log.stream)),
        Column::new("status", Text(|log| Some(log.status))),
        Column::new("outcome", Text(|log| Some(log.outcome))),
        Column::new("http_status", Int(|log| i64::from(log.http_status))),
        Column::new("error_class", Text(|log| log.error_class.as_deref())),
        Column::new("error_code", Text(|log| log.error_code.as_deref())),
        Column::new("attempts", Int(|log| i64::from(log.attempts))),
        Column::new("prompt_tokens", Int(|log| log.usage.input_tokens as i64)),
        Column::new("cached_tokens", Int(|log| log.usage.cached_tokens as i64)),
        Column::new(
            "cache_write_tokens",
            Int(|log| log.usage.cache_write_tokens as i64),
        ),
        Column::new(
            "completion_tokens",
            Int(|log| log.usage.output_tokens as i64),
        ),
        Column::new(
            "reasoning_tokens",
            Int(|log| log.usage.reasoning_tokens as i64),
        ),
        Column::new("total_tokens", Int(|log| log.usage.total_tokens as i64)),
        Column::new("spend", OptionalFloat(|log| log.cost)),
        Column::new("start_time", Time(|log| Some(log.start_time_ms))).shown_as("startTime"),
        Column::new(
            "completion_start_time",
            Time(|log| log.completion_start_time_ms),
        )
        .shown_as("completionStartTime"),
        Column::new("end_time", Time(|log| Some(log.end_time_ms))).shown_as("endTime"),
        Column::new("request_duration_ms", Float(|log| log.duration_ms)),
        Column::new("ttft_ms", OptionalFloat(|log| log.ttft_ms)),
        Column::new(
            "request_tags",
            Json(|log| {
                let tags = &log.request_tags;
                Some(json_text(tags, tags.is_empty(), "[]"))
            }),
        ),
        Column::new(
            "metadata",
            Json(|log| {
                let metadata = &log.metadata;
                Some(json_text(metadata, metadata.is_empty(), "{}"))
            }),
        ),
        Column::new("requester_ip_address", Text(|log| log.client_ip.as_deref())),
        Column::new(
            "messages",
            Json(|log| log.messages.as_deref().map(|raw| Cow::Borrowed(raw.get()))),
        ),
        Column::new(
            "response",
            Json(|log| log.response.as_deref().map(|raw| Cow::Borrowed(raw.get()))),
        ),
        Column::new(
            "api_key_alias",
            Text(|log| log.owner.api_key_alias.as_deref()),
        ),
        Column::new("team_id", Text(|log| log.owner.team_id.as_deref())),
        Column::new("team_alias", Text(|log| log.owner.team_alias.as_deref())),
        // `user` is a reserved word in PostgreSQL; shown under LiteLLM's name.
        Column::new("user_id", Text(|log| log.owner.user_id.as_deref())).shown_as("user"),
    ]
};

/// An optional float as a bind value; the SQL reads it back with `NULLIF(…, -1)` (costs,
/// budgets and durations are never negative). sqlx's `Any` driver sends a NULL `f64` to
/// PostgreSQL typed as a 4-byte float, and a cached statement first run with a NULL then
/// rejects the 8-byte value of a later run ("incorrect binary data format"): a cost-less row
/// would make every later batch fail. Binding a float every time keeps the type fixed.
pub(super) fn nullable_float(value: Option<f64>) -> f64 {
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
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let mut sql = format!("INSERT INTO spend_logs ({}) VALUES ", names.join(", "));
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for (i, column) in COLUMNS.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let nullable = matches!(column.value, ColumnValue::OptionalFloat(_));
            if nullable {
                sql.push_str("NULLIF(");
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&(row * COLUMNS.len() + i + 1).to_string());
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

/// The insert statement for each of [`CHUNK_ROWS`] (rows, SQL), largest first, built once per
/// database kind. The last takes one row, so a statement fits whatever is left of a batch.
pub(super) fn insert_statements(sqlite: bool) -> &'static [(usize, String)] {
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

/// The values of `logs` for an insert of that many rows, row after row, each in [`COLUMNS`]
/// order. Added to one argument list sized up front, rather than bound one by one to the query.
pub(super) fn row_arguments(logs: &[Arc<RequestLog>]) -> Result<AnyArguments<'_>, BoxDynError> {
    let mut args = AnyArguments::default();
    args.reserve(logs.len() * COLUMNS.len(), 0);
    for log in logs {
        for column in COLUMNS {
            match column.value {
                ColumnValue::Text(get) => args.add(get(log))?,
                ColumnValue::Int(get) => args.add(get(log))?,
                ColumnValue::Flag(get) => args.add(i64::from(get(log)))?,
                ColumnValue::Float(get) => args.add(get(log))?,
                ColumnValue::OptionalFloat(get) => args.add(nullable_float(get(log)))?,
                ColumnValue::Time(get) => args.add(get(log))?,
                ColumnValue::Json(get) => match get(log) {
                    Some(Cow::Borrowed(text)) => args.add(Some(text))?,
                    Some(Cow::Owned(text)) => args.add(Some(text))?,
                    None => args.add(None::<&str>)?,
                },
            }
        }
    }
    Ok(args)
}

/// A spend-log row as JSON, with LiteLLM's column names; JSON columns parsed back.
pub(super) fn row_json(row: &AnyRow) -> Value {
    let text = |name: &str| row.try_get::<Option<String>, _>(name).ok().flatten();
    let int = |name: &str| row.try_get::<Option<i64>, _>(name).ok().flatten();
    let float = |name: &str| row.try_get::<Option<f64>, _>(name).ok().flatten();
    let mut out = serde_json::Map::new();
    for column in shown_order() {
        let name = column.name;
        let value = match column.value {
            ColumnValue::Text(_) => text(name).map_or(Value::Null, Value::String),
            ColumnValue::Int(_) => int(name).map_or(Value::Null, Value::from),
            ColumnValue::Flag(_) => Value::Bool(int(name).unwrap_or(0) != 0),
            ColumnValue::Float(_) | ColumnValue::OptionalFloat(_) => {
                float(name).map_or(Value::Null, Value::from)
            }
            ColumnValue::Time(_) => int(name).map_or(Value::Null, |ms| Value::String(rfc3339(ms))),
            ColumnValue::Json(_) => text(name)
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null),
        };
        out.insert(column.key.into(), value);
    }
    Value::Object(out)
}

/// [`COLUMNS`] in the order `GET /spend/logs` shows them (see [`ColumnValue::shown_rank`]).
fn shown_order() -> &'static [&'static Column] {
    static ORDER: std::sync::OnceLock<Vec<&'static Column>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        let mut columns: Vec<&Column> = COLUMNS.iter().collect();
        // Stable: table order within each kind.
        columns.sort_by_key(|c| c.value.shown_rank());
        columns
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::spend::{SpendStore, sqlite_url};

    #[tokio::test]
    async fn the_columns_are_those_of_the_migrated_table_in_order() {
        let dir =
            std::env::temp_dir().join(format!("switchyard-spend-columns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SpendStore::open(&sqlite_url(&dir.join("spend.db")))
            .await
            .unwrap();
        let table: Vec<String> =
            sqlx::query("SELECT name FROM pragma_table_info('spend_logs') ORDER BY cid")
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get("name").unwrap())
                .collect();
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        let declared: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(table, declared);
    }

    #[test]
    fn each_row_binds_one_value_per_placeholder() {
        let logs: Vec<Arc<RequestLog>> = (0..3)
            .map(|n| {
                Arc::new(RequestLog {
                    request_id: format!("req-{n}"),
                    ..RequestLog::default()
                })
            })
            .collect();
        let bound = row_arguments(&logs).unwrap().len();
        assert_eq!(bound, 3 * COLUMNS.len());
        for sqlite in [true, false] {
            let sql = insert_sql(3, sqlite);
            let placeholders = if sqlite {
                sql.matches('?').count()
            } else {
                sql.matches('$').count()
            };
            assert_eq!(placeholders, bound, "{sql}");
        }
        assert!(insert_sql(2, false).contains("NULLIF($25, -1), $26"));
    }

    #[test]
    fn every_column_is_shown_once_under_its_key() {
        let shown: Vec<&str> = shown_order().iter().map(|c| c.key).collect();
        assert_eq!(shown.len(), COLUMNS.len());
        let mut unique = shown.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), shown.len());
        // Times are shown under LiteLLM's camel-case keys.
        assert!(shown.contains(&"startTime") && !shown.contains(&"start_time"));
    }
}
