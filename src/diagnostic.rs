//! Problems found in a script, and how they are shown to people and tools.

use std::fmt::Write as _;

use serde::Serialize;

use crate::script::span::{LineIndex, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem, anchored to a span of the script source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, kebab-case identifier of the kind of problem (`unknown-function`).
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        code: &'static str,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, span, message)
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, span, message)
    }

    pub fn info(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, span, message)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col: severity: message [code]`, the source line, a caret
    /// under the span, and the help line if any.
    pub fn render(&self, file: &str, source: &str, lines: &LineIndex) -> String {
        let mut out = String::new();
        let s = &self.span;
        let _ = writeln!(
            out,
            "{file}:{}:{}: {}: {} [{}]",
            s.line,
            s.column,
            self.severity.as_str(),
            self.message,
            self.code
        );
        let text = lines.line_text(source, s.line);
        let gutter = s.line.to_string();
        let pad = " ".repeat(gutter.len());
        let _ = writeln!(out, "{gutter} | {text}");
        // Keep tabs so the caret lines up under the same characters.
        let prefix: String = text
            .chars()
            .take((s.column as usize).saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = caret_width(source, s, text.chars().count(), s.column as usize);
        let _ = writeln!(out, "{pad} | {prefix}{}", "^".repeat(width));
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out
    }

    pub fn to_json(&self, file: &str, source: &str, lines: &LineIndex) -> serde_json::Value {
        let end = lines.span(source, self.span.end, self.span.end);
        serde_json::json!({
            "file": file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": end.line,
            "end_column": end.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "help": self.help,
        })
    }
}

/// How many carets: the span's characters on its first line, at least one.
fn caret_width(source: &str, span: &Span, line_chars: usize, column: usize) -> usize {
    let text = source.get(span.start..span.end).unwrap_or("");
    let first_line = text.split('\n').next().unwrap_or("");
    let on_line = line_chars.saturating_sub(column.saturating_sub(1));
    first_line.chars().count().min(on_line).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let src = "<script>\n\t<e t=\"x\">@bad()</e>\n</script>\n";
        let idx = LineIndex::new(src);
        let at = src.find("@bad").unwrap();
        let d = Diagnostic::error(
            "unknown-function",
            idx.span(src, at, at + 4),
            "unknown function `@bad`",
        )
        .with_help("did you mean `@hash`?");
        let shown = d.render("a.script", src, &idx);
        assert_eq!(
            shown,
            "a.script:2:11: error: unknown function `@bad` [unknown-function]\n\
             2 | \t<e t=\"x\">@bad()</e>\n\
             \x20 | \t         ^^^^\n\
             \x20 = help: did you mean `@hash`?\n"
        );
    }
}
