//! A `list` attribute end to end: read from a CSV cell, tested with `contains` by the run's batch
//! evaluation and by `tessera explain` (the row path), compiled to SQL, and exported to CSV with
//! its items joined as they were read. The expected members are worked out in the test from the
//! fixture's own text.

mod common;

use arrow_array::cast::AsArray;
use common::{csv_maps, read_parquet, run_ok};

const CUSTOMERS: &str = "id,signup,interests,email_ok\n\
C1,2024-01-05,golf;travel,true\n\
C2,2024-02-10,wine,true\n\
C3,2024-03-15,,true\n\
C4,2024-03-20,travel; golf ;wine,false\n\
C5,2024-04-01,=cmd;travel,true\n";

const ORDERS: &str = "oid,cid,at,total\n\
O1,C1,2024-05-01 10:00:00,19.99\n\
O2,C2,2024-05-02 10:00:00,5.00\n\
O3,C4,2024-05-03 10:00:00,12.00\n";

const TOML: &str = r#"
[project]
time_zone = "UTC"

[sources.customers]
path = "customers.csv"
columns = { customer_id = "id", signed_up_at = "signup" }
attributes.interests = { column = "interests", type = "list" }
attributes.email_ok = { column = "email_ok", type = "bool" }

[sources.orders]
path = "orders.csv"
columns = { order_id = "oid", customer_id = "cid", ordered_at = "at", amount = "total" }

[segments.golfers]
rule = 'interests contains "golf"'

[segments.golf_travellers]
rule = 'interests contains "golf" and interests contains "travel"'

[segments.no_wine]
rule = 'not (interests contains "wine")'

[consent]
email = "email_ok"

[exports.travel_mail]
segment = "travellers"
channel = "email"
fields = ["customer_id", "interests"]

[segments.travellers]
rule = 'interests contains "travel"'
"#;

/// Each customer's interests as the fixture writes them: split at `;`, trimmed, empty items
/// left out; `None` for an empty cell.
fn interests() -> Vec<(String, Option<Vec<String>>)> {
    CUSTOMERS
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let items = (!cells[2].is_empty()).then(|| {
                cells[2]
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            });
            (cells[0].to_string(), items)
        })
        .collect()
}

#[test]
fn list_attributes_are_read_tested_explained_compiled_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customers.csv"), CUSTOMERS).unwrap();
    std::fs::write(dir.path().join("orders.csv"), ORDERS).unwrap();
    std::fs::write(dir.path().join("tessera.toml"), TOML).unwrap();
    run_ok(
        dir.path(),
        &["--quiet", "run", "--out", "out", "--as-of", "2024-06-01"],
    );

    let has =
        |items: &Option<Vec<String>>, x: &str| items.as_ref().map(|l| l.iter().any(|i| i == x));
    let expected = |name: &str, id: &str| -> bool {
        let (_, items) = interests().into_iter().find(|(c, _)| c == id).unwrap();
        // Three-valued: a null list makes `contains` unknown, and unknown is "not a member".
        match name {
            "golfers" => has(&items, "golf") == Some(true),
            "golf_travellers" => {
                has(&items, "golf") == Some(true) && has(&items, "travel") == Some(true)
            }
            "no_wine" => has(&items, "wine") == Some(false),
            "travellers" => has(&items, "travel") == Some(true),
            _ => unreachable!(),
        }
    };

    // The batch path: the run's assignments.
    let batch = read_parquet(&dir.path().join("out/assignments.parquet"));
    let ids = batch
        .column_by_name("customer_id")
        .unwrap()
        .as_string::<i32>();
    let segs = batch.column_by_name("segments").unwrap().as_list::<i32>();
    for r in 0..batch.num_rows() {
        let id = ids.value(r);
        let list = segs.value(r);
        let names: Vec<&str> = list.as_string::<i32>().iter().map(Option::unwrap).collect();
        for name in ["golfers", "golf_travellers", "no_wine", "travellers"] {
            assert_eq!(names.contains(&name), expected(name, id), "{id} {name}");
        }
    }
    assert_eq!(batch.num_rows(), 5);

    // The row path: explain, customer by customer, with the list shown.
    for (id, _) in interests() {
        let out = run_ok(
            dir.path(),
            &["explain", "--run", "out", "--customer", &id, "--json"],
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for e in doc["segments"].as_array().unwrap() {
            let name = e["segment"].as_str().unwrap();
            assert_eq!(
                e["member"].as_bool().unwrap(),
                expected(name, &id),
                "{id} {name}"
            );
        }
    }
    let out = run_ok(
        dir.path(),
        &[
            "explain",
            "--run",
            "out",
            "--customer",
            "C4",
            "--segment",
            "golfers",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#"["travel", "golf", "wine"]"#), "{text}");

    // Each dialect has its own list test.
    for (dialect, form) in [
        ("duckdb", "list_contains("),
        ("postgres", "= ANY("),
        ("datafusion", "array_has("),
    ] {
        let out = run_ok(
            dir.path(),
            &[
                "sql",
                "--run",
                "out",
                "--segment",
                "golfers",
                "--dialect",
                dialect,
            ],
        );
        let sql = String::from_utf8(out.stdout).unwrap();
        assert!(sql.contains(form), "{dialect}: {sql}");
    }

    // The export holds the consenting travellers, their interests joined with `;` and
    // neutralised like any text cell.
    let rows = csv_maps(&dir.path().join("out/exports/travel_mail.csv"));
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["customer_id"].as_str(), r["interests"].as_str()))
        .collect();
    assert_eq!(got, [("C1", "golf;travel"), ("C5", "'=cmd;travel")]);
}
