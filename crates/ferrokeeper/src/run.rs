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
    if matches!(cfg.mode, ServerMode::Distributed) {
        return Err(RunError::Unsupported(
            "this build serves standalone configurations only; quorum mode (server.N lines with more than one voter) is not available yet".into(),
        ));
    }
    let settings = server_settings(&cfg)?;
    let storage = storage_settings(&cfg, &settings);
    info!(
        version = %settings.version,
        config = %cfg.config_path().display(),
        client = %settings.client_addr,
        data_dir = %settings.data_dir.display(),
        data_log_dir = %settings.data_log_dir.display(),
        myid = 0,
        role = "standalone",
        admin = %settings.admin.as_ref().map_or("disabled".to_string(), |a| format!("http://{}{}", a.addr, a.command_url)),
        metrics = %settings.metrics_addr.map_or("disabled".to_string(), |a| format!("http://{a}/metrics")),
        "starting ferrokeeper (standalone)"
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
        let handle = server::start(settings, state).await?;
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
