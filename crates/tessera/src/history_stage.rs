//! The run's snapshot for the project store: the assignments with the model outputs, the
//! definitions that produced them, and the movement since the previous run for the report.

use crate::Failure;
use crate::segment_stage::Evaluated;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use std::path::Path;
use std::sync::Arc;
use tessera_core::Config;
use tessera_store::diff::Diff;
use tessera_store::{Definition, Loaded, Record, Store};

/// Model outputs of the feature table kept in a snapshot, when the run has them.
const OUTPUTS: [&str; 14] = [
    "rfm_segment",
    "rfm_code",
    "r_score",
    "f_score",
    "m_score",
    "cluster",
    "churn_risk",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "clv_lower",
    "clv_upper",
    "monetary_total",
];

/// Columns of a snapshot that are exclusive families: each customer holds one label or none.
const FAMILIES: [&str; 3] = ["rfm_segment", "cluster", "churn_risk"];

/// What a run records.
pub struct Snapshot {
    pub assignments: RecordBatch,
    pub families: Vec<String>,
    pub definitions: Vec<Definition>,
    pub as_of: Option<String>,
    pub config_hash: String,
    pub config_text: String,
    /// The run's output folder, absolute.
    pub out: std::path::PathBuf,
}

impl Snapshot {
    /// The assignments (segments and groups when the run evaluated them) beside the feature
    /// table's model outputs, a row per customer in the feature table's order.
    pub fn build(
        config: &Config,
        config_text: &str,
        features: &RecordBatch,
        ev: Option<&Evaluated>,
        as_of: Option<String>,
        out: &Path,
    ) -> Result<Self, Failure> {
        let mut fields: Vec<Arc<Field>> = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut families = Vec::new();
        let mut definitions = Vec::new();
        match ev {
            Some(ev) => {
                let a = crate::segment_stage::assignments_batch(
                    &ev.run.set,
                    &ev.run.customers,
                    &ev.members,
                )?;
                if a.num_rows() != features.num_rows() {
                    return Err(Failure::Other(anyhow::anyhow!(
                        "{} assignments for {} customers",
                        a.num_rows(),
                        features.num_rows()
                    )));
                }
                fields.extend(a.schema().fields().iter().cloned());
                columns.extend(a.columns().iter().cloned());
                let set = &ev.run.set;
                families.extend(set.groups.iter().map(|g| g.def.name.clone()));
                definitions.extend(set.segments.iter().map(|s| Definition {
                    kind: "segment".into(),
                    name: s.def.name.clone(),
                    version: s.version.clone(),
                    text: s.def.rule.clone(),
                }));
                definitions.extend(set.groups.iter().map(|g| Definition {
                    kind: "group".into(),
                    name: g.def.name.clone(),
                    version: g.version.clone(),
                    text: g.def.segments.join(" > "),
                }));
            }
            None => {
                let ids = features.column_by_name("customer_id").ok_or_else(|| {
                    Failure::Other(anyhow::anyhow!("the feature table has no customer_id"))
                })?;
                fields.push(Arc::new(Field::new(
                    "customer_id",
                    ids.data_type().clone(),
                    false,
                )));
                columns.push(ids.clone());
            }
        }
        for name in OUTPUTS {
            if fields.iter().any(|f| f.name() == name) {
                continue;
            }
            if let Some(c) = features.column_by_name(name) {
                fields.push(Arc::new(Field::new(name, c.data_type().clone(), true)));
                columns.push(c.clone());
            }
        }
        for f in FAMILIES {
            // A group may bear a model output's name; its column came first and is kept.
            if fields.iter().any(|x| x.name() == f) && !families.iter().any(|g| g == f) {
                families.push(f.to_string());
            }
        }
        let model = |kind: &str, text: String| Definition {
            kind: kind.into(),
            name: kind.into(),
            version: tessera_ingest::config_hash(&text),
            text,
        };
        definitions.push(model("rfm", serde_json::to_string(&config.rfm)?));
        if let Some(c) = &config.clustering {
            definitions.push(model("clustering", serde_json::to_string(c)?));
        }
        let assignments = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Self {
            assignments,
            families,
            definitions,
            as_of,
            config_hash: tessera_ingest::config_hash(config_text),
            config_text: config_text.to_string(),
            out: std::path::absolute(out)?,
        })
    }

    pub fn record<'a>(&'a self, run: &'a serde_json::Value) -> Record<'a> {
        Record {
            as_of: self.as_of.clone(),
            config_hash: &self.config_hash,
            config_text: &self.config_text,
            run,
            definitions: &self.definitions,
            families: &self.families,
            assignments: &self.assignments,
            out: Some(&self.out),
        }
    }
}

