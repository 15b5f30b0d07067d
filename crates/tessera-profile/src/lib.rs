//! Segment profiles: what each segment is, against the whole population.
//!
//! For every segment of every family (rule segments, groups, RFM names, clusters, churn-risk
//! bands) a [`SegmentProfile`] gives its size and share, its revenue and share of revenue, its
//! predicted value and P(alive) distribution, every numeric feature's mean and median against
//! the population's with lift and standardized difference, every categorical feature's mix
//! against the population's with lift, the traits that most distinguish it, its NPS, a name
//! (clusters), suggested actions, and the categories it buys more of than everyone else.
//!
//! The definitions, which `docs/profiles.md` repeats for readers:
//! * lift of a numeric feature: segment mean / population mean (none when the population mean
//!   is 0); standardized difference: (segment mean − population mean) / population standard
//!   deviation (population form, none when it is 0). Nulls are left out of both sides.
//! * lift of a category value: its share among the segment's non-null values / its share among
//!   the population's.
//! * a trait's strength: |standardized difference| for numbers; for a category value holding at
//!   least 5% of the segment, |p_s − p| / √(p (1 − p)), the same scale for proportions.
//! * NPS: 100 · (promoters − detractors) / customers with an NPS class.
//!
//! No I/O: the caller hands over the columns and the memberships.

use rayon::prelude::*;
use serde::Serialize;

mod rules;

pub use rules::{actions, cluster_name};

/// One column of the customer row.
pub enum Column {
    /// Numbers (money already in major units); `None` is null.
    Number(Vec<Option<f64>>),
    /// A categorical value as an index into `values`; `None` is null.
    Category {
        values: Vec<String>,
        codes: Vec<Option<u32>>,
    },
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Number(v) => v.len(),
            Column::Category { codes, .. } => codes.len(),
        }
    }
}

/// The customer row: named columns of equal length.
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Column>,
}

impl Table {
    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    fn number(&self, name: &str) -> Option<&[Option<f64>]> {
        match self.index(name).map(|i| &self.columns[i]) {
            Some(Column::Number(v)) => Some(v),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }
}

/// What a family's segments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyKind {
    /// The config's rule segments (a customer may be in several).
    Segments,
    /// A `[groups.NAME]`: first match wins.
    Group,
    /// The RFM names.
    Rfm,
    /// The clusters.
    Cluster,
    /// The churn-risk bands.
    ChurnRisk,
}

impl FamilyKind {
    /// Whether every customer is in at most one segment of the family.
    pub fn exclusive(self) -> bool {
        self != FamilyKind::Segments
    }
}

/// A family of segments: each segment's members as row indices, ascending.
pub struct Family {
    pub name: String,
    pub kind: FamilyKind,
    pub segments: Vec<(String, Vec<u32>)>,
}

/// Which columns play which part. Absent columns leave their part of the profile out.
#[derive(Debug, Clone)]
pub struct Roles {
    /// Revenue over the last year (default `spend_365d`).
    pub revenue: String,
    /// Predicted lifetime value (default `clv`).
    pub clv: String,
    /// P(alive) (default `p_alive`).
    pub p_alive: String,
    /// NPS class: promoter, passive, detractor (default `nps_class`).
    pub nps_class: String,
    /// Each customer's total purchase spend, which weighs the category shares (default
    /// `monetary_total`).
    pub spend: String,
    /// Prefix of the per-category spend shares (default `category_share_`).
    pub category_share_prefix: String,
    /// Columns that are identifiers or codes, not traits (default `customer_id`, `cluster`,
    /// `rfm_code`).
    pub ignore: Vec<String>,
    /// Columns ending so are not profiled either (default `_lower`, `_upper`: the ends of
    /// intervals, which would repeat their value's traits).
    pub ignore_suffixes: Vec<String>,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            revenue: "spend_365d".into(),
            clv: "clv".into(),
            p_alive: "p_alive".into(),
            nps_class: "nps_class".into(),
            spend: "monetary_total".into(),
            category_share_prefix: "category_share_".into(),
            ignore: vec!["customer_id".into(), "cluster".into(), "rfm_code".into()],
            ignore_suffixes: vec!["_lower".into(), "_upper".into()],
        }
    }
}

