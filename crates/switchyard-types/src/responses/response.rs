//! The `Response` object and its parts.
//!
//! Serialisation always writes every field the Open Responses schema requires, `null` included.
//! Deserialisation (of upstream responses being relayed) accepts missing and `null` fields.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::JsonMap;
use crate::de::{lenient_u64, null_default};
use crate::responses::item::Item;
use crate::responses::item_wire::ItemWire;
use crate::responses::request::{ReasoningConfig, TextConfig, Tool, ToolChoice, metadata_or_empty};

/// A model response. `I` is how its output items are held: [`Item`] everywhere, the items'
/// raw text while [`Response::from_json`] reads one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "I: Deserialize<'de>"))]
pub struct Response<I = Item> {
    /// `resp_…`.
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    /// Always `response`.
    #[serde(default = "response_object", deserialize_with = "null_default")]
    pub object: String,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub created_at: u64,
    /// Lifecycle state.
    #[serde(default, deserialize_with = "null_default")]
    pub status: ResponseStatus,
    /// Whether the response ran in background mode.
    #[serde(default, deserialize_with = "null_default")]
    pub background: bool,
    /// Unix seconds; set only when completed.
    #[serde(default)]
    pub completed_at: Option<u64>,
    /// Set when `status` is `failed`.
    #[serde(default)]
    pub error: Option<ResponseError>,
    /// Set when `status` is `incomplete`.
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    /// Echo of the request's instructions (a string, or items for stored prompts).
    #[serde(default)]
    pub instructions: Option<Value>,
    /// Echo.
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// Echo.
    #[serde(default)]
    pub max_tool_calls: Option<u64>,
    /// The model that produced the response.
    #[serde(default, deserialize_with = "null_default")]
    pub model: String,
    /// Output items in order.
    #[serde(default, deserialize_with = "null_default")]
    pub output: Vec<I>,
    /// Echo (default true).
    #[serde(default = "yes", deserialize_with = "null_default_true")]
    pub parallel_tool_calls: bool,
    /// Echo.
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// Echo.
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    /// Echo (`{"effort": null, "summary": null}` when absent).
    #[serde(default, deserialize_with = "null_default")]
    pub reasoning: ReasoningConfig,
    /// Echo.
    #[serde(default)]
    pub safety_identifier: Option<String>,
    /// The tier that served the request.
    #[serde(default = "default_tier", deserialize_with = "null_default_tier")]
    pub service_tier: String,
    /// Echo (default true).
    #[serde(default = "yes", deserialize_with = "null_default_true")]
    pub store: bool,
    /// Echo (default 1).
    #[serde(default = "one", deserialize_with = "null_default_one")]
    pub temperature: f64,
    /// Echo (`{"format":{"type":"text"}}` when absent).
    #[serde(default, deserialize_with = "null_default")]
    pub text: TextConfig,
    /// Echo (default `auto`).
    #[serde(default, deserialize_with = "null_default")]
    pub tool_choice: ToolChoice,
    /// Echo of the tools, normalised.
    #[serde(default, deserialize_with = "null_default")]
    pub tools: Vec<Tool>,
    /// Echo (default 0).
    #[serde(default, deserialize_with = "null_default")]
    pub top_logprobs: u32,
    /// Echo (default 1).
    #[serde(default = "one", deserialize_with = "null_default_one")]
    pub top_p: f64,
    /// Echo (default 0).
    #[serde(default, deserialize_with = "null_default")]
    pub presence_penalty: f64,
    /// Echo (default 0).
    #[serde(default, deserialize_with = "null_default")]
    pub frequency_penalty: f64,
    /// Echo (default `disabled`).
    #[serde(default = "disabled", deserialize_with = "null_default_disabled")]
    pub truncation: String,
    /// Token usage; `null` until the response finishes.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Echo.
    #[serde(default)]
    pub user: Option<String>,
    /// Echo (`{}` when absent).
    #[serde(default, deserialize_with = "metadata_or_empty")]
    pub metadata: JsonMap,
    /// Fields not modelled here (`content_filters`, `billing`, …), kept for pass-through.
    #[serde(flatten)]
    pub extra: JsonMap,
}

fn response_object() -> String {
    "response".into()
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn default_tier() -> String {
    "default".into()
}
fn disabled() -> String {
    "disabled".into()
}
fn null_default_true<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}
fn null_default_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(1.0))
}
fn null_default_tier<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(default_tier))
}
fn null_default_disabled<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(disabled))
}

