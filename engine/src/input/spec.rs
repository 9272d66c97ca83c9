//! The `[input]` section of a schema: which file format, which column feeds what.
//!
//! Four formats share one description:
//!
//! - `csv`: delimited text (any one-byte delimiter, optional header, RFC 4180 quoting). The
//!   label, the dense inputs and the categorical fields are mapped to columns by header name or
//!   by 0-based index. A field may be multi-valued (items split by a separator) and its items
//!   may carry weights (`id:weight`).
//! - `criteo`: a preset of `csv` for the Criteo DAC layout (tab-separated, no header, columns
//!   `label, I1..I13, C1..C26`, dense columns as `ln(1 + max(x, 0))`).
//! - `libsvm`: `label idx:val idx:val ...`; fields are index ranges, values are pooling weights.
//! - `libffm`: `label field:idx:val ...`; fields are field numbers, values are pooling weights.
//!
//! The index base of libsvm and libffm files is stated in the schema, never guessed.

use serde::{Deserialize, Serialize};

use super::criteo;
use crate::error::{Error, Result};

/// The input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The Criteo DAC TSV layout; a preset of [`Format::Csv`].
    Criteo,
    /// Delimited text described by the rest of `[input]`.
    Csv,
    /// `label idx:val ...`, whitespace-separated.
    Libsvm,
    /// `label field:idx:val ...`, whitespace-separated.
    Libffm,
}

/// A column named by its header name or by its 0-based position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// 0-based column position.
    Index(usize),
    /// Header name (or a name from `input.columns` when the file has no header).
    Name(String),
}

impl std::fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnRef::Index(i) => write!(f, "column {i}"),
            ColumnRef::Name(name) => write!(f, "column {name:?}"),
        }
    }
}

/// How the label text becomes a 0/1 click.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelMap {
    /// `0` or `1` (also written `0.0`, `1.0`).
    #[default]
    Binary,
    /// `-1` is no click, `1` (or `+1`) a click.
    PlusMinus,
    /// A number; `value >= threshold` is a click (e.g. a rating of 4 or more).
    Threshold,
}

/// Where the label is and how to read it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    /// The label column (`csv` only; libsvm and libffm lines start with the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<ColumnRef>,
    /// How the text maps to 0/1.
    #[serde(default)]
    pub map: LabelMap,
    /// The threshold of [`LabelMap::Threshold`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// The transform applied to a dense input value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// The value as written.
    #[default]
    None,
    /// `ln(1 + max(x, 0))`, for counts.
    Log1p,
    /// `(x - mean) / std` with the schema's `mean` and `std`.
    Standardize,
}

/// One dense input. A missing value enters the model as 0.0, after the transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    /// The column.
    pub column: ColumnRef,
    /// The transform.
    #[serde(default)]
    pub transform: Transform,
    /// Mean of [`Transform::Standardize`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Standard deviation of [`Transform::Standardize`] (> 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
}

/// A categorical field: where its values come from and how they are split.
///
/// In `csv`, a field that groups list but `[[input.fields]]` does not declare is the
/// single-valued column of the same name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The name groups list in `fields`; it also seeds the feature hash.
    pub name: String,
    /// `csv`: the column (default: the column named like the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<ColumnRef>,
    /// `csv`: several columns feeding this one field (e.g. a behaviour sequence spread over
    /// fixed columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnRef>,
    /// `csv`: an inclusive range of 0-based column positions feeding this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_range: Option<[usize; 2]>,
    /// `csv`: the one-character separator of a multi-valued column (e.g. `"|"`, `"^"`, `" "`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// `csv`: items are `value:weight`, split at the last `:`; the weight scales the row in
    /// pooling.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub weighted: bool,
    /// `csv`: tokens meaning "no value" for this field, replacing `input.missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    /// `libsvm`: the inclusive index range of this field, in the file's own numbering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[u64; 2]>,
    /// `libffm`: the field number, in the file's own numbering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<u64>,
}

