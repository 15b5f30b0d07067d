//! Clustering end to end: `tessera cluster` on a table with planted groups, and a run's
//! `[clustering]` on the demo shop (k chosen by evidence, clusters in `assignments.parquet`,
//! `run.json` and the segment language).

mod common;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use common::{read_parquet, run_ok};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command;

/// Three groups of 60 points around (0, 0), (10, 0) and (0, 10), each point at most 1 from its
/// centre (a deterministic spiral), so any sensible clustering finds exactly these groups.
fn planted_csv() -> String {
    let mut s = String::from("id,x,y,note\n");
    let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
    for (g, (cx, cy)) in centres.iter().enumerate() {
        for i in 0..60 {
            let a = i as f64 * 2.399_963; // the golden angle, in radians
            let r = (i as f64 / 60.0).sqrt();
            let _ = writeln!(
                s,
                "p{g}_{i},{},{},\"group {g}, point {i}\"",
                cx + r * a.cos(),
                cy + r * a.sin()
            );
        }
    }
    s
}

#[test]
fn cluster_finds_planted_groups_and_reports_its_choice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("points.csv"), planted_csv()).unwrap();
    let out = run_ok(
        dir.path(),
        &[
            "cluster",
            "--input",
            "points.csv",
            "--features",
            "x,y",
            "--k",
            "auto",
            "--transform",
            "none",
            "--seed",
            "3",
            "--out",
            "out",
            "--json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["k"], 3, "{doc}");
    assert!(doc["reason"].as_str().unwrap().starts_with("k = 3: "));
    assert!(doc["inertia"].as_f64().unwrap() > 0.0);
    assert!(doc["iterations"].as_u64().unwrap() >= 1);
    let rows = doc["selection"]["rows"].as_array().unwrap();
    assert_eq!(rows.first().unwrap()["k"], 2);
    assert_eq!(rows.last().unwrap()["k"], 8);
    // Centres in original units; clusters numbered by the mean of x, highest first.
    let centers = doc["centers"].as_array().unwrap();
    assert_eq!(centers.len(), 3);
    let x0 = centers[0][0].as_f64().unwrap();
    assert!((x0 - 10.0).abs() < 0.5, "{centers:?}");

    // clusters.parquet: the id column and each point's cluster; each planted group is one cluster.
    let batch = read_parquet(&dir.path().join("out/clusters.parquet"));
    let ids = batch.column_by_name("id").unwrap().as_string::<i32>();
    let clusters = batch
        .column_by_name("cluster")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(batch.num_rows(), 180);
    let mut of_group: HashMap<&str, i32> = HashMap::new();
    for r in 0..batch.num_rows() {
        let group = ids.value(r).split('_').next().unwrap();
        let c = clusters.value(r);
        assert_eq!(*of_group.entry(group).or_insert(c), c, "{group}");
    }
    assert_eq!(
        of_group["p1"], 1,
        "the group at x = 10 has the highest mean x"
    );
    let mut distinct: Vec<i32> = of_group.values().copied().collect();
    distinct.sort();
    assert_eq!(distinct, [1, 2, 3]);
}

#[test]
fn cluster_input_mistakes_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = planted_csv();
    text.push_str("bad,1.5,twelve,\"x\"\n");
    std::fs::write(dir.path().join("points.csv"), text).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    let err = run(&[
        "cluster",
        "--input",
        "points.csv",
        "--features",
        "x,y",
        "--out",
        "out",
    ]);
    assert!(err.contains("points.csv"), "{err}");
    assert!(err.contains("twelve"), "{err}");
    assert!(
        err.contains("line 182, column 3 (y): `twelve` is not a number"),
        "{err}"
    );
    let err = run(&[
        "cluster",
        "--input",
        "points.csv",
        "--features",
        "x,z",
        "--out",
        "out",
    ]);
    assert!(err.contains("points.csv: no column `z`"), "{err}");
    let err = run(&[
        "cluster",
        "--input",
        "points.csv",
        "--features",
        "x",
        "--transform",
        "log2",
        "--out",
        "out",
    ]);
    assert!(
        err.contains("--transform: unknown transform `log2`"),
        "{err}"
    );
}

#[test]
fn a_run_clusters_the_demo_shop_with_k_chosen_by_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let shop = common::demo(dir.path(), 2000, 5);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shop.join("out/run.json")).unwrap()).unwrap();
    let c = &run["clustering"];
    let k = c["k"].as_u64().unwrap() as usize;
    let min_share = 0.02;
    // Every cluster exceeds the minimum share, and the reason says why this k.
    let clusters = c["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), k);
    for cl in clusters {
        assert!(cl["share"].as_f64().unwrap() > min_share, "{cl}");
    }
    let reason = c["reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("k = {k}: ")), "{reason}");
    let chosen = c["selection"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["k"] == k as u64)
        .unwrap();
    assert_eq!(chosen["meets_min_share"], true);
    assert!(run["stages"]["clustering"]["seconds"].as_f64().is_some());

    // assignments.parquet holds each customer's cluster; the sizes are run.json's.
    let batch = read_parquet(&shop.join("out/assignments.parquet"));
    let cluster = batch
        .column_by_name("cluster")
        .unwrap()
        .as_primitive::<Int32Type>();
    for cl in clusters {
        let n = cluster
            .iter()
            .filter(|v| *v == Some(cl["cluster"].as_i64().unwrap() as i32))
            .count();
        assert_eq!(n as u64, cl["size"].as_u64().unwrap());
    }
    assert_eq!(
        (cluster.len() - cluster.null_count()) as u64,
        c["clustered"].as_u64().unwrap()
    );
    // Cluster 1 has the highest mean total spend.
    let spend: Vec<f64> = clusters
        .iter()
        .map(|cl| cl["mean"]["monetary_total"].as_f64().unwrap())
        .collect();
    assert!(spend.windows(2).all(|w| w[0] >= w[1]), "{spend:?}");
    // The segment language sees the cluster: the demo's `top_cluster` is `cluster = 1`.
    assert_eq!(
        run["segments"]["top_cluster"]["members"],
        clusters[0]["size"]
    );
    // The feature table carries it too, so later commands can read it.
    let features = read_parquet(&shop.join("out/features.parquet"));
    assert!(features.column_by_name("cluster").is_some());
}
