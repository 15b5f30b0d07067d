//! Compiles a segment to one SQL query returning its members' `customer_id`, so a team can run it
//! in its own warehouse. The query reads three tables: `customers` (the customer row: clean
//! customers joined with the feature table), `orders` and `events` (the clean tables). Behavioural
//! leaves become correlated subqueries; a referenced segment is inlined as `(...) IS TRUE`.

use crate::ast::{AggFunc, StrOp, TableKind};
use crate::ir::*;
use crate::print::date;
use crate::set::SegmentSet;
use crate::types::{RowSchema, Value};
use std::fmt::Write;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DataFusion,
    Postgres,
    DuckDb,
    Sqlite,
}

impl Dialect {
    pub const NAMES: [&'static str; 4] = ["datafusion", "postgres", "duckdb", "sqlite"];

    pub fn from_name(s: &str) -> Option<Dialect> {
        Some(match s {
            "datafusion" => Dialect::DataFusion,
            "postgres" | "postgresql" => Dialect::Postgres,
            "duckdb" => Dialect::DuckDb,
            "sqlite" => Dialect::Sqlite,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum SqlError {
    #[error("the {dialect} dialect cannot express {what}{hint}")]
    Unsupported {
        dialect: &'static str,
        what: String,
        hint: &'static str,
    },
}

/// The query returning the members of segment `i`, as of the day `as_of`.
pub fn compile(
    set: &SegmentSet,
    i: usize,
    as_of: i32,
    dialect: Dialect,
) -> Result<String, SqlError> {
    let c = Compiler {
        set,
        as_of,
        dialect,
    };
    let mut where_ = String::new();
    c.node(&mut where_, &set.segments[i].node, Scope::Customer)?;
    let seg = &set.segments[i];
    Ok(format!(
        "-- segment {} (version {}) as of {}\n-- {}\nSELECT c.customer_id\nFROM customers AS c\nWHERE {}\nORDER BY c.customer_id",
        seg.def.name,
        seg.version,
        date(as_of),
        seg.normal.replace('\n', " "),
        where_
    ))
}

struct Compiler<'a> {
    set: &'a SegmentSet,
    as_of: i32,
    dialect: Dialect,
}

#[derive(Clone, Copy)]
enum Scope<'s> {
    Customer,
    Table(&'s RowSchema),
}

impl Scope<'_> {
    fn alias(self) -> &'static str {
        match self {
            Scope::Customer => "c",
            Scope::Table(..) => "t",
        }
    }
}

impl Compiler<'_> {
    fn dialect_name(&self) -> &'static str {
        match self.dialect {
            Dialect::DataFusion => "datafusion",
            Dialect::Postgres => "postgres",
            Dialect::DuckDb => "duckdb",
            Dialect::Sqlite => "sqlite",
        }
    }

    fn unsupported(&self, what: &str, hint: &'static str) -> SqlError {
        SqlError::Unsupported {
            dialect: self.dialect_name(),
            what: what.to_string(),
            hint,
        }
    }

