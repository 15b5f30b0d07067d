//! Times the BG/NBD fit on a customer summary file, for `bench/clv.sh`.
//!
//! ```text
//! cargo run --release -p tessera-models --example clv_bench -- --summary FILE [--runs N] [--model bgnbd|pareto|mbgnbd]
//! ```
//!
//! FILE is a CSV with a header and the columns `customer_id, x, t_x, T`. Each run times the
//! whole fit from the per-customer columns: collapsing them to distinct triples, the optimizer's
//! starts, and the observed information for the standard errors. Reading the file is not timed.
//! Prints one JSON line: `params`, `log_likelihood`, `fit_seconds` (every run),
//! `median_seconds`, `n` (customers) and `triples`.

use std::time::Instant;

use tessera_models::clv::{CountModel, FitOptions, Triples};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut path, mut runs, mut model) = (None, 5usize, CountModel::BgNbd);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--summary" => path = Some(value()?),
            "--runs" => runs = value()?.parse()?,
            "--model" => {
                let v = value()?;
                model = CountModel::from_key(&v).ok_or(format!("unknown model {v}"))?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let path = path.ok_or("--summary FILE is required")?;
    let text = std::fs::read_to_string(&path)?;
    let (mut x, mut t_x, mut t) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split(',').skip(1);
        let mut next = || -> Result<f64, String> {
            f.next()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("{path}: line {}: expected customer_id,x,t_x,T", i + 1))
        };
        x.push(next()?);
        t_x.push(next()?);
        t.push(next()?);
    }
    let mut seconds = Vec::with_capacity(runs);
    let mut collapse_seconds = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let (triples, _) = Triples::collapse(&x, &t_x, &t, None)?;
        collapse_seconds.push(start.elapsed().as_secs_f64());
        let fit = model.fit(&triples, &FitOptions::default())?;
        seconds.push(start.elapsed().as_secs_f64());
        last = Some((fit, triples.len()));
    }
    let (fit, triples) = last.expect("at least one run");
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let params: serde_json::Map<String, serde_json::Value> = fit
        .summary
        .params
        .iter()
        .map(|e| (e.name.to_string(), e.value.into()))
        .collect();
    let out = serde_json::json!({
        "model": model.key(),
        "params": params,
        "log_likelihood": fit.summary.log_likelihood,
        "converged": fit.summary.diagnostics.converged,
        "evaluations": fit.summary.diagnostics.evaluations,
        "iterations": fit.summary.diagnostics.starts.iter().map(|s| s.iterations).collect::<Vec<_>>(),
        "fit_seconds": seconds,
        "collapse_seconds": collapse_seconds,
        "median_seconds": sorted[sorted.len() / 2],
        "n": x.len(),
        "triples": triples,
    });
    println!("{out}");
    Ok(())
}
