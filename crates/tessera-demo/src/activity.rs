//! Tracked events of one customer: sessions around web/app purchases,
//! browsing that fades after dropout, and email engagement.

use rand::RngExt;

use crate::calendar::{Calendar, DAY, END_DAY, END_UTC};
use crate::latent::TYPES;
use crate::model::{Customer, Rng, pick};
use crate::sim::{Event, Order, between, ev, exp1};

/// UTC hour-of-day weights for browsing sessions.
const UTC_HOURS: [f64; 24] = [
    1., 0.5, 0.3, 0.3, 0.5, 1., 2., 3., 4., 4., 4., 5., 5., 5., 5., 6., 7., 8., 9., 9., 7., 5., 3.,
    2.,
];
/// Browsing after dropout decays with this time constant (days).
const TAU: f64 = 45.0;
/// Email opens after dropout decay with this time constant (days).
const EMAIL_TAU: f64 = 60.0;

/// Collects events, dropping any outside the observation window.
struct Events<'a> {
    out: &'a mut Vec<Event>,
}

impl Events<'_> {
    fn push(&mut self, utc: i64, name: u8, prop: u32) {
        if (0..END_UTC).contains(&utc) {
            self.out.push(Event { utc, name, prop });
        }
    }
}

/// Simulates the customer's events and appends them, in time order, to `out`.
pub(crate) fn events(
    rng: &mut Rng,
    cal: &Calendar,
    c: &Customer,
    orders: &[Order],
    out: &mut Vec<Event>,
) {
    let start = out.len();
    let mut log = Events { out };
    // Only customers who accepted tracking leave web/app events; email opens
    // are tracked for everyone who opted in.
    let tracked = rng.random_bool(if c.device != 0 { 0.8 } else { 0.65 });
    if tracked {
        for i in c.orders.0..c.orders.1 {
            purchase_session(rng, cal, &orders[i as usize], i, &mut log);
        }
        let first = orders[c.orders.0 as usize].local / DAY;
        browsing(rng, c, first as f64, &mut log);
    }
    if c.email {
        emails(rng, cal, c, &mut log);
    }
    out[start..].sort_by_key(|e| e.utc);
}

/// The funnel before a web or app checkout (`index` is the chunk order index).
fn purchase_session(rng: &mut Rng, cal: &Calendar, o: &Order, index: u32, log: &mut Events) {
    if o.refund || o.channel > 1 {
        return;
    }
    let cat = u32::from(o.category);
    let mut s = cal.local_to_utc(o.local) - between(rng, 5, 120);
    log.push(s, ev::CHECKOUT, index);
    if rng.random_bool(0.6) {
        s -= between(rng, 60, 900);
        log.push(s, ev::ADD_TO_CART, cat | u32::from(o.items.min(9)) << 8);
        if rng.random_bool(0.35) {
            s -= between(rng, 30, 600);
            log.push(s, ev::PRODUCT_VIEW, cat);
        }
    }
    if rng.random_bool(0.1) {
        s -= between(rng, 20, 300);
        log.push(s, ev::SEARCH, cat * 3 + rng.random_range(0..3u32));
    }
    if o.channel == 1 && rng.random_bool(0.4) {
        log.push(
            s - between(rng, 5, 60),
            ev::APP_OPEN,
            rng.random_range(0..4u32),
        );
    } else if o.channel == 0 && rng.random_bool(0.2) {
        log.push(s - between(rng, 5, 60), ev::PAGE_VIEW, 100 + cat);
    }
}

/// Browsing sessions: a Poisson process at a rate tied to the purchase rate
/// while alive, with intensity `rate * exp(-(t - death) / TAU)` after dropout.
fn browsing(rng: &mut Rng, c: &Customer, first: f64, log: &mut Events) {
    let rate = (c.lambda * 0.3 + 0.005) / 7.0;
    let death = c.death.unwrap_or(f64::INFINITY);
    let categories = &TYPES[c.latent].categories;
    // `op` is time at the full rate; past dropout it maps to real time through
    // the inverse of the cumulative intensity TAU * (1 - exp(-(t - death) / TAU)).
    let mut op = first;
    loop {
        op += exp1(rng) / rate;
        let time = if op < death {
            op
        } else {
            let x = (op - death) / TAU;
            if x >= 1.0 {
                return;
            }
            death - TAU * (1.0 - x).ln()
        };
        if time >= END_DAY as f64 {
            return;
        }
        let mut s = time as i64 * DAY + pick(rng, &UTC_HOURS) as i64 * 3600 + between(rng, 0, 3600);
        if c.device != 0 && rng.random_bool(0.5) {
            log.push(s, ev::APP_OPEN, rng.random_range(0..4u32));
        } else {
            log.push(s, ev::PAGE_VIEW, rng.random_range(0..5u32));
        }
        for _ in 0..1 + u32::from(rng.random_bool(0.5)) {
            s += between(rng, 20, 300);
            let cat = if rng.random_bool(0.5) {
                u32::from(c.favorite)
            } else {
                pick(rng, categories) as u32
            };
            if rng.random_bool(0.3) {
                log.push(s, ev::SEARCH, cat * 3 + rng.random_range(0..3u32));
            } else {
                log.push(s, ev::PRODUCT_VIEW, cat);
            }
        }
    }
}

/// Opens and clicks of campaign emails sent after signup; fading after dropout.
fn emails(rng: &mut Rng, cal: &Calendar, c: &Customer, log: &mut Events) {
    let death = c.death.unwrap_or(f64::INFINITY);
    for &(day, campaign) in cal.campaigns() {
        if day < c.signup {
            continue;
        }
        let gone = (day as f64 - death).max(0.0);
        if rng.random_bool(0.12 * (-gone / EMAIL_TAU).exp()) {
            let open = day * DAY + 9 * 3600 + (exp1(rng) * 5.0 * 3600.0) as i64;
            log.push(open, ev::EMAIL_OPEN, u32::from(campaign));
            if rng.random_bool(0.3) {
                log.push(
                    open + between(rng, 5, 300),
                    ev::EMAIL_CLICK,
                    u32::from(campaign),
                );
            }
        }
    }
}
