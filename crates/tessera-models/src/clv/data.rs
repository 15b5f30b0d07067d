//! Customers' summaries collapsed to distinct `(x, t_x, T)` triples with weights.
//!
//! The count models' likelihoods depend on a customer only through `(x, t_x, T)`, and real order
//! logs record days, so a million customers share far fewer distinct triples. Fitting and
//! predicting on the triples, each weighted by how many customers have it, gives the same sums
//! as working customer by customer, at a fraction of the cost.

use hashbrown::{HashMap, HashSet};
use rayon::prelude::*;

use super::ClvError;

/// Distinct `(x, t_x, T)` triples, sorted by `x`, then `T`, then `t_x`, with the number of
/// customers having each (`weight`), and the groups of triples sharing an `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Triples {
    /// Repeat purchases.
    pub x: Vec<f64>,
    /// Time of the last purchase, from the first.
    pub t_x: Vec<f64>,
    /// Time from the first purchase to the end of observation.
    pub t: Vec<f64>,
    /// Customers (or their total weight) with this triple.
    pub weight: Vec<f64>,
    /// `(x, start, end)`: triples `start..end` have this `x`.
    pub groups: Vec<(f64, usize, usize)>,
    /// The sum of the weights.
    pub total_weight: f64,
    /// The distinct values of `t_x` and `T`, sorted, when there are at most 65,536 of them
    /// (empty otherwise). Order logs record days, so a million customers have a few hundred;
    /// the models compute `ln(α + v)` once per value.
    pub times: Vec<f64>,
    /// For each triple, the index of its `t_x` in `times`.
    pub t_x_code: Vec<u32>,
    /// For each triple, the index of its `T` in `times`.
    pub t_code: Vec<u32>,
}

/// Above this many distinct times, times are not numbered (each row's are used directly).
const MAX_CODED_TIMES: usize = 1 << 16;

/// Checks one customer's summary (`row` names it in the error).
pub fn check_summary(row: usize, x: f64, t_x: f64, t: f64) -> Result<(), ClvError> {
    let bad = |reason| {
        Err(ClvError::BadSummary {
            row,
            x,
            t_x,
            t,
            reason,
        })
    };
    if !(x.is_finite() && t_x.is_finite() && t.is_finite()) {
        return bad("values must be finite");
    }
    if x < 0.0 || x.fract() != 0.0 {
        return bad("x must be a whole number ≥ 0");
    }
    if t_x < 0.0 || t < 0.0 {
        return bad("times must be ≥ 0");
    }
    if t_x > t {
        return bad("the last purchase is after the end of observation (t_x > T)");
    }
    if x > 0.0 && t_x == 0.0 {
        return bad("repeat purchases need t_x > 0");
    }
    if x == 0.0 && t_x != 0.0 {
        return bad("a customer without repeat purchases has t_x = 0");
    }
    Ok(())
}

