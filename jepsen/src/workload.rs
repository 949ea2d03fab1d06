//! Client workloads. Every worker is bound to one node (its connect string names only that
//! node, as in Jepsen's ZooKeeper test), so the timeline shows ops per node and a faulted node's
//! clients see the fault. Every operation is recorded with invocation and completion time,
//! session, result and the zxid of the reply's Stat.
//!
//! * register — a compare-and-set register per key (keys rotate every `ops_per_key` ops so each
//!   key's history stays small enough for the checker, like Jepsen's `independent`): create,
//!   read (`sync` + `getData`), write (`setData` version -1), cas (`setData` with the version the
//!   worker last saw, sometimes off by one so both outcomes occur).
//! * seq — `create` PERSISTENT_SEQUENTIAL under /jepsen/seq.
//! * set — `create` /jepsen/set/e-<unique>; every acknowledged add must survive.
//! * session — sessions that create an ephemeral, check it is there while they live (and prove
//!   they live with a write), then close or are abandoned to expire.
//! * fifo — bursts of pipelined `setData`/`getData` pairs on a worker-private node.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zookeeper_client as zk;

use crate::history::{Call, Op, Outcome, Recorder, Ret, Versioned, Workload};

pub const ROOT: &str = "/jepsen";
pub const REG: &str = "/jepsen/reg";
pub const SEQ: &str = "/jepsen/seq";
pub const SET: &str = "/jepsen/set";
pub const EPH: &str = "/jepsen/eph";
pub const ALIVE: &str = "/jepsen/alive";
pub const FIFO: &str = "/jepsen/fifo";
pub const BARRIER: &str = "/jepsen/barrier";

/// Everything a worker needs.
pub struct Env {
    /// `ip:port` of each node.
    pub hosts: Vec<String>,
    pub rec: Recorder,
    pub stop: Arc<AtomicBool>,
    pub session_timeout: Duration,
    pub op_timeout: Duration,
    /// Deliberate client-side bugs, to prove the checkers catch what they claim to.
    pub bugs: ClientBugs,
    /// How register reads are made linearizable (or not).
    pub read_mode: ReadMode,
}

/// `--read-mode`: `sync` = `sync(path)` then `getData` (ZooKeeper's recipe; not linearizable in
/// every leader change, ZOOKEEPER-1675); `barrier` = a `setData` on /jepsen/barrier pipelined
/// before the `getData` in the same session (a quorum write orders the read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadMode {
    #[default]
    Sync,
    Barrier,
}

impl std::str::FromStr for ReadMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "sync" => Ok(ReadMode::Sync),
            "barrier" => Ok(ReadMode::Barrier),
            other => anyhow::bail!("unknown --read-mode {other:?} (sync, barrier)"),
        }
    }
}

/// `--client-bug`: anomalies the harness fakes on purpose (self-test of the whole pipeline).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientBugs {
    /// Some register reads return an older read of the same key instead of the real answer.
    pub stale_read: bool,
    /// Some set adds are reported acknowledged without being sent.
    pub lost_ack: bool,
}

impl ClientBugs {
    pub fn parse(list: &[String]) -> anyhow::Result<Self> {
        let mut b = ClientBugs::default();
        for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            match item {
                "stale-read" => b.stale_read = true,
                "lost-ack" => b.lost_ack = true,
                "none" => {}
                other => anyhow::bail!("unknown --client-bug {other:?} (stale-read, lost-ack)"),
            }
        }
        Ok(b)
    }
}

impl Env {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Errors the server returns after executing (and refusing) a request: the op had no effect.
fn definite(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::NoNode
            | zk::Error::BadVersion
            | zk::Error::NodeExists
            | zk::Error::NotEmpty
            | zk::Error::NoChildrenForEphemerals
            | zk::Error::NoAuth
            | zk::Error::InvalidAcl
            | zk::Error::BadArguments(_)
    )
}

