//! Dense part of the GwEN model: a ReLU multi-layer perceptron that maps the concatenated group
//! embeddings (plus dense features) to a single logit, with its backward pass and an Adam
//! optimizer.
//!
//! Everything here is single-threaded and allocation-order deterministic on purpose: the trainer
//! splits a batch into fixed-size chunks, calls [`Mlp::forward_backward`] per chunk (possibly on
//! different rayon workers) and reduces the [`MlpGrads`] in chunk order, so results are
//! bit-identical regardless of the thread count.
//!
//! Flat parameter order (used by [`Mlp::params`], [`Mlp::set_params`], [`MlpGrads::to_flat`] and
//! [`Adam::state`]): layer by layer from the input side; within a layer the weight matrix
//! (`fan_in x fan_out`) in row-major order, then the bias vector (`fan_out`).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

/// Numerically stable sigmoid.
///
/// Branches on the sign so `exp` never overflows; the result is in `[0, 1]` for every finite or
/// infinite input and NaN for NaN.
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Stable sigmoid cross-entropy of a logit `z` against a label `y` (0 or 1; soft labels in
/// `[0, 1]` also work): `max(z, 0) - z * y + ln(1 + exp(-|z|))`, evaluated in f64.
pub fn logit_loss(z: f32, y: f32) -> f64 {
    let z = f64::from(z);
    let y = f64::from(y);
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// splitmix64: tiny, good enough for weight init, and fully specified so checkpoints made with
/// a given seed can be reproduced on any platform.
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-bound, bound)`. Uses the top 24 bits so the value is exact in f32.
    fn uniform(&mut self, bound: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * unit - 1.0) * bound
    }
}

/// One affine layer; the activation (ReLU or none) is decided by its position in the stack.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    /// `fan_in x fan_out`, so a batch is transformed as `x.dot(w)`.
    w: Array2<f32>,
    b: Array1<f32>,
}

/// ReLU multi-layer perceptron ending in a single logit.
///
/// Layer sizes are `[input_width, hidden..., 1]`; every layer but the last is followed by a ReLU.
/// With no hidden layers this is logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Layer>,
}

impl Mlp {
    /// Builds a network with weights and biases drawn uniformly from
    /// `(-1/sqrt(fan_in), 1/sqrt(fan_in))` using a splitmix64 stream seeded by `seed`.
    ///
    /// Values are drawn in the flat parameter order, so the same seed and sizes always give the
    /// same parameters. A layer with `fan_in == 0` gets all-zero parameters instead of an
    /// infinite range.
    pub fn new(input_width: usize, hidden: &[usize], seed: u64) -> Mlp {
        let mut rng = SplitMix64::new(seed);
        let mut sizes = Vec::with_capacity(hidden.len() + 2);
        sizes.push(input_width);
        sizes.extend_from_slice(hidden);
        sizes.push(1);
        let layers = sizes
            .windows(2)
            .map(|pair| {
                let (fan_in, fan_out) = (pair[0], pair[1]);
                let bound = if fan_in == 0 { 0.0 } else { 1.0 / (fan_in as f32).sqrt() };
                let w = Array2::from_shape_simple_fn((fan_in, fan_out), || rng.uniform(bound));
                let b = Array1::from_shape_simple_fn(fan_out, || rng.uniform(bound));
                Layer { w, b }
            })
            .collect();
        Mlp { layers }
    }

    /// Width of the input rows this network expects.
    pub fn input_width(&self) -> usize {
        self.layers.first().map_or(0, |l| l.w.nrows())
    }

    /// Sizes of every layer boundary: `[input, h1, ..., 1]`.
    #[cfg(test)]
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.input_width()];
        sizes.extend(self.layers.iter().map(|l| l.w.ncols()));
        sizes
    }

    /// Total number of scalar parameters (all weights and biases).
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// All parameters flattened in the documented order (see the module docs).
    pub fn params(&self) -> Vec<f32> {
        let mut flat = Vec::with_capacity(self.num_params());
        for layer in &self.layers {
            flat.extend(layer.w.iter().copied());
            flat.extend(layer.b.iter().copied());
        }
        flat
    }

    /// Loads parameters produced by [`Mlp::params`] on a network of the same shape.
    ///
    /// Returns `Err` (leaving the network unchanged) if `flat` has the wrong length.
    pub fn set_params(&mut self, flat: &[f32]) -> Result<(), String> {
        let expected = self.num_params();
        if flat.len() != expected {
            return Err(format!(
                "MLP parameter vector has {} values, expected {expected}",
                flat.len()
            ));
        }
        let mut src = flat.iter();
        for layer in &mut self.layers {
            for (dst, v) in layer.w.iter_mut().chain(layer.b.iter_mut()).zip(&mut src) {
                *dst = *v;
            }
        }
        Ok(())
    }

    /// Logits for a batch; `x` is `n x input_width`.
    ///
    /// # Panics
    /// If `x.ncols() != self.input_width()`; the caller builds `x` from the same model config,
    /// so a mismatch is a programming error rather than bad data.
    pub fn predict(&self, x: ArrayView2<f32>) -> Array1<f32> {
        self.check_width(x);
        let mut a: Option<Array2<f32>> = None;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut z = match &a {
                None => x.dot(&layer.w),
                Some(prev) => prev.dot(&layer.w),
            };
            z += &layer.b;
            if i != last {
                z.mapv_inplace(relu);
            }
            a = Some(z);
        }
        let out = a.expect("should have at least the output layer");
        out.index_axis_move(Axis(1), 0)
    }

    /// Forward pass keeping activations, then backward pass of the sigmoid cross-entropy.
    ///
    /// Returns `(loss_sum, grads, dx)` where `loss_sum` is the sum over rows of the per-sample
    /// loss, `grads` are parameter gradients summed over rows (the caller divides by the batch
    /// size to get the gradient of the mean loss), and `dx` (`n x input_width`) holds, per row,
    /// the gradient of that row's own loss with respect to its input (not divided by `n`).
    ///
    /// # Panics
    /// If `x.ncols() != self.input_width()` or `y.len() != x.nrows()` (programming errors, see
    /// [`Mlp::predict`]).
    pub fn forward_backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
    ) -> (f64, MlpGrads, Array2<f32>) {
        self.check_width(x);
        assert_eq!(y.len(), x.nrows(), "label count must match the number of input rows");
        let last = self.layers.len() - 1;

        // Post-ReLU outputs of the hidden layers; the ReLU mask is recovered from them
        // (a > 0 iff the pre-activation was > 0), which avoids keeping pre-activations too.
        let mut hidden: Vec<Array2<f32>> = Vec::with_capacity(last);
        let mut logits: Option<Array2<f32>> = None;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut z = match hidden.last() {
                None => x.dot(&layer.w),
                Some(prev) => prev.dot(&layer.w),
            };
            z += &layer.b;
            if i == last {
                logits = Some(z);
            } else {
                z.mapv_inplace(relu);
                hidden.push(z);
            }
        }
        let logits = logits.expect("should have computed the output layer");

        let mut loss_sum = 0.0f64;
        let mut delta = Array2::<f32>::zeros((x.nrows(), 1));
        for ((d, &z), &t) in delta.iter_mut().zip(logits.iter()).zip(y.iter()) {
            loss_sum += logit_loss(z, t);
            *d = sigmoid(z) - t;
        }

        let mut grads = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let gw = match i {
                0 => x.t().dot(&delta),
                _ => hidden[i - 1].t().dot(&delta),
            };
            let gb = delta.sum_axis(Axis(0));
            grads.push(Layer { w: gw, b: gb });
            let mut d_in = delta.dot(&layer.w.t());
            if i > 0 {
                Zip::from(&mut d_in).and(&hidden[i - 1]).for_each(|d, &a| {
                    if a <= 0.0 {
                        *d = 0.0;
                    }
                });
            }
            delta = d_in;
        }
        grads.reverse();
        (loss_sum, MlpGrads { layers: grads }, delta)
    }

    fn check_width(&self, x: ArrayView2<f32>) {
        assert_eq!(x.ncols(), self.input_width(), "MLP input has the wrong width for this network");
    }
}

fn relu(v: f32) -> f32 {
    // `max` would turn NaN into 0 and hide a diverged model; keep NaN visible.
    if v > 0.0 || v.is_nan() {
        v
    } else {
        0.0
    }
}

/// Parameter gradients with the same shapes as the layers of an [`Mlp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpGrads {
    layers: Vec<Layer>,
}

impl MlpGrads {
    /// All-zero gradients shaped like `mlp`.
    pub fn zeros_like(mlp: &Mlp) -> MlpGrads {
        let layers = mlp
            .layers
            .iter()
            .map(|l| Layer { w: Array2::zeros(l.w.raw_dim()), b: Array1::zeros(l.b.raw_dim()) })
            .collect();
        MlpGrads { layers }
    }

    /// Element-wise `self += other`. Reduce per-chunk gradients in a fixed order to stay
    /// deterministic.
    ///
    /// # Panics
    /// If the two gradients come from differently shaped networks.
    pub fn add_assign(&mut self, other: &MlpGrads) {
        assert_eq!(self.layers.len(), other.layers.len(), "gradient layer counts differ");
        for (a, b) in self.layers.iter_mut().zip(&other.layers) {
            assert_eq!(a.w.dim(), b.w.dim(), "gradient weight shapes differ");
            assert_eq!(a.b.dim(), b.b.dim(), "gradient bias shapes differ");
            a.w += &b.w;
            a.b += &b.b;
        }
    }

    /// Whether every gradient entry and its square are finite (Adam keeps squares).
    pub fn squares_finite(&self) -> bool {
        self.layers.iter().all(|l| l.w.iter().chain(l.b.iter()).all(|v| (v * v).is_finite()))
    }

    /// Multiplies every gradient entry by `s` (e.g. `1 / n` to turn a sum into a mean).
    pub fn scale(&mut self, s: f32) {
        for layer in &mut self.layers {
            layer.w *= s;
            layer.b *= s;
        }
    }

    /// Gradients flattened in the same order as [`Mlp::params`].
    #[cfg(test)]
    pub fn to_flat(&self) -> Vec<f32> {
        let mut flat = Vec::new();
        for layer in &self.layers {
            flat.extend(layer.w.iter().copied());
            flat.extend(layer.b.iter().copied());
        }
        flat
    }

    fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }
}

