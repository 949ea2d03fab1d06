//! [`Zab`]: the state shared by every role (epochs, log end, durability, what the tree holds),
//! the Ready builder that enforces "persist before ACK", and the public entry points that dispatch
//! to the leader or learner half.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use jute::quorum::QuorumPacket;

use crate::config::{DiskState, ZabConfig};
use crate::error::{ProposeError, StepError};
use crate::history::{CommittedLog, OlderProposals};
use crate::leader::Leader;
use crate::learner::Learner;
use crate::packets::{ForwardedRequest, SessionTouch};
use crate::ready::{Alert, Body, Outbound, Proposal, Ready, ReadyNumber, Role, SyncReply};
use crate::zxid::Zxid;
use crate::Sid;

/// Something to hand to the tree once the log holds it durably, in order.
#[derive(Debug, Clone)]
pub(crate) enum ReleaseItem {
    /// Apply this proposal (committed).
    Apply(Proposal),
    /// Apply this logged proposal that is not known committed (Java `fastForwardDataBase`).
    Replay(Proposal),
    /// Answer a sync (after everything before it was applied).
    Sync(SyncReply),
}

/// Work the core must do when a Ready becomes durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PersistHook {
    /// The leader's currentEpoch for `epoch` is durable: its own NEWLEADER ACK.
    LeaderCurrentEpoch(i64),
}

#[derive(Debug)]
struct Sealed {
    ready: Ready,
    log_end: Zxid,
    hooks: Vec<PersistHook>,
}

#[derive(Debug)]
struct Inflight {
    number: ReadyNumber,
    log_end: Zxid,
    hooks: Vec<PersistHook>,
    after_persist_to: BTreeSet<Sid>,
}

/// The driver's on-disk proposal source (opaque to `Debug`).
pub(crate) struct OlderSource(pub(crate) Box<dyn OlderProposals + Send>);

impl std::fmt::Debug for OlderSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OlderSource")
    }
}

/// What this peer is doing.
#[derive(Debug)]
pub(crate) enum RoleState {
    Looking,
    Leading(Box<Leader>),
    Learning(Box<Learner>),
}

/// The ZAB state machine of one peer. Sans-IO: feed it packets, ticks, proposals and persistence
/// reports; drain [`Ready`]s and carry them out in the documented order.
#[derive(Debug)]
pub struct Zab {
    pub(crate) cfg: ZabConfig,
    pub(crate) now_ms: u64,
    pub(crate) accepted_epoch: i64,
    pub(crate) current_epoch: i64,
    /// Last zxid handed to the log (maybe not durable yet).
    pub(crate) last_appended: Zxid,
    /// Last zxid known durable in the log.
    pub(crate) durable: Zxid,
    /// Last zxid the tree reflects (Java lastProcessedZxid).
    pub(crate) applied: Zxid,
    /// Highest zxid known committed cluster-wide.
    pub(crate) known_committed: Zxid,
    pub(crate) release: VecDeque<ReleaseItem>,
    pub(crate) committed_log: CommittedLog,
    pub(crate) older: Option<OlderSource>,
    pub(crate) role: RoleState,
    cur: Ready,
    cur_hooks: Vec<PersistHook>,
    sealed: VecDeque<Sealed>,
    inflight: VecDeque<Inflight>,
    /// Per peer: how many handed-out, not yet persisted Readys hold messages for it.
    held_for: BTreeMap<Sid, usize>,
    next_number: ReadyNumber,
}

impl Zab {
    /// A peer in LOOKING state, starting from what the driver recovered from disk.
    pub fn new(cfg: ZabConfig, disk: DiskState) -> Zab {
        let mut committed_log = CommittedLog::new(cfg.committed_log_capacity);
        for p in disk.recent {
            if p.zxid <= disk.last_logged_zxid {
                committed_log.push(p);
            }
        }
        Zab {
            cfg,
            now_ms: 0,
            accepted_epoch: disk.accepted_epoch,
            current_epoch: disk.current_epoch,
            last_appended: disk.last_logged_zxid,
            durable: disk.last_logged_zxid,
            applied: disk.last_logged_zxid,
            known_committed: disk.known_committed_zxid.min(disk.last_logged_zxid),
            release: VecDeque::new(),
            committed_log,
            older: None,
            role: RoleState::Looking,
            cur: Ready::default(),
            cur_hooks: Vec::new(),
            sealed: VecDeque::new(),
            inflight: VecDeque::new(),
            held_for: BTreeMap::new(),
            next_number: 1,
        }
    }

