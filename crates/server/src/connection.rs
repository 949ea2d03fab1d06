//! The client port: the accept loop (connection limits), the first-frame dispatch (four-letter
//! word or ConnectRequest), the session handshake, then one reader task per connection, which
//! decodes requests and routes them. Replies go out through the connection's [`Outbox`]: written
//! by whoever produced them, with a writer task only for what a slow client leaves queued.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use jute::consts::{err, op};
use jute::data::Id;
use jute::proto::{ConnectRequest, Request, RequestHeader};
use jute::{Jute, Reader};
use parking_lot::Mutex;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::auth::authenticate;
use crate::four_letter;
use crate::frame;
use crate::outbox::Outbox;
use crate::reads::{self, ReadCtx};
use crate::session::session_password;
use crate::shared::{wall_ms, ConnHandle, Origin, Shared, Submit};

/// Why a connection was dropped (logged, one line).
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame length {0} out of range (max {1})")]
    BadLength(i64, usize),
    #[error("malformed {what}: {source}")]
    Decode {
        what: &'static str,
        source: jute::DecodeError,
    },
    #[error("{0}")]
    Refused(String),
}

/// Accepts clients until the listener fails or the server shuts down.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let s = shared.settings.clone();
        if s.max_cnxns > 0 && shared.conns.lock().len() >= s.max_cnxns {
            warn!(%remote, "too many connections (maxCnxns); closing");
            continue;
        }
        {
            let mut per_ip = shared.per_ip.lock();
            let n = per_ip.entry(remote.ip()).or_insert(0);
            if s.max_client_cnxns > 0 && *n >= s.max_client_cnxns {
                warn!(%remote, limit = s.max_client_cnxns, "too many connections from this address (maxClientCnxns); closing");
                continue;
            }
            *n += 1;
        }
        let sh = shared.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            handle(sh.clone(), stream, remote).await;
            let mut per_ip = sh.per_ip.lock();
            if let Some(n) = per_ip.get_mut(&remote.ip()) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_ip.remove(&remote.ip());
                }
            }
        });
    }
}

