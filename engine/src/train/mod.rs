//! The model: pooling of gathered rows, the MLP, the loss and the optimizers.
//!
//! A step works on rows copied out of the cache ("gathered"): forward and backward run on
//! those copies in fixed-size chunks of samples, in parallel, and the chunk results are
//! reduced in chunk order, so the result does not depend on the number of threads.

pub(crate) mod mlp;

use ndarray::{Array2, ArrayView1, Axis};
use rayon::prelude::*;

use crate::batch::{Batch, GroupIds};
use crate::hash::EmbeddingId;
use crate::schema::{OptimizerKind, Pooling, Schema, SparseOptimizer};
use mlp::{Mlp, MlpGrads};

/// Samples per parallel work item. Fixed (not derived from the thread count) so results are
/// identical whatever `--threads` is.
pub(crate) const CHUNK_SAMPLES: usize = 64;

/// The rows of one group needed by a batch, copied out of the cache.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Values per row: weights (`dim`) then optimizer state.
    pub floats: usize,
    /// Distinct ids in first-seen order.
    pub ids: Vec<EmbeddingId>,
    /// `ids.len() * floats` values.
    pub values: Vec<f32>,
    /// For every id occurrence in the batch, the index of its distinct row.
    pub local: Vec<u32>,
    /// Occurrences of each distinct row in the batch.
    pub occurrences: Vec<u32>,
}

/// Pooled inputs of samples `start..end`: (n x mlp input width).
fn pooled_inputs(
    schema: &Schema,
    rows: &[Gathered],
    batch: &Batch,
    start: usize,
    end: usize,
) -> Array2<f32> {
    let width = schema.mlp_input_width();
    let dense_width = schema.dense_width();
    let mut x = Array2::<f32>::zeros((end - start, width));
    for (r, i) in (start..end).enumerate() {
        let mut out = x.row_mut(r);
        let out = out.as_slice_mut().expect("should be a standard-layout row");
        let mut at = 0;
        for (g, group) in schema.groups.iter().enumerate() {
            let dim = group.dim;
            let ids = &batch.groups[g];
            let (a, b) = (ids.offsets[i] as usize, ids.offsets[i + 1] as usize);
            let target = &mut out[at..at + dim];
            let scale = pooling_scale(group.pooling, ids, a, b);
            if scale != 0.0 {
                for k in a..b {
                    let row = rows[g].local[k] as usize * rows[g].floats;
                    let w = coefficient(ids, k, scale);
                    for (t, v) in target.iter_mut().zip(&rows[g].values[row..row + dim]) {
                        *t += w * v;
                    }
                }
            }
            at += dim;
        }
        out[at..at + dense_width]
            .copy_from_slice(&batch.dense[i * dense_width..(i + 1) * dense_width]);
    }
    x
}

/// The factor that turns the weighted sum of ids `a..b` into the pooled vector: 1 for sum,
/// `1 / sum(w)` for mean, `1 / sqrt(sum(w^2))` for sqrt-n, computed in f64 so that tiny or huge
/// weights neither overflow the sum of squares nor the reciprocal. Zero when the sample has no
/// ids in the group, or when the denominator is zero: the group then pools to the zero vector
/// and its rows get no gradient. Callers multiply it by each weight in f64 as well.
fn pooling_scale(pooling: Pooling, ids: &GroupIds, a: usize, b: usize) -> f64 {
    if a == b {
        return 0.0;
    }
    let weights = || ids.weights[a..b].iter().map(|&w| f64::from(w));
    let denominator = match (pooling, ids.weights.is_empty()) {
        (Pooling::Sum, _) => return 1.0,
        (Pooling::Mean, true) => (b - a) as f64,
        (Pooling::Sqrtn, true) => ((b - a) as f64).sqrt(),
        (Pooling::Mean, false) => weights().sum::<f64>(),
        (Pooling::Sqrtn, false) => weights().map(|w| w * w).sum::<f64>().sqrt(),
    };
    if denominator == 0.0 || !denominator.is_finite() {
        0.0
    } else {
        1.0 / denominator
    }
}

/// The coefficient of id occurrence `k` in its sample's pooled vector.
#[inline]
fn coefficient(ids: &GroupIds, k: usize, scale: f64) -> f32 {
    (f64::from(ids.weight(k)) * scale) as f32
}

fn chunks(len: usize) -> Vec<(usize, usize)> {
    (0..len).step_by(CHUNK_SAMPLES).map(|s| (s, (s + CHUNK_SAMPLES).min(len))).collect()
}

