//! Counters reported by `srvr`, `stat`, `mntr`, the AdminServer and `/metrics` (Java's
//! `ServerStats`, the per-connection stats of `ServerCnxn`, and the few `ServerMetrics`
//! summaries the server can measure truthfully).

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use jute::consts::op;
use parking_lot::Mutex;
use rand::Rng;

/// Java's default `zookeeper.fsync.warningthresholdms`.
pub const FSYNC_WARNING_THRESHOLD_MS: i64 = 1000;

/// Java's reservoir size for percentile counters (Dropwizard's uniform reservoir).
const RESERVOIR: usize = 4096;

/// Count/sum/min/max plus a uniform sample reservoir (`AvgMinMaxPercentileCounter`).
#[derive(Debug, Default)]
pub struct Summary {
    inner: Mutex<SummaryInner>,
}

#[derive(Debug, Default, Clone)]
struct SummaryInner {
    count: u64,
    sum: i64,
    min: Option<i64>,
    max: Option<i64>,
    samples: Vec<i64>,
}

/// A point-in-time copy of a [`Summary`].
#[derive(Debug, Clone, Default)]
pub struct SummarySnapshot {
    pub count: u64,
    pub sum: i64,
    /// 0 without samples (Java's `getMin`).
    pub min: i64,
    /// 0 without samples.
    pub max: i64,
    sorted: Vec<i64>,
}

impl SummarySnapshot {
    /// Java's `getAvg`: total/count rounded half-up to 4 decimals, 0 without samples.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        round4(self.sum as f64 / self.count as f64)
    }

    /// Dropwizard `UniformSnapshot.getValue(q)` (linear interpolation at `q * (n + 1)`).
    pub fn quantile(&self, q: f64) -> f64 {
        let v = &self.sorted;
        if v.is_empty() {
            return 0.0;
        }
        let pos = q * (v.len() as f64 + 1.0);
        if pos < 1.0 {
            return v[0] as f64;
        }
        if pos >= v.len() as f64 {
            return v[v.len() - 1] as f64;
        }
        let lower = v[pos as usize - 1] as f64;
        let upper = v[pos as usize] as f64;
        lower + (pos - pos.floor()) * (upper - lower)
    }
}

impl Summary {
    pub fn add(&self, v: i64) {
        let mut s = self.inner.lock();
        s.count += 1;
        s.sum += v;
        s.min = Some(s.min.map_or(v, |m| m.min(v)));
        s.max = Some(s.max.map_or(v, |m| m.max(v)));
        if s.samples.len() < RESERVOIR {
            s.samples.push(v);
        } else {
            let i = rand::thread_rng().gen_range(0..s.count);
            if (i as usize) < RESERVOIR {
                s.samples[i as usize] = v;
            }
        }
    }

    pub fn reset(&self) {
        *self.inner.lock() = SummaryInner::default();
    }

    pub fn snapshot(&self) -> SummarySnapshot {
        let s = self.inner.lock().clone();
        let mut sorted = s.samples;
        sorted.sort_unstable();
        SummarySnapshot {
            count: s.count,
            sum: s.sum,
            min: s.min.unwrap_or(0),
            max: s.max.unwrap_or(0),
            sorted,
        }
    }
}

/// Java's `BufferStats` (last/min/max client response size, -1 until the first response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

/// Server-wide request statistics, lock-free (or briefly locked) so every connection can update
/// them.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    latency_total_ms: AtomicU64,
    latency_count: AtomicU64,
    latency_min_ms: AtomicI64,
    latency_max_ms: AtomicI64,
    /// `readlatency`: requests without a txn (reads, pings, sync-less local ops).
    pub read_latency: Summary,
    /// `updatelatency`: requests that went through the log (writes, errors of writes).
    pub update_latency: Summary,
    client_response: Mutex<BufferStats>,
    /// `auth_failed_count`.
    pub auth_failed: AtomicU64,
    /// `connection_request_count`: ConnectRequests received.
    pub connection_requests: AtomicU64,
    /// `fsynctime`: ms per txn-log sync.
    pub fsync_time: Summary,
    /// `fsync_threshold_exceed_count`: syncs slower than `zookeeper.fsync.warningthresholdms`.
    pub fsync_threshold_exceeded: AtomicU64,
    /// `<namespace>_read_per_namespace` / `_write_per_namespace` (Java's labelled summaries
    /// `READ_PER_NAMESPACE` / `WRITE_PER_NAMESPACE`): bytes per top-level znode name.
    pub per_namespace: Mutex<std::collections::BTreeMap<String, (Summary, Summary)>>,
    /// Four-letter-word connections being answered right now (Java counts them as alive
    /// connections while it writes their answer).
    pub four_letter_conns: AtomicUsize,
}

impl ServerStats {
    pub fn new() -> ServerStats {
        let s = ServerStats::default();
        s.latency_min_ms.store(i64::MAX, Ordering::Relaxed);
        s
    }

