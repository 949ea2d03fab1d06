//! Byte-exact checks against the files Java 3.8 wrote (reference Appendix A.1 / A.2).

mod common;

use bytes::Bytes;
use jute::consts::op;
use jute::data::Acl;
use jute::txn::{CreateSessionTxn, CreateTxn, TxnBody, TxnDigest, TxnEntry, TxnHeader};
use storage::checksum::adler32;
use storage::snapshot::SnapshotWriter;
use storage::{read_snapshot, Compression};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn jstr(s: &str) -> String {
    format!(
        "{:08x}{}",
        s.len(),
        s.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The A.1 file rebuilt from the appendix's annotated hex dump.
fn appendix_a1() -> Vec<u8> {
    let zero_stat = "00".repeat(60);
    // aversion is the 7th field: czxid mzxid ctime mtime (32 bytes) version cversion (8) aversion.
    let config_stat = format!("{}{}{}", "00".repeat(40), "ffffffff", "00".repeat(16));
    let node = |path: &str, acl: &str, stat: &str| format!("{}00000000{acl}{stat}", jstr(path));
    let mut h = String::new();
    h += "5a4b534e00000002ffffffffffffffff"; // ZKSN v2 dbid -1
    h += "00000000"; // no sessions
    h += "00000001 0000000000000001 00000001"; // one ACL entry, index 1, one ACL
    h += &format!("00000001{}{}", jstr("world"), jstr("anyone"));
    h += &node("", "ffffffffffffffff", &zero_stat);
    h += &node("/zookeeper", "ffffffffffffffff", &zero_stat);
    h += &node("/zookeeper/config", "0000000000000001", &config_stat);
    h += &node("/zookeeper/quota", "ffffffffffffffff", &zero_stat);
    h += &jstr("/");
    h += "00000000b8a23b49 000000012f"; // seal #1
    h += "0000000000000000 00000002 0000000000000000"; // ZxidDigest
    h += "0000000095b93d59 000000012f"; // seal #2
    hex(&h)
}

#[test]
fn fresh_snapshot_is_byte_identical_to_java() {
    let mut w = SnapshotWriter::new(Vec::new(), Compression::None).unwrap();
    common::write_fresh(&mut w);
    let bytes = w.finish(Some((0, 0))).unwrap();
    let expected = appendix_a1();
    assert_eq!(expected.len(), 457);
    assert_eq!(bytes.len(), 457);
    assert_eq!(
        &bytes[0x19b..0x1a3],
        &hex("00000000b8a23b49")[..],
        "seal #1"
    );
    assert_eq!(
        &bytes[0x1bc..0x1c4],
        &hex("0000000095b93d59")[..],
        "seal #2"
    );
    assert_eq!(bytes, expected);
}

#[test]
fn fresh_snapshot_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.0");
    std::fs::write(&path, appendix_a1()).unwrap();
    assert!(storage::is_valid_snapshot(&path));
    let mut t = common::MemTree::default();
    let info = read_snapshot(&path, &mut t).unwrap();
    assert_eq!(info.nodes, 4);
    assert_eq!(info.seals, 2);
    assert_eq!(
        info.digest,
        Some(storage::ZxidDigest {
            zxid: 0,
            version: 2,
            digest: 0
        })
    );
    assert_eq!(info.last_processed_zxid, None);
    assert_eq!(t.acls.get(&1), Some(&Acl::read_unsafe()));
    assert_eq!(t.nodes["/zookeeper/config"].2.aversion, -1);
    assert_eq!(t.nodes[""].0.as_deref(), Some(&b""[..]));
}

fn a2_entries() -> (TxnEntry, TxnEntry) {
    let first = TxnEntry {
        header: TxnHeader {
            client_id: common::SESSION,
            cxid: 0,
            zxid: 1,
            time: 0x1a1ffe882f6,
            txn_type: op::CREATE_SESSION,
        },
        body: TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: 0x51c6d660,
        }),
    };
    // The appendix elides this entry's time; 0x1a1ffe88316 (32 ms after the first txn) is the value
    // whose payload has the captured checksum.
    let second = TxnEntry {
        header: TxnHeader {
            client_id: common::SESSION,
            cxid: 1,
            zxid: 2,
            time: 0x1a1ffe88316,
            txn_type: op::CREATE,
        },
        body: TxnBody::Create(CreateTxn {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"hello")),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 1,
        }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: 0x7cd25ee6,
        }),
    };
    (first, second)
}

#[test]
fn log_entry_checksums_match_java() {
    let (a, b) = a2_entries();
    let pa = a.encode();
    let pb = b.encode();
    assert_eq!(pa.len(), 48);
    assert_eq!(pb.len(), 91);
    assert_eq!(adler32(&pa), 0xbc66_0b1c);
    assert_eq!(adler32(&pb), 0xe53b_0d76);
    let mut entry = Vec::new();
    storage::txn_log::encode_entry(&pa, &mut entry);
    assert_eq!(&entry[..12], &hex("00000000bc660b1c 00000030")[..]);
    assert_eq!(*entry.last().unwrap(), 0x42);
}

#[test]
fn log_file_layout_matches_java() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = a2_entries();
    let mut w = storage::TxnLogWriter::new(dir.path(), Default::default());
    w.append_entry(&a).unwrap();
    w.append_entry(&b).unwrap();
    w.flush_and_sync(true).unwrap();
    let path = dir.path().join("log.1");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes.len() as u64,
        16 + 64 * 1024 * 1024,
        "sparse preallocation to 16 + 64 MiB"
    );
    assert_eq!(&bytes[..16], &hex("5a4b4c47 00000002 0000000000000000")[..]);
    assert_eq!(&bytes[16..28], &hex("00000000bc660b1c 00000030")[..]);
    assert_eq!(&bytes[28..76], &a.encode()[..]);
    assert_eq!(bytes[76], b'B');
    assert_eq!(&bytes[77..89], &hex("00000000e53b0d76 0000005b")[..]);
    assert!(bytes[77 + 12 + 91 + 1..].iter().all(|b| *b == 0));
    let got: Vec<_> = storage::read_logs(dir.path(), 0)
        .unwrap()
        .map(|r| r.unwrap().entry)
        .collect();
    assert_eq!(got, vec![a, b]);
}
