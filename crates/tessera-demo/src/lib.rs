//! Deterministic synthetic data for a demo shop, shaped like the exports
//! Tessera is meant to ingest: `customers.csv`, `orders.csv`,
//! `events.ndjson`, `feedback.csv`, a matching `tessera.toml`, and the hidden
//! ground truth in `truth.csv`.
//!
//! Customers belong to one of five latent types (champion, regular, bargain
//! hunter, one-and-done, business buyer) and buy according to a
//! buy-till-you-die process: a BG/NBD purchase rate and dropout probability,
//! Gamma-Gamma order values, Nov-Dec seasonality, refunds, and events that
//! cluster around purchases and fade after dropout. Every customer has its own
//! random stream, so output is byte-identical for the same options while
//! chunks of customers are generated in parallel. With `dirty > 0` rows are
//! damaged at that rate and every defect is listed in `defects.csv`.
//!
//! ```no_run
//! use tessera_demo::{DemoOptions, generate};
//!
//! let opts = DemoOptions { customers: 10_000, seed: 42, dirty: 0.02 };
//! let summary = generate(std::path::Path::new("demo"), &opts, &|_done| {})?;
//! assert_eq!(summary.customers, 10_000);
//! # Ok::<(), tessera_demo::DemoError>(())
//! ```

mod activity;
pub mod audit;
mod calendar;
mod catalog;
mod chunk;
mod defects;
mod events;
mod latent;
mod model;
mod output;
mod rows;
mod sim;
mod toml;
mod write;

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

use crate::chunk::{Bases, CHUNK, Ctx, Out, Sim};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Number of customers (at least 1).
    pub customers: usize,
    /// Seed of all random streams.
    pub seed: u64,
    /// Probability in `[0, 0.5]` that a data row gets one injected defect.
    pub dirty: f64,
}

/// Row counts of a generated data set (logical rows, without duplicate copies).
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Rows of `customers.csv` (and `truth.csv`).
    pub customers: usize,
    /// Orders, refunds included.
    pub orders: usize,
    /// Lines of `events.ndjson`.
    pub events: usize,
    /// Survey answers in `feedback.csv`.
    pub feedback: usize,
    /// Number of rows listed in `defects.csv`.
    pub defects: usize,
}

/// Errors of [`generate`].
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Creating or writing a file failed.
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An option is out of range.
    #[error("invalid demo option: {0}")]
    InvalidOption(String),
}

/// splitmix64: decorrelates seeds of neighbouring customers.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `index` under `seed`.
pub(crate) fn mix(seed: u64, index: u64) -> u64 {
    splitmix64(splitmix64(seed) ^ index)
}

/// Writes DIR/customers.csv, DIR/orders.csv, DIR/events.ndjson, DIR/feedback.csv, DIR/tessera.toml, DIR/truth.csv and, when dirty > 0, DIR/defects.csv.
///
/// `progress` is called from the calling thread with the number of customers
/// just written, once per chunk of 4096 customers. A stale `defects.csv` is
/// removed when `dirty` is 0.
pub fn generate(
    dir: &Path,
    opts: &DemoOptions,
    progress: &dyn Fn(u64),
) -> Result<DemoSummary, DemoError> {
    if opts.customers == 0 {
        return Err(DemoError::InvalidOption(
            "customers must be at least 1, got 0".into(),
        ));
    }
    if !(0.0..=0.5).contains(&opts.dirty) {
        return Err(DemoError::InvalidOption(format!(
            "dirty must be between 0 and 0.5, got {}",
            opts.dirty
        )));
    }
    let mut output = output::Output::create(dir, toml::CONFIG)?;
    let total = opts.customers as u64;
    let ctx = Ctx {
        seed: opts.seed,
        dirty: opts.dirty,
        customers: total,
        cal: calendar::Calendar::new(),
    };
    let mut bases = Bases::default();
    std::thread::scope(|scope| -> Result<(), DemoError> {
        let (tx, rx) = sync_channel::<Vec<Out>>(1);
        let ctx = &ctx;
        let bases = &mut bases;
        scope.spawn(move || {
            let chunks = total.div_ceil(CHUNK);
            let batch = (rayon::current_num_threads() as u64 * 2).max(2);
            for start in (0..chunks).step_by(batch as usize) {
                let sims: Vec<Sim> = (start..chunks.min(start + batch))
                    .into_par_iter()
                    .map(|c| chunk::simulate(ctx, c * CHUNK, CHUNK.min(total - c * CHUNK)))
                    .collect();
                let firsts: Vec<Bases> = sims
                    .iter()
                    .map(|s| {
                        let first = *bases;
                        *bases = first.after(s);
                        first
                    })
                    .collect();
                let outs = sims
                    .par_iter()
                    .zip(firsts)
                    .map(|(s, b)| chunk::format(ctx, s, b))
                    .collect();
                if tx.send(outs).is_err() {
                    return;
                }
            }
        });
        for outs in rx {
            for out in outs {
                output.chunk(&out)?;
                progress(out.customers);
            }
        }
        Ok(())
    })?;
    let defects = output.finish(dir, opts.dirty > 0.0)?;
    Ok(DemoSummary {
        customers: opts.customers,
        orders: bases.orders as usize,
        events: bases.events as usize,
        feedback: bases.feedback as usize,
        defects,
    })
}
