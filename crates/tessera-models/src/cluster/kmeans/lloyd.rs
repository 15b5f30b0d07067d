//! Batch k-means iterations: plain Lloyd, and Lloyd accelerated with Hamerly's bounds.
//!
//! Both follow scikit-learn's `_kmeans_single_lloyd` step for step, so that with the same
//! initial centres they give the same centres, labels, inertia and iteration count (up to
//! floating-point rounding):
//!
//! 1. Iteration `i` assigns every row to its nearest centre (E-step), then moves each centre
//!    to the mean of its rows (M-step), relocating empty clusters (see [`State::relocate_empty`]).
//! 2. If no label changed ("strict convergence"), stop: the labels are those of the last
//!    E-step and the centres are their means, which are the centres the E-step used.
//! 3. Otherwise, if the sum over centres of the squared distance each moved is `≤ tol`, stop.
//! 4. After stopping by the tolerance or by `max_iter`, one more E-step assigns the rows to
//!    the final centres, so labels and inertia always belong to the returned centres.
//!
//! Hamerly (2010) keeps for every row an upper bound on the distance to its own centre and a
//! lower bound on the distance to every other centre; when the upper bound is below both the
//! lower bound and half the distance from its centre to the nearest other centre, the row
//! cannot change cluster and no distance is computed. Bounds are loosened after each M-step
//! by the distance each centre moved. Assignments are those of plain Lloyd, ties excepted: a
//! row exactly equidistant from two centres may keep its cluster where Lloyd takes the smaller
//! index.
//!
//! With bounds, the per-cluster sums are updated by the rows that changed cluster rather than
//! recomputed; the centres then differ from freshly computed means by rounding only (around
//! 1e-16 relative per change).
//!
//! All passes run over fixed chunks of rows in parallel and add per-chunk results in chunk
//! order, so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::cluster::kernels::{
    CHUNK_ROWS, CentersT, Dim, LANES, dispatch_shape, n_chunks, nearest, nearest2, sqdist,
};
use crate::cluster::matrix::MatrixRef;

/// The outcome of one run from one set of initial centres.
pub(crate) struct RunResult {
    pub centers: Vec<f64>,
    pub labels: Vec<u32>,
    pub inertia: f64,
    pub n_iter: usize,
    pub converged: bool,
}

/// Per-chunk accumulator: sums of rows per cluster, counts per cluster, changed labels.
struct ChunkAcc {
    sums: Vec<f64>,
    counts: Vec<i64>,
    changed: usize,
    /// Rows of the chunk that changed cluster in a bounds pass, with their old cluster.
    moves: Vec<(u32, u32)>,
    /// Rows of the chunk whose bounds must be checked (bounds pass scratch).
    todo: Vec<u32>,
}

impl ChunkAcc {
    fn new(k: usize, d: usize) -> Self {
        ChunkAcc {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            changed: 0,
            moves: Vec::new(),
            todo: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.sums.fill(0.0);
        self.counts.fill(0);
        self.changed = 0;
        self.moves.clear();
    }
}

/// Runs Lloyd iterations from `init` (row-major `k × d`). `tol` is absolute (already scaled
/// by the data's mean variance). `bounds` selects Hamerly's acceleration.
pub(crate) fn run(
    x: MatrixRef<'_>,
    init: &[f64],
    k: usize,
    max_iter: usize,
    tol: f64,
    bounds: bool,
) -> RunResult {
    dispatch_shape!(x.cols(), k.div_ceil(LANES), |dm, bm| {
        let st = State::new(dm, bm, x, init, k);
        if bounds {
            st.run_hamerly(max_iter, tol)
        } else {
            st.run_lloyd(max_iter, tol)
        }
    })
}

struct State<'a, D: Dim, B: Dim> {
    dm: D,
    bm: B,
    x: &'a [f64],
    n: usize,
    k: usize,
    centers: Vec<f64>,
    ct: CentersT,
    new_centers: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<i64>,
    labels: Vec<u32>,
    accs: Vec<ChunkAcc>,
}

