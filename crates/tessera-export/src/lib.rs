//! Audience exports: the members of a segment who gave the export's channel its consent, with
//! the fields asked for and a deterministic holdout flag, written as CSV, Parquet or NDJSON.
//!
//! * **Consent**: a member is written only when the channel's consent attribute is true; false
//!   and unknown (null) both leave them out, and [`Summary`] counts them.
//! * **Fields**: only the columns named are written, so personal data (an email address, a
//!   name) leaves Tessera only when an export lists it.
//! * **Formula injection**: in CSV, a text cell starting with `=`, `+`, `-`, `@`, a tab or a
//!   carriage return is prefixed with `'`, so a spreadsheet shows it as text instead of running
//!   it. Numbers, dates and flags are written by Tessera and are not text.
//! * **Holdout**: each customer draws a number in [0, 1) from the 64-bit XXH3 hash of the export's
//!   name and their id; those below the holdout share get `holdout = true`. The draw depends on
//!   nothing else, so a customer keeps their flag across runs, machines and versions, and two
//!   exports draw independently.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, RecordBatch, StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use tessera_core::config::ExportFormat;
use tessera_core::suppress::Suppression;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "field `{field}` is a {ty}, which {format} cannot hold; choose parquet or ndjson, or leave the field out"
    )]
    Unsupported {
        field: String,
        ty: String,
        format: &'static str,
    },
    #[error("holdout must be a share in [0, 1), got {0}")]
    Holdout(f64),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Arrow { path: PathBuf, source: ArrowError },
    #[error("cannot write {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
}

/// One column of the customer row to write.
pub struct Column {
    pub name: String,
    pub array: ArrayRef,
    /// Money in integer minor units (or a float of them): written in major units.
    pub money: bool,
}

/// What to export and where.
pub struct Request<'a> {
    /// The export's name: it seeds the holdout draw.
    pub name: &'a str,
    /// Every customer's id, in row order.
    pub ids: &'a StringArray,
    /// Whether each customer is in the segment.
    pub members: &'a BooleanArray,
    /// Whether each customer consents to the channel (null: not known).
    pub consent: &'a BooleanArray,
    /// The fields, in order, each as long as `ids`.
    pub columns: Vec<Column>,
    /// Share of the written customers flagged as holdout.
    pub holdout: f64,
    pub format: ExportFormat,
    /// Digits after the decimal point of the money columns.
    pub money_decimals: u8,
    pub out: &'a Path,
    /// Customers who asked to be forgotten: never written, whatever the segment says.
    pub suppressed: Option<&'a Suppression>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Customers in the segment.
    pub members: usize,
    /// Members left out because the channel's consent is false or unknown.
    pub without_consent: usize,
    /// Members left out because they asked to be forgotten (`members = exported +
    /// without_consent + suppressed`).
    pub suppressed: usize,
    /// Rows written.
    pub exported: usize,
    /// Rows written with `holdout = true`.
    pub holdout: usize,
    /// The columns of the file, in order.
    pub fields: Vec<String>,
}

/// The customer's holdout draw for an export, uniform in [0, 1).
pub fn holdout_draw(export: &str, customer_id: &str) -> f64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(export.as_bytes());
    // A separator no name or id contains keeps ("ab", "c") and ("a", "bc") apart.
    h.update(&[0]);
    h.update(customer_id.as_bytes());
    (h.digest() >> 11) as f64 / (1u64 << 53) as f64
}

/// A text cell made safe for spreadsheets: prefixed with `'` when it would start a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Writes the audience. The file appears whole or not at all: it is written beside the target
/// and renamed into place.
pub fn write(req: Request<'_>) -> Result<Summary, ExportError> {
    if !(0.0..1.0).contains(&req.holdout) {
        return Err(ExportError::Holdout(req.holdout));
    }
    let n = req.ids.len();
    let member = |i: usize| req.members.is_valid(i) && req.members.value(i);
    let forgotten = |i: usize| req.suppressed.is_some_and(|s| s.contains(req.ids.value(i)));
    let mut suppressed = 0;
    let keep: BooleanArray = (0..n)
        .map(|i| {
            let m = member(i);
            if m && forgotten(i) {
                suppressed += 1;
                return Some(false);
            }
            Some(m && req.consent.is_valid(i) && req.consent.value(i))
        })
        .collect();
    let members = req.members.true_count();
    let exported = keep.true_count();
    let arrow_err = |source| ExportError::Arrow {
        path: req.out.to_path_buf(),
        source,
    };
    let ids = arrow_select::filter::filter(req.ids, &keep).map_err(arrow_err)?;
    let ids = ids.as_string::<i32>();
    let flags: BooleanArray = ids
        .iter()
        .map(|id| Some(holdout_draw(req.name, id.unwrap_or_default()) < req.holdout))
        .collect();
    let holdout = flags.true_count();
    let scale = 10f64.powi(i32::from(req.money_decimals));
    let mut fields = Vec::with_capacity(req.columns.len() + 1);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(req.columns.len() + 1);
    for c in &req.columns {
        let a = arrow_select::filter::filter(&c.array, &keep).map_err(arrow_err)?;
        let a = if c.money {
            major_units(&a, req.money_decimals, scale).map_err(arrow_err)?
        } else {
            a
        };
        let a = match req.format {
            ExportFormat::Csv => csv_cells(a).map_err(|e| match e {
                CellError::Arrow(source) => arrow_err(source),
                CellError::Unsupported(ty) => ExportError::Unsupported {
                    field: c.name.clone(),
                    ty,
                    format: "csv",
                },
            })?,
            _ => a,
        };
        fields.push(Field::new(c.name.clone(), a.data_type().clone(), true));
        arrays.push(a);
    }
    fields.push(Field::new("holdout", DataType::Boolean, false));
    arrays.push(Arc::new(flags));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(arrow_err)?;
    write_atomically(req.out, req.format, &batch)?;
    Ok(Summary {
        members,
        without_consent: members - exported - suppressed,
        suppressed,
        exported,
        holdout,
        fields: schema.fields().iter().map(|f| f.name().clone()).collect(),
    })
}

