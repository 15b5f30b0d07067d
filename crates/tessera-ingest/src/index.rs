//! The id index: one small entry per distinct row id, to find duplicates and conflicts.
//!
//! Keys are 128-bit hashes of the id text (a collision among 10^12 ids has odds near 10^-15), and
//! values say which staged row holds the id. 40 bytes per slot, about 1.5 slots per distinct id.

use crate::huge::HugePages;
use hashbrown::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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
    IdKey([h as u64, (h >> 64) as u64])
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

/// Ids to entries, in memory backed by huge pages: the index is probed at random once per row, and
/// with 4 KiB pages nearly every probe of a large index also misses the TLB.
pub type IdIndex = HashMap<IdKey, Entry, BuildHasherDefault<KeyHasher>, HugePages>;
