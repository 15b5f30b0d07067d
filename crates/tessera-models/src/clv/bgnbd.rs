//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way",
//! Marketing Science 24(2)) and its modification MBG/NBD (Batislam, Denizel & Filiztekin 2007,
//! International Journal of Research in Marketing 24(3)).
//!
//! While active, a customer buys as a Poisson process with rate λ ~ Gamma(r, α). BG/NBD: after
//! each purchase the customer drops out with probability p ~ Beta(a, b). MBG/NBD: the customer
//! may also drop out at time zero, before any repeat purchase, so customers who never came back
//! are not assumed alive. Parameters are `[r, alpha, a, b]`.
//!
//! With `k(x) = a / (b + x − 1)` (BG/NBD, only for `x > 0`) or `a / (b + x)` (MBG/NBD, every
//! `x`), and `D = k(x) · ((α + T) / (α + t_x))^(r + x)`, one customer's log-likelihood is
//!
//! ```text
//! ln L = ln Γ(r + x) − ln Γ(r) + r ln α + ln B(a, b + x + m) − ln B(a, b) − (r + x) ln(α + T) + ln(1 + D)
//! ```
//!
//! where `m` is 0 for BG/NBD and 1 for MBG/NBD (FHL 2005 eq. 6; Batislam et al. eq. 3). Only the
//! last two terms vary within customers sharing `x`, so the sums over a group of triples compute
//! the `x`-dependent gamma and digamma terms once.

use super::hyp2f1::hyp2f1;
use super::special::{digamma, ln_beta, ln_gamma};

/// The model variants of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// BG/NBD.
    Bg,
    /// MBG/NBD.
    Modified,
}

impl Variant {
    fn shift(self) -> f64 {
        match self {
            Self::Bg => 0.0,
            Self::Modified => 1.0,
        }
    }

    /// Whether customers with `x` repeat purchases can have dropped out.
    fn can_drop(self, x: f64) -> bool {
        self == Self::Modified || x > 0.0
    }

    /// `ln k(x)`, the odds factor of having dropped out.
    fn ln_k(self, a: f64, b: f64, x: f64) -> f64 {
        (a / (b + x - 1.0 + self.shift())).ln()
    }
}

/// `ln(α + v)` and `1 / (α + v)` for each distinct time value `v` of the data.
pub(crate) struct TimeTerms {
    pub ln: Vec<f64>,
    pub inv: Vec<f64>,
}

impl TimeTerms {
    pub(crate) fn new(alpha: f64, times: &[f64]) -> Self {
        use rayon::prelude::*;
        let ln = times
            .par_iter()
            .with_min_len(1 << 14)
            .map(|v| (alpha + v).ln())
            .collect();
        let inv = times
            .par_iter()
            .with_min_len(1 << 14)
            .map(|v| 1.0 / (alpha + v))
            .collect();
        Self { ln, inv }
    }
}

/// Where a group's `ln(α + t)` and `1/(α + t)` come from, for `T` and `t_x` of row `i`.
pub(crate) trait RowTimes {
    /// `(ln(α + T), 1/(α + T))`.
    fn age(&self, i: usize) -> (f64, f64);
    /// `(ln(α + t_x), 1/(α + t_x))`.
    fn last(&self, i: usize) -> (f64, f64);
    /// `((α+T)/(α+t_x))^(r+x)` for every row of a group with `rows` rows, as a table of the
    /// power of each distinct time, when that is cheaper than one exponential per row and
    /// every value times `k` stays below `e^700`.
    fn powers(&self, _rx: f64, _ln_k: f64, _rows: usize) -> Option<Powers<'_>> {
        None
    }
}

/// `E[v] = exp((r+x)(ln(α+v) − c))` and `1/E[v]` for each distinct time `v`, with `c` the middle
/// of the logarithms' range, so that a row's odds ratio is `E[T] / E[t_x]`.
pub(crate) struct Powers<'a> {
    up: Vec<f64>,
    down: Vec<f64>,
    t_x_code: &'a [u32],
    t_code: &'a [u32],
}

