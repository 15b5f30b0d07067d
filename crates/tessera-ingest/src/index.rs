//! The id index: one small entry per distinct row id, to find duplicates and conflicts.
//!
//! Keys are 128-bit hashes of the id text (a collision among 10^12 ids has odds near 10^-15), and
//! values say which staged row holds the id. 40 bytes per slot, 1.4 to 2.9 slots per distinct id.

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

/// A 128-bit hash of an id, as two words so that an index entry needs no 16-byte alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdKey([u64; 2]);

impl std::hash::Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
    }
}

pub fn id_key(id: &str) -> IdKey {
    let h = xxh3_128(id.as_bytes());
    // The all-zero key marks a free slot of the index.
    IdKey([h as u64, ((h >> 64) as u64).max(u64::from(h == 0))])
}

/// Where a row with a given id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Hash of the row's checked values.
    pub content: u64,
    /// Position of the row in the staged table, or a state below.
    pub ordinal: u64,
    /// File index (high 16 bits) and line (low 48 bits).
    pub at: u64,
}

impl Entry {
    /// The id was withdrawn because rows with it conflict.
    pub const CONFLICTED: u64 = u64::MAX;

    pub fn new(content: u64, ordinal: u64, file: usize, line: u64) -> Self {
        Self {
            content,
            ordinal,
            at: ((file as u64) << 48) | (line & ((1 << 48) - 1)),
        }
    }

    pub fn file(&self) -> usize {
        (self.at >> 48) as usize
    }

    pub fn line(&self) -> u64 {
        self.at & ((1 << 48) - 1)
    }

    pub fn is_live(&self) -> bool {
        self.ordinal != Self::CONFLICTED
    }
}

/// Ids to entries: an open-addressing table with linear probing, in memory backed by huge pages.
///
/// The table is probed at random once per row and is far larger than the caches, so a probe
/// costs a memory access; with 4 KiB pages it would miss the TLB as well. Readers therefore call
/// [`IdIndex::prefetch`] some rows ahead, so that the slot is in cache when the row gets there and
/// the misses of consecutive rows overlap instead of following one another.
pub struct IdIndex {
    slots: Slots,
    mask: usize,
    len: usize,
}

type Slots = allocator_api2::vec::Vec<Slot, HugePages>;

#[derive(Clone, Copy)]
struct Slot {
    /// `EMPTY` for a free slot; [`id_key`] never gives it.
    key: IdKey,
    entry: Entry,
}

const EMPTY: IdKey = IdKey([0, 0]);

/// Occupied slots at most this share of the table (7/10), which keeps linear probes short.
fn slots_for(entries: usize) -> usize {
    (entries.saturating_mul(10) / 7 + 1)
        .next_power_of_two()
        .max(16)
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
            mask: n - 1,
            len: 0,
        }
    }

    /// [`Self::with_capacity`] with every page of the table already backed by memory.
    ///
    /// The kernel zeroes a page when it is first written, and for a table of tens of millions of
    /// slots that costs seconds if it happens one probe at a time on the thread reading the rows.
    /// Here the pages are touched up front, by one thread per core, while the table is not yet
    /// in use (ingest does it while the customers are read).
    pub fn prefaulted(entries: usize) -> Self {
        let mut index = Self::with_capacity(entries);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let per_page = (4096 / std::mem::size_of::<Slot>()).max(1);
        let chunk = index.slots.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for part in index.slots.chunks_mut(chunk) {
                scope.spawn(move || {
                    for slot in part.iter_mut().step_by(per_page) {
                        // A free slot stays free; the write only makes the page resident.
                        // SAFETY: `slot` is a valid, exclusive reference.
                        unsafe { std::ptr::write_volatile(&mut slot.key, EMPTY) };
                    }
                });
            }
        });
        index
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Entries the table holds before it grows.
    pub fn capacity(&self) -> usize {
        self.slots.len() * 7 / 10
    }

    /// Makes room for `more` entries beyond those held.
    pub fn reserve(&mut self, more: usize) {
        let want = self.len.saturating_add(more);
        if want <= self.capacity() {
            return;
        }
        let n = slots_for(want);
        let old = std::mem::replace(&mut self.slots, empty_slots(n));
        self.mask = n - 1;
        for s in old.iter().filter(|s| s.key != EMPTY) {
            let i = self.find(s.key);
            self.slots[i] = *s;
        }
    }

    /// The slot holding `key`, or the free slot where it would go.
    #[inline]
    fn find(&self, key: IdKey) -> usize {
        let mut i = key.0[0] as usize & self.mask;
        loop {
            let k = self.slots[i].key;
            if k == key || k == EMPTY {
                return i;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Asks the processor to bring `key`'s slot into cache, for a lookup a little later.
    #[inline]
    pub fn prefetch(&self, key: IdKey) {
        let slot = &self.slots[key.0[0] as usize & self.mask];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is only a hint and never faults; the address is a live slot.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    pub fn get(&self, key: &IdKey) -> Option<&Entry> {
        let s = &self.slots[self.find(*key)];
        (s.key != EMPTY).then_some(&s.entry)
    }

    pub fn contains_key(&self, key: &IdKey) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `entry` for a new `key`; for a key already held, leaves the table as it is and
    /// returns the entry it holds. One probe either way.
    pub fn insert_new(&mut self, key: IdKey, entry: Entry) -> Result<(), Entry> {
        let i = self.find(key);
        if self.slots[i].key == key {
            return Err(self.slots[i].entry);
        }
        self.fill(i, key, entry);
        Ok(())
    }

    /// Sets `key`'s entry, whether or not it is held.
    pub fn insert(&mut self, key: IdKey, entry: Entry) {
        let i = self.find(key);
        if self.slots[i].key == key {
            self.slots[i].entry = entry;
        } else {
            self.fill(i, key, entry);
        }
    }

    fn fill(&mut self, i: usize, key: IdKey, entry: Entry) {
        self.slots[i] = Slot { key, entry };
        self.len += 1;
        if self.len > self.capacity() {
            self.reserve(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_what_it_holds_across_growth() {
        let mut index = IdIndex::default();
        let entry = |i: u64| Entry::new(i * 7, i, 0, i + 1);
        for i in 0..100_000u64 {
            assert_eq!(index.insert_new(id_key(&i.to_string()), entry(i)), Ok(()));
        }
        assert_eq!(index.len(), 100_000);
        assert!(index.capacity() >= 100_000);
        for i in 0..100_000u64 {
            let key = id_key(&i.to_string());
            index.prefetch(key);
            assert_eq!(index.get(&key), Some(&entry(i)));
            // A second insert of the same id keeps the first entry and hands it back.
            assert_eq!(index.insert_new(key, entry(i + 1)), Err(entry(i)));
        }
        assert!(!index.contains_key(&id_key("100000")));
        index.insert(id_key("5"), entry(99));
        assert_eq!(index.get(&id_key("5")), Some(&entry(99)));
        assert_eq!(index.len(), 100_000);
        index.reserve(1_000_000);
        assert_eq!(index.get(&id_key("5")), Some(&entry(99)));
        assert_eq!(index.get(&id_key("77")), Some(&entry(77)));
    }

    #[test]
    fn a_prefaulted_index_starts_empty() {
        let mut index = IdIndex::prefaulted(300_000);
        assert!(index.capacity() >= 300_000);
        assert!(!index.contains_key(&id_key("1")));
        assert_eq!(
            index.insert_new(id_key("1"), Entry::new(1, 0, 0, 2)),
            Ok(())
        );
        assert_eq!(index.len(), 1);
    }
}
