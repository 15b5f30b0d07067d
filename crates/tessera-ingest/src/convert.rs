//! Checks one cell against its field and turns it into the stored value.

use crate::cell::Cell;
use crate::reason::Reason;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use std::sync::Arc;
use tessera_core::config::{Bound, FieldConfig, SourceConfig};
use tessera_core::schema::{FieldType, Role};
use tessera_core::value::{self, LocalTime, MoneyFormat, TimeFormat, ValueError};

/// A checked value. Strings live in [`RowScratch::text`] as a byte range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Typed {
    Null,
    Str(u32, u32),
    I64(i64),
    F64(f64),
    Bool(bool),
    I32(i32),
    /// A list of strings: items `start..end` of [`RowScratch::items`].
    List(u32, u32),
}

/// The checked values of one row, reused from row to row.
#[derive(Debug, Default)]
pub struct RowScratch {
    pub values: Vec<Typed>,
    pub text: String,
    /// The items of the row's lists, each a [`Typed::Str`] range of `text`.
    pub items: Vec<Typed>,
}

impl RowScratch {
    pub fn clear(&mut self) {
        self.values.clear();
        self.text.clear();
        self.items.clear();
    }

    /// The items of a list value, as text.
    pub fn list(&self, t: Typed) -> impl Iterator<Item = &str> {
        let range = match t {
            Typed::List(a, b) => a as usize..b as usize,
            _ => 0..0,
        };
        self.items[range].iter().filter_map(|v| self.str(*v))
    }

    pub fn str(&self, t: Typed) -> Option<&str> {
        match t {
            Typed::Str(a, b) => Some(&self.text[a as usize..b as usize]),
            _ => None,
        }
    }

    fn push_str(&mut self, s: &str) -> Typed {
        let a = self.text.len() as u32;
        self.text.push_str(s);
        Typed::Str(a, self.text.len() as u32)
    }
}

/// Why a field's value was refused.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub reason: Reason,
    pub message: String,
}

fn err(reason: Reason, message: impl Into<String>) -> FieldError {
    FieldError {
        reason,
        message: message.into(),
    }
}

/// Whether `s` is empty once trimmed; most values start with a printable ASCII byte, which
/// settles it without a scan.
fn blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(b) if b.is_ascii_graphic() => false,
        Some(_) => s.trim().is_empty(),
    }
}

/// A field's checker, holding everything it needs to convert one cell.
#[derive(Debug, Clone)]
pub struct FieldConv {
    pub name: String,
    pub ty: FieldType,
    pub role: Option<Role>,
    required: bool,
    format: Option<TimeFormat>,
    values: Option<Vec<String>>,
    separator: String,
    min: Option<Bound>,
    max: Option<Bound>,
    default: Option<String>,
    money: MoneyFormat,
    clock: LocalTime,
}

impl FieldConv {
    pub fn new(field: &FieldConfig, source: &SourceConfig) -> Self {
        Self {
            name: field.name.clone(),
            ty: field.ty,
            role: field.role,
            required: field.required,
            format: field.format.as_deref().and_then(TimeFormat::new),
            values: field.values.clone(),
            separator: field
                .separator
                .clone()
                .unwrap_or_else(|| tessera_core::config::DEFAULT_LIST_SEPARATOR.to_string()),
            min: field.min,
            max: field.max,
            default: field.default.clone(),
            money: source.money,
            clock: LocalTime::new(source.time_zone),
        }
    }

    /// Converts `cell`, appending the value to `row`.
    pub fn convert(&mut self, cell: Cell<'_>, row: &mut RowScratch) -> Result<(), FieldError> {
        let v = self.typed(cell, row)?;
        row.values.push(v);
        Ok(())
    }

