//! Durable state in ZooKeeper's own on-disk format: the `version-2` txn logs and snapshots, the
//! `acceptedEpoch`/`currentEpoch` files, recovery on startup and autopurge, so that a Java node's
//! `dataDir` starts ferrokeeper and ferrokeeper's starts Java.
//!
//! Map:
//! - [`layout`] — the `version-2` dirs, file names ↔ zxids, sorted listings, Java's dir checks.
//! - [`txn_log`] — [`TxnLogWriter`] (preallocation, group commit via `flush_and_sync`, roll), the
//!   reader/iterator with torn-tail handling, `truncate` for ZAB TRUNC, `last_logged_zxid`.
//! - [`snapshot`] — streaming [`SnapshotWriter`] / [`read_snapshot`] with Adler-32 seals, gz and
//!   snappy-java compression ([`compression`]), and the SNAP sync stream variant.
//! - [`epoch`] — the epoch files and Java's startup checks.
//! - [`recovery`] — newest valid snapshot + log replay into a [`RecoverySink`].
//! - [`purge`] — autopurge.
//! - [`dump`] — text/JSON renderings and `verify` for the CLI.
//! - [`checksum`] — Adler-32 as `java.util.zip.Adler32`.
//!
//! The data tree lives in the server crate; this crate only streams records to and from it.

#![warn(missing_docs)]

pub mod checksum;
pub mod compression;
pub mod dump;
pub mod epoch;
pub mod error;
pub mod layout;
pub mod purge;
pub mod recovery;
pub mod snapshot;
mod stream;
pub mod txn_log;

pub use error::{Error, Result, VisitError, VisitResult};
pub use layout::{Compression, DataDirs, LogFile, SnapshotFile};
pub use recovery::{recover, Recovery, RecoveryInfo, RecoveryOptions, RecoverySink};
pub use snapshot::{
    decode_sync_stream, is_valid_snapshot, read_snapshot, read_sync_stream, SnapshotFileOptions,
    SnapshotFileWriter, SnapshotInfo, SnapshotVisitor, SnapshotWriter, ZxidDigest,
};
pub use txn_log::{read_logs, LogRecord, TornTail, TxnLogIter, TxnLogOptions, TxnLogWriter};
