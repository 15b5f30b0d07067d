//! Choosing the number of clusters: fit k-means for each `k` of a range, measure each fit,
//! and pick `k` by a rule that refuses tiny or unstable segments.
//!
//! For every `k` in `k_min..=k_max` (default `2..=10`) [`select_k`] fits k-means with the
//! given parameters and reports, in a [`KRow`]:
//!
//! * the inertia;
//! * the silhouette (Rousseeuw 1987): exact up to `exact_silhouette_max_rows` rows (default
//!   10,000), above that the seeded sampled estimate of
//!   [`metrics::silhouette_score_sampled`] on `silhouette_sample_size` rows (default 2,000);
//! * the Calinski–Harabasz and Davies–Bouldin indices on all rows;
//! * the smallest cluster's share of the rows;
//! * stability: for each of `stability_pairs` pairs (default 5), two subsamples of
//!   `subsample_fraction` of the rows (default 0.8, drawn without replacement) are clustered
//!   separately, each fit labels a fixed evaluation set (all rows, or a seeded sample of
//!   `stability_eval_rows` rows when there are more, default 10,000) by nearest centre, and
//!   the adjusted Rand index (Hubert & Arabie 1985) of the two labelings is taken; stability
//!   is the mean over pairs. The subsamples and the evaluation set are the same for every `k`.
//!
//! ## The rule
//!
//! A `k` *qualifies* when every cluster holds at least `min_share` of the rows (default 0.02)
//! and its stability is at least `min_stability` (default 0.75; not required when
//! `stability_pairs` is 0). Among qualifying `k`, the one with the highest silhouette is
//! chosen, ties to the smaller `k` ([`Rule::Qualified`]). If none qualifies, the stability
//! requirement is dropped and the highest silhouette among `k` meeting `min_share` is
//! chosen ([`Rule::IgnoringStability`]). If no `k` meets `min_share` either, the `k` whose
//! smallest cluster is largest is chosen, ties to the smaller `k`
//! ([`Rule::LargestSmallestCluster`]). [`Selection::reason`] says which rule applied and
//! why better-scoring `k` were passed over.

use serde::{Deserialize, Serialize};

use super::error::{ClusterError, invalid};
use super::kmeans::{KMeans, KMeansFit, cluster_sizes, predict};
use super::matrix::MatrixRef;
use super::metrics;
use super::rng::{child_seed, rng_from, sample_indices};

/// Parameters of [`select_k`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectParams {
    /// Smallest `k` tried, at least 2. Default 2.
    pub k_min: usize,
    /// Largest `k` tried, at most `rows − 1`. Default 10.
    pub k_max: usize,
    /// k-means parameters for every fit; `k` is overwritten, and the fits of the stability
    /// subsamples draw their own seeds from [`SelectParams::seed`].
    pub kmeans: KMeans,
    /// Exact silhouette up to this many rows; sampled above. Default 10,000.
    pub exact_silhouette_max_rows: usize,
    /// Rows sampled for the silhouette above `exact_silhouette_max_rows`. Default 2,000.
    pub silhouette_sample_size: usize,
    /// Smallest acceptable share of rows in a cluster, in `[0, 1]`. Default 0.02.
    pub min_share: f64,
    /// Pairs of subsample fits for stability; 0 skips stability. Default 5.
    pub stability_pairs: usize,
    /// Fraction of rows in each stability subsample, in `(0, 1]`. Default 0.8.
    pub subsample_fraction: f64,
    /// Size of the evaluation set of stability (all rows if fewer). Default 10,000.
    pub stability_eval_rows: usize,
    /// Smallest acceptable stability. Default 0.75.
    pub min_stability: f64,
    /// Seed of the silhouette sample, the subsamples and their fits. Default 0.
    pub seed: u64,
}

impl Default for SelectParams {
    fn default() -> Self {
        SelectParams {
            k_min: 2,
            k_max: 10,
            kmeans: KMeans::new(2),
            exact_silhouette_max_rows: 10_000,
            silhouette_sample_size: 2_000,
            min_share: 0.02,
            stability_pairs: 5,
            subsample_fraction: 0.8,
            stability_eval_rows: 10_000,
            min_stability: 0.75,
            seed: 0,
        }
    }
}

/// The measurements of one `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KRow {
    /// Number of clusters.
    pub k: usize,
    /// k-means inertia on all rows.
    pub inertia: f64,
    /// Mean silhouette; `None` if the fit has fewer than 2 non-empty clusters.
    pub silhouette: Option<f64>,
    /// Whether the silhouette is the sampled estimate.
    pub silhouette_sampled: bool,
    /// Calinski–Harabasz index; `None` as the silhouette.
    pub calinski_harabasz: Option<f64>,
    /// Davies–Bouldin index; `None` as the silhouette.
    pub davies_bouldin: Option<f64>,
    /// Share of rows in the smallest cluster.
    pub min_share: f64,
    /// Mean adjusted Rand index between subsample fits; `None` if not measured.
    pub stability: Option<f64>,
    /// Whether every cluster holds at least the minimum share.
    pub meets_min_share: bool,
    /// Whether stability is at least the minimum (true when not measured).
    pub meets_stability: bool,
    /// Iterations of the fit.
    pub n_iter: usize,
    /// Whether the fit converged.
    pub converged: bool,
}

