//! Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with the greedy local trials of
//! scikit-learn's `_kmeans_plusplus`).
//!
//! The first centre is a uniformly random row. Each further centre is chosen among
//! `2 + floor(ln k)` candidates, each drawn with probability proportional to its squared
//! distance to the nearest centre chosen so far ("D² sampling"); the candidate kept is the one
//! that leaves the smallest potential (sum of squared distances to the nearest centre).
//!
//! A draw is `r = U × potential` with `U` uniform in `[0, 1)`, and the candidate is the first
//! row whose running sum of squared distances (in row order) exceeds `r`, which is
//! scikit-learn's `searchsorted` on the cumulative sum except that rows at distance 0 (already
//! centres) are never drawn. The running sum is found in two steps, first the chunk by the
//! per-chunk sums, then the row within the chunk, so no pass over all rows is needed for it.
//! If every row is at distance 0 from a centre (fewer distinct rows than `k`), a uniformly
//! random row is taken, which duplicates a centre.
//!
//! Work per centre is one parallel pass over the rows that both brings each row's nearest
//! distance up to date with the previous centre and sums, per candidate, the potential that
//! candidate would leave; partial sums are per fixed chunk and added in chunk order, so the
//! result does not depend on the number of threads.

use rayon::prelude::*;

use crate::cluster::kernels::{
    CHUNK_ROWS, CentersT, Dim, Dyn, Fixed, LANES, block_sqdist, dispatch_dim, fmin, n_chunks,
    sqdist,
};
use crate::cluster::matrix::MatrixRef;
use crate::cluster::rng::{ClusterRng, uniform_index, uniform01};

/// `k` centres (row-major `k × d`) chosen by greedy k-means++ from the rows of `x`.
/// `x` must be non-empty with `1 ≤ k ≤ rows`.
pub(crate) fn plusplus(x: MatrixRef<'_>, k: usize, rng: &mut ClusterRng) -> Vec<f64> {
    dispatch_dim!(x.cols(), |dm| plusplus_dim(dm, x, k, rng))
}

fn plusplus_dim<D: Dim>(dm: D, x: MatrixRef<'_>, k: usize, rng: &mut ClusterRng) -> Vec<f64> {
    let (n, d) = (x.rows(), dm.get());
    let data = x.as_slice();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);

    let first = uniform_index(rng, n);
    centers.extend_from_slice(x.row(first));

    // Nearest squared distance of every row to the centres so far, except that the last
    // centre (`pending`) may not yet be folded in.
    let mut closest = vec![0.0f64; n];
    let nc = n_chunks(n);
    let mut chunk_sums = vec![0.0f64; nc];
    {
        let c0 = &centers[..d];
        data.par_chunks(CHUNK_ROWS * d)
            .zip(closest.par_chunks_mut(CHUNK_ROWS))
            .zip(chunk_sums.par_iter_mut())
            .for_each(|((xc, cc), s)| {
                let mut acc = 0.0;
                for (xr, c) in xc.chunks_exact(d).zip(cc.iter_mut()) {
                    *c = sqdist(dm, xr, c0);
                    acc += *c;
                }
                *s = acc;
            });
    }
    let mut potential: f64 = chunk_sums.iter().sum();
    let mut pending: Option<usize> = None;

    let mut candidates = vec![0usize; trials];
    let mut partial = vec![0.0f64; nc * trials];
    for _ in 1..k {
        for cand in candidates.iter_mut() {
            let r = uniform01(rng) * potential;
            *cand = match draw(dm, x, &closest, &chunk_sums, pending, r) {
                Some(i) => i,
                None => uniform_index(rng, n),
            };
        }
        // Distances to the candidates, computed together; the pending centre's on its own.
        let mut block: Vec<f64> = Vec::with_capacity(trials * d);
        for &c in &candidates {
            block.extend_from_slice(x.row(c));
        }
        let ct = CentersT::new(&block, trials, d);
        let pend = pending.map(|p| x.row(p));
        data.par_chunks(CHUNK_ROWS * d)
            .zip(closest.par_chunks_mut(CHUNK_ROWS))
            .zip(partial.par_chunks_mut(trials))
            .for_each(|((xc, cc), part)| match ct.nb {
                1 => potentials_chunk(dm, Fixed::<1>, &ct, pend, xc, cc, part),
                2 => potentials_chunk(dm, Fixed::<2>, &ct, pend, xc, cc, part),
                3 => potentials_chunk(dm, Fixed::<3>, &ct, pend, xc, cc, part),
                4 => potentials_chunk(dm, Fixed::<4>, &ct, pend, xc, cc, part),
                nb => potentials_chunk(dm, Dyn(nb), &ct, pend, xc, cc, part),
            });
        let mut best = 0;
        let mut best_pot = f64::INFINITY;
        for t in 0..trials {
            let pot: f64 = (0..nc).map(|c| partial[c * trials + t]).sum();
            if pot < best_pot {
                best_pot = pot;
                best = t;
            }
        }
        for (c, s) in chunk_sums.iter_mut().enumerate() {
            *s = partial[c * trials + best];
        }
        potential = best_pot;
        pending = Some(candidates[best]);
        centers.extend_from_slice(x.row(candidates[best]));
    }
    centers
}

