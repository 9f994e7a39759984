//! Compaction: the conversation so far, summarised into one opaque `compaction` item that a
//! client keeps instead of the history, as Codex and the Agents SDK do.
//!
//! Where the upstream compacts by itself (OpenAI and Azure: `POST /responses/compact`, the
//! `compaction_trigger` item, `context_management`), requests go there as they are. For every
//! other provider the same model writes the summary: the history goes to it as a transcript
//! with instructions to summarise, and the summary comes back sealed by the gateway (see
//! [`crate::seal`]), so that the client can neither read nor alter it. When that item comes
//! back in a later input, it stands for its summary: [`Gateway::open_compactions`] turns it
//! into a message before any provider sees it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_types::responses::{
    ContentPart, CreateResponse, Input, Item, MessageContent, MessageItem, Response, Role,
    TextPart, ToolOutput, Usage,
};

use super::execute::{Plan, Progress};
use super::stream::ResponseStream;
use super::{CallContext, Execution, Gateway, Output};
use crate::error::{Error, ErrorKind, ErrorOrigin};
use crate::ids;
use crate::router::Target;
use crate::stream::{ResponseBuilder, StreamEvent, envelope};

/// What the model is asked to do with the history.
const SUMMARY_INSTRUCTIONS: &str = "You compact conversations so that they can go on with less \
context. Write a summary of the conversation below that another assistant can continue from \
without it: the user's goals and requests, every decision and its reason, facts, names, numbers \
and code that matter, the tools called and what they returned, what was done and what is left \
to do. Be complete but concise. Reply with the summary only.";

/// What precedes a summary when it goes back to a model in place of the history.
const SUMMARY_PREFIX: &str = "A summary of the conversation so far (earlier messages were \
compacted):\n\n";

/// What a sealed compaction item holds.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    /// The summary text.
    summary: String,
}

/// True when the last input item is `{"type": "compaction_trigger"}`.
pub(super) fn ends_with_trigger(request: &CreateResponse) -> bool {
    matches!(&request.input, Some(Input::Items(items))
        if items.last().is_some_and(|i| i.kind() == "compaction_trigger"))
}

/// The `compact_threshold` of a `context_management` compaction entry, if the request has one.
pub(super) fn compact_threshold(request: &CreateResponse) -> Option<u64> {
    request
        .extra
        .get("context_management")?
        .as_array()?
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some("compaction"))?
        .get("compact_threshold")
        .and_then(Value::as_u64)
}

/// True when `target` compacts by itself (its first deployment: the one a request goes to
/// unless it fails).
fn compacts_itself(target: &Target, request: &CreateResponse) -> bool {
    target
        .deployments
        .first()
        .is_some_and(|d| d.provider.compact_request(request).is_some())
}

impl Gateway {
    /// Turns the compaction items this gateway sealed into the summaries they stand for. An
    /// item in the gateway's format that does not open (sealed with another key, or altered)
    /// is refused: its summary cannot be read back.
    pub(super) fn open_compactions(&self, request: &mut CreateResponse) -> Result<(), Error> {
        let Some(Input::Items(items)) = &mut request.input else {
            return Ok(());
        };
        for (i, item) in items.iter_mut().enumerate() {
            let Item::Other(value) = item else { continue };
            if value.get("type").and_then(Value::as_str) != Some("compaction") {
                continue;
            }
            let Some(blob) = value.get("encrypted_content").and_then(Value::as_str) else {
                continue;
            };
            if !crate::seal::is_sealed(blob) {
                continue; // the upstream's own: it goes to it as it is
            }
            let sealed: Sealed = self
                .inner
                .sealer
                .open(blob)
                .and_then(|plain| serde_json::from_slice(&plain).ok())
                .ok_or_else(|| {
                    Error::invalid_request(
                        format!(
                            "Invalid 'input[{i}]': this compaction item was not made by this \
                             gateway (or was altered); its summary cannot be read."
                        ),
                        Some(&format!("input[{i}]")),
                    )
                    .with_code("invalid_compaction")
                })?;
            *item = text_message(Role::User, format!("{SUMMARY_PREFIX}{}", sealed.summary));
        }
        Ok(())
    }

    /// Seals `summary` as a compaction item's `encrypted_content`.
    fn seal_summary(&self, summary: String) -> String {
        let sealed = serde_json::to_vec(&Sealed { summary }).unwrap_or_default();
        self.inner.sealer.seal(&sealed)
    }

