//! The buy-till-you-die summary of one customer's purchases, as the BG/NBD (Fader, Hardie & Lee
//! 2005), Pareto/NBD and Gamma-Gamma models take it.
//!
//! Purchases on the same calendar day are one transaction (their amounts summed). The first
//! transaction is the customer's "birth" and is not counted: `x` is the number of repeat
//! transactions, `t_x` the time from the first transaction to the last, and `T` the time from the
//! first transaction to the end of observation. `mean_repeat_amount` is the mean amount of the
//! repeat transactions (the Gamma-Gamma model's input), `None` without repeats.
//!
//! This is how the CDNOW summaries used in the literature are built; on the CDNOW sample it
//! reproduces all 2,357 published (x, t_x, T) triples. Which orders are purchases is the caller's
//! choice: CDNOW counts purchases of $0.00 as transactions (eight customers there have nothing else),
//! so refunds are left out, zero amounts are not.

use thiserror::Error;

/// One purchase: its local calendar day (days since 1970-01-01) and amount in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purchase {
    pub day: i32,
    pub amount: i64,
}

/// The unit of `t_x` and `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Days,
    Weeks,
    /// 365.25 / 12 days.
    Months,
    /// 365.25 days.
    Years,
}

impl From<tessera_core::config::TimeUnitName> for TimeUnit {
    fn from(name: tessera_core::config::TimeUnitName) -> Self {
        use tessera_core::config::TimeUnitName as N;
        match name {
            N::Days => Self::Days,
            N::Weeks => Self::Weeks,
            N::Months => Self::Months,
            N::Years => Self::Years,
        }
    }
}

