//! k-means, the clustering metrics and the scalers against scikit-learn 1.9.1.
//!
//! Every expected number comes from `tests/fixtures/cluster/expected.json`, written by
//! `tests/fixtures/cluster/make_reference.py` with scikit-learn 1.9.1 from the data in the two
//! CSV files beside it. Python is not needed to run these tests.

use std::path::PathBuf;

use serde_json::Value;
use tessera_models::cluster::metrics::{
    adjusted_rand_index, calinski_harabasz_score, davies_bouldin_score, silhouette_score,
};
use tessera_models::cluster::transform::quantile_sorted;
use tessera_models::cluster::{Algorithm, FittedStep, Init, KMeans, Matrix, Step, Transform};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cluster")
        .join(name)
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn read_csv(name: &str) -> Matrix {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(fixture(name))
        .expect("fixture CSV");
    let rows: Vec<Vec<f64>> = reader
        .records()
        .map(|r| {
            r.expect("record")
                .iter()
                .map(|v| v.parse().expect("float"))
                .collect()
        })
        .collect();
    Matrix::from_rows(&rows).expect("rectangular")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn labels(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| u32::try_from(x.as_u64().expect("label")).expect("u32"))
        .collect()
}

fn assert_rel(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, scikit-learn {want} (tolerance {tol})"
    );
}

#[test]
fn header_names_the_generator() {
    let e = expected();
    assert_eq!(e["sklearn_version"], "1.9.1");
    assert!(
        e["generated_by"]
            .as_str()
            .unwrap()
            .starts_with("make_reference.py with scikit-learn 1.9.1")
    );
}

/// Final centres, inertia, labels and iteration count of `KMeans(init=<centres>, n_init=1,
/// algorithm="lloyd", tol, max_iter)`, for both of our iteration methods. The cases include a
/// run stopped by `max_iter` and runs with one and two empty clusters to relocate.
#[test]
fn kmeans_matches_sklearn_from_the_same_initial_centres() {
    let e = expected();
    for case in e["kmeans"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = read_csv(case["data"].as_str().unwrap());
        let k = case["k"].as_u64().unwrap() as usize;
        let init = Matrix::new(floats(&case["init"]), k, x.cols()).unwrap();
        let want_centers = floats(&case["centers"]);
        let want_labels = labels(&case["labels"]);
        let want_inertia = case["inertia"].as_f64().unwrap();
        let want_iter = case["n_iter"].as_u64().unwrap() as usize;
        let max_iter = case["max_iter"].as_u64().unwrap() as usize;
        for algorithm in [Algorithm::Lloyd, Algorithm::Hamerly] {
            let what = format!("{name} ({algorithm:?})");
            let fit = KMeans::new(k)
                .init(Init::Centers(init.clone()))
                .tol(case["tol"].as_f64().unwrap())
                .max_iter(max_iter)
                .algorithm(algorithm)
                .fit(&x)
                .unwrap();
            assert_eq!(fit.labels, want_labels, "{what}: labels");
            assert_eq!(fit.n_iter, want_iter, "{what}: n_iter");
            assert_eq!(fit.converged, want_iter < max_iter, "{what}: converged");
            for (i, (g, w)) in fit.centers.as_slice().iter().zip(&want_centers).enumerate() {
                assert_rel(*g, *w, 1e-6, &format!("{what}: centre value {i}"));
            }
            assert_rel(fit.inertia, want_inertia, 1e-6, &format!("{what}: inertia"));
        }
    }
}

/// `silhouette_score`, `calinski_harabasz_score` and `davies_bouldin_score` on scikit-learn's
/// k-means labels, the true blob labels, and a labelling with a singleton cluster labelled 9.
#[test]
fn metrics_match_sklearn() {
    let e = expected();
    for case in e["metrics"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = read_csv(case["data"].as_str().unwrap());
        let l = labels(&case["labels"]);
        let s = silhouette_score(&x, &l).unwrap();
        assert_rel(
            s,
            case["silhouette"].as_f64().unwrap(),
            1e-6,
            &format!("{name}: silhouette"),
        );
        let ch = calinski_harabasz_score(&x, &l).unwrap();
        assert_rel(
            ch,
            case["calinski_harabasz"].as_f64().unwrap(),
            1e-6,
            &format!("{name}: CH"),
        );
        let db = davies_bouldin_score(&x, &l).unwrap();
        assert_rel(
            db,
            case["davies_bouldin"].as_f64().unwrap(),
            1e-6,
            &format!("{name}: DB"),
        );
    }
}

/// `adjusted_rand_score` on k-means labels, random labelings and the special cases (one
/// cluster each, all singletons, a single row, no rows, huge label values).
#[test]
fn adjusted_rand_index_matches_sklearn() {
    let e = expected();
    for case in e["ari"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let got = adjusted_rand_index(&labels(&case["a"]), &labels(&case["b"])).unwrap();
        let want = case["ari"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9,
            "{name}: got {got}, scikit-learn {want}"
        );
    }
}

/// `StandardScaler` (`mean_`, `scale_`), `RobustScaler` (`center_`, `scale_`) and
/// `np.quantile` (linear) on the overlap data.
#[test]
fn scalers_and_quantiles_match_sklearn() {
    let e = expected();
    let t = &e["transform"];
    let x = read_csv(t["data"].as_str().unwrap());
    let d = x.cols();
    let fitted = Transform::new(vec![vec![Step::Standardize, Step::Robust]; d])
        .fit(&x)
        .unwrap();
    let robust_only = Transform::uniform(d, &[Step::Robust]).fit(&x).unwrap();
    let wins = Transform::uniform(
        d,
        &[Step::Winsorize {
            lo_q: 0.05,
            hi_q: 0.95,
        }],
    )
    .fit(&x)
    .unwrap();
    for j in 0..d {
        let FittedStep::Standardize { mean, scale } = fitted.columns[j][0] else {
            panic!()
        };
        assert_rel(mean, floats(&t["standard_mean"])[j], 1e-12, "standard mean");
        assert_rel(
            scale,
            floats(&t["standard_scale"])[j],
            1e-12,
            "standard scale",
        );
        let FittedStep::Robust { center, scale } = robust_only.columns[j][0] else {
            panic!()
        };
        assert_rel(
            center,
            floats(&t["robust_center"])[j],
            1e-12,
            "robust center",
        );
        assert_rel(scale, floats(&t["robust_scale"])[j], 1e-12, "robust scale");
        let FittedStep::Winsorize { lo, hi, .. } = wins.columns[j][0] else {
            panic!()
        };
        assert_rel(lo, floats(&t["quantile_0.05"])[j], 1e-12, "q05");
        assert_rel(hi, floats(&t["quantile_0.95"])[j], 1e-12, "q95");
        let mut col: Vec<f64> = (0..x.rows()).map(|i| x.get(i, j)).collect();
        col.sort_by(f64::total_cmp);
        assert_rel(quantile_sorted(&col, 0.05), lo, 0.0, "quantile_sorted");
    }
}
