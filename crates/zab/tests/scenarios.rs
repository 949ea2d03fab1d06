//! Scripted scenarios, one per known ZooKeeper bug (named after its JIRA id) plus the ferrokeeper
//! rules, driving the core directly (exact Ready contents) or through the simulator (whole runs).

mod harness;

use bytes::Bytes;
use election::QuorumVerifier;
use harness::{Opts, Sim};
use jute::quorum::{packet, QuorumPacket};
use zab::packets;
use zab::zxid::make_zxid;
use zab::{
    plan_sync, Alert, Body, DiskState, OlderProposals, Outbound, Proposal, Ready, Role, StepError,
    SyncHead, Zab, ZabConfig, Zxid,
};

fn verifier(voters: usize, observers: usize) -> QuorumVerifier {
    let mut s = String::new();
    for sid in 1..=voters + observers {
        let role = if sid > voters {
            "observer"
        } else {
            "participant"
        };
        s.push_str(&format!("server.{sid}=10.0.0.{sid}:2888:3888:{role}\n"));
    }
    s.push_str("version=0");
    QuorumVerifier::parse(&s).expect("valid config")
}

fn cfg(sid: i64, voters: usize) -> ZabConfig {
    let mut c = ZabConfig::new(sid, verifier(voters, 1));
    c.tick_ms = 100;
    c
}

fn prop(z: Zxid) -> Proposal {
    Proposal {
        zxid: z,
        payload: Bytes::copy_from_slice(&z.to_be_bytes()),
    }
}

fn disk(accepted: i64, current: i64, last: Zxid, committed: Zxid) -> DiskState {
    DiskState {
        accepted_epoch: accepted,
        current_epoch: current,
        last_logged_zxid: last,
        known_committed_zxid: committed,
        recent: Vec::new(),
    }
}

fn take(z: &mut Zab) -> Vec<Ready> {
    let mut v = Vec::new();
    while z.has_ready() {
        v.push(z.ready());
    }
    v
}

/// Reports every Ready durable and returns what a correct driver sends, in order.
fn persist(z: &mut Zab, rs: &[Ready]) -> Vec<Outbound> {
    let mut out = Vec::new();
    for r in rs {
        out.extend(r.messages.iter().cloned());
        z.on_persisted(r.number);
        out.extend(r.messages_after_persist.iter().cloned());
    }
    out
}

fn pkt(o: &Outbound) -> (i32, Zxid) {
    match &o.body {
        Body::Packet(p) => (p.packet_type, p.zxid),
        Body::Snapshot { zxid } => (packet::SNAP, *zxid),
    }
}

fn data_pkt(t: i32, z: Zxid) -> QuorumPacket {
    QuorumPacket::new(t, z, Some(Bytes::copy_from_slice(&z.to_be_bytes())))
}

/// A follower (sid 2 of 3) that has answered LEADERINFO for epoch 2 from leader 1.
fn synced_follower(last: Zxid) -> Zab {
    let mut z = Zab::new(cfg(2, 3), disk(1, 1, last, last));
    z.follow(1, 0);
    let rs = take(&mut z);
    assert_eq!(
        pkt(&rs[0].messages[0]),
        (packet::FOLLOWERINFO, make_zxid(1, 0))
    );
    z.step(1, packets::leader_info(2)).expect("LEADERINFO");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z
}

// ----- discovery -------------------------------------------------------------------------------

#[test]
fn leader_epoch_is_max_accepted_plus_one_and_leaderinfo_waits_for_accepted_epoch() {
    let mut l = Zab::new(cfg(1, 3), disk(3, 3, make_zxid(3, 7), 0));
    l.lead(0);
    assert!(take(&mut l)
        .iter()
        .all(|r| r.epoch_writes.accepted.is_none()));
    l.step(2, packets::learner_info(false, 5, 2, 0))
        .expect("FOLLOWERINFO");
    let rs = take(&mut l);
    let r = rs
        .iter()
        .find(|r| r.epoch_writes.accepted.is_some())
        .expect("epoch decided");
    assert_eq!(r.epoch_writes.accepted, Some(6));
    assert!(
        r.messages.is_empty(),
        "LEADERINFO must wait for the acceptedEpoch write"
    );
    let li = r.messages_after_persist[0]
        .packet()
        .expect("packet")
        .clone();
    assert_eq!(li, packets::leader_info(6));
    assert_eq!(li.data.as_deref(), Some(&[0, 1, 0, 0][..]));
}

#[test]
fn follower_ackepoch_after_accepted_epoch_is_durable() {
    let mut z = Zab::new(cfg(2, 3), disk(1, 1, make_zxid(1, 3), 0));
    z.follow(1, 0);
    take(&mut z);
    z.step(1, packets::leader_info(2)).expect("LEADERINFO");
    let rs = take(&mut z);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].epoch_writes.accepted, Some(2));
    assert!(rs[0].messages.is_empty());
    let ack = rs[0].messages_after_persist[0]
        .packet()
        .expect("packet")
        .clone();
    assert_eq!(ack, packets::ack_epoch(make_zxid(1, 3), 1));
}

