//! Reading the clean tables of a run into the facts the feature kernels take.

use crate::events::{EventFact, event_counts};
use crate::feedback::{FeedbackFact, FeedbackFeatures, Kind, feedback_features};
use crate::orders::NONE;
use crate::table::{FeatureError, FeatureParams};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use hashbrown::HashMap;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::ParquetMetaData;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use tessera_core::value::{LocalDays, LocalTime};

fn read_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> FeatureError + '_ {
    move |e| FeatureError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The footer of a Parquet file: its rows, row groups and their statistics.
pub(crate) fn footer(path: &Path) -> Result<Arc<ParquetMetaData>, FeatureError> {
    let err = read_error(path);
    let file = File::open(path).map_err(|e| err(&e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| err(&e))?;
    Ok(meta.metadata().clone())
}

/// Those of `columns` that hold no value in a Parquet file: every row group's statistics count
/// as many nulls as rows. Such a column need not be read (a column without statistics is read).
pub(crate) fn empty_columns<'c>(meta: &ParquetMetaData, columns: &[&'c str]) -> Vec<&'c str> {
    let leaves = meta.file_metadata().schema_descr().columns();
    columns
        .iter()
        .copied()
        .filter(|name| {
            let Some(k) = leaves.iter().position(|c| c.path().string() == *name) else {
                return false;
            };
            meta.row_groups().iter().all(|g| {
                g.column(k)
                    .statistics()
                    .and_then(|s| s.null_count_opt())
                    .is_some_and(|nulls| nulls == g.num_rows() as u64)
            })
        })
        .collect()
}

/// The named columns of a Parquet file, batch by batch, so that a large table is never held whole.
pub(crate) fn read_batches(
    path: &Path,
    columns: &[&str],
) -> Result<impl Iterator<Item = Result<RecordBatch, FeatureError>> + use<>, FeatureError> {
    read_batches_with(path, columns, &[])
}

/// As [`read_batches`], with the string columns named in `dictionary` read as dictionaries
/// (`Dictionary(Int32, Utf8)`): a column chunk stored dictionary-encoded then comes without a
/// string per row, and a value is looked up once per chunk instead of once per row.
pub(crate) fn read_batches_with(
    path: &Path,
    columns: &[&str],
    dictionary: &[&str],
) -> Result<impl Iterator<Item = Result<RecordBatch, FeatureError>> + use<>, FeatureError> {
    let err = read_error(path);
    let file = File::open(path).map_err(|e| err(&e))?;
    let mut meta =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| err(&e))?;
    if !dictionary.is_empty() {
        let fields: Vec<Field> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| {
                if dictionary.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                    f.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    ))
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
        meta =
            ArrowReaderMetadata::try_new(meta.metadata().clone(), options).map_err(|e| err(&e))?;
    }
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
    let schema = builder.schema().clone();
    let indices = columns
        .iter()
        .map(|c| {
            schema
                .index_of(c)
                .map_err(|_| err(&format!("no column `{c}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| err(&e))?;
    let path = path.to_path_buf();
    Ok(reader.map(move |b| b.map_err(|e| read_error(&path)(&e))))
}

/// `batches`, decoded on a thread of their own a couple of batches ahead of the caller.
pub(crate) fn read_ahead<T: Send + 'static>(
    batches: impl Iterator<Item = T> + Send + 'static,
) -> impl Iterator<Item = T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    std::thread::spawn(move || {
        for b in batches {
            // The caller stopped reading: so does this thread.
            if tx.send(b).is_err() {
                break;
            }
        }
    });
    rx.into_iter()
}

/// Maps the values of a dictionary column to numbers once per dictionary: a Parquet reader hands
/// out the same dictionary for every batch of a column chunk.
pub(crate) struct DictionaryMap<T> {
    values: Option<arrow_array::ArrayRef>,
    mapped: Vec<T>,
}

impl<T: Copy> DictionaryMap<T> {
    pub(crate) fn new() -> Self {
        Self {
            values: None,
            mapped: Vec::new(),
        }
    }

    /// The keys of `column` when it is a `Dictionary(Int32, Utf8)` column (`None` otherwise),
    /// after numbering its values with `map` if this dictionary is new; [`Self::get`] then gives
    /// a key's number.
    pub(crate) fn prepare<'a>(
        &mut self,
        column: &'a arrow_array::ArrayRef,
        mut map: impl FnMut(&str) -> T,
    ) -> Option<&'a arrow_array::Int32Array> {
        let dict = column.as_dictionary_opt::<arrow_array::types::Int32Type>()?;
        let fresh = self
            .values
            .as_ref()
            .is_none_or(|v| !Arc::ptr_eq(v, dict.values()));
        if fresh {
            let values = dict.values().as_string::<i32>();
            self.mapped = (0..values.len()).map(|k| map(values.value(k))).collect();
            self.values = Some(dict.values().clone());
        }
        Some(dict.keys())
    }

    pub(crate) fn get(&self, key: i32) -> T {
        self.mapped[key as usize]
    }
}

