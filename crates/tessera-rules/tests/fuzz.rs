//! Fuzzing the parser and checker with mutations of a committed corpus
//! (`fuzz/corpus/*.rule`). Any input must give a value or an error, never a panic, and a rule that
//! parses must print to a normal form that parses back to the same normal form.
//!
//! The default run is short. `TESSERA_FUZZ_SECONDS=600 cargo test -p tessera-rules --test fuzz
//! --release -- --nocapture` runs for ten minutes.

mod common;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use tessera_rules::{SegmentDef, SegmentSet, parser, print};

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "and",
    "or",
    "not",
    "in",
    "between",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "is",
    "null",
    "true",
    "false",
    "segment",
    "where",
    "last",
    "days",
    "weeks",
    "count(",
    "sum(",
    "avg(",
    "min(",
    "max(",
    "first(",
    "last(",
    "days_since(",
    "orders",
    "events",
    "orders.amount",
    "properties.path",
    "age",
    "score",
    "spend",
    "country",
    "vip",
    "joined",
    "seen_at",
    "category",
    "amount",
    "qty",
    "name",
    "\"DE\"",
    "'x'",
    "\"",
    "'",
    "\\",
    "12",
    "-3",
    "4.50",
    "2024-02-29",
    "2024-13-01",
    "99999999999999999999",
    "30 days",
    "#",
    "\n",
    " ",
    "é",
    "\u{0}",
    "💥",
];

fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .expect("fuzz/corpus exists")
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(out.len() >= 10, "the corpus has its seeds");
    out
}

fn mutate(rng: &mut ChaCha8Rng, seed: &str, corpus: &[String]) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=s.len());
        match rng.random_range(0..5) {
            0 if !s.is_empty() => {
                let end = (at + rng.random_range(1..8)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                s.splice(at..at, format!(" {t} ").chars());
            }
            2 if !s.is_empty() => {
                let i = rng.random_range(0..s.len());
                s[i] = char::from(rng.random_range(0x20u8..0x7f));
            }
            3 => {
                let other: Vec<char> = corpus[rng.random_range(0..corpus.len())].chars().collect();
                let from = rng.random_range(0..=other.len());
                let to = (from + rng.random_range(0..20)).min(other.len());
                s.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                let depth = rng.random_range(1..80);
                s.splice(0..0, std::iter::repeat_n('(', depth));
                s.extend(std::iter::repeat_n(')', rng.random_range(0..depth + 2)));
            }
        }
    }
    s.into_iter().collect()
}

fn one(input: &str, catalog: &tessera_rules::Catalog) {
    if let Ok(ast) = parser::parse(input) {
        let normal = print::normal_form(&ast);
        let again = parser::parse(&normal)
            .unwrap_or_else(|e| panic!("normal form does not parse: {input:?} -> {normal:?}: {e}"));
        assert_eq!(
            print::normal_form(&again),
            normal,
            "normal form is not stable for {input:?}"
        );
    } else if let Err(e) = parser::parse(input) {
        let _ = e.render(input);
    }
    let defs = vec![
        SegmentDef {
            name: "s0".into(),
            rule: input.to_string(),
            ..Default::default()
        },
        SegmentDef {
            name: "s1".into(),
            rule: "vip".into(),
            ..Default::default()
        },
    ];
    if let Err(errors) = SegmentSet::compile(catalog.clone(), defs, vec![]) {
        for e in errors {
            let _ = e.to_string();
        }
    }
}

#[test]
fn parser_and_checker_never_panic() {
    let seconds: u64 = std::env::var("TESSERA_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let corpus = corpus();
    let catalog = common::catalog(chrono_tz::UTC);
    for seed in &corpus {
        one(seed, &catalog);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seconds);
    let mut runs = 0u64;
    while runs < 20_000 || Instant::now() < deadline {
        let seed = &corpus[rng.random_range(0..corpus.len())];
        let input = mutate(&mut rng, seed, &corpus);
        one(&input, &catalog);
        runs += 1;
    }
    eprintln!("fuzz: {runs} inputs");
}