const ADAM_BETA1: f32 = 0.9;
const ADAM_BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;

/// Adam optimizer for the MLP parameters (beta1 0.9, beta2 0.999, eps 1e-8, bias correction,
/// no weight decay).
///
/// Moments are stored flat in parameter order so they can be checkpointed with
/// [`Adam::state`] and restored with [`Adam::set_state`].
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    lr: f32,
    t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// Fresh optimizer state (zero moments, `t = 0`) sized for `mlp`.
    pub fn new(mlp: &Mlp, lr: f32) -> Adam {
        let n = mlp.num_params();
        Adam { lr, t: 0, m: vec![0.0; n], v: vec![0.0; n] }
    }

    /// Current learning rate.
    #[expect(dead_code, reason = "not used by the engine yet")]
    pub fn lr(&self) -> f32 {
        self.lr
    }

    /// Changes the learning rate (for schedules); moments are kept.
    #[expect(dead_code, reason = "not used by the engine yet")]
    pub fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    /// Applies one Adam update to `mlp`. `grads` must be the MEAN gradient over the batch
    /// (scale the summed gradients from [`Mlp::forward_backward`] by `1 / n` first).
    ///
    /// # Panics
    /// If `mlp` or `grads` do not match the network this optimizer was created for.
    pub fn step(&mut self, mlp: &mut Mlp, grads: &MlpGrads) {
        assert_eq!(mlp.num_params(), self.m.len(), "Adam state does not match the network");
        assert_eq!(grads.num_params(), self.m.len(), "gradients do not match the network");
        self.t = self.t.saturating_add(1);
        // Corrections in f64 so they do not round to 0 for early steps; powi would need an i32
        // exponent, and past ~1e5 steps both corrections are exactly 1 anyway.
        let t = self.t as f64;
        let bc1 = (1.0 - f64::from(ADAM_BETA1).powf(t)) as f32;
        let bc2 = (1.0 - f64::from(ADAM_BETA2).powf(t)) as f32;
        let mut offset = 0;
        for (layer, g) in mlp.layers.iter_mut().zip(&grads.layers) {
            assert_eq!(layer.w.dim(), g.w.dim(), "gradient weight shape differs");
            assert_eq!(layer.b.dim(), g.b.dim(), "gradient bias shape differs");
            let n = layer.w.len() + layer.b.len();
            let params = layer.w.iter_mut().chain(layer.b.iter_mut());
            let gs = g.w.iter().chain(g.b.iter());
            let m = &mut self.m[offset..offset + n];
            let v = &mut self.v[offset..offset + n];
            for (((p, &gi), mi), vi) in params.zip(gs).zip(m.iter_mut()).zip(v.iter_mut()) {
                *mi = ADAM_BETA1 * *mi + (1.0 - ADAM_BETA1) * gi;
                *vi = ADAM_BETA2 * *vi + (1.0 - ADAM_BETA2) * gi * gi;
                let m_hat = *mi / bc1;
                let v_hat = *vi / bc2;
                *p -= self.lr * m_hat / (v_hat.sqrt() + ADAM_EPS);
            }
            offset += n;
        }
    }

    /// Checkpointable state: `(t, flat)` where `flat` is the first moments followed by the
    /// second moments, each in parameter order (length `2 * num_params`).
    pub fn state(&self) -> (u64, Vec<f32>) {
        let mut flat = Vec::with_capacity(self.m.len() * 2);
        flat.extend_from_slice(&self.m);
        flat.extend_from_slice(&self.v);
        (self.t, flat)
    }

    /// Restores state produced by [`Adam::state`]. Returns `Err` (leaving the optimizer
    /// unchanged) if `flat` does not hold exactly two moments per parameter.
    pub fn set_state(&mut self, t: u64, flat: &[f32]) -> Result<(), String> {
        let n = self.m.len();
        if flat.len() != 2 * n {
            return Err(format!("Adam state vector has {} values, expected {}", flat.len(), 2 * n));
        }
        let (m, v) = flat.split_at(n);
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        self.t = t;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Slice};
    use std::ops::Range;

    // ndarray's `s!` expands to `#[allow(unsafe_code)]`, which the crate-wide
    // `forbid(unsafe_code)` rejects, so rows are sliced through `slice_axis` instead.
    fn rows(a: &Array2<f32>, r: Range<usize>) -> ArrayView2<'_, f32> {
        a.slice_axis(Axis(0), Slice::from(r))
    }

    fn items(a: &Array1<f32>, r: Range<usize>) -> ArrayView1<'_, f32> {
        a.slice_axis(Axis(0), Slice::from(r))
    }

    fn random_matrix(rng: &mut SplitMix64, rows: usize, cols: usize, bound: f32) -> Array2<f32> {
        Array2::from_shape_simple_fn((rows, cols), || rng.uniform(bound))
    }

    fn loss_sum(mlp: &Mlp, x: ArrayView2<f32>, y: ArrayView1<f32>) -> f64 {
        mlp.predict(x).iter().zip(y.iter()).map(|(&z, &t)| logit_loss(z, t)).sum()
    }

    fn close(analytic: f64, numeric: f64) -> bool {
        (analytic - numeric).abs() <= 5e-4 + 5e-3 * numeric.abs()
    }

    #[test]
    fn gradient_check_params_and_input() {
        let mut rng = SplitMix64::new(7);
        let mut mlp = Mlp::new(5, &[4, 3], 11);
        // Larger weights than the default init so every layer's gradient is well above the
        // finite-difference noise floor.
        let scaled: Vec<f32> = mlp.params().iter().map(|p| p * 2.0).collect();
        mlp.set_params(&scaled).expect("should accept own length");
        let x = random_matrix(&mut rng, 6, 5, 1.5);
        let y = Array::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0]);

        let (loss, grads, dx) = mlp.forward_backward(x.view(), y.view());
        assert!((loss - loss_sum(&mlp, x.view(), y.view())).abs() < 1e-6);

        let eps = 1e-3f32;
        let base = mlp.params();
        let analytic = grads.to_flat();
        assert_eq!(analytic.len(), base.len());
        let mut probe = mlp.clone();
        let mut nonzero = 0;
        for i in 0..base.len() {
            let mut p = base.clone();
            p[i] = base[i] + eps;
            probe.set_params(&p).expect("should accept own length");
            let plus = loss_sum(&probe, x.view(), y.view());
            p[i] = base[i] - eps;
            probe.set_params(&p).expect("should accept own length");
            let minus = loss_sum(&probe, x.view(), y.view());
            let numeric = (plus - minus) / (2.0 * f64::from(eps));
            let a = f64::from(analytic[i]);
            assert!(close(a, numeric), "param {i}: analytic {a} vs numeric {numeric}");
            if numeric.abs() > 1e-2 {
                nonzero += 1;
            }
        }
        assert!(nonzero > base.len() / 2, "too few informative gradients: {nonzero}");

        for r in 0..x.nrows() {
            for c in 0..x.ncols() {
                let row = x.row(r).insert_axis(Axis(0)).to_owned();
                let yr = items(&y, r..r + 1);
                let mut xp = row.clone();
                xp[[0, c]] += eps;
                let mut xm = row.clone();
                xm[[0, c]] -= eps;
                let numeric = (loss_sum(&mlp, xp.view(), yr) - loss_sum(&mlp, xm.view(), yr))
                    / (2.0 * f64::from(eps));
                let a = f64::from(dx[[r, c]]);
                assert!(close(a, numeric), "dx[{r},{c}]: analytic {a} vs numeric {numeric}");
            }
        }
    }

    #[test]
    fn gradient_check_logistic_regression() {
        let mut rng = SplitMix64::new(3);
        let mlp = Mlp::new(4, &[], 5);
        assert_eq!(mlp.layer_sizes(), vec![4, 1]);
        let x = random_matrix(&mut rng, 3, 4, 1.0);
        let y = Array::from_vec(vec![1.0, 0.0, 1.0]);
        let (_, grads, dx) = mlp.forward_backward(x.view(), y.view());
        let z = mlp.predict(x.view());
        let w = mlp.params();
        let g = grads.to_flat();
        for j in 0..4 {
            let expect: f32 = (0..3).map(|r| (sigmoid(z[r]) - y[r]) * x[[r, j]]).sum();
            assert!((g[j] - expect).abs() < 1e-5);
            for r in 0..3 {
                assert!((dx[[r, j]] - (sigmoid(z[r]) - y[r]) * w[j]).abs() < 1e-6);
            }
        }
        let gb: f32 = (0..3).map(|r| sigmoid(z[r]) - y[r]).sum();
        assert!((g[4] - gb).abs() < 1e-5);
    }

    #[test]
    fn adam_learns_a_nonlinear_problem() {
        let mut rng = SplitMix64::new(99);
        let n = 256;
        let x = random_matrix(&mut rng, n, 4, 1.0);
        // XOR of the signs of two inputs: not linearly separable, so the hidden layer matters.
        let y = Array1::from_shape_fn(n, |r| f32::from(u8::from(x[[r, 0]] * x[[r, 1]] > 0.0)));
        let mut mlp = Mlp::new(4, &[16, 8], 1);
        let mut adam = Adam::new(&mlp, 0.02);
        let initial = loss_sum(&mlp, x.view(), y.view()) / n as f64;
        for _ in 0..300 {
            // Two chunks reduced in order, as the trainer does.
            let (_, mut g, _) = mlp.forward_backward(rows(&x, 0..128), items(&y, 0..128));
            let (_, g2, _) = mlp.forward_backward(rows(&x, 128..n), items(&y, 128..n));
            g.add_assign(&g2);
            g.scale(1.0 / n as f32);
            adam.step(&mut mlp, &g);
        }
        let final_loss = loss_sum(&mlp, x.view(), y.view()) / n as f64;
        assert!(initial > 0.6, "initial loss {initial}");
        assert!(final_loss < 0.3, "loss went from {initial} to {final_loss}");
        let z = mlp.predict(x.view());
        let correct = z.iter().zip(y.iter()).filter(|(&z, &t)| (z > 0.0) == (t > 0.5)).count();
        assert!(correct as f64 > 0.9 * n as f64, "accuracy {correct}/{n}");
    }

    #[test]
    fn chunked_gradients_match_full_batch() {
        let mut rng = SplitMix64::new(5);
        let x = random_matrix(&mut rng, 10, 6, 1.0);
        let y = Array1::from_shape_fn(10, |r| (r % 2) as f32);
        let mlp = Mlp::new(6, &[5], 2);
        let (l_full, g_full, dx_full) = mlp.forward_backward(x.view(), y.view());
        let mut g = MlpGrads::zeros_like(&mlp);
        let mut l = 0.0;
        for c in 0..2 {
            let r = c * 5..(c + 1) * 5;
            let (lc, gc, dxc) = mlp.forward_backward(rows(&x, r.clone()), items(&y, r.clone()));
            l += lc;
            g.add_assign(&gc);
            for (a, b) in dxc.iter().zip(rows(&dx_full, r.clone()).iter()) {
                assert!((a - b).abs() < 1e-6);
            }
        }
        assert!((l - l_full).abs() < 1e-9);
        for (a, b) in g.to_flat().iter().zip(g_full.to_flat()) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn deterministic_init_and_outputs() {
        let a = Mlp::new(7, &[5, 3], 42);
        let b = Mlp::new(7, &[5, 3], 42);
        let c = Mlp::new(7, &[5, 3], 43);
        assert_eq!(a, b);
        assert_ne!(a.params(), c.params());
        let bound = 1.0 / 7f32.sqrt();
        assert!(a.params()[..35].iter().all(|p| p.abs() <= bound));
        let mut rng = SplitMix64::new(1);
        let x = random_matrix(&mut rng, 9, 7, 1.0);
        let y = Array1::from_elem(9, 1.0f32);
        let first = a.forward_backward(x.view(), y.view());
        let second = b.forward_backward(x.view(), y.view());
        assert_eq!(first.0.to_bits(), second.0.to_bits());
        assert_eq!(first.1, second.1);
        assert_eq!(first.2, second.2);
        let p1: Vec<u32> = a.predict(x.view()).iter().map(|v| v.to_bits()).collect();
        let p2: Vec<u32> = b.predict(x.view()).iter().map(|v| v.to_bits()).collect();
        assert_eq!(p1, p2);
    }

    #[test]
    fn parallel_chunks_are_bit_identical_across_thread_counts() {
        use rayon::prelude::*;
        let mut rng = SplitMix64::new(21);
        let n = 96;
        let x = random_matrix(&mut rng, n, 12, 1.0);
        let y = Array1::from_shape_fn(n, |r| (r % 4 == 1) as u8 as f32);
        let mlp = Mlp::new(12, &[20, 10], 17);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("should build a thread pool");
            let parts: Vec<_> = pool.install(|| {
                (0..n / 16)
                    .into_par_iter()
                    .map(|c| {
                        let r = c * 16..(c + 1) * 16;
                        mlp.forward_backward(rows(&x, r.clone()), items(&y, r))
                    })
                    .collect()
            });
            let mut loss = 0.0f64;
            let mut g = MlpGrads::zeros_like(&mlp);
            for (l, gc, _) in &parts {
                loss += l;
                g.add_assign(gc);
            }
            let bits: Vec<u32> = g.to_flat().iter().map(|v| v.to_bits()).collect();
            (loss.to_bits(), bits)
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn shapes_and_param_count() {
        let mlp = Mlp::new(10, &[200, 80], 0);
        assert_eq!(mlp.input_width(), 10);
        assert_eq!(mlp.layer_sizes(), vec![10, 200, 80, 1]);
        assert_eq!(mlp.num_params(), 10 * 200 + 200 + 200 * 80 + 80 + 80 + 1);
        assert_eq!(mlp.params().len(), mlp.num_params());
        let x = Array2::<f32>::zeros((0, 10));
        assert_eq!(mlp.predict(x.view()).len(), 0);
        let (l, g, dx) = mlp.forward_backward(x.view(), Array1::zeros(0).view());
        assert_eq!(l, 0.0);
        assert_eq!(g, MlpGrads::zeros_like(&mlp));
        assert_eq!(dx.dim(), (0, 10));
    }

    #[test]
    fn degenerate_widths_do_not_panic() {
        let mlp = Mlp::new(0, &[0], 3);
        assert!(mlp.params().iter().all(|p| *p == 0.0));
        let z = mlp.predict(Array2::<f32>::zeros((2, 0)).view());
        assert_eq!(z.to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn param_round_trip_and_wrong_length() {
        let mut mlp = Mlp::new(5, &[4, 3], 8);
        let p = mlp.params();
        let mut other = Mlp::new(5, &[4, 3], 9);
        other.set_params(&p).expect("should accept matching length");
        assert_eq!(other, mlp);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&other.params()), bits(&p));
        let before = mlp.clone();
        assert!(mlp.set_params(&p[1..]).is_err());
        let mut longer = p.clone();
        longer.push(0.0);
        assert!(mlp.set_params(&longer).is_err());
        assert_eq!(mlp, before);
    }

    #[test]
    fn adam_state_round_trip() {
        let mut rng = SplitMix64::new(4);
        let x = random_matrix(&mut rng, 8, 5, 1.0);
        let y = Array1::from_shape_fn(8, |r| (r % 3 == 0) as u8 as f32);
        let mut mlp = Mlp::new(5, &[4, 3], 8);
        let mut adam = Adam::new(&mlp, 0.01);
        let step = |mlp: &mut Mlp, adam: &mut Adam| {
            let (_, mut g, _) = mlp.forward_backward(x.view(), y.view());
            g.scale(1.0 / 8.0);
            adam.step(mlp, &g);
        };
        for _ in 0..3 {
            step(&mut mlp, &mut adam);
        }
        let (t, flat) = adam.state();
        assert_eq!(t, 3);
        assert_eq!(flat.len(), 2 * mlp.num_params());

        let mut restored_mlp = Mlp::new(5, &[4, 3], 123);
        restored_mlp.set_params(&mlp.params()).expect("should accept matching length");
        let mut restored = Adam::new(&restored_mlp, 0.01);
        restored.set_state(t, &flat).expect("should accept matching length");
        assert_eq!(restored, adam);

        step(&mut mlp, &mut adam);
        step(&mut restored_mlp, &mut restored);
        assert_eq!(restored_mlp, mlp);
        assert_eq!(restored.state(), adam.state());

        let before = restored.clone();
        assert!(restored.set_state(1, &flat[1..]).is_err());
        assert!(restored.set_state(1, &[]).is_err());
        assert_eq!(restored, before);
    }

    #[test]
    fn adam_first_step_moves_each_param_by_lr() {
        let mut mlp = Mlp::new(3, &[2], 6);
        let before = mlp.params();
        let mut g = MlpGrads::zeros_like(&mlp);
        // Any nonzero gradient gives |update| ~= lr on the first bias-corrected step.
        for layer in &mut g.layers {
            layer.w.fill(0.5);
            layer.b.fill(-0.25);
        }
        let mut adam = Adam::new(&mlp, 0.1);
        adam.step(&mut mlp, &g);
        for ((a, b), gi) in mlp.params().iter().zip(&before).zip(g.to_flat()) {
            let moved = b - a;
            assert!((moved - 0.1 * gi.signum()).abs() < 1e-5, "moved {moved}");
        }
    }

    #[test]
    fn loss_and_sigmoid_extremes() {
        assert!(logit_loss(100.0, 1.0).abs() < 1e-30);
        assert!((logit_loss(100.0, 0.0) - 100.0).abs() < 1e-12);
        assert!((logit_loss(-100.0, 1.0) - 100.0).abs() < 1e-12);
        assert!(logit_loss(-100.0, 0.0).abs() < 1e-30);
        assert!(logit_loss(-100.0, 0.0) > 0.0);
        assert!((logit_loss(0.0, 1.0) - std::f64::consts::LN_2).abs() < 1e-15);
        for z in [-1e30f32, -100.0, -3.0, 0.0, 2.5, 100.0, 1e30] {
            for y in [0.0f32, 1.0] {
                let l = logit_loss(z, y);
                assert!(l.is_finite() && l >= 0.0, "loss({z}, {y}) = {l}");
                let p = f64::from(z).clamp(-30.0, 30.0);
                if z.abs() < 30.0 {
                    let naive = -(f64::from(y) * (1.0 / (1.0 + (-p).exp())).ln()
                        + (1.0 - f64::from(y)) * (1.0 - 1.0 / (1.0 + (-p).exp())).ln());
                    assert!((l - naive).abs() < 1e-9);
                }
            }
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(100.0), 1.0);
        assert!(sigmoid(-100.0) > 0.0 && sigmoid(-100.0) < 1e-40);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(-1e30), 0.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-7);
        assert!(sigmoid(f32::NAN).is_nan());
    }
}
