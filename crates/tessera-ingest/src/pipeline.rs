//! Items read on one thread, worked on by one thread per core, and settled in the order they were
//! read on the calling thread: the shape of every reader that checks rows in batches.

use crate::error::IngestError;
use std::collections::BTreeMap;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

/// Threads working on items: one per core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs `produce` on a thread of its own, handing each item it sends to one of `workers`
/// threads running a `work` of their own, and each result to `settle` here, in the order the
/// items were sent. `produce`'s `send` says `false` once nothing more is wanted (`settle` failed);
/// at most a few items per worker are in flight at a time.
pub fn in_order<T, U, W>(
    workers: usize,
    produce: impl FnOnce(&mut dyn FnMut(T) -> bool) + Send,
    mut work: impl FnMut() -> W,
    mut settle: impl FnMut(U) -> Result<(), IngestError>,
) -> Result<(), IngestError>
where
    T: Send,
    U: Send,
    W: FnMut(T) -> U + Send,
{
    let workers = workers.max(1);
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<(usize, T)>(workers);
        scope.spawn(move || {
            let mut seq = 0;
            produce(&mut |item| {
                seq += 1;
                tx.send((seq - 1, item)).is_ok()
            });
        });
        let rx = Arc::new(Mutex::new(rx));
        let (done_tx, done_rx) = sync_channel::<(usize, U)>(workers);
        for _ in 0..workers {
            let (rx, done_tx) = (rx.clone(), done_tx.clone());
            let mut work = work();
            scope.spawn(move || {
                loop {
                    let next = rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, item))) = next else {
                        break;
                    };
                    if done_tx.send((seq, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        // Once the workers are gone the producer's sends fail, and once they are done this
        // loop ends; an early return drops `done_rx`, which stops the workers.
        drop((rx, done_tx));
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (seq, out) in done_rx {
            waiting.insert(seq, out);
            while let Some(out) = waiting.remove(&next) {
                next += 1;
                settle(out)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_settled_in_the_order_items_were_sent() {
        let mut seen = Vec::new();
        in_order(
            3,
            |send| {
                for i in 0..500u64 {
                    assert!(send(i));
                }
            },
            || {
                |i: u64| {
                    // Uneven work, so that results arrive out of order.
                    std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 300));
                    i * 2
                }
            },
            |x| {
                seen.push(x);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..500).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_settle_stops_the_producer_and_the_workers() {
        let sent = std::sync::atomic::AtomicU64::new(0);
        let r = in_order(
            2,
            |send| {
                for i in 0..1_000_000u64 {
                    if !send(i) {
                        return;
                    }
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            },
            || |i: u64| i,
            |x| match x {
                10 => Err(IngestError::Internal("stop".into())),
                _ => Ok(()),
            },
        );
        assert!(matches!(r, Err(IngestError::Internal(m)) if m == "stop"));
        assert!(sent.load(std::sync::atomic::Ordering::Relaxed) < 1_000);
    }
}
