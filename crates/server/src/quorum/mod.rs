//! The quorum side of a server: the tokio drivers around the sans-IO cores of `crates/election`
//! (and, next, `crates/zab`). These modules hold sockets, timers and tasks; every decision is made
//! by the cores.

pub mod cnx_manager;
pub mod election_driver;