impl<'a, D: Dim, B: Dim> State<'a, D, B> {
    fn new(dm: D, bm: B, x: MatrixRef<'a>, init: &[f64], k: usize) -> Self {
        let d = dm.get();
        let ct = CentersT::new(init, k, d);
        State {
            dm,
            bm,
            x: x.as_slice(),
            n: x.rows(),
            k,
            centers: init.to_vec(),
            ct,
            new_centers: vec![0.0; k * d],
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            labels: vec![u32::MAX; x.rows()],
            accs: (0..n_chunks(x.rows()))
                .map(|_| ChunkAcc::new(k, d))
                .collect(),
        }
    }

    /// Adds the chunk accumulators, in chunk order, into `sums`/`counts` (after zeroing them
    /// if `fresh`), and returns the number of changed labels.
    fn reduce(&mut self, fresh: bool) -> usize {
        if fresh {
            self.sums.fill(0.0);
            self.counts.fill(0);
        }
        let mut changed = 0;
        for acc in &self.accs {
            for (s, a) in self.sums.iter_mut().zip(&acc.sums) {
                *s += *a;
            }
            for (c, a) in self.counts.iter_mut().zip(&acc.counts) {
                *c += *a;
            }
            changed += acc.changed;
        }
        changed
    }

    /// M-step: `new_centers` from `sums`/`counts`, relocating empty clusters first. Returns
    /// the rows relocated (empty when none were).
    fn m_step(&mut self) -> Vec<usize> {
        let d = self.dm.get();
        let relocated = if self.counts.contains(&0) {
            self.relocate_empty()
        } else {
            Vec::new()
        };
        for j in 0..self.k {
            let dst = &mut self.new_centers[j * d..(j + 1) * d];
            if self.counts[j] > 0 {
                let count = self.counts[j] as f64;
                for (c, s) in dst.iter_mut().zip(&self.sums[j * d..(j + 1) * d]) {
                    *c = *s / count;
                }
            } else {
                // Still empty (fewer distinct rows than clusters): keep the old centre.
                dst.copy_from_slice(&self.centers[j * d..(j + 1) * d]);
            }
        }
        relocated
    }

    /// scikit-learn's relocation of empty clusters: the rows farthest from their (old)
    /// centres, farthest first (ties by row index), become the centres of the empty clusters,
    /// in increasing cluster order. Each such row leaves its old cluster's sum and count and
    /// forms its new cluster alone; its label follows it.
    fn relocate_empty(&mut self) -> Vec<usize> {
        let (dm, d, k) = (self.dm, self.dm.get(), self.k);
        let empty: Vec<usize> = (0..k).filter(|&j| self.counts[j] == 0).collect();
        let centers = &self.centers;
        let mut dist = vec![0.0f64; self.n];
        self.x
            .par_chunks(CHUNK_ROWS * d)
            .zip(self.labels.par_chunks(CHUNK_ROWS))
            .zip(dist.par_chunks_mut(CHUNK_ROWS))
            .for_each(|((xc, lc), dc)| {
                for ((xr, &l), o) in xc.chunks_exact(d).zip(lc).zip(dc.iter_mut()) {
                    let l = l as usize;
                    *o = sqdist(dm, xr, &centers[l * d..(l + 1) * d]);
                }
            });
        let m = empty.len().min(self.n);
        let mut order: Vec<usize> = (0..self.n).collect();
        let by_far = |a: &usize, b: &usize| dist[*b].total_cmp(&dist[*a]).then(a.cmp(b));
        if m < self.n {
            order.select_nth_unstable_by(m, by_far);
        }
        order.truncate(m);
        order.sort_unstable_by(by_far);
        for (&new, &row) in empty.iter().zip(&order) {
            let old = self.labels[row] as usize;
            let xr = &self.x[row * d..(row + 1) * d];
            for (s, v) in self.sums[old * d..(old + 1) * d].iter_mut().zip(xr) {
                *s -= *v;
            }
            self.counts[old] -= 1;
            self.sums[new * d..(new + 1) * d].copy_from_slice(xr);
            self.counts[new] = 1;
            self.labels[row] = new as u32;
        }
        order
    }