/// Input format settings (the `[input]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSettings {
    /// The format.
    #[serde(default = "default_format")]
    pub format: Format,
    /// `csv`: the one-character delimiter (`","`, `"\t"`, `";"`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// `csv`: whether the first line names the columns (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// `csv` without a header: the column names, in order. A line with one column fewer is
    /// read as having no label column (the layout of unlabeled test files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// `csv`: the quote character (default `"`); `""` turns quoting off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// `csv`: tokens meaning "no value" (default: the empty string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    /// `libsvm`/`libffm`: the number of the first index (and field), 0 or 1. Required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_base: Option<u64>,
    /// The label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelSpec>,
    /// `csv`: the dense inputs, in the order they enter the MLP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dense: Vec<DenseSpec>,
    /// Categorical field declarations (see [`FieldSpec`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSpec>,
}

fn default_format() -> Format {
    Format::Criteo
}

impl Default for InputSettings {
    fn default() -> Self {
        InputSettings {
            format: default_format(),
            delimiter: None,
            header: None,
            columns: Vec::new(),
            quote: None,
            missing: None,
            index_base: None,
            label: None,
            dense: Vec::new(),
            fields: Vec::new(),
        }
    }
}

impl InputSettings {
    /// The bytes the feature hash of a value reads, given the value as it appears in an input
    /// file: the value itself, except for libsvm and libffm, where it is the feature index
    /// made 0-based, in decimal (`"13"` in a 1-based file hashes `"12"`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a libsvm/libffm value that is not an index of the file.
    pub fn hashed_bytes(&self, value: &str) -> Result<Vec<u8>> {
        match self.format {
            Format::Libsvm | Format::Libffm => {
                let base = self.index_base.unwrap_or(0);
                let index = value.parse::<u64>().ok().filter(|&i| i >= base).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{value:?} is not a feature index of this {:?} input (index_base {base})",
                        self.format
                    ))
                })?;
                Ok((index - base).to_string().into_bytes())
            }
            Format::Criteo | Format::Csv => Ok(value.as_bytes().to_vec()),
        }
    }
}

/// The settings with the preset expanded and every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub format: Format,
    pub delimiter: u8,
    pub header: bool,
    pub columns: Vec<String>,
    pub quote: Option<u8>,
    pub missing: Vec<Vec<u8>>,
    pub index_base: u64,
    pub label: LabelSpec,
    pub dense: Vec<DenseSpec>,
    pub fields: Vec<FieldSpec>,
}

/// One ASCII character of a setting (`"\t"`, `","`), or an error naming the setting.
fn one_byte(what: &str, text: &str) -> Result<u8> {
    match text.as_bytes() {
        [b] if b.is_ascii() && *b != b'\n' && *b != b'\r' => Ok(*b),
        _ => Err(Error::Schema(format!(
            "{what} {text:?}: must be one ASCII character other than a line break"
        ))),
    }
}

impl InputSettings {
    /// The Criteo DAC layout as an explicit `csv` description.
    fn criteo_preset() -> InputSettings {
        let mut columns = vec!["label".to_string()];
        columns.extend((0..criteo::DENSE_FIELDS).map(criteo::dense_field_name));
        columns.extend((0..criteo::CATEGORICAL_FIELDS).map(criteo::categorical_field_name));
        InputSettings {
            format: Format::Csv,
            delimiter: Some("\t".into()),
            header: Some(false),
            columns,
            quote: Some(String::new()),
            missing: Some(vec![String::new()]),
            index_base: None,
            label: Some(LabelSpec {
                column: Some(ColumnRef::Name("label".into())),
                map: LabelMap::Binary,
                threshold: None,
            }),
            dense: (0..criteo::DENSE_FIELDS)
                .map(|k| DenseSpec {
                    column: ColumnRef::Name(criteo::dense_field_name(k)),
                    transform: Transform::Log1p,
                    mean: None,
                    std: None,
                })
                .collect(),
            fields: Vec::new(),
        }
    }

