//! The state store on the database: responses (each row holding its body and its own input
//! items; its output items indexed apart, by id and call id, for look-ups), conversations and
//! their items.
//!
//! Saving a response is on the way to the client's terminal event, so saves are group
//! committed: a writer task takes every save waiting when it starts a transaction, writes them
//! together and answers each. One request alone pays one commit; many at once share it.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Row, Transaction};
use switchyard::providers::BoxFuture;
use switchyard::state::context::{call_id, own_items, owned};
use switchyard::state::{ConversationRecord, ResponseRecord, StateStore, StoreError, StoredItem};
use switchyard_types::JsonMap;
use switchyard_types::responses::{Item, Response};
use tokio::sync::{mpsc, oneshot};

use crate::Database;

/// Saves written in one transaction at most.
const SAVES_PER_COMMIT: usize = 64;
/// Saves waiting for the writer at most; past it a save waits for room.
const SAVE_QUEUE: usize = 4_096;
/// How often the WAL is checkpointed on SQLite (see [`checkpoint_loop`]).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

type Save = (ResponseRecord, oneshot::Sender<Result<(), StoreError>>);

/// A [`StateStore`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStateStore {
    db: Database,
    saves: mpsc::Sender<Save>,
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("database: {e}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(failed)
}

/// A stored response's body: the JSON the gateway already wrote for it, else its own.
fn response_body(record: &ResponseRecord) -> Result<String, StoreError> {
    let json = match &record.json {
        Some(json) => json.to_vec(),
        None => record.response.to_json().map_err(failed)?,
    };
    // serde_json writes only valid UTF-8.
    String::from_utf8(json).map_err(failed)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| failed(format!("a stored value does not parse: {e}")))
}

/// A stored body: its items read straight from the text (see [`Response::from_json`]).
fn response_from_json(text: &str) -> Result<Response, StoreError> {
    Response::from_json(text).map_err(|e| failed(format!("a stored value does not parse: {e}")))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl SqlStateStore {
    /// The store on `db`; starts its writer (call inside a Tokio runtime).
    pub fn new(db: Database) -> SqlStateStore {
        let (saves, queue) = mpsc::channel(SAVE_QUEUE);
        tokio::spawn(write_loop(db.clone(), queue));
        if db.is_sqlite() {
            tokio::spawn(checkpoint_loop(db.clone(), saves.downgrade()));
        }
        SqlStateStore { db, saves }
    }

    fn record_of(row: &AnyRow) -> Result<ResponseRecord, StoreError> {
        let response = response_from_json(&row.try_get::<String, _>("body").map_err(failed)?)?;
        let input = match row.try_get::<Option<String>, _>("input").map_err(failed)? {
            Some(text) => from_json(&text)?,
            None => Vec::new(),
        };
        Ok(ResponseRecord {
            input,
            owner: row.try_get("owner").map_err(failed)?,
            conversation_id: row.try_get("conversation_id").map_err(failed)?,
            expires_at: row.try_get::<i64, _>("expires_at").map_err(failed)?.max(0) as u64,
            lease_until: row
                .try_get::<Option<i64>, _>("lease_until")
                .map_err(failed)?
                .map(|t| t.max(0) as u64),
            response,
            json: None,
        })
    }

    async fn load_response(&self, id: &str) -> Result<Option<ResponseRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT body, input, owner, conversation_id, expires_at, lease_until FROM responses \
             WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now())
        .fetch_optional(self.db.pool())
        .await
        .map_err(failed)?;
        match row {
            Some(row) => Ok(Some(Self::record_of(&row)?)),
            None => Ok(None),
        }
    }

    async fn load_chain(&self, id: &str, limit: usize) -> Result<Vec<ResponseRecord>, StoreError> {
        // One round trip for the whole chain, however long; the depth bound also stops a cycle.
        let rows = sqlx::query(
            "WITH RECURSIVE chain(id, previous, depth) AS ( \
               SELECT id, previous_response_id, 0 FROM responses WHERE id = $1 AND expires_at > $2 \
               UNION ALL \
               SELECT r.id, r.previous_response_id, c.depth + 1 FROM responses r \
               JOIN chain c ON r.id = c.previous WHERE r.expires_at > $3 AND c.depth + 1 < $4 \
             ) \
             SELECT r.body, r.input, r.owner, r.conversation_id, r.expires_at, r.lease_until \
             FROM chain c \
             JOIN responses r ON r.id = c.id ORDER BY c.depth",
        )
        .bind(id)
        .bind(now())
        .bind(now())
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(self.db.pool())
        .await
        .map_err(failed)?;
        rows.iter().map(Self::record_of).collect()
    }

    /// The output of the newest unexpired response of `owner` (`None`: any) with an output
    /// item matching `column = value`, and that item's position in it.
    async fn find_output(
        &self,
        column: &str,
        value: &str,
        owner: Option<&str>,
    ) -> Result<Option<(Vec<Item>, usize)>, StoreError> {
        let mut sql = format!(
            "SELECT ri.position, r.body FROM response_items ri \
             JOIN responses r ON r.id = ri.response_id \
             WHERE ri.{column} = $1 AND r.expires_at > $2"
        );
        if owner.is_some() {
            sql.push_str(" AND r.owner = $3");
        }
        sql.push_str(" ORDER BY r.created_at DESC LIMIT 1");
        let mut query = sqlx::query(&sql).bind(value.to_string()).bind(now());
        if let Some(owner) = owner {
            query = query.bind(owner.to_string());
        }
        let row = query.fetch_optional(self.db.pool()).await.map_err(failed)?;
        row.map(|row| -> Result<_, StoreError> {
            let position: i64 = row.try_get("position").map_err(failed)?;
            let response = response_from_json(&row.try_get::<String, _>("body").map_err(failed)?)?;
            Ok((response.output, position.max(0) as usize))
        })
        .transpose()
    }
}

