//! Ingest of one source: every row read ends up accepted, rejected, counted as a duplicate, or
//! counted as suppressed (its customer asked to be forgotten).

use crate::batch::{BatchBuilder, clean_schema};
use crate::cell::Cell;
use crate::convert::{FieldConv, RowScratch, Typed};
use crate::error::IngestError;
use crate::index::{Entry, IdIndex, IdKey, KeyHasher, id_key};
use crate::reason::Reason;
use crate::rejects::{Reject, RejectWriter};
use crate::report::SourceReport;
use crate::sink::StagedTable;
use hashbrown::HashMap;
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tessera_core::config::{ConflictPolicy, Format, SourceConfig, UnknownCustomerPolicy};
use tessera_core::schema::Role;
use tessera_core::suppress::Suppression;
use xxhash_rust::xxh3::xxh3_64;

/// What a reader knows about the record in hand, asked for only when the row is rejected.
pub trait RecordContext {
    /// The row as it stands in the file.
    fn raw(&self) -> String;
    /// 1-based physical (line, column) where field `field` starts, or the row itself when `None`.
    fn position(&self, field: Option<usize>) -> (u64, u64);
}

/// The known customers: the customers source's id index, plus customers made up on the way
/// (`unknown_customers = "create"`). Shared read-only by the sources read after customers, which
/// may run at the same time; only making up a customer takes the lock.
pub struct Customers {
    pub index: IdIndex,
    /// Staged customer rows withdrawn after staging (sorted), absent from the clean table.
    drops: Vec<u64>,
    created: Mutex<HashMap<IdKey, String>>,
}

impl Customers {
    pub fn new(index: IdIndex, drops: Vec<u64>) -> Self {
        Self {
            index,
            drops,
            created: Mutex::new(HashMap::new()),
        }
    }

    /// The row of an accepted customer in the clean customers table.
    fn row(&self, key: IdKey) -> Option<u32> {
        let e = self.index.get(&key).filter(|e| e.is_live())?;
        let dropped_before = self.drops.partition_point(|&d| d < e.ordinal) as u64;
        Some((e.ordinal - dropped_before) as u32)
    }

    fn create(&self, key: IdKey, id: &str) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.entry(key).or_insert_with(|| id.to_string());
    }

    /// The made-up customers' ids, sorted so the output does not depend on thread timing.
    pub fn created(self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .created
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_values()
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// The index keys of a row, hashed once by the reader that prefetches them ([`SourceRun::keys`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RowKeys {
    id: Option<IdKey>,
    customer: Option<IdKey>,
}

/// The customer row of an order whose customer was made up (`unknown_customers = "create"`):
/// such customers are appended to the clean table once every source is read.
pub const MADE_UP: u32 = u32::MAX;

/// A row withdrawn after it was staged; its raw text is fetched from the file afterwards.
#[derive(Debug, Clone)]
pub struct Withdrawn {
    pub file: usize,
    pub line: u64,
    pub column: String,
    pub message: String,
}

pub struct SourceRun<'a> {
    pub config: &'a SourceConfig,
    pub report: SourceReport,
    pub withdrawn: Vec<Withdrawn>,
    pub drops: Vec<u64>,
    /// Latest event time seen among accepted rows (µs UTC).
    pub latest: Option<i64>,
    pub index: IdIndex,
    file_names: Vec<String>,
    file: usize,
    convs: Vec<FieldConv>,
    columns: Vec<String>,
    id: usize,
    customer: Option<usize>,
    amount: Option<usize>,
    time: Option<usize>,
    scratch: RowScratch,
    builder: BatchBuilder,
    table: Option<StagedTable>,
    ordinal: u64,
    /// Sign of each staged amount, to count refunds and zero amounts among the rows kept.
    signs: Vec<i8>,
    /// For orders: the clean customers row of each staged order's customer ([`MADE_UP`] for a
    /// customer made up on the way), handed to the feature table so that it need not look the
    /// customers up again.
    pub customer_rows: Option<Vec<u32>>,
    /// The customer row of the row being checked.
    customer_row: u32,
    /// Bytes of the row's values, reused for `content_hash`.
    content_key: Vec<u8>,
    strict: bool,
    /// The suppression list, only when it names someone: `None` costs nothing per row.
    suppress: Option<Suppressed>,
}

