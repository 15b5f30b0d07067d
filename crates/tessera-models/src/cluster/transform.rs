//! Per-feature preprocessing: `log1p`, standardisation, robust scaling and winsorising,
//! fitted once and stored with a model.
//!
//! Each column of the data has its own pipeline, an ordered list of [`Step`]s. [`Transform::fit`]
//! fits the steps of a column in order, each on the output of the steps before it, and
//! returns a [`FittedTransform`] that holds every fitted parameter. The fitted transform
//! serializes with serde, so it can be stored next to the model and applied to new data
//! ([`FittedTransform::apply`]) or used to report centroids in original units
//! ([`FittedTransform::inverse`]).
//!
//! Quantiles are those of numpy's default (`method="linear"`, Hyndman & Fan type 7): for
//! sorted values `v[0..n]`, quantile `q` is the linear interpolation at position
//! `q × (n − 1)`. The median is the 0.5 quantile; the interquartile range is
//! `quantile(0.75) − quantile(0.25)`, as in scikit-learn's `RobustScaler`.
//!
//! ```
//! use tessera_models::cluster::{Matrix, Step, Transform};
//!
//! let x = Matrix::from_rows(&[[0.0, 10.0], [9.0, 20.0], [99.0, 30.0]])?;
//! let t = Transform::new(vec![vec![Step::Log1p, Step::Standardize], vec![Step::Robust]]);
//! let fitted = t.fit(&x)?;
//! let z = fitted.apply(&x)?;
//! assert!((z.get(1, 1) - 0.0).abs() < 1e-12); // the median maps to 0
//! let back = fitted.inverse(&z)?;
//! assert!((back.get(2, 0) - 99.0).abs() < 1e-9);
//! # Ok::<(), tessera_models::cluster::ClusterError>(())
//! ```

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{ClusterError, invalid};
use super::matrix::{Matrix, MatrixRef};

/// One preprocessing step of a feature, before fitting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// `ln(1 + x)`; needs `x > -1`. Inverse: `exp(y) − 1` (`expm1`).
    Log1p,
    /// `(x − mean) / std`, with the population standard deviation (ddof = 0, as scikit-learn's
    /// `StandardScaler`). A column whose values are all equal scales by 1 (it is only centred).
    Standardize,
    /// `(x − median) / IQR`, with the interquartile range `q75 − q25` (as scikit-learn's
    /// `RobustScaler` with its defaults). An IQR of 0 scales by 1.
    Robust,
    /// Clips to `[quantile(lo_q), quantile(hi_q)]` of the fitting data, `0 ≤ lo_q ≤ hi_q ≤ 1`.
    /// Clipping loses information, so its inverse is the identity: centroids reported in
    /// original units stay within the clipped range.
    Winsorize {
        /// Lower quantile, e.g. 0.01.
        lo_q: f64,
        /// Upper quantile, e.g. 0.99.
        hi_q: f64,
    },
}

/// A step with its fitted parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum FittedStep {
    /// `ln(1 + x)`; no parameters.
    Log1p,
    /// `(x − mean) / scale`.
    Standardize {
        /// Mean of the fitting values.
        mean: f64,
        /// Population standard deviation, or 1 for a constant column.
        scale: f64,
    },
    /// `(x − center) / scale`.
    Robust {
        /// Median of the fitting values.
        center: f64,
        /// Interquartile range, or 1 where it is 0.
        scale: f64,
    },
    /// Clip to `[lo, hi]`.
    Winsorize {
        /// The lower quantile asked for.
        lo_q: f64,
        /// The upper quantile asked for.
        hi_q: f64,
        /// Fitted lower clip, `quantile(lo_q)`.
        lo: f64,
        /// Fitted upper clip, `quantile(hi_q)`.
        hi: f64,
    },
}

impl FittedStep {
    /// Applies the step to one value. `log1p` of a value ≤ -1 gives NaN or -inf; callers
    /// check the domain first.
    pub fn forward(&self, v: f64) -> f64 {
        match *self {
            FittedStep::Log1p => v.ln_1p(),
            FittedStep::Standardize { mean, scale } => (v - mean) / scale,
            FittedStep::Robust { center, scale } => (v - center) / scale,
            FittedStep::Winsorize { lo, hi, .. } => v.clamp(lo, hi),
        }
    }

