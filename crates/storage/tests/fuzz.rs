//! Fuzz-style properties: the readers return errors, never panic, on arbitrary or mutated bytes.

mod common;

use std::io::Read;

use proptest::prelude::*;
use storage::compression::SnappyJavaReader;
use storage::snapshot::{NullVisitor, SnapshotWriter};
use storage::txn_log::{LogFileReader, TxnLogOptions, TxnLogWriter};
use storage::{decode_sync_stream, read_snapshot, Compression};

fn valid_snapshot() -> Vec<u8> {
    let mut w = SnapshotWriter::new(Vec::new(), Compression::None).unwrap();
    common::write_fresh(&mut w);
    w.finish(Some((0, 0))).unwrap()
}

fn valid_log() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::new(
        dir.path(),
        TxnLogOptions {
            prealloc_bytes: 0,
            size_limit_bytes: None,
        },
    );
    for z in 1..=4 {
        w.append_entry(&common::create(z, "/p", b"data")).unwrap();
    }
    w.close().unwrap();
    std::fs::read(dir.path().join("log.1")).unwrap()
}

fn read_log_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log.1");
    std::fs::write(&p, bytes).unwrap();
    if let Ok(mut r) = LogFileReader::open(&p) {
        let _ = r.scan_to_end();
    }
    for r in storage::read_logs(dir.path(), 0).unwrap() {
        if r.is_err() {
            break;
        }
    }
    let _ = storage::dump::txnlog_dump(&p);
}

fn read_snapshot_bytes(bytes: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let _ = storage::is_valid_snapshot(&p);
    let _ = read_snapshot(&p, &mut NullVisitor);
    let _ = storage::dump::snapshot_dump(&p, true);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn log_reader_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        read_log_bytes(&bytes);
    }

    #[test]
    fn log_reader_never_panics_on_mutated_logs(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut b = valid_log();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] = v;
        }
        let n = b.len();
        b.truncate(cut % (n + 1));
        read_log_bytes(&b);
    }

    #[test]
    fn snapshot_reader_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut b = valid_snapshot();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] = v;
        }
        let n = b.len();
        b.truncate(cut % (n + 1));
        read_snapshot_bytes(&b, "snapshot.1");
        read_snapshot_bytes(&b, "snapshot.1.gz");
        read_snapshot_bytes(&b, "snapshot.1.snappy");
        let _ = decode_sync_stream(&b, &mut NullVisitor);
    }

    #[test]
    fn snapshot_and_sync_readers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        read_snapshot_bytes(&bytes, "snapshot.2");
        let _ = decode_sync_stream(&bytes, &mut NullVisitor);
        let mut with_magic = storage::compression::SNAPPY_MAGIC.to_vec();
        with_magic.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        with_magic.extend_from_slice(&bytes);
        let mut out = Vec::new();
        let _ = SnappyJavaReader::new(&with_magic[..]).read_to_end(&mut out);
    }
}
