//! The `POST /responses` request body and the configuration objects it shares with the
//! `Response` echo (`tools`, `tool_choice`, `text`, `reasoning`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::JsonMap;
use crate::de::{Tagged, null_default, parse_tagged};
use crate::responses::item::Item;

/// `CreateResponse`: every field optional, `null` equal to absent, unknown fields kept in
/// [`CreateResponse::extra`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateResponse {
    /// Model (for the gateway: a model group name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A string (one user message) or a list of items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    /// System or developer instructions placed before the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Continue from a stored response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// A stored conversation (`"conv_…"` or `{"id": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    /// Reply as server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options (`include_obfuscation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<JsonMap>,
    /// Persist the response at the provider (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Run asynchronously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model chooses tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Allow several tool calls in one turn (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Output token cap, reasoning included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Cap on built-in tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u64>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Number of most likely tokens to return log probabilities for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// `auto` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    /// Output format and verbosity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Reasoning effort and summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    /// Extra output to include (`reasoning.encrypted_content`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// Up to 16 string pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    /// End-user id (deprecated upstream in favour of `safety_identifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Stable end-user identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// Prompt-cache bucketing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    /// Prompt-cache retention (`in_memory`, `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_retention: Option<String>,
    /// Processing tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// A stored prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    /// Every other field, kept verbatim for providers that speak the Responses API.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl CreateResponse {
    /// True when the client asked for server-sent events.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The input as a list of items (a bare string becomes one user message).
    pub fn input_items(&self) -> Vec<Item> {
        match &self.input {
            None => Vec::new(),
            Some(Input::Items(items)) => items.clone(),
            Some(Input::Text(text)) => vec![Item::Message(crate::responses::MessageItem {
                id: None,
                status: None,
                role: crate::responses::Role::User,
                content: crate::responses::MessageContent::Text(text.clone()),
                phase: None,
                extra: JsonMap::new(),
            })],
        }
    }

    /// True when `include` asks for `value`.
    pub fn includes(&self, value: &str) -> bool {
        self.include
            .as_ref()
            .is_some_and(|list| list.iter().any(|v| v == value))
    }
}

/// `input`: a bare string or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Input {
    /// One user message.
    Text(String),
    /// A conversation.
    Items(Vec<Item>),
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match crate::de::text_or_list(d, "Input")? {
            crate::de::TextOrList::Text(text) => Input::Text(text),
            crate::de::TextOrList::List(items) => Input::Items(items),
        })
    }
}

/// A tool definition, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Tool {
    /// A function the client executes.
    #[serde(rename = "function")]
    Function(FunctionTool),
    /// A freeform tool whose input is plain text (optionally constrained by a grammar).
    #[serde(rename = "custom")]
    Custom(CustomTool),
    /// Hosted and other tools (`web_search`, `file_search`, `mcp`, …), kept verbatim.
    #[serde(untagged)]
    Other(Value),
}

impl Tool {
    /// The tool's `type` tag.
    pub fn kind(&self) -> &str {
        match self {
            Tool::Function(_) => "function",
            Tool::Custom(_) => "custom",
            Tool::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// Explains why a `function` or `custom` tool kept as [`Tool::Other`] is malformed.
    pub fn check(&self) -> Result<(), String> {
        let Tool::Other(value) = self else {
            return Ok(());
        };
        match value.get("type").and_then(Value::as_str) {
            None => Err("tool has no `type`".into()),
            Some(kind @ ("function" | "custom")) => match parse_tool(value.clone()) {
                Tagged::Invalid(_, err) => Err(format!("invalid `{kind}` tool: {err}")),
                Tagged::Typed(_) | Tagged::Other(_) => Ok(()),
            },
            Some(_) => Ok(()),
        }
    }
}

/// Parses a tool: a `function` or `custom` tool with a bad shape is [`Tagged::Invalid`].
fn parse_tool(value: Value) -> Tagged<Tool> {
    parse_tagged(
        value,
        |_| None,
        |kind, object| match kind {
            "function" => Some(FunctionTool::deserialize(object).map(Tool::Function)),
            "custom" => Some(CustomTool::deserialize(object).map(Tool::Custom)),
            _ => None,
        },
    )
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match parse_tool(Value::deserialize(d)?) {
            Tagged::Typed(tool) => tool,
            Tagged::Other(value) | Tagged::Invalid(value, _) => Tool::Other(value),
        })
    }
}

