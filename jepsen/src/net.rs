//! Private networks: one network namespace per node, all joined by veth pairs to a Linux bridge
//! that lives in a "hub" namespace of its own (so the host's firewall, e.g. Docker's FORWARD
//! DROP with bridge-nf-call-iptables, never sees the bridged traffic), plus one veth from the
//! host namespace to the bridge so the test clients (which run in the host namespace) reach every
//! node. Addresses are 10.77.S.0/24 with S reserved per run by a lock file; node i is 10.77.S.i,
//! the host side 10.77.S.254. Traffic only ever goes to these addresses.
//!
//! Faults: nftables rules inside node namespaces (partitions, one-way drops) and `tc tbf` on a
//! node's interface (throttling).
//!
//! Every run writes a state file (pid, namespaces, mounts, work dir) so that a run that was
//! killed with SIGKILL can be cleaned up later (`ferrokeeper-jepsen cleanup`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::util::{self, pid_alive, run, run_quiet, run_stdin};

/// Directory for lock and state files shared by concurrent runs.
pub fn state_dir() -> PathBuf {
    std::env::temp_dir().join("ferrokeeper-jepsen")
}

/// What a run created, persisted so a later `cleanup` can undo it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunState {
    pub id: String,
    pub pid: i32,
    pub subnet: u8,
    pub namespaces: Vec<String>,
    pub host_veth: String,
    pub mounts: Vec<PathBuf>,
    pub workdir: Option<PathBuf>,
}

impl RunState {
    fn path(id: &str) -> PathBuf {
        state_dir().join(format!("run-{id}.json"))
    }

    pub fn save(&self) -> Result<()> {
        std::fs::create_dir_all(state_dir())?;
        let tmp = Self::path(&self.id).with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, Self::path(&self.id))?;
        Ok(())
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(Self::path(&self.id));
        let _ = std::fs::remove_file(subnet_lock(self.subnet));
    }

    /// Undoes everything this state lists: kills processes left in the namespaces, unmounts,
    /// deletes namespaces (which deletes their veths), removes the work dir and the lock.
    pub fn teardown(&self) {
        for ns in &self.namespaces {
            if let Ok(pids) = run("ip", &["netns", "pids", ns]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    // SAFETY: plain kill(2) of a process inside a namespace this run created.
                    unsafe {
                        libc::kill(pid, libc::SIGCONT);
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        // Give the kernel a moment to reap before unmounting.
        std::thread::sleep(std::time::Duration::from_millis(100));
        for m in &self.mounts {
            let m = m.to_string_lossy();
            run_quiet("umount", &["-l", &m]);
        }
        for ns in self.namespaces.iter().rev() {
            run_quiet("ip", &["netns", "delete", ns]);
        }
        if !self.host_veth.is_empty() {
            run_quiet("ip", &["link", "delete", &self.host_veth]);
        }
        if let Some(dir) = &self.workdir {
            let _ = std::fs::remove_dir_all(dir);
        }
        self.remove();
    }
}

fn subnet_lock(subnet: u8) -> PathBuf {
    state_dir().join(format!("subnet-{subnet}.lock"))
}

/// Reserves a free /24 under 10.77/16: a lock file per subnet (created exclusively), skipping
/// subnets already configured on the host. Stale locks (dead pid) are cleaned up first.
fn reserve_subnet(id: &str, preferred: u8) -> Result<u8> {
    std::fs::create_dir_all(state_dir())?;
    let host_addrs = run("ip", &["-o", "-4", "addr", "show"]).unwrap_or_default();
    for k in 0..250u16 {
        let s = ((preferred as u16 + k) % 250 + 1) as u8;
        if host_addrs.contains(&format!("10.77.{s}.")) {
            continue;
        }
        let lock = subnet_lock(s);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => {
                std::fs::write(&lock, format!("{} {id}\n", std::process::id()))?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A lock whose owner died is reclaimed by `cleanup`; skip it here.
                continue;
            }
            Err(e) => return Err(e).context("creating subnet lock"),
        }
    }
    bail!("no free 10.77.S.0/24 subnet (run `jepsen/run cleanup` to remove stale runs)")
}

/// Removes what runs whose process is gone left behind; returns the ids cleaned.
pub fn cleanup_stale() -> Vec<String> {
    let mut cleaned = Vec::new();
    let Ok(dir) = std::fs::read_dir(state_dir()) else {
        return cleaned;
    };
    let mut live_ids = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("run-") && name.ends_with(".json")) {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(state) = serde_json::from_slice::<RunState>(&bytes) else {
            continue;
        };
        if pid_alive(state.pid) {
            live_ids.push(state.id.clone());
            continue;
        }
        state.teardown();
        cleaned.push(state.id);
    }
    // Subnet locks without a live owner.
    if let Ok(dir) = std::fs::read_dir(state_dir()) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("subnet-") {
                continue;
            }
            let owner = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let pid = owner
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<i32>().ok())
                .unwrap_or(0);
            if !pid_alive(pid) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    // Namespaces of ours with no live run (e.g. the state file was lost).
    if let Ok(list) = run("ip", &["netns", "list"]) {
        for line in list.lines() {
            let ns = line.split_whitespace().next().unwrap_or("");
            if let Some(rest) = ns.strip_prefix("fkj-") {
                let id = rest.split('-').next().unwrap_or("");
                if !live_ids.iter().any(|l| l == id) {
                    RunState {
                        id: id.to_string(),
                        namespaces: vec![ns.to_string()],
                        ..Default::default()
                    }
                    .teardown_namespaces_only();
                    if !cleaned.iter().any(|c| c == id) {
                        cleaned.push(id.to_string());
                    }
                }
            }
        }
    }
    cleaned
}