    /// Squared distance each centre moved from `centers` to `new_centers`, summed.
    fn total_shift(&self) -> f64 {
        let d = self.dm.get();
        (0..self.k)
            .map(|j| {
                sqdist(
                    self.dm,
                    &self.centers[j * d..(j + 1) * d],
                    &self.new_centers[j * d..(j + 1) * d],
                )
            })
            .sum()
    }

    /// Full E-step: every row to its nearest centre; per-chunk sums and counts of the new
    /// assignment if `sums`.
    fn full_pass(&mut self, sums: bool) {
        let (dm, bm, d) = (self.dm, self.bm, self.dm.get());
        let ct = &self.ct;
        self.x
            .par_chunks(CHUNK_ROWS * d)
            .zip(self.labels.par_chunks_mut(CHUNK_ROWS))
            .zip(self.accs.par_iter_mut())
            .for_each(|((xc, lc), acc)| chunk_full(dm, bm, ct, xc, lc, acc, sums));
    }

    fn inertia(&self) -> f64 {
        let (dm, d) = (self.dm, self.dm.get());
        let centers = &self.centers;
        let partial: Vec<f64> = self
            .x
            .par_chunks(CHUNK_ROWS * d)
            .zip(self.labels.par_chunks(CHUNK_ROWS))
            .map(|(xc, lc)| {
                let mut acc = 0.0;
                for (xr, &l) in xc.chunks_exact(d).zip(lc) {
                    let l = l as usize;
                    acc += sqdist(dm, xr, &centers[l * d..(l + 1) * d]);
                }
                acc
            })
            .collect();
        partial.iter().sum()
    }

    fn finish(self, n_iter: usize, converged: bool) -> RunResult {
        let inertia = self.inertia();
        RunResult {
            centers: self.centers,
            labels: self.labels,
            inertia,
            n_iter,
            converged,
        }
    }

    fn run_lloyd(mut self, max_iter: usize, tol: f64) -> RunResult {
        let mut strict = false;
        let mut converged = false;
        let mut relocated_before = false;
        let mut n_iter = 0;
        for _ in 0..max_iter {
            n_iter += 1;
            self.full_pass(true);
            let changed = self.reduce(true);
            let relocated = self.m_step();
            let shift = self.total_shift();
            std::mem::swap(&mut self.centers, &mut self.new_centers);
            self.ct.set(&self.centers, self.dm.get());
            if changed == 0 && !relocated_before {
                strict = true;
                converged = true;
                break;
            }
            if shift <= tol {
                converged = true;
                break;
            }
            relocated_before = !relocated.is_empty();
        }
        if !strict {
            self.full_pass(false);
        }
        self.finish(n_iter, converged)
    }

    fn run_hamerly(mut self, max_iter: usize, tol: f64) -> RunResult {
        let (n, k) = (self.n, self.k);
        let mut upper = vec![0.0f64; n];
        let mut lower = vec![0.0f64; n];
        let mut geom = Geometry::new(k);
        let mut strict = false;
        let mut converged = false;
        let mut relocated_before = false;
        let mut n_iter = 0;
        for it in 0..max_iter {
            n_iter += 1;
            let changed = if it == 0 {
                self.first_bounds_pass(&mut upper, &mut lower);
                self.reduce(true)
            } else {
                self.bounds_pass(&mut upper, &mut lower, &geom);
                self.reduce(false)
            };
            let relocated = self.m_step();
            for &r in &relocated {
                // The row is its new centre: distance 0; force a full check next time.
                upper[r] = 0.0;
                lower[r] = 0.0;
            }
            let shift = self.total_shift();
            geom.update(self.dm, &self.centers, &self.new_centers);
            std::mem::swap(&mut self.centers, &mut self.new_centers);
            self.ct.set(&self.centers, self.dm.get());
            if changed == 0 && !relocated_before {
                strict = true;
                converged = true;
                break;
            }
            if shift <= tol {
                converged = true;
                break;
            }
            relocated_before = !relocated.is_empty();
        }
        if !strict {
            // Final E-step against the final centres; the bounds already carry the last moves.
            self.bounds_pass(&mut upper, &mut lower, &geom);
        }
        self.finish(n_iter, converged)
    }

