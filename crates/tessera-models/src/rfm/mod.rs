//! RFM scoring: each customer who purchased gets a recency, a frequency and a monetary score,
//! `1..=bins`, and every customer a named segment.
//!
//! Scores are exactly those of this SQL over the customers who purchased, with `bins` buckets:
//!
//! ```sql
//! SELECT *,
//!   ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
//!   ntile(5) OVER (ORDER BY frequency, customer_id) AS f_score,
//!   ntile(5) OVER (ORDER BY monetary_minor, customer_id) AS m_score
//! FROM agg
//! ```
//!
//! so the highest score is the most recent, most frequent, highest spending bucket, ties go to
//! the lower bucket for the customer whose id is smaller as bytes, and bucket sizes differ by
//! at most one. Parameters are checked once ([`RfmParams::check`]) into a [`CheckedRfm`]
//! that scores any number of inputs.

mod error;
mod ntile;
mod segments;

pub use error::RfmError;
pub use segments::{NO_PURCHASE, SegmentMap, SegmentRule, standard_rules};

use serde::Serialize;

/// The fewest bins accepted.
pub const MIN_BINS: u8 = 2;
/// The most bins accepted.
pub const MAX_BINS: u8 = 10;
/// The default number of bins: quintiles.
pub const DEFAULT_BINS: u8 = 5;

/// One row per customer, as parallel columns of the same length.
#[derive(Debug, Clone, Copy)]
pub struct RfmInput<'a> {
    /// Unique ids; ties in a score are broken by these, compared as bytes.
    pub customer_id: &'a [&'a str],
    /// Days from the last purchase to the as-of day; `None` for a customer who never
    /// purchased, who is left out of the ranking.
    pub recency_days: &'a [Option<i64>],
    /// Number of purchases.
    pub frequency: &'a [u64],
    /// Total spent, in minor units (cents).
    pub monetary_minor: &'a [i64],
}

impl RfmInput<'_> {
    /// The number of rows, or an error naming the lengths if the columns differ.
    pub fn rows(&self) -> Result<usize, RfmError> {
        let n = self.customer_id.len();
        let lengths = [
            self.recency_days.len(),
            self.frequency.len(),
            self.monetary_minor.len(),
        ];
        if lengths.iter().all(|&l| l == n) {
            return Ok(n);
        }
        Err(RfmError::Lengths {
            customer_id: n,
            recency_days: lengths[0],
            frequency: lengths[1],
            monetary_minor: lengths[2],
        })
    }
}

/// One customer's result, in the row order of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RfmScore {
    /// Recency score, `bins` for the most recent; `None` if the customer never purchased.
    pub r: Option<u8>,
    /// Frequency score, `bins` for the most purchases.
    pub f: Option<u8>,
    /// Monetary score, `bins` for the highest spend.
    pub m: Option<u8>,
    /// The scores as one code, `"545"`; with 10 bins they are joined by `-`: `"10-4-7"`.
    pub code: Option<String>,
    /// The segment's name; [`NO_PURCHASE`] for a customer who never purchased.
    pub segment: String,
}

/// Unchecked RFM parameters: the number of bins and the segment map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfmParams {
    bins: u8,
    map: Option<SegmentMap>,
}

impl Default for RfmParams {
    fn default() -> Self {
        RfmParams::new()
    }
}

impl RfmParams {
    /// Quintiles ([`DEFAULT_BINS`]) and the standard map ([`SegmentMap::standard`]).
    pub fn new() -> Self {
        RfmParams {
            bins: DEFAULT_BINS,
            map: None,
        }
    }

    /// The number of buckets of each score, `2..=10`: 5 for quintiles, 4 for quartiles.
    pub fn bins(mut self, bins: u8) -> Self {
        self.bins = bins;
        self
    }

    /// A segment map in place of the standard one; it must be for the same number of bins.
    pub fn map(mut self, map: SegmentMap) -> Self {
        self.map = Some(map);
        self
    }

