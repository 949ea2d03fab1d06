//! Recovery: snapshot choice and fallback, replay, torn tails, fresh dirs, no-snapshot refusal.

mod common;

use std::fs;

use storage::snapshot::SnapshotFileWriter;
use storage::txn_log::{TxnLogOptions, TxnLogWriter};
use storage::{recover, DataDirs, Error, Recovery, RecoveryOptions, SnapshotFileOptions};

fn dirs() -> (tempfile::TempDir, DataDirs) {
    let t = tempfile::tempdir().unwrap();
    let d = DataDirs::open(t.path(), None, true).unwrap();
    (t, d)
}

fn snap(d: &DataDirs, zxid: i64, tree: &common::MemTree) -> std::path::PathBuf {
    let mut w =
        SnapshotFileWriter::create(&d.snap_dir, zxid, SnapshotFileOptions::default()).unwrap();
    common::write_tree(&mut w, tree);
    w.finish(Some((zxid, 0)), None).unwrap()
}

fn log(d: &DataDirs, zxids: std::ops::RangeInclusive<i64>) -> std::path::PathBuf {
    let mut w = TxnLogWriter::new(
        &d.log_dir,
        TxnLogOptions {
            prealloc_bytes: 4096,
            size_limit_bytes: None,
        },
    );
    for z in zxids {
        w.append_entry(&common::create(z, &format!("/n{z}"), b"d"))
            .unwrap();
    }
    let p = w.current_path().unwrap().to_path_buf();
    w.close().unwrap();
    p
}

fn loaded(r: Recovery) -> storage::RecoveryInfo {
    match r {
        Recovery::Loaded(i) => *i,
        Recovery::Fresh => panic!("unexpected fresh"),
    }
}

#[test]
fn fresh_dir_is_fresh() {
    let (_t, d) = dirs();
    let mut sink = common::MemTree::default();
    assert_eq!(
        recover(&d, &mut sink, &RecoveryOptions::default()).unwrap(),
        Recovery::Fresh
    );
}

#[test]
fn snapshot_then_logs_are_replayed_from_snapshot_plus_one() {
    let (_t, d) = dirs();
    log(&d, 1..=5);
    let mut tree = common::fresh_tree();
    for z in 1..=3 {
        tree.nodes
            .insert(format!("/n{z}"), (Some("d".into()), -1, common::stat_at(z)));
    }
    snap(&d, 3, &tree);
    log(&d, 6..=8);
    let mut sink = common::MemTree::default();
    let info = loaded(recover(&d, &mut sink, &RecoveryOptions::default()).unwrap());
    assert_eq!(info.last_zxid, 8);
    assert_eq!(info.txns_replayed, 5);
    assert_eq!(sink.txns, vec![4, 5, 6, 7, 8]);
    assert_eq!(sink.nodes.len(), 4 + 8);
    assert_eq!(info.snapshot.unwrap().zxid, 3);
    assert!(info.torn_tails.is_empty());
}

#[test]
fn torn_tail_is_recovered_up_to_last_whole_entry_and_cut() {
    let (_t, d) = dirs();
    snap(&d, 0, &common::fresh_tree());
    let p = log(&d, 1..=4);
    // Tear the last entry: drop the file after the middle of entry 4, then re-extend with zeros.
    let mut r = storage::txn_log::LogFileReader::open(&p).unwrap();
    let mut offsets = vec![];
    while let Some(e) = r.next_entry().unwrap() {
        offsets.push(e.offset);
    }
    let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(offsets[3] + 20).unwrap();
    f.set_len(offsets[3] + 4096).unwrap();
    drop(f);
    let mut sink = common::MemTree::default();
    let info = loaded(recover(&d, &mut sink, &RecoveryOptions::default()).unwrap());
    assert_eq!(info.last_zxid, 3);
    assert_eq!(info.truncated.as_ref().unwrap().offset, offsets[3]);
    assert_eq!(fs::metadata(&p).unwrap().len(), offsets[3]);
    // New appends after recovery are clean and a second recovery sees everything.
    log(&d, 4..=5);
    let mut sink = common::MemTree::default();
    let info = loaded(recover(&d, &mut sink, &RecoveryOptions::default()).unwrap());
    assert_eq!(info.last_zxid, 5);
    assert!(info.truncated.is_none());
    assert_eq!(sink.txns, vec![1, 2, 3, 4, 5]);
}

