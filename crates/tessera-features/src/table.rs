//! The feature table of a run: reads `clean/customers.parquet` and `clean/orders.parquet`, writes
//! one row per customer, in the customers table's order, to `features.parquet`.

pub use crate::read::MAX_EVENT_NAMES;
pub use crate::write::{write_csv, write_parquet};

use crate::btyd::{Split, TimeUnit};
use crate::feedback::{FeedbackFeatures, nps_class};
use crate::orders::NONE;
use crate::orders::{ByCustomer, OrderFact, OrderFeatures, OrderParams};
use crate::read::{
    DictionaryMap, Names, read_batches, read_batches_with, read_events, read_feedback, remap,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_array::{Date32Array, Float64Array, Int32Array, Int64Array, UInt32Array};
use arrow_schema::{Field, Schema};
use chrono_tz::Tz;
use hashbrown::HashMap;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_core::config::CustomFeature;
use tessera_core::value::LocalDays;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FeatureError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{at}: features.custom.{name}: {message}")]
    Custom {
        at: String,
        name: String,
        message: String,
    },
    #[error("query engine: {0}")]
    Engine(String),
    #[error(
        "customer `{customer}`: their {what} before as_of add up to more than an amount can hold \
         ({} minor units); a smaller `money_decimals` in [project] leaves room",
        i64::MAX
    )]
    Overflow {
        customer: String,
        what: &'static str,
    },
    /// `path` and `column` name the clean table; [`FeatureError::in_input`] names the input.
    #[error(
        "{path}: more than {} distinct values of `{column}` (`{value}` is one too many); the \
         feature table tells each apart: map a coarser column to `{field}`",
        crate::read::MAX_NAMES
    )]
    TooManyNames {
        path: PathBuf,
        column: String,
        /// The canonical field the column is read as.
        field: String,
        value: String,
    },
}

impl FeatureError {
    /// The error with the clean table it names replaced by the config's source that table was
    /// made from: its path as written and the column read as the field. Other errors as they are.
    pub fn in_input(self, config: &tessera_core::Config) -> Self {
        let FeatureError::TooManyNames {
            path,
            column,
            field,
            value,
        } = self
        else {
            return self;
        };
        let source = path
            .file_stem()
            .and_then(|stem| config.sources.iter().find(|s| stem == s.kind.name()));
        let (path, column) = match source {
            Some(s) => (
                PathBuf::from(&s.path),
                s.field(&field).map_or(column, |f| f.column.to_string()),
            ),
            None => (path, column),
        };
        FeatureError::TooManyNames {
            path,
            column,
            field,
            value,
        }
    }
}

/// What the feature table describes.
#[derive(Debug, Clone)]
pub struct FeatureParams {
    /// Days since 1970-01-01: only data strictly before this day counts.
    pub as_of: i32,
    /// Zone of calendar days.
    pub time_zone: Tz,
    /// Window lengths in days (default 30, 90, 365).
    pub windows: Vec<u32>,
    /// Unit of `t_x` and `T` (default weeks).
    pub unit: TimeUnit,
    /// Event names counted in windows; `None`: the most frequent, at most [`MAX_EVENT_NAMES`].
    pub event_names: Option<Vec<String>>,
    /// The user's own SQL aggregates, added after the built-in columns.
    pub custom: Vec<CustomFeature>,
    /// When set, the last this many days before `as_of` are also treated as a holdout period
    /// ([`Built::holdout`]), for validating lifetime-value models.
    pub holdout_days: Option<u32>,
}

impl FeatureParams {
    pub fn new(as_of: i32, time_zone: Tz) -> Self {
        Self {
            as_of,
            time_zone,
            windows: vec![30, 90, 365],
            unit: TimeUnit::Weeks,
            event_names: None,
            custom: Vec::new(),
            holdout_days: None,
        }
    }
}