fn code(e: &zk::Error) -> String {
    match e {
        zk::Error::NoNode => "NoNode".into(),
        zk::Error::BadVersion => "BadVersion".into(),
        zk::Error::NodeExists => "NodeExists".into(),
        zk::Error::NotEmpty => "NotEmpty".into(),
        zk::Error::ConnectionLoss => "ConnectionLoss".into(),
        zk::Error::SessionExpired => "SessionExpired".into(),
        zk::Error::Timeout => "Timeout".into(),
        zk::Error::ClientClosed => "ClientClosed".into(),
        other => {
            let s = format!("{other:?}");
            s.chars().take(60).collect()
        }
    }
}

#[derive(Debug)]
pub enum OpErr {
    Zk(zk::Error),
    /// Our own per-op timeout.
    Timeout,
    /// Something made the result unusable without telling whether the op took effect.
    Indeterminate(String),
}

impl From<zk::Error> for OpErr {
    fn from(e: zk::Error) -> Self {
        OpErr::Zk(e)
    }
}

async fn timed<T, F>(d: Duration, fut: F) -> Result<T, OpErr>
where
    F: Future<Output = Result<T, OpErr>>,
{
    match tokio::time::timeout(d, fut).await {
        Ok(r) => r,
        Err(_) => Err(OpErr::Timeout),
    }
}

/// Outcome of an op plus whether the session must be replaced.
fn outcome(res: Result<(Ret, Option<i64>), OpErr>) -> (Outcome, Option<i64>, bool) {
    match res {
        Ok((ret, zxid)) => (Outcome::Ok(ret), zxid, false),
        Err(OpErr::Timeout) => (
            Outcome::Info {
                error: "Timeout(client)".into(),
            },
            None,
            false,
        ),
        Err(OpErr::Indeterminate(error)) => (Outcome::Info { error }, None, false),
        Err(OpErr::Zk(e)) if definite(&e) => (Outcome::Fail { error: code(&e) }, None, false),
        Err(OpErr::Zk(e)) => {
            let reconnect = matches!(
                e,
                zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
            );
            (Outcome::Info { error: code(&e) }, None, reconnect)
        }
    }
}

/// A worker's connection to its node, replaced when the session dies.
pub struct Conn {
    host: String,
    session_timeout: Duration,
    detached: bool,
    client: Option<zk::Client>,
}

impl Conn {
    pub fn new(env: &Env, node: usize, detached: bool) -> Self {
        Conn {
            host: env.hosts[node].clone(),
            session_timeout: env.session_timeout,
            detached,
            client: None,
        }
    }

    /// The client, connecting first if needed; `None` (after a short back-off) if the node does
    /// not give us a session.
    pub async fn get(&mut self) -> Option<zk::Client> {
        if let Some(c) = &self.client {
            return Some(c.clone());
        }
        let mut connector = zk::Client::connector().with_session_timeout(self.session_timeout);
        if self.detached {
            connector = connector.with_detached();
        }
        let fut = connector.connect(&self.host);
        match tokio::time::timeout(self.session_timeout + Duration::from_secs(2), fut).await {
            Ok(Ok(c)) => {
                self.client = Some(c.clone());
                Some(c)
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                None
            }
        }
    }

    pub fn reset(&mut self) {
        self.client = None;
    }
}

struct Ctx<'a> {
    env: &'a Env,
    workload: Workload,
    process: u32,
    node: usize,
}

impl Ctx<'_> {
    fn record(
        &self,
        session: Option<i64>,
        call: Call,
        invoke_ns: u64,
        out: (Outcome, Option<i64>),
    ) -> Op {
        let op = Op {
            id: self.env.rec.next_id(),
            workload: self.workload,
            process: self.process,
            node: self.node,
            session,
            call,
            invoke_ns,
            complete_ns: self.env.rec.now_ns(),
            outcome: out.0,
            zxid: out.1,
        };
        self.env.rec.record(op.clone());
        op
    }
}

/// Key rotation shared by the workers of one register group.
pub struct KeyGroup {
    pub counter: AtomicU64,
    pub base: u64,
    pub ops_per_key: u64,
}