    pub fn received(&self) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sent(&self, n: u64) {
        self.packets_sent.fetch_add(n, Ordering::Relaxed);
    }

    /// One response of `len` bytes (length prefix excluded) went to a client.
    pub fn response_sent(&self, len: usize) {
        self.packets_sent.fetch_add(1, Ordering::Relaxed);
        let v = len as i64;
        let mut b = self.client_response.lock();
        b.last = v;
        if b.min == -1 || v < b.min {
            b.min = v;
        }
        if v > b.max {
            b.max = v;
        }
    }

    pub fn client_response(&self) -> BufferStats {
        *self.client_response.lock()
    }

    /// Records one request's latency (ms) in the server-wide min/avg/max only.
    pub fn latency(&self, ms: i64) {
        if ms < 0 {
            return;
        }
        self.latency_total_ms
            .fetch_add(ms as u64, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_min_ms.fetch_min(ms, Ordering::Relaxed);
        self.latency_max_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Java's `ServerStats.updateLatency`: the overall latency plus `updatelatency` (requests
    /// with a txn) or `readlatency` (the rest, pings included).
    pub fn request_done(&self, op_type: i32, ms: i64) {
        if ms < 0 {
            return;
        }
        self.latency(ms);
        if is_txn_op(op_type) {
            self.update_latency.add(ms);
        } else {
            self.read_latency.add(ms);
        }
    }

    /// (min, avg, max) as Java prints them: min 0 without samples, avg rounded to 4 decimals.
    pub fn latency_summary(&self) -> (i64, f64, i64) {
        let n = self.latency_count.load(Ordering::Relaxed);
        if n == 0 {
            return (0, 0.0, 0);
        }
        let avg = round4(self.latency_total_ms.load(Ordering::Relaxed) as f64 / n as f64);
        (
            self.latency_min_ms.load(Ordering::Relaxed),
            avg,
            self.latency_max_ms.load(Ordering::Relaxed),
        )
    }

    /// `srst`: latency, packet counters, response sizes and the metrics Java's `resetAll` clears.
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_total_ms.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_min_ms.store(i64::MAX, Ordering::Relaxed);
        self.latency_max_ms.store(0, Ordering::Relaxed);
        *self.client_response.lock() = BufferStats::default();
        self.read_latency.reset();
        self.update_latency.reset();
        self.auth_failed.store(0, Ordering::Relaxed);
        self.connection_requests.store(0, Ordering::Relaxed);
        self.fsync_time.reset();
        self.per_namespace.lock().clear();
        self.fsync_threshold_exceeded.store(0, Ordering::Relaxed);
    }

    /// A read of `bytes` under `path`'s top-level namespace.
    pub fn namespace_read(&self, path: &str, bytes: i64) {
        if let Some(ns) = top_namespace(path) {
            // Java: path length + bytes + STAT_OVERHEAD_BYTES (6 longs + 5 ints).
            let total = java_len(path) + bytes + 68;
            self.namespace_stats(ns, |s| s.0.add(total));
        }
    }

    /// Runs `f` on `ns`'s summaries, creating them on first use (no allocation after that).
    fn namespace_stats(&self, ns: &str, f: impl FnOnce(&(Summary, Summary))) {
        let mut map = self.per_namespace.lock();
        if let Some(s) = map.get(ns) {
            f(s);
        } else {
            f(map.entry(ns.to_string()).or_default());
        }
    }

    /// A write of `bytes` of data to `path`.
    pub fn namespace_write(&self, path: &str, bytes: i64) {
        if let Some(ns) = top_namespace(path) {
            let total = java_len(path) + bytes;
            self.namespace_stats(ns, |s| s.1.add(total));
        }
    }

    /// One txn-log sync took `ms`.
    pub fn fsync_done(&self, ms: i64) {
        self.fsync_time.add(ms);
        if ms > FSYNC_WARNING_THRESHOLD_MS {
            self.fsync_threshold_exceeded
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Java's `PathUtils.getTopNamespace`: the first path component (`None` for `/`).
pub fn top_namespace(path: &str) -> Option<&str> {
    path.split('/').nth(1).filter(|s| !s.is_empty())
}

/// `String.length()`: UTF-16 code units.
fn java_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

/// Whether a request of this opcode carries a txn (Java: `request.getHdr() != null`).
pub fn is_txn_op(op_type: i32) -> bool {
    matches!(
        op_type,
        op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::DELETE_CONTAINER
            | op::SET_DATA
            | op::SET_ACL
            | op::MULTI
            | op::RECONFIG
            | op::CLOSE_SESSION
            | op::CREATE_SESSION
    )
}

/// The `lop` name Java's `FinalRequestProcessor` gives an opcode.
pub fn last_op_name(op_type: i32) -> &'static str {
    match op_type {
        op::PING => "PING",
        op::CREATE_SESSION => "SESS",
        op::MULTI => "MULT",
        op::MULTI_READ => "MLTR",
        op::CREATE | op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => "CREA",
        op::DELETE | op::DELETE_CONTAINER => "DELE",
        op::SET_DATA => "SETD",
        op::RECONFIG => "RECO",
        op::SET_ACL => "SETA",
        op::CLOSE_SESSION => "CLOS",
        op::SYNC => "SYNC",
        op::CHECK => "CHEC",
        op::EXISTS => "EXIS",
        op::GET_DATA => "GETD",
        op::SET_WATCHES => "SETW",
        op::SET_WATCHES2 => "STW2",
        op::ADD_WATCH => "ADDW",
        op::GET_ACL => "GETA",
        op::GET_CHILDREN | op::GET_CHILDREN2 => "GETC",
        op::GET_ALL_CHILDREN_NUMBER => "GETACN",
        op::CHECK_WATCHES => "CHKW",
        op::REMOVE_WATCHES => "REMW",
        op::WHO_AM_I => "HOMI",
        op::GET_EPHEMERALS => "GETE",
        _ => "NA",
    }
}

/// Per-connection statistics (`ServerCnxn`'s counters behind `cons`).
#[derive(Debug)]
pub struct ConnStats {
    inner: Mutex<ConnStatsInner>,
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            inner: Mutex::new(ConnStatsInner::fresh()),
        }
    }
}

/// A copy of one connection's statistics.
#[derive(Debug, Clone, Copy)]
pub struct ConnStatsInner {
    pub last_op: &'static str,
    pub last_cxid: i64,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub last_latency: i64,
    min_latency: i64,
    pub max_latency: i64,
    count: i64,
    total: i64,
}

impl ConnStatsInner {
    fn fresh() -> ConnStatsInner {
        ConnStatsInner {
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency: 0,
            min_latency: i64::MAX,
            max_latency: 0,
            count: 0,
            total: 0,
        }
    }

