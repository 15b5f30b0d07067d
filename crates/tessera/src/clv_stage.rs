//! Lifetime value and churn in a run and in `tessera clv`: fitting the configured count model
//! and the Gamma-Gamma spend model to customers' summaries, scoring every customer, validating
//! on a holdout, and the report written to `run.json` and printed by the command.

use crate::Failure;
use anyhow::anyhow;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_core::config::ClvConfig;
use tessera_features::table::HoldoutSplit;
use tessera_models::clv::{
    self, CORRELATION_WARNING, CountFit, CountModel, FitOptions, FitSummary, Horizon, Score,
    SpendFit, Triples, Validation,
};

/// An output column and its name.
pub type NamedColumn = (&'static str, ArrayRef);

/// Repeat buyers needed to fit the spend model.
const MIN_SPEND_BUYERS: usize = 10;

/// Customers' buy-till-you-die summaries: one row per customer with purchases.
pub struct Summaries {
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub t: Vec<f64>,
    /// Mean spend of the repeat transactions, in currency units.
    pub mean_spend: Vec<Option<f64>>,
}

/// The fitted models and what a user should know about them.
pub struct Fitted {
    /// The summaries collapsed to distinct triples, and each customer's triple.
    pub triples: Triples,
    pub index: Vec<u32>,
    pub count: CountFit,
    pub spend: Option<SpendFit>,
    /// Pearson correlation of frequency and mean spend among repeat buyers.
    pub correlation: Option<f64>,
    pub warnings: Vec<String>,
}

/// Fits the count model to `s`, and the spend model to its repeat buyers when they are enough.
pub fn fit(model: CountModel, penalizer: f64, s: &Summaries) -> Result<Fitted, Failure> {
    let opts = FitOptions {
        penalizer,
        ..FitOptions::default()
    };
    let (triples, index) = Triples::collapse(&s.x, &s.t_x, &s.t, None)
        .map_err(|e| Failure::Input(anyhow!("customer summaries: {e}")))?;
    let count = model
        .fit(&triples, &opts)
        .map_err(|e| Failure::Other(e.into()))?;
    let mut warnings = count.summary.diagnostics.warnings.clone();
    let (bx, bm): (Vec<f64>, Vec<f64>) =
        s.x.iter()
            .zip(&s.mean_spend)
            .filter_map(|(&x, m)| m.filter(|m| x > 0.0 && *m > 0.0).map(|m| (x, m)))
            .unzip();
    let correlation = clv::spend_frequency_correlation(&bx, &bm);
    if let Some(c) = correlation.filter(|c| c.abs() > CORRELATION_WARNING) {
        warnings.push(format!(
            "frequency and mean spend of repeat buyers are correlated ({c:.3}): the Gamma-Gamma \
             model assumes they are independent, so expected spend may be biased"
        ));
    }
    let spend = if bx.len() >= MIN_SPEND_BUYERS {
        match clv::fit_gamma_gamma(&bx, &bm, &opts) {
            Ok(g) => {
                warnings.extend(
                    g.summary
                        .diagnostics
                        .warnings
                        .iter()
                        .map(|w| format!("spend model: {w}")),
                );
                if g.params[1] <= 1.0 {
                    warnings.push(format!(
                        "spend model: q = {:.3} ≤ 1, so the population mean spend is infinite; \
                         customers without repeat purchases get no expected spend",
                        g.params[1]
                    ));
                }
                Some(g)
            }
            Err(e) => {
                warnings.push(format!("spend model not fitted: {e}"));
                None
            }
        }
    } else {
        warnings.push(format!(
            "spend model not fitted: {} repeat buyers with a positive mean spend, at least {MIN_SPEND_BUYERS} needed",
            bx.len()
        ));
        None
    };
    Ok(Fitted {
        triples,
        index,
        count,
        spend,
        correlation,
        warnings,
    })
}

/// A fit as JSON: parameters by name, standard errors, intervals, log-likelihood, diagnostics.
pub fn fit_json(s: &FitSummary) -> Value {
    let by_name = |f: &dyn Fn(&clv::Estimate) -> Value| -> serde_json::Map<String, Value> {
        s.params
            .iter()
            .map(|e| (e.name.to_string(), f(e)))
            .collect()
    };
    json!({
        "model": s.model,
        "params": by_name(&|e| json!(e.value)),
        "std_errors": by_name(&|e| finite(e.std_error)),
        "intervals": by_name(&|e| json!([finite(e.lower), finite(e.upper)])),
        "log_likelihood": s.log_likelihood,
        "customers": s.customers,
        "rows": s.rows,
        "penalizer": s.penalizer,
        "diagnostics": s.diagnostics,
    })
}

/// JSON has no NaN: a number or null.
fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// The report of a fit: the count model, the spend model, the correlation and the warnings.
pub fn report(f: &Fitted, unit: &str) -> Value {
    let mut count = fit_json(&f.count.summary);
    count["unit"] = json!(unit);
    count["key"] = json!(f.count.model.key());
    json!({
        "count": count,
        "spend": f.spend.as_ref().map(|g| fit_json(&g.summary)),
        "spend_frequency_correlation": f.correlation,
        "warnings": f.warnings,
    })
}

/// Text of a fit: one line per parameter with its standard error and interval.
pub fn describe_fit(s: &FitSummary, out: &mut String) {
    use std::fmt::Write;
    let d = &s.diagnostics;
    let _ = writeln!(
        out,
        "{}: {} customers ({} distinct rows), log-likelihood {:.2}, {} ({} iterations; {} of {} starts agree)",
        s.model,
        s.customers,
        s.rows,
        s.log_likelihood,
        if d.converged {
            "converged"
        } else {
            "NOT converged"
        },
        d.iterations,
        d.agreeing_starts,
        d.starts.len()
    );
    let _ = writeln!(
        out,
        "  {:<6} {:>11} {:>10}   95% interval",
        "param", "estimate", "std.err"
    );
    for e in &s.params {
        let _ = writeln!(
            out,
            "  {:<6} {:>11.4} {:>10.4}   [{:.4}, {:.4}]",
            e.name, e.value, e.std_error, e.lower, e.upper
        );
    }
}

/// Text of a validation table.
pub fn describe_validation(v: &Validation, out: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "  {:>9} {:>10} {:>9} {:>10}",
        "frequency", "customers", "actual", "predicted"
    );
    for r in &v.rows {
        let _ = writeln!(
            out,
            "  {:>9} {:>10} {:>9.3} {:>10.3}",
            r.frequency, r.customers, r.actual, r.predicted
        );
    }
    let _ = writeln!(
        out,
        "  {:>9} {:>10} {:>9.0} {:>10.1}   MAE per customer {:.3}",
        "total", v.customers, v.actual_total, v.predicted_total, v.mae
    );
}

