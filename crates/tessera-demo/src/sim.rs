//! The buy-till-you-die process of one customer and the orders, events and
//! feedback it leaves behind.

use rand::RngExt;
use rand_distr::{Distribution, Exp1, Gamma};

use crate::calendar::{Calendar, DAY, END_DAY, SEASON_MAX};
use crate::catalog::{COMMENTS, UNIT_PRICE};
use crate::latent::{BUSINESS, TYPES};
use crate::model::{Customer, Rng, pick};

/// One order row; refunds have negative `cents`.
pub(crate) struct Order {
    /// Local Berlin time, seconds since 2023-01-01 00:00.
    pub local: i64,
    pub cents: i64,
    pub category: u8,
    pub channel: u8,
    pub items: u8,
    pub refund: bool,
}

/// Event names, in the order of `catalog::EVENT_NAMES`.
pub(crate) mod ev {
    pub const PAGE_VIEW: u8 = 0;
    pub const PRODUCT_VIEW: u8 = 1;
    pub const ADD_TO_CART: u8 = 2;
    pub const CHECKOUT: u8 = 3;
    pub const EMAIL_OPEN: u8 = 4;
    pub const EMAIL_CLICK: u8 = 5;
    pub const APP_OPEN: u8 = 6;
    pub const SEARCH: u8 = 7;
}

/// One tracked event. `prop` depends on the name: page (categories are
/// `100 + category`), category (+ quantity << 8), chunk order index,
/// campaign index, app version or query index.
pub(crate) struct Event {
    pub utc: i64,
    pub name: u8,
    pub prop: u32,
}

/// A free-text comment assembled from catalog sentences.
#[derive(Clone, Copy)]
pub(crate) struct Comment {
    pub sentiment: u8,
    pub first: u8,
    pub second: Option<u8>,
    pub newline: bool,
}

/// One survey answer (NPS 0..=10 or CSAT 1..=5).
pub(crate) struct Feedback {
    pub day: i64,
    pub nps: bool,
    pub score: u8,
    pub comment: Option<Comment>,
}

/// Local hour-of-day weights for hours 07..=23 (consumers, business buyers).
const ORDER_HOURS: [[f64; 17]; 2] = [
    [
        1., 2., 3., 4., 5., 6., 6., 5., 5., 5., 6., 7., 9., 10., 9., 6., 3.,
    ],
    [
        2., 6., 9., 10., 9., 6., 8., 9., 8., 6., 3., 1., 1., 1., 0.5, 0.3, 0.2,
    ],
];

fn order_time(rng: &mut Rng, day: i64, business: bool) -> i64 {
    let hour = 7 + pick(rng, &ORDER_HOURS[usize::from(business)]) as i64;
    day * DAY + hour * 3600 + i64::from(rng.random_range(0..3600u32))
}

/// A standard exponential draw.
pub(crate) fn exp1(rng: &mut Rng) -> f64 {
    Exp1.sample(rng)
}

/// A uniformly random whole number in `lo..hi`.
pub(crate) fn between(rng: &mut Rng, lo: u32, hi: u32) -> i64 {
    i64::from(rng.random_range(lo..hi))
}

