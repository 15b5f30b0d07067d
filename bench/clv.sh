#!/usr/bin/env bash
# BG/NBD fit versus lifetimes: 1,000,000 simulated customers with CDNOW-like parameters.
#
#   bench/clv.sh [N] [RUNS] [LIFETIMES_RUNS]     (defaults: 1000000 5 3; LIFETIMES_RUNS=0 skips it)
#
# The data: bench/clv_simulate.py (BG/NBD with r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, weeks;
# births over the first 12 weeks of a 39-week calibration period; seed 42), written once per N
# into $BENCH_DIR/data-N as day.csv (purchases stamped with their calendar day, same-day purchases
# merged: about 1e5 distinct (x, t_x, T) triples) and continuous.csv (no day stamping: about as
# many triples as customers).
# lifetimes 0.11.3: BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, T) on the per-customer columns,
# timing `fit` alone (bench/clv_lifetimes.py), and on day.csv also collapsed to distinct triples
# passed as weights= (collapse + fit timed).
# Tessera: the clv_bench example of tessera-models (its own `fit_seconds`: the BG/NBD fit from the
# summary columns), and the whole `tessera clv --summary FILE --model bgnbd --json` command's wall
# time (reading the CSV, fitting, printing). Medians of RUNS (lifetimes: LIFETIMES_RUNS).
# Printed: a table of medians, the time ratio Tessera / lifetimes (per-customer fit) and the largest
# relative difference of Tessera's parameters from lifetimes'. Results are appended to
# $BENCH_DIR/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
RUNS="${2:-5}"
LT_RUNS="${3:-3}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/tessera-bench/clv}"
# lifetimes 0.11.3 imports pkg_resources (setuptools < 81); the rest are the versions checked with it
# (crates/tessera-models/tests/fixtures/clv/make_reference.py was generated with the same set).
BENCH_PIP="lifetimes==0.11.3 setuptools==65.5.0 numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 autograd==1.9.1 dill==0.4.1"
. bench/common.sh

data="$BENCH_DIR/data-$N"
mkdir -p "$data"
for mode in day continuous; do
  if [ ! -s "$data/$mode.csv" ]; then
    flag=""; [ "$mode" = continuous ] && flag="--continuous"
    # shellcheck disable=SC2086
    "$PY" bench/clv_simulate.py --n "$N" --seed 42 $flag --out "$data/$mode.csv.tmp"
    mv "$data/$mode.csv.tmp" "$data/$mode.csv"
  fi
done
cargo build --release --locked --quiet -p tessera-models --example clv_bench \
  || echo "clv_bench example did not build; its rows will be missing" >&2

results="$BENCH_DIR/results.jsonl"
"$PY" - "$data" "$RUNS" "$LT_RUNS" "$TESSERA" "$results" <<'PYEOF'
import json, os, statistics, subprocess, sys, tempfile, time

data, runs, lt_runs, tessera, results = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
NAMES = ("r", "alpha", "a", "b")


def last_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in output")


def find_params(doc):
    """The first object holding r, alpha, a and b in a JSON document (the CLI's layout may vary)."""
    if isinstance(doc, dict):
        if all(isinstance(doc.get(k), (int, float)) for k in NAMES):
            return {k: float(doc[k]) for k in NAMES}
        for v in doc.values():
            found = find_params(v)
            if found:
                return found
    elif isinstance(doc, list):
        for v in doc:
            found = find_params(v)
            if found:
                return found
    return None


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {r.returncode}: {tail}")
    return r.stdout


def lifetimes(path, weighted):
    cmd = [sys.executable, "bench/clv_lifetimes.py", path, "--runs", str(lt_runs)]
    doc = last_json(run(cmd + (["--weighted"] if weighted else [])))
    return {"seconds": doc["median_seconds"], "all_seconds": doc["fit_seconds"], "params": doc["params"],
            "log_likelihood": doc["log_likelihood"], "n": doc["n"], "triples": doc["triples"]}


