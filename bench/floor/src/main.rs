//! The least work a checked feature run does on the benchmark's orders, done as fast as we know
//! how: the floor `bench/features.sh` measures beside `tessera features` and DuckDB.
//!
//! For every order, its id goes into a filter of the ids before it (the least a check for
//! repeated ids needs: anything exact costs more), its customer is looked up among the ids of the
//! customers file (the least a check for unknown customers needs), and purchases before
//! `--as-of` are counted, summed and dated per customer (the least RFM needs). Nothing else: no
//! value is validated, no repeated id settled, no other feature worked out, nothing written.
//! It is not a competitor: its time is what those two checks and RFM's sums cost.
//!
//! Prints one JSON line: orders read, ids the filter may have seen, orders of unknown
//! customers, customers with a purchase, purchases and their spend in minor units.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use clap::Parser;
use hashbrown::HashMap;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tessera_core::value::parse_date;

#[derive(Parser)]
#[command(about = "The least work a checked feature run does: a floor for bench/features.sh")]
struct Args {
    /// The customers file (CSV, the id first on each line, unquoted).
    #[arg(long)]
    customers: PathBuf,
    /// The orders (Parquet or CSV) with columns order_id, customer_id, date, amount.
    #[arg(long)]
    orders: PathBuf,
    /// Only orders strictly before this day (YYYY-MM-DD) count.
    #[arg(long)]
    as_of: String,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args = Args::parse();
    let started = Instant::now();
    let as_of = parse_date(&args.as_of, None).map_err(|e| format!("--as-of: {e}"))?;
    let text = std::fs::read(&args.customers)?;
    let customers = customer_ids(&text, &args.customers)?;
    let csv = args.orders.extension().is_some_and(|e| e == "csv");
    // The Parquet footer, read once; CSV rows guessed from the file's size.
    let footer = match csv {
        true => None,
        false => Some(ArrowReaderMetadata::load(
            &File::open(&args.orders)?,
            Default::default(),
        )?),
    };
    let rows = match &footer {
        None => std::fs::metadata(&args.orders)?.len() / 32,
        Some(f) => f.metadata().file_metadata().num_rows() as u64,
    };
    let work = Work {
        filter: Filter::new(rows as usize),
        customers: &customers,
        as_of,
    };
    let totals = match footer {
        None => work.csv(&args.orders)?,
        Some(footer) => work.parquet(&args.orders, &footer)?,
    };
    let buyers = totals.per_customer.iter().filter(|c| c.purchases > 0);
    println!(
        "{{\"orders\": {}, \"maybe_seen\": {}, \"unknown_customers\": {}, \"buyers\": {}, \
         \"purchases\": {}, \"spend_minor\": {}, \"seconds\": {:.3}}}",
        totals.orders,
        totals.maybe_seen,
        totals.unknown,
        buyers.clone().count(),
        buyers.clone().map(|c| u64::from(c.purchases)).sum::<u64>(),
        buyers.map(|c| c.spend).sum::<i64>(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Each customer's position by id: the first field of every line after the header.
fn customer_ids<'t>(text: &'t [u8], path: &Path) -> Result<HashMap<&'t [u8], u32>, Error> {
    let mut ids = HashMap::with_capacity(text.len() / 64);
    for (n, line) in text.split(|&b| b == b'\n').enumerate().skip(1) {
        let id = line.split(|&b| b == b',').next().unwrap_or_default();
        if id.first() == Some(&b'"') {
            return Err(
                format!("{}:{}: quoted ids are not read here", path.display(), n + 1).into(),
            );
        }
        if !id.is_empty() {
            let next = ids.len() as u32;
            ids.entry(id).or_insert(next);
        }
    }
    Ok(ids)
}

/// A customer's purchases so far.
#[derive(Debug, Clone, Copy, Default)]
struct Customer {
    purchases: u32,
    last_day: i32,
    spend: i64,
}

/// What one thread, then all of them, found.
struct Totals {
    orders: u64,
    maybe_seen: u64,
    unknown: u64,
    per_customer: Vec<Customer>,
}

impl Totals {
    fn new(customers: usize) -> Self {
        Self {
            orders: 0,
            maybe_seen: 0,
            unknown: 0,
            per_customer: vec![Customer::default(); customers],
        }
    }