#[test]
fn follower_ackepoch_minus_one_when_epoch_already_accepted_and_rejects_older() {
    let mut z = Zab::new(cfg(2, 3), disk(2, 1, make_zxid(1, 3), 0));
    z.follow(1, 0);
    take(&mut z);
    z.step(1, packets::leader_info(2)).expect("LEADERINFO");
    let rs = take(&mut z);
    assert!(rs[0].epoch_writes.is_empty());
    let ack = rs[0].messages_after_persist[0]
        .packet()
        .expect("packet")
        .clone();
    assert_eq!(packets::parse_ack_epoch(&ack), Ok(-1));

    let mut z = Zab::new(cfg(2, 3), disk(3, 1, make_zxid(1, 3), 0));
    z.follow(1, 0);
    take(&mut z);
    let e = z.step(1, packets::leader_info(2));
    assert!(matches!(e, Err(StepError::StaleEpoch { .. })));
    assert_eq!(z.role(), Role::Looking);
}

#[test]
fn leader_refuses_learner_with_newer_history() {
    let mut l = Zab::new(cfg(1, 3), disk(1, 1, make_zxid(1, 5), 0));
    l.lead(0);
    l.step(2, packets::learner_info(false, 1, 2, 0))
        .expect("FOLLOWERINFO");
    let rs = take(&mut l);
    persist(&mut l, &rs);
    let r = l.step(2, packets::ack_epoch(make_zxid(1, 9), 1));
    assert_eq!(r, Err(StepError::LearnerAhead { sid: 2 }));
    assert!(take(&mut l).iter().any(|r| r.disconnect.contains(&2)));
}

// ----- the NEWLEADER ACK family ------------------------------------------------------------------

/// Runs a DIFF sync with committed 3, 4 and uncommitted 5; returns the NEWLEADER Ready.
fn diff_sync_until_newleader(z: &mut Zab) -> Ready {
    z.step(1, packets::bare(packet::DIFF, make_zxid(1, 4)))
        .expect("DIFF");
    for c in 3..=4 {
        z.step(1, data_pkt(packet::PROPOSAL, make_zxid(1, c)))
            .expect("PROPOSAL");
        z.step(1, packets::bare(packet::COMMIT, make_zxid(1, c)))
            .expect("COMMIT");
    }
    z.step(1, data_pkt(packet::PROPOSAL, make_zxid(1, 5)))
        .expect("PROPOSAL");
    let before = take(z);
    assert!(before
        .iter()
        .all(|r| r.committed.is_empty() && r.log_replay.is_empty()));
    z.step(1, packets::new_leader(2, "cfg")).expect("NEWLEADER");
    let mut rs = take(z);
    assert_eq!(rs.len(), 1);
    rs.remove(0)
}

#[test]
fn zookeeper_4646_newleader_ack_waits_for_log() {
    let mut z = synced_follower(make_zxid(1, 2));
    let r = diff_sync_until_newleader(&mut z);
    let appended: Vec<Zxid> = r.log_appends.iter().map(|p| p.zxid).collect();
    assert_eq!(
        appended,
        vec![make_zxid(1, 3), make_zxid(1, 4), make_zxid(1, 5)]
    );
    assert!(
        r.messages.is_empty(),
        "nothing may leave before the sync txns are durable"
    );
    assert_eq!(
        pkt(&r.messages_after_persist[0]),
        (packet::ACK, make_zxid(2, 0))
    );
    // Not persisted yet: more input never releases the ACK.
    z.tick(50);
    assert!(take(&mut z)
        .iter()
        .all(|r| r.messages.iter().all(|m| pkt(m).0 != packet::ACK)));
}

#[test]
fn zookeeper_4643_current_epoch_written_with_and_after_the_sync_txns() {
    let mut z = synced_follower(make_zxid(1, 2));
    let r = diff_sync_until_newleader(&mut z);
    // One Ready: the driver fsyncs log_appends, then writes currentEpoch, then sends the ACK.
    assert_eq!(r.epoch_writes.current, Some(2));
    assert_eq!(r.log_appends.len(), 3);
    assert_eq!(z.current_epoch(), 2);
}

#[test]
fn zookeeper_3911_diff_txns_reach_the_tree_only_once_durable() {
    let mut z = synced_follower(make_zxid(1, 2));
    let r = diff_sync_until_newleader(&mut z);
    assert!(r.committed.is_empty() && r.log_replay.is_empty());
    let out = persist(&mut z, &[r]);
    assert_eq!(pkt(&out[0]), (packet::ACK, make_zxid(2, 0)));
    let rs = take(&mut z);
    let replayed: Vec<Zxid> = rs
        .iter()
        .flat_map(|r| r.log_replay.iter().map(|p| p.zxid))
        .collect();
    assert_eq!(replayed, vec![make_zxid(1, 3), make_zxid(1, 4)]);
    assert!(
        rs.iter().all(|r| r.committed.is_empty()),
        "not committed before UPTODATE"
    );
}

#[test]
fn zookeeper_4785_uncommitted_sync_txn_logged_before_newleader_ack() {
    let mut z = synced_follower(make_zxid(1, 2));
    let r = diff_sync_until_newleader(&mut z);
    assert!(r.log_appends.iter().any(|p| p.zxid == make_zxid(1, 5)));
    persist(&mut z, &[r]);
    take(&mut z);
    z.step(1, packets::up_to_date()).expect("UPTODATE");
    let rs = take(&mut z);
    let out = persist(&mut z, &rs);
    let acks: Vec<(i32, Zxid)> = out.iter().map(pkt).collect();
    assert_eq!(
        acks,
        vec![
            (packet::ACK, make_zxid(2, 0)),
            (packet::ACK, make_zxid(1, 5))
        ],
        "ACK of UPTODATE, then the ACK of the logged sync proposal"
    );
    assert!(z.is_serving());
    z.step(1, packets::bare(packet::COMMIT, make_zxid(1, 5)))
        .expect("COMMIT");
    let rs = take(&mut z);
    assert_eq!(rs[0].committed, vec![prop(make_zxid(1, 5))]);
}

