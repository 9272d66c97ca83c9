//! The RAM tier: an LRU cache of rows in front of the store, bounded by a byte budget.
//!
//! Rows of each group live in a slab of fixed-size chunks of `f32` (weights then optimizer
//! state); a node per cached row carries its id, slot, header, pin count and dirty flag, linked
//! into one LRU list across all groups. Pinned rows (those of a batch in flight) are never
//! evicted; evicted dirty rows are encoded into a write-back buffer that the owner writes to the
//! store in large batches. Until a buffered row has reached the store, lookups that miss the
//! cache find it in the buffer ([`LruCache::waiting`]), so a store read never sees an older
//! copy of a row the cache let go. The buffer's bytes count against the budget.
//!
//! Memory follows the budget: the charge per row covers its values, its node, its map entry at
//! the map's worst load and its free-list entries; the node array is reserved for the most rows
//! the budget can hold (address space only, until rows use it) and slabs grow a chunk at a time,
//! so neither doubles past what the budget charges.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::hash::EmbeddingId;
use crate::stats::{bump, Stats};
use crate::store::record::{encode_row, RowHeader, ROW_HEADER_BYTES};
use crate::store::WriteSet;

/// Bytes charged per cached row on top of its values: the node, the id map entry at its worst
/// load (a hash map of 16-byte entries plus a control byte, just after it doubled: about 39
/// bytes) and the row's free-list entries (node and slot).
pub const ENTRY_OVERHEAD_BYTES: usize = std::mem::size_of::<Node>() + MAP_ENTRY_BYTES + 8;

/// Worst-case bytes of one id map entry (see [`ENTRY_OVERHEAD_BYTES`]).
const MAP_ENTRY_BYTES: usize = 40;

/// Rows per slab chunk: the unused tail of a group's last chunk is the only slab slack.
const CHUNK_ROWS: usize = 1024;

/// Node arrays are reserved up front for at most this many rows (larger caches grow theirs).
const MAX_RESERVED_NODES: usize = 1 << 24;

const NIL: u32 = u32::MAX;

/// Ids are already uniform hashes, so the maps keyed by them use them almost as they are.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

/// Builds [`IdHasher`]s: the hasher of every engine map keyed by ids or (group, id) pairs.
pub(crate) type IdBuildHasher = BuildHasherDefault<IdHasher>;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        // The group of a (group, id) key.
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, id: u64) {
        // One multiply spreads ids that came from a bucketed hash (low entropy) too.
        self.0 = (self.0 ^ id).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
}

type IdMap = HashMap<EmbeddingId, u32, IdBuildHasher>;

/// Where a cached row sits: its node index. Valid until the row is evicted.
pub type Slot = u32;

#[derive(Debug, Clone)]
struct Node {
    id: EmbeddingId,
    group: u32,
    slot: u32,
    prev: u32,
    next: u32,
    pins: u32,
    dirty: bool,
    header: RowHeader,
}

#[derive(Debug, Default)]
struct Slab {
    floats: usize,
    optimizer_tag: u8,
    /// Chunks of `CHUNK_ROWS * floats` values; slot `s` lives in chunk `s / CHUNK_ROWS`.
    chunks: Vec<Vec<f32>>,
    /// Slots handed out so far (free ones included).
    slots: usize,
    free: Vec<u32>,
}

impl Slab {
    fn row(&self, slot: u32) -> &[f32] {
        let (chunk, at) = self.place(slot);
        &self.chunks[chunk][at..at + self.floats]
    }

    fn row_mut(&mut self, slot: u32) -> &mut [f32] {
        let (chunk, at) = self.place(slot);
        let floats = self.floats;
        &mut self.chunks[chunk][at..at + floats]
    }

    fn place(&self, slot: u32) -> (usize, usize) {
        let slot = slot as usize;
        (slot / CHUNK_ROWS, (slot % CHUNK_ROWS) * self.floats)
    }

    /// A free slot, or a new one (adding a chunk when the last is full).
    fn take_slot(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        if self.slots == self.chunks.len() * CHUNK_ROWS {
            self.chunks.push(vec![0.0; CHUNK_ROWS * self.floats]);
        }
        self.slots += 1;
        (self.slots - 1) as u32
    }
}

