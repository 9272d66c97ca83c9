//! Synthetic Criteo format data with a hidden, learnable click model.
//!
//! The generated file looks like the Criteo DAC training file (40 tab-separated columns: label,
//! `I1..I13`, `C1..C26`) so every tool that reads real data reads it too. Labels are drawn from
//! a hidden logistic model, so a trained model can beat chance by a clear margin:
//!
//! ```text
//! z     = bias + sum_f w_f(value_f) + sum_pairs v_ab(value_a, value_b) + sum_j beta_j ln(1 + x_j)
//! label ~ Bernoulli(sigmoid(z))
//! ```
//!
//! Each categorical field has its own cardinality (small, medium or large), a Zipf-like value
//! popularity and a weight per value (a missing value has a weight too). Most of the signal sits
//! in values frequent enough to be learned from tens of thousands of lines; rare values of the
//! large fields act as noise, as in real data. The bias is solved once so the mean click rate
//! is close to the requested one.
//!
//! Everything is derived from the seed with a small generator written here, so a given
//! [`SynthOptions`] value always produces the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::rng::{mix64, SplitMix64};

use super::criteo::{CATEGORICAL_FIELDS, DENSE_FIELDS};

/// Options of [`write_synthetic`].
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// Number of lines to write.
    pub lines: u64,
    /// Seed of the hidden model and of the samples; the same seed gives the same file.
    pub seed: u64,
    /// Target mean click rate, strictly between 0 and 1.
    pub ctr: f64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions { lines: 100_000, seed: 42, ctr: 0.25 }
    }
}

/// Writes a synthetic labeled Criteo format file to `path`; returns the number of lines written.
///
/// The output is deterministic for a given `options` value.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `options.ctr` is not strictly between 0 and 1, and
/// [`Error::Io`] with op `create` or `write` if the file cannot be created or written.
pub fn write_synthetic(path: &Path, options: &SynthOptions) -> Result<u64> {
    check_ctr(options.ctr).map_err(Error::InvalidArgument)?;
    let file = File::create(path).map_err(|e| Error::io("create", path, e))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    // write_synthetic_to flushes, so every write error surfaces here rather than on drop.
    write_synthetic_to(&mut out, options).map_err(|e| Error::io("write", path, e))
}

/// Writes synthetic labeled Criteo format lines to `out`; returns the number of lines written.
///
/// Output is written in large chunks, so `out` need not be buffered. `out` is flushed at the end.
///
/// # Errors
///
/// Any error of `out`, and [`std::io::ErrorKind::InvalidInput`] if `options.ctr` is not strictly
/// between 0 and 1.
pub fn write_synthetic_to(out: &mut impl Write, options: &SynthOptions) -> std::io::Result<u64> {
    check_ctr(options.ctr)
        .map_err(|reason| std::io::Error::new(std::io::ErrorKind::InvalidInput, reason))?;
    let model = Model::new(options.seed, options.ctr);
    let mut rng = Rng::new(options.seed ^ STREAM_SALT);
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 1024);
    let mut sample = Sample::default();
    for _ in 0..options.lines {
        model.draw(&mut rng, &mut sample);
        let clicked = rng.unit() < sigmoid(sample.logit + model.bias);
        model.format(&sample, clicked, &mut chunk);
        if chunk.len() >= CHUNK_BYTES {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    out.write_all(&chunk)?;
    out.flush()?;
    Ok(options.lines)
}

/// Size of the chunks handed to the writer.
const CHUNK_BYTES: usize = 1 << 16;

/// Salts that give the model, the calibration sample and the output independent streams.
const MODEL_SALT: u64 = 0x6d6f_6465_6c00_0001;
const CALIBRATION_SALT: u64 = 0x6361_6c69_6200_0002;
const STREAM_SALT: u64 = 0x7374_7265_616d_0003;

/// Lines drawn to solve the bias; enough for the mean click rate to be within about 0.005.
const CALIBRATION_LINES: usize = 16_384;

/// Rank used for the weight of a missing value.
const MISSING_RANK: u32 = u32::MAX;

fn check_ctr(ctr: f64) -> std::result::Result<(), String> {
    if ctr > 0.0 && ctr < 1.0 {
        Ok(())
    } else {
        Err(format!("synthetic ctr must be strictly between 0 and 1, got {ctr}"))
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Hash of a key and two values; used for values that must not depend on sampling order
/// (weights of a field value), so they need no tables.
fn hash3(key: u64, a: u64, b: u64) -> u64 {
    mix64(mix64(key ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ b)
}

/// A bijective mix of 32 bits, so distinct ranks of a field print as distinct tokens.
fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x21f0_aaad);
    x ^= x >> 15;
    x = x.wrapping_mul(0x735a_2d97);
    x ^ (x >> 15)
}

/// An approximately standard normal number from 64 random bits: the sum of four 16-bit
/// uniforms, rescaled (Irwin-Hall). Bounded by about +-3.5, which suits weights well.
fn normal_from_bits(bits: u64) -> f64 {
    let sum: f64 = (0..4).map(|i| ((bits >> (16 * i)) & 0xffff) as f64).sum();
    // Each part is uniform on 0..65536 with variance 65536^2 / 12; four have variance / 3.
    (sum / 65536.0 - 2.0) * 3f64.sqrt()
}

/// The shared splitmix64 stream, with the draws the generator needs.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn unit(&mut self) -> f64 {
        self.0.unit()
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi].
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        lo + (((self.next_u64() >> 32) * span) >> 32) as u32
    }

    fn normal(&mut self) -> f64 {
        normal_from_bits(self.next_u64())
    }
}