/// Builds the feature table from the clean tables in `clean_dir`.
pub fn build(clean_dir: &Path, p: &FeatureParams) -> Result<RecordBatch, FeatureError> {
    build_keeping_rows(clean_dir, p, false, None).map(|b| b.table)
}

/// Every row of the clean orders file, in file order, as the feature table read it: the
/// customer's position in the table (-1 when unknown) and the local day of `ordered_at`
/// (`i32::MAX` when it is null or the customer unknown). Later stages use it to skip looking customers up again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderRows {
    pub customer: Vec<i32>,
    pub day: Vec<i32>,
}

/// Each customer's purchases split at the start of the holdout period, in the feature table's
/// row order: `None` for customers whose first purchase is not before it.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutSplit {
    /// The last day of the calibration period (the day before the holdout starts).
    pub calibration_last_day: i32,
    /// The holdout's length in days (it ends the day before `as_of`).
    pub days: u32,
    pub splits: Vec<Option<Split>>,
}

/// What [`build_keeping_rows`] returns.
#[derive(Debug, Clone)]
pub struct Built {
    pub table: RecordBatch,
    /// The orders' rows, when asked for and the orders exist.
    pub rows: Option<OrderRows>,
    /// The holdout split, when [`FeatureParams::holdout_days`] is set.
    pub holdout: Option<HoldoutSplit>,
}

/// [`build`], also returning the [`OrderRows`] when `keep_rows` is set (and the orders exist),
/// and the holdout split when asked for.
///
/// `order_customers`, when given, is the row in `customers.parquet` of each row's customer in
/// `orders.parquet`, as ingest found them (`IngestOutcome::order_customers`): the orders' customer
/// ids are then neither read nor looked up. It is ignored unless it has a row per order, and
/// freed once the orders are read.
pub fn build_keeping_rows(
    clean_dir: &Path,
    p: &FeatureParams,
    keep_rows: bool,
    order_customers: Option<Vec<u32>>,
) -> Result<Built, FeatureError> {
    build_in_runs(clean_dir, p, keep_rows, order_customers, crate::orders::RUN)
}

