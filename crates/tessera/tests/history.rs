//! The project store through the binary: runs recorded, `diff` against the runs' own outputs,
//! `members --at` after a later run changed a segment, a run killed while recording, and
//! `forget` leaving no trace of the customer in the store, the next run or an export.

mod common;

use arrow_array::cast::AsArray;
use common::{demo, read_parquet, run_json, run_ok};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = run_ok(dir, args);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Each customer's label in a column of a Parquet file ("(none)" for nulls).
fn labels(path: &Path, column: &str) -> BTreeMap<String, String> {
    let b = read_parquet(path);
    let ids = arrow_cast::cast(
        b.column_by_name("customer_id").unwrap(),
        &arrow_schema::DataType::Utf8,
    )
    .unwrap();
    let col = arrow_cast::cast(
        b.column_by_name(column).unwrap(),
        &arrow_schema::DataType::Utf8,
    )
    .unwrap();
    ids.as_string::<i32>()
        .iter()
        .zip(col.as_string::<i32>().iter())
        .map(|(i, v)| (i.unwrap().to_string(), v.unwrap_or("(none)").to_string()))
        .collect()
}

/// The customers whose `segments` list holds `segment`, in file order.
fn members_of(path: &Path, segment: &str) -> Vec<String> {
    let b = read_parquet(path);
    let ids = b
        .column_by_name("customer_id")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let lists = b
        .column_by_name("segments")
        .unwrap()
        .as_list::<i32>()
        .clone();
    (0..b.num_rows())
        .filter(|&r| {
            lists
                .value(r)
                .as_string::<i32>()
                .iter()
                .any(|s| s == Some(segment))
        })
        .map(|r| ids.value(r).to_string())
        .collect()
}

fn count(labels: &BTreeMap<String, String>) -> BTreeMap<String, u64> {
    let mut c = BTreeMap::new();
    for l in labels.values() {
        *c.entry(l.clone()).or_default() += 1;
    }
    c
}

/// The demo shop, run a second time into `out2` with a looser vip rule and an earlier as_of.
fn two_runs(dir: &Path) -> std::path::PathBuf {
    let shop = demo(dir, 2000, 5);
    let config = shop.join("tessera.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let looser = text.replace("spend_365d > 1000.00 and", "spend_365d > 700.00 and");
    assert_ne!(
        text, looser,
        "the demo's vip rule changed; update this test"
    );
    std::fs::write(&config, looser).unwrap();
    run_ok(
        &shop,
        &[
            "--quiet",
            "run",
            "--config",
            "tessera.toml",
            "--out",
            "out2",
            "--as-of",
            "2025-11-01",
        ],
    );
    shop
}

#[test]
fn diff_matrices_add_up_to_both_runs_outputs_and_name_the_changed_definition() {
    let dir = tempfile::tempdir().unwrap();
    let shop = two_runs(dir.path());
    let h = json(&shop, &["history", "--json"]);
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["as_of"], "2025-11-01");
    assert_eq!(
        run_json(&shop.join("out2"))["snapshot"]["run"],
        runs[0]["id"]
    );
    let d = json(&shop, &["diff", "--json"]);
    assert_eq!(d["from"]["id"], runs[1]["id"]);
    assert_eq!(d["to"]["id"], runs[0]["id"]);
    let (a, b) = (shop.join("out"), shop.join("out2"));
    let mut families = Vec::new();
    for m in d["families"].as_array().unwrap() {
        let family = m["family"].as_str().unwrap();
        families.push(family.to_string());
        // The sizes each run's own output files give.
        let (sa, sb) = match family {
            "tier" => (
                count(&labels(&a.join("assignments.parquet"), "tier")),
                count(&labels(&b.join("assignments.parquet"), "tier")),
            ),
            f => (
                count(&labels(&a.join("features.parquet"), f)),
                count(&labels(&b.join("features.parquet"), f)),
            ),
        };
        let from: Vec<&str> = m["from"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let to: Vec<&str> = m["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let counts: Vec<Vec<u64>> = m["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_u64().unwrap())
                    .collect()
            })
            .collect();
        for (i, l) in from[..from.len() - 1].iter().enumerate() {
            assert_eq!(counts[i].iter().sum::<u64>(), sa[*l], "{family} row {l}");
        }
        for (j, l) in to[..to.len() - 1].iter().enumerate() {
            assert_eq!(
                counts.iter().map(|r| r[j]).sum::<u64>(),
                sb[*l],
                "{family} column {l}"
            );
        }
        // The same customers in both runs: nobody new, nobody gone.
        assert!(counts[from.len() - 1].iter().all(|&c| c == 0));
        assert!(counts.iter().all(|r| r[to.len() - 1] == 0));
    }
    assert_eq!(families, ["tier", "rfm_segment", "cluster", "churn_risk"]);
    // The group's sizes agree with run.json's.
    let tier = &run_json(&a)["groups"]["tier"]["sizes"];
    let m = &d["families"][0];
    let gold = m["from"]
        .as_array()
        .unwrap()
        .iter()
        .position(|l| l == "gold")
        .unwrap();
    let gold_size: u64 = m["counts"][gold]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(tier["gold"].as_u64().unwrap(), gold_size);
    let changed: Vec<(&str, &str)> = d["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["change"].as_str().unwrap()))
        .collect();
    assert_eq!(changed, [("vip", "changed")]);
    // Entered and left of vip, against the two runs' assignments.
    let va: HashSet<String> = members_of(&a.join("assignments.parquet"), "vip")
        .into_iter()
        .collect();
    let vb: HashSet<String> = members_of(&b.join("assignments.parquet"), "vip")
        .into_iter()
        .collect();
    let vip = d["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "segments" && c["segment"] == "vip")
        .unwrap();
    assert_eq!(
        vip["entered"].as_u64().unwrap(),
        vb.difference(&va).count() as u64
    );
    assert_eq!(
        vip["left"].as_u64().unwrap(),
        va.difference(&vb).count() as u64
    );
    assert!(vip["entered"].as_u64().unwrap() > 0);
    // The text form is an aligned table.
    let text = String::from_utf8(run_ok(&shop, &["diff"]).stdout).unwrap();
    assert!(text.contains("segment vip changed"), "{text}");
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("from \\ to"))
        .unwrap();
    assert!(
        header.contains("platinum") && header.ends_with("(gone)"),
        "{header}"
    );
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("from \\ to"))
        .take(6)
        .collect();
    assert!(rows.iter().all(|r| r.len() == header.len()), "{rows:#?}");
}

