//! k-means clustering: greedy k-means++ seeding, Lloyd iterations accelerated with Hamerly's
//! bounds, and mini-batch k-means for large inputs.
//!
//! k-means finds `k` centres that (locally) minimise the inertia, the sum over rows of the
//! squared Euclidean distance to the nearest centre.
//!
//! * Seeding ([`Init::KMeansPlusPlus`], the default) is k-means++ (Arthur & Vassilvitskii
//!   2007) with scikit-learn's greedy local trials: each new centre is the best of
//!   `2 + floor(ln k)` candidates drawn by D² sampling. See [`kmeans_plusplus`].
//! * Iterations ([`Algorithm::Hamerly`], the default) are Lloyd's, skipping distance
//!   computations with Hamerly's bounds (Hamerly 2010); [`Algorithm::Lloyd`] computes every
//!   distance. Both follow scikit-learn's `KMeans(algorithm="lloyd")`: the relative `tol`
//!   is multiplied by the mean of the per-feature variances of the data and compared with
//!   the sum of squared centre moves; a run also stops when no label changes; after a stop by
//!   the tolerance or by `max_iter`, the rows are assigned once more so that labels and
//!   inertia belong to the final centres; empty clusters are relocated to the rows farthest
//!   from their centres. From the same initial centres the results equal scikit-learn's up
//!   to rounding.
//! * Mini-batch k-means (Sculley 2010) replaces the iterations when [`KMeans::mini_batch`] is
//!   set and the input has more rows than [`MiniBatch::above_rows`].
//!
//! Runs are deterministic for a given seed, and independent of the number of rayon threads:
//! every parallel pass works on fixed chunks of rows and adds their partial sums in chunk
//! order.
//!
//! ```
//! use tessera_models::cluster::{KMeans, Matrix};
//!
//! let x = Matrix::from_rows(&[[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0]])?;
//! let fit = KMeans::new(2).seed(7).fit(&x)?;
//! assert_eq!(fit.labels[0], fit.labels[1]);
//! assert_ne!(fit.labels[0], fit.labels[2]);
//! assert!((fit.inertia - 1.0).abs() < 1e-12); // 4 rows, each 0.5 from its centre: 4 × 0.25
//! assert_eq!(fit.predict(&Matrix::from_rows(&[[9.0, 9.0]])?)?, vec![fit.labels[2]]);
//! # Ok::<(), tessera_models::cluster::ClusterError>(())
//! ```

mod lloyd;
mod minibatch;
mod plusplus;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{ClusterError, invalid};
use super::kernels::{CHUNK_ROWS, CentersT, Dim, LANES, column_mean_var, dispatch_shape, nearest};
use super::matrix::{Matrix, MatrixRef};
use super::rng::{child_seed, rng_from, sample_indices};

/// How the initial centres are chosen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Init {
    /// Greedy k-means++ (see [`kmeans_plusplus`]).
    #[default]
    KMeansPlusPlus,
    /// `k` distinct rows drawn uniformly at random.
    Random,
    /// These centres, a `k × d` matrix. With given centres a single run is made whatever
    /// `n_init` says, as there is nothing random to repeat.
    Centers(Matrix),
}

/// How the batch iterations are computed. Both give the same assignments (ties excepted) and
/// follow the same stopping rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Algorithm {
    /// Plain Lloyd: every distance of every row to every centre in each iteration.
    Lloyd,
    /// Lloyd with Hamerly's (2010) bounds, which skip rows that cannot change cluster.
    #[default]
    Hamerly,
}

/// Mini-batch k-means (Sculley 2010) in place of batch iterations for large inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniBatch {
    /// Use mini-batches only when the input has more rows than this.
    pub above_rows: usize,
    /// Rows per batch (drawn uniformly with replacement). Default 1024, as scikit-learn.
    pub batch_size: usize,
    /// Stop after this many consecutive batches without improving the smoothed batch
    /// inertia. Default 10, as scikit-learn.
    pub max_no_improvement: usize,
    /// At most this many passes' worth of batches (`max_epochs × ceil(n / batch_size)`
    /// batches). Default 100, as scikit-learn's `max_iter`.
    pub max_epochs: usize,
    /// k-means++ seeds on this many rows drawn without replacement (all rows if fewer).
    /// Default `3 × batch_size`, as scikit-learn's `init_size`.
    pub init_size: usize,
}

