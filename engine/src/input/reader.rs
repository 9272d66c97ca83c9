//! The one streaming reader of every input format, driven by the schema's `[input]`.
//!
//! A [`Reader`] turns lines into samples: a label, the transformed dense inputs and, per
//! group, the hashed ids (and pooling weights) of its fields. Ids are
//! `feature_id(field_seed(hash_seed, field name), raw value bytes)`; libsvm and libffm ids hash
//! the 0-based feature index written in decimal.
//!
//! The reader is on the training hot path: it reuses its line buffer and scratch space and
//! allocates nothing per line beyond the sample it fills.

use std::collections::HashMap;
use std::path::Path;

use super::source::{LineSource, MAX_LINE_BYTES};
use super::spec::{ColumnRef, Format, LabelMap, Resolved, Transform};
use crate::batch::{Batch, GroupIds};
use crate::error::{Error, Result};
use crate::hash::{feature_id, field_seed, EmbeddingId};
use crate::schema::Schema;

/// How many skip reasons are kept as examples.
const MAX_SKIP_EXAMPLES: usize = 5;

/// Longest value quoted in a parse error, in bytes; longer values are cut.
const MAX_SHOWN_BYTES: usize = 40;

/// Small non-negative integers dominate count columns, so `ln(1 + x)` is tabulated for them.
const LOG1P_TABLE_LEN: usize = 1024;

/// What a caller wants from a [`Reader`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip and count malformed lines instead of stopping at the first one.
    pub skip_bad_lines: bool,
    /// Every sample must have a label (training and evaluation); a file or line without one is
    /// an error.
    pub require_labels: bool,
}

/// One parsed sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// 1-based line number where the sample starts.
    pub line: u64,
    /// 0.0 or 1.0; `None` when the file or line has no label.
    pub label: Option<f32>,
    /// The dense inputs after their transforms (a missing value is 0.0).
    pub dense: Vec<f32>,
    /// Per schema group, the ids of the sample in column order.
    pub ids: Vec<Vec<EmbeddingId>>,
    /// Per schema group, the pooling weight of each id (1.0 unless the input gives one).
    pub weights: Vec<Vec<f32>>,
}

impl Sample {
    fn reset(&mut self, line: u64) {
        self.line = line;
        self.label = None;
        self.dense.iter_mut().for_each(|v| *v = 0.0);
        self.ids.iter_mut().for_each(Vec::clear);
        self.weights.iter_mut().for_each(Vec::clear);
    }

    fn push(&mut self, group: usize, id: EmbeddingId, weight: f32) {
        self.ids[group].push(id);
        self.weights[group].push(weight);
    }
}

/// What a column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Label,
    Dense(usize),
    Field(usize),
}

#[derive(Debug)]
struct FieldPlan {
    name: String,
    group: usize,
    group_name: String,
    /// The group pools by mean, which needs weights >= 0.
    mean: bool,
    seed: u64,
    separator: Option<u8>,
    weighted: bool,
    /// `None`: the input's missing tokens.
    missing: Option<Vec<Vec<u8>>>,
}

#[derive(Debug)]
struct DensePlan {
    transform: Transform,
    mean: f64,
    std: f64,
}

/// The column layout of a delimited file, known once the header (or first line) is seen.
#[derive(Debug, Default)]
struct Layout {
    /// Columns of a full line.
    count: usize,
    /// Roles of each column of a full line.
    roles: Vec<Vec<Role>>,
    /// Headerless files with named columns: a line one column short lacks this column (the
    /// label), and these are the roles of its columns.
    short: Option<Vec<Vec<Role>>>,
    /// Column names for messages.
    names: Vec<String>,
    /// A headerless file without names: lines need at least `count` columns, more are ignored.
    flexible: bool,
}

/// The streaming reader of any input format (see the module documentation).
pub struct Reader {
    source: LineSource,
    input: Resolved,
    options: ReadOptions,
    fields: Vec<FieldPlan>,
    dense: Vec<DensePlan>,
    log1p: Box<[f32; LOG1P_TABLE_LEN]>,
    /// `csv`: the layout; `None` until the first line of a headerless file without names.
    layout: Option<Layout>,
    /// `csv`: columns not yet placed, resolved when the layout is known.
    wanted: Wanted,
    /// `libsvm`: (first, last, field) sorted by first.
    ranges: Vec<(u64, u64, usize)>,
    /// `libffm`: field number to field.
    numbers: HashMap<u64, usize>,
    cells: Vec<(usize, usize, bool)>,
    scratch: Vec<u8>,
    sample: Sample,
    skipped_lines: u64,
    skip_examples: Vec<String>,
    /// The current record ended inside a quoted value that ran past the length cap.
    open_quote: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.source.path())
            .field("format", &self.input.format)
            .field("options", &self.options)
            .field("lines_read", &self.source.lines_read)
            .field("skipped_lines", &self.skipped_lines)
            .finish_non_exhaustive()
    }
}

/// The columns the schema asks for, before they are matched with the header.
#[derive(Debug, Default)]
struct Wanted {
    label: Option<ColumnRef>,
    dense: Vec<ColumnRef>,
    /// (column, field).
    fields: Vec<(ColumnRef, usize)>,
    /// (first, last, field): inclusive position ranges.
    ranges: Vec<(usize, usize, usize)>,
}

