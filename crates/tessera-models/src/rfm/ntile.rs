//! Ranking: SQL's `NTILE(bins) OVER (ORDER BY key, customer_id)` in O(n log n).
//!
//! Customer ids are sorted once, as bytes; a customer's position in that order (its id rank)
//! then breaks ties in place of the id. Each key, id rank and row are packed into one `u128`
//! whose integer order is the SQL order, so each ranking is one `sort_unstable` of plain
//! integers, deterministic because no two packed values are equal. Rows are numbered in 32 bits.

use super::{RfmError, RfmInput};
use rayon::slice::ParallelSliceMut;

/// The most rows one input may have.
pub(crate) const MAX_ROWS: usize = u32::MAX as usize;

/// The id rank of a customer who never purchased.
const UNRANKED: u32 = u32::MAX;

/// For each row, the position of its customer among those who purchased, in byte order of
/// `customer_id`; [`UNRANKED`] for the others. Fails if two rows (purchased or not) share an id.
///
/// The sort compares first the 8 bytes that follow the prefix all ids share, as one integer, and
/// the rest of the ids only when those are equal: ids such as `CUST000123` then rarely need a
/// string comparison.
pub(crate) fn id_ranks(input: &RfmInput<'_>) -> Result<Vec<u32>, RfmError> {
    let ids = input.customer_id;
    if ids.len() > MAX_ROWS {
        return Err(RfmError::TooManyRows(ids.len()));
    }
    let skip = common_prefix_len(ids);
    let rest = |packed: u128| &ids[packed as u32 as usize].as_bytes()[skip..];
    let mut keyed: Vec<u128> = (0..ids.len())
        .map(|row| (u128::from(prefix_key(&ids[row].as_bytes()[skip..])) << 64) | row as u128)
        .collect();
    keyed.par_sort_unstable_by(|&a, &b| {
        (a >> 64)
            .cmp(&(b >> 64))
            .then_with(|| rest(a).cmp(rest(b)))
            .then(a.cmp(&b))
    });
    let same = |a: u128, b: u128| a >> 64 == b >> 64 && rest(a) == rest(b);
    if let Some(pair) = keyed.windows(2).find(|w| same(w[0], w[1])) {
        let (first, second) = (pair[0] as u32 as usize, pair[1] as u32 as usize);
        return Err(RfmError::DuplicateCustomer {
            id: ids[first].to_owned(),
            first,
            second,
        });
    }
    let mut ranks = vec![UNRANKED; ids.len()];
    let purchased = keyed.into_iter().map(|packed| packed as u32 as usize);
    let purchased = purchased.filter(|&row| input.recency_days[row].is_some());
    for (rank, row) in purchased.enumerate() {
        ranks[row] = rank as u32;
    }
    Ok(ranks)
}

/// The length in bytes of the prefix every id shares.
fn common_prefix_len(ids: &[&str]) -> usize {
    let Some(first) = ids.first().map(|id| id.as_bytes()) else {
        return 0;
    };
    ids.iter().fold(first.len(), |len, id| {
        let same = first[..len]
            .iter()
            .zip(id.as_bytes())
            .take_while(|(a, b)| a == b)
            .count();
        len.min(same)
    })
}

/// The first 8 bytes of `bytes` as a big-endian integer, padded with zeros: if two keys differ,
/// they are in the byte order of their strings.
fn prefix_key(bytes: &[u8]) -> u64 {
    let mut head = [0; 8];
    let n = bytes.len().min(8);
    head[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(head)
}

/// Order-preserving map of an `i64` onto a `u64`.
pub(crate) fn ascending_i64(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

/// Writes `NTILE(bins) OVER (ORDER BY key(row), customer_id)` into `out[row]` for every ranked
/// row of `ranks` (from [`id_ranks`]); other rows of `out` are left alone.
pub(crate) fn ntile_by(ranks: &[u32], bins: u8, key: impl Fn(usize) -> u64, out: &mut [u8]) {
    let mut packed: Vec<u128> = ranks
        .iter()
        .enumerate()
        .filter(|&(_, &rank)| rank != UNRANKED)
        .map(|(row, &rank)| (u128::from(key(row)) << 64) | (u128::from(rank) << 32) | row as u128)
        .collect();
    packed.sort_unstable();
    let tiles = Tiles::new(packed.len(), bins);
    for (position, value) in packed.into_iter().enumerate() {
        out[value as u32 as usize] = tiles.of(position);
    }
}

/// Bucket sizes of SQL's `NTILE`: with `rows` rows and `bins` buckets, the first `rows % bins`
/// buckets hold one row more than the rest; with fewer rows than buckets, buckets `1..=rows`
/// hold one row each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tiles {
    /// Rows in each of the larger buckets.
    big: usize,
    /// Rows before the first smaller bucket.
    boundary: usize,
    /// How many buckets are the larger ones.
    larger: usize,
}

impl Tiles {
    pub(crate) fn new(rows: usize, bins: u8) -> Tiles {
        let bins = usize::from(bins);
        let (small, larger) = (rows / bins, rows % bins);
        Tiles {
            big: small + 1,
            boundary: larger * (small + 1),
            larger,
        }
    }

    /// The bucket, `1..=bins`, of the row at 0-based `position` in the sorted order.
    pub(crate) fn of(&self, position: usize) -> u8 {
        let bucket = if position < self.boundary {
            position / self.big
        } else {
            // Only reached when every bucket holds at least `big - 1 >= 1` rows.
            self.larger + (position - self.boundary) / (self.big - 1)
        };
        (bucket + 1) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(rows: usize, bins: u8) -> Vec<usize> {
        let tiles = Tiles::new(rows, bins);
        let mut sizes = vec![0; usize::from(bins)];
        (0..rows).for_each(|p| sizes[usize::from(tiles.of(p)) - 1] += 1);
        sizes
    }

    #[test]
    fn buckets_follow_the_sql_standard() {
        assert_eq!(sizes(12, 5), [3, 3, 2, 2, 2]);
        assert_eq!(sizes(10, 5), [2, 2, 2, 2, 2]);
        assert_eq!(sizes(3, 5), [1, 1, 1, 0, 0]);
        assert_eq!(sizes(0, 5), [0, 0, 0, 0, 0]);
        assert_eq!(sizes(7, 4), [2, 2, 2, 1]);
    }

    #[test]
    fn prefix_keys_keep_byte_order_where_they_differ() {
        let ids = [
            "",
            "\0",
            "a",
            "a\0",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "b",
            "é",
        ];
        for w in ids.windows(2) {
            assert!(
                prefix_key(w[0].as_bytes()) <= prefix_key(w[1].as_bytes()),
                "{w:?}"
            );
        }
        assert_eq!(common_prefix_len(&["CUST10", "CUST9", "CUST"]), 4);
        assert_eq!(common_prefix_len(&["x", "y"]), 0);
        assert_eq!(common_prefix_len(&[]), 0);
    }

    #[test]
    fn i64_order_is_kept() {
        let xs = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        assert!(
            xs.windows(2)
                .all(|w| ascending_i64(w[0]) < ascending_i64(w[1]))
        );
    }
}
