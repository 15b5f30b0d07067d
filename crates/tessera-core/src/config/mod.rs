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

/// One named RFM segment: inclusive score ranges for R, F and M.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmSegmentConfig {
    pub name: String,
    pub r: [u8; 2],
    pub f: [u8; 2],
    pub m: [u8; 2],
}

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