pub fn reg_path(key: u64) -> String {
    format!("{REG}/k{key}")
}

fn parse_value(data: &[u8]) -> Option<u64> {
    std::str::from_utf8(data).ok()?.trim().parse().ok()
}

/// A register read in the configured mode; NoNode is a successful read of "absent".
async fn read_register(
    client: &zk::Client,
    path: &str,
    mode: ReadMode,
) -> Result<(Ret, Option<i64>), OpErr> {
    let got = match mode {
        ReadMode::Sync => {
            client.sync(path).await?;
            client.get_data(path).await
        }
        ReadMode::Barrier => {
            // Both requests leave now, in this order; the session answers them in order.
            let barrier = client.set_data(BARRIER, b"", None);
            let read = client.get_data(path);
            let b = barrier.await;
            let r = read.await;
            if let Err(e) = b {
                return Err(OpErr::Indeterminate(format!("barrier: {}", code(&e))));
            }
            r
        }
    };
    match got {
        Ok((bytes, stat)) => {
            let data = parse_value(&bytes).map(|value| Versioned {
                value,
                version: stat.version,
            });
            Ok((Ret::Read { data }, Some(stat.mzxid)))
        }
        Err(zk::Error::NoNode) => Ok((Ret::Read { data: None }, None)),
        Err(e) => Err(e.into()),
    }
}

async fn think(rng: &mut ChaCha8Rng, lo: u64, hi: u64) {
    tokio::time::sleep(Duration::from_millis(rng.gen_range(lo..=hi))).await;
}

pub async fn register_worker(
    env: Arc<Env>,
    wid: u32,
    node: usize,
    group: Arc<KeyGroup>,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ctx = Ctx {
        env: &env,
        workload: Workload::Register,
        process: wid,
        node,
    };
    let mut conn = Conn::new(&env, node, false);
    let mut seq = 0u64;
    let mut cur_key: Option<u64> = None;
    let mut last_version: Option<i32> = None;
    // For --client-bug stale-read: an earlier read to hand out again.
    let mut stale: Option<(u64, u64, Outcome, Option<i64>)> = None;
    while !env.stopped() {
        let Some(client) = conn.get().await else {
            continue;
        };
        let n = group.counter.fetch_add(1, Ordering::SeqCst);
        let key = group.base + n / group.ops_per_key.max(1);
        let first = cur_key != Some(key);
        if first {
            cur_key = Some(key);
            last_version = None;
        }
        seq += 1;
        let value = u64::from(wid) * 1_000_000 + seq;
        let path = reg_path(key);
        let call = if first {
            Call::RegCreate { key, value }
        } else {
            match rng.gen_range(0..4) {
                0 | 1 => Call::RegRead { key },
                2 => Call::RegWrite { key, value },
                _ => {
                    let base = last_version.unwrap_or(0);
                    let expected = if rng.gen_bool(0.25) {
                        base + rng.gen_range(-1..=1)
                    } else {
                        base
                    };
                    Call::RegCas {
                        key,
                        expected: expected.max(0),
                        value,
                    }
                }
            }
        };
        let session = Some(client.session_id().0);
        let invoke = env.rec.now_ns();
        let data = value.to_string();
        let res: Result<(Ret, Option<i64>), OpErr> = match &call {
            Call::RegCreate { .. } => {
                timed(env.op_timeout, async {
                    let (stat, _) = client.create(&path, data.as_bytes(), &persistent()).await?;
                    Ok((Ret::Done, Some(stat.czxid)))
                })
                .await
            }
            Call::RegRead { .. } => {
                timed(env.op_timeout, read_register(&client, &path, env.read_mode)).await
            }
            Call::RegWrite { .. } => {
                timed(env.op_timeout, async {
                    let stat = client.set_data(&path, data.as_bytes(), None).await?;
                    Ok((
                        Ret::Written {
                            version: stat.version,
                        },
                        Some(stat.mzxid),
                    ))
                })
                .await
            }
            Call::RegCas { expected, .. } => {
                let expected = *expected;
                timed(env.op_timeout, async {
                    let stat = client
                        .set_data(&path, data.as_bytes(), Some(expected))
                        .await?;
                    Ok((
                        Ret::Written {
                            version: stat.version,
                        },
                        Some(stat.mzxid),
                    ))
                })
                .await
            }
            _ => continue,
        };
        let (mut out, mut zxid, reconnect) = outcome(res);
        if env.bugs.stale_read {
            if let (Call::RegRead { .. }, Outcome::Ok(Ret::Read { .. })) = (&call, &out) {
                let now = env.rec.now_ns();
                match &stale {
                    Some((k, t, old, z))
                        if *k == key
                            && now.saturating_sub(*t) > 300_000_000
                            && rng.gen_bool(0.2) =>
                    {
                        out = old.clone();
                        zxid = *z;
                    }
                    Some((k, t, ..)) if *k == key && now.saturating_sub(*t) <= 300_000_000 => {}
                    _ => stale = Some((key, now, out.clone(), zxid)),
                }
            }
        }
        match &out {
            Outcome::Ok(Ret::Read {
                data: Some(Versioned { version, .. }),
            })
            | Outcome::Ok(Ret::Written { version }) => last_version = Some(*version),
            Outcome::Ok(Ret::Done) => last_version = Some(0),
            _ => {}
        }
        ctx.record(session, call, invoke, (out, zxid));
        if reconnect {
            conn.reset();
        }
        think(&mut rng, 5, 30).await;
    }
}