/// Mean, median and standard deviation of a feature over some customers (nulls left out).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Customers with a value.
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    /// Population standard deviation.
    pub std: Option<f64>,
}

/// One numeric feature of a segment against the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericProfile {
    pub feature: String,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub population_mean: Option<f64>,
    pub population_median: Option<f64>,
    pub lift: Option<f64>,
    pub std_diff: Option<f64>,
}

/// One value of a categorical feature in a segment against the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueShare {
    pub value: String,
    pub share: f64,
    pub population_share: f64,
    pub lift: Option<f64>,
}

/// A categorical feature's mix in a segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoricalProfile {
    pub feature: String,
    /// Every value the population has, most common in the segment first.
    pub values: Vec<ValueShare>,
}

/// A trait that sets a segment apart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trait {
    pub feature: String,
    /// The category value, for a categorical trait.
    pub value: Option<String>,
    /// The segment's mean (numbers) or share (category values).
    pub segment: f64,
    /// The population's mean or share.
    pub population: f64,
    pub lift: Option<f64>,
    /// The trait's strength (see the crate's documentation).
    pub strength: f64,
    /// "higher" or "lower" than the population.
    pub direction: &'static str,
    /// In words, e.g. "spend_365d 3.1× the average (412.50 vs 133.20)".
    pub text: String,
}

/// Net promoter score of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Nps {
    pub promoters: usize,
    pub passives: usize,
    pub detractors: usize,
    /// 100 · (promoters − detractors) / responders; `None` without responders.
    pub score: Option<f64>,
}

/// The spread of P(alive) in a segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    /// Customers with a value.
    pub count: usize,
    /// The 10th, 25th, 50th, 75th and 90th percentiles (linear interpolation).
    pub quantiles: [Option<f64>; 5],
    /// Counts in ten bins of width 0.1 over [0, 1] (the last includes 1).
    pub histogram: [usize; 10],
}

/// A category the segment buys more of than the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub category: String,
    /// Share of the segment's purchase spend in the category.
    pub share: f64,
    pub population_share: f64,
    pub lift: f64,
}

/// Predicted value of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Value {
    pub mean: Option<f64>,
    pub total: f64,
    /// The 10th, 25th, 50th, 75th and 90th percentiles (linear interpolation).
    pub quantiles: [Option<f64>; 5],
}

/// Everything about one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentProfile {
    pub name: String,
    /// A descriptive name from the traits (clusters only).
    pub label: Option<String>,
    pub size: usize,
    pub share: f64,
    pub revenue_365d: Option<f64>,
    pub revenue_share: Option<f64>,
    pub clv: Option<Value>,
    pub p_alive: Option<Distribution>,
    pub nps: Option<Nps>,
    pub numeric: Vec<NumericProfile>,
    pub categorical: Vec<CategoricalProfile>,
    /// The strongest traits first (at most five).
    pub traits: Vec<Trait>,
    /// Suggested actions, in words ([`actions`]).
    pub actions: Vec<String>,
    /// The next best offer: categories with lift above 1, highest first (at most five).
    pub recommendations: Vec<Recommendation>,
}

/// The profiles of one family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyProfile {
    pub name: String,
    pub kind: FamilyKind,
    pub exclusive: bool,
    pub segments: Vec<SegmentProfile>,
}

/// The population every segment is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Population {
    pub customers: usize,
    pub revenue_365d: Option<f64>,
    pub numeric: Vec<(String, Summary)>,
    pub nps: Option<Nps>,
}

/// `profiles.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profiles {
    pub population: Population,
    pub families: Vec<FamilyProfile>,
}

/// Categorical columns with more distinct values than this are not profiled (ids, cities).
pub const MAX_CATEGORIES: usize = 50;

/// Mean, median and standard deviation of `values` at `rows` (all rows when `None`).
pub fn summarize(values: &[Option<f64>], rows: Option<&[u32]>) -> Summary {
    let mut v: Vec<f64> = match rows {
        Some(rows) => rows.iter().filter_map(|&r| values[r as usize]).collect(),
        None => values.iter().flatten().copied().collect(),
    };
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return Summary {
            count: 0,
            mean: None,
            median: None,
            std: None,
        };
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Summary {
        count: v.len(),
        mean: Some(mean),
        median: Some(quantile(&mut v, 0.5)),
        std: Some(var.sqrt()),
    }
}