    /// Checks the parameters once; without a map of its own, the standard map for the bins.
    pub fn check(self) -> Result<CheckedRfm, RfmError> {
        segments::check_bins(self.bins)?;
        let map = match self.map {
            Some(map) if map.bins() != self.bins => {
                return Err(RfmError::MapBins {
                    map: map.bins(),
                    bins: self.bins,
                });
            }
            Some(map) => map,
            None => SegmentMap::standard(self.bins)?,
        };
        Ok(CheckedRfm {
            bins: self.bins,
            map,
        })
    }
}

/// Checked RFM parameters, ready to score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRfm {
    bins: u8,
    map: SegmentMap,
}

impl CheckedRfm {
    /// The number of bins.
    pub fn bins(&self) -> u8 {
        self.bins
    }

    /// The segment map.
    pub fn map(&self) -> &SegmentMap {
        &self.map
    }

    /// Scores every customer of `input`, in its row order. Fails if the columns differ in
    /// length or a `customer_id` appears twice. Runs in O(n log n).
    pub fn score(&self, input: &RfmInput<'_>) -> Result<Vec<RfmScore>, RfmError> {
        let [r, f, m] = self.tiles(input)?;
        let scores = (0..r.len()).map(|row| {
            let (r, f, m) = (r[row], f[row], m[row]);
            let segment = self.segment(r, f, m).to_owned();
            if r == 0 {
                return RfmScore {
                    r: None,
                    f: None,
                    m: None,
                    code: None,
                    segment,
                };
            }
            RfmScore {
                r: Some(r),
                f: Some(f),
                m: Some(m),
                code: Some(self.code(r, f, m)),
                segment,
            }
        });
        Ok(scores.collect())
    }

    /// The R, F and M scores alone, one column each in row order, `0` for a customer who never
    /// purchased: what [`score`](Self::score) builds on, without allocating per customer. The
    /// three rankings run at the same time.
    pub fn tiles(&self, input: &RfmInput<'_>) -> Result<[Vec<u8>; 3], RfmError> {
        let n = input.rows()?;
        let ranks = ntile::id_ranks(input)?;
        let [mut r, mut f, mut m] = [vec![0; n], vec![0; n], vec![0; n]];
        // Most recent last: descending days, ties still by ascending id.
        let recency = |row: usize| !ntile::ascending_i64(input.recency_days[row].unwrap_or(0));
        let monetary = |row: usize| ntile::ascending_i64(input.monetary_minor[row]);
        rayon::join(
            || ntile::ntile_by(&ranks, self.bins, recency, &mut r),
            || {
                rayon::join(
                    || ntile::ntile_by(&ranks, self.bins, |row| input.frequency[row], &mut f),
                    || ntile::ntile_by(&ranks, self.bins, monetary, &mut m),
                )
            },
        );
        Ok([r, f, m])
    }

    /// The segment of a customer with these scores ([`tiles`](Self::tiles)); [`NO_PURCHASE`]
    /// when the scores are `0` (no purchase).
    pub fn segment(&self, r: u8, f: u8, m: u8) -> &str {
        if r == 0 {
            NO_PURCHASE
        } else {
            self.map.lookup(r, f, m)
        }
    }

    /// Appends the RFM code of these scores (`"545"`, or `"10-4-5"` past 9 bins) to `out`.
    pub fn write_code(&self, r: u8, f: u8, m: u8, out: &mut String) {
        if self.bins < 10 {
            out.extend([r, f, m].iter().map(|&s| char::from(b'0' + s)));
        } else {
            use std::fmt::Write;
            let _ = write!(out, "{r}-{f}-{m}");
        }
    }

    fn code(&self, r: u8, f: u8, m: u8) -> String {
        let mut code = String::with_capacity(3);
        self.write_code(r, f, m, &mut code);
        code
    }
}
