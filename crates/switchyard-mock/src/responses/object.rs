//! The OpenAI Responses `Response` object: the request echo, the output
//! items of a [`Plan`] and the terminal state shared by the JSON reply and the stream.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    ContentPart, CreateResponse, FunctionCallItem, IncompleteDetails, InputTokensDetails, Item,
    ItemStatus, MessageContent, MessageItem, OutputTokensDetails, ReasoningItem, Response,
    ResponseStatus, Role, TextFormat, TextPart, Tool, Usage,
};

use crate::ids::{self, ResponseIds};
use crate::plan::{Answer, Finish, Plan, Tokens};

/// The model name echoed when a request names none (canned replies).
const DEFAULT_MODEL: &str = "mock-model";

/// What a response echoes from its request, and the options that shape the output.
#[derive(Debug, Clone)]
pub(crate) struct ResponsesCtx {
    /// The response in its initial state (`in_progress`, no output, no usage).
    pub base: Response,
    pub ids: ResponseIds,
    /// `reasoning.summary` was requested.
    pub summary: bool,
    /// `include` asked for `reasoning.encrypted_content`.
    pub encrypted: bool,
    /// Add `obfuscation` to delta events (on unless `stream_options.include_obfuscation` is false).
    pub obfuscation: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ResponsesCtx {
    /// The context of a request.
    pub(crate) fn from_request(req: &CreateResponse) -> ResponsesCtx {
        let ids = ResponseIds::new();
        let mut text = req.text.clone().unwrap_or_default();
        text.format.get_or_insert(TextFormat::Text);
        text.verbosity.get_or_insert_with(|| "medium".into());
        let tools = req
            .tools
            .iter()
            .flatten()
            .cloned()
            .map(|mut tool| {
                // The API echoes function tools with `strict` filled in (it defaults to true).
                if let Tool::Function(f) = &mut tool {
                    f.strict.get_or_insert(true);
                }
                tool
            })
            .collect();
        let base = Response {
            id: ids.response(),
            created_at: now(),
            status: ResponseStatus::InProgress,
            background: req.background.unwrap_or(false),
            instructions: req.instructions.clone().map(Value::String),
            max_output_tokens: req.max_output_tokens,
            max_tool_calls: req.max_tool_calls,
            model: req.model.clone().unwrap_or_else(|| DEFAULT_MODEL.into()),
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            previous_response_id: req.previous_response_id.clone(),
            prompt_cache_key: req.prompt_cache_key.clone(),
            reasoning: req.reasoning.clone().unwrap_or_default(),
            safety_identifier: req.safety_identifier.clone(),
            service_tier: match req.service_tier.as_deref() {
                None | Some("auto") => "default".into(),
                Some(tier) => tier.into(),
            },
            store: req.store.unwrap_or(true),
            temperature: req.temperature.unwrap_or(1.0),
            text,
            tool_choice: req.tool_choice.clone().unwrap_or_default(),
            tools,
            top_logprobs: req.top_logprobs.unwrap_or(0),
            top_p: req.top_p.unwrap_or(1.0),
            presence_penalty: req.presence_penalty.unwrap_or(0.0),
            frequency_penalty: req.frequency_penalty.unwrap_or(0.0),
            truncation: req.truncation.clone().unwrap_or_else(|| "disabled".into()),
            user: req.user.clone(),
            metadata: req.metadata.clone().unwrap_or_default(),
            ..Response::default()
        };
        let obfuscation = req
            .stream_options
            .as_ref()
            .and_then(|o| o.get("include_obfuscation"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        ResponsesCtx {
            base,
            ids,
            summary: req.reasoning.as_ref().is_some_and(|r| r.summary.is_some()),
            encrypted: req.includes("reasoning.encrypted_content"),
            obfuscation,
        }
    }

    /// The context of a minimal request (`model: mock-model`), for canned replies.
    pub(crate) fn canned() -> ResponsesCtx {
        ResponsesCtx::from_request(&CreateResponse::default())
    }
}

fn usage(tokens: &Tokens) -> Usage {
    Usage {
        input_tokens: tokens.input,
        input_tokens_details: InputTokensDetails {
            cached_tokens: tokens.cached,
            ..InputTokensDetails::default()
        },
        output_tokens: tokens.output,
        output_tokens_details: OutputTokensDetails {
            reasoning_tokens: tokens.reasoning,
            ..OutputTokensDetails::default()
        },
        total_tokens: tokens.total(),
        extra: JsonMap::new(),
    }
}

/// The output items in their final state.
pub(crate) fn items(ctx: &ResponsesCtx, plan: &Plan) -> Vec<Item> {
    let mut out = Vec::new();
    if let Some(reasoning) = &plan.reasoning {
        let summary = if ctx.summary {
            vec![ContentPart::SummaryText(TextPart::new(reasoning.clone()))]
        } else {
            Vec::new()
        };
        out.push(Item::Reasoning(ReasoningItem {
            id: Some(ctx.ids.item("rs_")),
            summary,
            content: None,
            encrypted_content: ctx.encrypted.then(ids::encrypted_content),
            status: None,
            extra: JsonMap::new(),
        }));
    }
    let status = if plan.finish == Finish::Length {
        ItemStatus::Incomplete
    } else {
        ItemStatus::Completed
    };
    let message = |part: ContentPart| {
        Item::Message(MessageItem {
            id: Some(ctx.ids.item("msg_")),
            status: Some(status),
            role: Role::Assistant,
            content: MessageContent::Parts(vec![part]),
            phase: None,
            extra: JsonMap::new(),
        })
    };
    match &plan.answer {
        Answer::Text(text) => out.push(message(ContentPart::output_text(text.clone()))),
        Answer::Refusal(text) => out.push(message(ContentPart::refusal(text.clone()))),
        Answer::Calls(calls) => {
            for call in calls {
                out.push(Item::FunctionCall(FunctionCallItem {
                    id: Some(ctx.ids.item("fc_")),
                    status: Some(ItemStatus::Completed),
                    arguments: call.arguments.clone(),
                    call_id: ids::call_id(),
                    name: call.name.clone(),
                    extra: JsonMap::new(),
                }));
            }
        }
    }
    out
}

/// The response in its terminal state, holding `output`.
pub(crate) fn terminal(ctx: &ResponsesCtx, plan: &Plan, output: Vec<Item>) -> Response {
    let mut response = ctx.base.clone();
    response.output = output;
    response.usage = Some(usage(&plan.tokens));
    if plan.finish == Finish::Length {
        response.status = ResponseStatus::Incomplete;
        response.incomplete_details = Some(IncompleteDetails {
            reason: "max_output_tokens".into(),
        });
    } else {
        response.status = ResponseStatus::Completed;
        response.completed_at = Some(now().max(response.created_at));
    }
    response
}

/// The non-streaming reply body: the complete `Response` holding `output`, as JSON text.
pub(crate) fn object_bytes_of(ctx: &ResponsesCtx, plan: &Plan, output: Vec<Item>) -> Bytes {
    let response = terminal(ctx, plan, output);
    match serde_json::to_vec(&response) {
        Ok(body) => Bytes::from(body),
        Err(err) => {
            tracing::error!(%err, "failed to serialise a response");
            Bytes::new()
        }
    }
}

/// The non-streaming `Response` as a JSON value (for canned replies).
pub(crate) fn object_json(ctx: &ResponsesCtx, plan: &Plan) -> Value {
    serde_json::to_value(terminal(ctx, plan, items(ctx, plan))).unwrap_or(Value::Null)
}
