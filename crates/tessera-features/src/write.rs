//! Writing the feature table: Parquet, and CSV for people who want to open it in a spreadsheet.

use crate::table::FeatureError;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ArrowWriter;
use std::fs::File;
use std::path::Path;

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
