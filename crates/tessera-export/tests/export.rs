//! Audience files: consent decides who is written, text cells cannot start formulas, money is
//! written in major units, and the holdout flag takes the configured share of customers, the
//! same customers every time.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use tessera_core::config::ExportFormat;
use tessera_core::suppress::Suppression;
use tessera_export::{Column, Request, holdout_draw, neutralise, write};

fn csv_rows(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn cells_that_would_start_a_formula_are_neutralised() {
    for (cell, safe) in [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Berlin", "Berlin"),
        ("a=b", "a=b"),
        ("", ""),
    ] {
        assert_eq!(neutralise(cell), safe, "{cell:?}");
    }
}

/// (members, without consent, suppressed, exported, holdout).
type Counts = (usize, usize, usize, usize, usize);

/// Exports the six customers below (five members, two of them without consent), with the
/// given customers suppressed; returns the counts and the rows written.
fn export_six(suppressed: Option<&Suppression>) -> (Counts, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.csv");
    let ids = StringArray::from(vec!["c1", "c2", "c3", "c4", "c5", "c6"]);
    let members = BooleanArray::from(vec![true, true, true, false, true, true]);
    // c2 opted out, c3 never said (null); c4 consents but is not a member.
    let consent = BooleanArray::from(vec![
        Some(true),
        Some(false),
        None,
        Some(true),
        Some(true),
        Some(true),
    ]);
    let city: ArrayRef = Arc::new(StringArray::from(vec![
        Some("Berlin"),
        Some("Wien"),
        Some("Zug"),
        Some("Graz"),
        Some("=1+1"),
        None,
    ]));
    let spend: ArrayRef = Arc::new(Int64Array::from(vec![12345, 0, 5, 7, -250, 100]));
    let avg: ArrayRef = Arc::new(Float64Array::from(vec![1250.0, 0.0, 1.0, 2.0, 50.0, 3.0]));
    let s = write(Request {
        name: "test",
        ids: &ids,
        members: &members,
        consent: &consent,
        columns: vec![
            Column {
                name: "customer_id".into(),
                array: Arc::new(ids.clone()),
                money: false,
            },
            Column {
                name: "city".into(),
                array: city,
                money: false,
            },
            Column {
                name: "spend".into(),
                array: spend,
                money: true,
            },
            Column {
                name: "avg".into(),
                array: avg,
                money: true,
            },
        ],
        holdout: 0.0,
        format: ExportFormat::Csv,
        money_decimals: 2,
        out: &out,
        suppressed,
    })
    .unwrap();
    let (header, rows) = csv_rows(&out);
    assert_eq!(header, ["customer_id", "city", "spend", "avg", "holdout"]);
    // No partial file is left beside the export.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.csv"]);
    (
        (
            s.members,
            s.without_consent,
            s.suppressed,
            s.exported,
            s.holdout,
        ),
        rows,
    )
}

#[test]
fn consent_decides_who_is_written_and_every_left_out_member_is_counted() {
    let (counts, rows) = export_six(None);
    assert_eq!(counts, (5, 2, 0, 3, 0));
    assert_eq!(
        rows,
        [
            ["c1", "Berlin", "123.45", "12.5", "false"],
            ["c5", "'=1+1", "-2.50", "0.5", "false"],
            ["c6", "", "1.00", "0.03", "false"],
        ]
    );
}

#[test]
fn a_forgotten_customer_is_never_written_and_is_counted_apart() {
    // c5 (a consenting member) and c2 (a member without consent) asked to be forgotten; c4
    // (not a member) too, which changes nothing.
    let salt = b"salt".to_vec();
    let hashes = ["c5", "c2", "c4"].map(|id| Suppression::hash_with(&salt, id));
    let list = Suppression::new(salt, hashes);
    let (counts, rows) = export_six(Some(&list));
    // Five members: c1 and c6 written, c3 without consent, c2 and c5 suppressed.
    assert_eq!(counts, (5, 1, 2, 2, 0));
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["c1", "c6"]);
}