fn stored_item(row: &AnyRow) -> Result<StoredItem, StoreError> {
    Ok(StoredItem {
        id: row.try_get("item_id").map_err(failed)?,
        item: from_json(&row.try_get::<String, _>("body").map_err(failed)?)?,
    })
}

async fn write_loop(db: Database, mut queue: mpsc::Receiver<Save>) {
    // One connection of its own, kept: taken from the pool for every commit, the writer paid a
    // ping round trip to SQLite's thread per commit and landed on connections whose page
    // cache another connection's write had just made stale (re-read with `pread`).
    let mut conn: Option<PoolConnection<Any>> = None;
    let mut stats = WriterStats::default();
    // Closing the pool waits for every connection to come back: the writer gives its own
    // back and stops (saves then fail: the database is closed).
    let closed = db.pool().close_event();
    tokio::pin!(closed);
    loop {
        let waiting = std::time::Instant::now();
        let first = tokio::select! {
            biased;
            () = &mut closed => break,
            save = queue.recv() => match save {
                Some(save) => save,
                None => break,
            },
        };
        stats.idle += waiting.elapsed();
        let mut batch = vec![first];
        while batch.len() < SAVES_PER_COMMIT {
            match queue.try_recv() {
                Ok(save) => batch.push(save),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = write_batch(&db, &mut conn, batch.iter().map(|(record, _)| record)).await;
        stats.wrote(batch.len(), started.elapsed());
        if result.is_err() {
            // The connection may be what failed (a PostgreSQL server restarted): the next
            // commit takes a fresh one.
            if let Some(conn) = conn.take() {
                let _ = conn.close().await;
            }
        }
        for (_, ack) in batch {
            let _ = ack.send(result.clone());
        }
    }
}

/// What the writer did over the last second or so, logged at debug level
/// (`RUST_LOG=switchyard_store=debug`): a writer busy all the time is the gateway's limit.
#[derive(Default)]
struct WriterStats {
    since: Option<std::time::Instant>,
    commits: u64,
    saves: u64,
    idle: std::time::Duration,
    busy: std::time::Duration,
    longest: std::time::Duration,
}

impl WriterStats {
    fn wrote(&mut self, saves: usize, took: std::time::Duration) {
        self.commits += 1;
        self.saves += saves as u64;
        self.busy += took;
        self.longest = self.longest.max(took);
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= std::time::Duration::from_secs(1) {
            tracing::debug!(
                commits = self.commits,
                saves = self.saves,
                idle_ms = self.idle.as_millis() as u64,
                busy_ms = self.busy.as_millis() as u64,
                longest_commit_ms = self.longest.as_millis() as u64,
                "response store writer"
            );
            *self = WriterStats::default();
        }
    }
}

/// Checkpoints SQLite's WAL from a pool connection, off the writer: SQLite's automatic
/// checkpoint runs in whichever connection commits past 1,000 WAL pages — at a few thousand
/// saves a second several times a second, each with two `fsync`s, inside a save's commit and so
/// in front of every response waiting for it. The writer's own connection has it switched off;
/// a passive checkpoint runs alongside writers and never blocks them. Ends with the store.
async fn checkpoint_loop(db: Database, store: mpsc::WeakSender<Save>) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if store.upgrade().is_none() || db.pool().is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(db.pool())
            .await
        {
            tracing::debug!(error = %e, "WAL checkpoint failed");
        }
    }
}

