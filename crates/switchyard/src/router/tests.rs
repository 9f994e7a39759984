use std::time::Duration;

use super::*;
use crate::config::{Config, Env};
use crate::gateway::registry::Registry;

fn setup(router_yaml: &str, deployments: usize) -> (Router, Target) {
    let mut yaml = String::from("model_list:\n");
    for i in 0..deployments {
        yaml.push_str(&format!(
            "  - {{model_name: g, litellm_params: {{model: openai/m, api_key: k}}, model_info: {{id: d{i}}}}}\n"
        ));
    }
    yaml.push_str(&format!("router_settings: {router_yaml}\n"));
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    (
        Router::new(config.router.clone()),
        registry.target("g").unwrap(),
    )
}

fn upstream(kind: ErrorKind) -> Error {
    Error::upstream(kind, "x")
}

#[test]
fn retries_follow_num_retries_policy_and_class() {
    let (router, target) = setup(
        "{num_retries: 2, retry_policy: {AuthenticationErrorRetries: 1}}",
        1,
    );
    let d = &target.deployments[0];
    let rate = upstream(ErrorKind::RateLimited);
    assert!(router.retry_delay(&rate, d, 0, false, None).is_some());
    assert!(
        router.retry_delay(&rate, d, 2, false, None).is_none(),
        "budget spent"
    );
    let quota = rate.clone().with_code("insufficient_quota");
    assert!(router.retry_delay(&quota, d, 0, false, None).is_none());
    let bad = Error::invalid_request("x", None);
    assert!(
        router.retry_delay(&bad, d, 0, false, None).is_none(),
        "client errors never"
    );
    let upstream_400 = upstream(ErrorKind::InvalidRequest);
    assert!(
        router
            .retry_delay(&upstream_400, d, 0, false, None)
            .is_none(),
        "400s not by default"
    );
    let auth = upstream(ErrorKind::Authentication);
    assert!(
        router.retry_delay(&auth, d, 0, false, None).is_some(),
        "policy allows one"
    );
    assert!(router.retry_delay(&auth, d, 1, false, None).is_none());

    let waited = rate
        .clone()
        .with_retry_after(Some(Duration::from_millis(1500)));
    assert_eq!(
        router.retry_delay(&waited, d, 0, false, None),
        Some(Duration::from_millis(1500)),
        "the upstream's Retry-After"
    );
    let elsewhere = router.retry_delay(&waited, d, 0, true, None).unwrap();
    assert!(
        elsewhere < Duration::from_millis(400),
        "another deployment need not wait"
    );
    let too_long = rate.with_retry_after(Some(Duration::from_secs(120)));
    assert!(router.retry_delay(&too_long, d, 0, false, None).is_none());
    let backoff = router
        .retry_delay(&upstream(ErrorKind::Upstream), d, 1, false, None)
        .unwrap();
    assert!(backoff >= Duration::from_millis(500) && backoff <= Duration::from_millis(750));
}

#[test]
fn retry_after_is_a_minimum_wait_and_deployment_max_retries_counts() {
    let (router, target) = setup("{retry_after: 2}", 1);
    let d = &target.deployments[0];
    let server = upstream(ErrorKind::Upstream);
    assert!(
        router.retry_delay(&server, d, 0, false, None).is_none(),
        "no retries configured"
    );
    let yaml = "model_list:\n  - {model_name: g, litellm_params: {model: openai/m, api_key: k, max_retries: 1}}\nrouter_settings: {retry_after: 2}\n";
    let config = Config::from_yaml_with_env(yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    let router = Router::new(config.router.clone());
    let d = registry.target("g").unwrap().deployments[0].clone();
    assert_eq!(
        router.retry_delay(&server, &d, 0, false, None),
        Some(Duration::from_secs(2))
    );
}

#[test]
fn fallbacks_by_error_class() {
    let (router, _) = setup(
        r#"{fallbacks: [{g: [a, b]}], context_window_fallbacks: [{g: [big]}],
            content_policy_fallbacks: [{g: [lenient]}], default_fallbacks: [z]}"#,
        1,
    );
    let list = |e: &Error, group: &str, req: Option<&[String]>| -> Vec<String> {
        router.fallbacks(group, e, req).into_iter().collect()
    };
    assert_eq!(list(&upstream(ErrorKind::Upstream), "g", None), ["a", "b"]);
    assert_eq!(
        list(&upstream(ErrorKind::RateLimited), "g", None),
        ["a", "b"]
    );
    assert_eq!(
        list(&upstream(ErrorKind::ContextLengthExceeded), "g", None),
        ["big"]
    );
    assert_eq!(
        list(&upstream(ErrorKind::ContentFilter), "g", None),
        ["lenient"]
    );
    assert!(list(&upstream(ErrorKind::InvalidRequest), "g", None).is_empty());
    assert!(list(&Error::invalid_request("x", None), "g", None).is_empty());
    assert_eq!(list(&upstream(ErrorKind::Upstream), "other", None), ["z"]);
    let own = vec!["mine".to_string()];
    assert_eq!(
        list(&upstream(ErrorKind::Upstream), "g", Some(&own)),
        ["mine"]
    );
    assert_eq!(router.max_fallbacks(), 5);
}

