//! The one error type of the crate. Every variant that comes from reading a file names the file and
//! the byte offset, because an operator facing a refused startup needs to know exactly where to look.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// An error returned by a visitor/sink callback; it aborts the read that called it.
pub type VisitError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a visitor/sink callback returns.
pub type VisitResult = Result<(), VisitError>;

/// Why a storage operation failed. Torn tails are not errors (see [`crate::txn_log::TornTail`]).
#[derive(Debug, Error)]
#[allow(missing_docs)] // fields are named for what they hold: path, offset, reason, ...
pub enum Error {
    /// An operating-system error on a file or directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A stored Adler-32 does not match the bytes it covers: the file is corrupt, never repaired.
    #[error("{path}: checksum mismatch at offset {offset} (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        path: PathBuf,
        offset: u64,
        stored: u64,
        computed: u64,
    },
    /// The bytes are not in the expected format (bad magic, impossible length, bad record, ...).
    #[error("{path}: corrupt at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The file ended where the format requires more bytes (a snapshot cut short).
    #[error("{path}: unexpected end of data at offset {offset}")]
    UnexpectedEof { path: PathBuf, offset: u64 },
    /// A visitor/sink callback refused a record.
    #[error("{path}: rejected by the caller at offset {offset}: {source}")]
    Visitor {
        path: PathBuf,
        offset: u64,
        #[source]
        source: VisitError,
    },
    /// Txn logs exist but no snapshot does (Java: "No snapshot found, but there are log entries").
    #[error("no snapshot found in {snap_dir} but {log_dir} holds txn log entries (up to zxid {last_zxid:#x}); refusing to start without zookeeper.snapshot.trust.empty")]
    NoSnapshotButLogs {
        snap_dir: PathBuf,
        log_dir: PathBuf,
        last_zxid: i64,
    },
    /// Snapshots that look complete exist but none of them parses (Java: "Not able to find valid
    /// snapshots"); each failure is listed.
    #[error("no valid snapshot in {dir}: {}", failures.join("; "))]
    NoValidSnapshot { dir: PathBuf, failures: Vec<String> },
    /// Snapshot and log dirs differ and one holds the other's files (Java refuses to start).
    #[error("{dir} holds {file}, which belongs in the {expected} directory")]
    MisplacedFile {
        dir: PathBuf,
        file: String,
        expected: &'static str,
    },
    /// A `version-2` directory is missing and auto-creation is disabled.
    #[error("missing data directory {0} (zookeeper.datadir.autocreate is false)")]
    MissingDir(PathBuf),
    /// An epoch file does not hold a decimal long.
    #[error("{path}: invalid epoch file content {content:?}")]
    BadEpochFile { path: PathBuf, content: String },
    /// The last processed zxid is from a later epoch than `currentEpoch` and no `currentEpoch.tmp`
    /// can explain it (Java: "The current epoch, x, is older than the last zxid, y").
    #[error("the current epoch {current_epoch} is older than the epoch {zxid_epoch} of the last zxid {last_zxid:#x}")]
    CurrentEpochBehindZxid {
        current_epoch: i64,
        zxid_epoch: i64,
        last_zxid: i64,
    },
    /// `acceptedEpoch` is below `currentEpoch` (Java: "The accepted epoch, x is less than the current
    /// epoch, y").
    #[error("the accepted epoch {accepted_epoch} is less than the current epoch {current_epoch}")]
    AcceptedEpochBehindCurrent {
        accepted_epoch: i64,
        current_epoch: i64,
    },
    /// TRUNC asked for a zxid that no log file covers (Java exits the learner with code 13).
    #[error("cannot truncate the txn logs in {dir} to zxid {zxid:#x}: {reason}")]
    CannotTruncate {
        dir: PathBuf,
        zxid: i64,
        reason: String,
    },
    /// An API was used out of order (e.g. a snapshot node written after `finish`).
    #[error("storage API misuse: {0}")]
    Usage(String),
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error at `offset` of `path`.
    pub fn corrupt(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// The file named by the error, if it names one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::Checksum { path, .. }
            | Error::Corrupt { path, .. }
            | Error::UnexpectedEof { path, .. }
            | Error::Visitor { path, .. }
            | Error::BadEpochFile { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The byte offset named by the error, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Checksum { offset, .. }
            | Error::Corrupt { offset, .. }
            | Error::UnexpectedEof { offset, .. }
            | Error::Visitor { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
