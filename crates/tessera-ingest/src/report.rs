//! Counts of one ingest run, written to `OUT/run.json`.

use crate::reason::Reason;
use serde::Serialize;
use std::collections::BTreeMap;
use tessera_core::config::{ConflictPolicy, UnknownCustomerPolicy};

/// What happened to the rows of one source.
/// `read = accepted + rejected + duplicates + suppressed` always.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub files: Vec<String>,
    /// Data rows read (CSV records after the header, NDJSON non-blank lines, Parquet rows).
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Exact copies of an accepted row, dropped.
    pub duplicates: u64,
    /// Rows of customers on the suppression list (erased on request), dropped unwritten: neither
    /// accepted nor rejected, and never in `rejects.csv`. Only this count says they were there.
    pub suppressed: u64,
    /// Bare customers added for rows of other sources (`unknown_customers = "create"`).
    pub created: u64,
    /// Rows in `clean/<source>.parquet`: accepted + created.
    pub rows_written: u64,
    /// Accepted orders with a negative amount, kept and flagged `is_refund`.
    pub refunds: u64,
    /// Accepted orders with a zero amount, kept.
    pub zero_amounts: u64,
    pub rejects_by_reason: BTreeMap<Reason, u64>,
    pub on_conflict: ConflictPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_customers: Option<UnknownCustomerPolicy>,
}

impl SourceReport {
    pub fn new(
        on_conflict: ConflictPolicy,
        unknown_customers: Option<UnknownCustomerPolicy>,
    ) -> Self {
        Self {
            files: Vec::new(),
            read: 0,
            accepted: 0,
            rejected: 0,
            duplicates: 0,
            suppressed: 0,
            created: 0,
            rows_written: 0,
            refunds: 0,
            zero_amounts: 0,
            rejects_by_reason: BTreeMap::new(),
            on_conflict,
            unknown_customers,
        }
    }

    pub fn reconciles(&self) -> bool {
        self.read == self.accepted + self.rejected + self.duplicates + self.suppressed
            && self.rows_written == self.accepted + self.created
            && self.rejected == self.rejects_by_reason.values().sum::<u64>()
    }
}
