//! Choosing k: the planted k on separated blobs, refusal of a k with a tiny cluster, and the
//! fallbacks.

use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tessera_models::cluster::{KMeans, Matrix, Rule, SelectParams, select_k};

/// Blobs of the given sizes around the given 2-D centres, standard deviation 1.
fn blobs(spec: &[([f64; 2], usize)], seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for (c, n) in spec {
        for _ in 0..*n {
            rows.push([
                c[0] + rng.sample::<f64, _>(StandardNormal),
                c[1] + rng.sample::<f64, _>(StandardNormal),
            ]);
        }
    }
    Matrix::from_rows(&rows).unwrap()
}

fn params(k_max: usize) -> SelectParams {
    SelectParams {
        k_max,
        kmeans: KMeans::new(2).seed(1),
        ..SelectParams::default()
    }
}

#[test]
fn picks_the_planted_k_on_separated_blobs() {
    let x = blobs(
        &[
            ([0.0, 0.0], 250),
            ([20.0, 0.0], 250),
            ([0.0, 20.0], 250),
            ([20.0, 20.0], 250),
        ],
        1,
    );
    let (sel, fit) = select_k(&x, &params(8)).unwrap();
    assert_eq!(sel.k, 4, "{}", sel.reason);
    assert_eq!(sel.rule, Rule::Qualified);
    assert_eq!(fit.k(), 4);
    assert_eq!(sel.rows.len(), 7);
    let row4 = &sel.rows[2];
    assert_eq!(row4.k, 4);
    assert!(row4.stability.unwrap() > 0.99);
    // 250 of 1,000 rows per blob; a blob 20 apart from the others keeps (nearly) all its rows.
    assert!((row4.min_share - 0.25).abs() < 0.01);
    assert!(!row4.silhouette_sampled);
    assert!(
        sel.reason.starts_with(&format!(
            "k = 4: highest silhouette ({:.3}) among k with every cluster ≥ 2% of customers and \
             stability ≥ 0.75",
            row4.silhouette.unwrap()
        )),
        "{}",
        sel.reason
    );
    // The table serializes.
    let json = serde_json::to_string(&sel).unwrap();
    assert!(json.contains("\"stability\""));
}

/// Three blobs of 330 and a far blob of 10 rows (1%): k = 4 separates the small blob and has
/// the best silhouette, but its smallest cluster is below 2%, so k = 3 is chosen and the
/// reason says why 4 was passed over.
#[test]
fn refuses_a_k_with_a_tiny_cluster() {
    let x = blobs(
        &[
            ([0.0, 0.0], 330),
            ([15.0, 0.0], 330),
            ([0.0, 15.0], 330),
            ([40.0, 40.0], 10),
        ],
        2,
    );
    let (sel, _) = select_k(&x, &params(6)).unwrap();
    let sil = |k: usize| sel.rows[k - 2].silhouette.unwrap();
    assert!(sil(4) > sil(3), "the tiny blob makes k = 4 score best");
    // The far blob's 10 rows of 1,000 form the smallest cluster at k = 4: 1%.
    assert!((sel.rows[2].min_share - 0.01).abs() < 1e-12);
    assert!(!sel.rows[2].meets_min_share);
    assert_eq!(sel.k, 3, "{}", sel.reason);
    assert_eq!(sel.rule, Rule::Qualified);
    assert!(
        sel.reason.contains(&format!(
            "k = 4 (silhouette {:.3}) had a cluster of 1%",
            sil(4)
        )),
        "{}",
        sel.reason
    );
}

#[test]
fn falls_back_and_says_so() {
    let x = blobs(
        &[([0.0, 0.0], 100), ([10.0, 0.0], 100), ([5.0, 9.0], 100)],
        3,
    );
    // No k can reach stability 2: stability is dropped.
    let p = SelectParams {
        min_stability: 2.0,
        stability_pairs: 2,
        ..params(5)
    };
    let (sel, _) = select_k(&x, &p).unwrap();
    assert_eq!(sel.rule, Rule::IgnoringStability);
    assert_eq!(sel.k, 3);
    assert!(
        sel.reason.contains("stability was not required"),
        "{}",
        sel.reason
    );
    // No k can have every cluster ≥ 60%: the largest smallest cluster wins (k = 2).
    let p = SelectParams {
        min_share: 0.6,
        stability_pairs: 0,
        ..params(5)
    };
    let (sel, _) = select_k(&x, &p).unwrap();
    assert_eq!(sel.rule, Rule::LargestSmallestCluster);
    assert_eq!(sel.k, 2);
    assert!(
        sel.reason
            .starts_with("k = 2: no k had every cluster ≥ 60% of customers"),
        "{}",
        sel.reason
    );
    assert!(
        sel.rows
            .iter()
            .all(|r| r.stability.is_none() && r.meets_stability)
    );
}

#[test]
fn sampled_silhouette_above_the_exact_limit_and_parameter_checks() {
    let x = blobs(&[([0.0, 0.0], 300), ([10.0, 0.0], 300)], 4);
    let p = SelectParams {
        exact_silhouette_max_rows: 100,
        silhouette_sample_size: 200,
        stability_eval_rows: 150,
        stability_pairs: 1,
        ..params(3)
    };
    let (sel, _) = select_k(&x, &p).unwrap();
    assert!(sel.rows.iter().all(|r| r.silhouette_sampled));
    assert_eq!(sel.k, 2);
    assert!(
        select_k(
            &x,
            &SelectParams {
                k_min: 1,
                ..params(3)
            }
        )
        .is_err()
    );
    assert!(
        select_k(
            &x,
            &SelectParams {
                k_max: 600,
                ..params(3)
            }
        )
        .is_err()
    );
    assert!(
        select_k(
            &x,
            &SelectParams {
                subsample_fraction: 0.0,
                ..params(3)
            }
        )
        .is_err()
    );
}
