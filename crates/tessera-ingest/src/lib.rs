//! Reads a business's customer data (CSV, Parquet, NDJSON) into typed Arrow tables, and loses
//! nothing on the way.
//!
//! Every row read is accepted into `OUT/clean/<source>.parquet`, rejected into `OUT/rejects.csv`
//! with its file, line, column, reason and raw text, dropped as an exact copy of an accepted row,
//! or dropped unwritten because its customer is on the suppression list
//! ([`IngestOptions::suppress`]); the counts in the returned report always add up
//! (`read = accepted + rejected + duplicates + suppressed`).
//! Memory stays bounded by the batch size plus, per distinct id, an index entry for customers
//! and about 2 bytes for the other sources (see `source::deferred`).
//!
//! ```no_run
//! use tessera_core::Config;
//! use tessera_ingest::{IngestOptions, NoProgress, ingest};
//!
//! let text = std::fs::read_to_string("tessera.toml").unwrap();
//! let config = Config::from_toml(&text, "tessera.toml".as_ref()).unwrap();
//! let outcome = ingest(&config, "out".as_ref(), &IngestOptions::default(), &NoProgress).unwrap();
//! for (name, source) in &outcome.sources {
//!     println!("{name}: {} read, {} rejected", source.read, source.rejected);
//! }
//! ```

mod batch;
mod cell;
mod columns;
mod convert;
mod csv_reader;
mod error;
mod huge;
mod index;
mod inspect;
mod ndjson;
mod parquet_reader;
mod pipeline;
mod reason;
mod rejects;
mod report;
mod run;
mod seen;
mod sink;
mod source;

pub use batch::clean_schema;
pub use error::IngestError;
pub use inspect::{FileColumns, inspect};
pub use reason::Reason;
pub use rejects::RejectWriter;
pub use report::SourceReport;
pub use run::{RunSummary, StageTime, config_hash};
pub use sink::write_row_group;

use crate::convert::{RowScratch, Typed};
use crate::source::{Customers, MADE_UP, SourceRun};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_core::config::{Config, Format, SourceConfig};
use tessera_core::schema::SourceKind;
use tessera_core::suppress::Suppression;

/// Progress of a long stage, shown by the CLI as bars. Sources after customers are read at the
/// same time, so calls come from several threads. All methods default to doing nothing.
pub trait Progress: Sync {
    fn start(&self, _source: SourceKind, _total_bytes: u64) {}
    fn advance(&self, _source: SourceKind, _bytes: u64) {}
    fn finish(&self, _source: SourceKind) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Stop at the first bad row with `file:line:col: message`.
    pub strict: bool,
    /// Customers who asked to be forgotten. Every row of every source that belongs to one (the
    /// customers source's `customer_id`, the other sources' customer reference) is dropped before
    /// any other check: counted in [`SourceReport::suppressed`], never accepted, never written to
    /// `rejects.csv`, never made up as a bare customer. `None` or an empty list costs nothing.
    pub suppress: Option<Arc<Suppression>>,
    /// Settle every row of every source as it is read, against an exact index of the ids
    /// (about 32 bytes per id). By default the sources other than customers keep a filter of
    /// about 2 bytes per id and settle the few rows whose ids may repeat once they are read;
    /// the outcome is the same, except that their conflicting rows come after their other
    /// rejects in `rejects.csv` instead of where they stand. `strict` implies it.
    pub exact_ids: bool,
    /// For tests of the settling after reading: the filter answers "maybe seen" for every id,
    /// and "maybe copied" for every row, so that every valid row is held back and settled once
    /// its source is read. The outcome is the same; only slower.
    #[doc(hidden)]
    pub hold_every_row: bool,
}

/// What ingest did, per source in ingest order.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub sources: BTreeMap<SourceKind, SourceReport>,
    /// Latest order or event time accepted, µs UTC.
    pub latest_event: Option<i64>,
    /// For each row of `clean/orders.parquet`, in file order, the row of its customer in
    /// `clean/customers.parquet`; `None` when some order's customer was made up on the way.
    pub order_customers: Option<Vec<u32>>,
}