#[test]
fn zookeeper_4685_no_proposal_ack_before_newleader_ack() {
    let mut z = synced_follower(make_zxid(1, 2));
    let r1 = diff_sync_until_newleader(&mut z);
    // A live proposal arrives after NEWLEADER, before UPTODATE, and is persisted first.
    z.step(1, data_pkt(packet::PROPOSAL, make_zxid(2, 1)))
        .expect("PROPOSAL");
    let r2 = take(&mut z);
    let mut sent = persist(&mut z, &[r1]);
    sent.extend(persist(&mut z, &r2));
    z.step(1, packets::up_to_date()).expect("UPTODATE");
    let r3 = take(&mut z);
    sent.extend(persist(&mut z, &r3));
    let acks: Vec<Zxid> = sent
        .iter()
        .map(pkt)
        .filter(|p| p.0 == packet::ACK)
        .map(|p| p.1)
        .collect();
    assert_eq!(acks[0], make_zxid(2, 0), "the NEWLEADER ACK comes first");
    assert_eq!(acks[1], make_zxid(2, 0), "then the UPTODATE ACK");
    assert!(acks[2..].contains(&make_zxid(2, 1)));
}

#[test]
fn zookeeper_3642_snapshot_durable_before_newleader_ack() {
    let mut z = synced_follower(make_zxid(1, 2));
    let snap = Bytes::from_static(b"tree");
    z.step_snapshot(1, make_zxid(1, 40), snap.clone())
        .expect("SNAP");
    z.step(1, data_pkt(packet::PROPOSAL, make_zxid(1, 41)))
        .expect("PROPOSAL");
    z.step(1, packets::bare(packet::COMMIT, make_zxid(1, 41)))
        .expect("COMMIT");
    z.step(1, packets::new_leader(2, "cfg")).expect("NEWLEADER");
    let rs = take(&mut z);
    let install = rs
        .iter()
        .position(|r| r.snapshot_install.is_some())
        .expect("install");
    let ack = rs
        .iter()
        .position(|r| {
            r.messages_after_persist
                .iter()
                .any(|m| pkt(m) == (packet::ACK, make_zxid(2, 0)))
        })
        .expect("ack");
    assert!(
        install <= ack,
        "the ACK's Ready is persisted only after the install's"
    );
    assert_eq!(
        rs[install]
            .snapshot_install
            .as_ref()
            .map(|s| s.data.clone()),
        Some(snap)
    );
    assert!(rs
        .iter()
        .all(|r| r.messages.iter().all(|m| pkt(m).0 != packet::ACK)));
    assert_eq!(z.last_logged_zxid(), make_zxid(1, 41));
}

#[test]
fn zookeeper_3104_snapshot_stream_precedes_newleader_and_commits_follow_it() {
    // The simulator checks that every streamed snapshot is exactly the tree at its zxid.
    let mut o = Opts::quiet(3);
    o.committed_log = 3;
    let mut sim = Sim::new(3104, o);
    sim.run_until(5_000, "a leader", |s| s.converged());
    let leader = sim.leader().map(|i| sim.nodes[i].sid).expect("leader");
    let victim = if leader == 3 { 2 } else { 3 };
    sim.crash_sid(victim);
    for _ in 0..30 {
        sim.propose();
        sim.run(3, false);
    }
    let since = sim.now;
    sim.restart(victim);
    sim.opts.propose_per_s = 300.0; // keep committing while the learner syncs
    sim.run_until(5_000, "victim serving", |s| {
        s.node(victim).zab.as_ref().is_some_and(|z| z.is_serving())
    });
    let snap = sim
        .delivered
        .iter()
        .find(|d| d.0 >= since && d.1 == leader && d.2 == victim && d.3 == packet::SNAP)
        .copied()
        .expect("a SNAP sync");
    let nl = sim
        .delivered
        .iter()
        .find(|d| d.0 >= since && d.1 == leader && d.2 == victim && d.3 == packet::NEWLEADER)
        .copied()
        .expect("NEWLEADER");
    assert!(snap.0 <= nl.0);
    sim.settle(20_000);
}

// ----- sync choice (LearnerHandler.syncFollower) ---------------------------------------------------

fn log(range: std::ops::RangeInclusive<i64>, epoch: i64) -> Vec<Proposal> {
    range.map(|c| prop(make_zxid(epoch, c))).collect()
}

