//! Feature admission: an id earns a stored row only after `min_count` sightings.
//!
//! Sightings of ids without a row are counted in a count-min sketch: `DEPTH` rows of `width`
//! saturating 16-bit counters, each id hashed once per row; the estimate is the minimum of its
//! counters. The sketch never undercounts, so an id is never kept out longer than `min_count`
//! sightings; collisions can only admit an id early. Memory is `DEPTH * width * 2` bytes
//! (8 MiB at the default width of 2^20), whatever the number of ids. Counts live in RAM only:
//! a restarted trainer counts again from zero.

use crate::hash::EmbeddingId;
use crate::rng::splitmix64;

const DEPTH: usize = 4;

/// Default counters per sketch row.
pub const DEFAULT_SKETCH_WIDTH: usize = 1 << 20;

/// A count-min sketch of sightings per (group, id).
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    min_count: u32,
    width: usize,
    counters: Vec<u16>,
}

impl Admission {
    /// A sketch admitting ids at `min_count` sightings.
    pub(crate) fn new(min_count: u32, width: usize) -> Self {
        let width = width.max(1).next_power_of_two();
        Admission { min_count, width, counters: vec![0; DEPTH * width] }
    }

    /// Bytes of RAM the sketch holds.
    pub(crate) fn bytes(&self) -> usize {
        self.counters.len() * 2
    }

    /// Counts `n` more sightings of (group, id) and says whether it now earns a row.
    pub(crate) fn sight(&mut self, group: usize, id: EmbeddingId, n: u32) -> bool {
        let mut state = id ^ (group as u64).wrapping_mul(0xA24B_AED4_963E_E407);
        let mut estimate = u32::MAX;
        for row in 0..DEPTH {
            let slot = row * self.width + (splitmix64(&mut state) as usize & (self.width - 1));
            let counter = &mut self.counters[slot];
            *counter = counter.saturating_add(n.min(u32::from(u16::MAX)) as u16);
            estimate = estimate.min(u32::from(*counter));
        }
        estimate >= self.min_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_exactly_at_min_count_without_collisions() {
        let mut a = Admission::new(3, 1 << 12);
        assert!(!a.sight(0, 42, 1));
        assert!(!a.sight(0, 42, 1));
        assert!(a.sight(0, 42, 1), "third sighting admits");
        assert!(!a.sight(1, 42, 1), "groups count apart");
        assert!(a.sight(2, 7, 3), "several sightings in one batch count at once");
        assert_eq!(a.bytes(), 4 * 4096 * 2);
    }

    #[test]
    fn never_undercounts_under_collisions() {
        let mut a = Admission::new(5, 16);
        for id in 0..1000u64 {
            for _ in 0..4 {
                a.sight(0, id, 1);
            }
            assert!(a.sight(0, id, 1), "id {id} must be admitted at its fifth sighting");
        }
    }
}
