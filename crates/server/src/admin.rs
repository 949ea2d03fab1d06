//! The AdminServer (Java's `JettyAdminServer` + `admin/Commands.java`) and the Prometheus
//! `/metrics` endpoint, over HTTP/1.1 with axum.
//!
//! * `GET <commandURL>` (default `/commands`): HTML links to every command, as Java.
//! * `GET <commandURL>/<name or alias>[?traceMask=N]`: the command's JSON, pretty-printed the way
//!   Jackson does, with `"command"` and `"error"` keys.
//! * `GET /ready`: 200 `ready` while the server serves clients, 503 `not serving` otherwise
//!   (a Kubernetes readiness probe; Java has no such URL).
//! * `/metrics` (separate listener, when the Prometheus provider is configured): text format.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tracing::{info, warn};

use crate::four_letter::{
    self, dir_sizes, java_ip, outstanding_requests, server_state, sorted_conns,
};
use crate::metrics::{self, MetricValue};
use crate::shared::Shared;
use crate::stats::java_double;

/// Where the AdminServer listens (`admin.serverAddress`, `admin.serverPort`, `admin.commandURL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminHttp {
    pub addr: SocketAddr,
    pub command_url: String,
}

/// A JSON value that keeps key order, printed like Jackson's default pretty printer.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn obj(pairs: Vec<(&str, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Jackson `DefaultPrettyPrinter`: objects one key a line (`"k" : v`, 2-space indent),
    /// arrays inline (`[ a, b ]`), empty ones `{ }` / `[ ]`.
    pub fn pretty(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s
    }

    fn write(&self, s: &mut String, indent: usize) {
        match self {
            Json::Null => s.push_str("null"),
            Json::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(s, "{i}");
            }
            Json::Double(d) => s.push_str(&java_double(*d)),
            Json::Str(t) => write_str(s, t),
            Json::Arr(v) if v.is_empty() => s.push_str("[ ]"),
            Json::Arr(v) => {
                s.push_str("[ ");
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    x.write(s, indent);
                }
                s.push_str(" ]");
            }
            Json::Obj(v) if v.is_empty() => s.push_str("{ }"),
            Json::Obj(v) => {
                s.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push('\n');
                    s.push_str(&" ".repeat(indent + 2));
                    write_str(s, k);
                    s.push_str(" : ");
                    x.write(s, indent + 2);
                }
                s.push('\n');
                s.push_str(&" ".repeat(indent));
                s.push('}');
            }
        }
    }
}

fn write_str(s: &mut String, t: &str) {
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04X}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

/// Every command: (primary name, aliases, needs a serving server).
pub const ADMIN_COMMANDS: &[(&str, &[&str], bool)] = &[
    ("configuration", &["conf", "config"], true),
    ("connection_stat_reset", &["crst"], true),
    ("connections", &["cons"], true),
    ("dirs", &[], true),
    ("dump", &[], true),
    ("environment", &["env", "envi"], false),
    ("get_trace_mask", &["gtmk"], false),
    ("hash", &[], true),
    ("initial_configuration", &["icfg"], true),
    ("is_read_only", &["isro"], true),
    ("last_snapshot", &["lsnp"], true),
    ("leader", &["lead"], true),
    ("monitor", &["mntr"], false),
    ("observer_connection_stat_reset", &["orst"], true),
    ("observers", &["obsr"], true),
    ("ruok", &[], true),
    ("server_stats", &["srvr"], true),
    ("set_trace_mask", &["stmk"], false),
    ("stat_reset", &["srst"], true),
    ("stats", &["stat"], true),
    ("voting_view", &[], true),
    ("watch_summary", &["wchs"], true),
    ("watches", &["wchc"], true),
    ("watches_by_path", &["wchp"], true),
    ("zabstate", &[], false),
];

/// Runs a command by name or alias and returns its JSON object (Java's `Commands.runCommand`
/// followed by `CommandResponse.toMap`).
pub fn run_command(shared: &Shared, name: &str, args: &[(String, String)]) -> Json {
    let Some((primary, _, needs_server)) = ADMIN_COMMANDS
        .iter()
        .find(|(p, aliases, _)| *p == name || aliases.contains(&name))
    else {
        return to_map(name, Some(format!("Unknown command: {name}")), Vec::new());
    };
    if *needs_server && !shared.serving.load(Ordering::Acquire) {
        return to_map(
            primary,
            Some(four_letter::NOT_SERVING.to_string()),
            Vec::new(),
        );
    }
    let data = command_data(shared, primary, args);
    to_map(primary, None, data)
}

