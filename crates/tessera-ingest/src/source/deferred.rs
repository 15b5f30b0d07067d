//! Duplicate and conflict checks settled once a source is read, for sources not looked up by id.
//!
//! While the rows are read, a filter ([`Seen`]) holds each valid row's id and its id paired with
//! a hash of its values. A row whose id is surely new is kept, as with the exact index. A row
//! whose id may have been seen, but not with these values, is kept for now too, and noted. A row
//! whose id and values may both have been seen is most likely an exact copy of a row before it:
//! it is held back, its values set aside in a small table of their own.
//!
//! Once the source is read, the ids of the noted and held rows are looked for in the staged
//! table (a read of its id column). A noted id that no other row has was a false answer of the
//! filter: that row stays. The rows of ids several rows share are settled in row order by the
//! rules the exact index applies as it goes, with the values' hashes (and amounts' signs) of the
//! staged rows taken from a log written beside the staged table: an exact copy of a live row is dropped as a
//! duplicate, a conflicting row is resolved by `on_conflict`, with the same messages. Staged rows
//! dropped or refused then are taken out of the staged table like rows withdrawn by a conflict;
//! a held row that turns out to be kept (the filter was wrong, or `on_conflict = "last"` brings
//! back values an id had before) goes into the table in its place when the table is finished.
//!
//! What this changes: memory (about 6 bytes per row instead of the index's 32 per id, plus about
//! 80 bytes per held row, and 9 bytes per staged row on disk for the log); the order of `rejects.csv` (conflicting rows are reported after the source's
//! other rejects, with the rows withdrawn by conflicts, instead of where they stand); and time
//! when a source has conflicting rows (or copies read one row at a time, from NDJSON, which are
//! staged rather than held), since its staged table is then rewritten.

use super::{SourceRun, Valid, messages};
use crate::error::IngestError;
use crate::index::{IdKey, KeyHasher, id_key};
use crate::seen::Seen;
use crate::sink::{Inserts, StagedTable};
use arrow_array::cast::AsArray;
use arrow_array::{RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use hashbrown::{HashMap, HashSet};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use rayon::prelude::*;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use tessera_core::config::ConflictPolicy;

/// How a source tells new ids from ids it has had.
pub enum Ids {
    /// An index of every id: each row is settled as it comes. The customers source keeps one
    /// (other sources look customers up in it), and so does every source read with `strict`,
    /// which stops at the first bad row in file order.
    Exact(crate::index::IdIndex),
    /// A filter, with the rows whose ids it may have seen settled once the source is read.
    Filtered(Seen),
}

type KeyMap<V> = HashMap<IdKey, V, BuildHasherDefault<KeyHasher>>;
type KeySet = HashSet<IdKey, BuildHasherDefault<KeyHasher>>;

/// A staged row whose id the filter may have seen.
struct Noted {
    key: IdKey,
    ordinal: u64,
    time: Option<i64>,
}

/// A row held back as a probable copy: row `n` of the held table for the `n`th of these.
struct Held {
    valid: Valid,
    /// The rows staged before it.
    after: u64,
    file: usize,
    line: u64,
}

/// What [`Deferred::note`] made of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Its id is surely new: it is staged.
    New,
    /// Its id may have been seen: it is staged, and settled once the source is read.
    Noted,
    /// Its id and values may both have been seen: it is not staged; its values go to
    /// [`Deferred::hold`].
    Held,
}

pub struct Deferred {
    pub seen: Seen,
    noted: Vec<Noted>,
    held: Vec<Held>,
    contents: ContentLog,
    /// The values of the held rows, made with the first of them.
    held_table: Option<StagedTable>,
    held_path: PathBuf,
    schema: SchemaRef,
}

/// A row in the order the settling goes through them: a staged row (with its id's key and its
/// values' hash) or a held one.
#[derive(Clone, Copy)]
enum Arrival {
    Staged {
        ordinal: u64,
        key: IdKey,
        content: u64,
    },
    Held(usize),
}

