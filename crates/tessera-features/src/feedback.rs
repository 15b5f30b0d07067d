//! Features from a customer's feedback as of a day: the latest NPS and CSAT scores, the NPS class
//! (promoter 9-10, passive 7-8, detractor 0-6) and how many answers they gave.

/// The kind of a feedback answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nps,
    Csat,
    Other,
}

impl Kind {
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "nps" => Self::Nps,
            "csat" => Self::Csat,
            _ => Self::Other,
        }
    }
}

/// One answer: the customer's position, when it was given (µs UTC), its kind and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackFact {
    pub customer: u32,
    pub at: i64,
    pub kind: Kind,
    pub score: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackFeatures {
    pub count: u32,
    pub latest_nps: Option<f64>,
    pub latest_csat: Option<f64>,
}

/// Promoter (9-10), passive (7-8) or detractor (0-6), the standard NPS classes; none for a
/// score outside the 0-10 scale of the question.
pub fn nps_class(score: f64) -> Option<&'static str> {
    if !(0.0..=10.0).contains(&score) {
        None
    } else if score >= 9.0 {
        Some("promoter")
    } else if score >= 7.0 {
        Some("passive")
    } else {
        Some("detractor")
    }
}

/// Features for customers `0..customers` from answers given before `as_of_micros`. The latest
/// answer wins; of answers given at the same instant, the one later in `facts` wins.
pub fn feedback_features(
    customers: usize,
    facts: &mut [FeedbackFact],
    as_of_micros: i64,
) -> Vec<FeedbackFeatures> {
    facts.sort_by_key(|f| (f.customer, f.at));
    let mut out = vec![FeedbackFeatures::default(); customers];
    for f in facts.iter().filter(|f| f.at < as_of_micros) {
        let Some(slot) = out.get_mut(f.customer as usize) else {
            continue;
        };
        slot.count += 1;
        match f.kind {
            Kind::Nps => slot.latest_nps = Some(f.score),
            Kind::Csat => slot.latest_csat = Some(f.score),
            Kind::Other => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_answer_wins_and_later_ones_do_not_count() {
        let f = |customer, at, kind, score| FeedbackFact {
            customer,
            at,
            kind,
            score,
        };
        let mut facts = vec![
            f(0, 30, Kind::Nps, 3.0),
            f(0, 10, Kind::Nps, 10.0),
            f(0, 20, Kind::Csat, 4.0),
            f(0, 99, Kind::Nps, 9.0),
            f(1, 5, Kind::Other, 1.0),
        ];
        let got = feedback_features(3, &mut facts, 50);
        assert_eq!(
            got[0],
            FeedbackFeatures {
                count: 3,
                latest_nps: Some(3.0),
                latest_csat: Some(4.0)
            }
        );
        assert_eq!(
            got[1],
            FeedbackFeatures {
                count: 1,
                latest_nps: None,
                latest_csat: None
            }
        );
        assert_eq!(got[2], FeedbackFeatures::default());
        assert_eq!(
            [10.0, 9.0, 8.9, 7.0, 6.9, 0.0].map(nps_class),
            [
                "promoter",
                "promoter",
                "passive",
                "passive",
                "detractor",
                "detractor"
            ]
            .map(Some)
        );
        assert_eq!([11.0, -1.0, f64::NAN].map(nps_class), [None; 3]);
    }
}
