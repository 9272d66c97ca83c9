//! The model schema: feature groups, their fields, `dim`, pooling, optimizers and hashing.
//!
//! A schema is a TOML file. It is stored in the database when a table is created, and every
//! later open compares the structural parts (groups, fields, dims, pooling, optimizer kinds,
//! MLP shape, seeds) with the stored copy. Learning rates may change between runs.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::input::criteo;
use crate::input::spec::Format;
pub use crate::input::spec::InputSettings;

/// Largest MLP accepted (parameters); with Adam's two moments this is 1.2 GiB of f32.
const MAX_MLP_PARAMS: usize = 100_000_000;

/// How a group combines the rows of its features in one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Sum of the rows (each scaled by its weight when the input gives weights).
    Sum,
    /// Mean of the rows present in the sample (zero vector when none is present); with
    /// weights, `sum(w * row) / sum(w)`.
    Mean,
    /// Sum divided by the square root of the number of rows; with weights,
    /// `sum(w * row) / sqrt(sum(w^2))`.
    Sqrtn,
}

/// The sparse optimizer that updates embedding rows in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Row-wise Adagrad: one accumulator per row, `acc += mean(g^2)`,
    /// `w -= lr * g / (sqrt(acc) + eps)`.
    Adagrad,
    /// Plain stochastic gradient descent, `w -= lr * g`; no state.
    Sgd,
}

impl OptimizerKind {
    /// Number of `f32` state values stored with each row.
    pub fn state_len(self) -> usize {
        match self {
            OptimizerKind::Adagrad => 1,
            OptimizerKind::Sgd => 0,
        }
    }

    /// The on-disk tag of this optimizer in a row header.
    pub(crate) fn tag(self) -> u8 {
        match self {
            OptimizerKind::Adagrad => 1,
            OptimizerKind::Sgd => 2,
        }
    }
}

/// Settings of a sparse optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseOptimizer {
    /// Which update rule.
    #[serde(default = "default_kind")]
    pub kind: OptimizerKind,
    /// Learning rate.
    #[serde(default = "default_sparse_lr")]
    pub lr: f32,
    /// Adagrad's epsilon (ignored by SGD).
    #[serde(default = "default_eps")]
    pub eps: f32,
}

impl Default for SparseOptimizer {
    fn default() -> Self {
        SparseOptimizer { kind: default_kind(), lr: default_sparse_lr(), eps: default_eps() }
    }
}

fn default_kind() -> OptimizerKind {
    OptimizerKind::Adagrad
}
fn default_sparse_lr() -> f32 {
    0.05
}
fn default_eps() -> f32 {
    1e-8
}
fn default_dim() -> usize {
    16
}
fn default_pooling() -> Pooling {
    Pooling::Sum
}
fn default_hidden() -> Vec<usize> {
    vec![200, 80]
}
fn default_mlp_lr() -> f32 {
    1e-3
}
fn default_init_range() -> f32 {
    0.01
}
/// One feature group: the fields whose rows are pooled together into one vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Name, unique in the schema; also names the column family (`[A-Za-z0-9_.-]`, 1..=64).
    pub name: String,
    /// Input fields hashed into this group (for Criteo: `C1`..`C26`; see
    /// [`InputSettings`] for the other formats).
    pub fields: Vec<String>,
    /// Width of each row.
    #[serde(default = "default_dim")]
    pub dim: usize,
    /// How the rows of a sample are combined.
    #[serde(default = "default_pooling")]
    pub pooling: Pooling,
    /// Per-group optimizer; the schema's `[optimizer]` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<SparseOptimizer>,
}

/// The dense part of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSettings {
    /// Hidden layer widths; the output layer (1 logit) is implied.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Adam learning rate.
    #[serde(default = "default_mlp_lr")]
    pub lr: f32,
}

impl Default for MlpSettings {
    fn default() -> Self {
        MlpSettings { hidden: default_hidden(), lr: default_mlp_lr() }
    }
}

