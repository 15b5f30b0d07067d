//! Reading the shapes exports really come in: NDJSON, Parquet, BOM, CRLF, quoted newlines,
//! Latin-1, headerless files and globs. Expected values are the fixture rows' own contents.

mod common;
use arrow_array::{
    ArrayRef, Decimal128Array, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use common::*;
use parquet::arrow::ArrowWriter;
use std::sync::Arc;
use tessera_core::SourceKind;

const CUSTOMERS_ONLY: &str = r#"
[sources.customers]
path = "customers.csv"
columns = { customer_id = "id", signed_up_at = "signup" }
attributes.age = { column = "age", type = "int" }
attributes.country = { column = "country", type = "string" }
attributes.vip = { column = "vip", type = "bool" }
"#;

#[test]
fn ndjson_events_with_nested_fields_and_bad_lines() {
    let events = concat!(
        "{\"id\":\"E1\",\"user\":{\"id\":\"C1\"},\"ts\":\"2024-05-01T10:00:00Z\",\"event\":\"page_view\",\"props\":{\"page\":\"/shoes\"}}\n",
        "{\"id\":\"E2\",\"user\":{\"id\":\"C2\"},\"ts\":\"2024-05-01T11:00:00+02:00\",\"event\":\"search\"}\r\n",
        "\n",
        "{\"id\":\"E3\",\"user\":{\"id\":\"C1\"},\"ts\":\"2024-05-01T10:00:00Z\",\"event\":\"page_view\"\n",
        "[1,2,3]\n",
        "{\"id\":\"E5\",\"user\":{\"id\":\"C2\"},\"ts\":\"2024-05-01T10:00:00Z\",\"event\":\"x\",\"props\":[1]}\n",
        "{\"id\":6,\"user\":{\"id\":\"C3\"},\"ts\":\"2024-05-02T10:00:00Z\",\"event\":\"search\"}\n",
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("events.ndjson", events.as_bytes()),
    ]);
    let toml = format!(
        "{CUSTOMERS_ONLY}\n[sources.events]\npath = \"events.ndjson\"\ncolumns = {{ event_id = \"id\", customer_id = \"user.id\", occurred_at = \"ts\", name = \"event\", properties = \"props\" }}\n"
    );
    let outcome = p.run(&toml).unwrap();
    assert_reconciles(&p, &outcome);
    let e = &outcome.sources[&SourceKind::Events];
    assert_eq!((e.read, e.accepted, e.rejected), (6, 3, 3));
    let rejects = p.rejects();
    assert_eq!(
        rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect::<Vec<_>>(),
        [(4, "bad_json"), (5, "bad_json"), (6, "bad_json")]
    );
    assert_eq!(
        p.strings("events", "properties"),
        [
            Some("{\"page\":\"/shoes\"}".into()),
            Some("{}".into()),
            Some("{}".into())
        ]
    );
    // A numeric id is kept as its text.
    assert_eq!(
        p.strings("events", "event_id"),
        [Some("E1".into()), Some("E2".into()), Some("6".into())]
    );
    // 11:00+02:00 is 09:00Z, so E1 (10:00Z) is the latest event: as_of is the next day in UTC.
    assert_eq!(
        outcome.latest_event,
        Some(1_714_557_600_000_000 + 24 * 3_600_000_000)
    );
}

#[test]
fn csv_with_bom_crlf_and_quoted_newlines() {
    let customers = "\u{FEFF}id,signup,age,country,vip\r\nC1,2024-01-05,34,\"DE\",yes\r\nC2,2024-02-10,51,\"F\r\nR\",no\r\nC3,2024-03-15,,NL,\r\n";
    let p = Project::new(&[("customers.csv", customers.as_bytes())]);
    let outcome = p.run(CUSTOMERS_ONLY).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(
        p.strings("customers", "customer_id"),
        [Some("C1".into()), Some("C2".into()), Some("C3".into())]
    );
    assert_eq!(
        p.strings("customers", "country")[1].as_deref(),
        Some("F\r\nR")
    );
    // With a bad value after the two-line record, the line number counts physical lines.
    let customers = format!("{}C4,2024-03-15,x,NL,\r\n", customers);
    let p = Project::new(&[("customers.csv", customers.as_bytes())]);
    p.run(CUSTOMERS_ONLY).unwrap();
    assert_eq!(p.rejects()[0].line, 6);
}

