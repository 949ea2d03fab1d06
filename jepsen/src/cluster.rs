//! Cluster control: the ensemble's nodes as processes, each inside its own network namespace,
//! with per-run directories (and a small tmpfs for each dataLogDir). Start, kill -9, restart,
//! SIGSTOP/SIGCONT, fill the txn-log disk, and find the leader with the `srvr` four-letter word.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::net::Network;
use crate::util::{run, signal_group, sleep_interruptible};

pub const JAVA_CLASSPATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";
/// Logging bindings Debian ships but the jar's manifest lacks (without them the server logs
/// nothing: slf4j falls back to NOP).
const JAVA_LOG_JARS: [&str; 2] = [
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

fn java_classpath() -> String {
    let mut cp = JAVA_CLASSPATH.to_string();
    for jar in JAVA_LOG_JARS {
        if Path::new(jar).is_file() {
            cp.push(':');
            cp.push_str(jar);
        }
    }
    cp
}

pub const JAVA_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// Which server a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    Java,
    Ferrokeeper,
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::Java => "java",
            Impl::Ferrokeeper => "ferrokeeper",
        })
    }
}

impl FromStr for Impl {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "java" | "zookeeper" => Ok(Impl::Java),
            "ferrokeeper" | "fk" => Ok(Impl::Ferrokeeper),
            other => bail!("unknown implementation {other:?} (java or ferrokeeper)"),
        }
    }
}

/// `--impl`: `java`, `ferrokeeper`, `mixed` (ferrokeeper on odd-numbered nodes, Java on even
/// ones) or an explicit comma list, one entry per node.
pub fn parse_impls(spec: &str, nodes: usize) -> Result<Vec<Impl>> {
    match spec {
        "mixed" => Ok((0..nodes)
            .map(|i| {
                if i % 2 == 0 {
                    Impl::Ferrokeeper
                } else {
                    Impl::Java
                }
            })
            .collect()),
        s if s.contains(',') => {
            let v = s
                .split(',')
                .map(|p| p.trim().parse())
                .collect::<Result<Vec<Impl>>>()?;
            if v.len() != nodes {
                bail!("--impl lists {} kinds for {nodes} nodes", v.len());
            }
            Ok(v)
        }
        s => Ok(vec![s.parse()?; nodes]),
    }
}

/// Static settings of the ensemble.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub kinds: Vec<Impl>,
    pub workdir: PathBuf,
    pub tick_ms: u32,
    pub client_port: u16,
    pub ferrokeeper_bin: PathBuf,
    pub java_heap_mb: u32,
    /// Size of each node's dataLogDir tmpfs (0: plain directory, no disk-full fault).
    pub disk_mb: u32,
}

/// One `srvr` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srvr {
    pub mode: String,
    pub zxid: Option<i64>,
}

pub struct Node {
    pub idx: usize,
    pub kind: Impl,
    pub dir: PathBuf,
    child: Option<Child>,
    pub paused: bool,
    pub starts: u32,
    /// The dataLogDir is full (disk fault active).
    pub disk_full: bool,
}

impl Node {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn datalog_dir(&self) -> PathBuf {
        self.dir.join("datalog")
    }
    pub fn cfg_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
    fn filler(&self) -> PathBuf {
        self.datalog_dir().join("jepsen-filler.bin")
    }
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }
}

pub struct Cluster {
    pub net: Network,
    pub nodes: Vec<Node>,
    pub cfg: ClusterConfig,
}

