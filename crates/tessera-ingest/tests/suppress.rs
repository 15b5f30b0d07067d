//! Erasure: rows of a customer on the suppression list are dropped from every source before any
//! other check, counted as `suppressed`, and their id is in no file written. Every expected count
//! follows from the fixture rows below, each commented with what becomes of it (line N is the
//! Nth physical line of its file; line 1 is the CSV header).

mod common;
use common::*;
use std::sync::Arc;
use tessera_core::SourceKind;
use tessera_core::suppress::Suppression;
use tessera_ingest::{IngestOptions, Reason, SourceReport};

const SALT: &[u8] = b"test salt";

fn forget(ids: &[&str]) -> IngestOptions {
    let hashes = ids.iter().map(|id| Suppression::hash_with(SALT, id));
    IngestOptions {
        suppress: Some(Arc::new(Suppression::new(SALT.to_vec(), hashes))),
        ..IngestOptions::default()
    }
}

/// The forgotten customer is C-2, not C2: `C2` happens to occur in the base64 Arrow schema that
/// every `clean/orders.parquet` carries in its footer, whatever its rows, so a byte scan for it
/// could never pass. `-` is no base64 character.
///
/// Customers C-1..C-4; C-2 has a good row, a row with a bad age and a ragged row.
const CUSTOMERS: &str = concat!(
    "id,signup,age,country,vip\n", // 1 header
    "C-1,2024-01-05,34,DE,yes\n",  // 2 accepted
    "C-2,2024-02-10,51,FR,no\n",   // 3 C-2: suppressed (else accepted)
    "C-2,2024-02-10,abc,FR,no\n",  // 4 C-2, bad age: suppressed (else bad_int)
    "C-3,2024-03-15,,NL,\n",       // 5 accepted
    "C-4,2024-03-16,200,DE,yes\n", // 6 rejected out_of_range
    "C-2,2024-02-10,51\n",         // 7 C-2, ragged: suppressed (else ragged_row)
);

const ORDERS: &str = concat!(
    "oid,cid,at,total,channel,rating,shipped\n",
    "O1,C-1,2024-05-01 10:00:00,19.99,web,4.5,2024-05-03\n", // 2 accepted
    "O2,C-2,2024-05-02 10:00:00,5.00,web,4,\n",              // 3 C-2: suppressed (else accepted)
    "O3,C-2,2024-05-03 10:00:00,5.0.0,web,4,\n", // 4 C-2, bad amount: suppressed (else bad_money)
    "O4,C-2,2024-05-04 10:00:00,-7.00,store,4,\n", // 5 C-2 refund: suppressed (else accepted, a refund)
    "O5,C-3,2024-05-05 10:00:00,abc,web,4,\n",     // 6 rejected bad_money
    "O1,C-1,2024-05-01 10:00:00,19.99,web,4.5,2024-05-03\n", // 7 exact duplicate of line 2
    "O6,C-2,2024-05-06 10:00:00,1.00,web\n",       // 8 C-2, ragged: suppressed (else ragged_row)
    "O7,C-3,2024-05-07 10:00:00,12.50,store,,\n",  // 9 accepted
);

const EVENTS: &str = concat!(
    "{\"id\":\"E1\",\"user\":{\"id\":\"C-1\"},\"ts\":\"2024-05-01T10:00:00Z\",\"event\":\"page_view\"}\n", // 1 accepted
    "{\"id\":\"E2\",\"user\":{\"id\":\"C-2\"},\"ts\":\"2024-05-01T11:00:00Z\",\"event\":\"search\"}\n", // 2 C-2: suppressed (else accepted)
    "{\"id\":\"E3\",\"user\":{\"id\":\"C-2\"},\"ts\":\"2024-05-01T12:00:00Z\",\"event\":\"x\",\"props\":[1]}\n", // 3 C-2, props not an object: suppressed (else bad_json)
    "{\"id\":\"E4\",\"user\":{\"id\":\"C-2\"},\"ts\":\"2024-05-01T13:00:00Z\",\"event\":\"search\"\n", // 4 C-2, cut short: suppressed (else bad_json)
    "{\"id\":\"E5\",\"user\":{\"id\":\"C-3\"},\"ts\":\"2024-05-02T10:00:00Z\",\"event\":\"search\"}\n", // 5 accepted
    "{\"id\":\"E6\",\"user\":{\"id\":\"C-3\"},\"ts\":\"yesterday\",\"event\":\"search\"}\n", // 6 rejected bad_timestamp
);