impl IngestOutcome {
    /// The day after the latest order or event, in the config's time zone (days since 1970-01-01).
    pub fn default_as_of(&self, config: &Config) -> Option<i32> {
        let t = chrono::DateTime::from_timestamp_micros(self.latest_event?)?;
        let day = t.with_timezone(&config.time_zone).date_naive();
        Some(tessera_core::value::date_to_days(day) + 1)
    }
}

/// The files a source's path or glob names, sorted, with the names messages show.
pub fn source_files(
    config: &Config,
    source: &SourceConfig,
) -> Result<Vec<(PathBuf, String)>, IngestError> {
    let pattern = config.base_dir.join(&source.path);
    let shown = |p: &Path| {
        p.strip_prefix(&config.base_dir)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let bad = |message: String| IngestError::Input {
        file: config.file.display().to_string(),
        line: 0,
        message,
    };
    let mut files: Vec<PathBuf> = if source.path.contains(['*', '?', '[']) {
        glob::glob(&pattern.to_string_lossy())
            .map_err(|e| {
                bad(format!(
                    "sources.{}.path `{}` is not a valid glob: {e}",
                    source.kind, source.path
                ))
            })?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else {
        vec![pattern.clone()]
    };
    files.sort();
    if files.is_empty() {
        return Err(bad(format!(
            "sources.{}.path `{}` matches no file",
            source.kind, source.path
        )));
    }
    for f in &files {
        if !f.is_file() {
            return Err(bad(format!(
                "sources.{}.path: {} does not exist",
                source.kind,
                f.display()
            )));
        }
    }
    Ok(files
        .into_iter()
        .map(|p| {
            let s = shown(&p);
            (p, s)
        })
        .collect())
}

/// A source read to its end, its table staged but not yet settled.
struct SourceDone {
    kind: SourceKind,
    report: SourceReport,
    latest: Option<i64>,
    table: sink::StagedTable,
    /// Rows kept once the source was settled, to go among the staged ones.
    inserts: sink::Inserts,
    drops: Vec<u64>,
    index: index::IdIndex,
    customer_rows: Option<Vec<u32>>,
}

fn rejects_part(out: &Path, kind: SourceKind) -> PathBuf {
    out.join(format!(".rejects.{kind}.part"))
}

/// The fewest ids a source's filter of ids seen is sized for (128 KiB).
const MIN_FILTER_IDS: usize = 1 << 16;

/// About how many rows the files of `source` hold: the footers' counts for Parquet, the file
/// size over the mean line length of the first MiB otherwise. Unreadable files count 0; their
/// reader reports them.
fn expected_rows(config: &Config, source: &SourceConfig) -> u64 {
    let Ok(files) = source_files(config, source) else {
        return 0;
    };
    files
        .iter()
        .map(|(path, _)| match source.format {
            Format::Parquet => std::fs::File::open(path)
                .ok()
                .and_then(|f| {
                    parquet::file::reader::SerializedFileReader::new(f)
                        .ok()
                        .map(|r| {
                            use parquet::file::reader::FileReader;
                            r.metadata().file_metadata().num_rows().max(0) as u64
                        })
                })
                .unwrap_or(0),
            _ => {
                use std::io::Read;
                let len = std::fs::metadata(path).map_or(0, |m| m.len());
                let mut head = Vec::with_capacity(1 << 20);
                let read = std::fs::File::open(path)
                    .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
                    .unwrap_or(0);
                let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
                if read == 0 || lines == 0 {
                    0
                } else {
                    len.saturating_mul(lines) / read as u64
                }
            }
        })
        .sum()
}

fn read_source(
    config: &Config,
    source: &SourceConfig,
    out: &Path,
    opts: &IngestOptions,
    customers: Option<&Customers>,
    progress: &dyn Progress,
) -> Result<SourceDone, IngestError> {
    let files = source_files(config, source)?;
    // Customers are looked up by id, and `strict` stops at the first bad row in file order:
    // both settle each row as it comes, with an exact index. The other sources settle the few
    // rows whose id may have been seen before once they are read.
    let ids = if source.kind == SourceKind::Customers || opts.strict || opts.exact_ids {
        source::Ids::Exact(index::IdIndex::default())
    } else {
        // A little more than expected, so that an estimate a bit low does not make it grow.
        let rows = usize::try_from(expected_rows(config, source)).unwrap_or(usize::MAX);
        let ids = rows.saturating_add(rows / 16).max(MIN_FILTER_IDS);
        // Entries for each row's id, and for its id with its values.
        let mut seen = seen::Seen::with_capacity(ids.saturating_mul(seen::ENTRIES_PER_ROW));
        if opts.hold_every_row {
            seen.saturate();
        }
        source::Ids::Filtered(seen)
    };
    let mut rejects = RejectWriter::create_part(&rejects_part(out, source.kind))?;
    let table_path = out.join("clean").join(format!("{}.parquet", source.kind));
    let mut run = SourceRun::new(
        source,
        table_path,
        config.batch_rows,
        opts.strict,
        opts.suppress.clone(),
        ids,
    )?;
    let total = files
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    progress.start(source.kind, total);
    for (path, name) in &files {
        match source.format {
            Format::Csv => csv_reader::read(
                path,
                name,
                &mut run,
                &mut rejects,
                customers,
                progress,
                config.batch_rows,
            )?,
            Format::Ndjson => {
                ndjson::read(path, name, &mut run, &mut rejects, customers, progress)?
            }
            Format::Parquet => parquet_reader::read(
                path,
                name,
                &mut run,
                &mut rejects,
                customers,
                progress,
                config.batch_rows,
            )?,
        }
    }
    progress.finish(source.kind);
    let (table, inserts) = run.close()?;
    write_withdrawn(&run, &files, &mut rejects)?;
    rejects.finish()?;
    let index = std::mem::take(&mut run.index);
    let customer_rows = run.customer_rows.take();
    Ok(SourceDone {
        customer_rows,
        kind: source.kind,
        report: run.report.clone(),
        latest: run.latest,
        table,
        inserts,
        drops: run.drops.clone(),
        index,
    })
}

/// Reads every source of `config` into `out/clean/`, writing `out/rejects.csv`.
///
/// Customers are read first; orders, events and feedback then only look customers up, so they are
/// read at the same time, one thread each (in order, one after another, with `strict`, so that the
/// first bad row reported is the first in source order).
pub fn ingest(
    config: &Config,
    out: &Path,
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestOutcome, IngestError> {
    let result = ingest_sources(config, out, opts, progress);
    if result.is_err() {
        // Staged tables remove themselves when dropped; the rejects parts are removed here.
        for s in &config.sources {
            let _ = std::fs::remove_file(rejects_part(out, s.kind));
        }
    }
    result
}

fn ingest_sources(
    config: &Config,
    out: &Path,
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestOutcome, IngestError> {
    let clean = out.join("clean");
    std::fs::create_dir_all(&clean).map_err(|e| IngestError::io(&clean, e))?;
    let customers_source = config
        .source(SourceKind::Customers)
        .ok_or_else(|| IngestError::Internal("no customers source".into()))?;
    let first = read_source(config, customers_source, out, opts, None, progress)?;
    let (customers_table, customers_drops) = (first.table, first.drops);
    let mut customers_report = first.report;
    let customers = Customers::new(first.index, customers_drops.clone());
    let others: Vec<&SourceConfig> = config
        .sources
        .iter()
        .filter(|s| s.kind != SourceKind::Customers)
        .collect();
    let read = |s: &SourceConfig| read_source(config, s, out, opts, Some(&customers), progress);
    let done: Vec<SourceDone> = if opts.strict {
        others.iter().map(|s| read(s)).collect::<Result<_, _>>()?
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = others
                .iter()
                .map(|s| (s.kind, scope.spawn(|| read(s))))
                .collect();
            handles
                .into_iter()
                .map(|(kind, h)| {
                    h.join().unwrap_or_else(|_| {
                        Err(IngestError::Internal(format!("reading {kind} panicked")))
                    })
                })
                .collect::<Result<_, _>>()
        })?
    };
    let mut outcome = IngestOutcome {
        sources: BTreeMap::new(),
        latest_event: None,
        order_customers: None,
    };
    for d in done {
        if d.kind == SourceKind::Orders {
            outcome.order_customers = d.customer_rows.filter(|rows| !rows.contains(&MADE_UP));
        }
        let mut report = d.report;
        report.rows_written = d.table.finish(&d.drops, d.inserts, Vec::new())?;
        drop(d.index);
        // The default as_of follows orders and events, not feedback given later.
        if let Some(t) = d
            .latest
            .filter(|_| matches!(d.kind, SourceKind::Orders | SourceKind::Events))
        {
            outcome.latest_event = Some(outcome.latest_event.map_or(t, |l| l.max(t)));
        }
        outcome.sources.insert(d.kind, report);
    }
    let created = customers.created();
    customers_report.created = created.len() as u64;
    let extra = bare_customers(customers_source, &created, config.batch_rows);
    customers_report.rows_written =
        customers_table.finish(&customers_drops, sink::Inserts::default(), extra)?;
    outcome
        .sources
        .insert(SourceKind::Customers, customers_report);
    let parts: Vec<PathBuf> = config
        .sources
        .iter()
        .map(|s| rejects_part(out, s.kind))
        .collect();
    rejects::assemble(&out.join("rejects.csv"), &parts)?;
    for (kind, r) in &outcome.sources {
        if !r.reconciles() {
            return Err(IngestError::Internal(format!(
                "{kind}: counts do not add up: read {} != accepted {} + rejected {} + duplicates {} + suppressed {}, or {} rows written != accepted + created {}",
                r.read,
                r.accepted,
                r.rejected,
                r.duplicates,
                r.suppressed,
                r.rows_written,
                r.created
            )));
        }
    }
    Ok(outcome)
}

fn write_withdrawn(
    run: &SourceRun,
    files: &[(PathBuf, String)],
    rejects: &mut RejectWriter,
) -> Result<(), IngestError> {
    let mut by_file: BTreeMap<usize, Vec<&source::Withdrawn>> = BTreeMap::new();
    for w in &run.withdrawn {
        by_file.entry(w.file).or_default().push(w);
    }
    for (file, mut rows) in by_file {
        rows.sort_by_key(|w| w.line);
        let lines: Vec<u64> = rows.iter().map(|w| w.line).collect();
        let path = &files[file].0;
        let raws = match run.config.format {
            Format::Csv => csv_reader::fetch_raw(path, &run.config.csv, &lines)?,
            Format::Ndjson => ndjson::fetch_raw(path, &lines)?,
            Format::Parquet => parquet_reader::fetch_raw(path, &lines)?,
        };
        let raws: BTreeMap<u64, String> = raws.into_iter().collect();
        for w in rows {
            let raw = raws.get(&w.line).cloned().unwrap_or_default();
            let r = rejects::Reject {
                line: w.line,
                column: w.column.clone(),
                reason: Reason::ConflictingDuplicate,
                message: w.message.clone(),
                raw,
            };
            rejects.write(run.config.kind.name(), run.file_name(file), &r)?;
        }
    }
    Ok(())
}

fn bare_customers(
    source: &SourceConfig,
    ids: &[String],
    batch_rows: usize,
) -> Vec<arrow_array::RecordBatch> {
    let schema = clean_schema(source);
    let mut out = Vec::new();
    for chunk in ids.chunks(batch_rows) {
        let mut builder = batch::BatchBuilder::new(schema.clone(), chunk.len());
        let mut row = RowScratch::default();
        for id in chunk {
            row.clear();
            row.text.push_str(id);
            row.values.push(Typed::Str(0, id.len() as u32));
            row.values
                .extend(std::iter::repeat_n(Typed::Null, source.fields.len() - 1));
            builder.push(&row, &[]);
        }
        out.push(builder.finish());
    }
    out
}
