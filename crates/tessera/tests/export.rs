//! Audience exports end to end: on the demo shop `tessera run` writes every `[exports]` entry,
//! members without the channel's consent never appear and are counted, the holdout share holds;
//! on a hand-made shop, text cells that would start spreadsheet formulas are neutralised, and
//! mistakes name what is wrong.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use common::{csv_maps, read_parquet, run_ok};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = batch.column_by_name(name).unwrap();
    let c = arrow_cast::cast(c, &arrow_schema::DataType::Utf8).unwrap();
    c.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

#[test]
fn run_writes_consent_aware_exports_with_a_holdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::demo(dir.path(), 3000, 5).join("out");
    let run = common::run_json(&out);

    // Each customer's segments and tier, and their consent flags, from the run's own files.
    let assignments = read_parquet(&out.join("assignments.parquet"));
    let ids = strings(&assignments, "customer_id");
    let tiers = strings(&assignments, "tier");
    let lists = assignments
        .column_by_name("segments")
        .unwrap()
        .as_list::<i32>();
    let mut members: HashMap<String, HashSet<String>> = HashMap::new();
    let mut tier: HashMap<String, Option<String>> = HashMap::new();
    for (r, id) in ids.iter().enumerate() {
        let id = id.clone().unwrap();
        let segs = lists.value(r);
        for s in segs.as_string::<i32>().iter().flatten() {
            members.entry(s.to_string()).or_default().insert(id.clone());
        }
        tier.insert(id, tiers[r].clone());
    }
    let customers = read_parquet(&out.join("clean/customers.parquet"));
    let consent = |attr: &str| -> HashMap<String, Option<bool>> {
        let flags = customers.column_by_name(attr).unwrap().as_boolean().clone();
        strings(&customers, "customer_id")
            .into_iter()
            .enumerate()
            .map(|(r, id)| (id.unwrap(), flags.is_valid(r).then(|| flags.value(r))))
            .collect()
    };

    // winback_email: CSV, email consent, a 10% holdout.
    let email = consent("email_opt_in");
    let rows = csv_maps(&out.join("exports/winback_email.csv"));
    let segment = &members["valuable_slipping"];
    let expected: HashSet<&String> = segment
        .iter()
        .filter(|id| email[*id] == Some(true))
        .collect();
    let got: HashSet<&String> = rows.iter().map(|r| &r["customer_id"]).collect();
    assert_eq!(got, expected, "exactly the members who consent to email");
    assert_eq!(got.len(), rows.len(), "no customer twice");
    let summary = &run["exports"]["winback_email"];
    assert_eq!(summary["members"].as_u64().unwrap() as usize, segment.len());
    assert_eq!(summary["exported"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(
        summary["without_consent"].as_u64().unwrap() as usize,
        segment.len() - rows.len()
    );
    assert!(
        segment.len() > rows.len(),
        "some members have no email consent"
    );
    let held = rows.iter().filter(|r| r["holdout"] == "true").count();
    assert_eq!(summary["holdout"].as_u64().unwrap() as usize, held);
    assert!(
        held > 0 && held < rows.len() / 4,
        "{held} of {}",
        rows.len()
    );
    let mut reader = csv::Reader::from_path(out.join("exports/winback_email.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        [
            "customer_id",
            "country",
            "clv",
            "p_alive",
            "rfm_segment",
            "holdout"
        ]
    );

    // vip_sms: Parquet, sms consent, with the tier group as a field.
    let sms = consent("sms_opt_in");
    let vip = read_parquet(&out.join("exports/vip_sms.parquet"));
    let vip_ids = strings(&vip, "customer_id");
    let vip_tiers = strings(&vip, "tier");
    let expected: HashSet<&String> = members["vip"]
        .iter()
        .filter(|id| sms[*id] == Some(true))
        .collect();
    assert_eq!(vip_ids.iter().flatten().collect::<HashSet<_>>(), expected);
    for (id, t) in vip_ids.iter().zip(&vip_tiers) {
        assert_eq!(t, &tier[id.as_ref().unwrap()], "tier of {id:?}");
    }

    // `tessera export` on the run gives the same file and the same holdout customers.
    run_ok(
        &out,
        &[
            "export",
            "--config",
            "../tessera.toml",
            "--run",
            ".",
            "--export",
            "winback_email",
            "--out",
            "again.csv",
        ],
    );
    assert_eq!(
        std::fs::read(out.join("again.csv")).unwrap(),
        std::fs::read(out.join("exports/winback_email.csv")).unwrap()
    );
}

const SHOP: &str = r#"
[project]
as_of = "2025-01-01"

[sources.customers]
path = "customers.csv"
attributes.city = { column = "city", type = "string" }
attributes.email = { column = "email", type = "string" }
attributes.email_opt_in = { column = "email_opt_in", type = "bool" }
attributes.age = { column = "age", type = "int" }

[sources.orders]
path = "orders.csv"

[consent]
email = "email_opt_in"

[segments.buyers]
rule = "frequency >= 1"
"#;

fn shop() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "customer_id,city,email,email_opt_in,age\n\
         C1,Berlin,c1@example.com,true,30\n\
         C2,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",c2@example.com,true,41\n\
         C3,+49 30 123,c3@example.com,true,52\n\
         C4,-1+2,c4@example.com,true,23\n\
         C5,@SUM(A1:A9),c5@example.com,false,35\n\
         C6,Wien,c6@example.com,,61\n\
         C7,Zug,c7@example.com,true,44\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,ordered_at,amount\n\
         O1,C1,2024-02-01,10.00\nO2,C2,2024-03-01,20.00\nO3,C3,2024-04-01,30.00\n\
         O4,C4,2024-05-01,40.00\nO5,C5,2024-06-01,50.00\nO6,C6,2024-07-01,60.00\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("tessera.toml"), SHOP).unwrap();
    dir
}

