//! The scenario engine's decision: what to answer, computed deterministically from a [`Turn`] and
//! its [`Directives`], independent of the wire protocol that will carry it.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::directive::Directives;
use crate::schema;
use crate::split;
use crate::turn::{Choice, JsonFormat, ToolSpec, Turn};

/// The reasoning the mock "thinks" when asked to reason.
pub(crate) const REASONING_TEXT: &str = "Thinking about it.";
/// The refusal the mock gives when asked to refuse.
pub(crate) const REFUSAL_TEXT: &str = "I'm sorry, but I can't help with that.";
/// The shell command used when the user named none.
const DEFAULT_COMMAND: &str = "echo hello";

/// A function call the model makes (ids are minted by each wire renderer, in its own style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub name: String,
    /// JSON text.
    pub arguments: String,
}

/// The visible answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Text(String),
    Refusal(String),
    Calls(Vec<Call>),
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    Length,
    ToolCalls,
}

/// Token usage in the Responses API's accounting: `input` includes `cached`, `output` includes
/// `reasoning`. Each wire renderer converts it to its provider's own accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tokens {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl Tokens {
    pub(crate) fn total(&self) -> u64 {
        self.input + self.output
    }
}

/// Misbehaviour injected into a streamed answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Faults {
    /// Pause after the first events.
    pub stall: Option<Duration>,
    /// Drop the connection midway.
    pub drop: bool,
    /// Insert an unparsable `data:` line.
    pub malformed: bool,
    /// Fail in-band after the first delta of the answer.
    pub midstream_error: bool,
}

/// Everything a renderer needs to produce the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub reasoning: Option<String>,
    pub answer: Answer,
    pub finish: Finish,
    pub tokens: Tokens,
    pub faults: Faults,
}

impl Plan {
    /// A plain text answer with nothing injected (for canned replies).
    pub(crate) fn text(text: &str) -> Plan {
        Plan::finished(None, Answer::Text(text.to_string()), Finish::Stop, 1)
    }

    /// One function call (for canned replies).
    pub(crate) fn call(name: &str, arguments: &str) -> Plan {
        let call = Call {
            name: name.to_string(),
            arguments: arguments.to_string(),
        };
        Plan::finished(None, Answer::Calls(vec![call]), Finish::ToolCalls, 1)
    }

    fn finished(reasoning: Option<String>, answer: Answer, finish: Finish, input: u64) -> Plan {
        let reasoning_tokens = reasoning.as_deref().map_or(0, count_words);
        let answer_tokens = match &answer {
            Answer::Text(text) | Answer::Refusal(text) => count_words(text),
            Answer::Calls(calls) => calls.iter().map(|c| count_words(&c.arguments).max(1)).sum(),
        };
        Plan {
            reasoning,
            answer,
            finish,
            tokens: Tokens {
                input,
                cached: 0,
                output: answer_tokens + reasoning_tokens,
                reasoning: reasoning_tokens,
            },
            faults: Faults::default(),
        }
    }

    /// Decides the answer to `turn`.
    pub(crate) fn decide(turn: &Turn, d: &Directives) -> Plan {
        let json_answer = |fallback: String| match (&turn.json, d.json) {
            (Some(format), true) => json_text(format, &fallback),
            _ => fallback,
        };
        let (mut answer, mut finish) = if d.refusal {
            (Answer::Refusal(REFUSAL_TEXT.to_string()), Finish::Stop)
        } else if let Some(output) = &turn.tool_result {
            let text = json_answer(format!("The tool returned: {output}"));
            (Answer::Text(text), Finish::Stop)
        } else if let Some(calls) = choose_calls(turn, d) {
            (Answer::Calls(calls), Finish::ToolCalls)
        } else {
            let text = json_answer(format!("You said: {}", turn.user_text));
            (Answer::Text(text), Finish::Stop)
        };
        if d.length {
            if let Answer::Text(text) | Answer::Refusal(text) = &mut answer {
                truncate(text, turn.max_output_tokens);
            }
            finish = Finish::Length;
        }
        let reasoning = d.reasoning.then(|| REASONING_TEXT.to_string());
        let mut plan = Plan::finished(reasoning, answer, finish, turn.input_words.max(1));
        if let Some([input, output, cached, reasoning]) = d.usage {
            plan.tokens = Tokens {
                input,
                cached,
                output,
                reasoning,
            };
        }
        plan.faults = Faults {
            stall: d.stall,
            drop: d.drop,
            malformed: d.malformed,
            midstream_error: d.midstream_error,
        };
        plan
    }
}

fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Cuts `text` to `limit` words (half of them, at least one, when there is no limit below the
/// text's length): what the model managed to say before hitting its token cap.
fn truncate(text: &mut String, limit: Option<u64>) {
    let pieces = split::words(text);
    let count = pieces.len() as u64;
    let keep = match limit {
        Some(limit) if limit < count => limit.max(1),
        _ => count.div_ceil(2).max(1),
    };
    let cut: usize = pieces.iter().take(keep as usize).map(|p| p.len()).sum();
    text.truncate(cut);
}

fn json_text(format: &JsonFormat, fallback: &str) -> String {
    let value = match format {
        JsonFormat::Schema(schema) => schema::value_for(schema, schema, 0),
        JsonFormat::Object => {
            let mut map = Map::new();
            map.insert("text".into(), Value::String(fallback.to_string()));
            Value::Object(map)
        }
    };
    value.to_string()
}

fn choose_calls(turn: &Turn, d: &Directives) -> Option<Vec<Call>> {
    let named = d.call.clone().or(match &turn.choice {
        Choice::Named(name) => Some(name.clone()),
        _ => None,
    });
    if d.text || d.length || turn.choice == Choice::None {
        return None;
    }
    if named.is_none() && turn.tools.is_empty() {
        return None;
    }
    let first = match &named {
        Some(name) => turn.tools.iter().position(|t| &t.name == name),
        None => turn
            .tools
            .iter()
            .position(|t| shell_arg(t).is_some())
            .or(Some(0)),
    };
    let call_for = |index: Option<usize>| match index.and_then(|i| turn.tools.get(i)) {
        Some(tool) => make_call(tool, &turn.user_text),
        // A tool the request did not declare (named by a directive): no schema to follow.
        None => Call {
            name: named.clone().unwrap_or_default(),
            arguments: "{}".into(),
        },
    };
    let mut calls = vec![call_for(first)];
    if d.parallel && turn.parallel_tool_calls {
        let second = first.map(|i| (i + 1) % turn.tools.len());
        calls.push(call_for(second));
    }
    Some(calls)
}

/// How a shell-like tool (Codex's `exec_command` / `shell`) takes its command.
enum ShellArg {
    /// `cmd: string`.
    Cmd,
    /// `command: string`.
    CommandString,
    /// `command: [string]` (argv).
    CommandArray,
}

fn shell_arg(tool: &ToolSpec) -> Option<ShellArg> {
    let properties = tool.parameters.as_ref()?.get("properties")?;
    let kind = |name: &str| properties.get(name)?.get("type")?.as_str();
    if kind("cmd") == Some("string") {
        return Some(ShellArg::Cmd);
    }
    match kind("command") {
        Some("string") => Some(ShellArg::CommandString),
        Some("array")
            if properties
                .pointer("/command/items/type")
                .and_then(Value::as_str)
                == Some("string") =>
        {
            Some(ShellArg::CommandArray)
        }
        _ => None,
    }
}

fn make_call(tool: &ToolSpec, user_text: &str) -> Call {
    let mut args = tool
        .parameters
        .as_ref()
        .map(schema::required_object)
        .unwrap_or_default();
    match shell_arg(tool) {
        Some(ShellArg::Cmd) => {
            args.insert("cmd".into(), Value::String(command(user_text)));
        }
        Some(ShellArg::CommandString) => {
            args.insert("command".into(), Value::String(command(user_text)));
        }
        Some(ShellArg::CommandArray) => {
            let argv = ["bash", "-lc", &command(user_text)].map(|s| Value::String(s.into()));
            args.insert("command".into(), Value::Array(argv.into()));
        }
        None => {}
    }
    Call {
        name: tool.name.clone(),
        arguments: Value::Object(args).to_string(),
    }
}

/// The command the user asked for: the first backtick-quoted span, else the rest of the line
/// after "Run the shell command:", else `echo hello`.
fn command(text: &str) -> String {
    if let Some(quoted) = backticked(text) {
        return quoted;
    }
    const MARKER: &str = "Run the shell command:";
    if let Some(at) = text.find(MARKER) {
        let rest = &text[at + MARKER.len()..];
        let line = rest.lines().next().unwrap_or_default();
        // Directives on the same line steer the mock; they are not part of the command.
        let line = line.split("[[mock:").next().unwrap_or_default().trim();
        if !line.is_empty() {
            return line.to_string();
        }
    }
    DEFAULT_COMMAND.to_string()
}

/// The content of the first backtick span; for a fenced block (```` ```sh ````), its body.
fn backticked(text: &str) -> Option<String> {
    let start = text.find('`')?;
    let fence = text[start..].chars().take_while(|&c| c == '`').count();
    let body_start = start + fence;
    let delimiter = "`".repeat(fence);
    let end = body_start + text[body_start..].find(&delimiter)?;
    let mut body = &text[body_start..end];
    // Drop an info string such as `bash` on the fence line.
    if fence >= 3
        && let Some((first, rest)) = body.split_once('\n')
        && !first.trim().contains(' ')
    {
        body = rest;
    }
    let body = body.trim();
    (!body.is_empty()).then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, parameters: Value) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            parameters: Some(parameters),
        }
    }

    fn turn(text: &str, tools: Vec<ToolSpec>) -> Turn {
        Turn {
            user_text: text.into(),
            tools,
            parallel_tool_calls: true,
            input_words: 3,
            ..Turn::default()
        }
    }

    #[test]
    fn echoes_text_and_counts_words() {
        let t = turn("hello there", vec![]);
        let plan = Plan::decide(&t, &Directives::default());
        assert_eq!(plan.answer, Answer::Text("You said: hello there".into()));
        assert_eq!(plan.finish, Finish::Stop);
        assert_eq!(plan.tokens.input, 3);
        assert_eq!(plan.tokens.output, 4);
        assert_eq!(plan.tokens.total(), 7);
    }

    #[test]
    fn prefers_shell_tools_and_extracts_commands() {
        let exec = tool(
            "exec_command",
            json!({"type": "object", "properties": {"cmd": {"type": "string"},
                "workdir": {"type": "string"}}, "required": ["cmd"]}),
        );
        let other = tool("other", json!({"type": "object", "properties": {}}));
        let t = turn("please run `ls -la` now", vec![other.clone(), exec.clone()]);
        let plan = Plan::decide(&t, &Directives::default());
        let Answer::Calls(calls) = plan.answer else {
            panic!("{plan:?}")
        };
        assert_eq!(calls[0].name, "exec_command");
        assert_eq!(calls[0].arguments, r#"{"cmd":"ls -la"}"#);
        assert_eq!(plan.finish, Finish::ToolCalls);

        let shell = tool(
            "shell",
            json!({"type": "object", "properties": {"command": {"type": "array",
                "items": {"type": "string"}}}, "required": ["command"]}),
        );
        let t = turn(
            "Run the shell command: pwd [[mock:parallel]]\nthanks",
            vec![shell],
        );
        let d = Directives::parse(&t.user_text);
        let Answer::Calls(calls) = Plan::decide(&t, &d).answer else {
            panic!()
        };
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].arguments, r#"{"command":["bash","-lc","pwd"]}"#);
        assert_eq!(calls[1], calls[0]);
    }

    #[test]
    fn named_and_first_tools_get_required_arguments() {
        let weather = tool(
            "get_weather",
            json!({"type": "object", "properties": {"city": {"type": "string"},
                "days": {"type": "integer"}, "metric": {"type": "boolean"}},
                "required": ["city", "days", "metric"]}),
        );
        let t = turn("weather?", vec![weather.clone()]);
        let Answer::Calls(calls) = Plan::decide(&t, &Directives::default()).answer else {
            panic!()
        };
        assert_eq!(calls[0].arguments, r#"{"city":"x","days":1,"metric":true}"#);
        let d = Directives::parse("[[mock:call=lookup]]");
        let Answer::Calls(calls) = Plan::decide(&t, &d).answer else {
            panic!()
        };
        assert_eq!(calls[0].name, "lookup");
        assert_eq!(calls[0].arguments, "{}");
    }

    #[test]
    fn tool_results_refusals_and_text_directive() {
        let mut t = turn("x", vec![tool("f", json!({}))]);
        t.tool_result = Some("42 apples".into());
        let plan = Plan::decide(&t, &Directives::default());
        assert_eq!(
            plan.answer,
            Answer::Text("The tool returned: 42 apples".into())
        );
        t.tool_result = None;
        let plan = Plan::decide(&t, &Directives::parse("[[mock:text]]"));
        assert!(matches!(plan.answer, Answer::Text(_)));
        let plan = Plan::decide(&t, &Directives::parse("[[mock:refusal]]"));
        assert_eq!(plan.answer, Answer::Refusal(REFUSAL_TEXT.into()));
    }

    #[test]
    fn length_truncates_and_usage_overrides() {
        let t = turn("one two three four five six", vec![]);
        let plan = Plan::decide(
            &t,
            &Directives::parse("[[mock:length]] [[mock:usage=10,7,4,2]]"),
        );
        assert_eq!(plan.finish, Finish::Length);
        assert_eq!(plan.answer, Answer::Text("You said: one two".into()));
        assert_eq!(
            plan.tokens,
            Tokens {
                input: 10,
                cached: 4,
                output: 7,
                reasoning: 2
            }
        );
    }

    #[test]
    fn json_answers_follow_the_schema() {
        let mut t = turn("[[mock:json]]", vec![]);
        t.json = Some(JsonFormat::Schema(json!({"type": "object",
            "properties": {"n": {"type": "integer"}}, "required": ["n"]})));
        let plan = Plan::decide(&t, &Directives::parse(&t.user_text));
        assert_eq!(plan.answer, Answer::Text(r#"{"n":1}"#.into()));
    }

    #[test]
    fn commands_from_fences() {
        assert_eq!(command("do ```bash\nls /tmp\n```"), "ls /tmp");
        assert_eq!(command("nothing here"), "echo hello");
    }
}