impl Response {
    /// Reads a response from its JSON text: the same result as serde's parse, errors
    /// included, with each output item read straight from its text when it has a shape
    /// [`ItemWire`] knows (serde's parse reads every item into a `Value` first). The other
    /// items are read the ordinary way, each on its own.
    pub fn from_json(json: &str) -> serde_json::Result<Response> {
        match serde_json::from_str::<Response<&RawValue>>(json) {
            Ok(raw) => raw.typed_output(),
            // The ordinary parse's own error (the raw items accept whatever it accepts).
            Err(_) => serde_json::from_str(json),
        }
    }

    /// The response as JSON, written into a buffer sized for a typical one at once
    /// (`serde_json::to_vec` starts at 128 bytes and doubles, copying, five or six times for a
    /// 1–2 KB response). The client's answer and the stored body are this.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut json = Vec::with_capacity(JSON_CAPACITY);
        serde_json::to_writer(&mut json, self)?;
        Ok(json)
    }
}

impl Response<&RawValue> {
    /// The response with its items read from their text: each straight from it when it has a
    /// shape [`ItemWire`] knows, the others the ordinary way, each on its own.
    pub(crate) fn typed_output(self) -> serde_json::Result<Response> {
        let mut output = Vec::with_capacity(self.output.len());
        for item in &self.output {
            output.push(match ItemWire::from_json(item.get()) {
                Some(item) => item,
                None => serde_json::from_str(item.get())?,
            });
        }
        Ok(self.with_output(output))
    }
}

impl<I> Response<I> {
    /// The same response holding `output` instead of its own items.
    fn with_output<J>(self, output: Vec<J>) -> Response<J> {
        Response {
            output,
            id: self.id,
            object: self.object,
            created_at: self.created_at,
            status: self.status,
            background: self.background,
            completed_at: self.completed_at,
            error: self.error,
            incomplete_details: self.incomplete_details,
            instructions: self.instructions,
            max_output_tokens: self.max_output_tokens,
            max_tool_calls: self.max_tool_calls,
            model: self.model,
            parallel_tool_calls: self.parallel_tool_calls,
            previous_response_id: self.previous_response_id,
            prompt_cache_key: self.prompt_cache_key,
            reasoning: self.reasoning,
            safety_identifier: self.safety_identifier,
            service_tier: self.service_tier,
            store: self.store,
            temperature: self.temperature,
            text: self.text,
            tool_choice: self.tool_choice,
            tools: self.tools,
            top_logprobs: self.top_logprobs,
            top_p: self.top_p,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            truncation: self.truncation,
            usage: self.usage,
            user: self.user,
            metadata: self.metadata,
            extra: self.extra,
        }
    }
}

/// The first allocation for a response's JSON: a short answer is 1–2 KB.
const JSON_CAPACITY: usize = 4096;

impl Default for Response {
    fn default() -> Self {
        Response {
            id: String::new(),
            object: response_object(),
            created_at: 0,
            status: ResponseStatus::InProgress,
            background: false,
            completed_at: None,
            error: None,
            incomplete_details: None,
            instructions: None,
            max_output_tokens: None,
            max_tool_calls: None,
            model: String::new(),
            output: Vec::new(),
            parallel_tool_calls: true,
            previous_response_id: None,
            prompt_cache_key: None,
            reasoning: ReasoningConfig::default(),
            safety_identifier: None,
            service_tier: default_tier(),
            store: true,
            temperature: 1.0,
            text: TextConfig::default(),
            tool_choice: ToolChoice::default(),
            tools: Vec::new(),
            top_logprobs: 0,
            top_p: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            truncation: disabled(),
            usage: None,
            user: None,
            metadata: JsonMap::new(),
            extra: JsonMap::new(),
        }
    }
}

/// `Response.status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    /// Finished normally.
    Completed,
    /// Ended with an error.
    Failed,
    /// Being generated.
    #[default]
    InProgress,
    /// Cancelled (background mode).
    Cancelled,
    /// Waiting to start (background mode).
    Queued,
    /// Cut short; see `incomplete_details`.
    Incomplete,
}

/// `Response.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseError {
    /// Machine-readable code (`server_error`, `rate_limit_exceeded`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub code: String,
    /// Human-readable message.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
}

/// `Response.incomplete_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter`.
    pub reason: String,
}

