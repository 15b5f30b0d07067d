//! Customer models of Tessera:
//!
//! * RFM scoring ([`rfm`]), which ranks customers by recency, frequency and monetary value
//!   into equal-sized bins, exactly as SQL's `NTILE` with ties broken by `customer_id`, and
//!   names each customer's segment from an ordered list of rules;
//! * clustering ([`cluster`]): per-feature preprocessing, k-means (k-means++ seeding,
//!   Hamerly-accelerated Lloyd iterations, mini-batch), k-prototypes for mixed numeric and
//!   categorical features, silhouette / Calinski–Harabasz / Davies–Bouldin / adjusted Rand
//!   index, the choice of the number of clusters, and stable cluster labels. Results match
//!   scikit-learn's and are deterministic for a seed, whatever the number of threads.
//!
//! This crate does no I/O: callers hand in columns already in memory.
//!
//! ```
//! use tessera_models::rfm::{RfmInput, RfmParams};
//!
//! let ids = ["C1", "C2", "C3", "C4", "C5", "C6"];
//! let recency = [Some(2), Some(40), Some(3), Some(200), None, Some(10)];
//! let frequency = [9, 2, 4, 1, 0, 6];
//! let monetary = [52_000, 1_500, 20_000, 900, 0, 30_000];
//! let input = RfmInput {
//!     customer_id: &ids,
//!     recency_days: &recency,
//!     frequency: &frequency,
//!     monetary_minor: &monetary,
//! };
//!
//! let model = RfmParams::new().check()?; // 5 bins and the standard 11-segment map
//! let scores = model.score(&input)?;
//! assert_eq!(scores[0].code.as_deref(), Some("555"));
//! assert_eq!(scores[0].segment, "Champions");
//! assert_eq!(scores[3].code.as_deref(), Some("111"));
//! assert_eq!(scores[3].segment, "Lost");
//! assert_eq!((scores[4].r, scores[4].segment.as_str()), (None, "No Purchase"));
//!
//! let err = RfmParams::new().bins(12).check().unwrap_err();
//! assert_eq!(err.to_string(), "bins must be between 2 and 10, got 12");
//! # Ok::<(), tessera_models::rfm::RfmError>(())
//! ```

pub mod cluster;
pub mod clv;
pub mod rfm;