    /// The value `cell` converts to (its text, if any, appended to `row`), without keeping it.
    pub(crate) fn typed(
        &mut self,
        cell: Cell<'_>,
        row: &mut RowScratch,
    ) -> Result<Typed, FieldError> {
        let cell = match cell {
            Cell::Str(s) if blank(s) && (self.ty != FieldType::String || s.is_empty()) => {
                Cell::Null
            }
            Cell::Str(s) if self.role == Some(Role::Id) && blank(s) => Cell::Null,
            c => c,
        };
        if let Cell::Null = cell {
            if let Some(d) = &self.default {
                return Ok(row.push_str(d));
            }
            if self.role == Some(Role::Id) {
                return Err(err(Reason::EmptyId, format!("{} is empty", self.name)));
            }
            if self.required {
                return Err(err(
                    Reason::MissingValue,
                    format!("{} is required but empty", self.name),
                ));
            }
            return Ok(Typed::Null);
        }
        let v = match self.ty {
            FieldType::String => self.string(cell, row)?,
            FieldType::Int => Typed::I64(self.int(cell)?),
            FieldType::Float => Typed::F64(self.float(cell)?),
            FieldType::Bool => Typed::Bool(self.bool(cell)?),
            FieldType::Money => Typed::I64(self.money(cell)?),
            FieldType::Date => Typed::I32(self.date(cell)?),
            FieldType::Timestamp => Typed::I64(self.timestamp(cell)?),
            FieldType::Json => self.json(cell, row)?,
            FieldType::List => self.list(cell, row)?,
        };
        self.check_bounds(v)?;
        Ok(v)
    }

    /// A text field's values for a whole column of text, as [`Self::typed`] converts each:
    /// the column itself when every value is stored as it is read, or the column with empty
    /// values made null. Marks in `refused` the rows whose value the field refuses (an empty id,
    /// a required value missing, a value not among `values`); their output slot is unspecified.
    /// `None` when a value would take the field's default: [`Self::typed`] then does it value by
    /// value.
    pub(crate) fn text_column(&self, a: &StringArray, refused: &mut [bool]) -> Option<ArrayRef> {
        debug_assert_eq!(self.ty, FieldType::String);
        let id = self.role == Some(Role::Id);
        let mut emptied: Option<Vec<bool>> = None;
        for (i, v) in a.iter().enumerate() {
            let null = match v {
                None => true,
                Some(s) => s.is_empty() || (id && blank(s)),
            };
            if null {
                if self.default.is_some() {
                    return None;
                }
                if id || self.required {
                    refused[i] = true;
                } else if v.is_some() {
                    emptied.get_or_insert_with(|| a.iter().map(|v| v.is_some()).collect())[i] =
                        false;
                }
            } else if let Some(s) = v
                && self.in_domain(s).is_err()
            {
                refused[i] = true;
            }
        }
        Some(match emptied {
            None => Arc::new(a.clone()),
            Some(valid) => Arc::new(StringArray::new(
                a.offsets().clone(),
                a.values().clone(),
                Some(NullBuffer::from(valid)),
            )),
        })
    }

