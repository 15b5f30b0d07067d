//! Features from a customer's orders as of a day: recency, frequency, monetary value, windows,
//! refunds and the buy-till-you-die summary.
//!
//! Orders arrive in any order as facts (customer, local day, amount). They are grouped by
//! customer without sorting, each fact placed in its customer's range ([`ByCustomer`]), sized
//! from each customer's number of orders, known beforehand or counted first; each customer's
//! features are then one pass over their own orders, sorted by day. Only orders
//! strictly before `as_of` count. Purchases are orders with a positive amount (the RFM
//! definition); refunds are negative ones; zero amounts are neither, but are transactions for the
//! buy-till-you-die summary (see [`crate::btyd`]).

use crate::btyd::{BtydSummary, Purchase, Split, TimeUnit, split, summarize};
use rayon::prelude::*;

/// One order: the customer's position in the customer table, the order's local calendar day
/// (days since 1970-01-01) and its amount in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFact {
    pub customer: u32,
    pub day: i32,
    pub amount: i64,
    /// Index of the order's category in `OrderParams::categories`, or [`NONE`].
    pub category: u16,
    /// Index of the order's channel in `OrderParams::channels`, or [`NONE`].
    pub channel: u16,
}

/// No category or channel.
pub const NONE: u16 = u16::MAX;

#[derive(Debug, Clone)]
pub struct OrderParams {
    /// Days since 1970-01-01; orders on or after it do not count.
    pub as_of: i32,
    /// Window lengths in days: a window of `w` days holds the days `as_of - w .. as_of`.
    pub windows: Vec<u32>,
    pub unit: TimeUnit,
    /// The first day of a holdout period ending the day before `as_of`: when set, each
    /// customer's purchases are also split there ([`OrderFeatures::split`]) for validating
    /// lifetime-value models.
    pub holdout_start: Option<i32>,
    /// Number of distinct categories the facts refer to.
    pub categories: usize,
}

/// One customer's order features; `None` and zeros for a customer without orders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFeatures {
    /// Purchases (orders with a positive amount).
    pub frequency: u32,
    /// The day of the first order of any amount (refunds too).
    pub first_order: Option<i32>,
    /// Distinct days with a purchase.
    pub purchase_days: u32,
    pub monetary_total: i64,
    pub monetary_avg: Option<f64>,
    pub first_purchase: Option<i32>,
    pub last_purchase: Option<i32>,
    /// `as_of - last_purchase`, in days.
    pub recency_days: Option<i32>,
    /// Mean days between distinct purchase days.
    pub avg_days_between: Option<f64>,
    /// Purchases and their spend in each window, in the order of `OrderParams::windows`.
    pub window_orders: Vec<u32>,
    pub window_spend: Vec<i64>,
    pub refunds: u32,
    /// Total refunded, as a positive amount.
    pub refund_amount: i64,
    pub btyd: Option<BtydSummary>,
    /// The summary at the end of the calibration period and the purchases in the holdout, when
    /// [`OrderParams::holdout_start`] is set and the customer bought before it.
    pub split: Option<Split>,
    /// Purchase spend in each category the customer bought in, as (index in
    /// `OrderParams::categories`, spend), by index: a customer buys in a few of the categories,
    /// which may be thousands. [`OrderFeatures::spend_in`] reads it.
    pub category_spend: Vec<(u16, i64)>,
    /// The category with the most spend (ties: the lowest index).
    pub top_category: Option<u16>,
    /// The channel with the most purchases (ties: the lowest index).
    pub preferred_channel: Option<u16>,
    /// Which of the customer's sums does not fit in an amount (`"purchases"` or `"refunds"`),
    /// when one does not; the other features are then incomplete.
    pub overflow: Option<&'static str>,
}

/// An order as a customer's features are worked out from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Placed {
    amount: i64,
    day: i32,
    category: u16,
    channel: u16,
}

/// An order's amount and day in its customer's range, where the customer goes without saying:
/// 12 bytes instead of the 24 of an [`OrderFact`] (the amount in two halves, so that the struct
/// needs 4-byte alignment only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Stored {
    amount_low: u32,
    amount_high: i32,
    day: i32,
}

impl Stored {
    fn new(amount: i64, day: i32) -> Self {
        Stored {
            amount_low: amount as u32,
            amount_high: (amount >> 32) as i32,
            day,
        }
    }

