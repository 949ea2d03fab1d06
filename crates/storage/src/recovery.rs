//! Startup recovery (Java's `FileTxnSnapLog.restore`): load the newest snapshot that parses, then
//! replay every later txn from the logs into a caller-provided sink. The tree itself belongs to the
//! server crate; this module only streams records into the [`RecoverySink`].
//!
//! Nothing is deleted: the only file change is cutting a torn tail off the newest log, logged.

use std::path::{Path, PathBuf};

use jute::txn::TxnEntry;

use crate::error::{Error, Result, VisitResult};
use crate::layout::{DataDirs, SnapshotFile};
use crate::snapshot::{is_valid_snapshot, read_snapshot, SnapshotInfo, SnapshotVisitor};
use crate::txn_log::{last_logged_zxid, read_logs, truncate_file, TornTail};

/// Receives the recovered state. It must start empty; [`RecoverySink::begin_snapshot`] is called
/// before each snapshot is streamed in and must reset the state, because a snapshot that fails
/// halfway has already delivered part of its nodes before the next older one is tried.
pub trait RecoverySink: SnapshotVisitor {
    /// Clears the state and prepares for the snapshot `path` named `zxid`.
    fn begin_snapshot(&mut self, path: &Path, zxid: i64) -> VisitResult;
    /// The snapshot was read completely and its seals verified (digest etc. in `info`).
    fn snapshot_loaded(&mut self, _zxid: i64, _info: &SnapshotInfo) -> VisitResult {
        Ok(())
    }
    /// Applies one txn; txns come in log order with zxid > the snapshot's zxid.
    fn txn(&mut self, entry: TxnEntry) -> VisitResult;
}

/// Knobs of [`recover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// `zookeeper.snapshot.trust.empty`: accept logs without any snapshot (replaying them from zxid 1
    /// onto an empty tree).
    pub trust_empty: bool,
    /// How many of the newest snapshots are considered (Java: 100).
    pub max_snapshots: usize,
    /// Cut a torn tail off the newest log so that its file ends cleanly.
    pub truncate_torn_tail: bool,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            trust_empty: false,
            max_snapshots: 100,
            truncate_torn_tail: true,
        }
    }
}

/// What recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// No snapshot and no txn at all: a new server; the caller creates the initial tree and writes
    /// `snapshot.0` right away (Java's `zookeeper.db.autocreate` path).
    Fresh,
    /// State was loaded.
    Loaded(Box<RecoveryInfo>),
}

/// Details of a successful recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// The snapshot loaded (`None` only with `trust_empty` and no snapshot).
    pub snapshot: Option<SnapshotFile>,
    /// What the snapshot held besides the tree (digest, counts).
    pub snapshot_info: Option<SnapshotInfo>,
    /// The last processed zxid: the last replayed txn, or the snapshot's name zxid.
    pub last_zxid: i64,
    /// Txns handed to the sink.
    pub txns_replayed: u64,
    /// Torn tails met while replaying (normally at most one, at the end of the newest log).
    pub torn_tails: Vec<TornTail>,
    /// The torn tail that was cut off the newest log, if any.
    pub truncated: Option<TornTail>,
    /// Newer snapshots that were skipped, with the reason.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
}

fn sink_err(path: &Path, source: crate::error::VisitError) -> Error {
    Error::Visitor {
        path: path.to_path_buf(),
        offset: 0,
        source,
    }
}

