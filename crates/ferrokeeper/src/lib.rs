//! ferrokeeper: a native, drop-in reimplementation of the Apache ZooKeeper 3.8/3.9 server.
//!
//! This crate holds the launcher side: the zoo.cfg configuration layer ([`config`]) and the
//! `zkServer.sh`-compatible command line ([`cli`]).

#[warn(missing_docs)]
pub mod cli;
#[warn(missing_docs)]
pub mod config;

pub use config::{load_config, LoadOptions, LoadedConfig};

pub mod run;

pub use run::{run_server, RunError};