/// A `function` tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    /// Function name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Enforce the schema exactly.
    #[serde(default)]
    pub strict: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A `custom` (freeform) tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTool {
    /// Tool name.
    pub name: String,
    /// What the tool does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{"type":"text"}` or a grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `tool_choice`, read once into the form it takes. The object forms keep the object as the
/// client sent it and serialise it unchanged, so a request passed through to an upstream that
/// speaks the Responses API (and the echo in the response) carries exactly what came in.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// `none`, `auto` or `required`.
    Mode(ToolChoiceMode),
    /// `{"type": "function" | "custom", "name": …}`: call this tool.
    Named(NamedToolChoice),
    /// `{"type": "allowed_tools", "mode": …, "tools": […]}`: only these tools.
    AllowedTools(AllowedToolsChoice),
    /// Any other object: a hosted tool (`{"type": "web_search_preview"}`), or a form this
    /// version does not know; see [`ToolChoice::object_kind`].
    Object(JsonMap),
}

impl Default for ToolChoice {
    fn default() -> Self {
        ToolChoice::Mode(ToolChoiceMode::Auto)
    }
}

impl ToolChoice {
    /// The `type` of an object choice.
    pub fn object_kind(&self) -> Option<&str> {
        match self {
            ToolChoice::Named(named) => Some(named.kind.as_str()),
            ToolChoice::AllowedTools(_) => Some("allowed_tools"),
            ToolChoice::Object(map) => map.get("type").and_then(Value::as_str),
            ToolChoice::Mode(_) => None,
        }
    }

    /// Reads an object choice. Its fields are read leniently: a field that is not a string
    /// counts as absent, and `allowed_tools` entries without a string `name` are skipped.
    fn from_object(object: JsonMap) -> ToolChoice {
        let text =
            |map: &JsonMap, key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
        let kind = match object.get("type").and_then(Value::as_str) {
            Some("function") => NamedToolKind::Function,
            Some("custom") => NamedToolKind::Custom,
            Some("allowed_tools") => {
                let tools = object
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|tool| {
                        let tool = tool.as_object()?;
                        Some(ToolReference {
                            name: text(tool, "name")?,
                            namespace: text(tool, "namespace"),
                        })
                    })
                    .collect();
                return ToolChoice::AllowedTools(AllowedToolsChoice {
                    required: object.get("mode").and_then(Value::as_str) == Some("required"),
                    tools,
                    object,
                });
            }
            _ => return ToolChoice::Object(object),
        };
        ToolChoice::Named(NamedToolChoice {
            kind,
            name: text(&object, "name"),
            namespace: text(&object, "namespace"),
            object,
        })
    }
}

impl Serialize for ToolChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Mode(mode) => mode.serialize(s),
            ToolChoice::Named(NamedToolChoice { object, .. })
            | ToolChoice::AllowedTools(AllowedToolsChoice { object, .. })
            | ToolChoice::Object(object) => object.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(d)? {
            Value::Object(object) => Ok(ToolChoice::from_object(object)),
            Value::String(mode) => ToolChoiceMode::deserialize(Value::String(mode))
                .map(ToolChoice::Mode)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "expected \"none\", \"auto\", \"required\" or an object",
            )),
        }
    }
}

/// The two kinds of tool a choice can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedToolKind {
    /// A `function` tool.
    Function,
    /// A `custom` (freeform) tool.
    Custom,
}

impl NamedToolKind {
    /// The `type` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            NamedToolKind::Function => "function",
            NamedToolKind::Custom => "custom",
        }
    }
}

/// A `tool_choice` that names the one tool to call.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedToolChoice {
    kind: NamedToolKind,
    name: Option<String>,
    namespace: Option<String>,
    /// The object as sent, serialised unchanged.
    object: JsonMap,
}