/// Logits of every sample of `batch`.
pub(crate) fn predict(schema: &Schema, mlp: &Mlp, rows: &[Gathered], batch: &Batch) -> Vec<f32> {
    let parts: Vec<Vec<f32>> = chunks(batch.len)
        .into_par_iter()
        .map(|(s, e)| mlp.predict(pooled_inputs(schema, rows, batch, s, e).view()).to_vec())
        .collect();
    parts.concat()
}

/// Gradients of one training step.
pub(crate) struct StepGrads {
    /// Sum of the per-sample losses (before the update).
    pub loss_sum: f64,
    /// Mean gradient of the MLP parameters over the batch.
    pub mlp: MlpGrads,
    /// Per group, the gradient of the batch-mean loss for each distinct row (`dim` each).
    pub rows: Vec<Vec<f32>>,
}

impl StepGrads {
    /// The first quantity that is not finite or whose square is not (the optimizers keep
    /// squared gradients): `loss`, `MLP gradient`, `gradient of group G`.
    pub fn non_finite(&self, schema: &Schema) -> Option<String> {
        if !self.loss_sum.is_finite() {
            return Some("loss".into());
        }
        if !self.mlp.squares_finite() {
            return Some("MLP gradient".into());
        }
        let g = self.rows.iter().position(|r| r.iter().any(|v| !(v * v).is_finite()))?;
        Some(format!("gradient of group {}", schema.groups[g].name))
    }
}

/// Forward and backward of the mean sigmoid cross-entropy over `batch`.
pub(crate) fn forward_backward(
    schema: &Schema,
    mlp: &Mlp,
    rows: &[Gathered],
    batch: &Batch,
) -> StepGrads {
    let parts: Vec<(f64, MlpGrads, Array2<f32>)> = chunks(batch.len)
        .into_par_iter()
        .map(|(s, e)| {
            let x = pooled_inputs(schema, rows, batch, s, e);
            let y = ArrayView1::from(&batch.labels[s..e]);
            let (loss, grads, dx) = mlp.forward_backward(x.view(), y);
            // The matrix product may return `dx` column-major; `row_gradients` reads its rows
            // as contiguous slices.
            (loss, grads, dx.as_standard_layout().into_owned())
        })
        .collect();

    let mut loss_sum = 0.0;
    let mut grads = MlpGrads::zeros_like(mlp);
    for (loss, g, _) in &parts {
        loss_sum += loss;
        grads.add_assign(g);
    }
    let inv_n = 1.0 / batch.len.max(1) as f32;
    grads.scale(inv_n);

    let dx: Vec<&Array2<f32>> = parts.iter().map(|(_, _, dx)| dx).collect();
    let mut offsets = Vec::with_capacity(schema.groups.len());
    let mut at = 0;
    for group in &schema.groups {
        offsets.push(at);
        at += group.dim;
    }
    let row_grads = (0..schema.groups.len())
        .into_par_iter()
        .map(|g| row_gradients(schema, g, offsets[g], &rows[g], batch, &dx, inv_n))
        .collect();
    StepGrads { loss_sum, mlp: grads, rows: row_grads }
}

/// Scatters d(loss)/d(pooled vector of group g) back to the distinct rows, in sample order.
fn row_gradients(
    schema: &Schema,
    g: usize,
    column: usize,
    rows: &Gathered,
    batch: &Batch,
    dx: &[&Array2<f32>],
    inv_n: f32,
) -> Vec<f32> {
    let group = &schema.groups[g];
    let dim = group.dim;
    let mut out = vec![0f32; rows.ids.len() * dim];
    let ids = &batch.groups[g];
    for i in 0..batch.len {
        let (a, b) = (ids.offsets[i] as usize, ids.offsets[i + 1] as usize);
        let scale = pooling_scale(group.pooling, ids, a, b) * f64::from(inv_n);
        if scale == 0.0 {
            continue;
        }
        let sample = dx[i / CHUNK_SAMPLES].index_axis(Axis(0), i % CHUNK_SAMPLES);
        let d = &sample.as_slice().expect("should be a standard-layout row")[column..column + dim];
        for k in a..b {
            let row = rows.local[k] as usize * dim;
            let w = coefficient(ids, k, scale);
            for (o, v) in out[row..row + dim].iter_mut().zip(d) {
                *o += v * w;
            }
        }
    }
    out
}

