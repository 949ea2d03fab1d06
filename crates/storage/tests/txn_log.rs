//! Txn log writer/reader: round trips, rolling, preallocation, torn tails, corruption, TRUNC.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;

use storage::txn_log::{
    last_logged_zxid, padded_size, truncate, FileEnd, LogFileReader, TornReason, TxnLogOptions,
    TxnLogWriter,
};
use storage::{read_logs, Error};

fn small() -> TxnLogOptions {
    TxnLogOptions {
        prealloc_bytes: 4096,
        size_limit_bytes: None,
    }
}

fn zxids(dir: &std::path::Path, from: i64) -> Vec<i64> {
    read_logs(dir, from)
        .unwrap()
        .map(|r| r.unwrap().zxid())
        .collect()
}

#[test]
fn padding_rule_matches_java() {
    let mb64 = 64 * 1024 * 1024;
    assert_eq!(padded_size(16, 16, mb64), 16 + mb64);
    assert_eq!(padded_size(1000, 16 + mb64, mb64), 16 + mb64);
    assert_eq!(
        padded_size(16 + mb64 - 4096, 16 + mb64, mb64),
        16 + 2 * mb64
    );
    assert_eq!(padded_size(3 * mb64 + 5, 16 + mb64, mb64), 4 * mb64);
    assert_eq!(padded_size(100, 16, 0), 16);
}

#[test]
fn round_trip_roll_and_start_zxid() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::new(dir.path(), small());
    for z in 1..=10 {
        w.append_entry(&common::create(z, &format!("/n{z}"), b"x"))
            .unwrap();
        if z == 4 || z == 7 {
            w.flush_and_sync(true).unwrap();
            w.roll().unwrap();
        }
    }
    assert_eq!(w.last_synced_zxid(), Some(7));
    w.flush_and_sync(true).unwrap();
    assert_eq!(w.last_synced_zxid(), Some(10));
    let names: Vec<_> = storage::layout::list_logs(dir.path())
        .unwrap()
        .into_iter()
        .map(|l| l.zxid)
        .collect();
    assert_eq!(names, vec![1, 5, 8]);
    assert_eq!(zxids(dir.path(), 0), (1..=10).collect::<Vec<_>>());
    assert_eq!(zxids(dir.path(), 6), (6..=10).collect::<Vec<_>>());
    assert_eq!(zxids(dir.path(), 8), (8..=10).collect::<Vec<_>>());
    assert_eq!(zxids(dir.path(), 11), Vec::<i64>::new());
    assert_eq!(storage::txn_log::logs_from(dir.path(), 6).unwrap().len(), 2);
    assert_eq!(last_logged_zxid(dir.path()).unwrap(), Some(10));
    // Entries decode to what was written.
    let first = read_logs(dir.path(), 3).unwrap().next().unwrap().unwrap();
    assert_eq!(first.entry, common::create(3, "/n3", b"x"));
}

#[test]
fn a_new_writer_starts_a_new_file_and_size_limit_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::new(dir.path(), small());
    w.append_entry(&common::create(1, "/a", b"")).unwrap();
    w.close().unwrap();
    let mut w = TxnLogWriter::new(
        dir.path(),
        TxnLogOptions {
            prealloc_bytes: 0,
            size_limit_bytes: Some(300),
        },
    );
    for z in 2..=6 {
        w.append_entry(&common::create(z, "/b", &[7u8; 100]))
            .unwrap();
    }
    w.flush_and_sync(false).unwrap();
    let names: Vec<_> = storage::layout::list_logs(dir.path())
        .unwrap()
        .into_iter()
        .map(|l| l.zxid)
        .collect();
    assert_eq!(names, vec![1, 2, 4, 6]);
    assert_eq!(zxids(dir.path(), 1), vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn preallocation_grows_in_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::new(dir.path(), small());
    w.append_entry(&common::create(1, "/a", b"")).unwrap();
    w.flush_and_sync(true).unwrap();
    let path = dir.path().join("log.1");
    assert_eq!(fs::metadata(&path).unwrap().len(), 16 + 4096);
    for z in 2..=60 {
        w.append_entry(&common::create(z, "/a", &[1u8; 200]))
            .unwrap();
    }
    w.flush_and_sync(true).unwrap();
    let len = fs::metadata(&path).unwrap().len();
    assert_eq!(len % 4096, 16, "grown by whole blocks");
    assert!(len > 16 + 4096);
    let mut r = LogFileReader::open(&path).unwrap();
    let (end, n) = r.scan_to_end().unwrap();
    assert_eq!(n, 60);
    assert!(matches!(end, FileEnd::Padding { .. }));
}

fn two_entry_log(dir: &std::path::Path, prealloc: u64) -> (std::path::PathBuf, u64, u64) {
    let mut w = TxnLogWriter::new(
        dir,
        TxnLogOptions {
            prealloc_bytes: prealloc,
            size_limit_bytes: None,
        },
    );
    w.append_entry(&common::create(1, "/a", b"one")).unwrap();
    w.append_entry(&common::create(2, "/b", b"two")).unwrap();
    w.append_entry(&common::create(3, "/c", b"three")).unwrap();
    w.flush_and_sync(true).unwrap();
    let path = dir.join("log.1");
    let mut r = LogFileReader::open(&path).unwrap();
    let _ = r.next_entry().unwrap().unwrap();
    let second = r.next_entry().unwrap().unwrap();
    let third = r.next_entry().unwrap().unwrap();
    (path, second.offset, third.offset)
}

