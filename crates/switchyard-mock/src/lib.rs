//! Faithful, scriptable mock servers of the upstream LLM providers switchyard talks to.
//!
//! One [`MockServer`] serves every protocol, routed by path:
//!
//! | Path | Imitates |
//! |---|---|
//! | `POST …/responses` (`/v1/responses`, `/openai/v1/responses`) | OpenAI Responses, JSON or SSE |
//! | `POST /mistral/v1/chat/completions` | Mistral: whole tool calls without `index`/`type`, usage on the last chunk, 422 `extra_forbidden` for unknown fields, 9-character tool ids |
//! | `POST /deepseek/chat/completions` | DeepSeek: usage on the finish chunk with cache hit/miss counts, `reasoning_content`, no `developer` role, no `json_schema` |
//! | `POST /groq/openai/v1/chat/completions` | Groq: usage in `x_groq.usage` and `usage`, whole tool calls, `delta.reasoning`, unknown properties rejected |
//! | `POST /ollama/v1/chat/completions` | Ollama: `role` on every delta, whole tool calls, `delta.reasoning`, `fp_ollama` |
//! | `POST /vllm/v1/chat/completions` | vLLM: `delta.reasoning`, numeric error codes |
//! | `POST /openrouter/api/v1/chat/completions` | OpenRouter: `: OPENROUTER PROCESSING` comments, usage with `cost` in a final chunk |
//! | `POST /xai/v1/chat/completions` | xAI: `completion_tokens` without reasoning, no `finish_reason` key until the end |
//! | `POST …/chat/completions` (anything else) | OpenAI Chat Completions (`obfuscation`, usage chunk on `include_usage`) |
//! | `POST /model/{id}/converse`, `/model/{id}/converse-stream` | AWS Bedrock Converse: JSON, or a binary `application/vnd.amazon.eventstream` (CRC-checked frames with `p` padding, cut across chunks at odd places); SigV4 (service `bedrock`, fully verified for the `AKIDEXAMPLE` example keys) or bearer auth required, else 403 `x-amzn-ErrorType` exceptions; Bedrock's validation rules (alternating roles, tool ids, thinking blocks before tool use); reasoning whenever `thinking` is enabled; exception frames mid-stream |
//! | `POST …/v1/messages` (`/anthropic/v1/messages`), Vertex `…:rawPredict` / `…:streamRawPredict` | Anthropic Messages: `event:` + `data:` framing with padded JSON and `ping`, thinking with `signature_delta` (signatures checked when sent back), `input_json_delta` pieces, cumulative `message_delta` usage, Anthropic error bodies (529 `overloaded_error`, in-stream `event: error`) |
//! | `POST /v1beta/models/{model}:generateContent` / `:streamGenerateContent` | Gemini API: `x-goog-api-key`, SSE with `\r\n\r\n` (`alt=sse`) or a JSON array, function calls without ids, `thoughtSignature`s (checked when replayed to Gemini 3), cumulative `usageMetadata`, `google.rpc.Status` errors (429 with `RetryInfo`) |
//! | `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:…` | Vertex AI Gemini: as above, with a bearer token from `/token` (401 `UNAUTHENTICATED` otherwise), usage only on the last chunk, `createTime` |
//! | `POST /token` | Google OAuth2 for service accounts: verifies the JWT assertion (RS256 against [`TEST_SERVICE_ACCOUNT_KEY`], issuer, scope, audience, lifetime) and issues an access token |
//! | `GET …/models` | a one-model list |
//! | `POST …/responses/input_tokens`, `…/v1/messages/count_tokens`, Vertex `…/anthropic/models/count-tokens:rawPredict`, `…:countTokens`, `/model/{id}/count-tokens`, `…/tokenize` | the token counters of OpenAI, Anthropic (and on Vertex), Gemini (and Vertex), Bedrock (Anthropic models only) and vLLM: the input count a generation with the same input would report |
//!
//! # Scenario engine
//!
//! Without a scripted reply the answer is computed from the request:
//!
//! 1. if the last input is a tool result: `The tool returned: <output>`;
//! 2. else, if function tools are offered: a tool call (the tool named by `[[mock:call=NAME]]`
//!    or `tool_choice`, else a shell-like tool taking `cmd`/`command` with the command quoted in
//!    backticks or written after "Run the shell command:", else the first tool with its required
//!    arguments filled in);
//! 3. else: `You said: <last user message>`.
//!
//! Directives written anywhere in the last user message change the answer: `[[mock:text]]`,
//! `[[mock:call=NAME]]`, `[[mock:parallel]]`, `[[mock:reasoning]]`, `[[mock:refusal]]`,
//! `[[mock:length]]`, `[[mock:json]]`, `[[mock:usage=IN,OUT,CACHED,REASONING]]`,
//! `[[mock:error=CODE]]` (400, 401, 403, 404, 429, 500, 503, 529, `context`), `[[mock:slow=MS]]`,
//! and for streams `[[mock:midstream-error]]`, `[[mock:stall=MS]]`, `[[mock:drop]]`,
//! `[[mock:malformed]]`. Token usage counts words: input tokens are the words of the input,
//! output tokens the words of the answer (plus reasoning).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() {
//! use switchyard_mock::{MockServer, Reply};
//!
//! let mock = MockServer::start().await;
//! mock.enqueue("/responses", Reply::responses_text("scripted"));
//! // Point the gateway (or any OpenAI client) at `mock.url()` + "/v1".
//! assert_eq!(mock.requests().len(), 0);
//! # }
//! ```

mod anthropic;
mod bedrock;
mod body;
mod chat;
mod directive;
mod engine;
mod errors;
mod gemini;
mod ids;
mod oauth;
mod plan;
mod ratelimit;
mod record;
mod reply;
mod responses;
mod schema;
mod server;
mod split;
mod sse;
mod state;
mod turn;

pub use oauth::{
    ENTRA_INVALID_SECRET, TEST_CLIENT_EMAIL, TEST_PROJECT, TEST_SERVICE_ACCOUNT_KEY,
    UNTRUSTED_SERVICE_ACCOUNT_KEY, service_account_json,
};
pub use record::RecordedRequest;
pub use reply::Reply;
pub use server::MockServer;
