//! Fast Leader Election over real sockets on loopback: ferrokeeper peers among themselves, and a
//! ferrokeeper peer in an election with two Java ZooKeeper 3.8 peers (wire compatibility of the
//! election port: initial message, notification frames, config string).

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use election::{
    ElectionConfig, LearnerRole, QuorumMember, QuorumVerifier, ServerAddress, ServerState, Vote,
};
use server::quorum::cnx_manager::{CnxConfig, CnxManager, PeerElectionAddr};
use server::quorum::election_driver::{self, ElectionHandle};

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Ports {
    quorum: u16,
    election: u16,
    client: u16,
}

fn ports(n: usize) -> Vec<Ports> {
    (0..n)
        .map(|_| Ports {
            quorum: free_port(),
            election: free_port(),
            client: free_port(),
        })
        .collect()
}

fn verifier(ps: &[Ports]) -> QuorumVerifier {
    let members = ps
        .iter()
        .enumerate()
        .map(|(i, p)| QuorumMember {
            sid: i as i64 + 1,
            addresses: vec![ServerAddress {
                host: "127.0.0.1".into(),
                quorum_port: p.quorum,
                election_port: p.election,
            }],
            role: LearnerRole::Participant,
            client: None,
        })
        .collect();
    QuorumVerifier::new(members, 0).expect("verifier")
}

async fn peer(sid: i64, ps: &[Ports], epoch: i64, zxid: i64) -> ElectionHandle {
    let me = &ps[sid as usize - 1];
    let mut peers = HashMap::new();
    for (i, p) in ps.iter().enumerate() {
        let s = i as i64 + 1;
        if s != sid {
            peers.insert(
                s,
                PeerElectionAddr {
                    host: "127.0.0.1".into(),
                    port: p.election,
                },
            );
        }
    }
    let cnx = CnxManager::start(CnxConfig {
        my_sid: sid,
        my_addr: PeerElectionAddr {
            host: "127.0.0.1".into(),
            port: me.election,
        },
        listen: format!("127.0.0.1:{}", me.election).parse().expect("addr"),
        peers,
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
    })
    .await
    .expect("bind election port");
    election_driver::spawn(ElectionConfig::new(sid, verifier(ps)), cnx, epoch, zxid)
}

async fn decided(h: &mut ElectionHandle, within: Duration) -> Vote {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = *h.outcome.borrow() {
            return v;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no election outcome within {within:?}");
        let _ = tokio::time::timeout(left, h.outcome.changed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_ferrokeeper_peers_elect_the_best_history() {
    let ps = ports(3);
    // Peer 2 has the longest history of the newest epoch: it must lead.
    let mut a = peer(1, &ps, 1, 0x1_0000_0005).await;
    let mut b = peer(2, &ps, 1, 0x1_0000_0009).await;
    let mut c = peer(3, &ps, 1, 0x1_0000_0007).await;
    let va = decided(&mut a, Duration::from_secs(20)).await;
    let vb = decided(&mut b, Duration::from_secs(20)).await;
    let vc = decided(&mut c, Duration::from_secs(20)).await;
    assert_eq!((va.leader, vb.leader, vc.leader), (2, 2, 2));
    assert_eq!(vb.state, ServerState::Leading);
    assert_eq!(va.state, ServerState::Following);
    assert_eq!(vc.state, ServerState::Following);
}

struct JavaPeer {
    child: Child,
    _dir: PathBuf,
}

impl Drop for JavaPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn java_peer(sid: i64, ps: &[Ports], root: &std::path::Path) -> Option<JavaPeer> {
    let jar = "/usr/share/java/zookeeper.jar";
    if !std::path::Path::new(jar).exists() {
        return None;
    }
    let dir = root.join(format!("java{sid}"));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).ok()?;
    std::fs::write(data.join("myid"), sid.to_string()).ok()?;
    let me = &ps[sid as usize - 1];
    let mut cfg = format!(
        "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
        data.display(),
        me.client
    );
    for (i, p) in ps.iter().enumerate() {
        cfg.push_str(&format!(
            "server.{}=127.0.0.1:{}:{}\n",
            i + 1,
            p.quorum,
            p.election
        ));
    }
    let cfg_path = dir.join("zoo.cfg");
    std::fs::write(&cfg_path, cfg).ok()?;
    let child = Command::new("java")
        .args(["-Xmx256m", "-Dzookeeper.root.logger=WARN,CONSOLE"])
        .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
        .args([
            "-cp",
            &format!("/etc/zookeeper/conf:{jar}"),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        ])
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(JavaPeer { child, _dir: dir })
}

fn four_letter(port: u16, cmd: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(cmd.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrokeeper_peer_agrees_with_two_java_peers() {
    let ps = ports(3);
    let root = std::env::temp_dir().join(format!("fk-election-java-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (Some(_j2), Some(_j3)) = (java_peer(2, &ps, &root), java_peer(3, &ps, &root)) else {
        eprintln!("SKIP: Java ZooKeeper (/usr/share/java/zookeeper.jar) or java not available");
        return;
    };
    // Our peer has an empty history like the Java ones: all vote for sid 3.
    let mut ours = peer(1, &ps, 0, 0).await;
    let v = decided(&mut ours, Duration::from_secs(60)).await;
    assert_eq!(
        v.leader, 3,
        "ferrokeeper peer must agree with the Java peers on the leader: {v:?}"
    );
    assert_eq!(v.state, ServerState::Following);
    // The Java peers really elected sid 3 among themselves (ZAB between them works): it says so.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = four_letter(ps[2].client, "srvr");
        if out.contains("Mode: leader") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Java peer 3 never became leader; srvr said: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_dir_all(&root);
}
