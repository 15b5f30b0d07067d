//! Which ids a source has already had, and with which values, kept in about 6 bytes per row: a
//! split-block Bloom filter.
//!
//! An exact index of every id costs tens of bytes per id (the key, the row holding it, a hash of
//! its values) and, for a source of tens of millions of rows, more memory than the rest of a run.
//! Most ids of most sources occur once, and for those a filter is enough: it answers "surely new"
//! for nearly every new id, and "maybe seen" for every id seen before and for a small share of
//! new ones (at most about 1 in 800 at the size used here). Each row's id paired with a hash of
//! its values goes in too, so that a row which is probably an exact copy of an earlier one can be
//! told from one whose id repeats with other values. Rows whose id may have been seen are
//! settled exactly once the source is read (see `source::deferred`).
//!
//! The layout is the split-block Bloom filter of the Parquet format: a block of 256 bits (one
//! half cache line) per key, chosen by the key's high bits, in which eight bits are set, one in
//! each 32-bit word, chosen by multiplying the key's low bits by eight odd constants.

use crate::huge::HugePages;
use crate::index::IdKey;

/// The multipliers that pick a key's bit in each word of its block (from the Parquet format's
/// definition of its split-block Bloom filter).
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// Bits of filter per key expected: 16 bits (2 bytes) gives about one false "maybe seen" in
/// 800 new keys when the filter is as full as it was sized for (measured: 1,321 in a million
/// with 100,000 keys in a filter sized for them, 42 in one sized for twice as many).
const BITS_PER_KEY: usize = 16;

#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Block([u32; 8]);

type Blocks = allocator_api2::vec::Vec<Block, HugePages>;

/// Entries of the filter's size that [`Seen::insert_pair`] takes: one for the id, two for the
/// pair of id and values (sixteen bits where an id sets eight).
pub const ENTRIES_PER_ROW: usize = 3;

/// The key of the pair of `key` and `content`: the two mixed (the finalizer of SplitMix64, twice
/// for 96 bits), so that its block and bits are independent of the id's.
#[inline]
fn pair_key(key: IdKey, content: u64) -> IdKey {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let lo = mix(key.lo ^ content.rotate_left(32));
    let hi = (mix(lo ^ 0x9e37_79b9_7f4a_7c15) >> 32) as u32;
    IdKey { lo, hi }
}

/// The bit of each word that `h` sets.
#[inline]
fn mask(h: u32) -> [u32; 8] {
    SALT.map(|s| 1u32 << (h.wrapping_mul(s) >> 27))
}

/// An id's bits in its block: eight, from the key's low bits.
#[inline]
fn id_mask(key: IdKey) -> [u32; 8] {
    mask(key.lo as u32)
}

/// A pair's bits in its block: sixteen, two in each word (or one, when the two coincide).
#[inline]
fn pair_mask(pair: IdKey) -> [u32; 8] {
    let (a, b) = (mask(pair.lo as u32), mask(pair.hi));
    std::array::from_fn(|i| a[i] | b[i])
}

/// One filter, sized for a number of keys.
struct Filter {
    blocks: Blocks,
    /// Keys it was sized for, and keys inserted.
    capacity: usize,
    len: usize,
}

impl Filter {
    fn new(keys: usize) -> Self {
        let n = (keys.max(1) * BITS_PER_KEY).div_ceil(256);
        let mut blocks = Blocks::with_capacity_in(n, HugePages);
        blocks.resize(n, Block::default());
        Filter {
            blocks,
            capacity: keys.max(1),
            len: 0,
        }
    }

    #[inline]
    fn block(&self, key: IdKey) -> usize {
        (((key.lo >> 32) * self.blocks.len() as u64) >> 32) as usize
    }

    #[inline]
    fn contains(&self, key: IdKey, mask: [u32; 8]) -> bool {
        let block = &self.blocks[self.block(key)].0;
        (0..8).all(|i| block[i] & mask[i] == mask[i])
    }

