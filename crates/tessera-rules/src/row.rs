//! Row evaluation: one customer at a time, from their row and their leaves' values. This is the
//! path a real-time server takes; the batch path must agree with it on every input.

use crate::ast::{AggFunc, StrOp};
use crate::ir::*;
use crate::types::{Truth, Value, local_day};
use chrono_tz::Tz;
use std::cmp::Ordering;

pub use crate::types::Row;

/// What evaluation depends on besides the row.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Days since 1970-01-01 of the run's `as_of`.
    pub as_of: i32,
    pub time_zone: Tz,
}

/// Evaluates `node` on `row`. `leaves` holds the customer's leaf values (customer scope only) and
/// `members` whether the customer is in each segment referred to so far.
pub fn eval(node: &Node, row: &dyn Row, leaves: &[Value], members: &[bool], cx: &Context) -> Truth {
    match &node.cond {
        Cond::And(items) => items.iter().fold(Truth::True, |acc, n| {
            if acc == Truth::False {
                acc
            } else {
                acc.and(eval(n, row, leaves, members, cx))
            }
        }),
        Cond::Or(items) => items.iter().fold(Truth::False, |acc, n| {
            if acc == Truth::True {
                acc
            } else {
                acc.or(eval(n, row, leaves, members, cx))
            }
        }),
        Cond::Not(inner) => eval(inner, row, leaves, members, cx).not(),
        Cond::Segment(i) => Truth::from_bool(members[*i]),
        Cond::Test(t) => test(t, row, leaves, cx),
    }
}

fn test(t: &Test, row: &dyn Row, leaves: &[Value], cx: &Context) -> Truth {
    let get = |v: &Val| value(v, row, leaves, cx);
    match t {
        Test::Truthy(v) => match get(v) {
            Value::Bool(b) => Truth::from_bool(b),
            _ => Truth::Unknown,
        },
        Test::Cmp(op, a, b, _) => match compare(&get(a), &get(b)) {
            Some(ord) => Truth::from_bool(op.holds(ord)),
            None => Truth::Unknown,
        },
        Test::In {
            negated,
            val,
            items,
            ..
        } => {
            let v = get(val);
            let found = if v.is_null() {
                Truth::Unknown
            } else {
                Truth::from_bool(
                    items
                        .iter()
                        .any(|i| compare(&v, i) == Some(Ordering::Equal)),
                )
            };
            if *negated { found.not() } else { found }
        }
        Test::Between {
            negated,
            val,
            lo,
            hi,
            ..
        } => {
            let v = get(val);
            let ge = compare(&v, &get(lo)).map(|o| o != Ordering::Less);
            let le = compare(&v, &get(hi)).map(|o| o != Ordering::Greater);
            let t = truth(ge).and(truth(le));
            if *negated { t.not() } else { t }
        }
        Test::Str(op, a, b) => match (get(a), get(b)) {
            (Value::Str(a), Value::Str(b)) => Truth::from_bool(match op {
                StrOp::Contains => a.contains(&b),
                StrOp::StartsWith => a.starts_with(&b),
                StrOp::EndsWith => a.ends_with(&b),
            }),
            _ => Truth::Unknown,
        },
        Test::ListContains(list, item) => match (get(list), get(item)) {
            (Value::List(l), Value::Str(s)) => Truth::from_bool(l.contains(&s)),
            _ => Truth::Unknown,
        },
        Test::Matches(v, re) => match get(v) {
            Value::Str(s) => Truth::from_bool(re.is_match(&s)),
            _ => Truth::Unknown,
        },
        Test::IsNull { negated, val } => Truth::from_bool(get(val).is_null() != *negated),
    }
}

fn truth(b: Option<bool>) -> Truth {
    b.map_or(Truth::Unknown, Truth::from_bool)
}

