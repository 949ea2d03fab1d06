//! The write pipeline — a quorum of one. Three stages connected by channels:
//!
//! 1. **prep**: request → txn with the next zxid ([`crate::prep::Prep`]), run by the submitting
//!    task under one lock ([`InlinePrep`]; a quorum leader runs it on a thread of its own);
//! 2. **log** (a thread): group commit — every txn waiting at that moment is appended, then synced
//!    once ([`TxnLog`]); nothing is acknowledged before it is durable;
//! 3. **apply** (a thread): txns are applied to the data tree in zxid order, watches fire, replies
//!    go out (written after the tree lock is released, see [`crate::outbox::SendBatch`]).
//!
//! Reads that a connection issued after a write it is still waiting for travel the same channels
//! as barriers, so they run right after that write is applied. Replication (ZAB) slots in between
//! log and apply: apply consumes *committed* txns, whoever committed them.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread;

use bytes::Bytes;
use jute::consts::{err, op, perms};
use jute::proto::{
    ConnectResponse, Create2Response, CreateResponse, MultiResponse, OpResult, SetAclResponse,
    SetDataResponse,
};
use jute::txn::{TxnBody, TxnEntry};
use tracing::{error, info, warn};

use crate::auth::check_acl;
use crate::data_tree::{ApplyResult, DataTree, Trigger};
use crate::frame;
use crate::prep::{Prep, PrepInput};
use crate::reads;
use crate::session::session_password;
use crate::shared::{wall_ms, ConnHandle, Origin, Shared, Submit};
use crate::watch_manager::WatchManager;

/// The durable txn log as the pipeline sees it: append, then make everything appended durable.
pub trait TxnLog: Send {
    fn append(&mut self, zxid: i64, payload: &Bytes) -> io::Result<()>;
    /// Makes every appended entry durable (one fdatasync for the whole batch).
    fn commit(&mut self) -> io::Result<()>;
}

/// A log that keeps nothing: for tests of the protocol layer only.
pub struct NoLog;

