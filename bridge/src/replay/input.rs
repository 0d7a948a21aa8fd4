//! Events from an NDJSON file or stdin, one line at a time, in bounded memory.
//!
//! The offsets are those of `core::ndjson`: an event's offset is its 0-based line
//! index, blank lines are skipped but keep their index, and `\r\n` endings are trimmed.
//! The file is read in blocks of [`BLOCK`] bytes; only a line longer than a block makes
//! the buffer grow, to that line's length.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Bytes read at a time.
pub const BLOCK: usize = 1 << 20;

/// Bytes looked at for the signs of a file that is not text (a NUL byte).
const SNIFF: usize = 8 * 1024;

/// Why the events cannot be read at all.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// The file is binary: what gave it away.
    NotText(String),
}

/// The lines of an events file or of stdin.
pub struct Lines {
    reader: Box<dyn Read>,
    buffer: Vec<u8>,
    /// The unread part of `buffer` is `start..end`.
    start: usize,
    end: usize,
    eof: bool,
    index: i64,
}

impl Lines {
    /// Opens `path` (`-` for stdin). A file whose first bytes hold a NUL byte (an image,
    /// an executable, a compressed file) is refused: its lines would all be errors.
    pub fn open(path: &Path) -> Result<Lines, OpenError> {
        let reader: Box<dyn Read> = if path == Path::new("-") {
            Box::new(io::stdin().lock())
        } else {
            let file = File::open(path).map_err(OpenError::Io)?;
            if file.metadata().map_err(OpenError::Io)?.is_dir() {
                return Err(OpenError::Io(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "it is a directory",
                )));
            }
            Box::new(file)
        };
        let mut lines = Lines {
            reader,
            buffer: vec![0; BLOCK],
            start: 0,
            end: 0,
            eof: false,
            index: 0,
        };
        lines.fill().map_err(OpenError::Io)?;
        let head = &lines.buffer[..lines.end.min(SNIFF)];
        if let Some(at) = memchr::memchr(0, head) {
            return Err(OpenError::NotText(format!("a NUL byte at position {at}")));
        }
        Ok(lines)
    }

    /// Reads more after the unread part, moving it to the front first; grows the
    /// buffer only when the unread part fills it (one line longer than a block).
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buffer[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next non-blank line with its index, or `None` at the end. `before_read` runs
    /// before each read of the input, which may wait (a pipe whose writer is slow):
    /// the replay prints what it holds then, so rows appear as their events arrive.
    pub fn next(
        &mut self,
        mut before_read: impl FnMut() -> io::Result<()>,
    ) -> io::Result<Option<(i64, &[u8])>> {
        let (index, line_start, line_end) = loop {
            let found = memchr::memchr(b'\n', &self.buffer[self.start..self.end]);
            let (line_end, next) = match found {
                Some(at) => (self.start + at, self.start + at + 1),
                None if self.eof => {
                    if self.start == self.end {
                        return Ok(None);
                    }
                    (self.end, self.end)
                }
                None => {
                    before_read()?;
                    self.fill()?;
                    continue;
                }
            };
            let (line_start, index) = (self.start, self.index);
            self.start = next;
            self.index += 1;
            let mut line_end = line_end;
            if line_end > line_start && self.buffer[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            if !self.buffer[line_start..line_end]
                .iter()
                .all(u8::is_ascii_whitespace)
            {
                break (index, line_start, line_end);
            }
        };
        Ok(Some((index, &self.buffer[line_start..line_end])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader gives the lines `core::ndjson::lines` gives, at any block boundary.
    fn check(text: &[u8]) {
        let expected: Vec<(i64, Vec<u8>)> = eventfold_core::ndjson::lines(text)
            .map(|(i, l)| (i, l.to_vec()))
            .collect();
        for block in [1, 2, 3, 7, 64] {
            let mut lines = Lines {
                reader: Box::new(io::Cursor::new(text.to_vec())),
                buffer: vec![0; block],
                start: 0,
                end: 0,
                eof: false,
                index: 0,
            };
            let mut got = Vec::new();
            while let Some((i, line)) = lines.next(|| Ok(())).unwrap() {
                got.push((i, line.to_vec()));
            }
            assert_eq!(
                got,
                expected,
                "{:?} in blocks of {block}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn lines_and_offsets_are_those_of_core() {
        check(b"");
        check(b"\n");
        check(b"{\"a\":1}");
        check(b"{\"a\":1}\n\n  \r\n{\"a\":2}\r\nnot json\n");
        check(b"a\r\n\r\nbb\nccc\n\n");
        check(b"a very long line that spans many blocks of the reader's buffer\nx");
    }
}
