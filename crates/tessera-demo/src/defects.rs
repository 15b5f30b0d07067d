//! Defect kinds, the deterministic defect stream and the generic CSV damage.

use rand::{RngExt, SeedableRng};

use crate::model::Rng;
use crate::write::{CsvRow, push_id};

/// The data files, in the (alphabetical) order `defects.csv` is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum File {
    Customers,
    Events,
    Feedback,
    Orders,
}

impl File {
    pub(crate) const ALL: [File; 4] = [File::Customers, File::Events, File::Feedback, File::Orders];

    pub(crate) fn name(self) -> &'static str {
        match self {
            File::Customers => "customers.csv",
            File::Events => "events.ndjson",
            File::Feedback => "feedback.csv",
            File::Orders => "orders.csv",
        }
    }
}

macro_rules! kinds {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// An injected defect kind, named as in `defects.csv`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Kind { $($variant),* }
        impl Kind {
            pub(crate) fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name),* }
            }
        }
    };
}

kinds! {
    MissingId = "missing_id",
    RaggedRow = "ragged_row",
    ExactDuplicate = "exact_duplicate",
    ConflictingDuplicate = "conflicting_duplicate",
    InvalidUtf8 = "invalid_utf8",
    BadQuoting = "bad_quoting",
    BadDate = "bad_date",
    BadInt = "bad_int",
    OutOfRange = "out_of_range",
    NotInDomain = "not_in_domain",
    BadMoney = "bad_money",
    NotFinite = "not_finite",
    BadTimestamp = "bad_timestamp",
    UnknownCustomer = "unknown_customer",
    MissingValue = "missing_value",
    BadJson = "bad_json",
    BadFloat = "bad_float",
}

use Kind::*;

pub(crate) const CUSTOMER_KINDS: &[Kind] = &[
    MissingId,
    RaggedRow,
    ExactDuplicate,
    ConflictingDuplicate,
    InvalidUtf8,
    BadQuoting,
    BadDate,
    BadInt,
    OutOfRange,
    NotInDomain,
];
pub(crate) const ORDER_KINDS: &[Kind] = &[
    MissingId,
    RaggedRow,
    ExactDuplicate,
    ConflictingDuplicate,
    InvalidUtf8,
    BadQuoting,
    BadMoney,
    NotFinite,
    BadTimestamp,
    UnknownCustomer,
    MissingValue,
    NotInDomain,
];
pub(crate) const EVENT_KINDS: &[Kind] = &[
    BadJson,
    BadTimestamp,
    UnknownCustomer,
    MissingValue,
    ExactDuplicate,
    ConflictingDuplicate,
    InvalidUtf8,
];
pub(crate) const FEEDBACK_KINDS: &[Kind] = &[
    MissingId,
    RaggedRow,
    ExactDuplicate,
    ConflictingDuplicate,
    InvalidUtf8,
    BadQuoting,
    OutOfRange,
    BadFloat,
    UnknownCustomer,
];

/// One injected defect; `line` is relative to its chunk until written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Defect {
    pub file: File,
    pub line: u64,
    pub kind: Kind,
}

/// The bytes of one file produced by a chunk, with its physical line count.
#[derive(Default)]
pub(crate) struct Sink {
    pub buf: Vec<u8>,
    pub lines: u64,
}

impl Sink {
    pub(crate) fn row(&mut self, row: &CsvRow) {
        row.write_to(&mut self.buf);
        self.lines += row.lines;
    }
}

/// The defect stream of one customer: independent of the data stream, so a
/// dirty run contains exactly the clean run's rows plus damage.
pub(crate) struct Injector {
    pub rng: Rng,
    rate: f64,
    customers: u64,
}

impl Injector {
    pub(crate) fn new(seed: u64, index: u64, rate: f64, customers: u64) -> Self {
        let rng = Rng::seed_from_u64(crate::mix(seed ^ 0xD1B5_4A32_D192_ED03, index));
        Injector {
            rng,
            rate,
            customers,
        }
    }

    /// With probability `rate`, one of `kinds` (uniformly).
    pub(crate) fn pick(&mut self, kinds: &[Kind]) -> Option<Kind> {
        let hit = self.rng.random::<f64>() < self.rate;
        hit.then(|| kinds[self.rng.random_range(0..kinds.len() as u32) as usize])
    }

    /// Appends the id of a customer that does not exist.
    pub(crate) fn unknown_customer(&mut self, out: &mut Vec<u8>) {
        let n = self.customers + 1 + u64::from(self.rng.random_range(0..100_000u32));
        push_id(out, b'C', n, 7);
    }

    /// Picks one of `options`.
    pub(crate) fn choose<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.rng.random_range(0..options.len() as u32) as usize]
    }
}

/// Writes the file-specific damage for `kind` into `out`; returns the field index.
pub(crate) type ValueDamage = fn(Kind, &CsvRow, &mut Injector, &mut Vec<u8>) -> usize;

/// How to damage rows of one CSV file.
pub(crate) struct CsvSpec {
    pub file: File,
    pub kinds: &'static [Kind],
    /// The free-text field that receives `invalid_utf8` and `bad_quoting`.
    pub text_field: usize,
    pub value: ValueDamage,
}

/// Writes `row` to `sink`, possibly damaged, recording any defect.
pub(crate) fn emit_csv(
    spec: &CsvSpec,
    inj: Option<&mut Injector>,
    row: &mut CsvRow,
    sink: &mut Sink,
    defects: &mut Vec<Defect>,
) {
    let Some((inj, kind)) = inj.and_then(|i| i.pick(spec.kinds).map(|k| (i, k))) else {
        sink.row(row);
        return;
    };
    let mut scratch = Vec::new();
    match kind {
        MissingId => row.set(0, b""),
        RaggedRow => row.remove(inj.rng.random_range(1..row.len() as u32) as usize),
        ExactDuplicate => sink.row(row),
        ConflictingDuplicate => {
            sink.row(row);
            let i = (spec.value)(kind, row, inj, &mut scratch);
            row.set(i, &scratch);
        }
        InvalidUtf8 => {
            let at = usize::from(row.field(spec.text_field).first() == Some(&b'"'));
            row.insert(spec.text_field, at, b"\xFF\xFE");
        }
        BadQuoting => {
            let f = row.field(spec.text_field);
            let plain = if f.is_empty() || f.contains(&b'"') {
                &b"okay"[..]
            } else {
                f
            };
            scratch.push(b'"');
            scratch.extend_from_slice(plain);
            scratch.extend_from_slice(b"\"x");
            row.set(spec.text_field, &scratch);
        }
        _ => {
            let i = (spec.value)(kind, row, inj, &mut scratch);
            row.set(i, &scratch);
        }
    }
    defects.push(Defect {
        file: spec.file,
        line: sink.lines,
        kind,
    });
    sink.row(row);
}