impl TxnLog for NoLog {
    fn append(&mut self, _: i64, _: &Bytes) -> io::Result<()> {
        Ok(())
    }
    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What flows from prep to log to apply.
pub enum Item {
    Txn {
        entry: TxnEntry,
        origin: ItemOrigin,
    },
    Barrier {
        origin: Origin,
        request: Option<jute::proto::Request>,
    },
    /// Quorum leader: a sync, in order with the writes prep handed out before it.
    Sync {
        token: Option<u64>,
        learner: Option<i64>,
    },
}

/// Who waits for a txn.
pub enum ItemOrigin {
    None,
    Request(Origin),
    Connect {
        conn: Arc<ConnHandle>,
        timeout_ms: i32,
        read_only_echo: Option<bool>,
    },
}

/// Starts the log and apply threads; prep runs inline in whoever submits
/// ([`Shared::submit`]). Returns the threads' join handles.
pub fn start(
    shared: Arc<Shared>,
    prep: Prep,
    mut log: Box<dyn TxnLog>,
) -> io::Result<Vec<thread::JoinHandle<()>>> {
    let (log_tx, log_rx) = std::sync::mpsc::channel::<Item>();
    let (apply_tx, apply_rx) = std::sync::mpsc::channel::<Vec<Item>>();
    if shared
        .inline_prep
        .set(parking_lot::Mutex::new(InlinePrep { prep, log_tx }))
        .is_err()
    {
        return Err(io::Error::other("the pipeline was already started"));
    }
    let log_stats = shared.stats.clone();
    let log_thread = thread::Builder::new()
        .name("txnlog".into())
        .spawn(move || {
            log_loop(&log_rx, log.as_mut(), &apply_tx, &log_stats);
        })?;
    let apply_thread = thread::Builder::new().name("apply".into()).spawn(move || {
        apply_loop(&shared, &apply_rx);
    })?;
    Ok(vec![log_thread, apply_thread])
}

/// Standalone prep: run by the submitting task itself under this lock, which hands out zxids and
/// queues the txns for the log in one order. (A thread of its own would cost a wake-up and two
/// context switches per request.)
pub struct InlinePrep {
    prep: Prep,
    log_tx: std::sync::mpsc::Sender<Item>,
}

impl InlinePrep {
    /// Preps `item` and queues the result for the log.
    pub(crate) fn submit(&mut self, shared: &Shared, item: Submit) {
        if let Some(out) = prep_one(shared, &mut self.prep, item) {
            let _ = self.log_tx.send(out);
        }
    }
}

/// Prep's settings, from the server's.
pub fn prep_settings(settings: &crate::settings::ServerSettings) -> crate::prep::PrepSettings {
    crate::prep::PrepSettings {
        acl: settings.acl.clone(),
        extended_types: settings.extended_types_enabled,
        close_session_txn: settings.close_session_txn_enabled,
        reconfig_enabled: settings.reconfig_enabled,
    }
}

/// The prep stage as a thread of its own (a quorum leader's): turns submissions into txns (or
/// barriers / syncs) and hands each to `emit`, which returns false once the next stage is gone.
pub fn prep_loop(
    shared: &Shared,
    rx: &Receiver<Submit>,
    prep: &mut Prep,
    emit: &mut dyn FnMut(Item) -> bool,
) {
    while let Ok(item) = rx.recv() {
        if let Some(out) = prep_one(shared, prep, item) {
            if !emit(out) {
                return;
            }
        }
    }
}

/// Prep for one submission: a write becomes a txn with the next zxid; barriers and syncs pass
/// through in order. `None` when nothing goes on to the log.
pub fn prep_one(shared: &Shared, prep: &mut Prep, item: Submit) -> Option<Item> {
    Some(match item {
        Submit::Write {
            origin,
            session_id,
            cxid,
            auth,
            request,
        } => {
            let session_ok = {
                let mut s = shared.sessions.lock();
                let ok = session_id == 0 || s.is_active(session_id);
                if matches!(request, jute::proto::Request::CloseSession) {
                    s.set_closing(session_id);
                }
                ok
            };
            let input = PrepInput {
                session_id,
                cxid,
                auth: &auth,
                request: &request,
                time_ms: wall_ms(),
            };
            let entry = {
                let tree = shared.tree.read();
                let e = prep.prepare(&tree, &input, session_ok);
                prep.gc(tree.last_processed_zxid());
                e
            };
            Item::Txn {
                entry,
                origin: origin.map(ItemOrigin::Request).unwrap_or(ItemOrigin::None),
            }
        }
        Submit::CreateSession {
            conn,
            session_id,
            timeout_ms,
            read_only_echo,
        } => {
            let entry = prep.create_session(session_id, timeout_ms, wall_ms());
            Item::Txn {
                entry,
                origin: ItemOrigin::Connect {
                    conn,
                    timeout_ms,
                    read_only_echo,
                },
            }
        }
        Submit::Barrier { origin, request } => Item::Barrier { origin, request },
        Submit::ForwardedCreateSession {
            session_id,
            timeout_ms,
        } => {
            // The leader owns global sessions: track it before its txn is even logged, so the
            // session's next forwarded request passes the session check.
            shared
                .sessions
                .lock()
                .add(session_id, timeout_ms, shared.now_ms());
            Item::Txn {
                entry: prep.create_session(session_id, timeout_ms, wall_ms()),
                origin: ItemOrigin::None,
            }
        }
        Submit::Sync { token, learner } => Item::Sync { token, learner },
        Submit::ResetZxid { last_zxid } => {
            *prep = Prep::new(prep_settings(&shared.settings), last_zxid);
            return None;
        }
    })
}

/// A txn log that cannot be written (disk full, I/O error): nothing unlogged was acknowledged,
/// and a server that can no longer log must not keep answering as if alive. Like Java, exit, so
/// that a supervisor restarts it once the disk is usable again.
pub fn fatal_log_error(what: &str, e: &dyn std::fmt::Display) -> ! {
    error!(error = %e, "{what}; exiting");
    std::process::exit(14);
}

fn log_loop(
    rx: &Receiver<Item>,
    log: &mut dyn TxnLog,
    apply_tx: &Sender<Vec<Item>>,
    stats: &crate::stats::ServerStats,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 10_000 {
            match rx.try_recv() {
                Ok(i) => batch.push(i),
                Err(_) => break,
            }
        }
        let mut wrote = false;
        for item in &batch {
            if let Item::Txn { entry, .. } = item {
                let payload = entry.encode();
                if let Err(e) = log.append(entry.zxid(), &payload) {
                    fatal_log_error("txn log append failed", &e);
                }
                wrote = true;
            }
        }
        if wrote {
            let synced = std::time::Instant::now();
            if let Err(e) = log.commit() {
                fatal_log_error("txn log sync failed", &e);
            }
            stats.fsync_done(synced.elapsed().as_millis() as i64);
        }
        if apply_tx.send(batch).is_err() {
            return;
        }
    }
}

