//! Java `LearnerHandler.syncFollower` / `queueCommittedProposals` as a pure function: given the
//! leader's committed log (and optionally older proposals from its txn log), decide DIFF, TRUNC or
//! SNAP for a learner and which PROPOSAL/COMMIT pairs follow, exactly as a Java leader would.

use jute::quorum::{packet, QuorumPacket};
use tracing::{debug, warn};

use crate::packets;
use crate::ready::Proposal;
use crate::zxid::{epoch_of, is_epoch_start, Zxid};

/// How `syncFollower` decided to bring a learner up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncHead {
    /// DIFF(zxid): keep your log, here are the missing txns.
    Diff(Zxid),
    /// TRUNC(zxid): drop your txns after zxid, then the missing txns.
    Trunc(Zxid),
    /// SNAP: a full snapshot.
    Snap,
}

/// Result of [`plan_sync`]: the head packet, the queued PROPOSAL/COMMIT pairs and the zxid the
/// learner will be at (Java's `currentZxid`, the start point for `startForwarding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    /// DIFF / TRUNC / SNAP.
    pub head: SyncHead,
    /// PROPOSAL, COMMIT, PROPOSAL, COMMIT, ... (empty for SNAP).
    pub body: Vec<QuorumPacket>,
    /// Zxid the learner will have reached.
    pub current: Zxid,
}

struct Walker {
    need_op: bool,
    head: Option<SyncHead>,
    body: Vec<QuorumPacket>,
}

impl Walker {
    /// Java `LearnerHandler.queueCommittedProposals`.
    fn queue<'a>(
        &mut self,
        props: impl Iterator<Item = &'a Proposal>,
        peer_last: Zxid,
        max_zxid: Option<Zxid>,
        last_committed: Zxid,
    ) -> Zxid {
        let peer_new_epoch = is_epoch_start(peer_last);
        let mut queued = peer_last;
        let mut prev = -1;
        for p in props {
            if max_zxid.is_some_and(|m| p.zxid > m) {
                break;
            }
            if p.zxid < peer_last {
                prev = p.zxid;
                continue;
            }
            if self.need_op {
                if p.zxid == peer_last {
                    self.head = Some(SyncHead::Diff(last_committed));
                    self.need_op = false;
                    continue;
                }
                if peer_new_epoch {
                    self.head = Some(SyncHead::Diff(last_committed));
                    self.need_op = false;
                } else if p.zxid > peer_last {
                    if epoch_of(p.zxid) != epoch_of(peer_last) {
                        warn!("cannot TRUNC across an epoch boundary; falling back to SNAP");
                        return queued;
                    }
                    self.head = Some(SyncHead::Trunc(prev));
                    self.need_op = false;
                }
            }
            if p.zxid <= queued {
                continue;
            }
            self.body.push(packets::proposal(p.zxid, p.payload.clone()));
            self.body.push(packets::bare(packet::COMMIT, p.zxid));
            queued = p.zxid;
        }
        if self.need_op && peer_new_epoch {
            self.head = Some(SyncHead::Diff(last_committed));
            self.need_op = false;
        }
        queued
    }
}

/// Java `LearnerHandler.syncFollower`: chooses DIFF / TRUNC / SNAP for a learner whose last
/// zxid is `peer_last`, given the leader's committed log, its last processed zxid and optionally
/// older proposals from the txn log.
///
/// `committed` is the in-memory committed log, oldest first (Java's `committedLog`, which a Java
/// leader extends as soon as it applies a commit); `last_processed` its data tree's zxid.
pub fn plan_sync(
    committed: &[Proposal],
    last_processed: Zxid,
    older: Option<&dyn crate::history::OlderProposals>,
    peer_last: Zxid,
) -> SyncPlan {
    let (min_c, max_c) = match (committed.first(), committed.last()) {
        (Some(a), Some(b)) => (a.zxid, b.zxid),
        _ => (last_processed, last_processed),
    };
    let peer_new_epoch = is_epoch_start(peer_last);
    let mut w = Walker {
        need_op: true,
        head: None,
        body: Vec::new(),
    };
    let mut need_snap = true;
    let mut current = peer_last;
    if last_processed == peer_last {
        w.head = Some(SyncHead::Diff(peer_last));
        w.need_op = false;
        need_snap = false;
    } else if peer_last > max_c && !peer_new_epoch {
        w.head = Some(SyncHead::Trunc(max_c));
        current = max_c;
        w.need_op = false;
        need_snap = false;
    } else if max_c >= peer_last && min_c <= peer_last {
        current = w.queue(committed.iter(), peer_last, None, max_c);
        need_snap = false;
    } else if peer_last < min_c {
        if let Some(from_disk) = older.and_then(|o| o.proposals(peer_last, min_c)) {
            if !from_disk.is_empty() {
                current = w.queue(from_disk.iter(), peer_last, Some(min_c), max_c);
                if current < min_c {
                    debug!("gap between txn log and committed log; SNAP");
                    current = peer_last;
                    w.body.clear();
                    w.head = None;
                    w.need_op = true;
                } else {
                    current = w.queue(committed.iter(), current, None, max_c);
                    need_snap = false;
                }
            }
        }
    }
    if need_snap {
        current = last_processed;
    }
    if w.need_op && !need_snap {
        need_snap = true;
    }
    if need_snap {
        return SyncPlan {
            head: SyncHead::Snap,
            body: Vec::new(),
            current,
        };
    }
    SyncPlan {
        head: w.head.unwrap_or(SyncHead::Snap),
        body: w.body,
        current,
    }
}
