//! Why a row was rejected: stable codes written to `rejects.csv` and documented in `docs/rejects.md`.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The row has more or fewer fields than the header.
    RaggedRow,
    /// A quoted field is not closed, or text follows its closing quote.
    BadQuoting,
    /// The row's bytes are not valid UTF-8 (with `encoding = "utf-8"`).
    InvalidUtf8,
    /// An NDJSON line is not a JSON object, or a JSON field holds the wrong kind of value.
    BadJson,
    /// A required field is empty or absent.
    MissingValue,
    /// The row's own id is empty.
    EmptyId,
    BadInt,
    BadFloat,
    BadBool,
    BadDate,
    BadTimestamp,
    /// An amount that is not a decimal number, has more decimals than `money_decimals`, or overflows.
    BadMoney,
    /// NaN or an infinity where a number is expected.
    NotFinite,
    /// A number outside the field's `min`/`max`.
    OutOfRange,
    /// A date or timestamp outside the field's `min`/`max` (default 1900-01-01..2100-12-31).
    DateOutOfRange,
    /// A string not among the field's `values` (for a list, any of its items).
    NotInDomain,
    /// A `list` field's value is neither text nor a list of scalars (an object, a number, a
    /// nested list).
    BadList,
    /// Same id as another row with different content.
    ConflictingDuplicate,
    /// An order, event or feedback row whose customer is not in `customers`.
    UnknownCustomer,
}

impl Reason {
    pub const ALL: [Reason; 19] = [
        Self::RaggedRow,
        Self::BadQuoting,
        Self::InvalidUtf8,
        Self::BadJson,
        Self::MissingValue,
        Self::EmptyId,
        Self::BadInt,
        Self::BadFloat,
        Self::BadBool,
        Self::BadDate,
        Self::BadTimestamp,
        Self::BadMoney,
        Self::NotFinite,
        Self::OutOfRange,
        Self::DateOutOfRange,
        Self::NotInDomain,
        Self::BadList,
        Self::ConflictingDuplicate,
        Self::UnknownCustomer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::RaggedRow => "ragged_row",
            Self::BadQuoting => "bad_quoting",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::BadJson => "bad_json",
            Self::MissingValue => "missing_value",
            Self::EmptyId => "empty_id",
            Self::BadInt => "bad_int",
            Self::BadFloat => "bad_float",
            Self::BadBool => "bad_bool",
            Self::BadDate => "bad_date",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadMoney => "bad_money",
            Self::NotFinite => "not_finite",
            Self::OutOfRange => "out_of_range",
            Self::DateOutOfRange => "date_out_of_range",
            Self::NotInDomain => "not_in_domain",
            Self::BadList => "bad_list",
            Self::ConflictingDuplicate => "conflicting_duplicate",
            Self::UnknownCustomer => "unknown_customer",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
