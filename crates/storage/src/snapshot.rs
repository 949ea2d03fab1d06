//! Snapshots (Java's `FileSnap` + `SerializeUtils` + `DataTree.serialize`), streamed in both
//! directions so a tree never has to be copied to be saved or loaded:
//!
//! ```text
//! FileHeader   ZKSN, 2, dbid -1
//! sessions     int count, (long id, int timeoutMs)*
//! ACL cache    int count, (long index, vector<ACL>)*
//! nodes        (ustring path, buffer data, long aclIndex, StatPersisted)*   root path = ""
//! terminator   ustring "/"
//! seal #1      long adler32(everything so far), ustring "/"
//! digest       long zxid, int version, long digest                      (optional)
//! seal #2      long adler32(everything so far), ustring "/"
//! 3.9 only     long lastProcessedZxid, seal #3                          (optional)
//! ```
//! The checksum covers the uncompressed stream. The SNAP sync body sent on the quorum port is the
//! same sessions + tree serialization without header or seals, followed by the string "BenWasHere".

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use jute::data::{Acl, StatPersisted};
use jute::file::{FileHeader, FILE_VERSION, SNAPSHOT_MAGIC};

use crate::compression::{decompressor, Compressor, GZIP_MAGIC, SNAPPY_MAGIC};
use crate::error::{Error, Result, VisitResult};
use crate::layout::{parse_snapshot_name, snapshot_file_name, Compression};
use crate::stream::{len_i32, FieldError, JuteIn, JuteOut};
use crate::txn_log::sync_dir;

/// The signature ending a SNAP sync body (`Learner.syncWithLeader` checks it).
pub const SYNC_SIGNATURE: &str = "BenWasHere";
/// The version of the digest algorithm ZooKeeper 3.6+ writes.
pub const DIGEST_VERSION: i32 = 2;
/// The ACL index meaning OPEN_ACL_UNSAFE without a cache entry.
pub const OPEN_ACL_INDEX: i64 = -1;
/// The largest string/buffer accepted when reading (well above any `jute.maxbuffer` in use).
pub const DEFAULT_MAX_FIELD: usize = crate::stream::MAX_FIELD_BYTES;

/// The `ZxidDigest` section: the tree digest recorded for a zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZxidDigest {
    /// The zxid the digest belongs to (0 when the tree had none).
    pub zxid: i64,
    /// The digest algorithm version (2).
    pub version: i32,
    /// The tree digest.
    pub digest: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Sessions,
    Acls,
    Nodes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    File,
    SyncStream,
}

/// Streams a snapshot (or a SNAP sync body) into `W`: sessions, then the ACL cache, then nodes in
/// pre-order (parents before children), then `finish`. Each section must be written once, in order;
/// out-of-order calls are an [`Error::Usage`], not a panic.
pub struct SnapshotWriter<W: Write> {
    out: JuteOut<Compressor<W>>,
    stage: Stage,
    mode: Mode,
    nodes: u64,
    name: PathBuf,
}

impl<W: Write> SnapshotWriter<W> {
    /// A snapshot file stream (header written now), compressed as asked.
    pub fn new(inner: W, compression: Compression) -> Result<Self> {
        let mut w = SnapshotWriter {
            out: JuteOut::new(Compressor::new(inner, compression)),
            stage: Stage::Sessions,
            mode: Mode::File,
            nodes: 0,
            name: PathBuf::from("<snapshot stream>"),
        };
        w.io(|o| {
            o.i32(SNAPSHOT_MAGIC)?;
            o.i32(FILE_VERSION)?;
            o.i64(-1)
        })?;
        Ok(w)
    }

    /// The SNAP sync variant for the quorum port: no header, no seals, ends with "BenWasHere".
    pub fn new_sync_stream(inner: W) -> Self {
        SnapshotWriter {
            out: JuteOut::new(Compressor::new(inner, Compression::None)),
            stage: Stage::Sessions,
            mode: Mode::SyncStream,
            nodes: 0,
            name: PathBuf::from("<snap sync stream>"),
        }
    }

