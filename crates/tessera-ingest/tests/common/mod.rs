//! Helpers shared by the ingest tests: write a small project to a temp folder and run it.
#![allow(dead_code)]

use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use tessera_core::Config;
use tessera_ingest::{IngestError, IngestOptions, IngestOutcome, NoProgress, ingest};

pub struct Project {
    pub dir: tempfile::TempDir,
}

/// A row of `rejects.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectRow {
    pub source: String,
    pub file: String,
    pub line: u64,
    pub column: String,
    pub reason: String,
    pub message: String,
    pub raw: String,
}

impl Project {
    pub fn new(files: &[(&str, &[u8])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn config(&self, toml: &str) -> Config {
        let file = self.dir.path().join("tessera.toml");
        std::fs::write(&file, toml).unwrap();
        Config::from_toml(toml, &file).unwrap()
    }

    pub fn run(&self, toml: &str) -> Result<IngestOutcome, IngestError> {
        self.run_with(toml, false)
    }

    pub fn run_with(&self, toml: &str, strict: bool) -> Result<IngestOutcome, IngestError> {
        let opts = IngestOptions {
            strict,
            ..IngestOptions::default()
        };
        self.run_opts(toml, &opts)
    }

    pub fn run_opts(&self, toml: &str, opts: &IngestOptions) -> Result<IngestOutcome, IngestError> {
        let config = self.config(toml);
        ingest(&config, &self.out(), opts, &NoProgress)
    }

    /// Every file under `out/`, with its path relative to `out/` and its bytes.
    pub fn out_files(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(dir: &Path, root: &Path, files: &mut Vec<(String, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, files);
                } else {
                    let name = path.strip_prefix(root).unwrap().display().to_string();
                    files.push((name, std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.out(), &self.out(), &mut files);
        files.sort();
        files
    }

    pub fn rejects(&self) -> Vec<RejectRow> {
        let mut r = csv::Reader::from_path(self.out().join("rejects.csv")).unwrap();
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            [
                "source", "file", "line", "column", "reason", "message", "raw"
            ]
        );
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                RejectRow {
                    source: rec[0].into(),
                    file: rec[1].into(),
                    line: rec[2].parse().unwrap(),
                    column: rec[3].into(),
                    reason: rec[4].into(),
                    message: rec[5].into(),
                    raw: rec[6].into(),
                }
            })
            .collect()
    }

    pub fn clean(&self, source: &str) -> Vec<RecordBatch> {
        let file = std::fs::File::open(self.out().join("clean").join(format!("{source}.parquet")))
            .unwrap();
        ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    pub fn clean_rows(&self, source: &str) -> usize {
        self.clean(source).iter().map(RecordBatch::num_rows).sum()
    }

    /// A string column of a clean table, nulls as `None`.
    pub fn strings(&self, source: &str, column: &str) -> Vec<Option<String>> {
        use arrow_array::cast::AsArray;
        self.clean(source)
            .iter()
            .flat_map(|b| {
                let a = b.column_by_name(column).unwrap().as_string::<i32>().clone();
                (0..a.len()).map(move |i| (!a.is_null(i)).then(|| a.value(i).to_string()))
            })
            .collect()
    }

    pub fn ints(&self, source: &str, column: &str) -> Vec<Option<i64>> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::Int64Type;
        self.clean(source)
            .iter()
            .flat_map(|b| {
                let a = b
                    .column_by_name(column)
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .clone();
                (0..a.len()).map(move |i| (!a.is_null(i)).then(|| a.value(i)))
            })
            .collect()
    }
}

pub const CUSTOMERS_CSV: &str = "id,signup,age,country,vip\n\
C1,2024-01-05,34,DE,yes\n\
C2,2024-02-10,51,FR,no\n\
C3,2024-03-15,,NL,\n";

pub const BASE_TOML: &str = r#"
[project]
time_zone = "Europe/Berlin"

[sources.customers]
path = "customers.csv"
columns = { customer_id = "id", signed_up_at = "signup" }
attributes.age = { column = "age", type = "int", min = 0, max = 120 }
attributes.country = { column = "country", type = "string", values = ["DE", "FR", "NL"] }
attributes.vip = { column = "vip", type = "bool" }

[sources.orders]
path = "orders.csv"
columns = { order_id = "oid", customer_id = "cid", ordered_at = "at", amount = "total", channel = { column = "channel", values = ["web", "store"] } }
attributes.rating = { column = "rating", type = "float" }
attributes.shipped = { column = "shipped", type = "date" }
"#;

pub const ORDERS_HEADER: &str = "oid,cid,at,total,channel,rating,shipped\n";

/// The reconciliation identity every run must satisfy, checked against the files on disk too.
pub fn assert_reconciles(p: &Project, outcome: &IngestOutcome) {
    let rejects = p.rejects();
    for (kind, r) in &outcome.sources {
        assert_eq!(
            r.read,
            r.accepted + r.rejected + r.duplicates + r.suppressed,
            "{kind}: {r:?}"
        );
        assert_eq!(
            p.clean_rows(kind.name()) as u64,
            r.accepted + r.created,
            "{kind} parquet rows"
        );
        let listed = rejects.iter().filter(|x| x.source == kind.name()).count() as u64;
        assert_eq!(listed, r.rejected, "{kind} rows in rejects.csv");
    }
}
