//! Byte spans into a rule's text and the errors that point at them.

use std::fmt;
use thiserror::Error;

/// A byte range `start..end` into the rule text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// What kind of mistake a rule has; stable names for tools that read `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A character or token the grammar does not allow here.
    Syntax,
    /// A cap on text size, nesting depth or node count was exceeded.
    Limit,
    /// A field, column or segment name that does not exist.
    UnknownName,
    /// Operands whose types cannot be compared or tested this way.
    Type,
    /// A literal that is not valid (bad date, bad regex, out of range).
    Literal,
    /// Segments that refer to each other in a cycle.
    Cycle,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Limit => "limit",
            Self::UnknownName => "unknown_name",
            Self::Type => "type",
            Self::Literal => "literal",
            Self::Cycle => "cycle",
        }
    }
}

/// A mistake in a rule, with the span it is about.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct RuleError {
    pub kind: ErrorKind,
    pub span: Span,
    pub message: String,
}

impl RuleError {
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> Self {
        Self {
            kind,
            span,
            message: message.into(),
        }
    }

    /// `LINE:COL: message`, then the rule's line and a caret line under the span.
    pub fn render(&self, text: &str) -> String {
        Rendered { err: self, text }.to_string()
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, text: &str) -> (usize, usize) {
        line_col(text, self.span.start)
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

struct Rendered<'a> {
    err: &'a RuleError,
    text: &'a str,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.err.line_col(self.text);
        writeln!(f, "{line}:{col}: {}", self.err.message)?;
        let Some(src) = self.text.lines().nth(line - 1) else {
            return Ok(());
        };
        // Long lines are cut around the span so the caret stays readable.
        let chars: Vec<char> = src.chars().collect();
        let start = col - 1;
        let span_chars = self.text[floor_char(self.text, self.err.span.start)
            ..floor_char(self.text, self.err.span.end.min(self.text.len()))]
            .chars()
            .take_while(|&c| c != '\n')
            .count()
            .max(1);
        let from = start.saturating_sub(60);
        let to = (start + span_chars + 60).min(chars.len());
        let shown: String = chars[from..to].iter().collect();
        let lead = if from > 0 { "..." } else { "" };
        let tail = if to < chars.len() { "..." } else { "" };
        writeln!(f, "{lead}{shown}{tail}")?;
        let pad = " ".repeat(lead.len() + start - from);
        write!(
            f,
            "{pad}{}",
            "^".repeat(span_chars.min(to.saturating_sub(start)).max(1))
        )
    }
}
