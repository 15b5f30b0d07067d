//! Writing the feature table: Parquet, and CSV for people who want to open it in a spreadsheet.

use crate::table::FeatureError;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Rows per row group of `features.parquet`. A row group's column chunks are encoded (in
/// parallel) and held in memory until the group is written: with a group of 1,048,576 rows (the
/// Arrow writer's default), writing the table of a million customers took about 220 MiB on top
/// of the table itself, more than any other step of `tessera features`.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Encodings of the feature table's columns: no dictionary for `customer_id`, whose values are all
/// distinct, nor for fractions and averages (`Float64`), which have about as many values as
/// customers: a chunk of either overflows the dictionary and falls back to plain pages, after
/// interning every value for nothing. Counts, days and names have few values and keep theirs.
fn properties(schema: &Schema) -> WriterProperties {
    let mut b = WriterProperties::builder();
    for f in schema.fields() {
        if f.data_type() == &DataType::Float64 || f.name() == "customer_id" {
            b = b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false);
        }
    }
    let mut props = b.build();
    // Readers get the Arrow types back (unsigned integers, for one), as from `ArrowWriter`.
    add_encoded_arrow_schema_to_metadata(schema, &mut props);
    props
}

/// Writes the feature table as Parquet, its columns encoded in parallel.
pub fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), FeatureError> {
    write_in_groups(batch, path, ROW_GROUP_ROWS)
}

/// [`write_parquet`] with row groups of at most `group_rows` rows.
fn write_in_groups(
    batch: &RecordBatch,
    path: &Path,
    group_rows: usize,
) -> Result<(), FeatureError> {
    let err = |e: &dyn std::fmt::Display| FeatureError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let schema = batch.schema();
    let props = Arc::new(properties(&schema));
    let parquet_schema = ArrowSchemaConverter::new()
        .with_coerce_types(props.coerce_types())
        .convert(&schema)
        .map_err(|e| err(&e))?;
    let file = std::io::BufWriter::new(File::create(path).map_err(|e| err(&e))?);
    let mut writer = SerializedFileWriter::new(file, parquet_schema.root_schema_ptr(), props)
        .map_err(|e| err(&e))?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
    let rows = batch.num_rows();
    for (group, start) in (0..rows).step_by(group_rows.max(1)).enumerate() {
        let part = batch.slice(start, group_rows.min(rows - start));
        tessera_ingest::write_row_group(&mut writer, &factory, group, &part)
            .map_err(|e| err(&e))?;
    }
    writer.close().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes the feature table as CSV: dates as `YYYY-MM-DD`, nulls as empty fields; columns of
/// other types (custom features: booleans, timestamps, …) as Arrow displays them (`true`,
/// `2025-03-01T10:00:00Z`). A file that could not be written whole is removed.
pub fn write_csv(batch: &RecordBatch, path: &Path) -> Result<(), FeatureError> {
    let written = write_csv_rows(batch, path);
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn write_csv_rows(batch: &RecordBatch, path: &Path) -> Result<(), FeatureError> {
    use arrow_array::types::{Date32Type, Float64Type, Int32Type, UInt8Type, UInt32Type};
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    let err = |e: &dyn std::fmt::Display| FeatureError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let options = FormatOptions::default();
    let others = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(&e))?;
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
                _ => line.push_str(&csv_field(&others[k].value(row).to_string())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Date32Array, Float64Array, StringArray, UInt32Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::Encoding;

    fn table(rows: usize) -> RecordBatch {
        let ids: Vec<String> = (0..rows).map(|i| format!("C{i:04}")).collect();
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("customer_id", Arc::new(StringArray::from_iter_values(&ids))),
            (
                "frequency",
                Arc::new(UInt32Array::from_iter_values(
                    (0..rows as u32).map(|i| i * 7),
                )),
            ),
            (
                "monetary_avg",
                Arc::new(Float64Array::from_iter(
                    (0..rows).map(|i| (i % 3 != 0).then_some(i as f64 / 3.0)),
                )),
            ),
            (
                "first_order_at",
                Arc::new(Date32Array::from_iter(
                    (0..rows as i32).map(|i| (i % 4 != 1).then_some(19_000 + i)),
                )),
            ),
            (
                "top_category",
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|i| ["shoes", "bags"].get(i % 3).copied()),
                )),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn columns_encoded_in_parallel_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.parquet");
        let batch = table(10);
        write_in_groups(&batch, &path, 3).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata().clone();
        // 10 rows in groups of 3: 3 + 3 + 3 + 1.
        let sizes: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        // Neither the ids nor the averages are dictionary-encoded.
        let dictionary: Vec<bool> = meta.row_groups()[0]
            .columns()
            .iter()
            .map(|c| c.encodings().any(|e| e == Encoding::RLE_DICTIONARY))
            .collect();
        assert_eq!(dictionary, [false, true, false, true, true]);
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let read = arrow_select::concat::concat_batches(&read[0].schema(), &read).unwrap();
        // The same Arrow types (unsigned integers included) and the same values.
        assert_eq!(read, batch);
    }

    #[test]
    fn an_empty_table_is_a_file_without_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.parquet");
        write_parquet(&table(0), &path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 0);
        assert_eq!(reader.schema().as_ref(), table(0).schema().as_ref());
    }

    #[test]
    fn csv_has_a_form_for_custom_features_of_any_type() {
        use arrow_array::{BooleanArray, TimestampMicrosecondArray};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.csv");
        let batch = RecordBatch::try_from_iter(vec![
            (
                "customer_id",
                Arc::new(StringArray::from(vec!["a,b", "c\"d", "e"])) as ArrayRef,
            ),
            (
                "first_order_at",
                Arc::new(Date32Array::from(vec![Some(20_089), None, Some(0)])),
            ),
            (
                "any_refund",
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            ),
            (
                "last_seen",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(1_735_689_600_000_000 + 90_000_000),
                        None,
                        Some(0),
                    ])
                    .with_timezone("UTC"),
                ),
            ),
        ])
        .unwrap();
        write_csv(&batch, &path).unwrap();
        // 2025-01-01 is day 20,089 and 1,735,689,600 s after the epoch.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "customer_id,first_order_at,any_refund,last_seen\n\
             \"a,b\",2025-01-01,true,2025-01-01T00:01:30Z\n\
             \"c\"\"d\",,false,\n\
             e,1970-01-01,,1970-01-01T00:00:00Z\n"
        );
    }
}
