//! One semantics, four executions: random rules over random customers, orders and events are
//! evaluated by the batch path (Arrow kernels), the row path (one customer at a time), and the
//! compiled SQL run by SQLite (SQLite dialect) and by DataFusion (DataFusion dialect), engines
//! that share no code with either path. All four must agree on every customer, nulls, empty
//! windows and window edges included. In other time zones, where the SQLite dialect refuses,
//! the batch path, the row path and DataFusion must agree. A segment reading `properties.KEY`,
//! which the DataFusion dialect refuses, is left out of the DataFusion comparison only.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::*;
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;
use rusqlite::functions::FunctionFlags;
use std::sync::Arc;
use tessera_rules::ast::TableKind;
use tessera_rules::batch::{self, LeafState};
use tessera_rules::row::{Context, eval, leaf_value};
use tessera_rules::sql::{self, Dialect};
use tessera_rules::{Row, RowSchema, SegmentDef, SegmentSet, Truth, Type, Value};

/// 2025-01-01, days since 1970-01-01.
const AS_OF: i32 = 20089;
const DAY_US: i64 = 86_400_000_000;

#[derive(Debug, Clone)]
struct Customer {
    age: Option<i64>,
    score: Option<f64>,
    spend: Option<i64>,
    country: Option<&'static str>,
    vip: Option<bool>,
    joined: Option<i32>,
    seen_at: Option<i64>,
    /// A list of strings; empty lists and null both occur.
    interests: Option<Vec<&'static str>>,
    orders: Vec<Order>,
    events: Vec<Event>,
}

#[derive(Debug, Clone)]
struct Order {
    at: i64,
    amount: i64,
    category: Option<&'static str>,
    qty: Option<i64>,
}

#[derive(Debug, Clone)]
struct Event {
    at: i64,
    name: &'static str,
    properties: &'static str,
}

const COUNTRIES: [&str; 5] = ["DE", "AT", "FR", "Denmark", ""];
const INTERESTS: [&str; 3] = ["golf", "travel", "wine"];
const CATEGORIES: [&str; 3] = ["shoes", "books", "shoe care"];
const EVENTS: [&str; 3] = ["page_view", "app_open", "search"];
const PROPERTIES: [&str; 5] = [
    r#"{"path":"/sale/shoes"}"#,
    r#"{"path":"/new"}"#,
    r#"{"path":7}"#,
    r#"{}"#,
    r#"{"path":"/sale"}"#,
];

/// A time near one of the windows' edges half of the time, anywhere in the last 400 days else.
fn time() -> impl Strategy<Value = i64> {
    let day = prop_oneof![
        prop::sample::select(vec![
            -1i64, 0, 1, -7, -8, -14, -15, -30, -31, -90, -91, -365, -366
        ]),
        -400i64..5,
    ];
    (day, 0i64..86_400).prop_map(|(d, s)| (i64::from(AS_OF) + d) * DAY_US + s * 1_000_000)
}

fn customer() -> impl Strategy<Value = Customer> {
    let order = (
        time(),
        -3000i64..20000,
        prop::option::of(prop::sample::select(CATEGORIES.to_vec())),
        prop::option::of(1i64..5),
    )
        .prop_map(|(at, amount, category, qty)| Order {
            at,
            amount,
            category,
            qty,
        });
    let event = (
        time(),
        prop::sample::select(EVENTS.to_vec()),
        prop::sample::select(PROPERTIES.to_vec()),
    )
        .prop_map(|(at, name, properties)| Event {
            at,
            name,
            properties,
        });
    (
        (
            prop::option::of(18i64..80),
            prop::option::of((0i64..100).prop_map(|x| x as f64 / 10.0)),
            prop::option::of(0i64..50000),
            prop::option::of(prop::sample::select(COUNTRIES.to_vec())),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of(AS_OF - 500..AS_OF + 3),
            prop::option::of(time()),
            prop::option::of(prop::collection::vec(
                prop::sample::select(INTERESTS.to_vec()),
                0..3,
            )),
        ),
        prop::collection::vec(order, 0..6),
        prop::collection::vec(event, 0..5),
    )
        .prop_map(
            |((age, score, spend, country, vip), (joined, seen_at, interests), orders, events)| {
                Customer {
                    age,
                    score,
                    spend,
                    country,
                    vip,
                    joined,
                    seen_at,
                    interests,
                    orders,
                    events,
                }
            },
        )
}

