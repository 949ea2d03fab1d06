//! Fast Leader Election, wire-compatible with ZooKeeper's `FastLeaderElection` on the election port
//! (3888): a sans-IO state machine ordering votes by (peer epoch, zxid, myid).
//!
//! Java and ferrokeeper nodes share one ensemble, so every byte on 3888 and every decision rule follows
//! ZooKeeper 3.8/3.9 (`FastLeaderElection`, `QuorumCnxManager`, `Vote`, `QuorumMaj`). Nothing in this
//! crate does IO, reads a clock or draws random numbers: a driver (tokio in production, a seeded
//! simulator in tests) feeds events in and ships the resulting messages out.
//!
//! Map:
//! * [`handshake`] — the connection's initial message, the "larger sid keeps the connection" rule and
//!   the `int length` frames that carry notifications.
//! * [`notification`] — the notification message and [`ServerState`] ordinals; total decoder.
//! * [`vote`] — [`Vote`] and the total order (peer epoch, zxid, sid) that elections maximise.
//! * [`quorum_verifier`] — the voting configuration, majority test and the exact config string.
//! * [`fast_leader_election`] — the [`Election`] state machine (`start`, `on_message`, `on_tick`,
//!   `take_outbox`, `outcome`), including ferrokeeper's safe-bootstrap rule for empty histories.
//!
//! Typical driver loop: `Election::new(ElectionConfig::new(my_sid, verifier), epoch, zxid)`, then
//! `start(now)`; on every decoded frame `on_message(now, sid, notification)`; at
//! `next_deadline_ms()` call `on_tick(now)`; after each call send `take_outbox()`; stop looking when
//! `outcome()` is `Some` and hand the vote to ZAB. While following/leading keep calling `on_message`
//! (the settled machine answers LOOKING peers) and call `start(now)` again to re-elect.

pub mod fast_leader_election;
pub mod handshake;
pub mod notification;
pub mod quorum_verifier;
pub mod vote;

pub use fast_leader_election::{reply_when_settled, Election, ElectionConfig};
pub use handshake::{keep_connection, Decision, HandshakeError, InitialMessage};
pub use notification::{Notification, NotificationError, ServerState};
pub use quorum_verifier::{ConfigError, LearnerRole, QuorumMember, QuorumVerifier, ServerAddress};
pub use vote::{Sid, Vote, Zxid};
