//! Fast Leader Election (`FastLeaderElection.lookForLeader` + its `WorkerReceiver`) as a sans-IO state
//! machine.
//!
//! The driver feeds in decoded notifications ([`Election::on_message`]) and the passage of time
//! ([`Election::on_tick`], with `now_ms` from any monotonic clock) and ships whatever
//! [`Election::take_outbox`] returns. Notifications to ourselves are looped back internally, as Java's
//! `QuorumCnxManager` does. Nothing here reads a clock, touches a socket or draws a random number, so
//! the same code runs under tokio and in the deterministic simulator.
//!
//! # Java behaviour reproduced
//!
//! * Round handling: a higher round resets the vote set and re-derives the proposal from the better of
//!   the notification and our *initial* vote; lower rounds are ignored (but answered, see below).
//! * Notifications with zxid -1, and all LOOKING notifications when our own zxid is -1, are ignored.
//! * Senders or proposed leaders that are not voters are ignored; messages *from* non-voters are
//!   answered at once with our current vote.
//! * Quorum of equal LOOKING votes ⇒ `finalizeWait` (200 ms, restarted by every notification that does
//!   not beat the proposal, which is dropped) ⇒ LEADING / FOLLOWING / OBSERVING.
//! * FOLLOWING/LEADING notifications: same-round set and the out-of-election set, each requiring a
//!   quorum *and* `checkLeader` (the leader itself must have said LEADING, or, if the leader is us, the
//!   round must be ours).
//! * Poll timeout: with no notification for 200 ms (doubling up to 60 s) the proposal is re-sent.
//! * Replies: a LOOKING sender in an older round gets our proposal; once settled, a LOOKING sender gets
//!   our current vote and role ([`reply_when_settled`]).
//!
//! # ferrokeeper's safe-bootstrap rule
//!
//! With [`ElectionConfig::require_all_voters_for_empty_history`] (default `true`), a LOOKING quorum for
//! a proposal whose zxid shows an empty data tree ([`crate::vote::is_empty_history`]) is not enough:
//! *every* voter of the configuration must have sent a matching vote in this round. Two fresh nodes of
//! a three-node configuration therefore cannot elect an empty leader while the third node (which may
//! hold the only copy of the data, e.g. a StatefulSet scaled from 1 to 3) is down; they wait for it.
//! The price is that a brand-new ensemble needs all its voters up for its first election. The rule only
//! guards this node's own decision in the LOOKING phase; joining an already established leader via
//! FOLLOWING/LEADING notifications is unaffected (their zxid is the leader's zxid at *its* election, not
//! its current history). A mixed ensemble where Java nodes form the majority gets Java's behaviour.
//! Setting the option to `false` gives exactly Java's behaviour.
//!
//! # Differences from Java, on purpose
//!
//! * On a poll timeout Java re-sends only if "some queue is empty" and otherwise asks the connection
//!   manager to reconnect; here the proposal is always re-sent and the driver's per-peer latest-wins
//!   queue plus its reconnect logic play that part.
//! * Reconfiguration (adopting a newer config from a notification) is not supported: received config
//!   strings are carried but not acted on, like a Java node with `reconfigEnabled=false`.

use std::collections::{BTreeMap, VecDeque};

use tracing::{debug, trace};

use crate::notification::{Notification, ServerState};
use crate::quorum_verifier::QuorumVerifier;
use crate::vote::{is_empty_history, total_order_predicate, Sid, Vote, Zxid, NO_VOTE};

/// Java's `finalizeWait` and default `minNotificationInterval`.
pub const FINALIZE_WAIT_MS: u64 = 200;
/// Java's default `maxNotificationInterval`.
pub const MAX_NOTIFICATION_INTERVAL_MS: u64 = 60_000;
/// Messages buffered before [`Election::start`] (Java's receive queue capacity; oldest dropped).
const PENDING_CAPACITY: usize = 100;