#[test]
fn latin1_headerless_semicolon_files_by_position() {
    let mut bytes = b"C1;M\xFCnchen;1.234,50\nC2;K\xF6ln;-3,00\n".to_vec();
    bytes.extend_from_slice(b"C3;Bonn;12,345\n");
    let p = Project::new(&[("c.txt", &bytes)]);
    let toml = r#"
[project]
money_decimals = 2
[sources.customers]
path = "c.txt"
decimal_separator = ","
thousands_separator = "."
csv = { delimiter = ";", header = false, encoding = "latin1" }
columns = { customer_id = 1 }
attributes.city = { column = 2, type = "string" }
attributes.balance = { column = 3, type = "money" }
"#;
    let outcome = p.run(toml).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(
        p.strings("customers", "city"),
        [Some("München".into()), Some("Köln".into())]
    );
    assert_eq!(p.ints("customers", "balance"), [Some(123_450), Some(-300)]);
    let r = &p.rejects()[0];
    assert_eq!(
        (r.line, r.reason.as_str(), r.column.as_str()),
        (3, "bad_money", "#3")
    );
}

#[test]
fn parquet_orders_with_decimal_and_float_amounts() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("oid", DataType::Utf8, false),
        Field::new("cid", DataType::Utf8, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("total", DataType::Decimal128(10, 3), true),
        Field::new("rating", DataType::Float64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["O1", "O2", "O3", "O4"])),
        Arc::new(StringArray::from(vec!["C1", "C2", "C1", "C7"])),
        Arc::new(
            TimestampMillisecondArray::from(vec![
                Some(1_714_557_600_000),
                Some(1_714_557_600_000),
                None,
                Some(0),
            ])
            .with_timezone("UTC"),
        ),
        Arc::new(
            Decimal128Array::from(vec![Some(19_990), Some(12_345), Some(1_000), Some(1_000)])
                .with_precision_and_scale(10, 3)
                .unwrap(),
        ),
        Arc::new(Float64Array::from(vec![
            Some(4.5),
            None,
            Some(f64::NAN),
            Some(1.0),
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.parquet", &buf),
    ]);
    let toml = format!(
        "{CUSTOMERS_ONLY}\n[sources.orders]\npath = \"orders.parquet\"\ncolumns = {{ order_id = \"oid\", customer_id = \"cid\", ordered_at = \"at\", amount = \"total\" }}\nattributes.rating = {{ column = \"rating\", type = \"float\" }}\n"
    );
    let outcome = p.run(&toml).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(p.ints("orders", "amount"), [Some(1999)]);
    let rejects = p.rejects();
    // Row 2: 12.345 has three decimals; row 3: no time; row 4: unknown customer C7.
    assert_eq!(
        rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str(), r.column.as_str()))
            .collect::<Vec<_>>(),
        [
            (2, "bad_money", "total"),
            (3, "missing_value", "at"),
            (4, "unknown_customer", "cid")
        ]
    );
    assert!(
        rejects[0].raw.contains("\"oid\":\"O2\""),
        "{}",
        rejects[0].raw
    );
}

#[test]
fn globs_read_every_matching_file_in_order() {
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders-2024-02.csv", format!("{ORDERS_HEADER}O2,C1,2024-02-01 10:00:00,1.00,web,,\n").as_bytes()),
        ("orders-2024-01.csv", format!("{ORDERS_HEADER}O1,C1,2024-01-01 10:00:00,1.00,web,,\nO3,C1,2024-01-01 10:00:00,oops,web,,\n").as_bytes()),
    ]);
    let outcome = p
        .run(&BASE_TOML.replace("path = \"orders.csv\"", "path = \"orders-*.csv\""))
        .unwrap();
    assert_reconciles(&p, &outcome);
    let o = &outcome.sources[&SourceKind::Orders];
    assert_eq!(o.files, ["orders-2024-01.csv", "orders-2024-02.csv"]);
    assert_eq!(
        p.strings("orders", "order_id"),
        [Some("O1".into()), Some("O2".into())]
    );
    assert_eq!(p.rejects()[0].file, "orders-2024-01.csv");
}

#[test]
fn a_glob_matching_nothing_is_an_input_error() {
    let p = Project::new(&[("customers.csv", CUSTOMERS_CSV.as_bytes())]);
    let err = p
        .run(&BASE_TOML.replace("path = \"orders.csv\"", "path = \"orders-*.csv\""))
        .unwrap_err();
    assert!(err.is_input_error());
    assert!(
        err.to_string().contains("orders-*.csv` matches no file"),
        "{err}"
    );
}