async fn handle(shared: Arc<Shared>, stream: TcpStream, remote: SocketAddr) {
    let (mut rd, wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(4096);
    // The first 4 bytes are either a four-letter word or the length of the ConnectRequest.
    if let Err(e) = fill(&mut rd, &mut buf, 4).await {
        debug!(%remote, error = %e, "connection closed before its first frame");
        return;
    }
    let head = [buf[0], buf[1], buf[2], buf[3]];
    if let Some(cmd) = four_letter::command_of(head) {
        buf.advance(4);
        four_letter::serve(&shared, cmd, rd, wr, buf).await;
        return;
    }
    let id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(ConnHandle {
        id,
        outbox: Arc::new(Outbox::new(wr)),
        remote,
        session_id: AtomicI64::new(0),
        session_timeout_ms: AtomicI64::new(0),
        auth: Mutex::new(Arc::new(vec![Id::new("ip", &remote.ip().to_string())])),
        pending: AtomicUsize::new(0),
        packets_received: AtomicU64::new(0),
        packets_sent: AtomicU64::new(0),
        last_cxid: AtomicI64::new(-1),
        last_zxid: AtomicI64::new(-1),
        established_ms: AtomicI64::new(wall_ms()),
        stats: Default::default(),
        server_stats: shared.stats.clone(),
    });
    let closed = Arc::new(Notify::new());
    shared.conns.lock().insert(id, conn.clone());
    let writer = {
        let (conn, closed) = (conn.clone(), closed.clone());
        tokio::spawn(async move {
            conn.outbox.run_writer().await;
            closed.notify_one();
        })
    };
    let result = tokio::select! {
        r = session_loop(&shared, &conn, &mut rd, &mut buf) => r,
        _ = closed.notified() => Ok(()),
    };
    match &result {
        Ok(()) => debug!(%remote, "connection closed"),
        Err(e) => {
            info!(%remote, session = format!("0x{:x}", conn.session_id.load(Ordering::Relaxed)), error = %e, "closing connection")
        }
    }
    // Cleanup: the session itself lives on until it expires or is closed.
    shared.conns.lock().remove(&id);
    if let Some(q) = &shared.quorum {
        q.pending.lock().drop_conn(id);
    }
    {
        let mut w = shared.watches.lock();
        w.remove_connection(id);
    }
    let sid = conn.session_id.load(Ordering::Acquire);
    if sid != 0 {
        let mut m = shared.session_conn.lock();
        if m.get(&sid) == Some(&id) {
            m.remove(&sid);
        }
    }
    conn.close();
    let _ = writer.await;
}

/// Reads until `buf` holds at least `n` bytes.
async fn fill(rd: &mut OwnedReadHalf, buf: &mut BytesMut, n: usize) -> Result<(), ConnError> {
    while buf.len() < n {
        buf.reserve(n - buf.len());
        if rd.read_buf(buf).await? == 0 {
            return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(())
}

/// Whether `buf` already holds a whole frame (length prefix and body).
fn holds_frame(buf: &BytesMut) -> bool {
    buf.len() >= 4 && {
        let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        len >= 0 && buf.len() - 4 >= len as usize
    }
}

/// Reads one length-prefixed frame; `Ok(None)` on a clean close between frames.
async fn read_frame(
    rd: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<Bytes>, ConnError> {
    while buf.len() < 4 {
        if rd.read_buf(buf).await? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 || len as usize > max {
        return Err(ConnError::BadLength(len as i64, max));
    }
    let total = 4 + len as usize;
    fill(rd, buf, total).await?;
    buf.advance(4);
    Ok(Some(buf.split_to(len as usize).freeze()))
}

async fn session_loop(
    shared: &Arc<Shared>,
    conn: &Arc<ConnHandle>,
    rd: &mut OwnedReadHalf,
    buf: &mut BytesMut,
) -> Result<(), ConnError> {
    let max = shared.settings.max_buffer;
    let Some(first) = read_frame(rd, buf, max).await? else {
        return Ok(());
    };
    shared.stats.received();
    shared
        .stats
        .connection_requests
        .fetch_add(1, Ordering::Relaxed);
    conn.packets_received.fetch_add(1, Ordering::Relaxed);
    if !shared.serving.load(Ordering::Acquire) {
        return Err(ConnError::Refused("not serving requests".into()));
    }
    let mut r = Reader::with_limit(first, max * 2);
    let req = ConnectRequest::read(&mut r).map_err(|e| ConnError::Decode {
        what: "ConnectRequest",
        source: e,
    })?;
    if shared.quorum.as_ref().is_some_and(|q| q.is_read_only()) {
        read_only_handshake(shared, conn, &req)?;
    } else {
        handshake(shared, conn, &req)?;
    }
    let mut corked = false;
    let result = loop {
        let payload = match read_frame(rd, buf, max).await {
            Ok(Some(p)) => p,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        // More requests already here: answer them all, then write the replies together.
        let more = holds_frame(buf);
        if more && !corked {
            conn.outbox.cork();
            corked = true;
        }
        match handle_request(shared, conn, payload) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        if !more && corked {
            conn.outbox.uncork();
            corked = false;
        }
    };
    if corked {
        conn.outbox.uncork();
    }
    result
}

/// The session timeout a client gets: what it asked for, within min/maxSessionTimeout.
fn negotiate_timeout(shared: &Shared, conn: &ConnHandle, req: &ConnectRequest) -> i32 {
    let s = &shared.settings;
    let timeout = req
        .time_out
        .clamp(s.min_session_timeout_ms, s.max_session_timeout_ms);
    conn.session_timeout_ms
        .store(timeout as i64, Ordering::Relaxed);
    timeout
}

/// Mints a session id and starts tracking the session's expiry.
fn new_session_id(shared: &Shared, timeout: i32, now: u64) -> i64 {
    let mut t = shared.sessions.lock();
    let id = t.next_session_id();
    t.add(id, timeout, now);
    id
}

fn handshake(
    shared: &Arc<Shared>,
    conn: &Arc<ConnHandle>,
    req: &ConnectRequest,
) -> Result<(), ConnError> {
    let last = shared.last_zxid();
    if req.last_zxid_seen > last {
        return Err(ConnError::Refused(format!(
            "client has seen zxid 0x{:x}, our last zxid is 0x{:x}; client must try another server",
            req.last_zxid_seen, last
        )));
    }
    let timeout = negotiate_timeout(shared, conn, req);
    let now = shared.now_ms();
    if req.session_id == 0 {
        let id = new_session_id(shared, timeout, now);
        conn.session_id.store(id, Ordering::Release);
        if let Some(q) = &shared.quorum {
            q.create_session(shared, conn, id, timeout, req.read_only);
            return Ok(());
        }
        conn.pending.fetch_add(1, Ordering::AcqRel);
        shared.submit(Submit::CreateSession {
            conn: conn.clone(),
            session_id: id,
            timeout_ms: timeout,
            read_only_echo: req.read_only,
        });
        return Ok(());
    }
    let id = req.session_id;
    if let Some(q) = shared.quorum.as_ref().filter(|q| !q.is_leader()) {
        // Sessions are the leader's: a learner asks it before taking the client back.
        if req.passwd.as_ref() == session_password(id) {
            q.revalidate(conn, id, timeout, req.read_only);
            return Ok(());
        }
    }
    let valid = req.passwd.as_ref() == session_password(id)
        && shared.sessions.lock().touch(id, Some(timeout), now);
    if !valid {
        conn.send(frame::connect_response(None, req.read_only.map(|_| false)));
        conn.close();
        info!(
            session = format!("0x{id:x}"),
            "refused reconnect: session expired or wrong password"
        );
        return Ok(());
    }
    // Any other connection of this session is closed (the client moved here).
    let old = shared.session_conn.lock().insert(id, conn.id);
    if let Some(old) = old.filter(|o| *o != conn.id) {
        let c = shared.conns.lock().get(&old).cloned();
        if let Some(c) = c {
            c.close();
        }
    }
    conn.session_id.store(id, Ordering::Release);
    conn.send(frame::connect_response(
        Some((id, timeout)),
        req.read_only.map(|_| false),
    ));
    info!(
        session = format!("0x{id:x}"),
        timeout_ms = timeout,
        "session reconnected"
    );
    Ok(())
}

/// Read-only mode (`readonlymode.enabled`, no quorum): only clients that allow read-only
/// servers, each with a new session known to this server alone; existing sessions cannot move here
/// (the leader that owns them is unreachable).
fn read_only_handshake(
    shared: &Arc<Shared>,
    conn: &Arc<ConnHandle>,
    req: &ConnectRequest,
) -> Result<(), ConnError> {
    if req.read_only != Some(true) {
        return Err(ConnError::Refused(
            "not a read-only client while this server is in read-only mode".into(),
        ));
    }
    if req.session_id != 0 {
        return Err(ConnError::Refused(
            "read-only mode: a global session cannot reconnect here".into(),
        ));
    }
    let timeout = negotiate_timeout(shared, conn, req);
    let id = new_session_id(shared, timeout, shared.now_ms());
    conn.session_id.store(id, Ordering::Release);
    shared.session_conn.lock().insert(id, conn.id);
    conn.send(frame::connect_response(Some((id, timeout)), Some(true)));
    info!(
        session = format!("0x{id:x}"),
        "read-only session established"
    );
    Ok(())
}

/// Whether an opcode changes the tree (and so goes through prep and the log).
fn is_write(op_type: i32) -> bool {
    matches!(
        op_type,
        op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::SET_ACL
            | op::MULTI
            | op::RECONFIG
            | op::CLOSE_SESSION
    )
}

/// Routes one request. Returns false when the connection must end.
fn handle_request(
    shared: &Arc<Shared>,
    conn: &Arc<ConnHandle>,
    payload: Bytes,
) -> Result<bool, ConnError> {
    let received = Instant::now();
    let max = shared.settings.max_buffer;
    let raw = payload.clone();
    let mut r = Reader::with_limit(payload, max * 2);
    let h = RequestHeader::read(&mut r).map_err(|e| ConnError::Decode {
        what: "RequestHeader",
        source: e,
    })?;
    shared.stats.received();
    conn.packets_received.fetch_add(1, Ordering::Relaxed);
    let session_id = conn.session_id.load(Ordering::Acquire);
    let alive = shared
        .sessions
        .lock()
        .touch(session_id, None, shared.now_ms());
    if let Some(q) = &shared.quorum {
        q.touch(
            session_id,
            conn.session_timeout_ms.load(Ordering::Relaxed) as i32,
        );
    }
    let zxid_now = || shared.last_zxid();
    match h.op_type {
        op::AUTH => {
            let pkt = jute::proto::AuthPacket::read(&mut r).map_err(|e| ConnError::Decode {
                what: "AuthPacket",
                source: e,
            })?;
            match authenticate(&shared.settings.acl, &pkt.scheme, &pkt.auth) {
                Ok(ids) => {
                    let mut a = conn.auth.lock();
                    *a = Arc::new(crate::auth::add_ids(&a, ids));
                    conn.send(frame::header_only(h.xid, 0, 0));
                    return Ok(true);
                }
                Err(code) => {
                    shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                    warn!(scheme = %pkt.scheme, "authentication failed");
                    conn.send(frame::header_only(h.xid, 0, code));
                    conn.close();
                    return Ok(false);
                }
            }
        }
        op::SASL => {
            conn.send(frame::header_only(h.xid, 0, err::AUTH_FAILED));
            conn.close();
            return Ok(false);
        }
        op::CHECK => {
            // ZOOKEEPER-2623 (3.8.5+/3.9.3+): check is valid only inside multi.
            conn.send(frame::header_only(h.xid, zxid_now(), err::UNIMPLEMENTED));
            conn.close();
            return Ok(false);
        }
        op::DELETE_CONTAINER => {
            conn.send(frame::header_only(h.xid, zxid_now(), err::UNIMPLEMENTED));
            conn.close();
            return Ok(false);
        }
        _ => {}
    }
    let request = match Request::decode(h.op_type, &mut r) {
        Ok(Some(req)) => req,
        Ok(None) => {
            conn.send(frame::header_only(h.xid, zxid_now(), err::UNIMPLEMENTED));
            conn.close();
            return Ok(false);
        }
        Err(e) => {
            // Java decodes bodies late and answers MARSHALLINGERROR, keeping the connection.
            warn!(op = h.op_type, error = %e, "malformed request body");
            let origin = Origin {
                conn: conn.clone(),
                xid: h.xid,
                op: h.op_type,
                received,
            };
            if let Some(q) = &shared.quorum {
                if let Some((origin, _)) = q.read_or_queue(session_id, origin, None) {
                    conn.send(frame::header_only(
                        origin.xid,
                        zxid_now(),
                        err::MARSHALLING_ERROR,
                    ));
                }
            } else if conn.pending.load(Ordering::Acquire) > 0 {
                conn.pending.fetch_add(1, Ordering::AcqRel);
                shared.submit(Submit::Barrier {
                    origin,
                    request: None,
                });
            } else {
                conn.send(frame::header_only(
                    h.xid,
                    zxid_now(),
                    err::MARSHALLING_ERROR,
                ));
            }
            return Ok(true);
        }
    };
    conn.last_cxid.store(h.xid as i64, Ordering::Relaxed);
    let origin = Origin {
        conn: conn.clone(),
        xid: h.xid,
        op: h.op_type,
        received,
    };
    if shared.quorum.as_ref().is_some_and(|q| q.is_read_only())
        && (is_write(h.op_type) || h.op_type == op::SYNC)
    {
        if h.op_type == op::CLOSE_SESSION {
            // A read-only session is local: closing it needs no txn.
            shared.sessions.lock().remove(session_id);
            conn.send(frame::header_only(h.xid, zxid_now(), 0));
            conn.close();
            return Ok(false);
        }
        conn.send(frame::header_only(h.xid, zxid_now(), err::NOT_READONLY));
        return Ok(true);
    }
    if is_write(h.op_type) {
        if let Some(q) = &shared.quorum {
            let body = raw.slice(raw.len().min(8)..);
            q.write(
                shared,
                origin,
                session_id,
                h.xid,
                conn.auth_ids(),
                request,
                body,
            );
            return Ok(true);
        }
        conn.pending.fetch_add(1, Ordering::AcqRel);
        let auth = conn.auth_ids();
        shared.submit(Submit::Write {
            origin: Some(origin),
            session_id,
            cxid: h.xid,
            auth,
            request,
        });
        return Ok(true);
    }
    if !alive && h.op_type != op::PING {
        conn.send(frame::header_only(h.xid, zxid_now(), err::SESSION_EXPIRED));
        return Ok(true);
    }
    let (origin, request) = if let Some(q) = &shared.quorum {
        if let Request::Sync(s) = request {
            q.sync(shared, origin, session_id, s.path);
            return Ok(true);
        }
        match q.read_or_queue(session_id, origin, Some(request)) {
            Some((o, Some(r))) => (o, r),
            _ => return Ok(true),
        }
    } else {
        (origin, request)
    };
    if shared.quorum.is_none() && conn.pending.load(Ordering::Acquire) > 0 {
        conn.pending.fetch_add(1, Ordering::AcqRel);
        shared.submit(Submit::Barrier {
            origin,
            request: Some(request),
        });
        return Ok(true);
    }
    let ctx = ReadCtx::of(conn);
    let reply = {
        let tree = shared.tree.read();
        let reply = reads::execute(
            shared,
            &tree,
            &mut reads::Watches::lazy(&shared.watches),
            &ctx,
            h.xid,
            &request,
        );
        crate::metrics::record_read(shared, &request, &reply.frame);
        // Sent under the tree lock: no txn can fire a watch this read set before its reply
        // is on its way.
        conn.send(reply.frame.clone());
        // Java's FinalRequestProcessor.updateStats: every answered request, pings included.
        let ms = received.elapsed().as_millis() as i64;
        shared.stats.request_done(h.op_type, ms);
        conn.stats.response(
            h.xid as i64,
            tree.last_processed_zxid(),
            h.op_type,
            ms,
            shared.now_ms() as i64,
        );
        reply
    };
    if reply.close {
        conn.close();
        return Ok(false);
    }
    Ok(true)
}
