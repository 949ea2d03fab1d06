//! The leader half: discovery (epoch choice, LEADERINFO, ACKEPOCH quorum), per-learner sync with
//! Java's exact DIFF/TRUNC/SNAP choice, NEWLEADER quorum, then broadcast (PROPOSAL, ACK counting,
//! in-order COMMIT/INFORM), pings, liveness and `sync`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use jute::quorum::{packet, QuorumPacket};
use tracing::{debug, info, warn};

use crate::core::{PersistHook, ReleaseItem, RoleState, Zab};
use crate::error::{ProposeError, StepError};
use crate::packets::{self, PacketError};
use crate::ready::{Alert, Body, Proposal, SessionEvent, SyncReply};
use crate::sync_plan::{plan_sync, SyncHead};
use crate::zxid::{counter_of, epoch_of, make_zxid, Zxid};
use crate::Sid;

/// A proposal waiting for a quorum of ACKs.
#[derive(Debug, Clone)]
pub(crate) struct Outstanding {
    pub(crate) proposal: Proposal,
    pub(crate) acks: BTreeSet<Sid>,
}

/// Where one learner is in the LearnerHandler flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PeerPhase {
    AwaitEpoch,
    AwaitAckEpoch,
    EpochAcked,
    AwaitNewLeaderAck,
    AwaitStartup,
    Active,
}

/// One connected learner.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    observer: bool,
    phase: PeerPhase,
    last_zxid: Zxid,
    deadline_ms: u64,
    forwarding: bool,
    ping_rounds: VecDeque<u64>,
    confirmed_round: u64,
    unacked: VecDeque<(Zxid, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Discovery,
    EpochAck,
    NewLeaderAck,
    Established,
}

#[derive(Debug, Clone)]
struct PendingSync {
    token: Option<u64>,
    learner: Option<Sid>,
    wait_zxid: Zxid,
    round: u64,
}

/// Leader state.
#[derive(Debug)]
pub(crate) struct Leader {
    pub(crate) epoch: Option<i64>,
    candidate_epoch: i64,
    phase: Phase,
    phase_deadline: u64,
    summary: (i64, Zxid),
    connecting: BTreeSet<Sid>,
    epoch_acks: BTreeSet<Sid>,
    newleader_acks: BTreeSet<Sid>,
    pub(crate) peers: BTreeMap<Sid, Peer>,
    pub(crate) outstanding: BTreeMap<Zxid, Outstanding>,
    to_be_applied: VecDeque<Proposal>,
    pub(crate) last_proposed: Zxid,
    syncs: Vec<PendingSync>,
    ping_round: u64,
    next_ping_ms: u64,
}

/// What `mntr` reports about a leader's learners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaderStats {
    /// Connected learners (any phase).
    pub learners: usize,
    /// Followers past sync (broadcast phase).
    pub synced_followers: usize,
    /// Observers past sync.
    pub synced_observers: usize,
    /// Syncs waiting for their answer.
    pub pending_syncs: usize,
}

impl Leader {
    pub(crate) fn stats(&self) -> LeaderStats {
        let synced = |obs: bool| {
            self.peers
                .values()
                .filter(|p| p.observer == obs && p.phase >= PeerPhase::AwaitStartup)
                .count()
        };
        LeaderStats {
            learners: self.peers.len(),
            synced_followers: synced(false),
            synced_observers: synced(true),
            pending_syncs: self.syncs.len(),
        }
    }

    pub(crate) fn is_established(&self) -> bool {
        self.phase == Phase::Established
    }

    /// The tree caught up to `zxid`: those committed proposals leave `toBeApplied`.
    pub(crate) fn applied(&mut self, zxid: Zxid) {
        while self.to_be_applied.front().is_some_and(|p| p.zxid <= zxid) {
            self.to_be_applied.pop_front();
        }
    }
}

fn malformed(from: Sid, e: PacketError) -> StepError {
    StepError::Malformed {
        from,
        kind: e.kind,
        reason: e.reason,
    }
}

impl Zab {
    fn leader(&self) -> Option<&Leader> {
        match &self.role {
            RoleState::Leading(l) => Some(l),
            _ => None,
        }
    }

