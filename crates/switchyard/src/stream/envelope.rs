//! The echo fields of a `Response`, taken from the request that produced it.

use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    CreateResponse, ReasoningConfig, Response, ResponseStatus, TextConfig, TextFormat, Tool,
};

/// A `Response` in state `in_progress` with no output, echoing `request` the way the Responses
/// API does (defaults filled in, `null` where the request said nothing).
pub fn envelope(request: &CreateResponse, id: String, model: String, created_at: u64) -> Response {
    let mut text = request.text.clone().unwrap_or_default();
    if text.format.is_none() {
        text.format = Some(TextFormat::Text);
    }
    Response {
        id,
        created_at,
        status: ResponseStatus::InProgress,
        background: request.background.unwrap_or(false),
        instructions: request.instructions.clone().map(Value::String),
        max_output_tokens: request.max_output_tokens,
        max_tool_calls: request.max_tool_calls,
        model,
        parallel_tool_calls: request.parallel_tool_calls.unwrap_or(true),
        previous_response_id: request.previous_response_id.clone(),
        prompt_cache_key: request.prompt_cache_key.clone(),
        reasoning: request
            .reasoning
            .clone()
            .map(|r| ReasoningConfig {
                effort: r.effort,
                summary: r.summary,
                extra: JsonMap::new(),
            })
            .unwrap_or_default(),
        safety_identifier: request.safety_identifier.clone(),
        service_tier: match request.service_tier.as_deref() {
            None | Some("auto") => "default".into(),
            Some(tier) => tier.into(),
        },
        store: request.store.unwrap_or(true),
        temperature: request.temperature.unwrap_or(1.0),
        text: TextConfig {
            extra: JsonMap::new(),
            ..text
        },
        tool_choice: request.tool_choice.clone().unwrap_or_default(),
        tools: request
            .tools
            .clone()
            .map(normalize_tools)
            .unwrap_or_default(),
        top_logprobs: request.top_logprobs.unwrap_or(0),
        top_p: request.top_p.unwrap_or(1.0),
        presence_penalty: request.presence_penalty.unwrap_or(0.0),
        frequency_penalty: request.frequency_penalty.unwrap_or(0.0),
        truncation: request
            .truncation
            .clone()
            .unwrap_or_else(|| "disabled".into()),
        user: request.user.clone(),
        metadata: request.metadata.clone().unwrap_or_default(),
        ..Response::default()
    }
}

/// Tools as the API echoes them: function tools always carry `parameters` and `strict`.
fn normalize_tools(tools: Vec<Tool>) -> Vec<Tool> {
    tools
        .into_iter()
        .map(|tool| match tool {
            Tool::Function(mut f) => {
                f.strict = Some(f.strict.unwrap_or(false));
                Tool::Function(f)
            }
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn echoes_request_with_defaults() {
        let req: CreateResponse = serde_json::from_value(json!({
            "model": "g", "input": "hi", "instructions": "be brief", "temperature": 0.2,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "service_tier": "auto", "metadata": {"k": "v"}
        }))
        .unwrap();
        let r = envelope(&req, "resp_1".into(), "m".into(), 7);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["instructions"], "be brief");
        assert_eq!(v["temperature"], 0.2);
        assert_eq!(v["top_p"], 1.0);
        assert_eq!(v["service_tier"], "default");
        assert_eq!(v["text"], json!({"format": {"type": "text"}}));
        assert_eq!(v["tools"][0]["strict"], false);
        assert_eq!(v["metadata"], json!({"k": "v"}));
        assert_eq!(v["status"], "in_progress");
        assert_eq!(v["output"], json!([]));
        assert_eq!(v["usage"], Value::Null);
    }
}
