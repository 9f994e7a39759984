//! Cost, spend logs, the spend API and end-user budgets, against real SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Value, json};
use switchyard_mock::Reply;
use switchyard_server::spend::{SpendStore, sqlite_url};

use crate::common::{Harness, KEY, UPSTREAM_KEY, final_response};

/// Prices per token of the test deployments: easy to compute by hand.
const IN: f64 = 1e-6;
const OUT: f64 = 2e-6;
const CACHE_READ: f64 = 1e-7;
const CACHE_WRITE: f64 = 1.5e-6;
const REASONING: f64 = 3e-6;

fn config(mock: &str, extra: &str) -> String {
    let prices = format!(
        "input_cost_per_token: {IN}, output_cost_per_token: {OUT}, \
         cache_read_input_token_cost: {CACHE_READ}, cache_creation_input_token_cost: {CACHE_WRITE}, \
         output_cost_per_reasoning_token: {REASONING}"
    );
    format!(
        r#"
model_list:
  - model_name: passthrough
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}, {prices}}}
  - model_name: bridged
    litellm_params: {{model: hosted_vllm/mock-llama, api_base: "{mock}/vllm/v1"}}
    model_info: {{{prices}}}
  - model_name: unpriced
    litellm_params: {{model: hosted_vllm/mock-llama, api_base: "{mock}/vllm/v1"}}
general_settings:
  master_key: {KEY}
  proxy_batch_write_at: 0.05
{extra}
"#
    )
}

/// A fresh SQLite file per test.
pub(crate) fn sqlite() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "swy-acct-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spend.db");
    (sqlite_url(&path), dir)
}

