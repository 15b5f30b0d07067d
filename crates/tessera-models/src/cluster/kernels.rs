//! Distance kernels and the fixed chunking that makes parallel sums deterministic.
//!
//! Every parallel pass over rows splits them into chunks of [`CHUNK_ROWS`] rows, however many
//! threads run. Each chunk accumulates in row order and the partial results are combined in
//! chunk order, so a floating-point sum is the same with 1 thread or 64.
//!
//! A squared distance adds `(a_j - b_j)^2` in index order. The distances of a row to all
//! centres are computed four centres at a time from a blocked, transposed copy of the centres
//! ([`CentersT`]), which vectorises across centres and keeps each centre's sum in index order,
//! so every kernel gives bitwise the same distance. For dimensions up to 16 and up to 16
//! centres the kernels are instantiated with both as constants ([`Fixed`]), which lets the
//! compiler unroll them and keep a row's distances in registers (measured twice as fast for
//! 8 × 8 as with the number of centres known only at run time); the order of operations, and
//! so every result, is the same as the generic path ([`Dyn`]).

/// Rows per chunk of every parallel pass. Independent of the thread count by design.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// The number of chunks `rows` rows make.
pub(crate) fn n_chunks(rows: usize) -> usize {
    rows.div_ceil(CHUNK_ROWS)
}

/// A dimension, either a compile-time constant or a runtime value.
pub(crate) trait Dim: Copy + Send + Sync {
    fn get(self) -> usize;
}

/// A dimension known at compile time.
#[derive(Clone, Copy)]
pub(crate) struct Fixed<const D: usize>;

impl<const D: usize> Dim for Fixed<D> {
    #[inline(always)]
    fn get(self) -> usize {
        D
    }
}

/// A dimension known at run time.
#[derive(Clone, Copy)]
pub(crate) struct Dyn(pub usize);

impl Dim for Dyn {
    #[inline(always)]
    fn get(self) -> usize {
        self.0
    }
}

/// Calls `$body` with `$dm` bound to a [`Fixed`] dimension for `$d` in `1..=16`, else to
/// [`Dyn`].
macro_rules! dispatch_dim {
    ($d:expr, |$dm:ident| $body:expr) => {{
        use $crate::cluster::kernels::{Dyn, Fixed};
        match $d {
            1 => {
                let $dm = Fixed::<1>;
                $body
            }
            2 => {
                let $dm = Fixed::<2>;
                $body
            }
            3 => {
                let $dm = Fixed::<3>;
                $body
            }
            4 => {
                let $dm = Fixed::<4>;
                $body
            }
            5 => {
                let $dm = Fixed::<5>;
                $body
            }
            6 => {
                let $dm = Fixed::<6>;
                $body
            }
            7 => {
                let $dm = Fixed::<7>;
                $body
            }
            8 => {
                let $dm = Fixed::<8>;
                $body
            }
            9 => {
                let $dm = Fixed::<9>;
                $body
            }
            10 => {
                let $dm = Fixed::<10>;
                $body
            }
            11 => {
                let $dm = Fixed::<11>;
                $body
            }
            12 => {
                let $dm = Fixed::<12>;
                $body
            }
            13 => {
                let $dm = Fixed::<13>;
                $body
            }
            14 => {
                let $dm = Fixed::<14>;
                $body
            }
            15 => {
                let $dm = Fixed::<15>;
                $body
            }
            16 => {
                let $dm = Fixed::<16>;
                $body
            }
            other => {
                let $dm = Dyn(other);
                $body
            }
        }
    }};
}
pub(crate) use dispatch_dim;

/// Squared Euclidean distance of the first `dm` entries of `a` and `b`, summed in index
/// order: `((t_0 + t_1) + t_2) + …` with `t_j = (a_j − b_j)²`. Every kernel of this module
/// sums in that order, so a distance is bitwise the same whichever kernel computed it.
#[inline(always)]
pub(crate) fn sqdist<D: Dim>(dm: D, a: &[f64], b: &[f64]) -> f64 {
    let d = dm.get();
    let (a, b) = (&a[..d], &b[..d]);
    let mut s = 0.0f64;
    for j in 0..d {
        let t = a[j] - b[j];
        s += t * t;
    }
    s
}

/// Centres per block of the transposed layout.
pub(crate) const LANES: usize = 4;

/// Centres laid out for computing the distances of one row to all of them at once: in `nb`
/// blocks of [`LANES`] centres, each block transposed (`t[b·d·LANES + j·LANES + l]` is
/// coordinate `j` of centre `b·LANES + l`). The last block is padded with centres at +inf,
/// whose distances are +inf.
pub(crate) struct CentersT {
    pub k: usize,
    pub nb: usize,
    pub t: Vec<f64>,
}

impl CentersT {
    pub(crate) fn new(centers: &[f64], k: usize, d: usize) -> Self {
        let nb = k.div_ceil(LANES).max(1);
        let mut t = vec![f64::INFINITY; nb * LANES * d];
        Self::fill(&mut t, centers, k, d);
        CentersT { k, nb, t }
    }