impl Reader {
    /// Opens `path` to read it as the schema's `[input]` describes.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened or read, [`Error::Schema`] when the schema's
    /// input section is invalid, and [`Error::Parse`] (line 1) when the header lacks a column
    /// the schema names, or lacks the label while labels are required.
    pub fn open(path: &Path, schema: &Schema, options: ReadOptions) -> Result<Reader> {
        let input = schema.input.resolve()?;
        let source = LineSource::open(path)?;
        let mut fields = Vec::new();
        let mut by_name = HashMap::new();
        for (g, group) in schema.groups.iter().enumerate() {
            for name in &group.fields {
                input.check_group_field(&group.name, name)?;
                let spec = input.field(name);
                let separator = spec.and_then(|s| s.separator.as_ref()).map(|s| s.as_bytes()[0]);
                by_name.insert(name.clone(), fields.len());
                fields.push(FieldPlan {
                    name: name.clone(),
                    group: g,
                    group_name: group.name.clone(),
                    mean: group.pooling == crate::schema::Pooling::Mean,
                    seed: field_seed(schema.hash_seed, name),
                    separator,
                    weighted: spec.is_some_and(|s| s.weighted),
                    missing: spec
                        .and_then(|s| s.missing.as_ref())
                        .map(|m| m.iter().map(|t| t.as_bytes().to_vec()).collect()),
                });
            }
        }
        let dense = input
            .dense
            .iter()
            .map(|d| DensePlan {
                transform: d.transform,
                mean: d.mean.unwrap_or(0.0),
                std: d.std.unwrap_or(1.0),
            })
            .collect();
        let mut wanted = Wanted::default();
        let mut ranges = Vec::new();
        let mut numbers = HashMap::new();
        match input.format {
            Format::Csv | Format::Criteo => {
                wanted.label = input.label.column.clone();
                wanted.dense = input.dense.iter().map(|d| d.column.clone()).collect();
                for (f, plan) in fields.iter().enumerate() {
                    match input.field(&plan.name) {
                        Some(spec) if spec.column_range.is_some() => {
                            let [a, b] = spec.column_range.unwrap_or_default();
                            wanted.ranges.push((a, b, f));
                        }
                        Some(spec) if !spec.columns.is_empty() => {
                            wanted.fields.extend(spec.columns.iter().map(|c| (c.clone(), f)));
                        }
                        Some(spec) if spec.column.is_some() => {
                            let column = spec.column.clone().unwrap_or(ColumnRef::Index(0));
                            wanted.fields.push((column, f));
                        }
                        _ => wanted.fields.push((ColumnRef::Name(plan.name.clone()), f)),
                    }
                }
            }
            Format::Libsvm => {
                for (f, plan) in fields.iter().enumerate() {
                    if let Some([a, b]) = input.field(&plan.name).and_then(|s| s.range) {
                        ranges.push((a, b, f));
                    }
                }
                ranges.sort_unstable();
            }
            Format::Libffm => {
                for (f, plan) in fields.iter().enumerate() {
                    if let Some(n) = input.field(&plan.name).and_then(|s| s.field) {
                        numbers.insert(n, f);
                    }
                }
                // Declared fields that no group uses are read and dropped.
                for spec in &input.fields {
                    if let Some(n) = spec.field {
                        numbers.entry(n).or_insert(usize::MAX);
                    }
                }
            }
        }
        if input.format == Format::Libsvm {
            for spec in &input.fields {
                if let (Some([a, b]), None) = (spec.range, by_name.get(&spec.name)) {
                    ranges.push((a, b, usize::MAX));
                }
            }
            ranges.sort_unstable();
        }
        let groups = schema.groups.len();
        let sample = Sample {
            line: 0,
            label: None,
            dense: vec![0.0; input.dense_width()],
            ids: vec![Vec::new(); groups],
            weights: vec![Vec::new(); groups],
        };
        let mut reader = Reader {
            source,
            options,
            fields,
            dense,
            log1p: Box::new(std::array::from_fn(|i| (i as f64).ln_1p() as f32)),
            layout: None,
            wanted,
            ranges,
            numbers,
            cells: Vec::with_capacity(64),
            scratch: Vec::new(),
            sample,
            skipped_lines: 0,
            skip_examples: Vec::new(),
            open_quote: false,
            input,
        };
        if matches!(reader.input.format, Format::Csv | Format::Criteo) {
            if reader.input.header {
                reader.read_header()?;
            } else if !reader.input.columns.is_empty() {
                let names = reader.input.columns.clone();
                reader.layout = Some(reader.build_layout(names, true)?);
            } else {
                // Columns are referred to by position only: a line needs the last of them.
                let w = &reader.wanted;
                let index = |c: &ColumnRef| match c {
                    ColumnRef::Index(i) => *i,
                    ColumnRef::Name(_) => 0,
                };
                let last = w
                    .label
                    .iter()
                    .chain(&w.dense)
                    .chain(w.fields.iter().map(|(c, _)| c))
                    .map(index)
                    .chain(w.ranges.iter().map(|r| r.1))
                    .max()
                    .unwrap_or(0);
                let names = (0..=last).map(|i| format!("column {i}")).collect();
                let mut layout = reader.build_layout(names, true)?;
                layout.flexible = true;
                reader.layout = Some(layout);
            }
        }
        Ok(reader)
    }

    /// Reads the header line and places the wanted columns.
    fn read_header(&mut self) -> Result<()> {
        if !self.read_record()? {
            return Err(self.parse_error(1, "the file is empty: no header line".into()));
        }
        let line = std::mem::take(&mut self.source.line);
        let text = &line;
        let split = split_cells(
            text,
            self.input.delimiter,
            self.input.quote,
            &mut self.cells,
            &mut self.scratch,
        );
        let mut names: Vec<String> = match split {
            Ok(()) => self
                .cells
                .iter()
                .map(|&(a, b, q)| {
                    let bytes = if q { &self.scratch[a..b] } else { &text[a..b] };
                    String::from_utf8_lossy(bytes).into_owned()
                })
                .collect(),
            Err((c, reason)) => {
                return Err(self.parse_error(1, format!("header column {}: {reason}", c + 1)))
            }
        };
        // A trailing delimiter after the last name does not add a column.
        if names.len() > 1 && names.last().is_some_and(String::is_empty) {
            names.pop();
        }
        self.source.line = line;
        self.layout = Some(self.build_layout(names, false)?);
        Ok(())
    }

