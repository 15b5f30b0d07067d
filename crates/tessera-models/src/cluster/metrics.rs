//! Quality of a clustering: silhouette (Rousseeuw 1987), Calinski–Harabasz (Caliński &
//! Harabasz 1974), Davies–Bouldin (Davies & Bouldin 1979) and the adjusted Rand index
//! (Hubert & Arabie 1985).
//!
//! Each function gives the value of the scikit-learn function of the same name (checked
//! against scikit-learn 1.9.1 in the crate's reference tests), including its special cases.
//! Labels are arbitrary `u32` values: the clusters are the distinct labels present, so
//! unused label values do not count. Distances are Euclidean.
//!
//! ```
//! use tessera_models::cluster::Matrix;
//! use tessera_models::cluster::metrics::{adjusted_rand_index, silhouette_score};
//!
//! let x = Matrix::from_rows(&[[0.0], [1.0], [10.0], [11.0]])?;
//! // Rows 0 and 11: a = 1, b = 10.5; rows 1 and 10: a = 1, b = 9.5; s = (b − a) / b.
//! let want = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
//! assert!((silhouette_score(&x, &[0, 0, 1, 1])? - want).abs() < 1e-12);
//! assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 3, 3])?, 1.0);
//! # Ok::<(), tessera_models::cluster::ClusterError>(())
//! ```

use rayon::prelude::*;

use super::error::{ClusterError, invalid};
use super::kernels::{CentersT, Dim, Fixed, LANES, block_sqdist, dispatch_dim, sqdist};
use super::matrix::MatrixRef;
use super::rng::{rng_from, sample_indices};

/// Rows per parallel task of the silhouette; small, as each row costs a pass over all rows.
const SIL_CHUNK: usize = 64;
/// Rows whose distances to the other rows are computed together, sharing each loaded row
/// (a multiple of the kernel's lanes).
const SIL_BLOCK: usize = 8;

/// Labels renumbered `0..m` in increasing order of the original label, and `m`.
pub(crate) fn dense_labels(labels: &[u32]) -> (Vec<u32>, usize) {
    let max = labels.iter().copied().max().map_or(0, |m| m as usize);
    if max <= labels.len().max(1 << 16) {
        let mut map = vec![u32::MAX; max + 1];
        for &l in labels {
            map[l as usize] = 0;
        }
        let mut m = 0u32;
        for v in map.iter_mut() {
            if *v == 0 {
                *v = m;
                m += 1;
            }
        }
        (
            labels.iter().map(|&l| map[l as usize]).collect(),
            m as usize,
        )
    } else {
        let mut distinct = labels.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let dense = labels
            .iter()
            .map(|l| distinct.binary_search(l).unwrap_or(0) as u32)
            .collect();
        (dense, distinct.len())
    }
}

fn check_xl(x: MatrixRef<'_>, labels: &[u32]) -> Result<(Vec<u32>, usize), ClusterError> {
    x.check_nonempty()?;
    if labels.len() != x.rows() {
        return Err(ClusterError::DimensionMismatch {
            what: "number of labels against rows of the data",
            expected: x.rows(),
            got: labels.len(),
        });
    }
    x.check_finite()?;
    let (dense, m) = dense_labels(labels);
    if !(2..x.rows()).contains(&m) {
        return Err(ClusterError::LabelCount {
            labels: m,
            max: x.rows().saturating_sub(1),
        });
    }
    Ok((dense, m))
}

/// The silhouette of every row (Rousseeuw 1987): with `a` the mean distance to the other rows
/// of its cluster and `b` the smallest mean distance to the rows of another cluster,
/// `s = (b − a) / max(a, b)`, and `s = 0` for a row alone in its cluster (or where
/// `a = b = 0`).
///
/// Exact, `O(n² d)`: rows are processed in parallel in fixed chunks, each row's sums in row
/// order, so the result does not depend on the number of threads. Needs between 2 and
/// `n − 1` distinct labels ([`ClusterError::LabelCount`]), as scikit-learn.
pub fn silhouette_samples<'a>(
    x: impl Into<MatrixRef<'a>>,
    labels: &[u32],
) -> Result<Vec<f64>, ClusterError> {
    let x = x.into();
    let (dense, m) = check_xl(x, labels)?;
    let rows: Vec<usize> = (0..x.rows()).collect();
    Ok(silhouette_of_rows(x, &dense, m, &rows))
}