/// Hidden parameters of one categorical field.
struct CatField {
    /// Number of distinct values.
    cardinality: u32,
    /// Popularity skew: rank = floor(cardinality * u^skew); larger is more concentrated.
    skew: f64,
    /// Probability that the value is missing.
    missing: f64,
    /// Standard deviation of the per-value weights.
    scale: f64,
    /// Key of the per-value weights.
    weight_key: u64,
    /// Offset that, with [`mix32`], turns a rank into the printed token.
    token_key: u32,
}

impl CatField {
    fn weight(&self, rank: u32) -> f64 {
        self.scale * normal_from_bits(hash3(self.weight_key, u64::from(rank), 0))
    }
}

/// Hidden parameters of one dense field: x = floor(exp(mu + sigma * n)) - 1, n standard normal.
struct DenseField {
    mu: f64,
    sigma: f64,
    missing: f64,
    /// Effect of ln(1 + x) on the logit.
    beta: f64,
}

/// A pairwise effect between two categorical fields, learnable only from the pair.
struct Interaction {
    a: usize,
    b: usize,
    scale: f64,
    key: u64,
}

/// Size classes of the categorical fields, in column order: `S`mall 3..30, `M`edium
/// 100..5000, `L`arge 10k..50k. Fixed so that every seed has the same shape.
const CLASSES: &[u8; CATEGORICAL_FIELDS] = b"SMLSMSLMSMMLMSLMSLSMLMLMSL";

/// Categorical fields that are often missing (like C19..C26 of the real data).
const OFTEN_MISSING: [usize; 6] = [18, 19, 21, 22, 24, 25];

/// Categorical fields whose value carries no signal.
const NOISE_FIELDS: [usize; 3] = [7, 15, 23];

/// Pairs of small fields with an interaction effect.
const INTERACTIONS: [(usize, usize); 3] = [(0, 3), (5, 8), (13, 16)];

/// Dense fields with an effect on the logit, and the signed effect sizes.
const DENSE_EFFECTS: [(usize, f64); 4] = [(0, 0.25), (2, -0.2), (5, 0.15), (10, -0.15)];

/// The hidden click model.
struct Model {
    categorical: Vec<CatField>,
    dense: Vec<DenseField>,
    interactions: Vec<Interaction>,
    bias: f64,
    /// Tokens of the most popular ranks of each field, pre-formatted: most draws hit them.
    token_cache: Vec<Vec<[u8; 8]>>,
}

/// One drawn line before formatting.
#[derive(Default)]
struct Sample {
    /// Rank of each categorical value; `None` if missing.
    ranks: [Option<u32>; CATEGORICAL_FIELDS],
    /// Dense values; `None` if missing.
    dense: [Option<u64>; DENSE_FIELDS],
    /// Logit without the bias.
    logit: f64,
}

/// Ranks below this are formatted once and cached.
const TOKEN_CACHE_RANKS: u32 = 4096;