    /// A whole column without nulls of the two conversions every order and event needs,
    /// as [`Self::typed`] converts each value: dates to timestamps (local midnight), and
    /// floating-point amounts to money. Marks in `refused` the rows whose value the field
    /// refuses. `None` for any other column, or when the field has bounds to check.
    pub(crate) fn plain_column(&mut self, a: &ArrayRef, refused: &mut [bool]) -> Option<ArrayRef> {
        if a.null_count() > 0 || self.min.is_some() || self.max.is_some() {
            return None;
        }
        let mut convert = |i: usize, v: Option<i64>| {
            refused[i] |= v.is_none();
            v.unwrap_or_default()
        };
        match (self.ty, a.data_type()) {
            (FieldType::Timestamp, DataType::Date32) => {
                let days = a.as_primitive::<Date32Type>().values();
                let micros: Vec<i64> = days
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| convert(i, self.clock.to_utc_micros(i64::from(d) * 86_400, 0)))
                    .collect();
                Some(Arc::new(
                    TimestampMicrosecondArray::from(micros).with_timezone("UTC"),
                ))
            }
            (FieldType::Money, DataType::Float64) => {
                let decimals = self.money.decimals;
                let values = a.as_primitive::<Float64Type>().values();
                let minor: Vec<i64> = values
                    .iter()
                    .enumerate()
                    .map(|(i, &f)| convert(i, value::money_from_f64(f, decimals).ok()))
                    .collect();
                Some(Arc::new(Int64Array::from(minor)))
            }
            _ => None,
        }
    }

    fn type_error(&self, reason: Reason, cell: Cell<'_>) -> FieldError {
        err(
            reason,
            format!("{}: {} is not a {}", self.name, cell.describe(), self.ty),
        )
    }

    fn value_error(&self, e: ValueError) -> FieldError {
        let reason = match &e {
            ValueError::NotInt(_) => Reason::BadInt,
            ValueError::NotFloat(_) => Reason::BadFloat,
            ValueError::NotFinite(_) => Reason::NotFinite,
            ValueError::NotBool(_) => Reason::BadBool,
            ValueError::NotDate { .. } => Reason::BadDate,
            ValueError::NotTimestamp { .. } | ValueError::NonexistentLocalTime { .. } => {
                Reason::BadTimestamp
            }
            ValueError::NotMoney(_)
            | ValueError::MoneyPrecision { .. }
            | ValueError::MoneyOverflow(_) => Reason::BadMoney,
        };
        err(reason, format!("{}: {e}", self.name))
    }

    fn string(&self, cell: Cell<'_>, row: &mut RowScratch) -> Result<Typed, FieldError> {
        let v = match cell {
            Cell::Str(s) => row.push_str(s),
            Cell::Int(i) => row.push_str(itoa::Buffer::new().format(i)),
            Cell::Bool(b) => row.push_str(if b { "true" } else { "false" }),
            Cell::Float(f) if f.is_finite() => row.push_str(&f.to_string()),
            c => {
                return Err(err(
                    Reason::BadJson,
                    format!("{}: expected text, found {}", self.name, c.describe()),
                ));
            }
        };
        self.in_domain(row.str(v).unwrap_or_default())?;
        Ok(v)
    }

    /// Whether `s` is one of the field's `values`, when it lists some.
    fn in_domain(&self, s: &str) -> Result<(), FieldError> {
        let Some(values) = &self.values else {
            return Ok(());
        };
        if values.binary_search_by(|x| x.as_str().cmp(s)).is_ok() {
            return Ok(());
        }
        let shown = values
            .iter()
            .take(12)
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let more = if values.len() > 12 { ", …" } else { "" };
        Err(err(
            Reason::NotInDomain,
            format!("{}: `{s}` is not one of {shown}{more}", self.name),
        ))
    }

    /// A list of strings from a JSON array, a Parquet list or text split at the separator. Items
    /// are trimmed; empty items (as in `a;;b` or a trailing separator) and null items are left
    /// out, so `[]`, `""` inside a list and `a;` mean what a person would take them to mean.
    fn list(&self, cell: Cell<'_>, row: &mut RowScratch) -> Result<Typed, FieldError> {
        let start = row.items.len() as u32;
        let push = |row: &mut RowScratch, item: &str| -> Result<(), FieldError> {
            let item = item.trim();
            if !item.is_empty() {
                self.in_domain(item)?;
                let v = row.push_str(item);
                row.items.push(v);
            }
            Ok(())
        };
        let json_items = |row: &mut RowScratch, v: &serde_json::Value| -> Result<(), FieldError> {
            let serde_json::Value::Array(items) = v else {
                return Err(err(
                    Reason::BadList,
                    format!("{}: expected a list, found {v}", self.name),
                ));
            };
            for item in items {
                match item {
                    serde_json::Value::Null => {}
                    serde_json::Value::String(s) => push(row, s)?,
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                        push(row, &item.to_string())?
                    }
                    other => {
                        return Err(err(
                            Reason::BadList,
                            format!(
                                "{}: list items must be strings, numbers or booleans, found {other}",
                                self.name
                            ),
                        ));
                    }
                }
            }
            Ok(())
        };
        match cell {
            Cell::Str(s) => {
                for item in s.split(self.separator.as_str()) {
                    push(row, item)?;
                }
            }
            Cell::Json(v) => json_items(row, v)?,
            Cell::JsonText(t) => {
                let v: serde_json::Value = serde_json::from_str(t)
                    .map_err(|e| err(Reason::BadList, format!("{}: not JSON: {e}", self.name)))?;
                json_items(row, &v)?;
            }
            Cell::List { items, start, end } => {
                for i in start..end {
                    if arrow_array::Array::is_valid(items, i) {
                        push(row, items.value(i))?;
                    }
                }
            }
            c => {
                return Err(err(
                    Reason::BadList,
                    format!("{}: {} is not a list", self.name, c.describe()),
                ));
            }
        }
        Ok(Typed::List(start, row.items.len() as u32))
    }

    fn int(&self, cell: Cell<'_>) -> Result<i64, FieldError> {
        match cell {
            Cell::Str(s) => value::parse_int(s).map_err(|e| self.value_error(e)),
            Cell::Int(i) => Ok(i),
            Cell::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            Cell::Decimal { unscaled, scale: 0 } => {
                i64::try_from(unscaled).map_err(|_| self.type_error(Reason::BadInt, cell))
            }
            c => Err(self.type_error(Reason::BadInt, c)),
        }
    }

    fn float(&self, cell: Cell<'_>) -> Result<f64, FieldError> {
        let f = match cell {
            Cell::Str(s) => return value::parse_float(s).map_err(|e| self.value_error(e)),
            Cell::Int(i) => i as f64,
            Cell::Float(f) => f,
            Cell::Decimal { unscaled, scale } => unscaled as f64 / 10f64.powi(i32::from(scale)),
            c => return Err(self.type_error(Reason::BadFloat, c)),
        };
        if f.is_finite() {
            Ok(f)
        } else {
            Err(err(
                Reason::NotFinite,
                format!("{}: {f} is not finite", self.name),
            ))
        }
    }

    fn bool(&self, cell: Cell<'_>) -> Result<bool, FieldError> {
        match cell {
            Cell::Str(s) => value::parse_bool(s).map_err(|e| self.value_error(e)),
            Cell::Bool(b) => Ok(b),
            Cell::Int(0) => Ok(false),
            Cell::Int(1) => Ok(true),
            c => Err(self.type_error(Reason::BadBool, c)),
        }
    }

    fn money(&self, cell: Cell<'_>) -> Result<i64, FieldError> {
        let d = self.money.decimals;
        let r = match cell {
            Cell::Str(s) => value::parse_money(s, self.money),
            Cell::Int(i) => i
                .checked_mul(10i64.pow(u32::from(d)))
                .ok_or_else(|| ValueError::MoneyOverflow(i.to_string())),
            Cell::Float(f) => value::money_from_f64(f, d),
            Cell::Decimal { unscaled, scale } => value::money_from_decimal(unscaled, scale, d),
            c => return Err(self.type_error(Reason::BadMoney, c)),
        };
        r.map_err(|e| self.value_error(e))
    }

    fn date(&mut self, cell: Cell<'_>) -> Result<i32, FieldError> {
        match cell {
            Cell::Str(s) => match &self.format {
                Some(f) => f.date(s),
                None => value::parse_date(s, None),
            }
            .map_err(|e| self.value_error(e)),
            Cell::Date(d) => Ok(d),
            Cell::Micros { value, utc } => {
                let local = if utc {
                    let t = chrono::DateTime::from_timestamp_micros(value)
                        .ok_or_else(|| self.type_error(Reason::BadDate, cell))?;
                    t.with_timezone(&self.clock.tz()).date_naive()
                } else {
                    chrono::DateTime::from_timestamp_micros(value)
                        .ok_or_else(|| self.type_error(Reason::BadDate, cell))?
                        .date_naive()
                };
                Ok(value::date_to_days(local))
            }
            c => Err(self.type_error(Reason::BadDate, c)),
        }
    }

    fn timestamp(&mut self, cell: Cell<'_>) -> Result<i64, FieldError> {
        let gap = |s: &Self, text: String| {
            s.value_error(ValueError::NonexistentLocalTime {
                text,
                tz: s.clock.tz().name().to_string(),
            })
        };
        match cell {
            Cell::Str(s) => match &self.format {
                Some(f) => f.timestamp(s, &mut self.clock),
                None => value::parse_timestamp(s, None, &mut self.clock),
            }
            .map_err(|e| self.value_error(e)),
            Cell::Micros { value, utc: true } => Ok(value),
            Cell::Micros { value, utc: false } => self
                .clock
                .to_utc_micros(value.div_euclid(1_000_000), value.rem_euclid(1_000_000))
                .ok_or_else(|| gap(self, cell.describe())),
            Cell::Date(d) => self
                .clock
                .to_utc_micros(i64::from(d) * 86_400, 0)
                .ok_or_else(|| gap(self, cell.describe())),
            c => Err(self.type_error(Reason::BadTimestamp, c)),
        }
    }

    fn json(&self, cell: Cell<'_>, row: &mut RowScratch) -> Result<Typed, FieldError> {
        let not_object = |found: &str| {
            err(
                Reason::BadJson,
                format!("{}: expected a JSON object, found {found}", self.name),
            )
        };
        match cell {
            Cell::JsonText(t) if t.starts_with('{') => Ok(row.push_str(t)),
            Cell::JsonText(t) => Err(not_object(t)),
            Cell::Json(v) if v.is_object() => Ok(row.push_str(&v.to_string())),
            Cell::Json(v) => Err(not_object(&v.to_string())),
            Cell::Str(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(v) if v.is_object() => Ok(row.push_str(&v.to_string())),
                Ok(v) => Err(not_object(&v.to_string())),
                Err(e) => Err(err(
                    Reason::BadJson,
                    format!("{}: not JSON: {e}", self.name),
                )),
            },
            c => Err(not_object(&c.describe())),
        }
    }

    fn check_bounds(&self, v: Typed) -> Result<(), FieldError> {
        let (reason, below, above) = match (v, self.min, self.max) {
            (_, None, None) => return Ok(()),
            (Typed::I64(x), lo, hi) if self.ty == FieldType::Timestamp => (
                Reason::DateOutOfRange,
                matches!(lo, Some(Bound::Micros(l)) if x < l),
                matches!(hi, Some(Bound::Micros(h)) if x > h),
            ),
            (Typed::I64(x), lo, hi) => (
                Reason::OutOfRange,
                matches!(lo, Some(Bound::Int(l)) if x < l),
                matches!(hi, Some(Bound::Int(h)) if x > h),
            ),
            (Typed::F64(x), lo, hi) => (
                Reason::OutOfRange,
                matches!(lo, Some(Bound::Float(l)) if x < l),
                matches!(hi, Some(Bound::Float(h)) if x > h),
            ),
            (Typed::I32(x), lo, hi) => (
                Reason::DateOutOfRange,
                matches!(lo, Some(Bound::Days(l)) if x < l),
                matches!(hi, Some(Bound::Days(h)) if x > h),
            ),
            _ => return Ok(()),
        };
        if below || above {
            let shown = |b: Option<Bound>| b.map_or("-".to_string(), |b| self.show(b));
            return Err(err(
                reason,
                format!(
                    "{}: {} is outside {}..={}",
                    self.name,
                    self.show_typed(v),
                    shown(self.min),
                    shown(self.max)
                ),
            ));
        }
        Ok(())
    }

    fn show(&self, b: Bound) -> String {
        match b {
            Bound::Int(i) if self.ty == FieldType::Money => self.show_typed(Typed::I64(i)),
            Bound::Int(i) => i.to_string(),
            Bound::Float(f) => f.to_string(),
            Bound::Days(d) => value::days_to_date(d).to_string(),
            Bound::Micros(m) => {
                chrono::DateTime::from_timestamp_micros(m).map_or(m.to_string(), |t| t.to_rfc3339())
            }
        }
    }

    fn show_typed(&self, v: Typed) -> String {
        match v {
            Typed::I64(m) if self.ty == FieldType::Money => {
                let scale = 10i64.pow(u32::from(self.money.decimals));
                if self.money.decimals == 0 {
                    m.to_string()
                } else {
                    let sign = if m < 0 { "-" } else { "" };
                    let d = usize::from(self.money.decimals);
                    format!("{sign}{}.{:0d$}", (m / scale).abs(), (m % scale).abs())
                }
            }
            Typed::I64(t) if self.ty == FieldType::Timestamp => self.show(Bound::Micros(t)),
            Typed::I64(i) => i.to_string(),
            Typed::F64(f) => f.to_string(),
            Typed::I32(d) => self.show(Bound::Days(d)),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::blank;

    #[test]
    fn blank_is_empty_after_trimming() {
        // White_Space characters of Unicode, ASCII controls among them, trim away.
        for s in [
            "",
            " ",
            "\t\r\n",
            "\u{0b}",
            "\u{0c} ",
            "\u{a0}",
            "\u{2003}\u{3000}",
        ] {
            assert!(blank(s), "{s:?}");
            assert_eq!(blank(s), s.trim().is_empty());
        }
        for s in ["a", " a", "\u{0b}x", "é", "\u{a0}1", "-"] {
            assert!(!blank(s), "{s:?}");
            assert_eq!(blank(s), s.trim().is_empty());
        }
    }
}
