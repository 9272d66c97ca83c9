//! Lines of a plain or gzip text file, read into one reused buffer.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::error::{Error, Result};

/// Longest accepted record in bytes, without the line ending. Real lines are at most a few
/// kilobytes; the cap keeps memory bounded when a file has no newlines at all (a binary file).
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Read buffer size; large buffers keep the number of read system calls low.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// The byte source: plain text or gzip, both buffered.
enum Stream {
    Plain(BufReader<File>),
    Gzip(BufReader<MultiGzDecoder<BufReader<File>>>),
}

impl Stream {
    fn as_buf_read(&mut self) -> &mut dyn BufRead {
        match self {
            Stream::Plain(reader) => reader,
            Stream::Gzip(reader) => reader,
        }
    }
}

/// A line-oriented reader that knows its path and line count.
pub(crate) struct LineSource {
    path: PathBuf,
    stream: Stream,
    /// The current record, without its final line ending.
    pub line: Vec<u8>,
    /// Lines consumed so far.
    pub lines_read: u64,
}

impl LineSource {
    /// Opens `path`; gzip is recognised by its magic bytes, not by the file name.
    pub fn open(path: &Path) -> Result<LineSource> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        // `.gz` files are sometimes already decompressed and compressed files sometimes renamed.
        let head = reader.fill_buf().map_err(|e| Error::io("read", path, e))?;
        let stream = if head.starts_with(&[0x1f, 0x8b]) {
            // Multi-member gzip (pigz, bgzip, concatenated files) is common for large datasets.
            let decoder = MultiGzDecoder::new(reader);
            Stream::Gzip(BufReader::with_capacity(READ_BUFFER_BYTES, decoder))
        } else {
            Stream::Plain(reader)
        };
        Ok(LineSource {
            path: path.to_path_buf(),
            stream,
            line: Vec::with_capacity(4096),
            lines_read: 0,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the next line into `self.line` (cleared first) without its line ending; false at
    /// end of file.
    pub fn next_line(&mut self) -> Result<bool> {
        self.line.clear();
        self.append_line()
    }

    /// Appends the next line to `self.line` without its line ending; false at end of file.
    ///
    /// A record longer than [`MAX_LINE_BYTES`] is consumed entirely but only about its first
    /// `MAX_LINE_BYTES` bytes are kept, which is enough for the caller to reject it.
    pub fn append_line(&mut self) -> Result<bool> {
        let start = self.line.len();
        let reader = self.stream.as_buf_read();
        let limit = (MAX_LINE_BYTES + 2).saturating_sub(start) as u64;
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
        if self.line.len() > start && self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        Ok(true)
    }

    /// Whether the current record is longer than the cap.
    pub fn too_long(&self) -> bool {
        self.line.len() > MAX_LINE_BYTES
    }
}
