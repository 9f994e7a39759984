//! A checker for the Responses stream grammar: the streaming events of OpenAI's API reference
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>) in the order they
//! may come, plus the item identity rules openai-node v7.5 enforces. Tests run every stream the
//! gateway produces through it; it is public so that other crates' tests can too.
//!
//! The rules are grouped by event family: the lifecycle (`response.created` … the terminal
//! event), output items, content and summary parts, and the text and tool input streamed into
//! them.

use std::collections::HashSet;

use switchyard_types::responses::{
    ContentPart, ContentPartEvent, Item, ItemStatus, LifecycleEvent, MessageContent,
    OutputItemEvent, ResponseStatus, ResponseStreamEvent, SummaryPartEvent,
};

/// Accumulated state of the item currently open.
#[derive(Debug)]
struct OpenItem {
    index: u32,
    id: String,
    kind: String,
    call_id: Option<String>,
    /// Accumulated content parts (messages) or summary parts (reasoning).
    parts: Vec<StreamedPart>,
    /// Accumulated function arguments or custom tool input.
    arguments: String,
}

/// A part as its events built it.
#[derive(Debug)]
struct StreamedPart {
    kind: String,
    text: String,
    open: bool,
}

impl StreamedPart {
    fn opened(kind: &str) -> StreamedPart {
        StreamedPart {
            kind: kind.to_string(),
            text: String::new(),
            open: true,
        }
    }
}

/// A kind of text streamed into parts: the items it may appear in, the part it writes, and
/// the complaint when its `.done` event disagrees with its deltas.
struct TextKind {
    items: &'static [&'static str],
    part: &'static str,
    differs: &'static str,
}

const OUTPUT_TEXT: TextKind = TextKind {
    items: &["message"],
    part: "output_text",
    differs: "output_text.done differs from the deltas",
};
const REFUSAL: TextKind = TextKind {
    items: &["message"],
    part: "refusal",
    differs: "refusal.done differs from the deltas",
};
const REASONING_TEXT: TextKind = TextKind {
    items: &["reasoning"],
    part: "reasoning_text",
    differs: "reasoning_text.done differs from the deltas",
};
const SUMMARY_TEXT: TextKind = TextKind {
    items: &["reasoning"],
    part: "summary_text",
    differs: "summary text done differs from the deltas",
};

const FUNCTION_CALL: &str = "function_call";
const ARGUMENTS_DIFFER: &str = "arguments.done differs from the deltas";
const CUSTOM_TOOL_CALL: &str = "custom_tool_call";
const INPUT_DIFFERS: &str = "custom input done differs from the deltas";

/// A text event: the kind of text, the item and part it goes to, and what it says.
struct TextEvent<'e> {
    kind: &'static TextKind,
    item_id: &'e str,
    output_index: u32,
    index: u32,
    text: Text<'e>,
}

