//! Lifetime value end to end: `tessera clv` on the CDNOW sample (from the raw transaction log
//! and from the published summary), its errors, and a run's `[clv]` on the demo shop.

mod common;

use common::{read_parquet, run_ok};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tessera-models/tests/fixtures/clv")
        .join(name)
}

/// The CDNOW log (`master_id sample_id YYYYMMDD cds dollars`) as an orders CSV.
fn cdnow_orders(dir: &Path) -> Vec<(String, String, f64)> {
    let raw = std::fs::read_to_string(fixture("cdnow_sample.txt")).unwrap();
    let mut rows = Vec::new();
    let mut csv = String::from("customer_id,ordered_at,amount\n");
    for line in raw.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let id = f[0].trim_start_matches('0').to_string();
        let amount: f64 = f[4].parse().unwrap();
        csv.push_str(&format!("{id},{},{}\n", f[2], f[4]));
        rows.push((id, f[2].to_string(), amount));
    }
    assert_eq!(rows.len(), 6919);
    std::fs::write(dir.join("orders.csv"), csv).unwrap();
    rows
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    let out = run_ok(dir, args);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `tessera clv --json` on the CDNOW orders with the published calibration (to 1997-09-30)
/// and holdout (to 1998-06-30) periods, with more arguments.
fn cdnow_clv(dir: &Path, more: &[&str]) -> Value {
    let mut args = vec![
        "clv",
        "--orders",
        "orders.csv",
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
        "--json",
    ];
    args.extend_from_slice(more);
    json_of(dir, &args)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn fitting_the_raw_log_equals_fitting_the_published_summary() {
    let dir = tempfile::tempdir().unwrap();
    let rows = cdnow_orders(dir.path());
    std::fs::copy(
        fixture("cdnow_summary_spend.csv"),
        dir.path().join("summary.csv"),
    )
    .unwrap();
    for model in ["bgnbd", "pareto", "mbgnbd"] {
        let from_orders = cdnow_clv(dir.path(), &["--model", model]);
        let from_summary = json_of(
            dir.path(),
            &[
                "clv",
                "--summary",
                "summary.csv",
                "--model",
                model,
                "--json",
            ],
        );
        assert_eq!(from_orders["customers"], 2357.0);
        assert_eq!(from_orders["customers"], from_summary["customers"]);
        // The summary's times are printed to 2 decimals (30.43 weeks for 213 days = 30.428...),
        // the log's are exact; the fits agree to the effect of that rounding.
        for (name, v) in from_orders["params"].as_object().unwrap() {
            let (a, b) = (
                v.as_f64().unwrap(),
                from_summary["params"][name].as_f64().unwrap(),
            );
            assert!(close(a, b, 2e-3), "{model} {name}: orders {a}, summary {b}");
        }
        let (a, b) = (
            from_orders["log_likelihood"].as_f64().unwrap(),
            from_summary["log_likelihood"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1.0, "{model}: {a} vs {b}");
    }

    // The published BG/NBD fit (Fader, Hardie & Lee 2005): LL −9582.4 from the raw log too.
    let bg = cdnow_clv(dir.path(), &[]);
    let ll = bg["log_likelihood"].as_f64().unwrap();
    assert!((ll - -9582.4).abs() < 0.5, "{ll}");
    for (name, published) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        let v = bg["params"][name].as_f64().unwrap();
        assert!(close(v, published, 3e-3), "{name} = {v}");
        let [lo, hi] = [0, 1].map(|i| bg["intervals"][name][i].as_f64().unwrap());
        assert!(lo < v && v < hi && bg["std_errors"][name].as_f64().unwrap() > 0.0);
    }
    // Gamma-Gamma from the log's repeat spend: Fader & Hardie (2013) p = 6.25, q = 3.74,
    // γ = 15.44 (their mean spends are rounded to cents; these are exact).
    for (name, published) in [("p", 6.25), ("q", 3.74), ("gamma", 15.44)] {
        let v = bg["spend"]["params"][name].as_f64().unwrap();
        assert!(close(v, published, 5e-3), "{name} = {v}");
    }

    // The validation table against a count made here: repeat transactions (distinct days) of the
    // 2,357 customers from 1997-10-01 to 1998-06-30.
    let v = &bg["validation"];
    let mut days: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (id, day, _) in &rows {
        if day.as_str() > "19970930" && day.as_str() <= "19980630" {
            days.entry(id).or_default().insert(day);
        }
    }
    let actual: usize = days.values().map(BTreeSet::len).sum();
    assert_eq!(v["actual_total"].as_f64().unwrap(), actual as f64);
    assert_eq!(v["customers"], 2357);
    let table = v["rows"].as_array().unwrap();
    let customers: u64 = table.iter().map(|r| r["customers"].as_u64().unwrap()).sum();
    assert_eq!(customers, 2357);
    assert_eq!(table.last().unwrap()["frequency"], "7+");
    let predicted = v["predicted_total"].as_f64().unwrap();
    let weighted: f64 = table
        .iter()
        .map(|r| r["predicted"].as_f64().unwrap() * r["customers"].as_f64().unwrap())
        .sum();
    assert!(close(weighted, predicted, 1e-9));
    // Holdout of 39 weeks (273 days).
    assert!(close(v["holdout_length"].as_f64().unwrap(), 39.0, 1e-12));
    assert!(v["mae"].as_f64().unwrap() > 0.0);
}

#[test]
fn predictions_are_written_per_customer() {
    let dir = tempfile::tempdir().unwrap();
    cdnow_orders(dir.path());
    let out = run_ok(
        dir.path(),
        &[
            "clv",
            "--orders",
            "orders.csv",
            "--calibration-end",
            "1997-09-30",
            "--out",
            "clv",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BG/NBD: 2357 customers"), "{text}");
    assert!(text.contains("holdout 1997-10-01 .. 1998-06-30"), "{text}");
    let b = read_parquet(&dir.path().join("clv/clv.parquet"));
    assert_eq!(b.num_rows(), 2357);
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    {
        let col = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone()
        };
        let (p, clv, lo, hi) = (
            col("p_alive"),
            col("clv"),
            col("clv_lower"),
            col("clv_upper"),
        );
        for i in 0..b.num_rows() {
            assert!((0.0..=1.0).contains(&p.value(i)));
            assert!(lo.value(i) <= clv.value(i) && clv.value(i) <= hi.value(i));
        }
    }
}

#[test]
fn bad_orders_are_named_by_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "customer_id,ordered_at,amount\nc1,2024-01-03,10.00\nc1,03/02/2024,12.00\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "clv",
            "--orders",
            "orders.csv",
            "--calibration-end",
            "2024-06-30",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("orders.csv: line 3, column 2 (ordered_at): `03/02/2024` is not a date"),
        "{err}"
    );
    std::fs::write(dir.path().join("s.csv"), "customer_id,x,t_x,T\nc1,2,5,4\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["clv", "--summary", "s.csv"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t_x > T"), "{err}");
}