/// A whole model schema, as read from TOML.
///
/// ```
/// # fn main() -> gwen::Result<()> {
/// let schema = gwen::Schema::from_toml_str(r#"
///     [[groups]]
///     name = "ad"
///     fields = ["C1", "C2"]
/// "#)?;
/// assert_eq!(schema.groups[0].dim, 16);
/// assert_eq!(schema.mlp.hidden, vec![200, 80]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Seed of the row and MLP initialisation.
    #[serde(default)]
    pub seed: u64,
    /// Seed of the feature hash (see [`crate::hash_feature`]).
    #[serde(default)]
    pub hash_seed: u64,
    /// Rows start uniform in `[-init_range, init_range]`.
    #[serde(default = "default_init_range")]
    pub init_range: f32,
    /// Feature admission: an id gets a stored row only after this many sightings in training
    /// batches (0 or 1: every id at once). Until then it reads as the zero vector.
    #[serde(default)]
    pub min_count: u32,
    /// Input format.
    #[serde(default)]
    pub input: InputSettings,
    /// The default sparse optimizer of every group.
    #[serde(default)]
    pub optimizer: SparseOptimizer,
    /// The MLP on top of the pooled groups and dense inputs.
    #[serde(default)]
    pub mlp: MlpSettings,
    /// Feature groups, in the order their vectors enter the MLP.
    pub groups: Vec<Group>,
}

