//! Clean (dirty = 0) output: determinism, formats, volumes and model signals.

mod common;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use common::{FILES, read, records, run, string_rows};
use tessera_demo::{DemoError, DemoOptions, generate};

const N: usize = 2000;

#[test]
fn same_options_give_identical_bytes() {
    // Expectation from the spec: output depends only on (customers, seed, dirty),
    // not on thread scheduling.
    let (a, sa) = run(1500, 11, 0.05);
    let (b, sb) = run(1500, 11, 0.05);
    for name in FILES {
        assert!(
            read(a.path(), name) == read(b.path(), name),
            "{name} differs between runs"
        );
    }
    assert_eq!(format!("{sa:?}"), format!("{sb:?}"));
}

#[test]
fn different_seeds_differ() {
    // By construction every random stream is derived from the seed.
    let (a, _) = run(500, 1, 0.0);
    let (b, _) = run(500, 2, 0.0);
    for name in ["customers.csv", "orders.csv", "events.ndjson", "truth.csv"] {
        assert!(
            read(a.path(), name) != read(b.path(), name),
            "{name} ignores the seed"
        );
    }
    assert!(
        !b.path().join("defects.csv").exists(),
        "defects.csv only when dirty > 0"
    );
}

#[test]
fn dirty_rows_are_clean_rows_plus_damage() {
    // By construction defects use their own random stream, so the underlying
    // data (and thus the logical row counts) do not change with `dirty`.
    let (_, clean) = run(800, 5, 0.0);
    let (_, dirty) = run(800, 5, 0.3);
    let key = |s: &tessera_demo::DemoSummary| (s.customers, s.orders, s.events, s.feedback);
    assert_eq!(key(&clean), key(&dirty));
    assert_eq!(clean.defects, 0);
    assert!(dirty.defects > 0);
}

#[test]
fn every_csv_row_has_the_header_width() {
    // Spec: clean files are well-formed; csv's strict (non-flexible) reader
    // rejects rows of a different width and invalid UTF-8.
    let (dir, s) = run(N, 3, 0.0);
    let expect = [
        ("customers.csv", 14, s.customers),
        ("orders.csv", 7, s.orders),
        ("feedback.csv", 6, s.feedback),
    ];
    for (name, width, count) in expect {
        let (header, rows) = string_rows(&read(dir.path(), name));
        assert_eq!(header.len(), width, "{name} header");
        assert_eq!(rows.len(), count, "{name} row count");
        assert!(
            rows.iter().all(|r| r.len() == width),
            "{name} has ragged rows"
        );
    }
    assert_eq!(string_rows(&read(dir.path(), "truth.csv")).1.len(), N);
    // Spec: ~2% of comments span two physical lines.
    let feedback = read(dir.path(), "feedback.csv");
    let lines = feedback.iter().filter(|&&c| c == b'\n').count();
    assert!(lines > s.feedback + 1, "expected some multi-line comments");
    assert_eq!(records(&feedback).len(), s.feedback + 1);
}

#[test]
fn every_ndjson_line_parses() {
    // Spec: one JSON object per line, keys in a fixed order, UTC RFC 3339 times
    // inside the observation window, users that exist.
    let (dir, s) = run(N, 4, 0.0);
    let text = String::from_utf8(read(dir.path(), "events.ndjson")).expect("UTF-8");
    let end = DateTime::parse_from_rfc3339("2025-12-31T23:00:00Z").unwrap();
    let mut n = 0;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys = [
            "\"event_id\":",
            "\"user\":",
            "\"ts\":",
            "\"event\":",
            "\"props\":{",
        ];
        let pos: Vec<usize> = keys
            .iter()
            .map(|k| line.find(k).expect("key present"))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "key order: {line}");
        let ts = v["ts"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
        assert!(
            DateTime::parse_from_rfc3339(ts).unwrap() < end,
            "{ts} after observation end"
        );
        assert!(common::is_known_customer(
            v["user"].as_str().unwrap().as_bytes(),
            N
        ));
        assert!(v["props"].is_object());
        n += 1;
    }
    assert_eq!(n, s.events);
}

