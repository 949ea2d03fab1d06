//! One test run: network, ensemble, workloads, nemesis, heal, final reads, checks, report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checker::{self, Check, Status};
use crate::cluster::{parse_impls, Cluster, ClusterConfig, Impl};
use crate::history::{self, NemesisEvent, Op, Recorder, Workload};
use crate::nemesis::{self, Fault, NemesisOpts};
use crate::net::{self, Network};
use crate::timeline;
use crate::util::{have, interrupted, INTERRUPTED};
use crate::workload::{self, ClientBugs, Env, KeyGroup};

/// Everything `run` needs (the CLI fills it).
#[derive(Debug, Clone, Serialize)]
pub struct RunOpts {
    pub nodes: usize,
    pub impl_spec: String,
    pub nemesis: Vec<String>,
    pub workloads: Vec<String>,
    pub time_s: u64,
    pub seed: u64,
    pub results_root: PathBuf,
    pub results_dir: Option<PathBuf>,
    pub ferrokeeper_bin: PathBuf,
    pub tick_ms: u32,
    pub session_timeout_ms: u64,
    pub op_timeout_ms: u64,
    pub disk_mb: u32,
    pub clients_per_node: usize,
    pub ops_per_key: u64,
    pub quiet_s: (f64, f64),
    pub hold_s: (f64, f64),
    pub check_budget_s: u64,
    pub keep: bool,
    pub client_bugs: Vec<String>,
    pub read_mode: String,
}

/// Exit codes.
pub const EXIT_VALID: i32 = 0;
pub const EXIT_INVALID: i32 = 1;
pub const EXIT_UNKNOWN: i32 = 2;
pub const EXIT_ERROR: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Serialize)]
struct RunInfo<'a> {
    id: &'a str,
    opts: &'a RunOpts,
    kinds: Vec<String>,
    faults_injected: usize,
    ops: usize,
    started_unix: u64,
    duration_s: f64,
}

fn timestamp() -> (u64, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Civil date from days since the epoch (Howard Hinnant's algorithm), UTC.
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        secs,
        format!(
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        ),
    )
}

fn log_line(log: &mut String, line: &str) {
    println!("{line}");
    log.push_str(line);
    log.push('\n');
}

fn preflight(kinds: &[Impl], opts: &RunOpts) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("must run as root (network namespaces, nftables, tc, tmpfs)");
    }
    for tool in ["ip", "nft", "tc", "mount", "umount"] {
        if !have(tool) {
            bail!("`{tool}` not found (apt-get install iproute2 nftables mount)");
        }
    }
    if kinds.contains(&Impl::Java) {
        if !have("java") {
            bail!("`java` not found (apt-get install zookeeper)");
        }
        if !Path::new("/usr/share/java/zookeeper.jar").is_file() {
            bail!("/usr/share/java/zookeeper.jar not found (apt-get install zookeeper)");
        }
    }
    if kinds.contains(&Impl::Ferrokeeper) && !opts.ferrokeeper_bin.is_file() {
        bail!(
            "ferrokeeper binary {} not found (cargo build --release -p ferrokeeper, or --ferrokeeper-bin)",
            opts.ferrokeeper_bin.display()
        );
    }
    Ok(())
}

