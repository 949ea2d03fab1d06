//! Where the files live: `dataDir/version-2` (snapshots, epoch files) and `dataLogDir/version-2` (txn
//! logs), and how their names encode zxids (`log.<hex>`, `snapshot.<hex>[.gz|.snappy]`, lowercase
//! hex without padding, as Java's `Util.makeLogName`/`makeSnapshotName`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The subdirectory Java's `FileTxnSnapLog` puts under both dataDir and dataLogDir.
pub const VERSION_DIR: &str = "version-2";
/// File name prefix of txn logs.
pub const LOG_PREFIX: &str = "log";
/// File name prefix of snapshots.
pub const SNAPSHOT_PREFIX: &str = "snapshot";

/// The stream format of a snapshot, chosen by its file name extension (Java's `SnapStream.StreamMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Plain (`snapshot.<hex>`), Java's default "CHECKED" mode.
    #[default]
    None,
    /// `snapshot.<hex>.gz`, a gzip stream.
    Gzip,
    /// `snapshot.<hex>.snappy`, snappy-java's `SnappyOutputStream` framing.
    Snappy,
}

impl Compression {
    /// The value of `zookeeper.snapshot.compression.method` (`gz`, `snappy`, anything else = none).
    pub fn from_config(name: &str) -> Compression {
        match name.to_ascii_lowercase().as_str() {
            "gz" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            _ => Compression::None,
        }
    }

    /// The file name extension including the dot ("" for none).
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }
}

/// `log.<hex zxid>`.
pub fn log_file_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{zxid:x}")
}

/// `snapshot.<hex zxid>` plus the compression extension.
pub fn snapshot_file_name(zxid: i64, compression: Compression) -> String {
    format!("{SNAPSHOT_PREFIX}.{zxid:x}{}", compression.extension())
}

fn parse_hex(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
}

/// The zxid of a `log.<hex>` name, `None` for anything else.
pub fn parse_log_name(name: &str) -> Option<i64> {
    let mut parts = name.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(LOG_PREFIX), Some(hex), None) => parse_hex(hex),
        _ => None,
    }
}

/// The zxid and compression of a `snapshot.<hex>[.gz|.snappy]` name, `None` for anything else
/// (in particular `snapshot.<hex>.tmp`, a sync snapshot that was never renamed into place).
pub fn parse_snapshot_name(name: &str) -> Option<(i64, Compression)> {
    let mut parts = name.split('.');
    let (prefix, hex, ext, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
    if prefix != Some(SNAPSHOT_PREFIX) || rest.is_some() {
        return None;
    }
    let compression = match ext {
        None => Compression::None,
        Some("gz") => Compression::Gzip,
        Some("snappy") => Compression::Snappy,
        Some(_) => return None,
    };
    parse_hex(hex?).map(|z| (z, compression))
}

/// A txn log file and the zxid of its first txn (from its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The zxid in the name: the first txn of the file.
    pub zxid: i64,
    /// The full path.
    pub path: PathBuf,
}

/// A snapshot file, its name zxid and stream format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// The zxid in the name: lastProcessedZxid when the (fuzzy) snapshot started.
    pub zxid: i64,
    /// The stream format, from the extension.
    pub compression: Compression,
    /// The full path.
    pub path: PathBuf,
}

fn read_names(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), entry.path()));
        }
    }
    Ok(out)
}

