//! Votes and the order in which Fast Leader Election prefers them.
//!
//! A vote names a proposed leader together with the history that leader would bring (its last zxid and
//! the epoch it last accepted). Peers converge by always moving to the "best" vote they have seen, so the
//! order below must be exactly ZooKeeper's or a mixed Java/Rust ensemble could disagree forever.

use std::cmp::Ordering;

use crate::notification::ServerState;

/// Server id (`myid`). Plain `i64` because the wire carries it as a signed Java long and Java uses
/// `Long.MIN_VALUE` as the "no leader" marker in observer votes.
pub type Sid = i64;

/// ZooKeeper transaction id: high 32 bits epoch, low 32 bits counter. `-1` means "unknown history".
pub type Zxid = i64;

/// Marker Java puts in every field of an observer's initial vote (`Long.MIN_VALUE`).
pub const NO_VOTE: i64 = i64::MIN;

/// A vote as exchanged and recorded during an election.
///
/// `state` is the sender's role when the vote was received, or, for [`crate::Election::outcome`], the
/// role this node ended up with (LEADING / FOLLOWING / OBSERVING).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    /// Proposed leader sid.
    pub leader: Sid,
    /// Last zxid of the proposed leader.
    pub zxid: Zxid,
    /// Election round (logical clock) the vote belongs to.
    pub election_epoch: i64,
    /// Accepted epoch of the proposed leader; first key of the vote order.
    pub peer_epoch: i64,
    /// Role of the sender (or of this node for an outcome).
    pub state: ServerState,
}

impl Vote {
    /// The ranking key Java uses (`totalOrderPredicate`): peer epoch, then zxid, then leader sid.
    pub fn rank(&self) -> (i64, Zxid, Sid) {
        (self.peer_epoch, self.zxid, self.leader)
    }

    /// Compares two votes by [`Vote::rank`] only (round and state play no part in preference).
    pub fn cmp_rank(&self, other: &Vote) -> Ordering {
        self.rank().cmp(&other.rank())
    }

    /// True if `zxid` shows a node that never committed anything (fresh data tree, zxid 0) or does not
    /// know its history (-1, or the observer marker). Used by the safe-bootstrap rule.
    pub fn has_empty_history(&self) -> bool {
        is_empty_history(self.zxid)
    }
}

/// True if a zxid describes an empty data tree: 0 (fresh `snapshot.0`), -1 (unknown) or any other
/// negative value. A node that has been through an epoch but committed nothing has `epoch << 32 > 0`
/// and is *not* empty: its epoch already orders it correctly.
pub fn is_empty_history(zxid: Zxid) -> bool {
    zxid <= 0
}

/// Java's `totalOrderPredicate(new, cur)`: does `new` beat `cur`?
///
/// `new_is_voter` is the answer to "does the proposed leader of `new` carry weight in the current
/// configuration"; a vote for a non-voter (observer or unknown sid) never wins, so a Rust node can never
/// be talked into electing an observer.
pub fn total_order_predicate(
    new: (i64, Zxid, Sid),
    cur: (i64, Zxid, Sid),
    new_is_voter: bool,
) -> bool {
    if !new_is_voter {
        return false;
    }
    new > cur
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(leader: Sid, zxid: Zxid, peer_epoch: i64) -> (i64, Zxid, Sid) {
        Vote {
            leader,
            zxid,
            election_epoch: 1,
            peer_epoch,
            state: ServerState::Looking,
        }
        .rank()
    }

    #[test]
    fn higher_peer_epoch_wins_over_higher_zxid_and_sid() {
        assert!(total_order_predicate(
            v(1, 5, 3),
            v(9, 0x7fff_ffff, 2),
            true
        ));
        assert!(!total_order_predicate(
            v(9, 0x7fff_ffff, 2),
            v(1, 5, 3),
            true
        ));
    }

    #[test]
    fn equal_epoch_higher_zxid_wins() {
        assert!(total_order_predicate(v(1, 10, 2), v(3, 9, 2), true));
        assert!(!total_order_predicate(v(3, 9, 2), v(1, 10, 2), true));
    }

    #[test]
    fn equal_epoch_and_zxid_higher_sid_wins() {
        assert!(total_order_predicate(v(3, 10, 2), v(2, 10, 2), true));
        assert!(!total_order_predicate(v(2, 10, 2), v(3, 10, 2), true));
    }

    #[test]
    fn identical_vote_does_not_beat_itself() {
        assert!(!total_order_predicate(v(3, 10, 2), v(3, 10, 2), true));
    }

    #[test]
    fn non_voter_never_wins() {
        assert!(!total_order_predicate(
            v(99, i64::MAX, i64::MAX),
            v(1, 0, 0),
            false
        ));
    }

    #[test]
    fn observer_marker_loses_to_everything() {
        let marker = v(NO_VOTE, NO_VOTE, NO_VOTE);
        assert!(total_order_predicate(v(1, -1, 0), marker, true));
    }

    #[test]
    fn negative_zxid_orders_below_zero() {
        assert!(total_order_predicate(v(1, 0, 0), v(2, -1, 0), true));
    }

    #[test]
    fn empty_history() {
        assert!(is_empty_history(0));
        assert!(is_empty_history(-1));
        assert!(is_empty_history(NO_VOTE));
        assert!(!is_empty_history(1));
        assert!(!is_empty_history(1 << 32));
    }

    #[test]
    fn rank_order_matches_predicate_on_a_grid() {
        let vals = [-1i64, 0, 1, 2];
        for a in vals {
            for b in vals {
                for c in vals {
                    for d in vals {
                        for e in vals {
                            for f in vals {
                                // Spelled out as in the protocol text, independent of tuple order.
                                let (new_e, new_z, new_s) = (a, b, c);
                                let (cur_e, cur_z, cur_s) = (d, e, f);
                                let expected = new_e > cur_e
                                    || (new_e == cur_e
                                        && (new_z > cur_z || (new_z == cur_z && new_s > cur_s)));
                                let got = total_order_predicate(
                                    (new_e, new_z, new_s),
                                    (cur_e, cur_z, cur_s),
                                    true,
                                );
                                assert_eq!(got, expected);
                            }
                        }
                    }
                }
            }
        }
    }
}