#[test]
fn a_run_scores_every_customer_and_the_segment_language_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let shop = common::demo(dir.path(), 2000, 5);
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(shop.join("out/run.json")).unwrap()).unwrap();
    let c = &run["clv"];
    assert_eq!(c["count"]["model"], "BG/NBD");
    assert_eq!(c["count"]["diagnostics"]["converged"], true);
    assert!(c["spend"]["params"]["p"].as_f64().unwrap() > 0.0);
    let bands: u64 = ["high", "medium", "low"]
        .iter()
        .map(|b| c["churn_risk"][b].as_u64().unwrap())
        .sum();
    assert_eq!(bands, c["customers_scored"].as_u64().unwrap());
    // The demo validates on its last 90 days.
    let v = &c["validation"];
    assert_eq!(v["holdout_days"], 90);
    let rows: u64 = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, v["customers"].as_u64().unwrap());
    assert!(run["stages"]["clv"]["seconds"].as_f64().is_some());

    // The features carry the predictions; recount the demo's `valuable_slipping` segment
    // (clv >= 100.00 and churn risk high or medium) from them. Money is in cents.
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    let (mut members, mut scored, mut high) = (0u64, 0u64, 0u64);
    {
        let b = read_parquet(&shop.join("out/features.parquet"));
        let clv = b
            .column_by_name("clv")
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone();
        let p = b
            .column_by_name("p_alive")
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone();
        let risk = b
            .column_by_name("churn_risk")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let (lo, hi) = (
            b.column_by_name("clv_lower")
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone(),
            b.column_by_name("clv_upper")
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone(),
        );
        for i in 0..b.num_rows() {
            if p.is_null(i) {
                continue;
            }
            scored += 1;
            let band = risk.value(i);
            assert_eq!(band == "high", p.value(i) < 0.3);
            high += u64::from(band == "high");
            assert!(lo.value(i) <= clv.value(i) && clv.value(i) <= hi.value(i));
            if clv.value(i) >= 10_000.0 && (band == "high" || band == "medium") {
                members += 1;
            }
        }
    }
    assert_eq!(scored, c["customers_scored"].as_u64().unwrap());
    assert_eq!(high, c["churn_risk"]["high"].as_u64().unwrap());
    assert_eq!(
        run["segments"]["valuable_slipping"]["members"]
            .as_u64()
            .unwrap(),
        members
    );
    assert!(members > 0);
}

#[test]
fn clv_mistakes_in_the_config_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        dir.path(),
        &["--quiet", "demo", "--out", "shop", "--customers", "200"],
    );
    let toml = dir.path().join("shop/tessera.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    for (from, to, message) in [
        (
            "model = \"bgnbd\"",
            "model = \"bgnb\"",
            "tessera.toml:104:9: clv.model: unknown model `bgnb`, expected one of bgnbd, pareto, mbgnbd; did you mean `bgnbd`?",
        ),
        (
            "churn_thresholds = [0.3, 0.7]",
            "churn_thresholds = [0.8, 0.7]",
            "clv.churn_thresholds must be [HIGH, MEDIUM]",
        ),
        (
            "period = \"month\"",
            "period = \"fortnight\"",
            "clv.period: unknown period `fortnight`",
        ),
    ] {
        std::fs::write(&toml, text.replace(from, to)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["check", "--config", "tessera.toml"])
            .current_dir(dir.path().join("shop"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("tessera.toml:") && err.contains(message),
            "{err}"
        );
    }
}
