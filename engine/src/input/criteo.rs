//! Streaming reader for Criteo DAC format files.
//!
//! One sample per line, tab-separated: `label, I1..I13, C1..C26`, where an empty column is a
//! missing value. A line with 40 columns is labeled (the training file); a line with 39 columns
//! has no label (the Criteo `test.txt` layout). Files may be plain text or gzip; gzip is
//! recognised by its magic bytes, so the file name does not matter.
//!
//! The reader is on the training hot path: it reuses one line buffer, parses bytes in place and
//! allocates nothing per line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::error::{Error, Result};
use crate::hash::{feature_id, field_seed, EmbeddingId};

/// Number of integer (dense) columns, `I1..I13`.
pub const DENSE_FIELDS: usize = 13;

/// Number of categorical columns, `C1..C26`.
pub const CATEGORICAL_FIELDS: usize = 26;

/// Columns of a labeled line: label, dense, categorical.
const LABELED_COLUMNS: usize = 1 + DENSE_FIELDS + CATEGORICAL_FIELDS;

/// Columns of an unlabeled line: dense, categorical.
const UNLABELED_COLUMNS: usize = DENSE_FIELDS + CATEGORICAL_FIELDS;

/// Longest accepted line in bytes, without the line ending. Real lines are a few hundred bytes;
/// the cap keeps memory bounded when a file has no newlines at all (e.g. a binary file).
const MAX_LINE_BYTES: usize = 1 << 20;

/// Read buffer size; large buffers keep the number of read system calls low.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// How many skip reasons are kept as examples.
const MAX_SKIP_EXAMPLES: usize = 5;

/// Longest value quoted in a parse error, in bytes; longer values are cut.
const MAX_SHOWN_BYTES: usize = 40;

/// Small non-negative integers dominate the dense columns, so their transform is tabulated.
const DENSE_TABLE_LEN: usize = 1024;

/// Name of the categorical column at `index` (0-based): `0` gives `"C1"`, `25` gives `"C26"`.
///
/// The name is the field name used to seed the feature hash of the column.
#[must_use]
pub fn categorical_field_name(index: usize) -> String {
    format!("C{}", index + 1)
}

/// Name of the dense column at `index` (0-based): `0` gives `"I1"`, `12` gives `"I13"`.
#[must_use]
pub fn dense_field_name(index: usize) -> String {
    format!("I{}", index + 1)
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line number in the file.
    pub line: u64,
    /// `Some(0.0)` or `Some(1.0)` for 40-column lines, `None` for 39-column lines.
    pub label: Option<f32>,
    /// `ln(1 + max(x, 0))` of each dense column; a missing value is `0.0`.
    pub dense: [f32; DENSE_FIELDS],
    /// Hashed id of each categorical column; `None` when the column is empty.
    pub categorical: [Option<EmbeddingId>; CATEGORICAL_FIELDS],
}

/// The byte source: plain text or gzip, both buffered.
enum Source {
    Plain(BufReader<File>),
    Gzip(BufReader<MultiGzDecoder<BufReader<File>>>),
}

impl Source {
    fn as_buf_read(&mut self) -> &mut dyn BufRead {
        match self {
            Source::Plain(reader) => reader,
            Source::Gzip(reader) => reader,
        }
    }
}

/// Streaming reader of a Criteo format file.
///
/// Lines are parsed one at a time; malformed lines either stop the reader with
/// [`Error::Parse`] or are skipped and counted, depending on `skip_bad_lines` in
/// [`CriteoReader::open`].
pub struct CriteoReader {
    path: PathBuf,
    source: Source,
    /// Reused for every line so that reading does not allocate.
    line: Vec<u8>,
    field_seeds: [u64; CATEGORICAL_FIELDS],
    dense_table: Box<[f32; DENSE_TABLE_LEN]>,
    skip_bad_lines: bool,
    require_labels: bool,
    lines_read: u64,
    skipped_lines: u64,
    skip_examples: Vec<String>,
}

impl std::fmt::Debug for CriteoReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CriteoReader")
            .field("path", &self.path)
            .field("gzip", &matches!(self.source, Source::Gzip(_)))
            .field("skip_bad_lines", &self.skip_bad_lines)
            .field("lines_read", &self.lines_read)
            .field("skipped_lines", &self.skipped_lines)
            .finish_non_exhaustive()
    }
}

