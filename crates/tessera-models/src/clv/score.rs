//! Per-customer predictions of a fitted model: P(alive), expected purchases over a horizon,
//! expected spend and lifetime value, with delta-method intervals.

use rayon::prelude::*;

use super::{ClvError, CountFit, Horizon, Interval, SpendFit, Triples};

/// One customer's predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// P(alive | x, t_x, T).
    pub p_alive: f64,
    /// Expected repeat purchases over the whole horizon, with its interval when asked for.
    pub expected_purchases: Interval,
    /// Expected mean spend per transaction (Gamma-Gamma), when a spend model is given.
    pub expected_spend: Option<f64>,
    /// Lifetime value over the horizon, discounted, with its interval when asked for.
    pub clv: Option<Interval>,
}

/// Per distinct triple: P(alive), E[Y(H)] with its sd, discounted purchases with their sd.
struct TripleScore {
    p_alive: f64,
    purchases: f64,
    purchases_sd: f64,
    discounted: f64,
    discounted_sd: f64,
}

/// Predicts every customer over `horizon`: customer `i` has triple `index[i]` of `triples` (as
/// [`Triples::collapse`] returns them); `mean_spend[i]` is the mean of their repeat
/// transactions (ignored without repeats). With `intervals`, 95% intervals by
/// the delta method (see the module documentation); without, the intervals equal the values.
/// Predictions are computed once per distinct triple.
#[allow(clippy::too_many_arguments)]
pub fn score(
    fit: &CountFit,
    spend: Option<&SpendFit>,
    horizon: &Horizon,
    intervals: bool,
    triples: &Triples,
    index: &[u32],
    mean_spend: &[Option<f64>],
) -> Result<Vec<Score>, ClvError> {
    if mean_spend.len() != index.len() {
        return Err(ClvError::Length {
            what: "mean spend",
            expected: index.len(),
            got: mean_spend.len(),
        });
    }
    let length = horizon.length();
    let per_triple: Vec<TripleScore> = (0..triples.len())
        .into_par_iter()
        .map(|k| {
            let (x, t_x, t) = (triples.x[k], triples.t_x[k], triples.t[k]);
            let p_alive = fit.p_alive(x, t_x, t);
            let (purchases, purchases_sd, discounted, discounted_sd) = if intervals {
                let e = fit.conditional_expected_purchases_interval_sd(length, x, t_x, t);
                let d = fit.discounted_purchases_sd(horizon, x, t_x, t);
                (e.0, e.1, d.0, d.1)
            } else {
                let e = fit.conditional_expected_purchases(length, x, t_x, t);
                (e, 0.0, fit.discounted_purchases(horizon, x, t_x, t), 0.0)
            };
            TripleScore {
                p_alive,
                purchases,
                purchases_sd,
                discounted,
                discounted_sd,
            }
        })
        .collect();
    Ok((0..index.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let k = index[i] as usize;
            let (s, x) = (&per_triple[k], triples.x[k]);
            let expected_spend = spend.map(|g| {
                let m = if x > 0.0 {
                    mean_spend[i].unwrap_or(f64::NAN)
                } else {
                    0.0
                };
                if intervals {
                    g.expected_spend_sd(x, m)
                } else {
                    (g.expected_spend(x, m), 0.0)
                }
            });
            let clv = expected_spend.map(|(v, v_sd)| {
                let value = s.discounted * v;
                // Count and spend parameters are estimated separately: independent.
                let sd = ((v * s.discounted_sd).powi(2) + (s.discounted * v_sd).powi(2)).sqrt();
                Interval::log_normal(value, sd)
            });
            Score {
                p_alive: s.p_alive,
                expected_purchases: Interval::log_normal(s.purchases, s.purchases_sd),
                expected_spend: expected_spend.map(|e| e.0),
                clv,
            }
        })
        .collect())
}
