//! Feature hashing: (field, raw value) to a 64-bit [`EmbeddingId`].
//!
//! The hash is field-aware: the field name seeds the hash of the raw bytes, so `C1=5` and
//! `C2=5` get different ids. The rule is fixed by the on-disk format and shared with every
//! surface (CLI, crate, C ABI), so callers that hash on their own side get the same ids:
//!
//! ```text
//! field_seed = xxh3_64_with_seed(field name bytes, hash_seed)
//! id         = xxh3_64_with_seed(raw value bytes, field_seed)
//! ```

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The key of one embedding row inside its feature group.
pub type EmbeddingId = u64;

/// The per-field seed derived from the schema's hash seed and the field name.
pub fn field_seed(hash_seed: u64, field: &str) -> u64 {
    xxh3_64_with_seed(field.as_bytes(), hash_seed)
}

/// The id of a raw value in a field whose seed is `field_seed` (see [`field_seed`]).
pub fn feature_id(field_seed: u64, raw: &[u8]) -> EmbeddingId {
    xxh3_64_with_seed(raw, field_seed)
}

/// The id of `raw` in `field` under `hash_seed`; equal to `feature_id(field_seed(..), raw)`.
///
/// ```
/// let a = gwen::hash_feature(0, "C1", b"5");
/// let b = gwen::hash_feature(0, "C2", b"5");
/// assert_ne!(a, b);
/// ```
pub fn hash_feature(hash_seed: u64, field: &str, raw: &[u8]) -> EmbeddingId {
    feature_id(field_seed(hash_seed, field), raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_seeds_separate_ids() {
        assert_ne!(hash_feature(0, "C1", b"5"), hash_feature(0, "C2", b"5"));
        assert_ne!(hash_feature(0, "C1", b"5"), hash_feature(1, "C1", b"5"));
        assert_eq!(hash_feature(7, "C9", b"abc"), feature_id(field_seed(7, "C9"), b"abc"));
    }
}