    fn merge(mut self, other: Self) -> Self {
        self.orders += other.orders;
        self.maybe_seen += other.maybe_seen;
        self.unknown += other.unknown;
        for (a, b) in self.per_customer.iter_mut().zip(other.per_customer) {
            if b.purchases > 0 {
                a.last_day = if a.purchases > 0 {
                    a.last_day.max(b.last_day)
                } else {
                    b.last_day
                };
                a.purchases += b.purchases;
                a.spend += b.spend;
            }
        }
        self
    }
}

/// A filter of order ids shared by the threads: two bits of one 64-bit word per id, about 8
/// bytes per order, on huge pages.
struct Filter {
    words: Vec<AtomicU64>,
    mask: u64,
}

impl Filter {
    fn new(rows: usize) -> Self {
        let len = rows.max(1).next_power_of_two();
        let mut words: Vec<AtomicU64> = Vec::with_capacity(len);
        advise_huge_pages(words.as_ptr() as usize, len * 8);
        words.extend((0..len).map(|_| AtomicU64::new(0)));
        Self {
            words,
            mask: len as u64 - 1,
        }
    }

    fn word(&self, hash: u64) -> &AtomicU64 {
        &self.words[(hash & self.mask) as usize]
    }

    fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint and never faults; the address is a live word.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(self.word(hash).as_ptr().cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    /// Records an id by its hash: whether it may have been recorded before.
    fn insert(&self, hash: u64) -> bool {
        let bits = (1u64 << ((hash >> 40) & 63)) | (1u64 << ((hash >> 52) & 63));
        let word = self.word(hash);
        word.load(Ordering::Relaxed) & bits == bits
            || word.fetch_or(bits, Ordering::Relaxed) & bits == bits
    }
}

/// Asks for transparent huge pages over the whole 2 MiB pages of `size` bytes at `start`.
fn advise_huge_pages(start: usize, size: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let (from, to) = (start.next_multiple_of(HUGE), (start + size) & !(HUGE - 1));
        if to > from {
            // SAFETY: advice on pages of an allocation we own; failing advice changes nothing.
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, size);
}

/// The customer of the order before and their position: orders come grouped by customer, so
/// most lookups are this one.
#[derive(Default)]
struct LastCustomer {
    id: Vec<u8>,
    position: Option<u32>,
}

/// Rows ahead whose filter word is fetched before it is needed.
const PREFETCH: usize = 16;

struct Work<'c> {
    filter: Filter,
    customers: &'c HashMap<&'c [u8], u32>,
    as_of: i32,
}

impl Work<'_> {
    /// One order: its id's hash, its customer's id, its day and amount.
    fn order(
        &self,
        t: &mut Totals,
        last: &mut LastCustomer,
        id: u64,
        customer: &[u8],
        day: i32,
        amount: f64,
    ) {
        t.orders += 1;
        t.maybe_seen += u64::from(self.filter.insert(id));
        if last.id != customer {
            last.id.clear();
            last.id.extend_from_slice(customer);
            last.position = self.customers.get(customer).copied();
        }
        let Some(c) = last.position else {
            t.unknown += 1;
            return;
        };
        let amount = (amount * 100.0).round() as i64;
        if day < self.as_of && amount > 0 {
            let c = &mut t.per_customer[c as usize];
            c.last_day = if c.purchases > 0 {
                c.last_day.max(day)
            } else {
                day
            };
            c.purchases += 1;
            c.spend += amount;
        }
    }