    fn leader_mut(&mut self) -> Option<&mut Leader> {
        match &mut self.role {
            RoleState::Leading(l) => Some(l),
            _ => None,
        }
    }

    fn is_voter(&self, sid: Sid) -> bool {
        self.cfg.verifier.is_voter(sid)
    }

    pub(crate) fn start_leading(&mut self) {
        let me = self.cfg.my_sid;
        let mut connecting = BTreeSet::new();
        connecting.insert(me);
        let l = Leader {
            epoch: None,
            candidate_epoch: self.accepted_epoch + 1,
            phase: Phase::Discovery,
            phase_deadline: self.now_ms + self.cfg.init_ms(),
            summary: (self.current_epoch, self.last_appended),
            connecting,
            epoch_acks: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            peers: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            to_be_applied: VecDeque::new(),
            last_proposed: self.last_appended,
            syncs: Vec::new(),
            ping_round: 0,
            next_ping_ms: 0,
        };
        self.role = RoleState::Leading(Box::new(l));
        self.leader_try_decide_epoch();
    }

    /// Java `getEpochToPropose`: decided once a quorum (with us) has connected.
    fn leader_try_decide_epoch(&mut self) {
        let me = self.cfg.my_sid;
        let now = self.now_ms;
        let init = self.cfg.init_ms();
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::Discovery
            || !l.connecting.contains(&me)
            || !self.cfg.verifier.contains_quorum(&l.connecting)
        {
            return;
        }
        let e = l.candidate_epoch;
        info!(epoch = e, "leader: new epoch decided");
        self.accepted_epoch = e;
        self.out().epoch_writes.accepted = Some(e);
        let mut waiting = Vec::new();
        if let Some(l) = self.leader_mut() {
            l.epoch = Some(e);
            l.phase = Phase::EpochAck;
            l.phase_deadline = now + init;
            l.epoch_acks.insert(me);
            for (sid, p) in l.peers.iter_mut() {
                if p.phase == PeerPhase::AwaitEpoch {
                    p.phase = PeerPhase::AwaitAckEpoch;
                    waiting.push(*sid);
                }
            }
        }
        for sid in waiting {
            self.send_after_persist(sid, packets::leader_info(e));
        }
        self.leader_try_epoch_quorum();
    }

    /// Java `waitForEpochAck`: a quorum of ACKEPOCHs; then currentEpoch and sync of waiting learners.
    fn leader_try_epoch_quorum(&mut self) {
        let now = self.now_ms;
        let init = self.cfg.init_ms();
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::EpochAck || !self.cfg.verifier.contains_quorum(&l.epoch_acks) {
            return;
        }
        // Sync learners only from a tree that holds our whole log (Java replays it at startup):
        // wait until every logged txn is durable and handed to the tree.
        if self.applied < self.last_appended {
            return;
        }
        let Some(e) = l.epoch else { return };
        let waiting: Vec<Sid> = l
            .peers
            .iter()
            .filter(|(_, p)| p.phase == PeerPhase::EpochAcked)
            .map(|(s, _)| *s)
            .collect();
        if let Some(l) = self.leader_mut() {
            l.phase = Phase::NewLeaderAck;
            l.phase_deadline = now + init;
        }
        self.current_epoch = e;
        self.out().epoch_writes.current = Some(e);
        self.hook(PersistHook::LeaderCurrentEpoch(e));
        for sid in waiting {
            self.leader_sync_peer(sid);
        }
    }

    /// Re-checks discovery steps that waited for our own log to become durable.
    pub(crate) fn leader_resume_discovery(&mut self) {
        self.leader_try_epoch_quorum();
    }

    pub(crate) fn leader_own_newleader_ack(&mut self, e: i64) {
        let me = self.cfg.my_sid;
        if let Some(l) = self.leader_mut() {
            if l.epoch == Some(e) && l.phase == Phase::NewLeaderAck {
                l.newleader_acks.insert(me);
            }
        }
        self.leader_try_establish();
    }