/// Token usage. `input_tokens` includes cached tokens; `output_tokens` includes reasoning tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub input_tokens: u64,
    /// Cache detail of the input.
    #[serde(default, deserialize_with = "null_default")]
    pub input_tokens_details: InputTokensDetails,
    /// Generated tokens, reasoning included.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub output_tokens: u64,
    /// Reasoning detail of the output.
    #[serde(default, deserialize_with = "null_default")]
    pub output_tokens_details: OutputTokensDetails,
    /// Input plus output.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_tokens: u64,
    /// Fields not modelled here (for example a `cost`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Tokens read from the prompt cache.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub cached_tokens: u64,
    /// Tokens written to the prompt cache.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub cache_write_tokens: u64,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Tokens spent reasoning.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub reasoning_tokens: u64,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `Response::from_json` gives serde's own result, errors included, whatever the items.
    #[test]
    fn from_json_agrees_with_serde() {
        let items = [
            r#"{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi \u00e9","annotations":[],"logprobs":[]}]}"#,
            r#"{"type":"function_call","id":"fc_1","call_id":"c","name":"f","arguments":"{\"a\":1}","status":"completed"}"#,
            r#"{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"}"#,
            r#"{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"q"}}"#,
            r#"{"type":"message","role":"assistant","content":[],"future":1}"#,
            r#"{"type":"function_call","name":"no call id"}"#,
            r#""text""#,
            "null",
            "7",
        ];
        let mut cases: Vec<String> = items
            .iter()
            .map(|item| format!(r#"{{"id":"resp_1","object":"response","status":"completed","output":[{item}],"usage":null}}"#))
            .collect();
        cases.push(format!(
            r#"{{"id":"resp_2","output":[{}],"extra_field":{{"a":[1]}},"metadata":null}}"#,
            items.join(",")
        ));
        for case in [
            r#"{"id":"r","output":null}"#,
            r#"{"id":"r"}"#,
            r#"{}"#,
            r#"{"id":"r","output":"not a list"}"#,
            r#"{"id":"r","output":[{"type":"message","role":"assistant","content":[]}],"status":"weird"}"#,
            r#"{"id":"r","output":[{"type":"message"]}"#,
            r#"{"id":"r","output":[]} trailing"#,
            r#"{"id":"r","id":"twice","output":[]}"#,
            r#"[]"#,
            "",
        ] {
            cases.push(case.to_string());
        }
        for json in &cases {
            let ours = Response::from_json(json);
            let serdes = serde_json::from_str::<Response>(json);
            match (&ours, &serdes) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{json}");
                    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap(), "{json}");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{json}"),
                _ => panic!("{json}: ours {ours:?}, serde {serdes:?}"),
            }
        }
    }

    #[test]
    fn default_response_carries_every_required_field() {
        let value = serde_json::to_value(Response::default()).unwrap();
        for key in [
            "id",
            "object",
            "created_at",
            "completed_at",
            "status",
            "incomplete_details",
            "model",
            "previous_response_id",
            "instructions",
            "output",
            "error",
            "tools",
            "tool_choice",
            "truncation",
            "parallel_tool_calls",
            "text",
            "top_p",
            "presence_penalty",
            "frequency_penalty",
            "top_logprobs",
            "temperature",
            "reasoning",
            "usage",
            "max_output_tokens",
            "max_tool_calls",
            "store",
            "background",
            "service_tier",
            "metadata",
            "safety_identifier",
            "prompt_cache_key",
            "user",
        ] {
            assert!(value.get(key).is_some(), "missing {key}");
        }
        assert_eq!(value["reasoning"], json!({"effort": null, "summary": null}));
        assert_eq!(value["metadata"], json!({}));
    }

    #[test]
    fn sparse_upstream_response_parses() {
        let r: Response = serde_json::from_value(json!({"id": "resp_1", "output": [],
            "temperature": null, "usage": {"input_tokens": 3, "output_tokens": 4,
            "input_tokens_details": null, "total_tokens": 7}, "content_filters": []}))
        .unwrap();
        assert_eq!(r.temperature, 1.0);
        assert_eq!(r.usage.as_ref().unwrap().total_tokens, 7);
        assert!(r.extra.contains_key("content_filters"));
    }

    #[test]
    fn usage_always_serialises_both_detail_objects() {
        let value = serde_json::to_value(Usage::default()).unwrap();
        assert_eq!(
            value,
            json!({"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0,
                "cache_write_tokens": 0}, "output_tokens": 0,
                "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0})
        );
    }
}
