//! [`Ready`]: everything one batch of steps asks the driver to do, split so that an ACK can never
//! leave before the write it acknowledges is durable (ZOOKEEPER-3911, -4643, -4646).
//!
//! Driver contract, per Ready, in this order:
//! 1. `role` / `serving`: informational (update election vote, open/close the client port).
//! 2. `truncate_to` or `snapshot_install`: truncate the txn log (then reload the tree from the log)
//!    or replace the tree with the snapshot and persist it as `snapshot.<zxid>`.
//! 3. `log_appends`: append to the txn log, in order.
//! 4. `epoch_writes`: after the appends above are fsynced, write acceptedEpoch then currentEpoch
//!    atomically.
//! 5. `log_replay` then `committed`: apply to the data tree in order (both already durable
//!    locally). `log_replay` entries are logged txns not known to be committed that Java would
//!    replay into the tree when a role ends (`fastForwardDataBase`): apply them, but never answer
//!    a client for them. Every `log_replay` entry of a Ready precedes its `committed` entries.
//! 6. `sync_replies`, `session_events`, `forwarded_requests`, `alerts`: handle (after step 5).
//! 7. `messages`: send in order (a [`Body::Snapshot`] means: stream the tree serialization now).
//! 8. `disconnect`: close those peer connections (after sending `messages`).
//! 9. Once 2–4 are durable: call `Zab::on_persisted(number)`, then send `messages_after_persist`
//!    (Readys strictly in number order; call `on_persisted` even for a Ready with nothing to write).

use bytes::Bytes;
use jute::quorum::QuorumPacket;

use crate::packets::ForwardedRequest;
use crate::zxid::Zxid;
use crate::Sid;

/// Sequence number of a [`Ready`], reported back through `on_persisted`.
pub type ReadyNumber = u64;

/// One txn as proposed, logged and committed: its zxid and its TxnEntry bytes as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Txn zxid (also inside the payload's TxnHeader).
    pub zxid: Zxid,
    /// Serialized `TxnHeader` + record (+ digest): PROPOSAL data and log entry payload.
    pub payload: Bytes,
}

/// What to put on a peer's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A quorum packet.
    Packet(QuorumPacket),
    /// Leader only: write `SNAP(zxid)`, then the data tree serialization (sessions, ACL cache,
    /// nodes), then the string `"BenWasHere"`. The tree must be the one after applying every
    /// `committed` entry of this Ready and the ones before it, and no later one (its last
    /// processed zxid is `zxid`) — also when the message sits in `messages_after_persist` and
    /// is sent after later Readys were applied: capture the tree when the Ready is handed out.
    Snapshot {
        /// Zxid of the SNAP packet (the tree's last processed zxid).
        zxid: Zxid,
    },
}

/// An outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Destination sid.
    pub to: Sid,
    /// What to send.
    pub body: Body,
}

impl Outbound {
    /// The packet, if this is one.
    pub fn packet(&self) -> Option<&QuorumPacket> {
        match &self.body {
            Body::Packet(p) => Some(p),
            Body::Snapshot { .. } => None,
        }
    }
}

/// Epoch files to write (atomically: tmp, fsync, rename), acceptedEpoch first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EpochWrites {
    /// New acceptedEpoch.
    pub accepted: Option<i64>,
    /// New currentEpoch (only after this Ready's log appends are durable).
    pub current: Option<i64>,
}

impl EpochWrites {
    /// True when nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.accepted.is_none() && self.current.is_none()
    }
}

/// A snapshot received with SNAP: the body exactly as streamed (sessions, tree, signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInstall {
    /// The SNAP packet's zxid: the tree's last processed zxid.
    pub zxid: Zxid,
    /// The snapshot stream, opaque to the core.
    pub data: Bytes,
}

/// The peer's role, as reported on a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No leader; run leader election.
    Looking,
    /// Leading (discovery until `serving` turns true).
    Leading,
    /// Following `leader`.
    Following {
        /// Leader sid.
        leader: Sid,
    },
    /// Observing `leader`.
    Observing {
        /// Leader sid.
        leader: Sid,
    },
}

