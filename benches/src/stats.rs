//! Latency recording and result reporting (table + JSON).

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, 1 µs .. 120 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// One workload run against one server.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub server: String,
    pub workload: String,
    pub sessions: usize,
    pub inflight: usize,
    pub payload: usize,
    pub znodes: usize,
    /// Completed operations inside the measured window (after warmup).
    pub ops: u64,
    pub errors: u64,
    /// A few distinct error messages, to make failures diagnosable from the report.
    pub error_samples: Vec<String>,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Free-form notes (e.g. writes issued by watch-fanout, ops per multi).
    pub note: String,
}

impl RunResult {
    pub fn from_histogram(
        base: RunResult,
        h: &Histogram<u64>,
        ops: u64,
        errors: u64,
        elapsed_s: f64,
    ) -> RunResult {
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        RunResult {
            ops,
            errors,
            elapsed_s,
            ops_per_s: if elapsed_s > 0.0 {
                ops as f64 / elapsed_s
            } else {
                0.0
            },
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if h.is_empty() { 0 } else { h.max() },
            ..base
        }
    }
}

/// Formats microseconds compactly (µs below 10 ms, ms above).
pub fn fmt_us(us: u64) -> String {
    if us < 10_000 {
        format!("{us}µs")
    } else {
        format!("{:.1}ms", us as f64 / 1000.0)
    }
}

/// A plain-text table for the terminal.
pub fn table(results: &[RunResult]) -> String {
    let mut s = format!(
        "{:<14} {:<13} {:>5} {:>4} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6}\n",
        "server",
        "workload",
        "sess",
        "infl",
        "ops",
        "ops/s",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "errors"
    );
    for r in results {
        s.push_str(&format!(
            "{:<14} {:<13} {:>5} {:>4} {:>10} {:>9.0} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6}\n",
            r.server,
            r.workload,
            r.sessions,
            r.inflight,
            r.ops,
            r.ops_per_s,
            fmt_us(r.p50_us),
            fmt_us(r.p90_us),
            fmt_us(r.p99_us),
            fmt_us(r.p999_us),
            fmt_us(r.max_us),
            r.errors
        ));
        for e in &r.error_samples {
            s.push_str(&format!("    error sample: {e}\n"));
        }
    }
    s
}

/// Median of a slice (NaN-free input expected); 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
