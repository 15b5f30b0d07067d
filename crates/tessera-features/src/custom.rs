//! Custom features: the user's own SQL aggregate expressions (`[features.custom]`), evaluated per
//! customer over the clean orders or events by DataFusion.
//!
//! Each expression sees one table, `orders` or `events`: the clean table's columns (money in
//! integer minor units, times in UTC) plus `day`, the row's calendar day in the project's time
//! zone, and `age_days`, how many days before `as_of` that day is (1 for the day before). Only rows
//! strictly before `as_of` are in the table, as for every other feature. The expression is parsed
//! on its own and must be a single expression: it is placed into a query Tessera writes
//! (`SELECT customer_id, (expr) FROM orders GROUP BY customer_id`), so it cannot add clauses,
//! statements or other tables. Customers without rows get the expression's value over no rows
//! (`count(*)` is 0, `sum(amount)` is null).

use crate::table::FeatureError;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, Date32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, SchemaRef, TimeUnit};
use chrono_tz::Tz;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use hashbrown::HashMap;
use std::path::Path;
use std::sync::Arc;
use tessera_core::config::{CustomFeature, CustomOver};
use tessera_core::value::LocalDays;

/// The clean tables a custom feature can run over, as their schemas (known from the config
/// before any data is read).
#[derive(Debug, Clone, Default)]
pub struct CustomTables {
    pub orders: Option<SchemaRef>,
    pub events: Option<SchemaRef>,
}

impl CustomTables {
    fn schema(&self, over: CustomOver) -> Option<&SchemaRef> {
        match over {
            CustomOver::Orders => self.orders.as_ref(),
            CustomOver::Events => self.events.as_ref(),
        }
    }
}

fn custom_error(f: &CustomFeature, message: impl std::fmt::Display) -> FeatureError {
    FeatureError::Custom {
        at: f.at.clone(),
        name: f.name.clone(),
        message: message.to_string(),
    }
}

/// Parses `f.sql` as exactly one SQL expression and gives it back in canonical form.
fn parse_expression(f: &CustomFeature) -> Result<String, FeatureError> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(&f.sql)
        .map_err(|e| custom_error(f, e))?;
    let expr = parser.parse_expr().map_err(|e| custom_error(f, e))?;
    let rest = parser.peek_token();
    if rest.token != Token::EOF {
        return Err(custom_error(
            f,
            format!(
                "expected one SQL expression, found `{}` after it at line {}, column {}",
                rest.token, rest.span.start.line, rest.span.start.column
            ),
        ));
    }
    Ok(expr.to_string())
}

/// Time zone and `as_of` that the `day` and `age_days` columns follow.
struct Frame {
    time_zone: Tz,
    as_of: i32,
}

impl Frame {
    fn session(&self) -> SessionContext {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let config = SessionConfig::new()
            .with_target_partitions(threads)
            .with_information_schema(false);
        let mut ctx = SessionContext::new_with_config(config);
        ctx.register_udf(ScalarUDF::from(LocalDay::new(self.time_zone)));
        crate::checked::register(&mut ctx).expect("a new session takes a planner");
        ctx
    }

    /// Registers `over` as a view over the raw table `_<over>`: rows before `as_of`, plus `day`
    /// and `age_days`.
    async fn register_view(
        &self,
        ctx: &SessionContext,
        over: CustomOver,
    ) -> datafusion::error::Result<()> {
        let time = match over {
            CustomOver::Orders => "ordered_at",
            CustomOver::Events => "occurred_at",
        };
        let as_of = self.as_of;
        let view = format!(
            "CREATE VIEW {name} AS SELECT *, local_day({time}) AS day, \
             {as_of} - CAST(local_day({time}) AS INT) AS age_days \
             FROM _{name} WHERE CAST(local_day({time}) AS INT) < {as_of}",
            name = over.name(),
        );
        ctx.sql(&view).await?.collect().await?;
        Ok(())
    }
}

/// `(expr) AS "name", ...` for a set of expressions.
fn select_list(exprs: &[(&CustomFeature, String)]) -> String {
    let select: Vec<String> = exprs
        .iter()
        .map(|(f, e)| format!("({e}) AS \"{}\"", f.name))
        .collect();
    select.join(", ")
}

/// The grouped query for a set of expressions over one table.
fn grouped_query(over: CustomOver, exprs: &[(&CustomFeature, String)]) -> String {
    format!(
        "SELECT customer_id, {} FROM {} GROUP BY customer_id",
        select_list(exprs),
        over.name()
    )
}

/// The query giving each expression's value over no rows.
fn empty_query(over: CustomOver, exprs: &[(&CustomFeature, String)]) -> String {
    format!(
        "SELECT {} FROM {} WHERE false",
        select_list(exprs),
        over.name()
    )
}

fn engine_error(e: impl std::fmt::Display) -> FeatureError {
    FeatureError::Engine(e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, FeatureError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(1, usize::from))
        .enable_all()
        .build()
        .map_err(engine_error)
}