    fn parquet(&self, path: &Path, footer: &ArrowReaderMetadata) -> Result<Totals, Error> {
        let groups: Vec<usize> = (0..footer.metadata().num_row_groups()).collect();
        self.per_thread(&groups, |t, &group| {
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
                File::open(path)?,
                footer.clone(),
            );
            let wanted = ["order_id", "customer_id", "date", "amount"];
            let mask = ProjectionMask::columns(builder.parquet_schema(), wanted);
            let reader = builder
                .with_row_groups(vec![group])
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()?;
            let mut last = LastCustomer::default();
            for batch in reader {
                self.parquet_batch(t, &mut last, &batch?)?;
            }
            Ok(())
        })
    }

    /// `work` done on every item, the items shared out in one contiguous run per thread, each
    /// with totals of its own; the threads' totals merged.
    fn per_thread<T: Sync>(
        &self,
        items: &[T],
        work: impl Fn(&mut Totals, &T) -> Result<(), Error> + Sync,
    ) -> Result<Totals, Error> {
        let threads = rayon::current_num_threads().max(1);
        let runs: Vec<&[T]> = items.chunks(items.len().div_ceil(threads).max(1)).collect();
        let totals = runs
            .into_par_iter()
            .map(|run| {
                let mut t = Totals::new(self.customers.len());
                run.iter().try_for_each(|item| work(&mut t, item))?;
                Ok(t)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut totals = totals.into_iter();
        let first = totals
            .next()
            .unwrap_or_else(|| Totals::new(self.customers.len()));
        Ok(totals.fold(first, Totals::merge))
    }

    fn parquet_batch(
        &self,
        t: &mut Totals,
        last: &mut LastCustomer,
        batch: &RecordBatch,
    ) -> Result<(), Error> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| Error::from(format!("no column {name}")))
        };
        let ids = column("order_id")?
            .as_string_opt::<i32>()
            .ok_or("order_id is not text")?;
        let customers = column("customer_id")?
            .as_string_opt::<i32>()
            .ok_or("customer_id is not text")?;
        let days = column("date")?
            .as_primitive_opt::<Date32Type>()
            .ok_or("date is not a date")?;
        let amounts = column("amount")?
            .as_primitive_opt::<Float64Type>()
            .ok_or("amount is not a double")?;
        let hashes: Vec<u64> = (0..ids.len())
            .map(|i| xxhash_rust::xxh3::xxh3_64(ids.value(i).as_bytes()))
            .collect();
        for (i, &hash) in hashes.iter().enumerate() {
            if let Some(&ahead) = hashes.get(i + PREFETCH) {
                self.filter.prefetch(ahead);
            }
            let customer = customers.value(i).as_bytes();
            self.order(t, last, hash, customer, days.value(i), amounts.value(i));
        }
        Ok(())
    }

    fn csv(&self, path: &Path) -> Result<Totals, Error> {
        let size = std::fs::metadata(path)?.len();
        let pieces = rayon::current_num_threads().max(1) as u64;
        // One piece a thread: piece k runs from the start of the first line at or after
        // k * size / pieces, the header skipped, to the start of the next piece.
        let mut starts = Vec::with_capacity(pieces as usize + 1);
        for k in 0..pieces {
            starts.push(line_start(path, k * size / pieces)?);
        }
        starts.push(size);
        let ranges: Vec<(u64, u64)> = starts.windows(2).map(|w| (w[0], w[1])).collect();
        self.per_thread(&ranges, |t, &(start, end)| {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(start))?;
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(file.take(end - start));
            let (mut record, mut last) = (csv::ByteRecord::new(), LastCustomer::default());
            while reader.read_byte_record(&mut record)? {
                let field = |k: usize| record.get(k).unwrap_or_default();
                let day = parse_date(std::str::from_utf8(field(2))?, None)?;
                let amount: f64 = std::str::from_utf8(field(3))?.parse()?;
                let id = xxhash_rust::xxh3::xxh3_64(field(0));
                self.order(t, &mut last, id, field(1), day, amount);
            }
            Ok(())
        })
    }
}

/// Where the first line starting at or after `at` starts (after the header line when `at` is 0).
fn line_start(path: &Path, at: u64) -> Result<u64, Error> {
    let mut file = BufReader::new(File::open(path)?);
    if at > 0 {
        file.seek(SeekFrom::Start(at - 1))?;
    }
    let mut skipped = Vec::new();
    let n = file.read_until(b'\n', &mut skipped)? as u64;
    Ok(at.saturating_sub(1) + n)
}
