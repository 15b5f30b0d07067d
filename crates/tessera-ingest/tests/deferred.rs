//! Ids settled once a source is read (the default for sources other than customers) give the
//! outcome of ids settled row by row against an exact index (`IngestOptions::exact_ids`): the
//! same counts, clean tables, customer rows, latest time and rejects (in another order).

mod common;
use common::*;
use tessera_ingest::IngestOptions;

/// 20,000 orders whose ids repeat often: exact copies (written differently or not), rows that
/// conflict with one or several earlier rows, copies of conflicting rows, rows refused by a
/// check whose ids repeat, and unknown customers. A small linear congruential generator keeps
/// the file the same on every run.
fn orders() -> String {
    let mut state = 0x2545_f491_u64;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut text = String::from(ORDERS_HEADER);
    let mut written: Vec<String> = Vec::new();
    for i in 0..20_000u64 {
        let line = match next(20) {
            // An earlier row again, as it was or with its amount written with a trailing zero.
            0 | 1 if !written.is_empty() => {
                let row = written[next(written.len() as u64) as usize].clone();
                if next(2) == 0 {
                    row.replacen(".5,", ".50,", 1)
                } else {
                    row
                }
            }
            // An earlier id with other values.
            2 if !written.is_empty() => {
                let row = &written[next(written.len() as u64) as usize];
                let id = row.split(',').next().unwrap();
                // Some later than every other row: counted in the latest time only if kept.
                format!(
                    "{id},C{},{}-06-{:02} 09:30:00,{}.5,store,,",
                    1 + next(3),
                    2024 + next(2),
                    1 + next(28),
                    next(90)
                )
            }
            // A bad amount or an unknown customer, with a fresh id or a used one.
            3 => {
                let id = if next(2) == 0 {
                    format!("O{}", next(i + 1))
                } else {
                    format!("N{i}")
                };
                if next(2) == 0 {
                    format!("{id},C1,2024-05-01 10:00:00,1.2.3,web,,")
                } else {
                    format!("{id},C9,2024-05-01 10:00:00,3.5,web,,")
                }
            }
            _ => format!(
                "O{i},C{},2024-{:02}-{:02} {:02}:00:00,{}.5,{},{},",
                1 + next(3),
                1 + next(12),
                1 + next(28),
                next(24),
                next(500) as i64 - 20,
                ["web", "store"][next(2) as usize],
                next(5)
            ),
        };
        text.push_str(&line);
        text.push('\n');
        written.push(line);
    }
    text
}

#[test]
fn ids_settled_after_reading_give_what_ids_settled_row_by_row_give() {
    let orders = orders();
    for policy in ["reject", "first", "last"] {
        let toml = BASE_TOML.replace(
            "[sources.orders]\n",
            &format!("[sources.orders]\non_conflict = \"{policy}\"\n"),
        );
        let run = |exact_ids: bool, hold_every_row: bool| {
            let p = Project::new(&[
                ("customers.csv", CUSTOMERS_CSV.as_bytes()),
                ("orders.csv", orders.as_bytes()),
            ]);
            let opts = IngestOptions {
                exact_ids,
                hold_every_row,
                ..IngestOptions::default()
            };
            let outcome = p.run_opts(&toml, &opts).unwrap();
            assert_reconciles(&p, &outcome);
            (p, outcome)
        };
        let (exact, exact_outcome) = run(true, false);
        let o = &exact_outcome.sources[&tessera_core::SourceKind::Orders];
        // The file exercises every case: copies, conflicts and refused rows.
        assert!(o.duplicates > 500 && o.rejected > 1_000, "{policy}: {o:?}");
        let sorted = |p: &Project| {
            let mut rows: Vec<String> = p.rejects().iter().map(|r| format!("{r:?}")).collect();
            rows.sort();
            rows
        };
        // By default (rows staged, noted or held as the filter answers), and with every row
        // held back (what a filter wrong about every id and every row would do).
        for hold_every_row in [false, true] {
            let (deferred, deferred_outcome) = run(false, hold_every_row);
            let case = format!("{policy}, every row held: {hold_every_row}");
            assert_eq!(
                format!("{:?}", deferred_outcome.sources),
                format!("{:?}", exact_outcome.sources),
                "{case}"
            );
            assert_eq!(
                deferred_outcome.latest_event, exact_outcome.latest_event,
                "{case}"
            );
            assert_eq!(
                deferred_outcome.order_customers, exact_outcome.order_customers,
                "{case}"
            );
            assert_eq!(deferred.clean("orders"), exact.clean("orders"), "{case}");
            assert_eq!(sorted(&deferred), sorted(&exact), "{case}");
        }
    }
}
