//! Glue between a run's files and the segment language: the customer row (clean customers beside
//! the feature table), the order and event rows, and `assignments.parquet`.

use crate::Failure;
use anyhow::{Context as _, anyhow};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tessera_core::Config;
use tessera_core::schema::{FieldType, SourceKind};
use tessera_rules::ast::TableKind;
use tessera_rules::batch::LeafState;
use tessera_rules::row::Context;
use tessera_rules::{
    Catalog, Field, GroupDef, Row, RowSchema, SegmentDef, SegmentSet, Type, Value,
};

/// Feature-table columns holding money (minor units).
fn is_money_feature(name: &str) -> bool {
    matches!(
        name,
        "monetary_total" | "monetary_avg" | "refunds_amount" | "mean_repeat_spend"
    ) || (name.starts_with("spend_") && name.ends_with('d'))
}

/// One kind of row as arrays: the columns in schema order.
pub struct Table {
    pub schema: RowSchema,
    pub columns: Vec<ArrayRef>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |c| c.len())
    }

    pub fn column(&self, name: &str) -> Option<&ArrayRef> {
        self.schema.index(name).map(|i| &self.columns[i])
    }
}

fn read_parquet(path: &Path) -> Result<(Arc<Schema>, Vec<RecordBatch>), Failure> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("cannot read {}", path.display()))?
        .with_batch_size(65_536)
        .build()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

fn language_type(dt: &DataType, money: bool) -> Option<Type> {
    Some(match dt {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            if money {
                Type::Money
            } else {
                Type::Int
            }
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Type::Int,
        DataType::Float32 | DataType::Float64 => {
            if money {
                Type::Money
            } else {
                Type::Float
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            Type::String
        }
        DataType::Boolean => Type::Bool,
        DataType::Date32 => Type::Date,
        DataType::Timestamp(_, _) => Type::Timestamp,
        DataType::List(f) if matches!(f.data_type(), DataType::Utf8) => Type::List,
        _ => return None,
    })
}

fn money_fields(config: &Config, kind: SourceKind) -> Vec<String> {
    config.source(kind).map_or(Vec::new(), |s| {
        s.fields
            .iter()
            .filter(|f| f.ty == FieldType::Money)
            .map(|f| f.name.clone())
            .collect()
    })
}

fn table_from(
    schema: &Schema,
    batches: &[RecordBatch],
    money: &dyn Fn(&str) -> bool,
    skip: &dyn Fn(&str) -> bool,
) -> Result<Table, Failure> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        if skip(f.name()) {
            continue;
        }
        let Some(ty) = language_type(f.data_type(), money(f.name())) else {
            continue;
        };
        let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
        let column = if parts.is_empty() {
            arrow_array::new_empty_array(f.data_type())
        } else {
            arrow_select::concat::concat(&parts)?
        };
        fields.push(Field::new(f.name().clone(), ty));
        columns.push(column);
    }
    Ok(Table {
        schema: RowSchema::new(fields),
        columns,
    })
}

/// The customer row: clean customers' columns, then the feature table's (one row per customer,
/// in the same order).
pub fn customer_table(
    config: &Config,
    out: &Path,
    features: &RecordBatch,
) -> Result<Table, Failure> {
    let (schema, batches) = read_parquet(&out.join("clean").join("customers.parquet"))?;
    let money = money_fields(config, SourceKind::Customers);
    let mut table = table_from(
        &schema,
        &batches,
        &|n| money.iter().any(|m| m == n),
        &|_| false,
    )?;
    let rest = table_from(
        features.schema().as_ref(),
        std::slice::from_ref(features),
        &is_money_feature,
        &|n| table.schema.index(n).is_some(),
    )?;
    if rest.len() != table.len() && !rest.columns.is_empty() {
        return Err(Failure::Other(anyhow!(
            "feature table has {} rows for {} customers",
            rest.len(),
            table.len()
        )));
    }
    table.schema.fields.extend(rest.schema.fields);
    table.columns.extend(rest.columns);
    Ok(table)
}

/// The schema of a clean table, from its Parquet footer; `None` when the project lacks it.
fn clean_schema(
    config: &Config,
    out: &Path,
    kind: SourceKind,
) -> Result<Option<RowSchema>, Failure> {
    let path = out.join("clean").join(format!("{}.parquet", kind.name()));
    if config.source(kind).is_none() || !path.exists() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path)?;
    let schema = ParquetRecordBatchReaderBuilder::try_new(file)?
        .schema()
        .clone();
    let money = money_fields(config, kind);
    let fields = schema
        .fields()
        .iter()
        .filter(|f| f.name() != "properties")
        .filter_map(|f| {
            language_type(f.data_type(), money.contains(f.name()))
                .map(|t| Field::new(f.name().clone(), t))
        })
        .collect();
    Ok(Some(RowSchema::new(fields)))
}

