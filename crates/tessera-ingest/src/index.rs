//! The id index: one small entry per distinct row id, to find duplicates and conflicts.
//!
//! Keys are 96-bit hashes of the id text (a collision among 10^10 ids has odds near 10^-9), and
//! values say which staged row holds the id. 24 bytes per slot, 1.33 to 2.7 slots per distinct
//! id; where a row came from (file and line) is kept apart, by the source, since it is needed
//! only for the messages of conflicts.

use crate::huge::HugePages;
use std::hash::Hasher;
use xxhash_rust::xxh3::xxh3_128;

/// The keys are already hashes: use their low bits as they are.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A 96-bit hash of an id, in two words so that a slot needs no 16-byte alignment; `hi` is
/// never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdKey {
    pub(crate) lo: u64,
    pub(crate) hi: u32,
}

impl std::hash::Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.lo);
    }
}

pub fn id_key(id: &str) -> IdKey {
    let h = xxh3_128(id.as_bytes());
    // The all-zero key marks a free slot of the index.
    IdKey {
        lo: h as u64,
        hi: ((h >> 64) as u32).max(1),
    }
}

/// Which staged row holds an id, and a hash of its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Hash of the row's checked values.
    pub content: u64,
    /// Position of the row in the staged table, or [`Entry::CONFLICTED`].
    pub ordinal: u32,
}

impl Entry {
    /// The id was withdrawn because rows with it conflict.
    pub const CONFLICTED: u32 = u32::MAX;
    /// Rows a source can stage: every ordinal below [`Entry::CONFLICTED`].
    pub const MAX_ROWS: u64 = Self::CONFLICTED as u64;

    pub fn new(content: u64, ordinal: u32) -> Self {
        Self { content, ordinal }
    }

    pub fn is_live(&self) -> bool {
        self.ordinal != Self::CONFLICTED
    }
}

/// Ids to entries: an open-addressing table with linear probing, in memory backed by huge pages.
/// Its size is any number of slots (a key's first slot is its hash scaled to the size), so that a
/// table sized for a known row count is not up to twice as large as it needs to be.
///
/// The table is probed at random once per row and is far larger than the caches, so a probe
/// costs a memory access; with 4 KiB pages it would miss the TLB as well. Readers therefore call
/// [`IdIndex::prefetch`] some rows ahead, so that the slot is in cache when the row gets there and
/// the misses of consecutive rows overlap instead of following one another.
pub struct IdIndex {
    slots: Slots,
    len: usize,
}

type Slots = allocator_api2::vec::Vec<Slot, HugePages>;

/// A slot: the key's words and the entry's, laid out in 24 bytes.
#[derive(Clone, Copy)]
struct Slot {
    /// `key_lo` and `key_hi` zero for a free slot; [`id_key`] never gives that key.
    key_lo: u64,
    key_hi: u32,
    ordinal: u32,
    content: u64,
}

impl Slot {
    fn key(&self) -> IdKey {
        IdKey {
            lo: self.key_lo,
            hi: self.key_hi,
        }
    }

    fn is_free(&self) -> bool {
        self.key_hi == 0
    }

    fn entry(&self) -> Entry {
        Entry::new(self.content, self.ordinal)
    }

    fn new(key: IdKey, entry: Entry) -> Self {
        Self {
            key_lo: key.lo,
            key_hi: key.hi,
            ordinal: entry.ordinal,
            content: entry.content,
        }
    }
}

/// Occupied slots at most this share of the table (3/4), which keeps linear probes short.
fn slots_for(entries: usize) -> usize {
    (entries.saturating_mul(4) / 3 + 1).max(16)
}

/// `n` free slots. A free slot is all zero bytes, and fresh huge-page mappings are zeroed by the
/// kernel as they are first touched, so a large table costs nothing until it is used.
fn empty_slots(n: usize) -> Slots {
    use allocator_api2::alloc::{Allocator, Layout};
    let layout = Layout::array::<Slot>(n).expect("index size fits in memory");
    let block = HugePages
        .allocate_zeroed(layout)
        .unwrap_or_else(|_| std::alloc::handle_alloc_error(layout));
    // SAFETY: the block was allocated by `HugePages` for exactly `n` slots with `Slot`'s layout,
    // and zero bytes are a valid `Slot` (every field is an integer): the free slot.
    unsafe {
        allocator_api2::vec::Vec::from_raw_parts_in(block.cast::<Slot>().as_ptr(), n, n, HugePages)
    }
}

