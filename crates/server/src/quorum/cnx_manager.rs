//! Java's `QuorumCnxManager` on the election port (3888): one TCP connection per peer pair (the one
//! initiated by the larger sid survives), the initial message, `int length` frames, a send queue of
//! one message per peer (the newest wins) that is re-sent whenever a new connection comes up.
//! Peer host names are resolved again on every attempt; a name that does not resolve yet (a
//! Kubernetes pod not in DNS) is retried and logged, never fatal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use election::handshake::{check_frame_len, encode_frame};
use election::{keep_connection, Decision, InitialMessage, Sid};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// Where a peer listens for election connections.
#[derive(Debug, Clone)]
pub struct PeerElectionAddr {
    pub host: String,
    pub port: u16,
}

/// Settings of the connection manager.
#[derive(Debug, Clone)]
pub struct CnxConfig {
    pub my_sid: Sid,
    /// Our election address as announced in the initial message.
    pub my_addr: PeerElectionAddr,
    /// Where to listen (the configured address, or the wildcard with `quorumListenOnAllIPs`).
    pub listen: SocketAddr,
    /// Every other member of the configuration.
    pub peers: HashMap<Sid, PeerElectionAddr>,
    /// `zookeeper.cnxTimeout`.
    pub connect_timeout: Duration,
    /// Read timeout while waiting for an initial message.
    pub handshake_timeout: Duration,
}

/// A running connection manager: send with [`CnxManager::send`], receive from `inbound`.
pub struct CnxManager {
    shared: Arc<Inner>,
    /// `(sender sid, payload)` of every frame received.
    pub inbound: mpsc::UnboundedReceiver<(Sid, Bytes)>,
    tasks: Vec<JoinHandle<()>>,
}

/// The generation of a peer's live connection and its reader/writer tasks.
type Connection = (u64, Vec<JoinHandle<()>>);

struct Inner {
    cfg: CnxConfig,
    /// Per peer: the newest message to send (re-sent on each new connection).
    queues: HashMap<Sid, watch::Sender<Option<Bytes>>>,
    /// Per peer: the generation and tasks of the current connection, aborted when a newer one
    /// replaces it.
    current: Mutex<HashMap<Sid, Connection>>,
    generation: std::sync::atomic::AtomicU64,
    inbound_tx: mpsc::UnboundedSender<(Sid, Bytes)>,
}

impl CnxManager {
    /// Binds the election port and starts connecting to the peers.
    pub async fn start(cfg: CnxConfig) -> std::io::Result<CnxManager> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        let mut queues = HashMap::new();
        for sid in cfg.peers.keys() {
            queues.insert(*sid, watch::channel(None).0);
        }
        let shared = Arc::new(Inner {
            cfg,
            queues,
            current: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(1),
            inbound_tx,
        });
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(accept_loop(shared.clone(), listener)));
        for sid in shared.cfg.peers.keys().copied().collect::<Vec<_>>() {
            tasks.push(tokio::spawn(dial_loop(shared.clone(), sid)));
        }
        Ok(CnxManager {
            shared,
            inbound,
            tasks,
        })
    }

    /// Queues `payload` for `sid`, replacing anything not yet sent.
    pub fn send(&self, sid: Sid, payload: Bytes) {
        if let Some(q) = self.shared.queues.get(&sid) {
            q.send_replace(Some(payload));
        }
    }

    /// Sids with a live connection.
    pub fn connected(&self) -> Vec<Sid> {
        let mut v: Vec<Sid> = self.shared.current.lock().keys().copied().collect();
        v.sort_unstable();
        v
    }
}

impl Drop for CnxManager {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for (_, (_, ts)) in self.shared.current.lock().drain() {
            for t in ts {
                t.abort();
            }
        }
    }
}

fn initial_message(cfg: &CnxConfig) -> Option<Vec<u8>> {
    InitialMessage::v1(cfg.my_sid, &cfg.my_addr.host, cfg.my_addr.port)
        .encode()
        .ok()
}

async fn resolve(addr: &PeerElectionAddr) -> Option<SocketAddr> {
    match tokio::net::lookup_host((addr.host.as_str(), addr.port)).await {
        Ok(mut it) => it.next(),
        Err(e) => {
            debug!(host = %addr.host, error = %e, "peer address does not resolve yet");
            None
        }
    }
}

