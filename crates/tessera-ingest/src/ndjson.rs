//! NDJSON files: one JSON object per line; fields found by key, or by a dotted path into
//! nested objects (`context.page.url`) when no key has the whole name.

use crate::Progress;
use crate::cell::Cell;
use crate::error::IngestError;
use crate::reason::Reason;
use crate::rejects::{RejectWriter, lossless_text};
use crate::source::{Customers, RecordContext, SourceRun};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use tessera_core::config::ColumnRef;

struct JsonLine<'a> {
    raw: &'a [u8],
    line: u64,
    keys: &'a [String],
}

impl RecordContext for JsonLine<'_> {
    fn raw(&self) -> String {
        lossless_text(self.raw)
    }

    fn position(&self, field: Option<usize>) -> (u64, u64) {
        let key = field.and_then(|f| self.keys.get(f));
        let col = key
            .and_then(|k| {
                let needle = format!("\"{}\"", k.split('.').next().unwrap_or(k));
                let text = String::from_utf8_lossy(self.raw);
                text.find(&needle)
                    .map(|at| text[..at].chars().count() as u64 + 1)
            })
            .unwrap_or(1);
        (self.line, col)
    }
}

fn lookup<'v>(obj: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    if let Some(v) = obj.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn cell(v: Option<&Value>) -> Cell<'_> {
    match v {
        None | Some(Value::Null) => Cell::Null,
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::Number(n)) => n
            .as_i64()
            .map_or_else(|| Cell::Float(n.as_f64().unwrap_or(f64::NAN)), Cell::Int),
        Some(Value::String(s)) => Cell::Str(s),
        Some(v) => Cell::Json(v),
    }
}

pub fn read(
    path: &Path,
    name: &str,
    run: &mut SourceRun,
    rejects: &mut RejectWriter,
    mut customers: Option<&mut Customers>,
    progress: &dyn Progress,
) -> Result<(), IngestError> {
    let mut keys = Vec::new();
    for f in &run.config.fields {
        match &f.column {
            ColumnRef::Name(n) => keys.push(n.clone()),
            ColumnRef::Index(_) => {
                return Err(IngestError::Input {
                    file: name.into(),
                    line: 1,
                    message: format!(
                        "{}: NDJSON fields are found by key, not by column number",
                        f.name
                    ),
                });
            }
        }
    }
    run.start_file(name.to_string(), keys.clone());
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut pending = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| IngestError::io(path, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        pending += n as u64;
        if pending > (1 << 22) {
            progress.advance(pending);
            pending = 0;
        }
        let mut raw = &buf[..];
        if line == 1 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        while let [rest @ .., b'\n' | b'\r'] = raw {
            raw = rest;
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let ctx = JsonLine {
            raw,
            line,
            keys: &keys,
        };
        if let Err(e) = std::str::from_utf8(raw) {
            let msg = format!(
                "bytes are not valid UTF-8 (at byte {})",
                e.valid_up_to() + 1
            );
            run.broken(line, Reason::InvalidUtf8, None, msg, &ctx, rejects)?;
            continue;
        }
        let obj = match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(o)) => o,
            Ok(other) => {
                let kind = match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    _ => "not an object",
                };
                run.broken(
                    line,
                    Reason::BadJson,
                    None,
                    format!("line is {kind}, expected a JSON object"),
                    &ctx,
                    rejects,
                )?;
                continue;
            }
            Err(e) => {
                run.broken(
                    line,
                    Reason::BadJson,
                    None,
                    format!("not valid JSON: {e}"),
                    &ctx,
                    rejects,
                )?;
                continue;
            }
        };
        let cells: Vec<Cell> = keys.iter().map(|k| cell(lookup(&obj, k))).collect();
        run.row(line, &cells, &ctx, rejects, customers.as_deref_mut())?;
    }
    progress.advance(pending);
    Ok(())
}

/// Raw text of the given lines (sorted), for rows withdrawn after staging.
pub fn fetch_raw(path: &Path, lines: &[u64]) -> Result<Vec<(u64, String)>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut want = lines.iter().peekable();
    let (mut buf, mut line, mut out) = (Vec::new(), 0u64, Vec::new());
    while want.peek().is_some() {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| IngestError::io(path, e))?
            == 0
        {
            break;
        }
        line += 1;
        if want.next_if(|&&l| l == line).is_some() {
            out.push((line, lossless_text(buf.trim_ascii_end())));
        }
    }
    Ok(out)
}
