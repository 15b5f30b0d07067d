//! Behavioural leaves for every customer in one pass over the order and event batches: each
//! batch's filters are evaluated with the same kernels as rules, then the matching rows are folded
//! into per-customer accumulators, one leaf per thread.

use super::{Input, eval, is_true};
use crate::ast::{AggFunc, TableKind};
use crate::ir::Leaf;
use crate::row::Context;
use crate::set::SegmentSet;
use crate::types::{Type, local_day};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use arrow_schema::{ArrowError, DataType, TimeUnit};
use rayon::prelude::*;
use std::sync::Arc;

/// Running per-customer state of every leaf of a segment set.
pub struct LeafState<'s> {
    leaves: &'s [Leaf],
    accs: Vec<Accum>,
}

enum Accum {
    Count(Vec<i64>),
    Sum {
        ints: Vec<i128>,
        floats: Vec<f64>,
        values: Vec<i64>,
        float: bool,
        avg: bool,
    },
    /// Min, max, first and last of integer-like values (ints, money, dates, timestamps).
    BestInt {
        best: Vec<Option<i64>>,
        max: bool,
        out: DataType,
    },
    BestFloat {
        best: Vec<Option<f64>>,
        max: bool,
    },
    BestStr {
        best: Vec<Option<String>>,
        max: bool,
    },
}

impl<'s> LeafState<'s> {
    /// Empty state for `customers` customers.
    pub fn new(set: &'s SegmentSet, customers: usize) -> Self {
        let accs = set
            .leaves
            .iter()
            .map(|l| Accum::new(l, customers))
            .collect();
        LeafState {
            leaves: &set.leaves,
            accs,
        }
    }

    /// Whether any leaf reads this table.
    pub fn needs(&self, table: TableKind) -> bool {
        self.leaves.iter().any(|l| l.table == table)
    }

    /// Folds one batch of `table` rows in. `columns` follow the table's row schema; `customer[i]`
    /// is row i's customer index, or negative when the customer is unknown.
    pub fn add_batch(
        &mut self,
        table: TableKind,
        columns: &[ArrayRef],
        properties: Option<&StringArray>,
        customer: &[i32],
        cx: Context,
    ) -> Result<(), ArrowError> {
        let Some(first) = self.leaves.iter().find(|l| l.table == table) else {
            return Ok(());
        };
        let len = customer.len();
        let time = arrow_cast::cast(
            &columns[first.time_column],
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let time = time.as_primitive::<TimestampMicrosecondType>();
        let days: Vec<i32> = time
            .iter()
            .map(|t| t.map_or(i32::MAX, |t| local_day(t, cx.time_zone)))
            .collect();
        let input = Input {
            columns,
            leaves: &[],
            members: &[],
            properties,
            len,
            cx,
        };
        self.accs
            .par_iter_mut()
            .zip(self.leaves.par_iter())
            .filter(|(_, l)| l.table == table)
            .try_for_each(|(acc, leaf)| {
                let mask = match &leaf.filter {
                    Some(f) => Some(is_true(&eval(f, &input)?)),
                    None => None,
                };
                let (from, to) = leaf.day_range(cx.as_of);
                let rows = (0..len).filter(|&r| {
                    customer[r] >= 0
                        && days[r] >= from
                        && days[r] < to
                        && mask.as_ref().is_none_or(|m| m.value(r))
                });
                let column = match leaf.column {
                    Some((c, _)) => columns[c].clone(),
                    None => Arc::new(time.clone()) as ArrayRef,
                };
                acc.add(rows, customer, &column)
            })
    }

    /// The leaves' values, one array per leaf, one row per customer.
    pub fn finish(self) -> Vec<ArrayRef> {
        self.accs.into_iter().map(Accum::finish).collect()
    }
}

impl Accum {
    fn new(leaf: &Leaf, n: usize) -> Accum {
        let max = matches!(leaf.func, AggFunc::Max | AggFunc::Last);
        let column_ty = leaf.column.map(|(_, t)| t);
        match leaf.func {
            AggFunc::Count => Accum::Count(vec![0; n]),
            AggFunc::Sum | AggFunc::Avg => Accum::Sum {
                ints: vec![0; n],
                floats: vec![0.0; n],
                values: vec![0; n],
                float: column_ty == Some(Type::Float),
                avg: leaf.func == AggFunc::Avg,
            },
            AggFunc::First | AggFunc::Last => Accum::BestInt {
                best: vec![None; n],
                max,
                out: DataType::Timestamp(TimeUnit::Microsecond, None),
            },
            AggFunc::Min | AggFunc::Max => match column_ty {
                Some(Type::Float) => Accum::BestFloat {
                    best: vec![None; n],
                    max,
                },
                Some(Type::String) => Accum::BestStr {
                    best: vec![None; n],
                    max,
                },
                Some(Type::Date) => Accum::BestInt {
                    best: vec![None; n],
                    max,
                    out: DataType::Date32,
                },
                Some(Type::Timestamp) => Accum::BestInt {
                    best: vec![None; n],
                    max,
                    out: DataType::Timestamp(TimeUnit::Microsecond, None),
                },
                _ => Accum::BestInt {
                    best: vec![None; n],
                    max,
                    out: DataType::Int64,
                },
            },
        }
    }

