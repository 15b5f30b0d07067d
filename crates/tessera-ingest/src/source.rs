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
use crate::sink::{Inserts, StagedTable};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use hashbrown::HashMap;
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tessera_core::config::{ConflictPolicy, Format, SourceConfig, UnknownCustomerPolicy};
use tessera_core::schema::Role;
use tessera_core::suppress::Suppression;

mod columnar;
mod deferred;

pub use deferred::Ids;
use deferred::Note;

/// The content hash of a row ([`Checker::content_hash`]): each checked value hashed alone, by its
/// kind, and the value hashes folded in field order. Rows checked one by one and rows checked a
/// column at a time hash the same values to the same hash.
///
/// Every step is a bijection: two ints (or days, or floats' bit patterns) of a field never hash
/// alike, and folding one value hash in, with the others the same, never maps two different
/// hashes to one. Two rows that differ in one value therefore always differ in hash; rows that
/// differ in more collide with the odds of a 64-bit hash.
mod content {
    use xxhash_rust::xxh3::xxh3_64_with_seed;

    /// The hash a row starts from.
    pub const START: u64 = 0x5445_5353_4552_4131;

    /// The finalizer of MurmurHash3: a bijection of `u64` whose output bits each depend on every
    /// input bit.
    #[inline]
    fn mix(mut h: u64) -> u64 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    /// Folds the hash of the next value into a row's hash.
    #[inline]
    pub fn fold(row: u64, value: u64) -> u64 {
        mix(row.rotate_left(23) ^ value)
    }

    pub fn null() -> u64 {
        mix(0x6e75_6c6c)
    }
    #[inline]
    pub fn text(s: &str) -> u64 {
        xxh3_64_with_seed(s.as_bytes(), 1)
    }
    #[inline]
    pub fn int(x: i64) -> u64 {
        mix(x as u64 ^ 0x0200_0000_0000_0000)
    }
    #[inline]
    pub fn float(x: f64) -> u64 {
        mix(x.to_bits() ^ 0x0300_0000_0000_0000)
    }
    pub fn boolean(x: bool) -> u64 {
        mix(0x0400_0000_0000_0000 | u64::from(x))
    }
    #[inline]
    pub fn days(x: i32) -> u64 {
        mix(u64::from(x as u32) ^ 0x0500_0000_0000_0000)
    }
    /// A list's items, each with its length, hashed together; `bytes` is scratch space.
    pub fn list<'a>(bytes: &mut Vec<u8>, len: u32, items: impl Iterator<Item = &'a str>) -> u64 {
        bytes.clear();
        bytes.extend_from_slice(&len.to_le_bytes());
        for item in items {
            bytes.extend_from_slice(&(item.len() as u32).to_le_bytes());
            bytes.extend_from_slice(item.as_bytes());
        }
        xxh3_64_with_seed(bytes, 6)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::collections::HashSet;

        #[test]
        fn rows_that_differ_in_one_value_hash_apart() {
            // Amounts in cents and days near each other, as real rows have them: a row of
            // (id, amount, day) changed in one of its numbers never keeps its hash.
            let row = |amount: i64, day: i32| {
                let h = fold(START, text("O1"));
                fold(fold(h, int(amount)), days(day))
            };
            let mut seen = HashSet::new();
            for amount in -500..500 {
                for day in 19_000..19_100 {
                    assert!(seen.insert(row(amount, day)), "{amount} {day}");
                }
            }
            assert_ne!(fold(START, null()), fold(START, text("")));
            assert_ne!(fold(START, float(0.0)), fold(START, float(-0.0)));
        }
    }
}

/// The messages of rows whose id is taken by a row with other values.
mod messages {
    use tessera_core::config::ConflictPolicy;

    /// A row whose id was already withdrawn for conflicting rows, the first of them `there`.
    pub fn already_rejected(id_name: &str, id: &str, there: &str) -> String {
        format!("{id_name} `{id}` is already rejected for conflicting rows (first at {there})")
    }

    /// An earlier row withdrawn for the row `here`.
    pub fn withdrawn(policy: ConflictPolicy, id_name: &str, id: &str, here: &str) -> String {
        let outcome = match policy {
            ConflictPolicy::Last => "kept that later row (on_conflict = last)",
            _ => "both rejected (on_conflict = reject)",
        };
        format!("{id_name} `{id}` is also at {here} with different content; {outcome}")
    }

