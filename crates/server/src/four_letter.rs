//! Four-letter words: a connection whose first 4 bytes spell a known command gets that command's
//! text and is closed. Output formats are Java 3.8's (`server/command/*`), line by line; the
//! values come from [`crate::metrics`] so `mntr`, the AdminServer and `/metrics` agree.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::metrics::{self, MetricValue};
use crate::shared::{wall_ms, ConnHandle, Shared};
use crate::stats::java_double;

/// Every command Java knows (`FourLetterCommands`).
pub const COMMANDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// Text every command that needs a running server answers while the server is not serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Java's `NIOServerCnxnFactory` sessionless connection timeout (connection expiry interval).
const SESSIONLESS_CNXN_TIMEOUT_MS: i64 = 10_000;

/// The command named by a connection's first 4 bytes, if any.
pub fn command_of(head: [u8; 4]) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|c| c.as_bytes() == head)
}

/// Runs one command and closes the connection. While it runs the connection counts as an alive
/// connection and its 4 bytes as a received packet, as in Java.
pub async fn serve(
    shared: &Arc<Shared>,
    cmd: &'static str,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    mut buf: BytesMut,
) {
    let peer = rd.peer_addr().ok();
    shared.stats.received();
    shared
        .stats
        .four_letter_conns
        .fetch_add(1, Ordering::Relaxed);
    if cmd == "stmk" {
        // stmk carries an 8-byte trace mask.
        while buf.len() < 8 {
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if buf.len() >= 8 && shared.settings.four_letter_whitelist.allows(cmd) {
            let mut a = [0u8; 8];
            a.copy_from_slice(&buf[..8]);
            shared
                .trace_mask
                .store(i64::from_be_bytes(a), Ordering::Relaxed);
        }
    }
    let text = output_for(shared, cmd, peer);
    shared
        .stats
        .four_letter_conns
        .fetch_sub(1, Ordering::Relaxed);
    let _ = wr.write_all(text.as_bytes()).await;
    let _ = wr.shutdown().await;
    // Java counts the answer as a sent packet once it is written.
    shared.stats.sent(1);
}

/// The full text a command prints (no four-letter connection of its own listed).
pub fn output(shared: &Shared, cmd: &str) -> String {
    output_for(shared, cmd, None)
}

/// The full text a command prints for the four-letter connection from `peer`.
pub fn output_for(shared: &Shared, cmd: &str, peer: Option<SocketAddr>) -> String {
    if !shared.settings.four_letter_whitelist.allows(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let serving = shared.serving.load(Ordering::Acquire);
    match cmd {
        "ruok" => "imok".to_string(),
        "isro" => if read_only(shared) {
            "ro"
        } else if serving {
            "rw"
        } else {
            "null"
        }
        .to_string(),
        "gtmk" | "stmk" => shared.trace_mask.load(Ordering::Relaxed).to_string(),
        "envi" => envi(shared),
        "hash" if !serving => NOT_SERVING.to_string(),
        _ if !serving => format!("{NOT_SERVING}\n"),
        "srvr" => server_stats(shared, None),
        "stat" => server_stats(shared, Some(peer)),
        "conf" => conf(shared),
        "mntr" => mntr(shared),
        "wchs" => {
            let w = shared.watches.lock().summary();
            format!(
                "{} connections watching {} paths\nTotal watches:{}\n",
                w.connections, w.paths, w.total
            )
        }
        "wchc" => {
            let by_conn = shared.watches.lock().by_connection();
            let mut s = String::new();
            for (conn, paths) in by_conn {
                let _ = writeln!(s, "0x{:x}", session_of(shared, conn));
                for p in paths {
                    let _ = writeln!(s, "\t{p}");
                }
            }
            s.push('\n');
            s
        }
        "wchp" => {
            let by_path = shared.watches.lock().by_path();
            let mut s = String::new();
            for (path, conns) in by_path {
                let _ = writeln!(s, "{path}");
                for c in conns {
                    let _ = writeln!(s, "\t0x{:x}", session_of(shared, c));
                }
            }
            s.push('\n');
            s
        }
        "crst" => {
            reset_connection_stats(shared);
            "Connection stats reset.\n".to_string()
        }
        "srst" => {
            shared.stats.reset();
            "Server stats reset.\n".to_string()
        }
        "dirs" => {
            let (d, l) = dir_sizes(shared);
            format!("datadir_size: {d}\nlogdir_size: {l}\n")
        }
        "cons" => {
            let mut s = String::new();
            if let Some(p) = peer {
                own_line(&mut s, p);
            }
            for c in sorted_conns(shared) {
                connection_line(&mut s, shared, &c, false);
            }
            s.push('\n');
            s
        }
        "dump" => dump(shared, peer),
        "hash" => {
            let mut s = String::new();
            for d in shared.tree.read().digest_log() {
                let _ = writeln!(s, "{:x}: {}", d.zxid, d.digest);
            }
            s
        }
        _ => format!("{NOT_SERVING}\n"),
    }
}

/// The session a connection serves (0 before its handshake).
fn session_of(shared: &Shared, conn: crate::watch_manager::ConnId) -> i64 {
    shared
        .conns
        .lock()
        .get(&conn)
        .map(|c| c.session_id.load(Ordering::Relaxed))
        .unwrap_or(0)
}

/// The client connections, oldest first.
pub fn sorted_conns(shared: &Shared) -> Vec<Arc<ConnHandle>> {
    let mut v: Vec<Arc<ConnHandle>> = shared.conns.lock().values().cloned().collect();
    v.sort_by_key(|c| c.id);
    v
}

/// `crst`: Java's `resetAllConnectionStats`.
pub fn reset_connection_stats(shared: &Shared) {
    for c in shared.conns.lock().values() {
        c.packets_received.store(0, Ordering::Relaxed);
        c.packets_sent.store(0, Ordering::Relaxed);
        c.stats.reset();
    }
}

/// `datadir_size` / `logdir_size`: bytes of the files in the two `version-2` directories.
pub fn dir_sizes(shared: &Shared) -> (u64, u64) {
    let st = &shared.settings;
    (
        dir_size(&st.data_dir.join("version-2")),
        dir_size(&st.data_log_dir.join("version-2")),
    )
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// An address as Java's `InetSocketAddress.toString` prints an unresolved-name socket address:
/// `/<ip>:<port>`, IPv6 in full uncompressed form without brackets.
pub fn java_addr(a: SocketAddr) -> String {
    format!("/{}:{}", java_ip(a), a.port())
}

/// The IP part of [`java_addr`].
pub fn java_ip(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => {
            if let Some(v4) = v6.ip().to_ipv4_mapped() {
                return v4.to_string();
            }
            v6.ip()
                .segments()
                .iter()
                .map(|s| format!("{s:x}"))
                .collect::<Vec<_>>()
                .join(":")
        }
    }
}

/// The four-letter connection itself, as Java lists it while answering (`[0]`, one packet in).
fn own_line(s: &mut String, peer: SocketAddr) {
    let _ = writeln!(s, " {}[0](queued=0,recved=1,sent=0)", java_addr(peer));
}

/// `ServerCnxn.dumpConnectionInfo` plus the newline `stat`/`cons` print after it.
fn connection_line(s: &mut String, shared: &Shared, c: &ConnHandle, brief: bool) {
    let _ = write!(
        s,
        " {}[1](queued={},recved={},sent={}",
        java_addr(c.remote),
        c.pending.load(Ordering::Relaxed),
        c.packets_received.load(Ordering::Relaxed),
        c.packets_sent.load(Ordering::Relaxed)
    );
    let sid = c.session_id.load(Ordering::Relaxed);
    if !brief && sid != 0 {
        let st = c.stats.get();
        let _ = write!(
            s,
            ",sid=0x{:x},lop={},est={},to={}",
            sid,
            st.last_op,
            c.established_ms.load(Ordering::Relaxed),
            c.session_timeout_ms.load(Ordering::Relaxed)
        );
        if st.last_cxid >= 0 {
            let _ = write!(s, ",lcxid=0x{:x}", st.last_cxid);
        }
        let _ = write!(
            s,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            st.last_zxid,
            st.last_response_ms,
            st.last_latency,
            st.min_latency(),
            st.avg_latency(),
            st.max_latency
        );
    }
    let _ = shared;
    s.push_str(")\n");
}

/// The server state word of `srvr`'s `Mode:` and `mntr`'s `zk_server_state`.
pub fn server_state(shared: &Shared) -> &'static str {
    match &shared.quorum {
        None => "standalone",
        Some(q) if q.is_read_only() => "read-only",
        Some(q) => q.role().mode_word(),
    }
}

/// True while serving read-only clients only.
pub fn read_only(shared: &Shared) -> bool {
    shared.quorum.as_ref().is_some_and(|q| q.is_read_only())
}

/// Alive client connections as Java counts them (four-letter connections being answered too).
pub fn alive_connections(shared: &Shared) -> usize {
    shared.conns.lock().len() + shared.stats.four_letter_conns.load(Ordering::Relaxed)
}

/// Requests received and not yet answered.
pub fn outstanding_requests(shared: &Shared) -> usize {
    shared
        .conns
        .lock()
        .values()
        .map(|c| c.pending.load(Ordering::Relaxed))
        .sum()
}

/// `srvr`, or `stat` (with the client list) when `stat_peer` is given.
pub fn server_stats(shared: &Shared, stat_peer: Option<Option<SocketAddr>>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Zookeeper version: {}", shared.settings.version);
    if read_only(shared) {
        s.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if let Some(peer) = stat_peer {
        s.push_str("Clients:\n");
        if let Some(p) = peer {
            own_line(&mut s, p);
        }
        for c in sorted_conns(shared) {
            connection_line(&mut s, shared, &c, true);
        }
        s.push('\n');
    }
    let (min, avg, max) = shared.stats.latency_summary();
    let _ = writeln!(
        s,
        "Latency min/avg/max: {}/{}/{}",
        min,
        java_double(avg),
        max
    );
    let _ = writeln!(
        s,
        "Received: {}",
        shared.stats.packets_received.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        s,
        "Sent: {}",
        shared.stats.packets_sent.load(Ordering::Relaxed)
    );
    let _ = writeln!(s, "Connections: {}", alive_connections(shared));
    let _ = writeln!(s, "Outstanding: {}", outstanding_requests(shared));
    let tree = shared.tree.read();
    let _ = writeln!(s, "Zxid: 0x{:x}", tree.last_processed_zxid());
    let _ = writeln!(s, "Mode: {}", server_state(shared));
    let _ = writeln!(s, "Node count: {}", tree.node_count() + 1);
    if let Some(q) = shared.quorum.as_ref().filter(|q| q.is_leader()) {
        let g = *q.gauges.lock();
        let _ = writeln!(
            s,
            "Proposal sizes last/min/max: {}/{}/{}",
            g.proposal_last, g.proposal_min, g.proposal_max
        );
    }
    s
}

fn conf(shared: &Shared) -> String {
    let st = &shared.settings;
    let (dsize, lsize) = dir_sizes(shared);
    let mut s = String::new();
    let _ = writeln!(s, "clientPort={}", st.client_addr.port());
    let _ = writeln!(s, "secureClientPort={}", st.secure_client_port);
    let _ = writeln!(s, "dataDir={}", st.data_dir.join("version-2").display());
    let _ = writeln!(s, "dataDirSize={dsize}");
    let _ = writeln!(
        s,
        "dataLogDir={}",
        st.data_log_dir.join("version-2").display()
    );
    let _ = writeln!(s, "dataLogSize={lsize}");
    let _ = writeln!(s, "tickTime={}", st.tick_ms);
    let _ = writeln!(s, "maxClientCnxns={}", st.max_client_cnxns);
    let _ = writeln!(s, "minSessionTimeout={}", st.min_session_timeout_ms);
    let _ = writeln!(s, "maxSessionTimeout={}", st.max_session_timeout_ms);
    let _ = writeln!(
        s,
        "clientPortListenBacklog={}",
        st.client_port_listen_backlog
    );
    match &shared.quorum {
        None => {
            let _ = writeln!(s, "serverId=0");
        }
        Some(q) => {
            let i = &q.info;
            let _ = writeln!(s, "serverId={}", q.my_sid);
            let _ = writeln!(s, "initLimit={}", i.init_limit);
            let _ = writeln!(s, "syncLimit={}", i.sync_limit);
            let _ = writeln!(s, "electionAlg=3");
            let _ = writeln!(s, "electionPort={}", i.election_ports);
            let _ = writeln!(s, "quorumPort={}", i.quorum_ports);
            let _ = writeln!(s, "peerType={}", i.peer_type);
            let _ = writeln!(s, "membership: ");
            s.push_str(&i.membership);
        }
    }
    s
}

fn mntr(shared: &Shared) -> String {
    let mut s = String::new();
    for (k, v) in metrics::monitor_values(shared) {
        let v = match v {
            MetricValue::Int(i) => i.to_string(),
            MetricValue::Double(d) => java_double(d),
            MetricValue::Text(t) => t,
        };
        let _ = writeln!(s, "zk_{k}\t{v}");
    }
    s
}

/// `envi`'s key/value pairs (Java's `Environment.list()`), with this process's values: the JVM
/// keys a native server has no value for print `<NA>` (Java's own marker for an unset one).
pub fn environment(shared: &Shared) -> Vec<(&'static str, String)> {
    let na = || "<NA>".to_string();
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64".to_string(),
        "x86" => "i386".to_string(),
        a => a.to_string(),
    };
    let os = match std::env::consts::OS {
        "linux" => "Linux".to_string(),
        "macos" => "Mac OS X".to_string(),
        o => o.to_string(),
    };
    let (free, max, total) = memory_mb();
    vec![
        ("zookeeper.version", shared.settings.version.clone()),
        ("host.name", read("/proc/sys/kernel/hostname")),
        ("java.version", na()),
        ("java.vendor", na()),
        ("java.home", na()),
        ("java.class.path", na()),
        ("java.library.path", na()),
        (
            "java.io.tmpdir",
            std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into()),
        ),
        ("java.compiler", na()),
        ("os.name", os),
        ("os.arch", arch),
        ("os.version", read("/proc/sys/kernel/osrelease")),
        ("user.name", user_name()),
        ("user.home", std::env::var("HOME").unwrap_or_default()),
        (
            "user.dir",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
        ("os.memory.free", format!("{free}MB")),
        ("os.memory.max", format!("{max}MB")),
        ("os.memory.total", format!("{total}MB")),
    ]
}

fn envi(shared: &Shared) -> String {
    let mut s = String::from("Environment:\n");
    for (k, v) in environment(shared) {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

/// The login name of the effective user (`/etc/passwd`), else `$USER`.
fn user_name() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        });
    if let (Some(uid), Ok(pw)) = (uid, std::fs::read_to_string("/etc/passwd")) {
        for line in pw.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2] == uid {
                return f[0].to_string();
            }
        }
    }
    std::env::var("USER").unwrap_or_default()
}

