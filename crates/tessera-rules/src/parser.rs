//! Recursive-descent parser from tokens to [`Expr`], with caps on nesting depth and size.

use crate::ast::*;
use crate::lexer::{Tok, Token, lex};
use crate::span::{ErrorKind, RuleError, Span};

/// Deepest nesting of parentheses, `not` and aggregate filters.
pub const MAX_DEPTH: usize = 64;
/// Most expression and operand nodes in one rule.
pub const MAX_NODES: usize = 10_000;

/// Parses a whole rule.
pub fn parse(text: &str) -> Result<Expr, RuleError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        nodes: 0,
    };
    let expr = p.or()?;
    match &p.peek().tok {
        Tok::Eof => Ok(expr),
        Tok::RParen => Err(p.error_here("unbalanced `)`: no `(` opens it".into())),
        t => Err(p.error_here(format!(
            "expected `and`, `or` or the end of the rule, found {}",
            t.describe()
        ))),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    nodes: usize,
}

fn syntax(span: Span, message: String) -> RuleError {
    RuleError::new(ErrorKind::Syntax, span, message)
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tokens[(self.pos + k).min(self.tokens.len() - 1)].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn error_here(&self, message: String) -> RuleError {
        syntax(self.peek().span, message)
    }

    fn is_kw(&self, kw: &str) -> bool {
        kw_at(&self.peek().tok, kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.bump();
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str, after: &str) -> Result<Span, RuleError> {
        if self.is_kw(kw) {
            return Ok(self.bump().span);
        }
        Err(self.error_here(format!(
            "expected `{kw}` {after}, found {}",
            self.peek().tok.describe()
        )))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<Span, RuleError> {
        if self.peek().tok == tok {
            return Ok(self.bump().span);
        }
        Err(self.error_here(format!(
            "expected {what}, found {}",
            self.peek().tok.describe()
        )))
    }

    fn node(&mut self, span: Span) -> Result<(), RuleError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(RuleError::new(
                ErrorKind::Limit,
                span,
                format!("rule has more than {MAX_NODES} nodes, the limit for one rule"),
            ));
        }
        Ok(())
    }

    fn enter(&mut self, span: Span) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::new(
                ErrorKind::Limit,
                span,
                format!("rule nests deeper than {MAX_DEPTH} levels, the limit for one rule"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        self.chain("or", Self::and, ExprKind::Or)
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        self.chain("and", Self::unary, ExprKind::And)
    }

    fn chain(
        &mut self,
        kw: &str,
        next: fn(&mut Self) -> Result<Expr, RuleError>,
        make: fn(Vec<Expr>) -> ExprKind,
    ) -> Result<Expr, RuleError> {
        let first = next(self)?;
        if !self.is_kw(kw) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_kw(kw) {
            if matches!(self.peek().tok, Tok::Eof | Tok::RParen) {
                return Err(self.error_here(format!(
                    "expected a condition after `{kw}`, found {}",
                    self.peek().tok.describe()
                )));
            }
            items.push(next(self)?);
        }
        let span = items[0].span.to(items[items.len() - 1].span);
        self.node(span)?;
        Ok(Expr {
            kind: make(items),
            span,
        })
    }

    fn unary(&mut self) -> Result<Expr, RuleError> {
        if self.is_kw("not") {
            let start = self.bump().span;
            self.enter(start)?;
            let inner = self.unary()?;
            self.depth -= 1;
            let span = start.to(inner.span);
            self.node(span)?;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        let start = self.peek().span;
        if self.peek().tok == Tok::LParen {
            self.bump();
            self.enter(start)?;
            let mut inner = self.or()?;
            self.depth -= 1;
            let end = self.expect(Tok::RParen, "`)` to close the `(`")?;
            inner.span = start.to(end);
            return Ok(inner);
        }
        if self.is_kw("in") && kw_at(self.peek_at(1), "segment") {
            self.bump();
            self.bump();
            let tok = self.bump();
            let Tok::Str(name) = tok.tok else {
                return Err(syntax(
                    tok.span,
                    format!(
                        "expected the segment's name as a string after `in segment`, found {}",
                        tok.tok.describe()
                    ),
                ));
            };
            let span = start.to(tok.span);
            self.node(span)?;
            return Ok(Expr {
                kind: ExprKind::InSegment(Name {
                    text: name,
                    span: tok.span,
                }),
                span,
            });
        }
        let operand = self.operand()?;
        let (test, end) = self.test(&operand)?;
        let span = operand.span.to(end);
        self.node(span)?;
        Ok(Expr {
            kind: ExprKind::Test(Box::new(operand), test),
            span,
        })
    }

    /// The test after an operand, and where it ends; `Truthy` when none follows.
    fn test(&mut self, lhs: &Operand) -> Result<(Test, Span), RuleError> {
        let t = self.peek().clone();
        let cmp = match t.tok {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.bump();
            let rhs = self.operand_after(op.symbol())?;
            let end = rhs.span;
            return Ok((Test::Cmp(op, rhs), end));
        }
        let negated = self.is_kw("not")
            && (kw_at(self.peek_at(1), "in") || kw_at(self.peek_at(1), "between"));
        if negated {
            self.bump();
        }
        if self.eat_kw("in") {
            return self.in_list(negated);
        }
        if self.eat_kw("between") {
            let lo = self.operand_after("between")?;
            self.expect_kw("and", "between the bounds of `between`")?;
            let hi = self.operand_after("between ... and")?;
            let end = hi.span;
            return Ok((Test::Between { negated, lo, hi }, end));
        }
        for op in [StrOp::Contains, StrOp::StartsWith, StrOp::EndsWith] {
            if self.eat_kw(op.keyword()) {
                let rhs = self.operand_after(op.keyword())?;
                let end = rhs.span;
                return Ok((Test::Str(op, rhs), end));
            }
        }
        if self.eat_kw("matches") {
            let tok = self.bump();
            let Tok::Str(re) = tok.tok else {
                return Err(syntax(
                    tok.span,
                    format!(
                        "expected a regular expression as a string after `matches`, found {}",
                        tok.tok.describe()
                    ),
                ));
            };
            return Ok((Test::Matches(re, tok.span), tok.span));
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            let end = self.expect_kw("null", "after `is`")?;
            return Ok((Test::IsNull { negated }, end));
        }
        Ok((Test::Truthy, lhs.span))
    }

    fn in_list(&mut self, negated: bool) -> Result<(Test, Span), RuleError> {
        self.expect(Tok::LBracket, "`[` to start the list after `in`")?;
        let mut items = Vec::new();
        loop {
            let tok = self.peek().clone();
            match self.literal()? {
                Some(value) => items.push(Literal {
                    value,
                    span: tok.span.to(self.tokens[self.pos - 1].span),
                }),
                None => {
                    return Err(syntax(
                        tok.span,
                        format!(
                            "expected a literal in the list, found {}",
                            tok.tok.describe()
                        ),
                    ));
                }
            }
            self.node(tok.span)?;
            if self.peek().tok == Tok::Comma {
                self.bump();
                continue;
            }
            let end = self.expect(Tok::RBracket, "`,` or `]` in the list")?;
            return Ok((Test::In { negated, items }, end));
        }
    }

    fn operand_after(&mut self, what: &str) -> Result<Operand, RuleError> {
        if matches!(self.peek().tok, Tok::Eof) || self.is_kw("and") || self.is_kw("or") {
            return Err(self.error_here(format!(
                "expected a value after `{what}`, found {}",
                self.peek().tok.describe()
            )));
        }
        self.operand()
    }

    /// A literal at the cursor, consumed; `None` (nothing consumed) when there is none.
    fn literal(&mut self) -> Result<Option<LitValue>, RuleError> {
        let t = self.peek().clone();
        let value = match &t.tok {
            Tok::Str(s) => LitValue::Str(s.clone()),
            Tok::Date(d) => LitValue::Date(*d),
            Tok::Number(n) => {
                self.bump();
                if let Some(unit) = self.duration_unit() {
                    let span = t.span.to(self.bump().span);
                    let days = n
                        .parse::<i64>()
                        .ok()
                        .and_then(|v| v.checked_mul(unit))
                        .filter(|v| v.abs() <= 1_000_000)
                        .ok_or_else(|| {
                            RuleError::new(
                                ErrorKind::Literal,
                                span,
                                format!("a duration is a whole number of days or weeks up to 1000000 days, not {n}"),
                            )
                        })?;
                    return Ok(Some(LitValue::Duration(days)));
                }
                return Ok(Some(LitValue::Number(n.clone())));
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => LitValue::Bool(true),
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => LitValue::Bool(false),
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => LitValue::Null,
            _ => return Ok(None),
        };
        self.bump();
        Ok(Some(value))
    }

    /// Days per unit when the cursor is at `day(s)` or `week(s)`.
    fn duration_unit(&self) -> Option<i64> {
        match &self.peek().tok {
            Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
                "day" | "days" => Some(1),
                "week" | "weeks" => Some(7),
                _ => None,
            },
            _ => None,
        }
    }

    fn operand(&mut self) -> Result<Operand, RuleError> {
        let start = self.peek().clone();
        if let Some(value) = self.literal()? {
            let span = start.span.to(self.tokens[self.pos - 1].span);
            self.node(span)?;
            return Ok(Operand {
                kind: OperandKind::Lit(value),
                span,
            });
        }
        let Tok::Ident(word) = &start.tok else {
            return Err(syntax(
                start.span,
                format!(
                    "expected a field, a value or an aggregate, found {}",
                    start.tok.describe()
                ),
            ));
        };
        if is_reserved(word) {
            return Err(syntax(
                start.span,
                format!(
                    "expected a field, a value or an aggregate, found the keyword `{}`",
                    word.to_ascii_lowercase()
                ),
            ));
        }
        let call = self.peek_at(1) == &Tok::LParen;
        let span;
        let kind = if call && word.eq_ignore_ascii_case("days_since") {
            self.bump();
            self.bump();
            let name = self.name("a date or timestamp field in `days_since(...)`")?;
            let end = self.expect(Tok::RParen, "`)` after the field of `days_since`")?;
            span = start.span.to(end);
            OperandKind::DaysSince(name)
        } else if let (true, Some(func)) = (call, AggFunc::from_name(word)) {
            self.bump();
            self.bump();
            self.enter(start.span)?;
            let agg = self.aggregate(func)?;
            self.depth -= 1;
            let end = self.expect(Tok::RParen, "`)` to close the aggregate")?;
            span = start.span.to(end);
            OperandKind::Agg(agg)
        } else if call {
            return Err(syntax(
                start.span,
                format!(
                    "unknown function `{word}`: the functions are count, sum, avg, min, max, first, last and days_since"
                ),
            ));
        } else {
            let name = self.name("a field")?;
            span = name.span;
            OperandKind::Field(name)
        };
        self.node(span)?;
        Ok(Operand { kind, span })
    }

    /// A name, possibly dotted (`properties.path`).
    fn name(&mut self, what: &str) -> Result<Name, RuleError> {
        let t = self.bump();
        let Tok::Ident(mut text) = t.tok else {
            return Err(syntax(
                t.span,
                format!("expected {what}, found {}", t.tok.describe()),
            ));
        };
        let mut span = t.span;
        while self.peek().tok == Tok::Dot {
            self.bump();
            let part = self.bump();
            let Tok::Ident(p) = part.tok else {
                return Err(syntax(
                    part.span,
                    format!("expected a name after `.`, found {}", part.tok.describe()),
                ));
            };
            text.push('.');
            text.push_str(&p);
            span = span.to(part.span);
        }
        Ok(Name { text, span })
    }

    fn aggregate(&mut self, func: AggFunc) -> Result<Aggregate, RuleError> {
        let target = self.name(if func.takes_column() {
            "a table column such as `orders.amount`"
        } else {
            "`orders` or `events`"
        })?;
        let (table_text, column) = match target.text.split_once('.') {
            Some((t, c)) => (t.to_string(), Some(c.to_string())),
            None => (target.text.clone(), None),
        };
        let table = match table_text.to_ascii_lowercase().as_str() {
            "orders" => TableKind::Orders,
            "events" => TableKind::Events,
            _ => {
                return Err(RuleError::new(
                    ErrorKind::UnknownName,
                    target.span,
                    format!(
                        "unknown table \"{table_text}\": aggregates run over `orders` or `events`"
                    ),
                ));
            }
        };
        let column = match (func.takes_column(), column) {
            (true, Some(c)) => Some(Name {
                text: c,
                span: Span::new(target.span.start + table_text.len() + 1, target.span.end),
            }),
            (true, None) => {
                return Err(syntax(
                    target.span,
                    format!(
                        "`{}` needs a column, e.g. `{}({}.amount)`",
                        func.name(),
                        func.name(),
                        table.name()
                    ),
                ));
            }
            (false, Some(_)) => {
                return Err(syntax(
                    target.span,
                    format!(
                        "`{}` takes the table, not a column: `{}({} where ...)`",
                        func.name(),
                        func.name(),
                        table.name()
                    ),
                ));
            }
            (false, None) => None,
        };
        let filter = if self.eat_kw("where") {
            Some(Box::new(self.or()?))
        } else {
            None
        };
        if self.peek().tok == Tok::Comma {
            self.bump();
        }
        let window = self.window()?;
        Ok(Aggregate {
            func,
            table,
            column,
            filter,
            window,
        })
    }

    fn window(&mut self) -> Result<Window, RuleError> {
        if self.eat_kw("last") {
            let t = self.bump();
            let n = match &t.tok {
                Tok::Number(n) => n.parse::<i64>().ok().filter(|v| (1..=100_000).contains(v)),
                _ => None,
            };
            let Some(n) = n else {
                return Err(syntax(
                    t.span,
                    format!(
                        "expected a whole number of days or weeks (1 to 100000) after `last`, found {}",
                        t.tok.describe()
                    ),
                ));
            };
            let Some(unit) = self.duration_unit() else {
                return Err(self.error_here(format!(
                    "expected `days` or `weeks` after `last {n}`, found {}",
                    self.peek().tok.describe()
                )));
            };
            self.bump();
            return Ok(Window::Last { days: n * unit });
        }
        if self.is_kw("between") {
            let start = self.bump().span;
            let from = self.date("after `between` in a window")?;
            self.expect_kw("and", "between the dates of the window")?;
            let to = self.date("after `and` in a window")?;
            if to < from {
                return Err(RuleError::new(
                    ErrorKind::Literal,
                    start.to(self.tokens[self.pos - 1].span),
                    "the window ends before it starts",
                ));
            }
            return Ok(Window::Between { from, to });
        }
        Ok(Window::All)
    }

    fn date(&mut self, what: &str) -> Result<i32, RuleError> {
        let t = self.bump();
        match t.tok {
            Tok::Date(d) => Ok(d),
            other => Err(syntax(
                t.span,
                format!(
                    "expected a date YYYY-MM-DD {what}, found {}",
                    other.describe()
                ),
            )),
        }
    }
}

fn kw_at(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

/// Words that cannot name a field.
fn is_reserved(word: &str) -> bool {
    const RESERVED: [&str; 12] = [
        "and",
        "or",
        "not",
        "in",
        "is",
        "between",
        "contains",
        "starts_with",
        "ends_with",
        "matches",
        "where",
        "segment",
    ];
    RESERVED.iter().any(|k| word.eq_ignore_ascii_case(k))
}
