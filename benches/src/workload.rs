//! Workload definitions and the bounded, pipelined load loop.
//!
//! Layout under `root` (default `/ferro-bench`): pre-populated znodes live at
//! `root/data/bNNNNN/nNN` (100 children per bucket, so `children` lists a realistic directory);
//! `create` writes under `root/c`, `watch-fanout` uses `root/fan`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use zookeeper_client as zk;

use crate::stats::{new_histogram, RunResult};

/// Children per bucket in the pre-populated tree.
pub const BUCKET: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Create,
    Set,
    Get,
    Exists,
    Children,
    Mixed,
    Multi,
    WatchFanout,
}

impl Workload {
    pub const ALL: [Workload; 8] = [
        Workload::Create,
        Workload::Set,
        Workload::Get,
        Workload::Exists,
        Workload::Children,
        Workload::Mixed,
        Workload::Multi,
        Workload::WatchFanout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Children => "children",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::WatchFanout => "watch-fanout",
        }
    }

    pub fn is_write(self) -> bool {
        matches!(self, Workload::Create | Workload::Set | Workload::Multi)
    }
}

/// Everything one run needs. Every loop is bounded by `duration` (and optionally `max_ops`).
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub label: String,
    /// `host:port` entries; session `i` connects to `servers[i % len]`.
    pub servers: Vec<String>,
    pub workload: Workload,
    pub sessions: usize,
    pub inflight: usize,
    pub payload: usize,
    pub znodes: usize,
    pub duration: Duration,
    pub max_ops: Option<u64>,
    pub warmup: Duration,
    pub read_pct: u32,
    pub multi_ops: usize,
    pub watchers: usize,
    pub root: String,
    /// Delete what `create` made once measuring ends (unmeasured), so repeated runs do not
    /// grow the tree by however many creates the faster server managed.
    pub cleanup: bool,
}

impl LoadConfig {
    fn base_result(&self) -> RunResult {
        RunResult {
            server: self.label.clone(),
            workload: self.workload.name().to_string(),
            sessions: self.sessions,
            inflight: self.inflight,
            payload: self.payload,
            znodes: self.znodes,
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
}

pub fn data_path(root: &str, i: usize) -> String {
    format!("{root}/data/b{:05}/n{:02}", i / BUCKET, i % BUCKET)
}

fn bucket_path(root: &str, b: usize) -> String {
    format!("{root}/data/b{b:05}")
}

/// Connects one session; fails fast (10 s) rather than retrying forever.
pub async fn connect(server: &str) -> anyhow::Result<zk::Client> {
    let fut = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .with_connection_timeout(Duration::from_secs(5))
        .connect(server);
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| anyhow!("connect to {server} timed out"))?
        .with_context(|| format!("connect to {server}"))
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Creates `path` unless it exists.
pub async fn ensure(client: &zk::Client, path: &str, data: &[u8]) -> anyhow::Result<()> {
    match client.create(path, data, &persistent()).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => Err(anyhow!("create {path}: {e}")),
    }
}

/// Shared error bookkeeping: a count and a few distinct messages.
#[derive(Default)]
struct Errors {
    count: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Errors {
    fn record(&self, what: &str, e: impl std::fmt::Display) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{what}: {e}");
        let mut s = self.samples.lock().unwrap();
        if s.len() < 3 && !s.iter().any(|x| x == &msg) {
            s.push(msg);
        }
    }
}

/// Pipelined creation of `root/data/...` znodes `from..to` with `payload` bytes each
/// (`parallel` sessions × `inflight` outstanding creates). Existing znodes are skipped.
/// Returns the number of errors other than NodeExists and a few of their messages.
pub async fn populate(
    servers: &[String],
    root: &str,
    from: usize,
    to: usize,
    payload: usize,
    parallel: usize,
    inflight: usize,
) -> anyhow::Result<(u64, Vec<String>)> {
    let c0 = connect(&servers[0]).await?;
    ensure(&c0, root, b"").await?;
    ensure(&c0, &format!("{root}/data"), b"").await?;
    ensure(&c0, &format!("{root}/c"), b"").await?;
    ensure(&c0, &format!("{root}/fan"), b"").await?;
    if to <= from {
        return Ok((0, vec![]));
    }
    let mut clients = vec![c0];
    for i in 1..parallel.max(1) {
        clients.push(connect(&servers[i % servers.len()]).await?);
    }
    let errors = Arc::new(Errors::default());
    let data = Arc::new(vec![b'x'; payload]);
    // Buckets first, then leaves; both phases share the same pipelined loop.
    let b_from = from / BUCKET;
    let b_to = to.div_ceil(BUCKET);
    for phase in 0..2 {
        let (lo, hi) = if phase == 0 {
            (b_from, b_to)
        } else {
            (from, to)
        };
        let next = Arc::new(AtomicUsize::new(lo));
        let mut tasks = Vec::new();
        for c in &clients {
            for _ in 0..inflight.max(1) {
                let c = c.clone();
                let next = next.clone();
                let errors = errors.clone();
                let data = data.clone();
                let root = root.to_string();
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= hi {
                            break;
                        }
                        let (path, body): (String, &[u8]) = if phase == 0 {
                            (bucket_path(&root, i), b"")
                        } else {
                            (data_path(&root, i), &data)
                        };
                        match c.create(&path, body, &persistent()).await {
                            Ok(_) | Err(zk::Error::NodeExists) => {}
                            Err(e) => errors.record("populate create", e),
                        }
                    }
                }));
            }
        }
        for t in tasks {
            t.await?;
        }
    }
    let samples = errors.samples.lock().unwrap().clone();
    Ok((errors.count.load(Ordering::Relaxed), samples))
}