/// Simulates purchases (and refunds) of `c`, appending them to `orders`.
pub(crate) fn purchases(rng: &mut Rng, cal: &Calendar, c: &mut Customer, orders: &mut Vec<Order>) {
    let t = &TYPES[c.latent];
    let start = orders.len();
    let business = c.latent == BUSINESS;
    let spend = Gamma::new(t.p_spend, 1.0 / c.nu).expect("positive parameters");
    let delay = if rng.random_bool(0.6) {
        0
    } else {
        1 + (3.0 * exp1(rng)) as i64
    };
    let first = (c.signup + delay).min(END_DAY - 1);
    let rate = c.lambda / 7.0 * SEASON_MAX;
    let mut time = first as f64 + rng.random::<f64>();
    let mut repeat = false;
    'life: loop {
        let day = time as i64;
        let local = order_time(rng, day, business);
        let value: f64 = spend.sample(rng);
        let cents = (value.clamp(2.0, 2000.0) * 100.0).round() as i64;
        let mut category = if rng.random_bool(0.45) {
            c.favorite as usize
        } else {
            pick(rng, &t.categories)
        };
        // Big baskets lean to electronics/home, small ones to accessories/beauty/books.
        if value > 400.0 && rng.random_bool(0.5) {
            category = 3 + usize::from(rng.random_bool(0.35));
        } else if value < 15.0 && rng.random_bool(0.5) {
            category = [2, 5, 7][rng.random_range(0..3usize)];
        }
        let ratio = value / UNIT_PRICE[category] * rng.random_range(0.6..1.4);
        let items = ratio.round().clamp(1.0, 20.0) as u8;
        let mut channel = pick(rng, &t.channels) as u8;
        if channel == 1 && c.device == 0 {
            channel = 0;
        }
        let category = category as u8;
        orders.push(Order {
            local,
            cents,
            category,
            channel,
            items,
            refund: false,
        });
        if rng.random_bool(t.refund) {
            let rday = day + between(rng, 2, 30);
            if rday < END_DAY {
                let back = if items > 1 && rng.random_bool(0.35) {
                    rng.random_range(1..items)
                } else {
                    items
                };
                let refund = (cents * i64::from(back) / i64::from(items)).max(1);
                let local = order_time(rng, rday, business);
                orders.push(Order {
                    local,
                    cents: -refund,
                    category,
                    channel,
                    items: back,
                    refund: true,
                });
            }
        }
        if repeat && rng.random_bool(c.p) {
            c.death = Some(time);
            break;
        }
        repeat = true;
        // Next purchase: exponential gaps, thinned by the seasonal multiplier.
        loop {
            time += exp1(rng) / rate;
            if time >= END_DAY as f64 {
                break 'life;
            }
            if rng.random::<f64>() * SEASON_MAX < cal.season(time as i64) {
                break;
            }
        }
    }
    orders[start..].sort_by_key(|o| o.local);
    c.orders = (start as u32, orders.len() as u32);
}

/// Simulates survey answers: CSAT after some purchases and refunds, NPS once.
pub(crate) fn feedback(rng: &mut Rng, c: &Customer, orders: &[Order], out: &mut Vec<Feedback>) {
    let t = &TYPES[c.latent];
    let start = out.len();
    for o in &orders[c.orders.0 as usize..c.orders.1 as usize] {
        let (p, weights) = if o.refund {
            (0.15, &[35., 30., 20., 10., 5.])
        } else {
            (0.04, &t.csat)
        };
        if rng.random_bool(p) {
            let day = o.local / DAY + between(rng, 1, 11);
            let score = 1 + pick(rng, weights) as u8;
            if day < END_DAY {
                let comment = comment(rng, sentiment(score, false));
                out.push(Feedback {
                    day,
                    nps: false,
                    score,
                    comment,
                });
            }
        }
    }
    let first = orders[c.orders.0 as usize].local / DAY + 14;
    if first < END_DAY && rng.random_bool(t.nps_reply) {
        let day = first + between(rng, 0, (END_DAY - first) as u32);
        let mut score = pick(rng, &t.nps) as u8;
        if c.death.is_some_and(|d| d < day as f64) && rng.random_bool(0.6) {
            score = score.saturating_sub(rng.random_range(2..5u8));
        }
        let comment = comment(rng, sentiment(score, true));
        out.push(Feedback {
            day,
            nps: true,
            score,
            comment,
        });
    }
    out[start..].sort_by_key(|f| f.day);
}

/// 0 = positive, 1 = neutral, 2 = negative (NPS promoters / passives / detractors).
fn sentiment(score: u8, nps: bool) -> u8 {
    let (good, fair) = if nps { (9, 7) } else { (4, 3) };
    if score >= good {
        0
    } else if score >= fair {
        1
    } else {
        2
    }
}

fn comment(rng: &mut Rng, sentiment: u8) -> Option<Comment> {
    let pool = COMMENTS[usize::from(sentiment)].len() as u8;
    rng.random_bool(0.4).then(|| {
        let second = rng.random_bool(0.4).then(|| rng.random_range(0..pool));
        Comment {
            sentiment,
            first: rng.random_range(0..pool),
            second,
            newline: second.is_some() && rng.random_bool(0.05),
        }
    })
}
