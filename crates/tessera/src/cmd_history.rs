//! `tessera history`, `diff`, `members` and `forget`: the project store from the command line.

use crate::Failure;
use crate::cli::{Cli, DiffArgs, ForgetArgs, HistoryArgs, MembersArgs, StoreArgs};
use crate::history_stage::run_name;
use anyhow::anyhow;
use std::fmt::Write as _;
use tessera_store::diff::Diff;
use tessera_store::{RunInfo, Store, StoreError};

fn store_failure(e: StoreError) -> Failure {
    if e.is_input_error() {
        Failure::Input(e.into())
    } else {
        Failure::Other(e.into())
    }
}

fn open(args: &StoreArgs) -> Result<(tessera_core::Config, Store), Failure> {
    let (config, _) = crate::output::load_config(&args.config)?;
    let store = Store::open_existing(&config.store.path).map_err(store_failure)?;
    Ok((config, store))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `2026-12-02T06:10:11.123Z` as `2026-12-02 06:10:11`.
fn when(recorded_at: &str) -> String {
    recorded_at
        .get(..19)
        .unwrap_or(recorded_at)
        .replace('T', " ")
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// Rows of cells as an aligned table: the first column left-aligned, the others right.
fn table(rows: &[Vec<String>], indent: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for r in rows {
        s.push_str(indent);
        for (j, c) in r.iter().enumerate() {
            let pad = widths[j] - c.chars().count();
            if j == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
    }
    s
}

pub fn history(args: &HistoryArgs, _cli: &Cli) -> Result<(), Failure> {
    let (config, store) = open(&args.store)?;
    let history = store.size_history().map_err(store_failure)?;
    let shown: Vec<&(RunInfo, tessera_store::Sizes)> =
        history.iter().rev().take(args.limit).collect();
    if args.store.json {
        let runs: Vec<serde_json::Value> = shown
            .iter()
            .map(|(r, sizes)| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["sizes"] = serde_json::to_value(sizes).unwrap_or_default();
                v
            })
            .collect();
        return print_json(&serde_json::json!({
            "store": config.store.path.display().to_string(),
            "kept": history.len(),
            "keep": config.store.keep,
            "runs": runs,
        }));
    }
    if shown.is_empty() {
        println!(
            "no runs recorded in {} yet: `tessera run` records each run",
            config.store.path.display()
        );
        return Ok(());
    }
    println!(
        "{}: {} runs kept (at most {}), newest first\n",
        config.store.path.display(),
        history.len(),
        config.store.keep
    );
    let mut rows = vec![
        ["run", "recorded (UTC)", "as of", "customers", "config"]
            .map(String::from)
            .to_vec(),
    ];
    for (r, _) in &shown {
        rows.push(vec![
            r.id.to_string(),
            when(&r.recorded_at),
            r.as_of.clone().unwrap_or_else(|| "-".into()),
            r.customers.to_string(),
            r.config_hash.chars().take(12).collect(),
        ]);
    }
    print!("{}", table(&rows, ""));
    // Sizes: a row per family and label, a column per run.
    let mut labels: Vec<(String, String)> = Vec::new();
    for (_, sizes) in &shown {
        for (f, m) in sizes {
            for l in m.keys() {
                let k = (f.clone(), l.clone());
                if !labels.contains(&k) {
                    labels.push(k);
                }
            }
        }
    }
    labels.sort();
    let mut header = vec!["members".to_string()];
    header.extend(shown.iter().map(|(r, _)| format!("run {}", r.id)));
    let mut rows = vec![header];
    for (f, l) in labels {
        let mut row = vec![format!("{f}.{l}")];
        row.extend(shown.iter().map(|(_, s)| {
            s.get(&f)
                .and_then(|m| m.get(&l))
                .map_or("-".into(), u64::to_string)
        }));
        rows.push(row);
    }
    println!();
    print!("{}", table(&rows, ""));
    Ok(())
}

pub fn diff(args: &DiffArgs, _cli: &Cli) -> Result<(), Failure> {
    let (_, store) = open(&args.store)?;
    let runs = store.runs().map_err(store_failure)?;
    let (from, to) = match (args.from, args.to) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, runs.first().map_or(a, |r| r.id)),
        (None, _) => match &runs[..] {
            [b, a, ..] => (a.id, b.id),
            _ => {
                return Err(Failure::Input(anyhow!(
                    "the store has {} run{}; diff needs two (run `tessera run` again)",
                    runs.len(),
                    if runs.len() == 1 { "" } else { "s" }
                )));
            }
        },
    };
    let (a, b) = store.load_pair(from, to).map_err(store_failure)?;
    let d = tessera_store::diff::diff(&a, &b).map_err(store_failure)?;
    if args.store.json {
        return print_json(&d);
    }
    print!("{}", diff_text(&d));
    Ok(())
}

