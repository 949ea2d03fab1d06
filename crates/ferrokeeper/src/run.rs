//! `start-foreground`: turn the loaded configuration into server settings, recover the database,
//! serve until SIGTERM/SIGINT.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use server::auth::AclPolicy;
use server::persistence::{self, StorageSettings};
use server::settings::{FourLetterWhitelist, ServerSettings};
use storage::Compression;
use tracing::{info, warn};

use crate::config::zoo_cfg::SnapshotCompression;
use crate::config::{LoadedConfig, ServerMode};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The database could not be recovered (the message names the file and offset).
    #[error("cannot load the database: {0}")]
    Storage(#[from] storage::Error),
    /// A socket or thread could not be set up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A configuration the server cannot run (yet).
    #[error("{0}")]
    Unsupported(String),
}

/// Maps zoo.cfg + system properties onto the server's typed settings.
pub fn server_settings(cfg: &LoadedConfig) -> Result<ServerSettings, RunError> {
    let z = &cfg.zoo_cfg;
    let s = &z.settings;
    let addr = match &z.client_port_address {
        Some(hp) => resolve(hp.host.as_deref(), hp.port)?,
        None => return Err(RunError::Unsupported("no clientPort configured".into())),
    };
    let mut out = ServerSettings::standalone(addr, z.data_dir.clone());
    out.data_log_dir = z.data_log_dir.clone();
    out.tick_ms = z.tick_time.max(1) as u32;
    out.min_session_timeout_ms = z.min_session_timeout;
    out.max_session_timeout_ms = z.max_session_timeout;
    out.max_client_cnxns = z.max_client_cnxns.max(0) as usize;
    out.max_cnxns = s.max_cnxns.max(0) as usize;
    out.max_buffer = s.jute_max_buffer.max(1024) as usize;
    out.acl = AclPolicy {
        skip_acl: s.skip_acl,
        super_digest: s.super_digest.clone(),
    };
    out.extended_types_enabled = s.extended_types_enabled;
    out.reconfig_enabled = z.reconfig_enabled;
    out.close_session_txn_enabled = s.close_session_txn_enabled;
    out.four_letter_whitelist = if s.four_letter_words.commands.contains("*") {
        FourLetterWhitelist::All
    } else {
        FourLetterWhitelist::Only(s.four_letter_words.commands.iter().cloned().collect())
    };
    out.force_sync = s.force_sync;
    out.read_only_mode = s.readonly_mode_enabled;
    out.snap_count = s.snap_count.max(2) as u64;
    out.pre_alloc_size_kb = s.pre_alloc_size_kb.max(0) as u64;
    out.client_port_listen_backlog = z.client_port_listen_backlog;
    out.secure_client_port = z
        .secure_client_port_address
        .as_ref()
        .map(|h| h.port as i32)
        .unwrap_or(-1);
    if let Some(v) = z.system_properties.get("znode.container.checkIntervalMs") {
        if let Ok(ms) = v.value.trim().parse::<u64>() {
            out.container_check_interval_ms = ms;
        }
    }
    if let Some(v) = z.system_properties.get("znode.container.maxPerMinute") {
        if let Ok(n) = v.value.trim().parse::<u32>() {
            out.container_max_per_minute = n;
        }
    }
    operations_settings(cfg, &mut out)?;
    Ok(out)
}

/// The Java class name that turns on the Prometheus `/metrics` endpoint.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// AdminServer and Prometheus listeners (`admin.*`, `metricsProvider.*`).
fn operations_settings(cfg: &LoadedConfig, out: &mut ServerSettings) -> Result<(), RunError> {
    let z = &cfg.zoo_cfg;
    let a = &z.settings.admin;
    if a.enable_server {
        let port = u16::try_from(a.server_port).map_err(|_| {
            RunError::Unsupported(format!("admin.serverPort {} out of range", a.server_port))
        })?;
        out.admin = Some(server::admin::AdminHttp {
            addr: resolve(Some(a.server_address.as_str()), port)?,
            command_url: a.command_url.clone(),
        });
    }
    out.initial_config = std::fs::read_to_string(cfg.config_path()).ok();
    if z.metrics_provider_class_name == PROMETHEUS_PROVIDER {
        let get = |k: &str| {
            z.metrics_provider_config
                .get(k)
                .map(|v| v.trim().to_string())
        };
        let host = get("httpHost").unwrap_or_else(|| "0.0.0.0".into());
        let port = get("httpPort").unwrap_or_else(|| "7000".into());
        let port: u16 = port.parse().map_err(|_| {
            RunError::Unsupported(format!("metricsProvider.httpPort {port} is not a port"))
        })?;
        out.metrics_addr = Some(resolve(Some(host.as_str()), port)?);
    }
    Ok(())
}

