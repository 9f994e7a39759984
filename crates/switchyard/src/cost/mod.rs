//! What a request cost, computed in one place from its final [`Usage`].
//!
//! Prices come from three layers, the later winning: the built-in catalog (`catalog.json`, in
//! LiteLLM's `model_prices_and_context_window.json` layout; see its `sample_spec` for source
//! and date), a LiteLLM-format price file named by `switchyard_settings.model_cost_map_path`
//! (whole entries replace the catalog's), and per-deployment prices in `model_info` /
//! `litellm_params` (`input_cost_per_token`, …, field by field). `model_info.base_model` names
//! the priced model when the deployment's own name is an alias (Azure deployment names).
//!
//! A model without a price has no cost (`None`), never a cost of zero.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::Usage;

/// The built-in catalog.
const CATALOG: &str = include_str!("catalog.json");

/// Per-deployment price keys (`model_info` or `litellm_params`), as LiteLLM names them.
pub const PRICE_KEYS: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
];

/// USD per token for each kind of token; `None` falls back as [`cost`] describes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// Uncached input.
    pub input: f64,
    /// Output (text).
    pub output: f64,
    /// Input read from the prompt cache (falls back to `input`).
    pub cache_read: Option<f64>,
    /// Input written to the prompt cache (falls back to `input`).
    pub cache_write: Option<f64>,
    /// Reasoning output (falls back to `output`).
    pub reasoning: Option<f64>,
}

/// The price of one model: base rates and long-context tiers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPrice {
    /// Rates up to the first tier.
    pub base: Rates,
    /// `(threshold, rates)`: rates when the prompt has more than `threshold` input tokens,
    /// sorted by threshold.
    pub tiers: Vec<(u64, Rates)>,
}

impl ModelPrice {
    /// Reads one LiteLLM price entry; `None` when it prices neither input nor output tokens.
    pub fn from_litellm(entry: &JsonMap) -> Option<ModelPrice> {
        let num = |key: &str| entry.get(key).and_then(number);
        let input = num("input_cost_per_token");
        let output = num("output_cost_per_token");
        if input.is_none() && output.is_none() {
            return None;
        }
        let base = Rates {
            input: input.unwrap_or(0.0),
            output: output.unwrap_or(0.0),
            cache_read: num("cache_read_input_token_cost"),
            cache_write: num("cache_creation_input_token_cost"),
            reasoning: num("output_cost_per_reasoning_token"),
        };
        // Tiers are spelled `<field>_above_<N>k_tokens`; collect every threshold mentioned.
        let mut thresholds: Vec<u64> = entry
            .keys()
            .filter_map(|k| tier_threshold(k).map(|(_, n)| n))
            .collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        let tiers = thresholds
            .into_iter()
            .map(|n| {
                let at = |field: &str| num(&format!("{field}_above_{}k_tokens", n / 1000));
                let rates = Rates {
                    input: at("input_cost_per_token").unwrap_or(base.input),
                    output: at("output_cost_per_token").unwrap_or(base.output),
                    cache_read: at("cache_read_input_token_cost").or(base.cache_read),
                    cache_write: at("cache_creation_input_token_cost").or(base.cache_write),
                    reasoning: at("output_cost_per_reasoning_token").or(base.reasoning),
                };
                (n, rates)
            })
            .collect();
        Some(ModelPrice { base, tiers })
    }

    /// The rates for a prompt of `input_tokens` tokens.
    pub fn rates_for(&self, input_tokens: u64) -> &Rates {
        self.tiers
            .iter()
            .rev()
            .find(|(above, _)| input_tokens > *above)
            .map_or(&self.base, |(_, rates)| rates)
    }
}

/// `input_cost_per_token_above_200k_tokens` → (`input_cost_per_token`, 200000).
fn tier_threshold(key: &str) -> Option<(&str, u64)> {
    let (field, rest) = key.split_once("_above_")?;
    let n = rest.strip_suffix("k_tokens")?.parse::<u64>().ok()?;
    Some((field, n * 1000))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite() && *n >= 0.0)
}

/// The cost in USD of `usage` at `price`.
///
/// `input_tokens` counts every prompt token (uncached, cache read, cache write), and
/// `output_tokens` counts reasoning; each token is priced once:
///
/// ```text
/// uncached × input + cache read × cache_read + cache write × cache_write
///   + (output − reasoning) × output + reasoning × reasoning
/// ```
///
/// A missing cache price counts as the input price, a missing reasoning price as the output
/// price. The tier is chosen by the whole prompt (`input_tokens`).
pub fn cost(price: &ModelPrice, usage: &Usage) -> f64 {
    let rates = price.rates_for(usage.input_tokens);
    let input = usage.input_tokens;
    let cached = usage.input_tokens_details.cached_tokens.min(input);
    let written = usage
        .input_tokens_details
        .cache_write_tokens
        .min(input - cached);
    let uncached = input - cached - written;
    let reasoning = usage
        .output_tokens_details
        .reasoning_tokens
        .min(usage.output_tokens);
    let text_out = usage.output_tokens - reasoning;
    uncached as f64 * rates.input
        + cached as f64 * rates.cache_read.unwrap_or(rates.input)
        + written as f64 * rates.cache_write.unwrap_or(rates.input)
        + text_out as f64 * rates.output
        + reasoning as f64 * rates.reasoning.unwrap_or(rates.output)
}

