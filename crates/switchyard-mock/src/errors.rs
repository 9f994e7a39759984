//! HTTP error replies in each provider's own envelope: OpenAI's `{"error": {message, type, param,
//! code}}` and each vendor's variant of it.

use serde_json::json;

use crate::ids;
use crate::reply::Reply;

/// Whose error envelope to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// OpenAI Chat Completions (also xAI): `{"error":{message,type,param,code}}`.
    OpenAi,
    /// OpenAI Responses: the same envelope, with Responses wording.
    Responses,
    /// Mistral: flat `{"object":"error",message,type,param,code}`.
    Mistral,
    /// vLLM: nested, with the HTTP status as a numeric `code`.
    Vllm,
    /// OpenRouter: nested with a numeric `code` and `metadata`, plus `user_id`.
    OpenRouter,
    /// DeepSeek: OpenAI-style with its own wording.
    DeepSeek,
    /// Groq: OpenAI-style without `param`.
    Groq,
    /// Ollama: OpenAI-style with `not_found_error` / `api_error` types.
    Ollama,
    /// Azure OpenAI: `{"error":{code,message}}` with the status as a string `code` and no
    /// `type` for service errors (429, 5xx, 401), OpenAI's envelope for request errors.
    Azure,
}

/// One error in OpenAI's terms, before it is dressed in a dialect.
struct Spec {
    status: u16,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<&'static str>,
    message: String,
}

/// The reply for `[[mock:error=CODE]]`. Unknown numeric codes give a generic error with that
/// status; anything else a 400 naming the bad directive, so typos are visible.
pub(crate) fn directive_error(dialect: Dialect, code: &str, model: &str) -> Reply {
    let spec = match spec_for(dialect, code, model) {
        Some(spec) => spec,
        None => Spec {
            status: 400,
            kind: "invalid_request_error",
            code: None,
            param: None,
            message: format!("switchyard-mock: unknown error directive `{code}`"),
        },
    };
    let rate_limited = spec.status == 429;
    let reply = render(dialect, spec);
    if rate_limited {
        reply
            .with_header("retry-after", "1")
            .with_header("retry-after-ms", "1000")
    } else {
        reply
    }
}

fn spec_for(dialect: Dialect, code: &str, model: &str) -> Option<Spec> {
    let spec = |status, kind, code, param, message: String| Spec {
        status,
        kind,
        code,
        param,
        message,
    };
    Some(match code {
        "400" => spec(
            400,
            "invalid_request_error",
            Some("decimal_above_max_value"),
            Some("temperature"),
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 \
             instead."
                .into(),
        ),
        "401" => spec(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            None,
            "Incorrect API key provided: sk-mock*****************1234. You can find your API key \
             at https://platform.openai.com/account/api-keys."
                .into(),
        ),
        "403" => spec(
            403,
            "request_forbidden",
            Some("unsupported_country_region_territory"),
            None,
            "Country, region, or territory not supported".into(),
        ),
        "404" if dialect == Dialect::Ollama => spec(
            404,
            "not_found_error",
            None,
            None,
            format!("model \"{model}\" not found, try pulling it first"),
        ),
        "404" => spec(
            404,
            "invalid_request_error",
            Some("model_not_found"),
            None,
            format!("The model `{model}` does not exist or you do not have access to it."),
        ),
        "429" => spec(
            429,
            "tokens",
            Some("rate_limit_exceeded"),
            None,
            format!(
                "Rate limit reached for {model} in organization org-mock on tokens per min \
                 (TPM): Limit 30000, Used 30000, Requested 100. Please try again in 1s. Visit \
                 https://platform.openai.com/account/rate-limits to learn more."
            ),
        ),
        "500" => spec(
            500,
            "server_error",
            None,
            None,
            "The server had an error while processing your request. Sorry about that!".into(),
        ),
        "503" => spec(
            503,
            "server_error",
            Some("server_is_overloaded"),
            None,
            "The server is overloaded or not ready yet.".into(),
        ),
        "529" => spec(529, "overloaded_error", None, None, "Overloaded".into()),
        "context" => context_spec(dialect),
        other => {
            let status: u16 = other.parse().ok().filter(|s| (400..600).contains(s))?;
            let kind = if status >= 500 {
                "server_error"
            } else {
                "invalid_request_error"
            };
            spec(
                status,
                kind,
                None,
                None,
                format!("switchyard-mock: HTTP {status}"),
            )
        }
    })
}

fn context_spec(dialect: Dialect) -> Spec {
    let (param, message) = match dialect {
        Dialect::Responses => (
            "input",
            "Your input exceeds the context window of this model. Please adjust your input and \
             try again.",
        ),
        Dialect::DeepSeek => (
            "messages",
            "This model's maximum context length is 131072 tokens. However, you requested 204308 \
             tokens (204308 in the messages, 0 in the completion). Please reduce the length of \
             the messages or completion.",
        ),
        Dialect::Vllm => (
            "messages",
            "This model's maximum context length is 32768 tokens. However, you requested 204308 \
             tokens (204208 in the messages, 100 in the completion). Please reduce the length of \
             the messages or completion.",
        ),
        Dialect::Mistral => (
            "messages",
            "Prompt contains 204308 tokens and 0 draft tokens, too large for model with 131072 \
             maximum context length",
        ),
        _ => (
            "messages",
            "This model's maximum context length is 128000 tokens. However, your messages \
             resulted in 204308 tokens. Please reduce the length of the messages.",
        ),
    };
    Spec {
        status: 400,
        kind: "invalid_request_error",
        code: Some(match dialect {
            Dialect::DeepSeek => "invalid_request_error",
            _ => "context_length_exceeded",
        }),
        param: Some(param),
        message: message.into(),
    }
}