/// The store's suppression list, when the project has a store and someone was forgotten.
pub fn suppression(
    config: &Config,
) -> Result<Option<tessera_core::suppress::Suppression>, Failure> {
    let dir = &config.store.path;
    if !Store::exists(dir) {
        return Ok(None);
    }
    let list = Store::open(dir)?.suppression()?;
    Ok((!list.is_empty()).then_some(list))
}

/// A run's name in messages and charts: "run 3, as of 2025-01-01".
pub fn run_name(id: i64, as_of: Option<&str>) -> String {
    match (id, as_of) {
        (0, Some(d)) => format!("this run, as of {d}"),
        (0, None) => "this run".into(),
        (id, Some(d)) => format!("run {id}, as of {d}"),
        (id, None) => format!("run {id}"),
    }
}

/// Movement since the store's latest run and sizes over its kept runs, for the report; `None`
/// when the store has no earlier run.
pub fn report_history(
    store: &Store,
    current: &Record<'_>,
) -> Result<Option<tessera_report::History>, Failure> {
    let Some(latest) = store.runs()?.into_iter().next() else {
        return Ok(None);
    };
    let previous = store.load(latest.id)?;
    let now = Loaded::unrecorded(current)?;
    let d = tessera_store::diff::diff(&previous, &now)?;
    let mut history = store.size_history()?;
    history.push((now.info.clone(), now.sizes.clone()));
    let runs: Vec<String> = history
        .iter()
        .map(|(r, _)| match (r.id, &r.as_of) {
            (0, Some(a)) => format!("{a} (now)"),
            (_, Some(a)) => a.clone(),
            (id, None) => format!("run {id}"),
        })
        .collect();
    // Sizes over time for the rule segments and the groups; RFM names and clusters move with
    // every run's scoring, so their trend is left to `tessera history`.
    let mut trend_families: Vec<String> = Vec::new();
    if now.sizes.contains_key(tessera_store::SEGMENTS) {
        trend_families.push(tessera_store::SEGMENTS.into());
    }
    trend_families.extend(
        current
            .definitions
            .iter()
            .filter(|d| d.kind == "group")
            .map(|d| d.name.clone()),
    );
    let trends = trend_families
        .into_iter()
        .map(|family| {
            let mut labels: Vec<String> = history
                .iter()
                .flat_map(|(_, s)| s.get(&family).into_iter().flat_map(|m| m.keys().cloned()))
                .collect();
            labels.sort();
            labels.dedup();
            let series = labels
                .into_iter()
                .map(|l| {
                    let ys = history
                        .iter()
                        .map(|(_, s)| {
                            s.get(&family).and_then(|m| m.get(&l)).copied().unwrap_or(0) as f64
                        })
                        .collect();
                    (l, ys)
                })
                .collect();
            tessera_report::Trend { family, series }
        })
        .collect();
    Ok(Some(to_report(&d, runs, trends)))
}

fn to_report(
    d: &Diff,
    runs: Vec<String>,
    trends: Vec<tessera_report::Trend>,
) -> tessera_report::History {
    tessera_report::History {
        previous: run_name(d.from.id, d.from.as_of.as_deref()),
        kept: d.customers.kept,
        new: d.customers.new,
        gone: d.customers.gone,
        migrations: d
            .families
            .iter()
            .map(|m| tessera_report::Migration {
                family: m.family.clone(),
                from: m.from.clone(),
                to: m.to.clone(),
                counts: m.counts.clone(),
            })
            .collect(),
        changes: d
            .segments
            .iter()
            .map(|c| tessera_report::Change {
                family: c.family.clone(),
                segment: c.segment.clone(),
                before: c.before,
                after: c.after,
                entered: c.entered,
                left: c.left,
            })
            .collect(),
        runs,
        trends,
        definitions: d
            .definitions
            .iter()
            .map(|c| format!("{} {}: {}", c.kind, c.name, c.change))
            .collect(),
    }
}