/// What a source needs to drop the rows of suppressed customers.
struct Suppressed {
    list: Arc<Suppression>,
    /// The field saying whose row it is: `customer_id` for customers, the customer reference for
    /// the other sources.
    owner: usize,
    /// The owner field's value, converted as the field converts it (so a Parquet integer id is
    /// checked as the text it is stored as).
    scratch: RowScratch,
    /// Whether each customer reference not among the known customers is suppressed, so that the
    /// SHA-256 is computed once per distinct id and not for every order of a customer.
    seen: HashMap<IdKey, bool, BuildHasherDefault<KeyHasher>>,
}

impl<'a> SourceRun<'a> {
    pub fn new(
        config: &'a SourceConfig,
        out: PathBuf,
        batch_rows: usize,
        strict: bool,
        suppress: Option<Arc<Suppression>>,
        index: IdIndex,
    ) -> Result<Self, IngestError> {
        let schema = clean_schema(config);
        let convs: Vec<FieldConv> = config
            .fields
            .iter()
            .map(|f| FieldConv::new(f, config))
            .collect();
        let role = |r: Role| convs.iter().position(|c| c.role == Some(r));
        let owner = if config.kind.references_customer() {
            role(Role::CustomerRef)
        } else {
            role(Role::Id)
        };
        let suppress = suppress
            .filter(|list| !list.is_empty())
            .zip(owner)
            .map(|(list, owner)| Suppressed {
                list,
                owner,
                scratch: RowScratch::default(),
                seen: HashMap::default(),
            });
        let unknown = config
            .kind
            .references_customer()
            .then_some(config.unknown_customers);
        Ok(Self {
            config,
            report: SourceReport::new(config.on_conflict, unknown),
            withdrawn: Vec::new(),
            drops: Vec::new(),
            latest: None,
            index,
            file_names: Vec::new(),
            file: 0,
            id: role(Role::Id).expect("every source has an id field"),
            customer: role(Role::CustomerRef),
            amount: role(Role::Amount),
            time: role(Role::EventTime),
            columns: config.fields.iter().map(|f| f.column.to_string()).collect(),
            convs,
            scratch: RowScratch::default(),
            builder: BatchBuilder::new(schema.clone(), batch_rows),
            table: Some(StagedTable::create(out, schema)?),
            ordinal: 0,
            signs: Vec::new(),
            customer_rows: (config.kind == tessera_core::schema::SourceKind::Orders).then(Vec::new),
            customer_row: MADE_UP,
            content_key: Vec::new(),
            strict,
            suppress,
        })
    }

    /// Starts reading a file; `name` is how messages and `rejects.csv` show it.
    pub fn start_file(&mut self, name: String, columns: Vec<String>) {
        self.file = self.file_names.len();
        self.file_names.push(name.clone());
        self.report.files.push(name);
        self.columns = columns;
    }

    /// Makes room in the id index for about `rows` more rows, so that it does not grow by doubling
    /// (which holds the old and the new table at once) while a large file is read.
    pub fn expect_rows(&mut self, rows: u64) {
        let rows = usize::try_from(rows).unwrap_or(usize::MAX);
        self.index.reserve(rows);
    }

    pub fn file_name(&self, file: usize) -> &str {
        &self.file_names[file]
    }

    /// The field whose value says whose row it is, when a suppression list is in force.
    fn owner_field(&self) -> Option<usize> {
        self.suppress.as_ref().map(|s| s.owner)
    }

    /// A row that is broken as a whole (ragged, bad quoting, bad JSON, invalid UTF-8).
    ///
    /// Its fields cannot be told apart for sure, so with a suppression list in force it is counted
    /// as suppressed, not written to `rejects.csv`, when any piece of its raw text names a
    /// suppressed customer (see [`Self::mentions_suppressed`]).
    pub fn broken(
        &mut self,
        line: u64,
        reason: Reason,
        field: Option<usize>,
        message: String,
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
    ) -> Result<(), IngestError> {
        self.report.read += 1;
        if self.suppress.is_some() && self.mentions_suppressed(&ctx.raw()) {
            self.report.suppressed += 1;
            return Ok(());
        }
        self.reject(line, reason, field, message, ctx, rejects)
    }

