//! `tessera features` end to end on the CDNOW sample (Fader, Hardie & Lee 2005): the raw purchase
//! log goes through ingest and the feature table, and every customer's (x, t_x, T) equals the
//! published summary (`cdnow_customers_summary_with_transactions.csv`, rounded to 2 decimals).

mod common;

use std::collections::HashMap;

const CDNOW: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tessera-features/tests/fixtures/cdnow"
);

#[test]
fn cdnow_summaries_come_out_of_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read_to_string(format!("{CDNOW}/CDNOW_sample.txt")).unwrap();
    let mut orders = String::from("order_id,customer_id,ordered_at,amount\n");
    let mut customers: Vec<String> = Vec::new();
    for (i, line) in log.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (y, m, d) = (&f[2][..4], &f[2][4..6], &f[2][6..]);
        orders.push_str(&format!("O{i},{},{y}-{m}-{d},{}\n", f[1], f[4]));
        customers.push(f[1].to_string());
    }
    customers.sort();
    customers.dedup();
    std::fs::write(dir.path().join("orders.csv"), orders).unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        format!("customer_id\n{}\n", customers.join("\n")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n",
    )
    .unwrap();
    // Calibration ends on 1997-09-30 included: as_of is the day after.
    let got: HashMap<u32, (String, String, String)> =
        common::features_csv(dir.path(), "1997-10-01")
            .into_iter()
            .map(|row| {
                (
                    row["customer_id"].parse().unwrap(),
                    (row["x"].clone(), row["t_x"].clone(), row["T"].clone()),
                )
            })
            .collect();
    let mut expected = csv::Reader::from_path(format!(
        "{CDNOW}/cdnow_customers_summary_with_transactions.csv"
    ))
    .unwrap();
    let mut n = 0;
    for rec in expected.records() {
        let rec = rec.unwrap();
        let (gx, gtx, gt) = &got[&rec[0].parse::<u32>().unwrap()];
        let round = |s: &str| format!("{:.2}", s.parse::<f64>().unwrap());
        assert_eq!(
            (gx.as_str(), round(gtx), round(gt)),
            (&rec[1], round(&rec[2]), round(&rec[3])),
            "customer {}",
            &rec[0]
        );
        n += 1;
    }
    assert_eq!(n, 2357);
    assert_eq!(got.len(), 2357);
}

#[test]
fn tenure_counts_from_the_first_day_the_customer_was_seen_before_as_of() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "customer_id,signed_up_at\n\
         refund_only,\n\
         refund_first,2025-12-20\n\
         signs_up_later,2026-01-05\n\
         buys_then_signs_up,2026-02-01\n\
         buys_later,2025-06-01\n\
         zero_order,\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount\n\
         1,refund_only,2025-12-01,-5.00\n\
         2,refund_first,2025-11-01,-3.00\n\
         3,refund_first,2025-12-25,20.00\n\
         4,buys_then_signs_up,2025-12-31,9.00\n\
         5,buys_later,2026-01-03,9.00\n\
         6,zero_order,2025-12-10,0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n",
    )
    .unwrap();
    let got: HashMap<String, String> = common::features_csv(dir.path(), "2026-01-01")
        .into_iter()
        .map(|row| (row["customer_id"].clone(), row["tenure_days"].clone()))
        .collect();
    // Days from the first day seen to as_of 2026-01-01, counted by hand: a refund or an order of
    // zero is an order the customer was seen at; a sign-up on or after as_of has not happened.
    let expected = [
        ("refund_only", "31"),       // refund 2025-12-01
        ("refund_first", "61"),      // refund 2025-11-01, before sign-up and purchase
        ("signs_up_later", ""),      // seen only after as_of
        ("buys_then_signs_up", "1"), // order 2025-12-31
        ("buys_later", "214"),       // sign-up 2025-06-01; the order is after as_of
        ("zero_order", "22"),        // order of zero 2025-12-10
    ];
    for (id, tenure) in expected {
        assert_eq!(got[id], tenure, "{id}");
    }
}

