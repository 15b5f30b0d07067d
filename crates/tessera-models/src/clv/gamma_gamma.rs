//! The Gamma-Gamma model of spend per transaction (Colombo & Jiang 1999; Fader, Hardie & Lee
//! 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis"; Fader & Hardie 2013,
//! "The Gamma-Gamma Model of Monetary Value").
//!
//! A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers.
//! Parameters are `[p, q, gamma]`. For a customer with `x` repeat transactions of mean value
//! `m`, the density of `m` is
//!
//! ```text
//! f(m | p, q, γ, x) = Γ(px + q) / (Γ(px) Γ(q)) · γ^q · m^(px−1) · x^(px) / (γ + m x)^(px + q)
//! ```
//!
//! and the expected mean transaction value is `E[M | m, x] = p (γ + m x) / (p x + q − 1)`, a
//! weighted mean of the population mean `p γ / (q − 1)` and the customer's own mean `m`.

use super::special::{digamma, ln_gamma};

/// Weighted sum of log-densities over customers sharing `x`, each with mean spend `m[i]`, and its
/// gradient with respect to `(p, q, γ)` added into `grad`.
pub(crate) fn group_loglik(
    params: &[f64; 3],
    x: f64,
    m: &[f64],
    w: &[f64],
    grad: &mut [f64; 3],
) -> f64 {
    let [p, q, gamma] = *params;
    let px = p * x;
    let ln_x = x.ln();
    let ln_gamma_ = gamma.ln();
    let c0 = ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * ln_gamma_ + px * ln_x;
    let psi_pxq = digamma(px + q);
    let dp0 = x * (psi_pxq - digamma(px) + ln_x);
    let dq0 = psi_pxq - digamma(q) + ln_gamma_;
    let (mut sw, mut s_lm, mut s_lden, mut s_inv) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..m.len() {
        let (wi, den) = (w[i], gamma + m[i] * x);
        sw += wi;
        s_lm += wi * m[i].ln();
        s_lden += wi * den.ln();
        s_inv += wi / den;
    }
    grad[0] += sw * dp0 + x * (s_lm - s_lden);
    grad[1] += sw * dq0 - s_lden;
    grad[2] += sw * q / gamma - (px + q) * s_inv;
    sw * c0 + (px - 1.0) * s_lm - (px + q) * s_lden
}

/// E[M | m, x]: the expected mean spend of a customer with `x` repeat transactions of mean `m`;
/// the population mean `p γ / (q − 1)` for `x = 0` (infinite if `q ≤ 1`).
pub(crate) fn expected_spend(params: &[f64; 3], x: f64, m: f64) -> f64 {
    let [p, q, gamma] = *params;
    if x > 0.0 {
        p * (gamma + m * x) / (p * x + q - 1.0)
    } else if q > 1.0 {
        p * gamma / (q - 1.0)
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_integrates_to_one() {
        // ∫ f(m) dm over (0, ∞), by the substitution m = u / (1 − u) and the midpoint rule.
        let params = [6.25, 3.74, 15.44];
        for &x in &[1.0, 3.0] {
            let n = 200_000;
            let mut total = 0.0;
            for k in 0..n {
                let u = (f64::from(k) + 0.5) / f64::from(n);
                let m = u / (1.0 - u);
                let dm = 1.0 / ((1.0 - u) * (1.0 - u));
                total +=
                    group_loglik(&params, x, &[m], &[1.0], &mut [0.0; 3]).exp() * dm / f64::from(n);
            }
            assert!((total - 1.0).abs() < 1e-6, "x = {x}: {total}");
        }
    }

    #[test]
    fn gradients_equal_finite_differences() {
        let p = [2.5, 4.0, 12.0];
        let m = [3.0, 25.0, 140.0];
        let w = [1.0, 2.0, 0.5];
        for &x in &[1.0, 4.0, 30.0] {
            let mut g = [0.0; 3];
            group_loglik(&p, x, &m, &w, &mut g);
            for k in 0..3 {
                let h = 1e-6 * p[k];
                let (mut up, mut dn) = (p, p);
                up[k] += h;
                dn[k] -= h;
                let f = |q: &[f64; 3]| group_loglik(q, x, &m, &w, &mut [0.0; 3]);
                let fd = (f(&up) - f(&dn)) / (2.0 * h);
                assert!(
                    (g[k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
                    "x={x} k={k}: {} vs {fd}",
                    g[k]
                );
            }
        }
    }

    #[test]
    fn expected_spend_shrinks_towards_the_population_mean() {
        let p = [6.25, 3.74, 15.44];
        let population = 6.25 * 15.44 / 2.74;
        let own = 80.0;
        let one = expected_spend(&p, 1.0, own);
        let many = expected_spend(&p, 50.0, own);
        assert!(population < one && one < many && many < own);
        assert_eq!(expected_spend(&p, 0.0, 0.0), population);
    }
}