#[test]
fn torn_tail_short_file_stops_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, third) = two_entry_log(dir.path(), 0);
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let mut it = read_logs(dir.path(), 0).unwrap();
    let got: Vec<i64> = it.by_ref().map(|r| r.unwrap().zxid()).collect();
    assert_eq!(got, vec![1, 2]);
    assert_eq!(it.torn_tails().len(), 1);
    assert_eq!(it.torn_tails()[0].offset, third);
    assert_eq!(it.torn_tails()[0].reason, TornReason::ShortRead);
}

#[test]
fn torn_tail_zero_filled_missing_eor() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, third) = two_entry_log(dir.path(), 4096);
    // The third entry's last bytes (and its 'B') never reached the disk: zeros instead.
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.write_at(&[0u8; 300], third + 12 + 3).unwrap();
    let mut it = read_logs(dir.path(), 0).unwrap();
    let got: Vec<i64> = it.by_ref().map(|r| r.unwrap().zxid()).collect();
    assert_eq!(got, vec![1, 2]);
    assert_eq!(it.torn_tails()[0].reason, TornReason::MissingEor);
    assert_eq!(it.torn_tails()[0].offset, third);
}

#[test]
fn zero_length_after_checksum_is_torn() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, third) = two_entry_log(dir.path(), 4096);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.write_at(&[0u8; 200], third + 8).unwrap();
    let mut it = read_logs(dir.path(), 0).unwrap();
    assert_eq!(it.by_ref().count(), 2);
    assert_eq!(it.torn_tails()[0].reason, TornReason::ZeroLength);
}

#[test]
fn flipped_byte_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (path, second, _) = two_entry_log(dir.path(), 4096);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_at(&mut b, second + 20).unwrap();
    f.write_at(&[b[0] ^ 0x10], second + 20).unwrap();
    let results: Vec<_> = read_logs(dir.path(), 0).unwrap().collect();
    assert_eq!(
        results.len(),
        2,
        "one good entry, then the error, then nothing"
    );
    let err = results[1].as_ref().unwrap_err();
    match err {
        Error::Checksum {
            path: p, offset, ..
        } => {
            assert_eq!(p, &path);
            assert_eq!(*offset, second);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("log.1") && msg.contains(&format!("offset {second}")),
        "{msg}"
    );
}

#[test]
fn bad_magic_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = fs::File::create(dir.path().join("log.1")).unwrap();
    f.write_all(b"XXXXXXXXXXXXXXXXXXXX").unwrap();
    let r: Vec<_> = read_logs(dir.path(), 0).unwrap().collect();
    assert!(matches!(r[0], Err(Error::Corrupt { offset: 0, .. })));
}

#[test]
fn empty_and_header_only_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::File::create(dir.path().join("log.1")).unwrap();
    let mut it = read_logs(dir.path(), 0).unwrap();
    assert_eq!(it.by_ref().count(), 0);
    assert_eq!(it.torn_tails().len(), 1);
    assert_eq!(last_logged_zxid(dir.path()).unwrap(), None);
    let mut w = TxnLogWriter::new(dir.path(), small());
    w.append_entry(&common::create(5, "/a", b"")).unwrap();
    w.close().unwrap();
    // A newer header-only file: the last logged zxid comes from the older one.
    let mut f = fs::File::create(dir.path().join("log.9")).unwrap();
    f.write_all(&[0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(last_logged_zxid(dir.path()).unwrap(), Some(5));
}

#[test]
fn truncate_cuts_after_zxid_and_deletes_later_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::new(dir.path(), small());
    for z in 1..=9 {
        w.append_entry(&common::create(z, "/a", b"")).unwrap();
        if z % 3 == 0 {
            w.roll().unwrap();
        }
    }
    w.close().unwrap();
    truncate(dir.path(), 5).unwrap();
    assert_eq!(zxids(dir.path(), 0), vec![1, 2, 3, 4, 5]);
    assert!(!dir.path().join("log.7").exists());
    // Appending after a TRUNC continues cleanly in a new file.
    let mut w = TxnLogWriter::new(dir.path(), small());
    w.append_entry(&common::create(6, "/b", b"")).unwrap();
    w.close().unwrap();
    assert_eq!(zxids(dir.path(), 0), vec![1, 2, 3, 4, 5, 6]);
    // Truncating to a zxid before every log is impossible.
    let e = truncate(dir.path(), 0).unwrap_err();
    assert!(matches!(e, Error::CannotTruncate { .. }));
    // Truncating to exactly a file's start keeps that one entry.
    truncate(dir.path(), 4).unwrap();
    assert_eq!(zxids(dir.path(), 0), vec![1, 2, 3, 4]);
}

#[test]
fn preallocated_space_ahead_of_the_appends_is_written_zeros() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::new(
        dir.path(),
        TxnLogOptions {
            prealloc_bytes: 64 * 1024 * 1024,
            size_limit_bytes: None,
        },
    );
    w.append_entry(&common::create(1, "/a", b"")).unwrap();
    w.flush_and_sync(true).unwrap();
    let meta = fs::metadata(dir.path().join("log.1")).unwrap();
    // The file is 64 MiB long (Java's padding) but only its head is backed by blocks: at
    // least the zero fill ahead of the appends, far less than the whole preallocation.
    assert_eq!(meta.len(), 16 + 64 * 1024 * 1024);
    let backed = meta.blocks() * 512;
    assert!(backed >= 1024 * 1024, "only {backed} bytes backed");
    assert!(backed < 16 * 1024 * 1024, "{backed} bytes backed");
    let mut r = LogFileReader::open(&dir.path().join("log.1")).unwrap();
    let (end, n) = r.scan_to_end().unwrap();
    assert_eq!(n, 1);
    assert!(matches!(end, FileEnd::Padding { .. }));
}
