//! Evaluation metrics for CTR models: log loss, ROC AUC, mean prediction and observed CTR.
//!
//! All sums run sequentially in f64 over samples in push order, so a summary is bit-identical
//! for the same sequence of pushes.

/// Accumulates `(logit, label)` pairs from the model and summarizes them.
///
/// Logits rather than probabilities are kept: AUC only needs the ordering, and large logits
/// would otherwise collapse to the same probability and create artificial ties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    logits: Vec<f32>,
    labels: Vec<f32>,
}

/// Summary of an [`Evaluation`].
///
/// With no samples every float field is NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalSummary {
    /// Number of evaluated samples.
    pub samples: u64,
    /// Mean sigmoid cross-entropy of the logits against the labels.
    pub logloss: f64,
    /// ROC AUC of the logits; NaN when only one class is present or any logit is NaN.
    pub auc: f64,
    /// Mean predicted probability (sigmoid of the logits).
    pub mean_prediction: f64,
    /// Mean label, i.e. the observed click-through rate.
    pub observed_ctr: f64,
}

impl Evaluation {
    /// Empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample: the model's `logit` and its 0/1 `label`.
    pub fn push(&mut self, logit: f32, label: f32) {
        self.logits.push(logit);
        self.labels.push(label);
    }

    /// Appends all samples of `other` after those already held (e.g. per-worker results,
    /// merged in a fixed order to keep the summary deterministic).
    pub fn merge(&mut self, other: &Evaluation) {
        self.logits.extend_from_slice(&other.logits);
        self.labels.extend_from_slice(&other.labels);
    }

    /// Number of samples pushed so far.
    pub fn len(&self) -> usize {
        self.logits.len()
    }

    /// Whether no sample has been pushed.
    pub fn is_empty(&self) -> bool {
        self.logits.is_empty()
    }

    /// Computes log loss, AUC, mean prediction and observed CTR over all samples.
    pub fn summary(&self) -> EvalSummary {
        let n = self.logits.len();
        if n == 0 {
            return EvalSummary {
                samples: 0,
                logloss: f64::NAN,
                auc: f64::NAN,
                mean_prediction: f64::NAN,
                observed_ctr: f64::NAN,
            };
        }
        let mut loss = 0.0f64;
        let mut pred = 0.0f64;
        let mut clicks = 0.0f64;
        for (&z, &y) in self.logits.iter().zip(&self.labels) {
            loss += logit_loss(z, y);
            pred += sigmoid(f64::from(z));
            clicks += f64::from(y);
        }
        let scores: Vec<f64> = self.logits.iter().map(|&z| f64::from(z)).collect();
        let count = n as f64;
        EvalSummary {
            samples: n as u64,
            logloss: loss / count,
            auc: auc(&scores, &self.labels),
            mean_prediction: pred / count,
            observed_ctr: clicks / count,
        }
    }
}

