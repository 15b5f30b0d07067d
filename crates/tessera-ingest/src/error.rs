use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why an ingest run stopped. Bad rows do not stop a run (they are rejected); these do.
#[derive(Debug, Error)]
pub enum IngestError {
    /// The user's input cannot be read as configured (missing column, no file matches, …).
    #[error("{file}:{line}: {message}")]
    Input {
        file: String,
        line: u64,
        message: String,
    },
    /// `--strict` and a row was bad.
    #[error("{file}:{line}:{column}: {reason}: {message}")]
    Strict {
        file: String,
        line: u64,
        column: u64,
        reason: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {message}")]
    Output { path: PathBuf, message: String },
    /// A bug in Tessera, such as counts that do not reconcile.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the user's input (not Tessera, not the machine) is at fault.
    pub fn is_input_error(&self) -> bool {
        matches!(self, Self::Input { .. } | Self::Strict { .. })
    }
}