/// Runs one test; returns the exit code.
pub fn run(opts: RunOpts) -> Result<i32> {
    let kinds = parse_impls(&opts.impl_spec, opts.nodes)?;
    let faults: Vec<Fault> = nemesis::parse_nemeses(&opts.nemesis.join(","))?;
    nemesis::validate(&faults, opts.nodes, opts.disk_mb)?;
    let workloads: Vec<Workload> = if opts.workloads.iter().any(|w| w == "all") {
        Workload::ALL.to_vec()
    } else {
        opts.workloads
            .iter()
            .map(|w| {
                Workload::parse(w).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown workload {w:?} (register, seq, set, session, fifo, all)"
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    ClientBugs::parse(&opts.client_bugs)?;
    opts.read_mode.parse::<workload::ReadMode>()?;
    preflight(&kinds, &opts)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        rt.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!("\ninterrupted: healing, stopping nodes, removing namespaces ...");
            INTERRUPTED.store(true, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
        });
    }

    let cleaned = net::cleanup_stale();
    if !cleaned.is_empty() {
        println!("removed leftovers of dead runs: {}", cleaned.join(", "));
    }

    let run_started = Instant::now();
    let (started_unix, stamp) = timestamp();
    let mut idrng = ChaCha8Rng::seed_from_u64(
        started_unix
            ^ (u64::from(std::process::id()) << 20)
            ^ u64::from(Instant::now().elapsed().subsec_nanos()),
    );
    let id = format!("{:06x}", idrng.gen_range(0..0x100_0000u32));
    let kind_label = if kinds.iter().all(|k| *k == kinds[0]) {
        kinds[0].to_string()
    } else {
        "mixed".to_string()
    };
    let results = opts.results_dir.clone().unwrap_or_else(|| {
        opts.results_root.join(format!(
            "{stamp}-{kind_label}-n{}-s{}",
            opts.nodes, opts.seed
        ))
    });
    std::fs::create_dir_all(&results)
        .with_context(|| format!("creating results dir {}", results.display()))?;
    let workdir = std::env::temp_dir().join(format!("fkj-{id}"));
    std::fs::create_dir_all(&workdir)?;

    let mut log = String::new();
    log_line(
        &mut log,
        &format!(
            "ferrokeeper-jepsen run {id}: {} node(s) [{}], nemesis [{}], workloads [{}], reads {}, {} s, seed {}",
            opts.nodes,
            kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(","),
            faults.iter().map(|f| f.name()).collect::<Vec<_>>().join(","),
            workloads.iter().map(|w| w.name()).collect::<Vec<_>>().join(","),
            opts.read_mode,
            opts.time_s,
            opts.seed
        ),
    );
    let net = Network::create(&id, opts.nodes, idrng.gen_range(0..250u8), &workdir)?;
    log_line(
        &mut log,
        &format!(
            "network: namespaces fkj-{id}-n1..n{}, bridge in fkj-{id}-hub, 10.77.{}.0/24; work dir {}",
            opts.nodes,
            net.subnet,
            workdir.display()
        ),
    );
    let cfg = ClusterConfig {
        kinds: kinds.clone(),
        workdir: workdir.clone(),
        tick_ms: opts.tick_ms,
        client_port: 2181,
        ferrokeeper_bin: opts.ferrokeeper_bin.clone(),
        java_heap_mb: 256,
        disk_mb: opts.disk_mb,
    };
    let mut cluster = Cluster::new(net, cfg)?;
    let outcome = drive(
        &rt,
        &mut cluster,
        &opts,
        &faults,
        &workloads,
        &stop,
        &mut log,
        &results,
    );
    cluster.shutdown();
    cluster.collect_logs(&results.join("nodes"));
    if opts.keep {
        // The dataLogDirs are tmpfs mounts that teardown unmounts: copy them out first.
        for node in &cluster.nodes {
            let dst = node.dir.join("datalog-copy");
            let _ = crate::util::run(
                "cp",
                &[
                    "-a",
                    &node.datalog_dir().to_string_lossy(),
                    &dst.to_string_lossy(),
                ],
            );
        }
        cluster.net.keep_workdir();
        println!("--keep: work dir {} left in place", workdir.display());
    }
    // Dropping the cluster removes namespaces, mounts and (unless --keep) the work dir.
    drop(cluster);
    rt.shutdown_timeout(Duration::from_secs(2));
    let _ = std::fs::write(results.join("run.log"), &log);

    let (ops, events, injected) = match outcome {
        Ok(x) => x,
        Err(e) if interrupted() => {
            eprintln!(
                "interrupted ({e:#}); results so far in {}",
                results.display()
            );
            return Ok(EXIT_INTERRUPTED);
        }
        Err(e) => return Err(e),
    };
    if interrupted() {
        history::write_jsonl(&results.join("history.jsonl"), &ops)?;
        eprintln!("interrupted; partial history in {}", results.display());
        return Ok(EXIT_INTERRUPTED);
    }
    history::write_jsonl(&results.join("history.jsonl"), &ops)?;
    history::write_jsonl(&results.join("nemesis.jsonl"), &events)?;
    let info = RunInfo {
        id: &id,
        opts: &opts,
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        faults_injected: injected,
        ops: ops.len(),
        started_unix,
        duration_s: run_started.elapsed().as_secs_f64(),
    };
    std::fs::write(results.join("run.json"), serde_json::to_vec_pretty(&info)?)?;
    let labels: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| format!("n{} {k}", i + 1))
        .collect();
    let code = check_and_report(
        &ops,
        &events,
        &workloads,
        opts.nodes,
        Duration::from_secs(opts.check_budget_s),
        &results,
        &labels,
        &format!(
            "{} x{} | {} | seed {}",
            kind_label,
            opts.nodes,
            faults
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(","),
            opts.seed
        ),
    )?;
    Ok(code)
}

