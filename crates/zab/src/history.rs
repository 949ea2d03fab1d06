//! The leader's in-memory committed log (Java `ZKDatabase.committedLog`) and the hook through which
//! the driver can serve older proposals from the on-disk txn log.

use std::collections::VecDeque;

use crate::ready::Proposal;
use crate::zxid::Zxid;

/// The last `capacity` committed proposals, oldest first; DIFF sync walks it.
#[derive(Debug, Clone)]
pub struct CommittedLog {
    entries: VecDeque<Proposal>,
    capacity: usize,
}

impl CommittedLog {
    /// An empty log keeping at most `capacity` proposals.
    pub fn new(capacity: usize) -> CommittedLog {
        CommittedLog {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Appends a committed proposal (ignored unless its zxid is newer than the last one).
    pub fn push(&mut self, p: Proposal) {
        if self.entries.back().is_some_and(|b| b.zxid >= p.zxid) {
            return;
        }
        self.entries.push_back(p);
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    /// Drops every proposal after `zxid` (TRUNC).
    pub fn truncate_after(&mut self, zxid: Zxid) {
        while self.entries.back().is_some_and(|b| b.zxid > zxid) {
            self.entries.pop_back();
        }
    }

    /// Forgets everything (SNAP).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Oldest zxid.
    pub fn min_zxid(&self) -> Option<Zxid> {
        self.entries.front().map(|p| p.zxid)
    }

    /// Newest zxid.
    pub fn max_zxid(&self) -> Option<Zxid> {
        self.entries.back().map(|p| p.zxid)
    }

    /// Proposals oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Proposal> {
        self.entries.iter()
    }
}

/// Older committed proposals from the on-disk txn log (Java `getProposalsFromTxnLog`), used when a
/// learner is behind the in-memory committed log.
pub trait OlderProposals {
    /// Proposals in zxid order starting at or before `from` (starting before lets a TRUNC name the
    /// previous zxid) and reaching at least `until` if the log has it. `None` when txn-log sync is
    /// not possible (Java: `snapshotSizeFactor` < 0 or the log would be too large to read).
    fn proposals(&self, from: Zxid, until: Zxid) -> Option<Vec<Proposal>>;
}
