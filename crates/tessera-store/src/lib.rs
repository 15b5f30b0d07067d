//! The project store: every run recorded as a snapshot, so teams can see customers move between
//! segments, ask who was in a segment on a date under which definition, and erase a person.
//!
//! Layout of a store folder (`.tessera/` next to the config by default):
//!
//! ```text
//! catalog.sqlite           runs, definitions, segment sizes, suppression list, audit log
//! runs/000007/             one snapshot per recorded run
//!     assignments.parquet  a row per customer: segments, groups, RFM, cluster, CLV outputs
//!     run.json             the run's summary: counts, model parameters, cluster centroids
//!     config.toml          the config text the run used
//! tmp/                     snapshots being written; removed when the store is next opened
//! lock                     held while a process writes to the store
//! ```
//!
//! The catalog is the source of truth. A snapshot is written under `tmp/`, synced, moved into
//! `runs/` inside the catalog transaction that records it, and exists once that transaction
//! commits: a process killed at any point leaves either the whole snapshot or none (a folder
//! under `runs/` the catalog does not list is removed on the next open).
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, RecordBatch, StringArray};
//! use tessera_store::{Record, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = Store::open(dir.path()).unwrap();
//! let ids: ArrayRef = Arc::new(StringArray::from(vec!["C1", "C2"]));
//! let tier: ArrayRef = Arc::new(StringArray::from(vec![Some("gold"), None]));
//! let batch = RecordBatch::try_from_iter([("customer_id", ids), ("tier", tier)]).unwrap();
//! let run = serde_json::json!({});
//! let record = Record {
//!     as_of: Some("2025-01-01".into()),
//!     config_hash: "abc",
//!     config_text: "",
//!     run: &run,
//!     definitions: &[],
//!     families: &["tier".to_string()],
//!     assignments: &batch,
//!     out: None,
//! };
//! let info = store.record(&record, 10, &mut |_| {}).unwrap();
//! assert_eq!(store.runs().unwrap()[0].id, info.id);
//! let gold = store.members(&store.load(info.id).unwrap(), "tier=gold").unwrap();
//! assert_eq!(gold.ids, ["C1"]);
//! ```

pub mod diff;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch, RecordBatchReader};
use arrow_schema::DataType;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use tessera_core::suppress::Suppression;

/// Label of a customer no member of a family holds (no tier, not clustered).
pub const NONE: &str = "(none)";
/// The family of rule segments, which overlap: a customer may be in several.
pub const SEGMENTS: &str = "segments";

const CATALOG: &str = "catalog.sqlite";
const ASSIGNMENTS: &str = "assignments.parquet";
const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store catalog: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("snapshot {}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("snapshot data: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("snapshot summary: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the error is the user's to fix (an unknown run or segment, a bad argument) rather
    /// than a failure of the store.
    pub fn is_input_error(&self) -> bool {
        matches!(self, Self::NotFound(_) | Self::Invalid(_))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Family → label → members of one run (`segments` included).
pub type Sizes = BTreeMap<String, BTreeMap<String, u64>>;

/// A segment, group or model definition as one run used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// `segment`, `group`, `rfm` or `clustering`.
    pub kind: String,
    pub name: String,
    /// Hash of the normalized definition, as in the run's summary.
    pub version: String,
    pub text: String,
}

/// One recorded run, as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub id: i64,
    /// When the run was recorded (RFC 3339, UTC).
    pub recorded_at: String,
    /// The run's `as_of` date (`YYYY-MM-DD`), when it had one.
    pub as_of: Option<String>,
    pub config_hash: String,
    /// Customers in the snapshot.
    pub customers: u64,
    /// The run's output folder, outside the store.
    pub out: Option<String>,
}

/// What a run hands the store to record.
pub struct Record<'a> {
    pub as_of: Option<String>,
    pub config_hash: &'a str,
    pub config_text: &'a str,
    /// The run's summary (`run.json`).
    pub run: &'a serde_json::Value,
    pub definitions: &'a [Definition],
    /// Columns of `assignments` that are exclusive families (groups, `rfm_segment`, `cluster`,
    /// `churn_risk`): each customer holds one value or none.
    pub families: &'a [String],
    /// A row per customer: `customer_id` (string) first, `segments` (list of strings) when the
    /// run has rule segments, then any other outputs.
    pub assignments: &'a RecordBatch,
    pub out: Option<&'a Path>,
}

