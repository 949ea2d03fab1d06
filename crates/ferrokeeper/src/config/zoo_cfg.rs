//! `ZooCfg`: every zoo.cfg key ZooKeeper 3.8/3.9 understands, typed, with Java semantics.
//!
//! Mirrors `QuorumPeerConfig.parseProperties` + `setupMyId`/`setupClientPort`/
//! `setupPeerType`/`checkValidity`, and the `zookeeper.*` system properties that other
//! Java classes read (a zoo.cfg key `X` not handled directly becomes `zookeeper.X`).
//!
//! Value semantics follow Java exactly:
//! * keys handled by `QuorumPeerConfig` itself use its strict boolean parser (`true`/`false`,
//!   case-insensitive, anything else is an error) and `Integer.parseInt` (errors are fatal);
//! * `zookeeper.*` properties use whatever the reading Java class uses:
//!   `Boolean.getBoolean`/`parseBoolean` (only `true`, case-insensitive, is true),
//!   `"yes"`/`"no"` string compares (`forceSync`, `skipACL`, `leaderServes`), and
//!   `Integer.getInteger`-style lenient numbers (an unparsable value falls back to the
//!   default — reported here as a warning instead of Java's silence).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::error::{ConfigError, ConfigWarning, Location};
use super::myid::{decide_mode, parse_java_int, parse_java_long, ServerMode};
use super::properties::{java_trim, Properties};
use super::quorum::{HostPort, LearnerType, QuorumConfig, QuorumParseOptions};
use super::system_properties::{PropertyOrigin, SystemProperties};

/// `ZooKeeperServer.DEFAULT_TICK_TIME` (used when `tickTime` is absent).
pub const DEFAULT_TICK_TIME: i32 = 3000;
/// The metrics provider Java uses by default.
pub const DEFAULT_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";
/// Name of the ferrokeeper-only switch that disables the safe-bootstrap rule.
pub const ALLOW_EMPTY_LEADER_ELECTION_KEY: &str = "ferrokeeper.allowEmptyLeaderElection";
/// Every four-letter word the server knows (what `4lw.commands.whitelist=*` enables).
pub const ALL_FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// zoo.cfg keys (without `zookeeper.`) that Java classes read as `zookeeper.<key>`; a key in
/// this list or under [`KNOWN_FORWARDED_PREFIXES`] is not reported as unknown.
const KNOWN_FORWARDED_KEYS: &[&str] = &[
    "snapCount",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "preAllocSize",
    "forceSync",
    "4lw.commands.whitelist",
    "electionPortBindRetry",
    "cnxTimeout",
    "tcpKeepAlive",
    "clientTcpKeepAlive",
    "digest.enabled",
    "closeSessionTxn.enabled",
    "extendedTypesEnabled",
    "emulate353TTLNodes",
    "skipACL",
    "snapshot.compression.method",
    "snapshot.trust.empty",
    "globalOutstandingLimit",
    "commitLogCount",
    "snapshotSizeFactor",
    "leaderServes",
    "maxCnxns",
    "serverCnxnFactory",
    "datadir.autocreate",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "fsync.warningthresholdms",
    "enforceQuota",
    "superUser",
    "ensembleAuthName",
    "sessionRequireClientSASLAuth",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "requestStaleLatencyCheck",
    "requestStaleConnectionCheck",
    "throttledOpWaitTime",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "serializeLastProcessedZxid.enabled",
    "watchManagerName",
    "watcherCleanThreshold",
    "watcherCleanIntervalInSeconds",
    "watcherCleanThreadsNum",
    "maxInProcessingDeadWatchers",
    "bitHashCacheSize",
    "fastleader.minNotificationInterval",
    "fastleader.maxNotificationInterval",
    "leader.closeSocketAsync",
    "learner.closeSocketAsync",
    "learner.asyncSending",
    "leader.maxConcurrentSnapSyncs",
    "leader.maxConcurrentDiffSyncs",
    "leader.maxTimeToWaitForEpoch",
    "observer.reconnectDelayMs",
    "observer.election.DelayMs",
    "observer.syncEnabled",
    "quorumCnxnTimeoutMs",
    "connection_throttle_tokens",
    "connection_throttle_fill_time",
    "connection_throttle_fill_count",
    "connection_throttle_freeze_time",
    "connection_throttle_drop_increase",
    "connection_throttle_drop_decrease",
    "connection_throttle_decrease_ratio",
    "connection_throttle_weight_enabled",
    "connection_throttle_global_session_weight",
    "connection_throttle_local_session_weight",
    "connection_throttle_renew_session_weight",
    "outstandingHandshake.limit",
    "netty.advancedFlowControl.enabled",
    "client.portUnification",
    "client.certReload",
    "follower.skipLearnerRequestToNextProcessor",
    "forward_learner_requests_to_commit_processor_disabled",
    "jute.maxbuffer.extrasize",
    "audit.enable",
    "audit.impl.class",
    "fips",
    "kerberos.canonicalizeHostNames",
    "kerberos.removeHostFromPrincipal",
    "kerberos.removeRealmFromPrincipal",
    "sslQuorum",
    "DigestAuthenticationProvider.superDigest",
    "DigestAuthenticationProvider.digestAlg",
    "DigestAuthenticationProvider.enabled",
    "X509AuthenticationProvider.superUser",
    "IPAuthenticationProvider.usexforwardedfor",
    "authProvider",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
    "request_throttler.shutdownTimeout",
    "messageTracker.BufferSize",
    "messageTracker.Enabled",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "nio.directBufferBytes",
    "nio.sessionlessCnxnTimeout",
    "nio.shutdownTimeout",
    "commitProcessor.maxCommitBatchSize",
    "commitProcessor.maxReadBatchSize",
    "commitProcessor.numWorkerThreads",
    "commitProcessor.shutdownTimeout",
    "connectionMaxTokens",
    "connectionTokenFillTime",
    "connectionTokenFillCount",
    "connectionFreezeTime",
    "connectionDropIncrease",
    "connectionDropDecrease",
    "connectionDecreaseRatio",
    "advancedFlowControlEnabled",
    "ferrokeeper.allowEmptyLeaderElection",
];

/// Keys `QuorumPeerConfig` handles itself (never read as `zookeeper.<key>` properties).
const DIRECT_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortAddress",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "tickTime",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "oraclePath",
];

/// Prefixes of forwarded keys that are known families (TLS, AdminServer, auth providers …).
const KNOWN_FORWARDED_PREFIXES: &[&str] = &[
    "ssl.",
    "admin.",
    "authProvider.",
    "netty.",
    "kerberos.",
    "sasl.",
    "jmx.",
    "log.",
];

/// Where the quorum membership came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipSource {
    /// `server.N` lines in zoo.cfg itself (or none at all).
    StaticFile,
    /// The file named by `dynamicConfigFile`.
    DynamicFile(PathBuf),
}

/// Snapshot stream compression (`zookeeper.snapshot.compression.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotCompression {
    /// Plain checked stream (default, value "").
    None,
    /// `gz`.
    Gzip,
    /// `snappy`.
    Snappy,
}

/// Which four-letter words answer (`zookeeper.4lw.commands.whitelist` semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FourLetterWhitelist {
    /// Enabled commands; always contains `srvr` (zkServer.sh depends on it), plus `isro`
    /// when read-only mode is enabled; every command when the list contains `*`.
    pub commands: BTreeSet<String>,
}

impl FourLetterWhitelist {
    /// Builds the set like `FourLetterCommands.isEnabled` does on first use.
    pub fn from_property(value: Option<&str>, readonly_mode: bool) -> Self {
        let mut commands = BTreeSet::new();
        if let Some(v) = value {
            for c in v.split(',') {
                let c = java_trim(c);
                if c == "*" {
                    commands.extend(ALL_FOUR_LETTER_WORDS.iter().map(|s| s.to_string()));
                    break;
                }
                if !c.is_empty() {
                    commands.insert(c.to_string());
                }
            }
        }
        if readonly_mode {
            commands.insert("isro".to_string());
        }
        commands.insert("srvr".to_string());
        Self { commands }
    }

    /// True when the command may be executed.
    pub fn allows(&self, cmd: &str) -> bool {
        self.commands.contains(cmd)
    }
}

/// Embedded AdminServer settings (`zookeeper.admin.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// `admin.enableServer`: only the exact string `false` disables it (Java compares so).
    pub enable_server: bool,
    /// `admin.serverAddress`, default `0.0.0.0`.
    pub server_address: String,
    /// `admin.serverPort`, default 8080.
    pub server_port: i32,
    /// `admin.commandURL`, default `/commands`.
    pub command_url: String,
    /// `admin.idleTimeout` in ms, default 30000.
    pub idle_timeout_ms: i32,
    /// `admin.httpVersion`, default 11.
    pub http_version: i32,
    /// `admin.portUnification` (`Boolean.getBoolean`).
    pub port_unification: bool,
    /// `admin.forceHttps`.
    pub force_https: bool,
    /// `admin.needClientAuth`.
    pub need_client_auth: bool,
}

