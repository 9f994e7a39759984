//! The fields of the text log format: what tracing-subscriber's default field formatter
//! writes, byte for byte (a test compares the two), at a fraction of its cost. The default
//! paints every field name and `=` through `nu_ansi_term` even with colours off and writes
//! every value through `core::fmt`; the per-request line has nineteen fields, and formatting
//! them was most of the line's cost (about 20k of its 25k instructions under callgrind).
//!
//! Strings that need no escaping, integers and booleans are written directly; everything
//! else (the message, `Debug` and `Display` values, errors, strings that need escaping) is
//! written as the default writes it. With colours on, the default formatter does it all.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, DefaultVisitor, Writer};

/// The text format's field formatter (see the module's documentation).
#[derive(Debug)]
pub struct PlainFields {
    colours: DefaultFields,
}

impl PlainFields {
    /// The formatter.
    pub fn new() -> Self {
        PlainFields {
            colours: DefaultFields::new(),
        }
    }
}

impl Default for PlainFields {
    fn default() -> Self {
        PlainFields::new()
    }
}

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return self.colours.format_fields(writer, fields);
        }
        let mut visitor = PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PlainVisitor<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// The space before every field but the first, then `name=`.
    fn start(&mut self, field: &Field) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
        } else {
            self.writer.write_char(' ')?;
        }
        let name = field.name();
        self.writer
            .write_str(name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_char('=')
    }

    /// Hands one field to the default visitor, which writes it as it always has.
    fn as_default(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        let mut default = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut default);
        self.is_empty = false;
        self.result = tracing_subscriber::field::VisitOutput::finish(default);
    }

    fn integer(&mut self, field: &Field, negative: bool, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.result = self.start(field).and_then(|()| {
            if negative {
                self.writer.write_char('-')?;
            }
            // Only ASCII digits were written.
            self.writer
                .write_str(std::str::from_utf8(&digits[at..]).unwrap_or_default())
        });
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        // `{:?}` of a string is the string in quotes when no character in it is escaped.
        let plain = value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if field.name() == "message" || !plain {
            self.as_default(|v| v.record_str(field, value));
            return;
        }
        self.result = self.start(field).and_then(|()| {
            self.writer.write_char('"')?;
            self.writer.write_str(value)?;
            self.writer.write_char('"')
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_ok() {
            self.integer(field, false, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_ok() {
            self.integer(field, value < 0, value.unsigned_abs());
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.result.is_err() {
            return;
        }
        self.result = self
            .start(field)
            .and_then(|()| self.writer.write_str(if value { "true" } else { "false" }));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.as_default(|v| v.record_error(field, value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if field.name() == "message" {
            self.as_default(|v| v.record_debug(field, value));
            return;
        }
        self.result = self
            .start(field)
            .and_then(|()| write!(self.writer, "{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Failure(Option<Box<Failure>>);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(if self.0.is_some() {
                "outer \"x\""
            } else {
                "inner\u{1b}[31m"
            })
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.0.as_deref().map(|e| e as _)
        }
    }

    fn events() {
        let error = Failure(Some(Box::new(Failure(None))));
        let error: &(dyn std::error::Error + 'static) = &error;
        tracing::info!(
            target: "switchyard::request",
            request_id = %"req_1",
            response_id = "resp_2",
            empty = "",
            stream = true,
            other = false,
            status = 200u16,
            negative = -42i64,
            min = i64::MIN,
            max = u64::MAX,
            zero = 0u64,
            ratio = 0.25f64,
            latency_ms = format_args!("{:.1}", 1.25),
            debug = ?vec!["a", "b"],
            quoted = "say \"hi\"",
            escaped = "tab\there\\ and \u{1b}[1m and é and \u{85}",
            r#type = "raw",
            error,
            "request finished"
        );
        tracing::warn!(
            "a message with \"quotes\", a tab\t, an escape \u{1b}[2J and {}",
            7
        );
        tracing::error!(value = 1u64);
        tracing::info!(message = "a message \u{1b} as a field", after = "x");
        tracing::debug!(value = "no message", n = 3u64);
    }

    fn render(plain: bool) -> String {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let builder = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || out.clone());
        if plain {
            let subscriber = builder.fmt_fields(PlainFields::new()).finish();
            tracing::subscriber::with_default(subscriber, events);
        } else {
            tracing::subscriber::with_default(builder.finish(), events);
        }
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn lines_are_those_of_the_default_formatter() {
        let default = render(false);
        assert_eq!(default.lines().count(), 5, "{default}");
        // Every kind of field is in it, the fast ones included.
        for expected in [
            "request finished request_id=req_1 response_id=\"resp_2\" empty=\"\" stream=true",
            "status=200 negative=-42 min=-9223372036854775808 max=18446744073709551615 zero=0",
            "quoted=\"say \\\"hi\\\"\"",
            "type=\"raw\" error=outer",
        ] {
            assert!(default.contains(expected), "{expected} in {default}");
        }
        assert_eq!(render(true), default);
    }
}