    /// Lets the leader DIFF-sync learners older than the in-memory committed log from disk.
    pub fn set_older_proposals(&mut self, src: Box<dyn OlderProposals + Send>) {
        self.older = Some(OlderSource(src));
    }

    /// Replaces the NEWLEADER config string (after a config change the driver learned of).
    pub fn set_config_string(&mut self, config: String) {
        self.cfg.config_string = config;
    }

    /// Our sid.
    pub fn my_sid(&self) -> Sid {
        self.cfg.my_sid
    }

    /// acceptedEpoch as last requested.
    pub fn accepted_epoch(&self) -> i64 {
        self.accepted_epoch
    }

    /// currentEpoch as last requested.
    pub fn current_epoch(&self) -> i64 {
        self.current_epoch
    }

    /// Last zxid handed to the log.
    pub fn last_logged_zxid(&self) -> Zxid {
        self.last_appended
    }

    /// Last zxid the tree reflects (all `committed` handed out so far).
    pub fn last_applied_zxid(&self) -> Zxid {
        self.applied
    }

    /// Highest zxid known committed; persist it (e.g. with snapshots) and pass it back in
    /// [`DiskState::known_committed_zxid`] after a restart.
    pub fn known_committed_zxid(&self) -> Zxid {
        self.known_committed
    }

    /// Current role.
    pub fn role(&self) -> Role {
        match &self.role {
            RoleState::Looking => Role::Looking,
            RoleState::Leading(_) => Role::Leading,
            RoleState::Learning(l) if l.observer => Role::Observing { leader: l.leader },
            RoleState::Learning(l) => Role::Following { leader: l.leader },
        }
    }

    /// True while serving clients (established leader, or learner after UPTODATE).
    pub fn is_serving(&self) -> bool {
        match &self.role {
            RoleState::Looking => false,
            RoleState::Leading(l) => l.is_established(),
            RoleState::Learning(l) => l.is_serving(),
        }
    }

    /// The epoch this peer leads, once established.
    pub fn established_epoch(&self) -> Option<i64> {
        match &self.role {
            RoleState::Leading(l) if l.is_established() => l.epoch,
            _ => None,
        }
    }

    /// Leader: learner counts for monitoring (`None` unless leading).
    pub fn leader_stats(&self) -> Option<crate::LeaderStats> {
        match &self.role {
            RoleState::Leading(l) => Some(l.stats()),
            _ => None,
        }
    }

    /// Leader: true when `propose` would be accepted (the driver's "accepts proposals" guard).
    pub fn accepts_proposals(&self) -> bool {
        self.established_epoch().is_some()
    }

    // ----- role changes -------------------------------------------------------------------

    /// Election result: we lead. Starts discovery.
    pub fn lead(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.leave_role();
        self.cur.role = Some(Role::Leading);
        self.start_leading();
    }

    /// Election result: follow `leader`. Sends FOLLOWERINFO (the driver connects first).
    pub fn follow(&mut self, leader: Sid, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.leave_role();
        self.cur.role = Some(Role::Following { leader });
        self.start_learning(leader, false);
    }

    /// Election result (observers): observe `leader`. Sends OBSERVERINFO.
    pub fn observe(&mut self, leader: Sid, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.leave_role();
        self.cur.role = Some(Role::Observing { leader });
        self.start_learning(leader, true);
    }

    /// Give up the current role and go LOOKING.
    pub fn look(&mut self) {
        if !matches!(self.role, RoleState::Looking) {
            self.leave_role();
            self.cur.role = Some(Role::Looking);
        }
    }

    pub(crate) fn go_looking(&mut self, alert: Alert) {
        self.cur.alerts.push(alert);
        self.look();
    }

