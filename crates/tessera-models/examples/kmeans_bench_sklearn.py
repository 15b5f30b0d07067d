"""Times scikit-learn's KMeans on the data written by the kmeans_bench example.

    cargo run --release -p tessera-models --example kmeans_bench -- --out DIR
    OMP_NUM_THREADS=1 python kmeans_bench_sklearn.py DIR
    OMP_NUM_THREADS=2 python kmeans_bench_sklearn.py DIR

Runs KMeans(n_clusters=8, n_init=1, algorithm="lloyd") three times with random_state 0, 1, 2
(k-means++ seeding included in the time), then three times from Tessera's k-means++ centres
(DIR/init.f64) to time the iterations alone, and prints each time, the medians, the
inertia and the iteration count. Needs numpy and scikit-learn (measured with 1.9.1).
"""

import json
import os
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans


def main():
    d = sys.argv[1]
    meta = json.load(open(os.path.join(d, "meta.json")))
    n, p, k = meta["rows"], meta["cols"], meta["k"]
    X = np.fromfile(os.path.join(d, "x.f64"), dtype="<f8").reshape(n, p)
    init = np.fromfile(os.path.join(d, "init.f64"), dtype="<f8").reshape(k, p)
    print(f"scikit-learn {sklearn.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    # Warm-up (thread pools, imports) on a slice.
    KMeans(n_clusters=k, n_init=1, algorithm="lloyd", random_state=0).fit(X[:10000])

    for label, make in [
        ("k-means++ + lloyd", lambda s: KMeans(n_clusters=k, n_init=1, algorithm="lloyd", random_state=s)),
        ("lloyd from Tessera's init", lambda s: KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd")),
    ]:
        times = []
        for s in range(3):
            km = make(s)
            t0 = time.perf_counter()
            km.fit(X)
            t = time.perf_counter() - t0
            times.append(t)
            print(f"{label} run {s}: {t:.3f} s, n_iter {km.n_iter_}, inertia {km.inertia_:.6f}")
        print(f"{label} median of 3: {sorted(times)[1]:.3f} s")
    print(f"Tessera (seed 0, written by the example): inertia {meta['tessera_inertia_seed0']:.6f}, "
          f"n_iter {meta['tessera_n_iter_seed0']}")


if __name__ == "__main__":
    main()