fn date(offset: i64) -> String {
    tessera_rules::print::date(AS_OF + offset as i32)
}

fn op() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="])
}

fn window() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![1u32, 7, 30, 90, 365]).prop_map(|n| format!(" last {n} days")),
        Just(" last 2 weeks".to_string()),
        (-120i64..0, 0i64..120).prop_map(|(a, len)| format!(
            " between {} and {}",
            date(a),
            date(a + len)
        )),
    ]
}

fn order_filter() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" where amount > 0".to_string()),
        Just(r#" where category = "shoes""#.to_string()),
        Just(r#" where category starts_with "shoe" and amount < 50.00"#.to_string()),
        Just(" where qty is null or qty >= 3".to_string()),
        Just(" where not (amount between -5.00 and 5.00)".to_string()),
        Just(r#" where category not in ["books"]"#.to_string()),
    ]
}

/// One test of the customer row, of every kind the language has.
fn test() -> impl Strategy<Value = String> {
    prop_oneof![
        (op(), 18i64..80).prop_map(|(o, n)| format!("age {o} {n}")),
        (18i64..80, 0i64..30).prop_map(|(a, w)| format!("age between {a} and {}", a + w)),
        (18i64..80, 18i64..80).prop_map(|(a, b)| format!("age not in [{a}, {b}, 30.5]")),
        Just("age is null".to_string()),
        (op(), 0i64..100).prop_map(|(o, n)| format!("score {o} {}.{}", n / 10, n % 10)),
        (op(), 0i64..500).prop_map(|(o, n)| format!("spend {o} {n}.50")),
        (op(), prop::sample::select(COUNTRIES.to_vec())).prop_map(|(o, c)| format!("country {o} \"{c}\"")),
        Just(r#"country in ["DE", "AT"]"#.to_string()),
        prop::sample::select(vec!["contains", "starts_with", "ends_with"])
            .prop_map(|o| format!("country {o} \"e\"")),
        Just(r#"country matches "^[A-E]""#.to_string()),
        Just("country is not null".to_string()),
        Just("vip".to_string()),
        prop::sample::select(INTERESTS.to_vec()).prop_map(|i| format!("interests contains \"{i}\"")),
        Just("interests is null".to_string()),
        Just("vip = false".to_string()),
        (op(), -400i64..5).prop_map(|(o, d)| format!("joined {o} {}", date(d))),
        (op(), 0i64..400).prop_map(|(o, n)| format!("days_since(joined) {o} {n} days")),
        (op(), -400i64..5).prop_map(|(o, d)| format!("seen_at {o} {}", date(d))),
        (op(), 0i64..60).prop_map(|(o, n)| format!("days_since(seen_at) {o} {n} weeks")),
        (order_filter(), window(), op(), 0i64..4)
            .prop_map(|(f, w, o, k)| format!("count(orders{f}{w}) {o} {k}")),
        (order_filter(), window(), op(), 0i64..300)
            .prop_map(|(f, w, o, m)| format!("sum(orders.amount{f}{w}) {o} {m}.00")),
        (order_filter(), window(), op(), 0i64..200)
            .prop_map(|(f, w, o, m)| format!("avg(orders.amount{f}{w}) {o} {m}.25")),
        (window(), op(), 1i64..5).prop_map(|(w, o, k)| format!("max(orders.qty{w}) {o} {k}")),
        (window(), op()).prop_map(|(w, o)| format!("min(orders.category{w}) {o} \"shoes\"")),
        (order_filter(), window(), op(), -60i64..0)
            .prop_map(|(f, w, o, d)| format!("last(orders{f}{w}) {o} {}", date(d))),
        (window(), op()).prop_map(|(w, o)| format!("first(orders{w}) {o} seen_at")),
        (window(), 0i64..3).prop_map(|(w, k)| format!(
            r#"count(events where name = "page_view" and properties.path starts_with "/sale"{w}) >= {k}"#
        )),
        window().prop_map(|w| format!(r#"count(events where name = "app_open"{w}) = 0"#)),
    ]
}

fn rule() -> impl Strategy<Value = String> {
    test().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not {a}")),
        ]
    })
}

/// The customer row as arrays, in the catalog's column order.
fn customer_columns(cs: &[Customer]) -> Vec<ArrayRef> {
    let ids: StringArray = (0..cs.len()).map(|i| Some(format!("c{i:03}"))).collect();
    vec![
        Arc::new(ids),
        Arc::new(Int64Array::from_iter(cs.iter().map(|c| c.age))),
        Arc::new(Float64Array::from_iter(cs.iter().map(|c| c.score))),
        Arc::new(Int64Array::from_iter(cs.iter().map(|c| c.spend))),
        Arc::new(StringArray::from_iter(cs.iter().map(|c| c.country))),
        Arc::new(BooleanArray::from_iter(cs.iter().map(|c| c.vip))),
        Arc::new(Date32Array::from_iter(cs.iter().map(|c| c.joined))),
        Arc::new(
            TimestampMicrosecondArray::from_iter(cs.iter().map(|c| c.seen_at)).with_timezone("UTC"),
        ),
        Arc::new(Int64Array::from_iter(
            cs.iter().map(|c| c.spend.map(|s| s / 3)),
        )),
        Arc::new(interests_column(cs)),
    ]
}

/// The customers' interests as a list column, nulls and empty lists included.
fn interests_column(cs: &[Customer]) -> ListArray {
    let mut b = builder::ListBuilder::new(builder::StringBuilder::new());
    for c in cs {
        for i in c.interests.iter().flatten() {
            b.values().append_value(i);
        }
        b.append(c.interests.is_some());
    }
    b.finish()
}

fn order_columns(cs: &[Customer]) -> (Vec<ArrayRef>, Vec<i32>) {
    let rows: Vec<(usize, &Order)> = cs
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.orders.iter().map(move |o| (i, o)))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(
            (0..rows.len()).map(|k| Some(format!("o{k}"))),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|(i, _)| Some(format!("c{i:03}"))),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter(rows.iter().map(|(_, o)| Some(o.at)))
                .with_timezone("UTC"),
        ),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|(_, o)| Some(o.amount)),
        )),
        Arc::new(StringArray::from_iter(rows.iter().map(|(_, o)| o.category))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|(_, o)| o.qty))),
    ];
    (columns, rows.iter().map(|(i, _)| *i as i32).collect())
}

