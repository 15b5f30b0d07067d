//! The report of a run: one self-contained HTML file (inline CSS and SVG, no scripts, no fonts or
//! images to fetch) that reads on a laptop and prints.
//!
//! Sections, each a `<section id="…">`: `overview`, `segments` (sizes and value shares), `rfm`
//! (the R × F grid coloured by average spend), `clusters` (customers on the first two principal
//! components with labelled centroids, and the k-selection chart), `lift` (segments × features),
//! `value` (CLV and P(alive) per segment), `validation` (actual against predicted purchases),
//! `overlap`, `quality` (accepted and rejected rows per source, top reject reasons) and
//! `profiles` (each segment's traits, actions and offers). A section whose data the run lacks
//! says so instead of drawing an empty chart.

mod svg;

use std::fmt::Write as _;

use serde_json::Value;
use svg::{esc, short};
use tessera_profile::{FamilyKind, Profiles};

pub use svg::{diverging, sequential};

/// The R × F grid: customers and their mean monetary value per (R, F) score pair.
pub struct RfmGrid {
    /// Score bins (5 for quintiles).
    pub bins: usize,
    /// `count[r - 1][f - 1]`.
    pub count: Vec<Vec<u64>>,
    /// `mean_monetary[r - 1][f - 1]`, major units.
    pub mean_monetary: Vec<Vec<f64>>,
}

/// Customers projected on the first two principal components of the clustering features.
pub struct Projection {
    /// A sample of customers: (pc1, pc2, cluster index from 0).
    pub points: Vec<(f64, f64, usize)>,
    /// Each cluster's mean position and label.
    pub centroids: Vec<(f64, f64, String)>,
    /// Share of the variance the two components explain.
    pub explained: f64,
}

/// Everything the report draws.
pub struct Input<'a> {
    /// The project's name.
    pub title: &'a str,
    /// `run.json`.
    pub run: &'a Value,
    pub profiles: &'a Profiles,
    /// Segment names and pairwise member counts.
    pub overlap: Option<(Vec<String>, Vec<Vec<u64>>)>,
    pub rfm: Option<RfmGrid>,
    pub projection: Option<Projection>,
    /// Movement since the previous recorded run, when there is one.
    pub history: Option<History>,
}

/// How customers moved since the previous recorded run, and sizes over the kept runs.
pub struct History {
    /// The previous run, as the report names it ("run 3, as of 2025-01-01").
    pub previous: String,
    /// Customers in both runs, only in this one, only in the previous one.
    pub kept: u64,
    pub new: u64,
    pub gone: u64,
    /// Per exclusive family, customers from each earlier label (rows, last `(new)`) to each
    /// label now (columns, last `(gone)`).
    pub migrations: Vec<Migration>,
    /// Per family and label: size before, size now, entered, left.
    pub changes: Vec<Change>,
    /// The kept runs and this one, oldest first, as the trend charts label them.
    pub runs: Vec<String>,
    /// Per family, each label's size in every run of `runs` (0 where it had no members).
    pub trends: Vec<Trend>,
    /// Definitions added, removed or changed since the previous run, as "kind name: change".
    pub definitions: Vec<String>,
}

pub struct Trend {
    pub family: String,
    /// Each label with its size in every run.
    pub series: Vec<(String, Vec<f64>)>,
}