impl Triples {
    /// Collapses customers' summaries. Returns the triples and, for each customer, the index of
    /// its triple. `weights`, if given, weigh each customer (default 1).
    pub fn collapse(
        x: &[f64],
        t_x: &[f64],
        t: &[f64],
        weights: Option<&[f64]>,
    ) -> Result<(Self, Vec<u32>), ClvError> {
        let n = x.len();
        if n == 0 {
            return Err(ClvError::Empty);
        }
        for (what, len) in [("t_x", t_x.len()), ("T", t.len())] {
            if len != n {
                return Err(ClvError::Length {
                    what,
                    expected: n,
                    got: len,
                });
            }
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(ClvError::Length {
                    what: "weights",
                    expected: n,
                    got: w.len(),
                });
            }
            if let Some(row) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(ClvError::InvalidParameter {
                    name: "weights",
                    reason: format!("row {row}: weights must be finite and ≥ 0, got {}", w[row]),
                });
            }
        }
        if let Some(e) = (0..n)
            .into_par_iter()
            .with_min_len(1 << 14)
            .find_map_first(|i| check_summary(i, x[i], t_x[i], t[i]).err())
        {
            return Err(e);
        }
        let weight_of = |i: usize| weights.map_or(1.0, |w| w[i]);
        // Order logs record days, so times take few distinct values: number them in sorted
        // order, and key each customer by one integer (x, T's number, t_x's number) whose order
        // is the triples' order. Otherwise key by the three values' bits, which for
        // non-negative finite numbers also sort as the values do.
        let small_x = x.par_iter().all(|&v| v < f64::from(1u32 << 21));
        if let Some(times) = distinct_times(t_x, t).filter(|_| small_x) {
            let code: HashMap<u64, u32> = times
                .iter()
                .enumerate()
                .map(|(k, &v)| (v.to_bits(), k as u32))
                .collect();
            let code_of = |v: f64| u128::from(code[&bits(v)]);
            let mut keyed: Vec<u128> = (0..n)
                .into_par_iter()
                .with_min_len(1 << 14)
                .map(|i| {
                    let key =
                        (u128::from(x[i] as u32) << 42) | (code_of(t[i]) << 21) | code_of(t_x[i]);
                    (key << 32) | i as u128
                })
                .collect();
            keyed.par_sort_unstable();
            let (keys, weight, index) = runs(
                &keyed,
                n,
                |v| (v >> 32) as u64,
                |v| *v as u32 as usize,
                weight_of,
            );
            let mask = (1u64 << 21) - 1;
            let t_code: Vec<u32> = keys.iter().map(|k| ((k >> 21) & mask) as u32).collect();
            let t_x_code: Vec<u32> = keys.iter().map(|k| (k & mask) as u32).collect();
            let triples = Self::from_sorted(
                keys.iter().map(|k| (k >> 42) as f64).collect(),
                t_x_code.iter().map(|&c| times[c as usize]).collect(),
                t_code.iter().map(|&c| times[c as usize]).collect(),
                weight,
                (times, t_x_code, t_code),
            );
            return Ok((triples, index));
        }
        let mut keyed: Vec<([u64; 3], u32)> = (0..n)
            .into_par_iter()
            .with_min_len(1 << 14)
            .map(|i| ([bits(x[i]), bits(t[i]), bits(t_x[i])], i as u32))
            .collect();
        keyed.par_sort_unstable();
        let (keys, weight, index) = runs(&keyed, n, |v| v.0, |v| v.1 as usize, weight_of);
        let value = |k: usize| keys.iter().map(|key| f64::from_bits(key[k])).collect();
        let triples = Self::from_sorted(
            value(0),
            value(2),
            value(1),
            weight,
            (Vec::new(), Vec::new(), Vec::new()),
        );
        Ok((triples, index))
    }

    /// Builds the triples from columns sorted by `x`, then `T`, then `t_x`, with the distinct
    /// times and each triple's numbers of its `t_x` and `T` among them (all empty when the
    /// times are not numbered).
    fn from_sorted(
        x: Vec<f64>,
        t_x: Vec<f64>,
        t: Vec<f64>,
        weight: Vec<f64>,
        (times, t_x_code, t_code): (Vec<f64>, Vec<u32>, Vec<u32>),
    ) -> Self {
        let mut groups: Vec<(f64, usize, usize)> = Vec::new();
        for (i, &xi) in x.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if g.0 == xi => g.2 = i + 1,
                _ => groups.push((xi, i, i + 1)),
            }
        }
        let total_weight = weight.iter().sum();
        Self {
            x,
            t_x,
            t,
            weight,
            groups,
            total_weight,
            times,
            t_x_code,
            t_code,
        }
    }

    /// Number of distinct triples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are no triples (never true of a value built by [`Triples::collapse`]).
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

/// +0.0 normalizes a negative zero so that it meets its positive twin.
fn bits(v: f64) -> u64 {
    (v + 0.0).to_bits()
}

/// Customers read per task when looking for the distinct times.
const CHUNK: usize = 1 << 16;

/// The distinct values of `t_x` and `T`, sorted, if there are at most [`MAX_CODED_TIMES`].
fn distinct_times(t_x: &[f64], t: &[f64]) -> Option<Vec<f64>> {
    let local = |range: std::ops::Range<usize>| -> Option<HashSet<u64>> {
        let mut seen = HashSet::new();
        for i in range {
            seen.insert(bits(t_x[i]));
            seen.insert(bits(t[i]));
            if seen.len() > MAX_CODED_TIMES {
                return None;
            }
        }
        Some(seen)
    };
    let n = t.len();
    let sets: Vec<HashSet<u64>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| local(c * CHUNK..((c + 1) * CHUNK).min(n)))
        .collect::<Option<_>>()?;
    let mut all = HashSet::new();
    for set in sets {
        all.extend(set);
        if all.len() > MAX_CODED_TIMES {
            return None;
        }
    }
    // Non-negative finite numbers order as their bits do.
    let mut sorted: Vec<u64> = all.into_iter().collect();
    sorted.sort_unstable();
    Some(sorted.into_iter().map(f64::from_bits).collect())
}

