//! Errors of the ZAB core. A [`StepError`] ends one peer link (the core has already updated its own
//! state and queued any role change); a [`ProposeError`] is returned to the leader's prep stage.

use thiserror::Error;

use crate::zxid::Zxid;
use crate::Sid;

/// Why a packet from a peer was rejected; the driver should close that peer's connection.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The packet body did not decode as its type requires.
    #[error("malformed {kind} packet from {from}: {reason}")]
    Malformed {
        /// Sender.
        from: Sid,
        /// Packet type name.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A packet type that is not valid in the current phase.
    #[error("unexpected packet type {packet_type} from {from} in phase {phase}")]
    Unexpected {
        /// Sender.
        from: Sid,
        /// Packet type number.
        packet_type: i32,
        /// Phase name.
        phase: &'static str,
    },
    /// A packet from a peer that is not our leader / not a known learner.
    #[error("packet from {0}, which is not a peer of this role")]
    UnknownPeer(Sid),
    /// The leader proposed an epoch older than the one we already accepted.
    #[error("leader {leader} proposed epoch {proposed} < accepted epoch {accepted}")]
    StaleEpoch {
        /// Leader sid.
        leader: Sid,
        /// Epoch in LEADERINFO.
        proposed: i64,
        /// Our acceptedEpoch.
        accepted: i64,
    },
    /// A learner whose history is newer than the leader's (Java: "Follower is ahead of the leader").
    #[error("learner {sid} is ahead of the leader")]
    LearnerAhead {
        /// Learner sid.
        sid: Sid,
    },
    /// A learner with a newer config version than the leader.
    #[error("learner {sid} has config version {theirs:#x} > ours {ours:#x}")]
    ConfigAhead {
        /// Learner sid.
        sid: Sid,
        /// Its version.
        theirs: i64,
        /// Ours.
        ours: i64,
    },
    /// A COMMIT that does not match the head of the pending proposals (Java exits with code 12).
    #[error("COMMIT {got:#x} does not match pending head {expected:?}")]
    CommitOutOfOrder {
        /// Zxid in the COMMIT.
        got: Zxid,
        /// Head of the pending queue, if any.
        expected: Option<Zxid>,
    },
    /// A PROPOSAL whose zxid does not increase.
    #[error("PROPOSAL {got:#x} is not after last logged {last:#x}")]
    ProposalOutOfOrder {
        /// Zxid received.
        got: Zxid,
        /// Last zxid in our log.
        last: Zxid,
    },
    /// The ferrokeeper safety rule: the leader asked to drop a txn we know to be committed.
    #[error(
        "refusing to drop committed history: asked to go to {asked:#x}, committed {committed:#x}"
    )]
    WouldDropCommitted {
        /// Zxid of the TRUNC / SNAP.
        asked: Zxid,
        /// Our last known-committed zxid.
        committed: Zxid,
    },
}

/// Why a proposal was not accepted by the leader.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProposeError {
    /// Not an established leader (not leading, or still synchronising).
    #[error("not an established leader")]
    NotLeader,
    /// The proposal's zxid is not the next one.
    #[error("expected zxid {expected:#x}, got {got:#x}")]
    WrongZxid {
        /// The zxid the leader will assign next.
        expected: Zxid,
        /// The zxid given.
        got: Zxid,
    },
    /// The 32-bit counter would roll over; Java forces a re-election (ZOOKEEPER-1277).
    #[error("zxid counter rollover, leadership given up")]
    Rollover,
}
