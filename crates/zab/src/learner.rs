//! The learner half (follower and observer): FOLLOWERINFO/OBSERVERINFO, LEADERINFO → ACKEPOCH
//! after acceptedEpoch is durable, DIFF/TRUNC/SNAP, the sync buffer, NEWLEADER → ACK only after
//! every sync txn and currentEpoch are durable, UPTODATE, then broadcast (log, ACK after fsync,
//! apply on COMMIT in order), pings, SYNC and REVALIDATE.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use jute::quorum::{packet, QuorumPacket};
use tracing::{info, warn};

use crate::core::{ReleaseItem, RoleState, Zab};
use crate::error::StepError;
use crate::packets::{self, PacketError, SessionTouch};
use crate::ready::{Alert, Proposal, SessionEvent, SnapshotInstall, SyncReply};
use crate::zxid::{epoch_of, make_zxid, Zxid};
use crate::Sid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LearnerPhase {
    AwaitLeaderInfo,
    AwaitSyncHead,
    Syncing,
    AwaitUpToDate,
    Serving,
}

/// Learner state.
#[derive(Debug)]
pub(crate) struct Learner {
    pub(crate) leader: Sid,
    pub(crate) observer: bool,
    phase: LearnerPhase,
    new_epoch: i64,
    /// Proposals received and not yet committed, oldest first.
    pub(crate) pending: VecDeque<Proposal>,
    /// Txns received before NEWLEADER, not yet handed to the log.
    sync_buffer: Vec<Proposal>,
    /// Highest zxid the leader's sync showed as committed (becomes known-committed at UPTODATE).
    sync_mark: Zxid,
    last_queued: Zxid,
    to_ack: Vec<Zxid>,
    /// Zxid of the snapshot installed in this sync, if SNAP.
    snap_zxid: Option<Zxid>,
    deadline_ms: u64,
    pub(crate) touches: BTreeMap<i64, i32>,
    leader_config: Option<Bytes>,
}

impl Learner {
    pub(crate) fn is_serving(&self) -> bool {
        self.phase == LearnerPhase::Serving
    }

    /// True once everything in `pending` has been handed to the log (after NEWLEADER).
    pub(crate) fn logged(&self) -> bool {
        self.phase >= LearnerPhase::AwaitUpToDate
    }
}

fn malformed(from: Sid, e: PacketError) -> StepError {
    StepError::Malformed {
        from,
        kind: e.kind,
        reason: e.reason,
    }
}

fn payload(from: Sid, p: &QuorumPacket) -> Result<Proposal, StepError> {
    match &p.data {
        Some(d) => Ok(Proposal {
            zxid: p.zxid,
            payload: d.clone(),
        }),
        None => Err(StepError::Malformed {
            from,
            kind: packets::type_name(p.packet_type),
            reason: "missing txn".into(),
        }),
    }
}

impl Zab {
    fn learner_mut(&mut self) -> Option<&mut Learner> {
        match &mut self.role {
            RoleState::Learning(l) => Some(l),
            _ => None,
        }
    }

    fn learner(&self) -> Option<&Learner> {
        match &self.role {
            RoleState::Learning(l) => Some(l),
            _ => None,
        }
    }

    /// The NEWLEADER config string of our leader, once received.
    pub fn leader_config(&self) -> Option<&[u8]> {
        self.learner().and_then(|l| l.leader_config.as_deref())
    }

    pub(crate) fn start_learning(&mut self, leader: Sid, observer: bool) {
        let l = Learner {
            leader,
            observer,
            phase: LearnerPhase::AwaitLeaderInfo,
            new_epoch: -1,
            pending: VecDeque::new(),
            sync_buffer: Vec::new(),
            sync_mark: -1,
            last_queued: self.last_appended,
            to_ack: Vec::new(),
            snap_zxid: None,
            deadline_ms: self.now_ms + self.cfg.init_ms(),
            touches: BTreeMap::new(),
            leader_config: None,
        };
        self.role = RoleState::Learning(Box::new(l));
        let p = packets::learner_info(
            observer,
            self.accepted_epoch,
            self.cfg.my_sid,
            self.cfg.config_version(),
        );
        self.send(leader, p);
    }

