//! Machine facts that bound what a ZooKeeper server can do here: fdatasync rate of the data
//! disk, loopback round-trip time, and the device's flush counter.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct FsyncRate {
    pub syncs: u64,
    pub per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// Writes 4 KiB + fdatasync in a loop for `dur` in `dir`, into a preallocated file (as the
/// ZooKeeper txn log does), so the rate is what a group commit can get at best.
pub fn fdatasync_rate(dir: &Path, dur: Duration) -> std::io::Result<FsyncRate> {
    let path = dir.join("fsync-probe.bin");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let block = vec![0xA5u8; 4096];
    let prealloc = 64 * 1024 * 1024u64;
    f.set_len(prealloc)?;
    f.sync_all()?;
    let mut h = crate::stats::new_histogram();
    let t = Instant::now();
    let mut n = 0u64;
    let mut off = 0u64;
    while t.elapsed() < dur {
        if off + 4096 > prealloc {
            off = 0;
        }
        f.seek(SeekFrom::Start(off))?;
        f.write_all(&block)?;
        let s = Instant::now();
        f.sync_data()?;
        let _ = h.record((s.elapsed().as_micros() as u64).max(1));
        off += 4096;
        n += 1;
    }
    let el = t.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(FsyncRate {
        syncs: n,
        per_s: n as f64 / el,
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Rtt {
    pub samples: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// A 1-byte TCP echo over 127.0.0.1 in-process (server thread + client), `n` round trips.
pub fn loopback_rtt(n: u64) -> std::io::Result<Rtt> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let srv = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = l.accept()?;
        s.set_nodelay(true)?;
        let mut b = [0u8; 1];
        for _ in 0..n {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut b = [7u8; 1];
    for _ in 0..n {
        let t = Instant::now();
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
        let _ = h.record((t.elapsed().as_nanos() as u64).max(1));
    }
    let _ = srv.join();
    Ok(Rtt {
        samples: n,
        p50_us: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: h.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

/// Completed flush requests of the block device holding `dir` (field 16 of
/// /sys/dev/block/M:m/stat, kernel ≥ 5.5). Device-wide: includes other processes' flushes.
pub fn device_flushes(dir: &Path) -> Option<u64> {
    let dev = std::fs::metadata(dir).ok()?.dev();
    // SAFETY: pure bit manipulation on a dev_t.
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let s = std::fs::read_to_string(format!("/sys/dev/block/{maj}:{min}/stat")).ok()?;
    s.split_whitespace().nth(15)?.parse().ok()
}

fn cmd_out(argv: &[&str]) -> String {
    std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Human-readable facts about this machine, as (label, value) rows.
pub fn machine_facts(dir: &Path) -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let df = cmd_out(&[
        "df",
        "-h",
        "--output=source,fstype,size",
        &dir.to_string_lossy(),
    ]);
    let disk = df
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let wc = std::fs::metadata(dir)
        .ok()
        .and_then(|m| {
            let d = m.dev();
            let p = format!(
                "/sys/dev/block/{}:{}/queue/write_cache",
                libc::major(d),
                libc::minor(d)
            );
            std::fs::read_to_string(p).ok()
        })
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let java = std::process::Command::new("java")
        .arg("-version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    let zk = cmd_out(&["dpkg-query", "-W", "-f=${Version}", "zookeeper"]);
    vec![
        ("nproc".into(), cmd_out(&["nproc"])),
        ("CPU".into(), cpu),
        ("memory".into(), mem),
        ("kernel".into(), cmd_out(&["uname", "-r"])),
        ("data disk".into(), format!("{disk} (write cache: {wc})")),
        ("Java".into(), java),
        ("Java ZooKeeper (Debian pkg)".into(), zk),
        ("rustc".into(), cmd_out(&["rustc", "--version"])),
    ]
}