#[test]
fn sync_choice_matches_java() {
    let committed = log(3..=8, 1);
    let lp = make_zxid(1, 8);
    let p = plan_sync(&committed, lp, None, lp);
    assert_eq!((p.head, p.body.len()), (SyncHead::Diff(lp), 0));
    let p = plan_sync(&committed, lp, None, make_zxid(1, 9));
    assert_eq!(p.head, SyncHead::Trunc(lp));
    let p = plan_sync(&committed, lp, None, make_zxid(1, 5));
    assert_eq!(p.head, SyncHead::Diff(lp));
    assert_eq!(p.body.len(), 6);
    assert_eq!(
        (p.body[0].packet_type, p.body[0].zxid),
        (packet::PROPOSAL, make_zxid(1, 6))
    );
    assert_eq!(
        (p.body[1].packet_type, p.body[1].zxid),
        (packet::COMMIT, make_zxid(1, 6))
    );
    assert_eq!(p.current, lp);
    // A new-epoch marker from the peer is DIFFed even when not in the log...
    let mut two = committed.clone();
    two.extend(log(1..=3, 2));
    let p = plan_sync(&two, make_zxid(2, 3), None, make_zxid(2, 0));
    assert_eq!(p.head, SyncHead::Diff(make_zxid(2, 3)));
    assert_eq!(p.body[0].zxid, make_zxid(2, 1));
    // ...but one above the leader's whole history is an unhandled case: SNAP.
    let p = plan_sync(&committed, lp, None, make_zxid(2, 0));
    assert_eq!(p.head, SyncHead::Snap);
    // Behind the committed log, no txn log: SNAP.
    let p = plan_sync(&committed, lp, None, make_zxid(1, 1));
    assert_eq!(p.head, SyncHead::Snap);
    assert_eq!(p.current, lp);
    // Empty committed log: min = max = lastProcessed.
    let p = plan_sync(&[], lp, None, make_zxid(1, 2));
    assert_eq!(p.head, SyncHead::Snap);
}

#[test]
fn sync_choice_trunc_to_previous_within_epoch_and_snap_across_epochs() {
    // Peer has 1.5' that the leader never committed; the leader's next is 1.6 → TRUNC(1.4).
    let committed: Vec<Proposal> = [make_zxid(1, 3), make_zxid(1, 4), make_zxid(1, 6)]
        .into_iter()
        .map(prop)
        .collect();
    let p = plan_sync(&committed, make_zxid(1, 6), None, make_zxid(1, 5));
    assert_eq!(p.head, SyncHead::Trunc(make_zxid(1, 4)));
    assert_eq!(p.body[0].zxid, make_zxid(1, 6));
    // Peer at 1.7 (never committed); leader continued in epoch 2 → cannot TRUNC across: SNAP.
    let mut committed = log(3..=6, 1);
    committed.extend(log(1..=3, 2));
    let p = plan_sync(&committed, make_zxid(2, 3), None, make_zxid(1, 7));
    assert_eq!(p.head, SyncHead::Snap);
}

struct Disk(Vec<Proposal>);

impl OlderProposals for Disk {
    fn proposals(&self, from: Zxid, _until: Zxid) -> Option<Vec<Proposal>> {
        Some(self.0.iter().filter(|p| p.zxid >= from).cloned().collect())
    }
}

#[test]
fn zookeeper_2418_txnlog_diff_has_no_gap() {
    let committed = log(10..=20, 1);
    let lp = make_zxid(1, 20);
    let disk = Disk(log(1..=12, 1));
    let p = plan_sync(&committed, lp, Some(&disk), make_zxid(1, 4));
    assert_eq!(p.head, SyncHead::Diff(lp));
    let zxids: Vec<Zxid> = p
        .body
        .iter()
        .filter(|q| q.packet_type == packet::PROPOSAL)
        .map(|q| q.zxid)
        .collect();
    assert_eq!(zxids, (5..=20).map(|c| make_zxid(1, c)).collect::<Vec<_>>());
    // A hole between the txn log and the committed log: SNAP, never a DIFF with a gap.
    let holey = Disk(log(1..=7, 1));
    let p = plan_sync(&committed, lp, Some(&holey), make_zxid(1, 4));
    assert_eq!(p.head, SyncHead::Snap);
    assert!(p.body.is_empty());
}

// ----- ferrokeeper safety rule (issue 8) ---------------------------------------------------------

#[test]
fn follower_refuses_trunc_below_committed() {
    let mut z = synced_follower(make_zxid(1, 9));
    assert_eq!(z.known_committed_zxid(), make_zxid(1, 9));
    let r = z.step(1, packets::bare(packet::TRUNC, make_zxid(1, 5)));
    assert_eq!(
        r,
        Err(StepError::WouldDropCommitted {
            asked: make_zxid(1, 5),
            committed: make_zxid(1, 9)
        })
    );
    let rs = take(&mut z);
    assert!(rs.iter().all(|r| r.truncate_to.is_none()));
    assert!(rs.iter().any(|r| r.alerts.iter().any(|a| matches!(
        a,
        Alert::RefusedToDropCommitted { asked, committed, .. }
            if *asked == make_zxid(1, 5) && *committed == make_zxid(1, 9)
    ))));
    assert_eq!(z.role(), Role::Looking);
}

#[test]
fn follower_refuses_snap_below_committed_and_complies_when_rule_is_off() {
    let mut z = synced_follower(make_zxid(1, 9));
    let r = z.step_snapshot(1, make_zxid(1, 2), Bytes::new());
    assert!(matches!(r, Err(StepError::WouldDropCommitted { .. })));

    let mut c = cfg(2, 3);
    c.refuse_to_drop_committed = false;
    let mut z = Zab::new(c, disk(1, 1, make_zxid(1, 9), make_zxid(1, 9)));
    z.follow(1, 0);
    z.step(1, packets::leader_info(2)).expect("LEADERINFO");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z.step(1, packets::bare(packet::TRUNC, make_zxid(1, 5)))
        .expect("complies");
    assert!(take(&mut z)
        .iter()
        .any(|r| r.truncate_to == Some(make_zxid(1, 5))));
}

