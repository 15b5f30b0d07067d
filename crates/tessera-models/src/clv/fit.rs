//! Maximum-likelihood fitting shared by the models: L-BFGS on log-parameters from several
//! starts, an optional L2 penalty, and the observed information for standard errors.

// Small dense matrices (K ≤ 4) read most clearly with explicit indices.
#![allow(clippy::needless_range_loop)]

use serde::Serialize;

use crate::cluster::rng::{rng_from, uniform01};

use super::optimize::{Lbfgs, Stop, minimize};
use super::{ClvError, FitOptions};

/// One parameter's estimate with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The parameter's name as in the papers (`r`, `alpha`, `a`, `b`, `s`, `beta`, `p`, `q`,
    /// `gamma`).
    pub name: &'static str,
    /// The maximum-likelihood estimate.
    pub value: f64,
    /// Standard error from the observed information (delta method from the log scale); NaN
    /// when the information matrix is not positive definite.
    pub std_error: f64,
    /// Lower end of the 95% interval, `exp(ln θ − 1.96 se(ln θ))`.
    pub lower: f64,
    /// Upper end of the 95% interval, `exp(ln θ + 1.96 se(ln θ))`.
    pub upper: f64,
}

/// How one start of the optimizer ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartReport {
    /// Where it started (natural scale).
    pub from: Vec<f64>,
    /// Where it ended (natural scale).
    pub params: Vec<f64>,
    /// The log-likelihood there (total, without the penalty).
    pub log_likelihood: f64,
    /// Iterations.
    pub iterations: usize,
    /// Why it stopped.
    pub stop: Stop,
}

/// Whether and how well a fit converged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostics {
    /// The best start stopped on a small gradient or a flat function, with the gradient of the
    /// mean negative log-likelihood (log scale) below 1e-5, and the information matrix is
    /// positive definite.
    pub converged: bool,
    /// Why the best start stopped.
    pub stop: Stop,
    /// The largest gradient component at the optimum (mean negative log-likelihood, log-scale
    /// parameters).
    pub gradient_norm: f64,
    /// Iterations of the best start.
    pub iterations: usize,
    /// Likelihood evaluations over all starts.
    pub evaluations: usize,
    /// Starts that reached the best log-likelihood (within 1e-6 of it).
    pub agreeing_starts: usize,
    /// Every start.
    pub starts: Vec<StartReport>,
    /// Whether the observed information is positive definite (a proper maximum).
    pub information_positive_definite: bool,
    /// Things a user should know, in words.
    pub warnings: Vec<String>,
}

/// What every fit shares: estimates, likelihood, covariance and diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitSummary {
    /// The model's name, e.g. "BG/NBD".
    pub model: &'static str,
    /// The parameters with intervals, in the papers' order.
    pub params: Vec<Estimate>,
    /// The maximized log-likelihood (total over customers, without the penalty).
    pub log_likelihood: f64,
    /// Customers (total weight) fitted.
    pub customers: f64,
    /// Distinct rows the likelihood was summed over.
    pub rows: usize,
    /// The L2 penalty coefficient used.
    pub penalizer: f64,
    /// Covariance of the log-parameters (inverse observed information), row-major.
    pub covariance_log: Vec<Vec<f64>>,
    /// Convergence.
    pub diagnostics: Diagnostics,
}

impl FitSummary {
    /// The estimates' values, in order.
    pub fn values(&self) -> Vec<f64> {
        self.params.iter().map(|e| e.value).collect()
    }

    /// The variance of `f(θ)` by the delta method, with `grad` its gradient with respect to the
    /// log-parameters.
    pub fn delta_variance(&self, grad: &[f64]) -> f64 {
        let c = &self.covariance_log;
        let mut v = 0.0;
        for i in 0..grad.len() {
            for j in 0..grad.len() {
                v += grad[i] * c[i][j] * grad[j];
            }
        }
        v
    }
}

/// The 95% normal quantile.
pub(crate) const Z95: f64 = 1.959_963_984_540_054;