    /// Sets the bits of `mask` in `key`'s block; whether they were all set already. The caller
    /// counts the entries.
    #[inline]
    fn insert(&mut self, key: IdKey, mask: [u32; 8]) -> bool {
        let at = self.block(key);
        let block = &mut self.blocks[at].0;
        let mut had = true;
        for i in 0..8 {
            had &= block[i] & mask[i] == mask[i];
            block[i] |= mask[i];
        }
        had
    }
}

/// The ids a source has had, as a filter that tells "surely new" from "maybe seen".
///
/// A filter holding more keys than it was sized for answers "maybe seen" more and more often, so
/// past that point a new filter four times as large takes the new keys and the full ones are
/// only asked. Growing fourfold keeps the filters few (an insert asks each of them) when the
/// row count was not known beforehand, and the false answers near those of one filter.
pub struct Seen {
    current: Filter,
    full: Vec<Filter>,
}

impl Seen {
    /// A filter sized for `keys` entries (it takes more, and grows): an id is one entry, a row
    /// given to [`Self::insert_pair`] [`ENTRIES_PER_ROW`].
    pub fn with_capacity(keys: usize) -> Self {
        Self {
            current: Filter::new(keys),
            full: Vec::new(),
        }
    }

    /// Makes room for `more` entries beyond those held. While the filter is still empty it is made
    /// again at the size wanted.
    pub fn reserve(&mut self, more: usize) {
        let c = &self.current;
        if c.len == 0 && self.full.is_empty() {
            if more > c.capacity {
                self.current = Filter::new(more);
            }
        } else if c.len.saturating_add(more) > c.capacity {
            self.grow(more);
        }
    }

    /// Makes the filter answer "maybe seen" for every key from now on (see
    /// `IngestOptions::hold_every_row`): a full filter with every bit set.
    pub fn saturate(&mut self) {
        let mut all = Filter::new(1);
        all.blocks.fill(Block([u32::MAX; 8]));
        self.full.push(all);
    }

    fn grow(&mut self, more: usize) {
        let size = more.max(self.current.capacity.saturating_mul(4));
        let full = std::mem::replace(&mut self.current, Filter::new(size));
        self.full.push(full);
    }

    /// Records `key`; `true` when it may have been recorded before (always, if it was).
    #[cfg(test)]
    pub fn insert(&mut self, key: IdKey) -> bool {
        self.insert_mask(key, id_mask(key), 1)
    }

    /// Records `key`, and `key` with `content` (a hash of the values that came with it);
    /// whether each may have been recorded before.
    ///
    /// The pair takes a block of its own and sixteen bits of it (counted as two entries, see
    /// [`ENTRIES_PER_ROW`]): "maybe seen" for a pair that was not seen, when the id was not seen
    /// either, sends a new row down the slow path of a probable copy, so it must be rarer than
    /// one in a billion or so. With a pair of eight bits it came about once in ten million rows
    /// (both answers false at about one in 3,000 each); in the id's own block, a block crowded
    /// enough to answer wrongly for the id would answer wrongly for the pair as well.
    #[inline]
    pub fn insert_pair(&mut self, key: IdKey, content: u64) -> (bool, bool) {
        let pair = pair_key(key, content);
        let id = self.insert_mask(key, id_mask(key), 1);
        let pair = self.insert_mask(pair, pair_mask(pair), ENTRIES_PER_ROW - 1);
        (id, pair)
    }

    /// Sets `mask` in `key`'s block, counting `entries`; whether it was all set already, here
    /// or in a full filter.
    #[inline]
    fn insert_mask(&mut self, key: IdKey, mask: [u32; 8], entries: usize) -> bool {
        if self.current.len >= self.current.capacity {
            self.grow(0);
        }
        let older = self.full.iter().any(|f| f.contains(key, mask));
        self.current.len += entries;
        self.current.insert(key, mask) || older
    }

