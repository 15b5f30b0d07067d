//! Duplicate and conflict checks settled once a source is read, for sources not looked up by id.
//!
//! While the rows are read, a filter ([`Seen`]) tells each valid row's id "surely new" or "maybe
//! seen". A surely new row is kept, as with the exact index. A maybe seen row is kept for now
//! too, and noted. Once the source is read, the ids of the noted rows are looked for in the staged
//! table (a read of its id column). A noted id only one staged row has was a false answer of the
//! filter: that row stays. The rows of ids several rows share are read whole and settled in row
//! order by the rules the exact index applies as it goes: an exact copy of a live row is dropped
//! as a duplicate, a conflicting row is resolved by `on_conflict`, with the same messages. Rows
//! dropped or refused then are taken out of the staged table like rows withdrawn by a conflict.
//!
//! What this changes: memory (about 2 bytes per id instead of the index's 32); the order of
//! `rejects.csv` (conflicting rows are reported after the source's other rejects, with the rows
//! withdrawn by conflicts, instead of where they stand); and time when a source has exact copies,
//! since its staged table is then rewritten without them.

use super::columnar::Stored;
use super::{SourceRun, Valid, content, messages};
use crate::error::IngestError;
use crate::index::{IdIndex, IdKey, KeyHasher, id_key};
use crate::seen::Seen;
use crate::sink::StagedTable;
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use hashbrown::{HashMap, HashSet};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use rayon::prelude::*;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::path::Path;
use tessera_core::config::ConflictPolicy;

/// How a source tells new ids from ids it has had.
pub enum Ids {
    /// An index of every id: each row is settled as it comes. The customers source keeps one
    /// (other sources look customers up in it), and so does every source read with `strict`,
    /// which stops at the first bad row in file order.
    Exact(IdIndex),
    /// A filter, with the rows whose ids it may have seen settled once the source is read.
    Filtered(Seen),
}

type KeyMap<V> = HashMap<IdKey, V, BuildHasherDefault<KeyHasher>>;

/// A row kept while reading whose id the filter may have seen.
struct Noted {
    key: IdKey,
    ordinal: u64,
    time: Option<i64>,
}

pub struct Deferred {
    pub seen: Seen,
    noted: Vec<Noted>,
}

/// A staged row with one of the noted ids.
struct Occurrence {
    ordinal: u64,
    key: IdKey,
    content: u64,
    id: String,
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
    pub fn new(seen: Seen) -> Self {
        Self {
            seen,
            noted: Vec::new(),
        }
    }

    /// Records the id of a valid row about to be staged at `ordinal`: `true` when it is surely
    /// new, otherwise the row is noted for settling.
    pub fn note(&mut self, valid: &Valid, ordinal: u64) -> bool {
        if !self.seen.insert(valid.key) {
            return true;
        }
        self.noted.push(Noted {
            key: valid.key,
            ordinal,
            time: valid.time,
        });
        false
    }

    /// Settles the noted rows, and every staged row sharing an id with them, in row order.
    pub fn settle(self, run: &mut SourceRun, table: &mut StagedTable) -> Result<(), IngestError> {
        if self.noted.is_empty() {
            return Ok(());
        }
        let keys: HashSet<IdKey, BuildHasherDefault<KeyHasher>> =
            self.noted.iter().map(|n| n.key).collect();
        let times: HashMap<u64, i64> = self
            .noted
            .iter()
            .filter_map(|n| n.time.map(|t| (n.ordinal, t)))
            .collect();
        drop(self);
        let fields = run.config.fields.len();
        let (alone, occurrences) =
            occurrences(table.staged_file()?, run.checker.id, fields, &keys)?;
        // A noted row whose id no other staged row has: the filter was wrong, the row is new.
        for ordinal in alone {
            if let Some(&t) = times.get(&ordinal) {
                run.note_time(t);
            }
        }
        let policy = run.config.on_conflict;
        let id_name = run.config.fields[run.checker.id].name.clone();
        let place = |run: &SourceRun, ordinal: u64| {
            let (file, line) = run.places.find(ordinal);
            ((file, line), format!("{}:{}", run.file_names[file], line))
        };
        let mut prior: KeyMap<Prior> = KeyMap::default();
        for o in occurrences {
            let (here, here_text) = place(run, o.ordinal);
            let kept = match prior.get(&o.key).copied() {
                None => {
                    let live = Prior::Live {
                        content: o.content,
                        ordinal: o.ordinal,
                    };
                    prior.insert(o.key, live);
                    true
                }
                Some(Prior::Live { content, .. }) if content == o.content => {
                    run.drops.push(o.ordinal);
                    run.report.accepted -= 1;
                    run.report.duplicates += 1;
                    false
                }
                Some(Prior::Live { ordinal: old, .. }) => {
                    let (there, there_text) = place(run, old);
                    let (kept, now) = match policy {
                        ConflictPolicy::First => (false, None),
                        ConflictPolicy::Last => (
                            true,
                            Some(Prior::Live {
                                content: o.content,
                                ordinal: o.ordinal,
                            }),
                        ),
                        ConflictPolicy::Reject => (false, Some(Prior::Conflicted { first: there })),
                    };
                    if policy != ConflictPolicy::First {
                        let message = messages::withdrawn(policy, &id_name, &o.id, &here_text);
                        run.withdraw(old, there, message);
                    }
                    if !kept {
                        let message = messages::refused(policy, &id_name, &o.id, &there_text);
                        run.withdraw(o.ordinal, here, message);
                    }
                    if let Some(now) = now {
                        prior.insert(o.key, now);
                    }
                    kept
                }
                Some(Prior::Conflicted { first }) => {
                    let first = format!("{}:{}", run.file_names[first.0], first.1);
                    let message = messages::already_rejected(&id_name, &o.id, &first);
                    run.withdraw(o.ordinal, here, message);
                    false
                }
            };
            // A noted row's time counts if the row was kept when it came, as it would have
            // with the exact index (a row withdrawn later still counts there too).
            if let Some(&t) = times.get(&o.ordinal).filter(|_| kept) {
                run.note_time(t);
            }
        }
        Ok(())
    }
}

