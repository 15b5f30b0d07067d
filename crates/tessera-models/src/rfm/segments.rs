//! Named segments: an ordered list of rules over the R, F and M scores, first match wins,
//! compiled into a lookup table with one entry per combination of scores.

use serde::{Deserialize, Serialize};

use super::{MAX_BINS, MIN_BINS, RfmError};

/// The segment of customers who never purchased; they get no scores.
pub const NO_PURCHASE: &str = "No Purchase";

/// One rule of a segment map: a name and inclusive ranges of scores. A range left out matches
/// every score. `fm` bounds the average of F and M, `(f + m) / 2`, which may be a half.
///
/// Its serde shape is that of a `[[rfm.segments]]` table: `name = "Champions", r = [4, 5],
/// fm = [4, 5]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    /// The segment's name. Several rules may share one, to give a segment a shape no single
    /// box of ranges has.
    pub name: String,
    /// Recency scores, `[lowest, highest]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<[u8; 2]>,
    /// Frequency scores, `[lowest, highest]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<[u8; 2]>,
    /// Monetary scores, `[lowest, highest]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<[u8; 2]>,
    /// The average of the F and M scores, `[lowest, highest]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fm: Option<[u8; 2]>,
}

impl SegmentRule {
    /// A rule that matches every customer, until ranges are added.
    pub fn new(name: impl Into<String>) -> Self {
        SegmentRule {
            name: name.into(),
            r: None,
            f: None,
            m: None,
            fm: None,
        }
    }

    /// Limits the recency score to `lo..=hi`.
    pub fn r(mut self, lo: u8, hi: u8) -> Self {
        self.r = Some([lo, hi]);
        self
    }

    /// Limits the frequency score to `lo..=hi`.
    pub fn f(mut self, lo: u8, hi: u8) -> Self {
        self.f = Some([lo, hi]);
        self
    }

    /// Limits the monetary score to `lo..=hi`.
    pub fn m(mut self, lo: u8, hi: u8) -> Self {
        self.m = Some([lo, hi]);
        self
    }

    /// Limits the average of the frequency and monetary scores to `lo..=hi`.
    pub fn fm(mut self, lo: u8, hi: u8) -> Self {
        self.fm = Some([lo, hi]);
        self
    }

    fn axes(&self) -> [(&'static str, Option<[u8; 2]>); 4] {
        [("r", self.r), ("f", self.f), ("m", self.m), ("fm", self.fm)]
    }

    /// Whether scores `r, f, m` out of `bins` match this rule written for `scale` bins. A score
    /// `x` stands for `1 + (x - 1) * (scale - 1) / (bins - 1)` on the rule's scale, so that the
    /// lowest and highest scores of both scales meet; cross-multiplied to stay in integers.
    fn matches(&self, scale: u8, bins: u8, r: u8, f: u8, m: u8) -> bool {
        let (s, n) = (u32::from(scale) - 1, u32::from(bins) - 1);
        // `offset` is a score minus 1, or for `fm` the sum `f + m` minus 2: twice the average's
        // offset, so its bounds are doubled (`k = 2`) too.
        let within = |range: Option<[u8; 2]>, offset: u32, k: u32| {
            range.is_none_or(|[lo, hi]| {
                let (lo, hi) = (k * (u32::from(lo) - 1) * n, k * (u32::from(hi) - 1) * n);
                lo <= offset * s && offset * s <= hi
            })
        };
        let (r, f, m) = (u32::from(r), u32::from(f), u32::from(m));
        within(self.r, r - 1, 1)
            && within(self.f, f - 1, 1)
            && within(self.m, m - 1, 1)
            && within(self.fm, f + m - 2, 2)
    }
}

/// The 11 named segments of the commonly published R / FM grid, for 5 bins, in the order they
/// are tried. See `docs/rfm.md` for the table and where it comes from.
pub fn standard_rules() -> Vec<SegmentRule> {
    let rule =
        |name: &str, r: [u8; 2], fm: [u8; 2]| SegmentRule::new(name).r(r[0], r[1]).fm(fm[0], fm[1]);
    vec![
        rule("Champions", [4, 5], [4, 5]),
        rule("Cannot Lose Them", [1, 1], [4, 5]),
        rule("Loyal", [2, 5], [3, 5]),
        rule("New Customers", [4, 5], [1, 1]),
        rule("Promising", [3, 4], [1, 1]),
        rule("Potential Loyalist", [3, 5], [1, 3]),
        rule("Need Attention", [2, 3], [2, 3]),
        rule("About To Sleep", [2, 3], [1, 2]),
        rule("Lost", [1, 1], [1, 1]),
        rule("Hibernating", [1, 2], [1, 2]),
        rule("At Risk", [1, 2], [2, 5]),
    ]
}

/// A total map from every combination of scores to a segment name, for a given number of bins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMap {
    bins: u8,
    names: Vec<String>,
    /// Index into `names` for each `(r, f, m)`, at `((r - 1) * bins + f - 1) * bins + m - 1`.
    table: Vec<usize>,
}

