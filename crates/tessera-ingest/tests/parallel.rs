//! CSV and Parquet rows are checked in batches on several threads and settled in row order
//! afterwards; NDJSON rows are checked and settled one at a time. The same rows given all three
//! ways, in batches of a few rows so that many batches are in flight at once, must come out the
//! same: the same clean orders in the same order, the same counts, the same rejects with the same
//! messages, under every conflict policy and with `strict`.

mod common;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use parquet::arrow::ArrowWriter;
use std::sync::Arc;

/// A small deterministic generator (xorshift64*), so that a failing seed can be re-run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const COLUMNS: [&str; 7] = ["oid", "cid", "at", "total", "channel", "rating", "shipped"];

/// Order rows as text: ids from a small pool so that copies and conflicts are common, now and
/// then an unknown customer, a bad amount, date or channel, a missing id, a refund.
fn order_rows(seed: u64, n: usize) -> Vec<[String; 7]> {
    let mut rng = Rng(seed | 1);
    let mut rows: Vec<[String; 7]> = Vec::new();
    for _ in 0..n {
        if !rows.is_empty() && rng.below(5) == 0 {
            // An exact copy of an earlier row.
            let copy = rows[rng.below(rows.len() as u64) as usize].clone();
            rows.push(copy);
            continue;
        }
        let id = match rng.below(40) {
            0 => String::new(),
            k => format!("O{}", rng.below(60) + k % 2),
        };
        rows.push([
            id,
            rng.pick(&["C1", "C2", "C3", "C2", "C1", "C9"]).into(),
            rng.pick(&[
                "2024-05-01 10:00:00",
                "2024-05-02 11:30:00",
                "2024-13-01",
                "2024-06-30",
            ])
            .into(),
            rng.pick(&["19.99", "5.00", "-5.00", "0", "7.5", "x", "12.345"])
                .into(),
            rng.pick(&["web", "store", "web", "mail", ""]).into(),
            rng.pick(&["4.5", "", "3", "nan?"]).into(),
            rng.pick(&["2024-05-03", "", "2024-02-30"]).into(),
        ]);
    }
    rows
}

fn csv_text(rows: &[[String; 7]]) -> String {
    let mut s = ORDERS_HEADER.to_string();
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s
}

/// The same rows as NDJSON, every value a string.
fn ndjson_text(rows: &[[String; 7]]) -> String {
    let mut s = String::new();
    for r in rows {
        let obj: serde_json::Map<String, serde_json::Value> = COLUMNS
            .iter()
            .zip(r)
            .map(|(c, v)| (c.to_string(), v.as_str().into()))
            .collect();
        s.push_str(&serde_json::Value::Object(obj).to_string());
        s.push('\n');
    }
    s
}

