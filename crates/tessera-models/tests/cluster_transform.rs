//! Preprocessing: fitted parameters, apply/inverse round trips, winsorising, errors, serde.

use proptest::prelude::*;
use tessera_models::cluster::{ClusterError, FittedStep, FittedTransform, Matrix, Step, Transform};

fn col(m: &Matrix, j: usize) -> Vec<f64> {
    (0..m.rows()).map(|i| m.get(i, j)).collect()
}

/// Hand computation: column [1, 2, 3, 4]: mean 2.5, population variance
/// (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25; median 2.5; quartiles by linear interpolation at
/// positions 0.75 and 2.25: 1.75 and 3.25, so IQR 1.5.
#[test]
fn fitted_parameters_by_hand() {
    let x = Matrix::from_rows(&[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]).unwrap();
    let t = Transform::new(vec![vec![Step::Standardize], vec![Step::Robust]])
        .fit(&x)
        .unwrap();
    assert_eq!(
        t.columns[0],
        vec![FittedStep::Standardize {
            mean: 2.5,
            scale: 1.25f64.sqrt()
        }]
    );
    assert_eq!(
        t.columns[1],
        vec![FittedStep::Robust {
            center: 2.5,
            scale: 1.5
        }]
    );
    let z = t.apply(&x).unwrap();
    assert!((z.get(0, 1) - (1.0 - 2.5) / 1.5).abs() < 1e-15);
}

/// A constant column is only centred (scale 1); a column with IQR 0 is only centred too.
#[test]
fn zero_spread_scales_by_one() {
    let x = Matrix::from_rows(&[[0.1, 5.0], [0.1, 5.0], [0.1, 5.0], [0.1, 9.0]]).unwrap();
    let t = Transform::new(vec![vec![Step::Standardize], vec![Step::Robust]])
        .fit(&x)
        .unwrap();
    let FittedStep::Standardize { scale, .. } = t.columns[0][0] else {
        panic!()
    };
    assert_eq!(scale, 1.0);
    // Quartiles of [5, 5, 5, 9] at positions 0.75 and 2.25 are both 5: IQR 0.
    assert_eq!(
        t.columns[1][0],
        FittedStep::Robust {
            center: 5.0,
            scale: 1.0
        }
    );
    let z = t.apply(&x).unwrap();
    assert!(col(&z, 0).iter().all(|v| v.abs() < 1e-15));
}

/// Winsorising at the 0.1 and 0.9 quantiles of 0..=10 clips at 1 and 9 (positions 1 and 9 of
/// 11 sorted values), and its inverse is the identity.
#[test]
fn winsorize_clips_at_fitted_quantiles() {
    let rows: Vec<[f64; 1]> = (0..=10).map(|v| [v as f64]).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let t = Transform::uniform(
        1,
        &[Step::Winsorize {
            lo_q: 0.1,
            hi_q: 0.9,
        }],
    )
    .fit(&x)
    .unwrap();
    assert_eq!(
        t.columns[0][0],
        FittedStep::Winsorize {
            lo_q: 0.1,
            hi_q: 0.9,
            lo: 1.0,
            hi: 9.0
        }
    );
    let z = t
        .apply(&Matrix::from_rows(&[[-100.0], [5.5], [100.0]]).unwrap())
        .unwrap();
    assert_eq!(z.as_slice(), &[1.0, 5.5, 9.0]);
    assert_eq!(t.inverse(&z).unwrap(), z);
    let bad = Transform::uniform(
        1,
        &[Step::Winsorize {
            lo_q: 0.9,
            hi_q: 0.1,
        }],
    );
    assert!(matches!(
        bad.fit(&x),
        Err(ClusterError::InvalidParameter { .. })
    ));
}

#[test]
fn errors_name_row_and_column() {
    let x = Matrix::from_rows(&[[1.0, 0.5], [2.0, -1.0]]).unwrap();
    let t = Transform::uniform(2, &[Step::Log1p]);
    let e = t.fit(&x).unwrap_err();
    assert_eq!(
        e,
        ClusterError::Log1pDomain {
            row: 1,
            col: 1,
            value: -1.0
        }
    );
    assert_eq!(
        e.to_string(),
        "log1p needs values > -1, got -1 at row 1, column 1"
    );

    let fitted = t.fit(&Matrix::from_rows(&[[1.0, 0.5]]).unwrap()).unwrap();
    assert!(matches!(
        fitted.apply(&x),
        Err(ClusterError::Log1pDomain { row: 1, col: 1, .. })
    ));

    let inf = Matrix::from_rows(&[[1.0, 0.5], [f64::INFINITY, 2.0]]).unwrap();
    assert_eq!(
        fitted.apply(&inf).unwrap_err().to_string(),
        "value at row 1, column 0 is not finite (inf)"
    );
    assert!(matches!(
        fitted.apply(&Matrix::from_rows(&[[1.0]]).unwrap()),
        Err(ClusterError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        t.fit(&Matrix::new(vec![], 0, 2).unwrap()),
        Err(ClusterError::EmptyInput { .. })
    ));
}

#[test]
fn fitted_transform_round_trips_through_json() {
    let x = Matrix::from_rows(&[[1.0, 10.0], [3.0, 20.0], [8.0, 70.0]]).unwrap();
    let t = Transform::new(vec![
        vec![Step::Log1p, Step::Standardize],
        vec![
            Step::Winsorize {
                lo_q: 0.0,
                hi_q: 0.5,
            },
            Step::Robust,
        ],
    ])
    .fit(&x)
    .unwrap();
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.contains(r#""step":"log1p""#), "{json}");
    let back: FittedTransform = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
}

proptest! {
    /// apply then inverse gives back the data (to rounding) for log1p + standardize and
    /// robust scaling; with winsorising, it gives back the clipped data.
    #[test]
    fn apply_then_inverse_round_trips(
        rows in prop::collection::vec((0.0f64..1e6, -1e3f64..1e3, -50.0f64..50.0), 2..60),
    ) {
        let data: Vec<[f64; 3]> = rows.iter().map(|&(a, b, c)| [a, b, c]).collect();
        let x = Matrix::from_rows(&data).unwrap();
        let t = Transform::new(vec![
            vec![Step::Log1p, Step::Standardize],
            vec![Step::Robust],
            vec![Step::Winsorize { lo_q: 0.05, hi_q: 0.95 }, Step::Standardize],
        ])
        .fit(&x)
        .unwrap();
        let back = t.inverse(&t.apply(&x).unwrap()).unwrap();
        let FittedStep::Winsorize { lo, hi, .. } = t.columns[2][0] else { panic!() };
        for i in 0..x.rows() {
            let want = [x.get(i, 0), x.get(i, 1), x.get(i, 2).clamp(lo, hi)];
            for (j, w) in want.iter().enumerate() {
                let g = back.get(i, j);
                prop_assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "({i}, {j}): {g} vs {w}");
            }
        }
    }
}