/// Applies the sparse optimizer to the distinct rows of one group, in place.
pub(crate) fn apply_sparse(opt: SparseOptimizer, dim: usize, rows: &mut Gathered, grads: &[f32]) {
    let floats = rows.floats;
    for (r, g) in grads.chunks_exact(dim).enumerate() {
        let values = &mut rows.values[r * floats..(r + 1) * floats];
        match opt.kind {
            OptimizerKind::Sgd => {
                for (w, gk) in values[..dim].iter_mut().zip(g) {
                    *w -= opt.lr * gk;
                }
            }
            OptimizerKind::Adagrad => {
                let mean_sq = g.iter().map(|v| v * v).sum::<f32>() / dim as f32;
                values[dim] += mean_sq;
                let step = opt.lr / (values[dim].sqrt() + opt.eps);
                for (w, gk) in values[..dim].iter_mut().zip(g) {
                    *w -= step * gk;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_schema(pooling: &str) -> Schema {
        Schema::from_toml_str(&format!(
            "[mlp]\nhidden=[4]\n[[groups]]\nname='a'\nfields=['C1','C2']\ndim=3\n\
             pooling='{pooling}'\n[[groups]]\nname='b'\nfields=['C3']\ndim=2\n"
        ))
        .expect("valid schema")
    }

    /// Three samples; group `a` has two ids, one id and none; with `weighted`, its ids carry
    /// weights (one negative).
    fn tiny_batch(weighted: bool) -> (Batch, Vec<Gathered>) {
        let mut a = GroupIds::new(vec![0, 2, 3, 3], vec![7, 8, 7]);
        if weighted {
            a.weights = vec![0.5, 2.0, -1.5];
        }
        let batch = Batch {
            len: 3,
            labels: vec![1.0, 0.0, 1.0],
            dense: (0..39).map(|k| (k % 5) as f32 * 0.1).collect(),
            groups: vec![a, GroupIds::new(vec![0, 1, 2, 3], vec![1, 1, 2])],
        };
        let gathered = vec![
            Gathered {
                floats: 4,
                ids: vec![7, 8],
                values: vec![0.1, -0.2, 0.3, 0.0, 0.05, 0.4, -0.1, 0.0],
                local: vec![0, 1, 0],
                occurrences: vec![2, 1],
            },
            Gathered {
                floats: 3,
                ids: vec![1, 2],
                values: vec![0.2, 0.1, 0.0, -0.3, 0.25, 0.0],
                local: vec![0, 0, 1],
                occurrences: vec![2, 1],
            },
        ];
        (batch, gathered)
    }

    fn mean_loss(schema: &Schema, mlp: &Mlp, rows: &[Gathered], batch: &Batch) -> f64 {
        let logits = predict(schema, mlp, rows, batch);
        logits.iter().zip(&batch.labels).map(|(&z, &y)| mlp::logit_loss(z, y)).sum::<f64>()
            / batch.len as f64
    }

    /// Finite differences through pooling and the MLP into every embedding weight.
    #[test]
    fn row_gradients_match_finite_differences() {
        let cases = ["sum", "mean", "sqrtn"].into_iter().flat_map(|p| [(p, false), (p, true)]);
        for (pooling, weighted) in cases {
            let schema = tiny_schema(pooling);
            let mlp = Mlp::new(schema.mlp_input_width(), &schema.mlp.hidden, 5);
            let (batch, mut rows) = tiny_batch(weighted);
            let grads = forward_backward(&schema, &mlp, &rows, &batch);
            for g in 0..2 {
                let dim = schema.groups[g].dim;
                for r in 0..rows[g].ids.len() {
                    for k in 0..dim {
                        let at = r * rows[g].floats + k;
                        let eps = 1e-3f32;
                        let orig = rows[g].values[at];
                        rows[g].values[at] = orig + eps;
                        let up = mean_loss(&schema, &mlp, &rows, &batch);
                        rows[g].values[at] = orig - eps;
                        let down = mean_loss(&schema, &mlp, &rows, &batch);
                        rows[g].values[at] = orig;
                        let numeric = (up - down) / (2.0 * f64::from(eps));
                        let analytic = f64::from(grads.rows[g][r * dim + k]);
                        assert!(
                            (numeric - analytic).abs() <= 2e-4 + 1e-2 * numeric.abs(),
                            "{pooling} weighted {weighted} group {g} row {r} k {k}: \
                             {numeric} vs {analytic}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn row_wise_adagrad_matches_the_formula() {
        let opt = SparseOptimizer { kind: OptimizerKind::Adagrad, lr: 0.5, eps: 1e-8 };
        let mut rows = Gathered { floats: 3, values: vec![1.0, 2.0, 0.0], ..Gathered::default() };
        apply_sparse(opt, 2, &mut rows, &[0.3, 0.4]);
        let acc = (0.09f32 + 0.16) / 2.0;
        assert_eq!(rows.values[2], acc);
        let step = 0.5 / (acc.sqrt() + 1e-8);
        assert_eq!(rows.values[..2], [1.0 - step * 0.3, 2.0 - step * 0.4]);
    }

    #[test]
    fn empty_group_pools_to_zero_without_nan() {
        for pooling in ["sum", "mean", "sqrtn"] {
            let schema = tiny_schema(pooling);
            let (batch, rows) = tiny_batch(true);
            let x = pooled_inputs(&schema, &rows, &batch, 2, 3);
            assert_eq!(x.row(0).to_vec()[..3], [0.0, 0.0, 0.0], "sample 2 has no id in group a");
            assert!(x.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn extreme_weights_pool_to_finite_values() {
        let (mut batch, rows) = tiny_batch(true);
        for (pooling, weights) in [
            ("mean", [1e-39f32, 1e-39, 1.0]),
            ("sqrtn", [3e19, 3e19, 1.0]),
            ("sqrtn", [1e-30, 1e-30, 1.0]),
        ] {
            batch.groups[0].weights = weights.to_vec();
            let schema = tiny_schema(pooling);
            let x = pooled_inputs(&schema, &rows, &batch, 0, 1);
            // Equal weights: the mean is the plain mean, sqrt-n the sum over sqrt(2).
            let want = if pooling == "mean" { 0.5 } else { 1.0 / 2f32.sqrt() } * (0.1 + 0.05);
            assert!((x[[0, 0]] - want).abs() < 1e-6, "{pooling} {weights:?}: {}", x[[0, 0]]);
            let mlp = Mlp::new(schema.mlp_input_width(), &schema.mlp.hidden, 5);
            let grads = forward_backward(&schema, &mlp, &rows, &batch);
            assert_eq!(grads.non_finite(&schema), None, "{pooling} {weights:?}");
        }
    }

    #[test]
    fn pooling_formulas() {
        let (mut batch, rows) = tiny_batch(true);
        // Sample 0 of group a: 0.5 * row 7 + 2.0 * row 8.
        let row7 = [0.1f32, -0.2, 0.3];
        let row8 = [0.05f32, 0.4, -0.1];
        let weighted: Vec<f32> = (0..3).map(|k| 0.5 * row7[k] + 2.0 * row8[k]).collect();
        let expect = [("sum", 1.0), ("mean", 1.0 / 2.5), ("sqrtn", 1.0 / (0.25f32 + 4.0).sqrt())];
        for (pooling, scale) in expect {
            let x = pooled_inputs(&tiny_schema(pooling), &rows, &batch, 0, 1);
            for k in 0..3 {
                let want = weighted[k] * scale;
                assert!(
                    (x[[0, k]] - want).abs() < 1e-6,
                    "{pooling} k {k}: {} vs {want}",
                    x[[0, k]]
                );
            }
        }
        // Unweighted sqrt-n divides the sum by sqrt(count).
        batch.groups[0].weights.clear();
        let x = pooled_inputs(&tiny_schema("sqrtn"), &rows, &batch, 0, 1);
        let want = (row7[0] + row8[0]) / 2f32.sqrt();
        assert!((x[[0, 0]] - want).abs() < 1e-6);
        // Weights summing to zero under mean pool to zero and give no gradient.
        batch.groups[0].weights = vec![1.0, -1.0, 3.0];
        let schema = tiny_schema("mean");
        let x = pooled_inputs(&schema, &rows, &batch, 0, 1);
        assert_eq!(x.row(0).to_vec()[..3], [0.0, 0.0, 0.0]);
        let mlp = Mlp::new(schema.mlp_input_width(), &schema.mlp.hidden, 5);
        let grads = forward_backward(&schema, &mlp, &rows, &batch);
        assert!(grads.rows[0].iter().all(|g| g.is_finite()));
        // Row 8 appears only in sample 0, whose group a pools to zero.
        assert_eq!(grads.rows[0][3..6], [0.0, 0.0, 0.0]);
    }
}