/// What the rows before one with the same id left.
#[derive(Clone, Copy)]
enum Prior {
    /// A kept row, at `ordinal`, with these values.
    Live { content: u64, ordinal: u64 },
    /// Rows withdrawn for conflicting, the first of them at this file and line.
    Conflicted { first: (usize, u64) },
}

impl Deferred {
    /// Settling for the source staged at `table` (the final path of its clean table), whose
    /// rows have `schema`.
    pub fn new(seen: Seen, table: &Path, schema: SchemaRef) -> Result<Self, IngestError> {
        let beside = |what: &str| {
            let name = table.file_name().unwrap_or_default().to_string_lossy();
            table.with_file_name(format!(".{name}.{what}"))
        };
        Ok(Self {
            seen,
            noted: Vec::new(),
            held: Vec::new(),
            contents: ContentLog::create(beside("contents"))?,
            held_table: None,
            held_path: beside("held"),
            schema,
        })
    }

    /// Records the id of a valid row: staged at `ordinal` (the rows staged so far), or, when
    /// `place` (its file and line) is given and the row is probably a copy, held back.
    pub fn note(
        &mut self,
        valid: &Valid,
        ordinal: u64,
        place: Option<(usize, u64)>,
    ) -> Result<Note, IngestError> {
        let (id_seen, pair_seen) = self.seen.insert_pair(valid.key, valid.content);
        if let Some((file, line)) = place.filter(|_| id_seen && pair_seen) {
            self.held.push(Held {
                valid: *valid,
                after: ordinal,
                file,
                line,
            });
            return Ok(Note::Held);
        }
        self.contents.push(valid.content, valid.sign)?;
        if !id_seen {
            return Ok(Note::New);
        }
        self.noted.push(Noted {
            key: valid.key,
            ordinal,
            time: valid.time,
        });
        Ok(Note::Noted)
    }

    /// Sets aside the values of the rows last held, in row order.
    pub fn hold(&mut self, rows: RecordBatch) -> Result<(), IngestError> {
        let table = match &mut self.held_table {
            Some(t) => t,
            None => self.held_table.insert(StagedTable::create(
                self.held_path.clone(),
                self.schema.clone(),
            )?),
        };
        table.write(rows)
    }

