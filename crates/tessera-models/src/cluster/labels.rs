//! Stable cluster labels: deterministic relabelling by a key, and matching the clusters of two
//! fits with the Hungarian algorithm (Kuhn 1955; Munkres 1957).
//!
//! k-means numbers its clusters in an arbitrary order that changes with the seed and the
//! data. [`relabel_by_column`] and [`relabel_by_key`] renumber them by something a person can
//! read, such as mean spend, highest first. [`match_clusters`] pairs the clusters of a new fit
//! with those of an old one, for tracking segments over time.
//!
//! ```
//! use tessera_models::cluster::Matrix;
//! use tessera_models::cluster::labels::{Order, match_clusters, relabel_by_column};
//!
//! // Centres in original units; column 1 is spend.
//! let centers = Matrix::from_rows(&[[1.0, 50.0], [2.0, 900.0], [3.0, 200.0]])?;
//! let r = relabel_by_column(&centers, 1, Order::Descending)?;
//! assert_eq!(r.old_of_new, vec![1, 2, 0]); // new 0 is the big spenders
//! assert_eq!(r.relabel(&[0, 1, 2, 1])?, vec![2, 0, 1, 0]);
//!
//! let new = Matrix::from_rows(&[[3.1, 190.0], [1.1, 55.0], [2.0, 880.0]])?;
//! assert_eq!(match_clusters(&centers, &new)?, vec![Some(2), Some(0), Some(1)]);
//! # Ok::<(), tessera_models::cluster::ClusterError>(())
//! ```

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::error::{ClusterError, invalid};
use super::matrix::{Matrix, MatrixRef};

/// Sort order of a relabelling key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// Smallest key gets label 0.
    Ascending,
    /// Largest key gets label 0.
    Descending,
}

/// A renumbering of `k` clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relabeling {
    /// `new_of_old[old]` is the new label of old cluster `old`.
    pub new_of_old: Vec<u32>,
    /// `old_of_new[new]` is the old cluster that gets label `new`.
    pub old_of_new: Vec<usize>,
}

impl Relabeling {
    /// The new label of each old label; an error for a label `≥ k`.
    pub fn relabel(&self, labels: &[u32]) -> Result<Vec<u32>, ClusterError> {
        labels
            .iter()
            .enumerate()
            .map(|(row, &l)| {
                self.new_of_old
                    .get(l as usize)
                    .copied()
                    .ok_or(ClusterError::LabelOutOfRange {
                        row,
                        label: l,
                        k: self.new_of_old.len(),
                    })
            })
            .collect()
    }

    /// The rows of `centers` (one per old cluster) in the new order.
    pub fn reorder_rows<'a>(
        &self,
        centers: impl Into<MatrixRef<'a>>,
    ) -> Result<Matrix, ClusterError> {
        let c = centers.into();
        if c.rows() != self.old_of_new.len() {
            return Err(ClusterError::DimensionMismatch {
                what: "rows of the centres against clusters of the relabelling",
                expected: self.old_of_new.len(),
                got: c.rows(),
            });
        }
        Ok(c.select_rows(&self.old_of_new))
    }
}

/// Renumbers `k` clusters by `keys[c]` (one per cluster) in `order`; ties are broken by the
/// clusters' centre coordinates compared lexicographically in ascending order, then by the old
/// label. `centers` has one row per cluster. Keys and centres must be finite.
pub fn relabel_by_key<'a>(
    keys: &[f64],
    centers: impl Into<MatrixRef<'a>>,
    order: Order,
) -> Result<Relabeling, ClusterError> {
    let c = centers.into();
    if keys.len() != c.rows() {
        return Err(ClusterError::DimensionMismatch {
            what: "number of keys against rows of the centres",
            expected: c.rows(),
            got: keys.len(),
        });
    }
    if let Some(j) = keys.iter().position(|v| !v.is_finite()) {
        return Err(invalid(
            "keys",
            format!("key of cluster {j} is not finite ({})", keys[j]),
        ));
    }
    c.check_finite()?;
    let mut old_of_new: Vec<usize> = (0..keys.len()).collect();
    old_of_new.sort_by(|&a, &b| {
        let by_key = match order {
            Order::Ascending => keys[a].total_cmp(&keys[b]),
            Order::Descending => keys[b].total_cmp(&keys[a]),
        };
        by_key
            .then_with(|| lexicographic(c.row(a), c.row(b)))
            .then(a.cmp(&b))
    });
    let mut new_of_old = vec![0u32; keys.len()];
    for (new, &old) in old_of_new.iter().enumerate() {
        new_of_old[old] = new as u32;
    }
    Ok(Relabeling {
        new_of_old,
        old_of_new,
    })
}