    /// Java `waitForNewLeaderAck` returning: the leader starts serving, learners get UPTODATE.
    fn leader_try_establish(&mut self) {
        let me = self.cfg.my_sid;
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::NewLeaderAck
            || !l.newleader_acks.contains(&me)
            || !self.cfg.verifier.contains_quorum(&l.newleader_acks)
        {
            return;
        }
        let Some(e) = l.epoch else { return };
        info!(epoch = e, "leader: established");
        self.known_committed = self.known_committed.max(self.last_appended);
        self.out().serving = Some(true);
        let now = self.now_ms;
        let mut uptodate = Vec::new();
        if let Some(l) = self.leader_mut() {
            l.phase = Phase::Established;
            l.last_proposed = make_zxid(e, 0);
            l.next_ping_ms = now;
            for (sid, p) in l.peers.iter_mut() {
                if p.phase == PeerPhase::AwaitStartup {
                    p.phase = PeerPhase::Active;
                    uptodate.push(*sid);
                }
            }
        }
        for sid in uptodate {
            self.send(sid, packets::up_to_date());
        }
    }

    pub(crate) fn leader_step(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        let r = self.leader_step_inner(from, p);
        if let Err(e) = &r {
            self.leader_drop_peer(from, Some(e.to_string()));
        }
        r
    }

    fn leader_step_inner(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        if p.packet_type == packet::FOLLOWERINFO || p.packet_type == packet::OBSERVERINFO {
            return self.leader_on_learner_info(from, p);
        }
        let now = self.now_ms;
        let sync_ms = self.cfg.sync_ms();
        let Some(peer) = self.leader_mut().and_then(|l| l.peers.get_mut(&from)) else {
            return Err(StepError::UnknownPeer(from));
        };
        let phase = peer.phase;
        if phase >= PeerPhase::AwaitStartup {
            peer.deadline_ms = now + sync_ms;
        }
        match (phase, p.packet_type) {
            (PeerPhase::AwaitAckEpoch, packet::ACKEPOCH) => self.leader_on_ack_epoch(from, p),
            (PeerPhase::AwaitNewLeaderAck, packet::ACK) => self.leader_on_newleader_ack(from, p),
            (PeerPhase::AwaitStartup | PeerPhase::Active, t) => {
                match t {
                    packet::ACK => self.leader_on_ack(from, p.zxid),
                    packet::PING => {
                        let touches =
                            packets::parse_ping_reply(&p).map_err(|e| malformed(from, e))?;
                        for t in touches {
                            self.out().session_events.push(SessionEvent::Touch {
                                from,
                                session_id: t.session_id,
                                timeout: t.timeout,
                            });
                        }
                        if let Some(peer) = self.leader_mut().and_then(|l| l.peers.get_mut(&from)) {
                            if let Some(r) = peer.ping_rounds.pop_front() {
                                peer.confirmed_round = peer.confirmed_round.max(r);
                            }
                        }
                        self.leader_check_syncs();
                    }
                    packet::REVALIDATE => {
                        let t = packets::parse_revalidate_request(&p)
                            .map_err(|e| malformed(from, e))?;
                        self.out()
                            .session_events
                            .push(SessionEvent::RevalidateRequest {
                                from,
                                zxid: p.zxid,
                                session_id: t.session_id,
                                timeout: t.timeout,
                            });
                    }
                    packet::REQUEST => {
                        let r = packets::parse_request(from, &p).map_err(|e| malformed(from, e))?;
                        self.out().forwarded_requests.push(r);
                    }
                    other => {
                        warn!(
                            from,
                            packet = packets::type_name(other),
                            "leader: ignoring packet"
                        );
                    }
                }
                Ok(())
            }
            (phase, t) => Err(StepError::Unexpected {
                from,
                packet_type: t,
                phase: match phase {
                    PeerPhase::AwaitEpoch => "awaiting epoch",
                    PeerPhase::AwaitAckEpoch => "awaiting ACKEPOCH",
                    PeerPhase::EpochAcked => "awaiting epoch quorum",
                    PeerPhase::AwaitNewLeaderAck => "awaiting NEWLEADER ACK",
                    _ => "broadcast",
                },
            }),
        }
    }

