//! Batch evaluation: every customer at once, on Arrow arrays with Arrow's kernels (SQL's
//! three-valued `and`/`or` are `and_kleene`/`or_kleene`; a null is unknown). Behavioural leaves are
//! accumulated in one pass over the order and event batches ([`LeafState`]).

use crate::ast::{CmpOp, StrOp};
use crate::ir::*;
use crate::row::Context;
use crate::set::SegmentSet;
use crate::types::Value;
use arrow_arith::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::*;
use arrow_schema::{ArrowError, DataType, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

mod leaves;
pub use leaves::LeafState;

/// The arrays one evaluation reads.
pub struct Input<'a> {
    /// The row's columns, in the order of the scope's row schema.
    pub columns: &'a [ArrayRef],
    /// Leaf values per customer (customer scope only).
    pub leaves: &'a [ArrayRef],
    /// Membership of the segments evaluated so far (customer scope only).
    pub members: &'a [Option<BooleanArray>],
    /// `properties` JSON text of event rows (event filters only).
    pub properties: Option<&'a StringArray>,
    pub len: usize,
    pub cx: Context,
}

/// Evaluates every segment over the customer table: one membership array per segment (no nulls:
/// unknown is out), in segment order.
pub fn evaluate(
    set: &SegmentSet,
    columns: &[ArrayRef],
    leaves: &[ArrayRef],
    cx: Context,
) -> Result<Vec<BooleanArray>, ArrowError> {
    use rayon::prelude::*;
    let len = columns.first().map_or(0, |c| c.len());
    let mut members: Vec<Option<BooleanArray>> = vec![None; set.segments.len()];
    // Segments in levels: each level's segments refer only to earlier levels, so a level's
    // segments are evaluated in parallel.
    let mut level = vec![0usize; set.segments.len()];
    for &i in &set.order {
        level[i] = set.segments[i]
            .refs
            .iter()
            .map(|&r| level[r] + 1)
            .max()
            .unwrap_or(0);
    }
    for depth in 0..=level.iter().copied().max().unwrap_or(0) {
        let input = Input {
            columns,
            leaves,
            members: &members,
            properties: None,
            len,
            cx,
        };
        let done: Vec<(usize, BooleanArray)> = (0..set.segments.len())
            .into_par_iter()
            .filter(|&i| level[i] == depth)
            .map(|i| Ok((i, is_true(&eval(&set.segments[i].node, &input)?))))
            .collect::<Result<_, ArrowError>>()?;
        for (i, m) in done {
            members[i] = Some(m);
        }
    }
    Ok(members
        .into_iter()
        .map(|m| m.expect("every segment evaluated"))
        .collect())
}

/// True where `b` is true; false where it is false or unknown.
pub fn is_true(b: &BooleanArray) -> BooleanArray {
    match b.nulls() {
        None => b.clone(),
        Some(n) => BooleanArray::new(b.values() & n.inner(), None),
    }
}

/// Evaluates a checked expression: true, false, or null for unknown.
pub fn eval(node: &Node, input: &Input) -> Result<BooleanArray, ArrowError> {
    match &node.cond {
        Cond::And(items) => fold(items, input, and_kleene),
        Cond::Or(items) => fold(items, input, or_kleene),
        Cond::Not(inner) => not(&eval(inner, input)?),
        Cond::Segment(i) => Ok(input.members[*i]
            .clone()
            .expect("dependencies evaluated first")),
        Cond::Test(t) => test(t, input),
    }
}

fn fold(
    items: &[Node],
    input: &Input,
    op: fn(&BooleanArray, &BooleanArray) -> Result<BooleanArray, ArrowError>,
) -> Result<BooleanArray, ArrowError> {
    let mut acc = eval(&items[0], input)?;
    for n in &items[1..] {
        acc = op(&acc, &eval(n, input)?)?;
    }
    Ok(acc)
}

/// An operand: a whole column, or one literal.
enum Operand {
    Array(ArrayRef),
    Scalar(Scalar<ArrayRef>),
}

