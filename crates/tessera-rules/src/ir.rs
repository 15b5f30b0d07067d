//! The checked rule: names resolved to columns and leaves, every comparison given one domain.

use crate::ast::{AggFunc, CmpOp, StrOp, TableKind, Window};
use crate::span::Span;
use crate::types::{Type, Value};

/// A checked boolean expression.
#[derive(Debug, Clone)]
pub struct Node {
    pub cond: Cond,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Cond {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Membership of the segment with this index in the [`crate::SegmentSet`].
    Segment(usize),
    Test(Test),
}

/// The type both sides of a comparison are brought to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    Int,
    Float,
    Str,
    Bool,
    /// Calendar days.
    Day,
    /// Microseconds, UTC.
    Ts,
}

#[derive(Debug, Clone)]
pub enum Test {
    Truthy(Val),
    Cmp(CmpOp, Val, Val, Domain),
    In {
        negated: bool,
        val: Val,
        items: Vec<Value>,
        domain: Domain,
    },
    Between {
        negated: bool,
        val: Val,
        lo: Val,
        hi: Val,
        domain: Domain,
    },
    Str(StrOp, Val, Val),
    ListContains(Val, Val),
    Matches(Val, Box<regex::Regex>),
    IsNull {
        negated: bool,
        val: Val,
    },
}

/// Where a value comes from, and how it is brought into its comparison's domain.
#[derive(Debug, Clone)]
pub struct Val {
    pub src: Src,
    pub conv: Conv,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Src {
    /// Already in the domain.
    Lit(Value),
    /// A column of the row in scope (the customer row, or an order or event row in a filter).
    Field(usize),
    /// `properties.KEY` of an event row: the value when it is a JSON string.
    Prop(String),
    /// `as_of` minus the calendar day of a date or timestamp field.
    DaysSince(usize),
    /// A behavioural aggregate's value for the customer.
    Leaf(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conv {
    None,
    /// Int or float storage to float.
    ToFloat,
    /// Timestamp storage to its calendar day in the project time zone.
    ToDay,
}

/// A behavioural aggregate over one customer's orders or events; each distinct one is computed once.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub func: AggFunc,
    pub table: TableKind,
    /// The aggregated column's index and type in the table's row schema.
    pub column: Option<(usize, Type)>,
    /// Index of the table's time column.
    pub time_column: usize,
    pub filter: Option<Node>,
    /// The filter in normal form: leaves with the same text filter the same rows.
    pub filter_text: Option<String>,
    pub window: Window,
    /// The result type.
    pub ty: Type,
    /// The aggregate in normal form, e.g. `count(orders where category = "shoes" last 90 days)`.
    pub text: String,
}

impl Leaf {
    /// The days `[from, to)` the leaf covers, given `as_of`.
    pub fn day_range(&self, as_of: i32) -> (i32, i32) {
        match self.window {
            Window::All => (i32::MIN, as_of),
            Window::Last { days } => (as_of.saturating_sub(days as i32), as_of),
            Window::Between { from, to } => (from, to.saturating_add(1).min(as_of)),
        }
    }
}

/// Calls `f` with every value `node` reads, in order.
pub fn visit_vals<'n>(node: &'n Node, f: &mut impl FnMut(&'n Val)) {
    match &node.cond {
        Cond::And(items) | Cond::Or(items) => items.iter().for_each(|n| visit_vals(n, f)),
        Cond::Not(inner) => visit_vals(inner, f),
        Cond::Segment(_) => {}
        Cond::Test(t) => match t {
            Test::Truthy(v) | Test::Matches(v, _) | Test::IsNull { val: v, .. } => f(v),
            Test::In { val: v, .. } => f(v),
            Test::Cmp(_, a, b, _) | Test::Str(_, a, b) | Test::ListContains(a, b) => {
                f(a);
                f(b)
            }
            Test::Between { val: v, lo, hi, .. } => {
                f(v);
                f(lo);
                f(hi)
            }
        },
    }
}

/// Calls `f` with every leaf index `node` uses.
pub fn visit_leaves(node: &Node, f: &mut impl FnMut(usize)) {
    visit_vals(node, &mut |v| {
        if let Src::Leaf(l) = v.src {
            f(l)
        }
    })
}

impl Leaf {
    /// The columns of its table the leaf's filter reads, and whether it reads event properties.
    pub fn filter_columns(&self) -> (Vec<usize>, bool) {
        let mut columns = Vec::new();
        let mut properties = false;
        if let Some(f) = &self.filter {
            visit_vals(f, &mut |v| match v.src {
                Src::Field(c) | Src::DaysSince(c) => columns.push(c),
                Src::Prop(_) => properties = true,
                _ => {}
            });
        }
        (columns, properties)
    }
}