/// Makes sure `cfg.znodes` data znodes exist (cheap check of the last one first).
pub async fn ensure_populated(cfg: &LoadConfig) -> anyhow::Result<()> {
    let c = connect(&cfg.servers[0]).await?;
    let need = cfg.znodes > 0
        && c.check_stat(&data_path(&cfg.root, cfg.znodes - 1))
            .await?
            .is_none();
    if need || c.check_stat(&format!("{}/fan", cfg.root)).await?.is_none() {
        let (errs, samples) =
            populate(&cfg.servers, &cfg.root, 0, cfg.znodes, cfg.payload, 4, 64).await?;
        if errs > 0 {
            return Err(anyhow!(
                "{errs} errors while pre-populating, e.g. {samples:?}"
            ));
        }
    }
    Ok(())
}

/// Runs one workload and returns its measured result. Assumes the tree is populated
/// (see [`ensure_populated`]) for workloads that read or update existing znodes.
pub async fn run(cfg: &LoadConfig) -> anyhow::Result<RunResult> {
    if cfg.workload == Workload::WatchFanout {
        return run_watch_fanout(cfg).await;
    }
    if cfg.znodes == 0 && !matches!(cfg.workload, Workload::Create) {
        return Err(anyhow!(
            "workload {} needs --znodes > 0",
            cfg.workload.name()
        ));
    }
    let mut clients = Vec::new();
    for i in 0..cfg.sessions {
        clients.push(connect(&cfg.servers[i % cfg.servers.len()]).await?);
    }
    let errors = Arc::new(Errors::default());
    let measured = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let data = Arc::new(vec![b'y'; cfg.payload]);
    // A per-run tag keeps `create` paths unique across repeated runs on the same server.
    let run_tag: u32 = rand::thread_rng().gen();
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let deadline = measure_from + cfg.duration;
    let mut tasks = Vec::new();
    for (si, c) in clients.iter().enumerate() {
        for ti in 0..cfg.inflight.max(1) {
            let c = c.clone();
            let cfg = cfg.clone();
            let errors = errors.clone();
            let measured = measured.clone();
            let stop = stop.clone();
            let data = data.clone();
            tasks.push(tokio::spawn(async move {
                let mut h = new_histogram();
                let mut rng = rand::rngs::SmallRng::from_entropy();
                let mut n: u64 = 0;
                let mut created: Vec<u64> = Vec::new();
                loop {
                    let now = Instant::now();
                    if now >= deadline || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let in_window = now >= measure_from;
                    let t0 = Instant::now();
                    let res = one_op(&c, &cfg, &data, &mut rng, run_tag, si, ti, n).await;
                    if cfg.workload == Workload::Create && cfg.cleanup && res.is_ok() {
                        created.push(n);
                    }
                    n += 1;
                    let lat = t0.elapsed();
                    if in_window {
                        match res {
                            Ok(()) => {
                                let _ = h.record((lat.as_micros() as u64).max(1));
                                let done = measured.fetch_add(1, Ordering::Relaxed) + 1;
                                if cfg.max_ops.is_some_and(|m| done >= m) {
                                    stop.store(true, Ordering::Relaxed);
                                }
                            }
                            Err(e) => errors.record(cfg.workload.name(), e),
                        }
                    } else if let Err(e) = res {
                        errors.record(&format!("{} (warmup)", cfg.workload.name()), e);
                    }
                }
                (h, c, created, si, ti)
            }));
        }
    }
    let mut hist = new_histogram();
    let mut cleanups = Vec::new();
    let mut end = Instant::now();
    for t in tasks {
        let (h, c, created, si, ti) = t.await?;
        end = Instant::now();
        hist.add(&h).ok();
        if !created.is_empty() {
            let root = cfg.root.clone();
            let errors = errors.clone();
            cleanups.push(tokio::spawn(async move {
                for n in created {
                    let path = format!("{root}/c/r{run_tag:08x}-{si}-{ti}-{n}");
                    if let Err(e) = c.delete(&path, None).await {
                        errors.record("cleanup delete (unmeasured)", e);
                    }
                }
            }));
        }
    }
    let elapsed = end.saturating_duration_since(measure_from).as_secs_f64();
    for t in cleanups {
        t.await?;
    }
    let mut base = cfg.base_result();
    base.error_samples = errors.samples.lock().unwrap().clone();
    if cfg.workload == Workload::Multi {
        base.note = format!("{} setData per multi; ops = multis", cfg.multi_ops);
    }
    if cfg.workload == Workload::Mixed {
        base.note = format!("{}% reads", cfg.read_pct);
    }
    Ok(RunResult::from_histogram(
        base,
        &hist,
        measured.load(Ordering::Relaxed),
        errors.count.load(Ordering::Relaxed),
        elapsed,
    ))
}

