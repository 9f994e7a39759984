//! Typed access to one config section, tracking which keys were used.
//!
//! Values are read leniently where YAML and environment references make types fuzzy (numbers
//! written as strings, `"true"`), and strictly otherwise: a wrong type is an error naming the key.

use std::time::Duration;

use serde_json::Value;
use switchyard_types::JsonMap;

use super::ConfigError;

/// Keys reported in the startup warning.
#[derive(Debug, Default)]
pub(super) struct Notes {
    /// Parsed, acted on by later work.
    pub later: Vec<String>,
    /// Not known at all.
    pub unknown: Vec<String>,
}

/// One mapping of the config and its path.
pub(super) struct Reader {
    path: String,
    map: JsonMap,
    later: Vec<String>,
}

impl Reader {
    /// The top-level section `name` (absent or `null` reads as empty).
    pub fn section(tree: &mut JsonMap, name: &str) -> Result<Reader, ConfigError> {
        Reader::take(tree, name, name.to_string())
    }

    /// The mapping `name` inside an entry at `parent`.
    pub fn nested(tree: &mut JsonMap, name: &str, parent: &str) -> Result<Reader, ConfigError> {
        Reader::take(tree, name, format!("{parent}.{name}"))
    }

    fn take(tree: &mut JsonMap, name: &str, path: String) -> Result<Reader, ConfigError> {
        let map = match tree.shift_remove(name) {
            Some(Value::Object(map)) => map,
            Some(Value::Null) | None => JsonMap::new(),
            Some(_) => return Err(ConfigError(format!("{path} must be a mapping"))),
        };
        Ok(Reader {
            path,
            map,
            later: Vec::new(),
        })
    }

    fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn take_value(&mut self, key: &str) -> Option<Value> {
        match self.map.shift_remove(key) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    /// A string (numbers and booleans are accepted as their text).
    pub fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take_value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ConfigError(format!(
                "{} must be a string",
                self.key_path(key)
            ))),
        }
    }

    /// A number (or a string holding one).
    pub fn f64(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.take_value(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                ConfigError(format!(
                    "{} must be a number, got {s:?}",
                    self.key_path(key)
                ))
            }),
            Some(_) => Err(ConfigError(format!(
                "{} must be a number",
                self.key_path(key)
            ))),
        }
    }

    /// A non-negative integer.
    pub fn u64(&mut self, key: &str) -> Result<Option<u64>, ConfigError> {
        let path = self.key_path(key);
        match self.f64(key)? {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(Some(v as u64)),
            Some(v) => Err(ConfigError(format!(
                "{path} must be a non-negative integer, got {v}"
            ))),
        }
    }

    /// A positive number of seconds.
    pub fn seconds(&mut self, key: &str) -> Result<Option<Duration>, ConfigError> {
        let path = self.key_path(key);
        match self.f64(key)? {
            None => Ok(None),
            Some(v) if v > 0.0 && v.is_finite() => Ok(Some(Duration::from_secs_f64(v))),
            Some(v) => Err(ConfigError(format!(
                "{path} must be a positive number of seconds, got {v}"
            ))),
        }
    }

    /// A boolean (or `"true"` / `"false"`).
    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.take_value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(ConfigError(format!(
                    "{} must be true or false, got {s:?}",
                    self.key_path(key)
                ))),
            },
            Some(_) => Err(ConfigError(format!(
                "{} must be true or false",
                self.key_path(key)
            ))),
        }
    }

    /// A list of strings; a single string reads as a list of one.
    pub fn string_list(&mut self, key: &str) -> Result<Vec<String>, ConfigError> {
        let bad = |path: String| ConfigError(format!("{path} must be a list of names"));
        match self.take_value(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s]),
            Some(Value::Array(list)) => list
                .into_iter()
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(bad(self.key_path(key))),
                })
                .collect(),
            Some(_) => Err(bad(self.key_path(key))),
        }
    }

    /// A mapping of strings to strings.
    pub fn string_map(&mut self, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
        match self.take_value(key) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect()),
            Some(_) => Err(ConfigError(format!(
                "{} must be a mapping",
                self.key_path(key)
            ))),
        }
    }

    /// LiteLLM's `user_header_mappings`: a list of `{header_name, litellm_user_role}` (the
    /// `customer` role names the end user; entries without a role count as customer) or of
    /// plain header names. Returns the lower-cased header names.
    pub fn header_mappings(&mut self, key: &str) -> Result<Vec<String>, ConfigError> {
        let Some(value) = self.take_value(key) else {
            return Ok(Vec::new());
        };
        let bad = || {
            ConfigError(format!(
                "{} must be a list of {{header_name, litellm_user_role}} mappings",
                self.key_path(key)
            ))
        };
        let Value::Array(list) = value else {
            return Err(bad());
        };
        let mut names = Vec::new();
        for entry in list {
            match entry {
                Value::String(name) => names.push(name.to_ascii_lowercase()),
                Value::Object(map) => {
                    let Some(Value::String(name)) = map.get("header_name") else {
                        return Err(bad());
                    };
                    let role = map.get("litellm_user_role").and_then(Value::as_str);
                    if matches!(role, None | Some("customer") | Some("end_user")) {
                        names.push(name.to_ascii_lowercase());
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(names)
    }

    /// Marks `keys` as parsed for later work.
    pub fn later(&mut self, keys: &[&str]) {
        for key in keys {
            if self.map.shift_remove(*key).is_some() {
                self.later.push(self.key_path(key));
            }
        }
    }

    /// Takes the values of `keys`, acted on by whoever receives them.
    pub fn take_keys(&mut self, keys: &[&str]) -> JsonMap {
        let mut out = JsonMap::new();
        for key in keys {
            if let Some(value) = self.map.shift_remove(*key) {
                out.insert((*key).to_string(), value);
            }
        }
        out
    }

    /// Takes every remaining key, acted on by whoever receives them.
    pub fn take_all(&mut self) -> JsonMap {
        std::mem::take(&mut self.map)
    }

    /// Records what was not used.
    pub fn finish(self, notes: &mut Notes) {
        notes.later.extend(self.later);
        for key in self.map.keys() {
            notes.unknown.push(format!("{}.{key}", self.path));
        }
    }
}