    /// Has the request's model summarise `items`; returns the summary and the call's usage.
    /// The call is an ordinary request of the same caller (routed, retried, charged), under
    /// the request's own id.
    /// `own_id`: the call is the request's only paid one and carries its id; otherwise it
    /// gets an id of its own (its record is another row).
    /// `group`: the model group that writes it (the request's, or a fallback of it).
    async fn summarize(
        &self,
        request: &CreateResponse,
        ctx: &CallContext,
        items: &[Item],
        own_id: bool,
        group: &str,
    ) -> Result<(String, Option<Usage>), Error> {
        let ask = CreateResponse {
            model: Some(group.to_string()),
            instructions: Some(SUMMARY_INSTRUCTIONS.to_string()),
            input: Some(Input::Text(transcript(items))),
            store: Some(false),
            metadata: request.metadata.clone(),
            ..CreateResponse::default()
        };
        let ctx = CallContext {
            state: None,
            request_id: if own_id {
                ctx.request_id.clone()
            } else {
                ids::request_id()
            },
            ..ctx.clone()
        };
        let execution = Box::pin(self.execute(ask, ctx)).await?;
        let Output::Response(response) = execution.output else {
            return Err(Error::new(
                ErrorKind::Internal,
                "a summary came back as a stream",
            ));
        };
        let summary = output_text(&response);
        if summary.trim().is_empty() {
            return Err(Error::upstream(
                ErrorKind::Upstream,
                "the model wrote no summary of the conversation",
            ));
        }
        Ok((summary, response.usage))
    }

    /// `POST /responses/compact`: the request's history (its `input`, or the chain of its
    /// `previous_response_id`) compacted. Answers OpenAI's `response.compaction` object: the
    /// history's user messages, then one compaction item.
    pub async fn compact(&self, request: CreateResponse, ctx: CallContext) -> Result<Value, Error> {
        let mut request = request;
        request.stream = None;
        let (plan, mut target) = self.admit(request, ctx).await?;
        // The requested group, then its fallbacks, as a create would go: a group that compacts
        // by itself is asked (each of its deployments in turn), any other summarises.
        let mut queue = None;
        let mut fell_back = 0;
        loop {
            if !compacts_itself(&target, &plan.request) {
                return self.compact_by_summary(&plan, &target).await;
            }
            let error = match self.compact_in_group(&target, &plan.request).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            target = self.compaction_fallback(
                &plan,
                &mut queue,
                &mut fell_back,
                plan.max_fallbacks,
                &target,
                error,
            )?;
        }
    }

    /// The group a compaction that failed with `error` on `from` goes to next (the fallbacks
    /// a create would take, at most `max` of them), or `error` when none is left.
    fn compaction_fallback(
        &self,
        plan: &Plan,
        queue: &mut Option<VecDeque<String>>,
        fell_back: &mut usize,
        max: usize,
        from: &Target,
        error: Error,
    ) -> Result<Target, Error> {
        let queue = queue.get_or_insert_with(|| self.fallback_queue(plan, &error));
        let next = (*fell_back < max).then(|| self.next_in(queue)).flatten();
        let Some((_, next)) = next else {
            return Err(error);
        };
        tracing::debug!(from = %from.name, to = %next.name, error = %error, "compaction falling back");
        *fell_back += 1;
        Ok(next)
    }

    /// Compaction by the model of `target`, which cannot compact by itself.
    async fn compact_by_summary(&self, plan: &Plan, target: &Target) -> Result<Value, Error> {
        let items = crate::state::context::input_items(plan.request.input.as_ref());
        let (summary, usage) = self
            .summarize(&plan.request, &plan.ctx, &items, true, &target.name)
            .await?;
        let mut output: Vec<Value> = items
            .iter()
            .filter_map(|i| match i {
                Item::Message(m) if m.role == Role::User => Some(kept_user_message(m)),
                _ => None,
            })
            .collect();
        output.push(json!({
            "type": "compaction",
            "id": format!("cmp_{}", ids::random_hex(24)),
            "encrypted_content": self.seal_summary(summary),
        }));
        Ok(json!({
            "id": ids::response_id(),
            "object": "response.compaction",
            "created_at": crate::state::now(),
            "output": output,
            "usage": usage,
        }))
    }