/// (free, max, total) in MiB for `os.memory.*`. A native process has no heap: max is the
/// memory it may use (cgroup limit, else the machine's), total what it holds (RSS), free is
/// max − total.
pub fn memory_mb() -> (u64, u64, u64) {
    let kb = |text: &str, key: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = kb(&status, "VmRSS:").unwrap_or(0) * 1024;
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mut max = kb(&meminfo, "MemTotal:").unwrap_or(0) * 1024;
    if let Ok(l) = std::fs::read_to_string("/sys/fs/cgroup/memory.max") {
        if let Ok(v) = l.trim().parse::<u64>() {
            max = max.min(v);
        }
    }
    let mb = 1024 * 1024;
    (max.saturating_sub(rss) / mb, max / mb, rss / mb)
}

/// Java's `Date.toString()` (`EEE MMM dd HH:mm:ss zzz yyyy`) of a wall-clock time, in UTC.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Session expiry buckets as wall-clock ms → session ids.
pub fn session_buckets(shared: &Shared) -> Vec<(i64, Vec<i64>)> {
    let offset = wall_ms() - shared.now_ms() as i64;
    shared
        .sessions
        .lock()
        .buckets()
        .into_iter()
        .map(|(at, mut ids)| {
            ids.sort_unstable();
            (at as i64 + offset, ids)
        })
        .collect()
}