    /// A later row refused for the earlier row `there`.
    pub fn refused(policy: ConflictPolicy, id_name: &str, id: &str, there: &str) -> String {
        let outcome = match policy {
            ConflictPolicy::First => "kept that first row (on_conflict = first)",
            _ => "both rejected (on_conflict = reject)",
        };
        format!("{id_name} `{id}` is also at {there} with different content; {outcome}")
    }
}

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
        let ordinal = u64::from(e.ordinal);
        let dropped_before = self.drops.partition_point(|&d| d < ordinal) as u64;
        Some((ordinal - dropped_before) as u32)
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

/// The index keys of a row, hashed once by the reader that prefetches them ([`Checker::keys`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RowKeys {
    id: Option<IdKey>,
    customer: Option<IdKey>,
}

/// The customer row of an order whose customer was made up (`unknown_customers = "create"`):
/// such customers are appended to the clean table once every source is read.
pub const MADE_UP: u32 = u32::MAX;

/// Where the staged rows came from: runs of rows of one file whose lines are their ordinals plus
/// a constant. A run ends where a row is not staged (rejected, a copy) or a record spans lines,
/// so there are about as many runs as such rows, and the lines of a large clean file cost
/// nearly nothing.
#[derive(Debug, Default)]
struct Places {
    /// (first ordinal, file, line minus ordinal) of each run.
    runs: Vec<(u64, usize, i64)>,
}

impl Places {
    fn push(&mut self, ordinal: u64, file: usize, line: u64) {
        let shift = line as i64 - ordinal as i64;
        if self
            .runs
            .last()
            .is_none_or(|&(_, f, s)| f != file || s != shift)
        {
            self.runs.push((ordinal, file, shift));
        }
    }

    /// The (file, line) of the staged row at `ordinal`.
    fn find(&self, ordinal: u64) -> (usize, u64) {
        let run = self.runs.partition_point(|&(first, ..)| first <= ordinal);
        let (_, file, shift) = self.runs[run.saturating_sub(1)];
        (file, (ordinal as i64 + shift) as u64)
    }
}

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
    /// The exact index of the source's ids, when it keeps one (see [`Ids`]).
    pub index: IdIndex,
    /// The filter of ids seen and the rows settled once the source is read, otherwise.
    deferred: Option<deferred::Deferred>,
    file_names: Vec<String>,
    file: usize,
    columns: Vec<String>,
    /// The row checks, for readers that hand rows over one at a time.
    checker: Checker<'a>,
    table: Option<StagedTable>,
    ordinal: u64,
    /// Where each staged row came from.
    places: Places,
    /// Where the first row of each id withdrawn for conflicting rows came from.
    conflicted: HashMap<IdKey, (usize, u64), BuildHasherDefault<KeyHasher>>,
    /// Sign of each staged amount, for the refunds and zero amounts among rows dropped later:
    /// kept with the exact index only (with the filter, the settling's log has them).
    signs: Vec<i8>,
    /// Whether `signs` is kept: with the exact index.
    keep_signs: bool,
    /// Refunds and zero amounts among the rows accepted (less those dropped, once closed).
    sign_counts: [u64; 2],
    /// The signs of the staged rows the settling after reading went through, by ordinal: with
    /// the filter, `signs` is not kept.
    settled_signs: HashMap<u64, i8>,
    /// For orders: the clean customers row of each staged order's customer ([`MADE_UP`] for a
    /// customer made up on the way), handed to the feature table so that it need not look the
    /// customers up again.
    pub customer_rows: Option<Vec<u32>>,
    /// Rows kept when the source was settled, after it was read, that go into the clean table
    /// among the staged rows: (staged rows before it, its ordinal), in order.
    inserted: Vec<(u64, u64)>,
    strict: bool,
}

/// The checks of a row that need nothing from the rows before it: each cell converted and
/// checked against its field, the customer looked up, the content hashed. Readers that check
/// batches of rows on several threads give each thread a [`Checker::fork`]; what the checks
/// found then goes through [`SourceRun::decide`] in row order.
pub struct Checker<'a> {
    config: &'a SourceConfig,
    convs: Vec<FieldConv>,
    id: usize,
    customer: Option<usize>,
    amount: Option<usize>,
    time: Option<usize>,
    scratch: RowScratch,
    /// The rows found valid, as they will be stored.
    builder: BatchBuilder,
    batch_rows: usize,
    /// Bytes of a list value, reused by `content_hash`.
    content_key: Vec<u8>,
    /// The suppression list, only when it names someone: `None` costs nothing per row.
    suppress: Option<Suppressed>,
}

