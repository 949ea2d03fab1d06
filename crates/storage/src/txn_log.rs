//! Txn log files `log.<hex zxid of first txn>` (Java's `FileTxnLog`): a 16-byte `FileHeader`
//! (ZKLG, 2, dbid 0), then entries `long adler32(payload) | int len | payload | byte 'B'`, then zeros
//! (files are preallocated sparsely in `preAllocSize` blocks, as Java does, and the next MiB ahead of
//! the appends is written as zeros so that a group commit's fdatasync does not also commit block
//! allocations to the filesystem journal).
//!
//! Reading follows Java: a zero length is the end of the used part of the file; an entry cut short or
//! missing its 'B' is a torn tail (a crash mid-write) and ends that file without an error; a checksum
//! mismatch is corruption and a hard error naming the file and offset.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use jute::file::{FileHeader, FILE_VERSION, TXNLOG_MAGIC};
use jute::txn::TxnEntry;
use jute::Jute;

use crate::checksum::adler32;
use crate::error::{Error, Result};
use crate::layout::{list_logs, log_file_name, LogFile};

/// Size of the file header.
pub const HEADER_LEN: u64 = 16;
/// The end-of-record marker after every payload.
pub const EOR: u8 = b'B';
/// Java's default `zookeeper.preAllocSize` (65536 KiB).
pub const DEFAULT_PREALLOC_BYTES: u64 = 64 * 1024 * 1024;
/// The largest payload accepted when reading (well above any `jute.maxbuffer` in use; a payload must
/// also fit in the file, which bounds what is allocated).
pub const DEFAULT_MAX_PAYLOAD: usize = crate::stream::MAX_FIELD_BYTES;

/// How a [`TxnLogWriter`] lays out its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnLogOptions {
    /// Preallocation block in bytes (`zookeeper.preAllocSize` × 1024); 0 disables preallocation.
    pub prealloc_bytes: u64,
    /// Roll to a new file once the current one holds more than this many bytes
    /// (`zookeeper.txnLogSizeLimitInKb` × 1024); `None` = no limit (Java's default).
    pub size_limit_bytes: Option<u64>,
}

impl Default for TxnLogOptions {
    fn default() -> Self {
        TxnLogOptions {
            prealloc_bytes: DEFAULT_PREALLOC_BYTES,
            size_limit_bytes: None,
        }
    }
}

/// Java's `FilePadding.calculateFileSizeWithPadding`: once the write position is within 4 KiB of the
/// allocated size, grow the allocation by one block (or to the next block boundary past `position`).
pub fn padded_size(position: u64, allocated: u64, prealloc: u64) -> u64 {
    if prealloc > 0 && position + 4096 >= allocated {
        if position > allocated {
            let size = position + prealloc;
            size - size % prealloc
        } else {
            allocated + prealloc
        }
    } else {
        allocated
    }
}

/// Encodes one log entry (checksum, length, payload, 'B') for `payload`.
pub fn encode_entry(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&u64::from(adler32(payload)).to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out.push(EOR);
}

fn header_bytes() -> BytesMut {
    let mut b = BytesMut::with_capacity(16);
    FileHeader {
        magic: TXNLOG_MAGIC,
        version: FILE_VERSION,
        dbid: 0,
    }
    .write(&mut b);
    b
}

/// How far ahead of the appends the preallocated space is filled with zeros.
const ZERO_FILL: u64 = 1 << 20;

struct OpenLog {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes written to the file so far, buffered or not.
    position: u64,
    /// The preallocated size of the file.
    allocated: u64,
    /// Bytes of the file known to be backed by written blocks (data or zero fill).
    zeroed: u64,
    /// The directory entry of this file has not been fsynced yet.
    dir_unsynced: bool,
}

/// Appends txns to the log directory. One file is open at a time; the first append after creation
/// or after [`TxnLogWriter::roll`] starts a new `log.<zxid>`. Appends are buffered; durability comes
/// only from [`TxnLogWriter::flush_and_sync`], which makes a whole batch durable with one fdatasync.
pub struct TxnLogWriter {
    dir: PathBuf,
    options: TxnLogOptions,
    current: Option<OpenLog>,
    /// Files rolled away from whose data still waits for the next sync.
    rolled: Vec<(PathBuf, File, bool)>,
    last_zxid: Option<i64>,
    synced_zxid: Option<i64>,
    scratch: Vec<u8>,
}

