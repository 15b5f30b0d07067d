//! Allocation-free formatting primitives: ids, integers, money, CSV fields,
//! JSON strings and an editable CSV row.

/// Appends `prefix` followed by `n` zero-padded to at least `width` digits.
pub(crate) fn push_id(out: &mut Vec<u8>, prefix: u8, n: u64, width: usize) {
    let mut b = itoa::Buffer::new();
    let digits = b.format(n).as_bytes();
    out.push(prefix);
    for _ in digits.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(digits);
}

/// Appends an integer.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a float in shortest round-trip form.
pub(crate) fn push_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
}

/// Appends an amount of cents as `-123.45` (always two decimals).
pub(crate) fn push_money(out: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        out.push(b'-');
    }
    let c = cents.unsigned_abs();
    out.extend_from_slice(itoa::Buffer::new().format(c / 100).as_bytes());
    out.extend_from_slice(&[b'.', b'0' + (c / 10 % 10) as u8, b'0' + (c % 10) as u8]);
}

/// Parses money written by [`push_money`] back into cents.
pub(crate) fn parse_money(s: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(s).ok()?;
    let (neg, text) = text.strip_prefix('-').map_or((false, text), |t| (true, t));
    let (int, frac) = text.split_once('.')?;
    let cents = int.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?;
    Some(if neg { -cents } else { cents })
}

/// Appends a CSV field, quoting it (and doubling quotes) when needed.
pub(crate) fn push_csv_text(out: &mut Vec<u8>, s: &[u8]) {
    if !s.iter().any(|&c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        out.extend_from_slice(s);
        return;
    }
    out.push(b'"');
    for &c in s {
        if c == b'"' {
            out.push(b'"');
        }
        out.push(c);
    }
    out.push(b'"');
}

/// Appends a JSON string literal (with quotes), escaping as needed.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &c in s.as_bytes() {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// One CSV record being built: fields (already escaped) separated by commas,
/// editable field-wise so defects can be injected.
#[derive(Default)]
pub(crate) struct CsvRow {
    /// Fields, each followed by a comma.
    pub buf: Vec<u8>,
    /// End offset of each field in `buf` (the position of its comma).
    ends: Vec<usize>,
    /// Physical lines the record occupies.
    pub lines: u64,
}

impl CsvRow {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.lines = 1;
    }

    /// Closes the field written into `buf` since the previous one.
    pub(crate) fn end(&mut self) {
        self.ends.push(self.buf.len());
        self.buf.push(b',');
    }

    /// Appends a complete, already escaped field.
    pub(crate) fn field_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.end();
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] + 1 }
    }

    /// The raw (escaped) bytes of field `i`.
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        &self.buf[self.start(i)..self.ends[i]]
    }

    /// Replaces field `i` with raw bytes.
    pub(crate) fn set(&mut self, i: usize, bytes: &[u8]) {
        let (start, end) = (self.start(i), self.ends[i]);
        self.buf.splice(start..end, bytes.iter().copied());
        let delta = bytes.len() as isize - (end - start) as isize;
        for e in &mut self.ends[i..] {
            *e = e.wrapping_add_signed(delta);
        }
        self.recount();
    }

    /// Inserts raw bytes into field `i` at offset `at` within the field.
    pub(crate) fn insert(&mut self, i: usize, at: usize, bytes: &[u8]) {
        let pos = self.start(i) + at;
        self.buf.splice(pos..pos, bytes.iter().copied());
        for e in &mut self.ends[i..] {
            *e += bytes.len();
        }
    }

    /// Removes field `i` entirely.
    pub(crate) fn remove(&mut self, i: usize) {
        let (start, end) = (self.start(i), self.ends[i]);
        self.buf.drain(start..=end);
        self.ends.remove(i);
        for e in &mut self.ends[i..] {
            *e -= end + 1 - start;
        }
        self.recount();
    }

    fn recount(&mut self) {
        self.lines = 1 + self.buf.iter().filter(|&&c| c == b'\n').count() as u64;
    }

    /// Writes the record and its line terminator.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf[..self.buf.len() - 1]);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives() {
        // Expected strings follow the file formats in the crate spec.
        let mut o = Vec::new();
        push_id(&mut o, b'C', 42, 7);
        push_money(&mut o, -1205);
        push_money(&mut o, 7);
        push_csv_text(&mut o, b"a \"b\", c");
        push_json_str(&mut o, "x\"\\\u{1}");
        assert_eq!(
            o,
            b"C0000042-12.050.07\"a \"\"b\"\", c\"\"x\\\"\\\\\\u0001\""
        );
        assert_eq!(parse_money(b"-12.05"), Some(-1205));
        let mut r = CsvRow::default();
        r.clear();
        for f in [&b"a"[..], b"bb", b"c"] {
            r.field_raw(f);
        }
        r.set(1, b"x\ny");
        r.insert(2, 0, b"!");
        assert_eq!((r.field(1), r.lines), (&b"x\ny"[..], 2));
        r.remove(0);
        let mut out = Vec::new();
        r.write_to(&mut out);
        assert_eq!(out, b"x\ny,!c\n");
    }
}
