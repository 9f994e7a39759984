//! Claude's request rules, the same on every route to it: Anthropic's Messages API, the same
//! format on Vertex AI, and Bedrock (whose Claude models take Anthropic's fields through
//! `additionalModelRequestFields`). See Anthropic's guide to extended thinking,
//! <https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking>.
//!
//! * `reasoning.effort` becomes a thinking budget: low 1024, medium 2048, high 4096, xhigh
//!   8192 tokens (LiteLLM's values, and xhigh one step further); `none` and `minimal` leave
//!   thinking off, and models before Claude 3.7 have none.
//! * While thinking, `temperature` must stay 1 and `top_p` at least 0.95; from Claude 4.1 on,
//!   `temperature` and `top_p` cannot both be set.
//! * A replayed assistant turn that calls a tool must start with its thinking block while
//!   thinking is on.
//! * A tool's input schema must be an object schema.

pub mod models;

use serde::Serialize;
use serde_json::{Value, json};
use switchyard_types::responses::CreateResponse;

use crate::error::Error;
use crate::providers::gate::Gate;

/// The smallest thinking budget Claude accepts.
pub const MIN_THINKING_BUDGET: u64 = 1024;

/// The `thinking` field of a request: extended thinking with a token budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "enabled")]
pub struct Thinking {
    /// Tokens the model may think for (part of `max_tokens`).
    pub budget_tokens: u64,
}

/// The thinking budget for `effort` on the Claude `model`: `None` when thinking stays off
/// (`none`, `minimal`, or a model without extended thinking with `drop_params`); an unknown
/// effort is a 400.
pub(crate) fn thinking_budget(
    effort: &str,
    model: &str,
    gate: &Gate<'_>,
) -> Result<Option<u64>, Error> {
    let budget = match effort {
        "none" | "minimal" => return Ok(None),
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        "xhigh" => 8192,
        _ => {
            return Err(Error::invalid_request(
                format!(
                    "Invalid value for 'reasoning.effort': `{effort}`; expected none, minimal, \
                     low, medium, high or xhigh."
                ),
                Some("reasoning.effort"),
            )
            .with_code("invalid_value"));
        }
    };
    if !models::supports_thinking(model) {
        gate.conflict(
            "reasoning.effort",
            "this Claude model has no extended thinking (Claude 3.7 and later have it)",
        )?;
        return Ok(None);
    }
    Ok(Some(budget))
}

/// `temperature` and `top_p` as they may be sent to Claude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sampling {
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `top_p`.
    pub top_p: Option<f64>,
}

impl Sampling {
    /// The request's values.
    pub(crate) fn of(req: &CreateResponse) -> Sampling {
        Sampling {
            temperature: req.temperature,
            top_p: req.top_p,
        }
    }

    /// Thinking requires the default temperature and a `top_p` of at least 0.95: a value that
    /// breaks the rule is refused, or dropped with `drop_params`.
    pub(crate) fn fit_thinking(&mut self, gate: &Gate<'_>) -> Result<(), Error> {
        if self.temperature.is_some_and(|t| t != 1.0) {
            gate.conflict(
                "temperature",
                "reasoning requires the default temperature (1); leave temperature unset",
            )?;
            self.temperature = None;
        }
        if self.top_p.is_some_and(|p| p < 0.95) {
            gate.conflict("top_p", "reasoning requires top_p of at least 0.95")?;
            self.top_p = None;
        }
        Ok(())
    }

    /// From Claude 4.1 on, only one of the two may be set: `top_p` is refused, or dropped
    /// with `drop_params`.
    pub(crate) fn fit_model(&mut self, model: &str, gate: &Gate<'_>) -> Result<(), Error> {
        if self.temperature.is_some() && self.top_p.is_some() && models::exclusive_sampling(model) {
            gate.conflict(
                "top_p",
                "this Claude model takes temperature or top_p, not both; set only one",
            )?;
            self.top_p = None;
        }
        Ok(())
    }
}

/// The input schema of an offered tool: a custom tool's own (already an object schema), a
/// function's made an object schema.
pub(crate) fn input_schema(custom: bool, parameters: Option<Value>) -> Value {
    if custom {
        parameters.unwrap_or_default()
    } else {
        object_schema(parameters.as_ref())
    }
}

/// A tool's parameter schema as Claude requires it: an object schema with `type: "object"`
/// (clients send `{}` or leave `type` out for argument-less tools).
fn object_schema(parameters: Option<&Value>) -> Value {
    match parameters {
        Some(Value::Object(map)) => {
            let mut map = map.clone();
            map.entry("type").or_insert_with(|| json!("object"));
            Value::Object(map)
        }
        _ => json!({"type": "object", "properties": {}}),
    }
}

/// A content block of a Claude conversation, as far as the thinking rules care.
pub(crate) trait ClaudeBlock {
    /// A call to a tool.
    fn calls_tool(&self) -> bool;
    /// A (possibly redacted) thinking block.
    fn is_thinking(&self) -> bool;
}

/// Whether thinking can stay on for a conversation whose last assistant turn is `blocks`:
/// not when that turn calls a tool without starting with its thinking block (the client did
/// not keep `reasoning.encrypted_content`), which Claude refuses while thinking. Logged at debug
/// with `target` when thinking goes off.
pub(crate) fn replay_allows_thinking<B: ClaudeBlock>(blocks: Option<&[B]>, target: &str) -> bool {
    let Some(blocks) = blocks else {
        return true;
    };
    let lacks_thinking =
        blocks.iter().any(B::calls_tool) && !blocks.first().is_some_and(B::is_thinking);
    if lacks_thinking {
        tracing::debug!(
            target,
            "thinking disabled for this request: the replayed tool call has no thinking block \
             (ask for `reasoning.encrypted_content` to keep it)"
        );
    }
    !lacks_thinking
}