impl Powers<'_> {
    /// `((α+T)/(α+t_x))^(r+x)` of row `i`.
    #[inline]
    fn ratio(&self, i: usize) -> f64 {
        self.up[self.t_code[i] as usize] * self.down[self.t_x_code[i] as usize]
    }
}

/// Times given as indices into [`TimeTerms`] of the distinct values.
pub(crate) struct Coded<'a> {
    pub terms: &'a TimeTerms,
    pub t_x_code: &'a [u32],
    pub t_code: &'a [u32],
}

impl RowTimes for Coded<'_> {
    #[inline]
    fn age(&self, i: usize) -> (f64, f64) {
        let k = self.t_code[i] as usize;
        (self.terms.ln[k], self.terms.inv[k])
    }
    #[inline]
    fn last(&self, i: usize) -> (f64, f64) {
        let k = self.t_x_code[i] as usize;
        (self.terms.ln[k], self.terms.inv[k])
    }

    fn powers(&self, rx: f64, ln_k: f64, rows: usize) -> Option<Powers<'_>> {
        let ln = &self.terms.ln;
        let (lo, hi) = (*ln.first()?, *ln.last()?);
        if ln.len() * 2 > rows || rx * (hi - lo) + ln_k.abs() >= 700.0 {
            return None;
        }
        let c = 0.5 * (lo + hi);
        let up: Vec<f64> = ln.iter().map(|l| (rx * (l - c)).exp()).collect();
        let down = up.iter().map(|u| 1.0 / u).collect();
        Some(Powers {
            up,
            down,
            t_x_code: self.t_x_code,
            t_code: self.t_code,
        })
    }
}

/// Times given directly, their logarithms computed row by row (when nearly every customer has
/// their own times, numbering them saves nothing).
pub(crate) struct Direct<'a> {
    pub alpha: f64,
    pub t_x: &'a [f64],
    pub t: &'a [f64],
}

impl RowTimes for Direct<'_> {
    #[inline]
    fn age(&self, i: usize) -> (f64, f64) {
        let v = self.alpha + self.t[i];
        (v.ln(), 1.0 / v)
    }
    #[inline]
    fn last(&self, i: usize) -> (f64, f64) {
        let v = self.alpha + self.t_x[i];
        (v.ln(), 1.0 / v)
    }
}

