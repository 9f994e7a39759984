//! Native Responses API pass-through: `POST {api_base}/responses`.
//!
//! The request is forwarded with every field the client sent, unknown ones included, except the
//! gateway's own (`fallbacks`, `mock_testing_*`, …). Streamed events are relayed one by one
//! through the [`ResponseBuilder`](crate::stream::ResponseBuilder), which renumbers them, owns
//! the response id where the upstream's is unfit for clients, and closes the stream properly if
//! the upstream breaks off.
//!
//! Reference: <https://platform.openai.com/docs/api-reference/responses>.

use http::HeaderMap;
use switchyard_types::responses::{CreateResponse, Input, Item, Response, ResponseStreamEvent};

use super::count::count_at;
use super::opaque;
use super::{
    BoxFuture, CallInfo, CountCall, Credential, Decoder, InputTokens, PreparedCall, Provider,
    ProviderOptions, Upstream, UpstreamRequest, classify_openai_error, join_url, json_body,
    openai_style_headers,
};
use crate::error::{Error, ErrorKind};
use crate::secret::{Secret, redact};
use crate::sse::{SseDecoder, SseFrame};

/// Request fields that configure the gateway and must not reach the upstream.
pub const GATEWAY_FIELDS: &[&str] = &[
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "max_fallbacks",
    "timeout",
    "stream_timeout",
    "mock_response",
    "mock_testing_fallbacks",
    "mock_testing_content_policy_fallbacks",
    "mock_testing_context_window_fallbacks",
    "litellm_metadata",
    "drop_params",
    "allowed_openai_params",
    "api_key",
    "api_base",
    "api_version",
    "litellm_trace_id",
    "tags",
];

/// The fields `POST /responses/input_tokens` takes (the OpenAI API reference, "Get input token
/// counts"); it refuses the rest of a create's (`stream`, `max_output_tokens`, sampling…).
pub const INPUT_TOKENS_FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "previous_response_id",
    "conversation",
    "text",
    "reasoning",
    "truncation",
];

/// A deployment that speaks the Responses API.
#[derive(Debug)]
pub struct ResponsesProvider {
    name: String,
    model: String,
    api_base: String,
    url: reqwest::Url,
    credential: Credential,
    organization: Option<String>,
    options: ProviderOptions,
}

impl ResponsesProvider {
    /// A pass-through deployment of `name` (the provider prefix) at `api_base`; fails when
    /// `api_base` is not a URL.
    pub fn new(
        name: &str,
        model: impl Into<String>,
        api_base: String,
        api_key: Option<Secret>,
        organization: Option<String>,
        options: ProviderOptions,
    ) -> Result<Self, String> {
        Ok(ResponsesProvider {
            name: name.to_string(),
            model: model.into(),
            url: join_url(&api_base, "responses")?,
            api_base,
            credential: Credential::bearer(api_key),
            organization,
            options,
        })
    }

    /// Sends to `url` instead of `{api_base}/responses` (Azure's URL forms).
    pub fn with_url(mut self, url: reqwest::Url) -> Self {
        self.url = url;
        self
    }

    /// Authenticates with `credential` instead of a bearer key.
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = credential;
        self
    }

    /// The request as the upstream gets it: the deployment's defaults and model, the
    /// gateway's own fields and state left out.
    /// A request to one of the Responses API's sub-routes (`/responses/<segment>`): the body a
    /// create would send, keeping only the fields that route accepts.
    fn sub_request(
        &self,
        request: &CreateResponse,
        fields: &[&str],
        segment: &str,
    ) -> Result<UpstreamRequest, Error> {
        let outgoing = serde_json::to_value(self.outgoing(request, false)).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("could not encode the request: {e}"),
            )
        })?;
        let mut body = serde_json::Map::new();
        if let serde_json::Value::Object(all) = outgoing {
            body.extend(
                all.into_iter()
                    .filter(|(name, _)| fields.contains(&name.as_str())),
            );
        }
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::new(ErrorKind::Internal, "the Responses URL takes no path"))?
            .push(segment);
        let headers = openai_style_headers(
            &self.credential,
            self.organization.as_deref(),
            false,
            &self.options,
        );
        Ok(UpstreamRequest {
            url,
            headers,
            body: json_body(&body)?,
        })
    }

    fn outgoing(&self, request: &CreateResponse, stream: bool) -> CreateResponse {
        let mut outgoing = request.clone();
        self.options.defaults.apply(&mut outgoing);
        outgoing.model = Some(self.model.clone());
        outgoing.stream = stream.then_some(true);
        for field in GATEWAY_FIELDS {
            outgoing.extra.shift_remove(*field);
        }
        if let Some(Input::Items(items)) = &mut outgoing.input {
            strip_gateway_state(items);
        }
        outgoing
    }
}

