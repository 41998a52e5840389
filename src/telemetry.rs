//! Logs through `tracing`, as text or JSON (`log.format`). Each request runs in a span that
//! carries its request id, so every line logged while serving it names the request.
//!
//! Logged values come from requests (a rejected `return_to`, a header), so no value may start
//! a line or drive a terminal (CWE-117): in text, every control character inside a field is
//! written as an escape (`\n`, `\u{1b}`); JSON strings escape C0 controls already, and the
//! writer escapes the C1 controls and Unicode line separators that JSON allows raw.

use std::fmt;
use std::io::{self, IsTerminal};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, FmtSpan, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_env("VERITY_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{},sqlx=warn,actix_server=warn", cfg.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_target(false);
    let _ = match cfg.format {
        LogFormat::Json => builder
            .with_writer(JsonSafeStderr)
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(EscapedFields::default())
            .try_init(),
    };
}

/// `DefaultFields`, with every control character of the formatted fields escaped.
#[derive(Default)]
pub struct EscapedFields(DefaultFields);

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut plain = String::new();
        self.0.format_fields(Writer::new(&mut plain), fields)?;
        let mut escaped = String::with_capacity(plain.len());
        escape_controls(&plain, &mut escaped);
        writer.write_str(&escaped)
    }
}

/// Appends `s` to `out` with control characters, line and paragraph separators and
/// bidirectional overrides written as escapes, so the text stays on one line and shows as sent.
pub fn escape_controls(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Standard error for JSON lines. A JSON line holds raw characters only inside strings, where
/// `\uXXXX` means the same character, so escaping what serde leaves raw keeps the JSON equal.
struct JsonSafeStderr;

impl<'a> MakeWriter<'a> for JsonSafeStderr {
    type Writer = JsonSafeWriter<io::Stderr>;
    fn make_writer(&'a self) -> Self::Writer {
        JsonSafeWriter(io::stderr())
    }
}

pub struct JsonSafeWriter<W>(pub W);

impl<W: io::Write> io::Write for JsonSafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(s) if s.chars().any(|c| c != '\n' && needs_escape(c)) => {
                let mut out = String::with_capacity(s.len() + 16);
                for c in s.chars() {
                    if c != '\n' && needs_escape(c) {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    } else {
                        out.push(c);
                    }
                }
                self.0.write_all(out.as_bytes())?;
            }
            _ => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn control_characters_are_escaped_in_text() {
        let mut out = String::new();
        escape_controls(
            "x\n2026 INFO forged\r\u{1b}[31m\u{85}\u{2028}\u{202e}ok",
            &mut out,
        );
        assert_eq!(
            out,
            "x\\n2026 INFO forged\\r\\u{1b}[31m\\u{85}\\u{2028}\\u{202e}ok"
        );
    }

    #[test]
    fn json_lines_keep_their_meaning_without_raw_separators() {
        let line = format!("{}\n", serde_json::json!({"v": "a\u{85}b\u{2028}c\u{1b}"}));
        let mut w = JsonSafeWriter(Vec::new());
        w.write_all(line.as_bytes()).unwrap();
        let written = String::from_utf8(w.0).unwrap();
        assert_eq!(written.lines().count(), 1);
        assert!(!written.trim_end().chars().any(needs_escape), "{written}");
        let back: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(back["v"], "a\u{85}b\u{2028}c\u{1b}");
    }
}
