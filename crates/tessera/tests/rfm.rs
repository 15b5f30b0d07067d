//! RFM through the whole pipeline: orders built so that each customer's recency, frequency and
//! monetary total are those of the RFM reference fixture give the scores DuckDB gave for it
//! (DuckDB 2.0.0, crates/tessera-models/tests/reference/rfm_duckdb.py).

mod common;

use std::collections::HashMap;

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

fn run(bins: u8) -> HashMap<String, (String, String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
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
    std::fs::write(dir.path().join("customers.csv"), customers).unwrap();
    std::fs::write(dir.path().join("orders.csv"), orders).unwrap();
    let toml = format!(
        "[sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n[rfm]\nbins = {bins}\n"
    );
    std::fs::write(dir.path().join("tessera.toml"), toml).unwrap();
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
        let got = run(bins);
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
