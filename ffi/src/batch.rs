//! The C form of a batch (CSR ids per group, dense inputs, labels) and its checked copy into a
//! [`gwen::Batch`].

use gwen::{Batch, GroupIds, Schema};

use crate::args::slice;
use crate::status::FfiError;

/// The ids of one feature group for every sample of a batch, as CSR: sample `i` owns
/// `ids[offsets[i] .. offsets[i + 1]]`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GwenGroupIds {
    /// `offsets_len` offsets into `ids`: starting at 0, non-decreasing, ending at `ids_len`.
    pub offsets: *const u32,
    /// Must be the batch's `len + 1`.
    pub offsets_len: usize,
    /// The ids (from `gwen_hash_feature`), sample after sample. May be null when `ids_len` is 0.
    pub ids: *const u64,
    /// Number of ids.
    pub ids_len: usize,
    /// Null (every weight is 1.0), or one finite pooling weight per id (`ids_len` values):
    /// the group pools `sum(w * row)`, divided by `sum(w)` for mean and by `sqrt(sum(w^2))`
    /// for sqrt-n pooling.
    pub weights: *const f32,
}

/// A batch of samples. All pointers are borrowed for the duration of the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GwenBatch {
    /// Number of samples.
    pub len: usize,
    /// One entry per schema group, in schema order.
    pub groups: *const GwenGroupIds,
    /// Must equal the schema's group count.
    pub groups_len: usize,
    /// `len * dense_width` dense inputs, row-major, already transformed the way the model was
    /// trained (for Criteo: `ln(1 + max(x, 0))`, 0 when missing). Every value must be finite.
    pub dense: *const f32,
    /// Number of dense values.
    pub dense_len: usize,
    /// Training only: one label per sample, each 0 or 1. Ignored by predict (may be null).
    pub labels: *const f32,
    /// Number of labels.
    pub labels_len: usize,
}