fn resolve(host: Option<&str>, port: u16) -> Result<SocketAddr, RunError> {
    match host {
        None => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
        Some(h) => {
            if let Ok(ip) = h.parse::<IpAddr>() {
                return Ok(SocketAddr::new(ip, port));
            }
            (h, port).to_socket_addrs()?.next().ok_or_else(|| {
                RunError::Unsupported(format!("cannot resolve clientPortAddress {h}"))
            })
        }
    }
}

fn storage_settings(cfg: &LoadedConfig, st: &ServerSettings) -> StorageSettings {
    let s = &cfg.zoo_cfg.settings;
    StorageSettings {
        data_dir: st.data_dir.clone(),
        data_log_dir: st.data_log_dir.clone(),
        snap_count: st.snap_count,
        pre_alloc_size_kb: st.pre_alloc_size_kb,
        force_sync: st.force_sync,
        compression: match s.snapshot_compression {
            SnapshotCompression::None => Compression::None,
            SnapshotCompression::Gzip => Compression::Gzip,
            SnapshotCompression::Snappy => Compression::Snappy,
        },
        trust_empty: s.snapshot_trust_empty,
        autocreate: s.datadir_autocreate,
        extended_types: st.extended_types_enabled,
    }
}

/// Runs the server with a validated configuration until SIGTERM or SIGINT.
pub fn run_server(cfg: LoadedConfig) -> Result<(), RunError> {
    let distributed = matches!(cfg.mode, ServerMode::Distributed);
    let mut settings = server_settings(&cfg)?;
    let my_sid = cfg.zoo_cfg.server_id.unwrap_or(0);
    if distributed {
        // Session ids carry the server id in their top byte, as Java's.
        settings.session_server_id = my_sid;
    }
    let storage = storage_settings(&cfg, &settings);
    info!(
        version = %settings.version,
        config = %cfg.config_path().display(),
        client = %settings.client_addr,
        data_dir = %settings.data_dir.display(),
        data_log_dir = %settings.data_log_dir.display(),
        myid = my_sid,
        role = if distributed { "quorum" } else { "standalone" },
        admin = %settings.admin.as_ref().map_or("disabled".to_string(), |a| format!("http://{}{}", a.addr, a.command_url)),
        metrics = %settings.metrics_addr.map_or("disabled".to_string(), |a| format!("http://{a}/metrics")),
        "starting ferrokeeper"
    );
    let started = std::time::Instant::now();
    // Java starts its DatadirCleanupManager before it loads the database: purge first.
    start_autopurge(
        &cfg,
        &storage::DataDirs::open(
            &storage.data_dir,
            Some(&storage.data_log_dir),
            storage.autocreate,
        )?,
    );
    let recovered = persistence::recover(&storage)?;
    // Java snapshots the loaded state before it serves. A fresh directory gets its snapshot.0 at
    // once (logs without any snapshot would not load); after a replay the snapshot is taken in the
    // background while clients are already served; with nothing replayed the newest snapshot
    // already is the state.
    if recovered.fresh {
        let snap = persistence::write_snapshot(
            &recovered.dirs,
            &recovered.tree,
            &recovered.sessions,
            storage.compression,
        )?;
        info!(file = %snap.display(), "fresh database: wrote the first snapshot");
    }
    info!(
        ms = started.elapsed().as_millis() as u64,
        replayed = recovered.replayed,
        "database ready"
    );
    let (snap_tx, snap_rx) = std::sync::mpsc::channel();
    if recovered.replayed > 0 {
        let _ = snap_tx.send(());
    }
    let log = persistence::FileTxnLog::new(&recovered.dirs, &storage, snap_tx);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("fk-io")
        .build()?;
    rt.block_on(async move {
        let mut tree = recovered.tree;
        tree.set_extended_types(settings.extended_types_enabled);
        let state = server::StartState {
            tree,
            sessions: recovered.sessions,
            log: Box::new(log),
        };
        let handle = if distributed {
            let setup = quorum_setup(&cfg, &settings, &storage, &recovered.dirs, &state)?;
            server::quorum::start(settings, state, setup).await?
        } else {
            server::start(settings, state).await?
        };
        let shared = Arc::clone(&handle.shared);
        let dirs = recovered.dirs.clone();
        std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                persistence::snapshot_loop(shared, dirs, storage.compression, snap_rx)
            })?;
        wait_for_signal().await;
        info!("shutting down");
        handle.shutdown();
        Ok::<(), RunError>(())
    })?;
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(())
}