    /// Whether a piece of `raw` is the id of a suppressed customer. The pieces are the text
    /// between quotes, and the text between quotes, delimiters (CSV) or JSON punctuation and
    /// line ends: a whole field or JSON string wherever it stands, even in a ragged row whose
    /// columns are shifted. Only broken rows are looked at so, which are few.
    fn mentions_suppressed(&self, raw: &str) -> bool {
        let Some(s) = &self.suppress else {
            return false;
        };
        let csv = &self.config.csv;
        let (quote, seps): (char, &[char]) = match self.config.format {
            Format::Csv => (csv.quote, &[csv.delimiter, '\n', '\r']),
            _ => ('"', &[',', ':', '{', '}', '[', ']', ' ', '\t', '\n', '\r']),
        };
        raw.split(quote)
            .chain(raw.split(|c| c == quote || seps.contains(&c)))
            .any(|piece| !piece.is_empty() && s.list.contains(piece))
    }

    /// Whether the row whose owner field holds `cell` belongs to a suppressed customer.
    fn is_suppressed(&mut self, cell: Cell<'_>, customers: Option<&Customers>) -> bool {
        let Some(s) = &mut self.suppress else {
            return false;
        };
        s.scratch.clear();
        // A value the field refuses is no id (an empty one, say): the row is rejected for it.
        if self.convs[s.owner].convert(cell, &mut s.scratch).is_err() {
            return false;
        }
        let Some(id) = s.scratch.values.first().and_then(|v| s.scratch.str(*v)) else {
            return false;
        };
        if !self.config.kind.references_customer() {
            // Customer ids are distinct: remembering them would cost memory and save nothing.
            return s.list.contains(id);
        }
        let key = id_key(id);
        // Every id in the customers index was checked when its row was read, and is not
        // suppressed (a suppressed customer's rows never reach the index).
        if customers.is_some_and(|c| c.index.contains_key(&key)) {
            return false;
        }
        let list = &s.list;
        *s.seen.entry(key).or_insert_with(|| list.contains(id))
    }

    fn reject(
        &mut self,
        line: u64,
        reason: Reason,
        field: Option<usize>,
        message: String,
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
    ) -> Result<(), IngestError> {
        let file = self.file_names[self.file].clone();
        if self.strict {
            let (line, column) = ctx.position(field);
            return Err(IngestError::Strict {
                file,
                line,
                column,
                reason: reason.code().into(),
                message,
            });
        }
        self.count_reject(reason);
        let column = field.map(|f| self.columns[f].clone()).unwrap_or_default();
        rejects.write(
            self.config.kind.name(),
            &file,
            &Reject {
                line,
                column,
                reason,
                message,
                raw: ctx.raw(),
            },
        )
    }

    fn count_reject(&mut self, reason: Reason) {
        self.report.rejected += 1;
        *self.report.rejects_by_reason.entry(reason).or_default() += 1;
    }

    /// The fields whose values the index lookups of a row use: the row's id and its customer.
    pub fn key_fields(&self) -> (usize, Option<usize>) {
        (self.id, self.customer)
    }

