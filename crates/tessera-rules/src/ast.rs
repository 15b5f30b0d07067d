//! The parsed rule, before names and types are resolved. Every node keeps its span.

use crate::span::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `in segment "name"`.
    InSegment(Name),
    Test(Box<Operand>, Test),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// A bool operand on its own.
    Truthy,
    Cmp(CmpOp, Operand),
    In {
        negated: bool,
        items: Vec<Literal>,
    },
    Between {
        negated: bool,
        lo: Operand,
        hi: Operand,
    },
    Str(StrOp, Operand),
    Matches(String, Span),
    IsNull {
        negated: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// Whether `a op b` holds, given how `a` orders against `b`.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Self::Eq => ord == Equal,
            Self::Ne => ord != Equal,
            Self::Lt => ord == Less,
            Self::Le => ord != Greater,
            Self::Gt => ord == Greater,
            Self::Ge => ord != Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

impl StrOp {
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Contains => "contains",
            Self::StartsWith => "starts_with",
            Self::EndsWith => "ends_with",
        }
    }
}

/// A name as written: a field, a table column, `properties.KEY`, or a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    pub kind: OperandKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OperandKind {
    Lit(LitValue),
    Field(Name),
    DaysSince(Name),
    Agg(Aggregate),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub value: LitValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LitValue {
    Null,
    Bool(bool),
    /// As written; an integer or a decimal, typed by what it is compared with.
    Number(String),
    Str(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Whole days (`2 weeks` is 14).
    Duration(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
}

impl AggFunc {
    pub fn name(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
            Self::First => "first",
            Self::Last => "last",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "count" => Self::Count,
            "sum" => Self::Sum,
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "first" => Self::First,
            "last" => Self::Last,
            _ => return None,
        })
    }

    /// Whether the function takes a column (`sum(orders.amount)`) rather than the table.
    pub fn takes_column(self) -> bool {
        matches!(self, Self::Sum | Self::Avg | Self::Min | Self::Max)
    }
}

/// The rows of one customer an aggregate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    Orders,
    Events,
}

impl TableKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Events => "events",
        }
    }

    /// The column holding when a row happened.
    pub fn time_column(self) -> &'static str {
        match self {
            Self::Orders => "ordered_at",
            Self::Events => "occurred_at",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Everything before `as_of`.
    All,
    /// The `days` days before `as_of`.
    Last { days: i64 },
    /// Whole days `from` through `to`, inclusive (days since 1970-01-01).
    Between { from: i32, to: i32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggFunc,
    pub table: TableKind,
    pub column: Option<Name>,
    pub filter: Option<Box<Expr>>,
    pub window: Window,
}
