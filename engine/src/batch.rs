//! A minibatch in the form the model consumes: per group, the ids of every sample as CSR.

use crate::error::{Error, Result};
use crate::hash::EmbeddingId;
use crate::input::criteo::Record;
use crate::schema::Schema;

/// The ids of one group for all samples of a batch: sample `i` owns
/// `ids[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupIds {
    /// `len + 1` offsets into `ids`, starting at 0 and non-decreasing.
    pub offsets: Vec<u32>,
    /// The ids, sample after sample.
    pub ids: Vec<EmbeddingId>,
}

impl GroupIds {
    /// The ids of sample `i`.
    pub fn sample(&self, i: usize) -> &[EmbeddingId] {
        &self.ids[self.offsets[i] as usize..self.offsets[i + 1] as usize]
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
    /// Builds a batch from parsed Criteo records, routing each categorical column to its
    /// group as the schema says. Labels are taken when every record has one.
    pub fn from_records(
        schema: &Schema,
        column_groups: &[Option<usize>],
        records: &[Record],
    ) -> Self {
        let mut groups = vec![GroupIds { offsets: vec![0], ids: Vec::new() }; schema.groups.len()];
        let mut dense = Vec::with_capacity(records.len() * schema.dense_width());
        let mut labels = Vec::with_capacity(records.len());
        for record in records {
            dense.extend_from_slice(&record.dense);
            if let Some(label) = record.label {
                labels.push(label);
            }
            for (column, id) in record.categorical.iter().enumerate() {
                if let (Some(id), Some(Some(g))) = (id, column_groups.get(column)) {
                    groups[*g].ids.push(*id);
                }
            }
            for group in &mut groups {
                group.offsets.push(group.ids.len() as u32);
            }
        }
        if labels.len() != records.len() {
            labels.clear();
        }
        Batch { len: records.len(), labels, dense, groups }
    }

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
        }
        Ok(())
    }
}
