//! Running the real binary in the pipeline tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `tessera ARGS` in `dir` and asserts it succeeded.
pub fn run_ok(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `tessera features` on `dir/tessera.toml` as of `as_of` and returns `out/features.csv`, a
/// map from column name to value for each row.
pub fn features_csv(dir: &Path, as_of: &str) -> Vec<HashMap<String, String>> {
    run_ok(
        dir,
        &[
            "--quiet", "features", "--out", "out", "--as-of", as_of, "--csv",
        ],
    );
    csv_maps(&dir.join("out/features.csv"))
}

/// Runs `tessera features` on `dir/tessera.toml` into `dir/out` as of `as_of`, whether it
/// succeeds or not.
pub fn features_output(dir: &Path, as_of: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["--quiet", "features", "--out", "out", "--as-of", as_of])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A CSV file's rows, each a map from column name to value.
pub fn csv_maps(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// A Parquet file's rows as one batch.
pub fn read_parquet(path: &Path) -> arrow_array::RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<arrow_array::RecordBatch> = reader.map(Result::unwrap).collect();
    arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// Writes and runs the demo shop of `customers` customers drawn with `seed` into `dir/shop`,
/// and returns that folder (its run is in `shop/out`).
pub fn demo(dir: &Path, customers: u32, seed: u64) -> std::path::PathBuf {
    demo_with(dir, customers, seed, &[])
}

/// [`demo`] with more `tessera demo` arguments (`--dirty`, `--no-run`, …).
pub fn demo_with(dir: &Path, customers: u32, seed: u64, more: &[&str]) -> std::path::PathBuf {
    let (customers, seed) = (customers.to_string(), seed.to_string());
    let mut args = vec![
        "--quiet",
        "demo",
        "--out",
        "shop",
        "--customers",
        &customers,
        "--seed",
        &seed,
    ];
    args.extend_from_slice(more);
    run_ok(dir, &args);
    dir.join("shop")
}

/// A run's `run.json`.
pub fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}
