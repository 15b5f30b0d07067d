//! CSV files: RFC 4180 records via the `csv` crate, checked for ragged rows, bad quoting and
//! encoding, with each record's raw bytes kept for `rejects.csv`.

use crate::cell::Cell;
use crate::error::IngestError;
use crate::pipeline;
use crate::reason::Reason;
use crate::rejects::{RejectWriter, lossless_text};
use crate::source::{Checked, CheckedBatch, Checker, Customers, RecordContext, RowKeys, SourceRun};
use crate::{Progress, columns};
use simdutf8::compat::Utf8Error;
use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use tessera_core::config::{CsvOptions, Encoding};

/// Lines read before the row count of a file is estimated from its size.
const SAMPLE_LINES: u64 = 4096;

/// Bytes read through the CSV parser, kept from `base` on so a record's raw text can be cut out.
#[derive(Default)]
struct Seen {
    base: u64,
    bytes: Vec<u8>,
    started: bool,
}

impl Seen {
    fn slice(&self, start: u64, end: u64) -> &[u8] {
        let a = (start.saturating_sub(self.base) as usize).min(self.bytes.len());
        let b = (end.saturating_sub(self.base) as usize).min(self.bytes.len());
        &self.bytes[a..b]
    }

    fn forget_before(&mut self, offset: u64) {
        let n = offset.saturating_sub(self.base) as usize;
        if n > (1 << 20) && n <= self.bytes.len() {
            self.bytes.drain(..n);
            self.base = offset;
        }
    }
}

/// Physical line numbers: the csv crate counts records' line ends but not newlines inside quoted
/// fields, so lines are counted here from the bytes themselves.
struct Lines {
    /// Byte offset up to which newlines are counted.
    upto: u64,
    /// Newlines before `upto`.
    newlines: u64,
}

impl Lines {
    /// 1-based line of a record starting at `start`, given the bytes `gap` between `upto` and it.
    fn record_start(&mut self, start: u64, gap: &[u8]) -> u64 {
        self.newlines += memchr_count(gap);
        self.upto = start;
        self.newlines + 1
    }

    fn record_end(&mut self, end: u64, raw: &[u8]) {
        self.newlines += memchr_count(raw);
        self.upto = end;
    }
}