/// Weighted sum of log-likelihoods over customers sharing `x`, and its gradient with respect to
/// `(r, α, a, b)` added into `grad`. `times` gives each customer's `ln(α + t)` and `1/(α + t)`
/// for `T` and `t_x`.
pub(crate) fn group_loglik(
    v: Variant,
    p: &[f64; 4],
    x: f64,
    times: &impl RowTimes,
    w: &[f64],
    grad: &mut [f64; 4],
) -> f64 {
    let [r, alpha, a, b] = *p;
    let m = v.shift();
    let rx = r + x;
    let ln_alpha = alpha.ln();
    let c0 = ln_gamma(rx) - ln_gamma(r) + r * ln_alpha + ln_beta(a, b + x + m) - ln_beta(a, b);
    let dr0 = digamma(rx) - digamma(r) + ln_alpha;
    let psi_ab = digamma(a + b);
    let psi_abx = digamma(a + b + x + m);
    let da0 = psi_ab - psi_abx;
    let db0 = digamma(b + x + m) - psi_abx - digamma(b) + psi_ab;
    let mut sw = 0.0;
    let mut s_ll = 0.0; // Σ w (−(r+x) ln(α+T) + ln(1 + D))
    let mut s_lt = 0.0; // Σ w ln(α+T)
    let mut s_inv = 0.0; // Σ w / (α+T)
    let mut s_sig = 0.0; // Σ w σ
    let mut s_sig_dl = 0.0; // Σ w σ (ln(α+T) − ln(α+t_x))
    let mut s_sig_dinv = 0.0; // Σ w σ (1/(α+T) − 1/(α+t_x))
    if v.can_drop(x) {
        let ln_k = v.ln_k(a, b, x);
        // One row's share of the sums, given ln(1 + D) and σ = D / (1 + D). Both are summed
        // with O(1) terms, so an absolute error of one rounding in ln(1 + D) is as good as a
        // relative one: `ln(1 + D)` serves where `ln_1p` would cost twice as much.
        let mut add = |i: usize, wi: f64, softplus: f64, sig: f64| {
            let ((lt, inv_t), (ltx, inv_tx)) = (times.age(i), times.last(i));
            sw += wi;
            s_ll += wi * (softplus - rx * lt);
            s_lt += wi * lt;
            s_inv += wi * inv_t;
            let ws = wi * sig;
            s_sig += ws;
            s_sig_dl += ws * (lt - ltx);
            s_sig_dinv += ws * (inv_t - inv_tx);
        };
        if let Some(pw) = times.powers(rx, ln_k, w.len()) {
            let k = ln_k.exp();
            for (i, &wi) in w.iter().enumerate() {
                let d = k * pw.ratio(i);
                let one_d = 1.0 + d;
                add(i, wi, one_d.ln(), d / one_d);
            }
        } else {
            for (i, &wi) in w.iter().enumerate() {
                let dl = times.age(i).0 - times.last(i).0;
                let z = ln_k + rx * dl;
                // ln(1 + e^z) and σ(z) = e^z / (1 + e^z) from one exponential.
                let e = (-z.abs()).exp();
                let one_e = 1.0 + e;
                let (softplus, sig) = if z >= 0.0 {
                    (z + one_e.ln(), 1.0 / one_e)
                } else {
                    (one_e.ln(), e / one_e)
                };
                add(i, wi, softplus, sig);
            }
        }
        grad[2] += s_sig / a;
        grad[3] -= s_sig / (b + x - 1.0 + m);
    } else {
        for (i, &wi) in w.iter().enumerate() {
            let (lt, inv_t) = times.age(i);
            sw += wi;
            s_lt += wi * lt;
            s_inv += wi * inv_t;
        }
        s_ll = -rx * s_lt;
    }
    grad[0] += sw * dr0 - s_lt + s_sig_dl;
    grad[1] += sw * r / alpha - rx * s_inv + rx * s_sig_dinv;
    grad[2] += sw * da0;
    grad[3] += sw * db0;
    sw * c0 + s_ll
}

/// One customer's log-likelihood.
pub(crate) fn loglik(v: Variant, p: &[f64; 4], x: f64, t_x: f64, t: f64) -> f64 {
    let times = Direct {
        alpha: p[1],
        t_x: &[t_x],
        t: &[t],
    };
    group_loglik(v, p, x, &times, &[1.0], &mut [0.0; 4])
}

/// `ln D`, the log odds of having dropped out against being alive; `None` if the customer
/// cannot have dropped out.
fn ln_odds_dropped(v: Variant, p: &[f64; 4], x: f64, t_x: f64, t: f64) -> Option<f64> {
    let [r, alpha, a, b] = *p;
    v.can_drop(x)
        .then(|| v.ln_k(a, b, x) + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln()))
}

/// P(alive | x, t_x, T) = 1 / (1 + D) (FHL 2005 eq. 11 for BG/NBD; Batislam et al. eq. 6).
pub(crate) fn p_alive(v: Variant, p: &[f64; 4], x: f64, t_x: f64, t: f64) -> f64 {
    ln_odds_dropped(v, p, x, t_x, t).map_or(1.0, |z| super::special::sigmoid(-z))
}