    pub(crate) fn learner_step(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        if self.learner().map(|l| l.leader) != Some(from) {
            return Err(StepError::UnknownPeer(from));
        }
        let r = self.learner_step_inner(from, p);
        self.learner_fail(&r);
        r
    }

    fn learner_fail(&mut self, r: &Result<(), StepError>) {
        if let Err(e) = r {
            let leader = self.learner().map(|l| l.leader).unwrap_or(-1);
            self.out().alerts.push(Alert::PeerError {
                peer: leader,
                error: e.to_string(),
            });
            self.go_looking(Alert::LeaderLost {
                reason: e.to_string(),
            });
        }
    }

    fn learner_step_inner(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        let now = self.now_ms;
        let (init, sync) = (self.cfg.init_ms(), self.cfg.sync_ms());
        let Some(l) = self.learner_mut() else {
            return Err(StepError::UnknownPeer(from));
        };
        let phase = l.phase;
        let observer = l.observer;
        l.deadline_ms = now
            + if phase >= LearnerPhase::AwaitUpToDate {
                sync
            } else {
                init
            };
        use LearnerPhase::*;
        match (phase, p.packet_type) {
            (AwaitLeaderInfo, packet::LEADERINFO) => self.learner_on_leader_info(from, p),
            (AwaitSyncHead, packet::DIFF) => {
                let last = self.last_appended;
                if let Some(l) = self.learner_mut() {
                    l.sync_mark = last;
                    l.phase = Syncing;
                }
                info!(zxid = p.zxid, "learner: DIFF");
                Ok(())
            }
            (AwaitSyncHead, packet::TRUNC) => self.learner_on_trunc(from, p.zxid),
            (AwaitSyncHead, packet::SNAP) => Err(StepError::Malformed {
                from,
                kind: "SNAP",
                reason: "SNAP must be passed with its body to step_snapshot".into(),
            }),
            (Syncing, packet::PROPOSAL) => {
                let prop = payload(from, &p)?;
                let l = self.learner_mut().ok_or(StepError::UnknownPeer(from))?;
                if prop.zxid <= l.last_queued {
                    return Err(StepError::ProposalOutOfOrder {
                        got: prop.zxid,
                        last: l.last_queued,
                    });
                }
                l.last_queued = prop.zxid;
                // A Java leader's snapshot is fuzzy: txns it already holds may still follow as
                // PROPOSAL/COMMIT. They stay pending (so COMMITs match) but are not logged again.
                let in_snapshot = matches!(l.snap_zxid, Some(s) if prop.zxid <= s);
                if !in_snapshot {
                    l.sync_buffer.push(prop.clone());
                }
                l.pending.push_back(prop);
                Ok(())
            }
            (AwaitUpToDate | Serving, packet::PROPOSAL) => {
                if observer {
                    warn!("observer: ignoring PROPOSAL");
                    return Ok(());
                }
                let prop = payload(from, &p)?;
                if prop.zxid <= self.last_appended {
                    return Err(StepError::ProposalOutOfOrder {
                        got: prop.zxid,
                        last: self.last_appended,
                    });
                }
                let z = prop.zxid;
                self.append(prop.clone());
                let l = self.learner_mut().ok_or(StepError::UnknownPeer(from))?;
                l.last_queued = z;
                l.pending.push_back(prop);
                if phase == Serving {
                    self.send_after_persist(from, packets::bare(packet::ACK, z));
                } else {
                    l.to_ack.push(z);
                }
                Ok(())
            }
            (Syncing | AwaitUpToDate, packet::COMMIT | packet::COMMITANDACTIVATE) => {
                self.learner_on_commit(p.zxid)
            }
            (Serving, packet::COMMIT | packet::COMMITANDACTIVATE) => {
                if observer {
                    warn!("observer: ignoring COMMIT");
                    return Ok(());
                }
                self.learner_on_commit(p.zxid)
            }
            (Syncing | AwaitUpToDate | Serving, packet::INFORM | packet::INFORMANDACTIVATE) => {
                if !observer && phase == Serving {
                    warn!("follower: ignoring INFORM");
                    return Ok(());
                }
                let mut prop = payload(from, &p)?;
                if p.packet_type == packet::INFORMANDACTIVATE {
                    if prop.payload.len() < 8 {
                        return Err(StepError::Malformed {
                            from,
                            kind: "INFORMANDACTIVATE",
                            reason: "short data".into(),
                        });
                    }
                    prop.payload = prop.payload.slice(8..);
                }
                self.learner_on_inform(from, prop)
            }
            (Syncing, packet::NEWLEADER) => self.learner_on_newleader(from, p),
            (AwaitUpToDate, packet::UPTODATE) => {
                self.learner_on_uptodate(from);
                Ok(())
            }
            (Serving, packet::PING) => {
                let l = self.learner_mut().ok_or(StepError::UnknownPeer(from))?;
                let touches: Vec<SessionTouch> = std::mem::take(&mut l.touches)
                    .into_iter()
                    .map(|(session_id, timeout)| SessionTouch {
                        session_id,
                        timeout,
                    })
                    .collect();
                self.send_now(from, packets::ping_reply(p.zxid, &touches));
                Ok(())
            }
            (_, packet::PING) => Ok(()), // Java ignores pings until UPTODATE.
            (Serving, packet::SYNC) => {
                self.release
                    .push_back(ReleaseItem::Sync(SyncReply { token: None }));
                self.process_release();
                Ok(())
            }
            (Serving, packet::REVALIDATE) => {
                let (session_id, valid) =
                    packets::parse_revalidate_answer(&p).map_err(|e| malformed(from, e))?;
                self.out()
                    .session_events
                    .push(SessionEvent::RevalidateAnswer { session_id, valid });
                Ok(())
            }
            (phase, t) => Err(StepError::Unexpected {
                from,
                packet_type: t,
                phase: match phase {
                    AwaitLeaderInfo => "awaiting LEADERINFO",
                    AwaitSyncHead => "awaiting DIFF/TRUNC/SNAP",
                    Syncing => "syncing",
                    AwaitUpToDate => "awaiting UPTODATE",
                    Serving => "broadcast",
                },
            }),
        }
    }