async fn write_batch<'a>(
    db: &Database,
    conn: &mut Option<PoolConnection<Any>>,
    records: impl Iterator<Item = &'a ResponseRecord>,
) -> Result<(), StoreError> {
    // Each record's own items, collected once, so that an output item given a minted id has
    // the same one in its index row and in its conversation.
    let saves: Vec<(&ResponseRecord, Vec<OwnItem<'a>>)> =
        records.map(|r| (r, own_items(r).collect())).collect();
    let _writing = db.write_lock().await;
    let conn = match conn {
        Some(conn) => conn,
        None => {
            let mut fresh = db.pool().acquire().await.map_err(failed)?;
            if db.is_sqlite() {
                sqlx::query("PRAGMA wal_autocheckpoint=0")
                    .execute(&mut *fresh)
                    .await
                    .map_err(failed)?;
            }
            conn.insert(fresh)
        }
    };
    let mut tx = conn.begin().await.map_err(failed)?;
    // Each statement is a round trip to the database's thread (SQLite) or server: a batch of
    // plain saves goes out as a few multi-row statements rather than four or more per
    // response (which held the store near 2,000 saves a second on two cores). Saves that
    // touch a conversation, or save one response twice, go one by one: their order matters.
    let plain = saves.iter().all(|(r, _)| r.conversation_id.is_none())
        && saves
            .iter()
            .map(|(r, _)| r.id())
            .collect::<std::collections::HashSet<_>>()
            .len()
            == saves.len();
    if plain {
        write_responses(&mut tx, &saves, db.is_sqlite()).await?;
    } else {
        for save in &saves {
            write_responses(&mut tx, std::slice::from_ref(save), db.is_sqlite()).await?;
            let (record, own) = save;
            if let Some(conversation) = record.conversation_id.as_deref() {
                append(&mut tx, conversation, &owned(own.iter().cloned())).await?;
            }
        }
    }
    tx.commit().await.map_err(failed)
}

/// One of a response's own items: (side, position in that side, stored id, item), as
/// [`own_items`] gives them.
type OwnItem<'a> = (&'static str, usize, String, &'a Item);

/// A value bound to a multi-row statement.
enum Bound {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    MaybeInt(Option<i64>),
}

/// The rows of the next multi-row statement out of `left`: every count up to 16 has its own
/// statement (a group commit of up to 16 saves sends one statement per table), then 32 and 64.
/// A few fixed shapes, so that the writer's connection prepares each once and reuses it.
fn rows_per_statement(left: usize) -> usize {
    match left {
        64.. => 64,
        32.. => 32,
        16.. => 16,
        n => n,
    }
}

/// Runs `head VALUES (row), (row)… tail` over `rows` in chunks of [`rows_per_statement`];
/// `row` is one row's placeholders with `?` for each value (numbered `$N` for PostgreSQL).
/// Returns the rows changed.
async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    sqlite: bool,
    head: &str,
    row: &str,
    tail: &str,
    mut rows: &[Vec<Bound>],
) -> Result<u64, StoreError> {
    let mut changed = 0;
    while !rows.is_empty() {
        let n = rows_per_statement(rows.len());
        let (chunk, rest) = rows.split_at(n);
        let mut sql = String::with_capacity(head.len() + n * (row.len() + 8) + tail.len());
        sql.push_str(head);
        sql.push_str(" VALUES ");
        let mut number = 0;
        for i in 0..n {
            if i > 0 {
                sql.push_str(", ");
            }
            for piece in row.split_inclusive('?') {
                match piece.strip_suffix('?') {
                    Some(text) => {
                        sql.push_str(text);
                        number += 1;
                        if sqlite {
                            sql.push('?');
                        } else {
                            sql.push('$');
                            sql.push_str(&number.to_string());
                        }
                    }
                    None => sql.push_str(piece),
                }
            }
        }
        sql.push(' ');
        sql.push_str(tail);
        let mut query = sqlx::query(&sql);
        for values in chunk {
            for value in values {
                query = match value {
                    Bound::Text(v) => query.bind(v.clone()),
                    Bound::MaybeText(v) => query.bind(v.clone()),
                    Bound::Int(v) => query.bind(*v),
                    Bound::MaybeInt(v) => query.bind(*v),
                };
            }
        }
        changed += query
            .execute(&mut **tx)
            .await
            .map_err(failed)?
            .rows_affected();
        rows = rest;
    }
    Ok(changed)
}

