//! k-prototypes (Huang 1997, 1998): clustering of rows with numeric and categorical features.
//!
//! The dissimilarity of a row `(x, c)` (numeric `x`, categorical codes `c`) to a prototype
//! `(μ, m)` is `‖x − μ‖² + γ × #{j : c_j ≠ m_j}`: squared Euclidean distance on the numeric
//! features plus `γ` per mismatching categorical feature. A prototype holds the mean of its
//! rows' numeric features and the mode of each categorical feature; a tie between modes goes
//! to the smallest code. The cost is the sum over rows of the dissimilarity to their
//! prototype.
//!
//! * `γ` defaults to Huang's suggestion (1997: between ⅓ and ⅔ of the average standard
//!   deviation of the numeric features): `0.5 ×` the mean population standard deviation of
//!   the numeric columns (1 when there are none, or when all are constant).
//! * Initialisation: k-means++ on the mixed dissimilarity (the seeding of
//!   [`crate::cluster::kmeans_plusplus`] with `d(row, prototype)` in place of the squared
//!   distance): the first prototype is a uniformly random row, each next one the best of
//!   `2 + floor(ln k)` rows drawn with probability proportional to their dissimilarity to the
//!   nearest prototype so far. Prototypes start as copies of rows.
//! * Iteration is batch (Lloyd-style) rather than Huang's row-by-row updates: every row moves
//!   to its nearest prototype, then every prototype is recomputed from its rows. A row moves
//!   only to a strictly nearer prototype (ties keep it where it is; for a row with no cluster
//!   yet, ties go to the smaller index), so the cost never increases and the iteration ends
//!   when no row moves, or after `max_iter` iterations, after which the rows are assigned
//!   once more so that labels always belong to the returned prototypes. An emptied cluster is
//!   given the row farthest from its prototype, as in k-means.
//! * `n_init` runs from different seeds; the lowest cost is kept (the first on ties).
//!
//! ```
//! use tessera_models::cluster::{KPrototypes, Matrix};
//! use tessera_models::cluster::kprototypes::Categorical;
//!
//! let num = Matrix::from_rows(&[[0.0], [0.1], [5.0], [5.1]])?;
//! let codes = [7, 7, 2, 2];
//! let cat = Categorical::new(&codes, 4, 1)?;
//! let fit = KPrototypes::new(2).seed(3).fit(&num, cat)?;
//! assert_eq!(fit.labels[0], fit.labels[1]);
//! assert_ne!(fit.labels[0], fit.labels[2]);
//! assert_eq!(fit.modes[fit.labels[0] as usize], 7);
//! # Ok::<(), tessera_models::cluster::ClusterError>(())
//! ```

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{ClusterError, invalid};
use super::kernels::{CHUNK_ROWS, column_mean_var, n_chunks};
use super::matrix::{Matrix, MatrixRef};
use super::rng::{ClusterRng, child_seed, rng_from, uniform_index, uniform01};

/// A borrowed `rows × cols` row-major matrix of categorical codes (`u32`), e.g. the dictionary
/// codes of a string column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Categorical<'a> {
    codes: &'a [u32],
    rows: usize,
    cols: usize,
}

