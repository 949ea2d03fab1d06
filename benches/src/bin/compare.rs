//! `compare`: Java ZooKeeper 3.8 (side A) vs ferrokeeper (side B, any command) on the same
//! disk and the same client, workloads run in alternation (A B A B …), plus memory, CPU,
//! restart time, snapshot size, and a 3-node ensemble when side B supports it.
//! Writes a Markdown report, a PNG chart and optionally JSON.

// `side` (0 = A, 1 = B) indexes several parallel per-side arrays at once; an index loop is clearer.
#![allow(clippy::needless_range_loop)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Parser;
use serde::Serialize;

use ferro_bench::chart::{self, Series};
use ferro_bench::procs::{self, ServerProc};
use ferro_bench::stats::{fmt_us, median, table, RunResult};
use ferro_bench::sysfacts::{self, FsyncRate, Rtt};
use ferro_bench::workload::{self, data_path, LoadConfig, Workload};

#[derive(Parser, Debug, Clone)]
#[command(
    about = "Side-by-side benchmark: Java ZooKeeper vs ferrokeeper",
    args_override_self = true
)]
struct Args {
    #[arg(long, default_value = "java-zk-3.8")]
    a_name: String,
    /// Side A command; `java` = the Debian ZooKeeper jars, else a template with `{cfg}`.
    #[arg(long, default_value = "java")]
    a_cmd: String,
    #[arg(long, default_value = "ferrokeeper")]
    b_name: String,
    /// Side B command; template with `{cfg}` replaced by the zoo.cfg path (`java` allowed).
    #[arg(
        long,
        default_value = "target/release/ferrokeeper start-foreground {cfg}"
    )]
    b_cmd: String,
    /// Java heap limit (-Xmx) for Java sides.
    #[arg(long, default_value = "2g")]
    xmx: String,
    /// Where data dirs go (default: a fresh dir under $TMPDIR); removed unless --keep.
    #[arg(long)]
    workdir: Option<PathBuf>,
    #[arg(long)]
    keep: bool,
    /// First of ~100 loopback ports used.
    #[arg(long, default_value_t = 23100)]
    base_port: u16,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measured seconds per workload run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    #[arg(long, default_value_t = 16)]
    sessions: usize,
    #[arg(long, default_value_t = 4)]
    inflight: usize,
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Pre-populated znodes for the workload phase.
    #[arg(long, default_value_t = 10_000)]
    znodes: usize,
    #[arg(long, default_value_t = 90)]
    read_pct: u32,
    #[arg(long, default_value_t = 5)]
    multi_ops: usize,
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,set,get,exists,children,mixed,multi,watch-fanout"
    )]
    workloads: Vec<Workload>,
    /// Session counts for the throughput-vs-sessions chart.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    sweep: Vec<usize>,
    #[arg(long, value_enum, value_delimiter = ',', default_value = "get,set")]
    sweep_workloads: Vec<Workload>,
    #[arg(long, default_value_t = 3.0)]
    sweep_duration: f64,
    /// Alternating rounds of the sweep; the chart plots the median per point.
    #[arg(long, default_value_t = 2)]
    sweep_rounds: usize,
    /// Znode counts (100 B each unless --payload) at which server RSS is recorded.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    rss_counts: Vec<usize>,
    /// setData ops for the CPU figure (reported per 10k). 100k by default so the snapshots
    /// every ~50k–100k txns are amortised instead of landing, or not, in a short window.
    #[arg(long, default_value_t = 100_000)]
    cpu_writes: u64,
    #[arg(long, default_value_t = 100_000)]
    cpu_reads: u64,
    #[arg(long)]
    no_ensemble: bool,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "set,get,mixed"
    )]
    ensemble_workloads: Vec<Workload>,
    /// Seconds side B gets to form a 3-node ensemble before it is recorded as unsupported.
    #[arg(long, default_value_t = 20.0)]
    ensemble_timeout: f64,
    /// Seconds-long CI mode: small counts, one round; exits 0 when everything ran.
    #[arg(long)]
    smoke: bool,
    /// Markdown report (default docs/benchmarks.md; in --smoke, WORKDIR/benchmarks-smoke.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// PNG chart (default docs/benchmarks-throughput.png; in --smoke, next to the report).
    #[arg(long)]
    chart: Option<PathBuf>,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Skip phases (for development): any of standalone,sweep,resources,ensemble.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

impl Args {
    fn apply_smoke(&mut self) {
        if !self.smoke {
            return;
        }
        self.rounds = 1;
        self.duration = 2.0;
        self.warmup = 0.3;
        self.sessions = self.sessions.min(4);
        self.znodes = 1000;
        self.watchers = self.watchers.min(20);
        self.sweep = vec![1, 4];
        self.sweep_duration = 1.0;
        self.sweep_rounds = 1;
        self.rss_counts = vec![1000, 5000];
        self.cpu_writes = 1000;
        self.cpu_reads = 5000;
    }
}

/// How to start one server of a side.
#[derive(Debug, Clone, Serialize)]
struct Side {
    name: String,
    cmd: String,
    #[serde(skip)]
    xmx: String,
}

impl Side {
    fn argv(&self, cfg: &Path, log_dir: &Path) -> Vec<String> {
        if self.cmd.trim() == "java" {
            vec![
                "java".into(),
                format!("-Xmx{}", self.xmx),
                format!("-Dzookeeper.log.dir={}", log_dir.display()),
                "-Dzookeeper.root.logger=WARN,CONSOLE".into(),
                "-cp".into(),
                "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar".into(),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
                cfg.display().to_string(),
            ]
        } else {
            self.cmd
                .split_whitespace()
                .map(|w| w.replace("{cfg}", &cfg.display().to_string()))
                .collect()
        }
    }

    fn describe(&self) -> String {
        if self.cmd.trim() == "java" {
            format!(
                "java -Xmx{} -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg",
                self.xmx
            )
        } else {
            self.cmd.clone()
        }
    }
}

/// One running server with its files.
struct Node {
    proc: ServerProc,
    port: u16,
    dir: PathBuf,
    cfg: PathBuf,
    argv: Vec<String>,
}

