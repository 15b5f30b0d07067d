//! One input value, as the file gave it, before it is checked against its field.

use arrow_array::Array;

/// A value read from a CSV field, a JSON member or a Parquet cell.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    /// Text from a CSV field or JSON string.
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch; `utc` is false for a wall-clock time without a zone.
    Micros {
        value: i64,
        utc: bool,
    },
    Decimal {
        unscaled: i128,
        scale: i8,
    },
    /// A JSON object or array.
    Json(&'a serde_json::Value),
    /// The text of a JSON object or array, already checked to be valid JSON.
    JsonText(&'a str),
    /// Items `start..end` of a Parquet list of strings (`items` holds every list's items).
    List {
        items: &'a arrow_array::StringArray,
        start: usize,
        end: usize,
    },
    /// A value of a type Tessera cannot read, described for the message.
    Unsupported(&'static str),
}

impl Cell<'_> {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Str(s) => format!("`{s}`"),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Date(d) => tessera_core::value::days_to_date(*d).to_string(),
            Cell::Micros { value, .. } => format!("timestamp {value}µs"),
            Cell::Decimal { unscaled, scale } => format!("decimal {unscaled}e-{scale}"),
            Cell::Json(v) => v.to_string(),
            Cell::JsonText(t) => t.to_string(),
            Cell::List { items, start, end } => {
                let shown: Vec<String> = (*start..*end)
                    .map(|i| {
                        if items.is_null(i) {
                            "null".to_string()
                        } else {
                            format!("{:?}", items.value(i))
                        }
                    })
                    .collect();
                format!("[{}]", shown.join(", "))
            }
            Cell::Unsupported(t) => format!("a value of type {t}"),
        }
    }
}