impl Schema {
    /// Parses and validates a schema from TOML text.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] for TOML errors, unknown keys and invalid values (an empty group, a
    /// field in two groups, a field the input format does not have, a zero `dim`, ...).
    pub fn from_toml_str(text: &str) -> Result<Schema> {
        let schema: Schema = toml::from_str(text).map_err(|e| {
            // toml's own rendering spans several lines; keep one: "line L column C: message".
            let at = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line} column {column}: ")
            });
            Error::Schema(format!("{}{}", at.unwrap_or_default(), e.message().trim()))
        })?;
        schema.validate()?;
        Ok(schema)
    }

    /// Reads a schema file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, [`Error::Schema`] naming the file otherwise.
    pub fn from_path(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Schema::from_toml_str(&text).map_err(|e| match e {
            Error::Schema(m) => Error::Schema(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The built-in Criteo schema: one group per categorical field, dim 16, sum pooling.
    pub fn criteo_default() -> Schema {
        let groups = (0..criteo::CATEGORICAL_FIELDS)
            .map(|k| {
                let name = criteo::categorical_field_name(k);
                Group {
                    fields: vec![name.clone()],
                    name,
                    dim: default_dim(),
                    pooling: Pooling::Sum,
                    optimizer: None,
                }
            })
            .collect();
        Schema {
            seed: 0,
            hash_seed: 0,
            init_range: default_init_range(),
            min_count: 0,
            input: InputSettings::default(),
            optimizer: SparseOptimizer::default(),
            mlp: MlpSettings::default(),
            groups,
        }
    }

    /// The schema as TOML text (the form stored in the database).
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self).expect("should serialize a schema of plain values")
    }

    /// Number of dense inputs the input format provides.
    pub fn dense_width(&self) -> usize {
        match self.input.format {
            Format::Criteo => criteo::DENSE_FIELDS,
            Format::Csv => self.input.dense.len(),
            Format::Libsvm | Format::Libffm => 0,
        }
    }

    /// Width of the MLP input: the pooled groups plus the dense inputs.
    pub fn mlp_input_width(&self) -> usize {
        self.groups.iter().map(|g| g.dim).sum::<usize>() + self.dense_width()
    }

    /// The optimizer of group `g` (its own, or the schema default).
    pub fn group_optimizer(&self, g: usize) -> SparseOptimizer {
        self.groups[g].optimizer.unwrap_or(self.optimizer)
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Schema(m));
        let input = self.input.resolve()?;
        if self.groups.is_empty() {
            return bad("no [[groups]]".into());
        }
        if !(self.init_range.is_finite() && self.init_range >= 0.0) {
            return bad(format!("init_range {} must be finite and >= 0", self.init_range));
        }
        if !(self.mlp.lr.is_finite() && self.mlp.lr > 0.0) {
            return bad(format!("mlp.lr {} must be finite and > 0", self.mlp.lr));
        }
        if self.mlp.hidden.iter().any(|&h| h == 0 || h > 65_536) {
            return bad(format!("mlp.hidden {:?}: widths must be in 1..=65536", self.mlp.hidden));
        }
        let width: usize =
            self.groups.iter().map(|g| g.dim.min(4096)).sum::<usize>() + self.dense_width();
        let mut params = 0usize;
        let mut fan_in = width;
        for &h in self.mlp.hidden.iter().chain(std::iter::once(&1)) {
            params = params.saturating_add(fan_in.saturating_mul(h).saturating_add(h));
            fan_in = h;
        }
        if params > MAX_MLP_PARAMS {
            return bad(format!(
                "the MLP would have {params} parameters (input width {width}, hidden {:?}); \
                 at most {MAX_MLP_PARAMS} are allowed",
                self.mlp.hidden
            ));
        }
        check_optimizer("optimizer", &self.optimizer)?;
        let mut seen_fields: HashMap<&str, &str> = HashMap::new();
        let mut seen_names = HashMap::new();
        for group in &self.groups {
            validate_group(group, &mut seen_fields)?;
            for field in &group.fields {
                input.check_group_field(&group.name, field)?;
            }
            if seen_names.insert(group.name.as_str(), ()).is_some() {
                return bad(format!("group {}: name used twice", group.name));
            }
        }
        Ok(())
    }

    /// Compares the structural parts with `stored`; `None` when compatible, else the first
    /// difference in words (`group C1: dim 16 stored, 8 given`).
    pub fn difference_from(&self, stored: &Schema) -> Option<String> {
        let differ =
            |what: &str, s: String, g: String| Some(format!("{what}: {s} stored, {g} given"));
        if stored.seed != self.seed {
            return differ("seed", stored.seed.to_string(), self.seed.to_string());
        }
        if stored.hash_seed != self.hash_seed {
            return differ("hash_seed", stored.hash_seed.to_string(), self.hash_seed.to_string());
        }
        if stored.init_range != self.init_range {
            return differ(
                "init_range",
                stored.init_range.to_string(),
                self.init_range.to_string(),
            );
        }
        if stored.input.format != self.input.format {
            let name = |s: &Schema| format!("{:?}", s.input.format).to_lowercase();
            return differ("input.format", name(stored), name(self));
        }
        if stored.dense_width() != self.dense_width() {
            let (s, g) = (stored.dense_width(), self.dense_width());
            return differ("dense inputs", s.to_string(), g.to_string());
        }
        if stored.input != self.input {
            // The stored `[input]` is what `eval` and `predict` read later files with, and what
            // the weights mean: a different layout must be a different database.
            let table = |s: &Schema| match toml::Value::try_from(&s.input) {
                Ok(toml::Value::Table(t)) => t,
                _ => toml::Table::new(),
            };
            let (st, gt) = (table(stored), table(self));
            let keys = ["format", "delimiter", "header", "columns", "quote", "missing"];
            let keys = keys.into_iter().chain(["index_base", "label", "dense", "fields"]);
            let shown = |t: &toml::Table, key: &str| match t.get(key) {
                Some(v) => format!("{key} = {v}"),
                None => format!("no {key}"),
            };
            let key = keys.into_iter().find(|k| st.get(*k) != gt.get(*k)).unwrap_or("format");
            return differ("[input]", shown(&st, key), shown(&gt, key));
        }
        if stored.mlp.hidden != self.mlp.hidden {
            let (s, g) = (&stored.mlp.hidden, &self.mlp.hidden);
            return differ("mlp.hidden", format!("{s:?}"), format!("{g:?}"));
        }
        let names = |s: &Schema| s.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        if names(stored) != names(self) {
            return differ("groups", format!("{:?}", names(stored)), format!("{:?}", names(self)));
        }
        for (g, (s, n)) in stored.groups.iter().zip(&self.groups).enumerate() {
            let what = format!("group {}", s.name);
            if s.fields != n.fields {
                return differ(
                    &format!("{what} fields"),
                    format!("{:?}", s.fields),
                    format!("{:?}", n.fields),
                );
            }
            if s.dim != n.dim {
                return differ(&format!("{what} dim"), s.dim.to_string(), n.dim.to_string());
            }
            if s.pooling != n.pooling {
                return differ(
                    &format!("{what} pooling"),
                    format!("{:?}", s.pooling).to_lowercase(),
                    format!("{:?}", n.pooling).to_lowercase(),
                );
            }
            let (so, no) = (stored.group_optimizer(g).kind, self.group_optimizer(g).kind);
            if so != no {
                let (so, no) = (format!("{so:?}").to_lowercase(), format!("{no:?}").to_lowercase());
                return differ(&format!("{what} optimizer"), so, no);
            }
        }
        None
    }
}

