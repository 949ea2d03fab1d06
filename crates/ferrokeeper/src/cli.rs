//! The `zkServer.sh`-compatible command line.
//!
//! Images, operators and runbooks invoke `zkServer.sh [--config DIR] <verb> [cfg]`; the
//! ferrokeeper binary accepts the same verbs with the same outputs and exit codes so it can
//! be dropped in (or wrapped by a two-line `zkServer.sh` shim).
//!
//! Verbs: `start-foreground`, `start`, `stop`, `restart`, `status`, `version`, `print-cmd`.
//! Like the script, every verb first prints `ZooKeeper JMX enabled by default` (or `JMX
//! disabled by user request`) and `Using config: <path>` to stderr. An unknown verb prints
//! the script's usage line to stderr and exits 0 (the script has no explicit exit).

pub mod status;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{self, LocateRequest, Located, ShellEnv};

/// ZooKeeper release whose behaviour (and `version` output) ferrokeeper matches.
pub const ZOOKEEPER_COMPAT_VERSION: &str = "3.9.4";

/// Usage line printed by `zkServer.sh` for unknown verbs.
pub const USAGE: &str =
    "[--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd}";

/// Command line arguments (clap).
#[derive(Debug, Parser)]
#[command(
    name = "ferrokeeper",
    version,
    about = "Native drop-in Apache ZooKeeper 3.8/3.9 server (zkServer.sh-compatible CLI)",
    allow_external_subcommands = true
)]
pub struct Cli {
    /// Configuration directory (zkEnv.sh `--config`; overrides ZOOCFGDIR).
    #[arg(long = "config", value_name = "DIR", global = true)]
    pub config: Option<PathBuf>,
    /// The zkServer.sh verb.
    #[command(subcommand)]
    pub command: Option<Verb>,
}

