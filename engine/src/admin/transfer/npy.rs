//! Just enough of NumPy's `.npy` format (version 1.0) to write and read the arrays of an
//! export: little-endian `f32` (`<f4`) and `u64` (`<u8`), C order, one or two dimensions.
//!
//! ```text
//! \x93NUMPY 0x01 0x00 <u16 LE header length> {'descr': '<f4', 'fortran_order': False,
//! 'shape': (n, d), } <spaces> \n <data, row-major>
//! ```
//!
//! The writer always uses a 128-byte header (room for any shape), so it can stream the rows
//! and fill in the row count at the end. The reader accepts any header NumPy writes for these
//! types (versions 1.0 to 3.0) and checks the file length against the shape, so a truncated
//! file is found before any of its data is used.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Bytes the writer reserves for magic, version, length and header dict.
const WRITTEN_HEADER_BYTES: usize = 128;
/// Largest header dict the reader accepts; NumPy's own are under 200 bytes.
const MAX_HEADER_BYTES: usize = 64 << 10;
const BUFFER_BYTES: usize = 1 << 20;

/// An element type of an array file.
pub(crate) trait Element: Copy + Default {
    /// NumPy's `descr` of the type.
    const DESCR: &'static str;
    /// Bytes per value.
    const BYTES: usize;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
    /// Decodes one value from exactly `BYTES` bytes.
    fn get(bytes: &[u8]) -> Self;
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";
    const BYTES: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        let mut b = [0; 4];
        b.copy_from_slice(bytes);
        f32::from_le_bytes(b)
    }
}

impl Element for u64 {
    const DESCR: &'static str = "<u8";
    const BYTES: usize = 8;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        let mut b = [0; 8];
        b.copy_from_slice(bytes);
        u64::from_le_bytes(b)
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Corruption { what: path.display().to_string(), reason: reason.into() }
}

fn shape_text(rows: u64, cols: Option<usize>) -> String {
    match cols {
        None => format!("({rows},)"),
        Some(cols) => format!("({rows}, {cols})"),
    }
}

/// The fixed-size header of a file the writer makes.
fn written_header(descr: &str, rows: u64, cols: Option<usize>) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_text(rows, cols)
    );
    let mut out = Vec::with_capacity(WRITTEN_HEADER_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&((WRITTEN_HEADER_BYTES - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    // The longest dict (two 20-digit dimensions) is about 100 bytes, well inside 118.
    out.resize(WRITTEN_HEADER_BYTES - 1, b' ');
    out.push(b'\n');
    out
}

/// Streams the rows of one array to a new file; the shape is written by [`NpyWriter::finish`].
pub(crate) struct NpyWriter<T: Element> {
    path: PathBuf,
    out: BufWriter<File>,
    cols: Option<usize>,
    values: u64,
    scratch: Vec<u8>,
    _element: PhantomData<T>,
}

impl<T: Element> NpyWriter<T> {
    /// Creates `path` (which must not exist) for an array of shape `(n,)` when `cols` is
    /// `None`, else `(n, cols)`.
    pub(crate) fn create(path: &Path, cols: Option<usize>) -> Result<Self> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        out.write_all(&written_header(T::DESCR, 0, cols))
            .map_err(|e| Error::io("write", path, e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            out,
            cols,
            values: 0,
            scratch: Vec::new(),
            _element: PhantomData,
        })
    }

    /// Appends values in row-major order (any number of whole or partial rows).
    pub(crate) fn push(&mut self, values: &[T]) -> Result<()> {
        self.scratch.clear();
        values.iter().for_each(|v| v.put(&mut self.scratch));
        self.out.write_all(&self.scratch).map_err(|e| Error::io("write", &self.path, e))?;
        self.values += values.len() as u64;
        Ok(())
    }

    /// Writes the final shape into the header and syncs the file; returns the row count.
    pub(crate) fn finish(self) -> Result<u64> {
        let path = self.path;
        let width = self.cols.unwrap_or(1).max(1) as u64;
        if self.values % width != 0 {
            return Err(Error::InvalidArgument(format!(
                "{}: {} values do not make whole rows of {width}",
                path.display(),
                self.values
            )));
        }
        let rows = self.values / width;
        let mut file =
            self.out.into_inner().map_err(|e| Error::io("write", &path, e.into_error()))?;
        let header = written_header(T::DESCR, rows, self.cols);
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("write", &path, e))?;
        Ok(rows)
    }
}

/// Reads the rows of one array file after checking its header against what is expected.
pub(crate) struct NpyReader<T: Element> {
    path: PathBuf,
    input: BufReader<File>,
    rows: u64,
    width: usize,
    left: u64,
    scratch: Vec<u8>,
    _element: PhantomData<T>,
}