/// Settings Java reads from system properties (zoo.cfg forwarded keys and `-D` flags).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// `snapCount`: txns between snapshots (default 100000, minimum 2).
    pub snap_count: i32,
    /// `snapSizeLimitInKb`: KiB of txn log between snapshots (default 4194304 = 4 GiB;
    /// `<= 0` disables the size trigger).
    pub snap_size_limit_kb: i64,
    /// `txnLogSizeLimitInKb`: KiB per txn log file; `None` = unlimited (default).
    pub txn_log_size_limit_kb: Option<i64>,
    /// `preAllocSize`: txn log preallocation in KiB (default 65536 = 64 MiB).
    pub pre_alloc_size_kb: i64,
    /// `forceSync`: fsync the txn log; only the string `no` disables it.
    pub force_sync: bool,
    /// `4lw.commands.whitelist`, resolved.
    pub four_letter_words: FourLetterWhitelist,
    /// `admin.*`.
    pub admin: AdminSettings,
    /// `electionPortBindRetry`: bind attempts for the election port (0 = forever; default 3).
    pub election_port_bind_retry: i32,
    /// `cnxTimeout`: election connection timeout in ms (default 5000).
    pub cnx_timeout_ms: i32,
    /// `tcpKeepAlive` for quorum sockets.
    pub tcp_keep_alive: bool,
    /// `clientTcpKeepAlive` for client sockets.
    pub client_tcp_keep_alive: bool,
    /// `digest.enabled` (default true; `Boolean.parseBoolean`).
    pub digest_enabled: bool,
    /// `closeSessionTxn.enabled` (default true).
    pub close_session_txn_enabled: bool,
    /// `extendedTypesEnabled` (TTL nodes; default false).
    pub extended_types_enabled: bool,
    /// `emulate353TTLNodes` (default false).
    pub emulate_353_ttl_nodes: bool,
    /// `skipACL`: only the string `yes` enables it.
    pub skip_acl: bool,
    /// `snapshot.compression.method`.
    pub snapshot_compression: SnapshotCompression,
    /// `snapshot.trust.empty` (default false).
    pub snapshot_trust_empty: bool,
    /// `globalOutstandingLimit` (default 1000).
    pub global_outstanding_limit: i32,
    /// `commitLogCount`: committed proposals kept in memory (default and minimum 500).
    pub commit_log_count: i32,
    /// `snapshotSizeFactor` (default 0.33; > 1 resets to default; < 0 disables).
    pub snapshot_size_factor: f64,
    /// `leaderServes`: only the string `no` disables it.
    pub leader_serves: bool,
    /// `maxCnxns`: global client connection cap (0 = unlimited).
    pub max_cnxns: i32,
    /// `serverCnxnFactory` class name, if set (Netty is required for TLS in Java).
    pub server_cnxn_factory: Option<String>,
    /// `zookeeper.DigestAuthenticationProvider.superDigest` (`super:<base64 sha1>`).
    pub super_digest: Option<String>,
    /// `jute.maxbuffer` (JVM-only, no `zookeeper.` prefix): max packet size, default 0xfffff.
    pub jute_max_buffer: i32,
    /// `readonlymode.enabled` (JVM-only property).
    pub readonly_mode_enabled: bool,
    /// `datadir.autocreate` (default true; zkServer.sh sets false when
    /// `ZOO_DATADIR_AUTOCREATE_DISABLE` is set).
    pub datadir_autocreate: bool,
    /// `-Dzookeeper.multiAddress.enabled`: Java's server-line parser consults this property
    /// (not the zoo.cfg key); it is also the default of `ZooCfg::multi_address_enabled`.
    pub multi_address_enabled_property: bool,
    /// ferrokeeper-only: allow an ensemble whose voters all have empty data to elect a
    /// leader (disables the safe-bootstrap rule). Default false.
    pub allow_empty_leader_election: bool,
}