fn check_optimizer(what: &str, o: &SparseOptimizer) -> Result<()> {
    if !(o.lr.is_finite() && o.lr > 0.0) {
        return Err(Error::Schema(format!("{what}.lr {} must be finite and > 0", o.lr)));
    }
    if !(o.eps.is_finite() && o.eps > 0.0) {
        return Err(Error::Schema(format!("{what}.eps {} must be finite and > 0", o.eps)));
    }
    Ok(())
}

fn validate_group<'a>(group: &'a Group, seen_fields: &mut HashMap<&'a str, &'a str>) -> Result<()> {
    let name = &group.name;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !name_ok {
        return Err(Error::Schema(format!(
            "group {name:?}: names are 1..=64 characters of [A-Za-z0-9_.-]"
        )));
    }
    if group.fields.is_empty() {
        return Err(Error::Schema(format!("group {name}: no fields")));
    }
    if group.dim == 0 || group.dim > 4096 {
        return Err(Error::Schema(format!("group {name}: dim {} not in 1..=4096", group.dim)));
    }
    if let Some(o) = &group.optimizer {
        check_optimizer(&format!("group {name} optimizer"), o)?;
    }
    for (i, field) in group.fields.iter().enumerate() {
        if group.fields[..i].contains(field) {
            return Err(Error::Schema(format!("group {name}: field {field} listed twice")));
        }
        if let Some(other) = seen_fields.insert(field.as_str(), name.as_str()) {
            return Err(Error::Schema(format!(
                "field {field} is in two groups: {other} and {name}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_round_trips_through_toml() {
        let schema = Schema::criteo_default();
        let again = Schema::from_toml_str(&schema.to_toml_string()).expect("should parse");
        assert_eq!(schema, again);
        assert_eq!(schema.mlp_input_width(), 26 * 16 + 13);
    }

    #[test]
    fn invalid_schemas_name_the_problem() {
        let cases = [
            ("[[groups]]\nname='a'\nfields=['C1']\ndim=0", "dim 0"),
            ("[[groups]]\nname='a'\nfields=['C99']", "C99"),
            (
                "[[groups]]\nname='a'\nfields=['C1']\n[[groups]]\nname='b'\nfields=['C1']",
                "two groups",
            ),
            ("[[groups]]\nname='a'\nfields=['C1']\nbogus=1", "bogus"),
            ("groups = []", "no [[groups]]"),
            ("[[groups]]\nname='a b'\nfields=['C1']", "names are"),
        ];
        for (text, needle) in cases {
            let err = Schema::from_toml_str(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn difference_names_group_and_values() {
        let stored = Schema::criteo_default();
        let mut given = stored.clone();
        given.groups[2].dim = 8;
        let diff = given.difference_from(&stored).expect("should differ");
        assert_eq!(diff, "group C3 dim: 16 stored, 8 given");
        let mut given = stored.clone();
        given.optimizer.lr = 0.5;
        assert_eq!(given.difference_from(&stored), None, "learning rates may change");
    }
}