    /// Tears down the current role: stop serving, close links, and (like Java, which reloads the
    /// database from the log at every election) hand the tree every logged-but-uncommitted txn.
    fn leave_role(&mut self) {
        let old = std::mem::replace(&mut self.role, RoleState::Looking);
        match old {
            RoleState::Looking => {}
            RoleState::Leading(l) => {
                if l.is_established() {
                    self.cur.serving = Some(false);
                }
                for sid in l.peers.keys() {
                    self.cur.disconnect.push(*sid);
                }
                for (_, o) in l.outstanding {
                    self.release.push_back(ReleaseItem::Replay(o.proposal));
                }
            }
            RoleState::Learning(l) => {
                if l.is_serving() {
                    self.cur.serving = Some(false);
                }
                self.cur.disconnect.push(l.leader);
                // A sync buffer not yet logged is dropped; logged pending txns reach the tree.
                let last = self.last_appended;
                self.release.retain(|i| match i {
                    ReleaseItem::Apply(p) | ReleaseItem::Replay(p) => p.zxid <= last,
                    ReleaseItem::Sync(_) => true,
                });
                if l.logged() {
                    for p in l.pending {
                        if p.zxid <= last {
                            self.release.push_back(ReleaseItem::Replay(p));
                        }
                    }
                }
            }
        }
        self.process_release();
    }

    // ----- inputs ------------------------------------------------------------------------------

    /// A packet from peer `from`. On `Err`, the core has already dropped that peer (leader) or the
    /// leader (learner); the driver should close the connection. Never panics on packet content.
    ///
    /// Leader side: a connection's sid is only known from its first packet; the driver reads it
    /// with [`crate::packets::parse_learner_info`] and passes that sid as `from` from then on. A
    /// SNAP packet must go through [`Zab::step_snapshot`] together with the stream after it.
    pub fn step(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        match &self.role {
            RoleState::Looking => Err(StepError::UnknownPeer(from)),
            RoleState::Leading(_) => self.leader_step(from, p),
            RoleState::Learning(_) => self.learner_step(from, p),
        }
    }

    /// A SNAP packet and the snapshot stream after it (the driver reads the body, which is not a
    /// QuorumPacket, with the data tree's deserializer).
    pub fn step_snapshot(
        &mut self,
        from: Sid,
        zxid: Zxid,
        data: bytes::Bytes,
    ) -> Result<(), StepError> {
        match &self.role {
            RoleState::Learning(_) => self.learner_snapshot(from, zxid, data),
            _ => Err(StepError::UnknownPeer(from)),
        }
    }

    /// The connection to `sid` closed.
    pub fn peer_disconnected(&mut self, sid: Sid) {
        match &self.role {
            RoleState::Looking => {}
            RoleState::Leading(_) => self.leader_drop_peer(sid, None),
            RoleState::Learning(l) => {
                if l.leader == sid {
                    self.go_looking(Alert::LeaderLost {
                        reason: "connection to leader closed".into(),
                    });
                }
            }
        }
    }