/// Static inputs of the election.
#[derive(Clone, Debug)]
pub struct ElectionConfig {
    /// This node's sid.
    pub my_sid: Sid,
    /// Current configuration (voters, observers, config string).
    pub verifier: QuorumVerifier,
    /// ferrokeeper's safe-bootstrap rule (see the module doc); `false` = Java's behaviour.
    pub require_all_voters_for_empty_history: bool,
    /// First poll timeout (`zookeeper.fastleader.minNotificationInterval`, 200 ms).
    pub min_notification_interval_ms: u64,
    /// Poll timeout cap (`zookeeper.fastleader.maxNotificationInterval`, 60 s).
    pub max_notification_interval_ms: u64,
    /// Quiet period after reaching a quorum before deciding (200 ms).
    pub finalize_wait_ms: u64,
}

impl ElectionConfig {
    /// Defaults as in Java, with the safe-bootstrap rule on.
    pub fn new(my_sid: Sid, verifier: QuorumVerifier) -> Self {
        ElectionConfig {
            my_sid,
            verifier,
            require_all_voters_for_empty_history: true,
            min_notification_interval_ms: FINALIZE_WAIT_MS,
            max_notification_interval_ms: MAX_NOTIFICATION_INTERVAL_MS,
            finalize_wait_ms: FINALIZE_WAIT_MS,
        }
    }
}

/// A vote as stored in Java's `recvset`/`outofelection`, with the message version that changes how
/// settled votes compare (`Vote.equals`).
#[derive(Clone, Copy, Debug)]
struct Recorded {
    vote: Vote,
    version: i32,
}

/// Java `Vote.equals`: LOOKING on either side compares leader, zxid, round and peer epoch; two settled
/// votes compare leader and peer epoch, or only the leader when exactly one side is a version-0 vote.
fn java_vote_eq(a: &Recorded, b: &Recorded) -> bool {
    let (x, y) = (&a.vote, &b.vote);
    if x.state == ServerState::Looking || y.state == ServerState::Looking {
        x.leader == y.leader
            && x.zxid == y.zxid
            && x.election_epoch == y.election_epoch
            && x.peer_epoch == y.peer_epoch
    } else if (a.version > 0) ^ (b.version > 0) {
        x.leader == y.leader
    } else {
        x.leader == y.leader && x.peer_epoch == y.peer_epoch
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Constructed; messages are buffered until [`Election::start`].
    Idle,
    /// Inside `lookForLeader`.
    Looking {
        /// When the next poll times out (no notification since `poll_deadline - poll_interval`).
        poll_deadline_ms: u64,
        /// Current poll timeout (doubles on every timeout).
        poll_interval_ms: u64,
        /// Set while in finalizeWait: decide at this time unless a better vote arrives.
        finalize_deadline_ms: Option<u64>,
    },
    /// Decided; the node runs its role until the driver calls [`Election::start`] again.
    Settled,
}

/// The proposal triple `lookForLeader` keeps (`proposedLeader`, `proposedZxid`, `proposedEpoch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Proposal {
    leader: Sid,
    zxid: Zxid,
    peer_epoch: i64,
}

impl Proposal {
    fn rank(&self) -> (i64, Zxid, Sid) {
        (self.peer_epoch, self.zxid, self.leader)
    }
}

/// One node's Fast Leader Election. Long-lived like Java's `FastLeaderElection`: the logical clock
/// survives from one election to the next.
#[derive(Debug)]
pub struct Election {
    cfg: ElectionConfig,
    config_string: String,
    current_epoch: i64,
    last_logged_zxid: Zxid,
    logical_clock: i64,
    proposal: Proposal,
    current_vote: Vote,
    state: ServerState,
    phase: Phase,
    recvset: BTreeMap<Sid, Recorded>,
    out_of_election: BTreeMap<Sid, Recorded>,
    pending: VecDeque<(Sid, Notification)>,
    loopback: VecDeque<Notification>,
    outbox: Vec<(Sid, Notification)>,
    outcome: Option<Vote>,
}