/// A delta, or the `.done` event with the whole text.
enum Text<'e> {
    Delta(&'e str),
    Done(&'e str),
}

/// Checks a complete stream. Returns the first violation found.
pub fn check_stream(events: &[ResponseStreamEvent]) -> Result<(), String> {
    let mut checker = Checker::default();
    for (position, event) in events.iter().enumerate() {
        checker
            .event(position, event)
            .map_err(|e| format!("event #{position} ({}): {e}", event.kind()))?;
    }
    if !checker.terminal {
        return Err("stream ended without a terminal event".into());
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Checker {
    started: bool,
    terminal: bool,
    response_id: String,
    open: Option<OpenItem>,
    /// Final form of every item, from its `output_item.done`.
    done_items: Vec<Item>,
    item_ids: HashSet<String>,
    call_ids: HashSet<String>,
}

fn item_kind_and_id(item: &Item) -> (String, String, Option<String>) {
    let call_id = match item {
        Item::FunctionCall(c) => Some(c.call_id.clone()),
        Item::CustomToolCall(c) => Some(c.call_id.clone()),
        _ => None,
    };
    (
        item.kind().to_string(),
        item.id().unwrap_or_default().to_string(),
        call_id,
    )
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Checker {
    fn event(&mut self, position: usize, event: &ResponseStreamEvent) -> Result<(), String> {
        self.in_sequence(position, event)?;
        if position == 0 {
            return self.created(event);
        }
        self.lifecycle(event)
            .or_else(|| self.items(event))
            .or_else(|| self.content_parts(event))
            .or_else(|| self.streamed_text(event))
            .or_else(|| self.tool_input(event))
            .unwrap_or_else(|| other_event(event))
    }

    /// Nothing after the terminal event, and sequence numbers counting from 0.
    fn in_sequence(&self, position: usize, event: &ResponseStreamEvent) -> Result<(), String> {
        if self.terminal {
            return Err("event after the terminal event".into());
        }
        if event.sequence_number() != Some(position as u64) {
            return Err(format!(
                "sequence_number {:?}, expected {position}",
                event.sequence_number()
            ));
        }
        Ok(())
    }

    /// The first event: `response.created`, with no output and a well-formed id.
    fn created(&mut self, event: &ResponseStreamEvent) -> Result<(), String> {
        let ResponseStreamEvent::Created(created) = event else {
            return Err("the first event must be response.created".into());
        };
        if !created.response.output.is_empty() {
            return Err("response.created must carry an empty output".into());
        }
        if !valid_id(&created.response.id) || !created.response.id.starts_with("resp_") {
            return Err(format!("bad response id {:?}", created.response.id));
        }
        self.response_id = created.response.id.clone();
        self.started = true;
        Ok(())
    }

    /// Lifecycle events after the first: progress, and the terminal event.
    fn lifecycle(&mut self, event: &ResponseStreamEvent) -> Option<Result<(), String>> {
        use ResponseStreamEvent as E;
        Some(match event {
            E::Created(_) => Err("a second response.created".into()),
            E::Queued(e) | E::InProgress(e) => self.same_response(&e.response.id),
            E::Completed(e) => self.ended(e, ResponseStatus::Completed),
            E::Incomplete(e) => self.ended(e, ResponseStatus::Incomplete),
            E::Failed(e) => self.ended(e, ResponseStatus::Failed),
            _ => return None,
        })
    }

    /// The terminal event: every item closed, the status its name says with what that status
    /// requires, and the output the streamed items built.
    fn ended(&mut self, e: &LifecycleEvent, expected: ResponseStatus) -> Result<(), String> {
        self.same_response(&e.response.id)?;
        if let Some(open) = &self.open {
            return Err(format!("item {} still open at the end", open.id));
        }
        let response = &e.response;
        // A cancelled background response ends with `response.failed`, without an error.
        let cancelled = expected == ResponseStatus::Failed
            && response.status == ResponseStatus::Cancelled
            && response.error.is_none();
        if response.status != expected && !cancelled {
            return Err(format!(
                "status {:?}, expected {expected:?}",
                response.status
            ));
        }
        match expected {
            ResponseStatus::Completed => {
                if response.usage.is_none() {
                    return Err("completed response without usage".into());
                }
                if response.completed_at.is_none() {
                    return Err("completed response without completed_at".into());
                }
            }
            ResponseStatus::Incomplete if response.incomplete_details.is_none() => {
                return Err("incomplete response without incomplete_details".into());
            }
            ResponseStatus::Failed if !cancelled && response.error.is_none() => {
                return Err("failed response without error".into());
            }
            _ => {}
        }
        if response.output != self.done_items {
            return Err(format!(
                "terminal output differs from the streamed items:\n  terminal: {:?}\n  streamed: {:?}",
                response.output, self.done_items
            ));
        }
        self.terminal = true;
        Ok(())
    }

    /// `output_item.added` and `output_item.done`.
    fn items(&mut self, event: &ResponseStreamEvent) -> Option<Result<(), String>> {
        use ResponseStreamEvent as E;
        Some(match event {
            E::OutputItemAdded(e) => self.item_added(e),
            E::OutputItemDone(e) => self.item_done(e),
            _ => return None,
        })
    }

    /// An item opens: one at a time, at the next index, with a fresh id (and call id), and
    /// empty of what its events will stream.
    fn item_added(&mut self, e: &OutputItemEvent) -> Result<(), String> {
        if let Some(open) = &self.open {
            return Err(format!(
                "item {} added while {} is open",
                e.output_index, open.id
            ));
        }
        if e.output_index as usize != self.done_items.len() {
            return Err(format!(
                "output_index {} but {} items exist",
                e.output_index,
                self.done_items.len()
            ));
        }
        let (kind, id, call_id) = item_kind_and_id(&e.item);
        if !valid_id(&id) {
            return Err(format!("bad item id {id:?}"));
        }
        if !self.item_ids.insert(id.clone()) {
            return Err(format!("duplicate item id {id}"));
        }
        if let Some(call_id) = &call_id
            && (call_id.is_empty() || !self.call_ids.insert(call_id.clone()))
        {
            return Err(format!("empty or duplicate call_id {call_id:?}"));
        }
        check_added_empty(&e.item)?;
        self.open = Some(OpenItem {
            index: e.output_index,
            id,
            kind,
            call_id,
            parts: Vec::new(),
            arguments: String::new(),
        });
        Ok(())
    }

    /// An item closes: the one open, the same item, holding what its events streamed.
    fn item_done(&mut self, e: &OutputItemEvent) -> Result<(), String> {
        let open = self.take_open(e.output_index)?;
        let (kind, id, call_id) = item_kind_and_id(&e.item);
        if kind != open.kind || id != open.id || call_id != open.call_id {
            return Err(format!(
                "done item ({kind}, {id}) differs from added ({}, {})",
                open.kind, open.id
            ));
        }
        if open.parts.iter().any(|part| part.open) {
            return Err("item done with a part still open".into());
        }
        match &e.item {
            Item::Message(m) => {
                let MessageContent::Parts(parts) = &m.content else {
                    return Err("message content is not a part list".into());
                };
                check_parts(parts, &open.parts)?;
            }
            Item::Reasoning(r) => check_parts(&r.summary, &open.parts)?,
            Item::FunctionCall(c) if c.arguments != open.arguments => {
                return Err("function_call arguments differ from the deltas".into());
            }
            Item::CustomToolCall(c) if c.input != open.arguments => {
                return Err("custom_tool_call input differs from the deltas".into());
            }
            _ => {}
        }
        self.done_items.push(e.item.clone());
        Ok(())
    }

    /// Content parts (messages, reasoning) and summary parts (reasoning) opening and closing.
    fn content_parts(&mut self, event: &ResponseStreamEvent) -> Option<Result<(), String>> {
        use ResponseStreamEvent as E;
        Some(match event {
            E::ContentPartAdded(e) => self.content_part_added(e),
            E::ContentPartDone(e) => self.part_done(
                (&e.item_id, e.output_index, &["message", "reasoning"]),
                (e.content_index, e.part.kind()),
                &e.part,
                "content_part.done text differs from the deltas",
            ),
            E::ReasoningSummaryPartAdded(e) => self.summary_part_added(e),
            E::ReasoningSummaryPartDone(e) => self.part_done(
                (&e.item_id, e.output_index, &["reasoning"]),
                (e.summary_index, "summary_text"),
                &e.part,
                "summary part done text differs from the deltas",
            ),
            _ => return None,
        })
    }

    /// A content part opens: at the next index, after the previous part closed, empty.
    fn content_part_added(&mut self, e: &ContentPartEvent) -> Result<(), String> {
        let open = self.open_item(&e.item_id, e.output_index, &["message", "reasoning"])?;
        if e.content_index as usize != open.parts.len() {
            return Err(format!(
                "content_index {} but {} parts exist",
                e.content_index,
                open.parts.len()
            ));
        }
        if open.parts.last().is_some_and(|p| p.open) {
            return Err("part added while another is open".into());
        }
        if !part_text(&e.part).is_empty() {
            return Err("part added with text".into());
        }
        open.parts.push(StreamedPart::opened(e.part.kind()));
        Ok(())
    }

    /// A summary part opens, at the next index.
    fn summary_part_added(&mut self, e: &SummaryPartEvent) -> Result<(), String> {
        let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
        if e.summary_index as usize != open.parts.len() {
            return Err(format!(
                "summary_index {} but {} summary parts exist",
                e.summary_index,
                open.parts.len()
            ));
        }
        open.parts.push(StreamedPart::opened("summary_text"));
        Ok(())
    }

    /// A part closes, holding the text its deltas streamed.
    fn part_done(
        &mut self,
        (item_id, output_index, kinds): (&str, u32, &[&str]),
        (index, kind): (u32, &str),
        part: &ContentPart,
        differs: &str,
    ) -> Result<(), String> {
        let open = self.open_item(item_id, output_index, kinds)?;
        let streamed = open_part(open, index, kind)?;
        if part_text(part) != streamed.text {
            return Err(differs.into());
        }
        streamed.open = false;
        Ok(())
    }

    /// Text streamed into the open part (output text, refusals, reasoning, summaries): deltas
    /// append, and the `.done` event repeats what they built.
    fn streamed_text(&mut self, event: &ResponseStreamEvent) -> Option<Result<(), String>> {
        let e = text_event(event)?;
        let result = self
            .open_item(e.item_id, e.output_index, e.kind.items)
            .and_then(|open| open_part(open, e.index, e.kind.part))
            .and_then(|part| match e.text {
                Text::Delta(delta) => {
                    part.text.push_str(delta);
                    Ok(())
                }
                Text::Done(done) if part.text != done => Err(e.kind.differs.into()),
                Text::Done(_) => Ok(()),
            });
        Some(result)
    }

    /// Tool input streamed into the open call (function arguments, custom tool input).
    fn tool_input(&mut self, event: &ResponseStreamEvent) -> Option<Result<(), String>> {
        use ResponseStreamEvent as E;
        let (item, differs, (item_id, output_index), text) = match event {
            E::FunctionCallArgumentsDelta(e) => (
                FUNCTION_CALL,
                ARGUMENTS_DIFFER,
                (&e.item_id, e.output_index),
                Text::Delta(&e.delta),
            ),
            E::FunctionCallArgumentsDone(e) => (
                FUNCTION_CALL,
                ARGUMENTS_DIFFER,
                (&e.item_id, e.output_index),
                Text::Done(&e.arguments),
            ),
            E::CustomToolCallInputDelta(e) => (
                CUSTOM_TOOL_CALL,
                INPUT_DIFFERS,
                (&e.item_id, e.output_index),
                Text::Delta(&e.delta),
            ),
            E::CustomToolCallInputDone(e) => (
                CUSTOM_TOOL_CALL,
                INPUT_DIFFERS,
                (&e.item_id, e.output_index),
                Text::Done(&e.input),
            ),
            _ => return None,
        };
        let result = self
            .open_item(item_id, output_index, &[item])
            .and_then(|open| match text {
                Text::Delta(delta) => {
                    open.arguments.push_str(delta);
                    Ok(())
                }
                Text::Done(done) if open.arguments != done => Err(differs.into()),
                Text::Done(_) => Ok(()),
            });
        Some(result)
    }

    fn same_response(&self, id: &str) -> Result<(), String> {
        if id != self.response_id {
            return Err(format!(
                "response id {id} differs from the announced {}",
                self.response_id
            ));
        }
        Ok(())
    }

    fn take_open(&mut self, index: u32) -> Result<OpenItem, String> {
        match self.open.take() {
            Some(open) if open.index == index => Ok(open),
            Some(open) => Err(format!(
                "output_item.done for index {index} while {} is open",
                open.index
            )),
            None => Err(format!(
                "output_item.done for index {index} with no open item"
            )),
        }
    }

    fn open_item(
        &mut self,
        item_id: &str,
        index: u32,
        kinds: &[&str],
    ) -> Result<&mut OpenItem, String> {
        let Some(open) = self.open.as_mut() else {
            return Err("item event with no open item".into());
        };
        if open.id != item_id || open.index != index {
            return Err(format!(
                "event for ({item_id}, {index}) but ({}, {}) is open",
                open.id, open.index
            ));
        }
        if !kinds.contains(&open.kind.as_str()) {
            return Err(format!("event does not fit a {} item", open.kind));
        }
        Ok(open)
    }
}

/// The text events, in one form; `None` for other events.
fn text_event(event: &ResponseStreamEvent) -> Option<TextEvent<'_>> {
    use ResponseStreamEvent as E;
    let (kind, (item_id, output_index, index), text) = match event {
        E::OutputTextDelta(e) => (
            &OUTPUT_TEXT,
            (&e.item_id, e.output_index, e.content_index),
            Text::Delta(&e.delta),
        ),
        E::OutputTextDone(e) => (
            &OUTPUT_TEXT,
            (&e.item_id, e.output_index, e.content_index),
            Text::Done(&e.text),
        ),
        E::RefusalDelta(e) => (
            &REFUSAL,
            (&e.item_id, e.output_index, e.content_index),
            Text::Delta(&e.delta),
        ),
        E::RefusalDone(e) => (
            &REFUSAL,
            (&e.item_id, e.output_index, e.content_index),
            Text::Done(&e.refusal),
        ),
        E::ReasoningTextDelta(e) => (
            &REASONING_TEXT,
            (&e.item_id, e.output_index, e.content_index),
            Text::Delta(&e.delta),
        ),
        E::ReasoningTextDone(e) => (
            &REASONING_TEXT,
            (&e.item_id, e.output_index, e.content_index),
            Text::Done(&e.text),
        ),
        E::ReasoningSummaryTextDelta(e) => (
            &SUMMARY_TEXT,
            (&e.item_id, e.output_index, e.summary_index),
            Text::Delta(&e.delta),
        ),
        E::ReasoningSummaryTextDone(e) => (
            &SUMMARY_TEXT,
            (&e.item_id, e.output_index, e.summary_index),
            Text::Done(&e.text),
        ),
        _ => return None,
    };
    Some(TextEvent {
        kind,
        item_id,
        output_index,
        index,
        text,
    })
}

/// Events outside the item families: errors and keepalives pass, unknown `response.*`
/// events pass (newer API versions add some), anything else is refused.
fn other_event(event: &ResponseStreamEvent) -> Result<(), String> {
    use ResponseStreamEvent as E;
    match event {
        E::Error(_) | E::Keepalive(_) => Ok(()),
        E::Other(v) => {
            let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or_default();
            if !kind.starts_with("response.") {
                return Err(format!("unknown event type {kind:?}"));
            }
            Ok(())
        }
        _ => Err(format!("no grammar rule for {}", event.kind())),
    }
}

/// What an added item must not carry yet: a message's content (and it must be in progress),
/// a function call's arguments, a reasoning item's summary.
fn check_added_empty(item: &Item) -> Result<(), String> {
    match item {
        Item::Message(m) => {
            if m.content != MessageContent::Parts(vec![]) {
                return Err("message added with content".into());
            }
            if m.status != Some(ItemStatus::InProgress) {
                return Err("message added without status in_progress".into());
            }
        }
        Item::FunctionCall(c) if !c.arguments.is_empty() => {
            return Err("function_call added with arguments".into());
        }
        Item::Reasoning(r) if !r.summary.is_empty() => {
            return Err("reasoning added with summary parts".into());
        }
        _ => {}
    }
    Ok(())
}

/// The open part `index`, the last one, of kind `kind`.
fn open_part<'a>(
    open: &'a mut OpenItem,
    index: u32,
    kind: &str,
) -> Result<&'a mut StreamedPart, String> {
    let count = open.parts.len();
    match open.parts.get_mut(index as usize) {
        Some(part) if index as usize + 1 == count && part.open && part.kind == kind => Ok(part),
        Some(part) => Err(format!(
            "part {index} is {} (open: {}), expected open {kind}",
            part.kind, part.open
        )),
        None => Err(format!("part {index} does not exist")),
    }
}

fn part_text(part: &ContentPart) -> &str {
    match part {
        ContentPart::OutputText(p) => &p.text,
        ContentPart::Refusal(p) => &p.refusal,
        ContentPart::ReasoningText(p) | ContentPart::SummaryText(p) => &p.text,
        _ => "",
    }
}

fn check_parts(parts: &[ContentPart], streamed: &[StreamedPart]) -> Result<(), String> {
    if parts.len() != streamed.len() {
        return Err(format!(
            "item done with {} parts, {} streamed",
            parts.len(),
            streamed.len()
        ));
    }
    for (part, streamed) in parts.iter().zip(streamed) {
        if part.kind() != streamed.kind || part_text(part) != streamed.text {
            return Err("item done with parts that differ from the deltas".into());
        }
    }
    Ok(())
}
