//! State shared by the connection tasks and the pipeline stages. Lock order, always: `tree`, then
//! `watches`, then `conns`/`sessions`. A read registers its watch while holding the tree lock and
//! the apply stage fires watches while holding it exclusively, so no change slips between them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jute::data::Id;
use jute::proto::Request;
use parking_lot::{Mutex, RwLock};

use crate::data_tree::DataTree;
use crate::session::SessionTracker;
use crate::settings::ServerSettings;
use crate::stats::ServerStats;
use crate::watch_manager::{ConnId, WatchManager};

/// The per-connection state other tasks need: where to send frames and who the client is.
#[derive(Debug)]
pub struct ConnHandle {
    pub id: ConnId,
    /// Where replies and notifications go, in order.
    pub outbox: Arc<crate::outbox::Outbox>,
    pub remote: SocketAddr,
    pub session_id: AtomicI64,
    pub session_timeout_ms: AtomicI64,
    /// Identities of this connection: `ip:<addr>` plus whatever `auth` packets added.
    pub auth: Mutex<Arc<Vec<Id>>>,
    /// Requests of this connection inside the pipeline; reads wait behind them.
    pub pending: AtomicUsize,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub last_cxid: AtomicI64,
    pub last_zxid: AtomicI64,
    pub established_ms: AtomicI64,
    /// `cons` statistics (last op, latencies), as Java's `ServerCnxn`.
    pub stats: crate::stats::ConnStats,
    /// The server-wide counters, so `send` can count packets and response sizes.
    pub server_stats: Arc<ServerStats>,
}

impl ConnHandle {
    pub fn send(&self, frame: Bytes) {
        self.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.server_stats
            .response_sent(frame.len().saturating_sub(4));
        self.outbox.send(&frame);
    }

    /// Flushes what was sent, then closes the connection.
    pub fn close(&self) {
        self.outbox.close();
    }

    pub fn auth_ids(&self) -> Arc<Vec<Id>> {
        self.auth.lock().clone()
    }
}

/// Where the reply to a pipelined request goes.
#[derive(Debug, Clone)]
pub struct Origin {
    pub conn: Arc<ConnHandle>,
    pub xid: i32,
    pub op: i32,
    pub received: Instant,
}

/// Work submitted to the pipeline, in the order a connection issued it.
#[derive(Debug)]
pub enum Submit {
    /// A write (or closeSession); `origin` is `None` for server-internal requests (expiry,
    /// container reaping).
    Write {
        origin: Option<Origin>,
        session_id: i64,
        cxid: i32,
        auth: Arc<Vec<Id>>,
        request: Request,
    },
    /// A new session: its createSession txn; the ConnectResponse is sent once it is applied.
    CreateSession {
        conn: Arc<ConnHandle>,
        session_id: i64,
        timeout_ms: i32,
        read_only_echo: Option<bool>,
    },
    /// A read (or other local op) that must run after this connection's earlier writes;
    /// `None` is a request whose body could not be decoded (answered MARSHALLINGERROR).
    Barrier {
        origin: Origin,
        request: Option<Request>,
    },
    /// Quorum leader: a learner's createSession (no local connection waits for it).
    ForwardedCreateSession { session_id: i64, timeout_ms: i32 },
    /// Quorum leader: a sync (a local client's `token`, or a learner's), after earlier writes.
    Sync {
        token: Option<u64>,
        learner: Option<i64>,
    },
    /// Quorum leader: a new epoch begins; the next txn gets `last_zxid + 1`.
    ResetZxid { last_zxid: i64 },
}

/// The server's shared state.
pub struct Shared {
    pub settings: ServerSettings,
    pub tree: RwLock<DataTree>,
    pub watches: Mutex<WatchManager>,
    pub sessions: Mutex<SessionTracker>,
    /// Sessions as the database knows them (createSession/closeSession applied): snapshots hold them.
    pub db_sessions: Mutex<HashMap<i64, i32>>,
    pub conns: Mutex<HashMap<ConnId, Arc<ConnHandle>>>,
    /// Session id → the connection serving it.
    pub session_conn: Mutex<HashMap<i64, ConnId>>,
    pub per_ip: Mutex<HashMap<IpAddr, usize>>,
    pub stats: Arc<ServerStats>,
    /// The prep thread's queue (quorum mode); standalone preps inline, see [`Shared::submit`].
    pub submit_tx: mpsc::Sender<Submit>,
    /// Standalone: the prep stage, run by whoever submits.
    pub inline_prep: std::sync::OnceLock<Mutex<crate::pipeline::InlinePrep>>,
    pub start: Instant,
    pub next_conn_id: AtomicU64,
    /// Set while the server serves clients (false while loading or shutting down).
    pub serving: std::sync::atomic::AtomicBool,
    /// The trace mask of `gtmk`/`stmk`.
    pub trace_mask: AtomicI64,
    /// Quorum mode: the role and the queues shared with the peer thread (`None` standalone).
    pub quorum: Option<Arc<crate::quorum::state::QuorumState>>,
}

impl Shared {
    /// Milliseconds since the server started (monotonic), for session expiry.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// True where this server decides session expiry and container reaping: standalone, or the
    /// serving leader of an ensemble.
    pub fn owns_sessions(&self) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => q.is_leader() && self.serving.load(std::sync::atomic::Ordering::Acquire),
        }
    }

    /// Hands work to the write pipeline, in the order of the calls.
    pub fn submit(&self, item: Submit) {
        match self.inline_prep.get() {
            Some(p) => p.lock().submit(self, item),
            None => {
                let _ = self.submit_tx.send(item);
            }
        }
    }

    /// The zxid replies carry: the last applied txn.
    pub fn last_zxid(&self) -> i64 {
        self.tree.read().last_processed_zxid()
    }

    /// Sends a frame to a connection if it is still open.
    pub fn send_to(&self, conn: ConnId, frame: Bytes) {
        let c = self.conns.lock().get(&conn).cloned();
        if let Some(c) = c {
            c.send(frame);
        }
    }

    /// Closes whatever connection currently serves `session_id`.
    pub fn close_session_conn(&self, session_id: i64) {
        let cid = self.session_conn.lock().remove(&session_id);
        if let Some(cid) = cid {
            let c = self.conns.lock().get(&cid).cloned();
            if let Some(c) = c {
                c.close();
            }
        }
    }
}

/// Wall-clock milliseconds, stamped into txn headers (as Java's `Time.currentWallTime`).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
