//! Looking at a source's files without reading their rows: which files a path names and where
//! each configured field is found in them. `tessera check` uses it to catch a missing column
//! before a long run.

use crate::error::IngestError;
use crate::{columns, csv_reader, source_files};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use std::fs::File;
use tessera_core::config::{Config, Format, SourceConfig};

/// One file of a source and the column each field was found in (`None`: an optional field the file
/// lacks). NDJSON has no header, so its fields are listed by key as configured.
#[derive(Debug, Clone, Serialize)]
pub struct FileColumns {
    pub file: String,
    pub columns: Vec<Option<String>>,
}

pub fn inspect(config: &Config, source: &SourceConfig) -> Result<Vec<FileColumns>, IngestError> {
    let mut out = Vec::new();
    for (path, name) in source_files(config, source)? {
        let header: Option<Vec<String>> = match source.format {
            Format::Csv => Some(csv_reader::header(&path, &name, &source.csv)?),
            Format::Parquet => {
                let file = File::open(&path).map_err(|e| IngestError::io(&path, e))?;
                let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                    IngestError::Input {
                        file: name.clone(),
                        line: 0,
                        message: format!("not a readable Parquet file: {e}"),
                    }
                })?;
                Some(
                    builder
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect(),
                )
            }
            Format::Ndjson => None,
        };
        let columns = match header {
            Some(h) => {
                let has_header = source.format != Format::Csv || source.csv.header;
                let found = columns::resolve(&name, &h, has_header, &source.fields)?;
                found.into_iter().map(|c| c.map(|c| h[c].clone())).collect()
            }
            None => source
                .fields
                .iter()
                .map(|f| Some(f.column.to_string()))
                .collect(),
        };
        out.push(FileColumns {
            file: name,
            columns,
        });
    }
    Ok(out)
}