/// For each row of a chunk: folds the distance to the pending centre `pend` (if any) into
/// `closest`, then adds to `part[t]` the row's nearest distance if candidate `t` (centre `t`
/// of `ct`) were added. With the number of blocks `bm` known at compile time (up to 16
/// candidates, that is `k` up to about 1.2 million) the sums stay in registers.
#[inline(never)]
fn potentials_chunk<D: Dim, B: Dim>(
    dm: D,
    bm: B,
    ct: &CentersT,
    pend: Option<&[f64]>,
    xc: &[f64],
    cc: &mut [f64],
    part: &mut [f64],
) {
    const MAX_BLOCKS: usize = 4;
    let (d, nb) = (dm.get(), bm.get());
    let (w, t) = (d * LANES, ct.blocks(dm, bm));
    if nb <= MAX_BLOCKS {
        let mut acc = [[0.0f64; LANES]; MAX_BLOCKS];
        for (xr, c) in xc.chunks_exact(d).zip(cc.iter_mut()) {
            let mut w_row = *c;
            if let Some(p) = pend {
                w_row = fmin(w_row, sqdist(dm, xr, p));
                *c = w_row;
            }
            for (b, ab) in acc.iter_mut().enumerate().take(nb) {
                let dist = block_sqdist(dm, xr, &t[b * w..(b + 1) * w]);
                for l in 0..LANES {
                    ab[l] += fmin(w_row, dist[l]);
                }
            }
        }
        for (t, p) in part.iter_mut().enumerate() {
            *p = acc[t / LANES][t % LANES];
        }
    } else {
        let mut acc = vec![0.0f64; nb * LANES];
        for (xr, c) in xc.chunks_exact(d).zip(cc.iter_mut()) {
            let mut w_row = *c;
            if let Some(p) = pend {
                w_row = fmin(w_row, sqdist(dm, xr, p));
                *c = w_row;
            }
            for (b, ab) in acc.chunks_exact_mut(LANES).enumerate() {
                let dist = block_sqdist(dm, xr, &t[b * w..(b + 1) * w]);
                for l in 0..LANES {
                    ab[l] += fmin(w_row, dist[l]);
                }
            }
        }
        part.copy_from_slice(&acc[..part.len()]);
    }
}

/// The first row whose running sum of (up-to-date) nearest squared distances exceeds `r`, or
/// `None` if all are 0.
fn draw<D: Dim>(
    dm: D,
    x: MatrixRef<'_>,
    closest: &[f64],
    chunk_sums: &[f64],
    pending: Option<usize>,
    r: f64,
) -> Option<usize> {
    let weight = |i: usize| match pending {
        Some(p) => fmin(closest[i], sqdist(dm, x.row(i), x.row(p))),
        None => closest[i],
    };
    let mut before = 0.0;
    let mut last_positive_chunk = None;
    for (c, &s) in chunk_sums.iter().enumerate() {
        if s > 0.0 {
            last_positive_chunk = Some(c);
        }
        if before + s > r && s > 0.0 {
            return Some(scan_chunk(c, x.rows(), before, r, weight));
        }
        before += s;
    }
    // Rounding put r at or past the total: take the last row with positive weight.
    let c = last_positive_chunk?;
    Some(scan_chunk(
        c,
        x.rows(),
        f64::NEG_INFINITY,
        f64::INFINITY,
        weight,
    ))
}

/// Within chunk `c`, the first row where `before + running sum > r`, else the chunk's last row
/// of positive weight.
fn scan_chunk(c: usize, n: usize, before: f64, r: f64, weight: impl Fn(usize) -> f64) -> usize {
    let (lo, hi) = (c * CHUNK_ROWS, ((c + 1) * CHUNK_ROWS).min(n));
    let mut run = before;
    let mut last_positive = lo;
    for i in lo..hi {
        let w = weight(i);
        if w > 0.0 {
            last_positive = i;
            run += w;
            if run > r {
                return i;
            }
        }
    }
    last_positive
}