    /// Compaction by a group whose upstreams have their own: each deployment that compacts in
    /// turn, until one answers or fails in a way another would too.
    async fn compact_in_group(
        &self,
        target: &Target,
        request: &CreateResponse,
    ) -> Result<Value, Error> {
        let mut last = None;
        for deployment in &target.deployments {
            if deployment.provider.compact_request(request).is_none() {
                continue;
            }
            match self.compact_upstream(deployment, request).await {
                Ok(answer) => return Ok(answer),
                Err(error) if another_may_answer(&error) => last = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Internal, "no compaction upstream")))
    }

    /// Compaction by an upstream that has its own: its answer, as it is.
    async fn compact_upstream(
        &self,
        deployment: &std::sync::Arc<crate::router::Deployment>,
        request: &CreateResponse,
    ) -> Result<Value, Error> {
        let upstream = match deployment.provider.compact_request(request) {
            Some(built) => built?,
            None => return Err(Error::new(ErrorKind::Internal, "no compaction upstream")),
        };
        let deadline =
            tokio::time::Instant::now() + deployment.timeout.unwrap_or(super::DEFAULT_TIMEOUT);
        let sent = self.dispatch(deployment, upstream, deadline).await;
        let answer = sent.answer?;
        let body = answer
            .bytes()
            .await
            .map_err(|e| super::upstream::connection_error(deployment.provider.name(), &e))?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::upstream(
                ErrorKind::Upstream,
                format!(
                    "{} answered its compaction unreadably: {e}",
                    deployment.provider.name()
                ),
            )
        })
    }

    /// A create whose input ends with `compaction_trigger`: answered with exactly one
    /// `compaction` item (what Codex requires), streamed or not as asked. The requested group,
    /// then its fallbacks: a group that compacts by itself gets the request (retried in the
    /// group, not sent on to a fallback, which might not read the trigger); one that cannot is
    /// summarised by the gateway.
    pub(super) async fn serve_trigger(
        &self,
        mut plan: Plan,
        mut target: Target,
    ) -> Result<Execution, Error> {
        let max_fallbacks = std::mem::replace(&mut plan.max_fallbacks, 0);
        let mut queue = None;
        let mut fell_back = 0;
        loop {
            // After a failed attempt has its record, a later one gets a record of its own.
            let first = fell_back == 0;
            if !compacts_itself(&target, &plan.request) {
                return self.answer_with_compaction(&plan, &target, first).await;
            }
            if !first {
                plan.ctx.request_id = ids::request_id();
            }
            let mut progress = Progress::default();
            let error = match self.serve(&plan, target.clone(), &mut progress).await {
                Ok(answered) => return self.execution(&plan, progress, answered),
                Err(error) => {
                    progress.fail(&plan, &self.inner.sinks, &error);
                    error
                }
            };
            target = self.compaction_fallback(
                &plan,
                &mut queue,
                &mut fell_back,
                max_fallbacks,
                &target,
                error,
            )?;
        }
    }

    /// `own_id`: the summary is the request's only paid call and carries its id.
    async fn answer_with_compaction(
        &self,
        plan: &Plan,
        target: &Target,
        own_id: bool,
    ) -> Result<Execution, Error> {
        let mut items = crate::state::context::input_items(plan.request.input.as_ref());
        items.pop(); // the trigger
        let (summary, usage) = self
            .summarize(&plan.request, &plan.ctx, &items, own_id, &target.name)
            .await?;
        let deployment =
            target.deployments.first().cloned().ok_or_else(|| {
                Error::new(ErrorKind::Internal, "a model group without deployments")
            })?;
        let streaming = plan.request.is_stream();
        let mut response = envelope(
            &plan.request,
            ids::response_id(),
            deployment.provider.model().to_string(),
            crate::state::now(),
        );
        plan.persist.annotate(&mut response);
        let mut builder = ResponseBuilder::new(response, streaming, false);
        if streaming {
            builder.start();
        }
        builder.push(StreamEvent::Compaction(self.seal_summary(summary)))?;
        if let Some(usage) = usage {
            builder.push(StreamEvent::Usage(usage))?;
        }
        builder.complete();
        plan.persist.save(builder.response()).await;
        let output = if streaming {
            let events: Vec<_> = builder.drain().collect();
            Output::Stream(ResponseStream::new(Box::pin(futures_util::stream::iter(
                events,
            ))))
        } else {
            Output::Response(Box::new(builder.into_response()))
        };
        Ok(Execution {
            deployment,
            output,
            attempted_retries: 0,
            attempted_fallbacks: 0,
            max_fallbacks: plan.max_fallbacks,
            cost: None,
            response_json: None,
        })
    }

    /// Server-side compaction (`context_management: [{"type": "compaction",
    /// "compact_threshold": N}]`) for an upstream that cannot compact by itself: when the
    /// input is estimated above N tokens, everything before the latest user message is
    /// summarised and the request goes on with the summary in its place. Returns the sealed
    /// compaction item, which leads the response's output.
    pub(super) async fn compact_past_threshold(
        &self,
        plan: &mut Plan,
        target: &Target,
    ) -> Result<Option<String>, Error> {
        let Some(threshold) = compact_threshold(&plan.request) else {
            return Ok(None);
        };
        if compacts_itself(target, &plan.request) {
            return Ok(None);
        }
        plan.request.extra.shift_remove("context_management");
        let estimate = crate::providers::openai_chat::count::generic_body(&plan.request)
            .map(|body| crate::providers::openai_chat::count::estimate(&body))
            .unwrap_or(0);
        if estimate <= threshold {
            return Ok(None);
        }
        let items = crate::state::context::input_items(plan.request.input.as_ref());
        let last_user = items
            .iter()
            .rposition(|i| matches!(i, Item::Message(m) if m.role == Role::User));
        let Some(cut) = last_user.filter(|&i| i > 0) else {
            return Ok(None);
        };
        let (summary, _) = self
            .summarize(&plan.request, &plan.ctx, &items[..cut], false, &target.name)
            .await?;
        let mut kept = vec![text_message(
            Role::User,
            format!("{SUMMARY_PREFIX}{summary}"),
        )];
        kept.extend(items[cut..].iter().cloned());
        plan.request.input = Some(Input::Items(kept));
        Ok(Some(self.seal_summary(summary)))
    }
}