/// Distinct strings of a column, numbered in order of appearance: at most [`MAX_NAMES`] of them,
/// the numbers being 16 bits wide to keep each order small.
#[derive(Default)]
pub(crate) struct Names {
    index: HashMap<String, u16>,
    /// The first value past the last number, if one came.
    past: Option<String>,
}

/// The most distinct values [`Names`] numbers.
pub(crate) const MAX_NAMES: usize = NONE as usize;

impl Names {
    pub(crate) fn index(&mut self, col: &StringArray, i: usize) -> u16 {
        if col.is_null(i) {
            return NONE;
        }
        self.number(col.value(i))
    }

    /// The number of value `v`, numbering it if it is new.
    pub(crate) fn number(&mut self, v: &str) -> u16 {
        if let Some(&k) = self.index.get(v) {
            return k;
        }
        if self.index.len() == MAX_NAMES {
            self.past.get_or_insert_with(|| v.to_string());
            return NONE;
        }
        let k = self.index.len() as u16;
        self.index.insert(v.to_string(), k);
        k
    }

    /// Refuses a column of more distinct values than [`MAX_NAMES`]: they cannot be told apart.
    pub(crate) fn all_numbered(&self, path: &Path, column: &str) -> Result<(), FeatureError> {
        match &self.past {
            None => Ok(()),
            Some(value) => Err(FeatureError::TooManyNames {
                path: path.to_path_buf(),
                column: column.to_string(),
                field: column.to_string(),
                value: value.clone(),
            }),
        }
    }

    /// The names sorted, and for each appearance number its sorted position.
    pub(crate) fn sorted(self) -> (Vec<String>, Vec<u16>) {
        let mut names: Vec<(String, u16)> = self.index.into_iter().collect();
        names.sort();
        let mut map = vec![NONE; names.len()];
        for (sorted, (_, k)) in names.iter().enumerate() {
            map[usize::from(*k)] = sorted as u16;
        }
        (names.into_iter().map(|(n, _)| n).collect(), map)
    }
}

pub(crate) fn remap(map: &[u16], k: u16) -> u16 {
    map.get(usize::from(k)).copied().unwrap_or(NONE)
}

/// Each customer's feedback features; none at all (an empty vector) when the run has no
/// feedback.
pub(crate) fn read_feedback(
    clean_dir: &Path,
    position: &HashMap<&str, u32>,
    n: usize,
    p: &FeatureParams,
) -> Result<Vec<FeedbackFeatures>, FeatureError> {
    let path = clean_dir.join("feedback.parquet");
    let mut facts = Vec::new();
    if !path.exists() {
        // No feedback: every customer's features are the defaults, made where they are used.
        return Ok(Vec::new());
    }
    for b in read_batches(&path, &["customer_id", "given_at", "kind", "score"])? {
        let b = b?;
        let (c, t) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_primitive::<TimestampMicrosecondType>(),
        );
        let (k, s) = (
            b.column(2).as_string::<i32>(),
            b.column(3).as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            if let (Some(&customer), false, false) =
                (position.get(c.value(i)), t.is_null(i), s.is_null(i))
            {
                let kind = if k.is_null(i) {
                    Kind::Other
                } else {
                    Kind::from_name(k.value(i))
                };
                facts.push(FeedbackFact {
                    customer,
                    at: t.value(i),
                    kind,
                    score: s.value(i),
                });
            }
        }
    }
    let mut clock = LocalTime::new(p.time_zone);
    let as_of_micros = clock
        .to_utc_micros(i64::from(p.as_of) * 86_400, 0)
        .unwrap_or(i64::from(p.as_of) * 86_400_000_000);
    Ok(feedback_features(n, &mut facts, as_of_micros))
}

