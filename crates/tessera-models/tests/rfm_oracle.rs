//! `score` against a naive oracle on random inputs with many ties: a full comparator over owned
//! rows, and NTILE assigned by walking bucket sizes.

use std::cmp::Ordering;

use proptest::prelude::*;
use tessera_models::rfm::{RfmInput, RfmParams};

#[derive(Debug, Clone)]
struct Row {
    id: String,
    recency: Option<i64>,
    frequency: u64,
    monetary: i64,
}

/// `NTILE(bins)` over `rows` sorted by `cmp`: bucket `b` takes the next `rows / bins` rows, plus
/// one while `b <= rows % bins`.
fn oracle_ntile(rows: &[Row], bins: u8, cmp: impl Fn(&Row, &Row) -> Ordering) -> Vec<(String, u8)> {
    let mut sorted: Vec<&Row> = rows.iter().filter(|r| r.recency.is_some()).collect();
    sorted.sort_by(|a, b| cmp(a, b).then_with(|| a.id.as_bytes().cmp(b.id.as_bytes())));
    let (n, bins_us) = (sorted.len(), usize::from(bins));
    let mut out = Vec::new();
    let mut next = sorted.into_iter();
    for bucket in 1..=bins_us {
        let size = n / bins_us + usize::from(bucket <= n % bins_us);
        out.extend(
            next.by_ref()
                .take(size)
                .map(|r| (r.id.clone(), bucket as u8)),
        );
    }
    out
}

fn oracle(rows: &[Row], bins: u8) -> Vec<Option<(u8, u8, u8)>> {
    let r = oracle_ntile(rows, bins, |a, b| b.recency.cmp(&a.recency));
    let f = oracle_ntile(rows, bins, |a, b| a.frequency.cmp(&b.frequency));
    let m = oracle_ntile(rows, bins, |a, b| a.monetary.cmp(&b.monetary));
    let find = |v: &[(String, u8)], id: &str| v.iter().find(|(i, _)| i == id).map(|(_, s)| *s);
    rows.iter()
        .map(|row| Some((find(&r, &row.id)?, find(&f, &row.id)?, find(&m, &row.id)?)))
        .collect()
}

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    // Ids longer than 8 bytes that share their first 8 bytes, so the sort compares whole ids.
    let id = prop_oneof![
        "[A-C][0-9]{0,3}",
        "[a-c]{1,2}",
        "é[0-9]?",
        "Z[0-9]{0,2}",
        "Lcustomer[0-9]{0,2}"
    ];
    let row = (
        id,
        prop_oneof![1 => Just(None), 6 => (-2i64..6).prop_map(Some), 1 => any::<i64>().prop_map(Some)],
        prop_oneof![4 => 0u64..5, 1 => any::<u64>()],
        prop_oneof![4 => (-1i64..4).prop_map(|x| x * 1000), 1 => any::<i64>()],
    );
    // Sometimes every id shares a prefix, which the sort skips.
    let shared = prop_oneof![Just(""), Just("shop-eu-")];
    (proptest::collection::vec(row, 0..80), shared).prop_map(|(rows, shared)| {
        let mut seen = std::collections::HashSet::new();
        rows.into_iter()
            .map(|(id, recency, frequency, monetary)| {
                (format!("{shared}{id}"), recency, frequency, monetary)
            })
            .filter(|(id, ..)| seen.insert(id.clone()))
            .map(|(id, recency, frequency, monetary)| Row {
                id,
                recency,
                frequency,
                monetary,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn score_matches_the_oracle(rows in rows_strategy(), bins in 2u8..=10) {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let recency: Vec<_> = rows.iter().map(|r| r.recency).collect();
        let frequency: Vec<_> = rows.iter().map(|r| r.frequency).collect();
        let monetary: Vec<_> = rows.iter().map(|r| r.monetary).collect();
        let input = RfmInput {
            customer_id: &ids,
            recency_days: &recency,
            frequency: &frequency,
            monetary_minor: &monetary,
        };
        let model = RfmParams::new().bins(bins).check().unwrap();
        let got: Vec<_> = model
            .score(&input)
            .unwrap()
            .iter()
            .map(|s| Some((s.r?, s.f?, s.m?)))
            .collect();
        prop_assert_eq!(got, oracle(&rows, bins));
    }
}
