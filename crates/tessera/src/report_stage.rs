//! The report stage: the run's summary, profiles, overlap, RFM grid and a projection of the
//! clustered customers handed to `tessera-report`, written as `OUT/report.html`.

use crate::Failure;
use crate::segment_stage::Evaluated;
use anyhow::anyhow;
use arrow_array::ArrayRef;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_schema::DataType;
use std::path::Path;
use tessera_core::Config;
use tessera_models::cluster::{FittedTransform, Matrix};
use tessera_profile::{FamilyKind, Profiles};
use tessera_report::{Input, Projection, RfmGrid};
use tessera_rules::Type;

/// Customers drawn in the cluster chart at most (the report stays small at any size).
const MAX_POINTS: usize = 1500;

fn floats(a: &ArrayRef) -> Result<Vec<Option<f64>>, Failure> {
    let f = arrow_cast::cast(a, &DataType::Float64)?;
    Ok(f.as_primitive::<Float64Type>().iter().collect())
}

fn rfm_grid(ev: &Evaluated, config: &Config) -> Result<Option<RfmGrid>, Failure> {
    let t = &ev.run.customers;
    let (Some(r), Some(f), Some(m)) = (
        t.column("r_score"),
        t.column("f_score"),
        t.column("monetary_total"),
    ) else {
        return Ok(None);
    };
    let bins = usize::from(config.rfm.bins);
    let (r, f, m) = (floats(r)?, floats(f)?, floats(m)?);
    let scale = 10f64.powi(i32::from(config.money_decimals));
    let mut count = vec![vec![0u64; bins]; bins];
    let mut sum = vec![vec![0f64; bins]; bins];
    for i in 0..r.len() {
        if let (Some(r), Some(f)) = (r[i], f[i]) {
            let (r, f) = (r as usize, f as usize);
            if (1..=bins).contains(&r) && (1..=bins).contains(&f) {
                count[r - 1][f - 1] += 1;
                sum[r - 1][f - 1] += m[i].unwrap_or(0.0) / scale;
            }
        }
    }
    if count.iter().flatten().all(|&c| c == 0) {
        return Ok(None);
    }
    let mean_monetary = sum
        .iter()
        .zip(&count)
        .map(|(s, c)| {
            s.iter()
                .zip(c)
                .map(|(s, &c)| if c == 0 { 0.0 } else { s / c as f64 })
                .collect()
        })
        .collect();
    Ok(Some(RfmGrid {
        bins,
        count,
        mean_monetary,
    }))
}

/// The top two eigenvectors of a symmetric matrix by power iteration with deflation, with
/// their eigenvalues.
fn top_two(c: &[Vec<f64>]) -> [(f64, Vec<f64>); 2] {
    let d = c.len();
    let mut m: Vec<Vec<f64>> = c.to_vec();
    let mut out: Vec<(f64, Vec<f64>)> = Vec::new();
    for k in 0..2 {
        // A start with a component along every axis, different for the two vectors.
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + ((i + k) % 3) as f64 * 0.1).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let w: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| m[i][j] * v[j]).sum())
                .collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            let next: Vec<f64> = w.iter().map(|x| x / norm).collect();
            let delta: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = next;
            lambda = norm;
            if delta < 1e-12 {
                break;
            }
        }
        for i in 0..d {
            for j in 0..d {
                m[i][j] -= lambda * v[i] * v[j];
            }
        }
        out.push((lambda, v));
    }
    let second = out.pop().expect("two vectors");
    let first = out.pop().expect("two vectors");
    [first, second]
}