/// The same rows as a Parquet file of text columns, in row groups of 11 rows.
fn parquet_bytes(rows: &[[String; 7]]) -> Vec<u8> {
    let schema = Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let cols: Vec<ArrayRef> = (0..COLUMNS.len())
        .map(|k| {
            let a: StringArray = rows.iter().map(|r| Some(r[k].as_str())).collect();
            Arc::new(a) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(11))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

/// A message with each `orders.csv:LINE` / `orders.parquet:ROW` / `orders.ndjson:LINE` written
/// as `orders:ROW` (a CSV file's first data row is on line 2, the others' on line or row 1).
fn normalised(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    loop {
        let at = [
            ("orders.csv:", 1u64),
            ("orders.parquet:", 0),
            ("orders.ndjson:", 0),
        ]
        .iter()
        .filter_map(|(p, shift)| rest.find(p).map(|i| (i, *p, *shift)))
        .min_by_key(|(i, ..)| *i);
        let Some((i, prefix, shift)) = at else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        rest = &rest[i + prefix.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().unwrap();
        out.push_str(&format!("orders:{}", n - shift));
        rest = &rest[digits..];
    }
}

/// What a run produced that does not depend on the input format.
#[derive(Debug, PartialEq)]
struct Result {
    report: String,
    order_customers: Option<Vec<u32>>,
    ids: Vec<Option<String>>,
    customers: Vec<Option<String>>,
    amounts: Vec<Option<i64>>,
    channels: Vec<Option<String>>,
    rejects: Vec<(u64, String, String, String)>,
}

/// The rows as a file of the given format: its name and bytes, and its first data row's line.
fn file(rows: &[[String; 7]], format: &str) -> (String, Vec<u8>, u64) {
    let data = match format {
        "parquet" => parquet_bytes(rows),
        "ndjson" => ndjson_text(rows).into_bytes(),
        _ => csv_text(rows).into_bytes(),
    };
    let first_line = if format == "csv" { 2 } else { 1 };
    (format!("orders.{format}"), data, first_line)
}

fn run(rows: &[[String; 7]], format: &str, policy: &str) -> Result {
    let (name, data, first_line) = file(rows, format);
    let p = Project::new(&[("customers.csv", CUSTOMERS_CSV.as_bytes()), (&name, &data)]);
    let toml = BASE_TOML
        .replace(
            "[project]\n",
            &format!("[project]\non_conflict = \"{policy}\"\nbatch_rows = 3\n"),
        )
        .replace("path = \"orders.csv\"", &format!("path = \"{name}\""));
    let outcome = p.run(&toml).unwrap();
    assert_reconciles(&p, &outcome);
    let mut report = outcome.sources[&tessera_core::schema::SourceKind::Orders].clone();
    report.files.clear();
    let shift = first_line - 1;
    Result {
        report: format!("{report:?}"),
        order_customers: outcome.order_customers,
        ids: p.strings("orders", "order_id"),
        customers: p.strings("orders", "customer_id"),
        amounts: p.ints("orders", "amount"),
        channels: p.strings("orders", "channel"),
        rejects: p
            .rejects()
            .into_iter()
            .filter(|r| r.source == "orders")
            .map(|r| (r.line - shift, r.column, r.reason, normalised(&r.message)))
            .collect(),
    }
}

#[test]
fn batches_checked_in_parallel_settle_like_rows_one_by_one() {
    for seed in [1, 2, 3, 0x5eed] {
        let rows = order_rows(seed, 400);
        for policy in ["reject", "first", "last"] {
            let ndjson = run(&rows, "ndjson", policy);
            let csv = run(&rows, "csv", policy);
            let parquet = run(&rows, "parquet", policy);
            assert_eq!(csv, ndjson, "csv, seed {seed}, on_conflict = {policy}");
            assert_eq!(
                parquet, ndjson,
                "parquet, seed {seed}, on_conflict = {policy}"
            );
            // The data exercises what it is meant to.
            let reasons: std::collections::BTreeSet<&str> =
                csv.rejects.iter().map(|r| r.2.as_str()).collect();
            for reason in [
                "conflicting_duplicate",
                "unknown_customer",
                "bad_money",
                "bad_timestamp",
                "not_in_domain",
                "empty_id",
            ] {
                assert!(
                    reasons.contains(reason),
                    "seed {seed}: no {reason} in {reasons:?}"
                );
            }
            assert!(csv.report.contains("duplicates: ") && !csv.report.contains("duplicates: 0,"));
        }
    }
}

#[test]
fn strict_stops_at_the_first_bad_row_in_row_order() {
    let rows = order_rows(7, 300);
    let first_bad = |format: &str| {
        let (name, data, first_line) = file(&rows, format);
        let p = Project::new(&[("customers.csv", CUSTOMERS_CSV.as_bytes()), (&name, &data)]);
        let toml = BASE_TOML
            .replace("[project]\n", "[project]\nbatch_rows = 2\n")
            .replace("path = \"orders.csv\"", &format!("path = \"{name}\""));
        match p.run_with(&toml, true) {
            Err(tessera_ingest::IngestError::Strict {
                line,
                reason,
                message,
                ..
            }) => (line + 1 - first_line, reason, normalised(&message)),
            other => panic!("expected a strict error, got {other:?}"),
        }
    };
    let expected = first_bad("ndjson");
    assert_eq!(first_bad("csv"), expected);
    assert_eq!(first_bad("parquet"), expected);
}