/// [`build_keeping_rows`], working out the order features of `run` customers at a time
/// ([`crate::orders::RUN`] unless a test asks for fewer).
fn build_in_runs(
    clean_dir: &Path,
    p: &FeatureParams,
    keep_rows: bool,
    order_customers: Option<Vec<u32>>,
    run: usize,
) -> Result<Built, FeatureError> {
    let customers = read_batches(
        &clean_dir.join("customers.parquet"),
        &["customer_id", "signed_up_at"],
    )?
    .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<StringArray> = customers
        .iter()
        .map(|b| b.column(0).as_string::<i32>().clone())
        .collect();
    let n: usize = ids.iter().map(Array::len).sum();
    // Each customer's row by id, made only if some table names customers by id: the orders
    // whose customers ingest did not hand over, feedback, events, custom features.
    let by_id = std::cell::OnceCell::new();
    let position = || {
        by_id.get_or_init(|| {
            let mut position: HashMap<&str, u32> = HashMap::with_capacity(n);
            for id in ids.iter().flat_map(|a| a.iter().flatten()) {
                let next = position.len() as u32;
                position.entry(id).or_insert(next);
            }
            position
        })
    };
    let no_ids = HashMap::new();
    let position_for = |table: &str| match clean_dir.join(table).exists() {
        true => position(),
        false => &no_ids,
    };
    let mut days = LocalDays::new(p.time_zone);
    let mut signup: Vec<Option<i32>> = Vec::with_capacity(n);
    for b in &customers {
        let s = b.column(1).as_primitive::<TimestampMicrosecondType>();
        signup.extend(s.iter().map(|t| t.map(|t| days.day(t))));
    }
    let orders_path = clean_dir.join("orders.parquet");
    let mut facts = Vec::new();
    let mut grouped = None;
    let mut rows = None;
    let (mut categories, mut channels) = (Names::default(), Names::default());
    if orders_path.exists() {
        let footer = crate::read::footer(&orders_path)?;
        let count = usize::try_from(footer.file_metadata().num_rows()).unwrap_or(0);
        let known = order_customers
            .as_deref()
            .filter(|k| k.len() == count && k.iter().all(|&c| (c as usize) < n));
        // A category or channel column without a value (none mapped) is not read at all, and
        // without either the facts keep neither.
        let empty = crate::read::empty_columns(&footer, &["category", "channel"]);
        let kinds = !(empty.contains(&"category") && empty.contains(&"channel"));
        // With every order's customer known, facts are placed by customer as they are read.
        match known {
            Some(k) => grouped = Some(ByCustomer::new_in_runs(n, k, run, kinds)),
            None => facts.reserve_exact(count),
        }
        if keep_rows {
            rows = Some(OrderRows {
                customer: Vec::with_capacity(count),
                day: Vec::with_capacity(count),
            });
        }
        let (mut by_category, mut by_channel) = (DictionaryMap::new(), DictionaryMap::new());
        // Without the customers ingest resolved, the ids are read (last) and looked up.
        let wanted: Vec<&str> = ["ordered_at", "amount", "category", "channel", "customer_id"]
            .into_iter()
            .filter(|c| !empty.contains(c) && (known.is_none() || *c != "customer_id"))
            .collect();
        // Categories and channels are few, so their chunks are dictionary-encoded; customer ids
        // are many, and a chunk of them usually is not.
        let dictionary = ["category", "channel"];
        let mut at = 0usize;
        // The facts of a batch, placed together.
        let mut batch = Vec::new();
        // Each order's local day is worked out on the reading thread.
        let mut reader_days = days.clone();
        let batches = read_batches_with(&orders_path, &wanted, &dictionary)?.map(move |b| {
            b.map(|b| {
                let day_of: Vec<i32> = b
                    .column_by_name("ordered_at")
                    .and_then(|t| t.as_primitive_opt::<TimestampMicrosecondType>())
                    .map(|t| t.values().iter().map(|&t| reader_days.day(t)).collect())
                    .unwrap_or_default();
                (b, day_of)
            })
        });
        for b in crate::read::read_ahead(batches) {
            let (b, day_of) = b?;
            let missing = || FeatureError::Read {
                path: orders_path.clone(),
                message: "a column is missing, or string columns did not read as dictionaries"
                    .into(),
            };
            // A projection keeps the file's column order: columns are taken by name.
            let column = |name: &str| b.column_by_name(name).ok_or_else(missing);
            let (t, a) = (
                column("ordered_at")?.as_primitive::<TimestampMicrosecondType>(),
                column("amount")?.as_primitive::<Int64Type>(),
            );
            let ids = b
                .column_by_name("customer_id")
                .map(|c| c.as_string::<i32>());
            let codes = |name: &str, map: &mut DictionaryMap<u16>, names: &mut Names| match b
                .column_by_name(name)
            {
                Some(c) => map
                    .prepare(c, |v| names.number(v))
                    .ok_or_else(missing)
                    .map(|keys| Some(keys.clone())),
                None => Ok(None),
            };
            let cat = codes("category", &mut by_category, &mut categories)?;
            let chan = codes("channel", &mut by_channel, &mut channels)?;
            let name = |map: &DictionaryMap<u16>, keys: &Option<Int32Array>, i: usize| match keys {
                Some(k) if k.is_valid(i) => map.get(k.value(i)),
                _ => NONE,
            };
            let known = known.map(|k| &k[at..at + b.num_rows()]);
            at += b.num_rows();
            for i in 0..b.num_rows() {
                let customer = match (known, ids) {
                    (Some(k), _) => Some(k[i]),
                    (None, Some(c)) if c.is_valid(i) => position().get(c.value(i)).copied(),
                    _ => None,
                };
                let day = (!t.is_null(i)).then(|| day_of[i]);
                if let Some(rows) = &mut rows {
                    rows.customer.push(customer.map_or(-1, |c| c as i32));
                    rows.day
                        .push(day.filter(|_| customer.is_some()).unwrap_or(i32::MAX));
                }
                if let (Some(customer), Some(day), false) = (customer, day, a.is_null(i)) {
                    let fact = OrderFact {
                        customer,
                        day,
                        amount: a.value(i),
                        category: name(&by_category, &cat, i),
                        channel: name(&by_channel, &chan, i),
                    };
                    match grouped {
                        Some(_) => batch.push(fact),
                        None => facts.push(fact),
                    }
                }
            }
            if let Some(g) = &mut grouped {
                g.place_all(&batch);
                batch.clear();
            }
        }
    }
    // The facts hold what the features need of the customers ingest found.
    drop(order_customers);
    // The batches read are freed; the memory is handed back before the features are worked out.
    crate::memory::release_unused();
    categories.all_numbered(&orders_path, "category")?;
    channels.all_numbered(&orders_path, "channel")?;
    let (categories, cat_map) = categories.sorted();
    let (channels, chan_map) = channels.sorted();
    let mut grouped = grouped.unwrap_or_else(|| ByCustomer::from_facts_in_runs(n, &facts, run));
    drop(facts);
    grouped.recode(|category, channel| (remap(&cat_map, category), remap(&chan_map, channel)));
    let op = OrderParams {
        as_of: p.as_of,
        windows: p.windows.clone(),
        unit: p.unit,
        holdout_start: p.holdout_days.map(|d| p.as_of - d as i32),
        categories: categories.len(),
    };
    // Categories with a share column: those with the most purchase spend overall. A category
    // without a purchase before `as_of` (only refunds, or only later orders) gets none.
    let mut by_spend: Vec<(i128, usize)> = grouped
        .category_spend(&op)
        .into_iter()
        .enumerate()
        .filter(|(_, spend)| *spend > 0)
        .map(|(k, spend)| (spend, k))
        .collect();
    by_spend.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut shown: Vec<usize> = by_spend
        .iter()
        .take(MAX_SHARE_COLUMNS)
        .map(|(_, k)| *k)
        .collect();
    shown.sort_unstable();
    let feedback = read_feedback(clean_dir, position_for("feedback.parquet"), n, p)?;
    let events_by_id = position_for("events.parquet");
    let (event_names, events) = read_events(clean_dir, events_by_id, n, p, &mut days)?;
    let id_refs: Vec<&dyn Array> = ids.iter().map(|a| a as &dyn Array).collect();
    let id = if id_refs.is_empty() {
        Arc::new(StringArray::from(Vec::<&str>::new())) as ArrayRef
    } else {
        arrow_select::concat::concat(&id_refs).expect("customer ids are strings")
    };
    // The table is made a run of customers at a time: only one run's order features are held,
    // and each run's facts are freed once its features are worked out.
    let mut parts = Vec::new();
    let mut splits = Vec::new();
    let mut at = 0;
    for r in 0..grouped.runs().max(1) {
        let mut orders = match r < grouped.runs() {
            true => grouped.take_run(r, &op),
            false => Vec::new(),
        };
        // The run's facts were one allocation among the others of the heap: freeing it gives the
        // memory back only when asked to.
        crate::memory::release_unused();
        let end = at + orders.len();
        if let Some((k, what)) = orders
            .iter()
            .enumerate()
            .find_map(|(k, o)| o.overflow.map(|what| (k, what)))
        {
            let customer = id.as_string::<i32>().value(at + k).to_string();
            return Err(FeatureError::Overflow { customer, what });
        }
        // Without feedback, every customer's are the defaults.
        let run_feedback: std::borrow::Cow<[FeedbackFeatures]> = match feedback.is_empty() {
            true => vec![FeedbackFeatures::default(); end - at].into(),
            false => feedback[at..end].into(),
        };
        let width = event_names.len() * p.windows.len();
        if p.holdout_days.is_some() {
            splits.extend(orders.iter_mut().map(|o| o.split.take()));
        }
        let part = Parts {
            id: id.slice(at, end - at),
            signup: &signup[at..end],
            orders: &orders,
            categories: &categories,
            shown: &shown,
            channels: &channels,
            feedback: &run_feedback,
            event_names: &event_names,
            events: &events[at * width..end * width],
        };
        parts.push(assemble(&part, p));
        at = end;
    }
    drop(grouped);
    let holdout = p.holdout_days.map(|days| HoldoutSplit {
        calibration_last_day: p.as_of - days as i32 - 1,
        days,
        splits,
    });
    let table = match parts.len() {
        1 => parts.pop().expect("one part"),
        _ => arrow_select::concat::concat_batches(&parts[0].schema(), &parts)
            .map_err(|e| FeatureError::Engine(e.to_string()))?,
    };
    drop(parts);
    // The runs' features were made on other threads, whose free memory goes back too.
    crate::memory::release_unused();
    check_names(&table, &p.custom)?;
    let custom_by_id = if p.custom.is_empty() {
        &no_ids
    } else {
        position()
    };
    let custom = crate::custom::evaluate(clean_dir, &p.custom, custom_by_id, p.time_zone, p.as_of)?;
    Ok(Built {
        table: with_columns(table, custom),
        rows,
        holdout,
    })
}

