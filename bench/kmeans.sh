#!/usr/bin/env bash
# k-means versus scikit-learn: 1,000,000 x 8 standardized float64 points, k = 8, one init.
#
#   bench/kmeans.sh [ROWS] [RUNS]     (defaults: 1000000 3)
#
# The data: a seeded mixture of 8 Gaussian blobs in 8 dimensions with unequal spreads and sizes,
# standardized per column, written once as Parquet (and as raw float64 for scikit-learn).
# scikit-learn: KMeans(n_clusters=8, n_init=1, algorithm="lloyd", random_state=s) for s = 0..RUNS-1,
# k-means++ seeding included, with one thread and with two (threadpoolctl), timing `fit` alone.
# Tessera: `tessera cluster --k 8 --n-init 1 --transform none --seed s`, the fit's own time
# (`seconds` of its JSON report: k-means++ seeding, iterations, labels) and the whole command's wall
# time (reading the Parquet file, writing clusters.parquet).
# Goal: Tessera's median fit time <= 0.5x scikit-learn's best median, at median inertia
# <= 1.001x scikit-learn's. Results are appended to $BENCH_DIR/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
RUNS="${2:-3}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/tessera-bench/kmeans}"
BENCH_PIP="numpy pyarrow scikit-learn==1.9.1 threadpoolctl"
. bench/common.sh

data="$BENCH_DIR/data-$ROWS"
if [ ! -s "$data/points.parquet" ]; then
  mkdir -p "$data"
  "$PY" - "$data" "$ROWS" <<'PYEOF'
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
d, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(20261123)
k, p = 8, 8
centres = rng.normal(0, 4, size=(k, p))
spread = rng.uniform(0.5, 2.0, size=k)
weights = rng.dirichlet(np.full(k, 3.0))
label = rng.choice(k, size=n, p=weights)
x = centres[label] + rng.normal(size=(n, p)) * spread[label, None]
x = (x - x.mean(axis=0)) / x.std(axis=0)
x.astype("<f8").tofile(f"{d}/points.f64")
pq.write_table(pa.table({f"f{j}": x[:, j] for j in range(p)}), f"{d}/points.parquet",
               compression="snappy")
PYEOF
fi
features=$(seq -s, 0 7 | sed 's/\([0-9]\)/f\1/g')

results="$BENCH_DIR/results.jsonl"
"$PY" - "$data" "$ROWS" "$RUNS" "$TESSERA" "$features" "$results" <<'PYEOF'
import json, os, statistics, subprocess, sys, tempfile, time
import numpy as np, sklearn
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

d, n, runs, tessera, features, results = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
x = np.fromfile(f"{d}/points.f64", dtype="<f8").reshape(n, 8)
KMeans(n_clusters=8, n_init=1, algorithm="lloyd", random_state=0).fit(x[:20000])  # warm-up
out = {}
for threads in (1, 2):
    times, inertias = [], []
    with threadpool_limits(limits=threads):
        for s in range(runs):
            km = KMeans(n_clusters=8, n_init=1, algorithm="lloyd", random_state=s)
            t = time.perf_counter()
            km.fit(x)
            times.append(time.perf_counter() - t)
            inertias.append(km.inertia_)
    out[f"sklearn_{threads}t"] = {"seconds": statistics.median(times), "inertia": statistics.median(inertias),
                                  "all_seconds": times, "all_inertia": inertias}
times, walls, inertias, iters = [], [], [], []
with tempfile.TemporaryDirectory() as tmp:
    for s in range(runs):
        t = time.perf_counter()
        r = subprocess.run([tessera, "cluster", "--input", f"{d}/points.parquet", "--features", features,
                            "--k", "8", "--n-init", "1", "--transform", "none", "--seed", str(s),
                            "--out", tmp, "--json"], check=True, capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        doc = json.loads(r.stdout)
        times.append(doc["seconds"]); inertias.append(doc["inertia"]); iters.append(doc["iterations"])
out["tessera"] = {"seconds": statistics.median(times), "wall_seconds": statistics.median(walls),
                  "inertia": statistics.median(inertias), "all_seconds": times, "all_inertia": inertias,
                  "iterations": iters}
best = min(out["sklearn_1t"]["seconds"], out["sklearn_2t"]["seconds"])
best_inertia = min(out["sklearn_1t"]["inertia"], out["sklearn_2t"]["inertia"])
out["time_ratio"] = out["tessera"]["seconds"] / best
out["inertia_ratio"] = out["tessera"]["inertia"] / best_inertia
out.update(rows=n, runs=runs, sklearn_version=sklearn.__version__, cpus=os.cpu_count())
for name in ("sklearn_1t", "sklearn_2t", "tessera"):
    r = out[name]
    print(f"{name:11} median {r['seconds']:.3f} s  inertia {r['inertia']:.1f}")
print(f"tessera whole command (read Parquet, fit, write clusters.parquet): {out['tessera']['wall_seconds']:.3f} s")
print(f"time ratio {out['time_ratio']:.3f} (goal <= 0.5), inertia ratio {out['inertia_ratio']:.5f} (goal <= 1.001)")
with open(results, "a") as f:
    f.write(json.dumps(out) + "\n")
PYEOF