/// zkServer.sh verbs; each takes an optional config file (`$2` in the script).
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Run the server in the foreground (what container images use).
    StartForeground {
        /// Config file: a bare name is looked up in the config dir, a path is used as is.
        cfg: Option<String>,
    },
    /// Start the server in the background and write the pid file.
    Start {
        /// Config file.
        cfg: Option<String>,
    },
    /// Stop the server started with `start` (pid file).
    Stop {
        /// Config file.
        cfg: Option<String>,
    },
    /// `stop`, wait 3 s, `start`.
    Restart {
        /// Config file.
        cfg: Option<String>,
    },
    /// Ask the running server for its mode with `srvr` (exit 0 if serving).
    Status {
        /// Config file.
        cfg: Option<String>,
    },
    /// Print the version.
    Version {
        /// Ignored (accepted like the script).
        cfg: Option<String>,
    },
    /// Print the command line `start` would run.
    PrintCmd {
        /// Config file.
        cfg: Option<String>,
    },
    /// Print a snapshot file (like zkSnapShotToolkit): header, sessions, nodes.
    SnapshotDump {
        /// The `snapshot.<zxid>` file (optionally `.gz` / `.snappy`).
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a txn log file (like zkTxnLogToolkit): one line per txn.
    TxnlogDump {
        /// The `log.<zxid>` file.
        file: PathBuf,
    },
    /// Check every snapshot and log of a data dir (seals, checksums) and report the zxid range.
    Verify {
        /// `dataDir` (its `version-2` holds the snapshots).
        data_dir: PathBuf,
        /// `dataLogDir` when the logs live elsewhere.
        data_log_dir: Option<PathBuf>,
    },
    /// Anything else: usage on stderr, exit 0 (script behaviour).
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

impl Verb {
    fn cfg(&self) -> Option<String> {
        match self {
            Verb::StartForeground { cfg }
            | Verb::Start { cfg }
            | Verb::Stop { cfg }
            | Verb::Restart { cfg }
            | Verb::Status { cfg }
            | Verb::Version { cfg }
            | Verb::PrintCmd { cfg } => cfg.clone(),
            Verb::Other(_)
            | Verb::SnapshotDump { .. }
            | Verb::TxnlogDump { .. }
            | Verb::Verify { .. } => None,
        }
    }
}

/// Process context for [`run`]; separated so tests can capture output.
pub struct Context<'a> {
    /// Starting environment (normally the process environment).
    pub env: ShellEnv,
    /// Directory of the binary (`None` ⇒ the running executable's).
    pub bin_dir: Option<PathBuf>,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// Runs the CLI and returns the process exit code.
pub fn run(cli: Cli, ctx: &mut Context<'_>) -> i32 {
    let Some(verb) = cli.command else {
        let _ = writeln!(ctx.err, "Usage: ferrokeeper {USAGE}");
        return 0;
    };
    match &verb {
        Verb::Other(_) => {
            let _ = writeln!(ctx.err, "Usage: ferrokeeper {USAGE}");
            return 0;
        }
        Verb::SnapshotDump { file, json } => {
            let _ = write!(ctx.out, "{}", storage::dump::snapshot_dump(file, *json));
            return match storage::snapshot::verify_snapshot(file) {
                Ok(_) => 0,
                Err(_) => 1,
            };
        }
        Verb::TxnlogDump { file } => {
            let _ = write!(ctx.out, "{}", storage::dump::txnlog_dump(file));
            // Exit status as zkTxnLogToolkit: non-zero when the file cannot be read or is corrupt.
            let readable =
                storage::txn_log::LogFileReader::open(file).and_then(|mut r| r.scan_to_end());
            return match readable {
                Ok(_) => 0,
                Err(e) => {
                    let _ = writeln!(ctx.err, "{e}");
                    1
                }
            };
        }
        Verb::Verify {
            data_dir,
            data_log_dir,
        } => {
            let report = storage::dump::verify(data_dir, data_log_dir.as_deref());
            let _ = write!(ctx.out, "{}", report.render());
            return if report.is_clean() { 0 } else { 1 };
        }
        _ => {}
    }
    let req = LocateRequest {
        config_dir: cli.config.clone(),
        config_arg: verb.cfg(),
        bin_dir: ctx.bin_dir.clone(),
    };
    let located = config::locate::locate(&req, ctx.env.clone());
    if located
        .env
        .non_empty("JMXDISABLE")
        .map_or(true, |v| v == "false")
    {
        let _ = writeln!(ctx.err, "ZooKeeper JMX enabled by default");
    } else {
        let _ = writeln!(ctx.err, "JMX disabled by user request");
    }
    let _ = writeln!(ctx.err, "Using config: {}", located.config_file.display());

    let cfg_text = std::fs::read(&located.config_file)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let data_dir = grep_first(&cfg_text, "dataDir");
    let data_log_dir = grep_first(&cfg_text, "dataLogDir");
    if located
        .env
        .non_empty("ZOO_DATADIR_AUTOCREATE_DISABLE")
        .is_some()
    {
        let dd = data_dir.clone().unwrap_or_default();
        if !Path::new(&dd).join("version-2").is_dir() {
            let _ = writeln!(
                ctx.out,
                "ZooKeeper data directory is missing at {dd} fix the path or run initialize"
            );
            return 1;
        }
        if let Some(dl) = &data_log_dir {
            if !Path::new(dl).join("version-2").is_dir() {
                let _ = writeln!(
                    ctx.out,
                    "ZooKeeper txnlog directory is missing at {dl} fix the path or run initialize"
                );
                return 1;
            }
        }
    }
    let pid_file = match located.env.non_empty("ZOOPIDFILE") {
        Some(p) => {
            let p = PathBuf::from(p);
            if let Some(parent) = p.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            p
        }
        None => {
            let dd = PathBuf::from(data_dir.clone().unwrap_or_default());
            if !dd.as_os_str().is_empty() && !dd.is_dir() {
                let _ = std::fs::create_dir_all(&dd);
            }
            dd.join("zookeeper_server.pid")
        }
    };

    match verb {
        Verb::StartForeground { .. } => start_foreground(located, ctx),
        Verb::Start { .. } => start(&cli.config, &located, &pid_file, ctx),
        Verb::Stop { .. } => stop(&pid_file, ctx),
        Verb::Restart { .. } => {
            stop(&pid_file, ctx);
            std::thread::sleep(Duration::from_secs(3));
            start(&cli.config, &located, &pid_file, ctx)
        }
        Verb::Status { .. } => status::run_status(&cfg_text, ctx.out),
        Verb::Version { .. } => {
            let _ = writeln!(ctx.out, "{}", version_line());
            0
        }
        Verb::PrintCmd { .. } => {
            let _ = writeln!(ctx.out, "{}", daemon_command_line(&cli.config, &located));
            0
        }
        Verb::Other(_)
        | Verb::SnapshotDump { .. }
        | Verb::TxnlogDump { .. }
        | Verb::Verify { .. } => 0,
    }
}

/// `Apache ZooKeeper, version …` as `VersionInfoMain` prints it, tagged with ferrokeeper's.
pub fn version_line() -> String {
    format!(
        "Apache ZooKeeper, version {ZOOKEEPER_COMPAT_VERSION} ferrokeeper-{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// First `^[[:space:]]*<key>` line's value after the last `=`, trimmed (script semantics).
fn grep_first(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let l = line.trim_start();
        if !l.starts_with(key) {
            return None;
        }
        let v = match line.rfind('=') {
            Some(i) => &line[i + 1..],
            None => line,
        };
        Some(v.trim().to_string())
    })
}

fn start_foreground(located: Located, ctx: &mut Context<'_>) -> i32 {
    let loaded = match config::load_located(located) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("Invalid config: {e}");
            let _ = writeln!(ctx.err, "{e}");
            // QuorumPeerMain exits 2 for every configuration error (incl. a bad myid).
            let _ = writeln!(ctx.err, "Invalid config, exiting abnormally");
            return 2;
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if !loaded.ignored_jvm_flags.is_empty() {
        tracing::info!(
            "ignoring JVM-only flags: {}",
            loaded.ignored_jvm_flags.join(" ")
        );
    }
    tracing::info!("{}", loaded.summary());
    match crate::run_server(loaded) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("server failed: {e}");
            let _ = writeln!(ctx.err, "ferrokeeper: {e}");
            1
        }
    }
}

