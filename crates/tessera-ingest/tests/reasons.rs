//! Every reject reason, produced by a row built to trigger it, reported with its file, line and
//! column. Expected values come from the fixture rows themselves (line N is the Nth physical line).

mod common;
use common::*;
use std::collections::BTreeSet;
use tessera_ingest::Reason;

#[test]
fn every_reason_is_reported_with_file_line_and_column() {
    let orders = [
        ORDERS_HEADER,
        "O1,C1,2024-05-01 10:00:00,19.99,web,4.5,2024-05-03\n", // 2 ok
        "O2,C1,2024-05-02 10:00:00,5.00,web,4\n",               // 3 ragged_row
        "O3,C1,\"2024-05-02 10:00:00\"x,5.00,web,4,\n",         // 4 bad_quoting
        "O4,C1,2024-05-02 10:00:00,5.00,w\u{FFFD}b,4,\n",       // 5 placeholder for invalid UTF-8
        "O5,C1,,5.00,web,4,\n",                                 // 6 missing_value
        ",C1,2024-05-02 10:00:00,5.00,web,4,\n",                // 7 empty_id
        "O8,C1,2024-05-02 10:00:00,5.00,web,four,\n",           // 8 bad_float
        "O9,C1,2024-05-02 10:00:00,5.00,web,4,31/02/2024\n",    // 9 bad_date
        "O10,C1,yesterday,5.00,web,4,\n",                       // 10 bad_timestamp
        "O11,C1,2024-05-02 10:00:00,5.0.0,web,4,\n",            // 11 bad_money
        "O12,C1,2024-05-02 10:00:00,NaN,web,4,\n",              // 12 not_finite
        "O13,C1,2024-05-02 10:00:00,5.00,web,4,1850-01-01\n",   // 13 date_out_of_range
        "O14,C1,2024-05-02 10:00:00,5.00,fax,4,\n",             // 14 not_in_domain
        "O1,C1,2024-05-01 10:00:00,29.99,web,4.5,2024-05-03\n", // 15 conflicting_duplicate (with 2)
        "O16,C9,2024-05-02 10:00:00,5.00,web,4,\n",             // 16 unknown_customer
    ]
    .concat()
    .replace("w\u{FFFD}b", "w\u{1}b");
    let mut orders = orders.into_bytes();
    let at = orders.windows(3).position(|w| w == b"w\x01b").unwrap();
    orders[at + 1] = 0xFF;
    let customers = format!(
        "{CUSTOMERS_CSV}C4,2024-03-15,abc,DE,yes\nC5,2024-03-15,130,DE,yes\nC6,2024-03-15,30,DE,maybe\n"
    );
    let p = Project::new(&[
        ("customers.csv", customers.as_bytes()),
        ("orders.csv", &orders),
    ]);
    let outcome = p.run(BASE_TOML).unwrap();
    assert_reconciles(&p, &outcome);

    let rejects = p.rejects();
    let at = |file: &str, line: u64| {
        rejects
            .iter()
            .find(|r| r.file == file && r.line == line)
            .unwrap_or_else(|| panic!("no reject at {file}:{line}: {rejects:#?}"))
    };
    let expect = [
        ("customers.csv", 5, "bad_int", "age"),
        ("customers.csv", 6, "out_of_range", "age"),
        ("customers.csv", 7, "bad_bool", "vip"),
        ("orders.csv", 2, "conflicting_duplicate", "oid"),
        ("orders.csv", 3, "ragged_row", ""),
        ("orders.csv", 4, "bad_quoting", ""),
        ("orders.csv", 5, "invalid_utf8", "channel"),
        ("orders.csv", 6, "missing_value", "at"),
        ("orders.csv", 7, "empty_id", "oid"),
        ("orders.csv", 8, "bad_float", "rating"),
        ("orders.csv", 9, "bad_date", "shipped"),
        ("orders.csv", 10, "bad_timestamp", "at"),
        ("orders.csv", 11, "bad_money", "total"),
        ("orders.csv", 12, "not_finite", "total"),
        ("orders.csv", 13, "date_out_of_range", "shipped"),
        ("orders.csv", 14, "not_in_domain", "channel"),
        ("orders.csv", 15, "conflicting_duplicate", "oid"),
        ("orders.csv", 16, "unknown_customer", "cid"),
    ];
    for (file, line, reason, column) in expect {
        let r = at(file, line);
        assert_eq!(
            (r.reason.as_str(), r.column.as_str()),
            (reason, column),
            "{file}:{line}: {r:?}"
        );
        assert!(!r.message.is_empty());
    }
    assert_eq!(rejects.len(), expect.len());
    // The raw text is the line as written, invalid bytes shown as \xNN.
    assert_eq!(
        at("orders.csv", 5).raw,
        "O4,C1,2024-05-02 10:00:00,5.00,w\\xFFb,4,"
    );
    assert_eq!(
        at("orders.csv", 2).raw,
        "O1,C1,2024-05-01 10:00:00,19.99,web,4.5,2024-05-03"
    );
    assert!(
        at("orders.csv", 15).message.contains("orders.csv:2"),
        "{}",
        at("orders.csv", 15).message
    );

    // bad_json is NDJSON-only: covered in formats.rs; bad_list in lists.rs. Together they
    // cover every reason.
    let mut seen: BTreeSet<&str> = expect.iter().map(|e| e.2).collect();
    seen.insert("bad_json");
    seen.insert("bad_list");
    let all: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(seen, all, "a reason has no test");
    assert_eq!(outcome.sources.values().map(|s| s.accepted).sum::<u64>(), 3);
}

