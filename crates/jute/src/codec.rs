//! The jute primitives: big-endian ints and longs, length-prefixed strings, buffers and vectors where
//! length -1 means null. Records have no header or tags: fields follow each other in declaration order.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Java's default `jute.maxbuffer` (0xfffff bytes): the largest buffer, string or frame accepted.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// Why a byte string is not a valid record. Decoding never panics: every failure is one of these.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("unexpected end of input at offset {offset} (needed {needed} more bytes)")]
    Eof { offset: usize, needed: usize },
    /// A length prefix is negative (other than the -1 null marker) or over the configured limit.
    #[error("invalid length {len} at offset {offset} (limit {limit})")]
    BadLength {
        len: i64,
        offset: usize,
        limit: usize,
    },
    /// Bytes remained after a record that must fill its frame.
    #[error("{count} trailing bytes after record")]
    Trailing { count: usize },
    /// A value is outside the set the protocol allows (an unknown type tag, say).
    #[error("invalid value: {0}")]
    Invalid(String),
}

impl DecodeError {
    /// True when more input could have completed the record (a torn tail rather than garbage).
    pub fn is_eof(&self) -> bool {
        matches!(self, DecodeError::Eof { .. })
    }
}

/// A cursor over an immutable byte buffer. Buffers are returned as zero-copy slices of the input.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
    max_buffer: usize,
}

impl Reader {
    /// A reader that accepts buffers up to Java's default limit plus its default extra size.
    pub fn new(buf: Bytes) -> Reader {
        Reader::with_limit(buf, DEFAULT_MAX_BUFFER * 2)
    }

    /// A reader whose strings, buffers and vectors may not exceed `max_buffer` elements/bytes.
    pub fn with_limit(buf: Bytes, max_buffer: usize) -> Reader {
        Reader {
            buf,
            pos: 0,
            max_buffer,
        }
    }

    /// A reader over a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Reader {
        Reader::new(Bytes::copy_from_slice(bytes))
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn limit(&self) -> usize {
        self.max_buffer
    }

    /// Everything not yet read, without consuming it.
    pub fn rest(&self) -> Bytes {
        self.buf.slice(self.pos..)
    }

    /// Fails with [`DecodeError::Trailing`] unless the input is fully consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::Trailing { count }),
        }
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(DecodeError::Eof {
                offset: self.pos,
                needed: n - self.remaining(),
            })
        } else {
            Ok(())
        }
    }

    pub fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        let v = self.buf[self.pos];
        self.pos += 1;
        Ok(v)
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read_u8()? != 0)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        let b = &self.buf[self.pos..self.pos + 4];
        self.pos += 4;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buf[self.pos..self.pos + 8]);
        self.pos += 8;
        Ok(i64::from_be_bytes(a))
    }

    /// A length prefix: `None` for the -1 null marker, an error if negative or over the limit.
    pub fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.max_buffer {
            return Err(DecodeError::BadLength {
                len: len as i64,
                offset,
                limit: self.max_buffer,
            });
        }
        Ok(Some(len as usize))
    }

    /// A jute `buffer`; null is `None`.
    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }

    /// A jute `ustring`; null is `None`. Invalid UTF-8 is decoded as Java does (U+FFFD).
    pub fn read_opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => {
                self.need(n)?;
                let s = String::from_utf8_lossy(&self.buf[self.pos..self.pos + n]).into_owned();
                self.pos += n;
                Ok(Some(s))
            }
        }
    }

    /// A jute `ustring` where null is read as the empty string.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_opt_string()?.unwrap_or_default())
    }

    /// A vector count: null is `None`. Each element needs at least one byte, so a count larger than
    /// the remaining input is rejected (as [`DecodeError::Eof`], which is what Java reports when it
    /// runs out of elements) before anything is allocated; a count over the limit is a bad length.
    pub fn read_count(&mut self) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let n = self.read_i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 || n as usize > self.max_buffer {
            return Err(DecodeError::BadLength {
                len: n as i64,
                offset,
                limit: self.max_buffer,
            });
        }
        if n as usize > self.remaining() {
            return Err(DecodeError::Eof {
                offset: self.pos,
                needed: n as usize - self.remaining(),
            });
        }
        Ok(Some(n as usize))
    }
}

/// A type that has a jute encoding: primitives, strings, buffers, vectors and records.
pub trait Jute: Sized {
    fn write(&self, out: &mut BytesMut);
    fn read(r: &mut Reader) -> Result<Self, DecodeError>;
}

impl Jute for i32 {
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(*self)
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}

impl Jute for i64 {
    fn write(&self, out: &mut BytesMut) {
        out.put_i64(*self)
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}

impl Jute for bool {
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(*self as u8)
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_bool()
    }
}

impl Jute for u8 {
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(*self)
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_u8()
    }
}

/// Writes a jute `ustring` (null when `None`).
pub fn write_opt_str(out: &mut BytesMut, s: Option<&str>) {
    match s {
        None => out.put_i32(-1),
        Some(s) => {
            out.put_i32(s.len() as i32);
            out.put_slice(s.as_bytes());
        }
    }
}

/// Writes a jute `buffer` (null when `None`).
pub fn write_opt_buf(out: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => out.put_i32(-1),
        Some(b) => {
            out.put_i32(b.len() as i32);
            out.put_slice(b);
        }
    }
}

impl Jute for String {
    fn write(&self, out: &mut BytesMut) {
        write_opt_str(out, Some(self))
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_string()
    }
}

impl Jute for Option<String> {
    fn write(&self, out: &mut BytesMut) {
        write_opt_str(out, self.as_deref())
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_opt_string()
    }
}

/// A non-null buffer: null reads as empty, writes always carry a length.
impl Jute for Bytes {
    fn write(&self, out: &mut BytesMut) {
        write_opt_buf(out, Some(self))
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.unwrap_or_default())
    }
}

impl Jute for Option<Bytes> {
    fn write(&self, out: &mut BytesMut) {
        write_opt_buf(out, self.as_deref())
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
}

/// A vector where null reads as empty and an empty vector is written with count 0.
impl<T: Jute> Jute for Vec<T> {
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        for v in self {
            v.write(out);
        }
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Option::<Vec<T>>::read(r)?.unwrap_or_default())
    }
}

/// A vector that distinguishes null (count -1) from empty.
impl<T: Jute> Jute for Option<Vec<T>> {
    fn write(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(v) => v.write(out),
        }
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        match r.read_count()? {
            None => Ok(None),
            Some(n) => {
                let mut v = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    v.push(T::read(r)?);
                }
                Ok(Some(v))
            }
        }
    }
}

/// Encodes a value into a fresh buffer.
pub fn encode_to_bytes<T: Jute>(v: &T) -> Bytes {
    let mut out = BytesMut::new();
    v.write(&mut out);
    out.freeze()
}

/// Decodes a value that must use every byte of `buf`.
pub fn decode_exact<T: Jute>(buf: Bytes) -> Result<T, DecodeError> {
    let mut r = Reader::new(buf);
    let v = T::read(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// Declares jute records: plain structs with public fields in wire order, and their [`Jute`] impl.
#[macro_export]
macro_rules! jute_record {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty ),* }

        impl $crate::codec::Jute for $name {
            #[allow(unused_variables)]
            fn write(&self, out: &mut ::bytes::BytesMut) {
                $( $crate::codec::Jute::write(&self.$field, out); )*
            }
            #[allow(unused_variables)]
            fn read(r: &mut $crate::codec::Reader) -> Result<Self, $crate::codec::DecodeError> {
                Ok($name { $( $field: <$ty as $crate::codec::Jute>::read(r)? ),* })
            }
        }
    )*};
}
