use serde_json::json;
use switchyard_types::JsonMap;
use switchyard_types::responses::Usage;

use super::*;

fn usage(input: u64, cached: u64, written: u64, output: u64, reasoning: u64) -> Usage {
    serde_json::from_value(json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input + output,
    }))
    .unwrap()
}

fn map(value: serde_json::Value) -> JsonMap {
    match value {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn builtin_catalog_loads_and_prices_every_provider() {
    let catalog = PriceCatalog::builtin();
    assert!(catalog.len() > 100, "{}", catalog.len());
    for model in [
        "openai/gpt-5",
        "azure/gpt-4o",
        "anthropic/claude-sonnet-4-5",
        "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock/converse/anthropic.claude-haiku-4-5-20251001-v1:0",
        "gemini/gemini-2.5-pro",
        "vertex_ai/gemini-2.5-flash",
        "vertex_ai/claude-sonnet-4-5@20250929",
        "mistral/mistral-small-latest",
        "deepseek/deepseek-chat",
        "groq/llama-3.3-70b-versatile",
        "xai/grok-4",
    ] {
        assert!(catalog.find(model).is_some(), "{model} has no price");
    }
    assert!(catalog.find("hosted_vllm/mock-llama").is_none());
}

#[test]
fn plain_usage() {
    // gpt-5: $1.25 / $10 per million.
    let price = PriceCatalog::builtin().find("openai/gpt-5").unwrap();
    let c = cost(price, &usage(1000, 0, 0, 500, 0));
    assert!(close(c, 1000.0 * 1.25e-6 + 500.0 * 10e-6), "{c}");
}

#[test]
fn cached_and_cache_write_tokens_are_priced_once() {
    // claude-sonnet-4-5: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
    let price = PriceCatalog::builtin()
        .find("anthropic/claude-sonnet-4-5")
        .unwrap();
    // 1000 prompt tokens = 600 uncached + 300 read + 100 written.
    let c = cost(price, &usage(1000, 300, 100, 200, 0));
    let expected = 600.0 * 3e-6 + 300.0 * 0.3e-6 + 100.0 * 3.75e-6 + 200.0 * 15e-6;
    assert!(close(c, expected), "{c} vs {expected}");
}

#[test]
fn reasoning_tokens_use_their_price_or_the_output_price() {
    let entry = map(
        json!({"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6,
        "output_cost_per_reasoning_token": 8e-6}),
    );
    let price = ModelPrice::from_litellm(&entry).unwrap();
    let c = cost(&price, &usage(10, 0, 0, 100, 60));
    assert!(close(c, 10.0 * 1e-6 + 40.0 * 4e-6 + 60.0 * 8e-6), "{c}");
    let entry = map(json!({"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}));
    let price = ModelPrice::from_litellm(&entry).unwrap();
    let c = cost(&price, &usage(10, 0, 0, 100, 60));
    assert!(close(c, 10.0 * 1e-6 + 100.0 * 4e-6), "{c}");
}

#[test]
fn long_context_tiers_switch_on_the_whole_prompt() {
    // gemini-2.5-pro: $1.25 / $10 up to 200k prompt tokens, $2.50 / $15 above.
    let price = PriceCatalog::builtin()
        .find("gemini/gemini-2.5-pro")
        .unwrap();
    let small = cost(price, &usage(200_000, 0, 0, 1000, 0));
    assert!(
        close(small, 200_000.0 * 1.25e-6 + 1000.0 * 10e-6),
        "{small}"
    );
    let large = cost(price, &usage(200_001, 0, 0, 1000, 0));
    assert!(close(large, 200_001.0 * 2.5e-6 + 1000.0 * 15e-6), "{large}");
    // Claude Sonnet 4.5 above 200k: $6 / $22.50, cache read $0.60.
    let price = PriceCatalog::builtin()
        .find("claude-sonnet-4-5-20250929")
        .unwrap();
    let c = cost(price, &usage(300_000, 100_000, 0, 10, 0));
    assert!(
        close(c, 200_000.0 * 6e-6 + 100_000.0 * 0.6e-6 + 10.0 * 22.5e-6),
        "{c}"
    );
}

#[test]
fn inconsistent_usage_never_goes_negative() {
    let entry = map(json!({"input_cost_per_token": 1.0, "output_cost_per_token": 1.0}));
    let price = ModelPrice::from_litellm(&entry).unwrap();
    // More cached than input and more reasoning than output: clamped.
    let c = cost(&price, &usage(10, 50, 5, 3, 9));
    assert!(close(c, 13.0), "{c}");
}

#[test]
fn deployment_prices_layer_over_the_catalog() {
    let catalog = PriceCatalog::builtin();
    // base_model names the priced model for an alias.
    let p = catalog
        .deployment_price(
            "azure/my-prod-deployment",
            Some("azure/gpt-4o"),
            &JsonMap::new(),
        )
        .unwrap();
    assert!(close(p.base.input, 2.5e-6));
    // Field-by-field override.
    let overrides = map(json!({"output_cost_per_token": "0.00002"}));
    let p = catalog
        .deployment_price("openai/gpt-5", None, &overrides)
        .unwrap();
    assert!(close(p.base.input, 1.25e-6) && close(p.base.output, 2e-5));
    // Unknown model: priced only by its overrides.
    assert!(
        catalog
            .deployment_price("hosted_vllm/x", None, &JsonMap::new())
            .is_none()
    );
    let overrides = map(json!({"input_cost_per_token": 0, "output_cost_per_token": 0}));
    let p = catalog
        .deployment_price("hosted_vllm/x", None, &overrides)
        .unwrap();
    assert_eq!(cost(&p, &usage(100, 0, 0, 100, 0)), 0.0);
    // A cache price alone does not price an unknown model.
    let overrides = map(json!({"cache_read_input_token_cost": 1e-7}));
    assert!(
        catalog
            .deployment_price("hosted_vllm/x", None, &overrides)
            .is_none()
    );
}

#[test]
fn a_price_file_replaces_whole_entries() {
    let dir = std::env::temp_dir().join(format!("swy-prices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prices.json");
    std::fs::write(
        &path,
        r#"{"sample_spec": {"note": "x"}, "gpt-5": {"input_cost_per_token": 1e-3, "output_cost_per_token": 2e-3},
            "my-model": {"input_cost_per_token": 5e-6, "output_cost_per_token": 6e-6}}"#,
    )
    .unwrap();
    let catalog = PriceCatalog::with_file(&path).unwrap();
    let gpt5 = catalog.find("openai/gpt-5").unwrap();
    assert!(close(gpt5.base.input, 1e-3) && gpt5.base.cache_read.is_none());
    assert!(catalog.find("openai/my-model").is_some());
    assert!(
        catalog.find("gemini/gemini-2.5-pro").is_some(),
        "catalog kept"
    );
    std::fs::write(&path, "[1]").unwrap();
    assert!(PriceCatalog::with_file(&path).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn candidate_names_cover_litellm_spellings() {
    assert_eq!(
        candidate_names("bedrock/converse/us.anthropic.claude-x-v1:0"),
        vec![
            "bedrock/converse/us.anthropic.claude-x-v1:0",
            "converse/us.anthropic.claude-x-v1:0",
            "us.anthropic.claude-x-v1:0",
            "anthropic.claude-x-v1:0",
        ]
    );
    assert_eq!(candidate_names("gpt-5"), vec!["gpt-5"]);
    assert!(
        candidate_names("vertex_ai/claude-opus-4-1@20250805").contains(&"claude-opus-4-1".into())
    );
}
