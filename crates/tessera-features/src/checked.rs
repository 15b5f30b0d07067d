//! Integer arithmetic that fails instead of wrapping, for custom features.
//!
//! DataFusion's `+`, `-`, `*` and `sum` on 64-bit integers wrap around past 2^63 - 1: a sum of
//! large amounts comes out negative. The feature table's own sums stop the run instead, and custom
//! features do the same: [`register`] puts into a session a planner that turns `+`, `-` and `*`
//! between integers into checked functions, and a `sum` that adds 64-bit integers in 128 bits and
//! fails when the total does not fit. Every other type goes to DataFusion's own operators and
//! `sum` unchanged.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Datum, Int64Array, ListArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::execution::FunctionRegistry;
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, Expr, ExprSchemable,
    GroupsAccumulator, ReversedUDAF, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::BinaryOperator;
use std::collections::HashSet;
use std::sync::Arc;

/// What a failed sum says; the caller names the feature and the file.
const SUM_OVERFLOW: &str = "the integers summed add up to more than a 64-bit integer holds; \
     cast them first (`sum(cast(x as double))`) for totals that may go beyond it";

/// Checked integer arithmetic and `sum` for the queries of `ctx`.
pub fn register(ctx: &mut SessionContext) -> Result<()> {
    ctx.register_expr_planner(Arc::new(CheckedPlanner))?;
    ctx.register_udaf(Arc::new(AggregateUDF::from(CheckedSum::default())))?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
}

/// Plans `a + b`, `a - b` and `a * b` between two integers as `checked_add(a, b)` and so on,
/// both sides cast to int64 (uint64 when both are unsigned).
#[derive(Debug)]
struct CheckedPlanner;

impl ExprPlanner for CheckedPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Plus => Op::Add,
            BinaryOperator::Minus => Op::Sub,
            BinaryOperator::Multiply => Op::Mul,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(l), Ok(r)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        if !(l.is_integer() && r.is_integer()) {
            return Ok(PlannerResult::Original(expr));
        }
        let to = match l.is_unsigned_integer() && r.is_unsigned_integer() {
            true => DataType::UInt64,
            false => DataType::Int64,
        };
        let side = |e: Expr, t: &DataType| match t == &to {
            true => e,
            false => cast(e, to.clone()),
        };
        let args = vec![side(expr.left, &l), side(expr.right, &r)];
        let f = Arc::new(ScalarUDF::from(CheckedOp::new(op)));
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(f, args),
        )))
    }
}

/// `checked_add`, `checked_sub`, `checked_mul`: Arrow's checked kernels, which fail on overflow.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedOp {
    op: Op,
    signature: Signature,
}