#[test]
fn the_event_columns_are_the_names_most_frequent_before_as_of() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer_id\na\nb\n").unwrap();
    // Sixteen names twice each before as_of (and `n00` once more), then a seventeenth, the most
    // frequent of all, only on and after as_of.
    let mut events = String::from("event_id,customer_id,occurred_at,name\n");
    let mut id = 0;
    let mut event = |customer: &str, day: &str, name: &str| {
        id += 1;
        events.push_str(&format!("E{id},{customer},{day}T12:00:00Z,{name}\n"));
    };
    for k in 0..16 {
        let name = format!("n{k:02}");
        event("a", "2025-12-01", &name);
        event("b", "2025-12-30", &name);
    }
    event("a", "2025-06-01", "n00");
    for day in ["2026-01-01", "2026-01-02", "2026-02-01"] {
        for customer in ["a", "b"] {
            event(customer, day, "launched_later");
        }
    }
    std::fs::write(dir.path().join("events.csv"), events).unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[sources.customers]\npath = \"customers.csv\"\n[sources.events]\npath = \"events.csv\"\n",
    )
    .unwrap();
    let rows = common::features_csv(dir.path(), "2026-01-01");
    let mut columns: Vec<&str> = rows[0]
        .keys()
        .map(String::as_str)
        .filter(|c| c.starts_with("events_") && c.ends_with("_365d"))
        .collect();
    columns.sort_unstable();
    let expected: Vec<String> = (0..16).map(|k| format!("events_n{k:02}_365d")).collect();
    assert_eq!(columns, expected);
    // Counted in windows: `a`'s n00 events are 31 and 214 days before as_of, `b`'s n15 2 days.
    let a = rows.iter().find(|r| r["customer_id"] == "a").unwrap();
    let b = rows.iter().find(|r| r["customer_id"] == "b").unwrap();
    assert_eq!(
        [
            &a["events_n00_30d"],
            &a["events_n00_90d"],
            &a["events_n00_365d"]
        ],
        ["0", "1", "2"]
    );
    assert_eq!(
        [
            &b["events_n15_30d"],
            &b["events_n15_90d"],
            &b["events_n15_365d"]
        ],
        ["1", "1", "1"]
    );
}

#[test]
fn only_categories_bought_before_as_of_get_share_columns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer_id\na\nb\n").unwrap();
    // Before as_of: purchases in `shoes` and `hats`, a refund only in `boots`. On and after
    // it: `Shoes` (the same column name once lower-cased) and `later`, bought only then.
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount,category\n\
         1,a,2025-12-01,30.00,shoes\n\
         2,a,2025-12-02,10.00,hats\n\
         3,b,2025-12-03,-4.00,boots\n\
         4,b,2025-12-04,5.00,hats\n\
         5,a,2026-01-01,7.00,Shoes\n\
         6,b,2026-02-01,9.00,later\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n",
    )
    .unwrap();
    let rows = common::features_csv(dir.path(), "2026-01-01");
    let mut columns: Vec<&str> = rows[0]
        .keys()
        .map(String::as_str)
        .filter(|c| c.starts_with("category_share_"))
        .collect();
    columns.sort_unstable();
    assert_eq!(columns, ["category_share_hats", "category_share_shoes"]);
    // Shares of purchase spend before as_of, by hand: a 30 of 40 in shoes, b all 5 in hats.
    let a = rows.iter().find(|r| r["customer_id"] == "a").unwrap();
    let b = rows.iter().find(|r| r["customer_id"] == "b").unwrap();
    assert_eq!(
        [&a["category_share_shoes"], &a["category_share_hats"]],
        ["0.75", "0.25"]
    );
    assert_eq!(
        [&b["category_share_shoes"], &b["category_share_hats"]],
        ["0", "1"]
    );
}