impl Provider for ResponsesProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn api_base(&self) -> &str {
        &self.api_base
    }

    fn is_native_responses(&self) -> bool {
        true
    }

    fn prepare(&self, request: &CreateResponse, call: CallInfo<'_>) -> Result<PreparedCall, Error> {
        let stream = call.stream;
        let body = json_body(&self.outgoing(request, stream))?;
        let headers = openai_style_headers(
            &self.credential,
            self.organization.as_deref(),
            stream,
            &self.options,
        );
        Ok(PreparedCall {
            request: UpstreamRequest {
                url: self.url.clone(),
                headers,
                body,
            },
            decoder: Box::new(
                ResponsesDecoder::new(self.name.clone())
                    .with_secrets(self.credential.secret().into_iter().cloned().collect()),
            ),
        })
    }

    fn count_input_tokens(
        &self,
        request: &CreateResponse,
        _call: CallInfo<'_>,
    ) -> Result<InputTokens, Error> {
        Ok(InputTokens::Upstream(Box::new(CountCall {
            request: self.sub_request(request, INPUT_TOKENS_FIELDS, "input_tokens")?,
            read: |answer| count_at(answer, "/input_tokens"),
            fallback: None,
        })))
    }

    fn compact_request(&self, request: &CreateResponse) -> Option<Result<UpstreamRequest, Error>> {
        Some(self.sub_request(request, COMPACT_FIELDS, "compact"))
    }

    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let secrets: Vec<&Secret> = self.credential.secret().into_iter().collect();
        classify_openai_error(&self.name, status, headers, body, &secrets)
    }

    fn authorize<'a>(
        &'a self,
        request: &'a mut UpstreamRequest,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.credential.authorize(request))
    }
}

/// The fields of a create that `POST /responses/compact` takes.
const COMPACT_FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "reasoning",
    "text",
    "tools",
    "parallel_tool_calls",
];

/// Reads a Responses answer: one `Response` body, or its event stream.
pub struct ResponsesDecoder {
    provider: String,
    sse: SseDecoder,
    done: bool,
    /// Credentials to blank out of relayed error text.
    secrets: Vec<Secret>,
}

impl ResponsesDecoder {
    /// A decoder for answers from `provider`.
    pub fn new(provider: String) -> Self {
        ResponsesDecoder {
            provider,
            sse: SseDecoder::new(),
            done: false,
            secrets: Vec::new(),
        }
    }

    /// The same decoder, redacting `secrets` (and anything shaped like a key) from the error
    /// text it relays: an upstream may echo the credential it was sent in its error message.
    pub fn with_secrets(mut self, secrets: Vec<Secret>) -> Self {
        self.secrets = secrets;
        self
    }

    fn redact(&self, text: &mut String) {
        let refs: Vec<&Secret> = self.secrets.iter().collect();
        let clean = redact(text, &refs);
        if clean != *text {
            *text = clean;
        }
    }

    /// Redacts the upstream-written text of an event: error messages and a failed response's
    /// error.
    fn scrub_event(&self, event: &mut ResponseStreamEvent) {
        match event {
            ResponseStreamEvent::Error(e) => {
                if let Some(payload) = e.error.as_mut() {
                    self.redact(&mut payload.message);
                }
                if let Some(serde_json::Value::String(message)) = e.extra.get_mut("message") {
                    self.redact(message);
                }
            }
            other => {
                if let Some(response) = lifecycle_response(other) {
                    self.scrub_response(response);
                }
            }
        }
    }

    fn scrub_response(&self, response: &mut Response) {
        if let Some(error) = response.error.as_mut() {
            self.redact(&mut error.message);
        }
    }

    fn frame(&mut self, frame: SseFrame, out: &mut Vec<Upstream>) {
        if self.done {
            return;
        }
        let data = frame.data.trim();
        if data == "[DONE]" {
            // Not part of the Responses protocol, but some compatible servers send it.
            self.done = true;
            out.push(Upstream::End);
            return;
        }
        match ResponseStreamEvent::from_json(data) {
            Ok(mut event) => {
                self.scrub_event(&mut event);
                let terminal = event.is_terminal();
                out.push(Upstream::Relay(event));
                if terminal {
                    self.done = true;
                    out.push(Upstream::End);
                }
            }
            // Clients skip what they cannot parse; so does a relay, loudly.
            Err(e) => tracing::warn!(
                provider = %self.provider,
                error = %e,
                "skipping an unparsable upstream event"
            ),
        }
    }
}

