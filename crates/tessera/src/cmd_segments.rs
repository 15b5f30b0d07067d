//! `tessera segments`, `tessera explain` and `tessera sql`: previews of the config's segments.

use crate::Failure;
use crate::cli::{Cli, ExplainArgs, SegmentsArgs, SqlArgs};
use crate::cmd_run::{RunRequest, execute};
use crate::output::load_config;
use crate::segment_stage::{self, ArrowRow, Prepared};
use anyhow::{Context as _, anyhow};
use std::path::{Path, PathBuf};
use tessera_rules::ast::TableKind;
use tessera_rules::row::{eval, leaf_value};
use tessera_rules::sql::Dialect;
use tessera_rules::{Row, Truth, Value};

/// A run's output folder: the one given, or a fresh run into a temporary folder.
pub(crate) struct RunDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
    as_of: i32,
}

fn run_dir(config: &Path, run: Option<&Path>, as_of: Option<&str>) -> Result<RunDir, Failure> {
    let (path, temp) = match run {
        Some(p) => {
            if as_of.is_some() {
                return Err(Failure::Input(anyhow!(
                    "--as-of applies when the command runs ingest and features itself; the run in {} was made as of the day in its run.json",
                    p.display()
                )));
            }
            (p.to_path_buf(), None)
        }
        None => {
            let temp = tempfile::tempdir()?;
            let req = RunRequest {
                as_of,
                quiet: true,
                ..Default::default()
            };
            execute(config, temp.path(), &req)?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let run_json = path.join("run.json");
    let text = std::fs::read_to_string(&run_json)
        .with_context(|| {
            format!(
                "cannot read {}: is it a run's output folder?",
                run_json.display()
            )
        })
        .map_err(Failure::Input)?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let day = doc["as_of"].as_str().ok_or_else(|| {
        anyhow!(
            "{} has no as_of: the run had no orders or events to date it",
            run_json.display()
        )
    })?;
    let as_of = tessera_core::value::parse_date(day, None)?;
    Ok(RunDir {
        path,
        _temp: temp,
        as_of,
    })
}

/// The config's segments compiled against a run's tables; the run folder lives as long as the result.
pub(crate) fn prepared(
    config_path: &Path,
    run: Option<&Path>,
    as_of: Option<&str>,
) -> Result<(RunDir, Prepared), Failure> {
    let (config, _) = load_config(config_path)?;
    if config.segments.is_empty() {
        return Err(Failure::Input(anyhow!(
            "{} defines no [segments]",
            config_path.display()
        )));
    }
    let dir = run_dir(config_path, run, as_of)?;
    let features = segment_stage::read_features(&dir.path.join("features.parquet"))?;
    let prepared = segment_stage::prepare(&config, &dir.path, dir.as_of, &features)?;
    Ok((dir, prepared))
}

pub(crate) fn segment_index(set: &tessera_rules::SegmentSet, name: &str) -> Result<usize, Failure> {
    set.segment(name).ok_or_else(|| {
        Failure::Input(anyhow!(
            "unknown segment {name:?}{}",
            tessera_rules::did_you_mean(name, set.names().into_iter())
        ))
    })
}

pub fn segments(args: &SegmentsArgs, _cli: &Cli) -> Result<(), Failure> {
    let t = &args.tables;
    let (_dir, prepared) = prepared(&t.config, t.run.as_deref(), t.as_of.as_deref())?;
    let ev = prepared.evaluate()?;
    let (sizes, groups) = ev.report();
    let names = ev.run.set.names();
    let overlap = crate::segment_stage::overlap(&ev.members);
    if args.tables.json {
        let doc = serde_json::json!({
            "customers": ev.run.customers.len(),
            "segments": sizes,
            "groups": groups,
            "overlap": { "segments": names, "counts": overlap },
            "seconds": ev.steps.iter().map(|&(k, v)| (k, v)).collect::<std::collections::BTreeMap<_, _>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let width = names.iter().map(|n| n.len()).max().unwrap_or(7).max(7);
    println!("{} customers", ev.run.customers.len());
    println!(
        "{:<width$}  {:>10}  {:>7}  version",
        "segment", "members", "share"
    );
    for (s, name) in ev.run.set.segments.iter().zip(&names) {
        let m = &sizes[*name];
        println!(
            "{name:<width$}  {:>10}  {:>6.2}%  {}",
            m["members"].as_u64().unwrap_or(0),
            m["share"].as_f64().unwrap_or(0.0) * 100.0,
            s.version
        );
    }
    for (name, g) in &groups {
        println!(
            "\ngroup {name} (version {})",
            g["version"].as_str().unwrap_or("")
        );
        for (seg, n) in g["sizes"].as_object().into_iter().flatten() {
            println!("  {seg:<width$}  {:>10}", n.as_u64().unwrap_or(0));
        }
        println!(
            "  {:<width$}  {:>10}",
            "(none)",
            g["none"].as_u64().unwrap_or(0)
        );
    }
    println!("\noverlap (customers in both)");
    print!("{:<width$}", "");
    for n in &names {
        print!("  {n:>width$}");
    }
    println!();
    for (n, row) in names.iter().zip(&overlap) {
        print!("{n:<width$}");
        for c in row {
            print!("  {c:>width$}");
        }
        println!();
    }
    Ok(())
}

pub fn explain(args: &ExplainArgs, _cli: &Cli) -> Result<(), Failure> {
    let t = &args.tables;
    let (_dir, ev) = prepared(&t.config, t.run.as_deref(), t.as_of.as_deref())?;
    let ids = ev.customers.column("customer_id").expect("checked");
    let ids = arrow_array::cast::AsArray::as_string::<i32>(ids);
    let Some(row) = ids.iter().position(|id| id == Some(args.customer.as_str())) else {
        return Err(Failure::Input(anyhow!(
            "no customer with id {:?} in the run",
            args.customer
        )));
    };
    let wanted: Vec<usize> = match &args.segment {
        Some(s) => vec![segment_index(&ev.set, s)?],
        None => (0..ev.set.segments.len()).collect(),
    };
    let customer = ArrowRow {
        columns: &ev.customers.columns,
        properties: None,
        row,
    };
    let leaves = row_leaves(&ev, &args.customer)?;
    // Row evaluation, dependencies first, as the real-time path does it.
    let mut members = vec![false; ev.set.segments.len()];
    for &s in &ev.set.order {
        members[s] = eval(
            &ev.set.segments[s].node,
            &customer,
            &leaves,
            &members,
            &ev.cx,
        ) == Truth::True;
    }
    let explanations: Vec<_> = wanted
        .iter()
        .map(|&s| tessera_rules::explain::explain(&ev.set, s, &customer, &leaves, &members, &ev.cx))
        .collect();
    if args.tables.json {
        let doc = serde_json::json!({ "customer_id": args.customer, "segments": explanations });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for e in &explanations {
            print!("{}", tessera_rules::explain::render(e));
        }
    }
    Ok(())
}

/// One batch's columns, properties, and the rows of the customer in it.
type Batch = (
    Vec<arrow_array::ArrayRef>,
    Option<arrow_array::StringArray>,
    Vec<usize>,
);

/// The customer's leaf values, computed from their own rows (the row path).
fn row_leaves(ev: &Prepared, customer: &str) -> Result<Vec<Value>, Failure> {
    let index: segment_stage::CustomerIndex = [(customer, 0)].into_iter().collect();
    let mut values = Vec::with_capacity(ev.set.leaves.len());
    let mut rows: [Vec<Batch>; 2] = [Vec::new(), Vec::new()];
    for (k, table) in [TableKind::Orders, TableKind::Events]
        .into_iter()
        .enumerate()
    {
        if !ev.set.leaves.iter().any(|l| l.table == table) {
            continue;
        }
        let all = segment_stage::Part::default();
        let who = segment_stage::Customers::Lookup(&index);
        segment_stage::for_each_batch(
            &ev.set,
            &ev.dir,
            table,
            &who,
            &all,
            |cols, props, idx, _| {
                let mine: Vec<usize> = (0..idx.len()).filter(|&r| idx[r] == 0).collect();
                if !mine.is_empty() {
                    rows[k].push((cols.to_vec(), props.cloned(), mine));
                }
                Ok(())
            },
        )?;
    }
    for leaf in &ev.set.leaves {
        let k = usize::from(leaf.table == TableKind::Events);
        let arrow_rows: Vec<ArrowRow> = rows[k]
            .iter()
            .flat_map(|(cols, props, mine)| {
                mine.iter().map(move |&row| ArrowRow {
                    columns: cols,
                    properties: props.as_ref(),
                    row,
                })
            })
            .collect();
        let refs: Vec<&dyn Row> = arrow_rows.iter().map(|r| r as &dyn Row).collect();
        values.push(leaf_value(leaf, &refs, &ev.cx));
    }
    Ok(values)
}

pub fn sql(args: &SqlArgs, _cli: &Cli) -> Result<(), Failure> {
    let dialect = Dialect::from_name(&args.dialect).ok_or_else(|| {
        Failure::Input(anyhow!(
            "--dialect {}: expected one of {}",
            args.dialect,
            Dialect::NAMES.join(", ")
        ))
    })?;
    let (dir, prepared) = prepared(&args.config, args.run.as_deref(), None)?;
    let set = &prepared.set;
    let i = segment_index(set, &args.segment)?;
    let as_of = match &args.as_of {
        Some(d) => tessera_core::value::parse_date(d, None)
            .with_context(|| format!("--as-of {d}: expected YYYY-MM-DD"))
            .map_err(Failure::Input)?,
        None => dir.as_of,
    };
    let text = tessera_rules::sql::compile(set, i, as_of, dialect)
        .map_err(|e| Failure::Input(e.into()))?;
    println!("{text};");
    Ok(())
}
