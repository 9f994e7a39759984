//! One contract for every state store: in memory, SQLite and PostgreSQL (the server of
//! `SWITCHYARD_TEST_DATABASE_URL`, which `scripts/test.sh` sets).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::Row;
use switchyard::state::{ConversationRecord, MemoryStore, ResponseRecord, StateStore, StoredItem};
use switchyard_store::{Database, SqlStateStore};
use switchyard_types::JsonMap;
use switchyard_types::responses::{Item, Response};

fn item(value: Value) -> Item {
    serde_json::from_value(value).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn record(id: &str, previous: Option<&str>, owner: Option<&str>, output: Value) -> ResponseRecord {
    let mut response: Response = serde_json::from_value(json!({"id": id, "object": "response",
        "created_at": now(), "status": "completed", "model": "m", "output": output}))
    .unwrap();
    response.previous_response_id = previous.map(str::to_string);
    ResponseRecord {
        response,
        input: vec![StoredItem {
            id: format!("msg_in_{id}"),
            item: item(json!({"type": "message", "role": "user", "content": format!("q {id}")})),
        }],
        owner: owner.map(str::to_string),
        conversation_id: None,
        expires_at: now() + 3600,
        lease_until: None,
        json: None,
    }
}

fn ids(chain: &[ResponseRecord]) -> Vec<&str> {
    chain.iter().map(|r| r.id()).collect()
}

async fn contract(store: Arc<dyn StateStore>) {
    let tag = format!("{:x}", fastrand_u64());
    let a = format!("resp_a{tag}");
    let b = format!("resp_b{tag}");
    let c = format!("resp_c{tag}");
    let call = format!("call_{tag}");
    store
        .save_response(record(&a, None, Some("alice"), json!([])))
        .await
        .unwrap();
    store
        .save_response(record(&b, Some(&a), Some("alice"), json!([
            {"type": "reasoning", "id": format!("rs_{tag}"), "summary": [], "encrypted_content": "swy1.gemini.sig"},
            {"type": "function_call", "id": format!("fc_{tag}"), "call_id": call, "name": "f", "arguments": "{}"}
        ])))
        .await
        .unwrap();
    store
        .save_response(record(&c, Some(&b), Some("alice"), json!([])))
        .await
        .unwrap();

    // Round trip, blobs and own input kept.
    let got = store.response(&b).await.unwrap().expect("stored");
    assert_eq!(got.owner.as_deref(), Some("alice"));
    assert_eq!(got.input[0].id, format!("msg_in_{b}"));
    let out = serde_json::to_value(&got.response.output).unwrap();
    assert_eq!(out[0]["encrypted_content"], "swy1.gemini.sig");
    assert_eq!(
        got.response.previous_response_id.as_deref(),
        Some(a.as_str())
    );

    // Chains, newest first, bounded.
    assert_eq!(ids(&store.chain(&c, 100).await.unwrap()), [&c, &b, &a]);
    assert_eq!(ids(&store.chain(&c, 2).await.unwrap()), [&c, &b]);
    assert!(store.chain("resp_missing", 100).await.unwrap().is_empty());

    // A call and the reasoning before it, by call id; owners filter.
    let found = store
        .find_call(&call, Some("alice"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.len(), 2);
    assert!(matches!(found[0], Item::Reasoning(_)));
    assert!(store.find_call(&call, Some("bob")).await.unwrap().is_none());
    assert!(store.find_call(&call, None).await.unwrap().is_some());
    let reasoning = store
        .find_output_item(&format!("rs_{tag}"), None)
        .await
        .unwrap()
        .expect("found by id");
    assert!(matches!(reasoning, Item::Reasoning(_)));

    // Delete.
    assert!(store.delete_response(&c).await.unwrap());
    assert!(!store.delete_response(&c).await.unwrap());
    assert!(store.response(&c).await.unwrap().is_none());

    // Many saves at once (written together in one transaction by the SQL store): each keeps
    // its own input, output, owner and chain link, a call is found by its id, and saving a
    // response again replaces its items.
    let mut saves = tokio::task::JoinSet::new();
    for i in 0..100 {
        let store = store.clone();
        let id = format!("resp_many{i}_{tag}");
        let previous = (i > 0).then(|| format!("resp_many{}_{tag}", i - 1));
        let output = json!([
            {"type": "message", "id": format!("msg_out{i}_{tag}"), "role": "assistant",
             "content": [{"type": "output_text", "text": format!("answer {i}")}]},
            {"type": "function_call", "id": format!("fc{i}_{tag}"), "call_id": format!("call{i}_{tag}"),
             "name": "f", "arguments": "{}"}
        ]);
        let owner = if i % 2 == 0 { "alice" } else { "bob" };
        saves.spawn(async move {
            store
                .save_response(record(&id, previous.as_deref(), Some(owner), output))
                .await
        });
    }
    while let Some(saved) = saves.join_next().await {
        saved.unwrap().unwrap();
    }
    for i in [0, 1, 37, 99] {
        let id = format!("resp_many{i}_{tag}");
        let got = store.response(&id).await.unwrap().expect("stored");
        assert_eq!(got.input.len(), 1);
        assert_eq!(got.input[0].id, format!("msg_in_{id}"));
        assert_eq!(got.response.output.len(), 2);
        assert_eq!(
            serde_json::to_value(&got.response.output).unwrap()[0]["content"][0]["text"],
            format!("answer {i}")
        );
        assert_eq!(
            got.owner.as_deref(),
            Some(if i % 2 == 0 { "alice" } else { "bob" })
        );
        let owner = got.owner.clone();
        let call = store
            .find_call(&format!("call{i}_{tag}"), owner.as_deref())
            .await
            .unwrap()
            .expect("found by call id");
        assert!(matches!(call.last(), Some(Item::FunctionCall(_))));
    }
    assert_eq!(
        store
            .chain(&format!("resp_many99_{tag}"), 1000)
            .await
            .unwrap()
            .len(),
        100
    );
    let again = format!("resp_many5_{tag}");
    store
        .save_response(record(&again, None, Some("bob"), json!([])))
        .await
        .unwrap();
    let got = store.response(&again).await.unwrap().expect("stored");
    assert!(got.response.output.is_empty());
    assert!(
        store
            .find_call(&format!("call5_{tag}"), None)
            .await
            .unwrap()
            .is_none()
    );

    // Saved again together with new ones (one batch may hold both): the saved-again ones get
    // their new output, their old items are no longer found, the new ones are kept.
    let mut saves = tokio::task::JoinSet::new();
    for i in 10..30 {
        let store = store.clone();
        let id = format!("resp_many{i}_{tag}");
        let id = if i >= 20 { format!("{id}new") } else { id };
        // Saving again keeps the owner.
        let owner = if i < 20 && i % 2 == 1 { "bob" } else { "alice" };
        let output = json!([
            {"type": "function_call", "id": format!("fc{i}b_{tag}"), "call_id": format!("call{i}b_{tag}"),
             "name": "g", "arguments": "{}"}
        ]);
        saves.spawn(async move {
            store
                .save_response(record(&id, None, Some(owner), output))
                .await
        });
    }
    while let Some(saved) = saves.join_next().await {
        saved.unwrap().unwrap();
    }
    for i in 10..30 {
        let id = format!("resp_many{i}_{tag}");
        let id = if i >= 20 { format!("{id}new") } else { id };
        let got = store.response(&id).await.unwrap().expect("stored");
        assert_eq!(got.response.output.len(), 1);
        let found = store
            .find_call(&format!("call{i}b_{tag}"), got.owner.as_deref())
            .await
            .unwrap()
            .expect("the new output found");
        assert_eq!(found, got.response.output);
        if i >= 20 {
            continue;
        }
        assert!(
            store
                .find_output_item(&format!("msg_out{i}_{tag}"), None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .find_call(&format!("call{i}_{tag}"), None)
                .await
                .unwrap()
                .is_none()
        );
    }

    // Conversations.
    let conv = format!("conv_{tag}");
    store
        .create_conversation(
            ConversationRecord {
                id: conv.clone(),
                created_at: now(),
                metadata: JsonMap::new(),
                owner: None,
            },
            vec![StoredItem {
                id: format!("msg_first_{tag}"),
                item: item(json!({"type": "message", "role": "user", "content": "first"})),
            }],
        )
        .await
        .unwrap();
    let mut in_conv = record(
        &format!("resp_d{tag}"),
        None,
        None,
        json!([
            {"type": "message", "id": format!("msg_out_{tag}"), "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "hi", "annotations": []}]}
        ]),
    );
    in_conv.conversation_id = Some(conv.clone());
    store.save_response(in_conv).await.unwrap();
    let items = store.conversation_items(&conv).await.unwrap();
    let item_ids: Vec<&str> = items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        item_ids,
        [
            format!("msg_first_{tag}"),
            format!("msg_in_resp_d{tag}"),
            format!("msg_out_{tag}")
        ]
    );
    assert!(
        store
            .delete_item(&conv, &format!("msg_first_{tag}"))
            .await
            .unwrap()
    );
    assert_eq!(store.conversation_items(&conv).await.unwrap().len(), 2);
    let mut metadata = JsonMap::new();
    metadata.insert("topic".into(), json!("demo"));
    assert!(store.update_conversation(&conv, metadata).await.unwrap());
    let got = store.conversation(&conv).await.unwrap().unwrap();
    assert_eq!(got.metadata["topic"], "demo");
    assert!(store.append_items(&conv, vec![]).await.unwrap());
    assert!(!store.append_items("conv_missing", vec![]).await.unwrap());
    assert!(store.delete_conversation(&conv).await.unwrap());
    assert!(store.conversation(&conv).await.unwrap().is_none());

    // Retention.
    let mut old = record(&format!("resp_old{tag}"), None, None, json!([]));
    old.expires_at = now() - 1;
    store.save_response(old).await.unwrap();
    assert!(
        store
            .response(&format!("resp_old{tag}"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.purge_expired(now()).await.unwrap() >= 1);

    // Saves at once are all kept (group commit).
    let saves = (0..40).map(|i| {
        let store = store.clone();
        let id = format!("resp_many{i}x{tag}");
        tokio::spawn(async move {
            store
                .save_response(record(&id, None, None, json!([])))
                .await
        })
    });
    for save in saves.collect::<Vec<_>>() {
        save.await.unwrap().unwrap();
    }
    for i in 0..40 {
        assert!(
            store
                .response(&format!("resp_many{i}x{tag}"))
                .await
                .unwrap()
                .is_some()
        );
    }
}

fn fastrand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos ^ (N.fetch_add(1, Ordering::Relaxed) << 48) ^ u64::from(std::process::id())
}

fn sqlite_url(name: &str) -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "swy-state-{name}-{}-{:x}",
        std::process::id(),
        fastrand_u64()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("state.db").display());
    (url, dir)
}

/// A fresh PostgreSQL database; dropped by the caller.
async fn postgres() -> (String, String, String) {
    let base = std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .expect("SWITCHYARD_TEST_DATABASE_URL must name a PostgreSQL server");
    let name = format!(
        "swy_state_{}_{:x}",
        std::process::id(),
        fastrand_u64() & 0xffff_ffff
    );
    let admin = Database::admin(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
    admin
        .execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await;
    let (prefix, _) = base.split('?').next().unwrap().rsplit_once('/').unwrap();
    (format!("{prefix}/{name}"), base, name)
}

async fn drop_postgres(base: &str, name: &str) {
    if let Ok(admin) = Database::admin(base).await {
        let _ = admin
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract_and_survives_a_restart() {
    let (url, dir) = sqlite_url("contract");
    let db = Database::open(&url).await.unwrap();
    contract(Arc::new(SqlStateStore::new(db.clone()))).await;
    db.close().await;
    survives_a_restart(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_postgres_store_keeps_the_contract_and_survives_a_restart() {
    let (url, base, name) = postgres().await;
    let db = Database::open(&url).await.unwrap();
    contract(Arc::new(SqlStateStore::new(db.clone()))).await;
    db.close().await;
    survives_a_restart(&url).await;
    drop_postgres(&base, &name).await;
}

async fn survives_a_restart(url: &str) {
    let id = format!("resp_restart{:x}", fastrand_u64());
    {
        let db = Database::open(url).await.unwrap();
        let store = SqlStateStore::new(db.clone());
        store
            .save_response(record(&id, None, None, json!([])))
            .await
            .unwrap();
        db.close().await;
    }
    let db = Database::open(url).await.unwrap();
    let store = SqlStateStore::new(db.clone());
    assert!(
        store.response(&id).await.unwrap().is_some(),
        "kept across a restart"
    );
    db.close().await;
}

#[tokio::test]
async fn a_sqlite_database_of_migration_5_keeps_its_responses() {
    let (url, dir) = sqlite_url("migration5");
    keeps_responses_saved_before_migration_6(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_postgres_database_of_migration_5_keeps_its_responses() {
    let (url, base, name) = postgres().await;
    keeps_responses_saved_before_migration_6(&url).await;
    drop_postgres(&base, &name).await;
}

/// Rows written as migration 5's schema held them (every own item in `response_items`, input
/// and output, with its body) read back the same once migrated.
async fn keeps_responses_saved_before_migration_6(url: &str) {
    let tag = format!("{:x}", fastrand_u64());
    let id = format!("resp_old{tag}");
    let call = format!("call_old{tag}");
    let mut saved = record(
        &id,
        None,
        Some("alice"),
        json!([
            {"type": "reasoning", "id": format!("rs_old{tag}"), "summary": [], "encrypted_content": "blob"},
            {"type": "function_call", "id": format!("fc_old{tag}"), "call_id": call, "name": "f", "arguments": "{}"}
        ]),
    );
    saved.input.push(StoredItem {
        id: format!("fco_in{tag}"),
        item: item(
            json!({"type": "function_call_output", "call_id": "call_before", "output": "42"}),
        ),
    });
    saved.input.push(StoredItem {
        id: format!("msg_in2_{tag}"),
        item: item(json!({"type": "message", "role": "user", "content": "and then?"})),
    });
    // A response without items of its own.
    let bare = record(&format!("resp_bare{tag}"), None, None, json!([]));
    let bare = ResponseRecord {
        input: Vec::new(),
        ..bare
    };

    let db = Database::open_at_version(url, 5).await.unwrap();
    for record in [&saved, &bare] {
        sqlx::query(
            "INSERT INTO responses (id, owner, previous_response_id, conversation_id, \
             created_at, expires_at, body) VALUES ($1, $2, NULL, NULL, $3, $4, $5)",
        )
        .bind(record.id().to_string())
        .bind(record.owner.clone())
        .bind(record.response.created_at as i64)
        .bind(record.expires_at as i64)
        .bind(serde_json::to_string(&record.response).unwrap())
        .execute(db.pool())
        .await
        .unwrap();
    }
    // Input rows written in reverse, so that only `position` gives their order.
    let mut rows: Vec<(&str, usize, String, &Item)> = saved
        .input
        .iter()
        .enumerate()
        .map(|(i, s)| ("input", i, s.id.clone(), &s.item))
        .rev()
        .collect();
    rows.extend((saved.response.output.iter().enumerate()).map(|(i, item)| {
        (
            "output",
            i,
            switchyard::state::context::stored_id(item),
            item,
        )
    }));
    for (side, position, item_id, item) in rows {
        let call_id = switchyard::state::context::call_id(item).map(str::to_string);
        sqlx::query(
            "INSERT INTO response_items (response_id, side, position, item_id, call_id, owner, \
             body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(side)
        .bind(position as i64)
        .bind(item_id)
        .bind(call_id)
        .bind(Some("alice".to_string()))
        .bind(serde_json::to_string(item).unwrap())
        .execute(db.pool())
        .await
        .unwrap();
    }
    db.close().await;

    let db = Database::open(url).await.unwrap();
    let store = SqlStateStore::new(db.clone());
    let got = store.response(&id).await.unwrap().expect("kept");
    assert_eq!(got, saved);
    let got = store.response(bare.id()).await.unwrap().expect("kept");
    assert!(got.input.is_empty());
    assert_eq!(got.response, bare.response);
    // Its output is found again, by call id (with the reasoning before it) and by item id.
    let found = store
        .find_call(&call, Some("alice"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found, saved.response.output);
    assert!(store.find_call(&call, Some("bob")).await.unwrap().is_none());
    let reasoning = store
        .find_output_item(&format!("rs_old{tag}"), None)
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!(reasoning, saved.response.output[0]);
    // The input is not an output item.
    assert!(
        store
            .find_output_item(&format!("msg_in2_{tag}"), None)
            .await
            .unwrap()
            .is_none()
    );
    // Saved again after the migration, its items are replaced; deleted, it is gone.
    let mut again = saved.clone();
    again.response.output.truncate(1);
    store.save_response(again.clone()).await.unwrap();
    assert_eq!(store.response(&id).await.unwrap(), Some(again));
    assert!(store.find_call(&call, None).await.unwrap().is_none());
    assert!(store.delete_response(&id).await.unwrap());
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM response_items WHERE response_id = $1")
        .bind(id.clone())
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0);
    db.close().await;
}

#[tokio::test]
async fn a_failing_sqlite_save_fails_whole_and_the_writer_recovers() {
    let (url, dir) = sqlite_url("failing");
    a_failing_save_fails_whole_and_the_writer_recovers(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_failing_postgres_save_fails_whole_and_the_writer_recovers() {
    let (url, base, name) = postgres().await;
    a_failing_save_fails_whole_and_the_writer_recovers(&url).await;
    drop_postgres(&base, &name).await;
}

/// A save whose item row cannot be written (a stray row already holds its key) fails, leaves
/// nothing of itself (its response row, inserted first, is rolled back with it), and the
/// writer's next transaction works.
async fn a_failing_save_fails_whole_and_the_writer_recovers(url: &str) {
    let tag = format!("{:x}", fastrand_u64());
    let db = Database::open(url).await.unwrap();
    let store = SqlStateStore::new(db.clone());
    let kept = format!("resp_kept{tag}");
    store
        .save_response(record(&kept, None, None, json!([])))
        .await
        .unwrap();
    let broken = format!("resp_broken{tag}");
    sqlx::query(
        "INSERT INTO response_items (response_id, position, item_id, call_id) \
         VALUES ($1, 0, 'stray', NULL)",
    )
    .bind(broken.clone())
    .execute(db.pool())
    .await
    .unwrap();
    let output = json!([{"type": "message", "id": format!("msg_b{tag}"), "role": "assistant",
        "content": [{"type": "output_text", "text": "x"}]}]);
    assert!(
        store
            .save_response(record(&broken, None, None, output))
            .await
            .is_err()
    );
    assert!(store.response(&broken).await.unwrap().is_none());
    let after = format!("resp_after{tag}");
    store
        .save_response(record(&after, None, None, json!([])))
        .await
        .unwrap();
    assert!(store.response(&after).await.unwrap().is_some());
    assert!(store.response(&kept).await.unwrap().is_some());
    db.close().await;
}
