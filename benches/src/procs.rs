//! Server processes: spawn in their own process group, kill the whole group on drop, on
//! SIGINT/SIGTERM, and (via PR_SET_PDEATHSIG) if the harness itself dies.
//! Also /proc readers (RSS, CPU) and the `srvr` four-letter word.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

/// Process groups still alive; read by the signal handler (atomics only: async-signal-safe).
static GROUPS: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];

fn register(pgid: i32) {
    for slot in &GROUPS {
        if slot
            .compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

fn unregister(pgid: i32) {
    for slot in &GROUPS {
        let _ = slot.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    for slot in &GROUPS {
        let g = slot.load(Ordering::SeqCst);
        if g > 0 {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe {
                libc::kill(-g, libc::SIGKILL);
            }
        }
    }
    // SAFETY: _exit(2) is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Kills every registered server group on SIGINT/SIGTERM/SIGHUP, then exits.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only touches atomics and async-signal-safe calls.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// A server we started. Dropping it SIGKILLs its process group and reaps it.
pub struct ServerProc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl ServerProc {
    /// Spawns `argv` with stdout+stderr to `log`. Call from a thread that outlives the server
    /// (the main thread): PR_SET_PDEATHSIG fires when the *spawning thread* exits.
    pub fn spawn(name: &str, argv: &[String], log: &Path) -> anyhow::Result<ServerProc> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", argv.join(" ")))?;
        register(child.id() as i32);
        Ok(ServerProc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (and its status).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM the group, wait up to `grace`, then SIGKILL. Returns how long the stop took.
    pub fn stop(&mut self, grace: Duration) -> Duration {
        let t = Instant::now();
        let pg = self.child.id() as i32;
        // SAFETY: plain kill(2) on our own child's process group.
        unsafe {
            libc::kill(-pg, libc::SIGTERM);
        }
        while t.elapsed() < grace {
            if self.exited().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        t.elapsed()
    }

    fn kill(&mut self) {
        let pg = self.child.id() as i32;
        // SAFETY: as above; the group may already be gone (ESRCH is fine).
        unsafe {
            libc::kill(-pg, libc::SIGKILL);
        }
        let _ = self.child.wait();
        unregister(pg);
    }

    /// Last lines of the server log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let v: Vec<&str> = s.lines().collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Resident set size in bytes (VmRSS).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// utime+stime of the whole process (all threads), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((ut + st) / hz)
}

/// Sends a four-letter word to 127.0.0.1:`port` and returns the reply.
pub fn four_letter(port: u16, cmd: &str) -> anyhow::Result<String> {
    let addr = format!("127.0.0.1:{port}").parse()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(cmd.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The `Mode:` value of `srvr`, if the server answers with one.
pub fn mode(port: u16) -> Option<String> {
    let r = four_letter(port, "srvr").ok()?;
    r.lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(|m| m.trim().to_string())
}

/// Polls `srvr` until it reports a mode in `accept` or `timeout` passes.
pub fn wait_mode(port: u16, accept: &[&str], timeout: Duration) -> anyhow::Result<String> {
    let t = Instant::now();
    loop {
        if let Some(m) = mode(port) {
            if accept.iter().any(|a| *a == m) {
                return Ok(m);
            }
        }
        if t.elapsed() > timeout {
            return Err(anyhow!(
                "port {port}: no Mode in {accept:?} within {timeout:?} (last: {:?})",
                mode(port)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Total size of files under `dir` (recursive), and the newest file whose name starts with
/// `snapshot` (size, name).
pub fn dir_facts(dir: &Path) -> (u64, Option<(u64, String)>) {
    fn walk(d: &Path, total: &mut u64, snap: &mut Option<(std::time::SystemTime, u64, String)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                walk(&e.path(), total, snap);
            } else {
                *total += md.len();
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("snapshot") {
                    let m = md.modified().unwrap_or(std::time::UNIX_EPOCH);
                    if snap.as_ref().is_none_or(|(t, _, _)| m >= *t) {
                        *snap = Some((m, md.len(), name));
                    }
                }
            }
        }
    }
    let mut total = 0;
    let mut snap = None;
    walk(dir, &mut total, &mut snap);
    (total, snap.map(|(_, s, n)| (s, n)))
}
