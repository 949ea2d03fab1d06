//! Jute primitives over `std::io` streams, with the byte offset and a running Adler-32 that Java's
//! `CheckedInputStream`/`CheckedOutputStream` keep. Snapshots (possibly compressed, possibly on a
//! socket) are far too large to decode from one in-memory buffer, so unlike `jute::Reader` these read
//! one field at a time and never ask for more bytes than the field needs.

use std::io::{self, Read, Write};
use std::path::Path;

use jute::data::{Acl, Id, StatPersisted};

use crate::checksum::RunningAdler32;
use crate::error::Error;

/// Read granularity of large buffers.
const CHUNK: usize = 64 * 1024;

/// The largest string/buffer/vector accepted when reading files. Java refuses anything over its
/// configured `jute.maxbuffer`, which operators raise for big nodes; files that Java (or we) wrote
/// honoured that limit, so the reader accepts far more and only guards against garbage lengths.
pub const MAX_FIELD_BYTES: usize = 256 * 1024 * 1024;

/// Why a field could not be read; turned into an [`Error`] naming the file by [`FieldError::at`].
#[derive(Debug)]
pub(crate) enum FieldError {
    Eof { offset: u64 },
    Io { offset: u64, source: io::Error },
    BadLength { offset: u64, len: i64, limit: usize },
}

impl FieldError {
    /// The error with the file (or stream name) attached.
    pub(crate) fn at(self, path: &Path) -> Error {
        match self {
            FieldError::Eof { offset } => Error::UnexpectedEof {
                path: path.to_path_buf(),
                offset,
            },
            FieldError::Io { offset, source } => {
                Error::corrupt(path, offset, format!("read failed: {source}"))
            }
            FieldError::BadLength { offset, len, limit } => Error::corrupt(
                path,
                offset,
                format!("unreasonable length {len} (limit {limit})"),
            ),
        }
    }

    pub(crate) fn is_eof(&self) -> bool {
        matches!(self, FieldError::Eof { .. })
    }
}

/// A jute decoder over a byte stream, counting offsets and (optionally) checksumming what it reads.
pub(crate) struct JuteIn<R> {
    inner: R,
    offset: u64,
    checksum: Option<RunningAdler32>,
    max_len: usize,
}

impl<R: Read> JuteIn<R> {
    pub(crate) fn new(inner: R, checksummed: bool, max_len: usize) -> Self {
        JuteIn {
            inner,
            offset: 0,
            checksum: checksummed.then(RunningAdler32::new),
            max_len,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The running Adler-32 of everything read so far (0 when not checksumming).
    pub(crate) fn checksum(&self) -> u64 {
        self.checksum.as_ref().map_or(0, RunningAdler32::value)
    }

    /// Fills `buf` completely; a short read is [`FieldError::Eof`] at the offset where it started.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<(), FieldError> {
        let start = self.offset;
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => return Err(FieldError::Eof { offset: start }),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(FieldError::Eof { offset: start })
                }
                Err(source) => {
                    return Err(FieldError::Io {
                        offset: start + done as u64,
                        source,
                    })
                }
            }
        }
        if let Some(c) = &mut self.checksum {
            c.update(buf);
        }
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub(crate) fn i32(&mut self) -> Result<i32, FieldError> {
        let mut b = [0u8; 4];
        self.fill(&mut b)?;
        Ok(i32::from_be_bytes(b))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, FieldError> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(i64::from_be_bytes(b))
    }

    /// A length prefix: `None` for -1, an error when negative or over the limit (Java's
    /// "Unreasonable length").
    fn len(&mut self) -> Result<Option<usize>, FieldError> {
        let offset = self.offset;
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.max_len {
            return Err(FieldError::BadLength {
                offset,
                len: i64::from(len),
                limit: self.max_len,
            });
        }
        Ok(Some(len as usize))
    }

    /// A jute `buffer`; null is `None`.
    pub(crate) fn buffer(&mut self) -> Result<Option<Vec<u8>>, FieldError> {
        match self.len()? {
            None => Ok(None),
            Some(n) => {
                // Grow with the data actually present, so a garbage length in a truncated or
                // corrupt stream cannot make us allocate its full size up front.
                // Read straight into the vector, one chunk at a time (zeroing only what is read).
                let mut v = Vec::with_capacity(n.min(CHUNK));
                while v.len() < n {
                    let at = v.len();
                    let k = (n - at).min(CHUNK);
                    v.resize(at + k, 0);
                    self.fill(&mut v[at..])?;
                }
                Ok(Some(v))
            }
        }
    }

    /// A jute `ustring` (null reads as empty, invalid UTF-8 as U+FFFD like Java).
    pub(crate) fn string(&mut self) -> Result<String, FieldError> {
        Ok(match self.buffer()? {
            None => String::new(),
            Some(v) => match String::from_utf8(v) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            },
        })
    }

    /// A vector count; null is `None`.
    pub(crate) fn count(&mut self) -> Result<Option<usize>, FieldError> {
        self.len()
    }

    pub(crate) fn acl(&mut self) -> Result<Acl, FieldError> {
        let perms = self.i32()?;
        let scheme = self.string()?;
        let id = self.string()?;
        Ok(Acl {
            perms,
            id: Id { scheme, id },
        })
    }

    pub(crate) fn stat(&mut self) -> Result<StatPersisted, FieldError> {
        Ok(StatPersisted {
            czxid: self.i64()?,
            mzxid: self.i64()?,
            ctime: self.i64()?,
            mtime: self.i64()?,
            version: self.i32()?,
            cversion: self.i32()?,
            aversion: self.i32()?,
            ephemeral_owner: self.i64()?,
            pzxid: self.i64()?,
        })
    }
}

/// A jute encoder over a byte sink with a running Adler-32 of everything written.
pub(crate) struct JuteOut<W> {
    inner: W,
    offset: u64,
    checksum: RunningAdler32,
}

impl<W: Write> JuteOut<W> {
    pub(crate) fn new(inner: W) -> Self {
        JuteOut {
            inner,
            offset: 0,
            checksum: RunningAdler32::new(),
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn checksum(&self) -> u64 {
        self.checksum.value()
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.inner.write_all(b)?;
        self.checksum.update(b);
        self.offset += b.len() as u64;
        Ok(())
    }

    pub(crate) fn i32(&mut self, v: i32) -> io::Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn i64(&mut self, v: i64) -> io::Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn buffer(&mut self, b: Option<&[u8]>) -> io::Result<()> {
        match b {
            None => self.i32(-1),
            Some(b) => {
                self.i32(len_i32(b.len())?)?;
                self.bytes(b)
            }
        }
    }

    pub(crate) fn string(&mut self, s: &str) -> io::Result<()> {
        self.buffer(Some(s.as_bytes()))
    }

    pub(crate) fn acl(&mut self, acl: &Acl) -> io::Result<()> {
        self.i32(acl.perms)?;
        self.string(&acl.id.scheme)?;
        self.string(&acl.id.id)
    }

    pub(crate) fn stat(&mut self, s: &StatPersisted) -> io::Result<()> {
        self.i64(s.czxid)?;
        self.i64(s.mzxid)?;
        self.i64(s.ctime)?;
        self.i64(s.mtime)?;
        self.i32(s.version)?;
        self.i32(s.cversion)?;
        self.i32(s.aversion)?;
        self.i64(s.ephemeral_owner)?;
        self.i64(s.pzxid)
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

/// A length as a jute int, refusing lengths Java could not represent.
pub(crate) fn len_i32(len: usize) -> io::Result<i32> {
    i32::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record longer than 2 GiB"))
}