    fn learner_on_leader_info(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        packets::parse_leader_info(&p).map_err(|e| malformed(from, e))?;
        let e = epoch_of(p.zxid);
        let last = self.last_appended;
        if e > self.accepted_epoch {
            self.accepted_epoch = e;
            self.out().epoch_writes.accepted = Some(e);
            let cur = self.current_epoch as i32;
            self.send_after_persist(from, packets::ack_epoch(last, cur));
        } else if e == self.accepted_epoch {
            self.send_after_persist(from, packets::ack_epoch(last, -1));
        } else {
            return Err(StepError::StaleEpoch {
                leader: from,
                proposed: e,
                accepted: self.accepted_epoch,
            });
        }
        if let Some(l) = self.learner_mut() {
            l.new_epoch = e;
            l.phase = LearnerPhase::AwaitSyncHead;
        }
        Ok(())
    }

    /// The ferrokeeper safety rule: never drop a txn we know to be committed.
    fn check_not_below_committed(&mut self, from: Sid, asked: Zxid) -> Result<(), StepError> {
        if self.cfg.refuse_to_drop_committed && asked < self.known_committed {
            let committed = self.known_committed;
            self.out().alerts.push(Alert::RefusedToDropCommitted {
                leader: from,
                asked,
                committed,
            });
            return Err(StepError::WouldDropCommitted { asked, committed });
        }
        Ok(())
    }

