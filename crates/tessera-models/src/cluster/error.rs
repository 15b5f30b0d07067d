//! The errors of clustering. Each message names the value, row or column at fault.

use thiserror::Error;

/// Why a clustering input, parameter or call was refused.
///
/// Rows and columns are 0-based indices into the matrix that was passed in.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The input has no rows (or no columns where columns are needed).
    #[error("the input is empty: {rows} rows × {cols} columns")]
    EmptyInput {
        /// Rows of the input.
        rows: usize,
        /// Columns of the input.
        cols: usize,
    },

    /// A matrix's buffer does not hold `rows × cols` values.
    #[error("a {rows} × {cols} matrix needs {expected} values, got {got}")]
    Shape {
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
        /// `rows × cols` (`usize::MAX` if that overflows).
        expected: usize,
        /// Values given.
        got: usize,
    },

    /// Two inputs that must agree in a dimension do not.
    #[error("{what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// What is being compared, e.g. "columns of the centres".
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        got: usize,
    },

    /// A value is NaN or infinite.
    #[error("value at row {row}, column {col} is not finite ({value})")]
    NonFinite {
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value itself (NaN or ±inf).
        value: f64,
    },

    /// `log1p` was asked of a value ≤ -1, where it is undefined or -∞.
    #[error("log1p needs values > -1, got {value} at row {row}, column {col}")]
    Log1pDomain {
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value itself.
        value: f64,
    },

    /// The number of clusters is 0.
    #[error("the number of clusters must be at least 1, got 0")]
    ZeroClusters,

    /// More clusters were asked for than there are rows.
    #[error("cannot make {k} clusters from {rows} rows: k must be at most the number of rows")]
    TooManyClusters {
        /// Clusters asked for.
        k: usize,
        /// Rows available.
        rows: usize,
    },

    /// A parameter is outside its allowed range; the message says which and why.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A label refers to a cluster that does not exist.
    #[error("label {label} at row {row} is not below the number of clusters {k}")]
    LabelOutOfRange {
        /// Row of the label.
        row: usize,
        /// The label.
        label: u32,
        /// Number of clusters.
        k: usize,
    },

    /// A metric needs between 2 and `n - 1` distinct labels.
    #[error(
        "number of distinct labels is {labels}; valid values are 2 to n_samples - 1 = {max} \
         (inclusive)"
    )]
    LabelCount {
        /// Distinct labels found.
        labels: usize,
        /// `n_samples - 1`.
        max: usize,
    },

    /// A cost matrix holds a NaN or an infinity.
    #[error("cost matrix entry ({row}, {col}) is not finite")]
    NonFiniteCost {
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
    },

    /// The input has more rows than a `u32` label can number.
    #[error("at most 4294967295 rows can be clustered at once, got {rows}")]
    TooManyRows {
        /// Rows given.
        rows: usize,
    },
}

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> ClusterError {
    ClusterError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}
