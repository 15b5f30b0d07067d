//! Customers' summaries collapsed to distinct `(x, t_x, T)` triples with weights.
//!
//! The count models' likelihoods depend on a customer only through `(x, t_x, T)`, and real order
//! logs record days, so a million customers share far fewer distinct triples. Fitting and
//! predicting on the triples, each weighted by how many customers have it, gives the same sums
//! as working customer by customer, at a fraction of the cost.

use hashbrown::HashMap;
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
        // +0.0 normalizes a negative zero so that it meets its positive twin.
        let bits = |v: f64| (v + 0.0).to_bits();
        let mut keys: Vec<(f64, f64, f64)> = Vec::new();
        let mut weight: Vec<f64> = Vec::new();
        let mut index = Vec::with_capacity(n);
        let mut add = |i: usize, k: u32, new: bool| {
            if new {
                keys.push((x[i], t_x[i], t[i]));
                weight.push(0.0);
            }
            weight[k as usize] += weights.map_or(1.0, |w| w[i]);
            index.push(k);
        };
        // Order logs record days, so times take few distinct values: number them, and key each
        // customer by one u64 (x, t_x's number, T's number). Otherwise key by the three values.
        let mut time_code: HashMap<u64, u32> = HashMap::new();
        let mut packable = x.iter().all(|&v| v < f64::from(1u32 << 21));
        let mut packed = Vec::new();
        if packable {
            packed.reserve_exact(n);
            for i in 0..n {
                let mut code = |v: f64| {
                    let next = time_code.len() as u64;
                    *time_code.entry(bits(v)).or_insert(next as u32) as u64
                };
                let (a, b) = (code(t_x[i]), code(t[i]));
                if time_code.len() > MAX_CODED_TIMES {
                    packable = false;
                    break;
                }
                packed.push(((x[i] as u64) << 42) | (a << 21) | b);
            }
        }
        if packable {
            let mut slot: HashMap<u64, u32> = HashMap::with_capacity(n.min(1 << 16));
            for (i, key) in packed.into_iter().enumerate() {
                let next = slot.len() as u32;
                let k = *slot.entry(key).or_insert(next);
                add(i, k, k == next);
            }
        } else {
            let mut slot: HashMap<(u64, u64, u64), u32> = HashMap::with_capacity(n.min(1 << 16));
            for i in 0..n {
                let key = (bits(x[i]), bits(t_x[i]), bits(t[i]));
                let next = slot.len() as u32;
                let k = *slot.entry(key).or_insert(next);
                add(i, k, k == next);
            }
        }
        // Sort the triples, and renumber the customers' indices to match.
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_unstable_by(|&i, &j| {
            let (a, b) = (keys[i as usize], keys[j as usize]);
            (a.0, a.2, a.1)
                .partial_cmp(&(b.0, b.2, b.1))
                .expect("summaries are finite")
        });
        let mut rank = vec![0u32; keys.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        for k in &mut index {
            *k = rank[*k as usize];
        }
        let pick = |f: fn(&(f64, f64, f64)) -> f64| -> Vec<f64> {
            order.iter().map(|&i| f(&keys[i as usize])).collect()
        };
        let triples = Self::from_sorted(
            pick(|k| k.0),
            pick(|k| k.1),
            pick(|k| k.2),
            order.iter().map(|&i| weight[i as usize]).collect(),
        );
        Ok((triples, index))
    }

    fn from_sorted(x: Vec<f64>, t_x: Vec<f64>, t: Vec<f64>, weight: Vec<f64>) -> Self {
        let mut groups: Vec<(f64, usize, usize)> = Vec::new();
        for (i, &xi) in x.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if g.0 == xi => g.2 = i + 1,
                _ => groups.push((xi, i, i + 1)),
            }
        }
        let total_weight = weight.iter().sum();
        let mut times: Vec<f64> = t_x.iter().chain(&t).copied().collect();
        times.sort_unstable_by(f64::total_cmp);
        times.dedup();
        if times.len() > MAX_CODED_TIMES {
            times.clear();
        }
        let code = |v: &f64| times.partition_point(|u| u < v) as u32;
        let (t_x_code, t_code) = if times.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (t_x.iter().map(code).collect(), t.iter().map(code).collect())
        };
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