/// Checks the config's segments against the run's tables.
pub fn compile(config: &Config, out: &Path, customer: &RowSchema) -> Result<SegmentSet, Failure> {
    let catalog = Catalog {
        customer: customer.clone(),
        orders: clean_schema(config, out, SourceKind::Orders)?,
        events: clean_schema(config, out, SourceKind::Events)?,
        time_zone: config.time_zone,
        money_decimals: config.money_decimals,
    };
    let defs = config
        .segments
        .iter()
        .map(|s| SegmentDef {
            name: s.name.clone(),
            rule: s.rule.clone(),
            description: s.description.clone(),
            tags: s.tags.clone(),
        })
        .collect();
    let groups = config
        .groups
        .iter()
        .map(|g| GroupDef {
            name: g.name.clone(),
            segments: g.segments.clone(),
            description: g.description.clone(),
        })
        .collect();
    SegmentSet::compile(catalog, defs, groups).map_err(|errors| {
        let text: Vec<String> = errors
            .iter()
            .map(|e| match e {
                tessera_rules::DefError::Rule { segment, .. } => {
                    let at = config
                        .segments
                        .iter()
                        .find(|s| s.name == *segment)
                        .map_or(String::new(), |s| format!("{}: ", s.at));
                    format!("{at}{e}")
                }
                e => format!("{}: {e}", config.file.display()),
            })
            .collect();
        Failure::Input(anyhow!("{}", text.join("\n")))
    })
}

/// Reads the rows of `table` that the segments need, batch by batch, calling `f` with each batch's
/// columns (in the catalog's order), its properties and its customer indices.
pub fn for_each_batch(
    set: &SegmentSet,
    out: &Path,
    table: TableKind,
    customer_index: &HashMap<&str, i32>,
    mut f: impl FnMut(&[ArrayRef], Option<&StringArray>, &[i32]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let schema = match table {
        TableKind::Orders => set.catalog.orders.as_ref(),
        TableKind::Events => set.catalog.events.as_ref(),
    };
    let Some(schema) = schema else { return Ok(()) };
    let path = out.join("clean").join(format!("{}.parquet", table.name()));
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(65_536)
        .build()?;
    for batch in reader {
        let batch = batch?;
        let columns: Vec<ArrayRef> = schema
            .fields
            .iter()
            .map(|f| {
                batch
                    .column_by_name(&f.name)
                    .cloned()
                    .expect("schema read from this file")
            })
            .collect();
        let properties = batch
            .column_by_name("properties")
            .map(|p| arrow_cast::cast(p, &DataType::Utf8))
            .transpose()?;
        let ids = arrow_cast::cast(
            batch
                .column_by_name("customer_id")
                .ok_or_else(|| anyhow!("{} has no customer_id", path.display()))?,
            &DataType::Utf8,
        )?;
        let idx: Vec<i32> = ids
            .as_string::<i32>()
            .iter()
            .map(|id| {
                id.and_then(|id| customer_index.get(id).copied())
                    .unwrap_or(-1)
            })
            .collect();
        f(
            &columns,
            properties.as_ref().map(|p| p.as_string::<i32>()),
            &idx,
        )?;
    }
    Ok(())
}

/// Position of every customer id in the customer table.
pub fn customer_index(customers: &Table) -> Result<HashMap<&str, i32>, Failure> {
    let ids = customers
        .column("customer_id")
        .ok_or_else(|| anyhow!("customer table has no customer_id"))?
        .as_string::<i32>();
    Ok(ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| id.map(|id| (id, i as i32)))
        .collect())
}

/// Every leaf for every customer, in one pass over orders and one over events.
pub fn leaf_columns(
    set: &SegmentSet,
    out: &Path,
    customers: &Table,
    cx: Context,
) -> Result<Vec<ArrayRef>, Failure> {
    let index = customer_index(customers)?;
    let mut state = LeafState::new(set, customers.len());
    for table in [TableKind::Orders, TableKind::Events] {
        if state.needs(table) {
            for_each_batch(set, out, table, &index, |cols, props, idx| {
                state
                    .add_batch(table, cols, props, idx, cx)
                    .map_err(|e| Failure::Other(e.into()))
            })?;
        }
    }
    Ok(state.finish())
}

/// One row of a [`Table`], read value by value (the row path).
pub struct ArrowRow<'a> {
    pub columns: &'a [ArrayRef],
    pub properties: Option<&'a StringArray>,
    pub row: usize,
}

impl Row for ArrowRow<'_> {
    fn get(&self, column: usize) -> Value {
        value_at(&self.columns[column], self.row)
    }

    fn prop(&self, key: &str) -> Value {
        match self.properties {
            Some(p) if p.is_valid(self.row) => {
                tessera_rules::batch::json_string(p.value(self.row), key)
                    .map_or(Value::Null, Value::Str)
            }
            _ => Value::Null,
        }
    }
}