impl Default for MiniBatch {
    fn default() -> Self {
        MiniBatch {
            above_rows: 1_000_000,
            batch_size: 1024,
            max_no_improvement: 10,
            max_epochs: 100,
            init_size: 3 * 1024,
        }
    }
}

/// k-means parameters. Build with [`KMeans::new`] and the setters, or set the fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Number of clusters, `1 ≤ k ≤ rows`.
    pub k: usize,
    /// Initial centres; default [`Init::KMeansPlusPlus`].
    pub init: Init,
    /// Number of runs from different seeds; the run of lowest inertia is kept (the first on
    /// ties). `None` is scikit-learn's `"auto"`: 1 run for k-means++ or given centres, 10 for
    /// random rows.
    pub n_init: Option<usize>,
    /// Most iterations per run; default 300.
    pub max_iter: usize,
    /// Relative tolerance, default 1e-4: a run has converged when the sum of squared centre
    /// moves in an iteration is at most `tol × mean over features of the feature's variance`.
    /// 0 stops only when no label changes.
    pub tol: f64,
    /// Seed of every random choice; default 0.
    pub seed: u64,
    /// Batch iteration method; default [`Algorithm::Hamerly`].
    pub algorithm: Algorithm,
    /// Mini-batch settings; `None` (the default) never uses mini-batches.
    pub mini_batch: Option<MiniBatch>,
}

/// Which method produced a [`KMeansFit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FitMethod {
    /// Plain Lloyd iterations.
    Lloyd,
    /// Lloyd iterations with Hamerly's bounds.
    Hamerly,
    /// Mini-batch k-means, then one full assignment.
    MiniBatch,
}

/// The result of [`KMeans::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansFit {
    /// Final centres, `k × d`.
    pub centers: Matrix,
    /// Cluster of each row, `0..k`; the nearest final centre (ties to the smaller index).
    pub labels: Vec<u32>,
    /// Sum over rows of the squared distance to the centre of their label.
    pub inertia: f64,
    /// Iterations of the kept run (mini-batch: batches).
    pub n_iter: usize,
    /// Whether the kept run stopped by a convergence rule rather than its iteration limit.
    pub converged: bool,
    /// How the kept run was computed.
    pub method: FitMethod,
}

impl Default for KMeans {
    fn default() -> Self {
        KMeans::new(8)
    }
}

impl KMeans {
    /// Parameters for `k` clusters with the defaults of scikit-learn's `KMeans`: k-means++,
    /// `n_init = "auto"`, `max_iter = 300`, `tol = 1e-4`; seed 0; Hamerly's bounds.
    pub fn new(k: usize) -> Self {
        KMeans {
            k,
            init: Init::KMeansPlusPlus,
            n_init: None,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            algorithm: Algorithm::Hamerly,
            mini_batch: None,
        }
    }

