//! The types of the language, the fields a rule can name, and the values a row holds.

use chrono_tz::Tz;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Int,
    Float,
    /// Integer minor units in storage (a float for averages); written in major units in rules.
    Money,
    String,
    Bool,
    /// Days since 1970-01-01.
    Date,
    /// Microseconds since the epoch, UTC.
    Timestamp,
    /// A list of strings.
    List,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::Money => "money",
            Self::String => "string",
            Self::Bool => "bool",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
            Self::List => "list",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A named, typed field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
}

impl Field {
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Self {
            name: name.into(),
            ty,
        }
    }
}

/// The fields of one kind of row, in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowSchema {
    pub fields: Vec<Field>,
}

impl RowSchema {
    pub fn new(fields: Vec<Field>) -> Self {
        Self { fields }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// Everything a rule can refer to, and the settings its values depend on.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The customer row: attributes, features and model outputs.
    pub customer: RowSchema,
    /// Columns of an order row; `None` when the project has no orders.
    pub orders: Option<RowSchema>,
    /// Columns of an event row (`properties.KEY` is always allowed on events).
    pub events: Option<RowSchema>,
    /// Calendar days are taken in this zone.
    pub time_zone: Tz,
    /// Digits after the decimal point of money (2: amounts are stored in cents).
    pub money_decimals: u8,
}

/// One value of a row or a result. Money is held as minor units.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Date(i32),
    Timestamp(i64),
    List(Vec<String>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A three-valued truth: SQL's true, false and unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truth {
    False,
    True,
    Unknown,
}

impl Truth {
    pub fn from_bool(b: bool) -> Self {
        if b { Truth::True } else { Truth::False }
    }

    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Truth::True => "true",
            Truth::False => "false",
            Truth::Unknown => "unknown",
        }
    }
}

/// The calendar day of a UTC timestamp (µs) in `tz`, as days since 1970-01-01.
pub fn local_day(micros: i64, tz: Tz) -> i32 {
    use chrono::{TimeZone, Utc};
    let secs = micros.div_euclid(1_000_000);
    match Utc.timestamp_opt(secs, 0).single() {
        Some(t) => crate::lexer::days(t.with_timezone(&tz).date_naive()),
        None => (secs.div_euclid(86_400)) as i32,
    }
}

/// A row to evaluate: the customer row, or one order or event in a filter.
pub trait Row {
    /// The value of the column with this index, as stored (money in minor units).
    fn get(&self, column: usize) -> Value;
    /// `properties.KEY` of an event: the value when it is a JSON string, else null.
    fn prop(&self, _key: &str) -> Value {
        Value::Null
    }
}