/// The points at which [`Store::record`] reports progress (and tests stop a process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The snapshot's files are written and synced under `tmp/`.
    Written,
    /// The catalog rows are inserted, not yet committed.
    Cataloged,
    /// The snapshot folder is moved into `runs/`; the transaction is not yet committed.
    Moved,
    /// The catalog transaction committed: the snapshot exists.
    Committed,
    /// An erasure replaced a snapshot's file; its counts are not yet committed.
    Rewritten,
}

/// A snapshot read back: its catalog entry, definitions, family sizes, summary and assignments.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub info: RunInfo,
    pub definitions: Vec<Definition>,
    /// Family → label → members, `segments` included.
    pub sizes: Sizes,
    /// The exclusive families, in the run's order.
    pub families: Vec<String>,
    pub run: serde_json::Value,
    pub assignments: RecordBatch,
}

impl Loaded {
    /// A run not yet recorded, as its snapshot would read back (id 0), to compare with the
    /// store's runs before it is recorded.
    pub fn unrecorded(r: &Record<'_>) -> Result<Self> {
        Ok(Self {
            info: RunInfo {
                id: 0,
                recorded_at: now(),
                as_of: r.as_of.clone(),
                config_hash: r.config_hash.to_string(),
                customers: r.assignments.num_rows() as u64,
                out: r.out.map(|p| p.display().to_string()),
            },
            definitions: r.definitions.to_vec(),
            sizes: family_sizes(r.assignments, r.families, r.definitions)?,
            families: r.families.to_vec(),
            run: r.run.clone(),
            assignments: r.assignments.clone(),
        })
    }
}

/// Members of one segment (or one value of a family) in one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Members {
    pub run: i64,
    pub as_of: Option<String>,
    pub segment: String,
    /// The definitions that decided membership: the segment's, and its group's for a tier.
    pub definitions: Vec<Definition>,
    pub ids: Vec<String>,
}

/// What [`Store::forget`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Forgotten {
    /// Customers newly added to the suppression list (an id already there is not counted).
    pub added: usize,
    /// Snapshots rewritten without the customers.
    pub snapshots_rewritten: usize,
    /// Snapshot rows removed.
    pub rows_removed: u64,
    /// Output folders recorded runs wrote (outside the store, kept runs or not) that still exist:
    /// written before the erasure, they may still hold the customers.
    pub stale_outputs: Vec<String>,
}

/// One entry of the audit log. Entries hold counts, never a customer's id.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub action: String,
    pub detail: serde_json::Value,
}