    /// Time passes: pings, deadlines, quorum checks.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        match &self.role {
            RoleState::Looking => {}
            RoleState::Leading(_) => self.leader_tick(),
            RoleState::Learning(_) => self.learner_tick(),
        }
    }

    /// Leader: propose the txn `payload` (TxnEntry bytes) under `zxid`, which must be
    /// [`Zab::next_zxid`].
    pub fn propose(&mut self, zxid: Zxid, payload: bytes::Bytes) -> Result<(), ProposeError> {
        self.leader_propose(Proposal { zxid, payload })
    }

    /// Leader: the zxid the next proposal must carry.
    pub fn next_zxid(&self) -> Option<Zxid> {
        match &self.role {
            RoleState::Leading(l) if l.is_established() => Some(l.last_proposed + 1),
            _ => None,
        }
    }

    /// Leader: a `sync` reached the commit stage. `Some(token)`: a local client's sync, answered
    /// through `sync_replies`. `None` with `learner`: a learner's forwarded sync, answered by a
    /// SYNC packet. Answered once everything proposed before it is applied and a quorum has
    /// confirmed this leader after it arrived.
    pub fn sync(&mut self, token: Option<u64>, learner: Option<Sid>) -> Result<(), ProposeError> {
        self.leader_sync(token, learner)
    }

    /// Leader: the answer to a [`crate::SessionEvent::RevalidateRequest`].
    pub fn answer_revalidate(&mut self, to: Sid, zxid: Zxid, session_id: i64, valid: bool) {
        if let RoleState::Leading(l) = &self.role {
            if l.peers.contains_key(&to) {
                let p = crate::packets::revalidate_answer(zxid, session_id, valid);
                self.send(to, p);
            }
        }
    }

    /// Learner: forward a client's write / sync / session request to the leader.
    pub fn forward_request(&mut self, r: &ForwardedRequest) -> bool {
        self.learner_forward(crate::packets::request(r))
    }

    /// Learner: ask the leader to revalidate a reconnecting session.
    pub fn revalidate(&mut self, session_id: i64, timeout: i32) -> bool {
        self.learner_forward(crate::packets::revalidate_request(session_id, timeout))
    }

    /// Learner: a session saw activity; reported in the next PING reply.
    pub fn touch_session(&mut self, touch: SessionTouch) {
        if let RoleState::Learning(l) = &mut self.role {
            l.touches.insert(touch.session_id, touch.timeout);
        }
    }

    // ----- Ready / persistence -----------------------------------------------------------------

    /// True when [`Zab::ready`] has something.
    pub fn has_ready(&self) -> bool {
        !self.sealed.is_empty() || !self.cur.is_empty() || !self.cur_hooks.is_empty()
    }

    /// The next batch of work (empty if none). Readys are numbered consecutively.
    pub fn ready(&mut self) -> Ready {
        let sealed = match self.sealed.pop_front() {
            Some(s) => s,
            None => {
                let ready = std::mem::take(&mut self.cur);
                Sealed {
                    ready,
                    log_end: self.last_appended,
                    hooks: std::mem::take(&mut self.cur_hooks),
                }
            }
        };
        let mut ready = sealed.ready;
        ready.number = self.next_number;
        self.next_number += 1;
        let after_persist_to: BTreeSet<Sid> =
            ready.messages_after_persist.iter().map(|m| m.to).collect();
        for sid in &after_persist_to {
            *self.held_for.entry(*sid).or_insert(0) += 1;
        }
        self.inflight.push_back(Inflight {
            number: ready.number,
            log_end: sealed.log_end,
            hooks: sealed.hooks,
            after_persist_to,
        });
        ready
    }

    /// Everything in Readys up to `number` is durable (and their after-persist messages may go).
    pub fn on_persisted(&mut self, number: ReadyNumber) {
        let mut hooks = Vec::new();
        while self.inflight.front().is_some_and(|i| i.number <= number) {
            if let Some(i) = self.inflight.pop_front() {
                self.durable = i.log_end;
                hooks.extend(i.hooks);
                for sid in i.after_persist_to {
                    if let Some(n) = self.held_for.get_mut(&sid) {
                        *n -= 1;
                        if *n == 0 {
                            self.held_for.remove(&sid);
                        }
                    }
                }
            }
        }
        for h in hooks {
            match h {
                PersistHook::LeaderCurrentEpoch(e) => self.leader_own_newleader_ack(e),
            }
        }
        if let RoleState::Leading(_) = self.role {
            self.leader_own_acks();
        }
        self.process_release();
        if let RoleState::Leading(_) = self.role {
            self.leader_resume_discovery();
        }
    }

    /// Starts a new Ready if the current one already holds persistent work, so that a truncate or
    /// snapshot install is never reordered with earlier appends.
    pub(crate) fn seal_for_reset(&mut self) {
        if self.cur.needs_persist() || !self.cur_hooks.is_empty() {
            let ready = std::mem::take(&mut self.cur);
            self.sealed.push_back(Sealed {
                ready,
                log_end: self.last_appended,
                hooks: std::mem::take(&mut self.cur_hooks),
            });
        }
    }

    /// The log was cut back to `zxid` (TRUNC / SNAP): earlier, not yet durable Readys can no
    /// longer vouch for anything above it.
    pub(crate) fn clamp_log_end(&mut self, zxid: Zxid) {
        self.durable = self.durable.min(zxid);
        for i in self.inflight.iter_mut() {
            i.log_end = i.log_end.min(zxid);
        }
        for s in self.sealed.iter_mut() {
            s.log_end = s.log_end.min(zxid);
        }
    }

    /// Ends the current Ready here (whatever follows goes into a later one).
    pub(crate) fn seal(&mut self) {
        if !self.cur.is_empty() || !self.cur_hooks.is_empty() {
            let ready = std::mem::take(&mut self.cur);
            self.sealed.push_back(Sealed {
                ready,
                log_end: self.last_appended,
                hooks: std::mem::take(&mut self.cur_hooks),
            });
        }
    }

    pub(crate) fn hook(&mut self, h: PersistHook) {
        self.cur_hooks.push(h);
    }

    pub(crate) fn out(&mut self) -> &mut Ready {
        &mut self.cur
    }

    fn after_persist_pending(&self, to: Sid) -> bool {
        self.cur.messages_after_persist.iter().any(|m| m.to == to)
            || self
                .sealed
                .iter()
                .any(|s| s.ready.messages_after_persist.iter().any(|m| m.to == to))
            || self.held_for.contains_key(&to)
    }

    /// Sends now, unless an earlier after-persist message to the same peer is still held back;
    /// then it waits behind it so the peer sees packets in the order the core produced them.
    pub(crate) fn send(&mut self, to: Sid, p: QuorumPacket) {
        self.send_body(to, Body::Packet(p));
    }

    pub(crate) fn send_body(&mut self, to: Sid, body: Body) {
        let m = Outbound { to, body };
        if self.after_persist_pending(to) {
            self.cur.messages_after_persist.push(m);
        } else {
            self.cur.messages.push(m);
        }
    }

    /// Sends now even if ACKs to the same peer are held for persistence (learner PING replies
    /// and forwarded requests once serving: their order relative to ACKs does not matter, and a
    /// slow fsync must not delay liveness replies).
    pub(crate) fn send_now(&mut self, to: Sid, p: QuorumPacket) {
        self.cur.messages.push(Outbound {
            to,
            body: Body::Packet(p),
        });
    }

    /// Sends once this Ready is durable.
    pub(crate) fn send_after_persist(&mut self, to: Sid, p: QuorumPacket) {
        self.cur.messages_after_persist.push(Outbound {
            to,
            body: Body::Packet(p),
        });
    }

    /// Appends to the log (in this Ready).
    pub(crate) fn append(&mut self, p: Proposal) {
        self.last_appended = p.zxid;
        self.cur.log_appends.push(p);
    }

    /// Hands durable items to the tree in order.
    pub(crate) fn process_release(&mut self) {
        while let Some(front) = self.release.front() {
            match front {
                ReleaseItem::Apply(p) | ReleaseItem::Replay(p) if p.zxid > self.durable => break,
                ReleaseItem::Apply(_) | ReleaseItem::Replay(_) => {
                    let Some(item) = self.release.pop_front() else {
                        break;
                    };
                    let (p, replay) = match item {
                        ReleaseItem::Apply(p) => (p, false),
                        ReleaseItem::Replay(p) => (p, true),
                        ReleaseItem::Sync(_) => continue,
                    };
                    if p.zxid <= self.applied {
                        continue;
                    }
                    if replay && !self.cur.committed.is_empty() {
                        self.seal(); // keep log_replay-before-committed within one Ready
                    }
                    self.applied = p.zxid;
                    self.committed_log.push(p.clone());
                    if let RoleState::Leading(l) = &mut self.role {
                        l.applied(p.zxid);
                    }
                    if replay {
                        self.cur.log_replay.push(p);
                    } else {
                        self.cur.committed.push(p);
                    }
                }
                ReleaseItem::Sync(_) => {
                    if let Some(ReleaseItem::Sync(s)) = self.release.pop_front() {
                        self.cur.sync_replies.push(s);
                    }
                }
            }
        }
        if let RoleState::Leading(_) = self.role {
            self.leader_check_syncs();
        }
    }
}