impl SegmentMap {
    /// The standard 11-segment map ([`standard_rules`]) for `bins` bins. For other than 5 bins
    /// the rules' boundaries are rescaled proportionally (the lowest and highest scores of both
    /// scales meet); with few bins some segments then match no scores at all.
    pub fn standard(bins: u8) -> Result<SegmentMap, RfmError> {
        check_bins(bins)?;
        SegmentMap::build(bins, 5, &standard_rules())
    }

    /// A map from rules written for `bins` bins, tried in order, first match wins. Every range
    /// must lie within `1..=bins` with its lower bound first, and every combination of scores
    /// must match some rule: end with a catch-all (a rule with no ranges) when unsure.
    pub fn from_rules(bins: u8, rules: Vec<SegmentRule>) -> Result<SegmentMap, RfmError> {
        check_bins(bins)?;
        for (index, rule) in rules.iter().enumerate() {
            if rule.name.trim().is_empty() {
                return Err(RfmError::EmptyName { index: index + 1 });
            }
            for (axis, range) in rule.axes() {
                if let Some([lo, hi]) = range
                    && !(1 <= lo && lo <= hi && hi <= bins)
                {
                    let name = rule.name.clone();
                    return Err(RfmError::Range {
                        name,
                        axis,
                        lo,
                        hi,
                        bins,
                    });
                }
            }
        }
        SegmentMap::build(bins, bins, &rules)
    }

    fn build(bins: u8, scale: u8, rules: &[SegmentRule]) -> Result<SegmentMap, RfmError> {
        let mut names: Vec<String> = Vec::new();
        let mut ids = Vec::with_capacity(rules.len());
        for rule in rules {
            let id = match names.iter().position(|n| *n == rule.name) {
                Some(id) => id,
                None => {
                    names.push(rule.name.clone());
                    names.len() - 1
                }
            };
            ids.push(id);
        }
        let mut table = Vec::with_capacity(usize::from(bins).pow(3));
        for r in 1..=bins {
            for f in 1..=bins {
                for m in 1..=bins {
                    let hit = rules
                        .iter()
                        .position(|rule| rule.matches(scale, bins, r, f, m));
                    table.push(ids[hit.ok_or(RfmError::Uncovered { r, f, m })?]);
                }
            }
        }
        Ok(SegmentMap { bins, names, table })
    }

    /// The number of bins the map is for.
    pub fn bins(&self) -> u8 {
        self.bins
    }

    /// The distinct segment names, in the order of the rules that first name them.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The segment of scores `r, f, m`, or `None` if one is outside `1..=bins`.
    pub fn segment(&self, r: u8, f: u8, m: u8) -> Option<&str> {
        let ok = |x: u8| (1..=self.bins).contains(&x);
        (ok(r) && ok(f) && ok(m)).then(|| self.lookup(r, f, m))
    }

    pub(crate) fn lookup(&self, r: u8, f: u8, m: u8) -> &str {
        let n = usize::from(self.bins);
        let at = ((usize::from(r) - 1) * n + usize::from(f) - 1) * n + usize::from(m) - 1;
        &self.names[self.table[at]]
    }
}

pub(crate) fn check_bins(bins: u8) -> Result<(), RfmError> {
    if (MIN_BINS..=MAX_BINS).contains(&bins) {
        Ok(())
    } else {
        Err(RfmError::Bins(bins))
    }
}
