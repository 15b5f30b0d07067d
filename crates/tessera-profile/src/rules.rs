//! Names for clusters and suggested actions for every segment, from documented rules over a
//! profile (the same rules are listed in `docs/profiles.md`).

use super::SegmentProfile;

/// A standardized difference at least this large counts as a trait in names and actions.
const NOTABLE: f64 = 0.3;

fn std_diff(p: &SegmentProfile, feature: &str) -> Option<f64> {
    p.numeric
        .iter()
        .find(|f| f.feature == feature)
        .and_then(|f| f.std_diff)
}

fn lift(p: &SegmentProfile, feature: &str) -> Option<f64> {
    p.numeric
        .iter()
        .find(|f| f.feature == feature)
        .and_then(|f| f.lift)
}

fn mean(p: &SegmentProfile, feature: &str) -> Option<f64> {
    p.numeric
        .iter()
        .find(|f| f.feature == feature)
        .and_then(|f| f.mean)
}

/// The share of the segment holding `value` of a categorical feature.
fn share_of(p: &SegmentProfile, feature: &str, value: &str) -> Option<f64> {
    let f = p.categorical.iter().find(|f| f.feature == feature)?;
    Some(
        f.values
            .iter()
            .find(|v| v.value == value)
            .map_or(0.0, |v| v.share),
    )
}

