//! Clustering metrics: hand computations, special cases, sampling, determinism.
//! (Agreement with scikit-learn is in cluster_reference.rs.)

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_models::cluster::metrics::{
    adjusted_rand_index, calinski_harabasz_score, davies_bouldin_score, silhouette_samples,
    silhouette_score, silhouette_score_sampled,
};
use tessera_models::cluster::{ClusterError, Matrix};

fn line(v: &[f64]) -> Matrix {
    Matrix::new(v.to_vec(), v.len(), 1).unwrap()
}

/// Rows 0, 1, 4 on a line, clusters {0, 1} and {4}.
/// Row 0: a = 1, b = 4, s = 3/4. Row 1: a = 1, b = 3, s = 2/3. Row 4: alone, s = 0.
/// CH: means 0.5 and 4, overall 5/3; B = 2(0.5 − 5/3)² + (4 − 5/3)² = 49/6; W = 0.5;
/// CH = (49/6 / 1) / (0.5 / 1) = 49/3.
/// DB: s = (0.5, 0); M = 3.5; both ratios 0.5/3.5 = 1/7, DB = 1/7.
#[test]
fn hand_computed_values() {
    let x = line(&[0.0, 1.0, 4.0]);
    let l = [3, 3, 8];
    let s = silhouette_samples(&x, &l).unwrap();
    let want = [0.75, 2.0 / 3.0, 0.0];
    for (g, w) in s.iter().zip(want) {
        assert!((g - w).abs() < 1e-15, "{g} vs {w}");
    }
    assert!((silhouette_score(&x, &l).unwrap() - (0.75 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
    assert!((calinski_harabasz_score(&x, &l).unwrap() - 49.0 / 3.0).abs() < 1e-12);
    assert!((davies_bouldin_score(&x, &l).unwrap() - 1.0 / 7.0).abs() < 1e-15);
}

/// scikit-learn's special cases: CH is 1.0 when every row sits on its centroid, DB is 0.0
/// when every scatter is 0.
#[test]
fn degenerate_dispersions() {
    let x = line(&[1.0, 1.0, 5.0, 5.0]);
    let l = [0, 0, 1, 1];
    assert_eq!(calinski_harabasz_score(&x, &l).unwrap(), 1.0);
    assert_eq!(davies_bouldin_score(&x, &l).unwrap(), 0.0);
    assert_eq!(silhouette_score(&x, &l).unwrap(), 1.0);
}

#[test]
fn label_count_must_be_between_2_and_n_minus_1() {
    let x = line(&[0.0, 1.0, 2.0]);
    let e = silhouette_score(&x, &[0, 0, 0]).unwrap_err();
    assert_eq!(e, ClusterError::LabelCount { labels: 1, max: 2 });
    assert!(calinski_harabasz_score(&x, &[0, 1, 2]).is_err());
    assert!(davies_bouldin_score(&x, &[0, 1]).is_err());
    assert!(adjusted_rand_index(&[0, 1], &[0]).is_err());
}

/// Hubert & Arabie's formula by hand for [0, 0, 1, 2] against [0, 0, 1, 1]: contingency
/// cells 2, 1, 1; sum of C(n_ij, 2) = 1; rows C(2,2)+0+0 = 1; columns C(2,2)+C(2,2) = 2;
/// expected = 1·2 / C(4,2) = 1/3; max = (1 + 2)/2 = 1.5; ARI = (1 − 1/3) / (1.5 − 1/3) = 4/7.
#[test]
fn ari_by_hand_and_symmetry() {
    let a = [0, 0, 1, 2];
    let b = [0, 0, 1, 1];
    assert!((adjusted_rand_index(&a, &b).unwrap() - 4.0 / 7.0).abs() < 1e-15);
    assert_eq!(
        adjusted_rand_index(&a, &b).unwrap(),
        adjusted_rand_index(&b, &a).unwrap()
    );
}

/// The sampled silhouette with a sample as large as the data is the exact score, and a
/// sample of 1,000 of 3,000 rows is close to it (the estimate's standard error here is about
/// 0.01).
#[test]
fn sampled_silhouette_estimates_the_exact_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n = 3_000;
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let c = (i % 3) as u32;
        data.push(c as f64 * 3.0 + rng.random::<f64>() * 2.0);
        data.push(rng.random::<f64>());
        labels.push(c);
    }
    let x = Matrix::new(data, n, 2).unwrap();
    let exact = silhouette_score(&x, &labels).unwrap();
    assert_eq!(silhouette_score_sampled(&x, &labels, n, 0).unwrap(), exact);
    let est = silhouette_score_sampled(&x, &labels, 1_000, 5).unwrap();
    assert!((est - exact).abs() < 0.03, "{est} vs {exact}");
    assert_eq!(
        est,
        silhouette_score_sampled(&x, &labels, 1_000, 5).unwrap()
    );
    assert!(silhouette_score_sampled(&x, &labels, 0, 5).is_err());

    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let s1 = one.install(|| silhouette_samples(&x, &labels).unwrap());
    let s2 = two.install(|| silhouette_samples(&x, &labels).unwrap());
    assert_eq!(s1, s2);
}