#[test]
fn trunc_of_uncommitted_tail_is_obeyed() {
    let mut z = Zab::new(cfg(2, 3), disk(1, 1, make_zxid(1, 9), make_zxid(1, 5)));
    z.follow(1, 0);
    z.step(1, packets::leader_info(2)).expect("LEADERINFO");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z.step(1, packets::bare(packet::TRUNC, make_zxid(1, 6)))
        .expect("TRUNC");
    assert!(take(&mut z)
        .iter()
        .any(|r| r.truncate_to == Some(make_zxid(1, 6))));
    assert_eq!(z.last_logged_zxid(), make_zxid(1, 6));
}

#[test]
fn sync_waits_for_quorum_confirmation_after_it_arrived() {
    let mut sim = Sim::new(8, Opts::quiet(3));
    sim.run_until(5_000, "a leader", |s| s.converged());
    let leader = sim.leader().expect("leader");
    let lsid = sim.nodes[leader].sid;
    sim.isolate(lsid);
    let before = sim.sync_replies;
    sim.issue_sync();
    sim.run(400, false);
    assert_eq!(
        sim.sync_replies, before,
        "an isolated leader must not answer a sync"
    );
    assert!(!sim.nodes[leader]
        .zab
        .as_ref()
        .is_some_and(|z| z.accepts_proposals()));
    sim.settle(20_000);
    // And with a healthy quorum a sync is answered.
    let before = sim.sync_replies;
    sim.issue_sync();
    sim.run(200, false);
    assert_eq!(sim.sync_replies, before + 1);
}

// ----- broadcast -----------------------------------------------------------------------------------

#[test]
fn commit_that_does_not_match_pending_head_disconnects() {
    let mut z = synced_follower(make_zxid(1, 2));
    z.step(1, packets::bare(packet::DIFF, make_zxid(1, 2)))
        .expect("DIFF");
    z.step(1, packets::new_leader(2, "cfg")).expect("NEWLEADER");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z.step(1, packets::up_to_date()).expect("UPTODATE");
    z.step(1, data_pkt(packet::PROPOSAL, make_zxid(2, 1)))
        .expect("PROPOSAL");
    z.step(1, data_pkt(packet::PROPOSAL, make_zxid(2, 2)))
        .expect("PROPOSAL");
    let r = z.step(1, packets::bare(packet::COMMIT, make_zxid(2, 2)));
    assert_eq!(
        r,
        Err(StepError::CommitOutOfOrder {
            got: make_zxid(2, 2),
            expected: Some(make_zxid(2, 1))
        })
    );
    assert_eq!(z.role(), Role::Looking);
}

#[test]
fn follower_answers_ping_with_touch_table_only_when_serving() {
    let mut z = synced_follower(make_zxid(1, 2));
    z.step(1, packets::bare(packet::DIFF, make_zxid(1, 2)))
        .expect("DIFF");
    z.step(1, packets::bare(packet::PING, 7))
        .expect("PING during sync is ignored");
    assert!(take(&mut z).iter().all(|r| r.messages.is_empty()));
    z.step(1, packets::new_leader(2, "cfg")).expect("NEWLEADER");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z.step(1, packets::up_to_date()).expect("UPTODATE");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z.touch_session(zab::SessionTouch {
        session_id: 0x0100_000c_a3ad_0000,
        timeout: 6000,
    });
    z.step(1, packets::bare(packet::PING, make_zxid(2, 0)))
        .expect("PING");
    let rs = take(&mut z);
    let reply = rs[0].messages[0].packet().expect("packet").clone();
    assert_eq!(reply.zxid, make_zxid(2, 0));
    assert_eq!(reply.data.as_ref().map(|d| d.len()), Some(12));
    z.step(1, packets::bare(packet::PING, make_zxid(2, 0)))
        .expect("PING");
    let rs = take(&mut z);
    let reply = rs[0].messages[0].packet().expect("packet").clone();
    assert_eq!(reply.data.as_deref(), Some(&[][..]), "empty, not null");
}

#[test]
fn standalone_is_a_quorum_of_one() {
    let v = QuorumVerifier::parse("server.1=10.0.0.1:2888:3888:participant\nversion=0")
        .expect("config");
    let mut z = Zab::new(ZabConfig::new(1, v), disk(0, 0, 0, 0));
    z.lead(0);
    for _ in 0..4 {
        let rs = take(&mut z);
        persist(&mut z, &rs);
    }
    assert!(z.accepts_proposals());
    let zx = z.next_zxid().expect("leader");
    assert_eq!(zx, make_zxid(1, 1));
    z.propose(zx, Bytes::from_static(b"t")).expect("propose");
    let rs = take(&mut z);
    assert!(
        rs.iter().all(|r| r.committed.is_empty()),
        "own ACK only after persist"
    );
    assert_eq!(rs[0].log_appends.len(), 1);
    persist(&mut z, &rs);
    let rs = take(&mut z);
    assert_eq!(rs[0].committed.len(), 1);
    z.sync(Some(9), None).expect("sync");
    let rs = take(&mut z);
    assert_eq!(rs[0].sync_replies, vec![zab::SyncReply { token: Some(9) }]);
}

#[test]
fn observers_get_inform_and_never_ack() {
    let mut o = Opts::quiet(3);
    o.observers = 1;
    o.propose_per_s = 100.0;
    let mut sim = Sim::new(16, o);
    sim.run_until(5_000, "converged", |s| s.converged());
    sim.run(1_000, false);
    assert!(sim
        .delivered
        .iter()
        .any(|d| d.2 == 4 && d.3 == packet::INFORM));
    assert!(!sim
        .delivered
        .iter()
        .any(|d| d.1 == 4 && d.3 == packet::ACK && d.4 & 0xffff_ffff != 0));
    sim.settle(20_000);
}

