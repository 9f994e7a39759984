//! A checker for the Responses stream grammar (`responses-api.md` §7 and §11, plus the item
//! identity rules openai-node v7.5 enforces). Tests run every stream the gateway produces through
//! it; it is public so that other crates' tests can too.

use std::collections::HashSet;

use switchyard_types::responses::{
    ContentPart, Item, MessageContent, ResponseStatus, ResponseStreamEvent,
};

/// Accumulated state of the item currently open.
#[derive(Debug)]
struct OpenItem {
    index: u32,
    id: String,
    kind: String,
    call_id: Option<String>,
    /// Accumulated content parts (messages) or summary parts (reasoning): kind and text.
    parts: Vec<(String, String, bool)>,
    arguments: String,
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
        use ResponseStreamEvent as E;
        if self.terminal {
            return Err("event after the terminal event".into());
        }
        if event.sequence_number() != Some(position as u64) {
            return Err(format!(
                "sequence_number {:?}, expected {position}",
                event.sequence_number()
            ));
        }
        if position == 0 {
            let E::Created(created) = event else {
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
            return Ok(());
        }
        match event {
            E::Created(_) => Err("a second response.created".into()),
            E::Queued(e) | E::InProgress(e) => self.same_response(&e.response.id),
            E::Completed(e) | E::Incomplete(e) | E::Failed(e) => {
                self.same_response(&e.response.id)?;
                if let Some(open) = &self.open {
                    return Err(format!("item {} still open at the end", open.id));
                }
                let expected = match event {
                    E::Completed(_) => ResponseStatus::Completed,
                    E::Incomplete(_) => ResponseStatus::Incomplete,
                    _ => ResponseStatus::Failed,
                };
                let response = &e.response;
                if response.status != expected {
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
                    ResponseStatus::Failed if response.error.is_none() => {
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
            E::OutputItemAdded(e) => {
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
                match &e.item {
                    Item::Message(m) => {
                        if m.content != MessageContent::Parts(vec![]) {
                            return Err("message added with content".into());
                        }
                        if m.status != Some(switchyard_types::responses::ItemStatus::InProgress) {
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
            E::OutputItemDone(e) => {
                let open = self.take_open(e.output_index)?;
                let (kind, id, call_id) = item_kind_and_id(&e.item);
                if kind != open.kind || id != open.id || call_id != open.call_id {
                    return Err(format!(
                        "done item ({kind}, {id}) differs from added ({}, {})",
                        open.kind, open.id
                    ));
                }
                if open.parts.iter().any(|(_, _, open)| *open) {
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
            E::ContentPartAdded(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["message", "reasoning"])?;
                if e.content_index as usize != open.parts.len() {
                    return Err(format!(
                        "content_index {} but {} parts exist",
                        e.content_index,
                        open.parts.len()
                    ));
                }
                if open.parts.last().is_some_and(|p| p.2) {
                    return Err("part added while another is open".into());
                }
                let text = part_text(&e.part);
                if !text.is_empty() {
                    return Err("part added with text".into());
                }
                open.parts
                    .push((e.part.kind().to_string(), String::new(), true));
                Ok(())
            }
            E::ContentPartDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["message", "reasoning"])?;
                let part = open_part(open, e.content_index, e.part.kind())?;
                if part_text(&e.part) != part.1 {
                    return Err("content_part.done text differs from the deltas".into());
                }
                part.2 = false;
                Ok(())
            }
            E::OutputTextDelta(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["message"])?;
                open_part(open, e.content_index, "output_text")?
                    .1
                    .push_str(&e.delta);
                Ok(())
            }
            E::OutputTextDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["message"])?;
                if open_part(open, e.content_index, "output_text")?.1 != e.text {
                    return Err("output_text.done differs from the deltas".into());
                }
                Ok(())
            }
            E::RefusalDelta(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["message"])?;
                open_part(open, e.content_index, "refusal")?
                    .1
                    .push_str(&e.delta);
                Ok(())
            }
            E::RefusalDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["message"])?;
                if open_part(open, e.content_index, "refusal")?.1 != e.refusal {
                    return Err("refusal.done differs from the deltas".into());
                }
                Ok(())
            }
            E::ReasoningTextDelta(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
                open_part(open, e.content_index, "reasoning_text")?
                    .1
                    .push_str(&e.delta);
                Ok(())
            }
            E::ReasoningTextDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
                if open_part(open, e.content_index, "reasoning_text")?.1 != e.text {
                    return Err("reasoning_text.done differs from the deltas".into());
                }
                Ok(())
            }
            E::ReasoningSummaryPartAdded(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
                if e.summary_index as usize != open.parts.len() {
                    return Err(format!(
                        "summary_index {} but {} summary parts exist",
                        e.summary_index,
                        open.parts.len()
                    ));
                }
                open.parts
                    .push(("summary_text".to_string(), String::new(), true));
                Ok(())
            }
            E::ReasoningSummaryPartDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
                let part = open_part(open, e.summary_index, "summary_text")?;
                if part_text(&e.part) != part.1 {
                    return Err("summary part done text differs from the deltas".into());
                }
                part.2 = false;
                Ok(())
            }
            E::ReasoningSummaryTextDelta(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
                open_part(open, e.summary_index, "summary_text")?
                    .1
                    .push_str(&e.delta);
                Ok(())
            }
            E::ReasoningSummaryTextDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["reasoning"])?;
                if open_part(open, e.summary_index, "summary_text")?.1 != e.text {
                    return Err("summary text done differs from the deltas".into());
                }
                Ok(())
            }
            E::FunctionCallArgumentsDelta(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["function_call"])?;
                open.arguments.push_str(&e.delta);
                Ok(())
            }
            E::FunctionCallArgumentsDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["function_call"])?;
                if open.arguments != e.arguments {
                    return Err("arguments.done differs from the deltas".into());
                }
                Ok(())
            }
            E::CustomToolCallInputDelta(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["custom_tool_call"])?;
                open.arguments.push_str(&e.delta);
                Ok(())
            }
            E::CustomToolCallInputDone(e) => {
                let open = self.open_item(&e.item_id, e.output_index, &["custom_tool_call"])?;
                if open.arguments != e.input {
                    return Err("custom input done differs from the deltas".into());
                }
                Ok(())
            }
            E::Error(_) | E::Keepalive(_) => Ok(()),
            E::Other(v) => {
                let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or_default();
                if !kind.starts_with("response.") {
                    return Err(format!("unknown event type {kind:?}"));
                }
                Ok(())
            }
        }
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

fn open_part<'a>(
    open: &'a mut OpenItem,
    index: u32,
    kind: &str,
) -> Result<&'a mut (String, String, bool), String> {
    let count = open.parts.len();
    match open.parts.get_mut(index as usize) {
        Some(part) if index as usize + 1 == count && part.2 && part.0 == kind => Ok(part),
        Some(part) => Err(format!(
            "part {index} is {} (open: {}), expected open {kind}",
            part.0, part.2
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

fn check_parts(parts: &[ContentPart], streamed: &[(String, String, bool)]) -> Result<(), String> {
    if parts.len() != streamed.len() {
        return Err(format!(
            "item done with {} parts, {} streamed",
            parts.len(),
            streamed.len()
        ));
    }
    for (part, (kind, text, _)) in parts.iter().zip(streamed) {
        if part.kind() != kind || part_text(part) != text {
            return Err("item done with parts that differ from the deltas".into());
        }
    }
    Ok(())
}