#[test]
fn cooldowns_follow_litellm_rules() {
    // Immediate on 429 with Retry-After (for that long) and on 401/404.
    let (router, target) = setup("{cooldown_time: 30}", 2);
    let [a, b] = [&target.deployments[0], &target.deployments[1]];
    let now = state::now_ms();
    let rate = upstream(ErrorKind::RateLimited).with_retry_after(Some(Duration::from_secs(3)));
    router.failed(a, 2, &rate);
    let until = a.state.cooling_until(now).unwrap();
    assert!((until - now).abs_diff(3000) < 200, "{}", until - now);
    router.failed(b, 2, &upstream(ErrorKind::Authentication));
    let until = b.state.cooling_until(now).unwrap();
    assert!((until - now).abs_diff(30_000) < 200);

    // Default rule: more than half of this minute's calls failed, more than one call.
    let (router, target) = setup("{}", 2);
    let a = &target.deployments[0];
    router.failed(a, 2, &upstream(ErrorKind::Upstream));
    assert!(
        a.state.cooling_until(state::now_ms()).is_none(),
        "one failure is not enough"
    );
    router.succeeded(a, Duration::from_millis(5));
    router.succeeded(a, Duration::from_millis(5));
    router.failed(a, 2, &upstream(ErrorKind::Upstream));
    assert!(
        a.state.cooling_until(state::now_ms()).is_none(),
        "2 of 4 is not over half"
    );
    router.failed(a, 2, &upstream(ErrorKind::Timeout));
    assert!(a.state.cooling_until(state::now_ms()).is_some(), "3 of 5");

    // allowed_fails: cool once the count exceeds it; client errors never count.
    let (router, target) = setup("{allowed_fails: 2}", 2);
    let a = &target.deployments[0];
    for _ in 0..5 {
        router.failed(a, 2, &upstream(ErrorKind::InvalidRequest));
        router.failed(a, 2, &upstream(ErrorKind::ContextLengthExceeded));
    }
    router.failed(a, 2, &upstream(ErrorKind::Upstream));
    router.failed(a, 2, &upstream(ErrorKind::Upstream));
    assert!(a.state.cooling_until(state::now_ms()).is_none());
    router.failed(a, 2, &upstream(ErrorKind::Upstream));
    assert!(a.state.cooling_until(state::now_ms()).is_some());

    // Sole deployments and disable_cooldowns never cool.
    let (router, target) = setup("{}", 1);
    router.failed(
        &target.deployments[0],
        1,
        &upstream(ErrorKind::Authentication),
    );
    assert!(
        target.deployments[0]
            .state
            .cooling_until(state::now_ms())
            .is_none()
    );
    let (router, target) = setup("{disable_cooldowns: true}", 2);
    router.failed(
        &target.deployments[0],
        2,
        &upstream(ErrorKind::Authentication),
    );
    assert!(
        target.deployments[0]
            .state
            .cooling_until(state::now_ms())
            .is_none()
    );
}

