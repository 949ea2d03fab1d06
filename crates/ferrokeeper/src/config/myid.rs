//! `dataDir/myid` handling and the standalone-vs-distributed decision.
//!
//! Java reads only the first line of `myid` with `BufferedReader.readLine` and parses it with
//! `Long.parseLong`, which does not trim: `"1 "` is rejected while `"1\n"` and `"1\r\n"` are
//! fine. A missing `myid` is only an error for a distributed ensemble. We mirror that so the
//! same data directories work for Java and ferrokeeper nodes.

use std::io;
use std::path::{Path, PathBuf};

/// Errors reading `myid`, worded like Java's `"serverid X is not a number"`.
#[derive(Debug, thiserror::Error)]
pub enum MyIdError {
    /// The first line is not a Java `long`.
    #[error("{path}: serverid {content} is not a number")]
    NotANumber {
        /// Path of the myid file.
        path: PathBuf,
        /// The offending first line (`null` when the file is empty, like Java prints it).
        content: String,
    },
    /// The file exists but could not be read.
    #[error("{path}: cannot read myid: {source}")]
    Io {
        /// Path of the myid file.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
}

/// Parses a Java `long` with `Long.parseLong` rules (optional sign, ASCII digits, no spaces).
///
/// Shared by myid, `server.N` ids and other Java `long` values so they all agree.
pub fn parse_java_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Parses a Java `int` with `Integer.parseInt` rules.
pub fn parse_java_int(s: &str) -> Option<i32> {
    parse_java_long(s).and_then(|v| i32::try_from(v).ok())
}

/// Extracts the first line like `BufferedReader.readLine` (terminators `\n`, `\r`, `\r\n`).
///
/// Returns `None` for empty content (Java's `readLine` returns null at EOF).
pub fn first_line(content: &str) -> Option<&str> {
    if content.is_empty() {
        return None;
    }
    Some(match content.find(['\n', '\r']) {
        Some(i) => &content[..i],
        None => content,
    })
}

/// Parses `myid` file content; `path` is only used for the error message.
pub fn parse_myid(path: &Path, content: &str) -> Result<i64, MyIdError> {
    let line = first_line(content);
    match line.and_then(parse_java_long) {
        Some(id) => Ok(id),
        None => Err(MyIdError::NotANumber {
            path: path.to_path_buf(),
            content: line.unwrap_or("null").to_string(),
        }),
    }
}

/// Reads `dataDir/myid`; `Ok(None)` when it is not a regular file (standalone needs none).
pub fn read_myid(data_dir: &Path) -> Result<Option<i64>, MyIdError> {
    let path = data_dir.join("myid");
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|source| MyIdError::Io {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_myid(&path, &text).map(Some)
}

/// How the process must run, decided exactly like `QuorumPeerConfig.isDistributed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    /// Single server (`ZooKeeperServerMain`): `Mode: standalone`, session ids use sid 1.
    Standalone,
    /// Quorum peer (`QuorumPeerMain` quorum path): leader election, ZAB.
    Distributed,
}

/// Distributed iff there are more than one voting members or `standaloneEnabled=false`.
pub fn decide_mode(voting_members: usize, standalone_enabled: bool) -> ServerMode {
    if !standalone_enabled || voting_members > 1 {
        ServerMode::Distributed
    } else {
        ServerMode::Standalone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_long_rules() {
        assert_eq!(parse_java_long("1"), Some(1));
        assert_eq!(parse_java_long("+7"), Some(7));
        assert_eq!(parse_java_long("-3"), Some(-3));
        assert_eq!(parse_java_long("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_java_long("9223372036854775808"), None);
        assert_eq!(parse_java_long(" 1"), None);
        assert_eq!(parse_java_long("1 "), None);
        assert_eq!(parse_java_long(""), None);
        assert_eq!(parse_java_long("+"), None);
        assert_eq!(parse_java_long("0x1"), None);
        assert_eq!(parse_java_int("2147483648"), None);
        assert_eq!(parse_java_int("-2147483648"), Some(i32::MIN));
    }

    #[test]
    fn myid_first_line_only_no_trim() {
        let p = Path::new("/d/myid");
        assert_eq!(parse_myid(p, "3").unwrap(), 3);
        assert_eq!(parse_myid(p, "3\n").unwrap(), 3);
        assert_eq!(parse_myid(p, "3\r\nignored\n").unwrap(), 3);
        assert_eq!(parse_myid(p, "12\nxyz").unwrap(), 12);
        let e = parse_myid(p, "3 \n").unwrap_err();
        assert_eq!(e.to_string(), "/d/myid: serverid 3  is not a number");
        let e = parse_myid(p, "").unwrap_err();
        assert!(e.to_string().contains("serverid null is not a number"));
        assert!(parse_myid(p, "\n1").is_err());
        assert!(parse_myid(p, " 1").is_err());
    }

    #[test]
    fn read_myid_from_dir() {
        let dir = crate::config::test_util::TempDir::new("myid");
        assert_eq!(read_myid(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join("myid"), "5\n").unwrap();
        assert_eq!(read_myid(dir.path()).unwrap(), Some(5));
        std::fs::write(dir.path().join("myid"), "five\n").unwrap();
        assert!(read_myid(dir.path()).is_err());
    }

    #[test]
    fn mode_decision() {
        assert_eq!(decide_mode(0, true), ServerMode::Standalone);
        assert_eq!(decide_mode(1, true), ServerMode::Standalone);
        assert_eq!(decide_mode(2, true), ServerMode::Distributed);
        assert_eq!(decide_mode(1, false), ServerMode::Distributed);
    }
}