/// Checks every custom feature against the tables it runs over, without data: each must be one
/// expression, name known columns and functions, aggregate per customer and give a type the
/// feature table can hold. Names must not collide with `taken` (the built-in feature columns).
pub fn check(
    custom: &[CustomFeature],
    tables: &CustomTables,
    time_zone: Tz,
) -> Result<(), FeatureError> {
    if custom.is_empty() {
        return Ok(());
    }
    let frame = Frame {
        time_zone,
        as_of: 0,
    };
    runtime()?.block_on(async {
        let ctx = frame.session();
        for over in [CustomOver::Orders, CustomOver::Events] {
            if let Some(schema) = tables.schema(over) {
                let empty =
                    MemTable::try_new(schema.clone(), vec![vec![]]).map_err(engine_error)?;
                ctx.register_table(format!("_{}", over.name()), Arc::new(empty))
                    .map_err(engine_error)?;
                frame
                    .register_view(&ctx, over)
                    .await
                    .map_err(engine_error)?;
            }
        }
        for f in custom {
            if tables.schema(f.over).is_none() {
                return Err(custom_error(
                    f,
                    format!(
                        "runs over {} (`over = \"{}\"`), but the config has no [sources.{}]",
                        f.over.name(),
                        f.over.name(),
                        f.over.source()
                    ),
                ));
            }
            let one = [(f, parse_expression(f)?)];
            let query = grouped_query(f.over, &one);
            let df = ctx.sql(&query).await.map_err(|e| {
                let message = engine_message(&e);
                if message.contains("must appear in the GROUP BY") {
                    custom_error(f, NOT_AN_AGGREGATE)
                } else {
                    custom_error(f, message)
                }
            })?;
            let ty = df.schema().field(1).data_type().clone();
            stored_type(&ty).map_err(|m| custom_error(f, m))?;
            if scans(df.logical_plan()) > 1 {
                return Err(custom_error(
                    f,
                    "reads rows of its own (a subquery): a custom feature sums up the customer's rows of its one table",
                ));
            }
            // Over no rows an aggregate gives one row (`count(*)` 0, `sum(...)` null); an
            // expression that gives none aggregates nothing: a constant, a window function.
            let none = async { ctx.sql(&empty_query(f.over, &one)).await?.collect().await };
            if none.await.is_ok_and(|b| b.iter().map(RecordBatch::num_rows).sum::<usize>() != 1) {
                return Err(custom_error(f, AGGREGATES_NOTHING));
            }
        }
        Ok(())
    })
}

/// What a custom feature is, for the messages about one that is not an aggregate.
macro_rules! not_an_aggregate {
    ($why:literal) => {
        concat!(
            "is not an aggregate: a custom feature sums up a customer's rows, e.g. `max(amount)` \
             or `count(*) filter (where ...)`",
            $why
        )
    };
}

/// An expression that names a column of one row.
const NOT_AN_AGGREGATE: &str = not_an_aggregate!(", and cannot name a column of one row");

/// An expression that gives no row over no rows.
const AGGREGATES_NOTHING: &str = not_an_aggregate!(
    "; a constant or a window function (`... over (...)`) gives no single value per customer"
);

/// How many tables `plan` reads, its subqueries' included.
fn scans(plan: &datafusion::logical_expr::LogicalPlan) -> usize {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::LogicalPlan;
    let mut n = 0;
    let _ = plan.apply_with_subqueries(|node| {
        n += usize::from(matches!(node, LogicalPlan::TableScan(_)));
        Ok(TreeNodeRecursion::Continue)
    });
    n
}

/// DataFusion's message without its error-kind prefixes.
fn engine_message(e: &datafusion::error::DataFusionError) -> String {
    let text = e.to_string();
    let mut s = text.as_str();
    for prefix in [
        "Error during planning: ",
        "Schema error: ",
        "SQL error: ",
        "This feature is not implemented: ",
        "Optimizer rule 'optimize_projections' failed\ncaused by\n",
        "Execution error: ",
        "Arrow error: ",
    ] {
        s = s.strip_prefix(prefix).unwrap_or(s);
    }
    s.to_string()
}

/// The feature table's type for a result type: integers as int64, floats and decimals as
/// float64; strings, booleans, dates and timestamps as they are.
fn stored_type(ty: &DataType) -> Result<DataType, String> {
    Ok(match ty {
        t if t.is_integer() => DataType::Int64,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DataType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Boolean => DataType::Boolean,
        DataType::Date32 | DataType::Date64 => DataType::Date32,
        DataType::Timestamp(..) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Null => DataType::Int64,
        other => {
            return Err(format!(
                "gives {other}, which a feature cannot hold (numbers, strings, booleans, dates and timestamps can)"
            ));
        }
    })
}

/// `a` as type `to`, failing (not nulling) on values that do not fit.
fn cast_to(a: &ArrayRef, to: &DataType, f: &CustomFeature) -> Result<ArrayRef, FeatureError> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    datafusion::arrow::compute::cast_with_options(a, to, &arrow_cast_options())
        .map_err(|e| custom_error(f, format!("cannot store the result as {to}: {e}")))
}

