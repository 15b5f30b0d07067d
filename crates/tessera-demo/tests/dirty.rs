//! Injected defects: `defects.csv` must point at rows that really are defective.

mod common;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use common::{is_known_customer, read, records, run};

/// (file, line, kind) rows of defects.csv.
fn defects(dir: &std::path::Path) -> Vec<(String, u64, String)> {
    let (header, rows) = common::string_rows(&read(dir, "defects.csv"));
    assert_eq!(header.iter().collect::<Vec<_>>(), ["file", "line", "kind"]);
    rows.iter()
        .map(|r| (r[0].to_owned(), r[1].parse().unwrap(), r[2].to_owned()))
        .collect()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("\u{fffd}")
}

/// Checks one CSV defect against the record starting at its line.
fn check_csv(
    file: &str,
    kind: &str,
    rec: &csv::ByteRecord,
    prev: &csv::ByteRecord,
    raw: &[u8],
    width: usize,
    n: usize,
) {
    let f = |i: usize| rec.get(i).unwrap_or_default();
    let ok = match (file, kind) {
        (_, "missing_id") => f(0).is_empty() && rec.len() == width,
        (_, "ragged_row") => rec.len() == width - 1,
        (_, "exact_duplicate") => rec == prev,
        (_, "conflicting_duplicate") => {
            let diff = (0..width).filter(|&i| rec.get(i) != prev.get(i)).count();
            f(0) == prev.get(0).unwrap() && diff == 1
        }
        (_, "invalid_utf8") => raw.windows(2).any(|w| w == b"\xFF\xFE"),
        (_, "bad_quoting") => raw.windows(2).any(|w| w == b"\"x"),
        (_, "unknown_customer") => !is_known_customer(f(1), n),
        ("customers.csv", "bad_date") => NaiveDate::parse_from_str(text(f(1)), "%d/%m/%Y").is_err(),
        ("customers.csv", "bad_int") => text(f(2)).parse::<i64>().is_err(),
        ("customers.csv", "out_of_range") => {
            !(18..=120).contains(&text(f(2)).parse::<i64>().unwrap())
        }
        ("customers.csv", "not_in_domain") => !["f", "m", "x"].contains(&text(f(3))),
        ("orders.csv", "bad_money") => text(f(3)).parse::<f64>().is_err(),
        ("orders.csv", "not_finite") => !text(f(3)).parse::<f64>().unwrap().is_finite(),
        ("orders.csv", "bad_timestamp") => {
            NaiveDateTime::parse_from_str(text(f(2)), "%Y-%m-%d %H:%M:%S").is_err()
        }
        ("orders.csv", "missing_value") => f(2).is_empty(),
        ("orders.csv", "not_in_domain") => !["web", "app", "store", "phone"].contains(&text(f(5))),
        ("feedback.csv", "out_of_range") => !(0..=10).contains(&text(f(4)).parse::<i64>().unwrap()),
        ("feedback.csv", "bad_float") => text(f(4)).parse::<f64>().is_err(),
        _ => panic!("unexpected kind {kind} in {file}"),
    };
    assert!(
        ok,
        "{file}: {kind} not visible in {:?}",
        String::from_utf8_lossy(raw)
    );
}

fn check_event(kind: &str, line: &[u8], prev: &[u8], n: usize) {
    let parsed = || serde_json::from_slice::<serde_json::Value>(line).expect("valid JSON");
    let ok = match kind {
        "bad_json" => {
            std::str::from_utf8(line).is_ok()
                && serde_json::from_slice::<serde_json::Value>(line).is_err()
        }
        "invalid_utf8" => std::str::from_utf8(line).is_err(),
        "exact_duplicate" => line == prev,
        "conflicting_duplicate" => {
            let (a, b) = (
                parsed(),
                serde_json::from_slice::<serde_json::Value>(prev).unwrap(),
            );
            a["event_id"] == b["event_id"] && a["event"] != b["event"] && a["ts"] == b["ts"]
        }
        "bad_timestamp" => DateTime::parse_from_rfc3339(parsed()["ts"].as_str().unwrap()).is_err(),
        "unknown_customer" => !is_known_customer(parsed()["user"].as_str().unwrap().as_bytes(), n),
        "missing_value" => parsed().get("event").is_none_or(|v| v.is_null()),
        _ => panic!("unexpected event kind {kind}"),
    };
    assert!(
        ok,
        "events: {kind} not visible in {:?}",
        String::from_utf8_lossy(line)
    );
}

