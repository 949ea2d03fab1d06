//! The quorum peer thread: owns the [`Zab`] core, the txn log and the quorum-port links, and
//! carries out every [`Ready`] in the order its contract demands (truncate/snapshot → log appends →
//! fsync → epoch files → apply → messages → `on_persisted` → ACKs). Election outcomes, packets,
//! client writes (from prep), forwarded requests and ticks all arrive as [`PeerEvent`]s on one
//! channel, so everything that touches the core happens on this one thread, and a burst of events
//! shares one fsync (group commit).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use election::{ServerState, Vote};
use jute::consts::op;
use jute::proto::Request;
use jute::quorum::QuorumPacket;
use jute::txn::TxnEntry;
use jute::Reader;
use storage::DataDirs;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{error, info, warn};
use zab::{Alert, Body, ForwardedRequest, Ready, Role, SessionEvent, SessionTouch, Sid, Zab};

use super::commit::ApplyMsg;
use super::election_driver::ElectionCmd;
use super::link::{self, Link, LinkOut, PendingLink};
use super::state::{PeerRole, QuorumState};
use crate::frame;
use crate::persistence::{self, FileTxnLog, StorageSettings};
use crate::pipeline::TxnLog;
use crate::shared::{wall_ms, Shared, Submit};

/// Everything the peer thread reacts to.
pub enum PeerEvent {
    /// The election decided (LEADING / FOLLOWING / OBSERVING).
    Elected(Vote),
    /// Leader side: a learner connected (its first packet follows as `Packet`).
    LinkUp(Link),
    Packet {
        sid: Sid,
        gen: u64,
        pkt: QuorumPacket,
    },
    /// Learner: SNAP and its stream.
    Snapshot {
        sid: Sid,
        gen: u64,
        zxid: i64,
        data: Bytes,
    },
    LinkDown {
        sid: Sid,
        gen: u64,
    },
    /// Leader: a txn from prep.
    Propose(TxnEntry),
    /// Leader: a sync from prep (a local client's token, or a learner's).
    Sync {
        token: Option<u64>,
        learner: Option<Sid>,
    },
    /// Learner: a client request for the leader (a sync carries its token: the leader answers
    /// forwarded syncs in order, and the answer names no request).
    Forward {
        request: ForwardedRequest,
        sync_token: Option<u64>,
    },
    /// Learner: a reconnecting session to revalidate with the leader.
    Revalidate {
        session_id: i64,
        timeout_ms: i32,
    },
    /// Stop the thread.
    Shutdown,
}

/// Static settings of the peer thread.
pub struct PeerSettings {
    /// Quorum addresses (host, port) of every member, for learners to connect to.
    pub quorum_addrs: HashMap<Sid, Vec<(String, u16)>>,
    pub storage: StorageSettings,
    pub dirs: DataDirs,
    pub init_limit_ms: u64,
    pub tick_ms: u64,
}

/// The learner's connection, or the leader's.
enum Links {
    None,
    Leader(HashMap<Sid, Link>),
    Learner(PendingLink),
}

struct Peer {
    shared: Arc<Shared>,
    q: Arc<QuorumState>,
    zab: Zab,
    log: Box<dyn TxnLog>,
    settings: PeerSettings,
    apply: Sender<ApplyMsg>,
    election: UnboundedSender<ElectionCmd>,
    events: Sender<PeerEvent>,
    links: Links,
    /// Learners that connected while we were not (yet) leading: kept with their packets until the
    /// election tells us whether we lead.
    parked: HashMap<Sid, (Link, Vec<QuorumPacket>, Instant)>,
    /// Learner: tokens of syncs forwarded to the current leader, in order.
    forwarded_syncs: std::collections::VecDeque<u64>,
    t0: Instant,
    last_tick: u64,
    /// `readonlymode.enabled`: when (ms) a LOOKING peer starts serving read-only clients.
    read_only_at: Option<u64>,
}

