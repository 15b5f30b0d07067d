//! `tessera.toml`: what the user wrote, checked once into types the pipeline can trust.
//!
//! Parsing keeps the span of every key so that each mistake is reported as
//! `tessera.toml:LINE:COL: message`, with a "did you mean" for misspelt names.

mod check;
mod raw;

use check::Ctx;
pub use check::{did_you_mean, format_from_path};
use raw::RawConfig;

use crate::schema::{FieldType, Role, SourceKind};
use crate::value::MoneyFormat;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A mistake in the config file, with where it is.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Default lowest and highest dates accepted for date and timestamp fields without bounds.
pub const DEFAULT_MIN_DATE: &str = "1900-01-01";
pub const DEFAULT_MAX_DATE: &str = "2100-12-31";
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
/// What splits the text of a `list` field into items unless its `separator` says otherwise (the
/// way CRM exports write multi-select picklists: `golf;travel;wine`).
pub const DEFAULT_LIST_SEPARATOR: &str = ";";
/// Where runs are recorded unless `[store] path` says otherwise, next to the config.
pub const DEFAULT_STORE_DIR: &str = ".tessera";
/// Runs the store keeps unless `[store] keep` says otherwise.
pub const DEFAULT_STORE_KEEP: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Parquet,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// UTF-8; a row with invalid bytes is rejected as `invalid_utf8`.
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    /// ISO-8859-1: every byte is a character, so no row is rejected for its encoding.
    #[serde(rename = "latin1", alias = "iso-8859-1")]
    Latin1,
}

/// What to do with rows that share an id but differ in content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Keep the first row seen, reject the later ones.
    First,
    /// Keep the last row seen, reject the earlier ones.
    Last,
    /// Reject every row with that id.
    Reject,
}

/// What to do with an order, event or feedback row whose customer is not in `customers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCustomerPolicy {
    Reject,
    /// Keep the row and add a customer with only an id.
    Create,
}

/// How a field is found in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ColumnRef {
    Name(String),
    /// 0-based position (written 1-based in the config).
    Index(usize),
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Index(i) => write!(f, "#{}", i + 1),
        }
    }
}

/// A checked bound in the field's stored unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Bound {
    Int(i64),
    Float(f64),
    /// Days since 1970-01-01.
    Days(i32),
    /// Microseconds since the epoch, UTC.
    Micros(i64),
}

#[derive(Debug, Clone, Serialize)]
pub struct CsvOptions {
    pub delimiter: char,
    pub header: bool,
    pub quote: char,
    pub encoding: Encoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: ',',
            header: true,
            quote: '"',
            encoding: Encoding::Utf8,
        }
    }
}

/// One output column of a source and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct FieldConfig {
    pub name: String,
    pub column: ColumnRef,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub required: bool,
    /// True when the config did not name the column: an optional field may then be absent.
    pub implicit: bool,
    #[serde(skip)]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// What splits a list field's text into its items (`list` fields only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Path or glob as written, relative to the config file's folder.
    pub path: String,
    pub format: Format,
    pub csv: CsvOptions,
    pub fields: Vec<FieldConfig>,
    #[serde(serialize_with = "tz_name")]
    pub time_zone: Tz,
    #[serde(skip)]
    pub money: MoneyFormat,
    pub on_conflict: ConflictPolicy,
    pub unknown_customers: UnknownCustomerPolicy,
}

impl SourceConfig {
    pub fn field(&self, name: &str) -> Option<&FieldConfig> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The checked project config.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The config file as named by the user.
    pub file: PathBuf,
    /// Folder that relative source paths start from.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Days since 1970-01-01, if set in the config.
    #[serde(skip)]
    pub as_of: Option<i32>,
    #[serde(serialize_with = "tz_name")]
    pub time_zone: Tz,
    pub money_decimals: u8,
    pub batch_rows: usize,
    pub sources: Vec<SourceConfig>,
    pub features: FeaturesConfig,
    pub rfm: RfmConfig,
    /// `[segments.NAME]`, in name order.
    pub segments: Vec<SegmentConfig>,
    /// `[groups.NAME]`, in name order.
    pub groups: Vec<GroupConfig>,
    /// `[clustering]`, when the run clusters customers.
    pub clustering: Option<ClusteringConfig>,
    /// `[clv]`, when the run predicts lifetime value and churn.
    pub clv: Option<ClvConfig>,
    /// `[consent]`: for each channel, the boolean customer attribute that grants it.
    pub consent: Vec<ConsentConfig>,
    /// `[exports.NAME]`, in name order.
    pub exports: Vec<ExportConfig>,
    /// `[store]`: where runs are recorded.
    pub store: StoreConfig,
}

