//! Parquet files: read in record batches, columns found by name or position. A Parquet file has no
//! lines, so a row's "line" is its 1-based row number.

use crate::Progress;
use crate::cell::Cell;
use crate::columns;
use crate::error::IngestError;
use crate::pipeline;
use crate::rejects::RejectWriter;
use crate::source::{CheckedBatch, Checker, Customers, RecordContext, RowKeys, SourceRun};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;

fn cell_at(a: &ArrayRef, i: usize) -> Cell<'_> {
    if a.is_null(i) {
        return Cell::Null;
    }
    let micros = |v: i64, unit: &TimeUnit| match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1_000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v.div_euclid(1_000),
    };
    match a.data_type() {
        DataType::Utf8 => Cell::Str(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Cell::Str(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Cell::Str(a.as_string_view().value(i)),
        DataType::Boolean => Cell::Bool(a.as_boolean().value(i)),
        DataType::Int8 => Cell::Int(a.as_primitive::<Int8Type>().value(i).into()),
        DataType::Int16 => Cell::Int(a.as_primitive::<Int16Type>().value(i).into()),
        DataType::Int32 => Cell::Int(a.as_primitive::<Int32Type>().value(i).into()),
        DataType::Int64 => Cell::Int(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Cell::Int(a.as_primitive::<UInt8Type>().value(i).into()),
        DataType::UInt16 => Cell::Int(a.as_primitive::<UInt16Type>().value(i).into()),
        DataType::UInt32 => Cell::Int(a.as_primitive::<UInt32Type>().value(i).into()),
        DataType::UInt64 => match i64::try_from(a.as_primitive::<UInt64Type>().value(i)) {
            Ok(v) => Cell::Int(v),
            Err(_) => Cell::Float(a.as_primitive::<UInt64Type>().value(i) as f64),
        },
        DataType::Float32 => Cell::Float(f64::from(a.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => Cell::Float(a.as_primitive::<Float64Type>().value(i)),
        DataType::Date32 => Cell::Date(a.as_primitive::<Date32Type>().value(i)),
        DataType::Date64 => Cell::Date(
            a.as_primitive::<Date64Type>()
                .value(i)
                .div_euclid(86_400_000) as i32,
        ),
        DataType::Timestamp(unit, tz) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
            };
            Cell::Micros {
                value: micros(v, unit),
                utc: tz.is_some(),
            }
        }
        DataType::Decimal128(_, scale) => Cell::Decimal {
            unscaled: a.as_primitive::<Decimal128Type>().value(i),
            scale: *scale,
        },
        DataType::Decimal64(_, scale) => Cell::Decimal {
            unscaled: a.as_primitive::<Decimal64Type>().value(i).into(),
            scale: *scale,
        },
        DataType::Decimal32(_, scale) => Cell::Decimal {
            unscaled: a.as_primitive::<Decimal32Type>().value(i).into(),
            scale: *scale,
        },
        DataType::List(item) if item.data_type() == &DataType::Utf8 => {
            let list = a.as_list::<i32>();
            let offsets = list.value_offsets();
            Cell::List {
                items: list.values().as_string::<i32>(),
                start: offsets[i] as usize,
                end: offsets[i + 1] as usize,
            }
        }
        _ => Cell::Unsupported("unsupported Parquet type"),
    }
}

/// A column of a batch, downcast once so that reading a cell does not look at its type again.
enum Column<'a> {
    Absent,
    Str(&'a arrow_array::StringArray),
    View(&'a arrow_array::StringViewArray),
    I64(&'a arrow_array::Int64Array),
    F64(&'a arrow_array::Float64Array),
    Date(&'a arrow_array::Date32Array),
    Other(&'a ArrayRef),
}

impl<'a> Column<'a> {
    fn new(a: Option<&'a ArrayRef>) -> Self {
        let Some(a) = a else {
            return Column::Absent;
        };
        match a.data_type() {
            DataType::Utf8 => Column::Str(a.as_string::<i32>()),
            DataType::Utf8View => Column::View(a.as_string_view()),
            DataType::Int64 => Column::I64(a.as_primitive::<Int64Type>()),
            DataType::Float64 => Column::F64(a.as_primitive::<Float64Type>()),
            DataType::Date32 => Column::Date(a.as_primitive::<Date32Type>()),
            _ => Column::Other(a),
        }
    }

    fn cell(&self, i: usize) -> Cell<'a> {
        fn valid(a: &dyn Array, i: usize) -> bool {
            a.is_valid(i)
        }
        match self {
            Column::Absent => Cell::Null,
            Column::Str(a) if valid(*a, i) => Cell::Str(a.value(i)),
            Column::View(a) if valid(*a, i) => Cell::Str(a.value(i)),
            Column::I64(a) if valid(*a, i) => Cell::Int(a.value(i)),
            Column::F64(a) if valid(*a, i) => Cell::Float(a.value(i)),
            Column::Date(a) if valid(*a, i) => Cell::Date(a.value(i)),
            Column::Other(a) => cell_at(a, i),
            _ => Cell::Null,
        }
    }
}

struct ParquetRow<'a> {
    batch: &'a RecordBatch,
    cols: &'a [Option<usize>],
    row: usize,
    number: u64,
}

impl RecordContext for ParquetRow<'_> {
    fn raw(&self) -> String {
        let mut obj = serde_json::Map::new();
        for (c, field) in self.batch.schema().fields().iter().enumerate() {
            let v = match cell_at(self.batch.column(c), self.row) {
                Cell::Null => serde_json::Value::Null,
                Cell::Str(s) => s.into(),
                Cell::Int(i) => i.into(),
                Cell::Float(f) => {
                    serde_json::Number::from_f64(f).map_or_else(|| f.to_string().into(), Into::into)
                }
                Cell::Bool(b) => b.into(),
                Cell::List { items, start, end } => (start..end)
                    .map(|i| {
                        if items.is_null(i) {
                            serde_json::Value::Null
                        } else {
                            items.value(i).into()
                        }
                    })
                    .collect(),
                other => other.describe().into(),
            };
            obj.insert(field.name().clone(), v);
        }
        serde_json::Value::Object(obj).to_string()
    }

    fn position(&self, field: Option<usize>) -> (u64, u64) {
        (
            self.number,
            field.and_then(|f| self.cols[f]).map_or(1, |c| c as u64 + 1),
        )
    }
}

fn open(path: &Path, name: &str) -> Result<ParquetRecordBatchReaderBuilder<File>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| IngestError::Input {
        file: name.into(),
        line: 0,
        message: format!("not a readable Parquet file: {e}"),
    })
}

/// The names of a file's columns, in order.
fn column_names(schema: &arrow_schema::Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

pub fn read(
    path: &Path,
    name: &str,
    run: &mut SourceRun,
    rejects: &mut RejectWriter,
    customers: Option<&Customers>,
    progress: &dyn Progress,
    batch_rows: usize,
) -> Result<(), IngestError> {
    let builder = open(path, name)?;
    let header = column_names(builder.schema());
    let fields = columns::resolve(name, &header, true, &run.config.fields)?;
    let names: Vec<String> = fields
        .iter()
        .zip(&run.config.fields)
        .map(|(c, f)| c.map_or(f.column.to_string(), |c| header[c].clone()))
        .collect();
    run.start_file(name.to_string(), names);
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let total = builder.metadata().file_metadata().num_rows().max(1) as u64;
    run.expect_rows(total);
    let reader = builder
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| IngestError::Input {
            file: name.into(),
            line: 0,
            message: e.to_string(),
        })?;
    // Batches are decoded on a thread of their own, checked on one thread per core, and
    // settled in file order on this one (duplicates, conflicts, `rejects.csv`).
    let checker = run.checker().fork();
    let fields = &fields;
    let mut number = 0u64;
    pipeline::in_order(
        pipeline::workers(),
        |send| {
            for batch in reader {
                if !send(batch) {
                    break;
                }
            }
        },
        || {
            let mut checker = checker.fork();
            move |batch: Result<RecordBatch, ArrowError>| {
                batch.map(|b| {
                    let c = check_batch(&mut checker, &b, fields, customers);
                    (b, c)
                })
            }
        },
        |checked| {
            let (batch, checked) = checked.map_err(|e| IngestError::Input {
                file: name.into(),
                line: number + 1,
                message: e.to_string(),
            })?;
            let rows = batch.num_rows() as u64;
            let ctx = |row: usize| {
                let number = number + row as u64 + 1;
                let ctx = ParquetRow {
                    batch: &batch,
                    cols: fields,
                    row,
                    number,
                };
                (number, ctx)
            };
            run.settle(checked, ctx, rejects)?;
            number += rows;
            progress.advance(run.config.kind, bytes * rows / total);
            Ok(())
        },
    )
}

/// The checks of every row of `batch` that need nothing from the rows before it: a column at a
/// time where the checker can ([`Checker::check_columns`]), else row by row.
fn check_batch(
    checker: &mut Checker,
    batch: &RecordBatch,
    fields: &[Option<usize>],
    customers: Option<&Customers>,
) -> CheckedBatch {
    let arrays: Vec<Option<&ArrayRef>> =
        fields.iter().map(|c| c.map(|c| batch.column(c))).collect();
    let columns: Vec<Column> = arrays.iter().map(|a| Column::new(*a)).collect();
    let keys = row_keys(checker, &columns, batch.num_rows());
    checker
        .check_columns(&arrays, |k, row| columns[k].cell(row), &keys, customers)
        .unwrap_or_else(|| check_by_rows(checker, &columns, &keys, customers))
}

/// Each row's index keys, hashed once: prefetched ahead, then used by the row.
fn row_keys(checker: &Checker, columns: &[Column], rows: usize) -> Vec<RowKeys> {
    let (id, customer) = checker.key_fields();
    (0..rows)
        .map(|row| {
            checker.keys(
                columns[id].cell(row),
                customer.map(|c| columns[c].cell(row)),
            )
        })
        .collect()
}

fn check_by_rows(
    checker: &mut Checker,
    columns: &[Column],
    keys: &[RowKeys],
    customers: Option<&Customers>,
) -> CheckedBatch {
    let mut cells: Vec<Cell> = Vec::with_capacity(columns.len());
    checker.check_rows(keys, customers, |checker, row, keys| {
        cells.clear();
        cells.extend(columns.iter().map(|c| c.cell(row)));
        checker.check(&cells, customers, keys)
    })
}

/// The rows at the given 1-based row numbers (sorted), rendered as JSON objects.
pub fn fetch_raw(path: &Path, lines: &[u64]) -> Result<Vec<(u64, String)>, IngestError> {
    let name = path.display().to_string();
    let builder = open(path, &name)?;
    let reader = builder.build().map_err(|e| IngestError::Input {
        file: name.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    let mut want = lines.iter().peekable();
    let (mut number, mut out) = (0u64, Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| IngestError::Input {
            file: name.clone(),
            line: number + 1,
            message: e.to_string(),
        })?;
        for row in 0..batch.num_rows() {
            number += 1;
            if want.next_if(|&&l| l == number).is_some() {
                let ctx = ParquetRow {
                    batch: &batch,
                    cols: &[],
                    row,
                    number,
                };
                out.push((number, ctx.raw()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Entry, IdIndex, id_key};
    use crate::source::Checked;
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{BooleanArray, Date32Array, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    use tessera_core::Config;
    use tessera_core::schema::SourceKind;

    /// Orders with a field of every stored type, and a defect of each kind the checks know.
    fn dirty_orders() -> RecordBatch {
        let text = |v: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        let mut tags = ListBuilder::new(StringBuilder::new());
        for row in 0..14 {
            match row % 4 {
                0 => tags.append_null(),
                1 => tags.append_value([Some("gift"), None, Some(" wrap ")]),
                2 => tags.append_value([Some("")]),
                _ => tags.append_value([Some("sale")]),
            }
        }
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "id",
                text(&[
                    Some("O1"),
                    Some(""),
                    Some(" \t"),
                    None,
                    Some("O5"),
                    Some("O6"),
                    Some("O7"),
                    Some("O8"),
                    Some("O9"),
                    Some("O10"),
                    Some("O11"),
                    Some("O1"),
                    Some("O13"),
                    Some(" O14"),
                ]),
            ),
            (
                "customer",
                text(&[
                    Some("C1"),
                    Some("C1"),
                    Some("C2"),
                    Some("C1"),
                    Some("C404"),
                    None,
                    Some("C2"),
                    Some("C1"),
                    Some("C2"),
                    Some("C1"),
                    Some("C2"),
                    Some("C1"),
                    Some(""),
                    Some("C2"),
                ]),
            ),
            (
                "created_at",
                Arc::new(Date32Array::from(vec![
                    Some(20_000),
                    Some(20_001),
                    Some(20_002),
                    Some(20_003),
                    Some(20_004),
                    Some(20_005),
                    None,
                    Some(20_007),
                    Some(20_008),
                    Some(20_009),
                    Some(20_010),
                    Some(20_000),
                    Some(20_012),
                    Some(20_013),
                ])),
            ),
            (
                "total",
                Arc::new(Float64Array::from(vec![
                    Some(10.5),
                    Some(1.0),
                    Some(2.0),
                    Some(3.0),
                    Some(4.0),
                    Some(5.0),
                    Some(6.0),
                    Some(f64::NAN),
                    Some(1.234),
                    Some(-7.25),
                    Some(8.0),
                    Some(10.5),
                    None,
                    Some(-0.5),
                ])),
            ),
            (
                "category",
                text(&[
                    Some("shoes"),
                    Some(""),
                    Some(" "),
                    None,
                    Some("bags"),
                    Some(""),
                    Some("x"),
                    None,
                    Some("y"),
                    Some(""),
                    Some(" "),
                    Some("shoes"),
                    None,
                    Some("z"),
                ]),
            ),
            (
                "channel",
                text(&[
                    Some("web"),
                    Some("app"),
                    Some("fax"),
                    Some(""),
                    Some("web"),
                    Some("web"),
                    Some("store"),
                    Some("web"),
                    None,
                    Some("app"),
                    Some("fax"),
                    Some("web"),
                    Some("web"),
                    Some(""),
                ]),
            ),
            (
                "items",
                Arc::new(Int64Array::from(vec![
                    Some(1),
                    Some(0),
                    None,
                    Some(2),
                    Some(3),
                    Some(4),
                    Some(-1),
                    Some(6),
                    Some(7),
                    Some(11),
                    Some(8),
                    Some(1),
                    Some(9),
                    Some(10),
                ])),
            ),
            ("tags", Arc::new(tags.finish())),
            (
                "gift",
                Arc::new(BooleanArray::from(
                    (0..14)
                        .map(|i| (i % 3 != 0).then_some(i % 2 == 0))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "shipped",
                Arc::new(Date32Array::from(
                    (0..14)
                        .map(|i| (i % 5 != 0).then_some(20_100 + i))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "rating",
                Arc::new(Float64Array::from(
                    (0..14)
                        .map(|i| match i {
                            3 | 8 => Some(f64::INFINITY),
                            _ if i % 4 == 0 => None,
                            _ => Some(f64::from(i) / 4.0),
                        })
                        .collect::<Vec<_>>(),
                )),
            ),
            ("memo", text(&[Some("a"); 14])),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    const ORDERS: &str = r#"
[project]
time_zone = "Europe/Berlin"
[sources.customers]
path = "customers.csv"
[sources.orders]
path = "orders.parquet"
columns = { order_id = "id", customer_id = "customer", ordered_at = "created_at", amount = "total", category = "category", channel = { column = "channel", values = ["web", "app", "store"] } }
[sources.orders.attributes]
items = { column = "items", type = "int", min = 1 }
tags = { column = "tags", type = "list" }
gift = { column = "gift", type = "bool" }
shipped = { column = "shipped", type = "date" }
rating = { column = "rating", type = "float" }
memo = { column = "memo", type = "string", required = true }
"#;

    /// The verdicts and staged values of `batch` checked a column at a time, found equal to those
    /// of checking it row by row.
    fn both_ways(toml: &str, kind: SourceKind, batch: &RecordBatch) -> CheckedBatch {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_toml(toml, &dir.path().join("tessera.toml")).unwrap();
        let source = config.source(kind).unwrap();
        let run = SourceRun::new(
            source,
            dir.path().join("clean.parquet"),
            64,
            false,
            None,
            crate::source::Ids::Exact(IdIndex::default()),
        )
        .unwrap();
        let mut index = IdIndex::default();
        for (ordinal, id) in ["C1", "C2"].into_iter().enumerate() {
            index.insert(id_key(id), Entry::new(0, ordinal as u32));
        }
        let customers = Customers::new(index, Vec::new());
        let header = column_names(&batch.schema());
        let fields = columns::resolve("input.parquet", &header, true, &source.fields).unwrap();
        let arrays: Vec<Option<&ArrayRef>> =
            fields.iter().map(|c| c.map(|c| batch.column(c))).collect();
        let columns: Vec<Column> = arrays.iter().map(|a| Column::new(*a)).collect();
        let mut checker = run.checker().fork();
        let keys = row_keys(&checker, &columns, batch.num_rows());
        let by_columns = checker
            .check_columns(
                &arrays,
                |k, row| columns[k].cell(row),
                &keys,
                Some(&customers),
            )
            .expect("these columns are checked a column at a time");
        let by_rows = check_by_rows(&mut run.checker().fork(), &columns, &keys, Some(&customers));
        // Verdicts (with content hashes and messages) and staged values alike.
        assert_eq!(
            format!("{:?}", by_columns.rows),
            format!("{:?}", by_rows.rows)
        );
        assert_eq!(by_columns.valid, by_rows.valid);
        by_columns
    }

    /// The rows of [`dirty_orders`] with a time and an amount: their columns have no nulls, so
    /// they are converted by the kernels for whole columns.
    fn dirty_orders_without_nulls() -> RecordBatch {
        let batch = dirty_orders();
        let (times, amounts) = (batch.column(2), batch.column(3));
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|i| Some(times.is_valid(i) && amounts.is_valid(i)))
            .collect();
        let batch = arrow_select::filter::filter_record_batch(&batch, &keep).unwrap();
        assert_eq!(
            batch.column(2).null_count() + batch.column(3).null_count(),
            0
        );
        batch
    }

    #[test]
    fn checking_a_column_at_a_time_finds_what_checking_row_by_row_finds() {
        for (batch, policy) in [dirty_orders(), dirty_orders_without_nulls()]
            .into_iter()
            .flat_map(|b| [(b.clone(), "reject"), (b, "create")])
        {
            let toml = ORDERS.replace(
                "[sources.orders]\n",
                &format!("[sources.orders]\nunknown_customers = \"{policy}\"\n"),
            );
            let columns = both_ways(&toml, SourceKind::Orders, &batch);
            let valid = columns
                .rows
                .iter()
                .filter(|r| matches!(r, Checked::Valid(_)));
            assert_eq!(
                valid.count(),
                columns.valid.as_ref().map_or(0, RecordBatch::num_rows)
            );
        }
    }

    #[test]
    fn a_clean_batch_keeps_its_text_columns_as_read() {
        let batch = dirty_orders().slice(0, 1);
        let valid = both_ways(ORDERS, SourceKind::Orders, &batch).valid.unwrap();
        // Same buffer, not a copy.
        let id = valid.column(0).as_string::<i32>();
        let read = batch.column(0).as_string::<i32>();
        assert_eq!(id.values().as_ptr(), read.values().as_ptr());
    }

    #[test]
    fn columns_the_file_lacks_are_checked_as_row_by_row() {
        // Orders without category and channel (optional: null), feedback without kind (the
        // default `nps`) and comment.
        let orders = dirty_orders();
        let keep: Vec<usize> = [0, 1, 2, 3].into_iter().collect();
        let orders = orders.project(&keep).unwrap();
        let toml = r#"
[sources.customers]
path = "customers.csv"
[sources.orders]
path = "orders.parquet"
columns = { order_id = "id", customer_id = "customer", ordered_at = "created_at", amount = "total" }
"#;
        let valid = both_ways(toml, SourceKind::Orders, &orders).valid.unwrap();
        assert_eq!(valid.column(4).null_count(), valid.num_rows());

        let toml = toml.replace("[sources.orders]", "[sources.feedback]").replace(
            r#"columns = { order_id = "id", customer_id = "customer", ordered_at = "created_at", amount = "total" }"#,
            r#"columns = { feedback_id = "id", customer_id = "customer", given_at = "created_at", score = "total" }"#,
        );
        let kinds = both_ways(&toml, SourceKind::Feedback, &orders)
            .valid
            .as_ref()
            .unwrap()
            .column(3)
            .as_string::<i32>()
            .clone();
        assert!(kinds.iter().all(|k| k == Some("nps")));
    }

    #[test]
    fn a_text_column_with_a_default_is_converted_value_by_value() {
        // Feedback's `kind` defaults to `nps`: its nulls and empty values take the default, so the
        // column cannot be kept as read.
        let toml = r#"
[sources.customers]
path = "customers.csv"
[sources.feedback]
path = "feedback.parquet"
columns = { feedback_id = "id", customer_id = "customer", given_at = "day", kind = "kind", score = "score", comment = "comment" }
"#;
        let text = |v: [Option<&str>; 5]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                text([Some("F1"), Some("F2"), Some("F3"), Some(""), Some("F5")]),
            ),
            (
                "customer",
                text([Some("C1"), Some("C2"), Some("C3"), Some("C1"), Some("C1")]),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(20_000); 5])) as ArrayRef,
            ),
            (
                "kind",
                text([Some("csat"), None, Some(""), Some(" "), Some("nps")]),
            ),
            (
                "score",
                Arc::new(Float64Array::from(vec![
                    Some(9.0),
                    Some(3.0),
                    None,
                    Some(7.0),
                    Some(10.0),
                ])),
            ),
            (
                "comment",
                text([Some(""), None, Some("ok"), Some(" "), Some("x")]),
            ),
        ])
        .unwrap();
        let valid = both_ways(toml, SourceKind::Feedback, &batch).valid.unwrap();
        let kinds: Vec<Option<&str>> = valid.column(3).as_string::<i32>().iter().collect();
        // F1, F2 (default), F5; F3 lacks its score, C3 is unknown, F4's id is empty.
        assert_eq!(kinds, [Some("csat"), Some("nps"), Some("nps")]);
    }
}
