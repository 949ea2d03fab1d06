//! What the client side (connections, session expirer, four-letter words) shares with the quorum
//! peer thread: the current role, the channel into the peer, and per session the requests waiting
//! for their commit (Java's `CommitProcessor`): a write is answered when the committed txn with
//! its session id and cxid is applied; reads and syncs issued after it wait behind it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use bytes::Bytes;
use jute::consts::op;
use jute::data::Id;
use jute::proto::{Request, SyncRequest};
use parking_lot::Mutex;
use zab::ForwardedRequest;

use crate::shared::{ConnHandle, Origin, Shared, Submit};

use super::peer::PeerEvent;

/// Peer roles as the client side sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PeerRole {
    Looking = 0,
    Leading = 1,
    Following = 2,
    Observing = 3,
}

impl PeerRole {
    fn from_u8(v: u8) -> PeerRole {
        match v {
            1 => PeerRole::Leading,
            2 => PeerRole::Following,
            3 => PeerRole::Observing,
            _ => PeerRole::Looking,
        }
    }

    /// The word `srvr` prints after `Mode:` (and `mntr`'s `zk_server_state`).
    pub fn mode_word(self) -> &'static str {
        match self {
            PeerRole::Looking => "looking",
            PeerRole::Leading => "leader",
            PeerRole::Following => "follower",
            PeerRole::Observing => "observer",
        }
    }
}

/// One request waiting in its session's queue.
#[derive(Debug)]
pub enum PendingItem {
    /// A new session: the ConnectResponse goes out when its createSession txn is applied.
    Connect {
        conn: Arc<ConnHandle>,
        timeout_ms: i32,
        read_only_echo: Option<bool>,
    },
    /// A write: answered when the txn with this cxid is applied.
    Write { cxid: i32, origin: Origin },
    /// A read issued after a pending write of the same session (`None`: undecodable body).
    Read {
        origin: Origin,
        request: Option<Request>,
    },
    /// A sync: answered once the leader confirmed it (`done`) and it reached the queue's head.
    Sync {
        token: u64,
        origin: Origin,
        path: String,
        done: bool,
    },
}

impl PendingItem {
    /// The connection waiting for this item.
    pub fn conn(&self) -> &Arc<ConnHandle> {
        match self {
            PendingItem::Connect { conn, .. } => conn,
            PendingItem::Write { origin, .. }
            | PendingItem::Read { origin, .. }
            | PendingItem::Sync { origin, .. } => &origin.conn,
        }
    }
}

/// The per-session queues and the bookkeeping of syncs.
#[derive(Debug, Default)]
pub struct Pending {
    pub sessions: HashMap<i64, VecDeque<PendingItem>>,
    /// Sync token → its session.
    pub sync_owner: HashMap<u64, i64>,
}