/// The LRU RAM tier. Not thread-safe on its own; the engine serialises access.
#[derive(Debug)]
pub struct LruCache {
    budget_bytes: usize,
    used_bytes: usize,
    maps: Vec<IdMap>,
    slabs: Vec<Slab>,
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    head: u32,
    tail: u32,
    /// Rows evicted dirty, waiting to be written.
    pending: WriteBack,
    /// Rows taken from `pending` by a store write that has not finished yet.
    in_flight: Option<(Arc<WriteSet>, RecordIndex)>,
    overflow_warned: bool,
}

/// Where the newest record of each buffered row sits in its [`WriteSet`].
type RecordIndex = HashMap<(u32, EmbeddingId), usize, IdBuildHasher>;

/// Encoded rows waiting to be written. A row evicted twice has two records; the index points at
/// the newer, and a row taken back into the cache leaves the index: records the index does not
/// point at are never written.
#[derive(Debug, Default)]
struct WriteBack {
    set: WriteSet,
    index: RecordIndex,
}

impl WriteBack {
    /// The records the index points at: the newest of each row not taken back.
    fn live_rows(&self) -> impl Iterator<Item = (usize, EmbeddingId, &[u8])> {
        self.set
            .rows()
            .enumerate()
            .filter(|(i, (g, id, _))| self.index.get(&(*g as u32, *id)) == Some(i))
            .map(|(_, row)| row)
    }
}

impl LruCache {
    /// A cache for groups whose rows hold `floats[g]` values (weights plus optimizer state)
    /// tagged `optimizer_tags[g]` on disk, within `budget_bytes`.
    pub fn new(budget_bytes: usize, floats: &[usize], optimizer_tags: &[u8]) -> Self {
        let slabs = floats
            .iter()
            .zip(optimizer_tags)
            .map(|(&floats, &optimizer_tag)| Slab { floats, optimizer_tag, ..Slab::default() })
            .collect();
        // Reserving address space for every row the budget can hold keeps the node array from
        // doubling past it; pages are only resident once rows use them.
        let smallest = floats.iter().map(|f| ROW_HEADER_BYTES + 4 * f).min().unwrap_or(0);
        let reserved = (budget_bytes / (smallest + ENTRY_OVERHEAD_BYTES)).min(MAX_RESERVED_NODES);
        LruCache {
            budget_bytes,
            used_bytes: 0,
            maps: vec![IdMap::default(); floats.len()],
            slabs,
            nodes: Vec::with_capacity(reserved),
            free_nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            pending: WriteBack::default(),
            in_flight: None,
            overflow_warned: false,
        }
    }

    /// Bytes charged for one row of `group`.
    pub fn entry_bytes(&self, group: usize) -> usize {
        ROW_HEADER_BYTES + 4 * self.slabs[group].floats + ENTRY_OVERHEAD_BYTES
    }