fn apply_loop(shared: &Shared, rx: &Receiver<Vec<Item>>) {
    while let Ok(batch) = rx.recv() {
        // Replies and notifications are written after the tree lock is released.
        let sends = crate::outbox::SendBatch::begin();
        let mut closes: Vec<i64> = Vec::new();
        {
            let mut tree = shared.tree.write();
            let mut watches = shared.watches.lock();
            for item in batch {
                match item {
                    Item::Txn { entry, origin } => {
                        apply_one(shared, &mut tree, &mut watches, &entry, origin, &mut closes);
                    }
                    Item::Barrier { origin, request } => {
                        run_queued_read(shared, &tree, &mut watches, &origin, request.as_ref());
                    }
                    Item::Sync { .. } => {}
                }
            }
        }
        for sid in closes {
            shared.close_session_conn(sid);
        }
        drop(sends);
    }
}

/// Runs a read that waited behind its connection's writes and answers it (`None`: a body that
/// could not be decoded, answered MARSHALLINGERROR).
pub(crate) fn run_queued_read(
    shared: &Shared,
    tree: &DataTree,
    watches: &mut WatchManager,
    origin: &Origin,
    request: Option<&jute::proto::Request>,
) {
    let reply = match request {
        Some(request) => {
            let ctx = reads::ReadCtx::of(&origin.conn);
            let r = reads::execute(
                shared,
                tree,
                &mut reads::Watches::Held(watches),
                &ctx,
                origin.xid,
                request,
            );
            crate::metrics::record_read(shared, request, &r.frame);
            r
        }
        None => reads::ReadReply {
            frame: frame::header_only(
                origin.xid,
                tree.last_processed_zxid(),
                err::MARSHALLING_ERROR,
            ),
            close: false,
        },
    };
    finish_request(shared, origin, reply.frame, tree.last_processed_zxid());
    if reply.close {
        origin.conn.close();
    }
}

pub(crate) fn finish_request(shared: &Shared, origin: &Origin, reply: Bytes, zxid: i64) {
    origin.conn.send(reply);
    let ms = origin.received.elapsed().as_millis() as i64;
    shared.stats.request_done(origin.op, ms);
    origin.conn.stats.response(
        origin.xid as i64,
        zxid,
        origin.op,
        ms,
        shared.now_ms() as i64,
    );
    origin.conn.pending.fetch_sub(1, Ordering::Release);
}

pub(crate) fn apply_one(
    shared: &Shared,
    tree: &mut DataTree,
    watches: &mut WatchManager,
    entry: &TxnEntry,
    origin: ItemOrigin,
    closes: &mut Vec<i64>,
) {
    let outcome = tree.apply(entry);
    crate::metrics::record_writes(shared, tree, &outcome.triggers);
    let zxid = entry.zxid();
    fire_watches(shared, watches, &outcome.triggers, zxid);
    let session_id = entry.header.client_id;
    match entry.header.txn_type {
        op::CREATE_SESSION => {
            if let TxnBody::CreateSession(c) = &entry.body {
                shared.db_sessions.lock().insert(session_id, c.time_out);
            }
        }
        op::CLOSE_SESSION => {
            shared.db_sessions.lock().remove(&session_id);
            shared.sessions.lock().remove(session_id);
            closes.push(session_id);
        }
        _ => {}
    }
    let last = tree.last_processed_zxid();
    match origin {
        ItemOrigin::None => {}
        ItemOrigin::Connect {
            conn,
            timeout_ms,
            read_only_echo,
        } => {
            shared.session_conn.lock().insert(session_id, conn.id);
            conn.session_id.store(session_id, Ordering::Release);
            let rsp = ConnectResponse {
                protocol_version: 0,
                time_out: timeout_ms,
                session_id,
                passwd: Bytes::copy_from_slice(&session_password(session_id)),
            };
            conn.send(frame::raw(&rsp, read_only_echo.map(|_| false)));
            // createSession's stats (Java: lop=SESS, an update latency), timed from accept.
            let ms = (wall_ms() - conn.established_ms.load(Ordering::Relaxed)).max(0);
            shared.stats.request_done(op::CREATE_SESSION, ms);
            conn.stats
                .response(-1, last, op::CREATE_SESSION, ms, shared.now_ms() as i64);
            conn.pending.fetch_sub(1, Ordering::Release);
            info!(
                session = format!("0x{session_id:x}"),
                timeout_ms, "session established"
            );
        }
        ItemOrigin::Request(o) => {
            let reply = build_write_reply(entry, &outcome.result, outcome.err, o.xid, o.op, last);
            finish_request(shared, &o, reply, last);
            o.conn.last_zxid.store(last, Ordering::Relaxed);
        }
    }
}

