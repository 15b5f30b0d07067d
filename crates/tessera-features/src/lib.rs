//! The per-customer feature table that every Tessera segment stands on.
//!
//! So far this crate holds the buy-till-you-die summary ([`btyd`]): a customer's repeat
//! purchases `x`, the time of the last one `t_x` and the length of observation `T`, the inputs of
//! the BG/NBD, Pareto/NBD and Gamma-Gamma models.
//!
//! ```
//! use tessera_features::btyd::{Purchase, TimeUnit, summarize};
//!
//! // Purchases on days 0, 17 (two orders that day) and 213; observation ends on day 272.
//! let purchases = [
//!     Purchase { day: 0, amount: 2933 },
//!     Purchase { day: 17, amount: 1000 },
//!     Purchase { day: 17, amount: 1973 },
//!     Purchase { day: 213, amount: 1496 },
//! ];
//! let s = summarize(&purchases, 272, TimeUnit::Weeks).unwrap().unwrap();
//! assert_eq!(s.x, 2);
//! assert!((s.t_x - 213.0 / 7.0).abs() < 1e-12);
//! assert!((s.t - 272.0 / 7.0).abs() < 1e-12);
//! assert_eq!(s.mean_repeat_amount, Some((2973.0 + 1496.0) / 2.0));
//! ```

pub mod btyd;
mod checked;
pub mod custom;
pub mod events;
pub mod feedback;
pub mod memory;
pub mod orders;
mod read;
pub mod table;
mod write;
