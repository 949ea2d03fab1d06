//! The recorded history of a run: every operation a client invoked, when, on which node, in which
//! session, and what came back; plus the nemesis intervals. Written as JSON lines so a run can be
//! re-checked offline (`ferrokeeper-jepsen check DIR`).

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Which workload an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Register,
    Seq,
    Set,
    Session,
    Fifo,
    /// Reads done after the nemesis healed, one client per node.
    Final,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Register,
        Workload::Seq,
        Workload::Set,
        Workload::Session,
        Workload::Fifo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Seq => "seq",
            Workload::Set => "set",
            Workload::Session => "session",
            Workload::Fifo => "fifo",
            Workload::Final => "final",
        }
    }

    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }
}

/// What the client asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Call {
    /// Register: create the key's znode with an initial value.
    RegCreate { key: u64, value: u64 },
    /// Register: `sync` then `getData`.
    RegRead { key: u64 },
    /// Register: `setData` with version -1.
    RegWrite { key: u64, value: u64 },
    /// Register: `setData` with an expected version (compare-and-set).
    RegCas { key: u64, expected: i32, value: u64 },
    /// Sequential create under /jepsen/seq with a unique token as data.
    SeqCreate { token: u64 },
    /// Set: create /jepsen/set/e-<element>.
    SetAdd { element: u64 },
    /// Session: create an ephemeral node owned by this session.
    EphCreate { name: String },
    /// Session: `sync` + `exists` of this session's own ephemeral.
    EphCheckOwn { name: String },
    /// Session: a write in this session proving it is alive (setData on a persistent node).
    EphAlive { name: String },
    /// FIFO: pipelined `setData` number `index` of burst `burst`.
    FifoSet { burst: u64, index: u32, value: u64 },
    /// FIFO: pipelined `getData` number `index` of burst `burst`.
    FifoGet { burst: u64, index: u32 },
    /// Final phase: `sync` + list children of `path` on one node.
    FinalList { path: String },
}

impl Call {
    pub fn short(&self) -> String {
        match self {
            Call::RegCreate { key, value } => format!("create k{key} {value}"),
            Call::RegRead { key } => format!("read k{key}"),
            Call::RegWrite { key, value } => format!("write k{key} {value}"),
            Call::RegCas {
                key,
                expected,
                value,
            } => format!("cas k{key} v{expected}->{value}"),
            Call::SeqCreate { token } => format!("seq-create {token}"),
            Call::SetAdd { element } => format!("add {element}"),
            Call::EphCreate { name } => format!("eph-create {name}"),
            Call::EphCheckOwn { name } => format!("eph-check {name}"),
            Call::EphAlive { name } => format!("eph-alive {name}"),
            Call::FifoSet {
                burst,
                index,
                value,
            } => format!("fifo-set b{burst}#{index} {value}"),
            Call::FifoGet { burst, index } => format!("fifo-get b{burst}#{index}"),
            Call::FinalList { path } => format!("final-list {path}"),
        }
    }

    /// The register key this call touches, if it is a register call.
    pub fn register_key(&self) -> Option<u64> {
        match self {
            Call::RegCreate { key, .. }
            | Call::RegRead { key }
            | Call::RegWrite { key, .. }
            | Call::RegCas { key, .. } => Some(*key),
            _ => None,
        }
    }
}

/// A register value with its znode version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Versioned {
    pub value: u64,
    pub version: i32,
}

/// What came back on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ret", rename_all = "kebab-case")]
pub enum Ret {
    /// Nothing beyond success.
    Done,
    /// A read: `None` when the znode did not exist.
    Read { data: Option<Versioned> },
    /// A write or CAS: the new version.
    Written { version: i32 },
    /// A create: the sequence number (sequential creates) and the ephemeral owner.
    Created { seq: Option<i64>, owner: i64 },
    /// An exists: the owner session of the node, if it exists.
    Exists { owner: Option<i64> },
    /// A children listing, with the parent's cversion when known.
    Children {
        names: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cversion: Option<i32>,
    },
}

/// How an operation ended. `Fail` is definite (the server executed it and refused: it had no
/// effect); `Info` is indeterminate (timeout, connection loss, expired session: it may or may not
/// have taken effect, at any time after its invocation), as in Knossos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Outcome {
    Ok(Ret),
    Fail { error: String },
    Info { error: String },
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
    pub fn is_info(&self) -> bool {
        matches!(self, Outcome::Info { .. })
    }
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::Fail { .. } => "fail",
            Outcome::Info { .. } => "info",
        }
    }
}