type Driven = (Vec<Op>, Vec<NemesisEvent>, usize);

#[allow(clippy::too_many_arguments)]
fn drive(
    rt: &tokio::runtime::Runtime,
    cluster: &mut Cluster,
    opts: &RunOpts,
    faults: &[Fault],
    workloads: &[Workload],
    stop: &Arc<AtomicBool>,
    log: &mut String,
    results: &Path,
) -> Result<Driven> {
    let t0 = Instant::now();
    cluster.start_all()?;
    cluster
        .wait_healthy(Duration::from_secs(90))
        .context("ensemble did not come up")?;
    log_line(
        log,
        &format!(
            "ensemble up in {:.1}s; leader n{}",
            t0.elapsed().as_secs_f64(),
            cluster.leader().map(|l| l + 1).unwrap_or(0)
        ),
    );
    let rec = Recorder::new(Instant::now());
    let env = Arc::new(Env {
        hosts: (0..cluster.len()).map(|i| cluster.client_addr(i)).collect(),
        rec: rec.clone(),
        stop: stop.clone(),
        session_timeout: Duration::from_millis(opts.session_timeout_ms),
        op_timeout: Duration::from_millis(opts.op_timeout_ms),
        bugs: ClientBugs::parse(&opts.client_bugs)?,
        read_mode: opts.read_mode.parse()?,
    });
    let n = cluster.len();
    let mut wid = 0u32;
    let mut next = || {
        wid += 1;
        wid
    };
    // Worker plan: (workload, wid, node).
    let mut plan: Vec<(Workload, u32, usize, usize)> = Vec::new(); // last: register group
    for g in 0..opts.clients_per_node {
        for node in 0..n {
            if workloads.contains(&Workload::Register) {
                plan.push((Workload::Register, next(), node, g));
            }
        }
    }
    for wl in [
        Workload::Seq,
        Workload::Set,
        Workload::Session,
        Workload::Fifo,
    ] {
        if workloads.contains(&wl) {
            for node in 0..n {
                plan.push((wl, next(), node, 0));
            }
        }
    }
    let session_wids: Vec<u32> = plan
        .iter()
        .filter(|p| p.0 == Workload::Session)
        .map(|p| p.1)
        .collect();
    rt.block_on(workload::setup(&env, &session_wids))?;
    let groups: Vec<Arc<KeyGroup>> = (0..opts.clients_per_node)
        .map(|g| {
            Arc::new(KeyGroup {
                counter: Default::default(),
                base: (g as u64 + 1) * 1_000_000,
                ops_per_key: opts.ops_per_key,
            })
        })
        .collect();
    let mut tasks = Vec::new();
    for (wl, id, node, g) in plan {
        let env = env.clone();
        let seed = opts
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(u64::from(id));
        let task = match wl {
            Workload::Register => rt.spawn(workload::register_worker(
                env,
                id,
                node,
                groups[g].clone(),
                seed,
            )),
            Workload::Seq => rt.spawn(workload::seq_worker(env, id, node, seed)),
            Workload::Set => rt.spawn(workload::set_worker(env, id, node, seed)),
            Workload::Session => rt.spawn(workload::session_worker(env, id, node, seed)),
            Workload::Fifo => rt.spawn(workload::fifo_worker(env, id, node, seed)),
            Workload::Final => continue,
        };
        tasks.push(task);
    }
    log_line(log, &format!("{} clients started", tasks.len()));

    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let nopts = NemesisOpts {
        faults: faults.to_vec(),
        quiet: (
            Duration::from_secs_f64(opts.quiet_s.0),
            Duration::from_secs_f64(opts.quiet_s.1),
        ),
        hold: (
            Duration::from_secs_f64(opts.hold_s.0),
            Duration::from_secs_f64(opts.hold_s.1),
        ),
        session_timeout: Duration::from_millis(opts.session_timeout_ms),
    };
    let until = Instant::now() + Duration::from_secs(opts.time_s);
    let mut lines = Vec::new();
    let injected = nemesis::run_schedule(cluster, &rec, &mut rng, &nopts, until, &mut |l| {
        println!("{l}");
        lines.push(l.to_string());
    })?;
    for l in lines {
        log.push_str(&l);
        log.push('\n');
    }
    nemesis::heal_all(cluster);
    stop.store(true, Ordering::SeqCst);
    log_line(
        log,
        &format!(
            "{:>7.1}s workload stopped, all faults healed ({injected} injected); {} ops so far",
            rec.now_ns() as f64 / 1e9,
            rec.op_count()
        ),
    );
    let join_deadline = Duration::from_millis(opts.op_timeout_ms + opts.session_timeout_ms)
        + Duration::from_secs(5);
    rt.block_on(async {
        let _ = tokio::time::timeout(join_deadline, async {
            for t in &mut tasks {
                let _ = t.await;
            }
        })
        .await;
    });
    for t in &tasks {
        t.abort();
    }
    if interrupted() {
        return Ok((rec.ops(), rec.nemesis(), injected));
    }

    // Recovery: all nodes back, one leader.
    let t_heal = Instant::now();
    let recovery = cluster.wait_healthy(Duration::from_secs(90));
    let recovered_note = match &recovery {
        Ok(()) => format!(
            "ensemble healthy {:.1}s after heal",
            t_heal.elapsed().as_secs_f64()
        ),
        Err(e) => format!("ensemble NOT healthy 90s after heal: {e:#}"),
    };
    log_line(log, &recovered_note);
    if recovery.is_err() {
        let _ = std::fs::write(results.join("recovery-failure.txt"), &recovered_note);
    }
    // Final reads on every node.
    let stop_final = Arc::new(AtomicBool::new(false));
    let env_final = Arc::new(Env {
        hosts: env.hosts.clone(),
        rec: rec.clone(),
        stop: stop_final,
        session_timeout: env.session_timeout,
        op_timeout: env.op_timeout,
        bugs: ClientBugs::default(),
        read_mode: env.read_mode,
    });
    let keys: Vec<u64> = rec
        .ops()
        .iter()
        .filter_map(|o| o.call.register_key())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let eph_wait = env.session_timeout * 3 + Duration::from_secs(5);
    rt.block_on(workload::final_reads(env_final, keys, eph_wait, 10_000));
    log_line(
        log,
        &format!(
            "{:>7.1}s final reads done; {} ops recorded",
            rec.now_ns() as f64 / 1e9,
            rec.op_count()
        ),
    );
    if recovery.is_err() {
        // Reported by the checks as unknown (no final reads) and in recovery-failure.txt.
        println!("warning: {recovered_note}");
    }
    Ok((rec.ops(), rec.nemesis(), injected))
}

