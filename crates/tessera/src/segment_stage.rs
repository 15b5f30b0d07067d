//! Glue between a run's files and the segment language: the customer row (clean customers beside
//! the feature table), the order and event rows, and `assignments.parquet`.

use crate::Failure;
use anyhow::{Context as _, anyhow};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;
use std::sync::Arc;
use tessera_core::Config;
use tessera_core::schema::{FieldType, SourceKind};
use tessera_features::table::OrderRows;
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
        "monetary_total"
            | "monetary_avg"
            | "refunds_amount"
            | "mean_repeat_spend"
            | "expected_spend"
            | "clv"
            | "clv_lower"
            | "clv_upper"
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

    /// Adds a column (a model's output) at the end.
    pub fn push(&mut self, name: &str, ty: Type, column: ArrayRef) {
        self.schema.fields.push(Field::new(name.to_string(), ty));
        self.columns.push(column);
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

/// Customer ids to positions in the customer table.
pub type CustomerIndex<'a> = hashbrown::HashMap<&'a str, i32>;

/// Which part of a clean table a pass reads: some row groups (all when `None`) and some columns
/// of the table's row schema (all when `None`), with or without event properties.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub row_groups: Option<Vec<usize>>,
    pub columns: Option<(Vec<usize>, bool)>,
}

/// How a pass learns each row's customer: by looking its id up, or from the rows the feature
/// table already resolved (all rows of the table; a part starts at row `start`).
pub enum Customers<'a> {
    Lookup(&'a CustomerIndex<'a>),
    Known { rows: &'a OrderRows, start: usize },
}

/// Reads the rows of `table` that the segments need, batch by batch, calling `f` with each batch's
/// columns (in the catalog's order; columns outside `part` are empty arrays), its properties,
/// its customer indices (negative for unknown customers) and, when known, its local days.
pub fn for_each_batch(
    set: &SegmentSet,
    out: &Path,
    table: TableKind,
    customers: &Customers,
    part: &Part,
    mut f: impl FnMut(&[ArrayRef], Option<&StringArray>, &[i32], Option<&[i32]>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let schema = match table {
        TableKind::Orders => set.catalog.orders.as_ref(),
        TableKind::Events => set.catalog.events.as_ref(),
    };
    let Some(schema) = schema else { return Ok(()) };
    let path = out.join("clean").join(format!("{}.parquet", table.name()));
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(65_536);
    let file_schema = builder.schema().clone();
    if let Some((columns, properties)) = &part.columns {
        let mut wanted: Vec<&str> = columns
            .iter()
            .map(|&c| schema.fields[c].name.as_str())
            .collect();
        if let Customers::Lookup(_) = customers {
            wanted.push("customer_id");
        }
        if *properties {
            wanted.push("properties");
        }
        let roots = file_schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| wanted.contains(&f.name().as_str()))
            .map(|(i, _)| i);
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    if let Some(groups) = &part.row_groups {
        builder = builder.with_row_groups(groups.clone());
    }
    let mut next = 0;
    for batch in builder.build()? {
        let batch = batch?;
        let columns: Vec<ArrayRef> = schema
            .fields
            .iter()
            .map(|f| match batch.column_by_name(&f.name) {
                Some(c) => c.clone(),
                None => {
                    let ty = file_schema
                        .field_with_name(&f.name)
                        .map_or(DataType::Null, |f| f.data_type().clone());
                    arrow_array::new_empty_array(&ty)
                }
            })
            .collect();
        let properties = batch
            .column_by_name("properties")
            .map(|p| arrow_cast::cast(p, &DataType::Utf8))
            .transpose()?;
        let n = batch.num_rows();
        match customers {
            Customers::Known { rows, start } => {
                let at = *start + next;
                if at + n > rows.customer.len() {
                    return Err(Failure::Other(anyhow!(
                        "{} has more rows than the feature table read",
                        path.display()
                    )));
                }
                f(
                    &columns,
                    properties.as_ref().map(|p| p.as_string::<i32>()),
                    &rows.customer[at..at + n],
                    Some(&rows.day[at..at + n]),
                )?;
            }
            Customers::Lookup(index) => {
                let ids = arrow_cast::cast(
                    batch
                        .column_by_name("customer_id")
                        .ok_or_else(|| anyhow!("{} has no customer_id", path.display()))?,
                    &DataType::Utf8,
                )?;
                let idx = lookup(index, ids.as_string::<i32>());
                f(
                    &columns,
                    properties.as_ref().map(|p| p.as_string::<i32>()),
                    &idx,
                    None,
                )?;
            }
        }
        next += n;
    }
    Ok(())
}

/// The customer index of every id (-1 when unknown).
fn lookup(index: &CustomerIndex, ids: &StringArray) -> Vec<i32> {
    // Orders often come grouped by customer: a repeated id reuses the previous row's answer.
    let mut last: Option<(&str, i32)> = None;
    ids.iter()
        .map(|id| match (id, last) {
            (None, _) => -1,
            (Some(id), Some((prev, i))) if prev == id => i,
            (Some(id), _) => {
                let i = index.get(id).copied().unwrap_or(-1);
                last = Some((id, i));
                i
            }
        })
        .collect()
}

/// Position of every customer id in the customer table.
pub fn customer_index(customers: &Table) -> Result<CustomerIndex<'_>, Failure> {
    let ids = customers
        .column("customer_id")
        .ok_or_else(|| anyhow!("customer table has no customer_id"))?
        .as_string::<i32>();
    let mut index = CustomerIndex::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            index.insert(id, i as i32);
        }
    }
    Ok(index)
}