/// Session-related work for the driver's session tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Leader: a learner reported this session alive (PING reply); touch it.
    Touch {
        /// Reporting learner.
        from: Sid,
        /// Session.
        session_id: i64,
        /// Timeout, ms.
        timeout: i32,
    },
    /// Leader: a learner asks whether the session is valid; answer with `Zab::answer_revalidate`.
    RevalidateRequest {
        /// Asking learner.
        from: Sid,
        /// Zxid of the request packet, echoed in the answer.
        zxid: Zxid,
        /// Session.
        session_id: i64,
        /// Timeout, ms.
        timeout: i32,
    },
    /// Learner: the leader's answer to our REVALIDATE.
    RevalidateAnswer {
        /// Session.
        session_id: i64,
        /// Whether the session is still valid.
        valid: bool,
    },
}

/// A finished `sync`: answer the client's sync now (every earlier commit has been handed out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncReply {
    /// Leader-local syncs: the token given to `Zab::sync`. Learners: `None`, meaning the oldest
    /// sync this server forwarded.
    pub token: Option<u64>,
}

/// Noteworthy conditions worth a log line or a metric; the core has already acted on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The ferrokeeper safety rule refused a TRUNC / SNAP below our committed history.
    RefusedToDropCommitted {
        /// Leader that asked.
        leader: Sid,
        /// Zxid it asked for.
        asked: Zxid,
        /// Our last known-committed zxid.
        committed: Zxid,
    },
    /// A peer link was closed because of a protocol error.
    PeerError {
        /// Peer.
        peer: Sid,
        /// Description.
        error: String,
    },
    /// Leadership was given up (timeout, lost quorum, rollover).
    LeadershipLost {
        /// Why.
        reason: String,
    },
    /// The leader was abandoned (timeout, disconnect, error).
    LeaderLost {
        /// Why.
        reason: String,
    },
}

/// One batch of work for the driver; see the module docs for the order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ready {
    /// Pass to `on_persisted` once every write below is durable.
    pub number: ReadyNumber,
    /// New role, if it changed.
    pub role: Option<Role>,
    /// Serving clients started (`true`) or stopped (`false`).
    pub serving: Option<bool>,
    /// Truncate the log after this zxid and reload the tree from it (TRUNC sync).
    pub truncate_to: Option<Zxid>,
    /// Replace the tree with this snapshot and persist it (SNAP sync).
    pub snapshot_install: Option<SnapshotInstall>,
    /// Append to the txn log, in order.
    pub log_appends: Vec<Proposal>,
    /// Epoch files, written after the appends are durable.
    pub epoch_writes: EpochWrites,
    /// Logged but not known-committed txns to apply before `committed` (no client replies).
    pub log_replay: Vec<Proposal>,
    /// Committed: apply to the tree in zxid order and answer their clients.
    pub committed: Vec<Proposal>,
    /// May be sent at once.
    pub messages: Vec<Outbound>,
    /// Sent only after `on_persisted(number)` (ACK, ACKEPOCH, NEWLEADER ACK, LEADERINFO).
    pub messages_after_persist: Vec<Outbound>,
    /// Close these peer connections.
    pub disconnect: Vec<Sid>,
    /// Leader: REQUESTs from learners, for the prep stage, in arrival order.
    pub forwarded_requests: Vec<ForwardedRequest>,
    /// Session touches and revalidation.
    pub session_events: Vec<SessionEvent>,
    /// Syncs that may now be answered.
    pub sync_replies: Vec<SyncReply>,
    /// Errors and notable events.
    pub alerts: Vec<Alert>,
}

impl Ready {
    /// True when the Ready carries nothing at all.
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.serving.is_none()
            && self.truncate_to.is_none()
            && self.snapshot_install.is_none()
            && self.log_appends.is_empty()
            && self.epoch_writes.is_empty()
            && self.committed.is_empty()
            && self.log_replay.is_empty()
            && self.messages.is_empty()
            && self.messages_after_persist.is_empty()
            && self.disconnect.is_empty()
            && self.forwarded_requests.is_empty()
            && self.session_events.is_empty()
            && self.sync_replies.is_empty()
            && self.alerts.is_empty()
    }

    /// True when something must be made durable before `on_persisted`.
    pub fn needs_persist(&self) -> bool {
        self.truncate_to.is_some()
            || self.snapshot_install.is_some()
            || !self.log_appends.is_empty()
            || !self.epoch_writes.is_empty()
    }
}