fn event_columns(cs: &[Customer]) -> (Vec<ArrayRef>, StringArray, Vec<i32>) {
    let rows: Vec<(usize, &Event)> = cs
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.events.iter().map(move |e| (i, e)))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(
            (0..rows.len()).map(|k| Some(format!("e{k}"))),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|(i, _)| Some(format!("c{i:03}"))),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter(rows.iter().map(|(_, e)| Some(e.at)))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|(_, e)| Some(e.name)),
        )),
    ];
    let props = StringArray::from_iter(rows.iter().map(|(_, e)| Some(e.properties)));
    (
        columns,
        props,
        rows.iter().map(|(i, _)| *i as i32).collect(),
    )
}

/// A row of plain values.
struct VecRow {
    values: Vec<Value>,
    properties: Option<&'static str>,
}

impl Row for VecRow {
    fn get(&self, column: usize) -> Value {
        self.values[column].clone()
    }
    fn prop(&self, key: &str) -> Value {
        self.properties
            .and_then(|p| batch::json_string(p, key))
            .map_or(Value::Null, Value::Str)
    }
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> Value) -> Value {
    v.map_or(Value::Null, f)
}

fn batch_members(set: &SegmentSet, cs: &[Customer], cx: Context) -> Vec<Vec<bool>> {
    let columns = customer_columns(cs);
    let mut state = LeafState::new(set, cs.len());
    // The orders in two parts, accumulated apart and merged, as the run reads row groups.
    let (orders, order_idx) = order_columns(cs);
    let half = order_idx.len() / 2;
    for (at, len) in [(0, half), (half, order_idx.len() - half)] {
        let part: Vec<ArrayRef> = orders.iter().map(|c| c.slice(at, len)).collect();
        let mut s = LeafState::for_table(set, cs.len(), TableKind::Orders);
        s.add_batch(TableKind::Orders, &part, None, &order_idx[at..at + len], cx)
            .unwrap();
        state.merge(s);
    }
    let (events, props, event_idx) = event_columns(cs);
    state
        .add_batch(TableKind::Events, &events, Some(&props), &event_idx, cx)
        .unwrap();
    let leaves = state.finish();
    batch::evaluate(set, &columns, &leaves, cx)
        .unwrap()
        .iter()
        .map(|m| m.iter().map(|b| b == Some(true)).collect())
        .collect()
}

