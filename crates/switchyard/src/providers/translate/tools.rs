//! Tools as every function-calling upstream is offered them, and the way back from the name an
//! upstream calls to the Responses tool call it stands for.
//!
//! Upstreams know only functions. A `custom` (freeform) tool is offered as a function taking
//! `{"input": "…"}`, a function inside a `namespace` tool as `{namespace}__{name}`, and hosted
//! tools (`web_search`, `file_search`, …) are not offered at all, since an upstream that cannot
//! run them must not be asked to. [`ToolNames`] remembers the upstream names that do not map
//! one-to-one back, for the decoders.

use std::collections::HashMap;

use serde_json::{Value, json};
use switchyard_types::responses::{CustomTool, Tool};

use crate::stream::ToolCallKind;

/// The tool that carries structured output on upstreams without a native JSON mode for it
/// (Claude, Bedrock): the model is made to call it, and the decoder turns its input back into
/// message text.
pub const JSON_TOOL: &str = "json_tool_call";

/// How an upstream function name maps back to a Responses tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// A `custom` tool exposed as a function taking `{"input": string}`.
    Custom {
        /// The custom tool's name.
        name: String,
        /// Its `namespace`, if it belongs to one.
        namespace: Option<String>,
    },
    /// A function inside a `namespace` tool, exposed as `{namespace}__{name}`.
    Namespaced {
        /// The namespace.
        namespace: String,
        /// The function's own name.
        name: String,
    },
}

/// Upstream function names that do not map one-to-one back to a Responses function call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames(HashMap<String, CallTarget>);

/// A call the upstream made, as the Responses tool call it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCall {
    /// The tool's Responses name.
    pub name: String,
    /// A function call or a custom tool call.
    pub kind: ToolCallKind,
    /// The namespace the tool belongs to.
    pub namespace: Option<String>,
}

impl ToolNames {
    /// Remembers that the upstream name `upstream` stands for `target`.
    pub fn insert(&mut self, upstream: String, target: CallTarget) {
        self.0.insert(upstream, target);
    }

    /// What the upstream name `upstream` stands for, when it is not a plain function.
    pub fn get(&self, upstream: &str) -> Option<&CallTarget> {
        self.0.get(upstream)
    }

    /// The Responses tool call a call to the upstream function `upstream` stands for.
    pub fn resolve(&self, upstream: &str) -> ResolvedCall {
        match self.0.get(upstream) {
            Some(CallTarget::Custom { name, namespace }) => ResolvedCall {
                name: name.clone(),
                kind: ToolCallKind::Custom,
                namespace: namespace.clone(),
            },
            Some(CallTarget::Namespaced { namespace, name }) => ResolvedCall {
                name: name.clone(),
                kind: ToolCallKind::Function,
                namespace: Some(namespace.clone()),
            },
            None => ResolvedCall {
                name: upstream.to_string(),
                kind: ToolCallKind::Function,
                namespace: None,
            },
        }
    }
}

/// How the tool calls of an answer map back, on upstreams that may carry structured output
/// through [`JSON_TOOL`].
#[derive(Debug, Clone, Default)]
pub struct ToolMap {
    /// Tool names that do not map one-to-one to a Responses function call.
    pub names: ToolNames,
    /// [`JSON_TOOL`] was offered: its input is the answer text.
    pub json_tool: bool,
}

/// The upstream function name for a Responses function, flattening namespaces as `ns__name`
/// (characters function names may not hold become `_`, and the result is cut at 64).
pub fn chat_function_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => {
            let joined = format!("{ns}__{name}");
            joined
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect()
        }
        _ => name.to_string(),
    }
}

/// A tool as every function-calling upstream is offered it: a `function`, or a `custom` tool
/// as a function taking `{"input": "…"}`.
pub(crate) struct OfferedFunction {
    /// The upstream name, registered in the [`ToolNames`] so that calls map back.
    pub name: String,
    /// The description (a custom tool's with its grammar appended).
    pub description: Option<String>,
    /// A function's `parameters` as given (`None`: none given), or a custom tool's schema.
    pub parameters: Option<Value>,
    /// A custom tool.
    pub custom: bool,
    /// A function's `strict`.
    pub strict: Option<bool>,
    /// The `cache_control` kept among the tool's unknown fields, for upstreams that cache
    /// prompts.
    pub cache_control: Option<Value>,
}