/// Writes responses (no id twice) and their output items' index rows inside `tx`.
///
/// A response is almost always saved once, so its row is inserted as new, and only when some
/// were saved before (a background response: running, then final) are those rows updated and
/// their old item rows deleted. On SQLite the inserts say `OR ROLLBACK`: a multi-row statement
/// that may fail half-way (`OR ABORT`, the default) makes SQLite keep a statement journal, a
/// copy of every page the statement touches, to undo just that statement; with `OR ROLLBACK` a
/// failure ends the whole transaction instead, which fails every save of the batch as an
/// aborted statement did. (`NULLIF`, like any function call, would bring the journal back: the
/// lease's NULL is bound as such on SQLite.)
async fn write_responses(
    tx: &mut Transaction<'_, Any>,
    saves: &[(&ResponseRecord, Vec<OwnItem<'_>>)],
    sqlite: bool,
) -> Result<(), StoreError> {
    let mut responses = Vec::with_capacity(saves.len());
    let mut items = Vec::new();
    for (record, own) in saves {
        let id = record.id();
        let lease = record.lease_until.map(|t| t.min(i64::MAX as u64) as i64);
        responses.push(vec![
            Bound::Text(id.to_string()),
            Bound::MaybeText(record.owner.clone()),
            Bound::MaybeText(record.response.previous_response_id.clone()),
            Bound::MaybeText(record.conversation_id.clone()),
            Bound::Int(record.response.created_at as i64),
            Bound::Int(record.expires_at.min(i64::MAX as u64) as i64),
            Bound::Text(response_body(record)?),
            Bound::Text(to_json(&record.input)?),
            // sqlx's `Any` driver types a NULL by its first use, and PostgreSQL then refuses
            // the statement's later values: there the lease is sent as -1 for NULL.
            if sqlite {
                Bound::MaybeInt(lease)
            } else {
                Bound::Int(lease.unwrap_or(-1))
            },
        ]);
        for (_, position, item_id, item) in own.iter().filter(|(side, ..)| *side == "output") {
            items.push(vec![
                Bound::Text(id.to_string()),
                Bound::Int(*position as i64),
                Bound::Text(item_id.clone()),
                Bound::MaybeText(call_id(item).map(str::to_string)),
            ]);
        }
    }
    let (insert, lease) = if sqlite {
        ("INSERT OR ROLLBACK", "?")
    } else {
        ("INSERT", "NULLIF(?, -1)")
    };
    let inserted = insert_rows(
        tx,
        sqlite,
        &format!(
            "{insert} INTO responses (id, owner, previous_response_id, conversation_id, \
             created_at, expires_at, body, input, lease_until)"
        ),
        &format!("(?, ?, ?, ?, ?, ?, ?, ?, {lease})"),
        "ON CONFLICT (id) DO NOTHING",
        &responses,
    )
    .await?;
    if inserted < saves.len() as u64 {
        // Saved before: its row is updated (set again for the ones just inserted, which is
        // harmless) and its item rows go. Item rows exist only with their response's row.
        // Telling the two apart with `RETURNING id` would cost every save, not just this
        // rare one (measured: +12k instructions per save on SQLite's thread).
        for (record, _) in saves {
            update_response(tx, record).await?;
        }
        delete_items(tx, sqlite, saves.iter().map(|(r, _)| r.id())).await?;
    }
    insert_rows(
        tx,
        sqlite,
        &format!("{insert} INTO response_items (response_id, position, item_id, call_id)"),
        "(?, ?, ?, ?)",
        "",
        &items,
    )
    .await?;
    Ok(())
}

/// Sets a saved response's row to `record` (what a save replaces).
async fn update_response(
    tx: &mut Transaction<'_, Any>,
    record: &ResponseRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE responses SET body = $1, input = $2, expires_at = $3, \
         lease_until = NULLIF($4, -1) WHERE id = $5",
    )
    .bind(response_body(record)?)
    .bind(to_json(&record.input)?)
    .bind(record.expires_at.min(i64::MAX as u64) as i64)
    .bind(
        record
            .lease_until
            .map_or(-1, |t| t.min(i64::MAX as u64) as i64),
    )
    .bind(record.id().to_string())
    .execute(&mut **tx)
    .await
    .map_err(failed)?;
    Ok(())
}

/// Deletes the item rows of responses `ids`, in a few statements.
async fn delete_items<'a>(
    tx: &mut Transaction<'_, Any>,
    sqlite: bool,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = ids.collect();
    let mut rest = &ids[..];
    while !rest.is_empty() {
        let n = rows_per_statement(rest.len());
        let (chunk, after) = rest.split_at(n);
        let marks: Vec<String> = (1..=n)
            .map(|i| {
                if sqlite {
                    "?".to_string()
                } else {
                    format!("${i}")
                }
            })
            .collect();
        let sql = format!(
            "DELETE FROM response_items WHERE response_id IN ({})",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        query.execute(&mut **tx).await.map_err(failed)?;
        rest = after;
    }
    Ok(())
}

/// Appends to a conversation inside `tx`; false when it does not exist. Touching the
/// conversation's row first takes its lock, so concurrent appends number their items one
/// after the other.
async fn append(
    tx: &mut Transaction<'_, Any>,
    conversation: &str,
    items: &[StoredItem],
) -> Result<bool, StoreError> {
    let touched = sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(conversation)
        .execute(&mut **tx)
        .await
        .map_err(failed)?;
    if touched.rows_affected() == 0 {
        return Ok(false);
    }
    let next: i64 = sqlx::query(
        "SELECT COALESCE(MAX(position), -1) + 1 AS next FROM conversation_items \
         WHERE conversation_id = $1",
    )
    .bind(conversation)
    .fetch_one(&mut **tx)
    .await
    .map_err(failed)?
    .try_get("next")
    .map_err(failed)?;
    for (offset, stored) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO conversation_items (conversation_id, position, item_id, body) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(conversation)
        .bind(next + offset as i64)
        .bind(stored.id.clone())
        .bind(to_json(&stored.item)?)
        .execute(&mut **tx)
        .await
        .map_err(failed)?;
    }
    Ok(true)
}