/// Appends the custom feature columns.
fn with_columns(table: RecordBatch, custom: Vec<(Field, ArrayRef)>) -> RecordBatch {
    if custom.is_empty() {
        return table;
    }
    let mut fields: Vec<Field> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols = table.columns().to_vec();
    for (field, col) in custom {
        fields.push(field);
        cols.push(col);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("columns follow the schema")
}

/// Refuses custom feature names that the table (or a later stage) already uses.
fn check_names(table: &RecordBatch, custom: &[CustomFeature]) -> Result<(), FeatureError> {
    let taken = |name: &str| {
        table.schema().column_with_name(name).is_some()
            || tessera_core::config::FEATURE_COLUMNS.contains(&name)
    };
    match custom.iter().find(|f| taken(&f.name)) {
        Some(f) => Err(FeatureError::Custom {
            at: f.at.clone(),
            name: f.name.clone(),
            message: format!(
                "`{}` is already a column of the feature table; choose another name",
                f.name
            ),
        }),
        None => Ok(()),
    }
}

/// The feature table's inputs for a run of customers.
struct Parts<'a> {
    id: ArrayRef,
    signup: &'a [Option<i32>],
    orders: &'a [OrderFeatures],
    categories: &'a [String],
    /// The categories given a share column.
    shown: &'a [usize],
    channels: &'a [String],
    feedback: &'a [FeedbackFeatures],
    event_names: &'a [String],
    /// Each customer's event counts, `event_names.len() * windows.len()` of them, customer
    /// after customer.
    events: &'a [u32],
}