    fn add(
        &mut self,
        rows: impl Iterator<Item = usize>,
        customer: &[i32],
        column: &ArrayRef,
    ) -> Result<(), ArrowError> {
        match self {
            Accum::Count(n) => rows.for_each(|r| n[customer[r] as usize] += 1),
            Accum::Sum {
                ints,
                floats,
                values,
                float,
                ..
            } => {
                if *float {
                    let a = arrow_cast::cast(column, &DataType::Float64)?;
                    let a = a.as_primitive::<Float64Type>();
                    for r in rows.filter(|&r| a.is_valid(r)) {
                        let c = customer[r] as usize;
                        floats[c] += a.value(r);
                        values[c] += 1;
                    }
                } else {
                    let a = arrow_cast::cast(column, &DataType::Int64)?;
                    let a = a.as_primitive::<Int64Type>();
                    for r in rows.filter(|&r| a.is_valid(r)) {
                        let c = customer[r] as usize;
                        ints[c] += i128::from(a.value(r));
                        values[c] += 1;
                    }
                }
            }
            Accum::BestInt { best, max, .. } => {
                let a = as_i64(column)?;
                for r in rows.filter(|&r| a.is_valid(r)) {
                    let (v, b) = (a.value(r), &mut best[customer[r] as usize]);
                    if b.is_none_or(|b| if *max { v > b } else { v < b }) {
                        *b = Some(v);
                    }
                }
            }
            Accum::BestFloat { best, max } => {
                let a = arrow_cast::cast(column, &DataType::Float64)?;
                let a = a.as_primitive::<Float64Type>();
                for r in rows.filter(|&r| a.is_valid(r)) {
                    let (v, b) = (a.value(r), &mut best[customer[r] as usize]);
                    let better = |b: f64| {
                        let o = v.total_cmp(&b);
                        if *max { o.is_gt() } else { o.is_lt() }
                    };
                    if b.is_none_or(better) {
                        *b = Some(v);
                    }
                }
            }
            Accum::BestStr { best, max } => {
                let a = arrow_cast::cast(column, &DataType::Utf8)?;
                let a = a.as_string::<i32>();
                for r in rows.filter(|&r| a.is_valid(r)) {
                    let (v, b) = (a.value(r), &mut best[customer[r] as usize]);
                    let better = b.as_deref().is_none_or(|b| {
                        let o = v.as_bytes().cmp(b.as_bytes());
                        if *max { o.is_gt() } else { o.is_lt() }
                    });
                    if better {
                        *b = Some(v.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            Accum::Count(n) => Arc::new(Int64Array::from(n)),
            Accum::Sum {
                ints,
                floats,
                values,
                float,
                avg,
            } => match (avg, float) {
                (false, true) => Arc::new(Float64Array::from(floats)),
                (false, false) => Arc::new(Int64Array::from_iter_values(
                    ints.iter()
                        .map(|&s| s.clamp(i64::MIN as i128, i64::MAX as i128) as i64),
                )),
                (true, f) => Arc::new(Float64Array::from_iter((0..values.len()).map(|c| {
                    (values[c] > 0).then(|| {
                        let sum = if f { floats[c] } else { ints[c] as f64 };
                        sum / values[c] as f64
                    })
                }))),
            },
            Accum::BestInt { best, out, .. } => {
                let a: ArrayRef = Arc::new(Int64Array::from(best));
                match out {
                    DataType::Date32 => arrow_cast::cast(&a, &DataType::Int32)
                        .and_then(|a| arrow_cast::cast(&a, &out)),
                    DataType::Int64 => Ok(a),
                    _ => arrow_cast::cast(&a, &out),
                }
                .expect("integer values fit their own type")
            }
            Accum::BestFloat { best, .. } => Arc::new(Float64Array::from(best)),
            Accum::BestStr { best, .. } => Arc::new(StringArray::from(best)),
        }
    }
}

/// Integer view of ints, money, dates and timestamps (µs).
fn as_i64(a: &ArrayRef) -> Result<Int64Array, ArrowError> {
    let a = match a.data_type() {
        DataType::Timestamp(_, _) => {
            arrow_cast::cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?
        }
        _ => a.clone(),
    };
    let a = match a.data_type() {
        DataType::Date32 => arrow_cast::cast(&a, &DataType::Int32)?,
        _ => a,
    };
    Ok(arrow_cast::cast(&a, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}
