//! Arrow schema of a clean table and the builder that fills it row by row.

use crate::convert::{RowScratch, Typed};
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;
use tessera_core::config::SourceConfig;
use tessera_core::schema::{FieldType, REFUND_FLAG, Role, SourceKind};

/// Arrow type of a stored field.
pub fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::String | FieldType::Json => DataType::Utf8,
        FieldType::Int | FieldType::Money => DataType::Int64,
        FieldType::Float => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        FieldType::Date => DataType::Date32,
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        FieldType::List => DataType::List(Arc::new(list_item())),
    }
}

/// The item of a `list` field's Arrow type: a string, never null (null items are left out).
fn list_item() -> Field {
    Field::new("item", DataType::Utf8, false)
}

/// The clean table's schema: canonical fields, then attributes, then flags.
pub fn clean_schema(source: &SourceConfig) -> SchemaRef {
    let mut fields: Vec<Field> = source
        .fields
        .iter()
        .map(|f| {
            let mut meta = HashMap::from([("tessera.type".to_string(), f.ty.name().to_string())]);
            if f.ty == FieldType::Money {
                meta.insert(
                    "tessera.money_decimals".into(),
                    source.money.decimals.to_string(),
                );
            }
            let always = matches!(f.role, Some(Role::Id | Role::CustomerRef));
            Field::new(&f.name, arrow_type(f.ty), !always).with_metadata(meta)
        })
        .collect();
    if source.kind == SourceKind::Orders {
        fields.push(Field::new(REFUND_FLAG, DataType::Boolean, false));
    }
    Arc::new(Schema::new(fields))
}

pub(crate) enum Col {
    Str(StringBuilder),
    I64(Int64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    List(ListBuilder<StringBuilder>),
}

impl Col {
    pub(crate) fn new(ty: &DataType, cap: usize) -> Self {
        match ty {
            DataType::Utf8 => Col::Str(StringBuilder::with_capacity(cap, cap * 8)),
            DataType::Int64 => Col::I64(Int64Builder::with_capacity(cap)),
            DataType::Float64 => Col::F64(Float64Builder::with_capacity(cap)),
            DataType::Boolean => Col::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::Date32 => Col::Date(Date32Builder::with_capacity(cap)),
            DataType::List(_) => Col::List(
                ListBuilder::with_capacity(StringBuilder::new(), cap).with_field(list_item()),
            ),
            _ => Col::Ts(TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC")),
        }
    }

    pub(crate) fn push(&mut self, v: Typed, row: &RowScratch) {
        match (self, v) {
            (Col::Str(b), Typed::Str(..)) => b.append_value(row.str(v).unwrap_or_default()),
            (Col::I64(b), Typed::I64(x)) => b.append_value(x),
            (Col::F64(b), Typed::F64(x)) => b.append_value(x),
            (Col::Bool(b), Typed::Bool(x)) => b.append_value(x),
            (Col::Date(b), Typed::I32(x)) => b.append_value(x),
            (Col::Ts(b), Typed::I64(x)) => b.append_value(x),
            (Col::List(b), Typed::List(..)) => {
                for item in row.list(v) {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (Col::Str(b), _) => b.append_null(),
            (Col::I64(b), _) => b.append_null(),
            (Col::F64(b), _) => b.append_null(),
            (Col::Bool(b), _) => b.append_null(),
            (Col::Date(b), _) => b.append_null(),
            (Col::Ts(b), _) => b.append_null(),
            (Col::List(b), _) => b.append(false),
        }
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Str(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Ts(b) => Arc::new(b.finish()),
            Col::List(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Col::Str(b) => b.len(),
            Col::I64(b) => b.len(),
            Col::F64(b) => b.len(),
            Col::Bool(b) => b.len(),
            Col::Date(b) => b.len(),
            Col::Ts(b) => b.len(),
            Col::List(b) => b.len(),
        }
    }
}

/// Accumulates checked rows into a record batch of at most `capacity` rows.
pub struct BatchBuilder {
    schema: SchemaRef,
    cols: Vec<Col>,
    capacity: usize,
}

impl BatchBuilder {
    pub fn new(schema: SchemaRef, capacity: usize) -> Self {
        let cols = schema
            .fields()
            .iter()
            .map(|f| Col::new(f.data_type(), capacity))
            .collect();
        Self {
            schema,
            cols,
            capacity,
        }
    }

    /// Appends one row: the values in field order, then any flags.
    pub fn push(&mut self, row: &RowScratch, flags: &[bool]) {
        let n = row.values.len();
        for (col, v) in self.cols.iter_mut().zip(&row.values) {
            col.push(*v, row);
        }
        for (col, f) in self.cols[n..].iter_mut().zip(flags) {
            col.push(Typed::Bool(*f), row);
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn len(&self) -> usize {
        self.cols.first().map_or(0, Col::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    pub fn finish(&mut self) -> RecordBatch {
        let arrays = self.cols.iter_mut().map(Col::finish).collect();
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders follow the schema")
    }
}
