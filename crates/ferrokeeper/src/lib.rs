//! ferrokeeper: a native, drop-in reimplementation of the Apache ZooKeeper 3.8/3.9 server.
//!
//! This crate holds the launcher side: the zoo.cfg configuration layer ([`config`]) and the
//! `zkServer.sh`-compatible command line ([`cli`]).

#[warn(missing_docs)]
pub mod cli;
#[warn(missing_docs)]
pub mod config;

pub use config::{load_config, LoadOptions, LoadedConfig};

/// Error returned by [`run_server`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// PLACEHOLDER: the server crates are not wired into the binary yet.
    #[error("server not wired yet")]
    NotWired,
    /// Any other startup/runtime failure, with its message.
    #[error("{0}")]
    Other(String),
}

/// Runs the server with a validated configuration until shutdown.
///
/// **PLACEHOLDER — NOT IMPLEMENTED.** The lead replaces this with the real server wiring
/// (storage, election, ZAB, client port). Until then it always fails with
/// [`RunError::NotWired`] so nobody mistakes the binary for a working server.
pub fn run_server(cfg: LoadedConfig) -> Result<(), RunError> {
    let _ = cfg;
    Err(RunError::NotWired)
}