fn daemon_out_file(located: &Located) -> PathBuf {
    let user = located.env.non_empty("USER").unwrap_or("").to_string();
    let host = located
        .env
        .non_empty("HOSTNAME")
        .map(str::to_string)
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    located
        .log_dir()
        .join(format!("zookeeper-{user}-server-{host}.out"))
}

fn self_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ferrokeeper"))
}

/// The command line `start` runs, printed by `print-cmd`.
pub fn daemon_command_line(config_dir: &Option<PathBuf>, located: &Located) -> String {
    let mut s = format!("\"{}\"", self_exe().display());
    if let Some(d) = config_dir {
        s.push_str(&format!(" --config \"{}\"", d.display()));
    }
    s.push_str(&format!(
        " start-foreground \"{}\" > \"{}\" 2>&1 < /dev/null",
        located.config_file.display(),
        daemon_out_file(located).display()
    ));
    s
}

fn process_alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .arg("-0")
        .arg(pid)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn start(
    config_dir: &Option<PathBuf>,
    located: &Located,
    pid_file: &Path,
    ctx: &mut Context<'_>,
) -> i32 {
    let _ = write!(ctx.out, "Starting zookeeper ... ");
    if let Ok(pid) = std::fs::read_to_string(pid_file) {
        let pid = pid.trim();
        if !pid.is_empty() && process_alive(pid) {
            let _ = writeln!(ctx.out, "already running as process {pid}.");
            return 1;
        }
    }
    let log_dir = located.log_dir();
    let _ = std::fs::create_dir_all(&log_dir);
    let out_path = daemon_out_file(located);
    let spawned = std::fs::File::create(&out_path).and_then(|f| {
        let f2 = f.try_clone()?;
        let mut cmd = std::process::Command::new(self_exe());
        if let Some(d) = config_dir {
            cmd.arg("--config").arg(d);
        }
        cmd.arg("start-foreground")
            .arg(&located.config_file)
            .stdin(std::process::Stdio::null())
            .stdout(f)
            .stderr(f2);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        cmd.spawn()
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(_) => {
            let _ = writeln!(ctx.out, "SERVER DID NOT START");
            return 1;
        }
    };
    if std::fs::write(pid_file, child.id().to_string()).is_err() {
        let _ = writeln!(ctx.out, "FAILED TO WRITE PID");
        return 1;
    }
    std::thread::sleep(Duration::from_secs(1));
    match child.try_wait() {
        Ok(None) => {
            let _ = writeln!(ctx.out, "STARTED");
            0
        }
        _ => {
            let _ = writeln!(ctx.out, "FAILED TO START");
            1
        }
    }
}

fn stop(pid_file: &Path, ctx: &mut Context<'_>) -> i32 {
    let _ = write!(ctx.out, "Stopping zookeeper ... ");
    match std::fs::read_to_string(pid_file) {
        Err(_) => {
            let _ = writeln!(
                ctx.out,
                "no zookeeper to stop (could not find file {})",
                pid_file.display()
            );
        }
        Ok(pid) => {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            let _ = std::fs::remove_file(pid_file);
            std::thread::sleep(Duration::from_secs(1));
            let _ = writeln!(ctx.out, "STOPPED");
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::TempDir;
    use std::collections::BTreeMap;

    fn run_args(args: &[&str], env: &[(&str, &str)], bin: &Path) -> (i32, String, String) {
        let cli = Cli::try_parse_from(std::iter::once("ferrokeeper").chain(args.iter().copied()))
            .expect("args parse");
        let mut out = Vec::new();
        let mut err = Vec::new();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let code = {
            let mut ctx = Context {
                env: ShellEnv::new(env),
                bin_dir: Some(bin.to_path_buf()),
                out: &mut out,
                err: &mut err,
            };
            run(cli, &mut ctx)
        };
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn version_and_headers() {
        let t = TempDir::new("cli-version");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let (code, out, err) = run_args(
            &["--config", conf.to_str().unwrap(), "version"],
            &[],
            t.path(),
        );
        assert_eq!(code, 0);
        assert!(out.starts_with("Apache ZooKeeper, version 3.9.4"));
        assert_eq!(
            err,
            format!(
                "ZooKeeper JMX enabled by default\nUsing config: {}\n",
                conf.join("zoo.cfg").display()
            )
        );
        let (_, _, err) = run_args(
            &["--config", conf.to_str().unwrap(), "version"],
            &[("JMXDISABLE", "true")],
            t.path(),
        );
        assert!(err.starts_with("JMX disabled by user request\n"));
    }

    #[test]
    fn unknown_verb_prints_usage_exit_0() {
        let t = TempDir::new("cli-usage");
        let (code, _, err) = run_args(&["frobnicate"], &[], t.path());
        assert_eq!(code, 0);
        assert!(err.contains("{start|start-foreground|stop|version|restart|status|print-cmd}"));
    }

    #[test]
    fn start_foreground_invalid_config_exits_2() {
        let t = TempDir::new("cli-invalid");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("zoo.cfg"), "tickTime=abc\n").unwrap();
        let (code, _, err) = run_args(
            &["--config", conf.to_str().unwrap(), "start-foreground"],
            &[],
            t.path(),
        );
        assert_eq!(code, 2);
        assert!(err.contains("zoo.cfg:1: invalid value 'abc' for tickTime"));
        assert!(err.ends_with("Invalid config, exiting abnormally\n"));
    }

    #[test]
    fn start_foreground_reports_an_unusable_data_dir() {
        let t = TempDir::new("cli-fg");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        // dataDir lies under a regular file: the server cannot create version-2 and must say so.
        let blocker = t.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let data = blocker.join("data");
        std::fs::write(
            conf.join("zoo.cfg"),
            format!(
                "tickTime=2000\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n",
                data.display()
            ),
        )
        .unwrap();
        let (code, _, err) = run_args(
            &["start-foreground", "zoo.cfg"],
            &[("ZOOCFGDIR", conf.to_str().unwrap())],
            t.path(),
        );
        assert_eq!(code, 1);
        assert!(err.contains("cannot load the database"), "stderr: {err}");
    }

    #[test]
    fn status_verb_end_to_end() {
        let t = TempDir::new("cli-status");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        std::fs::write(
            conf.join("zoo.cfg"),
            format!(
                "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
                t.path().join("data").display()
            ),
        )
        .unwrap();
        let (code, out, _) = run_args(
            &["--config", conf.to_str().unwrap(), "status"],
            &[],
            t.path(),
        );
        assert_eq!(code, 1);
        assert!(out.ends_with("Error contacting service. It is probably not running.\n"));
    }

    #[test]
    fn stop_without_pid_file() {
        let t = TempDir::new("cli-stop");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let data = t.path().join("data");
        std::fs::write(
            conf.join("zoo.cfg"),
            format!("dataDir={}\n", data.display()),
        )
        .unwrap();
        let (code, out, _) = run_args(&["--config", conf.to_str().unwrap(), "stop"], &[], t.path());
        assert_eq!(code, 0);
        assert_eq!(
            out,
            format!(
                "Stopping zookeeper ... no zookeeper to stop (could not find file {})\n",
                data.join("zookeeper_server.pid").display()
            )
        );
    }

    #[test]
    fn print_cmd_mentions_config() {
        let t = TempDir::new("cli-printcmd");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let (code, out, _) = run_args(
            &["print-cmd"],
            &[
                ("ZOOCFGDIR", conf.to_str().unwrap()),
                ("ZOO_LOG_DIR", "/logs"),
            ],
            t.path(),
        );
        assert_eq!(code, 0);
        assert!(out.contains("start-foreground"));
        assert!(out.contains(&format!("\"{}\"", conf.join("zoo.cfg").display())));
        assert!(out.contains("> \"/logs/zookeeper-"));
    }
}
