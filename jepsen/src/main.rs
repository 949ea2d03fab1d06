//! `ferrokeeper-jepsen` command line; `jepsen/run` is the wrapper that builds and calls it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use ferrokeeper_jepsen::runner::{self, RunOpts, EXIT_ERROR};

#[derive(Parser)]
#[command(
    name = "ferrokeeper-jepsen",
    about = "Fault-injection test of ZooKeeper ensembles (Java 3.8 / ferrokeeper) with a linearizability checker",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one test (the default).
    Run(Box<RunArgs>),
    /// Re-run the checkers on a results directory (history.jsonl).
    Check {
        dir: PathBuf,
        /// Time budget per register key for the linearizability search, seconds.
        #[arg(long, default_value_t = 30)]
        check_budget_s: u64,
    },
    /// Remove namespaces, mounts and work dirs left by runs that died (SIGKILL).
    Cleanup,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Ensemble size (1 = standalone).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// java | ferrokeeper | mixed | comma list per node (e.g. java,ferrokeeper,java).
    #[arg(long = "impl", default_value = "java")]
    impl_spec: String,
    /// Faults: partition (all four kinds), kill, pause, throttle (tc), disk (disk-full), all,
    /// none, or single names (partition-halves, partition-leader, partition-ring,
    /// partition-one-way).
    #[arg(long, value_delimiter = ',', default_value = "partition,kill,pause")]
    nemesis: Vec<String>,
    /// Workloads: register, seq, set, session, fifo, all.
    #[arg(long = "workload", value_delimiter = ',', default_value = "all")]
    workloads: Vec<String>,
    /// Workload duration in seconds (healing and final reads come after).
    #[arg(long = "time", default_value_t = 60)]
    time_s: u64,
    /// Seed of the fault schedule and the clients' choices (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Where run directories are created.
    #[arg(long, default_value = "results")]
    results_root: PathBuf,
    /// Exact results directory (overrides --results-root).
    #[arg(long)]
    results_dir: Option<PathBuf>,
    /// ferrokeeper binary (default: $FERROKEEPER_BIN, else target/release/ferrokeeper).
    #[arg(long)]
    ferrokeeper_bin: Option<PathBuf>,
    /// zoo.cfg tickTime (ms); session timeouts must lie in [2, 20] ticks.
    #[arg(long, default_value_t = 500)]
    tick_ms: u32,
    /// Client session timeout (ms); pauses last longer than this.
    #[arg(long, default_value_t = 4000)]
    session_timeout_ms: u64,
    /// Per-operation client timeout (ms); a timed-out op is indeterminate.
    #[arg(long, default_value_t = 5000)]
    op_timeout_ms: u64,
    /// Size of each node's dataLogDir tmpfs in MiB (0: no tmpfs, no disk-full fault).
    #[arg(long, default_value_t = 64)]
    disk_mb: u32,
    /// Register clients per node.
    #[arg(long, default_value_t = 2)]
    clients_per_node: usize,
    /// Register operations per key before the clients move to a fresh key.
    #[arg(long, default_value_t = 120)]
    ops_per_key: u64,
    /// Quiet time between faults, "MIN:MAX" seconds.
    #[arg(long, default_value = "3:6")]
    quiet: String,
    /// Fault duration, "MIN:MAX" seconds (pauses: session timeout + 1..3 s).
    #[arg(long, default_value = "4:8")]
    hold: String,
    /// Time budget per register key for the linearizability search, seconds.
    #[arg(long, default_value_t = 30)]
    check_budget_s: u64,
    /// Keep the work dir (data dirs) after the run.
    #[arg(long)]
    keep: bool,
    /// Self-test: fake anomalies on the client side (stale-read, lost-ack) to prove the checkers
    /// catch them; such a run must end INVALID.
    #[arg(long = "client-bug", value_delimiter = ',')]
    client_bugs: Vec<String>,
    /// Register reads: sync (sync + getData, ZooKeeper's recipe) or barrier (a pipelined quorum
    /// write before the getData).
    #[arg(long, default_value = "sync")]
    read_mode: String,
}

fn range(s: &str) -> anyhow::Result<(f64, f64)> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("expected MIN:MAX, got {s:?}"))?;
    let (a, b): (f64, f64) = (a.trim().parse()?, b.trim().parse()?);
    if !(a >= 0.0 && b >= a) {
        anyhow::bail!("bad range {s:?}");
    }
    Ok((a, b))
}

fn to_opts(a: RunArgs) -> anyhow::Result<RunOpts> {
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 1_000_000)
            .unwrap_or(1)
    });
    let ferrokeeper_bin = a
        .ferrokeeper_bin
        .or_else(|| std::env::var_os("FERROKEEPER_BIN").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/release/ferrokeeper"));
    Ok(RunOpts {
        nodes: a.nodes,
        impl_spec: a.impl_spec,
        nemesis: a.nemesis,
        workloads: a.workloads,
        time_s: a.time_s,
        seed,
        results_root: a.results_root,
        results_dir: a.results_dir,
        ferrokeeper_bin,
        tick_ms: a.tick_ms,
        session_timeout_ms: a.session_timeout_ms,
        op_timeout_ms: a.op_timeout_ms,
        disk_mb: a.disk_mb,
        clients_per_node: a.clients_per_node.max(1),
        ops_per_key: a.ops_per_key.max(1),
        quiet_s: range(&a.quiet)?,
        hold_s: range(&a.hold)?,
        check_budget_s: a.check_budget_s,
        keep: a.keep,
        client_bugs: a.client_bugs,
        read_mode: a.read_mode,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Some(Cmd::Cleanup) => {
            let cleaned = ferrokeeper_jepsen::net::cleanup_stale();
            if cleaned.is_empty() {
                println!("nothing to clean");
            } else {
                println!("cleaned runs: {}", cleaned.join(", "));
            }
            Ok(0)
        }
        Some(Cmd::Check {
            dir,
            check_budget_s,
        }) => runner::recheck(&dir, Duration::from_secs(check_budget_s)),
        Some(Cmd::Run(args)) => to_opts(*args).and_then(runner::run),
        None => to_opts(cli.run).and_then(runner::run),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR as u8)
        }
    }
}