impl CriteoReader {
    /// Opens `path` for reading.
    ///
    /// Categorical ids are `feature_id(field_seed(hash_seed, "C<k>"), raw bytes)`. With
    /// `skip_bad_lines` false the first malformed line is an error; with it true malformed lines
    /// are skipped and counted (see [`CriteoReader::skipped_lines`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with op `open` if the file cannot be opened, or op `read` if its first bytes
    /// cannot be read.
    pub fn open(path: &Path, hash_seed: u64, skip_bad_lines: bool) -> Result<CriteoReader> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        // The magic bytes decide, not the extension: `.gz` files are sometimes already
        // decompressed and compressed files are sometimes renamed.
        let head = reader.fill_buf().map_err(|e| Error::io("read", path, e))?;
        let source = if head.starts_with(&[0x1f, 0x8b]) {
            // Multi-member gzip (pigz, bgzip, concatenated files) is common for large datasets.
            let decoder = MultiGzDecoder::new(reader);
            Source::Gzip(BufReader::with_capacity(READ_BUFFER_BYTES, decoder))
        } else {
            Source::Plain(reader)
        };
        let field_seeds =
            std::array::from_fn(|i| field_seed(hash_seed, &categorical_field_name(i)));
        let dense_table = Box::new(std::array::from_fn(|i| (i as f64).ln_1p() as f32));
        Ok(CriteoReader {
            path: path.to_path_buf(),
            source,
            line: Vec::with_capacity(4096),
            field_seeds,
            dense_table,
            skip_bad_lines,
            require_labels: false,
            lines_read: 0,
            skipped_lines: 0,
            skip_examples: Vec::new(),
        })
    }

    /// Makes unlabeled (39-column) lines malformed, for training and evaluation input.
    pub fn require_labels(&mut self, yes: bool) {
        self.require_labels = yes;
    }

    /// Reads the next record; `Ok(None)` at the end of the file.
    ///
    /// After a parse error the reader stays usable: the next call continues with the next line.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] for a malformed line when bad lines are not skipped, and [`Error::Io`]
    /// with op `read` if the file cannot be read (including corrupt or truncated gzip data).
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            let line_no = self.lines_read;
            let parsed = if self.line.len() > MAX_LINE_BYTES {
                Err(format!("line longer than {MAX_LINE_BYTES} bytes"))
            } else {
                parse_line(&self.line, line_no, &self.field_seeds, &self.dense_table)
            };
            let parsed = match parsed {
                Ok(record) if self.require_labels && record.label.is_none() => Err(format!(
                    "expected {LABELED_COLUMNS} tab-separated columns, found {UNLABELED_COLUMNS}: \
                     the label is missing"
                )),
                other => other,
            };
            match parsed {
                Ok(record) => return Ok(Some(record)),
                Err(reason) if self.skip_bad_lines => {
                    self.skipped_lines += 1;
                    if self.skip_examples.len() < MAX_SKIP_EXAMPLES {
                        let example = format!("{}:{}: {}", self.path.display(), line_no, reason);
                        self.skip_examples.push(example);
                    }
                }
                Err(reason) => {
                    return Err(Error::Parse { path: self.path.clone(), line: line_no, reason })
                }
            }
        }
    }

    /// Reads up to `max` records into `out`, which is cleared first; returns how many were read.
    ///
    /// Fewer than `max` records (possibly zero) means the end of the file was reached.
    ///
    /// # Errors
    ///
    /// As [`CriteoReader::next_record`]. On error `out` holds a partial batch that the caller
    /// should discard.
    pub fn read_batch(&mut self, max: usize, out: &mut Vec<Record>) -> Result<usize> {
        out.clear();
        while out.len() < max {
            match self.next_record()? {
                Some(record) => out.push(record),
                None => break,
            }
        }
        Ok(out.len())
    }

    /// Number of malformed lines skipped so far (always 0 unless `skip_bad_lines` is set).
    #[must_use]
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// The first few skip reasons (at most 5), each formatted as `path:line: reason`.
    #[must_use]
    pub fn skip_examples(&self) -> &[String] {
        &self.skip_examples
    }

    /// Number of lines consumed so far, good and bad.
    #[must_use]
    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }

    /// The file being read.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the next line into `self.line` without its line ending; false at end of file.
    ///
    /// A line longer than [`MAX_LINE_BYTES`] is consumed entirely but only its first
    /// `MAX_LINE_BYTES + 2` bytes are kept, which is enough for the caller to reject it.
    fn read_line(&mut self) -> Result<bool> {
        self.line.clear();
        let reader = self.source.as_buf_read();
        let limit = MAX_LINE_BYTES as u64 + 2;
        let n = Read::take(&mut *reader, limit)
            .read_until(b'\n', &mut self.line)
            .map_err(|e| Error::io("read", &self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.lines_read += 1;
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        } else if n as u64 == limit {
            // The limit was hit before the newline: drop the rest of this line.
            reader.skip_until(b'\n').map_err(|e| Error::io("read", &self.path, e))?;
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        Ok(true)
    }
}

/// Parses one line (without its line ending); the error is the reason text.
fn parse_line(
    line: &[u8],
    line_no: u64,
    field_seeds: &[u64; CATEGORICAL_FIELDS],
    dense_table: &[f32; DENSE_TABLE_LEN],
) -> std::result::Result<Record, String> {
    if line.is_empty() {
        return Err("empty line".to_string());
    }
    let mut columns: [&[u8]; LABELED_COLUMNS] = [&[]; LABELED_COLUMNS];
    let mut count = 0usize;
    // Keep counting past the array so the error can say how many columns there were.
    for column in line.split(|&b| b == b'\t') {
        if let Some(slot) = columns.get_mut(count) {
            *slot = column;
        }
        count += 1;
    }
    let (label, first_dense) = match count {
        LABELED_COLUMNS => {
            let label = match columns[0] {
                b"0" => 0.0,
                b"1" => 1.0,
                other => {
                    return Err(format!("column label: expected 0 or 1, found {}", shown(other)))
                }
            };
            (Some(label), 1)
        }
        UNLABELED_COLUMNS => (None, 0),
        n => {
            return Err(format!(
                "expected {LABELED_COLUMNS} or {UNLABELED_COLUMNS} tab-separated columns, \
                 found {n}"
            ))
        }
    };

    let mut dense = [0.0f32; DENSE_FIELDS];
    let dense_columns = &columns[first_dense..first_dense + DENSE_FIELDS];
    for (i, (value, raw)) in dense.iter_mut().zip(dense_columns).enumerate() {
        if raw.is_empty() {
            continue;
        }
        *value = match parse_dense(raw, dense_table) {
            Some(v) => v,
            None => return Err(format!("column I{}: not a number: {}", i + 1, shown(raw))),
        };
    }

    let mut categorical = [None; CATEGORICAL_FIELDS];
    let first_categorical = first_dense + DENSE_FIELDS;
    let categorical_columns = &columns[first_categorical..first_categorical + CATEGORICAL_FIELDS];
    for ((id, raw), seed) in categorical.iter_mut().zip(categorical_columns).zip(field_seeds) {
        if !raw.is_empty() {
            *id = Some(feature_id(*seed, raw));
        }
    }

    Ok(Record { line: line_no, label, dense, categorical })
}

/// Parses a non-empty dense value and applies `ln(1 + max(x, 0))`; `None` if it is not a number.
///
/// Integers (optionally signed) take the fast path; plain decimals such as `260.0` are accepted
/// too because some exports of the dataset write the integer columns as floats. Exponents,
/// `inf` and `nan` are rejected.
fn parse_dense(raw: &[u8], dense_table: &[f32; DENSE_TABLE_LEN]) -> Option<f32> {
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, raw),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &c in digits {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            return parse_decimal(raw);
        }
        value = match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(digit))) {
            Some(v) => v,
            // Too large for u64: still a valid number, let the float parser handle it.
            None => return parse_decimal(raw),
        };
    }
    if negative {
        return Some(0.0);
    }
    Some(match dense_table.get(value as usize) {
        Some(&v) => v,
        None => (value as f64).ln_1p() as f32,
    })
}