impl Cluster {
    /// Lays out directories and configs (does not start anything).
    pub fn new(mut net: Network, cfg: ClusterConfig) -> Result<Self> {
        let n = cfg.kinds.len();
        let mut nodes = Vec::with_capacity(n);
        for (idx, kind) in cfg.kinds.iter().enumerate() {
            let dir = cfg.workdir.join(format!("n{}", idx + 1));
            let node = Node {
                idx,
                kind: *kind,
                dir,
                child: None,
                paused: false,
                starts: 0,
                disk_full: false,
            };
            std::fs::create_dir_all(node.data_dir())?;
            std::fs::create_dir_all(node.datalog_dir())?;
            if cfg.disk_mb > 0 {
                let p = node.datalog_dir();
                let ps = p.to_string_lossy().into_owned();
                let size = format!("size={}m", cfg.disk_mb);
                run("mount", &["-t", "tmpfs", "-o", &size, "tmpfs", &ps])
                    .with_context(|| format!("mounting tmpfs on {ps}"))?;
                net.register_mount(&p)?;
            }
            if n > 1 {
                std::fs::write(node.data_dir().join("myid"), format!("{}\n", idx + 1))?;
            }
            nodes.push(node);
        }
        let cluster = Cluster { net, nodes, cfg };
        for i in 0..n {
            std::fs::write(cluster.nodes[i].cfg_path(), cluster.zoo_cfg(i))?;
        }
        Ok(cluster)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `host:port` clients use for node `i`.
    pub fn client_addr(&self, i: usize) -> String {
        format!("{}:{}", self.net.ip(i), self.cfg.client_port)
    }

    fn zoo_cfg(&self, i: usize) -> String {
        let node = &self.nodes[i];
        let mut s = String::new();
        s.push_str(&format!("tickTime={}\n", self.cfg.tick_ms));
        s.push_str("initLimit=10\nsyncLimit=5\n");
        s.push_str(&format!("dataDir={}\n", node.data_dir().display()));
        s.push_str(&format!("dataLogDir={}\n", node.datalog_dir().display()));
        s.push_str(&format!("clientPort={}\n", self.cfg.client_port));
        s.push_str(&format!("clientPortAddress={}\n", self.net.ip(i)));
        s.push_str("admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n");
        s.push_str("autopurge.purgeInterval=0\n");
        if self.nodes.len() > 1 {
            for j in 0..self.nodes.len() {
                s.push_str(&format!("server.{}={}:2888:3888\n", j + 1, self.net.ip(j)));
            }
        }
        s
    }

    fn command(&self, i: usize) -> Result<Command> {
        let node = &self.nodes[i];
        let ns = self.net.ns(i);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns]);
        match node.kind {
            Impl::Java => {
                cmd.arg("java")
                    .arg(format!("-Xmx{}m", self.cfg.java_heap_mb))
                    .arg("-XX:+UseSerialGC")
                    .arg(format!("-Dzookeeper.log.dir={}", node.dir.display()))
                    .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
                    .arg("-Dzookeeper.preAllocSize=1024")
                    .arg("-cp")
                    .arg(java_classpath())
                    .arg(JAVA_MAIN)
                    .arg(node.cfg_path());
            }
            Impl::Ferrokeeper => {
                if !self.cfg.ferrokeeper_bin.is_file() {
                    bail!(
                        "ferrokeeper binary not found at {} (build it with `cargo build --release -p ferrokeeper` or pass --ferrokeeper-bin)",
                        self.cfg.ferrokeeper_bin.display()
                    );
                }
                cmd.arg(&self.cfg.ferrokeeper_bin)
                    .arg("start-foreground")
                    .arg(node.cfg_path())
                    .env("JVMFLAGS", "-Dzookeeper.preAllocSize=1024");
            }
        }
        cmd.current_dir(&node.dir);
        Ok(cmd)
    }

    /// Starts node `i` (must not be running).
    pub fn start(&mut self, i: usize) -> Result<()> {
        if self.running(i) {
            return Ok(());
        }
        let mut cmd = self.command(i)?;
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log_path())?;
        writeln!(
            &log,
            "==== jepsen: start #{} of node {} ({}) ====",
            node.starts + 1,
            i + 1,
            node.kind
        )?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: only async-signal-safe calls between fork and exec: a new session (so signals
        // go to the node's process group, not ours) and a parent-death signal, so nodes die with
        // the harness even if it is SIGKILLed. The control thread that spawns lives until
        // cleanup.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning node {}", i + 1))?;
        node.child = Some(child);
        node.paused = false;
        node.starts += 1;
        Ok(())
    }

    pub fn start_all(&mut self) -> Result<()> {
        for i in 0..self.len() {
            self.start(i)?;
        }
        Ok(())
    }

    /// Whether node `i`'s process is alive (reaps it if it exited).
    pub fn running(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            None => false,
            Some(c) => match c.try_wait() {
                Ok(None) => true,
                _ => {
                    self.nodes[i].child = None;
                    self.nodes[i].paused = false;
                    false
                }
            },
        }
    }

    /// kill -9 (after SIGCONT, so a paused node dies too) and reap.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(mut c) = node.child.take() {
            let pid = c.id() as i32;
            signal_group(pid, libc::SIGCONT);
            signal_group(pid, libc::SIGKILL);
            let _ = c.kill();
            let _ = c.wait();
        }
        node.paused = false;
    }

    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.kill(i);
        self.start(i)
    }

    pub fn pause(&mut self, i: usize) {
        if let Some(pid) = self.nodes[i].pid() {
            signal_group(pid, libc::SIGSTOP);
            self.nodes[i].paused = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if let Some(pid) = self.nodes[i].pid() {
            signal_group(pid, libc::SIGCONT);
        }
        self.nodes[i].paused = false;
    }

    /// Fills node `i`'s dataLogDir tmpfs so the next log write fails with ENOSPC.
    pub fn fill_disk(&mut self, i: usize) -> Result<()> {
        if self.cfg.disk_mb == 0 {
            bail!("no tmpfs dataLogDir (--disk-mb 0)");
        }
        let node = &mut self.nodes[i];
        let path = node.filler();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let chunk = vec![0u8; 64 * 1024];
        // tmpfs counts written pages: write until ENOSPC, then top up with small writes.
        loop {
            match f.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let small = [0u8; 512];
        while let Ok(n) = f.write(&small) {
            if n == 0 {
                break;
            }
        }
        node.disk_full = true;
        Ok(())
    }

    pub fn free_disk(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let _ = std::fs::remove_file(node.filler());
        node.disk_full = false;
    }

    /// Asks node `i` `srvr`; `None` if it does not answer with a `Mode:` line.
    pub fn srvr(&self, i: usize) -> Option<Srvr> {
        let text = four_letter(&self.client_addr(i), "srvr", Duration::from_millis(1500)).ok()?;
        parse_srvr(&text)
    }

    /// The node that says `Mode: leader` (or `standalone`).
    pub fn leader(&self) -> Option<usize> {
        (0..self.len()).find(|&i| {
            self.srvr(i)
                .map(|s| s.mode == "leader" || s.mode == "standalone")
                .unwrap_or(false)
        })
    }

    /// Waits until every node answers `srvr` and (ensembles) exactly one says leader.
    pub fn wait_healthy(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            for i in 0..self.len() {
                if self.nodes[i].child.is_some() && !self.running(i) {
                    bail!(
                        "node {} ({}) exited; log tail:\n{}",
                        i + 1,
                        self.nodes[i].kind,
                        self.log_tail(i, 15)
                    );
                }
            }
            let modes: Vec<Option<Srvr>> = (0..self.len()).map(|i| self.srvr(i)).collect();
            let leaders = modes
                .iter()
                .filter(|m| {
                    m.as_ref()
                        .is_some_and(|s| s.mode == "leader" || s.mode == "standalone")
                })
                .count();
            let followers = modes
                .iter()
                .filter(|m| m.as_ref().is_some_and(|s| s.mode == "follower"))
                .count();
            if leaders == 1 && leaders + followers == self.len() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let desc: Vec<String> = modes
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        format!(
                            "n{}={}",
                            i + 1,
                            m.as_ref().map(|s| s.mode.as_str()).unwrap_or("down")
                        )
                    })
                    .collect();
                return Err(anyhow!(
                    "ensemble not healthy after {:?}: {}",
                    timeout,
                    desc.join(" ")
                ));
            }
            if !sleep_interruptible(Duration::from_millis(200)) {
                bail!("interrupted");
            }
        }
    }

    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(self.nodes[i].log_path()).unwrap_or_default();
        let v: Vec<&str> = text.lines().collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }

    /// Kills every node and reaps it.
    pub fn shutdown(&mut self) {
        for i in 0..self.len() {
            self.kill(i);
        }
    }

    /// Copies each node's log and config into `dest/n<i>/`.
    pub fn collect_logs(&self, dest: &Path) {
        for node in &self.nodes {
            let d = dest.join(format!("n{}", node.idx + 1));
            if std::fs::create_dir_all(&d).is_ok() {
                let _ = std::fs::copy(node.log_path(), d.join("server.log"));
                let _ = std::fs::copy(node.cfg_path(), d.join("zoo.cfg"));
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sends a four-letter word, half-closes, reads to EOF.
pub fn four_letter(addr: &str, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    let sa: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let mut s = TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(cmd.as_bytes())?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

pub fn parse_srvr(text: &str) -> Option<Srvr> {
    let mut mode = None;
    let mut zxid = None;
    for line in text.lines() {
        if let Some(m) = line.strip_prefix("Mode:") {
            mode = Some(m.trim().to_string());
        } else if let Some(z) = line.strip_prefix("Zxid:") {
            let z = z.trim().trim_start_matches("0x");
            zxid = i64::from_str_radix(z, 16).ok();
        }
    }
    mode.map(|mode| Srvr { mode, zxid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_parses_mode_and_zxid() {
        let s = parse_srvr("Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000004\nMode: follower\nNode count: 5\n");
        assert_eq!(
            s,
            Some(Srvr {
                mode: "follower".into(),
                zxid: Some(0x1_0000_0004)
            })
        );
        assert_eq!(
            parse_srvr("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }

    #[test]
    fn impls_parse() -> Result<()> {
        assert_eq!(parse_impls("java", 3)?, vec![Impl::Java; 3]);
        assert_eq!(
            parse_impls("mixed", 3)?,
            vec![Impl::Ferrokeeper, Impl::Java, Impl::Ferrokeeper]
        );
        assert_eq!(
            parse_impls("java,fk,java", 3)?,
            vec![Impl::Java, Impl::Ferrokeeper, Impl::Java]
        );
        assert!(parse_impls("java,java", 3).is_err());
        assert!(parse_impls("etcd", 3).is_err());
        Ok(())
    }
}
