//! What a request's `tool_choice` asks of the model, with the tools it names under the names
//! they are offered with upstream. Read here once; each translator writes it in its own wire
//! form, or refuses what its upstream cannot do.

use switchyard_types::responses::{CreateResponse, ToolChoice, ToolChoiceMode};

use super::tools::chat_function_name;
use crate::error::Error;

/// A `tool_choice`, in upstream function names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// `auto`: the model decides.
    Auto,
    /// `none`: the model calls no tool.
    None,
    /// `required`: the model calls some tool.
    Required,
    /// The model calls this tool (offered under this name).
    Tool(String),
    /// The model may call only these tools, in the order listed; with `required` it must call
    /// one of them.
    Allowed {
        /// The tools' upstream names (whether offered or not).
        names: Vec<String>,
        /// `mode: required`.
        required: bool,
    },
    /// A hosted tool, or a form this version does not know: no translated upstream has it.
    Unsupported,
}

/// The request's `tool_choice` (`None` when it sets none). A named tool must be one of the
/// offered functions (`offered` tells whether an upstream name is); otherwise the request is
/// refused, since no upstream can be made to call a tool it was not given.
pub(crate) fn requested_choice(
    req: &CreateResponse,
    offered: impl Fn(&str) -> bool,
) -> Result<Option<Choice>, Error> {
    let Some(choice) = &req.tool_choice else {
        return Ok(None);
    };
    Ok(Some(match choice {
        ToolChoice::Mode(ToolChoiceMode::Auto) => Choice::Auto,
        ToolChoice::Mode(ToolChoiceMode::None) => Choice::None,
        ToolChoice::Mode(ToolChoiceMode::Required) => Choice::Required,
        ToolChoice::Named(named) => {
            let name = named.name().unwrap_or_default();
            let upstream = chat_function_name(named.namespace(), name);
            if !offered(&upstream) {
                return Err(Error::invalid_request(
                    format!(
                        "tool_choice names the {} `{name}`, which is not in `tools`",
                        named.kind().as_str()
                    ),
                    Some("tool_choice"),
                ));
            }
            Choice::Tool(upstream)
        }
        ToolChoice::AllowedTools(allowed) => Choice::Allowed {
            names: allowed
                .tools()
                .iter()
                .map(|t| chat_function_name(t.namespace.as_deref(), &t.name))
                .collect(),
            required: allowed.required(),
        },
        ToolChoice::Object(_) => Choice::Unsupported,
    }))
}