pub struct Migration {
    pub family: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

pub struct Change {
    pub family: String,
    pub segment: String,
    pub before: u64,
    pub after: u64,
    pub entered: u64,
    pub left: u64,
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;margin:0;background:#fafbfc}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:0 0 10px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 4px}
section{background:#fff;border:1px solid #e3e7ee;border-radius:8px;padding:16px 20px;margin:18px 0;break-inside:avoid}
.note{color:#5b6472;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 150px;border:1px solid #e3e7ee;border-radius:6px;padding:10px 12px}
.card b{display:block;font-size:22px}
figure{margin:8px 0}figure svg{max-width:100%;height:auto}
svg text{font-size:11px;fill:#1d2430}svg .value{fill:#5b6472}svg .cell{font-size:10px}svg .centroid{font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eef1f5;text-align:right}
td:first-child,th:first-child{text-align:left}
.profile{border-top:1px solid #eef1f5;padding:6px 0}
ul{margin:4px 0 4px 18px;padding:0}
@media print{body{background:#fff}section{border:none;padding:0 0 12px}main{padding:0}}
";

fn figure(out: &mut String, name: &str, caption: &str, svg: String) {
    let _ = write!(
        out,
        r#"<figure class="chart" data-chart="{name}">{svg}<figcaption class="note">{}</figcaption></figure>"#,
        esc(caption)
    );
}

fn section(out: &mut String, id: &str, title: &str, body: impl FnOnce(&mut String)) {
    let _ = write!(out, r#"<section id="{id}"><h2>{}</h2>"#, esc(title));
    body(out);
    out.push_str("</section>");
}

fn missing(out: &mut String, what: &str) {
    let _ = write!(out, r#"<p class="note missing">{}</p>"#, esc(what));
}

/// The report as one HTML document.
pub fn render(input: &Input<'_>) -> String {
    let run = input.run;
    let p = input.profiles;
    let mut out = String::with_capacity(1 << 18);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{} · Tessera report</title><style>{STYLE}</style></head><body><main>"#,
        esc(input.title)
    );
    let _ = write!(
        out,
        r#"<h1>{}</h1><p class="note">Customer segmentation as of {} · Tessera {}</p>"#,
        esc(input.title),
        esc(run["as_of"].as_str().unwrap_or("?")),
        esc(run["version"].as_str().unwrap_or(""))
    );
    overview(&mut out, input);
    segments(&mut out, p);
    rfm(&mut out, input.rfm.as_ref());
    clusters(&mut out, input);
    lift(&mut out, p);
    value(&mut out, p);
    validation(&mut out, run);
    overlap(&mut out, input.overlap.as_ref());
    if let Some(h) = &input.history {
        history(&mut out, h);
    }
    quality(&mut out, run);
    profiles(&mut out, p);
    out.push_str("</main></body></html>\n");
    out
}

fn overview(out: &mut String, input: &Input<'_>) {
    let p = input.profiles;
    let segments: usize = p.families.iter().map(|f| f.segments.len()).sum();
    let orders = input.run["sources"]["orders"]["accepted"].as_u64();
    section(out, "overview", "Overview", |out| {
        out.push_str(r#"<div class="cards">"#);
        let mut card = |label: &str, value: String| {
            let _ = write!(
                out,
                r#"<div class="card"><b>{}</b>{}</div>"#,
                esc(&value),
                esc(label)
            );
        };
        card("customers", short(p.population.customers as f64));
        if let Some(o) = orders {
            card("orders", short(o as f64));
        }
        if let Some(r) = p.population.revenue_365d {
            card("revenue, last 365 days", short(r));
        }
        card("segments in all families", segments.to_string());
        if let Some(s) = p.population.nps.and_then(|n| n.score) {
            card("NPS", format!("{s:.0}"));
        }
        out.push_str("</div>");
    });
}

fn segments(out: &mut String, p: &Profiles) {
    section(out, "segments", "Segments: size and value", |out| {
        let mut drawn = false;
        for f in &p.families {
            if f.segments.is_empty() {
                continue;
            }
            drawn = true;
            let labels: Vec<String> = f.segments.iter().map(label).collect();
            let size: Vec<f64> = f.segments.iter().map(|s| s.share).collect();
            let revenue: Vec<f64> = f
                .segments
                .iter()
                .map(|s| s.revenue_share.unwrap_or(0.0))
                .collect();
            figure(
                out,
                &format!("sizes-{}", f.name),
                &format!(
                    "{} ({}): share of customers and share of last year's revenue{}.",
                    f.name,
                    kind_name(f.kind),
                    if f.exclusive {
                        "; exclusive, so each adds up to the covered customers"
                    } else {
                        ""
                    }
                ),
                svg::bars(
                    &format!("{}: share of customers and of revenue", f.name),
                    &labels,
                    &[("customers", size), ("revenue, 365 days", revenue)],
                    true,
                ),
            );
        }
        if !drawn {
            missing(out, "The run has no segments.");
        }
    });
}

fn label(s: &tessera_profile::SegmentProfile) -> String {
    match &s.label {
        Some(l) => format!("{} · {}", s.name, l),
        None => s.name.clone(),
    }
}

/// A segment's label with its family's name, except for the rule segments.
fn qualified(f: &tessera_profile::FamilyProfile, s: &tessera_profile::SegmentProfile) -> String {
    match f.kind {
        FamilyKind::Segments => label(s),
        _ => format!("{}: {}", f.name, label(s)),
    }
}

fn kind_name(k: FamilyKind) -> &'static str {
    match k {
        FamilyKind::Segments => "rule segments",
        FamilyKind::Group => "group, first match wins",
        FamilyKind::Rfm => "RFM",
        FamilyKind::Cluster => "clusters",
        FamilyKind::ChurnRisk => "churn risk",
    }
}

fn rfm(out: &mut String, grid: Option<&RfmGrid>) {
    section(out, "rfm", "RFM grid", |out| {
        let Some(g) = grid else {
            return missing(out, "No customer has RFM scores.");
        };
        let max = g
            .mean_monetary
            .iter()
            .flatten()
            .copied()
            .fold(0.0f64, f64::max);
        let rows: Vec<String> = (1..=g.bins).rev().map(|r| format!("R = {r}")).collect();
        let cols: Vec<String> = (1..=g.bins).map(|f| format!("F = {f}")).collect();
        let values: Vec<Vec<Option<f64>>> = (0..g.bins)
            .rev()
            .map(|r| {
                (0..g.bins)
                    .map(|f| (g.count[r][f] > 0).then(|| g.mean_monetary[r][f]))
                    .collect()
            })
            .collect();
        figure(
            out,
            "rfm-grid",
            "Customers by recency score (rows, 5 = most recent) and frequency score (columns); colour and number: their average monetary value.",
            svg::heatmap(
                "RFM grid: average monetary value by R and F score",
                &rows,
                &cols,
                &values,
                &|v| sequential(if max > 0.0 { v / max } else { 0.0 }),
                &short,
            ),
        );
        let counts: Vec<Vec<Option<f64>>> = (0..g.bins)
            .rev()
            .map(|r| (0..g.bins).map(|f| Some(g.count[r][f] as f64)).collect())
            .collect();
        let cmax = g.count.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        figure(
            out,
            "rfm-counts",
            "Customers in each R × F cell.",
            svg::heatmap(
                "RFM grid: customers by R and F score",
                &rows,
                &cols,
                &counts,
                &|v| sequential(v / cmax),
                &short,
            ),
        );
    });
}

fn clusters(out: &mut String, input: &Input<'_>) {
    section(out, "clusters", "Clusters", |out| {
        let c = &input.run["clustering"];
        if c.is_null() {
            return missing(out, "The run has no [clustering].");
        }
        if let Some(reason) = c["reason"].as_str() {
            let _ = write!(out, r#"<p>{}</p>"#, esc(reason));
        }
        match &input.projection {
            Some(pr) => figure(
                out,
                "clusters-pca",
                &format!(
                    "A sample of {} customers on the first two principal components of the clustering features (after their transforms), {:.0}% of the variance; large dots are the clusters' centres.",
                    pr.points.len(),
                    100.0 * pr.explained
                ),
                svg::scatter(
                    "Clusters on the first two principal components",
                    &pr.points,
                    &pr.centroids,
                ),
            ),
            None => missing(out, "No projection of the clustered customers."),
        }
        let rows = c["selection"]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if rows.len() > 1 {
            let ks: Vec<f64> = rows.iter().filter_map(|r| r["k"].as_f64()).collect();
            let get = |key: &str| -> Vec<f64> {
                rows.iter()
                    .map(|r| r[key].as_f64().unwrap_or(f64::NAN))
                    .collect()
            };
            figure(
                out,
                "k-selection",
                "Choosing k: silhouette (higher is better separated), stability across subsamples, and the smallest cluster's share, each on its own scale; the dashed line marks the chosen k.",
                svg::lines(
                    "k selection",
                    &ks,
                    &[
                        ("silhouette", get("silhouette")),
                        ("stability", get("stability")),
                        ("smallest share", get("min_share")),
                    ],
                    c["k"].as_f64(),
                ),
            );
        } else {
            missing(out, "k was fixed in the config: no selection chart.");
        }
    });
}

/// The numeric features shown in the lift heatmap, when present.
const LIFT_FEATURES: [&str; 12] = [
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_avg",
    "spend_365d",
    "orders_90d",
    "tenure_days",
    "refunds_count",
    "feedback_count",
    "nps_latest",
    "clv",
    "p_alive",
];

fn lift(out: &mut String, p: &Profiles) {
    section(out, "lift", "What sets each segment apart", |out| {
        let rows: Vec<(String, &tessera_profile::SegmentProfile)> = p
            .families
            .iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FamilyKind::Segments | FamilyKind::Cluster | FamilyKind::Group
                )
            })
            .flat_map(|f| f.segments.iter().map(move |s| (qualified(f, s), s)))
            .filter(|(_, s)| s.size > 0)
            .collect();
        let features: Vec<&str> = LIFT_FEATURES
            .iter()
            .copied()
            .filter(|f| p.population.numeric.iter().any(|(n, _)| n == f))
            .collect();
        if rows.is_empty() || features.is_empty() {
            return missing(out, "No segments or features to compare.");
        }
        let values: Vec<Vec<Option<f64>>> = rows
            .iter()
            .map(|(_, s)| {
                features
                    .iter()
                    .map(|f| {
                        s.numeric
                            .iter()
                            .find(|n| n.feature == *f)
                            .and_then(|n| n.lift)
                    })
                    .collect()
            })
            .collect();
        figure(
            out,
            "lift-heatmap",
            "Each feature's segment mean over the population mean (lift): blue above 1, red below, on a log scale.",
            svg::heatmap(
                "Feature lift by segment",
                &rows.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
                &features.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
                &values,
                &|v| diverging(if v > 0.0 { v.log2() / 2.0 } else { -1.0 }),
                &|v| format!("{v:.2}"),
            ),
        );
    });
}

fn value(out: &mut String, p: &Profiles) {
    section(out, "value", "Lifetime value and churn", |out| {
        let rows: Vec<(String, &tessera_profile::SegmentProfile)> = p
            .families
            .iter()
            .filter(|f| !matches!(f.kind, FamilyKind::ChurnRisk))
            .flat_map(|f| f.segments.iter().map(move |s| (qualified(f, s), s)))
            .filter(|(_, s)| s.clv.is_some_and(|c| c.mean.is_some()))
            .collect();
        if rows.is_empty() {
            return missing(out, "The run has no [clv].");
        }
        let with_spread: Vec<&(String, &tessera_profile::SegmentProfile)> = rows
            .iter()
            .filter(|(_, s)| {
                s.clv
                    .is_some_and(|c| c.quantiles.iter().all(Option::is_some))
            })
            .collect();
        figure(
            out,
            "clv-by-segment",
            "Predicted customer lifetime value per segment: its spread over the segment's customers and its mean.",
            svg::ranges(
                "CLV by segment",
                &with_spread
                    .iter()
                    .map(|(l, _)| l.clone())
                    .collect::<Vec<_>>(),
                &with_spread
                    .iter()
                    .map(|(_, s)| {
                        s.clv
                            .map_or([0.0; 5], |c| c.quantiles.map(|q| q.unwrap_or(0.0)))
                    })
                    .collect::<Vec<_>>(),
                &with_spread
                    .iter()
                    .map(|(_, s)| s.clv.and_then(|c| c.mean).unwrap_or(0.0))
                    .collect::<Vec<_>>(),
            ),
        );
        let hist: Vec<(String, Vec<usize>)> = rows
            .iter()
            .filter_map(|(l, s)| {
                s.p_alive
                    .as_ref()
                    .map(|d| (l.clone(), d.histogram.to_vec()))
            })
            .collect();
        figure(
            out,
            "p-alive",
            "How many of each segment's customers the model thinks are still active: P(alive) in ten bins from 0 to 1.",
            svg::histograms("P(alive) by segment", &hist),
        );
    });
}

fn validation(out: &mut String, run: &Value) {
    section(
        out,
        "validation",
        "Does the model predict? Actual against predicted purchases",
        |out| {
            let v = &run["clv"]["validation"];
            let Some(rows) = v["rows"].as_array().filter(|r| !r.is_empty()) else {
                return missing(
                    out,
                    "The run has no CLV holdout validation ([clv] holdout_days).",
                );
            };
            let labels: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{} repeat purchases ({} customers)",
                        r["frequency"].as_str().unwrap_or("?"),
                        r["customers"]
                    )
                })
                .collect();
            let get = |k: &str| {
                rows.iter()
                    .map(|r| r[k].as_f64().unwrap_or(0.0))
                    .collect::<Vec<_>>()
            };
            figure(
                out,
                "actual-vs-predicted",
                &format!(
                    "Mean purchases per customer in the {}-day holdout after {}, by purchases in the calibration period; MAE per customer {}.",
                    v["holdout_days"],
                    v["calibration_end"].as_str().unwrap_or("?"),
                    v["mae"].as_f64().map_or("?".into(), |m| format!("{m:.3}"))
                ),
                svg::bars(
                    "Actual and predicted purchases in the holdout",
                    &labels,
                    &[("actual", get("actual")), ("predicted", get("predicted"))],
                    false,
                ),
            );
        },
    );
}

fn overlap(out: &mut String, o: Option<&(Vec<String>, Vec<Vec<u64>>)>) {
    section(out, "overlap", "Overlap between segments", |out| {
        let Some((names, counts)) = o.filter(|(n, _)| !n.is_empty()) else {
            return missing(out, "The run has no rule segments.");
        };
        let values: Vec<Vec<Option<f64>>> = counts
            .iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .map(|&c| {
                        let own = counts[i][i];
                        Some(if own == 0 { 0.0 } else { c as f64 / own as f64 })
                    })
                    .collect()
            })
            .collect();
        figure(
            out,
            "overlap-matrix",
            "Row segment's members who are also in the column segment, as a share of the row segment.",
            svg::heatmap(
                "Segment overlap",
                names,
                names,
                &values,
                &sequential,
                &|v| format!("{:.0}%", 100.0 * v),
            ),
        );
    });
}

fn history(out: &mut String, h: &History) {
    section(out, "history", "Movement since the previous run", |out| {
        let _ = write!(
            out,
            r#"<p>Compared with {}: {} customers in both runs, {} new, {} gone.</p>"#,
            esc(&h.previous),
            h.kept,
            h.new,
            h.gone
        );
        if !h.definitions.is_empty() {
            out.push_str("<p>Definitions changed since then:</p><ul>");
            for d in &h.definitions {
                let _ = write!(out, "<li>{}</li>", esc(d));
            }
            out.push_str("</ul>");
        }
        for m in &h.migrations {
            // Colour by the share of the row, label by the count.
            let share = |i: usize, j: usize| {
                let total = m.counts[i].iter().sum::<u64>().max(1) as f64;
                sequential(m.counts[i][j] as f64 / total)
            };
            figure(
                out,
                &format!("migration-{}", m.family),
                &format!(
                    "{}: customers from each label of the previous run (rows) to each label now (columns); colour is the share of the row.",
                    m.family
                ),
                svg::flow_matrix(
                    &format!("Migration of {}", m.family),
                    &m.from,
                    &m.to,
                    &m.counts,
                    &share,
                ),
            );
        }
        for Trend { family, series } in &h.trends {
            let series: Vec<(&str, Vec<f64>)> = series
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect();
            figure(
                out,
                &format!("trend-{family}"),
                &if family == "segments" {
                    "Members of each rule segment in the kept runs and this one, oldest first."
                        .to_string()
                } else {
                    format!(
                        "Members of each {family} label in the kept runs and this one, oldest first."
                    )
                },
                svg::trends(&format!("Sizes of {family} over time"), &h.runs, &series),
            );
        }
        let mut movers: Vec<&Change> = h.changes.iter().collect();
        movers.sort_by_key(|c| std::cmp::Reverse(c.entered + c.left));
        out.push_str(
            "<h3>Biggest movers</h3><table><tr><th>family</th><th>segment</th><th>before</th><th>now</th><th>entered</th><th>left</th></tr>",
        );
        for c in movers.iter().take(15) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.family),
                esc(&c.segment),
                c.before,
                c.after,
                c.entered,
                c.left
            );
        }
        out.push_str("</table>");
    });
}

