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
    /// Print each segment's size and share and the overlap between segments.
    #[command(after_help = "Examples:
  tessera segments --config tessera.toml
  tessera segments --config tessera.toml --run out --json")]
    Segments(SegmentsArgs),
    /// Show why a customer is in or out of each segment: the rule tree with every value.
    #[command(after_help = "Examples:
  tessera explain --config tessera.toml --customer C000042
  tessera explain --config tessera.toml --customer C000042 --segment vip --run out --json")]
    Explain(ExplainArgs),
    /// Print the SQL query that returns a segment's members.
    #[command(after_help = "Examples:
  tessera sql --config tessera.toml --segment vip
  tessera sql --config tessera.toml --segment vip --dialect postgres --as-of 2025-01-01")]
    Sql(SqlArgs),
    /// Cluster the rows of any table by its numeric columns, choosing k by evidence.
    #[command(after_help = "Examples:
  tessera cluster --input features.parquet --features recency_days,frequency,monetary_total --k auto --out clusters
  tessera cluster --input points.csv --features a,b,c --k 8 --transform none --seed 7 --json --out out")]
    Cluster(ClusterArgs),
    /// Fit a lifetime-value model (BG/NBD, Pareto/NBD, MBG/NBD with Gamma-Gamma spend) to an
    /// order log or to customers' summaries, and validate it on a holdout period.
    #[command(after_help = "Examples:
  tessera clv --orders orders.csv --calibration-end 1997-09-30 --holdout-end 1998-06-30
  tessera clv --summary summary.csv --model pareto --json
  tessera clv --orders orders.parquet --calibration-end 2024-06-30 --out clv --horizon 12 --period month")]
    Clv(ClvArgs),
    /// Write a segment's audience for one channel: members with that channel's consent, the
    /// fields asked for, and a deterministic holdout flag.
    #[command(after_help = "Examples:
  tessera export --config tessera.toml --export winback_email
  tessera export --config tessera.toml --segment vip --channel email --format parquet --out vip.parquet
  tessera export --config tessera.toml --segment vip --channel sms --fields customer_id,clv --holdout 0.1 --run out")]
    Export(ExportArgs),
    /// List the runs recorded in the project store, newest first, with each segment's size.
    #[command(after_help = "Examples:
  tessera history --config tessera.toml
  tessera history --config tessera.toml --limit 4 --json")]
    History(HistoryArgs),
    /// Show what changed between two recorded runs (default: the last two): customers moving
    /// between segments, who entered and left, size drift, clusters and definitions.
    #[command(after_help = "Examples:
  tessera diff --config tessera.toml
  tessera diff 3 5 --config tessera.toml --json")]
    Diff(DiffArgs),
    /// Print a segment's members from the store: as of a date, of a run, or of the last run.
    #[command(after_help = "Examples:
  tessera members --config tessera.toml --segment vip
  tessera members --config tessera.toml --segment vip --at 2025-03-01
  tessera members --config tessera.toml --segment tier=gold --run 4 --json")]
    Members(MembersArgs),
    /// Forget customers: remove them from every recorded run and leave them out of every
    /// future run and export. The store keeps only a salted hash of their ids.
    #[command(after_help = "Examples:
  tessera forget --config tessera.toml --customer C000042
  tessera forget --config tessera.toml --file erasure-requests.txt --json")]
    Forget(ForgetArgs),
}

#[derive(Args)]
pub struct StoreArgs {
    /// The project config; its `[store]` names the store (`.tessera` beside it by default).
    #[arg(long, default_value = "tessera.toml")]
    pub config: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Show at most this many runs (newest first).
    #[arg(long, default_value_t = 8)]
    pub limit: usize,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The earlier run's id (default: the second newest).
    pub from: Option<i64>,
    /// The later run's id (default: the newest).
    pub to: Option<i64>,
}

#[derive(Args)]
pub struct MembersArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A rule segment's name, or FAMILY=LABEL for one label of a group or model family
    /// (tier=gold, rfm_segment=Champions, cluster=2, churn_risk=high).
    #[arg(long)]
    pub segment: String,
    /// The last run whose as_of is on or before this day (YYYY-MM-DD).
    #[arg(long, conflicts_with = "run")]
    pub at: Option<String>,
    /// A recorded run's id.
    #[arg(long)]
    pub run: Option<i64>,
}

#[derive(Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A customer's id; repeat for several.
    #[arg(long)]
    pub customer: Vec<String>,
    /// A file of customer ids, one per line.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub tables: TablesArgs,
    /// A configured export, `[exports.NAME]`.
    #[arg(long, conflicts_with = "segment")]
    pub export: Option<String>,
    /// The segment to export; its configured export when it has one, else --channel is needed.
    #[arg(long)]
    pub segment: Option<String>,
    /// The channel whose consent every exported customer must have (a key of `[consent]`).
    #[arg(long)]
    pub channel: Option<String>,
    /// File format (default: the export's, else csv).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormatArg>,
    /// The file to write (default: NAME.FORMAT in the current folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Columns of the customer row to write, comma-separated (default: the export's, else
    /// customer_id). Personal data is written only when listed.
    #[arg(long)]
    pub fields: Option<String>,
    /// Share of the audience flagged holdout = true, in [0, 1).
    #[arg(long)]
    pub holdout: Option<f64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    Csv,
    Parquet,
    Ndjson,
}