#[allow(clippy::too_many_arguments)]
async fn one_op(
    c: &zk::Client,
    cfg: &LoadConfig,
    data: &[u8],
    rng: &mut rand::rngs::SmallRng,
    run_tag: u32,
    si: usize,
    ti: usize,
    n: u64,
) -> anyhow::Result<()> {
    let pick = |rng: &mut rand::rngs::SmallRng| data_path(&cfg.root, rng.gen_range(0..cfg.znodes));
    match cfg.workload {
        Workload::Create => {
            let path = format!("{}/c/r{run_tag:08x}-{si}-{ti}-{n}", cfg.root);
            c.create(&path, data, &persistent()).await?;
        }
        Workload::Set => {
            let p = pick(rng);
            let st = c.set_data(&p, data, None).await?;
            if st.data_length as usize != data.len() {
                return Err(anyhow!("set {p}: returned dataLength {}", st.data_length));
            }
        }
        Workload::Get => {
            let p = pick(rng);
            let (d, st) = c.get_data(&p).await?;
            check_data(&p, &d, st.data_length, cfg.payload)?;
        }
        Workload::Exists => {
            let p = pick(rng);
            match c.check_stat(&p).await? {
                None => return Err(anyhow!("exists {p}: pre-populated znode missing")),
                Some(st) if st.data_length as usize != cfg.payload => {
                    return Err(anyhow!(
                        "exists {p}: dataLength {} != {}",
                        st.data_length,
                        cfg.payload
                    ))
                }
                Some(_) => {}
            }
        }
        Workload::Children => {
            let buckets = cfg.znodes.div_ceil(BUCKET);
            let b = rng.gen_range(0..buckets);
            let kids = c.list_children(&bucket_path(&cfg.root, b)).await?;
            let want = BUCKET.min(cfg.znodes - b * BUCKET);
            if kids.len() != want {
                return Err(anyhow!(
                    "children {}: {} children, expected {want}",
                    bucket_path(&cfg.root, b),
                    kids.len()
                ));
            }
        }
        Workload::Mixed => {
            if rng.gen_range(0..100) < cfg.read_pct {
                let p = pick(rng);
                let (d, st) = c.get_data(&p).await?;
                check_data(&p, &d, st.data_length, cfg.payload)?;
            } else {
                c.set_data(&pick(rng), data, None).await?;
            }
        }
        Workload::Multi => {
            let paths: Vec<String> = (0..cfg.multi_ops.max(1)).map(|_| pick(rng)).collect();
            let mut w = c.new_multi_writer();
            for p in &paths {
                w.add_set_data(p, data, None)?;
            }
            let res = w.commit().await.map_err(|e| anyhow!("multi: {e}"))?;
            if res.len() != paths.len() {
                return Err(anyhow!(
                    "multi: {} results for {} ops",
                    res.len(),
                    paths.len()
                ));
            }
        }
        Workload::WatchFanout => unreachable!("handled by run_watch_fanout"),
    }
    Ok(())
}