    fn amount(&self) -> i64 {
        (i64::from(self.amount_high) << 32) | i64::from(self.amount_low)
    }
}

/// The facts of a run of customers: each order's amount and day, and its category and channel
/// when the orders have any (4 bytes more an order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Run {
    facts: Vec<Stored>,
    /// Category and channel of each fact; empty when the orders have neither.
    kinds: Vec<[u16; 2]>,
}

impl Run {
    fn new(len: usize, kinds: bool) -> Self {
        Run {
            facts: vec![Stored::default(); len],
            kinds: if kinds {
                vec![[NONE; 2]; len]
            } else {
                Vec::new()
            },
        }
    }

    /// Puts `fact` at `i`. A fact with a category or a channel in a run that keeps none is a
    /// mistake of the caller: it panics.
    fn put(&mut self, i: usize, fact: &OrderFact) {
        self.facts[i] = Stored::new(fact.amount, fact.day);
        match self.kinds.get_mut(i) {
            Some(k) => *k = [fact.category, fact.channel],
            None => assert!(
                fact.category == NONE && fact.channel == NONE,
                "a category or channel for facts placed without them"
            ),
        }
    }

    /// The facts at `range`, as their customer's features take them.
    fn placed(&self, range: std::ops::Range<usize>, out: &mut Vec<Placed>) {
        out.clear();
        let kinds = self.kinds.get(range.clone());
        out.extend(self.facts[range].iter().enumerate().map(|(i, s)| {
            let [category, channel] = kinds.map_or([NONE; 2], |k| k[i]);
            Placed {
                amount: s.amount(),
                day: s.day,
                category,
                channel,
            }
        }));
    }
}

/// Facts grouped by customer without sorting them: customer `c`'s facts are placed in a range of
/// their own, sized from a count of each customer's orders known before the facts are read (a
/// customer may end up with fewer facts than orders counted: orders without a day or an amount
/// make none).
///
/// The ranges of a run of consecutive customers ([`RUN`] of them) are held in one allocation,
/// so that once a run's features are worked out ([`ByCustomer::take_run`]) its facts are freed
/// while the later runs are still to do. A fact takes 12 bytes, 16 when the orders have
/// categories or channels.
pub struct ByCustomer {
    /// The facts of each run of customers.
    runs: Vec<Run>,
    /// Where each customer's range starts, counting the runs one after another;
    /// `start[customers]` is the end of the last.
    start: Vec<usize>,
    /// Where the next fact of each customer goes.
    next: Vec<usize>,
    /// Customers in a run (the last may have fewer).
    run: usize,
}

/// Customers in a run of [`ByCustomer`].
pub const RUN: usize = 1 << 16;

impl ByCustomer {
    /// Room for the orders of `customers` customers, one order of customer `c` for each `c` in
    /// `orders` (values `customers` and above are left out).
    pub fn new(customers: usize, orders: &[u32]) -> Self {
        Self::new_in_runs(customers, orders, RUN, true)
    }

    /// [`Self::new`] with runs of `run` customers, keeping the facts' categories and channels
    /// only if `kinds` is set (facts placed must then have none).
    pub(crate) fn new_in_runs(customers: usize, orders: &[u32], run: usize, kinds: bool) -> Self {
        Self::counting_in_runs(customers, orders.iter().copied(), run, kinds)
    }

    /// `facts` placed by customer (facts of customers `customers` and above are left out).
    pub fn from_facts(customers: usize, facts: &[OrderFact]) -> Self {
        Self::from_facts_in_runs(customers, facts, RUN)
    }

    /// [`Self::from_facts`] with runs of `run` customers.
    pub(crate) fn from_facts_in_runs(customers: usize, facts: &[OrderFact], run: usize) -> Self {
        let orders = facts.iter().map(|f| f.customer);
        let kinds = facts
            .iter()
            .any(|f| f.category != NONE || f.channel != NONE);
        let mut grouped = Self::counting_in_runs(customers, orders, run, kinds);
        for f in facts.iter().filter(|f| (f.customer as usize) < customers) {
            grouped.place(*f);
        }
        grouped
    }

