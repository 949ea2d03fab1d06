//! `ferrokeeper` binary: a drop-in replacement for `zkServer.sh` + the ZooKeeper JVM.
//!
//! Kept minimal on purpose: argument parsing and dispatch live in [`ferrokeeper::cli`], the
//! configuration layer in [`ferrokeeper::config`], the server in `ferrokeeper::run_server`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROKEEPER_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Plain text when logs go to a file or a container log (no ANSI escapes).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .init();

    let cli = ferrokeeper::cli::Cli::parse();
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut ctx = ferrokeeper::cli::Context {
        env: ferrokeeper::config::ShellEnv::from_process_env(),
        // bin/zkServer.sh exports its own directory as ZOOBINDIR (as Apache's script computes
        // it), so `<bin>/../conf` is the default config directory there too.
        bin_dir: std::env::var_os("ZOOBINDIR")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from),
        out: &mut stdout,
        err: &mut stderr,
    };
    let code = ferrokeeper::cli::run(cli, &mut ctx);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