    fn leader_on_learner_info(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        let info = packets::parse_learner_info(&p.data).map_err(|e| malformed(from, e))?;
        if info.sid != from || from == self.cfg.my_sid {
            return Err(StepError::Malformed {
                from,
                kind: "FOLLOWERINFO",
                reason: format!("LearnerInfo sid {} on link of {}", info.sid, from),
            });
        }
        let ours = self.cfg.config_version();
        if let Some(theirs) = info.config_version {
            if theirs > ours {
                return Err(StepError::ConfigAhead {
                    sid: from,
                    theirs,
                    ours,
                });
            }
        }
        let observer = p.packet_type == packet::OBSERVERINFO;
        let accepted = epoch_of(p.zxid);
        let voter = self.is_voter(from) && !observer;
        let deadline = self.now_ms + self.cfg.init_ms() + self.cfg.sync_ms();
        let Some(l) = self.leader_mut() else {
            return Err(StepError::UnknownPeer(from));
        };
        // A reconnecting learner may be truncated during its sync: its earlier ACKs no longer
        // prove anything is durable there.
        for o in l.outstanding.values_mut() {
            o.acks.remove(&from);
        }
        l.peers.insert(
            from,
            Peer {
                observer,
                phase: PeerPhase::AwaitEpoch,
                last_zxid: -1,
                deadline_ms: deadline,
                forwarding: false,
                ping_rounds: VecDeque::new(),
                confirmed_round: 0,
                unacked: VecDeque::new(),
            },
        );
        match (l.phase, l.epoch) {
            (Phase::Discovery, _) | (_, None) => {
                if accepted >= l.candidate_epoch {
                    l.candidate_epoch = accepted + 1;
                }
                if voter {
                    l.connecting.insert(from);
                }
                self.leader_try_decide_epoch();
            }
            (_, Some(e)) => {
                if let Some(peer) = l.peers.get_mut(&from) {
                    peer.phase = PeerPhase::AwaitAckEpoch;
                }
                // After persist: our acceptedEpoch write may still be in flight.
                self.send_after_persist(from, packets::leader_info(e));
            }
        }
        Ok(())
    }

    fn leader_on_ack_epoch(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        let cur = packets::parse_ack_epoch(&p).map_err(|e| malformed(from, e))? as i64;
        let voter = self.is_voter(from);
        let Some(l) = self.leader_mut() else {
            return Err(StepError::UnknownPeer(from));
        };
        let finished = matches!(l.phase, Phase::NewLeaderAck | Phase::Established);
        let (lead_epoch, lead_zxid) = l.summary;
        let Some(peer) = l.peers.get_mut(&from) else {
            return Err(StepError::UnknownPeer(from));
        };
        peer.last_zxid = p.zxid;
        peer.phase = PeerPhase::EpochAcked;
        let observer = peer.observer;
        if finished {
            self.leader_sync_peer(from);
            return Ok(());
        }
        if cur != -1 {
            if cur > lead_epoch || (cur == lead_epoch && p.zxid > lead_zxid) {
                return Err(StepError::LearnerAhead { sid: from });
            }
            if p.zxid != -1 && voter && !observer {
                l.epoch_acks.insert(from);
            }
        }
        self.leader_try_epoch_quorum();
        Ok(())
    }