/// Slow path of [`parse_dense`]: `[+-]digits[.digits]` with at least one digit.
fn parse_decimal(raw: &[u8]) -> Option<f32> {
    let unsigned = raw.strip_prefix(b"-").or_else(|| raw.strip_prefix(b"+")).unwrap_or(raw);
    let mut digits = 0usize;
    let mut dots = 0usize;
    for &c in unsigned {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return None,
        }
    }
    if digits == 0 || dots > 1 {
        return None;
    }
    // The bytes were checked to be ASCII digits, sign and dot, so this is valid UTF-8.
    let x: f64 = std::str::from_utf8(raw).ok()?.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    Some(x.max(0.0).ln_1p() as f32)
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
    use std::io::Write;

    const SEED: u64 = 7;

    /// Builds a line from a label (or none), dense strings and categorical strings.
    fn make_line(label: Option<&str>, dense: &[&str], cats: &[&str]) -> String {
        let mut cols: Vec<&str> = Vec::new();
        if let Some(l) = label {
            cols.push(l);
        }
        let mut d = dense.to_vec();
        d.resize(DENSE_FIELDS, "");
        let mut c = cats.to_vec();
        c.resize(CATEGORICAL_FIELDS, "");
        cols.extend(d);
        cols.extend(c);
        cols.join("\t")
    }

    fn write_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("should write fixture");
        path
    }

    fn read_all(path: &Path, skip: bool) -> (Vec<Record>, CriteoReader) {
        let mut reader = CriteoReader::open(path, SEED, skip).expect("should open");
        let mut out = Vec::new();
        while let Some(r) = reader.next_record().expect("should parse") {
            out.push(r);
        }
        (out, reader)
    }

    fn parse_error(content: &str) -> (u64, String) {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = write_file(&dir, "bad.txt", content.as_bytes());
        let mut reader = CriteoReader::open(&path, SEED, false).expect("should open");
        loop {
            match reader.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("expected a parse error in {content:?}"),
                Err(Error::Parse { path: p, line, reason }) => {
                    assert_eq!(p, path);
                    let err = Error::Parse { path: p, line, reason: reason.clone() };
                    let msg = err.to_string();
                    assert!(msg.contains(&format!("bad.txt:{line}: {reason}")), "{msg}");
                    return (line, reason);
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    }

    /// Asserts that `got` is `ln(n)` to f32 precision.
    fn assert_ln(got: f32, n: f64) {
        assert!((f64::from(got) - n.ln()).abs() <= 1e-6 * n.ln().max(1.0), "{got} vs ln({n})");
    }

    fn id(field: usize, raw: &str) -> Option<EmbeddingId> {
        Some(feature_id(field_seed(SEED, &categorical_field_name(field)), raw.as_bytes()))
    }

    #[test]
    fn field_names() {
        assert_eq!(categorical_field_name(0), "C1");
        assert_eq!(categorical_field_name(25), "C26");
        assert_eq!(dense_field_name(0), "I1");
        assert_eq!(dense_field_name(12), "I13");
    }

    #[test]
    fn labeled_and_unlabeled_lines_with_missing_values() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let l1 = make_line(Some("1"), &["1", "", "0", "1000"], &["68fd1e64", "", "abc"]);
        let l2 = make_line(None, &["", "3"], &["", "x"]);
        let l3 = make_line(Some("0"), &[], &[]);
        let path = write_file(&dir, "a.txt", format!("{l1}\n{l2}\n{l3}\n").as_bytes());
        let (recs, reader) = read_all(&path, false);
        assert_eq!(recs.len(), 3);
        assert_eq!(reader.lines_read(), 3);
        assert_eq!(reader.skipped_lines(), 0);
        assert_eq!(reader.path(), path.as_path());

        let r = &recs[0];
        assert_eq!(r.line, 1);
        assert_eq!(r.label, Some(1.0));
        assert_ln(r.dense[0], 2.0);
        assert_eq!(r.dense[1], 0.0);
        assert_eq!(r.dense[2], 0.0);
        assert_ln(r.dense[3], 1001.0);
        assert_eq!(r.categorical[0], id(0, "68fd1e64"));
        assert_eq!(r.categorical[1], None);
        assert_eq!(r.categorical[2], id(2, "abc"));
        assert!(r.categorical[3..].iter().all(Option::is_none));

        let r = &recs[1];
        assert_eq!(r.line, 2);
        assert_eq!(r.label, None);
        assert_ln(r.dense[1], 4.0);
        assert_eq!(r.categorical[0], None);
        assert_eq!(r.categorical[1], id(1, "x"));

        let r = &recs[2];
        assert_eq!(r.label, Some(0.0));
        assert_eq!(r.dense, [0.0; DENSE_FIELDS]);
        assert_eq!(r.categorical, [None; CATEGORICAL_FIELDS]);
    }

    #[test]
    fn dense_transform_values() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let dense = [
            "0",
            "-2",
            "5",
            "1023",
            "1024",
            "123456789",
            "260.0",
            "2.5",
            "+7",
            "-0",
            "007",
            "99999999999999999999",
            "-99999999999999999999",
        ];
        let line = make_line(Some("0"), &dense, &[]);
        let path = write_file(&dir, "d.txt", format!("{line}\n").as_bytes());
        let (recs, _) = read_all(&path, false);
        let expect = [
            0.0,
            0.0,
            6f64.ln(),
            1024f64.ln(),
            1025f64.ln(),
            123456790f64.ln(),
            261f64.ln(),
            3.5f64.ln(),
            8f64.ln(),
            0.0,
            8f64.ln(),
            1e20f64.ln_1p(),
            0.0,
        ];
        for (i, (&got, want)) in recs[0].dense.iter().zip(expect).enumerate() {
            assert!((f64::from(got) - want).abs() <= 1e-6 * want.max(1.0), "I{}: {got}", i + 1);
        }
    }

    #[test]
    fn crlf_and_last_line_without_newline() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let l1 = make_line(Some("1"), &["3"], &["zz"]);
        let l2 = make_line(Some("0"), &[], &["", "", "", "", "", "", "", "", "", "", "", "", "q"]);
        let path = write_file(&dir, "c.txt", format!("{l1}\r\n{l2}").as_bytes());
        let (recs, reader) = read_all(&path, false);
        assert_eq!(recs.len(), 2);
        assert_eq!(reader.lines_read(), 2);
        assert_eq!(recs[0].categorical[0], id(0, "zz"));
        assert_ln(recs[0].dense[0], 4.0);
        assert_eq!(recs[1].line, 2);
        assert_eq!(recs[1].categorical[12], id(12, "q"));
        // A trailing CR on the last categorical column must not become part of the value,
        // and a CR without LF at end of file is stripped too.
        let path = write_file(&dir, "d.txt", format!("{l2}\r").as_bytes());
        let (recs, _) = read_all(&path, false);
        assert_eq!(recs[0].categorical[12], id(12, "q"));
    }

    #[test]
    fn empty_file_and_trailing_newline() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = write_file(&dir, "e.txt", b"");
        let (recs, reader) = read_all(&path, false);
        assert!(recs.is_empty());
        assert_eq!(reader.lines_read(), 0);
        let line = make_line(Some("1"), &[], &[]);
        let path = write_file(&dir, "f.txt", format!("{line}\n").as_bytes());
        let (recs, reader) = read_all(&path, false);
        assert_eq!(recs.len(), 1);
        assert_eq!(reader.lines_read(), 1);
    }

    #[test]
    fn same_value_in_different_columns_gets_different_ids() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let l1 = make_line(Some("1"), &[], &["5", "5"]);
        let l2 = make_line(None, &[], &["5", "6"]);
        let path = write_file(&dir, "h.txt", format!("{l1}\n{l2}\n").as_bytes());
        let (recs, _) = read_all(&path, false);
        assert_ne!(recs[0].categorical[0], recs[0].categorical[1]);
        assert_eq!(recs[0].categorical[0], recs[1].categorical[0]);
        assert_ne!(recs[1].categorical[0], recs[1].categorical[1]);
        // A different hash seed gives different ids.
        let mut other = CriteoReader::open(&path, SEED + 1, false).expect("should open");
        let r = other.next_record().expect("should parse").expect("should have a record");
        assert_ne!(r.categorical[0], recs[0].categorical[0]);
    }

    #[test]
    fn non_utf8_categorical_is_hashed_raw() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let mut bytes = make_line(Some("0"), &[], &[]).into_bytes();
        // Put invalid UTF-8 into C26, the last column.
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let path = write_file(&dir, "u.txt", &bytes);
        let (recs, _) = read_all(&path, false);
        let seed = field_seed(SEED, "C26");
        assert_eq!(recs[0].categorical[25], Some(feature_id(seed, &[0xff, 0xfe])));
    }

    #[test]
    fn gzip_round_trip_regardless_of_name() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let mut text = String::new();
        for i in 0..1000 {
            let label = if i % 3 == 0 { "1" } else { "0" };
            let d = i.to_string();
            let c = format!("{i:08x}");
            text.push_str(&make_line(Some(label), &[&d], &[&c]));
            text.push('\n');
        }
        let plain = write_file(&dir, "p.txt", text.as_bytes());
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).expect("should compress");
        let gz = enc.finish().expect("should finish gzip");
        let with_ext = write_file(&dir, "g.txt.gz", &gz);
        let without_ext = write_file(&dir, "g.bin", &gz);
        let (a, _) = read_all(&plain, false);
        let (b, rb) = read_all(&with_ext, false);
        let (c, _) = read_all(&without_ext, false);
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(format!("{rb:?}").contains("gzip: true"));

        // Two concatenated gzip members read as one stream.
        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        let doubled = write_file(&dir, "two.gz", &two);
        let (d, _) = read_all(&doubled, false);
        assert_eq!(d.len(), 2000);
        assert_eq!(d[1999].line, 2000);
    }

    #[test]
    fn truncated_gzip_is_a_read_error() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let line = make_line(Some("1"), &["12345"], &["abcdef01"]);
        let mut text = String::new();
        for _ in 0..20000 {
            text.push_str(&line);
            text.push('\n');
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).expect("should compress");
        let gz = enc.finish().expect("should finish gzip");
        let path = write_file(&dir, "t.gz", &gz[..gz.len() / 2]);
        let mut reader = CriteoReader::open(&path, SEED, false).expect("should open");
        let err = loop {
            match reader.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("truncated gzip read to the end without an error"),
                Err(e) => break e,
            }
        };
        assert!(reader.lines_read() > 0);
        assert!(matches!(err, Error::Io { op: "read", .. }), "{err}");
    }

    #[test]
    fn open_missing_file_is_an_open_error() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let err = CriteoReader::open(&dir.path().join("nope.txt"), SEED, false)
            .expect_err("should fail to open");
        assert!(matches!(err, Error::Io { op: "open", .. }), "{err}");
    }

    #[test]
    fn malformed_lines_report_line_and_reason() {
        let good = make_line(Some("1"), &[], &[]);
        let cases: Vec<(String, &str)> = vec![
            (make_line(Some("1"), &[], &[]) + "\textra", "found 41"),
            ("a\tb\tc".to_string(), "expected 40 or 39 tab-separated columns, found 3"),
            (String::new(), "empty line"),
            (make_line(Some("2"), &[], &[]), "column label: expected 0 or 1, found \"2\""),
            (make_line(Some(""), &[], &[]), "column label: expected 0 or 1, found \"\""),
            (make_line(Some("1.0"), &[], &[]), "found \"1.0\""),
            (
                make_line(Some("0"), &["1", "2", "3", "4", "abc"], &[]),
                "column I5: not a number: \"abc\"",
            ),
            (make_line(None, &["1e5"], &[]), "column I1: not a number: \"1e5\""),
            (make_line(None, &["", "-"], &[]), "column I2: not a number: \"-\""),
            (make_line(None, &["1.2.3"], &[]), "column I1: not a number: \"1.2.3\""),
            (make_line(None, &["."], &[]), "column I1: not a number: \".\""),
            (make_line(None, &["nan"], &[]), "column I1: not a number: \"nan\""),
            (make_line(None, &[" 5"], &[]), "column I1: not a number: \" 5\""),
            (make_line(None, &[&"z".repeat(100)], &[]), "\"zzzzzzzzzz"),
        ];
        for (bad, want) in cases {
            let content = format!("{good}\n{good}\r\n{bad}\n{good}\n");
            let (line, reason) = parse_error(&content);
            assert_eq!(line, 3, "{bad:?}");
            assert!(reason.contains(want), "reason {reason:?} should contain {want:?}");
            assert!(reason.is_ascii() && reason.len() < 120, "{reason:?}");
        }
        let long = make_line(None, &[&"z".repeat(100)], &[]);
        let (_, reason) = parse_error(&format!("{long}\n"));
        assert!(reason.ends_with(&format!("\"{}\"...", "z".repeat(MAX_SHOWN_BYTES))), "{reason}");
    }

    #[test]
    fn overlong_line_is_malformed_and_skippable() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let good = make_line(Some("1"), &[], &["ok"]);
        let huge = "x".repeat(MAX_LINE_BYTES + 10);
        let content = format!("{good}\n{huge}\n{good}\n");
        let (line, reason) = parse_error(&content);
        assert_eq!(line, 2);
        assert!(reason.contains("line longer than"), "{reason}");
        let path = write_file(&dir, "long.txt", content.as_bytes());
        let (recs, reader) = read_all(&path, true);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].line, 3);
        assert_eq!(recs[1].categorical[0], id(0, "ok"));
        assert_eq!(reader.skipped_lines(), 1);
        // A line of exactly the maximum length is read in one piece (and then rejected
        // for its column count, not its length).
        let exact = "y".repeat(MAX_LINE_BYTES);
        let (_, reason) = parse_error(&format!("{exact}\r\n{good}\n"));
        assert!(reason.contains("found 1"), "{reason}");
    }

    #[test]
    fn skip_mode_counts_and_continues() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let good = make_line(Some("1"), &["4"], &["a"]);
        let mut content = String::new();
        for i in 0..10 {
            content.push_str(&good);
            content.push('\n');
            content.push_str(&format!("bad{i}\n"));
        }
        content.push('\n');
        content.push_str(&good);
        let path = write_file(&dir, "s.txt", content.as_bytes());
        let (recs, reader) = read_all(&path, true);
        assert_eq!(recs.len(), 11);
        assert_eq!(recs[1].line, 3);
        assert_eq!(recs[10].line, 22);
        assert_eq!(reader.skipped_lines(), 11);
        assert_eq!(reader.lines_read(), 22);
        let examples = reader.skip_examples();
        assert_eq!(examples.len(), 5);
        let first =
            format!("{}:2: expected 40 or 39 tab-separated columns, found 1", path.display());
        assert_eq!(examples[0], first);
        assert!(examples[4].starts_with(&format!("{}:10: ", path.display())));

        // Fail-fast mode stops at the first bad line.
        let mut reader = CriteoReader::open(&path, SEED, false).expect("should open");
        assert!(reader.next_record().expect("should parse line 1").is_some());
        let err = reader.next_record().expect_err("line 2 is bad");
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        assert_eq!(reader.skipped_lines(), 0);
    }

    #[test]
    fn read_batch_fills_and_ends() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let mut content = String::new();
        for i in 0..7 {
            content.push_str(&make_line(Some("0"), &[&i.to_string()], &[]));
            content.push('\n');
        }
        let path = write_file(&dir, "b.txt", content.as_bytes());
        let mut reader = CriteoReader::open(&path, SEED, false).expect("should open");
        let mut out = vec![];
        assert_eq!(reader.read_batch(3, &mut out).expect("should read"), 3);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].line, 1);
        assert_eq!(reader.read_batch(3, &mut out).expect("should read"), 3);
        assert_eq!(out[0].line, 4);
        assert_eq!(reader.read_batch(3, &mut out).expect("should read"), 1);
        assert_eq!(out[0].line, 7);
        assert_eq!(reader.read_batch(3, &mut out).expect("should read"), 0);
        assert!(out.is_empty());
        assert_eq!(reader.read_batch(0, &mut out).expect("should read"), 0);

        // A bad line inside a batch fails the batch.
        let path = write_file(&dir, "bb.txt", format!("{content}oops\n").as_bytes());
        let mut reader = CriteoReader::open(&path, SEED, false).expect("should open");
        let err = reader.read_batch(100, &mut out).expect_err("should fail");
        assert!(matches!(err, Error::Parse { line: 8, .. }), "{err}");
    }

    #[test]
    fn reader_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<CriteoReader>();
    }
}