/// A value in its comparison's domain.
pub fn value(v: &Val, row: &dyn Row, leaves: &[Value], cx: &Context) -> Value {
    let raw = match &v.src {
        Src::Lit(x) => return x.clone(),
        Src::Field(i) => row.get(*i),
        Src::Prop(key) => row.prop(key),
        Src::DaysSince(i) => match row.get(*i) {
            Value::Date(d) => Value::Int(i64::from(cx.as_of) - i64::from(d)),
            Value::Timestamp(t) => {
                Value::Int(i64::from(cx.as_of) - i64::from(local_day(t, cx.time_zone)))
            }
            _ => Value::Null,
        },
        Src::Leaf(i) => leaves[*i].clone(),
    };
    convert(raw, v.conv, cx.time_zone)
}

fn convert(v: Value, conv: Conv, tz: Tz) -> Value {
    match (conv, v) {
        (Conv::ToFloat, Value::Int(i)) => Value::Float(i as f64),
        (Conv::ToDay, Value::Timestamp(t)) => Value::Date(local_day(t, tz)),
        (_, v) => v,
    }
}

/// Orders two non-null values of one domain; `None` when either is null.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    Some(match (a, b) {
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
        (Value::Str(a), Value::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Date(a), Value::Date(b)) => a.cmp(b),
        (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
        _ => return None,
    })
}

/// A leaf's value for one customer, from that customer's rows of the leaf's table.
pub fn leaf_value(leaf: &Leaf, rows: &[&dyn Row], cx: &Context) -> Value {
    let (from, to) = leaf.day_range(cx.as_of);
    let mut acc = Acc::new(leaf);
    for &row in rows {
        let Value::Timestamp(t) = row.get(leaf.time_column) else {
            continue;
        };
        let day = local_day(t, cx.time_zone);
        if day < from || day >= to {
            continue;
        }
        if let Some(f) = &leaf.filter
            && eval(f, row, &[], &[], cx) != Truth::True
        {
            continue;
        }
        let v = match leaf.column {
            Some((c, _)) => row.get(c),
            None => Value::Timestamp(t),
        };
        acc.add(v);
    }
    acc.finish()
}

/// The running state of one aggregate for one customer (the batch path keeps the same state in
/// columns, one entry per customer).
#[derive(Debug, Clone)]
pub struct Acc {
    func: AggFunc,
    rows: i64,
    values: i64,
    int_sum: i128,
    float_sum: f64,
    float: bool,
    best: Value,
}

impl Acc {
    pub fn new(leaf: &Leaf) -> Self {
        Acc {
            func: leaf.func,
            rows: 0,
            values: 0,
            int_sum: 0,
            float_sum: 0.0,
            float: matches!(leaf.column, Some((_, crate::types::Type::Float))),
            best: Value::Null,
        }
    }

    /// Adds one row: its column value (or its time, for count, first and last).
    pub fn add(&mut self, v: Value) {
        self.rows += 1;
        if v.is_null() {
            return;
        }
        self.values += 1;
        match self.func {
            AggFunc::Count => {}
            AggFunc::Sum | AggFunc::Avg => match v {
                Value::Int(i) => self.int_sum += i128::from(i),
                Value::Float(f) => self.float_sum += f,
                _ => {}
            },
            AggFunc::Min | AggFunc::First => {
                if self.best.is_null() || compare(&v, &self.best) == Some(Ordering::Less) {
                    self.best = v;
                }
            }
            AggFunc::Max | AggFunc::Last => {
                if self.best.is_null() || compare(&v, &self.best) == Some(Ordering::Greater) {
                    self.best = v;
                }
            }
        }
    }

    pub fn finish(self) -> Value {
        match self.func {
            AggFunc::Count => Value::Int(self.rows),
            AggFunc::Sum if self.float => Value::Float(self.float_sum),
            AggFunc::Sum => {
                Value::Int(self.int_sum.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
            }
            AggFunc::Avg if self.values == 0 => Value::Null,
            AggFunc::Avg if self.float => Value::Float(self.float_sum / self.values as f64),
            AggFunc::Avg => Value::Float(self.int_sum as f64 / self.values as f64),
            _ => self.best,
        }
    }
}