/// The staged rows whose ids are among `keys`: those of ids that only one staged row has (by
/// position), and the others, in row order, with their ids and content hashes.
///
/// The ids are read first, one row group per task; only the rows sharing an id are then read
/// whole (none, when every noted id was a false "maybe seen" of the filter).
fn occurrences(
    path: &Path,
    id: usize,
    fields: usize,
    keys: &HashSet<IdKey, BuildHasherDefault<KeyHasher>>,
) -> Result<(Vec<u64>, Vec<Occurrence>), IngestError> {
    let err = |e: &dyn std::fmt::Display| IngestError::Output {
        path: path.to_path_buf(),
        message: format!("reading the staged rows back: {e}"),
    };
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
    let found: Vec<Vec<(u64, IdKey)>> = (0..groups.len())
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
                let ids = batch.column(0).as_string_opt::<i32>().ok_or_else(|| {
                    IngestError::Internal("a staged id column is not text".into())
                })?;
                for (i, v) in ids.iter().enumerate() {
                    let key = v.map(id_key).filter(|k| keys.contains(k));
                    if let Some(key) = key {
                        rows.push((ordinal + i as u64, key));
                    }
                }
                ordinal += batch.num_rows() as u64;
            }
            Ok(rows)
        })
        .collect::<Result<_, IngestError>>()?;
    let found: Vec<(u64, IdKey)> = found.into_iter().flatten().collect();
    let mut count: KeyMap<u32> = KeyMap::default();
    for (_, key) in &found {
        *count.entry(*key).or_default() += 1;
    }
    let (shared, alone): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, k)| count[k] > 1);
    let alone = alone.into_iter().map(|(o, _)| o).collect();
    if shared.is_empty() {
        return Ok((alone, Vec::new()));
    }
    let ordinals: Vec<u64> = shared.into_iter().map(|(o, _)| o).collect();
    let total = first[first.len() - 1] as usize;
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for &o in &ordinals {
        let o = o as usize;
        match ranges.last_mut() {
            Some(r) if r.end == o => r.end += 1,
            _ => ranges.push(o..o + 1),
        }
    }
    let selection = RowSelection::from_consecutive_ranges(ranges.into_iter(), total);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(open()?, meta)
        .with_row_selection(selection)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| err(&e))?;
    let mut out = Vec::with_capacity(ordinals.len());
    let mut next = ordinals.into_iter();
    let mut bytes = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| err(&e))?;
        // The content hash of each row, from its stored values, as the checks made it.
        let mut hashes = vec![content::START; batch.num_rows()];
        for column in &batch.columns()[..fields] {
            Stored::new(column).fold_into(&mut hashes, &mut bytes);
        }
        let ids = batch.column(id).as_string::<i32>();
        for (i, content) in hashes.into_iter().enumerate() {
            let ordinal = next
                .next()
                .ok_or_else(|| IngestError::Internal("more staged rows read than found".into()))?;
            let text = ids.value(i).to_string();
            out.push(Occurrence {
                ordinal,
                key: id_key(&text),
                content,
                id: text,
            });
        }
    }
    Ok((alone, out))
}
