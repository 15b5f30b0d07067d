#!/usr/bin/env python3
"""Times the `lifetimes` BG/NBD fit on a customer summary CSV (customer_id,x,t_x,T; weeks).

    clv_lifetimes.py FILE [--runs 3] [--weighted]

Default: BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, T) on the per-customer columns, as users
call it; only the .fit(...) call is timed (time.perf_counter), the CSV read is not.
--weighted: the customers are first collapsed to their distinct (x, t_x, T) triples with counts,
passed as fit(..., weights=counts) (lifetimes 0.11.3 supports weights: its objective is
sum(w * ll) / sum(w), the same optimum as the per-customer fit); the collapse and the fit are
timed together.
Prints one JSON line: params (r, alpha, a, b), log_likelihood (total over customers, time in
the file's weeks, from lifetimes' own objective at the fitted parameters), fit_seconds (each
run), median_seconds, n (rows), triples (distinct triples) and the lifetimes version.
"""
import argparse
import json
import statistics
import time

import lifetimes
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter


def collapse(x, t_x, T):
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T})
    grouped = frame.groupby(["x", "t_x", "T"], sort=False).size().reset_index(name="count")
    return (grouped["x"].to_numpy(), grouped["t_x"].to_numpy(), grouped["T"].to_numpy(),
            grouped["count"].to_numpy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--weighted", action="store_true")
    args = ap.parse_args()

    d = pd.read_csv(args.file, dtype={"customer_id": str, "x": np.int64, "t_x": float, "T": float})
    x, t_x, T = d["x"].to_numpy(), d["t_x"].to_numpy(), d["T"].to_numpy()
    times, model, triples = [], None, None
    for _ in range(args.runs):
        model = BetaGeoFitter(penalizer_coef=0.0)
        start = time.perf_counter()
        if args.weighted:
            fx, ft, fT, w = collapse(x, t_x, T)
            model.fit(fx, ft, fT, weights=w)
            triples = int(w.size)
        else:
            model.fit(x, t_x, T)
        times.append(time.perf_counter() - start)
    if triples is None:
        triples = int(d.drop_duplicates(["x", "t_x", "T"]).shape[0])

    params = {k: float(model.params_[k]) for k in ("r", "alpha", "a", "b")}
    log_params = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    # lifetimes' objective is the mean negative log-likelihood; unscaled times give weeks
    ll = -BetaGeoFitter._negative_log_likelihood(log_params, x, t_x, T, np.ones(x.size), 0.0) * x.size
    print(json.dumps({
        "tool": "lifetimes", "version": lifetimes.__version__, "weighted": args.weighted,
        "params": params, "log_likelihood": float(ll), "fit_seconds": times,
        "median_seconds": statistics.median(times), "n": int(x.size), "triples": triples,
    }))


if __name__ == "__main__":
    main()
