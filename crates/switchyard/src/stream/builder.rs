//! The one place that writes Responses stream events.
//!
//! [`ResponseBuilder`] consumes normalized [`StreamEvent`]s (from translated providers) or native
//! Responses events (relayed from providers that speak the Responses API) and owns everything the
//! Responses stream grammar demands: sequence numbers from 0, `output_index` appended in
//! order with one item open at a time, item ids, `added`/`delta`/`done` pairing, content and
//! summary indexes, and exactly one terminal event carrying the complete `Response`.
//!
//! The non-streaming path runs the very same state machine with event emission switched off and
//! reads [`ResponseBuilder::response`] at the end, so both paths agree by construction.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    ArgumentsDoneEvent, ContentDeltaEvent, ContentPart, ContentPartEvent, CustomInputDoneEvent,
    CustomToolCallItem, FunctionCallItem, IncompleteDetails, Item, ItemDeltaEvent, ItemStatus,
    KeepaliveEvent, LifecycleEvent, MessageContent, MessageItem, OutputItemEvent,
    OutputTextDeltaEvent, OutputTextDoneEvent, ReasoningItem, RefusalDoneEvent, Response,
    ResponseError, ResponseStatus, ResponseStreamEvent, Role, SummaryDeltaEvent, SummaryPartEvent,
    SummaryTextDoneEvent, TextPart, Usage,
};

use super::event::{FinishReason, StreamEvent, ToolCallKind, Upstream};
use crate::cost::ModelPrice;
use crate::error::{Error, ErrorKind};
use crate::ids;

/// What kind of item is open, and which of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A message; `part` is the kind of its last content part if that part is still open.
    Message { part: Option<PartKind> },
    /// A reasoning item; `summary_open` when its last summary part is still open.
    Reasoning { summary_open: bool },
    /// A function or custom tool call.
    ToolCall(ToolCallKind),
    /// A relayed item of a type the builder does not model (hosted tool calls…).
    Relayed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Text,
    Refusal,
}

/// Relay bookkeeping for providers that speak the Responses API natively.
#[derive(Debug, Default)]
struct Relay {
    /// The upstream's own response id, replaced by the gateway's everywhere.
    upstream_id: Option<String>,
    /// The first upstream event has been seen.
    started: bool,
    /// Events carrying the gateway's own response id have been emitted, so that id must stay.
    id_exposed: bool,
}

/// Builds a Responses stream and the final `Response` from provider output.
#[derive(Debug)]
pub struct ResponseBuilder {
    response: Response,
    next_sequence: u64,
    emit: bool,
    out: Vec<ResponseStreamEvent>,
    open: Option<Open>,
    finish: Option<FinishReason>,
    include_encrypted_reasoning: bool,
    terminal: bool,
    relay: Relay,
    /// Set when the final usage carries its `cost` (`include_cost_in_streaming_usage`): the
    /// deployment's price, if it has one.
    cost_in_usage: Option<Option<Arc<ModelPrice>>>,
    /// The cost the upstream reported for the request (OpenRouter's `usage.cost`).
    reported_cost: Option<f64>,
    /// `response.created` and `response.queued` were sent before this builder (a background
    /// response): it starts at `response.in_progress`.
    queue_announced: bool,
    /// An event that goes before the provider's output (the compaction item of a history
    /// compacted on the way in).
    leading: Option<StreamEvent>,
}

/// Emits an event only when the builder streams; the expression is not evaluated otherwise.
macro_rules! emit {
    ($builder:expr, $event:expr) => {
        if $builder.emit {
            let event = $event;
            $builder.push_event(event);
        }
    };
}

impl ResponseBuilder {
    /// A builder for the response described by `envelope` (see [`super::envelope`]).
    ///
    /// `streaming` switches event emission on; `include_encrypted_reasoning` mirrors the
    /// request's `include: ["reasoning.encrypted_content"]`.
    pub fn new(envelope: Response, streaming: bool, include_encrypted_reasoning: bool) -> Self {
        ResponseBuilder {
            response: envelope,
            next_sequence: 0,
            emit: streaming,
            out: Vec::new(),
            open: None,
            finish: None,
            include_encrypted_reasoning,
            terminal: false,
            relay: Relay::default(),
            cost_in_usage: None,
            reported_cost: None,
            queue_announced: false,
            leading: None,
        }
    }

    /// The same builder, with `event` before anything the provider produces.
    pub fn leading_with(mut self, event: StreamEvent) -> Self {
        self.leading = Some(event);
        self
    }

    /// With `on`, adds `cost` (USD) to the final usage of the response: the upstream's
    /// reported cost, else the usage at `price`; nothing when neither is known.
    pub fn with_cost_in_usage(mut self, on: bool, price: Option<Arc<ModelPrice>>) -> Self {
        self.cost_in_usage = on.then_some(price);
        self
    }