    /// Places every wanted column in a file with these column names.
    fn build_layout(&self, names: Vec<String>, from_schema: bool) -> Result<Layout> {
        let find = |column: &ColumnRef| -> std::result::Result<usize, String> {
            match column {
                ColumnRef::Index(i) if *i < names.len() => Ok(*i),
                ColumnRef::Index(i) => {
                    Err(format!("column {i} does not exist: the file has {} columns", names.len()))
                }
                ColumnRef::Name(name) => {
                    let mut hits = names.iter().enumerate().filter(|(_, n)| *n == name);
                    match (hits.next(), hits.next()) {
                        (Some((i, _)), None) => Ok(i),
                        (Some(_), Some(_)) => Err(format!(
                            "column {name:?} appears more than once; refer to it by position"
                        )),
                        (None, _) if from_schema => {
                            Err(format!("column {name:?} is not in input.columns"))
                        }
                        (None, _) => Err(format!("the header has no column {name:?}")),
                    }
                }
            }
        };
        let fail = |reason: String| -> Error {
            if from_schema {
                Error::Schema(reason)
            } else {
                self.parse_error(1, reason)
            }
        };
        let mut roles = vec![Vec::new(); names.len()];
        let mut label_at = None;
        if let Some(column) = &self.wanted.label {
            match find(column) {
                Ok(i) => {
                    roles[i].push(Role::Label);
                    label_at = Some(i);
                }
                // A file to predict may lack the label column, but not name it twice.
                Err(_)
                    if !self.options.require_labels
                        && !from_schema
                        && matches!(column, ColumnRef::Name(n) if !names.contains(n)) => {}
                Err(reason) => return Err(fail(format!("label: {reason}"))),
            }
        }
        for (k, column) in self.wanted.dense.iter().enumerate() {
            let i = find(column).map_err(|r| fail(format!("dense input {k}: {r}")))?;
            roles[i].push(Role::Dense(k));
        }
        for (column, f) in &self.wanted.fields {
            let i =
                find(column).map_err(|r| fail(format!("field {}: {r}", self.fields[*f].name)))?;
            roles[i].push(Role::Field(*f));
        }
        for &(a, b, f) in &self.wanted.ranges {
            if b >= names.len() {
                return Err(fail(format!(
                    "field {}: column_range [{a}, {b}] goes past the {} columns",
                    self.fields[f].name,
                    names.len()
                )));
            }
            for role in &mut roles[a..=b] {
                role.push(Role::Field(f));
            }
        }
        // The label feeding the model as well would leak the answer into training.
        if let Some(at) = label_at {
            if let Some(role) = roles[at].iter().find(|r| **r != Role::Label) {
                let what = match role {
                    Role::Dense(k) => format!("dense input {k}"),
                    Role::Field(f) => format!("field {}", self.fields[*f].name),
                    Role::Label => String::new(),
                };
                return Err(fail(format!(
                    "the label column {} also feeds {what}: that would train on the answer",
                    column_label_plain(&names, at)
                )));
            }
        }
        // A headerless file whose names include the label also accepts lines without it.
        let short = match (from_schema, label_at) {
            (true, Some(at)) => {
                let mut short = roles.clone();
                short.remove(at);
                Some(short)
            }
            _ => None,
        };
        Ok(Layout { count: names.len(), roles, short, names, flexible: false })
    }

    /// Reads the next record into the line buffer: one line, or several when a quoted value
    /// spans line breaks. False at end of file.
    fn read_record(&mut self) -> Result<bool> {
        self.open_quote = false;
        if !self.source.next_line()? {
            return Ok(false);
        }
        if self.source.lines_read == 1 {
            // A UTF-8 byte-order mark is not part of the first value.
            if let Some(rest) = self.source.line.strip_prefix(b"\xef\xbb\xbf") {
                self.source.line = rest.to_vec();
            }
        }
        if let Some(q) = self.input.quote {
            // Only a quote that starts a value opens a quoted value, as in `split_cells`; each
            // appended line is scanned once, so a long unterminated value costs linear time.
            let d = self.input.delimiter;
            let mut state = scan_quotes(&self.source.line, d, q, QuoteState::CellStart);
            while state == QuoteState::Quoted {
                if self.source.too_long() {
                    self.open_quote = true;
                    break;
                }
                let from = self.source.line.len();
                self.source.line.push(b'\n');
                if !self.source.append_line()? {
                    break;
                }
                state = scan_quotes(&self.source.line[from..], d, q, state);
            }
        }
        Ok(true)
    }

    /// Reads up to `n` records without parsing them (blank lines are not records); returns
    /// how many were skipped, fewer at the end of the file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read.
    pub fn skip_records(&mut self, n: u64) -> Result<u64> {
        let mut skipped = 0;
        while skipped < n {
            if !self.read_record()? {
                break;
            }
            if !self.source.line.is_empty() {
                skipped += 1;
            }
        }
        Ok(skipped)
    }

    fn parse_error(&self, line: u64, reason: String) -> Error {
        Error::Parse { path: self.source.path().to_path_buf(), line, reason }
    }

    /// Reads the next sample; `Ok(None)` at the end of the file.
    ///
    /// After a parse error the reader stays usable: the next call continues with the next
    /// record.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] for a malformed line when bad lines are not skipped, and [`Error::Io`]
    /// with op `read` if the file cannot be read (including corrupt or truncated gzip data).
    pub fn next_sample(&mut self) -> Result<Option<&Sample>> {
        loop {
            let start = self.source.lines_read + 1;
            if !self.read_record()? {
                return Ok(None);
            }
            if self.source.line.is_empty() {
                // Blank lines (a final empty line, say) are not samples.
                continue;
            }
            self.sample.reset(start);
            let parsed = if self.open_quote {
                Err(format!(
                    "a quoted value runs past {MAX_LINE_BYTES} bytes: is a closing quote missing?"
                ))
            } else if self.source.too_long() {
                Err(format!("line longer than {MAX_LINE_BYTES} bytes"))
            } else if self.input.format != Format::Csv
                && self.source.line.iter().all(u8::is_ascii_whitespace)
            {
                Err("blank line of spaces".to_string())
            } else {
                self.parse_current()
            };
            let parsed = parsed.and_then(|()| {
                if self.options.require_labels && self.sample.label.is_none() {
                    Err(self.missing_label_reason())
                } else {
                    Ok(())
                }
            });
            match parsed {
                Ok(()) => return Ok(Some(&self.sample)),
                Err(reason) if self.options.skip_bad_lines => {
                    self.skipped_lines += 1;
                    if self.skip_examples.len() < MAX_SKIP_EXAMPLES {
                        let path = self.source.path().display();
                        self.skip_examples.push(format!("{path}:{start}: {reason}"));
                    }
                }
                Err(reason) => return Err(self.parse_error(start, reason)),
            }
        }
    }

    fn missing_label_reason(&self) -> String {
        match &self.layout {
            Some(layout) if layout.short.is_some() => format!(
                "expected {} columns, found {}: the label is missing",
                layout.count,
                layout.count - 1
            ),
            _ => "the line has no label".to_string(),
        }
    }