/// The churn-risk band of a P(alive).
pub fn churn_risk(p_alive: f64, thresholds: [f64; 2]) -> &'static str {
    if p_alive < thresholds[0] {
        "high"
    } else if p_alive < thresholds[1] {
        "medium"
    } else {
        "low"
    }
}

/// The `[clv]` stage of a run: fits on the feature table's `x`, `t_x`, `T` and
/// `mean_repeat_spend`, and returns the columns to add (`p_alive`, `expected_purchases`,
/// `expected_spend`, `clv`, `churn_risk`, and the intervals) with the report.
pub fn clv_customers(
    config: &tessera_core::Config,
    c: &ClvConfig,
    features: &RecordBatch,
    holdout: Option<&HoldoutSplit>,
) -> Result<(Vec<NamedColumn>, Value), Failure> {
    let model = CountModel::from_key(&c.model).expect("checked with the config");
    let feature_days = tessera_features::btyd::TimeUnit::from(config.features.time_unit).days();
    let unit_name = c.time_unit.unwrap_or(config.features.time_unit);
    let unit_days = tessera_features::btyd::TimeUnit::from(unit_name).days();
    let rescale = feature_days / unit_days;
    let scale = 10f64.powi(i32::from(config.money_decimals));
    let column = |name: &str| -> Result<&ArrayRef, Failure> {
        features
            .column_by_name(name)
            .ok_or_else(|| Failure::Other(anyhow!("the feature table has no `{name}` column")))
    };
    let as_f64 = |name: &str| -> Result<Float64Array, Failure> {
        let a = arrow_cast::cast(column(name)?, &arrow_schema::DataType::Float64)?;
        Ok(a.as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64")
            .clone())
    };
    let (x, t_x, t, m) = (
        as_f64("x")?,
        as_f64("t_x")?,
        as_f64("T")?,
        as_f64("mean_repeat_spend")?,
    );
    let rows: Vec<usize> = (0..x.len()).filter(|&i| x.is_valid(i)).collect();
    let n = features.num_rows();
    let unit = serde_json::to_value(unit_name)?;
    let unit = unit.as_str().unwrap_or("weeks").to_string();
    if rows.is_empty() {
        return Err(Failure::Input(anyhow!(
            "{}: clv: no customer has a purchase before as_of",
            c.at
        )));
    }
    let summaries = Summaries {
        x: rows.iter().map(|&i| x.value(i)).collect(),
        t_x: rows.iter().map(|&i| t_x.value(i) * rescale).collect(),
        t: rows.iter().map(|&i| t.value(i) * rescale).collect(),
        mean_spend: rows
            .iter()
            .map(|&i| m.is_valid(i).then(|| m.value(i) / scale))
            .collect(),
    };
    let fitted = fit(model, c.penalizer, &summaries)?;
    let horizon = Horizon {
        periods: c.horizon,
        period_length: c.period.days() / unit_days,
        discount_rate: c.discount_rate,
    };
    let scores = clv::score(
        &fitted.count,
        fitted.spend.as_ref(),
        &horizon,
        c.intervals,
        &fitted.triples,
        &fitted.index,
        &summaries.mean_spend,
    )
    .map_err(|e| Failure::Other(e.into()))?;
    let columns = columns(n, &rows, &scores, c, scale);
    let mut report = report(&fitted, &unit);
    report["horizon"] = json!({
        "periods": c.horizon,
        "period": c.period,
        "discount_rate": c.discount_rate,
        "length": horizon.length(),
    });
    report["churn_thresholds"] = json!(c.churn_thresholds);
    report["customers_scored"] = json!(rows.len());
    report["customers_without_purchases"] = json!(n - rows.len());
    let mut bands = serde_json::Map::new();
    for band in ["high", "medium", "low"] {
        let count = scores
            .iter()
            .filter(|s| churn_risk(s.p_alive, c.churn_thresholds) == band)
            .count();
        bands.insert(band.to_string(), json!(count));
    }
    report["churn_risk"] = Value::Object(bands);
    let total: f64 = scores.iter().filter_map(|s| s.clv.map(|v| v.value)).sum();
    report["clv_total"] = finite(total);
    if let Some(h) = holdout {
        report["validation"] = validate_holdout(model, c, h, rescale, unit_days)?;
    }
    Ok((columns, report))
}