/// The value at `row` of an Arrow column, as stored.
pub fn value_at(a: &ArrayRef, row: usize) -> Value {
    if a.is_null(row) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => {
            let c = arrow_cast::cast(&a.slice(row, 1), &DataType::Int64).expect("integer cast");
            Value::Int(c.as_primitive::<Int64Type>().value(0))
        }
        DataType::Float32 | DataType::Float64 => {
            let c = arrow_cast::cast(&a.slice(row, 1), &DataType::Float64).expect("float cast");
            Value::Float(c.as_primitive::<Float64Type>().value(0))
        }
        DataType::Date32 => Value::Date(a.as_primitive::<Date32Type>().value(row)),
        DataType::Timestamp(_, _) => {
            let c = arrow_cast::cast(
                &a.slice(row, 1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )
            .expect("timestamp cast");
            Value::Timestamp(c.as_primitive::<TimestampMicrosecondType>().value(0))
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>().value(row);
            Value::List(
                l.as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect(),
            )
        }
        _ => {
            let c = arrow_cast::cast(&a.slice(row, 1), &DataType::Utf8).expect("string cast");
            Value::Str(c.as_string::<i32>().value(0).to_string())
        }
    }
}

/// `assignments.parquet`: `customer_id`, `segments` (names, in definition order), one column
/// per group holding its first matching segment.
pub fn write_assignments(
    set: &SegmentSet,
    customers: &Table,
    members: &[BooleanArray],
    path: &Path,
) -> Result<(), Failure> {
    let n = customers.len();
    let ids = customers.column("customer_id").expect("checked").clone();
    let mut list =
        arrow_array::builder::ListBuilder::new(arrow_array::builder::StringBuilder::new());
    for row in 0..n {
        for (s, m) in members.iter().enumerate() {
            if m.value(row) {
                list.values().append_value(&set.segments[s].def.name);
            }
        }
        list.append(true);
    }
    let mut fields = vec![
        ArrowField::new("customer_id", DataType::Utf8, false),
        ArrowField::new(
            "segments",
            DataType::List(Arc::new(ArrowField::new("item", DataType::Utf8, true))),
            false,
        ),
    ];
    let mut columns: Vec<ArrayRef> = vec![ids, Arc::new(list.finish())];
    for g in &set.groups {
        let col: StringArray = (0..n)
            .map(|row| {
                g.members
                    .iter()
                    .find(|&&s| members[s].value(row))
                    .map(|&s| set.segments[s].def.name.as_str())
            })
            .collect();
        fields.push(ArrowField::new(&g.def.name, DataType::Utf8, true));
        columns.push(Arc::new(col));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(&batch)?;
    w.close()?;
    Ok(())
}

/// A run's segments checked against its tables, with the customer row they are evaluated on.
pub struct Prepared {
    pub set: SegmentSet,
    pub customers: Table,
    pub cx: Context,
    /// The run's output folder.
    pub dir: std::path::PathBuf,
}

/// Every segment evaluated over a run's customers.
pub struct Evaluated {
    pub run: Prepared,
    pub members: Vec<BooleanArray>,
}

/// Builds the customer row and compiles the config's segments against the run's tables.
pub fn prepare(
    config: &Config,
    out: &Path,
    as_of: i32,
    features: &RecordBatch,
) -> Result<Prepared, Failure> {
    let customers = customer_table(config, out, features)?;
    let set = compile(config, out, &customers.schema)?;
    let cx = Context {
        as_of,
        time_zone: config.time_zone,
    };
    Ok(Prepared {
        set,
        customers,
        cx,
        dir: out.to_path_buf(),
    })
}

impl Prepared {
    /// Evaluates every segment in batch: one pass over orders and events for the leaves.
    pub fn evaluate(self) -> Result<Evaluated, Failure> {
        let leaves = leaf_columns(&self.set, &self.dir, &self.customers, self.cx)?;
        let members =
            tessera_rules::batch::evaluate(&self.set, &self.customers.columns, &leaves, self.cx)?;
        Ok(Evaluated { run: self, members })
    }
}

/// A run's `features.parquet` as one batch.
pub fn read_features(path: &Path) -> Result<RecordBatch, Failure> {
    let (schema, batches) = read_parquet(path)?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

impl Evaluated {
    /// `run.json`'s `segments` and `groups` sections.
    pub fn report(
        &self,
    ) -> (
        std::collections::BTreeMap<String, serde_json::Value>,
        std::collections::BTreeMap<String, serde_json::Value>,
    ) {
        let n = self.run.customers.len().max(1) as f64;
        let set = &self.run.set;
        let segments = set
            .segments
            .iter()
            .zip(&self.members)
            .map(|(s, m)| {
                let members = m.true_count();
                (
                    s.def.name.clone(),
                    serde_json::json!({
                        "version": s.version,
                        "members": members,
                        "share": members as f64 / n,
                    }),
                )
            })
            .collect();
        let groups = set
            .groups
            .iter()
            .map(|g| {
                let mut sizes = serde_json::Map::new();
                let mut none = 0u64;
                let mut counts = vec![0u64; g.members.len()];
                for row in 0..self.run.customers.len() {
                    match g.members.iter().position(|&s| self.members[s].value(row)) {
                        Some(k) => counts[k] += 1,
                        None => none += 1,
                    }
                }
                for (k, &s) in g.members.iter().enumerate() {
                    sizes.insert(set.segments[s].def.name.clone(), counts[k].into());
                }
                (
                    g.def.name.clone(),
                    serde_json::json!({ "version": g.version, "sizes": sizes, "none": none }),
                )
            })
            .collect();
        (segments, groups)
    }
}
