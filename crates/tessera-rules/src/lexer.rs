//! Splits a rule into tokens, each with its byte span.

use crate::span::{ErrorKind, RuleError, Span};

/// Largest rule text accepted, in bytes.
pub const MAX_RULE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword; keywords are recognised by the parser, case-insensitively.
    Ident(String),
    Str(String),
    /// A number as written (`12`, `-3`, `4.50`); the parser decides its type from context.
    Number(String),
    /// `YYYY-MM-DD`, as days since 1970-01-01.
    Date(i32),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

impl Tok {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Date(_) => "a date".into(),
            Tok::Eof => "end of input".into(),
            t => format!("`{}`", t.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Tokenizes `text`; the last token is always `Eof`.
pub fn lex(text: &str) -> Result<Vec<Token>, RuleError> {
    if text.len() > MAX_RULE_BYTES {
        return Err(RuleError::new(
            ErrorKind::Limit,
            Span::new(0, 0),
            format!(
                "rule text is {} bytes, more than the limit of {MAX_RULE_BYTES} bytes (64 KiB)",
                text.len()
            ),
        ));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |tok| (tok, start + 1);
        let (tok, end) = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b'.' => single(Tok::Dot),
            b'=' if bytes.get(i + 1) == Some(&b'=') => (Tok::Eq, i + 2),
            b'=' => single(Tok::Eq),
            b'!' if bytes.get(i + 1) == Some(&b'=') => (Tok::Ne, i + 2),
            b'<' if bytes.get(i + 1) == Some(&b'>') => (Tok::Ne, i + 2),
            b'<' if bytes.get(i + 1) == Some(&b'=') => (Tok::Le, i + 2),
            b'<' => single(Tok::Lt),
            b'>' if bytes.get(i + 1) == Some(&b'=') => (Tok::Ge, i + 2),
            b'>' => single(Tok::Gt),
            b'"' | b'\'' => string(text, i)?,
            b'0'..=b'9' => number_or_date(text, i)?,
            b'-' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => number_or_date(text, i)?,
            // Names may hold letters and digits of any script, as feature columns made from
            // category and event names do (`category_share_café`).
            _ if text[i..].starts_with(|c: char| c == '_' || c.is_alphabetic()) => {
                let end = text[i..]
                    .find(|c: char| !(c == '_' || c.is_alphanumeric()))
                    .map_or(bytes.len(), |n| i + n);
                (Tok::Ident(text[i..end].to_string()), end)
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(RuleError::new(
                    ErrorKind::Syntax,
                    Span::new(i, i + ch.len_utf8()),
                    format!("unexpected character {ch:?}"),
                ));
            }
        };
        out.push(Token {
            tok,
            span: Span::new(start, end),
        });
        i = end;
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(bytes.len(), bytes.len()),
    });
    Ok(out)
}

fn string(text: &str, start: usize) -> Result<(Tok, usize), RuleError> {
    let quote = text.as_bytes()[start] as char;
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        let at = start + 1 + k;
        match c {
            c if c == quote => return Ok((Tok::Str(value), at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                value.push(match e {
                    '"' | '\'' | '\\' => e,
                    'n' => '\n',
                    't' => '\t',
                    _ => {
                        return Err(RuleError::new(
                            ErrorKind::Syntax,
                            Span::new(at, at + 1 + e.len_utf8()),
                            format!(
                                "unknown escape \\{e} in a string (known: \\\" \\' \\\\ \\n \\t)"
                            ),
                        ));
                    }
                });
            }
            c => value.push(c),
        }
    }
    Err(RuleError::new(
        ErrorKind::Syntax,
        Span::new(start, text.len()),
        format!("string is not closed: expected a closing {quote}"),
    ))
}

fn number_or_date(text: &str, start: usize) -> Result<(Tok, usize), RuleError> {
    let b = text.as_bytes();
    let digits = |from: usize| {
        text[from..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(b.len(), |n| from + n)
    };
    let neg = b[start] == b'-';
    let int_end = digits(start + usize::from(neg));
    // A date: four digits, '-', two digits, '-', two digits.
    if !neg && int_end - start == 4 && b.get(int_end) == Some(&b'-') {
        let end = (int_end + 6).min(b.len());
        let shape = end - start == 10
            && b[start..end].iter().enumerate().all(|(k, &c)| {
                if k == 4 || k == 7 {
                    c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shape {
            let span = Span::new(start, int_end + 1);
            return Err(RuleError::new(
                ErrorKind::Literal,
                span,
                "a date is written YYYY-MM-DD",
            ));
        }
        let span = Span::new(start, end);
        let candidate = &text[start..end];
        return match chrono::NaiveDate::parse_from_str(candidate, "%Y-%m-%d") {
            Ok(d) => Ok((Tok::Date(days(d)), end)),
            Err(_) => Err(RuleError::new(
                ErrorKind::Literal,
                span,
                format!("{candidate} is not a calendar date"),
            )),
        };
    }
    let mut end = int_end;
    if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits(end + 1);
    }
    Ok((Tok::Number(text[start..end].to_string()), end))
}

/// Days since 1970-01-01.
pub fn days(d: chrono::NaiveDate) -> i32 {
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}
