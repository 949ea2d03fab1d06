//! Scripted single-node and small-cluster tests of the election state machine; the randomized
//! multi-node simulation lives in `tests/simulation.rs`.

use super::*;
use crate::quorum_verifier::{LearnerRole, QuorumMember, ServerAddress};

fn verifier(voters: &[Sid], observers: &[Sid]) -> QuorumVerifier {
    let member = |sid: Sid, role| QuorumMember {
        sid,
        addresses: vec![ServerAddress {
            host: "127.0.0.1".into(),
            quorum_port: 2000 + sid as u16,
            election_port: 3000 + sid as u16,
        }],
        role,
        client: None,
    };
    let mut m: Vec<QuorumMember> = voters
        .iter()
        .map(|s| member(*s, LearnerRole::Participant))
        .collect();
    m.extend(observers.iter().map(|s| member(*s, LearnerRole::Observer)));
    QuorumVerifier::new(m, 0).expect("valid test config")
}

fn election(my_sid: Sid, voters: &[Sid], epoch: i64, zxid: Zxid, safe: bool) -> Election {
    let mut cfg = ElectionConfig::new(my_sid, verifier(voters, &[]));
    cfg.require_all_voters_for_empty_history = safe;
    Election::new(cfg, epoch, zxid)
}

fn looking(leader: Sid, zxid: Zxid, round: i64, peer_epoch: i64) -> Notification {
    note(ServerState::Looking, leader, zxid, round, peer_epoch)
}

fn note(state: ServerState, leader: Sid, zxid: Zxid, round: i64, peer_epoch: i64) -> Notification {
    Notification {
        state,
        leader,
        zxid,
        election_epoch: round,
        peer_epoch,
        version: 2,
        config: Vec::new(),
    }
}

fn recipients(out: &[(Sid, Notification)]) -> Vec<Sid> {
    out.iter().map(|(s, _)| *s).collect()
}

#[test]
fn start_broadcasts_initial_vote_to_other_voters() {
    let mut e = election(2, &[1, 2, 3], 4, 0x4_0000_0007, true);
    assert!(e.take_outbox().is_empty());
    e.start(0);
    let out = e.take_outbox();
    assert_eq!(recipients(&out), vec![1, 3]);
    for (_, n) in &out {
        assert_eq!(n.state, ServerState::Looking);
        assert_eq!(
            (n.leader, n.zxid, n.election_epoch, n.peer_epoch),
            (2, 0x4_0000_0007, 1, 4)
        );
        assert_eq!(n.config_str(), e.config_string());
    }
    assert_eq!(e.logical_clock(), 1);
    assert_eq!(e.next_deadline_ms(), Some(200));
}

#[test]
fn single_voter_elects_itself_after_finalize_wait() {
    let mut e = election(1, &[1], 0, 5, true);
    e.start(1000);
    assert!(e.outcome().is_none());
    assert_eq!(e.next_deadline_ms(), Some(1200));
    e.on_tick(1199);
    assert!(e.outcome().is_none());
    e.on_tick(1200);
    let v = e.outcome().expect("decided");
    assert_eq!(
        (v.leader, v.zxid, v.election_epoch, v.state),
        (1, 5, 1, ServerState::Leading)
    );
    assert_eq!(e.state(), ServerState::Leading);
    assert_eq!(e.next_deadline_ms(), None);
}

#[test]
fn adopts_better_vote_and_follows_after_quorum() {
    let mut e = election(1, &[1, 2, 3], 1, 10, true);
    e.start(0);
    e.take_outbox();
    // Sid 3 has a higher zxid: adopt and re-broadcast.
    e.on_message(5, 3, looking(3, 20, 1, 1));
    let out = e.take_outbox();
    assert_eq!(recipients(&out), vec![2, 3]);
    assert_eq!(out[0].1.leader, 3);
    // Own loopback vote + 3's vote = quorum of 3 ⇒ finalize wait started.
    assert_eq!(e.next_deadline_ms(), Some(205));
    e.on_tick(205);
    let v = e.outcome().expect("decided");
    assert_eq!((v.leader, v.state), (3, ServerState::Following));
}

#[test]
fn worse_vote_does_not_change_proposal_but_counts_only_if_equal() {
    let mut e = election(3, &[1, 2, 3], 1, 10, true);
    e.start(0);
    e.take_outbox();
    e.on_message(1, 1, looking(1, 10, 1, 1));
    assert!(e.take_outbox().is_empty());
    assert_eq!(e.proposal().leader, 3);
    // Only our own vote supports 3: no finalize deadline yet (poll deadline instead).
    assert_eq!(e.next_deadline_ms(), Some(201));
    e.on_message(2, 2, looking(3, 10, 1, 1));
    assert_eq!(e.next_deadline_ms(), Some(202));
    e.on_tick(202);
    assert_eq!(e.outcome().map(|v| v.state), Some(ServerState::Leading));
}