fn arrow_cast_options() -> datafusion::arrow::compute::CastOptions<'static> {
    datafusion::arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    }
}

/// Evaluates the custom features over the clean tables in `clean_dir`, one column per feature,
/// aligned with the customers whose row numbers `position` gives.
pub fn evaluate(
    clean_dir: &Path,
    custom: &[CustomFeature],
    position: &HashMap<&str, u32>,
    time_zone: Tz,
    as_of: i32,
) -> Result<Vec<(Field, ArrayRef)>, FeatureError> {
    if custom.is_empty() {
        return Ok(Vec::new());
    }
    let frame = Frame { time_zone, as_of };
    let mut columns: HashMap<String, ArrayRef> = HashMap::new();
    runtime()?.block_on(async {
        let ctx = frame.session();
        for over in [CustomOver::Orders, CustomOver::Events] {
            let group: Vec<&CustomFeature> = custom.iter().filter(|f| f.over == over).collect();
            if group.is_empty() {
                continue;
            }
            let path = clean_dir.join(format!("{}.parquet", over.name()));
            let engine = |e: datafusion::error::DataFusionError| {
                FeatureError::Engine(format!("{}: {}", path.display(), engine_message(&e)))
            };
            ctx.register_parquet(
                format!("_{}", over.name()),
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await
            .map_err(engine)?;
            frame.register_view(&ctx, over).await.map_err(engine)?;
            let exprs: Vec<(&CustomFeature, String)> = group
                .iter()
                .map(|f| parse_expression(f).map(|e| (*f, e)))
                .collect::<Result<_, _>>()?;
            // One query per feature: DataFusion aggregates a query that mixes a DISTINCT
            // aggregate with others through per-group accumulator objects, which for a million
            // customers took 22 GB where the same features one by one took 1.4 GB.
            for (f, expr) in &exprs {
                let one = [(*f, expr.clone())];
                let query = async |sql: String| ctx.sql(&sql).await?.collect().await;
                // An error here depends on the data (a division by zero): it names the feature.
                let failed = |e: datafusion::error::DataFusionError| {
                    let message = engine_message(&e);
                    custom_error(f, format!("over {}: {message}", path.display()))
                };
                let grouped = query(grouped_query(over, &one)).await.map_err(failed)?;
                let empty = query(empty_query(over, &one)).await.map_err(failed)?;
                let empty = empty
                    .into_iter()
                    .find(|b| b.num_rows() == 1)
                    .ok_or_else(|| custom_error(f, AGGREGATES_NOTHING))?;
                let none = empty.column(0);
                let to = stored_type(none.data_type()).map_err(|m| custom_error(f, m))?;
                let none = cast_to(none, &to, f)?;
                columns.insert(f.name.clone(), align(&grouped, 1, position, &none, f)?);
            }
        }
        Ok::<_, FeatureError>(())
    })?;
    Ok(custom
        .iter()
        .map(|f| {
            let a = columns
                .remove(&f.name)
                .expect("every custom feature evaluated");
            (Field::new(&f.name, a.data_type().clone(), true), a)
        })
        .collect())
}

/// Column `k` of the grouped result placed at each customer's row, as `none`'s type; customers
/// not in the result (they have no rows) get `none`, the expression's value over no rows.
fn align(
    grouped: &[RecordBatch],
    k: usize,
    position: &HashMap<&str, u32>,
    none: &ArrayRef,
    f: &CustomFeature,
) -> Result<ArrayRef, FeatureError> {
    let n = position.len();
    let to = none.data_type();
    // Row 0 of `all` is the value over no rows; every customer starts there.
    let mut from: Vec<u32> = vec![0; n];
    let mut parts: Vec<ArrayRef> = vec![none.clone()];
    let mut offset = 0u32;
    for b in grouped {
        let ids =
            datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).map_err(engine_error)?;
        parts.push(cast_to(b.column(k), to, f)?);
        for (i, id) in ids.as_string::<i32>().iter().enumerate() {
            if let Some(&row) = id.and_then(|id| position.get(id)) {
                from[row as usize] = offset + i as u32 + 1;
            }
        }
        offset += b.num_rows() as u32;
    }
    let refs: Vec<&dyn Array> = parts.iter().map(AsRef::as_ref).collect();
    let all = datafusion::arrow::compute::concat(&refs).map_err(engine_error)?;
    datafusion::arrow::compute::take(&all, &UInt32Array::from(from), None).map_err(engine_error)
}

/// `local_day(t)`: the calendar day of a UTC timestamp in the project's time zone.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LocalDay {
    time_zone: Tz,
    signature: Signature,
}

impl LocalDay {
    fn new(time_zone: Tz) -> Self {
        Self {
            time_zone,
            signature: Signature::exact(
                vec![DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                )],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for LocalDay {
    fn name(&self) -> &str {
        "local_day"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let times = input.as_primitive::<TimestampMicrosecondType>();
        let mut days = LocalDays::new(self.time_zone);
        let out: Date32Array = times.iter().map(|t| t.map(|t| days.day(t))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