impl RunState {
    fn teardown_namespaces_only(&self) {
        let s = RunState {
            mounts: vec![],
            workdir: None,
            host_veth: String::new(),
            subnet: 0,
            ..self.clone()
        };
        for ns in &s.namespaces {
            if let Ok(pids) = run("ip", &["netns", "pids", ns]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    // SAFETY: plain kill(2) of a process inside one of our namespaces.
                    unsafe {
                        libc::kill(pid, libc::SIGCONT);
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
            run_quiet("ip", &["netns", "delete", ns]);
        }
    }
}

/// The private network of one run.
pub struct Network {
    pub id: String,
    pub subnet: u8,
    pub nodes: usize,
    state: RunState,
    torn_down: bool,
}

impl Network {
    /// Creates the hub, the host veth and one namespace per node. On error everything created
    /// so far is removed.
    pub fn create(id: &str, nodes: usize, preferred_subnet: u8, workdir: &Path) -> Result<Self> {
        if nodes == 0 || nodes > 9 {
            bail!("--nodes must be between 1 and 9");
        }
        let subnet = reserve_subnet(id, preferred_subnet)?;
        let mut net = Network {
            id: id.to_string(),
            subnet,
            nodes,
            state: RunState {
                id: id.to_string(),
                pid: std::process::id() as i32,
                subnet,
                namespaces: vec![],
                host_veth: format!("fkj{id}h"),
                mounts: vec![],
                workdir: Some(workdir.to_path_buf()),
            },
            torn_down: false,
        };
        net.state.save()?;
        if let Err(e) = net.build() {
            net.teardown();
            return Err(e);
        }
        Ok(net)
    }

    fn build(&mut self) -> Result<()> {
        let hub = self.hub_ns();
        self.add_ns(&hub)?;
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
        let hv = self.state.host_veth.clone();
        let hp = format!("fkj{}g", self.id);
        run(
            "ip",
            &["link", "add", &hv, "type", "veth", "peer", "name", &hp],
        )?;
        run("ip", &["link", "set", &hp, "netns", &hub])?;
        run(
            "ip",
            &["-n", &hub, "link", "set", &hp, "master", "br0", "up"],
        )?;
        let host_cidr = format!("{}/24", self.host_ip());
        run("ip", &["addr", "add", &host_cidr, "dev", &hv])?;
        run("ip", &["link", "set", &hv, "up"])?;
        for i in 0..self.nodes {
            let ns = self.ns(i);
            self.add_ns(&ns)?;
            let a = format!("fkj{}a{}", self.id, i + 1);
            let b = format!("fkj{}b{}", self.id, i + 1);
            run(
                "ip",
                &["link", "add", &a, "type", "veth", "peer", "name", &b],
            )?;
            run("ip", &["link", "set", &a, "netns", &ns])?;
            run("ip", &["link", "set", &b, "netns", &hub])?;
            run(
                "ip",
                &["-n", &hub, "link", "set", &b, "master", "br0", "up"],
            )?;
            run("ip", &["-n", &ns, "link", "set", &a, "name", "eth0"])?;
            let cidr = format!("{}/24", self.ip(i));
            run("ip", &["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    fn add_ns(&mut self, ns: &str) -> Result<()> {
        run("ip", &["netns", "add", ns])?;
        self.state.namespaces.push(ns.to_string());
        self.state.save()?;
        run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Records a tmpfs mount so teardown unmounts it.
    pub fn register_mount(&mut self, path: &Path) -> Result<()> {
        self.state.mounts.push(path.to_path_buf());
        self.state.save()
    }

    pub fn hub_ns(&self) -> String {
        format!("fkj-{}-hub", self.id)
    }

    /// Namespace of node `i` (0-based).
    pub fn ns(&self, i: usize) -> String {
        format!("fkj-{}-n{}", self.id, i + 1)
    }

    pub fn ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, (i + 1) as u8)
    }

    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, 254)
    }

    /// Runs a command inside node `i`'s namespace.
    pub fn exec(&self, i: usize, args: &[&str]) -> Result<String, util::CmdError> {
        let ns = self.ns(i);
        let mut full = vec!["netns", "exec", ns.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Installs packet drops on node `i`: packets arriving from `drop_from` and packets leaving
    /// for `drop_to` (node indices). Replaces earlier rules atomically; empty lists heal.
    pub fn set_drops(&self, i: usize, drop_from: &[usize], drop_to: &[usize]) -> Result<()> {
        let set = |v: &[usize]| {
            v.iter()
                .map(|j| self.ip(*j).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut rules = String::from("table inet fkj\ndelete table inet fkj\n");
        if !drop_from.is_empty() || !drop_to.is_empty() {
            rules.push_str("table inet fkj {\n");
            rules.push_str(
                "  chain input {\n    type filter hook input priority -10; policy accept;\n",
            );
            if !drop_from.is_empty() {
                rules.push_str(&format!("    ip saddr {{ {} }} drop\n", set(drop_from)));
            }
            rules.push_str(
                "  }\n  chain output {\n    type filter hook output priority -10; policy accept;\n",
            );
            if !drop_to.is_empty() {
                rules.push_str(&format!("    ip daddr {{ {} }} drop\n", set(drop_to)));
            }
            rules.push_str("  }\n}\n");
        }
        let ns = self.ns(i);
        run_stdin(
            "ip",
            &["netns", "exec", &ns, "nft", "-f", "-"],
            Some(&rules),
        )
        .with_context(|| format!("nft rules on node {}", i + 1))?;
        Ok(())
    }

    /// Applies a set of directed cuts: `(a, b)` drops every packet from node a to node b.
    pub fn apply_cuts(&self, cuts: &[(usize, usize)]) -> Result<()> {
        for i in 0..self.nodes {
            let from: Vec<usize> = cuts.iter().filter(|c| c.1 == i).map(|c| c.0).collect();
            let to: Vec<usize> = cuts.iter().filter(|c| c.0 == i).map(|c| c.1).collect();
            self.set_drops(i, &from, &to)?;
        }
        Ok(())
    }

    pub fn heal_partitions(&self) -> Result<()> {
        for i in 0..self.nodes {
            self.set_drops(i, &[], &[])?;
        }
        Ok(())
    }

    /// `tc tbf` on node `i`'s interface (egress).
    pub fn throttle(&self, i: usize, rate: &str) -> Result<()> {
        self.exec(
            i,
            &[
                "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst",
                "16kb", "latency", "400ms",
            ],
        )?;
        Ok(())
    }

    pub fn unthrottle(&self, i: usize) {
        let _ = self.exec(i, &["tc", "qdisc", "del", "dev", "eth0", "root"]);
    }

    /// Leaves the work dir in place at teardown (`--keep`).
    pub fn keep_workdir(&mut self) {
        self.state.workdir = None;
        let _ = self.state.save();
    }

    /// Removes everything (idempotent).
    pub fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        self.state.teardown();
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.teardown();
    }
}