/// Where a record really starts: the csv crate may place it on the line end of the record before.
fn record_start(start: u64, from_upto: &[u8], upto: u64) -> u64 {
    let skip = from_upto
        .get((start - upto) as usize..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    start + skip as u64
}

fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

struct Tee<R> {
    inner: R,
    seen: Rc<RefCell<Seen>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = self.inner.read(buf)?;
        let mut seen = self.seen.borrow_mut();
        if !seen.started && n > 0 {
            seen.started = true;
            // A UTF-8 byte order mark is not part of the first column's name.
            if buf[..n].starts_with(b"\xEF\xBB\xBF") {
                buf.copy_within(3..n, 0);
                n -= 3;
            }
        }
        seen.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Walks a CSV file record by record, with each record's physical line and raw bytes, holding
/// only the bytes of the record in hand (and the parser's read-ahead) in memory.
struct Records {
    reader: csv::Reader<Tee<File>>,
    seen: Rc<RefCell<Seen>>,
    lines: Lines,
    record: csv::ByteRecord,
    name: String,
    start: u64,
    end: u64,
}

impl Records {
    fn open(path: &Path, name: &str, opts: &CsvOptions) -> Result<Self, IngestError> {
        let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let seen = Rc::new(RefCell::new(Seen::default()));
        let reader = csv::ReaderBuilder::new()
            .delimiter(opts.delimiter as u8)
            .quote(opts.quote as u8)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(Tee {
                inner: file,
                seen: seen.clone(),
            });
        let lines = Lines {
            upto: 0,
            newlines: 0,
        };
        Ok(Self {
            reader,
            seen,
            lines,
            record: csv::ByteRecord::new(),
            name: name.to_string(),
            start: 0,
            end: 0,
        })
    }

    /// Reads the next record and returns the 1-based line it starts on; `None` at the end.
    fn next(&mut self) -> Result<Option<u64>, IngestError> {
        self.seen.borrow_mut().forget_before(self.end);
        let found = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| IngestError::Input {
                file: self.name.clone(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
        if !found {
            return Ok(None);
        }
        let end = self.reader.position().byte();
        let seen = self.seen.borrow();
        let at = self.record.position().expect("csv tracks positions").byte();
        let start = record_start(at, seen.slice(self.lines.upto, end), self.lines.upto);
        let line = self
            .lines
            .record_start(start, seen.slice(self.lines.upto, start));
        self.lines.record_end(end, seen.slice(start, end));
        (self.start, self.end) = (start, end);
        Ok(Some(line))
    }

    fn record(&self) -> &csv::ByteRecord {
        &self.record
    }

    /// The raw bytes of the record in hand, line end included.
    fn raw(&self) -> std::cell::Ref<'_, [u8]> {
        std::cell::Ref::map(self.seen.borrow(), |s| s.slice(self.start, self.end))
    }

    /// Byte offset just past the record in hand.
    fn end(&self) -> u64 {
        self.end
    }
}

struct CsvRecord<'a> {
    raw: &'a [u8],
    line: u64,
    opts: &'a CsvOptions,
    fields: &'a [Option<usize>],
}

impl RecordContext for CsvRecord<'_> {
    fn raw(&self) -> String {
        let mut r = self.raw;
        while let [rest @ .., b'\n' | b'\r'] = r {
            r = rest;
        }
        match self.opts.encoding {
            Encoding::Utf8 => lossless_text(r),
            Encoding::Latin1 => r.iter().map(|&b| b as char).collect(),
        }
    }

    fn position(&self, field: Option<usize>) -> (u64, u64) {
        let col = field.and_then(|f| self.fields.get(f).copied().flatten());
        let Some(col) = col else {
            return (self.line, 1);
        };
        let (dl, dc) = field_start(
            self.raw,
            self.opts.delimiter as u8,
            self.opts.quote as u8,
            col,
        );
        (self.line + dl, dc)
    }
}

/// (lines after the record's first, 1-based character column) where field `k` starts.
fn field_start(raw: &[u8], delim: u8, quote: u8, k: usize) -> (u64, u64) {
    let (mut field, mut in_quotes, mut line, mut line_start) = (0, false, 0u64, 0usize);
    let mut start = 0;
    for (i, &b) in raw.iter().enumerate() {
        if field == k {
            start = i;
            break;
        }
        match b {
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            _ if b == quote => in_quotes = !in_quotes,
            _ if b == delim && !in_quotes => {
                field += 1;
                start = i + 1;
            }
            _ => {}
        }
    }
    let col = String::from_utf8_lossy(&raw[line_start..start.max(line_start)])
        .chars()
        .count() as u64
        + 1;
    (line, col)
}

/// Checks the quoting of a raw record: a quoted field must close, and nothing may follow its
/// closing quote but a delimiter or the end of the record. Returns a message if it is bad.
fn check_quoting(raw: &[u8], delim: u8, quote: u8) -> Option<String> {
    #[derive(PartialEq)]
    enum S {
        Start,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut s = S::Start;
    let mut field = 1;
    for &b in raw {
        s = match s {
            S::Start if b == quote => S::Quoted,
            S::Start | S::Unquoted if b == delim => {
                field += 1;
                S::Start
            }
            S::Start | S::Unquoted => S::Unquoted,
            S::Quoted if b == quote => S::QuoteInQuoted,
            S::Quoted => S::Quoted,
            S::QuoteInQuoted if b == quote => S::Quoted,
            S::QuoteInQuoted if b == delim => {
                field += 1;
                S::Start
            }
            S::QuoteInQuoted if b == b'\r' || b == b'\n' => S::QuoteInQuoted,
            S::QuoteInQuoted => {
                return Some(format!(
                    "field {field}: text after the closing quote (`{}`)",
                    b as char
                ));
            }
        };
    }
    (s == S::Quoted).then(|| {
        let lines = raw.iter().filter(|&&b| b == b'\n').count();
        format!("field {field}: quote never closes; the rest of the file ({lines} lines) was read into it")
    })
}

/// Records read on the parsing thread and handed to a checker together, each with its line,
/// its raw bytes and its fields' bytes.
#[derive(Default)]
struct Chunk {
    raw: Vec<u8>,
    text: Vec<u8>,
    /// Per record: its line, and where its raw bytes end in `raw` and its fields in `bounds`.
    records: Vec<(u64, usize, usize)>,
    /// Where each field's bytes end in `text`.
    bounds: Vec<usize>,
    /// Byte offset in the file just past the last record.
    end: u64,
}

/// One record of a [`Chunk`].
struct ChunkRecord<'a> {
    line: u64,
    raw: &'a [u8],
    text: &'a [u8],
    /// The ends of the record's fields in `text`, after the end `start`.
    bounds: &'a [usize],
    start: usize,
}

impl<'a> ChunkRecord<'a> {
    /// What a reject shows of the record.
    fn context(&self, opts: &'a CsvOptions, fields: &'a [Option<usize>]) -> CsvRecord<'a> {
        CsvRecord {
            raw: self.raw,
            line: self.line,
            opts,
            fields,
        }
    }

    fn len(&self) -> usize {
        self.bounds.len()
    }

    fn span(&self, k: usize) -> Option<std::ops::Range<usize>> {
        let end = *self.bounds.get(k)?;
        let start = k.checked_sub(1).map_or(self.start, |j| self.bounds[j]);
        Some(start..end)
    }

    fn get(&self, k: usize) -> Option<&'a [u8]> {
        self.span(k).map(|r| &self.text[r])
    }

    /// Field `k` as UTF-8 text. `valid` is the chunk's fields' bytes as text, when they all are
    /// valid UTF-8 together: a field is then valid alone when it starts and ends on character
    /// boundaries, which spares checking each field.
    fn text(&self, k: usize, valid: Option<&'a str>) -> Option<Result<&'a str, Utf8Error>> {
        let span = self.span(k)?;
        if let Some(field) = valid.and_then(|v| v.get(span.clone())) {
            return Some(Ok(field));
        }
        Some(simdutf8::compat::from_utf8(&self.text[span]))
    }
}