fn row_members(set: &SegmentSet, cs: &[Customer], cx: Context) -> Vec<Vec<bool>> {
    let mut out = vec![vec![false; cs.len()]; set.segments.len()];
    for (i, c) in cs.iter().enumerate() {
        let row = VecRow {
            values: vec![
                Value::Str(format!("c{i:03}")),
                opt(c.age, Value::Int),
                opt(c.score, Value::Float),
                opt(c.spend, Value::Int),
                opt(c.country, |s| Value::Str(s.into())),
                opt(c.vip, Value::Bool),
                opt(c.joined, Value::Date),
                opt(c.seen_at, Value::Timestamp),
                opt(c.spend.map(|s| s / 3), Value::Int),
                opt(c.interests.as_ref(), |l| {
                    Value::List(l.iter().map(|s| s.to_string()).collect())
                }),
            ],
            properties: None,
        };
        let orders: Vec<VecRow> = c
            .orders
            .iter()
            .map(|o| VecRow {
                values: vec![
                    Value::Str(String::new()),
                    Value::Str(format!("c{i:03}")),
                    Value::Timestamp(o.at),
                    Value::Int(o.amount),
                    opt(o.category, |s| Value::Str(s.into())),
                    opt(o.qty, Value::Int),
                ],
                properties: None,
            })
            .collect();
        let events: Vec<VecRow> = c
            .events
            .iter()
            .map(|e| VecRow {
                values: vec![
                    Value::Str(String::new()),
                    Value::Str(format!("c{i:03}")),
                    Value::Timestamp(e.at),
                    Value::Str(e.name.into()),
                ],
                properties: Some(e.properties),
            })
            .collect();
        let leaves: Vec<Value> = set
            .leaves
            .iter()
            .map(|l| {
                let rows: Vec<&dyn Row> = match l.table {
                    TableKind::Orders => orders.iter().map(|r| r as &dyn Row).collect(),
                    TableKind::Events => events.iter().map(|r| r as &dyn Row).collect(),
                };
                leaf_value(l, &rows, &cx)
            })
            .collect();
        let mut members = vec![false; set.segments.len()];
        for &s in &set.order {
            members[s] = eval(&set.segments[s].node, &row, &leaves, &members, &cx) == Truth::True;
            out[s][i] = members[s];
        }
    }
    out
}

fn ts_text(us: i64) -> String {
    chrono::DateTime::from_timestamp(us.div_euclid(1_000_000), 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn sqlite_members(set: &SegmentSet, cs: &[Customer]) -> Vec<Vec<bool>> {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re: String = ctx.get(0)?;
            let text: Option<String> = ctx.get(1)?;
            let re =
                regex::Regex::new(&re).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            Ok(text.map(|t| re.is_match(&t)))
        },
    )
    .unwrap();
    db.execute_batch(
        "CREATE TABLE customers (customer_id TEXT, age INTEGER, score REAL, spend INTEGER, country TEXT, vip INTEGER, joined TEXT, seen_at TEXT, spend_90d INTEGER, interests TEXT);
         CREATE TABLE orders (order_id TEXT, customer_id TEXT, ordered_at TEXT, amount INTEGER, category TEXT, qty INTEGER);
         CREATE TABLE events (event_id TEXT, customer_id TEXT, occurred_at TEXT, name TEXT, properties TEXT);",
    )
    .unwrap();
    for (i, c) in cs.iter().enumerate() {
        let id = format!("c{i:03}");
        db.execute(
            "INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                id,
                c.age,
                c.score,
                c.spend,
                c.country,
                c.vip,
                c.joined.map(tessera_rules::print::date),
                c.seen_at.map(ts_text),
                c.spend.map(|s| s / 3),
                c.interests
                    .as_ref()
                    .map(|l| serde_json::to_string(l).unwrap())
            ],
        )
        .unwrap();
        for (k, o) in c.orders.iter().enumerate() {
            db.execute(
                "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    format!("{id}-{k}"),
                    id,
                    ts_text(o.at),
                    o.amount,
                    o.category,
                    o.qty
                ],
            )
            .unwrap();
        }
        for (k, e) in c.events.iter().enumerate() {
            db.execute(
                "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![format!("{id}-{k}"), id, ts_text(e.at), e.name, e.properties],
            )
            .unwrap();
        }
    }
    (0..set.segments.len())
        .map(|s| {
            let query = sql::compile(set, s, AS_OF, Dialect::Sqlite).unwrap();
            let mut stmt = db
                .prepare(&query)
                .unwrap_or_else(|e| panic!("{e}\n{query}"));
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            (0..cs.len())
                .map(|i| ids.contains(&format!("c{i:03}")))
                .collect()
        })
        .collect()
}