fn toml() -> String {
    format!(
        "{BASE_TOML}\n[sources.events]\npath = \"events.ndjson\"\ncolumns = {{ event_id = \"id\", customer_id = \"user.id\", occurred_at = \"ts\", name = \"event\", properties = \"props\" }}\n"
    )
}

fn project() -> Project {
    Project::new(&[
        ("customers.csv", CUSTOMERS.as_bytes()),
        ("orders.csv", ORDERS.as_bytes()),
        ("events.ndjson", EVENTS.as_bytes()),
    ])
}

/// (read, accepted, rejected, duplicates, suppressed)
fn counts(r: &SourceReport) -> (u64, u64, u64, u64, u64) {
    (r.read, r.accepted, r.rejected, r.duplicates, r.suppressed)
}

fn files_containing(p: &Project, needle: &[u8]) -> Vec<String> {
    p.out_files()
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn a_suppressed_customer_leaves_no_trace_in_any_source() {
    let p = project();
    let outcome = p.run_opts(&toml(), &forget(&["C-2"])).unwrap();
    assert_reconciles(&p, &outcome);
    let s = &outcome.sources;

    // Customers: lines 2 and 5 accepted, 6 rejected, 3, 4 and 7 suppressed.
    assert_eq!(counts(&s[&SourceKind::Customers]), (6, 2, 1, 0, 3));
    // Orders: lines 2 and 9 accepted, 6 rejected, 7 a duplicate, 3, 4, 5 and 8 suppressed.
    assert_eq!(counts(&s[&SourceKind::Orders]), (8, 2, 1, 1, 4));
    // Events: lines 1 and 5 accepted, 6 rejected, 2, 3 and 4 suppressed.
    assert_eq!(counts(&s[&SourceKind::Events]), (6, 2, 1, 0, 3));
    // C-2's refund (orders line 5) is not counted as a refund, nor C-2 as made up.
    assert_eq!(s[&SourceKind::Orders].refunds, 0);
    assert_eq!(s[&SourceKind::Customers].created, 0);

    // The other customers are as they would be without the list.
    assert_eq!(
        p.strings("customers", "customer_id"),
        [Some("C-1".into()), Some("C-3".into())]
    );
    assert_eq!(
        p.strings("orders", "order_id"),
        [Some("O1".into()), Some("O7".into())]
    );
    assert_eq!(
        p.strings("events", "event_id"),
        [Some("E1".into()), Some("E5".into())]
    );
    let rejects: Vec<(String, u64, String)> = p
        .rejects()
        .into_iter()
        .map(|r| (r.file, r.line, r.reason))
        .collect();
    assert_eq!(
        rejects,
        [
            ("customers.csv".into(), 6, "out_of_range".into()),
            ("orders.csv".into(), 6, "bad_money".into()),
            ("events.ndjson".into(), 6, "bad_timestamp".into()),
        ]
    );
    assert_eq!(
        s[&SourceKind::Orders]
            .rejects_by_reason
            .get(&Reason::UnknownCustomer),
        None
    );

    // Not a byte of any file written names C-2.
    let names: Vec<String> = p.out_files().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "clean/customers.parquet",
            "clean/events.parquet",
            "clean/orders.parquet",
            "rejects.csv"
        ]
    );
    assert_eq!(files_containing(&p, b"C-2"), Vec::<String>::new());
}

