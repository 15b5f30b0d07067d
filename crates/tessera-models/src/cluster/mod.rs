//! Clustering of customers: preprocessing, k-means, k-prototypes, quality metrics, the choice
//! of the number of clusters, and stable cluster labels.
//!
//! Data are dense row-major `f64` matrices ([`Matrix`], borrowed as [`MatrixRef`]), one row
//! per customer and one column per feature. Nothing here does I/O.
//!
//! * [`transform`]: per-feature `log1p`, standardisation, robust scaling and winsorising,
//!   fitted once ([`FittedTransform`], serializable) and invertible for reporting centres in
//!   original units.
//! * [`kmeans`]: k-means with greedy k-means++ seeding (Arthur & Vassilvitskii 2007), Lloyd
//!   iterations accelerated by Hamerly's bounds (Hamerly 2010) and mini-batch k-means
//!   (Sculley 2010). With the same initial centres, results equal scikit-learn's
//!   `KMeans(algorithm="lloyd")`.
//! * [`kprototypes`]: k-prototypes for numeric and categorical features (Huang 1997, 1998).
//! * [`metrics`]: silhouette (Rousseeuw 1987), Calinski–Harabasz (Caliński & Harabasz 1974),
//!   Davies–Bouldin (Davies & Bouldin 1979) and the adjusted Rand index (Hubert & Arabie
//!   1985), equal to scikit-learn's.
//! * [`select`]: fits a range of `k` and chooses one by silhouette among `k` whose clusters
//!   are all large enough and stable under subsampling, with a reason a person can read.
//! * [`labels`]: deterministic relabelling by a key, and matching clusters across fits with
//!   the Hungarian algorithm (Kuhn 1955; Munkres 1957).
//!
//! **Determinism.** Every random choice is drawn from ChaCha8 seeded with a `u64`. Parallel
//! work (rayon) runs over fixed chunks of rows whose partial sums are combined in chunk order,
//! so results are bitwise identical whatever the number of threads.
//!
//! **Errors.** Functions return [`ClusterError`] for input they cannot use (no rows, NaN or
//! infinite values with their row and column, `k` of 0 or above the number of rows, shapes
//! that do not match, parameters out of range) rather than panic.
//!
//! ```
//! use tessera_models::cluster::{KMeans, Matrix, Step, Transform};
//!
//! // Spend and orders of six customers: two groups.
//! let raw = Matrix::from_rows(&[
//!     [20.0, 1.0], [25.0, 2.0], [22.0, 1.0],
//!     [900.0, 30.0], [1000.0, 28.0], [950.0, 35.0],
//! ])?;
//! let t = Transform::uniform(2, &[Step::Log1p, Step::Standardize]).fit(&raw)?;
//! let fit = KMeans::new(2).seed(1).fit(&t.apply(&raw)?)?;
//! assert_eq!(fit.labels[0], fit.labels[2]);
//! assert_ne!(fit.labels[0], fit.labels[3]);
//! let centres = t.inverse(&fit.centers)?; // in dollars and orders
//! let big = fit.labels[3] as usize;
//! assert!(centres.get(big, 0) > 900.0 && centres.get(big, 0) < 1000.0);
//! # Ok::<(), tessera_models::cluster::ClusterError>(())
//! ```

mod error;
mod kernels;
mod matrix;
pub(crate) mod rng;

pub mod kmeans;
pub mod kprototypes;
pub mod labels;
pub mod metrics;
pub mod select;
pub mod transform;

pub use error::ClusterError;
pub use kmeans::{
    Algorithm, FitMethod, Init, KMeans, KMeansFit, MiniBatch, kmeans_plusplus, predict,
};
pub use kprototypes::{Categorical, KPrototypes, KPrototypesFit};
pub use labels::{Order, Relabeling, match_clusters, relabel_by_column};
pub use matrix::{Matrix, MatrixRef};
pub use select::{KRow, Rule, SelectParams, Selection, select_k};
pub use transform::{FittedStep, FittedTransform, Step, Transform};
