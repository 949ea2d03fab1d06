//! The metric set behind `mntr`, the AdminServer's `monitor` and Prometheus `/metrics`, under
//! Java's names (`ZooKeeperServer.registerMetrics`, `ServerMetrics`). Only values this server
//! measures are listed; metrics of features it does not have are left out rather than faked,
//! except counters of events that cannot happen in a standalone server without TLS, which are
//! truthfully 0 (as in Java's standalone output).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::four_letter::{alive_connections, outstanding_requests, server_state};
use crate::quorum::state::PeerRole;
use crate::shared::Shared;
use crate::stats::{java_double, SummarySnapshot};

/// One value of `mntr`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Int(i64),
    Double(f64),
    Text(String),
}

/// Whether a metric is a gauge or a counter (Prometheus `# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// Counters of events a standalone ferrokeeper (no quorum, no TLS, no throttling) never has.
const ALWAYS_ZERO_COUNTERS: &[&str] = &[
    "looking_count",
    "learner_proposal_received_count",
    "learner_commit_received_count",
    "commit_count",
    "proposal_count",
    "diff_count",
    "snap_count",
    "quit_leading_due_to_disloyal_voter",
    "ensemble_auth_success",
    "ensemble_auth_fail",
    "ensemble_auth_skip",
    "throttled_ops",
    "request_throttle_wait_count",
    "tls_handshake_exceeded",
];

/// Gauges and counters: (name without `zk_`, kind, value).
pub fn scalars(shared: &Shared) -> Vec<(&'static str, Kind, MetricValue)> {
    use MetricValue::{Double, Int};
    let st = &shared.stats;
    let (min, avg, max) = st.latency_summary();
    let (ephemerals, znodes, data_size) = {
        let t = shared.tree.read();
        (
            t.ephemerals_count() as i64,
            t.node_count() as i64 + 1,
            t.approximate_data_size(),
        )
    };
    let watches = shared.watches.lock().watch_count() as i64;
    let sessions = shared.sessions.lock().len() as i64;
    let resp = st.client_response();
    let (open_fds, max_fds) = fd_counts();
    let mut v = vec![
        ("ephemerals_count", Kind::Gauge, Int(ephemerals)),
        (
            "num_alive_connections",
            Kind::Gauge,
            Int(alive_connections(shared) as i64),
        ),
        ("avg_latency", Kind::Gauge, Double(avg)),
        (
            "outstanding_requests",
            Kind::Gauge,
            Int(outstanding_requests(shared) as i64),
        ),
        ("znode_count", Kind::Gauge, Int(znodes)),
        ("global_sessions", Kind::Gauge, Int(sessions)),
        ("non_mtls_remote_conn_count", Kind::Gauge, Int(0)),
        ("last_client_response_size", Kind::Gauge, Int(resp.last)),
        (
            "packets_sent",
            Kind::Gauge,
            Int(st.packets_sent.load(Ordering::Relaxed) as i64),
        ),
        (
            "packets_received",
            Kind::Gauge,
            Int(st.packets_received.load(Ordering::Relaxed) as i64),
        ),
        ("max_client_response_size", Kind::Gauge, Int(resp.max)),
        ("connection_drop_probability", Kind::Gauge, Double(0.0)),
        ("watch_count", Kind::Gauge, Int(watches)),
        (
            "auth_failed_count",
            Kind::Gauge,
            Int(st.auth_failed.load(Ordering::Relaxed) as i64),
        ),
        ("min_latency", Kind::Gauge, Int(min)),
    ];
    if let Some(m) = max_fds {
        v.push(("max_file_descriptor_count", Kind::Gauge, Int(m)));
    }
    v.push(("approximate_data_size", Kind::Gauge, Int(data_size)));
    if let Some(o) = open_fds {
        v.push(("open_file_descriptor_count", Kind::Gauge, Int(o)));
    }
    v.extend([
        ("local_sessions", Kind::Gauge, Int(0)),
        (
            "uptime",
            Kind::Gauge,
            Int(shared.start.elapsed().as_millis() as i64),
        ),
        ("max_latency", Kind::Gauge, Int(max)),
        ("outstanding_tls_handshake", Kind::Gauge, Int(0)),
        ("min_client_response_size", Kind::Gauge, Int(resp.min)),
        ("non_mtls_local_conn_count", Kind::Gauge, Int(0)),
        (
            "connection_request_count",
            Kind::Counter,
            Int(st.connection_requests.load(Ordering::Relaxed) as i64),
        ),
    ]);
    for name in ALWAYS_ZERO_COUNTERS {
        v.push((name, Kind::Counter, Int(0)));
    }
    if let Some(q) = &shared.quorum {
        v.push(("quorum_size", Kind::Gauge, Int(q.info.quorum_size as i64)));
        let peer_state = match q.role() {
            PeerRole::Looking => "looking - election",
            PeerRole::Leading if shared.serving.load(Ordering::Acquire) => "leading - broadcast",
            PeerRole::Leading => "leading - discovery",
            PeerRole::Following if shared.serving.load(Ordering::Acquire) => {
                "following - broadcast"
            }
            PeerRole::Following => "following - synchronization",
            PeerRole::Observing if shared.serving.load(Ordering::Acquire) => {
                "observing - broadcast"
            }
            PeerRole::Observing => "observing - synchronization",
        };
        v.push((
            "peer_state",
            Kind::Gauge,
            MetricValue::Text(peer_state.into()),
        ));
        if q.is_leader() {
            let g = *q.gauges.lock();
            v.push(("learners", Kind::Gauge, Int(g.learners)));
            v.push(("synced_followers", Kind::Gauge, Int(g.synced_followers)));
            v.push(("synced_non_voting_followers", Kind::Gauge, Int(0)));
            v.push(("synced_observers", Kind::Gauge, Int(g.synced_observers)));
            v.push(("pending_syncs", Kind::Gauge, Int(g.pending_syncs)));
            let since = q.serving_since();
            let uptime = if since > 0 {
                crate::shared::wall_ms() - since
            } else {
                0
            };
            v.push(("leader_uptime", Kind::Gauge, Int(uptime)));
            v.push(("last_proposal_size", Kind::Gauge, Int(g.proposal_last)));
            v.push(("max_proposal_size", Kind::Gauge, Int(g.proposal_max)));
            v.push(("min_proposal_size", Kind::Gauge, Int(g.proposal_min)));
        }
    }
    v
}

