//! The suppression list: customers who asked to be forgotten, known only by a salted hash of
//! their id, so that the list itself holds no plain id.
//!
//! ```
//! use tessera_core::suppress::Suppression;
//!
//! let salt = b"a project's random salt".to_vec();
//! let hash = Suppression::hash_with(&salt, "C042");
//! let list = Suppression::new(salt, [hash]);
//! assert!(list.contains("C042"));
//! assert!(!list.contains("C043"));
//! ```

use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// SHA-256 of the salt followed by the id's UTF-8 bytes.
pub type IdHash = [u8; 32];

#[derive(Debug, Clone, Default)]
pub struct Suppression {
    salt: Vec<u8>,
    hashes: HashSet<IdHash>,
}

impl Suppression {
    pub fn new(salt: Vec<u8>, hashes: impl IntoIterator<Item = IdHash>) -> Self {
        Self {
            salt,
            hashes: hashes.into_iter().collect(),
        }
    }

    /// The salted hash of an id under `salt`.
    pub fn hash_with(salt: &[u8], id: &str) -> IdHash {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(id.as_bytes());
        h.finalize().into()
    }

    /// The salted hash of an id under this list's salt.
    pub fn hash(&self, id: &str) -> IdHash {
        Self::hash_with(&self.salt, id)
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the customer with this id is suppressed. Costs one SHA-256 of the id unless the
    /// list is empty.
    pub fn contains(&self, id: &str) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&self.hash(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_of_salt_then_id() {
        // Reference: `printf 'saltC1' | sha256sum`.
        let h = Suppression::hash_with(b"salt", "C1");
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "63eedecb06f6d8a849184af083900e665d337b480ce6a057110d838335e339ec"
        );
    }

    #[test]
    fn salt_changes_the_hash() {
        assert_ne!(
            Suppression::hash_with(b"a", "C1"),
            Suppression::hash_with(b"b", "C1")
        );
        let empty = Suppression::default();
        assert!(empty.is_empty() && !empty.contains("C1"));
    }
}
