//! Shared vocabulary of Tessera: the canonical tables and their fields, the project config
//! (`tessera.toml`) checked into types, and exact parsers for money, dates and timestamps.
//!
//! This crate does no I/O: callers read files and hand their text in.
//!
//! ```
//! use tessera_core::config::Config;
//! use tessera_core::schema::SourceKind;
//!
//! let toml = r#"
//! [sources.customers]
//! path = "customers.csv"
//! columns = { customer_id = "CustomerID" }
//! attributes.age = { column = "Age", type = "int", min = 0, max = 120 }
//! "#;
//! let config = Config::from_toml(toml, "tessera.toml".as_ref()).unwrap();
//! let customers = config.source(SourceKind::Customers).unwrap();
//! assert_eq!(customers.field("age").unwrap().column.to_string(), "Age");
//!
//! let err = Config::from_toml("[sources.customers]\npth = \"c.csv\"\n", "tessera.toml".as_ref());
//! assert!(err.unwrap_err().to_string().starts_with("tessera.toml:2:1: unknown field `pth`"));
//! ```

pub mod config;
pub mod schema;
pub mod suppress;
pub mod value;

pub use config::{Config, ConfigError};
pub use schema::{FieldType, SourceKind};
