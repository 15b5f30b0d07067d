//! The CDNOW sample (Fader, Hardie & Lee 2005): the summary of every one of its 2,357 customers,
//! rebuilt from the raw purchase log, equals the published one.
//! Fixtures copied from the project's shared reference data: `CDNOW_sample.txt` (the log) and
//! `cdnow_customers_summary_with_transactions.csv` (ID, x, t_x, T, zbar; t_x and T in weeks,
//! zbar the mean repeat spend in dollars, all rounded to 2 decimals).

use std::collections::BTreeMap;
use tessera_core::value::{MoneyFormat, days_from_civil, parse_money};
use tessera_features::btyd::{Purchase, TimeUnit, summarize};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cdnow");

fn purchases() -> BTreeMap<u32, Vec<Purchase>> {
    let log = std::fs::read_to_string(format!("{DIR}/CDNOW_sample.txt")).unwrap();
    let mut by_customer: BTreeMap<u32, Vec<Purchase>> = BTreeMap::new();
    for line in log.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let date = f[2];
        let day = days_from_civil(
            date[..4].parse().unwrap(),
            date[4..6].parse().unwrap(),
            date[6..].parse().unwrap(),
        )
        .unwrap();
        let amount = parse_money(f[4], MoneyFormat::default()).unwrap();
        by_customer
            .entry(f[1].parse().unwrap())
            .or_default()
            .push(Purchase { day, amount });
    }
    for p in by_customer.values_mut() {
        p.sort_by_key(|p| p.day);
    }
    by_customer
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[test]
fn every_published_summary_is_reproduced() {
    // Calibration ends on 1997-09-30, included (purchases that day count).
    let last_day = days_from_civil(1997, 9, 30).unwrap();
    let all = purchases();
    let mut r = csv::Reader::from_path(format!(
        "{DIR}/cdnow_customers_summary_with_transactions.csv"
    ))
    .unwrap();
    let mut checked = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let id: u32 = rec[0].parse().unwrap();
        let (x, t_x, t, zbar): (u32, f64, f64, f64) = (
            rec[1].parse().unwrap(),
            rec[2].parse().unwrap(),
            rec[3].parse().unwrap(),
            rec[4].parse().unwrap(),
        );
        let calibration: Vec<Purchase> = all[&id]
            .iter()
            .copied()
            .filter(|p| p.day <= last_day)
            .collect();
        let s = summarize(&calibration, last_day, TimeUnit::Weeks)
            .unwrap()
            .unwrap();
        assert_eq!(s.x, x, "customer {id}");
        assert_eq!(round2(s.t_x), t_x, "customer {id} t_x");
        assert_eq!(round2(s.t), t, "customer {id} T");
        // zbar is the mean repeat spend rounded half-up to the cent; computed exactly from the
        // total in cents: round(total / x) = (2 total + x) div 2x.
        let cents = if s.x == 0 {
            0
        } else {
            (2 * s.repeat_total + i64::from(s.x)) / (2 * i64::from(s.x))
        };
        assert_eq!(cents, (zbar * 100.0).round() as i64, "customer {id} zbar");
        checked += 1;
    }
    assert_eq!(checked, 2357);
}
