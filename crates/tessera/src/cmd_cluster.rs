//! `tessera cluster`: clusters the rows of any Parquet or CSV table by its numeric columns.

use crate::Failure;
use crate::cli::{Cli, ClusterArgs};
use crate::cluster_stage::{self, Columns, Spec, step};
use anyhow::{Context as _, anyhow};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, RecordBatchReader, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use std::path::Path;
use std::sync::Arc;
use tessera_core::config::{ClusterMethod, MissingPolicy, TransformStep};

pub fn cluster(args: &ClusterArgs, cli: &Cli) -> Result<(), Failure> {
    let k = match args.k.as_str() {
        "auto" => None,
        n => Some(n.parse::<usize>().ok().filter(|&k| k >= 1).ok_or_else(|| {
            Failure::Input(anyhow!("--k {n}: expected `auto` or a number of clusters"))
        })?),
    };
    let k_range = args
        .k_range
        .split_once("..")
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .filter(|&(a, b): &(usize, usize)| 2 <= a && a <= b)
        .ok_or_else(|| {
            Failure::Input(anyhow!(
                "--k-range {}: expected LO..HI with 2 <= LO <= HI",
                args.k_range
            ))
        })?;
    let steps = TransformStep::parse_list(&args.transform)
        .map_err(|e| Failure::Input(anyhow!("--transform: {e}")))?;
    if !(0.0..0.5).contains(&args.min_share) {
        return Err(Failure::Input(anyhow!(
            "--min-share {}: expected at least 0 and below 0.5",
            args.min_share
        )));
    }
    let batch = read_table(&args.input, &args.features)?;
    let column = |name: &str| {
        batch.column_by_name(name).ok_or_else(|| {
            let names: Vec<&str> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            Failure::Input(anyhow!(
                "{}: no column `{name}`{}",
                args.input.display(),
                tessera_core::config::did_you_mean(name, names.into_iter())
            ))
        })
    };
    let numeric = args
        .features
        .iter()
        .map(|f| cluster_stage::numbers(f, column(f)?, 1.0))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = Spec {
        numeric: args.features.clone(),
        steps: vec![steps.iter().map(|&s| step(s)).collect(); args.features.len()],
        categorical: Vec::new(),
        method: ClusterMethod::Kmeans,
        k,
        k_range,
        seed: args.seed,
        n_init: args.n_init.max(1) as usize,
        min_share: args.min_share,
        missing: MissingPolicy::Skip,
        gamma: None,
        minibatch_above: usize::MAX,
        order_by: args.order_by.clone(),
    };
    let cols = Columns {
        numeric,
        categorical: Vec::new(),
        rows: batch.num_rows(),
    };
    let outcome = cluster_stage::fit(&spec, &cols)?;

    // clusters.parquet: the id (or row number) and the cluster.
    let id = match &args.id {
        Some(name) => Some((name.as_str(), column(name)?.clone())),
        None => ["customer_id", "id"]
            .into_iter()
            .find_map(|n| batch.column_by_name(n).map(|c| (n, c.clone()))),
    };
    let (id_field, id_column): (Field, ArrayRef) = match id {
        Some((name, c)) => {
            let c = match c.data_type() {
                DataType::Utf8 | DataType::Int32 | DataType::Int64 | DataType::UInt64 => c,
                _ => arrow_cast::cast(&c, &DataType::Utf8)?,
            };
            (Field::new(name, c.data_type().clone(), true), c)
        }
        None => (
            Field::new("row", DataType::UInt64, false),
            Arc::new(UInt64Array::from_iter_values(0..batch.num_rows() as u64)),
        ),
    };
    let clusters: ArrayRef = Arc::new(Int32Array::from_iter(
        outcome.labels.iter().map(|l| l.map(|l| l as i32)),
    ));
    let out = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            id_field,
            Field::new("cluster", DataType::Int32, true),
        ])),
        vec![id_column, clusters],
    )?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let path = args.out.join("clusters.parquet");
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, out.schema(), None)?;
    w.write(&out)?;
    w.close()?;

    let r = &outcome.report;
    if args.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else if !cli.quiet {
        print!("{}", describe(r));
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The report as text: the choice, the clusters, the selection table.
pub fn describe(r: &cluster_stage::Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} clusters of {} rows ({} without a value in every feature) by {}",
        r.k, r.clustered, r.skipped, r.method
    );
    let _ = writeln!(s, "{}", r.reason);
    let width = r
        .features
        .iter()
        .map(|f| f.len())
        .max()
        .unwrap_or(6)
        .max(10);
    let _ = write!(s, "\ncluster  {:>9}  {:>6}", "size", "share");
    for f in &r.features {
        let _ = write!(s, "  {f:>width$}");
    }
    let _ = writeln!(s);
    for c in &r.clusters {
        let _ = write!(
            s,
            "{:>7}  {:>9}  {:>5.1}%",
            c.cluster,
            c.size,
            c.share * 100.0
        );
        for f in &r.features {
            let _ = write!(s, "  {:>width$.3}", c.center[f] + 0.0); // no "-0.000"
        }
        let _ = writeln!(s);
    }
    if let Some(sel) = &r.selection {
        let _ = writeln!(
            s,
            "\n  k      inertia  silhouette      CH      DB  smallest  stability"
        );
        for row in &sel.rows {
            let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
            let _ = writeln!(
                s,
                "{:>3}  {:>11.1}  {:>10}  {:>6}  {:>6}  {:>7.1}%  {:>9}{}",
                row.k,
                row.inertia,
                opt(row.silhouette, 3),
                opt(row.calinski_harabasz, 0),
                opt(row.davies_bouldin, 3),
                row.min_share * 100.0,
                opt(row.stability, 3),
                if row.k == sel.k { "  <- chosen" } else { "" }
            );
        }
    }
    s
}

