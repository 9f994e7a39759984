//! The OpenAI Responses event stream of a [`Plan`]: lifecycle events
//! carrying the full `Response`, every item added then done, deltas with `obfuscation`, and no
//! `[DONE]`.

use bytes::Bytes;
use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    ArgumentsDoneEvent, ContentDeltaEvent, ContentPart, ContentPartEvent, ErrorEvent, ErrorPayload,
    FunctionCallItem, Item, ItemDeltaEvent, ItemStatus, LifecycleEvent, MessageContent,
    MessageItem, OutputItemEvent, OutputTextDeltaEvent, OutputTextDoneEvent, ReasoningItem,
    RefusalDoneEvent, Response, ResponseError, ResponseStatus, ResponseStreamEvent,
    SummaryDeltaEvent, SummaryPartEvent, SummaryTextDoneEvent, TextPart,
};

use super::object::{ResponsesCtx, items, terminal};
use crate::errors::MIDSTREAM_MESSAGE;
use crate::ids;
use crate::plan::Plan;
use crate::split;
use crate::sse;

/// Collects events into frames, numbering them from 0.
struct Emitter {
    seq: u64,
    frames: Vec<Bytes>,
    obfuscation: bool,
}

impl Emitter {
    fn push(&mut self, mut event: ResponseStreamEvent) {
        event.set_sequence_number(self.seq);
        self.seq += 1;
        self.frames.push(sse::named(event.kind(), &event));
    }

    fn extra(&self) -> JsonMap {
        let mut extra = JsonMap::new();
        if self.obfuscation {
            extra.insert("obfuscation".into(), Value::String(ids::obfuscation()));
        }
        extra
    }

    fn lifecycle(response: Response) -> LifecycleEvent {
        LifecycleEvent {
            sequence_number: 0,
            response: Box::new(response),
            extra: JsonMap::new(),
        }
    }

    fn item_event(index: usize, item: Item) -> OutputItemEvent {
        OutputItemEvent {
            sequence_number: 0,
            output_index: index as u32,
            item,
            extra: JsonMap::new(),
        }
    }

    fn part_event(item_id: &str, index: usize, part: ContentPart) -> ContentPartEvent {
        ContentPartEvent {
            sequence_number: 0,
            item_id: item_id.to_string(),
            output_index: index as u32,
            content_index: 0,
            part,
            extra: JsonMap::new(),
        }
    }
}

/// The item as announced by `output_item.added`: in progress and empty.
fn initial(item: &Item) -> Item {
    let mut item = item.clone();
    match &mut item {
        Item::Message(m) => {
            m.status = Some(ItemStatus::InProgress);
            m.content = MessageContent::Parts(Vec::new());
        }
        Item::FunctionCall(c) => {
            c.status = Some(ItemStatus::InProgress);
            c.arguments.clear();
        }
        Item::Reasoning(r) => r.summary.clear(),
        _ => {}
    }
    item
}

/// The frames of the complete event stream (in the order OpenAI emits them). With
/// `midstream_error`, the stream ends after the answer's first delta with an `error` event and
/// `response.failed`.
pub(crate) fn stream(ctx: &ResponsesCtx, plan: &Plan) -> Vec<Bytes> {
    stream_of(ctx, plan, items(ctx, plan))
}

/// The event stream of a response whose output is `items` (in their final state).
pub(crate) fn stream_of(ctx: &ResponsesCtx, plan: &Plan, items: Vec<Item>) -> Vec<Bytes> {
    use ResponseStreamEvent as E;
    let mut out = Emitter {
        seq: 0,
        frames: Vec::with_capacity(16),
        obfuscation: ctx.obfuscation,
    };
    out.push(E::Created(Emitter::lifecycle(ctx.base.clone())));
    out.push(E::InProgress(Emitter::lifecycle(ctx.base.clone())));
    for (index, item) in items.iter().enumerate() {
        out.push(E::OutputItemAdded(Emitter::item_event(
            index,
            initial(item),
        )));
        let cut_short = match item {
            Item::Reasoning(r) => {
                summary_events(&mut out, r, index);
                false
            }
            Item::Message(m) => message_events(&mut out, m, index, plan.faults.midstream_error),
            Item::FunctionCall(c) => call_events(&mut out, c, index, plan.faults.midstream_error),
            _ => false,
        };
        if cut_short {
            fail(&mut out, ctx, items[..index].to_vec());
            return out.frames;
        }
        out.push(E::OutputItemDone(Emitter::item_event(index, item.clone())));
    }
    let response = terminal(ctx, plan, items);
    out.push(if response.status == ResponseStatus::Incomplete {
        E::Incomplete(Emitter::lifecycle(response))
    } else {
        E::Completed(Emitter::lifecycle(response))
    });
    out.frames
}

