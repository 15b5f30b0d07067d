//! Prints a parsed rule in normal form: lower-case keywords, single spaces, canonical literals and
//! the parentheses the precedence needs. Versions are hashes of this text, so reformatting a rule
//! does not change its version.

use crate::ast::*;
use crate::lexer::days;
use std::fmt::Write;

pub fn normal_form(e: &Expr) -> String {
    let mut s = String::new();
    expr(&mut s, e, 0);
    s
}

pub fn operand_text(o: &Operand) -> String {
    let mut s = String::new();
    operand(&mut s, o);
    s
}

/// Precedence: 0 top, 1 inside `or`, 2 inside `and`, 3 under `not`.
fn expr(s: &mut String, e: &Expr, ctx: u8) {
    let (level, parts, sep) = match &e.kind {
        ExprKind::Or(items) => (1, items, " or "),
        ExprKind::And(items) => (2, items, " and "),
        ExprKind::Not(inner) => {
            s.push_str("not ");
            expr(s, inner, 3);
            return;
        }
        ExprKind::InSegment(name) => {
            let _ = write!(s, "in segment {}", quote(&name.text));
            return;
        }
        ExprKind::Test(o, t) => {
            let paren = ctx == 3 && !matches!(t, Test::Truthy);
            if paren {
                s.push('(');
            }
            test(s, o, t);
            if paren {
                s.push(')');
            }
            return;
        }
    };
    let paren = ctx >= level;
    if paren {
        s.push('(');
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        expr(s, p, level);
    }
    if paren {
        s.push(')');
    }
}

fn test(s: &mut String, o: &Operand, t: &Test) {
    operand(s, o);
    let not = |n: bool| if n { " not" } else { "" };
    match t {
        Test::Truthy => {}
        Test::Cmp(op, rhs) => {
            let _ = write!(s, " {} ", op.symbol());
            operand(s, rhs);
        }
        Test::In { negated, items } => {
            let _ = write!(s, "{} in [", not(*negated));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                literal(s, &item.value);
            }
            s.push(']');
        }
        Test::Between { negated, lo, hi } => {
            let _ = write!(s, "{} between ", not(*negated));
            operand(s, lo);
            s.push_str(" and ");
            operand(s, hi);
        }
        Test::Str(op, rhs) => {
            let _ = write!(s, " {} ", op.keyword());
            operand(s, rhs);
        }
        Test::Matches(re, _) => {
            let _ = write!(s, " matches {}", quote(re));
        }
        Test::IsNull { negated } => {
            let _ = write!(s, " is{} null", not(*negated));
        }
    }
}

fn operand(s: &mut String, o: &Operand) {
    match &o.kind {
        OperandKind::Lit(v) => literal(s, v),
        OperandKind::Field(n) => s.push_str(&n.text),
        OperandKind::DaysSince(n) => {
            let _ = write!(s, "days_since({})", n.text);
        }
        OperandKind::Agg(a) => aggregate(s, a),
    }
}

pub fn aggregate(s: &mut String, a: &Aggregate) {
    let _ = write!(s, "{}({}", a.func.name(), a.table.name());
    if let Some(c) = &a.column {
        let _ = write!(s, ".{}", c.text);
    }
    if let Some(f) = &a.filter {
        s.push_str(" where ");
        expr(s, f, 0);
    }
    match a.window {
        Window::All => {}
        Window::Last { days } => {
            let _ = write!(s, " last {days} days");
        }
        Window::Between { from, to } => {
            let _ = write!(s, " between {} and {}", date(from), date(to));
        }
    }
    s.push(')');
}

fn literal(s: &mut String, v: &LitValue) {
    match v {
        LitValue::Null => s.push_str("null"),
        LitValue::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        LitValue::Number(n) => s.push_str(n),
        LitValue::Str(t) => s.push_str(&quote(t)),
        LitValue::Date(d) => s.push_str(&date(*d)),
        LitValue::Duration(d) => {
            let _ = write!(s, "{d} days");
        }
    }
}

/// A string literal in double quotes with the escapes the lexer reads.
pub fn quote(t: &str) -> String {
    let mut out = String::with_capacity(t.len() + 2);
    out.push('"');
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `YYYY-MM-DD` of days since 1970-01-01.
pub fn date(d: i32) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let day = epoch + chrono::Duration::days(i64::from(d));
    debug_assert_eq!(days(day), d);
    day.format("%Y-%m-%d").to_string()
}