impl TxnLogWriter {
    /// A writer for `log_dir` (the `version-2` directory). Nothing is created until the first append.
    pub fn new(log_dir: impl Into<PathBuf>, options: TxnLogOptions) -> TxnLogWriter {
        TxnLogWriter {
            dir: log_dir.into(),
            options,
            current: None,
            rolled: Vec::new(),
            last_zxid: None,
            synced_zxid: None,
            scratch: Vec::new(),
        }
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file the next append goes to, if one is open.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// The zxid of the last append through this writer.
    pub fn last_zxid(&self) -> Option<i64> {
        self.last_zxid
    }

    /// Bytes in the current file (header and entries, not preallocation).
    pub fn current_size(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.position)
    }

    fn open_new(&mut self, zxid: i64) -> Result<()> {
        let path = self.dir.join(log_file_name(zxid));
        if path.exists() {
            tracing::warn!(path = %path.display(), "txn log file already exists, overwriting it as Java does");
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // The header goes straight to the file (as Java flushes it at once), before the first
        // append extends the file by preallocation: buffered, a kill -9 between that pwrite and the
        // next flush left a file of zeros whose missing magic then refused every later startup.
        let mut file = file;
        file.write_all(&header_bytes())
            .map_err(|e| Error::io(&path, e))?;
        let out = BufWriter::with_capacity(64 * 1024, file);
        self.current = Some(OpenLog {
            path,
            out,
            position: HEADER_LEN,
            allocated: HEADER_LEN,
            zeroed: HEADER_LEN,
            dir_unsynced: true,
        });
        Ok(())
    }

    /// Buffers the txn `zxid` with its serialized `payload` (a `TxnEntry::encode()`), opening a new
    /// file first if needed and extending the preallocation. Not durable until `flush_and_sync`.
    pub fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<()> {
        if let Some(last) = self.last_zxid {
            if zxid <= last {
                tracing::warn!(
                    zxid = format_args!("{zxid:#x}"),
                    last = format_args!("{last:#x}"),
                    "appending a txn whose zxid does not increase"
                );
            }
        }
        if let (Some(limit), Some(cur)) = (self.options.size_limit_bytes, &self.current) {
            if cur.position > limit {
                self.roll()?;
            }
        }
        if self.current.is_none() {
            self.open_new(zxid)?;
        }
        let prealloc = self.options.prealloc_bytes;
        self.scratch.clear();
        encode_entry(payload, &mut self.scratch);
        let cur = self
            .current
            .as_mut()
            .ok_or_else(|| Error::Usage("no open log".into()))?;
        let new_size = padded_size(cur.position, cur.allocated, prealloc);
        if new_size != cur.allocated {
            // A single zero byte at the end makes a sparse file of the new size without moving the
            // write cursor (pwrite).
            cur.out
                .get_ref()
                .write_at(&[0u8], new_size - 1)
                .map_err(|e| Error::io(&cur.path, e))?;
            cur.allocated = new_size;
        }
        let end = cur.position + self.scratch.len() as u64;
        if prealloc > 0 && end + ZERO_FILL / 2 > cur.zeroed {
            // Fill the sparse preallocation ahead of the writes with real zeros: appends then
            // land in blocks that are already allocated, so the group commit's fdatasync flushes
            // data only, instead of committing the block allocation to the journal each time.
            let from = cur.zeroed.max(cur.position);
            let to = (from + ZERO_FILL).min(cur.allocated);
            if to > from {
                let zeros = vec![0u8; (to - from) as usize];
                cur.out
                    .get_ref()
                    .write_at(&zeros, from)
                    .map_err(|e| Error::io(&cur.path, e))?;
                cur.zeroed = to;
            }
        }
        cur.out
            .write_all(&self.scratch)
            .map_err(|e| Error::io(&cur.path, e))?;
        cur.position = end;
        self.last_zxid = Some(zxid);
        Ok(())
    }

    /// Appends a decoded txn (encodes it first).
    pub fn append_entry(&mut self, entry: &TxnEntry) -> Result<()> {
        self.append(entry.zxid(), &entry.encode())
    }

    /// Writes everything appended since the last call and, with `force_sync` (Java's `forceSync`,
    /// default yes), fdatasyncs once: the group-commit point. Files rolled away from are synced too.
    /// Afterwards [`TxnLogWriter::last_synced_zxid`] is the last appended zxid. An error here must be
    /// treated as fatal by the caller: a failed fsync is never retried (the page cache state is
    /// unknown after it).
    pub fn flush_and_sync(&mut self, force_sync: bool) -> Result<()> {
        for (path, file, dir_unsynced) in self.rolled.drain(..) {
            if force_sync {
                file.sync_data().map_err(|e| Error::io(&path, e))?;
                if dir_unsynced {
                    sync_dir(&self.dir)?;
                }
            }
        }
        if let Some(cur) = &mut self.current {
            cur.out.flush().map_err(|e| Error::io(&cur.path, e))?;
            if force_sync {
                cur.out
                    .get_ref()
                    .sync_data()
                    .map_err(|e| Error::io(&cur.path, e))?;
                if cur.dir_unsynced {
                    sync_dir(&self.dir)?;
                    cur.dir_unsynced = false;
                }
            }
        }
        self.synced_zxid = self.last_zxid;
        Ok(())
    }

    /// The last zxid made durable by [`TxnLogWriter::flush_and_sync`] (what may be ACKed).
    pub fn last_synced_zxid(&self) -> Option<i64> {
        self.synced_zxid
    }

    /// Closes the current file (its buffered bytes are written; the next sync makes them durable);
    /// the next append starts `log.<its zxid>`. Java rolls on every snapshot.
    pub fn roll(&mut self) -> Result<()> {
        if let Some(cur) = self.current.take() {
            let OpenLog {
                path,
                out,
                dir_unsynced,
                ..
            } = cur;
            let file = out
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            self.rolled.push((path, file, dir_unsynced));
        }
        Ok(())
    }

    /// Flushes, syncs and closes everything.
    pub fn close(mut self) -> Result<()> {
        self.roll()?;
        self.flush_and_sync(true)
    }
}

/// fsyncs a directory so that created/renamed/deleted entries in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
    d.sync_all().map_err(|e| Error::io(dir, e))
}

