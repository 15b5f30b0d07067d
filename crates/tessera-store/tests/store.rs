//! The store against naive recomputation on random snapshots: migration matrices, entered/left,
//! time travel, retention, erasure, and processes killed while recording.

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use tessera_store::diff::{GONE, NEW, diff};
use tessera_store::{Definition, Loaded, NONE, Record, Step, Store};

/// A small deterministic generator (xorshift64*), so every run of the tests sees the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TIERS: [&str; 3] = ["platinum", "gold", "silver"];
const SEGS: [&str; 4] = ["vip", "shoe_lovers", "detractors", "new"];

/// One random snapshot: customers drawn from C0..C{pool}, each with a tier (or none), an RFM
/// name, a cluster and any subset of the rule segments.
#[derive(Clone)]
struct Snap {
    ids: Vec<String>,
    tier: Vec<Option<String>>,
    rfm: Vec<String>,
    cluster: Vec<i64>,
    segments: Vec<Vec<String>>,
}

fn random_snap(rng: &mut Rng, pool: u64, n: usize) -> Snap {
    let mut chosen: Vec<u64> = (0..pool).collect();
    // Fisher–Yates, first n.
    for i in 0..n {
        let j = i + rng.below(pool - i as u64) as usize;
        chosen.swap(i, j);
    }
    let mut s = Snap {
        ids: Vec::new(),
        tier: Vec::new(),
        rfm: Vec::new(),
        cluster: Vec::new(),
        segments: Vec::new(),
    };
    for &c in &chosen[..n] {
        s.ids.push(format!("C{c:05}"));
        let t = rng.below(4) as usize;
        s.tier.push(TIERS.get(t).map(|t| t.to_string()));
        s.rfm
            .push(["Champions", "Loyal", "At Risk", "Lost"][rng.below(4) as usize].to_string());
        s.cluster.push(1 + rng.below(3) as i64);
        s.segments.push(
            SEGS.iter()
                .filter(|_| rng.below(3) == 0)
                .map(|s| s.to_string())
                .collect(),
        );
    }
    s
}

fn batch(s: &Snap) -> RecordBatch {
    let mut list = ListBuilder::new(StringBuilder::new());
    for l in &s.segments {
        for x in l {
            list.values().append_value(x);
        }
        list.append(true);
    }
    let clv: Vec<f64> = (0..s.ids.len()).map(|i| i as f64 * 1.5).collect();
    RecordBatch::try_from_iter([
        (
            "customer_id",
            Arc::new(StringArray::from(s.ids.clone())) as ArrayRef,
        ),
        ("segments", Arc::new(list.finish()) as ArrayRef),
        (
            "tier",
            Arc::new(StringArray::from(s.tier.clone())) as ArrayRef,
        ),
        (
            "rfm_segment",
            Arc::new(StringArray::from(s.rfm.clone())) as ArrayRef,
        ),
        (
            "cluster",
            Arc::new(Int64Array::from(s.cluster.clone())) as ArrayRef,
        ),
        ("clv", Arc::new(Float64Array::from(clv)) as ArrayRef),
    ])
    .unwrap()
}

fn definitions(vip_rule: &str) -> Vec<Definition> {
    let mut d: Vec<Definition> = SEGS
        .iter()
        .map(|s| Definition {
            kind: "segment".into(),
            name: s.to_string(),
            version: format!("v-{s}"),
            text: format!("rule of {s}"),
        })
        .collect();
    d[0].text = vip_rule.to_string();
    d[0].version = format!("v-{vip_rule}");
    d.push(Definition {
        kind: "group".into(),
        name: "tier".into(),
        version: "g1".into(),
        text: "platinum, gold, silver".into(),
    });
    d
}

fn families() -> Vec<String> {
    ["tier", "rfm_segment", "cluster"]
        .map(String::from)
        .to_vec()
}

fn summary(centers: &[[f64; 2]]) -> serde_json::Value {
    let clusters: Vec<serde_json::Value> = centers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            serde_json::json!({"cluster": i + 1, "center": {"recency_days": c[0], "frequency": c[1]}})
        })
        .collect();
    serde_json::json!({"clustering": {"features": ["recency_days", "frequency"], "clusters": clusters}})
}