#[test]
fn zookeeper_3911_whole_quorum_crash_during_diff_sync_loses_nothing() {
    // ZOOKEEPER-3911 end to end: a learner DIFF-syncs with its disk stalled, then everyone crashes.
    let mut sim = Sim::new(3911, Opts::quiet(3));
    sim.opts.propose_per_s = 100.0;
    sim.run_until(5_000, "converged", |s| s.converged());
    let leader = sim.leader().map(|i| sim.nodes[i].sid).expect("leader");
    let lagger = if leader == 3 { 2 } else { 3 };
    let other = 6 - leader - lagger;
    sim.crash_sid(lagger);
    sim.run(500, false);
    sim.stall(lagger, true);
    let since = sim.now;
    sim.restart(lagger);
    sim.run_until(3_000, "NEWLEADER to the lagger", |s| {
        s.was_delivered(since, leader, lagger, packet::NEWLEADER, None)
    });
    sim.run(300, false);
    let epoch = sim
        .node(leader)
        .zab
        .as_ref()
        .and_then(|z| z.established_epoch())
        .expect("epoch");
    assert!(!sim.was_delivered(
        since,
        lagger,
        leader,
        packet::ACK,
        Some(make_zxid(epoch, 0))
    ));
    assert!(!sim
        .node(lagger)
        .zab
        .as_ref()
        .is_some_and(|z| z.is_serving()));
    sim.crash_sid(other);
    sim.crash_sid(leader);
    sim.crash_sid(lagger);
    sim.stall(lagger, false);
    sim.run(100, false);
    for s in [leader, other, lagger] {
        sim.restart(s);
    }
    sim.settle(30_000);
}

#[test]
fn zookeeper_3127_snapshot_zxid_matches_applied_tree_under_load() {
    // The harness fails if a SNAP stream is not exactly the tree at the SNAP zxid.
    for seed in 0..20 {
        let mut o = Opts::from_seed(seed);
        o.committed_log = 2;
        o.chaos_ms = 3_000;
        let chaos = o.chaos_ms;
        let mut sim = Sim::new(31270 + seed, o);
        sim.run(chaos, true);
        sim.settle(60_000);
    }
}

// ----- leader side, driven directly ----------------------------------------------------------------

/// Leader 1 of 3 voters + observer 4, established with follower 2 (and observer 4 synced).
fn established_leader() -> (Zab, Vec<Outbound>) {
    let mut l = Zab::new(cfg(1, 3), disk(0, 0, 0, 0));
    let mut sent = Vec::new();
    l.lead(0);
    l.step(2, packets::learner_info(false, 0, 2, 0))
        .expect("FOLLOWERINFO");
    let rs = take(&mut l);
    sent.extend(persist(&mut l, &rs));
    l.step(2, packets::ack_epoch(0, 0)).expect("ACKEPOCH");
    let rs = take(&mut l);
    sent.extend(persist(&mut l, &rs));
    let rs = take(&mut l);
    sent.extend(persist(&mut l, &rs));
    l.step(2, packets::bare(packet::ACK, make_zxid(1, 0)))
        .expect("NEWLEADER ACK");
    let rs = take(&mut l);
    sent.extend(persist(&mut l, &rs));
    assert!(l.accepts_proposals());
    l.step(4, packets::learner_info(true, 0, 4, 0))
        .expect("OBSERVERINFO");
    l.step(4, packets::ack_epoch(0, -1)).expect("ACKEPOCH");
    l.step(4, packets::bare(packet::ACK, make_zxid(1, 0)))
        .expect("NEWLEADER ACK");
    let rs = take(&mut l);
    sent.extend(persist(&mut l, &rs));
    (l, sent)
}

#[test]
fn leader_discovery_and_sync_packets_are_java_shaped() {
    let (_, sent) = established_leader();
    let to2: Vec<(i32, Zxid)> = sent.iter().filter(|m| m.to == 2).map(pkt).collect();
    assert_eq!(
        to2,
        vec![
            (packet::LEADERINFO, make_zxid(1, 0)),
            (packet::DIFF, 0),
            (packet::NEWLEADER, make_zxid(1, 0)),
            (packet::UPTODATE, -1),
        ]
    );
    let nl = sent
        .iter()
        .filter_map(|m| m.packet())
        .find(|p| p.packet_type == packet::NEWLEADER)
        .expect("NEWLEADER");
    assert!(nl
        .data
        .as_ref()
        .is_some_and(|d| d.starts_with(b"server.1=10.0.0.1:2888:3888:participant\n")));
}