/// Why the readable part of a log file ended before its physical end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TornReason {
    /// The file ends in the middle of an entry (or of the header).
    ShortRead,
    /// A whole entry was read but the byte after it is not 'B'.
    MissingEor,
    /// A length of 0 after a nonzero checksum: the length was never written.
    ZeroLength,
}

/// A partially written entry at the end of a log file: everything from `offset` on is garbage from a
/// crash mid-write. Not an error: Java stops reading that file there too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The log file.
    pub path: PathBuf,
    /// Where the valid part of the file ends (the torn entry's first byte).
    pub offset: u64,
    /// The file's size.
    pub file_len: u64,
    /// What was wrong with the torn entry.
    pub reason: TornReason,
}

/// How the readable part of one file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // `offset` is where the valid entries end, in every variant
pub enum FileEnd {
    /// The file ends exactly after an entry.
    Eof { offset: u64 },
    /// A zero checksum and length: the preallocated zeros.
    Padding { offset: u64 },
    /// A torn tail.
    Torn(TornTail),
}

impl FileEnd {
    /// The offset where the valid entries end.
    pub fn offset(&self) -> u64 {
        match self {
            FileEnd::Eof { offset } | FileEnd::Padding { offset } => *offset,
            FileEnd::Torn(t) => t.offset,
        }
    }
}

/// One valid entry of a log file: its raw payload and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// Offset of the entry's checksum field.
    pub offset: u64,
    /// Offset just past the entry's 'B'.
    pub end: u64,
    /// The stored (and verified) Adler-32.
    pub checksum: u64,
    /// The txn bytes (TxnHeader + record + optional digest).
    pub payload: Bytes,
}

fn read_upto<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Sequential reader of one log file's entries (raw payloads, checksums verified).
pub struct LogFileReader {
    path: PathBuf,
    input: BufReader<File>,
    offset: u64,
    file_len: u64,
    end: Option<FileEnd>,
    max_payload: usize,
}

impl LogFileReader {
    /// Opens `path` and checks its header. A file too short to hold a header is reported as a torn
    /// tail at offset 0 (a crash right after creating it); a wrong magic is an error.
    pub fn open(path: &Path) -> Result<LogFileReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut input = BufReader::with_capacity(64 * 1024, file);
        let mut hdr = [0u8; HEADER_LEN as usize];
        let n = read_upto(&mut input, &mut hdr).map_err(|e| Error::io(path, e))?;
        let mut r = LogFileReader {
            path: path.to_path_buf(),
            input,
            offset: HEADER_LEN,
            file_len,
            end: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
        };
        if n < hdr.len() {
            r.offset = 0;
            r.end = Some(FileEnd::Torn(TornTail {
                path: path.to_path_buf(),
                offset: 0,
                file_len,
                reason: TornReason::ShortRead,
            }));
            return Ok(r);
        }
        let magic = i32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        if magic != TXNLOG_MAGIC {
            return Err(Error::corrupt(
                path,
                0,
                format!("invalid txn log magic {magic:#010x} (expected ZKLG)"),
            ));
        }
        let version = i32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        if version != FILE_VERSION {
            tracing::warn!(path = %path.display(), version, "unexpected txn log version");
        }
        Ok(r)
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the file ended, once `next_entry` has returned `None`.
    pub fn end(&self) -> Option<&FileEnd> {
        self.end.as_ref()
    }