#[test]
fn sums_beyond_what_an_amount_holds_stop_the_run_naming_the_customer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer_id\na\nb\n").unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[project]\nmoney_decimals = 9\n\
         [sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n",
    )
    .unwrap();
    let run = |orders: &str| {
        std::fs::write(
            dir.path().join("orders.csv"),
            format!("order_id,customer_id,ordered_at,amount\n{orders}"),
        )
        .unwrap();
        common::features_output(dir.path(), "2026-01-01")
    };
    // 5e9 at 9 decimals is 5e18 minor units; two of them exceed 2^63 - 1 (9.22e18).
    let out = run("1,b,2025-12-01,1\n2,a,2025-12-01,5000000000\n3,a,2025-12-02,5000000000\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "customer `a`: their purchases before as_of add up to more than an amount can hold"
        ),
        "{err}"
    );
    assert!(!dir.path().join("out/features.parquet").exists());
    let out = run("1,b,2025-12-01,-5000000000\n2,b,2025-12-02,-5000000000\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("customer `b`: their refunds before"), "{err}");
    // Each within range, and their sum too: the table is written.
    let out = run("1,a,2025-12-01,4000000000\n2,a,2025-12-02,5000000000\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn custom_features_stop_the_run_where_integers_would_wrap_past_64_bits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer_id\na\nb\n").unwrap();
    // At 2 decimals, 1e16 and 4e16 are 1e18 and 4e18 minor units: their sum, 5e18, fits in
    // 2^63 - 1 (9.22e18); ten times one of them, or the sum of each doubled (1e19), does not.
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount\n\
         1,a,2025-12-01,10000000000000000\n2,a,2025-12-02,40000000000000000\n3,b,2025-12-02,1\n",
    )
    .unwrap();
    let run = |expr: &str| {
        std::fs::write(
            dir.path().join("tessera.toml"),
            format!(
                "[sources.customers]\npath = \"customers.csv\"\n\
                 [sources.orders]\npath = \"orders.csv\"\n\
                 [features.custom]\nbig = \"{expr}\"\n"
            ),
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        common::features_output(dir.path(), "2026-01-01")
    };
    for (expr, says) in [
        (
            "sum(amount * 10)",
            "Overflow happened on: 1000000000000000000 * 10",
        ),
        (
            "sum(amount) * 2",
            "Overflow happened on: 5000000000000000000 * 2",
        ),
        (
            "sum(amount + amount)",
            "add up to more than a 64-bit integer holds",
        ),
        (
            "sum(distinct amount * 2)",
            "add up to more than a 64-bit integer holds",
        ),
    ] {
        let out = run(expr);
        assert_eq!(out.status.code(), Some(2), "{expr}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("tessera.toml:6:7: features.custom.big: over"),
            "{err}"
        );
        assert!(err.contains(says), "{expr}: {err}");
        assert!(!dir.path().join("out/features.parquet").exists(), "{expr}");
    }
    // Up to the limit the arithmetic is exact: a's 1e18 + 4e18 plus 2 orders, b's 100 plus 1.
    run("sum(amount) + count(*)");
    let rows = common::features_csv(dir.path(), "2026-01-01");
    let big: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r["customer_id"].as_str(), r["big"].as_str()))
        .collect();
    assert_eq!(big["a"], "5000000000000000002");
    assert_eq!(big["b"], "101");
}

#[test]
fn more_categories_than_the_table_tells_apart_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer_id\na\n").unwrap();
    // 65,536 distinct categories: one more than the feature table numbers.
    let mut orders = String::from("order_id,customer_id,ordered_at,amount,Dept\n");
    for k in 0..65_536 {
        orders.push_str(&format!("{k},a,2025-12-01,1.00,c{k}\n"));
    }
    std::fs::write(dir.path().join("orders.csv"), orders).unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[sources.customers]\npath = \"customers.csv\"\n\
         [sources.orders]\npath = \"orders.csv\"\ncolumns = { category = \"Dept\" }\n",
    )
    .unwrap();
    let out = common::features_output(dir.path(), "2026-01-01");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // The message names the user's file and column, not the clean table made from them.
    assert!(
        err.contains("error: orders.csv: more than 65535 distinct values of `Dept` (`c"),
        "{err}"
    );
    assert!(err.contains("map a coarser column to `category`"), "{err}");
    assert!(!dir.path().join("out/features.parquet").exists());
}
