//! Seeded randomness. Every random choice of [`crate::cluster`] draws from ChaCha8 seeded with
//! [`rand::SeedableRng::seed_from_u64`], through the small samplers below, which use only the
//! generator's raw 64-bit output. Results therefore depend only on the seed and on the ChaCha8
//! stream, not on the sampling algorithms of a `rand` release.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator of every seeded choice.
pub(crate) type ClusterRng = ChaCha8Rng;

/// A generator for `seed`.
pub(crate) fn rng_from(seed: u64) -> ClusterRng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A fresh seed drawn from `rng`, for a sub-task with its own generator.
pub(crate) fn child_seed(rng: &mut ClusterRng) -> u64 {
    rng.next_u64()
}

/// Uniform in `[0, 1)`, on the grid of multiples of 2^-53.
pub(crate) fn uniform01(rng: &mut ClusterRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform in `0..n` without bias (Lemire's multiply-and-reject); `n` must be positive.
pub(crate) fn uniform_index(rng: &mut ClusterRng, n: usize) -> usize {
    debug_assert!(n > 0);
    let n = n as u64;
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// `m` distinct indices of `0..n`, drawn uniformly without replacement, in increasing order.
/// `m` must be at most `n`.
pub(crate) fn sample_indices(rng: &mut ClusterRng, n: usize, m: usize) -> Vec<usize> {
    debug_assert!(m <= n);
    let mut out = if m.saturating_mul(8) < n {
        // Floyd's algorithm: m draws, a set of the chosen.
        let mut chosen = std::collections::HashSet::with_capacity(m);
        let mut out = Vec::with_capacity(m);
        for j in n - m..n {
            let t = uniform_index(rng, j + 1);
            let pick = if chosen.contains(&t) { j } else { t };
            chosen.insert(pick);
            out.push(pick);
        }
        out
    } else {
        // Partial Fisher–Yates shuffle of 0..n.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..m {
            let j = i + uniform_index(rng, n - i);
            all.swap(i, j);
        }
        all.truncate(m);
        all
    };
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_sorted_and_in_range() {
        let mut r = rng_from(7);
        for (n, m) in [(10, 0), (10, 10), (1000, 5), (1000, 900), (1, 1)] {
            let s = sample_indices(&mut r, n, m);
            assert_eq!(s.len(), m);
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            assert!(s.iter().all(|&i| i < n));
        }
    }

    #[test]
    fn uniform01_is_in_unit_interval() {
        let mut r = rng_from(1);
        for _ in 0..1000 {
            let u = uniform01(&mut r);
            assert!((0.0..1.0).contains(&u));
        }
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            counts[uniform_index(&mut r, 3)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 900), "{counts:?}");
    }
}