    /// Names the destination in error messages.
    pub fn named(mut self, name: impl Into<PathBuf>) -> Self {
        self.name = name.into();
        self
    }

    /// Uncompressed bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.out.offset()
    }

    /// Nodes written so far.
    pub fn node_count(&self) -> u64 {
        self.nodes
    }

    fn io(&mut self, f: impl FnOnce(&mut JuteOut<Compressor<W>>) -> io::Result<()>) -> Result<()> {
        f(&mut self.out).map_err(|e| Error::io(&self.name, e))
    }

    fn advance(&mut self, to: Stage) -> Result<()> {
        if self.stage > to {
            return Err(Error::Usage(format!(
                "snapshot section {to:?} written after {:?}",
                self.stage
            )));
        }
        if self.stage < Stage::Acls && to > Stage::Sessions {
            self.io(|o| o.i32(0))?; // no sessions were given
        }
        if self.stage < Stage::Nodes && to > Stage::Acls {
            self.io(|o| o.i32(0))?; // empty ACL cache
        }
        self.stage = to;
        Ok(())
    }

    /// Writes the session table: `(session id, timeout ms)`.
    pub fn write_sessions<I>(&mut self, sessions: I) -> Result<()>
    where
        I: IntoIterator<Item = (i64, i32)>,
        I::IntoIter: ExactSizeIterator,
    {
        if self.stage != Stage::Sessions {
            return Err(Error::Usage(
                "sessions written twice or after the tree".into(),
            ));
        }
        let it = sessions.into_iter();
        let n = len_i32(it.len()).map_err(|e| Error::io(&self.name, e))?;
        self.io(|o| o.i32(n))?;
        let mut written = 0usize;
        for (id, timeout) in it {
            self.io(|o| {
                o.i64(id)?;
                o.i32(timeout)
            })?;
            written += 1;
        }
        if written != n as usize {
            return Err(Error::Usage(
                "session iterator lied about its length".into(),
            ));
        }
        self.stage = Stage::Acls;
        Ok(())
    }

    /// Writes the ACL cache: `(index, ACL list)` (Java: `ReferenceCountedACLCache.serialize`).
    pub fn write_acl_cache<'a, I>(&mut self, entries: I) -> Result<()>
    where
        I: IntoIterator<Item = (i64, &'a [Acl])>,
        I::IntoIter: ExactSizeIterator,
    {
        self.advance(Stage::Acls)?;
        let it = entries.into_iter();
        let n = len_i32(it.len()).map_err(|e| Error::io(&self.name, e))?;
        self.io(|o| o.i32(n))?;
        let mut written = 0usize;
        for (index, acls) in it {
            let count = len_i32(acls.len()).map_err(|e| Error::io(&self.name, e))?;
            self.io(|o| {
                o.i64(index)?;
                o.i32(count)?;
                acls.iter().try_for_each(|a| o.acl(a))
            })?;
            written += 1;
        }
        if written != n as usize {
            return Err(Error::Usage("ACL iterator lied about its length".into()));
        }
        self.stage = Stage::Nodes;
        Ok(())
    }

    /// Writes one node. The root's path is the empty string; `"/"` is reserved for the terminator.
    /// `data: None` is written as a null buffer (Java writes empty data as length 0).
    pub fn write_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl_index: i64,
        stat: &StatPersisted,
    ) -> Result<()> {
        if path == "/" {
            return Err(Error::Usage(
                "the root is written with the empty path, \"/\" ends the tree".into(),
            ));
        }
        self.advance(Stage::Nodes)?;
        self.io(|o| {
            o.string(path)?;
            o.buffer(data)?;
            o.i64(acl_index)?;
            o.stat(stat)
        })?;
        self.nodes += 1;
        Ok(())
    }

    fn seal(&mut self) -> Result<()> {
        let sum = self.out.checksum();
        self.io(|o| {
            o.i64(sum as i64)?;
            o.string("/")
        })
    }

    /// Ends a snapshot file: terminator, seal, the `ZxidDigest` section if given as
    /// `(zxid, digest)` (Java writes it, zeros if it has none, whenever digests are enabled), and its
    /// seal. Returns the inner writer (compression finished, flushed, not synced).
    pub fn finish(self, digest: Option<(i64, i64)>) -> Result<W> {
        self.finish_with(digest, None)
    }

    /// [`SnapshotWriter::finish`] plus ZooKeeper 3.9's lastProcessedZxid section and third seal when
    /// `last_processed_zxid` is given (3.8 readers ignore it, so it is safe for them, but off by default).
    pub fn finish_with(
        mut self,
        digest: Option<(i64, i64)>,
        last_processed_zxid: Option<i64>,
    ) -> Result<W> {
        if self.mode != Mode::File {
            return Err(Error::Usage(
                "finish on a sync stream; use finish_sync_stream".into(),
            ));
        }
        self.advance(Stage::Nodes)?;
        self.io(|o| o.string("/"))?;
        self.seal()?;
        if let Some((zxid, d)) = digest {
            self.io(|o| {
                o.i64(zxid)?;
                o.i32(DIGEST_VERSION)?;
                o.i64(d)
            })?;
            self.seal()?;
        }
        if let Some(z) = last_processed_zxid {
            self.io(|o| o.i64(z))?;
            self.seal()?;
        }
        let name = self.name.clone();
        self.out
            .into_inner()
            .finish()
            .map_err(|e| Error::io(name, e))
    }

    /// Ends a SNAP sync body: terminator and "BenWasHere". Returns the inner writer, flushed.
    pub fn finish_sync_stream(mut self) -> Result<W> {
        if self.mode != Mode::SyncStream {
            return Err(Error::Usage("finish_sync_stream on a snapshot file".into()));
        }
        self.advance(Stage::Nodes)?;
        self.io(|o| {
            o.string("/")?;
            o.string(SYNC_SIGNATURE)?;
            o.flush()
        })?;
        let name = self.name.clone();
        self.out
            .into_inner()
            .finish()
            .map_err(|e| Error::io(name, e))
    }
}