/// Quorum ports for a 3-node ensemble member: (myid, [(quorum, election)]).
type Ensemble<'a> = (usize, &'a [(u16, u16, u16)]);

fn write_cfg(dir: &Path, port: u16, ens: Option<Ensemble>) -> anyhow::Result<PathBuf> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let mut s = format!(
        "# written by ferro-bench compare\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n\
         dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n\
         admin.enableServer=false\n4lw.commands.whitelist=*\nforceSync=yes\n",
        data.display()
    );
    if let Some((myid, members)) = ens {
        std::fs::write(data.join("myid"), format!("{myid}\n"))?;
        for (i, (_c, q, e)) in members.iter().enumerate() {
            s.push_str(&format!("server.{}=127.0.0.1:{q}:{e}\n", i + 1));
        }
    }
    let cfg = dir.join("zoo.cfg");
    std::fs::write(&cfg, s)?;
    Ok(cfg)
}

fn start_node(side: &Side, dir: &Path, port: u16, ens: Option<Ensemble>) -> anyhow::Result<Node> {
    std::fs::create_dir_all(dir)?;
    let cfg = write_cfg(dir, port, ens)?;
    let argv = side.argv(&cfg, dir);
    let proc = ServerProc::spawn(&side.name, &argv, &dir.join("server.log"))?;
    Ok(Node {
        proc,
        port,
        dir: dir.to_path_buf(),
        cfg,
        argv,
    })
}

impl Node {
    fn restart(&mut self, name: &str) -> anyhow::Result<Instant> {
        let t = Instant::now();
        let log = self.dir.join("server-restart.log");
        self.proc = ServerProc::spawn(name, &self.argv, &log)?;
        Ok(t)
    }