impl Chunk {
    fn push(&mut self, line: u64, record: &csv::ByteRecord, raw: &[u8]) {
        self.raw.extend_from_slice(raw);
        for field in record {
            self.text.extend_from_slice(field);
            self.bounds.push(self.text.len());
        }
        self.records.push((line, self.raw.len(), self.bounds.len()));
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn record(&self, i: usize) -> ChunkRecord<'_> {
        let (raw_start, field_start) = i
            .checked_sub(1)
            .map_or((0, 0), |j| (self.records[j].1, self.records[j].2));
        let (line, raw_end, field_end) = self.records[i];
        ChunkRecord {
            line,
            raw: &self.raw[raw_start..raw_end],
            text: &self.text,
            bounds: &self.bounds[field_start..field_end],
            start: field_start.checked_sub(1).map_or(0, |j| self.bounds[j]),
        }
    }
}

/// Parses the file's records into chunks of `rows`, handing each to `send`; a file that cannot be
/// read (or parsed) ends with the error, after the records before it.
fn parse(
    path: &Path,
    name: &str,
    opts: &CsvOptions,
    rows: usize,
    send: &mut dyn FnMut(Result<Chunk, IngestError>) -> bool,
) {
    let mut recs = match Records::open(path, name, opts) {
        Ok(recs) => recs,
        Err(e) => {
            send(Err(e));
            return;
        }
    };
    let mut chunk = Chunk::default();
    let mut header = opts.header;
    loop {
        match recs.next() {
            Ok(Some(_)) if header => header = false,
            Ok(Some(line)) => {
                chunk.push(line, recs.record(), &recs.raw());
                chunk.end = recs.end();
                if chunk.len() >= rows && !send(Ok(std::mem::take(&mut chunk))) {
                    return;
                }
            }
            Ok(None) => break,
            Err(e) => {
                if chunk.len() > 0 && !send(Ok(std::mem::take(&mut chunk))) {
                    return;
                }
                send(Err(e));
                return;
            }
        }
    }
    if chunk.len() > 0 {
        send(Ok(chunk));
    }
}

pub fn read(
    path: &Path,
    name: &str,
    run: &mut SourceRun,
    rejects: &mut RejectWriter,
    customers: Option<&Customers>,
    progress: &dyn Progress,
    batch_rows: usize,
) -> Result<(), IngestError> {
    let opts = run.config.csv.clone();
    let file_len = std::fs::metadata(path).map_or(0, |m| m.len());
    let header = header(path, name, &opts)?;
    let fields = columns::resolve(name, &header, opts.header, &run.config.fields)?;
    let names = fields
        .iter()
        .zip(&run.config.fields)
        .map(|(c, f)| c.map_or(f.column.to_string(), |c| header[c].clone()))
        .collect();
    run.start_file(name.to_string(), names);
    let width = header.len();
    // Records are parsed on a thread of their own, checked in chunks on one thread per core,
    // and settled in file order on this one (duplicates, conflicts, `rejects.csv`).
    let checker = run.checker().fork();
    let (fields, opts) = (&fields, &opts);
    let (mut last_progress, mut records) = (0u64, 0u64);
    pipeline::in_order(
        pipeline::workers(),
        |send| parse(path, name, opts, batch_rows, send),
        || {
            let mut checker = checker.fork();
            let mut latin1 = Vec::new();
            move |chunk: Result<Chunk, IngestError>| {
                chunk.map(|chunk| {
                    let checked = check_chunk(
                        &mut checker,
                        &chunk,
                        opts,
                        fields,
                        width,
                        &mut latin1,
                        customers,
                    );
                    (chunk, checked)
                })
            }
        },
        |checked| {
            let (chunk, checked) = checked?;
            let ctx = |i: usize| {
                let r = chunk.record(i);
                (r.line, r.context(opts, fields))
            };
            run.settle(checked, ctx, rejects)?;
            let before = records;
            records += chunk.len() as u64;
            if before < SAMPLE_LINES && records >= SAMPLE_LINES {
                run.expect_rows(file_len.saturating_mul(records * 21 / 20) / chunk.end.max(1));
            }
            if chunk.end - last_progress > (1 << 22) {
                progress.advance(run.config.kind, chunk.end - last_progress);
                last_progress = chunk.end;
            }
            Ok(())
        },
    )?;
    progress.advance(run.config.kind, file_len.saturating_sub(last_progress));
    Ok(())
}