fn lexicographic(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Renumbers clusters by column `col` of their centres (give centres in original units, e.g.
/// from [`crate::cluster::FittedTransform::inverse`], or per-cluster means of an original
/// column from [`cluster_means`]); ties as [`relabel_by_key`].
pub fn relabel_by_column<'a>(
    centers: impl Into<MatrixRef<'a>>,
    col: usize,
    order: Order,
) -> Result<Relabeling, ClusterError> {
    let c = centers.into();
    if col >= c.cols() {
        return Err(invalid(
            "col",
            format!("column {col} out of range for {} columns", c.cols()),
        ));
    }
    let keys: Vec<f64> = (0..c.rows()).map(|i| c.get(i, col)).collect();
    relabel_by_key(&keys, c, order)
}

/// Per-cluster means of the rows of `x` (e.g. the data in original units), `k × d`. Labels
/// must be below `k`; an empty cluster's row is NaN.
pub fn cluster_means<'a>(
    x: impl Into<MatrixRef<'a>>,
    labels: &[u32],
    k: usize,
) -> Result<Matrix, ClusterError> {
    let x = x.into();
    if labels.len() != x.rows() {
        return Err(ClusterError::DimensionMismatch {
            what: "number of labels against rows of the data",
            expected: x.rows(),
            got: labels.len(),
        });
    }
    let d = x.cols();
    let mut sums = Matrix::zeros(k, d);
    let mut counts = vec![0usize; k];
    for (row, (xr, &l)) in x.iter_rows().zip(labels).enumerate() {
        if l as usize >= k {
            return Err(ClusterError::LabelOutOfRange { row, label: l, k });
        }
        counts[l as usize] += 1;
        for (s, v) in sums.row_mut(l as usize).iter_mut().zip(xr) {
            *s += *v;
        }
    }
    for (c, &n) in counts.iter().enumerate() {
        for v in sums.row_mut(c) {
            *v = if n == 0 { f64::NAN } else { *v / n as f64 };
        }
    }
    Ok(sums)
}

/// Pairs each new cluster with an old one so that the total Euclidean distance between paired
/// centres is smallest (Hungarian algorithm). `result[j]` is the old cluster matched to new
/// cluster `j`, or `None` when there are more new clusters than old ones and `j` is left
/// over; with fewer new clusters, some old clusters are unmatched. Both must have the same
/// columns and finite values.
pub fn match_clusters<'a, 'b>(
    old_centers: impl Into<MatrixRef<'a>>,
    new_centers: impl Into<MatrixRef<'b>>,
) -> Result<Vec<Option<usize>>, ClusterError> {
    let (old, new) = (old_centers.into(), new_centers.into());
    if old.cols() != new.cols() {
        return Err(ClusterError::DimensionMismatch {
            what: "columns of the new centres against the old",
            expected: old.cols(),
            got: new.cols(),
        });
    }
    old.check_finite()?;
    new.check_finite()?;
    let mut cost = Vec::with_capacity(new.rows() * old.rows());
    for a in new.iter_rows() {
        for b in old.iter_rows() {
            let d2: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            cost.push(d2.sqrt());
        }
    }
    min_cost_assignment(&cost, new.rows(), old.rows())
}