/// Refits on the calibration period before the holdout and compares with the holdout.
fn validate_holdout(
    model: CountModel,
    c: &ClvConfig,
    h: &HoldoutSplit,
    rescale: f64,
    unit_days: f64,
) -> Result<Value, Failure> {
    let mut s = Summaries {
        x: vec![],
        t_x: vec![],
        t: vec![],
        mean_spend: vec![],
    };
    let mut actual = Vec::new();
    for split in h.splits.iter().flatten() {
        let Some(cal) = &split.calibration else {
            continue;
        };
        s.x.push(f64::from(cal.x));
        s.t_x.push(cal.t_x * rescale);
        s.t.push(cal.t * rescale);
        s.mean_spend.push(None);
        actual.push(f64::from(split.holdout));
    }
    if s.x.is_empty() {
        return Ok(json!({"skipped": "no customer bought before the holdout period"}));
    }
    let fitted = fit(model, c.penalizer, &s)?;
    let v = clv::validate(
        &fitted.count,
        &fitted.triples,
        &fitted.index,
        &actual,
        f64::from(h.days) / unit_days,
        7,
    )
    .map_err(|e| Failure::Other(e.into()))?;
    let mut out = serde_json::to_value(&v)?;
    out["calibration_end"] =
        json!(tessera_core::value::days_to_date(h.calibration_last_day).to_string());
    out["holdout_days"] = json!(h.days);
    out["calibration_fit"] = fit_json(&fitted.count.summary);
    Ok(out)
}

/// The run's output columns, in the feature table's row order; null for customers without
/// purchases. Money columns are in minor units, like the feature table's.
fn columns(
    n: usize,
    rows: &[usize],
    scores: &[Score],
    c: &ClvConfig,
    scale: f64,
) -> Vec<NamedColumn> {
    let spread = |f: &dyn Fn(&Score) -> Option<f64>| -> ArrayRef {
        let mut v: Vec<Option<f64>> = vec![None; n];
        for (&i, s) in rows.iter().zip(scores) {
            v[i] = f(s).filter(|v| v.is_finite());
        }
        Arc::new(Float64Array::from(v))
    };
    let mut risk: Vec<Option<&str>> = vec![None; n];
    for (&i, s) in rows.iter().zip(scores) {
        risk[i] = Some(churn_risk(s.p_alive, c.churn_thresholds));
    }
    let mut out: Vec<NamedColumn> = vec![
        ("p_alive", spread(&|s| Some(s.p_alive))),
        (
            "expected_purchases",
            spread(&|s| Some(s.expected_purchases.value)),
        ),
        (
            "expected_spend",
            spread(&|s| s.expected_spend.map(|v| v * scale)),
        ),
        ("clv", spread(&|s| s.clv.map(|v| v.value * scale))),
        ("churn_risk", Arc::new(StringArray::from(risk))),
    ];
    if c.intervals {
        out.extend([
            (
                "expected_purchases_lower",
                spread(&|s| Some(s.expected_purchases.lower)),
            ),
            (
                "expected_purchases_upper",
                spread(&|s| Some(s.expected_purchases.upper)),
            ),
            ("clv_lower", spread(&|s| s.clv.map(|v| v.lower * scale))),
            ("clv_upper", spread(&|s| s.clv.map(|v| v.upper * scale))),
        ]);
    }
    out
}
