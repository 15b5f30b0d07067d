//! k-prototypes on data whose answer is known.

use tessera_models::cluster::kprototypes::{Categorical, default_gamma};
use tessera_models::cluster::{ClusterError, KPrototypes, Matrix, metrics};

/// Three groups of 40 rows: the numeric feature separates group 0 (near 0) from groups 1 and 2
/// (both near 5), and only the categorical features separate groups 1 and 2 (codes 100/7
/// against 3/8). k-means on the numeric part alone could not find the three groups; k-prototypes
/// must, with modes equal to each group's codes.
fn three_groups() -> (Matrix, Vec<u32>, Vec<u32>) {
    let mut num = Vec::new();
    let mut cats = Vec::new();
    let mut truth = Vec::new();
    for g in 0..3u32 {
        for i in 0..40 {
            // Small deterministic jitter in [-0.2, 0.2).
            let jitter = ((i * 37 + g as usize * 11) % 40) as f64 / 100.0 - 0.2;
            num.push([if g == 0 { 0.0 } else { 5.0 } + jitter]);
            let (a, b) = match g {
                0 => (1, 2),
                1 => (100, 7),
                _ => (3, 8),
            };
            // One row in ten of each group has its first code swapped, so modes are by vote.
            let a = if i % 10 == 0 { 55 } else { a };
            cats.extend_from_slice(&[a, b]);
            truth.push(g);
        }
    }
    (Matrix::from_rows(&num).unwrap(), cats, truth)
}

#[test]
fn finds_groups_separated_only_by_categories() {
    let (num, codes, truth) = three_groups();
    let cat = Categorical::new(&codes, num.rows(), 2).unwrap();
    let fit = KPrototypes::new(3).seed(1).fit(&num, cat).unwrap();
    assert!(fit.converged);
    assert_eq!(
        metrics::adjusted_rand_index(&fit.labels, &truth).unwrap(),
        1.0
    );
    for (g, codes) in [(0usize, [1u32, 2]), (1, [100, 7]), (2, [3, 8])] {
        let c = fit.labels[g * 40] as usize;
        assert_eq!(&fit.modes[c * 2..c * 2 + 2], &codes, "group {g}");
    }
    // Cost by hand: the categorical mismatches are the 4 swapped codes per group, each costing
    // gamma; the numeric part is the within-group sum of squares around the group means.
    let mut numeric = 0.0;
    for g in 0..3 {
        let vals: Vec<f64> = (g * 40..(g + 1) * 40).map(|i| num.get(i, 0)).collect();
        let mean = vals.iter().sum::<f64>() / 40.0;
        numeric += vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    }
    let want = numeric + 12.0 * fit.gamma;
    assert!(
        (fit.cost - want).abs() < 1e-9,
        "cost {} vs {want}",
        fit.cost
    );
}

/// Huang's default gamma is half the mean standard deviation of the numeric columns:
/// columns [0, 2] (std 1) and [1, 1] (std 0) give 0.5 × 0.5 = 0.25.
#[test]
fn default_gamma_by_hand() {
    let num = Matrix::from_rows(&[[0.0, 1.0], [2.0, 1.0]]).unwrap();
    assert_eq!(default_gamma(&num), 0.25);
    assert_eq!(default_gamma(&Matrix::new(vec![], 2, 0).unwrap()), 1.0);
    let codes = [0, 1];
    let cat = Categorical::new(&codes, 2, 1).unwrap();
    assert_eq!(KPrototypes::new(1).fit(&num, cat).unwrap().gamma, 0.25);
}

/// Mode ties go to the smallest code: one cluster holding codes 9, 4, 9, 4 has mode 4.
#[test]
fn mode_ties_go_to_the_smallest_code() {
    let num = Matrix::new(vec![], 4, 0).unwrap();
    let codes = [9, 4, 9, 4];
    let cat = Categorical::new(&codes, 4, 1).unwrap();
    let fit = KPrototypes::new(1).fit(&num, cat).unwrap();
    assert_eq!(fit.modes, vec![4]);
    assert_eq!(fit.cost, 2.0); // two mismatches, gamma 1 without numeric columns
}

/// Purely categorical data: k-modes. Rows repeat two patterns exactly; cost 0.
#[test]
fn categorical_only_is_k_modes() {
    let num = Matrix::new(vec![], 6, 0).unwrap();
    let codes = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
    let cat = Categorical::new(&codes, 6, 2).unwrap();
    let fit = KPrototypes::new(2).seed(4).fit(&num, cat).unwrap();
    assert_eq!(fit.cost, 0.0);
    assert_eq!(
        metrics::adjusted_rand_index(&fit.labels, &[0, 0, 0, 1, 1, 1]).unwrap(),
        1.0
    );
}

#[test]
fn deterministic_for_a_seed_and_refuses_bad_input() {
    let (num, codes, _) = three_groups();
    let cat = Categorical::new(&codes, num.rows(), 2).unwrap();
    let a = KPrototypes::new(4).seed(8).fit(&num, cat).unwrap();
    let b = KPrototypes::new(4).seed(8).fit(&num, cat).unwrap();
    assert_eq!(a, b);
    assert!(matches!(
        KPrototypes::new(0).fit(&num, cat),
        Err(ClusterError::ZeroClusters)
    ));
    assert!(matches!(
        KPrototypes::new(500).fit(&num, cat),
        Err(ClusterError::TooManyClusters { .. })
    ));
    assert!(KPrototypes::new(2).gamma(-1.0).fit(&num, cat).is_err());
    let short = Categorical::new(&codes[..10], 5, 2).unwrap();
    assert!(matches!(
        KPrototypes::new(2).fit(&num, short),
        Err(ClusterError::DimensionMismatch { .. })
    ));
    assert!(Categorical::new(&codes, 7, 2).is_err());
}