/// The mean of [`silhouette_samples`]: scikit-learn's `silhouette_score` with
/// `sample_size=None`.
pub fn silhouette_score<'a>(
    x: impl Into<MatrixRef<'a>>,
    labels: &[u32],
) -> Result<f64, ClusterError> {
    let s = silhouette_samples(x, labels)?;
    Ok(s.iter().sum::<f64>() / s.len() as f64)
}

/// The mean silhouette of `sample_size` rows drawn without replacement (seeded), each
/// measured against all rows: an unbiased estimate of [`silhouette_score`] in
/// `O(sample_size × n × d)`. With `sample_size ≥ n` it is the exact score.
///
/// This differs from scikit-learn's `silhouette_score(sample_size=…)`, which computes the
/// silhouette of the sampled rows against the sampled rows only; to reproduce that, pass the
/// sampled rows to [`silhouette_score`].
pub fn silhouette_score_sampled<'a>(
    x: impl Into<MatrixRef<'a>>,
    labels: &[u32],
    sample_size: usize,
    seed: u64,
) -> Result<f64, ClusterError> {
    let x = x.into();
    if sample_size == 0 {
        return Err(invalid("sample_size", "must be at least 1"));
    }
    let (dense, m) = check_xl(x, labels)?;
    let rows = if sample_size >= x.rows() {
        (0..x.rows()).collect()
    } else {
        sample_indices(&mut rng_from(seed), x.rows(), sample_size)
    };
    let s = silhouette_of_rows(x, &dense, m, &rows);
    Ok(s.iter().sum::<f64>() / s.len() as f64)
}

fn silhouette_of_rows(x: MatrixRef<'_>, dense: &[u32], m: usize, rows: &[usize]) -> Vec<f64> {
    let d = x.cols();
    // The rows grouped by cluster (a stable counting sort): each cluster's rows are then
    // contiguous, so a row's summed distance to a cluster is a plain running sum over a range
    // (the same additions, in the same order, as scattering over all rows by label).
    let mut start = vec![0usize; m + 1];
    for &l in dense {
        start[l as usize + 1] += 1;
    }
    for c in 0..m {
        start[c + 1] += start[c];
    }
    let mut next = start.clone();
    let mut grouped = vec![0.0f64; x.rows() * d];
    for (xr, &l) in x.iter_rows().zip(dense) {
        let p = next[l as usize];
        grouped[p * d..(p + 1) * d].copy_from_slice(xr);
        next[l as usize] += 1;
    }
    let mut out = vec![0.0f64; rows.len()];
    dispatch_dim!(d, |dm| {
        out.par_chunks_mut(SIL_CHUNK)
            .zip(rows.par_chunks(SIL_CHUNK))
            .for_each(|(oc, rc)| silhouette_chunk(dm, x, dense, &grouped, &start, rc, oc));
    });
    out
}

/// Silhouettes of the rows `rows`, [`SIL_BLOCK`] at a time: the block's rows play the part of
/// centres in the distance kernel, so each data row is loaded once per block and its
/// distances to the block's rows are computed together.
fn silhouette_chunk<D: Dim>(
    dm: D,
    x: MatrixRef<'_>,
    dense: &[u32],
    grouped: &[f64],
    start: &[usize],
    rows: &[usize],
    out: &mut [f64],
) {
    const BLOCKS: usize = SIL_BLOCK / LANES;
    let (m, d) = (start.len() - 1, dm.get());
    let w = d * LANES;
    let mut sums = vec![0.0f64; SIL_BLOCK * m];
    let mut block = Vec::with_capacity(SIL_BLOCK * d);
    for (rb, ob) in rows.chunks(SIL_BLOCK).zip(out.chunks_mut(SIL_BLOCK)) {
        block.clear();
        // A short last block repeats its last row; those lanes are not read.
        for r in 0..SIL_BLOCK {
            block.extend_from_slice(x.row(rb[r.min(rb.len() - 1)]));
        }
        let ct = CentersT::new(&block, SIL_BLOCK, d);
        let t = ct.blocks(dm, Fixed::<BLOCKS>);
        for c in 0..m {
            let mut acc = [[0.0f64; LANES]; BLOCKS];
            for xj in grouped[start[c] * d..start[c + 1] * d].chunks_exact(d) {
                for (b, ab) in acc.iter_mut().enumerate() {
                    let dist = block_sqdist(dm, xj, &t[b * w..(b + 1) * w]);
                    for l in 0..LANES {
                        ab[l] += dist[l].sqrt();
                    }
                }
            }
            for r in 0..rb.len() {
                sums[r * m + c] = acc[r / LANES][r % LANES];
            }
        }
        for (r, (&i, o)) in rb.iter().zip(ob.iter_mut()).enumerate() {
            let own = dense[i] as usize;
            let size = |c: usize| start[c + 1] - start[c];
            if size(own) <= 1 {
                *o = 0.0;
                continue;
            }
            let s = &sums[r * m..(r + 1) * m];
            let a = s[own] / (size(own) - 1) as f64;
            let b = (0..m)
                .filter(|&c| c != own)
                .map(|c| s[c] / size(c) as f64)
                .fold(f64::INFINITY, f64::min);
            let den = a.max(b);
            *o = if den > 0.0 { (b - a) / den } else { 0.0 };
        }
    }
}

