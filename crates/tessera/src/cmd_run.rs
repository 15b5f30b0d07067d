use crate::Failure;
use crate::cli::{Cli, FeaturesArgs, RunArgs};
use crate::output::{load_config, run_table};
use crate::progress::Bars;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use tessera_core::config::ConflictPolicy;
use tessera_ingest::{IngestError, IngestOptions, RunSummary, StageTime};

/// What a run is asked to do beyond its config.
#[derive(Default)]
pub struct RunRequest<'a> {
    pub as_of: Option<&'a str>,
    pub strict: bool,
    pub on_conflict: Option<ConflictPolicy>,
    pub quiet: bool,
    /// Also write the feature table as CSV.
    pub csv: bool,
    /// Stop after the feature table (and its RFM scores): no clusters, no segments.
    pub features_only: bool,
}

/// Removes what an earlier run into `out` wrote and this one writes again (or, like
/// `features.csv` without `--csv`, does not), so that a run that stops part way leaves nothing
/// that looks current.
fn remove_earlier_outputs(out: &Path, features_only: bool) -> Result<(), Failure> {
    let mut names = vec!["run.json", "features.parquet", "features.csv"];
    if !features_only {
        names.extend(["assignments.parquet", "profiles.json", "report.html"]);
    }
    for name in names {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::anyhow!("cannot remove {}: {e}", path.display()).into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs the pipeline on a config into `out` and writes `out/run.json`.
pub fn execute(config_path: &Path, out: &Path, req: &RunRequest) -> Result<RunSummary, Failure> {
    let (mut config, text) = load_config(config_path)?;
    if let Some(policy) = req.on_conflict {
        config
            .sources
            .iter_mut()
            .for_each(|s| s.on_conflict = policy);
    }
    let as_of = req
        .as_of
        .map(|d| {
            tessera_core::value::parse_date(d, None)
                .with_context(|| format!("--as-of {d}: expected YYYY-MM-DD"))
        })
        .transpose()
        .map_err(Failure::Input)?;
    check_custom_features(&config)?;
    check_rule_syntax(&config)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    remove_earlier_outputs(out, req.features_only)?;
    // Customers forgotten are left out of the inputs; the run is recorded in the store.
    let suppressed = crate::history_stage::suppression(&config)?;
    let mut store = if config.store.enabled && !req.features_only {
        Some(tessera_store::Store::open(&config.store.path)?)
    } else {
        None
    };
    let started = Instant::now();
    let bars = Bars::new(req.quiet);
    let opts = IngestOptions {
        strict: req.strict,
        suppress: suppressed.clone().map(std::sync::Arc::new),
        ..IngestOptions::default()
    };
    let mut outcome = tessera_ingest::ingest(&config, out, &opts, &bars).map_err(ingest_failure)?;
    // Ingest's indexes and buffers are freed: their memory goes back before the features.
    tessera_features::memory::release_unused();
    let seconds = |t: Instant| StageTime {
        seconds: t.elapsed().as_secs_f64(),
        steps: BTreeMap::new(),
    };
    let mut stages = BTreeMap::from([("ingest".to_string(), seconds(started))]);
    let day = as_of
        .or(config.as_of)
        .or_else(|| outcome.default_as_of(&config))
        .ok_or_else(|| {
            Failure::Input(anyhow::anyhow!(
                "{}: no as_of to describe the customers at: no order or event has a \
                 time to take it from; give --as-of YYYY-MM-DD or [project] as_of",
                config_path.display()
            ))
        })?;
    let (mut segments, mut groups, mut clustering, mut clv) = Default::default();
    let mut exports = BTreeMap::new();
    let mut report = None;
    let started = Instant::now();
    let models = !req.features_only;
    let keep_rows = models && !config.segments.is_empty();
    let built = build_features(&config, out, day, keep_rows, outcome.order_customers.take())?;
    let (mut features, order_rows) = (built.table, built.rows);
    let mut feature_seconds = started.elapsed().as_secs_f64();
    if let Some(c) = config.clv.as_ref().filter(|_| models) {
        let started = Instant::now();
        let (columns, report) =
            crate::clv_stage::clv_customers(&config, c, &features, built.holdout.as_ref())?;
        for (name, column) in columns {
            features = with_column(&features, name, column)?;
        }
        clv = Some(report);
        stages.insert("clv".to_string(), seconds(started));
    }
    // The customer row (clean customers beside the feature table), built once for the
    // clustering and the segments.
    let mut customers = None;
    if let Some(c) = config.clustering.as_ref().filter(|_| models) {
        let started = Instant::now();
        let mut table = crate::segment_stage::customer_table(&config, out, &features)?;
        let (cluster, report) = crate::cluster_stage::cluster_customers(&config, c, &table)?;
        features = with_column(&features, "cluster", cluster.clone())?;
        table.push("cluster", tessera_rules::Type::Int, cluster);
        customers = Some(table);
        clustering = Some(serde_json::to_value(&report)?);
        stages.insert("clustering".to_string(), seconds(started));
    }
    let started = Instant::now();
    write_features(&features, out, req.csv)?;
    feature_seconds += started.elapsed().as_secs_f64();
    stages.insert(
        "features".to_string(),
        StageTime {
            seconds: feature_seconds,
            steps: BTreeMap::new(),
        },
    );
    if models && (!config.segments.is_empty() || config.clustering.is_some()) {
        let started = Instant::now();
        let table = match customers {
            Some(table) => table,
            None => crate::segment_stage::customer_table(&config, out, &features)?,
        };
        let mut prepared = crate::segment_stage::prepare_table(&config, out, day, table, started)?;
        prepared.orders = order_rows;
        let mut ev = prepared.evaluate()?;
        let write = Instant::now();
        crate::segment_stage::write_assignments(
            &ev.run.set,
            &ev.run.customers,
            &ev.members,
            &out.join("assignments.parquet"),
        )?;
        ev.steps.push(("write", write.elapsed().as_secs_f64()));
        if !config.exports.is_empty() {
            let started = Instant::now();
            let dir = out.join("exports");
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for e in &config.exports {
                let file = dir.join(format!("{}.{}", e.name, e.format.key()));
                let s =
                    crate::cmd_export::write_export(&config, e, &ev, &file, suppressed.as_ref())?;
                exports.insert(
                    e.name.clone(),
                    crate::cmd_export::summary_json(e, &s, &file),
                );
            }
            ev.steps.push(("exports", started.elapsed().as_secs_f64()));
        }
        let started_profiles = Instant::now();
        let profiles = crate::profile_stage::write(&ev, config.money_decimals, out)?;
        ev.steps
            .push(("profiles", started_profiles.elapsed().as_secs_f64()));
        (segments, groups) = ev.report();
        let mut stage = seconds(started);
        stage.steps = ev.steps.iter().map(|&(k, v)| (k.to_string(), v)).collect();
        stages.insert("segments".to_string(), stage);
        report = Some((ev, profiles));
    }
    let mut summary = RunSummary {
        version: env!("CARGO_PKG_VERSION"),
        config_hash: tessera_ingest::config_hash(&text),
        as_of: Some(tessera_core::value::days_to_date(day).to_string()),
        rejected_total: outcome.sources.values().map(|s| s.rejected).sum(),
        sources: outcome.sources,
        reconciled: true,
        stages,
        segments,
        groups,
        clustering,
        clv,
        exports,
        snapshot: None,
    };
    let run = serde_json::to_value(&summary)?;
    let snapshot = match &store {
        Some(_) => Some(crate::history_stage::Snapshot::build(
            &config,
            &text,
            &features,
            report.as_ref().map(|(ev, _)| ev),
            summary.as_of.clone(),
            out,
        )?),
        None => None,
    };
    let mut store_steps = BTreeMap::new();
    if let Some((ev, profiles)) = &report {
        let started = Instant::now();
        let history = match (&store, &snapshot) {
            (Some(store), Some(snap)) => {
                crate::history_stage::report_history(store, &snap.record(&run))?
            }
            _ => None,
        };
        store_steps.insert("compare".to_string(), started.elapsed().as_secs_f64());
        crate::report_stage::write(ev, &config, &run, profiles, out, history)?;
    }
    if let (Some(store), Some(snap)) = (store.as_mut(), &snapshot) {
        let started = Instant::now();
        let info = store.record(&snap.record(&run), config.store.keep, &mut |_| {})?;
        store_steps.insert("record".to_string(), started.elapsed().as_secs_f64());
        summary.snapshot = Some(serde_json::json!({
            "run": info.id,
            "store": config.store.path.display().to_string(),
        }));
        summary.stages.insert(
            "store".to_string(),
            StageTime {
                seconds: store_steps.values().sum(),
                steps: store_steps,
            },
        );
    }
    let path = out.join("run.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(summary)
}

/// The feature table with the RFM scores, from the run's clean tables (and the order rows it
/// resolved, when asked, and the holdout split `[clv]` validates on).
fn build_features(
    config: &tessera_core::Config,
    out: &Path,
    as_of: i32,
    keep_rows: bool,
    order_customers: Option<Vec<u32>>,
) -> Result<tessera_features::table::Built, Failure> {
    use tessera_features::table;
    let mut params = table::FeatureParams::new(as_of, config.time_zone);
    params.windows = config.features.windows.clone();
    params.unit = config.features.time_unit.into();
    params.event_names = config.features.events.clone();
    params.custom = config.features.custom.clone();
    params.holdout_days = config
        .clv
        .as_ref()
        .map(|c| c.holdout_days)
        .filter(|&d| d > 0);
    let mut built =
        table::build_keeping_rows(&out.join("clean"), &params, keep_rows, order_customers)
            .map_err(|e| match e.in_input(config) {
                e @ (table::FeatureError::Custom { .. }
                | table::FeatureError::Overflow { .. }
                | table::FeatureError::TooManyNames { .. }) => Failure::Input(e.into()),
                e => Failure::Other(e.into()),
            })?;
    built.table = crate::stages::with_rfm(&built.table, &config.rfm)?;
    Ok(built)
}

/// The batch with one more column at the end.
fn with_column(
    batch: &arrow_array::RecordBatch,
    name: &str,
    column: arrow_array::ArrayRef,
) -> Result<arrow_array::RecordBatch, Failure> {
    let mut fields: Vec<arrow_schema::FieldRef> = batch.schema().fields().iter().cloned().collect();
    fields.push(std::sync::Arc::new(arrow_schema::Field::new(
        name,
        column.data_type().clone(),
        true,
    )));
    let mut columns = batch.columns().to_vec();
    columns.push(column);
    Ok(arrow_array::RecordBatch::try_new(
        std::sync::Arc::new(arrow_schema::Schema::new(fields)),
        columns,
    )?)
}

/// Writes `out/features.parquet` (and `features.csv` when asked).
fn write_features(
    features: &arrow_array::RecordBatch,
    out: &Path,
    csv: bool,
) -> Result<(), Failure> {
    use tessera_features::table;
    table::write_parquet(features, &out.join("features.parquet"))?;
    if csv {
        table::write_csv(features, &out.join("features.csv"))?;
    }
    Ok(())
}

/// Checks `[features.custom]` against the clean tables' schemas, so that a mistake in a custom
/// feature is reported before any data is read.
pub fn check_custom_features(config: &tessera_core::Config) -> Result<(), Failure> {
    use tessera_core::schema::SourceKind;
    let schema = |kind| config.source(kind).map(tessera_ingest::clean_schema);
    let tables = tessera_features::custom::CustomTables {
        orders: schema(SourceKind::Orders),
        events: schema(SourceKind::Events),
    };
    tessera_features::custom::check(&config.features.custom, &tables, config.time_zone)
        .map_err(|e| Failure::Input(e.into()))
}

/// Parses every segment rule, so a syntax error is reported before any data is read; names and
/// types are checked once the feature table exists.
pub fn check_rule_syntax(config: &tessera_core::Config) -> Result<(), Failure> {
    for s in &config.segments {
        if let Err(e) = tessera_rules::parser::parse(&s.rule) {
            return Err(Failure::Input(anyhow::anyhow!(
                "{}: segments.{}.rule: {}",
                s.at,
                s.name,
                e.render(&s.rule)
            )));
        }
    }
    Ok(())
}

fn ingest_failure(e: IngestError) -> Failure {
    if e.is_input_error() {
        Failure::Input(e.into())
    } else {
        Failure::Other(e.into())
    }
}

pub fn run(args: &RunArgs, cli: &Cli) -> Result<(), Failure> {
    run_with(args, cli, false, false)
}

/// `tessera features`: the run's stages up to the feature table and its RFM scores.
pub fn features(args: &FeaturesArgs, cli: &Cli) -> Result<(), Failure> {
    run_with(&args.run, cli, args.csv, true)
}

fn run_with(args: &RunArgs, cli: &Cli, csv: bool, features_only: bool) -> Result<(), Failure> {
    let req = RunRequest {
        as_of: args.as_of.as_deref(),
        strict: args.strict,
        on_conflict: args.on_conflict.map(Into::into),
        quiet: cli.quiet,
        csv,
        features_only,
    };
    let summary = execute(&args.config, &args.out, &req)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !cli.quiet {
        print!("{}", run_table(&summary, &args.out));
    }
    Ok(())
}