    /// Java `syncFollower` + `startForwarding` + NEWLEADER for one learner.
    fn leader_sync_peer(&mut self, sid: Sid) {
        let Some(l) = self.leader() else { return };
        let Some(e) = l.epoch else { return };
        let Some(peer) = l.peers.get(&sid) else {
            return;
        };
        let observer = peer.observer;
        // Committed but not yet applied (our own log append still in flight) counts as committed
        // here, as in Java, whose leader applies a commit before its own fsync completes.
        let mut chain: Vec<Proposal> = self.committed_log.iter().cloned().collect();
        chain.extend(l.to_be_applied.iter().cloned());
        let last_committed = chain
            .last()
            .map(|p| p.zxid)
            .unwrap_or(self.applied)
            .max(self.applied);
        let mut plan = plan_sync(
            &chain,
            last_committed,
            self.older
                .as_ref()
                .map(|o| &*o.0 as &dyn crate::history::OlderProposals),
            peer.last_zxid,
        );
        if plan.head == SyncHead::Snap {
            // The snapshot is the tree as applied; what is committed beyond it follows as
            // PROPOSAL+COMMIT from toBeApplied.
            plan.current = self.applied;
        }
        debug!(sid, head = ?plan.head, n = plan.body.len(), "leader: sync");
        match plan.head {
            SyncHead::Diff(z) => self.send(sid, packets::bare(packet::DIFF, z)),
            SyncHead::Trunc(z) => self.send(sid, packets::bare(packet::TRUNC, z)),
            SyncHead::Snap => {
                let zxid = self.applied;
                self.send_body(sid, Body::Snapshot { zxid });
                // The tree must be streamed exactly as of `zxid`: later commits go in a later Ready.
                self.seal();
            }
        }
        for p in plan.body {
            self.send(sid, p);
        }
        let current = plan.current;
        let now = self.now_ms;
        let mut extra = Vec::new();
        let mut unacked = Vec::new();
        if let Some(l) = self.leader() {
            for p in l.to_be_applied.iter().filter(|p| p.zxid > current) {
                extra.push(packets::proposal(p.zxid, p.payload.clone()));
                extra.push(packets::bare(packet::COMMIT, p.zxid));
            }
            if !observer {
                for (z, o) in l.outstanding.range(current + 1..) {
                    extra.push(packets::proposal(*z, o.proposal.payload.clone()));
                    unacked.push((*z, now));
                }
            }
        }
        for p in extra {
            self.send(sid, p);
        }
        let config = self.cfg.config_string.clone();
        self.send(sid, packets::new_leader(e, &config));
        if let Some(peer) = self.leader_mut().and_then(|l| l.peers.get_mut(&sid)) {
            peer.forwarding = true;
            peer.phase = PeerPhase::AwaitNewLeaderAck;
            peer.unacked.extend(unacked);
        }
    }

    fn leader_on_newleader_ack(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        let voter = self.is_voter(from);
        let now = self.now_ms;
        let sync_ms = self.cfg.sync_ms();
        let Some(l) = self.leader_mut() else {
            return Err(StepError::UnknownPeer(from));
        };
        let Some(e) = l.epoch else {
            return Err(StepError::UnknownPeer(from));
        };
        if p.zxid != make_zxid(e, 0) {
            return Err(StepError::Malformed {
                from,
                kind: "ACK",
                reason: format!(
                    "NEWLEADER ACK for {:#x}, expected {:#x}",
                    p.zxid,
                    make_zxid(e, 0)
                ),
            });
        }
        let established = l.phase == Phase::Established;
        let Some(peer) = l.peers.get_mut(&from) else {
            return Err(StepError::UnknownPeer(from));
        };
        peer.phase = PeerPhase::AwaitStartup;
        peer.deadline_ms = now + sync_ms;
        for u in peer.unacked.iter_mut() {
            u.1 = now;
        }
        if voter && !peer.observer {
            l.newleader_acks.insert(from);
        }
        if established {
            peer.phase = PeerPhase::Active;
            self.send(from, packets::up_to_date());
        } else {
            self.leader_try_establish();
        }
        Ok(())
    }

    fn leader_on_ack(&mut self, from: Sid, zxid: Zxid) {
        if counter_of(zxid) == 0 {
            return; // NEWLEADER / UPTODATE acks carry epoch<<32; Java ignores them here.
        }
        let Some(l) = self.leader_mut() else { return };
        let Some(peer) = l.peers.get_mut(&from) else {
            return;
        };
        while peer.unacked.front().is_some_and(|u| u.0 <= zxid) {
            peer.unacked.pop_front();
        }
        if peer.observer {
            return;
        }
        if let Some(o) = l.outstanding.get_mut(&zxid) {
            o.acks.insert(from);
        }
        self.leader_try_commit();
    }