#[test]
fn members_at_a_date_are_the_earlier_runs_after_a_later_run_changed_them() {
    let dir = tempfile::tempdir().unwrap();
    let shop = two_runs(dir.path());
    let earlier = members_of(&shop.join("out/assignments.parquet"), "vip");
    let later = members_of(&shop.join("out2/assignments.parquet"), "vip");
    assert_ne!(earlier, later);
    let ids = |args: &[&str]| -> Vec<String> {
        let out = run_ok(&shop, args);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    // The first run is as of the demo's 2026-01-01, the second as of 2025-11-01.
    assert_eq!(
        ids(&["members", "--segment", "vip", "--at", "2025-12-31"]),
        later
    );
    assert_eq!(
        ids(&["members", "--segment", "vip", "--at", "2026-01-01"]),
        earlier
    );
    assert_eq!(ids(&["members", "--segment", "vip"]), later);
    let m = json(
        &shop,
        &[
            "members",
            "--segment",
            "vip",
            "--at",
            "2026-06-01",
            "--json",
        ],
    );
    assert_eq!(
        m["definitions"][0]["text"],
        "spend_365d > 1000.00 and rfm_segment in [\"Champions\", \"Loyal\"]"
    );
    let m = json(
        &shop,
        &[
            "members",
            "--segment",
            "vip",
            "--at",
            "2025-11-30",
            "--json",
        ],
    );
    assert!(
        m["definitions"][0]["text"]
            .as_str()
            .unwrap()
            .contains("700.00")
    );
    let gold = ids(&["members", "--segment", "tier=gold", "--at", "2026-01-01"]);
    let tier = labels(&shop.join("out/assignments.parquet"), "tier");
    let naive: Vec<String> = tier
        .iter()
        .filter(|(_, t)| *t == "gold")
        .map(|(i, _)| i.clone())
        .collect();
    let mut sorted = gold.clone();
    sorted.sort();
    assert_eq!(sorted, naive);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["members", "--segment", "vip", "--at", "2020-01-01"])
        .current_dir(&shop)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no run has an as_of on or before 2020-01-01")
    );
}