fn summary_events(out: &mut Emitter, item: &ReasoningItem, index: usize) {
    use ResponseStreamEvent as E;
    let item_id = item.id.clone().unwrap_or_default();
    for (summary_index, part) in item.summary.iter().enumerate() {
        let ContentPart::SummaryText(part) = part else {
            continue;
        };
        let part_event = |text: &str| SummaryPartEvent {
            sequence_number: 0,
            item_id: item_id.clone(),
            output_index: index as u32,
            summary_index: summary_index as u32,
            part: ContentPart::SummaryText(TextPart::new(text)),
            extra: JsonMap::new(),
        };
        out.push(E::ReasoningSummaryPartAdded(part_event("")));
        for delta in split::words(&part.text) {
            let extra = out.extra();
            out.push(E::ReasoningSummaryTextDelta(SummaryDeltaEvent {
                sequence_number: 0,
                item_id: item_id.clone(),
                output_index: index as u32,
                summary_index: summary_index as u32,
                delta: delta.to_string(),
                extra,
            }));
        }
        out.push(E::ReasoningSummaryTextDone(SummaryTextDoneEvent {
            sequence_number: 0,
            item_id: item_id.clone(),
            output_index: index as u32,
            summary_index: summary_index as u32,
            text: part.text.clone(),
            extra: JsonMap::new(),
        }));
        out.push(E::ReasoningSummaryPartDone(part_event(&part.text)));
    }
}

/// Emits a message's part events; returns true when it stopped after the first delta.
fn message_events(out: &mut Emitter, item: &MessageItem, index: usize, cut: bool) -> bool {
    use ResponseStreamEvent as E;
    let item_id = item.id.clone().unwrap_or_default();
    let MessageContent::Parts(parts) = &item.content else {
        return false;
    };
    let Some(part) = parts.first() else {
        return false;
    };
    let (text, refusal) = match part {
        ContentPart::OutputText(p) => (p.text.as_str(), false),
        ContentPart::Refusal(p) => (p.refusal.as_str(), true),
        _ => return false,
    };
    let empty = if refusal {
        ContentPart::refusal("")
    } else {
        ContentPart::output_text("")
    };
    out.push(E::ContentPartAdded(Emitter::part_event(
        &item_id, index, empty,
    )));
    for delta in split::words(text) {
        let extra = out.extra();
        out.push(if refusal {
            E::RefusalDelta(ContentDeltaEvent {
                sequence_number: 0,
                item_id: item_id.clone(),
                output_index: index as u32,
                content_index: 0,
                delta: delta.to_string(),
                extra,
            })
        } else {
            E::OutputTextDelta(OutputTextDeltaEvent {
                sequence_number: 0,
                item_id: item_id.clone(),
                output_index: index as u32,
                content_index: 0,
                delta: delta.to_string(),
                logprobs: Vec::new(),
                extra,
            })
        });
        if cut {
            return true;
        }
    }
    out.push(if refusal {
        E::RefusalDone(RefusalDoneEvent {
            sequence_number: 0,
            item_id: item_id.clone(),
            output_index: index as u32,
            content_index: 0,
            refusal: text.to_string(),
            extra: JsonMap::new(),
        })
    } else {
        E::OutputTextDone(OutputTextDoneEvent {
            sequence_number: 0,
            item_id: item_id.clone(),
            output_index: index as u32,
            content_index: 0,
            text: text.to_string(),
            logprobs: Vec::new(),
            extra: JsonMap::new(),
        })
    });
    out.push(E::ContentPartDone(Emitter::part_event(
        &item_id,
        index,
        part.clone(),
    )));
    false
}

/// Emits a function call's argument events; returns true when it stopped after the first delta.
fn call_events(out: &mut Emitter, item: &FunctionCallItem, index: usize, cut: bool) -> bool {
    use ResponseStreamEvent as E;
    let item_id = item.id.clone().unwrap_or_default();
    for fragment in split::fragments(&item.arguments) {
        let extra = out.extra();
        out.push(E::FunctionCallArgumentsDelta(ItemDeltaEvent {
            sequence_number: 0,
            item_id: item_id.clone(),
            output_index: index as u32,
            delta: fragment.to_string(),
            extra,
        }));
        if cut {
            return true;
        }
    }
    out.push(E::FunctionCallArgumentsDone(ArgumentsDoneEvent {
        sequence_number: 0,
        item_id,
        output_index: index as u32,
        arguments: item.arguments.clone(),
        name: Some(item.name.clone()),
        extra: JsonMap::new(),
    }));
    false
}

/// The in-band failure: the nested `error` event the live API sends, then `response.failed`
/// holding the items finished so far.
fn fail(out: &mut Emitter, ctx: &ResponsesCtx, done: Vec<Item>) {
    use ResponseStreamEvent as E;
    out.push(E::Error(ErrorEvent {
        sequence_number: 0,
        error: Some(ErrorPayload {
            kind: Some("server_error".into()),
            code: Some("server_error".into()),
            message: MIDSTREAM_MESSAGE.into(),
            param: None,
        }),
        extra: JsonMap::new(),
    }));
    let mut response = ctx.base.clone();
    response.status = ResponseStatus::Failed;
    response.output = done;
    response.error = Some(ResponseError {
        code: "server_error".into(),
        message: MIDSTREAM_MESSAGE.into(),
    });
    out.push(E::Failed(Emitter::lifecycle(response)));
}
