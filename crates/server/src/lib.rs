//! The ZooKeeper server proper: the data tree (a deterministic state machine applied in zxid order),
//! sessions, watches, ACLs, the request pipeline and the client port.
//!
//! A request's path through this crate:
//! [`connection`] (framing, handshake, routing) → reads run at once against the tree
//! ([`reads`]); writes go to [`pipeline`]: [`prep`] (validation → txn, zxid) → txn log (group
//! commit) → apply to [`data_tree`] → watches ([`watch_manager`]) and the reply.

pub mod admin;
pub mod auth;
pub mod connection;
pub mod data_tree;
pub mod four_letter;
pub mod frame;
pub mod metrics;
pub mod outbox;
pub mod path_utils;
pub mod persistence;
pub mod pipeline;
pub mod prep;
pub mod quorum;
pub mod reads;
pub mod server;
pub mod session;
pub mod settings;
pub mod shared;
pub mod stats;
pub mod watch_manager;

pub use server::{start, ServerHandle, StartState};
pub use settings::ServerSettings;

/// ZooKeeper release whose client protocol this server speaks.
pub const ZK_COMPAT_VERSION: &str = "3.9.3";

/// The version line of `srvr`/`stat`/`mntr`, in Java's `<version>-<id>, built on <date>` shape.
pub const VERSION_LINE: &str = concat!(
    "3.9.3-ferrokeeper-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);