/// Money in major units: integer minor units become a decimal with `decimals` places, a float
/// of minor units a float of major units.
fn major_units(a: &ArrayRef, decimals: u8, scale: f64) -> Result<ArrayRef, ArrowError> {
    Ok(match a.data_type() {
        DataType::Float32 | DataType::Float64 => {
            let f = arrow_cast::cast(a, &DataType::Float64)?;
            let f: Float64Array = f.as_primitive::<Float64Type>().unary(|v| v / scale);
            Arc::new(f)
        }
        _ => {
            let i = arrow_cast::cast(a, &DataType::Int64)?;
            let d: Decimal128Array = i.as_primitive::<Int64Type>().unary(i128::from);
            Arc::new(d.with_precision_and_scale(38, decimals as i8)?)
        }
    })
}

enum CellError {
    Arrow(ArrowError),
    Unsupported(String),
}

/// A column as CSV will hold it: text neutralised against formulas, lists of strings joined;
/// other nested types refused.
fn csv_cells(a: ArrayRef) -> Result<ArrayRef, CellError> {
    match a.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let s = arrow_cast::cast(&a, &DataType::Utf8).map_err(CellError::Arrow)?;
            let s: StringArray = s
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(neutralise))
                .collect();
            Ok(Arc::new(s))
        }
        // A list of strings as one cell, its items joined the way a `list` field is read by
        // default, so an exported file reads back into the same list.
        DataType::List(item) if item.data_type() == &DataType::Utf8 => {
            let lists = a.as_list::<i32>();
            let s: StringArray = (0..lists.len())
                .map(|i| {
                    lists.is_valid(i).then(|| {
                        let items = lists.value(i);
                        let text: Vec<&str> = items.as_string::<i32>().iter().flatten().collect();
                        neutralise(&text.join(tessera_core::config::DEFAULT_LIST_SEPARATOR))
                            .into_owned()
                    })
                })
                .collect();
            Ok(Arc::new(s))
        }
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::Struct(_)
        | DataType::Map(_, _)
        | DataType::Binary
        | DataType::LargeBinary => Err(CellError::Unsupported(a.data_type().to_string())),
        _ => Ok(a),
    }
}

fn write_atomically(
    out: &Path,
    format: ExportFormat,
    batch: &RecordBatch,
) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: out.to_path_buf(),
        source,
    };
    let arrow_err = |source| ExportError::Arrow {
        path: out.to_path_buf(),
        source,
    };
    let file_name = out
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy());
    let tmp = out.with_file_name(format!(".{file_name}.partial"));
    let result = (|| {
        let file = File::create(&tmp).map_err(io)?;
        match format {
            ExportFormat::Csv => {
                let mut w = BufWriter::new(file);
                {
                    let mut csv = arrow_csv::WriterBuilder::new()
                        .with_header(true)
                        .build(&mut w);
                    csv.write(batch).map_err(arrow_err)?;
                }
                w.flush().map_err(io)?;
                w.into_inner()
                    .map_err(|e| io(e.into_error()))?
                    .sync_all()
                    .map_err(io)?;
            }
            ExportFormat::Ndjson => {
                let mut w = BufWriter::new(file);
                {
                    let mut json = arrow_json::LineDelimitedWriter::new(&mut w);
                    json.write(batch).map_err(arrow_err)?;
                    json.finish().map_err(arrow_err)?;
                }
                w.flush().map_err(io)?;
                w.into_inner()
                    .map_err(|e| io(e.into_error()))?
                    .sync_all()
                    .map_err(io)?;
            }
            ExportFormat::Parquet => {
                let parquet_err = |source| ExportError::Parquet {
                    path: out.to_path_buf(),
                    source,
                };
                let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
                    .map_err(parquet_err)?;
                w.write(batch).map_err(parquet_err)?;
                w.close().map_err(parquet_err)?;
            }
        }
        std::fs::rename(&tmp, out).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
