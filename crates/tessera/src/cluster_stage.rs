//! Statistical segments: a matrix from table columns, the fitted transform, k given or chosen,
//! clusters numbered by a column's mean, and the report that `run.json` and `tessera cluster
//! --json` carry. Used by a run's clustering stage and by `tessera cluster`.

use crate::Failure;
use anyhow::anyhow;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;
use tessera_core::config::{ClusterMethod, ClusteringConfig, MissingPolicy, TransformStep};
use tessera_models::cluster::{
    Categorical, FittedTransform, KMeans, KPrototypes, Matrix, MiniBatch, Order, SelectParams,
    Selection, Step, Transform, kmeans::cluster_sizes, labels::cluster_means,
    labels::relabel_by_key, select_k,
};

/// What to cluster and how.
#[derive(Debug, Clone)]
pub struct Spec {
    pub numeric: Vec<String>,
    /// Steps of each numeric feature, in the order of `numeric`.
    pub steps: Vec<Vec<Step>>,
    pub categorical: Vec<String>,
    pub method: ClusterMethod,
    /// `None`: chosen in `k_range`.
    pub k: Option<usize>,
    pub k_range: (usize, usize),
    pub seed: u64,
    pub n_init: usize,
    pub min_share: f64,
    pub missing: MissingPolicy,
    pub gamma: Option<f64>,
    pub minibatch_above: usize,
    /// Clusters are numbered by this numeric feature's mean, highest first (cluster 1).
    pub order_by: Option<String>,
}

/// A transform step of the config as the model's step.
pub fn step(s: TransformStep) -> Step {
    match s {
        TransformStep::Log1p => Step::Log1p,
        TransformStep::Standardize => Step::Standardize,
        TransformStep::Robust => Step::Robust,
        TransformStep::Winsorize { lo, hi } => Step::Winsorize { lo_q: lo, hi_q: hi },
    }
}

impl Spec {
    pub fn from_config(c: &ClusteringConfig) -> Spec {
        Spec {
            numeric: c.features.clone(),
            steps: c
                .features
                .iter()
                .map(|f| c.steps(f).iter().map(|&s| step(s)).collect())
                .collect(),
            categorical: c.categorical.clone(),
            method: c.method,
            k: c.k.map(|k| k as usize),
            k_range: (c.k_range[0] as usize, c.k_range[1] as usize),
            seed: c.seed,
            n_init: c.n_init as usize,
            min_share: c.min_share,
            missing: c.missing,
            gamma: c.gamma,
            minibatch_above: c.minibatch_above,
            order_by: c.order_by.clone(),
        }
    }
}

/// The input columns, one row per customer (or per input row).
pub struct Columns {
    /// Numeric features in original units (money in major units), nulls as `None`.
    pub numeric: Vec<Vec<Option<f64>>>,
    /// Categorical features as text, nulls as `None`.
    pub categorical: Vec<Vec<Option<String>>>,
    pub rows: usize,
}

/// A column's values as numbers; `scale` divides them (money's minor units to major units).
/// Names the column and its type when it holds no numbers.
pub fn numbers(name: &str, a: &ArrayRef, scale: f64) -> Result<Vec<Option<f64>>, Failure> {
    let ok = matches!(
        a.data_type(),
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Boolean
    );
    if !ok {
        return Err(Failure::Input(anyhow!(
            "clustering feature `{name}` is not numeric (it holds {}); list it under categorical, or use a number such as recency_days",
            a.data_type()
        )));
    }
    let f = arrow_cast::cast(a, &DataType::Float64)?;
    Ok(f.as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.map(|v| v / scale))
        .collect())
}

