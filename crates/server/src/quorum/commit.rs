//! The apply stage of a quorum peer: committed txns arrive in zxid order from the peer thread and
//! are applied to the tree; a txn whose (session id, cxid) matches the head of that session's
//! queue of local requests is answered, then the reads and finished syncs queued behind it run
//! (Java's `CommitProcessor` + `FinalRequestProcessor`). It also serializes the tree for SNAP
//! syncs at the exact point of the stream where the leader asked for it.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use bytes::Bytes;
use jute::consts::op;
use jute::proto::SyncResponse;
use jute::txn::{TxnBody, TxnEntry};
use tracing::warn;

use super::state::{Pending, PendingItem, QuorumState};
use crate::data_tree::DataTree;
use crate::frame;
use crate::pipeline::{apply_one, finish_request, run_queued_read, ItemOrigin};
use crate::shared::Shared;
use crate::watch_manager::WatchManager;

/// What the peer thread hands the apply stage, in order.
pub enum ApplyMsg {
    /// Txns to apply (`true` = a replayed, not known-committed txn: apply, answer nobody).
    Txns(Vec<(TxnEntry, bool)>),
    /// A sync (by its token) is confirmed.
    SyncDone(u64),
    /// Serialize the tree as a SNAP sync body now (after everything sent before this message).
    Serialize {
        reply: Sender<Result<Bytes, String>>,
    },
    /// TRUNC / SNAP: a new tree (and its sessions) replaces ours.
    ReplaceTree {
        tree: Box<DataTree>,
        sessions: Vec<(i64, i32)>,
    },
    /// The role ended: forget every waiting request (their connections are being closed).
    Clear,
    /// A new leader starts serving: its tree reports the new epoch's first zxid (as Java's).
    EpochStart(i64),
}

/// Runs the apply stage until the peer thread goes away.
pub fn apply_loop(shared: &Shared, q: &QuorumState, rx: Receiver<ApplyMsg>) {
    while let Ok(msg) = rx.recv() {
        match msg {
            ApplyMsg::Txns(txns) => apply_txns(shared, q, txns),
            ApplyMsg::SyncDone(token) => {
                let tree = shared.tree.read();
                let mut watches = shared.watches.lock();
                let mut p = q.pending.lock();
                let Some(session) = p.sync_owner.remove(&token) else {
                    continue;
                };
                if let Some(queue) = p.sessions.get_mut(&session) {
                    for item in queue.iter_mut() {
                        if let PendingItem::Sync { token: t, done, .. } = item {
                            if *t == token {
                                *done = true;
                            }
                        }
                    }
                }
                drain_session(shared, &tree, &mut watches, &mut p, session);
            }
            ApplyMsg::Serialize { reply } => {
                let tree = shared.tree.read();
                let mut sessions: Vec<(i64, i32)> = shared
                    .db_sessions
                    .lock()
                    .iter()
                    .map(|(k, v)| (*k, *v))
                    .collect();
                sessions.sort_unstable();
                let r = crate::persistence::serialize_sync_stream(&tree, &sessions)
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
            }
            ApplyMsg::ReplaceTree { tree, sessions } => {
                let mut t = shared.tree.write();
                *t = *tree;
                let now = shared.now_ms();
                let mut db = shared.db_sessions.lock();
                db.clear();
                let mut tracker = shared.sessions.lock();
                for (id, to) in sessions {
                    db.insert(id, to);
                    if !tracker.contains(id) {
                        tracker.add(id, to, now);
                    }
                }
            }
            ApplyMsg::Clear => {
                q.pending.lock().clear();
            }
            ApplyMsg::EpochStart(zxid) => {
                let mut t = shared.tree.write();
                if t.last_processed_zxid() < zxid {
                    t.set_last_processed_zxid(zxid);
                }
            }
        }
    }
}

