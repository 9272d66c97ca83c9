//! Which rows recent epochs touched: the rows each train step created, or each write-back
//! generation wrote to the store.
//!
//! The engine asks one question of these logs: "did an epoch after `since` touch this row?".
//! Each epoch keeps its keys in one sorted vector, 16 bytes a row, and a question costs one
//! binary search per epoch newer than `since` (a handful: prefetches and reads look back a few
//! steps or writes). A hash map of every logged row answered in one probe but held about 50
//! bytes a row and kept its largest capacity for good: 26 MiB at 20 million rows, outside the
//! cache budget (docs/bench.md).

use std::collections::VecDeque;

use crate::hash::EmbeddingId;

/// A row: (group index, id).
pub(crate) type RowKey = (u32, EmbeddingId);

/// The rows touched by each of the recent epochs, oldest epoch first.
#[derive(Debug, Default)]
pub(crate) struct KeyLog {
    /// Every row touched by an epoch above this one is in the log.
    complete_after: u64,
    /// (epoch, its rows); every epoch's rows are sorted except maybe the newest's.
    epochs: VecDeque<(u64, Vec<RowKey>)>,
    /// Whether the newest epoch's rows are sorted.
    sorted: bool,
    /// Rows in all epochs.
    rows: usize,
}

impl KeyLog {
    /// Records that `epoch` (no older than any epoch recorded) touched `key`.
    pub(crate) fn push(&mut self, epoch: u64, key: RowKey) {
        match self.epochs.back_mut() {
            Some((e, keys)) if *e == epoch => {
                self.sorted = self.sorted && keys.last().is_none_or(|last| *last < key);
                keys.push(key);
            }
            _ => {
                self.seal();
                self.epochs.push_back((epoch, vec![key]));
                self.sorted = true;
            }
        }
        self.rows += 1;
    }

    /// Records that `epoch` (newer than any epoch recorded) touched the rows `keys` (sorted
    /// here unless they come sorted, so a caller can sort them outside its locks).
    pub(crate) fn push_epoch(&mut self, epoch: u64, mut keys: Vec<RowKey>) {
        self.seal();
        if !keys.is_sorted() {
            keys.sort_unstable();
        }
        self.rows += keys.len();
        self.epochs.push_back((epoch, keys));
        self.sorted = true;
    }

    /// Sorts the newest epoch's rows, so [`KeyLog::touched_after`] can search them.
    pub(crate) fn seal(&mut self) {
        if !self.sorted {
            if let Some((_, keys)) = self.epochs.back_mut() {
                keys.sort_unstable();
            }
            self.sorted = true;
        }
    }

    /// Forgets the oldest epochs while there are more than `max_epochs`, or more than
    /// `max_rows` rows in more than one epoch (the newest epoch is always kept whole).
    pub(crate) fn trim(&mut self, max_epochs: usize, max_rows: usize) {
        while self.epochs.len() > max_epochs || (self.rows > max_rows && self.epochs.len() > 1) {
            let Some((epoch, keys)) = self.epochs.pop_front() else { break };
            self.rows -= keys.len();
            self.complete_after = self.complete_after.max(epoch);
        }
    }

    /// Forgets every row: epochs up to `epoch` are no longer known row by row.
    pub(crate) fn reset(&mut self, epoch: u64) {
        self.epochs.clear();
        self.rows = 0;
        self.sorted = true;
        self.complete_after = self.complete_after.max(epoch);
    }

    /// Whether the log knows every row touched after epoch `since`.
    pub(crate) fn covers(&self, since: u64) -> bool {
        since >= self.complete_after
    }

    /// Whether an epoch after `since` touched `key` (meaningful when [`KeyLog::covers`]).
    /// The log must be sealed since the last push.
    pub(crate) fn touched_after(&self, key: RowKey, since: u64) -> bool {
        debug_assert!(self.sorted, "a key log is searched unsealed");
        self.epochs
            .iter()
            .rev()
            .take_while(|(epoch, _)| *epoch > since)
            .any(|(_, keys)| keys.binary_search(&key).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_for_the_epochs_after_since_only() {
        let mut log = KeyLog::default();
        log.push(3, (0, 7));
        log.push(3, (1, 2));
        log.push(5, (0, 9));
        log.push(5, (0, 1));
        log.seal();
        assert!(log.covers(0));
        assert!(log.touched_after((0, 7), 2));
        assert!(!log.touched_after((0, 7), 3));
        assert!(log.touched_after((0, 1), 4));
        assert!(!log.touched_after((1, 7), 0));
        assert!(!log.touched_after((0, 9), 5));
    }

    #[test]
    fn an_epoch_pushed_out_of_order_is_sorted_before_a_search() {
        let mut log = KeyLog::default();
        for id in [50u64, 3, 40, 1, 9, 2] {
            log.push(1, (0, id));
        }
        log.seal();
        for id in [50u64, 3, 40, 1, 9, 2] {
            assert!(log.touched_after((0, id), 0), "id {id}");
        }
        // A later epoch seals the earlier one on its own.
        log.push_epoch(2, vec![(1, 5), (0, 4)]);
        assert!(log.touched_after((0, 3), 0));
        assert!(log.touched_after((0, 4), 1));
        assert!(log.touched_after((1, 5), 1));
    }

    #[test]
    fn trimming_moves_the_horizon_and_keeps_the_newest_epoch() {
        let mut log = KeyLog::default();
        for epoch in 1..=10u64 {
            log.push_epoch(epoch, (0..100).map(|i| (0, epoch * 1000 + i)).collect());
        }
        log.trim(4, usize::MAX);
        assert!(!log.covers(5));
        assert!(log.covers(6));
        assert!(log.touched_after((0, 7005), 6));
        log.trim(usize::MAX, 150);
        assert!(log.covers(9) && !log.covers(8));
        log.trim(usize::MAX, 10);
        assert!(log.touched_after((0, 10_099), 9), "the newest epoch stays whole");
        assert_eq!(log.rows, 100);
        log.reset(12);
        assert!(!log.covers(11) && log.covers(12));
        assert!(!log.touched_after((0, 10_099), 0));
    }
}