fn render(dialect: Dialect, spec: Spec) -> Reply {
    let Spec {
        status,
        kind,
        code,
        param,
        message,
    } = spec;
    let body = match dialect {
        Dialect::OpenAi | Dialect::Responses | Dialect::DeepSeek => json!({"error": {
            "message": message, "type": kind, "param": param, "code": code}}),
        Dialect::Groq => json!({"error": {"message": message, "type": kind, "code": code}}),
        Dialect::Azure if status == 429 || status == 401 || status >= 500 => {
            json!({"error": {"code": status.to_string(), "message": message}})
        }
        Dialect::Azure => json!({"error": {"message": message, "type": kind, "param": param,
            "code": code, "status": status}}),
        Dialect::Ollama => {
            let kind = match status {
                404 => "not_found_error",
                s if s >= 500 => "api_error",
                _ => "invalid_request_error",
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        }
        Dialect::Mistral => json!({"object": "error", "message": message,
            "type": mistral_type(status), "param": null, "code": null}),
        Dialect::Vllm => json!({"error": {"message": message, "type": vllm_type(status),
            "param": null, "code": status}}),
        Dialect::OpenRouter => {
            let mut error = json!({"code": status, "message": message});
            if status == 429 || status >= 500 {
                error = json!({"code": status, "message": "Provider returned error",
                    "metadata": {"provider_name": "Mock", "raw": message}});
            }
            json!({"error": error, "user_id": "user_mock"})
        }
    };
    Reply::error(status, body)
}

fn mistral_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_message_error",
        401 => "invalid_api_key",
        429 => "rate_limited",
        s if s >= 500 => "internal_server_error",
        _ => "invalid_request_error",
    }
}

fn vllm_type(status: u16) -> &'static str {
    match status {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        429 => "RateLimitError",
        503 => "ServiceUnavailableError",
        _ => "InternalServerError",
    }
}

/// An OpenAI-envelope error.
pub(crate) fn openai(
    status: u16,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Reply {
    Reply::error(
        status,
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}}),
    )
}

/// OpenAI's answer to a body that is not JSON.
pub(crate) fn unparsable_body() -> Reply {
    openai(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
         using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was \
         sent was not valid JSON. If you have trouble figuring out how to fix this, please \
         contact us through our help center at help.openai.com.)",
        "invalid_request_error",
        None,
        None,
    )
}

/// OpenAI's answer to a missing required parameter.
pub(crate) fn missing_parameter(name: &str) -> Reply {
    openai(
        400,
        &format!("Missing required parameter: '{name}'."),
        "invalid_request_error",
        Some(name),
        Some("missing_required_parameter"),
    )
}

/// OpenAI's answer to an unknown path or method.
pub(crate) fn invalid_url(method: &str, path: &str) -> Reply {
    openai(
        404,
        &format!("Invalid URL ({method} {path})"),
        "invalid_request_error",
        None,
        None,
    )
}

/// Headers every engine reply carries.
pub(crate) fn request_id_header() -> (String, String) {
    ("x-request-id".into(), ids::request_id())
}

/// The `[[mock:midstream-error]]` message, as OpenAI words a server error.
pub(crate) const MIDSTREAM_MESSAGE: &str = "An error occurred while processing your request. You \
     can retry your request, or contact us through our help center at help.openai.com if the \
     error persists.";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parts(reply: Reply) -> (u16, Vec<(String, String)>, Value) {
        match reply {
            Reply::Json {
                status,
                headers,
                body,
            } => (status, headers, body),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn openai_rate_limit_has_retry_headers() {
        let (status, headers, body) = parts(directive_error(Dialect::OpenAi, "429", "gpt-x"));
        assert_eq!(status, 429);
        assert!(headers.contains(&("retry-after".into(), "1".into())));
        assert!(headers.contains(&("retry-after-ms".into(), "1000".into())));
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Please try again in 1s")
        );
    }

    #[test]
    fn dialects() {
        let (_, _, body) = parts(directive_error(Dialect::Mistral, "401", "m"));
        assert_eq!(body["object"], "error");
        let (_, _, body) = parts(directive_error(Dialect::Vllm, "context", "m"));
        assert_eq!(body["error"]["code"], 400);
        let (status, _, body) = parts(directive_error(Dialect::OpenAi, "context", "m"));
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "context_length_exceeded");
        let (status, _, _) = parts(directive_error(Dialect::OpenAi, "418", "m"));
        assert_eq!(status, 418);
        let (status, _, body) = parts(directive_error(Dialect::OpenAi, "teapot", "m"));
        assert_eq!(status, 400);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("teapot")
        );
    }
}
