//! Behavioural leaves for every customer in one pass over the order and event batches: each
//! batch's filters are evaluated with the same kernels as rules, then the matching rows are folded
//! into per-customer accumulators, one leaf per thread. Passes over different parts of a table
//! can run apart and be merged ([`LeafState::merge`]).

use super::{Input, eval, is_true};
use crate::ast::{AggFunc, TableKind};
use crate::ir::Leaf;
use crate::row::Context;
use crate::set::SegmentSet;
use crate::types::Type;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use arrow_buffer::BooleanBuffer;
use arrow_schema::{ArrowError, DataType, TimeUnit};
use rayon::prelude::*;
use std::sync::Arc;
use tessera_core::value::LocalDays;

/// Running per-customer state of the leaves of a segment set.
pub struct LeafState<'s> {
    leaves: &'s [Leaf],
    /// One accumulator per leaf; `None` for leaves over a table this state does not read.
    accs: Vec<Option<Accum>>,
    /// The customers every accumulator holds a value for.
    customers: usize,
    days: LocalDays,
}

enum Accum {
    Count(Vec<u32>),
    Sum {
        ints: Vec<i128>,
        floats: Vec<f64>,
        /// Non-null values (avg only).
        values: Vec<u32>,
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
    /// Empty state of every leaf, for `customers` customers.
    pub fn new(set: &'s SegmentSet, customers: usize) -> Self {
        Self::with(set, customers, |_| true)
    }

    /// A state holding nothing yet, for `customers` customers: [`merge`](Self::merge) moves the
    /// first part of each pass in instead of adding it to zeros, and [`finish`](Self::finish)
    /// gives the leaves no part touched their empty values.
    pub fn empty(set: &'s SegmentSet, customers: usize) -> Self {
        Self::with(set, customers, |_| false)
    }

    /// Empty state of the leaves over `table` only (one part of a pass, to [`merge`](Self::merge)).
    pub fn for_table(set: &'s SegmentSet, customers: usize, table: TableKind) -> Self {
        Self::with(set, customers, |l| l.table == table)
    }

    fn with(set: &'s SegmentSet, customers: usize, keep: impl Fn(&Leaf) -> bool) -> Self {
        let accs = set
            .leaves
            .iter()
            .map(|l| keep(l).then(|| Accum::new(l, customers)))
            .collect();
        LeafState {
            leaves: &set.leaves,
            accs,
            customers,
            days: LocalDays::new(set.catalog.time_zone),
        }
    }

    /// Whether any leaf reads this table.
    pub fn needs(&self, table: TableKind) -> bool {
        self.leaves.iter().any(|l| l.table == table)
    }

    /// The columns of `table` the leaves read (indices into its row schema, ascending), and
    /// whether they read event properties. With `days_known` (see
    /// [`add_batch_on_days`](Self::add_batch_on_days)) the time column is read only where a leaf
    /// aggregates it.
    pub fn columns(&self, table: TableKind, days_known: bool) -> (Vec<usize>, bool) {
        let mut columns = Vec::new();
        let mut properties = false;
        for l in self.leaves.iter().filter(|l| l.table == table) {
            let (filter, p) = l.filter_columns();
            // The time column is read for the windows, unless the days are known, and for
            // first/last; the aggregated column and the filter's columns always.
            if !days_known
                || (l.column.is_none() && matches!(l.func, AggFunc::First | AggFunc::Last))
            {
                columns.push(l.time_column);
            }
            columns.extend(l.column.map(|(c, _)| c));
            columns.extend(filter);
            properties |= p;
        }
        columns.sort_unstable();
        columns.dedup();
        (columns, properties)
    }

    /// Folds one batch of `table` rows in. `columns` follow the table's row schema (columns no
    /// leaf reads, see [`columns`](Self::columns), may be empty arrays); `customer[i]` is row i's
    /// customer index, or negative when the customer is unknown.
    pub fn add_batch(
        &mut self,
        table: TableKind,
        columns: &[ArrayRef],
        properties: Option<&StringArray>,
        customer: &[i32],
        cx: Context,
    ) -> Result<(), ArrowError> {
        self.add(table, columns, properties, customer, None, cx)
    }

    /// [`add_batch`](Self::add_batch) with each row's local day of its time column already
    /// known, as the feature table computed it: `i32::MAX` where the time is null or the
    /// customer unknown (such rows fall outside every window).
    pub fn add_batch_on_days(
        &mut self,
        table: TableKind,
        columns: &[ArrayRef],
        properties: Option<&StringArray>,
        customer: &[i32],
        days: &[i32],
        cx: Context,
    ) -> Result<(), ArrowError> {
        self.add(table, columns, properties, customer, Some(days), cx)
    }

    fn add(
        &mut self,
        table: TableKind,
        columns: &[ArrayRef],
        properties: Option<&StringArray>,
        customer: &[i32],
        known_days: Option<&[i32]>,
        cx: Context,
    ) -> Result<(), ArrowError> {
        let Some(first) = self
            .leaves
            .iter()
            .zip(&self.accs)
            .find(|(l, a)| l.table == table && a.is_some())
            .map(|(l, _)| l)
        else {
            return Ok(());
        };
        let len = customer.len();
        // Rows without a known customer or a time fall outside every window.
        let days: std::borrow::Cow<[i32]> = match known_days {
            Some(days) => std::borrow::Cow::Borrowed(days),
            None => {
                let time = arrow_cast::cast(
                    &columns[first.time_column],
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                )?;
                let time = time.as_primitive::<TimestampMicrosecondType>();
                std::borrow::Cow::Owned(
                    (0..len)
                        .map(|r| {
                            if customer[r] < 0 || time.is_null(r) {
                                i32::MAX
                            } else {
                                self.days.day(time.value(r))
                            }
                        })
                        .collect(),
                )
            }
        };
        let input = Input {
            columns,
            leaves: &[],
            members: &[],
            properties,
            len,
            cx,
        };
        // The rows inside each distinct window, computed once for the leaves that share it.
        let mut ranges: Vec<(i32, i32)> = self
            .leaves
            .iter()
            .zip(&self.accs)
            .filter(|(l, a)| l.table == table && a.is_some())
            .map(|(l, _)| l.day_range(cx.as_of))
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        let windows: Vec<BooleanBuffer> = ranges
            .par_iter()
            .map(|&(from, to)| BooleanBuffer::collect_bool(len, |r| (from..to).contains(&days[r])))
            .collect();
        // The rows passing each distinct filter, likewise.
        let mut filters: Vec<(&str, &crate::ir::Node)> = self
            .leaves
            .iter()
            .zip(&self.accs)
            .filter(|(l, a)| l.table == table && a.is_some())
            .filter_map(|(l, _)| Some((l.filter_text.as_deref()?, l.filter.as_ref()?)))
            .collect();
        filters.sort_unstable_by_key(|f| f.0);
        filters.dedup_by_key(|f| f.0);
        let passing: Vec<BooleanBuffer> = filters
            .par_iter()
            .map(|(_, f)| Ok(is_true(&eval(f, &input)?).values().clone()))
            .collect::<Result<_, ArrowError>>()?;
        self.accs
            .par_iter_mut()
            .zip(self.leaves.par_iter())
            .filter_map(|(acc, leaf)| {
                acc.as_mut()
                    .filter(|_| leaf.table == table)
                    .map(|a| (a, leaf))
            })
            .try_for_each(|(acc, leaf)| {
                let range = leaf.day_range(cx.as_of);
                let w = ranges.binary_search(&range).expect("every window computed");
                let mut rows = windows[w].clone();
                if let Some(text) = &leaf.filter_text {
                    let f = filters
                        .binary_search_by_key(&text.as_str(), |f| f.0)
                        .expect("every filter computed");
                    rows = &rows & &passing[f];
                }
                let column = match leaf.column {
                    Some((c, _)) => columns[c].clone(),
                    None if leaf.func == AggFunc::Count => {
                        arrow_array::new_empty_array(&DataType::Null)
                    }
                    None => arrow_cast::cast(
                        &columns[leaf.time_column],
                        &DataType::Timestamp(TimeUnit::Microsecond, None),
                    )?,
                };
                acc.add(rows.set_indices(), customer, &column)
            })
    }

    /// Adds the state of another part of the same pass (made by [`new`](Self::new) or
    /// [`for_table`](Self::for_table) for the same customers). Sums of float columns depend on
    /// the order parts are merged in; merge them in table order for reproducible results.
    pub fn merge(&mut self, other: LeafState<'s>) {
        for (mine, theirs) in self.accs.iter_mut().zip(other.accs) {
            match (mine.as_mut(), theirs) {
                (Some(m), Some(t)) => m.merge(t),
                (None, Some(t)) => *mine = Some(t),
                (_, None) => {}
            }
        }
    }

    /// The leaves' values, one array per leaf, one row per customer.
    pub fn finish(self) -> Vec<ArrayRef> {
        let customers = self.customers;
        self.accs
            .into_iter()
            .zip(self.leaves)
            .map(|(a, l)| a.unwrap_or_else(|| Accum::new(l, customers)).finish())
            .collect()
    }
}

/// `n` copies of `value`, in memory the kernel is asked to back with huge pages (on Linux).
/// Accumulators hold a value per customer and are written at random; on 4 KiB pages, the first
/// write to each page (a fault, and for pages first read as zeros a TLB flush on every core) cost
/// more than the additions themselves: half of the leaf pass over 20M orders for 1M customers.
fn filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise_huge(&mut v);
    v.resize(n, value);
    v
}

