//! Loading the config and showing results as text.

use crate::Failure;
use anyhow::Context;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use tessera_core::Config;
use tessera_core::SourceKind;
use tessera_core::config::{Bound, FieldConfig};
use tessera_ingest::FileColumns;
use tessera_ingest::RunSummary;

/// Reads and checks a config, returning it with its text. Config mistakes are input errors.
pub fn load_config(path: &Path) -> Result<(Config, String), Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))
        .map_err(Failure::Input)?;
    let config = Config::from_toml(&text, path).map_err(|e| Failure::Input(e.into()))?;
    // The RFM segment map must name a segment for every combination of scores: known now,
    // before any source is read.
    crate::stages::scorer(&config.rfm)?;
    Ok((config, text))
}

fn bound(b: &Option<Bound>) -> String {
    match b {
        None => String::new(),
        Some(Bound::Int(i)) => i.to_string(),
        Some(Bound::Float(f)) => f.to_string(),
        Some(Bound::Days(d)) => tessera_core::value::days_to_date(*d).to_string(),
        Some(Bound::Micros(m)) => {
            tessera_core::value::days_to_date(m.div_euclid(86_400_000_000) as i32).to_string()
        }
    }
}

pub fn schema_table(config: &Config, files: &BTreeMap<SourceKind, Vec<FileColumns>>) -> String {
    let mut s = String::new();
    for src in &config.sources {
        let found = files.get(&src.kind).map_or(&[][..], Vec::as_slice);
        let n = found.len();
        let plural = if n == 1 { "" } else { "s" };
        let _ = writeln!(
            s,
            "[{}] {} ({:?}, {n} file{plural}, time zone {})",
            src.kind,
            src.path,
            src.format,
            src.time_zone.name()
        );
        let _ = writeln!(
            s,
            "  {:<16} {:<10} {:<18} {:<9} constraints",
            "field", "type", "column", "required"
        );
        for f in &src.fields {
            let _ = writeln!(
                s,
                "  {:<16} {:<10} {:<18} {:<9} {}",
                f.name,
                f.ty.name(),
                f.column.to_string(),
                if f.required { "yes" } else { "no" },
                constraints(f)
            );
        }
        for file in found {
            let absent: Vec<&str> = src
                .fields
                .iter()
                .zip(&file.columns)
                .filter(|(_, c)| c.is_none())
                .map(|(f, _)| f.name.as_str())
                .collect();
            if !absent.is_empty() {
                let _ = writeln!(
                    s,
                    "  {}: no column for {} (left empty)",
                    file.file,
                    absent.join(", ")
                );
            }
        }
    }
    s
}

fn constraints(f: &FieldConfig) -> String {
    let mut c = Vec::new();
    if let Some(v) = &f.values {
        c.push(format!("one of {}", v.join("|")));
    }
    if f.min.is_some() || f.max.is_some() {
        c.push(format!("{}..={}", bound(&f.min), bound(&f.max)));
    }
    if let Some(fmt) = &f.format {
        c.push(format!("format {fmt}"));
    }
    if let Some(d) = &f.default {
        c.push(format!("default {d}"));
    }
    c.join("; ")
}

pub fn run_table(summary: &RunSummary, out: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<10} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "source", "read", "accepted", "rejected", "duplicates", "created"
    );
    for (kind, r) in &summary.sources {
        let _ = writeln!(
            s,
            "{:<10} {:>12} {:>12} {:>10} {:>10} {:>8}",
            kind.name(),
            r.read,
            r.accepted,
            r.rejected,
            r.duplicates,
            r.created
        );
    }
    if let Some(orders) = summary.sources.get(&tessera_core::SourceKind::Orders) {
        let _ = writeln!(
            s,
            "orders: {} refunds kept and flagged, {} zero amounts kept",
            orders.refunds, orders.zero_amounts
        );
    }
    let _ = writeln!(
        s,
        "as of {}; counts reconcile; {} rows rejected (see {})",
        summary.as_of.as_deref().unwrap_or("-"),
        summary.rejected_total,
        out.join("rejects.csv").display()
    );
    let suppressed: u64 = summary.sources.values().map(|r| r.suppressed).sum();
    if suppressed > 0 {
        let _ = writeln!(
            s,
            "{suppressed} rows of forgotten customers left out (see `tessera forget`)"
        );
    }
    if let Some(snap) = &summary.snapshot {
        let _ = writeln!(
            s,
            "recorded as run {} in {} (`tessera history`, `tessera diff`)",
            snap["run"],
            snap["store"].as_str().unwrap_or("")
        );
    }
    if let Some(c) = &summary.clv {
        let count = &c["count"];
        let _ = writeln!(
            s,
            "clv: {} fitted to {} customers (log-likelihood {:.1}); churn risk high {}, medium {}, low {}",
            count["model"].as_str().unwrap_or_default(),
            c["customers_scored"],
            count["log_likelihood"].as_f64().unwrap_or(f64::NAN),
            c["churn_risk"]["high"],
            c["churn_risk"]["medium"],
            c["churn_risk"]["low"]
        );
        for w in c["warnings"].as_array().into_iter().flatten() {
            let _ = writeln!(s, "  warning: {}", w.as_str().unwrap_or_default());
        }
    }
    if let Some(c) = &summary.clustering {
        let _ = writeln!(
            s,
            "clusters: {} of {} customers, {}",
            c["clustered"],
            c["rows"],
            c["reason"].as_str().unwrap_or_default()
        );
    }
    s
}