def tessera_fit(path):
    doc = last_json(run(["cargo", "run", "--release", "--locked", "--quiet", "-p", "tessera-models",
                         "--example", "clv_bench", "--", "--summary", path, "--runs", str(runs)]))
    return {"seconds": doc["median_seconds"], "all_seconds": doc["fit_seconds"], "params": doc["params"],
            "log_likelihood": doc.get("log_likelihood"), "n": doc.get("n"), "triples": doc.get("triples")}


def tessera_cli(path):
    walls, doc = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            t = time.perf_counter()
            out = run([tessera, "clv", "--summary", path, "--model", "bgnbd", "--json"], cwd=tmp)
            walls.append(time.perf_counter() - t)
            doc = json.loads(out)
    ll = doc.get("log_likelihood") if isinstance(doc, dict) else None
    return {"seconds": statistics.median(walls), "all_seconds": walls, "params": find_params(doc),
            "log_likelihood": ll if isinstance(ll, (int, float)) else None}


def max_rel_diff(p, q):
    if not p or not q:
        return None
    return max(abs(p[k] - q[k]) / abs(q[k]) for k in NAMES)


out = {"runs": runs, "lifetimes_runs": lt_runs, "cpus": os.cpu_count(), "data": {}}
failed = False
rows = []  # (data, label, result)
for mode in ("day", "continuous"):
    path = os.path.join(data, f"{mode}.csv")
    res = {}
    jobs = [("tessera fit", lambda: tessera_fit(path)), ("tessera clv command", lambda: tessera_cli(path))]
    if lt_runs > 0:
        jobs.insert(0, ("lifetimes", lambda: lifetimes(path, False)))
        if mode == "day":
            jobs.insert(1, ("lifetimes weighted", lambda: lifetimes(path, True)))
    for label, job in jobs:
        try:
            res[label] = job()
        except Exception as e:  # report and go on with the other rows
            res[label] = {"error": str(e)}
            failed = True
        rows.append((mode, label, res[label]))
    base = res.get("lifetimes", {})
    for label, r in res.items():
        if "error" in r or label == "lifetimes" or "seconds" not in base:
            continue
        r["time_ratio"] = r["seconds"] / base["seconds"]
        r["max_rel_param_diff"] = max_rel_diff(r.get("params"), base.get("params"))
        if r.get("log_likelihood") is not None:
            r["log_likelihood_diff"] = r["log_likelihood"] - base["log_likelihood"]
    out["data"][mode] = res

print(f"{'data':10} {'':20} {'median s':>9} {'ratio':>7} {'max rel dparam':>14} "
      f"{'r':>7} {'alpha':>7} {'a':>7} {'b':>7} {'log-likelihood':>15}")
for mode, label, r in rows:
    if "error" in r:
        print(f"{mode:10} {label:20} failed: {r['error']}")
        continue
    ratio = f"{r['time_ratio']:.4f}" if "time_ratio" in r else ("1" if label == "lifetimes" else "-")
    diff = r.get("max_rel_param_diff")
    diff = f"{diff:.2e}" if diff is not None else "-"
    p = r.get("params") or {}
    ps = " ".join(f"{p[k]:7.4f}" if k in p else f"{'-':>7}" for k in NAMES)
    ll = f"{r['log_likelihood']:15.2f}" if r.get("log_likelihood") is not None else f"{'-':>15}"
    print(f"{mode:10} {label:20} {r['seconds']:9.3f} {ratio:>7} {diff:>14} {ps} {ll}")
print("ratio = median seconds / lifetimes' per-customer median on the same data; "
      "max rel dparam = max over r, alpha, a, b of |p - p_lifetimes| / p_lifetimes")
with open(results, "a") as f:
    f.write(json.dumps(out) + "\n")
sys.exit(1 if failed else 0)
PYEOF