/// The Arrow type of a catalog field in the tables the queries read: the clean tables' types,
/// money in integer minor units, timestamps in microseconds with the UTC zone.
fn arrow_type(ty: Type) -> DataType {
    match ty {
        Type::Int | Type::Money => DataType::Int64,
        Type::Float => DataType::Float64,
        Type::String => DataType::Utf8,
        Type::Bool => DataType::Boolean,
        Type::Date => DataType::Date32,
        Type::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Type::List => DataType::new_list(DataType::Utf8, true),
    }
}

fn arrow_fields(schema: &RowSchema) -> Vec<ArrowField> {
    schema
        .fields
        .iter()
        .map(|f| ArrowField::new(&f.name, arrow_type(f.ty), true))
        .collect()
}

/// An in-memory table of one batch; the columns must have the fields' types.
fn mem_table(fields: Vec<ArrowField>, columns: Vec<ArrayRef>) -> Arc<MemTable> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())
}

/// The members by the DataFusion dialect's queries run by DataFusion; `None` for a segment the
/// dialect refuses, which must be for reading event properties.
fn datafusion_members(set: &SegmentSet, cs: &[Customer]) -> Vec<Option<Vec<bool>>> {
    let catalog = &set.catalog;
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let customers = mem_table(arrow_fields(&catalog.customer), customer_columns(cs));
    let orders = mem_table(
        arrow_fields(catalog.orders.as_ref().unwrap()),
        order_columns(cs).0,
    );
    let (mut event_cols, props, _) = event_columns(cs);
    let mut event_fields = arrow_fields(catalog.events.as_ref().unwrap());
    event_fields.push(ArrowField::new("properties", DataType::Utf8, true));
    event_cols.push(Arc::new(props));
    let events = mem_table(event_fields, event_cols);
    ctx.register_table("customers", customers).unwrap();
    ctx.register_table("orders", orders).unwrap();
    ctx.register_table("events", events).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    (0..set.segments.len())
        .map(|s| {
            let query = match sql::compile(set, s, AS_OF, Dialect::DataFusion) {
                Ok(q) => q,
                Err(sql::SqlError::Unsupported { what, .. }) if what == "event properties" => {
                    return None;
                }
                Err(e) => panic!("{e} on {}", set.segments[s].def.rule),
            };
            let batches = runtime
                .block_on(async { ctx.sql(&query).await?.collect().await })
                .unwrap_or_else(|e| panic!("{e}\n{query}"));
            let mut ids = Vec::new();
            for b in &batches {
                let column = arrow_cast::cast(b.column(0), &DataType::Utf8).unwrap();
                ids.extend(
                    column
                        .as_string::<i32>()
                        .iter()
                        .flatten()
                        .map(str::to_owned),
                );
            }
            Some(
                (0..cs.len())
                    .map(|i| ids.contains(&format!("c{i:03}")))
                    .collect(),
            )
        })
        .collect()
}

