//! `loadgen`: drive one ZooKeeper-protocol server (or ensemble) with a bounded workload and
//! print ops/s and latency percentiles (table, optionally JSON).

use std::time::Duration;

use clap::Parser;
use ferro_bench::stats::{table, RunResult};
use ferro_bench::workload::{ensure_populated, run, LoadConfig, Workload};

#[derive(Parser, Debug)]
#[command(about = "ZooKeeper load generator (bounded by duration and/or op count)")]
struct Args {
    /// Comma-separated host:port list; session i uses entry i % len.
    #[arg(long, default_value = "127.0.0.1:2181")]
    servers: String,
    /// Workloads to run, in order (comma list).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "get")]
    workload: Vec<Workload>,
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// Requests in flight per session (pipelined on one connection).
    #[arg(long, default_value_t = 4)]
    inflight: usize,
    /// Payload bytes for create/set/multi and pre-populated znodes. Reads check that answers
    /// have this length, so keep it equal to the payload the tree was populated with.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Pre-populated znodes under ROOT/data (created if missing).
    #[arg(long, default_value_t = 10_000)]
    znodes: usize,
    /// Measured seconds per workload.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many measured ops (whichever of duration/ops comes first).
    #[arg(long)]
    ops: Option<u64>,
    /// Unmeasured seconds before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Read percentage for `mixed`.
    #[arg(long, default_value_t = 90)]
    read_pct: u32,
    /// setData operations per `multi`.
    #[arg(long, default_value_t = 5)]
    multi_ops: usize,
    /// Watchers for `watch-fanout` (spread over --sessions sessions).
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    #[arg(long, default_value = "/ferro-bench")]
    root: String,
    /// Label for the server column.
    #[arg(long, default_value = "server")]
    label: String,
    /// Client runtime worker threads.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Keep the znodes `create` made (default: delete them, unmeasured, after the run).
    #[arg(long)]
    keep_created: bool,
    /// Write results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.client_threads.max(1))
        .enable_all()
        .build()?;
    let servers: Vec<String> = a.servers.split(',').map(|s| s.trim().to_string()).collect();
    let mut results: Vec<RunResult> = Vec::new();
    for w in &a.workload {
        let cfg = LoadConfig {
            label: a.label.clone(),
            servers: servers.clone(),
            workload: *w,
            sessions: a.sessions,
            inflight: a.inflight,
            payload: a.payload,
            znodes: a.znodes,
            duration: Duration::from_secs_f64(a.duration),
            max_ops: a.ops,
            warmup: Duration::from_secs_f64(a.warmup),
            read_pct: a.read_pct,
            multi_ops: a.multi_ops,
            watchers: a.watchers,
            root: a.root.clone(),
            cleanup: !a.keep_created,
        };
        let r = rt.block_on(async {
            ensure_populated(&cfg).await?;
            run(&cfg).await
        })?;
        eprint!("{}", table(std::slice::from_ref(&r)));
        results.push(r);
    }
    println!("{}", table(&results));
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&results)?)?;
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}
