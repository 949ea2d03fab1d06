//! Runs one peer's [`Election`] over the [`CnxManager`]: decodes notifications, ticks the timers,
//! ships the outbox, and publishes each outcome. The task lives as long as the peer: once an
//! election is decided the settled machine keeps answering LOOKING peers, and a new election
//! starts when the quorum layer asks for one.

use std::time::{Duration, Instant};

use election::{Election, ElectionConfig, Notification, Vote};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info};

use super::cnx_manager::CnxManager;

/// What the quorum layer asks of the election task.
#[derive(Debug, Clone, Copy)]
pub enum ElectionCmd {
    /// Start looking for a leader with this history.
    LookForLeader { current_epoch: i64, last_zxid: i64 },
    /// After sync: every member reports the new epoch in its vote (Java's `updateElectionVote`).
    UpdatePeerEpoch(i64),
}

/// Handle to a running election task.
pub struct ElectionHandle {
    pub cmds: mpsc::UnboundedSender<ElectionCmd>,
    /// The latest decided vote (its `state` says LEADING / FOLLOWING / OBSERVING).
    pub outcome: watch::Receiver<Option<Vote>>,
}

/// Spawns the election task. The first election starts with `current_epoch`/`last_zxid`.
pub fn spawn(
    cfg: ElectionConfig,
    cnx: CnxManager,
    current_epoch: i64,
    last_zxid: i64,
) -> ElectionHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = watch::channel(None);
    let _ = cmd_tx.send(ElectionCmd::LookForLeader {
        current_epoch,
        last_zxid,
    });
    tokio::spawn(run(cfg, cnx, cmd_rx, out_tx));
    ElectionHandle {
        cmds: cmd_tx,
        outcome: out_rx,
    }
}

async fn run(
    cfg: ElectionConfig,
    mut cnx: CnxManager,
    mut cmds: mpsc::UnboundedReceiver<ElectionCmd>,
    outcome: watch::Sender<Option<Vote>>,
) {
    let t0 = Instant::now();
    let now = |t0: Instant| t0.elapsed().as_millis() as u64;
    let mut el: Option<Election> = None;
    let my_sid = cfg.my_sid;
    loop {
        let deadline = el.as_ref().and_then(|e| e.next_deadline_ms());
        let sleep = match deadline {
            Some(d) => Duration::from_millis(d.saturating_sub(now(t0))),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            biased;
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    ElectionCmd::LookForLeader { current_epoch, last_zxid } => {
                        let e = el.get_or_insert_with(|| Election::new(cfg.clone(), current_epoch, last_zxid));
                        e.set_history(current_epoch, last_zxid);
                        e.start(now(t0));
                        outcome.send_replace(None);
                        info!(sid = my_sid, epoch = current_epoch, zxid = format!("0x{last_zxid:x}"), "looking for a leader");
                    }
                    ElectionCmd::UpdatePeerEpoch(epoch) => {
                        if let Some(e) = el.as_mut() {
                            e.update_current_vote_peer_epoch(epoch);
                        }
                    }
                }
            }
            msg = cnx.inbound.recv() => {
                let Some((from, payload)) = msg else { return };
                match Notification::decode(&payload) {
                    Ok(n) => {
                        if let Some(e) = el.as_mut() {
                            e.on_message(now(t0), from, n);
                        }
                    }
                    Err(err) => debug!(peer = from, error = %err, "dropping an undecodable notification"),
                }
            }
            _ = tokio::time::sleep(sleep) => {
                if let Some(e) = el.as_mut() {
                    e.on_tick(now(t0));
                }
            }
        }
        if let Some(e) = el.as_mut() {
            for (to, n) in e.take_outbox() {
                if let Ok(bytes) = n.encode() {
                    cnx.send(to, bytes.into());
                }
            }
            let decided = e.outcome();
            if decided != *outcome.borrow() {
                if let Some(v) = &decided {
                    info!(sid = my_sid, leader = v.leader, state = ?v.state, zxid = format!("0x{:x}", v.zxid), epoch = v.peer_epoch, "election decided");
                }
                outcome.send_replace(decided);
            }
        }
    }
}