/// How a snapshot file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotFileOptions {
    /// The stream format (and file name extension).
    pub compression: Compression,
    /// Java's "sync snapshot" path (`AtomicFileOutputStream`): write `<name>.tmp`, fsync, rename over
    /// the final name, fsync the directory. Without it the file is written in place.
    pub atomic: bool,
    /// fsync the finished file even when not atomic (Java does not; it is cheap insurance).
    pub fsync: bool,
}

impl Default for SnapshotFileOptions {
    fn default() -> Self {
        SnapshotFileOptions {
            compression: Compression::None,
            atomic: false,
            fsync: true,
        }
    }
}

/// A snapshot being written to `snap_dir/snapshot.<hex zxid>[ext]`; dereferences to the
/// [`SnapshotWriter`] for the sections, then [`SnapshotFileWriter::finish`] commits it.
pub struct SnapshotFileWriter {
    writer: SnapshotWriter<BufWriter<File>>,
    final_path: PathBuf,
    write_path: PathBuf,
    options: SnapshotFileOptions,
}

impl SnapshotFileWriter {
    /// Creates the file for a snapshot named `zxid` in `snap_dir`.
    pub fn create(
        snap_dir: &Path,
        zxid: i64,
        options: SnapshotFileOptions,
    ) -> Result<SnapshotFileWriter> {
        let final_path = snap_dir.join(snapshot_file_name(zxid, options.compression));
        let write_path = if options.atomic {
            let mut s = final_path.clone().into_os_string();
            s.push(".tmp");
            PathBuf::from(s)
        } else {
            final_path.clone()
        };
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&write_path)
            .map_err(|e| Error::io(&write_path, e))?;
        let writer = SnapshotWriter::new(
            BufWriter::with_capacity(256 * 1024, file),
            options.compression,
        )?
        .named(&write_path);
        Ok(SnapshotFileWriter {
            writer,
            final_path,
            write_path,
            options,
        })
    }

    /// Where the snapshot will be once committed.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Finishes the stream (see [`SnapshotWriter::finish_with`]), syncs and renames as configured.
    pub fn finish(
        self,
        digest: Option<(i64, i64)>,
        last_processed_zxid: Option<i64>,
    ) -> Result<PathBuf> {
        let SnapshotFileWriter {
            writer,
            final_path,
            write_path,
            options,
        } = self;
        let buf = writer.finish_with(digest, last_processed_zxid)?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::io(&write_path, e.into_error()))?;
        if options.atomic || options.fsync {
            file.sync_all().map_err(|e| Error::io(&write_path, e))?;
        }
        drop(file);
        if options.atomic {
            fs::rename(&write_path, &final_path).map_err(|e| Error::io(&final_path, e))?;
            if let Some(dir) = final_path.parent() {
                sync_dir(dir)?;
            }
        }
        Ok(final_path)
    }
}

