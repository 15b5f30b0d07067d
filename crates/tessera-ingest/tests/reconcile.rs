//! The reconciliation identity under random damage: valid files are corrupted at random (bytes
//! deleted, quotes, delimiters, newlines and invalid bytes inserted, lines repeated or cut) and
//! every run must finish without a panic and with counts that add up, on disk as in the report.

mod common;
use common::*;
use proptest::prelude::*;

fn valid_orders(n: usize) -> String {
    let mut s = ORDERS_HEADER.to_string();
    for i in 0..n {
        let c = ["C1", "C2", "C3"][i % 3];
        s.push_str(&format!(
            "O{i},{c},2024-05-{:02} 10:{:02}:00,{}.{:02},web,4.5,2024-06-01\n",
            i % 28 + 1,
            i % 60,
            i * 7 % 500,
            i % 100
        ));
    }
    s
}

#[derive(Debug, Clone)]
enum Damage {
    Delete(usize),
    Insert(usize, u8),
    RepeatLine(usize),
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Delete),
        (
            any::<usize>(),
            prop::sample::select(vec![
                b'"', b',', b'\n', b'\r', 0xFF, 0xC3, b'-', b'x', b' ', b'0'
            ])
        )
            .prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<usize>().prop_map(Damage::RepeatLine),
        any::<usize>().prop_map(Damage::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for d in damages {
        let n = bytes.len().max(1);
        match *d {
            Damage::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Damage::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Damage::RepeatLine(i) => {
                let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
                if !lines.is_empty() {
                    let k = i % lines.len();
                    let mut out = Vec::new();
                    for (j, l) in lines.iter().enumerate() {
                        out.extend_from_slice(l);
                        if j == k {
                            out.extend_from_slice(l);
                        }
                    }
                    bytes = out;
                }
            }
            Damage::Truncate(i) => bytes.truncate(i % n + n / 2),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn counts_always_add_up(rows in 5usize..40, damages in prop::collection::vec(damage(), 1..8), policy in prop::sample::select(vec!["reject", "first", "last"])) {
        let orders = apply(valid_orders(rows).into_bytes(), &damages);
        let customers = apply(CUSTOMERS_CSV.as_bytes().to_vec(), &damages[..1]);
        let p = Project::new(&[("customers.csv", &customers), ("orders.csv", &orders)]);
        let toml = BASE_TOML.replace("[project]\n", &format!("[project]\non_conflict = \"{policy}\"\n"));
        match p.run(&toml) {
            Ok(outcome) => assert_reconciles(&p, &outcome),
            // Damage to a header can make a configured column disappear: that is the user's input.
            Err(e) => prop_assert!(e.is_input_error(), "{e}"),
        }
    }
}