    /// The cost the upstream reported for the request, if it reports one.
    pub fn reported_cost(&self) -> Option<f64> {
        self.reported_cost
    }

    fn annotate_cost(&self, usage: Option<&mut Usage>) {
        let (Some(price), Some(usage)) = (&self.cost_in_usage, usage) else {
            return;
        };
        let cost = self
            .reported_cost
            .or_else(|| price.as_ref().map(|p| crate::cost::cost(p, usage)));
        if let Some(number) = cost.and_then(serde_json::Number::from_f64) {
            usage.extra.insert("cost".into(), Value::Number(number));
        }
    }

    /// Emits `response.created` and `response.in_progress` unless any event has been emitted
    /// already (a relayed stream that has not started yet gets the gateway's own).
    pub fn ensure_started(&mut self) {
        let fresh = if self.queue_announced {
            self.next_sequence == 2
        } else {
            self.next_sequence == 0
        };
        if fresh && self.out.is_empty() {
            self.relay.started = true;
            self.start();
        }
    }

    /// Emits `response.created` and `response.in_progress`; a response that starts queued (a
    /// background response) emits `response.created` and `response.queued` while queued, then
    /// `response.in_progress`.
    pub fn start(&mut self) {
        self.relay.id_exposed = self.emit;
        if self.queue_announced {
            // `response.created` and `response.queued` went out when the response was queued.
            self.response.status = ResponseStatus::InProgress;
            emit!(self, ResponseStreamEvent::InProgress(self.lifecycle()));
            return;
        }
        emit!(self, ResponseStreamEvent::Created(self.lifecycle()));
        if self.response.status == ResponseStatus::Queued {
            self.announce_queued_events();
            self.response.status = ResponseStatus::InProgress;
        }
        emit!(self, ResponseStreamEvent::InProgress(self.lifecycle()));
    }

    /// Emits what a background response's stream opens with while it waits: `response.created`
    /// and `response.queued` (sequence numbers 0 and 1).
    pub fn announce_queued(&mut self) {
        self.relay.id_exposed = self.emit;
        emit!(self, ResponseStreamEvent::Created(self.lifecycle()));
        self.announce_queued_events();
    }

    fn announce_queued_events(&mut self) {
        emit!(self, ResponseStreamEvent::Queued(self.lifecycle()));
    }

    /// The same builder for a background response whose queued events
    /// ([`Self::announce_queued`]) were already sent: it goes on from sequence number 2.
    pub fn after_queued(mut self) -> Self {
        self.queue_announced = true;
        self.next_sequence = 2;
        self
    }

