use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Customer segmentation from the files you already have."
)]
#[command(after_help = "Examples:
  tessera demo --out demo                    write a demo shop's data and run Tessera on it
  tessera check --config shop/tessera.toml   check a config and show the schema it reads
  tessera run --config shop/tessera.toml --out shop/out")]
pub struct Cli {
    /// No progress bars and no summaries; errors still go to stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a realistic demo dataset and its tessera.toml, then run Tessera on it.
    #[command(after_help = "Examples:
  tessera demo --out demo
  tessera demo --out demo --customers 100000 --seed 7 --dirty 0.02")]
    Demo(DemoArgs),
    /// Read the sources of a config and write the run's outputs to a folder.
    #[command(after_help = "Examples:
  tessera run --config tessera.toml --out out
  tessera run --config tessera.toml --out out --as-of 2025-01-01 --on-conflict last --json
  tessera run --config tessera.toml --out out --strict")]
    Run(RunArgs),
    /// Read the sources and write only the per-customer feature table.
    #[command(after_help = "Examples:
  tessera features --config tessera.toml --out out
  tessera features --config tessera.toml --out out --as-of 2025-01-01 --csv")]
    Features(FeaturesArgs),
    /// Check a config and print the schema it resolves to.
    #[command(after_help = "Examples:
  tessera check --config tessera.toml
  tessera check --config tessera.toml --json")]
    Check(CheckArgs),
}

#[derive(Args)]
pub struct DemoArgs {
    /// Folder to write the dataset to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of customers to make.
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of rows to damage with realistic defects (listed in defects.csv).
    #[arg(long, default_value_t = 0.0)]
    pub dirty: f64,
    /// Only write the dataset; do not run Tessera on it.
    #[arg(long)]
    pub no_run: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// The project config.
    #[arg(long, default_value = "tessera.toml")]
    pub config: PathBuf,
    /// Folder for the run's outputs (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Only data before this day counts (default: from the config, else the day after the latest order or event).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// Stop at the first bad row with file:line:col and exit code 2.
    #[arg(long)]
    pub strict: bool,
    /// Rows with the same id and different content: reject them all, or keep the first or last
    /// (overrides the config's on_conflict for every source).
    #[arg(long, value_enum)]
    pub on_conflict: Option<OnConflict>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Also write out/features.csv.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OnConflict {
    First,
    Last,
    Reject,
}

impl From<OnConflict> for tessera_core::config::ConflictPolicy {
    fn from(o: OnConflict) -> Self {
        match o {
            OnConflict::First => Self::First,
            OnConflict::Last => Self::Last,
            OnConflict::Reject => Self::Reject,
        }
    }
}

#[derive(Args)]
pub struct CheckArgs {
    /// The project config.
    #[arg(long, default_value = "tessera.toml")]
    pub config: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}