impl Deref for SnapshotFileWriter {
    type Target = SnapshotWriter<BufWriter<File>>;
    fn deref(&self) -> &Self::Target {
        &self.writer
    }
}

impl DerefMut for SnapshotFileWriter {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.writer
    }
}

/// Receives the contents of a snapshot or SNAP sync body as it is read, in file order.
pub trait SnapshotVisitor {
    /// A session and its timeout.
    fn session(&mut self, _id: i64, _timeout_ms: i32) -> VisitResult {
        Ok(())
    }
    /// One ACL cache entry.
    fn acl_entry(&mut self, _index: i64, _acl: Vec<Acl>) -> VisitResult {
        Ok(())
    }
    /// One node (root path = ""), parents before children.
    fn node(
        &mut self,
        path: String,
        data: Option<Bytes>,
        acl_index: i64,
        stat: StatPersisted,
    ) -> VisitResult;
}

/// A visitor that ignores everything (for validation and counting).
#[derive(Debug, Default)]
pub struct NullVisitor;

impl SnapshotVisitor for NullVisitor {
    fn node(&mut self, _: String, _: Option<Bytes>, _: i64, _: StatPersisted) -> VisitResult {
        Ok(())
    }
}

/// What a snapshot read found besides the tree itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotInfo {
    /// The file header (`None` for a SNAP sync body, which has none).
    pub header: Option<FileHeader>,
    /// Sessions read.
    pub sessions: u64,
    /// ACL cache entries read.
    pub acl_entries: u64,
    /// Nodes read (the root included).
    pub nodes: u64,
    /// The `ZxidDigest` section (absent in pre-3.6 snapshots).
    pub digest: Option<ZxidDigest>,
    /// ZooKeeper 3.9's lastProcessedZxid section.
    pub last_processed_zxid: Option<i64>,
    /// How many seals were verified.
    pub seals: u32,
    /// Uncompressed bytes read.
    pub uncompressed_len: u64,
}

struct TreeReader<'v, R> {
    input: JuteIn<R>,
    name: PathBuf,
    visitor: &'v mut dyn SnapshotVisitor,
}

