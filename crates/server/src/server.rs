//! Starting and stopping a server: bind the client port, start the pipeline threads, the session
//! expirer and the container/TTL reaper.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jute::consts::ephemeral_owner;
use jute::proto::Request;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::info;

use crate::connection::accept_loop;
use crate::data_tree::DataTree;
use crate::pipeline::{self, TxnLog};
use crate::prep::Prep;
use crate::session::SessionTracker;
use crate::settings::ServerSettings;
use crate::shared::{wall_ms, Shared, Submit};
use crate::stats::ServerStats;
use crate::watch_manager::WatchManager;

/// What the server starts from: the recovered tree, the sessions it knew, and the log to append to.
pub struct StartState {
    pub tree: DataTree,
    pub sessions: Vec<(i64, i32)>,
    pub log: Box<dyn TxnLog>,
}

impl StartState {
    /// An empty in-memory start (tests).
    pub fn empty() -> StartState {
        StartState {
            tree: DataTree::new(),
            sessions: Vec::new(),
            log: Box::new(pipeline::NoLog),
        }
    }
}

/// A running server.
pub struct ServerHandle {
    pub shared: Arc<Shared>,
    pub local_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// Stops accepting and serving; in-flight writes already logged stay logged.
    pub fn shutdown(self) {
        self.shared.serving.store(false, Ordering::Release);
        for t in &self.tasks {
            t.abort();
        }
        for c in self.shared.conns.lock().values() {
            c.close();
        }
    }
}

/// Binds the client port and starts serving. Must run inside a tokio runtime.
pub async fn start(settings: ServerSettings, state: StartState) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(settings.client_addr).await?;
    // Standalone preps inline (no prep thread): nothing reads the submit channel.
    let (submit_tx, _) = std::sync::mpsc::channel();
    let (shared, prep, log) = build_shared(settings, state, submit_tx, None);
    pipeline::start(shared.clone(), prep, log)?;
    spawn_tasks(shared, listener)
}

/// The shared state, the prep stage and the log a server starts from.
pub(crate) fn build_shared(
    settings: ServerSettings,
    state: StartState,
    submit_tx: std::sync::mpsc::Sender<Submit>,
    quorum: Option<Arc<crate::quorum::state::QuorumState>>,
) -> (Arc<Shared>, Prep, Box<dyn TxnLog>) {
    let last_zxid = state.tree.last_processed_zxid();
    let now_wall = wall_ms();
    let mut tracker = SessionTracker::new(
        settings.tick_ms as u64,
        settings.session_server_id,
        now_wall,
    );
    for (id, to) in &state.sessions {
        tracker.add(*id, *to, 0);
    }
    let prep = Prep::new(pipeline::prep_settings(&settings), last_zxid);
    let shared = Arc::new(Shared {
        db_sessions: Mutex::new(state.sessions.iter().copied().collect::<HashMap<_, _>>()),
        settings: settings.clone(),
        tree: RwLock::new(state.tree),
        watches: Mutex::new(WatchManager::default()),
        sessions: Mutex::new(tracker),
        conns: Mutex::new(HashMap::new()),
        session_conn: Mutex::new(HashMap::new()),
        per_ip: Mutex::new(HashMap::new()),
        stats: Arc::new(ServerStats::new()),
        submit_tx,
        inline_prep: std::sync::OnceLock::new(),
        start: Instant::now(),
        next_conn_id: AtomicU64::new(1),
        serving: AtomicBool::new(quorum.is_none()),
        trace_mask: AtomicI64::new(306),
        quorum,
    });
    (shared, prep, state.log)
}

/// Starts the client-facing tasks (accept loop, expirer, reaper, HTTP listeners).
pub(crate) fn spawn_tasks(
    shared: Arc<Shared>,
    listener: TcpListener,
) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let last_zxid = shared.last_zxid();
    let settings = shared.settings.clone();
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(accept_loop(shared.clone(), listener)));
    tasks.push(tokio::spawn(expire_sessions(shared.clone())));
    tasks.push(tokio::spawn(reap_containers(shared.clone())));
    if let Some(http) = settings.admin.clone() {
        let admin = crate::admin::serve_admin(shared.clone(), http);
        tasks.push(tokio::spawn(admin));
    }
    if let Some(addr) = settings.metrics_addr {
        let metrics = crate::admin::serve_metrics(shared.clone(), addr);
        tasks.push(tokio::spawn(metrics));
    }
    info!(%local_addr, zxid = format!("0x{last_zxid:x}"), "client port open");
    Ok(ServerHandle {
        shared,
        local_addr,
        tasks,
    })
}

/// Submits a closeSession for every session whose expiry bucket is due.
async fn expire_sessions(shared: Arc<Shared>) {
    let period = Duration::from_millis((shared.settings.tick_ms as u64 / 4).clamp(10, 500));
    let mut iv = tokio::time::interval(period);
    loop {
        iv.tick().await;
        if !shared.owns_sessions() {
            continue;
        }
        let due = shared.sessions.lock().expire_due(shared.now_ms());
        for id in due {
            info!(
                session = format!("0x{id:x}"),
                "expiring session: timeout exceeded"
            );
            shared.submit(Submit::Write {
                origin: None,
                session_id: id,
                cxid: 0,
                auth: Arc::new(Vec::new()),
                request: Request::CloseSession,
            });
        }
    }
}

/// Java's `ContainerManager`: deletes empty containers that had children, and expired TTL nodes.
async fn reap_containers(shared: Arc<Shared>) {
    let interval = shared.settings.container_check_interval_ms.max(1);
    let mut iv = tokio::time::interval(Duration::from_millis(interval));
    iv.tick().await;
    loop {
        iv.tick().await;
        if !shared.owns_sessions() {
            continue;
        }
        let now = wall_ms();
        let candidates: Vec<String> = {
            let tree = shared.tree.read();
            let mut v = Vec::new();
            for p in tree.containers() {
                if let Some(n) = tree.node(&p) {
                    if n.stat.cversion > 0 && n.num_children() == 0 {
                        v.push(p);
                    }
                }
            }
            if shared.settings.extended_types_enabled {
                for p in tree.ttl_nodes() {
                    if let Some(n) = tree.node(&p) {
                        let ttl = n.stat.ephemeral_owner & ephemeral_owner::MAX_TTL;
                        if n.num_children() == 0 && now - n.stat.mtime > ttl {
                            v.push(p);
                        }
                    }
                }
            }
            v
        };
        let limit = shared.settings.container_max_per_minute.max(1) as usize;
        for p in candidates.into_iter().take(limit) {
            shared.submit(Submit::Write {
                origin: None,
                session_id: 0,
                cxid: 0,
                auth: Arc::new(Vec::new()),
                request: Request::DeleteContainer(p),
            });
        }
    }
}