#[test]
fn refunds_and_zero_amounts_are_kept_and_flagged() {
    let orders = format!(
        "{ORDERS_HEADER}O1,C1,2024-05-01 10:00:00,19.99,web,,\nO2,C1,2024-05-03 10:00:00,-19.99,web,,\nO3,C2,2024-05-04 10:00:00,0,store,,\n"
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let outcome = p.run(BASE_TOML).unwrap();
    let o = &outcome.sources[&tessera_core::SourceKind::Orders];
    assert_eq!((o.accepted, o.refunds, o.zero_amounts), (3, 1, 1));
    assert_eq!(
        p.ints("orders", "amount"),
        [Some(1999), Some(-1999), Some(0)]
    );
    use arrow_array::cast::AsArray;
    let flags: Vec<bool> = p
        .clean("orders")
        .iter()
        .flat_map(|b| {
            b.column_by_name("is_refund")
                .unwrap()
                .as_boolean()
                .iter()
                .map(Option::unwrap)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(flags, [false, true, false]);
}

#[test]
fn refunds_and_zero_amounts_of_withdrawn_rows_are_not_counted() {
    // O2 (a refund) and O3 (a zero amount) are each withdrawn by a later row with their id and
    // other content (on_conflict = reject): of the rows kept, one is a refund (O4), none zero.
    let orders = format!(
        "{ORDERS_HEADER}O1,C1,2024-05-01 10:00:00,19.99,web,,\nO2,C1,2024-05-03 10:00:00,-19.99,web,,\nO3,C2,2024-05-04 10:00:00,0,store,,\nO4,C2,2024-05-05 10:00:00,-5.00,web,,\nO2,C1,2024-05-03 10:00:00,-9.99,web,,\nO3,C2,2024-05-04 10:00:00,1.00,store,,\n"
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let outcome = p.run(BASE_TOML).unwrap();
    let o = &outcome.sources[&tessera_core::SourceKind::Orders];
    assert_eq!((o.accepted, o.rejected), (2, 4));
    assert_eq!((o.refunds, o.zero_amounts), (1, 0));
    assert_eq!(p.ints("orders", "amount"), [Some(1999), Some(-500)]);
    // The feature table's list of each order's customer row follows the rows kept.
    let rows = outcome.order_customers.unwrap();
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0], rows[1]);
}

#[test]
fn exact_duplicates_are_dropped_and_counted() {
    let row = "O1,C1,2024-05-01 10:00:00,19.99,web,,\n";
    // Same values written differently (19.990 vs 19.99) are the same row once parsed.
    let orders = format!("{ORDERS_HEADER}{row}{row}O1,C1,2024-05-01T10:00:00,19.990,web,,\n");
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let outcome = p.run(BASE_TOML).unwrap();
    let o = &outcome.sources[&tessera_core::SourceKind::Orders];
    assert_eq!((o.read, o.accepted, o.duplicates, o.rejected), (3, 1, 2, 0));
    assert_reconciles(&p, &outcome);
}

fn conflict_run(policy: &str) -> (Project, Vec<Option<i64>>, Vec<RejectRow>) {
    let orders = format!(
        "{ORDERS_HEADER}O1,C1,2024-05-01 10:00:00,10.00,web,,\nO2,C1,2024-05-01 11:00:00,5.00,web,,\nO1,C1,2024-05-01 10:00:00,12.00,web,,\n"
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let toml = BASE_TOML.replace(
        "[sources.orders]\n",
        &format!("[sources.orders]\non_conflict = \"{policy}\"\n"),
    );
    let outcome = p.run(&toml).unwrap();
    assert_reconciles(&p, &outcome);
    let amounts = p.ints("orders", "amount");
    let rejects = p.rejects();
    (p, amounts, rejects)
}

#[test]
fn conflict_policies() {
    let (_p, amounts, rejects) = conflict_run("reject");
    assert_eq!(amounts, [Some(500)]);
    assert_eq!(
        rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect::<Vec<_>>(),
        [(2, "conflicting_duplicate"), (4, "conflicting_duplicate")]
    );
    assert_eq!(rejects[0].raw, "O1,C1,2024-05-01 10:00:00,10.00,web,,");
    assert_eq!(rejects[1].raw, "O1,C1,2024-05-01 10:00:00,12.00,web,,");

    let (_p, amounts, rejects) = conflict_run("first");
    assert_eq!(amounts, [Some(1000), Some(500)]);
    assert_eq!(rejects.iter().map(|r| r.line).collect::<Vec<_>>(), [4]);

    let (_p, amounts, rejects) = conflict_run("last");
    assert_eq!(amounts, [Some(500), Some(1200)]);
    assert_eq!(rejects.iter().map(|r| r.line).collect::<Vec<_>>(), [2]);
    assert!(rejects[0].message.contains("on_conflict = last"));
}

#[test]
fn unknown_customers_can_be_created() {
    let orders = format!(
        "{ORDERS_HEADER}O1,C9,2024-05-01 10:00:00,10.00,web,,\nO2,C9,2024-05-02 10:00:00,10.00,web,,\n"
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let toml = BASE_TOML.replace("[project]\n", "[project]\nunknown_customers = \"create\"\n");
    let outcome = p.run(&toml).unwrap();
    assert_reconciles(&p, &outcome);
    let c = &outcome.sources[&tessera_core::SourceKind::Customers];
    assert_eq!((c.accepted, c.created, c.rows_written), (3, 1, 4));
    assert_eq!(
        p.strings("customers", "customer_id"),
        [
            Some("C1".into()),
            Some("C2".into()),
            Some("C3".into()),
            Some("C9".into())
        ]
    );
    assert_eq!(p.ints("customers", "age").last(), Some(&None));
}

#[test]
fn strict_mode_stops_at_the_first_bad_row_with_its_position() {
    let orders = format!(
        "{ORDERS_HEADER}O1,C1,2024-05-01 10:00:00,19.99,web,,\nO2,C1,2024-05-01 10:00:00,1x,web,,\nO3,C1,bad,1,web,,\n"
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let err = p.run_with(BASE_TOML, true).unwrap_err();
    assert!(err.is_input_error());
    // Line 3, column 27: `1x` starts after "O2,C1,2024-05-01 10:00:00,".
    assert_eq!(
        err.to_string(),
        "orders.csv:3:27: bad_money: amount: `1x` is not an amount"
    );
}

#[test]
fn missing_column_names_the_header_line_and_suggests() {
    let p = Project::new(&[
        ("customers.csv", b"ID,signup,age,country,vip\nC1,,,,\n"),
        ("orders.csv", ORDERS_HEADER.as_bytes()),
    ]);
    let err = p.run(BASE_TOML).unwrap_err();
    assert_eq!(
        err.to_string(),
        "customers.csv:1: column `id` for customer_id is not in the header; did you mean `ID`?"
    );
}
