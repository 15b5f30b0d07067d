//! `IngestOutcome::order_customers`, the customer row of every clean order handed to the feature
//! table: checked against the clean tables themselves (the customer id at that row of
//! `customers.parquet` is the order's `customer_id`), with customer and order rows withdrawn after
//! staging under every conflict policy, and absent when customers are made up on the way.

mod common;
use common::*;

fn check_rows(p: &Project, rows: &[u32]) {
    let customers = p.strings("customers", "customer_id");
    let orders = p.strings("orders", "customer_id");
    assert_eq!(rows.len(), orders.len(), "a row per clean order");
    for (i, (&row, id)) in rows.iter().zip(&orders).enumerate() {
        assert_eq!(customers[row as usize], *id, "order row {i}");
    }
}

const CUSTOMERS: &str = "id,signup,age,country,vip\n\
C1,2024-01-05,34,DE,yes\n\
C2,2024-02-10,51,FR,no\n\
C3,2024-03-15,,NL,\n\
C2,2024-02-10,52,FR,no\n\
C4,2024-03-16,40,DE,no\n\
C5,2024-03-17,41,DE,no\n";

fn orders() -> String {
    format!(
        "{ORDERS_HEADER}O1,C1,2024-05-01 10:00:00,19.99,web,,\n\
O2,C4,2024-05-02 10:00:00,5.00,web,,\n\
O3,C3,2024-05-03 10:00:00,7.00,store,,\n\
O4,C2,2024-05-03 11:00:00,8.00,store,,\n\
O2,C4,2024-05-02 10:00:00,6.00,web,,\n\
O5,C5,2024-05-04 10:00:00,9.00,web,,\n\
O6,C1,2024-05-05 10:00:00,1.00,web,,\n"
    )
}

#[test]
fn each_clean_order_points_at_its_customers_row_under_every_conflict_policy() {
    for policy in ["reject", "first", "last"] {
        let p = Project::new(&[
            ("customers.csv", CUSTOMERS.as_bytes()),
            ("orders.csv", orders().as_bytes()),
        ]);
        let toml = BASE_TOML.replace(
            "[project]\n",
            &format!("[project]\non_conflict = \"{policy}\"\n"),
        );
        let outcome = p.run(&toml).unwrap();
        assert_reconciles(&p, &outcome);
        let rows = outcome
            .order_customers
            .as_deref()
            .expect("no customer made up");
        check_rows(&p, rows);
        // Under "reject" C2 and O2 are withdrawn after staging: later rows move up.
        let expected_orders = match policy {
            "reject" => 4,
            _ => 6,
        };
        assert_eq!(rows.len(), expected_orders, "{policy}");
    }
}

#[test]
fn made_up_customers_leave_the_lookup_to_the_feature_table() {
    let orders = format!(
        "{ORDERS_HEADER}O1,C1,2024-05-01 10:00:00,19.99,web,,\nO2,C9,2024-05-02 10:00:00,5.00,web,,\n"
    );
    let p = Project::new(&[
        ("customers.csv", CUSTOMERS_CSV.as_bytes()),
        ("orders.csv", orders.as_bytes()),
    ]);
    let toml = BASE_TOML.replace(
        "[sources.orders]\n",
        "[sources.orders]\nunknown_customers = \"create\"\n",
    );
    let outcome = p.run(&toml).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(p.clean_rows("orders"), 2);
    assert_eq!(outcome.order_customers, None);
}