/// E[Y(h) | x, t_x, T], the expected repeat purchases in the next `h` time units (FHL 2005
/// eq. 10; Batislam et al. eq. 7):
///
/// ```text
/// (a + b + x + m − 1)/(a − 1) · [1 − ((α+T)/(α+T+h))^(r+x) · 2F1(r+x, b+x+m; a+b+x+m−1; h/(α+T+h))] · P(alive)
/// ```
pub(crate) fn conditional_expected_purchases(
    v: Variant,
    p: &[f64; 4],
    h: f64,
    x: f64,
    t_x: f64,
    t: f64,
) -> f64 {
    if h <= 0.0 {
        return 0.0;
    }
    let [r, alpha, a, b] = *p;
    let m = v.shift();
    let rx = r + x;
    let ratio = (alpha + t) / (alpha + t + h);
    let f = hyp2f1(rx, b + x + m, a + b + x + m - 1.0, h / (alpha + t + h));
    let bracket = 1.0 - ratio.powf(rx) * f;
    (a + b + x + m - 1.0) / (a - 1.0) * bracket * p_alive(v, p, x, t_x, t)
}

/// E[X(t)], the expected purchases of a new customer in `t` time units (FHL 2005 eq. 9 for
/// BG/NBD; Batislam et al. eq. 5 for MBG/NBD, where the customer's first purchase may be the
/// last):
///
/// ```text
/// BG/NBD:  (a + b − 1)/(a − 1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))]
/// MBG/NBD: b/(a − 1) · [1 − (α/(α+t))^r · 2F1(r, b+1; a+b; t/(α+t))]
/// ```
pub(crate) fn expected_purchases(v: Variant, p: &[f64; 4], t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    let [r, alpha, a, b] = *p;
    let m = v.shift();
    let lead = match v {
        Variant::Bg => (a + b - 1.0) / (a - 1.0),
        Variant::Modified => b / (a - 1.0),
    };
    let f = hyp2f1(r, b + m, a + b + m - 1.0, t / (alpha + t));
    lead * (1.0 - (alpha / (alpha + t)).powf(r) * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BG/NBD likelihood written directly from FHL 2005 eq. 6, without logs or grouping.
    fn naive_bg(p: &[f64; 4], x: f64, t_x: f64, t: f64) -> f64 {
        let [r, alpha, a, b] = *p;
        let g = |v: f64| ln_gamma(v).exp();
        let beta = |u: f64, v: f64| g(u) * g(v) / g(u + v);
        let common = g(r + x) * alpha.powf(r) / g(r);
        let first = beta(a, b + x) / beta(a, b) * common / (alpha + t).powf(r + x);
        let second = if x > 0.0 {
            beta(a + 1.0, b + x - 1.0) / beta(a, b) * common / (alpha + t_x).powf(r + x)
        } else {
            0.0
        };
        (first + second).ln()
    }

    #[test]
    fn log_likelihood_equals_the_papers_formula() {
        let p = [0.243, 4.414, 0.793, 2.426];
        for &(x, t_x, t) in &[
            (0.0, 0.0, 38.86),
            (2.0, 30.43, 38.86),
            (5.0, 12.0, 30.0),
            (1.0, 0.5, 0.5),
        ] {
            let ours = loglik(Variant::Bg, &p, x, t_x, t);
            let naive = naive_bg(&p, x, t_x, t);
            assert!(
                (ours - naive).abs() < 1e-12 * naive.abs().max(1.0),
                "{x} {t_x} {t}: {ours} vs {naive}"
            );
        }
    }

    #[test]
    fn gradients_equal_finite_differences() {
        for v in [Variant::Bg, Variant::Modified] {
            let p = [0.6, 3.0, 1.4, 2.2];
            let t_x = [0.0, 3.0, 20.0, 35.5];
            let t = [10.0, 30.0, 38.0, 36.0];
            let w = [1.0, 3.0, 2.0, 0.5];
            for &x in &[0.0, 1.0, 7.0] {
                let (t_x, t, w) = if x == 0.0 {
                    (&[0.0][..], &t[..1], &w[..1])
                } else {
                    (&t_x[1..], &t[1..], &w[1..])
                };
                let mut g = [0.0; 4];
                group_loglik(
                    v,
                    &p,
                    x,
                    &Direct {
                        alpha: p[1],
                        t_x,
                        t,
                    },
                    w,
                    &mut g,
                );
                for k in 0..4 {
                    let h = 1e-6 * p[k];
                    let (mut up, mut dn) = (p, p);
                    up[k] += h;
                    dn[k] -= h;
                    let f = |q: &[f64; 4]| {
                        group_loglik(
                            v,
                            q,
                            x,
                            &Direct {
                                alpha: q[1],
                                t_x,
                                t,
                            },
                            w,
                            &mut [0.0; 4],
                        )
                    };
                    let fd = (f(&up) - f(&dn)) / (2.0 * h);
                    assert!(
                        (g[k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
                        "{v:?} x={x} k={k}: {} vs {fd}",
                        g[k]
                    );
                }
            }
        }
    }

    #[test]
    fn the_table_of_powers_gives_the_per_row_sums() {
        // 40 distinct times, 400 rows: the numbered path uses its table of powers; the direct
        // path takes one exponential per row. Both must give the same sums and gradient.
        let times: Vec<f64> = (0..40).map(|k| f64::from(k) * 0.75).collect();
        let (mut t_x_code, mut t_code) = (Vec::new(), Vec::new());
        for i in 0..400u32 {
            let (a, b) = (1 + i % 39, (i * 7) % 40);
            t_x_code.push(a.min(b).max(1));
            t_code.push(a.max(b));
        }
        let t_x: Vec<f64> = t_x_code.iter().map(|&c| times[c as usize]).collect();
        let t: Vec<f64> = t_code.iter().map(|&c| times[c as usize]).collect();
        let w: Vec<f64> = (0..400).map(|i| 1.0 + f64::from(i % 5)).collect();
        for v in [Variant::Bg, Variant::Modified] {
            for &(p, x) in &[
                ([0.243, 4.414, 0.793, 2.426], 1.0),
                ([0.6, 3.0, 1.4, 2.2], 12.0),
                ([2.0, 0.5, 0.3, 0.9], 40.0),
            ] {
                let terms = TimeTerms::new(p[1], &times);
                let coded = Coded {
                    terms: &terms,
                    t_x_code: &t_x_code,
                    t_code: &t_code,
                };
                assert!(
                    coded
                        .powers(p[0] + x, v.ln_k(p[2], p[3], x), w.len())
                        .is_some()
                );
                let direct = Direct {
                    alpha: p[1],
                    t_x: &t_x,
                    t: &t,
                };
                let (mut g1, mut g2) = ([0.0; 4], [0.0; 4]);
                let l1 = group_loglik(v, &p, x, &coded, &w, &mut g1);
                let l2 = group_loglik(v, &p, x, &direct, &w, &mut g2);
                assert!(
                    (l1 - l2).abs() <= 1e-12 * l2.abs(),
                    "{v:?} x={x}: {l1} vs {l2}"
                );
                for k in 0..4 {
                    assert!(
                        (g1[k] - g2[k]).abs() <= 1e-10 * g2[k].abs().max(1.0),
                        "{v:?} x={x} k={k}: {} vs {}",
                        g1[k],
                        g2[k]
                    );
                }
            }
        }
    }

    #[test]
    fn customers_who_never_returned_are_alive_under_bg_but_not_mbg() {
        let p = [0.243, 4.414, 0.793, 2.426];
        assert_eq!(p_alive(Variant::Bg, &p, 0.0, 0.0, 38.0), 1.0);
        let q = p_alive(Variant::Modified, &p, 0.0, 0.0, 38.0);
        assert!(q > 0.0 && q < 1.0);
    }
}