impl<'a> Categorical<'a> {
    /// Views `codes` as `rows × cols`; an error unless `codes.len() == rows × cols`.
    pub fn new(codes: &'a [u32], rows: usize, cols: usize) -> Result<Self, ClusterError> {
        if rows.checked_mul(cols) != Some(codes.len()) {
            return Err(ClusterError::Shape {
                rows,
                cols,
                expected: rows.saturating_mul(cols),
                got: codes.len(),
            });
        }
        Ok(Categorical { codes, rows, cols })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`; panics if out of range.
    pub fn row(&self, i: usize) -> &'a [u32] {
        &self.codes[i * self.cols..(i + 1) * self.cols]
    }
}

/// k-prototypes parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPrototypes {
    /// Number of clusters, `1 ≤ k ≤ rows`.
    pub k: usize,
    /// Weight of one categorical mismatch; `None` (default) is `0.5 ×` the mean standard
    /// deviation of the numeric columns.
    pub gamma: Option<f64>,
    /// Runs from different seeds; the lowest cost is kept. Default 5.
    pub n_init: usize,
    /// Most iterations per run. Default 100.
    pub max_iter: usize,
    /// Seed of every random choice. Default 0.
    pub seed: u64,
}

/// The result of [`KPrototypes::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPrototypesFit {
    /// Numeric part of the prototypes, `k × p` (cluster means).
    pub centers: Matrix,
    /// Categorical part of the prototypes, `k × q` row-major (cluster modes).
    pub modes: Vec<u32>,
    /// Cluster of each row.
    pub labels: Vec<u32>,
    /// Sum over rows of the dissimilarity to their prototype.
    pub cost: f64,
    /// The `γ` used.
    pub gamma: f64,
    /// Iterations of the kept run.
    pub n_iter: usize,
    /// Whether the kept run ended because no row moved.
    pub converged: bool,
}

impl KPrototypes {
    /// Parameters for `k` clusters: default `γ`, 5 runs, at most 100 iterations, seed 0.
    pub fn new(k: usize) -> Self {
        KPrototypes {
            k,
            gamma: None,
            n_init: 5,
            max_iter: 100,
            seed: 0,
        }
    }

    /// Sets [`KPrototypes::gamma`].
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.gamma = Some(gamma);
        self
    }

    /// Sets [`KPrototypes::n_init`].
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Sets [`KPrototypes::max_iter`].
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets [`KPrototypes::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Clusters rows given as numeric features `numeric` (`n × p`, finite; `p` may be 0) and
    /// categorical codes `categorical` (`n × q`). At least one feature is needed.
    ///
    /// Errors: [`ClusterError::EmptyInput`], [`ClusterError::DimensionMismatch`] if the two
    /// parts have different row counts, [`ClusterError::NonFinite`],
    /// [`ClusterError::ZeroClusters`], [`ClusterError::TooManyClusters`] and
    /// [`ClusterError::InvalidParameter`] (a negative or non-finite `γ`, `n_init` or
    /// `max_iter` of 0).
    pub fn fit<'a>(
        &self,
        numeric: impl Into<MatrixRef<'a>>,
        categorical: Categorical<'_>,
    ) -> Result<KPrototypesFit, ClusterError> {
        let num = numeric.into();
        let n = num.rows();
        if categorical.rows() != n {
            return Err(ClusterError::DimensionMismatch {
                what: "rows of the categorical part against rows of the numeric part",
                expected: n,
                got: categorical.rows(),
            });
        }
        let (p, q) = (num.cols(), categorical.cols());
        if n == 0 || p + q == 0 {
            return Err(ClusterError::EmptyInput {
                rows: n,
                cols: p + q,
            });
        }
        if n > u32::MAX as usize {
            return Err(ClusterError::TooManyRows { rows: n });
        }
        num.check_finite()?;
        super::kmeans::check_k(self.k, n)?;
        if self.n_init == 0 {
            return Err(invalid("n_init", "must be at least 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", "must be at least 1"));
        }
        let gamma = match self.gamma {
            Some(g) if g.is_finite() && g >= 0.0 => g,
            Some(g) => return Err(invalid("gamma", format!("must be finite and ≥ 0, got {g}"))),
            None => default_gamma(num),
        };
        let cats = DenseCats::new(categorical);
        let data = Data {
            num,
            cats: &cats,
            gamma,
        };
        let mut master = rng_from(self.seed);
        let mut best: Option<KPrototypesFit> = None;
        for _ in 0..self.n_init {
            let mut rng = rng_from(child_seed(&mut master));
            let fit = run(&data, self.k, self.max_iter, &mut rng);
            if best.as_ref().is_none_or(|b| fit.cost < b.cost) {
                best = Some(fit);
            }
        }
        Ok(best.expect("n_init ≥ 1"))
    }
}

/// Huang's default `γ`: half the mean population standard deviation of the numeric columns,
/// or 1 when there are no numeric columns or all are constant.
pub fn default_gamma<'a>(numeric: impl Into<MatrixRef<'a>>) -> f64 {
    let num = numeric.into();
    if num.cols() == 0 || num.rows() == 0 {
        return 1.0;
    }
    let (_, var) = column_mean_var(num.as_slice(), num.cols());
    let mean_std = var.iter().map(|v| v.sqrt()).sum::<f64>() / num.cols() as f64;
    if mean_std > 0.0 && mean_std.is_finite() {
        0.5 * mean_std
    } else {
        1.0
    }
}

/// Largest `k × levels` table of counts used for the modes of a column; beyond it the counts
/// come from sorting (cluster, code) pairs.
const DENSE_COUNTS: usize = 1 << 22;

/// Categorical codes renumbered per column to `0..levels[j]` in increasing code order, so a
/// mode tie broken by the smallest dense index is broken by the smallest code.
struct DenseCats {
    dense: Vec<u32>,
    cols: usize,
    /// `codes[j][v]` is the original code of dense value `v` of column `j`.
    codes: Vec<Vec<u32>>,
}

impl DenseCats {
    fn new(c: Categorical<'_>) -> Self {
        let mut dense = vec![0u32; c.codes.len()];
        let mut codes = Vec::with_capacity(c.cols);
        for j in 0..c.cols {
            let mut distinct: Vec<u32> = (0..c.rows).map(|i| c.codes[i * c.cols + j]).collect();
            distinct.sort_unstable();
            distinct.dedup();
            for i in 0..c.rows {
                let v = c.codes[i * c.cols + j];
                dense[i * c.cols + j] = distinct.binary_search(&v).unwrap_or(0) as u32;
            }
            codes.push(distinct);
        }
        DenseCats {
            dense,
            cols: c.cols,
            codes,
        }
    }

    fn row(&self, i: usize) -> &[u32] {
        &self.dense[i * self.cols..(i + 1) * self.cols]
    }
}

struct Data<'a> {
    num: MatrixRef<'a>,
    cats: &'a DenseCats,
    gamma: f64,
}

impl Data<'_> {
    fn n(&self) -> usize {
        self.num.rows()
    }

    /// Dissimilarity of row `i` to prototype `(mu, mode)` (dense codes).
    #[inline]
    fn dissim(&self, i: usize, mu: &[f64], mode: &[u32]) -> f64 {
        let mut s = 0.0;
        for (a, b) in self.num.row(i).iter().zip(mu) {
            let t = a - b;
            s += t * t;
        }
        let mismatches = self
            .cats
            .row(i)
            .iter()
            .zip(mode)
            .filter(|(a, b)| a != b)
            .count();
        s + self.gamma * mismatches as f64
    }
}

/// Prototypes: numeric means `k × p` and dense modes `k × q`.
struct Protos {
    mu: Vec<f64>,
    mode: Vec<u32>,
    p: usize,
    q: usize,
}

impl Protos {
    fn mu(&self, c: usize) -> &[f64] {
        &self.mu[c * self.p..(c + 1) * self.p]
    }
    fn mode(&self, c: usize) -> &[u32] {
        &self.mode[c * self.q..(c + 1) * self.q]
    }
    fn push_row(&mut self, data: &Data<'_>, i: usize) {
        self.mu.extend_from_slice(data.num.row(i));
        self.mode.extend_from_slice(data.cats.row(i));
    }
}

/// Nearest prototype of row `i`; ties keep `current` if it is among the nearest, else go to
/// the smaller index.
fn nearest_proto(data: &Data<'_>, protos: &Protos, k: usize, i: usize, current: u32) -> (u32, f64) {
    let mut best = u32::MAX;
    let mut best_d = f64::INFINITY;
    for c in 0..k {
        let dist = data.dissim(i, protos.mu(c), protos.mode(c));
        if dist < best_d {
            best_d = dist;
            best = c as u32;
        }
    }
    if current != u32::MAX && current != best {
        let cur = data.dissim(
            i,
            protos.mu(current as usize),
            protos.mode(current as usize),
        );
        if cur <= best_d {
            return (current, cur);
        }
    }
    (best, best_d)
}

fn init_protos(data: &Data<'_>, k: usize, rng: &mut ClusterRng) -> Protos {
    let n = data.n();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut protos = Protos {
        mu: Vec::with_capacity(k * data.num.cols()),
        mode: Vec::with_capacity(k * data.cats.cols),
        p: data.num.cols(),
        q: data.cats.cols,
    };
    protos.push_row(data, uniform_index(rng, n));
    let mut closest: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| data.dissim(i, protos.mu(0), protos.mode(0)))
        .collect();
    for _ in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let r = uniform01(rng) * total;
            let mut run = 0.0;
            let mut pick = None;
            for (i, &w) in closest.iter().enumerate() {
                if w > 0.0 {
                    run += w;
                    pick = Some(i);
                    if run > r {
                        break;
                    }
                }
            }
            let cand = pick.unwrap_or_else(|| uniform_index(rng, n));
            let (mu, mode) = (data.num.row(cand), data.cats.row(cand));
            let updated: Vec<f64> = closest
                .par_iter()
                .enumerate()
                .map(|(i, &w)| w.min(data.dissim(i, mu, mode)))
                .collect();
            let pot: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|b| pot < b.0) {
                best = Some((pot, cand, updated));
            }
        }
        let (_, cand, updated) = best.expect("at least two trials");
        protos.push_row(data, cand);
        closest = updated;
    }
    protos
}

fn run(data: &Data<'_>, k: usize, max_iter: usize, rng: &mut ClusterRng) -> KPrototypesFit {
    let (n, p, q) = (data.n(), data.num.cols(), data.cats.cols);
    let mut protos = init_protos(data, k, rng);
    let mut labels = vec![u32::MAX; n];
    let mut dist = vec![0.0f64; n];
    let mut n_iter = 0;
    let mut converged = false;
    for _ in 0..max_iter {
        n_iter += 1;
        if assign(data, &protos, k, &mut labels, &mut dist) == 0 {
            converged = true;
            break;
        }
        update_protos(data, k, &mut labels, &mut dist, &mut protos);
    }
    if !converged {
        // Stopped by max_iter after moving the prototypes: assign once more so the labels
        // are those of the final prototypes.
        assign(data, &protos, k, &mut labels, &mut dist);
    }
    // Cost of the final labels against the final prototypes, summed in chunk order.
    let partial: Vec<f64> = (0..n_chunks(n))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n))
                .map(|i| {
                    let l = labels[i] as usize;
                    data.dissim(i, protos.mu(l), protos.mode(l))
                })
                .sum::<f64>()
        })
        .collect();
    let modes = (0..k * q)
        .map(|t| data.cats.codes[t % q][protos.mode[t] as usize])
        .collect();
    KPrototypesFit {
        centers: Matrix::new(protos.mu, k, p).expect("k × p prototypes"),
        modes,
        labels,
        cost: partial.iter().sum(),
        gamma: data.gamma,
        n_iter,
        converged,
    }
}

/// Moves every row to its nearest prototype (see [`nearest_proto`]), recording the
/// dissimilarity in `dist`; returns how many rows moved.
fn assign(
    data: &Data<'_>,
    protos: &Protos,
    k: usize,
    labels: &mut [u32],
    dist: &mut [f64],
) -> usize {
    labels
        .par_chunks_mut(CHUNK_ROWS)
        .zip(dist.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .map(|(c, (lc, dc))| {
            let mut moved = 0;
            for (r, (l, dd)) in lc.iter_mut().zip(dc.iter_mut()).enumerate() {
                let (b, bd) = nearest_proto(data, protos, k, c * CHUNK_ROWS + r, *l);
                if b != *l {
                    moved += 1;
                    *l = b;
                }
                *dd = bd;
            }
            moved
        })
        .sum()
}

/// Means and modes of the clusters of `labels`; an empty cluster takes the row farthest from
/// its prototype (by `dist`, ties to the smaller row), which changes that row's label.
fn update_protos(
    data: &Data<'_>,
    k: usize,
    labels: &mut [u32],
    dist: &mut [f64],
    protos: &mut Protos,
) {
    let (p, q) = (protos.p, protos.q);
    let mut sizes = vec![0usize; k];
    for &l in labels.iter() {
        sizes[l as usize] += 1;
    }
    for c in 0..k {
        if sizes[c] > 0 {
            continue;
        }
        let far = (0..labels.len())
            .filter(|&i| sizes[labels[i] as usize] > 1)
            .max_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(b.cmp(&a)));
        if let Some(i) = far {
            sizes[labels[i] as usize] -= 1;
            labels[i] = c as u32;
            dist[i] = 0.0;
            sizes[c] = 1;
        }
    }
    let mut sums = vec![0.0f64; k * p];
    for (i, &l) in labels.iter().enumerate() {
        let l = l as usize;
        for (s, v) in sums[l * p..(l + 1) * p].iter_mut().zip(data.num.row(i)) {
            *s += *v;
        }
    }
    for c in 0..k {
        if sizes[c] > 0 {
            for (m, s) in protos.mu[c * p..(c + 1) * p]
                .iter_mut()
                .zip(&sums[c * p..(c + 1) * p])
            {
                *m = *s / sizes[c] as f64;
            }
        }
    }
    for j in 0..q {
        let levels = data.cats.codes[j].len();
        let column: Vec<u32> = (0..labels.len())
            .map(|i| data.cats.dense[i * q + j])
            .collect();
        let modes = column_modes(labels, &column, k, levels, DENSE_COUNTS);
        for c in (0..k).filter(|&c| sizes[c] > 0) {
            protos.mode[c * q + j] = modes[c];
        }
    }
}

/// The mode of `column` (dense codes `0..levels`) within each cluster of `labels`, ties to
/// the smallest code (0 for an empty cluster). Counts in a `k × levels` table when it has at
/// most `dense_limit` cells, else by sorting (cluster, code) pairs.
fn column_modes(
    labels: &[u32],
    column: &[u32],
    k: usize,
    levels: usize,
    dense_limit: usize,
) -> Vec<u32> {
    let mut modes = vec![0u32; k];
    if k.saturating_mul(levels) <= dense_limit {
        let mut counts = vec![0u32; k * levels];
        for (&l, &v) in labels.iter().zip(column) {
            counts[l as usize * levels + v as usize] += 1;
        }
        for (c, mode) in modes.iter_mut().enumerate() {
            let row = &counts[c * levels..(c + 1) * levels];
            // First maximum: the smallest code among the most frequent.
            let mut best = 0;
            for (v, &cnt) in row.iter().enumerate() {
                if cnt > row[best] {
                    best = v;
                }
            }
            *mode = best as u32;
        }
    } else {
        let mut pairs: Vec<u64> = labels
            .iter()
            .zip(column)
            .map(|(&l, &v)| (u64::from(l) << 32) | u64::from(v))
            .collect();
        pairs.sort_unstable();
        let mut best = vec![0usize; k];
        let mut run = 0;
        for w in 0..pairs.len() {
            run += 1;
            if w + 1 == pairs.len() || pairs[w + 1] != pairs[w] {
                let (c, v) = ((pairs[w] >> 32) as usize, pairs[w] as u32);
                // Codes come in increasing order: a tie keeps the smaller code.
                if run > best[c] {
                    best[c] = run;
                    modes[c] = v;
                }
                run = 0;
            }
        }
    }
    modes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sort-based counting gives the modes of the table-based one, ties included.
    #[test]
    fn both_ways_of_counting_modes_agree() {
        let labels: Vec<u32> = (0..500u32).map(|i| (i * 7) % 5).collect();
        let column: Vec<u32> = (0..500u32).map(|i| (i * i + 3 * i) % 11).collect();
        let table = column_modes(&labels, &column, 6, 11, usize::MAX);
        let sorted = column_modes(&labels, &column, 6, 11, 0);
        assert_eq!(table, sorted);
        // Cluster 5 is empty: mode 0.
        assert_eq!(table[5], 0);
    }
}