/// Minimum-cost assignment for a `rows × cols` cost matrix (row-major, finite): each row gets
/// at most one column and each column at most one row, as many pairs as `min(rows, cols)`,
/// with the smallest total cost. `result[i]` is the column of row `i`, `None` if unassigned.
/// A non-square matrix is padded with zero-cost dummy rows or columns.
pub fn min_cost_assignment(
    cost: &[f64],
    rows: usize,
    cols: usize,
) -> Result<Vec<Option<usize>>, ClusterError> {
    if rows.checked_mul(cols) != Some(cost.len()) {
        return Err(ClusterError::Shape {
            rows,
            cols,
            expected: rows.saturating_mul(cols),
            got: cost.len(),
        });
    }
    let n = rows.max(cols);
    let mut square = vec![0.0f64; n * n];
    for i in 0..rows {
        square[i * n..i * n + cols].copy_from_slice(&cost[i * cols..(i + 1) * cols]);
    }
    let (assignment, _) = hungarian(&square, n)?;
    Ok(assignment
        .into_iter()
        .take(rows)
        .map(|j| (j < cols).then_some(j))
        .collect())
}

/// The Hungarian algorithm (Kuhn 1955; Munkres 1957) in its `O(n³)` form with dual potentials
/// and shortest augmenting paths: for a square `n × n` cost matrix (row-major, finite), the
/// permutation `assignment` (row `i` gets column `assignment[i]`) minimising the total cost,
/// and that total. Ties between optimal assignments are resolved deterministically.
pub fn hungarian(cost: &[f64], n: usize) -> Result<(Vec<usize>, f64), ClusterError> {
    if n.checked_mul(n) != Some(cost.len()) {
        return Err(ClusterError::Shape {
            rows: n,
            cols: n,
            expected: n.saturating_mul(n),
            got: cost.len(),
        });
    }
    if let Some(p) = cost.iter().position(|v| !v.is_finite()) {
        return Err(ClusterError::NonFiniteCost {
            row: p / n,
            col: p % n,
        });
    }
    // Columns are numbered 1..=n; column 0 is a virtual start. `row_of[j]` is the row matched
    // to column j (0 = none, rows also 1-based). `pot_row`/`pot_col` are the dual potentials:
    // every reduced cost c(i, j) − pot_row[i] − pot_col[j] stays ≥ 0 (up to rounding) and is 0
    // on matched pairs.
    let c = |i: usize, j: usize| cost[(i - 1) * n + (j - 1)];
    let mut pot_row = vec![0.0f64; n + 1];
    let mut pot_col = vec![0.0f64; n + 1];
    let mut row_of = vec![0usize; n + 1];
    let mut prev_col = vec![0usize; n + 1];
    let mut slack = vec![0.0f64; n + 1];
    let mut visited = vec![false; n + 1];
    for row in 1..=n {
        // Grow a tree of tight edges from `row` (hanging off the virtual column 0) with
        // Dijkstra-like steps until it reaches a free column, then augment along it.
        row_of[0] = row;
        let mut col = 0usize;
        slack.fill(f64::INFINITY);
        visited.fill(false);
        loop {
            visited[col] = true;
            let i = row_of[col];
            let mut delta = f64::INFINITY;
            let mut next = 0usize;
            for j in 1..=n {
                if visited[j] {
                    continue;
                }
                let reduced = c(i, j) - pot_row[i] - pot_col[j];
                if reduced < slack[j] {
                    slack[j] = reduced;
                    prev_col[j] = col;
                }
                if slack[j] < delta {
                    delta = slack[j];
                    next = j;
                }
            }
            // Shift the potentials so that the cheapest edge out of the tree becomes tight.
            for j in 0..=n {
                if visited[j] {
                    pot_row[row_of[j]] += delta;
                    pot_col[j] -= delta;
                } else {
                    slack[j] -= delta;
                }
            }
            col = next;
            if row_of[col] == 0 {
                break;
            }
        }
        // Augment: flip the matched and unmatched edges along the path back to column 0.
        while col != 0 {
            let p = prev_col[col];
            row_of[col] = row_of[p];
            col = p;
        }
    }
    let mut assignment = vec![0usize; n];
    for j in 1..=n {
        assignment[row_of[j] - 1] = j - 1;
    }
    let total = assignment
        .iter()
        .enumerate()
        .map(|(i, &j)| cost[i * n + j])
        .sum();
    Ok((assignment, total))
}