impl<T: Element> std::fmt::Debug for NpyReader<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyReader").field("path", &self.path).field("rows", &self.rows).finish()
    }
}

impl<T: Element> NpyReader<T> {
    /// Opens `path`, expecting an array of `T` of shape `(n,)` when `cols` is `None`, else
    /// `(n, cols)`, in C order, and a file exactly as long as that shape needs.
    pub(crate) fn open(path: &Path, cols: Option<usize>) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io("stat", path, e))?.len();
        let mut input = BufReader::with_capacity(BUFFER_BYTES, file);
        let (header, header_len) = read_header(&mut input, path)?;
        let fields = parse_header(&header).map_err(|reason| corrupt(path, reason))?;
        if fields.descr != T::DESCR {
            return Err(corrupt(
                path,
                format!("dtype {:?}, expected {:?}", fields.descr, T::DESCR),
            ));
        }
        if fields.fortran_order {
            return Err(corrupt(path, "fortran_order is True; only C order is read"));
        }
        let ndim = if cols.is_some() { 2 } else { 1 };
        let expected_cols = cols.map(|c| c as u64);
        if fields.shape.len() != ndim
            || (ndim == 2 && fields.shape.get(1) != expected_cols.as_ref())
        {
            let wanted = shape_text(fields.shape.first().copied().unwrap_or(0), cols);
            return Err(corrupt(
                path,
                format!("shape {}, expected {wanted}", python_tuple(&fields.shape)),
            ));
        }
        let rows = fields.shape[0];
        let width = cols.unwrap_or(1);
        let data_len = rows
            .checked_mul(width as u64)
            .and_then(|n| n.checked_mul(T::BYTES as u64))
            .and_then(|n| n.checked_add(header_len))
            .ok_or_else(|| corrupt(path, "shape too large"))?;
        if file_len != data_len {
            return Err(corrupt(
                path,
                format!(
                    "file is {file_len} bytes, shape {} needs {data_len} (truncated or padded)",
                    python_tuple(&fields.shape)
                ),
            ));
        }
        Ok(NpyReader {
            path: path.to_path_buf(),
            input,
            rows,
            width,
            left: rows,
            scratch: Vec::new(),
            _element: PhantomData,
        })
    }

    /// The number of rows (the first dimension).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces `out` with the next `rows` rows (fewer at the end of the file).
    pub(crate) fn read(&mut self, rows: usize, out: &mut Vec<T>) -> Result<()> {
        let rows = rows.min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let bytes = rows * self.width * T::BYTES;
        self.scratch.resize(bytes, 0);
        self.input.read_exact(&mut self.scratch).map_err(|e| Error::io("read", &self.path, e))?;
        self.left -= rows as u64;
        out.clear();
        out.extend(self.scratch.chunks_exact(T::BYTES).map(T::get));
        Ok(())
    }
}

/// Reads magic, version and header dict; returns the dict and the offset of the data.
fn read_header(input: &mut impl Read, path: &Path) -> Result<(String, u64)> {
    let not_npy = || corrupt(path, "not a .npy file (bad magic)");
    let mut lead = [0u8; 8];
    input.read_exact(&mut lead).map_err(|_| not_npy())?;
    if &lead[..6] != MAGIC {
        return Err(not_npy());
    }
    let (len, prefix) = match lead[6] {
        1 => {
            let mut b = [0u8; 2];
            input.read_exact(&mut b).map_err(|_| corrupt(path, "truncated header"))?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            input.read_exact(&mut b).map_err(|_| corrupt(path, "truncated header"))?;
            (u32::from_le_bytes(b) as usize, 12)
        }
        v => return Err(corrupt(path, format!("npy format version {v}.{} is not read", lead[7]))),
    };
    if len > MAX_HEADER_BYTES {
        return Err(corrupt(path, format!("header of {len} bytes is too long")));
    }
    let mut header = vec![0u8; len];
    input.read_exact(&mut header).map_err(|_| corrupt(path, "truncated header"))?;
    let header = String::from_utf8(header).map_err(|_| corrupt(path, "header is not text"))?;
    Ok((header, (prefix + len) as u64))
}