#[test]
fn finalize_wait_is_restarted_by_non_better_and_aborted_by_better_votes() {
    let mut e = election(2, &[1, 2, 3], 1, 10, true);
    e.start(0);
    e.on_message(10, 1, looking(2, 10, 1, 1));
    assert_eq!(e.next_deadline_ms(), Some(210));
    // An equal/worse vote is discarded and restarts the quiet period.
    e.on_message(100, 1, looking(1, 5, 1, 1));
    assert_eq!(e.next_deadline_ms(), Some(300));
    // A better vote aborts finalization and is processed normally.
    e.take_outbox();
    e.on_message(150, 3, looking(3, 10, 1, 1));
    assert_eq!(e.proposal().leader, 3);
    assert!(!e.take_outbox().is_empty());
    // Now 2 (us, loopback) and 3 support 3.
    assert_eq!(e.next_deadline_ms(), Some(350));
    e.on_tick(350);
    assert_eq!(e.outcome().map(|v| v.leader), Some(3));
}

#[test]
fn zxid_minus_one_is_ignored() {
    let mut e = election(1, &[1, 2, 3], 1, 10, false);
    e.start(0);
    e.take_outbox();
    e.on_message(1, 3, looking(3, -1, 1, 9));
    assert_eq!(e.proposal().leader, 1);
    assert!(e.take_outbox().is_empty());
    // And a node that itself has zxid -1 ignores every LOOKING notification.
    let mut f = election(1, &[1, 2, 3], 1, -1, false);
    f.start(0);
    f.take_outbox();
    f.on_message(1, 3, looking(3, 50, 1, 9));
    assert_eq!(f.proposal().leader, 1);
}

#[test]
fn higher_round_catch_up_uses_initial_vote_not_old_proposal() {
    // Five voters so that two agreeing votes do not start finalizeWait (which would drop worse votes).
    let mut e = election(1, &[1, 2, 3, 4, 5], 1, 10, true);
    e.start(0);
    e.on_message(1, 3, looking(3, 30, 1, 1));
    assert_eq!(e.proposal().leader, 3);
    e.take_outbox();
    // Sid 2 is in round 5 with a vote worse than 3's but better than our initial vote.
    e.on_message(2, 2, looking(2, 20, 5, 1));
    assert_eq!(e.logical_clock(), 5);
    assert_eq!(
        e.proposal().leader,
        2,
        "recomputed from (n, initial), not the old proposal"
    );
    let out = e.take_outbox();
    assert!(out.iter().all(|(_, n)| n.election_epoch == 5));
    // A worse vote in a higher round: back to our initial vote.
    e.on_message(3, 3, looking(3, 1, 6, 1));
    assert_eq!((e.logical_clock(), e.proposal().leader), (6, 1));
}

#[test]
fn lagging_looking_sender_gets_our_proposal_and_is_ignored() {
    let mut e = election(1, &[1, 2, 3], 1, 10, true);
    e.start(0);
    e.on_message(1, 2, looking(2, 5, 3, 1));
    assert_eq!(e.logical_clock(), 3);
    e.take_outbox();
    e.on_message(2, 3, looking(3, 99, 2, 1));
    let out = e.take_outbox();
    assert_eq!(recipients(&out), vec![3]);
    assert_eq!((out[0].1.leader, out[0].1.election_epoch), (1, 3));
    assert_eq!(
        e.proposal().leader,
        1,
        "stale round never changes the proposal"
    );
}

#[test]
fn joins_established_leader_only_after_leader_itself_says_leading() {
    let mut e = election(4, &[1, 2, 3, 4, 5], 1, 10, true);
    e.start(0);
    e.take_outbox();
    // Three followers of 5 (round 7): a quorum, but checkLeader fails without 5's LEADING vote.
    for sid in 1..=3 {
        e.on_message(1, sid, note(ServerState::Following, 5, 50, 7, 2));
    }
    assert!(e.outcome().is_none());
    e.on_message(2, 5, note(ServerState::Leading, 5, 50, 7, 2));
    let v = e.outcome().expect("joined");
    assert_eq!(
        (v.leader, v.election_epoch, v.peer_epoch, v.state),
        (5, 7, 2, ServerState::Following)
    );
    assert_eq!(e.logical_clock(), 7);
}

#[test]
fn same_round_settled_votes_count_with_looking_votes() {
    let mut e = election(1, &[1, 2, 3], 1, 10, true);
    e.start(0);
    // 3 is LEADING in our round 1 with a vote equal (leader 3) to what 2 reports as FOLLOWING.
    e.on_message(1, 2, note(ServerState::Following, 3, 30, 1, 1));
    assert!(e.outcome().is_none());
    e.on_message(2, 3, note(ServerState::Leading, 3, 30, 1, 1));
    assert_eq!(
        e.outcome().map(|v| (v.leader, v.state)),
        Some((3, ServerState::Following))
    );
}