/// Every function and custom tool of `tools` as offered upstream, namespaces flattened
/// (`namespace__name`), and the names that map back; hosted tools are left out (logged at
/// debug with `target`).
pub(crate) fn offered_functions(tools: &[Tool], target: &str) -> (Vec<OfferedFunction>, ToolNames) {
    let mut offered = Vec::new();
    let mut names = ToolNames::default();
    offer(tools, None, target, &mut names, &mut offered);
    (offered, names)
}

/// Offers `tools` (members of `namespace`, if any), recursing into namespace tools.
fn offer(
    tools: &[Tool],
    namespace: Option<&str>,
    target: &str,
    names: &mut ToolNames,
    offered: &mut Vec<OfferedFunction>,
) {
    for tool in tools {
        match tool {
            Tool::Function(f) => offered.push(OfferedFunction {
                name: function_name(&f.name, namespace, names),
                description: f.description.clone(),
                parameters: f.parameters.clone(),
                custom: false,
                strict: f.strict,
                cache_control: f.extra.get("cache_control").cloned(),
            }),
            Tool::Custom(c) => offered.push(custom_as_function(c, namespace, names)),
            Tool::Other(value) if tool.kind() == "namespace" => {
                let (ns, members) = namespace_members(value);
                offer(&members, Some(ns), target, names, offered);
            }
            Tool::Other(_) => {
                tracing::debug!(
                    tool = tool.kind(),
                    target,
                    "hosted tool not offered to an upstream that cannot run it"
                );
            }
        }
    }
}

/// The upstream name of the function `name` offered inside `namespace` (if any), registered in
/// `names` so that calls to it map back.
fn function_name(name: &str, namespace: Option<&str>, names: &mut ToolNames) -> String {
    let upstream = chat_function_name(namespace, name);
    if let Some(ns) = namespace {
        names.insert(
            upstream.clone(),
            CallTarget::Namespaced {
                namespace: ns.to_string(),
                name: name.to_string(),
            },
        );
    }
    upstream
}

/// The custom (freeform) tool `c` (inside `namespace`, if any) offered as a function taking
/// `{"input": "…"}`, its grammar appended to the description, registered in `names` so that
/// calls map back to a custom tool call.
fn custom_as_function(
    c: &CustomTool,
    namespace: Option<&str>,
    names: &mut ToolNames,
) -> OfferedFunction {
    let name = chat_function_name(namespace, &c.name);
    names.insert(
        name.clone(),
        CallTarget::Custom {
            name: c.name.clone(),
            namespace: namespace.map(str::to_string),
        },
    );
    let mut description = c.description.clone().unwrap_or_default();
    if let Some(format) = &c.format
        && format.get("type").and_then(Value::as_str) == Some("grammar")
    {
        let syntax = format.get("syntax").and_then(Value::as_str).unwrap_or("");
        let definition = format
            .get("definition")
            .and_then(Value::as_str)
            .unwrap_or("");
        description.push_str(&format!(
            "\n\nThe `input` must follow this {syntax} grammar:\n{definition}"
        ));
    }
    let description = description.trim();
    OfferedFunction {
        name,
        description: (!description.is_empty()).then(|| description.to_string()),
        parameters: Some(json!({"type": "object",
            "properties": {"input": {"type": "string", "description": "The tool input."}},
            "required": ["input"]})),
        custom: true,
        strict: None,
        cache_control: c.extra.get("cache_control").cloned(),
    }
}

/// A `namespace` tool's name and member tools (functions offered as `namespace__name`).
fn namespace_members(value: &Value) -> (&str, Vec<Tool>) {
    let ns = value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let members = value
        .get("tools")
        .cloned()
        .and_then(|t| serde_json::from_value(t).ok())
        .unwrap_or_default();
    (ns, members)
}

/// The arguments of the function a custom tool is offered as, for its freeform `input`.
pub(crate) fn custom_tool_arguments(input: &str) -> Value {
    json!({ "input": input })
}

/// The input of a custom tool call from the arguments of the function it was offered as
/// (`{"input": "…"}`); arguments of another shape pass as they are.
pub(crate) fn custom_tool_input(arguments: String) -> String {
    serde_json::from_str::<Value>(&arguments)
        .ok()
        .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_string))
        .unwrap_or(arguments)
}