impl Decoder for ResponsesDecoder {
    fn body(&mut self, body: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        // Not UTF-8: serde's parse of the bytes says where.
        let parsed = match std::str::from_utf8(body) {
            Ok(text) => Response::from_json(text),
            Err(_) => serde_json::from_slice(body),
        };
        let mut response = parsed.map_err(|e| {
            Error::upstream(
                ErrorKind::Upstream,
                format!("{} returned an unreadable response: {e}", self.provider),
            )
        })?;
        self.scrub_response(&mut response);
        out.push(Upstream::RelayResponse(Box::new(response)));
        out.push(Upstream::End);
        Ok(())
    }

    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        let mut frames = Vec::new();
        self.sse.feed(chunk, |frame| frames.push(frame));
        for frame in frames {
            self.frame(frame, out);
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<Upstream>) -> Result<(), Error> {
        if let Some(frame) = self.sse.finish() {
            self.frame(frame, out);
        }
        if self.done {
            return Ok(());
        }
        Err(Error::upstream(
            ErrorKind::Upstream,
            format!(
                "{} closed the stream before response.completed",
                self.provider
            ),
        ))
    }
}

/// The response a lifecycle event carries.
fn lifecycle_response(event: &mut ResponseStreamEvent) -> Option<&mut Response> {
    use ResponseStreamEvent as E;
    match event {
        E::Created(e)
        | E::Queued(e)
        | E::InProgress(e)
        | E::Completed(e)
        | E::Incomplete(e)
        | E::Failed(e) => Some(&mut e.response),
        _ => None,
    }
}

/// Takes out of a replayed history what only the gateway can read: reasoning that another
/// provider produced (its blob is the gateway's own opaque format, which the upstream would
/// reject), and the provider state the gateway keeps with tool calls.
fn strip_gateway_state(items: &mut Vec<Item>) {
    items.retain(|item| {
        !matches!(item, Item::Reasoning(r)
            if r.encrypted_content.as_deref().is_some_and(opaque::is_gateway_blob))
    });
    let carrier_free = |id: &mut String| {
        let bare = super::translate::ids::split_call_carrier(id).0.len();
        id.truncate(bare);
    };
    for item in items.iter_mut() {
        match item {
            Item::FunctionCall(call) => {
                call.extra.shift_remove(crate::stream::CALL_STATE);
                carrier_free(&mut call.call_id);
            }
            Item::CustomToolCall(call) => {
                call.extra.shift_remove(crate::stream::CALL_STATE);
                carrier_free(&mut call.call_id);
            }
            Item::FunctionCallOutput(output) => carrier_free(&mut output.call_id),
            Item::CustomToolCallOutput(output) => carrier_free(&mut output.call_id),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn input_tokens_forwards_the_counted_fields_only() {
        let provider = ResponsesProvider::new(
            "openai",
            "gpt-5",
            "https://api.openai.com/v1".into(),
            Some(Secret::new("sk-test")),
            Some("org-1".into()),
            ProviderOptions::default(),
        )
        .unwrap();
        let request: CreateResponse = serde_json::from_value(json!({
            "model": "group", "instructions": "Be brief.", "input": "hi",
            "previous_response_id": "resp_upstream", "stream": true, "store": false,
            "max_output_tokens": 10, "temperature": 0.2, "fallbacks": ["other"],
            "tools": [{"type": "web_search"}], "tool_choice": "auto", "truncation": "auto",
            "text": {"format": {"type": "text"}}
        }))
        .unwrap();
        let InputTokens::Upstream(counter) = provider
            .count_input_tokens(&request, CallInfo::new(false))
            .unwrap()
        else {
            panic!("the Responses API counts upstream")
        };
        assert_eq!(
            counter.request.url.as_str(),
            "https://api.openai.com/v1/responses/input_tokens"
        );
        let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
        assert_eq!(
            body,
            json!({"model": "gpt-5", "input": "hi", "instructions": "Be brief.",
                "previous_response_id": "resp_upstream",
                "tools": [{"type": "web_search"}], "tool_choice": "auto",
                "text": {"format": {"type": "text"}}, "truncation": "auto"})
        );
        assert_eq!(counter.request.headers["authorization"], "Bearer sk-test");
        assert_eq!(counter.request.headers["openai-organization"], "org-1");
        assert!(counter.request.headers.get("accept").is_none());
        assert_eq!(
            (counter.read)(br#"{"object": "response.input_tokens", "input_tokens": 11}"#),
            Some(11)
        );
    }
}