/// Recovers the state of `dirs` into `sink`: chooses the newest valid snapshot (up to
/// `max_snapshots`, skipping ones that fail the validity test or fail to parse, with a warning),
/// streams it, replays later txns, and cuts a torn tail off the newest log. Hard errors: checksum
/// mismatch or undecodable txn (file + offset), logs without snapshot (unless `trust_empty`), and
/// complete-looking snapshots none of which parses.
pub fn recover(
    dirs: &DataDirs,
    sink: &mut dyn RecoverySink,
    options: &RecoveryOptions,
) -> Result<Recovery> {
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    let mut chosen: Option<(SnapshotFile, SnapshotInfo)> = None;
    for snap in dirs.snapshots()?.into_iter().take(options.max_snapshots) {
        if !is_valid_snapshot(&snap.path) {
            tracing::warn!(path = %snap.path.display(), "skipping incomplete snapshot");
            skipped.push((
                snap.path.clone(),
                "incomplete (fails the validity test)".to_string(),
            ));
            continue;
        }
        sink.begin_snapshot(&snap.path, snap.zxid)
            .map_err(|e| sink_err(&snap.path, e))?;
        match read_snapshot(&snap.path, sink) {
            Ok(info) => {
                tracing::info!(path = %snap.path.display(), nodes = info.nodes, "loaded snapshot");
                chosen = Some((snap, info));
                break;
            }
            Err(e) => {
                tracing::warn!(path = %snap.path.display(), error = %e, "problem reading snapshot, trying an older one");
                failures.push(e.to_string());
                skipped.push((snap.path.clone(), e.to_string()));
            }
        }
    }
    if chosen.is_none() && !failures.is_empty() {
        return Err(Error::NoValidSnapshot {
            dir: dirs.snap_dir.clone(),
            failures,
        });
    }
    let (snapshot, snapshot_info, base_zxid) = match chosen {
        Some((snap, info)) => {
            sink.snapshot_loaded(snap.zxid, &info)
                .map_err(|e| sink_err(&snap.path, e))?;
            let z = snap.zxid;
            (Some(snap), Some(info), z)
        }
        None => {
            match last_logged_zxid(&dirs.log_dir)? {
                None => return Ok(Recovery::Fresh),
                Some(last) if !options.trust_empty => {
                    return Err(Error::NoSnapshotButLogs {
                        snap_dir: dirs.snap_dir.clone(),
                        log_dir: dirs.log_dir.clone(),
                        last_zxid: last,
                    })
                }
                Some(_) => {
                    tracing::warn!("no snapshot but txn logs exist; trusting the empty snapshot (upgrade path)");
                    (None, None, 0)
                }
            }
        }
    };

    let mut iter = read_logs(&dirs.log_dir, base_zxid + 1)?;
    let mut last_zxid = base_zxid;
    let mut replayed = 0u64;
    for rec in iter.by_ref() {
        let rec = rec?;
        let z = rec.zxid();
        // Within an epoch zxids are consecutive. A jump means txns are missing: a torn entry at the
        // end of a log that is not the newest (followed by a newer log), or a missing log file.
        // Replaying on past the hole would silently drop committed txns, so refuse to start.
        if last_zxid != 0 && z > last_zxid + 1 && (z >> 32) == (last_zxid >> 32) {
            let after = if replayed == 0 {
                "the snapshot's zxid"
            } else {
                "the previous txn"
            };
            return Err(Error::corrupt(
                &rec.path,
                rec.offset,
                format!(
                    "txn zxid {z:#x} follows {after} {last_zxid:#x}: txns {:#x}..{:#x} are missing{}",
                    last_zxid + 1,
                    z - 1,
                    match iter.torn_tails().last() {
                        Some(t) => format!(
                            " (torn entry in {} at offset {})",
                            t.path.display(),
                            t.offset
                        ),
                        None => String::new(),
                    }
                ),
            ));
        }
        if z < last_zxid && last_zxid != 0 {
            tracing::error!(
                zxid = format_args!("{z:#x}"),
                highest = format_args!("{last_zxid:#x}"),
                "txn zxid goes backwards in the log"
            );
        } else {
            last_zxid = z;
        }
        let (path, offset) = (rec.path, rec.offset);
        sink.txn(rec.entry).map_err(|source| Error::Visitor {
            path,
            offset,
            source,
        })?;
        replayed += 1;
    }
    let torn_tails = iter.torn_tails().to_vec();
    let mut truncated = None;
    if options.truncate_torn_tail {
        let newest = dirs.logs()?.pop();
        if let (Some(newest), Some(t)) = (newest, torn_tails.last()) {
            if newest.path == t.path {
                tracing::warn!(path = %t.path.display(), offset = t.offset, len = t.file_len, "cutting the torn tail off the newest txn log");
                truncate_file(&t.path, t.offset)?;
                truncated = Some(t.clone());
            }
        }
    }
    Ok(Recovery::Loaded(Box::new(RecoveryInfo {
        snapshot,
        snapshot_info,
        last_zxid,
        txns_replayed: replayed,
        torn_tails,
        truncated,
        skipped_snapshots: skipped,
    })))
}
