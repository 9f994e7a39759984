//! Google Gemini `generateContent` upstreams: the Gemini API
//! (`/v1beta/models/{model}:…`, `x-goog-api-key`) and Vertex AI
//! (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:…`, a bearer token from
//! the mock's `/token`).
//!
//! Faithful in what breaks naive clients: SSE events separated by `\r\n\r\n` (one terminator
//! split across two writes), a JSON array when `alt=sse` is missing, function calls without
//! ids, `thoughtSignature` on the first function call (and on a trailing empty text part for
//! Gemini 3), cumulative `usageMetadata` on every Gemini API chunk but only on the last Vertex
//! chunk, `google.rpc.Status` errors (429 with `RetryInfo`), and the request checks the real
//! services make: unknown fields, roles, `functionResponse.response` objects, empty text parts
//! (Vertex) and missing or forged thought signatures on replayed calls (Gemini 3).

mod render;
mod turn;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::directive::Directives;
use crate::engine::Planned;
use crate::plan::Plan;
use crate::reply::Reply;
use crate::state::{Shared, lock};

/// Which Google service a route imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    GeminiApi,
    Vertex,
}

/// A parsed `…/models/{model}:{method}` route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub service: Service,
    pub model: String,
    pub stream: bool,
    /// `:countTokens` rather than a generation.
    pub count: bool,
}

impl Route {
    /// Recognises a Gemini API or Vertex (publisher `google`) route.
    pub(crate) fn parse(path: &str) -> Option<Route> {
        let (before, method) = path.rsplit_once(':')?;
        let (stream, count) = match method {
            "generateContent" => (false, false),
            "streamGenerateContent" => (true, false),
            "countTokens" => (false, true),
            _ => return None,
        };
        let (prefix, model) = before.rsplit_once("/models/")?;
        let service = if prefix.contains("/projects/") && prefix.ends_with("/publishers/google") {
            Service::Vertex
        } else if prefix.ends_with("/v1beta") || prefix.ends_with("/v1") {
            Service::GeminiApi
        } else {
            return None;
        };
        Some(Route {
            service,
            model: model.to_string(),
            stream,
            count,
        })
    }
}

/// A `google.rpc.Status` error reply.
pub(crate) fn status_error(code: u16, status: &str, message: &str, details: Value) -> Reply {
    let mut error = json!({"code": code, "message": message, "status": status});
    if details.as_array().is_some_and(|d| !d.is_empty()) {
        error["details"] = details;
    }
    Reply::error(code, json!({ "error": error }))
}

fn invalid_argument(message: &str) -> Reply {
    status_error(400, "INVALID_ARGUMENT", message, json!([]))
}

/// Answers a Gemini or Vertex request.
pub(crate) fn handle(
    route: &Route,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Value,
    shared: &Shared,
) -> Planned {
    if let Some(rejection) = authenticate(route, query, headers, shared) {
        return rejection.into();
    }
    if route.count {
        return count_tokens(route, body);
    }
    let turn = match turn::read(route, body) {
        Ok(turn) => turn,
        Err(message) => return invalid_argument(&message).into(),
    };
    let directives = Directives::parse(&turn.turn.user_text);
    let delay = directives.slow.unwrap_or_default();
    if let Some(code) = &directives.error {
        return Planned {
            delay,
            reply: directive_error(route, code),
        };
    }
    let plan = Plan::decide(&turn.turn, &directives);
    let sse = query.is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
    let reply = render::reply(route, &turn, &plan, sse);
    Planned { delay, reply }
}

/// The top-level fields of a Vertex AI `countTokens` body.
const VERTEX_COUNT_FIELDS: &[&str] = &[
    "model",
    "instances",
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "generationConfig",
    "generation_config",
];

/// Answers `:countTokens`: the input tokens a generation with this prompt would report (the
/// mock counts words). The Gemini API takes `contents` or a whole `generateContentRequest`
/// (naming its model); Vertex AI takes the prompt's fields at the top level.
fn count_tokens(route: &Route, body: &Value) -> Planned {
    let Some(fields) = body.as_object() else {
        return invalid_argument("Invalid JSON payload received. Expected an object.").into();
    };
    let unknown = |allowed: &[&str]| {
        fields
            .keys()
            .find(|k| !allowed.contains(&k.as_str()))
            .map(|k| {
                invalid_argument(&format!(
                    "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
                ))
            })
    };
    let mut prompt = match route.service {
        Service::GeminiApi => {
            let allowed = [
                "contents",
                "generateContentRequest",
                "generate_content_request",
            ];
            if let Some(rejection) = unknown(&allowed) {
                return rejection.into();
            }
            match fields
                .get("generateContentRequest")
                .or_else(|| fields.get("generate_content_request"))
            {
                Some(request) => {
                    let expected = format!("models/{}", route.model);
                    if request.get("model").and_then(Value::as_str) != Some(expected.as_str()) {
                        return invalid_argument(
                            "* GenerateContentRequest.model: unexpected model name format\n",
                        )
                        .into();
                    }
                    request.clone()
                }
                None => json!({"contents": fields.get("contents").cloned().unwrap_or(Value::Null)}),
            }
        }
        Service::Vertex => {
            if let Some(rejection) = unknown(VERTEX_COUNT_FIELDS) {
                return rejection.into();
            }
            body.clone()
        }
    };
    if let Some(map) = prompt.as_object_mut() {
        map.remove("model");
        map.remove("instances");
    }
    let turn = match turn::read(route, &prompt) {
        Ok(turn) => turn.turn,
        Err(message) => return invalid_argument(&message).into(),
    };
    let directives = Directives::parse(&turn.user_text);
    if let Some(code) = &directives.error {
        return directive_error(route, code).into();
    }
    let tokens = turn.input_words.max(1);
    Reply::json(json!({
        "totalTokens": tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
    }))
    .into()
}