    /// The events produced since the last call, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, ResponseStreamEvent> {
        self.out.drain(..)
    }

    /// True when events are waiting to be drained.
    pub fn has_events(&self) -> bool {
        !self.out.is_empty()
    }

    /// The response in its current state, final once [`Self::is_terminal`], with every
    /// provider blob (what the state store keeps; the client may see less, see
    /// [`Self::into_response`]).
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// Consumes the builder, returning the response as the client sees it: reasoning blobs
    /// only when it asked for `reasoning.encrypted_content`.
    pub fn into_response(self) -> Response {
        let include = self.include_encrypted_reasoning;
        let mut response = self.response;
        response.output = response
            .output
            .into_iter()
            .map(|item| {
                if include {
                    hide_call_state(item)
                } else {
                    hide_blob(item)
                }
            })
            .collect();
        response
    }

    /// True when the client sees the response as it is (see [`Self::into_response`]): no item
    /// carries a blob or call state to take out.
    pub fn shown_as_is(&self) -> bool {
        !self.response.output.iter().any(|item| match item {
            Item::Reasoning(r) => {
                !self.include_encrypted_reasoning && r.encrypted_content.is_some()
            }
            Item::FunctionCall(call) => call.extra.contains_key(super::CALL_STATE),
            Item::CustomToolCall(call) => call.extra.contains_key(super::CALL_STATE),
            _ => false,
        })
    }

    /// An item as the client sees it (see [`Self::into_response`]).
    fn shown(&self, item: Item) -> Item {
        if self.include_encrypted_reasoning {
            hide_call_state(item)
        } else {
            hide_blob(item)
        }
    }

    /// True once a terminal event has been produced.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// True once any output item has been announced.
    pub fn has_output(&self) -> bool {
        !self.response.output.is_empty()
    }

    /// The upstream's own response id, for providers relayed natively.
    pub fn upstream_response_id(&self) -> Option<&str> {
        self.relay.upstream_id.as_deref()
    }

    /// Emits a `keepalive` event (a transport event clients ignore, but that resets Codex's idle
    /// timer).
    pub fn keepalive(&mut self) {
        if !self.terminal {
            emit!(
                self,
                ResponseStreamEvent::Keepalive(KeepaliveEvent { sequence_number: 0 })
            );
        }
    }

    fn push_event(&mut self, mut event: ResponseStreamEvent) {
        event.set_sequence_number(self.next_sequence);
        self.next_sequence += 1;
        self.out.push(event);
    }

    fn lifecycle(&self) -> LifecycleEvent {
        let mut response = self.response.clone();
        response.output = response
            .output
            .into_iter()
            .map(|item| self.shown(item))
            .collect();
        LifecycleEvent {
            sequence_number: 0,
            response: Box::new(response),
            extra: JsonMap::new(),
        }
    }

    /// Applies provider output, draining `items`. Returns true when the upstream signalled the
    /// end of its output.
    pub fn apply(&mut self, items: &mut Vec<Upstream>) -> Result<bool, Error> {
        let mut ended = false;
        for item in items.drain(..) {
            match item {
                Upstream::Event(event) => self.push(event)?,
                Upstream::Relay(event) => self.relay(event),
                Upstream::RelayResponse(response) => self.relay_response(*response),
                Upstream::End => ended = true,
            }
        }
        Ok(ended)
    }

    /// Applies one normalized event.
    pub fn push(&mut self, event: StreamEvent) -> Result<(), Error> {
        if let Some(leading) = self.leading.take() {
            self.push(leading)?;
        }
        if self.terminal {
            return Ok(());
        }
        match event {
            StreamEvent::Model(model) => {
                if !model.is_empty() {
                    self.response.model = model;
                }
            }
            StreamEvent::TextDelta(text) => self.message_delta(PartKind::Text, text),
            StreamEvent::RefusalDelta(text) => self.message_delta(PartKind::Refusal, text),
            StreamEvent::ReasoningDelta(text) => self.reasoning_delta(text),
            StreamEvent::ReasoningEncrypted(blob) => self.reasoning_encrypted(blob),
            StreamEvent::ToolCallStart {
                call_id,
                name,
                kind,
                namespace,
            } => self.tool_call_start(call_id, name, kind, namespace),
            StreamEvent::ToolCallDelta(delta) => self.tool_call_delta(delta)?,
            StreamEvent::ToolCallState(state) => self.tool_call_state(state),
            StreamEvent::ItemDone => self.close_item(ItemStatus::Completed),
            StreamEvent::Usage(usage) => self.response.usage = Some(normalize_usage(usage)),
            StreamEvent::ReportedCost(cost) => self.reported_cost = Some(cost),
            StreamEvent::Finish(reason) => self.finish = Some(reason),
            StreamEvent::Compaction(blob) => self.compaction(blob),
        }
        Ok(())
    }

    // ----- messages -------------------------------------------------------------------------

    fn message_delta(&mut self, kind: PartKind, text: String) {
        if text.is_empty() {
            return;
        }
        match self.open {
            Some(Open::Message { part: Some(open) }) if open == kind => {}
            Some(Open::Message { part: Some(_) }) => {
                self.close_part();
                self.open_part(kind);
            }
            Some(Open::Message { part: None }) => self.open_part(kind),
            _ => {
                self.close_item(ItemStatus::Completed);
                self.open_message();
                self.open_part(kind);
            }
        }
        let output_index = self.open_index();
        let Some(Item::Message(message)) = self.response.output.last_mut() else {
            return;
        };
        let MessageContent::Parts(parts) = &mut message.content else {
            return;
        };
        let content_index = parts.len().saturating_sub(1) as u32;
        match parts.last_mut() {
            Some(ContentPart::OutputText(part)) => part.text.push_str(&text),
            Some(ContentPart::Refusal(part)) => part.refusal.push_str(&text),
            _ => return,
        }
        let item_id = message.id.clone().unwrap_or_default();
        match kind {
            PartKind::Text => emit!(
                self,
                ResponseStreamEvent::OutputTextDelta(OutputTextDeltaEvent {
                    sequence_number: 0,
                    item_id,
                    output_index,
                    content_index,
                    delta: text,
                    logprobs: Vec::new(),
                    extra: JsonMap::new(),
                })
            ),
            PartKind::Refusal => emit!(
                self,
                ResponseStreamEvent::RefusalDelta(ContentDeltaEvent {
                    sequence_number: 0,
                    item_id,
                    output_index,
                    content_index,
                    delta: text,
                    extra: JsonMap::new(),
                })
            ),
        }
    }

    fn open_message(&mut self) {
        let id = self.next_item_id("msg");
        let item = Item::Message(MessageItem {
            id: Some(id),
            status: Some(ItemStatus::InProgress),
            role: Role::Assistant,
            content: MessageContent::Parts(Vec::new()),
            phase: None,
            extra: JsonMap::new(),
        });
        self.announce(item, Open::Message { part: None });
    }

    fn open_part(&mut self, kind: PartKind) {
        let output_index = self.open_index();
        let part = match kind {
            PartKind::Text => ContentPart::output_text(""),
            PartKind::Refusal => ContentPart::refusal(""),
        };
        let Some(Item::Message(message)) = self.response.output.last_mut() else {
            return;
        };
        let MessageContent::Parts(parts) = &mut message.content else {
            return;
        };
        let content_index = parts.len() as u32;
        let item_id = message.id.clone().unwrap_or_default();
        emit!(
            self,
            ResponseStreamEvent::ContentPartAdded(ContentPartEvent {
                sequence_number: 0,
                item_id,
                output_index,
                content_index,
                part: part.clone(),
                extra: JsonMap::new(),
            })
        );
        if let Some(Item::Message(message)) = self.response.output.last_mut()
            && let MessageContent::Parts(parts) = &mut message.content
        {
            parts.push(part);
        }
        self.open = Some(Open::Message { part: Some(kind) });
    }

    fn close_part(&mut self) {
        if !matches!(self.open, Some(Open::Message { part: Some(_) })) {
            return;
        }
        self.open = Some(Open::Message { part: None });
        if !self.emit {
            return;
        }
        let output_index = self.open_index();
        let Some(Item::Message(message)) = self.response.output.last() else {
            return;
        };
        let MessageContent::Parts(parts) = &message.content else {
            return;
        };
        let Some(part) = parts.last().cloned() else {
            return;
        };
        let content_index = (parts.len() - 1) as u32;
        let item_id = message.id.clone().unwrap_or_default();
        match &part {
            ContentPart::OutputText(p) => {
                self.push_event(ResponseStreamEvent::OutputTextDone(OutputTextDoneEvent {
                    sequence_number: 0,
                    item_id: item_id.clone(),
                    output_index,
                    content_index,
                    text: p.text.clone(),
                    logprobs: Vec::new(),
                    extra: JsonMap::new(),
                }))
            }
            ContentPart::Refusal(p) => {
                self.push_event(ResponseStreamEvent::RefusalDone(RefusalDoneEvent {
                    sequence_number: 0,
                    item_id: item_id.clone(),
                    output_index,
                    content_index,
                    refusal: p.refusal.clone(),
                    extra: JsonMap::new(),
                }))
            }
            _ => {}
        }
        self.push_event(ResponseStreamEvent::ContentPartDone(ContentPartEvent {
            sequence_number: 0,
            item_id,
            output_index,
            content_index,
            part,
            extra: JsonMap::new(),
        }));
    }

    // ----- reasoning ------------------------------------------------------------------------

    fn reasoning_delta(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        match self.open {
            Some(Open::Reasoning { summary_open: true }) => {}
            Some(Open::Reasoning {
                summary_open: false,
            }) => self.open_summary_part(),
            _ => {
                self.close_item(ItemStatus::Completed);
                self.open_reasoning();
                self.open_summary_part();
            }
        }
        let output_index = self.open_index();
        let Some(Item::Reasoning(reasoning)) = self.response.output.last_mut() else {
            return;
        };
        let summary_index = reasoning.summary.len().saturating_sub(1) as u32;
        if let Some(ContentPart::SummaryText(part)) = reasoning.summary.last_mut() {
            part.text.push_str(&text);
        }
        let item_id = reasoning.id.clone().unwrap_or_default();
        emit!(
            self,
            ResponseStreamEvent::ReasoningSummaryTextDelta(SummaryDeltaEvent {
                sequence_number: 0,
                item_id,
                output_index,
                summary_index,
                delta: text,
                extra: JsonMap::new(),
            })
        );
    }

    /// Keeps a provider blob on the reasoning item, whether or not the client sees it: the
    /// state store keeps it for the next turn.
    fn reasoning_encrypted(&mut self, blob: String) {
        let open_reasoning = matches!(self.open, Some(Open::Reasoning { .. }));
        let free = matches!(self.response.output.last(),
            Some(Item::Reasoning(r)) if r.encrypted_content.is_none());
        // A client that sees blobs gets one item per blob; one that does not sees them folded
        // into the open reasoning item (a redacted block still shows up as reasoning).
        let reuse = open_reasoning && (free || !self.include_encrypted_reasoning);
        if !reuse {
            self.close_item(ItemStatus::Completed);
            self.open_reasoning();
        }
        if let Some(Item::Reasoning(reasoning)) = self.response.output.last_mut()
            && reasoning.encrypted_content.is_none()
        {
            reasoning.encrypted_content = Some(blob);
        }
    }

    /// A complete `compaction` item: announced and done at once.
    fn compaction(&mut self, blob: String) {
        self.close_item(ItemStatus::Completed);
        let item = Item::Other(serde_json::json!({
            "type": "compaction",
            "id": self.next_item_id("cmp"),
            "encrypted_content": blob,
        }));
        self.announce(item, Open::Relayed);
        self.close_item(ItemStatus::Completed);
    }

    fn open_reasoning(&mut self) {
        let id = self.next_item_id("rs");
        let item = Item::Reasoning(ReasoningItem {
            id: Some(id),
            summary: Vec::new(),
            content: None,
            encrypted_content: None,
            status: None,
            extra: JsonMap::new(),
        });
        self.announce(
            item,
            Open::Reasoning {
                summary_open: false,
            },
        );
    }

    fn open_summary_part(&mut self) {
        let output_index = self.open_index();
        let Some(Item::Reasoning(reasoning)) = self.response.output.last_mut() else {
            return;
        };
        let summary_index = reasoning.summary.len() as u32;
        reasoning
            .summary
            .push(ContentPart::SummaryText(TextPart::new("")));
        let item_id = reasoning.id.clone().unwrap_or_default();
        emit!(
            self,
            ResponseStreamEvent::ReasoningSummaryPartAdded(SummaryPartEvent {
                sequence_number: 0,
                item_id,
                output_index,
                summary_index,
                part: ContentPart::SummaryText(TextPart::new("")),
                extra: JsonMap::new(),
            })
        );
        self.open = Some(Open::Reasoning { summary_open: true });
    }

    fn close_summary_part(&mut self) {
        if self.open != Some(Open::Reasoning { summary_open: true }) {
            return;
        }
        self.open = Some(Open::Reasoning {
            summary_open: false,
        });
        if !self.emit {
            return;
        }
        let output_index = self.open_index();
        let Some(Item::Reasoning(reasoning)) = self.response.output.last() else {
            return;
        };
        let Some(ContentPart::SummaryText(part)) = reasoning.summary.last().cloned() else {
            return;
        };
        let summary_index = (reasoning.summary.len() - 1) as u32;
        let item_id = reasoning.id.clone().unwrap_or_default();
        self.push_event(ResponseStreamEvent::ReasoningSummaryTextDone(
            SummaryTextDoneEvent {
                sequence_number: 0,
                item_id: item_id.clone(),
                output_index,
                summary_index,
                text: part.text.clone(),
                extra: JsonMap::new(),
            },
        ));
        self.push_event(ResponseStreamEvent::ReasoningSummaryPartDone(
            SummaryPartEvent {
                sequence_number: 0,
                item_id,
                output_index,
                summary_index,
                part: ContentPart::SummaryText(part),
                extra: JsonMap::new(),
            },
        ));
    }

    // ----- tool calls -----------------------------------------------------------------------

    fn tool_call_start(
        &mut self,
        call_id: Option<String>,
        name: String,
        kind: ToolCallKind,
        namespace: Option<String>,
    ) {
        let mut extra = JsonMap::new();
        if let Some(namespace) = namespace {
            extra.insert("namespace".into(), Value::String(namespace));
        }
        self.close_item(ItemStatus::Completed);
        let call_id = call_id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| ids::call_id(&self.response.id, self.response.output.len()));
        let item = match kind {
            ToolCallKind::Function => Item::FunctionCall(FunctionCallItem {
                id: Some(self.next_item_id("fc")),
                status: Some(ItemStatus::InProgress),
                arguments: String::new(),
                call_id,
                name,
                extra,
            }),
            ToolCallKind::Custom => Item::CustomToolCall(CustomToolCallItem {
                id: Some(self.next_item_id("ctc")),
                status: Some(ItemStatus::InProgress),
                call_id,
                name,
                input: String::new(),
                extra,
            }),
        };
        self.announce(item, Open::ToolCall(kind));
    }

    fn tool_call_state(&mut self, state: String) {
        if !matches!(self.open, Some(Open::ToolCall(_))) {
            return;
        }
        let extra = match self.response.output.last_mut() {
            Some(Item::FunctionCall(call)) => &mut call.extra,
            Some(Item::CustomToolCall(call)) => &mut call.extra,
            _ => return,
        };
        extra.insert(super::CALL_STATE.into(), Value::String(state));
    }

    fn tool_call_delta(&mut self, delta: String) -> Result<(), Error> {
        if !matches!(self.open, Some(Open::ToolCall(_))) {
            return Err(Error::upstream(
                ErrorKind::Upstream,
                "upstream sent tool call arguments outside of a tool call",
            ));
        }
        if delta.is_empty() {
            return Ok(());
        }
        let output_index = self.open_index();
        let item_id = match self.response.output.last_mut() {
            Some(Item::FunctionCall(call)) => {
                call.arguments.push_str(&delta);
                call.id.clone().unwrap_or_default()
            }
            Some(Item::CustomToolCall(call)) => {
                call.input.push_str(&delta);
                call.id.clone().unwrap_or_default()
            }
            _ => return Ok(()),
        };
        let event = ItemDeltaEvent {
            sequence_number: 0,
            item_id,
            output_index,
            delta,
            extra: JsonMap::new(),
        };
        match self.open {
            Some(Open::ToolCall(ToolCallKind::Custom)) => {
                emit!(self, ResponseStreamEvent::CustomToolCallInputDelta(event))
            }
            _ => emit!(self, ResponseStreamEvent::FunctionCallArgumentsDelta(event)),
        }
        Ok(())
    }

    // ----- items ----------------------------------------------------------------------------

    fn next_item_id(&self, prefix: &str) -> String {
        ids::item_id(prefix, &self.response.id, self.response.output.len())
    }

    fn open_index(&self) -> u32 {
        self.response.output.len().saturating_sub(1) as u32
    }

    /// Appends `item` to the output and emits `response.output_item.added`.
    fn announce(&mut self, item: Item, open: Open) {
        let output_index = self.response.output.len() as u32;
        emit!(
            self,
            ResponseStreamEvent::OutputItemAdded(OutputItemEvent {
                sequence_number: 0,
                output_index,
                item: item.clone(),
                extra: JsonMap::new(),
            })
        );
        self.response.output.push(item);
        self.open = Some(open);
    }

    /// Closes the open item (and its open part) and emits `response.output_item.done`.
    fn close_item(&mut self, status: ItemStatus) {
        let Some(open) = self.open else { return };
        let output_index = self.open_index();
        match open {
            Open::Message { .. } => self.close_part(),
            Open::Reasoning { .. } => self.close_summary_part(),
            Open::ToolCall(kind) if self.emit => {
                let (item_id, name, text) = match self.response.output.last() {
                    Some(Item::FunctionCall(c)) => (&c.id, c.name.clone(), c.arguments.clone()),
                    Some(Item::CustomToolCall(c)) => (&c.id, c.name.clone(), c.input.clone()),
                    _ => (&None, String::new(), String::new()),
                };
                let item_id = item_id.clone().unwrap_or_default();
                let event = match kind {
                    ToolCallKind::Function => {
                        ResponseStreamEvent::FunctionCallArgumentsDone(ArgumentsDoneEvent {
                            sequence_number: 0,
                            item_id,
                            output_index,
                            arguments: text,
                            name: Some(name),
                            extra: JsonMap::new(),
                        })
                    }
                    ToolCallKind::Custom => {
                        ResponseStreamEvent::CustomToolCallInputDone(CustomInputDoneEvent {
                            sequence_number: 0,
                            item_id,
                            output_index,
                            input: text,
                            extra: JsonMap::new(),
                        })
                    }
                };
                self.push_event(event);
            }
            Open::ToolCall(_) | Open::Relayed => {}
        }
        self.open = None;
        let Some(item) = self.response.output.last_mut() else {
            return;
        };
        match item {
            Item::Message(m) => m.status = Some(status),
            Item::FunctionCall(c) => c.status = Some(status),
            Item::CustomToolCall(c) => c.status = Some(status),
            // Reasoning items carry no status in live traffic.
            _ => {}
        }
        if self.emit {
            let item = item.clone();
            let item = self.shown(item);
            self.push_event(ResponseStreamEvent::OutputItemDone(OutputItemEvent {
                sequence_number: 0,
                output_index,
                item,
                extra: JsonMap::new(),
            }));
        }
    }

    // ----- terminal -------------------------------------------------------------------------

    /// Ends the response normally: closes the open item and emits `response.completed`, or
    /// `response.incomplete` when the finish reason says the output was cut short.
    pub fn complete(&mut self) {
        if self.terminal {
            return;
        }
        let incomplete = match self.finish {
            Some(FinishReason::Length) => Some("max_output_tokens"),
            Some(FinishReason::ContentFilter) => Some("content_filter"),
            Some(FinishReason::Stop) | None => None,
        };
        self.close_item(if incomplete.is_some() {
            ItemStatus::Incomplete
        } else {
            ItemStatus::Completed
        });
        if self.response.usage.is_none() {
            self.response.usage = Some(Usage::default());
        }
        if let Some(reason) = incomplete {
            self.response.status = ResponseStatus::Incomplete;
            self.response.incomplete_details = Some(IncompleteDetails {
                reason: reason.into(),
            });
            self.terminate(ResponseStreamEvent::Incomplete);
        } else {
            self.response.status = ResponseStatus::Completed;
            self.response.completed_at = Some(now());
            self.terminate(ResponseStreamEvent::Completed);
        }
    }

    /// Ends the response with `response.failed`, closing the open item as incomplete.
    pub fn fail(&mut self, error: &Error) {
        if self.terminal {
            return;
        }
        self.close_item(ItemStatus::Incomplete);
        self.response.status = ResponseStatus::Failed;
        self.response.error = Some(ResponseError {
            code: error.response_error_code(),
            message: error.message.clone(),
        });
        self.terminate(ResponseStreamEvent::Failed);
    }

    /// The terminal event of a finished `response` (`response.completed`, `.incomplete` or
    /// `.failed` by its status), numbered `sequence_number`: what a replay of a stored
    /// response ends with when its own terminal event was not kept.
    pub fn terminal_event(response: Response, sequence_number: u64) -> ResponseStreamEvent {
        let wrap = match response.status {
            ResponseStatus::Completed => ResponseStreamEvent::Completed,
            ResponseStatus::Incomplete => ResponseStreamEvent::Incomplete,
            _ => ResponseStreamEvent::Failed,
        };
        wrap(LifecycleEvent {
            sequence_number,
            response: Box::new(response),
            extra: JsonMap::new(),
        })
    }

    /// Ends a background response that was cancelled: the open item is left incomplete and
    /// the stream ends with `response.failed` carrying status `cancelled` (the stream grammar
    /// has no event of its own for it). No `error`: a cancellation is not one, and OpenAI's
    /// error codes have none for it (a client that validates the response refuses any other).
    pub fn cancel(&mut self) {
        if self.terminal {
            return;
        }
        self.close_item(ItemStatus::Incomplete);
        self.response.status = ResponseStatus::Cancelled;
        self.response.error = None;
        self.terminate(ResponseStreamEvent::Failed);
    }

    fn terminate(&mut self, wrap: fn(LifecycleEvent) -> ResponseStreamEvent) {
        let mut usage = self.response.usage.take();
        self.annotate_cost(usage.as_mut());
        self.response.usage = usage;
        self.terminal = true;
        emit!(self, wrap(self.lifecycle()));
    }

    // ----- relay ----------------------------------------------------------------------------

    /// Applies one event relayed from an upstream that speaks the Responses API. The event is
    /// forwarded as it came, with the gateway's sequence number and response id; the builder
    /// tracks the output so that it can finish or fail the stream itself if the upstream breaks
    /// off, and fills in an upstream terminal event that arrives with an empty `output`.
    pub fn relay(&mut self, mut event: ResponseStreamEvent) {
        if self.terminal {
            return;
        }
        let is_created = matches!(event, ResponseStreamEvent::Created(_));
        if !self.relay.started {
            self.relay.started = true;
            if !is_created {
                // An upstream that skips `response.created` still yields a valid stream.
                self.start();
            }
        } else if is_created {
            return; // A second `response.created` would break every client's accumulator.
        }
        use ResponseStreamEvent as E;
        match &mut event {
            E::Created(e) | E::Queued(e) | E::InProgress(e) => {
                self.adopt_upstream_response(&mut e.response, false);
            }
            E::Completed(e) | E::Incomplete(e) | E::Failed(e) => {
                if self.open.is_some() {
                    // The upstream ended with an item still open: close it for the client, and
                    // let the terminal response show it as closed.
                    let status = if e.response.status == ResponseStatus::Completed {
                        ItemStatus::Completed
                    } else {
                        ItemStatus::Incomplete
                    };
                    self.close_item(status);
                    e.response.output = self.response.output.clone();
                }
                self.adopt_upstream_response(&mut e.response, true);
                self.annotate_cost(e.response.usage.as_mut());
                self.response.usage = e.response.usage.clone();
                self.terminal = true;
            }
            E::Other(Value::Object(map)) => {
                if map.contains_key("response_id") {
                    map.insert(
                        "response_id".into(),
                        Value::String(self.response.id.clone()),
                    );
                }
            }
            other => self.track_relayed(other),
        }
        emit!(self, event);
    }

    /// Mirrors a relayed item event in the builder's own state, so that a stream the upstream
    /// breaks off can be closed consistently with what the client has already seen.
    fn track_relayed(&mut self, event: &ResponseStreamEvent) {
        use ResponseStreamEvent as E;
        match event {
            E::OutputItemAdded(e) if e.output_index as usize == self.response.output.len() => {
                self.open = Some(match &e.item {
                    Item::Message(_) => Open::Message { part: None },
                    Item::Reasoning(_) => Open::Reasoning {
                        summary_open: false,
                    },
                    Item::FunctionCall(_) => Open::ToolCall(ToolCallKind::Function),
                    Item::CustomToolCall(_) => Open::ToolCall(ToolCallKind::Custom),
                    _ => Open::Relayed,
                });
                self.response.output.push(e.item.clone());
            }
            E::OutputItemDone(e) => {
                if let Some(slot) = self.response.output.get_mut(e.output_index as usize) {
                    *slot = e.item.clone();
                }
                self.open = None;
            }
            E::ContentPartAdded(e) => {
                let kind = match &e.part {
                    ContentPart::OutputText(_) => Some(PartKind::Text),
                    ContentPart::Refusal(_) => Some(PartKind::Refusal),
                    _ => None,
                };
                if let Some(Item::Message(m)) = self.response.output.last_mut()
                    && let MessageContent::Parts(parts) = &mut m.content
                {
                    parts.push(e.part.clone());
                    self.open = Some(Open::Message { part: kind });
                }
            }
            E::ContentPartDone(e) => {
                if let Some(Item::Message(m)) = self.response.output.last_mut()
                    && let MessageContent::Parts(parts) = &mut m.content
                    && let Some(slot) = parts.get_mut(e.content_index as usize)
                {
                    *slot = e.part.clone();
                    self.open = Some(Open::Message { part: None });
                }
            }
            E::OutputTextDelta(OutputTextDeltaEvent { delta, .. })
            | E::RefusalDelta(ContentDeltaEvent { delta, .. }) => {
                if let Some(Item::Message(m)) = self.response.output.last_mut()
                    && let MessageContent::Parts(parts) = &mut m.content
                {
                    match parts.last_mut() {
                        Some(ContentPart::OutputText(p)) => p.text.push_str(delta),
                        Some(ContentPart::Refusal(p)) => p.refusal.push_str(delta),
                        _ => {}
                    }
                }
            }
            E::ReasoningSummaryPartAdded(e) => {
                if let Some(Item::Reasoning(r)) = self.response.output.last_mut() {
                    r.summary.push(e.part.clone());
                    self.open = Some(Open::Reasoning { summary_open: true });
                }
            }
            E::ReasoningSummaryTextDelta(e) => {
                if let Some(Item::Reasoning(r)) = self.response.output.last_mut()
                    && let Some(ContentPart::SummaryText(p)) = r.summary.last_mut()
                {
                    p.text.push_str(&e.delta);
                }
            }
            E::ReasoningSummaryPartDone(_) => {
                if matches!(self.open, Some(Open::Reasoning { .. })) {
                    self.open = Some(Open::Reasoning {
                        summary_open: false,
                    });
                }
            }
            E::FunctionCallArgumentsDelta(e) | E::CustomToolCallInputDelta(e) => {
                match self.response.output.last_mut() {
                    Some(Item::FunctionCall(c)) => c.arguments.push_str(&e.delta),
                    Some(Item::CustomToolCall(c)) => c.input.push_str(&e.delta),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Adopts a relayed non-streamed response: the gateway's id, the upstream's everything else.
    pub fn relay_response(&mut self, mut response: Response) {
        self.adopt_upstream_response(&mut response, true);
        self.annotate_cost(response.usage.as_mut());
        self.response = response;
        self.terminal = true;
    }

    /// Takes the upstream's view of the response; a terminal response with an empty `output`
    /// gets the items streamed before it.
    ///
    /// The response id: an upstream id that already meets the client contract (`resp_…`, at
    /// most 64 characters of `[A-Za-z0-9_-]`) is kept, so `previous_response_id` works against
    /// the upstream directly; any other id is replaced by the gateway's, in every event.
    fn adopt_upstream_response(&mut self, upstream: &mut Response, terminal: bool) {
        if self.relay.upstream_id.is_none() && !upstream.id.is_empty() {
            self.relay.upstream_id = Some(upstream.id.clone());
            if !self.relay.id_exposed && ids::is_client_safe_response_id(&upstream.id) {
                self.response.id = upstream.id.clone();
            }
        }
        upstream.id = self.response.id.clone();
        if terminal && upstream.output.is_empty() && !self.response.output.is_empty() {
            upstream.output = self.response.output.clone();
        }
        if let Some(usage) = upstream.usage.take() {
            upstream.usage = Some(normalize_usage(usage));
        }
        // The gateway's own state stays as the envelope says: the upstream was sent the whole
        // history, not the response it continues or the conversation it belongs to.
        if self.response.previous_response_id.is_some() {
            upstream
                .previous_response_id
                .clone_from(&self.response.previous_response_id);
        }
        if let Some(conversation) = self.response.extra.get("conversation") {
            upstream
                .extra
                .insert("conversation".into(), conversation.clone());
        }
        // A background response runs detached from the upstream, which was not asked for one.
        upstream.background |= self.response.background;
        self.response = upstream.clone();
    }
}

/// Fills `total_tokens` when an upstream left it out.
fn normalize_usage(mut usage: Usage) -> Usage {
    let sum = usage.input_tokens + usage.output_tokens;
    if usage.total_tokens < sum {
        usage.total_tokens = sum;
    }
    usage
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The item without its provider blob.
fn hide_blob(mut item: Item) -> Item {
    if let Item::Reasoning(r) = &mut item {
        r.encrypted_content = None;
    }
    hide_call_state(item)
}

/// The item without the provider state the gateway keeps with a tool call.
pub(crate) fn hide_call_state(mut item: Item) -> Item {
    match &mut item {
        Item::FunctionCall(call) => {
            call.extra.shift_remove(super::CALL_STATE);
        }
        Item::CustomToolCall(call) => {
            call.extra.shift_remove(super::CALL_STATE);
        }
        _ => {}
    }
    item
}
