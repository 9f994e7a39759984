//! Texts every translator reads the same way: the text of a message whose role takes no media,
//! and the text of a tool result.

use switchyard_types::responses::{ContentPart, MessageContent, ToolOutput};

use crate::error::Error;
use crate::providers::gate::Gate;

/// Text of a system, developer or assistant message, parts joined by a blank line; other
/// parts cannot be carried (refused, or dropped with `drop_params`).
pub(crate) fn plain_text(
    content: &MessageContent,
    param: &str,
    gate: &Gate,
) -> Result<String, Error> {
    match content {
        MessageContent::Text(text) => Ok(text.clone()),
        MessageContent::Parts(parts) => {
            let mut texts = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::InputText(t) | ContentPart::SummaryText(t) => {
                        texts.push(t.text.as_str())
                    }
                    ContentPart::OutputText(t) => texts.push(t.text.as_str()),
                    ContentPart::Refusal(r) => texts.push(r.refusal.as_str()),
                    other => gate
                        .unsupported(&format!("{param}.content[{j}] (type `{}`)", other.kind()))?,
                }
            }
            Ok(texts.join("\n\n"))
        }
    }
}

/// A tool result as text, for upstreams whose tool results are text: parts joined by a line
/// break; parts other than text cannot be carried (refused, or dropped with `drop_params`).
pub(crate) fn tool_output_text(
    output: &ToolOutput,
    param: &str,
    gate: &Gate,
) -> Result<String, Error> {
    match output {
        ToolOutput::Text(text) => Ok(text.clone()),
        ToolOutput::Parts(parts) => {
            let mut texts = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::InputText(t) => texts.push(t.text.clone()),
                    ContentPart::OutputText(t) => texts.push(t.text.clone()),
                    other => gate.unsupported(&format!(
                        "{param}.output[{j}] (type `{}` in a tool result)",
                        other.kind()
                    ))?,
                }
            }
            Ok(texts.join("\n"))
        }
    }
}
