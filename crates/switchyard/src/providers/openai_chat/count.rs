//! Input tokens on Chat Completions servers. Most have no counter, so the count is an estimate
//! with a real tokenizer (`o200k_base`, the encoding of OpenAI's current models) over the
//! request as the bridge sends it; vLLM has one, `POST /tokenize`, which applies the model's
//! own chat template (the vLLM documentation of its OpenAI-compatible server).
//!
//! The estimate follows the accounting OpenAI documents for chat messages: every message costs
//! a few tokens of framing besides its role and content, and the reply is primed with a few
//! more. Tools and a response schema are counted as the JSON they are sent as. Images and
//! files get a flat cost: their real cost depends on the model and cannot be read from the
//! request.

use std::sync::OnceLock;

use serde::Serialize;
use switchyard_types::responses::CreateResponse;
use tiktoken_rs::CoreBPE;

use super::flavor::flavor;
use super::request::{ChatTarget, to_chat};
use super::wire::{ChatCompletionsRequest, ChatContent, ChatContentPart, ChatMessage, ChatTool};
use crate::error::{Error, ErrorKind};
use crate::providers::count::count_at;
use crate::providers::{CountCall, UpstreamRequest, join_url, json_body};

/// Framing tokens of one message (role and separators), as OpenAI counts them.
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the reply after the last message.
pub const REPLY_PRIMING: u64 = 3;
/// The flat cost of an image or a file part (OpenAI's cost of a low-detail image).
pub const TOKENS_PER_ATTACHMENT: u64 = 85;

/// The tokenizer, built on first use: it holds the encoding's 200,000 ranks in memory, which a
/// gateway that never estimates should not pay for.
fn tokenizer() -> Option<&'static CoreBPE> {
    static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    O200K
        .get_or_init(|| match tiktoken_rs::o200k_base() {
            Ok(bpe) => Some(bpe),
            Err(error) => {
                tracing::error!(%error, "the o200k_base tokenizer cannot be built; input token estimates fall back to four bytes a token");
                None
            }
        })
        .as_ref()
}

/// The tokens of `text`.
pub fn text_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match tokenizer() {
        Some(bpe) => bpe.count_ordinary(text) as u64,
        None => (text.len() as u64).div_ceil(4),
    }
}

/// The estimated input tokens of a Chat Completions request.
pub fn estimate(body: &ChatCompletionsRequest) -> u64 {
    let messages: u64 = body.messages.iter().map(message_tokens).sum();
    let tools: u64 = body.tools.iter().flatten().map(json_tokens).sum();
    let format = body.response_format.as_ref().map_or(0, json_tokens);
    messages + tools + format + REPLY_PRIMING
}

fn message_tokens(message: &ChatMessage) -> u64 {
    let content = match &message.content {
        None => 0,
        Some(ChatContent::Text(text)) => text_tokens(text),
        Some(ChatContent::Parts(parts)) => parts.iter().map(part_tokens).sum(),
    };
    let calls: u64 = message
        .tool_calls
        .iter()
        .flatten()
        .map(|call| {
            TOKENS_PER_MESSAGE
                + text_tokens(&call.function.name)
                + text_tokens(&call.function.arguments)
        })
        .sum();
    TOKENS_PER_MESSAGE
        + text_tokens(&message.role)
        + content
        + calls
        + message.refusal.as_deref().map_or(0, text_tokens)
        + message.reasoning_content.as_deref().map_or(0, text_tokens)
}

fn part_tokens(part: &ChatContentPart) -> u64 {
    match part {
        ChatContentPart::Text { text } => text_tokens(text),
        ChatContentPart::ImageUrl { .. } | ChatContentPart::File { .. } => TOKENS_PER_ATTACHMENT,
        ChatContentPart::Other(value) => json_tokens(value),
    }
}

fn json_tokens(value: &impl Serialize) -> u64 {
    serde_json::to_string(value).map_or(0, |text| text_tokens(&text))
}

/// The request as the bridge would send it to an OpenAI-compatible server, nothing refused
/// (unsupported parameters dropped): what the estimate of an upstream without a counter is
/// taken over.
pub fn generic_body(request: &CreateResponse) -> Result<ChatCompletionsRequest, Error> {
    let flavor = flavor("openai")
        .ok_or_else(|| Error::new(ErrorKind::Internal, "the openai flavor is missing"))?;
    let target = ChatTarget {
        flavor,
        model: request.model.as_deref().unwrap_or_default(),
        drop_params: true,
        stream: false,
        replay_reasoning: false,
    };
    to_chat(request, &target).map(|(body, _)| body)
}

