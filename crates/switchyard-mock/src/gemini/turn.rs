//! Reads a `generateContent` body into a [`Turn`], with the checks Google makes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::Value;

use super::render::SIGNATURE_PREFIX;
use super::{Route, Service};
use crate::turn::{Choice, JsonFormat, ToolSpec, Turn};

/// The signature Google documents for history without one.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

const KNOWN_FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
    "generationConfig",
    "generation_config",
    "safetySettings",
    "safety_settings",
    "cachedContent",
    "cached_content",
    "labels",
];

/// A turn plus the Gemini-specific switches.
#[derive(Debug, Clone, Default)]
pub(crate) struct GeminiTurn {
    pub turn: Turn,
    /// `thinkingConfig.includeThoughts`.
    pub include_thoughts: bool,
    /// The model is a Gemini 3 model (signatures everywhere, and checked on replay).
    pub gemini3: bool,
}

/// A field in camelCase or snake_case (Google accepts both).
fn field<'a>(value: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    value.get(camel).or_else(|| value.get(snake))
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

pub(crate) fn read(route: &Route, body: &Value) -> Result<GeminiTurn, String> {
    let Some(map) = body.as_object() else {
        return Err("Invalid JSON payload received. Expected an object.".into());
    };
    if let Some(unknown) = map.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        ));
    }
    let contents = map
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified\n")?;
    let gemini3 = route.model.contains("gemini-3");
    let mut out = GeminiTurn {
        gemini3,
        turn: Turn {
            parallel_tool_calls: true,
            ..Turn::default()
        },
        ..GeminiTurn::default()
    };
    let turn = &mut out.turn;
    if let Some(system) = field(body, "systemInstruction", "system_instruction") {
        for part in system
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            turn.input_words += part.get("text").and_then(Value::as_str).map_or(0, words);
        }
    }
    for (i, content) in contents.iter().enumerate() {
        let role = content
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(format!(
                "Please use a valid role: user, model. (contents[{i}].role = \"{role}\")"
            ));
        }
        let parts = content
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                format!("* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
            })?;
        let mut texts = Vec::new();
        let mut first_call = true;
        for (j, part) in parts.iter().enumerate() {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                if text.is_empty() && route.service == Service::Vertex {
                    return Err("Unable to submit request because it has an empty text parameter. \
                                Add a value to the parameter and try again. Learn more: \
                                https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/gemini"
                        .into());
                }
                turn.input_words += words(text);
                if part.get("thought").and_then(Value::as_bool) != Some(true) {
                    texts.push(text);
                }
            }
            let signature =
                field(part, "thoughtSignature", "thought_signature").and_then(Value::as_str);
            if let Some(signature) = signature {
                check_signature(signature).map_err(|e| format!("contents[{i}].parts[{j}]: {e}"))?;
            }
            if let Some(call) = field(part, "functionCall", "function_call") {
                turn.input_words += call.get("args").map_or(0, |a| words(&a.to_string()));
                if role == "model" && first_call && gemini3 && signature.is_none() {
                    let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
                    return Err(format!(
                        "Function call is missing a thought_signature in functionCall parts. This \
                         is required for tools to work correctly, and missing thought_signature \
                         may lead to degraded model performance. Additional data, function call \
                         `default_api:{name}` , position {}. Please refer to \
                         https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                        i + 1
                    ));
                }
                first_call = false;
            }
            if let Some(response) = field(part, "functionResponse", "function_response") {
                let Some(result) = response.get("response").filter(|r| r.is_object()) else {
                    return Err(format!(
                        "Invalid value at 'contents[{i}].parts[{j}].function_response.response' \
                         (type.googleapis.com/google.protobuf.Struct): expected an object"
                    ));
                };
                if response
                    .get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(format!(
                        "* GenerateContentRequest.contents[{i}].parts[{j}].function_response.name: \
                         Name cannot be empty.\n"
                    ));
                }
                let text = match result.get("result") {
                    Some(Value::String(s)) if result.as_object().is_some_and(|m| m.len() == 1) => {
                        s.clone()
                    }
                    _ => result.to_string(),
                };
                turn.input_words += words(&text);
                turn.tool_result = (i == contents.len() - 1).then_some(text);
            }
        }
        if role == "user" && !texts.is_empty() {
            turn.user_text = texts.join("\n");
        }
    }
    for tool in map
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let declarations =
            field(tool, "functionDeclarations", "function_declarations").and_then(Value::as_array);
        for declaration in declarations.into_iter().flatten() {
            let name = declaration
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let parameters = field(
                declaration,
                "parametersJsonSchema",
                "parameters_json_schema",
            )
            .or_else(|| declaration.get("parameters"))
            .cloned();
            turn.tools.push(ToolSpec {
                name: name.to_string(),
                parameters,
            });
        }
    }
    if let Some(calling) = field(body, "toolConfig", "tool_config")
        .and_then(|c| field(c, "functionCallingConfig", "function_calling_config"))
    {
        let allowed: Vec<&str> = field(calling, "allowedFunctionNames", "allowed_function_names")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        turn.choice = match calling.get("mode").and_then(Value::as_str) {
            Some("NONE") => Choice::None,
            Some("ANY") if allowed.len() == 1 => Choice::Named(allowed[0].to_string()),
            _ => Choice::Auto,
        };
    }
    if let Some(config) = field(body, "generationConfig", "generation_config") {
        turn.max_output_tokens =
            field(config, "maxOutputTokens", "max_output_tokens").and_then(Value::as_u64);
        let mime = field(config, "responseMimeType", "response_mime_type").and_then(Value::as_str);
        if mime == Some("application/json") {
            let schema = field(config, "responseJsonSchema", "response_json_schema")
                .or_else(|| field(config, "responseSchema", "response_schema"));
            turn.json = Some(match schema {
                Some(schema) => JsonFormat::Schema(schema.clone()),
                None => JsonFormat::Object,
            });
        }
        out.include_thoughts = field(config, "thinkingConfig", "thinking_config")
            .and_then(|t| field(t, "includeThoughts", "include_thoughts"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    }
    out.turn.input_words = out.turn.input_words.max(1);
    Ok(out)
}

/// A replayed signature must be one the mock minted (base64 in either alphabet) or Google's
/// documented escape value.
fn check_signature(signature: &str) -> Result<(), String> {
    if signature == SKIP_SIGNATURE {
        return Ok(());
    }
    let bytes = STANDARD
        .decode(signature)
        .or_else(|_| URL_SAFE.decode(signature))
        .map_err(|_| "Base64 decoding failed for the thought signature".to_string())?;
    if bytes.starts_with(SIGNATURE_PREFIX) {
        Ok(())
    } else {
        Err("Corrupted thought signature.".into())
    }
}
