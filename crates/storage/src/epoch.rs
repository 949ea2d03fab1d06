//! `acceptedEpoch` / `currentEpoch` in `dataDir/version-2/` (Java's `QuorumPeer`): the epoch as ASCII
//! decimal without newline, written atomically, and the startup consistency checks of
//! `QuorumPeer.loadDataBase`, so that ferrokeeper refuses exactly the data dirs Java refuses.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::txn_log::sync_dir;

/// Name of the file holding the last epoch this peer promised to follow.
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
/// Name of the file holding the epoch of the last leader this peer synced with.
pub const CURRENT_EPOCH: &str = "currentEpoch";

/// The epoch part of a zxid (high 32 bits, arithmetic shift like Java's `zxid >> 32`).
pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Parses an epoch file's content like Java: the first line as a long.
pub fn parse_epoch(path: &Path, content: &[u8]) -> Result<i64> {
    let text = String::from_utf8_lossy(content);
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    line.parse::<i64>().map_err(|_| Error::BadEpochFile {
        path: path.to_path_buf(),
        content: line.to_string(),
    })
}

/// Reads the epoch file `name` in `snap_dir`; `None` when it does not exist.
pub fn read_epoch(snap_dir: &Path, name: &str) -> Result<Option<i64>> {
    let path = snap_dir.join(name);
    match fs::read(&path) {
        Ok(bytes) => parse_epoch(&path, &bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Writes `epoch` to `snap_dir/name` atomically: `name.tmp`, fsync, rename, fsync the directory.
pub fn write_epoch(snap_dir: &Path, name: &str, epoch: i64) -> Result<()> {
    let path = snap_dir.join(name);
    let tmp = tmp_path(&path);
    let result = (|| -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(epoch.to_string().as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    sync_dir(snap_dir)
}

/// The two epochs after the startup checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    /// `acceptedEpoch`.
    pub accepted: i64,
    /// `currentEpoch`.
    pub current: i64,
}

/// Java's `QuorumPeer.loadDataBase` epoch logic, run after recovery with the recovered
/// `last_processed_zxid`: a missing file is created with the zxid's epoch; a `currentEpoch` older
/// than the zxid's epoch is replaced by `currentEpoch.tmp` if present (a crash between writing and
/// renaming it) or refused; an `acceptedEpoch` below `currentEpoch` is refused.
pub fn load_epochs(snap_dir: &Path, last_processed_zxid: i64) -> Result<Epochs> {
    let zxid_epoch = epoch_of(last_processed_zxid);
    let mut current = match read_epoch(snap_dir, CURRENT_EPOCH)? {
        Some(e) => e,
        None => {
            tracing::info!(
                epoch = zxid_epoch,
                "{CURRENT_EPOCH} not found, creating it from the last zxid"
            );
            write_epoch(snap_dir, CURRENT_EPOCH, zxid_epoch)?;
            zxid_epoch
        }
    };
    if zxid_epoch > current {
        let tmp_name = format!("{CURRENT_EPOCH}.tmp");
        match read_epoch(snap_dir, &tmp_name)? {
            Some(tmp_epoch) => {
                tracing::info!(
                    epoch = tmp_epoch,
                    "{tmp_name} found, setting the current epoch from it"
                );
                write_epoch(snap_dir, CURRENT_EPOCH, tmp_epoch)?;
                current = tmp_epoch;
            }
            None => {
                return Err(Error::CurrentEpochBehindZxid {
                    current_epoch: current,
                    zxid_epoch,
                    last_zxid: last_processed_zxid,
                })
            }
        }
    }
    let accepted = match read_epoch(snap_dir, ACCEPTED_EPOCH)? {
        Some(e) => e,
        None => {
            tracing::info!(
                epoch = zxid_epoch,
                "{ACCEPTED_EPOCH} not found, creating it from the last zxid"
            );
            write_epoch(snap_dir, ACCEPTED_EPOCH, zxid_epoch)?;
            zxid_epoch
        }
    };
    if accepted < current {
        return Err(Error::AcceptedEpochBehindCurrent {
            accepted_epoch: accepted,
            current_epoch: current,
        });
    }
    Ok(Epochs { accepted, current })
}
