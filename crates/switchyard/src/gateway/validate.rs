//! Checks a request before it is routed, with OpenAI's parameter names and ranges, so that a bad
//! request gets a 400 naming its `param` whatever the provider.

use switchyard_types::responses::{
    CreateResponse, Input, Item, MessageContent, ToolOutput, check_part, metadata_problem,
};

use crate::error::Error;

/// The longest model name a request may send (real names are under 100 characters; the
/// limit keeps client text out of logs, rows and errors at a bounded size).
pub const MAX_MODEL_NAME: usize = 256;

/// Validates `request`; returns the model group it names.
pub fn validate(request: &CreateResponse) -> Result<&str, Error> {
    let model = request
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            Error::invalid_request("Missing required parameter: 'model'.", Some("model"))
                .with_code("missing_required_parameter")
        })?;
    if model.chars().count() > MAX_MODEL_NAME {
        return Err(invalid(
            format!(
                "Invalid 'model': a model name is at most {MAX_MODEL_NAME} characters, got {}.",
                model.chars().count()
            ),
            "model",
        )
        .with_code("invalid_model"));
    }
    if request.input.is_none()
        && request.previous_response_id.is_none()
        && request.conversation.is_none()
        && request.prompt.is_none()
    {
        return Err(
            Error::invalid_request("Missing required parameter: 'input'.", Some("input"))
                .with_code("missing_required_parameter"),
        );
    }
    if let Some(Input::Items(items)) = &request.input {
        for (i, item) in items.iter().enumerate() {
            check_item(item, i)?;
        }
    }
    if let Some(tools) = &request.tools {
        for (i, tool) in tools.iter().enumerate() {
            tool.check().map_err(|e| {
                invalid(
                    format!("Invalid 'tools[{i}]': {e}."),
                    &format!("tools[{i}]"),
                )
            })?;
        }
    }
    range(request.temperature, 0.0, 2.0, "temperature")?;
    range(request.top_p, 0.0, 1.0, "top_p")?;
    range(request.presence_penalty, -2.0, 2.0, "presence_penalty")?;
    range(request.frequency_penalty, -2.0, 2.0, "frequency_penalty")?;
    if request.max_output_tokens == Some(0) {
        return Err(invalid(
            "Invalid 'max_output_tokens': must be at least 1.".into(),
            "max_output_tokens",
        ));
    }
    if request.top_logprobs.is_some_and(|n| n > 20) {
        return Err(invalid(
            "Invalid 'top_logprobs': must be between 0 and 20.".into(),
            "top_logprobs",
        ));
    }
    if let Some(metadata) = &request.metadata
        && let Some(problem) = metadata_problem(metadata)
    {
        return Err(invalid(
            format!("Invalid 'metadata': {problem}."),
            "metadata",
        ));
    }
    Ok(model)
}

fn check_item(item: &Item, i: usize) -> Result<(), Error> {
    let at = format!("input[{i}]");
    item.check()
        .map_err(|e| invalid(format!("Invalid '{at}': {e}."), &at))?;
    let parts = match item {
        Item::Message(m) => match &m.content {
            MessageContent::Parts(parts) => parts.as_slice(),
            MessageContent::Text(_) => &[],
        },
        Item::FunctionCallOutput(o) => match &o.output {
            ToolOutput::Parts(parts) => parts.as_slice(),
            ToolOutput::Text(_) => &[],
        },
        _ => &[],
    };
    for (j, part) in parts.iter().enumerate() {
        check_part(part).map_err(|e| {
            invalid(
                format!("Invalid '{at}.content[{j}]': {e}."),
                &format!("{at}.content[{j}]"),
            )
        })?;
    }
    Ok(())
}

fn range(value: Option<f64>, min: f64, max: f64, param: &str) -> Result<(), Error> {
    match value {
        Some(v) if !(min..=max).contains(&v) || v.is_nan() => Err(invalid(
            format!("Invalid '{param}': expected a value between {min} and {max}, got {v}."),
            param,
        )),
        _ => Ok(()),
    }
}

fn invalid(message: String, param: &str) -> Error {
    Error::invalid_request(message, Some(param)).with_code("invalid_value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: serde_json::Value) -> Result<(), Error> {
        let request: CreateResponse = serde_json::from_value(value).unwrap();
        validate(&request).map(|_| ())
    }

    #[test]
    fn accepts_what_real_clients_send() {
        check(json!({"model": "m", "input": "hi"})).unwrap();
        check(json!({"model": "m", "input": [
            {"role": "user", "content": "hi"},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "x"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e", "content": null},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "r"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"}
        ], "reasoning": null, "temperature": null}))
        .unwrap();
    }

    #[test]
    fn names_the_parameter_at_fault() {
        for (body, param) in [
            (json!({"input": "hi"}), "model"),
            (json!({"model": "  ", "input": "hi"}), "model"),
            (json!({"model": "m"}), "input"),
            (
                json!({"model": "m", "input": "hi", "temperature": 3}),
                "temperature",
            ),
            (json!({"model": "m", "input": "hi", "top_p": -1}), "top_p"),
            (
                json!({"model": "m", "input": "hi", "max_output_tokens": 0}),
                "max_output_tokens",
            ),
            (
                json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}),
                "input[0]",
            ),
            (json!({"model": "m", "input": [{"foo": 1}]}), "input[0]"),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}),
                "input[0].content[0]",
            ),
            (
                json!({"model": "m", "input": "hi", "tools": [{"type": "function"}]}),
                "tools[0]",
            ),
            (
                json!({"model": "m", "input": "hi", "metadata": {"a": 1}}),
                "metadata",
            ),
        ] {
            let err = check(body.clone()).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{body}: {}", err.message);
            assert_eq!(err.status(), 400);
        }
    }
}
