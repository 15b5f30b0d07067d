//! The segment language: a closed, typed language for customer segments, with one semantics and
//! two evaluation paths (a whole table at once, or one customer at a time), compilation to SQL,
//! and explanations of why a customer is in or out.
//!
//! A rule goes parse → check → evaluate. The checker resolves every name against a [`Catalog`]
//! of typed fields and reports mistakes with their span:
//!
//! ```
//! use tessera_rules::{Catalog, Field, RowSchema, SegmentDef, SegmentSet, Type};
//!
//! let catalog = Catalog {
//!     customer: RowSchema::new(vec![
//!         Field::new("country", Type::String),
//!         Field::new("spend_90d", Type::Money),
//!     ]),
//!     orders: None,
//!     events: None,
//!     time_zone: chrono_tz::UTC,
//!     money_decimals: 2,
//! };
//! let vip = SegmentDef {
//!     name: "vip".into(),
//!     rule: r#"country in ["DE", "AT"] and spend_90d > 500.00"#.into(),
//!     ..Default::default()
//! };
//! let set = SegmentSet::compile(catalog.clone(), vec![vip], vec![]).unwrap();
//! assert_eq!(set.segments[0].normal, r#"country in ["DE", "AT"] and spend_90d > 500.00"#);
//!
//! let typo = SegmentDef { name: "typo".into(), rule: "spnd_90d > 5".into(), ..Default::default() };
//! let errors = SegmentSet::compile(catalog, vec![typo], vec![]).unwrap_err();
//! assert!(errors[0].to_string().contains(r#"unknown field "spnd_90d", did you mean "spend_90d"?"#));
//! ```
//!
//! The parser, checker and row evaluator use no query engine, so a server or a fuzzer can link
//! them alone; the batch evaluator works on Arrow arrays with Arrow's kernels.

pub mod ast;
pub mod batch;
mod check;
pub mod explain;
pub mod ir;
pub mod lexer;
pub mod parser;
pub mod print;
pub mod row;
mod set;
pub mod span;
pub mod sql;
mod types;

pub use check::did_you_mean;
pub use set::{DefError, Group, GroupDef, Segment, SegmentDef, SegmentSet, version};
pub use span::{ErrorKind, RuleError, Span};
pub use types::{Catalog, Field, Row, RowSchema, Truth, Type, Value, local_day};
