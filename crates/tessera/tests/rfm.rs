//! RFM through the whole pipeline: orders built so that each customer's recency, frequency and
//! monetary total are those of the RFM reference fixture give the scores DuckDB gave for it
//! (DuckDB 2.0.0, crates/tessera-models/tests/reference/rfm_duckdb.py).

mod common;

use std::collections::HashMap;
use std::path::Path;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tessera-models/tests/fixtures"
);

fn read(path: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Writes the fixture's customers and orders into `dir` with a config of `bins` bins followed by
/// `more` (TOML).
fn write_project(dir: &Path, bins: u8, more: &str) {
    let (mut customers, mut orders) = (
        String::from("customer_id\n"),
        String::from("order_id,customer_id,ordered_at,amount\n"),
    );
    // as_of 2025-01-01 is day 20089. The fixture's recency 0 means "today"; Tessera counts only days
    // before as_of, so every last purchase is one day earlier: the same order, the same ranks.
    for r in read(&format!("{FIXTURES}/rfm_input.csv")) {
        let (id, recency, frequency, monetary) = (
            &r[0],
            &r[1],
            r[2].parse::<i64>().unwrap(),
            r[3].parse::<i64>().unwrap(),
        );
        customers.push_str(&format!("\"{id}\"\n"));
        let Ok(recency) = recency.parse::<i64>() else {
            continue;
        };
        let last = 20_089 - recency - 1;
        for k in 0..frequency {
            let day = tessera_core::value::days_to_date((last - (frequency - 1 - k)) as i32);
            let cents = if k == frequency - 1 {
                monetary - (frequency - 1)
            } else {
                1
            };
            orders.push_str(&format!(
                "\"{id}-{k}\",\"{id}\",{day},{}.{:02}\n",
                cents / 100,
                cents % 100
            ));
        }
    }
    std::fs::write(dir.join("customers.csv"), customers).unwrap();
    std::fs::write(dir.join("orders.csv"), orders).unwrap();
    let toml = format!(
        "[sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n[rfm]\nbins = {bins}\n{more}"
    );
    std::fs::write(dir.join("tessera.toml"), toml).unwrap();
}

/// Each customer's r, f and m scores and segment with `bins` bins and the config's tail `more`.
fn run(bins: u8, more: &str) -> HashMap<String, (String, String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), bins, more);
    common::features_csv(dir.path(), "2025-01-01")
        .into_iter()
        .map(|row| {
            (
                row["customer_id"].clone(),
                (
                    row["r_score"].clone(),
                    row["f_score"].clone(),
                    row["m_score"].clone(),
                    row["rfm_segment"].clone(),
                ),
            )
        })
        .collect()
}

#[test]
fn scores_equal_duckdb_for_every_customer() {
    for bins in [5u8, 4] {
        let got = run(bins, "");
        let expected = read(&format!("{FIXTURES}/rfm_expected_{bins}.csv"));
        for e in &expected {
            let (r, f, m, _) = &got[&e[0]];
            assert_eq!(
                (r.as_str(), f.as_str(), m.as_str()),
                (&e[1], &e[2], &e[3]),
                "customer {} with {bins} bins",
                &e[0]
            );
        }
        let no_purchase = got.values().filter(|v| v.3 == "No Purchase").count();
        assert_eq!(no_purchase + expected.len(), got.len());
        assert!(no_purchase > 0);
    }
}

/// The segment map of `docs/rfm.md`'s configuration example: optional ranges, a range over the
/// average of F and M, and a catch-all.
const DOC_MAP: &str = r#"
[[rfm.segments]]
name = "Champions"
r = [4, 5]
f = [4, 5]
m = [4, 5]

[[rfm.segments]]
name = "Big spenders"
m = [5, 5]

[[rfm.segments]]
name = "Slipping"
r = [1, 2]
fm = [3, 5]

[[rfm.segments]]
name = "Others"
"#;

#[test]
fn a_segment_map_of_the_users_own_names_each_customer_by_the_first_rule_that_matches() {
    let got = run(5, DOC_MAP);
    let expected = read(&format!("{FIXTURES}/rfm_expected_5.csv"));
    let mut seen = std::collections::BTreeSet::new();
    for e in &expected {
        // The scores are DuckDB's (the fixture); the rules are applied here, one by one.
        let [r, f, m]: [u8; 3] = [1, 2, 3].map(|k| e[k].parse().unwrap());
        let name = if r >= 4 && f >= 4 && m >= 4 {
            "Champions"
        } else if m == 5 {
            "Big spenders"
        } else if r <= 2 && (6..=10).contains(&(f + m)) {
            "Slipping"
        } else {
            "Others"
        };
        assert_eq!(got[&e[0]].3, name, "customer {} ({r}{f}{m})", &e[0]);
        seen.insert(name);
    }
    assert_eq!(seen.len(), 4, "every rule names someone: {seen:?}");
    assert!(got.values().any(|v| v.3 == "No Purchase"));
}

#[test]
fn a_segment_map_that_leaves_scores_without_a_segment_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write_project(
        dir.path(),
        5,
        "[[rfm.segments]]\nname = \"Champions\"\nr = [4, 5]\nfm = [4, 5]\n",
    );
    for command in [&["check"][..], &["features", "--out", "out"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(command)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "tessera.toml:7:1: rfm segments: no segment rule matches r = 1, f = 1, m = 1"
            ),
            "{command:?}: {stderr}"
        );
    }
    assert!(!dir.path().join("out").exists(), "nothing was written");
}

#[test]
fn the_config_refuses_the_name_the_model_gives_customers_without_purchases() {
    assert_eq!(
        tessera_core::config::NO_PURCHASE,
        tessera_models::rfm::NO_PURCHASE
    );
}
