//! Resolves names and types: from a parsed [`Expr`] to a checked [`Node`].

use crate::ast::{self, AggFunc, ExprKind, LitValue, OperandKind, TableKind};
use crate::ir::*;
use crate::print;
use crate::span::{ErrorKind, RuleError, Span};
use crate::types::{Catalog, RowSchema, Type, Value};

/// The distinct leaves of a segment set, shared by all its rules.
#[derive(Debug, Default)]
pub(crate) struct Leaves {
    pub(crate) list: Vec<Leaf>,
}

pub(crate) struct Checker<'a> {
    pub(crate) catalog: &'a Catalog,
    /// Names of the segments `in segment` may refer to.
    pub(crate) segments: &'a [String],
    pub(crate) leaves: &'a mut Leaves,
    /// Segments referred to, with where.
    pub(crate) refs: Vec<(usize, Span)>,
}

#[derive(Clone, Copy)]
enum Scope<'s> {
    Customer,
    Table(TableKind, &'s RowSchema),
}

/// One side of a comparison before its domain is known.
struct Side {
    /// `None` for a literal.
    src: Option<Src>,
    ty: Option<Type>,
    lit: Option<LitValue>,
    span: Span,
}

fn type_error(span: Span, message: String) -> RuleError {
    RuleError::new(ErrorKind::Type, span, message)
}