fn authenticate(
    route: &Route,
    query: Option<&str>,
    headers: &HeaderMap,
    shared: &Shared,
) -> Option<Reply> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match route.service {
        Service::GeminiApi => {
            let in_query = query.is_some_and(|q| q.split('&').any(|p| p.starts_with("key=")));
            if header("x-goog-api-key").is_some_and(|k| !k.is_empty()) || in_query {
                None
            } else {
                Some(status_error(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established \
                     identity). Please use API Key or other form of API consumer identity to \
                     call this API.",
                    json!([]),
                ))
            }
        }
        Service::Vertex => vertex_auth(header("authorization"), shared),
    }
}

/// Vertex's check of an `Authorization` header: a bearer token `/token` issued, else 401
/// `UNAUTHENTICATED` (every Vertex publisher, Anthropic's `rawPredict` included).
pub(crate) fn vertex_auth(authorization: Option<&str>, shared: &Shared) -> Option<Reply> {
    let token = authorization.and_then(|v| v.strip_prefix("Bearer "));
    if token.is_some_and(|t| lock(&shared.issued_tokens).contains(t)) {
        None
    } else {
        Some(unauthenticated())
    }
}

fn unauthenticated() -> Reply {
    status_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
         cookie or other valid authentication credential. See \
         https://developers.google.com/identity/sign-in/web/devconsole-project.",
        json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "domain": "googleapis.com"}]),
    )
}

/// The reply for `[[mock:error=CODE]]`, in Google's words.
fn directive_error(route: &Route, code: &str) -> Reply {
    let vertex = route.service == Service::Vertex;
    match code {
        "400" => invalid_argument(
            "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"3\": must be at \
             most 2.0",
        ),
        "401" if vertex => unauthenticated(),
        "401" => status_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]),
        ),
        "403" => status_error(
            403,
            "PERMISSION_DENIED",
            "Permission denied on resource project mock-project.",
            json!([]),
        ),
        "404" if vertex => status_error(
            404,
            "NOT_FOUND",
            &format!(
                "Publisher Model `projects/mock-project/locations/us-central1/publishers/google/models/{}` \
                 was not found or your project does not have access to it.",
                route.model
            ),
            json!([]),
        ),
        "404" => status_error(
            404,
            "NOT_FOUND",
            &format!(
                "models/{} is not found for API version v1beta, or is not supported for \
                 generateContent. Call ListModels to see the list of available models and their \
                 supported methods.",
                route.model
            ),
            json!([]),
        ),
        "429" if vertex => status_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource exhausted. Please try again later. Please refer to \
             https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
            json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]),
        ),
        "429" => status_error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
            ]),
        ),
        "500" => status_error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
            json!([]),
        ),
        "503" => status_error(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
            json!([]),
        ),
        "context" => invalid_argument(
            "The input token count (1200293) exceeds the maximum number of tokens allowed \
             (1048576).",
        ),
        other => match other.parse::<u16>().ok().filter(|s| (400..600).contains(s)) {
            Some(status) => status_error(
                status,
                if status >= 500 {
                    "UNKNOWN"
                } else {
                    "FAILED_PRECONDITION"
                },
                &format!("switchyard-mock: HTTP {status}"),
                json!([]),
            ),
            None => invalid_argument(&format!(
                "switchyard-mock: unknown error directive `{other}`"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = Route::parse("/v1beta/models/gemini-2.5-flash:streamGenerateContent").unwrap();
        assert_eq!(r.service, Service::GeminiApi);
        assert_eq!(r.model, "gemini-2.5-flash");
        assert!(r.stream);
        let r = Route::parse(
            "/v1/projects/p/locations/global/publishers/google/models/gemini-3-pro-preview:generateContent",
        )
        .unwrap();
        assert_eq!(r.service, Service::Vertex);
        assert!(!r.stream);
        assert!(Route::parse("/v1/chat/completions").is_none());
        let r = Route::parse("/v1beta/models/gemini-2.5-flash:countTokens").unwrap();
        assert!(r.count && !r.stream);
        assert!(
            Route::parse("/v1/projects/p/locations/l/publishers/anthropic/models/c:rawPredict")
                .is_none()
        );
    }
}
