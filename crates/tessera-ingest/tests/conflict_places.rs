//! The messages of conflicting rows name the file and line of the other row, and a row withdrawn
//! after staging is reported at its own file and line: across the files of a glob, past rejected
//! rows, exact copies and records that span lines. Expected places are read off the fixture
//! files below (line N is the Nth physical line of the file).

mod common;
use common::*;

const A: &str = "oid,cid,at,total,note\n\
O1,C1,2024-05-01 10:00:00,1.00,\"two\nlines\"\n\
O2,C2,2024-05-01 10:00:00,x,plain\n\
O3,C2,2024-05-02 10:00:00,2.00,plain\n\
O1,C1,2024-05-01 10:00:00,1.00,\"two\nlines\"\n\
O5,C3,2024-05-02 10:00:00,2.00,plain\n";
// a.csv: O1 on lines 2-3, O2 (bad amount) on 4, O3 on 5, a copy of O1 on 6-7, O5 on 8.

const B: &str = "oid,cid,at,total,note\n\
O4,C1,2024-05-03 10:00:00,3.00,\n\
O3,C2,2024-05-02 10:00:00,9.00,plain\n\
O3,C2,2024-05-02 10:00:00,10.00,plain\n\
O1,C1,2024-05-01 10:00:00,5.00,\"two\nlines\"\n";
// b.csv: O4 on 2, O3 (other amount) on 3, O3 (a third amount) on 4, O1 (other amount) on 5-6.

fn toml(policy: &str) -> String {
    format!(
        r#"
[project]
on_conflict = "{policy}"
batch_rows = 2

[sources.customers]
path = "customers.csv"
columns = {{ customer_id = "id", signed_up_at = "signup" }}

[sources.orders]
path = "orders/*.csv"
columns = {{ order_id = "oid", customer_id = "cid", ordered_at = "at", amount = "total" }}
attributes.note = {{ column = "note", type = "string" }}
"#
    )
}

/// (file, line, the place the message names) of each orders reject, sorted.
fn places(policy: &str) -> Vec<(String, u64, String)> {
    let p = Project::new(&[("customers.csv", CUSTOMERS_CSV.as_bytes())]);
    std::fs::create_dir(p.path().join("orders")).unwrap();
    std::fs::write(p.path().join("orders/a.csv"), A).unwrap();
    std::fs::write(p.path().join("orders/b.csv"), B).unwrap();
    let outcome = p.run(&toml(policy)).unwrap();
    assert_reconciles(&p, &outcome);
    let mut out: Vec<(String, u64, String)> = p
        .rejects()
        .into_iter()
        .filter(|r| r.source == "orders")
        .map(|r| {
            let place = r
                .message
                .split_whitespace()
                .find(|w| w.starts_with("orders/") || w.starts_with("(orders/"))
                .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string())
                .unwrap_or_default();
            (r.file, r.line, place)
        })
        .collect();
    out.sort();
    out
}

/// A reject's file, its line, and the place its message names.
type Place<'a> = (&'a str, u64, &'a str);

fn rows(expected: &[Place]) -> Vec<(String, u64, String)> {
    expected
        .iter()
        .map(|(f, l, p)| (f.to_string(), *l, p.to_string()))
        .collect()
}

#[test]
fn conflicts_name_the_other_rows_file_and_line_under_every_policy() {
    let cases: [(&str, &[Place]); 3] = [
        // reject: both rows of O3 and of O1 go; the third O3 finds the id already rejected,
        // first at the a.csv row.
        (
            "reject",
            &[
                ("orders/a.csv", 2, "orders/b.csv:5"),
                ("orders/a.csv", 4, ""),
                ("orders/a.csv", 5, "orders/b.csv:3"),
                ("orders/b.csv", 3, "orders/a.csv:5"),
                ("orders/b.csv", 4, "orders/a.csv:5"),
                ("orders/b.csv", 5, "orders/a.csv:2"),
            ],
        ),
        // first: the a.csv rows stay; each later row names the one kept.
        (
            "first",
            &[
                ("orders/a.csv", 4, ""),
                ("orders/b.csv", 3, "orders/a.csv:5"),
                ("orders/b.csv", 4, "orders/a.csv:5"),
                ("orders/b.csv", 5, "orders/a.csv:2"),
            ],
        ),
        // last: each earlier row is withdrawn naming the one that replaced it; the second O3 of
        // b.csv replaces the first.
        (
            "last",
            &[
                ("orders/a.csv", 2, "orders/b.csv:5"),
                ("orders/a.csv", 4, ""),
                ("orders/a.csv", 5, "orders/b.csv:3"),
                ("orders/b.csv", 3, "orders/b.csv:4"),
            ],
        ),
    ];
    for (policy, expected) in cases {
        assert_eq!(places(policy), rows(expected), "on_conflict = {policy}");
    }
}