fn compile(rules: &[String], tz: chrono_tz::Tz) -> SegmentSet {
    let mut defs: Vec<SegmentDef> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| SegmentDef {
            name: format!("s{i}"),
            rule: r.clone(),
            ..Default::default()
        })
        .collect();
    // A segment made of the others, so references are covered too.
    defs.push(SegmentDef {
        name: "both".into(),
        rule: r#"in segment "s0" and not in segment "s1""#.into(),
        ..Default::default()
    });
    SegmentSet::compile(common::catalog(tz), defs, vec![])
        .unwrap_or_else(|e| panic!("generated rules must check: {e:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn batch_row_sqlite_and_datafusion_agree(
        rules in prop::collection::vec(rule(), 2..4),
        customers in prop::collection::vec(customer(), 1..25),
    ) {
        let set = compile(&rules, chrono_tz::UTC);
        let cx = Context { as_of: AS_OF, time_zone: chrono_tz::UTC };
        let row = row_members(&set, &customers, cx);
        let batch = batch_members(&set, &customers, cx);
        let sqlite = sqlite_members(&set, &customers);
        let datafusion = datafusion_members(&set, &customers);
        for s in 0..set.segments.len() {
            let rule = &set.segments[s].def.rule;
            prop_assert_eq!(&batch[s], &row[s], "batch and row differ on {}", rule);
            prop_assert_eq!(&sqlite[s], &row[s], "SQLite and row differ on {}\n{}", rule,
                sql::compile(&set, s, AS_OF, Dialect::Sqlite).unwrap());
            if let Some(datafusion) = &datafusion[s] {
                prop_assert_eq!(datafusion, &row[s], "DataFusion and row differ on {}\n{}", rule,
                    sql::compile(&set, s, AS_OF, Dialect::DataFusion).unwrap());
            }
        }
    }

    /// Calendar days in a zone far from UTC move orders across window edges; the batch path, the
    /// row path and DataFusion agree.
    #[test]
    fn batch_row_and_datafusion_agree_in_other_time_zones(
        rules in prop::collection::vec(rule(), 2..4),
        customers in prop::collection::vec(customer(), 1..25),
        tz in prop::sample::select(vec![chrono_tz::Europe::Berlin, chrono_tz::Pacific::Kiritimati, chrono_tz::America::Los_Angeles]),
    ) {
        let set = compile(&rules, tz);
        let cx = Context { as_of: AS_OF, time_zone: tz };
        let row = row_members(&set, &customers, cx);
        prop_assert_eq!(&batch_members(&set, &customers, cx), &row);
        let datafusion = datafusion_members(&set, &customers);
        for s in 0..set.segments.len() {
            if let Some(datafusion) = &datafusion[s] {
                prop_assert_eq!(datafusion, &row[s], "DataFusion and row differ on {}\n{}",
                    &set.segments[s].def.rule,
                    sql::compile(&set, s, AS_OF, Dialect::DataFusion).unwrap());
            }
        }
    }
}

/// The generator reaches members and non-members alike (a check on the test, not the code).
#[test]
fn generated_rules_select_some_customers() {
    let rules = vec![
        "count(orders last 90 days) >= 1".to_string(),
        "age > 40".to_string(),
    ];
    let set = compile(&rules, chrono_tz::UTC);
    let cs = vec![
        Customer {
            age: Some(50),
            score: None,
            spend: None,
            country: Some("DE"),
            vip: None,
            joined: None,
            seen_at: None,
            interests: None,
            orders: vec![Order {
                at: (i64::from(AS_OF) - 90) * DAY_US,
                amount: 100,
                category: None,
                qty: None,
            }],
            events: vec![],
        },
        Customer {
            age: Some(30),
            score: None,
            spend: None,
            country: None,
            vip: None,
            joined: None,
            seen_at: None,
            interests: None,
            orders: vec![Order {
                at: (i64::from(AS_OF) - 91) * DAY_US + DAY_US - 1,
                amount: 100,
                category: None,
                qty: None,
            }],
            events: vec![],
        },
    ];
    let cx = Context {
        as_of: AS_OF,
        time_zone: chrono_tz::UTC,
    };
    let expected = vec![vec![true, false], vec![true, false], vec![false, false]];
    assert_eq!(row_members(&set, &cs, cx), expected);
    assert_eq!(batch_members(&set, &cs, cx), expected);
    assert_eq!(sqlite_members(&set, &cs), expected);
    let datafusion: Vec<Vec<bool>> = datafusion_members(&set, &cs)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(datafusion, expected);
}

/// Most generated segments compile for DataFusion, so its comparison is not mostly skipped (a
/// check on the test, not the code).
#[test]
fn generated_segments_mostly_compile_for_datafusion() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let rules = prop::collection::vec(rule(), 2..4);
    let (mut compiled, mut total) = (0, 0);
    for _ in 0..200 {
        let set = compile(
            &rules.new_tree(&mut runner).unwrap().current(),
            chrono_tz::UTC,
        );
        for s in 0..set.segments.len() {
            total += 1;
            match sql::compile(&set, s, AS_OF, Dialect::DataFusion) {
                Ok(_) => compiled += 1,
                Err(sql::SqlError::Unsupported { what, .. }) => {
                    assert_eq!(what, "event properties")
                }
            }
        }
    }
    assert!(
        compiled * 4 >= total * 3,
        "{compiled} of {total} segments compile for DataFusion"
    );
}