/// The parsed zoo.cfg (plus dynamic file and myid), with Java defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ZooCfg {
    /// Label (path) of the static config file.
    pub config_file: String,
    /// `tickTime` in ms (default 3000).
    pub tick_time: i32,
    /// `initLimit` in ticks (required when distributed).
    pub init_limit: i32,
    /// `syncLimit` in ticks (required when distributed).
    pub sync_limit: i32,
    /// `connectToLearnerMasterLimit` in ticks (0 ⇒ use `initLimit`).
    pub connect_to_learner_master_limit: i32,
    /// `dataDir` (required; snapshots, myid, epochs).
    pub data_dir: PathBuf,
    /// `dataLogDir` (defaults to `dataDir`).
    pub data_log_dir: PathBuf,
    /// The effective client address: `clientPort`/`clientPortAddress`, or the `;` part of
    /// our own `server.<myid>` line (which wins). `None` ⇒ no plaintext client port.
    pub client_port_address: Option<HostPort>,
    /// `secureClientPort`/`secureClientPortAddress` (TLS client port).
    pub secure_client_port_address: Option<HostPort>,
    /// `clientPortListenBacklog` (-1 ⇒ OS default).
    pub client_port_listen_backlog: i32,
    /// `observerMasterPort`, when > 0.
    pub observer_master_port: Option<u16>,
    /// `maxClientCnxns`: per-IP connection limit (default 60, 0 = unlimited).
    pub max_client_cnxns: i32,
    /// `minSessionTimeout` in ms (default 2 × tickTime).
    pub min_session_timeout: i32,
    /// `maxSessionTimeout` in ms (default 20 × tickTime).
    pub max_session_timeout: i32,
    /// `electionAlg` (only 3, fast leader election, is accepted).
    pub election_alg: i32,
    /// `quorumListenOnAllIPs`: bind quorum/election ports on all interfaces.
    pub quorum_listen_on_all_ips: bool,
    /// Our role: `peerType`, overridden by our `server.<myid>` line when they disagree.
    pub peer_type: LearnerType,
    /// `standaloneEnabled` (default true).
    pub standalone_enabled: bool,
    /// `reconfigEnabled` (default false).
    pub reconfig_enabled: bool,
    /// `dynamicConfigFile`, if any.
    pub dynamic_config_file: Option<PathBuf>,
    /// `localSessionsEnabled` (default false).
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled` (default false).
    pub local_sessions_upgrading_enabled: bool,
    /// `syncEnabled`: observers log txns to disk (default true).
    pub sync_enabled: bool,
    /// `autopurge.snapRetainCount` (default 3; values < 3 are raised to 3 with a warning).
    pub autopurge_snap_retain_count: i32,
    /// `autopurge.purgeInterval` in **hours** (0 = disabled, the default).
    pub autopurge_purge_interval_hours: i32,
    /// `multiAddress.enabled` (default from `-Dzookeeper.multiAddress.enabled`, else false).
    pub multi_address_enabled: bool,
    /// `multiAddress.reachabilityCheckEnabled` (default true).
    pub multi_address_reachability_check_enabled: bool,
    /// `multiAddress.reachabilityCheckTimeoutMs` (default 1000).
    pub multi_address_reachability_check_timeout_ms: i32,
    /// `sslQuorum` (default false).
    pub ssl_quorum: bool,
    /// `portUnification` (default false).
    pub port_unification: bool,
    /// `sslQuorumReloadCertFiles` (default false).
    pub ssl_quorum_reload_cert_files: bool,
    /// `quorum.auth.enableSasl`.
    pub quorum_enable_sasl: bool,
    /// `quorum.auth.serverRequireSasl`.
    pub quorum_server_require_sasl: bool,
    /// `quorum.auth.learnerRequireSasl`.
    pub quorum_learner_require_sasl: bool,
    /// `quorum.auth.kerberos.servicePrincipal` (default `zkquorum/localhost`).
    pub quorum_service_principal: String,
    /// `quorum.auth.learner.saslLoginContext` (default `QuorumLearner`).
    pub quorum_learner_login_context: String,
    /// `quorum.auth.server.saslLoginContext` (default `QuorumServer`).
    pub quorum_server_login_context: String,
    /// `quorum.cnxn.threads.size` (0 ⇒ implementation default).
    pub quorum_cnxn_threads_size: i32,
    /// `jvm.pause.monitor` (accepted for compatibility; there is no JVM).
    pub jvm_pause_monitor: bool,
    /// `jvm.pause.info-threshold.ms` (default 1000).
    pub jvm_pause_info_threshold_ms: i64,
    /// `jvm.pause.warn-threshold.ms` (default 10000).
    pub jvm_pause_warn_threshold_ms: i64,
    /// `jvm.pause.sleep.time.ms` (default 500).
    pub jvm_pause_sleep_time_ms: i64,
    /// `metricsProvider.className`.
    pub metrics_provider_class_name: String,
    /// `metricsProvider.<x>` entries, keyed by `<x>` (e.g. `httpPort`).
    pub metrics_provider_config: BTreeMap<String, String>,
    /// `oraclePath` (2-node oracle file), if set.
    pub oracle_path: Option<PathBuf>,
    /// Membership (`server.N`, `group.N`, `weight.N`, version).
    pub quorum: QuorumConfig,
    /// Where the membership was read.
    pub membership_source: MembershipSource,
    /// Proposed-but-uncommitted membership from `<cfg>.dynamic.next`, if present.
    pub last_seen_quorum: Option<QuorumConfig>,
    /// Our server id from `dataDir/myid` (`None` when absent).
    pub server_id: Option<i64>,
    /// Typed `zookeeper.*`/JVM properties after merging `-D` flags and zoo.cfg.
    pub settings: ServerSettings,
    /// All effective system properties (for keys without a typed field, e.g. `ssl.*`).
    pub system_properties: SystemProperties,
    /// The whole zoo.cfg text (Java keeps it as `initialConfig`).
    pub initial_config: String,
}

impl ZooCfg {
    /// Standalone or distributed, exactly as `QuorumPeerConfig.isDistributed`.
    pub fn mode(&self) -> ServerMode {
        decide_mode(
            self.quorum.voting_members().count(),
            self.standalone_enabled,
        )
    }

    /// True when running as a quorum peer.
    pub fn is_distributed(&self) -> bool {
        self.mode() == ServerMode::Distributed
    }

    /// `connectToLearnerMasterLimit`, or `initLimit` when it is 0 (as Java uses it).
    pub fn effective_connect_to_learner_master_limit(&self) -> i32 {
        if self.connect_to_learner_master_limit == 0 {
            self.init_limit
        } else {
            self.connect_to_learner_master_limit
        }
    }

    /// Our own `server.<myid>` entry, if any.
    pub fn my_server(&self) -> Option<&super::quorum::QuorumServer> {
        self.server_id.and_then(|id| self.quorum.servers.get(&id))
    }
}

/// Inputs for [`parse_zoo_cfg`] that come from outside zoo.cfg.
#[derive(Debug, Clone, Default)]
pub struct ExternalInputs {
    /// `-D` properties (JVMFLAGS etc.).
    pub jvm_properties: SystemProperties,
    /// Content and label of the dynamic config file, when zoo.cfg names one.
    pub dynamic: Option<(String, Properties)>,
    /// Content and label of `<cfg>.dynamic.next`, if present.
    pub dynamic_next: Option<(String, Properties)>,
    /// The myid value (already read from `dataDir/myid`).
    pub myid: Option<i64>,
}

/// Values gathered from zoo.cfg before the cross-key checks.
struct Raw {
    client_port: Option<(u16, usize)>,
    client_port_address: Option<(String, usize)>,
    secure_client_port: Option<(u16, usize)>,
    secure_client_port_address: Option<(String, usize)>,
    observer_master_port: i32,
    data_dir: Option<String>,
    data_log_dir: Option<String>,
    min_session_timeout: Option<i32>,
    max_session_timeout: Option<i32>,
    snap_retain_line: usize,
}

/// Parses a static zoo.cfg (phase 1): everything except what needs files named inside it.
///
/// Returns the config plus the `dynamicConfigFile` and `dataDir` the caller must read
/// (dynamic file, `myid`) before calling [`finish_zoo_cfg`].
pub fn parse_static(
    file: &str,
    text: &str,
    props: &Properties,
    jvm: &SystemProperties,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ZooCfg, ConfigError> {
    let mut sys = jvm.clone();
    let jvm_multi = sys
        .value("zookeeper.multiAddress.enabled")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    let jvm_reach = sys
        .value("zookeeper.multiAddress.reachabilityCheckEnabled")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(true);
    let jvm_reach_timeout = sys
        .value("zookeeper.multiAddress.reachabilityCheckTimeoutMs")
        .and_then(parse_java_int)
        .unwrap_or(1000);

    let mut cfg = ZooCfg {
        config_file: file.to_string(),
        tick_time: DEFAULT_TICK_TIME,
        init_limit: 0,
        sync_limit: 0,
        connect_to_learner_master_limit: 0,
        data_dir: PathBuf::new(),
        data_log_dir: PathBuf::new(),
        client_port_address: None,
        secure_client_port_address: None,
        client_port_listen_backlog: -1,
        observer_master_port: None,
        max_client_cnxns: 60,
        min_session_timeout: -1,
        max_session_timeout: -1,
        election_alg: 3,
        quorum_listen_on_all_ips: false,
        peer_type: LearnerType::Participant,
        standalone_enabled: true,
        reconfig_enabled: false,
        dynamic_config_file: None,
        local_sessions_enabled: false,
        local_sessions_upgrading_enabled: false,
        sync_enabled: true,
        autopurge_snap_retain_count: 3,
        autopurge_purge_interval_hours: 0,
        multi_address_enabled: jvm_multi,
        multi_address_reachability_check_enabled: jvm_reach,
        multi_address_reachability_check_timeout_ms: jvm_reach_timeout,
        ssl_quorum: false,
        port_unification: false,
        ssl_quorum_reload_cert_files: false,
        quorum_enable_sasl: false,
        quorum_server_require_sasl: false,
        quorum_learner_require_sasl: false,
        quorum_service_principal: "zkquorum/localhost".into(),
        quorum_learner_login_context: "QuorumLearner".into(),
        quorum_server_login_context: "QuorumServer".into(),
        quorum_cnxn_threads_size: 0,
        jvm_pause_monitor: false,
        jvm_pause_info_threshold_ms: 1000,
        jvm_pause_warn_threshold_ms: 10000,
        jvm_pause_sleep_time_ms: 500,
        metrics_provider_class_name: DEFAULT_METRICS_PROVIDER.into(),
        metrics_provider_config: BTreeMap::new(),
        oracle_path: None,
        quorum: QuorumConfig::default(),
        membership_source: MembershipSource::StaticFile,
        last_seen_quorum: None,
        server_id: None,
        settings: ServerSettings::from_properties(&SystemProperties::new(), &mut Vec::new())?,
        system_properties: SystemProperties::new(),
        initial_config: text.to_string(),
    };
    let mut raw = Raw {
        client_port: None,
        client_port_address: None,
        secure_client_port: None,
        secure_client_port_address: None,
        observer_master_port: 0,
        data_dir: None,
        data_log_dir: None,
        min_session_timeout: None,
        max_session_timeout: None,
        snap_retain_line: 0,
    };
    let has_dynamic = props.contains_key("dynamicConfigFile");
    let mut allow_empty_from_cfg: Option<bool> = None;

    for e in props.iter() {
        let key = java_trim(&e.key);
        let value = java_trim(&e.value);
        let line = e.line;
        let loc = || Location::line(file, line);
        let int = || -> Result<i32, ConfigError> {
            parse_java_int(value).ok_or_else(|| ConfigError::InvalidValue {
                key: key.to_string(),
                value: value.to_string(),
                location: loc(),
                reason: "expected an integer".into(),
            })
        };
        let long = || -> Result<i64, ConfigError> {
            parse_java_long(value).ok_or_else(|| ConfigError::InvalidValue {
                key: key.to_string(),
                value: value.to_string(),
                location: loc(),
                reason: "expected an integer".into(),
            })
        };
        let port = || -> Result<u16, ConfigError> {
            let v = int()?;
            u16::try_from(v).map_err(|_| ConfigError::InvalidValue {
                key: key.to_string(),
                value: value.to_string(),
                location: loc(),
                reason: format!("port out of range:{v}"),
            })
        };
        let boolean = || -> Result<bool, ConfigError> {
            if value.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if value.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                Err(ConfigError::InvalidValue {
                    key: key.to_string(),
                    value: value.to_string(),
                    location: loc(),
                    reason: format!("Invalid option {value} for {key}. Choose 'true' or 'false.'"),
                })
            }
        };
        match key {
            "dataDir" => {
                warn_relative(key, value, loc(), warnings);
                raw.data_dir = Some(value.to_string());
            }
            "dataLogDir" => {
                warn_relative(key, value, loc(), warnings);
                raw.data_log_dir = Some(value.to_string());
            }
            "clientPort" => raw.client_port = Some((port()?, line)),
            "localSessionsEnabled" => cfg.local_sessions_enabled = boolean()?,
            "localSessionsUpgradingEnabled" => cfg.local_sessions_upgrading_enabled = boolean()?,
            "clientPortAddress" => raw.client_port_address = Some((value.to_string(), line)),
            "secureClientPort" => raw.secure_client_port = Some((port()?, line)),
            "secureClientPortAddress" => {
                raw.secure_client_port_address = Some((value.to_string(), line))
            }
            "observerMasterPort" => {
                let v = int()?;
                if v > 0 {
                    port()?;
                }
                raw.observer_master_port = v;
            }
            "clientPortListenBacklog" => cfg.client_port_listen_backlog = int()?,
            "tickTime" => cfg.tick_time = int()?,
            "maxClientCnxns" => cfg.max_client_cnxns = int()?,
            "minSessionTimeout" => raw.min_session_timeout = Some(int()?),
            "maxSessionTimeout" => raw.max_session_timeout = Some(int()?),
            "initLimit" => cfg.init_limit = int()?,
            "syncLimit" => cfg.sync_limit = int()?,
            "connectToLearnerMasterLimit" => cfg.connect_to_learner_master_limit = int()?,
            "electionAlg" => {
                let v = int()?;
                if v != 3 {
                    return Err(ConfigError::InvalidValue {
                        key: key.into(),
                        value: value.into(),
                        location: loc(),
                        reason: "Invalid electionAlg value. Only 3 is supported.".into(),
                    });
                }
                cfg.election_alg = v;
            }
            "quorumListenOnAllIPs" => cfg.quorum_listen_on_all_ips = boolean()?,
            "peerType" => {
                cfg.peer_type = match value.to_ascii_lowercase().as_str() {
                    "observer" => LearnerType::Observer,
                    "participant" => LearnerType::Participant,
                    _ => {
                        return Err(ConfigError::InvalidValue {
                            key: key.into(),
                            value: value.into(),
                            location: loc(),
                            reason: format!("Unrecognised peertype: {value}"),
                        })
                    }
                }
            }
            "syncEnabled" => cfg.sync_enabled = boolean()?,
            "dynamicConfigFile" => cfg.dynamic_config_file = Some(PathBuf::from(value)),
            "autopurge.snapRetainCount" => {
                cfg.autopurge_snap_retain_count = int()?;
                raw.snap_retain_line = line;
            }
            "autopurge.purgeInterval" => cfg.autopurge_purge_interval_hours = int()?,
            "standaloneEnabled" => cfg.standalone_enabled = boolean()?,
            "reconfigEnabled" => cfg.reconfig_enabled = boolean()?,
            "sslQuorum" => cfg.ssl_quorum = boolean()?,
            "portUnification" => cfg.port_unification = boolean()?,
            "sslQuorumReloadCertFiles" => cfg.ssl_quorum_reload_cert_files = boolean()?,
            _ if (key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight"))
                && has_dynamic =>
            {
                return Err(ConfigError::Invalid {
                    key: Some(key.to_string()),
                    location: loc(),
                    message: format!("parameter: {key} must be in a separate dynamic config file"),
                });
            }
            "quorum.auth.enableSasl" => cfg.quorum_enable_sasl = boolean()?,
            "quorum.auth.serverRequireSasl" => cfg.quorum_server_require_sasl = boolean()?,
            "quorum.auth.learnerRequireSasl" => cfg.quorum_learner_require_sasl = boolean()?,
            "quorum.auth.learner.saslLoginContext" => {
                cfg.quorum_learner_login_context = value.to_string()
            }
            "quorum.auth.server.saslLoginContext" => {
                cfg.quorum_server_login_context = value.to_string()
            }
            "quorum.auth.kerberos.servicePrincipal" => {
                cfg.quorum_service_principal = value.to_string()
            }
            "quorum.cnxn.threads.size" => cfg.quorum_cnxn_threads_size = int()?,
            "jvm.pause.info-threshold.ms" => cfg.jvm_pause_info_threshold_ms = long()?,
            "jvm.pause.warn-threshold.ms" => cfg.jvm_pause_warn_threshold_ms = long()?,
            "jvm.pause.sleep.time.ms" => cfg.jvm_pause_sleep_time_ms = long()?,
            "jvm.pause.monitor" => cfg.jvm_pause_monitor = boolean()?,
            "metricsProvider.className" => cfg.metrics_provider_class_name = value.to_string(),
            _ if key.starts_with("metricsProvider.") => {
                let sub = &key["metricsProvider.".len()..];
                cfg.metrics_provider_config
                    .insert(sub.to_string(), value.to_string());
            }
            "multiAddress.enabled" => cfg.multi_address_enabled = boolean()?,
            "multiAddress.reachabilityCheckTimeoutMs" => {
                cfg.multi_address_reachability_check_timeout_ms = int()?
            }
            "multiAddress.reachabilityCheckEnabled" => {
                cfg.multi_address_reachability_check_enabled = boolean()?
            }
            "oraclePath" => cfg.oracle_path = Some(PathBuf::from(value)),
            ALLOW_EMPTY_LEADER_ELECTION_KEY => allow_empty_from_cfg = Some(boolean()?),
            _ => {
                // Java: System.setProperty("zookeeper." + key, value) — overrides any -D.
                let membership = key.starts_with("server.")
                    || key.starts_with("group")
                    || key.starts_with("weight")
                    || key == "version";
                if key == "jute.maxbuffer" || key == "readonlymode.enabled" {
                    warnings.push(ConfigWarning::at(
                        loc(),
                        key,
                        format!(
                            "{key} in zoo.cfg has no effect (ZooKeeper only reads the JVM property); \
                             pass -D{key}={value} in SERVER_JVMFLAGS or JVMFLAGS"
                        ),
                    ));
                } else if key.starts_with("zookeeper.") {
                    warnings.push(ConfigWarning::at(
                        loc(),
                        key,
                        format!(
                            "{key} in zoo.cfg has no effect (it would become zookeeper.{key}); \
                             write it without the 'zookeeper.' prefix"
                        ),
                    ));
                } else if !membership && !is_known_forwarded(key) {
                    warnings.push(ConfigWarning::at(
                        loc(),
                        key,
                        format!(
                            "unknown configuration key '{key}' (kept as system property zookeeper.{key})"
                        ),
                    ));
                }
                let prop = format!("zookeeper.{key}");
                if let Some(prev) = sys.get(&prop) {
                    if prev.origin == PropertyOrigin::JvmFlag && prev.value != value {
                        warnings.push(ConfigWarning::at(
                            loc(),
                            key,
                            format!(
                                "{key}={value} in zoo.cfg overrides -D{prop}={} (as in ZooKeeper)",
                                prev.value
                            ),
                        ));
                    }
                }
                sys.set(
                    &prop,
                    value,
                    PropertyOrigin::ZooCfg {
                        file: file.to_string(),
                        line,
                    },
                );
            }
        }
    }
    // -Dzookeeper.<key> for a key QuorumPeerConfig reads only from zoo.cfg does nothing.
    for (name, p) in jvm.iter() {
        if let Some(k) = name.strip_prefix("zookeeper.") {
            if DIRECT_KEYS.contains(&k) && p.origin == PropertyOrigin::JvmFlag {
                warnings.push(ConfigWarning::at(
                    Location::file("JVMFLAGS"),
                    name,
                    format!("-D{name} has no effect: {k} is only read from zoo.cfg"),
                ));
            }
        }
    }

    let whole = Location::file(file);
    let key_loc = |k: &str| {
        props
            .get(k)
            .map(|e| Location::line(file, e.line))
            .unwrap_or_else(|| whole.clone())
    };
    // SASL consistency (Java throws IllegalArgumentException).
    if !cfg.quorum_enable_sasl && cfg.quorum_server_require_sasl {
        return Err(invalid(
            "quorum.auth.serverRequireSasl",
            key_loc("quorum.auth.serverRequireSasl"),
            "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl",
        ));
    }
    if !cfg.quorum_enable_sasl && cfg.quorum_learner_require_sasl {
        return Err(invalid(
            "quorum.auth.learnerRequireSasl",
            key_loc("quorum.auth.learnerRequireSasl"),
            "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl",
        ));
    }
    if !cfg.quorum_learner_require_sasl && cfg.quorum_server_require_sasl {
        return Err(invalid(
            "quorum.auth.serverRequireSasl",
            key_loc("quorum.auth.serverRequireSasl"),
            "quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl",
        ));
    }
    if cfg.autopurge_snap_retain_count < 3 {
        warnings.push(ConfigWarning::at(
            Location::line(file, raw.snap_retain_line),
            "autopurge.snapRetainCount",
            format!(
                "Invalid autopurge.snapRetainCount: {}. Defaulting to 3",
                cfg.autopurge_snap_retain_count
            ),
        ));
        cfg.autopurge_snap_retain_count = 3;
    }
    let Some(data_dir) = raw.data_dir else {
        return Err(ConfigError::Missing {
            key: "dataDir".into(),
            location: whole,
        });
    };
    cfg.data_dir = PathBuf::from(&data_dir);
    cfg.data_log_dir = PathBuf::from(raw.data_log_dir.unwrap_or(data_dir));

    match (raw.client_port, &raw.client_port_address) {
        (None, Some((_, line))) => {
            return Err(invalid(
                "clientPortAddress",
                Location::line(file, *line),
                "clientPortAddress is set but clientPort is not set",
            ))
        }
        (Some((p, _)), Some((addr, _))) => {
            cfg.client_port_address = Some(HostPort::new(addr, p));
        }
        (Some((p, _)), None) => cfg.client_port_address = Some(HostPort::any(p)),
        (None, None) => {}
    }
    match (raw.secure_client_port, &raw.secure_client_port_address) {
        (None, Some((_, line))) => {
            return Err(invalid(
                "secureClientPortAddress",
                Location::line(file, *line),
                "secureClientPortAddress is set but secureClientPort is not set",
            ))
        }
        (Some((p, _)), Some((addr, _))) => {
            cfg.secure_client_port_address = Some(HostPort::new(addr, p));
        }
        (Some((p, _)), None) => cfg.secure_client_port_address = Some(HostPort::any(p)),
        (None, None) => {}
    }
    if raw.observer_master_port > 0 {
        cfg.observer_master_port = u16::try_from(raw.observer_master_port).ok();
    }
    if cfg.tick_time == 0 {
        return Err(invalid(
            "tickTime",
            key_loc("tickTime"),
            "tickTime is not set",
        ));
    }
    cfg.min_session_timeout = raw
        .min_session_timeout
        .filter(|&v| v != -1)
        .unwrap_or(cfg.tick_time.saturating_mul(2));
    cfg.max_session_timeout = raw
        .max_session_timeout
        .filter(|&v| v != -1)
        .unwrap_or(cfg.tick_time.saturating_mul(20));
    if cfg.min_session_timeout > cfg.max_session_timeout {
        return Err(invalid(
            "minSessionTimeout",
            key_loc("minSessionTimeout"),
            &format!(
                "minSessionTimeout must not be larger than maxSessionTimeout ({} > {})",
                cfg.min_session_timeout, cfg.max_session_timeout
            ),
        ));
    }
    const KNOWN_PROVIDERS: &[&str] = &[
        DEFAULT_METRICS_PROVIDER,
        "org.apache.zookeeper.metrics.impl.NullMetricsProvider",
        "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
    ];
    if !KNOWN_PROVIDERS.contains(&cfg.metrics_provider_class_name.as_str()) {
        warnings.push(ConfigWarning::at(
            key_loc("metricsProvider.className"),
            "metricsProvider.className",
            format!(
                "metrics provider class {} is not known to ferrokeeper; using the default provider",
                cfg.metrics_provider_class_name
            ),
        ));
    }

    // -D / forwarded properties, typed.
    cfg.settings = ServerSettings::from_properties(&sys, warnings)?;
    if let Some(v) = allow_empty_from_cfg {
        cfg.settings.allow_empty_leader_election = v;
    }
    cfg.system_properties = sys;

    if cfg.dynamic_config_file.is_none() {
        let opts = QuorumParseOptions {
            standalone_enabled: cfg.standalone_enabled,
            multi_address_enabled: cfg.multi_address_enabled || jvm_multi,
            backward_compatibility: true,
            warnings: true,
            membership_checks: true,
        };
        cfg.quorum = QuorumConfig::parse(props, file, opts, warnings)?;
    }
    Ok(cfg)
}

/// Phase 2: dynamic file, myid, client port reconciliation, peer type and validity checks.
pub fn finish_zoo_cfg(
    mut cfg: ZooCfg,
    dynamic: Option<(String, Properties)>,
    dynamic_next: Option<(String, Properties)>,
    myid: Option<i64>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ZooCfg, ConfigError> {
    let multi = cfg.multi_address_enabled || cfg.settings.multi_address_enabled_property;
    if let Some((label, props)) = dynamic {
        if let Some(e) = props.get("version") {
            return Err(invalid(
                "version",
                Location::line(&label, e.line),
                "dynamic file shouldn't have version inside",
            ));
        }
        let opts = QuorumParseOptions {
            standalone_enabled: cfg.standalone_enabled,
            multi_address_enabled: multi,
            backward_compatibility: false,
            warnings: true,
            membership_checks: true,
        };
        let mut q = QuorumConfig::parse(&props, &label, opts, warnings)?;
        if let Some(v) = super::quorum::version_from_filename(&label) {
            q.version = v;
        }
        cfg.quorum = q;
        cfg.membership_source = MembershipSource::DynamicFile(PathBuf::from(label));
        if let Some((next_label, next_props)) = dynamic_next {
            let opts = QuorumParseOptions {
                standalone_enabled: cfg.standalone_enabled,
                multi_address_enabled: multi,
                backward_compatibility: true,
                warnings: false,
                membership_checks: false,
            };
            match QuorumConfig::parse(&next_props, &next_label, opts, warnings) {
                Ok(q) => cfg.last_seen_quorum = Some(q),
                Err(e) => warnings.push(ConfigWarning::general(format!(
                    "ignoring {next_label}: {e}"
                ))),
            }
        }
    }

    cfg.server_id = myid;
    // setupClientPort
    if let Some(id) = myid {
        let static_addr = cfg.client_port_address.clone();
        if let Some(qs) = cfg.quorum.servers.get_mut(&id) {
            if let (Some(s), Some(q)) = (&static_addr, &qs.client_addr) {
                let conflict = if s.is_wildcard() {
                    s.port != q.port
                } else {
                    !s.same_address(q)
                };
                if conflict {
                    let message = format!(
                        "client address for this server (id = {id}) in static config file is {s} \
                         is different from client address found in dynamic file: {q}"
                    );
                    let location = qs
                        .location
                        .clone()
                        .unwrap_or_else(|| Location::file(&cfg.config_file));
                    return Err(ConfigError::Invalid {
                        key: Some(format!("server.{id}")),
                        location,
                        message,
                    });
                }
            }
            if let Some(q) = &qs.client_addr {
                cfg.client_port_address = Some(q.clone());
            } else {
                qs.client_addr = static_addr;
                qs.client_addr_from_static = true;
            }
        }
    }
    // setupPeerType
    let by_list = match myid.and_then(|id| cfg.quorum.servers.get(&id)) {
        Some(s) if s.learner_type == LearnerType::Observer => LearnerType::Observer,
        _ => LearnerType::Participant,
    };
    if by_list != cfg.peer_type {
        warnings.push(ConfigWarning::general(format!(
            "Peer type from servers list ({by_list}) doesn't match peerType ({}). Defaulting to servers list.",
            cfg.peer_type
        )));
        cfg.peer_type = by_list;
    }
    // checkValidity
    if cfg.is_distributed() {
        let file = cfg.config_file.clone();
        if cfg.init_limit == 0 {
            return Err(ConfigError::Missing {
                key: "initLimit".into(),
                location: Location::file(&file),
            });
        }
        if cfg.sync_limit == 0 {
            return Err(ConfigError::Missing {
                key: "syncLimit".into(),
                location: Location::file(&file),
            });
        }
        if cfg.server_id.is_none() {
            return Err(ConfigError::Invalid {
                key: None,
                location: Location::file(&cfg.data_dir.join("myid").to_string_lossy()),
                message: "myid file is missing".into(),
            });
        }
    }
    Ok(cfg)
}

/// One-shot parse of zoo.cfg text with in-memory externals (no file system access).
///
/// Used by tests and tools; [`crate::config::load_config`] does the same with real files.
pub fn parse_zoo_cfg(
    file: &str,
    text: &str,
    ext: ExternalInputs,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ZooCfg, ConfigError> {
    let props = Properties::parse(text).map_err(|e| ConfigError::Syntax {
        location: Location::line(file, e.line),
        message: e.message,
    })?;
    let cfg = parse_static(file, text, &props, &ext.jvm_properties, warnings)?;
    finish_zoo_cfg(cfg, ext.dynamic, ext.dynamic_next, ext.myid, warnings)
}

fn invalid(key: &str, location: Location, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: Some(key.to_string()),
        location,
        message: message.to_string(),
    }
}

fn warn_relative(key: &str, value: &str, loc: Location, warnings: &mut Vec<ConfigWarning>) {
    if !value.starts_with('/') && !value.starts_with("./") {
        warnings.push(ConfigWarning::at(
            loc,
            key,
            format!("{value} is relative. Prepend ./ to indicate that you're sure!"),
        ));
    }
}

fn is_known_forwarded(key: &str) -> bool {
    KNOWN_FORWARDED_KEYS.contains(&key)
        || KNOWN_FORWARDED_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn origin_location(origin: &PropertyOrigin) -> Location {
    match origin {
        PropertyOrigin::JvmFlag => Location::file("JVMFLAGS"),
        PropertyOrigin::Launcher => Location::file("environment"),
        PropertyOrigin::ZooCfg { file, line } => Location::line(file, *line),
    }
}

/// Display name of a property: the zoo.cfg key when it came from zoo.cfg, else `-D` name.
fn display_key(name: &str, origin: &PropertyOrigin) -> String {
    match origin {
        PropertyOrigin::ZooCfg { .. } => name.strip_prefix("zookeeper.").unwrap_or(name).into(),
        _ => name.to_string(),
    }
}

struct Getter<'a> {
    sys: &'a SystemProperties,
    warnings: &'a mut Vec<ConfigWarning>,
}

impl Getter<'_> {
    fn string(&self, name: &str) -> Option<String> {
        self.sys.value(name).map(str::to_string)
    }

    /// `Boolean.getBoolean` / `Boolean.parseBoolean(getProperty(name, default))`.
    fn java_bool(&self, name: &str, default: bool) -> bool {
        match self.sys.value(name) {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => default,
        }
    }

    /// `!getProperty(name, "yes").equals("no")`.
    fn not_no(&self, name: &str) -> bool {
        self.sys.value(name) != Some("no")
    }

    fn warn_bad(&mut self, name: &str, what: &str, default: &str) {
        if let Some(p) = self.sys.get(name) {
            let key = display_key(name, &p.origin);
            self.warnings.push(ConfigWarning::at(
                origin_location(&p.origin),
                &key,
                format!(
                    "invalid value '{}' for {key} ({what}); using the default {default} as ZooKeeper does",
                    p.value
                ),
            ));
        }
    }

    /// `Integer.getInteger(name, default)`: unparsable ⇒ default (warned here).
    fn int(&mut self, name: &str, default: i32) -> i32 {
        match self.sys.value(name) {
            None => default,
            Some(v) => match parse_java_int(java_trim(v)) {
                Some(i) => i,
                None => {
                    self.warn_bad(name, "expected an integer", &default.to_string());
                    default
                }
            },
        }
    }

    /// `Long.getLong(name, default)`.
    fn long(&mut self, name: &str, default: i64) -> i64 {
        match self.sys.value(name) {
            None => default,
            Some(v) => match parse_java_long(java_trim(v)) {
                Some(i) => i,
                None => {
                    self.warn_bad(name, "expected an integer", &default.to_string());
                    default
                }
            },
        }
    }
}

impl ServerSettings {
    /// Derives the typed settings from the effective system properties.
    ///
    /// Only `zookeeper.cnxTimeout` is fatal when malformed (Java's `Integer.parseInt` there
    /// throws during startup); every other malformed value falls back to its default with a
    /// warning, as the Java readers do.
    pub fn from_properties(
        sys: &SystemProperties,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Self, ConfigError> {
        let mut g = Getter { sys, warnings };
        let mut snap_count = g.int("zookeeper.snapCount", 100_000);
        if snap_count < 2 {
            g.warn_bad("zookeeper.snapCount", "must be 2 or more", "2");
            snap_count = 2;
        }
        let txn = g.long("zookeeper.txnLogSizeLimitInKb", -1);
        let pre_alloc = g.long("zookeeper.preAllocSize", 65536);
        let readonly = g.java_bool("readonlymode.enabled", false);
        let bind_retry = match g.int("zookeeper.electionPortBindRetry", 3) {
            v if v < 0 => {
                g.warn_bad("zookeeper.electionPortBindRetry", "must be >= 0", "3");
                3
            }
            v => v,
        };
        let cnx_timeout = match sys.get("zookeeper.cnxTimeout") {
            None => 5000,
            Some(p) => {
                parse_java_int(java_trim(&p.value)).ok_or_else(|| ConfigError::InvalidValue {
                    key: display_key("zookeeper.cnxTimeout", &p.origin),
                    value: p.value.clone(),
                    location: origin_location(&p.origin),
                    reason: "expected an integer (milliseconds)".into(),
                })?
            }
        };
        let compression = match g.string("zookeeper.snapshot.compression.method") {
            None => SnapshotCompression::None,
            Some(v) if v.is_empty() => SnapshotCompression::None,
            Some(v) if v.eq_ignore_ascii_case("gz") => SnapshotCompression::Gzip,
            Some(v) if v.eq_ignore_ascii_case("snappy") => SnapshotCompression::Snappy,
            Some(_) => {
                g.warn_bad(
                    "zookeeper.snapshot.compression.method",
                    "expected gz, snappy or empty",
                    "(no compression)",
                );
                SnapshotCompression::None
            }
        };
        let mut commit_log_count = g.int("zookeeper.commitLogCount", 500);
        if commit_log_count < 500 {
            g.warn_bad("zookeeper.commitLogCount", "must be at least 500", "500");
            commit_log_count = 500;
        }
        let factor = match g.string("zookeeper.snapshotSizeFactor") {
            None => 0.33,
            Some(v) => match java_trim(&v).parse::<f64>() {
                Ok(f) if f > 1.0 => {
                    g.warn_bad("zookeeper.snapshotSizeFactor", "must not exceed 1", "0.33");
                    0.33
                }
                Ok(f) => f,
                Err(_) => {
                    g.warn_bad("zookeeper.snapshotSizeFactor", "expected a number", "0.33");
                    0.33
                }
            },
        };
        let allow_empty = g.java_bool(ALLOW_EMPTY_LEADER_ELECTION_KEY, false)
            || g.java_bool(
                &format!("zookeeper.{ALLOW_EMPTY_LEADER_ELECTION_KEY}"),
                false,
            );
        Ok(ServerSettings {
            snap_count,
            snap_size_limit_kb: g.long("zookeeper.snapSizeLimitInKb", 4_194_304),
            txn_log_size_limit_kb: if txn > 0 { Some(txn) } else { None },
            pre_alloc_size_kb: pre_alloc,
            force_sync: g.not_no("zookeeper.forceSync"),
            four_letter_words: FourLetterWhitelist::from_property(
                sys.value("zookeeper.4lw.commands.whitelist"),
                sys.value("readonlymode.enabled") == Some("true"),
            ),
            admin: AdminSettings {
                enable_server: sys.value("zookeeper.admin.enableServer") != Some("false"),
                server_address: g
                    .string("zookeeper.admin.serverAddress")
                    .unwrap_or_else(|| "0.0.0.0".into()),
                server_port: g.int("zookeeper.admin.serverPort", 8080),
                command_url: g
                    .string("zookeeper.admin.commandURL")
                    .unwrap_or_else(|| "/commands".into()),
                idle_timeout_ms: g.int("zookeeper.admin.idleTimeout", 30000),
                http_version: g.int("zookeeper.admin.httpVersion", 11),
                port_unification: g.java_bool("zookeeper.admin.portUnification", false),
                force_https: g.java_bool("zookeeper.admin.forceHttps", false),
                need_client_auth: g.java_bool("zookeeper.admin.needClientAuth", false),
            },
            election_port_bind_retry: bind_retry,
            cnx_timeout_ms: cnx_timeout,
            tcp_keep_alive: g.java_bool("zookeeper.tcpKeepAlive", false),
            client_tcp_keep_alive: g.java_bool("zookeeper.clientTcpKeepAlive", false),
            digest_enabled: g.java_bool("zookeeper.digest.enabled", true),
            close_session_txn_enabled: g.java_bool("zookeeper.closeSessionTxn.enabled", true),
            extended_types_enabled: g.java_bool("zookeeper.extendedTypesEnabled", false),
            emulate_353_ttl_nodes: g.java_bool("zookeeper.emulate353TTLNodes", false),
            skip_acl: sys.value("zookeeper.skipACL") == Some("yes"),
            snapshot_compression: compression,
            snapshot_trust_empty: g.java_bool("zookeeper.snapshot.trust.empty", false),
            global_outstanding_limit: g.int("zookeeper.globalOutstandingLimit", 1000),
            commit_log_count,
            snapshot_size_factor: factor,
            leader_serves: g.not_no("zookeeper.leaderServes"),
            max_cnxns: g.int("zookeeper.maxCnxns", 0),
            server_cnxn_factory: g.string("zookeeper.serverCnxnFactory"),
            super_digest: g.string("zookeeper.DigestAuthenticationProvider.superDigest"),
            jute_max_buffer: g.int("jute.maxbuffer", 0xfffff),
            readonly_mode_enabled: readonly,
            datadir_autocreate: g.java_bool("zookeeper.datadir.autocreate", true),
            multi_address_enabled_property: g.java_bool("zookeeper.multiAddress.enabled", false),
            allow_empty_leader_election: allow_empty,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/data\n";

    fn parse(text: &str) -> Result<(ZooCfg, Vec<ConfigWarning>), ConfigError> {
        parse_ext(text, ExternalInputs::default())
    }

    fn parse_ext(
        text: &str,
        ext: ExternalInputs,
    ) -> Result<(ZooCfg, Vec<ConfigWarning>), ConfigError> {
        let mut w = Vec::new();
        parse_zoo_cfg("zoo.cfg", text, ext, &mut w).map(|c| (c, w))
    }

    fn err(text: &str) -> ConfigError {
        match parse(text) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e,
        }
    }

    fn with_myid(id: i64) -> ExternalInputs {
        ExternalInputs {
            myid: Some(id),
            ..Default::default()
        }
    }

    #[test]
    fn standalone_defaults() {
        let (c, w) = parse("tickTime=2000\ndataDir=/data\nclientPort=2181\n").unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tick_time, 2000);
        assert_eq!(c.min_session_timeout, 4000);
        assert_eq!(c.max_session_timeout, 40000);
        assert_eq!(c.data_log_dir, PathBuf::from("/data"));
        assert_eq!(c.client_port_address, Some(HostPort::any(2181)));
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(c.client_port_listen_backlog, -1);
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(c.autopurge_purge_interval_hours, 0);
        assert!(c.standalone_enabled);
        assert!(!c.reconfig_enabled);
        assert!(c.sync_enabled);
        assert_eq!(c.peer_type, LearnerType::Participant);
        assert_eq!(c.mode(), ServerMode::Standalone);
        assert_eq!(c.metrics_provider_class_name, DEFAULT_METRICS_PROVIDER);
        let s = &c.settings;
        assert_eq!(s.snap_count, 100_000);
        assert_eq!(s.snap_size_limit_kb, 4_194_304);
        assert_eq!(s.txn_log_size_limit_kb, None);
        assert_eq!(s.pre_alloc_size_kb, 65536);
        assert!(s.force_sync);
        assert!(s.admin.enable_server);
        assert_eq!(s.admin.server_port, 8080);
        assert_eq!(s.admin.server_address, "0.0.0.0");
        assert_eq!(s.admin.command_url, "/commands");
        assert_eq!(s.admin.idle_timeout_ms, 30000);
        assert_eq!(s.election_port_bind_retry, 3);
        assert_eq!(s.cnx_timeout_ms, 5000);
        assert!(s.digest_enabled);
        assert!(s.close_session_txn_enabled);
        assert!(!s.extended_types_enabled);
        assert!(!s.skip_acl);
        assert_eq!(s.snapshot_compression, SnapshotCompression::None);
        assert!(!s.snapshot_trust_empty);
        assert_eq!(s.global_outstanding_limit, 1000);
        assert_eq!(s.commit_log_count, 500);
        assert!((s.snapshot_size_factor - 0.33).abs() < 1e-9);
        assert!(s.leader_serves);
        assert_eq!(s.jute_max_buffer, 0xfffff);
        assert!(!s.readonly_mode_enabled);
        assert!(!s.allow_empty_leader_election);
        assert_eq!(
            s.four_letter_words.commands.iter().collect::<Vec<_>>(),
            vec!["srvr"]
        );
    }

    #[test]
    fn tick_time_default_and_zero() {
        let (c, _) = parse("dataDir=/d\n").unwrap();
        assert_eq!(c.tick_time, 3000);
        assert_eq!(c.min_session_timeout, 6000);
        let e = err("dataDir=/d\ntickTime=0\n");
        assert_eq!(e.to_string(), "zoo.cfg:2: tickTime is not set");
    }

    #[test]
    fn all_typed_keys() {
        let text = "tickTime=1000\ninitLimit=7\nsyncLimit=3\nconnectToLearnerMasterLimit=9\n\
            dataDir=/d\ndataLogDir=/l\nclientPort=2182\nclientPortAddress=127.0.0.1\n\
            secureClientPort=2281\nsecureClientPortAddress=::1\nclientPortListenBacklog=50\n\
            maxClientCnxns=0\nminSessionTimeout=1500\nmaxSessionTimeout=90000\nelectionAlg=3\n\
            quorumListenOnAllIPs=TRUE\npeerType=participant\nstandaloneEnabled=true\n\
            reconfigEnabled=true\nlocalSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n\
            syncEnabled=false\nautopurge.snapRetainCount=5\nautopurge.purgeInterval=24\n\
            observerMasterPort=2191\nmultiAddress.enabled=true\n\
            multiAddress.reachabilityCheckEnabled=false\nmultiAddress.reachabilityCheckTimeoutMs=200\n\
            metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
            metricsProvider.httpPort=7000\nmetricsProvider.exportJvmInfo=false\n\
            sslQuorum=true\nportUnification=true\nsslQuorumReloadCertFiles=true\n\
            quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
            quorum.auth.serverRequireSasl=true\nquorum.auth.kerberos.servicePrincipal=zk/_HOST\n\
            quorum.cnxn.threads.size=4\njvm.pause.monitor=true\njvm.pause.warn-threshold.ms=5\n\
            oraclePath=/o\nferrokeeper.allowEmptyLeaderElection=true\n\
            snapCount=5000\nsnapSizeLimitInKb=1024\ntxnLogSizeLimitInKb=2048\npreAllocSize=16384\n\
            forceSync=no\n4lw.commands.whitelist=ruok, mntr ,conf,\nadmin.enableServer=false\n\
            admin.serverPort=9090\nadmin.serverAddress=127.0.0.1\nadmin.commandURL=/cmd\n\
            admin.idleTimeout=100\nelectionPortBindRetry=0\ncnxTimeout=3000\ntcpKeepAlive=true\n\
            clientTcpKeepAlive=TRUE\ndigest.enabled=false\ncloseSessionTxn.enabled=false\n\
            extendedTypesEnabled=true\nskipACL=yes\nsnapshot.compression.method=SNAPPY\n\
            snapshot.trust.empty=true\nglobalOutstandingLimit=2000\ncommitLogCount=600\n\
            snapshotSizeFactor=0.5\nleaderServes=no\nmaxCnxns=100\n\
            DigestAuthenticationProvider.superDigest=super:abc=\n";
        let (c, w) = parse(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.connect_to_learner_master_limit, 9);
        assert_eq!(c.effective_connect_to_learner_master_limit(), 9);
        assert_eq!(c.data_log_dir, PathBuf::from("/l"));
        assert_eq!(
            c.client_port_address,
            Some(HostPort::new("127.0.0.1", 2182))
        );
        assert_eq!(
            c.secure_client_port_address,
            Some(HostPort::new("::1", 2281))
        );
        assert_eq!(c.client_port_listen_backlog, 50);
        assert_eq!(c.max_client_cnxns, 0);
        assert_eq!(
            (c.min_session_timeout, c.max_session_timeout),
            (1500, 90000)
        );
        assert!(c.quorum_listen_on_all_ips);
        assert!(
            c.reconfig_enabled && c.local_sessions_enabled && c.local_sessions_upgrading_enabled
        );
        assert!(!c.sync_enabled);
        assert_eq!(c.autopurge_snap_retain_count, 5);
        assert_eq!(c.autopurge_purge_interval_hours, 24);
        assert_eq!(c.observer_master_port, Some(2191));
        assert!(c.multi_address_enabled && !c.multi_address_reachability_check_enabled);
        assert_eq!(c.multi_address_reachability_check_timeout_ms, 200);
        assert_eq!(c.metrics_provider_config["httpPort"], "7000");
        assert!(c.ssl_quorum && c.port_unification && c.ssl_quorum_reload_cert_files);
        assert!(
            c.quorum_enable_sasl && c.quorum_server_require_sasl && c.quorum_learner_require_sasl
        );
        assert_eq!(c.quorum_service_principal, "zk/_HOST");
        assert_eq!(c.quorum_cnxn_threads_size, 4);
        assert!(c.jvm_pause_monitor);
        assert_eq!(c.jvm_pause_warn_threshold_ms, 5);
        assert_eq!(c.oracle_path, Some(PathBuf::from("/o")));
        let s = &c.settings;
        assert!(s.allow_empty_leader_election);
        assert_eq!(s.snap_count, 5000);
        assert_eq!(s.snap_size_limit_kb, 1024);
        assert_eq!(s.txn_log_size_limit_kb, Some(2048));
        assert_eq!(s.pre_alloc_size_kb, 16384);
        assert!(!s.force_sync);
        let wl: Vec<&str> = s
            .four_letter_words
            .commands
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(wl, vec!["conf", "mntr", "ruok", "srvr"]);
        assert!(!s.admin.enable_server);
        assert_eq!(s.admin.server_port, 9090);
        assert_eq!(s.admin.server_address, "127.0.0.1");
        assert_eq!(s.admin.command_url, "/cmd");
        assert_eq!(s.admin.idle_timeout_ms, 100);
        assert_eq!(s.election_port_bind_retry, 0);
        assert_eq!(s.cnx_timeout_ms, 3000);
        assert!(s.tcp_keep_alive && s.client_tcp_keep_alive);
        assert!(!s.digest_enabled && !s.close_session_txn_enabled);
        assert!(s.extended_types_enabled && s.skip_acl && s.snapshot_trust_empty);
        assert_eq!(s.snapshot_compression, SnapshotCompression::Snappy);
        assert_eq!(s.global_outstanding_limit, 2000);
        assert_eq!(s.commit_log_count, 600);
        assert!((s.snapshot_size_factor - 0.5).abs() < 1e-9);
        assert!(!s.leader_serves);
        assert_eq!(s.max_cnxns, 100);
        assert_eq!(s.super_digest.as_deref(), Some("super:abc="));
        // forwarded keys are visible as zookeeper.* system properties with their line
        let p = c.system_properties.get("zookeeper.snapCount").unwrap();
        assert_eq!(p.value, "5000");
        let expected_line = text
            .lines()
            .position(|l| l.trim_start().starts_with("snapCount="))
            .map(|i| i + 1);
        match &p.origin {
            PropertyOrigin::ZooCfg { line, .. } => assert_eq!(Some(*line), expected_line),
            other => panic!("unexpected origin {other:?}"),
        }
    }

    #[test]
    fn java_string_semantics_of_forwarded_flags() {
        // forceSync/skipACL/leaderServes compare exact strings; admin.enableServer only "false"
        let (c, _) = parse("dataDir=/d\nforceSync=NO\nskipACL=YES\nleaderServes=false\nadmin.enableServer=FALSE\ndigest.enabled=yes\n").unwrap();
        assert!(c.settings.force_sync);
        assert!(!c.settings.skip_acl);
        assert!(c.settings.leader_serves);
        assert!(c.settings.admin.enable_server);
        assert!(!c.settings.digest_enabled);
    }

    #[test]
    fn lenient_forwarded_numbers_warn() {
        let (c, w) =
            parse("dataDir=/d\nsnapCount=lots\ncommitLogCount=10\nsnapshotSizeFactor=2\n").unwrap();
        assert_eq!(c.settings.snap_count, 100_000);
        assert_eq!(c.settings.commit_log_count, 500);
        assert!((c.settings.snapshot_size_factor - 0.33).abs() < 1e-9);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].key.as_deref(), Some("snapCount"));
        assert!(w[0]
            .to_string()
            .starts_with("zoo.cfg:2: invalid value 'lots' for snapCount"));
        assert_eq!(w[1].location, Some(Location::line("zoo.cfg", 3)));
        let e = err("dataDir=/d\ncnxTimeout=soon\n");
        assert_eq!(e.key(), Some("cnxTimeout"));
        assert_eq!(e.line(), Some(2));
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let e = err("dataDir=/d\n\n# c\ntickTime=abc\n");
        assert_eq!(e.key(), Some("tickTime"));
        assert_eq!(e.line(), Some(4));
        assert_eq!(
            e.to_string(),
            "zoo.cfg:4: invalid value 'abc' for tickTime: expected an integer"
        );
        let e = err("dataDir=/d\nclientPort=70000\n");
        assert_eq!((e.key(), e.line()), (Some("clientPort"), Some(2)));
        let e = err("dataDir=/d\nsyncEnabled=yes\n");
        assert_eq!(
            e.to_string(),
            "zoo.cfg:2: invalid value 'yes' for syncEnabled: Invalid option yes for syncEnabled. Choose 'true' or 'false.'"
        );
        let e = err("dataDir=/d\nelectionAlg=1\n");
        assert!(e.to_string().contains("Only 3 is supported"));
        let e = err("dataDir=/d\npeerType=voter\n");
        assert!(e.to_string().contains("Unrecognised peertype: voter"));
        let e = err("dataDir=/d\njvm.pause.sleep.time.ms=x\n");
        assert_eq!(e.line(), Some(2));
        let e = err("dataDir=/d\nbad=\\u00zz\n");
        assert!(matches!(e, ConfigError::Syntax { .. }));
        assert_eq!(e.line(), Some(2));
        let e = err("dataDir=/d\nserver.1=a:1:1\n");
        assert_eq!((e.key(), e.line()), (Some("server.1"), Some(2)));
        assert!(e
            .to_string()
            .contains("Client and election port must be different"));
    }

    #[test]
    fn validity_rules() {
        assert_eq!(
            err("tickTime=2000\n").to_string(),
            "zoo.cfg: dataDir is not set"
        );
        let e = err("dataDir=/d\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n");
        assert_eq!((e.key(), e.line()), (Some("minSessionTimeout"), Some(2)));
        assert!(e.to_string().contains("must not be larger"));
        // default max (20*tick) smaller than explicit min
        let e = err("dataDir=/d\ntickTime=100\nminSessionTimeout=5000\n");
        assert!(e
            .to_string()
            .contains("minSessionTimeout must not be larger"));
        let e = err("dataDir=/d\nclientPortAddress=1.2.3.4\n");
        assert_eq!((e.key(), e.line()), (Some("clientPortAddress"), Some(2)));
        assert!(e
            .to_string()
            .contains("clientPortAddress is set but clientPort is not set"));
        let e = err("dataDir=/d\nsecureClientPortAddress=1.2.3.4\n");
        assert!(e.to_string().contains("secureClientPortAddress is set"));
        let e = err("dataDir=/d\nquorum.auth.serverRequireSasl=true\n");
        assert!(e.to_string().contains("quorum.auth.enableSasl is disabled"));
        let e =
            err("dataDir=/d\nquorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n");
        assert!(e.to_string().contains("learnerRequireSasl is disabled"));
        let e = err("dataDir=/d\ndynamicConfigFile=/d/dyn\nserver.1=a:1:2\n");
        assert!(e
            .to_string()
            .contains("must be in a separate dynamic config file"));
        assert_eq!(e.line(), Some(3));
    }

    #[test]
    fn unknown_keys_are_warnings() {
        let (c, w) =
            parse("dataDir=/d\nfooBar=1\nssl.keyStore.location=/k\nsnapCount=10\n").unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key.as_deref(), Some("fooBar"));
        assert_eq!(w[0].location, Some(Location::line("zoo.cfg", 2)));
        assert_eq!(c.system_properties.value("zookeeper.fooBar"), Some("1"));
        assert_eq!(
            c.system_properties.value("zookeeper.ssl.keyStore.location"),
            Some("/k")
        );
    }

    #[test]
    fn jvm_only_and_prefixed_keys_in_zoo_cfg_have_no_effect() {
        let (c, w) = parse("dataDir=/d\njute.maxbuffer=4000000\nzookeeper.snapCount=5\n").unwrap();
        assert_eq!(c.settings.jute_max_buffer, 0xfffff);
        assert_eq!(c.settings.snap_count, 100_000);
        assert_eq!(w.len(), 2);
        assert!(w[0].message.contains("-Djute.maxbuffer=4000000"));
        assert!(w[1].message.contains("without the 'zookeeper.' prefix"));
    }

    #[test]
    fn snap_retain_clamped_and_relative_paths() {
        let (c, w) = parse("dataDir=data\nautopurge.snapRetainCount=1\n").unwrap();
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(w.len(), 2);
        assert!(w[0].message.contains("is relative"));
        assert!(w[1].message.contains("Defaulting to 3"));
        let (_, w) = parse("dataDir=./data\n").unwrap();
        assert!(w.is_empty());
    }

    #[test]
    fn jvm_properties_and_zoo_cfg_precedence() {
        let jvm = SystemProperties::from_jvm_flags(
            "-Dzookeeper.snapCount=7 -Dzookeeper.skipACL=yes -Djute.maxbuffer=4194304 \
             -Dreadonlymode.enabled=true -Dzookeeper.DigestAuthenticationProvider.superDigest=super:x \
             -Dzookeeper.4lw.commands.whitelist=* -Dferrokeeper.allowEmptyLeaderElection=true",
        );
        let ext = ExternalInputs {
            jvm_properties: jvm,
            ..Default::default()
        };
        let (c, w) = parse_ext("dataDir=/d\nsnapCount=9\n", ext).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].message.contains("overrides -Dzookeeper.snapCount=7"));
        // zoo.cfg wins: QuorumPeerConfig calls System.setProperty after the JVM started
        assert_eq!(c.settings.snap_count, 9);
        assert!(c.settings.skip_acl);
        assert_eq!(c.settings.jute_max_buffer, 4_194_304);
        assert!(c.settings.readonly_mode_enabled);
        assert_eq!(c.settings.super_digest.as_deref(), Some("super:x"));
        assert!(c.settings.four_letter_words.allows("wchc"));
        assert!(c.settings.four_letter_words.allows("isro"));
        assert!(c.settings.allow_empty_leader_election);
        assert!(matches!(
            c.system_properties
                .get("zookeeper.skipACL")
                .map(|p| &p.origin),
            Some(PropertyOrigin::JvmFlag)
        ));
    }

    #[test]
    fn direct_keys_as_jvm_properties_warn() {
        let ext = ExternalInputs {
            jvm_properties: SystemProperties::from_jvm_flags("-Dzookeeper.tickTime=100"),
            ..Default::default()
        };
        let (c, w) = parse_ext("dataDir=/d\n", ext).unwrap();
        assert_eq!(c.tick_time, DEFAULT_TICK_TIME);
        assert!(w[0].message.contains("tickTime is only read from zoo.cfg"));
    }

    #[test]
    fn jvm_property_error_points_at_jvmflags() {
        let ext = ExternalInputs {
            jvm_properties: SystemProperties::from_jvm_flags("-Dzookeeper.cnxTimeout=x"),
            ..Default::default()
        };
        let e = parse_ext("dataDir=/d\n", ext).unwrap_err();
        assert_eq!(
            e.to_string(),
            "JVMFLAGS: invalid value 'x' for zookeeper.cnxTimeout: expected an integer (milliseconds)"
        );
    }

    const ENSEMBLE: &str =
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/data\nclientPort=2181\n\
        server.1=zk-0.zk:2888:3888\nserver.2=zk-1.zk:2888:3888\nserver.3=zk-2.zk:2888:3888\n\
        server.4=zk-3.zk:2888:3888:observer\n";

    #[test]
    fn distributed_ensemble() {
        let (c, w) = parse_ext(ENSEMBLE, with_myid(2)).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.mode(), ServerMode::Distributed);
        assert_eq!(c.server_id, Some(2));
        assert_eq!(c.quorum.voting_members().count(), 3);
        assert_eq!(c.quorum.observers().count(), 1);
        let me = c.my_server().unwrap();
        assert_eq!(me.client_addr, Some(HostPort::any(2181)));
        assert!(me.client_addr_from_static);
        // static client address is not printed in the config string
        assert!(c
            .quorum
            .to_config_string()
            .contains("server.2=zk-1.zk:2888:3888:participant\n"));
    }

    #[test]
    fn observer_peer_type_from_server_list() {
        let (c, w) = parse_ext(ENSEMBLE, with_myid(4)).unwrap();
        assert_eq!(c.peer_type, LearnerType::Observer);
        assert!(w[0].message.contains("Defaulting to servers list"));
        let (c, w) = parse_ext(&format!("{ENSEMBLE}peerType=observer\n"), with_myid(4)).unwrap();
        assert_eq!(c.peer_type, LearnerType::Observer);
        assert!(w.is_empty());
    }

    #[test]
    fn distributed_requires_myid_and_limits() {
        let e = parse_ext(ENSEMBLE, ExternalInputs::default()).unwrap_err();
        assert!(e.to_string().contains("myid file is missing"));
        let text = ENSEMBLE.replace("initLimit=10\n", "");
        let e = parse_ext(&text, with_myid(1)).unwrap_err();
        assert_eq!(e.to_string(), "zoo.cfg: initLimit is not set");
        let text = ENSEMBLE.replace("syncLimit=5\n", "");
        let e = parse_ext(&text, with_myid(1)).unwrap_err();
        assert_eq!(e.key(), Some("syncLimit"));
    }

    #[test]
    fn single_server_line_is_standalone_unless_disabled() {
        let text = "dataDir=/d\nserver.1=localhost:2888:3888;2181\n";
        let (c, w) = parse_ext(text, with_myid(1)).unwrap();
        assert_eq!(c.mode(), ServerMode::Standalone);
        // the official image writes no clientPort: the server line provides it
        assert_eq!(c.client_port_address, Some(HostPort::any(2181)));
        assert!(w[0].message.contains("only one server"));
        let text = format!("{BASE}standaloneEnabled=false\nserver.1=localhost:2888:3888;2181\n");
        let (c, _) = parse_ext(&text, with_myid(1)).unwrap();
        assert_eq!(c.mode(), ServerMode::Distributed);
    }

    #[test]
    fn client_address_conflict() {
        let text = format!("{BASE}clientPort=2181\nserver.1=a:2888:3888;2182\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n");
        let e = parse_ext(&text, with_myid(1)).unwrap_err();
        assert_eq!((e.key(), e.line()), (Some("server.1"), Some(6)));
        assert!(e.to_string().contains("is different from client address"));
        let text = format!("{BASE}clientPort=2181\nclientPortAddress=127.0.0.1\nserver.1=a:2888:3888;127.0.0.1:2181\nserver.2=b:2888:3888\n");
        assert!(parse_ext(&text, with_myid(1)).is_ok());
    }

    #[test]
    fn dynamic_file() {
        let text =
            format!("{BASE}clientPort=2181\ndynamicConfigFile=/conf/zoo.cfg.dynamic.100000000\n");
        let dynp = Properties::parse(
            "server.1=a:2888:3888:participant;2181\nserver.2=b:2888:3888:participant;2181\nserver.3=c:2888:3888:participant;2181\n",
        )
        .unwrap();
        let ext = ExternalInputs {
            dynamic: Some(("/conf/zoo.cfg.dynamic.100000000".into(), dynp)),
            myid: Some(3),
            ..Default::default()
        };
        let (c, _) = parse_ext(&text, ext).unwrap();
        assert_eq!(c.quorum.version, 0x1_0000_0000);
        assert_eq!(c.quorum.voting_members().count(), 3);
        assert!(matches!(
            c.membership_source,
            MembershipSource::DynamicFile(_)
        ));
        assert!(c.quorum.to_config_string().ends_with("version=100000000"));

        let bad = Properties::parse("server.1=a:2888:3888\nversion=5\n").unwrap();
        let ext = ExternalInputs {
            dynamic: Some(("/conf/zoo.cfg.dynamic".into(), bad)),
            myid: Some(1),
            ..Default::default()
        };
        let e = parse_ext(&text, ext).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/conf/zoo.cfg.dynamic:2: dynamic file shouldn't have version inside"
        );
    }

    #[test]
    fn multi_address_needs_enabling() {
        let text = format!("{BASE}server.1=a:1:2|b:1:2\nserver.2=c:1:2\nserver.3=d:1:2\n");
        let e = parse_ext(&text, with_myid(1)).unwrap_err();
        assert!(e
            .to_string()
            .contains("Multiple address feature is disabled"));
        let text = format!("multiAddress.enabled=true\n{text}");
        let (c, _) = parse_ext(&text, with_myid(1)).unwrap();
        assert_eq!(c.quorum.servers[&1].addresses.len(), 2);
    }

    #[test]
    fn ipv6_quorum_line() {
        let text = format!("{BASE}server.1=[fe80::1]:2888:3888:participant;[::1]:2181\nserver.2=[fe80::2]:2888:3888\nserver.3=[fe80::3]:2888:3888\n");
        let (c, _) = parse_ext(&text, with_myid(1)).unwrap();
        assert_eq!(c.client_port_address, Some(HostPort::new("::1", 2181)));
        assert_eq!(c.quorum.servers[&2].addresses[0].host, "fe80::2");
    }

    /// Expected strings were produced by Java ZooKeeper 3.8.0's `QuorumPeerConfig.parse` on
    /// the same input (`getQuorumVerifier().toString()`).
    #[test]
    fn config_strings_match_java() {
        let text = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/d1\n\
            server.1=[::1]:2888:3888:participant;[::1]:2181\nserver.2=[fe80::2]:2888:3888\n\
            server.3=b:2888:3888:observer\n";
        let (c, _) = parse_ext(text, with_myid(1)).unwrap();
        assert_eq!(
            c.quorum.to_config_string(),
            "server.1=[0:0:0:0:0:0:0:1]:2888:3888:participant;[0:0:0:0:0:0:0:1]:2181\n\
             server.2=[fe80:0:0:0:0:0:0:2]:2888:3888:participant\n\
             server.3=b:2888:3888:observer\nversion=0"
        );
        let text = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/d1\n\
            server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n\
            server.4=d:2888:3888\ngroup.1=1:2\ngroup.2=3:4\nweight.1=3\n";
        let (c, _) = parse_ext(text, with_myid(1)).unwrap();
        assert_eq!(
            c.quorum.to_config_string(),
            "server.1=a:2888:3888:participant\nserver.2=b:2888:3888:participant\n\
             server.3=c:2888:3888:participant\nserver.4=d:2888:3888:participant\n\
             group.1=1:2\ngroup.2=3:4\nweight.1=3\nweight.2=1\nweight.3=1\nweight.4=1\nversion=0"
        );
        let jvm = SystemProperties::from_jvm_flags("-Dzookeeper.multiAddress.enabled=true");
        let text = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/d1\n\
            server.1=b:2888:3888|a:2889:3889;2181\nserver.2=c:2888:3888\nserver.3=d:2888:3888\n";
        let ext = ExternalInputs {
            jvm_properties: jvm,
            myid: Some(1),
            ..Default::default()
        };
        let (c, _) = parse_ext(text, ext).unwrap();
        assert_eq!(
            c.quorum.to_config_string(),
            "server.1=a:2889:3889|b:2888:3888:participant;0.0.0.0:2181\n\
             server.2=c:2888:3888:participant\nserver.3=d:2888:3888:participant\nversion=0"
        );
    }

    #[test]
    fn whitespace_and_colon_separators() {
        let (c, _) = parse("  tickTime : 2500  \ndataDir   /d\nclientPort=\t2181\t\n").unwrap();
        assert_eq!(c.tick_time, 2500);
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.client_port_address, Some(HostPort::any(2181)));
    }
}