#[test]
fn values_follow_the_documented_formats() {
    // Expectations from the spec's column formats and fixed time window.
    let (dir, _) = run(N, 5, 0.0);
    let (_, customers) = string_rows(&read(dir.path(), "customers.csv"));
    let first = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    for (k, c) in customers.iter().enumerate() {
        assert_eq!(&c[0], common::customer_id(k + 1));
        let signup = NaiveDate::parse_from_str(&c[1], "%d/%m/%Y").expect("DD/MM/YYYY");
        assert!(signup >= first && signup <= NaiveDate::from_ymd_opt(2025, 9, 30).unwrap());
        assert!((18..=90).contains(&c[2].parse::<u32>().unwrap()));
        assert!(["f", "m", "x"].contains(&&c[3]));
        let business = !c[6].is_empty();
        assert_eq!(
            business,
            !c[7].is_empty(),
            "company size and industry go together"
        );
        assert!(["yes", "no"].contains(&&c[11]) && ["true", "false"].contains(&&c[13]));
    }
    let (_, orders) = string_rows(&read(dir.path(), "orders.csv"));
    for (k, o) in orders.iter().enumerate() {
        assert_eq!(&o[0], format!("O{:08}", k + 1));
        let at = NaiveDateTime::parse_from_str(&o[2], "%Y-%m-%d %H:%M:%S").expect("local time");
        assert!(at.hour() >= 7, "hours 07..23 avoid the DST gap");
        assert!(at.date() >= first && at.date() <= NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
        let total = &o[3];
        assert_eq!(
            total.len() - total.find('.').expect("decimal point"),
            3,
            "two decimals: {total}"
        );
        let amount: f64 = total.parse().unwrap();
        assert!((2.0..=2000.0).contains(&amount.abs()), "{amount}");
        assert!((1..=20).contains(&o[6].parse::<u32>().unwrap()));
    }
    let (_, feedback) = string_rows(&read(dir.path(), "feedback.csv"));
    for f in &feedback {
        NaiveDate::parse_from_str(&f[2], "%Y-%m-%d").expect("feedback date");
        let score: u32 = f[4].parse().unwrap();
        assert!(if &f[3] == "nps" {
            score <= 10
        } else {
            (1..=5).contains(&score)
        });
    }
    let toml = String::from_utf8(read(dir.path(), "tessera.toml")).unwrap();
    assert!(toml.starts_with("# Tessera project config for the demo shop"));
    assert!(
        toml.contains("as_of = \"2026-01-01\"") && toml.contains("time_zone = \"Europe/Berlin\"")
    );
}

#[test]
fn volumes_and_refund_share_are_in_band() {
    // Bands around the spec's targets (4-6 orders, ~8 events, ~0.3 feedback per
    // customer, 2-4% refunds); 100k-customer runs measured 4.5, 8.7, 0.30, 2.9%.
    let (dir, s) = run(N, 6, 0.0);
    let per = |x: usize| x as f64 / N as f64;
    assert!(
        (3.8..=6.0).contains(&per(s.orders)),
        "orders/customer {}",
        per(s.orders)
    );
    assert!(
        (6.0..=11.0).contains(&per(s.events)),
        "events/customer {}",
        per(s.events)
    );
    assert!(
        (0.2..=0.45).contains(&per(s.feedback)),
        "feedback/customer {}",
        per(s.feedback)
    );
    let (_, orders) = string_rows(&read(dir.path(), "orders.csv"));
    let refunds = orders.iter().filter(|o| o[3].starts_with('-')).count();
    let share = refunds as f64 / orders.len() as f64;
    assert!((0.015..=0.05).contains(&share), "refund share {share}");
}

#[test]
fn latent_types_leave_visible_signals() {
    // By construction of the type parameters: champions and business buyers
    // order far more often than one-and-done customers, champions rate higher.
    let (dir, _) = run(N, 8, 0.0);
    let (_, truth) = string_rows(&read(dir.path(), "truth.csv"));
    let types: HashMap<String, String> = truth
        .iter()
        .map(|t| (t[0].to_owned(), t[1].to_owned()))
        .collect();
    assert_eq!(
        types
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        5
    );
    let mut orders: HashMap<&str, f64> = HashMap::new();
    let (_, rows) = string_rows(&read(dir.path(), "orders.csv"));
    for o in &rows {
        *orders.entry(types[&o[1]].as_str()).or_default() += 1.0;
    }
    let per = |t: &str| orders[t] / types.values().filter(|v| *v == t).count() as f64;
    assert!(per("champion") > 2.0 * per("regular") && per("regular") > 2.0 * per("one_and_done"));
    assert!(per("business") > per("regular"));
    let (_, feedback) = string_rows(&read(dir.path(), "feedback.csv"));
    let nps = |t: &str| {
        let s: Vec<f64> = feedback
            .iter()
            .filter(|f| &f[3] == "nps" && types[&f[1]] == t)
            .map(|f| f[4].parse().unwrap())
            .collect();
        s.iter().sum::<f64>() / s.len() as f64
    };
    assert!(nps("champion") > nps("bargain_hunter") + 1.0);
}

#[test]
fn invalid_options_are_rejected() {
    // Spec: customers >= 1 and dirty in [0, 0.5]; messages name the bad value.
    let dir = tempfile::tempdir().unwrap();
    for (customers, dirty, needle) in [
        (0, 0.0, "customers"),
        (10, 0.6, "0.6"),
        (10, -0.1, "-0.1"),
        (10, f64::NAN, "NaN"),
    ] {
        let opts = DemoOptions {
            customers,
            seed: 1,
            dirty,
        };
        match generate(dir.path(), &opts, &|_| {}) {
            Err(e @ DemoError::InvalidOption(_)) => assert!(e.to_string().contains(needle), "{e}"),
            other => panic!("expected InvalidOption, got {other:?}"),
        }
    }
}