impl CheckedOp {
    fn new(op: Op) -> Self {
        Self {
            op,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for CheckedOp {
    fn name(&self) -> &str {
        match self.op {
            Op::Add => "checked_add",
            Op::Sub => "checked_sub",
            Op::Mul => "checked_mul",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let datum = |v: &ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match v {
                ColumnarValue::Array(a) => Box::new(a.clone()),
                ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
            })
        };
        let (l, r) = (datum(&args.args[0])?, datum(&args.args[1])?);
        let out = match self.op {
            Op::Add => numeric::add(l.as_ref(), r.as_ref()),
            Op::Sub => numeric::sub(l.as_ref(), r.as_ref()),
            Op::Mul => numeric::mul(l.as_ref(), r.as_ref()),
        }?;
        let scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        Ok(match scalars {
            true => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
            false => ColumnarValue::Array(out),
        })
    }
}

/// DataFusion's `sum`, except that int64 values are added in 128 bits and a total that does not
/// fit in 64 is an error, not a wrapped number.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
struct CheckedSum {
    inner: Sum,
}

fn is_int64(args: &AccumulatorArgs) -> bool {
    args.return_field.data_type() == &DataType::Int64
}

impl AggregateUDFImpl for CheckedSum {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        match (is_int64(&args), args.is_distinct) {
            (true, false) => Ok(Box::<Total>::default()),
            (true, true) => Ok(Box::<DistinctTotal>::default()),
            (false, _) => self.inner.accumulator(args),
        }
    }

    fn state_fields(
        &self,
        args: StateFieldsArgs,
    ) -> Result<Vec<Arc<datafusion::arrow::datatypes::Field>>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        match is_int64(&args) {
            true => Ok(Box::<GroupTotals>::default()),
            false => self.inner.create_groups_accumulator(args),
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// A 128-bit total as int64, or the overflow error.
fn fits(total: i128) -> Result<i64> {
    match i64::try_from(total) {
        Ok(t) => Ok(t),
        Err(_) => exec_err!("{SUM_OVERFLOW}"),
    }
}

/// The sum of one group's int64 values.
#[derive(Debug, Default)]
struct Total {
    sum: Option<i128>,
}

impl Accumulator for Total {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<Int64Type>().iter().flatten() {
            self.sum = Some(self.sum.unwrap_or(0) + i128::from(v));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(self.sum.map(fits).transpose()?))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

/// The sum of one group's distinct int64 values.
#[derive(Debug, Default)]
struct DistinctTotal {
    seen: HashSet<i64>,
}

impl DistinctTotal {
    fn add(&mut self, values: &dyn Array) {
        self.seen
            .extend(values.as_primitive::<Int64Type>().iter().flatten());
    }
}

impl Accumulator for DistinctTotal {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(values[0].as_ref());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: &ListArray = states[0].as_list();
        for list in lists.iter().flatten() {
            self.add(list.as_ref());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self.seen.iter().map(|&v| ScalarValue::from(v)).collect();
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &DataType::Int64,
        ))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.seen.is_empty() {
            return Ok(ScalarValue::Int64(None));
        }
        let total: i128 = self.seen.iter().map(|&v| i128::from(v)).sum();
        Ok(ScalarValue::Int64(Some(fits(total)?)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.seen.capacity() * size_of::<i64>()
    }
}

/// Whether a FILTER clause keeps `row`.
fn passes(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

/// The sums of many groups' int64 values (a GROUP BY).
#[derive(Debug, Default)]
struct GroupTotals {
    sums: Vec<i128>,
    seen: Vec<bool>,
}

impl GroupTotals {
    fn add(
        &mut self,
        values: &Int64Array,
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total_groups: usize,
    ) {
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        for (row, &g) in groups.iter().enumerate() {
            if passes(filter, row) && values.is_valid(row) {
                self.sums[g] += i128::from(values.value(row));
                self.seen[g] = true;
            }
        }
    }
}

impl GroupsAccumulator for GroupTotals {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total_groups: usize,
    ) -> Result<()> {
        self.add(values[0].as_primitive(), groups, filter, total_groups);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        let sums: Vec<i64> = sums.into_iter().map(fits).collect::<Result<_>>()?;
        Ok(Arc::new(Int64Array::new(
            sums.into(),
            Some(NullBuffer::from(seen)),
        )))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        total_groups: usize,
    ) -> Result<()> {
        self.add(values[0].as_primitive(), groups, None, total_groups);
        Ok(())
    }

    /// Each row on its own: its value, or null where the filter leaves it out.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Int64Type>();
        let state: Int64Array = values
            .iter()
            .enumerate()
            .map(|(row, v)| v.filter(|_| passes(filter, row)))
            .collect();
        Ok(vec![Arc::new(state)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<i128>() + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionConfig;

    /// A session over `t(g, x)`, split into `parts` partitions of batches of two rows, with
    /// checked arithmetic or not. Partial aggregation gives up after the first batch of each
    /// partition, so the rows-as-states path runs too.
    fn session(rows: &[(i64, Option<i64>)], parts: usize, checked: bool) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, false),
            Field::new("x", DataType::Int64, true),
        ]));
        let batch = |c: &[(i64, Option<i64>)]| {
            let g = Int64Array::from_iter_values(c.iter().map(|r| r.0));
            let x: Int64Array = c.iter().map(|r| r.1).collect();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(g), Arc::new(x)]).unwrap()
        };
        let chunk = rows.len().div_ceil(parts).max(1);
        let partitions = rows
            .chunks(chunk)
            .map(|part| part.chunks(2).map(batch).collect())
            .collect();
        let mut config = SessionConfig::new().with_target_partitions(2);
        let options = config.options_mut();
        options
            .execution
            .skip_partial_aggregation_probe_rows_threshold = 1;
        options
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 0.1;
        let mut ctx = SessionContext::new_with_config(config);
        if checked {
            register(&mut ctx).unwrap();
        }
        let table = MemTable::try_new(schema, partitions).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx
    }

    /// The rows of the result, each as its values joined by `|`, sorted.
    fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
        use datafusion::arrow::util::display::array_value_to_string;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let batches = rt.block_on(async { ctx.sql(sql).await?.collect().await })?;
        let mut rows = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                let values: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, row))
                    .collect::<std::result::Result<_, _>>()?;
                rows.push(values.join("|"));
            }
        }
        rows.sort();
        Ok(rows)
    }

    fn error(ctx: &SessionContext, sql: &str) -> String {
        match query(ctx, sql) {
            Ok(rows) => panic!("{sql} gave {rows:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn sums_past_64_bits_fail_in_every_aggregation_path() {
        let max = i64::MAX;
        // Group 1 goes past i64::MAX; group 2 passes it on the way and comes back under.
        let rows = [
            (1, Some(max)),
            (2, Some(max)),
            (1, Some(1)),
            (2, Some(1)),
            (2, Some(-2)),
        ];
        for parts in [1, 2, 5] {
            let ctx = session(&rows, parts, true);
            for sql in [
                "SELECT g, sum(x) FROM t GROUP BY g",
                "SELECT sum(x) FROM t",
                "SELECT g, sum(DISTINCT x) FROM t GROUP BY g",
                "SELECT g, sum(x) FILTER (WHERE x > 0) FROM t GROUP BY g",
            ] {
                assert!(
                    error(&ctx, sql).contains(SUM_OVERFLOW),
                    "{sql}, {parts} partitions"
                );
            }
            // Added in 128 bits, 2^63 - 1 + 1 - 2 fits: no overflow on the way.
            let ok = query(&ctx, "SELECT sum(x) FROM t WHERE g = 2").unwrap();
            assert_eq!(ok, [(max - 1).to_string()]);
            // The filter leaves out the 1 that would overflow group 1.
            let ok = query(
                &ctx,
                "SELECT sum(x) FILTER (WHERE x <> 1) FROM t WHERE g = 1",
            );
            assert_eq!(ok.unwrap(), [max.to_string()]);
        }
    }

    #[test]
    fn integer_arithmetic_past_64_bits_fails_and_floats_are_left_alone() {
        let ctx = session(
            &[(1, Some(i64::MAX / 2 + 1)), (2, Some(i64::MIN + 1))],
            1,
            true,
        );
        for sql in [
            "SELECT max(x * 2) FROM t",
            "SELECT max(x + x) FROM t",
            "SELECT min(x - 2) FROM t",
            "SELECT min(x * CAST(3 AS INT)) FROM t",
        ] {
            assert!(error(&ctx, sql).contains("Overflow"), "{sql}");
        }
        // A float side is DataFusion's own arithmetic, which does not overflow at this size.
        assert!(query(&ctx, "SELECT max(x * 2.0) FROM t").is_ok());
        // The unchecked session wraps: this is what the checks stop.
        let wraps = session(&[(1, Some(i64::MAX))], 1, false);
        let got = query(&wraps, "SELECT max(x + 1) FROM t").unwrap();
        assert_eq!(got, [i64::MIN.to_string()]);
    }

    #[test]
    fn within_64_bits_the_results_equal_datafusions_own() {
        // A fixed pseudo-random walk of values and groups, with nulls.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let rows: Vec<(i64, Option<i64>)> = (0..2000)
            .map(|_| {
                let g = (next() % 37) as i64;
                let x = (next() % 10 != 0).then(|| (next() % 2_000_001) as i64 - 1_000_000);
                (g, x)
            })
            .collect();
        let sqls = [
            "SELECT g, sum(x), sum(DISTINCT x), sum(x * 3 - g + 7) FROM t GROUP BY g",
            "SELECT g, sum(x) FILTER (WHERE x % 3 = 0), sum(x * x) FROM t GROUP BY g",
            "SELECT sum(x), sum(DISTINCT x % 100), sum(-x) FROM t",
            "SELECT g, max(x) - min(x), avg(x * 2) FROM t GROUP BY g",
        ];
        for parts in [1, 3] {
            let checked = session(&rows, parts, true);
            let stock = session(&rows, parts, false);
            for sql in sqls {
                let ours = query(&checked, sql).unwrap();
                let theirs = query(&stock, sql).unwrap();
                assert_eq!(ours, theirs, "{sql}");
                assert!(ours.len() > 1 || !sql.contains("GROUP BY"), "{sql}");
            }
        }
    }
}
