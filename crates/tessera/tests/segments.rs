//! Segments end to end on the demo shop: `assignments.parquet` agrees with `run.json`, groups give
//! each customer the first segment that holds, `tessera explain` (the row path, one customer at a
//! time) agrees with the batch evaluation of the run, and rule mistakes stop the run with their
//! position.

mod common;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use common::run_ok;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::process::Command;

fn assignments(path: &std::path::Path) -> Vec<(String, Vec<String>, Option<String>)> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch
            .column_by_name("customer_id")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let segs = batch
            .column_by_name("segments")
            .unwrap()
            .as_list::<i32>()
            .clone();
        let tier = batch
            .column_by_name("tier")
            .unwrap()
            .as_string::<i32>()
            .clone();
        for r in 0..batch.num_rows() {
            let list = segs.value(r);
            let names = list
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect();
            out.push((
                ids.value(r).to_string(),
                names,
                tier.is_valid(r).then(|| tier.value(r).to_string()),
            ));
        }
    }
    out
}

/// Asserts that `tessera explain` (the row path) finds customer `id` a member of exactly the
/// segments `segments` of the run in `dir/out`.
fn assert_explain_agrees(dir: &std::path::Path, id: &str, segments: &[impl AsRef<str>]) {
    let out = run_ok(
        dir,
        &["explain", "--run", "out", "--customer", id, "--json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for e in doc["segments"].as_array().unwrap() {
        let name = e["segment"].as_str().unwrap();
        assert_eq!(
            e["member"].as_bool().unwrap(),
            segments.iter().any(|s| s.as_ref() == name),
            "{id} {name}"
        );
    }
}

#[test]
fn run_writes_assignments_that_explain_and_run_json_agree_with() {
    let dir = tempfile::tempdir().unwrap();
    let shop = common::demo(dir.path(), 1500, 11);
    let rows = assignments(&shop.join("out/assignments.parquet"));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shop.join("out/run.json")).unwrap()).unwrap();
    let customers = run["sources"]["customers"]["rows_written"]
        .as_u64()
        .unwrap();
    assert_eq!(rows.len() as u64, customers);

    // run.json's member counts are the assignments' counts.
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for (_, segs, _) in &rows {
        for s in segs {
            *counts.entry(s.as_str()).or_default() += 1;
        }
    }
    let segments = run["segments"].as_object().unwrap();
    assert_eq!(segments.len(), 12);
    for (name, s) in segments {
        assert_eq!(
            s["members"].as_u64().unwrap(),
            counts.get(name.as_str()).copied().unwrap_or(0),
            "{name}"
        );
        assert_eq!(s["version"].as_str().unwrap().len(), 12);
    }
    assert!(
        counts.len() >= 8,
        "most demo segments have members: {counts:?}"
    );

    // The tier is the first of platinum, gold, silver the customer is in.
    for (id, segs, tier) in &rows {
        let first = ["platinum", "gold", "silver"]
            .into_iter()
            .find(|t| segs.iter().any(|s| s == t));
        assert_eq!(tier.as_deref(), first, "{id}");
    }
    let sizes = &run["groups"]["tier"]["sizes"];
    let n = |t: &str| rows.iter().filter(|r| r.2.as_deref() == Some(t)).count() as u64;
    assert_eq!(sizes["gold"].as_u64().unwrap(), n("gold"));

    // The row path agrees with the batch path, customer by customer.
    for (id, segs, _) in rows.iter().step_by(97) {
        assert_explain_agrees(&shop, id, segs);
    }

    // Text explanations show the values behind each test.
    let (id, _, _) = rows
        .iter()
        .find(|r| r.1.iter().any(|s| s == "platinum"))
        .unwrap();
    let out = run_ok(
        &shop,
        &[
            "explain",
            "--run",
            "out",
            "--customer",
            id,
            "--segment",
            "platinum",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("platinum (version "), "{text}");
    assert!(text.contains("): IN"), "{text}");
    assert!(
        text.contains("sum(orders.amount last 365 days) = "),
        "{text}"
    );

    // The SQL of a segment names its tables and its window.
    let out = run_ok(
        &shop,
        &[
            "sql",
            "--run",
            "out",
            "--segment",
            "shoe_lovers",
            "--dialect",
            "postgres",
        ],
    );
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(sql.contains("FROM customers AS c"), "{sql}");
    assert!(sql.contains("AT TIME ZONE 'Europe/Berlin'"), "{sql}");
    assert!(sql.contains(">= DATE '2025-10-03'"), "{sql}");

    // The preview (which looks every order's customer up again) counts the customers of each
    // pair of segments as the run's assignments (made from the feature table's order rows) do.
    let out = run_ok(&shop, &["segments", "--run", "out", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["overlap"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for (i, a) in names.iter().enumerate() {
        for (j, b) in names.iter().enumerate() {
            let both = rows
                .iter()
                .filter(|r| r.1.iter().any(|s| s == a) && r.1.iter().any(|s| s == b))
                .count() as u64;
            assert_eq!(
                doc["overlap"]["counts"][i][j].as_u64().unwrap(),
                both,
                "{a} {b}"
            );
        }
    }
}

#[test]
fn rule_mistakes_stop_the_run_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        dir.path(),
        &[
            "--quiet",
            "demo",
            "--out",
            "shop",
            "--customers",
            "200",
            "--no-run",
        ],
    );
    let shop = dir.path().join("shop");
    let config = std::fs::read_to_string(shop.join("tessera.toml")).unwrap();
    let run = |text: &str| {
        std::fs::write(shop.join("tessera.toml"), text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["--quiet", "run", "--out", "bad"])
            .current_dir(&shop)
            .output()
            .unwrap()
    };
    // A syntax error is found before any data is read.
    let out = run(&config.replace("rule = 'loyalty_member'", "rule = 'loyalty_member and'"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = config
        .lines()
        .position(|l| l == "rule = 'loyalty_member'")
        .unwrap()
        + 1;
    assert!(err.contains(&format!("tessera.toml:{line}:8: segments.loyalty.rule: 1:19: expected a condition after `and`, found end of input")), "{err}");
    assert!(!shop.join("bad/clean").exists(), "nothing was ingested");
    // A misspelt field is found against the feature table.
    let out = run(&config.replace("rule = 'loyalty_member'", "rule = 'loyalty_membr'"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"unknown field "loyalty_membr", did you mean "loyalty_member"?"#),
        "{err}"
    );
}

#[test]
fn rules_name_feature_columns_made_from_names_in_any_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "customer_id\ncafe_fan\njapan_fan\nshoes_only\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount,category\n\
         1,cafe_fan,2025-12-01,30.00,Café\n\
         2,cafe_fan,2025-12-02,10.00,Shoes\n\
         3,japan_fan,2025-12-03,20.00,日本\n\
         4,shoes_only,2025-12-04,5.00,Shoes\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[sources.customers]\npath = \"customers.csv\"\n\
         [sources.orders]\npath = \"orders.csv\"\n\
         [segments.cafe]\nrule = 'category_share_café >= 0.5'\n\
         [segments.japan]\nrule = 'category_share_日本 > 0 and not category_share_café > 0'\n",
    )
    .unwrap();
    run_ok(
        dir.path(),
        &["--quiet", "run", "--out", "out", "--as-of", "2026-01-01"],
    );
    let batch = common::read_parquet(&dir.path().join("out/assignments.parquet"));
    let ids = batch
        .column_by_name("customer_id")
        .unwrap()
        .as_string::<i32>();
    let segs = batch.column_by_name("segments").unwrap().as_list::<i32>();
    let got: HashMap<String, Vec<String>> = (0..batch.num_rows())
        .map(|r| {
            let list = segs.value(r);
            let names = list.as_string::<i32>().iter().flatten().map(str::to_string);
            (ids.value(r).to_string(), names.collect())
        })
        .collect();
    // Shares of spend by hand: cafe_fan 30 of 40 in Café, japan_fan all of 20 in 日本.
    let expected = [
        ("cafe_fan", vec!["cafe"]),
        ("japan_fan", vec!["japan"]),
        ("shoes_only", vec![]),
    ];
    for (id, segments) in expected {
        assert_eq!(got[id], segments, "{id}");
        // The row path reads the same columns.
        assert_explain_agrees(dir.path(), id, &segments);
    }
}
