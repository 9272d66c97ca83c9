//! The synthetic stream of `gwen bench`: Criteo-shaped batches (26 groups, 13 dense inputs,
//! one id per group per sample) whose ids follow a Zipf law over a 2^40 key space.
//!
//! Per group, a sample draws a rank `k` in `1..2^40` with probability proportional to `k^-s`
//! (exact Zipf, by rejection-inversion) and turns it into an id with a bijection of 40 bits
//! keyed by the group, so distinct ranks are distinct ids and popular ids are spread over the
//! whole key space. Labels come from a hidden logistic rule on the popular ranks of a few
//! groups and one dense input, so the model has something to learn. Ids and the rest (labels,
//! dense values) come from two generators seeded from one seed: the same seed always gives the
//! same stream, and counting distinct ids needs only the id generator.

use std::collections::HashSet;

use gwen::rng::{mix64, SplitMix64};
use gwen::{Batch, GroupIds};

/// Bits of each group's key space: ids are below 2^40.
pub const KEY_BITS: u32 = 40;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;

/// Ranks with a label weight; rarer ranks carry no signal (as rare values in real data).
const WEIGHTED_RANKS: u64 = 2_000;
/// Groups whose ranks carry label weight.
const WEIGHTED_GROUPS: usize = 8;
/// Bias of the hidden logit (mean click rate about 0.3).
const LABEL_BIAS: f64 = -1.0;

/// Salts that give the id and label generators independent streams.
const ID_SALT: u64 = 0x6964_7300_0000_0001;
const REST_SALT: u64 = 0x7265_7374_0000_0002;
const KEY_SALT: u64 = 0x6b65_7973_0000_0003;

/// A bijection of the 40-bit values: xor with a key, then xor-shifts and odd multiplications
/// modulo 2^40 (each step is invertible on 40 bits).
fn permute40(x: u64, key: u64) -> u64 {
    let mut x = (x ^ key) & KEY_MASK;
    x ^= x >> 21;
    x = x.wrapping_mul(0x9e37_79b9_7f4b) & KEY_MASK;
    x ^= x >> 19;
    x = x.wrapping_mul(0x5851_f42d_4c95) & KEY_MASK;
    x ^ (x >> 20)
}

/// `(e^t - 1) / t`, continuous at 0.
fn expm1_over(t: f64) -> f64 {
    if t.abs() < 1e-8 {
        1.0 + t / 2.0
    } else {
        t.exp_m1() / t
    }
}

/// `ln(1 + t) / t`, continuous at 0.
fn ln1p_over(t: f64) -> f64 {
    if t.abs() < 1e-8 {
        1.0 - t / 2.0
    } else {
        t.ln_1p() / t
    }
}

/// Zipf law on `1..=n` with exponent `s`, sampled by rejection-inversion (Hoermann and
/// Derflinger, 1996): invert the integral of the hat `x^-s` and accept the rank when the
/// uniform falls in the part of its interval that carries exactly `k^-s`.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    s: f64,
    lower: f64,
    upper: f64,
    squeeze: f64,
}

impl Zipf {
    /// The law on `1..=n`; `n >= 1`, `s > 0`.
    pub fn new(n: u64, s: f64) -> Self {
        let mut z = Zipf { n: n as f64, s, lower: 0.0, upper: 0.0, squeeze: 0.0 };
        z.lower = z.integral(1.5) - 1.0;
        z.upper = z.integral(z.n + 0.5);
        z.squeeze = 2.0 - z.integral_inverse(z.integral(2.5) - z.mass(2.0));
        z
    }