    /// Settles the noted and held rows, and every staged row sharing an id with them, in row
    /// order. Gives the held rows kept, to insert in the staged table when it is finished.
    pub fn settle(
        self,
        run: &mut SourceRun,
        table: &mut StagedTable,
    ) -> Result<Inserts, IngestError> {
        let Deferred {
            seen,
            noted,
            held,
            mut contents,
            mut held_table,
            ..
        } = self;
        drop(seen);
        if noted.is_empty() && held.is_empty() {
            return Ok(Inserts::default());
        }
        let keys: KeySet = noted
            .iter()
            .map(|n| n.key)
            .chain(held.iter().map(|h| h.valid.key))
            .collect();
        let times: HashMap<u64, i64> = noted
            .iter()
            .filter_map(|n| n.time.map(|t| (n.ordinal, t)))
            .collect();
        drop(noted);
        let found = staged_ids(table.staged_file()?, run.checker.id, &keys)?;
        let mut count: KeyMap<u32> = KeyMap::default();
        for key in found
            .iter()
            .map(|f| f.1)
            .chain(held.iter().map(|h| h.valid.key))
        {
            *count.entry(key).or_default() += 1;
        }
        // A noted row whose id no other row has: the filter was wrong, the row is new.
        let (shared, alone): (Vec<_>, Vec<_>) = found.into_iter().partition(|f| count[&f.1] > 1);
        for (ordinal, ..) in alone {
            if let Some(&t) = times.get(&ordinal) {
                run.note_time(t);
            }
        }
        let ordinals: Vec<u64> = shared.iter().map(|f| f.0).collect();
        let staged_contents = contents.read(&ordinals)?;
        drop(contents);
        let mut ids: KeyMap<String> = KeyMap::default();
        let mut staged = Vec::with_capacity(shared.len());
        for ((ordinal, key, id), (content, sign)) in shared.into_iter().zip(staged_contents) {
            if let Some(sign) = sign {
                run.settled_signs.insert(ordinal, sign);
            }
            staged.push((ordinal, key, content));
            ids.entry(key).or_insert(id);
        }
        let no_held_table =
            || IngestError::Internal("rows held without a table of their values".into());
        // Held rows with ids no staged row has: their ids come from the held table.
        let held_path = match held_table.as_mut() {
            Some(t) => Some(t.staged_file()?.to_path_buf()),
            None => None,
        };
        if held.iter().any(|h| !ids.contains_key(&h.valid.key)) {
            let path = held_path.as_deref().ok_or_else(no_held_table)?;
            for (h, id) in held.iter().zip(held_ids(path, run.checker.id)?) {
                ids.entry(h.valid.key).or_insert(id);
            }
        }
        let mut settling = Settling {
            policy: run.config.on_conflict,
            id_name: run.config.fields[run.checker.id].name.clone(),
            prior: KeyMap::default(),
            ids,
            times,
            held: &held,
            kept_held: Vec::new(),
        };
        // In row order: a held row comes before the staged row whose ordinal it would have had.
        let mut next_held = held.iter().enumerate().peekable();
        for (ordinal, key, content) in staged {
            while let Some((i, _)) = next_held.next_if(|(_, h)| h.after <= ordinal) {
                settling.arrive(run, Arrival::Held(i));
            }
            let row = Arrival::Staged {
                ordinal,
                key,
                content,
            };
            settling.arrive(run, row);
        }
        for (i, _) in next_held {
            settling.arrive(run, Arrival::Held(i));
        }
        // Held rows kept, less those withdrawn by a later row.
        let kept = settling.kept_held;
        run.drops.sort_unstable();
        let kept: Vec<(usize, u64)> = kept
            .into_iter()
            .filter(|&(_, ordinal)| run.drops.binary_search(&ordinal).is_err())
            .collect();
        if kept.is_empty() {
            return Ok(Inserts::default());
        }
        let path = held_path.ok_or_else(no_held_table)?;
        let rows = held_rows(&path, &kept.iter().map(|k| k.0).collect::<Vec<_>>())?;
        run.inserted = kept.iter().map(|&(i, o)| (held[i].after, o)).collect();
        Ok(Inserts {
            at: kept.iter().map(|&(i, _)| held[i].after).collect(),
            rows: Some(rows),
        })
    }
}

/// The state of the settling: what each id's rows left so far.
struct Settling<'h> {
    policy: ConflictPolicy,
    id_name: String,
    prior: KeyMap<Prior>,
    ids: KeyMap<String>,
    /// Times of the noted staged rows, by ordinal.
    times: HashMap<u64, i64>,
    held: &'h [Held],
    /// The held rows kept (their index, and the ordinal each took).
    kept_held: Vec<(usize, u64)>,
}