/// Copies a C batch into an engine batch, checking every length against `len` and the
/// schema. Values (offsets order, finiteness of dense and labels) are checked by the engine.
///
/// # Safety
///
/// Every pointer in `batch`, and in each of its groups, is null or points to as many
/// initialised values as its length field says, valid for the duration of the call.
pub(crate) unsafe fn to_batch(
    batch: &GwenBatch,
    schema: &Schema,
    with_labels: bool,
) -> Result<Batch, FfiError> {
    let len = batch.len;
    if batch.groups_len != schema.groups.len() {
        return Err(FfiError::invalid(format!(
            "batch has {} groups, the schema {}",
            batch.groups_len,
            schema.groups.len()
        )));
    }
    let dense_needed = len.checked_mul(schema.dense_width());
    if dense_needed != Some(batch.dense_len) {
        return Err(FfiError::invalid(format!(
            "batch of {len} samples has {} dense values, expected {len} * {}",
            batch.dense_len,
            schema.dense_width()
        )));
    }
    // SAFETY: `groups`/`dense` hold `groups_len`/`dense_len` values (the caller's contract).
    let (groups, dense) = unsafe {
        (
            slice(batch.groups, batch.groups_len, "batch.groups")?,
            slice(batch.dense, batch.dense_len, "batch.dense")?,
        )
    };
    let labels = if with_labels {
        if batch.labels_len != len {
            return Err(FfiError::invalid(format!(
                "batch of {len} samples has {} labels",
                batch.labels_len
            )));
        }
        // SAFETY: `labels` holds `labels_len` values (the caller's contract).
        unsafe { slice(batch.labels, batch.labels_len, "batch.labels") }?.to_vec()
    } else {
        Vec::new()
    };
    let groups = groups
        .iter()
        .zip(&schema.groups)
        .map(|(group, info)| {
            // SAFETY: the pointers of each group follow the caller's contract as well.
            unsafe { to_group_ids(group, len, &info.name) }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch { len, labels, dense: dense.to_vec(), groups })
}

/// # Safety
///
/// As [`to_batch`], for one group.
unsafe fn to_group_ids(group: &GwenGroupIds, len: usize, name: &str) -> Result<GroupIds, FfiError> {
    if Some(group.offsets_len) != len.checked_add(1) {
        return Err(FfiError::invalid(format!(
            "group {name}: {} offsets for {len} samples, expected {len} + 1",
            group.offsets_len
        )));
    }
    // SAFETY: each pointer holds as many values as its length field says (caller's contract).
    let offsets = unsafe { slice(group.offsets, group.offsets_len, "group offsets") }?;
    // SAFETY: as above.
    let ids = unsafe { slice(group.ids, group.ids_len, "group ids") }?;
    let mut out = GroupIds::new(offsets.to_vec(), ids.to_vec());
    if !group.weights.is_null() {
        // SAFETY: non-null weights hold `ids_len` values (caller's contract).
        let weights = unsafe { slice(group.weights, group.ids_len, "group weights") }?;
        if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
            return Err(FfiError::invalid(format!("group {name}: weight {i} is not finite")));
        }
        // All-ones weights are the unweighted case; keeping none saves the copy.
        if weights.iter().any(|&w| w != 1.0) {
            out.weights = weights.to_vec();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::GwenStatus;

    fn schema() -> Schema {
        Schema::from_toml_str("[[groups]]\nname='a'\nfields=['C1']\ndim=4").expect("schema")
    }

    struct Owned {
        offsets: Vec<u32>,
        ids: Vec<u64>,
        weights: Option<Vec<f32>>,
        dense: Vec<f32>,
        labels: Vec<f32>,
    }

    impl Owned {
        fn new() -> Owned {
            Owned {
                offsets: vec![0, 1, 1],
                ids: vec![42],
                weights: None,
                dense: vec![0.5; 26],
                labels: vec![1.0, 0.0],
            }
        }

        fn convert(
            &self,
            edit: impl Fn(&mut GwenBatch, &mut GwenGroupIds),
        ) -> Result<Batch, FfiError> {
            let mut group = GwenGroupIds {
                offsets: self.offsets.as_ptr(),
                offsets_len: self.offsets.len(),
                ids: self.ids.as_ptr(),
                ids_len: self.ids.len(),
                weights: self.weights.as_ref().map_or(std::ptr::null(), |w| w.as_ptr()),
            };
            let mut batch = GwenBatch {
                len: 2,
                groups: std::ptr::null(),
                groups_len: 1,
                dense: self.dense.as_ptr(),
                dense_len: self.dense.len(),
                labels: self.labels.as_ptr(),
                labels_len: self.labels.len(),
            };
            edit(&mut batch, &mut group);
            if batch.groups.is_null() && batch.groups_len == 1 {
                batch.groups = &group;
            }
            // SAFETY: every pointer points into `self` or `group`, alive for the call, unless a
            // test nulled it or shortened a length, which the conversion must reject or honour.
            unsafe { to_batch(&batch, &schema(), true) }
        }
    }

    fn message(result: Result<Batch, FfiError>) -> String {
        let error = result.expect_err("should be rejected");
        assert_eq!(error.status, GwenStatus::GWEN_INVALID_ARGUMENT);
        error.message
    }

    #[test]
    fn a_valid_batch_is_copied() {
        let batch = Owned::new().convert(|_, _| {}).expect("valid");
        assert_eq!(batch.len, 2);
        assert_eq!(batch.groups[0].offsets, vec![0, 1, 1]);
        assert_eq!(batch.groups[0].ids, vec![42]);
        batch.validate(&schema(), true).expect("engine accepts it");
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        let owned = Owned::new();
        assert!(message(owned.convert(|b, _| b.groups_len = 2)).contains("2 groups"));
        assert!(message(owned.convert(|b, _| b.dense_len = 25)).contains("25 dense values"));
        assert!(message(owned.convert(|b, _| b.labels_len = 1)).contains("1 labels"));
        assert!(message(owned.convert(|_, g| g.offsets_len = 2)).contains("2 offsets"));
        assert!(message(owned.convert(|b, _| b.len = usize::MAX)).contains("dense values"));
    }

    #[test]
    fn null_pointers_with_lengths_are_rejected() {
        let owned = Owned::new();
        let nulled = message(owned.convert(|b, _| b.dense = std::ptr::null()));
        assert_eq!(nulled, "batch.dense is null but its length is 26");
        assert!(message(owned.convert(|_, g| g.ids = std::ptr::null())).contains("ids is null"));
        assert!(message(owned.convert(|_, g| g.offsets = std::ptr::null())).contains("null"));
        assert!(message(owned.convert(|b, _| b.labels = std::ptr::null())).contains("null"));
    }

    #[test]
    fn weights_are_copied_and_must_be_finite() {
        let mut owned = Owned::new();
        owned.weights = Some(vec![1.0]);
        let batch = owned.convert(|_, _| {}).expect("unit weights are fine");
        assert!(batch.groups[0].weights.is_empty(), "unit weights are the unweighted case");
        owned.weights = Some(vec![f32::NAN]);
        assert!(message(owned.convert(|_, _| {})).contains("not finite"));
        owned.weights = Some(vec![0.5]);
        let batch = owned.convert(|_, _| {}).expect("weights are fine");
        assert_eq!(batch.groups[0].weights, [0.5]);
        batch.validate(&schema(), true).expect("engine accepts it");
    }
}