    /// The index keys of a row whose id and customer cells are these, for [`Self::prefetch`]
    /// and [`Self::row_keyed`]. Only plain text is keyed: a text id is stored as it is read, so
    /// its key is the stored value's; any other cell is converted first and keyed then.
    pub fn keys(&self, id: Cell<'_>, customer: Option<Cell<'_>>) -> RowKeys {
        let key = |c: Option<Cell<'_>>| match c {
            Some(Cell::Str(s)) => Some(id_key(s)),
            _ => None,
        };
        RowKeys {
            id: key(Some(id)),
            customer: key(customer),
        }
    }

    /// Brings the index slots a row with these keys will probe into cache. Readers call it a
    /// few rows ahead of [`Self::row_keyed`], so the memory accesses of consecutive rows overlap.
    pub fn prefetch(&self, keys: RowKeys, customers: Option<&Customers>) {
        if let Some(k) = keys.id {
            self.index.prefetch(k);
        }
        if let (Some(k), Some(c)) = (keys.customer, customers) {
            c.index.prefetch(k);
        }
    }

    /// A row whose fields were read: `cells` holds one cell per field, in config order.
    pub fn row(
        &mut self,
        line: u64,
        cells: &[Cell<'_>],
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
        customers: Option<&Customers>,
    ) -> Result<(), IngestError> {
        self.row_keyed(line, cells, ctx, rejects, customers, RowKeys::default())
    }

    /// [`Self::row`] with the keys [`Self::keys`] gave for its cells, so they are not hashed
    /// again.
    pub fn row_keyed(
        &mut self,
        line: u64,
        cells: &[Cell<'_>],
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
        customers: Option<&Customers>,
        keys: RowKeys,
    ) -> Result<(), IngestError> {
        self.report.read += 1;
        // Before any other check: a suppressed customer's row must not reach `rejects.csv`.
        if let Some(owner) = self.owner_field()
            && self.is_suppressed(cells[owner], customers)
        {
            self.report.suppressed += 1;
            return Ok(());
        }
        self.scratch.clear();
        for (k, cell) in cells.iter().enumerate() {
            if let Err(e) = self.convs[k].convert(*cell, &mut self.scratch) {
                return self.reject(line, e.reason, Some(k), e.message, ctx, rejects);
            }
        }
        if let (Some(c), Some(customers)) = (self.customer, customers) {
            let id = self.scratch.str(self.scratch.values[c]).unwrap_or_default();
            let key = keys.customer.unwrap_or_else(|| id_key(id));
            self.customer_row = customers.row(key).unwrap_or(MADE_UP);
            if self.customer_row == MADE_UP {
                if self.config.unknown_customers == UnknownCustomerPolicy::Reject {
                    let message = format!("customer_id `{id}` is not among the accepted customers");
                    return self.reject(
                        line,
                        Reason::UnknownCustomer,
                        Some(c),
                        message,
                        ctx,
                        rejects,
                    );
                }
                customers.create(key, id);
            }
        }
        let id_value = self.scratch.values[self.id];
        let key = keys
            .id
            .unwrap_or_else(|| id_key(self.scratch.str(id_value).unwrap_or_default()));
        let content = self.content_hash();
        let entry = Entry::new(content, self.ordinal, self.file, line);
        // One probe of the index for the common case, a new id.
        let Err(old) = self.index.insert_new(key, entry) else {
            return self.accept();
        };
        if old.is_live() && old.content == content {
            self.report.duplicates += 1;
            return Ok(());
        }
        self.conflict(key, old, entry, line, ctx, rejects)
    }

    /// Hash of the row's checked values, telling exact copies from conflicting rows.
    fn content_hash(&mut self) -> u64 {
        let key = &mut self.content_key;
        key.clear();
        for v in &self.scratch.values {
            match *v {
                Typed::Null => key.push(0),
                Typed::Str(..) => {
                    let s = self.scratch.str(*v).unwrap_or_default();
                    key.push(1);
                    key.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    key.extend_from_slice(s.as_bytes());
                }
                Typed::I64(x) => {
                    key.push(2);
                    key.extend_from_slice(&x.to_le_bytes());
                }
                Typed::F64(x) => {
                    key.push(3);
                    key.extend_from_slice(&x.to_bits().to_le_bytes());
                }
                Typed::Bool(x) => key.extend_from_slice(&[4, u8::from(x)]),
                Typed::I32(x) => {
                    key.push(5);
                    key.extend_from_slice(&x.to_le_bytes());
                }
                Typed::List(a, b) => {
                    key.push(6);
                    key.extend_from_slice(&(b - a).to_le_bytes());
                    for item in self.scratch.list(*v) {
                        key.extend_from_slice(&(item.len() as u32).to_le_bytes());
                        key.extend_from_slice(item.as_bytes());
                    }
                }
            }
        }
        xxh3_64(key)
    }

    fn conflict(
        &mut self,
        key: IdKey,
        old: Entry,
        new: Entry,
        line: u64,
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
    ) -> Result<(), IngestError> {
        let id_name = self.config.fields[self.id].name.clone();
        let id = self
            .scratch
            .str(self.scratch.values[self.id])
            .unwrap_or_default()
            .to_string();
        let here = format!("{}:{}", self.file_names[self.file], line);
        let there = format!("{}:{}", self.file_names[old.file()], old.line());
        if !old.is_live() {
            let message = format!(
                "{id_name} `{id}` is already rejected for conflicting rows (first at {there})"
            );
            return self.reject(
                line,
                Reason::ConflictingDuplicate,
                Some(self.id),
                message,
                ctx,
                rejects,
            );
        }
        let policy = self.config.on_conflict;
        if self.strict {
            let message = format!("{id_name} `{id}` is also at {there} with different content");
            return self.reject(
                line,
                Reason::ConflictingDuplicate,
                Some(self.id),
                message,
                ctx,
                rejects,
            );
        }
        let (reject_new, withdraw_old) = match policy {
            ConflictPolicy::First => (true, false),
            ConflictPolicy::Last => (false, true),
            ConflictPolicy::Reject => (true, true),
        };
        if withdraw_old {
            let message = match policy {
                ConflictPolicy::Last => format!(
                    "{id_name} `{id}` is also at {here} with different content; kept that later row (on_conflict = last)"
                ),
                _ => format!(
                    "{id_name} `{id}` is also at {here} with different content; both rejected (on_conflict = reject)"
                ),
            };
            self.withdraw(old, message);
        }
        if reject_new {
            let message = match policy {
                ConflictPolicy::First => format!(
                    "{id_name} `{id}` is also at {there} with different content; kept that first row (on_conflict = first)"
                ),
                _ => format!(
                    "{id_name} `{id}` is also at {there} with different content; both rejected (on_conflict = reject)"
                ),
            };
            if policy == ConflictPolicy::Reject {
                self.index.insert(
                    key,
                    Entry {
                        ordinal: Entry::CONFLICTED,
                        ..old
                    },
                );
            }
            return self.reject(
                line,
                Reason::ConflictingDuplicate,
                Some(self.id),
                message,
                ctx,
                rejects,
            );
        }
        self.index.insert(key, new);
        self.accept()
    }

    fn withdraw(&mut self, old: Entry, message: String) {
        self.drops.push(old.ordinal);
        self.report.accepted -= 1;
        self.count_reject(Reason::ConflictingDuplicate);
        let column = self.config.fields[self.id].column.to_string();
        self.withdrawn.push(Withdrawn {
            file: old.file(),
            line: old.line(),
            column,
            message,
        });
    }

    fn accept(&mut self) -> Result<(), IngestError> {
        let mut flags = [false; 1];
        if let Some(a) = self.amount {
            let sign = match self.scratch.values[a] {
                Typed::I64(amount) => amount.signum() as i8,
                _ => 1,
            };
            flags[0] = sign < 0;
            self.signs.push(sign);
        }
        if let Some(t) = self.time
            && let Typed::I64(ts) = self.scratch.values[t]
        {
            self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
        }
        if let Some(rows) = &mut self.customer_rows {
            rows.push(self.customer_row);
        }
        self.builder.push(&self.scratch, &flags);
        self.ordinal += 1;
        self.report.accepted += 1;
        if self.builder.is_full() {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish();
        self.table
            .as_mut()
            .expect("table open until finish")
            .write(batch)
    }

    /// Writes what is buffered and hands back the staged table for the final file.
    pub fn close(&mut self) -> Result<StagedTable, IngestError> {
        self.flush()?;
        self.drops.sort_unstable();
        // One pass over the staged rows: refunds and zero amounts counted among the rows kept,
        // and the customer rows of those kept moved up over the withdrawn ones.
        let mut drops = self.drops.iter().peekable();
        let mut kept = 0;
        for ordinal in 0..self.ordinal as usize {
            if drops.next_if(|&&d| d == ordinal as u64).is_some() {
                continue;
            }
            if let Some(rows) = &mut self.customer_rows {
                rows[kept] = rows[ordinal];
            }
            kept += 1;
            let Some(sign) = self.signs.get(ordinal) else {
                continue;
            };
            match sign {
                -1 => self.report.refunds += 1,
                0 => self.report.zero_amounts += 1,
                _ => {}
            }
        }
        if let Some(rows) = &mut self.customer_rows {
            rows.truncate(kept);
        }
        Ok(self.table.take().expect("closed once"))
    }
}
