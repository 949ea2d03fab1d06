//! The ferrokeeper binary as users run it, driven by an independent Rust ZooKeeper client
//! (`zookeeper-client`, written from scratch against Java ZooKeeper): CRUD, watches, persistent
//! recursive watches, multi, ephemerals, the Curator-compatible lock, and a clean SIGTERM shutdown.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zookeeper_client as zk;

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server(tag: &str) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let dir = std::env::temp_dir().join(format!("fk-rust-client-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
            dir.join("data").display()
        ),
    )
    .expect("cfg");
    let child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start-foreground")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferrokeeper");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port, dir }
}

fn opts() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

#[tokio::test]
async fn crud_watches_multi_and_lock() {
    let srv = start_server("crud");
    let cluster = format!("127.0.0.1:{}", srv.port);
    let client = zk::Client::connect(&cluster).await.expect("connect");

    let (_, exists_watch) = client.check_and_watch_stat("/app").await.expect("exists");
    let (stat, _) = client.create("/app", b"v1", &opts()).await.expect("create");
    assert_eq!(
        exists_watch.changed().await.event_type,
        zk::EventType::NodeCreated
    );
    assert_eq!(
        client.get_data("/app").await.expect("get"),
        (b"v1".to_vec(), stat)
    );

    let (_, _, data_watch) = client.get_and_watch_data("/app").await.expect("watch");
    let stat2 = client.set_data("/app", b"v2", Some(0)).await.expect("set");
    assert_eq!(stat2.version, 1);
    assert_eq!(
        data_watch.changed().await.event_type,
        zk::EventType::NodeDataChanged
    );
    assert!(matches!(
        client.set_data("/app", b"v3", Some(0)).await,
        Err(zk::Error::BadVersion)
    ));

    let mut recursive = client
        .watch("/app", zk::AddWatchMode::PersistentRecursive)
        .await
        .expect("addWatch");
    let seq = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, n) = client
        .create("/app/item-", b"", &seq)
        .await
        .expect("seq create");
    assert_eq!(n.into_i64(), 0);
    let ev = recursive.changed().await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeCreated, "/app/item-0000000000")
    );

    let mut multi = client.new_multi_writer();
    multi.add_create("/app/a", b"", &opts()).expect("op");
    multi.add_check_version("/app", 99).expect("op");
    let failed = multi.commit().await;
    assert!(failed.is_err(), "a failing check aborts the whole multi");
    assert!(client.check_stat("/app/a").await.expect("stat").is_none());

    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let other = zk::Client::connect(&cluster).await.expect("connect 2");
    other.create("/app/e", b"", &eph).await.expect("ephemeral");
    assert_eq!(
        client.list_ephemerals("/").await.expect("eph"),
        Vec::<String>::new()
    );
    drop(other);
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.check_stat("/app/e").await.expect("stat").is_some() {
        assert!(
            Instant::now() < deadline,
            "ephemeral survived its closed session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let lock = client
        .lock(
            zk::LockPrefix::new_curator("/locks", "lock-").expect("prefix"),
            b"",
            zk::LockOptions::new(zk::Acls::anyone_all())
                .with_ancestor_options(opts())
                .expect("anc"),
        )
        .await
        .expect("lock");
    lock.create("/app/locked", b"", &opts())
        .await
        .expect("create under lock");
    drop(lock);

    let mut children = client.list_children("/app").await.expect("children");
    children.sort();
    assert_eq!(
        children,
        vec!["item-0000000000".to_string(), "locked".to_string()]
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut srv = start_server("sigterm");
    // SAFETY: kill(2) on a child process id we own.
    unsafe {
        libc::kill(srv.child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = srv.child.try_wait().expect("wait") {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
