//! The same orders read from CSV and from Parquet give the same run: Parquet batches are checked a
//! column at a time, CSV records row by row, and the two must reject the same rows for the same
//! reasons and keep the same values.

mod common;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use common::{csv_maps, read_parquet, run_json, run_ok};
use std::path::Path;
use std::sync::Arc;

/// The demo's dirty orders that a CSV reader and a Parquet writer both take as they are: records
/// with the header's width, valid UTF-8, and no quote or line break inside a field (those are
/// defects of the CSV text, which a Parquet file cannot have).
fn even_records(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .byte_records()
        .map(Result::unwrap)
        .filter(|rec| rec.len() == header.len())
        .filter_map(|rec| {
            rec.iter()
                .map(|f| String::from_utf8(f.to_vec()).ok())
                .collect::<Option<Vec<String>>>()
        })
        .filter(|fields| !fields.iter().any(|f| f.contains(['"', '\n', '\r'])))
        .collect();
    (header, rows)
}

/// `orders_even.csv` and `orders.parquet` (every column text, empty fields null) with `rows`.
fn write_both(dir: &Path, header: &[String], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(dir.join("orders_even.csv")).unwrap();
    w.write_record(header).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
    let columns: Vec<(String, ArrayRef)> = header
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let values = rows
                .iter()
                .map(|r| Some(r[k].as_str()).filter(|v| !v.is_empty()));
            (
                name.clone(),
                Arc::new(values.collect::<StringArray>()) as ArrayRef,
            )
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(dir.join("orders.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// The orders' rejects of a run, each as (row, column, reason, message), the row counted from 1
/// after the header; `file` (the orders file's name) and the rows in conflict messages, which
/// point at the other row of the conflict, made alike too.
fn order_rejects(out: &Path, file: &str, header_lines: u64) -> Vec<[String; 4]> {
    let mut rejects: Vec<[String; 4]> = csv_maps(&out.join("rejects.csv"))
        .into_iter()
        .filter(|r| r["source"] == "orders")
        .map(|r| {
            let row = r["line"].parse::<u64>().unwrap() - header_lines;
            let mut message = r["message"].clone();
            let at = format!("{file}:");
            if let Some(start) = message.find(&at) {
                let digits = message[start + at.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>();
                let other = digits.parse::<u64>().unwrap() - header_lines;
                let end = start + at.len() + digits.len();
                message.replace_range(start..end, &format!("orders:{other}"));
            }
            [
                row.to_string(),
                r["column"].clone(),
                r["reason"].clone(),
                message,
            ]
        })
        .collect();
    rejects.sort();
    rejects
}

#[test]
fn orders_from_parquet_are_checked_as_the_same_orders_from_csv() {
    let dir = tempfile::tempdir().unwrap();
    let shop = common::demo_with(dir.path(), 1500, 11, &["--dirty", "0.05", "--no-run"]);
    let (header, rows) = even_records(&shop.join("orders.csv"));
    write_both(&shop, &header, &rows);
    let toml = std::fs::read_to_string(shop.join("tessera.toml")).unwrap();
    for (name, file) in [("csv", "orders_even.csv"), ("parquet", "orders.parquet")] {
        let config = toml.replace("path = \"orders.csv\"", &format!("path = \"{file}\""));
        assert_ne!(config, toml);
        std::fs::write(shop.join(format!("{name}.toml")), config).unwrap();
        run_ok(
            &shop,
            &[
                "--quiet",
                "features",
                "--config",
                &format!("{name}.toml"),
                "--out",
                &format!("out-{name}"),
            ],
        );
    }
    let (csv_out, parquet_out) = (shop.join("out-csv"), shop.join("out-parquet"));
    // A CSV line is the row's number plus the header's line; a Parquet row is its number.
    let csv_rejects = order_rejects(&csv_out, "orders_even.csv", 1);
    let parquet_rejects = order_rejects(&parquet_out, "orders.parquet", 0);
    assert_eq!(csv_rejects, parquet_rejects);
    // The dirty demo's defects reach the checks of every kind the column-at-a-time checks
    // hand to the row-by-row ones.
    let reasons: std::collections::BTreeSet<&str> =
        parquet_rejects.iter().map(|r| r[2].as_str()).collect();
    for reason in [
        "empty_id",
        "unknown_customer",
        "conflicting_duplicate",
        "bad_money",
        "bad_timestamp",
        "not_in_domain",
    ] {
        assert!(reasons.contains(reason), "{reason} not among {reasons:?}");
    }
    let counts = |out: &Path| {
        let run = run_json(out);
        let o = &run["sources"]["orders"];
        ["read", "accepted", "rejected", "duplicates", "refunds"].map(|k| o[k].clone())
    };
    assert_eq!(counts(&csv_out), counts(&parquet_out));
    assert_eq!(counts(&parquet_out)[0], rows.len());
    for table in ["clean/orders.parquet", "features.parquet"] {
        let (a, b) = (
            read_parquet(&csv_out.join(table)),
            read_parquet(&parquet_out.join(table)),
        );
        assert_eq!(a, b, "{table}");
    }
}