fn projection(
    ev: &Evaluated,
    config: &Config,
    run: &serde_json::Value,
    p: &Profiles,
) -> Result<Option<Projection>, Failure> {
    let (Some(c), Some(cluster)) = (&config.clustering, ev.run.customers.column("cluster")) else {
        return Ok(None);
    };
    let t = &ev.run.customers;
    let cluster = floats(cluster)?;
    let scale = 10f64.powi(i32::from(config.money_decimals));
    let mut columns = Vec::new();
    for f in &c.features {
        let Some(i) = t.schema.index(f) else {
            return Ok(None);
        };
        let s = if t.schema.fields[i].ty == Type::Money {
            scale
        } else {
            1.0
        };
        columns.push(crate::cluster_stage::numbers(f, &t.columns[i], s)?);
    }
    let rows: Vec<usize> = (0..t.len())
        .filter(|&i| {
            cluster[i].is_some() && columns.iter().all(|c| c[i].is_some_and(f64::is_finite))
        })
        .collect();
    let d = columns.len();
    if d < 2 || rows.len() < 3 {
        return Ok(None);
    }
    // The space k-means worked in: the run's fitted transform of the clustering features.
    let data: Vec<f64> = rows
        .iter()
        .flat_map(|&i| columns.iter().map(move |c| c[i].unwrap_or(0.0)))
        .collect();
    let x = Matrix::new(data, rows.len(), d).map_err(|e| Failure::Other(anyhow!("{e}")))?;
    let fitted: FittedTransform =
        match serde_json::from_value(run["clustering"]["transform"].clone()) {
            Ok(f) => f,
            Err(_) => return Ok(None),
        };
    let z = fitted
        .apply(&x)
        .map_err(|e| Failure::Other(anyhow!("{e}")))?;
    // Centre each column for the principal components.
    let n = rows.len() as f64;
    let means: Vec<f64> = (0..d)
        .map(|k| z.iter_rows().map(|r| r[k]).sum::<f64>() / n)
        .collect();
    let z: Vec<Vec<f64>> = (0..d)
        .map(|k| z.iter_rows().map(|r| r[k] - means[k]).collect())
        .collect();
    let cov: Vec<Vec<f64>> = (0..d)
        .map(|a| {
            (0..d)
                .map(|b| z[a].iter().zip(&z[b]).map(|(x, y)| x * y).sum::<f64>() / n)
                .collect()
        })
        .collect();
    let trace: f64 = (0..d).map(|i| cov[i][i]).sum();
    let [(l1, v1), (l2, v2)] = top_two(&cov);
    let project = |r: usize, v: &[f64]| (0..d).map(|k| z[k][r] * v[k]).sum::<f64>();
    let labels: Vec<String> = p
        .families
        .iter()
        .find(|f| f.kind == FamilyKind::Cluster)
        .map(|f| {
            f.segments
                .iter()
                .map(|s| format!("{} · {}", s.name, s.label.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let k = labels.len().max(1);
    let mut sums = vec![(0.0, 0.0, 0usize); k];
    let step = rows.len().div_ceil(MAX_POINTS).max(1);
    let mut points = Vec::new();
    for (r, &i) in rows.iter().enumerate() {
        let g = (cluster[i].unwrap_or(1.0) as usize)
            .saturating_sub(1)
            .min(k - 1);
        let (x, y) = (project(r, &v1), project(r, &v2));
        sums[g].0 += x;
        sums[g].1 += y;
        sums[g].2 += 1;
        if r % step == 0 {
            points.push((x, y, g));
        }
    }
    let centroids = sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s.2 > 0)
        .map(|(g, s)| {
            (
                s.0 / s.2 as f64,
                s.1 / s.2 as f64,
                labels
                    .get(g)
                    .cloned()
                    .unwrap_or_else(|| (g + 1).to_string()),
            )
        })
        .collect();
    Ok(Some(Projection {
        points,
        centroids,
        explained: if trace > 0.0 { (l1 + l2) / trace } else { 0.0 },
    }))
}

/// Writes `report.html` into `out`.
pub fn write(
    ev: &Evaluated,
    config: &Config,
    run: &serde_json::Value,
    profiles: &Profiles,
    out: &Path,
    history: Option<tessera_report::History>,
) -> Result<(), Failure> {
    let names: Vec<String> = ev
        .run
        .set
        .segments
        .iter()
        .map(|s| s.def.name.clone())
        .collect();
    let counts = crate::segment_stage::overlap(&ev.members);
    let input = Input {
        title: config.name.as_deref().unwrap_or("Tessera project"),
        run,
        profiles,
        overlap: Some((names, counts)),
        rfm: rfm_grid(ev, config)?,
        projection: projection(ev, config, run, profiles)?,
        history,
    };
    let html = tessera_report::render(&input);
    let tmp = out.join(".report.html.partial");
    std::fs::write(&tmp, html)?;
    std::fs::rename(&tmp, out.join("report.html"))?;
    Ok(())
}