impl Checker<'_> {
    pub(crate) fn check(&mut self, e: &ast::Expr) -> Result<Node, RuleError> {
        self.cond(e, Scope::Customer)
    }

    fn cond(&mut self, e: &ast::Expr, scope: Scope) -> Result<Node, RuleError> {
        let cond = match &e.kind {
            ExprKind::And(items) => Cond::And(self.conds(items, scope)?),
            ExprKind::Or(items) => Cond::Or(self.conds(items, scope)?),
            ExprKind::Not(inner) => Cond::Not(Box::new(self.cond(inner, scope)?)),
            ExprKind::InSegment(name) => {
                if let Scope::Table(t, _) = scope {
                    return Err(type_error(
                        e.span,
                        format!(
                            "`in segment` is about customers; it cannot filter {}",
                            t.name()
                        ),
                    ));
                }
                let Some(i) = self.segments.iter().position(|s| *s == name.text) else {
                    return Err(RuleError::new(
                        ErrorKind::UnknownName,
                        name.span,
                        format!(
                            "unknown segment \"{}\"{}",
                            name.text,
                            did_you_mean(&name.text, self.segments.iter().map(String::as_str))
                        ),
                    ));
                };
                self.refs.push((i, name.span));
                Cond::Segment(i)
            }
            ExprKind::Test(o, t) => Cond::Test(self.test(o, t, scope)?),
        };
        Ok(Node { cond, span: e.span })
    }

    fn conds(&mut self, items: &[ast::Expr], scope: Scope) -> Result<Vec<Node>, RuleError> {
        items.iter().map(|e| self.cond(e, scope)).collect()
    }

    fn test(&mut self, o: &ast::Operand, t: &ast::Test, scope: Scope) -> Result<Test, RuleError> {
        let lhs = self.side(o, scope)?;
        Ok(match t {
            ast::Test::Truthy => {
                if lhs.ty != Some(Type::Bool) && !matches!(lhs.lit, Some(LitValue::Bool(_))) {
                    let what = lhs.ty.map_or("a literal".to_string(), |t| format!("{t}"));
                    return Err(type_error(
                        o.span,
                        format!(
                            "`{}` is {what}, not a condition: compare it with something, e.g. `{} > 0`",
                            print::operand_text(o),
                            print::operand_text(o)
                        ),
                    ));
                }
                let (_, mut vals) = unify(vec![lhs], self.catalog.money_decimals)?;
                Test::Truthy(vals.remove(0))
            }
            ast::Test::Cmp(op, rhs) => {
                let rhs = self.side(rhs, scope)?;
                let (domain, mut vals) = unify(vec![lhs, rhs], self.catalog.money_decimals)?;
                let r = vals.pop().expect("two sides");
                Test::Cmp(*op, vals.pop().expect("two sides"), r, domain)
            }
            ast::Test::Between { negated, lo, hi } => {
                let lo = self.side(lo, scope)?;
                let hi = self.side(hi, scope)?;
                let (domain, mut vals) = unify(vec![lhs, lo, hi], self.catalog.money_decimals)?;
                let hi = vals.pop().expect("three sides");
                let lo = vals.pop().expect("three sides");
                Test::Between {
                    negated: *negated,
                    val: vals.pop().expect("three sides"),
                    lo,
                    hi,
                    domain,
                }
            }
            ast::Test::In { negated, items } => {
                let mut sides = vec![lhs];
                sides.extend(items.iter().map(|l| Side {
                    src: None,
                    ty: None,
                    lit: Some(l.value.clone()),
                    span: l.span,
                }));
                let (domain, mut vals) = unify(sides, self.catalog.money_decimals)?;
                let items = vals
                    .drain(1..)
                    .map(|v| match v.src {
                        Src::Lit(v) => v,
                        _ => unreachable!("list items are literals"),
                    })
                    .collect();
                Test::In {
                    negated: *negated,
                    val: vals.remove(0),
                    items,
                    domain,
                }
            }
            ast::Test::Str(op, rhs) => {
                let rhs = self.side(rhs, scope)?;
                if lhs.ty == Some(Type::List) && *op == ast::StrOp::Contains {
                    let list = plain_val(lhs);
                    let (_, mut vals) = unify(vec![string_side(rhs)?], 0)?;
                    return Ok(Test::ListContains(list, vals.remove(0)));
                }
                let sides = vec![
                    string_side(lhs).map_err(|e| e.with_op(op.keyword()))?,
                    string_side(rhs).map_err(|e| e.with_op(op.keyword()))?,
                ];
                let (_, mut vals) = unify(sides, 0)?;
                let r = vals.pop().expect("two sides");
                Test::Str(*op, vals.pop().expect("two sides"), r)
            }
            ast::Test::Matches(re, span) => {
                let lhs = string_side(lhs).map_err(|e| e.with_op("matches"))?;
                let regex = regex::RegexBuilder::new(re)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        let msg = e.to_string();
                        let last = msg.lines().last().unwrap_or(&msg).trim();
                        let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                        RuleError::new(
                            ErrorKind::Literal,
                            *span,
                            format!("invalid regular expression: {last}"),
                        )
                    })?;
                let (_, mut vals) = unify(vec![lhs], 0)?;
                Test::Matches(vals.remove(0), Box::new(regex))
            }
            ast::Test::IsNull { negated } => Test::IsNull {
                negated: *negated,
                val: plain_val(lhs),
            },
        })
    }

    fn side(&mut self, o: &ast::Operand, scope: Scope) -> Result<Side, RuleError> {
        let (src, ty) = match &o.kind {
            OperandKind::Lit(v) => {
                return Ok(Side {
                    src: None,
                    ty: None,
                    lit: Some(v.clone()),
                    span: o.span,
                });
            }
            OperandKind::Field(name) => self.field(name, scope)?,
            OperandKind::DaysSince(name) => {
                let (src, ty) = self.field(name, scope)?;
                let Src::Field(i) = src else {
                    return Err(type_error(
                        name.span,
                        format!(
                            "days_since needs a date or timestamp field; `{}` is a string",
                            name.text
                        ),
                    ));
                };
                if !matches!(ty, Type::Date | Type::Timestamp) {
                    return Err(type_error(
                        name.span,
                        format!(
                            "days_since needs a date or timestamp field; `{}` is {ty}",
                            name.text
                        ),
                    ));
                }
                (Src::DaysSince(i), Type::Int)
            }
            OperandKind::Agg(a) => {
                if let Scope::Table(t, _) = scope {
                    return Err(type_error(
                        o.span,
                        format!(
                            "an aggregate cannot be used inside the filter of another ({} rows are filtered one at a time)",
                            t.name()
                        ),
                    ));
                }
                let (i, ty) = self.leaf(a, o.span)?;
                (Src::Leaf(i), ty)
            }
        };
        Ok(Side {
            src: Some(src),
            ty: Some(ty),
            lit: None,
            span: o.span,
        })
    }

    fn field(&self, name: &ast::Name, scope: Scope) -> Result<(Src, Type), RuleError> {
        let unknown = |what: &str, candidates: Vec<&str>, extra: &str| {
            RuleError::new(
                ErrorKind::UnknownName,
                name.span,
                format!(
                    "unknown {what} \"{}\"{}{extra}",
                    name.text,
                    did_you_mean(&name.text, candidates.into_iter())
                ),
            )
        };
        match scope {
            Scope::Customer => {
                let schema = &self.catalog.customer;
                if let Some(i) = schema.index(&name.text) {
                    return Ok((Src::Field(i), schema.fields[i].ty));
                }
                let extra = match name.text.split_once('.') {
                    Some((t, c)) if t == "orders" || t == "events" => format!(
                        "; columns of {t} are used inside an aggregate, e.g. `max({t}.{c})`"
                    ),
                    _ => String::new(),
                };
                Err(unknown("field", names(schema), &extra))
            }
            Scope::Table(table, schema) => {
                let text = name
                    .text
                    .strip_prefix(table.name())
                    .and_then(|r| r.strip_prefix('.'))
                    .unwrap_or(&name.text);
                if let Some(i) = schema.index(text) {
                    return Ok((Src::Field(i), schema.fields[i].ty));
                }
                if table == TableKind::Events
                    && let Some(key) = text.strip_prefix("properties.")
                {
                    if key.contains('.') {
                        return Err(RuleError::new(
                            ErrorKind::UnknownName,
                            name.span,
                            format!(
                                "properties.{key}: only top-level keys of the properties can be read"
                            ),
                        ));
                    }
                    return Ok((Src::Prop(key.to_string()), Type::String));
                }
                let what = format!("column of {}", table.name());
                Err(unknown(&what, names(schema), ""))
            }
        }
    }

    fn table(&self, t: TableKind, span: Span) -> Result<&RowSchema, RuleError> {
        let schema = match t {
            TableKind::Orders => self.catalog.orders.as_ref(),
            TableKind::Events => self.catalog.events.as_ref(),
        };
        schema.ok_or_else(|| {
            RuleError::new(
                ErrorKind::UnknownName,
                span,
                format!("the project has no {} source to aggregate", t.name()),
            )
        })
    }

    /// Checks an aggregate and returns its leaf's index and type, adding it when new.
    fn leaf(&mut self, a: &ast::Aggregate, span: Span) -> Result<(usize, Type), RuleError> {
        let schema = self.table(a.table, span)?.clone();
        let time_column = schema.index(a.table.time_column()).ok_or_else(|| {
            RuleError::new(
                ErrorKind::UnknownName,
                span,
                format!("{} has no column {}", a.table.name(), a.table.time_column()),
            )
        })?;
        let column = match &a.column {
            Some(c) => {
                let i = schema.index(&c.text).ok_or_else(|| {
                    RuleError::new(
                        ErrorKind::UnknownName,
                        c.span,
                        format!(
                            "unknown column of {} \"{}\"{}",
                            a.table.name(),
                            c.text,
                            did_you_mean(&c.text, names(&schema).into_iter())
                        ),
                    )
                })?;
                Some((i, schema.fields[i].ty, c.span))
            }
            None => None,
        };
        let ty = match (a.func, column) {
            (AggFunc::Count, _) => Type::Int,
            (AggFunc::First | AggFunc::Last, _) => Type::Timestamp,
            (AggFunc::Sum, Some((_, t @ (Type::Int | Type::Float | Type::Money), _))) => t,
            (AggFunc::Avg, Some((_, Type::Int | Type::Float, _))) => Type::Float,
            (AggFunc::Avg, Some((_, Type::Money, _))) => Type::Money,
            (
                AggFunc::Min | AggFunc::Max,
                Some((
                    _,
                    t @ (Type::Int
                    | Type::Float
                    | Type::Money
                    | Type::String
                    | Type::Date
                    | Type::Timestamp),
                    _,
                )),
            ) => t,
            (f, Some((_, t, s))) => {
                return Err(type_error(
                    s,
                    format!("{} cannot aggregate a {t} column", f.name()),
                ));
            }
            (_, None) => unreachable!("the parser requires a column"),
        };
        let filter = match &a.filter {
            Some(f) => Some(self.cond(f, Scope::Table(a.table, &schema))?),
            None => None,
        };
        let mut text = String::new();
        print::aggregate(&mut text, a);
        if let Some(i) = self.leaves.list.iter().position(|l| l.text == text) {
            return Ok((i, ty));
        }
        self.leaves.list.push(Leaf {
            func: a.func,
            table: a.table,
            column: column.map(|(i, t, _)| (i, t)),
            time_column,
            filter,
            filter_text: a.filter.as_ref().map(|f| print::normal_form(f)),
            window: a.window,
            ty,
            text,
        });
        Ok((self.leaves.list.len() - 1, ty))
    }
}

