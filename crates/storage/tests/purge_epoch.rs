//! Autopurge retention and the epoch files.

mod common;

use std::fs;

use storage::epoch::{load_epochs, read_epoch, write_epoch, Epochs, ACCEPTED_EPOCH, CURRENT_EPOCH};
use storage::purge::purge;
use storage::snapshot::SnapshotFileWriter;
use storage::txn_log::{TxnLogOptions, TxnLogWriter};
use storage::{DataDirs, Error, SnapshotFileOptions};

#[test]
fn purge_keeps_newest_snapshots_and_covering_logs() {
    let t = tempfile::tempdir().unwrap();
    let d = DataDirs::open(t.path(), None, true).unwrap();
    let tree = common::fresh_tree();
    let mut w = TxnLogWriter::new(
        &d.log_dir,
        TxnLogOptions {
            prealloc_bytes: 0,
            size_limit_bytes: None,
        },
    );
    // logs start at 1, 11, 21, 31, 41; snapshots at 0, 10, 15, 25, 35, 45.
    for z in 1..=50 {
        if z > 1 && z % 10 == 1 {
            w.roll().unwrap();
        }
        w.append_entry(&common::create(z, "/a", b"")).unwrap();
        if [10, 15, 25, 35, 45].contains(&z) || z == 1 {
            let sz = if z == 1 { 0 } else { z };
            let mut s = SnapshotFileWriter::create(&d.snap_dir, sz, SnapshotFileOptions::default())
                .unwrap();
            common::write_tree(&mut s, &tree);
            s.finish(Some((sz, 0)), None).unwrap();
        }
    }
    w.close().unwrap();
    write_epoch(&d.snap_dir, ACCEPTED_EPOCH, 0).unwrap();
    write_epoch(&d.snap_dir, CURRENT_EPOCH, 0).unwrap();
    fs::write(t.path().join("myid"), b"1").unwrap();
    // An incomplete newest snapshot is not counted as one of the kept.
    fs::write(d.snap_dir.join("snapshot.32"), b"garbage").unwrap();

    let rep = purge(&d, 1).unwrap(); // raised to 3
    assert_eq!(rep.retain_from_zxid, Some(25));
    let mut names: Vec<String> = fs::read_dir(&d.snap_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Kept: 45, 35, 25 (names are hex).
    let expect_kept = ["snapshot.2d", "snapshot.23", "snapshot.19"];
    for k in expect_kept {
        assert!(names.contains(&k.to_string()), "{k} in {names:?}");
    }
    assert!(!names.contains(&"snapshot.f".to_string()));
    assert!(!names.contains(&"snapshot.a".to_string()));
    assert!(!names.contains(&"snapshot.0".to_string()));
    assert!(
        names.contains(&"snapshot.32".to_string()),
        "newer files are never purged"
    );
    assert!(
        names.contains(&"acceptedEpoch".to_string()) && names.contains(&"currentEpoch".to_string())
    );
    assert!(t.path().join("myid").exists());
    let logs: Vec<i64> = storage::layout::list_logs(&d.log_dir)
        .unwrap()
        .into_iter()
        .map(|l| l.zxid)
        .collect();
    // Oldest kept snapshot is 0x19 = 25, covered by log.15 (21); older logs go.
    assert_eq!(logs, vec![21, 31, 41]);
    assert_eq!(rep.deleted.len(), 3 + 2);
}

#[test]
fn epoch_files_are_plain_decimal() {
    let t = tempfile::tempdir().unwrap();
    write_epoch(t.path(), CURRENT_EPOCH, 12).unwrap();
    assert_eq!(fs::read(t.path().join(CURRENT_EPOCH)).unwrap(), b"12");
    assert!(!t.path().join("currentEpoch.tmp").exists());
    assert_eq!(read_epoch(t.path(), CURRENT_EPOCH).unwrap(), Some(12));
    assert_eq!(read_epoch(t.path(), ACCEPTED_EPOCH).unwrap(), None);
    fs::write(t.path().join(ACCEPTED_EPOCH), b"7\ntrailing").unwrap();
    assert_eq!(read_epoch(t.path(), ACCEPTED_EPOCH).unwrap(), Some(7));
    fs::write(t.path().join(ACCEPTED_EPOCH), b"").unwrap();
    assert!(matches!(
        read_epoch(t.path(), ACCEPTED_EPOCH),
        Err(Error::BadEpochFile { .. })
    ));
}

#[test]
fn epoch_startup_checks() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    // Missing files are created from the zxid's epoch.
    assert_eq!(
        load_epochs(dir, 0x3_0000_0005).unwrap(),
        Epochs {
            accepted: 3,
            current: 3
        }
    );
    assert_eq!(read_epoch(dir, ACCEPTED_EPOCH).unwrap(), Some(3));
    // Fresh node: zxid 0 (or -1 with no data).
    let t2 = tempfile::tempdir().unwrap();
    assert_eq!(
        load_epochs(t2.path(), -1).unwrap(),
        Epochs {
            accepted: -1,
            current: -1
        }
    );
    // currentEpoch behind the zxid: refused...
    write_epoch(dir, CURRENT_EPOCH, 2).unwrap();
    assert!(matches!(
        load_epochs(dir, 0x3_0000_0001),
        Err(Error::CurrentEpochBehindZxid {
            current_epoch: 2,
            zxid_epoch: 3,
            ..
        })
    ));
    // ...unless currentEpoch.tmp explains it.
    fs::write(dir.join("currentEpoch.tmp"), b"3").unwrap();
    assert_eq!(
        load_epochs(dir, 0x3_0000_0001).unwrap(),
        Epochs {
            accepted: 3,
            current: 3
        }
    );
    assert_eq!(read_epoch(dir, CURRENT_EPOCH).unwrap(), Some(3));
    // acceptedEpoch below currentEpoch: refused.
    write_epoch(dir, CURRENT_EPOCH, 4).unwrap();
    assert!(matches!(
        load_epochs(dir, 0x3_0000_0001),
        Err(Error::AcceptedEpochBehindCurrent {
            accepted_epoch: 3,
            current_epoch: 4
        })
    ));
}