/// What the checks of one row found.
#[derive(Debug, Clone)]
pub enum Checked {
    /// The row belongs to a suppressed customer: dropped unwritten.
    Suppressed,
    /// A field's value was refused (or the customer is unknown), or the row is broken as a
    /// whole (no field then).
    Rejected {
        reason: Reason,
        field: Option<usize>,
        message: String,
    },
    /// Every value passed: whether the row is kept depends on the rows before it with its id.
    Valid(Valid),
}

/// A row whose values all passed, as [`SourceRun::decide`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Valid {
    key: IdKey,
    content: u64,
    /// The clean customers row of the row's customer, or [`MADE_UP`].
    customer_row: u32,
    /// Sign of the amount, for sources with one.
    sign: Option<i8>,
    /// The event time (µs UTC), for sources with one.
    time: Option<i64>,
}

/// What the checks of a batch of rows found, and the valid rows' values as they will be stored.
pub struct CheckedBatch {
    pub rows: Vec<Checked>,
    pub valid: Option<RecordBatch>,
}

/// How many rows ahead of the one settled its index slot is brought into cache: enough for the
/// memory accesses of that many rows to overlap.
const PREFETCH_AHEAD: usize = 16;

/// Where a row with an amount of this sign is counted in [`SourceRun::sign_counts`]: refunds,
/// then zero amounts.
fn sign_slot(sign: i8) -> Option<usize> {
    match sign {
        -1 => Some(0),
        0 => Some(1),
        _ => None,
    }
}

/// What [`SourceRun::decide`] made of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// A valid row, kept: it goes into the staged table.
    Keep,
    /// A valid row, not kept: an exact copy of a row before it, or a row that conflicts with one.
    Drop,
    /// A valid row that is probably an exact copy of a row before it: not staged, its values
    /// held until the source is settled (see `deferred`).
    Hold,
    /// The row was not valid (rejected or suppressed); it has no staged values.
    Gone,
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

impl Suppressed {
    fn fork(&self) -> Self {
        Self {
            list: self.list.clone(),
            owner: self.owner,
            scratch: RowScratch::default(),
            seen: HashMap::default(),
        }
    }
}

impl<'a> Checker<'a> {
    fn new(
        config: &'a SourceConfig,
        batch_rows: usize,
        suppress: Option<Arc<Suppression>>,
    ) -> Self {
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
        Self {
            config,
            id: role(Role::Id).expect("every source has an id field"),
            customer: role(Role::CustomerRef),
            amount: role(Role::Amount),
            time: role(Role::EventTime),
            convs,
            scratch: RowScratch::default(),
            builder: BatchBuilder::new(clean_schema(config), batch_rows),
            batch_rows,
            content_key: Vec::new(),
            suppress,
        }
    }

    /// A checker of its own for another thread, with nothing staged.
    pub fn fork(&self) -> Self {
        Self {
            config: self.config,
            convs: self.convs.clone(),
            id: self.id,
            customer: self.customer,
            amount: self.amount,
            time: self.time,
            scratch: RowScratch::default(),
            builder: BatchBuilder::new(clean_schema(self.config), self.batch_rows),
            batch_rows: self.batch_rows,
            content_key: Vec::new(),
            suppress: self.suppress.as_ref().map(Suppressed::fork),
        }
    }

    /// The fields whose values the index lookups of a row use: the row's id and its customer.
    pub fn key_fields(&self) -> (usize, Option<usize>) {
        (self.id, self.customer)
    }