/// Per-cluster sizes and means of the rows (dense labels `0..m`).
fn cluster_means(x: MatrixRef<'_>, dense: &[u32], m: usize) -> (Vec<usize>, Vec<f64>) {
    let d = x.cols();
    let mut sizes = vec![0usize; m];
    let mut means = vec![0.0f64; m * d];
    for (xr, &l) in x.iter_rows().zip(dense) {
        let l = l as usize;
        sizes[l] += 1;
        for (s, v) in means[l * d..(l + 1) * d].iter_mut().zip(xr) {
            *s += *v;
        }
    }
    for (c, &n) in sizes.iter().enumerate() {
        for v in &mut means[c * d..(c + 1) * d] {
            *v /= n as f64;
        }
    }
    (sizes, means)
}

/// The Calinski–Harabasz index (Caliński & Harabasz 1974), the variance ratio criterion:
/// `[B / (m − 1)] / [W / (n − m)]` with `B = Σ_c n_c ‖μ_c − μ‖²` the between-cluster and
/// `W = Σ_i ‖x_i − μ_{c(i)}‖²` the within-cluster dispersion, `m` the number of clusters.
/// Higher is better. 1.0 when `W = 0`, as scikit-learn. Needs 2 to `n − 1` clusters.
pub fn calinski_harabasz_score<'a>(
    x: impl Into<MatrixRef<'a>>,
    labels: &[u32],
) -> Result<f64, ClusterError> {
    let x = x.into();
    let (dense, m) = check_xl(x, labels)?;
    let (n, d) = (x.rows(), x.cols());
    let (sizes, means) = cluster_means(x, &dense, m);
    let mut mean = vec![0.0f64; d];
    for xr in x.iter_rows() {
        for (s, v) in mean.iter_mut().zip(xr) {
            *s += *v;
        }
    }
    for v in &mut mean {
        *v /= n as f64;
    }
    let mut between = 0.0;
    for c in 0..m {
        let dist: f64 = means[c * d..(c + 1) * d]
            .iter()
            .zip(&mean)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        between += sizes[c] as f64 * dist;
    }
    let mut within = 0.0;
    for (xr, &l) in x.iter_rows().zip(&dense) {
        let l = l as usize;
        within += dispatch_dim!(d, |dm| sqdist(dm, xr, &means[l * d..(l + 1) * d]));
    }
    if within == 0.0 {
        return Ok(1.0);
    }
    Ok(between * (n - m) as f64 / (within * (m as f64 - 1.0)))
}

