//! Customer lifetime value and churn: the "buy till you die" models of non-contractual
//! purchasing, fitted by maximum likelihood, with uncertainty.
//!
//! * Count models ([`CountModel`]): BG/NBD (Fader, Hardie & Lee 2005), Pareto/NBD
//!   (Schmittlein, Morrison & Colombo 1987) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).
//!   Each takes a customer's repeat purchases `x`, the time of the last one `t_x` and the time
//!   since the first purchase `T`, and predicts P(alive) and expected purchases.
//! * The Gamma-Gamma spend model ([`fit_gamma_gamma`]; Colombo & Jiang 1999, Fader, Hardie &
//!   Lee 2005) for the expected mean spend per transaction.
//! * Lifetime value ([`CountFit::discounted_purchases`] × [`SpendFit::expected_spend`]): the
//!   sum over future periods of discounted expected purchases times expected spend.
//! * Validation ([`validate`]): predicted against actual purchases in a holdout period, by
//!   calibration frequency.
//!
//! **Fitting.** The count models' likelihoods depend on a customer only through `(x, t_x, T)`,
//! so customers are collapsed to distinct triples with weights ([`Triples`]), and the
//! `x`-dependent gamma and digamma terms are computed once per distinct `x`. The objective is
//! lifetimes' (the mean negative log-likelihood plus `penalizer · Σ θ²`, see
//! [`FitOptions::penalizer`]), minimized over `ln θ` by L-BFGS ([`optimize`]) with analytic gradients from
//! several starts. Standard errors come from the observed information (central differences of
//! the analytic gradient at the optimum); 95% intervals are computed on the log scale and
//! mapped back, so they stay positive.
//!
//! **Per-customer intervals** use the delta method on the log-parameters: the variance of a
//! prediction is `∇ᵀ Σ ∇`, with `∇` its gradient by central differences and `Σ` the
//! log-parameters' covariance, and the 95% interval is `v · exp(±1.96 sd / v)` (log-normal),
//! which keeps it positive. Spend and count parameters are estimated separately, so their
//! uncertainties add as independent.
//!
//! ```
//! use tessera_models::clv::{CountModel, FitOptions, Triples};
//!
//! // (x, t_x, T) of 300 customers, in weeks: a third never came back, a third came back a
//! // few times early on, a third buy steadily.
//! let (mut x, mut t_x, mut t) = (vec![], vec![], vec![]);
//! for i in 0..100 {
//!     let age = 30.0 + f64::from(i % 10);
//!     x.extend([0.0, 2.0, 8.0 + f64::from(i % 5)]);
//!     t_x.extend([0.0, 3.0 + f64::from(i % 4), age - 1.0]);
//!     t.extend([age, age, age]);
//! }
//! let (triples, _) = Triples::collapse(&x, &t_x, &t, None)?;
//! let fit = CountModel::BgNbd.fit(&triples, &FitOptions::default())?;
//! assert!(fit.summary.diagnostics.converged);
//! // A steady buyer is likelier alive than one who stopped after two early repeats.
//! assert!(fit.p_alive(10.0, 38.0, 39.0) > fit.p_alive(2.0, 4.0, 39.0));
//! assert_eq!(fit.summary.params[0].name, "r");
//! # Ok::<(), tessera_models::clv::ClvError>(())
//! ```

mod bgnbd;
mod data;
mod error;
mod fit;
mod gamma_gamma;
pub mod hyp2f1;
pub mod optimize;
pub mod pareto;
mod score;
pub mod special;
mod validation;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use bgnbd::Variant;
pub use data::{Triples, check_summary};
pub use error::ClvError;
pub use fit::{Diagnostics, Estimate, FitSummary, StartReport};
pub use optimize::{Lbfgs, Stop};
pub use score::{Score, score};
pub use validation::{
    CORRELATION_WARNING, Validation, ValidationRow, spend_frequency_correlation, validate,
};

/// Settings of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// L2 penalty on the parameters, as lifetimes' `penalizer_coef` (default 0): the objective
    /// is the mean negative log-likelihood plus `penalizer · Σ θ²`, with the count models' scale
    /// parameters (α, β) expressed in units of the largest `T`, as lifetimes fits them.
    pub penalizer: f64,
    /// Optimizer starts (default 3): the model's standard starts, then random ones around the
    /// first.
    pub starts: usize,
    /// Seed of the random starts.
    pub seed: u64,
    /// The optimizer's settings.
    pub lbfgs: Lbfgs,
}

