//! Autopurge (Java's `PurgeTxnLog.purge`, run by `DatadirCleanupManager`): keep the newest N valid
//! snapshots (N >= 3), the txn log that covers the oldest kept snapshot and every later log; delete
//! older `snapshot.*` and `log.*` files. Epoch files, `myid` and anything else are never touched.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::{DataDirs, LOG_PREFIX, SNAPSHOT_PREFIX};
use crate::snapshot::is_valid_snapshot;

/// The smallest retain count Java accepts (`autopurge.snapRetainCount` below it is raised to it).
pub const MIN_RETAIN: usize = 3;

/// What a purge removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// The snapshots kept (newest first).
    pub kept_snapshots: Vec<PathBuf>,
    /// The zxid below which files were removed (the oldest kept snapshot's), if any was kept.
    pub retain_from_zxid: Option<i64>,
    /// The files removed.
    pub deleted: Vec<PathBuf>,
}

/// `prefix.<hex>[.anything]` → zxid, as Java's `Util.getZxidFromName` (so leftover `.tmp` files
/// older than the retained snapshots are purged too).
fn zxid_of(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next() != Some(prefix) {
        return None;
    }
    let hex = parts.next()?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some(z) = entry.file_name().to_str().and_then(|n| zxid_of(n, prefix)) {
            out.push((z, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Purges `dirs`, keeping the newest `retain` (at least [`MIN_RETAIN`]) valid snapshots.
pub fn purge(dirs: &DataDirs, retain: usize) -> Result<PurgeReport> {
    let retain = retain.max(MIN_RETAIN);
    let kept: Vec<_> = dirs
        .snapshots()?
        .into_iter()
        .filter(|s| is_valid_snapshot(&s.path))
        .take(retain)
        .collect();
    let mut report = PurgeReport {
        kept_snapshots: kept.iter().map(|s| s.path.clone()).collect(),
        ..Default::default()
    };
    let Some(oldest) = kept.last() else {
        return Ok(report);
    };
    let least = oldest.zxid;
    report.retain_from_zxid = Some(least);
    let logs = files_with_prefix(&dirs.log_dir, LOG_PREFIX)?;
    // The log holding the txns right after the oldest kept snapshot starts at or before it.
    let covering = logs
        .iter()
        .filter(|(z, _)| *z <= least)
        .map(|(z, _)| *z)
        .max();
    let mut doomed: Vec<PathBuf> = logs
        .into_iter()
        .filter(|(z, _)| *z < least && Some(*z) != covering)
        .map(|(_, p)| p)
        .collect();
    doomed.extend(
        files_with_prefix(&dirs.snap_dir, SNAPSHOT_PREFIX)?
            .into_iter()
            .filter(|(z, _)| *z < least)
            .map(|(_, p)| p),
    );
    doomed.sort();
    doomed.dedup();
    for path in doomed {
        tracing::info!(path = %path.display(), "purging");
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        report.deleted.push(path);
    }
    Ok(report)
}