    fn counting_in_runs(
        customers: usize,
        orders: impl Iterator<Item = u32>,
        run: usize,
        kinds: bool,
    ) -> Self {
        let run = run.max(1);
        let mut start = vec![0usize; customers + 1];
        for c in orders {
            if let Some(n) = start.get_mut(c as usize + 1) {
                *n += 1;
            }
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let runs = (0..customers.div_ceil(run))
            .map(|r| {
                let (first, end) = (r * run, ((r + 1) * run).min(customers));
                Run::new(start[end] - start[first], kinds)
            })
            .collect();
        Self {
            runs,
            next: start[..customers].to_vec(),
            start,
            run,
        }
    }

    /// The first customer of run `r` and the one after its last.
    fn run_customers(&self, r: usize) -> (usize, usize) {
        (r * self.run, ((r + 1) * self.run).min(self.next.len()))
    }

    /// Runs of customers: [`Self::take_run`] takes `0..runs()`.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Replaces the category and channel of every fact by `f(category, channel)` (the unused room
    /// too, which is never read).
    pub fn recode(&mut self, mut f: impl FnMut(u16, u16) -> (u16, u16)) {
        for k in self.runs.iter_mut().flat_map(|r| r.kinds.iter_mut()) {
            let [category, channel] = *k;
            *k = f(category, channel).into();
        }
    }

    /// Places a fact in its customer's range. A fact beyond what was counted for its customer
    /// is a mistake of the caller: it panics.
    pub fn place(&mut self, fact: OrderFact) {
        let c = fact.customer as usize;
        let at = self.next[c];
        assert!(
            at < self.start[c + 1],
            "more facts for customer {c} than counted"
        );
        let r = c / self.run;
        let base = self.start[r * self.run];
        self.runs[r].put(at - base, &fact);
        self.next[c] = at + 1;
    }

    /// Places many facts as [`Self::place`] does, on every core: the runs of customers are
    /// shared out among the threads, and each thread places the facts of its own runs (their
    /// ranges are apart, so the threads never write to the same place). Placing is random
    /// access to memory, which several threads overlap.
    pub fn place_all(&mut self, facts: &[OrderFact]) {
        let threads = rayon::current_num_threads().min(self.runs.len());
        if threads < 2 || facts.len() < PLACE_ALONE {
            facts.iter().for_each(|f| self.place(*f));
            return;
        }
        let (customers, total) = (self.next.len(), self.runs.len());
        let Self {
            runs,
            start,
            next,
            run,
        } = self;
        let run = *run;
        // Thread `t` takes runs `total * t / threads .. total * (t + 1) / threads`.
        let mut shares = Vec::with_capacity(threads);
        let (mut runs, mut next, mut first_run) = (&mut runs[..], &mut next[..], 0);
        for t in 1..=threads {
            let end_run = total * t / threads;
            let (mine, rest) = std::mem::take(&mut runs).split_at_mut(end_run - first_run);
            let (first, end) = (first_run * run, (end_run * run).min(customers));
            let (my_next, rest_next) = std::mem::take(&mut next).split_at_mut(end - first);
            shares.push((first_run, first..end, mine, my_next));
            (runs, next, first_run) = (rest, rest_next, end_run);
        }
        let start = &*start;
        shares
            .into_par_iter()
            .for_each(|(first_run, customers, runs, next)| {
                for f in facts
                    .iter()
                    .filter(|f| customers.contains(&(f.customer as usize)))
                {
                    let c = f.customer as usize;
                    let slot = next[c - customers.start];
                    assert!(
                        slot < start[c + 1],
                        "more facts for customer {c} than counted"
                    );
                    let r = c / run;
                    runs[r - first_run].put(slot - start[r * run], f);
                    next[c - customers.start] = slot + 1;
                }
            });
    }

    /// Where each customer's placed facts are in run `r`, in customer order.
    fn groups(&self, r: usize) -> Vec<std::ops::Range<usize>> {
        let (first, end) = self.run_customers(r);
        let base = self.start[first];
        (first..end)
            .map(|c| self.start[c] - base..self.next[c] - base)
            .collect()
    }

    /// The features of the customers of run `r` (each one's facts sorted by day), worked out on
    /// every core; the run's facts are freed.
    pub fn take_run(&mut self, r: usize, p: &OrderParams) -> Vec<OrderFeatures> {
        let features = features_of_customers(&self.runs[r], self.groups(r), p);
        self.runs[r] = Run::default();
        features
    }

    /// Purchase spend (positive amounts before `as_of`) per category over all customers,
    /// indexed like `OrderParams::categories`: the sum of every customer's
    /// [`OrderFeatures::category_spend`]. Every fact of the runs not yet taken is looked at:
    /// room counted but not filled holds a zero amount, which is no purchase.
    /// Summed wider than an amount: the spend of all customers may exceed what one holds.
    pub fn category_spend(&self, p: &OrderParams) -> Vec<i128> {
        let mut spend = vec![0i128; p.categories];
        // Facts kept without kinds (no categories) are spent on none.
        for run in &self.runs {
            for (o, [category, _]) in run.facts.iter().zip(&run.kinds) {
                let counts = o.day < p.as_of && o.amount() > 0;
                if let Some(s) = spend.get_mut(usize::from(*category)).filter(|_| counts) {
                    *s += i128::from(o.amount());
                }
            }
        }
        spend
    }
}

/// Below this many facts, [`ByCustomer::place_all`] places them on the calling thread.
const PLACE_ALONE: usize = 4096;

/// Features for customers `0..customers` from facts in any order (facts of other customers are
/// left out).
pub fn order_features(
    customers: usize,
    facts: &[OrderFact],
    p: &OrderParams,
) -> Vec<OrderFeatures> {
    order_features_by_customer(customers, ByCustomer::from_facts(customers, facts), p)
}

/// Features for customers `0..customers` from facts placed by customer; each customer's facts
/// are sorted by day here.
pub fn order_features_by_customer(
    customers: usize,
    mut grouped: ByCustomer,
    p: &OrderParams,
) -> Vec<OrderFeatures> {
    let mut features = Vec::with_capacity(customers);
    for r in 0..grouped.runs() {
        features.extend(grouped.take_run(r, p));
    }
    features.truncate(customers);
    features
}

/// Features of each customer from their facts (`run`'s facts at `groups[c]` for customer `c`),
/// sorted by day here where they are not; customers are worked on in parallel.
fn features_of_customers(
    run: &Run,
    groups: Vec<std::ops::Range<usize>>,
    p: &OrderParams,
) -> Vec<OrderFeatures> {
    let empty = OrderFeatures {
        window_orders: vec![0; p.windows.len()],
        window_spend: vec![0; p.windows.len()],
        ..Default::default()
    };
    let mut out = vec![empty; groups.len()];
    out.par_iter_mut()
        .zip(groups.into_par_iter())
        .with_min_len(4096)
        .for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(orders, transactions, kinds), (slot, group)| {
                if group.is_empty() {
                    return;
                }
                run.placed(group, orders);
                if !orders.is_sorted_by_key(|f| f.day) {
                    orders.sort_unstable_by_key(|f| f.day);
                }
                transactions.clear();
                one_customer(orders, p, slot, transactions, kinds);
            },
        );
    out
}