    /// Bytes currently charged.
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }

    /// The budget in bytes.
    #[cfg(test)]
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// Bytes the cache's structures hold on the heap (capacities, not lengths; the write-back
    /// buffer's records by length): what the budget is meant to bound. Reserved node capacity
    /// counts only as far as nodes were used, since unused pages are never touched.
    pub fn heap_bytes(&self) -> usize {
        let nodes = self.nodes.len() * std::mem::size_of::<Node>() + self.free_nodes.capacity() * 4;
        let slabs: usize = self
            .slabs
            .iter()
            .map(|s| s.chunks.len() * CHUNK_ROWS * s.floats * 4 + s.free.capacity() * 4)
            .sum();
        // hashbrown: buckets are a power of two holding 7/8 of them; 16 bytes plus a control
        // byte each.
        let maps: usize = self
            .maps
            .iter()
            .map(|m| {
                if m.capacity() == 0 {
                    0
                } else {
                    (m.capacity() * 8 / 7).next_power_of_two() * 17
                }
            })
            .sum();
        nodes + slabs + maps + self.buffered_bytes()
    }

    /// Number of cached rows.
    pub fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }

    /// True when no row is cached.
    #[expect(dead_code, reason = "not used by the engine yet")]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks up a row and marks it most recently used.
    pub fn get(&mut self, group: usize, id: EmbeddingId) -> Option<Slot> {
        let node = *self.maps[group].get(&id)?;
        self.unlink(node);
        self.push_front(node);
        Some(node)
    }

    /// True when the row is cached (does not change recency).
    #[cfg(test)]
    pub fn contains(&self, group: usize, id: EmbeddingId) -> bool {
        self.maps[group].contains_key(&id)
    }

    /// Inserts a row that is not cached yet, as most recently used, and evicts down to the
    /// budget (never a pinned row). Returns its slot.
    pub fn insert(
        &mut self,
        group: usize,
        id: EmbeddingId,
        header: RowHeader,
        values: &[f32],
        dirty: bool,
        stats: &Stats,
    ) -> Slot {
        debug_assert!(!self.maps[group].contains_key(&id), "insert of a cached row");
        self.evict_until_fits(self.entry_bytes(group), stats);
        let slab = &mut self.slabs[group];
        let slot = slab.take_slot();
        slab.row_mut(slot).copy_from_slice(values);
        let node =
            Node { id, group: group as u32, slot, prev: NIL, next: NIL, pins: 0, dirty, header };
        let index = match self.free_nodes.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.push_front(index);
        self.maps[group].insert(id, index);
        self.used_bytes += self.entry_bytes(group);
        index
    }

    /// The values (weights then optimizer state) of a cached row.
    pub fn values(&self, slot: Slot) -> &[f32] {
        let node = &self.nodes[slot as usize];
        self.slabs[node.group as usize].row(node.slot)
    }

    /// Overwrites a cached row after an update and marks it dirty.
    pub fn update(&mut self, slot: Slot, values: &[f32], header: RowHeader) {
        let node = &mut self.nodes[slot as usize];
        node.dirty = true;
        node.header = header;
        let slot = node.slot;
        self.slabs[node.group as usize].row_mut(slot).copy_from_slice(values);
    }

    /// The header of a cached row.
    pub fn header(&self, slot: Slot) -> RowHeader {
        self.nodes[slot as usize].header
    }

    /// Pins a row: it cannot be evicted until unpinned as many times.
    pub fn pin(&mut self, slot: Slot) {
        self.nodes[slot as usize].pins += 1;
    }

    /// Releases one pin.
    pub fn unpin(&mut self, slot: Slot) {
        let node = &mut self.nodes[slot as usize];
        debug_assert!(node.pins > 0, "unpin of an unpinned row");
        node.pins = node.pins.saturating_sub(1);
    }

    /// Drops a row from the cache without writing it back (its store copy is being replaced).
    /// Does nothing for a row that is not cached or is pinned.
    pub fn remove(&mut self, group: usize, id: EmbeddingId) {
        let Some(&index) = self.maps[group].get(&id) else { return };
        if self.nodes[index as usize].pins > 0 {
            return;
        }
        self.nodes[index as usize].dirty = false;
        self.evict(index);
    }

    /// Evicts unpinned rows, least recently used first, while over budget.
    pub fn evict_to_budget(&mut self, stats: &Stats) {
        self.evict_until_fits(0, stats);
    }

    /// Takes the rows waiting to be written, for one store write; until
    /// [`LruCache::finish_write`], lookups still find them ([`LruCache::waiting`]). At most
    /// one write may be in flight.
    pub fn take_pending(&mut self) -> Arc<WriteSet> {
        debug_assert!(self.in_flight.is_none(), "two write-backs in flight");
        let (rows, bytes) = (self.pending.index.len(), self.pending.set.row_bytes());
        // Sized once: buffers that grow by doubling leave the allocator holding their old halves.
        let fresh = WriteBack {
            set: WriteSet::with_capacity(rows, bytes),
            index: RecordIndex::with_capacity_and_hasher(rows, IdBuildHasher::default()),
        };
        let (set, index) = if rows == self.pending.set.row_count() {
            // No stale record (the usual case): the buffer goes to the write as it is.
            let taken = std::mem::replace(&mut self.pending, fresh);
            (taken.set, taken.index)
        } else {
            let WriteBack { mut set, mut index } = fresh;
            for (group, id, bytes) in self.pending.live_rows() {
                index.insert((group as u32, id), set.row_count());
                set.put_row(group, id, |buf| buf.extend_from_slice(bytes));
            }
            self.pending.set.clear();
            self.pending.index.clear();
            (set, index)
        };
        let set = Arc::new(set);
        self.in_flight = Some((Arc::clone(&set), index));
        set
    }

    /// Forgets the write taken by [`LruCache::take_pending`]: its rows are in the store.
    pub fn finish_write(&mut self) {
        self.in_flight = None;
    }

    /// The newest record of a row evicted dirty that has not reached the store yet, and
    /// whether a store write holds it already. A copy read from the store now would be older.
    pub fn waiting(&self, group: usize, id: EmbeddingId) -> Option<(&[u8], bool)> {
        let key = (group as u32, id);
        if let Some(&i) = self.pending.index.get(&key) {
            return Some((self.pending.set.row(i), false));
        }
        let (set, index) = self.in_flight.as_ref()?;
        index.get(&key).map(|&i| (set.row(i), true))
    }

    /// Drops a waiting row from the buffer, so it is not written: the caller took it back
    /// into the cache as a dirty row. A row a write holds already is left to land.
    pub fn reclaim(&mut self, group: usize, id: EmbeddingId) {
        self.pending.index.remove(&(group as u32, id));
        if self.pending.index.is_empty() {
            // Every record left is stale: free their place in the budget now.
            self.pending.set.clear();
        }
    }

    /// True when the row was evicted dirty and has not reached the store yet.
    pub fn is_pending(&self, group: usize, id: EmbeddingId) -> bool {
        self.waiting(group, id).is_some()
    }

    /// True when evicted dirty rows wait to be written.
    pub fn has_pending(&self) -> bool {
        !self.pending.index.is_empty()
    }

    /// Bytes of records waiting to be written (taken-back rows' included until the next
    /// write).
    pub fn pending_bytes(&self) -> usize {
        self.pending.set.row_bytes()
    }

    /// Bytes of the write-back buffer, waiting and in flight: charged against the budget.
    fn buffered_bytes(&self) -> usize {
        self.pending.set.row_bytes() + self.in_flight.as_ref().map_or(0, |(s, _)| s.row_bytes())
    }

    /// Encodes every dirty row (pending evictions included) into `out` and marks them clean.
    #[cfg(test)]
    pub fn drain_dirty(&mut self, out: &mut WriteSet) {
        let mut cursor = 0;
        while let Some(next) = self.drain_dirty_from(cursor, usize::MAX, out) {
            cursor = next;
        }
    }

    /// Like [`LruCache::drain_dirty`], a part at a time: encodes pending rows and dirty rows
    /// from node `cursor` on until `out` holds `max_rows` rows. Returns the cursor to continue
    /// from, or `None` when every dirty row is drained.
    pub fn drain_dirty_from(
        &mut self,
        cursor: usize,
        max_rows: usize,
        out: &mut WriteSet,
    ) -> Option<usize> {
        if cursor == 0 {
            for (g, id, bytes) in self.pending.live_rows() {
                out.put_row(g, id, |buf| buf.extend_from_slice(bytes));
            }
            self.pending.set.clear();
            self.pending.index.clear();
        }
        for index in cursor..self.nodes.len() {
            if out.row_count() >= max_rows {
                return Some(index);
            }
            let node = &self.nodes[index];
            if !node.dirty || !self.is_live(index as u32) {
                continue;
            }
            let slab = &self.slabs[node.group as usize];
            let values = slab.row(node.slot);
            out.put_row(node.group as usize, node.id, |buf| {
                encode_row(buf, slab.optimizer_tag, node.header, values)
            });
            self.nodes[index].dirty = false;
        }
        None
    }

    fn is_live(&self, index: u32) -> bool {
        let node = &self.nodes[index as usize];
        self.maps[node.group as usize].get(&node.id) == Some(&index)
    }

    fn evict_until_fits(&mut self, incoming: usize, stats: &Stats) {
        let mut cursor = self.tail;
        while self.used_bytes + self.buffered_bytes() + incoming > self.budget_bytes
            && cursor != NIL
        {
            let prev = self.nodes[cursor as usize].prev;
            if self.nodes[cursor as usize].pins == 0 {
                self.evict(cursor);
                bump(&stats.evictions, 1);
            }
            cursor = prev;
        }
        if self.used_bytes + self.buffered_bytes() + incoming > self.budget_bytes
            && !self.overflow_warned
        {
            self.overflow_warned = true;
            log::warn!(
                "cache budget {} bytes is smaller than the rows one batch needs at once; \
                 they stay resident ({} bytes used)",
                self.budget_bytes,
                self.used_bytes + incoming
            );
        }
    }

    fn evict(&mut self, index: u32) {
        self.unlink(index);
        let node = self.nodes[index as usize].clone();
        let group = node.group as usize;
        let slab = &mut self.slabs[group];
        if node.dirty {
            let values = slab.row(node.slot);
            let tag = slab.optimizer_tag;
            let at = self.pending.set.row_count();
            self.pending
                .set
                .put_row(group, node.id, |buf| encode_row(buf, tag, node.header, values));
            self.pending.index.insert((group as u32, node.id), at);
        }
        slab.free.push(node.slot);
        self.maps[group].remove(&node.id);
        self.free_nodes.push(index);
        self.used_bytes -= self.entry_bytes(group);
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next) = {
            let n = &self.nodes[index as usize];
            (n.prev, n.next)
        };
        if prev == NIL {
            if self.head == index {
                self.head = next;
            }
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            if self.tail == index {
                self.tail = prev;
            }
        } else {
            self.nodes[next as usize].prev = prev;
        }
        let n = &mut self.nodes[index as usize];
        n.prev = NIL;
        n.next = NIL;
    }

    fn push_front(&mut self, index: u32) {
        self.nodes[index as usize].next = self.head;
        self.nodes[index as usize].prev = NIL;
        if self.head != NIL {
            self.nodes[self.head as usize].prev = index;
        }
        self.head = index;
        if self.tail == NIL {
            self.tail = index;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(rows: usize) -> LruCache {
        let probe = LruCache::new(0, &[3], &[1]);
        LruCache::new(rows * probe.entry_bytes(0), &[3], &[1])
    }

    #[test]
    fn evicts_least_recently_used_first() {
        let stats = Stats::default();
        let mut c = cache(2);
        c.insert(0, 1, RowHeader::default(), &[1.0, 1.0, 1.0], false, &stats);
        c.insert(0, 2, RowHeader::default(), &[2.0, 2.0, 2.0], false, &stats);
        assert!(c.get(0, 1).is_some(), "touch 1 so 2 is the oldest");
        c.insert(0, 3, RowHeader::default(), &[3.0, 3.0, 3.0], false, &stats);
        assert!(c.contains(0, 1) && c.contains(0, 3) && !c.contains(0, 2));
        assert_eq!(c.len(), 2);
        assert!(c.used_bytes() <= c.budget_bytes());
    }

    #[test]
    fn pinned_rows_survive_and_dirty_rows_are_written_back() {
        let stats = Stats::default();
        let mut c = cache(1);
        let a = c.insert(0, 10, RowHeader::default(), &[0.5; 3], false, &stats);
        c.pin(a);
        c.update(a, &[7.0; 3], RowHeader { seen_count: 1, last_step: 4 });
        c.insert(0, 11, RowHeader::default(), &[1.0; 3], false, &stats);
        assert!(c.contains(0, 10), "pinned row stays even over budget");
        c.unpin(a);
        c.evict_to_budget(&stats);
        assert!(!c.contains(0, 10) && c.contains(0, 11) || !c.contains(0, 11));
        assert!(c.used_bytes() <= c.budget_bytes());
        let pending = c.take_pending();
        let rows: Vec<_> = pending.rows().collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, 10);
        let mut back = [0f32; 3];
        let header =
            crate::store::record::decode_row(rows[0].2, 1, &mut back, "g", 10).expect("decodes");
        assert_eq!((back, header.last_step), ([7.0; 3], 4));
    }

    #[test]
    fn heap_stays_within_the_budget_under_churn() {
        let stats = Stats::default();
        // 26 groups of dim-16 Adagrad rows, as in the Criteo schema; ~20k rows fit.
        let floats = vec![17; 26];
        let tags = vec![1; 26];
        let budget = 20_000 * (ROW_HEADER_BYTES + 68 + ENTRY_OVERHEAD_BYTES);
        let mut c = LruCache::new(budget, &floats, &tags);
        let mut worst = 0;
        for i in 0..400_000u64 {
            let group = (crate::rng::mix64(i) % 26) as usize;
            c.insert(
                group,
                crate::rng::mix64(i ^ 0xabc),
                RowHeader::default(),
                &[0.5; 17],
                true,
                &stats,
            );
            if i % 1000 == 0 {
                worst = worst.max(c.heap_bytes());
                c.take_pending();
                c.finish_write();
            }
        }
        // Chunk tails (one per group) are the only slack beyond the charge.
        let slack = 26 * CHUNK_ROWS * 17 * 4;
        assert!(c.used_bytes() <= budget);
        assert!(worst <= budget + slack, "heap {worst} over budget {budget} + slack {slack}");
    }

    #[test]
    fn evicted_rows_stay_visible_until_written() {
        let stats = Stats::default();
        let mut c = cache(1);
        let row = |c: &LruCache, id| {
            c.waiting(0, id).map(|(bytes, in_flight)| {
                let mut back = [0f32; 3];
                crate::store::record::decode_row(bytes, 1, &mut back, "g", id).expect("decodes");
                (back[0], in_flight)
            })
        };
        c.insert(0, 1, RowHeader::default(), &[1.0; 3], true, &stats);
        c.insert(0, 2, RowHeader::default(), &[2.0; 3], true, &stats);
        assert_eq!(row(&c, 1), Some((1.0, false)), "1 was evicted dirty and waits");
        c.reclaim(0, 1);
        c.insert(0, 1, RowHeader::default(), &[1.5; 3], true, &stats);
        assert_eq!(row(&c, 1), None, "taken back into the cache");
        assert_eq!(row(&c, 2), Some((2.0, false)));
        c.insert(0, 3, RowHeader::default(), &[3.0; 3], true, &stats);
        assert_eq!(row(&c, 1), Some((1.5, false)), "evicted again: the newer record");
        let set = c.take_pending();
        let written: Vec<_> = set.rows().map(|(_, id, _)| id).collect();
        assert_eq!(written, [2, 1], "one record per row: the stale one of 1 is dropped");
        assert_eq!(row(&c, 1), Some((1.5, true)), "visible while the write is in flight");
        assert!(c.is_pending(0, 2) && !c.has_pending());
        c.finish_write();
        assert!(row(&c, 1).is_none() && !c.is_pending(0, 2));
    }

    #[test]
    fn the_write_back_buffer_counts_against_the_budget() {
        let stats = Stats::default();
        let mut c = cache(4);
        for id in 0..4 {
            c.insert(0, id, RowHeader::default(), &[0.0; 3], true, &stats);
        }
        c.insert(0, 4, RowHeader::default(), &[0.0; 3], true, &stats);
        assert!(c.has_pending());
        assert!(c.used_bytes() + c.pending_bytes() <= c.budget_bytes());
        assert!(c.len() < 4, "buffered records take the place of cached rows");
    }

    #[test]
    fn drain_dirty_marks_rows_clean() {
        let stats = Stats::default();
        let mut c = cache(8);
        let s = c.insert(0, 5, RowHeader::default(), &[0.0; 3], true, &stats);
        c.insert(0, 6, RowHeader::default(), &[0.0; 3], false, &stats);
        let mut out = WriteSet::new();
        c.drain_dirty(&mut out);
        assert_eq!(out.row_count(), 1);
        let mut again = WriteSet::new();
        c.drain_dirty(&mut again);
        assert_eq!(again.row_count(), 0);
        assert_eq!(c.values(s), &[0.0; 3]);
    }
}