/// Which rule chose `k` (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// Highest silhouette among `k` meeting both the share and the stability thresholds.
    Qualified,
    /// No `k` met both; highest silhouette among `k` meeting the share threshold.
    IgnoringStability,
    /// No `k` met the share threshold; the `k` with the largest smallest cluster.
    LargestSmallestCluster,
}

/// The outcome of [`select_k`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// The chosen number of clusters.
    pub k: usize,
    /// The rule that chose it.
    pub rule: Rule,
    /// A sentence for a person, e.g. `"k = 4: highest silhouette (0.412) among k with every
    /// cluster ≥ 2% of customers and stability ≥ 0.75; k = 5 (silhouette 0.430) had a
    /// cluster of 0.8%"`.
    pub reason: String,
    /// One row per `k`, in increasing `k`.
    pub rows: Vec<KRow>,
}

/// Fits k-means for each `k` of the range, measures the fits, and chooses `k` (see the
/// module documentation). Returns the selection and the fit of the chosen `k`.
///
/// Errors: those of [`KMeans::fit`], and [`ClusterError::InvalidParameter`] for a range
/// outside `2..=rows − 1` or thresholds out of range.
pub fn select_k<'a>(
    x: impl Into<MatrixRef<'a>>,
    params: &SelectParams,
) -> Result<(Selection, KMeansFit), ClusterError> {
    let x = x.into();
    super::kmeans::check_data(x)?;
    check_params(params, x.rows())?;
    let n = x.rows();
    let mut master = rng_from(params.seed);
    let silhouette_seed = child_seed(&mut master);
    let eval_rows = if n <= params.stability_eval_rows {
        None
    } else {
        Some(sample_indices(&mut master, n, params.stability_eval_rows))
    };
    let eval = eval_rows.as_ref().map(|idx| x.select_rows(idx));
    let eval_view = eval.as_ref().map_or(x, |m| m.view());
    let sub_size = ((n as f64 * params.subsample_fraction).floor() as usize).min(n);
    let subsamples: Vec<(Vec<usize>, u64, Vec<usize>, u64)> = (0..params.stability_pairs)
        .map(|_| {
            let a = sample_indices(&mut master, n, sub_size);
            let sa = child_seed(&mut master);
            let b = sample_indices(&mut master, n, sub_size);
            let sb = child_seed(&mut master);
            (a, sa, b, sb)
        })
        .collect();

    let mut rows = Vec::new();
    let mut fits = Vec::new();
    for k in params.k_min..=params.k_max {
        let km = KMeans {
            k,
            ..params.kmeans.clone()
        };
        let fit = km.fit(x)?;
        let sizes = cluster_sizes(&fit.labels, k);
        let min_share = sizes.iter().copied().min().unwrap_or(0) as f64 / n as f64;
        let non_empty = sizes.iter().filter(|&&s| s > 0).count();
        let sampled = n > params.exact_silhouette_max_rows;
        let (silhouette, ch, db) = if non_empty >= 2 {
            let s = if sampled {
                metrics::silhouette_score_sampled(
                    x,
                    &fit.labels,
                    params.silhouette_sample_size,
                    silhouette_seed,
                )?
            } else {
                metrics::silhouette_score(x, &fit.labels)?
            };
            (
                Some(s),
                Some(metrics::calinski_harabasz_score(x, &fit.labels)?),
                Some(metrics::davies_bouldin_score(x, &fit.labels)?),
            )
        } else {
            (None, None, None)
        };
        let stability = if subsamples.is_empty() || sub_size < k {
            None
        } else {
            let mut total = 0.0;
            for (a, sa, b, sb) in &subsamples {
                let fa = KMeans {
                    k,
                    seed: *sa,
                    ..params.kmeans.clone()
                }
                .fit(&x.select_rows(a))?;
                let fb = KMeans {
                    k,
                    seed: *sb,
                    ..params.kmeans.clone()
                }
                .fit(&x.select_rows(b))?;
                let la = predict(&fa.centers, eval_view)?;
                let lb = predict(&fb.centers, eval_view)?;
                total += metrics::adjusted_rand_index(&la, &lb)?;
            }
            Some(total / subsamples.len() as f64)
        };
        rows.push(KRow {
            k,
            inertia: fit.inertia,
            silhouette,
            silhouette_sampled: sampled,
            calinski_harabasz: ch,
            davies_bouldin: db,
            min_share,
            stability,
            meets_min_share: min_share >= params.min_share,
            meets_stability: stability.is_none_or(|s| s >= params.min_stability),
            n_iter: fit.n_iter,
            converged: fit.converged,
        });
        fits.push(fit);
    }
    let (k, rule) = choose(&rows);
    let reason = explain(&rows, k, rule, params);
    let fit = fits.swap_remove(k - params.k_min);
    Ok((
        Selection {
            k,
            rule,
            reason,
            rows,
        },
        fit,
    ))
}