    /// Reads up to `max` samples into a batch; fewer (possibly none) means the end of the file.
    ///
    /// Labels are kept when every sample has one; weights only for groups where some weight
    /// differs from 1.0.
    ///
    /// # Errors
    ///
    /// As [`Reader::next_sample`]; the partial batch is dropped.
    pub fn read_batch(&mut self, max: usize) -> Result<Batch> {
        let mut batch = Batch {
            len: 0,
            labels: Vec::with_capacity(max),
            dense: Vec::with_capacity(max * self.input.dense_width()),
            groups: vec![
                GroupIds { offsets: vec![0], ..GroupIds::default() };
                self.sample.ids.len()
            ],
        };
        let mut all_labeled = true;
        let mut weighted = vec![false; self.sample.ids.len()];
        while batch.len < max {
            let Some(sample) = self.next_sample()? else { break };
            batch.len += 1;
            match sample.label {
                Some(y) => batch.labels.push(y),
                None => all_labeled = false,
            }
            batch.dense.extend_from_slice(&sample.dense);
            for (g, group) in batch.groups.iter_mut().enumerate() {
                group.ids.extend_from_slice(&sample.ids[g]);
                let w = &sample.weights[g];
                if !weighted[g] && w.iter().any(|&w| w != 1.0) {
                    weighted[g] = true;
                    group.weights.resize(group.ids.len() - w.len(), 1.0);
                }
                if weighted[g] {
                    group.weights.extend_from_slice(w);
                }
                group.offsets.push(group.ids.len() as u32);
            }
        }
        if !all_labeled {
            batch.labels.clear();
        }
        Ok(batch)
    }

    /// Number of malformed lines skipped so far (always 0 unless bad lines are skipped).
    #[must_use]
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// The first few skip reasons (at most 5), each formatted as `path:line: reason`.
    #[must_use]
    pub fn skip_examples(&self) -> &[String] {
        &self.skip_examples
    }

    /// Number of lines consumed so far, good and bad (the header included).
    #[must_use]
    pub fn lines_read(&self) -> u64 {
        self.source.lines_read
    }