    /// Sets [`KMeans::init`].
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Sets [`KMeans::n_init`] to a fixed number of runs.
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = Some(n_init);
        self
    }

    /// Sets [`KMeans::max_iter`].
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets [`KMeans::tol`].
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets [`KMeans::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets [`KMeans::algorithm`].
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets [`KMeans::mini_batch`].
    pub fn mini_batch(mut self, mini_batch: MiniBatch) -> Self {
        self.mini_batch = Some(mini_batch);
        self
    }

    /// The number of runs [`KMeans::fit`] makes.
    pub fn effective_n_init(&self) -> usize {
        match (&self.init, self.n_init) {
            (Init::Centers(_), _) => 1,
            (_, Some(n)) => n,
            (Init::Random, None) => 10,
            (Init::KMeansPlusPlus, None) => 1,
        }
    }

    fn check(&self, x: MatrixRef<'_>) -> Result<(), ClusterError> {
        check_data(x)?;
        check_k(self.k, x.rows())?;
        if self.max_iter == 0 {
            return Err(invalid("max_iter", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(invalid(
                "tol",
                format!("must be finite and ≥ 0, got {}", self.tol),
            ));
        }
        if self.n_init == Some(0) {
            return Err(invalid("n_init", "must be at least 1"));
        }
        if let Init::Centers(c) = &self.init {
            check_centers(c.view(), self.k, x.cols())?;
        }
        if let Some(mb) = &self.mini_batch {
            for (name, v) in [
                ("mini_batch.batch_size", mb.batch_size),
                ("mini_batch.max_no_improvement", mb.max_no_improvement),
                ("mini_batch.max_epochs", mb.max_epochs),
                ("mini_batch.init_size", mb.init_size),
            ] {
                if v == 0 {
                    return Err(invalid(name, "must be at least 1"));
                }
            }
        }
        Ok(())
    }

    /// Clusters the rows of `x` (at least `k` rows, at least one column, all values finite).
    ///
    /// Makes [`KMeans::effective_n_init`] runs, each from its own seed drawn from
    /// [`KMeans::seed`], and keeps the one of lowest inertia.
    ///
    /// Errors: [`ClusterError::EmptyInput`], [`ClusterError::NonFinite`] (naming row and
    /// column), [`ClusterError::ZeroClusters`], [`ClusterError::TooManyClusters`],
    /// [`ClusterError::DimensionMismatch`] for given centres of the wrong shape, and
    /// [`ClusterError::InvalidParameter`].
    pub fn fit<'a>(&self, x: impl Into<MatrixRef<'a>>) -> Result<KMeansFit, ClusterError> {
        let x = x.into();
        self.check(x)?;
        let (n, d, k) = (x.rows(), x.cols(), self.k);
        let tol = if self.tol == 0.0 {
            0.0
        } else {
            let (_, var) = column_mean_var(x.as_slice(), d);
            var.iter().sum::<f64>() / d as f64 * self.tol
        };
        let mini_batch = self.mini_batch.filter(|mb| n > mb.above_rows);
        let mut master = rng_from(self.seed);
        let mut best: Option<lloyd::RunResult> = None;
        for _ in 0..self.effective_n_init() {
            let mut rng = rng_from(child_seed(&mut master));
            let init: Vec<f64> = match &self.init {
                Init::Centers(c) => c.as_slice().to_vec(),
                Init::Random => {
                    let idx = sample_indices(&mut rng, n, k);
                    x.select_rows(&idx).into_vec()
                }
                Init::KMeansPlusPlus => match &mini_batch {
                    Some(mb) if mb.init_size < n => {
                        let idx = sample_indices(&mut rng, n, mb.init_size.max(k));
                        let sub = x.select_rows(&idx);
                        plusplus::plusplus(sub.view(), k, &mut rng)
                    }
                    _ => plusplus::plusplus(x, k, &mut rng),
                },
            };
            let run = match &mini_batch {
                Some(mb) => {
                    let p = minibatch::MiniBatchRun {
                        batch_size: mb.batch_size,
                        max_no_improvement: mb.max_no_improvement,
                        max_epochs: mb.max_epochs,
                    };
                    minibatch::run(x, &init, k, &p, &mut rng)
                }
                None => lloyd::run(
                    x,
                    &init,
                    k,
                    self.max_iter,
                    tol,
                    self.algorithm == Algorithm::Hamerly,
                ),
            };
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        let best = best.expect("at least one run");
        Ok(KMeansFit {
            centers: Matrix::new(best.centers, k, d)?,
            labels: best.labels,
            inertia: best.inertia,
            n_iter: best.n_iter,
            converged: best.converged,
            method: match (mini_batch, self.algorithm) {
                (Some(_), _) => FitMethod::MiniBatch,
                (None, Algorithm::Lloyd) => FitMethod::Lloyd,
                (None, Algorithm::Hamerly) => FitMethod::Hamerly,
            },
        })
    }
}

impl KMeansFit {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centers.rows()
    }

    /// Rows per cluster, indexed by label.
    pub fn cluster_sizes(&self) -> Vec<usize> {
        cluster_sizes(&self.labels, self.k())
    }

    /// The nearest centre of each row of `x` (see [`predict`]).
    pub fn predict<'a>(&self, x: impl Into<MatrixRef<'a>>) -> Result<Vec<u32>, ClusterError> {
        predict(&self.centers, x)
    }
}

/// Rows per cluster: `sizes[j]` counts the labels equal to `j`; labels `≥ k` are ignored.
pub fn cluster_sizes(labels: &[u32], k: usize) -> Vec<usize> {
    let mut sizes = vec![0usize; k];
    for &l in labels {
        if let Some(s) = sizes.get_mut(l as usize) {
            *s += 1;
        }
    }
    sizes
}

/// The nearest of `centers` (by Euclidean distance, ties to the smaller index) for each row
/// of `x`, in parallel. `x` may have no rows; it must have the centres' number of columns and
/// finite values.
pub fn predict<'a, 'b>(
    centers: impl Into<MatrixRef<'a>>,
    x: impl Into<MatrixRef<'b>>,
) -> Result<Vec<u32>, ClusterError> {
    let (c, x) = (centers.into(), x.into());
    c.check_nonempty()?;
    c.check_finite()?;
    if x.cols() != c.cols() {
        return Err(ClusterError::DimensionMismatch {
            what: "columns of the data against columns of the centres",
            expected: c.cols(),
            got: x.cols(),
        });
    }
    x.check_finite()?;
    let mut labels = vec![0u32; x.rows()];
    dispatch_shape!(c.cols(), c.rows().div_ceil(LANES), |dm, bm| assign(
        dm,
        bm,
        x,
        c,
        &mut labels
    ));
    Ok(labels)
}

fn assign<D: Dim, B: Dim>(dm: D, bm: B, x: MatrixRef<'_>, c: MatrixRef<'_>, labels: &mut [u32]) {
    let d = dm.get();
    let ct = CentersT::new(c.as_slice(), c.rows(), d);
    x.as_slice()
        .par_chunks(CHUNK_ROWS * d)
        .zip(labels.par_chunks_mut(CHUNK_ROWS))
        .for_each(|(xc, lc)| {
            for (xr, l) in xc.chunks_exact(d).zip(lc.iter_mut()) {
                *l = nearest(dm, bm, xr, &ct).0;
            }
        });
}

/// Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; the greedy variant of
/// scikit-learn's `_kmeans_plusplus`): `k` rows of `x` chosen as initial centres.
///
/// The first centre is a uniformly random row. Each further centre is the best of
/// `2 + floor(ln k)` candidates, each drawn with probability proportional to its squared
/// distance to the nearest centre so far; "best" is the candidate that minimises the sum of
/// squared distances of all rows to their nearest centre. The random stream differs from
/// numpy's, so the chosen rows differ from scikit-learn's for the same seed. Rows already
/// chosen are never drawn again unless all rows coincide with chosen centres (fewer than `k`
/// distinct rows), when a uniformly random row is taken.
///
/// Errors as [`KMeans::fit`].
pub fn kmeans_plusplus<'a>(
    x: impl Into<MatrixRef<'a>>,
    k: usize,
    seed: u64,
) -> Result<Matrix, ClusterError> {
    let x = x.into();
    check_data(x)?;
    check_k(k, x.rows())?;
    let mut rng = rng_from(seed);
    Matrix::new(plusplus::plusplus(x, k, &mut rng), k, x.cols())
}

pub(crate) fn check_data(x: MatrixRef<'_>) -> Result<(), ClusterError> {
    x.check_nonempty()?;
    if x.rows() > u32::MAX as usize {
        return Err(ClusterError::TooManyRows { rows: x.rows() });
    }
    x.check_finite()
}

pub(crate) fn check_k(k: usize, rows: usize) -> Result<(), ClusterError> {
    if k == 0 {
        return Err(ClusterError::ZeroClusters);
    }
    if k > rows {
        return Err(ClusterError::TooManyClusters { k, rows });
    }
    Ok(())
}

fn check_centers(c: MatrixRef<'_>, k: usize, d: usize) -> Result<(), ClusterError> {
    if c.rows() != k {
        return Err(ClusterError::DimensionMismatch {
            what: "rows of the initial centres against k",
            expected: k,
            got: c.rows(),
        });
    }
    if c.cols() != d {
        return Err(ClusterError::DimensionMismatch {
            what: "columns of the initial centres against columns of the data",
            expected: d,
            got: c.cols(),
        });
    }
    c.check_finite()
}
