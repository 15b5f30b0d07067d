//! The real binary on small fixtures: exit codes, outputs on disk, messages.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn tessera(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const CONFIG: &str = r#"
[sources.customers]
path = "customers.csv"
[sources.orders]
path = "orders.csv"
"#;

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "customer_id,signed_up_at\nC1,2024-01-01\nC2,2024-01-02\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount\nO1,C1,2024-02-01T10:00:00Z,10.00\nO2,C2,2024-03-05T23:30:00Z,abc\nO3,C3,2024-02-01T10:00:00Z,1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("tessera.toml"), CONFIG).unwrap();
    dir
}

#[test]
fn run_writes_the_output_contract() {
    let dir = fixture();
    let out = tessera(
        &["run", "--config", "tessera.toml", "--out", "out", "--json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/run.json")).unwrap())
            .unwrap();
    assert_eq!(doc, on_disk);
    let orders = &doc["sources"]["orders"];
    assert_eq!(
        (
            orders["read"].as_u64(),
            orders["accepted"].as_u64(),
            orders["rejected"].as_u64()
        ),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(doc["sources"]["customers"]["accepted"], 2);
    // Only O1 (2024-02-01) is accepted, so as_of is the day after it.
    assert_eq!(doc["as_of"], "2024-02-02");
    assert_eq!(doc["config_hash"].as_str().unwrap().len(), 64);
    assert!(doc["stages"]["ingest"]["seconds"].as_f64().unwrap() >= 0.0);
    assert!(dir.path().join("out/clean/customers.parquet").is_file());
    assert!(dir.path().join("out/clean/orders.parquet").is_file());
    let rejects = std::fs::read_to_string(dir.path().join("out/rejects.csv")).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "source,file,line,column,reason,message,raw");
    assert!(
        lines[1].starts_with("orders,orders.csv,3,amount,bad_money,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("orders,orders.csv,4,customer_id,unknown_customer,"),
        "{}",
        lines[2]
    );
}