/// A cluster's name from recency, frequency and spend against the population: each of
/// `recency_days`, `frequency` and `monetary_total` whose standardized difference is at least
/// 0.3 in size gives a word ("Recent"/"Lapsed", "frequent"/"infrequent", "high spend"/"low
/// spend"); with none, "Average customers".
pub fn cluster_name(p: &SegmentProfile) -> String {
    let word = |feature: &str, low: &'static str, high: &'static str| {
        std_diff(p, feature).and_then(|d| {
            if d <= -NOTABLE {
                Some(low)
            } else if d >= NOTABLE {
                Some(high)
            } else {
                None
            }
        })
    };
    let words: Vec<&str> = [
        word("recency_days", "recent", "lapsed"),
        word("frequency", "infrequent", "frequent"),
        word("monetary_total", "low spend", "high spend"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if words.is_empty() {
        return "Average customers".into();
    }
    let text = words.join(", ");
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or(text)
}

/// Suggested actions, in the order of the rules that fire:
/// 1. high value (revenue share ≥ 1.5 × size share, or mean CLV ≥ 1.5 × the average) and high
///    churn risk (median P(alive) below 0.5, or at least 40% in churn risk "high"): win-back;
/// 2. high value without that risk: reward and retain;
/// 3. new (mean tenure at most half the average, or at least half of the segment "New
///    Customers" or "Promising" in RFM): onboarding;
/// 4. detractors (NPS below 0 with at least 10 answers, or detractors 1.5 × as common as
///    overall): service follow-up before marketing;
/// 5. low value (revenue share ≤ 0.5 × size share) with high churn risk: low-cost reactivation;
/// 6. no purchases at all: a first-purchase incentive;
/// 7. categories bought more than average: cross-sell them;
/// 8. none of the above: regular nurture.
pub fn actions(p: &SegmentProfile) -> Vec<String> {
    let value_index = match p.revenue_share {
        Some(r) if p.share > 0.0 => Some(r / p.share),
        _ => lift(p, "clv"),
    };
    let clv_lift = lift(p, "clv");
    let high_value = value_index.is_some_and(|v| v >= 1.5) || clv_lift.is_some_and(|v| v >= 1.5);
    let low_value = value_index.is_some_and(|v| v <= 0.5);
    let churn = p
        .p_alive
        .as_ref()
        .and_then(|d| d.quantiles[2])
        .is_some_and(|m| m < 0.5)
        || share_of(p, "churn_risk", "high").is_some_and(|s| s >= 0.4);
    let new = lift(p, "tenure_days").is_some_and(|l| l <= 0.5)
        || share_of(p, "rfm_segment", "New Customers").unwrap_or(0.0)
            + share_of(p, "rfm_segment", "Promising").unwrap_or(0.0)
            >= 0.5;
    let detractors = p.nps.is_some_and(|n| {
        n.score.is_some_and(|s| s < 0.0) && n.promoters + n.passives + n.detractors >= 10
    }) || p
        .categorical
        .iter()
        .find(|f| f.feature == "nps_class")
        .and_then(|f| f.values.iter().find(|v| v.value == "detractor"))
        .and_then(|v| v.lift)
        .is_some_and(|l| l >= 1.5);
    let never_bought = mean(p, "frequency").is_some_and(|f| f == 0.0);
    let value_text = match p.revenue_share {
        Some(r) => format!(
            " ({:.0}% of last year's revenue from {:.0}% of customers)",
            100.0 * r,
            100.0 * p.share
        ),
        None => String::new(),
    };
    let mut out = Vec::new();
    if high_value && churn {
        out.push(format!(
            "Win back: a personal offer or call before they are gone{value_text}."
        ));
    } else if high_value {
        out.push(format!(
            "Reward and retain: VIP perks, early access and referral requests{value_text}."
        ));
    }
    if new {
        out.push(
            "Onboard: a welcome series, a second-purchase incentive and product guidance.".into(),
        );
    }
    if detractors {
        out.push(
            "Follow up on service: ask about their experience and fix it before marketing to them."
                .into(),
        );
    }
    if low_value && churn {
        out.push(
            "Reactivate at low cost: an automated win-back email; stop paid reach if it fails."
                .into(),
        );
    }
    if never_bought {
        out.push("Convert: a first-purchase incentive.".into());
    }
    if !p.recommendations.is_empty() {
        let cats: Vec<String> = p
            .recommendations
            .iter()
            .take(3)
            .map(|r| format!("{} ({:.1}×)", r.category, r.lift))
            .collect();
        out.push(format!(
            "Cross-sell what they buy more of than others: {}.",
            cats.join(", ")
        ));
    }
    if out.is_empty() {
        out.push("Nurture: the regular newsletter and seasonal offers.".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Distribution, NumericProfile, Recommendation};

    fn profile(numeric: &[(&str, f64, f64)]) -> SegmentProfile {
        SegmentProfile {
            name: "s".into(),
            label: None,
            size: 100,
            share: 0.1,
            revenue_365d: None,
            revenue_share: None,
            clv: None,
            p_alive: None,
            nps: None,
            numeric: numeric
                .iter()
                .map(|&(feature, lift, std_diff)| NumericProfile {
                    feature: feature.into(),
                    mean: Some(lift),
                    median: None,
                    population_mean: Some(1.0),
                    population_median: None,
                    lift: Some(lift),
                    std_diff: Some(std_diff),
                })
                .collect(),
            categorical: Vec::new(),
            traits: Vec::new(),
            actions: Vec::new(),
            recommendations: Vec::new(),
        }
    }

    #[test]
    fn clusters_are_named_by_recency_frequency_and_spend() {
        let p = profile(&[
            ("recency_days", 0.4, -0.8),
            ("frequency", 2.0, 0.9),
            ("monetary_total", 3.0, 1.2),
        ]);
        assert_eq!(cluster_name(&p), "Recent, frequent, high spend");
        let p = profile(&[
            ("recency_days", 2.0, 0.5),
            ("frequency", 0.9, -0.1),
            ("monetary_total", 0.5, -0.4),
        ]);
        assert_eq!(cluster_name(&p), "Lapsed, low spend");
        let p = profile(&[("recency_days", 1.0, 0.29), ("frequency", 1.0, -0.29)]);
        assert_eq!(cluster_name(&p), "Average customers");
    }

    #[test]
    fn actions_follow_the_documented_rules() {
        // High value (30% of revenue from 10% of customers) and a median P(alive) of 0.3.
        let mut p = profile(&[]);
        p.revenue_share = Some(0.3);
        p.p_alive = Some(Distribution {
            count: 100,
            quantiles: [Some(0.1), Some(0.2), Some(0.3), Some(0.5), Some(0.7)],
            histogram: [0; 10],
        });
        let a = actions(&p);
        assert_eq!(a.len(), 1);
        assert!(
            a[0].starts_with("Win back")
                && a[0].contains("30% of last year's revenue from 10% of customers"),
            "{a:?}"
        );
        // The same value, alive: reward; plus the categories they favour.
        p.p_alive.as_mut().unwrap().quantiles[2] = Some(0.8);
        p.recommendations = vec![Recommendation {
            category: "shoes".into(),
            share: 0.5,
            population_share: 0.25,
            lift: 2.0,
        }];
        let a = actions(&p);
        assert!(a[0].starts_with("Reward and retain"), "{a:?}");
        assert_eq!(
            a[1],
            "Cross-sell what they buy more of than others: shoes (2.0×)."
        );
        // Low value, slipping, new and never bought.
        let mut p = profile(&[("tenure_days", 0.3, -1.0), ("frequency", 0.0, -1.0)]);
        p.revenue_share = Some(0.01);
        p.p_alive = Some(Distribution {
            count: 1,
            quantiles: [Some(0.2); 5],
            histogram: [0; 10],
        });
        let a = actions(&p);
        assert!(
            a[0].starts_with("Onboard")
                && a[1].starts_with("Reactivate")
                && a[2].starts_with("Convert"),
            "{a:?}"
        );
        // Nothing notable.
        assert_eq!(
            actions(&profile(&[])),
            ["Nurture: the regular newsletter and seasonal offers."]
        );
    }
}