    /// Expands the preset, fills defaults and checks every setting that does not need the
    /// group list.
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let bad = |m: String| Err(Error::Schema(m));
        let spec = match self.format {
            Format::Criteo => {
                let only_format = InputSettings { format: Format::Criteo, ..Default::default() };
                if *self != only_format {
                    return bad("input.format \"criteo\" is a preset: set format = \"csv\" to \
                                describe the columns yourself"
                        .into());
                }
                InputSettings::criteo_preset()
            }
            _ => self.clone(),
        };
        let csv = spec.format == Format::Csv;
        let format_name = format!("{:?}", spec.format).to_lowercase();
        let csv_only = |set: bool, key: &str| -> Result<()> {
            if set && !csv {
                return Err(Error::Schema(format!(
                    "input.{key} applies to csv input, not {format_name}"
                )));
            }
            Ok(())
        };
        csv_only(spec.delimiter.is_some(), "delimiter")?;
        csv_only(spec.header.is_some(), "header")?;
        csv_only(!spec.columns.is_empty(), "columns")?;
        csv_only(spec.quote.is_some(), "quote")?;
        csv_only(spec.missing.is_some(), "missing")?;
        csv_only(!spec.dense.is_empty(), "dense")?;
        let delimiter = one_byte("input.delimiter", spec.delimiter.as_deref().unwrap_or(","))?;
        let quote = match spec.quote.as_deref() {
            None => Some(b'"'),
            Some("") => None,
            Some(q) => Some(one_byte("input.quote", q)?),
        };
        if quote == Some(delimiter) {
            return bad("input.quote and input.delimiter must differ".into());
        }
        let header = spec.header.unwrap_or(csv);
        if header && !spec.columns.is_empty() {
            return bad("input.columns names the columns of a file without a header; \
                        set header = false or drop it"
                .into());
        }
        if csv && !header && spec.columns.is_empty() {
            let mut refs: Vec<&ColumnRef> =
                spec.label.iter().filter_map(|l| l.column.as_ref()).collect();
            refs.extend(spec.dense.iter().map(|d| &d.column));
            refs.extend(spec.fields.iter().flat_map(|f| f.column.iter().chain(&f.columns)));
            if let Some(ColumnRef::Name(name)) =
                refs.iter().find(|r| matches!(r, ColumnRef::Name(_)))
            {
                return bad(format!(
                    "column {name:?}: a file without a header has no column names; \
                     refer to columns by 0-based position or name them in input.columns"
                ));
            }
        }
        let index_base = match (spec.format, spec.index_base) {
            (Format::Libsvm | Format::Libffm, Some(b @ (0 | 1))) => b,
            (Format::Libsvm | Format::Libffm, Some(b)) => {
                return bad(format!("input.index_base {b}: must be 0 or 1"))
            }
            (Format::Libsvm | Format::Libffm, None) => {
                return bad(format!(
                    "input.index_base is required for {format_name} input (0 or 1): \
                     it is never guessed from the data"
                ))
            }
            (_, Some(_)) => {
                return bad("input.index_base applies to libsvm and libffm, not csv".into())
            }
            (_, None) => 0,
        };
        let label = spec.label.clone().unwrap_or_default();
        match (csv, &label.column) {
            (true, None) => return bad("input.label.column is required for csv input".into()),
            (false, Some(_)) => {
                return bad(format!("input.label.column: {format_name} lines start with the label"))
            }
            _ => {}
        }
        match (label.map, label.threshold) {
            (LabelMap::Threshold, Some(t)) if t.is_finite() => {}
            (LabelMap::Threshold, _) => {
                return bad(
                    "input.label.map \"threshold\" needs a finite input.label.threshold".into()
                )
            }
            (_, Some(_)) => {
                return bad("input.label.threshold is only used with map = \"threshold\"".into())
            }
            _ => {}
        }
        for (k, dense) in spec.dense.iter().enumerate() {
            let what = format!("input.dense[{k}] ({})", dense.column);
            match dense.transform {
                Transform::Standardize => {
                    let (Some(mean), Some(std)) = (dense.mean, dense.std) else {
                        return bad(format!("{what}: standardize needs mean and std"));
                    };
                    if !(mean.is_finite() && std.is_finite() && std > 0.0) {
                        return bad(format!("{what}: mean must be finite and std finite and > 0"));
                    }
                }
                _ if dense.mean.is_some() || dense.std.is_some() => {
                    return bad(format!("{what}: mean and std are only used by standardize"))
                }
                _ => {}
            }
        }
        for (k, field) in spec.fields.iter().enumerate() {
            check_field(k, field, spec.format)?;
            let what = format!("input.fields[{k}] ({:?})", field.name);
            if let Some(sep) = field.separator.as_deref().map(str::as_bytes) {
                let sep = sep[0];
                if sep == delimiter || Some(sep) == quote {
                    return bad(format!(
                        "{what}: the separator {:?} is also the delimiter or the quote",
                        sep as char
                    ));
                }
                if sep == b':' && field.weighted {
                    return bad(format!("{what}: ':' separates weights; pick another separator"));
                }
            }
            if let Some([first, _]) = field.range {
                if first < index_base {
                    return bad(format!(
                        "{what}: range starts at {first}, below input.index_base {index_base}"
                    ));
                }
            }
            if let Some(number) = field.field {
                if number < index_base {
                    return bad(format!(
                        "{what}: field {number} is below input.index_base {index_base}"
                    ));
                }
            }
            if spec.fields[..k].iter().any(|f| f.name == field.name) {
                return bad(format!("input.fields: field {:?} declared twice", field.name));
            }
        }
        if spec.format == Format::Libsvm {
            let mut ranges: Vec<([u64; 2], &str)> =
                spec.fields.iter().filter_map(|f| Some((f.range?, f.name.as_str()))).collect();
            ranges.sort();
            for pair in ranges.windows(2) {
                if pair[1].0[0] <= pair[0].0[1] {
                    return bad(format!(
                        "input.fields: the index ranges of {:?} and {:?} overlap",
                        pair[0].1, pair[1].1
                    ));
                }
            }
        }
        if spec.format == Format::Libffm {
            for (k, field) in spec.fields.iter().enumerate() {
                if spec.fields[..k].iter().any(|f| f.field == field.field) {
                    return bad(format!(
                        "input.fields: field number {:?} declared twice",
                        field.field.unwrap_or_default()
                    ));
                }
            }
        }
        let missing = spec
            .missing
            .clone()
            .unwrap_or_else(|| vec![String::new()])
            .into_iter()
            .map(String::into_bytes)
            .collect();
        Ok(Resolved {
            format: spec.format,
            delimiter,
            header,
            columns: spec.columns.clone(),
            quote,
            missing,
            index_base,
            label,
            dense: spec.dense.clone(),
            fields: spec.fields.clone(),
        })
    }
}