    /// The inverse of [`FittedStep::forward`]: `expm1`, the affine inverse of a scaling, and
    /// the identity for winsorising (clipped values cannot be recovered).
    pub fn inverse(&self, v: f64) -> f64 {
        match *self {
            FittedStep::Log1p => v.exp_m1(),
            FittedStep::Standardize { mean, scale } => v * scale + mean,
            FittedStep::Robust { center, scale } => v * scale + center,
            FittedStep::Winsorize { .. } => v,
        }
    }
}

/// The preprocessing of every column, before fitting: one pipeline (possibly empty) per
/// column, in column order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Transform {
    /// `columns[j]` is the ordered list of steps of column `j`.
    pub columns: Vec<Vec<Step>>,
}

/// The fitted preprocessing of every column; apply it to data with the same columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedTransform {
    /// `columns[j]` is the ordered list of fitted steps of column `j`.
    pub columns: Vec<Vec<FittedStep>>,
}

impl Transform {
    /// A transform with the given pipelines, one per column.
    pub fn new(columns: Vec<Vec<Step>>) -> Self {
        Transform { columns }
    }

    /// The same pipeline for each of `cols` columns.
    pub fn uniform(cols: usize, steps: &[Step]) -> Self {
        Transform {
            columns: vec![steps.to_vec(); cols],
        }
    }

    /// Fits every step on `x`, which must have one column per pipeline, at least one row and
    /// only finite values. The steps of a column are fitted in order, each on the output of
    /// the steps before it.
    ///
    /// Errors: [`ClusterError::DimensionMismatch`] for the wrong number of columns,
    /// [`ClusterError::EmptyInput`] for no rows, [`ClusterError::NonFinite`] for NaN or ±inf,
    /// [`ClusterError::Log1pDomain`] for a value ≤ -1 reaching a `log1p` step, and
    /// [`ClusterError::InvalidParameter`] for winsorising quantiles outside `0 ≤ lo_q ≤ hi_q ≤ 1`.
    pub fn fit<'a>(&self, x: impl Into<MatrixRef<'a>>) -> Result<FittedTransform, ClusterError> {
        let x = x.into();
        check_columns(self.columns.len(), x.cols())?;
        if x.rows() == 0 {
            return Err(ClusterError::EmptyInput {
                rows: 0,
                cols: x.cols(),
            });
        }
        x.check_finite()?;
        for steps in &self.columns {
            for s in steps {
                if let Step::Winsorize { lo_q, hi_q } = *s {
                    let ok = (0.0..=1.0).contains(&lo_q) && (0.0..=1.0).contains(&hi_q);
                    if !ok || lo_q > hi_q {
                        return Err(invalid(
                            "winsorize",
                            format!("need 0 ≤ lo_q ≤ hi_q ≤ 1, got lo_q = {lo_q}, hi_q = {hi_q}"),
                        ));
                    }
                }
            }
        }
        let columns = self
            .columns
            .par_iter()
            .enumerate()
            .map(|(j, steps)| fit_column(x, j, steps))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FittedTransform { columns })
    }
}

fn check_columns(expected: usize, got: usize) -> Result<(), ClusterError> {
    if expected != got {
        return Err(ClusterError::DimensionMismatch {
            what: "columns of the data against pipelines of the transform",
            expected,
            got,
        });
    }
    Ok(())
}

fn fit_column(x: MatrixRef<'_>, j: usize, steps: &[Step]) -> Result<Vec<FittedStep>, ClusterError> {
    let mut col: Vec<f64> = (0..x.rows()).map(|i| x.get(i, j)).collect();
    let mut fitted = Vec::with_capacity(steps.len());
    for step in steps {
        let f = match *step {
            Step::Log1p => {
                check_log1p(&col, j)?;
                FittedStep::Log1p
            }
            Step::Standardize => {
                let (mean, std) = mean_std(&col);
                let (min, max) = min_max(&col);
                let scale = if min == max || std == 0.0 { 1.0 } else { std };
                FittedStep::Standardize { mean, scale }
            }
            Step::Robust => {
                let mut sorted = col.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let center = quantile_sorted(&sorted, 0.5);
                let iqr = quantile_sorted(&sorted, 0.75) - quantile_sorted(&sorted, 0.25);
                let scale = if iqr == 0.0 { 1.0 } else { iqr };
                FittedStep::Robust { center, scale }
            }
            Step::Winsorize { lo_q, hi_q } => {
                let mut sorted = col.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                FittedStep::Winsorize {
                    lo_q,
                    hi_q,
                    lo: quantile_sorted(&sorted, lo_q),
                    hi: quantile_sorted(&sorted, hi_q),
                }
            }
        };
        for v in &mut col {
            *v = f.forward(*v);
        }
        if let Some(i) = col.iter().position(|v| !v.is_finite()) {
            // A scaling can overflow only for values near f64::MAX.
            return Err(ClusterError::NonFinite {
                row: i,
                col: j,
                value: col[i],
            });
        }
        fitted.push(f);
    }
    Ok(fitted)
}