/// At most this many event names get `events_<name>_<w>d` columns: the most frequent ones.
pub const MAX_EVENT_NAMES: usize = 16;

/// Event counts per customer for the configured event names, or else the most frequent ones
/// before `as_of` (in name order), as [`event_counts`] lays them out.
pub(crate) fn read_events(
    clean_dir: &Path,
    position: &HashMap<&str, u32>,
    n: usize,
    p: &FeatureParams,
    days: &mut LocalDays,
) -> Result<(Vec<String>, Vec<u32>), FeatureError> {
    let path = clean_dir.join("events.parquet");
    let (mut facts, mut names) = (Vec::new(), Names::default());
    if path.exists() {
        for b in read_batches(&path, &["customer_id", "occurred_at", "name"])? {
            let b = b?;
            let (c, t, nm) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_primitive::<TimestampMicrosecondType>(),
                b.column(2).as_string::<i32>(),
            );
            for i in 0..b.num_rows() {
                if let (Some(&customer), false) = (position.get(c.value(i)), t.is_null(i)) {
                    facts.push(EventFact {
                        customer,
                        day: days.day(t.value(i)),
                        name: names.index(nm, i),
                    });
                }
            }
        }
    }
    names.all_numbered(&path, "name")?;
    let (all, map) = names.sorted();
    // How often each name occurs before `as_of`: later events do not choose the columns of a
    // table that describes the customers as of then.
    let mut freq = vec![0u64; all.len()];
    for f in &mut facts {
        f.name = remap(&map, f.name);
        if let Some(c) = freq.get_mut(usize::from(f.name))
            && f.day < p.as_of
        {
            *c += 1;
        }
    }
    let (renumber, names): (Vec<u16>, Vec<String>) = match &p.event_names {
        // The configured names, in their order, counted whether seen or not.
        Some(wanted) => (
            all.iter()
                .map(|a| {
                    wanted
                        .iter()
                        .position(|w| w == a)
                        .map_or(NONE, |k| k as u16)
                })
                .collect(),
            wanted.clone(),
        ),
        // The most frequent names before `as_of`, renumbered in name order.
        None => {
            let mut order: Vec<usize> = (0..all.len()).filter(|&k| freq[k] > 0).collect();
            order.sort_by(|a, b| freq[*b].cmp(&freq[*a]).then(a.cmp(b)));
            let mut kept: Vec<usize> = order.into_iter().take(MAX_EVENT_NAMES).collect();
            kept.sort_unstable();
            let mut renumber = vec![NONE; all.len()];
            for (new, old) in kept.iter().enumerate() {
                renumber[*old] = new as u16;
            }
            (renumber, kept.iter().map(|k| all[*k].clone()).collect())
        }
    };
    for f in &mut facts {
        f.name = remap(&renumber, f.name);
    }
    let counts = event_counts(n, names.len(), &facts, p.as_of, &p.windows);
    Ok((names, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_last_number_are_refused_not_merged() {
        let mut names = Names::default();
        for k in 0..MAX_NAMES {
            assert_eq!(usize::from(names.number(&format!("n{k}"))), k);
        }
        assert_eq!(names.number("n0"), 0);
        names
            .all_numbered(Path::new("orders.parquet"), "category")
            .unwrap();
        assert_eq!(names.number("one_more"), NONE);
        assert_eq!(names.number("and_another"), NONE);
        let err = names.all_numbered(Path::new("orders.parquet"), "category");
        assert_eq!(
            err.unwrap_err().to_string(),
            "orders.parquet: more than 65535 distinct values of `category` (`one_more` is one too \
             many); the feature table tells each apart: map a coarser column to `category`"
        );
    }
}