fn check_field(k: usize, field: &FieldSpec, format: Format) -> Result<()> {
    let what = format!("input.fields[{k}] ({:?})", field.name);
    let bad = |m: &str| Err(Error::Schema(format!("{what}: {m}")));
    if field.name.is_empty() {
        return bad("the name is empty");
    }
    let places = usize::from(field.column.is_some())
        + usize::from(!field.columns.is_empty())
        + usize::from(field.column_range.is_some());
    let csv_keys =
        places > 0 || field.separator.is_some() || field.weighted || field.missing.is_some();
    match format {
        Format::Csv | Format::Criteo => {
            if places > 1 {
                return bad("give one of column, columns and column_range");
            }
            if field.range.is_some() || field.field.is_some() {
                return bad("range and field describe libsvm and libffm input, not csv");
            }
            if let Some([a, b]) = field.column_range {
                if a > b {
                    return bad("column_range must be [first, last] with first <= last");
                }
            }
            if let Some(sep) = &field.separator {
                one_byte(&format!("{what} separator"), sep)?;
            }
        }
        Format::Libsvm => {
            if csv_keys || field.field.is_some() {
                return bad("libsvm fields take only name and range");
            }
            match field.range {
                Some([a, b]) if a <= b => {}
                Some(_) => return bad("range must be [first, last] with first <= last"),
                None => return bad("libsvm fields need range = [first, last]"),
            }
        }
        Format::Libffm => {
            if csv_keys || field.range.is_some() {
                return bad("libffm fields take only name and field");
            }
            if field.field.is_none() {
                return bad("libffm fields need field = <number in the file>");
            }
        }
    }
    Ok(())
}

impl Resolved {
    /// Number of dense inputs.
    pub fn dense_width(&self) -> usize {
        self.dense.len()
    }

