//! Counters of what the engine did, readable at any time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters, updated with relaxed atomics.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) cache_hits: AtomicU64,
    pub(crate) cache_misses: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) rows_read: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) rows_written: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    pub(crate) rows_created: AtomicU64,
    pub(crate) not_admitted: AtomicU64,
    pub(crate) train_steps: AtomicU64,
    pub(crate) samples_trained: AtomicU64,
    pub(crate) store_wait_ns: AtomicU64,
    pub(crate) read_ns: AtomicU64,
    pub(crate) prefetch_ns: AtomicU64,
    pub(crate) prefetches: AtomicU64,
    pub(crate) train_wait_ns: AtomicU64,
    pub(crate) presence_skips: AtomicU64,
}

/// Adds `n` to `counter`.
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    /// A plain copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            cache_hits: get(&self.cache_hits),
            cache_misses: get(&self.cache_misses),
            evictions: get(&self.evictions),
            rows_read: get(&self.rows_read),
            bytes_read: get(&self.bytes_read),
            rows_written: get(&self.rows_written),
            bytes_written: get(&self.bytes_written),
            rows_created: get(&self.rows_created),
            not_admitted: get(&self.not_admitted),
            train_steps: get(&self.train_steps),
            samples_trained: get(&self.samples_trained),
            store_wait_ns: get(&self.store_wait_ns),
            read_ns: get(&self.read_ns),
            prefetch_ns: get(&self.prefetch_ns),
            prefetches: get(&self.prefetches),
            train_wait_ns: get(&self.train_wait_ns),
            presence_skips: get(&self.presence_skips),
        }
    }
}

/// A copy of the engine's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Row lookups served by the RAM tier.
    pub cache_hits: u64,
    /// Row lookups that had to go to the store (or found a never-trained id).
    pub cache_misses: u64,
    /// Rows evicted from the RAM tier.
    pub evictions: u64,
    /// Rows found in the store.
    pub rows_read: u64,
    /// Bytes of row records read from the store.
    pub bytes_read: u64,
    /// Rows written to the store (write-back and checkpoints).
    pub rows_written: u64,
    /// Bytes of row records written to the store.
    pub bytes_written: u64,
    /// Rows created by lazy initialisation (first admitted training sighting).
    pub rows_created: u64,
    /// Sightings of ids kept out by feature admission (read as zero, no row created).
    pub not_admitted: u64,
    /// Train steps (batches) applied.
    pub train_steps: u64,
    /// Samples trained on.
    pub samples_trained: u64,
    /// Nanoseconds spent waiting on store reads and writes.
    pub store_wait_ns: u64,
    /// Nanoseconds spent reading missed rows from the store (part of `store_wait_ns`; on the
    /// trainer's and the prefetcher's threads alike).
    pub read_ns: u64,
    /// Nanoseconds spent prefetching (on the prefetch thread).
    pub prefetch_ns: u64,
    /// Batches prefetched.
    pub prefetches: u64,
    /// Nanoseconds the trainer spent getting its rows (cache, store reads, write-back).
    pub train_wait_ns: u64,
    /// Missed rows the presence filter showed were never stored, so no store lookup was made.
    pub presence_skips: u64,
}

impl StatsSnapshot {
    /// Hits over lookups, or 0 when there were none.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.cache_hits + self.cache_misses;
        if lookups == 0 {
            0.0
        } else {
            self.cache_hits as f64 / lookups as f64
        }
    }

    /// The counters accumulated since `earlier`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            cache_hits: self.cache_hits - earlier.cache_hits,
            cache_misses: self.cache_misses - earlier.cache_misses,
            evictions: self.evictions - earlier.evictions,
            rows_read: self.rows_read - earlier.rows_read,
            bytes_read: self.bytes_read - earlier.bytes_read,
            rows_written: self.rows_written - earlier.rows_written,
            bytes_written: self.bytes_written - earlier.bytes_written,
            rows_created: self.rows_created - earlier.rows_created,
            not_admitted: self.not_admitted - earlier.not_admitted,
            train_steps: self.train_steps - earlier.train_steps,
            samples_trained: self.samples_trained - earlier.samples_trained,
            store_wait_ns: self.store_wait_ns - earlier.store_wait_ns,
            read_ns: self.read_ns - earlier.read_ns,
            prefetch_ns: self.prefetch_ns - earlier.prefetch_ns,
            prefetches: self.prefetches - earlier.prefetches,
            train_wait_ns: self.train_wait_ns - earlier.train_wait_ns,
            presence_skips: self.presence_skips - earlier.presence_skips,
        }
    }
}