impl StateStore for SqlStateStore {
    fn save_response(&self, record: ResponseRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let (ack, done) = oneshot::channel();
            self.saves
                .send((record, ack))
                .await
                .map_err(|_| StoreError("the state writer has stopped".into()))?;
            done.await
                .map_err(|_| StoreError("the state writer has stopped".into()))?
        })
    }

    fn response<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ResponseRecord>, StoreError>> {
        Box::pin(self.load_response(id))
    }

    fn chain<'a>(
        &'a self,
        id: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ResponseRecord>, StoreError>> {
        Box::pin(self.load_chain(id, limit))
    }

    fn delete_response<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut tx = self.db.pool().begin().await.map_err(failed)?;
            let deleted = sqlx::query("DELETE FROM responses WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(failed)?
                .rows_affected();
            for table in ["response_items", "response_events"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE response_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
            tx.commit().await.map_err(failed)?;
            Ok(deleted > 0)
        })
    }

    fn find_call<'a>(
        &'a self,
        call: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<Item>>, StoreError>> {
        Box::pin(async move {
            let Some((output, position)) = self.find_output("call_id", call, owner).await? else {
                return Ok(None);
            };
            let at = position.min(output.len().saturating_sub(1));
            let start = output[..at]
                .iter()
                .rposition(|i| !matches!(i, Item::Reasoning(_)))
                .map_or(0, |i| i + 1);
            Ok(output.get(start..=at).map(<[Item]>::to_vec))
        })
    }

    fn find_output_item<'a>(
        &'a self,
        wanted: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Item>, StoreError>> {
        Box::pin(async move {
            Ok(self.find_output("item_id", wanted, owner).await?.and_then(
                |(mut output, position)| {
                    (position < output.len()).then(|| output.swap_remove(position))
                },
            ))
        })
    }

    fn create_conversation(
        &self,
        conversation: ConversationRecord,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.db.pool().begin().await.map_err(failed)?;
            sqlx::query(
                "INSERT INTO conversations (id, owner, created_at, updated_at, metadata) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(conversation.id.clone())
            .bind(conversation.owner.clone())
            .bind(conversation.created_at as i64)
            .bind(conversation.created_at as i64)
            .bind(to_json(&conversation.metadata)?)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
            append(&mut tx, &conversation.id, &items).await?;
            tx.commit().await.map_err(failed)
        })
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, owner, created_at, metadata FROM conversations WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(failed)?;
            row.map(|row| -> Result<ConversationRecord, StoreError> {
                Ok(ConversationRecord {
                    id: row.try_get("id").map_err(failed)?,
                    owner: row.try_get("owner").map_err(failed)?,
                    created_at: row.try_get::<i64, _>("created_at").map_err(failed)?.max(0) as u64,
                    metadata: from_json::<JsonMap>(
                        &row.try_get::<String, _>("metadata").map_err(failed)?,
                    )?,
                })
            })
            .transpose()
        })
    }

    fn update_conversation<'a>(
        &'a self,
        id: &'a str,
        metadata: JsonMap,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let updated = sqlx::query(
                "UPDATE conversations SET metadata = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(to_json(&Value::Object(metadata))?)
            .bind(now())
            .bind(id)
            .execute(self.db.pool())
            .await
            .map_err(failed)?;
            Ok(updated.rows_affected() > 0)
        })
    }

    fn delete_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut tx = self.db.pool().begin().await.map_err(failed)?;
            let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(failed)?
                .rows_affected();
            sqlx::query("DELETE FROM conversation_items WHERE conversation_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            Ok(deleted > 0)
        })
    }

    fn append_items<'a>(
        &'a self,
        conversation_id: &'a str,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut tx = self.db.pool().begin().await.map_err(failed)?;
            let appended = append(&mut tx, conversation_id, &items).await?;
            tx.commit().await.map_err(failed)?;
            Ok(appended)
        })
    }

    fn conversation_items<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredItem>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT item_id, body FROM conversation_items WHERE conversation_id = $1 \
                 ORDER BY position",
            )
            .bind(conversation_id)
            .fetch_all(self.db.pool())
            .await
            .map_err(failed)?;
            rows.iter().map(stored_item).collect()
        })
    }

    fn delete_item<'a>(
        &'a self,
        conversation_id: &'a str,
        wanted: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let deleted = sqlx::query(
                "DELETE FROM conversation_items WHERE conversation_id = $1 AND item_id = $2",
            )
            .bind(conversation_id)
            .bind(wanted)
            .execute(self.db.pool())
            .await
            .map_err(failed)?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let now = now.min(i64::MAX as u64) as i64;
            let mut tx = self.db.pool().begin().await.map_err(failed)?;
            for table in ["response_items", "response_events"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE response_id IN \
                     (SELECT id FROM responses WHERE expires_at <= $1)"
                ))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            }
            let purged = sqlx::query("DELETE FROM responses WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(failed)?
                .rows_affected();
            tx.commit().await.map_err(failed)?;
            Ok(purged)
        })
    }

    fn append_events<'a>(
        &'a self,
        response_id: &'a str,
        events: Vec<(u64, String)>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.db.pool().begin().await.map_err(failed)?;
            for (sequence, body) in events {
                // A retried append writes what is already there: keep the first copy.
                sqlx::query(
                    "INSERT INTO response_events (response_id, sequence_number, body) \
                     VALUES ($1, $2, $3) ON CONFLICT (response_id, sequence_number) DO NOTHING",
                )
                .bind(response_id)
                .bind(sequence.min(i64::MAX as u64) as i64)
                .bind(body)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            }
            tx.commit().await.map_err(failed)
        })
    }

    fn events_after<'a>(
        &'a self,
        response_id: &'a str,
        after: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<(u64, String)>, StoreError>> {
        Box::pin(async move {
            let after = after.map_or(-1, |a| a.min(i64::MAX as u64) as i64);
            let rows = sqlx::query(
                "SELECT sequence_number, body FROM response_events \
                 WHERE response_id = $1 AND sequence_number > $2 ORDER BY sequence_number",
            )
            .bind(response_id)
            .bind(after)
            .fetch_all(self.db.pool())
            .await
            .map_err(failed)?;
            rows.iter()
                .map(|row| -> Result<(u64, String), StoreError> {
                    let n: i64 = row.try_get("sequence_number").map_err(failed)?;
                    Ok((n.max(0) as u64, row.try_get("body").map_err(failed)?))
                })
                .collect()
        })
    }

    fn renew_lease<'a>(
        &'a self,
        response_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(
                "UPDATE responses SET lease_until = $1 WHERE id = $2 AND lease_until IS NOT NULL",
            )
            .bind(until.min(i64::MAX as u64) as i64)
            .bind(response_id)
            .execute(self.db.pool())
            .await
            .map_err(failed)?;
            Ok(())
        })
    }

    fn request_cancel<'a>(&'a self, response_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("UPDATE responses SET cancel_requested = 1 WHERE id = $1")
                .bind(response_id)
                .execute(self.db.pool())
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn cancel_requested<'a>(
        &'a self,
        response_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT cancel_requested FROM responses WHERE id = $1")
                .bind(response_id)
                .fetch_optional(self.db.pool())
                .await
                .map_err(failed)?;
            Ok(match row {
                Some(row) => row.try_get::<i64, _>("cancel_requested").map_err(failed)? != 0,
                None => false,
            })
        })
    }
}
