//! `OUT/rejects.csv`: one row per rejected input row, with where and why.

use crate::error::IngestError;
use crate::reason::Reason;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The longest raw text kept for one reject; longer rows are cut and marked.
pub const MAX_RAW_BYTES: usize = 64 * 1024;

/// One rejected row.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: u64,
    /// The user's column name, empty when the whole row is at fault.
    pub column: String,
    pub reason: Reason,
    pub message: String,
    pub raw: String,
}

pub struct RejectWriter {
    path: PathBuf,
    out: csv::Writer<BufWriter<File>>,
}

impl RejectWriter {
    pub const HEADER: [&'static str; 7] = [
        "source", "file", "line", "column", "reason", "message", "raw",
    ];

    /// A writer for one source's rejects, without the header: parts are joined by `assemble`.
    pub fn create_part(path: &Path) -> Result<Self, IngestError> {
        let file = File::create(path).map_err(|e| IngestError::io(path, e))?;
        let out = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 16, file));
        Ok(Self {
            path: path.to_path_buf(),
            out,
        })
    }

    pub fn write(&mut self, source: &str, file: &str, r: &Reject) -> Result<(), IngestError> {
        let raw = truncate_raw(&r.raw);
        self.out
            .write_record([
                source,
                file,
                &r.line.to_string(),
                &r.column,
                r.reason.code(),
                &r.message,
                &raw,
            ])
            .map_err(|e| csv_err(&self.path, e))
    }

    pub fn finish(mut self) -> Result<(), IngestError> {
        self.out.flush().map_err(|e| IngestError::io(&self.path, e))
    }
}

fn csv_err(path: &Path, e: csv::Error) -> IngestError {
    IngestError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn truncate_raw(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.len() <= MAX_RAW_BYTES {
        return raw.into();
    }
    let mut end = MAX_RAW_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &raw[..end], raw.len() - end).into()
}

/// Shows bytes that are not valid UTF-8 as `\xNN`, keeping the valid parts as they are.
pub fn lossless_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Writes `path` as the header followed by each part in order, removing the parts.
pub fn assemble(path: &Path, parts: &[PathBuf]) -> Result<(), IngestError> {
    let file = File::create(path).map_err(|e| IngestError::io(path, e))?;
    let mut out = BufWriter::new(file);
    let mut header = csv::Writer::from_writer(Vec::new());
    header
        .write_record(RejectWriter::HEADER)
        .map_err(|e| csv_err(path, e))?;
    let header = header.into_inner().map_err(|e| IngestError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    out.write_all(&header)
        .map_err(|e| IngestError::io(path, e))?;
    for part in parts {
        let mut input = File::open(part).map_err(|e| IngestError::io(part, e))?;
        std::io::copy(&mut input, &mut out).map_err(|e| IngestError::io(path, e))?;
        std::fs::remove_file(part).map_err(|e| IngestError::io(part, e))?;
    }
    out.flush().map_err(|e| IngestError::io(path, e))
}