impl NamedToolChoice {
    /// A choice of the `kind` tool `name`, inside `namespace` if any.
    pub fn new(kind: NamedToolKind, name: impl Into<String>, namespace: Option<String>) -> Self {
        let name = name.into();
        let mut object = JsonMap::new();
        object.insert("type".into(), kind.as_str().into());
        object.insert("name".into(), name.clone().into());
        if let Some(namespace) = &namespace {
            object.insert("namespace".into(), namespace.clone().into());
        }
        NamedToolChoice {
            kind,
            name: Some(name),
            namespace,
            object,
        }
    }

    /// A function or a custom tool.
    pub fn kind(&self) -> NamedToolKind {
        self.kind
    }

    /// The tool's name (`None` when the client sent none: it names no tool).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The namespace the tool belongs to.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

/// A `tool_choice` of type `allowed_tools`: the model may call only the listed tools.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedToolsChoice {
    required: bool,
    tools: Vec<ToolReference>,
    /// The object as sent, serialised unchanged.
    object: JsonMap,
}

impl AllowedToolsChoice {
    /// `mode: required`: the model must call one of the tools (otherwise it may call none).
    pub fn required(&self) -> bool {
        self.required
    }

    /// The tools allowed.
    pub fn tools(&self) -> &[ToolReference] {
        &self.tools
    }
}

/// A tool named in an `allowed_tools` choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolReference {
    /// The tool's name.
    pub name: String,
    /// The namespace it belongs to.
    pub namespace: Option<String>,
}

/// The string forms of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    /// Never call tools.
    None,
    /// The model decides.
    Auto,
    /// The model must call at least one tool.
    Required,
}

/// `text`: output format and verbosity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Output format; `{"type":"text"}` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// `low`, `medium` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `text.format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TextFormat {
    /// Plain text.
    #[serde(rename = "text")]
    Text,
    /// JSON that matches a schema.
    #[serde(rename = "json_schema")]
    JsonSchema(JsonSchemaFormat),
    /// Any valid JSON object.
    #[serde(rename = "json_object")]
    JsonObject,
}

/// `text.format` of type `json_schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// Schema name (`[a-zA-Z0-9_-]`, at most 64 characters).
    pub name: String,
    /// The JSON Schema.
    #[serde(default)]
    pub schema: Value,
    /// What the output is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enforce the schema exactly.
    #[serde(default)]
    pub strict: Option<bool>,
}

/// `reasoning`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// `none`, `minimal`, `low`, `medium`, `high`, `xhigh`, …
    #[serde(default)]
    pub effort: Option<String>,
    /// `auto`, `concise` or `detailed`.
    #[serde(default)]
    pub summary: Option<String>,
    /// Fields not modelled here (`generate_summary`, `mode`, `context`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Reads a `metadata` map whose values must be strings; used by validation.
pub fn metadata_problem(metadata: &JsonMap) -> Option<String> {
    if metadata.len() > 16 {
        return Some(format!(
            "metadata has {} pairs; at most 16 are allowed",
            metadata.len()
        ));
    }
    metadata.iter().find_map(|(k, v)| {
        if k.chars().count() > 64 {
            Some(format!("metadata key `{k}` is longer than 64 characters"))
        } else if !v.is_string() {
            Some(format!("metadata value for `{k}` must be a string"))
        } else if v.as_str().is_some_and(|s| s.chars().count() > 512) {
            Some(format!(
                "metadata value for `{k}` is longer than 512 characters"
            ))
        } else {
            None
        }
    })
}

