"""Start and stop ZooKeeper servers under test (Java reference or ferrokeeper).

Small library shared by the integration tests:

* ``ZkServer(impl, workdir, extra_cfg=...)`` writes ``zoo.cfg`` into its own
  directory, starts the server in its own process group, waits until the
  ``srvr`` four-letter word prints a ``Mode:`` line, and ``stop()`` kills the
  whole process group.
* ``four_letter(port, "srvr")`` sends a four-letter word and returns the text.
* ``selected_impls()`` reads ``ZK_IMPLS`` (comma list, default ``ferrokeeper``).

Implementations:

* ``java``        -- Debian's ZooKeeper 3.8 jar, ``QuorumPeerMain zoo.cfg``.
* ``ferrokeeper`` -- ``$FERROKEEPER_BIN`` or ``<repo>/target/release/ferrokeeper``,
                     run as ``ferrokeeper start-foreground zoo.cfg``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPLS = ("java", "ferrokeeper")
DEFAULT_IMPLS = "ferrokeeper"

JAVA_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
JAVA_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
# Jars the Java AdminServer needs beside zookeeper.jar (Debian packages libjetty9-java,
# libjackson2-databind-java, libservlet-api-java).
JAVA_ADMIN_CLASSPATH = [f"/usr/share/java/{name}.jar" for name in (
    "jetty9-server", "jetty9-servlet", "jetty9-util", "jetty9-util-ajax", "jetty9-http",
    "jetty9-io", "jetty9-security", "servlet-api", "jackson-databind", "jackson-core",
    "jackson-annotations")]

LOCALHOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """The server process could not be started or never became ready."""


def selected_impls() -> list[str]:
    """Implementations chosen by ``ZK_IMPLS`` (default: ferrokeeper only)."""
    raw = os.environ.get("ZK_IMPLS", DEFAULT_IMPLS)
    impls = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [impl for impl in impls if impl not in IMPLS]
    if unknown or not impls:
        raise ValueError(f"ZK_IMPLS={raw!r}: expected a comma list of {IMPLS}")
    return impls


def ferrokeeper_bin() -> Path:
    return Path(os.environ.get("FERROKEEPER_BIN", REPO_ROOT / "target" / "release" / "ferrokeeper"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def four_letter(port: int, cmd: str, timeout: float = 5.0) -> str:
    """Send a four-letter word, half-close, and read the answer until EOF."""
    with socket.create_connection((LOCALHOST, port), timeout=timeout) as sock:
        sock.sendall(cmd.encode("ascii"))
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class ZkServer:
    """One standalone ZooKeeper server in its own directory and process group."""

    def __init__(self, impl: str, workdir: Path, port: int | None = None,
                 tick_time: int = 2000, extra_cfg: dict | None = None,
                 env: dict | None = None, java_classpath_extra: list | None = None):
        if impl not in IMPLS:
            raise ValueError(f"unknown implementation {impl!r}")
        self.impl = impl
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.cfg_path = self.workdir / "zoo.cfg"
        self.log_path = self.workdir / "server.log"
        self.port = port or free_port()
        self.tick_time = tick_time
        self.extra_cfg = dict(extra_cfg or {})
        # Extra environment for the server process (e.g. SERVER_JVMFLAGS), added to os.environ.
        self.env = dict(env or {})
        # Extra jars for the Java server's -cp (e.g. JAVA_ADMIN_CLASSPATH for the AdminServer).
        self.java_classpath_extra = [str(p) for p in (java_classpath_extra or [])]
        self.proc: subprocess.Popen | None = None

    # -- configuration -------------------------------------------------
    @property
    def hosts(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    def config_lines(self) -> list[str]:
        cfg = {
            "tickTime": self.tick_time,
            "dataDir": self.data_dir,
            "clientPort": self.port,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
        }
        cfg.update(self.extra_cfg)
        return [f"{key}={value}" for key, value in cfg.items()]

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text("\n".join(self.config_lines()) + "\n")

    def command(self) -> list[str]:
        if self.impl == "java":
            # zkServer.sh passes SERVER_JVMFLAGS to the JVM; so does this launcher.
            jvm_flags = self.env.get("SERVER_JVMFLAGS", "").split()
            return ["java", "-Xmx512m", *jvm_flags, f"-Dzookeeper.log.dir={self.workdir}",
                    "-Dzookeeper.root.logger=WARN,CONSOLE", "-cp",
                    ":".join([JAVA_CLASSPATH] + self.java_classpath_extra),
                    JAVA_MAIN, str(self.cfg_path)]
        binary = ferrokeeper_bin()
        if not binary.is_file():
            raise ServerStartError(
                f"ferrokeeper binary not found at {binary} "
                "(build with `cargo build --release` or set FERROKEEPER_BIN)")
        return [str(binary), "start-foreground", str(self.cfg_path)]

    # -- lifecycle -----------------------------------------------------
    def start(self, timeout: float = 60.0) -> "ZkServer":
        """Start the server; retry with a new port if the chosen one was taken."""
        for attempt in range(3):
            self.write_config()
            self._spawn()
            try:
                self.wait_ready(timeout)
                return self
            except ServerStartError:
                self.stop()
                if attempt < 2 and "in use" in self.log_text().lower():
                    self.port = free_port()
                    continue
                raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        log = open(self.log_path, "ab")
        try:
            env = dict(os.environ, **self.env) if self.env else None
            self.proc = subprocess.Popen(
                self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def srvr(self) -> str | None:
        """The ``srvr`` output, or None if the server does not answer."""
        try:
            return four_letter(self.port, "srvr", timeout=2.0)
        except OSError:
            return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise ServerStartError(
                    f"{self.impl} server exited with {self.proc.returncode} during startup; "
                    f"log tail:\n{self.log_tail()}")
            out = self.srvr()
            if out and any(line.startswith("Mode:") for line in out.splitlines()):
                return
            time.sleep(0.1)
        raise ServerStartError(
            f"{self.impl} server on port {self.port} not ready after {timeout}s; "
            f"log tail:\n{self.log_tail()}")

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Terminate the process group (SIGTERM, then SIGKILL). Returns the exit code."""
        if self.proc is None:
            return None
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        # Also reap anything else left in the group.
        self._signal_group(signal.SIGKILL)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the process group (crash simulation)."""
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # -- diagnostics ---------------------------------------------------
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> "ZkServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ZkServer({self.impl}, port={self.port}, dir={self.workdir})"


def start_server(impl: str, workdir: Path, **kwargs) -> ZkServer:
    """Create and start a server; raises ServerStartError on failure."""
    return ZkServer(impl, workdir, **kwargs).start()
