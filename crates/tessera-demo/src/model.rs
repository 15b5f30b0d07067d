//! Latent customer types and the per-customer draws of attributes and
//! buy-till-you-die parameters.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Gamma, StandardNormal};

use crate::calendar::SIGNUP_LAST_DAY;
use crate::catalog::CITIES;
use crate::latent::{BUSINESS, TYPES};

/// The random number generator used everywhere.
pub(crate) type Rng = ChaCha8Rng;

/// One simulated customer: attributes, latent truth and row ranges.
#[derive(Default)]
pub(crate) struct Customer {
    pub latent: usize,
    pub signup: i64,
    pub age: u8,
    pub gender: u8,
    pub country: u8,
    pub city: u8,
    /// (company size, industry) for business buyers.
    pub company: Option<(u8, u8)>,
    pub device: u8,
    pub os: u8,
    pub browser: u8,
    pub email: bool,
    pub sms: bool,
    pub loyalty: bool,
    pub favorite: u8,
    /// Purchase rate per week.
    pub lambda: f64,
    /// Dropout probability after each repeat purchase.
    pub p: f64,
    /// Rate of the Gamma order-value distribution (mean order value = p_spend / nu).
    pub nu: f64,
    /// Time (days since 2023-01-01) of the dropout, if it happened.
    pub death: Option<f64>,
    pub orders: (u32, u32),
    pub events: (u32, u32),
    pub feedback: (u32, u32),
}

/// Picks an index of `items` with probability proportional to `weight`.
pub(crate) fn pick_by<T>(rng: &mut Rng, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let mut x = rng.random::<f64>() * items.iter().map(&weight).sum::<f64>();
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if x < w {
            return i;
        }
        x -= w;
    }
    items.len() - 1
}

/// Picks an index with probability proportional to `weights`.
pub(crate) fn pick(rng: &mut Rng, weights: &[f64]) -> usize {
    pick_by(rng, weights, |w| *w)
}

fn gamma(rng: &mut Rng, shape: f64, rate: f64) -> f64 {
    Gamma::new(shape, 1.0 / rate)
        .expect("positive parameters")
        .sample(rng)
}

/// Draws a customer's latent type, attributes and BG/NBD + Gamma-Gamma parameters.
pub(crate) fn draw_customer(rng: &mut Rng) -> Customer {
    let latent = pick_by(rng, &TYPES, |t| t.share);
    let t = &TYPES[latent];
    // Signups grow over time: a mix of uniform and linearly increasing density.
    let u: f64 = rng.random();
    let x = if rng.random_bool(0.5) { u } else { u.sqrt() };
    let signup = ((x * (SIGNUP_LAST_DAY + 1) as f64) as i64).min(SIGNUP_LAST_DAY);
    let z: f64 = StandardNormal.sample(rng);
    let age = (t.age.0 + t.age.1 * z).round().clamp(18.0, 90.0) as u8;
    let country = pick(rng, &t.countries);
    let cities = CITIES[country];
    let city = pick_by(rng, cities, |c| c.1);
    let company = (latent == BUSINESS).then(|| {
        let size = pick(rng, &[35.0, 30.0, 18.0, 10.0, 7.0]) as u8;
        let industry = pick(rng, &[20.0, 15.0, 10.0, 8.0, 18.0, 12.0, 9.0, 8.0]) as u8;
        (size, industry)
    });
    let device = pick(rng, &t.devices);
    let os = match (device, latent) {
        (0, BUSINESS) => pick(rng, &[85.0, 12.0, 3.0, 0.0, 0.0]),
        (0, 0) => pick(rng, &[55.0, 40.0, 5.0, 0.0, 0.0]),
        (0, _) => pick(rng, &[70.0, 25.0, 5.0, 0.0, 0.0]),
        (1, 0) => pick(rng, &[0.0, 0.0, 0.0, 60.0, 40.0]),
        (1, 2) => pick(rng, &[0.0, 0.0, 0.0, 30.0, 70.0]),
        (1, _) => pick(rng, &[0.0, 0.0, 0.0, 45.0, 55.0]),
        _ => pick(rng, &[0.0, 0.0, 0.0, 70.0, 30.0]),
    };
    let browser = match os {
        0 => pick(rng, &[65.0, 0.0, 10.0, 25.0, 0.0]),
        1 => pick(rng, &[35.0, 60.0, 5.0, 0.0, 0.0]),
        2 => pick(rng, &[45.0, 0.0, 55.0, 0.0, 0.0]),
        3 => pick(rng, &[15.0, 85.0, 0.0, 0.0, 0.0]),
        _ => pick(rng, &[72.0, 0.0, 6.0, 0.0, 22.0]),
    };
    let favorite = pick(rng, &t.categories) as u8;
    let lambda = gamma(rng, t.r, t.alpha);
    let p = Beta::new(t.a, t.b)
        .expect("positive parameters")
        .sample(rng);
    let nu = gamma(rng, t.q, t.gamma);
    Customer {
        latent,
        signup,
        age,
        gender: pick(rng, &t.gender) as u8,
        country: country as u8,
        city: city as u8,
        company,
        device: device as u8,
        os: os as u8,
        browser: browser as u8,
        email: rng.random_bool(t.opt_in.0),
        sms: rng.random_bool(t.opt_in.1),
        loyalty: rng.random_bool(t.opt_in.2),
        favorite,
        lambda,
        p,
        nu,
        ..Customer::default()
    }
}
