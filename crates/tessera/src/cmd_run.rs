use crate::Failure;
use crate::cli::{Cli, RunArgs};
use crate::output::{load_config, run_table};
use crate::progress::Bars;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use tessera_ingest::{IngestError, IngestOptions, RunSummary, StageTime};

/// Runs the pipeline on a config into `out` and writes `out/run.json`.
pub fn execute(
    config_path: &Path,
    out: &Path,
    as_of: Option<&str>,
    strict: bool,
    quiet: bool,
) -> Result<RunSummary, Failure> {
    let (config, text) = load_config(config_path)?;
    let as_of = as_of
        .map(|d| {
            tessera_core::value::parse_date(d, None)
                .with_context(|| format!("--as-of {d}: expected YYYY-MM-DD"))
        })
        .transpose()
        .map_err(Failure::Input)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let started = Instant::now();
    let bars = Bars::new(quiet);
    let outcome = tessera_ingest::ingest(&config, out, &IngestOptions { strict }, &bars)
        .map_err(ingest_failure)?;
    let stages = BTreeMap::from([(
        "ingest".to_string(),
        StageTime {
            seconds: started.elapsed().as_secs_f64(),
        },
    )]);
    let as_of = as_of
        .or(config.as_of)
        .or_else(|| outcome.default_as_of(&config));
    let summary = RunSummary {
        version: env!("CARGO_PKG_VERSION"),
        config_hash: tessera_ingest::config_hash(&text),
        as_of: as_of.map(|d| tessera_core::value::days_to_date(d).to_string()),
        rejected_total: outcome.sources.values().map(|s| s.rejected).sum(),
        sources: outcome.sources,
        reconciled: true,
        stages,
    };
    let path = out.join("run.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(summary)
}

fn ingest_failure(e: IngestError) -> Failure {
    if e.is_input_error() {
        Failure::Input(e.into())
    } else {
        Failure::Other(e.into())
    }
}

pub fn run(args: &RunArgs, cli: &Cli) -> Result<(), Failure> {
    let summary = execute(
        &args.config,
        &args.out,
        args.as_of.as_deref(),
        args.strict,
        cli.quiet,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !cli.quiet {
        print!("{}", run_table(&summary, &args.out));
    }
    Ok(())
}
