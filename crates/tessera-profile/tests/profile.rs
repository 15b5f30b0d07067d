//! Profiles against a naive recomputation: every number of a profile is computed again here,
//! the plain way, from the same random customers.

use tessera_profile::{Column, Family, FamilyKind, Roles, Table, profile, summarize};

/// A small deterministic generator (64-bit LCG), so the data need no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

const N: usize = 2000;

fn data() -> (Table, Vec<Family>) {
    let mut g = Lcg(11);
    let mut spend = Vec::new();
    let mut revenue = Vec::new();
    let mut tenure = Vec::new();
    let mut p_alive = Vec::new();
    let mut shoes = Vec::new();
    let mut books = Vec::new();
    let mut country = Vec::new();
    let mut nps = Vec::new();
    let mut tier = Vec::new();
    for _ in 0..N {
        let t = (g.next() * 3.0) as u32; // 0, 1, 2: the "tier"
        tier.push(t);
        let s = (100.0 * (1.0 + f64::from(t)) * g.next() * 100.0).round() / 100.0;
        spend.push(if g.next() < 0.05 { None } else { Some(s) });
        revenue.push(Some((s * g.next() * 100.0).round() / 100.0));
        tenure.push(Some((g.next() * 1000.0).floor()));
        p_alive.push(if g.next() < 0.1 { None } else { Some(g.next()) });
        let sh = g.next() * if t == 2 { 1.0 } else { 0.3 };
        shoes.push(Some(sh));
        books.push(Some(1.0 - sh));
        country.push(if g.next() < 0.05 {
            None
        } else {
            Some(((g.next() * 3.0) as u32 + t).min(3))
        });
        nps.push(match (g.next() * 4.0) as u32 {
            0 => None,
            1 => Some(0),
            2 => Some(1),
            _ => Some(2),
        });
    }
    let table = Table {
        names: [
            "monetary_total",
            "spend_365d",
            "tenure_days",
            "p_alive",
            "category_share_shoes",
            "category_share_books",
            "country",
            "nps_class",
        ]
        .map(String::from)
        .to_vec(),
        columns: vec![
            Column::Number(spend),
            Column::Number(revenue),
            Column::Number(tenure),
            Column::Number(p_alive),
            Column::Number(shoes),
            Column::Number(books),
            Column::Category {
                values: ["DE", "AT", "CH", "FR"].map(String::from).to_vec(),
                codes: country,
            },
            Column::Category {
                values: ["promoter", "passive", "detractor"]
                    .map(String::from)
                    .to_vec(),
                codes: nps,
            },
        ],
    };
    let rows = |t: u32| {
        (0..N as u32)
            .filter(|&r| tier[r as usize] == t)
            .collect::<Vec<_>>()
    };
    let families = vec![
        Family {
            name: "tier".into(),
            kind: FamilyKind::Group,
            segments: vec![
                ("bronze".into(), rows(0)),
                ("silver".into(), rows(1)),
                ("gold".into(), rows(2)),
            ],
        },
        Family {
            name: "segments".into(),
            kind: FamilyKind::Segments,
            segments: vec![
                (
                    "even".into(),
                    (0..N as u32).filter(|r| r % 2 == 0).collect(),
                ),
                ("empty".into(), Vec::new()),
            ],
        },
    ];
    (table, families)
}