/// Same formula as the trainer's loss (`max(z, 0) - z * y + ln(1 + exp(-|z|))`), duplicated so
/// this module has no dependency on the training code.
fn logit_loss(z: f32, y: f32) -> f64 {
    let z = f64::from(z);
    let y = f64::from(y);
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// ROC AUC of `scores` against `labels` (a label >= 0.5 counts as positive) by the rank-sum
/// (Mann-Whitney) statistic, with tied scores sharing their mean rank.
///
/// Returns NaN when the slices differ in length, when either class is absent, or when any score
/// is NaN (there is no meaningful ranking then).
pub fn auc(scores: &[f64], labels: &[f32]) -> f64 {
    if scores.len() != labels.len() || scores.iter().any(|s| s.is_nan()) {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Stable sort on a total order: the result does not depend on the input permutation of
    // tied samples, and -0.0 / 0.0 end up adjacent so the `==` grouping below merges them.
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));

    // With mean ranks for ties, the positives' rank sum minus P(P+1)/2 equals, summed over tie
    // groups, pos_in_group * (negatives_below + neg_in_group / 2). Doubling it keeps the whole
    // computation in exact integers, avoiding f64 rounding of huge rank sums.
    let mut twice_u: u128 = 0;
    let mut neg_below: u64 = 0;
    let mut pos_total: u64 = 0;
    let mut start = 0;
    while start < order.len() {
        let score = scores[order[start]];
        let mut end = start;
        let (mut pos, mut neg) = (0u64, 0u64);
        while end < order.len() && scores[order[end]] == score {
            if labels[order[end]] >= 0.5 {
                pos += 1;
            } else {
                neg += 1;
            }
            end += 1;
        }
        twice_u += u128::from(pos) * u128::from(2 * neg_below + neg);
        neg_below += neg;
        pos_total += pos;
        start = end;
    }
    let neg_total = neg_below;
    if pos_total == 0 || neg_total == 0 {
        return f64::NAN;
    }
    twice_u as f64 / (2.0 * pos_total as f64 * neg_total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force_auc(scores: &[f64], labels: &[f32]) -> f64 {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if labels[i] >= 0.5 && labels[j] < 0.5 {
                    pairs += 1.0;
                    if si > sj {
                        wins += 1.0;
                    } else if si == sj {
                        wins += 0.5;
                    }
                }
            }
        }
        wins / pairs
    }

    /// xorshift64 for test data only.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn auc_perfect_reversed_and_tied() {
        let labels = [0.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(auc(&[0.1, 0.2, 0.3, 0.4, 0.5], &labels), 1.0);
        assert_eq!(auc(&[0.5, 0.4, 0.3, 0.2, 0.1], &labels), 0.0);
        assert_eq!(auc(&[0.7; 5], &labels), 0.5);
    }

    #[test]
    fn auc_hand_computed_with_ties() {
        // Sorted: 0.1(-) 0.4(+,-) 0.4 tie, 0.8(+) 0.8(-) tie, 0.9(+).
        // Ranks: 1, 2.5, 2.5, 4.5, 4.5, 6. Positives: 2.5 + 4.5 + 6 = 13.
        // U = 13 - 3*4/2 = 7, AUC = 7 / (3*3) = 7/9.
        let scores = [0.4, 0.8, 0.1, 0.9, 0.4, 0.8];
        let labels = [1.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        assert!((auc(&scores, &labels) - 7.0 / 9.0).abs() < 1e-15);
        // Positive and negative zero are the same score.
        assert_eq!(auc(&[-0.0, 0.0], &[1.0, 0.0]), 0.5);
    }

    #[test]
    fn auc_degenerate_inputs_are_nan() {
        assert!(auc(&[], &[]).is_nan());
        assert!(auc(&[0.1, 0.2], &[1.0, 1.0]).is_nan());
        assert!(auc(&[0.1, 0.2], &[0.0, 0.0]).is_nan());
        assert!(auc(&[0.1, 0.2], &[0.0]).is_nan());
        assert!(auc(&[0.1, f64::NAN], &[0.0, 1.0]).is_nan());
    }

    #[test]
    fn auc_matches_brute_force_on_random_data() {
        let mut state = 0x1234_5678_9abc_def1u64;
        for trial in 0..20 {
            let n = 50 + trial * 7;
            // Few distinct score values so many ties are exercised.
            let levels = if trial % 2 == 0 { 8 } else { 1000 };
            let scores: Vec<f64> =
                (0..n).map(|_| (next(&mut state) % levels) as f64 / levels as f64).collect();
            let labels: Vec<f32> =
                (0..n).map(|_| (next(&mut state) % 3 == 0) as u8 as f32).collect();
            let fast = auc(&scores, &labels);
            let slow = brute_force_auc(&scores, &labels);
            assert!((fast - slow).abs() < 1e-12, "trial {trial}: {fast} vs {slow}");
        }
    }

    #[test]
    fn auc_does_not_depend_on_input_order() {
        let scores = [0.3, 0.3, 0.1, 0.9, 0.3, 0.5];
        let labels = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let a = auc(&scores, &labels);
        let mut s = scores;
        let mut l = labels;
        s.reverse();
        l.reverse();
        assert_eq!(a.to_bits(), auc(&s, &l).to_bits());
    }

    #[test]
    fn summary_values() {
        let mut eval = Evaluation::new();
        assert!(eval.is_empty());
        let empty = eval.summary();
        assert_eq!(empty.samples, 0);
        assert!(empty.logloss.is_nan() && empty.auc.is_nan());
        assert!(empty.mean_prediction.is_nan() && empty.observed_ctr.is_nan());

        eval.push(0.0, 1.0);
        eval.push(0.0, 0.0);
        eval.push(2.0, 1.0);
        eval.push(-2.0, 0.0);
        assert_eq!(eval.len(), 4);
        let s = eval.summary();
        assert_eq!(s.samples, 4);
        let l2 = (1.0 + (-2.0f64).exp()).ln();
        let expected_loss = (2.0 * std::f64::consts::LN_2 + 2.0 * l2) / 4.0;
        assert!((s.logloss - expected_loss).abs() < 1e-12);
        // Positives {0, 2}, negatives {0, -2}: pairs 0.5 + 1 + 1 + 1 over 4.
        assert!((s.auc - 0.875).abs() < 1e-15);
        assert!((s.mean_prediction - 0.5).abs() < 1e-12);
        assert_eq!(s.observed_ctr, 0.5);
    }

    #[test]
    fn summary_one_class_and_extreme_logits() {
        let mut eval = Evaluation::default();
        eval.push(100.0, 1.0);
        eval.push(80.0, 1.0);
        let s = eval.summary();
        assert!(s.auc.is_nan());
        assert!(s.logloss.is_finite() && s.logloss < 1e-30);
        assert_eq!(s.observed_ctr, 1.0);

        // Saturated probabilities would tie; logits keep the ordering.
        let mut eval = Evaluation::new();
        eval.push(60.0, 0.0);
        eval.push(70.0, 1.0);
        let s = eval.summary();
        assert_eq!(s.auc, 1.0);
        assert!((s.logloss - 30.0).abs() < 1e-9);
    }

    #[test]
    fn merge_appends_in_order() {
        let mut a = Evaluation::new();
        a.push(0.5, 1.0);
        let mut b = Evaluation::new();
        b.push(-0.5, 0.0);
        b.push(1.5, 1.0);
        let mut all = Evaluation::new();
        all.push(0.5, 1.0);
        all.push(-0.5, 0.0);
        all.push(1.5, 1.0);
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.summary(), all.summary());
    }
}
