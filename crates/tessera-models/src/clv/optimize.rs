//! Limited-memory BFGS (Liu & Nocedal 1989) with a line search satisfying the strong Wolfe
//! conditions (Nocedal & Wright 2006, algorithms 3.5 and 3.6, with safeguarded cubic
//! interpolation). Minimizes smooth unconstrained functions given their gradient; the models
//! pass log-parameters, so every parameter stays positive.

/// Settings of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lbfgs {
    /// Correction pairs kept (the "m" of L-BFGS).
    pub memory: usize,
    /// Iterations allowed.
    pub max_iter: usize,
    /// Convergence when the largest gradient component is at most `gtol`.
    pub gtol: f64,
    /// Convergence when an iteration lowers the function by less than `ftol · max(1, |f|)`
    /// twice in a row.
    pub ftol: f64,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self {
            memory: 10,
            max_iter: 1000,
            gtol: 1e-9,
            ftol: 1e-15,
        }
    }
}

/// Why [`minimize`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The gradient is below `gtol`.
    Gradient,
    /// The function stopped decreasing (relative change below `ftol`).
    Function,
    /// The line search found no acceptable step (usually: at the limit of floating point).
    LineSearch,
    /// `max_iter` iterations ran.
    MaxIter,
    /// The start point's value or gradient is not finite.
    BadStart,
}

/// The result of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// The best point found.
    pub x: Vec<f64>,
    /// The function there.
    pub f: f64,
    /// The gradient there.
    pub grad: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// Function (and gradient) evaluations.
    pub evaluations: usize,
    /// Why the optimizer stopped.
    pub stop: Stop,
}

impl Minimum {
    /// The largest absolute gradient component.
    pub fn grad_norm(&self) -> f64 {
        self.grad.iter().fold(0.0f64, |m, g| m.max(g.abs()))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, g| m.max(g.abs()))
}

/// Minimizes `f`, which returns the value at a point and writes the gradient into its second
/// argument, from `x0`. Non-finite values are treated as "too far" by the line search.
pub fn minimize<F>(mut f: F, x0: &[f64], opts: &Lbfgs) -> Minimum
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut evaluations = 1;
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum {
            x,
            f: fx,
            grad: g,
            iterations: 0,
            evaluations,
            stop: Stop::BadStart,
        };
    }
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha_buf = vec![0.0; opts.memory];
    let mut small_steps = 0;
    for iter in 0..opts.max_iter {
        if inf_norm(&g) <= opts.gtol {
            return Minimum {
                x,
                f: fx,
                grad: g,
                iterations: iter,
                evaluations,
                stop: Stop::Gradient,
            };
        }
        // Two-loop recursion: d = −H g.
        d.copy_from_slice(&g);
        for k in (0..s_hist.len()).rev() {
            let a = rho[k] * dot(&s_hist[k], &d);
            alpha_buf[k] = a;
            for (di, yi) in d.iter_mut().zip(&y_hist[k]) {
                *di -= a * yi;
            }
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / inf_norm(&g).max(1.0),
        };
        for di in d.iter_mut() {
            *di *= gamma;
        }
        for k in 0..s_hist.len() {
            let b = rho[k] * dot(&y_hist[k], &d);
            for (di, si) in d.iter_mut().zip(&s_hist[k]) {
                *di += (alpha_buf[k] - b) * si;
            }
        }
        for di in d.iter_mut() {
            *di = -*di;
        }
        let mut dphi0 = dot(&g, &d);
        if dphi0 >= 0.0 {
            // Not a descent direction (curvature information went stale): restart along −g.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            for (di, gi) in d.iter_mut().zip(&g) {
                *di = -gi;
            }
            dphi0 = dot(&g, &d);
        }
        // A full step would lower the function by about −dphi0; below the function's resolution
        // no line search can tell a better point from rounding, so stop here.
        if -dphi0 <= opts.ftol * fx.abs().max(1.0) {
            return flat(x, fx, g, iter, evaluations, opts);
        }
        let found = line_search(
            &mut f,
            &x,
            fx,
            dphi0,
            &d,
            &mut x_new,
            &mut g_new,
            &mut evaluations,
        );
        let Some(f_new) = found else {
            return Minimum {
                x,
                f: fx,
                grad: g,
                iterations: iter,
                evaluations,
                stop: Stop::LineSearch,
            };
        };
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            if s_hist.len() == opts.memory {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            rho.push(1.0 / sy);
            s_hist.push(s);
            y_hist.push(y);
        }
        let decrease = fx - f_new;
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        fx = f_new;
        if decrease <= opts.ftol * fx.abs().max(1.0) {
            small_steps += 1;
            if small_steps >= 2 {
                return flat(x, fx, g, iter + 1, evaluations, opts);
            }
        } else {
            small_steps = 0;
        }
    }
    let stop = if inf_norm(&g) <= opts.gtol {
        Stop::Gradient
    } else {
        Stop::MaxIter
    };
    Minimum {
        x,
        f: fx,
        grad: g,
        iterations: opts.max_iter,
        evaluations,
        stop,
    }
}

