//! The quorum side of a server: the drivers around the sans-IO cores of `crates/election` and
//! `crates/zab`. These modules hold sockets, timers and threads; every decision is made by the
//! cores.
//!
//! Flow of a write in an ensemble: connection → [`state::QuorumState`] queues it under its session
//! → leader: prep → [`peer`] (`Zab::propose`, log + fsync, PROPOSAL) … quorum of ACKs → COMMIT →
//! [`commit`] applies it and answers the queued request; learner: REQUEST to the leader, and the
//! answer when the matching COMMIT is applied here.

pub mod cnx_manager;
pub mod commit;
pub mod election_driver;
pub mod link;
pub mod peer;
pub mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use election::ElectionConfig;
use tokio::net::TcpListener;
use tracing::info;
use zab::{DiskState, Sid, Zab, ZabConfig};

use crate::server::{build_shared, spawn_tasks, ServerHandle, StartState};
use crate::settings::ServerSettings;

/// Everything a quorum peer needs besides the standalone settings.
pub struct QuorumSetup {
    pub zab: ZabConfig,
    pub disk: DiskState,
    pub election: ElectionConfig,
    pub cnx: cnx_manager::CnxConfig,
    /// Where our quorum port (2888) listens.
    pub quorum_listen: SocketAddr,
    pub peer: peer::PeerSettings,
    pub info: state::QuorumInfo,
}

/// Starts a quorum peer: client port (not serving until a leader is established), quorum port,
/// election port, and the prep / peer / apply threads.
pub async fn start(
    settings: ServerSettings,
    state: StartState,
    setup: QuorumSetup,
) -> std::io::Result<ServerHandle> {
    let my_sid = setup.zab.my_sid;
    let listener = TcpListener::bind(settings.client_addr).await?;
    let quorum_listener = link::bind(setup.quorum_listen)?;
    let (events_tx, events_rx) = std::sync::mpsc::channel::<peer::PeerEvent>();
    let (submit_tx, submit_rx) = std::sync::mpsc::channel();
    let q = Arc::new(state::QuorumState::new(
        my_sid,
        setup.info.clone(),
        events_tx.clone(),
    ));
    let (shared, mut prep, log) = build_shared(settings, state, submit_tx, Some(q.clone()));

    // prep: leader-side txns go to the peer thread.
    let prep_events = events_tx.clone();
    let s1 = shared.clone();
    std::thread::Builder::new()
        .name("prep".into())
        .spawn(move || {
            crate::pipeline::prep_loop(&s1, &submit_rx, &mut prep, &mut |item| {
                let ev = match item {
                    crate::pipeline::Item::Txn { entry, .. } => peer::PeerEvent::Propose(entry),
                    crate::pipeline::Item::Sync { token, learner } => {
                        peer::PeerEvent::Sync { token, learner }
                    }
                    crate::pipeline::Item::Barrier { .. } => return true,
                };
                prep_events.send(ev).is_ok()
            });
        })?;

    let (apply_tx, apply_rx) = std::sync::mpsc::channel();
    commit::spawn(shared.clone(), q.clone(), apply_rx)?;

    link::spawn_acceptor(quorum_listener, events_tx.clone())?;

    let last_zxid = setup.disk.last_logged_zxid;
    let current_epoch = setup.disk.current_epoch;
    let cnx = cnx_manager::CnxManager::start(setup.cnx).await?;
    let el = election_driver::spawn(setup.election, cnx, current_epoch, last_zxid);
    let mut outcome = el.outcome.clone();
    let ev_tx = events_tx.clone();
    tokio::spawn(async move {
        while outcome.changed().await.is_ok() {
            let v = *outcome.borrow_and_update();
            if let Some(v) = v {
                if ev_tx.send(peer::PeerEvent::Elected(v)).is_err() {
                    return;
                }
            }
        }
    });

    let zab = Zab::new(setup.zab, setup.disk);
    let s2 = shared.clone();
    let q2 = q.clone();
    let cmds = el.cmds.clone();
    let peer_settings = setup.peer;
    let ev_tx2 = events_tx.clone();
    std::thread::Builder::new()
        .name("zab".into())
        .spawn(move || {
            peer::run(
                s2,
                q2,
                zab,
                log,
                peer_settings,
                apply_tx,
                cmds,
                ev_tx2,
                events_rx,
            )
        })?;
    info!(sid = my_sid, "quorum peer started");
    spawn_tasks(shared, listener)
}

/// The quorum addresses (host, port) of every member, from the voting configuration.
pub fn quorum_addrs(v: &election::QuorumVerifier) -> HashMap<Sid, Vec<(String, u16)>> {
    v.members()
        .map(|m| {
            (
                m.sid,
                m.addresses
                    .iter()
                    .map(|a| (a.host.clone(), a.quorum_port))
                    .collect(),
            )
        })
        .collect()
}