fn check_log1p(col: &[f64], j: usize) -> Result<(), ClusterError> {
    match col.iter().position(|&v| v <= -1.0) {
        None => Ok(()),
        Some(i) => Err(ClusterError::Log1pDomain {
            row: i,
            col: j,
            value: col[i],
        }),
    }
}

/// Mean and population standard deviation, with compensated (Neumaier) sums.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = neumaier(v.iter().copied()) / n;
    let var = neumaier(v.iter().map(|x| (x - mean) * (x - mean))) / n;
    (mean, var.sqrt())
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// Neumaier's compensated sum.
pub(crate) fn neumaier(values: impl Iterator<Item = f64>) -> f64 {
    let mut sum = 0.0f64;
    let mut c = 0.0f64;
    for x in values {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            c += (sum - t) + x;
        } else {
            c += (x - t) + sum;
        }
        sum = t;
    }
    sum + c
}

/// Quantile `q ∈ [0, 1]` of sorted, non-empty `v`, by linear interpolation between the order
/// statistics around position `q × (n − 1)` (numpy's default method).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    debug_assert!(!v.is_empty());
    let pos = q * (v.len() - 1) as f64;
    let lo = (pos.floor() as usize).min(v.len() - 1);
    let hi = (lo + 1).min(v.len() - 1);
    let t = pos - lo as f64;
    let (a, b) = (v[lo], v[hi]);
    // Interpolate from the nearer end, so the result is exact at both ends and monotone in t.
    if t < 0.5 {
        a + (b - a) * t
    } else {
        b - (b - a) * (1.0 - t)
    }
}

impl FittedTransform {
    /// The number of columns the transform applies to.
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// Applies the fitted steps to `x`, which must have the fitted number of columns and only
    /// finite values. Errors as [`Transform::fit`]; a [`ClusterError::Log1pDomain`] names the
    /// value that reached the `log1p` step.
    pub fn apply<'a>(&self, x: impl Into<MatrixRef<'a>>) -> Result<Matrix, ClusterError> {
        let x = x.into();
        check_columns(self.columns.len(), x.cols())?;
        x.check_finite()?;
        let mut out = x.to_owned();
        let cols = x.cols();
        if cols == 0 {
            return Ok(out);
        }
        for (i, row) in out.as_mut_slice().chunks_exact_mut(cols).enumerate() {
            for (j, (v, steps)) in row.iter_mut().zip(&self.columns).enumerate() {
                for s in steps {
                    if matches!(s, FittedStep::Log1p) && *v <= -1.0 {
                        return Err(ClusterError::Log1pDomain {
                            row: i,
                            col: j,
                            value: *v,
                        });
                    }
                    *v = s.forward(*v);
                }
                if !v.is_finite() {
                    return Err(ClusterError::NonFinite {
                        row: i,
                        col: j,
                        value: *v,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Maps transformed values back to original units by undoing the steps in reverse order:
    /// `expm1` for `log1p`, `x × scale + center` for a scaling, and the identity for
    /// winsorising. Use it to report centroids in original units. `x` must have the fitted
    /// number of columns and only finite values; a result can overflow to `+inf` only for
    /// values beyond what `expm1` can represent.
    pub fn inverse<'a>(&self, x: impl Into<MatrixRef<'a>>) -> Result<Matrix, ClusterError> {
        let x = x.into();
        check_columns(self.columns.len(), x.cols())?;
        x.check_finite()?;
        let mut out = x.to_owned();
        let cols = x.cols();
        if cols == 0 {
            return Ok(out);
        }
        for row in out.as_mut_slice().chunks_exact_mut(cols) {
            for (v, steps) in row.iter_mut().zip(&self.columns) {
                for s in steps.iter().rev() {
                    *v = s.inverse(*v);
                }
            }
        }
        Ok(out)
    }
}