/// Keeps a connection to `sid` when we are the larger sid; when the remote is larger, pokes it
/// (initial message, then close) so that it connects to us, as Java does.
async fn dial_loop(inner: Arc<Inner>, sid: Sid) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = inner.current.lock().contains_key(&sid);
        if !connected {
            let Some(addr) = inner.cfg.peers.get(&sid).cloned() else {
                return;
            };
            if let Some(sock) = resolve(&addr).await {
                match tokio::time::timeout(inner.cfg.connect_timeout, TcpStream::connect(sock))
                    .await
                {
                    Ok(Ok(mut stream)) => {
                        let _ = stream.set_nodelay(true);
                        let Some(msg) = initial_message(&inner.cfg) else {
                            return;
                        };
                        if stream.write_all(&msg).await.is_ok() {
                            match keep_connection(inner.cfg.my_sid, sid, true) {
                                Decision::Keep => {
                                    install(&inner, sid, stream, Vec::new());
                                    backoff = Duration::from_millis(100);
                                }
                                _ => {
                                    // The remote (larger sid) will connect back to us.
                                    let _ = stream.shutdown().await;
                                }
                            }
                        }
                    }
                    Ok(Err(e)) => debug!(peer = sid, error = %e, "election connect failed"),
                    Err(_) => debug!(peer = sid, "election connect timed out"),
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        let (mut stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "election accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let (msg, leftover) =
                match tokio::time::timeout(inner.cfg.handshake_timeout, read_initial(&mut stream))
                    .await
                {
                    Ok(Ok(x)) => x,
                    Ok(Err(e)) => {
                        info!(%remote, error = %e, "bad initial message on the election port");
                        return;
                    }
                    Err(_) => {
                        info!(%remote, "no initial message on the election port");
                        return;
                    }
                };
            let sid = msg.sid();
            if !inner.cfg.peers.contains_key(&sid) {
                info!(%remote, sid, "election connection from a server not in the configuration");
                return;
            }
            match keep_connection(inner.cfg.my_sid, sid, false) {
                Decision::Keep => install(&inner, sid, stream, leftover),
                Decision::CloseAndConnectBack => {
                    // Our dial loop connects back (we are the larger sid).
                    let _ = stream.shutdown().await;
                }
                Decision::RejectSameSid | Decision::CloseAndWait => {
                    warn!(sid, "election connection claims our own sid; ignored");
                }
            }
        });
    }
}

/// Reads the initial message; also returns whatever was read past it (the start of the first
/// notification frame, when the peer sent both at once).
async fn read_initial(stream: &mut TcpStream) -> Result<(InitialMessage, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        match InitialMessage::decode(&buf) {
            Ok((m, used)) => return Ok((m, buf.split_off(used.min(buf.len())))),
            Err(election::HandshakeError::Incomplete { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        if buf.len() > 4096 {
            return Err("initial message too long".into());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Makes `stream` the connection to `sid`, replacing any older one.
fn install(inner: &Arc<Inner>, sid: Sid, stream: TcpStream, already_read: Vec<u8>) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = std::io::Cursor::new(already_read).chain(rd);
    let Some(queue) = inner.queues.get(&sid) else {
        return;
    };
    let mut rx = queue.subscribe();
    let inbound = inner.inbound_tx.clone();
    let inner2 = inner.clone();
    let generation = inner
        .generation
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let reader = tokio::spawn(async move {
        loop {
            let mut h = [0u8; 4];
            if rd.read_exact(&mut h).await.is_err() {
                break;
            }
            let Ok(len) = check_frame_len(h) else {
                warn!(
                    peer = sid,
                    "bad election frame length; dropping the connection"
                );
                break;
            };
            let mut body = vec![0u8; len];
            if rd.read_exact(&mut body).await.is_err() {
                break;
            }
            if inbound.send((sid, Bytes::from(body))).is_err() {
                break;
            }
        }
        // The connection is gone: forget it so the dial loop may reconnect.
        let mut cur = inner2.current.lock();
        if cur.get(&sid).is_some_and(|(g, _)| *g == generation) {
            if let Some((_, ts)) = cur.remove(&sid) {
                for t in ts {
                    t.abort();
                }
            }
        }
    });
    let writer = tokio::spawn(async move {
        // Java re-sends the last message on every new connection.
        let first = rx.borrow_and_update().clone();
        if let Some(m) = first {
            if let Ok(f) = encode_frame(&m) {
                if wr.write_all(&f).await.is_err() {
                    return;
                }
            }
        }
        while rx.changed().await.is_ok() {
            let m = rx.borrow_and_update().clone();
            if let Some(m) = m {
                let Ok(f) = encode_frame(&m) else { continue };
                if wr.write_all(&f).await.is_err() {
                    return;
                }
            }
        }
    });
    let old = inner
        .current
        .lock()
        .insert(sid, (generation, vec![reader, writer]));
    if let Some((_, ts)) = old {
        for t in ts {
            t.abort();
        }
    }
    debug!(peer = sid, "election connection up");
}