#[tokio::test]
async fn a_cooling_group_answers_429_with_the_time_left() {
    let (router, target) = setup("{cooldown_time: 10}", 2);
    for d in &target.deployments {
        router.failed(d, 2, &upstream(ErrorKind::NotFound));
    }
    let err = router.select(&target, &[]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert_eq!(err.code.as_deref(), Some("no_deployments_available"));
    let after = err.retry_after.unwrap();
    assert!(after > Duration::from_secs(9) && after <= Duration::from_secs(10));
}

#[tokio::test]
async fn in_flight_guards_release_their_slot() {
    let (router, target) = setup("{routing_strategy: least-busy}", 2);
    let first = router.select(&target, &[]).await.unwrap();
    let guard = router.begin(&first);
    let second = router.select(&target, &[]).await.unwrap();
    assert_ne!(first.id, second.id, "least-busy avoids the busy one");
    drop(guard);
    assert_eq!(first.state.in_flight(), 0);
}

#[test]
fn request_fallbacks_are_read_from_the_body() {
    let request: CreateResponse = serde_json::from_value(serde_json::json!({
        "model": "g", "input": "x", "fallbacks": ["a", {"model": "b"}]
    }))
    .unwrap();
    let names: Vec<String> = request_fallbacks(&request)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|f| {
            assert!(f.request.is_none(), "nothing to override");
            f.model
        })
        .collect();
    assert_eq!(names, ["a", "b"]);
    let bad: CreateResponse = serde_json::from_value(serde_json::json!({
        "model": "g", "input": "x", "fallbacks": 3
    }))
    .unwrap();
    assert_eq!(
        request_fallbacks(&bad).unwrap_err().param.as_deref(),
        Some("fallbacks")
    );
}

#[test]
fn health_probes_cool_down_and_end_cooldowns() {
    let (router, target) = setup("{health_check_interval: 100, cooldown_time: 5}", 2);
    let [a, b] = [&target.deployments[0], &target.deployments[1]];
    let now = state::now_ms();
    // One failed probe is enough (unlike a request), until the next probe can answer.
    router.probed(a, 2, Err(&upstream(ErrorKind::Upstream)));
    let until = a.state.cooling_until(now).unwrap();
    assert!((until - now).abs_diff(160_000) < 500, "{}", until - now);
    // A 429 rests for its Retry-After, else cooldown_time.
    router.probed(b, 2, Err(&upstream(ErrorKind::RateLimited)));
    let until = b.state.cooling_until(now).unwrap();
    assert!((until - now).abs_diff(5_000) < 500, "{}", until - now);
    // A successful probe ends the cooldown at once.
    router.probed(a, 2, Ok(()));
    assert!(a.state.cooling_until(state::now_ms()).is_none());
    // The probe's own mistakes (400s) and sole deployments never cool.
    router.probed(a, 2, Err(&upstream(ErrorKind::InvalidRequest)));
    assert!(a.state.cooling_until(state::now_ms()).is_none());
    router.probed(a, 1, Err(&upstream(ErrorKind::Timeout)));
    assert!(a.state.cooling_until(state::now_ms()).is_none());
    // Probes are not traffic: the failure ratio of requests is untouched.
    router.failed(a, 2, &upstream(ErrorKind::Upstream));
    assert!(
        a.state.cooling_until(state::now_ms()).is_none(),
        "one failed request of one"
    );
    let (router, target) = setup("{disable_cooldowns: true}", 2);
    router.probed(
        &target.deployments[0],
        2,
        Err(&upstream(ErrorKind::Timeout)),
    );
    assert!(
        target.deployments[0]
            .state
            .cooling_until(state::now_ms())
            .is_none()
    );
}

#[test]
fn request_fallback_objects_override_the_request_for_their_target() {
    let request: CreateResponse = serde_json::from_value(serde_json::json!({
        "model": "g", "input": "long question", "temperature": 0.2, "stream": true,
        "fallbacks": [
            {"model": "short", "messages": [{"role": "user", "content": "short question"}],
             "max_output_tokens": 64, "stream": false},
            {"model": "cold", "temperature": 1.0}
        ]
    }))
    .unwrap();
    let list = request_fallbacks(&request).unwrap().unwrap();
    let short = list[0].request.as_deref().unwrap();
    assert_eq!(list[0].model, "short");
    assert_eq!(
        serde_json::to_value(&short.input).unwrap(),
        serde_json::json!([{"type": "message", "role": "user", "content": "short question"}]),
        "`messages` is taken as `input`"
    );
    assert_eq!(short.max_output_tokens, Some(64));
    assert_eq!(short.temperature, Some(0.2), "other fields kept");
    assert!(short.is_stream(), "the output mode cannot change");
    assert_eq!(short.model.as_deref(), Some("g"));
    let cold = list[1].request.as_deref().unwrap();
    assert_eq!(cold.temperature, Some(1.0));
    assert_eq!(
        serde_json::to_value(&cold.input).unwrap(),
        serde_json::json!("long question")
    );
    for bad in [
        serde_json::json!([{"model": "x", "temperature": "hot"}]),
        serde_json::json!([{"messages": []}]),
        serde_json::json!([7]),
    ] {
        let request: CreateResponse = serde_json::from_value(serde_json::json!({
            "model": "g", "input": "x", "fallbacks": bad
        }))
        .unwrap();
        let e = request_fallbacks(&request).unwrap_err();
        assert_eq!(e.status(), 400, "{bad}");
        assert_eq!(e.code.as_deref(), Some("invalid_fallbacks"));
    }
}