/// `[store]`: the project store that records every run (`tessera history`, `diff`, `members`,
/// `forget`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreConfig {
    /// The store's folder (`[store] path`, relative to the config's folder; `.tessera` by default).
    pub path: PathBuf,
    /// The newest runs kept; older snapshots are removed when a run is recorded.
    pub keep: usize,
    /// Whether `tessera run` records its run.
    pub enabled: bool,
}

impl Config {
    /// The consent attribute of a channel.
    pub fn consent_for(&self, channel: &str) -> Option<&ConsentConfig> {
        self.consent.iter().find(|c| c.channel == channel)
    }

    /// The export of that name.
    pub fn export(&self, name: &str) -> Option<&ExportConfig> {
        self.exports.iter().find(|e| e.name == name)
    }
}

/// One `[consent]` entry: customers may be contacted on `channel` when `attribute` is true.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentConfig {
    pub channel: String,
    pub attribute: String,
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Parquet,
    Ndjson,
}

impl ExportFormat {
    pub const ALL: [Self; 3] = [Self::Csv, Self::Parquet, Self::Ndjson];

    pub fn key(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Ndjson => "ndjson",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// One `[exports.NAME]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportConfig {
    pub name: String,
    pub segment: String,
    pub channel: String,
    /// Columns of the customer row to write, in order (default `customer_id`).
    pub fields: Vec<String>,
    /// Where each field was written, `file:line:col`, for messages about it.
    #[serde(skip)]
    pub fields_at: Vec<String>,
    /// Share of the audience flagged `holdout = true` (default 0).
    pub holdout: f64,
    pub format: ExportFormat,
    pub description: Option<String>,
}

/// `[clv]`: lifetime value and churn risk from a buy-till-you-die model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClvConfig {
    /// `bgnbd`, `pareto` or `mbgnbd`.
    pub model: String,
    /// Unit of the model's time; default `[features] time_unit`.
    pub time_unit: Option<TimeUnitName>,
    /// Length of one value period: `day`, `week`, `month` (365.25/12 days) or `year`.
    pub period: ClvPeriod,
    /// Periods summed for `clv` and `expected_purchases`.
    pub horizon: u32,
    /// Discount rate per period.
    pub discount_rate: f64,
    /// P(alive) below the first is `high` churn risk, below the second `medium`, else `low`.
    pub churn_thresholds: [f64; 2],
    /// L2 penalty of the fit, as lifetimes' `penalizer_coef`.
    pub penalizer: f64,
    /// When above 0, the last this many days before `as_of` also validate the model.
    pub holdout_days: u32,
    /// Per-customer 95% intervals of expected purchases and lifetime value (default true).
    pub intervals: bool,
    /// Where `[clv]` starts, `file:line:col`.
    #[serde(skip)]
    pub at: String,
}

impl Default for ClvConfig {
    fn default() -> Self {
        Self {
            model: "bgnbd".into(),
            time_unit: None,
            period: ClvPeriod::Month,
            horizon: 12,
            discount_rate: 0.01,
            churn_thresholds: [0.3, 0.7],
            penalizer: 0.0,
            holdout_days: 0,
            intervals: true,
            at: String::new(),
        }
    }
}

/// The length of one lifetime-value period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClvPeriod {
    Day,
    Week,
    Month,
    Year,
}

impl ClvPeriod {
    pub const NAMES: [&str; 4] = ["day", "week", "month", "year"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    /// Length in days.
    pub fn days(self) -> f64 {
        match self {
            Self::Day => 1.0,
            Self::Week => 7.0,
            Self::Month => 365.25 / 12.0,
            Self::Year => 365.25,
        }
    }
}

/// One preprocessing step of a clustering feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransformStep {
    /// `ln(1 + x)`.
    Log1p,
    /// Minus the mean, over the standard deviation.
    Standardize,
    /// Minus the median, over the interquartile range.
    Robust,
    /// Clipped to the `lo` and `hi` quantiles.
    Winsorize { lo: f64, hi: f64 },
}

