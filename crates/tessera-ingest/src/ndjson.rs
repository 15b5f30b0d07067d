//! NDJSON files: one JSON object per line; fields found by key, or by a dotted path into
//! nested objects (`context.page.url`) when no key has the whole name.
//!
//! Only the members a source needs are looked at, as borrowed raw JSON: a line is not turned into a
//! tree of owned values, which is what makes reading events fast.

use crate::Progress;
use crate::cell::Cell;
use crate::error::IngestError;
use crate::reason::Reason;
use crate::rejects::{RejectWriter, lossless_text};
use crate::source::{Customers, RecordContext, SourceRun};
use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
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

/// Lines read before the row count of a file is estimated from its size.
const SAMPLE_LINES: u64 = 4096;

/// The top-level members a source needs: each field's whole key, and the first segment of a
/// dotted key for the nested lookup.
fn top_keys(keys: &[String]) -> Vec<String> {
    let mut top: Vec<String> = Vec::new();
    for k in keys {
        for t in [k.as_str(), k.split('.').next().unwrap_or(k)] {
            if !top.iter().any(|x| x == t) {
                top.push(t.to_string());
            }
        }
    }
    top
}

/// Deserializes a JSON object keeping only the wanted members, as borrowed raw JSON.
struct Members<'k>(&'k [String]);

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = Vec<Option<&'de RawValue>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Vec<Option<&'de RawValue>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = vec![None; self.0.len()];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.0.iter().position(|k| *k == key) {
                Some(i) => out[i] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A member's value, owned only when it must be (escaped strings, nested objects).
enum Member<'a> {
    Cell(Cell<'a>),
    Text(String),
    Json(Value),
}

impl Member<'_> {
    fn cell(&self) -> Cell<'_> {
        match self {
            Member::Cell(c) => *c,
            Member::Text(s) => Cell::Str(s),
            Member::Json(v) => Cell::Json(v),
        }
    }

    fn from_value(v: Value) -> Member<'static> {
        match v {
            Value::String(s) => Member::Text(s),
            Value::Null => Member::Cell(Cell::Null),
            Value::Bool(b) => Member::Cell(Cell::Bool(b)),
            Value::Number(n) => Member::Cell(number(n.as_i64(), n.as_f64())),
            v => Member::Json(v),
        }
    }
}

fn number(int: Option<i64>, float: Option<f64>) -> Cell<'static> {
    int.map_or_else(|| Cell::Float(float.unwrap_or(f64::NAN)), Cell::Int)
}

fn member(raw: &RawValue) -> Result<Member<'_>, serde_json::Error> {
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<Cow<str>>(text)? {
            Cow::Borrowed(s) => Member::Cell(Cell::Str(s)),
            Cow::Owned(s) => Member::Text(s),
        },
        Some(b'n') => Member::Cell(Cell::Null),
        Some(b't') => Member::Cell(Cell::Bool(true)),
        Some(b'f') => Member::Cell(Cell::Bool(false)),
        Some(b'{' | b'[') => Member::Cell(Cell::JsonText(text)),
        _ => Member::Cell(number(text.parse().ok(), text.parse().ok())),
    })
}

/// The value at a dotted path below a top-level member.
fn nested(head: &RawValue, rest: &str) -> Result<Member<'static>, serde_json::Error> {
    let mut cur: Value = serde_json::from_str(head.get())?;
    for p in rest.split('.') {
        cur = match cur {
            Value::Object(mut o) => o.remove(p).unwrap_or(Value::Null),
            _ => Value::Null,
        };
    }
    Ok(Member::from_value(cur))
}

/// Reads one line's members for `keys`: the whole key if present, else the dotted path.
fn members<'a>(
    raw: &'a [u8],
    keys: &[String],
    top: &[String],
) -> Result<Vec<Member<'a>>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let found = Members(top).deserialize(&mut de)?;
    de.end()?;
    let at = |k: &str| top.iter().position(|t| t == k).and_then(|i| found[i]);
    keys.iter()
        .map(|k| match (at(k), k.split_once('.')) {
            (Some(v), _) => member(v),
            (None, Some((head, rest))) => {
                at(head).map_or(Ok(Member::Cell(Cell::Null)), |h| nested(h, rest))
            }
            (None, None) => Ok(Member::Cell(Cell::Null)),
        })
        .collect()
}

pub fn read(
    path: &Path,
    name: &str,
    run: &mut SourceRun,
    rejects: &mut RejectWriter,
    customers: Option<&Customers>,
    progress: &dyn Progress,
) -> Result<(), IngestError> {
    let mut keys = Vec::new();
    for f in &run.config.fields {
        match &f.column {
            ColumnRef::Name(n) => keys.push(n.clone()),
            ColumnRef::Index(_) => {
                let message = format!(
                    "{}: NDJSON fields are found by key, not by column number",
                    f.name
                );
                return Err(IngestError::Input {
                    file: name.into(),
                    line: 1,
                    message,
                });
            }
        }
    }
    run.start_file(name.to_string(), keys.clone());
    let top = top_keys(&keys);
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let file_len = file.metadata().map_or(0, |m| m.len());
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let (mut buf, mut line, mut pending, mut read_bytes) = (Vec::new(), 0u64, 0u64, 0u64);
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
        read_bytes += n as u64;
        if line == SAMPLE_LINES {
            run.expect_rows(file_len.saturating_mul(SAMPLE_LINES * 21 / 20) / read_bytes.max(1));
        }
        if pending > (1 << 22) {
            progress.advance(run.config.kind, pending);
            pending = 0;
        }
        let mut raw = &buf[..];
        if line == 1 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        let raw = raw.trim_ascii_end();
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let ctx = JsonLine {
            raw,
            line,
            keys: &keys,
        };
        if let Err(e) = simdutf8::compat::from_utf8(raw) {
            let msg = format!(
                "bytes are not valid UTF-8 (at byte {})",
                e.valid_up_to() + 1
            );
            run.broken(line, Reason::InvalidUtf8, None, msg, &ctx, rejects)?;
            continue;
        }
        match members(raw, &keys, &top) {
            Ok(values) => {
                let cells: Vec<Cell> = values.iter().map(Member::cell).collect();
                run.row(line, &cells, &ctx, rejects, customers)?;
            }
            Err(e) => {
                let msg = if e.is_data() {
                    "line is not a JSON object".to_string()
                } else {
                    format!("not valid JSON: {e}")
                };
                run.broken(line, Reason::BadJson, None, msg, &ctx, rejects)?;
            }
        }
    }
    progress.advance(run.config.kind, pending);
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