/// An open store.
pub struct Store {
    dir: PathBuf,
    db: Connection,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn run_dir_name(id: i64) -> String {
    format!("{id:06}")
}

/// Whether a name under `runs/` is a snapshot folder's (six or more digits).
fn is_run_dir(name: &str) -> bool {
    name.len() >= 6 && name.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a name under `tmp/` is a writer's (`PID-NANOS`).
fn is_tmp_dir(name: &str) -> bool {
    name.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// Flushes a file or folder to disk (folders: the entries created or renamed in it).
fn sync_path(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(path, e))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = File::create(path).map_err(|e| StoreError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io(path, e))
}

/// Writes a batch as zstd Parquet and syncs it.
fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<()> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;
    let pq = |source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
    // The ids stay uncompressed, so that an erasure can be checked by scanning the bytes of
    // every file in the store; the rest is compressed.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_column_compression(ColumnPath::from("customer_id"), Compression::UNCOMPRESSED)
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(pq)?;
    w.write(batch).map_err(pq)?;
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(|e| StoreError::io(path, e))
}

fn read_parquet(path: &Path) -> Result<RecordBatch> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let pq = |source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// A column's values as strings (`None` for nulls).
pub fn labels(batch: &RecordBatch, column: &str) -> Result<Vec<Option<String>>> {
    let a = batch
        .column_by_name(column)
        .ok_or_else(|| StoreError::NotFound(format!("the snapshot has no column `{column}`")))?;
    let s = arrow_cast::cast(a, &DataType::Utf8)?;
    Ok(s.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

/// The customer ids of a snapshot's rows.
pub fn customer_ids(batch: &RecordBatch) -> Result<Vec<String>> {
    Ok(labels(batch, "customer_id")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// Each row's rule segments (empty when the snapshot has no `segments` column).
pub fn segment_lists(batch: &RecordBatch) -> Vec<Vec<String>> {
    let Some(list) = batch
        .column_by_name(SEGMENTS)
        .and_then(|a| a.as_list_opt::<i32>())
    else {
        return vec![Vec::new(); batch.num_rows()];
    };
    (0..list.len())
        .map(|r| {
            if list.is_null(r) {
                return Vec::new();
            }
            let v = list.value(r);
            v.as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Family → label → members of a snapshot batch; every segment defined gets an entry, empty or
/// not.
fn family_sizes(
    batch: &RecordBatch,
    families: &[String],
    definitions: &[Definition],
) -> Result<Sizes> {
    let mut sizes = Sizes::new();
    if let Some(list) = batch
        .column_by_name(SEGMENTS)
        .and_then(|a| a.as_list_opt::<i32>())
    {
        let seg = sizes.entry(SEGMENTS.to_string()).or_default();
        for d in definitions.iter().filter(|d| d.kind == "segment") {
            seg.insert(d.name.clone(), 0);
        }
        // Every value of every (valid) list, counted by name without copying it per row.
        let values = arrow_cast::cast(list.values(), &DataType::Utf8)?;
        let values = values.as_string::<i32>();
        let mut counts: HashMap<&str, u64> = HashMap::new();
        let offsets = list.value_offsets();
        for r in (0..list.len()).filter(|&r| list.is_valid(r)) {
            for k in offsets[r] as usize..offsets[r + 1] as usize {
                if values.is_valid(k) {
                    *counts.entry(values.value(k)).or_default() += 1;
                }
            }
        }
        for (name, n) in counts {
            *seg.entry(name.to_string()).or_default() += n;
        }
    }
    for f in families {
        let a = batch
            .column_by_name(f)
            .ok_or_else(|| StoreError::NotFound(format!("the snapshot has no column `{f}`")))?;
        let a = arrow_cast::cast(a, &DataType::Utf8)?;
        let a = a.as_string::<i32>();
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for r in 0..a.len() {
            let v = if a.is_valid(r) { a.value(r) } else { NONE };
            *counts.entry(v).or_default() += 1;
        }
        sizes.insert(
            f.clone(),
            counts
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect(),
        );
    }
    Ok(sizes)
}

impl Store {
    /// Opens the store in `dir`, creating it when missing, and clears what an interrupted writer
    /// left behind.
    pub fn open(dir: &Path) -> Result<Self> {
        let runs = dir.join("runs");
        if !dir.join(CATALOG).exists()
            && std::fs::read_dir(&runs).is_ok_and(|mut d| {
                d.any(|e| e.is_ok_and(|e| is_run_dir(&e.file_name().to_string_lossy())))
            })
        {
            // A new catalog would not know these snapshots, and recovery would remove them.
            return Err(StoreError::Invalid(format!(
                "{} holds snapshots but no {CATALOG}: restore the catalog, or move the folder away to start a new store",
                dir.display()
            )));
        }
        for d in [dir.to_path_buf(), runs, dir.join("tmp")] {
            std::fs::create_dir_all(&d).map_err(|e| StoreError::io(&d, e))?;
        }
        let db = Connection::open(dir.join(CATALOG))?;
        db.busy_timeout(std::time::Duration::from_secs(30))?;
        db.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;",
        )?;
        let store = Self {
            dir: dir.to_path_buf(),
            db,
        };
        let _lock = store.lock()?;
        store.migrate()?;
        store.recover()?;
        Ok(store)
    }

    /// Whether `dir` holds a store.
    pub fn exists(dir: &Path) -> bool {
        dir.join(CATALOG).is_file()
    }

    /// Opens the store only if it exists (for commands that read history).
    pub fn open_existing(dir: &Path) -> Result<Self> {
        if !Self::exists(dir) {
            return Err(StoreError::NotFound(format!(
                "no store at {} (runs are recorded there by `tessera run`)",
                dir.display()
            )));
        }
        Self::open(dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Holds the store's lock file exclusively until dropped: one writer at a time.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        f.lock().map_err(|e| StoreError::io(&path, e))?;
        Ok(f)
    }

    fn migrate(&self) -> Result<()> {
        self.db.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS runs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 recorded_at TEXT NOT NULL,
                 as_of TEXT,
                 config_hash TEXT NOT NULL,
                 customers INTEGER NOT NULL,
                 families TEXT NOT NULL,
                 out TEXT
             );
             CREATE TABLE IF NOT EXISTS definitions (
                 run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                 kind TEXT NOT NULL,
                 name TEXT NOT NULL,
                 version TEXT NOT NULL,
                 text TEXT NOT NULL,
                 PRIMARY KEY (run_id, kind, name)
             );
             CREATE TABLE IF NOT EXISTS sizes (
                 run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                 family TEXT NOT NULL,
                 label TEXT NOT NULL,
                 members INTEGER NOT NULL,
                 PRIMARY KEY (run_id, family, label)
             );
             CREATE TABLE IF NOT EXISTS suppressed (hash BLOB PRIMARY KEY, added_at TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS outputs (path TEXT PRIMARY KEY, last_run INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS scrub_pending (
                 run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE
             );
             CREATE TABLE IF NOT EXISTS audit (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 at TEXT NOT NULL,
                 action TEXT NOT NULL,
                 detail TEXT NOT NULL
             );",
        )?;
        let version: Option<i64> = self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match version {
            None => {
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt)
                    .map_err(|e| StoreError::Invalid(format!("no random salt: {e}")))?;
                self.db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1), ('salt', ?2)",
                    params![SCHEMA_VERSION, salt.to_vec()],
                )?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(StoreError::Invalid(format!(
                    "{}: store schema {v} is not this Tessera's ({SCHEMA_VERSION})",
                    self.dir.display()
                )));
            }
        }
        Ok(())
    }

    /// Removes snapshots being written when their writer died (`tmp/`), and snapshot folders
    /// the catalog does not list (moved into place, never committed), then finishes any
    /// interrupted erasure.
    fn recover(&self) -> Result<()> {
        let tmp = self.dir.join("tmp");
        for e in std::fs::read_dir(&tmp).map_err(|e| StoreError::io(&tmp, e))? {
            let e = e.map_err(|e| StoreError::io(&tmp, e))?;
            // Only what a writer names there (`PID-NANOS`); anything else is not the store's.
            if is_tmp_dir(&e.file_name().to_string_lossy()) {
                remove_any(&e.path())?;
            }
        }
        let listed: HashSet<String> = self.run_ids()?.into_iter().map(run_dir_name).collect();
        let runs = self.dir.join("runs");
        for e in std::fs::read_dir(&runs).map_err(|e| StoreError::io(&runs, e))? {
            let e = e.map_err(|e| StoreError::io(&runs, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_run_dir(&name) {
                continue;
            }
            if !listed.contains(&name) {
                remove_any(&e.path())?;
            } else {
                // A rewrite of the assignments (erasure) that never got renamed into place.
                let part = e.path().join(format!("{ASSIGNMENTS}.part"));
                if part.exists() {
                    remove_any(&part)?;
                }
            }
        }
        self.scrub_pending(&mut |_| {})?;
        Ok(())
    }

    fn run_ids(&self) -> Result<Vec<i64>> {
        let mut st = self.db.prepare("SELECT id FROM runs ORDER BY id")?;
        let ids = st
            .query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        Ok(ids)
    }

    fn salt(&self) -> Result<Vec<u8>> {
        Ok(self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'salt'", [], |r| {
                r.get(0)
            })?)
    }

    /// The suppression list: customers forgotten, by salted hash.
    pub fn suppression(&self) -> Result<Suppression> {
        let mut st = self.db.prepare("SELECT hash FROM suppressed")?;
        let hashes = st
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let hashes = hashes
            .into_iter()
            .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok());
        Ok(Suppression::new(self.salt()?, hashes))
    }

    /// Records a run as a new snapshot, then removes the oldest snapshots beyond `keep`.
    /// `on_step` hears each step as it completes.
    pub fn record(
        &mut self,
        r: &Record<'_>,
        keep: usize,
        on_step: &mut dyn FnMut(Step),
    ) -> Result<RunInfo> {
        let _lock = self.lock()?;
        // Customers forgotten while the run was computed (its inputs were read before) are
        // left out here, under the lock that `forget` takes too.
        let list = self.suppression()?;
        let kept;
        let batch = if list.is_empty() {
            r.assignments
        } else {
            let ids = customer_ids(r.assignments)?;
            let keep: BooleanArray = ids.iter().map(|c| Some(!list.contains(c))).collect();
            if keep.false_count() == 0 {
                r.assignments
            } else {
                kept = arrow_select::filter::filter_record_batch(r.assignments, &keep)?;
                &kept
            }
        };
        if batch
            .schema()
            .fields()
            .first()
            .is_none_or(|f| f.name() != "customer_id")
        {
            return Err(StoreError::Invalid(
                "a snapshot's first column must be customer_id".into(),
            ));
        }
        let sizes = family_sizes(batch, r.families, r.definitions)?;
        // Write the files where no reader looks.
        let tmp = self.dir.join("tmp").join(format!(
            "{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        write_parquet(batch, &tmp.join(ASSIGNMENTS))?;
        write_synced(
            &tmp.join("run.json"),
            (serde_json::to_string_pretty(r.run)? + "\n").as_bytes(),
        )?;
        write_synced(&tmp.join("config.toml"), r.config_text.as_bytes())?;
        sync_path(&tmp)?;
        on_step(Step::Written);
        let info = {
            let tx = self.db.transaction()?;
            let recorded_at = now();
            let out = r.out.map(|p| p.display().to_string());
            tx.execute(
                "INSERT INTO runs (recorded_at, as_of, config_hash, customers, families, out)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    recorded_at,
                    r.as_of,
                    r.config_hash,
                    batch.num_rows() as i64,
                    serde_json::to_string(r.families)?,
                    out
                ],
            )?;
            let id = tx.last_insert_rowid();
            for d in r.definitions {
                tx.execute(
                    "INSERT INTO definitions (run_id, kind, name, version, text)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, d.kind, d.name, d.version, d.text],
                )?;
            }
            insert_sizes(&tx, id, &sizes)?;
            // Output folders are remembered beyond retention, for `forget` to name them.
            if let Some(o) = &out {
                tx.execute(
                    "INSERT OR REPLACE INTO outputs (path, last_run) VALUES (?1, ?2)",
                    params![o, id],
                )?;
            }
            on_step(Step::Cataloged);
            let dest = self.dir.join("runs").join(run_dir_name(id));
            if dest.exists() {
                remove_any(&dest)?;
            }
            std::fs::rename(&tmp, &dest).map_err(|e| StoreError::io(&dest, e))?;
            sync_path(&self.dir.join("runs"))?;
            on_step(Step::Moved);
            tx.commit()?;
            on_step(Step::Committed);
            RunInfo {
                id,
                recorded_at,
                as_of: r.as_of.clone(),
                config_hash: r.config_hash.to_string(),
                customers: batch.num_rows() as u64,
                out,
            }
        };
        self.retain(keep)?;
        Ok(info)
    }

    /// Keeps the newest `keep` snapshots.
    fn retain(&mut self, keep: usize) -> Result<()> {
        let ids = self.run_ids()?;
        let old = &ids[..ids.len().saturating_sub(keep)];
        if old.is_empty() {
            return Ok(());
        }
        let tx = self.db.transaction()?;
        for id in old {
            tx.execute("DELETE FROM runs WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        // The catalog no longer lists them; a folder left by a crash here goes on the next open.
        for &id in old {
            let dir = self.dir.join("runs").join(run_dir_name(id));
            if dir.exists() {
                remove_any(&dir)?;
            }
        }
        Ok(())
    }

    /// Every recorded run, newest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>> {
        let mut st = self.db.prepare(
            "SELECT id, recorded_at, as_of, config_hash, customers, out FROM runs ORDER BY id DESC",
        )?;
        let runs = st
            .query_map([], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    recorded_at: r.get(1)?,
                    as_of: r.get(2)?,
                    config_hash: r.get(3)?,
                    customers: r.get::<_, i64>(4)? as u64,
                    out: r.get(5)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        Ok(runs)
    }

    /// A run by id.
    pub fn run(&self, id: i64) -> Result<RunInfo> {
        self.runs()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| self.unknown_run(id))
    }

    fn unknown_run(&self, id: i64) -> StoreError {
        let kept: Vec<String> = self
            .run_ids()
            .unwrap_or_default()
            .iter()
            .map(i64::to_string)
            .collect();
        StoreError::NotFound(if kept.is_empty() {
            format!("no run {id}: the store has no runs yet")
        } else {
            format!("no run {id}: the store keeps runs {}", kept.join(", "))
        })
    }

    /// The last run whose `as_of` is on or before `date` (`YYYY-MM-DD`); among runs with the
    /// same `as_of`, the last recorded.
    pub fn run_at(&self, date: &str) -> Result<RunInfo> {
        self.runs()?
            .into_iter()
            .filter(|r| r.as_of.as_deref().is_some_and(|a| a <= date))
            .max_by(|a, b| (&a.as_of, a.id).cmp(&(&b.as_of, b.id)))
            .ok_or_else(|| StoreError::NotFound(format!("no run has an as_of on or before {date}")))
    }

    /// Family → label → members of every kept run, oldest first.
    pub fn size_history(&self) -> Result<Vec<(RunInfo, Sizes)>> {
        let mut runs = self.runs()?;
        runs.reverse();
        runs.into_iter()
            .map(|r| {
                let s = self.sizes(r.id)?;
                Ok((r, s))
            })
            .collect()
    }

    fn sizes(&self, id: i64) -> Result<Sizes> {
        let mut st = self
            .db
            .prepare("SELECT family, label, members FROM sizes WHERE run_id = ?1")?;
        let mut out: Sizes = BTreeMap::new();
        let rows = st.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (f, l, n) = row?;
            out.entry(f).or_default().insert(l, n as u64);
        }
        Ok(out)
    }

    /// The definitions a run used.
    pub fn definitions(&self, id: i64) -> Result<Vec<Definition>> {
        let mut st = self.db.prepare(
            "SELECT kind, name, version, text FROM definitions WHERE run_id = ?1 ORDER BY kind, name",
        )?;
        let defs = st
            .query_map([id], |r| {
                Ok(Definition {
                    kind: r.get(0)?,
                    name: r.get(1)?,
                    version: r.get(2)?,
                    text: r.get(3)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        Ok(defs)
    }

    /// Reads two snapshots back, their files at the same time.
    pub fn load_pair(&self, a: i64, b: i64) -> Result<(Loaded, Loaded)> {
        let (ma, mb) = (self.catalog_part(a)?, self.catalog_part(b)?);
        let dir = self.dir.as_path();
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| files_part(dir, a));
            let fb = files_part(dir, b);
            (ta.join().expect("reading a snapshot panicked"), fb)
        });
        let ((run_a, batch_a), (run_b, batch_b)) = (ra?, rb?);
        Ok((ma.with(run_a, batch_a), mb.with(run_b, batch_b)))
    }

    /// Reads a snapshot back.
    pub fn load(&self, id: i64) -> Result<Loaded> {
        let part = self.catalog_part(id)?;
        let (run, assignments) = files_part(&self.dir, id)?;
        Ok(part.with(run, assignments))
    }

    fn catalog_part(&self, id: i64) -> Result<CatalogPart> {
        let info = self.run(id)?;
        let families: String =
            self.db
                .query_row("SELECT families FROM runs WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
        Ok(CatalogPart {
            definitions: self.definitions(id)?,
            sizes: self.sizes(id)?,
            families: serde_json::from_str(&families)?,
            info,
        })
    }

    /// The members of `segment` in a snapshot: a rule segment's name, or `FAMILY=LABEL` for one
    /// value of an exclusive family (`tier=gold`, `rfm_segment=Champions`, `cluster=2`).
    pub fn members(&self, snap: &Loaded, segment: &str) -> Result<Members> {
        let ids = customer_ids(&snap.assignments)?;
        let def = |kind: &str, name: &str| {
            snap.definitions
                .iter()
                .find(|d| d.kind == kind && d.name == name)
                .cloned()
        };
        let (keep, definitions): (Vec<bool>, Vec<Definition>) =
            if let Some((family, label)) = segment.split_once('=') {
                let (family, label) = (family.trim(), label.trim());
                if !snap.families.iter().any(|f| f == family) {
                    return Err(StoreError::NotFound(format!(
                        "run {} has no family `{family}`{}; it has {}",
                        snap.info.id,
                        tessera_core::config::did_you_mean(
                            family,
                            snap.families.iter().map(String::as_str)
                        ),
                        snap.families.join(", ")
                    )));
                }
                let known = snap.sizes.get(family).map(|m| m.contains_key(label));
                if known == Some(false) {
                    let names = snap.sizes[family].keys().map(String::as_str);
                    let hint = tessera_core::config::did_you_mean(label, names.clone());
                    return Err(StoreError::NotFound(format!(
                        "run {} has no `{family}` label `{label}`{}",
                        snap.info.id,
                        if hint.is_empty() {
                            format!("; its labels are {}", names.collect::<Vec<_>>().join(", "))
                        } else {
                            hint
                        }
                    )));
                }
                let values = labels(&snap.assignments, family)?;
                let keep = values
                    .iter()
                    .map(|v| v.as_deref().unwrap_or(NONE) == label)
                    .collect();
                let mut defs: Vec<Definition> = def("group", family).into_iter().collect();
                defs.extend(def("segment", label));
                if family.starts_with("rfm") {
                    defs.extend(def("rfm", "rfm"));
                } else if family == "cluster" {
                    defs.extend(def("clustering", "clustering"));
                }
                (keep, defs)
            } else {
                let Some(d) = def("segment", segment) else {
                    let names: Vec<&str> = snap
                        .definitions
                        .iter()
                        .filter(|d| d.kind == "segment")
                        .map(|d| d.name.as_str())
                        .collect();
                    let hint = tessera_core::config::did_you_mean(segment, names.iter().copied());
                    return Err(StoreError::NotFound(format!(
                        "run {} has no segment `{segment}`{}",
                        snap.info.id,
                        if !hint.is_empty() {
                            hint
                        } else if names.is_empty() {
                            String::new()
                        } else {
                            format!("; its segments are {}", names.join(", "))
                        }
                    )));
                };
                let keep = segment_lists(&snap.assignments)
                    .iter()
                    .map(|l| l.iter().any(|s| s == segment))
                    .collect();
                (keep, vec![d])
            };
        Ok(Members {
            run: snap.info.id,
            as_of: snap.info.as_of.clone(),
            segment: segment.to_string(),
            definitions,
            ids: ids
                .into_iter()
                .zip(keep)
                .filter_map(|(id, k)| k.then_some(id))
                .collect(),
        })
    }

    /// Forgets customers: adds their salted hashes to the suppression list, removes their rows
    /// from every snapshot, and logs the erasure without their ids. Safe to run again: an
    /// interrupted erasure is finished by the next `forget` or the next open of the store.
    pub fn forget(&mut self, ids: &[String]) -> Result<Forgotten> {
        self.forget_observed(ids, &mut |_| {})
    }

    /// [`forget`](Self::forget), with `on_step` hearing each snapshot rewritten.
    pub fn forget_observed(
        &mut self,
        ids: &[String],
        on_step: &mut dyn FnMut(Step),
    ) -> Result<Forgotten> {
        let _lock = self.lock()?;
        let salt = self.salt()?;
        let at = now();
        let added = {
            let tx = self.db.transaction()?;
            let mut added = 0;
            for id in ids {
                let h = Suppression::hash_with(&salt, id);
                added += tx.execute(
                    "INSERT OR IGNORE INTO suppressed (hash, added_at) VALUES (?1, ?2)",
                    params![h.to_vec(), at],
                )?;
            }
            tx.execute(
                "INSERT OR IGNORE INTO scrub_pending (run_id) SELECT id FROM runs",
                [],
            )?;
            tx.execute(
                "INSERT INTO audit (at, action, detail) VALUES (?1, 'forget', ?2)",
                params![
                    at,
                    serde_json::json!({"customers_requested": ids.len(), "newly_suppressed": added})
                        .to_string()
                ],
            )?;
            tx.commit()?;
            added
        };
        let (snapshots_rewritten, rows_removed) = self.scrub_pending(on_step)?;
        let stale_outputs = self.stale_outputs()?;
        Ok(Forgotten {
            added,
            snapshots_rewritten,
            rows_removed,
            stale_outputs,
        })
    }

    /// Rewrites each snapshot awaiting erasure without its suppressed rows. Returns the
    /// snapshots rewritten and the rows removed.
    fn scrub_pending(&self, on_step: &mut dyn FnMut(Step)) -> Result<(usize, u64)> {
        let pending: Vec<i64> = {
            let mut st = self
                .db
                .prepare("SELECT run_id FROM scrub_pending ORDER BY run_id")?;
            st.query_map([], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?
        };
        if pending.is_empty() {
            return Ok((0, 0));
        }
        let list = self.suppression()?;
        let (mut rewritten, mut removed) = (0usize, 0u64);
        for id in pending {
            let dir = self.dir.join("runs").join(run_dir_name(id));
            let path = dir.join(ASSIGNMENTS);
            let batch = read_parquet(&path)?;
            let keep: BooleanArray = customer_ids(&batch)?
                .iter()
                .map(|c| Some(!list.contains(c)))
                .collect();
            let gone = keep.false_count() as u64;
            let tx = self.db.unchecked_transaction()?;
            let recorded: i64 =
                tx.query_row("SELECT customers FROM runs WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
            // Recount too when the file was rewritten but the process died before the counts
            // were committed: the file then has fewer rows than the catalog says.
            if gone > 0 || recorded != batch.num_rows() as i64 {
                let kept = if gone > 0 {
                    let kept = arrow_select::filter::filter_record_batch(&batch, &keep)?;
                    let part = dir.join(format!("{ASSIGNMENTS}.part"));
                    write_parquet(&kept, &part)?;
                    std::fs::rename(&part, &path).map_err(|e| StoreError::io(&path, e))?;
                    sync_path(&dir)?;
                    on_step(Step::Rewritten);
                    kept
                } else {
                    batch
                };
                let families: String =
                    tx.query_row("SELECT families FROM runs WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })?;
                let families: Vec<String> = serde_json::from_str(&families)?;
                let sizes = family_sizes(&kept, &families, &self.definitions(id)?)?;
                tx.execute("DELETE FROM sizes WHERE run_id = ?1", [id])?;
                insert_sizes(&tx, id, &sizes)?;
                tx.execute(
                    "UPDATE runs SET customers = ?2 WHERE id = ?1",
                    params![id, kept.num_rows() as i64],
                )?;
                if gone > 0 {
                    rewritten += 1;
                    removed += gone;
                }
            }
            tx.execute("DELETE FROM scrub_pending WHERE run_id = ?1", [id])?;
            tx.commit()?;
        }
        self.db.execute(
            "INSERT INTO audit (at, action, detail) VALUES (?1, 'erase', ?2)",
            params![
                now(),
                serde_json::json!({"snapshots_rewritten": rewritten, "rows_removed": removed})
                    .to_string()
            ],
        )?;
        Ok((rewritten, removed))
    }

    /// Output folders any recorded run wrote (retention does not forget them) that still exist.
    fn stale_outputs(&self) -> Result<Vec<String>> {
        let mut st = self.db.prepare("SELECT path FROM outputs ORDER BY path")?;
        let outs = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(outs.into_iter().filter(|o| Path::new(o).exists()).collect())
    }

    /// The audit log, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditEntry>> {
        let mut st = self
            .db
            .prepare("SELECT at, action, detail FROM audit ORDER BY id")?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(at, action, detail)| {
                Ok(AuditEntry {
                    at,
                    action,
                    detail: serde_json::from_str(&detail)?,
                })
            })
            .collect()
    }
}

/// A snapshot's catalog rows, before its files are read.
struct CatalogPart {
    info: RunInfo,
    definitions: Vec<Definition>,
    sizes: Sizes,
    families: Vec<String>,
}

impl CatalogPart {
    fn with(self, run: serde_json::Value, assignments: RecordBatch) -> Loaded {
        Loaded {
            info: self.info,
            definitions: self.definitions,
            sizes: self.sizes,
            families: self.families,
            run,
            assignments,
        }
    }
}

/// A snapshot's summary and assignments.
fn files_part(store: &Path, id: i64) -> Result<(serde_json::Value, RecordBatch)> {
    let dir = store.join("runs").join(run_dir_name(id));
    let run_path = dir.join("run.json");
    let run_text = std::fs::read_to_string(&run_path).map_err(|e| StoreError::io(&run_path, e))?;
    Ok((
        serde_json::from_str(&run_text)?,
        read_parquet(&dir.join(ASSIGNMENTS))?,
    ))
}

fn insert_sizes(tx: &rusqlite::Transaction<'_>, id: i64, sizes: &Sizes) -> Result<()> {
    let mut st =
        tx.prepare("INSERT INTO sizes (run_id, family, label, members) VALUES (?1, ?2, ?3, ?4)")?;
    for (family, labels) in sizes {
        for (label, n) in labels {
            st.execute(params![id, family, label, *n as i64])?;
        }
    }
    Ok(())
}

fn remove_any(p: &Path) -> Result<()> {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    r.map_err(|e| StoreError::io(p, e))
}