impl From<ExportFormatArg> for tessera_core::config::ExportFormat {
    fn from(f: ExportFormatArg) -> Self {
        match f {
            ExportFormatArg::Csv => Self::Csv,
            ExportFormatArg::Parquet => Self::Parquet,
            ExportFormatArg::Ndjson => Self::Ndjson,
        }
    }
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["orders", "summary"])))]
pub struct ClvArgs {
    /// An order log, CSV or Parquet (by extension), with `customer_id`, `ordered_at` (a date
    /// YYYY-MM-DD or YYYYMMDD, or a timestamp whose date is taken) and `amount`. Orders with a
    /// negative amount (refunds) are not purchases; same-day purchases are one transaction.
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Customers' summaries instead of orders, CSV or Parquet: `customer_id`, `x`, `t_x`, `T`
    /// and optionally `mean_spend` (lifetimes' names `frequency`, `recency`,
    /// `monetary_value` are accepted too).
    #[arg(long, conflicts_with_all = ["calibration_end", "holdout_end"])]
    pub summary: Option<PathBuf>,
    /// The last day of the calibration period, inclusive (with --orders): `T` runs to it.
    #[arg(long, required_unless_present = "summary")]
    pub calibration_end: Option<String>,
    /// The last day of the holdout period, inclusive; default the day of the last order when
    /// orders follow the calibration period.
    #[arg(long)]
    pub holdout_end: Option<String>,
    /// The count model.
    #[arg(long, default_value = "bgnbd", value_parser = ["bgnbd", "pareto", "mbgnbd"])]
    pub model: String,
    /// Unit of the summaries' times.
    #[arg(long, default_value = "weeks", value_parser = ["days", "weeks"])]
    pub unit: String,
    /// L2 penalty, as lifetimes' penalizer_coef.
    #[arg(long, default_value_t = 0.0)]
    pub penalizer: f64,
    /// Periods of lifetime value written with --out.
    #[arg(long, default_value_t = 12)]
    pub horizon: u32,
    /// Length of one period: day, week, month (365.25/12 days) or year.
    #[arg(long, default_value = "month", value_parser = ["day", "week", "month", "year"])]
    pub period: String,
    /// Discount rate per period.
    #[arg(long, default_value_t = 0.01)]
    pub discount_rate: f64,
    /// Folder for clv.parquet: every customer's summary and predictions with 95% intervals.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON document (model, params, std_errors, intervals, log_likelihood, spend,
    /// validation) on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ClusterArgs {
    /// A Parquet or CSV file (by its extension), one row per item.
    #[arg(long)]
    pub input: PathBuf,
    /// The numeric columns to cluster on, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// The number of clusters, or `auto` to choose it in --k-range.
    #[arg(long, default_value = "auto")]
    pub k: String,
    /// The range auto tries, LO..HI.
    #[arg(long, default_value = "2..8")]
    pub k_range: String,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fits from different seeds; the lowest inertia is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: u32,
    /// Steps applied to every feature: `none` or a list of log1p, standardize, robust,
    /// winsorize, winsorize(LO, HI).
    #[arg(long, default_value = "standardize")]
    pub transform: String,
    /// Smallest share of rows a cluster may hold when k is chosen.
    #[arg(long, default_value_t = 0.02)]
    pub min_share: f64,
    /// The identifying column written beside each cluster; default `customer_id` or `id` when
    /// the input has one, else the row number.
    #[arg(long)]
    pub id: Option<String>,
    /// Number the clusters by this feature's mean, highest first; default the first feature.
    #[arg(long)]
    pub order_by: Option<String>,
    /// Folder for clusters.parquet.
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON document (k, inertia, iterations, centers, selection) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where the tables a segment command reads come from.
#[derive(Args)]
pub struct TablesArgs {
    /// The project config.
    #[arg(long, default_value = "tessera.toml")]
    pub config: PathBuf,
    /// Read an earlier run's output folder instead of running ingest and features first.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Evaluate as of this day (YYYY-MM-DD); without --run only.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct SegmentsArgs {
    #[command(flatten)]
    pub tables: TablesArgs,
}

#[derive(Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub tables: TablesArgs,
    /// The customer's id.
    #[arg(long)]
    pub customer: String,
    /// Only this segment (default: every segment).
    #[arg(long)]
    pub segment: Option<String>,
}

#[derive(Args)]
pub struct SqlArgs {
    /// The project config.
    #[arg(long, default_value = "tessera.toml")]
    pub config: PathBuf,
    /// The segment to compile.
    #[arg(long)]
    pub segment: String,
    /// SQL dialect: datafusion, postgres, duckdb or sqlite.
    #[arg(long, default_value = "datafusion")]
    pub dialect: String,
    /// The day windows end before (YYYY-MM-DD); default: the config's as_of, else today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Read the table schemas from an earlier run's output folder instead of running ingest and features.
    #[arg(long)]
    pub run: Option<PathBuf>,
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