    /// First E-step with bounds: exact nearest and second-nearest distances of every row.
    fn first_bounds_pass(&mut self, upper: &mut [f64], lower: &mut [f64]) {
        let (dm, bm, d) = (self.dm, self.bm, self.dm.get());
        let ct = &self.ct;
        self.x
            .par_chunks(CHUNK_ROWS * d)
            .zip(self.labels.par_chunks_mut(CHUNK_ROWS))
            .zip(upper.par_chunks_mut(CHUNK_ROWS))
            .zip(lower.par_chunks_mut(CHUNK_ROWS))
            .zip(self.accs.par_iter_mut())
            .for_each(|((((xc, lc), uc), loc), acc)| chunk_first(dm, bm, ct, xc, lc, uc, loc, acc));
    }

    /// E-step with Hamerly's bounds, loosened first by the last centre moves in `geom`.
    /// Accumulates, per chunk, the changes of sums and counts of the rows that moved.
    fn bounds_pass(&mut self, upper: &mut [f64], lower: &mut [f64], geom: &Geometry) {
        let (dm, bm, d) = (self.dm, self.bm, self.dm.get());
        let (centers, ct) = (&self.centers, &self.ct);
        self.x
            .par_chunks(CHUNK_ROWS * d)
            .zip(self.labels.par_chunks_mut(CHUNK_ROWS))
            .zip(upper.par_chunks_mut(CHUNK_ROWS))
            .zip(lower.par_chunks_mut(CHUNK_ROWS))
            .zip(self.accs.par_iter_mut())
            .for_each(|((((xc, lc), uc), loc), acc)| {
                chunk_bounds(dm, bm, centers, ct, geom, xc, lc, uc, loc, acc)
            });
    }
}

/// Adds every row of a chunk to the sum and count of its cluster. Kept apart from the
/// assignment loop: accumulating there makes each row's loads wait on the previous row's
/// stores to addresses known only after its distances are compared, which stalls the loop
/// (measured 3× slower).
#[inline(always)]
fn accumulate<D: Dim>(dm: D, xc: &[f64], lc: &[u32], sums: &mut [f64], counts: &mut [i64]) {
    let d = dm.get();
    for (xr, &b) in xc.chunks_exact(d).zip(lc) {
        let b = b as usize;
        counts[b] += 1;
        for (s, v) in sums[b * d..(b + 1) * d].iter_mut().zip(xr) {
            *s += *v;
        }
    }
}

/// [`State::full_pass`] on one chunk.
#[inline(never)]
fn chunk_full<D: Dim, B: Dim>(
    dm: D,
    bm: B,
    ct: &CentersT,
    xc: &[f64],
    lc: &mut [u32],
    acc: &mut ChunkAcc,
    sums: bool,
) {
    let d = dm.get();
    acc.reset();
    let mut changed = 0;
    for (xr, lab) in xc.chunks_exact(d).zip(lc.iter_mut()) {
        let (b, _) = nearest(dm, bm, xr, ct);
        changed += usize::from(b != *lab);
        *lab = b;
    }
    acc.changed = changed;
    if sums {
        accumulate(dm, xc, lc, &mut acc.sums, &mut acc.counts);
    }
}

/// [`State::first_bounds_pass`] on one chunk.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn chunk_first<D: Dim, B: Dim>(
    dm: D,
    bm: B,
    ct: &CentersT,
    xc: &[f64],
    lc: &mut [u32],
    uc: &mut [f64],
    loc: &mut [f64],
    acc: &mut ChunkAcc,
) {
    let d = dm.get();
    acc.reset();
    for ((xr, lab), (u, l)) in xc
        .chunks_exact(d)
        .zip(lc.iter_mut())
        .zip(uc.iter_mut().zip(loc.iter_mut()))
    {
        let (b, d1, d2) = nearest2(dm, bm, xr, ct);
        *lab = b;
        *u = d1.sqrt();
        *l = d2.sqrt();
    }
    acc.changed = lc.len();
    accumulate(dm, xc, lc, &mut acc.sums, &mut acc.counts);
}

