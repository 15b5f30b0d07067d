//! Checks a run against the defects the generator injected: every defect must show up in
//! `rejects.csv` (by file and line) or, for exact duplicates, in the run's duplicate count.

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// One injected defect, as listed in `defects.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Defect {
    pub file: String,
    pub line: u64,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DefectAudit {
    pub defects: u64,
    /// Defects whose line is in `rejects.csv`.
    pub rejected: u64,
    /// Exact duplicates matched by the run's duplicate counts.
    pub counted_duplicates: u64,
    /// Defects the run did not report.
    pub missing: Vec<Defect>,
}

impl fmt::Display for DefectAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing.is_empty() {
            write!(
                f,
                "defect audit: all {} injected defects reported ({} in rejects.csv, {} as dropped exact duplicates)",
                self.defects, self.rejected, self.counted_duplicates
            )
        } else {
            writeln!(
                f,
                "defect audit: {} of {} injected defects NOT reported:",
                self.missing.len(),
                self.defects
            )?;
            for d in self.missing.iter().take(20) {
                writeln!(f, "  {}:{} {}", d.file, d.line, d.kind)?;
            }
            Ok(())
        }
    }
}

fn read_err(path: &Path, e: impl fmt::Display) -> AuditError {
    AuditError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn read_csv(path: &Path) -> Result<Vec<csv::StringRecord>, AuditError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| read_err(path, e))?;
    r.records()
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(path, e))
}

/// Compares `dir/defects.csv` with `out/rejects.csv` and `out/run.json`.
pub fn audit(dir: &Path, out: &Path) -> Result<DefectAudit, AuditError> {
    let defects_path = dir.join("defects.csv");
    let defects: Vec<Defect> = read_csv(&defects_path)?
        .iter()
        .map(|r| Defect {
            file: r[0].to_string(),
            line: r[1].parse().unwrap_or(0),
            kind: r[2].to_string(),
        })
        .collect();
    let rejected: HashSet<(String, u64)> = read_csv(&out.join("rejects.csv"))?
        .iter()
        .map(|r| (r[1].to_string(), r[2].parse().unwrap_or(0)))
        .collect();
    let run_path = out.join("run.json");
    let run: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&run_path).map_err(|e| read_err(&run_path, e))?,
    )
    .map_err(|e| read_err(&run_path, e))?;
    let mut duplicates_by_file: BTreeMap<String, u64> = BTreeMap::new();
    for (_, source) in run["sources"].as_object().into_iter().flatten() {
        let files = source["files"].as_array().cloned().unwrap_or_default();
        if let Some(file) = files.first().and_then(|f| f.as_str()) {
            duplicates_by_file.insert(file.to_string(), source["duplicates"].as_u64().unwrap_or(0));
        }
    }
    let mut report = DefectAudit {
        defects: defects.len() as u64,
        rejected: 0,
        counted_duplicates: 0,
        missing: Vec::new(),
    };
    for d in defects {
        if rejected.contains(&(d.file.clone(), d.line)) {
            report.rejected += 1;
        } else if d.kind == "exact_duplicate"
            && duplicates_by_file.get(&d.file).is_some_and(|n| *n > 0)
        {
            *duplicates_by_file.get_mut(&d.file).expect("checked") -= 1;
            report.counted_duplicates += 1;
        } else {
            report.missing.push(d);
        }
    }
    Ok(report)
}