    fn wait_standalone(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let t = Instant::now();
        loop {
            if let Some(st) = self.proc.exited() {
                return Err(anyhow!(
                    "{} exited early ({st}); log tail:\n{}",
                    self.proc.name,
                    self.proc.log_tail(20)
                ));
            }
            if procs::mode(self.port).as_deref() == Some("standalone") {
                return Ok(());
            }
            if t.elapsed() > timeout {
                return Err(anyhow!(
                    "{} on port {}: no `Mode: standalone` within {timeout:?}; log tail:\n{}",
                    self.proc.name,
                    self.port,
                    self.proc.log_tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    phase: String,
    round: usize,
    side: usize,
    /// Device-wide flush requests per second during the run (set/create/multi only).
    flushes_per_s: Option<f64>,
    result: RunResult,
}

#[derive(Debug, Clone, Serialize, Default)]
struct Resources {
    side: String,
    rss_empty: u64,
    rss_at: Vec<(usize, u64)>,
    populate_per_s: Vec<(usize, f64)>,
    cpu_s_per_10k_writes: f64,
    cpu_s_per_100k_reads: f64,
    write_ops_s: f64,
    read_ops_s: f64,
    stop_s: f64,
    restart_znodes: usize,
    restart_s: f64,
    rss_after_restart: u64,
    snapshot: Option<(u64, String)>,
    data_dir_bytes: u64,
    errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
struct Report {
    command: String,
    smoke: bool,
    sides: Vec<Side>,
    facts: Vec<(String, String)>,
    fsync: Option<FsyncRate>,
    /// Second probe after all phases: the disk is shared, so one probe can mislead.
    fsync_end: Option<FsyncRate>,
    rtt: Option<Rtt>,
    rows: Vec<Row>,
    resources: Vec<Resources>,
    ensemble: Vec<(String, String)>,
    problems: Vec<String>,
    started: String,
    wall_s: f64,
}

struct Ctx {
    args: Args,
    rt: tokio::runtime::Runtime,
    work: PathBuf,
    sides: [Side; 2],
    report: Report,
}

impl Ctx {
    fn load_cfg(&self, label: &str, servers: Vec<String>, w: Workload) -> LoadConfig {
        let a = &self.args;
        LoadConfig {
            label: label.to_string(),
            servers,
            workload: w,
            sessions: a.sessions,
            inflight: a.inflight,
            payload: a.payload,
            znodes: a.znodes,
            duration: Duration::from_secs_f64(a.duration),
            max_ops: None,
            warmup: Duration::from_secs_f64(a.warmup),
            read_pct: a.read_pct,
            multi_ops: a.multi_ops,
            watchers: a.watchers,
            root: "/ferro-bench".into(),
            cleanup: true,
        }
    }

    /// Runs one load, recording device flushes for write workloads; errors become a problem
    /// entry plus a zero row so the alternation continues.
    fn run_load(&mut self, phase: &str, round: usize, side: usize, cfg: &LoadConfig) {
        let f0 = sysfacts::device_flushes(&self.work);
        let t = Instant::now();
        let res = self.rt.block_on(workload::run(cfg));
        let el = t.elapsed().as_secs_f64();
        let f1 = sysfacts::device_flushes(&self.work);
        let flushes = match (f0, f1, cfg.workload.is_write()) {
            (Some(a), Some(b), true) => Some((b - a) as f64 / el),
            _ => None,
        };
        let result = match res {
            Ok(r) => r,
            Err(e) => {
                self.problem(format!(
                    "{phase} round {round}: {} {} failed: {e:#}",
                    cfg.label,
                    cfg.workload.name()
                ));
                let mut r = RunResult::from_histogram(
                    empty_result(cfg),
                    &ferro_bench::stats::new_histogram(),
                    0,
                    1,
                    0.0,
                );
                r.error_samples = vec![format!("{e:#}")];
                r
            }
        };
        if result.errors > 0 {
            self.problem(format!(
                "{phase} round {round}: {} {}: {} errors, e.g. {:?}",
                cfg.label,
                cfg.workload.name(),
                result.errors,
                result.error_samples
            ));
        }
        eprint!(
            "[{phase} r{round}] {}",
            table(std::slice::from_ref(&result))
                .lines()
                .nth(1)
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
        self.report.rows.push(Row {
            phase: phase.into(),
            round,
            side,
            flushes_per_s: flushes,
            result,
        });
    }

    fn problem(&mut self, p: String) {
        eprintln!("PROBLEM: {p}");
        self.report.problems.push(p);
    }

    /// Pipelined create of data znodes `from..to`; errors become problem entries.
    fn populate(&mut self, servers: &[String], from: usize, to: usize) -> anyhow::Result<u64> {
        let (n, samples) = self.rt.block_on(workload::populate(
            servers,
            "/ferro-bench",
            from,
            to,
            self.args.payload,
            4,
            64,
        ))?;
        if n > 0 {
            self.problem(format!(
                "populate {from}..{to} on {servers:?}: {n} errors, e.g. {samples:?}"
            ));
        }
        Ok(n)
    }

    fn port(&self, off: u16) -> u16 {
        self.args.base_port + off
    }

    /// Standalone A and B side by side: every workload alternates A, B per round; then the
    /// sessions sweep for the chart.
    fn standalone(&mut self) -> anyhow::Result<()> {
        let do_main = !self.args.skip.iter().any(|s| s == "standalone");
        let do_sweep = !self.args.skip.iter().any(|s| s == "sweep");
        if !do_main && !do_sweep {
            return Ok(());
        }
        let mut nodes = Vec::new();
        for i in 0..2 {
            let dir = self.work.join(format!("standalone-{}", i));
            let mut n = start_node(&self.sides[i], &dir, self.port(i as u16), None)?;
            n.wait_standalone(Duration::from_secs(60))?;
            nodes.push(n);
        }
        let servers: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| vec![format!("127.0.0.1:{}", n.port)])
            .collect();
        for (i, n) in nodes.iter().enumerate() {
            // The server's own version line from `srvr`, so the report names what was measured.
            let v = procs::four_letter(n.port, "srvr")
                .ok()
                .and_then(|r| {
                    r.lines().next().map(|l| {
                        l.trim_start_matches("Zookeeper version:")
                            .trim()
                            .to_string()
                    })
                })
                .unwrap_or_default();
            self.report
                .facts
                .push((format!("{} `srvr` version", self.sides[i].name), v));
        }
        for (i, s) in servers.iter().enumerate() {
            let t = Instant::now();
            let errs = self.populate(s, 0, self.args.znodes)?;
            eprintln!(
                "populated {} znodes on {} in {:.1}s ({errs} errors)",
                self.args.znodes,
                self.sides[i].name,
                t.elapsed().as_secs_f64()
            );
        }
        if do_main {
            for round in 1..=self.args.rounds {
                for w in self.args.workloads.clone() {
                    for side in 0..2 {
                        let cfg = self.load_cfg(&self.sides[side].name, servers[side].clone(), w);
                        self.run_load("standalone", round, side, &cfg);
                        self.check_alive(&mut nodes[side]);
                    }
                }
            }
        }
        if do_sweep {
            for round in 1..=self.args.sweep_rounds.max(1) {
                for &s in &self.args.sweep.clone() {
                    for w in self.args.sweep_workloads.clone() {
                        for side in 0..2 {
                            let mut cfg =
                                self.load_cfg(&self.sides[side].name, servers[side].clone(), w);
                            cfg.sessions = s;
                            cfg.duration = Duration::from_secs_f64(self.args.sweep_duration);
                            cfg.warmup = Duration::from_secs_f64(self.args.warmup.min(0.5));
                            self.run_load("sweep", round, side, &cfg);
                            self.check_alive(&mut nodes[side]);
                        }
                    }
                }
            }
        }
        for n in &mut nodes {
            n.proc.stop(Duration::from_secs(10));
        }
        Ok(())
    }

    fn check_alive(&mut self, n: &mut Node) {
        if let Some(st) = n.proc.exited() {
            let tail = n.proc.log_tail(15);
            self.problem(format!(
                "{} exited during the run ({st}); log tail:\n{tail}",
                n.proc.name
            ));
        }
    }

    /// Memory, CPU, restart time and snapshot size, one side at a time on a fresh data dir.
    fn resources(&mut self, side: usize) -> anyhow::Result<Resources> {
        let name = self.sides[side].name.clone();
        let mut r = Resources {
            side: name.clone(),
            ..Default::default()
        };
        let dir = self.work.join(format!("resources-{side}"));
        let mut node = start_node(&self.sides[side], &dir, self.port(10 + side as u16), None)?;
        node.wait_standalone(Duration::from_secs(60))?;
        let servers = vec![format!("127.0.0.1:{}", node.port)];
        // Create the bench root so the empty measurement sees a served, warmed-up server.
        self.populate(&servers, 0, 0)?;
        std::thread::sleep(Duration::from_millis(500));
        r.rss_empty = procs::rss_bytes(node.proc.pid()).unwrap_or(0);
        let mut have = 0;
        for &count in &self.args.rss_counts.clone() {
            let t = Instant::now();
            self.populate(&servers, have, count)?;
            let el = t.elapsed().as_secs_f64();
            r.populate_per_s.push((count, (count - have) as f64 / el));
            have = count;
            settle(node.proc.pid());
            r.rss_at
                .push((count, procs::rss_bytes(node.proc.pid()).unwrap_or(0)));
            eprintln!(
                "[resources] {name}: {count} znodes, RSS {:.1} MiB, populate {:.0}/s",
                r.rss_at.last().map(|x| x.1).unwrap_or(0) as f64 / 1048576.0,
                r.populate_per_s.last().map(|x| x.1).unwrap_or(0.0)
            );
        }
        let total = have;
        // CPU per write / read, measured as the server's utime+stime delta.
        for (w, n) in [
            (Workload::Set, self.args.cpu_writes),
            (Workload::Get, self.args.cpu_reads),
        ] {
            let mut cfg = self.load_cfg(&name, servers.clone(), w);
            cfg.znodes = total.max(1);
            cfg.max_ops = Some(n);
            cfg.warmup = Duration::ZERO;
            cfg.duration = Duration::from_secs(300);
            settle(node.proc.pid());
            let c0 = procs::cpu_seconds(node.proc.pid()).unwrap_or(0.0);
            let res = self.rt.block_on(workload::run(&cfg));
            let c1 = procs::cpu_seconds(node.proc.pid()).unwrap_or(0.0);
            match res {
                Ok(res) if res.ops > 0 => {
                    let per = (c1 - c0) / res.ops as f64;
                    if w == Workload::Set {
                        r.cpu_s_per_10k_writes = per * 10_000.0;
                        r.write_ops_s = res.ops_per_s;
                    } else {
                        r.cpu_s_per_100k_reads = per * 100_000.0;
                        r.read_ops_s = res.ops_per_s;
                    }
                    if res.errors > 0 {
                        r.errors
                            .push(format!("cpu {}: {:?}", w.name(), res.error_samples));
                    }
                }
                Ok(_) => r.errors.push(format!("cpu {}: no ops completed", w.name())),
                Err(e) => r.errors.push(format!("cpu {}: {e:#}", w.name())),
            }
        }
        // Restart to the first served read of the last znode.
        r.stop_s = node.proc.stop(Duration::from_secs(30)).as_secs_f64();
        let t0 = node.restart(&name)?;
        r.restart_znodes = total;
        let probe = data_path("/ferro-bench", total.saturating_sub(1));
        let deadline = Duration::from_secs(600);
        let served = loop {
            if let Some(st) = node.proc.exited() {
                r.errors.push(format!(
                    "exited during restart ({st}): {}",
                    node.proc.log_tail(10)
                ));
                break None;
            }
            if t0.elapsed() > deadline {
                r.errors
                    .push("no read served within 600 s of restart".into());
                break None;
            }
            if std::net::TcpStream::connect_timeout(
                &format!("127.0.0.1:{}", node.port).parse()?,
                Duration::from_millis(200),
            )
            .is_err()
            {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let ok = self.rt.block_on(async {
                let c = tokio::time::timeout(
                    Duration::from_secs(3),
                    zookeeper_client::Client::connector()
                        .with_session_timeout(Duration::from_secs(10))
                        .with_connection_timeout(Duration::from_secs(1))
                        .with_fail_eagerly()
                        .connect(&servers[0]),
                )
                .await;
                match c {
                    Ok(Ok(c)) => matches!(
                        tokio::time::timeout(Duration::from_secs(3), c.get_data(&probe)).await,
                        Ok(Ok(_))
                    ),
                    _ => false,
                }
            });
            if ok {
                break Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(d) = served {
            r.restart_s = d.as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(1000));
        r.rss_after_restart = procs::rss_bytes(node.proc.pid()).unwrap_or(0);
        node.proc.stop(Duration::from_secs(30));
        let (total_bytes, snap) = procs::dir_facts(&node.dir.join("data"));
        r.data_dir_bytes = total_bytes;
        r.snapshot = snap;
        let _ = &node.cfg;
        for e in r.errors.clone() {
            self.problem(format!("resources {name}: {e}"));
        }
        Ok(r)
    }

    /// 3-node ensembles on loopback. Side B gets `ensemble_timeout` to elect; otherwise it is
    /// recorded as not supported and only skipped.
    fn ensemble(&mut self) -> anyhow::Result<()> {
        let mut ensembles: Vec<Option<Vec<Node>>> = Vec::new();
        for side in 0..2 {
            let off = 20 + side as u16 * 20;
            let members: Vec<(u16, u16, u16)> = (0..3)
                .map(|i| {
                    (
                        self.port(off + i),
                        self.port(off + 5 + i),
                        self.port(off + 10 + i),
                    )
                })
                .collect();
            let mut nodes = Vec::new();
            for (i, m) in members.iter().enumerate() {
                let dir = self.work.join(format!("ensemble-{side}/node{}", i + 1));
                nodes.push(start_node(
                    &self.sides[side],
                    &dir,
                    m.0,
                    Some((i + 1, &members)),
                )?);
            }
            let limit = if side == 0 && self.sides[0].cmd.trim() == "java" {
                Duration::from_secs(60)
            } else {
                Duration::from_secs_f64(self.args.ensemble_timeout)
            };
            let t = Instant::now();
            let mut modes = Vec::new();
            let mut failure = None;
            for n in &mut nodes {
                // Poll both the mode and the process, so a node that exits fails fast.
                loop {
                    if let Some(st) = n.proc.exited() {
                        failure = Some(format!(
                            "node on {} exited ({st}): {}",
                            n.port,
                            last_line(&n.proc.log_tail(5))
                        ));
                        break;
                    }
                    if let Some(m) =
                        procs::mode(n.port).filter(|m| m == "leader" || m == "follower")
                    {
                        modes.push(m);
                        break;
                    }
                    if t.elapsed() > limit {
                        failure = Some(format!(
                            "port {}: no leader/follower mode within {limit:?} (srvr says {:?}); last log line: {}",
                            n.port,
                            procs::mode(n.port),
                            last_line(&n.proc.log_tail(5))
                        ));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                if failure.is_some() {
                    break;
                }
            }
            let name = self.sides[side].name.clone();
            match failure {
                None => {
                    self.report.ensemble.push((
                        name.clone(),
                        format!(
                            "formed in {:.1}s: {}",
                            t.elapsed().as_secs_f64(),
                            modes.join(", ")
                        ),
                    ));
                    ensembles.push(Some(nodes));
                }
                Some(f) => {
                    let status = if side == 1 {
                        format!("not supported yet (no leader/follower within {limit:?}): {f}")
                    } else {
                        format!("failed: {f}")
                    };
                    eprintln!("[ensemble] {name}: {status}");
                    self.report.ensemble.push((name, status));
                    drop(nodes);
                    ensembles.push(None);
                }
            }
        }
        if ensembles.iter().any(|e| e.is_none()) {
            return Ok(());
        }
        let servers: Vec<Vec<String>> = ensembles
            .iter()
            .map(|e| {
                e.as_ref()
                    .unwrap()
                    .iter()
                    .map(|n| format!("127.0.0.1:{}", n.port))
                    .collect()
            })
            .collect();
        for s in &servers {
            self.populate(s, 0, self.args.znodes)?;
        }
        for round in 1..=self.args.rounds {
            for w in self.args.ensemble_workloads.clone() {
                for side in 0..2 {
                    let cfg = self.load_cfg(&self.sides[side].name, servers[side].clone(), w);
                    self.run_load("ensemble", round, side, &cfg);
                }
            }
        }
        for e in ensembles.iter_mut().flatten() {
            for n in e.iter_mut() {
                n.proc.stop(Duration::from_secs(10));
            }
        }
        Ok(())
    }
}

fn empty_result(cfg: &LoadConfig) -> RunResult {
    RunResult {
        server: cfg.label.clone(),
        workload: cfg.workload.name().into(),
        sessions: cfg.sessions,
        inflight: cfg.inflight,
        payload: cfg.payload,
        znodes: cfg.znodes,
        ops: 0,
        errors: 0,
        error_samples: vec![],
        elapsed_s: 0.0,
        ops_per_s: 0.0,
        p50_us: 0,
        p90_us: 0,
        p99_us: 0,
        p999_us: 0,
        max_us: 0,
        note: String::new(),
    }
}

/// Waits (≤ 60 s) until the server is idle (< 2 % of a core over 0.5 s), so background
/// snapshots, GC or JIT from earlier phases are not billed to the measured operations.
fn settle(pid: u32) {
    let t = Instant::now();
    let mut last = procs::cpu_seconds(pid).unwrap_or(0.0);
    while t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
        let now = procs::cpu_seconds(pid).unwrap_or(0.0);
        if now - last < 0.01 {
            return;
        }
        last = now;
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1048576.0)
}

fn fmt_count(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn ratio(b: f64, a: f64) -> f64 {
    if a > 0.0 {
        b / a
    } else {
        f64::NAN
    }
}

/// Per-workload table: ops/s and p99 for both sides per round, the B/A ratio per round, median.
fn phase_table(rep: &Report, phase: &str, names: &[String; 2]) -> String {
    let rows: Vec<&Row> = rep.rows.iter().filter(|r| r.phase == phase).collect();
    if rows.is_empty() {
        return "_not run_\n".into();
    }
    let mut workloads: Vec<String> = Vec::new();
    for r in &rows {
        if !workloads.contains(&r.result.workload) {
            workloads.push(r.result.workload.clone());
        }
    }
    let rounds = rows.iter().map(|r| r.round).max().unwrap_or(1);
    let mut s = format!(
        "| workload | round | {a} ops/s | {b} ops/s | **{b}/{a}** | {a} p50 / p99 / max | {b} p50 / p99 / max | errors {a}/{b} |\n|---|---|---|---|---|---|---|---|\n",
        a = names[0],
        b = names[1]
    );
    let mut summary = format!(
        "\n| workload | median {a} ops/s | median {b} ops/s | median of per-round ratios B/A (ops/s) | median p99 ratio B/A |\n|---|---|---|---|---|\n",
        a = names[0],
        b = names[1]
    );
    for w in &workloads {
        let mut ratios = Vec::new();
        let mut p99r = Vec::new();
        let mut opsa = Vec::new();
        let mut opsb = Vec::new();
        for round in 1..=rounds {
            let get = |side: usize| {
                rows.iter()
                    .find(|r| r.round == round && r.side == side && &r.result.workload == w)
                    .map(|r| &r.result)
            };
            let (Some(a), Some(b)) = (get(0), get(1)) else {
                continue;
            };
            let q = ratio(b.ops_per_s, a.ops_per_s);
            ratios.push(q);
            opsa.push(a.ops_per_s);
            opsb.push(b.ops_per_s);
            p99r.push(ratio(b.p99_us as f64, a.p99_us as f64));
            s.push_str(&format!(
                "| {w} | {round} | {:.0} | {:.0} | **{q:.2}** | {} / {} / {} | {} / {} / {} | {}/{} |\n",
                a.ops_per_s,
                b.ops_per_s,
                fmt_us(a.p50_us),
                fmt_us(a.p99_us),
                fmt_us(a.max_us),
                fmt_us(b.p50_us),
                fmt_us(b.p99_us),
                fmt_us(b.max_us),
                a.errors,
                b.errors
            ));
        }
        let finite: Vec<f64> = ratios.iter().copied().filter(|x| x.is_finite()).collect();
        let finite99: Vec<f64> = p99r.iter().copied().filter(|x| x.is_finite()).collect();
        summary.push_str(&format!(
            "| {w} | {:.0} | {:.0} | **{:.2}** | {:.2} |\n",
            median(&opsa),
            median(&opsb),
            median(&finite),
            median(&finite99)
        ));
    }
    s + &summary
}

fn render_markdown(rep: &Report, args: &Args) -> String {
    let names = [rep.sides[0].name.clone(), rep.sides[1].name.clone()];
    let mut s = String::new();
    s.push_str("# ferrokeeper vs Java ZooKeeper 3.8 — benchmarks\n\n");
    s.push_str(&format!(
        "Generated by `ferro-bench compare` on {} ({}; {:.0} s wall). **Ratios are {b}/{a}: above 1 means {b} did more ops/s (or, for p99, had *higher* latency).** Every number comes from one run on a shared 2-core VM where other builds may run at the same time, so treat differences under ~20 % as noise; workloads run in alternation (A B A B …) so drift hits both sides alike.\n\n",
        rep.started,
        if rep.smoke { "smoke run" } else { "full run" },
        rep.wall_s,
        a = names[0],
        b = names[1]
    ));
    s.push_str(&format!(
        "Command that produced this file:\n\n```\n{}\n```\n\n",
        rep.command
    ));
    s.push_str(
        "How to run: `scripts/bench.sh` (builds `ferrokeeper` and `ferro-bench` in release, then runs `compare`; \
         any `compare` option can be appended, e.g. `--rss-counts 100000,1000000`); `scripts/bench.sh --smoke` is the \
         seconds-per-workload CI mode (exits 0 when everything ran; speed is never asserted); \
         `scripts/bench.sh --b-cmd java` is a Java-vs-Java dry run. A single server can be loaded with \
         `cargo run --release -p ferro-bench --bin loadgen -- --servers 127.0.0.1:2181 --workload set,get --sessions 16 --inflight 4 --duration 10 --json out.json`.\n\n",
    );
    let max_rss = args.rss_counts.iter().copied().max().unwrap_or(0);
    if max_rss < 1_000_000 {
        s.push_str(&format!(
            "Note: this run populated at most {} znodes for the memory/restart measurements (the target is 1M; pass `--rss-counts 100000,1000000`).\n\n",
            fmt_count(max_rss)
        ));
    }
    s.push_str("## Machine\n\n| fact | value |\n|---|---|\n");
    for (k, v) in &rep.facts {
        s.push_str(&format!("| {k} | {v} |\n"));
    }
    if let Some(f) = &rep.fsync {
        s.push_str(&format!(
            "| fdatasync rate (4 KiB write + fdatasync, preallocated file, same dir as the data) | **{:.0}/s** (p50 {}, p99 {}) |\n",
            f.per_s,
            fmt_us(f.p50_us),
            fmt_us(f.p99_us)
        ));
    }
    if let Some(f) = &rep.fsync_end {
        s.push_str(&format!(
            "| fdatasync rate, same probe after all phases | **{:.0}/s** (p50 {}, p99 {}) |\n",
            f.per_s,
            fmt_us(f.p50_us),
            fmt_us(f.p99_us)
        ));
    }
    if let Some(r) = &rep.rtt {
        s.push_str(&format!(
            "| loopback TCP round trip (1-byte echo, in-process) | p50 {:.1} µs, p99 {:.1} µs |\n",
            r.p50_us, r.p99_us
        ));
    }
    s.push_str("\n## Settings\n\n");
    for side in &rep.sides {
        s.push_str(&format!("- **{}**: `{}`\n", side.name, side.describe()));
    }
    s.push_str(&format!(
        "- zoo.cfg (both): `tickTime=2000`, `forceSync=yes`, `maxClientCnxns=0`, `admin.enableServer=false`, `4lw.commands.whitelist=*`, `clientPortAddress=127.0.0.1`, default `snapCount`; data dirs side by side under one temp dir on the disk above.\n\
         - Client: `zookeeper-client` 0.11 (Rust, async), {} tokio worker threads, in the same process as the harness; latency is measured per request from issue to reply, HDR histogram (µs, 3 digits).\n\
         - Workloads: {} sessions × {} requests in flight, {} B payloads, {} pre-populated znodes (100 per parent), {} s measured after {} s warmup, {} rounds; `mixed` = {}% getData / setData; `multi` = {} setData per multi (ops = multis); `watch-fanout` = one writer, {} watchers (ops = notifications, latency = setData issue → notification).\n\n",
        args.client_threads,
        args.sessions,
        args.inflight,
        args.payload,
        args.znodes,
        args.duration,
        args.warmup,
        args.rounds,
        args.read_pct,
        args.multi_ops,
        args.watchers
    ));
    s.push_str("## Standalone throughput and latency\n\n");
    s.push_str(&phase_table(rep, "standalone", &names));
    // Group commit analysis on the set workload.
    s.push_str("\n### Writes vs. the disk's fsync budget\n\n");
    let probes: Vec<f64> = [&rep.fsync, &rep.fsync_end]
        .iter()
        .filter_map(|f| f.as_ref().map(|f| f.per_s))
        .collect();
    if !probes.is_empty() {
        let f_per_s = probes.iter().sum::<f64>() / probes.len() as f64;
        s.push_str(&format!(
            "The disk probe (4 KiB write + fdatasync loop) gave {} fdatasync/s; it swings widely on this shared disk \
             (other sessions run fsync-heavy tests), so the estimate below uses the *device flush requests observed during \
             each side's own `set` runs* (`/sys/dev/block/M:m/stat` field 16; whole device, so other processes' flushes \
             inflate it and the writes-per-flush figure is a lower bound). A synchronously committing server can do at most \
             flushes/s × writes per group commit; group size ≈ write ops/s ÷ flushes/s, bounded by the writes outstanding.\n\n",
            probes.iter().map(|p| format!("{p:.0}")).collect::<Vec<_>>().join(" (start) and ") + " (end)"
        ));
        let depth = args.sessions * args.inflight;
        for side in 0..2 {
            let sets: Vec<&Row> = rep
                .rows
                .iter()
                .filter(|r| r.phase == "standalone" && r.side == side && r.result.workload == "set")
                .collect();
            if sets.is_empty() {
                continue;
            }
            let w = median(&sets.iter().map(|r| r.result.ops_per_s).collect::<Vec<_>>());
            let fl = median(
                &sets
                    .iter()
                    .filter_map(|r| r.flushes_per_s)
                    .collect::<Vec<_>>(),
            );
            if fl <= 0.0 {
                continue;
            }
            let group = w / fl;
            s.push_str(&format!(
                "- **{}** `set` (medians over rounds): {:.0} writes/s, {:.0} device flushes/s → **≥ {:.1} writes per group commit** \
                 (of {} outstanding). If every flush committed all {} outstanding writes the ceiling would be {:.0}/s; it reaches \
                 {:.0} % of that. At the mean probe rate ({:.0} fdatasync/s) the same group size would allow {:.0} writes/s.\n",
                names[side],
                w,
                fl,
                group,
                depth,
                depth,
                fl * depth as f64,
                100.0 * w / (fl * depth as f64),
                f_per_s,
                f_per_s * group
            ));
        }
    }

    s.push_str(
        "\n## Throughput vs. sessions\n\n![throughput vs sessions](benchmarks-throughput.png)\n\n",
    );
    let sweep: Vec<&Row> = rep.rows.iter().filter(|r| r.phase == "sweep").collect();
    if !sweep.is_empty() {
        s.push_str(&format!(
            "| workload | sessions | {a} ops/s | {b} ops/s | {b}/{a} | {a} p99 | {b} p99 |\n|---|---|---|---|---|---|---|\n",
            a = names[0],
            b = names[1]
        ));
        let mut wls: Vec<String> = Vec::new();
        for r in &sweep {
            if !wls.contains(&r.result.workload) {
                wls.push(r.result.workload.clone());
            }
        }
        for w in &wls {
            let a = sweep_points(rep, 0, w);
            let b = sweep_points(rep, 1, w);
            for (pa, pb) in a.iter().zip(b.iter()).filter(|(pa, pb)| pa.0 == pb.0) {
                s.push_str(&format!(
                    "| {w} | {} | {:.0} | {:.0} | {:.2} | {} | {} |\n",
                    pa.0,
                    pa.1,
                    pb.1,
                    ratio(pb.1, pa.1),
                    fmt_us(pa.2 as u64),
                    fmt_us(pb.2 as u64)
                ));
            }
        }
        s.push_str(&format!(
            "\nMedians over {} alternating round(s) of {} s each.\n",
            args.sweep_rounds, args.sweep_duration
        ));
    }
    s.push_str("\n## Memory, CPU, restart, snapshot\n\n");
    if rep.resources.is_empty() {
        s.push_str("_not run_\n");
    } else {
        let res = &rep.resources;
        let mut t = String::from("| metric |");
        for r in res {
            t.push_str(&format!(" {} |", r.side));
        }
        t.push_str(if res.len() == 2 {
            " B/A |\n|---|---|---|---|\n"
        } else {
            "\n|---|---|\n"
        });
        let mut line = |label: String, vals: Vec<f64>, f: &dyn Fn(f64) -> String| {
            t.push_str(&format!("| {label} |"));
            for v in &vals {
                t.push_str(&format!(" {} |", f(*v)));
            }
            if vals.len() == 2 {
                t.push_str(&format!(" {:.2} |", ratio(vals[1], vals[0])));
            }
            t.push('\n');
        };
        let mibf = |v: f64| mib(v as u64);
        line(
            "RSS, empty".into(),
            res.iter().map(|r| r.rss_empty as f64).collect(),
            &mibf,
        );
        for (i, (count, _)) in res[0].rss_at.iter().enumerate() {
            line(
                format!(
                    "RSS with {} znodes of {} B",
                    fmt_count(*count),
                    args.payload
                ),
                res.iter()
                    .map(|r| r.rss_at.get(i).map(|x| x.1 as f64).unwrap_or(0.0))
                    .collect(),
                &mibf,
            );
        }
        for (i, (count, _)) in res[0].populate_per_s.iter().enumerate() {
            line(
                format!(
                    "pipelined create rate up to {} (4 sessions × 64 in flight)",
                    fmt_count(*count)
                ),
                res.iter()
                    .map(|r| r.populate_per_s.get(i).map(|x| x.1).unwrap_or(0.0))
                    .collect(),
                &|v| format!("{v:.0}/s"),
            );
        }
        line(
            format!(
                "server CPU s per 10k setData (ran {} writes; includes any snapshot taken meanwhile)",
                args.cpu_writes
            ),
            res.iter().map(|r| r.cpu_s_per_10k_writes).collect(),
            &|v| format!("{v:.2} s"),
        );
        line(
            format!(
                "server CPU s per 100k getData (ran {} reads)",
                args.cpu_reads
            ),
            res.iter().map(|r| r.cpu_s_per_100k_reads).collect(),
            &|v| format!("{v:.2} s"),
        );
        line(
            "stop time (SIGTERM → exit)".into(),
            res.iter().map(|r| r.stop_s).collect(),
            &|v| format!("{v:.2} s"),
        );
        line(
            format!(
                "restart → first served getData, {} znodes",
                fmt_count(res[0].restart_znodes)
            ),
            res.iter().map(|r| r.restart_s).collect(),
            &|v| format!("{v:.2} s"),
        );
        line(
            "RSS after restart".into(),
            res.iter().map(|r| r.rss_after_restart as f64).collect(),
            &mibf,
        );
        line(
            "newest snapshot file".into(),
            res.iter()
                .map(|r| r.snapshot.as_ref().map(|s| s.0 as f64).unwrap_or(0.0))
                .collect(),
            &mibf,
        );
        line(
            "data dir total (snapshots + txn logs)".into(),
            res.iter().map(|r| r.data_dir_bytes as f64).collect(),
            &mibf,
        );
        s.push_str(&t);
        for r in res {
            if let Some((_, n)) = &r.snapshot {
                s.push_str(&format!("\n- {} newest snapshot: `{n}`", r.side));
            } else {
                s.push_str(&format!(
                    "\n- {}: no file named `snapshot*` found in its data dir",
                    r.side
                ));
            }
        }
        s.push_str("\n\nRSS is VmRSS from /proc/PID/status once the server is idle (< 2 % CPU, waited at most 60 s) after populating; CPU is utime+stime from /proc/PID/stat across the run (all threads, incl. JIT/GC for Java). The JVM's RSS depends on `-Xmx` and GC timing, not only on live data.\n");
    }
    s.push_str("\n## 3-node ensemble (loopback)\n\n");
    for (n, st) in &rep.ensemble {
        s.push_str(&format!("- **{n}**: {st}\n"));
    }
    if rep.rows.iter().any(|r| r.phase == "ensemble") {
        s.push('\n');
        s.push_str(&phase_table(rep, "ensemble", &names));
    } else if rep.ensemble.is_empty() {
        s.push_str("_not run_\n");
    } else {
        s.push_str("\nEnsemble workloads were not run (both sides need a working ensemble).\n");
    }
    s.push_str(
        "\n## Not measured here\n\n\
         - Separate client and server machines: client, servers and (in the ensemble) all three members share 2 cores, \
         so CPU-bound numbers measure efficiency under contention more than peak throughput.\n\
         - A separate `dataLogDir` disk, TLS (`secureClientPort`), SASL, observers, large payloads (> 100 B by default), \
         session churn/expiry, and mixed-version ensembles.\n\
         - Latency under an open-loop (fixed-rate) load: the load here is closed-loop (each slot sends its next \
         request when the previous answer arrives), so latency percentiles are at saturation.\n",
    );
    s.push_str("\n## Problems seen\n\n");
    if rep.problems.is_empty() {
        s.push_str("None: no errors, crashes or missing notifications.\n");
    } else {
        for p in &rep.problems {
            s.push_str(&format!("- {}\n", p.replace('\n', " ⏎ ")));
        }
    }
    s
}

/// Sweep points of one side and workload: (sessions, median ops/s, median p99 µs) over rounds.
fn sweep_points(rep: &Report, side: usize, workload: &str) -> Vec<(usize, f64, f64)> {
    let rows: Vec<&Row> = rep
        .rows
        .iter()
        .filter(|r| r.phase == "sweep" && r.side == side && r.result.workload == workload)
        .collect();
    let mut sessions: Vec<usize> = rows.iter().map(|r| r.result.sessions).collect();
    sessions.sort_unstable();
    sessions.dedup();
    sessions
        .into_iter()
        .map(|n| {
            let at: Vec<&&Row> = rows.iter().filter(|r| r.result.sessions == n).collect();
            (
                n,
                median(&at.iter().map(|r| r.result.ops_per_s).collect::<Vec<_>>()),
                median(
                    &at.iter()
                        .map(|r| r.result.p99_us as f64)
                        .collect::<Vec<_>>(),
                ),
            )
        })
        .collect()
}

fn render_chart(rep: &Report, path: &Path) -> anyhow::Result<()> {
    let colors = [
        [
            plotters::style::RGBColor(31, 119, 180),
            plotters::style::RGBColor(130, 180, 220),
        ],
        [
            plotters::style::RGBColor(214, 39, 40),
            plotters::style::RGBColor(240, 150, 120),
        ],
    ];
    let mut series = Vec::new();
    for side in 0..2 {
        let mut wls: Vec<String> = Vec::new();
        for r in rep
            .rows
            .iter()
            .filter(|r| r.phase == "sweep" && r.side == side)
        {
            if !wls.contains(&r.result.workload) {
                wls.push(r.result.workload.clone());
            }
        }
        for (wi, w) in wls.iter().enumerate() {
            let pts: Vec<(f64, f64)> = sweep_points(rep, side, w)
                .into_iter()
                .map(|(n, ops, _)| (n as f64, ops))
                .collect();
            series.push(Series {
                label: format!("{} {w}", rep.sides[side].name),
                points: pts,
                color: colors[side][wi % 2],
            });
        }
    }
    let infl = rep
        .rows
        .iter()
        .find(|r| r.phase == "sweep")
        .map(|r| r.result.inflight)
        .unwrap_or(0);
    chart::render(
        path,
        &format!("Throughput vs sessions ({infl} in flight each; standalone, loopback)"),
        &series,
    )
}

fn main() {
    procs::install_signal_handlers();
    match real_main() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("compare failed: {e:#}");
            std::process::exit(1);
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.apply_smoke();
    let started = Instant::now();
    let work = match &args.workdir {
        Some(w) => w.clone(),
        None => std::env::temp_dir().join(format!("ferro-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    let sides = [
        Side {
            name: args.a_name.clone(),
            cmd: args.a_cmd.clone(),
            xmx: args.xmx.clone(),
        },
        Side {
            name: args.b_name.clone(),
            cmd: args.b_cmd.clone(),
            xmx: args.xmx.clone(),
        },
    ];
    let report = Report {
        command: std::env::args()
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
            .collect::<Vec<_>>()
            .join(" "),
        smoke: args.smoke,
        sides: sides.to_vec(),
        facts: {
            let mut f = sysfacts::machine_facts(&work);
            let rev = |a: &[&str]| {
                std::process::Command::new("git")
                    .args(a)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default()
            };
            let dirty = if rev(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
                ""
            } else {
                " (+ uncommitted changes)"
            };
            f.push((
                "repo commit".into(),
                format!("{}{dirty}", rev(&["rev-parse", "--short", "HEAD"])),
            ));
            f
        },
        started: String::from_utf8_lossy(
            &std::process::Command::new("date")
                .args(["-u", "+%Y-%m-%d %H:%M UTC"])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default(),
        )
        .trim()
        .to_string(),
        ..Default::default()
    };
    // Other work on this shared machine is the main source of noise; record how busy it was.
    let load_start = loadavg();
    let mut ctx = Ctx {
        args: args.clone(),
        rt,
        work: work.clone(),
        sides,
        report,
    };
    eprintln!("workdir {}", work.display());
    let probe = Duration::from_secs_f64(if args.smoke { 0.5 } else { 2.0 });
    ctx.report.fsync = sysfacts::fdatasync_rate(&work, probe).ok();
    ctx.report.rtt = sysfacts::loopback_rtt(if args.smoke { 2000 } else { 20000 }).ok();
    eprintln!("fsync {:?}\nrtt {:?}", ctx.report.fsync, ctx.report.rtt);

    let mut fatal: Option<anyhow::Error> = None;
    if let Err(e) = ctx.standalone() {
        ctx.problem(format!("standalone phase aborted: {e:#}"));
        fatal = Some(e);
    }
    if !args.skip.iter().any(|s| s == "resources") {
        for side in 0..2 {
            match ctx.resources(side) {
                Ok(r) => ctx.report.resources.push(r),
                Err(e) => {
                    ctx.problem(format!(
                        "resources phase for {} aborted: {e:#}",
                        ctx.sides[side].name
                    ));
                    fatal.get_or_insert(e);
                }
            }
        }
    }
    if !args.no_ensemble && !args.skip.iter().any(|s| s == "ensemble") {
        if let Err(e) = ctx.ensemble() {
            ctx.problem(format!("ensemble phase aborted: {e:#}"));
            fatal.get_or_insert(e);
        }
    }
    ctx.report.fsync_end = sysfacts::fdatasync_rate(&work, probe).ok();
    let load_end = loadavg();
    ctx.report.facts.push((
        "load average (1/5/15 min) at start → end".into(),
        format!("{load_start} → {load_end}"),
    ));
    ctx.report.wall_s = started.elapsed().as_secs_f64();
    let out = args.out.clone().unwrap_or_else(|| {
        if args.smoke {
            work.join("benchmarks-smoke.md")
        } else {
            PathBuf::from("docs/benchmarks.md")
        }
    });
    let chart_path = args
        .chart
        .clone()
        .unwrap_or_else(|| out.with_file_name("benchmarks-throughput.png"));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, render_markdown(&ctx.report, &args))?;
    render_chart(&ctx.report, &chart_path)?;
    if let Some(j) = &args.json {
        std::fs::write(j, serde_json::to_string_pretty(&ctx.report)?)?;
    }
    let all: Vec<RunResult> = ctx.report.rows.iter().map(|r| r.result.clone()).collect();
    println!("{}", table(&all));
    println!("report: {}\nchart: {}", out.display(), chart_path.display());
    if !args.keep && args.workdir.is_none() {
        // Keep the markdown if it was written into the workdir (smoke default).
        if out.starts_with(&work) {
            for e in std::fs::read_dir(&work)?.flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&work);
        }
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    Ok(())
}
