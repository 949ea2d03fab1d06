//! The byte-stream layers under a snapshot: plain, gzip (`java.util.zip.GZIPOutputStream`) and
//! snappy-java's `SnappyOutputStream` framing, which is *not* the snappy framing format: a 16-byte
//! header (`0x82 "SNAPPY" 0x00`, int version 1, int min-compatible version 1) followed by blocks of
//! `int compressedLength | raw snappy block`, each block holding up to 32 KiB of input.

use std::io::{self, Read, Write};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::layout::Compression;

/// snappy-java's stream magic (`SnappyCodec.MAGIC_HEADER`).
pub const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// The gzip magic (`GZIPInputStream.GZIP_MAGIC`, as bytes on disk).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// snappy-java's default block size (`SnappyOutputStream.DEFAULT_BLOCK_SIZE`).
pub const SNAPPY_BLOCK: usize = 32 * 1024;
/// Largest compressed block accepted when reading (a bound against garbage lengths).
const SNAPPY_MAX_CHUNK: usize = 16 * 1024 * 1024;

fn snappy_header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&SNAPPY_MAGIC);
    h[8..12].copy_from_slice(&1i32.to_be_bytes());
    h[12..16].copy_from_slice(&1i32.to_be_bytes());
    h
}

/// Writes snappy-java's `SnappyOutputStream` format.
pub struct SnappyJavaWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    header_written: bool,
    encoder: snap::raw::Encoder,
}

impl<W: Write> SnappyJavaWriter<W> {
    /// A writer over `inner`; the header is written with the first block.
    pub fn new(inner: W) -> Self {
        SnappyJavaWriter {
            inner,
            buf: Vec::with_capacity(SNAPPY_BLOCK),
            header_written: false,
            encoder: snap::raw::Encoder::new(),
        }
    }

    fn write_block(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.inner.write_all(&snappy_header())?;
            self.header_written = true;
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let compressed = self
            .encoder
            .compress_vec(&self.buf)
            .map_err(io::Error::other)?;
        let len = i32::try_from(compressed.len()).map_err(io::Error::other)?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(&compressed)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes the last block and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_block()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SnappyJavaWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = SNAPPY_BLOCK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == SNAPPY_BLOCK {
            self.write_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_block()?;
        self.inner.flush()
    }
}

/// Reads snappy-java's `SnappyOutputStream` format (including concatenated streams).
pub struct SnappyJavaReader<R: Read> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    started: bool,
    done: bool,
    decoder: snap::raw::Decoder,
}

impl<R: Read> SnappyJavaReader<R> {
    /// A reader over `inner` (the header is checked on the first read).
    pub fn new(inner: R) -> Self {
        SnappyJavaReader {
            inner,
            out: Vec::new(),
            pos: 0,
            started: false,
            done: false,
            decoder: snap::raw::Decoder::new(),
        }
    }

    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn bad(msg: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("snappy stream: {msg}"))
    }

    fn check_header(&mut self, first: &[u8]) -> io::Result<()> {
        let mut h = [0u8; 16];
        h[..first.len()].copy_from_slice(first);
        let n = self.read_full(&mut h[first.len()..])?;
        if first.len() + n < 16 || h[..8] != SNAPPY_MAGIC {
            return Err(Self::bad("missing snappy-java header"));
        }
        let version = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        if version < 1 {
            return Err(Self::bad("incompatible snappy-java version"));
        }
        Ok(())
    }

    fn next_chunk(&mut self) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            self.check_header(&[])?;
        }
        loop {
            let mut lb = [0u8; 4];
            let n = self.read_full(&mut lb)?;
            if n == 0 {
                return Ok(false);
            }
            if n < 4 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "snappy stream: torn chunk length",
                ));
            }
            if lb == SNAPPY_MAGIC[..4] {
                // A second stream appended to the first one.
                let mut rest = [0u8; 4];
                rest.copy_from_slice(&lb);
                self.check_header(&rest)?;
                continue;
            }
            let len = i32::from_be_bytes(lb);
            if len < 0 || len as usize > SNAPPY_MAX_CHUNK {
                return Err(Self::bad("unreasonable chunk length"));
            }
            let mut chunk = vec![0u8; len as usize];
            if self.read_full(&mut chunk)? < chunk.len() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "snappy stream: torn chunk",
                ));
            }
            let out_len =
                snap::raw::decompress_len(&chunk).map_err(|e| Self::bad(&e.to_string()))?;
            if out_len > 4 * SNAPPY_MAX_CHUNK {
                return Err(Self::bad("unreasonable uncompressed chunk length"));
            }
            self.out.resize(out_len, 0);
            let got = self
                .decoder
                .decompress(&chunk, &mut self.out)
                .map_err(|e| Self::bad(&e.to_string()))?;
            self.out.truncate(got);
            self.pos = 0;
            if got > 0 {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for SnappyJavaReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.out.len() {
            if self.done || !self.next_chunk()? {
                self.done = true;
                return Ok(0);
            }
        }
        let n = (self.out.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The compression layer of a snapshot being written.
pub(crate) enum Compressor<W: Write> {
    Plain(W),
    Gzip(GzEncoder<W>),
    Snappy(Box<SnappyJavaWriter<W>>),
}

impl<W: Write> Compressor<W> {
    pub(crate) fn new(inner: W, compression: Compression) -> Self {
        match compression {
            Compression::None => Compressor::Plain(inner),
            Compression::Gzip => {
                Compressor::Gzip(GzEncoder::new(inner, flate2::Compression::default()))
            }
            Compression::Snappy => Compressor::Snappy(Box::new(SnappyJavaWriter::new(inner))),
        }
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Plain(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Compressor::Gzip(g) => {
                let mut w = g.finish()?;
                w.flush()?;
                Ok(w)
            }
            Compressor::Snappy(s) => s.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Plain(w) => w.write(buf),
            Compressor::Gzip(w) => w.write(buf),
            Compressor::Snappy(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Plain(w) => w.flush(),
            Compressor::Gzip(w) => w.flush(),
            Compressor::Snappy(w) => w.flush(),
        }
    }
}

/// The decompression layer of a snapshot being read.
pub(crate) fn decompressor<'a, R: Read + 'a>(
    inner: R,
    compression: Compression,
) -> Box<dyn Read + 'a> {
    match compression {
        Compression::None => Box::new(inner),
        Compression::Gzip => Box::new(MultiGzDecoder::new(inner)),
        Compression::Snappy => Box::new(SnappyJavaReader::new(inner)),
    }
}