#[test]
fn a_run_killed_while_recording_leaves_the_store_readable_and_earlier_runs_intact() {
    let dir = tempfile::tempdir().unwrap();
    let shop = demo(dir.path(), 3000, 9);
    let before = json(&shop, &["history", "--json"]);
    let vip = String::from_utf8(run_ok(&shop, &["members", "--segment", "vip"]).stdout).unwrap();
    let tmp = shop.join(".tessera/tmp");
    let mut killed_mid_write = 0;
    for attempt in 0..6 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args([
                "--quiet",
                "run",
                "--config",
                "tessera.toml",
                "--out",
                &format!("killed{attempt}"),
            ])
            .current_dir(&shop)
            .spawn()
            .unwrap();
        // Kill it the moment its snapshot starts to be written.
        let start = std::time::Instant::now();
        loop {
            if std::fs::read_dir(&tmp)
                .map(|d| d.count() > 0)
                .unwrap_or(false)
            {
                child.kill().unwrap();
                killed_mid_write += 1;
                break;
            }
            if child.try_wait().unwrap().is_some() || start.elapsed().as_secs() > 120 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        child.wait().unwrap();
        // Whatever the moment, the store opens, the first run is intact and every listed run
        // loads.
        let h = json(&shop, &["history", "--json"]);
        let runs = h["runs"].as_array().unwrap();
        let first = runs.last().unwrap();
        assert_eq!(first, &before["runs"][0]);
        for r in runs {
            let id = r["id"].to_string();
            run_ok(&shop, &["members", "--segment", "vip", "--run", &id]);
        }
        let again = run_ok(
            &shop,
            &[
                "members",
                "--segment",
                "vip",
                "--run",
                &first["id"].to_string(),
            ],
        );
        assert_eq!(String::from_utf8(again.stdout).unwrap(), vip);
        if killed_mid_write >= 2 {
            break;
        }
    }
    assert!(
        killed_mid_write > 0,
        "no run was caught while writing its snapshot"
    );
    // Nothing half-written is left once the store was opened again.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn forget_leaves_no_trace_in_the_store_the_next_run_or_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let shop = two_runs(dir.path());
    // A vip with email consent: before the erasure, the vip email export holds them.
    let vip = members_of(&shop.join("out2/assignments.parquet"), "vip");
    let export_vip = |file: &str| -> String {
        run_ok(
            &shop,
            &[
                "--quiet",
                "export",
                "--segment",
                "vip",
                "--channel",
                "email",
                "--run",
                "out2",
                "--out",
                file,
            ],
        );
        std::fs::read_to_string(shop.join(file)).unwrap()
    };
    let before_export = export_vip("vip-before.csv");
    let id = vip
        .iter()
        .find(|id| {
            before_export.contains(&format!("{id}\n")) || before_export.contains(&format!("{id},"))
        })
        .expect("a vip with email consent")
        .clone();
    let store = shop.join(".tessera");
    // Both snapshots hold the customer, visibly to a byte scan, before the erasure.
    let before = files_containing(&store, id.as_bytes());
    assert_eq!(before.len(), 2, "{before:#?}");
    let f = json(&shop, &["forget", "--customer", &id, "--json"]);
    assert_eq!(f["added"], 1);
    // Both runs' output folders are named as still holding the person.
    let stale: Vec<&str> = f["stale_outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(
        stale
            .iter()
            .all(|o| o.ends_with("/out") || o.ends_with("/out2")),
        "{stale:?}"
    );
    assert_eq!(f["snapshots_rewritten"], 2);
    assert_eq!(f["rows_removed"], 2);
    assert_eq!(
        files_containing(&store, id.as_bytes()),
        Vec::<String>::new()
    );
    // The snapshots lost exactly that customer.
    let h = json(&shop, &["history", "--json"]);
    for r in h["runs"].as_array().unwrap() {
        assert_eq!(r["customers"], 1999);
    }
    // The next run reads the same files and leaves them out everywhere.
    run_ok(
        &shop,
        &[
            "--quiet",
            "run",
            "--config",
            "tessera.toml",
            "--out",
            "out3",
        ],
    );
    let out3 = shop.join("out3");
    assert_eq!(files_containing(&out3, id.as_bytes()), Vec::<String>::new());
    // Parquet pages are compressed, so the byte scan cannot see inside them: every table of
    // the run with a customer_id column is decoded and searched as well.
    let other = vip.iter().find(|v| **v != id).unwrap();
    let mut tables = 0;
    let mut stack = vec![out3.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet")
                && read_parquet(&p).column_by_name("customer_id").is_some()
            {
                let ids = labels(&p, "customer_id");
                assert!(!ids.contains_key(&id), "{}", p.display());
                tables += 1;
                // The tables with a row per customer hold everyone else.
                if [
                    "customers.parquet",
                    "features.parquet",
                    "assignments.parquet",
                ]
                .iter()
                .any(|f| p.ends_with(f))
                {
                    assert!(ids.contains_key(other), "{}", p.display());
                }
            }
        }
    }
    // customers, orders, events, feedback, features, assignments and the parquet export.
    assert!(tables >= 7, "{tables} tables");
    assert_eq!(
        files_containing(&store, id.as_bytes()),
        Vec::<String>::new()
    );
    let run = run_json(&shop.join("out3"));
    assert_eq!(run["sources"]["customers"]["suppressed"], 1);
    assert!(run["sources"]["orders"]["suppressed"].as_u64().unwrap() > 0);
    assert!(run["reconciled"].as_bool().unwrap());
    // An export from an output folder written before the erasure leaves them out too.
    let after_export = export_vip("vip-after.csv");
    assert!(!after_export.contains(id.as_str()));
    assert_eq!(
        after_export.lines().count() + 1,
        before_export.lines().count()
    );
    let doc = json(
        &shop,
        &[
            "export",
            "--segment",
            "vip",
            "--channel",
            "sms",
            "--run",
            "out2",
            "--out",
            "vip.parquet",
            "--format",
            "parquet",
            "--json",
        ],
    );
    assert_eq!(doc["suppressed"], 1);
    // The audit log holds counts, never the id: the scan above covered the catalog.
}
