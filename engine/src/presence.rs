//! A RAM filter of the rows the store may hold, so that looking up an id never trained costs
//! no store lookup.
//!
//! When the table grows throughout training, most cache misses are first sightings: ids the
//! store does not have. RocksDB answers those through the memtables and a bloom filter per
//! sorted run, a few microseconds each; this filter answers in one cache line. It is a
//! blocked bloom filter (all probes of a key fall in one 64-byte block) with a fixed size
//! taken from the RAM tier's budget, so it never grows with the table: a table larger than it
//! was sized for only raises its false-positive rate, and false positives cost what every
//! lookup cost without the filter.
//!
//! Every key goes in before its row is written to the store. The keys already stored when an
//! engine opens are added by a scan on a background thread; until that scan finishes, the
//! filter answers "maybe" for every key, so it is never wrong, only useless for a while.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::hash::EmbeddingId;
use crate::rng::mix64;

/// Bits set per key; with 10 to 12 bits per key this gives about 1% false positives.
const PROBES: u32 = 6;

/// Bits of one block (a 64-byte cache line).
const BLOCK_BITS: u64 = 512;

/// Smallest filter worth having (a smaller one would answer "maybe" almost always).
pub(crate) const MIN_FILTER_BYTES: usize = 64 << 10;

/// The RAM tier's share given to the filter by default: one eighth of the budget, which at a
/// cache holding 5% of the table gives about 12 bits per stored row.
pub(crate) const DEFAULT_SHARE_DIVISOR: usize = 8;

/// The largest filter the default share gives (about 200 million keys at 10 bits each);
/// larger tables ask for more explicitly.
pub(crate) const MAX_DEFAULT_FILTER_BYTES: usize = 256 << 20;

/// A blocked bloom filter of (group, id) keys; safe to use from many threads at once.
pub(crate) struct PresenceFilter {
    words: Vec<AtomicU64>,
    blocks: u64,
    /// Whether every stored key is in the filter (the opening scan finished).
    ready: AtomicBool,
    /// Asks the opening scan to stop (the engine is closing).
    stop: AtomicBool,
}

impl std::fmt::Debug for PresenceFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceFilter")
            .field("bytes", &self.bytes())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl PresenceFilter {
    /// A filter of at most `bytes` (rounded down to whole blocks; below
    /// [`MIN_FILTER_BYTES`], a filter that always answers "maybe"). `ready` says whether the
    /// store is known to be empty, so that nothing needs to be scanned.
    pub(crate) fn new(bytes: usize, ready: bool) -> Self {
        let blocks = PresenceFilter::usable_bytes(bytes) / 64;
        PresenceFilter {
            words: (0..blocks * 8).map(|_| AtomicU64::new(0)).collect(),
            blocks: blocks as u64,
            ready: AtomicBool::new(ready && blocks > 0),
            stop: AtomicBool::new(false),
        }
    }

    /// The bytes a filter asked for `bytes` really holds.
    pub(crate) fn usable_bytes(bytes: usize) -> usize {
        if bytes < MIN_FILTER_BYTES {
            0
        } else {
            bytes / 64 * 64
        }
    }

    /// Bytes the filter holds.
    pub(crate) fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// Whether the filter has any bits at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.blocks > 0
    }

    /// Whether a "no" from [`PresenceFilter::may_contain`] can be trusted yet.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the filter complete: every key in the store has been added.
    pub(crate) fn set_ready(&self) {
        self.ready.store(self.blocks > 0, Ordering::Release);
    }

    /// Asks a running scan to stop.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Whether a scan was asked to stop.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Adds a key. Call it before the row reaches the store.
    pub(crate) fn insert(&self, group: usize, id: EmbeddingId) {
        if self.blocks == 0 {
            return;
        }
        let (base, mut bits) = self.locate(group, id);
        for _ in 0..PROBES {
            let bit = bits % BLOCK_BITS;
            bits /= BLOCK_BITS;
            let word = &self.words[base + (bit / 64) as usize];
            word.fetch_or(1 << (bit % 64), Ordering::Release);
        }
    }

    /// False only when the store cannot hold the key: the filter is ready and lacks it.
    pub(crate) fn may_contain(&self, group: usize, id: EmbeddingId) -> bool {
        if !self.is_ready() {
            return true;
        }
        let (base, mut bits) = self.locate(group, id);
        for _ in 0..PROBES {
            let bit = bits % BLOCK_BITS;
            bits /= BLOCK_BITS;
            let word = self.words[base + (bit / 64) as usize].load(Ordering::Acquire);
            if word & (1 << (bit % 64)) == 0 {
                return false;
            }
        }
        true
    }

    /// The first word of the key's block, and the bits that choose its probes (9 per probe).
    fn locate(&self, group: usize, id: EmbeddingId) -> (usize, u64) {
        // Ids are hashes already, but the benchmark's and some users' are not: mix them with
        // the group so that equal ids of two groups land apart.
        let h = mix64(id ^ (group as u64).wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let block = ((u128::from(h) * u128::from(self.blocks)) >> 64) as usize;
        (block * 8, mix64(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_denies_a_key_it_holds() {
        let filter = PresenceFilter::new(MIN_FILTER_BYTES, true);
        for id in 0..20_000u64 {
            filter.insert((id % 3) as usize, id.wrapping_mul(0x1234_5678_9abc_def1));
        }
        for id in 0..20_000u64 {
            assert!(filter.may_contain((id % 3) as usize, id.wrapping_mul(0x1234_5678_9abc_def1)));
        }
    }

    #[test]
    fn denies_most_keys_it_does_not_hold() {
        // 64 KiB = 524,288 bits for 50,000 keys: about 10 bits per key.
        let filter = PresenceFilter::new(MIN_FILTER_BYTES, true);
        for id in 0..50_000u64 {
            filter.insert(0, id);
        }
        let false_positives = (50_000..150_000u64).filter(|&id| filter.may_contain(0, id)).count();
        assert!(false_positives < 3_000, "{false_positives} false positives in 100,000");
        // The same ids in another group are other keys.
        let other = (0..50_000u64).filter(|&id| filter.may_contain(1, id)).count();
        assert!(other < 1_500, "{other} of 50,000 ids of group 1 taken for group 0's");
    }

    #[test]
    fn says_maybe_until_ready_and_when_too_small() {
        let filter = PresenceFilter::new(MIN_FILTER_BYTES, false);
        assert!(filter.may_contain(0, 7));
        filter.set_ready();
        assert!(!filter.may_contain(0, 7));
        let tiny = PresenceFilter::new(MIN_FILTER_BYTES - 1, true);
        assert!(!tiny.is_enabled() && !tiny.is_ready());
        tiny.insert(0, 7);
        tiny.set_ready();
        assert!(tiny.may_contain(0, 8));
    }
}