    /// The file being read.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.source.path()
    }

    /// Number of dense inputs of each sample.
    #[must_use]
    pub fn dense_width(&self) -> usize {
        self.input.dense_width()
    }

    fn parse_current(&mut self) -> std::result::Result<(), String> {
        match self.input.format {
            Format::Csv | Format::Criteo => self.parse_delimited(),
            Format::Libsvm | Format::Libffm => self.parse_sparse(),
        }
    }

    fn parse_delimited(&mut self) -> std::result::Result<(), String> {
        let line = &self.source.line;
        let split = split_cells(
            line,
            self.input.delimiter,
            self.input.quote,
            &mut self.cells,
            &mut self.scratch,
        );
        let mut count = self.cells.len();
        let Some(layout) = &self.layout else { return Err("no column layout".into()) };
        if let Err((c, reason)) = split {
            return Err(format!("{}: {reason}", column_label(layout, c, c)));
        }
        if layout.flexible {
            if count < layout.count {
                return Err(format!("expected at least {} columns, found {count}", layout.count));
            }
            count = layout.count;
        }
        // One trailing delimiter (an empty last column) is tolerated.
        if count == layout.count + 1 && self.cells.last().is_some_and(|c| c.0 == c.1) {
            count -= 1;
        }
        let roles = if count == layout.count {
            &layout.roles
        } else {
            match &layout.short {
                Some(short) if count + 1 == layout.count => short,
                Some(_) => {
                    return Err(format!(
                        "expected {} or {} columns, found {count}",
                        layout.count,
                        layout.count - 1
                    ))
                }
                None => return Err(format!("expected {} columns, found {count}", layout.count)),
            }
        };
        let short = count != layout.count;
        if short && self.options.require_labels {
            return Err(format!(
                "expected {} columns, found {count}: the label is missing",
                layout.count
            ));
        }
        for (c, column_roles) in roles.iter().enumerate() {
            if column_roles.is_empty() {
                continue;
            }
            let (a, b, quoted) = self.cells[c];
            let raw = if quoted { &self.scratch[a..b] } else { &line[a..b] };
            let name = || {
                let full = if short && c >= label_position(layout) { c + 1 } else { c };
                column_label(layout, c, full)
            };
            for role in column_roles {
                match *role {
                    Role::Label => {
                        let y = parse_label(raw, &self.input)
                            .map_err(|r| format!("{}: {r}", name()))?;
                        self.sample.label = Some(y);
                    }
                    Role::Dense(k) => {
                        if is_missing(raw, &self.input.missing) {
                            continue;
                        }
                        let plan = &self.dense[k];
                        let v = parse_dense(raw, plan, &self.log1p)
                            .ok_or_else(|| format!("{}: not a number: {}", name(), shown(raw)))?;
                        self.sample.dense[k] = v;
                    }
                    Role::Field(f) => {
                        let plan = &self.fields[f];
                        let missing = plan.missing.as_ref().unwrap_or(&self.input.missing);
                        if is_missing(raw, missing) {
                            continue;
                        }
                        let mut add = |item: &[u8]| -> std::result::Result<(), String> {
                            if item.is_empty() || is_missing(item, missing) {
                                return Ok(());
                            }
                            let (value, weight) = if plan.weighted {
                                split_weight(item).map_err(|r| format!("{}: {r}", name()))?
                            } else {
                                (item, 1.0)
                            };
                            if value.is_empty() || is_missing(value, missing) {
                                return Ok(());
                            }
                            if weight < 0.0 && plan.mean {
                                return Err(format!(
                                    "{}: weight of {} is negative, and group {} pools by mean",
                                    name(),
                                    shown(item),
                                    plan.group_name
                                ));
                            }
                            self.sample.push(plan.group, feature_id(plan.seed, value), weight);
                            Ok(())
                        };
                        match plan.separator {
                            Some(sep) => raw.split(|&b| b == sep).try_for_each(&mut add)?,
                            None => add(raw)?,
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn parse_sparse(&mut self) -> std::result::Result<(), String> {
        let line = &self.source.line;
        let base = self.input.index_base;
        let ffm = self.input.format == Format::Libffm;
        let mut tokens = line.split(u8::is_ascii_whitespace).filter(|t| !t.is_empty()).peekable();
        if let Some(first) = tokens.peek() {
            if !first.contains(&b':') {
                let y = parse_label(first, &self.input).map_err(|r| format!("label: {r}"))?;
                self.sample.label = Some(y);
                tokens.next();
            }
        }
        let mut digits = [0u8; 20];
        for (t, token) in tokens.enumerate() {
            let at = || format!("token {} ({})", t + 1, shown(token));
            let mut parts = token.split(|&b| b == b':');
            let (number, index, value) =
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(i), Some(v), None, None) if !ffm => (None, i, v),
                    (Some(f), Some(i), Some(v), None) if ffm => (Some(f), i, v),
                    _ if ffm => return Err(format!("{}: expected field:index:value", at())),
                    _ => return Err(format!("{}: expected index:value", at())),
                };
            let index = parse_u64(index)
                .ok_or_else(|| format!("{}: the index is not a non-negative integer", at()))?;
            if index < base {
                return Err(format!("{}: index {index} is below input.index_base {base}", at()));
            }
            let weight = parse_f32(value)
                .ok_or_else(|| format!("{}: the value is not a finite 32-bit number", at()))?;
            let field = match number {
                Some(n) => {
                    let n = parse_u64(n).ok_or_else(|| {
                        format!("{}: the field is not a non-negative integer", at())
                    })?;
                    *self.numbers.get(&n).ok_or_else(|| {
                        format!("{}: field {n} is not declared in [[input.fields]]", at())
                    })?
                }
                None => {
                    let k = self.ranges.partition_point(|r| r.0 <= index);
                    match k.checked_sub(1).map(|k| self.ranges[k]) {
                        Some((_, last, f)) if index <= last => f,
                        _ => {
                            return Err(format!(
                                "{}: index {index} is in no declared field's range",
                                at()
                            ))
                        }
                    }
                }
            };
            if field == usize::MAX {
                continue;
            }
            let plan = &self.fields[field];
            if weight < 0.0 && plan.mean {
                return Err(format!(
                    "{}: the value is negative, and group {} pools by mean",
                    at(),
                    plan.group_name
                ));
            }
            let raw = format_u64(index - base, &mut digits);
            self.sample.push(plan.group, feature_id(plan.seed, raw), weight);
        }
        Ok(())
    }
}

/// `column 3 (site_id)` for a position in a list of names.
fn column_label_plain(names: &[String], at: usize) -> String {
    match names.get(at) {
        Some(name) if *name != format!("column {at}") => format!("{} ({name})", at + 1),
        _ => format!("{}", at + 1),
    }
}

fn label_position(layout: &Layout) -> usize {
    layout.roles.iter().position(|r| r.contains(&Role::Label)).unwrap_or(usize::MAX)
}

/// `column 3 (site_id)`, or `column 3` when the file gives no names: the 1-based position `c`
/// in the line, and the name of layout column `full` (they differ on lines without the label).
fn column_label(layout: &Layout, c: usize, full: usize) -> String {
    match layout.names.get(full) {
        Some(name) if *name != format!("column {full}") => format!("column {} ({name})", c + 1),
        _ => format!("column {}", c + 1),
    }
}

fn is_missing(raw: &[u8], tokens: &[Vec<u8>]) -> bool {
    tokens.iter().any(|t| t.as_slice() == raw)
}

/// Splits `value:weight` at the last `:`; an item without `:` has weight 1. An empty value
/// is returned as is (the caller skips it) whatever its weight.
fn split_weight(item: &[u8]) -> std::result::Result<(&[u8], f32), String> {
    match item.iter().rposition(|&b| b == b':') {
        None => Ok((item, 1.0)),
        Some(0) => Ok((&[], 1.0)),
        Some(at) => {
            let w = parse_f32(&item[at + 1..]).ok_or_else(|| {
                format!("weight of {} is not a finite 32-bit number", shown(item))
            })?;
            Ok((&item[..at], w))
        }
    }
}

/// Splits a delimited line into cells: (start, end, in scratch). Quoted cells are unescaped
/// into `scratch`; the others point into `line`.
fn split_cells(
    line: &[u8],
    delimiter: u8,
    quote: Option<u8>,
    cells: &mut Vec<(usize, usize, bool)>,
    scratch: &mut Vec<u8>,
) -> std::result::Result<(), (usize, String)> {
    cells.clear();
    scratch.clear();
    let quote = quote.filter(|q| line.contains(q));
    let Some(q) = quote else {
        let mut start = 0;
        for (i, &b) in line.iter().enumerate() {
            if b == delimiter {
                cells.push((start, i, false));
                start = i + 1;
            }
        }
        cells.push((start, line.len(), false));
        return Ok(());
    };
    let mut i = 0;
    loop {
        if line.get(i) == Some(&q) {
            let begin = scratch.len();
            i += 1;
            loop {
                match line.get(i) {
                    None => return Err((cells.len(), "unterminated quoted value".into())),
                    Some(&b) if b == q && line.get(i + 1) == Some(&q) => {
                        scratch.push(q);
                        i += 2;
                    }
                    Some(&b) if b == q => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        scratch.push(b);
                        i += 1;
                    }
                }
            }
            cells.push((begin, scratch.len(), true));
            match line.get(i) {
                None => return Ok(()),
                Some(&b) if b == delimiter => i += 1,
                Some(_) => return Err((cells.len() - 1, "text after the closing quote".into())),
            }
        } else {
            let end = line[i..].iter().position(|&b| b == delimiter).map_or(line.len(), |p| i + p);
            cells.push((i, end, false));
            if end == line.len() {
                return Ok(());
            }
            i = end + 1;
        }
    }
}

/// Where a scan of delimited text stands, for joining the lines of a quoted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// At the start of a value.
    CellStart,
    /// Inside a value that did not start with a quote (quotes in it are plain bytes).
    Unquoted,
    /// Inside a quoted value.
    Quoted,
    /// Just after a quote inside a quoted value: it closes the value unless another follows.
    QuoteInQuoted,
}

fn scan_quotes(bytes: &[u8], delimiter: u8, quote: u8, mut state: QuoteState) -> QuoteState {
    use QuoteState::{CellStart, QuoteInQuoted, Quoted, Unquoted};
    for &b in bytes {
        state = match state {
            CellStart if b == quote => Quoted,
            CellStart | Unquoted | QuoteInQuoted if b == delimiter => CellStart,
            CellStart | Unquoted => Unquoted,
            Quoted if b == quote => QuoteInQuoted,
            Quoted => Quoted,
            QuoteInQuoted if b == quote => Quoted,
            QuoteInQuoted => Unquoted,
        };
    }
    state
}

fn parse_label(raw: &[u8], input: &Resolved) -> std::result::Result<f32, String> {
    let map = input.label.map;
    match (map, raw) {
        (LabelMap::Binary, b"0") | (LabelMap::PlusMinus, b"-1") => return Ok(0.0),
        (LabelMap::Binary, b"1") | (LabelMap::PlusMinus, b"1" | b"+1") => return Ok(1.0),
        _ => {}
    }
    let x = parse_f64(raw);
    match (map, x) {
        (LabelMap::Binary, Some(x)) if x == 0.0 || x == 1.0 => Ok(x as f32),
        (LabelMap::PlusMinus, Some(x)) if x == -1.0 || x == 1.0 => {
            Ok(if x > 0.0 { 1.0 } else { 0.0 })
        }
        (LabelMap::Threshold, Some(x)) => {
            Ok(if x >= input.label.threshold.unwrap_or(0.0) { 1.0 } else { 0.0 })
        }
        (LabelMap::Binary, _) => Err(format!("expected 0 or 1, found {}", shown(raw))),
        (LabelMap::PlusMinus, _) => Err(format!("expected -1 or 1, found {}", shown(raw))),
        (LabelMap::Threshold, _) => Err(format!("expected a number, found {}", shown(raw))),
    }
}

/// Parses a dense value and applies its transform; `None` if it is not a finite number.
///
/// Integers take a fast path (tabulated for `log1p`); decimals and exponents are accepted;
/// `inf` and `nan` are rejected.
fn parse_dense(raw: &[u8], plan: &DensePlan, log1p: &[f32; LOG1P_TABLE_LEN]) -> Option<f32> {
    if plan.transform == Transform::Log1p {
        let (negative, digits) = match raw.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, raw),
        };
        if let Some(n) = parse_u64(digits) {
            if negative {
                return Some(0.0);
            }
            if let Some(&v) = log1p.get(n as usize) {
                return Some(v);
            }
        }
    }
    let x = parse_f64(raw)?;
    let y = match plan.transform {
        Transform::None => x,
        Transform::Log1p => x.max(0.0).ln_1p(),
        Transform::Standardize => (x - plan.mean) / plan.std,
    };
    Some(y as f32).filter(|v| v.is_finite())
}