    fn learner_on_trunc(&mut self, from: Sid, z: Zxid) -> Result<(), StepError> {
        self.check_not_below_committed(from, z)?;
        if z < self.last_appended {
            warn!(to = z, "learner: TRUNC");
            self.seal_for_reset();
            self.out().truncate_to = Some(z);
            self.last_appended = z;
            self.clamp_log_end(z);
            self.applied = z;
            self.release.clear();
            self.committed_log.truncate_after(z);
            self.known_committed = self.known_committed.min(z);
        }
        let last = self.last_appended;
        if let Some(l) = self.learner_mut() {
            l.sync_mark = last;
            l.last_queued = last;
            l.phase = LearnerPhase::Syncing;
        }
        Ok(())
    }

    pub(crate) fn learner_snapshot(
        &mut self,
        from: Sid,
        zxid: Zxid,
        data: Bytes,
    ) -> Result<(), StepError> {
        let r = self.learner_snapshot_inner(from, zxid, data);
        self.learner_fail(&r);
        r
    }

    fn learner_snapshot_inner(
        &mut self,
        from: Sid,
        zxid: Zxid,
        data: Bytes,
    ) -> Result<(), StepError> {
        let Some(l) = self.learner() else {
            return Err(StepError::UnknownPeer(from));
        };
        if l.leader != from {
            return Err(StepError::UnknownPeer(from));
        }
        if l.phase != LearnerPhase::AwaitSyncHead {
            return Err(StepError::Unexpected {
                from,
                packet_type: packet::SNAP,
                phase: "not awaiting a sync head",
            });
        }
        self.check_not_below_committed(from, zxid)?;
        info!(zxid, "learner: SNAP");
        self.seal_for_reset();
        self.out().snapshot_install = Some(SnapshotInstall { zxid, data });
        self.last_appended = zxid;
        self.clamp_log_end(zxid);
        self.applied = zxid;
        self.release.clear();
        self.committed_log.clear();
        self.known_committed = self.known_committed.min(zxid);
        let now = self.now_ms + self.cfg.init_ms();
        if let Some(l) = self.learner_mut() {
            l.sync_mark = zxid;
            l.last_queued = -1;
            l.snap_zxid = Some(zxid);
            l.phase = LearnerPhase::Syncing;
            l.deadline_ms = now;
        }
        Ok(())
    }

    fn learner_on_commit(&mut self, z: Zxid) -> Result<(), StepError> {
        let Some(l) = self.learner_mut() else {
            return Ok(());
        };
        let head = l.pending.front().map(|p| p.zxid);
        match head {
            Some(h) if h == z => {
                let Some(p) = l.pending.pop_front() else {
                    return Ok(());
                };
                // Before UPTODATE the leader is not established: what it calls committed is only
                // its history, handed to the tree like a log replay (no client answers).
                if l.phase == LearnerPhase::Serving {
                    self.known_committed = self.known_committed.max(z);
                    self.release.push_back(ReleaseItem::Apply(p));
                } else {
                    l.sync_mark = l.sync_mark.max(z);
                    self.release.push_back(ReleaseItem::Replay(p));
                }
                self.process_release();
                Ok(())
            }
            None => {
                warn!(zxid = z, "learner: COMMIT without a pending txn; ignored");
                Ok(())
            }
            Some(h) => Err(StepError::CommitOutOfOrder {
                got: z,
                expected: Some(h),
            }),
        }
    }