#[test]
fn the_holdout_takes_its_share_and_keeps_its_customers_across_runs() {
    let n = 100_000;
    let ids: StringArray = (0..n).map(|i| Some(format!("C{i:07}"))).collect();
    let all = BooleanArray::from(vec![true; n]);
    let dir = tempfile::tempdir().unwrap();
    let flags = |name: &str, share: f64, file: &str| -> Vec<bool> {
        let out = dir.path().join(file);
        let s = write(Request {
            name,
            ids: &ids,
            members: &all,
            consent: &all,
            columns: vec![Column {
                name: "customer_id".into(),
                array: Arc::new(ids.clone()),
                money: false,
            }],
            holdout: share,
            format: ExportFormat::Ndjson,
            money_decimals: 2,
            out: &out,
            suppressed: None,
        })
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let flags: Vec<bool> = text.lines().map(serde_json_bool).collect();
        assert_eq!(flags.iter().filter(|&&f| f).count(), s.holdout);
        flags
    };
    for share in [0.05, 0.1, 0.25] {
        let a = flags("spring", share, "a.ndjson");
        let got = a.iter().filter(|&&f| f).count() as f64 / n as f64;
        assert!((got - share).abs() < 0.01, "share {share}: {got}");
        // The same export drawn again flags the same customers.
        assert_eq!(a, flags("spring", share, "b.ndjson"));
        // Another export draws independently: about share² of customers are in both holdouts.
        let b = flags("autumn", share, "c.ndjson");
        let both = a.iter().zip(&b).filter(|(x, y)| **x && **y).count() as f64 / n as f64;
        assert!(
            (both - share * share).abs() < 0.01,
            "share {share}: overlap {both}"
        );
    }
    // A larger share keeps every customer a smaller one flagged.
    let small = flags("spring", 0.05, "d.ndjson");
    let large = flags("spring", 0.25, "e.ndjson");
    assert!(small.iter().zip(&large).all(|(s, l)| !s || *l));
}

#[test]
fn the_draw_is_a_fixed_function_of_export_and_id() {
    // XXH3-64 of "spring\0C0000001", shifted to 53 bits: fixed by the algorithm, so the same on
    // every machine and in every version.
    let d = holdout_draw("spring", "C0000001");
    assert_eq!(d, holdout_draw("spring", "C0000001"));
    let bits = xxh3(b"spring\0C0000001");
    assert_eq!(d, (bits >> 11) as f64 / (1u64 << 53) as f64);
    assert_ne!(
        holdout_draw("sprin", "gC0000001"),
        holdout_draw("spring", "C0000001")
    );
}

fn xxh3(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The `holdout` value of one NDJSON line.
fn serde_json_bool(line: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["holdout"].as_bool().unwrap()
}

#[test]
fn parquet_keeps_types_and_csv_refuses_lists() {
    let dir = tempfile::tempdir().unwrap();
    let ids = StringArray::from(vec!["a", "b"]);
    let yes = BooleanArray::from(vec![true, true]);
    let out = dir.path().join("a.parquet");
    let spend: ArrayRef = Arc::new(Int64Array::from(vec![100, 250]));
    write(Request {
        name: "p",
        ids: &ids,
        members: &yes,
        consent: &yes,
        columns: vec![Column {
            name: "spend".into(),
            array: spend,
            money: true,
        }],
        holdout: 0.0,
        format: ExportFormat::Parquet,
        money_decimals: 2,
        out: &out,
        suppressed: None,
    })
    .unwrap();
    let file = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batch = reader.into_iter().next().unwrap().unwrap();
    let spend = batch.column_by_name("spend").unwrap();
    assert_eq!(
        spend.data_type(),
        &arrow_schema::DataType::Decimal128(38, 2)
    );
    let d = spend
        .as_any()
        .downcast_ref::<arrow_array::Decimal128Array>()
        .unwrap();
    assert_eq!(d.value_as_string(1), "2.50");

    let list: ArrayRef = Arc::new(arrow_array::ListArray::from_iter_primitive::<
        arrow_array::types::Int32Type,
        _,
        _,
    >(vec![Some(vec![Some(1)]), None]));
    let err = write(Request {
        name: "p",
        ids: &ids,
        members: &yes,
        consent: &yes,
        columns: vec![Column {
            name: "tags".into(),
            array: list,
            money: false,
        }],
        holdout: 0.0,
        format: ExportFormat::Csv,
        money_decimals: 2,
        out: &dir.path().join("b.csv"),
        suppressed: None,
    })
    .unwrap_err();
    assert!(
        err.to_string().starts_with("field `tags` is a List"),
        "{err}"
    );
    assert!(!dir.path().join("b.csv").exists());
}