/// Delivers the notifications of one txn's triggers, in order, before any reply that follows.
fn fire_watches(shared: &Shared, watches: &mut WatchManager, triggers: &[Trigger], zxid: i64) {
    if triggers.is_empty() || watches.watch_count() == 0 {
        return;
    }
    let targets = watches.trigger_all(triggers);
    let conns = shared.conns.lock();
    for (t, who) in triggers.iter().zip(targets) {
        if who.is_empty() {
            continue;
        }
        let f = frame::notification(zxid, t.event_type, &t.path);
        for cid in &who {
            if let Some(c) = conns.get(cid) {
                // ZOOKEEPER-4799 (3.8.4+/3.9.2+): a watcher without READ on the node is not told.
                let allowed = t.acl.is_empty()
                    || check_acl(&shared.settings.acl, &t.acl, perms::READ, &c.auth_ids()).is_ok();
                if allowed {
                    c.send(f.clone());
                }
            }
        }
    }
}

pub(crate) fn build_write_reply(
    entry: &TxnEntry,
    result: &ApplyResult,
    apply_err: i32,
    xid: i32,
    req_op: i32,
    zxid: i64,
) -> Bytes {
    if entry.header.txn_type == op::ERROR {
        let code = match &entry.body {
            TxnBody::Error(e) => e.err,
            _ => err::SYSTEM_ERROR,
        };
        return frame::header_only(xid, zxid, code);
    }
    if apply_err != 0 && req_op != op::MULTI {
        return frame::header_only(xid, zxid, apply_err);
    }
    match (req_op, result) {
        (op::CREATE, ApplyResult::Created { path, .. }) => {
            frame::reply(xid, zxid, 0, Some(&CreateResponse { path: path.clone() }))
        }
        (
            op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER,
            ApplyResult::Created { path, stat },
        ) => frame::reply(
            xid,
            zxid,
            0,
            Some(&Create2Response {
                path: path.clone(),
                stat: stat.clone(),
            }),
        ),
        (op::SET_DATA, ApplyResult::SetData { stat }) => {
            frame::reply(xid, zxid, 0, Some(&SetDataResponse { stat: stat.clone() }))
        }
        (op::SET_ACL, ApplyResult::SetAcl { stat }) => {
            frame::reply(xid, zxid, 0, Some(&SetAclResponse { stat: stat.clone() }))
        }
        (op::MULTI, ApplyResult::Multi(results)) => {
            let types: Vec<i32> = match &entry.body {
                TxnBody::Multi(subs) => subs.iter().map(|(t, _)| *t).collect(),
                _ => Vec::new(),
            };
            let mut out = Vec::with_capacity(results.len());
            for (i, r) in results.iter().enumerate() {
                let ty = types.get(i).copied().unwrap_or(op::ERROR);
                out.push(match r {
                    ApplyResult::Created { path, stat } => {
                        if ty == op::CREATE {
                            OpResult::Create(path.clone())
                        } else {
                            OpResult::Create2(path.clone(), stat.clone())
                        }
                    }
                    ApplyResult::Deleted => OpResult::Delete,
                    ApplyResult::SetData { stat } => OpResult::SetData(stat.clone()),
                    ApplyResult::Check => OpResult::Check,
                    ApplyResult::Error(code) => OpResult::Error(*code),
                    other => {
                        warn!(?other, "unexpected multi sub-result");
                        OpResult::Error(err::RUNTIME_INCONSISTENCY)
                    }
                });
            }
            frame::reply(xid, zxid, 0, Some(&MultiResponse { results: out }))
        }
        _ => frame::header_only(xid, zxid, 0),
    }
}
