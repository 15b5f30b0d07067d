//! The sorted, one-pass order features against a naive oracle that recomputes every feature from
//! each customer's full order list, on random orders with ties, refunds and zero amounts.

use proptest::prelude::*;
use tessera_features::btyd::TimeUnit;
use tessera_features::orders::{
    ByCustomer, NONE, OrderFact, OrderParams, order_features, order_features_by_customer,
};

/// What the oracle expects for one customer.
struct Expected {
    freq: u32,
    days: u32,
    total: i64,
    first: Option<i32>,
    last: Option<i32>,
    wn: Vec<u32>,
    ws: Vec<i64>,
    refunds: u32,
    refunded: i64,
    x: u32,
    t: f64,
    category_spend: Vec<i64>,
    top_category: Option<u16>,
    preferred_channel: Option<u16>,
}

fn naive(customer: u32, all: &[OrderFact], p: &OrderParams) -> Expected {
    let mine: Vec<&OrderFact> = all
        .iter()
        .filter(|o| o.customer == customer && o.day < p.as_of)
        .collect();
    let purchases: Vec<&&OrderFact> = mine.iter().filter(|o| o.amount > 0).collect();
    let mut days: Vec<i32> = purchases.iter().map(|o| o.day).collect();
    days.sort();
    days.dedup();
    let first = days.first().copied();
    let last = days.last().copied();
    let windows_n = p
        .windows
        .iter()
        .map(|w| {
            purchases
                .iter()
                .filter(|o| o.day >= p.as_of - *w as i32)
                .count() as u32
        })
        .collect();
    let windows_s = p
        .windows
        .iter()
        .map(|w| {
            purchases
                .iter()
                .filter(|o| o.day >= p.as_of - *w as i32)
                .map(|o| o.amount)
                .sum()
        })
        .collect();
    let refunds: Vec<&&OrderFact> = mine.iter().filter(|o| o.amount < 0).collect();
    // BTYD: transaction days are days with a non-refund order; x = distinct days - 1.
    let mut tdays: Vec<i32> = mine
        .iter()
        .filter(|o| o.amount >= 0)
        .map(|o| o.day)
        .collect();
    tdays.sort();
    tdays.dedup();
    let x = tdays.len().saturating_sub(1) as u32;
    let category_spend: Vec<i64> = (0..3u16)
        .map(|k| {
            purchases
                .iter()
                .filter(|o| o.category == k)
                .map(|o| o.amount)
                .sum()
        })
        .collect();
    let channel_orders: Vec<usize> = (0..2u16)
        .map(|k| purchases.iter().filter(|o| o.channel == k).count())
        .collect();
    // Largest positive, first of equals.
    let best = |v: Vec<i64>| {
        v.iter()
            .enumerate()
            .filter(|(_, x)| **x > 0)
            .fold(None, |b: Option<(usize, i64)>, (i, x)| {
                if b.is_none_or(|(_, bx)| *x > bx) {
                    Some((i, *x))
                } else {
                    b
                }
            })
            .map(|(i, _)| i as u16)
    };
    let t = tdays
        .first()
        .map_or(0.0, |f| f64::from(p.as_of - 1 - f) / 7.0);
    Expected {
        freq: purchases.len() as u32,
        days: days.len() as u32,
        total: purchases.iter().map(|o| o.amount).sum(),
        first,
        last,
        wn: windows_n,
        ws: windows_s,
        refunds: refunds.len() as u32,
        refunded: -refunds.iter().map(|o| o.amount).sum::<i64>(),
        x,
        t,
        top_category: best(category_spend.clone()),
        category_spend,
        preferred_channel: best(channel_orders.iter().map(|&c| c as i64).collect()),
    }
}

proptest! {
    #[test]
    fn one_pass_equals_recomputation(raw in prop::collection::vec((0u32..12, 0i32..60, -500i64..2000, 0u16..4, 0u16..3), 0..300), as_of in 20i32..70, extra in prop::collection::vec(0u32..14, 0..10)) {
        // Category 3 and channel 2 stand for "none".
        let none = |v: u16, n: u16| if v == n { NONE } else { v };
        let facts: Vec<OrderFact> = raw.iter().map(|&(customer, day, amount, category, channel)| OrderFact { customer, day, amount: if amount > 1500 { 0 } else { amount }, category: none(category, 3), channel: none(channel, 2) }).collect();
        let original = facts.clone();
        let p = OrderParams { as_of, windows: vec![7, 30], unit: TimeUnit::Weeks, holdout_start: None, categories: 3 };
        let got = order_features(12, &facts, &p);
        // Placed as they are read, with room counted beforehand for a few orders that make no
        // fact (and for customers beyond the table, left out): the same features.
        let counted: Vec<u32> = original.iter().map(|f| f.customer).chain(extra).collect();
        let mut placed = ByCustomer::new(12, &counted);
        for f in &original {
            placed.place(*f);
        }
        prop_assert_eq!(&order_features_by_customer(12, placed, &p), &got);
        for (c, f) in got.iter().enumerate() {
            let Expected { freq, days, total, first, last, wn, ws, refunds, refunded, x, t, category_spend, top_category, preferred_channel } = naive(c as u32, &original, &p);
            // Kept for the categories bought in only.
            let bought: Vec<(u16, i64)> = category_spend.iter().enumerate().filter(|(_, s)| **s > 0).map(|(k, s)| (k as u16, *s)).collect();
            prop_assert_eq!(&f.category_spend, &bought);
            for k in 0..3u16 {
                prop_assert_eq!(f.spend_in(k), category_spend[usize::from(k)]);
            }
            prop_assert_eq!(f.top_category, top_category);
            prop_assert_eq!(f.preferred_channel, preferred_channel);
            prop_assert_eq!(f.frequency, freq);
            prop_assert_eq!(f.purchase_days, days);
            prop_assert_eq!(f.monetary_total, total);
            prop_assert_eq!(f.first_purchase, first);
            prop_assert_eq!(f.last_purchase, last);
            prop_assert_eq!(f.recency_days, last.map(|l| as_of - l));
            prop_assert_eq!(&f.window_orders, &wn);
            prop_assert_eq!(&f.window_spend, &ws);
            prop_assert_eq!((f.refunds, f.refund_amount), (refunds, refunded));
            prop_assert_eq!(f.monetary_avg, (freq > 0).then(|| total as f64 / f64::from(freq)));
            match &f.btyd {
                Some(b) => {
                    prop_assert_eq!(b.x, x);
                    prop_assert!((b.t - t).abs() < 1e-9);
                }
                None => prop_assert_eq!(x, 0),
            }
            if days > 1 {
                let expected = f64::from(last.unwrap() - first.unwrap()) / f64::from(days - 1);
                prop_assert_eq!(f.avg_days_between, Some(expected));
            } else {
                prop_assert_eq!(f.avg_days_between, None);
            }
        }
    }
}
