//! Interoperability with the real Java ZooKeeper 3.8 (Debian's `/usr/share/java/zookeeper.jar`):
//! files Java writes are read and verified by this crate, and a data dir written by this crate is
//! loaded and served by Java. Skipped (with a printed reason) when Java or the jar is missing.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jute::data::StatPersisted;
use jute::txn::TxnEntry;
use storage::snapshot::{NullVisitor, SnapshotFileWriter};
use storage::txn_log::{TxnLogOptions, TxnLogWriter};
use storage::{
    read_logs, read_snapshot, recover, Compression, DataDirs, Recovery, RecoveryOptions,
    SnapshotFileOptions,
};

const JAR: &str = "/usr/share/java/zookeeper.jar";

fn java_missing() -> Option<String> {
    if !Path::new(JAR).exists() {
        return Some(format!("{JAR} not found"));
    }
    match Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => None,
        _ => Some("no working `java` on PATH".into()),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct JavaZk {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl JavaZk {
    fn start(base: &Path, data_dir: &Path, extra_jvm: &[&str]) -> JavaZk {
        let port = free_port();
        let cfg = base.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nsnapCount=100\nmaxClientCnxns=0\n",
                data_dir.display()
            ),
        )
        .unwrap();
        let log = base.join("java.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("java");
        cmd.arg("-Xmx256m")
            .arg(format!("-Dzookeeper.log.dir={}", base.display()))
            .arg("-Dzookeeper.root.logger=INFO,CONSOLE");
        for a in extra_jvm {
            cmd.arg(a);
        }
        cmd.arg("-cp")
            .arg(format!(
                "/etc/zookeeper/conf:{JAR}:/usr/share/java/slf4j-simple.jar"
            ))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = cmd.spawn().expect("spawn java");
        JavaZk {
            child: Some(child),
            port,
            log,
        }
    }

    fn connect(&self) -> Client {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(c) = Client::connect(self.port) {
                return c;
            }
            if Instant::now() > deadline {
                panic!(
                    "Java ZooKeeper did not come up; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM (the process is ours, addressed by its pid), then wait.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for JavaZk {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A minimal raw ZooKeeper client: just enough to create, set, delete, read and close.
struct Client {
    s: TcpStream,
    xid: i32,
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as i32).to_be_bytes());
    b.extend_from_slice(s);
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut c = Client { s, xid: 0 };
        let mut b = Vec::new();
        b.extend_from_slice(&0i32.to_be_bytes()); // protocol version
        b.extend_from_slice(&0i64.to_be_bytes()); // last zxid seen
        b.extend_from_slice(&30000i32.to_be_bytes());
        b.extend_from_slice(&0i64.to_be_bytes()); // session id
        put_str(&mut b, &[0u8; 16]);
        b.push(0); // readOnly
        c.send(&b)?;
        let resp = c.recv()?;
        if resp.len() < 36 {
            return Err(std::io::Error::other("short connect response"));
        }
        Ok(c)
    }

    fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut f = (payload.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(payload);
        self.s.write_all(&f)
    }

    fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        let mut l = [0u8; 4];
        self.s.read_exact(&mut l)?;
        let mut v = vec![0u8; i32::from_be_bytes(l) as usize];
        self.s.read_exact(&mut v)?;
        Ok(v)
    }

    /// Sends one request; returns (err, body).
    fn call(&mut self, op: i32, body: &[u8]) -> (i32, Vec<u8>) {
        self.xid += 1;
        let mut b = self.xid.to_be_bytes().to_vec();
        b.extend_from_slice(&op.to_be_bytes());
        b.extend_from_slice(body);
        self.send(&b).unwrap();
        loop {
            let r = self.recv().unwrap();
            let xid = i32::from_be_bytes([r[0], r[1], r[2], r[3]]);
            if xid != self.xid {
                continue; // notifications/pings
            }
            let err = i32::from_be_bytes([r[12], r[13], r[14], r[15]]);
            return (err, r[16..].to_vec());
        }
    }

    fn create(&mut self, path: &str, data: &[u8]) -> i32 {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        put_str(&mut b, data);
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&31i32.to_be_bytes());
        put_str(&mut b, b"world");
        put_str(&mut b, b"anyone");
        b.extend_from_slice(&0i32.to_be_bytes());
        self.call(1, &b).0
    }

    fn set_data(&mut self, path: &str, data: &[u8]) -> i32 {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        put_str(&mut b, data);
        b.extend_from_slice(&(-1i32).to_be_bytes());
        self.call(5, &b).0
    }

    fn delete(&mut self, path: &str) -> i32 {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        self.call(2, &b).0
    }

    fn get_data(&mut self, path: &str) -> Option<Vec<u8>> {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        b.push(0);
        let (err, body) = self.call(4, &b);
        if err != 0 {
            return None;
        }
        let len = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        Some(if len < 0 {
            vec![]
        } else {
            body[4..4 + len as usize].to_vec()
        })
    }

    fn children(&mut self, path: &str) -> Vec<String> {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        b.push(0);
        let (err, body) = self.call(8, &b);
        assert_eq!(err, 0);
        let n = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let mut pos = 4;
        let mut out = vec![];
        for _ in 0..n {
            let l = i32::from_be_bytes([body[pos], body[pos + 1], body[pos + 2], body[pos + 3]])
                as usize;
            out.push(String::from_utf8_lossy(&body[pos + 4..pos + 4 + l]).into_owned());
            pos += 4 + l;
        }
        out.sort();
        out
    }

    fn close(mut self) {
        let _ = self.call(-11, &[]);
    }
}