#[test]
fn settled_votes_from_different_peer_epochs_do_not_form_a_quorum() {
    let mut e = election(1, &[1, 2, 3], 1, 10, true);
    e.start(0);
    e.on_message(1, 2, note(ServerState::Following, 3, 30, 9, 1));
    e.on_message(2, 3, note(ServerState::Leading, 3, 30, 9, 2));
    assert!(e.outcome().is_none());
}

#[test]
fn version_zero_settled_vote_matches_on_leader_only() {
    let mut e = election(1, &[1, 2, 3], 1, 10, true);
    e.start(0);
    let mut old = note(ServerState::Following, 3, 30, 9, 1);
    old.version = 0;
    e.on_message(1, 2, old);
    e.on_message(2, 3, note(ServerState::Leading, 3, 30, 9, 2));
    assert_eq!(e.outcome().map(|v| v.leader), Some(3));
}

#[test]
fn settled_node_answers_looking_peers_only() {
    let mut e = election(1, &[1], 3, 10, true);
    e.start(0);
    e.on_tick(200);
    assert_eq!(e.state(), ServerState::Leading);
    e.take_outbox();
    let mut e3 = election(1, &[1, 2, 3], 3, 10, true);
    e3.start(0);
    e3.on_message(1, 2, looking(1, 10, 1, 3));
    e3.on_tick(201);
    assert_eq!(e3.state(), ServerState::Leading);
    e3.take_outbox();
    e3.update_current_vote_peer_epoch(4);
    e3.on_message(300, 3, looking(3, 0, 1, 0));
    let out = e3.take_outbox();
    assert_eq!(recipients(&out), vec![3]);
    let r = &out[0].1;
    assert_eq!(
        (r.state, r.leader, r.zxid, r.election_epoch, r.peer_epoch),
        (ServerState::Leading, 1, 10, 1, 4)
    );
    e3.on_message(301, 2, note(ServerState::Following, 1, 10, 1, 4));
    assert!(e3.take_outbox().is_empty());
    assert_eq!(
        reply_when_settled(&e3.current_vote(), ServerState::Looking, r, ""),
        None
    );
}

#[test]
fn non_voter_sender_gets_immediate_reply_and_is_not_counted() {
    let mut cfg = ElectionConfig::new(1, verifier(&[1, 2, 3], &[9]));
    cfg.require_all_voters_for_empty_history = false;
    let mut e = Election::new(cfg, 1, 10);
    e.start(0);
    e.take_outbox();
    e.on_message(1, 9, looking(i64::MIN, i64::MIN, 4, i64::MIN));
    let out = e.take_outbox();
    assert_eq!(recipients(&out), vec![9]);
    assert_eq!(
        (out[0].1.state, out[0].1.leader, out[0].1.election_epoch),
        (ServerState::Looking, 1, 1)
    );
    assert_eq!(e.logical_clock(), 1);
}

#[test]
fn vote_for_non_voter_is_ignored() {
    let mut cfg = ElectionConfig::new(1, verifier(&[1, 2, 3], &[9]));
    cfg.require_all_voters_for_empty_history = false;
    let mut e = Election::new(cfg, 1, 10);
    e.start(0);
    e.take_outbox();
    e.on_message(1, 2, looking(9, 1000, 1, 5));
    e.on_message(1, 3, looking(9, 1000, 1, 5));
    assert_eq!(e.proposal().leader, 1);
    assert!(e.take_outbox().is_empty());
    assert_eq!(e.next_deadline_ms(), Some(201));
}

#[test]
fn poll_timeout_resends_and_backs_off_to_the_cap() {
    let mut e = election(1, &[1, 2, 3], 1, 10, true);
    e.start(0);
    e.take_outbox();
    let mut now = 0;
    let mut intervals = Vec::new();
    for _ in 0..12 {
        let d = e.next_deadline_ms().expect("looking");
        intervals.push(d - now);
        now = d;
        e.on_tick(now);
        assert_eq!(recipients(&e.take_outbox()), vec![2, 3]);
    }
    assert_eq!(
        intervals,
        vec![200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]
    );
    // A received notification restarts the wait with the current interval.
    e.on_message(now + 5, 2, looking(1, 10, 1, 1));
    assert!(e.next_deadline_ms().is_some());
}