    fn torn(&mut self, offset: u64, reason: TornReason) -> Result<Option<RawEntry>> {
        self.end = Some(FileEnd::Torn(TornTail {
            path: self.path.clone(),
            offset,
            file_len: self.file_len,
            reason,
        }));
        Ok(None)
    }

    /// The next entry, `None` at the end of the valid part (see [`LogFileReader::end`]), or an error
    /// for a checksum mismatch or an impossible length.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>> {
        if self.end.is_some() {
            return Ok(None);
        }
        let start = self.offset;
        let mut head = [0u8; 12];
        let n = read_upto(&mut self.input, &mut head).map_err(|e| Error::io(&self.path, e))?;
        if n == 0 {
            self.end = Some(FileEnd::Eof { offset: start });
            return Ok(None);
        }
        if n < head.len() {
            return self.torn(start, TornReason::ShortRead);
        }
        let mut crc_b = [0u8; 8];
        crc_b.copy_from_slice(&head[..8]);
        let checksum = u64::from_be_bytes(crc_b);
        let len = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        if len == 0 {
            if checksum == 0 {
                self.end = Some(FileEnd::Padding { offset: start });
                return Ok(None);
            }
            return self.torn(start, TornReason::ZeroLength);
        }
        if len < 0 || len as usize > self.max_payload {
            // Java's BinaryInputArchive refuses this as an "Unreasonable length" (an IOException);
            // if the rest of the file is shorter than the entry it is a torn write instead.
            if start + 12 + (len.max(0) as u64) + 1 > self.file_len && len > 0 {
                return self.torn(start, TornReason::ShortRead);
            }
            return Err(Error::corrupt(
                &self.path,
                start + 8,
                format!("unreasonable txn length {len}"),
            ));
        }
        let len = len as usize;
        if start + 12 + len as u64 + 1 > self.file_len {
            return self.torn(start, TornReason::ShortRead);
        }
        let mut payload = vec![0u8; len + 1];
        let got = read_upto(&mut self.input, &mut payload).map_err(|e| Error::io(&self.path, e))?;
        if got < payload.len() {
            return self.torn(start, TornReason::ShortRead);
        }
        if payload[len] != EOR {
            return self.torn(start, TornReason::MissingEor);
        }
        payload.truncate(len);
        let computed = u64::from(adler32(&payload));
        if computed != checksum {
            return Err(Error::Checksum {
                path: self.path.clone(),
                offset: start,
                stored: checksum,
                computed,
            });
        }
        self.offset = start + 12 + len as u64 + 1;
        Ok(Some(RawEntry {
            offset: start,
            end: self.offset,
            checksum,
            payload: Bytes::from(payload),
        }))
    }

    /// Reads to the end and returns how the file ended plus the number of valid entries.
    pub fn scan_to_end(&mut self) -> Result<(FileEnd, u64)> {
        let mut n = 0;
        while self.next_entry()?.is_some() {
            n += 1;
        }
        let end = self.end.clone().unwrap_or(FileEnd::Eof {
            offset: self.offset,
        });
        Ok((end, n))
    }
}

/// A decoded txn from a log, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The decoded txn.
    pub entry: TxnEntry,
    /// The raw payload, checksum-verified (what a DIFF sync forwards as PROPOSAL data).
    pub payload: Bytes,
    /// The log file it came from.
    pub path: PathBuf,
    /// The offset of its entry in that file.
    pub offset: u64,
}

impl LogRecord {
    /// The txn's zxid.
    pub fn zxid(&self) -> i64 {
        self.entry.zxid()
    }
}

/// Decodes a checksum-verified payload, naming the file and offset on failure.
pub fn decode_payload(path: &Path, offset: u64, payload: Bytes) -> Result<TxnEntry> {
    TxnEntry::decode_with_limit(payload, DEFAULT_MAX_PAYLOAD)
        .map_err(|e| Error::corrupt(path, offset, format!("undecodable txn: {e}")))
}

/// The log files to read for txns from `from_zxid` on: the one whose start zxid is the greatest
/// `<= from_zxid` plus all later ones (all of them if none starts that early).
pub fn logs_from(dir: &Path, from_zxid: i64) -> Result<Vec<LogFile>> {
    let logs = list_logs(dir)?;
    let first = logs.iter().rposition(|l| l.zxid <= from_zxid).unwrap_or(0);
    Ok(logs.into_iter().skip(first).collect())
}