pub async fn seq_worker(env: Arc<Env>, wid: u32, node: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ctx = Ctx {
        env: &env,
        workload: Workload::Seq,
        process: wid,
        node,
    };
    let mut conn = Conn::new(&env, node, false);
    let mut n = 0u64;
    let opts = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let prefix = format!("{SEQ}/s-");
    while !env.stopped() {
        let Some(client) = conn.get().await else {
            continue;
        };
        n += 1;
        let token = u64::from(wid) * 1_000_000 + n;
        let session = Some(client.session_id().0);
        let invoke = env.rec.now_ns();
        let data = token.to_string();
        let res = timed(env.op_timeout, async {
            let (stat, seq) = client.create(&prefix, data.as_bytes(), &opts).await?;
            Ok((
                Ret::Created {
                    seq: Some(seq.into_i64()),
                    owner: stat.ephemeral_owner,
                },
                Some(stat.czxid),
            ))
        })
        .await;
        let (out, zxid, reconnect) = outcome(res);
        ctx.record(session, Call::SeqCreate { token }, invoke, (out, zxid));
        if reconnect {
            conn.reset();
        }
        think(&mut rng, 20, 80).await;
    }
}

pub async fn set_worker(env: Arc<Env>, wid: u32, node: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ctx = Ctx {
        env: &env,
        workload: Workload::Set,
        process: wid,
        node,
    };
    let mut conn = Conn::new(&env, node, false);
    let mut n = 0u64;
    while !env.stopped() {
        let Some(client) = conn.get().await else {
            continue;
        };
        n += 1;
        let element = u64::from(wid) * 1_000_000 + n;
        let path = format!("{SET}/e-{element}");
        let session = Some(client.session_id().0);
        let invoke = env.rec.now_ns();
        let fake_ack = env.bugs.lost_ack && rng.gen_bool(0.02);
        let res = timed(env.op_timeout, async {
            if fake_ack {
                return Ok((Ret::Done, None));
            }
            let (stat, _) = client.create(&path, b"", &persistent()).await?;
            Ok((Ret::Done, Some(stat.czxid)))
        })
        .await;
        let (out, zxid, reconnect) = outcome(res);
        ctx.record(session, Call::SetAdd { element }, invoke, (out, zxid));
        if reconnect {
            conn.reset();
        }
        think(&mut rng, 20, 80).await;
    }
}

