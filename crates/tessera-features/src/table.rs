//! The feature table of a run: reads `clean/customers.parquet` and `clean/orders.parquet`, writes
//! one row per customer, in the customers table's order, to `features.parquet`.

use crate::btyd::TimeUnit;
use crate::orders::{OrderFact, OrderFeatures, OrderParams, order_features};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_array::{Date32Array, Float64Array, Int32Array, Int64Array, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use chrono_tz::Tz;
use hashbrown::HashMap;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_core::value::LocalDays;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FeatureError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// What the feature table describes.
#[derive(Debug, Clone)]
pub struct FeatureParams {
    /// Days since 1970-01-01: only data strictly before this day counts.
    pub as_of: i32,
    /// Zone of calendar days.
    pub time_zone: Tz,
    /// Window lengths in days (default 30, 90, 365).
    pub windows: Vec<u32>,
    /// Unit of `t_x` and `T` (default weeks).
    pub unit: TimeUnit,
}

impl FeatureParams {
    pub fn new(as_of: i32, time_zone: Tz) -> Self {
        Self {
            as_of,
            time_zone,
            windows: vec![30, 90, 365],
            unit: TimeUnit::Weeks,
        }
    }
}

fn read_batches(path: &Path, columns: &[&str]) -> Result<Vec<RecordBatch>, FeatureError> {
    let err = |e: &dyn std::fmt::Display| FeatureError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|e| err(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let schema = builder.schema().clone();
    let indices = columns
        .iter()
        .map(|c| {
            schema
                .index_of(c)
                .map_err(|_| err(&format!("no column `{c}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| err(&e))?;
    reader.map(|b| b.map_err(|e| err(&e))).collect()
}

/// Builds the feature table from the clean tables in `clean_dir`.
pub fn build(clean_dir: &Path, p: &FeatureParams) -> Result<RecordBatch, FeatureError> {
    let customers = read_batches(
        &clean_dir.join("customers.parquet"),
        &["customer_id", "signed_up_at"],
    )?;
    let ids: Vec<StringArray> = customers
        .iter()
        .map(|b| b.column(0).as_string::<i32>().clone())
        .collect();
    let n: usize = ids.iter().map(Array::len).sum();
    let mut position: HashMap<&str, u32> = HashMap::with_capacity(n);
    for id in ids.iter().flat_map(|a| a.iter().flatten()) {
        let next = position.len() as u32;
        position.entry(id).or_insert(next);
    }
    let mut days = LocalDays::new(p.time_zone);
    let mut signup: Vec<Option<i32>> = Vec::with_capacity(n);
    for b in &customers {
        let s = b.column(1).as_primitive::<TimestampMicrosecondType>();
        signup.extend(s.iter().map(|t| t.map(|t| days.day(t))));
    }
    let orders_path = clean_dir.join("orders.parquet");
    let mut facts = Vec::new();
    if orders_path.exists() {
        for b in read_batches(&orders_path, &["customer_id", "ordered_at", "amount"])? {
            let (c, t, a) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_primitive::<TimestampMicrosecondType>(),
                b.column(2).as_primitive::<Int64Type>(),
            );
            for i in 0..b.num_rows() {
                if let (Some(&customer), false, false) =
                    (position.get(c.value(i)), t.is_null(i), a.is_null(i))
                {
                    facts.push(OrderFact {
                        customer,
                        day: days.day(t.value(i)),
                        amount: a.value(i),
                    });
                }
            }
        }
    }
    let op = OrderParams {
        as_of: p.as_of,
        windows: p.windows.clone(),
        unit: p.unit,
    };
    let features = order_features(n, &mut facts, &op);
    Ok(assemble(&ids, &signup, &features, p))
}

fn assemble(
    ids: &[StringArray],
    signup: &[Option<i32>],
    f: &[OrderFeatures],
    p: &FeatureParams,
) -> RecordBatch {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let mut add = |name: &str, array: ArrayRef| {
        fields.push(Field::new(name, array.data_type().clone(), true));
        cols.push(array);
    };
    let id_refs: Vec<&dyn Array> = ids.iter().map(|a| a as &dyn Array).collect();
    let id = if id_refs.is_empty() {
        Arc::new(StringArray::from(Vec::<&str>::new())) as ArrayRef
    } else {
        concat_strings(&id_refs)
    };
    add("customer_id", id);
    let tenure = f.iter().zip(signup).map(|(x, s)| {
        let seen = match (*s, x.btyd.as_ref().map(|b| b.first_day)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        seen.map(|d| p.as_of - d)
    });
    add("tenure_days", Arc::new(tenure.collect::<Int32Array>()));
    add(
        "recency_days",
        Arc::new(f.iter().map(|x| x.recency_days).collect::<Int32Array>()),
    );
    add(
        "frequency",
        Arc::new(f.iter().map(|x| Some(x.frequency)).collect::<UInt32Array>()),
    );
    add(
        "purchase_days",
        Arc::new(
            f.iter()
                .map(|x| Some(x.purchase_days))
                .collect::<UInt32Array>(),
        ),
    );
    add(
        "monetary_total",
        Arc::new(
            f.iter()
                .map(|x| Some(x.monetary_total))
                .collect::<Int64Array>(),
        ),
    );
    add(
        "monetary_avg",
        Arc::new(f.iter().map(|x| x.monetary_avg).collect::<Float64Array>()),
    );
    add(
        "first_order_at",
        Arc::new(f.iter().map(|x| x.first_purchase).collect::<Date32Array>()),
    );
    add(
        "last_order_at",
        Arc::new(f.iter().map(|x| x.last_purchase).collect::<Date32Array>()),
    );
    add(
        "avg_days_between_orders",
        Arc::new(
            f.iter()
                .map(|x| x.avg_days_between)
                .collect::<Float64Array>(),
        ),
    );
    for (k, w) in p.windows.iter().enumerate() {
        add(
            &format!("orders_{w}d"),
            Arc::new(
                f.iter()
                    .map(|x| Some(x.window_orders[k]))
                    .collect::<UInt32Array>(),
            ),
        );
        add(
            &format!("spend_{w}d"),
            Arc::new(
                f.iter()
                    .map(|x| Some(x.window_spend[k]))
                    .collect::<Int64Array>(),
            ),
        );
    }
    add(
        "refunds_count",
        Arc::new(f.iter().map(|x| Some(x.refunds)).collect::<UInt32Array>()),
    );
    add(
        "refunds_amount",
        Arc::new(
            f.iter()
                .map(|x| Some(x.refund_amount))
                .collect::<Int64Array>(),
        ),
    );
    add(
        "x",
        Arc::new(
            f.iter()
                .map(|x| x.btyd.as_ref().map(|b| b.x))
                .collect::<UInt32Array>(),
        ),
    );
    add(
        "t_x",
        Arc::new(
            f.iter()
                .map(|x| x.btyd.as_ref().map(|b| b.t_x))
                .collect::<Float64Array>(),
        ),
    );
    add(
        "T",
        Arc::new(
            f.iter()
                .map(|x| x.btyd.as_ref().map(|b| b.t))
                .collect::<Float64Array>(),
        ),
    );
    add(
        "mean_repeat_spend",
        Arc::new(
            f.iter()
                .map(|x| x.btyd.as_ref().and_then(|b| b.mean_repeat_amount))
                .collect::<Float64Array>(),
        ),
    );
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("columns follow the schema")
}

fn concat_strings(arrays: &[&dyn Array]) -> ArrayRef {
    let mut b = arrow_array::builder::StringBuilder::new();
    for a in arrays {
        let s = a.as_string::<i32>();
        for v in s.iter() {
            b.append_option(v);
        }
    }
    Arc::new(b.finish())
}

/// Writes the feature table as Parquet.
pub fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), FeatureError> {
    let err = |e: &dyn std::fmt::Display| FeatureError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::create(path).map_err(|e| err(&e))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| err(&e))?;
    w.write(batch).map_err(|e| err(&e))?;
    w.close().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes the feature table as CSV: dates as `YYYY-MM-DD`, nulls as empty fields.
pub fn write_csv(batch: &RecordBatch, path: &Path) -> Result<(), FeatureError> {
    use arrow_array::types::{Date32Type, Float64Type, Int32Type, UInt8Type, UInt32Type};
    let err = |e: &dyn std::fmt::Display| FeatureError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut w = std::io::BufWriter::new(File::create(path).map_err(|e| err(&e))?);
    use std::io::Write;
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    writeln!(w, "{}", names.join(",")).map_err(|e| err(&e))?;
    let mut line = String::new();
    for row in 0..batch.num_rows() {
        line.clear();
        for (k, col) in batch.columns().iter().enumerate() {
            if k > 0 {
                line.push(',');
            }
            if col.is_null(row) {
                continue;
            }
            match col.data_type() {
                DataType::Utf8 => line.push_str(&csv_field(col.as_string::<i32>().value(row))),
                DataType::Int32 => {
                    line.push_str(&col.as_primitive::<Int32Type>().value(row).to_string())
                }
                DataType::UInt8 => {
                    line.push_str(&col.as_primitive::<UInt8Type>().value(row).to_string())
                }
                DataType::UInt32 => {
                    line.push_str(&col.as_primitive::<UInt32Type>().value(row).to_string())
                }
                DataType::Int64 => {
                    line.push_str(&col.as_primitive::<Int64Type>().value(row).to_string())
                }
                DataType::Float64 => {
                    line.push_str(&col.as_primitive::<Float64Type>().value(row).to_string())
                }
                DataType::Date32 => line.push_str(
                    &tessera_core::value::days_to_date(col.as_primitive::<Date32Type>().value(row))
                        .to_string(),
                ),
                other => return Err(err(&format!("no CSV form for {other}"))),
            }
        }
        writeln!(w, "{line}").map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))
}

fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