fn one_customer(
    orders: &[Placed],
    p: &OrderParams,
    f: &mut OrderFeatures,
    transactions: &mut Vec<Purchase>,
    kinds: &mut Vec<(u16, i64)>,
) {
    let mut prev_purchase_day = None;
    for o in orders.iter().filter(|o| o.day < p.as_of) {
        f.first_order.get_or_insert(o.day);
        if o.amount < 0 {
            f.refunds += 1;
            match f.refund_amount.checked_sub(o.amount) {
                Some(total) => f.refund_amount = total,
                None => {
                    f.overflow = Some("refunds");
                    return;
                }
            }
            continue;
        }
        transactions.push(Purchase {
            day: o.day,
            amount: o.amount,
        });
        if o.amount == 0 {
            continue;
        }
        f.frequency += 1;
        // Every sum below is of some of these purchases, and no larger.
        match f.monetary_total.checked_add(o.amount) {
            Some(total) => f.monetary_total = total,
            None => {
                f.overflow = Some("purchases");
                return;
            }
        }
        if prev_purchase_day != Some(o.day) {
            f.purchase_days += 1;
            prev_purchase_day = Some(o.day);
        }
        f.first_purchase.get_or_insert(o.day);
        f.last_purchase = Some(o.day);
        for (k, w) in p.windows.iter().enumerate() {
            if i64::from(o.day) >= i64::from(p.as_of) - i64::from(*w) {
                f.window_orders[k] += 1;
                f.window_spend[k] += o.amount;
            }
        }
    }
    if f.frequency > 0 {
        f.monetary_avg = Some(f.monetary_total as f64 / f64::from(f.frequency));
        f.recency_days = f.last_purchase.map(|l| p.as_of - l);
    }
    if let (Some(a), Some(b)) = (f.first_purchase, f.last_purchase)
        && f.purchase_days > 1
    {
        f.avg_days_between = Some(f64::from(b - a) / f64::from(f.purchase_days - 1));
    }
    f.btyd = summarize(transactions, p.as_of - 1, p.unit).ok().flatten();
    if let Some(start) = p.holdout_start {
        f.split = split(transactions, start - 1, p.as_of - 1, p.unit)
            .ok()
            .filter(|s| s.calibration.is_some());
    }
    let purchases = || orders.iter().filter(|o| o.day < p.as_of && o.amount > 0);
    // Spend by category and purchases by channel, summed over the customer's own purchases.
    kinds.clear();
    kinds.extend(purchases().map(|o| (o.category, o.amount)));
    total_by_key(kinds);
    f.category_spend = kinds.clone();
    f.top_category = arg_max(kinds);
    kinds.clear();
    kinds.extend(purchases().map(|o| (o.channel, 1)));
    total_by_key(kinds);
    f.preferred_channel = arg_max(kinds);
}