/// Sessions and ephemerals: each generation opens a session, creates an ephemeral, checks it a
/// few times (sync + exists; if it is missing, a write in the same session tells whether the
/// session still lives), then either closes the session or abandons it to expire.
pub async fn session_worker(env: Arc<Env>, wid: u32, node: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ctx = Ctx {
        env: &env,
        workload: Workload::Session,
        process: wid,
        node,
    };
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let alive_path = format!("{ALIVE}/w{wid}");
    let mut generation = 0u64;
    while !env.stopped() {
        generation += 1;
        let abandon = rng.gen_bool(0.4);
        let mut conn = Conn::new(&env, node, abandon);
        let Some(client) = conn.get().await else {
            continue;
        };
        let session = Some(client.session_id().0);
        let name = format!("w{wid}-g{generation}");
        let path = format!("{EPH}/{name}");
        let invoke = env.rec.now_ns();
        let res = timed(env.op_timeout, async {
            let (stat, _) = client.create(&path, b"", &eph).await?;
            Ok((
                Ret::Created {
                    seq: None,
                    owner: stat.ephemeral_owner,
                },
                Some(stat.czxid),
            ))
        })
        .await;
        let (out, zxid, mut dead) = outcome(res);
        ctx.record(
            session,
            Call::EphCreate { name: name.clone() },
            invoke,
            (out, zxid),
        );
        let rounds = rng.gen_range(2..=6);
        for _ in 0..rounds {
            if dead || env.stopped() {
                break;
            }
            think(&mut rng, 200, 700).await;
            let invoke = env.rec.now_ns();
            let res = timed(env.op_timeout, async {
                client.sync(&path).await?;
                let stat = client.check_stat(&path).await?;
                Ok((
                    Ret::Exists {
                        owner: stat.as_ref().map(|s| s.ephemeral_owner),
                    },
                    stat.map(|s| s.mzxid),
                ))
            })
            .await;
            let (out, zxid, d) = outcome(res);
            dead = d;
            let absent = matches!(out, Outcome::Ok(Ret::Exists { owner: None }));
            ctx.record(
                session,
                Call::EphCheckOwn { name: name.clone() },
                invoke,
                (out, zxid),
            );
            if absent && !dead {
                // Is the session still alive? A write is validated by the leader.
                let invoke = env.rec.now_ns();
                let res = timed(env.op_timeout, async {
                    let stat = client.set_data(&alive_path, b"", None).await?;
                    Ok((
                        Ret::Written {
                            version: stat.version,
                        },
                        Some(stat.mzxid),
                    ))
                })
                .await;
                let (out, zxid, d) = outcome(res);
                dead = d;
                ctx.record(
                    session,
                    Call::EphAlive { name: name.clone() },
                    invoke,
                    (out, zxid),
                );
            }
        }
        // Close (non-detached client: dropping it sends closeSession) or abandon (detached:
        // the session expires on the server).
        drop(client);
        drop(conn);
        think(&mut rng, 50, 200).await;
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<(Ret, Option<i64>), OpErr>> + Send>>;

/// FIFO: bursts of pipelined set/get pairs on a node only this worker writes.
pub async fn fifo_worker(env: Arc<Env>, wid: u32, node: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ctx = Ctx {
        env: &env,
        workload: Workload::Fifo,
        process: wid,
        node,
    };
    let mut conn = Conn::new(&env, node, false);
    let path = format!("{FIFO}/w{wid}");
    let mut burst = 0u64;
    let mut n = 0u64;
    let mut created = false;
    while !env.stopped() {
        let Some(client) = conn.get().await else {
            continue;
        };
        if !created {
            match timed(env.op_timeout, async {
                client.create(&path, b"0", &persistent()).await?;
                Ok(())
            })
            .await
            {
                Ok(()) | Err(OpErr::Zk(zk::Error::NodeExists)) => created = true,
                Err(_) => {
                    think(&mut rng, 100, 300).await;
                    continue;
                }
            }
        }
        burst += 1;
        let k = rng.gen_range(2..=5u32);
        let session = Some(client.session_id().0);
        let mut issued: Vec<(Call, u64, Pending)> = Vec::new();
        for index in 0..k {
            n += 1;
            let value = u64::from(wid) * 1_000_000 + n;
            let invoke = env.rec.now_ns();
            let fut = client.set_data(&path, value.to_string().as_bytes(), None);
            let set: Pending = Box::pin(async move {
                let stat = fut.await?;
                Ok((
                    Ret::Written {
                        version: stat.version,
                    },
                    Some(stat.mzxid),
                ))
            });
            issued.push((
                Call::FifoSet {
                    burst,
                    index,
                    value,
                },
                invoke,
                set,
            ));
            let invoke = env.rec.now_ns();
            let fut = client.get_data(&path);
            let get: Pending = Box::pin(async move {
                let (bytes, stat) = fut.await?;
                let data = parse_value(&bytes).map(|value| Versioned {
                    value,
                    version: stat.version,
                });
                Ok((Ret::Read { data }, Some(stat.mzxid)))
            });
            issued.push((Call::FifoGet { burst, index }, invoke, get));
        }
        let mut reconnect = false;
        for (call, invoke, fut) in issued {
            let res = timed(env.op_timeout, fut).await;
            let (out, zxid, r) = outcome(res);
            reconnect |= r;
            ctx.record(session, call, invoke, (out, zxid));
        }
        if reconnect {
            conn.reset();
        }
        think(&mut rng, 30, 120).await;
    }
}

/// Creates the workload directories (retrying until `deadline` passes).
pub async fn setup(env: &Env, fifo_workers: &[u32]) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut conn = Conn::new(env, 0, false);
    let mut paths: Vec<String> = [ROOT, REG, SEQ, SET, EPH, ALIVE, FIFO, BARRIER]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for w in fifo_workers {
        paths.push(format!("{ALIVE}/w{w}"));
    }
    let mut i = 0;
    while i < paths.len() {
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("could not create {} within 60 s", paths[i]);
        }
        let Some(client) = conn.get().await else {
            continue;
        };
        match timed(env.op_timeout, async {
            client.create(&paths[i], b"", &persistent()).await?;
            Ok(())
        })
        .await
        {
            Ok(()) | Err(OpErr::Zk(zk::Error::NodeExists)) => i += 1,
            Err(_) => {
                conn.reset();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}

/// After the nemesis healed: on every node, `sync` and list the set, seq and ephemeral
/// directories, and read every register key (those reads join the register histories). The
/// ephemeral listing is polled until empty (abandoned sessions expire) or `eph_wait` passes.
pub async fn final_reads(env: Arc<Env>, keys: Vec<u64>, eph_wait: Duration, process_base: u32) {
    let mut tasks = Vec::new();
    for node in 0..env.hosts.len() {
        let env = env.clone();
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            final_reads_node(env, node, keys, eph_wait, process_base + node as u32).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // Convergence: listings taken a few milliseconds apart may straddle a late commit. Re-list
    // the set and seq directories on every node until all nodes agree (a real divergence never
    // does); the checkers use each node's last listing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut conns: Vec<Conn> = (0..env.hosts.len())
        .map(|n| Conn::new(&env, n, false))
        .collect();
    loop {
        let listings = final_listings_now(&env.rec);
        let agree = [SET, SEQ].iter().all(|dir| {
            let v: Vec<Option<&Vec<String>>> = (0..env.hosts.len())
                .map(|n| listings.get(&(n, dir.to_string())))
                .collect();
            v.iter().all(|x| x.is_some() && *x == v[0])
        });
        if agree || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (node, conn) in conns.iter_mut().enumerate() {
            let ctx = Ctx {
                env: &env,
                workload: Workload::Final,
                process: process_base + node as u32,
                node,
            };
            let short = tokio::time::Instant::now() + Duration::from_secs(5);
            for dir in [SET, SEQ] {
                list(&ctx, conn, dir, short.min(deadline)).await;
            }
        }
    }
}

/// The last successful final listing per (node, dir) recorded so far.
fn final_listings_now(rec: &Recorder) -> std::collections::HashMap<(usize, String), Vec<String>> {
    let mut out = std::collections::HashMap::new();
    for op in rec.ops() {
        if let (
            Workload::Final,
            Call::FinalList { path },
            Outcome::Ok(Ret::Children { names, .. }),
        ) = (op.workload, &op.call, &op.outcome)
        {
            out.insert((op.node, path.clone()), names.clone());
        }
    }
    out
}

// Lists `dir` until a listing succeeds (recorded), or the deadline passes.
async fn list(
    ctx: &Ctx<'_>,
    conn: &mut Conn,
    dir: &str,
    deadline: tokio::time::Instant,
) -> Option<Vec<String>> {
    while tokio::time::Instant::now() < deadline {
        let Some(client) = conn.get().await else {
            continue;
        };
        let invoke = ctx.env.rec.now_ns();
        let res = timed(ctx.env.op_timeout, async {
            client.sync(dir).await?;
            let (mut names, stat) = client.get_children(dir).await?;
            names.sort();
            Ok((
                Ret::Children {
                    names,
                    cversion: Some(stat.cversion),
                },
                Some(stat.pzxid),
            ))
        })
        .await;
        let (out, zxid, reconnect) = outcome(res);
        let names = match &out {
            Outcome::Ok(Ret::Children { names, .. }) => Some(names.clone()),
            _ => None,
        };
        ctx.record(
            Some(client.session_id().0),
            Call::FinalList {
                path: dir.to_string(),
            },
            invoke,
            (out, zxid),
        );
        if reconnect || names.is_none() {
            conn.reset();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if names.is_some() {
            return names;
        }
    }
    None
}

async fn final_reads_node(
    env: Arc<Env>,
    node: usize,
    keys: Vec<u64>,
    eph_wait: Duration,
    process: u32,
) {
    let ctx = Ctx {
        env: &env,
        workload: Workload::Final,
        process,
        node,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60) + eph_wait;
    let started = env.rec.now_ns();
    let mut conn = Conn::new(&env, node, false);
    for dir in [SET, SEQ] {
        list(&ctx, &mut conn, dir, deadline).await;
    }
    for key in keys {
        let path = reg_path(key);
        while tokio::time::Instant::now() < deadline {
            let Some(client) = conn.get().await else {
                continue;
            };
            let invoke = env.rec.now_ns();
            let res = timed(env.op_timeout, read_register(&client, &path, env.read_mode)).await;
            let (out, zxid, reconnect) = outcome(res);
            let ok = out.is_ok();
            let session = Some(client.session_id().0);
            let op = Op {
                id: env.rec.next_id(),
                workload: Workload::Final,
                process,
                node,
                session,
                call: Call::RegRead { key },
                invoke_ns: invoke,
                complete_ns: env.rec.now_ns(),
                outcome: out,
                zxid,
            };
            env.rec.record(op);
            if reconnect || !ok {
                conn.reset();
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if ok {
                break;
            }
        }
    }
    let eph_deadline = tokio::time::Instant::now() + eph_wait;
    loop {
        let names = list(&ctx, &mut conn, EPH, deadline).await;
        match names {
            Some(v) if !v.is_empty() && tokio::time::Instant::now() < eph_deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ => break,
        }
    }
    // A node that never gave us a session left no trace: record that, so the recovery check
    // sees the node was tried.
    let recorded = env
        .rec
        .ops()
        .iter()
        .any(|o| o.workload == Workload::Final && o.node == node);
    if !recorded {
        ctx.record(
            None,
            Call::FinalList {
                path: ROOT.to_string(),
            },
            started,
            (
                Outcome::Info {
                    error: "no session before the deadline".into(),
                },
                None,
            ),
        );
    }
}