impl Default for IdIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl IdIndex {
    pub fn with_capacity(entries: usize) -> Self {
        let n = slots_for(entries);
        Self {
            slots: empty_slots(n),
            len: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Entries the table holds before it grows.
    pub fn capacity(&self) -> usize {
        self.slots.len() / 4 * 3
    }

    /// Makes room for `more` entries beyond those held.
    pub fn reserve(&mut self, more: usize) {
        let want = self.len.saturating_add(more);
        if want <= self.capacity() {
            return;
        }
        self.resize(slots_for(want));
    }

    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.slots, empty_slots(n));
        for s in old.iter().filter(|s| !s.is_free()) {
            let i = self.find(s.key());
            self.slots[i] = *s;
        }
    }

    /// The first slot `key` may be in: its hash scaled to the table's size.
    #[inline]
    fn home(&self, key: IdKey) -> usize {
        ((u128::from(key.lo) * self.slots.len() as u128) >> 64) as usize
    }

    /// The slot holding `key`, or the free slot where it would go.
    #[inline]
    fn find(&self, key: IdKey) -> usize {
        let n = self.slots.len();
        let mut i = self.home(key);
        loop {
            let s = &self.slots[i];
            if s.is_free() || (s.key_lo == key.lo && s.key_hi == key.hi) {
                return i;
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// Asks the processor to bring `key`'s slot into cache, for a lookup a little later.
    #[inline]
    pub fn prefetch(&self, key: IdKey) {
        let slot = &self.slots[self.home(key)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is only a hint and never faults; the address is a live slot.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let at = (slot as *const Slot).cast::<i8>();
            _mm_prefetch::<_MM_HINT_T0>(at);
            // A probe often goes on past the home slot's line (linear probing, up to 3/4 full).
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(64));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    pub fn get(&self, key: &IdKey) -> Option<Entry> {
        let s = &self.slots[self.find(*key)];
        (!s.is_free()).then(|| s.entry())
    }

    pub fn contains_key(&self, key: &IdKey) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `entry` for a new `key`; for a key already held, leaves the table as it is and
    /// returns the entry it holds. One probe either way.
    pub fn insert_new(&mut self, key: IdKey, entry: Entry) -> Result<(), Entry> {
        let i = self.find(key);
        if !self.slots[i].is_free() {
            return Err(self.slots[i].entry());
        }
        self.fill(i, key, entry);
        Ok(())
    }

    /// Sets `key`'s entry, whether or not it is held.
    pub fn insert(&mut self, key: IdKey, entry: Entry) {
        let i = self.find(key);
        if self.slots[i].is_free() {
            self.fill(i, key, entry);
        } else {
            self.slots[i] = Slot::new(key, entry);
        }
    }

    fn fill(&mut self, i: usize, key: IdKey, entry: Entry) {
        self.slots[i] = Slot::new(key, entry);
        self.len += 1;
        if self.len > self.capacity() {
            // Doubling, so that filling a table row by row moves each entry a few times at most.
            self.resize(slots_for(self.len).max(self.slots.len() * 2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_what_it_holds_across_growth() {
        let mut index = IdIndex::default();
        let entry = |i: u32| Entry::new(u64::from(i) * 7, i);
        for i in 0..100_000u32 {
            assert_eq!(index.insert_new(id_key(&i.to_string()), entry(i)), Ok(()));
        }
        assert_eq!(index.len(), 100_000);
        assert!(index.capacity() >= 100_000);
        for i in 0..100_000u32 {
            let key = id_key(&i.to_string());
            index.prefetch(key);
            assert_eq!(index.get(&key), Some(entry(i)));
            // A second insert of the same id keeps the first entry and hands it back.
            assert_eq!(index.insert_new(key, entry(i + 1)), Err(entry(i)));
        }
        assert!(!index.contains_key(&id_key("100000")));
        index.insert(id_key("5"), entry(99));
        assert_eq!(index.get(&id_key("5")), Some(entry(99)));
        assert_eq!(index.len(), 100_000);
        index.reserve(1_000_000);
        assert_eq!(index.get(&id_key("5")), Some(entry(99)));
        assert_eq!(index.get(&id_key("77")), Some(entry(77)));
    }

    #[test]
    fn a_slot_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 24);
    }

    #[test]
    fn probes_wrap_around_the_end_of_the_table() {
        let mut index = IdIndex::with_capacity(20);
        let n = index.slots.len();
        // Keys whose first slot is the last one: the second and third go round to the start.
        let keys: Vec<IdKey> = (0..)
            .map(|i: u64| id_key(&i.to_string()))
            .filter(|k| index.home(*k) == n - 1)
            .take(3)
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.insert_new(*k, Entry::new(0, i as u32)), Ok(()));
        }
        assert_eq!(index.find(keys[2]), 1);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(Entry::new(0, i as u32)));
        }
    }
}
