//! The checks of a batch of typed rows (a Parquet record batch) done a column at a time.
//!
//! Each field converts its whole column: a text column whose values are stored as they are read
//! is kept as it is, without copying a value; any other column is converted value by value by
//! the field's own conversion, into a column of its stored type. A row that some field refuses
//! is then checked alone by [`Checker::check`], so its rejection (the first field that refuses
//! it, and why) is the one the row-by-row checks give. What comes out is what
//! [`Checker::check_rows`] gives for the same rows: the same verdicts, the same content hashes,
//! the same staged values.

use super::{Checked, CheckedBatch, Checker, Customers, MADE_UP, PREFETCH_AHEAD, RowKeys, Valid};
use super::{content, id_key};
use crate::batch::Col;
use crate::cell::Cell;
use crate::convert::Typed;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray, new_null_array,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use tessera_core::schema::FieldType;

/// A stored column, downcast once, for hashing its values row by row.
enum Stored<'a> {
    Text(&'a StringArray),
    Int(&'a PrimitiveArray<Int64Type>),
    Micros(&'a PrimitiveArray<TimestampMicrosecondType>),
    Float(&'a PrimitiveArray<Float64Type>),
    Bool(&'a BooleanArray),
    Days(&'a PrimitiveArray<Date32Type>),
    List(&'a arrow_array::ListArray),
}

impl<'a> Stored<'a> {
    fn new(a: &'a ArrayRef) -> Self {
        match a.data_type() {
            DataType::Utf8 => Stored::Text(a.as_string::<i32>()),
            DataType::Int64 => Stored::Int(a.as_primitive()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => Stored::Micros(a.as_primitive()),
            DataType::Float64 => Stored::Float(a.as_primitive()),
            DataType::Boolean => Stored::Bool(a.as_boolean()),
            DataType::Date32 => Stored::Days(a.as_primitive()),
            DataType::List(_) => Stored::List(a.as_list::<i32>()),
            other => unreachable!("no stored field is of type {other}"),
        }
    }

    /// The value at `i` of a column stored as a 64-bit integer, when it has one.
    fn int(&self, i: usize) -> Option<i64> {
        match self {
            Stored::Int(a) => a.is_valid(i).then(|| a.value(i)),
            Stored::Micros(a) => a.is_valid(i).then(|| a.value(i)),
            _ => None,
        }
    }

    /// Folds this column's values into the content hash of each row ([`Checker::content_hash`]);
    /// `bytes` is scratch space.
    fn fold_into(&self, hashes: &mut [u64], bytes: &mut Vec<u8>) {
        match self {
            Stored::Text(a) => fold(hashes, a.nulls(), |i| content::text(a.value(i))),
            Stored::Int(a) => fold(hashes, a.nulls(), |i| content::int(a.value(i))),
            Stored::Micros(a) => fold(hashes, a.nulls(), |i| content::int(a.value(i))),
            Stored::Float(a) => fold(hashes, a.nulls(), |i| content::float(a.value(i))),
            Stored::Bool(a) => fold(hashes, a.nulls(), |i| content::boolean(a.value(i))),
            Stored::Days(a) => fold(hashes, a.nulls(), |i| content::days(a.value(i))),
            Stored::List(a) => {
                let items = a.values().as_string::<i32>();
                let offsets = a.value_offsets();
                let null = content::null();
                for (i, h) in hashes.iter_mut().enumerate() {
                    let value = if a.is_valid(i) {
                        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                        let each = (start..end).map(|j| items.value(j));
                        content::list(bytes, (end - start) as u32, each)
                    } else {
                        null
                    };
                    *h = content::fold(*h, value);
                }
            }
        }
    }
}

/// Folds `value(i)` (or the hash of a null, where `nulls` says so) into `hashes[i]`.
#[inline]
fn fold(hashes: &mut [u64], nulls: Option<&NullBuffer>, value: impl Fn(usize) -> u64) {
    match nulls {
        None => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = content::fold(*h, value(i));
            }
        }
        Some(nulls) => {
            let null = content::null();
            for (i, h) in hashes.iter_mut().enumerate() {
                let v = if nulls.is_valid(i) { value(i) } else { null };
                *h = content::fold(*h, v);
            }
        }
    }
}

impl Checker<'_> {
    /// Checks the rows of a batch a column at a time: `arrays` holds the column of each field
    /// (`None` for a field the file lacks), `cell(field, row)` reads one value of it, and `keys`
    /// what [`Checker::keys`] gave for each row. `None` when the batch must be checked row by
    /// row: with a suppression list in force (each row's owner is looked up first), or when the
    /// ids are not text.
    pub fn check_columns<'c>(
        &mut self,
        arrays: &[Option<&'c ArrayRef>],
        cell: impl Fn(usize, usize) -> Cell<'c>,
        keys: &[RowKeys],
        customers: Option<&Customers>,
    ) -> Option<CheckedBatch> {
        if self.suppress.is_some() {
            return None;
        }
        let rows = keys.len();
        let schema = self.builder.schema().clone();
        let mut refused = vec![false; rows];
        let mut stored: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (k, conv) in self.convs.iter_mut().enumerate() {
            let text = match arrays[k] {
                Some(a) if conv.ty == FieldType::String && a.data_type() == &DataType::Utf8 => {
                    conv.text_column(a.as_string::<i32>(), &mut refused)
                }
                Some(a) => conv.plain_column(a, &mut refused),
                // A column the file lacks: every value is null, and converts alike.
                None => {
                    self.scratch.clear();
                    let null = || new_null_array(schema.field(k).data_type(), rows);
                    match conv.typed(Cell::Null, &mut self.scratch) {
                        Ok(Typed::Null) => Some(null()),
                        Err(_) => {
                            refused.fill(true);
                            Some(null())
                        }
                        // A default, the same in every row.
                        Ok(_) => None,
                    }
                }
            };
            let column = text.unwrap_or_else(|| {
                let mut col = Col::new(schema.field(k).data_type(), rows);
                for (row, refused) in refused.iter_mut().enumerate() {
                    self.scratch.clear();
                    match conv.typed(cell(k, row), &mut self.scratch) {
                        Ok(v) => col.push(v, &self.scratch),
                        Err(_) => {
                            *refused = true;
                            col.push(Typed::Null, &self.scratch);
                        }
                    }
                }
                col.finish()
            });
            stored.push(column);
        }
        let ids = stored[self.id].as_string_opt::<i32>()?.clone();
        let refs = match self.customer {
            Some(c) => Some(stored[c].as_string_opt::<i32>()?.clone()),
            None => None,
        };
        let hashed: Vec<Stored> = stored.iter().map(Stored::new).collect();
        let mut hashes = vec![content::START; rows];
        for column in &hashed {
            column.fold_into(&mut hashes, &mut self.content_key);
        }
        let mut verdicts = Vec::with_capacity(rows);
        let mut cells = Vec::with_capacity(arrays.len());
        for k in keys.iter().take(PREFETCH_AHEAD) {
            self.prefetch_customer(*k, customers);
        }
        for (row, row_keys) in keys.iter().enumerate() {
            if let Some(k) = keys.get(row + PREFETCH_AHEAD) {
                self.prefetch_customer(*k, customers);
            }
            if refused[row] {
                cells.clear();
                cells.extend((0..arrays.len()).map(|k| cell(k, row)));
                let checked = self.check(&cells, customers, *row_keys);
                if matches!(checked, Checked::Valid(_)) {
                    // A value refused in its column passed alone: the two conversions
                    // disagree, and the row-by-row one decides.
                    return None;
                }
                verdicts.push(checked);
                continue;
            }
            let mut customer_row = MADE_UP;
            if let (Some(refs), Some(customers)) = (&refs, customers) {
                match self.customer_row(refs.value(row), row_keys.customer, customers) {
                    Ok(r) => customer_row = r,
                    Err(rejected) => {
                        verdicts.push(rejected);
                        continue;
                    }
                }
            }
            let key = row_keys.id.unwrap_or_else(|| id_key(ids.value(row)));
            let amount = self.amount.map(|a| hashed[a].int(row));
            verdicts.push(Checked::Valid(Valid {
                key,
                content: hashes[row],
                customer_row,
                sign: amount.map(|a| a.map_or(1, |a| a.signum() as i8)),
                time: self.time.and_then(|t| hashed[t].int(row)),
            }));
        }
        if schema.fields().len() > stored.len() {
            // The refund flag of orders: a negative amount.
            let flags: BooleanArray = verdicts
                .iter()
                .map(|v| match v {
                    Checked::Valid(v) => Some(v.sign.is_some_and(|s| s < 0)),
                    _ => Some(false),
                })
                .collect();
            stored.push(std::sync::Arc::new(flags));
        }
        let valid = |v: &Checked| matches!(v, Checked::Valid(_));
        if !verdicts.iter().all(valid) {
            let keep: BooleanArray = verdicts.iter().map(|v| Some(valid(v))).collect();
            let keep = arrow_select::filter::FilterBuilder::new(&keep)
                .optimize()
                .build();
            for column in &mut stored {
                *column = keep.filter(column).ok()?;
            }
        }
        let valid = RecordBatch::try_new(schema, stored);
        debug_assert!(
            valid.is_ok(),
            "the stored columns follow the schema: {valid:?}"
        );
        let valid = valid.ok()?;
        Some(CheckedBatch {
            rows: verdicts,
            valid: (valid.num_rows() > 0).then_some(valid),
        })
    }
}