/// [`State::bounds_pass`] on one chunk, in two phases. The first loosens every row's bounds
/// and lists the rows whose bounds no longer prove their cluster: a short loop without
/// unpredictable branches. The second checks the listed rows; their data rows are scattered,
/// and a loop over the list lets the processor fetch several at once rather than stall on each
/// after a mispredicted test.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn chunk_bounds<D: Dim, B: Dim>(
    dm: D,
    bm: B,
    centers: &[f64],
    ct: &CentersT,
    geom: &Geometry,
    xc: &[f64],
    lc: &mut [u32],
    uc: &mut [f64],
    loc: &mut [f64],
    acc: &mut ChunkAcc,
) {
    let d = dm.get();
    acc.reset();
    let todo = &mut acc.todo;
    todo.resize(lc.len(), 0);
    let mut count = 0;
    for (r, ((&a, ub), lb)) in lc.iter().zip(uc.iter_mut()).zip(loc.iter_mut()).enumerate() {
        let a = a as usize;
        let u = *ub + geom.shift[a];
        let l = *lb - geom.other_shift(a);
        *ub = u;
        *lb = l;
        todo[count] = r as u32;
        count += usize::from(u > fmax(geom.half_sep[a], l));
    }
    for &r in &todo[..count] {
        let r = r as usize;
        let a = lc[r] as usize;
        let xr = &xc[r * d..(r + 1) * d];
        let m = fmax(geom.half_sep[a], loc[r]);
        let u = sqdist(dm, xr, &centers[a * d..(a + 1) * d]).sqrt();
        uc[r] = u;
        if u > m {
            let (b, d1, d2) = nearest2(dm, bm, xr, ct);
            uc[r] = d1.sqrt();
            loc[r] = d2.sqrt();
            if b as usize != a {
                lc[r] = b;
                acc.moves.push((r as u32, a as u32));
            }
        }
    }
    // Sums and counts change by the rows that moved (see `accumulate` for why apart).
    acc.changed = acc.moves.len();
    for &(r, from) in &acc.moves {
        let (r, a, b) = (r as usize, from as usize, lc[r as usize] as usize);
        acc.counts[a] -= 1;
        acc.counts[b] += 1;
        for (j, v) in xc[r * d..(r + 1) * d].iter().enumerate() {
            acc.sums[a * d + j] -= *v;
            acc.sums[b * d + j] += *v;
        }
    }
}

/// `max(a, b)` for non-NaN values, compiling to one `maxsd`.
#[inline(always)]
fn fmax(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// What Hamerly's bounds need of the centres: how far each moved in the last M-step, the
/// largest and second-largest moves, and half the distance from each centre to its nearest
/// other centre.
struct Geometry {
    shift: Vec<f64>,
    max_shift: f64,
    argmax: usize,
    second_shift: f64,
    half_sep: Vec<f64>,
}

impl Geometry {
    fn new(k: usize) -> Self {
        Geometry {
            shift: vec![0.0; k],
            max_shift: 0.0,
            argmax: 0,
            second_shift: 0.0,
            half_sep: vec![0.0; k],
        }
    }

    /// The largest move among the centres other than `a`: what the lower bound of a row of
    /// cluster `a` must be reduced by.
    #[inline(always)]
    fn other_shift(&self, a: usize) -> f64 {
        if a == self.argmax {
            self.second_shift
        } else {
            self.max_shift
        }
    }

    fn update<D: Dim>(&mut self, dm: D, old: &[f64], new: &[f64]) {
        let d = dm.get();
        let k = self.shift.len();
        self.max_shift = 0.0;
        self.second_shift = 0.0;
        self.argmax = 0;
        for j in 0..k {
            let s = sqdist(dm, &old[j * d..(j + 1) * d], &new[j * d..(j + 1) * d]).sqrt();
            self.shift[j] = s;
            if s > self.max_shift {
                self.second_shift = self.max_shift;
                self.max_shift = s;
                self.argmax = j;
            } else if s > self.second_shift {
                self.second_shift = s;
            }
        }
        for j in 0..k {
            let mut nearest = f64::INFINITY;
            for i in 0..k {
                if i != j {
                    nearest = nearest.min(sqdist(
                        dm,
                        &new[j * d..(j + 1) * d],
                        &new[i * d..(i + 1) * d],
                    ));
                }
            }
            self.half_sep[j] = 0.5 * nearest.sqrt();
        }
    }
}