impl<R: Read> TreeReader<'_, R> {
    fn field<T>(&mut self, f: impl FnOnce(&mut JuteIn<R>) -> Result<T, FieldError>) -> Result<T> {
        f(&mut self.input).map_err(|e| e.at(&self.name))
    }

    fn visit(&mut self, offset: u64, r: VisitResult) -> Result<()> {
        r.map_err(|source| Error::Visitor {
            path: self.name.clone(),
            offset,
            source,
        })
    }

    /// Sessions, ACL cache and nodes up to and including the "/" terminator.
    fn tree(&mut self, info: &mut SnapshotInfo) -> Result<()> {
        let at = self.input.offset();
        let count = self.field(|i| i.i32())?;
        if count < 0 {
            return Err(Error::corrupt(
                &self.name,
                at,
                format!("negative session count {count}"),
            ));
        }
        for _ in 0..count {
            let at = self.input.offset();
            let id = self.field(|i| i.i64())?;
            let timeout = self.field(|i| i.i32())?;
            let r = self.visitor.session(id, timeout);
            self.visit(at, r)?;
            info.sessions += 1;
        }
        let at = self.input.offset();
        let count = self.field(|i| i.i32())?;
        if count < 0 {
            return Err(Error::corrupt(
                &self.name,
                at,
                format!("negative ACL cache size {count}"),
            ));
        }
        for _ in 0..count {
            let at = self.input.offset();
            let index = self.field(|i| i.i64())?;
            let n = self.field(|i| i.count())?;
            let Some(n) = n else {
                return Err(Error::corrupt(&self.name, at, "missing acl list"));
            };
            let mut acls = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                acls.push(self.field(|i| i.acl())?);
            }
            let r = self.visitor.acl_entry(index, acls);
            self.visit(at, r)?;
            info.acl_entries += 1;
        }
        loop {
            let at = self.input.offset();
            let path = self.field(|i| i.string())?;
            if path == "/" {
                return Ok(());
            }
            let data = self.field(|i| i.buffer())?.map(Bytes::from);
            let acl = self.field(|i| i.i64())?;
            let stat = self.field(|i| i.stat())?;
            let r = self.visitor.node(path, data, acl, stat);
            self.visit(at, r)?;
            info.nodes += 1;
        }
    }

    fn seal(&mut self, info: &mut SnapshotInfo) -> Result<()> {
        let at = self.input.offset();
        let computed = self.input.checksum();
        let stored = self.field(|i| i.i64())? as u64;
        let slash_at = self.input.offset();
        let slash = self.field(|i| i.string())?;
        if stored != computed {
            return Err(Error::Checksum {
                path: self.name.clone(),
                offset: at,
                stored,
                computed,
            });
        }
        if slash != "/" {
            return Err(Error::corrupt(
                &self.name,
                slash_at,
                format!("seal ends with {slash:?}, not \"/\""),
            ));
        }
        info.seals += 1;
        Ok(())
    }

    /// An optional section: `None` if the stream ends anywhere inside it (Java's EOFException path).
    fn optional<T>(
        &mut self,
        f: impl FnOnce(&mut JuteIn<R>) -> Result<T, FieldError>,
    ) -> Result<Option<T>> {
        match f(&mut self.input) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_eof() => Ok(None),
            Err(e) => Err(e.at(&self.name)),
        }
    }
}

/// Reads a snapshot stream (already decompressed or not, per `compression`) and validates its seals.
pub fn read_snapshot_from<R: Read>(
    input: R,
    compression: Compression,
    name: &Path,
    visitor: &mut dyn SnapshotVisitor,
) -> Result<SnapshotInfo> {
    let raw = decompressor(input, compression);
    let mut t = TreeReader {
        input: JuteIn::new(raw, true, DEFAULT_MAX_FIELD),
        name: name.to_path_buf(),
        visitor,
    };
    let mut info = SnapshotInfo::default();
    let magic = t.field(|i| i.i32())?;
    let version = t.field(|i| i.i32())?;
    let dbid = t.field(|i| i.i64())?;
    if magic != SNAPSHOT_MAGIC {
        return Err(Error::corrupt(
            name,
            0,
            format!("mismatching magic header {magic:#010x} (expected ZKSN)"),
        ));
    }
    info.header = Some(FileHeader {
        magic,
        version,
        dbid,
    });
    t.tree(&mut info)?;
    t.seal(&mut info)?;
    let digest = t.optional(|i| {
        Ok(ZxidDigest {
            zxid: i.i64()?,
            version: i.i32()?,
            digest: i.i64()?,
        })
    })?;
    if let Some(d) = digest {
        info.digest = Some(d);
        t.seal(&mut info)?;
        if let Some(z) = t.optional(|i| i.i64())? {
            info.last_processed_zxid = Some(z);
            t.seal(&mut info)?;
        }
    }
    info.uncompressed_len = t.input.offset();
    Ok(info)
}

