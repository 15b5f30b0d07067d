//! k-means: determinism across thread counts, empty clusters, mini-batch, seeding, errors.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tessera_models::cluster::{
    Algorithm, ClusterError, FitMethod, Init, KMeans, Matrix, MiniBatch, kmeans_plusplus, metrics,
    predict,
};

/// `per` rows around each of `centres` (Gaussian, standard deviation `sd`), cluster by
/// cluster, with the true cluster of each row.
fn blobs(centres: &[&[f64]], per: usize, sd: f64, seed: u64) -> (Matrix, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    let mut truth = Vec::new();
    for (c, centre) in centres.iter().enumerate() {
        for _ in 0..per {
            rows.push(
                centre
                    .iter()
                    .map(|m| m + sd * rng.sample::<f64, _>(StandardNormal))
                    .collect::<Vec<f64>>(),
            );
            truth.push(c as u32);
        }
    }
    (Matrix::from_rows(&rows).unwrap(), truth)
}

fn mixture(n: usize, d: usize, k: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..k * d)
        .map(|_| 2.0 * rng.sample::<f64, _>(StandardNormal))
        .collect();
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.random_range(0..k);
        for j in 0..d {
            data.push(centres[c * d + j] + rng.sample::<f64, _>(StandardNormal));
        }
    }
    Matrix::new(data, n, d).unwrap()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The same seed gives bitwise-identical seeding, centres, labels and inertia with 1 and 2
/// threads, for every method. The data (20,000 rows) spans several chunks of the parallel
/// passes, so partial sums really are combined across threads.
#[test]
fn results_are_bitwise_identical_with_one_and_two_threads() {
    let x = mixture(20_000, 5, 6, 1);
    let runs: Vec<KMeans> = vec![
        KMeans::new(6).seed(9),
        KMeans::new(6).seed(9).algorithm(Algorithm::Lloyd),
        KMeans::new(6).seed(9).init(Init::Random).n_init(3),
        KMeans::new(6).seed(9).mini_batch(MiniBatch {
            above_rows: 1000,
            ..MiniBatch::default()
        }),
    ];
    for km in runs {
        let one = in_pool(1, || km.fit(&x).unwrap());
        let two = in_pool(2, || km.fit(&x).unwrap());
        assert_eq!(
            bits(one.centers.as_slice()),
            bits(two.centers.as_slice()),
            "{km:?}"
        );
        assert_eq!(one.labels, two.labels);
        assert_eq!(one.inertia.to_bits(), two.inertia.to_bits());
        assert_eq!(one.n_iter, two.n_iter);
    }
    let s1 = in_pool(1, || kmeans_plusplus(&x, 6, 4).unwrap());
    let s2 = in_pool(2, || kmeans_plusplus(&x, 6, 4).unwrap());
    assert_eq!(s1, s2);
}

/// Hamerly's bounds change only the work, not the result: from the same seed both methods
/// give the same labels and iteration count, and centres equal to rounding.
#[test]
fn hamerly_and_lloyd_agree() {
    let x = mixture(5_000, 3, 5, 2);
    for seed in 0..3 {
        let h = KMeans::new(5).seed(seed).fit(&x).unwrap();
        let l = KMeans::new(5)
            .seed(seed)
            .algorithm(Algorithm::Lloyd)
            .fit(&x)
            .unwrap();
        assert_eq!(h.method, FitMethod::Hamerly);
        assert_eq!(l.method, FitMethod::Lloyd);
        assert_eq!(h.labels, l.labels);
        assert_eq!(h.n_iter, l.n_iter);
        for (a, b) in h.centers.as_slice().iter().zip(l.centers.as_slice()) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0));
        }
        assert!((h.inertia - l.inertia).abs() <= 1e-12 * l.inertia);
    }
}