fn apply_txns(shared: &Shared, q: &QuorumState, txns: Vec<(TxnEntry, bool)>) {
    // Replies and notifications are written after the tree lock is released.
    let _sends = crate::outbox::SendBatch::begin();
    let mut closes: Vec<i64> = Vec::new();
    {
        let mut tree = shared.tree.write();
        let mut watches = shared.watches.lock();
        for (entry, replay) in txns {
            let session_id = entry.header.client_id;
            let origin = if replay {
                ItemOrigin::None
            } else {
                take_origin(&mut q.pending.lock(), &entry)
            };
            if entry.header.txn_type == op::CREATE_SESSION {
                if let TxnBody::CreateSession(c) = &entry.body {
                    let mut t = shared.sessions.lock();
                    if !t.contains(session_id) {
                        t.add(session_id, c.time_out, shared.now_ms());
                    }
                }
            }
            let is_close = entry.header.txn_type == op::CLOSE_SESSION;
            apply_one(shared, &mut tree, &mut watches, &entry, origin, &mut closes);
            if replay {
                continue;
            }
            let mut p = q.pending.lock();
            if is_close {
                p.drop_session(session_id);
            } else {
                drain_session(shared, &tree, &mut watches, &mut p, session_id);
            }
        }
    }
    for sid in closes {
        shared.close_session_conn(sid);
    }
}

/// The local request a committed txn answers, if it is the head of its session's queue.
fn take_origin(p: &mut Pending, entry: &TxnEntry) -> ItemOrigin {
    let session_id = entry.header.client_id;
    let Some(queue) = p.sessions.get_mut(&session_id) else {
        return ItemOrigin::None;
    };
    let matches = match queue.front() {
        Some(PendingItem::Connect { .. }) => entry.header.txn_type == op::CREATE_SESSION,
        Some(PendingItem::Write { cxid, .. }) => {
            *cxid == entry.header.cxid && entry.header.txn_type != op::CREATE_SESSION
        }
        _ => false,
    };
    if !matches {
        return ItemOrigin::None;
    }
    let item = queue.pop_front();
    if queue.is_empty() {
        p.sessions.remove(&session_id);
    }
    match item {
        Some(PendingItem::Connect {
            conn,
            timeout_ms,
            read_only_echo,
        }) => ItemOrigin::Connect {
            conn,
            timeout_ms,
            read_only_echo,
        },
        Some(PendingItem::Write { origin, .. }) => ItemOrigin::Request(origin),
        _ => ItemOrigin::None,
    }
}

/// Runs what waits at the head of a session's queue: reads, and syncs already confirmed.
fn drain_session(
    shared: &Shared,
    tree: &DataTree,
    watches: &mut WatchManager,
    p: &mut Pending,
    session_id: i64,
) {
    let Some(queue) = p.sessions.get_mut(&session_id) else {
        return;
    };
    loop {
        let ready = matches!(
            queue.front(),
            Some(PendingItem::Read { .. }) | Some(PendingItem::Sync { done: true, .. })
        );
        if !ready {
            break;
        }
        match queue.pop_front() {
            Some(PendingItem::Read { origin, request }) => {
                run_queued_read(shared, tree, watches, &origin, request.as_ref());
            }
            Some(PendingItem::Sync { origin, path, .. }) => {
                let zxid = tree.last_processed_zxid();
                let f = frame::reply(origin.xid, zxid, 0, Some(&SyncResponse { path }));
                finish_request(shared, &origin, f, zxid);
            }
            Some(other) => {
                warn!(?other, "unexpected item at the head of a session queue");
            }
            None => break,
        }
    }
    if queue.is_empty() {
        p.sessions.remove(&session_id);
    }
}

/// Starts the apply thread.
pub fn spawn(
    shared: Arc<Shared>,
    q: Arc<QuorumState>,
    rx: Receiver<ApplyMsg>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("apply".into())
        .spawn(move || apply_loop(&shared, &q, rx))
}
