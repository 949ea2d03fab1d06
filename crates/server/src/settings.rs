//! The typed settings the server runs with. The binary maps zoo.cfg keys and Java system
//! properties onto these once, at the edge; nothing below reads configuration text.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::auth::AclPolicy;

/// Which four-letter words may run (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    All,
    Only(Vec<String>),
}

impl FourLetterWhitelist {
    /// Java's default: only `srvr`.
    pub fn default_list() -> FourLetterWhitelist {
        FourLetterWhitelist::Only(vec!["srvr".to_string()])
    }

    /// Parses the property value (comma separated, `*` for all); `srvr` is always allowed.
    pub fn parse(v: &str) -> FourLetterWhitelist {
        let items: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if items.iter().any(|s| s == "*") {
            return FourLetterWhitelist::All;
        }
        let mut items = items;
        if !items.iter().any(|s| s == "srvr") {
            items.push("srvr".to_string());
        }
        FourLetterWhitelist::Only(items)
    }

    pub fn allows(&self, cmd: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(v) => v.iter().any(|s| s == cmd),
        }
    }
}

/// Everything the standalone server needs to run.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub client_addr: SocketAddr,
    pub tick_ms: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Per client IP (0 = unlimited).
    pub max_client_cnxns: usize,
    /// Global (0 = unlimited).
    pub max_cnxns: usize,
    /// Server id used in session ids (1 in standalone, as Java).
    pub session_server_id: i64,
    /// `jute.maxbuffer`.
    pub max_buffer: usize,
    pub acl: AclPolicy,
    pub extended_types_enabled: bool,
    pub reconfig_enabled: bool,
    pub close_session_txn_enabled: bool,
    pub four_letter_whitelist: FourLetterWhitelist,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    /// `forceSync`: fdatasync each group commit.
    pub force_sync: bool,
    pub snap_count: u64,
    pub pre_alloc_size_kb: u64,
    /// `znode.container.checkIntervalMs`.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`.
    pub container_max_per_minute: u32,
    /// Version line printed by srvr/stat/mntr.
    pub version: String,
    pub client_port_listen_backlog: i32,
    pub secure_client_port: i32,
    /// The AdminServer (`admin.enableServer`, default on in zoo.cfg; off in `standalone()`).
    pub admin: Option<crate::admin::AdminHttp>,
    /// Prometheus `/metrics` listener (`metricsProvider.className` = the Prometheus provider).
    pub metrics_addr: Option<SocketAddr>,
    /// The configuration file's text as read at startup (AdminServer `initial_configuration`).
    pub initial_config: Option<String>,
    /// `readonlymode.enabled`: serve read-only clients while the quorum is lost.
    pub read_only_mode: bool,
}

impl ServerSettings {
    /// Defaults for a standalone server on `addr` with data in `data_dir` (tickTime 2000).
    pub fn standalone(addr: SocketAddr, data_dir: PathBuf) -> ServerSettings {
        ServerSettings {
            client_addr: addr,
            tick_ms: 2000,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            max_client_cnxns: 60,
            max_cnxns: 0,
            session_server_id: 1,
            max_buffer: jute::DEFAULT_MAX_BUFFER,
            acl: AclPolicy::default(),
            extended_types_enabled: false,
            reconfig_enabled: false,
            close_session_txn_enabled: true,
            four_letter_whitelist: FourLetterWhitelist::default_list(),
            data_log_dir: data_dir.clone(),
            data_dir,
            force_sync: true,
            snap_count: 100_000,
            pre_alloc_size_kb: 65536,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            version: crate::VERSION_LINE.to_string(),
            client_port_listen_backlog: -1,
            secure_client_port: -1,
            admin: None,
            metrics_addr: None,
            initial_config: None,
            read_only_mode: false,
        }
    }
}