impl TransformStep {
    /// The names `parse` reads.
    pub const NAMES: [&'static str; 4] = ["log1p", "standardize", "robust", "winsorize"];

    /// `log1p`, `standardize`, `robust`, `winsorize` (at the 1% and 99% quantiles) or
    /// `winsorize(LO, HI)` with quantiles `0 <= LO < HI <= 1`.
    pub fn parse(text: &str) -> Result<TransformStep, String> {
        let t = text.trim();
        Ok(match t {
            "log1p" => TransformStep::Log1p,
            "standardize" => TransformStep::Standardize,
            "robust" => TransformStep::Robust,
            "winsorize" => TransformStep::Winsorize { lo: 0.01, hi: 0.99 },
            _ => {
                let args = t
                    .strip_prefix("winsorize(")
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!(
                            "unknown transform `{t}`, expected one of {}{}",
                            Self::NAMES.join(", "),
                            did_you_mean(t, Self::NAMES.into_iter())
                        )
                    })?;
                let q: Vec<f64> = args
                    .split(',')
                    .map(|a| a.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("`{t}`: expected winsorize(LO, HI) with two numbers"))?;
                match q[..] {
                    [lo, hi] if (0.0..hi).contains(&lo) && hi <= 1.0 => {
                        TransformStep::Winsorize { lo, hi }
                    }
                    _ => return Err(format!("`{t}`: expected quantiles 0 <= LO < HI <= 1")),
                }
            }
        })
    }

    /// A comma-separated list (`log1p,standardize`); `none` is the empty list.
    pub fn parse_list(text: &str) -> Result<Vec<TransformStep>, String> {
        if text.trim() == "none" {
            return Ok(Vec::new());
        }
        let mut steps = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    steps.push(Self::parse(&text[start..i])?);
                    start = i + 1;
                }
                _ => {}
            }
        }
        steps.push(Self::parse(&text[start..])?);
        Ok(steps)
    }
}

/// How the clusters are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMethod {
    /// Lloyd's k-means (mini-batch k-means above `minibatch_above` customers).
    Kmeans,
    /// Mini-batch k-means whatever the size.
    MinibatchKmeans,
    /// k-prototypes over the numeric and the categorical features.
    Kprototypes,
}

/// What happens to customers with a null in a clustering feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// They get no cluster.
    Skip,
    /// Nulls count as 0 (e.g. spend of customers who never ordered).
    Zero,
}

/// `[clustering]`: statistical segments, one `cluster` per customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusteringConfig {
    /// Numeric columns of the customer row (attributes, features).
    pub features: Vec<String>,
    /// Categorical columns: one-hot columns for k-means, matched as categories by k-prototypes.
    pub categorical: Vec<String>,
    /// Steps for every numeric feature without its own entry in `transforms`.
    pub transform: Vec<TransformStep>,
    /// Per-feature steps.
    pub transforms: BTreeMap<String, Vec<TransformStep>>,
    pub method: ClusterMethod,
    /// `None`: chosen from `k_range`.
    pub k: Option<u32>,
    pub k_range: [u32; 2],
    pub seed: u64,
    pub n_init: u32,
    /// Smallest share of customers a cluster may hold when k is chosen.
    pub min_share: f64,
    pub missing: MissingPolicy,
    /// Weight of a categorical mismatch in k-prototypes; `None`: half the mean standard
    /// deviation of the transformed numeric features.
    pub gamma: Option<f64>,
    /// Customers above which `kmeans` fits by mini-batches.
    pub minibatch_above: usize,
    /// Clusters are numbered by this column's mean, highest first.
    pub order_by: Option<String>,
    /// Where `[clustering]` starts, `file:line:col`.
    #[serde(skip)]
    pub at: String,
}

impl ClusteringConfig {
    /// The defaults for these features.
    pub fn new(features: Vec<String>) -> Self {
        Self {
            features,
            categorical: Vec::new(),
            transform: vec![TransformStep::Standardize],
            transforms: BTreeMap::new(),
            method: ClusterMethod::Kmeans,
            k: None,
            k_range: [2, 8],
            seed: 0,
            n_init: 3,
            min_share: 0.02,
            missing: MissingPolicy::Skip,
            gamma: None,
            minibatch_above: 2_000_000,
            order_by: None,
            at: String::new(),
        }
    }

    /// The steps of one numeric feature.
    pub fn steps(&self, feature: &str) -> &[TransformStep] {
        self.transforms.get(feature).unwrap_or(&self.transform)
    }
}

/// One `[segments.NAME]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentConfig {
    pub name: String,
    pub rule: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Where the rule text starts, `file:line:col`, for messages about it.
    #[serde(skip)]
    pub at: String,
}

/// One `[groups.NAME]` entry: segments in priority order, the first that holds wins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupConfig {
    pub name: String,
    pub segments: Vec<String>,
    pub description: Option<String>,
}

/// Unit of the buy-till-you-die times `t_x` and `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnitName {
    Days,
    Weeks,
    Months,
    Years,
}

/// `[features]`: how the feature table is computed.
#[derive(Debug, Clone, Serialize)]
pub struct FeaturesConfig {
    /// Window lengths in days, for `orders_<w>d` and `spend_<w>d`.
    pub windows: Vec<u32>,
    pub time_unit: TimeUnitName,
    /// Event names counted in windows (`events_<name>_<w>d`); `None`: the most frequent ones.
    pub events: Option<Vec<String>>,
    /// `[features.custom]`: the user's own per-customer SQL aggregates, in name order.
    pub custom: Vec<CustomFeature>,
}

