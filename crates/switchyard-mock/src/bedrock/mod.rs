//! AWS Bedrock Converse and ConverseStream: `POST /model/{id}/converse`
//! answers JSON, `POST /model/{id}/converse-stream` a binary `application/vnd.amazon.eventstream`
//! (real prelude, headers and CRCs; every payload padded with `p`; frames cut across HTTP
//! chunks at odd places). Requests must carry a bearer key or a well-formed SigV4 signature for
//! service `bedrock` (verified in full for the example credentials); errors carry
//! `x-amzn-ErrorType` and a `{"message"}` body; stream failures are exception frames.
//! `POST /model/{id}/count-tokens` is the `CountTokens` API, for Anthropic models under their
//! foundation-model id only (others get its `ValidationException`).

mod render;
mod sigv4;

use axum::http::HeaderMap;
use serde_json::Value;

use crate::directive::Directives;
use crate::engine::Planned;
use crate::ids;
use crate::plan::Plan;
use crate::reply::Reply;
use crate::turn::Turn;

pub(crate) use render::{exception_reply, scripted_stream};

/// True for the paths this module answers.
pub(crate) fn matches(path: &str) -> bool {
    path.starts_with("/model/")
        && (path.ends_with("/converse") || path.ends_with("/converse-stream"))
}

/// True for the `CountTokens` path.
pub(crate) fn counts(path: &str) -> bool {
    path.starts_with("/model/") && path.ends_with("/count-tokens")
}

/// The members of `ConverseTokensRequest`, what `CountTokens` takes of a Converse request.
const COUNT_MEMBERS: &[&str] = &[
    "messages",
    "system",
    "toolConfig",
    "additionalModelRequestFields",
];

/// Answers `CountTokens`: the input tokens a Converse request with these fields would report
/// (the mock counts words).
pub(crate) fn count_tokens(path: &str, headers: &HeaderMap, raw: &[u8], body: &Value) -> Planned {
    if let Err(rejection) = sigv4::check(headers, path, raw) {
        return exception_reply(403, rejection.exception, &rejection.message).into();
    }
    let encoded = path
        .strip_prefix("/model/")
        .and_then(|rest| rest.strip_suffix("/count-tokens"))
        .unwrap_or_default();
    let model = percent_decode(encoded);
    // Counted: Anthropic's models, under their foundation-model id (not a profile, not an ARN).
    if !model.starts_with("anthropic.") {
        return exception_reply(
            400,
            "ValidationException",
            "The provided model doesn't support counting tokens.",
        )
        .into();
    }
    let Some(converse) = body.pointer("/input/converse") else {
        return exception_reply(
            400,
            "ValidationException",
            "Malformed input request: required key [input] not found",
        )
        .into();
    };
    if let Some(key) = converse
        .as_object()
        .and_then(|c| c.keys().find(|k| !COUNT_MEMBERS.contains(&k.as_str())))
    {
        return exception_reply(
            400,
            "ValidationException",
            &format!(
                "Malformed input request: extraneous key [{key}] is not permitted, please \
                 reformat your input and try again."
            ),
        )
        .into();
    }
    if let Err(message) = validate(converse) {
        return exception_reply(400, "ValidationException", &message).into();
    }
    let turn = Turn::from_converse(converse);
    let directives = Directives::parse(&turn.user_text);
    if let Some(code) = &directives.error {
        return render::directive_error(code).into();
    }
    Reply::json(serde_json::json!({"inputTokens": turn.input_words.max(1)}))
        .with_header("x-amzn-requestid", &ids::uuid())
        .into()
}

/// `%XX` escapes decoded (model ids travel percent-encoded in the path).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level members of `ConverseRequest`; Bedrock refuses anything else.
const MEMBERS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
];

/// Answers a Converse request.
pub(crate) fn handle(path: &str, headers: &HeaderMap, raw: &[u8], body: &Value) -> Planned {
    if let Err(rejection) = sigv4::check(headers, path, raw) {
        return exception_reply(403, rejection.exception, &rejection.message).into();
    }
    let stream = path.ends_with("/converse-stream");
    if let Err(message) = validate(body) {
        return exception_reply(400, "ValidationException", &message).into();
    }
    let turn = Turn::from_converse(body);
    let directives = Directives::parse(&turn.user_text);
    let delay = directives.slow.unwrap_or_default();
    if let Some(code) = &directives.error {
        return Planned {
            delay,
            reply: render::directive_error(code),
        };
    }
    let mut plan = Plan::decide(&turn, &directives);
    // Claude thinks whenever thinking is enabled, directive or not.
    let thinking = body
        .pointer("/additionalModelRequestFields/thinking/type")
        .and_then(Value::as_str)
        == Some("enabled");
    if thinking && plan.reasoning.is_none() {
        let with_reasoning = Directives {
            reasoning: true,
            ..directives.clone()
        };
        plan = Plan::decide(&turn, &with_reasoning);
    }
    let request_id = ("x-amzn-requestid".to_string(), ids::uuid());
    let reply = if stream {
        render::stream(&plan, request_id)
    } else {
        render::json(&plan, request_id)
    };
    Planned { delay, reply }
}