    fn learner_on_inform(&mut self, from: Sid, prop: Proposal) -> Result<(), StepError> {
        let Some(l) = self.learner() else {
            return Err(StepError::UnknownPeer(from));
        };
        let phase = l.phase;
        let in_snapshot =
            phase == LearnerPhase::Syncing && l.snap_zxid.is_some_and(|s| prop.zxid <= s);
        let last = if in_snapshot {
            l.last_queued
        } else {
            l.last_queued.max(self.last_appended)
        };
        if prop.zxid <= last {
            return Err(StepError::ProposalOutOfOrder {
                got: prop.zxid,
                last,
            });
        }
        let z = prop.zxid;
        if in_snapshot {
            // Already in the (fuzzy) snapshot we installed.
            if let Some(l) = self.learner_mut() {
                l.last_queued = z;
            }
            return Ok(());
        }
        if phase == LearnerPhase::Syncing {
            if let Some(l) = self.learner_mut() {
                l.sync_buffer.push(prop.clone());
                l.last_queued = z;
                l.sync_mark = l.sync_mark.max(z);
            }
        } else {
            self.append(prop.clone());
            if let Some(l) = self.learner_mut() {
                l.last_queued = z;
                if phase == LearnerPhase::Serving {
                    self.known_committed = self.known_committed.max(z);
                } else {
                    l.sync_mark = l.sync_mark.max(z);
                }
            }
        }
        if phase == LearnerPhase::Serving {
            self.release.push_back(ReleaseItem::Apply(prop));
        } else {
            self.release.push_back(ReleaseItem::Replay(prop));
        }
        self.process_release();
        Ok(())
    }

    /// NEWLEADER: log every txn received during sync, then currentEpoch, and only then ACK
    /// (ZOOKEEPER-3911 / 4643 / 4646: appends durable → currentEpoch → ACK, all via Ready).
    fn learner_on_newleader(&mut self, from: Sid, p: QuorumPacket) -> Result<(), StepError> {
        let Some(l) = self.learner_mut() else {
            return Err(StepError::UnknownPeer(from));
        };
        let e = l.new_epoch;
        if p.zxid != make_zxid(e, 0) {
            return Err(StepError::Malformed {
                from,
                kind: "NEWLEADER",
                reason: format!("zxid {:#x} for epoch {e}", p.zxid),
            });
        }
        l.leader_config = p.data.clone();
        let buffered = std::mem::take(&mut l.sync_buffer);
        let observer = l.observer;
        if !observer {
            l.to_ack = buffered
                .iter()
                .filter(|b| l.pending.iter().any(|q| q.zxid == b.zxid))
                .map(|b| b.zxid)
                .collect();
        }
        l.phase = LearnerPhase::AwaitUpToDate;
        for b in buffered {
            self.append(b);
        }
        self.current_epoch = e;
        self.out().epoch_writes.current = Some(e);
        self.send_after_persist(from, packets::bare(packet::ACK, make_zxid(e, 0)));
        info!(epoch = e, "learner: NEWLEADER acknowledged once durable");
        Ok(())
    }

    fn learner_on_uptodate(&mut self, from: Sid) {
        let Some(l) = self.learner_mut() else { return };
        l.phase = LearnerPhase::Serving;
        let e = l.new_epoch;
        let mark = l.sync_mark;
        let to_ack = std::mem::take(&mut l.to_ack);
        self.known_committed = self.known_committed.max(mark.min(self.last_appended));
        self.out().serving = Some(true);
        self.send_after_persist(from, packets::bare(packet::ACK, make_zxid(e, 0)));
        for z in to_ack {
            self.send_after_persist(from, packets::bare(packet::ACK, z));
        }
        info!(epoch = e, "learner: UPTODATE, serving");
    }

    pub(crate) fn learner_tick(&mut self) {
        let now = self.now_ms;
        let Some(l) = self.learner() else { return };
        if now > l.deadline_ms {
            let phase = l.phase;
            self.go_looking(Alert::LeaderLost {
                reason: format!("leader silent too long ({phase:?})"),
            });
        }
    }

    pub(crate) fn learner_forward(&mut self, p: QuorumPacket) -> bool {
        let Some(l) = self.learner() else {
            return false;
        };
        if !l.is_serving() {
            return false;
        }
        let leader = l.leader;
        self.send_now(leader, p);
        true
    }
}