/// Column names of a header record; `#1`, `#2`, … when the file has no header.
fn header_names(record: &csv::ByteRecord, has_header: bool) -> Vec<String> {
    if has_header {
        record
            .iter()
            .map(|f| lossless_text(f).trim().to_string())
            .collect()
    } else {
        (1..=record.len()).map(|i| format!("#{i}")).collect()
    }
}

/// The column names of a CSV file, read from its first record.
pub fn header(path: &Path, name: &str, opts: &CsvOptions) -> Result<Vec<String>, IngestError> {
    let mut recs = Records::open(path, name, opts)?;
    if recs.next()?.is_none() && opts.header {
        return Err(IngestError::Input {
            file: name.into(),
            line: 1,
            message: "the file is empty: no header".into(),
        });
    }
    Ok(header_names(recs.record(), opts.header))
}

/// Checks each record of a chunk as a whole, then its fields as cells.
fn check_chunk(
    checker: &mut Checker,
    chunk: &Chunk,
    opts: &CsvOptions,
    fields: &[Option<usize>],
    width: usize,
    latin1: &mut Vec<String>,
    customers: Option<&Customers>,
) -> CheckedBatch {
    // The customers index slot each row will probe is fetched a few rows ahead. Only UTF-8 text
    // is keyed here: a Latin-1 field's text is made below.
    let (id, customer) = checker.key_fields();
    let valid = (opts.encoding == Encoding::Utf8)
        .then(|| simdutf8::basic::from_utf8(&chunk.text).ok())
        .flatten();
    let keys: Vec<RowKeys> = (0..chunk.len())
        .map(|i| {
            if opts.encoding != Encoding::Utf8 {
                return RowKeys::default();
            }
            let r = chunk.record(i);
            let text = |k: usize| match fields[k].and_then(|c| r.text(c, valid)) {
                Some(Ok(s)) => Cell::Str(s),
                _ => Cell::Null,
            };
            checker.keys(text(id), customer.map(text))
        })
        .collect();
    let mut cells: Vec<Cell<'static>> = Vec::with_capacity(fields.len());
    checker.check_rows(&keys, customers, |checker, i, keys| {
        let r = chunk.record(i);
        let ctx = r.context(opts, fields);
        check_record(
            checker, &r, valid, &ctx, &mut cells, latin1, width, customers, keys,
        )
    })
}

/// An empty vector of cells of any lifetime, in the allocation of `cells`.
fn recycle<'b>(mut cells: Vec<Cell<'_>>) -> Vec<Cell<'b>> {
    cells.clear();
    cells.into_iter().map(|_| Cell::Null).collect()
}

/// Checks one record as a whole, then hands its fields to the checker as cells (`cells` is a
/// buffer reused from record to record).
#[allow(clippy::too_many_arguments)]
fn check_record<'a>(
    checker: &mut Checker,
    record: &ChunkRecord<'a>,
    valid: Option<&'a str>,
    ctx: &CsvRecord,
    cells: &mut Vec<Cell<'static>>,
    latin1: &mut Vec<String>,
    width: usize,
    customers: Option<&Customers>,
    keys: RowKeys,
) -> Checked {
    let mut buf = recycle(std::mem::take(cells));
    let checked = check_fields(
        checker, record, valid, ctx, &mut buf, latin1, width, customers, keys,
    );
    *cells = recycle(buf);
    checked
}