    fn mass(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// `int_1^x t^-s dt`.
    fn integral(&self, x: f64) -> f64 {
        let ln = x.ln();
        expm1_over((1.0 - self.s) * ln) * ln
    }

    fn integral_inverse(&self, y: f64) -> f64 {
        (ln1p_over((1.0 - self.s) * y) * y).exp()
    }

    fn sample(&self, rng: &mut SplitMix64) -> u64 {
        loop {
            let u = self.upper + rng.unit() * (self.lower - self.upper);
            let x = self.integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.integral(k + 0.5) - self.mass(k) {
                return k as u64;
            }
        }
    }
}

/// What fixes a stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamOptions {
    /// Seed of everything.
    pub seed: u64,
    /// Zipf exponent of the ranks.
    pub exponent: f64,
    /// Feature groups (one id each per sample).
    pub groups: usize,
    /// Dense inputs per sample.
    pub dense: usize,
}

/// The stream, batch after batch.
pub struct Stream {
    options: StreamOptions,
    zipf: Zipf,
    ids: SplitMix64,
    rest: SplitMix64,
    keys: Vec<u64>,
    ranks: Vec<u64>,
}

impl Stream {
    /// The stream from its start.
    pub fn new(options: StreamOptions) -> Self {
        let keys = (0..options.groups as u64)
            .map(|g| mix64(options.seed ^ KEY_SALT ^ g.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        Stream {
            zipf: Zipf::new(KEY_MASK, options.exponent),
            ids: SplitMix64::new(options.seed ^ ID_SALT),
            rest: SplitMix64::new(options.seed ^ REST_SALT),
            keys,
            ranks: Vec::new(),
            options,
        }
    }

    /// Draws the ranks of the next `len` samples into `self.ranks`, sample-major.
    fn draw_ranks(&mut self, len: usize) {
        self.ranks.clear();
        for _ in 0..len * self.options.groups {
            self.ranks.push(self.zipf.sample(&mut self.ids));
        }
    }

    /// The id of rank `rank` in group `g`.
    pub fn id(&self, g: usize, rank: u64) -> u64 {
        permute40(rank, self.keys[g])
    }

    /// A stand-in for `id` of group `g` that is almost surely not in the stream: `id` mapped
    /// once more with another key. Distinct ids give distinct stand-ins, spread over the key
    /// range like real ids; one collides with a drawn id with probability about draws / 2^40.
    pub fn absent_id(&self, g: usize, id: u64) -> u64 {
        permute40(id, !self.keys[g])
    }

    /// The next batch of `len` samples.
    pub fn next_batch(&mut self, len: usize) -> Batch {
        self.draw_ranks(len);
        let groups = self.options.groups;
        let mut out: Vec<GroupIds> = (0..groups)
            .map(|_| GroupIds::new(Vec::with_capacity(len + 1), Vec::with_capacity(len)))
            .collect();
        for group in &mut out {
            group.offsets.push(0);
        }
        let mut labels = Vec::with_capacity(len);
        let mut dense = Vec::with_capacity(len * self.options.dense);
        for i in 0..len {
            let mut logit = LABEL_BIAS;
            for (g, group) in out.iter_mut().enumerate() {
                let rank = self.ranks[i * groups + g];
                group.ids.push(self.id(g, rank));
                group.offsets.push(group.ids.len() as u32);
                if g < WEIGHTED_GROUPS && rank <= WEIGHTED_RANKS {
                    logit += self.weight(g, rank);
                }
            }
            let first = dense.len();
            for _ in 0..self.options.dense {
                // Already in the engine's log domain: ln(1 + x) of a count, 0..4.
                dense.push((4.0 * self.rest.unit()) as f32);
            }
            if let Some(&x) = dense.get(first) {
                logit += 0.4 * (f64::from(x) - 2.0);
            }
            let click = self.rest.unit() < 1.0 / (1.0 + (-logit).exp());
            labels.push(if click { 1.0 } else { 0.0 });
        }
        Batch { len, labels, dense, groups: out }
    }

    /// The hidden label weight of a popular rank: roughly normal, scale 0.7.
    fn weight(&self, g: usize, rank: u64) -> f64 {
        let bits = mix64(self.keys[g] ^ rank.wrapping_mul(0xd6e8_feb8_6659_fd93));
        let sum: f64 = (0..4).map(|i| ((bits >> (16 * i)) & 0xffff) as f64).sum();
        0.7 * (sum / 65536.0 - 2.0) * 3f64.sqrt()
    }
}

/// How long a stream must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Samples in the stream (whole batches).
    pub samples: u64,
    /// Distinct (group, id) pairs in it: the rows training materializes.
    pub rows: u64,
}

/// Counts distinct ids batch by batch until at least `rows` exist; `None` when more than
/// `max_samples` samples would be needed.
pub fn plan(options: StreamOptions, batch: usize, rows: u64, max_samples: u64) -> Option<Plan> {
    let mut stream = Stream::new(options);
    let capacity = usize::try_from(rows).unwrap_or(usize::MAX).saturating_add(batch * 64);
    let mut seen: HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>> =
        HashSet::with_capacity_and_hasher(capacity, Default::default());
    let mut samples = 0u64;
    while (seen.len() as u64) < rows {
        if samples >= max_samples {
            return None;
        }
        stream.draw_ranks(batch);
        for (j, &rank) in stream.ranks.iter().enumerate() {
            let g = (j % options.groups) as u64;
            seen.insert(g << KEY_BITS | rank);
        }
        samples += batch as u64;
    }
    Some(Plan { samples, rows: seen.len() as u64 })
}

/// Hasher of the `(group << 40 | rank or id)` keys the bench counts: ranks are small
/// integers, so they are mixed before they index a table.
#[derive(Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = mix64(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> StreamOptions {
        StreamOptions { seed: 7, exponent: 1.05, groups: 26, dense: 13 }
    }

    #[test]
    fn permutation_is_injective_and_stays_in_40_bits() {
        let key = mix64(3);
        let mut seen = HashSet::new();
        for x in (0..200_000u64).chain(KEY_MASK - 1000..=KEY_MASK) {
            let y = permute40(x, key);
            assert!(y <= KEY_MASK);
            assert!(seen.insert(y), "collision at {x}");
        }
    }

    #[test]
    fn zipf_frequencies_follow_the_law() {
        let z = Zipf::new(1000, 1.05);
        let mut rng = SplitMix64::new(1);
        let mut counts = vec![0u64; 1001];
        let n = 400_000;
        for _ in 0..n {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        let norm: f64 = (1..=1000).map(|k| (k as f64).powf(-1.05)).sum();
        for k in [1usize, 2, 10, 100] {
            let expected = (k as f64).powf(-1.05) / norm * n as f64;
            let got = counts[k] as f64;
            assert!((got - expected).abs() < 5.0 * expected.sqrt() + 1.0, "{k}: {got} {expected}");
        }
        assert_eq!(counts[0], 0);
    }

    #[test]
    fn stream_is_reproducible_and_well_formed() {
        let a = Stream::new(options()).next_batch(64);
        let b = Stream::new(options()).next_batch(64);
        assert_eq!(a, b);
        a.validate(&gwen::Schema::criteo_default(), true).expect("valid batch");
        assert!(a.groups.iter().flat_map(|g| &g.ids).all(|&id| id <= KEY_MASK));
        let clicks = a.labels.iter().filter(|&&y| y == 1.0).count();
        assert!(clicks > 0 && clicks < 64);
    }

    #[test]
    fn plan_counts_distinct_rows_of_the_stream() {
        let p = plan(options(), 32, 5_000, 1_000_000).expect("feasible");
        assert!(p.rows >= 5_000 && p.samples % 32 == 0);
        let mut stream = Stream::new(options());
        let mut seen = HashSet::new();
        for _ in 0..p.samples / 32 {
            let batch = stream.next_batch(32);
            for (g, group) in batch.groups.iter().enumerate() {
                seen.extend(group.ids.iter().map(|&id| (g, id)));
            }
        }
        assert_eq!(seen.len() as u64, p.rows);
        assert_eq!(plan(options(), 32, 5_000, 32), None);
    }
}