/// Deserialises `metadata` leniently for echo: `null` becomes `{}`.
pub(crate) fn metadata_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<JsonMap, D::Error> {
    null_default(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_absent_and_unknown_fields_are_kept() {
        let req: CreateResponse = serde_json::from_value(json!({
            "model": "m", "input": "hi", "reasoning": null, "tools": null, "temperature": null,
            "client_metadata": {"a": "b"}, "stream": true
        }))
        .unwrap();
        assert_eq!(req.reasoning, None);
        assert_eq!(req.temperature, None);
        assert!(req.is_stream());
        assert_eq!(req.extra.get("client_metadata"), Some(&json!({"a": "b"})));
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(
            back,
            json!({"model": "m", "input": "hi", "stream": true, "client_metadata": {"a": "b"}})
        );
    }

    #[test]
    fn tool_choice_forms() {
        let auto: ToolChoice = serde_json::from_value(json!("auto")).unwrap();
        assert_eq!(auto, ToolChoice::Mode(ToolChoiceMode::Auto));
        let named: ToolChoice =
            serde_json::from_value(json!({"type": "function", "name": "f"})).unwrap();
        assert_eq!(named.object_kind(), Some("function"));
    }

    #[test]
    fn tool_choice_objects_are_typed_and_written_back_as_sent() {
        let named: ToolChoice = serde_json::from_value(
            json!({"name": "spawn", "namespace": "agents", "type": "custom", "x": null}),
        )
        .unwrap();
        let ToolChoice::Named(choice) = &named else {
            panic!("{named:?}")
        };
        assert_eq!(choice.kind(), NamedToolKind::Custom);
        assert_eq!(
            (choice.name(), choice.namespace()),
            (Some("spawn"), Some("agents"))
        );
        assert_eq!(
            serde_json::to_string(&named).unwrap(),
            r#"{"name":"spawn","namespace":"agents","type":"custom","x":null}"#
        );

        let allowed: ToolChoice = serde_json::from_value(json!({"type": "allowed_tools",
            "mode": "required", "tools": [{"type": "function", "name": "a"}, {"name": 5}, "b",
            {"type": "function", "name": "f", "namespace": "ns"}]}))
        .unwrap();
        let ToolChoice::AllowedTools(choice) = &allowed else {
            panic!("{allowed:?}")
        };
        assert!(choice.required());
        let names: Vec<_> = choice
            .tools()
            .iter()
            .map(|t| (t.name.as_str(), t.namespace.as_deref()))
            .collect();
        assert_eq!(names, [("a", None), ("f", Some("ns"))]);
        assert_eq!(allowed.object_kind(), Some("allowed_tools"));

        let hosted: ToolChoice =
            serde_json::from_value(json!({"type": "web_search_preview"})).unwrap();
        assert_eq!(hosted.object_kind(), Some("web_search_preview"));
        let nameless: ToolChoice = serde_json::from_value(json!({"type": "function"})).unwrap();
        assert!(matches!(&nameless, ToolChoice::Named(c) if c.name().is_none()));
        assert_eq!(
            serde_json::to_value(&nameless).unwrap(),
            json!({"type": "function"})
        );

        assert!(serde_json::from_value::<ToolChoice>(json!("sometimes")).is_err());
        assert!(serde_json::from_value::<ToolChoice>(json!(1)).is_err());
        assert_eq!(
            serde_json::to_value(ToolChoice::default()).unwrap(),
            json!("auto")
        );
        let built = NamedToolChoice::new(NamedToolKind::Function, "f", None);
        assert_eq!(
            serde_json::to_value(ToolChoice::Named(built)).unwrap(),
            json!({"type": "function", "name": "f"})
        );
    }

    #[test]
    fn hosted_tools_are_kept_verbatim_and_function_tools_typed() {
        let tools: Vec<Tool> = serde_json::from_value(json!([
            {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true},
            {"type": "web_search", "search_context_size": "low"}
        ]))
        .unwrap();
        assert!(matches!(&tools[0], Tool::Function(f) if f.name == "f"));
        assert_eq!(tools[1].kind(), "web_search");
    }

    #[test]
    fn malformed_function_tool_is_explained() {
        let tool: Tool = serde_json::from_value(json!({"type": "function"})).unwrap();
        assert!(tool.check().unwrap_err().contains("name"));
    }

    #[test]
    fn text_formats() {
        let t: TextConfig = serde_json::from_value(json!({"format": {"type": "json_schema",
            "name": "x", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"}))
        .unwrap();
        assert!(matches!(t.format, Some(TextFormat::JsonSchema(ref s)) if s.name == "x"));
        let t: TextConfig =
            serde_json::from_value(json!({"format": {"type": "json_object"}})).unwrap();
        assert_eq!(t.format, Some(TextFormat::JsonObject));
    }

    #[test]
    fn metadata_rules() {
        let ok = json!({"a": "b"});
        assert_eq!(metadata_problem(ok.as_object().unwrap()), None);
        let bad = json!({"a": 1});
        assert!(metadata_problem(bad.as_object().unwrap()).is_some());
    }
}