/// Column names made of values, one per value in order: letters and digits lower-cased, runs of
/// other characters as one `_`, none at either end; `unnamed` when nothing is left. A name
/// already given to an earlier value gets `_2`, `_3`, … so that no two values share a column.
fn column_suffixes<'v>(values: impl IntoIterator<Item = &'v str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::new();
    for value in values {
        let mut s = String::new();
        for c in value.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                s.push(c);
            } else if !s.is_empty() && !s.ends_with('_') {
                s.push('_');
            }
        }
        let s = match s.trim_end_matches('_') {
            "" => "unnamed",
            s => s,
        };
        let mut name = s.to_string();
        let mut k = 1;
        while !taken.insert(name.clone()) {
            k += 1;
            name = format!("{s}_{k}");
        }
        out.push(name);
    }
    out
}

/// At most this many `category_share_<name>` columns: the categories with the most spend.
pub const MAX_SHARE_COLUMNS: usize = 32;

/// A column of the feature table, made when called.
type Column<'a> = Box<dyn Fn() -> ArrayRef + Send + Sync + 'a>;

fn assemble<'a>(parts: &'a Parts, p: &'a FeatureParams) -> RecordBatch {
    let (signup, f) = (parts.signup, parts.orders);
    // Each column is made by a closure of its own, and the closures run on every core: each
    // walks all customers' features for one value.
    let mut columns: Vec<(String, Column<'a>)> = Vec::new();
    let mut add = |name: &str, make: Column<'a>| columns.push((name.to_string(), make));
    let id = parts.id.clone();
    add("customer_id", Box::new(move || id.clone()));
    // First seen: the earlier of the sign-up and the first order of any kind, both before
    // `as_of` (a sign-up after it has not happened yet, as of then).
    let tenure = f.iter().zip(signup).map(|(x, s)| {
        let signup = s.filter(|&d| d < p.as_of);
        let seen = match (signup, x.first_order) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        seen.map(|d| p.as_of - d)
    });
    add(
        "tenure_days",
        Box::new(move || Arc::new(tenure.clone().collect::<Int32Array>())),
    );
    add(
        "recency_days",
        Box::new(move || Arc::new(f.iter().map(|x| x.recency_days).collect::<Int32Array>())),
    );
    add(
        "frequency",
        Box::new(move || Arc::new(f.iter().map(|x| Some(x.frequency)).collect::<UInt32Array>())),
    );
    add(
        "purchase_days",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| Some(x.purchase_days))
                    .collect::<UInt32Array>(),
            )
        }),
    );
    add(
        "monetary_total",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| Some(x.monetary_total))
                    .collect::<Int64Array>(),
            )
        }),
    );
    add(
        "monetary_avg",
        Box::new(move || Arc::new(f.iter().map(|x| x.monetary_avg).collect::<Float64Array>())),
    );
    add(
        "first_order_at",
        Box::new(move || Arc::new(f.iter().map(|x| x.first_purchase).collect::<Date32Array>())),
    );
    add(
        "last_order_at",
        Box::new(move || Arc::new(f.iter().map(|x| x.last_purchase).collect::<Date32Array>())),
    );
    add(
        "avg_days_between_orders",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| x.avg_days_between)
                    .collect::<Float64Array>(),
            )
        }),
    );
    for (k, w) in p.windows.iter().enumerate() {
        add(
            &format!("orders_{w}d"),
            Box::new(move || {
                Arc::new(
                    f.iter()
                        .map(|x| Some(x.window_orders[k]))
                        .collect::<UInt32Array>(),
                )
            }),
        );
        add(
            &format!("spend_{w}d"),
            Box::new(move || {
                Arc::new(
                    f.iter()
                        .map(|x| Some(x.window_spend[k]))
                        .collect::<Int64Array>(),
                )
            }),
        );
    }
    add(
        "refunds_count",
        Box::new(move || Arc::new(f.iter().map(|x| Some(x.refunds)).collect::<UInt32Array>())),
    );
    add(
        "refunds_amount",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| Some(x.refund_amount))
                    .collect::<Int64Array>(),
            )
        }),
    );
    add(
        "x",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| x.btyd.as_ref().map(|b| b.x))
                    .collect::<UInt32Array>(),
            )
        }),
    );
    add(
        "t_x",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| x.btyd.as_ref().map(|b| b.t_x))
                    .collect::<Float64Array>(),
            )
        }),
    );
    add(
        "T",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| x.btyd.as_ref().map(|b| b.t))
                    .collect::<Float64Array>(),
            )
        }),
    );
    add(
        "mean_repeat_spend",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| x.btyd.as_ref().and_then(|b| b.mean_repeat_amount))
                    .collect::<Float64Array>(),
            )
        }),
    );
    let name_of =
        |names: &[String], k: Option<u16>| k.and_then(|k| names.get(usize::from(k)).cloned());
    add(
        "top_category",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| name_of(parts.categories, x.top_category))
                    .collect::<StringArray>(),
            )
        }),
    );
    // Share of purchase spend per category, for the categories with the most spend overall.
    let shown = parts.shown.iter().map(|&k| parts.categories[k].as_str());
    for (&k, suffix) in parts.shown.iter().zip(column_suffixes(shown)) {
        let share = f.iter().map(move |x| {
            (x.monetary_total > 0).then(|| x.spend_in(k as u16) as f64 / x.monetary_total as f64)
        });
        add(
            &format!("category_share_{suffix}"),
            Box::new(move || Arc::new(share.clone().collect::<Float64Array>())),
        );
    }
    add(
        "preferred_channel",
        Box::new(move || {
            Arc::new(
                f.iter()
                    .map(|x| name_of(parts.channels, x.preferred_channel))
                    .collect::<StringArray>(),
            )
        }),
    );
    let width = parts.event_names.len() * p.windows.len();
    let suffixes = column_suffixes(parts.event_names.iter().map(String::as_str));
    for (k, suffix) in suffixes.iter().enumerate() {
        for (w, len) in p.windows.iter().enumerate() {
            let col = parts
                .events
                .chunks_exact(width)
                .map(move |c| Some(c[k * p.windows.len() + w]));
            add(
                &format!("events_{suffix}_{len}d"),
                Box::new(move || Arc::new(col.clone().collect::<UInt32Array>())),
            );
        }
    }
    let fb = parts.feedback;
    add(
        "feedback_count",
        Box::new(move || Arc::new(fb.iter().map(|x| Some(x.count)).collect::<UInt32Array>())),
    );
    add(
        "nps_latest",
        Box::new(move || Arc::new(fb.iter().map(|x| x.latest_nps).collect::<Float64Array>())),
    );
    add(
        "nps_class",
        Box::new(move || {
            Arc::new(
                fb.iter()
                    .map(|x| x.latest_nps.and_then(nps_class))
                    .collect::<StringArray>(),
            )
        }),
    );
    add(
        "csat_latest",
        Box::new(move || Arc::new(fb.iter().map(|x| x.latest_csat).collect::<Float64Array>())),
    );
    let arrays: Vec<ArrayRef> = columns.par_iter().map(|(_, make)| make()).collect();
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|((name, _), a)| Field::new(name, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns follow the schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::TimestampMicrosecondArray;

    fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn values_become_distinct_column_names() {
        let values = [
            "Shoes",
            "shoes",
            "Home & Garden",
            " Café ",
            "日本",
            "中国",
            "--",
            "",
            "Page View",
            "page_view",
            "shoes_2",
        ];
        assert_eq!(
            column_suffixes(values),
            [
                "shoes",
                "shoes_2",
                "home_garden",
                "café",
                "日本",
                "中国",
                "unnamed",
                "unnamed_2",
                "page_view",
                "page_view_2",
                "shoes_2_2",
            ]
        );
    }

    #[test]
    fn a_table_made_a_few_customers_at_a_time_is_the_table_made_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let customers = 10;
        let ids: Vec<String> = (0..customers).map(|c| format!("C{c:02}")).collect();
        let day_us = 86_400_000_000i64;
        let signup = TimestampMicrosecondArray::from(
            (0..customers as i64)
                .map(|c| (c % 4 != 0).then_some((19_000 + c) * day_us))
                .collect::<Vec<_>>(),
        )
        .with_timezone("UTC");
        write(
            &dir.path().join("customers.parquet"),
            vec![
                (
                    "customer_id",
                    Arc::new(StringArray::from(ids.clone())) as ArrayRef,
                ),
                ("signed_up_at", Arc::new(signup)),
            ],
        );
        // Customer 7 never orders; category "z" is bought only by customer 9, in the last run of
        // three, and still has its share column in every run; customer 2 has a refund.
        let mut rows: Vec<(usize, i64, i64, &str, &str)> = Vec::new();
        for c in (0..customers).filter(|&c| c != 7) {
            for k in 0..(c % 3 + 1) as i64 {
                let category = if c == 9 {
                    "z"
                } else {
                    ["a", "b"][(k % 2) as usize]
                };
                rows.push((
                    c,
                    19_100 + c as i64 * 5 + k * 11,
                    1_000 + k * 250,
                    category,
                    "web",
                ));
            }
        }
        rows.push((2, 19_130, -400, "a", "store"));
        let (order_ids, cust): (Vec<String>, Vec<String>) = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("O{i}"), ids[r.0].clone()))
            .unzip();
        let at =
            TimestampMicrosecondArray::from(rows.iter().map(|r| r.1 * day_us).collect::<Vec<_>>())
                .with_timezone("UTC");
        write(
            &dir.path().join("orders.parquet"),
            vec![
                (
                    "order_id",
                    Arc::new(StringArray::from(order_ids)) as ArrayRef,
                ),
                ("customer_id", Arc::new(StringArray::from(cust))),
                ("ordered_at", Arc::new(at)),
                (
                    "amount",
                    Arc::new(Int64Array::from(
                        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "category",
                    Arc::new(StringArray::from(
                        rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "channel",
                    Arc::new(StringArray::from(
                        rows.iter().map(|r| r.4).collect::<Vec<_>>(),
                    )),
                ),
            ],
        );
        // The same orders without categories and channels, in a run of their own.
        let plain = tempfile::tempdir().unwrap();
        std::fs::copy(
            dir.path().join("customers.parquet"),
            plain.path().join("customers.parquet"),
        )
        .unwrap();
        let file = std::fs::File::open(dir.path().join("orders.parquet")).unwrap();
        let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let schema = batch.schema();
        let mut named: Vec<(&str, ArrayRef)> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .zip(batch.columns().iter().cloned())
            .collect();
        for k in [4, 5] {
            named[k].1 = arrow_array::new_null_array(&arrow_schema::DataType::Utf8, rows.len());
        }
        write(&plain.path().join("orders.parquet"), named);
        let order_customers: Vec<u32> = rows.iter().map(|r| r.0 as u32).collect();
        let mut p = FeatureParams::new(19_200, chrono_tz::UTC);
        p.holdout_days = Some(60);
        let whole = build_in_runs(dir.path(), &p, true, None, usize::MAX).unwrap();
        assert_eq!(whole.table.num_rows(), customers);
        assert!(
            whole
                .table
                .schema()
                .column_with_name("category_share_z")
                .is_some()
        );
        for run in [1, 3, 4] {
            let parts = build_in_runs(dir.path(), &p, true, None, run).unwrap();
            assert_eq!(parts.table, whole.table, "{run} customers at a time");
            assert_eq!(parts.holdout, whole.holdout);
            assert_eq!(parts.rows, whole.rows);
        }
        // Without categories and channels (the facts then keep neither), with the customers
        // found by id or handed over: the same table but for the columns made of them.
        let kinds = |name: &str| {
            name.starts_with("category_share_")
                || ["top_category", "preferred_channel"].contains(&name)
        };
        for (run, known) in [
            (usize::MAX, None),
            (3, None),
            (4, Some(order_customers.clone())),
        ] {
            let plain = build_in_runs(plain.path(), &p, true, known, run).unwrap();
            assert_eq!(plain.holdout, whole.holdout);
            let schema = plain.table.schema();
            assert!(schema.column_with_name("category_share_z").is_none());
            for (k, field) in schema.fields().iter().enumerate() {
                let column = plain.table.column(k);
                match kinds(field.name()) {
                    true => assert_eq!(column.null_count(), customers, "{}", field.name()),
                    false => assert_eq!(
                        column,
                        whole.table.column_by_name(field.name()).unwrap(),
                        "{} in runs of {run}",
                        field.name()
                    ),
                }
            }
        }
    }
}
