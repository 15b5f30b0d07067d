//! The id index: one small entry per distinct row id, to find duplicates and conflicts.
//!
//! Keys are 128-bit hashes of the id text (a collision among 10^12 ids has odds near 10^-15), and
//! values say which staged row holds the id. About 40 bytes per distinct id.

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
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub fn id_key(id: &str) -> u128 {
    xxh3_128(id.as_bytes())
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

pub type IdIndex = HashMap<u128, Entry, BuildHasherDefault<KeyHasher>>;