fn quality(out: &mut String, run: &Value) {
    section(out, "quality", "Data quality", |out| {
        let Some(sources) = run["sources"].as_object() else {
            return missing(out, "No source counts in run.json.");
        };
        let names: Vec<String> = sources.keys().cloned().collect();
        let get = |k: &str| {
            names
                .iter()
                .map(|n| sources[n][k].as_f64().unwrap_or(0.0))
                .collect::<Vec<_>>()
        };
        figure(
            out,
            "quality-rows",
            "Rows read per source: accepted into the clean tables, rejected (listed in rejects.csv with file, line and column), exact duplicates.",
            svg::bars(
                "Rows per source",
                &names,
                &[
                    ("accepted", get("accepted")),
                    ("rejected", get("rejected")),
                    ("duplicates", get("duplicates")),
                ],
                false,
            ),
        );
        let mut reasons: Vec<(String, String, u64)> = Vec::new();
        for (source, s) in sources {
            for (reason, n) in s["rejects_by_reason"].as_object().into_iter().flatten() {
                reasons.push((source.clone(), reason.clone(), n.as_u64().unwrap_or(0)));
            }
        }
        reasons.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        if reasons.is_empty() {
            out.push_str(r#"<p class="note">No row was rejected.</p>"#);
            return;
        }
        out.push_str("<h3>Top reject reasons</h3><table><tr><th>source</th><th>reason</th><th>rows</th></tr>");
        for (source, reason, n) in reasons.iter().take(10) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{n}</td></tr>",
                esc(source),
                esc(reason)
            );
        }
        out.push_str("</table>");
    });
}

fn profiles(out: &mut String, p: &Profiles) {
    section(out, "profiles", "Segment profiles", |out| {
        for f in &p.families {
            let _ = write!(
                out,
                "<h3>{} <span class=\"note\">({})</span></h3>",
                esc(&f.name),
                kind_name(f.kind)
            );
            for s in &f.segments {
                let _ = write!(
                    out,
                    r#"<div class="profile"><b>{}</b> <span class="note">{} customers ({:.1}%){}</span><ul>"#,
                    esc(&label(s)),
                    s.size,
                    100.0 * s.share,
                    s.revenue_share
                        .map_or(String::new(), |r| format!(", {:.1}% of revenue", 100.0 * r))
                );
                for t in s.traits.iter().take(3) {
                    let _ = write!(out, "<li>{}</li>", esc(&t.text));
                }
                for a in &s.actions {
                    let _ = write!(out, "<li><i>{}</i></li>", esc(a));
                }
                out.push_str("</ul></div>");
            }
        }
    });
}