impl Settling<'_> {
    /// Settles one row, staged or held, as the exact index would have when it came.
    fn arrive(&mut self, run: &mut SourceRun, row: Arrival) {
        let (key, content, staged, here) = match row {
            Arrival::Staged {
                ordinal,
                key,
                content,
            } => (key, content, Some(ordinal), run.places.find(ordinal)),
            Arrival::Held(i) => {
                let h = &self.held[i];
                (h.valid.key, h.valid.content, None, (h.file, h.line))
            }
        };
        let id = |s: &Self| s.ids.get(&key).cloned().unwrap_or_default();
        match self.prior.get(&key).copied() {
            None => self.keep(run, row, key, content),
            Some(Prior::Live { content: live, .. }) if live == content => {
                if let Some(ordinal) = staged {
                    run.drops.push(ordinal);
                    run.report.accepted -= 1;
                }
                run.report.duplicates += 1;
            }
            Some(Prior::Live { ordinal: old, .. }) => {
                let (policy, id) = (self.policy, id(self));
                let there = run.places.find(old);
                if policy != ConflictPolicy::First {
                    let message =
                        messages::withdrawn(policy, &self.id_name, &id, &run.place_text(here));
                    run.withdraw(old, there, message);
                }
                if policy == ConflictPolicy::Last {
                    self.keep(run, row, key, content);
                } else {
                    let message =
                        messages::refused(policy, &self.id_name, &id, &run.place_text(there));
                    refuse(run, staged, here, message);
                    if policy == ConflictPolicy::Reject {
                        self.prior.insert(key, Prior::Conflicted { first: there });
                    }
                }
            }
            Some(Prior::Conflicted { first }) => {
                let message =
                    messages::already_rejected(&self.id_name, &id(self), &run.place_text(first));
                refuse(run, staged, here, message);
            }
        }
    }

    /// Keeps a row: a staged one stays (its time counts, as it did with the exact index when it
    /// came), a held one is accepted now, at the next ordinal, to be inserted in its place.
    fn keep(&mut self, run: &mut SourceRun, row: Arrival, key: IdKey, content: u64) {
        let ordinal = match row {
            Arrival::Staged { ordinal, .. } => {
                if let Some(&t) = self.times.get(&ordinal) {
                    run.note_time(t);
                }
                ordinal
            }
            Arrival::Held(i) => {
                let h = &self.held[i];
                let ordinal = run.accept_late(&h.valid, h.file, h.line);
                if let Some(sign) = h.valid.sign {
                    run.settled_signs.insert(ordinal, sign);
                }
                self.kept_held.push((i, ordinal));
                ordinal
            }
        };
        self.prior.insert(key, Prior::Live { content, ordinal });
    }
}

/// Refuses a row, taking it back from the staged table if it was staged.
fn refuse(run: &mut SourceRun, staged: Option<u64>, here: (usize, u64), message: String) {
    match staged {
        Some(ordinal) => run.withdraw(ordinal, here, message),
        None => run.refuse(here, message),
    }
}

/// The content hash and the amount's sign of every staged row, by ordinal, in a file beside the
/// staged table: 9 bytes a row written as rows are staged, read only for the rows settled once
/// the source is read.
struct ContentLog {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

/// Rows read at a time from the log.
const LOG_CHUNK: usize = 64 * 1024;

/// Bytes of a row in the log: the hash, then the sign ([`NO_SIGN`] for none).
const LOG_ROW: usize = 9;

const NO_SIGN: i8 = i8::MIN;

impl ContentLog {
    fn create(path: PathBuf) -> Result<Self, IngestError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| IngestError::io(&path, e))?;
        Ok(Self {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            path,
        })
    }

    #[inline]
    fn push(&mut self, content: u64, sign: Option<i8>) -> Result<(), IngestError> {
        let out = self.out.as_mut().expect("log open until read");
        let mut row = [0u8; LOG_ROW];
        row[..8].copy_from_slice(&content.to_le_bytes());
        row[8] = sign.unwrap_or(NO_SIGN) as u8;
        out.write_all(&row)
            .map_err(|e| IngestError::io(&self.path, e))
    }

    /// The hashes and signs at `ordinals` (sorted).
    fn read(&mut self, ordinals: &[u64]) -> Result<Vec<(u64, Option<i8>)>, IngestError> {
        let io = |e| IngestError::io(&self.path, e);
        let mut file = self
            .out
            .take()
            .expect("log read once")
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        let mut chunk = vec![0u8; LOG_CHUNK * LOG_ROW];
        let (mut start, mut len) = (u64::MAX, 0usize);
        let mut out = Vec::with_capacity(ordinals.len());
        for &o in ordinals {
            let first = o - o % LOG_CHUNK as u64;
            if first != start {
                file.seek(SeekFrom::Start(first * LOG_ROW as u64))
                    .map_err(io)?;
                len = 0;
                while len < chunk.len() {
                    match file.read(&mut chunk[len..]).map_err(io)? {
                        0 => break,
                        n => len += n,
                    }
                }
                start = first;
            }
            let at = (o - start) as usize * LOG_ROW;
            let row = chunk
                .get(at..at + LOG_ROW)
                .filter(|_| at + LOG_ROW <= len)
                .ok_or_else(|| {
                    IngestError::Internal(format!("no values' hash logged for staged row {o}"))
                })?;
            let content = u64::from_le_bytes(row[..8].try_into().expect("8 bytes"));
            let sign = (row[8] as i8 != NO_SIGN).then_some(row[8] as i8);
            out.push((content, sign));
        }
        Ok(out)
    }
}

