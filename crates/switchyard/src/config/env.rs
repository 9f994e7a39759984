//! Environment lookups with the config's `environment_variables` laid over the process
//! environment, and `os.environ/NAME` resolution anywhere in the config tree.
//!
//! LiteLLM exports `environment_variables` into its process; switchyard keeps them in an overlay
//! instead (changing the process environment is unsafe in a multi-threaded program), and every
//! lookup the gateway makes — `os.environ/` references and provider fallbacks such as
//! `MISTRAL_API_KEY` — goes through [`Env`].

use std::collections::BTreeMap;

use serde_json::Value;

/// Variables from the config, consulted before the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overlay: BTreeMap<String, String>,
}

impl Env {
    /// The process environment only.
    pub fn process() -> Self {
        Env::default()
    }

    /// The process environment with `overlay` taking precedence.
    pub fn with_overlay(overlay: BTreeMap<String, String>) -> Self {
        Env { overlay }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        self.overlay
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set.
    pub fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.get(n))
    }
}

/// The prefix LiteLLM uses for environment references.
pub const ENV_PREFIX: &str = "os.environ/";

/// Replaces every string `os.environ/NAME` in `value` with the variable's value. Returns the
/// path of the first reference whose variable is unset, with the variable's name.
pub fn resolve_references(
    value: &mut Value,
    env: &Env,
    path: &str,
) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(ENV_PREFIX) {
                let name = name.trim();
                match env.get(name) {
                    Some(resolved) => *s = resolved,
                    None => return Err((path.to_string(), name.to_string())),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_references(item, env, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                resolve_references(item, env, &child)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_anywhere_and_prefers_the_overlay() {
        let env = Env::with_overlay(BTreeMap::from([("KEY".to_string(), "v1".to_string())]));
        let mut value = json!({"a": {"b": ["x", "os.environ/KEY"]}, "c": "os.environ/KEY"});
        resolve_references(&mut value, &env, "").unwrap();
        assert_eq!(value, json!({"a": {"b": ["x", "v1"]}, "c": "v1"}));
    }

    #[test]
    fn names_the_missing_variable_and_where_it_is_used() {
        let mut value = json!({"model_list": [{"litellm_params": {"api_key": "os.environ/SWITCHYARD_SURELY_UNSET_VAR"}}]});
        let err = resolve_references(&mut value, &Env::process(), "").unwrap_err();
        assert_eq!(
            err,
            (
                "model_list[0].litellm_params.api_key".to_string(),
                "SWITCHYARD_SURELY_UNSET_VAR".to_string()
            )
        );
    }
}