    /// The leader's own ACK for every proposal now durable in its log.
    pub(crate) fn leader_own_acks(&mut self) {
        let me = self.cfg.my_sid;
        let durable = self.durable;
        let Some(l) = self.leader_mut() else { return };
        if l.outstanding.is_empty() {
            return;
        }
        for (_, o) in l.outstanding.range_mut(..=durable) {
            o.acks.insert(me);
        }
        self.leader_try_commit();
    }

    /// Commits strictly in zxid order while the lowest outstanding proposal has a quorum.
    fn leader_try_commit(&mut self) {
        loop {
            let Some(l) = self.leader() else { return };
            let Some((_, o)) = l.outstanding.first_key_value() else {
                break;
            };
            if !self.cfg.verifier.contains_quorum(&o.acks) {
                break;
            }
            let Some(l) = self.leader_mut() else { return };
            let Some((z, o)) = l.outstanding.pop_first() else {
                break;
            };
            l.to_be_applied.push_back(o.proposal.clone());
            let targets: Vec<(Sid, bool)> = l
                .peers
                .iter()
                .filter(|(_, p)| p.forwarding)
                .map(|(s, p)| (*s, p.observer))
                .collect();
            self.known_committed = self.known_committed.max(z);
            for (sid, observer) in targets {
                if observer {
                    self.send(sid, packets::inform(z, o.proposal.payload.clone()));
                } else {
                    self.send(sid, packets::bare(packet::COMMIT, z));
                }
            }
            self.release.push_back(ReleaseItem::Apply(o.proposal));
        }
        self.process_release();
    }

    pub(crate) fn leader_propose(&mut self, p: Proposal) -> Result<(), ProposeError> {
        let now = self.now_ms;
        let Some(l) = self.leader_mut() else {
            return Err(ProposeError::NotLeader);
        };
        if !l.is_established() {
            return Err(ProposeError::NotLeader);
        }
        if counter_of(l.last_proposed) == 0xffff_ffff {
            self.go_looking(Alert::LeadershipLost {
                reason: "zxid lower 32 bits have rolled over, forcing re-election".into(),
            });
            return Err(ProposeError::Rollover);
        }
        let expected = l.last_proposed + 1;
        if p.zxid != expected {
            return Err(ProposeError::WrongZxid {
                expected,
                got: p.zxid,
            });
        }
        l.last_proposed = p.zxid;
        l.outstanding.insert(
            p.zxid,
            Outstanding {
                proposal: p.clone(),
                acks: BTreeSet::new(),
            },
        );
        let targets: Vec<Sid> = l
            .peers
            .iter_mut()
            .filter(|(_, peer)| peer.forwarding && !peer.observer)
            .map(|(s, peer)| {
                peer.unacked.push_back((p.zxid, now));
                *s
            })
            .collect();
        for sid in targets {
            self.send(sid, packets::proposal(p.zxid, p.payload.clone()));
        }
        self.append(p);
        Ok(())
    }

    pub(crate) fn leader_sync(
        &mut self,
        token: Option<u64>,
        learner: Option<Sid>,
    ) -> Result<(), ProposeError> {
        let Some(l) = self.leader() else {
            return Err(ProposeError::NotLeader);
        };
        if !l.is_established() {
            return Err(ProposeError::NotLeader);
        }
        // Everything proposed so far must be applied first (the epoch marker is not a txn).
        let wait_zxid = l
            .outstanding
            .last_key_value()
            .map(|(z, _)| *z)
            .or(l.to_be_applied.back().map(|p| p.zxid))
            .unwrap_or(self.applied)
            .max(self.applied);
        let round = self.leader_ping_round();
        if let Some(l) = self.leader_mut() {
            l.syncs.push(PendingSync {
                token,
                learner,
                wait_zxid,
                round,
            });
        }
        self.leader_check_syncs();
        Ok(())
    }

