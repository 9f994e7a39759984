//! The protocol-neutral view of a request: what the scenario engine needs to decide its answer,
//! read from a Responses request or a Chat Completions request alike.

use serde_json::Value;
use switchyard_types::chat::{ChatContent, ChatContentPart, ChatRequest};
use switchyard_types::responses::{
    ContentPart, CreateResponse, Item, MessageContent, NamedToolKind, Role, TextFormat, Tool,
    ToolChoice, ToolChoiceMode, ToolOutput,
};

/// A function tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolSpec {
    pub name: String,
    /// JSON Schema of the arguments.
    pub parameters: Option<Value>,
}

/// `tool_choice`, reduced to what changes the mock's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Choice {
    #[default]
    Auto,
    /// `none`: never call tools.
    None,
    /// A named function.
    Named(String),
}

/// A structured-output request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonFormat {
    /// `json_object`: any JSON object.
    Object,
    /// `json_schema`: JSON matching this schema.
    Schema(Value),
}

/// One turn of a conversation as the engine sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Turn {
    /// Text of the last user message (directives live here).
    pub user_text: String,
    /// The output of a tool, when the last input item is a tool result.
    pub tool_result: Option<String>,
    pub tools: Vec<ToolSpec>,
    pub choice: Choice,
    pub parallel_tool_calls: bool,
    pub json: Option<JsonFormat>,
    /// The output token cap, if any.
    pub max_output_tokens: Option<u64>,
    /// Whitespace-separated words of every text in the input: the mock's input token count.
    pub input_words: u64,
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn join_parts<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, text) in texts.enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(text);
    }
    out
}

fn response_parts_text(parts: &[ContentPart]) -> String {
    join_parts(parts.iter().filter_map(|p| match p {
        ContentPart::InputText(t) | ContentPart::SummaryText(t) | ContentPart::ReasoningText(t) => {
            Some(t.text.as_str())
        }
        ContentPart::OutputText(t) => Some(t.text.as_str()),
        ContentPart::Refusal(r) => Some(r.refusal.as_str()),
        _ => None,
    }))
}

fn tool_output_text(output: &ToolOutput) -> String {
    match output {
        ToolOutput::Text(text) => text.clone(),
        ToolOutput::Parts(parts) => response_parts_text(parts),
    }
}

fn chat_text(content: Option<&ChatContent>) -> String {
    match content {
        None => String::new(),
        Some(ChatContent::Text(text)) => text.clone(),
        Some(ChatContent::Parts(parts)) => join_parts(parts.iter().filter_map(|p| match p {
            ChatContentPart::Text { text } => Some(text.as_str()),
            _ => None,
        })),
    }
}

impl Turn {
    /// Reads a `POST /responses` body.
    pub(crate) fn from_responses(req: &CreateResponse) -> Turn {
        let mut turn = Turn {
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            max_output_tokens: req.max_output_tokens,
            input_words: req.instructions.as_deref().map_or(0, words),
            ..Turn::default()
        };
        let items = crate::responses::input_items(req);
        for item in &items {
            match item {
                Item::Message(m) => {
                    let text = match &m.content {
                        MessageContent::Text(text) => text.clone(),
                        MessageContent::Parts(parts) => response_parts_text(parts),
                    };
                    turn.input_words += words(&text);
                    if m.role == Role::User {
                        turn.user_text = text;
                    }
                }
                Item::FunctionCall(call) => turn.input_words += words(&call.arguments),
                Item::FunctionCallOutput(out) => {
                    turn.input_words += words(&tool_output_text(&out.output));
                }
                Item::CustomToolCallOutput(out) => {
                    turn.input_words += words(&tool_output_text(&out.output));
                }
                _ => {}
            }
        }
        turn.tool_result = match items.last() {
            Some(Item::FunctionCallOutput(out)) => Some(tool_output_text(&out.output)),
            Some(Item::CustomToolCallOutput(out)) => Some(tool_output_text(&out.output)),
            _ => None,
        };
        for tool in req.tools.iter().flatten() {
            if let Tool::Function(f) = tool {
                turn.tools.push(ToolSpec {
                    name: f.name.clone(),
                    parameters: f.parameters.clone(),
                });
            }
        }
        turn.choice = match &req.tool_choice {
            Some(ToolChoice::Mode(ToolChoiceMode::None)) => Choice::None,
            Some(ToolChoice::Named(named)) if named.kind() == NamedToolKind::Function => named
                .name()
                .map_or(Choice::Auto, |n| Choice::Named(n.to_string())),
            _ => Choice::Auto,
        };
        turn.json = match req.text.as_ref().and_then(|t| t.format.as_ref()) {
            Some(TextFormat::JsonSchema(format)) => Some(JsonFormat::Schema(format.schema.clone())),
            Some(TextFormat::JsonObject) => Some(JsonFormat::Object),
            _ => None,
        };
        turn
    }