fn tessera(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn formula_cells_are_neutralised_and_personal_data_is_written_only_when_listed() {
    let dir = shop();
    let out = run_ok(
        dir.path(),
        &[
            "export",
            "--segment",
            "buyers",
            "--channel",
            "email",
            "--fields",
            "customer_id,city,monetary_total",
            "--out",
            "a.csv",
            "--json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // C5 opted out, C6 never said; C7 never bought.
    assert_eq!(
        (
            doc["members"].as_u64(),
            doc["exported"].as_u64(),
            doc["without_consent"].as_u64()
        ),
        (Some(6), Some(4), Some(2))
    );
    let text = std::fs::read_to_string(dir.path().join("a.csv")).unwrap();
    assert!(
        !text.contains("@example.com"),
        "email was not asked for:\n{text}"
    );
    let rows = csv_maps(&dir.path().join("a.csv"));
    let city: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r["customer_id"].as_str(), r["city"].as_str()))
        .collect();
    assert_eq!(city["C1"], "Berlin");
    assert_eq!(city["C2"], "'=HYPERLINK(\"http://evil\",\"x\")");
    assert_eq!(city["C3"], "'+49 30 123");
    assert_eq!(city["C4"], "'-1+2");
    assert!(!city.contains_key("C5") && !city.contains_key("C6"));
    let spend: Vec<&str> = rows.iter().map(|r| r["monetary_total"].as_str()).collect();
    assert_eq!(spend, ["10.00", "20.00", "30.00", "40.00"]);

    // Listed, the email is written; NDJSON keeps text as it is (no spreadsheet reads it).
    run_ok(
        dir.path(),
        &[
            "--quiet",
            "export",
            "--segment",
            "buyers",
            "--channel",
            "email",
            "--fields",
            "customer_id,email,city",
            "--format",
            "ndjson",
            "--out",
            "b.ndjson",
        ],
    );
    let text = std::fs::read_to_string(dir.path().join("b.ndjson")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["email"], "c1@example.com");
    assert_eq!(lines[3]["city"], "-1+2");
}

#[test]
fn export_mistakes_name_what_is_wrong() {
    let dir = shop();
    let fails = |args: &[&str], needle: &str| {
        let out = tessera(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!dir.path().join("x.csv").exists());
    };
    fails(
        &["export", "--segment", "buyers", "--out", "x.csv"],
        "segment `buyers` has no [exports] entry: name the channel whose consent the audience needs with --channel (channels: email)",
    );
    fails(
        &[
            "export",
            "--segment",
            "buyers",
            "--channel",
            "sms",
            "--out",
            "x.csv",
        ],
        "`sms` is not a channel of [consent] (channels: email)",
    );
    fails(
        &[
            "export",
            "--segment",
            "buyers",
            "--channel",
            "email",
            "--fields",
            "customer_id,citty",
            "--out",
            "x.csv",
        ],
        "unknown field `citty`; did you mean `city`?",
    );
    fails(
        &[
            "export",
            "--segment",
            "buyrs",
            "--channel",
            "email",
            "--out",
            "x.csv",
        ],
        "unknown segment \"buyrs\"",
    );
    fails(
        &[
            "export",
            "--segment",
            "buyers",
            "--channel",
            "email",
            "--holdout",
            "1.5",
            "--out",
            "x.csv",
        ],
        "--holdout must be a share in [0, 1), got 1.5",
    );

    // In the config, mistakes carry their position.
    let config = |extra: &str| {
        std::fs::write(dir.path().join("tessera.toml"), format!("{SHOP}{extra}")).unwrap()
    };
    config("\n[exports.a]\nsegment = \"buyers\"\nchannel = \"emial\"\n");
    fails(
        &["check"],
        "tessera.toml:23:11: exports.a.channel: `emial` is not a channel of [consent]; did you mean `email`?",
    );
    config("\n[exports.a]\nsegment = \"buyers\"\nchannel = \"email\"\nholdout = 1.0\n");
    fails(
        &["check"],
        "tessera.toml:24:11: exports.a.holdout must be a share in [0, 1), got 1",
    );
    std::fs::write(
        dir.path().join("tessera.toml"),
        SHOP.replace("email = \"email_opt_in\"", "email = \"city\""),
    )
    .unwrap();
    fails(
        &["check"],
        "consent.email: `city` is not a bool attribute of customers",
    );
}
