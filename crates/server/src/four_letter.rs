//! Four-letter words: a connection whose first 4 bytes spell a known command gets that command's
//! text and is closed. Output formats are Java's (`server/command/*`), line by line.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::shared::Shared;
use crate::stats::java_double;

/// Every command Java knows (`FourLetterCommands`).
pub const COMMANDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// Text every command that needs a running server answers while the server is not serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The command named by a connection's first 4 bytes, if any.
pub fn command_of(head: [u8; 4]) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|c| c.as_bytes() == head)
}

/// Runs one command and closes the connection.
pub async fn serve(shared: &Arc<Shared>, cmd: &'static str, mut rd: OwnedReadHalf, mut wr: OwnedWriteHalf, mut buf: BytesMut) {
    if cmd == "stmk" {
        // stmk carries an 8-byte trace mask.
        while buf.len() < 8 {
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if buf.len() >= 8 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&buf[..8]);
            shared.trace_mask.store(i64::from_be_bytes(a), Ordering::Relaxed);
        }
    }
    let text = output(shared, cmd);
    let _ = wr.write_all(text.as_bytes()).await;
    let _ = wr.shutdown().await;
}

/// The full text a command prints.
pub fn output(shared: &Shared, cmd: &str) -> String {
    if !shared.settings.four_letter_whitelist.allows(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let serving = shared.serving.load(Ordering::Acquire);
    match cmd {
        "ruok" => "imok".to_string(),
        "isro" => if serving { "rw" } else { "null" }.to_string(),
        "gtmk" => shared.trace_mask.load(Ordering::Relaxed).to_string(),
        "stmk" => shared.trace_mask.load(Ordering::Relaxed).to_string(),
        _ if !serving => format!("{NOT_SERVING}\n"),
        "srvr" => server_stats(shared, false),
        "stat" => server_stats(shared, true),
        "conf" => conf(shared),
        "mntr" => mntr(shared),
        "wchs" => {
            let w = shared.watches.lock();
            format!("{} connections watching {} paths\nTotal watches:{}\n", w.connection_count(), w.path_count(), w.watch_count())
        }
        "wchc" => {
            let w = shared.watches.lock();
            let mut s = String::new();
            for (conn, paths) in w.by_connection() {
                let sid = shared.conns.lock().get(&conn).map(|c| c.session_id.load(Ordering::Relaxed)).unwrap_or(0);
                let _ = writeln!(s, "0x{sid:x}");
                for p in paths {
                    let _ = writeln!(s, "\t{p}");
                }
            }
            s.push('\n');
            s
        }
        "wchp" => {
            let w = shared.watches.lock();
            let mut s = String::new();
            for (path, conns) in w.by_path() {
                let _ = writeln!(s, "{path}");
                for c in conns {
                    let sid = shared.conns.lock().get(&c).map(|c| c.session_id.load(Ordering::Relaxed)).unwrap_or(0);
                    let _ = writeln!(s, "\t0x{sid:x}");
                }
            }
            s.push('\n');
            s
        }
        "crst" => "Connection stats reset.\n".to_string(),
        "srst" => {
            shared.stats.reset();
            "Server stats reset.\n".to_string()
        }
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            dir_size(&shared.settings.data_dir.join("version-2")),
            dir_size(&shared.settings.data_log_dir.join("version-2"))
        ),
        "cons" => {
            let mut s = String::new();
            for c in shared.conns.lock().values() {
                let _ = writeln!(
                    s,
                    " /{}:{}[1](queued=0,recved={},sent={},sid=0x{:x},lcxid=0x{:x},lzxid=0x{:x})",
                    c.remote.ip(),
                    c.remote.port(),
                    c.packets_received.load(Ordering::Relaxed),
                    c.packets_sent.load(Ordering::Relaxed),
                    c.session_id.load(Ordering::Relaxed),
                    c.last_cxid.load(Ordering::Relaxed),
                    c.last_zxid.load(Ordering::Relaxed),
                );
            }
            s.push('\n');
            s
        }
        "dump" => {
            let mut s = String::from("SessionTracker dump:\n");
            let sessions = shared.sessions.lock().sessions();
            let _ = writeln!(s, "Global Sessions({}):", sessions.len());
            for (id, to) in sessions {
                let _ = writeln!(s, "0x{id:x}\t{to}ms");
            }
            s.push_str("ephemeral nodes dump:\n");
            let eph = shared.tree.read().ephemeral_sessions();
            let _ = writeln!(s, "Sessions with Ephemerals ({}):", eph.len());
            for (id, paths) in eph {
                let _ = writeln!(s, "0x{id:x}:");
                for p in paths {
                    let _ = writeln!(s, "\t{p}");
                }
            }
            s.push_str("Connections dump:\n");
            s
        }
        "envi" => {
            let mut s = String::from("Environment:\n");
            let _ = writeln!(s, "zookeeper.version={}", shared.settings.version);
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            let _ = writeln!(s, "host.name={}", host.trim());
            let _ = writeln!(s, "os.name={}", std::env::consts::OS);
            let _ = writeln!(s, "os.arch={}", std::env::consts::ARCH);
            let _ = writeln!(s, "user.dir={}", std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default());
            s
        }
        "hash" => String::new(),
        _ => format!("{NOT_SERVING}\n"),
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| rd.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// `srvr` (and `stat` with the client list).
pub fn server_stats(shared: &Shared, with_clients: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Zookeeper version: {}", shared.settings.version);
    if with_clients {
        s.push_str("Clients:\n");
        for c in shared.conns.lock().values() {
            let _ = writeln!(
                s,
                " /{}:{}[1](queued=0,recved={},sent={})",
                c.remote.ip(),
                c.remote.port(),
                c.packets_received.load(Ordering::Relaxed),
                c.packets_sent.load(Ordering::Relaxed)
            );
        }
        s.push('\n');
    }
    let (min, avg, max) = shared.stats.latency_summary();
    let _ = writeln!(s, "Latency min/avg/max: {}/{}/{}", min, java_double(avg), max);
    let _ = writeln!(s, "Received: {}", shared.stats.packets_received.load(Ordering::Relaxed));
    let _ = writeln!(s, "Sent: {}", shared.stats.packets_sent.load(Ordering::Relaxed));
    let _ = writeln!(s, "Connections: {}", shared.conns.lock().len());
    let _ = writeln!(s, "Outstanding: {}", 0);
    let tree = shared.tree.read();
    let _ = writeln!(s, "Zxid: 0x{:x}", tree.last_processed_zxid());
    let _ = writeln!(s, "Mode: standalone");
    let _ = writeln!(s, "Node count: {}", tree.node_count() + 1);
    s
}

fn conf(shared: &Shared) -> String {
    let st = &shared.settings;
    let mut s = String::new();
    let _ = writeln!(s, "clientPort={}", st.client_addr.port());
    let _ = writeln!(s, "secureClientPort={}", st.secure_client_port);
    let _ = writeln!(s, "dataDir={}", st.data_dir.join("version-2").display());
    let _ = writeln!(s, "dataDirSize={}", dir_size(&st.data_dir.join("version-2")));
    let _ = writeln!(s, "dataLogDir={}", st.data_log_dir.join("version-2").display());
    let _ = writeln!(s, "dataLogSize={}", dir_size(&st.data_log_dir.join("version-2")));
    let _ = writeln!(s, "tickTime={}", st.tick_ms);
    let _ = writeln!(s, "maxClientCnxns={}", st.max_client_cnxns);
    let _ = writeln!(s, "minSessionTimeout={}", st.min_session_timeout_ms);
    let _ = writeln!(s, "maxSessionTimeout={}", st.max_session_timeout_ms);
    let _ = writeln!(s, "clientPortListenBacklog={}", st.client_port_listen_backlog);
    let _ = writeln!(s, "serverId=0");
    s
}

fn mntr(shared: &Shared) -> String {
    let mut s = String::new();
    let (min, avg, max) = shared.stats.latency_summary();
    let tree = shared.tree.read();
    let w = shared.watches.lock();
    let lines: Vec<(&str, String)> = vec![
        ("zk_version", shared.settings.version.clone()),
        ("zk_server_state", "standalone".to_string()),
        ("zk_avg_latency", java_double(avg)),
        ("zk_max_latency", max.to_string()),
        ("zk_min_latency", min.to_string()),
        ("zk_packets_received", shared.stats.packets_received.load(Ordering::Relaxed).to_string()),
        ("zk_packets_sent", shared.stats.packets_sent.load(Ordering::Relaxed).to_string()),
        ("zk_num_alive_connections", shared.conns.lock().len().to_string()),
        ("zk_outstanding_requests", "0".to_string()),
        ("zk_znode_count", (tree.node_count() + 1).to_string()),
        ("zk_watch_count", w.watch_count().to_string()),
        ("zk_ephemerals_count", tree.ephemeral_sessions().iter().map(|(_, p)| p.len()).sum::<usize>().to_string()),
        ("zk_approximate_data_size", tree.approximate_data_size().to_string()),
        ("zk_global_sessions", shared.sessions.lock().len().to_string()),
        ("zk_local_sessions", "0".to_string()),
        ("zk_uptime", shared.start.elapsed().as_millis().to_string()),
        ("zk_last_processed_zxid", tree.last_processed_zxid().to_string()),
    ];
    for (k, v) in lines {
        let _ = writeln!(s, "{k}\t{v}");
    }
    s
}