fn record(store: &mut Store, s: &Snap, as_of: &str, vip_rule: &str, keep: usize) -> i64 {
    let b = batch(s);
    let defs = definitions(vip_rule);
    let run = summary(&[[10.0, 5.0], [200.0, 1.0], [60.0, 2.0]]);
    let f = families();
    let r = Record {
        as_of: Some(as_of.into()),
        config_hash: "h",
        config_text: "[sources.customers]\n",
        run: &run,
        definitions: &defs,
        families: &f,
        assignments: &b,
        out: None,
    };
    store.record(&r, keep, &mut |_| {}).unwrap().id
}

/// Naive count of customers per label of a family.
fn naive_sizes(labels: &[Option<String>]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in labels {
        *m.entry(l.clone().unwrap_or_else(|| NONE.into()))
            .or_default() += 1;
    }
    m
}

#[test]
fn migration_matrices_add_up_to_both_runs_sizes_and_match_a_naive_count() {
    let mut rng = Rng(0x5eed);
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let a = random_snap(&mut rng, 600, 400 + round * 10);
        let b = random_snap(&mut rng, 600, 450);
        let ia = record(&mut store, &a, "2025-01-01", "vip rule", 10);
        let ib = record(&mut store, &b, "2025-02-01", "vip rule", 10);
        let (la, lb) = (store.load(ia).unwrap(), store.load(ib).unwrap());
        let d = diff(&la, &lb).unwrap();
        let pos_a: HashMap<&str, usize> = a
            .ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let pos_b: HashMap<&str, usize> = b
            .ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        assert_eq!(d.families.len(), 3);
        for m in &d.families {
            let (va, vb): (Vec<Option<String>>, Vec<Option<String>>) = match m.family.as_str() {
                "tier" => (a.tier.clone(), b.tier.clone()),
                "rfm_segment" => (
                    a.rfm.iter().cloned().map(Some).collect(),
                    b.rfm.iter().cloned().map(Some).collect(),
                ),
                _ => (
                    a.cluster.iter().map(|c| Some(c.to_string())).collect(),
                    b.cluster.iter().map(|c| Some(c.to_string())).collect(),
                ),
            };
            let (sa, sb) = (naive_sizes(&va), naive_sizes(&vb));
            // Rows sum to the earlier run's sizes, columns to the later run's.
            let rows = m.from.len() - 1;
            let cols = m.to.len() - 1;
            for (i, l) in m.from[..rows].iter().enumerate() {
                assert_eq!(
                    m.counts[i].iter().sum::<u64>(),
                    sa[l],
                    "{} row {l}",
                    m.family
                );
                assert_eq!(la.sizes[&m.family][l], sa[l]);
            }
            for (j, l) in m.to[..cols].iter().enumerate() {
                assert_eq!(m.counts.iter().map(|r| r[j]).sum::<u64>(), sb[l]);
                assert_eq!(lb.sizes[&m.family][l], sb[l]);
            }
            assert_eq!(m.from[rows], NEW);
            assert_eq!(m.to[cols], GONE);
            // Every cell against a pairwise count.
            let label = |v: &Option<String>| v.clone().unwrap_or_else(|| NONE.into());
            for (i, from) in m.from.iter().enumerate() {
                for (j, to) in m.to.iter().enumerate() {
                    let naive = if from == NEW {
                        b.ids
                            .iter()
                            .enumerate()
                            .filter(|(k, id)| {
                                !pos_a.contains_key(id.as_str()) && label(&vb[*k]) == *to
                            })
                            .count()
                    } else if to == GONE {
                        a.ids
                            .iter()
                            .enumerate()
                            .filter(|(k, id)| {
                                !pos_b.contains_key(id.as_str()) && label(&va[*k]) == *from
                            })
                            .count()
                    } else {
                        a.ids
                            .iter()
                            .enumerate()
                            .filter(|(k, id)| {
                                label(&va[*k]) == *from
                                    && pos_b
                                        .get(id.as_str())
                                        .is_some_and(|&q| label(&vb[q]) == *to)
                            })
                            .count()
                    };
                    assert_eq!(m.counts[i][j], naive as u64, "{} {from} -> {to}", m.family);
                }
            }
        }
        // Entered and left of the rule segments, by sets.
        for s in SEGS {
            let members = |snap: &Snap| -> HashSet<String> {
                snap.ids
                    .iter()
                    .zip(&snap.segments)
                    .filter(|(_, l)| l.iter().any(|x| x == s))
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            let (ma, mb) = (members(&a), members(&b));
            let c = d
                .segments
                .iter()
                .find(|c| c.family == "segments" && c.segment == s)
                .unwrap();
            assert_eq!(c.before, ma.len() as u64);
            assert_eq!(c.after, mb.len() as u64);
            assert_eq!(c.entered, mb.difference(&ma).count() as u64);
            assert_eq!(c.left, ma.difference(&mb).count() as u64);
            assert_eq!(c.drift, mb.len() as i64 - ma.len() as i64);
        }
        let kept = a
            .ids
            .iter()
            .filter(|i| pos_b.contains_key(i.as_str()))
            .count() as u64;
        assert_eq!(d.customers.kept, kept);
        assert_eq!(d.customers.new, b.ids.len() as u64 - kept);
        assert_eq!(d.customers.gone, a.ids.len() as u64 - kept);
    }
}