impl Drop for ContentLog {
    fn drop(&mut self) {
        self.out.take();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_err(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> IngestError + '_ {
    move |e| IngestError::Output {
        path: path.to_path_buf(),
        message: format!("reading the staged rows back: {e}"),
    }
}

/// The staged rows whose ids are among `keys`: (ordinal, key, id) in row order. The id column
/// is read one row group per task.
fn staged_ids(
    path: &Path,
    id: usize,
    keys: &KeySet,
) -> Result<Vec<(u64, IdKey, String)>, IngestError> {
    let err = read_err(path);
    let open = || File::open(path).map_err(|e| IngestError::io(path, e));
    let meta =
        ArrowReaderMetadata::load(&open()?, ArrowReaderOptions::new()).map_err(|e| err(&e))?;
    let groups = meta.metadata().row_groups();
    let mut first = Vec::with_capacity(groups.len() + 1);
    first.push(0u64);
    for g in groups {
        first.push(first[first.len() - 1] + g.num_rows() as u64);
    }
    let ids_only = ProjectionMask::roots(meta.parquet_schema(), [id]);
    let found: Vec<Vec<(u64, IdKey, String)>> = (0..groups.len())
        .into_par_iter()
        .map(|g| {
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(open()?, meta.clone())
                .with_row_groups(vec![g])
                .with_projection(ids_only.clone())
                .with_batch_size(65_536)
                .build()
                .map_err(|e| err(&e))?;
            let mut ordinal = first[g];
            let mut rows = Vec::new();
            for batch in reader {
                let batch = batch.map_err(|e| err(&e))?;
                for (i, v) in text_column(&batch)?.iter().enumerate() {
                    let Some(v) = v else { continue };
                    let key = id_key(v);
                    if keys.contains(&key) {
                        rows.push((ordinal + i as u64, key, v.to_string()));
                    }
                }
                ordinal += batch.num_rows() as u64;
            }
            Ok(rows)
        })
        .collect::<Result<_, IngestError>>()?;
    Ok(found.into_iter().flatten().collect())
}

fn text_column(batch: &RecordBatch) -> Result<&StringArray, IngestError> {
    batch
        .column(0)
        .as_string_opt::<i32>()
        .ok_or_else(|| IngestError::Internal("a staged id column is not text".into()))
}

/// The ids of the held rows, in order.
fn held_ids(path: &Path, id: usize) -> Result<Vec<String>, IngestError> {
    let err = read_err(path);
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let ids_only = ProjectionMask::roots(builder.parquet_schema(), [id]);
    let reader = builder
        .with_projection(ids_only)
        .build()
        .map_err(|e| err(&e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        out.extend(
            text_column(&batch)?
                .iter()
                .map(|v| v.unwrap_or_default().to_string()),
        );
    }
    Ok(out)
}

/// The held rows at `rows` (sorted), whole.
fn held_rows(path: &Path, rows: &[usize]) -> Result<RecordBatch, IngestError> {
    let err = read_err(path);
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let total = builder.metadata().file_metadata().num_rows() as usize;
    let schema = builder.schema().clone();
    let selection = RowSelection::from_consecutive_ranges(rows.iter().map(|&r| r..r + 1), total);
    let batches = builder
        .with_row_selection(selection)
        .build()
        .map_err(|e| err(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(&e))?;
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| err(&e))
}