/// `n` zeros, likewise: the allocation comes zeroed from the system, untouched until the advice
/// is given, so no page is written twice.
fn zeroed<T: Clone + Default>(n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    advise_huge(&mut v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge<T>(v: &mut Vec<T>) {
    const PAGE: usize = 4096;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 4 << 20 {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let (from, to) = (start.next_multiple_of(PAGE), (start + bytes) / PAGE * PAGE);
    if to > from {
        // SAFETY: advice about whole pages inside this vector's own allocation; it changes
        // neither the mapping's contents nor its protection, and failure is harmless.
        unsafe {
            libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge<T>(_: &mut Vec<T>) {}

impl Accum {
    fn new(leaf: &Leaf, n: usize) -> Accum {
        let max = matches!(leaf.func, AggFunc::Max | AggFunc::Last);
        let column_ty = leaf.column.map(|(_, t)| t);
        match leaf.func {
            AggFunc::Count => Accum::Count(zeroed(n)),
            AggFunc::Sum | AggFunc::Avg => {
                let float = column_ty == Some(Type::Float);
                let avg = leaf.func == AggFunc::Avg;
                Accum::Sum {
                    ints: if float { Vec::new() } else { zeroed(n) },
                    floats: if float { zeroed(n) } else { Vec::new() },
                    values: if avg { zeroed(n) } else { Vec::new() },
                    float,
                    avg,
                }
            }
            AggFunc::First | AggFunc::Last => Accum::BestInt {
                best: filled(n, None),
                max,
                out: DataType::Timestamp(TimeUnit::Microsecond, None),
            },
            AggFunc::Min | AggFunc::Max => match column_ty {
                Some(Type::Float) => Accum::BestFloat {
                    best: filled(n, None),
                    max,
                },
                Some(Type::String) => Accum::BestStr {
                    best: filled(n, None),
                    max,
                },
                Some(Type::Date) => Accum::BestInt {
                    best: filled(n, None),
                    max,
                    out: DataType::Date32,
                },
                Some(Type::Timestamp) => Accum::BestInt {
                    best: filled(n, None),
                    max,
                    out: DataType::Timestamp(TimeUnit::Microsecond, None),
                },
                _ => Accum::BestInt {
                    best: filled(n, None),
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
                avg,
            } => {
                let mut counted = |c: usize| {
                    if *avg {
                        values[c] += 1
                    }
                };
                if *float {
                    let a = arrow_cast::cast(column, &DataType::Float64)?;
                    let a = a.as_primitive::<Float64Type>();
                    for r in rows.filter(|&r| a.is_valid(r)) {
                        let c = customer[r] as usize;
                        floats[c] += a.value(r);
                        counted(c);
                    }
                } else {
                    let a = arrow_cast::cast(column, &DataType::Int64)?;
                    let a = a.as_primitive::<Int64Type>();
                    for r in rows.filter(|&r| a.is_valid(r)) {
                        let c = customer[r] as usize;
                        ints[c] += i128::from(a.value(r));
                        counted(c);
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

    fn merge(&mut self, other: Accum) {
        fn add<T: Copy + std::ops::AddAssign>(a: &mut [T], b: Vec<T>) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        fn best<T>(a: &mut [Option<T>], b: Vec<Option<T>>, better: impl Fn(&T, &T) -> bool) {
            for (a, b) in a.iter_mut().zip(b) {
                if let Some(b) = b
                    && a.as_ref().is_none_or(|a| better(&b, a))
                {
                    *a = Some(b);
                }
            }
        }
        match (self, other) {
            (Accum::Count(a), Accum::Count(b)) => add(a, b),
            (
                Accum::Sum {
                    ints,
                    floats,
                    values,
                    ..
                },
                Accum::Sum {
                    ints: i,
                    floats: f,
                    values: v,
                    ..
                },
            ) => {
                add(ints, i);
                add(floats, f);
                add(values, v);
            }
            (Accum::BestInt { best: a, max, .. }, Accum::BestInt { best: b, .. }) => {
                let max = *max;
                best(a, b, |x, y| if max { x > y } else { x < y })
            }
            (Accum::BestFloat { best: a, max }, Accum::BestFloat { best: b, .. }) => {
                let max = *max;
                best(a, b, |x, y| {
                    let o = x.total_cmp(y);
                    if max { o.is_gt() } else { o.is_lt() }
                })
            }
            (Accum::BestStr { best: a, max }, Accum::BestStr { best: b, .. }) => {
                let max = *max;
                best(a, b, |x, y| {
                    let o = x.as_bytes().cmp(y.as_bytes());
                    if max { o.is_gt() } else { o.is_lt() }
                })
            }
            _ => unreachable!("states of the same leaf have the same kind"),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Accum::Count(n) => Arc::new(Int64Array::from_iter_values(n.into_iter().map(i64::from))),
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