impl Election {
    /// Creates an idle election for a node whose `currentEpoch` file says `current_epoch` and whose
    /// data tree ends at `last_logged_zxid`. Call [`Election::start`] to begin.
    pub fn new(cfg: ElectionConfig, current_epoch: i64, last_logged_zxid: Zxid) -> Self {
        let config_string = cfg.verifier.config_string();
        let current_vote = Vote {
            leader: cfg.my_sid,
            zxid: last_logged_zxid,
            election_epoch: -1,
            peer_epoch: current_epoch,
            state: ServerState::Looking,
        };
        Election {
            cfg,
            config_string,
            current_epoch,
            last_logged_zxid,
            logical_clock: 0,
            proposal: Proposal {
                leader: -1,
                zxid: -1,
                peer_epoch: 0,
            },
            current_vote,
            state: ServerState::Looking,
            phase: Phase::Idle,
            recvset: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            pending: VecDeque::new(),
            loopback: VecDeque::new(),
            outbox: Vec::new(),
            outcome: None,
        }
    }

    /// Updates the history used for the *next* [`Election::start`] (after the node synced with a leader
    /// and later lost it).
    pub fn set_history(&mut self, current_epoch: i64, last_logged_zxid: Zxid) {
        self.current_epoch = current_epoch;
        self.last_logged_zxid = last_logged_zxid;
    }

    /// Begins a new election (`lookForLeader`): bumps the logical clock, proposes our initial vote and
    /// broadcasts it to every voter (ourselves included). Also used to go back to LOOKING after
    /// following or leading; calling it while already looking abandons the current round.
    pub fn start(&mut self, now_ms: u64) {
        self.logical_clock += 1;
        self.proposal = self.initial_proposal();
        self.state = ServerState::Looking;
        self.outcome = None;
        self.recvset.clear();
        self.out_of_election.clear();
        self.loopback.clear();
        self.phase = Phase::Looking {
            poll_deadline_ms: now_ms.saturating_add(self.cfg.min_notification_interval_ms),
            poll_interval_ms: self.cfg.min_notification_interval_ms,
            finalize_deadline_ms: None,
        };
        debug!(
            my_sid = self.cfg.my_sid,
            round = self.logical_clock,
            zxid = self.proposal.zxid,
            "new election"
        );
        self.send_notifications();
        let pending = std::mem::take(&mut self.pending);
        for (from, n) in pending {
            self.receive(now_ms, from, n);
        }
        self.drain_loopback(now_ms);
    }

    /// Handles one decoded notification from `from` (the sid the connection handshake announced).
    /// Our own notifications are looped back internally; the driver never passes `from == my_sid`
    /// (the handshake rejects such connections, see [`crate::handshake::Decision::RejectSameSid`]).
    pub fn on_message(&mut self, now_ms: u64, from: Sid, n: Notification) {
        self.receive(now_ms, from, n);
        self.drain_loopback(now_ms);
    }

    /// Advances time: fires the poll timeout (re-send) or ends finalizeWait (decide).
    pub fn on_tick(&mut self, now_ms: u64) {
        let Phase::Looking {
            poll_deadline_ms,
            poll_interval_ms,
            finalize_deadline_ms,
        } = self.phase
        else {
            return;
        };
        if let Some(deadline) = finalize_deadline_ms {
            if now_ms >= deadline {
                let p = self.proposal;
                self.finish(p.leader, p.zxid, self.logical_clock, p.peer_epoch);
            }
            return;
        }
        if now_ms >= poll_deadline_ms {
            let next = poll_interval_ms
                .saturating_mul(2)
                .min(self.cfg.max_notification_interval_ms);
            trace!(my_sid = self.cfg.my_sid, next, "notification timeout");
            self.phase = Phase::Looking {
                poll_deadline_ms: now_ms.saturating_add(next),
                poll_interval_ms: next,
                finalize_deadline_ms: None,
            };
            self.send_notifications();
            self.drain_loopback(now_ms);
        }
    }