/// The columns of the feature table that do not depend on the data or the windows, with those
/// the later stages of a run add (RFM scores, cluster, lifetime value), in table order.
pub const FEATURE_COLUMNS: [&str; 37] = [
    "customer_id",
    "tenure_days",
    "recency_days",
    "frequency",
    "purchase_days",
    "monetary_total",
    "monetary_avg",
    "first_order_at",
    "last_order_at",
    "avg_days_between_orders",
    "refunds_count",
    "refunds_amount",
    "x",
    "t_x",
    "T",
    "mean_repeat_spend",
    "top_category",
    "preferred_channel",
    "feedback_count",
    "nps_latest",
    "nps_class",
    "csat_latest",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "rfm_segment",
    "cluster",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "churn_risk",
    "expected_purchases_lower",
    "expected_purchases_upper",
    "clv_lower",
    "clv_upper",
];

impl FeaturesConfig {
    /// Why `name` cannot be given to a column of one's own (a custom feature, a customer
    /// attribute): the feature table has a column of that name, in any case (`t` is `T` to
    /// engines that fold case), or makes such names from the data: `category_share_<category>`,
    /// and `events_<name>_<w>d` for each window `w`. `None` when the name is free.
    pub fn column_taken(&self, name: &str) -> Option<String> {
        let lower = name.to_lowercase();
        let windowed = self
            .windows
            .iter()
            .flat_map(|w| [format!("orders_{w}d"), format!("spend_{w}d")]);
        let fixed = FEATURE_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(windowed);
        if let Some(c) = fixed.into_iter().find(|c| c.to_lowercase() == lower) {
            return Some(format!("is already a column of the feature table (`{c}`)"));
        }
        if lower.starts_with("category_share_") {
            return Some(
                "is a name the feature table gives its category columns (`category_share_<category>`)"
                    .to_string(),
            );
        }
        let event_column = lower.strip_prefix("events_").is_some_and(|rest| {
            self.windows.iter().any(|w| {
                let suffix = format!("_{w}d");
                rest.len() > suffix.len() && rest.ends_with(&suffix)
            })
        });
        event_column.then(|| {
            "is a name the feature table gives its event columns (`events_<name>_<w>d`)".to_string()
        })
    }
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            windows: vec![30, 90, 365],
            time_unit: TimeUnitName::Weeks,
            events: None,
            custom: Vec::new(),
        }
    }
}

/// The table a custom feature aggregates, one group per customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomOver {
    Orders,
    Events,
}

impl CustomOver {
    pub fn name(self) -> &'static str {
        match self {
            CustomOver::Orders => "orders",
            CustomOver::Events => "events",
        }
    }

    pub fn source(self) -> SourceKind {
        match self {
            CustomOver::Orders => SourceKind::Orders,
            CustomOver::Events => SourceKind::Events,
        }
    }
}

/// One `[features.custom]` entry: a SQL aggregate expression evaluated per customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomFeature {
    /// Column name in the feature table.
    pub name: String,
    pub over: CustomOver,
    pub sql: String,
    pub description: Option<String>,
    /// Where the SQL text starts, `file:line:col`, for messages about it.
    #[serde(skip)]
    pub at: String,
}

/// One rule of the user's RFM segment map: a name and inclusive score ranges, each optional (a
/// range left out matches every score). `fm` bounds the average of F and M.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmSegmentConfig {
    pub name: String,
    pub r: Option<[u8; 2]>,
    pub f: Option<[u8; 2]>,
    pub m: Option<[u8; 2]>,
    pub fm: Option<[u8; 2]>,
    /// Where the rule starts, `file:line:col`, for messages about the map it is part of.
    #[serde(skip)]
    pub at: String,
}

/// The RFM segment of customers without purchases, which no rule of a map may be named (the
/// same name as `tessera_models::rfm::NO_PURCHASE`).
pub const NO_PURCHASE: &str = "No Purchase";

/// `[rfm]`: score bins and, optionally, the user's own segment map (first match wins).
#[derive(Debug, Clone, Serialize)]
pub struct RfmConfig {
    pub bins: u8,
    pub segments: Option<Vec<RfmSegmentConfig>>,
}

impl Default for RfmConfig {
    fn default() -> Self {
        Self {
            bins: 5,
            segments: None,
        }
    }
}

fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Config {
    pub fn source(&self, kind: SourceKind) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.kind == kind)
    }

    /// Parses and checks a config. `file` names it in messages; relative source paths start from
    /// its folder.
    pub fn from_toml(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let ctx = Ctx {
            text,
            file: file.display().to_string(),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
        ctx.resolve(raw, file)
    }
}
