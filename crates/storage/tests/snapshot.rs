//! Snapshot writer/reader: compression round trips, seals, 3.9 section, sync stream, corruption.

mod common;

use std::fs;

use bytes::Bytes;
use jute::data::Acl;
use storage::compression::{SnappyJavaReader, SnappyJavaWriter, SNAPPY_MAGIC};
use storage::snapshot::{NullVisitor, SnapshotWriter};
use storage::{
    decode_sync_stream, is_valid_snapshot, read_snapshot, read_sync_stream, Compression, Error,
    SnapshotFileOptions, SnapshotFileWriter,
};

fn big_tree() -> common::MemTree {
    let mut t = common::fresh_tree();
    t.sessions.insert(common::SESSION, 30000);
    t.sessions.insert(common::SESSION + 1, 4000);
    t.acls.insert(
        2,
        vec![
            Acl::new(31, "digest", "u:h"),
            Acl::new(1, "world", "anyone"),
        ],
    );
    for i in 0..2000 {
        let data = if i % 7 == 0 {
            None
        } else {
            Some(Bytes::from(format!("value-{i}-{}", "x".repeat(i % 50))))
        };
        t.nodes.insert(
            format!("/n{i:05}"),
            (
                data,
                if i % 2 == 0 { -1 } else { 2 },
                common::stat_at(i as i64 + 10),
            ),
        );
    }
    t
}

fn write_file(
    dir: &std::path::Path,
    zxid: i64,
    c: Compression,
    tree: &common::MemTree,
    atomic: bool,
) -> std::path::PathBuf {
    let mut w = SnapshotFileWriter::create(
        dir,
        zxid,
        SnapshotFileOptions {
            compression: c,
            atomic,
            fsync: true,
        },
    )
    .unwrap();
    common::write_tree(&mut w, tree);
    w.finish(Some((zxid, 0x1234)), None).unwrap()
}

#[test]
fn round_trip_every_compression() {
    let dir = tempfile::tempdir().unwrap();
    let tree = big_tree();
    for (i, c) in [Compression::None, Compression::Gzip, Compression::Snappy]
        .into_iter()
        .enumerate()
    {
        let path = write_file(dir.path(), 0x100 + i as i64, c, &tree, i == 1);
        assert!(path.to_str().unwrap().ends_with(c.extension()));
        assert!(is_valid_snapshot(&path), "{path:?}");
        let mut got = common::MemTree::default();
        let info = read_snapshot(&path, &mut got).unwrap();
        assert_eq!(info.seals, 2);
        assert_eq!(info.nodes as usize, tree.nodes.len());
        assert_eq!(info.digest.unwrap().digest, 0x1234);
        assert_eq!(got.nodes, tree.nodes);
        assert_eq!(got.sessions, tree.sessions);
        assert_eq!(got.acls, tree.acls);
    }
    assert!(fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_str()
        .unwrap()
        .ends_with(".tmp")));
    // Compressed files really are compressed with the expected framing.
    let snappy = fs::read(dir.path().join("snapshot.102.snappy")).unwrap();
    assert_eq!(&snappy[..8], &SNAPPY_MAGIC);
    assert_eq!(&snappy[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
    let gz = fs::read(dir.path().join("snapshot.101.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
}

#[test]
fn same_checksums_whatever_the_compression() {
    let tree = big_tree();
    let plain = {
        let mut w = SnapshotWriter::new(Vec::new(), Compression::None).unwrap();
        common::write_tree(&mut w, &tree);
        w.finish(Some((5, 6))).unwrap()
    };
    let snappy = {
        let mut w = SnapshotWriter::new(Vec::new(), Compression::Snappy).unwrap();
        common::write_tree(&mut w, &tree);
        w.finish(Some((5, 6))).unwrap()
    };
    let mut r = SnappyJavaReader::new(&snappy[..]);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).unwrap();
    assert_eq!(out, plain);
}

#[test]
fn zookeeper_39_section_and_no_digest() {
    let tree = common::fresh_tree();
    let dir = tempfile::tempdir().unwrap();
    let mut w = SnapshotFileWriter::create(dir.path(), 7, SnapshotFileOptions::default()).unwrap();
    common::write_tree(&mut w, &tree);
    let p = w.finish(Some((7, 99)), Some(7)).unwrap();
    let info = read_snapshot(&p, &mut NullVisitor).unwrap();
    assert_eq!((info.seals, info.last_processed_zxid), (3, Some(7)));
    assert!(is_valid_snapshot(&p));

    let mut w = SnapshotFileWriter::create(dir.path(), 8, SnapshotFileOptions::default()).unwrap();
    common::write_tree(&mut w, &tree);
    let p = w.finish(None, None).unwrap();
    let info = read_snapshot(&p, &mut NullVisitor).unwrap();
    assert_eq!((info.seals, info.digest), (1, None));
    assert!(is_valid_snapshot(&p));
}

#[test]
fn flipped_byte_fails_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), 1, Compression::None, &big_tree(), false);
    let mut bytes = fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let err = read_snapshot(&path, &mut NullVisitor).unwrap_err();
    assert_eq!(err.path(), Some(path.as_path()));
    assert!(err.offset().is_some(), "{err}");
    assert!(err.to_string().contains("snapshot.1"), "{err}");
}