/// Summaries: (name, snapshot, with percentiles).
pub fn summaries(shared: &Shared) -> Vec<(&'static str, SummarySnapshot, bool)> {
    vec![
        (
            "updatelatency",
            shared.stats.update_latency.snapshot(),
            true,
        ),
        ("readlatency", shared.stats.read_latency.snapshot(), true),
        ("fsynctime", shared.stats.fsync_time.snapshot(), false),
    ]
}

/// Labelled summaries (Java's `SummarySet`s, BASIC level): (name, [(label, snapshot)]).
pub fn summary_sets(shared: &Shared) -> Vec<(&'static str, Vec<(String, SummarySnapshot)>)> {
    let m = shared.stats.per_namespace.lock();
    let reads = m
        .iter()
        .filter(|(_, (r, _))| r.snapshot().count > 0)
        .map(|(k, (r, _))| (k.clone(), r.snapshot()))
        .collect();
    let writes = m
        .iter()
        .filter(|(_, (_, w))| w.snapshot().count > 0)
        .map(|(k, (_, w))| (k.clone(), w.snapshot()))
        .collect();
    vec![
        ("read_per_namespace", reads),
        ("write_per_namespace", writes),
    ]
}

/// Java's DataTree read statistics for a successful read, sized from its reply (getData,
/// exists on an existing node, getChildren/getChildren2).
pub fn record_read(shared: &Shared, request: &jute::proto::Request, reply: &[u8]) {
    use jute::proto::Request as R;
    // frame = length, xid, zxid, err
    let ok = reply.len() >= 20 && reply[16..20] == [0, 0, 0, 0];
    if !ok {
        return;
    }
    // The sizes come from the reply itself rather than a second walk of the tree.
    let body = &reply[20..];
    match request {
        R::GetData(r) => {
            let len = body.get(..4).map_or(0, |b| {
                i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            });
            shared.stats.namespace_read(&r.path, len.max(0));
        }
        R::Exists(r) => shared.stats.namespace_read(&r.path, 0),
        R::GetChildren(jute::proto::GetChildrenRequest { path, .. })
        | R::GetChildren2(jute::proto::GetChildren2Request { path, .. }) => {
            shared
                .stats
                .namespace_read(path, child_names_utf16_len(body));
        }
        _ => {}
    }
}