#[test]
fn changed_definitions_and_cluster_drift_are_reported() {
    let mut rng = Rng(7);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = random_snap(&mut rng, 100, 80);
    let ia = record(&mut store, &a, "2025-01-01", "spend_90d > 100", 10);
    // The same customers under a changed vip rule, with centroids listed in another order.
    let b = batch(&a);
    let mut defs = definitions("spend_90d > 200");
    defs.retain(|d| d.name != "new");
    let run = summary(&[[65.0, 2.5], [12.0, 5.0], [190.0, 1.0]]);
    let f = families();
    let r = Record {
        as_of: Some("2025-02-01".into()),
        config_hash: "h2",
        config_text: "",
        run: &run,
        definitions: &defs,
        families: &f,
        assignments: &b,
        out: None,
    };
    let ib = store.record(&r, 10, &mut |_| {}).unwrap().id;
    let d = diff(&store.load(ia).unwrap(), &store.load(ib).unwrap()).unwrap();
    let changes: Vec<(&str, &str)> = d
        .definitions
        .iter()
        .map(|c| (c.name.as_str(), c.change.as_str()))
        .collect();
    assert_eq!(changes, [("new", "removed"), ("vip", "changed")]);
    let vip = &d.definitions[1];
    assert_eq!(vip.before.as_ref().unwrap().text, "spend_90d > 100");
    assert_eq!(vip.after.as_ref().unwrap().text, "spend_90d > 200");
    // Without a fitted transform the distance is in raw units: cluster 1 (10, 5) pairs with the
    // later run's cluster 2 (12, 5), 2 (200, 1) with 3 (190, 1), 3 (60, 2) with 1 (65, 2.5).
    let m = d.clusters.unwrap();
    let pairs: Vec<(&str, &str)> = m
        .pairs
        .iter()
        .map(|p| (p.from.as_str(), p.to.as_str()))
        .collect();
    assert_eq!(pairs, [("1", "2"), ("2", "3"), ("3", "1")]);
    assert_eq!(m.pairs[0].drift["recency_days"], 2.0);
    assert!((m.pairs[2].distance - (25.0f64 + 0.25).sqrt()).abs() < 1e-12);
    // The same customers kept their cluster labels, so cluster 1's members are in cluster 1,
    // not in its matched partner 2.
    assert_eq!(m.pairs[0].stayed, 0);
}