/// Prices by model name.
#[derive(Debug, Clone, Default)]
pub struct PriceCatalog {
    models: HashMap<String, Arc<ModelPrice>>,
}

impl PriceCatalog {
    /// The built-in catalog.
    pub fn builtin() -> &'static PriceCatalog {
        static BUILTIN: OnceLock<PriceCatalog> = OnceLock::new();
        BUILTIN.get_or_init(|| PriceCatalog::from_json(CATALOG).unwrap_or_default())
    }

    /// Reads a price file in LiteLLM's layout (entries without token prices are skipped).
    pub fn from_json(text: &str) -> Result<PriceCatalog, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not a JSON price file: {e}"))?;
        let Value::Object(entries) = value else {
            return Err("a price file must be a JSON object of model entries".into());
        };
        let models = entries
            .iter()
            .filter_map(|(name, entry)| match entry {
                Value::Object(entry) => {
                    ModelPrice::from_litellm(entry).map(|p| (name.clone(), Arc::new(p)))
                }
                _ => None,
            })
            .collect();
        Ok(PriceCatalog { models })
    }

    /// The built-in catalog with the entries of the price file at `path` laid over it.
    pub fn with_file(path: &Path) -> Result<PriceCatalog, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the price file {}: {e}", path.display()))?;
        let file = PriceCatalog::from_json(&text)
            .map_err(|e| format!("price file {}: {e}", path.display()))?;
        let mut catalog = PriceCatalog::builtin().clone();
        catalog.models.extend(file.models);
        Ok(catalog)
    }

    /// How many models have a price.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// True when no model has a price.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The price of exactly `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<ModelPrice>> {
        self.models.get(name)
    }

    /// The price for a deployment's model string (`provider/model`, as in
    /// `litellm_params.model`), trying the spellings LiteLLM's file uses (see
    /// [`candidate_names`]).
    pub fn find(&self, model: &str) -> Option<&Arc<ModelPrice>> {
        candidate_names(model)
            .iter()
            .find_map(|name| self.models.get(name.as_str()))
    }

    /// The price of one deployment: `base_model` (or `model`) looked up in the catalog, then
    /// `overrides` (per-deployment prices) applied field by field. A deployment whose model is
    /// not in the catalog is priced by its overrides alone when they set an input or output
    /// price (the other counts as zero).
    pub fn deployment_price(
        &self,
        model: &str,
        base_model: Option<&str>,
        overrides: &JsonMap,
    ) -> Option<Arc<ModelPrice>> {
        let found = base_model
            .and_then(|b| self.find(b))
            .or_else(|| self.find(model));
        let num = |key: &str| overrides.get(key).and_then(number);
        if PRICE_KEYS.iter().all(|k| num(k).is_none()) {
            return found.cloned();
        }
        let mut price = match found {
            Some(p) => ModelPrice::clone(p),
            None if num("input_cost_per_token").is_some()
                || num("output_cost_per_token").is_some() =>
            {
                ModelPrice::default()
            }
            None => return None,
        };
        // A per-deployment price is flat: it replaces the tiers it would contradict.
        price.tiers.clear();
        let rates = &mut price.base;
        if let Some(v) = num("input_cost_per_token") {
            rates.input = v;
        }
        if let Some(v) = num("output_cost_per_token") {
            rates.output = v;
        }
        if let Some(v) = num("cache_read_input_token_cost") {
            rates.cache_read = Some(v);
        }
        if let Some(v) = num("cache_creation_input_token_cost") {
            rates.cache_write = Some(v);
        }
        if let Some(v) = num("output_cost_per_reasoning_token") {
            rates.reasoning = Some(v);
        }
        Some(Arc::new(price))
    }
}

/// Bedrock cross-region inference profile prefixes, priced as the base model.
const REGION_PREFIXES: &[&str] = &["us.", "eu.", "apac.", "jp.", "au.", "global.", "us-gov."];

/// The names under which a model string may be priced, most specific first: as written
/// (`gemini/gemini-2.5-pro`), without the provider prefix (`gpt-5` for `openai/gpt-5`),
/// without Bedrock route words and region prefixes (`converse/us.anthropic.…` →
/// `anthropic.…`), without a Vertex `@version`, and the last path segment.
pub fn candidate_names(model: &str) -> Vec<String> {
    let mut names: Vec<String> = vec![model.to_string()];
    let mut push = |name: &str| {
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    let bare = model.split_once('/').map_or(model, |(_, rest)| rest);
    push(bare);
    let routed = ["converse/", "invoke/", "converse_like/"]
        .iter()
        .find_map(|w| bare.strip_prefix(w))
        .unwrap_or(bare);
    push(routed);
    let unregioned = REGION_PREFIXES
        .iter()
        .find_map(|p| routed.strip_prefix(p))
        .unwrap_or(routed);
    push(unregioned);
    if let Some((name, _version)) = model.split_once('@') {
        push(name);
        push(name.split_once('/').map_or(name, |(_, rest)| rest));
    }
    if let Some((_, last)) = model.rsplit_once('/') {
        push(last);
    }
    names
}

#[cfg(test)]
mod tests;