#[test]
fn safe_bootstrap_blocks_empty_leader_without_all_voters() {
    for safe in [true, false] {
        let mut e = election(2, &[1, 2, 3], 0, 0, safe);
        e.start(0);
        e.on_message(1, 1, looking(1, 0, 1, 0));
        assert_eq!(e.proposal().leader, 2);
        e.on_message(2, 1, looking(2, 0, 1, 0));
        e.on_tick(10_000);
        if safe {
            assert!(e.outcome().is_none(), "two empty voters of three must wait");
            // The third voter (also empty) shows up with its own, better vote.
            e.on_message(10_001, 3, looking(3, 0, 1, 0));
            assert_eq!(e.proposal().leader, 3);
            e.on_tick(10_300);
            assert!(e.outcome().is_none(), "only 2 and 3 support 3 so far");
            // Once every voter agrees, the election completes.
            e.on_message(10_400, 1, looking(3, 0, 1, 0));
            e.on_tick(10_600);
            assert_eq!(e.outcome().map(|v| v.leader), Some(3));
        } else {
            assert_eq!(e.outcome().map(|v| v.leader), Some(2));
        }
    }
}

#[test]
fn safe_bootstrap_does_not_apply_to_leaders_with_history() {
    let mut e = election(2, &[1, 2, 3], 1, 0x1_0000_0003, true);
    e.start(0);
    e.on_message(1, 1, looking(2, 0x1_0000_0003, 1, 1));
    e.on_tick(201);
    assert_eq!(e.outcome().map(|v| v.state), Some(ServerState::Leading));
}

#[test]
fn observer_learns_leader_from_settled_replies() {
    let qv = verifier(&[1, 2, 3], &[4]);
    let mut o = Election::new(ElectionConfig::new(4, qv), 0, 0);
    o.start(0);
    let out = o.take_outbox();
    assert_eq!(recipients(&out), vec![1, 2, 3]);
    assert_eq!(out[0].1.leader, i64::MIN);
    o.on_message(1, 1, note(ServerState::Following, 3, 7, 1, 1));
    o.on_message(1, 3, note(ServerState::Leading, 3, 7, 1, 1));
    let v = o.outcome().expect("observing");
    assert_eq!((v.leader, v.state), (3, ServerState::Observing));
}

#[test]
fn messages_before_start_are_buffered() {
    let mut e = election(1, &[1, 2, 3], 1, 10, false);
    e.on_message(0, 3, looking(3, 20, 1, 1));
    assert!(e.take_outbox().is_empty());
    e.start(5);
    assert_eq!(e.proposal().leader, 3);
    assert_eq!(e.next_deadline_ms(), Some(205), "quorum of 1 and 3 for 3");
}

#[test]
fn restart_after_settling_bumps_round() {
    let mut e = election(1, &[1], 0, 0, true);
    e.start(0);
    e.on_tick(200);
    assert_eq!(e.state(), ServerState::Leading);
    e.set_history(1, 0x1_0000_0005);
    e.start(1000);
    assert!(e.is_looking());
    assert_eq!(e.logical_clock(), 2);
    assert_eq!(e.proposal().zxid, 0x1_0000_0005);
    e.on_tick(1200);
    assert_eq!(e.outcome().map(|v| v.election_epoch), Some(2));
}

#[test]
fn java_vote_equality_rules() {
    let r = |state, leader, zxid, round, pe, version| Recorded {
        vote: Vote {
            leader,
            zxid,
            election_epoch: round,
            peer_epoch: pe,
            state,
        },
        version,
    };
    use ServerState::*;
    assert!(java_vote_eq(
        &r(Looking, 1, 2, 3, 4, 0),
        &r(Following, 1, 2, 3, 4, 2)
    ));
    assert!(!java_vote_eq(
        &r(Looking, 1, 2, 3, 4, 0),
        &r(Following, 1, 2, 9, 4, 2)
    ));
    assert!(java_vote_eq(
        &r(Leading, 1, 2, 3, 4, 2),
        &r(Following, 1, 9, 9, 4, 2)
    ));
    assert!(!java_vote_eq(
        &r(Leading, 1, 2, 3, 4, 2),
        &r(Following, 1, 2, 3, 5, 2)
    ));
    assert!(java_vote_eq(
        &r(Leading, 1, 2, 3, 4, 0),
        &r(Following, 1, 2, 3, 5, 2)
    ));
    assert!(!java_vote_eq(
        &r(Leading, 1, 2, 3, 4, 0),
        &r(Following, 2, 2, 3, 4, 0)
    ));
}

#[test]
fn observer_ignores_messages_claiming_its_own_sid() {
    let mut o = Election::new(ElectionConfig::new(4, verifier(&[1, 2, 3], &[4])), 0, 0);
    o.start(0);
    o.take_outbox();
    o.on_message(1, 4, looking(1, 5, 1, 0));
    assert!(o.take_outbox().is_empty());
}
