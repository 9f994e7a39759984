//! Model groups and their deployments.
//!
//! Deployments sharing a `model_name` form a group; a request names a group. Names containing
//! `*` are LiteLLM wildcards (`model_name: "openai/*"` with `model: "openai/*"` serves any
//! `openai/...` model): the part matched by `*` replaces the `*` in the upstream model, and the
//! resulting deployment is built once and cached. Choosing among a group's deployments belongs
//! to the router (`crate::router`); [`Registry::target`] hands it a group's deployments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_types::JsonMap;

use crate::config::{Config, DeploymentConfig, Env};
use crate::cost::{ModelPrice, PRICE_KEYS, PriceCatalog};
use crate::error::{Error, ErrorKind};
use crate::providers::factory;
use crate::router::Target;
use crate::router::state::{DeploymentState, Limits};

/// Deployments live with the router, which chooses among them; re-exported here, where they
/// are built.
pub use crate::router::Deployment;

/// `model_info.health_check_model`, when set and not empty.
fn health_check_model(d: &DeploymentConfig) -> Option<&str> {
    d.model_info
        .get("health_check_model")
        .and_then(|v| v.as_str())
        .filter(|m| !m.is_empty())
}

/// Stable id for an entry without `model_info.id`: FNV-1a of the entry's identity, so routing
/// state keyed by it survives restarts.
fn derived_id(d: &DeploymentConfig, index: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        d.model_name.as_str(),
        d.model.as_str(),
        d.api_base.as_deref().unwrap_or(""),
        &index.to_string(),
    ] {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Wildcard and ad-hoc deployments kept built at most.
const MAX_BUILT: usize = 4096;

struct Wildcard {
    pattern: String,
    config: DeploymentConfig,
    index: usize,
}

/// All model groups.
pub struct Registry {
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    /// Deployments by `model_info.id` (fallbacks may name one).
    by_id: HashMap<String, Arc<Deployment>>,
    order: Vec<String>,
    wildcards: Vec<Wildcard>,
    built: Mutex<HashMap<String, Arc<Deployment>>>,
    /// Wildcard entries with a `model_info.health_check_model`, as the deployments probed for
    /// them (a wildcard cannot be probed without one: it names no model).
    wildcard_probes: Vec<Arc<Deployment>>,
    /// Serve any `provider/model` string not configured (the library's free functions).
    adhoc: bool,
    env: Env,
    drop_params: bool,
    default_timeout: Option<Duration>,
    default_stream_timeout: Option<Duration>,
    prices: Arc<PriceCatalog>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("groups", &self.order)
            .field("wildcards", &self.wildcards.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Builds every deployment of `config`. Returns warnings about deployments that cannot work
    /// as configured (no key, unsupported provider).
    pub fn from_config(config: &Config) -> Result<(Registry, Vec<String>), String> {
        let mut registry = Registry {
            groups: HashMap::new(),
            by_id: HashMap::new(),
            order: Vec::new(),
            wildcards: Vec::new(),
            built: Mutex::new(HashMap::new()),
            wildcard_probes: Vec::new(),
            adhoc: false,
            env: config.env.clone(),
            drop_params: config.drop_params,
            default_timeout: config.router.timeout.or(config.request_timeout),
            default_stream_timeout: config.router.stream_timeout,
            prices: Arc::new(match &config.accounting.model_cost_map_path {
                Some(path) => PriceCatalog::with_file(path)?,
                None => PriceCatalog::builtin().clone(),
            }),
        };
        let mut warnings = Vec::new();
        for (index, d) in config.deployments.iter().enumerate() {
            if d.model_name.contains('*') {
                registry.add_wildcard(d, index)?;
            } else {
                warnings.extend(registry.add(d, index)?);
            }
        }
        // Most specific pattern first.
        registry
            .wildcards
            .sort_by_key(|w| std::cmp::Reverse(w.pattern.len()));
        Ok((registry, warnings))
    }

    /// Adds the deployment of entry `d` (the `index`th) to its group; returns its startup
    /// warning, if any.
    fn add(&mut self, d: &DeploymentConfig, index: usize) -> Result<Option<String>, String> {
        let (mut deployment, warning) = self.build(d, &d.model, index)?;
        if let Some(model) = health_check_model(d) {
            let (probe, _) = self.build_probe(d, model, index)?;
            deployment.health_probe = Some(Arc::new(probe));
        }
        if !self.groups.contains_key(&d.model_name) {
            self.order.push(d.model_name.clone());
        }
        let deployment = Arc::new(deployment);
        self.by_id.insert(deployment.id.clone(), deployment.clone());
        self.groups
            .entry(d.model_name.clone())
            .or_default()
            .push(deployment);
        Ok(warning)
    }

    /// Adds wildcard entry `d` (the `index`th); its deployments are built on first use.
    fn add_wildcard(&mut self, d: &DeploymentConfig, index: usize) -> Result<(), String> {
        // Validate the template once so mistakes surface at startup.
        let probe = d.model.replace('*', "probe");
        factory::build(d, &probe, &self.env, self.drop_params)?;
        if let Some(model) = health_check_model(d) {
            let (probe, _) = self.build_probe(d, model, index)?;
            self.wildcard_probes.push(Arc::new(probe));
        }
        self.wildcards.push(Wildcard {
            pattern: d.model_name.clone(),
            config: d.clone(),
            index,
        });
        Ok(())
    }

    /// A registry that serves any `provider/model` string, with credentials from `env`.
    pub fn adhoc(env: Env) -> Registry {
        Registry {
            groups: HashMap::new(),
            by_id: HashMap::new(),
            order: Vec::new(),
            wildcards: Vec::new(),
            built: Mutex::new(HashMap::new()),
            wildcard_probes: Vec::new(),
            adhoc: true,
            env,
            drop_params: false,
            default_timeout: None,
            default_stream_timeout: None,
            prices: Arc::new(PriceCatalog::builtin().clone()),
        }
    }

    /// The deployment a health probe of entry `d` calls: `d` with `health_check_model` as its
    /// model. A name that does not build as a `provider/model` string of its own (a bare name
    /// for a compatible server) is taken as a model of the entry's own provider.
    fn build_probe(
        &self,
        d: &DeploymentConfig,
        probe_model: &str,
        index: usize,
    ) -> Result<(Deployment, Option<String>), String> {
        let (mut probe, warning) = match self.build(d, probe_model, index) {
            Ok(built) => built,
            Err(first) => {
                let own_prefix = d.model.split_once('/').map(|(p, _)| p);
                match own_prefix {
                    Some(prefix) if d.custom_llm_provider.is_none() => {
                        self.build(d, &format!("{prefix}/{probe_model}"), index)?
                    }
                    _ => return Err(first),
                }
            }
        };
        if d.model_name.contains('*') {
            probe.id = d.id.clone().unwrap_or_else(|| derived_id(d, index));
        }
        Ok((probe, warning))
    }

    fn build(
        &self,
        d: &DeploymentConfig,
        model: &str,
        index: usize,
    ) -> Result<(Deployment, Option<String>), String> {
        let (provider, warning) = factory::build(d, model, &self.env, self.drop_params)?;
        let price = self.price_of(d, model);
        let mut limits = Limits::read(&d.routing_params, &d.prices, &d.model_info);
        // Cost-based routing compares what the cost module would charge: the deployment's
        // own prices, else the catalog's (price file included).
        if let Some(price) = &price {
            limits.input_cost.get_or_insert(price.base.input);
            limits.output_cost.get_or_insert(price.base.output);
        }
        Ok((
            Deployment {
                id: d.id.clone().unwrap_or_else(|| derived_id(d, index)),
                model_name: d.model_name.clone(),
                provider,
                timeout: d.timeout.or(self.default_timeout),
                stream_timeout: d.stream_timeout.or(self.default_stream_timeout),
                max_retries: d.max_retries.unwrap_or(0),
                model_info: d.model_info.clone(),
                limits,
                state: DeploymentState::default(),
                price,
                health_probe: None,
            },
            warning,
        ))
    }

    /// What a request for `model` (or a fallback to it) can be sent to: a configured group,
    /// a deployment named by its `model_info.id`, or a wildcard / ad-hoc deployment.
    pub fn target(&self, model: &str) -> Result<Target, Error> {
        if let Some(group) = self.groups.get(model) {
            return Ok(Target {
                name: model.to_string(),
                deployments: group.clone(),
                pinned: false,
            });
        }
        if let Some(deployment) = self.by_id.get(model) {
            return Ok(Target {
                name: deployment.model_name.clone(),
                deployments: vec![deployment.clone()],
                pinned: true,
            });
        }
        let deployment = self.resolve(model)?;
        Ok(Target {
            name: model.to_string(),
            deployments: vec![deployment],
            pinned: false,
        })
    }

    /// A deployment's price: `model_info` prices, then `litellm_params` prices, over the
    /// catalog entry of `model_info.base_model` or else of `model`.
    fn price_of(&self, d: &DeploymentConfig, model: &str) -> Option<Arc<ModelPrice>> {
        let mut overrides = JsonMap::new();
        for key in PRICE_KEYS {
            if let Some(v) = d.model_info.get(*key) {
                overrides.insert((*key).to_string(), v.clone());
            }
        }
        overrides.extend(d.prices.clone());
        let base_model = d.model_info.get("base_model").and_then(|v| v.as_str());
        self.prices.deployment_price(model, base_model, &overrides)
    }

    /// A deployment to serve a request for `model`, picked uniformly (the router picks by
    /// strategy and state; this is for callers that only need a deployment).
    pub fn resolve(&self, model: &str) -> Result<Arc<Deployment>, Error> {
        if let Some(group) = self.groups.get(model) {
            let pick = fastrand::usize(..group.len());
            return Ok(group[pick].clone());
        }
        if let Ok(built) = self.built.lock()
            && let Some(deployment) = built.get(model)
        {
            return Ok(deployment.clone());
        }
        let (config, upstream, index) = if let Some((w, captured)) = self
            .wildcards
            .iter()
            .find_map(|w| glob_capture(&w.pattern, model).map(|c| (w, c)))
        {
            let upstream = if w.config.model.contains('*') {
                w.config.model.replacen('*', captured, 1)
            } else {
                w.config.model.clone()
            };
            let config = DeploymentConfig {
                model_name: model.to_string(),
                ..w.config.clone()
            };
            (config, upstream, w.index)
        } else if self.adhoc {
            let config = DeploymentConfig {
                model_name: model.to_string(),
                model: model.to_string(),
                ..DeploymentConfig::default()
            };
            (config, model.to_string(), 0)
        } else {
            return Err(model_not_found(model));
        };
        let (deployment, _) = self.build(&config, &upstream, index).map_err(|message| {
            Error::invalid_request(message, Some("model")).with_code("invalid_model")
        })?;
        let deployment = Arc::new(deployment);
        if let Ok(mut built) = self.built.lock() {
            // Clients choose these names: keep the cache bounded, forgetting an arbitrary
            // entry when full (it is rebuilt, with fresh routing state, if asked for again).
            if built.len() >= MAX_BUILT
                && let Some(evicted) = built.keys().next().cloned()
            {
                built.remove(&evicted);
            }
            built.insert(model.to_string(), deployment.clone());
        }
        Ok(deployment)
    }

    /// Configured model groups in file order, with the provider of their first deployment.
    pub fn groups(&self) -> Vec<(&str, &str)> {
        self.order
            .iter()
            .filter_map(|name| {
                let first = self.groups.get(name)?.first()?;
                Some((name.as_str(), first.provider.name()))
            })
            .collect()
    }

    /// What health checks probe: every configured deployment, then the wildcard entries that
    /// name a `health_check_model` (as their probe deployments).
    pub fn health_targets(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.deployments().chain(self.wildcard_probes.iter())
    }

    /// How many deployments the configured group `name` has (0 for wildcard and ad-hoc
    /// deployments, which are not part of a configured group).
    pub fn group_size(&self, name: &str) -> usize {
        self.groups.get(name).map_or(0, Vec::len)
    }

    /// Every configured deployment.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.order
            .iter()
            .filter_map(|name| self.groups.get(name))
            .flatten()
    }
}

fn model_not_found(model: &str) -> Error {
    Error {
        code: Some("model_not_found".into()),
        param: Some("model".into()),
        ..Error::new(
            ErrorKind::NotFound,
            format!(
                "The model `{}` does not exist or you do not have access to it.",
                crate::text::echo(model)
            ),
        )
    }
}

/// Matches `text` against `pattern` with at most one `*`; returns what `*` matched.
fn glob_capture<'t>(pattern: &str, text: &'t str) -> Option<&'t str> {
    let (head, tail) = pattern.split_once('*')?;
    if text.len() < head.len() + tail.len() || !text.starts_with(head) || !text.ends_with(tail) {
        return None;
    }
    Some(&text[head.len()..text.len() - tail.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(yaml: &str) -> Registry {
        let config = Config::from_yaml_with_env(yaml, &Env::default()).unwrap();
        Registry::from_config(&config).unwrap().0
    }

    #[test]
    fn chooses_native_or_bridge_per_entry() {
        let r = registry(
            r#"
model_list:
  - {model_name: a, litellm_params: {model: openai/gpt-4o, api_key: k}}
  - {model_name: b, litellm_params: {model: openai/chat_completions/gpt-4o, api_key: k}}
  - {model_name: c, litellm_params: {model: openai/gpt-4o, api_key: k, use_chat_completions_api: true}}
  - {model_name: d, litellm_params: {model: openai/llama, api_base: "http://h/v1"}, model_info: {supported_endpoints: ["/v1/chat/completions"]}}
  - {model_name: e, litellm_params: {model: hosted_vllm/llama, api_base: "http://h/v1"}}
  - {model_name: f, litellm_params: {model: hosted_vllm/llama, api_base: "http://h/v1"}, model_info: {supported_endpoints: ["/v1/chat/completions", "/v1/responses"]}}
"#,
        );
        let native = |m: &str| r.resolve(m).unwrap().provider.is_native_responses();
        assert!(native("a"));
        assert!(!native("b"));
        assert!(!native("c"));
        assert!(!native("d"));
        assert!(!native("e"));
        assert!(native("f"));
        assert_eq!(r.resolve("b").unwrap().provider.model(), "gpt-4o");
        assert_eq!(r.resolve("e").unwrap().provider.model(), "llama");
    }

    #[test]
    fn default_bases_and_unknown_models() {
        let r = registry(
            "model_list: [{model_name: m, litellm_params: {model: mistral/mistral-small, api_key: k}}]",
        );
        assert_eq!(
            r.resolve("m").unwrap().provider.api_base(),
            "https://api.mistral.ai/v1"
        );
        let err = r.resolve("nope").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(err.code.as_deref(), Some("model_not_found"));
    }

    #[test]
    fn wildcards_substitute_the_captured_name() {
        let r = registry(
            r#"
model_list:
  - {model_name: "groq/*", litellm_params: {model: "groq/*", api_key: k}}
  - {model_name: "*", litellm_params: {model: "openai/*", api_key: k}}
"#,
        );
        let d = r.resolve("groq/llama-3.3-70b").unwrap();
        assert_eq!(d.provider.name(), "groq");
        assert_eq!(d.provider.model(), "llama-3.3-70b");
        let d = r.resolve("gpt-4.1").unwrap();
        assert_eq!(d.provider.name(), "openai");
        assert_eq!(d.provider.model(), "gpt-4.1");
        assert!(
            Arc::ptr_eq(&d, &r.resolve("gpt-4.1").unwrap()),
            "built once"
        );
    }

    #[test]
    fn configuration_mistakes_are_reported_clearly() {
        let config = Config::from_yaml_with_env(
            "model_list: [{model_name: m, litellm_params: {model: hosted_vllm/x}}]",
            &Env::default(),
        )
        .unwrap();
        let err = Registry::from_config(&config).unwrap_err();
        assert!(err.contains("needs `api_base`"), "{err}");

        let config = Config::from_yaml_with_env(
            "model_list: [{model_name: m, litellm_params: {model: frob/x}}]",
            &Env::default(),
        )
        .unwrap();
        assert!(
            Registry::from_config(&config)
                .unwrap_err()
                .contains("unknown provider `frob`")
        );

        let config = Config::from_yaml_with_env(
            "model_list: [{model_name: m, litellm_params: {model: cohere/command-r}}]",
            &Env::default(),
        )
        .unwrap();
        let (r, warnings) = Registry::from_config(&config).unwrap();
        assert!(warnings[0].contains("does not support yet"));
        let request =
            serde_json::from_value(serde_json::json!({"model": "m", "input": "x"})).unwrap();
        let err = r
            .resolve("m")
            .unwrap()
            .provider
            .prepare(&request, crate::providers::CallInfo::new(false))
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("unsupported_provider"));
    }

    #[test]
    fn derived_ids_are_stable() {
        let d = DeploymentConfig {
            model_name: "m".into(),
            model: "openai/x".into(),
            ..Default::default()
        };
        assert_eq!(derived_id(&d, 0), derived_id(&d, 0));
        assert_ne!(derived_id(&d, 0), derived_id(&d, 1));
    }
}