#[test]
fn checksum_error_in_log_is_fatal_with_file_and_offset() {
    let (_t, d) = dirs();
    snap(&d, 0, &common::fresh_tree());
    let p = log(&d, 1..=4);
    let mut bytes = fs::read(&p).unwrap();
    bytes[16 + 30] ^= 0xff;
    fs::write(&p, bytes).unwrap();
    let err = recover(
        &d,
        &mut common::MemTree::default(),
        &RecoveryOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Checksum { offset: 16, .. }), "{err}");
    assert_eq!(err.path(), Some(p.as_path()));
}

#[test]
fn corrupt_or_missing_newest_snapshot_falls_back() {
    let (_t, d) = dirs();
    snap(&d, 0, &common::fresh_tree());
    log(&d, 1..=6);
    let mut tree = common::fresh_tree();
    tree.nodes
        .insert("/n1".into(), (Some("d".into()), -1, common::stat_at(1)));
    let newest = snap(&d, 1, &tree);
    // Incomplete newest snapshot (cut short): skipped by the validity test.
    let incomplete = d.snap_dir.join("snapshot.5");
    fs::write(&incomplete, &fs::read(&newest).unwrap()[..40]).unwrap();
    // A complete-looking but corrupt one: parsed, fails its seal, skipped with a warning.
    let mut bad = fs::read(&newest).unwrap();
    bad[30] ^= 1;
    fs::write(d.snap_dir.join("snapshot.4"), &bad).unwrap();
    let mut sink = common::MemTree::default();
    let info = loaded(recover(&d, &mut sink, &RecoveryOptions::default()).unwrap());
    assert_eq!(info.snapshot.as_ref().unwrap().zxid, 1);
    assert_eq!(info.skipped_snapshots.len(), 2);
    assert_eq!(sink.snapshots_begun, vec![4, 1]);
    assert_eq!(sink.txns, vec![2, 3, 4, 5, 6]);
    assert_eq!(info.last_zxid, 6);
    // Nothing was deleted.
    assert!(incomplete.exists() && d.snap_dir.join("snapshot.4").exists());
    // Delete the good ones: only corrupt candidates remain ⇒ hard error, like Java.
    fs::remove_file(&newest).unwrap();
    fs::remove_file(d.snap_dir.join("snapshot.0")).unwrap();
    let err = recover(
        &d,
        &mut common::MemTree::default(),
        &RecoveryOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoValidSnapshot { .. }), "{err}");
}

#[test]
fn logs_without_snapshot_are_refused_unless_trusted() {
    let (_t, d) = dirs();
    log(&d, 1..=3);
    let err = recover(
        &d,
        &mut common::MemTree::default(),
        &RecoveryOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::NoSnapshotButLogs { last_zxid: 3, .. }),
        "{err}"
    );
    let mut sink = common::MemTree::default();
    let opts = RecoveryOptions {
        trust_empty: true,
        ..Default::default()
    };
    let info = loaded(recover(&d, &mut sink, &opts).unwrap());
    assert_eq!(info.last_zxid, 3);
    assert!(info.snapshot.is_none());
    assert_eq!(sink.txns, vec![1, 2, 3]);
}

#[test]
fn separate_log_dir_checks() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let logs = t.path().join("logs");
    let d = DataDirs::open(&data, Some(&logs), true).unwrap();
    assert!(!d.same_dir());
    fs::write(d.log_dir.join("snapshot.0"), b"x").unwrap();
    assert!(matches!(
        DataDirs::open(&data, Some(&logs), true),
        Err(Error::MisplacedFile { .. })
    ));
    fs::remove_file(d.log_dir.join("snapshot.0")).unwrap();
    fs::write(d.snap_dir.join("log.1"), b"x").unwrap();
    assert!(matches!(
        DataDirs::open(&data, Some(&logs), true),
        Err(Error::MisplacedFile { .. })
    ));
    assert!(matches!(
        DataDirs::open(&t.path().join("nope"), None, false),
        Err(Error::MissingDir(_))
    ));
}
