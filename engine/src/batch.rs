//! A minibatch in the form the model consumes: per group, the ids of every sample as CSR.

use crate::error::{Error, Result};
use crate::hash::EmbeddingId;
use crate::schema::Schema;

/// The ids of one group for all samples of a batch: sample `i` owns
/// `ids[offsets[i]..offsets[i + 1]]`, with pooling weights `weights[offsets[i]..offsets[i + 1]]`
/// when `weights` is not empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupIds {
    /// `len + 1` offsets into `ids`, starting at 0 and non-decreasing.
    pub offsets: Vec<u32>,
    /// The ids, sample after sample.
    pub ids: Vec<EmbeddingId>,
    /// Empty (every weight is 1.0), or one finite pooling weight per id.
    pub weights: Vec<f32>,
}

impl GroupIds {
    /// The ids of sample `i`.
    pub fn sample(&self, i: usize) -> &[EmbeddingId] {
        &self.ids[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Unweighted ids from CSR offsets and ids.
    pub fn new(offsets: Vec<u32>, ids: Vec<EmbeddingId>) -> Self {
        GroupIds { offsets, ids, weights: Vec::new() }
    }

    /// The pooling weight of id occurrence `k` (1.0 when the group has no weights).
    #[inline]
    pub fn weight(&self, k: usize) -> f32 {
        self.weights.get(k).copied().unwrap_or(1.0)
    }
}

/// A minibatch: labels (for training), dense inputs and per-group ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Number of samples.
    pub len: usize,
    /// One 0/1 label per sample; empty when the batch is only predicted.
    pub labels: Vec<f32>,
    /// `len * dense_width` dense inputs, row-major, already transformed.
    pub dense: Vec<f32>,
    /// One entry per schema group, in schema order.
    pub groups: Vec<GroupIds>,
}

impl Batch {
    /// Checks shapes and values against the schema.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the first problem: a wrong number of groups or dense
    /// values, bad offsets, a non-finite dense value, a label that is not 0 or 1, or missing
    /// labels when `need_labels`.
    pub fn validate(&self, schema: &Schema, need_labels: bool) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.groups.len() != schema.groups.len() {
            return bad(format!(
                "batch has {} groups, schema {}",
                self.groups.len(),
                schema.groups.len()
            ));
        }
        if self.dense.len() != self.len * schema.dense_width() {
            return bad(format!(
                "batch of {} samples has {} dense values, expected {}",
                self.len,
                self.dense.len(),
                self.len * schema.dense_width()
            ));
        }
        if let Some(i) = self.dense.iter().position(|v| !v.is_finite()) {
            return bad(format!(
                "dense value {} of sample {} is not finite",
                i % schema.dense_width(),
                i / schema.dense_width()
            ));
        }
        if need_labels && self.labels.len() != self.len {
            return bad(format!("batch of {} samples has {} labels", self.len, self.labels.len()));
        }
        if let Some(i) = self.labels.iter().position(|&y| y != 0.0 && y != 1.0) {
            return bad(format!("labels must be 0 or 1; sample {i} has {}", self.labels[i]));
        }
        for (g, group) in self.groups.iter().enumerate() {
            let name = &schema.groups[g].name;
            let ok = group.offsets.len() == self.len + 1
                && group.offsets.first() == Some(&0)
                && group.offsets.windows(2).all(|w| w[0] <= w[1])
                && group.offsets.last().map(|&o| o as usize) == Some(group.ids.len());
            if !ok {
                return bad(format!(
                    "group {name}: offsets must be {} non-decreasing values from 0 to {}",
                    self.len + 1,
                    group.ids.len()
                ));
            }
            if !group.weights.is_empty() && group.weights.len() != group.ids.len() {
                return bad(format!(
                    "group {name}: {} weights for {} ids (give none or one per id)",
                    group.weights.len(),
                    group.ids.len()
                ));
            }
            if let Some(k) = group.weights.iter().position(|w| !w.is_finite()) {
                return bad(format!("group {name}: weight {k} is not finite"));
            }
            let mean = schema.groups[g].pooling == crate::schema::Pooling::Mean;
            if let Some(k) = group.weights.iter().position(|&w| mean && w < 0.0) {
                return bad(format!(
                    "group {name}: weight {k} is {}; mean pooling needs weights >= 0",
                    group.weights[k]
                ));
            }
        }
        Ok(())
    }
}