fn python_tuple(shape: &[u64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(u64::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// The three entries of a header dict.
#[derive(Debug, PartialEq, Eq)]
struct HeaderFields {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// Parses the Python literal `{'descr': .., 'fortran_order': .., 'shape': (..), }`.
fn parse_header(text: &str) -> Result<HeaderFields, String> {
    let mut p = Literal { text: text.as_bytes(), at: 0 };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    p.expect(b'{')?;
    while !p.eat(b'}') {
        let key = p.string()?;
        p.expect(b':')?;
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran_order = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected header key {other:?}")),
        }
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    if !p.rest_is_blank() {
        return Err("text after the header dict".into());
    }
    Ok(HeaderFields {
        descr: descr.ok_or("header has no 'descr'")?,
        fortran_order: fortran_order.ok_or("header has no 'fortran_order'")?,
        shape: shape.ok_or("header has no 'shape'")?,
    })
}

struct Literal<'a> {
    text: &'a [u8],
    at: usize,
}

impl Literal<'_> {
    fn skip_blank(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_blank();
        let hit = self.text.get(self.at) == Some(&c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            return Ok(());
        }
        Err(format!("header: expected {:?} at byte {}", char::from(c), self.at))
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_blank();
        let quote = match self.text.get(self.at) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("header: expected a string at byte {}", self.at)),
        };
        let start = self.at + 1;
        let len =
            self.text[start..].iter().position(|&c| c == quote).ok_or("header: open string")?;
        self.at = start + len + 1;
        Ok(String::from_utf8_lossy(&self.text[start..start + len]).into_owned())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.skip_blank();
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.text[self.at..].starts_with(word) {
                self.at += word.len();
                return Ok(value);
            }
        }
        Err(format!("header: expected True or False at byte {}", self.at))
    }

    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        while !self.eat(b')') {
            self.skip_blank();
            let start = self.at;
            while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
                self.at += 1;
            }
            let digits = std::str::from_utf8(&self.text[start..self.at]).unwrap_or("");
            let n = digits.parse().map_err(|_| format!("header: bad dimension at byte {start}"))?;
            out.push(n);
            if !self.eat(b',') {
                self.expect(b')')?;
                break;
            }
        }
        Ok(out)
    }

    fn rest_is_blank(&self) -> bool {
        self.text[self.at..].iter().all(u8::is_ascii_whitespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_numpy_shaped() {
        let header = written_header("<f4", 3, Some(8));
        assert_eq!(header.len() % 64, 0);
        assert_eq!(&header[..8], b"\x93NUMPY\x01\x00");
        assert_eq!(usize::from(u16::from_le_bytes([header[8], header[9]])), header.len() - 10);
        let text = std::str::from_utf8(&header[10..]).expect("ascii");
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), }"));
        assert!(text.ends_with(" \n"));
        let widest = written_header("<u8", u64::MAX, Some(usize::MAX));
        assert_eq!(widest.len(), WRITTEN_HEADER_BYTES);
        assert!(widest.ends_with(b" \n"), "the widest shape still leaves padding");
    }

    #[test]
    fn parser_reads_the_headers_numpy_writes() {
        let cases = [
            ("{'descr': '<u8', 'fortran_order': False, 'shape': (5,), }   \n", vec![5]),
            ("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}\n", vec![2, 3]),
            ("{'shape': (0, 4), 'fortran_order': False, 'descr': '<f4'}", vec![0, 4]),
        ];
        for (text, shape) in cases {
            let fields = parse_header(text).expect(text);
            assert_eq!(fields.shape, shape);
            assert!(!fields.fortran_order);
        }
        for bad in ["{'descr': '<f4'", "{'descr': '<f4', 'bogus': 1}", "[]", "{'shape': (a,)}"] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rows_round_trip_and_bad_files_name_the_problem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.npy");
        let mut w = NpyWriter::<f32>::create(&path, Some(2)).expect("create");
        w.push(&[1.0, -2.5]).expect("push");
        w.push(&[f32::MIN_POSITIVE, 7.0]).expect("push");
        assert_eq!(w.finish().expect("finish"), 2);
        let mut r = NpyReader::<f32>::open(&path, Some(2)).expect("open");
        assert_eq!(r.rows(), 2);
        let mut got = Vec::new();
        r.read(10, &mut got).expect("read");
        assert_eq!(got, vec![1.0, -2.5, f32::MIN_POSITIVE, 7.0]);

        let err = |cols, ids: bool| {
            if ids {
                NpyReader::<u64>::open(&path, cols).expect_err("should fail").to_string()
            } else {
                NpyReader::<f32>::open(&path, cols).expect_err("should fail").to_string()
            }
        };
        assert!(err(Some(3), false).contains("shape (2, 2), expected (2, 3)"));
        assert!(err(None, false).contains("expected (2,)"));
        assert!(err(Some(2), true).contains("dtype \"<f4\", expected \"<u8\""));
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("truncate");
        assert!(err(Some(2), false).contains("file is 143 bytes, shape (2, 2) needs 144"));
        std::fs::write(&path, b"PK\x03\x04 not numpy").expect("write");
        assert!(err(Some(2), false).contains("bad magic"));
    }
}