/// The input table, with the feature columns read as numbers. Parquet or CSV, by extension.
pub(crate) fn read_table(path: &Path, features: &[String]) -> Result<RecordBatch, Failure> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let open = || {
        std::fs::File::open(path)
            .with_context(|| format!("cannot open {}", path.display()))
            .map_err(Failure::Input)
    };
    let fail = |e: &dyn std::fmt::Display| Failure::Input(anyhow!("{}: {e}", path.display()));
    let (schema, batches) = match ext.as_str() {
        "parquet" => {
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)
                    .map_err(|e| fail(&e))?
                    .with_batch_size(65_536)
                    .build()
                    .map_err(|e| fail(&e))?;
            let schema = reader.schema();
            let batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(&e))?;
            (schema, batches)
        }
        "csv" => read_csv(path, features)?,
        _ => {
            return Err(Failure::Input(anyhow!(
                "{}: expected a .parquet or .csv file",
                path.display()
            )));
        }
    };
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// A CSV file with a header: the feature columns as numbers (empty cells are nulls), every other
/// column as text. A cell that is not a number is an error naming its line and column.
fn read_csv(path: &Path, features: &[String]) -> Result<(Arc<Schema>, Vec<RecordBatch>), Failure> {
    let fail = |e: &dyn std::fmt::Display| Failure::Input(anyhow!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(&e))?;
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| fail(&e))?
        .iter()
        .map(str::to_string)
        .collect();
    let numeric: Vec<bool> = names.iter().map(|n| features.contains(n)).collect();
    let mut numbers: Vec<Vec<Option<f64>>> = vec![Vec::new(); names.len()];
    let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| fail(&e))? {
        let line = record.position().map_or(0, |p| p.line());
        for (j, name) in names.iter().enumerate() {
            let cell = record.get(j).unwrap_or("").trim();
            if numeric[j] {
                let v = if cell.is_empty() {
                    None
                } else {
                    Some(cell.parse::<f64>().map_err(|_| {
                        fail(&format!(
                            "line {line}, column {} ({name}): `{cell}` is not a number",
                            j + 1
                        ))
                    })?)
                };
                numbers[j].push(v);
            } else {
                texts[j].push(Some(cell.to_string()));
            }
        }
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(&numeric)
        .map(|(n, &num)| {
            let ty = if num {
                DataType::Float64
            } else {
                DataType::Utf8
            };
            Field::new(n, ty, true)
        })
        .collect();
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|j| -> ArrayRef {
            if numeric[j] {
                Arc::new(arrow_array::Float64Array::from(std::mem::take(
                    &mut numbers[j],
                )))
            } else {
                Arc::new(arrow_array::StringArray::from(std::mem::take(
                    &mut texts[j],
                )))
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((schema, vec![batch]))
}