/// `CommandResponse.toMap`: the data keys in order, then `command`, then `error` — a data key
/// named `error` keeps its place and its value.
fn to_map(command: &str, error: Option<String>, data: Vec<(String, Json)>) -> Json {
    let mut m = data.clone();
    let set = |m: &mut Vec<(String, Json)>, k: &str, v: Json| {
        if let Some(e) = m.iter_mut().find(|(x, _)| x == k) {
            e.1 = v;
        } else {
            m.push((k.to_string(), v));
        }
    };
    set(&mut m, "command", Json::Str(command.to_string()));
    set(&mut m, "error", error.map_or(Json::Null, Json::Str));
    for (k, v) in data {
        set(&mut m, &k, v);
    }
    Json::Obj(m)
}

fn kv(pairs: Vec<(&str, Json)>) -> Vec<(String, Json)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn buffer_stats(shared: &Shared) -> Json {
    let b = shared.stats.client_response();
    Json::obj(vec![
        ("last_buffer_size", Json::Int(b.last)),
        ("min_buffer_size", Json::Int(b.min)),
        ("max_buffer_size", Json::Int(b.max)),
    ])
}

fn server_stats_json(shared: &Shared) -> Json {
    let st = &shared.stats;
    let (min, avg, max) = st.latency_summary();
    let (d, l) = dir_sizes(shared);
    Json::obj(vec![
        (
            "packets_sent",
            Json::Int(st.packets_sent.load(Ordering::Relaxed) as i64),
        ),
        (
            "packets_received",
            Json::Int(st.packets_received.load(Ordering::Relaxed) as i64),
        ),
        (
            "fsync_threshold_exceed_count",
            Json::Int(st.fsync_threshold_exceeded.load(Ordering::Relaxed) as i64),
        ),
        ("client_response_stats", buffer_stats(shared)),
        ("data_dir_size", Json::Int(d as i64)),
        ("log_dir_size", Json::Int(l as i64)),
        ("provider_null", Json::Bool(false)),
        ("server_state", Json::Str(server_state(shared).to_string())),
        (
            "last_processed_zxid",
            Json::Int(shared.tree.read().last_processed_zxid()),
        ),
        (
            "outstanding_requests",
            Json::Int(outstanding_requests(shared) as i64),
        ),
        ("avg_latency", Json::Double(avg)),
        ("max_latency", Json::Int(max)),
        ("min_latency", Json::Int(min)),
        (
            "num_alive_client_connections",
            Json::Int(shared.conns.lock().len() as i64),
        ),
        (
            "uptime",
            Json::Int(shared.start.elapsed().as_millis() as i64),
        ),
        (
            "auth_failed_count",
            Json::Int(st.auth_failed.load(Ordering::Relaxed) as i64),
        ),
        ("non_mtlsremote_conn_count", Json::Int(0)),
        ("non_mtlslocal_conn_count", Json::Int(0)),
    ])
}

fn connection_info(shared: &Shared, brief: bool) -> Json {
    let mut v = Vec::new();
    for c in sorted_conns(shared) {
        let mut o = kv(vec![
            (
                "remote_socket_address",
                Json::Str(format!("{}:{}", java_ip(c.remote), c.remote.port())),
            ),
            ("interest_ops", Json::Int(1)),
            (
                "outstanding_requests",
                Json::Int(c.pending.load(Ordering::Relaxed) as i64),
            ),
            (
                "packets_received",
                Json::Int(c.packets_received.load(Ordering::Relaxed) as i64),
            ),
            (
                "packets_sent",
                Json::Int(c.packets_sent.load(Ordering::Relaxed) as i64),
            ),
        ]);
        let sid = c.session_id.load(Ordering::Relaxed);
        if !brief && sid != 0 {
            let st = c.stats.get();
            o.extend(kv(vec![
                ("session_id", Json::Int(sid)),
                ("last_operation", Json::Str(st.last_op.to_string())),
                (
                    "established",
                    Json::Int(c.established_ms.load(Ordering::Relaxed)),
                ),
                (
                    "session_timeout",
                    Json::Int(c.session_timeout_ms.load(Ordering::Relaxed)),
                ),
                ("last_cxid", Json::Int(st.last_cxid)),
                ("last_zxid", Json::Int(st.last_zxid)),
                ("last_response_time", Json::Int(st.last_response_ms)),
                ("last_latency", Json::Int(st.last_latency)),
                ("min_latency", Json::Int(st.min_latency())),
                ("avg_latency", Json::Int(st.avg_latency())),
                ("max_latency", Json::Int(st.max_latency)),
            ]));
        }
        v.push(Json::Obj(o));
    }
    Json::Arr(v)
}