fn parse_u64(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0')))
}

/// A finite decimal number: sign, digits, point, exponent; no `inf`, `nan` or spaces.
fn parse_f64(raw: &[u8]) -> Option<f64> {
    let plain = raw.iter().all(|b| b.is_ascii_digit() || b"+-.eE".contains(b));
    if !plain || !raw.iter().any(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn parse_f32(raw: &[u8]) -> Option<f32> {
    parse_f64(raw).map(|x| x as f32).filter(|x| x.is_finite())
}

/// `n` in decimal, written at the end of `buf`.
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Quotes a raw value for an error message, cutting long values and escaping control bytes.
fn shown(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(MAX_SHOWN_BYTES)];
    let text = String::from_utf8_lossy(cut);
    if cut.len() < raw.len() {
        format!("{text:?}...")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_feature;

    fn parse(text: &str) -> Schema {
        Schema::from_toml_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("should write fixture");
        path
    }

    /// Every sample of `content` read under `schema`.
    fn read(schema: &Schema, content: &[u8]) -> Vec<Sample> {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = write(&dir, "in.txt", content);
        let mut reader = Reader::open(&path, schema, ReadOptions::default()).expect("should open");
        let mut out = Vec::new();
        while let Some(s) = reader.next_sample().expect("should parse") {
            out.push(s.clone());
        }
        out
    }

    /// The first error reading `content`, as `file:line: reason` without the directory.
    fn error(schema: &Schema, content: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = write(&dir, "bad.csv", content);
        let options = ReadOptions { skip_bad_lines: false, require_labels: true };
        let result = Reader::open(&path, schema, options).and_then(|mut reader| {
            while reader.next_sample()?.is_some() {}
            Ok(())
        });
        let err = result.expect_err("should fail").to_string();
        err.replace(&format!("{}/", dir.path().display()), "")
    }

    fn id(field: &str, raw: &str) -> u64 {
        hash_feature(0, field, raw.as_bytes())
    }

    const CSV: &str = r#"
        [input]
        format = "csv"
        [input.label]
        column = "click"
        [[input.dense]]
        column = "price"
        transform = "log1p"
        [[input.dense]]
        column = "age"
        transform = "standardize"
        mean = 30.0
        std = 10.0
        [[input.fields]]
        name = "genres"
        separator = "|"
        [[input.fields]]
        name = "hist"
        column = "history"
        separator = "^"
        weighted = true
        [[groups]]
        name = "item"
        fields = ["item", "genres"]
        pooling = "mean"
        [[groups]]
        name = "user"
        fields = ["hist"]
        pooling = "sqrtn"
    "#;

    #[test]
    fn csv_header_quoting_multi_values_and_weights() {
        let schema = parse(CSV);
        assert_eq!(schema.dense_width(), 2);
        let content = "\u{feff}click,item,price,age,genres,history,unused\r\n\
            1,a1,3,40,Comedy|Drama,x:0.5^y:2,zzz\r\n\
            0,\"b,2\",,,,,\n\
            0,\"say \"\"hi\"\"\",0,30,|Drama||,x,\"multi\nline\"\n\
            1,c3,-5,20,Drama,,\n";
        let samples = read(&schema, content.as_bytes());
        assert_eq!(samples.len(), 4);
        let s = &samples[0];
        assert_eq!((s.line, s.label), (2, Some(1.0)));
        assert!((s.dense[0] - 4f32.ln()).abs() < 1e-6);
        assert!((s.dense[1] - 1.0).abs() < 1e-6);
        assert_eq!(s.ids[0], [id("item", "a1"), id("genres", "Comedy"), id("genres", "Drama")]);
        assert_eq!(s.ids[1], [id("hist", "x"), id("hist", "y")]);
        assert_eq!(s.weights[1], [0.5, 2.0]);
        // A quoted value keeps its delimiter; missing values give no id and dense 0.
        let s = &samples[1];
        assert_eq!((s.line, s.label, s.dense.as_slice()), (3, Some(0.0), &[0.0, 0.0][..]));
        assert_eq!(s.ids[0], [id("item", "b,2")]);
        assert!(s.ids[1].is_empty());
        // Escaped quotes, empty items, an item without a weight, a quoted line break.
        let s = &samples[2];
        assert_eq!(s.line, 4);
        assert_eq!(s.ids[0], [id("item", "say \"hi\""), id("genres", "Drama")]);
        assert_eq!(
            (s.ids[1].as_slice(), s.weights[1].as_slice()),
            (&[id("hist", "x")][..], &[1.0][..])
        );
        let s = &samples[3];
        assert_eq!(s.line, 6, "the quoted line break counts as a line");
        assert_eq!(s.dense, [0.0, -1.0]);
    }

    #[test]
    fn csv_batches_keep_weights_only_where_needed() {
        let schema = parse(CSV);
        let dir = tempfile::tempdir().expect("should create temp dir");
        let content = "click,item,price,age,genres,history,unused\n\
            1,a,1,1,G,p^q,\n0,b,1,1,,r:3,\n1,,1,1,,,\n";
        let path = write(&dir, "w.csv", content.as_bytes());
        let mut reader = Reader::open(&path, &schema, ReadOptions::default()).expect("open");
        let batch = reader.read_batch(10).expect("should read");
        assert_eq!((batch.len, batch.labels.as_slice()), (3, &[1.0, 0.0, 1.0][..]));
        assert_eq!(batch.groups[0].offsets, [0, 2, 3, 3]);
        assert!(batch.groups[0].weights.is_empty());
        assert_eq!(batch.groups[1].offsets, [0, 2, 3, 3]);
        assert_eq!(batch.groups[1].weights, [1.0, 1.0, 3.0]);
        batch.validate(&schema, true).expect("a valid batch");
    }

    #[test]
    fn csv_without_header_by_index_trailing_delimiter_and_label_maps() {
        let schema = parse(
            r#"
            [input]
            format = "csv"
            delimiter = ";"
            header = false
            quote = ""
            missing = ["", "NA"]
            [input.label]
            column = 2
            map = "threshold"
            threshold = 4
            [[input.fields]]
            name = "u"
            column = 0
            [[input.fields]]
            name = "seq"
            column_range = [3, 5]
            missing = ["0"]
            [[groups]]
            name = "g"
            fields = ["u", "seq"]
        "#,
        );
        let samples = read(&schema, b"7;x;4.5;11;0;12\n8;x;3;0;NA;0;\nNA;\"q;1;1;1;1\n");
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].label, Some(1.0));
        assert_eq!(samples[0].ids[0], [id("u", "7"), id("seq", "11"), id("seq", "12")]);
        assert_eq!(samples[1].label, Some(0.0));
        assert_eq!(samples[1].ids[0], [id("u", "8"), id("seq", "NA")], "NA is not missing for seq");
        assert_eq!(samples[2].ids[0].len(), 3, "quotes are plain bytes with quote = \"\"");

        let pm = |map: &str, label: &str| {
            let schema = parse(&format!(
                "[input]\nformat='csv'\n[input.label]\ncolumn='y'\nmap='{map}'\n\
                 [[groups]]\nname='g'\nfields=['a']"
            ));
            let dir = tempfile::tempdir().expect("temp dir");
            let path = write(&dir, "l.csv", format!("y,a\n{label},v\n").as_bytes());
            let mut reader = Reader::open(&path, &schema, ReadOptions::default()).expect("open");
            reader.next_sample().map(|s| s.and_then(|s| s.label)).map_err(|e| e.to_string())
        };
        assert_eq!(pm("plus_minus", "-1"), Ok(Some(0.0)));
        assert_eq!(pm("plus_minus", "+1"), Ok(Some(1.0)));
        assert_eq!(pm("plus_minus", "1.0"), Ok(Some(1.0)));
        assert!(pm("plus_minus", "0").is_err_and(|e| e.contains("expected -1 or 1, found \"0\"")));
        assert_eq!(pm("binary", "1.0"), Ok(Some(1.0)));
        assert!(pm("binary", "-1").is_err_and(|e| e.contains("column 1 (y): expected 0 or 1")));
    }

    #[test]
    fn csv_errors_name_file_line_column_and_reason() {
        let schema = parse(CSV);
        let header = "click,item,price,age,genres,history,unused\n";
        let cases = [
            ("1,a,1,1,G,h\n", "bad.csv:2: expected 7 columns, found 6"),
            ("1,a,x,1,G,h,\n", "bad.csv:2: column 3 (price): not a number: \"x\""),
            ("1,a,1,inf,G,h,\n", "bad.csv:2: column 4 (age): not a number: \"inf\""),
            ("2,a,1,1,G,h,\n", "bad.csv:2: column 1 (click): expected 0 or 1, found \"2\""),
            ("1,a,1,1,G,h:w,\n", "bad.csv:2: column 6 (history): weight of \"h:w\" is not"),
            ("1,\"a\"b,1,1,G,h,\n", "bad.csv:2: column 2 (item): text after the closing quote"),
            ("1,\"a,1,1,G,h,\n", "bad.csv:2: column 2 (item): unterminated quoted value"),
            ("\n\n \n", "bad.csv:4: expected 7 columns, found 1"),
            (" 1,a,1,1,G,h,\n", "bad.csv:2: column 1 (click): expected 0 or 1, found \" 1\""),
        ];
        for (line, want) in cases {
            let got = error(&schema, format!("{header}{line}").as_bytes());
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
        let got = error(&schema, b"click,item,price,genres,history\n");
        assert!(
            got.contains("bad.csv:1: dense input 1: the header has no column \"age\""),
            "{got}"
        );
        let got = error(&schema, b"item,price,age,genres,history\n1,2,3,4,5\n");
        assert!(got.contains("bad.csv:1: label: the header has no column \"click\""), "{got}");
        let got = error(&schema, b"");
        assert!(got.contains("bad.csv:1: the file is empty: no header line"), "{got}");
        let dup = b"click,item,item,price,age,genres,history\n";
        assert!(error(&schema, dup).contains("column \"item\" appears more than once"));
        // The label may not feed the model too.
        let leak = parse(
            "[input]\nformat='csv'\n[input.label]\ncolumn='y'\n\
             [[groups]]\nname='g'\nfields=['y']",
        );
        let got = error(&leak, b"y\n1\n");
        assert!(got.contains("bad.csv:1: the label column 1 (y) also feeds field y"), "{got}");
    }

    #[test]
    fn predicting_reads_a_csv_without_its_label_column() {
        let schema = parse(CSV);
        let samples = read(&schema, b"item,price,age,genres,history\na,1,30,,\n");
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].label, None);
        assert_eq!(samples[0].ids[0], [id("item", "a")]);
    }

    #[test]
    fn quotes_open_only_at_the_start_of_a_value() {
        let schema = parse(
            "[input]\nformat='csv'\n[input.label]\ncolumn='click'\n\
             [[groups]]\nname='g'\nfields=['item']",
        );
        let samples = read(&schema, b"click,item,\n1,5\" tv,\n0,b\n1,\"c\"\n");
        let items: Vec<_> = samples.iter().map(|s| s.ids[0].clone()).collect();
        assert_eq!(
            items,
            [vec![id("item", "5\" tv")], vec![id("item", "b")], vec![id("item", "c")]]
        );
        // A quoted value never closed stops at the length cap with a message that says so.
        let mut content = b"click,item\n1,\"open\n".to_vec();
        content.extend(std::iter::repeat_n(b"0\n".as_slice(), 600_000).flatten());
        let got = error(&schema, &content);
        assert!(got.contains("bad.csv:2: a quoted value runs past"), "{got}");
    }

    #[test]
    fn headerless_files_by_position_bom_and_skipped_records() {
        let schema = parse(
            "[input]\nformat='csv'\nheader=false\n[input.label]\ncolumn=0\n\
             [[input.fields]]\nname='a'\ncolumn=1\n[[groups]]\nname='g'\nfields=['a']",
        );
        // Lines need the columns the schema names; more are ignored; a BOM is not data.
        let samples = read(&schema, "\u{feff}1,x,extra\n0,y\n1,z,p,q\n".as_bytes());
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].label, Some(1.0));
        assert_eq!(samples[2].ids[0], [id("a", "z")]);
        assert!(error(&schema, b"1\n").contains("bad.csv:1: expected at least 2 columns, found 1"));
        // Skipped records are not parsed.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(&dir, "s.csv", b"bad\n\n\"q\nq\",2\n1,w\n");
        let mut reader = Reader::open(&path, &schema, ReadOptions::default()).expect("open");
        assert_eq!(reader.skip_records(2).expect("skip"), 2);
        let s = reader.next_sample().expect("parse").expect("a sample");
        assert_eq!((s.line, s.ids[0].as_slice()), (5, &[id("a", "w")][..]));
        assert_eq!(reader.skip_records(5).expect("skip"), 0);
    }

    #[test]
    fn weighted_items_missing_values_and_mean_pooling() {
        let schema = parse(
            "[input]\nformat='csv'\nmissing=['', 'NULL']\n[input.label]\ncolumn='y'\n\
             [[input.fields]]\nname='h'\nseparator='^'\nweighted=true\n\
             [[groups]]\nname='g'\nfields=['h']\npooling='mean'",
        );
        let samples = read(&schema, b"y,h\n1,x:2^:3^NULL:4^^y\n");
        assert_eq!(samples[0].ids[0], [id("h", "x"), id("h", "y")]);
        assert_eq!(samples[0].weights[0], [2.0, 1.0]);
        let got = error(&schema, b"y,h\n1,x:-1\n");
        assert!(got.contains("column 2 (h): weight of \"x:-1\" is negative, and group g"), "{got}");
        // Predicting, a header naming the label twice is still an error.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(&dir, "d.csv", b"y,h,y\n");
        let err = Reader::open(&path, &schema, ReadOptions::default()).expect_err("ambiguous");
        assert!(err.to_string().contains("column \"y\" appears more than once"), "{err}");
    }

    const LIBSVM: &str = r#"
        [input]
        format = "libsvm"
        index_base = 1
        [input.label]
        map = "plus_minus"
        [[input.fields]]
        name = "user"
        range = [1, 100]
        [[input.fields]]
        name = "item"
        range = [101, 200]
        [[input.fields]]
        name = "unused"
        range = [201, 201]
        [[groups]]
        name = "all"
        fields = ["user", "item"]
        pooling = "sqrtn"
    "#;

    #[test]
    fn libsvm_ranges_weights_and_index_base() {
        let schema = parse(LIBSVM);
        assert_eq!(schema.dense_width(), 0);
        let samples = read(&schema, b"-1 1:1 150:0.5 201:1\n+1  7:2\t\n3:1\n");
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].label, Some(0.0));
        // Ids hash the 0-based index: 1 in a 1-based file is index 0.
        assert_eq!(samples[0].ids[0], [id("user", "0"), id("item", "149")]);
        assert_eq!(samples[0].weights[0], [1.0, 0.5]);
        assert_eq!((samples[1].label, samples[1].weights[0].as_slice()), (Some(1.0), &[2.0][..]));
        assert_eq!(
            (samples[2].label, samples[2].ids[0].as_slice()),
            (None, &[id("user", "2")][..])
        );

        let cases = [
            ("1 0:1\n", "bad.csv:1: token 1 (\"0:1\"): index 0 is below input.index_base 1"),
            ("1 202:1\n", "token 1 (\"202:1\"): index 202 is in no declared field's range"),
            ("1 5\n", "token 1 (\"5\"): expected index:value"),
            ("1 5:x\n", "token 1 (\"5:x\"): the value is not a finite 32-bit number"),
            ("1 5:1e39\n", "token 1 (\"5:1e39\"): the value is not a finite 32-bit number"),
            ("1 5:1 -3:1\n", "token 2 (\"-3:1\"): the index is not a non-negative integer"),
            ("0 5:1\n", "label: expected -1 or 1, found \"0\""),
            ("1 5:1\n\n   \n", "bad.csv:3: blank line of spaces"),
        ];
        for (content, want) in cases {
            let got = error(&schema, content.as_bytes());
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
    }

    #[test]
    fn libffm_field_numbers_and_errors() {
        let schema = parse(
            r#"
            [input]
            format = "libffm"
            index_base = 0
            [[input.fields]]
            name = "a"
            field = 0
            [[input.fields]]
            name = "b"
            field = 1
            [[input.fields]]
            name = "c"
            field = 2
            [[groups]]
            name = "ab"
            fields = ["a", "b"]
            [[groups]]
            name = "c"
            fields = ["c"]
            pooling = "mean"
        "#,
        );
        let samples = read(&schema, b"1 0:5:0.25 1:5:1 2:9:0.5 2:10:0.5\n0 1:3:1\n");
        assert_eq!(samples[0].label, Some(1.0));
        assert_eq!(samples[0].ids[0], [id("a", "5"), id("b", "5")]);
        assert_eq!(samples[0].weights[0], [0.25, 1.0]);
        assert_eq!(samples[0].ids[1], [id("c", "9"), id("c", "10")]);
        assert_eq!((samples[1].label, samples[1].ids[1].len()), (Some(0.0), 0));
        let got = error(&schema, b"1 3:5:1\n");
        assert!(got.contains("token 1 (\"3:5:1\"): field 3 is not declared"), "{got}");
        let got = error(&schema, b"1 0:5\n");
        assert!(got.contains("token 1 (\"0:5\"): expected field:index:value"), "{got}");
    }

    #[test]
    fn skipped_lines_are_counted_with_examples() {
        let schema = parse(LIBSVM);
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = write(&dir, "s.txt", b"1 1:1\nbad\n1 2:1\n1 999:1\n");
        let options = ReadOptions { skip_bad_lines: true, require_labels: true };
        let mut reader = Reader::open(&path, &schema, options).expect("open");
        let batch = reader.read_batch(10).expect("should read");
        assert_eq!(batch.len, 2);
        assert_eq!(reader.skipped_lines(), 2);
        assert!(reader.skip_examples()[0].ends_with(":2: label: expected -1 or 1, found \"bad\""));
        assert!(reader.skip_examples()[1].contains(":4: token 1"));
    }
}