/// Reads the snapshot file at `path` (compression from its name), calling `visitor` for every
/// session, ACL entry and node in file order, and verifies every seal.
pub fn read_snapshot(path: &Path, visitor: &mut dyn SnapshotVisitor) -> Result<SnapshotInfo> {
    let compression = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_snapshot_name)
        .map_or(Compression::None, |(_, c)| c);
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    read_snapshot_from(
        BufReader::with_capacity(256 * 1024, file),
        compression,
        path,
        visitor,
    )
}

/// Java's `SnapStream.isValidSnapshot` pre-check used when choosing a snapshot: a parseable name and
/// (plain) at least 10 bytes ending in int 1 + '/', or (gz/snappy) the stream magic.
pub fn is_valid_snapshot(path: &Path) -> bool {
    let Some((_, compression)) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_snapshot_name)
    else {
        return false;
    };
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    match compression {
        Compression::Gzip => {
            let mut b = [0u8; 2];
            f.read_exact(&mut b).is_ok() && b == GZIP_MAGIC
        }
        Compression::Snappy => {
            let mut b = [0u8; 8];
            f.read_exact(&mut b).is_ok() && b == SNAPPY_MAGIC
        }
        Compression::None => {
            use std::io::{Seek, SeekFrom};
            let Ok(len) = f.metadata().map(|m| m.len()) else {
                return false;
            };
            if len < 10 || f.seek(SeekFrom::Start(len - 5)).is_err() {
                return false;
            }
            let mut b = [0u8; 5];
            f.read_exact(&mut b).is_ok() && b == [0, 0, 0, 1, b'/']
        }
    }
}

/// Reads a SNAP sync body from a stream (sessions, tree, "/" and "BenWasHere"), consuming exactly
/// its bytes so the caller can go on reading quorum packets from the same stream.
pub fn read_sync_stream<R: Read>(
    input: &mut R,
    visitor: &mut dyn SnapshotVisitor,
) -> Result<SnapshotInfo> {
    let name = PathBuf::from("<snap sync stream>");
    let mut t = TreeReader {
        input: JuteIn::new(input, false, DEFAULT_MAX_FIELD),
        name: name.clone(),
        visitor,
    };
    let mut info = SnapshotInfo::default();
    t.tree(&mut info)?;
    let at = t.input.offset();
    let sig = t.field(|i| i.string())?;
    if sig != SYNC_SIGNATURE {
        return Err(Error::corrupt(
            &name,
            at,
            format!("missing signature (got {sig:?})"),
        ));
    }
    info.uncompressed_len = t.input.offset();
    Ok(info)
}

/// [`read_sync_stream`] over an in-memory buffer that may hold more (or less) than the body:
/// returns the bytes consumed; an [`Error::UnexpectedEof`] means "incomplete, retry with more".
pub fn decode_sync_stream(
    buf: &[u8],
    visitor: &mut dyn SnapshotVisitor,
) -> Result<(SnapshotInfo, usize)> {
    let mut r = buf;
    let info = read_sync_stream(&mut r, visitor)?;
    Ok((info, buf.len() - r.len()))
}

/// Reads a whole snapshot into memory-free validation: parses and checks every seal.
pub fn verify_snapshot(path: &Path) -> Result<SnapshotInfo> {
    read_snapshot(path, &mut NullVisitor)
}