    /// Sends a PING to every learner past sync start; returns the round number. Replies to it
    /// prove the learner still followed us after this moment (FIFO links).
    fn leader_ping_round(&mut self) -> u64 {
        let Some(l) = self.leader_mut() else { return 0 };
        l.ping_round += 1;
        let round = l.ping_round;
        let zxid = l.last_proposed;
        let mut targets = Vec::new();
        for (sid, p) in l.peers.iter_mut() {
            if p.phase >= PeerPhase::AwaitNewLeaderAck {
                if p.phase == PeerPhase::Active {
                    p.ping_rounds.push_back(round);
                }
                targets.push(*sid);
            }
        }
        for sid in targets {
            self.send(sid, packets::bare(packet::PING, zxid));
        }
        round
    }

    /// Answers syncs whose proposals are applied and whose ping round a quorum confirmed.
    pub(crate) fn leader_check_syncs(&mut self) {
        let me = self.cfg.my_sid;
        let applied = self.applied;
        let Some(l) = self.leader() else { return };
        if l.syncs.is_empty() {
            return;
        }
        let mut done = Vec::new();
        let mut keep = Vec::new();
        for s in &l.syncs {
            let mut confirmed: BTreeSet<Sid> = l
                .peers
                .iter()
                .filter(|(_, p)| {
                    !p.observer && p.phase == PeerPhase::Active && p.confirmed_round >= s.round
                })
                .map(|(sid, _)| *sid)
                .collect();
            confirmed.insert(me);
            if applied >= s.wait_zxid && self.cfg.verifier.contains_quorum(&confirmed) {
                done.push(s.clone());
            } else {
                keep.push(s.clone());
            }
        }
        if done.is_empty() {
            return;
        }
        if let Some(l) = self.leader_mut() {
            l.syncs = keep;
        }
        for s in done {
            match s.learner {
                Some(sid) => {
                    if self.leader().is_some_and(|l| l.peers.contains_key(&sid)) {
                        self.send(sid, packets::sync());
                    }
                }
                None => self.out().sync_replies.push(SyncReply { token: s.token }),
            }
        }
    }

    pub(crate) fn leader_tick(&mut self) {
        let now = self.now_ms;
        let sync_ms = self.cfg.sync_ms();
        let half_tick = (self.cfg.tick_ms / 2).max(1);
        let Some(l) = self.leader() else { return };
        if !l.is_established() && now >= l.phase_deadline {
            let what = match l.phase {
                Phase::Discovery => "a quorum of FOLLOWERINFO",
                Phase::EpochAck => "a quorum of ACKEPOCH",
                _ => "a quorum of NEWLEADER ACKs",
            };
            self.go_looking(Alert::LeadershipLost {
                reason: format!("timeout waiting for {what}"),
            });
            return;
        }
        let mut drop = Vec::new();
        for (sid, p) in &l.peers {
            let late_ack = p.phase >= PeerPhase::AwaitStartup
                && p.unacked.front().is_some_and(|u| u.1 + sync_ms < now);
            if now > p.deadline_ms || late_ack {
                drop.push(*sid);
            }
        }
        for sid in drop {
            self.leader_drop_peer(sid, Some("learner missed its deadline".into()));
        }
        let Some(l) = self.leader_mut() else { return };
        if l.is_established() && now >= l.next_ping_ms {
            l.next_ping_ms = now + half_tick;
            self.leader_ping_round();
        }
        let me = self.cfg.my_sid;
        let Some(l) = self.leader() else { return };
        if l.is_established() {
            let mut synced: BTreeSet<Sid> = l
                .peers
                .iter()
                .filter(|(_, p)| !p.observer)
                .map(|(s, _)| *s)
                .collect();
            synced.insert(me);
            if !self.cfg.verifier.contains_quorum(&synced) {
                self.go_looking(Alert::LeadershipLost {
                    reason: format!(
                        "not sufficient followers synced, only synced with sids: {synced:?}"
                    ),
                });
            }
        }
    }

    pub(crate) fn leader_drop_peer(&mut self, sid: Sid, error: Option<String>) {
        let Some(l) = self.leader_mut() else { return };
        if l.peers.remove(&sid).is_some() {
            self.out().disconnect.push(sid);
            if let Some(error) = error {
                self.out()
                    .alerts
                    .push(Alert::PeerError { peer: sid, error });
            }
        }
    }
}
