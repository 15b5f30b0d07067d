//! The canonical tables and their fields: the names every file Tessera writes uses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the four input tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Customers,
    Orders,
    Events,
    Feedback,
}

impl SourceKind {
    /// All kinds in ingest order: customers first, so the others can check their customer.
    pub const ALL: [SourceKind; 4] = [Self::Customers, Self::Orders, Self::Events, Self::Feedback];

    pub fn name(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Orders => "orders",
            Self::Events => "events",
            Self::Feedback => "feedback",
        }
    }

    /// The canonical fields of this table, in output column order.
    pub fn fields(self) -> &'static [CanonicalField] {
        match self {
            Self::Customers => CUSTOMER_FIELDS,
            Self::Orders => ORDER_FIELDS,
            Self::Events => EVENT_FIELDS,
            Self::Feedback => FEEDBACK_FIELDS,
        }
    }

    /// Name of the field that identifies a row of this table.
    pub fn id_field(self) -> &'static str {
        self.fields()[0].name
    }

    /// Whether rows of this table belong to a customer defined elsewhere.
    pub fn references_customer(self) -> bool {
        self != Self::Customers
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The value types a column can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Int,
    Float,
    Bool,
    Date,
    Timestamp,
    /// A decimal amount, stored as integer minor units (cents for 2 decimals).
    Money,
    /// A JSON object, stored as its compact text.
    Json,
    /// A list of strings: tags, interests, devices. Read from a JSON array, a Parquet list, or
    /// text split at the field's separator.
    List,
}

impl FieldType {
    pub const USER_TYPES: [&'static str; 8] = [
        "string",
        "int",
        "float",
        "bool",
        "date",
        "timestamp",
        "money",
        "list",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
            Self::Money => "money",
            Self::Json => "json",
            Self::List => "list",
        }
    }

    /// Whether `min`/`max` bounds make sense for this type.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Self::Int | Self::Float | Self::Date | Self::Timestamp | Self::Money
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a canonical field means to the pipeline beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The row's own id: must be non-empty, drives duplicate detection.
    Id,
    /// The customer a row belongs to: must name a known customer.
    CustomerRef,
    /// When the row happened: feeds the default `as_of`.
    EventTime,
    /// An order's value: negative is a refund, zero is counted.
    Amount,
    Plain,
}

/// A field of a canonical table.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalField {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    pub role: Role,
    /// Value used when an optional field has no column in the file.
    pub default: Option<&'static str>,
}

const fn field(name: &'static str, ty: FieldType, required: bool, role: Role) -> CanonicalField {
    CanonicalField {
        name,
        ty,
        required,
        role,
        default: None,
    }
}

const CUSTOMER_FIELDS: &[CanonicalField] = &[
    field("customer_id", FieldType::String, true, Role::Id),
    field("signed_up_at", FieldType::Timestamp, false, Role::Plain),
];

const ORDER_FIELDS: &[CanonicalField] = &[
    field("order_id", FieldType::String, true, Role::Id),
    field("customer_id", FieldType::String, true, Role::CustomerRef),
    field("ordered_at", FieldType::Timestamp, true, Role::EventTime),
    field("amount", FieldType::Money, true, Role::Amount),
    field("category", FieldType::String, false, Role::Plain),
    field("channel", FieldType::String, false, Role::Plain),
];

const EVENT_FIELDS: &[CanonicalField] = &[
    field("event_id", FieldType::String, true, Role::Id),
    field("customer_id", FieldType::String, true, Role::CustomerRef),
    field("occurred_at", FieldType::Timestamp, true, Role::EventTime),
    field("name", FieldType::String, true, Role::Plain),
    CanonicalField {
        name: "properties",
        ty: FieldType::Json,
        required: false,
        role: Role::Plain,
        default: Some("{}"),
    },
];

const FEEDBACK_FIELDS: &[CanonicalField] = &[
    field("feedback_id", FieldType::String, true, Role::Id),
    field("customer_id", FieldType::String, true, Role::CustomerRef),
    field("given_at", FieldType::Timestamp, true, Role::EventTime),
    CanonicalField {
        name: "kind",
        ty: FieldType::String,
        required: false,
        role: Role::Plain,
        default: Some("nps"),
    },
    field("score", FieldType::Float, true, Role::Plain),
    field("comment", FieldType::String, false, Role::Plain),
];

/// Column added to the clean orders table: true for negative amounts.
pub const REFUND_FLAG: &str = "is_refund";