#[test]
fn as_of_flag_overrides_and_is_checked() {
    let dir = fixture();
    let out = tessera(
        &["run", "--out", "out", "--as-of", "2025-01-01", "--json"],
        dir.path(),
    );
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["as_of"], "2025-01-01");
    let out = tessera(
        &["run", "--out", "out", "--as-of", "01/01/2025"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--as-of 01/01/2025: expected YYYY-MM-DD"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn strict_exits_2_with_file_line_col() {
    let dir = fixture();
    let out = tessera(&["run", "--out", "out", "--strict"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: orders.csv:3:28: bad_money: amount: `abc` is not an amount"
    );
}

#[test]
fn config_errors_exit_2_with_line() {
    let dir = fixture();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[sources.customers]\npath = \"customers.csv\"\ndelimiter = \";\"\n",
    )
    .unwrap();
    let out = tessera(&["check", "--config", "bad.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: bad.toml:3:1: unknown field `delimiter`"),
        "{err}"
    );
    let out = tessera(&["check", "--config", "missing.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = tessera(&["run", "--bogus"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_prints_the_resolved_schema() {
    let dir = fixture();
    let out = tessera(&["check", "--config", "tessera.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("[orders] orders.csv (Csv, 1 file, time zone UTC)"),
        "{s}"
    );
    assert!(s.contains("amount           money"), "{s}");
    assert!(
        s.contains("orders.csv: no column for category, channel (left empty)"),
        "{s}"
    );
    let out = tessera(&["check", "--config", "tessera.toml", "--json"], dir.path());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["files"]["orders"][0]["file"], "orders.csv");
    assert_eq!(doc["files"]["orders"][0]["columns"][3], "amount");
    assert_eq!(doc["config"]["sources"][1]["fields"][3]["name"], "amount");
    assert_eq!(doc["config"]["sources"][1]["fields"][3]["type"], "money");
}

#[test]
fn quiet_prints_nothing_on_success() {
    let dir = fixture();
    let out = tessera(&["--quiet", "run", "--out", "out"], dir.path());
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn help_shows_examples() {
    let out = tessera(&["run", "--help"], Path::new("."));
    assert!(text(&out.stdout).contains("tessera run --config tessera.toml --out out"));
}

#[test]
fn demo_is_deterministic_and_audits_its_defects() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [&a, &b] {
        let out = tessera(
            &[
                "demo",
                "--out",
                "demo",
                "--customers",
                "300",
                "--seed",
                "9",
                "--dirty",
                "0.05",
                "--json",
            ],
            d.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc["defect_audit"]["missing"].as_array().map(Vec::len),
            Some(0),
            "{doc:#}"
        );
        assert!(doc["defects"].as_u64().unwrap() > 0);
    }
    for f in [
        "customers.csv",
        "orders.csv",
        "events.ndjson",
        "feedback.csv",
        "tessera.toml",
        "defects.csv",
        "out/rejects.csv",
    ] {
        let x = std::fs::read(a.path().join("demo").join(f)).unwrap();
        let y = std::fs::read(b.path().join("demo").join(f)).unwrap();
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
}

#[test]
fn on_conflict_flag_overrides_the_config() {
    let dir = fixture();
    std::fs::write(dir.path().join("orders.csv"), "order_id,customer_id,ordered_at,amount\nO1,C1,2024-02-01T10:00:00Z,10.00\nO1,C1,2024-02-01T10:00:00Z,12.00\n").unwrap();
    let accepted = |flag: &[&str]| {
        let mut args = vec!["run", "--out", "out", "--json"];
        args.extend_from_slice(flag);
        let out = tessera(&args, dir.path());
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            doc["sources"]["orders"]["accepted"].as_u64(),
            doc["sources"]["orders"]["rejected"].as_u64(),
        )
    };
    assert_eq!(accepted(&[]), (Some(0), Some(2)));
    assert_eq!(accepted(&["--on-conflict", "last"]), (Some(1), Some(1)));
    assert_eq!(accepted(&["--on-conflict", "first"]), (Some(1), Some(1)));
}

#[test]
fn check_finds_a_misspelt_column_before_any_run() {
    let dir = fixture();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amonut\n",
    )
    .unwrap();
    let out = tessera(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: orders.csv:1: column `amount` for amount is not in the header; did you mean `amonut`?"
    );
}

#[test]
fn custom_features_are_checked_before_any_data_is_read() {
    let dir = fixture();
    let config = |sql: &str| {
        std::fs::write(
            dir.path().join("tessera.toml"),
            format!("{CONFIG}[features.custom]\nbig = \"{sql}\"\n"),
        )
        .unwrap();
    };
    let custom_line = CONFIG.lines().count() + 2;
    let cases = [
        (
            "max(amout)",
            "No field named amout. Did you mean 'orders.amount'?",
        ),
        ("amount", "is not an aggregate"),
        (
            "max(amount)) from customers; --",
            "expected one SQL expression",
        ),
        ("max(amount) filter (where", "Expected"),
        // A constant and a window function aggregate nothing.
        ("1", "a constant or a window function"),
        ("count(*) over ()", "a constant or a window function"),
        // Subqueries read rows beyond the customer's own.
        (
            "max(amount) + (select count(*) from orders)",
            "reads rows of its own (a subquery)",
        ),
        (
            "bool_or(amount in (select amount from orders))",
            "reads rows of its own (a subquery)",
        ),
    ];
    for (sql, expected) in cases {
        config(sql);
        for args in [&["check"][..], &["run", "--out", "out"]] {
            let out = tessera(args, dir.path());
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{sql}: {err}");
            assert!(
                err.starts_with(&format!(
                    "error: tessera.toml:{custom_line}:7: features.custom.big: "
                )),
                "{sql}: {err}"
            );
            assert!(err.contains(expected), "{sql}: {err}");
            assert!(!dir.path().join("out/clean").exists(), "{sql}: ingest ran");
        }
    }
    // A name the feature table has, in any case, or makes from the data is refused with the
    // entry's position, by `check` too, before anything is read.
    let taken = [
        (
            "frequency",
            "is already a column of the feature table (`frequency`)",
        ),
        ("t", "is already a column of the feature table (`T`)"),
        (
            "spend_90d",
            "is already a column of the feature table (`spend_90d`)",
        ),
        (
            "category_share_shoes",
            "is a name the feature table gives its category columns",
        ),
        (
            "events_page_view_30d",
            "is a name the feature table gives its event columns",
        ),
    ];
    for (name, why) in taken {
        std::fs::write(
            dir.path().join("tessera.toml"),
            format!("{CONFIG}[features.custom]\n{name} = \"count(*)\"\n"),
        )
        .unwrap();
        for args in [&["check"][..], &["run", "--out", "out"]] {
            let out = tessera(args, dir.path());
            assert_eq!(out.status.code(), Some(2));
            let err = text(&out.stderr);
            assert!(
                err.starts_with(&format!(
                    "error: tessera.toml:{custom_line}:1: features.custom: `{name}` {why}"
                )),
                "{err}"
            );
            assert!(!dir.path().join("out/clean").exists(), "{name}: ingest ran");
        }
    }
    // Names the data could make but the windows do not are free.
    std::fs::write(
        dir.path().join("tessera.toml"),
        format!("{CONFIG}[features.custom]\nevents_total = \"count(*)\"\ncategory_count = \"count(distinct category)\"\n"),
    )
    .unwrap();
    let out = tessera(&["check"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A mistake that only the data shows stops the run naming the entry: C1 has no refund.
    config("sum(amount) / count(*) filter (where amount < 0)");
    let out = tessera(&["run", "--out", "out"], dir.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: tessera.toml:{custom_line}:7: features.custom.big: over "
        )) && err.contains("Divide by zero"),
        "{err}"
    );
    // A good one runs: customers without orders get the value over no rows.
    config("count(*) filter (where amount > 500)");
    let rows = common::features_csv(dir.path(), "2025-01-01");
    let big: Vec<&str> = rows.iter().map(|r| r["big"].as_str()).collect();
    // C1 has one order of 10.00 (1000 cents); C2's only order is rejected.
    assert_eq!(big, ["1", "0"]);
}

#[test]
fn a_run_without_an_as_of_stops_and_leaves_no_earlier_table_behind() {
    let dir = fixture();
    common::features_csv(dir.path(), "2025-01-01");
    assert!(dir.path().join("out/features.parquet").exists());
    // Now no order has a time to take as_of from, and none is given.
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount\n",
    )
    .unwrap();
    for args in [&["features", "--out", "out"][..], &["run", "--out", "out"]] {
        let out = tessera(args, dir.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("tessera.toml: no as_of to describe the customers at")
                && err.contains("give --as-of YYYY-MM-DD or [project] as_of"),
            "{args:?}: {err}"
        );
        for stale in ["features.parquet", "features.csv", "run.json"] {
            assert!(!dir.path().join("out").join(stale).exists(), "{stale}");
        }
    }
    // With one, the table is written again, every customer in it.
    let rows = common::features_csv(dir.path(), "2025-01-01");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["rfm_segment"] == "No Purchase"));
}
