//! `OUT/run.json`: what a run read, what it made of it, and how long each stage took.

use crate::report::SourceReport;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tessera_core::schema::SourceKind;

#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    pub seconds: f64,
    /// Seconds of the stage's steps, where it reports them (e.g. the segments stage's `leaves`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub version: &'static str,
    /// SHA-256 of the config file's bytes.
    pub config_hash: String,
    /// `YYYY-MM-DD`: only data strictly before this day counts in features.
    pub as_of: Option<String>,
    pub sources: BTreeMap<SourceKind, SourceReport>,
    /// True when every source's counts add up; a run that does not is stopped before this is written.
    pub reconciled: bool,
    pub rejected_total: u64,
    pub stages: BTreeMap<String, StageTime>,
    /// Per segment: `version`, `members`, `share`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<String, serde_json::Value>,
    /// Per group: `version` and `sizes` (members per segment, first match wins; `null` for none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, serde_json::Value>,
    /// The clustering: k, why, the clusters, the k-selection table, the fitted transform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clustering: Option<serde_json::Value>,
    /// Lifetime value and churn: the fitted models with intervals and diagnostics, the horizon,
    /// churn-risk counts, and the holdout validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clv: Option<serde_json::Value>,
    /// Per `[exports.NAME]`: the file written and its counts (members, left out for want of
    /// consent, exported, flagged holdout).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exports: BTreeMap<String, serde_json::Value>,
    /// Where the run was recorded: `{"run": ID, "store": PATH}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<serde_json::Value>,
}

pub fn config_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