/// Runs every check, writes verdict files and the timeline, prints the verdict; returns the
/// exit code.
#[allow(clippy::too_many_arguments)]
pub fn check_and_report(
    ops: &[Op],
    events: &[NemesisEvent],
    workloads: &[Workload],
    nodes: usize,
    budget: Duration,
    results: &Path,
    node_labels: &[String],
    title: &str,
) -> Result<i32> {
    let started = Instant::now();
    let checks = checker::check_all(ops, workloads, nodes, budget);
    let status = checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(Status::Valid);
    std::fs::write(
        results.join("checks.json"),
        serde_json::to_vec_pretty(&checks)?,
    )?;
    let mut marked = BTreeSet::new();
    for c in &checks {
        for a in &c.anomalies {
            marked.extend(a.ops.iter().map(|o| o.id));
        }
    }
    let png = results.join("timeline.png");
    if let Err(e) = timeline::render(&png, title, ops, events, node_labels, &marked) {
        eprintln!("timeline: {e:#}");
    }
    let report = render_report(&checks, events, ops.len(), status, started.elapsed());
    std::fs::write(results.join("verdict.txt"), &report)?;
    print!("{report}");
    println!("results: {}", results.display());
    Ok(match status {
        Status::Valid => EXIT_VALID,
        Status::Invalid => EXIT_INVALID,
        Status::Unknown => EXIT_UNKNOWN,
    })
}