/// A model of purchase counts and drop-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CountModel {
    /// BG/NBD: drop-out after a purchase (Fader, Hardie & Lee 2005).
    #[serde(rename = "bgnbd")]
    BgNbd,
    /// Pareto/NBD: drop-out at any time (Schmittlein, Morrison & Colombo 1987).
    #[serde(rename = "pareto")]
    ParetoNbd,
    /// MBG/NBD: BG/NBD where a customer may also drop out before any repeat purchase
    /// (Batislam, Denizel & Filiztekin 2007).
    #[serde(rename = "mbgnbd")]
    ModifiedBgNbd,
}

/// Rows of triples summed by one parallel task.
const UNIT: usize = 4096;

impl CountModel {
    /// Every model, in the order of the documentation.
    pub const ALL: [Self; 3] = [Self::BgNbd, Self::ParetoNbd, Self::ModifiedBgNbd];

    /// The name used in configuration and on the command line: `bgnbd`, `pareto`, `mbgnbd`.
    pub fn key(self) -> &'static str {
        match self {
            Self::BgNbd => "bgnbd",
            Self::ParetoNbd => "pareto",
            Self::ModifiedBgNbd => "mbgnbd",
        }
    }

    /// The model's name in the literature.
    pub fn label(self) -> &'static str {
        match self {
            Self::BgNbd => "BG/NBD",
            Self::ParetoNbd => "Pareto/NBD",
            Self::ModifiedBgNbd => "MBG/NBD",
        }
    }

    /// The parameters' names, as in the papers.
    pub fn param_names(self) -> [&'static str; 4] {
        match self {
            Self::ParetoNbd => ["r", "alpha", "s", "beta"],
            Self::BgNbd | Self::ModifiedBgNbd => ["r", "alpha", "a", "b"],
        }
    }

    /// Parses a [`CountModel::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }

    fn variant(self) -> Option<Variant> {
        match self {
            Self::BgNbd => Some(Variant::Bg),
            Self::ModifiedBgNbd => Some(Variant::Modified),
            Self::ParetoNbd => None,
        }
    }

    /// One customer's log-likelihood at parameters `p`.
    pub fn loglik(self, p: &[f64; 4], x: f64, t_x: f64, t: f64) -> f64 {
        match self.variant() {
            Some(v) => bgnbd::loglik(v, p, x, t_x, t),
            None => pareto::loglik(p, x, t_x, t),
        }
    }

    /// The total weighted log-likelihood of `triples` at `p`, and its gradient with respect to
    /// the natural-scale parameters written into `grad`. Summed in parallel over fixed blocks
    /// combined in order, so the result does not depend on the number of threads.
    pub fn total_loglik(self, p: &[f64; 4], triples: &Triples, grad: &mut [f64; 4]) -> f64 {
        let units = units(triples);
        self.total_on_units(p, triples, &units, grad)
    }

    fn total_on_units(
        self,
        p: &[f64; 4],
        tr: &Triples,
        units: &[(f64, usize, usize)],
        grad: &mut [f64; 4],
    ) -> f64 {
        let terms = self
            .variant()
            .filter(|_| !tr.times.is_empty())
            .map(|_| bgnbd::TimeTerms::new(p[1], &tr.times));
        let parts: Vec<(f64, [f64; 4])> = units
            .par_iter()
            .map(|&(x, s, e)| {
                let mut g = [0.0; 4];
                let w = &tr.weight[s..e];
                let ll = match (self.variant(), &terms) {
                    (Some(v), None) => {
                        let times = bgnbd::Direct {
                            alpha: p[1],
                            t_x: &tr.t_x[s..e],
                            t: &tr.t[s..e],
                        };
                        bgnbd::group_loglik(v, p, x, &times, w, &mut g)
                    }
                    (Some(v), Some(terms)) => {
                        let times = bgnbd::Coded {
                            terms,
                            t_x_code: &tr.t_x_code[s..e],
                            t_code: &tr.t_code[s..e],
                        };
                        bgnbd::group_loglik(v, p, x, &times, w, &mut g)
                    }
                    _ => {
                        let mut total = 0.0;
                        let mut gi = [0.0; 4];
                        for ((wi, &t_x), &t) in w.iter().zip(&tr.t_x[s..e]).zip(&tr.t[s..e]) {
                            total += wi * pareto::loglik_grad(p, x, t_x, t, &mut gi);
                            for (gk, gik) in g.iter_mut().zip(gi) {
                                *gk += wi * gik;
                            }
                        }
                        total
                    }
                };
                (ll, g)
            })
            .collect();
        *grad = [0.0; 4];
        let mut total = 0.0;
        for (ll, g) in parts {
            total += ll;
            for k in 0..4 {
                grad[k] += g[k];
            }
        }
        total
    }

    /// P(alive | x, t_x, T) at parameters `p`.
    pub fn p_alive(self, p: &[f64; 4], x: f64, t_x: f64, t: f64) -> f64 {
        match self.variant() {
            Some(v) => bgnbd::p_alive(v, p, x, t_x, t),
            None => pareto::p_alive(p, x, t_x, t),
        }
    }

    /// E[Y(h) | x, t_x, T]: expected repeat purchases in the next `h` time units.
    pub fn conditional_expected_purchases(
        self,
        p: &[f64; 4],
        h: f64,
        x: f64,
        t_x: f64,
        t: f64,
    ) -> f64 {
        match self.variant() {
            Some(v) => bgnbd::conditional_expected_purchases(v, p, h, x, t_x, t),
            None => pareto::conditional_expected_purchases(p, h, x, t_x, t),
        }
    }

    /// E[X(t)]: expected purchases of a new customer in `t` time units.
    pub fn expected_purchases(self, p: &[f64; 4], t: f64) -> f64 {
        match self.variant() {
            Some(v) => bgnbd::expected_purchases(v, p, t),
            None => pareto::expected_purchases(p, t),
        }
    }

    /// The model's standard starts for `triples`: all ones (lifetimes' start) and one scaled
    /// to the data's purchase rate.
    fn starts(self, tr: &Triples) -> Vec<[f64; 4]> {
        let (mut sx, mut st) = (0.0, 0.0);
        for i in 0..tr.len() {
            sx += tr.weight[i] * tr.x[i];
            st += tr.weight[i] * tr.t[i];
        }
        let rate = (sx / st.max(f64::MIN_POSITIVE)).clamp(1e-6, 1e6);
        let mean_t = (st / tr.total_weight).max(1e-3);
        let scaled = match self {
            Self::ParetoNbd => [0.5, 0.5 / rate, 0.5, mean_t],
            Self::BgNbd | Self::ModifiedBgNbd => [0.5, 0.5 / rate, 1.0, 3.0],
        };
        vec![[1.0; 4], scaled]
    }

    /// lifetimes fits with time divided by the largest `T`, so its penalty applies to the
    /// scale parameters α (and β) in that unit; the same scaling makes a penalized fit here
    /// equal to lifetimes'.
    fn penalty_scale(self, tr: &Triples) -> [f64; 4] {
        let t_max =
            tr.t.iter()
                .fold(0.0f64, |m, &t| m.max(t))
                .max(f64::MIN_POSITIVE);
        match self {
            Self::ParetoNbd => [1.0, t_max, 1.0, t_max],
            Self::BgNbd | Self::ModifiedBgNbd => [1.0, t_max, 1.0, 1.0],
        }
    }

    /// Fits the model to `triples` by maximum likelihood.
    pub fn fit(self, triples: &Triples, opts: &FitOptions) -> Result<CountFit, ClvError> {
        if triples.is_empty() || triples.total_weight <= 0.0 {
            return Err(ClvError::Empty);
        }
        let units = units(triples);
        let eval = |p: &[f64; 4], g: &mut [f64; 4]| self.total_on_units(p, triples, &units, g);
        let summary = fit::fit(
            self.label(),
            self.param_names(),
            &eval,
            triples.total_weight,
            triples.len(),
            self.starts(triples),
            self.penalty_scale(triples),
            opts,
        )?;
        let mut params = [0.0; 4];
        params.copy_from_slice(&summary.values());
        Ok(CountFit {
            model: self,
            params,
            summary,
        })
    }
}

