//! RFM scores against DuckDB's `ntile` on a fixture with heavy ties and ids whose byte order
//! differs from their numeric order. Expected files: DuckDB 2.0.0, tests/reference/rfm_duckdb.py.

use std::collections::BTreeMap;
use std::path::Path;

use tessera_models::rfm::{NO_PURCHASE, RfmInput, RfmParams};

struct Fixture {
    ids: Vec<String>,
    recency: Vec<Option<i64>>,
    frequency: Vec<u64>,
    monetary: Vec<i64>,
}

fn rows(name: &str) -> Vec<csv::StringRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut reader = csv::Reader::from_path(&path).unwrap();
    reader.records().map(Result::unwrap).collect()
}

fn input() -> Fixture {
    let mut fixture = Fixture {
        ids: vec![],
        recency: vec![],
        frequency: vec![],
        monetary: vec![],
    };
    for row in rows("rfm_input.csv") {
        fixture.ids.push(row[0].to_owned());
        fixture
            .recency
            .push((!row[1].is_empty()).then(|| row[1].parse().unwrap()));
        fixture.frequency.push(row[2].parse().unwrap());
        fixture.monetary.push(row[3].parse().unwrap());
    }
    fixture
}

/// customer_id -> (r, f, m) from DuckDB.
// DuckDB 2.0.0, tests/reference/rfm_duckdb.py
fn expected(bins: u8) -> BTreeMap<String, (u8, u8, u8)> {
    let rows = rows(&format!("rfm_expected_{bins}.csv"));
    let score = |s: &str| s.parse::<u8>().unwrap();
    rows.iter()
        .map(|r| (r[0].to_owned(), (score(&r[1]), score(&r[2]), score(&r[3]))))
        .collect()
}

fn check(bins: u8) {
    let fixture = input();
    let ids: Vec<&str> = fixture.ids.iter().map(String::as_str).collect();
    let input = RfmInput {
        customer_id: &ids,
        recency_days: &fixture.recency,
        frequency: &fixture.frequency,
        monetary_minor: &fixture.monetary,
    };
    let scores = RfmParams::new()
        .bins(bins)
        .check()
        .unwrap()
        .score(&input)
        .unwrap();
    let expected = expected(bins);
    assert_eq!(ids.len(), 300);
    assert_eq!(expected.len(), 258);
    let mut compared = 0;
    for (row, score) in scores.iter().enumerate() {
        match expected.get(ids[row]) {
            Some(&(r, f, m)) => {
                let got = (score.r, score.f, score.m);
                assert_eq!(
                    got,
                    (Some(r), Some(f), Some(m)),
                    "customer {} with {bins} bins",
                    ids[row]
                );
                assert_eq!(score.code.as_deref(), Some(format!("{r}{f}{m}").as_str()));
                compared += 1;
            }
            None => {
                assert_eq!(
                    fixture.recency[row], None,
                    "customer {} missing from DuckDB",
                    ids[row]
                );
                assert_eq!((score.r, score.code.as_deref()), (None, None));
                assert_eq!(score.segment, NO_PURCHASE);
            }
        }
    }
    assert_eq!(compared, expected.len());
}

#[test]
fn quintiles_match_duckdb() {
    check(5);
}

#[test]
fn quartiles_match_duckdb() {
    check(4);
}

#[test]
fn the_fixture_has_the_cases_it_is_for() {
    let fixture = input();
    let numbered: Vec<u32> = fixture
        .ids
        .iter()
        .filter_map(|i| i.strip_prefix('C')?.parse().ok())
        .collect();
    let byte_order_differs = numbered.iter().any(|&a| {
        numbered
            .iter()
            .any(|&b| a > b && format!("C{a}") < format!("C{b}"))
    });
    assert!(
        byte_order_differs,
        "ids like C10 and C9, whose byte order is not numeric order"
    );
    assert!(
        fixture.ids.iter().any(|i| i.starts_with('c')) && fixture.ids.iter().any(|i| !i.is_ascii())
    );
    let distinct = |v: Vec<String>| v.iter().collect::<std::collections::BTreeSet<_>>().len();
    assert!(distinct(fixture.recency.iter().map(|r| format!("{r:?}")).collect()) < 20);
    assert!(distinct(fixture.monetary.iter().map(|m| m.to_string()).collect()) < 30);
    assert!(fixture.recency.iter().filter(|r| r.is_none()).count() == 42);
}