/// The summed UTF-16 length of the names in a getChildren reply body (Java counts `String`
/// lengths).
fn child_names_utf16_len(body: &[u8]) -> i64 {
    let read_i32 = |at: usize| {
        body.get(at..at + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let Some(count) = read_i32(0) else {
        return 0;
    };
    let mut at = 4;
    let mut total = 0i64;
    for _ in 0..count.max(0) {
        let Some(len) = read_i32(at).and_then(|l| usize::try_from(l).ok()) else {
            break;
        };
        let Some(name) = body.get(at + 4..at + 4 + len) else {
            break;
        };
        total += if name.is_ascii() {
            len as i64
        } else {
            std::str::from_utf8(name).map_or(len, |s| s.encode_utf16().count()) as i64
        };
        at += 4 + len;
    }
    total
}

/// Java's DataTree write statistics for an applied txn, from its watch triggers: a created or
/// changed node counts its path and data length, a deleted one its path.
pub fn record_writes(
    shared: &Shared,
    tree: &crate::data_tree::DataTree,
    triggers: &[crate::data_tree::Trigger],
) {
    use jute::consts::event;
    for t in triggers {
        if t.table != crate::data_tree::WatchTable::Data {
            continue;
        }
        match t.event_type {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => {
                let len = tree.node(&t.path).map_or(0, |n| i64::from(n.data_len()));
                shared.stats.namespace_write(&t.path, len);
            }
            event::NODE_DELETED => shared.stats.namespace_write(&t.path, 0),
            _ => {}
        }
    }
}

/// `mntr` / admin `monitor`: `version`, `server_state`, then every metric expanded the way Java's
/// `MetricsContext` prints it (`avg_/min_/max_/cnt_/sum_` and `p50_/p95_/p99_/p999_`).
pub fn monitor_values(shared: &Shared) -> Vec<(String, MetricValue)> {
    let mut out = vec![
        (
            "version".to_string(),
            MetricValue::Text(shared.settings.version.clone()),
        ),
        (
            "server_state".to_string(),
            MetricValue::Text(server_state(shared).to_string()),
        ),
    ];
    for (name, _, v) in scalars(shared) {
        out.push((name.to_string(), v));
    }
    for (name, s, pct) in summaries(shared) {
        out.push((format!("avg_{name}"), MetricValue::Double(s.avg())));
        out.push((format!("min_{name}"), MetricValue::Int(s.min)));
        out.push((format!("max_{name}"), MetricValue::Int(s.max)));
        out.push((format!("cnt_{name}"), MetricValue::Int(s.count as i64)));
        out.push((format!("sum_{name}"), MetricValue::Int(s.sum)));
        if pct {
            for (p, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                out.push((
                    format!("{p}_{name}"),
                    MetricValue::Int(s.quantile(q).round() as i64),
                ));
            }
        }
    }
    for (name, set) in summary_sets(shared) {
        for (label, s) in set {
            let n = format!("{label}_{name}");
            out.push((format!("avg_{n}"), MetricValue::Double(s.avg())));
            out.push((format!("min_{n}"), MetricValue::Int(s.min)));
            out.push((format!("max_{n}"), MetricValue::Int(s.max)));
            out.push((format!("cnt_{n}"), MetricValue::Int(s.count as i64)));
            out.push((format!("sum_{n}"), MetricValue::Int(s.sum)));
        }
    }
    out
}

/// Prometheus text exposition (format 0.0.4), as Java's `PrometheusMetricsProvider` writes it:
/// `# HELP name name`, gauges and counters by their ZooKeeper names, summaries with
/// `quantile="0.5"|"0.9"|"0.99"` samples plus `_count` and `_sum`.
pub fn prometheus_text(shared: &Shared) -> String {
    let mut s = String::new();
    for (name, kind, v) in scalars(shared) {
        let num = match v {
            MetricValue::Int(i) => i as f64,
            MetricValue::Double(d) => d,
            MetricValue::Text(_) => continue,
        };
        let ty = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(
            s,
            "# HELP {name} {name}\n# TYPE {name} {ty}\n{name} {}",
            java_double(num)
        );
    }
    for (name, snap, _) in summaries(shared) {
        let _ = writeln!(s, "# HELP {name} {name}\n# TYPE {name} summary");
        for q in [0.5, 0.9, 0.99] {
            let v = if snap.count == 0 {
                f64::NAN
            } else {
                snap.quantile(q)
            };
            let _ = writeln!(s, "{name}{{quantile=\"{q}\",}} {}", java_double(v));
        }
        let _ = writeln!(s, "{name}_count {}", java_double(snap.count as f64));
        let _ = writeln!(s, "{name}_sum {}", java_double(snap.sum as f64));
    }
    // Labelled summaries (BASIC detail level: median only), label `key` as Java's provider.
    for (name, set) in summary_sets(shared) {
        let _ = writeln!(s, "# HELP {name} {name}\n# TYPE {name} summary");
        for (label, snap) in set {
            let v = if snap.count == 0 {
                f64::NAN
            } else {
                snap.quantile(0.5)
            };
            let _ = writeln!(
                s,
                "{name}{{key=\"{label}\",quantile=\"0.5\",}} {}",
                java_double(v)
            );
            let _ = writeln!(
                s,
                "{name}_count{{key=\"{label}\",}} {}",
                java_double(snap.count as f64)
            );
            let _ = writeln!(
                s,
                "{name}_sum{{key=\"{label}\",}} {}",
                java_double(snap.sum as f64)
            );
        }
    }
    s
}

/// (open, max) file descriptors of this process, from `/proc`.
fn fd_counts() -> (Option<i64>, Option<i64>) {
    let open = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as i64);
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3))
                .and_then(|v| v.parse::<i64>().ok())
        });
    (open, max)
}
