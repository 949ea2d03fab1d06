//! Static inputs of the core: who we are, the voting config, timing limits, and what the driver
//! recovered from disk at startup.

use election::QuorumVerifier;

use crate::ready::Proposal;
use crate::zxid::Zxid;
use crate::Sid;

/// Configuration of one ZAB peer.
#[derive(Debug, Clone)]
pub struct ZabConfig {
    /// Our server id (`myid`).
    pub my_sid: Sid,
    /// The voting configuration (majority quorums).
    pub verifier: QuorumVerifier,
    /// `tickTime`, ms.
    pub tick_ms: u64,
    /// `initLimit`, ticks: discovery and sync deadlines.
    pub init_limit: u64,
    /// `syncLimit`, ticks: liveness deadline after sync.
    pub sync_limit: u64,
    /// NEWLEADER data (Java `QuorumVerifier.toString`); defaults to `verifier.config_string()`.
    pub config_string: String,
    /// How many recent committed proposals the leader keeps for DIFF (`zookeeper.commitLogCount`).
    pub committed_log_capacity: usize,
    /// ferrokeeper safety rule: refuse a TRUNC/SNAP below our last known-committed zxid.
    pub refuse_to_drop_committed: bool,
}

impl ZabConfig {
    /// Defaults as Java's: tickTime 2000, initLimit 10, syncLimit 5, 500 committed proposals.
    pub fn new(my_sid: Sid, verifier: QuorumVerifier) -> ZabConfig {
        let config_string = verifier.config_string();
        ZabConfig {
            my_sid,
            verifier,
            tick_ms: 2000,
            init_limit: 10,
            sync_limit: 5,
            config_string,
            committed_log_capacity: 500,
            refuse_to_drop_committed: true,
        }
    }

    /// The config version sent in LearnerInfo.
    pub fn config_version(&self) -> i64 {
        self.verifier.version()
    }

    pub(crate) fn init_ms(&self) -> u64 {
        self.init_limit.saturating_mul(self.tick_ms)
    }

    pub(crate) fn sync_ms(&self) -> u64 {
        self.sync_limit.saturating_mul(self.tick_ms)
    }
}

/// What the driver recovered from disk: epoch files, the log end, and the recent log tail.
///
/// The driver's data tree must already reflect every durable log entry (Java replays the whole
/// log at startup), so `last_logged_zxid` is also the tree's last processed zxid.
#[derive(Debug, Clone, Default)]
pub struct DiskState {
    /// `acceptedEpoch` file.
    pub accepted_epoch: i64,
    /// `currentEpoch` file.
    pub current_epoch: i64,
    /// Zxid of the last durable log entry (or of the newest snapshot if the log is empty).
    pub last_logged_zxid: Zxid,
    /// A zxid known to be committed (a lower bound is fine; 0 when unknown).
    pub known_committed_zxid: Zxid,
    /// The last few hundred logged proposals, oldest first, for DIFF sync if we lead.
    pub recent: Vec<Proposal>,
}