/// Fits a model given `eval`, which returns the total weighted log-likelihood at natural-scale
/// parameters and writes its gradient. `starts` are natural-scale start points; `opts.starts`
/// beyond them are drawn around the first. The penalty applies to each parameter divided by its
/// `penalty_scale`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit<const K: usize>(
    model: &'static str,
    names: [&'static str; K],
    eval: &(dyn Fn(&[f64; K], &mut [f64; K]) -> f64 + Sync),
    customers: f64,
    rows: usize,
    mut starts: Vec<[f64; K]>,
    penalty_scale: [f64; K],
    opts: &FitOptions,
) -> Result<FitSummary, ClvError> {
    if !(opts.penalizer.is_finite() && opts.penalizer >= 0.0) {
        return Err(ClvError::InvalidParameter {
            name: "penalizer",
            reason: format!("must be finite and ≥ 0, got {}", opts.penalizer),
        });
    }
    if opts.starts == 0 {
        return Err(ClvError::InvalidParameter {
            name: "starts",
            reason: "at least one start is needed".into(),
        });
    }
    let n = customers;
    let pen = opts.penalizer;
    // The objective lifetimes minimizes: mean negative log-likelihood + penalizer · Σ (θ/s)²,
    // where s rescales the time-valued parameters as lifetimes does (time divided by max T).
    let objective = |theta: &[f64], g: &mut [f64]| -> f64 {
        let mut p = [0.0; K];
        for k in 0..K {
            p[k] = theta[k].exp();
            if !(p[k].is_finite() && p[k] > 0.0) {
                return f64::NAN;
            }
        }
        let mut gp = [0.0; K];
        let ll = eval(&p, &mut gp);
        let mut f = -ll / n;
        for k in 0..K {
            let q = p[k] / penalty_scale[k];
            f += pen * q * q;
            g[k] = -gp[k] / n * p[k] + 2.0 * pen * q * q;
        }
        f
    };
    let mut rng = rng_from(opts.seed);
    starts.truncate(opts.starts);
    while starts.len() < opts.starts {
        let mut s = starts[0];
        for v in &mut s {
            *v *= (3.0 * uniform01(&mut rng) - 1.5).exp();
        }
        starts.push(s);
    }
    let mut reports = Vec::with_capacity(starts.len());
    let mut best: Option<(usize, super::optimize::Minimum)> = None;
    let mut evaluations = 0;
    for (i, s) in starts.iter().enumerate() {
        let theta0: Vec<f64> = s.iter().map(|v| v.ln()).collect();
        let m = minimize(objective, &theta0, &opts.lbfgs);
        evaluations += m.evaluations;
        let params: Vec<f64> = m.x.iter().map(|t| t.exp()).collect();
        // The objective is −ll/n + penalty, so the likelihood follows without another pass.
        let penalty: f64 = params
            .iter()
            .zip(&penalty_scale)
            .map(|(p, s)| pen * (p / s) * (p / s))
            .sum();
        let ll = if m.f.is_finite() {
            -(m.f - penalty) * n
        } else {
            f64::NAN
        };
        reports.push(StartReport {
            from: s.to_vec(),
            params,
            log_likelihood: ll,
            iterations: m.iterations,
            stop: m.stop,
        });
        if m.f.is_finite() && best.as_ref().is_none_or(|(_, b)| m.f < b.f) {
            best = Some((i, m));
        }
    }
    let Some((best_i, m)) = best else {
        return Err(ClvError::FitFailed {
            model,
            reason: "the likelihood is not finite at any start".into(),
        });
    };
    let best_ll = reports[best_i].log_likelihood;
    let agreeing_starts = reports
        .iter()
        .filter(|r| (r.log_likelihood - best_ll).abs() <= 1e-6 * best_ll.abs().max(1.0))
        .count();

    // Observed information of the total (penalized) negative log-likelihood on the log scale,
    // by central differences of the analytic gradient.
    let mut info = vec![vec![0.0; K]; K];
    let h = 1e-4;
    let mut up = vec![0.0; K];
    let mut dn = vec![0.0; K];
    for j in 0..K {
        let mut t = m.x.clone();
        t[j] += h;
        objective(&t, &mut up);
        t[j] -= 2.0 * h;
        objective(&t, &mut dn);
        for i in 0..K {
            info[i][j] = n * (up[i] - dn[i]) / (2.0 * h);
        }
    }
    for i in 0..K {
        for j in 0..i {
            let s = 0.5 * (info[i][j] + info[j][i]);
            info[i][j] = s;
            info[j][i] = s;
        }
    }
    let covariance = invert_spd(&info);
    let information_positive_definite = covariance.is_some();
    let covariance_log = covariance.unwrap_or_else(|| vec![vec![f64::NAN; K]; K]);
    let params = names
        .iter()
        .enumerate()
        .map(|(k, &name)| {
            let value = m.x[k].exp();
            let se_log = covariance_log[k][k].sqrt();
            Estimate {
                name,
                value,
                std_error: value * se_log,
                lower: (m.x[k] - Z95 * se_log).exp(),
                upper: (m.x[k] + Z95 * se_log).exp(),
            }
        })
        .collect();
    let gradient_norm = m.grad_norm();
    let stopped_well = matches!(m.stop, Stop::Gradient | Stop::Function)
        || (m.stop == Stop::LineSearch && gradient_norm <= 1e-5);
    let converged = stopped_well && gradient_norm <= 1e-5 && information_positive_definite;
    let mut warnings = Vec::new();
    if !converged {
        warnings.push(format!(
            "the optimizer stopped ({:?}) with gradient {gradient_norm:.2e}; the estimates may not be a maximum",
            m.stop
        ));
    }
    if !information_positive_definite {
        warnings.push(
            "the observed information is not positive definite: standard errors are not available"
                .into(),
        );
    }
    if agreeing_starts < reports.len() {
        warnings.push(format!(
            "{} of {} starts reached the best log-likelihood",
            agreeing_starts,
            reports.len()
        ));
    }
    Ok(FitSummary {
        model,
        params,
        log_likelihood: best_ll,
        customers: n,
        rows,
        penalizer: pen,
        covariance_log,
        diagnostics: Diagnostics {
            converged,
            stop: m.stop,
            gradient_norm,
            iterations: m.iterations,
            evaluations,
            agreeing_starts,
            starts: reports,
            information_positive_definite,
            warnings,
        },
    })
}

/// The inverse of a symmetric positive-definite matrix by Cholesky factorization; `None` if it
/// is not positive definite.
pub(crate) fn invert_spd(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // Solve L Lᵀ X = I column by column.
    let mut inv = vec![vec![0.0; n]; n];
    for c in 0..n {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i][k] * y[k];
            }
            y[i] = s / l[i][i];
        }
        for i in (0..n).rev() {
            let mut s = y[i];
            for k in i + 1..n {
                s -= l[k][i] * inv[k][c];
            }
            inv[i][c] = s / l[i][i];
        }
    }
    Some(inv)
}

/// Settings shared by the fits, with defaults that suit the models.
impl Default for FitOptions {
    fn default() -> Self {
        Self {
            penalizer: 0.0,
            starts: 3,
            seed: 42,
            lbfgs: Lbfgs::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverts_a_positive_definite_matrix() {
        let a = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.2],
            vec![0.5, 0.2, 2.0],
        ];
        let inv = invert_spd(&a).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let e: f64 = (0..3).map(|k| a[i][k] * inv[k][j]).sum();
                assert!((e - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
        assert!(invert_spd(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
    }
}