/// The diff as a reader scans it: customers, definitions, one matrix per family, the segments'
/// movement, the clusters.
pub fn diff_text(d: &Diff) -> String {
    let mut s = String::new();
    let c = &d.customers;
    let _ = writeln!(
        s,
        "{} → {}",
        run_name(d.from.id, d.from.as_of.as_deref()),
        run_name(d.to.id, d.to.as_of.as_deref())
    );
    let _ = writeln!(
        s,
        "customers: {} → {} ({} in both, {} new, {} gone)",
        c.before, c.after, c.kept, c.new, c.gone
    );
    if d.definitions.is_empty() {
        let _ = writeln!(s, "\ndefinitions: unchanged");
    } else {
        let _ = writeln!(s, "\ndefinitions:");
        for ch in &d.definitions {
            let v = |t: &Option<tessera_store::diff::DefinitionText>| {
                t.as_ref().map_or("-".to_string(), |t| t.version.clone())
            };
            let _ = writeln!(
                s,
                "  {} {} {} ({} → {})",
                ch.kind,
                ch.name,
                ch.change,
                v(&ch.before),
                v(&ch.after)
            );
            if matches!(ch.kind.as_str(), "segment" | "group") {
                if let Some(t) = &ch.before {
                    let _ = writeln!(s, "      before: {}", t.text);
                }
                if let Some(t) = &ch.after {
                    let _ = writeln!(s, "      after:  {}", t.text);
                }
            }
        }
    }
    for m in &d.families {
        let _ = writeln!(
            s,
            "\n{}: {} customers moved (rows: {}, columns: {})",
            m.family,
            m.moved(),
            run_name(d.from.id, d.from.as_of.as_deref()),
            run_name(d.to.id, d.to.as_of.as_deref())
        );
        let mut rows = vec![{
            let mut h = vec!["from \\ to".to_string()];
            h.extend(m.to.iter().cloned());
            h
        }];
        for (i, label) in m.from.iter().enumerate() {
            let mut r = vec![label.clone()];
            r.extend(m.counts[i].iter().map(u64::to_string));
            rows.push(r);
        }
        s.push_str(&table(&rows, "  "));
    }
    if !d.segments.is_empty() {
        let _ = writeln!(s, "\nsegments:");
        let mut rows = vec![
            ["segment", "before", "after", "entered", "left", "drift"]
                .map(String::from)
                .to_vec(),
        ];
        for c in &d.segments {
            rows.push(vec![
                format!("{}.{}", c.family, c.segment),
                c.before.to_string(),
                c.after.to_string(),
                c.entered.to_string(),
                c.left.to_string(),
                match c.drift_share {
                    Some(p) => format!("{} ({:+.1}%)", signed(c.drift), 100.0 * p),
                    None => signed(c.drift),
                },
            ]);
        }
        s.push_str(&table(&rows, "  "));
    }
    if let Some(m) = &d.clusters {
        let _ = writeln!(
            s,
            "\nclusters, matched by least total centroid distance (in run {}'s clustering space):",
            d.from.id
        );
        let mut rows = vec![{
            let mut h = ["from → to", "distance", "stayed"]
                .map(String::from)
                .to_vec();
            h.extend(m.features.iter().map(|f| format!("Δ {f}")));
            h
        }];
        for p in &m.pairs {
            let mut r = vec![
                format!("{} → {}", p.from, p.to),
                format!("{:.3}", p.distance),
                format!("{:.1}%", 100.0 * p.stayed_share),
            ];
            r.extend(m.features.iter().map(|f| format!("{:+.2}", p.drift[f])));
            rows.push(r);
        }
        s.push_str(&table(&rows, "  "));
        if !m.unmatched_from.is_empty() {
            let _ = writeln!(s, "  gone: {}", m.unmatched_from.join(", "));
        }
        if !m.unmatched_to.is_empty() {
            let _ = writeln!(s, "  new: {}", m.unmatched_to.join(", "));
        }
    }
    s
}

pub fn members(args: &MembersArgs, cli: &Cli) -> Result<(), Failure> {
    let (_, store) = open(&args.store)?;
    let run = match (args.run, &args.at) {
        (Some(id), _) => store.run(id),
        (None, Some(at)) => {
            let day = tessera_core::value::parse_date(at, None)
                .map_err(|_| Failure::Input(anyhow!("--at {at}: expected YYYY-MM-DD")))?;
            store.run_at(&tessera_core::value::days_to_date(day).to_string())
        }
        (None, None) => store.runs().and_then(|r| {
            r.into_iter()
                .next()
                .ok_or_else(|| StoreError::NotFound("the store has no runs yet".into()))
        }),
    }
    .map_err(store_failure)?;
    let snap = store.load(run.id).map_err(store_failure)?;
    let m = store.members(&snap, &args.segment).map_err(store_failure)?;
    if args.store.json {
        return print_json(&m);
    }
    if !cli.quiet {
        let versions: Vec<String> = m
            .definitions
            .iter()
            .map(|d| format!("{} {} {}", d.kind, d.name, d.version))
            .collect();
        eprintln!(
            "{}: {} members in {} (definitions: {})",
            m.segment,
            m.ids.len(),
            run_name(m.run, m.as_of.as_deref()),
            versions.join(", ")
        );
    }
    let mut out = String::with_capacity(m.ids.len() * 10);
    for id in &m.ids {
        out.push_str(id);
        out.push('\n');
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(out.as_bytes()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(())
}

pub fn forget(args: &ForgetArgs, cli: &Cli) -> Result<(), Failure> {
    let (config, _) = crate::output::load_config(&args.store.config)?;
    let mut ids: Vec<String> = args.customer.iter().map(|c| c.trim().to_string()).collect();
    if let Some(f) = &args.file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Failure::Input(anyhow!("{}: {e}", f.display())))?;
        ids.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if ids.is_empty() {
        return Err(Failure::Input(anyhow!(
            "name the customers to forget with --customer ID or --file PATH"
        )));
    }
    // The store is created when missing: the suppression list must hold for the next run.
    let mut store = Store::open(&config.store.path).map_err(store_failure)?;
    let f = store.forget(&ids).map_err(store_failure)?;
    if args.store.json {
        return print_json(&f);
    }
    if !cli.quiet {
        println!(
            "forgot {} customer{} ({} newly suppressed): {} rows removed from {} snapshots in {}; future runs and exports leave them out",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            f.added,
            f.rows_removed,
            f.snapshots_rewritten,
            config.store.path.display()
        );
        for o in &f.stale_outputs {
            println!(
                "warning: {o} was written before and may still hold them; delete it or run again into it"
            );
        }
    }
    Ok(())
}