/// The `q` quantile of `v` by linear interpolation between order statistics (numpy's default);
/// reorders `v`.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut a, rest) = v.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || rest.is_empty() {
        return a;
    }
    let b = rest.iter().copied().fold(f64::INFINITY, f64::min);
    a + frac * (b - a)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// Shares of each value among the non-null codes at `rows` (all rows when `None`).
fn shares(values: usize, codes: &[Option<u32>], rows: Option<&[u32]>) -> Vec<f64> {
    let mut counts = vec![0usize; values];
    let mut total = 0usize;
    let mut add = |c: Option<u32>| {
        if let Some(c) = c {
            counts[c as usize] += 1;
            total += 1;
        }
    };
    match rows {
        Some(rows) => rows.iter().for_each(|&r| add(codes[r as usize])),
        None => codes.iter().for_each(|&c| add(c)),
    }
    counts
        .into_iter()
        .map(|c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

fn nps(table: &Table, roles: &Roles, rows: Option<&[u32]>) -> Option<Nps> {
    let i = table.index(&roles.nps_class)?;
    let Column::Category { values, codes } = &table.columns[i] else {
        return None;
    };
    let code = |name: &str| values.iter().position(|v| v == name).map(|c| c as u32);
    let (p, a, d) = (code("promoter"), code("passive"), code("detractor"));
    let mut out = Nps {
        promoters: 0,
        passives: 0,
        detractors: 0,
        score: None,
    };
    let mut add = |c: Option<u32>| match c {
        Some(c) if Some(c) == p => out.promoters += 1,
        Some(c) if Some(c) == a => out.passives += 1,
        Some(c) if Some(c) == d => out.detractors += 1,
        _ => {}
    };
    match rows {
        Some(rows) => rows.iter().for_each(|&r| add(codes[r as usize])),
        None => codes.iter().for_each(|&c| add(c)),
    }
    let responders = out.promoters + out.passives + out.detractors;
    if responders > 0 {
        out.score =
            Some(100.0 * (out.promoters as f64 - out.detractors as f64) / responders as f64);
    }
    Some(out)
}

/// The 10th, 25th, 50th, 75th and 90th percentiles of the known values at `rows`.
fn quantiles(values: &[Option<f64>], rows: &[u32]) -> [Option<f64>; 5] {
    let mut v: Vec<f64> = rows
        .iter()
        .filter_map(|&r| values[r as usize])
        .filter(|x| x.is_finite())
        .collect();
    [0.1, 0.25, 0.5, 0.75, 0.9].map(|q| (!v.is_empty()).then(|| quantile(&mut v, q)))
}

fn distribution(values: &[Option<f64>], rows: &[u32]) -> Distribution {
    let mut histogram = [0usize; 10];
    let mut count = 0;
    for x in rows
        .iter()
        .filter_map(|&r| values[r as usize])
        .filter(|x| x.is_finite())
    {
        histogram[((x.clamp(0.0, 1.0) * 10.0) as usize).min(9)] += 1;
        count += 1;
    }
    Distribution {
        count,
        quantiles: quantiles(values, rows),
        histogram,
    }
}

/// What every segment is compared with, computed once.
struct Base<'a> {
    table: &'a Table,
    roles: &'a Roles,
    /// Numeric feature columns (index into the table) with the population's summary.
    numeric: Vec<(usize, Summary)>,
    /// Categorical feature columns with the population's shares.
    categorical: Vec<(usize, Vec<f64>)>,
    revenue: Option<f64>,
    /// Per category: its name and the population's spend in it.
    categories: Vec<(String, usize, f64)>,
    total_spend: f64,
}

impl<'a> Base<'a> {
    fn new(table: &'a Table, roles: &'a Roles) -> Self {
        let features = |i: &usize| {
            let name = &table.names[*i];
            !roles.ignore.contains(name)
                && !roles
                    .ignore_suffixes
                    .iter()
                    .any(|s| name.ends_with(s.as_str()))
        };
        let numeric = (0..table.columns.len())
            .filter(features)
            .filter_map(|i| match &table.columns[i] {
                Column::Number(v) => Some((i, summarize(v, None))),
                Column::Category { .. } => None,
            })
            .collect();
        let categorical = (0..table.columns.len())
            .filter(features)
            .filter_map(|i| match &table.columns[i] {
                Column::Category { values, codes } if values.len() <= MAX_CATEGORIES => {
                    Some((i, shares(values.len(), codes, None)))
                }
                _ => None,
            })
            .collect();
        let revenue = table
            .number(&roles.revenue)
            .map(|v| v.iter().flatten().sum());
        let spend = table.number(&roles.spend);
        let mut categories = Vec::new();
        let mut total_spend = 0.0;
        if let Some(spend) = spend {
            total_spend = spend.iter().flatten().sum();
            for (i, name) in table.names.iter().enumerate() {
                if let (Some(cat), Column::Number(share)) = (
                    name.strip_prefix(&roles.category_share_prefix),
                    &table.columns[i],
                ) {
                    let s: f64 = share
                        .iter()
                        .zip(spend)
                        .map(|(a, b)| a.unwrap_or(0.0) * b.unwrap_or(0.0))
                        .sum();
                    categories.push((cat.to_string(), i, s));
                }
            }
        }
        Self {
            table,
            roles,
            numeric,
            categorical,
            revenue,
            categories,
            total_spend,
        }
    }

    fn profile(&self, kind: FamilyKind, name: &str, rows: &[u32]) -> SegmentProfile {
        let t = self.table;
        let n = t.len();
        let numeric: Vec<NumericProfile> = self
            .numeric
            .iter()
            .map(|&(i, pop)| {
                let Column::Number(v) = &t.columns[i] else {
                    unreachable!("numeric columns hold numbers")
                };
                let seg = summarize(v, Some(rows));
                NumericProfile {
                    feature: t.names[i].clone(),
                    mean: seg.mean,
                    median: seg.median,
                    population_mean: pop.mean,
                    population_median: pop.median,
                    lift: ratio(seg.mean, pop.mean),
                    std_diff: match (seg.mean, pop.mean, pop.std) {
                        (Some(m), Some(p), Some(s)) if s > 0.0 => Some((m - p) / s),
                        _ => None,
                    },
                }
            })
            .collect();
        let categorical: Vec<CategoricalProfile> = self
            .categorical
            .iter()
            .map(|(i, pop)| {
                let Column::Category { values, codes } = &t.columns[*i] else {
                    unreachable!("categorical columns hold codes")
                };
                let seg = shares(values.len(), codes, Some(rows));
                let mut vs: Vec<ValueShare> = values
                    .iter()
                    .enumerate()
                    .map(|(c, v)| ValueShare {
                        value: v.clone(),
                        share: seg[c],
                        population_share: pop[c],
                        lift: (pop[c] > 0.0).then(|| seg[c] / pop[c]),
                    })
                    .collect();
                vs.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.value.cmp(&b.value)));
                CategoricalProfile {
                    feature: t.names[*i].clone(),
                    values: vs,
                }
            })
            .collect();
        let traits = traits(&numeric, &categorical);
        let revenue_365d = t
            .number(&self.roles.revenue)
            .map(|v| rows.iter().filter_map(|&r| v[r as usize]).sum::<f64>());
        let revenue_share = match (revenue_365d, self.revenue) {
            (Some(s), Some(p)) if p != 0.0 => Some(s / p),
            _ => None,
        };
        let clv = t.number(&self.roles.clv).map(|v| {
            let s = summarize(v, Some(rows));
            Value {
                mean: s.mean,
                total: s.mean.map_or(0.0, |m| m * s.count as f64),
                quantiles: quantiles(v, rows),
            }
        });
        let p_alive = t.number(&self.roles.p_alive).map(|v| distribution(v, rows));
        let nps = nps(t, self.roles, Some(rows));
        let recommendations = self.recommendations(rows);
        let mut p = SegmentProfile {
            name: name.to_string(),
            label: None,
            size: rows.len(),
            share: if n == 0 {
                0.0
            } else {
                rows.len() as f64 / n as f64
            },
            revenue_365d,
            revenue_share,
            clv,
            p_alive,
            nps,
            numeric,
            categorical,
            traits,
            actions: Vec::new(),
            recommendations,
        };
        if kind == FamilyKind::Cluster {
            p.label = Some(cluster_name(&p));
        }
        p.actions = actions(&p);
        p
    }

    fn recommendations(&self, rows: &[u32]) -> Vec<Recommendation> {
        let Some(spend) = self.table.number(&self.roles.spend) else {
            return Vec::new();
        };
        let seg_total: f64 = rows.iter().filter_map(|&r| spend[r as usize]).sum();
        if seg_total <= 0.0 || self.total_spend <= 0.0 {
            return Vec::new();
        }
        let mut out: Vec<Recommendation> = self
            .categories
            .iter()
            .filter_map(|(cat, i, pop_spend)| {
                let Column::Number(share) = &self.table.columns[*i] else {
                    return None;
                };
                let s: f64 = rows
                    .iter()
                    .map(|&r| share[r as usize].unwrap_or(0.0) * spend[r as usize].unwrap_or(0.0))
                    .sum();
                let (share, population_share) = (s / seg_total, pop_spend / self.total_spend);
                (population_share > 0.0 && share >= 0.02).then(|| Recommendation {
                    category: cat.clone(),
                    share,
                    population_share,
                    lift: share / population_share,
                })
            })
            .filter(|r| r.lift > 1.0)
            .collect();
        out.sort_by(|a, b| b.lift.total_cmp(&a.lift).then(a.category.cmp(&b.category)));
        out.truncate(5);
        out
    }
}