fn names(schema: &RowSchema) -> Vec<&str> {
    schema.fields.iter().map(|f| f.name.as_str()).collect()
}

/// `, did you mean "x"?` for the closest candidate, or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let best = candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(name.len() / 3) && *d < c.len().max(name.len()))
        .min();
    match best {
        Some((_, c)) => format!(", did you mean \"{c}\"?"),
        None => String::new(),
    }
}

trait WithOp {
    fn with_op(self, op: &str) -> RuleError;
}

impl WithOp for RuleError {
    fn with_op(mut self, op: &str) -> RuleError {
        self.message = format!("`{op}` {}", self.message);
        self
    }
}

/// A side that must be a string.
fn string_side(s: Side) -> Result<Side, RuleError> {
    match (&s.ty, &s.lit) {
        (Some(Type::String), _) | (None, Some(LitValue::Str(_))) => Ok(s),
        (Some(t), _) => Err(type_error(s.span, format!("needs strings; this is {t}"))),
        (None, Some(l)) => Err(type_error(
            s.span,
            format!("needs strings; this is {}", lit_kind(l)),
        )),
        (None, None) => unreachable!("a side is a literal or typed"),
    }
}

/// A field side taken as stored (for `is null` and list membership).
fn plain_val(s: Side) -> Val {
    let src = match (s.src, s.lit) {
        (Some(src), _) => src,
        (None, Some(LitValue::Null)) | (None, None) => Src::Lit(Value::Null),
        (None, Some(l)) => Src::Lit(natural(&l)),
    };
    Val {
        src,
        conv: Conv::None,
        span: s.span,
    }
}