#[test]
fn leader_commits_in_order_after_quorum_with_own_persisted_ack() {
    let (mut l, _) = established_leader();
    let z1 = l.next_zxid().expect("leader");
    assert_eq!(z1, make_zxid(1, 1));
    l.propose(z1, Bytes::from_static(b"a")).expect("propose");
    l.propose(z1 + 1, Bytes::from_static(b"b"))
        .expect("propose");
    assert!(l.propose(z1 + 5, Bytes::new()).is_err());
    let rs = take(&mut l);
    let props: Vec<(i64, i32, Zxid)> = rs
        .iter()
        .flat_map(|r| r.messages.iter())
        .map(|m| (m.to, pkt(m).0, pkt(m).1))
        .collect();
    assert_eq!(
        props,
        vec![(2, packet::PROPOSAL, z1), (2, packet::PROPOSAL, z1 + 1)]
    );
    // Follower acks the second first: nothing commits (strict order, and no own ack yet).
    l.step(2, packets::bare(packet::ACK, z1 + 1)).expect("ACK");
    assert!(take(&mut l).iter().all(|r| r.committed.is_empty()));
    // Own persist: both have a quorum {1, 2} now? Only z1+1 was acked by 2.
    persist(&mut l, &rs);
    assert!(take(&mut l).iter().all(|r| r.committed.is_empty()));
    l.step(2, packets::bare(packet::ACK, z1)).expect("ACK");
    let rs = take(&mut l);
    let committed: Vec<Zxid> = rs
        .iter()
        .flat_map(|r| r.committed.iter().map(|p| p.zxid))
        .collect();
    assert_eq!(committed, vec![z1, z1 + 1]);
    let out: Vec<(i64, i32, Zxid)> = rs
        .iter()
        .flat_map(|r| r.messages.iter())
        .map(|m| (m.to, pkt(m).0, pkt(m).1))
        .collect();
    assert_eq!(
        out,
        vec![
            (2, packet::COMMIT, z1),
            (4, packet::INFORM, z1),
            (2, packet::COMMIT, z1 + 1),
            (4, packet::INFORM, z1 + 1),
        ]
    );
}

#[test]
fn leader_surfaces_requests_revalidations_and_touches() {
    let (mut l, _) = established_leader();
    let req = zab::ForwardedRequest {
        from: 2,
        session_id: 77,
        cxid: 3,
        op: jute::consts::op::SYNC,
        body: Bytes::from_static(&[0, 0, 0, 1, b'/']),
        authinfo: None,
    };
    l.step(2, packets::request(&req)).expect("REQUEST");
    l.step(2, packets::revalidate_request(77, 4000))
        .expect("REVALIDATE");
    let touch = zab::SessionTouch {
        session_id: 77,
        timeout: 4000,
    };
    l.step(2, packets::ping_reply(make_zxid(1, 0), &[touch]))
        .expect("PING");
    let rs = take(&mut l);
    assert_eq!(rs[0].forwarded_requests, vec![req]);
    assert_eq!(
        rs[0].session_events,
        vec![
            zab::SessionEvent::RevalidateRequest {
                from: 2,
                zxid: -1,
                session_id: 77,
                timeout: 4000
            },
            zab::SessionEvent::Touch {
                from: 2,
                session_id: 77,
                timeout: 4000
            }
        ]
    );
    l.answer_revalidate(2, -1, 77, true);
    l.sync(None, Some(2)).expect("learner sync");
    let rs = take(&mut l);
    let to2: Vec<&QuorumPacket> = rs
        .iter()
        .flat_map(|r| r.messages.iter())
        .filter(|m| m.to == 2)
        .filter_map(|m| m.packet())
        .collect();
    assert_eq!(*to2[0], packets::revalidate_answer(-1, 77, true));
    assert_eq!(
        to2[1].packet_type,
        packet::PING,
        "a sync starts a confirmation round"
    );
    assert!(
        to2.iter().all(|p| p.packet_type != packet::SYNC),
        "not before the quorum confirms"
    );
    l.step(2, packets::ping_reply(make_zxid(1, 0), &[]))
        .expect("PING reply");
    let rs = take(&mut l);
    let sync = rs
        .iter()
        .flat_map(|r| r.messages.iter())
        .find(|m| m.to == 2)
        .expect("SYNC");
    assert_eq!(pkt(sync), (packet::SYNC, 0));
}

#[test]
fn leader_gives_up_without_a_synced_quorum() {
    let (mut l, _) = established_leader();
    l.tick(100);
    take(&mut l);
    l.tick(10_000);
    let rs = take(&mut l);
    assert!(rs.iter().any(|r| r.role == Some(Role::Looking)));
    assert!(rs.iter().any(|r| r.serving == Some(false)));
    assert!(!l.accepts_proposals());
}

#[test]
fn malformed_packets_are_errors_not_panics() {
    let (mut l, _) = established_leader();
    let junk = QuorumPacket::new(packet::REQUEST, -1, Some(Bytes::from_static(&[1, 2])));
    assert!(matches!(l.step(2, junk), Err(StepError::Malformed { .. })));
    let mut f = synced_follower(0);
    let junk = QuorumPacket::new(packet::PROPOSAL, 5, None);
    assert!(f.step(1, junk).is_err());
    let mut g = Zab::new(cfg(1, 3), disk(0, 0, 0, 0));
    g.lead(0);
    let junk = QuorumPacket::new(packet::FOLLOWERINFO, 0, Some(Bytes::from_static(&[0; 3])));
    assert!(g.step(2, junk).is_err());
}

#[test]
fn fuzzy_java_snapshot_followed_by_txns_it_already_holds() {
    // A Java leader reads lastProcessedZxid for startForwarding before serializing, so txns at or
    // below the SNAP zxid can follow the snapshot. They must be accepted, not logged again.
    let mut z = synced_follower(make_zxid(1, 2));
    z.step_snapshot(1, make_zxid(1, 10), Bytes::from_static(b"tree"))
        .expect("SNAP");
    for c in 9..=11 {
        z.step(1, data_pkt(packet::PROPOSAL, make_zxid(1, c)))
            .expect("PROPOSAL");
        z.step(1, packets::bare(packet::COMMIT, make_zxid(1, c)))
            .expect("COMMIT");
    }
    z.step(1, packets::new_leader(2, "cfg")).expect("NEWLEADER");
    let rs = take(&mut z);
    let appended: Vec<Zxid> = rs
        .iter()
        .flat_map(|r| r.log_appends.iter().map(|p| p.zxid))
        .collect();
    assert_eq!(appended, vec![make_zxid(1, 11)]);
    persist(&mut z, &rs);
    let rs = take(&mut z);
    let replayed: Vec<Zxid> = rs
        .iter()
        .flat_map(|r| r.log_replay.iter().map(|p| p.zxid))
        .collect();
    assert_eq!(replayed, vec![make_zxid(1, 11)]);
}