/// A column's values as text.
pub fn texts(a: &ArrayRef) -> Result<Vec<Option<String>>, Failure> {
    let s = arrow_cast::cast(a, &DataType::Utf8)?;
    Ok(s.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

/// One cluster of the result.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    /// 1 to k.
    pub cluster: u32,
    pub size: usize,
    /// Of the clustered rows.
    pub share: f64,
    /// The centre in original units (the fitted transform inverted), by numeric feature.
    pub center: BTreeMap<String, f64>,
    /// The arithmetic mean of each numeric feature over the cluster's rows.
    pub mean: BTreeMap<String, f64>,
    /// The most frequent value of each categorical feature (k-prototypes).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mode: BTreeMap<String, String>,
}

/// What a clustering found and why.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub method: &'static str,
    pub k: usize,
    /// The columns the fit ran on, in the order of `centers`' entries: the numeric features,
    /// then (k-means with categorical features) one `feature=value` column per value.
    pub features: Vec<String>,
    pub categorical: Vec<String>,
    pub rows: usize,
    pub clustered: usize,
    /// Rows left without a cluster for a null in a feature.
    pub skipped: usize,
    /// Sum of squared distances to the centres, in the transformed space the fit ran in
    /// (k-prototypes: its cost, with categorical mismatches weighted by `gamma`).
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Centres in original units, one array per cluster in feature order.
    pub centers: Vec<Vec<f64>>,
    pub clusters: Vec<ClusterInfo>,
    /// Why this k.
    pub reason: String,
    /// The k-selection table, when k was chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// The numeric feature that numbers the clusters (cluster 1 has the highest mean).
    pub order_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    pub seed: u64,
    pub transform: FittedTransform,
    pub seconds: f64,
}

/// Clusters of the rows, 1 to k, `None` for rows without one.
pub struct Outcome {
    pub labels: Vec<Option<u32>>,
    pub report: Report,
}

fn model_error(e: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow!("clustering: {e}"))
}