pub fn render_report(
    checks: &[Check],
    events: &[NemesisEvent],
    n_ops: usize,
    status: Status,
    check_time: Duration,
) -> String {
    let mut s = String::new();
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events {
        *per_kind.entry(e.kind.as_str()).or_default() += 1;
    }
    let _ = writeln!(
        s,
        "\nfaults: {} ({})",
        events.len(),
        per_kind
            .iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "operations recorded: {n_ops}; checked in {:.1}s",
        check_time.as_secs_f64()
    );
    for c in checks {
        let tag = match c.status {
            Status::Valid => "valid  ",
            Status::Invalid => "INVALID",
            Status::Unknown => "unknown",
        };
        let _ = writeln!(s, "  {tag}  {:<62} {}", c.name, c.summary);
        for note in &c.notes {
            let _ = writeln!(s, "           note: {note}");
        }
    }
    for c in checks {
        for a in &c.anomalies {
            let _ = writeln!(s, "\nANOMALY [{}] {}: {}", c.name, a.kind, a.message);
            let show = 40;
            for op in a.ops.iter().take(show) {
                let _ = writeln!(s, "    {}", op.describe());
            }
            if a.ops.len() > show {
                let _ = writeln!(s, "    ... {} more ops in checks.json", a.ops.len() - show);
            }
        }
    }
    let anomalies: usize = checks.iter().map(|c| c.anomalies.len()).sum();
    let _ = writeln!(
        s,
        "\nVERDICT: {}",
        match status {
            Status::Valid => "VALID — no anomalies".to_string(),
            Status::Invalid => format!("INVALID — {anomalies} anomalies"),
            Status::Unknown => "UNKNOWN — some checks could not decide (see notes)".to_string(),
        }
    );
    s
}

/// `check DIR`: re-runs the checkers on a saved run.
pub fn recheck(dir: &Path, budget: Duration) -> Result<i32> {
    let ops: Vec<Op> = history::read_jsonl(&dir.join("history.jsonl"))?;
    let events: Vec<NemesisEvent> =
        history::read_jsonl(&dir.join("nemesis.jsonl")).unwrap_or_default();
    let nodes = ops.iter().map(|o| o.node + 1).max().unwrap_or(1);
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| ops.iter().any(|o| o.workload == *w))
        .collect();
    let labels: Vec<String> = (0..nodes).map(|i| format!("n{}", i + 1)).collect();
    check_and_report(
        &ops,
        &events,
        &workloads,
        nodes,
        budget,
        dir,
        &labels,
        &format!("re-check of {}", dir.display()),
    )
}
