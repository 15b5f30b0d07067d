//! Dense row-major matrices of `f64`: an owned [`Matrix`] and a borrowed [`MatrixRef`].

use serde::{Deserialize, Serialize};

use super::error::ClusterError;

/// An owned `rows × cols` matrix of `f64`, stored row by row: entry `(i, j)` is
/// `data[i * cols + j]`.
///
/// Rows are observations (customers), columns are features. Serialized as
/// `{"rows": .., "cols": .., "data": [..]}`; deserializing checks that `data` has
/// `rows × cols` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MatrixRepr")]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

#[derive(Deserialize)]
struct MatrixRepr {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl TryFrom<MatrixRepr> for Matrix {
    type Error = ClusterError;
    fn try_from(r: MatrixRepr) -> Result<Self, ClusterError> {
        Matrix::new(r.data, r.rows, r.cols)
    }
}

/// A borrowed `rows × cols` row-major matrix view; see [`Matrix`] for the layout.
///
/// Every function of [`crate::cluster`] that reads data takes one of these (or anything that
/// converts into one, such as `&Matrix`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatrixRef<'a> {
    rows: usize,
    cols: usize,
    data: &'a [f64],
}

fn check_shape(len: usize, rows: usize, cols: usize) -> Result<(), ClusterError> {
    match rows.checked_mul(cols) {
        Some(expected) if expected == len => Ok(()),
        expected => Err(ClusterError::Shape {
            rows,
            cols,
            expected: expected.unwrap_or(usize::MAX),
            got: len,
        }),
    }
}

impl Matrix {
    /// Wraps a row-major buffer; an error unless `data.len() == rows * cols`.
    pub fn new(data: Vec<f64>, rows: usize, cols: usize) -> Result<Self, ClusterError> {
        check_shape(data.len(), rows, cols)?;
        Ok(Matrix { rows, cols, data })
    }

    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Builds a matrix from rows of equal length; an error naming the first row whose length
    /// differs from the first row's. No rows give a `0 × 0` matrix.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, ClusterError> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(ClusterError::DimensionMismatch {
                    what: "length of a row",
                    expected: cols,
                    got: r.len(),
                });
            }
            data.extend_from_slice(r);
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major buffer.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The row-major buffer, mutable; its length cannot change.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// The buffer, giving up the matrix.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Row `i`; panics if `i >= rows` (like slice indexing).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable; panics if `i >= rows`.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Entry `(i, j)`; panics if out of range.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            j < self.cols,
            "column {j} out of range for {} columns",
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// A borrowed view of the whole matrix.
    pub fn view(&self) -> MatrixRef<'_> {
        MatrixRef {
            rows: self.rows,
            cols: self.cols,
            data: &self.data,
        }
    }

    /// Iterates over the rows.
    pub fn iter_rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        self.view().iter_rows()
    }
}

impl<'a> MatrixRef<'a> {
    /// Views a row-major buffer; an error unless `data.len() == rows * cols`.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Result<Self, ClusterError> {
        check_shape(data.len(), rows, cols)?;
        Ok(MatrixRef { rows, cols, data })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major buffer.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }

    /// Row `i`; panics if `i >= rows`.
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Entry `(i, j)`; panics if out of range.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            j < self.cols,
            "column {j} out of range for {} columns",
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// Iterates over the rows. A matrix with no columns yields `rows` empty rows.
    pub fn iter_rows(self) -> impl ExactSizeIterator<Item = &'a [f64]> + 'a {
        let (data, cols) = (self.data, self.cols);
        (0..self.rows).map(move |i| &data[i * cols..(i + 1) * cols])
    }

    /// Copies the view into an owned matrix.
    pub fn to_owned(&self) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.to_vec(),
        }
    }

    /// Copies the given rows, in the order given, into a new matrix; panics if an index is
    /// out of range.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: indices.len(),
            cols: self.cols,
            data,
        }
    }

    /// The first non-finite value in row-major order, as an error naming its row and column.
    pub fn check_finite(&self) -> Result<(), ClusterError> {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 16;
        let bad = |c: &[f64]| c.iter().position(|v| !v.is_finite());
        let first_bad = if self.data.len() > CHUNK {
            let per_chunk: Vec<Option<usize>> = self.data.par_chunks(CHUNK).map(bad).collect();
            per_chunk
                .iter()
                .enumerate()
                .find_map(|(c, p)| p.map(|p| c * CHUNK + p))
        } else {
            bad(self.data)
        };
        match first_bad {
            None => Ok(()),
            Some(p) => Err(ClusterError::NonFinite {
                row: p / self.cols,
                col: p % self.cols,
                value: self.data[p],
            }),
        }
    }

    /// An error unless the view has at least one row and one column.
    pub(crate) fn check_nonempty(&self) -> Result<(), ClusterError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(ClusterError::EmptyInput {
                rows: self.rows,
                cols: self.cols,
            });
        }
        Ok(())
    }
}

impl<'a> From<&'a Matrix> for MatrixRef<'a> {
    fn from(m: &'a Matrix) -> Self {
        m.view()
    }
}

impl From<MatrixRef<'_>> for Matrix {
    fn from(m: MatrixRef<'_>) -> Self {
        m.to_owned()
    }
}
