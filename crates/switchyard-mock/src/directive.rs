//! `[[mock:…]]` directives: instructions to the scenario engine written into the last user
//! message, so that any client (an SDK, Codex, curl) can steer the mock without extra plumbing.

use std::time::Duration;

/// Everything the last user message asked of the mock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    /// `[[mock:text]]`: answer with text even when tools are offered.
    pub text: bool,
    /// `[[mock:call=NAME]]`: call this tool.
    pub call: Option<String>,
    /// `[[mock:parallel]]`: make two tool calls.
    pub parallel: bool,
    /// `[[mock:reasoning]]`: reason before answering.
    pub reasoning: bool,
    /// `[[mock:refusal]]`: refuse.
    pub refusal: bool,
    /// `[[mock:length]]`: stop at the output token limit.
    pub length: bool,
    /// `[[mock:error=CODE]]`: answer with an HTTP error.
    pub error: Option<String>,
    /// `[[mock:midstream-error]]`: fail after some streamed output.
    pub midstream_error: bool,
    /// `[[mock:slow=MS]]`: delay the response headers.
    pub slow: Option<Duration>,
    /// `[[mock:stall=MS]]`: pause the stream after its first events.
    pub stall: Option<Duration>,
    /// `[[mock:drop]]`: drop the connection mid-stream.
    pub drop: bool,
    /// `[[mock:malformed]]`: include an unparsable `data:` line.
    pub malformed: bool,
    /// `[[mock:usage=IN,OUT,CACHED,REASONING]]`: report these token counts.
    pub usage: Option<[u64; 4]>,
    /// `[[mock:json]]`: answer with JSON matching the requested format.
    pub json: bool,
    /// `[[mock:remaining=REQUESTS,TOKENS]]`: the rate-limit headers report these as left.
    pub remaining: Option<[u64; 2]>,
}

impl Directives {
    /// Reads every directive in `text`; unknown or malformed ones are ignored (and logged), so a
    /// typo degrades to the default behaviour rather than an error.
    pub(crate) fn parse(text: &str) -> Directives {
        let mut out = Directives::default();
        let mut rest = text;
        while let Some(start) = rest.find("[[mock:") {
            let after = &rest[start + 7..];
            let Some(end) = after.find("]]") else {
                break;
            };
            out.apply(after[..end].trim());
            rest = &after[end + 2..];
        }
        out
    }

    fn apply(&mut self, directive: &str) {
        let (key, value) = match directive.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (directive, None),
        };
        let millis = |v: Option<&str>| v.and_then(|v| v.parse().ok()).map(Duration::from_millis);
        match (key, value) {
            ("text", None) => self.text = true,
            ("call", Some(name)) if !name.is_empty() => self.call = Some(name.to_string()),
            ("parallel", None) => self.parallel = true,
            ("reasoning", None) => self.reasoning = true,
            ("refusal", None) => self.refusal = true,
            ("length", None) => self.length = true,
            ("error", Some(code)) => self.error = Some(code.to_string()),
            ("midstream-error", None) => self.midstream_error = true,
            ("slow", v) if millis(v).is_some() => self.slow = millis(v),
            ("stall", v) if millis(v).is_some() => self.stall = millis(v),
            ("drop", None) => self.drop = true,
            ("malformed", None) => self.malformed = true,
            ("usage", Some(numbers)) => self.usage = parse_usage(numbers),
            ("json", None) => self.json = true,
            ("remaining", Some(numbers)) => self.remaining = parse_numbers(numbers),
            _ => tracing::warn!(directive, "ignoring unknown mock directive"),
        }
    }
}

fn parse_usage(numbers: &str) -> Option<[u64; 4]> {
    parse_numbers(numbers)
}

/// Exactly `N` comma-separated integers.
fn parse_numbers<const N: usize>(numbers: &str) -> Option<[u64; N]> {
    let mut out = [0u64; N];
    let mut parts = numbers.split(',');
    for slot in &mut out {
        *slot = parts.next()?.trim().parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_directive() {
        let d = Directives::parse(
            "hi [[mock:reasoning]] [[mock:call=get_weather]][[mock:parallel]] [[mock:error=429]] \
             [[mock:slow=250]] [[mock:stall=10]] [[mock:usage=10,5,3,2]] [[mock:json]] \
             [[mock:midstream-error]] [[mock:drop]] [[mock:malformed]] [[mock:refusal]] \
             [[mock:length]] [[mock:text]] [[mock:remaining=7,900]]",
        );
        assert_eq!(d.remaining, Some([7, 900]));
        assert!(d.reasoning && d.parallel && d.json && d.midstream_error && d.drop);
        assert!(d.malformed && d.refusal && d.length && d.text);
        assert_eq!(d.call.as_deref(), Some("get_weather"));
        assert_eq!(d.error.as_deref(), Some("429"));
        assert_eq!(d.slow, Some(Duration::from_millis(250)));
        assert_eq!(d.stall, Some(Duration::from_millis(10)));
        assert_eq!(d.usage, Some([10, 5, 3, 2]));
    }

    #[test]
    fn ignores_malformed_directives() {
        let d = Directives::parse("[[mock:usage=1,2]] [[mock:slow=soon]] [[mock:bogus]] [[mock:");
        assert_eq!(d, Directives::default());
    }
}