/// The groups of `triples` cut into blocks of at most [`UNIT`] rows.
fn units(tr: &Triples) -> Vec<(f64, usize, usize)> {
    let mut out = Vec::new();
    for &(x, s, e) in &tr.groups {
        let mut a = s;
        while a < e {
            let b = (a + UNIT).min(e);
            out.push((x, a, b));
            a = b;
        }
    }
    out
}

/// How future purchases are turned into value: `periods` periods of `period_length` time units,
/// each discounted by `(1 + discount_rate)^i`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Horizon {
    /// Periods summed.
    pub periods: u32,
    /// Length of one period, in the model's time unit.
    pub period_length: f64,
    /// Discount rate per period.
    pub discount_rate: f64,
}

impl Horizon {
    /// The whole horizon, in the model's time unit.
    pub fn length(&self) -> f64 {
        f64::from(self.periods) * self.period_length
    }
}

/// A value with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The point estimate.
    pub value: f64,
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

impl Interval {
    /// The log-normal interval `v · exp(±1.96 sd / v)` of a positive value with standard
    /// deviation `sd`; a zero value has a zero interval.
    pub fn log_normal(value: f64, sd: f64) -> Self {
        if value <= 0.0 || !sd.is_finite() {
            let nan = if sd.is_finite() { value } else { f64::NAN };
            return Self {
                value,
                lower: nan.min(value),
                upper: nan.max(value),
            };
        }
        let f = (fit::Z95 * sd / value).exp();
        Self {
            value,
            lower: value / f,
            upper: value * f,
        }
    }
}