impl Operand {
    fn datum(&self) -> &dyn Datum {
        match self {
            Operand::Array(a) => a,
            Operand::Scalar(s) => s,
        }
    }

    /// As a full-length array (for the kernels without scalar forms).
    fn array(&self, len: usize) -> ArrayRef {
        match self {
            Operand::Array(a) => a.clone(),
            Operand::Scalar(s) => {
                let (a, _) = s.get();
                let idx = UInt32Array::from(vec![0u32; len]);
                arrow_select::take::take(a, &idx, None).expect("take from a one-row array")
            }
        }
    }
}

fn test(t: &Test, input: &Input) -> Result<BooleanArray, ArrowError> {
    use arrow_ord::cmp;
    let v = |val: &Val| operand(val, input);
    match t {
        Test::Truthy(a) => Ok(v(a)?.array(input.len).as_boolean().clone()),
        Test::Cmp(op, a, b, _) => {
            let (a, b) = (v(a)?, v(b)?);
            let (a, b) = (a.datum(), b.datum());
            match op {
                CmpOp::Eq => cmp::eq(a, b),
                CmpOp::Ne => cmp::neq(a, b),
                CmpOp::Lt => cmp::lt(a, b),
                CmpOp::Le => cmp::lt_eq(a, b),
                CmpOp::Gt => cmp::gt(a, b),
                CmpOp::Ge => cmp::gt_eq(a, b),
            }
        }
        Test::In {
            negated,
            val,
            items,
            ..
        } => {
            let x = v(val)?;
            let mut acc: Option<BooleanArray> = None;
            for item in items {
                let eq = cmp::eq(x.datum(), &Scalar::new(literal_array(item)))?;
                acc = Some(match acc {
                    None => eq,
                    Some(a) => or_kleene(&a, &eq)?,
                });
            }
            let found = acc.expect("a list has at least one item");
            if *negated { not(&found) } else { Ok(found) }
        }
        Test::Between {
            negated,
            val,
            lo,
            hi,
            ..
        } => {
            let x = v(val)?;
            let inside = and_kleene(
                &cmp::gt_eq(x.datum(), v(lo)?.datum())?,
                &cmp::lt_eq(x.datum(), v(hi)?.datum())?,
            )?;
            if *negated { not(&inside) } else { Ok(inside) }
        }
        Test::Str(op, a, b) => {
            let (a, b) = (v(a)?, v(b)?);
            let f = match op {
                StrOp::Contains => arrow_string::like::contains,
                StrOp::StartsWith => arrow_string::like::starts_with,
                StrOp::EndsWith => arrow_string::like::ends_with,
            };
            f(a.datum(), b.datum())
        }
        Test::ListContains(list, item) => {
            let list = v(list)?.array(input.len);
            let item = v(item)?.array(input.len);
            list_contains(list.as_list::<i32>(), item.as_string::<i32>())
        }
        Test::Matches(a, re) => {
            let a = v(a)?.array(input.len);
            Ok(a.as_string::<i32>()
                .iter()
                .map(|s| s.map(|s| re.is_match(s)))
                .collect())
        }
        Test::IsNull { negated, val } => {
            let a = v(val)?.array(input.len);
            if *negated {
                is_not_null(&a)
            } else {
                is_null(&a)
            }
        }
    }
}

fn list_contains(list: &ListArray, item: &StringArray) -> Result<BooleanArray, ArrowError> {
    Ok((0..list.len())
        .map(|i| {
            if list.is_null(i) || item.is_null(i) {
                return None;
            }
            let values = list.value(i);
            let values = values.as_string::<i32>();
            let wanted = item.value(i);
            Some(values.iter().any(|v| v == Some(wanted)))
        })
        .collect())
}