    /// Replaces the centres by `centers` (same `k` and `d`).
    pub(crate) fn set(&mut self, centers: &[f64], d: usize) {
        Self::fill(&mut self.t, centers, self.k, d);
    }

    fn fill(t: &mut [f64], centers: &[f64], k: usize, d: usize) {
        for c in 0..k {
            let (b, l) = (c / LANES, c % LANES);
            for j in 0..d {
                t[b * d * LANES + j * LANES + l] = centers[c * d + j];
            }
        }
    }

    /// The first `bm` blocks, `bm × d × LANES` values. Slice blocks out of this rather than
    /// out of `t` one by one: with `dm` and `bm` constants the compiler then proves every
    /// block in bounds once, which halved the time of a nearest-centre pass (8 × 8).
    #[inline(always)]
    pub(crate) fn blocks<D: Dim, B: Dim>(&self, dm: D, bm: B) -> &[f64] {
        &self.t[..bm.get() * dm.get() * LANES]
    }
}

/// Calls `$body` with `$dm` bound as by [`dispatch_dim`] and `$bm` to the number of blocks
/// `$nb` of a [`CentersT`] as a [`Fixed`] for 1 to 4 blocks (up to 16 centres), else [`Dyn`].
/// With both known at compile time, the distances of a row to all centres stay in registers.
macro_rules! dispatch_shape {
    ($d:expr, $nb:expr, |$dm:ident, $bm:ident| $body:expr) => {{
        use $crate::cluster::kernels::{Dyn, Fixed};
        match $nb {
            1 => {
                let $bm = Fixed::<1>;
                $crate::cluster::kernels::dispatch_dim!($d, |$dm| $body)
            }
            2 => {
                let $bm = Fixed::<2>;
                $crate::cluster::kernels::dispatch_dim!($d, |$dm| $body)
            }
            3 => {
                let $bm = Fixed::<3>;
                $crate::cluster::kernels::dispatch_dim!($d, |$dm| $body)
            }
            4 => {
                let $bm = Fixed::<4>;
                $crate::cluster::kernels::dispatch_dim!($d, |$dm| $body)
            }
            other => {
                let $bm = Dyn(other);
                $crate::cluster::kernels::dispatch_dim!($d, |$dm| $body)
            }
        }
    }};
}
pub(crate) use dispatch_shape;