/// Gradient of `f` with respect to the log of each parameter, by central differences.
fn log_gradient<const K: usize>(params: &[f64; K], f: impl Fn(&[f64; K]) -> f64) -> [f64; K] {
    let h = 1e-5f64;
    let mut g = [0.0; K];
    for k in 0..K {
        let (mut up, mut dn) = (*params, *params);
        up[k] *= h.exp();
        dn[k] *= (-h).exp();
        g[k] = (f(&up) - f(&dn)) / (2.0 * h);
    }
    g
}

/// A fitted count model.
#[derive(Debug, Clone, PartialEq)]
pub struct CountFit {
    /// Which model.
    pub model: CountModel,
    /// The estimates, in the order of [`CountModel::param_names`].
    pub params: [f64; 4],
    /// Estimates with intervals, likelihood and diagnostics.
    pub summary: FitSummary,
}

impl CountFit {
    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        self.model.p_alive(&self.params, x, t_x, t)
    }

    /// E[Y(h) | x, t_x, T].
    pub fn conditional_expected_purchases(&self, h: f64, x: f64, t_x: f64, t: f64) -> f64 {
        self.model
            .conditional_expected_purchases(&self.params, h, x, t_x, t)
    }

    /// E[X(t)] for a new customer.
    pub fn expected_purchases(&self, t: f64) -> f64 {
        self.model.expected_purchases(&self.params, t)
    }

    /// E[Y(h) | x, t_x, T] with its delta-method interval.
    pub fn conditional_expected_purchases_interval(
        &self,
        h: f64,
        x: f64,
        t_x: f64,
        t: f64,
    ) -> Interval {
        let (value, sd) = self.conditional_expected_purchases_interval_sd(h, x, t_x, t);
        Interval::log_normal(value, sd)
    }

    /// E[Y(h) | x, t_x, T] and its delta-method standard deviation.
    pub fn conditional_expected_purchases_interval_sd(
        &self,
        h: f64,
        x: f64,
        t_x: f64,
        t: f64,
    ) -> (f64, f64) {
        let m = self.model;
        let f = |p: &[f64; 4]| m.conditional_expected_purchases(p, h, x, t_x, t);
        let value = f(&self.params);
        let g = log_gradient(&self.params, f);
        (value, self.summary.delta_variance(&g).max(0.0).sqrt())
    }

    /// Σᵢ (E[Y(i L)] − E[Y((i−1) L)]) / (1 + d)^i over the horizon's periods: the discounted
    /// expected purchases, which times the expected spend is the lifetime value.
    pub fn discounted_purchases(&self, horizon: &Horizon, x: f64, t_x: f64, t: f64) -> f64 {
        discounted(self.model, &self.params, horizon, x, t_x, t)
    }

    /// [`CountFit::discounted_purchases`] and its delta-method standard deviation.
    pub fn discounted_purchases_sd(
        &self,
        horizon: &Horizon,
        x: f64,
        t_x: f64,
        t: f64,
    ) -> (f64, f64) {
        let m = self.model;
        let f = |p: &[f64; 4]| discounted(m, p, horizon, x, t_x, t);
        let value = f(&self.params);
        let g = log_gradient(&self.params, f);
        (value, self.summary.delta_variance(&g).max(0.0).sqrt())
    }
}