/// The strongest traits of a segment, at most five.
fn traits(numeric: &[NumericProfile], categorical: &[CategoricalProfile]) -> Vec<Trait> {
    let mut out = Vec::new();
    for f in numeric {
        let (Some(d), Some(m), Some(p)) = (f.std_diff, f.mean, f.population_mean) else {
            continue;
        };
        let text = match f.lift {
            Some(l) if l > 0.0 => format!(
                "{} {} the average ({} vs {})",
                f.feature,
                times(l),
                number(m),
                number(p)
            ),
            _ => format!("{} {} vs {} on average", f.feature, number(m), number(p)),
        };
        out.push(Trait {
            feature: f.feature.clone(),
            value: None,
            segment: m,
            population: p,
            lift: f.lift,
            strength: d.abs(),
            direction: if d >= 0.0 { "higher" } else { "lower" },
            text,
        });
    }
    for f in categorical {
        for v in &f.values {
            let p = v.population_share;
            if v.share < 0.05 || p <= 0.0 || p >= 1.0 {
                continue;
            }
            let strength = (v.share - p).abs() / (p * (1.0 - p)).sqrt();
            out.push(Trait {
                feature: f.feature.clone(),
                value: Some(v.value.clone()),
                segment: v.share,
                population: p,
                lift: v.lift,
                strength,
                direction: if v.share >= p { "higher" } else { "lower" },
                text: format!(
                    "{} = {}: {:.0}% of the segment vs {:.0}% of all customers",
                    f.feature,
                    v.value,
                    100.0 * v.share,
                    100.0 * p
                ),
            });
        }
    }
    out.sort_by(|a, b| {
        b.strength
            .total_cmp(&a.strength)
            .then_with(|| a.feature.cmp(&b.feature))
            .then_with(|| a.value.cmp(&b.value))
    });
    out.truncate(5);
    out
}

fn times(l: f64) -> String {
    if l >= 1.0 {
        format!("{l:.1}×")
    } else {
        format!("{:.0}% of", 100.0 * l)
    }
}

fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Profiles every segment of every family against the population of `table`.
pub fn profile(table: &Table, families: &[Family], roles: &Roles) -> Profiles {
    let base = Base::new(table, roles);
    let families = families
        .iter()
        .map(|f| FamilyProfile {
            name: f.name.clone(),
            kind: f.kind,
            exclusive: f.kind.exclusive(),
            segments: f
                .segments
                .par_iter()
                .map(|(name, rows)| base.profile(f.kind, name, rows))
                .collect(),
        })
        .collect();
    Profiles {
        population: Population {
            customers: table.len(),
            revenue_365d: base.revenue,
            numeric: base
                .numeric
                .iter()
                .map(|&(i, s)| (table.names[i].clone(), s))
                .collect(),
            nps: nps(table, roles, None),
        },
        families,
    }
}