/// Fits the clusters of `cols` as `spec` says.
pub fn fit(spec: &Spec, cols: &Columns) -> Result<Outcome, Failure> {
    let started = Instant::now();
    let n = cols.rows;
    let p = spec.numeric.len();
    // The rows that take part, and their values.
    let complete = |r: usize| {
        cols.numeric
            .iter()
            .all(|c| c[r].is_some_and(f64::is_finite))
            && cols.categorical.iter().all(|c| c[r].is_some())
    };
    let used: Vec<usize> = match spec.missing {
        MissingPolicy::Skip => (0..n).filter(|&r| complete(r)).collect(),
        MissingPolicy::Zero => (0..n).collect(),
    };
    if used.is_empty() {
        return Err(Failure::Input(anyhow!(
            "clustering: none of the {n} rows has a value in every feature ({})",
            spec.numeric
                .iter()
                .chain(&spec.categorical)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // k-means sees categorical features one-hot: a 0/1 column per value, named `feature=value`.
    let one_hot = spec.method != ClusterMethod::Kprototypes && !spec.categorical.is_empty();
    let (codes, values) = categorical_codes(cols, &used);
    let mut names = spec.numeric.clone();
    let mut steps = spec.steps.clone();
    if one_hot {
        for (j, f) in spec.categorical.iter().enumerate() {
            for v in &values[j] {
                names.push(format!("{f}={v}"));
                steps.push(Vec::new());
            }
        }
    }
    let d = names.len();
    let q = spec.categorical.len();
    let mut raw = Vec::with_capacity(used.len() * d);
    for (i, &r) in used.iter().enumerate() {
        for c in &cols.numeric {
            raw.push(c[r].filter(|v| v.is_finite()).unwrap_or(0.0));
        }
        if one_hot {
            for j in 0..q {
                let code = codes[i * q + j] as usize;
                raw.extend((0..values[j].len()).map(|v| if v == code { 1.0 } else { 0.0 }));
            }
        }
    }
    let raw = Matrix::new(raw, used.len(), d).map_err(model_error)?;
    let transform = Transform::new(steps).fit(&raw).map_err(model_error)?;
    let x = transform.apply(&raw).map_err(model_error)?;

    let mut kmeans = KMeans::new(spec.k.unwrap_or(2))
        .seed(spec.seed)
        .n_init(spec.n_init);
    match spec.method {
        ClusterMethod::Kmeans => {
            kmeans = kmeans.mini_batch(MiniBatch {
                above_rows: spec.minibatch_above,
                ..MiniBatch::default()
            })
        }
        ClusterMethod::MinibatchKmeans => {
            kmeans = kmeans.mini_batch(MiniBatch {
                above_rows: 0,
                ..MiniBatch::default()
            })
        }
        ClusterMethod::Kprototypes => {}
    }

    let (mut labels, centers, inertia, iterations, converged, selection, gamma, modes, reason);
    if spec.method == ClusterMethod::Kprototypes {
        let k = spec.k.ok_or_else(|| {
            Failure::Input(anyhow!(
                "clustering: method = \"kprototypes\" needs a fixed k"
            ))
        })?;
        let cats = Categorical::new(&codes, used.len(), q).map_err(model_error)?;
        let mut kp = KPrototypes::new(k)
            .seed(spec.seed)
            .n_init(spec.n_init.max(1));
        if let Some(g) = spec.gamma {
            kp = kp.gamma(g);
        }
        let f = kp.fit(&x, cats).map_err(model_error)?;
        labels = f.labels;
        centers = f.centers;
        inertia = f.cost;
        iterations = f.n_iter;
        converged = f.converged;
        selection = None;
        gamma = Some(f.gamma);
        modes = (0..k)
            .map(|c| {
                (0..q)
                    .map(|j| values[j][f.modes[c * q + j] as usize].clone())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>();
        reason = format!("k = {k}, as configured");
    } else {
        let f = match spec.k {
            Some(k) => {
                let f = KMeans { k, ..kmeans }.fit(&x).map_err(model_error)?;
                reason = format!("k = {k}, as configured");
                selection = None;
                f
            }
            None => {
                let (lo, hi) = spec.k_range;
                let hi = hi.min(used.len().saturating_sub(1));
                if hi < lo {
                    return Err(Failure::Input(anyhow!(
                        "clustering: k = auto needs more than {lo} rows with every feature, found {}",
                        used.len()
                    )));
                }
                let params = SelectParams {
                    k_min: lo,
                    k_max: hi,
                    kmeans,
                    min_share: spec.min_share,
                    seed: spec.seed,
                    ..SelectParams::default()
                };
                let (s, f) = select_k(&x, &params).map_err(model_error)?;
                reason = s.reason.clone();
                selection = Some(s);
                f
            }
        };
        labels = f.labels;
        centers = f.centers;
        inertia = f.inertia;
        iterations = f.n_iter;
        converged = f.converged;
        gamma = None;
        modes = Vec::new();
    }
    let k = centers.rows();

    // Number the clusters by the mean of `order_by` in original units, highest first.
    let order_by = match &spec.order_by {
        Some(o) => Some(o.clone()),
        None if spec.numeric.iter().any(|f| f == "monetary_total") => {
            Some("monetary_total".to_string())
        }
        None => spec.numeric.first().cloned(),
    };
    let means = cluster_means(&raw, &labels, k).map_err(model_error)?;
    let keys: Vec<f64> = match order_by
        .as_ref()
        .and_then(|o| spec.numeric.iter().position(|f| f == o))
    {
        Some(j) => (0..k).map(|c| finite_or_min(means.get(c, j))).collect(),
        None if order_by.is_some() => {
            return Err(Failure::Input(anyhow!(
                "clustering.order_by: `{}` is not one of the numeric features{}",
                order_by.unwrap_or_default(),
                tessera_core::config::did_you_mean(
                    spec.order_by.as_deref().unwrap_or_default(),
                    spec.numeric.iter().map(String::as_str)
                )
            )));
        }
        None => vec![0.0; k],
    };
    let sizes_before = cluster_sizes(&labels, k);
    // Without an ordering column (only categorical features), the largest cluster comes first.
    let keys: Vec<f64> = if p == 0 {
        sizes_before.iter().map(|&s| s as f64).collect()
    } else {
        keys
    };
    let relabel = relabel_by_key(&keys, &centers, Order::Descending).map_err(model_error)?;
    labels = relabel.relabel(&labels).map_err(model_error)?;
    let centers = relabel.reorder_rows(&centers).map_err(model_error)?;
    let means = relabel.reorder_rows(&means).map_err(model_error)?;
    let original = transform.inverse(&centers).map_err(model_error)?;
    let sizes = cluster_sizes(&labels, k);

    let clusters = (0..k)
        .map(|c| ClusterInfo {
            cluster: c as u32 + 1,
            size: sizes[c],
            share: sizes[c] as f64 / used.len() as f64,
            center: names
                .iter()
                .enumerate()
                .map(|(j, f)| (f.clone(), original.get(c, j)))
                .collect(),
            mean: names
                .iter()
                .enumerate()
                .map(|(j, f)| (f.clone(), means.get(c, j)))
                .collect(),
            mode: modes
                .get(relabel.old_of_new[c])
                .map(|m| spec.categorical.iter().cloned().zip(m.clone()).collect())
                .unwrap_or_default(),
        })
        .collect();
    let mut out = vec![None; n];
    for (i, &r) in used.iter().enumerate() {
        out[r] = Some(labels[i] + 1);
    }
    let report = Report {
        method: match spec.method {
            ClusterMethod::Kprototypes => "kprototypes",
            _ if used.len() > spec.minibatch_above
                || spec.method == ClusterMethod::MinibatchKmeans =>
            {
                "minibatch_kmeans"
            }
            _ => "kmeans",
        },
        k,
        features: names.clone(),
        categorical: spec.categorical.clone(),
        rows: n,
        clustered: used.len(),
        skipped: n - used.len(),
        inertia,
        iterations,
        converged,
        centers: (0..k).map(|c| original.row(c).to_vec()).collect(),
        clusters,
        reason,
        selection,
        order_by,
        gamma,
        seed: spec.seed,
        transform,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Outcome {
        labels: out,
        report,
    })
}

fn finite_or_min(v: f64) -> f64 {
    if v.is_finite() { v } else { f64::MIN }
}

/// The categorical features of the used rows as codes (row-major), and each feature's values
/// by code (sorted, so codes do not depend on row order). Nulls (kept under `missing =
/// "zero"`) are the value `(missing)`.
fn categorical_codes(cols: &Columns, used: &[usize]) -> (Vec<u32>, Vec<Vec<String>>) {
    const MISSING: &str = "(missing)";
    let q = cols.categorical.len();
    let mut names = Vec::with_capacity(q);
    let mut lookup = Vec::with_capacity(q);
    for c in &cols.categorical {
        let mut values: Vec<&str> = used
            .iter()
            .map(|&r| c[r].as_deref().unwrap_or(MISSING))
            .collect();
        values.sort_unstable();
        values.dedup();
        let map: std::collections::HashMap<&str, u32> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (*v, i as u32))
            .collect();
        names.push(values.iter().map(|v| v.to_string()).collect::<Vec<_>>());
        lookup.push(map);
    }
    let mut codes = Vec::with_capacity(used.len() * q);
    for &r in used {
        for (j, c) in cols.categorical.iter().enumerate() {
            codes.push(lookup[j][c[r].as_deref().unwrap_or(MISSING)]);
        }
    }
    (codes, names)
}

/// A run's clustering stage: the configured features read from the customer row (clean
/// customers beside the feature table; money in major units), fitted. Returns each customer's
/// `cluster` (null for customers left out) and the report.
pub fn cluster_customers(
    config: &tessera_core::Config,
    c: &ClusteringConfig,
    table: &crate::segment_stage::Table,
) -> Result<(ArrayRef, Report), Failure> {
    let scale = 10f64.powi(i32::from(config.money_decimals));
    let column = |name: &str| {
        let i = table.schema.index(name).ok_or_else(|| {
            Failure::Input(anyhow!(
                "{}: clustering: the customer row has no column `{name}`{}",
                c.at,
                tessera_core::config::did_you_mean(
                    name,
                    table.schema.fields.iter().map(|f| f.name.as_str())
                )
            ))
        })?;
        Ok::<_, Failure>((&table.columns[i], table.schema.fields[i].ty))
    };
    let numeric = c
        .features
        .iter()
        .map(|f| {
            let (a, ty) = column(f)?;
            let s = if ty == tessera_rules::Type::Money {
                scale
            } else {
                1.0
            };
            numbers(f, a, s).map_err(|e| match e {
                Failure::Input(e) => Failure::Input(anyhow!("{}: {e}", c.at)),
                e => e,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let categorical = c
        .categorical
        .iter()
        .map(|f| texts(column(f)?.0))
        .collect::<Result<Vec<_>, _>>()?;
    let cols = Columns {
        numeric,
        categorical,
        rows: table.len(),
    };
    let outcome = fit(&Spec::from_config(c), &cols)?;
    let cluster: ArrayRef = std::sync::Arc::new(arrow_array::Int32Array::from_iter(
        outcome.labels.iter().map(|l| l.map(|l| l as i32)),
    ));
    Ok((cluster, outcome.report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: Result<Outcome, Failure>) -> Outcome {
        match r {
            Ok(o) => o,
            Err(Failure::Input(e) | Failure::Other(e)) => panic!("{e}"),
        }
    }

    fn spec(k: Option<usize>, categorical: &[&str], method: ClusterMethod) -> Spec {
        Spec {
            numeric: vec!["spend".into()],
            steps: vec![vec![Step::Standardize]],
            categorical: categorical.iter().map(|c| c.to_string()).collect(),
            method,
            k,
            k_range: (2, 4),
            seed: 1,
            n_init: 2,
            min_share: 0.02,
            missing: MissingPolicy::Skip,
            gamma: None,
            minibatch_above: usize::MAX,
            order_by: None,
        }
    }

    /// 40 customers: spend 10 or 11 in DE, 50 or 51 in FR; one customer has no spend.
    fn columns() -> Columns {
        let spend = (0..40)
            .map(|i| (i != 7).then_some(if i < 20 { 10.0 } else { 50.0 } + (i % 2) as f64))
            .collect();
        let country = (0..40)
            .map(|i| Some(if i < 20 { "DE" } else { "FR" }.to_string()))
            .collect();
        Columns {
            numeric: vec![spend],
            categorical: vec![country],
            rows: 40,
        }
    }

    #[test]
    fn kmeans_sees_categories_one_hot_and_numbers_clusters_by_spend() {
        let out = ok(fit(
            &spec(Some(2), &["country"], ClusterMethod::Kmeans),
            &columns(),
        ));
        let r = &out.report;
        assert_eq!(r.features, ["spend", "country=DE", "country=FR"]);
        // Cluster 1 has the higher mean spend: the FR customers, all of them FR.
        assert_eq!(out.labels[25], Some(1));
        assert_eq!(out.labels[3], Some(2));
        assert_eq!(out.labels[7], None, "no spend, no cluster");
        assert_eq!((r.clustered, r.skipped), (39, 1));
        let first = &r.clusters[0];
        assert_eq!(first.mean["country=FR"], 1.0);
        assert_eq!(first.mean["spend"], 50.5); // 10 of 50 and 10 of 51
        assert_eq!(first.size, 20);
        // The centre in original units is the standardization inverted: the same mean here.
        assert!((first.center["spend"] - 50.5).abs() < 1e-9);
    }

    #[test]
    fn kprototypes_reports_modes_and_needs_a_fixed_k() {
        let out = ok(fit(
            &spec(Some(2), &["country"], ClusterMethod::Kprototypes),
            &columns(),
        ));
        assert_eq!(out.report.features, ["spend"]);
        assert_eq!(out.report.clusters[0].mode["country"], "FR");
        assert_eq!(out.report.clusters[1].mode["country"], "DE");
        let Err(Failure::Input(e)) = fit(
            &spec(None, &["country"], ClusterMethod::Kprototypes),
            &columns(),
        ) else {
            panic!("k = auto with k-prototypes must be refused");
        };
        assert_eq!(
            e.to_string(),
            "clustering: method = \"kprototypes\" needs a fixed k"
        );
    }
}