#[test]
fn members_at_a_date_are_the_earlier_runs_after_a_later_run_changed_them() {
    let mut rng = Rng(99);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = random_snap(&mut rng, 300, 200);
    let mut b = a.clone();
    for l in b.segments.iter_mut().take(100) {
        if l.iter().any(|s| s == "vip") {
            l.retain(|s| s != "vip");
        } else {
            l.push("vip".into());
        }
    }
    let ia = record(&mut store, &a, "2025-03-01", "rule one", 10);
    let ib = record(&mut store, &b, "2025-04-01", "rule two", 10);
    let vip = |s: &Snap| -> Vec<String> {
        s.ids
            .iter()
            .zip(&s.segments)
            .filter(|(_, l)| l.iter().any(|x| x == "vip"))
            .map(|(id, _)| id.clone())
            .collect()
    };
    assert_ne!(vip(&a), vip(&b));
    for (date, run, expected, rule) in [
        ("2025-03-01", ia, vip(&a), "rule one"),
        ("2025-03-31", ia, vip(&a), "rule one"),
        ("2025-04-01", ib, vip(&b), "rule two"),
        ("2026-01-01", ib, vip(&b), "rule two"),
    ] {
        let at = store.run_at(date).unwrap();
        assert_eq!(at.id, run, "{date}");
        let m = store.members(&store.load(at.id).unwrap(), "vip").unwrap();
        assert_eq!(m.ids, expected, "{date}");
        assert_eq!(m.definitions[0].text, rule);
    }
    let err = store.run_at("2025-02-28").unwrap_err();
    assert!(
        err.to_string()
            .contains("no run has an as_of on or before 2025-02-28")
    );
    let gold = store
        .members(&store.load(ia).unwrap(), "tier=gold")
        .unwrap();
    let naive: Vec<&String> = a
        .ids
        .iter()
        .zip(&a.tier)
        .filter(|(_, t)| t.as_deref() == Some("gold"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(gold.ids.iter().collect::<Vec<_>>(), naive);
    let err = store.members(&store.load(ia).unwrap(), "vipp").unwrap_err();
    assert!(err.to_string().contains("has no segment `vipp`"), "{err}");
    let err = store
        .members(&store.load(ia).unwrap(), "tier=gld")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no `tier` label `gld`; did you mean `gold`?"),
        "{err}"
    );
}

#[test]
fn retention_keeps_the_newest_runs_and_removes_the_rest() {
    let mut rng = Rng(3);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for day in 1..=5 {
        let s = random_snap(&mut rng, 50, 20);
        ids.push(record(&mut store, &s, &format!("2025-01-0{day}"), "r", 3));
    }
    let kept: Vec<i64> = store.runs().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(kept, [ids[4], ids[3], ids[2]]);
    let mut folders: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, ["000003", "000004", "000005"]);
    assert!(store.load(ids[0]).unwrap_err().is_input_error());
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    hits
}

#[test]
fn forget_removes_the_customer_from_every_snapshot_and_keeps_no_plain_id() {
    let mut rng = Rng(11);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut snaps = Vec::new();
    for day in 1..=3 {
        let mut s = random_snap(&mut rng, 500, 300);
        // The person to forget is in every run, a vip and gold.
        s.ids[0] = "CFORGET9".into();
        s.segments[0] = vec!["vip".into()];
        s.tier[0] = Some("gold".into());
        record(&mut store, &s, &format!("2025-0{day}-01"), "r", 10);
        snaps.push(s);
    }
    assert!(!files_containing(dir.path(), b"CFORGET9").is_empty());
    let before: Vec<u64> = store.runs().unwrap().iter().map(|r| r.customers).collect();
    let f = store.forget(&["CFORGET9".to_string()]).unwrap();
    assert_eq!(f.added, 1);
    assert_eq!(f.snapshots_rewritten, 3);
    assert_eq!(f.rows_removed, 3);
    drop(store);
    assert_eq!(
        files_containing(dir.path(), b"CFORGET9"),
        Vec::<String>::new()
    );
    let store = Store::open(dir.path()).unwrap();
    let after: Vec<u64> = store.runs().unwrap().iter().map(|r| r.customers).collect();
    assert_eq!(after, before.iter().map(|n| n - 1).collect::<Vec<_>>());
    for r in store.runs().unwrap() {
        let l = store.load(r.id).unwrap();
        let ids = tessera_store::customer_ids(&l.assignments).unwrap();
        assert!(!ids.iter().any(|i| i == "CFORGET9"));
        // Sizes were recounted: gold lost one member in each run.
        let s = &snaps[(r.id - 1) as usize];
        let gold = s
            .tier
            .iter()
            .filter(|t| t.as_deref() == Some("gold"))
            .count() as u64;
        assert_eq!(l.sizes["tier"]["gold"], gold - 1);
    }
    assert!(store.suppression().unwrap().contains("CFORGET9"));
    assert!(!store.suppression().unwrap().contains(&snaps[0].ids[1]));
    let audit = store.audit().unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["forget", "erase"]);
    assert_eq!(audit[1].detail["rows_removed"], 3);
    // Forgetting again adds nothing and rewrites nothing.
    let mut store = store;
    let again = store.forget(&["CFORGET9".to_string()]).unwrap();
    assert_eq!((again.added, again.rows_removed), (0, 0));
}