fn dump(shared: &Shared, peer: Option<SocketAddr>) -> String {
    let mut s = String::from("SessionTracker dump:\n");
    let buckets = session_buckets(shared);
    let total: usize = buckets.iter().map(|(_, v)| v.len()).sum();
    let _ = writeln!(s, "Session Sets ({})/({}):", buckets.len(), total);
    for (at, ids) in &buckets {
        let _ = writeln!(s, "{} expire at {}:", ids.len(), java_date(*at));
        for id in ids {
            let _ = writeln!(s, "\t0x{id:x}");
        }
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
    // Java's NIO factory expires idle connections: last activity + session timeout (sessionless
    // ones after 10 s), bucketed by 10 s.
    let now = wall_ms();
    let start_wall = now - shared.now_ms() as i64;
    let round = |t: i64| (t / SESSIONLESS_CNXN_TIMEOUT_MS + 1) * SESSIONLESS_CNXN_TIMEOUT_MS;
    let mut sets: std::collections::BTreeMap<i64, Vec<String>> = std::collections::BTreeMap::new();
    if let Some(p) = peer {
        sets.entry(round(now + SESSIONLESS_CNXN_TIMEOUT_MS))
            .or_default()
            .push(format!("ip: {} sessionId: 0x0", java_addr(p)));
    }
    for c in sorted_conns(shared) {
        let sid = c.session_id.load(Ordering::Relaxed);
        let st = c.stats.get();
        let last = if st.last_response_ms > 0 {
            start_wall + st.last_response_ms
        } else {
            c.established_ms.load(Ordering::Relaxed)
        };
        let to = if sid != 0 {
            c.session_timeout_ms.load(Ordering::Relaxed)
        } else {
            SESSIONLESS_CNXN_TIMEOUT_MS
        };
        sets.entry(round(last + to)).or_default().push(format!(
            "ip: {} sessionId: 0x{:x}",
            java_addr(c.remote),
            sid
        ));
    }
    let n: usize = sets.values().map(Vec::len).sum();
    let _ = writeln!(s, "Connections Sets ({})/({}):", sets.len(), n);
    for (at, lines) in sets {
        let _ = writeln!(s, "{} expire at {}:", lines.len(), java_date(at));
        for l in lines {
            let _ = writeln!(s, "\t{l}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_java() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_795_305_529_000), "Sat Nov 21 23:58:49 UTC 2026");
    }

    #[tokio::test]
    async fn not_serving_and_whitelist_texts() {
        use crate::settings::{FourLetterWhitelist, ServerSettings};
        let dir = std::env::temp_dir().join(format!("fk-4lw-{}", std::process::id()));
        let mut st = ServerSettings::standalone("127.0.0.1:0".parse().unwrap(), dir);
        st.four_letter_whitelist = FourLetterWhitelist::All;
        let h = crate::server::start(st, crate::StartState::empty())
            .await
            .unwrap();
        let shared = h.shared.clone();
        assert!(output(&shared, "srvr").ends_with("Mode: standalone\nNode count: 5\n"));
        shared.serving.store(false, Ordering::Release);
        let ns = format!("{NOT_SERVING}\n");
        for cmd in [
            "srvr", "stat", "conf", "mntr", "cons", "crst", "srst", "dirs", "dump", "wchs", "wchc",
            "wchp",
        ] {
            assert_eq!(output(&shared, cmd), ns, "{cmd}");
        }
        assert_eq!(output(&shared, "hash"), NOT_SERVING);
        assert_eq!(output(&shared, "ruok"), "imok");
        assert_eq!(output(&shared, "isro"), "null");
        assert_eq!(output(&shared, "gtmk"), "306");
        assert!(output(&shared, "envi").starts_with("Environment:\nzookeeper.version="));
        h.shutdown();
    }

    #[test]
    fn whitelist_text() {
        let w = crate::settings::FourLetterWhitelist::parse(" ruok , conf");
        assert!(w.allows("srvr") && w.allows("ruok") && !w.allows("stat"));
    }

    #[test]
    fn ipv6_like_java() {
        let a: SocketAddr = "[::1]:2181".parse().unwrap();
        assert_eq!(java_addr(a), "/0:0:0:0:0:0:0:1:2181");
    }
}