fn check_params(p: &SelectParams, n: usize) -> Result<(), ClusterError> {
    if p.k_min < 2 || p.k_max < p.k_min {
        return Err(invalid(
            "k range",
            format!("need 2 ≤ k_min ≤ k_max, got {}..={}", p.k_min, p.k_max),
        ));
    }
    if p.k_max >= n {
        return Err(invalid(
            "k_max",
            format!(
                "must be below the number of rows ({n}) for the metrics, got {}",
                p.k_max
            ),
        ));
    }
    if !(0.0..=1.0).contains(&p.min_share) {
        return Err(invalid(
            "min_share",
            format!("must be in [0, 1], got {}", p.min_share),
        ));
    }
    if !(p.subsample_fraction > 0.0 && p.subsample_fraction <= 1.0) {
        return Err(invalid(
            "subsample_fraction",
            format!("must be in (0, 1], got {}", p.subsample_fraction),
        ));
    }
    if !p.min_stability.is_finite() {
        return Err(invalid("min_stability", "must be finite"));
    }
    if p.silhouette_sample_size == 0 {
        return Err(invalid("silhouette_sample_size", "must be at least 1"));
    }
    if p.stability_pairs > 0 && p.stability_eval_rows == 0 {
        return Err(invalid("stability_eval_rows", "must be at least 1"));
    }
    Ok(())
}

/// Highest silhouette among `candidates`, ties to the smaller `k` (rows are in increasing
/// `k`).
fn best_silhouette<'r>(candidates: impl Iterator<Item = &'r KRow>) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for r in candidates {
        if let Some(s) = r.silhouette
            && best.is_none_or(|(b, _)| s > b)
        {
            best = Some((s, r.k));
        }
    }
    best.map(|(_, k)| k)
}

fn choose(rows: &[KRow]) -> (usize, Rule) {
    if let Some(k) = best_silhouette(
        rows.iter()
            .filter(|r| r.meets_min_share && r.meets_stability),
    ) {
        return (k, Rule::Qualified);
    }
    if let Some(k) = best_silhouette(rows.iter().filter(|r| r.meets_min_share)) {
        return (k, Rule::IgnoringStability);
    }
    let mut best = &rows[0];
    for r in rows {
        if r.min_share > best.min_share {
            best = r;
        }
    }
    (best.k, Rule::LargestSmallestCluster)
}

fn pct(v: f64) -> String {
    let p = v * 100.0;
    if p == p.round() {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn explain(rows: &[KRow], k: usize, rule: Rule, p: &SelectParams) -> String {
    let chosen = rows.iter().find(|r| r.k == k).expect("chosen k is a row");
    let share = pct(p.min_share);
    let stab = p.stability_pairs > 0;
    let sil = |r: &KRow| {
        r.silhouette
            .map_or("n/a".to_string(), |s| format!("{s:.3}"))
    };
    let mut s = match rule {
        Rule::Qualified if stab => format!(
            "k = {k}: highest silhouette ({}) among k with every cluster ≥ {share} of customers \
             and stability ≥ {}",
            sil(chosen),
            p.min_stability
        ),
        Rule::Qualified => format!(
            "k = {k}: highest silhouette ({}) among k with every cluster ≥ {share} of customers",
            sil(chosen)
        ),
        Rule::IgnoringStability => format!(
            "k = {k}: no k had every cluster ≥ {share} of customers and stability ≥ {}, so \
             stability was not required; highest silhouette ({}) among k with every cluster \
             ≥ {share}",
            p.min_stability,
            sil(chosen)
        ),
        Rule::LargestSmallestCluster => format!(
            "k = {k}: no k had every cluster ≥ {share} of customers, so the k whose smallest \
             cluster is largest ({}) was chosen",
            pct(chosen.min_share)
        ),
    };
    // Why k with a higher silhouette were passed over.
    if rule != Rule::LargestSmallestCluster {
        let target = chosen.silhouette.unwrap_or(f64::NEG_INFINITY);
        for r in rows
            .iter()
            .filter(|r| r.silhouette.is_some_and(|v| v > target))
        {
            let mut why = Vec::new();
            if !r.meets_min_share {
                why.push(format!("a cluster of {}", pct(r.min_share)));
            }
            if rule == Rule::Qualified && !r.meets_stability {
                why.push(format!("stability {:.2}", r.stability.unwrap_or(f64::NAN)));
            }
            if !why.is_empty() {
                s.push_str(&format!(
                    "; k = {} (silhouette {}) had {}",
                    r.k,
                    sil(r),
                    why.join(" and ")
                ));
            }
        }
    }
    s
}
