//! Mini-batch k-means (Sculley 2010).
//!
//! Each step draws `batch_size` rows uniformly with replacement, assigns them to their nearest
//! centres, and moves every centre that received rows to the weighted mean of its previous
//! position (weighted by the number of rows it has received so far) and the batch rows: with
//! `w_j` rows seen before and batch rows `x_1..x_m`, `c_j ← (w_j c_j + Σ x) / (w_j + m)`,
//! which is Sculley's per-centre learning rate `1 / w_j` applied to a whole batch.
//!
//! Stopping is scikit-learn's early stopping on an exponentially weighted average of the
//! mean batch inertia (weight `α = 2 × batch_size / (n + 1)`, capped at 1): the run stops
//! after `max_no_improvement` consecutive steps without a new lowest average, or after
//! `max_epochs × ceil(n / batch_size)` steps. A final parallel pass then assigns every row to
//! the final centres and computes the inertia. Unlike scikit-learn, centres that receive few
//! rows are not randomly reassigned.

use rayon::prelude::*;

use super::lloyd::RunResult;
use crate::cluster::kernels::{CHUNK_ROWS, CentersT, Dim, LANES, dispatch_shape, nearest};
use crate::cluster::matrix::MatrixRef;
use crate::cluster::rng::{ClusterRng, uniform_index};

/// Settings of one mini-batch run, already checked.
pub(crate) struct MiniBatchRun {
    pub batch_size: usize,
    pub max_no_improvement: usize,
    pub max_epochs: usize,
}

pub(crate) fn run(
    x: MatrixRef<'_>,
    init: &[f64],
    k: usize,
    p: &MiniBatchRun,
    rng: &mut ClusterRng,
) -> RunResult {
    dispatch_shape!(x.cols(), k.div_ceil(LANES), |dm, bm| run_dim(
        dm, bm, x, init, k, p, rng
    ))
}

fn run_dim<D: Dim, B: Dim>(
    dm: D,
    bm: B,
    x: MatrixRef<'_>,
    init: &[f64],
    k: usize,
    p: &MiniBatchRun,
    rng: &mut ClusterRng,
) -> RunResult {
    let (n, d) = (x.rows(), dm.get());
    let mut centers = init.to_vec();
    let mut ct = CentersT::new(&centers, k, d);
    let mut seen = vec![0.0f64; k];
    let mut batch_sums = vec![0.0f64; k * d];
    let mut batch_counts = vec![0usize; k];
    let steps_per_epoch = n.div_ceil(p.batch_size);
    let max_steps = p.max_epochs.saturating_mul(steps_per_epoch).max(1);
    let alpha = (2.0 * p.batch_size as f64 / (n as f64 + 1.0)).min(1.0);
    let mut ewa: Option<f64> = None;
    let mut best = f64::INFINITY;
    let mut no_improvement = 0;
    let mut steps = 0;
    let mut converged = false;
    while steps < max_steps {
        steps += 1;
        batch_sums.fill(0.0);
        batch_counts.fill(0);
        let mut batch_inertia = 0.0;
        for _ in 0..p.batch_size {
            let i = uniform_index(rng, n);
            let xr = x.row(i);
            let (b, dist) = nearest(dm, bm, xr, &ct);
            let b = b as usize;
            batch_inertia += dist;
            batch_counts[b] += 1;
            for (s, v) in batch_sums[b * d..(b + 1) * d].iter_mut().zip(xr) {
                *s += *v;
            }
        }
        for j in 0..k {
            if batch_counts[j] == 0 {
                continue;
            }
            let m = batch_counts[j] as f64;
            let total = seen[j] + m;
            for (c, s) in centers[j * d..(j + 1) * d]
                .iter_mut()
                .zip(&batch_sums[j * d..(j + 1) * d])
            {
                *c = (*c * seen[j] + *s) / total;
            }
            seen[j] = total;
        }
        ct.set(&centers, d);
        let mean_inertia = batch_inertia / p.batch_size as f64;
        let avg = match ewa {
            None => mean_inertia,
            Some(e) => e * (1.0 - alpha) + mean_inertia * alpha,
        };
        ewa = Some(avg);
        if avg < best {
            best = avg;
            no_improvement = 0;
        } else {
            no_improvement += 1;
            if no_improvement >= p.max_no_improvement {
                converged = true;
                break;
            }
        }
    }

    let mut labels = vec![0u32; n];
    let partial: Vec<f64> = x
        .as_slice()
        .par_chunks(CHUNK_ROWS * d)
        .zip(labels.par_chunks_mut(CHUNK_ROWS))
        .map(|(xc, lc)| {
            let mut acc = 0.0;
            for (xr, l) in xc.chunks_exact(d).zip(lc.iter_mut()) {
                let (b, dist) = nearest(dm, bm, xr, &ct);
                *l = b;
                acc += dist;
            }
            acc
        })
        .collect();
    RunResult {
        inertia: partial.iter().sum(),
        centers,
        labels,
        n_iter: steps,
        converged,
    }
}