/// The minimum where the function stopped decreasing: converged on the gradient if it is small
/// enough, else on the function.
fn flat(
    x: Vec<f64>,
    f: f64,
    grad: Vec<f64>,
    iterations: usize,
    evaluations: usize,
    opts: &Lbfgs,
) -> Minimum {
    let stop = if inf_norm(&grad) <= opts.gtol {
        Stop::Gradient
    } else {
        Stop::Function
    };
    Minimum {
        x,
        f,
        grad,
        iterations,
        evaluations,
        stop,
    }
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// A point on the search line: step, value, directional derivative.
#[derive(Clone, Copy)]
struct Probe {
    a: f64,
    phi: f64,
    dphi: f64,
}

/// Finds a step satisfying the strong Wolfe conditions along `d`; on success `x_new`, `g_new`
/// hold the new point and its gradient, and the new value is returned.
#[allow(clippy::too_many_arguments)]
fn line_search<F>(
    f: &mut F,
    x: &[f64],
    f0: f64,
    dphi0: f64,
    d: &[f64],
    x_new: &mut [f64],
    g_new: &mut [f64],
    evaluations: &mut usize,
) -> Option<f64>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let mut eval = |a: f64, x_new: &mut [f64], g_new: &mut [f64]| -> Probe {
        for ((xn, xi), di) in x_new.iter_mut().zip(x).zip(d) {
            *xn = xi + a * di;
        }
        let phi = f(x_new, g_new);
        *evaluations += 1;
        let dphi = dot(g_new, d);
        if phi.is_finite() && dphi.is_finite() {
            Probe { a, phi, dphi }
        } else {
            Probe {
                a,
                phi: f64::INFINITY,
                dphi: f64::NAN,
            }
        }
    };
    let start = Probe {
        a: 0.0,
        phi: f0,
        dphi: dphi0,
    };
    let mut prev = start;
    let mut a = 1.0;
    for i in 0..60 {
        let p = eval(a, x_new, g_new);
        if !p.phi.is_finite() {
            // Too far: the function overflowed or left its domain. Step back.
            a = prev.a + 0.25 * (a - prev.a);
            if a - prev.a < 1e-16 {
                return None;
            }
            continue;
        }
        if p.phi > f0 + C1 * a * dphi0 || (i > 0 && p.phi >= prev.phi) {
            return zoom(&mut eval, start, prev, p, x_new, g_new);
        }
        if p.dphi.abs() <= -C2 * dphi0 {
            return Some(p.phi);
        }
        if p.dphi >= 0.0 {
            return zoom(&mut eval, start, p, prev, x_new, g_new);
        }
        prev = p;
        a *= 2.0;
    }
    None
}

/// Algorithm 3.6: shrinks `[lo, hi]` (which brackets a Wolfe point) until one is found.
fn zoom<E>(
    eval: &mut E,
    start: Probe,
    mut lo: Probe,
    mut hi: Probe,
    x_new: &mut [f64],
    g_new: &mut [f64],
) -> Option<f64>
where
    E: FnMut(f64, &mut [f64], &mut [f64]) -> Probe,
{
    // A healthy bracket shrinks to a Wolfe point in a few cubic steps; more than a dozen means
    // the values differ only by rounding.
    for _ in 0..12 {
        let width = hi.a - lo.a;
        if width.abs() <= 1e-16 * lo.a.abs().max(1e-300) || width == 0.0 {
            break;
        }
        let a = cubic_min(lo, hi).unwrap_or(lo.a + 0.5 * width);
        // Keep the trial inside the interval's middle 80%.
        let (left, right) = if lo.a < hi.a {
            (lo.a + 0.1 * width, hi.a - 0.1 * width)
        } else {
            (hi.a - 0.1 * width, lo.a + 0.1 * width)
        };
        let a = a.clamp(left.min(right), left.max(right));
        let p = eval(a, x_new, g_new);
        if !p.phi.is_finite() || p.phi > start.phi + C1 * a * start.dphi || p.phi >= lo.phi {
            hi = p;
        } else {
            if p.dphi.abs() <= -C2 * start.dphi {
                return Some(p.phi);
            }
            if p.dphi * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = p;
        }
    }
    // The interval collapsed. Accept `lo` if it lowered the function (the usual case near the
    // optimum, where values differ only in the last bits).
    if lo.a != 0.0 && lo.phi < start.phi {
        let p = eval(lo.a, x_new, g_new);
        return Some(p.phi);
    }
    None
}