#[allow(clippy::too_many_arguments)]
fn check_fields<'a>(
    checker: &mut Checker,
    record: &ChunkRecord<'a>,
    valid: Option<&'a str>,
    ctx: &CsvRecord,
    cells: &mut Vec<Cell<'a>>,
    latin1: &'a mut Vec<String>,
    width: usize,
    customers: Option<&Customers>,
    keys: RowKeys,
) -> Checked {
    let opts = ctx.opts;
    let quote = opts.quote as u8;
    if ctx.raw.contains(&quote)
        && let Some(msg) = check_quoting(ctx.raw, opts.delimiter as u8, quote)
    {
        return checker.broken(Reason::BadQuoting, None, msg, ctx);
    }
    if record.len() != width {
        let msg = format!("expected {width} fields, found {}", record.len());
        return checker.broken(Reason::RaggedRow, None, msg, ctx);
    }
    cells.clear();
    if opts.encoding == Encoding::Latin1 {
        latin1.resize(ctx.fields.len(), String::new());
        for (k, col) in ctx.fields.iter().enumerate() {
            latin1[k].clear();
            if let Some(bytes) = col.and_then(|c| record.get(c)) {
                latin1[k].extend(bytes.iter().map(|&b| b as char));
            }
        }
        cells.extend(ctx.fields.iter().zip(latin1.iter()).map(|(c, s)| {
            if c.is_some() {
                Cell::Str(s)
            } else {
                Cell::Null
            }
        }));
        return checker.check(cells, customers, RowKeys::default());
    }
    for (k, col) in ctx.fields.iter().enumerate() {
        let Some(text) = col.and_then(|c| record.text(c, valid)) else {
            cells.push(Cell::Null);
            continue;
        };
        match text {
            Ok(s) => cells.push(Cell::Str(s)),
            Err(e) => {
                let name = &checker.config().fields[k].name;
                let msg = format!(
                    "{name}: bytes are not valid UTF-8 (at byte {} of the field)",
                    e.valid_up_to() + 1
                );
                return checker.broken(Reason::InvalidUtf8, Some(k), msg, ctx);
            }
        }
    }
    checker.check(cells, customers, keys)
}

/// Raw text of the records starting at `lines` (sorted), for rows withdrawn after staging.
pub fn fetch_raw(
    path: &Path,
    opts: &CsvOptions,
    wanted: &[u64],
) -> Result<Vec<(u64, String)>, IngestError> {
    let mut recs = Records::open(path, &path.display().to_string(), opts)?;
    let mut want = wanted.iter().peekable();
    let mut out = Vec::new();
    while want.peek().is_some()
        && let Some(line) = recs.next()?
    {
        if want.next_if(|&&l| l == line).is_some() {
            out.push((
                line,
                CsvRecord {
                    raw: &recs.raw(),
                    line,
                    opts,
                    fields: &[],
                }
                .raw(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_text_only_when_it_is_valid_utf8_alone() {
        // "é" is 0xC3 0xA9: split over two fields, each half is invalid, though the fields'
        // bytes together are valid text.
        let mut chunk = Chunk::default();
        let record = csv::ByteRecord::from(vec![&b"a\xC3"[..], &b"\xA9b"[..], "é".as_bytes()]);
        chunk.push(1, &record, b"a\xC3,\xA9b,\xC3\xA9\n");
        let valid = simdutf8::basic::from_utf8(&chunk.text).ok();
        assert_eq!(valid, Some("aébé"));
        let r = chunk.record(0);
        for valid in [valid, None] {
            assert_eq!(r.text(0, valid).unwrap().unwrap_err().valid_up_to(), 1);
            assert_eq!(r.text(1, valid).unwrap().unwrap_err().valid_up_to(), 0);
            assert_eq!(r.text(2, valid).unwrap().unwrap(), "é");
            assert!(r.text(3, valid).is_none());
        }
    }

    #[test]
    fn quoting_rules() {
        assert_eq!(check_quoting(b"a,\"b,c\",d\n", b',', b'"'), None);
        assert_eq!(check_quoting(b"a,\"b \"\"x\"\"\",d\r\n", b',', b'"'), None);
        assert_eq!(check_quoting(b"a,5\" screen,d\n", b',', b'"'), None);
        assert!(
            check_quoting(b"a,\"abc\"x,d\n", b',', b'"')
                .unwrap()
                .starts_with("field 2: text after")
        );
        assert!(
            check_quoting(b"a,\"abc\nd,e\n", b',', b'"')
                .unwrap()
                .contains("never closes")
        );
    }

    #[test]
    fn field_positions_cross_lines() {
        let raw = b"1,\"two\nlines\",three\n";
        assert_eq!(field_start(raw, b',', b'"', 0), (0, 1));
        assert_eq!(field_start(raw, b',', b'"', 1), (0, 3));
        assert_eq!(field_start(raw, b',', b'"', 2), (1, 8));
    }
}