#[test]
fn java_written_files_are_read_and_verified() {
    if let Some(why) = java_missing() {
        println!("skipping Java interop test: {why}");
        return;
    }
    java_writes(None, 300);
}

#[test]
fn java_written_compressed_snapshots_are_read() {
    if let Some(why) = java_missing() {
        println!("skipping Java interop test: {why}");
        return;
    }
    java_writes(Some(Compression::Gzip), 120);
    java_writes(Some(Compression::Snappy), 120);
}

/// Runs Java with `snapCount=100` (and a snapshot compression), writes `n` nodes plus updates and
/// deletes, stops it, then reads, verifies and recovers everything it wrote.
fn java_writes(compression: Option<Compression>, n: usize) {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let prop = match compression {
        Some(Compression::Gzip) => vec!["-Dzookeeper.snapshot.compression.method=gz"],
        Some(Compression::Snappy) => vec!["-Dzookeeper.snapshot.compression.method=snappy"],
        _ => vec![],
    };
    let mut zk = JavaZk::start(base.path(), &data, &prop);
    let mut c = zk.connect();
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..n {
        let p = format!("/x{i:03}");
        assert_eq!(c.create(&p, format!("data-{i}").as_bytes()), 0);
        expected.insert(p, format!("data-{i}").into_bytes());
    }
    for i in (0..n).step_by(3) {
        let p = format!("/x{i:03}");
        assert_eq!(c.set_data(&p, b"changed"), 0);
        expected.insert(p, b"changed".to_vec());
    }
    for i in (0..n).step_by(10) {
        let p = format!("/x{i:03}");
        assert_eq!(c.delete(&p), 0);
        expected.remove(&p);
    }
    assert_eq!(
        c.create("/x001", b"dup"),
        -110,
        "NODEEXISTS consumes a zxid (error txn)"
    );
    c.close();
    std::thread::sleep(Duration::from_millis(500)); // let a background snapshot finish
    zk.stop();

    let dirs = DataDirs::open(&data, None, false).unwrap();
    let snaps = dirs.snapshots().unwrap();
    let logs = dirs.logs().unwrap();
    println!(
        "Java wrote {} snapshots and {} logs",
        snaps.len(),
        logs.len()
    );
    assert!(
        snaps.len() >= 2,
        "snapCount=100 should have produced several snapshots"
    );
    assert!(logs.len() >= 2, "and rolled the log");
    if let Some(c) = compression {
        let compressed = snaps.iter().filter(|s| s.compression == c).count();
        assert!(compressed >= 2, "Java wrote {c:?} snapshots: {snaps:?}");
    }
    for s in &snaps {
        if storage::is_valid_snapshot(&s.path) {
            let info = match read_snapshot(&s.path, &mut NullVisitor) {
                Ok(i) => i,
                // A compressed snapshot still being written when Java was stopped.
                Err(storage::Error::UnexpectedEof { .. }) if s.compression != Compression::None => {
                    continue
                }
                Err(e) => panic!("{e}"),
            };
            assert!(info.seals >= 2, "{:?}", s.path);
            assert!(info.digest.is_some());
        }
    }
    let mut last = 0;
    let mut count = 0;
    for r in read_logs(&dirs.log_dir, 0).unwrap() {
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert!(r.zxid() > last);
        last = r.zxid();
        count += 1;
    }
    assert!(count > n + n / 3 + n / 10, "{count} txns");
    let report = storage::dump::verify(&data, None);
    println!("{}", report.render());
    assert!(report.is_clean(), "{}", report.render());
    let _ = storage::dump::txnlog_dump(&logs[0].path);
    let _ = storage::dump::snapshot_dump(&snaps[0].path, false);

    let mut tree = common::MemTree::default();
    let info = match recover(
        &dirs,
        &mut tree,
        &RecoveryOptions {
            truncate_torn_tail: false,
            ..Default::default()
        },
    )
    .unwrap()
    {
        Recovery::Loaded(i) => i,
        Recovery::Fresh => panic!("fresh"),
    };
    assert_eq!(info.last_zxid, last);
    for (p, d) in &expected {
        let node = tree
            .nodes
            .get(p)
            .unwrap_or_else(|| panic!("{p} missing after recovery"));
        assert_eq!(node.0.as_deref(), Some(&d[..]), "{p}");
    }
    let xs = tree.nodes.keys().filter(|k| k.starts_with("/x")).count();
    assert_eq!(xs, expected.len());
}

fn plain_create(zxid: i64, path: &str, data: &[u8], parent_cversion: i32) -> TxnEntry {
    let mut e = common::create(zxid, path, data);
    e.digest = None; // Java would only log a digest mismatch, but keep its log clean
    if let jute::txn::TxnBody::Create(c) = &mut e.body {
        c.parent_cversion = parent_cversion;
    }
    e
}