    /// Asks the processor to bring the blocks of `key` and of its pair with `content` into
    /// cache, for [`Self::insert_pair`] a little later.
    #[inline]
    pub fn prefetch_pair(&self, key: IdKey, content: u64) {
        self.prefetch(key);
        self.prefetch(pair_key(key, content));
    }

    /// Asks the processor to bring `key`'s block into cache, for an insert a little later.
    #[inline]
    fn prefetch(&self, key: IdKey) {
        let block = &self.current.blocks[self.current.block(key)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is only a hint and never faults; the address is a live block.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>((block as *const Block).cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = block;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::id_key;

    #[test]
    fn every_key_inserted_before_is_maybe_seen_and_few_new_ones_are() {
        // Sized for 20,000 keys, given 350,000: the filter grows twice on the way (to 80,000 and
        // 320,000 more).
        let mut seen = Seen::with_capacity(20_000);
        let mut false_seen = 0;
        for i in 0..350_000u32 {
            let key = id_key(&format!("O{i:08}"));
            seen.prefetch(key);
            if seen.insert(key) {
                false_seen += 1;
            }
        }
        assert_eq!(seen.full.len(), 2);
        for i in 0..350_000u32 {
            assert!(seen.insert(id_key(&format!("O{i:08}"))), "{i}");
        }
        // A full filter (16 bits per key) said "maybe seen" of 1,321 in 1,000,000 new keys, a
        // half-full one of 42 (measured with 100,000 keys in, 1,000,000 others asked); here
        // 797 of 350,000 on the way, with two full filters. Allow up to 1,000.
        assert!(
            false_seen < 1_000,
            "{false_seen} of 350,000 new keys said to be seen"
        );
    }

    #[test]
    fn an_id_with_its_values_again_is_maybe_seen_with_other_values_rarely() {
        // 100,000 ids with their values, in a filter sized for them.
        let mut seen = Seen::with_capacity(100_000 * ENTRIES_PER_ROW);
        let key = |i: u32| id_key(&format!("O{i:08}"));
        for i in 0..100_000u32 {
            seen.insert_pair(key(i), u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        let (mut other_values, mut new_ids) = (0, 0);
        for i in 0..100_000u32 {
            let content = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(seen.insert_pair(key(i), content), (true, true), "{i}");
            if seen.insert_pair(key(i), !content).1 {
                other_values += 1;
            }
            if seen.insert_pair(key(i + 1_000_000), content).0 {
                new_ids += 1;
            }
        }
        // About one false answer in 800 for an id when the filter is full (16 bits per entry,
        // see `BITS_PER_KEY`), far fewer for a pair (sixteen bits of its block must be set),
        // fewer for both while the filter fills: it is full after the first loop and grows on
        // the way. Measured here: 2 other values and 206 new ids said to be seen; allowed up to
        // 10 and 1,000 of 100,000.
        assert!(other_values < 10, "{other_values} of 100,000 other values");
        assert!(new_ids < 1_000, "{new_ids} of 100,000 new ids");
    }

    #[test]
    fn a_saturated_filter_has_seen_everything() {
        let mut seen = Seen::with_capacity(10);
        seen.saturate();
        for i in 0..100u32 {
            assert_eq!(seen.insert_pair(id_key(&i.to_string()), 7), (true, true));
        }
    }

    #[test]
    fn reserving_before_any_insert_sizes_the_filter_anew() {
        let mut seen = Seen::with_capacity(10);
        seen.reserve(1_000_000);
        assert_eq!(seen.current.capacity, 1_000_000);
        assert!(!seen.insert(id_key("a")));
        // With keys held, more room is a new filter, and the old keys are still seen.
        seen.reserve(2_000_000);
        assert_eq!(seen.full.len(), 1);
        assert_eq!(seen.current.capacity, 4_000_000);
        assert!(seen.insert(id_key("a")));
        assert!(!seen.insert(id_key("b")));
    }

    #[test]
    fn a_block_is_half_a_cache_line() {
        assert_eq!(std::mem::size_of::<Block>(), 32);
        assert_eq!(std::mem::align_of::<Block>(), 32);
    }
}