/// Walks customers sorted by key (ties in customer order): the distinct keys, the summed weight
/// of each, and each customer's number among them.
fn runs<T, K: PartialEq + Copy>(
    sorted: &[T],
    n: usize,
    key: impl Fn(&T) -> K,
    customer: impl Fn(&T) -> usize,
    weight_of: impl Fn(usize) -> f64,
) -> (Vec<K>, Vec<f64>, Vec<u32>) {
    let mut keys: Vec<K> = Vec::new();
    let mut weight: Vec<f64> = Vec::new();
    let mut index = vec![0u32; n];
    for v in sorted {
        let (k, i) = (key(v), customer(v));
        if keys.last() != Some(&k) {
            keys.push(k);
            weight.push(0.0);
        }
        let last = keys.len() - 1;
        weight[last] += weight_of(i);
        index[i] = last as u32;
    }
    (keys, weight, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_and_maps_every_customer_back() {
        let x = [0.0, 2.0, 0.0, 2.0, 1.0, 2.0];
        let t_x = [0.0, 5.0, 0.0, 5.0, 3.0, 4.0];
        let t = [10.0, 9.0, 10.0, 9.0, 8.0, 9.0];
        let (tr, idx) = Triples::collapse(&x, &t_x, &t, None).unwrap();
        assert_eq!(tr.len(), 4);
        assert_eq!(tr.total_weight, 6.0);
        for i in 0..x.len() {
            let k = idx[i] as usize;
            assert_eq!((tr.x[k], tr.t_x[k], tr.t[k]), (x[i], t_x[i], t[i]));
        }
        assert_eq!(tr.weight, vec![2.0, 1.0, 1.0, 2.0]);
        assert_eq!(tr.groups, vec![(0.0, 0, 1), (1.0, 1, 2), (2.0, 2, 4)]);
        assert_eq!(tr.times, vec![0.0, 3.0, 4.0, 5.0, 8.0, 9.0, 10.0]);
        for k in 0..tr.len() {
            assert_eq!(tr.times[tr.t_x_code[k] as usize], tr.t_x[k]);
            assert_eq!(tr.times[tr.t_code[k] as usize], tr.t[k]);
        }
    }

    /// Collapses `n` summaries and checks every customer maps back to its triple, the triples
    /// are sorted by (x, T, t_x) and distinct, and the weights add up.
    fn check_collapse(x: &[f64], t_x: &[f64], t: &[f64], w: &[f64]) -> Triples {
        let (tr, idx) = Triples::collapse(x, t_x, t, Some(w)).unwrap();
        let mut expected = vec![0.0; tr.len()];
        for i in 0..x.len() {
            let k = idx[i] as usize;
            assert_eq!((tr.x[k], tr.t_x[k], tr.t[k]), (x[i], t_x[i], t[i]));
            expected[k] += w[i];
        }
        assert_eq!(tr.weight, expected);
        for k in 1..tr.len() {
            let key = |k: usize| (tr.x[k], tr.t[k], tr.t_x[k]);
            assert!(key(k - 1) < key(k), "not sorted and distinct at {k}");
        }
        let groups: usize = tr.groups.iter().map(|g| g.2 - g.1).sum();
        assert_eq!(groups, tr.len());
        tr
    }

    #[test]
    fn numbered_and_unnumbered_times_collapse_alike() {
        // Day-stamped times (few distinct values, numbered) and continuous ones (more than
        // MAX_CODED_TIMES distinct values, keyed by their bits) over 300,000 customers.
        let n = 300_000;
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut x, mut t_x, mut t, mut w) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let ti = 1.0 + 38.0 * next();
            let xi = (next() * 4.0).floor();
            let txi = if xi == 0.0 {
                0.0
            } else {
                ti * (0.05 + 0.95 * next())
            };
            x.push(xi);
            t.push(ti);
            t_x.push(txi);
            w.push(0.5 + (next() * 3.0).floor());
        }
        let tr = check_collapse(&x, &t_x, &t, &w);
        assert!(tr.times.is_empty() && tr.t_code.is_empty());
        let day = |v: &f64| (v * 7.0).round() / 7.0;
        let (t_x, t): (Vec<f64>, Vec<f64>) =
            (t_x.iter().map(day).collect(), t.iter().map(day).collect());
        let x: Vec<f64> = x
            .iter()
            .zip(&t_x)
            .map(|(&x, &tx)| if tx == 0.0 { 0.0 } else { x.max(1.0) })
            .collect();
        let tr = check_collapse(&x, &t_x, &t, &w);
        assert!(!tr.times.is_empty() && tr.times.len() < 300);
        for k in 0..tr.len() {
            assert_eq!(tr.times[tr.t_x_code[k] as usize], tr.t_x[k]);
            assert_eq!(tr.times[tr.t_code[k] as usize], tr.t[k]);
        }
    }

    #[test]
    fn refuses_impossible_summaries_naming_the_row() {
        let err = Triples::collapse(&[1.0, 2.0], &[1.0, 5.0], &[3.0, 4.0], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1: the last purchase is after the end of observation (t_x > T) (x = 2, t_x = 5, T = 4)"
        );
        let err = Triples::collapse(&[1.5], &[1.0], &[3.0], None).unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
        let err = Triples::collapse(&[], &[], &[], None).unwrap_err();
        assert_eq!(err, ClvError::Empty);
    }
}