fn command_data(shared: &Shared, primary: &str, args: &[(String, String)]) -> Vec<(String, Json)> {
    let st = &shared.settings;
    match primary {
        "configuration" => kv(vec![
            ("client_port", Json::Int(st.client_addr.port() as i64)),
            (
                "data_dir",
                Json::Str(st.data_dir.join("version-2").display().to_string()),
            ),
            (
                "data_log_dir",
                Json::Str(st.data_log_dir.join("version-2").display().to_string()),
            ),
            ("tick_time", Json::Int(st.tick_ms as i64)),
            ("max_client_cnxns", Json::Int(st.max_client_cnxns as i64)),
            (
                "min_session_timeout",
                Json::Int(st.min_session_timeout_ms as i64),
            ),
            (
                "max_session_timeout",
                Json::Int(st.max_session_timeout_ms as i64),
            ),
            ("server_id", Json::Int(0)),
            (
                "client_port_listen_backlog",
                Json::Int(st.client_port_listen_backlog as i64),
            ),
        ]),
        "connection_stat_reset" => {
            four_letter::reset_connection_stats(shared);
            Vec::new()
        }
        "connections" => kv(vec![
            ("connections", connection_info(shared, false)),
            ("secure_connections", Json::Arr(vec![])),
        ]),
        "dirs" => {
            let (d, l) = dir_sizes(shared);
            kv(vec![
                ("datadir_size", Json::Int(d as i64)),
                ("logdir_size", Json::Int(l as i64)),
            ])
        }
        "dump" => {
            let buckets = shared.sessions.lock().buckets();
            let exp = buckets
                .into_iter()
                .map(|(at, ids)| {
                    (
                        at.to_string(),
                        Json::Arr(ids.into_iter().map(Json::Int).collect()),
                    )
                })
                .collect();
            let eph = shared
                .tree
                .read()
                .ephemeral_sessions()
                .into_iter()
                .map(|(id, paths)| {
                    (
                        id.to_string(),
                        Json::Arr(paths.into_iter().map(Json::Str).collect()),
                    )
                })
                .collect();
            kv(vec![
                ("expiry_time_to_session_ids", Json::Obj(exp)),
                ("session_id_to_ephemeral_paths", Json::Obj(eph)),
            ])
        }
        "environment" => four_letter::environment(shared)
            .into_iter()
            .map(|(k, v)| (k.to_string(), Json::Str(v)))
            .collect(),
        "get_trace_mask" => kv(vec![(
            "tracemask",
            Json::Int(shared.trace_mask.load(Ordering::Relaxed)),
        )]),
        "hash" => {
            let d = shared
                .tree
                .read()
                .digest_log()
                .into_iter()
                .map(|d| {
                    Json::obj(vec![
                        ("zxid", Json::Int(d.zxid)),
                        ("digest_version", Json::Int(d.version as i64)),
                        ("digest", Json::Int(d.digest)),
                    ])
                })
                .collect();
            kv(vec![("digests", Json::Arr(d))])
        }
        "initial_configuration" => kv(vec![(
            "initial_configuration",
            st.initial_config.clone().map_or(Json::Null, Json::Str),
        )]),
        "is_read_only" => kv(vec![(
            "read_only",
            Json::Bool(crate::four_letter::read_only(shared)),
        )]),
        "last_snapshot" => {
            let (zxid, ts) = last_snapshot(&st.data_dir.join("version-2"));
            kv(vec![
                ("zxid", Json::Str(format!("{zxid:x}"))),
                ("timestamp", Json::Int(ts)),
            ])
        }
        "leader" => match &shared.quorum {
            Some(q) if shared.serving.load(Ordering::Acquire) && !q.is_read_only() => {
                let leader = q.leader();
                let ip = q
                    .info
                    .members
                    .iter()
                    .find(|m| m.sid == leader)
                    .map(|m| m.hosts.clone())
                    .unwrap_or_default();
                kv(vec![
                    ("is_leader", Json::Bool(q.is_leader())),
                    ("leader_id", Json::Int(leader)),
                    ("leader_ip", Json::Str(ip)),
                ])
            }
            _ => kv(vec![(
                "error",
                Json::Str("server is not initialized".into()),
            )]),
        },
        "monitor" => metrics::monitor_values(shared)
            .into_iter()
            .map(|(k, v)| {
                let j = match v {
                    MetricValue::Int(i) => Json::Int(i),
                    MetricValue::Double(d) => Json::Double(d),
                    MetricValue::Text(t) => Json::Str(t),
                };
                (k, j)
            })
            .collect(),
        "observer_connection_stat_reset" | "ruok" => Vec::new(),
        "observers" => kv(vec![
            ("synced_observers", Json::Int(0)),
            ("observers", Json::Arr(vec![])),
        ]),
        "server_stats" | "stats" => {
            let mut v = kv(vec![
                ("version", Json::Str(st.version.clone())),
                (
                    "read_only",
                    Json::Bool(crate::four_letter::read_only(shared)),
                ),
                ("server_stats", server_stats_json(shared)),
                ("client_response", buffer_stats(shared)),
                (
                    "node_count",
                    Json::Int(shared.tree.read().node_count() as i64 + 1),
                ),
            ]);
            if primary == "stats" {
                v.extend(kv(vec![
                    ("connections", connection_info(shared, true)),
                    ("secure_connections", Json::Arr(vec![])),
                ]));
            }
            v
        }
        "set_trace_mask" => match args.iter().find(|(k, _)| k == "traceMask") {
            None => kv(vec![(
                "error",
                Json::Str("setTraceMask requires long traceMask argument".into()),
            )]),
            Some((_, v)) => match v.parse::<i64>() {
                Ok(m) => {
                    shared.trace_mask.store(m, Ordering::Relaxed);
                    kv(vec![("tracemask", Json::Int(m))])
                }
                Err(_) => kv(vec![(
                    "error",
                    Json::Str(format!(
                        "setTraceMask requires long traceMask argument, got {v}"
                    )),
                )]),
            },
        },
        "stat_reset" => {
            shared.stats.reset();
            Vec::new()
        }
        "voting_view" => {
            let view = match &shared.quorum {
                Some(q) if shared.serving.load(Ordering::Acquire) => q
                    .info
                    .members
                    .iter()
                    .filter(|m| m.learner_type == "participant")
                    .map(|m| {
                        let strs =
                            |v: &[String]| Json::Arr(v.iter().cloned().map(Json::Str).collect());
                        (
                            m.sid.to_string(),
                            Json::Obj(kv(vec![
                                ("server_addresses", strs(&m.server_addresses)),
                                ("election_addresses", strs(&m.election_addresses)),
                                ("client_address", Json::Str(m.client_address.clone())),
                                ("learner_type", Json::Str(m.learner_type.clone())),
                            ])),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            kv(vec![("current_config", Json::Obj(view))])
        }
        "watch_summary" => {
            let w = shared.watches.lock().summary();
            kv(vec![
                ("num_connections", Json::Int(w.connections as i64)),
                ("num_paths", Json::Int(w.paths as i64)),
                ("num_total_watches", Json::Int(w.total as i64)),
            ])
        }
        "watches" => {
            let by_conn = shared.watches.lock().by_connection();
            let conns = shared.conns.lock();
            let m = by_conn
                .into_iter()
                .map(|(c, paths)| {
                    let sid = conns
                        .get(&c)
                        .map(|h| h.session_id.load(Ordering::Relaxed))
                        .unwrap_or(0);
                    (
                        sid.to_string(),
                        Json::Arr(paths.into_iter().map(Json::Str).collect()),
                    )
                })
                .collect();
            kv(vec![("session_id_to_watched_paths", Json::Obj(m))])
        }
        "watches_by_path" => {
            let by_path = shared.watches.lock().by_path();
            let conns = shared.conns.lock();
            let m = by_path
                .into_iter()
                .map(|(p, cs)| {
                    let ids = cs
                        .into_iter()
                        .map(|c| {
                            Json::Int(
                                conns
                                    .get(&c)
                                    .map(|h| h.session_id.load(Ordering::Relaxed))
                                    .unwrap_or(0),
                            )
                        })
                        .collect();
                    (p, Json::Arr(ids))
                })
                .collect();
            kv(vec![("path_to_session_ids", Json::Obj(m))])
        }
        "zabstate" => kv(vec![
            ("voting", Json::Bool(false)),
            ("zabstate", Json::Str(String::new())),
        ]),
        _ => Vec::new(),
    }
}

/// The newest `snapshot.<zxid>` in a snapshot directory: (zxid, file mtime in seconds), or
/// (-1, -1) as Java reports "no snapshot".
fn last_snapshot(dir: &std::path::Path) -> (i64, i64) {
    let mut best: Option<(i64, i64)> = None;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix("snapshot.") else {
            continue;
        };
        let hex = rest.split('.').next().unwrap_or("");
        let Ok(zxid) = i64::from_str_radix(hex, 16) else {
            continue;
        };
        let ts = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(-1, |d| d.as_secs() as i64);
        if !matches!(best, Some((z, _)) if z >= zxid) {
            best = Some((zxid, ts));
        }
    }
    best.unwrap_or((-1, -1))
}

#[derive(Clone)]
struct AdminState {
    shared: Arc<Shared>,
    command_url: String,
}

async fn list_commands(State(st): State<AdminState>) -> Response {
    let mut names: Vec<&str> = ADMIN_COMMANDS.iter().map(|(p, _, _)| *p).collect();
    names.sort_unstable();
    let mut s = String::new();
    for n in names {
        let _ = write!(s, "<a href=\"{}/{n}\">{n}</a>\n<br/>\n", st.command_url);
    }
    ([(header::CONTENT_TYPE, "text/html")], s).into_response()
}

async fn command(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let json = run_command(&st.shared, &name, &q).pretty();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json,
    )
        .into_response()
}

async fn ready(State(st): State<AdminState>) -> Response {
    if st.shared.serving.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not serving\n").into_response()
    }
}

async fn prometheus(State(st): State<AdminState>) -> Response {
    let body = metrics::prometheus_text(&st.shared);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Serves the AdminServer until the task is aborted. A bind failure is logged (Java logs it and
/// keeps serving clients without the AdminServer).
pub async fn serve_admin(shared: Arc<Shared>, http: AdminHttp) {
    let url = http.command_url.trim_end_matches('/').to_string();
    let url = if url.starts_with('/') {
        url
    } else {
        format!("/{url}")
    };
    let state = AdminState {
        shared,
        command_url: url.clone(),
    };
    let app = Router::new()
        .route(&url, get(list_commands))
        .route(&format!("{url}/"), get(list_commands))
        .route(&format!("{url}/{{name}}"), get(command))
        .route("/ready", get(ready))
        .with_state(state);
    match tokio::net::TcpListener::bind(http.addr).await {
        Ok(l) => {
            info!(addr = %http.addr, url = %url, "AdminServer started");
            if let Err(e) = axum::serve(l, app).await {
                warn!(error = %e, "AdminServer stopped");
            }
        }
        Err(e) => {
            warn!(addr = %http.addr, error = %e, "cannot start the AdminServer; continuing without it")
        }
    }
}

/// Serves Prometheus `/metrics` until the task is aborted.
pub async fn serve_metrics(shared: Arc<Shared>, addr: SocketAddr) {
    let state = AdminState {
        shared,
        command_url: String::new(),
    };
    let app = Router::new()
        .route("/metrics", get(prometheus))
        .route("/", get(prometheus))
        .with_state(state);
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => {
            info!(%addr, "Prometheus metrics provider started (/metrics)");
            if let Err(e) = axum::serve(l, app).await {
                warn!(error = %e, "Prometheus endpoint stopped");
            }
        }
        Err(e) => {
            warn!(%addr, error = %e, "cannot start the Prometheus metrics endpoint; continuing without it")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jackson_pretty_printing() {
        let j = Json::obj(vec![
            ("a", Json::Int(1)),
            ("b", Json::Arr(vec![])),
            ("c", Json::Obj(vec![])),
            (
                "d",
                Json::Arr(vec![Json::obj(vec![("x", Json::Str("y".into()))])]),
            ),
            ("e", Json::Double(2.5)),
        ]);
        assert_eq!(
            j.pretty(),
            "{\n  \"a\" : 1,\n  \"b\" : [ ],\n  \"c\" : { },\n  \"d\" : [ {\n    \"x\" : \"y\"\n  } ],\n  \"e\" : 2.5\n}"
        );
    }

    #[test]
    fn error_key_keeps_its_place() {
        let m = to_map(
            "leader",
            None,
            kv(vec![(
                "error",
                Json::Str("server is not initialized".into()),
            )]),
        );
        assert_eq!(
            m.pretty(),
            "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
        );
        let u = to_map(
            "nonexist",
            Some("Unknown command: nonexist".into()),
            Vec::new(),
        );
        assert_eq!(
            u.pretty(),
            "{\n  \"command\" : \"nonexist\",\n  \"error\" : \"Unknown command: nonexist\"\n}"
        );
    }
}