/// Labels are the nearest final centre, and the inertia is their squared distance, whatever
/// stopped the run.
#[test]
fn labels_and_inertia_belong_to_the_final_centres() {
    let x = mixture(3_000, 4, 4, 3);
    for max_iter in [1, 2, 300] {
        let fit = KMeans::new(4).seed(5).max_iter(max_iter).fit(&x).unwrap();
        assert_eq!(
            fit.labels,
            predict(&fit.centers, &x).unwrap(),
            "max_iter {max_iter}"
        );
        let inertia: f64 = x
            .iter_rows()
            .zip(&fit.labels)
            .map(|(r, &l)| {
                r.iter()
                    .zip(fit.centers.row(l as usize))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum();
        assert!((fit.inertia - inertia).abs() <= 1e-9 * inertia);
        assert_eq!(fit.converged, fit.n_iter < max_iter || max_iter == 300);
    }
}

/// A centre far from every row gets no rows in the first E-step. As in scikit-learn, the row
/// farthest from its centre becomes the centre of the empty cluster. Hand-made data: two
/// groups on a line, {0, 1, 2} and {10, 11, 30}; with initial centres 1, 17 and 1000, the
/// third is empty, and the row farthest from its centre is 30 (13 from 17), which then forms
/// a cluster of its own; the final clusters are {0, 1, 2}, {10, 11} and {30}.
#[test]
fn empty_clusters_are_relocated_to_the_farthest_row() {
    let x = Matrix::from_rows(&[[0.0], [1.0], [2.0], [10.0], [11.0], [30.0]]).unwrap();
    let init = Matrix::from_rows(&[[1.0], [17.0], [1000.0]]).unwrap();
    for algorithm in [Algorithm::Lloyd, Algorithm::Hamerly] {
        let fit = KMeans::new(3)
            .init(Init::Centers(init.clone()))
            .algorithm(algorithm)
            .fit(&x)
            .unwrap();
        assert_eq!(fit.labels, vec![0, 0, 0, 1, 1, 2], "{algorithm:?}");
        assert_eq!(fit.centers.as_slice(), &[1.0, 10.5, 30.0]);
        // (1 + 0 + 1) + (0.25 + 0.25) + 0
        assert!((fit.inertia - 2.5).abs() < 1e-12);
        assert!(fit.converged);
    }
}

/// Fewer distinct rows than clusters: seeding duplicates a centre, the duplicate's cluster is
/// empty and takes a row (any, all are at distance 0), and nothing panics; every row sits on
/// its centre.
#[test]
fn fewer_distinct_rows_than_clusters() {
    let x = Matrix::from_rows(&[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0]]).unwrap();
    for algorithm in [Algorithm::Lloyd, Algorithm::Hamerly] {
        for seed in 0..5 {
            let fit = KMeans::new(3)
                .seed(seed)
                .algorithm(algorithm)
                .fit(&x)
                .unwrap();
            assert_eq!(fit.inertia, 0.0);
            for (r, &l) in x.iter_rows().zip(&fit.labels) {
                assert_eq!(fit.centers.row(l as usize), r);
            }
        }
    }
}

/// Mini-batch k-means on well-separated blobs reaches an inertia within 2% of full k-means.
#[test]
fn mini_batch_is_close_to_full_kmeans_on_separated_blobs() {
    let centres: Vec<Vec<f64>> = (0..5)
        .map(|c| vec![10.0 * c as f64, -5.0 * c as f64, 0.0])
        .collect();
    let refs: Vec<&[f64]> = centres.iter().map(|c| c.as_slice()).collect();
    let (x, truth) = blobs(&refs, 4_000, 1.0, 7);
    let full = KMeans::new(5).seed(3).fit(&x).unwrap();
    let mb = KMeans::new(5)
        .seed(3)
        .mini_batch(MiniBatch {
            above_rows: 10_000,
            batch_size: 512,
            ..MiniBatch::default()
        })
        .fit(&x)
        .unwrap();
    assert_eq!(mb.method, FitMethod::MiniBatch);
    assert!(
        mb.inertia <= 1.02 * full.inertia,
        "mini-batch {} vs full {}",
        mb.inertia,
        full.inertia
    );
    assert!(metrics::adjusted_rand_index(&mb.labels, &truth).unwrap() > 0.99);
    assert_eq!(mb.labels, predict(&mb.centers, &x).unwrap());
    // Below the threshold the batch method is used.
    let small = KMeans::new(5)
        .seed(3)
        .mini_batch(MiniBatch {
            above_rows: 50_000,
            ..MiniBatch::default()
        })
        .fit(&x)
        .unwrap();
    assert_eq!(small.method, FitMethod::Hamerly);
}

/// k-means++ picks distinct rows of the data, one per blob on clearly separated blobs (each
/// new centre is drawn in proportion to squared distance, so a blob without a centre holds
/// almost all the probability).
#[test]
fn kmeans_plusplus_spreads_centres_over_separated_blobs() {
    let (x, _) = blobs(
        &[&[0.0, 0.0], &[100.0, 0.0], &[0.0, 100.0], &[100.0, 100.0]],
        50,
        1.0,
        3,
    );
    for seed in 0..10 {
        let c = kmeans_plusplus(&x, 4, seed).unwrap();
        let mut blob_of: Vec<usize> = c
            .iter_rows()
            .map(|r| usize::from(r[0] > 50.0) + 2 * usize::from(r[1] > 50.0))
            .collect();
        blob_of.sort_unstable();
        assert_eq!(blob_of, vec![0, 1, 2, 3], "seed {seed}");
        for r in c.iter_rows() {
            assert!(
                x.iter_rows().any(|xr| xr == r),
                "centres are rows of the data"
            );
        }
    }
}

/// With several runs the lowest inertia is kept, so it is never worse than any single run.
#[test]
fn n_init_keeps_the_best_run() {
    let x = mixture(2_000, 2, 8, 11);
    let many = KMeans::new(8)
        .seed(1)
        .init(Init::Random)
        .n_init(8)
        .fit(&x)
        .unwrap();
    let one = KMeans::new(8)
        .seed(1)
        .init(Init::Random)
        .n_init(1)
        .fit(&x)
        .unwrap();
    // The first of the 8 runs is the single run (same seed stream).
    assert!(many.inertia <= one.inertia);
    assert_eq!(KMeans::new(3).init(Init::Random).effective_n_init(), 10);
    assert_eq!(KMeans::new(3).effective_n_init(), 1);
}

#[test]
fn k_of_one_gives_the_mean() {
    let x = Matrix::from_rows(&[[1.0, 2.0], [3.0, 6.0]]).unwrap();
    let fit = KMeans::new(1).fit(&x).unwrap();
    assert_eq!(fit.centers.as_slice(), &[2.0, 4.0]);
    assert_eq!(fit.labels, vec![0, 0]);
    assert_eq!(fit.inertia, 10.0); // (1 + 4) + (1 + 4)
}

#[test]
fn refuses_bad_input_with_clear_errors() {
    let x = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]]).unwrap();
    assert_eq!(
        KMeans::new(0).fit(&x).unwrap_err(),
        ClusterError::ZeroClusters
    );
    let e = KMeans::new(3).fit(&x).unwrap_err();
    assert_eq!(e, ClusterError::TooManyClusters { k: 3, rows: 2 });
    assert_eq!(
        e.to_string(),
        "cannot make 3 clusters from 2 rows: k must be at most the number of rows"
    );
    let empty = Matrix::new(vec![], 0, 2).unwrap();
    assert!(matches!(
        KMeans::new(1).fit(&empty),
        Err(ClusterError::EmptyInput { .. })
    ));
    let nan = Matrix::from_rows(&[[1.0, 2.0], [3.0, f64::NAN]]).unwrap();
    let e = KMeans::new(1).fit(&nan).unwrap_err();
    assert_eq!(
        e.to_string(),
        "value at row 1, column 1 is not finite (NaN)"
    );
    // Past the size where the check runs in parallel chunks (300,000 values), the first bad
    // value in row-major order is named: row 70,000 column 2, before the NaN at row 90,000.
    let mut big = vec![0.5; 100_000 * 3];
    big[70_000 * 3 + 2] = f64::INFINITY;
    big[90_000 * 3] = f64::NAN;
    let big = Matrix::new(big, 100_000, 3).unwrap();
    let e = KMeans::new(1).fit(&big).unwrap_err();
    assert_eq!(
        e,
        ClusterError::NonFinite {
            row: 70_000,
            col: 2,
            value: f64::INFINITY
        }
    );
    let wrong = Init::Centers(Matrix::from_rows(&[[1.0, 2.0, 3.0]]).unwrap());
    assert!(matches!(
        KMeans::new(1).init(wrong).fit(&x),
        Err(ClusterError::DimensionMismatch { .. })
    ));
    assert!(KMeans::new(1).tol(-1.0).fit(&x).is_err());
    assert!(KMeans::new(1).max_iter(0).fit(&x).is_err());
    assert!(KMeans::new(1).n_init(0).fit(&x).is_err());
    let c = Matrix::from_rows(&[[0.0, 0.0]]).unwrap();
    assert!(predict(&c, &Matrix::from_rows(&[[1.0]]).unwrap()).is_err());
    assert_eq!(
        predict(&c, &Matrix::new(vec![], 0, 2).unwrap()).unwrap(),
        Vec::<u32>::new()
    );
    assert!(Matrix::new(vec![1.0; 5], 2, 3).is_err());
}

#[test]
fn fit_serializes() {
    let x = Matrix::from_rows(&[[0.0], [1.0], [10.0]]).unwrap();
    let fit = KMeans::new(2).fit(&x).unwrap();
    let json = serde_json::to_string(&fit).unwrap();
    let back: tessera_models::cluster::KMeansFit = serde_json::from_str(&json).unwrap();
    assert_eq!(back, fit);
    assert!(serde_json::from_str::<Matrix>(r#"{"rows":2,"cols":2,"data":[1.0]}"#).is_err());
}