/// Runs the peer thread until `Shutdown`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    shared: Arc<Shared>,
    q: Arc<QuorumState>,
    zab: Zab,
    log: Box<dyn TxnLog>,
    settings: PeerSettings,
    apply: Sender<ApplyMsg>,
    election: UnboundedSender<ElectionCmd>,
    events: Sender<PeerEvent>,
    rx: Receiver<PeerEvent>,
) {
    let mut p = Peer {
        shared,
        q,
        zab,
        log,
        settings,
        apply,
        election,
        events,
        links: Links::None,
        parked: HashMap::new(),
        forwarded_syncs: Default::default(),
        t0: Instant::now(),
        last_tick: 0,
        read_only_at: None,
    };
    p.arm_read_only();
    let period = Duration::from_millis((p.settings.tick_ms / 4).clamp(5, 250));
    loop {
        let first = match rx.recv_timeout(period) {
            Ok(ev) => Some(ev),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Some(ev) = first {
            if !p.handle(ev) {
                return;
            }
            let mut n = 0;
            while n < 10_000 {
                match rx.try_recv() {
                    Ok(ev) => {
                        if !p.handle(ev) {
                            return;
                        }
                    }
                    Err(_) => break,
                }
                n += 1;
            }
        }
        let now = p.now();
        if now >= p.last_tick + period.as_millis() as u64 {
            p.last_tick = now;
            p.report_touches();
            p.zab.tick(now);
            p.expire_parked();
            p.maybe_enter_read_only(now);
        }
        p.drain();
    }
}

impl Peer {
    fn now(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    /// Returns false to stop.
    fn handle(&mut self, ev: PeerEvent) -> bool {
        let now = self.now();
        match ev {
            PeerEvent::Shutdown => return false,
            PeerEvent::Elected(v) => self.elected(v, now),
            PeerEvent::LinkUp(link) => {
                let sid = link.sid;
                if matches!(self.zab.role(), Role::Leading) {
                    // A learner that reconnects replaces its old link: the core forgets the old
                    // one first (and its disconnect is carried out) before the new one counts.
                    let old = match &mut self.links {
                        Links::Leader(m) => m.remove(&sid),
                        _ => None,
                    };
                    if let Some(old) = old {
                        old.close();
                        self.zab.peer_disconnected(sid);
                        self.drain();
                    }
                    if let Links::Leader(m) = &mut self.links {
                        m.insert(sid, link);
                    }
                } else {
                    self.parked.insert(sid, (link, Vec::new(), Instant::now()));
                }
            }
            PeerEvent::Packet { sid, gen, pkt } => {
                if self.current_gen(sid) == Some(gen) {
                    self.report_touches();
                    if let Err(e) = self.zab.step(sid, pkt) {
                        warn!(peer = sid, error = %e, "quorum protocol error; closing the link");
                        self.drop_link(sid);
                    }
                } else if let Some((l, pkts, _)) = self.parked.get_mut(&sid) {
                    if l.gen == gen {
                        pkts.push(pkt);
                    }
                }
            }
            PeerEvent::Snapshot {
                sid,
                gen,
                zxid,
                data,
            } => {
                if self.current_gen(sid) == Some(gen) {
                    if let Err(e) = self.zab.step_snapshot(sid, zxid, data) {
                        warn!(peer = sid, error = %e, "SNAP refused; closing the link");
                        self.drop_link(sid);
                    }
                }
            }
            PeerEvent::LinkDown { sid, gen } => {
                if self.current_gen(sid) == Some(gen) {
                    self.drop_link(sid);
                    self.zab.peer_disconnected(sid);
                }
                if self.parked.get(&sid).is_some_and(|(l, _, _)| l.gen == gen) {
                    self.parked.remove(&sid);
                }
            }
            PeerEvent::Propose(entry) => {
                let zxid = entry.zxid();
                match self.zab.next_zxid() {
                    Some(next) if next == zxid => {
                        let payload = entry.encode();
                        {
                            let size = payload.len() as i64;
                            let mut g = self.q.gauges.lock();
                            g.proposal_last = size;
                            g.proposal_max = g.proposal_max.max(size);
                            g.proposal_min = if g.proposal_min < 0 {
                                size
                            } else {
                                g.proposal_min.min(size)
                            };
                        }
                        if let Err(e) = self.zab.propose(zxid, payload) {
                            warn!(zxid = format!("0x{zxid:x}"), error = %e, "proposal refused");
                        }
                    }
                    other => warn!(
                        zxid = format!("0x{zxid:x}"),
                        expected = ?other.map(|z| format!("0x{z:x}")),
                        "dropping a txn prepared for another epoch"
                    ),
                }
            }
            PeerEvent::Sync { token, learner } => {
                if let Err(e) = self.zab.sync(token, learner) {
                    warn!(error = %e, "sync refused");
                }
            }
            PeerEvent::Forward {
                request: r,
                sync_token,
            } => {
                if self.zab.forward_request(&r) {
                    if let Some(t) = sync_token {
                        self.forwarded_syncs.push_back(t);
                    }
                } else {
                    // Never reaches a leader: the client must not wait for it (nor anything the
                    // session sends after it); its connection is closed and it reconnects.
                    warn!(
                        session = format!("0x{:x}", r.session_id),
                        op = r.op,
                        "cannot forward a request: not connected to a leader; closing its connection"
                    );
                    self.shared.close_session_conn(r.session_id);
                }
            }
            PeerEvent::Revalidate {
                session_id,
                timeout_ms,
            } => {
                if !self.zab.revalidate(session_id, timeout_ms) {
                    self.answer_reconnects(session_id, false);
                }
            }
        }
        true
    }

    fn current_gen(&self, sid: Sid) -> Option<u64> {
        match &self.links {
            Links::Leader(m) => m.get(&sid).map(|l| l.gen),
            Links::Learner(l) if l.sid == sid => Some(l.gen),
            _ => None,
        }
    }

    fn drop_link(&mut self, sid: Sid) {
        match &mut self.links {
            Links::Leader(m) => {
                if let Some(l) = m.remove(&sid) {
                    l.close();
                }
            }
            Links::Learner(l) if l.sid == sid => {
                self.links = Links::None;
            }
            _ => {}
        }
    }

    fn expire_parked(&mut self) {
        let limit = Duration::from_millis(self.settings.init_limit_ms.max(1000));
        self.parked.retain(|_, (_, _, at)| at.elapsed() < limit);
    }

    fn report_touches(&mut self) {
        let touched: Vec<(i64, i32)> = self.q.touched.lock().drain().collect();
        for (session_id, timeout) in touched {
            self.zab.touch_session(SessionTouch {
                session_id,
                timeout,
            });
        }
    }

    fn elected(&mut self, v: Vote, now: u64) {
        // The election task republishes its outcome when the vote's epoch is updated after
        // sync; that is not a new election.
        let same = match (self.zab.role(), v.state) {
            (Role::Leading, ServerState::Leading) => v.leader == self.zab.my_sid(),
            (Role::Following { leader }, ServerState::Following)
            | (Role::Observing { leader }, ServerState::Observing) => leader == v.leader,
            _ => false,
        };
        if same {
            return;
        }
        match v.state {
            ServerState::Leading if v.leader == self.zab.my_sid() => {
                info!(epoch = v.peer_epoch, "elected: LEADING");
                self.links = Links::Leader(HashMap::new());
                self.zab.lead(now);
                let parked: Vec<_> = self.parked.drain().collect();
                for (sid, (link, pkts, _)) in parked {
                    if let Links::Leader(m) = &mut self.links {
                        m.insert(sid, link);
                    }
                    for p in pkts {
                        if let Err(e) = self.zab.step(sid, p) {
                            warn!(peer = sid, error = %e, "quorum protocol error; closing the link");
                            self.drop_link(sid);
                            break;
                        }
                    }
                }
            }
            ServerState::Following | ServerState::Observing => {
                let observer = v.state == ServerState::Observing;
                info!(
                    leader = v.leader,
                    role = if observer { "OBSERVING" } else { "FOLLOWING" },
                    "elected"
                );
                self.parked.clear();
                let addrs = self
                    .settings
                    .quorum_addrs
                    .get(&v.leader)
                    .cloned()
                    .unwrap_or_default();
                let limit = Duration::from_millis(self.settings.init_limit_ms.max(2000));
                match link::connect_to_leader(v.leader, addrs, limit, self.events.clone()) {
                    Ok(l) => self.links = Links::Learner(l),
                    Err(e) => {
                        error!(error = %e, "cannot start the leader connection");
                        self.links = Links::None;
                    }
                }
                if observer {
                    self.zab.observe(v.leader, now);
                } else {
                    self.zab.follow(v.leader, now);
                }
            }
            _ => {}
        }
    }

    fn send(&mut self, to: Sid, body: Body) {
        let out = match body {
            Body::Packet(p) => LinkOut::Packet(p),
            Body::Snapshot { zxid } => {
                let (tx, rx) = std::sync::mpsc::channel();
                let _ = self.apply.send(ApplyMsg::Serialize { reply: tx });
                LinkOut::Snapshot { zxid, body: rx }
            }
        };
        match &self.links {
            Links::Leader(m) => {
                if let Some(l) = m.get(&to) {
                    l.send(out);
                }
            }
            Links::Learner(l) if l.sid == to => l.send(out),
            _ => {}
        }
    }

    fn drain(&mut self) {
        while self.zab.has_ready() {
            let r = self.zab.ready();
            self.carry_out(r);
        }
        let stats = self.zab.leader_stats().unwrap_or_default();
        let mut g = self.q.gauges.lock();
        g.learners = stats.learners as i64;
        g.synced_followers = stats.synced_followers as i64;
        g.synced_observers = stats.synced_observers as i64;
        g.pending_syncs = stats.pending_syncs as i64;
    }

    /// A disk failure on the quorum path: like Java, stop rather than go on with an unknown state.
    fn fatal(&self, what: &str, e: &dyn std::fmt::Display) -> ! {
        crate::pipeline::fatal_log_error(what, e)
    }

    fn carry_out(&mut self, r: Ready) {
        if let Some(role) = r.role {
            self.on_role(role);
        }
        if let Some(serving) = r.serving {
            self.on_serving(serving);
        }
        if let Some(z) = r.truncate_to {
            self.truncate(z);
        }
        if let Some(si) = r.snapshot_install {
            self.install_snapshot(si.zxid, &si.data);
        }
        let wrote = !r.log_appends.is_empty();
        for p in &r.log_appends {
            if let Err(e) = self.log.append(p.zxid, &p.payload) {
                self.fatal("txn log append failed", &e);
            }
        }
        if wrote {
            let t = Instant::now();
            if let Err(e) = self.log.commit() {
                self.fatal("txn log sync failed", &e);
            }
            self.shared.stats.fsync_done(t.elapsed().as_millis() as i64);
        }
        let snap_dir = self.settings.dirs.snap_dir.clone();
        if let Some(e) = r.epoch_writes.accepted {
            if let Err(err) = storage::epoch::write_epoch(&snap_dir, "acceptedEpoch", e) {
                self.fatal("cannot write acceptedEpoch", &err);
            }
        }
        if let Some(e) = r.epoch_writes.current {
            if let Err(err) = storage::epoch::write_epoch(&snap_dir, "currentEpoch", e) {
                self.fatal("cannot write currentEpoch", &err);
            }
        }
        let mut txns = Vec::with_capacity(r.log_replay.len() + r.committed.len());
        for (p, replay) in r
            .log_replay
            .iter()
            .map(|p| (p, true))
            .chain(r.committed.iter().map(|p| (p, false)))
        {
            match TxnEntry::decode(p.payload.clone()) {
                Ok(e) => txns.push((e, replay)),
                Err(e) => {
                    error!(zxid = format!("0x{:x}", p.zxid), error = %e, "undecodable committed txn; skipping it")
                }
            }
        }
        if !txns.is_empty() {
            let _ = self.apply.send(ApplyMsg::Txns(txns));
        }
        for s in &r.sync_replies {
            let token = match s.token {
                Some(t) => Some(t),
                None => self.forwarded_syncs.pop_front(),
            };
            if let Some(t) = token {
                let _ = self.apply.send(ApplyMsg::SyncDone(t));
            }
        }
        for ev in r.session_events {
            self.session_event(ev);
        }
        for f in r.forwarded_requests {
            self.submit_forwarded(f);
        }
        for a in &r.alerts {
            match a {
                Alert::RefusedToDropCommitted { .. } => error!(alert = ?a, "safety rule"),
                _ => warn!(alert = ?a, "quorum"),
            }
        }
        for m in r.messages {
            self.send(m.to, m.body);
        }
        for sid in r.disconnect {
            self.drop_link(sid);
        }
        self.zab.on_persisted(r.number);
        for m in r.messages_after_persist {
            self.send(m.to, m.body);
        }
    }

    /// Java starts its read-only server `max(2000, tickTime)` ms into LOOKING.
    fn arm_read_only(&mut self) {
        if self.shared.settings.read_only_mode {
            self.read_only_at = Some(self.now() + self.settings.tick_ms.max(2000));
        }
    }

    fn maybe_enter_read_only(&mut self, now: u64) {
        let due = self.read_only_at.is_some_and(|at| now >= at);
        if due && matches!(self.zab.role(), Role::Looking) && !self.q.is_read_only() {
            self.read_only_at = None;
            self.q.set_read_only(true);
            self.shared.serving.store(true, Ordering::Release);
            info!("no quorum: serving read-only clients (readonlymode.enabled)");
        }
    }

    fn leave_read_only(&mut self) {
        self.read_only_at = None;
        if self.q.is_read_only() {
            self.shared.serving.store(false, Ordering::Release);
            self.q.set_read_only(false);
            let conns: Vec<_> = self.shared.conns.lock().values().cloned().collect();
            for c in conns {
                c.close();
            }
            // Read-only sessions were this server's alone: they end with the mode.
            let known: std::collections::HashSet<i64> =
                self.shared.db_sessions.lock().keys().copied().collect();
            let mut t = self.shared.sessions.lock();
            for (id, _) in t.sessions() {
                if !known.contains(&id) {
                    t.remove(id);
                }
            }
            info!("leaving read-only mode");
        }
    }

    fn on_role(&mut self, role: Role) {
        let (pr, leader) = match role {
            Role::Looking => (PeerRole::Looking, -1),
            Role::Leading => (PeerRole::Leading, self.zab.my_sid()),
            Role::Following { leader } => (PeerRole::Following, leader),
            Role::Observing { leader } => (PeerRole::Observing, leader),
        };
        self.q.set_role(pr, leader);
        // Syncs forwarded to a leader we no longer follow are never answered.
        self.forwarded_syncs.clear();
        if pr == PeerRole::Looking {
            self.arm_read_only();
        } else {
            self.leave_read_only();
        }
        if pr == PeerRole::Looking {
            self.links = Links::None;
            let current_epoch = self.zab.current_epoch();
            let last_zxid = self.zab.last_logged_zxid();
            info!(
                epoch = current_epoch,
                zxid = format!("0x{last_zxid:x}"),
                "LOOKING"
            );
            let _ = self.election.send(ElectionCmd::LookForLeader {
                current_epoch,
                last_zxid,
            });
        }
    }

    fn on_serving(&mut self, serving: bool) {
        if serving {
            if self.zab.accepts_proposals() {
                if let Some(next) = self.zab.next_zxid() {
                    self.shared.submit(Submit::ResetZxid {
                        last_zxid: next - 1,
                    });
                    let _ = self.apply.send(ApplyMsg::EpochStart(next - 1));
                }
                // A new leader owns every session: each gets a full timeout from now.
                let sessions: Vec<(i64, i32)> = self
                    .shared
                    .db_sessions
                    .lock()
                    .iter()
                    .map(|(k, v)| (*k, *v))
                    .collect();
                let now = self.shared.now_ms();
                let mut t = self.shared.sessions.lock();
                for (id, to) in sessions {
                    t.add(id, to, now);
                }
            }
            let _ = self
                .election
                .send(ElectionCmd::UpdatePeerEpoch(self.zab.current_epoch()));
            self.q.set_serving_since(wall_ms());
            self.shared.serving.store(true, Ordering::Release);
            info!(
                role = self.q.role().mode_word(),
                epoch = self.zab.current_epoch(),
                zxid = format!("0x{:x}", self.zab.last_logged_zxid()),
                "serving clients"
            );
        } else {
            self.shared.serving.store(false, Ordering::Release);
            let conns: Vec<_> = self.shared.conns.lock().values().cloned().collect();
            for c in conns {
                c.close();
            }
            let _ = self.apply.send(ApplyMsg::Clear);
            let waiting: Vec<i64> = self.q.revalidating.lock().keys().copied().collect();
            for id in waiting {
                self.answer_reconnects(id, false);
            }
            info!("stopped serving clients");
        }
    }

    /// TRUNC: cut the log back to `zxid`, drop newer snapshots, reload the tree from disk.
    fn truncate(&mut self, zxid: i64) {
        info!(
            zxid = format!("0x{zxid:x}"),
            "TRUNC: truncating the txn log"
        );
        // Close the log first so nothing buffered is written after the cut.
        self.log = Box::new(crate::pipeline::NoLog);
        if let Err(e) = storage::txn_log::truncate(&self.settings.dirs.log_dir, zxid) {
            self.fatal("cannot truncate the txn log", &e);
        }
        if let Ok(snaps) = self.settings.dirs.snapshots() {
            for s in snaps.iter().filter(|s| s.zxid > zxid) {
                info!(file = %s.path.display(), "TRUNC: removing a snapshot newer than the cut");
                let _ = std::fs::remove_file(&s.path);
            }
        }
        match persistence::recover(&self.settings.storage) {
            Ok(rec) => {
                let _ = self.apply.send(ApplyMsg::ReplaceTree {
                    tree: Box::new(rec.tree),
                    sessions: rec.sessions,
                });
            }
            Err(e) => self.fatal("cannot reload the database after TRUNC", &e),
        }
        self.log = self.new_log();
    }

    /// SNAP: the leader's tree replaces ours; the log loses everything after it; a snapshot file
    /// makes it durable before we acknowledge anything built on it.
    fn install_snapshot(&mut self, zxid: i64, data: &Bytes) {
        let extended = self.settings.storage.extended_types;
        let (mut tree, sessions) = match persistence::tree_from_sync_stream(data, extended) {
            Ok(x) => x,
            Err(e) => self.fatal("cannot load the leader's snapshot", &e),
        };
        tree.set_last_processed_zxid(zxid);
        self.log = Box::new(crate::pipeline::NoLog);
        if let Err(e) = persistence::cut_logs_after(&self.settings.dirs, zxid) {
            self.fatal("cannot cut the txn log after SNAP", &e);
        }
        match persistence::write_snapshot(
            &self.settings.dirs,
            &tree,
            &sessions,
            self.settings.storage.compression,
        ) {
            Ok(path) => info!(file = %path.display(), "SNAP: snapshot written"),
            Err(e) => self.fatal("cannot write the SNAP snapshot", &e),
        }
        let _ = self.apply.send(ApplyMsg::ReplaceTree {
            tree: Box::new(tree),
            sessions,
        });
        self.log = self.new_log();
    }

    fn new_log(&self) -> Box<dyn TxnLog> {
        let (tx, _rx) = std::sync::mpsc::channel();
        Box::new(FileTxnLog::new(
            &self.settings.dirs,
            &self.settings.storage,
            tx,
        ))
    }

    fn session_event(&mut self, ev: SessionEvent) {
        let now = self.shared.now_ms();
        match ev {
            SessionEvent::Touch { session_id, .. } => {
                self.shared.sessions.lock().touch(session_id, None, now);
            }
            SessionEvent::RevalidateRequest {
                from,
                zxid,
                session_id,
                timeout,
            } => {
                let valid = self
                    .shared
                    .sessions
                    .lock()
                    .touch(session_id, Some(timeout), now);
                self.zab.answer_revalidate(from, zxid, session_id, valid);
            }
            SessionEvent::RevalidateAnswer { session_id, valid } => {
                self.answer_reconnects(session_id, valid);
            }
        }
    }

    /// Finishes reconnects waiting for the leader's verdict.
    fn answer_reconnects(&mut self, session_id: i64, valid: bool) {
        let waiting = self
            .q
            .revalidating
            .lock()
            .remove(&session_id)
            .unwrap_or_default();
        for w in waiting {
            if valid {
                let now = self.shared.now_ms();
                self.shared
                    .sessions
                    .lock()
                    .add(session_id, w.timeout_ms, now);
                let old = self
                    .shared
                    .session_conn
                    .lock()
                    .insert(session_id, w.conn.id);
                if let Some(old) = old.filter(|o| *o != w.conn.id) {
                    let c = self.shared.conns.lock().get(&old).cloned();
                    if let Some(c) = c {
                        c.close();
                    }
                }
                w.conn.session_id.store(session_id, Ordering::Release);
                w.conn.send(frame::connect_response(
                    Some((session_id, w.timeout_ms)),
                    w.read_only_echo.map(|_| false),
                ));
                info!(
                    session = format!("0x{session_id:x}"),
                    "session reconnected (revalidated by the leader)"
                );
            } else {
                w.conn.send(frame::connect_response(
                    None,
                    w.read_only_echo.map(|_| false),
                ));
                w.conn.close();
                info!(
                    session = format!("0x{session_id:x}"),
                    "refused reconnect: the leader does not know the session"
                );
            }
        }
    }

    /// Leader: a learner's REQUEST enters our prep stage like a local request.
    fn submit_forwarded(&mut self, f: ForwardedRequest) {
        let shared = &self.shared;
        match f.op {
            op::CREATE_SESSION => {
                let mut r = Reader::new(f.body.clone());
                let timeout = r.read_i32().unwrap_or(0);
                let s = &self.shared.settings;
                let timeout = timeout.clamp(s.min_session_timeout_ms, s.max_session_timeout_ms);
                shared.submit(Submit::ForwardedCreateSession {
                    session_id: f.session_id,
                    timeout_ms: timeout,
                });
            }
            op::SYNC => {
                shared.submit(Submit::Sync {
                    token: None,
                    learner: Some(f.from),
                });
            }
            t => {
                let request = if t == op::CLOSE_SESSION {
                    Ok(Some(Request::CloseSession))
                } else {
                    Request::decode(t, &mut Reader::new(f.body.clone()))
                };
                match request {
                    Ok(Some(request)) => {
                        shared.submit(Submit::Write {
                            origin: None,
                            session_id: f.session_id,
                            cxid: f.cxid,
                            auth: Arc::new(f.authinfo.unwrap_or_default()),
                            request,
                        });
                    }
                    other => {
                        // The learner decoded it before forwarding; a body we cannot read here
                        // means a peer speaking something else. Its client times out.
                        warn!(
                            from = f.from,
                            op = t,
                            error = ?other.err().map(|e| e.to_string()),
                            "undecodable forwarded request; dropped"
                        );
                    }
                }
            }
        }
    }
}

/// Where to bind the quorum port.
pub fn quorum_bind_addr(host: &str, port: u16, listen_on_all: bool) -> Option<SocketAddr> {
    use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
    if listen_on_all {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    (host, port).to_socket_addrs().ok()?.next()
}