/// The minimizer of the cubic interpolating value and slope at two points, if it exists.
fn cubic_min(p: Probe, q: Probe) -> Option<f64> {
    if !(q.phi.is_finite() && q.dphi.is_finite()) {
        return None;
    }
    let d1 = p.dphi + q.dphi - 3.0 * (p.phi - q.phi) / (p.a - q.a);
    let disc = d1 * d1 - p.dphi * q.dphi;
    if disc < 0.0 {
        return None;
    }
    let d2 = (q.a - p.a).signum() * disc.sqrt();
    let a = q.a - (q.a - p.a) * (q.dphi + d2 - d1) / (q.dphi - p.dphi + 2.0 * d2);
    a.is_finite().then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let m = minimize(rosenbrock, &[-1.2, 1.0], &Lbfgs::default());
        assert!(
            (m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8,
            "{m:?}"
        );
        assert!(matches!(m.stop, Stop::Gradient | Stop::Function), "{m:?}");
    }

    #[test]
    fn minimizes_a_badly_scaled_quadratic_exactly() {
        // f = Σ c_i (x_i − i)², minimum at x_i = i.
        let c = [1e-3, 1.0, 1e3, 10.0];
        let f = |x: &[f64], g: &mut [f64]| {
            let mut v = 0.0;
            for i in 0..4 {
                let e = x[i] - i as f64;
                v += c[i] * e * e;
                g[i] = 2.0 * c[i] * e;
            }
            v
        };
        let m = minimize(f, &[5.0, 5.0, 5.0, 5.0], &Lbfgs::default());
        for i in 0..4 {
            assert!((m.x[i] - i as f64).abs() < 1e-6, "{m:?}");
        }
    }

    #[test]
    fn stops_at_the_resolution_of_the_function_without_searching_rounding() {
        // With no gradient tolerance the optimizer must stop on its own once steps can no
        // longer lower the function: here 4 + a quadratic + rounding-sized noise in the value
        // (as a sum over a million customers has), with an exact gradient.
        let c = [1e-2, 1.0, 30.0];
        let f = |x: &[f64], g: &mut [f64]| {
            let mut v = 4.0 + 3e-14 * (1e7 * (x[0] + x[1] + x[2])).sin();
            for i in 0..3 {
                let e = x[i] - i as f64;
                v += c[i] * e * e;
                g[i] = 2.0 * c[i] * e;
            }
            v
        };
        let opts = Lbfgs {
            gtol: 0.0,
            ..Lbfgs::default()
        };
        let m = minimize(f, &[3.0, -2.0, 5.0], &opts);
        assert_eq!(m.stop, Stop::Function, "{m:?}");
        for i in 0..3 {
            assert!((m.x[i] - i as f64).abs() < 1e-6, "{m:?}");
        }
        assert!(
            m.evaluations <= 2 * m.iterations + 2,
            "{} evaluations for {} iterations",
            m.evaluations,
            m.iterations
        );
    }

    #[test]
    fn steps_back_from_non_finite_values() {
        // ln-barrier: undefined for x ≤ 0; the first full step from x = 3 lands outside.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] <= 0.0 {
                g[0] = f64::NAN;
                return f64::NAN;
            }
            g[0] = 1.0 - 1.0 / x[0];
            x[0] - x[0].ln()
        };
        let m = minimize(f, &[30.0], &Lbfgs::default());
        assert!((m.x[0] - 1.0).abs() < 1e-8, "{m:?}");
    }

    #[test]
    fn reports_a_bad_start() {
        let m = minimize(
            |_, g| {
                g[0] = 0.0;
                f64::NAN
            },
            &[1.0],
            &Lbfgs::default(),
        );
        assert_eq!(m.stop, Stop::BadStart);
    }
}
