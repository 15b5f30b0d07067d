//! Times k-means on 1,000,000 × 8 standardized points from a seeded Gaussian mixture, k = 8,
//! one k-means++ initialisation: seeding and iterations separately, medians of 3 runs.
//!
//! ```text
//! cargo run --release -p tessera-models --example kmeans_bench -- [--rows N] [--out DIR] [--select N]
//! ```
//!
//! The number of threads is rayon's default (`RAYON_NUM_THREADS` sets it). `--select N` also
//! times the model selection (`select_k` with its defaults, k = 2..=10) on the first `N` rows.
//!
//! With `--out DIR` it writes the data (`DIR/x.f64`, raw little-endian f64, row-major) and the
//! k-means++ centres of the first run (`DIR/init.f64`), plus `DIR/meta.json` with the shape
//! and Tessera's results, so that scikit-learn can be timed on the same data
//! (`kmeans_bench_sklearn.py` beside this example does that).

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tessera_models::cluster::{
    Algorithm, Init, KMeans, Matrix, MatrixRef, SelectParams, Step, Transform, kmeans_plusplus,
    select_k,
};

const D: usize = 8;
const K: usize = 8;
const DATA_SEED: u64 = 20_240_611;

/// A mixture of 8 Gaussians in 8 dimensions with unequal weights and spreads, standardized.
fn make_data(rows: usize) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(DATA_SEED);
    let centres: Vec<f64> = (0..K * D)
        .map(|_| 3.0 * rng.sample::<f64, _>(StandardNormal))
        .collect();
    let spreads: Vec<f64> = (0..K).map(|_| 0.6 + rng.random::<f64>()).collect();
    let weights: Vec<f64> = (0..K).map(|_| 0.5 + rng.random::<f64>()).collect();
    let total: f64 = weights.iter().sum();
    let mut cum = Vec::with_capacity(K);
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cum.push(acc);
    }
    let mut data = Vec::with_capacity(rows * D);
    for _ in 0..rows {
        let u: f64 = rng.random();
        let c = cum.iter().position(|&p| u < p).unwrap_or(K - 1);
        for j in 0..D {
            let z: f64 = rng.sample(StandardNormal);
            data.push(centres[c * D + j] + spreads[c] * z);
        }
    }
    let x = Matrix::new(data, rows, D).expect("shape");
    let t = Transform::uniform(D, &[Step::Standardize])
        .fit(&x)
        .expect("fit");
    t.apply(&x).expect("apply")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn write_f64(path: &std::path::Path, v: &[f64]) {
    let mut bytes = Vec::with_capacity(v.len() * 8);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write");
}

fn main() {
    let mut rows = 1_000_000usize;
    let mut out: Option<std::path::PathBuf> = None;
    let mut select_rows: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.parse().ok()).expect("--rows N"),
            "--out" => out = args.next().map(Into::into),
            "--select" => select_rows = args.next().and_then(|v| v.parse().ok()),
            other => panic!("unknown argument {other}"),
        }
    }
    let t = Instant::now();
    let x = make_data(rows);
    eprintln!("data: {rows} × {D} in {:.2} s", t.elapsed().as_secs_f64());
    println!("threads: {}", rayon::current_num_threads());

    let mut first_init = None;
    for (name, algorithm) in [("hamerly", Algorithm::Hamerly), ("lloyd", Algorithm::Lloyd)] {
        let (mut seed_t, mut iter_t, mut total_t) = (vec![], vec![], vec![]);
        let mut last = None;
        for run in 0..3u64 {
            let t0 = Instant::now();
            let init = kmeans_plusplus(&x, K, run).expect("seeding");
            let t1 = Instant::now();
            let fit = KMeans::new(K)
                .init(Init::Centers(init.clone()))
                .algorithm(algorithm)
                .fit(&x)
                .expect("fit");
            let t2 = Instant::now();
            seed_t.push((t1 - t0).as_secs_f64());
            iter_t.push((t2 - t1).as_secs_f64());
            total_t.push((t2 - t0).as_secs_f64());
            println!(
                "{name} run {run}: seeding {:.3} s, iterations {:.3} s, total {:.3} s, n_iter {}, \
                 converged {}, inertia {:.6}",
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t2 - t0).as_secs_f64(),
                fit.n_iter,
                fit.converged,
                fit.inertia
            );
            if first_init.is_none() {
                first_init = Some((init, fit.clone()));
            }
            last = Some(fit);
        }
        let last = last.expect("runs");
        println!(
            "{name} median of 3: seeding {:.3} s, iterations {:.3} s, total {:.3} s \
             (last run: n_iter {}, inertia {:.6})",
            median(&mut seed_t),
            median(&mut iter_t),
            median(&mut total_t),
            last.n_iter,
            last.inertia
        );
    }

    if let Some(m) = select_rows {
        let m = m.min(rows);
        let sub = MatrixRef::new(&x.as_slice()[..m * D], m, D).expect("prefix");
        let t = Instant::now();
        let (sel, _) = select_k(sub, &SelectParams::default()).expect("select_k");
        println!("select_k on {m} rows: {:.2} s", t.elapsed().as_secs_f64());
        for r in &sel.rows {
            println!(
                "  k = {:2}: inertia {:.1}, silhouette {:.4}{}, CH {:.1}, DB {:.4}, min share {:.3}, \
                 stability {:.3}",
                r.k,
                r.inertia,
                r.silhouette.unwrap_or(f64::NAN),
                if r.silhouette_sampled {
                    " (sampled)"
                } else {
                    ""
                },
                r.calinski_harabasz.unwrap_or(f64::NAN),
                r.davies_bouldin.unwrap_or(f64::NAN),
                r.min_share,
                r.stability.unwrap_or(f64::NAN)
            );
        }
        println!("  {}", sel.reason);
    }

    if let Some(dir) = out {
        std::fs::create_dir_all(&dir).expect("mkdir");
        let (init, fit) = first_init.expect("a run");
        write_f64(&dir.join("x.f64"), x.as_slice());
        write_f64(&dir.join("init.f64"), init.as_slice());
        let meta = format!(
            "{{\"rows\": {rows}, \"cols\": {D}, \"k\": {K}, \"tessera_inertia_seed0\": {:?}, \
             \"tessera_n_iter_seed0\": {}}}\n",
            fit.inertia, fit.n_iter
        );
        std::fs::write(dir.join("meta.json"), meta).expect("write");
        eprintln!("wrote {}", dir.display());
    }
}