impl Model {
    fn new(seed: u64, ctr: f64) -> Model {
        let mut rng = Rng::new(seed ^ MODEL_SALT);
        let categorical: Vec<CatField> = CLASSES
            .iter()
            .enumerate()
            .map(|(f, class)| {
                let (cardinality, skew) = match class {
                    b'S' => (rng.int(3, 30), rng.range(1.0, 2.0)),
                    b'M' => (rng.int(100, 5000), rng.range(2.0, 3.5)),
                    _ => (rng.int(10_000, 50_000), rng.range(3.0, 5.0)),
                };
                let missing = if OFTEN_MISSING.contains(&f) {
                    rng.range(0.2, 0.5)
                } else {
                    rng.range(0.0, 0.02)
                };
                let scale = if NOISE_FIELDS.contains(&f) { 0.0 } else { rng.range(0.2, 0.7) };
                let weight_key = rng.next_u64();
                let token_key = (rng.next_u64() >> 32) as u32;
                CatField { cardinality, skew, missing, scale, weight_key, token_key }
            })
            .collect();
        let dense = (0..DENSE_FIELDS)
            .map(|j| {
                let beta = DENSE_EFFECTS.iter().find(|(k, _)| *k == j).map_or(0.0, |(_, b)| *b);
                DenseField {
                    mu: rng.range(0.0, 4.0),
                    sigma: rng.range(0.6, 1.6),
                    missing: rng.range(0.0, 0.4),
                    beta,
                }
            })
            .collect();
        let interactions = INTERACTIONS
            .iter()
            .map(|&(a, b)| Interaction { a, b, scale: rng.range(0.4, 0.8), key: rng.next_u64() })
            .collect();
        let token_cache = categorical
            .iter()
            .map(|field: &CatField| {
                (0..field.cardinality.min(TOKEN_CACHE_RANKS))
                    .map(|rank| hex8(mix32(rank.wrapping_add(field.token_key))))
                    .collect()
            })
            .collect();
        let mut model = Model { categorical, dense, interactions, bias: 0.0, token_cache };
        model.bias = model.solve_bias(seed, ctr);
        model
    }