/// The Davies–Bouldin index (Davies & Bouldin 1979): with `s_c` the mean distance of the rows
/// of cluster `c` to its centroid and `M_cj` the distance between centroids, the mean over
/// clusters of `max_{j ≠ c} (s_c + s_j) / M_cj`. Lower is better. As scikit-learn: 0.0 when
/// every `s_c` or every `M_cj` is within 1e-8 of 0, and coincident centroids are ignored in
/// the maximum. Needs 2 to `n − 1` clusters.
pub fn davies_bouldin_score<'a>(
    x: impl Into<MatrixRef<'a>>,
    labels: &[u32],
) -> Result<f64, ClusterError> {
    let x = x.into();
    let (dense, m) = check_xl(x, labels)?;
    let d = x.cols();
    let (sizes, means) = cluster_means(x, &dense, m);
    let mut scatter = vec![0.0f64; m];
    for (xr, &l) in x.iter_rows().zip(&dense) {
        let l = l as usize;
        scatter[l] += dispatch_dim!(d, |dm| sqdist(dm, xr, &means[l * d..(l + 1) * d])).sqrt();
    }
    for (s, &n) in scatter.iter_mut().zip(&sizes) {
        *s /= n as f64;
    }
    let mut sep = vec![0.0f64; m * m];
    for a in 0..m {
        for b in 0..m {
            sep[a * m + b] = dispatch_dim!(d, |dm| sqdist(
                dm,
                &means[a * d..(a + 1) * d],
                &means[b * d..(b + 1) * d]
            ))
            .sqrt();
        }
    }
    const ATOL: f64 = 1e-8;
    if scatter.iter().all(|s| s.abs() <= ATOL) || sep.iter().all(|s| s.abs() <= ATOL) {
        return Ok(0.0);
    }
    let mut total = 0.0;
    for a in 0..m {
        let mut worst = f64::NEG_INFINITY;
        for b in 0..m {
            let dist = sep[a * m + b];
            let ratio = if dist == 0.0 {
                0.0
            } else {
                (scatter[a] + scatter[b]) / dist
            };
            worst = worst.max(ratio);
        }
        total += worst;
    }
    Ok(total / m as f64)
}

/// The adjusted Rand index of two labelings of the same rows (Hubert & Arabie 1985): the Rand
/// index corrected for chance, 1 for identical partitions (whatever the label values), about
/// 0 for independent ones, and negative for worse than chance. Symmetric.
///
/// Computed as scikit-learn does, from the pair confusion matrix derived from the
/// contingency table, in exact integer arithmetic:
/// `2 (tp·tn − fn·fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))`, and 1.0 when there are
/// no disagreeing pairs (`fn = fp = 0`), which covers no rows, one row, and both labelings
/// putting every row in one cluster (or every row alone).
pub fn adjusted_rand_index(a: &[u32], b: &[u32]) -> Result<f64, ClusterError> {
    if a.len() != b.len() {
        return Err(ClusterError::DimensionMismatch {
            what: "lengths of the two labelings",
            expected: a.len(),
            got: b.len(),
        });
    }
    let n = a.len() as i128;
    let (da, ka) = dense_labels(a);
    let (db, kb) = dense_labels(b);
    // Sum of squares of the contingency table's cells.
    let cells: i128 = if ka.saturating_mul(kb) <= 1 << 22 {
        let mut table = vec![0u64; ka * kb];
        for (&i, &j) in da.iter().zip(&db) {
            table[i as usize * kb + j as usize] += 1;
        }
        table.iter().map(|&c| i128::from(c) * i128::from(c)).sum()
    } else {
        let mut pairs: Vec<u64> = da
            .iter()
            .zip(&db)
            .map(|(&i, &j)| (u64::from(i) << 32) | u64::from(j))
            .collect();
        pairs.sort_unstable();
        let mut total = 0i128;
        let mut run = 0i128;
        for w in 0..pairs.len() {
            run += 1;
            if w + 1 == pairs.len() || pairs[w + 1] != pairs[w] {
                total += run * run;
                run = 0;
            }
        }
        total
    };
    let squares = |dense: &[u32], k: usize| -> i128 {
        let mut counts = vec![0u64; k];
        for &l in dense {
            counts[l as usize] += 1;
        }
        counts.iter().map(|&c| i128::from(c) * i128::from(c)).sum()
    };
    let (rows_sq, cols_sq) = (squares(&da, ka), squares(&db, kb));
    let tp = cells - n;
    let fp = cols_sq - cells;
    let fn_ = rows_sq - cells;
    let tn = n * n - fp - fn_ - cells;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let num = tp
        .checked_mul(tn)
        .zip(fn_.checked_mul(fp))
        .map(|(p, q)| p - q);
    let den = (tp + fn_)
        .checked_mul(fn_ + tn)
        .zip((tp + fp).checked_mul(fp + tn))
        .map(|(p, q)| p + q);
    Ok(match (num, den) {
        (Some(num), Some(den)) => 2.0 * (num as f64) / den as f64,
        // Beyond i128 (more than about 4 × 10^9 rows): in floating point.
        _ => {
            let (tp, tn, fp, fn_) = (tp as f64, tn as f64, fp as f64, fn_ as f64);
            2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn))
        }
    })
}