#[test]
fn defects_point_at_defective_rows() {
    // By construction of the injector; the checks re-derive each defect from
    // the written bytes alone.
    const N: usize = 2000;
    let (dir, summary) = run(N, 21, 0.05);
    let all = defects(dir.path());
    assert_eq!(all.len(), summary.defects);
    let keys: Vec<(&str, u64)> = all.iter().map(|d| (d.0.as_str(), d.1)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "sorted by file then line, no repeats"
    );
    for (file, width) in [
        ("customers.csv", 14),
        ("orders.csv", 7),
        ("feedback.csv", 6),
    ] {
        let bytes = read(dir.path(), file);
        let physical: Vec<&[u8]> = bytes.split(|&c| c == b'\n').collect();
        let recs = records(&bytes);
        let at: HashMap<u64, usize> = recs.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
        let mut listed = 0;
        for (_, line, kind) in all.iter().filter(|d| d.0 == file) {
            let i = *at
                .get(line)
                .unwrap_or_else(|| panic!("{file}:{line} is not the start of a record"));
            let raw = physical[*line as usize - 1];
            check_csv(file, kind, &recs[i].1, &recs[i - 1].1, raw, width, N);
            listed += usize::from(kind == "ragged_row");
        }
        // Converse for one kind: no unlisted ragged rows.
        assert_eq!(
            recs.iter().filter(|r| r.1.len() != width).count(),
            listed,
            "{file}"
        );
    }
    let events = read(dir.path(), "events.ndjson");
    let lines: Vec<&[u8]> = events.split(|&c| c == b'\n').collect();
    let mut broken = 0;
    for (_, line, kind) in all.iter().filter(|d| d.0 == "events.ndjson") {
        let i = *line as usize - 1;
        check_event(kind, lines[i], lines[i.saturating_sub(1)], N);
        broken += usize::from(kind == "bad_json" || kind == "invalid_utf8");
    }
    // Converse: every unparsable line is listed.
    let unparsable = lines[..lines.len() - 1]
        .iter()
        .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_err());
    assert_eq!(unparsable.count(), broken);
}

#[test]
fn two_percent_dirt_produces_every_kind() {
    // Spec: each listed kind occurs at 2% (20k customers so that every one of
    // the ~60 expected feedback defects' 9 kinds shows up).
    let (dir, _) = run(20_000, 99, 0.02);
    let csv_kinds = [
        "missing_id",
        "ragged_row",
        "exact_duplicate",
        "conflicting_duplicate",
        "invalid_utf8",
        "bad_quoting",
    ];
    let mut expected = BTreeSet::new();
    for (file, extra) in [
        (
            "customers.csv",
            &["bad_date", "bad_int", "out_of_range", "not_in_domain"][..],
        ),
        (
            "orders.csv",
            &[
                "bad_money",
                "not_finite",
                "bad_timestamp",
                "unknown_customer",
                "missing_value",
                "not_in_domain",
            ],
        ),
        (
            "feedback.csv",
            &["out_of_range", "bad_float", "unknown_customer"],
        ),
    ] {
        for k in csv_kinds.iter().chain(extra) {
            expected.insert((file.to_owned(), k.to_string()));
        }
    }
    for k in [
        "bad_json",
        "bad_timestamp",
        "unknown_customer",
        "missing_value",
        "exact_duplicate",
        "conflicting_duplicate",
        "invalid_utf8",
    ] {
        expected.insert(("events.ndjson".to_owned(), k.to_owned()));
    }
    let found: BTreeSet<(String, String)> = defects(dir.path())
        .into_iter()
        .map(|d| (d.0, d.2))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn refunds_are_never_damaged() {
    // Spec: refunds are legitimate data; defects skip them.
    let (dir, _) = run(2000, 31, 0.5);
    let bytes = read(dir.path(), "orders.csv");
    let recs = records(&bytes);
    let damaged: BTreeSet<u64> = defects(dir.path())
        .into_iter()
        .filter(|d| d.0 == "orders.csv")
        .map(|d| d.1)
        .collect();
    let refunds = recs.iter().filter(|r| {
        r.1.get(3)
            .is_some_and(|t| t.starts_with(b"-") && t[1].is_ascii_digit())
    });
    let mut n = 0;
    for (line, _) in refunds {
        assert!(!damaged.contains(line), "refund on line {line} was damaged");
        n += 1;
    }
    assert!(n > 50);
}