/// A user message of the history as the compacted window holds it, in OpenAI's shape: an
/// item with its id and status whose text is `input_text` parts (a client reads `content` as a
/// list of parts, whatever form the message came in).
fn kept_user_message(message: &MessageItem) -> Value {
    let content: Vec<ContentPart> = match &message.content {
        MessageContent::Text(text) => vec![ContentPart::InputText(TextPart::new(text.clone()))],
        MessageContent::Parts(parts) => parts.clone(),
    };
    json!({
        "type": "message",
        "id": message.id.clone().unwrap_or_else(|| format!("msg_{}", ids::random_hex(24))),
        "status": "completed",
        "role": "user",
        "content": content,
    })
}

/// True when another upstream may answer where this one failed: not for a request it
/// refused as such, which any would refuse.
fn another_may_answer(error: &Error) -> bool {
    error.origin != ErrorOrigin::Client
        && !matches!(
            error.kind,
            ErrorKind::InvalidRequest
                | ErrorKind::PayloadTooLarge
                | ErrorKind::ContextLengthExceeded
                | ErrorKind::ContentFilter
        )
}

/// A message of plain text.
fn text_message(role: Role, text: String) -> Item {
    Item::Message(MessageItem {
        id: None,
        status: None,
        role,
        content: MessageContent::Text(text),
        phase: None,
        extra: Default::default(),
    })
}

/// The text a response's messages say.
fn output_text(response: &Response) -> String {
    let mut text = String::new();
    for item in &response.output {
        if let Item::Message(m) = item {
            text.push_str(&content_text(&m.content));
        }
    }
    text
}

fn content_text(content: &MessageContent) -> String {
    match content {
        MessageContent::Text(text) => text.clone(),
        MessageContent::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::InputText(t) => Some(t.text.as_str()),
                ContentPart::OutputText(t) => Some(t.text.as_str()),
                ContentPart::Refusal(r) => Some(r.refusal.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The history as plain text for the summariser: any model reads it, with or without tools.
fn transcript(items: &[Item]) -> String {
    let mut out = String::from("<conversation>\n");
    for item in items {
        let line = match item {
            Item::Message(m) => {
                let who = match m.role {
                    Role::User => "User",
                    Role::Assistant => "Assistant",
                    _ => "Instructions",
                };
                format!("{who}: {}", content_text(&m.content))
            }
            Item::FunctionCall(c) => format!("Assistant called {}({})", c.name, c.arguments),
            Item::CustomToolCall(c) => format!("Assistant called {}: {}", c.name, c.input),
            Item::FunctionCallOutput(o) => {
                format!("Result of {}: {}", o.call_id, tool_text(&o.output))
            }
            Item::CustomToolCallOutput(o) => {
                format!("Result of {}: {}", o.call_id, tool_text(&o.output))
            }
            Item::Reasoning(_) | Item::ItemReference(_) => continue,
            Item::Other(v) => match v.get("type").and_then(Value::as_str) {
                Some(kind) => format!("({kind})"),
                None => continue,
            },
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("</conversation>");
    out
}

fn tool_text(output: &ToolOutput) -> String {
    match output {
        ToolOutput::Text(text) => text.clone(),
        ToolOutput::Parts(parts) => content_text(&MessageContent::Parts(parts.clone())),
    }
}