/// Sums the values of `pairs` by key, in place, leaving them by key and leaving out [`NONE`].
fn total_by_key(pairs: &mut Vec<(u16, i64)>) {
    pairs.retain(|&(k, _)| k != NONE);
    pairs.sort_unstable_by_key(|&(k, _)| k);
    pairs.dedup_by(|(k, v), (first_k, total)| {
        let same = k == first_k;
        if same {
            *total += *v;
        }
        same
    });
}

/// The key of the largest positive total, the first of equals; `None` if none is positive.
fn arg_max(totals: &[(u16, i64)]) -> Option<u16> {
    let mut best: Option<(u16, i64)> = None;
    for &(k, v) in totals {
        if v > 0 && best.is_none_or(|(_, b)| v > b) {
            best = Some((k, v));
        }
    }
    best.map(|(k, _)| k)
}

impl OrderFeatures {
    /// Purchase spend in category `k` (an index in `OrderParams::categories`).
    pub fn spend_in(&self, k: u16) -> i64 {
        match self.category_spend.binary_search_by_key(&k, |&(c, _)| c) {
            Ok(i) => self.category_spend[i].1,
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_on_every_core_places_as_one_at_a_time_does() {
        // Enough facts for the threads to share them, customers with none, and a customer
        // counted for more facts than come.
        let customers = 1_001;
        let facts: Vec<OrderFact> = (0..20_000u32)
            .map(|i| OrderFact {
                customer: (i * 7_919 + i / 3) % customers as u32 / 2 * 2,
                day: 19_000 + (i % 365) as i32,
                amount: i64::from(i) - 500,
                category: (i % 3) as u16,
                channel: NONE,
            })
            .collect();
        let mut counted: Vec<u32> = facts.iter().map(|f| f.customer).collect();
        counted.push(10);
        // Runs of 100 customers, so that the threads share runs out.
        let runs = |c: &[u32]| ByCustomer::new_in_runs(customers, c, 100, true);
        let mut one_by_one = runs(&counted);
        let mut all = runs(&counted);
        // Three threads, whatever the machine: the customers split unevenly.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for chunk in facts.chunks(PLACE_ALONE * 2 + 1) {
            chunk.iter().for_each(|f| one_by_one.place(*f));
            pool.install(|| all.place_all(chunk));
        }
        assert_eq!(all.runs.len(), 11);
        assert_eq!(all.runs, one_by_one.runs);
        assert_eq!(all.next, one_by_one.next);
        assert_eq!(all.next[10], all.start[11] - 1);
    }

    #[test]
    #[should_panic(expected = "more facts for customer")]
    fn placing_more_facts_than_counted_panics_on_every_core() {
        let fact = |customer| OrderFact {
            customer,
            day: 0,
            amount: 1,
            category: NONE,
            channel: NONE,
        };
        let facts: Vec<OrderFact> = (0..PLACE_ALONE as u32 * 2).map(|i| fact(i % 4)).collect();
        let counted: Vec<u32> = facts[1..].iter().map(|f| f.customer).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // A customer per run: each thread has runs of its own.
        pool.install(|| ByCustomer::new_in_runs(4, &counted, 1, false).place_all(&facts));
    }
}