/// A group whose deployments carry `tags` (one YAML flow list per deployment).
fn tagged(router_yaml: &str, tags: &[&str]) -> (Router, Target) {
    let mut yaml = String::from("model_list:\n");
    for (i, t) in tags.iter().enumerate() {
        yaml.push_str(&format!(
            "  - {{model_name: g, litellm_params: {{model: openai/m, api_key: k, tags: {t}}}, model_info: {{id: d{i}}}}}\n"
        ));
    }
    yaml.push_str(&format!("router_settings: {router_yaml}\n"));
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    (
        Router::new(config.router.clone()),
        registry.target("g").unwrap(),
    )
}

fn ids(target: Option<Target>, whole: &Target) -> Vec<String> {
    target
        .as_ref()
        .unwrap_or(whole)
        .deployments
        .iter()
        .map(|d| d.id.clone())
        .collect()
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

#[test]
fn tag_routing_follows_litellm_rules() {
    let on = "{enable_tag_filtering: true}";
    let (router, g) = tagged(on, &["[free]", "[paid, eu]", "[default]", "[]"]);
    // Any shared tag; several deployments may match.
    assert_eq!(
        ids(router.for_tags(&g, || tags(&["paid"])).unwrap(), &g),
        ["d1"]
    );
    assert_eq!(
        ids(router.for_tags(&g, || tags(&["free", "eu"])).unwrap(), &g),
        ["d0", "d1"]
    );
    // Nothing matches: the `default` deployments; no tags: the `default` ones too.
    assert_eq!(
        ids(router.for_tags(&g, || tags(&["gold"])).unwrap(), &g),
        ["d2"]
    );
    assert_eq!(ids(router.for_tags(&g, Vec::new).unwrap(), &g), ["d2"]);
    // All of the request's tags with tag_filtering_match_any: false.
    let (router, g) = tagged(
        "{enable_tag_filtering: true, tag_filtering_match_any: false}",
        &["[free]", "[paid, eu]", "[default]"],
    );
    assert_eq!(
        ids(router.for_tags(&g, || tags(&["paid", "eu"])).unwrap(), &g),
        ["d1"]
    );
    assert_eq!(
        ids(router.for_tags(&g, || tags(&["free", "eu"])).unwrap(), &g),
        ["d2"]
    );
    // Without a `default` deployment: untagged requests go anywhere, unmatched ones are refused.
    let (router, g) = tagged(on, &["[free]", "\"paid, eu\""]);
    assert_eq!(
        router
            .for_tags(&g, Vec::new)
            .unwrap()
            .map(|t| t.deployments.len()),
        None
    );
    assert_eq!(
        ids(router.for_tags(&g, || tags(&["eu"])).unwrap(), &g),
        ["d1"]
    );
    let refused = router.for_tags(&g, || tags(&["gold"])).unwrap_err();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.code.as_deref(), Some("no_deployment_for_tags"));
    assert!(refused.message.contains("gold"), "{}", refused.message);
    // A group without any tags is not filtered.
    let (router, g) = tagged(on, &["[]", "[]"]);
    assert!(router.for_tags(&g, || tags(&["gold"])).unwrap().is_none());
    // Off (the default): tags change nothing.
    let (router, g) = tagged("{}", &["[free]", "[paid]"]);
    assert!(router.for_tags(&g, || tags(&["gold"])).unwrap().is_none());
}