    pub fn config(&self) -> &'a SourceConfig {
        self.config
    }

    /// The index keys of a row whose id and customer cells are these, for prefetching and for
    /// [`Self::check`]. Only plain text is keyed: a text id is stored as it is read, so its key
    /// is the stored value's; any other cell is converted first and keyed then.
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

    /// Brings the customers index slot a row with these keys will probe into cache.
    fn prefetch_customer(&self, keys: RowKeys, customers: Option<&Customers>) {
        if let (Some(k), Some(c)) = (keys.customer, customers) {
            c.index.prefetch(k);
        }
    }

    /// The field whose value says whose row it is, when a suppression list is in force.
    fn owner_field(&self) -> Option<usize> {
        self.suppress.as_ref().map(|s| s.owner)
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

    /// A row broken as a whole (ragged, bad quoting, bad JSON, invalid UTF-8). Its fields cannot
    /// be told apart for sure, so with a suppression list in force it is suppressed, not
    /// rejected, when any piece of its raw text names a suppressed customer (see
    /// [`Self::mentions_suppressed`]).
    pub fn broken(
        &self,
        reason: Reason,
        field: Option<usize>,
        message: String,
        ctx: &dyn RecordContext,
    ) -> Checked {
        if self.suppress.is_some() && self.mentions_suppressed(&ctx.raw()) {
            return Checked::Suppressed;
        }
        Checked::Rejected {
            reason,
            field,
            message,
        }
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

    /// Checks a row whose fields were read: `cells` holds one cell per field, in config order,
    /// and `keys` what [`Self::keys`] gave for them. The values of a valid row stay in hand
    /// until the next call, for [`Self::stage`].
    pub fn check(
        &mut self,
        cells: &[Cell<'_>],
        customers: Option<&Customers>,
        keys: RowKeys,
    ) -> Checked {
        // Before any other check: a suppressed customer's row must not reach `rejects.csv`.
        if let Some(owner) = self.owner_field()
            && self.is_suppressed(cells[owner], customers)
        {
            return Checked::Suppressed;
        }
        self.scratch.clear();
        for (k, cell) in cells.iter().enumerate() {
            if let Err(e) = self.convs[k].convert(*cell, &mut self.scratch) {
                return Checked::Rejected {
                    reason: e.reason,
                    field: Some(k),
                    message: e.message,
                };
            }
        }
        let mut customer_row = MADE_UP;
        if let (Some(c), Some(customers)) = (self.customer, customers) {
            let id = self.scratch.str(self.scratch.values[c]).unwrap_or_default();
            match self.customer_row(id, keys.customer, customers) {
                Ok(row) => customer_row = row,
                Err(rejected) => return rejected,
            }
        }
        let key = keys
            .id
            .unwrap_or_else(|| id_key(self.id_text().unwrap_or_default()));
        let sign = self.amount.map(|a| match self.scratch.values[a] {
            Typed::I64(amount) => amount.signum() as i8,
            _ => 1,
        });
        let time = self.time.and_then(|t| match self.scratch.values[t] {
            Typed::I64(ts) => Some(ts),
            _ => None,
        });
        Checked::Valid(Valid {
            key,
            content: self.content_hash(),
            customer_row,
            sign,
            time,
        })
    }

    /// The id of the row in hand.
    fn id_text(&self) -> Option<&str> {
        self.scratch.str(self.scratch.values[self.id])
    }

    /// The clean customers row of the customer `id` (`key`, when the reader hashed it), or
    /// the rejection of an unknown customer; an unknown customer is made up instead when the
    /// source says so.
    fn customer_row(
        &self,
        id: &str,
        key: Option<IdKey>,
        customers: &Customers,
    ) -> Result<u32, Checked> {
        let key = key.unwrap_or_else(|| id_key(id));
        if let Some(row) = customers.row(key) {
            return Ok(row);
        }
        if self.config.unknown_customers == UnknownCustomerPolicy::Reject {
            return Err(Checked::Rejected {
                reason: Reason::UnknownCustomer,
                field: self.customer,
                message: format!("customer_id `{id}` is not among the accepted customers"),
            });
        }
        customers.create(key, id);
        Ok(MADE_UP)
    }

    /// Hash of the row's checked values, telling exact copies from conflicting rows.
    fn content_hash(&mut self) -> u64 {
        let mut hash = content::START;
        for v in &self.scratch.values {
            let value = match *v {
                Typed::Null => content::null(),
                Typed::Str(..) => content::text(self.scratch.str(*v).unwrap_or_default()),
                Typed::I64(x) => content::int(x),
                Typed::F64(x) => content::float(x),
                Typed::Bool(x) => content::boolean(x),
                Typed::I32(x) => content::days(x),
                Typed::List(a, b) => {
                    content::list(&mut self.content_key, b - a, self.scratch.list(*v))
                }
            };
            hash = content::fold(hash, value);
        }
        hash
    }

    /// Checks rows `0..keys.len()` of a batch, row `i` by `check(self, i, keys[i])` (which calls
    /// [`Self::check`] or [`Self::broken`]), each row's customer slot prefetched a few rows ahead,
    /// and stages the valid ones.
    pub fn check_rows(
        &mut self,
        keys: &[RowKeys],
        customers: Option<&Customers>,
        mut check: impl FnMut(&mut Self, usize, RowKeys) -> Checked,
    ) -> CheckedBatch {
        for k in keys.iter().take(PREFETCH_AHEAD) {
            self.prefetch_customer(*k, customers);
        }
        let mut rows = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            if let Some(k) = keys.get(i + PREFETCH_AHEAD) {
                self.prefetch_customer(*k, customers);
            }
            let checked = check(self, i, *k);
            if let Checked::Valid(v) = &checked {
                self.stage(v);
            }
            rows.push(checked);
        }
        CheckedBatch {
            rows,
            valid: self.take_staged(),
        }
    }

    /// Adds the valid row in hand (the one `valid` was found for) to the staged values.
    fn stage(&mut self, valid: &Valid) {
        let flags = [valid.sign.is_some_and(|s| s < 0)];
        let flags = if valid.sign.is_some() {
            &flags[..]
        } else {
            &[]
        };
        self.builder.push(&self.scratch, flags);
    }

    /// The rows staged since the last call, as a batch of the clean table's schema.
    fn take_staged(&mut self) -> Option<RecordBatch> {
        (!self.builder.is_empty()).then(|| self.builder.finish())
    }
}

impl<'a> SourceRun<'a> {
    pub fn new(
        config: &'a SourceConfig,
        out: PathBuf,
        batch_rows: usize,
        strict: bool,
        suppress: Option<Arc<Suppression>>,
        ids: Ids,
    ) -> Result<Self, IngestError> {
        let (index, deferred) = match ids {
            Ids::Exact(index) => (index, None),
            Ids::Filtered(seen) => {
                let d = deferred::Deferred::new(seen, &out, clean_schema(config))?;
                (IdIndex::default(), Some(d))
            }
        };
        let keep_signs = deferred.is_none();
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
            deferred,
            file_names: Vec::new(),
            file: 0,
            columns: config.fields.iter().map(|f| f.column.to_string()).collect(),
            checker: Checker::new(config, batch_rows, suppress),
            table: Some(StagedTable::create(out, clean_schema(config))?),
            ordinal: 0,
            places: Places::default(),
            conflicted: HashMap::default(),
            signs: Vec::new(),
            keep_signs,
            sign_counts: [0; 2],
            settled_signs: HashMap::new(),
            customer_rows: (config.kind == tessera_core::schema::SourceKind::Orders).then(Vec::new),
            inserted: Vec::new(),
            strict,
        })
    }

    /// The source's row checks, to fork for threads of their own.
    pub fn checker(&self) -> &Checker<'a> {
        &self.checker
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
        match &mut self.deferred {
            // Entries for each row's id, and for its id with its values.
            Some(d) => d
                .seen
                .reserve(rows.saturating_mul(crate::seen::ENTRIES_PER_ROW)),
            None => self.index.reserve(rows),
        }
        // The per-row vectors likewise: grown by doubling from empty, a vector of 20M entries
        // would take room for 33.5M, and hold both its old and new buffers while it grows.
        if self.checker.amount.is_some() && self.keep_signs {
            self.signs.reserve(rows);
        }
        if let Some(customers) = &mut self.customer_rows {
            customers.reserve(rows);
        }
    }

    pub fn file_name(&self, file: usize) -> &str {
        &self.file_names[file]
    }

    /// A row that is broken as a whole (ragged, bad quoting, bad JSON, invalid UTF-8), for
    /// readers that hand rows over one at a time (see [`Checker::broken`]).
    pub fn broken(
        &mut self,
        line: u64,
        reason: Reason,
        field: Option<usize>,
        message: String,
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
    ) -> Result<(), IngestError> {
        let checked = self.checker.broken(reason, field, message, ctx);
        self.decide(line, &checked, "", false, ctx, rejects)
            .map(|_| ())
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

    /// Brings the id index slot of a checked row into cache, a few rows ahead of
    /// [`Self::decide`].
    fn prefetch_checked(&self, checked: &Checked) {
        if let Checked::Valid(v) = checked {
            match &self.deferred {
                Some(d) => d.seen.prefetch_pair(v.key, v.content),
                None => self.index.prefetch(v.key),
            }
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
        let checked = self.checker.check(cells, customers, RowKeys::default());
        // The values in hand are lent out for the id's text while the row is decided.
        let scratch = std::mem::take(&mut self.checker.scratch);
        let id_value = scratch.values.get(self.checker.id).copied();
        let id = id_value.and_then(|v| scratch.str(v)).unwrap_or_default();
        let decision = self.decide(line, &checked, id, false, ctx, rejects);
        self.checker.scratch = scratch;
        if decision? == Decision::Keep {
            let Checked::Valid(v) = &checked else {
                unreachable!("only valid rows are kept")
            };
            self.checker.stage(v);
            if self.checker.builder.is_full() {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Settles a checked row in row order: counts it, writes a rejected row to `rejects.csv`,
    /// and tells a valid row with a new id (kept) from an exact copy of a row before it (dropped)
    /// and from a row whose id is taken with other values (resolved by `on_conflict`). `id` is
    /// the row's id as text, for the messages of conflicts.
    /// With `may_hold`, a probable copy is held rather than staged (the caller sets aside its
    /// values).
    fn decide(
        &mut self,
        line: u64,
        checked: &Checked,
        id: &str,
        may_hold: bool,
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
    ) -> Result<Decision, IngestError> {
        self.report.read += 1;
        let valid = match checked {
            Checked::Suppressed => {
                self.report.suppressed += 1;
                return Ok(Decision::Gone);
            }
            Checked::Rejected {
                reason,
                field,
                message,
            } => {
                self.reject(line, *reason, *field, message.clone(), ctx, rejects)?;
                return Ok(Decision::Gone);
            }
            Checked::Valid(v) => v,
        };
        let ordinal = u32::try_from(self.ordinal)
            .ok()
            .filter(|&o| u64::from(o) < Entry::MAX_ROWS)
            .ok_or_else(|| IngestError::Input {
                file: self.file_names[self.file].clone(),
                line,
                message: format!(
                    "more than {} rows accepted from one source; split it into several runs",
                    Entry::MAX_ROWS
                ),
            })?;
        if let Some(d) = &mut self.deferred {
            // Kept or held for now; a row whose id may have been seen is settled with the
            // others like it once the source is read, and its time counted if it is kept then.
            let place = may_hold.then_some((self.file, line));
            return Ok(match d.note(valid, self.ordinal, place)? {
                Note::Held => Decision::Hold,
                note => {
                    self.accept(valid, line, note == Note::New);
                    Decision::Keep
                }
            });
        }
        let entry = Entry::new(valid.content, ordinal);
        // One probe of the index for the common case, a new id.
        let Err(old) = self.index.insert_new(valid.key, entry) else {
            self.accept(valid, line, true);
            return Ok(Decision::Keep);
        };
        if old.is_live() && old.content == valid.content {
            self.report.duplicates += 1;
            return Ok(Decision::Drop);
        }
        self.conflict(valid, id, old, entry, line, ctx, rejects)
    }

    /// The file and line of the row an entry of the index stands for.
    fn place(&self, key: IdKey, e: Entry) -> (usize, u64) {
        if e.is_live() {
            self.places.find(u64::from(e.ordinal))
        } else {
            self.conflicted.get(&key).copied().unwrap_or_default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn conflict(
        &mut self,
        valid: &Valid,
        id: &str,
        old: Entry,
        new: Entry,
        line: u64,
        ctx: &dyn RecordContext,
        rejects: &mut RejectWriter,
    ) -> Result<Decision, IngestError> {
        let id_name = self.config.fields[self.checker.id].name.clone();
        let id_field = Some(self.checker.id);
        let here = self.place_text((self.file, line));
        let (old_file, old_line) = self.place(valid.key, old);
        let there = self.place_text((old_file, old_line));
        if !old.is_live() {
            let message = messages::already_rejected(&id_name, id, &there);
            self.reject(
                line,
                Reason::ConflictingDuplicate,
                id_field,
                message,
                ctx,
                rejects,
            )?;
            return Ok(Decision::Drop);
        }
        let policy = self.config.on_conflict;
        if self.strict {
            let message = format!("{id_name} `{id}` is also at {there} with different content");
            self.reject(
                line,
                Reason::ConflictingDuplicate,
                id_field,
                message,
                ctx,
                rejects,
            )?;
            return Ok(Decision::Drop);
        }
        let (reject_new, withdraw_old) = match policy {
            ConflictPolicy::First => (true, false),
            ConflictPolicy::Last => (false, true),
            ConflictPolicy::Reject => (true, true),
        };
        if withdraw_old {
            let message = messages::withdrawn(policy, &id_name, id, &here);
            self.withdraw(u64::from(old.ordinal), (old_file, old_line), message);
        }
        if reject_new {
            let message = messages::refused(policy, &id_name, id, &there);
            if policy == ConflictPolicy::Reject {
                self.conflicted.insert(valid.key, (old_file, old_line));
                self.index.insert(
                    valid.key,
                    Entry {
                        ordinal: Entry::CONFLICTED,
                        ..old
                    },
                );
            }
            self.reject(
                line,
                Reason::ConflictingDuplicate,
                id_field,
                message,
                ctx,
                rejects,
            )?;
            return Ok(Decision::Drop);
        }
        self.index.insert(valid.key, new);
        self.accept(valid, line, true);
        Ok(Decision::Keep)
    }

    /// `file:line` of a row, as messages name it.
    fn place_text(&self, (file, line): (usize, u64)) -> String {
        format!("{}:{}", self.file_names[file], line)
    }

    /// Takes back a staged row: it is left out of the clean table and reported as conflicting.
    fn withdraw(&mut self, ordinal: u64, place: (usize, u64), message: String) {
        self.drops.push(ordinal);
        self.report.accepted -= 1;
        self.refuse(place, message);
    }

    /// Reports a row at `file` and `line` that is not staged as conflicting; its raw text is
    /// fetched from the file with those of the rows withdrawn.
    fn refuse(&mut self, (file, line): (usize, u64), message: String) {
        self.count_reject(Reason::ConflictingDuplicate);
        let column = self.config.fields[self.checker.id].column.to_string();
        self.withdrawn.push(Withdrawn {
            file,
            line,
            column,
            message,
        });
    }

    /// Counts a kept row, on `line` of the file in hand; its values are staged by the caller.
    /// Its time counts towards the latest when `timed` is set.
    fn accept(&mut self, valid: &Valid, line: u64, timed: bool) {
        self.accept_at(valid, self.file, line, timed);
    }

    /// Accepts a held row once the source is settled, at the next ordinal (returned); its time
    /// counts.
    fn accept_late(&mut self, valid: &Valid, file: usize, line: u64) -> u64 {
        let ordinal = self.ordinal;
        self.accept_at(valid, file, line, true);
        ordinal
    }

    fn accept_at(&mut self, valid: &Valid, file: usize, line: u64, timed: bool) {
        self.places.push(self.ordinal, file, line);
        if let Some(sign) = valid.sign {
            // The signs of the staged rows are needed for those dropped later; with the filter
            // the settling finds them in its log instead.
            if self.keep_signs {
                self.signs.push(sign);
            }
            if let Some(count) = sign_slot(sign) {
                self.sign_counts[count] += 1;
            }
        }
        if let Some(ts) = valid.time.filter(|_| timed) {
            self.note_time(ts);
        }
        if let Some(rows) = &mut self.customer_rows {
            rows.push(valid.customer_row);
        }
        self.ordinal += 1;
        self.report.accepted += 1;
    }

    /// Settles the rows of a batch checked on another thread, in row order, and stages those
    /// kept. `row(i)` gives the line (or row number) of the batch's row `i` and what to show of
    /// it when it is rejected.
    pub fn settle<C: RecordContext>(
        &mut self,
        checked: CheckedBatch,
        mut row: impl FnMut(usize) -> (u64, C),
        rejects: &mut RejectWriter,
    ) -> Result<(), IngestError> {
        let ids = checked
            .valid
            .as_ref()
            .and_then(|v| v.column(self.checker.id).as_string_opt::<i32>().cloned());
        let mut keep = Vec::with_capacity(checked.valid.as_ref().map_or(0, RecordBatch::num_rows));
        for c in checked.rows.iter().take(PREFETCH_AHEAD) {
            self.prefetch_checked(c);
        }
        for (i, c) in checked.rows.iter().enumerate() {
            if let Some(c) = checked.rows.get(i + PREFETCH_AHEAD) {
                self.prefetch_checked(c);
            }
            let (line, ctx) = row(i);
            let id = match (&ids, c) {
                (Some(ids), Checked::Valid(_)) => ids.value(keep.len()),
                _ => "",
            };
            match self.decide(line, c, id, true, &ctx, rejects)? {
                Decision::Gone => {}
                d => keep.push(d),
            }
        }
        match checked.valid {
            Some(valid) => self.stage_batch(valid, &keep),
            None => Ok(()),
        }
    }

    /// Stages the kept rows of `checked`, a batch of valid rows in row order, and sets aside
    /// the held ones; `decided` holds the [`Self::decide`] of each.
    fn stage_batch(
        &mut self,
        checked: RecordBatch,
        decided: &[Decision],
    ) -> Result<(), IngestError> {
        self.flush()?;
        let rows = |d: Decision| {
            let mask = arrow_array::BooleanArray::from_iter(decided.iter().map(|&x| Some(x == d)));
            arrow_select::filter::filter_record_batch(&checked, &mask)
                .map_err(|e| IngestError::Internal(format!("filtering staged rows: {e}")))
        };
        if decided.contains(&Decision::Hold) {
            let held = rows(Decision::Hold)?;
            self.deferred
                .as_mut()
                .expect("rows are held only when settled after reading")
                .hold(held)?;
        }
        let batch = if decided.iter().all(|&d| d == Decision::Keep) {
            checked.clone()
        } else {
            rows(Decision::Keep)?
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.table
            .as_mut()
            .expect("table open until finish")
            .write(batch)
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        let Some(batch) = self.checker.take_staged() else {
            return Ok(());
        };
        self.table
            .as_mut()
            .expect("table open until finish")
            .write(batch)
    }

    fn note_time(&mut self, ts: i64) {
        self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
    }

    /// Writes what is buffered, settles the rows whose ids may have been seen before, and hands
    /// back the staged table for the final file, with the rows to insert in it.
    pub fn close(&mut self) -> Result<(StagedTable, Inserts), IngestError> {
        self.flush()?;
        let mut table = self.table.take().expect("closed once");
        let staged = self.ordinal;
        let inserts = match self.deferred.take() {
            Some(d) => d.settle(self, &mut table)?,
            None => Inserts::default(),
        };
        self.drops.sort_unstable();
        self.drops.dedup();
        // Refunds and zero amounts among the rows kept: those of every row accepted, less those
        // of the rows dropped since.
        let drops = &self.drops;
        for d in drops {
            let sign = match self.signs.get(*d as usize) {
                Some(&s) => Some(s),
                None => self.settled_signs.get(d).copied(),
            };
            if let Some(count) = sign.and_then(sign_slot) {
                self.sign_counts[count] -= 1;
            }
        }
        self.settled_signs = HashMap::new();
        self.report.refunds += self.sign_counts[0];
        self.report.zero_amounts += self.sign_counts[1];
        // The customer rows of the rows kept, in the clean table's order.
        let inserted = std::mem::take(&mut self.inserted);
        if let Some(rows) = &mut self.customer_rows
            && !inserted.is_empty()
        {
            let mut next_insert = inserted.iter().peekable();
            let mut next_drop = drops.iter().peekable();
            let mut kept = Vec::with_capacity(rows.len());
            for ordinal in 0..staged {
                while let Some(&(_, late)) = next_insert.next_if(|&&(at, _)| at == ordinal) {
                    kept.push(rows[late as usize]);
                }
                if next_drop.next_if(|&&d| d == ordinal).is_none() {
                    kept.push(rows[ordinal as usize]);
                }
            }
            kept.extend(next_insert.map(|&(_, late)| rows[late as usize]));
            *rows = kept;
        } else if let Some(rows) = &mut self.customer_rows
            && !drops.is_empty()
        {
            let (mut drops, mut ordinal) = (drops.iter().peekable(), 0u64);
            rows.retain(|_| {
                let withdrawn = drops.next_if(|&&d| d == ordinal).is_some();
                ordinal += 1;
                !withdrawn
            });
        }
        Ok((table, inserts))
    }
}