fn fastrand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh PostgreSQL database per test, on the server of `SWITCHYARD_TEST_DATABASE_URL` (or
/// `DATABASE_URL`); `scripts/test.sh` sets it. Missing or unreachable fails the test.
pub(crate) async fn postgres() -> (String, String, String) {
    let base = std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("SWITCHYARD_TEST_DATABASE_URL (or DATABASE_URL) must name a PostgreSQL server");
    let name = format!("swy_test_{}_{}", std::process::id(), fastrand_suffix());
    let admin = SpendStore::admin(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
    admin
        .execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = base.split('?').next().unwrap().rsplit_once('/').unwrap();
    (format!("{prefix}/{name}"), base, name)
}

pub(crate) async fn drop_postgres(base: &str, name: &str) {
    if let Ok(admin) = SpendStore::admin(base).await {
        let _ = admin
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn cost_header(response: &reqwest::Response) -> Option<f64> {
    let litellm = response
        .headers()
        .get("x-litellm-response-cost")
        .map(|v| v.to_str().unwrap().parse::<f64>().unwrap());
    let own = response
        .headers()
        .get("x-switchyard-response-cost")
        .map(|v| v.to_str().unwrap().parse::<f64>().unwrap());
    assert_eq!(litellm, own);
    litellm
}

/// usage=100,50,40,20: 60 uncached + 40 cached in; 30 text + 20 reasoning out.
const USAGE_DIRECTIVE: &str = "[[mock:usage=100,50,40,20]] hi";
fn usage_cost() -> f64 {
    60.0 * IN + 40.0 * CACHE_READ + 30.0 * OUT + 20.0 * REASONING
}

async fn rows(h: &Harness, query: &str) -> Vec<Value> {
    let (status, body) = h.get_json(&format!("/spend/logs?{query}")).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap()
}

async fn wait_rows(h: &Harness, query: &str, n: usize) -> Vec<Value> {
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = rows(h, query).await;
        if found.len() >= n || tokio::time::Instant::now() > until {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn cost_is_charged_for_plain_cached_and_reasoning_usage_on_every_path() {
    let (url, dir) = sqlite();
    let (h, _acct) = Harness::with_accounting(|m| config(m, ""), &url).await;
    for group in ["passthrough", "bridged"] {
        // Non-streamed: the header.
        let response = h
            .post(&json!({"model": group, "input": USAGE_DIRECTIVE}))
            .await;
        assert_eq!(response.status(), 200);
        let cost = cost_header(&response).expect("cost header");
        assert!(close(cost, usage_cost()), "{group}: {cost}");
        // Plain usage: 10 in, 5 out.
        let response = h
            .post(&json!({"model": group, "input": "[[mock:usage=10,5,0,0]] hi"}))
            .await;
        let cost = cost_header(&response).expect("cost header");
        assert!(close(cost, 10.0 * IN + 5.0 * OUT), "{group}: {cost}");
        // Streamed: no header (unknown when headers go out), cost in the spend log.
        let response = h
            .post(
                &json!({"model": group, "input": USAGE_DIRECTIVE, "stream": true,
                "user": format!("stream-{group}")}),
            )
            .await;
        assert!(cost_header(&response).is_none());
        let _ = response.bytes().await.unwrap();
        let logged = wait_rows(&h, &format!("end_user=stream-{group}"), 1).await;
        assert_eq!(logged.len(), 1, "{group}");
        let row = &logged[0];
        assert!(close(row["spend"].as_f64().unwrap(), usage_cost()), "{row}");
        assert_eq!(row["prompt_tokens"], 100);
        assert_eq!(row["cached_tokens"], 40);
        assert_eq!(row["completion_tokens"], 50);
        assert_eq!(row["reasoning_tokens"], 20);
        assert_eq!(row["stream"], true);
        assert_eq!(row["model_group"], group);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cache_write_tokens_are_charged_once() {
    let (url, dir) = sqlite();
    let (h, _acct) = Harness::with_accounting(|m| config(m, ""), &url).await;
    h.mock.enqueue(
        "/responses",
        Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({
                "id": "resp_cachewrite", "object": "response", "created_at": 1,
                "status": "completed", "model": "gpt-mock",
                "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "hi", "annotations": []}]}],
                "usage": {"input_tokens": 1000,
                    "input_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 300},
                    "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": 1010}
            }),
        },
    );
    let response = h
        .post(&json!({"model": "passthrough", "input": "hi"}))
        .await;
    assert_eq!(response.status(), 200);
    let cost = cost_header(&response).unwrap();
    let expected = 500.0 * IN + 200.0 * CACHE_READ + 300.0 * CACHE_WRITE + 10.0 * OUT;
    assert!(close(cost, expected), "{cost} vs {expected}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn streamed_usage_carries_cost_when_configured() {
    let (url, dir) = sqlite();
    let extra = "litellm_settings: {include_cost_in_streaming_usage: true}";
    let (h, _acct) = Harness::with_accounting(|m| config(m, extra), &url).await;
    for group in ["passthrough", "bridged"] {
        let (status, events) = h
            .stream(json!({"model": group, "input": USAGE_DIRECTIVE}))
            .await;
        assert_eq!(status, 200);
        let response = final_response(&events);
        let cost = response["usage"]["cost"].as_f64().expect("usage.cost");
        assert!(close(cost, usage_cost()), "{group}: {cost}");
        // Non-streamed responses carry it too.
        let (_, body) = h
            .call(json!({"model": group, "input": USAGE_DIRECTIVE}))
            .await;
        assert!(close(body["usage"]["cost"].as_f64().unwrap(), usage_cost()));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn unknown_prices_are_logged_as_unknown_not_zero() {
    let (url, dir) = sqlite();
    let (h, _acct) = Harness::with_accounting(|m| config(m, ""), &url).await;
    let response = h
        .post(&json!({"model": "unpriced", "input": USAGE_DIRECTIVE, "user": "u-unpriced"}))
        .await;
    assert_eq!(response.status(), 200);
    assert!(cost_header(&response).is_none());
    let logged = wait_rows(&h, "end_user=u-unpriced", 1).await;
    assert_eq!(logged.len(), 1);
    assert!(logged[0]["spend"].is_null(), "{}", logged[0]);
    assert_eq!(logged[0]["prompt_tokens"], 100);
    let _ = std::fs::remove_dir_all(dir);
}

/// N concurrent requests, streamed and not, leave exactly N rows with the right attribution.
async fn concurrent_requests_leave_one_row_each(url: &str) {
    const N: usize = 40;
    let (h, acct) = Harness::with_accounting(|m| config(m, ""), url).await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..N {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let group = if i % 2 == 0 { "passthrough" } else { "bridged" };
            let response = h
                .client
                .post(format!("{}/v1/responses", h.base))
                .bearer_auth(KEY)
                .header("x-litellm-tags", "load,test")
                .json(&json!({"model": group, "input": USAGE_DIRECTIVE,
                    "stream": i % 3 == 0, "user": "load-user"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let _ = response.bytes().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let store = acct.store().clone();
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    while store.count().await.unwrap() < N as i64 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.count().await.unwrap(), N as i64);
    // Filters: the key (hashed), the end user, the model.
    let by_key = rows(&h, &format!("api_key={KEY}")).await;
    assert_eq!(by_key.len(), N);
    let row = &by_key[0];
    assert_eq!(row["end_user"], "load-user");
    assert_eq!(row["request_tags"], json!(["load", "test"]));
    assert_eq!(row["status"], "success");
    assert_eq!(row["route"], "/v1/responses");
    assert!(row["api_key"].as_str().unwrap().len() == 64 && row["api_key"] != KEY);
    assert_eq!(row["requester_ip_address"], "127.0.0.1");
    assert!(
        row["messages"].is_null(),
        "prompts are not stored by default"
    );
    assert_eq!(rows(&h, "model=bridged").await.len(), N / 2);
    // The report adds up.
    let (status, report) = h.get_json("/global/spend/report?group_by=end_user").await;
    assert_eq!(status, 200);
    let entry = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["end_user"] == "load-user")
        .unwrap();
    assert_eq!(entry["requests"], N);
    assert!(close(
        entry["spend"].as_f64().unwrap(),
        N as f64 * usage_cost()
    ));
    let (_, by_day) = h.get_json("/global/spend/report?group_by=day").await;
    assert_eq!(by_day.as_array().unwrap().len(), 1, "{by_day}");
    // The end user's spend is known to /customer/info.
    let (status, info) = h.get_json("/customer/info?end_user_id=load-user").await;
    assert_eq!(status, 200);
    assert!(close(
        info["spend"].as_f64().unwrap(),
        N as f64 * usage_cost()
    ));
    acct.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn concurrent_requests_leave_exactly_n_rows_in_sqlite() {
    let (url, dir) = sqlite();
    concurrent_requests_leave_one_row_each(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn concurrent_requests_leave_exactly_n_rows_in_postgres() {
    let (url, base, name) = postgres().await;
    concurrent_requests_leave_one_row_each(&url).await;
    drop_postgres(&base, &name).await;
}

/// Rows still queued when shutdown starts are written before it returns.
async fn shutdown_flushes_the_queue(url: &str) {
    const N: usize = 30;
    // A batch interval far longer than the test: only the shutdown flush writes the rows.
    let extra = "switchyard_settings: {}";
    let (h, acct) = Harness::with_accounting(
        |m| config(m, extra).replace("proxy_batch_write_at: 0.05", "proxy_batch_write_at: 600"),
        url,
    )
    .await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..N {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"model": "bridged", "input": "[[mock:slow=100]] hi",
                "stream": i % 2 == 0});
            let response = h.post(&body).await;
            let _ = response.bytes().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    acct.shutdown(Duration::from_secs(30)).await;
    let store = SpendStore::open(url).await.unwrap();
    assert_eq!(store.count().await.unwrap(), N as i64);
    assert_eq!(acct.dropped(), 0);
    store.close().await;
}

#[tokio::test]
async fn graceful_shutdown_loses_no_rows_in_sqlite() {
    let (url, dir) = sqlite();
    shutdown_flushes_the_queue(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn graceful_shutdown_loses_no_rows_in_postgres() {
    let (url, base, name) = postgres().await;
    shutdown_flushes_the_queue(&url).await;
    drop_postgres(&base, &name).await;
}

#[tokio::test]
async fn an_end_user_over_budget_is_stopped_before_the_provider() {
    let (url, dir) = sqlite();
    let (h, _acct) = Harness::with_accounting(|m| config(m, ""), &url).await;
    // The budget is below the cost of one request: the first goes through, the next is stopped.
    let (status, created) = h
        .post_json(
            "/customer/new",
            &json!({"user_id": "alice", "max_budget": 0.0001}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let body = json!({"model": "passthrough", "input": USAGE_DIRECTIVE, "user": "alice"});
    let response = h.post(&body).await;
    assert_eq!(response.status(), 200);
    let upstream_calls = h.mock.requests().len();
    let (status, error) = h.call(body.clone()).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "budget_exceeded");
    assert_eq!(error["error"]["code"], "budget_exceeded");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alice")
    );
    assert_eq!(h.mock.requests().len(), upstream_calls, "no upstream call");
    // The header names the end user too, and streams are stopped the same way.
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(KEY)
        .header("x-litellm-customer-id", "alice")
        .json(&json!({"model": "bridged", "input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Raising the budget lets alice through again.
    let (status, _) = h
        .post_json(
            "/customer/update",
            &json!({"user_id": "alice", "max_budget": 1.0}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.post(&body).await.status(), 200);
    // Blocking stops her outright; unblocking lets her back.
    let (status, _) = h
        .post_json("/customer/block", &json!({"user_ids": ["alice"]}))
        .await;
    assert_eq!(status, 200);
    let (status, error) = h.call(body.clone()).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["code"], "end_user_blocked");
    let (status, _) = h
        .post_json("/customer/unblock", &json!({"user_ids": ["alice"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.post(&body).await.status(), 200);
    // The refused requests are in the spend log as failures.
    let logged = wait_rows(&h, "end_user=alice", 6).await;
    assert_eq!(logged.len(), 6, "{logged:?}");
    assert_eq!(
        logged.iter().filter(|r| r["outcome"] == "rejected").count(),
        3
    );
    let (status, info) = h.get_json("/customer/info?end_user_id=alice").await;
    assert_eq!(status, 200);
    assert!(close(info["spend"].as_f64().unwrap(), 3.0 * usage_cost()));
    assert_eq!(info["max_budget"], 1.0);
    let (status, _) = h.get_json("/customer/info?end_user_id=nobody").await;
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_default_end_user_budget_applies_to_unknown_users() {
    let (url, dir) = sqlite();
    let extra = "litellm_settings: {max_end_user_budget: 0}";
    let (h, _acct) = Harness::with_accounting(|m| config(m, extra), &url).await;
    let (status, error) = h
        .call(json!({"model": "bridged", "input": "hi", "safety_identifier": "bob"}))
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "budget_exceeded");
    assert!(h.mock.requests().is_empty());
    // Without an end user there is no budget to enforce.
    let (status, _) = h.call(json!({"model": "bridged", "input": "hi"})).await;
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn prompts_are_stored_only_when_asked() {
    let (url, dir) = sqlite();
    let extra = "  store_prompts_in_spend_logs: true";
    let (h, _acct) = Harness::with_accounting(
        |m| {
            config(m, "").replace(
                "  proxy_batch_write_at: 0.05",
                &format!("  proxy_batch_write_at: 0.05\n{extra}"),
            )
        },
        &url,
    )
    .await;
    let (status, _) = h
        .call(json!({"model": "bridged", "input": "remember this", "user": "p"}))
        .await;
    assert_eq!(status, 200);
    let logged = wait_rows(&h, "end_user=p", 1).await;
    assert_eq!(logged[0]["messages"], "remember this");
    assert!(logged[0]["response"].is_array(), "{}", logged[0]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_spend_api_needs_the_master_key_and_valid_filters() {
    let (url, dir) = sqlite();
    let (h, _acct) = Harness::with_accounting(|m| config(m, ""), &url).await;
    let response = h
        .client
        .get(format!("{}/spend/logs", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, error) = h.get_json("/spend/logs?start_date=yesterday").await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "start_date");
    let (status, _) = h.get_json("/global/spend/report?group_by=planet").await;
    assert_eq!(status, 400);
    let (status, rows) = h
        .get_json("/spend/logs?start_date=2020-01-01&end_date=2020-01-02")
        .await;
    assert_eq!(status, 200);
    assert_eq!(rows, json!([]));
    let _ = std::fs::remove_dir_all(dir);
}

/// Native providers: the cost follows the usage each one reports, in Responses terms.
#[tokio::test]
async fn native_providers_are_charged_from_their_own_usage() {
    let (url, dir) = sqlite();
    let prices = format!(
        "input_cost_per_token: {IN}, output_cost_per_token: {OUT}, \
         cache_read_input_token_cost: {CACHE_READ}, cache_creation_input_token_cost: {CACHE_WRITE}, \
         output_cost_per_reasoning_token: {REASONING}"
    );
    let (h, _acct) = Harness::with_accounting(
        |m| {
            format!(
                r#"
model_list:
  - model_name: anthropic
    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_base: "{m}/anthropic", api_key: k-ant, {prices}}}
  - model_name: gemini
    litellm_params: {{model: gemini/gemini-2.5-flash, api_base: "{m}", api_key: k-gem, {prices}}}
  - model_name: bedrock
    litellm_params: {{model: "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0", aws_bedrock_runtime_endpoint: "{m}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, {prices}}}
general_settings:
  master_key: {KEY}
  proxy_batch_write_at: 0.05
"#
            )
        },
        &url,
    )
    .await;
    for group in ["anthropic", "gemini", "bedrock"] {
        for stream in [false, true] {
            let user = format!("native-{group}-{stream}");
            let request = json!({"model": group, "input": USAGE_DIRECTIVE, "stream": stream,
                "user": user});
            let response = h.post(&request).await;
            assert_eq!(response.status(), 200, "{group}");
            let header = cost_header(&response);
            let usage = if stream {
                let events = crate::common::parse_sse(&response.bytes().await.unwrap());
                final_response(&events)["usage"].clone()
            } else {
                response.json::<Value>().await.unwrap()["usage"].clone()
            };
            let n = |v: &Value| v.as_f64().unwrap();
            let input = n(&usage["input_tokens"]);
            let cached = n(&usage["input_tokens_details"]["cached_tokens"]);
            let output = n(&usage["output_tokens"]);
            let reasoning = n(&usage["output_tokens_details"]["reasoning_tokens"]);
            // The directive's 100 in (40 cached) and 50 out reach the client whatever the wire.
            assert_eq!(
                (input, cached, output),
                (100.0, 40.0, 50.0),
                "{group}: {usage}"
            );
            let expected = (input - cached) * IN
                + cached * CACHE_READ
                + (output - reasoning) * OUT
                + reasoning * REASONING;
            if !stream {
                assert!(
                    close(header.unwrap(), expected),
                    "{group}: {header:?} vs {expected}"
                );
            }
            let logged = wait_rows(&h, &format!("end_user={user}"), 1).await;
            assert_eq!(logged.len(), 1, "{group}");
            assert!(
                close(logged[0]["spend"].as_f64().unwrap(), expected),
                "{group} stream={stream}: {}",
                logged[0]
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// After a fallback the answering deployment is charged, at its own price.
#[tokio::test]
async fn a_fallback_is_charged_to_the_deployment_that_answered() {
    let (url, dir) = sqlite();
    let (h, _acct) = Harness::with_accounting(
        |m| {
            format!(
                r#"
model_list:
  - model_name: down
    litellm_params: {{model: openai/gpt-mock, api_base: "http://127.0.0.1:9/v1", api_key: k, input_cost_per_token: 1.0, output_cost_per_token: 1.0}}
  - model_name: bridged
    litellm_params: {{model: hosted_vllm/mock-llama, api_base: "{m}/vllm/v1", input_cost_per_token: {IN}, output_cost_per_token: {OUT}}}
router_settings:
  fallbacks: [{{down: [bridged]}}]
general_settings:
  master_key: {KEY}
  proxy_batch_write_at: 0.05
"#
            )
        },
        &url,
    )
    .await;
    let response = h
        .post(&json!({"model": "down", "input": "[[mock:usage=10,5,0,0]] hi", "user": "fb"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-litellm-attempted-fallbacks"], "1");
    let cost = cost_header(&response).unwrap();
    assert!(close(cost, 10.0 * IN + 5.0 * OUT), "{cost}");
    let logged = wait_rows(&h, "end_user=fb", 1).await;
    assert_eq!(logged.len(), 1);
    // The group asked for stays on the row; the model and deployment are the ones that answered.
    assert_eq!(logged[0]["model_group"], "down", "{}", logged[0]);
    assert_eq!(logged[0]["model"], "mock-llama", "{}", logged[0]);
    assert_eq!(
        logged[0]["custom_llm_provider"], "hosted_vllm",
        "{}",
        logged[0]
    );
    assert!(close(logged[0]["spend"].as_f64().unwrap(), cost));
    let _ = std::fs::remove_dir_all(dir);
}

/// A batch of 151 rows (inserted as statements of 64, 64, 16, 4, 2 and 1 rows) with one
/// request id twice: 150 rows land, each with every column as written, and the end users'
/// spend adds up.
async fn bulk_batches_write_every_row_and_column(url: &str) {
    use std::sync::Arc;
    use switchyard::accounting::{RequestLog, TokenCounts};
    use switchyard_server::spend::store::LogFilter;

    let store = SpendStore::open(url).await.unwrap();
    let rows: Vec<Arc<RequestLog>> = (0..150u64)
        .map(|n| {
            Arc::new(RequestLog {
                request_id: format!("req_bulk_{n:04}"),
                response_id: Some(format!("resp_bulk_{n}")),
                call_type: "responses",
                route: Some("/v1/responses".into()),
                api_key_hash: Some(format!("hash-{}", n % 3)),
                end_user: (n % 2 == 0).then(|| format!("user-{}", n % 4)),
                model_group: Some("bridged".into()),
                model: Some("mock-llama".into()),
                deployment_id: Some("dep-1".into()),
                provider: Some("hosted_vllm".into()),
                api_base: Some("http://127.0.0.1:1/v1".into()),
                stream: n % 3 == 0,
                status: if n == 7 { "failure" } else { "success" },
                outcome: if n == 7 { "error" } else { "completed" },
                http_status: if n == 7 { 429 } else { 200 },
                error_class: (n == 7).then(|| "rate_limit_error".into()),
                error_code: (n == 7).then(|| "rate_limit_exceeded".into()),
                attempts: 1 + (n % 2) as u32,
                usage: TokenCounts {
                    input_tokens: 100 + n,
                    cached_tokens: n,
                    cache_write_tokens: 2 * n,
                    output_tokens: 10 + n,
                    reasoning_tokens: n / 2,
                    total_tokens: 110 + 2 * n,
                },
                cost: (n != 9).then_some(0.5 * n as f64),
                start_time_ms: 1_790_000_000_000 + n as i64,
                completion_start_time_ms: Some(1_790_000_000_100 + n as i64),
                end_time_ms: 1_790_000_000_500 + n as i64,
                duration_ms: 500.0,
                ttft_ms: Some(100.0),
                request_tags: vec![format!("tag-{n}")],
                client_ip: Some("10.1.2.3".into()),
                messages: (n == 3)
                    .then(|| to_raw_value(&json!([{"role": "user", "content": "hi"}])).unwrap()),
                response: (n == 3).then(|| to_raw_value(&json!({"output": "hello"})).unwrap()),
                ..RequestLog::default()
            })
        })
        .collect();
    let mut batch = rows.clone();
    batch.push(rows[42].clone());
    store.write_batch(&batch, true).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 150);

    let written = store
        .logs(&LogFilter {
            limit: 1000,
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(written.len(), 150);
    for log in &rows {
        let row = written
            .iter()
            .find(|r| r["request_id"] == log.request_id.as_str())
            .unwrap_or_else(|| panic!("{} missing", log.request_id));
        let n = log.usage.cached_tokens;
        assert_eq!(row["response_id"], json!(log.response_id));
        assert_eq!(row["api_key"], json!(log.api_key_hash));
        assert_eq!(row["end_user"], json!(log.end_user));
        assert_eq!(row["stream"], json!(log.stream));
        assert_eq!(row["http_status"], json!(log.http_status));
        assert_eq!(row["error_code"], json!(log.error_code));
        assert_eq!(row["attempts"], json!(log.attempts));
        assert_eq!(row["prompt_tokens"], json!(100 + n));
        assert_eq!(row["cache_write_tokens"], json!(2 * n));
        assert_eq!(row["completion_tokens"], json!(10 + n));
        assert_eq!(row["reasoning_tokens"], json!(n / 2));
        assert_eq!(row["total_tokens"], json!(110 + 2 * n));
        assert_eq!(row["spend"], json!(log.cost));
        assert_eq!(row["request_tags"], json!(log.request_tags));
        assert_eq!(row["requester_ip_address"], "10.1.2.3");
        let parsed = |raw: &Option<Box<RawValue>>| {
            raw.as_deref()
                .map_or(Value::Null, |raw| serde_json::from_str(raw.get()).unwrap())
        };
        assert_eq!(row["messages"], parsed(&log.messages));
        assert_eq!(row["response"], parsed(&log.response));
    }
    // Costs of even rows, by user (n % 4); row 42 counted twice, since end-user spend is
    // charged per record, not per stored row; row 9 has no cost.
    let users = store.end_users().await.unwrap();
    for user in 0..4u64 {
        let id = format!("user-{user}");
        let expected: f64 = batch
            .iter()
            .filter(|l| l.end_user.as_deref() == Some(id.as_str()))
            .filter_map(|l| l.cost)
            .sum();
        let spend = users
            .iter()
            .find(|u| u.user_id == id)
            .map_or(0.0, |u| u.spend);
        assert!(close(spend, expected), "{id}: {spend} != {expected}");
    }

    // A budget set, removed and set again: a NULL float between two values must not break
    // the statement (PostgreSQL caches its parameter types).
    use switchyard_server::spend::EndUser;
    for budget in [None, Some(2.5), None, Some(7.0)] {
        let user = EndUser {
            user_id: "budgeted".into(),
            max_budget: budget,
            ..EndUser::default()
        };
        store.save_end_user(&user).await.unwrap();
        let saved = store.end_users().await.unwrap();
        let saved = saved.iter().find(|u| u.user_id == "budgeted").unwrap();
        assert_eq!(saved.max_budget, budget);
    }
    // Replicas re-read only the end users changed lately.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let everyone = store.end_users().await.unwrap().len();
    assert_eq!(everyone, 3, "user-0, user-2 and budgeted");
    let recent = store
        .end_users_changed_since(Some(now - 60_000))
        .await
        .unwrap();
    assert_eq!(recent.len(), everyone);
    let future = store
        .end_users_changed_since(Some(now + 60_000))
        .await
        .unwrap();
    assert!(future.is_empty());
    // And rows with and without a cost in later batches of the same statements.
    let mut later: Vec<Arc<RequestLog>> = rows
        .iter()
        .take(64)
        .map(|r| {
            Arc::new(RequestLog {
                request_id: format!("{}_again", r.request_id),
                cost: r.cost.map(|c| c + 0.25).or(Some(1.0)),
                ttft_ms: None,
                ..RequestLog::clone(r)
            })
        })
        .collect();
    Arc::make_mut(&mut later[0]).cost = None;
    store.write_batch(&later, true).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 214);
    let first = store
        .logs(&LogFilter {
            request_id: Some(later[0].request_id.clone()),
            limit: 10,
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(first[0]["spend"], Value::Null);
    assert_eq!(first[0]["ttft_ms"], Value::Null);
    store.close().await;
}

#[tokio::test]
async fn bulk_batches_in_sqlite() {
    let (url, dir) = sqlite();
    bulk_batches_write_every_row_and_column(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bulk_batches_in_postgres() {
    let (url, base, name) = postgres().await;
    bulk_batches_write_every_row_and_column(&url).await;
    drop_postgres(&base, &name).await;
}

/// Two gateways on one database enforce one end user's budget together: spend through the
/// first counts in the second (after its next read of the database, within a batch
/// interval), and a budget or block set through one applies in the other.
async fn gateways_sharing_a_database_share_budgets(url: &str) {
    let (a, acct_a) = Harness::with_accounting(|m| config(m, ""), url).await;
    let (b, acct_b) = Harness::with_accounting(|m| config(m, ""), url).await;
    // Budget for two requests and a half, set through A.
    let budget = 2.5 * usage_cost();
    let (status, _) = a
        .post_json(
            "/customer/new",
            &json!({"user_id": "shared", "max_budget": budget}),
        )
        .await;
    assert_eq!(status, 200);
    let body = json!({"model": "passthrough", "input": USAGE_DIRECTIVE, "user": "shared"});
    assert_eq!(a.post(&body).await.status(), 200);
    assert_eq!(a.post(&body).await.status(), 200);
    // B learns the budget and A's spend from the database and lets one more through (spend
    // 2.0 of 2.5), then stops the next one, which would find 3.0 spent.
    let known = |acct: &switchyard_server::spend::Accounting| {
        acct.end_user("shared")
            .is_some_and(|u| u.max_budget == Some(budget) && close(u.spend, 2.0 * usage_cost()))
    };
    assert!(
        crate::common::eventually(Duration::from_secs(10), || known(&acct_b)).await,
        "B never saw A's spend: {:?}",
        acct_b.end_user("shared")
    );
    assert_eq!(b.post(&body).await.status(), 200);
    let (status, error) = b.call(body.clone()).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "budget_exceeded");
    // And A, in turn, sees B's spend and refuses too.
    let over = |acct: &switchyard_server::spend::Accounting| {
        acct.end_user("shared")
            .is_some_and(|u| close(u.spend, 3.0 * usage_cost()))
    };
    assert!(crate::common::eventually(Duration::from_secs(10), || over(&acct_a)).await);
    let (status, error) = a.call(body.clone()).await;
    assert_eq!(status, 400, "{error}");
    // A block set through B reaches A.
    let (status, _) = b
        .post_json("/customer/block", &json!({"user_ids": ["shared"]}))
        .await;
    assert_eq!(status, 200);
    let blocked = |acct: &switchyard_server::spend::Accounting| {
        acct.end_user("shared").is_some_and(|u| u.blocked)
    };
    assert!(crate::common::eventually(Duration::from_secs(10), || blocked(&acct_a)).await);
    let (status, error) = a.call(body).await;
    assert_eq!(status, 403, "{error}");
    acct_a.shutdown(Duration::from_secs(10)).await;
    acct_b.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn gateways_sharing_sqlite_share_budgets() {
    let (url, dir) = sqlite();
    gateways_sharing_a_database_share_budgets(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn gateways_sharing_postgres_share_budgets() {
    let (url, base, name) = postgres().await;
    gateways_sharing_a_database_share_budgets(&url).await;
    drop_postgres(&base, &name).await;
}

/// OpenRouter states what each request cost (`usage.cost`): that figure is charged, for a
/// model without any price here, streaming and not, and shown in `usage.cost` on request; it
/// never leaks into the usage otherwise.
#[tokio::test]
async fn a_cost_the_provider_reports_is_the_one_charged() {
    let (url, dir) = sqlite();
    let router = |m: &str| {
        config(m, "litellm_settings: {include_cost_in_streaming_usage: true}").replace(
            "model_list:\n",
            &format!(
                "model_list:\n  - model_name: router\n    litellm_params: {{model: openrouter/meta-llama/llama-3-8b, api_base: \"{m}/openrouter/api/v1\", api_key: k-or}}\n"
            ),
        )
    };
    let (h, _acct) = Harness::with_accounting(router, &url).await;
    // The mock bills $1 per million prompt tokens and $2 per million completion tokens.
    let billed = 100.0 * 1e-6 + 50.0 * 2e-6;
    let response = h
        .post(&json!({"model": "router", "input": USAGE_DIRECTIVE, "user": "u-or"}))
        .await;
    assert_eq!(response.status(), 200);
    assert!(close(cost_header(&response).unwrap(), billed));
    let body: Value = response.json().await.unwrap();
    assert!(
        close(body["usage"]["cost"].as_f64().unwrap(), billed),
        "{body}"
    );
    assert!(body["usage"].get("reported_cost").is_none(), "{body}");
    let (status, events) = h
        .stream(json!({"model": "router", "input": USAGE_DIRECTIVE, "user": "u-or"}))
        .await;
    assert_eq!(status, 200);
    let usage = &final_response(&events)["usage"];
    assert!(close(usage["cost"].as_f64().unwrap(), billed), "{usage}");
    let logged = wait_rows(&h, "end_user=u-or", 2).await;
    assert_eq!(logged.len(), 2);
    for row in &logged {
        assert!(close(row["spend"].as_f64().unwrap(), billed), "{row}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
