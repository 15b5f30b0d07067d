//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::cell::Cell;
use std::path::Path;

use tessera_demo::{DemoOptions, DemoSummary, generate};

/// Every file `generate` may write.
pub const FILES: [&str; 7] = [
    "customers.csv",
    "orders.csv",
    "events.ndjson",
    "feedback.csv",
    "tessera.toml",
    "truth.csv",
    "defects.csv",
];

/// Generates into a fresh temporary directory; also checks that progress
/// reports add up to the number of customers.
pub fn run(customers: usize, seed: u64, dirty: f64) -> (tempfile::TempDir, DemoSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let done = Cell::new(0u64);
    let opts = DemoOptions {
        customers,
        seed,
        dirty,
    };
    let summary = generate(dir.path(), &opts, &|n| done.set(done.get() + n)).expect("generate");
    assert_eq!(
        done.get(),
        customers as u64,
        "progress must sum to the customer count"
    );
    (dir, summary)
}

pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// All CSV records (header included) with the physical line each starts on.
pub fn records(bytes: &[u8]) -> Vec<(u64, csv::ByteRecord)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    while reader.read_byte_record(&mut rec).expect("csv framing") {
        let line = rec.position().expect("position").line();
        out.push((line, rec.clone()));
    }
    out
}

/// Rows of a UTF-8 CSV file as string records, header excluded.
pub fn string_rows(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().expect("header").clone();
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("well-formed CSV");
    (header, rows)
}

/// Customer ids that exist (`C0000001 ..= C{n}`).
pub fn customer_id(n: usize) -> String {
    format!("C{n:07}")
}

pub fn is_known_customer(id: &[u8], customers: usize) -> bool {
    id.len() >= 8
        && id[0] == b'C'
        && id[1..].iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(&id[1..])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .is_some_and(|k| (1..=customers).contains(&k))
}
