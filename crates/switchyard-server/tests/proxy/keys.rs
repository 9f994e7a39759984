//! Virtual keys and teams through the proxy, on real SQLite, PostgreSQL and Redis: the key and
//! team routes, what a key may call, budgets, rate limits shared by two replicas, changes
//! reaching every replica.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_server::spend::Accounting;

use crate::accounting::{drop_postgres, postgres, sqlite};
use crate::common::{Harness, KEY, UPSTREAM_KEY};

const DEAD: &str = "http://127.0.0.1:9/v1";
/// Prices per token of the test deployments.
const IN: f64 = 1e-6;
const OUT: f64 = 2e-6;
/// 10 tokens in, 5 out: 15 tokens, `COST` USD.
const SMALL: &str = "[[mock:usage=10,5,0,0]] hi";
const COST: f64 = 10.0 * IN + 5.0 * OUT;

fn config(mock: &str, router: &str, own: &str) -> String {
    let prices = format!("input_cost_per_token: {IN}, output_cost_per_token: {OUT}");
    format!(
        r#"
model_list:
  - model_name: passthrough
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}, {prices}}}
  - model_name: bridged
    litellm_params: {{model: hosted_vllm/mock-llama, api_base: "{mock}/vllm/v1", {prices}}}
  - model_name: openai/gpt-x
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}, {prices}}}
  - model_name: broken
    litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}", max_retries: 0}}
router_settings: {{fallbacks: [{{broken: [passthrough]}}], model_group_alias: {{fast: passthrough}}{router}}}
general_settings:
  master_key: {KEY}
  proxy_batch_write_at: 0.05
{own}
"#
    )
}

async fn proxy(url: &str) -> (Harness, Arc<Accounting>) {
    Harness::with_accounting(|m| config(m, "", ""), url).await
}