impl Pending {
    /// Drops every waiting request (the role ended: all client connections are being closed).
    pub fn clear(&mut self) {
        for (_, q) in self.sessions.drain() {
            for item in q {
                item.conn().pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.sync_owner.clear();
    }

    /// Forgets what a closed connection was waiting for, so that the session's next connection
    /// (a client reconnecting here) never queues behind requests nobody will read the answer of.
    pub fn drop_conn(&mut self, conn_id: u64) {
        let mut emptied = Vec::new();
        let mut tokens = Vec::new();
        for (sid, q) in self.sessions.iter_mut() {
            q.retain(|item| {
                if item.conn().id != conn_id {
                    return true;
                }
                if let PendingItem::Sync { token, .. } = item {
                    tokens.push(*token);
                }
                false
            });
            if q.is_empty() {
                emptied.push(*sid);
            }
        }
        for t in tokens {
            self.sync_owner.remove(&t);
        }
        for sid in emptied {
            self.sessions.remove(&sid);
        }
    }

    /// Drops the queue of a closed session.
    pub fn drop_session(&mut self, session_id: i64) {
        if let Some(q) = self.sessions.remove(&session_id) {
            for item in q {
                if let PendingItem::Sync { token, .. } = &item {
                    self.sync_owner.remove(token);
                }
                item.conn().pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// Static facts about this peer that `conf` and `mntr` print.
#[derive(Debug, Clone, Default)]
pub struct QuorumInfo {
    pub init_limit: u64,
    pub sync_limit: u64,
    /// Our election port(s), `|`-joined as Java prints them.
    pub election_ports: String,
    /// Our quorum port(s).
    pub quorum_ports: String,
    /// 0 participant, 1 observer.
    pub peer_type: i32,
    /// The membership (QuorumVerifier string).
    pub membership: String,
    /// Voting members.
    pub quorum_size: usize,
    /// Every member, for the AdminServer's `voting_view` and `leader`.
    pub members: Vec<MemberView>,
}

/// One member as the AdminServer shows it.
#[derive(Debug, Clone, Default)]
pub struct MemberView {
    pub sid: i64,
    /// `host:quorumPort` per address.
    pub server_addresses: Vec<String>,
    /// `host:electionPort` per address.
    pub election_addresses: Vec<String>,
    /// `host:port`, or empty.
    pub client_address: String,
    /// `participant` / `observer`.
    pub learner_type: String,
    /// Host strings of its addresses joined by `|` (what `leader_ip` prints).
    pub hosts: String,
}

/// Leader-side numbers for `mntr` / `srvr`, refreshed by the peer thread.
#[derive(Debug, Clone, Copy)]
pub struct LeaderGauges {
    pub learners: i64,
    pub synced_followers: i64,
    pub synced_observers: i64,
    pub pending_syncs: i64,
    /// Proposal sizes last/min/max (-1 before the first).
    pub proposal_last: i64,
    pub proposal_min: i64,
    pub proposal_max: i64,
}

impl Default for LeaderGauges {
    fn default() -> Self {
        LeaderGauges {
            learners: 0,
            synced_followers: 0,
            synced_observers: 0,
            pending_syncs: 0,
            proposal_last: -1,
            proposal_min: -1,
            proposal_max: -1,
        }
    }
}

/// Shared between the client side and the peer thread.
pub struct QuorumState {
    pub my_sid: i64,
    pub info: QuorumInfo,
    pub gauges: Mutex<LeaderGauges>,
    role: AtomicU8,
    leader: AtomicI64,
    /// Serving read-only clients while LOOKING (`readonlymode.enabled`).
    read_only: std::sync::atomic::AtomicBool,
    serving_since_ms: AtomicI64,
    pub pending: Mutex<Pending>,
    pub events: Sender<PeerEvent>,
    /// Learner: sessions touched since the last PING reply (id → timeout).
    pub touched: Mutex<HashMap<i64, i32>>,
    next_token: AtomicU64,
    /// Learner: reconnecting clients waiting for the leader's REVALIDATE answer.
    pub revalidating: Mutex<HashMap<i64, Vec<Revalidation>>>,
}

/// A reconnect waiting for the leader.
#[derive(Debug)]
pub struct Revalidation {
    pub conn: Arc<ConnHandle>,
    pub timeout_ms: i32,
    pub read_only_echo: Option<bool>,
}

impl QuorumState {
    /// A peer that starts LOOKING; `events` is the peer thread's inbox.
    pub fn new(my_sid: i64, info: QuorumInfo, events: Sender<PeerEvent>) -> QuorumState {
        QuorumState {
            my_sid,
            info,
            gauges: Mutex::new(LeaderGauges::default()),
            role: AtomicU8::new(PeerRole::Looking as u8),
            read_only: std::sync::atomic::AtomicBool::new(false),
            leader: AtomicI64::new(-1),
            serving_since_ms: AtomicI64::new(0),
            pending: Mutex::new(Pending::default()),
            events,
            touched: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            revalidating: Mutex::new(HashMap::new()),
        }
    }

    /// The role the client side routes by (set by the peer thread on every change).
    pub fn role(&self) -> PeerRole {
        PeerRole::from_u8(self.role.load(Ordering::Acquire))
    }

    /// The sid of the current leader, -1 while LOOKING.
    pub fn leader(&self) -> i64 {
        self.leader.load(Ordering::Acquire)
    }

    pub(crate) fn set_role(&self, role: PeerRole, leader: i64) {
        self.role.store(role as u8, Ordering::Release);
        self.leader.store(leader, Ordering::Release);
    }

    pub(crate) fn set_serving_since(&self, ms: i64) {
        self.serving_since_ms.store(ms, Ordering::Release);
    }

    /// Wall-clock ms when this peer last started serving (leader uptime).
    pub fn serving_since(&self) -> i64 {
        self.serving_since_ms.load(Ordering::Acquire)
    }

    /// True while this peer serves read-only clients (no quorum).
    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    pub(crate) fn set_read_only(&self, on: bool) {
        self.read_only.store(on, Ordering::Release);
    }

    /// True on the leader: writes go to its own prep stage instead of being forwarded.
    pub fn is_leader(&self) -> bool {
        self.role() == PeerRole::Leading
    }

    fn forward(
        &self,
        session_id: i64,
        cxid: i32,
        op_type: i32,
        body: Bytes,
        auth: Option<Vec<Id>>,
        sync_token: Option<u64>,
    ) {
        let _ = self.events.send(PeerEvent::Forward {
            request: ForwardedRequest {
                from: self.my_sid,
                session_id,
                cxid,
                op: op_type,
                body,
                authinfo: auth,
            },
            sync_token,
        });
    }

    /// A new session of a local client: the leader preps its createSession, a learner forwards it.
    pub fn create_session(
        &self,
        shared: &Shared,
        conn: &Arc<ConnHandle>,
        session_id: i64,
        timeout_ms: i32,
        read_only_echo: Option<bool>,
    ) {
        conn.pending.fetch_add(1, Ordering::AcqRel);
        let mut p = self.pending.lock();
        p.sessions
            .entry(session_id)
            .or_default()
            .push_back(PendingItem::Connect {
                conn: conn.clone(),
                timeout_ms,
                read_only_echo,
            });
        if self.is_leader() {
            shared.submit(Submit::ForwardedCreateSession {
                session_id,
                timeout_ms,
            });
        } else {
            self.forward(
                session_id,
                0,
                op::CREATE_SESSION,
                Bytes::copy_from_slice(&timeout_ms.to_be_bytes()),
                None,
                None,
            );
        }
    }

    /// A write (or closeSession) of a local client. `body` is the request record as received.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        shared: &Shared,
        origin: Origin,
        session_id: i64,
        cxid: i32,
        auth: Arc<Vec<Id>>,
        request: Request,
        body: Bytes,
    ) {
        origin.conn.pending.fetch_add(1, Ordering::AcqRel);
        let op_type = origin.op;
        let mut p = self.pending.lock();
        p.sessions
            .entry(session_id)
            .or_default()
            .push_back(PendingItem::Write { cxid, origin });
        if self.is_leader() {
            shared.submit(Submit::Write {
                origin: None,
                session_id,
                cxid,
                auth,
                request,
            });
        } else {
            self.forward(session_id, cxid, op_type, body, Some(auth.to_vec()), None);
        }
    }

    /// A client's sync: answered after the leader confirmed every earlier proposal applied here.
    pub fn sync(&self, shared: &Shared, origin: Origin, session_id: i64, path: String) {
        origin.conn.pending.fetch_add(1, Ordering::AcqRel);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let cxid = origin.xid;
        let mut p = self.pending.lock();
        p.sessions
            .entry(session_id)
            .or_default()
            .push_back(PendingItem::Sync {
                token,
                origin,
                path: path.clone(),
                done: false,
            });
        p.sync_owner.insert(token, session_id);
        if self.is_leader() {
            shared.submit(Submit::Sync {
                token: Some(token),
                learner: None,
            });
        } else {
            let body = jute::encode_to_bytes(&SyncRequest { path });
            self.forward(session_id, cxid, op::SYNC, body, None, Some(token));
        }
    }

    /// A read: runs now (returned) unless the session has requests waiting; then it queues.
    pub fn read_or_queue(
        &self,
        session_id: i64,
        origin: Origin,
        request: Option<Request>,
    ) -> Option<(Origin, Option<Request>)> {
        let mut p = self.pending.lock();
        match p.sessions.get_mut(&session_id) {
            Some(q) if !q.is_empty() => {
                origin.conn.pending.fetch_add(1, Ordering::AcqRel);
                q.push_back(PendingItem::Read { origin, request });
                None
            }
            _ => Some((origin, request)),
        }
    }

    /// A learner's client reconnects with an existing session: ask the leader.
    pub fn revalidate(
        &self,
        conn: &Arc<ConnHandle>,
        session_id: i64,
        timeout_ms: i32,
        read_only_echo: Option<bool>,
    ) {
        self.revalidating
            .lock()
            .entry(session_id)
            .or_default()
            .push(Revalidation {
                conn: conn.clone(),
                timeout_ms,
                read_only_echo,
            });
        let _ = self.events.send(PeerEvent::Revalidate {
            session_id,
            timeout_ms,
        });
    }

    /// Learner: note client activity for the next PING reply.
    pub fn touch(&self, session_id: i64, timeout_ms: i32) {
        if session_id != 0 && self.role() != PeerRole::Leading {
            self.touched.lock().insert(session_id, timeout_ms);
        }
    }
}