/// Cheap answer check: every pre-populated znode always holds `payload` bytes (populate and
/// set/multi all write that size), so a different length or a stat disagreeing with the data
/// is a wrong answer from the server.
fn check_data(path: &str, d: &[u8], stat_len: i32, payload: usize) -> anyhow::Result<()> {
    if d.len() != payload || stat_len as usize != d.len() {
        return Err(anyhow!(
            "get {path}: {} bytes (stat.dataLength {stat_len}), expected {payload}",
            d.len()
        ));
    }
    Ok(())
}

/// One writer session repeatedly sets `root/fan`; `watchers` watches (spread over `sessions`
/// sessions) each re-arm a data watch after every notification. The histogram holds the time
/// from just before the setData is issued to each watcher's notification.
async fn run_watch_fanout(cfg: &LoadConfig) -> anyhow::Result<RunResult> {
    let fan = format!("{}/fan", cfg.root);
    let writer = connect(&cfg.servers[0]).await?;
    ensure(&writer, &cfg.root, b"").await?;
    ensure(&writer, &fan, b"").await?;
    let mut clients = Vec::new();
    for i in 0..cfg.sessions.max(1) {
        clients.push(connect(&cfg.servers[i % cfg.servers.len()]).await?);
    }
    let watchers = cfg.watchers.max(1);
    let base = Instant::now();
    let t0_ns = Arc::new(AtomicU64::new(0));
    let armed = Arc::new(AtomicUsize::new(0));
    let armed_notify = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let recording = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(Errors::default());
    let mut tasks = Vec::new();
    for w in 0..watchers {
        let c = clients[w % clients.len()].clone();
        let fan = fan.clone();
        let (t0_ns, armed, armed_notify, stop, recording, errors) = (
            t0_ns.clone(),
            armed.clone(),
            armed_notify.clone(),
            stop.clone(),
            recording.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut h = new_histogram();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let watcher = match c.get_and_watch_data(&fan).await {
                    Ok((_, _, w)) => w,
                    Err(e) => {
                        errors.record("watch arm", e);
                        break;
                    }
                };
                armed.fetch_add(1, Ordering::SeqCst);
                armed_notify.notify_one();
                match tokio::time::timeout(Duration::from_secs(10), watcher.changed()).await {
                    Ok(_ev) => {
                        let now = base.elapsed().as_nanos() as u64;
                        let t0 = t0_ns.load(Ordering::SeqCst);
                        if recording.load(Ordering::SeqCst) && !stop.load(Ordering::Relaxed) {
                            let _ = h.record((now.saturating_sub(t0) / 1000).max(1));
                            n += 1;
                        }
                    }
                    Err(_) => {
                        if !stop.load(Ordering::Relaxed) {
                            errors.record("watch", "no notification within 10 s");
                        }
                        break;
                    }
                }
            }
            (h, n)
        }));
    }
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let deadline = measure_from + cfg.duration;
    let mut writes = 0u64;
    let mut write_h = new_histogram();
    let payload = vec![b'w'; cfg.payload];
    let mut measure_start: Option<Instant> = None;
    'outer: while Instant::now() < deadline {
        // Wait until every watcher has (re-)armed its watch.
        loop {
            let notified = armed_notify.notified();
            if armed.load(Ordering::SeqCst) >= watchers {
                break;
            }
            if Instant::now() >= deadline + Duration::from_secs(10) {
                errors.record("watch-fanout", "watchers did not re-arm");
                break 'outer;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
        if cfg.max_ops.is_some_and(|m| writes * watchers as u64 >= m) {
            break;
        }
        let in_window = Instant::now() >= measure_from;
        if in_window && measure_start.is_none() {
            measure_start = Some(Instant::now());
        }
        recording.store(in_window, Ordering::SeqCst);
        armed.store(0, Ordering::SeqCst);
        let t = Instant::now();
        t0_ns.store(base.elapsed().as_nanos() as u64, Ordering::SeqCst);
        match writer.set_data(&fan, &payload, None).await {
            Ok(_) => {
                if in_window {
                    writes += 1;
                    let _ = write_h.record((t.elapsed().as_micros() as u64).max(1));
                }
            }
            Err(e) => errors.record("watch-fanout set", e),
        }
    }
    let end = Instant::now();
    // Let every watcher take the last measured notification before stopping.
    let settle = Instant::now() + Duration::from_secs(10);
    while armed.load(Ordering::SeqCst) < watchers && Instant::now() < settle {
        let notified = armed_notify.notified();
        if armed.load(Ordering::SeqCst) >= watchers {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
    }
    recording.store(false, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    // Release any watcher still waiting so every task ends promptly.
    let _ = writer.set_data(&fan, b"stop", None).await;
    let mut hist = new_histogram();
    let mut notifications = 0u64;
    for t in tasks {
        let (h, n) = t.await?;
        hist.add(&h).ok();
        notifications += n;
    }
    let elapsed = measure_start
        .map(|s| end.saturating_duration_since(s).as_secs_f64())
        .unwrap_or(0.0);
    let mut b = cfg.base_result();
    b.inflight = 1;
    b.error_samples = errors.samples.lock().unwrap().clone();
    b.note = format!(
        "{watchers} watchers on {} sessions; {writes} writes ({:.0}/s, write p50 {}); ops = notifications; latency = write issue -> notification",
        clients.len(),
        if elapsed > 0.0 { writes as f64 / elapsed } else { 0.0 },
        crate::stats::fmt_us(if write_h.is_empty() { 0 } else { write_h.value_at_quantile(0.5) }),
    );
    let expected = writes * watchers as u64;
    if notifications < expected {
        errors.record(
            "watch-fanout",
            format!(
                "{} of {expected} notifications missing",
                expected - notifications
            ),
        );
        b.error_samples = errors.samples.lock().unwrap().clone();
    }
    Ok(RunResult::from_histogram(
        b,
        &hist,
        notifications,
        errors.count.load(Ordering::Relaxed),
        elapsed,
    ))
}

/// Convenience: a histogram-only merge helper used by callers that aggregate runs.
pub fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    into.add(from).ok();
}