/// A proxy sharing key and team limits through Redis under `prefix`.
async fn shared_proxy(url: &str, prefix: &str) -> (Harness, Arc<Accounting>) {
    let redis = std::env::var("SWITCHYARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let router = format!(", redis_url: \"{redis}\"");
    let own = format!("switchyard_settings: {{redis_key_prefix: \"{prefix}\"}}");
    let (h, acct) = Harness::with_accounting(|m| config(m, &router, &own), url).await;
    let until = Instant::now() + Duration::from_secs(5);
    while !acct.keys().limiter().connected() {
        assert!(Instant::now() < until, "Redis at {redis} connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (h, acct)
}

fn prefix() -> String {
    format!("swy-keys-{}-{}", std::process::id(), fastrand::u64(..))
}

/// `method path` with `key`: (status, headers, body).
async fn call_as(
    h: &Harness,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = h
        .client
        .request(method, format!("{}{path}", h.base))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_as(h: &Harness, key: &str, path: &str) -> (u16, Value) {
    let (status, _, body) = call_as(h, key, reqwest::Method::GET, path, None).await;
    (status, body)
}

/// `POST /v1/responses` with `key`: (status, headers, body).
async fn respond_as(
    h: &Harness,
    key: &str,
    model: &str,
    input: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let body = json!({"model": model, "input": input});
    call_as(h, key, reqwest::Method::POST, "/v1/responses", Some(&body)).await
}

/// A streamed call with `key`: (status, whole SSE text).
async fn stream_as(h: &Harness, key: &str, model: &str, input: &str) -> (u16, String) {
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(key)
        .json(&json!({"model": model, "input": input, "stream": true}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// `respond_as` saying it writes at most 5 tokens: its budget estimate (`SMALL` is 7 input
/// tokens at 4 bytes a token, plus 5 output) is under `COST`.
async fn respond_capped(
    h: &Harness,
    key: &str,
    model: &str,
    input: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let body = json!({"model": model, "input": input, "max_output_tokens": 5});
    call_as(h, key, reqwest::Method::POST, "/v1/responses", Some(&body)).await
}

/// `stream_as` saying it writes at most 5 tokens.
async fn stream_capped(h: &Harness, key: &str, model: &str, input: &str) -> (u16, String) {
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(key)
        .json(&json!({"model": model, "input": input, "stream": true, "max_output_tokens": 5}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn generate(h: &Harness, body: Value) -> (String, Value) {
    let (status, answer) = h.post_json("/key/generate", &body).await;
    assert_eq!(status, 200, "{answer}");
    (answer["key"].as_str().unwrap().to_string(), answer)
}

fn hash(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An error answer: OpenAI's envelope, and neither the key nor its hash in it.
fn refused(body: &Value, key: &str) -> String {
    let error = &body["error"];
    for field in ["message", "type", "param", "code"] {
        assert!(error.get(field).is_some(), "{field} in {body}");
    }
    let text = body.to_string();
    assert!(!text.contains(key), "the key leaked: {text}");
    assert!(!text.contains(&hash(key)), "the key's hash leaked: {text}");
    error["message"].as_str().unwrap().to_string()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

async fn spend_of(h: &Harness, key: &str) -> f64 {
    let (status, info) = h.get_json(&format!("/key/info?key={key}")).await;
    assert_eq!(status, 200, "{info}");
    info["info"]["spend"].as_f64().unwrap()
}

async fn key_routes(url: &str) {
    let (h, _acct) = proxy(url).await;
    // Generated keys look like LiteLLM's; the answer shows the key this once.
    let (key, made) = generate(
        &h,
        json!({"key_alias": "app-1", "models": ["passthrough"], "metadata": {"env": "test"},
               "tags": ["t1"], "duration": "1h", "max_budget": 10.0, "user_id": "u-1"}),
    )
    .await;
    assert!(key.starts_with("sk-") && key.len() >= 20, "{key}");
    assert_eq!(made["token"], hash(&key));
    assert_eq!(made["key_name"], format!("sk-...{}", &key[key.len() - 4..]));
    assert_eq!(made["key_alias"], "app-1");
    assert_eq!(made["models"], json!(["passthrough"]));
    assert_eq!(made["metadata"]["env"], "test");
    assert_eq!(made["tags"], json!(["t1"]));
    assert_eq!(made["max_budget"], 10.0);
    assert_eq!(made["user_id"], "u-1");
    assert!(made["expires"].as_str().unwrap().ends_with('Z'), "{made}");
    assert_eq!(made["spend"], 0.0);

    // A caller's own key; a taken alias is refused.
    let (own, _) = generate(&h, json!({"key": "sk-my-own-key-1234"})).await;
    assert_eq!(own, "sk-my-own-key-1234");
    let (status, body) = h
        .post_json("/key/generate", &json!({"key_alias": "app-1"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = h
        .post_json("/key/generate", &json!({"key": "not-sk", "rpm_limit": 1}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "key");
    let (status, body) = h
        .post_json("/key/generate", &json!({"rpm_limit": "lots"}))
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("rpm_limit"))
    );

    // The key works on the model routes.
    let (status, _, body) = respond_as(&h, &key, "passthrough", "hi").await;
    assert_eq!(status, 200, "{body}");

    // /key/info by text and by hash; the key itself for itself; not for another key.
    let (status, info) = h.get_json(&format!("/key/info?key={key}")).await;
    assert_eq!(status, 200);
    assert_eq!(info["key"], hash(&key), "the hash, never the text");
    assert_eq!(info["info"]["key_alias"], "app-1");
    let (_, by_hash) = h.get_json(&format!("/key/info?key={}", hash(&key))).await;
    assert_eq!(by_hash["info"]["token"], hash(&key));
    let (status, mine) = get_as(&h, &key, "/key/info").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["info"]["key_alias"], "app-1");
    let (status, body) = get_as(&h, &key, &format!("/key/info?key={own}")).await;
    assert_eq!(status, 403, "{body}");
    refused(&body, &key);

    // /key/list: hashes, filters, pages, whole objects.
    let (_, listed) = h.get_json("/key/list").await;
    assert_eq!(listed["total_count"], 2);
    let tokens = listed["keys"].as_array().unwrap();
    assert!(tokens.contains(&json!(hash(&key))) && tokens.contains(&json!(hash(&own))));
    let (_, by_alias) = h.get_json("/key/list?key_alias=app-1").await;
    assert_eq!(by_alias["keys"], json!([hash(&key)]));
    let (_, by_user) = h
        .get_json("/key/list?user_id=u-1&return_full_object=true")
        .await;
    assert_eq!(by_user["keys"][0]["key_alias"], "app-1");
    let (_, paged) = h.get_json("/key/list?page=2&size=1").await;
    assert_eq!(
        (
            paged["keys"].as_array().unwrap().len(),
            paged["total_pages"].clone()
        ),
        (1, json!(2))
    );

    // /key/update: the new models apply at once.
    let (status, updated) = h
        .post_json(
            "/key/update",
            &json!({"key": key, "models": ["bridged"], "rpm_limit": 100}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["models"], json!(["bridged"]));
    assert_eq!(updated["rpm_limit"], 100);
    let (status, _, body) = respond_as(&h, &key, "passthrough", "hi").await;
    assert_eq!(status, 401, "{body}");
    assert!(refused(&body, &key).contains("passthrough"));
    let (status, _, _) = respond_as(&h, &key, "bridged", "hi").await;
    assert_eq!(status, 200);

    // Block and unblock.
    let (status, blocked) = h.post_json("/key/block", &json!({"key": key})).await;
    assert_eq!((status, blocked["blocked"].clone()), (200, json!(true)));
    let (status, _, body) = respond_as(&h, &key, "bridged", "hi").await;
    assert_eq!(status, 401);
    assert!(refused(&body, &key).contains("blocked"));
    let (status, unblocked) = h.post_json("/key/unblock", &json!({"key": key})).await;
    assert_eq!((status, unblocked["blocked"].clone()), (200, json!(false)));
    assert_eq!(respond_as(&h, &key, "bridged", "hi").await.0, 200);

    // Regenerate (both paths): the old text stops working, settings and spend carry over.
    let spent = spend_of(&h, &key).await;
    let (status, regen) = h.post_json("/key/regenerate", &json!({"key": key})).await;
    assert_eq!(status, 200, "{regen}");
    let new_key = regen["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    assert_eq!(regen["token"], hash(&new_key));
    assert_eq!(regen["key_alias"], "app-1");
    let (status, _, body) = respond_as(&h, &key, "bridged", "hi").await;
    assert_eq!(status, 401);
    refused(&body, &key);
    assert_eq!(respond_as(&h, &new_key, "bridged", "hi").await.0, 200);
    assert!(spend_of(&h, &new_key).await >= spent);
    let (status, regen) = h
        .post_json(
            &format!("/key/{new_key}/regenerate"),
            &json!({"max_budget": 5.0}),
        )
        .await;
    assert_eq!(status, 200, "{regen}");
    assert_eq!(regen["max_budget"], 5.0);
    let newest = regen["key"].as_str().unwrap().to_string();
    assert_eq!(respond_as(&h, &new_key, "bridged", "hi").await.0, 401);
    assert_eq!(respond_as(&h, &newest, "bridged", "hi").await.0, 200);

    // An unknown key, and an expired one.
    let (status, _, body) = respond_as(&h, "sk-never-issued-0000", "bridged", "hi").await;
    assert_eq!(status, 401);
    refused(&body, "sk-never-issued-0000");
    let (short, _) = generate(&h, json!({"duration": "1s"})).await;
    assert_eq!(respond_as(&h, &short, "bridged", "hi").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = respond_as(&h, &short, "bridged", "hi").await;
    assert_eq!(status, 401);
    assert!(refused(&body, &short).contains("expired"));

    // A key survives a restart: a new proxy on the same database knows it.
    let (again, _acct2) = proxy(url).await;
    assert_eq!(respond_as(&again, &newest, "bridged", "hi").await.0, 200);

    // Delete by key and by alias.
    let (status, deleted) = h.post_json("/key/delete", &json!({"keys": [own]})).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted_keys"], json!([hash(&own)]));
    assert_eq!(respond_as(&h, &own, "bridged", "hi").await.0, 401);
    let (status, deleted) = h
        .post_json("/key/delete", &json!({"key_aliases": ["app-1"]}))
        .await;
    assert_eq!(
        (status, deleted["deleted_keys"].clone()),
        (200, json!(["app-1"]))
    );
    assert_eq!(respond_as(&h, &newest, "bridged", "hi").await.0, 401);
    let (status, _) = h.post_json("/key/delete", &json!({"keys": [own]})).await;
    assert_eq!(status, 404);
    let (status, _) = h.get_json(&format!("/key/info?key={own}")).await;
    assert_eq!(status, 404);
}

/// No answer of the key routes repeats a key's text, but the answers that make one.
#[tokio::test]
async fn key_answers_carry_the_hash_never_the_text() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({"key_alias": "plain"})).await;
    let token = hash(&key);
    let no_text = |what: &str, answer: &Value| {
        assert!(
            !answer.to_string().contains(&key),
            "{what} repeats the key: {answer}"
        );
    };
    let (status, mine) = get_as(&h, &key, "/key/info").await;
    assert_eq!(status, 200, "{mine}");
    no_text("/key/info (own)", &mine);
    assert_eq!(mine["key"], token);
    let (status, info) = h.get_json(&format!("/key/info?key={key}")).await;
    assert_eq!(status, 200, "{info}");
    no_text("/key/info?key=", &info);
    assert_eq!(info["key"], token);
    for path in ["/key/update", "/key/block", "/key/unblock"] {
        let (status, answer) = h
            .post_json(path, &json!({"key": key, "metadata": {}}))
            .await;
        assert_eq!(status, 200, "{path}: {answer}");
        no_text(path, &answer);
        assert_eq!(
            (&answer["key"], &answer["token"]),
            (&json!(token), &json!(token))
        );
    }
    let (status, deleted) = h.post_json("/key/delete", &json!({"keys": [key]})).await;
    assert_eq!(status, 200, "{deleted}");
    no_text("/key/delete", &deleted);
    assert_eq!(deleted["deleted_keys"], json!([token]));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn without_a_master_key_key_routes_are_refused_and_virtual_keys_still_apply() {
    let (url, dir) = sqlite();
    // Keys made while a master key was set.
    let (admin, _acct) = proxy(&url).await;
    let (narrow, _) = generate(&admin, json!({"models": ["passthrough"]})).await;
    let (blocked, _) = generate(&admin, json!({"blocked": true})).await;
    let master_line = format!("  master_key: {KEY}\n");
    let (h, _acct_open) =
        Harness::with_accounting(|m| config(m, "", "").replace(&master_line, ""), &url).await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    for (method, path) in [
        (&post, "/key/generate"),
        (&get, "/key/info"),
        (&get, "/key/list"),
        (&post, "/team/new"),
        (&get, "/team/list"),
    ] {
        for key in [KEY, "sk-anything-1234", narrow.as_str()] {
            let (status, _, body) = call_as(&h, key, method.clone(), path, Some(&json!({}))).await;
            assert_eq!(status, 403, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "master_key_not_set", "{body}");
            assert!(
                refused(&body, key).contains("general_settings.master_key"),
                "{body}"
            );
        }
    }
    // The gateway is open: no key, or a key that is no virtual key.
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .json(&json!({"model": "bridged", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        respond_as(&h, "sk-anything-1234", "bridged", "hi").await.0,
        200
    );
    // A virtual key is still what it was made to be.
    assert_eq!(respond_as(&h, &narrow, "passthrough", "hi").await.0, 200);
    let (status, _, body) = respond_as(&h, &narrow, "bridged", "hi").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "key_model_access_denied");
    let (status, _, body) = respond_as(&h, &blocked, "passthrough", "hi").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "key_blocked");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_background_response_holds_its_place_in_flight_until_it_ends() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({"max_parallel_requests": 1})).await;
    let body =
        json!({"model": "passthrough", "input": "[[mock:slow=1000]] hi", "background": true});
    let (status, _, queued) = call_as(
        &h,
        &key,
        reqwest::Method::POST,
        "/v1/responses",
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{queued}");
    let id = queued["id"].as_str().unwrap().to_string();
    assert_ne!(queued["status"], "completed", "{queued}");
    // The answer has left, the work goes on: the key's one place is taken.
    let (status, _, body) = respond_as(&h, &key, "passthrough", "hi").await;
    assert_eq!(status, 429, "{body}");
    assert!(refused(&body, &key).contains("max_parallel_requests"));
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, polled) = get_as(&h, &key, &format!("/v1/responses/{id}")).await;
        assert_eq!(status, 200, "{polled}");
        if polled["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < until, "{polled}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Given back when the run ended.
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let (status, _, body) = respond_as(&h, &key, "passthrough", "hi").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < until, "{status}: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn debug_output_of_keys_and_their_limits_holds_no_hash() {
    let (url, dir) = sqlite();
    let (h, acct) = proxy(&url).await;
    let (key, _) = generate(
        &h,
        json!({"key_alias": "dbg", "rpm_limit": 5, "tpm_limit": 500, "max_parallel_requests": 2}),
    )
    .await;
    let token = hash(&key);
    let keys = acct.keys();
    let auth = keys.authenticate(&key).await.unwrap();
    let (in_flight, _) = keys.admit(&auth).await.unwrap();
    let scopes = switchyard_server::keys::KeyStore::scopes(&auth);
    for (what, text) in [
        ("VirtualKey", format!("{:?}", auth.key)),
        ("KeyAuth", format!("{auth:?}")),
        ("KeyStore", format!("{keys:?}")),
        ("InFlight", format!("{in_flight:?}")),
        ("Scope", format!("{scopes:?}")),
    ] {
        assert!(!text.contains(&token), "{what}: {text}");
        assert!(!text.contains(&key), "{what}: {text}");
    }
    assert!(
        format!("{:?}", auth.key).contains("dbg"),
        "the rest is still shown"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// What this test's thread logs (the proxy runs on the test's current-thread runtime).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_request_logs_the_route_template_not_a_key_in_its_path() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({})).await;
    let (other, _) = generate(&h, json!({})).await;
    let path = format!("/key/{other}/regenerate");
    let post = reqwest::Method::POST;
    // A virtual key on an admin route (403), an unknown key (401), no key (401).
    let (status, _, body) = call_as(&h, &key, post.clone(), &path, Some(&json!({}))).await;
    assert_eq!(status, 403, "{body}");
    let message = refused(&body, &other);
    assert!(message.contains("/key/{key}/regenerate"), "{message}");
    let (status, _, body) = call_as(&h, "sk-unknown-0000", post.clone(), &path, None).await;
    assert_eq!(status, 401, "{body}");
    refused(&body, &other);
    let response = h
        .client
        .post(format!("{}{path}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let rejected: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request rejected"))
        .collect();
    assert_eq!(rejected.len(), 3, "{text}");
    for line in rejected {
        assert!(line.contains("/key/{key}/regenerate"), "{line}");
    }
    assert!(!text.contains(&other), "a key in a log line: {text}");
    assert!(
        !text.contains(&hash(&other)),
        "a key's hash in a log line: {text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn key_routes_on_sqlite() {
    let (url, dir) = sqlite();
    key_routes(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn key_routes_on_postgres() {
    let (url, base, name) = postgres().await;
    key_routes(&url).await;
    drop_postgres(&base, &name).await;
}

async fn team_routes(url: &str) {
    let (h, _acct) = proxy(url).await;
    let (status, team) = h
        .post_json(
            "/team/new",
            &json!({"team_alias": "research", "models": ["passthrough", "bridged"],
                    "max_budget": 100.0, "rpm_limit": 1000, "metadata": {"cost_center": "r1"},
                    "members_with_roles": [{"role": "admin", "user_id": "alice"}]}),
        )
        .await;
    assert_eq!(status, 200, "{team}");
    let id = team["team_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(team["team_alias"], "research");
    assert_eq!(team["admins"], json!(["alice"]));
    let (status, named) = h
        .post_json("/team/new", &json!({"team_id": "ops", "team_alias": "Ops"}))
        .await;
    assert_eq!((status, named["team_id"].clone()), (200, json!("ops")));
    let (status, _) = h.post_json("/team/new", &json!({"team_id": "ops"})).await;
    assert_eq!(status, 400);

    // A key of the team: the team's models apply on top of the key's.
    let (status, body) = h
        .post_json("/key/generate", &json!({"team_id": "no-such-team"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (key, made) = generate(&h, json!({"team_id": id, "models": ["all-team-models"]})).await;
    assert_eq!(made["team_id"], id);
    assert_eq!(respond_as(&h, &key, "passthrough", "hi").await.0, 200);
    assert_eq!(respond_as(&h, &key, "bridged", "hi").await.0, 200);
    let (status, _, body) = respond_as(&h, &key, "openai/gpt-x", "hi").await;
    assert_eq!(status, 401);
    refused(&body, &key);
    let (wide, _) = generate(&h, json!({"team_id": id})).await;
    let (status, _, body) = respond_as(&h, &wide, "openai/gpt-x", "hi").await;
    assert_eq!(
        status, 401,
        "the team's models hold for a key without its own"
    );
    assert!(refused(&body, &wide).contains("Team"));

    // /team/info, /team/list.
    let (status, info) = h.get_json(&format!("/team/info?team_id={id}")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["team_info"]["team_alias"], "research");
    assert_eq!(info["keys"].as_array().unwrap().len(), 2);
    let (_, teams) = h.get_json("/team/list").await;
    assert_eq!(teams.as_array().unwrap().len(), 2);
    let (status, _) = h.get_json("/team/info?team_id=nobody").await;
    assert_eq!(status, 404);

    // /team/update answers {team_id, data}.
    let (status, updated) = h
        .post_json(
            "/team/update",
            &json!({"team_id": id, "models": ["passthrough"]}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["models"], json!(["passthrough"]));
    assert_eq!(respond_as(&h, &key, "bridged", "hi").await.0, 401);

    // Members.
    let (status, added) = h
        .post_json(
            "/team/member_add",
            &json!({"team_id": id, "member": [{"role": "user", "user_id": "bob"},
                                                {"role": "user", "user_email": "c@example.com"}]}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["members_with_roles"].as_array().unwrap().len(), 3);
    assert_eq!(added["updated_users"].as_array().unwrap().len(), 2);
    let (status, removed) = h
        .post_json(
            "/team/member_delete",
            &json!({"team_id": id, "user_id": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["members_with_roles"].as_array().unwrap().len(), 2);
    let (status, _) = h
        .post_json(
            "/team/member_delete",
            &json!({"team_id": id, "user_id": "bob"}),
        )
        .await;
    assert_eq!(status, 404);

    // Block and unblock: every key of the team.
    let (status, blocked) = h.post_json("/team/block", &json!({"team_id": id})).await;
    assert_eq!((status, blocked["blocked"].clone()), (200, json!(true)));
    let (status, _, body) = respond_as(&h, &key, "passthrough", "hi").await;
    assert_eq!(status, 401);
    assert!(refused(&body, &key).contains("team"));
    let (status, _) = h.post_json("/team/unblock", &json!({"team_id": id})).await;
    assert_eq!(status, 200);
    assert_eq!(respond_as(&h, &key, "passthrough", "hi").await.0, 200);

    // Delete: the team's keys go with it.
    let (status, deleted) = h
        .post_json("/team/delete", &json!({"team_ids": [id]}))
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted_teams"], json!([id]));
    assert_eq!(respond_as(&h, &key, "passthrough", "hi").await.0, 401);
    let (_, teams) = h.get_json("/team/list").await;
    assert_eq!(teams.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn team_routes_on_sqlite() {
    let (url, dir) = sqlite();
    team_routes(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn team_routes_on_postgres() {
    let (url, base, name) = postgres().await;
    team_routes(&url).await;
    drop_postgres(&base, &name).await;
}

#[tokio::test]
async fn a_key_calls_and_lists_only_its_models() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({"models": ["fast", "openai/*"]})).await;
    // An alias it names, a wildcard; not the alias's target by its own name.
    assert_eq!(respond_as(&h, &key, "fast", "hi").await.0, 200);
    assert_eq!(respond_as(&h, &key, "openai/gpt-x", "hi").await.0, 200);
    let (status, _, body) = respond_as(&h, &key, "bridged", "hi").await;
    assert_eq!(status, 401);
    let message = refused(&body, &key);
    assert!(message.contains("bridged"), "{message}");
    assert_eq!(body["error"]["code"], "key_model_access_denied");
    let (status, models) = get_as(&h, &key, "/v1/models").await;
    assert_eq!(status, 200);
    let mut ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["fast", "openai/gpt-x"]);
    // The master key sees every group.
    let (_, all) = h.get_json("/v1/models").await;
    assert!(all["data"].as_array().unwrap().len() >= 5);
    // A key listing the target group may call its alias too.
    let (target, _) = generate(&h, json!({"models": ["passthrough"]})).await;
    assert_eq!(respond_as(&h, &target, "fast", "hi").await.0, 200);
    // allowed_routes narrows the routes further.
    let (narrow, _) = generate(&h, json!({"allowed_routes": ["/v1/models"]})).await;
    assert_eq!(get_as(&h, &narrow, "/v1/models").await.0, 200);
    let (status, _, body) = respond_as(&h, &narrow, "passthrough", "hi").await;
    assert_eq!(status, 403, "{body}");
    refused(&body, &narrow);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_key_reaches_no_other_model_through_the_body_fallbacks() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({"models": ["broken"]})).await;
    let post = reqwest::Method::POST;
    for fallbacks in [json!(["passthrough"]), json!([{"model": "passthrough"}])] {
        let body = json!({"model": "broken", "input": "hi", "fallbacks": fallbacks});
        let (status, _, answer) =
            call_as(&h, &key, post.clone(), "/v1/responses", Some(&body)).await;
        assert_eq!(status, 401, "{fallbacks}: {answer}");
        assert_eq!(answer["error"]["code"], "key_model_access_denied");
        assert!(refused(&answer, &key).contains("passthrough"), "{answer}");
    }
    // A fallback it may use passes the check (and is tried).
    let (both, _) = generate(&h, json!({"models": ["broken", "fast"]})).await;
    let body = json!({"model": "broken", "input": "hi", "fallbacks": ["fast"]});
    let (status, _, answer) = call_as(&h, &both, post.clone(), "/v1/responses", Some(&body)).await;
    assert_eq!(status, 200, "{answer}");
    // The configured fallbacks (broken → passthrough) are the operator's: they still apply.
    let (status, _, answer) = respond_as(&h, &key, "broken", "hi").await;
    assert_eq!(status, 200, "{answer}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn all_team_models_admits_nothing_without_a_team_and_a_lost_team_is_refused() {
    let (url, dir) = sqlite();
    let (h, acct) = proxy(&url).await;
    let (lone, _) = generate(&h, json!({"models": ["all-team-models"]})).await;
    let (status, _, body) = respond_as(&h, &lone, "passthrough", "hi").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "key_model_access_denied");
    refused(&body, &lone);
    let (status, models) = get_as(&h, &lone, "/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(models["data"], json!([]), "{models}");

    let (status, team) = h
        .post_json(
            "/team/new",
            &json!({"team_id": "t-gone", "models": ["passthrough"]}),
        )
        .await;
    assert_eq!(status, 200, "{team}");
    let (member, _) = generate(
        &h,
        json!({"team_id": "t-gone", "models": ["all-team-models"]}),
    )
    .await;
    assert_eq!(respond_as(&h, &member, "passthrough", "hi").await.0, 200);
    assert_eq!(respond_as(&h, &member, "bridged", "hi").await.0, 401);
    // The team row goes (by hand: /team/delete takes its keys with it), the key stays.
    sqlx::query("DELETE FROM teams WHERE team_id = 't-gone'")
        .execute(acct.store().database().pool())
        .await
        .unwrap();
    acct.keys().reload().await.unwrap();
    let (status, _, body) = respond_as(&h, &member, "passthrough", "hi").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "team_not_found");
    let message = refused(&body, &member);
    assert!(
        message.contains("t-gone") && message.contains("no longer exists"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_virtual_key_is_refused_on_every_admin_route() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({})).await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let routes = [
        (&post, "/key/generate"),
        (&post, "/key/update"),
        (&post, "/key/delete"),
        (&post, "/key/block"),
        (&post, "/key/unblock"),
        (&post, "/key/regenerate"),
        (&post, "/key/sk-anything/regenerate"),
        (&get, "/key/list"),
        (&post, "/team/new"),
        (&post, "/team/update"),
        (&post, "/team/delete"),
        (&post, "/team/member_add"),
        (&post, "/team/member_delete"),
        (&post, "/team/block"),
        (&post, "/team/unblock"),
        (&get, "/team/info?team_id=x"),
        (&get, "/team/list"),
        (&get, "/spend/logs"),
        (&get, "/global/spend/report"),
        (&get, "/customer/info?end_user_id=x"),
        (&post, "/customer/new"),
        (&post, "/customer/update"),
        (&post, "/customer/block"),
        (&post, "/customer/unblock"),
        (&get, "/health"),
        (&get, "/metrics"),
    ];
    for (method, path) in routes {
        let (status, _, body) = call_as(&h, &key, method.clone(), path, Some(&json!({}))).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        let message = refused(&body, &key);
        assert!(message.contains("master key"), "{message}");
    }
    // What it may call.
    assert_eq!(get_as(&h, &key, "/key/info").await.0, 200);
    assert_eq!(get_as(&h, &key, "/v1/models").await.0, 200);
    assert_eq!(respond_as(&h, &key, "passthrough", "hi").await.0, 200);
    let _ = std::fs::remove_dir_all(dir);
}

async fn budgets(url: &str) {
    let (h, _acct) = proxy(url).await;
    // Each request reserves 0.85 × COST: two fit in 2.5 × COST, a third would pass it and
    // is refused before it runs.
    let budget = 2.5 * COST;
    let (key, _) = generate(&h, json!({"max_budget": budget, "key_alias": "budgeted"})).await;
    let (status, _, body) = respond_capped(&h, &key, "passthrough", SMALL).await;
    assert_eq!(status, 200, "{body}");
    // Spend is exact right after the answer.
    assert!(close(spend_of(&h, &key).await, COST));
    // Streamed, and its spend counts before the next request.
    let (status, sse) = stream_capped(&h, &key, "passthrough", SMALL).await;
    assert_eq!(status, 200);
    assert!(sse.contains("response.completed"), "{sse}");
    assert!(close(spend_of(&h, &key).await, 2.0 * COST));
    let (status, _, body) = respond_capped(&h, &key, "passthrough", SMALL).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "budget_exceeded");
    let message = refused(&body, &key);
    assert!(message.contains("Budget has been exceeded"), "{message}");
    assert!(message.contains("estimate"), "{message}");
    let (status, _) = stream_capped(&h, &key, "passthrough", SMALL).await;
    assert_eq!(status, 400);
    // Refused requests cost nothing.
    assert!(close(spend_of(&h, &key).await, 2.0 * COST));

    // After a fallback (broken → passthrough): the fallback's cost is the key's.
    let (fallback, _) = generate(&h, json!({"max_budget": 0.5 * COST})).await;
    let (status, headers, body) = respond_as(&h, &fallback, "broken", SMALL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-litellm-attempted-fallbacks"], "1");
    assert!(close(spend_of(&h, &fallback).await, COST));
    let (status, _, body) = respond_as(&h, &fallback, "broken", SMALL).await;
    assert_eq!(status, 400);
    refused(&body, &fallback);
    let (status, _) = stream_as(&h, &fallback, "broken", SMALL).await;
    assert_eq!(status, 400);

    // A team budget holds for all its keys together.
    let (_, team) = h
        .post_json(
            "/team/new",
            &json!({"team_id": "t-budget", "max_budget": 2.5 * COST}),
        )
        .await;
    assert_eq!(team["team_id"], "t-budget");
    let (a, _) = generate(&h, json!({"team_id": "t-budget"})).await;
    let (b, _) = generate(&h, json!({"team_id": "t-budget"})).await;
    assert_eq!(respond_capped(&h, &a, "passthrough", SMALL).await.0, 200);
    assert_eq!(stream_capped(&h, &b, "passthrough", SMALL).await.0, 200);
    let (status, _, body) = respond_capped(&h, &a, "passthrough", SMALL).await;
    assert_eq!(status, 400);
    assert!(refused(&body, &a).contains("Team=t-budget"));
    let (_, info) = h.get_json("/team/info?team_id=t-budget").await;
    assert!(close(
        info["team_info"]["spend"].as_f64().unwrap(),
        2.0 * COST
    ));

    // The database has the same figures once the batch is written.
    let until = Instant::now() + Duration::from_secs(5);
    let (restarted, _acct2) = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let p = proxy(url).await;
        if close(spend_of(&p.0, &key).await, 2.0 * COST) || Instant::now() > until {
            break p;
        }
    };
    assert!(close(spend_of(&restarted, &key).await, 2.0 * COST));
}

#[tokio::test]
async fn budgets_stop_the_next_request_streamed_and_after_a_fallback_on_sqlite() {
    let (url, dir) = sqlite();
    budgets(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn budgets_stop_the_next_request_streamed_and_after_a_fallback_on_postgres() {
    let (url, base, name) = postgres().await;
    budgets(&url).await;
    drop_postgres(&base, &name).await;
}

async fn budget_periods(url: &str) {
    let (h, _acct) = proxy(url).await;
    let (key, made) = generate(&h, json!({"max_budget": COST, "budget_duration": "2s"})).await;
    assert_eq!(made["budget_duration"], "2s");
    assert!(made["budget_reset_at"].is_string(), "{made}");
    assert_eq!(respond_capped(&h, &key, "passthrough", SMALL).await.0, 200);
    assert_eq!(respond_capped(&h, &key, "passthrough", SMALL).await.0, 400);
    // Within the next period (2 s, plus a refresh), the key may spend again.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, _, _) = respond_capped(&h, &key, "passthrough", SMALL).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < until, "the budget never reset");
    }
    assert!(close(spend_of(&h, &key).await, COST));
    assert_eq!(respond_capped(&h, &key, "passthrough", SMALL).await.0, 400);
    // /key/info shows the new period's end.
    let (_, info) = h.get_json(&format!("/key/info?key={key}")).await;
    assert_ne!(
        info["info"]["budget_reset_at"], made["budget_reset_at"],
        "{info}"
    );
}

#[tokio::test]
async fn budget_duration_resets_the_spend_on_sqlite() {
    let (url, dir) = sqlite();
    budget_periods(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn budget_duration_resets_the_spend_on_postgres() {
    let (url, base, name) = postgres().await;
    budget_periods(&url).await;
    drop_postgres(&base, &name).await;
}

#[tokio::test]
async fn a_request_whose_estimate_would_pass_the_budget_is_refused_before_the_upstream_is_called() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({"max_budget": 10.0 * COST})).await;
    let before = h.mock.requests().len();
    // No max_output_tokens: 256 output tokens are estimated, 7 + 512 µUSD, over 200 µUSD.
    let (status, _, body) = respond_as(&h, &key, "passthrough", SMALL).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "budget_exceeded");
    assert_eq!(body["error"]["code"], "budget_exceeded");
    let message = refused(&body, &key);
    assert!(message.contains("estimate"), "{message}");
    let (status, _) = stream_as(&h, &key, "passthrough", SMALL).await;
    assert_eq!(status, 400);
    assert_eq!(h.mock.requests().len(), before, "the upstream was called");
    assert!(close(spend_of(&h, &key).await, 0.0));
    // One that fits runs; then 90 output tokens (187 µUSD) would pass the 180 left.
    assert_eq!(respond_capped(&h, &key, "passthrough", SMALL).await.0, 200);
    assert_eq!(h.mock.requests().len(), before + 1);
    let body = json!({"model": "passthrough", "input": SMALL, "max_output_tokens": 90});
    let (status, _, answer) = call_as(
        &h,
        &key,
        reqwest::Method::POST,
        "/v1/responses",
        Some(&body),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        h.mock.requests().len(),
        before + 1,
        "the upstream was called"
    );
    // 80 (167 µUSD) fit.
    let body = json!({"model": "passthrough", "input": SMALL, "max_output_tokens": 80});
    let (status, _, answer) = call_as(
        &h,
        &key,
        reqwest::Method::POST,
        "/v1/responses",
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Counting input tokens costs nothing: it reserves nothing and is answered.
    let (status, body) = post_as_key(
        &h,
        &key,
        "/v1/responses/input_tokens",
        json!({"model": "passthrough", "input": SMALL, "max_output_tokens": 1000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A team's budget is held the same way for a key without one of its own.
    let (status, _) = h
        .post_json(
            "/team/new",
            &json!({"team_id": "t-estimate", "max_budget": 10.0 * COST}),
        )
        .await;
    assert_eq!(status, 200);
    let (member, _) = generate(&h, json!({"team_id": "t-estimate"})).await;
    let before = h.mock.requests().len();
    let (status, _, body) = respond_as(&h, &member, "passthrough", SMALL).await;
    assert_eq!(status, 400, "{body}");
    assert!(refused(&body, &member).contains("Team=t-estimate"));
    assert_eq!(h.mock.requests().len(), before, "the upstream was called");
    let _ = std::fs::remove_dir_all(dir);
}

/// A capped request the mock answers after `ms`: its status.
fn slow_capped(h: &Harness, key: &str, ms: u64) -> tokio::task::JoinHandle<u16> {
    let (client, base, key) = (h.client.clone(), h.base.clone(), key.to_string());
    tokio::spawn(async move {
        client
            .post(format!("{base}/v1/responses"))
            .bearer_auth(key)
            .json(&json!({"model": "passthrough", "max_output_tokens": 5,
                          "input": format!("[[mock:slow={ms}]] {SMALL}")}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[tokio::test]
async fn concurrent_requests_under_budget_cannot_together_pass_it() {
    let (url, dir) = sqlite();
    let (h, acct) = proxy(&url).await;
    // Each request reserves 12 input + 5 output tokens, 22 µUSD, and costs 20: two fit in
    // 50, a third would pass it. Checking spend alone let all four run (80 µUSD).
    let (key, _) = generate(&h, json!({"max_budget": 2.5 * COST})).await;
    let running: Vec<_> = (0..4).map(|_| slow_capped(&h, &key, 500)).collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        close(acct.keys().key_reserved(&hash(&key)), 2.0 * 22e-6),
        "{}",
        acct.keys().key_reserved(&hash(&key))
    );
    let mut statuses = Vec::new();
    for r in running {
        statuses.push(r.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 200, 400, 400]);
    assert!(close(spend_of(&h, &key).await, 2.0 * COST));
    assert!(close(acct.keys().key_reserved(&hash(&key)), 0.0));

    // The same for a team's keys together.
    let (status, _) = h
        .post_json(
            "/team/new",
            &json!({"team_id": "t-together", "max_budget": 2.5 * COST}),
        )
        .await;
    assert_eq!(status, 200);
    let (a, _) = generate(&h, json!({"team_id": "t-together"})).await;
    let (b, _) = generate(&h, json!({"team_id": "t-together"})).await;
    let running: Vec<_> = [&a, &b, &a, &b]
        .into_iter()
        .map(|k| slow_capped(&h, k, 500))
        .collect();
    let mut statuses = Vec::new();
    for r in running {
        statuses.push(r.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 200, 400, 400]);
    let (_, info) = h.get_json("/team/info?team_id=t-together").await;
    assert!(close(
        info["team_info"]["spend"].as_f64().unwrap(),
        2.0 * COST
    ));
    assert!(close(acct.keys().team_reserved("t-together"), 0.0));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn budget_reservations_are_released_on_success_failure_and_a_dropped_stream() {
    let (url, dir) = sqlite();
    let (h, acct) = proxy(&url).await;
    let (status, _) = h
        .post_json(
            "/team/new",
            &json!({"team_id": "t-release", "max_budget": 1.0}),
        )
        .await;
    assert_eq!(status, 200);
    let (key, _) = generate(&h, json!({"team_id": "t-release", "max_budget": 1.0})).await;
    let token = hash(&key);
    let keys = acct.keys();
    let nothing_held =
        || close(keys.key_reserved(&token), 0.0) && close(keys.team_reserved("t-release"), 0.0);

    // Held while running, released by its record.
    let slow = slow_capped(&h, &key, 500);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(keys.key_reserved(&token) > 0.0);
    assert!(keys.team_reserved("t-release") > 0.0);
    assert_eq!(slow.await.unwrap(), 200);
    assert!(nothing_held(), "success: {}", keys.key_reserved(&token));
    assert!(close(spend_of(&h, &key).await, COST));

    // The upstream fails.
    let (status, _, body) = respond_capped(&h, &key, "passthrough", "[[mock:error=500]] hi").await;
    assert!(status >= 500, "{status} {body}");
    assert!(nothing_held(), "failure: {}", keys.key_reserved(&token));

    // The client drops a stream the upstream has paused after its first output. Through the
    // Chat Completions bridge the mock's stall falls after the first words; a Responses
    // upstream would stall before its first output item, which priming waits out, so the
    // client's first bytes would come with the whole rest of the stream behind them (and
    // the stream's record, giving the reservation back, could already be made).
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(&key)
        .json(
            &json!({"model": "bridged", "stream": true, "max_output_tokens": 5,
                      "input": format!("[[mock:stall=10000]] {SMALL}")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut response = response;
    let mut seen = String::new();
    while !seen.contains("response.output_text.delta") {
        let chunk = response
            .chunk()
            .await
            .unwrap()
            .expect("the stream's first events");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains("response.completed"), "{seen}");
    // The upstream is paused for 10 s: the stream is running, and holds its reservation.
    assert!(keys.key_reserved(&token) > 0.0, "mid-stream");
    assert!(keys.team_reserved("t-release") > 0.0, "mid-stream");
    drop(response);
    let released = crate::common::eventually(Duration::from_secs(3), nothing_held).await;
    assert!(released, "dropped stream: {}", keys.key_reserved(&token));
    let _ = std::fs::remove_dir_all(dir);
}

/// Rate-limit windows are calendar minutes (of Redis's clock, this machine's): a test that
/// counts within one window waits, when less than 20 s of the current one are left, for the
/// next.
async fn well_inside_a_minute() {
    let into_minute = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000) as u64;
    if into_minute > 40_000 {
        tokio::time::sleep(Duration::from_millis(60_500 - into_minute)).await;
    }
}

#[tokio::test]
async fn rpm_and_tpm_are_held_exactly_by_two_replicas_sharing_redis() {
    let (url, dir) = sqlite();
    let prefix = prefix();
    let (a, _acct_a) = shared_proxy(&url, &prefix).await;
    let (b, _acct_b) = shared_proxy(&url, &prefix).await;
    let replicas = [&a, &b];

    // rpm: 4 requests a minute between both replicas.
    let (key, _) = generate(&a, json!({"rpm_limit": 4})).await;
    well_inside_a_minute().await;
    let mut passed = 0;
    let mut refused_headers = None;
    for i in 0..10 {
        let (status, headers, body) = respond_as(replicas[i % 2], &key, "passthrough", "hi").await;
        match status {
            200 => passed += 1,
            429 => {
                refused(&body, &key);
                refused_headers = Some(headers);
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(passed, 4);
    let headers = refused_headers.unwrap();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "4");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    assert!(headers.get("x-ratelimit-reset-requests").is_some());
    let (_, headers, _) = respond_as(&a, &key, "passthrough", "hi").await;
    assert!(headers.get("retry-after").is_some());
    // A request that passed carries what is left.
    let (other, _) = generate(&a, json!({"rpm_limit": 10})).await;
    let (status, headers, _) = respond_as(&b, &other, "passthrough", "hi").await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-ratelimit-limit-requests"], "10");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "9");

    // tpm: 25 tokens a minute; each request uses 15, counted when it ends.
    let (key, _) = generate(&a, json!({"tpm_limit": 25})).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let (status, _, _) = respond_as(replicas[i % 2], &key, "passthrough", SMALL).await;
        statuses.push(status);
        // The tokens reach Redis just after the answer.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, vec![200, 200, 429, 429]);

    // A team's rpm covers all its keys on both replicas.
    a.post_json("/team/new", &json!({"team_id": "t-rpm", "rpm_limit": 3}))
        .await;
    let (k1, _) = generate(&a, json!({"team_id": "t-rpm"})).await;
    let (k2, _) = generate(&a, json!({"team_id": "t-rpm"})).await;
    let mut passed = 0;
    for i in 0..6 {
        let key = if i % 3 == 0 { &k1 } else { &k2 };
        if respond_as(replicas[i % 2], key, "passthrough", "hi")
            .await
            .0
            == 200
        {
            passed += 1;
        }
    }
    assert_eq!(passed, 3);

    // max_parallel_requests: one in flight, whichever replica.
    let (key, _) = generate(&a, json!({"max_parallel_requests": 1})).await;
    let slow = {
        let (client, base, key) = (a.client.clone(), a.base.clone(), key.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/v1/responses"))
                .bearer_auth(key)
                .json(&json!({"model": "passthrough", "input": "[[mock:slow=800]] hi"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = respond_as(&b, &key, "passthrough", "hi").await;
    assert_eq!(status, 429, "{body}");
    assert!(refused(&body, &key).contains("max_parallel_requests"));
    assert_eq!(slow.await.unwrap(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(respond_as(&b, &key, "passthrough", "hi").await.0, 200);
    let _ = std::fs::remove_dir_all(dir);
}

/// Sends a slow request with `key` to `h`: its status.
fn slow_request(h: &Harness, key: &str, ms: u64) -> tokio::task::JoinHandle<u16> {
    let (client, base, key) = (h.client.clone(), h.base.clone(), key.to_string());
    tokio::spawn(async move {
        client
            .post(format!("{base}/v1/responses"))
            .bearer_auth(key)
            .json(&json!({"model": "passthrough", "input": format!("[[mock:slow={ms}]] hi")}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[tokio::test]
async fn requests_in_flight_in_redis_do_not_drift_when_redis_loses_a_count() {
    let (url, dir) = sqlite();
    let prefix = prefix();
    let (a, _acct_a) = shared_proxy(&url, &prefix).await;
    let (b, _acct_b) = shared_proxy(&url, &prefix).await;
    let (key, _) = generate(&a, json!({"max_parallel_requests": 1})).await;
    let slow = slow_request(&a, &key, 800);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(respond_as(&b, &key, "passthrough", "hi").await.0, 429);
    // Redis loses what it held for the key's requests in flight (expiry under a long
    // request, a failover, eviction) while one is running.
    let redis_url = std::env::var("SWITCHYARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut redis = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let held: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:keylimit:parallel:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        !held.is_empty(),
        "the in-flight request is counted in Redis"
    );
    let _: () = redis::cmd("DEL")
        .arg(&held)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(slow.await.unwrap(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The release of that request must not leave room for two.
    let first = slow_request(&a, &key, 600);
    let second = slow_request(&b, &key, 600);
    let mut statuses = vec![first.await.unwrap(), second.await.unwrap()];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 429]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(respond_as(&b, &key, "passthrough", "hi").await.0, 200);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn concurrent_requests_reserve_their_tokens_so_tpm_is_not_overshot() {
    let (url, dir) = sqlite();
    let prefix = prefix();
    let (a, _acct_a) = shared_proxy(&url, &prefix).await;
    let (b, _acct_b) = shared_proxy(&url, &prefix).await;
    well_inside_a_minute().await;
    // 25 tokens a minute; each request uses 15 and says it may write 5.
    let (key, _) = generate(&a, json!({"tpm_limit": 25})).await;
    let mut running = Vec::new();
    for i in 0..4 {
        let h = if i % 2 == 0 { &a } else { &b };
        let (client, base, key) = (h.client.clone(), h.base.clone(), key.clone());
        running.push(tokio::spawn(async move {
            client
                .post(format!("{base}/v1/responses"))
                .bearer_auth(key)
                .json(&json!({"model": "passthrough", "max_output_tokens": 5,
                              "input": format!("[[mock:slow=500]] {SMALL}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let mut statuses = Vec::new();
    for r in running {
        statuses.push(r.await.unwrap());
    }
    let passed = statuses.iter().filter(|s| **s == 200).count();
    // Reading the count before and adding after let all four through (60 tokens).
    assert!((1..=2).contains(&passed), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );

    // A reservation (here the default output estimate, far over the limit) is replaced by
    // what the request used once it ends (a write that follows the request's record).
    well_inside_a_minute().await;
    let (key, _) = generate(&a, json!({"tpm_limit": 40})).await;
    for (i, replica) in [&a, &b, &a].into_iter().enumerate() {
        let (status, _, body) = respond_as(replica, &key, "passthrough", SMALL).await;
        assert_eq!(
            status,
            200,
            "request {i}, {} tokens used before: {body}",
            15 * i
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, _, body) = respond_as(&b, &key, "passthrough", SMALL).await;
    assert_eq!(status, 429, "45 of 40 used: {body}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn revocation_reaches_both_replicas(url: &str) {
    let (a, _acct_a) = proxy(url).await;
    let (b, _acct_b) = proxy(url).await;
    for change in ["block", "delete", "regenerate", "update"] {
        let (key, _) = generate(&a, json!({"models": ["passthrough"]})).await;
        // Both replicas know the key (made on a, read by b).
        assert_eq!(respond_as(&a, &key, "passthrough", "hi").await.0, 200);
        assert_eq!(respond_as(&b, &key, "passthrough", "hi").await.0, 200);
        let started = Instant::now();
        let (status, body) = match change {
            "block" => a.post_json("/key/block", &json!({"key": key})).await,
            "delete" => a.post_json("/key/delete", &json!({"keys": [key]})).await,
            "regenerate" => a.post_json("/key/regenerate", &json!({"key": key})).await,
            _ => {
                a.post_json("/key/update", &json!({"key": key, "models": ["bridged"]}))
                    .await
            }
        };
        assert_eq!(status, 200, "{change}: {body}");
        assert_eq!(respond_as(&a, &key, "passthrough", "hi").await.0, 401);
        loop {
            let (status, _, body) = respond_as(&b, &key, "passthrough", "hi").await;
            if status == 401 {
                refused(&body, &key);
                break;
            }
            assert_eq!(status, 200);
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{change} reached the other replica after {:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{change}");
    }
    // A team blocked on one replica is blocked on the other.
    a.post_json("/team/new", &json!({"team_id": "t-rev"})).await;
    let (key, _) = generate(&a, json!({"team_id": "t-rev"})).await;
    assert_eq!(respond_as(&b, &key, "passthrough", "hi").await.0, 200);
    let started = Instant::now();
    a.post_json("/team/block", &json!({"team_id": "t-rev"}))
        .await;
    while respond_as(&b, &key, "passthrough", "hi").await.0 != 401 {
        assert!(started.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_both_replicas_within_a_second_on_sqlite() {
    let (url, dir) = sqlite();
    revocation_reaches_both_replicas(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_both_replicas_within_a_second_on_postgres() {
    let (url, base, name) = postgres().await;
    revocation_reaches_both_replicas(&url).await;
    drop_postgres(&base, &name).await;
}

#[tokio::test]
async fn spend_logs_carry_the_key_and_its_team() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    h.post_json(
        "/team/new",
        &json!({"team_id": "t-logs", "team_alias": "Logs"}),
    )
    .await;
    let (key, _) = generate(
        &h,
        json!({"team_id": "t-logs", "key_alias": "logger", "user_id": "u-9", "tags": ["k-tag"]}),
    )
    .await;
    let (other, _) = generate(&h, json!({"key_alias": "solo"})).await;
    assert_eq!(respond_as(&h, &key, "passthrough", SMALL).await.0, 200);
    assert_eq!(stream_as(&h, &key, "passthrough", SMALL).await.0, 200);
    assert_eq!(respond_as(&h, &other, "passthrough", SMALL).await.0, 200);
    // Every row written (the three requests') before any is read.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, rows) = h.get_json("/spend/logs").await;
        assert_eq!(status, 200, "{rows}");
        if rows.as_array().unwrap().len() >= 3 || Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, rows) = h.get_json("/spend/logs?team_id=t-logs").await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["api_key"], hash(&key));
        assert_eq!(row["api_key_alias"], "logger");
        assert_eq!(row["team_id"], "t-logs");
        assert_eq!(row["team_alias"], "Logs");
        assert_eq!(row["user"], "u-9");
        assert!(
            row["request_tags"]
                .as_array()
                .unwrap()
                .contains(&json!("k-tag")),
            "{row}"
        );
    }
    let (_, by_alias) = h.get_json("/spend/logs?key_alias=solo").await;
    assert_eq!(by_alias.as_array().unwrap().len(), 1);
    let (_, by_key) = h.get_json(&format!("/spend/logs?api_key={other}")).await;
    assert_eq!(by_key.as_array().unwrap().len(), 1);
    let (status, report) = h.get_json("/global/spend/report?group_by=team").await;
    assert_eq!(status, 200, "{report}");
    let team_row = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["team_id"] == "t-logs")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(team_row["requests"], 2);
    assert!(close(team_row["spend"].as_f64().unwrap(), 2.0 * COST));
    let (_, report) = h.get_json("/global/spend/report?group_by=key_alias").await;
    assert!(
        report
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key_alias"] == "solo" && r["requests"] == 1),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn input_tokens_and_compact_hold_the_keys_models() {
    let (url, dir) = sqlite();
    let (h, _acct) = proxy(&url).await;
    let (key, _) = generate(&h, json!({"models": ["passthrough"]})).await;
    for path in ["/v1/responses/input_tokens", "/v1/responses/compact"] {
        let (status, body) =
            post_as_key(&h, &key, path, json!({"model": "bridged", "input": "hi"})).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(body["error"]["code"], "key_model_access_denied");
        refused(&body, &key);
    }
    let (status, body) = post_as_key(
        &h,
        &key,
        "/v1/responses/input_tokens",
        json!({"model": "passthrough", "input": "hi"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn post_as_key(h: &Harness, key: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = call_as(h, key, reqwest::Method::POST, path, Some(&body)).await;
    (status, body)
}

#[tokio::test]
async fn limits_hold_per_replica_while_redis_is_unreachable() {
    let (url, dir) = sqlite();
    let router = ", redis_url: \"redis://127.0.0.1:9\"";
    let own = format!(
        "switchyard_settings: {{redis_key_prefix: \"{}\"}}",
        prefix()
    );
    let (h, acct) = Harness::with_accounting(|m| config(m, router, &own), &url).await;
    assert!(acct.keys().limiter().is_shared() && !acct.keys().limiter().connected());
    let (key, _) = generate(&h, json!({"rpm_limit": 2})).await;
    let statuses = [
        respond_as(&h, &key, "passthrough", "hi").await.0,
        respond_as(&h, &key, "passthrough", "hi").await.0,
        respond_as(&h, &key, "passthrough", "hi").await.0,
    ];
    assert_eq!(statuses, [200, 200, 429]);
    // Budgets too: this replica's spend and reservations.
    let (key, _) = generate(&h, json!({"max_budget": 1.5 * COST})).await;
    assert_eq!(respond_capped(&h, &key, "passthrough", SMALL).await.0, 200);
    assert_eq!(respond_capped(&h, &key, "passthrough", SMALL).await.0, 400);
    let _ = std::fs::remove_dir_all(dir);
}

/// What a request made by [`exact`] reserves and costs: its input is 12 tokens at 4 bytes a
/// token (46 bytes as JSON), its usage says 12 in and 5 out, and it says it writes at most 5.
const EXACT: f64 = 12.0 * IN + 5.0 * OUT;

/// A capped request to `h` whose estimate is its cost ([`EXACT`]), answered after `ms`
/// (100 to 999): its status and body.
fn exact(h: &Harness, key: &str, ms: u64) -> tokio::task::JoinHandle<(u16, Value)> {
    assert!(
        (100..1000).contains(&ms),
        "three digits keep the estimate at 12 tokens"
    );
    let (client, base, key) = (h.client.clone(), h.base.clone(), key.to_string());
    tokio::spawn(async move {
        let response = client
            .post(format!("{base}/v1/responses"))
            .bearer_auth(key)
            .json(&json!({"model": "passthrough", "max_output_tokens": 5,
                          "input": format!("[[mock:slow={ms}]] [[mock:usage=12,5,0,0]] hi")}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    })
}

/// Statuses of `running`, checking every refusal is the budget's (and names no key).
async fn budget_statuses(
    running: Vec<tokio::task::JoinHandle<(u16, Value)>>,
    keys: &[&str],
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for r in running {
        let (status, body) = r.await.unwrap();
        if status != 200 {
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error"]["type"], "budget_exceeded", "{body}");
            for key in keys {
                assert!(refused(&body, key).contains("Budget has been exceeded"));
            }
        }
        statuses.push(status);
    }
    statuses
}

/// `path`'s spend (at `field`) on `h` once it reads `want`: the record's script is sent to
/// Redis before the answer leaves, and this reads through another connection. It usually
/// reads `want` at once; the bound is five seconds because a CI machine of two cores running
/// every suite at once has stalled a second (this failed once so, at one second). Returns
/// what it read last.
async fn spend_reaches(h: &Harness, path: &str, field: &[&str], want: f64) -> f64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, info) = h.get_json(path).await;
        assert_eq!(status, 200, "{info}");
        let spend = field.iter().fold(&info, |v, f| &v[*f]).as_f64().unwrap();
        if close(spend, want) || Instant::now() > until {
            return spend;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn budgets_across_replicas(url: &str) {
    let prefix = prefix();
    let (a, acct_a) = shared_proxy(url, &prefix).await;
    let (b, acct_b) = shared_proxy(url, &prefix).await;

    // Three requests fit in 3.5 × EXACT, whichever replica admits them and however many run
    // at once: each replica checking alone (as without Redis) admits three of its own.
    let (key, _) = generate(&a, json!({"max_budget": 3.5 * EXACT})).await;
    let running: Vec<_> = (0..10)
        .map(|i| exact(if i % 2 == 0 { &a } else { &b }, &key, 800))
        .collect();
    let statuses = budget_statuses(running, &[&key]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    // The reservations held in Redis, not here.
    assert!(close(acct_a.keys().key_reserved(&hash(&key)), 0.0));
    assert!(close(acct_b.keys().key_reserved(&hash(&key)), 0.0));
    let path = format!("/key/info?key={key}");
    for h in [&a, &b] {
        let spend = spend_reaches(h, &path, &["info", "spend"], 3.0 * EXACT).await;
        assert!(close(spend, 3.0 * EXACT), "{spend}");
    }

    // A team's budget, over its keys on both replicas.
    let (status, _) = a
        .post_json(
            "/team/new",
            &json!({"team_id": "t-shared", "max_budget": 3.5 * EXACT}),
        )
        .await;
    assert_eq!(status, 200);
    let (k1, _) = generate(&a, json!({"team_id": "t-shared"})).await;
    let (k2, _) = generate(&a, json!({"team_id": "t-shared"})).await;
    let running: Vec<_> = (0..10)
        .map(|i| {
            let key = if i % 3 == 0 { &k1 } else { &k2 };
            exact(if i % 2 == 0 { &a } else { &b }, key, 800)
        })
        .collect();
    let statuses = budget_statuses(running, &[&k1, &k2]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    for h in [&a, &b] {
        let spend = spend_reaches(
            h,
            "/team/info?team_id=t-shared",
            &["team_info", "spend"],
            3.0 * EXACT,
        )
        .await;
        assert!(close(spend, 3.0 * EXACT), "{spend}");
    }

    // Spend recorded on one replica refuses the next request on the other at once (not
    // after the 0.5 s read-back of the database).
    let (key, _) = generate(&a, json!({"max_budget": 1.5 * EXACT})).await;
    let (status, body) = exact(&a, &key, 100).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = exact(&b, &key, 100).await.unwrap();
    assert_eq!(status, 400, "{body}");
    let message = refused(&body, &key);
    assert!(message.contains("Budget has been exceeded"), "{message}");
    // A replica's own figure seeds Redis when Redis lost it (a restart, an eviction).
    let redis_url = std::env::var("SWITCHYARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut redis = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let spends: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:keybudget:spend:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!spends.is_empty(), "budgets are held in Redis");
    let _: () = redis::cmd("DEL")
        .arg(&spends)
        .query_async(&mut redis)
        .await
        .unwrap();
    let (status, body) = exact(&a, &key, 100).await.unwrap();
    assert_eq!(status, 400, "{body}");

    // A reservation whose replica died (nothing renews it) counts until its lease ends,
    // then lapses.
    let (key, _) = generate(&a, json!({"max_budget": 1.5 * EXACT})).await;
    let (seconds, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut redis).await.unwrap();
    let deadline = seconds * 1000 + micros / 1000 + 400;
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}:keybudget:held:k:{}:0", hash(&key)))
        .arg(deadline)
        .arg(format!("dead-replica-request|{EXACT}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let (status, body) = exact(&b, &key, 100).await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(refused(&body, &key).contains("reserved by requests running"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = exact(&b, &key, 100).await.unwrap();
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn budgets_are_held_exactly_by_two_replicas_sharing_redis_on_sqlite() {
    let (url, dir) = sqlite();
    budgets_across_replicas(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn budgets_are_held_exactly_by_two_replicas_sharing_redis_on_postgres() {
    let (url, base, name) = postgres().await;
    budgets_across_replicas(&url).await;
    drop_postgres(&base, &name).await;
}