fn lit_kind(l: &LitValue) -> &'static str {
    match l {
        LitValue::Null => "null",
        LitValue::Bool(_) => "a bool",
        LitValue::Number(n) if n.contains('.') => "a decimal number",
        LitValue::Number(_) => "a number",
        LitValue::Str(_) => "a string",
        LitValue::Date(_) => "a date",
        LitValue::Duration(_) => "a duration",
    }
}

/// The type a literal has on its own.
fn natural_type(l: &LitValue) -> Option<Type> {
    Some(match l {
        LitValue::Null => return None,
        LitValue::Bool(_) => Type::Bool,
        LitValue::Number(n) if n.contains('.') => Type::Float,
        LitValue::Number(_) | LitValue::Duration(_) => Type::Int,
        LitValue::Str(_) => Type::String,
        LitValue::Date(_) => Type::Date,
    })
}

fn natural(l: &LitValue) -> Value {
    match l {
        LitValue::Null => Value::Null,
        LitValue::Bool(b) => Value::Bool(*b),
        LitValue::Number(n) if n.contains('.') => Value::Float(n.parse().unwrap_or(f64::NAN)),
        LitValue::Number(n) => n.parse().map(Value::Int).unwrap_or(Value::Null),
        LitValue::Str(s) => Value::Str(s.clone()),
        LitValue::Date(d) => Value::Date(*d),
        LitValue::Duration(d) => Value::Int(*d),
    }
}

fn domain_of(a: Type, b: Type) -> Option<Domain> {
    use Type::*;
    Some(match (a, b) {
        (Int, Int) => Domain::Int,
        (Int | Float, Int | Float) | (Money, Money) => Domain::Float,
        (String, String) => Domain::Str,
        (Bool, Bool) => Domain::Bool,
        (Date, Date) | (Date, Timestamp) | (Timestamp, Date) => Domain::Day,
        (Timestamp, Timestamp) => Domain::Ts,
        _ => return None,
    })
}

fn conv_for(ty: Type, domain: Domain) -> Conv {
    match (ty, domain) {
        (Type::Int | Type::Money | Type::Float, Domain::Float) => Conv::ToFloat,
        (Type::Timestamp, Domain::Day) => Conv::ToDay,
        _ => Conv::None,
    }
}