/// The checks Bedrock makes before running the model (wording from the service's messages).
fn validate(body: &Value) -> Result<(), String> {
    let Some(object) = body.as_object() else {
        return Err("Malformed input request, please reformat your input and try again.".into());
    };
    if let Some(key) = object.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!(
            "Malformed input request: extraneous key [{key}] is not permitted, please reformat \
             your input and try again."
        ));
    }
    let Some(messages) = object.get("messages").and_then(Value::as_array) else {
        return Err("Malformed input request: required key [messages] not found".into());
    };
    if messages.is_empty() {
        return Err("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
    }
    let thinking = body
        .pointer("/additionalModelRequestFields/thinking/type")
        .and_then(Value::as_str)
        == Some("enabled");
    let mut previous_role = "";
    let mut previous_tool_ids: Vec<&str> = Vec::new();
    let mut uses_tools = false;
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!("messages.{i}.role: must be user or assistant"));
        }
        if role == previous_role {
            return Err("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into());
        }
        let blocks = message
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("messages.{i}.content: required key not found"))?;
        let mut tool_ids = Vec::new();
        for (j, block) in blocks.iter().enumerate() {
            if block
                .get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| t.trim().is_empty())
            {
                return Err(format!(
                    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again."
                ));
            }
            if let Some(id) = block.pointer("/toolUse/toolUseId").and_then(Value::as_str) {
                uses_tools = true;
                tool_ids.push(id);
            }
            if let Some(id) = block
                .pointer("/toolResult/toolUseId")
                .and_then(Value::as_str)
            {
                uses_tools = true;
                if !previous_tool_ids.contains(&id) {
                    return Err(format!(
                        "The toolUseId {id} in messages.{i}.content.{j} does not match any toolUse block in the previous assistant turn."
                    ));
                }
            }
        }
        // Anthropic's rule, surfaced by Bedrock: with thinking on, the final assistant turn,
        // when it calls tools (an open tool loop), must begin with its (signed or redacted)
        // thinking. Earlier, finished tool turns may have none.
        let last_assistant = messages
            .iter()
            .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
        if thinking && role == "assistant" && Some(i) == last_assistant && !tool_ids.is_empty() {
            let first_is_thinking = blocks
                .first()
                .is_some_and(|b| b.get("reasoningContent").is_some());
            let signed = blocks.iter().all(|b| match b.get("reasoningContent") {
                Some(r) => {
                    r.get("redactedContent").is_some()
                        || r.pointer("/reasoningText/signature")
                            .and_then(Value::as_str)
                            .is_some_and(|s| !s.is_empty())
                }
                None => true,
            });
            if !first_is_thinking || !signed {
                return Err(format!(
                    "The model returned the following errors: messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns."
                ));
            }
        }
        previous_role = role;
        previous_tool_ids = tool_ids;
    }
    if uses_tools && body.get("toolConfig").is_none() {
        return Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.".into());
    }
    Ok(())
}

/// A canned answer with `text` (for [`Reply::bedrock_text`]).
pub(crate) fn text_reply(text: &str, stream: bool) -> Reply {
    let plan = Plan::text(text);
    let request_id = ("x-amzn-requestid".to_string(), ids::uuid());
    if stream {
        render::stream(&plan, request_id)
    } else {
        render::json(&plan, request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn model_ids_are_decoded() {
        assert_eq!(
            percent_decode("anthropic.claude-sonnet-4-20250514-v1%3A0"),
            "anthropic.claude-sonnet-4-20250514-v1:0"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn validation_follows_bedrock_rules() {
        assert!(
            validate(&json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})).is_ok()
        );
        assert!(
            validate(&json!({"model": "x", "messages": []}))
                .unwrap_err()
                .contains("extraneous key [model]")
        );
        assert!(validate(&json!({"messages": [{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}]})).unwrap_err().contains("alternate"));
        assert!(
            validate(&json!({"messages": [{"role": "user", "content": [{"text": " "}]}]}))
                .unwrap_err()
                .contains("blank")
        );
        let tool_turns = |assistant: Value| {
            json!({
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            "toolConfig": {"tools": []},
            "messages": [
                {"role": "user", "content": [{"text": "weather?"}]},
                {"role": "assistant", "content": assistant},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "30"}]}}]}
            ]})
        };
        let err = validate(&tool_turns(
            json!([{"toolUse": {"toolUseId": "t1", "name": "w", "input": {}}}]),
        ))
        .unwrap_err();
        assert!(err.contains("Expected `thinking`"), "{err}");
        assert!(
            validate(&tool_turns(json!([
            {"reasoningContent": {"reasoningText": {"text": "x", "signature": "sig"}}},
            {"toolUse": {"toolUseId": "t1", "name": "w", "input": {}}}])))
            .is_ok()
        );
        let err = validate(&tool_turns(json!([
            {"reasoningContent": {"reasoningText": {"text": "x", "signature": "sig"}}},
            {"toolUse": {"toolUseId": "other", "name": "w", "input": {}}}])))
        .unwrap_err();
        assert!(err.contains("does not match"), "{err}");
    }
}