#[test]
fn without_a_list_or_with_an_empty_one_nothing_is_suppressed() {
    let empty = IngestOptions {
        suppress: Some(Arc::new(Suppression::new(SALT.to_vec(), []))),
        ..IngestOptions::default()
    };
    for opts in [IngestOptions::default(), empty, forget(&["C-9"])] {
        let p = project();
        let outcome = p.run_opts(&toml(), &opts).unwrap();
        assert_reconciles(&p, &outcome);
        let s = &outcome.sources;
        // Customers: 2, 3 and 5 accepted; 4 (bad_int), 6 (out_of_range), 7 (ragged) rejected.
        assert_eq!(counts(&s[&SourceKind::Customers]), (6, 3, 3, 0, 0));
        // Orders: 2, 3, 5 and 9 accepted; 4 and 6 (bad_money), 8 (ragged) rejected; 7 a duplicate.
        assert_eq!(counts(&s[&SourceKind::Orders]), (8, 4, 3, 1, 0));
        assert_eq!(s[&SourceKind::Orders].refunds, 1);
        // Events: 1, 2 and 5 accepted; 3 and 4 (bad_json), 6 (bad_timestamp) rejected.
        assert_eq!(counts(&s[&SourceKind::Events]), (6, 3, 3, 0, 0));
        assert_eq!(
            p.strings("customers", "customer_id"),
            [Some("C-1".into()), Some("C-2".into()), Some("C-3".into())]
        );
        // The byte scan above would see C-2: here it is in every file written.
        assert_eq!(
            files_containing(&p, b"C-2"),
            [
                "clean/customers.parquet",
                "clean/events.parquet",
                "clean/orders.parquet",
                "rejects.csv"
            ]
        );
    }
}

#[test]
fn an_order_of_a_suppressed_customer_does_not_make_them_up() {
    let customers = concat!(
        "id,signup,age,country,vip\n",
        "C-1,2024-01-05,34,DE,yes\n", // 2 accepted
    );
    let orders = concat!(
        "oid,cid,at,total,channel,rating,shipped\n",
        "O1,C-1,2024-05-01 10:00:00,19.99,web,4.5,\n", // 2 accepted
        "O2,C-2,2024-05-02 10:00:00,5.00,web,4,\n",    // 3 C-2: suppressed (else creates C-2)
        "O3,C-2,2024-05-03 10:00:00,6.00,web,4,\n",    // 4 C-2: suppressed
        "O4,C-5,2024-05-04 10:00:00,7.00,web,4,\n",    // 5 unknown C-5: accepted, creates C-5
    );
    let p = Project::new(&[
        ("customers.csv", customers.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let toml = BASE_TOML.replace("[project]\n", "[project]\nunknown_customers = \"create\"\n");
    let outcome = p.run_opts(&toml, &forget(&["C-2"])).unwrap();
    assert_reconciles(&p, &outcome);
    let s = &outcome.sources;
    assert_eq!(counts(&s[&SourceKind::Orders]), (4, 2, 0, 0, 2));
    assert_eq!(counts(&s[&SourceKind::Customers]), (1, 1, 0, 0, 0));
    assert_eq!(s[&SourceKind::Customers].created, 1);
    assert_eq!(
        p.strings("customers", "customer_id"),
        [Some("C-1".into()), Some("C-5".into())]
    );
    assert_eq!(files_containing(&p, b"C-2"), Vec::<String>::new());
}

#[test]
fn a_suppressed_row_is_no_error_in_strict_mode() {
    let customers = concat!(
        "id,signup,age,country,vip\n",
        "C-1,2024-01-05,34,DE,yes\n", // 2 accepted
        "C-2,2024-02-10,abc,FR,no\n", // 3 C-2, bad age: suppressed (else stops the run)
    );
    let p = Project::new(&[
        ("customers.csv", customers.as_bytes()),
        ("orders.csv", ORDERS_HEADER.as_bytes()),
    ]);
    let opts = IngestOptions {
        strict: true,
        ..forget(&["C-2"])
    };
    let outcome = p.run_opts(BASE_TOML, &opts).unwrap();
    assert_eq!(
        counts(&outcome.sources[&SourceKind::Customers]),
        (2, 1, 0, 0, 1)
    );
    assert!(
        p.run_with(BASE_TOML, true)
            .unwrap_err()
            .to_string()
            .contains("age")
    );
}
