//! ZAB: discovery, synchronisation (DIFF/TRUNC/SNAP) and broadcast for leader, follower and observer,
//! as a sans-IO state machine; standalone mode is a quorum of one running the same pipeline.
//!
//! Map:
//! - [`zxid`]: epoch/counter arithmetic.
//! - [`packets`]: every QuorumPacket the core sends or parses, with Java's field usage.
//! - [`ready`]: [`Ready`], the batch of work handed to the driver ("persist before ACK").
//! - [`config`]: [`ZabConfig`] and the [`DiskState`] recovered at startup.
//! - [`history`]: the committed log and the [`OlderProposals`] hook for txn-log DIFF.
//! - `sync_plan` ([`plan_sync`]): Java's DIFF/TRUNC/SNAP choice.
//! - `core` ([`Zab`]), `leader`, `learner`: the state machine.
//! - [`error`]: [`StepError`], [`ProposeError`].
//!
//! Driver loop (one task owns the [`Zab`]):
//! 1. Election result → [`Zab::lead`] / [`Zab::follow`] / [`Zab::observe`]; connection lost →
//!    [`Zab::peer_disconnected`]; packets → [`Zab::step`] / [`Zab::step_snapshot`]; a timer →
//!    [`Zab::tick`] (at least every tickTime/2); client writes on the leader → [`Zab::propose`]
//!    with [`Zab::next_zxid`]; syncs → [`Zab::sync`]; learner requests → [`Zab::forward_request`],
//!    [`Zab::revalidate`], [`Zab::touch_session`].
//! 2. After every input: `while zab.has_ready() { let r = zab.ready(); ... }`, carrying each
//!    [`Ready`] out in the order documented in [`ready`], and calling [`Zab::on_persisted`] with
//!    its number once its writes are durable (then sending `messages_after_persist`).
//!
//! The core never stamps time itself, never touches disk or sockets, and holds no randomness, so
//! the simulator in `tests/` replays any run from its seed.

#![deny(missing_docs)]

pub mod config;
mod core;
pub mod error;
pub mod history;
mod leader;
mod learner;
pub mod packets;
pub mod ready;
mod sync_plan;
pub mod zxid;

/// A server id (`myid`).
pub type Sid = i64;

pub use crate::core::Zab;
pub use config::{DiskState, ZabConfig};
pub use error::{ProposeError, StepError};
pub use history::{CommittedLog, OlderProposals};
pub use leader::LeaderStats;
pub use packets::{ForwardedRequest, SessionTouch};
pub use ready::{
    Alert, Body, EpochWrites, Outbound, Proposal, Ready, ReadyNumber, Role, SessionEvent,
    SnapshotInstall, SyncReply,
};
pub use sync_plan::{plan_sync, SyncHead, SyncPlan};
pub use zxid::Zxid;