    /// The declaration of `name`, if any.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that every field the groups list can come from the input, as far as that is
    /// known without the file (a header is only known when the file is opened).
    pub fn check_group_field(&self, group: &str, field: &str) -> Result<()> {
        let declared = self.field(field).is_some();
        let known = match self.format {
            Format::Csv | Format::Criteo => {
                declared || self.header || self.columns.iter().any(|c| c == field)
            }
            Format::Libsvm | Format::Libffm => declared,
        };
        if known {
            return Ok(());
        }
        let hint = match self.format {
            Format::Libsvm => "declare it in [[input.fields]] with its index range",
            Format::Libffm => "declare it in [[input.fields]] with its field number",
            _ if self.columns.len() == 40 && self.columns[0] == "label" => {
                "the criteo format has C1..C26"
            }
            _ => "it is neither declared in [[input.fields]] nor one of input.columns",
        };
        Err(Error::Schema(format!("group {group}: field {field:?} is not in the input: {hint}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::Schema;

    #[test]
    fn invalid_input_sections_name_the_problem() {
        let group = "[[groups]]\nname='g'\nfields=['a']\n";
        let cases = [
            ("format='criteo'\ndelimiter=','", "is a preset"),
            ("format='csv'", "input.label.column is required"),
            ("format='csv'\ndelimiter='ab'\nlabel={column='y'}", "must be one ASCII character"),
            (
                "format='csv'\nquote=','\nlabel={column='y'}",
                "quote and input.delimiter must differ",
            ),
            ("format='csv'\nheader=true\ncolumns=['y','a']\nlabel={column='y'}", "header = false"),
            ("format='libsvm'", "input.index_base is required"),
            ("format='libsvm'\nindex_base=2", "must be 0 or 1"),
            ("format='libsvm'\nindex_base=0\ndelimiter=','", "applies to csv input, not libsvm"),
            ("format='libsvm'\nindex_base=0\nlabel={column='y'}", "start with the label"),
            ("format='csv'\nlabel={column='y', map='threshold'}", "needs a finite"),
            ("format='csv'\nlabel={column='y', threshold=3.0}", "only used with map"),
            (
                "format='csv'\nlabel={column='y'}\ndense=[{column='p', transform='standardize'}]",
                "standardize needs mean and std",
            ),
            (
                "format='csv'\nlabel={column='y'}\ndense=[{column='p', transform='standardize', \
                 mean=0.0, std=0.0}]",
                "std finite and > 0",
            ),
            (
                "format='csv'\nlabel={column='y'}\nfields=[{name='a', column=1, columns=[2]}]",
                "one of column, columns and column_range",
            ),
            (
                "format='libsvm'\nindex_base=0\nfields=[{name='a', range=[0,5]}, \
                 {name='b', range=[5,9]}]",
                "overlap",
            ),
            ("format='libsvm'\nindex_base=0\nfields=[{name='a'}]", "need range"),
            (
                "format='libffm'\nindex_base=0\nfields=[{name='a', range=[0,1]}]",
                "only name and field",
            ),
            (
                "format='libsvm'\nindex_base=0\nfields=[{name='b', range=[0,1]}]",
                "field \"a\" is not in",
            ),
            (
                "format='csv'\nheader=false\ncolumns=['y','b']\nlabel={column='y'}",
                "not in the input",
            ),
        ];
        for (input, want) in cases {
            let text = format!("[input]\n{input}\n{group}");
            let err = Schema::from_toml_str(&text).expect_err(&text).to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn hashed_bytes_follow_the_index_base() {
        let text = "[input]\nformat='libsvm'\nindex_base=1\nfields=[{name='a', range=[1,9]}]\n\
                    [[groups]]\nname='g'\nfields=['a']\n";
        let schema = Schema::from_toml_str(text).expect("valid");
        assert_eq!(schema.input.hashed_bytes("13").expect("index"), b"12");
        assert!(schema.input.hashed_bytes("0").is_err());
        assert!(schema.input.hashed_bytes("x").is_err());
        let criteo = Schema::criteo_default();
        assert_eq!(criteo.input.hashed_bytes("13").expect("value"), b"13");
    }

    #[test]
    fn stored_schemas_keep_their_input_section() {
        let text = "[input]\nformat='libffm'\nindex_base=1\nfields=[{name='a', field=1}]\n\
                    [[groups]]\nname='g'\nfields=['a']\npooling='sqrtn'\n";
        let schema = Schema::from_toml_str(text).expect("valid");
        let again = Schema::from_toml_str(&schema.to_toml_string()).expect("round trip");
        assert_eq!(schema, again);
        let mut other = again.clone();
        other.input.index_base = Some(0);
        let diff = other.difference_from(&schema).expect("the layout is structural");
        assert_eq!(diff, "[input]: index_base = 1 stored, index_base = 0 given");
        let criteo = Schema::criteo_default();
        let diff = schema.difference_from(&criteo).expect("differs");
        assert!(diff.starts_with("input.format: criteo stored, libffm given"), "{diff}");
    }
}