/// `min(a, b)` for non-NaN values, in the form that compiles to one `minsd`/`minpd`
/// (`f64::min` adds NaN handling).
#[inline(always)]
pub(crate) fn fmin(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// Squared distances of `x` to the [`LANES`] centres of one block. Each equals [`sqdist`]
/// bitwise.
#[inline(always)]
pub(crate) fn block_sqdist<D: Dim>(dm: D, x: &[f64], blk: &[f64]) -> [f64; LANES] {
    let d = dm.get();
    let (x, blk) = (&x[..d], &blk[..d * LANES]);
    let mut acc = [0.0f64; LANES];
    for (c, &xj) in blk.chunks_exact(LANES).zip(x) {
        for l in 0..LANES {
            let v = xj - c[l];
            acc[l] += v * v;
        }
    }
    acc
}

/// The nearest and second-nearest centres of `x`, as `(index of nearest, its squared
/// distance, squared distance of the second nearest)`. Ties go to the smaller index (and then
/// the second distance equals the first); with one centre the second distance is +inf. `bm`
/// is the number of blocks of `ct`.
///
/// Which centre is nearest is data-dependent and unpredictable, so there are no branches:
/// each lane keeps its own nearest and second nearest over the blocks (ties to the earlier
/// block), and the lanes are combined at the end.
#[inline(always)]
pub(crate) fn nearest2<D: Dim, B: Dim>(dm: D, bm: B, x: &[f64], ct: &CentersT) -> (u32, f64, f64) {
    let mut m1 = [f64::INFINITY; LANES];
    let mut m2 = [f64::INFINITY; LANES];
    let mut i1 = [0usize; LANES];
    let (w, t) = (dm.get() * LANES, ct.blocks(dm, bm));
    for b in 0..bm.get() {
        let v = block_sqdist(dm, x, &t[b * w..(b + 1) * w]);
        for l in 0..LANES {
            let lt = v[l] < m1[l];
            m2[l] = if lt { m1[l] } else { fmin(m2[l], v[l]) };
            m1[l] = if lt { v[l] } else { m1[l] };
            i1[l] = if lt { b } else { i1[l] };
        }
    }
    let d1 = fmin(fmin(m1[0], m1[1]), fmin(m1[2], m1[3]));
    let mut best = usize::MAX;
    for l in 0..LANES {
        let g = i1[l] * LANES + l;
        best = if m1[l] == d1 && g < best { g } else { best };
    }
    let lane = best % LANES;
    let mut d2 = f64::INFINITY;
    for l in 0..LANES {
        d2 = fmin(d2, if l == lane { m2[l] } else { m1[l] });
    }
    (best as u32, d1, d2)
}

/// The nearest centre of `x`, as `(index, squared distance)`; ties go to the smaller index.
#[inline(always)]
pub(crate) fn nearest<D: Dim, B: Dim>(dm: D, bm: B, x: &[f64], ct: &CentersT) -> (u32, f64) {
    let mut m1 = [f64::INFINITY; LANES];
    let mut i1 = [0usize; LANES];
    let (w, t) = (dm.get() * LANES, ct.blocks(dm, bm));
    for b in 0..bm.get() {
        let v = block_sqdist(dm, x, &t[b * w..(b + 1) * w]);
        for l in 0..LANES {
            let lt = v[l] < m1[l];
            m1[l] = if lt { v[l] } else { m1[l] };
            i1[l] = if lt { b } else { i1[l] };
        }
    }
    let d1 = fmin(fmin(m1[0], m1[1]), fmin(m1[2], m1[3]));
    let mut best = usize::MAX;
    for l in 0..LANES {
        let g = i1[l] * LANES + l;
        best = if m1[l] == d1 && g < best { g } else { best };
    }
    (best as u32, d1)
}

/// Per-column means and population variances (ddof = 0) of a row-major `rows × d` buffer,
/// by two parallel passes over fixed chunks combined in chunk order. `rows` must be positive.
pub(crate) fn column_mean_var(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    let n = x.len() / d;
    let sum_chunks = |f: &(dyn Fn(&[f64], &mut [f64]) + Sync)| -> Vec<f64> {
        let parts: Vec<Vec<f64>> = x
            .par_chunks(CHUNK_ROWS * d)
            .map(|xc| {
                let mut acc = vec![0.0; d];
                for xr in xc.chunks_exact(d) {
                    f(xr, &mut acc);
                }
                acc
            })
            .collect();
        let mut total = vec![0.0; d];
        for p in &parts {
            for (t, v) in total.iter_mut().zip(p) {
                *t += *v;
            }
        }
        total
    };
    let mut mean = sum_chunks(&|xr, acc| {
        for (a, v) in acc.iter_mut().zip(xr) {
            *a += *v;
        }
    });
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut var = sum_chunks(&|xr, acc| {
        for ((a, v), m) in acc.iter_mut().zip(xr).zip(&mean) {
            *a += (*v - *m) * (*v - *m);
        }
    });
    for v in &mut var {
        *v /= n as f64;
    }
    (mean, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free nearest / second nearest against a plain scan, with ties, for every
    /// number of blocks, fixed and dynamic.
    #[test]
    fn nearest2_matches_a_plain_scan() {
        let x = [0.0, 0.0];
        for k in 1..=21 {
            for pattern in 0..20u64 {
                // Distances from a small set of values, so ties are common.
                let centers: Vec<f64> = (0..k)
                    .flat_map(|c| [((pattern * 7 + c as u64 * 13) % 5) as f64, 0.0])
                    .collect();
                let ct = CentersT::new(&centers, k, 2);
                let dist: Vec<f64> = (0..k).map(|c| centers[2 * c] * centers[2 * c]).collect();
                let mut want = (0usize, f64::INFINITY, f64::INFINITY);
                for (j, &v) in dist.iter().enumerate() {
                    if v < want.1 {
                        want = (j, v, want.1);
                    } else if v < want.2 {
                        want.2 = v;
                    }
                }
                let got = dispatch_shape!(2, ct.nb, |dm, bm| nearest2(dm, bm, &x, &ct));
                assert_eq!(
                    (got.0 as usize, got.1, got.2),
                    want,
                    "k = {k}, pattern {pattern}"
                );
                assert_eq!(nearest2(Dyn(2), Dyn(ct.nb), &x, &ct), got);
                let one = dispatch_shape!(2, ct.nb, |dm, bm| nearest(dm, bm, &x, &ct));
                assert_eq!(one, (got.0, got.1));
            }
        }
    }

    #[test]
    fn fixed_and_dynamic_agree_bitwise() {
        let a: Vec<f64> = (0..16).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
        let b: Vec<f64> = (0..16).map(|i| (i as f64 * 0.91).cos()).collect();
        for d in 1..=16 {
            let f = dispatch_dim!(d, |dm| sqdist(dm, &a, &b));
            let g = sqdist(Dyn(d), &a, &b);
            assert_eq!(f.to_bits(), g.to_bits(), "d = {d}");
            let naive: f64 = a[..d]
                .iter()
                .zip(&b[..d])
                .map(|(x, y)| (x - y) * (x - y))
                .sum();
            assert!((f - naive).abs() <= 1e-12 * naive);
            // The blocked kernel gives the same bits, for centres in every lane.
            let centers: Vec<f64> = (0..5)
                .flat_map(|c| b[..d].iter().map(move |v| v + c as f64))
                .collect();
            let ct = CentersT::new(&centers, 5, d);
            for c in 0..8 {
                let blk = &ct.t[(c / LANES) * d * LANES..(c / LANES + 1) * d * LANES];
                let got = dispatch_dim!(d, |dm| block_sqdist(dm, &a, blk))[c % LANES];
                if c < 5 {
                    let s = sqdist(Dyn(d), &a, &centers[c * d..(c + 1) * d]);
                    assert_eq!(got.to_bits(), s.to_bits(), "d = {d}, centre {c}");
                } else {
                    assert_eq!(got, f64::INFINITY);
                }
            }
        }
    }
}