    /// 0 without samples.
    pub fn min_latency(&self) -> i64 {
        if self.min_latency == i64::MAX {
            0
        } else {
            self.min_latency
        }
    }

    /// Integer average (Java's `getAvgLatency` is `long` division).
    pub fn avg_latency(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.total / self.count
        }
    }
}

impl ConnStats {
    /// Java's `updateStatsForResponse`.
    pub fn response(&self, cxid: i64, zxid: i64, op_type: i32, latency_ms: i64, now_ms: i64) {
        let mut s = self.inner.lock();
        if cxid >= 0 {
            s.last_cxid = cxid;
        }
        s.last_zxid = zxid;
        s.last_op = last_op_name(op_type);
        s.last_response_ms = now_ms;
        s.last_latency = latency_ms;
        s.min_latency = s.min_latency.min(latency_ms);
        s.max_latency = s.max_latency.max(latency_ms);
        s.count += 1;
        s.total += latency_ms;
    }

    pub fn get(&self) -> ConnStatsInner {
        *self.inner.lock()
    }

    /// `crst`.
    pub fn reset(&self) {
        *self.inner.lock() = ConnStatsInner::fresh();
    }
}

fn round4(v: f64) -> f64 {
    // Java rounds the exact binary value half-up; `format!` rounds half-to-even on the exact
    // value too, and ties are impossible for quotients of integers that are not exact at 4 places
    // except x.xxxx5 exactly, which `{:.4}` rounds to even: handle that case explicitly.
    let scaled = v * 10000.0;
    if (scaled - scaled.trunc() - 0.5).abs() < f64::EPSILON * scaled.abs().max(1.0) {
        return (scaled.trunc() + 1.0) / 10000.0;
    }
    format!("{v:.4}").parse().unwrap_or(v)
}

/// Formats a double the way Java's `Double.toString` does for the values we print.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Computerized scientific notation: d.dddE[-]n.
        let s = format!("{v:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_string()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(10.3571), "10.3571");
        assert_eq!(java_double(13.5), "13.5");
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(1.0e7), "1.0E7");
        assert_eq!(java_double(0.0001), "1.0E-4");
    }

    #[test]
    fn averages_round_like_java() {
        assert_eq!(round4(81.0 / 6.0), 13.5);
        assert_eq!(round4(111.0 / 14.0), 7.9286);
        assert_eq!(round4(0.00005), 0.0001);
    }

    #[test]
    fn quantiles_like_dropwizard() {
        let s = Summary::default();
        for v in [2, 34, 6, 3, 10, 26] {
            s.add(v);
        }
        let snap = s.snapshot();
        assert_eq!(snap.quantile(0.5).round() as i64, 8);
        assert_eq!(snap.quantile(0.95).round() as i64, 34);
        assert_eq!(snap.min, 2);
        assert_eq!(snap.avg(), 13.5);
    }
}