    fn node(&self, s: &mut String, n: &Node, scope: Scope) -> Result<(), SqlError> {
        match &n.cond {
            Cond::And(items) | Cond::Or(items) => {
                let sep = if matches!(n.cond, Cond::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                s.push('(');
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        s.push_str(sep);
                    }
                    self.node(s, item, scope)?;
                }
                s.push(')');
            }
            Cond::Not(inner) => {
                s.push_str("(NOT ");
                self.node(s, inner, scope)?;
                s.push(')');
            }
            Cond::Segment(i) => {
                s.push('(');
                self.node(s, &self.set.segments[*i].node, scope)?;
                s.push_str(" IS TRUE)");
            }
            Cond::Test(t) => self.test(s, t, scope)?,
        }
        Ok(())
    }

    fn test(&self, s: &mut String, t: &Test, scope: Scope) -> Result<(), SqlError> {
        let v = |val: &Val| self.val(val, scope);
        match t {
            Test::Truthy(a) => {
                let _ = write!(s, "({} = TRUE)", v(a)?);
            }
            Test::Cmp(op, a, b, _) => {
                let _ = write!(s, "({} {} {})", v(a)?, op.symbol(), v(b)?);
            }
            Test::In {
                negated,
                val,
                items,
                ..
            } => {
                let list: Vec<String> = items.iter().map(|i| self.literal(i)).collect();
                let not = if *negated { "NOT " } else { "" };
                let _ = write!(s, "({not}({} IN ({})))", v(val)?, list.join(", "));
            }
            Test::Between {
                negated,
                val,
                lo,
                hi,
                ..
            } => {
                let not = if *negated { "NOT " } else { "" };
                let _ = write!(s, "({} {not}BETWEEN {} AND {})", v(val)?, v(lo)?, v(hi)?);
            }
            Test::Str(op, a, b) => {
                let (a, b) = (v(a)?, v(b)?);
                let e = match (self.dialect, op) {
                    (Dialect::Sqlite, StrOp::Contains) => format!("instr({a}, {b}) > 0"),
                    (Dialect::Sqlite, StrOp::StartsWith) => {
                        format!("substr({a}, 1, length({b})) = {b}")
                    }
                    (Dialect::Sqlite, StrOp::EndsWith) => {
                        format!("(length({b}) = 0 OR substr({a}, -length({b})) = {b})")
                    }
                    (Dialect::DuckDb, StrOp::Contains) => format!("contains({a}, {b})"),
                    (_, StrOp::Contains) => format!("strpos({a}, {b}) > 0"),
                    (Dialect::Postgres, StrOp::EndsWith) => {
                        format!("right({a}, length({b})) = {b}")
                    }
                    (_, StrOp::StartsWith) => format!("starts_with({a}, {b})"),
                    (_, StrOp::EndsWith) => format!("ends_with({a}, {b})"),
                };
                let _ = write!(s, "({e})");
            }
            Test::ListContains(list, item) => {
                let (l, x) = (v(list)?, v(item)?);
                let e = match self.dialect {
                    Dialect::Postgres => format!("{x} = ANY({l})"),
                    Dialect::DuckDb => format!("list_contains({l}, {x})"),
                    Dialect::DataFusion => format!("array_has({l}, {x})"),
                    Dialect::Sqlite => format!(
                        "CASE WHEN {l} IS NULL OR {x} IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM json_each({l}) WHERE value = {x}) END"
                    ),
                };
                let _ = write!(s, "({e})");
            }
            Test::Matches(a, re) => {
                let (a, p) = (v(a)?, quote(re.as_str()));
                let e = match self.dialect {
                    Dialect::DuckDb => format!("regexp_matches({a}, {p})"),
                    Dialect::Sqlite => format!("{a} REGEXP {p}"),
                    _ => format!("{a} ~ {p}"),
                };
                let _ = write!(s, "({e})");
            }
            Test::IsNull { negated, val } => {
                let not = if *negated { " NOT" } else { "" };
                let _ = write!(s, "({} IS{not} NULL)", v(val)?);
            }
        }
        Ok(())
    }

    fn val(&self, v: &Val, scope: Scope) -> Result<String, SqlError> {
        let column = |i: usize| -> String {
            let schema = match scope {
                Scope::Customer => &self.set.catalog.customer,
                Scope::Table(s) => s,
            };
            format!("{}.{}", scope.alias(), ident(&schema.fields[i].name))
        };
        let raw = match &v.src {
            Src::Lit(x) => return Ok(self.literal(x)),
            Src::Field(i) => column(*i),
            Src::Prop(key) => self.property(key)?,
            Src::DaysSince(i) => {
                let ty = match scope {
                    Scope::Customer => self.set.catalog.customer.fields[*i].ty,
                    Scope::Table(s) => s.fields[*i].ty,
                };
                let day = if ty == crate::types::Type::Timestamp {
                    self.day(&column(*i))?
                } else {
                    column(*i)
                };
                return Ok(self.days_between(&day));
            }
            Src::Leaf(l) => self.leaf(&self.set.leaves[*l])?,
        };
        Ok(match v.conv {
            Conv::ToDay => self.day(&raw)?,
            _ => raw,
        })
    }

    /// `as_of` minus a day, in days.
    fn days_between(&self, day: &str) -> String {
        let as_of = self.date_literal(self.as_of);
        match self.dialect {
            Dialect::Sqlite => format!("CAST(julianday({as_of}) - julianday({day}) AS INTEGER)"),
            Dialect::Postgres => format!("({as_of} - {day})"),
            Dialect::DuckDb => format!("date_diff('day', {day}, {as_of})"),
            Dialect::DataFusion => format!("(CAST({as_of} AS INT) - CAST({day} AS INT))"),
        }
    }

    /// The calendar day of a timestamp in the project time zone.
    fn day(&self, ts: &str) -> Result<String, SqlError> {
        let tz = self.set.catalog.time_zone.name();
        let utc = tz == "UTC" || tz == "Etc/UTC";
        Ok(match self.dialect {
            Dialect::Sqlite if utc => format!("date({ts})"),
            Dialect::Sqlite => {
                return Err(self.unsupported(
                    &format!("calendar days in the time zone {tz}"),
                    " (SQLite knows only UTC); use postgres or duckdb",
                ));
            }
            Dialect::Postgres => format!("CAST(({ts} AT TIME ZONE {}) AS DATE)", quote(tz)),
            Dialect::DuckDb => format!("CAST(timezone({}, {ts}) AS DATE)", quote(tz)),
            Dialect::DataFusion if utc => format!("CAST({ts} AS DATE)"),
            Dialect::DataFusion => format!("CAST(({ts} AT TIME ZONE {}) AS DATE)", quote(tz)),
        })
    }

    fn property(&self, key: &str) -> Result<String, SqlError> {
        let path = quote(&format!("$.{key}"));
        Ok(match self.dialect {
            Dialect::Sqlite => format!(
                "CASE WHEN json_type(t.properties, {path}) = 'text' THEN json_extract(t.properties, {path}) END"
            ),
            Dialect::DuckDb => format!(
                "CASE WHEN json_type(t.properties, {path}) = 'VARCHAR' THEN json_extract_string(t.properties, {path}) END"
            ),
            Dialect::Postgres => {
                let k = quote(key);
                format!(
                    "CASE WHEN jsonb_typeof(CAST(t.properties AS JSONB) -> {k}) = 'string' THEN CAST(t.properties AS JSONB) ->> {k} END"
                )
            }
            Dialect::DataFusion => {
                return Err(self.unsupported(
                    "event properties",
                    " (it has no JSON functions); use postgres, duckdb or sqlite",
                ));
            }
        })
    }

    fn leaf(&self, leaf: &Leaf) -> Result<String, SqlError> {
        let schema = match leaf.table {
            TableKind::Orders => self.set.catalog.orders.as_ref(),
            TableKind::Events => self.set.catalog.events.as_ref(),
        }
        .expect("checked: the table exists");
        let time = format!("t.{}", ident(leaf.table.time_column()));
        let col = |c: Option<(usize, _)>| match c {
            Some((i, _)) => format!("t.{}", ident(&schema.fields[i].name)),
            None => time.clone(),
        };
        let agg = match leaf.func {
            AggFunc::Count => "count(*)".to_string(),
            AggFunc::Sum => format!("coalesce(sum({}), 0)", col(leaf.column)),
            AggFunc::Avg => format!("avg({})", col(leaf.column)),
            AggFunc::Min => format!("min({})", col(leaf.column)),
            AggFunc::Max => format!("max({})", col(leaf.column)),
            AggFunc::First => format!("min({time})"),
            AggFunc::Last => format!("max({time})"),
        };
        let day = self.day(&time)?;
        let (from, to) = leaf.day_range(self.as_of);
        let mut conds = vec![
            "t.customer_id = c.customer_id".to_string(),
            format!("{time} IS NOT NULL"),
            format!("{day} < {}", self.date_literal(to)),
        ];
        if from != i32::MIN {
            conds.push(format!("{day} >= {}", self.date_literal(from)));
        }
        if let Some(f) = &leaf.filter {
            let mut s = String::new();
            self.node(&mut s, f, Scope::Table(schema))?;
            conds.push(format!("{s} IS TRUE"));
        }
        Ok(format!(
            "(SELECT {agg} FROM {} AS t WHERE {})",
            leaf.table.name(),
            conds.join(" AND ")
        ))
    }

    fn date_literal(&self, d: i32) -> String {
        match self.dialect {
            Dialect::Sqlite => quote(&date(d)),
            _ => format!("DATE {}", quote(&date(d))),
        }
    }

    fn literal(&self, v: &Value) -> String {
        match v {
            Value::Null => "NULL".into(),
            Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => quote(s),
            Value::Date(d) => self.date_literal(*d),
            Value::Timestamp(t) => t.to_string(),
            Value::List(_) => unreachable!("list literals do not exist"),
        }
    }
}

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A column name, quoted unless it is a plain lower-case identifier.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
