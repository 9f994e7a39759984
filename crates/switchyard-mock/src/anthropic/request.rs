//! A Messages request read into a [`Turn`], after the checks the real API makes.

use serde_json::Value;

use super::errors::invalid_request;
use super::signature;
use crate::reply::Reply;
use crate::turn::{Choice, ToolSpec, Turn};

/// What the mock needs from a request.
#[derive(Debug)]
pub(super) struct Facts {
    pub turn: Turn,
    pub model: String,
    pub stream: bool,
    /// `thinking.type` is `enabled` (or `adaptive`).
    pub thinking: bool,
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn kind(block: &Value) -> &str {
    block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Text of a `content` (string or blocks), tool results' text included.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match kind(b) {
                "text" => b.get("text").and_then(Value::as_str).map(str::to_string),
                "tool_result" => Some(text_of(b.get("content").unwrap_or(&Value::Null))),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Reads and checks `body`; the error is the reply Anthropic would send.
pub(super) fn read(body: &Value, vertex: bool) -> Result<Facts, Reply> {
    if !body.is_object() {
        return Err(invalid_request(
            "There was an issue with the request body: expected an object",
        ));
    }
    let model = if vertex {
        if body.get("anthropic_version").and_then(Value::as_str) != Some("vertex-2023-10-16") {
            return Err(invalid_request("anthropic_version: Field required"));
        }
        "claude-mock".to_string()
    } else {
        match body.get("model").and_then(Value::as_str) {
            Some(model) => model.to_string(),
            None => return Err(invalid_request("model: Field required")),
        }
    };
    let Some(max_tokens) = body.get("max_tokens").and_then(Value::as_u64) else {
        return Err(invalid_request("max_tokens: Field required"));
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(invalid_request("messages: Field required"));
    };
    let thinking = body.pointer("/thinking/type").and_then(Value::as_str);
    let thinking = matches!(thinking, Some("enabled" | "adaptive"));
    if thinking {
        check_thinking(body, max_tokens, messages)?;
    }
    check_tool_pairing(messages)?;
    // Claude 4.1 and later take temperature or top_p, not both.
    if body.get("temperature").is_some()
        && body.get("top_p").is_some()
        && (model.contains("-4-1") || model.contains("-4-5"))
    {
        return Err(invalid_request(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ));
    }
    let turn = turn_of(body, messages, Some(max_tokens))?;
    Ok(Facts {
        turn,
        model,
        stream: body.get("stream").and_then(Value::as_bool) == Some(true),
        thinking,
    })
}

/// The turn a Messages body stands for (its words are the mock's input tokens); the error is
/// the reply to a message with empty content.
fn turn_of(
    body: &Value,
    messages: &[Value],
    max_output_tokens: Option<u64>,
) -> Result<Turn, Reply> {
    let mut turn = Turn {
        max_output_tokens,
        parallel_tool_calls: body
            .pointer("/tool_choice/disable_parallel_tool_use")
            .and_then(Value::as_bool)
            != Some(true),
        ..Turn::default()
    };
    turn.input_words = match body.get("system") {
        Some(system) => words(&text_of(system)),
        None => 0,
    };
    for (i, message) in messages.iter().enumerate() {
        let content = message.get("content").unwrap_or(&Value::Null);
        if matches!(content, Value::Array(blocks) if blocks.is_empty())
            || content.as_str() == Some("")
        {
            return Err(invalid_request(&format!(
                "messages.{i}: all messages must have non-empty content"
            )));
        }
        turn.input_words += words(&text_of(content));
        for block in content.as_array().into_iter().flatten() {
            if kind(block) == "tool_use" {
                turn.input_words +=
                    words(&block.get("input").map(Value::to_string).unwrap_or_default());
            }
        }
        if message.get("role").and_then(Value::as_str) == Some("user") {
            let blocks = content.as_array().cloned().unwrap_or_default();
            let results: Vec<&Value> = blocks.iter().filter(|b| kind(b) == "tool_result").collect();
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| kind(b) == "text")
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            if let Value::String(text) = content {
                turn.user_text = text.clone();
            } else if !texts.is_empty() {
                turn.user_text = texts.join("\n");
            }
            let last = i + 1 == messages.len();
            turn.tool_result = match (last, results.last(), texts.is_empty()) {
                (true, Some(result), true) => {
                    Some(text_of(result.get("content").unwrap_or(&Value::Null)))
                }
                _ => None,
            };
        }
    }
    for tool in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = tool.get("name").and_then(Value::as_str) {
            turn.tools.push(ToolSpec {
                name: name.to_string(),
                parameters: tool.get("input_schema").cloned(),
            });
        }
    }
    turn.choice = match body.pointer("/tool_choice/type").and_then(Value::as_str) {
        Some("none") => Choice::None,
        Some("tool") => body
            .pointer("/tool_choice/name")
            .and_then(Value::as_str)
            .map_or(Choice::Auto, |n| Choice::Named(n.to_string())),
        _ => Choice::Auto,
    };
    Ok(turn)
}