/// A vLLM `POST /tokenize` body for a chat (`TokenizeChatRequest`).
#[derive(Debug, Serialize)]
pub struct TokenizeChatRequest<'a> {
    /// The served model.
    pub model: &'a str,
    /// The messages, rendered with the model's chat template.
    pub messages: &'a [ChatMessage],
    /// The tools, which the template may render too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<&'a [ChatTool]>,
    /// Count the assistant turn's opening as a completion request would.
    pub add_generation_prompt: bool,
}

/// vLLM's tokenizer endpoint: `/tokenize` at the server root, beside `/v1`.
pub fn tokenize_url(api_base: &str) -> Result<reqwest::Url, String> {
    let base = api_base.trim_end_matches('/');
    let root = base.strip_suffix("/v1").unwrap_or(base);
    join_url(root, "tokenize")
}

/// The `/tokenize` call counting `body` (the request as the bridge sends it to vLLM).
pub fn tokenize_call(
    url: reqwest::Url,
    headers: http::HeaderMap,
    body: &ChatCompletionsRequest,
) -> Result<CountCall, Error> {
    let tokenize = TokenizeChatRequest {
        model: &body.model,
        messages: &body.messages,
        tools: body.tools.as_deref(),
        add_generation_prompt: true,
    };
    Ok(CountCall {
        request: UpstreamRequest {
            url,
            headers,
            body: json_body(&tokenize)?,
        },
        read: |answer| count_at(answer, "/count"),
        fallback: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchyard_types::chat::{ChatFunctionCall, ChatToolCall};

    fn message(role: &str, content: &str) -> ChatMessage {
        serde_json::from_value(json!({"role": role, "content": content})).unwrap()
    }

    #[test]
    fn counts_text_with_the_o200k_encoding() {
        assert_eq!(text_tokens(""), 0);
        assert_eq!(text_tokens("hello world"), 2);
        assert_eq!(text_tokens("Tell me a joke"), 4);
    }

    #[test]
    fn frames_every_message_and_primes_the_reply() {
        let body = ChatCompletionsRequest {
            model: "m".into(),
            messages: vec![
                message("system", "Be brief."),
                message("user", "hello world"),
            ],
            ..ChatCompletionsRequest::default()
        };
        let expected = (TOKENS_PER_MESSAGE + text_tokens("system") + text_tokens("Be brief."))
            + (TOKENS_PER_MESSAGE + text_tokens("user") + 2)
            + REPLY_PRIMING;
        assert_eq!(estimate(&body), expected);
    }

    #[test]
    fn counts_tool_calls_tools_and_attachments() {
        let mut assistant = message("assistant", "");
        assistant.content = None;
        assistant.tool_calls = Some(vec![ChatToolCall {
            id: "call_1".into(),
            kind: "function".into(),
            function: ChatFunctionCall {
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            },
        }]);
        let image: ChatMessage = serde_json::from_value(json!({"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}))
        .unwrap();
        let tool: ChatTool = serde_json::from_value(json!({"type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}}}))
        .unwrap();
        let body = ChatCompletionsRequest {
            model: "m".into(),
            messages: vec![assistant.clone(), image.clone()],
            tools: Some(vec![tool.clone()]),
            ..ChatCompletionsRequest::default()
        };
        let call =
            TOKENS_PER_MESSAGE + text_tokens("get_weather") + text_tokens(r#"{"city":"Paris"}"#);
        let expected = (TOKENS_PER_MESSAGE + text_tokens("assistant") + call)
            + (TOKENS_PER_MESSAGE
                + text_tokens("user")
                + text_tokens("what is this")
                + TOKENS_PER_ATTACHMENT)
            + text_tokens(&serde_json::to_string(&tool).unwrap())
            + REPLY_PRIMING;
        assert_eq!(estimate(&body), expected);
    }

    #[test]
    fn the_generic_body_drops_what_it_cannot_send() {
        let request: CreateResponse = serde_json::from_value(json!({"model": "m",
            "instructions": "Be brief.", "input": "hi", "top_logprobs": 3,
            "tools": [{"type": "web_search"}]}))
        .unwrap();
        let body = generic_body(&request).unwrap();
        assert_eq!(body.messages.len(), 2);
        assert!(body.tools.is_none());
    }

    #[test]
    fn tokenize_lives_at_the_server_root() {
        assert_eq!(
            tokenize_url("http://vllm:8000/v1").unwrap().as_str(),
            "http://vllm:8000/tokenize"
        );
        assert_eq!(
            tokenize_url("http://vllm:8000/").unwrap().as_str(),
            "http://vllm:8000/tokenize"
        );
    }
}
