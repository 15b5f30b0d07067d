//! The errors of RFM scoring and segment maps. Each message names the values at fault.

use thiserror::Error;

/// Why RFM parameters, a segment map or an input were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RfmError {
    /// The number of bins is outside `2..=10`.
    #[error("bins must be between 2 and 10, got {0}")]
    Bins(u8),

    /// The input's columns have different lengths.
    #[error(
        "input columns differ in length: customer_id has {customer_id}, recency_days \
         {recency_days}, frequency {frequency}, monetary_minor {monetary_minor}"
    )]
    Lengths {
        customer_id: usize,
        recency_days: usize,
        frequency: usize,
        monetary_minor: usize,
    },

    /// The input has more rows than one call can score.
    #[error("at most 4294967295 customers can be scored at once, got {0}")]
    TooManyRows(usize),

    /// Two rows share a `customer_id`.
    #[error("customer_id `{id}` appears more than once (rows {first} and {second})")]
    DuplicateCustomer {
        id: String,
        first: usize,
        second: usize,
    },

    /// A segment rule has no name.
    #[error("segment rule {index} has an empty name")]
    EmptyName { index: usize },

    /// A segment rule's range is not within `1..=bins` or is reversed.
    #[error(
        "segment `{name}`: {axis} = [{lo}, {hi}] is not a range within 1..={bins} for {bins} bins"
    )]
    Range {
        name: String,
        axis: &'static str,
        lo: u8,
        hi: u8,
        bins: u8,
    },

    /// No rule matches some combination of scores, so the map is not total.
    #[error(
        "no segment rule matches r = {r}, f = {f}, m = {m}; end the rules with a catch-all \
         (a rule with a name and no ranges)"
    )]
    Uncovered { r: u8, f: u8, m: u8 },

    /// The segment map was built for another number of bins than the parameters ask for.
    #[error("the segment map is for {map} bins but bins is {bins}")]
    MapBins { map: u8, bins: u8 },
}
