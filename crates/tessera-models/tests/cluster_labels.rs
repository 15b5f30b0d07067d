//! Stable labels: relabelling, cluster means, the Hungarian algorithm against brute force.

use proptest::prelude::*;
use tessera_models::cluster::labels::{
    Order, cluster_means, hungarian, match_clusters, min_cost_assignment, relabel_by_column,
    relabel_by_key,
};
use tessera_models::cluster::{ClusterError, Matrix};

/// The smallest total over all permutations, by enumeration (Heap's algorithm).
fn brute_force(cost: &[f64], n: usize) -> f64 {
    let mut perm: Vec<usize> = (0..n).collect();
    let total = |p: &[usize]| {
        p.iter()
            .enumerate()
            .map(|(i, &j)| cost[i * n + j])
            .sum::<f64>()
    };
    let mut best = total(&perm);
    let mut c = vec![0usize; n];
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            best = best.min(total(&perm));
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    best
}

proptest! {
    /// For random square matrices up to 7 × 7 (with repeated values, so ties occur), the
    /// Hungarian total equals the brute-force minimum and the assignment is a permutation.
    #[test]
    fn hungarian_matches_brute_force(
        n in 1usize..=7,
        seed_costs in prop::collection::vec(-20i32..20, 49),
        scale in prop::sample::select(vec![1.0f64, 0.37, 1e6]),
    ) {
        let cost: Vec<f64> = seed_costs[..n * n].iter().map(|&v| v as f64 * scale).collect();
        let (assignment, total) = hungarian(&cost, n).unwrap();
        let mut seen = assignment.clone();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
        let best = brute_force(&cost, n);
        prop_assert!((total - best).abs() <= 1e-9 * best.abs().max(1.0), "{} vs {}", total, best);
    }

    /// Rectangular matrices: the padded assignment pairs min(rows, cols) rows, each column at
    /// most once, at the brute-force minimum of the zero-padded square matrix.
    #[test]
    fn rectangular_assignment(
        rows in 1usize..=5,
        cols in 1usize..=5,
        vals in prop::collection::vec(0.0f64..100.0, 25),
    ) {
        let cost = &vals[..rows * cols];
        let a = min_cost_assignment(cost, rows, cols).unwrap();
        prop_assert_eq!(a.len(), rows);
        let used: Vec<usize> = a.iter().flatten().copied().collect();
        prop_assert_eq!(used.len(), rows.min(cols));
        let mut dedup = used.clone();
        dedup.sort_unstable();
        dedup.dedup();
        prop_assert_eq!(dedup.len(), used.len());
        let n = rows.max(cols);
        let mut square = vec![0.0; n * n];
        for i in 0..rows {
            square[i * n..i * n + cols].copy_from_slice(&cost[i * cols..(i + 1) * cols]);
        }
        let total: f64 = a.iter().enumerate().filter_map(|(i, j)| j.map(|j| cost[i * cols + j])).sum();
        prop_assert!((total - brute_force(&square, n)).abs() < 1e-9);
    }
}

#[test]
fn hungarian_refuses_non_finite_costs() {
    let e = hungarian(&[1.0, f64::NAN, 0.0, 2.0], 2).unwrap_err();
    assert_eq!(e, ClusterError::NonFiniteCost { row: 0, col: 1 });
    assert!(hungarian(&[1.0, 2.0, 3.0], 2).is_err());
    assert_eq!(hungarian(&[], 0).unwrap(), (vec![], 0.0));
}

/// Relabelling by spend, highest first; equal keys are ordered by centre coordinates.
#[test]
fn relabel_by_key_with_ties() {
    let centers =
        Matrix::from_rows(&[[5.0, 100.0], [1.0, 300.0], [2.0, 100.0], [0.0, 300.0]]).unwrap();
    let r = relabel_by_column(&centers, 1, Order::Descending).unwrap();
    // Key 300: clusters 1 (first coordinate 1) and 3 (0) -> 3 first; key 100: 2 then 0.
    assert_eq!(r.old_of_new, vec![3, 1, 2, 0]);
    assert_eq!(r.new_of_old, vec![3, 1, 2, 0]);
    assert_eq!(r.relabel(&[0, 1, 2, 3]).unwrap(), vec![3, 1, 2, 0]);
    assert_eq!(r.reorder_rows(&centers).unwrap().row(0), &[0.0, 300.0]);
    assert!(r.relabel(&[4]).is_err());
    let asc = relabel_by_key(&[3.0, 1.0, 2.0, 0.5], &centers, Order::Ascending).unwrap();
    assert_eq!(asc.old_of_new, vec![3, 1, 2, 0]);
    assert!(relabel_by_column(&centers, 2, Order::Ascending).is_err());
    assert!(relabel_by_key(&[f64::NAN, 1.0, 2.0, 3.0], &centers, Order::Ascending).is_err());
}

#[test]
fn cluster_means_of_original_units() {
    let x = Matrix::from_rows(&[[1.0], [3.0], [10.0]]).unwrap();
    let m = cluster_means(&x, &[1, 1, 0], 3).unwrap();
    assert_eq!(m.get(0, 0), 10.0);
    assert_eq!(m.get(1, 0), 2.0);
    assert!(m.get(2, 0).is_nan());
    assert!(matches!(
        cluster_means(&x, &[0, 0, 3], 3),
        Err(ClusterError::LabelOutOfRange { .. })
    ));
}

/// New clusters are matched to the nearest old ones overall; extra new clusters get `None`,
/// and with fewer new clusters the unmatched old one is dropped.
#[test]
fn match_clusters_handles_unequal_k() {
    let old = Matrix::from_rows(&[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]).unwrap();
    let new = Matrix::from_rows(&[[0.5, 9.0], [9.0, 1.0], [0.0, 0.5], [50.0, 50.0]]).unwrap();
    assert_eq!(
        match_clusters(&old, &new).unwrap(),
        vec![Some(2), Some(1), Some(0), None]
    );
    let fewer = Matrix::from_rows(&[[9.0, 1.0], [0.2, 9.5]]).unwrap();
    assert_eq!(
        match_clusters(&old, &fewer).unwrap(),
        vec![Some(1), Some(2)]
    );
    // Both new centres are nearest old centre 0; the assignment gives one of them old 1.
    let old2 = Matrix::from_rows(&[[0.0], [10.0]]).unwrap();
    let new2 = Matrix::from_rows(&[[1.0], [4.0]]).unwrap();
    // Totals: (1->0, 4->10) = 1 + 6 = 7; (1->10, 4->0) = 9 + 4 = 13.
    assert_eq!(
        match_clusters(&old2, &new2).unwrap(),
        vec![Some(0), Some(1)]
    );
}
