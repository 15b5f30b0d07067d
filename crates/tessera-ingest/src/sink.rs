//! Writes a clean table to Parquet on its own thread, then settles it once the source is read.
//!
//! Rows are staged in `clean/.<source>.parquet.partial` as they are accepted. A row can still be
//! withdrawn after it was staged (a later row with the same id conflicts with it), so the final file
//! is made when the source is done: renamed as is when nothing was withdrawn, otherwise rewritten
//! without the withdrawn rows.

use crate::error::IngestError;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Snappy pages; no dictionary for the first column (the row id), whose values are all distinct,
/// nor for `customer_id`, which has as many values as there are customers: a chunk of either
/// overflows the dictionary and falls back to plain pages, after interning every value for
/// nothing. No statistics for the row id either: the minimum and maximum of distinct ids in file
/// order prune nothing, and keeping them compares every id twice.
fn props(schema: &SchemaRef) -> WriterProperties {
    let mut b = WriterProperties::builder().set_compression(Compression::SNAPPY);
    let first = schema.fields().first().map(|f| f.name().as_str());
    for name in first.into_iter().chain(["customer_id"]) {
        b = b.set_column_dictionary_enabled(ColumnPath::from(name), false);
    }
    if let Some(id) = first {
        b = b.set_column_statistics_enabled(ColumnPath::from(id), EnabledStatistics::None);
    }
    b.build()
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> IngestError {
    IngestError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A Parquet writer running on a background thread.
pub struct StagedTable {
    path: PathBuf,
    final_path: PathBuf,
    schema: SchemaRef,
    tx: Option<SyncSender<RecordBatch>>,
    handle: Option<JoinHandle<Result<u64, IngestError>>>,
    /// Rows in the staged file, once its writer is done.
    staged: u64,
}

impl StagedTable {
    pub fn create(final_path: PathBuf, schema: SchemaRef) -> Result<Self, IngestError> {
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let path = final_path.with_file_name(format!(".{name}.partial"));
        let file = File::create(&path).map_err(|e| IngestError::io(&path, e))?;
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props(&schema)))
            .map_err(|e| parquet_err(&path, e))?;
        let (tx, rx) = sync_channel::<RecordBatch>(2);
        let p = path.clone();
        let handle = std::thread::spawn(move || {
            let mut rows = 0u64;
            for batch in rx {
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(|e| parquet_err(&p, e))?;
            }
            writer.close().map_err(|e| parquet_err(&p, e))?;
            Ok(rows)
        });
        Ok(Self {
            path,
            final_path,
            schema,
            tx: Some(tx),
            handle: Some(handle),
            staged: 0,
        })
    }

    pub fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        let sent = self.tx.as_ref().map(|tx| tx.send(batch));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer stopped: its own error says why.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| parquet_err(&self.path, "writer stopped"))),
        }
    }

    fn join(&mut self) -> Result<u64, IngestError> {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            self.staged = h
                .join()
                .map_err(|_| parquet_err(&self.path, "writer thread panicked"))??;
        }
        Ok(self.staged)
    }

    /// Ends the staging: the staged file is complete, to be read, until [`Self::finish`].
    pub fn staged_file(&mut self) -> Result<&Path, IngestError> {
        self.join()?;
        Ok(&self.path)
    }

    /// Closes the stage and makes the final file without the rows at `drop` (sorted ordinals;
    /// those past the staged rows are ignored), with the rows of `inserts` in their places,
    /// followed by `extra` batches. Returns the number of rows in the final file.
    pub fn finish(
        mut self,
        drop: &[u64],
        inserts: Inserts,
        extra: Vec<RecordBatch>,
    ) -> Result<u64, IngestError> {
        let staged = self.join()?;
        let drop = &drop[..drop.partition_point(|&d| d < staged)];
        if drop.is_empty() && inserts.at.is_empty() && extra.is_empty() {
            std::fs::rename(&self.path, &self.final_path)
                .map_err(|e| IngestError::io(&self.final_path, e))?;
            return Ok(staged);
        }
        let input = File::open(&self.path).map_err(|e| IngestError::io(&self.path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(input)
            .and_then(|b| b.with_batch_size(65_536).build())
            .map_err(|e| parquet_err(&self.path, e))?;
        let mut out = GroupWriter::create(&self.final_path, &self.schema)?;
        let (staged_path, final_path) = (&self.path, &self.final_path);
        // The staged rows are read and filtered on one thread while the kept ones are encoded,
        // a column per task, on the others.
        let rows = std::thread::scope(|scope| -> Result<u64, IngestError> {
            let (tx, rx) = sync_channel::<RecordBatch>(4);
            let reading = scope.spawn(move || -> Result<(), IngestError> {
                let err = |e: arrow_schema::ArrowError| parquet_err(staged_path, e);
                let mut ordinal = 0u64;
                let mut next_drop = drop.iter().peekable();
                let mut next_insert = inserts.at.iter().enumerate().peekable();
                let inserted = inserts.rows.as_ref();
                for batch in reader {
                    let batch = batch.map_err(|e| parquet_err(staged_path, e))?;
                    let end = ordinal + batch.num_rows() as u64;
                    let kept = if let Some(inserted) =
                        inserted.filter(|_| next_insert.peek().is_some_and(|&(_, &at)| at < end))
                    {
                        // Rows to insert among these: the staged rows kept and the inserted ones,
                        // in order.
                        let mut order = Vec::with_capacity(batch.num_rows() + 1);
                        for i in 0..batch.num_rows() {
                            while let Some((j, _)) = next_insert.next_if(|&(_, &at)| at == ordinal)
                            {
                                order.push((1, j));
                            }
                            if next_drop.next_if(|&&d| d == ordinal).is_none() {
                                order.push((0, i));
                            }
                            ordinal += 1;
                        }
                        arrow_select::interleave::interleave_record_batch(
                            &[&batch, inserted],
                            &order,
                        )
                        .map_err(err)?
                    } else {
                        let keep: BooleanArray = (0..batch.num_rows())
                            .map(|_| {
                                let dropped = next_drop.next_if(|&&d| d == ordinal).is_some();
                                ordinal += 1;
                                Some(!dropped)
                            })
                            .collect();
                        arrow_select::filter::filter_record_batch(&batch, &keep).map_err(err)?
                    };
                    if tx.send(kept).is_err() {
                        return Ok(());
                    }
                }
                // Rows that go after every staged row.
                if let (Some((j, _)), Some(rows)) = (next_insert.next(), inserted) {
                    let _ = tx.send(rows.slice(j, rows.num_rows() - j));
                }
                Ok(())
            });
            let mut rows = 0u64;
            for batch in rx.into_iter().chain(extra) {
                rows += batch.num_rows() as u64;
                out.push(batch)?;
            }
            reading
                .join()
                .map_err(|_| parquet_err(final_path, "reading the staged rows panicked"))??;
            Ok(rows)
        })?;
        out.close()?;
        std::fs::remove_file(&self.path).map_err(|e| IngestError::io(&self.path, e))?;
        Ok(rows)
    }
}

/// Rows that go into a staged table when it is finished: row `i` of `rows` before the staged
/// row at ordinal `at[i]` (after every staged row when `at[i]` is their number). Sorted by `at`.
#[derive(Default)]
pub struct Inserts {
    pub at: Vec<u64>,
    /// `None` when there are none.
    pub rows: Option<RecordBatch>,
}

impl Drop for StagedTable {
    fn drop(&mut self) {
        // Dropped before `finish` (which consumes the path): an error on the way.
        let _ = self.join();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Rows of a row group of a table rewritten by [`StagedTable::finish`] (the Arrow writer's
/// default).
const GROUP_ROWS: usize = 1024 * 1024;

/// A Parquet file written a row group at a time, each group's columns encoded in parallel, with
/// the properties and Arrow schema of a staged table.
struct GroupWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: SerializedFileWriter<std::io::BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    groups: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl GroupWriter {
    fn create(path: &Path, schema: &SchemaRef) -> Result<Self, IngestError> {
        let err = |e: parquet::errors::ParquetError| parquet_err(path, e);
        let mut props = props(schema);
        // Readers get the Arrow types and field metadata back, as from `ArrowWriter`.
        add_encoded_arrow_schema_to_metadata(schema, &mut props);
        let props = std::sync::Arc::new(props);
        let parquet_schema = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(schema)
            .map_err(err)?;
        let file = File::create(path).map_err(|e| IngestError::io(path, e))?;
        let writer = SerializedFileWriter::new(
            std::io::BufWriter::new(file),
            parquet_schema.root_schema_ptr(),
            props,
        )
        .map_err(err)?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        Ok(Self {
            path: path.to_path_buf(),
            schema: schema.clone(),
            writer,
            factory,
            groups: 0,
            pending: Vec::new(),
            pending_rows: 0,
        })
    }

    /// Adds rows; a full row group is written.
    fn push(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= GROUP_ROWS {
            self.write_group()?;
        }
        Ok(())
    }

    fn write_group(&mut self) -> Result<(), IngestError> {
        let err = |e: &dyn std::fmt::Display| parquet_err(&self.path, e);
        let rows = arrow_select::concat::concat_batches(&self.schema, &self.pending)
            .map_err(|e| err(&e))?;
        (self.pending, self.pending_rows) = (Vec::new(), 0);
        if rows.num_rows() == 0 {
            return Ok(());
        }
        write_row_group(&mut self.writer, &self.factory, self.groups, &rows)
            .map_err(|e| err(&e))?;
        self.groups += 1;
        Ok(())
    }

    fn close(mut self) -> Result<(), IngestError> {
        self.write_group()?;
        self.writer
            .close()
            .map_err(|e| parquet_err(&self.path, e))?;
        Ok(())
    }
}

/// Writes `rows` as row group `index` of `writer`, each column encoded on a task of its own
/// (rayon), then appended in order.
pub fn write_row_group<W: std::io::Write + Send>(
    writer: &mut SerializedFileWriter<W>,
    factory: &ArrowRowGroupWriterFactory,
    index: usize,
    rows: &RecordBatch,
) -> Result<(), parquet::errors::ParquetError> {
    let mut leaves = Vec::new();
    for (field, column) in rows.schema().fields().iter().zip(rows.columns()) {
        leaves.extend(compute_leaves(field, column)?);
    }
    let chunks = factory
        .create_column_writers(index)?
        .into_par_iter()
        .zip(leaves.into_par_iter())
        .map(|(mut w, leaf)| {
            w.write(&leaf)?;
            w.close()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut group = writer.next_row_group()?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut group)?;
    }
    group.close()?;
    Ok(())
}