/// The child half of the crash test: records a run and dies at the step named in the
/// environment, as a process killed by the system would.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(step)) = (
        std::env::var("TESSERA_STORE_CRASH_DIR"),
        std::env::var("TESSERA_STORE_CRASH_AT"),
    ) else {
        return;
    };
    let mut store = Store::open(Path::new(&dir)).unwrap();
    let s = random_snap(&mut Rng(42), 400, 300);
    let b = batch(&s);
    let defs = definitions("crash");
    let run = serde_json::json!({});
    let f = families();
    let r = Record {
        as_of: Some("2025-06-01".into()),
        config_hash: "crash",
        config_text: "",
        run: &run,
        definitions: &defs,
        families: &f,
        assignments: &b,
        out: None,
    };
    store
        .record(&r, 10, &mut |at| {
            if format!("{at:?}") == step {
                std::process::abort();
            }
        })
        .unwrap();
}

#[test]
fn a_process_killed_while_recording_leaves_the_store_readable_and_earlier_runs_intact() {
    for (step, committed) in [
        (Step::Written, false),
        (Step::Cataloged, false),
        (Step::Moved, false),
        (Step::Committed, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(5);
        let earlier = random_snap(&mut rng, 400, 250);
        let (first, loaded) = {
            let mut store = Store::open(dir.path()).unwrap();
            let id = record(&mut store, &earlier, "2025-05-01", "r", 10);
            (id, store.load(id).unwrap())
        };
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("TESSERA_STORE_CRASH_DIR", dir.path())
            .env("TESSERA_STORE_CRASH_AT", format!("{step:?}"))
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        // Died of its own abort at that step, not of some earlier failure.
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(6),
            "the child should have aborted at {step:?}"
        );
        let store = Store::open(dir.path()).unwrap();
        let runs: Vec<i64> = store.runs().unwrap().iter().map(|r| r.id).collect();
        if committed {
            assert_eq!(runs, [first + 1, first], "{step:?}");
            assert_eq!(store.load(first + 1).unwrap().info.customers, 300);
        } else {
            assert_eq!(runs, [first], "{step:?}");
        }
        let again = store.load(first).unwrap();
        assert_eq!(again.assignments, loaded.assignments, "{step:?}");
        assert_eq!(again.sizes, loaded.sizes);
        // Nothing half-written is left: the folders are exactly the catalog's runs.
        let mut folders: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        folders.sort();
        let mut expected: Vec<String> = runs.iter().map(|id| format!("{id:06}")).collect();
        expected.sort();
        assert_eq!(folders, expected, "{step:?}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        // And the store takes the next run.
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        let next = record(&mut store, &earlier, "2025-07-01", "r", 10);
        assert!(store.load(next).is_ok());
    }
}

#[test]
fn unrecorded_run_compares_like_a_recorded_one() {
    let mut rng = Rng(21);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = random_snap(&mut rng, 200, 150);
    let b = random_snap(&mut rng, 200, 150);
    let ia = record(&mut store, &a, "2025-01-01", "r", 10);
    let bb = batch(&b);
    let defs = definitions("r");
    let run = summary(&[[10.0, 5.0]]);
    let f = families();
    let r = Record {
        as_of: Some("2025-02-01".into()),
        config_hash: "h",
        config_text: "",
        run: &run,
        definitions: &defs,
        families: &f,
        assignments: &bb,
        out: None,
    };
    let pending = Loaded::unrecorded(&r).unwrap();
    let ib = store.record(&r, 10, &mut |_| {}).unwrap().id;
    let earlier = store.load(ia).unwrap();
    let d1 = diff(&earlier, &pending).unwrap();
    let d2 = diff(&earlier, &store.load(ib).unwrap()).unwrap();
    assert_eq!(d1.families, d2.families);
    assert_eq!(d1.segments, d2.segments);
}

#[test]
fn a_customer_forgotten_while_a_run_computes_is_left_out_of_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut s = random_snap(&mut Rng(8), 100, 50);
    s.ids[3] = "CLATE".into();
    // The run read its inputs before the erasure; the erasure commits before the run records.
    store.forget(&["CLATE".to_string()]).unwrap();
    let id = record(&mut store, &s, "2025-01-01", "r", 10);
    let l = store.load(id).unwrap();
    let ids = tessera_store::customer_ids(&l.assignments).unwrap();
    assert_eq!(ids.len(), 49);
    assert!(!ids.iter().any(|i| i == "CLATE"));
    assert_eq!(l.info.customers, 49);
    let tiers: u64 = l.sizes["tier"].values().sum();
    assert_eq!(tiers, 49);
    drop(store);
    assert_eq!(files_containing(dir.path(), b"CLATE"), Vec::<String>::new());
}

