//! The CLI renderings and the directory verifier.

mod common;

use std::fs;

use storage::dump::{format_time_ms, snapshot_dump, txnlog_dump, verify};
use storage::snapshot::SnapshotFileWriter;
use storage::txn_log::{TxnLogOptions, TxnLogWriter};
use storage::{DataDirs, SnapshotFileOptions};

fn populated() -> (
    tempfile::TempDir,
    DataDirs,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let t = tempfile::tempdir().unwrap();
    let d = DataDirs::open(t.path(), None, true).unwrap();
    let mut tree = common::fresh_tree();
    tree.sessions.insert(common::SESSION, 30000);
    let mut w = SnapshotFileWriter::create(&d.snap_dir, 0, SnapshotFileOptions::default()).unwrap();
    common::write_tree(&mut w, &tree);
    let snap = w.finish(Some((0, 0x51c6d660)), None).unwrap();
    let mut l = TxnLogWriter::new(
        &d.log_dir,
        TxnLogOptions {
            prealloc_bytes: 4096,
            size_limit_bytes: None,
        },
    );
    l.append_entry(&common::create_session(1)).unwrap();
    l.append_entry(&common::create(2, "/a", b"hello")).unwrap();
    l.append_entry(&common::set_data(3, "/a", b"world", 1))
        .unwrap();
    l.append_entry(&common::delete(4, "/a")).unwrap();
    let log = l.current_path().unwrap().to_path_buf();
    l.close().unwrap();
    (t, d, snap, log)
}

#[test]
fn time_formatting() {
    assert_eq!(format_time_ms(0), "1970-01-01 00:00:00.000 UTC");
    assert_eq!(
        format_time_ms(1_700_000_000_123),
        "2023-11-14 22:13:20.123 UTC"
    );
    assert_eq!(format_time_ms(-1), "1969-12-31 23:59:59.999 UTC");
    let _ = format_time_ms(i64::MIN);
    let _ = format_time_ms(i64::MAX);
}

#[test]
fn dumps_render_every_record() {
    let (_t, _d, snap, log) = populated();
    let text = snapshot_dump(&snap, false);
    assert!(text.contains("/zookeeper/config"), "{text}");
    assert!(text.contains("aclVersion = -1"));
    assert!(text.contains("0x100000908200000, 30000"));
    assert!(text.contains("digest 0x51c6d660"));
    let json = snapshot_dump(&snap, true);
    assert!(
        json.starts_with('{') && json.contains("\"path\":\"/zookeeper/quota\""),
        "{json}"
    );
    let t = txnlog_dump(&log);
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[1]
            .contains("session 0x100000908200000 cxid 0x1 zxid 0x1 createSession timeout=30000"),
        "{t}"
    );
    assert!(lines[2].contains("zxid 0x2 create /a data=5B"), "{t}");
    assert!(lines[3].contains("setData /a data=5B version=1"), "{t}");
    assert!(lines[4].contains("delete /a"), "{t}");
    assert!(t.contains("4 txns"));
}

#[test]
fn verify_reports_clean_then_problems_with_offsets() {
    let (t, d, snap, log) = populated();
    let rep = verify(t.path(), None);
    assert!(rep.is_clean(), "{}", rep.render());
    assert_eq!(rep.zxid_range, Some((1, 4)));
    assert_eq!(rep.snapshots.len(), 1);
    let mut b = fs::read(&log).unwrap();
    b[16 + 40] ^= 4;
    fs::write(&log, b).unwrap();
    let mut s = fs::read(&snap).unwrap();
    s[100] ^= 4;
    fs::write(&snap, s).unwrap();
    let rep = verify(t.path(), None);
    assert!(!rep.is_clean());
    let text = rep.render();
    assert!(text.contains("log.1 at offset 16"), "{text}");
    assert!(text.contains("snapshot.0"), "{text}");
    assert!(text.ends_with("CORRUPT\n"));
    drop(d);
}
