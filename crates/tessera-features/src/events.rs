//! Event counts per customer, per event name, in windows before `as_of`.

/// One event: the customer's position, its local calendar day and its name's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFact {
    pub customer: u32,
    pub day: i32,
    pub name: u16,
}

/// `counts[customer * width + name * windows.len() + w]`, where `width` is
/// `names * windows.len()`: events of that name in window `w`, i.e. on the days
/// `as_of - windows[w] .. as_of`. Names at or past `names` are not counted. One vector for every
/// customer (empty without names), rather than one per customer.
pub fn event_counts(
    customers: usize,
    names: usize,
    facts: &[EventFact],
    as_of: i32,
    windows: &[u32],
) -> Vec<u32> {
    let width = names * windows.len();
    let mut counts = vec![0u32; width * customers];
    for e in facts
        .iter()
        .filter(|e| e.day < as_of && usize::from(e.name) < names)
    {
        let at = e.customer as usize * width;
        let Some(row) = counts.get_mut(at..at + width) else {
            continue;
        };
        for (w, len) in windows.iter().enumerate() {
            if i64::from(e.day) >= i64::from(as_of) - i64::from(*len) {
                row[usize::from(e.name) * windows.len() + w] += 1;
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fall_in_their_windows() {
        let e = |customer, day, name| EventFact {
            customer,
            day,
            name,
        };
        // as_of 100; windows 7 and 30 days: days 93..99 and 70..99.
        let facts = [
            e(0, 99, 0),
            e(0, 93, 0),
            e(0, 92, 0),
            e(0, 70, 1),
            e(0, 69, 1),
            e(0, 100, 0),
            e(1, 95, 1),
            e(1, 95, 9),
        ];
        let c = event_counts(2, 2, &facts, 100, &[7, 30]);
        assert_eq!(c[..4], [2, 3, 0, 1]);
        assert_eq!(c[4..], [0, 0, 1, 1]);
        assert!(event_counts(1_000, 0, &facts, 100, &[7, 30]).is_empty());
    }
}