#[test]
fn recovery_touches_only_the_store_s_own_names_and_a_lost_catalog_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        record(
            &mut store,
            &random_snap(&mut Rng(4), 50, 20),
            "2025-01-01",
            "r",
            10,
        );
    }
    std::fs::write(dir.path().join("tmp/notes.txt"), "mine").unwrap();
    std::fs::write(dir.path().join("runs/README"), "mine").unwrap();
    Store::open(dir.path()).unwrap();
    assert!(dir.path().join("tmp/notes.txt").exists());
    assert!(dir.path().join("runs/README").exists());
    assert!(dir.path().join("runs/000001/assignments.parquet").exists());
    std::fs::remove_file(dir.path().join("catalog.sqlite")).unwrap();
    let err = Store::open(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("holds snapshots but no catalog.sqlite"),
        "{err}"
    );
    assert!(dir.path().join("runs/000001/assignments.parquet").exists());
}

#[test]
fn forget_names_output_folders_of_runs_retention_removed() {
    let dir = tempfile::tempdir().unwrap();
    let outs = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    for k in 0..3 {
        let out = outs.path().join(format!("out{k}"));
        std::fs::create_dir(&out).unwrap();
        let s = random_snap(&mut Rng(30 + k), 40, 20);
        let b = batch(&s);
        let defs = definitions("r");
        let run = serde_json::json!({});
        let f = families();
        let r = Record {
            as_of: Some(format!("2025-01-0{}", k + 1)),
            config_hash: "h",
            config_text: "",
            run: &run,
            definitions: &defs,
            families: &f,
            assignments: &b,
            out: Some(&out),
        };
        // Keep one run only: out0 and out1 belong to runs removed by retention.
        store.record(&r, 1, &mut |_| {}).unwrap();
    }
    assert_eq!(store.runs().unwrap().len(), 1);
    std::fs::remove_dir(outs.path().join("out1")).unwrap();
    let f = store.forget(&["C00001".to_string()]).unwrap();
    let names: Vec<String> = f
        .stale_outputs
        .iter()
        .map(|o| {
            Path::new(o)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // out1 no longer exists, so it holds no one.
    assert_eq!(names, ["out0", "out2"]);
}

/// The child half of the erasure crash test: forgets a customer and dies once the first
/// snapshot's file is replaced, before its counts are committed.
#[test]
fn forget_crash_child() {
    let Ok(dir) = std::env::var("TESSERA_STORE_FORGET_CRASH_DIR") else {
        return;
    };
    let mut store = Store::open(Path::new(&dir)).unwrap();
    store
        .forget_observed(&["CGONE".to_string()], &mut |at| {
            if at == Step::Rewritten {
                std::process::abort();
            }
        })
        .unwrap();
}

#[test]
fn an_erasure_killed_midway_is_finished_by_the_next_open() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let mut snaps = Vec::new();
    {
        let mut store = Store::open(dir.path()).unwrap();
        for day in 1..=2 {
            let mut s = random_snap(&mut Rng(60 + day), 200, 100);
            s.ids[7] = "CGONE".into();
            s.tier[7] = Some("gold".into());
            record(&mut store, &s, &format!("2025-0{day}-01"), "r", 10);
            snaps.push(s);
        }
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "forget_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TESSERA_STORE_FORGET_CRASH_DIR", dir.path())
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(6),
        "the child should have aborted mid-erasure"
    );
    // The next open finishes the erasure: both snapshots lose the customer, and the counts of
    // the one whose file was replaced before the crash are recounted.
    let store = Store::open(dir.path()).unwrap();
    for r in store.runs().unwrap() {
        let l = store.load(r.id).unwrap();
        assert_eq!(l.info.customers, 99, "run {}", r.id);
        assert_eq!(l.assignments.num_rows(), 99);
        let s = &snaps[(r.id - 1) as usize];
        let gold = s
            .tier
            .iter()
            .filter(|t| t.as_deref() == Some("gold"))
            .count() as u64;
        assert_eq!(l.sizes["tier"]["gold"], gold - 1, "run {}", r.id);
    }
    drop(store);
    assert_eq!(files_containing(dir.path(), b"CGONE"), Vec::<String>::new());
}