/// The quorum side's settings: voting config, epochs, the log tail for DIFF, ports.
fn quorum_setup(
    cfg: &LoadedConfig,
    settings: &ServerSettings,
    storage: &StorageSettings,
    dirs: &storage::DataDirs,
    state: &server::StartState,
) -> Result<server::quorum::QuorumSetup, RunError> {
    use server::quorum::cnx_manager::{CnxConfig, PeerElectionAddr};
    let z = &cfg.zoo_cfg;
    if z.ssl_quorum
        || z.quorum_enable_sasl
        || z.quorum_server_require_sasl
        || z.quorum_learner_require_sasl
    {
        return Err(RunError::Unsupported(
            "sslQuorum and quorum.auth (SASL between servers) are not supported by ferrokeeper yet"
                .into(),
        ));
    }
    let my_sid = z
        .server_id
        .ok_or_else(|| RunError::Unsupported("quorum mode needs dataDir/myid".into()))?;
    let verifier = election::QuorumVerifier::parse(&z.quorum.to_config_string())
        .map_err(|e| RunError::Unsupported(format!("server.N lines: {e}")))?;
    let me = verifier.member(my_sid).cloned().ok_or_else(|| {
        RunError::Unsupported(format!("myid {my_sid} is not in the server.N lines"))
    })?;
    let my_addr = me
        .addresses
        .first()
        .cloned()
        .ok_or_else(|| RunError::Unsupported(format!("server.{my_sid} has no address")))?;
    let listen_all = z.quorum_listen_on_all_ips;
    let bind = |port: u16| -> Result<std::net::SocketAddr, RunError> {
        server::quorum::peer::quorum_bind_addr(&my_addr.host, port, listen_all).ok_or_else(|| {
            RunError::Unsupported(format!("cannot resolve our own address {}", my_addr.host))
        })
    };
    let last_zxid = state.tree.last_processed_zxid();
    let epochs = storage::epoch::load_epochs(&dirs.snap_dir, last_zxid)?;
    // Everything up to the newest snapshot was applied, hence committed: a lower bound the
    // refuse-to-drop-committed rule can rely on after a restart.
    let known_committed = dirs
        .snapshots()?
        .iter()
        .map(|s| s.zxid)
        .max()
        .unwrap_or(0)
        .min(last_zxid);
    let commit_log = z.settings.commit_log_count.max(1) as usize;
    let mut recent: std::collections::VecDeque<zab::Proposal> = Default::default();
    let from = last_zxid.saturating_sub(commit_log as i64 * 2).max(0);
    if let Ok(iter) = storage::read_logs(&dirs.log_dir, from) {
        for rec in iter.flatten() {
            let zxid = rec.entry.zxid();
            if zxid > last_zxid {
                break;
            }
            recent.push_back(zab::Proposal {
                zxid,
                payload: rec.payload,
            });
            if recent.len() > commit_log {
                recent.pop_front();
            }
        }
    }
    let mut zc = zab::ZabConfig::new(my_sid, verifier.clone());
    zc.tick_ms = settings.tick_ms as u64;
    zc.init_limit = z.init_limit.max(1) as u64;
    zc.sync_limit = z.sync_limit.max(1) as u64;
    zc.committed_log_capacity = commit_log;
    let disk = zab::DiskState {
        accepted_epoch: epochs.accepted,
        current_epoch: epochs.current,
        last_logged_zxid: last_zxid,
        known_committed_zxid: known_committed,
        recent: recent.into_iter().collect(),
    };
    let mut ec = election::ElectionConfig::new(my_sid, verifier.clone());
    ec.require_all_voters_for_empty_history = !z.settings.allow_empty_leader_election;
    let mut peers = std::collections::HashMap::new();
    for m in verifier.members() {
        if m.sid == my_sid {
            continue;
        }
        if let Some(a) = m.addresses.first() {
            peers.insert(
                m.sid,
                PeerElectionAddr {
                    host: a.host.clone(),
                    port: a.election_port,
                },
            );
        }
    }
    let cnx_timeout = std::time::Duration::from_millis(z.settings.cnx_timeout_ms.max(100) as u64);
    let cnx = CnxConfig {
        my_sid,
        my_addr: PeerElectionAddr {
            host: my_addr.host.clone(),
            port: my_addr.election_port,
        },
        listen: bind(my_addr.election_port)?,
        peers,
        connect_timeout: cnx_timeout,
        handshake_timeout: cnx_timeout,
    };
    info!(
        myid = my_sid,
        quorum = %bind(my_addr.quorum_port)?,
        election = %cnx.listen,
        accepted_epoch = epochs.accepted,
        current_epoch = epochs.current,
        last_zxid = format!("0x{last_zxid:x}"),
        safe_bootstrap = ec.require_all_voters_for_empty_history,
        "quorum peer"
    );
    let join = |f: &dyn Fn(&election::ServerAddress) -> u16| {
        me.addresses
            .iter()
            .map(|a| f(a).to_string())
            .collect::<Vec<_>>()
            .join("|")
    };
    let info = server::quorum::state::QuorumInfo {
        init_limit: z.init_limit.max(1) as u64,
        sync_limit: z.sync_limit.max(1) as u64,
        election_ports: join(&|a| a.election_port),
        quorum_ports: join(&|a| a.quorum_port),
        peer_type: if matches!(me.role, election::LearnerRole::Observer) {
            1
        } else {
            0
        },
        membership: verifier.config_string(),
        quorum_size: verifier.voter_count(),
        members: verifier
            .members()
            .map(|m| {
                let host = |h: &str| {
                    if h.contains(':') {
                        format!("[{h}]")
                    } else {
                        h.to_string()
                    }
                };
                server::quorum::state::MemberView {
                    sid: m.sid,
                    server_addresses: m
                        .addresses
                        .iter()
                        .map(|a| format!("{}:{}", host(&a.host), a.quorum_port))
                        .collect(),
                    election_addresses: m
                        .addresses
                        .iter()
                        .map(|a| format!("{}:{}", host(&a.host), a.election_port))
                        .collect(),
                    client_address: match (&m.client, m.sid == my_sid) {
                        (Some(c), _) => format!("{}:{}", host(&c.host), c.port),
                        (None, true) => format!("{}", settings.client_addr),
                        (None, false) => String::new(),
                    },
                    learner_type: if matches!(m.role, election::LearnerRole::Observer) {
                        "observer".into()
                    } else {
                        "participant".into()
                    },
                    hosts: m
                        .addresses
                        .iter()
                        .map(|a| a.host.clone())
                        .collect::<Vec<_>>()
                        .join("|"),
                }
            })
            .collect(),
    };
    Ok(server::quorum::QuorumSetup {
        info,
        zab: zc,
        disk,
        election: ec,
        cnx,
        quorum_listen: bind(my_addr.quorum_port)?,
        peer: server::quorum::peer::PeerSettings {
            quorum_addrs: server::quorum::quorum_addrs(&verifier),
            storage: storage.clone(),
            dirs: dirs.clone(),
            init_limit_ms: z.init_limit.max(1) as u64 * settings.tick_ms as u64,
            tick_ms: settings.tick_ms as u64,
        },
    })
}

/// `autopurge.purgeInterval` (hours, 0 = off) and `autopurge.snapRetainCount` (at least 3): purge
/// once now, then every interval, as Java's `DatadirCleanupManager`.
fn start_autopurge(cfg: &LoadedConfig, dirs: &storage::DataDirs) {
    let hours = cfg.zoo_cfg.autopurge_purge_interval_hours;
    if hours <= 0 {
        return;
    }
    let retain = cfg.zoo_cfg.autopurge_snap_retain_count.max(3) as usize;
    let purge = move |dirs: &storage::DataDirs| match storage::purge::purge(dirs, retain) {
        Ok(r) => info!(
            deleted = r.deleted.len(),
            kept = r.kept_snapshots.len(),
            "autopurge ran"
        ),
        Err(e) => warn!(error = %e, "autopurge failed"),
    };
    info!(retain, interval_hours = hours, "autopurge enabled");
    purge(dirs);
    let dirs = dirs.clone();
    let every = std::time::Duration::from_secs(hours as u64 * 3600);
    let spawned = std::thread::Builder::new()
        .name("autopurge".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            purge(&dirs);
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the autopurge thread");
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; waiting for Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