/// A pass over a table is split into this many parts of consecutive row groups, read at the same
/// time and merged in order; a fixed number, so results never depend on the number of threads.
const PARTS: usize = 2;

/// Consecutive row groups of a table, and the table's row at which they start.
type RowGroups = (Vec<usize>, usize);

/// The row groups of a clean table in [`PARTS`] runs of consecutive groups, each with its first
/// row; and the table's row count.
fn parts(out: &Path, table: TableKind) -> Result<(Vec<RowGroups>, usize), Failure> {
    let path = out.join("clean").join(format!("{}.parquet", table.name()));
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let groups = builder.metadata().row_groups();
    let mut starts = Vec::with_capacity(groups.len());
    let mut rows = 0usize;
    for g in groups {
        starts.push(rows);
        rows += g.num_rows() as usize;
    }
    let per = groups.len().div_ceil(PARTS).max(1);
    let parts = (0..groups.len())
        .collect::<Vec<_>>()
        .chunks(per)
        .map(|c| (c.to_vec(), starts[c[0]]))
        .collect();
    Ok((parts, rows))
}

/// Every leaf for every customer, in one pass over orders and one over events (each pass in
/// [`PARTS`] parts read in parallel). `orders`, when given, are the order rows the feature
/// table resolved, so customers need not be looked up again.
pub fn leaf_columns(
    set: &SegmentSet,
    out: &Path,
    customers: &Table,
    orders: Option<&OrderRows>,
    cx: Context,
) -> Result<Vec<ArrayRef>, Failure> {
    use rayon::prelude::*;
    // Built only for a pass whose customers are not known from the feature table already.
    let mut index = None;
    let n = customers.len();
    let mut state = LeafState::empty(set, n);
    for table in [TableKind::Orders, TableKind::Events] {
        if !state.needs(table) {
            continue;
        }
        let (parts, rows) = parts(out, table)?;
        let known = orders.filter(|o| table == TableKind::Orders && o.customer.len() == rows);
        if known.is_none() && index.is_none() {
            index = Some(customer_index(customers)?);
        }
        let index = &index;
        let columns = Some(state.columns(table, known.is_some()));
        let states = parts
            .into_par_iter()
            .map(|(groups, start)| {
                let mut part = LeafState::for_table(set, n, table);
                let read = Part {
                    row_groups: Some(groups),
                    columns: columns.clone(),
                };
                let who = match known {
                    Some(rows) => Customers::Known { rows, start },
                    None => Customers::Lookup(index.as_ref().expect("built for this pass")),
                };
                for_each_batch(set, out, table, &who, &read, |cols, props, idx, days| {
                    match days {
                        Some(d) => part.add_batch_on_days(table, cols, props, idx, d, cx),
                        None => part.add_batch(table, cols, props, idx, cx),
                    }
                    .map_err(|e| Failure::Other(e.into()))
                })?;
                Ok(part)
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        for part in states {
            state.merge(part);
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

/// Customers in both of each pair of segments (the diagonal: each segment's members).
pub fn overlap(members: &[BooleanArray]) -> Vec<Vec<u64>> {
    members
        .iter()
        .map(|a| {
            members
                .iter()
                .map(|b| (a.values() & b.values()).count_set_bits() as u64)
                .collect()
        })
        .collect()
}

/// For one group, the index of each customer's first matching segment, in the group's order.
pub fn first_match(set: &SegmentSet, group: usize, members: &[BooleanArray]) -> Vec<Option<u32>> {
    let n = members.first().map_or(0, BooleanArray::len);
    let mut which = vec![None; n];
    let mut free = arrow_buffer::BooleanBuffer::new_set(n);
    for &s in &set.groups[group].members {
        let hit = &free & members[s].values();
        for r in hit.set_indices() {
            which[r] = Some(s as u32);
        }
        free = &free & &!&hit;
    }
    which
}

/// Segment names as an array, for `take`.
fn segment_names(set: &SegmentSet) -> StringArray {
    set.segments
        .iter()
        .map(|s| Some(s.def.name.as_str()))
        .collect()
}

/// `assignments.parquet`: `customer_id`, `segments` (names, in definition order), one column
/// per group holding its first matching segment, and `cluster` when the run clusters.
pub fn write_assignments(
    set: &SegmentSet,
    customers: &Table,
    members: &[BooleanArray],
    path: &Path,
) -> Result<(), Failure> {
    write_parquet(&assignments_batch(set, customers, members)?, path)
}

/// A row per customer: `customer_id`, the list of their segments, one column per group (the
/// first matching segment) and the cluster when the run has one.
pub fn assignments_batch(
    set: &SegmentSet,
    customers: &Table,
    members: &[BooleanArray],
) -> Result<RecordBatch, Failure> {
    let n = customers.len();
    let ids = customers.column("customer_id").expect("checked").clone();
    let names = segment_names(set);
    // The list of a customer's segments, in segment order: first the lengths, then the values.
    let mut lengths = vec![0usize; n];
    for m in members {
        for r in m.values().set_indices() {
            lengths[r] += 1;
        }
    }
    let offsets = arrow_buffer::OffsetBuffer::<i32>::from_lengths(lengths);
    let mut next: Vec<usize> = offsets[..n].iter().map(|&o| o as usize).collect();
    let mut values = vec![0u32; offsets[n] as usize];
    for (s, m) in members.iter().enumerate() {
        for r in m.values().set_indices() {
            values[next[r]] = s as u32;
            next[r] += 1;
        }
    }
    let values = arrow_select::take::take(&names, &UInt32Array::from(values), None)?;
    let item = Arc::new(ArrowField::new("item", DataType::Utf8, true));
    let list = ListArray::try_new(item.clone(), offsets, values, None)?;
    let mut fields = vec![
        ArrowField::new("customer_id", DataType::Utf8, false),
        ArrowField::new("segments", DataType::List(item), false),
    ];
    let mut columns: Vec<ArrayRef> = vec![ids, Arc::new(list)];
    for (g, group) in set.groups.iter().enumerate() {
        let which = UInt32Array::from(first_match(set, g, members));
        fields.push(ArrowField::new(&group.def.name, DataType::Utf8, true));
        columns.push(arrow_select::take::take(&names, &which, None)?);
    }
    // Model outputs of the customer row.
    if let Some(cluster) = customers.column("cluster") {
        fields.push(ArrowField::new(
            "cluster",
            cluster.data_type().clone(),
            true,
        ));
        columns.push(cluster.clone());
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Rows per row group of `assignments.parquet`.
const ROW_GROUP: usize = 262_144;

/// Writes one batch as Parquet, its row groups encoded in parallel (a fixed split, so the file
/// does not depend on the number of threads). Snappy pages, as the clean tables; customer ids
/// are all distinct, so they get no dictionary.
fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), Failure> {
    use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
    use rayon::prelude::*;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_column_dictionary_enabled(
            parquet::schema::types::ColumnPath::from("customer_id"),
            false,
        )
        .build();
    let (mut writer, factory) =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props))?
            .into_serialized_writer()?;
    let schema = batch.schema();
    let groups: Vec<(usize, usize)> = (0..batch.num_rows())
        .step_by(ROW_GROUP)
        .map(|at| (at, ROW_GROUP.min(batch.num_rows() - at)))
        .collect();
    let encoded = groups
        .par_iter()
        .enumerate()
        .map(|(g, &(at, len))| {
            let part = batch.slice(at, len);
            let mut writers = factory.create_column_writers(g)?.into_iter();
            let mut chunks: Vec<ArrowColumnChunk> = Vec::new();
            for (column, field) in part.columns().iter().zip(schema.fields()) {
                for leaf in compute_leaves(field, column)? {
                    let mut w = writers.next().expect("a writer per leaf column");
                    w.write(&leaf)?;
                    chunks.push(w.close()?);
                }
            }
            Ok(chunks)
        })
        .collect::<Result<Vec<_>, parquet::errors::ParquetError>>()?;
    for chunks in encoded {
        let mut group = writer.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
    }
    writer.close()?;
    Ok(())
}

/// A run's segments checked against its tables, with the customer row they are evaluated on.
pub struct Prepared {
    /// Seconds spent building it.
    pub seconds: f64,
    pub set: SegmentSet,
    pub customers: Table,
    pub cx: Context,
    /// The run's output folder.
    pub dir: std::path::PathBuf,
    /// The order rows the feature table resolved, when this process built it.
    pub orders: Option<OrderRows>,
}

/// Every segment evaluated over a run's customers.
pub struct Evaluated {
    pub run: Prepared,
    pub members: Vec<BooleanArray>,
    /// Seconds of each step: `prepare` (the customer row, checking the rules), `leaves` (the
    /// pass over orders and events), `rules` (every segment over every customer).
    pub steps: Vec<(&'static str, f64)>,
}

/// Builds the customer row and compiles the config's segments against the run's tables.
pub fn prepare(
    config: &Config,
    out: &Path,
    as_of: i32,
    features: &RecordBatch,
) -> Result<Prepared, Failure> {
    let started = std::time::Instant::now();
    let customers = customer_table(config, out, features)?;
    prepare_table(config, out, as_of, customers, started)
}

/// [`prepare`] on a customer row already built (`started` is when its building began).
pub fn prepare_table(
    config: &Config,
    out: &Path,
    as_of: i32,
    customers: Table,
    started: std::time::Instant,
) -> Result<Prepared, Failure> {
    let set = compile(config, out, &customers.schema)?;
    let cx = Context {
        as_of,
        time_zone: config.time_zone,
    };
    Ok(Prepared {
        seconds: started.elapsed().as_secs_f64(),
        set,
        customers,
        cx,
        dir: out.to_path_buf(),
        orders: None,
    })
}

impl Prepared {
    /// Evaluates every segment in batch: one pass over orders and events for the leaves.
    pub fn evaluate(self) -> Result<Evaluated, Failure> {
        let started = std::time::Instant::now();
        let leaves = leaf_columns(
            &self.set,
            &self.dir,
            &self.customers,
            self.orders.as_ref(),
            self.cx,
        )?;
        let rules = std::time::Instant::now();
        let members =
            tessera_rules::batch::evaluate(&self.set, &self.customers.columns, &leaves, self.cx)?;
        let steps = vec![
            ("prepare", self.seconds),
            ("leaves", (rules - started).as_secs_f64()),
            ("rules", rules.elapsed().as_secs_f64()),
        ];
        Ok(Evaluated {
            run: self,
            members,
            steps,
        })
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
            .enumerate()
            .map(|(gi, g)| {
                let mut counts = vec![0u64; set.segments.len()];
                let mut none = 0u64;
                for w in first_match(set, gi, &self.members) {
                    match w {
                        Some(s) => counts[s as usize] += 1,
                        None => none += 1,
                    }
                }
                let sizes: serde_json::Map<_, _> = g
                    .members
                    .iter()
                    .map(|&s| (set.segments[s].def.name.clone(), counts[s].into()))
                    .collect();
                (
                    g.def.name.clone(),
                    serde_json::json!({ "version": g.version, "sizes": sizes, "none": none }),
                )
            })
            .collect();
        (segments, groups)
    }
}
