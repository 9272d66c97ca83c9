//! The Criteo DAC layout: a preset of the delimited reader ([`super::Reader`]).
//!
//! One sample per line, tab-separated: `label, I1..I13, C1..C26`, where an empty column is a
//! missing value. A line with 40 columns is labeled (the training file); a line with 39 columns
//! has no label (the Criteo `test.txt` layout). Dense columns enter the model as
//! `ln(1 + max(x, 0))`. A schema selects it with `[input] format = "criteo"` (the default).

/// Number of integer (dense) columns, `I1..I13`.
pub const DENSE_FIELDS: usize = 13;

/// Number of categorical columns, `C1..C26`.
pub const CATEGORICAL_FIELDS: usize = 26;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::hash::{feature_id, field_seed, EmbeddingId};
    use crate::input::source::MAX_LINE_BYTES;
    use crate::input::{ReadOptions, Reader};
    use crate::schema::Schema;
    use std::io::Write;
    use std::path::{Path, PathBuf};

    const SEED: u64 = 7;
    const MAX_SHOWN_BYTES: usize = 40;

    /// One sample in the shape of the layout: one optional id per categorical column.
    #[derive(Debug, PartialEq)]
    struct Record {
        line: u64,
        label: Option<f32>,
        dense: Vec<f32>,
        categorical: [Option<EmbeddingId>; CATEGORICAL_FIELDS],
    }

    fn schema(seed: u64) -> Schema {
        let mut schema = Schema::criteo_default();
        schema.hash_seed = seed;
        schema
    }

    fn open(path: &Path, seed: u64, skip: bool) -> crate::Result<Reader> {
        let options = ReadOptions { skip_bad_lines: skip, require_labels: false };
        Reader::open(path, &schema(seed), options)
    }

    fn next(reader: &mut Reader) -> crate::Result<Option<Record>> {
        Ok(reader.next_sample()?.map(|s| Record {
            line: s.line,
            label: s.label,
            dense: s.dense.clone(),
            categorical: std::array::from_fn(|k| {
                assert!(s.ids[k].len() <= 1, "one id per column");
                assert!(s.weights[k].iter().all(|&w| w == 1.0));
                s.ids[k].first().copied()
            }),
        }))
    }

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

    fn read_all(path: &Path, skip: bool) -> (Vec<Record>, Reader) {
        let mut reader = open(path, SEED, skip).expect("should open");
        let mut out = Vec::new();
        while let Some(r) = next(&mut reader).expect("should parse") {
            out.push(r);
        }
        (out, reader)
    }

    fn parse_error(content: &str) -> (u64, String) {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let path = write_file(&dir, "bad.txt", content.as_bytes());
        let mut reader = open(&path, SEED, false).expect("should open");
        loop {
            match next(&mut reader) {
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
        assert_eq!(reader.dense_width(), DENSE_FIELDS);
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
        let mut other = open(&path, SEED + 1, false).expect("should open");
        let r = next(&mut other).expect("should parse").expect("should have a record");
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
        assert_eq!(rb.lines_read(), 1000);

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
        let mut reader = open(&path, SEED, false).expect("should open");
        let err = loop {
            match next(&mut reader) {
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
        let err = open(&dir.path().join("nope.txt"), SEED, false).expect_err("should fail to open");
        assert!(matches!(err, Error::Io { op: "open", .. }), "{err}");
    }

    #[test]
    fn malformed_lines_report_line_and_reason() {
        let good = make_line(Some("1"), &[], &[]);
        let cases: Vec<(String, &str)> = vec![
            (make_line(Some("1"), &[], &[]) + "\textra", "found 41"),
            ("a\tb\tc".to_string(), "expected 40 or 39 columns, found 3"),
            (make_line(Some("2"), &[], &[]), "column 1 (label): expected 0 or 1, found \"2\""),
            (make_line(Some(""), &[], &[]), "column 1 (label): expected 0 or 1, found \"\""),
            (make_line(Some("0.5"), &[], &[]), "found \"0.5\""),
            (
                make_line(Some("0"), &["1", "2", "3", "4", "abc"], &[]),
                "column 6 (I5): not a number: \"abc\"",
            ),
            (make_line(None, &["1e5x"], &[]), "column 1 (I1): not a number: \"1e5x\""),
            (make_line(None, &["", "-"], &[]), "column 2 (I2): not a number: \"-\""),
            (make_line(None, &["1.2.3"], &[]), "column 1 (I1): not a number: \"1.2.3\""),
            (make_line(None, &["."], &[]), "column 1 (I1): not a number: \".\""),
            (make_line(None, &["nan"], &[]), "column 1 (I1): not a number: \"nan\""),
            (make_line(None, &["1e999"], &[]), "column 1 (I1): not a number: \"1e999\""),
            (make_line(None, &[" 5"], &[]), "column 1 (I1): not a number: \" 5\""),
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
        assert_eq!(reader.skipped_lines(), 10, "the blank line is not a sample, nor malformed");
        assert_eq!(reader.lines_read(), 22);
        let examples = reader.skip_examples();
        assert_eq!(examples.len(), 5);
        let first = format!("{}:2: expected 40 or 39 columns, found 1", path.display());
        assert_eq!(examples[0], first);
        assert!(examples[4].starts_with(&format!("{}:10: ", path.display())));

        // Fail-fast mode stops at the first bad line.
        let mut reader = open(&path, SEED, false).expect("should open");
        assert!(next(&mut reader).expect("should parse line 1").is_some());
        let err = next(&mut reader).expect_err("line 2 is bad");
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        assert_eq!(reader.skipped_lines(), 0);
    }

    #[test]
    fn read_batch_fills_and_ends() {
        let dir = tempfile::tempdir().expect("should create temp dir");
        let mut content = String::new();
        for i in 0..7 {
            content.push_str(&make_line(Some("0"), &[&i.to_string()], &["v"]));
            content.push('\n');
        }
        let path = write_file(&dir, "b.txt", content.as_bytes());
        let mut reader = open(&path, SEED, false).expect("should open");
        let batch = reader.read_batch(3).expect("should read");
        assert_eq!((batch.len, batch.labels.len(), batch.dense.len()), (3, 3, 3 * DENSE_FIELDS));
        assert_eq!(batch.groups[0].offsets, [0, 1, 2, 3]);
        assert_eq!(batch.groups[1].offsets, [0, 0, 0, 0]);
        assert!(batch.groups[0].weights.is_empty(), "unweighted input has no weights");
        assert_ln(batch.dense[DENSE_FIELDS], 2.0);
        assert_eq!(reader.read_batch(3).expect("should read").len, 3);
        assert_eq!(reader.read_batch(3).expect("should read").len, 1);
        assert_eq!(reader.read_batch(3).expect("should read").len, 0);
        assert_eq!(reader.read_batch(0).expect("should read").len, 0);

        // A bad line inside a batch fails the batch.
        let path = write_file(&dir, "bb.txt", format!("{content}oops\n").as_bytes());
        let mut reader = open(&path, SEED, false).expect("should open");
        let err = reader.read_batch(100).expect_err("should fail");
        assert!(matches!(err, Error::Parse { line: 8, .. }), "{err}");

        // Labels are dropped from a batch where some line has none.
        let unlabeled = make_line(None, &[], &[]);
        let path = write_file(&dir, "bc.txt", format!("{content}{unlabeled}\n").as_bytes());
        let mut reader = open(&path, SEED, false).expect("should open");
        let batch = reader.read_batch(100).expect("should read");
        assert_eq!((batch.len, batch.labels.len()), (8, 0));
        // ... and such a line is an error when labels are required.
        let options = ReadOptions { skip_bad_lines: false, require_labels: true };
        let mut reader = Reader::open(&path, &schema(SEED), options).expect("should open");
        let err = reader.read_batch(100).expect_err("line 8 has no label");
        assert!(
            err.to_string().contains(":8: expected 40 columns, found 39: the label is missing"),
            "{err}"
        );
    }

    #[test]
    fn reader_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Reader>();
    }
}