#[test]
fn truncated_snapshot_is_invalid_and_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), 1, Compression::None, &big_tree(), false);
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert!(!is_valid_snapshot(&path));
    let err = read_snapshot(&path, &mut NullVisitor).unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedEof { .. } | Error::Corrupt { .. }),
        "{err}"
    );
    assert!(!is_valid_snapshot(&dir.path().join("snapshot.zz")));
    fs::write(dir.path().join("snapshot.5"), b"short").unwrap();
    assert!(!is_valid_snapshot(&dir.path().join("snapshot.5")));
}

#[test]
fn out_of_order_writes_are_usage_errors() {
    let mut w = SnapshotWriter::new(Vec::new(), Compression::None).unwrap();
    w.write_node("", Some(b""), -1, &Default::default())
        .unwrap();
    assert!(matches!(
        w.write_sessions(vec![(1i64, 2i32)]),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        w.write_node("/", None, -1, &Default::default()),
        Err(Error::Usage(_))
    ));
    // Sections may be skipped (empty) and the result still parses.
    let bytes = w.finish(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("snapshot.0");
    fs::write(&p, bytes).unwrap();
    assert_eq!(read_snapshot(&p, &mut NullVisitor).unwrap().nodes, 1);
}

#[test]
fn sync_stream_round_trip_and_exact_consumption() {
    let tree = big_tree();
    let mut w = SnapshotWriter::new_sync_stream(Vec::new());
    common::write_tree(&mut w, &tree);
    let mut body = w.finish_sync_stream().unwrap();
    assert!(body.ends_with(b"\x00\x00\x00\x01/\x00\x00\x00\x0aBenWasHere"));
    let body_len = body.len();
    body.extend_from_slice(b"NEXT PACKET");
    let mut got = common::MemTree::default();
    let (info, used) = decode_sync_stream(&body, &mut got).unwrap();
    assert_eq!(used, body_len);
    assert_eq!(info.nodes as usize, tree.nodes.len());
    assert_eq!(got.nodes, tree.nodes);
    assert_eq!(got.sessions, tree.sessions);
    // Reading from a stream leaves the following bytes unread.
    let mut cursor = std::io::Cursor::new(&body);
    read_sync_stream(&mut cursor, &mut NullVisitor).unwrap();
    assert_eq!(cursor.position() as usize, body_len);
    // Incomplete input says so.
    let err = decode_sync_stream(&body[..body_len - 3], &mut NullVisitor).unwrap_err();
    assert!(matches!(err, Error::UnexpectedEof { .. }));
    // A wrong signature is refused.
    let mut bad = body[..body_len].to_vec();
    let n = bad.len();
    bad[n - 1] = b'X';
    assert!(matches!(
        decode_sync_stream(&bad, &mut NullVisitor),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn sync_stream_shares_the_file_serialization() {
    let tree = common::fresh_tree();
    let mut s = SnapshotWriter::new_sync_stream(Vec::new());
    common::write_tree(&mut s, &tree);
    let stream = s.finish_sync_stream().unwrap();
    let mut f = SnapshotWriter::new(Vec::new(), Compression::None).unwrap();
    common::write_tree(&mut f, &tree);
    let file = f.finish(None).unwrap();
    // file = header(16) + body + "/" + seal; stream = body + "/" + "BenWasHere".
    let body_and_slash = &stream[..stream.len() - 14];
    assert_eq!(&file[16..16 + body_and_slash.len()], body_and_slash);
}

#[test]
fn snappy_writer_handles_many_blocks_and_concatenation() {
    let data: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_be_bytes())
        .collect();
    let mut w = SnappyJavaWriter::new(Vec::new());
    std::io::Write::write_all(&mut w, &data).unwrap();
    let mut one = w.finish().unwrap();
    let copy = one.clone();
    one.extend_from_slice(&copy);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut SnappyJavaReader::new(&one[..]), &mut out).unwrap();
    assert_eq!(out.len(), data.len() * 2);
    assert_eq!(&out[..data.len()], &data[..]);
}

#[test]
fn large_nodes_beyond_default_jute_maxbuffer_round_trip() {
    // Operators raise jute.maxbuffer for big nodes; such snapshots and txns must still load.
    let dir = tempfile::tempdir().unwrap();
    let mut tree = common::fresh_tree();
    let big = Bytes::from(vec![0xabu8; 3 * 1024 * 1024]);
    tree.nodes
        .insert("/big".into(), (Some(big.clone()), -1, common::stat_at(1)));
    let path = write_file(dir.path(), 1, Compression::Gzip, &tree, false);
    let mut got = common::MemTree::default();
    read_snapshot(&path, &mut got).unwrap();
    assert_eq!(got.nodes["/big"].0.as_ref(), Some(&big));
    let mut w = storage::TxnLogWriter::new(dir.path(), Default::default());
    w.append_entry(&common::create(2, "/big2", &big)).unwrap();
    w.close().unwrap();
    let r = storage::read_logs(dir.path(), 0)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(r.entry, common::create(2, "/big2", &big));
}
