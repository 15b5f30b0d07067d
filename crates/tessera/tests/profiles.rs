//! `profiles.json` of a demo run against the run's own tables: exclusive families add up, and a
//! segment's numbers recomputed from `features.parquet` and `assignments.parquet` agree.

mod common;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use common::read_parquet;
use std::collections::HashSet;

#[test]
fn profiles_add_up_and_agree_with_the_run_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::demo(dir.path(), 2500, 9).join("out");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("profiles.json")).unwrap()).unwrap();
    let customers = doc["population"]["customers"].as_u64().unwrap();
    let features = read_parquet(&out.join("features.parquet"));
    assert_eq!(customers as usize, features.num_rows());
    let families = doc["families"].as_array().unwrap();
    let kinds: Vec<&str> = families
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["segments", "group", "rfm", "cluster", "churn_risk"]);
    let family = |name: &str| families.iter().find(|f| f["name"] == name).unwrap();

    // RFM names every customer (No Purchase included): sizes and revenue shares add up.
    let rfm = family("rfm")["segments"].as_array().unwrap();
    assert_eq!(
        rfm.iter().map(|s| s["size"].as_u64().unwrap()).sum::<u64>(),
        customers
    );
    let share: f64 = rfm
        .iter()
        .map(|s| s["revenue_share"].as_f64().unwrap())
        .sum();
    assert!((share - 1.0).abs() < 1e-9, "{share}");
    // Tiers are exclusive: their sizes are at most the customers, and equal run.json's.
    let run = common::run_json(&out);
    for s in family("tier")["segments"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        assert_eq!(s["size"], run["groups"]["tier"]["sizes"][name], "{name}");
    }
    // Clusters are named.
    for s in family("cluster")["segments"].as_array().unwrap() {
        assert!(!s["label"].as_str().unwrap().is_empty());
    }

    // The vip segment recomputed: members from assignments, values from the feature table.
    let a = read_parquet(&out.join("assignments.parquet"));
    let ids = a.column_by_name("customer_id").unwrap().as_string::<i32>();
    let lists = a.column_by_name("segments").unwrap().as_list::<i32>();
    let vip: HashSet<String> = (0..a.num_rows())
        .filter(|&r| {
            lists
                .value(r)
                .as_string::<i32>()
                .iter()
                .any(|s| s == Some("vip"))
        })
        .map(|r| ids.value(r).to_string())
        .collect();
    let profile = family("segments")["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "vip")
        .unwrap();
    assert_eq!(profile["size"].as_u64().unwrap() as usize, vip.len());
    assert!(!vip.is_empty());
    let fid = features
        .column_by_name("customer_id")
        .unwrap()
        .as_string::<i32>();
    let spend = arrow_cast::cast(
        features.column_by_name("spend_365d").unwrap(),
        &arrow_schema::DataType::Float64,
    )
    .unwrap();
    let spend = spend.as_primitive::<arrow_array::types::Float64Type>();
    let (mut seg, mut pop, mut seg_n, mut pop_n) = (0.0, 0.0, 0usize, 0usize);
    for r in 0..features.num_rows() {
        if spend.is_null(r) {
            continue;
        }
        let v = spend.value(r) / 100.0; // minor units to major
        pop += v;
        pop_n += 1;
        if vip.contains(fid.value(r)) {
            seg += v;
            seg_n += 1;
        }
    }
    let numeric = profile["numeric"].as_array().unwrap();
    let f = numeric
        .iter()
        .find(|f| f["feature"] == "spend_365d")
        .unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(f["mean"].as_f64().unwrap(), seg / seg_n as f64));
    assert!(close(
        f["population_mean"].as_f64().unwrap(),
        pop / pop_n as f64
    ));
    assert!(close(
        f["lift"].as_f64().unwrap(),
        (seg / seg_n as f64) / (pop / pop_n as f64)
    ));
    assert!(close(profile["revenue_365d"].as_f64().unwrap(), seg));
    assert!(close(profile["revenue_share"].as_f64().unwrap(), seg / pop));
    assert!(!profile["actions"].as_array().unwrap().is_empty());
}