/// The fields `count_tokens` takes; it refuses the rest of a Messages body (`max_tokens`,
/// `stream`, sampling, `metadata`) as extra inputs.
const COUNT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
    "output_config",
];

/// Reads and checks a `count_tokens` body (Vertex's `count-tokens:rawPredict` with `vertex`);
/// returns the turn it stands for. The error is the reply Anthropic would send.
pub(super) fn read_count(body: &Value, vertex: bool) -> Result<Turn, Reply> {
    let Some(fields) = body.as_object() else {
        return Err(invalid_request(
            "There was an issue with the request body: expected an object",
        ));
    };
    if vertex && body.get("anthropic_version").and_then(Value::as_str) != Some("vertex-2023-10-16")
    {
        return Err(invalid_request("anthropic_version: Field required"));
    }
    if let Some(extra) = fields
        .keys()
        .find(|k| !(COUNT_FIELDS.contains(&k.as_str()) || vertex && *k == "anthropic_version"))
    {
        return Err(invalid_request(&format!(
            "{extra}: Extra inputs are not permitted"
        )));
    }
    if body.get("model").and_then(Value::as_str).is_none() {
        return Err(invalid_request("model: Field required"));
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(invalid_request("messages: Field required"));
    };
    check_tool_pairing(messages)?;
    turn_of(body, messages, None)
}

/// The rules Anthropic enforces when thinking is on.
/// Every `tool_use` must be answered by a `tool_result` in the next (user) message, and the
/// results lead that message, as the Messages API requires.
fn check_tool_pairing(messages: &[Value]) -> Result<(), Reply> {
    let blocks = |m: &Value| -> Vec<Value> {
        m.get("content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for (i, message) in messages.iter().enumerate() {
        if message.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let ids: Vec<String> = blocks(message)
            .iter()
            .filter(|b| kind(b) == "tool_use")
            .filter_map(|b| b.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let next = messages.get(i + 1).map(blocks).unwrap_or_default();
        let results: Vec<&str> = next
            .iter()
            .take_while(|b| kind(b) == "tool_result")
            .filter_map(|b| b.get("tool_use_id").and_then(Value::as_str))
            .collect();
        if let Some(missing) = ids.iter().find(|id| !results.contains(&id.as_str()))
            && messages.get(i + 1).is_some()
        {
            return Err(invalid_request(&format!(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks \
                 immediately after: {missing}. Each `tool_use` block must have a corresponding \
                 `tool_result` block in the next message.",
                i + 1
            )));
        }
    }
    Ok(())
}

fn check_thinking(body: &Value, max_tokens: u64, messages: &[Value]) -> Result<(), Reply> {
    if body.pointer("/thinking/type").and_then(Value::as_str) == Some("enabled") {
        let budget = body
            .pointer("/thinking/budget_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if budget < 1024 {
            return Err(invalid_request(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            ));
        }
        if budget >= max_tokens {
            return Err(invalid_request(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our \
                 documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
            ));
        }
    }
    if body
        .get("temperature")
        .and_then(Value::as_f64)
        .is_some_and(|t| t != 1.0)
    {
        return Err(invalid_request(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our \
             documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
        ));
    }
    if matches!(
        body.pointer("/tool_choice/type").and_then(Value::as_str),
        Some("any" | "tool")
    ) {
        return Err(invalid_request(
            "Thinking may not be enabled when tool_choice forces tool use.",
        ));
    }
    for (i, message) in messages.iter().enumerate() {
        for (j, block) in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if kind(block) == "thinking" {
                let thinking = block
                    .get("thinking")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if block.get("signature").and_then(Value::as_str) != Some(&signature(thinking)) {
                    return Err(invalid_request(&format!(
                        "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                    )));
                }
            }
        }
    }
    let last_assistant = messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.get("role").and_then(Value::as_str) == Some("assistant"));
    if let Some((i, message)) = last_assistant {
        let blocks = message
            .get("content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let calls_tool = blocks.iter().any(|b| kind(b) == "tool_use");
        let first = blocks.first().map(kind).unwrap_or_default();
        if calls_tool && first != "thinking" && first != "redacted_thinking" {
            return Err(invalid_request(&format!(
                "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but \
                 found `{first}`. When `thinking` is enabled, a final `assistant` message must \
                 start with a thinking block (preceeding the lastmost set of `tool_use` and \
                 `tool_result` blocks). We recommend you include thinking blocks from previous \
                 turns. To avoid this requirement, disable `thinking`. Please consult our \
                 documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            )));
        }
    }
    Ok(())
}
