//! Reading the clean tables of a run into the facts the feature kernels take.

use crate::events::{EventFact, event_counts};
use crate::feedback::{FeedbackFact, FeedbackFeatures, Kind, feedback_features};
use crate::orders::NONE;
use crate::table::{FeatureError, FeatureParams};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch, StringArray};
use hashbrown::HashMap;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;
use tessera_core::value::{LocalDays, LocalTime};

pub(crate) fn read_batches(
    path: &Path,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, FeatureError> {
    let err = |e: &dyn std::fmt::Display| FeatureError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|e| err(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
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
    reader.map(|b| b.map_err(|e| err(&e))).collect()
}

/// Distinct strings of a column, numbered in order of appearance.
#[derive(Default)]
pub(crate) struct Names {
    index: HashMap<String, u16>,
}

impl Names {
    pub(crate) fn index(&mut self, col: &StringArray, i: usize) -> u16 {
        if col.is_null(i) {
            return NONE;
        }
        let v = col.value(i);
        if let Some(&k) = self.index.get(v) {
            return k;
        }
        let k = self.index.len().min(usize::from(NONE) - 1) as u16;
        self.index.insert(v.to_string(), k);
        k
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

pub(crate) fn read_feedback(
    clean_dir: &Path,
    position: &HashMap<&str, u32>,
    n: usize,
    p: &FeatureParams,
) -> Result<Vec<FeedbackFeatures>, FeatureError> {
    let path = clean_dir.join("feedback.parquet");
    let mut facts = Vec::new();
    if path.exists() {
        for b in read_batches(&path, &["customer_id", "given_at", "kind", "score"])? {
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
    }
    let mut clock = LocalTime::new(p.time_zone);
    let as_of_micros = clock
        .to_utc_micros(i64::from(p.as_of) * 86_400, 0)
        .unwrap_or(i64::from(p.as_of) * 86_400_000_000);
    Ok(feedback_features(n, &mut facts, as_of_micros))
}

/// At most this many event names get `events_<name>_<w>d` columns: the most frequent ones.
pub const MAX_EVENT_NAMES: usize = 16;

/// Event counts per customer for the most frequent event names (in name order).
pub(crate) fn read_events(
    clean_dir: &Path,
    position: &HashMap<&str, u32>,
    n: usize,
    p: &FeatureParams,
    days: &mut LocalDays,
) -> Result<(Vec<String>, Vec<Vec<u32>>), FeatureError> {
    let path = clean_dir.join("events.parquet");
    let (mut facts, mut names) = (Vec::new(), Names::default());
    if path.exists() {
        for b in read_batches(&path, &["customer_id", "occurred_at", "name"])? {
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
    let (all, map) = names.sorted();
    let mut freq = vec![0u64; all.len()];
    for f in &mut facts {
        f.name = remap(&map, f.name);
        if let Some(c) = freq.get_mut(usize::from(f.name)) {
            *c += 1;
        }
    }
    // Keep the most frequent names, renumbered in name order.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|a, b| freq[*b].cmp(&freq[*a]).then(a.cmp(b)));
    let mut kept: Vec<usize> = order.into_iter().take(MAX_EVENT_NAMES).collect();
    kept.sort_unstable();
    let mut renumber = vec![NONE; all.len()];
    for (new, old) in kept.iter().enumerate() {
        renumber[*old] = new as u16;
    }
    for f in &mut facts {
        f.name = remap(&renumber, f.name);
    }
    let names: Vec<String> = kept.iter().map(|k| all[*k].clone()).collect();
    let counts = event_counts(n, names.len(), &facts, p.as_of, &p.windows);
    Ok((names, counts))
}