/// One completed operation (invocation and completion in one record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Unique within the run, in invocation order per worker (not globally sorted).
    pub id: u64,
    pub workload: Workload,
    /// Worker (client thread) number.
    pub process: u32,
    /// Node index (0-based) the worker's client is bound to.
    pub node: usize,
    /// Session id of the client that ran it, if connected.
    pub session: Option<i64>,
    pub call: Call,
    /// Nanoseconds since the run started.
    pub invoke_ns: u64,
    /// When the client returned (for `Info` ops: when we gave up waiting).
    pub complete_ns: u64,
    pub outcome: Outcome,
    /// zxid carried by the reply's Stat (mzxid for reads/writes, czxid for creates).
    pub zxid: Option<i64>,
}

impl Op {
    pub fn describe(&self) -> String {
        let res = match &self.outcome {
            Outcome::Ok(ret) => match ret {
                Ret::Done => "ok".to_string(),
                Ret::Read { data: None } => "ok absent".to_string(),
                Ret::Read { data: Some(v) } => format!("ok {}@v{}", v.value, v.version),
                Ret::Written { version } => format!("ok v{version}"),
                Ret::Created { seq, owner } => match seq {
                    Some(s) => format!("ok seq={s}"),
                    None if *owner != 0 => format!("ok owner={owner:#x}"),
                    None => "ok".to_string(),
                },
                Ret::Exists { owner: Some(o) } => format!("ok exists owner={o:#x}"),
                Ret::Exists { owner: None } => "ok absent".to_string(),
                Ret::Children { names, cversion } => match cversion {
                    Some(c) => format!("ok {} children cversion={c}", names.len()),
                    None => format!("ok {} children", names.len()),
                },
            },
            Outcome::Fail { error } => format!("fail {error}"),
            Outcome::Info { error } => format!("info {error}"),
        };
        let zxid = self
            .zxid
            .map(|z| format!(" zxid={z:#x}"))
            .unwrap_or_default();
        let session = self
            .session
            .map(|s| format!(" s={s:#x}"))
            .unwrap_or_default();
        format!(
            "[{:>9.3}s..{:>9.3}s] op#{:<6} p{:<3} n{} {:<28} => {}{}{}",
            self.invoke_ns as f64 / 1e9,
            self.complete_ns as f64 / 1e9,
            self.id,
            self.process,
            self.node + 1,
            self.call.short(),
            res,
            zxid,
            session
        )
    }
}

/// A fault interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisEvent {
    /// Fault name, e.g. `partition-halves`.
    pub kind: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Human-readable description (which nodes, which rules).
    pub detail: String,
    pub nodes: Vec<usize>,
}

/// Thread-safe recorder shared by every worker.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<RecorderInner>>,
}

#[derive(Default)]
struct RecorderInner {
    next_id: u64,
    ops: Vec<Op>,
    nemesis: Vec<NemesisEvent>,
}

impl Recorder {
    pub fn new(start: Instant) -> Self {
        Recorder {
            start,
            inner: Arc::new(Mutex::new(RecorderInner::default())),
        }
    }

    /// Nanoseconds since the run started.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn next_id(&self) -> u64 {
        let mut g = self.lock();
        g.next_id += 1;
        g.next_id
    }

    pub fn record(&self, op: Op) {
        self.lock().ops.push(op);
    }

    pub fn record_nemesis(&self, ev: NemesisEvent) {
        self.lock().nemesis.push(ev);
    }

    pub fn ops(&self) -> Vec<Op> {
        let mut ops = self.lock().ops.clone();
        ops.sort_by_key(|o| (o.invoke_ns, o.id));
        ops
    }

    pub fn nemesis(&self) -> Vec<NemesisEvent> {
        self.lock().nemesis.clone()
    }

    pub fn op_count(&self) -> usize {
        self.lock().ops.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderInner> {
        // A worker that panicked while holding the lock left consistent data (push is atomic).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = BufWriter::new(file);
    for item in items {
        serde_json::to_writer(&mut w, item)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        out.push(item);
    }
    Ok(out)
}