    /// Finds the bias whose mean click probability over a calibration sample is `ctr`.
    fn solve_bias(&self, seed: u64, ctr: f64) -> f64 {
        let mut rng = Rng::new(seed ^ CALIBRATION_SALT);
        let mut sample = Sample::default();
        let logits: Vec<f64> = (0..CALIBRATION_LINES)
            .map(|_| {
                self.draw(&mut rng, &mut sample);
                sample.logit
            })
            .collect();
        let (mut lo, mut hi) = (-40.0f64, 40.0f64);
        // The mean probability is increasing in the bias, so bisection converges.
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            let mean = logits.iter().map(|z| sigmoid(z + mid)).sum::<f64>() / logits.len() as f64;
            if mean < ctr {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// Draws one line's features and its logit (without the bias) into `sample`.
    fn draw(&self, rng: &mut Rng, sample: &mut Sample) {
        let mut logit = 0.0;
        for (field, rank) in self.categorical.iter().zip(sample.ranks.iter_mut()) {
            // Draw both numbers every time so the stream does not depend on the outcome.
            let missing = rng.unit() < field.missing;
            let u = rng.unit();
            if missing {
                *rank = None;
                logit += field.weight(MISSING_RANK);
            } else {
                let r = (f64::from(field.cardinality) * u.powf(field.skew)) as u32;
                let r = r.min(field.cardinality - 1);
                *rank = Some(r);
                logit += field.weight(r);
            }
        }
        for pair in &self.interactions {
            if let (Some(a), Some(b)) = (sample.ranks[pair.a], sample.ranks[pair.b]) {
                let bits = hash3(pair.key, u64::from(a), u64::from(b));
                logit += pair.scale * normal_from_bits(bits);
            }
        }
        for (field, value) in self.dense.iter().zip(sample.dense.iter_mut()) {
            let missing = rng.unit() < field.missing;
            let n = rng.normal();
            if missing {
                *value = None;
            } else {
                // Capped so the exponent cannot produce absurd values.
                let x = ((field.mu + field.sigma * n).exp() - 1.0).clamp(0.0, 1e7) as u64;
                *value = Some(x);
                logit += field.beta * (x as f64).ln_1p();
            }
        }
        sample.logit = logit;
    }

    /// Appends the Criteo line of `sample` to `out`.
    fn format(&self, sample: &Sample, clicked: bool, out: &mut Vec<u8>) {
        out.push(if clicked { b'1' } else { b'0' });
        for value in &sample.dense {
            out.push(b'\t');
            if let Some(x) = value {
                push_decimal(*x, out);
            }
        }
        for (f, rank) in sample.ranks.iter().enumerate() {
            out.push(b'\t');
            if let Some(r) = rank {
                match self.token_cache[f].get(*r as usize) {
                    Some(token) => out.extend_from_slice(token),
                    None => {
                        let key = self.categorical[f].token_key;
                        out.extend_from_slice(&hex8(mix32(r.wrapping_add(key))));
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

/// Eight lower-case hex digits, like the tokens of the real data.
fn hex8(x: u32) -> [u8; 8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    std::array::from_fn(|i| DIGITS[((x >> (28 - 4 * i)) & 0xf) as usize])
}

/// Appends `x` in decimal without going through the formatting machinery.
fn push_decimal(mut x: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{ReadOptions, Reader};
    use crate::Schema;

    fn generate(options: &SynthOptions) -> Vec<u8> {
        let mut out = Vec::new();
        let n = write_synthetic_to(&mut out, options).expect("should write to memory");
        assert_eq!(n, options.lines);
        out
    }

    #[test]
    fn deterministic_for_a_seed() {
        let options = SynthOptions { lines: 3000, ..SynthOptions::default() };
        let a = generate(&options);
        let b = generate(&options);
        assert_eq!(a, b);
        let c = generate(&SynthOptions { seed: 43, ..options.clone() });
        assert_ne!(a, c);
        // A shorter file is a prefix of a longer one with the same seed.
        let d = generate(&SynthOptions { lines: 1000, ..options });
        assert!(a.starts_with(&d));
    }

    #[test]
    fn file_has_requested_lines_and_parses() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = dir.path().join("synth.txt");
        let options = SynthOptions { lines: 5000, seed: 9, ctr: 0.3 };
        assert_eq!(write_synthetic(&path, &options).expect("should write"), 5000);
        let bytes = std::fs::read(&path).expect("should read back");
        assert_eq!(bytes, generate(&options));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 5000);
        assert!(bytes.is_ascii());

        let schema = Schema::criteo_default();
        let mut reader = Reader::open(&path, &schema, ReadOptions::default()).expect("should open");
        let mut count = 0u64;
        let mut missing_cat = 0u64;
        while let Some(sample) = reader.next_sample().expect("every line should parse") {
            count += 1;
            assert!(sample.label.is_some());
            missing_cat += sample.ids.iter().filter(|ids| ids.is_empty()).count() as u64;
        }
        assert_eq!(count, 5000);
        assert_eq!(reader.skipped_lines(), 0);
        assert!(missing_cat > 0, "some categorical values should be missing");

        // Every line has 40 columns, tokens are 8 hex digits, dense values are integers >= 0.
        let mut missing_dense = 0usize;
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let cols: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            assert_eq!(cols.len(), 40);
            assert!(cols[1..14].iter().all(|c| c.iter().all(u8::is_ascii_digit)));
            assert!(
                cols[14..]
                    .iter()
                    .all(|c| c.is_empty()
                        || (c.len() == 8 && c.iter().all(|b| b.is_ascii_hexdigit())))
            );
            missing_dense += cols[1..14].iter().filter(|c| c.is_empty()).count();
        }
        assert!(missing_dense > 0, "some dense values should be missing");
    }

    #[test]
    fn zero_lines_writes_nothing() {
        let out = generate(&SynthOptions { lines: 0, ..SynthOptions::default() });
        assert!(out.is_empty());
    }

    #[test]
    fn label_mean_is_near_ctr() {
        for ctr in [0.25, 0.1, 0.5] {
            let out = generate(&SynthOptions { lines: 20_000, seed: 1, ctr });
            let clicks = out
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .filter(|l| l[0] == b'1')
                .count();
            let mean = clicks as f64 / 20_000.0;
            assert!((mean - ctr).abs() < 0.05, "ctr {ctr}: mean {mean}");
        }
    }

    #[test]
    fn bad_ctr_is_rejected() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        for ctr in [0.0, 1.0, -0.5, f64::NAN] {
            let options = SynthOptions { ctr, ..SynthOptions::default() };
            let err = write_synthetic(&dir.path().join("x"), &options).expect_err("should fail");
            assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
            let err = write_synthetic_to(&mut Vec::new(), &options).expect_err("should fail");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn tokens_of_distinct_ranks_differ() {
        let model = Model::new(42, 0.25);
        for field in &model.categorical {
            let mut tokens: Vec<u32> =
                (0..field.cardinality).map(|r| mix32(r.wrapping_add(field.token_key))).collect();
            tokens.sort_unstable();
            tokens.dedup();
            assert_eq!(tokens.len(), field.cardinality as usize);
        }
    }

    #[test]
    fn decimal_and_hex_formatting() {
        let mut out = Vec::new();
        for x in [0u64, 7, 10, 1234567, u64::MAX] {
            out.clear();
            push_decimal(x, &mut out);
            assert_eq!(out, x.to_string().into_bytes());
        }
        assert_eq!(&hex8(0x0012_abef), b"0012abef");
    }
}