/// Iterates txns with zxid >= a start zxid across the log files of a directory, in file order.
/// Torn tails end a file quietly and are collected in [`TxnLogIter::torn_tails`]; errors are returned
/// once and end the iteration.
pub struct TxnLogIter {
    files: VecDeque<LogFile>,
    current: Option<LogFileReader>,
    from_zxid: i64,
    torn: Vec<TornTail>,
    ends: Vec<(PathBuf, FileEnd)>,
    failed: bool,
}

impl TxnLogIter {
    /// Torn tails met so far (in any file, not only the last one).
    pub fn torn_tails(&self) -> &[TornTail] {
        &self.torn
    }

    /// How each fully read file ended.
    pub fn file_ends(&self) -> &[(PathBuf, FileEnd)] {
        &self.ends
    }

    fn step(&mut self) -> Result<Option<LogRecord>> {
        loop {
            if self.current.is_none() {
                match self.files.pop_front() {
                    None => return Ok(None),
                    Some(f) => self.current = Some(LogFileReader::open(&f.path)?),
                }
            }
            let Some(cur) = self.current.as_mut() else {
                continue;
            };
            match cur.next_entry()? {
                Some(raw) => {
                    let entry = decode_payload(cur.path(), raw.offset, raw.payload.clone())?;
                    if entry.zxid() < self.from_zxid {
                        continue;
                    }
                    return Ok(Some(LogRecord {
                        entry,
                        payload: raw.payload,
                        path: cur.path().to_path_buf(),
                        offset: raw.offset,
                    }));
                }
                None => {
                    if let Some(end) = cur.end().cloned() {
                        if let FileEnd::Torn(t) = &end {
                            tracing::warn!(path = %t.path.display(), offset = t.offset, reason = ?t.reason, "torn tail in txn log");
                            self.torn.push(t.clone());
                        }
                        self.ends.push((cur.path().to_path_buf(), end));
                    }
                    self.current = None;
                }
            }
        }
    }
}

impl Iterator for TxnLogIter {
    type Item = Result<LogRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Txns with zxid >= `from_zxid` from the logs in `dir` (Java's `FileTxnLog.read(zxid)`).
pub fn read_logs(dir: &Path, from_zxid: i64) -> Result<TxnLogIter> {
    Ok(TxnLogIter {
        files: logs_from(dir, from_zxid)?.into(),
        current: None,
        from_zxid,
        torn: Vec::new(),
        ends: Vec::new(),
        failed: false,
    })
}

/// The zxid of the last valid txn in the logs of `dir` (searching older files if the newest holds
/// none), or `None` when there is no txn at all.
pub fn last_logged_zxid(dir: &Path) -> Result<Option<i64>> {
    let logs = list_logs(dir)?;
    for log in logs.iter().rev() {
        let mut r = LogFileReader::open(&log.path)?;
        let mut last = None;
        while let Some(raw) = r.next_entry()? {
            last = Some(decode_payload(&log.path, raw.offset, raw.payload)?.zxid());
        }
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

/// Cuts a log file at `offset` (dropping a torn tail) and syncs it.
pub fn truncate_file(path: &Path, offset: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.set_len(offset).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// ZAB TRUNC: removes every txn after `zxid` from the logs of `dir` — the file holding `zxid` is cut
/// right after it and every later file is deleted. Fails (Java exits with code 13) if txns after
/// `zxid` exist but no log starts at or before `zxid`. Snapshots newer than `zxid` are the caller's
/// business (they must not be loaded afterwards).
pub fn truncate(dir: &Path, zxid: i64) -> Result<()> {
    let logs = list_logs(dir)?;
    let Some(idx) = logs.iter().rposition(|l| l.zxid <= zxid) else {
        if logs.is_empty() {
            return Ok(());
        }
        return Err(Error::CannotTruncate {
            dir: dir.to_path_buf(),
            zxid,
            reason: "every log file starts after that zxid".into(),
        });
    };
    let keep = &logs[idx];
    let mut r = LogFileReader::open(&keep.path)?;
    let mut cut = if r.end().is_some() { 0 } else { HEADER_LEN };
    while let Some(raw) = r.next_entry()? {
        let e = decode_payload(&keep.path, raw.offset, raw.payload)?;
        if e.zxid() > zxid {
            break;
        }
        cut = raw.end;
    }
    drop(r);
    truncate_file(&keep.path, cut)?;
    for later in &logs[idx + 1..] {
        tracing::info!(path = %later.path.display(), "TRUNC: deleting txn log after zxid {zxid:#x}");
        fs::remove_file(&later.path).map_err(|e| Error::io(&later.path, e))?;
    }
    sync_dir(dir)
}
