//! Holdout validation of a count model: fit on a calibration period, predict each customer's
//! purchases in the holdout period that follows, and compare with what they did — overall and
//! by calibration frequency (the "actual vs predicted" table of Fader, Hardie & Lee 2005,
//! figure 3).

use rayon::prelude::*;
use serde::Serialize;

use super::{ClvError, CountFit, Triples};

/// One calibration-frequency bucket of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationRow {
    /// Repeat purchases in the calibration period: `"0"`, `"1"`, … and the last bucket `"7+"`.
    pub frequency: String,
    /// Customers in the bucket.
    pub customers: u64,
    /// Their mean purchases in the holdout period.
    pub actual: f64,
    /// Their mean predicted purchases in the holdout period.
    pub predicted: f64,
}

/// Predicted against actual holdout purchases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// The model validated.
    pub model: &'static str,
    /// Length of the holdout period, in the model's time unit.
    pub holdout_length: f64,
    /// Customers compared.
    pub customers: u64,
    /// Their total purchases in the holdout period.
    pub actual_total: f64,
    /// Their total predicted purchases.
    pub predicted_total: f64,
    /// Mean absolute error per customer.
    pub mae: f64,
    /// The table by calibration frequency.
    pub rows: Vec<ValidationRow>,
}

/// Compares `fit`'s predictions for a holdout period of `holdout_length` time units with the
/// customers' `actual` purchases in it; customer `i` has triple `index[i]` of `triples` (as
/// [`Triples::collapse`] returns them). Frequencies from `top_bucket` up share the last row.
pub fn validate(
    fit: &CountFit,
    triples: &Triples,
    index: &[u32],
    actual: &[f64],
    holdout_length: f64,
    top_bucket: u32,
) -> Result<Validation, ClvError> {
    if actual.len() != index.len() {
        return Err(ClvError::Length {
            what: "actual holdout purchases",
            expected: index.len(),
            got: actual.len(),
        });
    }
    if !(holdout_length.is_finite() && holdout_length > 0.0) {
        return Err(ClvError::InvalidParameter {
            name: "holdout_length",
            reason: format!("must be positive, got {holdout_length}"),
        });
    }
    let top_bucket = top_bucket.max(1);
    let per_triple: Vec<f64> = (0..triples.len())
        .into_par_iter()
        .map(|k| {
            fit.conditional_expected_purchases(
                holdout_length,
                triples.x[k],
                triples.t_x[k],
                triples.t[k],
            )
        })
        .collect();
    let buckets = top_bucket as usize + 1;
    let mut count = vec![0u64; buckets];
    let mut act = vec![0.0; buckets];
    let mut pred = vec![0.0; buckets];
    let mut abs_err = 0.0;
    for (i, &k) in index.iter().enumerate() {
        let p = per_triple[k as usize];
        let b = (triples.x[k as usize] as usize).min(top_bucket as usize);
        count[b] += 1;
        act[b] += actual[i];
        pred[b] += p;
        abs_err += (actual[i] - p).abs();
    }
    let rows = (0..buckets)
        .filter(|&b| count[b] > 0)
        .map(|b| ValidationRow {
            frequency: if b == top_bucket as usize {
                format!("{b}+")
            } else {
                b.to_string()
            },
            customers: count[b],
            actual: act[b] / count[b] as f64,
            predicted: pred[b] / count[b] as f64,
        })
        .collect();
    Ok(Validation {
        model: fit.model.label(),
        holdout_length,
        customers: index.len() as u64,
        actual_total: act.iter().sum(),
        predicted_total: pred.iter().sum(),
        mae: abs_err / index.len() as f64,
        rows,
    })
}

/// Pearson correlation of repeat purchases and mean spend among repeat buyers: the Gamma-Gamma
/// model assumes spend is independent of frequency. `None` with fewer than 3 buyers or no
/// spread.
pub fn spend_frequency_correlation(x: &[f64], m: &[f64]) -> Option<f64> {
    let n = x.len().min(m.len());
    if n < 3 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let mm = m[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, m[i] - mm);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Above this absolute correlation of frequency and spend, the Gamma-Gamma model's independence
/// assumption is reported as doubtful.
pub const CORRELATION_WARNING: f64 = 0.3;