fn numbers(t: &Table, name: &str) -> Vec<Option<f64>> {
    let i = t.names.iter().position(|n| n == name).unwrap();
    match &t.columns[i] {
        Column::Number(v) => v.clone(),
        Column::Category { .. } => panic!("{name} is categorical"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// The median the textbook way: sort, take the middle or the mean of the two middles.
fn naive_median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// numpy's default quantile of sorted values: linear between the order statistics around
/// q · (n − 1).
fn naive_quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

#[test]
fn quantiles_follow_linear_interpolation() {
    // numpy.quantile([1, 2, 3, 4], 0.5) = 2.5; the standard deviation is the population one.
    let s = summarize(&[Some(4.0), None, Some(1.0), Some(3.0), Some(2.0)], None);
    assert_eq!((s.count, s.mean, s.median), (4, Some(2.5), Some(2.5)));
    assert!(close(s.std.unwrap(), 1.25f64.sqrt()));
    let s = summarize(&[None, None], None);
    assert_eq!((s.count, s.mean, s.median, s.std), (0, None, None, None));
}

#[test]
fn every_number_matches_a_naive_recomputation() {
    let (table, families) = data();
    let p = profile(&table, &families, &Roles::default());
    assert_eq!(p.population.customers, N);
    let revenue = numbers(&table, "spend_365d");
    let total_revenue: f64 = revenue.iter().flatten().sum();
    assert!(close(p.population.revenue_365d.unwrap(), total_revenue));

    for (family, input) in p.families.iter().zip(&families) {
        // Sizes add up in an exclusive family, and so do revenue shares.
        if family.exclusive {
            let size: usize = family.segments.iter().map(|s| s.size).sum();
            assert_eq!(size, N);
            let share: f64 = family
                .segments
                .iter()
                .map(|s| s.revenue_share.unwrap())
                .sum();
            assert!(close(share, 1.0), "{share}");
            let share: f64 = family.segments.iter().map(|s| s.share).sum();
            assert!(close(share, 1.0), "{share}");
        }
        for (s, (name, rows)) in family.segments.iter().zip(&input.segments) {
            assert_eq!(&s.name, name);
            assert_eq!(s.size, rows.len());
            for f in &s.numeric {
                let all = numbers(&table, &f.feature);
                let pop: Vec<f64> = all.iter().flatten().copied().collect();
                let seg: Vec<f64> = rows.iter().filter_map(|&r| all[r as usize]).collect();
                let pm = pop.iter().sum::<f64>() / pop.len() as f64;
                let sd =
                    (pop.iter().map(|x| (x - pm).powi(2)).sum::<f64>() / pop.len() as f64).sqrt();
                assert!(close(f.population_mean.unwrap(), pm));
                assert!(close(
                    f.population_median.unwrap(),
                    naive_median(pop.clone())
                ));
                if seg.is_empty() {
                    assert_eq!(
                        (f.mean, f.median, f.lift, f.std_diff),
                        (None, None, None, None)
                    );
                    continue;
                }
                let sm = seg.iter().sum::<f64>() / seg.len() as f64;
                assert!(close(f.mean.unwrap(), sm), "{} {}", s.name, f.feature);
                assert!(close(f.median.unwrap(), naive_median(seg.clone())));
                assert!(close(f.lift.unwrap(), sm / pm));
                assert!(close(f.std_diff.unwrap(), (sm - pm) / sd));
            }
            // Category mixes: shares among non-null values, lift against the population's.
            let c = s
                .categorical
                .iter()
                .find(|c| c.feature == "country")
                .unwrap();
            let Column::Category { values, codes } = &table.columns[6] else {
                unreachable!()
            };
            let seg_known = rows
                .iter()
                .filter(|&&r| codes[r as usize].is_some())
                .count() as f64;
            let pop_known = codes.iter().flatten().count() as f64;
            for (k, value) in values.iter().enumerate() {
                let v = c.values.iter().find(|v| &v.value == value).unwrap();
                let seg = rows
                    .iter()
                    .filter(|&&r| codes[r as usize] == Some(k as u32))
                    .count() as f64;
                let pop = codes.iter().filter(|&&c| c == Some(k as u32)).count() as f64;
                let share = if seg_known == 0.0 {
                    0.0
                } else {
                    seg / seg_known
                };
                assert!(close(v.share, share));
                assert!(close(v.population_share, pop / pop_known));
                assert!(close(v.lift.unwrap(), share / (pop / pop_known)));
            }
            // NPS.
            let Column::Category { codes, .. } = &table.columns[7] else {
                unreachable!()
            };
            let count = |k: u32| {
                rows.iter()
                    .filter(|&&r| codes[r as usize] == Some(k))
                    .count()
            };
            let nps = s.nps.unwrap();
            assert_eq!(
                (nps.promoters, nps.passives, nps.detractors),
                (count(0), count(1), count(2))
            );
            let answered = count(0) + count(1) + count(2);
            if answered > 0 {
                let score = 100.0 * (count(0) as f64 - count(2) as f64) / answered as f64;
                assert!(close(nps.score.unwrap(), score));
            }
            // Revenue.
            let seg_revenue: f64 = rows.iter().filter_map(|&r| revenue[r as usize]).sum();
            assert!(close(s.revenue_365d.unwrap(), seg_revenue));
            // P(alive): the histogram counts every known value once.
            let alive = numbers(&table, "p_alive");
            let known = rows
                .iter()
                .filter(|&&r| alive[r as usize].is_some())
                .count();
            let d = s.p_alive.as_ref().unwrap();
            assert_eq!(d.count, known);
            assert_eq!(d.histogram.iter().sum::<usize>(), known);
            let mut v: Vec<f64> = rows.iter().filter_map(|&r| alive[r as usize]).collect();
            v.sort_by(f64::total_cmp);
            for (k, q) in [0.1, 0.25, 0.5, 0.75, 0.9].into_iter().enumerate() {
                match d.quantiles[k] {
                    Some(got) => assert!(close(got, naive_quantile(&v, q)), "q{q}"),
                    None => assert!(v.is_empty()),
                }
            }
            for (b, &c) in d.histogram.iter().enumerate() {
                let lo = b as f64 / 10.0;
                let naive = v
                    .iter()
                    .filter(|&&x| x >= lo && (x < lo + 0.1 || b == 9))
                    .count();
                assert_eq!(c, naive, "bin {b}");
            }
            // Traits: strongest first, at most five.
            assert!(s.traits.len() <= 5);
            assert!(s.traits.windows(2).all(|w| w[0].strength >= w[1].strength));
            assert!(!s.actions.is_empty());
        }
    }
}

#[test]
fn recommendations_are_categories_with_lift_weighted_by_spend() {
    let (table, families) = data();
    let p = profile(&table, &families, &Roles::default());
    let gold = &p.families[0].segments[2];
    assert_eq!(gold.name, "gold");
    // Gold customers put up to all their spend in shoes, the others at most 30%.
    let rec = &gold.recommendations;
    assert_eq!(rec.first().map(|r| r.category.as_str()), Some("shoes"));
    let spend = numbers(&table, "monetary_total");
    let shoes = numbers(&table, "category_share_shoes");
    let rows = &families[0].segments[2].1;
    let in_shoes = |rs: &mut dyn Iterator<Item = usize>| -> (f64, f64) {
        rs.fold((0.0, 0.0), |(a, b), r| {
            let s = spend[r].unwrap_or(0.0);
            (a + s * shoes[r].unwrap(), b + s)
        })
    };
    let (seg_shoes, seg_total) = in_shoes(&mut rows.iter().map(|&r| r as usize));
    let (pop_shoes, pop_total) = in_shoes(&mut (0..N));
    assert!(close(rec[0].share, seg_shoes / seg_total));
    assert!(close(
        rec[0].lift,
        (seg_shoes / seg_total) / (pop_shoes / pop_total)
    ));
    assert!(rec.iter().all(|r| r.lift > 1.0));
    // Bronze customers buy books more: shoes is not recommended to them.
    let bronze = &p.families[0].segments[0];
    assert!(bronze.recommendations.iter().all(|r| r.category != "shoes"));
}
