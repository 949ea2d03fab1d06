//! Counters reported by `srvr`, `stat`, `mntr` and the AdminServer (Java's `ServerStats`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Server-wide request statistics, lock-free so every connection can update them.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    latency_total_ms: AtomicU64,
    latency_count: AtomicU64,
    latency_min_ms: AtomicI64,
    latency_max_ms: AtomicI64,
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

    /// Records one request's latency (ms).
    pub fn latency(&self, ms: i64) {
        self.latency_total_ms.fetch_add(ms.max(0) as u64, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_min_ms.fetch_min(ms, Ordering::Relaxed);
        self.latency_max_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// (min, avg, max) as Java prints them: min 0 without samples, avg rounded to 4 decimals.
    pub fn latency_summary(&self) -> (i64, f64, i64) {
        let n = self.latency_count.load(Ordering::Relaxed);
        if n == 0 {
            return (0, 0.0, 0);
        }
        let avg = self.latency_total_ms.load(Ordering::Relaxed) as f64 / n as f64;
        let avg = (avg * 10000.0).round() / 10000.0;
        (
            self.latency_min_ms.load(Ordering::Relaxed),
            avg,
            self.latency_max_ms.load(Ordering::Relaxed),
        )
    }

    /// `srst`.
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_total_ms.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_min_ms.store(i64::MAX, Ordering::Relaxed);
        self.latency_max_ms.store(0, Ordering::Relaxed);
    }
}

/// Formats a double the way Java's `Double.toString` does for the values we print.
pub fn java_double(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        let s = format!("{v}");
        s
    }
}