    /// Reads a `POST /chat/completions` body.
    pub(crate) fn from_chat(req: &ChatRequest) -> Turn {
        let mut turn = Turn {
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            max_output_tokens: req.max_completion_tokens.or(req.max_tokens),
            ..Turn::default()
        };
        for message in &req.messages {
            let text = chat_text(message.content.as_ref());
            turn.input_words += words(&text);
            for call in message.tool_calls.iter().flatten() {
                turn.input_words += words(&call.function.arguments);
            }
            if message.role == "user" {
                turn.user_text = text;
            }
        }
        turn.tool_result = req
            .messages
            .last()
            .filter(|m| m.role == "tool")
            .map(|m| chat_text(m.content.as_ref()));
        for tool in req.tools.iter().flatten() {
            turn.tools.push(ToolSpec {
                name: tool.function.name.clone(),
                parameters: tool.function.parameters.clone(),
            });
        }
        turn.choice = match &req.tool_choice {
            Some(Value::String(mode)) if mode == "none" => Choice::None,
            Some(Value::Object(map)) => map
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .map_or(Choice::Auto, |n| Choice::Named(n.to_string())),
            _ => Choice::Auto,
        };
        turn.json = req.response_format.as_ref().and_then(|format| {
            match format.get("type").and_then(Value::as_str) {
                Some("json_object") => Some(JsonFormat::Object),
                Some("json_schema") => Some(JsonFormat::Schema(
                    format
                        .pointer("/json_schema/schema")
                        .cloned()
                        .unwrap_or(Value::Null),
                )),
                _ => None,
            }
        });
        turn
    }
}

impl Turn {
    /// Reads a Bedrock Converse body (`POST /model/{id}/converse[-stream]`).
    pub(crate) fn from_converse(body: &Value) -> Turn {
        let mut turn = Turn {
            parallel_tool_calls: true,
            max_output_tokens: body
                .pointer("/inferenceConfig/maxTokens")
                .and_then(Value::as_u64),
            ..Turn::default()
        };
        let block_text = |block: &Value| {
            block
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        for system in body
            .get("system")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            turn.input_words += block_text(system).as_deref().map_or(0, words);
        }
        let messages = body.get("messages").and_then(Value::as_array);
        for message in messages.into_iter().flatten() {
            let blocks = message.get("content").and_then(Value::as_array);
            let texts: Vec<String> = blocks
                .into_iter()
                .flatten()
                .filter_map(block_text)
                .collect();
            let text = join_parts(texts.iter().map(String::as_str));
            turn.input_words += words(&text);
            for block in blocks.into_iter().flatten() {
                if let Some(input) = block.pointer("/toolUse/input") {
                    turn.input_words += words(&input.to_string());
                }
                if let Some(result) = block.get("toolResult") {
                    turn.input_words += words(&converse_result_text(result));
                }
            }
            if message.get("role").and_then(Value::as_str) == Some("user") && !text.is_empty() {
                turn.user_text = text;
            }
        }
        // The last message holds the tool result when the model is answering one.
        turn.tool_result = messages
            .and_then(|m| m.last())
            .and_then(|m| m.get("content")?.as_array())
            .and_then(|blocks| blocks.iter().rev().find_map(|b| b.get("toolResult")))
            .map(converse_result_text);
        let config = body.get("toolConfig");
        for tool in config
            .and_then(|c| c.get("tools"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(spec) = tool.get("toolSpec") {
                turn.tools.push(ToolSpec {
                    name: spec
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    parameters: spec.pointer("/inputSchema/json").cloned(),
                });
            }
        }
        turn.choice = match config
            .and_then(|c| c.pointer("/toolChoice/tool/name"))
            .and_then(Value::as_str)
        {
            Some(name) => Choice::Named(name.to_string()),
            None => Choice::Auto,
        };
        turn
    }
}

fn converse_result_text(result: &Value) -> String {
    let blocks = result.get("content").and_then(Value::as_array);
    join_parts(
        blocks
            .into_iter()
            .flatten()
            .filter_map(|b| b.get("text").and_then(Value::as_str)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_tool_result_is_last_input() {
        let req: CreateResponse = serde_json::from_value(json!({
            "model": "m", "instructions": "be brief",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "run ls"}]},
                {"type": "function_call", "call_id": "c", "name": "sh", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call_output", "call_id": "c", "output": "a.txt"}],
            "tools": [{"type": "function", "name": "sh", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "sh"}}))
        .unwrap();
        let turn = Turn::from_responses(&req);
        assert_eq!(turn.user_text, "run ls");
        assert_eq!(turn.tool_result.as_deref(), Some("a.txt"));
        assert_eq!(turn.choice, Choice::Named("sh".into()));
        assert_eq!(turn.input_words, 2 + 2 + 1 + 1);
    }

    #[test]
    fn chat_reads_format_and_tool_messages() {
        let req: ChatRequest = serde_json::from_value(json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi there"}]},
            {"role": "tool", "tool_call_id": "c", "content": "42"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "n",
                "schema": {"type": "object"}}}, "tool_choice": "none"}))
        .unwrap();
        let turn = Turn::from_chat(&req);
        assert_eq!(turn.user_text, "hi there");
        assert_eq!(turn.tool_result.as_deref(), Some("42"));
        assert_eq!(turn.choice, Choice::None);
        assert_eq!(
            turn.json,
            Some(JsonFormat::Schema(json!({"type": "object"})))
        );
    }
}
