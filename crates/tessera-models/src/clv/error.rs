//! The errors of the lifetime-value models. Each message names the row or parameter at fault.

use thiserror::Error;

/// Why a model input, parameter or fit was refused.
///
/// Rows are 0-based indices into the slices that were passed in.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ClvError {
    /// Nothing to fit.
    #[error("no customers to fit")]
    Empty,

    /// Columns that must have one value per customer differ in length.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        /// Which column.
        what: &'static str,
        /// The length of the first column.
        expected: usize,
        /// The length of this one.
        got: usize,
    },

    /// A customer's summary is impossible: negative or non-finite times, `t_x > T`, or repeat
    /// purchases with `t_x = 0`.
    #[error("row {row}: {reason} (x = {x}, t_x = {t_x}, T = {t})")]
    BadSummary {
        /// The row.
        row: usize,
        /// Repeat purchases.
        x: f64,
        /// Time of the last purchase.
        t_x: f64,
        /// Age.
        t: f64,
        /// What is wrong.
        reason: &'static str,
    },

    /// A repeat buyer's mean spend is not a positive finite number.
    #[error("row {row}: mean repeat spend must be positive and finite, got {value}")]
    BadSpend {
        /// The row.
        row: usize,
        /// The value given.
        value: f64,
    },

    /// A parameter is outside its allowed range; the message says which and why.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },

    /// No start of the optimizer reached a finite likelihood.
    #[error("the {model} fit failed: {reason}")]
    FitFailed {
        /// The model.
        model: &'static str,
        /// What went wrong.
        reason: String,
    },
}
