//! The feature table against a naive oracle: a demo shop goes through the real binary, then every
//! feature is recomputed here from the clean tables, customer by customer, with chrono-tz for
//! calendar days, and compared with `features.parquet`.

use arrow_array::RecordBatch;
mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt32Type};
use chrono::TimeZone;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

fn table(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Column `name` of every batch, as text/number options per row.
fn strings(t: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    t.iter()
        .flat_map(|b| {
            b.column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ints<T: arrow_array::ArrowPrimitiveType>(
    t: &[RecordBatch],
    name: &str,
) -> Vec<Option<T::Native>> {
    t.iter()
        .flat_map(|b| {
            b.column_by_name(name)
                .unwrap()
                .as_primitive::<T>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An order as the oracle sees it: local day, amount, category, channel.
type Order = (chrono::NaiveDate, i64, Option<String>, Option<String>);

const AS_OF: &str = "2026-01-01";

#[test]
fn every_feature_matches_a_recomputation_from_the_clean_tables() {
    let dir = tempfile::tempdir().unwrap();
    common::run_ok(
        dir.path(),
        &[
            "--quiet",
            "demo",
            "--out",
            "demo",
            "--customers",
            "400",
            "--seed",
            "11",
        ],
    );
    let clean = dir.path().join("demo/out/clean");
    let features = table(&dir.path().join("demo/out/features.parquet"));
    let tz = chrono_tz::Europe::Berlin; // the demo's time zone
    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    let day = |micros: i64| tz.timestamp_micros(micros).unwrap().date_naive();

    // Orders by customer: (day, amount, category, channel).
    let orders = table(&clean.join("orders.parquet"));
    let mut by_customer: HashMap<String, Vec<Order>> = HashMap::new();
    let (oc, ot, oa) = (
        strings(&orders, "customer_id"),
        ints::<TimestampMicrosecondType>(&orders, "ordered_at"),
        ints::<Int64Type>(&orders, "amount"),
    );
    let (ocat, ochan) = (strings(&orders, "category"), strings(&orders, "channel"));
    for i in 0..oc.len() {
        by_customer
            .entry(oc[i].clone().unwrap())
            .or_default()
            .push((
                day(ot[i].unwrap()),
                oa[i].unwrap(),
                ocat[i].clone(),
                ochan[i].clone(),
            ));
    }
    // Latest NPS by customer.
    let fb = table(&clean.join("feedback.parquet"));
    let (fc, ft, fk, fs) = (
        strings(&fb, "customer_id"),
        ints::<TimestampMicrosecondType>(&fb, "given_at"),
        strings(&fb, "kind"),
        ints::<Float64Type>(&fb, "score"),
    );
    let as_of_micros = tz
        .from_local_datetime(&as_of.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp_micros();
    let mut nps: HashMap<String, (i64, f64)> = HashMap::new();
    for i in 0..fc.len() {
        if fk[i].as_deref() == Some("nps") && ft[i].unwrap() < as_of_micros {
            let e = nps.entry(fc[i].clone().unwrap()).or_insert((i64::MIN, 0.0));
            if ft[i].unwrap() >= e.0 {
                *e = (ft[i].unwrap(), fs[i].unwrap());
            }
        }
    }
    // page_view events in the last 30 days.
    let ev = table(&clean.join("events.parquet"));
    let (ec, et, en) = (
        strings(&ev, "customer_id"),
        ints::<TimestampMicrosecondType>(&ev, "occurred_at"),
        strings(&ev, "name"),
    );
    let eprops = strings(&ev, "properties");
    let mut views_30: HashMap<String, u32> = HashMap::new();
    let mut sale_views_90: HashMap<String, i64> = HashMap::new();
    for i in 0..ec.len() {
        let d = day(et[i].unwrap());
        if en[i].as_deref() == Some("page_view") && d < as_of && (as_of - d).num_days() <= 30 {
            *views_30.entry(ec[i].clone().unwrap()).or_default() += 1;
        }
        // The demo's custom feature `sale_page_views_90d`.
        if en[i].as_deref() == Some("page_view")
            && d < as_of
            && (as_of - d).num_days() <= 90
            && eprops[i]
                .as_deref()
                .is_some_and(|p| p.contains("\"/sale\""))
        {
            *sale_views_90.entry(ec[i].clone().unwrap()).or_default() += 1;
        }
    }

    // Sign-up days by customer.
    let customers = table(&clean.join("customers.parquet"));
    let signed_up: HashMap<String, chrono::NaiveDate> = strings(&customers, "customer_id")
        .into_iter()
        .zip(ints::<TimestampMicrosecondType>(&customers, "signed_up_at"))
        .filter_map(|(id, t)| Some((id?, day(t?))))
        .collect();

    let ids = strings(&features, "customer_id");
    let tenure = ints::<Int32Type>(&features, "tenure_days");
    let (freq, total, recency) = (
        ints::<UInt32Type>(&features, "frequency"),
        ints::<Int64Type>(&features, "monetary_total"),
        ints::<Int32Type>(&features, "recency_days"),
    );
    let (o90, s90, refunds) = (
        ints::<UInt32Type>(&features, "orders_90d"),
        ints::<Int64Type>(&features, "spend_90d"),
        ints::<UInt32Type>(&features, "refunds_count"),
    );
    let (top, chan, nps_latest) = (
        strings(&features, "top_category"),
        strings(&features, "preferred_channel"),
        ints::<Float64Type>(&features, "nps_latest"),
    );
    let views = ints::<UInt32Type>(&features, "events_page_view_30d");
    // The demo config's custom SQL features.
    let (shoes, distinct, largest, sale_views) = (
        ints::<Int64Type>(&features, "shoes_spend_365d"),
        ints::<Int64Type>(&features, "distinct_categories"),
        ints::<Int64Type>(&features, "largest_order"),
        ints::<Int64Type>(&features, "sale_page_views_90d"),
    );
    assert_eq!(
        ids.len(),
        strings(&table(&clean.join("customers.parquet")), "customer_id").len()
    );
    let mut checked_with_orders = 0;
    for (i, id) in ids.iter().enumerate() {
        let id = id.clone().unwrap();
        let mine: Vec<_> = by_customer
            .get(&id)
            .map(|v| v.iter().filter(|o| o.0 < as_of).cloned().collect())
            .unwrap_or_default();
        let purchases: Vec<_> = mine.iter().filter(|o| o.1 > 0).collect();
        // First seen: sign-up or first order of any amount, whichever is earlier, before as_of.
        let seen = mine
            .iter()
            .map(|o| o.0)
            .chain(signed_up.get(&id).copied().filter(|d| *d < as_of))
            .min();
        assert_eq!(
            tenure[i],
            seen.map(|d| (as_of - d).num_days() as i32),
            "{id} tenure_days"
        );
        assert_eq!(freq[i], Some(purchases.len() as u32), "{id} frequency");
        assert_eq!(
            total[i],
            Some(purchases.iter().map(|o| o.1).sum::<i64>()),
            "{id} monetary_total"
        );
        let last = purchases.iter().map(|o| o.0).max();
        assert_eq!(
            recency[i],
            last.map(|l| (as_of - l).num_days() as i32),
            "{id} recency"
        );
        let in90: Vec<_> = purchases
            .iter()
            .filter(|o| (as_of - o.0).num_days() <= 90)
            .collect();
        assert_eq!(
            (o90[i], s90[i]),
            (
                Some(in90.len() as u32),
                Some(in90.iter().map(|o| o.1).sum::<i64>())
            ),
            "{id} 90 days"
        );
        assert_eq!(
            refunds[i],
            Some(mine.iter().filter(|o| o.1 < 0).count() as u32),
            "{id} refunds"
        );
        let mut spend: BTreeMap<String, i64> = BTreeMap::new();
        let mut count: BTreeMap<String, u32> = BTreeMap::new();
        for o in &purchases {
            if let Some(c) = &o.2 {
                *spend.entry(c.clone()).or_default() += o.1;
            }
            if let Some(c) = &o.3 {
                *count.entry(c.clone()).or_default() += 1;
            }
        }
        // Largest, ties to the first name in order (BTreeMap iterates in name order).
        let best = |m: BTreeMap<String, i64>| {
            m.into_iter()
                .fold(None, |b: Option<(String, i64)>, (k, v)| {
                    if v > 0 && b.as_ref().is_none_or(|(_, bv)| v > *bv) {
                        Some((k, v))
                    } else {
                        b
                    }
                })
                .map(|(k, _)| k)
        };
        assert_eq!(top[i], best(spend), "{id} top_category");
        assert_eq!(
            chan[i],
            best(count.into_iter().map(|(k, v)| (k, i64::from(v))).collect()),
            "{id} preferred_channel"
        );
        assert_eq!(nps_latest[i], nps.get(&id).map(|e| e.1), "{id} nps_latest");
        assert_eq!(
            views[i],
            Some(views_30.get(&id).copied().unwrap_or(0)),
            "{id} page views"
        );
        let shoes_365: Vec<i64> = mine
            .iter()
            .filter(|o| o.2.as_deref() == Some("shoes") && (as_of - o.0).num_days() <= 365)
            .map(|o| o.1)
            .collect();
        assert_eq!(
            shoes[i],
            (!shoes_365.is_empty()).then(|| shoes_365.iter().sum()),
            "{id} shoes_spend_365d"
        );
        let categories: std::collections::BTreeSet<_> =
            mine.iter().filter_map(|o| o.2.as_ref()).collect();
        assert_eq!(
            distinct[i],
            Some(categories.len() as i64),
            "{id} distinct_categories"
        );
        assert_eq!(
            largest[i],
            mine.iter().map(|o| o.1).max(),
            "{id} largest_order"
        );
        assert_eq!(
            sale_views[i],
            Some(sale_views_90.get(&id).copied().unwrap_or(0)),
            "{id} sale_page_views_90d"
        );
        checked_with_orders += usize::from(!purchases.is_empty());
    }
    assert!(checked_with_orders > 300, "{checked_with_orders}");

    // Every column but the custom features' is one whose name the config refuses to a custom
    // feature or an attribute, so that no name of one's own can meet a built-in column.
    let path = dir.path().join("demo/tessera.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = tessera_core::Config::from_toml(&text, &path).unwrap();
    let custom: Vec<&str> = config
        .features
        .custom
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let schema = features[0].schema();
    let built_in = schema.fields().iter().map(|f| f.name().as_str());
    let built_in: Vec<&str> = built_in.filter(|n| !custom.contains(n)).collect();
    assert!(built_in.iter().any(|n| n.starts_with("category_share_")));
    assert!(built_in.iter().any(|n| n.starts_with("events_")));
    for name in built_in {
        assert!(config.features.column_taken(name).is_some(), "{name}");
    }
}