    /// When the driver must call [`Election::on_tick`] next (`None` when not looking).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        match self.phase {
            Phase::Looking {
                finalize_deadline_ms: Some(d),
                ..
            } => Some(d),
            Phase::Looking {
                poll_deadline_ms, ..
            } => Some(poll_deadline_ms),
            _ => None,
        }
    }

    /// Messages to send, in order, as `(recipient sid, notification)`; never addressed to ourselves.
    pub fn take_outbox(&mut self) -> Vec<(Sid, Notification)> {
        std::mem::take(&mut self.outbox)
    }

    /// The decided vote, with `state` = this node's role (LEADING / FOLLOWING / OBSERVING).
    pub fn outcome(&self) -> Option<Vote> {
        self.outcome
    }

    /// Current role: LOOKING until decided.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// True while inside an election (after `start`, before a decision).
    pub fn is_looking(&self) -> bool {
        matches!(self.phase, Phase::Looking { .. })
    }

    /// Election round (`logicalclock`).
    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    /// Current proposal (state LOOKING, round = logical clock).
    pub fn proposal(&self) -> Vote {
        Vote {
            leader: self.proposal.leader,
            zxid: self.proposal.zxid,
            election_epoch: self.logical_clock,
            peer_epoch: self.proposal.peer_epoch,
            state: ServerState::Looking,
        }
    }

    /// `QuorumPeer.currentVote`: what we answer LOOKING peers with once settled.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// Java's `updateElectionVote`: after synchronising, the new epoch replaces the vote's peer epoch
    /// so every member of the ensemble reports the same vote to late joiners.
    pub fn update_current_vote_peer_epoch(&mut self, peer_epoch: i64) {
        self.current_vote.peer_epoch = peer_epoch;
        if let Some(o) = &mut self.outcome {
            o.peer_epoch = peer_epoch;
        }
    }

    /// The config string sent in every notification.
    pub fn config_string(&self) -> &str {
        &self.config_string
    }

    /// The configuration.
    pub fn config(&self) -> &ElectionConfig {
        &self.cfg
    }

    fn is_voter(&self, sid: Sid) -> bool {
        self.cfg.verifier.is_voter(sid)
    }

    /// Initial vote: ourselves with our history, or Java's `Long.MIN_VALUE` markers for a non-voter.
    fn initial_proposal(&self) -> Proposal {
        if self.is_voter(self.cfg.my_sid) {
            Proposal {
                leader: self.cfg.my_sid,
                zxid: self.last_logged_zxid,
                peer_epoch: self.current_epoch,
            }
        } else {
            Proposal {
                leader: NO_VOTE,
                zxid: NO_VOTE,
                peer_epoch: NO_VOTE,
            }
        }
    }

    fn beats(&self, n: &Notification, cur: (i64, Zxid, Sid)) -> bool {
        total_order_predicate(
            (n.peer_epoch, n.zxid, n.leader),
            cur,
            self.is_voter(n.leader),
        )
    }

    fn send(&mut self, to: Sid, n: Notification) {
        if to == self.cfg.my_sid {
            self.loopback.push_back(n);
        } else {
            self.outbox.push((to, n));
        }
    }

    fn send_notifications(&mut self) {
        let voters: Vec<Sid> = self.cfg.verifier.voters().collect();
        for sid in voters {
            let n = Notification::from_vote(
                ServerState::Looking,
                &self.proposal(),
                self.logical_clock,
                &self.config_string,
            );
            self.send(sid, n);
        }
    }

    fn drain_loopback(&mut self, now_ms: u64) {
        while let Some(n) = self.loopback.pop_front() {
            let me = self.cfg.my_sid;
            self.receive(now_ms, me, n);
        }
    }

    /// Java's `WorkerReceiver`: answer what must be answered, queue the rest for `lookForLeader`.
    fn receive(&mut self, now_ms: u64, from: Sid, n: Notification) {
        if from == self.cfg.my_sid && !self.is_voter(from) {
            // A non-voter never sends to itself; answering would loop back forever.
            return;
        }
        if !self.is_voter(from) {
            let reply = Notification::from_vote(
                self.state,
                &self.current_vote,
                self.logical_clock,
                &self.config_string,
            );
            self.send(from, reply);
            return;
        }
        match self.phase {
            Phase::Idle => {
                if self.pending.len() == PENDING_CAPACITY {
                    self.pending.pop_front();
                }
                self.pending.push_back((from, n));
            }
            Phase::Looking { .. } => {
                if n.state == ServerState::Looking && n.election_epoch < self.logical_clock {
                    let reply = Notification::from_vote(
                        ServerState::Looking,
                        &self.proposal(),
                        self.logical_clock,
                        &self.config_string,
                    );
                    self.send(from, reply);
                }
                self.process(now_ms, from, &n);
            }
            Phase::Settled => {
                if let Some(reply) =
                    reply_when_settled(&self.current_vote, self.state, &n, &self.config_string)
                {
                    self.send(from, reply);
                }
            }
        }
    }

    /// One iteration of `lookForLeader`'s loop for a received notification.
    fn process(&mut self, now_ms: u64, from: Sid, n: &Notification) {
        let Phase::Looking {
            poll_interval_ms,
            finalize_deadline_ms,
            ..
        } = self.phase
        else {
            return;
        };
        // Any notification taken from the queue restarts the poll wait.
        self.phase = Phase::Looking {
            poll_deadline_ms: now_ms.saturating_add(poll_interval_ms),
            poll_interval_ms,
            finalize_deadline_ms,
        };
        if finalize_deadline_ms.is_some() {
            if self.beats(n, self.proposal.rank()) {
                // Java pushes it back and re-enters the main loop: process it normally.
                self.set_finalize(None);
            } else {
                // Drained and discarded; the quiet period starts again.
                self.set_finalize(Some(now_ms.saturating_add(self.cfg.finalize_wait_ms)));
                return;
            }
        }
        if !self.is_voter(n.leader) {
            debug!(from, leader = n.leader, "ignoring vote for a non-voter");
            return;
        }
        match n.state {
            ServerState::Looking => self.process_looking(now_ms, from, n),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.process_settled_peer(from, n),
        }
    }

    fn set_finalize(&mut self, deadline: Option<u64>) {
        if let Phase::Looking {
            poll_deadline_ms,
            poll_interval_ms,
            ..
        } = self.phase
        {
            self.phase = Phase::Looking {
                poll_deadline_ms,
                poll_interval_ms,
                finalize_deadline_ms: deadline,
            };
        }
    }

    fn process_looking(&mut self, now_ms: u64, from: Sid, n: &Notification) {
        let initial = self.initial_proposal();
        if initial.zxid == -1 || n.zxid == -1 {
            return;
        }
        let theirs = Proposal {
            leader: n.leader,
            zxid: n.zxid,
            peer_epoch: n.peer_epoch,
        };
        if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            self.recvset.clear();
            self.proposal = if self.beats(n, initial.rank()) {
                theirs
            } else {
                initial
            };
            self.send_notifications();
        } else if n.election_epoch < self.logical_clock {
            return;
        } else if self.beats(n, self.proposal.rank()) {
            self.proposal = theirs;
            self.send_notifications();
        }
        self.recvset.insert(
            from,
            Recorded {
                vote: n.vote_as(ServerState::Looking),
                version: 0,
            },
        );
        let target = Recorded {
            vote: self.proposal(),
            version: 0,
        };
        let acks = acks_for(&self.recvset, &target);
        if self.cfg.verifier.contains_quorum(&acks) && self.bootstrap_allows(&acks) {
            trace!(
                my_sid = self.cfg.my_sid,
                ?acks,
                "quorum reached, finalize wait"
            );
            self.set_finalize(Some(now_ms.saturating_add(self.cfg.finalize_wait_ms)));
        }
    }

    /// The safe-bootstrap rule: an empty-history proposal needs every voter's matching vote.
    fn bootstrap_allows(&self, acks: &[Sid]) -> bool {
        if !self.cfg.require_all_voters_for_empty_history || !is_empty_history(self.proposal.zxid) {
            return true;
        }
        let ok = self.cfg.verifier.contains_all_voters(acks);
        if !ok {
            debug!(
                my_sid = self.cfg.my_sid,
                ?acks,
                "empty-history leader needs every voter; waiting"
            );
        }
        ok
    }

    fn process_settled_peer(&mut self, from: Sid, n: &Notification) {
        let target = Recorded {
            vote: n.vote(),
            version: n.version,
        };
        if n.election_epoch == self.logical_clock {
            self.recvset.insert(
                from,
                Recorded {
                    vote: n.vote(),
                    version: 0,
                },
            );
            let acks = acks_for(&self.recvset, &target);
            if self.cfg.verifier.contains_quorum(&acks)
                && self.check_leader(&self.recvset, n.leader, n.election_epoch)
            {
                self.finish(n.leader, n.zxid, n.election_epoch, n.peer_epoch);
                return;
            }
        }
        self.out_of_election.insert(from, target);
        let acks = acks_for(&self.out_of_election, &target);
        if self.cfg.verifier.contains_quorum(&acks)
            && self.check_leader(&self.out_of_election, n.leader, n.election_epoch)
        {
            self.logical_clock = n.election_epoch;
            self.finish(n.leader, n.zxid, n.election_epoch, n.peer_epoch);
        }
    }

    /// Java `checkLeader`: a leader other than us must itself have told us it is LEADING; if it is us,
    /// the votes must be from our current round.
    fn check_leader(&self, votes: &BTreeMap<Sid, Recorded>, leader: Sid, round: i64) -> bool {
        if leader != self.cfg.my_sid {
            votes
                .get(&leader)
                .is_some_and(|r| r.vote.state == ServerState::Leading)
        } else {
            self.logical_clock == round
        }
    }

    fn finish(&mut self, leader: Sid, zxid: Zxid, round: i64, peer_epoch: i64) {
        let state = if leader == self.cfg.my_sid {
            ServerState::Leading
        } else if self.is_voter(self.cfg.my_sid) {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        let vote = Vote {
            leader,
            zxid,
            election_epoch: round,
            peer_epoch,
            state,
        };
        debug!(my_sid = self.cfg.my_sid, ?vote, "election decided");
        self.state = state;
        self.current_vote = vote;
        self.outcome = Some(vote);
        self.phase = Phase::Settled;
        // Java's leaveInstance clears the receive queue.
        self.loopback.clear();
    }
}

fn acks_for(votes: &BTreeMap<Sid, Recorded>, target: &Recorded) -> Vec<Sid> {
    votes
        .iter()
        .filter(|(_, r)| java_vote_eq(r, target))
        .map(|(sid, _)| *sid)
        .collect()
}

impl Notification {
    fn vote_as(&self, state: ServerState) -> Vote {
        Vote {
            state,
            ..self.vote()
        }
    }
}

/// What a node that is not LOOKING answers to a notification (Java's receiver): a LOOKING sender gets
/// our current vote, its round and our role so it can join us; anything else gets no answer. Usable
/// by the driver directly while following or leading.
pub fn reply_when_settled(
    current_vote: &Vote,
    my_state: ServerState,
    incoming: &Notification,
    config_string: &str,
) -> Option<Notification> {
    if my_state == ServerState::Looking || incoming.state != ServerState::Looking {
        return None;
    }
    Some(Notification::from_vote(
        my_state,
        current_vote,
        current_vote.election_epoch,
        config_string,
    ))
}

#[cfg(test)]
mod tests;
