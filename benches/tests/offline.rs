//! Offline checks of the pieces that need no server: statistics, path layout, the chart
//! renderer (no system fonts) and the machine probes. Servers are exercised by `compare --smoke`.

use ferro_bench::chart::{render, Series};
use ferro_bench::stats::{fmt_us, median, new_histogram, RunResult};
use ferro_bench::sysfacts::{fdatasync_rate, loopback_rtt};
use ferro_bench::workload::{data_path, BUCKET};

#[test]
fn median_and_formatting() {
    assert_eq!(median(&[]), 0.0);
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert_eq!(fmt_us(950), "950µs");
    assert_eq!(fmt_us(12_345), "12.3ms");
}

#[test]
fn data_paths_bucket_by_hundred() {
    assert_eq!(BUCKET, 100);
    assert_eq!(data_path("/r", 0), "/r/data/b00000/n00");
    assert_eq!(data_path("/r", 199), "/r/data/b00001/n99");
}

#[test]
fn histogram_percentiles_feed_results() {
    let mut h = new_histogram();
    for v in 1..=1000u64 {
        h.record(v).unwrap();
    }
    let base = RunResult {
        server: "s".into(),
        workload: "get".into(),
        sessions: 1,
        inflight: 1,
        payload: 1,
        znodes: 1,
        ops: 0,
        errors: 0,
        error_samples: vec![],
        elapsed_s: 0.0,
        ops_per_s: 0.0,
        p50_us: 0,
        p90_us: 0,
        p99_us: 0,
        p999_us: 0,
        max_us: 0,
        note: String::new(),
    };
    let r = RunResult::from_histogram(base, &h, 1000, 0, 2.0);
    assert_eq!(r.ops_per_s, 500.0);
    assert!((499..=501).contains(&r.p50_us), "{}", r.p50_us);
    assert!((989..=991).contains(&r.p99_us), "{}", r.p99_us);
    assert_eq!(r.max_us, 1000);
}

#[test]
fn chart_renders_png_without_fonts() {
    let dir = std::env::temp_dir().join(format!("ferro-bench-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("c.png");
    let s = vec![
        Series {
            label: "a get".into(),
            points: vec![(1.0, 1000.0), (4.0, 3000.0), (16.0, 5000.0)],
            color: plotters::style::RGBColor(0, 0, 255),
        },
        Series {
            label: "b get".into(),
            points: vec![(1.0, 2000.0), (4.0, 6000.0), (16.0, 9000.0)],
            color: plotters::style::RGBColor(255, 0, 0),
        },
    ];
    render(&p, "test chart", &s).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn probes_run_briefly() {
    let dir = std::env::temp_dir();
    let f = fdatasync_rate(&dir, std::time::Duration::from_millis(50)).unwrap();
    assert!(f.syncs > 0);
    let r = loopback_rtt(100).unwrap();
    assert!(r.p50_us > 0.0);
}