/// Every `log.*` in `dir`, ascending by zxid.
pub fn list_logs(dir: &Path) -> Result<Vec<LogFile>> {
    let mut v: Vec<LogFile> = read_names(dir)?
        .into_iter()
        .filter_map(|(name, path)| parse_log_name(&name).map(|zxid| LogFile { zxid, path }))
        .collect();
    v.sort_by(|a, b| a.zxid.cmp(&b.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(v)
}

/// Every `snapshot.*` in `dir`, newest (largest zxid) first.
pub fn list_snapshots(dir: &Path) -> Result<Vec<SnapshotFile>> {
    let mut v: Vec<SnapshotFile> = read_names(dir)?
        .into_iter()
        .filter_map(|(name, path)| {
            parse_snapshot_name(&name).map(|(zxid, compression)| SnapshotFile {
                zxid,
                compression,
                path,
            })
        })
        .collect();
    v.sort_by(|a, b| b.zxid.cmp(&a.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(v)
}

/// The two `version-2` directories of a server. They may be the same directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs {
    /// `dataDir/version-2`: snapshots and epoch files.
    pub snap_dir: PathBuf,
    /// `dataLogDir/version-2`: txn logs.
    pub log_dir: PathBuf,
}

impl DataDirs {
    /// Resolves (and, with `autocreate`, creates) the `version-2` dirs under `data_dir` and
    /// `data_log_dir` (defaults to `data_dir`), then applies Java's startup check that, when they
    /// differ, the log dir holds no snapshot and the snapshot dir no log.
    pub fn open(
        data_dir: &Path,
        data_log_dir: Option<&Path>,
        autocreate: bool,
    ) -> Result<DataDirs> {
        let snap_dir = data_dir.join(VERSION_DIR);
        let log_dir = data_log_dir.unwrap_or(data_dir).join(VERSION_DIR);
        for dir in [&snap_dir, &log_dir] {
            if !dir.is_dir() {
                if !autocreate {
                    return Err(Error::MissingDir(dir.clone()));
                }
                fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        let dirs = DataDirs { snap_dir, log_dir };
        dirs.check_separation()?;
        Ok(dirs)
    }

    /// Dirs used as given (already the `version-2` directories), without creating or checking.
    pub fn from_version_dirs(snap_dir: PathBuf, log_dir: PathBuf) -> DataDirs {
        DataDirs { snap_dir, log_dir }
    }

    /// True when snapshots and logs share one directory.
    pub fn same_dir(&self) -> bool {
        self.snap_dir == self.log_dir
    }

    /// Java's `checkLogDir`/`checkSnapDir`: misplaced files mean a misconfigured dataDir/dataLogDir.
    pub fn check_separation(&self) -> Result<()> {
        if self.same_dir() {
            return Ok(());
        }
        for (name, _) in read_names(&self.log_dir)? {
            if name.starts_with("snapshot.") {
                return Err(Error::MisplacedFile {
                    dir: self.log_dir.clone(),
                    file: name,
                    expected: "snapshot (dataDir)",
                });
            }
        }
        for (name, _) in read_names(&self.snap_dir)? {
            if name.starts_with("log.") {
                return Err(Error::MisplacedFile {
                    dir: self.snap_dir.clone(),
                    file: name,
                    expected: "txn log (dataLogDir)",
                });
            }
        }
        Ok(())
    }

    /// Txn logs, ascending by start zxid.
    pub fn logs(&self) -> Result<Vec<LogFile>> {
        list_logs(&self.log_dir)
    }

    /// Snapshots, newest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotFile>> {
        list_snapshots(&self.snap_dir)
    }

    /// Where the snapshot named for `zxid` goes.
    pub fn snapshot_path(&self, zxid: i64, compression: Compression) -> PathBuf {
        self.snap_dir.join(snapshot_file_name(zxid, compression))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(log_file_name(0x200000001), "log.200000001");
        assert_eq!(parse_log_name("log.200000001"), Some(0x200000001));
        assert_eq!(parse_log_name("log.1.tmp"), None);
        assert_eq!(parse_log_name("log.xyz"), None);
        assert_eq!(parse_log_name("logx.1"), None);
        assert_eq!(snapshot_file_name(0, Compression::None), "snapshot.0");
        assert_eq!(
            snapshot_file_name(0x100000000, Compression::Gzip),
            "snapshot.100000000.gz"
        );
        assert_eq!(
            parse_snapshot_name("snapshot.1a.snappy"),
            Some((0x1a, Compression::Snappy))
        );
        assert_eq!(parse_snapshot_name("snapshot.1a.tmp"), None);
        assert_eq!(parse_snapshot_name("snapshot.ffffffffffffffff"), None);
    }
}