#[test]
fn new_leader_syncs_learners_from_its_whole_durable_log() {
    // Found by the simulator: a leader whose own log tail was not yet durable (and so not yet in
    // its tree) DIFF-synced a learner without that tail, then treated the tail as committed.
    let mut z = synced_follower(make_zxid(1, 2));
    z.step(1, packets::bare(packet::DIFF, make_zxid(1, 2)))
        .expect("DIFF");
    z.step(1, packets::new_leader(2, "cfg")).expect("NEWLEADER");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    z.step(1, packets::up_to_date()).expect("UPTODATE");
    let rs = take(&mut z);
    persist(&mut z, &rs);
    for c in 1..=2 {
        z.step(1, data_pkt(packet::PROPOSAL, make_zxid(2, c)))
            .expect("PROPOSAL");
    }
    let unpersisted = take(&mut z);
    z.look();
    z.lead(0);
    z.step(3, packets::learner_info(false, 2, 3, 0))
        .expect("FOLLOWERINFO");
    let rs = take(&mut z);
    assert!(
        rs.iter().all(|r| r.messages.iter().all(|m| m.to != 3)),
        "LEADERINFO waits for our acceptedEpoch (and everything before it) to be durable"
    );
    let mut sent = persist(&mut z, &unpersisted);
    sent.extend(persist(&mut z, &rs));
    assert!(sent
        .iter()
        .any(|m| m.to == 3 && pkt(m).0 == packet::LEADERINFO));
    z.step(3, packets::ack_epoch(make_zxid(1, 2), 1))
        .expect("ACKEPOCH");
    let rs = take(&mut z);
    let to3: Vec<(i32, Zxid)> = rs
        .iter()
        .flat_map(|r| r.messages.iter())
        .filter(|m| m.to == 3)
        .map(pkt)
        .collect();
    // Our committed log starts at 2.1 (no recent history was loaded), so the learner at 1.2 gets
    // a SNAP, and it must be of the tree holding the whole log.
    assert_eq!(to3[0], (packet::SNAP, make_zxid(2, 2)));
    assert_eq!(to3[1], (packet::NEWLEADER, make_zxid(3, 0)));
}

// ----- more rows of known-zookeeper-bugs.md ----------------------------------------------------

/// ZOOKEEPER-1277: the low 32 bits of the zxid must never roll over into the epoch. A log that
/// ends just below the counter's limit is followed by a new epoch whose counter starts at 1 (the
/// leader refuses a proposal once the counter is exhausted — `ProposeError::Rollover` — and gives
/// up leadership; reaching that takes 2^32 proposals, so it is covered by the core's own check).
#[test]
fn zookeeper_1277_new_epoch_restarts_the_counter() {
    let v = QuorumVerifier::parse("server.1=10.0.0.1:2888:3888:participant\nversion=0")
        .expect("config");
    let last = make_zxid(1, 0xffff_fffe);
    let mut z = Zab::new(ZabConfig::new(1, v), disk(1, 1, last, last));
    z.lead(0);
    for _ in 0..4 {
        let rs = take(&mut z);
        persist(&mut z, &rs);
    }
    let next = z.next_zxid().expect("leader");
    assert_eq!(next, make_zxid(2, 1), "a new epoch starts its counter at 1");
    z.propose(next, Bytes::from_static(b"t")).expect("propose");
}

/// ZOOKEEPER-4394 / 3023: during a DIFF sync, a COMMIT for a proposal received before NEWLEADER
/// arrives after the NEWLEADER ACK (and before UPTODATE). Java hit a NullPointerException; the
/// learner must take it in order and apply the txn exactly once.
#[test]
fn zookeeper_4394_commit_after_newleader_ack_during_diff() {
    let mut z = synced_follower(make_zxid(1, 2));
    let r = diff_sync_until_newleader(&mut z);
    z.on_persisted(r.number);
    let acked: Vec<(i32, Zxid)> = r.messages_after_persist.iter().map(pkt).collect();
    assert_eq!(acked, vec![(packet::ACK, make_zxid(2, 0))]);
    let mut applied: Vec<Zxid> = r
        .log_replay
        .iter()
        .chain(&r.committed)
        .map(|p| p.zxid)
        .collect();
    z.step(1, packets::bare(packet::COMMIT, make_zxid(1, 5)))
        .expect("COMMIT after the NEWLEADER ACK");
    z.step(1, packets::up_to_date()).expect("UPTODATE");
    // Sync txns reach the tree as `log_replay` (no client waits for them), then `committed`.
    for r in take(&mut z) {
        applied.extend(r.log_replay.iter().chain(&r.committed).map(|p| p.zxid));
        z.on_persisted(r.number);
    }
    for r in take(&mut z) {
        applied.extend(r.log_replay.iter().chain(&r.committed).map(|p| p.zxid));
    }
    assert_eq!(
        applied,
        vec![make_zxid(1, 3), make_zxid(1, 4), make_zxid(1, 5)],
        "each sync txn applied once, in order"
    );
    assert!(z.is_serving());
}