fn discounted(m: CountModel, p: &[f64; 4], h: &Horizon, x: f64, t_x: f64, t: f64) -> f64 {
    let mut total = 0.0;
    let mut prev = 0.0;
    let mut factor = 1.0;
    for i in 1..=h.periods {
        let cum = m.conditional_expected_purchases(p, f64::from(i) * h.period_length, x, t_x, t);
        factor /= 1.0 + h.discount_rate;
        total += (cum - prev) * factor;
        prev = cum;
    }
    total
}

/// A fitted Gamma-Gamma spend model.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendFit {
    /// `[p, q, gamma]`.
    pub params: [f64; 3],
    /// Estimates with intervals, likelihood and diagnostics.
    pub summary: FitSummary,
}

impl SpendFit {
    /// E[M | m, x], the expected mean spend per transaction of a customer with `x` repeat
    /// transactions of mean `m` (the population mean for `x = 0`).
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        gamma_gamma::expected_spend(&self.params, x, m)
    }

    /// [`SpendFit::expected_spend`] and its delta-method standard deviation.
    pub fn expected_spend_sd(&self, x: f64, m: f64) -> (f64, f64) {
        let f = |p: &[f64; 3]| gamma_gamma::expected_spend(p, x, m);
        let g = log_gradient(&self.params, f);
        (
            f(&self.params),
            self.summary.delta_variance(&g).max(0.0).sqrt(),
        )
    }

    /// One customer's log-density of mean spend `m` over `x` repeat transactions.
    pub fn loglik(params: &[f64; 3], x: f64, m: f64) -> f64 {
        gamma_gamma::group_loglik(params, x, &[m], &[1.0], &mut [0.0; 3])
    }
}

/// Fits the Gamma-Gamma model to repeat buyers: `x[i] > 0` repeat transactions with mean value
/// `m[i] > 0`.
pub fn fit_gamma_gamma(x: &[f64], m: &[f64], opts: &FitOptions) -> Result<SpendFit, ClvError> {
    if x.is_empty() {
        return Err(ClvError::Empty);
    }
    if m.len() != x.len() {
        return Err(ClvError::Length {
            what: "mean spend",
            expected: x.len(),
            got: m.len(),
        });
    }
    for (row, (&xi, &mi)) in x.iter().zip(m).enumerate() {
        if !(xi.is_finite() && xi >= 1.0 && xi.fract() == 0.0) {
            return Err(ClvError::BadSummary {
                row,
                x: xi,
                t_x: f64::NAN,
                t: f64::NAN,
                reason: "the spend model takes repeat buyers only (whole x ≥ 1)",
            });
        }
        if !(mi.is_finite() && mi > 0.0) {
            return Err(ClvError::BadSpend { row, value: mi });
        }
    }
    // Sort by x so that the x-dependent terms are computed once per group.
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]).then(m[i].total_cmp(&m[j])));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let ms: Vec<f64> = order.iter().map(|&i| m[i]).collect();
    let ws = vec![1.0; xs.len()];
    let mut units: Vec<(f64, usize, usize)> = Vec::new();
    for (i, &xi) in xs.iter().enumerate() {
        match units.last_mut() {
            Some(u) if u.0 == xi && u.2 - u.1 < UNIT => u.2 = i + 1,
            _ => units.push((xi, i, i + 1)),
        }
    }
    let eval = |p: &[f64; 3], g: &mut [f64; 3]| -> f64 {
        let parts: Vec<(f64, [f64; 3])> = units
            .par_iter()
            .map(|&(xi, s, e)| {
                let mut gg = [0.0; 3];
                let ll = gamma_gamma::group_loglik(p, xi, &ms[s..e], &ws[s..e], &mut gg);
                (ll, gg)
            })
            .collect();
        *g = [0.0; 3];
        let mut total = 0.0;
        for (ll, gg) in parts {
            total += ll;
            for k in 0..3 {
                g[k] += gg[k];
            }
        }
        total
    };
    let mean_m = ms.iter().sum::<f64>() / ms.len() as f64;
    let summary = fit::fit(
        "Gamma-Gamma",
        ["p", "q", "gamma"],
        &eval,
        xs.len() as f64,
        xs.len(),
        vec![[1.0; 3], [2.0, 3.0, mean_m]],
        [1.0; 3],
        opts,
    )?;
    let mut params = [0.0; 3];
    params.copy_from_slice(&summary.values());
    Ok(SpendFit { params, summary })
}