impl TimeUnit {
    pub fn days(self) -> f64 {
        match self {
            Self::Days => 1.0,
            Self::Weeks => 7.0,
            Self::Months => 365.25 / 12.0,
            Self::Years => 365.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BtydSummary {
    /// Repeat transactions (distinct purchase days after the first).
    pub x: u32,
    pub t_x: f64,
    pub t: f64,
    /// Sum of the repeat transactions' amounts, in minor units (exact).
    pub repeat_total: i64,
    /// Mean amount of the repeat transactions, in minor units.
    pub mean_repeat_amount: Option<f64>,
    /// Day of the first transaction.
    pub first_day: i32,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum BtydError {
    #[error("purchases must be sorted by day: day {later} comes after day {earlier}")]
    Unsorted { earlier: i32, later: i32 },
    #[error("a purchase on day {day} is after the end of observation (day {end})")]
    AfterEnd { day: i32, end: i32 },
}

/// Summarizes one customer's purchases, sorted by day, all on or before `last_day` (the last day of
/// observation: the day before `as_of`). `Ok(None)` for a customer without purchases.
pub fn summarize(
    purchases: &[Purchase],
    last_day: i32,
    unit: TimeUnit,
) -> Result<Option<BtydSummary>, BtydError> {
    let Some(first) = purchases.first() else {
        return Ok(None);
    };
    let mut prev_day = first.day;
    let mut repeats = 0u32;
    let mut repeat_total = 0i128;
    let mut day_total = 0i128;
    for p in purchases {
        if p.day < prev_day {
            return Err(BtydError::Unsorted {
                earlier: p.day,
                later: prev_day,
            });
        }
        if p.day > last_day {
            return Err(BtydError::AfterEnd {
                day: p.day,
                end: last_day,
            });
        }
        if p.day != prev_day {
            if prev_day != first.day {
                repeat_total += day_total;
            }
            repeats += 1;
            day_total = 0;
            prev_day = p.day;
        }
        day_total += i128::from(p.amount);
    }
    if prev_day != first.day {
        repeat_total += day_total;
    }
    let per = unit.days();
    Ok(Some(BtydSummary {
        x: repeats,
        t_x: f64::from(prev_day - first.day) / per,
        t: f64::from(last_day - first.day) / per,
        repeat_total: i64::try_from(repeat_total).unwrap_or(i64::MAX),
        mean_repeat_amount: (repeats > 0).then(|| repeat_total as f64 / f64::from(repeats)),
        first_day: first.day,
    }))
}

/// A customer's calibration summary and their purchases in the holdout period that follows,
/// for validating a model's predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The summary of purchases on or before the calibration's last day; `None` if the first
    /// purchase came later (the customer is not in the calibration cohort).
    pub calibration: Option<BtydSummary>,
    /// Transactions (distinct purchase days) after the calibration's last day, up to and
    /// including the holdout's last day.
    pub holdout: u32,
}

/// Splits one customer's purchases, sorted by day, at `calibration_last_day` (inclusive): the
/// summary of what came before and the transactions in `(calibration_last_day,
/// holdout_last_day]`. Purchases after the holdout are ignored.
pub fn split(
    purchases: &[Purchase],
    calibration_last_day: i32,
    holdout_last_day: i32,
    unit: TimeUnit,
) -> Result<Split, BtydError> {
    if let Some(w) = purchases.windows(2).find(|w| w[1].day < w[0].day) {
        return Err(BtydError::Unsorted {
            earlier: w[1].day,
            later: w[0].day,
        });
    }
    let cut = purchases.partition_point(|p| p.day <= calibration_last_day);
    let calibration = summarize(&purchases[..cut], calibration_last_day, unit)?;
    let mut holdout = 0;
    let mut prev = None;
    for p in purchases[cut..]
        .iter()
        .take_while(|p| p.day <= holdout_last_day)
    {
        if prev != Some(p.day) {
            holdout += 1;
            prev = Some(p.day);
        }
    }
    Ok(Split {
        calibration,
        holdout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(day: i32, amount: i64) -> Purchase {
        Purchase { day, amount }
    }

    #[test]
    fn a_single_purchase_has_no_repeats() {
        let s = summarize(&[p(10, 500)], 38, TimeUnit::Days)
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.x, s.t_x, s.t, s.mean_repeat_amount),
            (0, 0.0, 28.0, None)
        );
    }

    #[test]
    fn same_day_purchases_merge_and_the_first_day_is_not_a_repeat() {
        let s = summarize(
            &[p(0, 1), p(0, 2), p(5, 10), p(5, 20), p(9, 3)],
            9,
            TimeUnit::Days,
        )
        .unwrap()
        .unwrap();
        assert_eq!((s.x, s.t_x, s.t), (2, 9.0, 9.0));
        assert_eq!(s.mean_repeat_amount, Some(16.5));
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(
            summarize(&[p(5, 1), p(4, 1)], 9, TimeUnit::Days),
            Err(BtydError::Unsorted {
                earlier: 4,
                later: 5
            })
        );
        assert_eq!(
            summarize(&[p(10, 1)], 9, TimeUnit::Days),
            Err(BtydError::AfterEnd { day: 10, end: 9 })
        );
        assert_eq!(summarize(&[], 9, TimeUnit::Days), Ok(None));
    }

    #[test]
    fn split_counts_holdout_days_after_the_calibration() {
        let purchases = [
            p(0, 5),
            p(3, 1),
            p(3, 2),
            p(10, 7),
            p(12, 1),
            p(12, 1),
            p(15, 4),
            p(30, 1),
        ];
        let s = split(&purchases, 9, 20, TimeUnit::Days).unwrap();
        let c = s.calibration.unwrap();
        assert_eq!((c.x, c.t_x, c.t), (1, 3.0, 9.0));
        // Days 10, 12 and 15 are in (9, 20]; day 30 is after the holdout.
        assert_eq!(s.holdout, 3);
        let late = split(&[p(12, 1), p(14, 1)], 9, 20, TimeUnit::Days).unwrap();
        assert_eq!((late.calibration, late.holdout), (None, 2));
        assert!(split(&[p(5, 1), p(2, 1)], 9, 20, TimeUnit::Days).is_err());
    }
}
