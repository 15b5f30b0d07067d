//! Why a customer is in or out of a segment: the rule tree with each test's truth and the values
//! its operands had.

use crate::ir::*;
use crate::row::{Context, eval, value};
use crate::set::SegmentSet;
use crate::types::{Row, Truth, Type, Value};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub segment: String,
    pub version: String,
    pub member: bool,
    pub tree: ExplainNode,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainNode {
    /// The rule text of this node.
    pub text: String,
    #[serde(serialize_with = "truth_name")]
    pub truth: Truth,
    /// Operand values, as `(operand text, value)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ExplainNode>,
}

fn truth_name<S: serde::Serializer>(t: &Truth, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.name())
}

/// Explains segment `i` for one customer. `members` holds the customer's membership of every
/// segment (only those `i` depends on are read).
pub fn explain(
    set: &SegmentSet,
    i: usize,
    row: &dyn Row,
    leaves: &[Value],
    members: &[bool],
    cx: &Context,
) -> Explanation {
    let seg = &set.segments[i];
    let e = Explainer {
        set,
        row,
        leaves,
        members,
        cx,
        text: &seg.def.rule,
    };
    let tree = e.node(&seg.node);
    Explanation {
        segment: seg.def.name.clone(),
        version: seg.version.clone(),
        member: tree.truth == Truth::True,
        tree,
    }
}

struct Explainer<'a> {
    set: &'a SegmentSet,
    row: &'a dyn Row,
    leaves: &'a [Value],
    members: &'a [bool],
    cx: &'a Context,
    text: &'a str,
}

impl Explainer<'_> {
    fn node(&self, n: &Node) -> ExplainNode {
        let truth = eval(n, self.row, self.leaves, self.members, self.cx);
        let text = self.text[n.span.start..n.span.end].to_string();
        let (values, children) = match &n.cond {
            Cond::And(items) | Cond::Or(items) => {
                (Vec::new(), items.iter().map(|c| self.node(c)).collect())
            }
            Cond::Not(inner) => (Vec::new(), vec![self.node(inner)]),
            Cond::Segment(s) => {
                let inner = explain(self.set, *s, self.row, self.leaves, self.members, self.cx);
                let version = ("version".to_string(), inner.version.clone());
                (vec![version], vec![inner.tree])
            }
            Cond::Test(t) => (self.values(t), Vec::new()),
        };
        ExplainNode {
            text,
            truth,
            values,
            children,
        }
    }

    fn values(&self, t: &Test) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |v: &Val| {
            let (ty, raw) = match &v.src {
                Src::Lit(_) => return,
                Src::Field(i) => (self.set.catalog.customer.fields[*i].ty, self.row.get(*i)),
                Src::Leaf(l) => (self.set.leaves[*l].ty, self.leaves[*l].clone()),
                Src::DaysSince(_) | Src::Prop(_) => {
                    (Type::Int, value(v, self.row, self.leaves, self.cx))
                }
            };
            let label = self.text[v.span.start..v.span.end].to_string();
            let shown = display(&raw, ty, self.set.catalog.money_decimals, self.cx);
            if !out.iter().any(|(l, _)| *l == label) {
                out.push((label, shown));
            }
        };
        match t {
            Test::Truthy(v) | Test::Matches(v, _) | Test::IsNull { val: v, .. } => add(v),
            Test::In { val, .. } => add(val),
            Test::Cmp(_, a, b, _) | Test::Str(_, a, b) | Test::ListContains(a, b) => {
                add(a);
                add(b)
            }
            Test::Between { val, lo, hi, .. } => {
                add(val);
                add(lo);
                add(hi)
            }
        }
        out
    }
}

/// A value as a person reads it: money in major units, dates as `YYYY-MM-DD`.
pub fn display(v: &Value, ty: Type, money_decimals: u8, cx: &Context) -> String {
    match (v, ty) {
        (Value::Null, _) => "null".into(),
        (Value::Int(m), Type::Money) => money(*m as f64, money_decimals),
        (Value::Float(m), Type::Money) => money(*m, money_decimals),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Int(i), _) => i.to_string(),
        (Value::Float(f), _) => format!("{f}"),
        (Value::Str(s), _) => crate::print::quote(s),
        (Value::Date(d), _) => crate::print::date(*d),
        (Value::Timestamp(t), _) => {
            let secs = t.div_euclid(1_000_000);
            let nanos = (t.rem_euclid(1_000_000) * 1000) as u32;
            chrono::DateTime::from_timestamp(secs, nanos).map_or(t.to_string(), |d| {
                d.with_timezone(&cx.time_zone)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
        }
        (Value::List(l), _) => format!("{l:?}"),
    }
}

fn money(minor: f64, decimals: u8) -> String {
    let major = minor / 10f64.powi(i32::from(decimals));
    format!("{major:.prec$}", prec = usize::from(decimals))
}

/// The explanation as indented text, one node per line.
pub fn render(e: &Explanation) -> String {
    let mut s = format!(
        "{} (version {}): {}\n",
        e.segment,
        e.version,
        if e.member { "IN" } else { "OUT" }
    );
    fn walk(s: &mut String, n: &ExplainNode, depth: usize) {
        let _ = write!(
            s,
            "{}{:<7} {}",
            "  ".repeat(depth + 1),
            n.truth.name(),
            n.text
        );
        if !n.values.is_empty() {
            let vals: Vec<String> = n.values.iter().map(|(l, v)| format!("{l} = {v}")).collect();
            let _ = write!(s, "    [{}]", vals.join(", "));
        }
        s.push('\n');
        for c in &n.children {
            walk(s, c, depth + 1);
        }
    }
    walk(&mut s, &e.tree, 0);
    if !e.member {
        s.push_str(if e.tree.truth == Truth::Unknown {
            "  the rule is unknown (a value it needs is null), so the customer is not a member\n"
        } else {
            "  the rule is false, so the customer is not a member\n"
        });
    }
    s
}