/// Brings all sides to one domain: fields and aggregates decide it, literals follow.
fn unify(sides: Vec<Side>, money_decimals: u8) -> Result<(Domain, Vec<Val>), RuleError> {
    if let Some(s) = sides.iter().find(|s| matches!(s.lit, Some(LitValue::Null))) {
        return Err(type_error(
            s.span,
            "nothing is equal or unequal to null, so this is never true: test with `is null` or `is not null`".into(),
        ));
    }
    let typed: Vec<(Type, Span)> = sides
        .iter()
        .filter_map(|s| s.ty.map(|t| (t, s.span)))
        .collect();
    let all_literal = typed.is_empty();
    let natural_types: Vec<(Type, Span)> = sides
        .iter()
        .filter_map(|s| s.lit.as_ref().and_then(natural_type).map(|t| (t, s.span)))
        .collect();
    let basis = if all_literal { &natural_types } else { &typed };
    let (first, _) = basis[0];
    let mut domain = domain_of(first, first)
        .ok_or_else(|| type_error(basis[0].1, format!("a {first} value cannot be compared")))?;
    for &(t, span) in &basis[1..] {
        let d = domain_of(first, t)
            .ok_or_else(|| type_error(span, format!("cannot compare {first} with {t}")))?;
        // Int with float is float; a timestamp with a date is compared by calendar day.
        domain = match (domain, d) {
            (Domain::Int, Domain::Float) | (Domain::Float, Domain::Int) => Domain::Float,
            (Domain::Ts, Domain::Day) | (Domain::Day, Domain::Ts) => Domain::Day,
            (a, _) => a,
        };
    }
    // A timestamp compared with a date literal is compared by calendar day.
    if domain == Domain::Ts
        && sides
            .iter()
            .any(|s| matches!(s.lit, Some(LitValue::Date(_))))
    {
        domain = Domain::Day;
    }
    let money = typed.iter().any(|(t, _)| *t == Type::Money);
    // An int field compared with a decimal literal is compared as a float.
    if domain == Domain::Int
        && sides
            .iter()
            .any(|s| matches!(&s.lit, Some(LitValue::Number(n)) if n.contains('.')))
    {
        domain = Domain::Float;
    }
    let vals = sides
        .into_iter()
        .map(|s| {
            let (src, conv) = match (s.src, s.lit) {
                (Some(src), _) => (src, conv_for(s.ty.expect("typed"), domain)),
                (None, Some(l)) => (
                    Src::Lit(literal_in(
                        &l,
                        domain,
                        money,
                        first,
                        money_decimals,
                        s.span,
                    )?),
                    Conv::None,
                ),
                (None, None) => unreachable!("a side is a literal or typed"),
            };
            Ok(Val {
                src,
                conv,
                span: s.span,
            })
        })
        .collect::<Result<Vec<_>, RuleError>>()?;
    Ok((domain, vals))
}

/// A literal as a value of `domain`; numbers compared with money are in major units.
fn literal_in(
    l: &LitValue,
    domain: Domain,
    money: bool,
    basis: Type,
    money_decimals: u8,
    span: Span,
) -> Result<Value, RuleError> {
    let mismatch = || type_error(span, format!("cannot compare {basis} with {}", lit_kind(l)));
    Ok(match (l, domain) {
        (LitValue::Number(n), Domain::Float) if money => {
            Value::Float(minor_units(n, money_decimals))
        }
        (LitValue::Duration(_), Domain::Float) if money => return Err(mismatch()),
        (LitValue::Number(n), Domain::Float) => Value::Float(n.parse().map_err(|_| mismatch())?),
        (LitValue::Duration(d), Domain::Float) => Value::Float(*d as f64),
        (LitValue::Number(n), Domain::Int) => Value::Int(n.parse().map_err(|_| {
            RuleError::new(
                ErrorKind::Literal,
                span,
                format!("{n} does not fit in a 64-bit integer"),
            )
        })?),
        (LitValue::Duration(d), Domain::Int) => Value::Int(*d),
        (LitValue::Str(s), Domain::Str) => Value::Str(s.clone()),
        (LitValue::Bool(b), Domain::Bool) => Value::Bool(*b),
        (LitValue::Date(d), Domain::Day) => Value::Date(*d),
        _ => return Err(mismatch()),
    })
}

/// `500.005` with 2 decimals is 50000.5 minor units: the decimal point moved, then one rounding.
fn minor_units(n: &str, decimals: u8) -> f64 {
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    let digits = format!("{int}{frac}");
    let point = int.len() + usize::from(decimals);
    let text = if point >= digits.len() {
        format!("{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{}.{}", &digits[..point], &digits[point..])
    };
    text.parse().unwrap_or(f64::NAN)
}
