//! Inputs at the edges: empty files, header-only files, files that end without a newline,
//! a failed run leaving no partial outputs behind. Expected values follow from the fixtures.

mod common;
use common::*;
use tessera_core::SourceKind;

const MINIMAL: &str = "[sources.customers]\npath = \"customers.csv\"\n";

#[test]
fn a_header_only_file_has_no_rows() {
    let p = Project::new(&[("customers.csv", b"customer_id,signed_up_at\n")]);
    let outcome = p.run(MINIMAL).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(outcome.sources[&SourceKind::Customers].read, 0);
    assert_eq!(p.clean_rows("customers"), 0);
}

#[test]
fn an_empty_file_is_an_input_error_naming_it() {
    let p = Project::new(&[("customers.csv", b"")]);
    let err = p.run(MINIMAL).unwrap_err();
    assert!(err.is_input_error());
    assert_eq!(
        err.to_string(),
        "customers.csv:1: the file is empty: no header"
    );
}

#[test]
fn the_last_row_may_lack_a_newline() {
    let p = Project::new(&[("customers.csv", b"customer_id\nC1\nC2")]);
    let outcome = p.run(MINIMAL).unwrap();
    assert_eq!(outcome.sources[&SourceKind::Customers].accepted, 2);
    assert_eq!(
        p.strings("customers", "customer_id"),
        [Some("C1".into()), Some("C2".into())]
    );
}

#[test]
fn whitespace_ids_are_empty_but_spaces_inside_are_kept() {
    let p = Project::new(&[("customers.csv", b"customer_id\n  \nC 1\n")]);
    let outcome = p.run(MINIMAL).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(p.rejects()[0].reason, "empty_id");
    assert_eq!(p.strings("customers", "customer_id"), [Some("C 1".into())]);
}

#[test]
fn a_failed_run_leaves_no_partial_files() {
    let p = Project::new(&[("customers.csv", b"customer_id\nC1\n")]);
    let toml = format!("{MINIMAL}[sources.orders]\npath = \"missing.csv\"\n");
    let err = p.run(&toml).unwrap_err();
    assert!(
        err.to_string().contains("missing.csv does not exist"),
        "{err}"
    );
    let mut left: Vec<String> = walk(&p.out());
    left.sort();
    assert!(left.iter().all(|f| !f.contains(".part")), "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn as_of_defaults_to_the_day_after_the_latest_event_in_the_project_zone() {
    // 23:30 UTC on 2024-03-05 is 00:30 on 2024-03-06 in Berlin: as_of is 2024-03-07 there.
    let p = Project::new(&[
        ("customers.csv", b"customer_id\nC1\n"),
        (
            "orders.csv",
            b"order_id,customer_id,ordered_at,amount\nO1,C1,2024-03-05T23:30:00Z,1\n",
        ),
        // Feedback given later does not move as_of: it follows orders and events.
        (
            "feedback.csv",
            b"feedback_id,customer_id,given_at,score\nF1,C1,2024-06-01,9\n",
        ),
    ]);
    let toml = "[project]\ntime_zone = \"Europe/Berlin\"\n[sources.customers]\npath = \"customers.csv\"\n[sources.orders]\npath = \"orders.csv\"\n[sources.feedback]\npath = \"feedback.csv\"\n";
    let outcome = p.run(toml).unwrap();
    let config = p.config(toml);
    let day = outcome.default_as_of(&config).unwrap();
    assert_eq!(
        tessera_core::value::days_to_date(day).to_string(),
        "2024-03-07"
    );
}