#[test]
fn java_loads_and_serves_files_we_wrote() {
    if let Some(why) = java_missing() {
        println!("skipping Java interop test: {why}");
        return;
    }
    for compression in [Compression::Snappy, Compression::Gzip, Compression::None] {
        let base = tempfile::tempdir().unwrap();
        let data = base.path().join("data");
        let dirs = DataDirs::open(&data, None, true).unwrap();
        // snapshot.0: the fresh tree, byte-identical to Java's.
        let mut w =
            SnapshotFileWriter::create(&dirs.snap_dir, 0, SnapshotFileOptions::default()).unwrap();
        common::write_fresh(&mut w);
        w.finish(Some((0, 0)), None).unwrap();
        // log.1: session, /rust-a, /rust-a/child, setData /rust-a, /rust-b.
        let mut l = TxnLogWriter::new(&dirs.log_dir, TxnLogOptions::default());
        let mut cs = common::create_session(1);
        cs.header.cxid = 0;
        l.append_entry(&cs).unwrap();
        l.append_entry(&plain_create(2, "/rust-a", b"from-rust", 1))
            .unwrap();
        l.append_entry(&plain_create(3, "/rust-a/child", b"c", 1))
            .unwrap();
        l.append_entry(&common::set_data(4, "/rust-a", b"v2", 1))
            .unwrap();
        l.append_entry(&plain_create(5, "/rust-b", b"b", 3))
            .unwrap();
        l.close().unwrap();
        // A fuzzy snapshot named 2 (state after zxid 3: replay of 3 must be idempotent), compressed.
        let mut tree = common::fresh_tree();
        tree.sessions.insert(common::SESSION, 30000);
        let root = tree.nodes.get_mut("").unwrap();
        root.2 = StatPersisted {
            cversion: 2,
            pzxid: 2,
            ..root.2.clone()
        };
        tree.nodes.insert(
            "/rust-a".into(),
            (
                Some(Bytes::from_static(b"from-rust")),
                -1,
                StatPersisted {
                    cversion: 1,
                    pzxid: 3,
                    ..common::stat_at(2)
                },
            ),
        );
        tree.nodes.insert(
            "/rust-a/child".into(),
            (Some(Bytes::from_static(b"c")), -1, common::stat_at(3)),
        );
        // Only in the snapshot: Java can serve it only if it really loaded our (compressed) file.
        tree.nodes
            .insert("/only-in-snapshot".into(), (None, 1, common::stat_at(2)));
        let opts = SnapshotFileOptions {
            compression,
            atomic: true,
            fsync: true,
        };
        let mut w = SnapshotFileWriter::create(&dirs.snap_dir, 2, opts).unwrap();
        common::write_tree(&mut w, &tree);
        // The plain one also carries the 3.9 lastProcessedZxid section: 3.8 must accept it.
        let lpz = (compression == Compression::None).then_some(2);
        w.finish(Some((0, 0)), lpz).unwrap();

        let mut zk = JavaZk::start(base.path(), &data, &[]);
        let mut c = zk.connect();
        assert_eq!(
            c.get_data("/rust-a").as_deref(),
            Some(&b"v2"[..]),
            "{compression:?}"
        );
        assert_eq!(c.get_data("/rust-b").as_deref(), Some(&b"b"[..]));
        assert_eq!(c.children("/rust-a"), vec!["child".to_string()]);
        assert_eq!(
            c.get_data("/only-in-snapshot").as_deref(),
            Some(&b""[..]),
            "{compression:?}"
        );
        assert_eq!(c.create("/from-java", b"j"), 0);
        c.close();
        zk.stop();
        let java_log = std::fs::read_to_string(&zk.log).unwrap_or_default();
        assert!(!java_log.contains("CRC corruption"), "{java_log}");
        assert!(
            !java_log.contains("problem reading snap file"),
            "{java_log}"
        );
        let name = format!("snapshot.2{}", compression.extension());
        assert!(
            java_log
                .lines()
                .any(|l| l.contains("Reading snapshot") && l.contains(&name)),
            "{java_log}"
        );
        for l in java_log
            .lines()
            .filter(|l| l.contains("snapshot") || l.contains("WARN") || l.contains("ERROR"))
        {
            println!("java: {l}");
        }

        // Java's own startup snapshot of the state we gave it, and its new log, read back here.
        let report = storage::dump::verify(&data, None);
        assert!(report.is_clean(), "{}", report.render());
        let mut tree = common::MemTree::default();
        let Recovery::Loaded(info) =
            recover(&dirs, &mut tree, &RecoveryOptions::default()).unwrap()
        else {
            panic!("fresh")
        };
        assert!(
            info.snapshot.unwrap().zxid >= 5,
            "Java wrote a snapshot at startup"
        );
        assert_eq!(tree.nodes["/rust-a"].0.as_deref(), Some(&b"v2"[..]));
        assert!(tree.nodes.contains_key("/from-java"));
    }
}
