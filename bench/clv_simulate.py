#!/usr/bin/env python3
"""Simulates a customer base from the BG/NBD model and writes its calibration summary as CSV.

    clv_simulate.py [--n 1000000] [--seed 42] [--out customers.csv] [--continuous]
                    [--r 0.243 --alpha 4.414 --a 0.793 --b 2.426]

The default parameters are the BG/NBD estimates for the CDNOW sample (time in weeks), so the
output looks like a large CDNOW: about 60% of customers with no repeat purchase, mean x about 1.
The process, per customer:
  * first purchase (birth) at a continuous time uniform over the first 84 days (12 weeks) of a
    273-day (39-week) calibration period [0, 273) days;
  * purchase rate lambda ~ Gamma(shape r, rate alpha) per week; repeat purchases follow a Poisson
    process (exponential gaps of mean 1/lambda weeks) from the birth on;
  * dropout probability p ~ Beta(a, b): after every repeat purchase the customer becomes inactive
    with probability p (the first purchase carries no dropout, as in BG/NBD).
Recording (default): like an order log, purchases are stamped with their calendar day
floor(time in days); purchases on one day merge into one transaction, and repeat purchases on the
first purchase's day merge into that first transaction. With first_day = floor(birth) in [0, 84)
and last_day the last purchase day:
  x = number of distinct repeat-purchase days, t_x = (last_day - first_day) / 7 (0 when x = 0),
  T = (273 - first_day) / 7   (the period's end is the end of day 272, i.e. time 273).
--continuous skips the day stamping: x counts every repeat purchase, t_x = (last purchase time -
birth) / 7 and T = 39 - birth / 7, all in weeks. For a given seed both modes describe the same
simulated customers. Output columns: customer_id,x,t_x,T (ids C0000001, ...), t_x and T with 6
decimals (distinct days stay distinct: they are 1/7 week apart). A one-line JSON summary goes to stderr. numpy only; vectorized over customers
(one pass per purchase number over the customers still purchasing).
"""
import argparse
import json
import sys
import time

import numpy as np

PERIOD_DAYS = 273.0
BIRTH_DAYS = 84.0


def simulate(n, r, alpha, a, b, seed, continuous):
    rng = np.random.default_rng(seed)
    birth = rng.uniform(0.0, BIRTH_DAYS, n)            # days
    lam = rng.gamma(r, 1.0 / alpha, n) / 7.0             # purchases per day
    p = rng.beta(a, b, n)

    first_day = np.floor(birth)
    x = np.zeros(n, dtype=np.int64)
    last = birth.copy() if continuous else first_day.copy()   # last purchase time / day

    active = np.flatnonzero(lam > 0.0)
    t = birth[active].copy()
    while active.size:
        t += rng.exponential(1.0, active.size) / lam[active]
        inside = t < PERIOD_DAYS
        active, t = active[inside], t[inside]
        if not active.size:
            break
        if continuous:
            x[active] += 1
            last[active] = t
        else:
            day = np.floor(t)
            new = day != last[active]   # days only grow, so a new day is a later day
            idx = active[new]
            x[idx] += 1
            last[idx] = day[new]
        survive = rng.random(active.size) >= p[active]
        active, t = active[survive], t[survive]

    if continuous:
        t_x = np.where(x > 0, (last - birth) / 7.0, 0.0)
        T = (PERIOD_DAYS - birth) / 7.0
    else:
        t_x = (last - first_day) / 7.0
        T = (PERIOD_DAYS - first_day) / 7.0
    return x, t_x, T


def _digits(v, width, pad):
    """ASCII digits of the non-negative integers v, `width` columns; leading zeros become 0 bytes
    (dropped later) unless pad."""
    scale = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    out = ((v[:, None] // scale) % 10 + ord("0")).astype(np.uint8)
    if not pad:
        out[(v[:, None] < scale) & (scale > 1)] = 0
    return out


def write_csv(path, x, t_x, T, decimals=6):
    """Writes customer_id,x,t_x,T with t_x and T to `decimals` places, formatted with numpy:
    each row is laid out in a fixed-width byte matrix whose unused places hold 0 bytes, removed at
    the end (Python's per-value float formatting would take most of the run time at 1M rows)."""
    n = x.size
    id_width = max(7, len(str(n)))
    unit = 10 ** decimals
    cols = [np.full((n, 1), ord("C"), np.uint8),
            _digits(np.arange(1, n + 1, dtype=np.int64), id_width, True)]
    comma = np.full((n, 1), ord(","), np.uint8)
    cols += [comma, _digits(x.astype(np.int64), len(str(int(x.max()))), False)]
    for v in (t_x, T):
        m = np.rint(v * unit).astype(np.int64)
        whole = m // unit
        cols += [comma, _digits(whole, len(str(int(whole.max()))), False),
                 np.full((n, 1), ord("."), np.uint8), _digits(m % unit, decimals, True)]
    cols.append(np.full((n, 1), ord("\n"), np.uint8))
    rows = np.concatenate(cols, axis=1).ravel()
    with open(path, "wb") as f:
        f.write(b"customer_id,x,t_x,T\n")
        f.write(rows[rows != 0].tobytes())


def distinct_triples(x, t_x, T):
    """Number of distinct (x, t_x, T) rows, as written (6 decimals)."""
    a, b = np.rint(t_x * 1e6).astype(np.int64), np.rint(T * 1e6).astype(np.int64)
    order = np.lexsort((b, a, x))
    xs, as_, bs = x[order], a[order], b[order]
    new = (np.diff(xs) != 0) | (np.diff(as_) != 0) | (np.diff(bs) != 0)
    return int(new.sum()) + 1 if x.size else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="customers.csv")
    ap.add_argument("--continuous", action="store_true", help="no day stamping: continuous t_x and T")
    ap.add_argument("--r", type=float, default=0.243)
    ap.add_argument("--alpha", type=float, default=4.414)
    ap.add_argument("--a", type=float, default=0.793)
    ap.add_argument("--b", type=float, default=2.426)
    args = ap.parse_args()

    start = time.perf_counter()
    x, t_x, T = simulate(args.n, args.r, args.alpha, args.a, args.b, args.seed, args.continuous)
    simulated = time.perf_counter() - start
    write_csv(args.out, x, t_x, T)
    total = time.perf_counter() - start
    assert np.all((t_x >= 0) & (t_x <= T)) and np.all(t_x[x == 0] == 0)
    print(json.dumps({
        "out": args.out, "n": args.n, "seed": args.seed, "continuous": args.continuous,
        "share_x0": round(float(np.mean(x == 0)), 4), "mean_x": round(float(x.mean()), 4),
        "max_x": int(x.max()), "mean_t_x_repeaters": round(float(t_x[x > 0].mean()), 3),
        "mean_T": round(float(T.mean()), 3),
        "triples": distinct_triples(x, t_x, T),
        "simulate_seconds": round(simulated, 3), "total_seconds": round(total, 3),
    }), file=sys.stderr)


if __name__ == "__main__":
    main()