/// The operand's values in its comparison's domain.
fn operand(v: &Val, input: &Input) -> Result<Operand, ArrowError> {
    let raw: ArrayRef = match &v.src {
        Src::Lit(x) => return Ok(Operand::Scalar(Scalar::new(literal_array(x)))),
        Src::Field(i) => input.columns[*i].clone(),
        Src::Leaf(i) => input.leaves[*i].clone(),
        Src::Prop(key) => Arc::new(property(input.properties, key, input.len)),
        Src::DaysSince(i) => {
            let day = days(&input.columns[*i], input.cx)?;
            let as_of = i64::from(input.cx.as_of);
            let out: Int64Array = day
                .iter()
                .map(|d| d.map(|d| as_of - i64::from(d)))
                .collect();
            return Ok(Operand::Array(Arc::new(out)));
        }
    };
    Ok(Operand::Array(convert(raw, v.conv, input.cx)?))
}

/// Brings a stored column to its domain's Arrow type.
fn convert(a: ArrayRef, conv: Conv, cx: Context) -> Result<ArrayRef, ArrowError> {
    use arrow_cast::cast;
    Ok(match (conv, a.data_type()) {
        (Conv::ToFloat, DataType::Float64) => a,
        (Conv::ToFloat, _) => cast(&a, &DataType::Float64)?,
        (Conv::ToDay, _) => Arc::new(days(&a, cx)?),
        (Conv::None, DataType::Int8 | DataType::Int16 | DataType::Int32)
        | (Conv::None, DataType::UInt8 | DataType::UInt16 | DataType::UInt32) => {
            cast(&a, &DataType::Int64)?
        }
        (Conv::None, DataType::Timestamp(_, _)) => {
            let us = cast(&a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            cast(&us, &DataType::Int64)?
        }
        (Conv::None, DataType::Dictionary(_, _) | DataType::LargeUtf8 | DataType::Utf8View) => {
            cast(&a, &DataType::Utf8)?
        }
        _ => a,
    })
}

/// Calendar days of a date or timestamp column, in the project time zone.
fn days(a: &ArrayRef, cx: Context) -> Result<Date32Array, ArrowError> {
    Ok(match a.data_type() {
        DataType::Date32 => a.as_primitive::<arrow_array::types::Date32Type>().clone(),
        DataType::Timestamp(_, _) => {
            let us = arrow_cast::cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let mut local = tessera_core::value::LocalDays::new(cx.time_zone);
            us.as_primitive::<TimestampMicrosecondType>()
                .iter()
                .map(|t| t.map(|t| local.day(t)))
                .collect()
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "expected a date or timestamp column, found {other}"
            )));
        }
    })
}

/// A one-row array holding a domain value.
fn literal_array(v: &Value) -> ArrayRef {
    match v {
        Value::Null => Arc::new(NullArray::new(1)),
        Value::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        Value::Int(i) => Arc::new(Int64Array::from(vec![*i])),
        Value::Float(f) => Arc::new(Float64Array::from(vec![*f])),
        Value::Str(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        Value::Date(d) => Arc::new(Date32Array::from(vec![*d])),
        Value::Timestamp(t) => Arc::new(Int64Array::from(vec![*t])),
        Value::List(l) => {
            let values = StringArray::from(l.iter().map(String::as_str).collect::<Vec<_>>());
            let offsets = arrow_buffer::OffsetBuffer::from_lengths([l.len()]);
            Arc::new(ListArray::new(
                Arc::new(arrow_schema::Field::new("item", DataType::Utf8, true)),
                offsets,
                Arc::new(values),
                None,
            ))
        }
    }
}

/// `properties.KEY` of each event: the value when it is a JSON string, else null.
fn property(properties: Option<&StringArray>, key: &str, len: usize) -> StringArray {
    let Some(p) = properties else {
        return StringArray::new_null(len);
    };
    p.iter()
        .map(|json| json.and_then(|j| json_string(j, key)))
        .collect()
}

/// The string value of `key` in a JSON object's text.
pub fn json_string(json: &str, key: &str) -> Option<String> {
    let map: HashMap<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    match map.get(key) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Int64 view of an Int64 column (leaf results, counts).
pub fn int64(a: &ArrayRef) -> &Int64Array {
    a.as_primitive::<Int64Type>()
}
