"""Four-letter words, whitelist and ``status`` compared with Java ZooKeeper 3.8, line by line.

Both servers get the same zoo.cfg, the same client activity (two sessions, znodes, ephemerals,
watches, one fired watch) and then the same sequence of four-letter words. Outputs are
normalized only for values that identify a process (session ids, client ports, the server's own
directory and port) and then compared line by line. Values that must differ are excepted by name
in ``EXCEPT_*`` below — never by loosening a whole comparison.

Java is required (a missing Java server fails the run, as in the differential suite).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from servers import LOCALHOST, REPO_ROOT, ServerStartError, ZkServer, ferrokeeper_bin

# --- named exceptions ------------------------------------------------------------------------
# srvr/stat lines whose values must differ.
EXCEPT_SRVR = {
    "Zookeeper version": "build identity: 3.8.0-<git id> vs 3.9.3-ferrokeeper-<version>",
    "Latency min/avg/max": "wall-clock latencies of two different processes",
}
# cons fields that are times.
EXCEPT_CONS = {
    "est": "connection establishment wall-clock time",
    "lresp": "last response time on each process's monotonic clock",
    "llat": "latency (ms)",
    "minlat": "latency (ms)",
    "avglat": "latency (ms)",
    "maxlat": "latency (ms)",
}
# envi keys whose values describe the process (a JVM vs a native binary).
EXCEPT_ENVI = {
    "zookeeper.version": "build identity",
    "host.name": "Java prints InetAddress.getLocalHost().getCanonicalHostName(), ferrokeeper the kernel hostname",
    "java.version": "no JVM: ferrokeeper prints <NA>",
    "java.vendor": "no JVM: <NA>",
    "java.home": "no JVM: <NA>",
    "java.class.path": "no JVM: <NA>",
    "java.library.path": "no JVM: <NA>",
    "os.memory.free": "JVM heap vs process memory",
    "os.memory.max": "JVM heap vs process memory",
    "os.memory.total": "JVM heap vs process memory",
}
# mntr keys whose values are measured (times, sizes of a JVM process, counts of pings).
EXCEPT_MNTR = {
    "version": "build identity",
    "uptime": "process uptime",
    "avg_latency": "latency", "min_latency": "latency", "max_latency": "latency",
    "open_file_descriptor_count": "a JVM holds more files open (jars, JIT)",
    "max_file_descriptor_count": "equal unless the JVM raised its own limit",
}
# mntr summaries: counts must match, values are times.
SUMMARY_COUNTED = ("readlatency", "updatelatency")
# mntr keys Grafana's ZooKeeper dashboards and the Kubernetes tutorial read.
DASHBOARD_KEYS = [
    "server_state", "avg_latency", "max_latency", "min_latency", "packets_received",
    "packets_sent", "num_alive_connections", "outstanding_requests", "znode_count",
    "watch_count", "ephemerals_count", "approximate_data_size", "open_file_descriptor_count",
    "max_file_descriptor_count", "global_sessions", "local_sessions", "uptime",
    "connection_drop_probability", "last_client_response_size", "min_client_response_size",
    "max_client_response_size", "outstanding_tls_handshake", "auth_failed_count",
    "avg_readlatency", "cnt_readlatency", "p99_readlatency", "avg_updatelatency",
    "cnt_updatelatency", "p99_updatelatency", "avg_fsynctime", "cnt_fsynctime",
]
# mntr keys whose values must be equal for the same history.
MNTR_EQUAL = [
    "server_state", "ephemerals_count", "num_alive_connections", "outstanding_requests",
    "znode_count", "global_sessions", "non_mtls_remote_conn_count", "last_client_response_size",
    "packets_sent", "packets_received", "max_client_response_size", "connection_drop_probability",
    "watch_count", "auth_failed_count", "approximate_data_size", "local_sessions",
    "outstanding_tls_handshake", "min_client_response_size", "non_mtls_local_conn_count",
    "connection_request_count", "cnt_readlatency", "cnt_updatelatency",
]

SESSION_TIMEOUT = 30.0


def java_available() -> bool:
    return Path("/usr/share/java/zookeeper.jar").is_file() and bool(
        subprocess.run(["sh", "-c", "command -v java"], capture_output=True).stdout)


def start(impl: str, workdir: Path, extra_cfg: dict | None = None, **kw) -> ZkServer:
    if impl == "java" and not java_available():
        pytest.fail("Java ZooKeeper 3.8 is not installed (apt-get install zookeeper)", pytrace=False)
    srv = ZkServer(impl, workdir, extra_cfg=extra_cfg, **kw)
    try:
        srv.start()
    except ServerStartError as exc:
        srv.stop()
        pytest.fail(f"cannot start {impl}: {exc}", pytrace=False)
    return srv


def flw(port: int, cmd: str | bytes) -> tuple[str, int]:
    """A four-letter word; returns (answer, our local port)."""
    with socket.create_connection((LOCALHOST, port), timeout=5) as sock:
        own = sock.getsockname()[1]
        sock.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(), own


class Run:
    """The same history on one server, and the four-letter answers it produced."""

    BATTERY = ["srvr", "stat", "cons", "conf", "mntr", "dump", "wchs", "wchc", "wchp", "dirs",
               "envi", "hash", "isro", "gtmk", "ruok", "stmk", "gtmk", "crst", "cons", "srst",
               "srvr"]

    def __init__(self, srv: ZkServer):
        self.srv = srv
        self.subst: dict[str, str] = {}
        self.out: list[tuple[str, str]] = []

    def history(self):
        port = self.srv.port
        assert flw(port, "srst")[0] == "Server stats reset.\n"
        c1 = KazooClient(hosts=f"{LOCALHOST}:{port}", timeout=SESSION_TIMEOUT)
        c1.start()
        c2 = KazooClient(hosts=f"{LOCALHOST}:{port}", timeout=SESSION_TIMEOUT)
        c2.start()
        self.clients = [c1, c2]
        fired = threading.Event()
        c1.create("/a", b"hello")
        c1.create("/a/b", b"x" * 100)
        c1.create("/e", b"eph", ephemeral=True)
        c2.create("/e2", b"", ephemeral=True)
        c1.get("/a", watch=lambda e: None)
        c1.exists("/a/b", watch=lambda e: fired.set())
        c2.get_children("/a", watch=lambda e: None)
        c2.get("/a", watch=lambda e: None)
        c2.set("/a/b", b"y")
        assert fired.wait(10), "watch on /a/b did not fire"
        c1.exists("/a/b", watch=lambda e: None)
        for i, c in enumerate(self.clients, 1):
            sid = c.client_id[0]
            self.subst[f"0x{sid:x}"] = f"0xS{i}"
            self.subst[str(sid)] = f"S{i}"
            cport = c._connection._socket.getsockname()[1]
            self.subst[f"127.0.0.1:{cport}"] = f"127.0.0.1:C{i}"
        self.subst[str(self.srv.workdir)] = "WORKDIR"

    def battery(self):
        for cmd in self.BATTERY:
            raw = cmd.encode() + (42).to_bytes(8, "big") if cmd == "stmk" else cmd
            text, own = flw(self.srv.port, raw)
            text = text.replace(f"127.0.0.1:{own}", "127.0.0.1:SELF")
            self.out.append((cmd, self.norm(text)))

    def norm(self, text: str) -> str:
        for k in sorted(self.subst, key=len, reverse=True):
            text = text.replace(k, self.subst[k])
        text = re.sub(rf"(clientPort=){self.srv.port}\b", r"\1PORT", text)
        return text

    def close(self):
        for c in getattr(self, "clients", []):
            c.stop()
            c.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Java and ferrokeeper, each with the same history and four-letter battery."""
    result = {}
    for impl in ("java", "ferrokeeper"):
        srv = start(impl, tmp_path_factory.mktemp(f"flw-{impl}"))
        run = Run(srv)
        try:
            run.history()
            run.battery()
        finally:
            run.close()
            srv.stop()
        result[impl] = run
    return result


def answers(runs, cmd: str, nth: int = 0) -> tuple[str, str]:
    got = []
    for impl in ("java", "ferrokeeper"):
        matches = [t for c, t in runs[impl].out if c == cmd]
        got.append(matches[nth])
    return got[0], got[1]


def kv_lines(text: str, sep: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        k, _, v = line.partition(sep)
        out.append((k, v))
    return out


def compare_kv(java: str, ferro: str, sep: str, exceptions: dict):
    j, f = kv_lines(java, sep), kv_lines(ferro, sep)
    assert [k for k, _ in f] == [k for k, _ in j], f"keys/order differ:\njava:\n{java}\nferrokeeper:\n{ferro}"
    for (k, jv), (_, fv) in zip(j, f):
        if k in exceptions:
            continue
        assert fv == jv, f"{k}: java {jv!r} vs ferrokeeper {fv!r}"
    assert java.endswith("\n") == ferro.endswith("\n")


def split_stat(text: str) -> tuple[str, list[str], str]:
    """stat → (version line, client lines, the srvr-like rest)."""
    head, _, rest = text.partition("Clients:\n")
    clients, _, tail = rest.partition("\n\n")
    return head, clients.splitlines(), tail


def test_srvr_line_by_line(runs):
    java, ferro = answers(runs, "srvr")
    compare_kv(java, ferro, ": ", EXCEPT_SRVR)


def test_srvr_after_srst_line_by_line(runs):
    java, ferro = answers(runs, "srvr", 1)
    compare_kv(java, ferro, ": ", EXCEPT_SRVR)
    assert "Received: 1\n" in ferro and "Sent: 1\n" in ferro  # srst's own answer counts


def test_stat_client_list_and_counters(runs):
    java, ferro = answers(runs, "stat")
    jh, jc, jt = split_stat(java)
    fh, fc, ft = split_stat(ferro)
    compare_kv(jh, fh, ": ", EXCEPT_SRVR)
    # Java lists connections in hash order; the set of lines must be equal.
    assert sorted(fc) == sorted(jc)
    assert " /127.0.0.1:SELF[0](queued=0,recved=1,sent=0)" in fc
    compare_kv(jt, ft, ": ", EXCEPT_SRVR)


def parse_cons(text: str) -> dict[str, tuple[str, dict]]:
    out = {}
    assert text.endswith("\n\n") or text == "\n"
    for line in text.rstrip("\n").splitlines():
        m = re.fullmatch(r" (/\S+?)\[(\w+)\]\((.*)\)", line)
        assert m, f"bad cons line {line!r}"
        fields = dict(f.split("=", 1) for f in m.group(3).split(","))
        out[m.group(1)] = (m.group(2), fields, list(fields))
    return out


@pytest.mark.parametrize("nth", [0, 1], ids=["after-history", "after-crst"])
def test_cons_full_form(runs, nth):
    java, ferro = answers(runs, "cons", nth)
    j, f = parse_cons(java), parse_cons(ferro)
    assert sorted(f) == sorted(j)
    for addr in j:
        jops, jf, jorder = j[addr]
        fops, ff, forder = f[addr]
        assert fops == jops, addr
        assert forder == jorder, f"{addr}: field order {forder} vs {jorder}"
        for k in jf:
            if k not in EXCEPT_CONS:
                assert ff[k] == jf[k], f"{addr} {k}: java {jf[k]} vs ferrokeeper {ff[k]}"


def test_conf(runs):
    java, ferro = answers(runs, "conf")
    compare_kv(java, ferro, "=", {})


def parse_mntr(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, v = line.split("\t", 1)
        assert k.startswith("zk_")
        out[k[3:]] = v
    return out


def test_mntr(runs):
    java, ferro = answers(runs, "mntr")
    j, f = parse_mntr(java), parse_mntr(ferro)
    assert list(f)[:2] == ["version", "server_state"] == list(j)[:2]
    invented = sorted(set(f) - set(j))
    assert not invented, f"keys Java does not print: {invented}"
    for k in DASHBOARD_KEYS:
        assert k in f and k in j, k
    for k in MNTR_EQUAL:
        assert f[k] == j[k], f"zk_{k}: java {j[k]} vs ferrokeeper {f[k]}"
    for k in f:
        if k in EXCEPT_MNTR or k in MNTR_EQUAL:
            continue
        if re.match(r"(avg|min|max|sum|p\d+)_", k) and not k.endswith("_per_namespace"):
            continue  # summary values are measured times (per-namespace byte sizes are compared)
        assert f[k] == j[k], f"zk_{k}: java {j[k]} vs ferrokeeper {f[k]}"
    per_ns = sorted(k for k in j if k.endswith("_per_namespace"))
    assert per_ns and per_ns == sorted(k for k in f if k.endswith("_per_namespace"))
    # Types as Java prints them: doubles with a point, integers without.
    for k in ("avg_latency", "connection_drop_probability", "avg_readlatency"):
        assert "." in f[k], k
    for k in ("max_latency", "znode_count", "p99_readlatency"):
        assert re.fullmatch(r"-?\d+", f[k]), k


def dump_sections(text: str) -> dict:
    s, _, rest = text.partition("ephemeral nodes dump:\n")
    e, _, c = rest.partition("Connections dump:\n")
    assert s.startswith("SessionTracker dump:\nSession Sets (")
    sessions = sorted(line.strip() for line in s.splitlines() if line.startswith("\t"))
    conns = sorted(line.strip() for line in c.splitlines() if line.startswith("\t"))
    return {"sessions": sessions, "ephemerals": e, "connections": conns,
            "session_header": [line for line in s.splitlines() if "expire at" not in line][:1],
            "conn_header": c.splitlines()[:1]}


def ephemeral_blocks(text: str) -> tuple[str, list]:
    lines = text.splitlines()
    blocks, cur = [], None
    for line in lines[1:]:
        if line.startswith("\t"):
            cur[1].append(line)
        else:
            cur = (line, [])
            blocks.append(cur)
    return lines[0], sorted((h, sorted(p)) for h, p in blocks)


def test_dump(runs):
    java, ferro = answers(runs, "dump")
    j, f = dump_sections(java), dump_sections(ferro)
    assert f["sessions"] == j["sessions"] == ["0xS1", "0xS2"]
    assert ephemeral_blocks(f["ephemerals"]) == ephemeral_blocks(j["ephemerals"])
    assert f["connections"] == j["connections"]
    assert f["conn_header"][0].startswith("Connections Sets (")
    # Named exception: the "N expire at <date>:" lines and the set counts in the two headers
    # depend on each process's clock (Java also keeps emptied expiry buckets until they pass).
    for line in ferro.splitlines():
        if "expire at" in line:
            assert re.fullmatch(r"\d+ expire at \w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}:", line), line


def watch_blocks(text: str, header_re: str) -> list:
    assert text.endswith("\n")
    blocks, cur = [], None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("\t"):
            cur[1].append(line)
        else:
            assert re.fullmatch(header_re, line), line
            cur = (line, [])
            blocks.append(cur)
    return sorted((h, sorted(p)) for h, p in blocks)


def test_wchs(runs):
    java, ferro = answers(runs, "wchs")
    assert ferro == java


@pytest.mark.parametrize("cmd,header", [("wchc", r"0xS\d"), ("wchp", r"/.*")])
def test_wchc_wchp(runs, cmd, header):
    java, ferro = answers(runs, cmd)
    assert watch_blocks(ferro, header) == watch_blocks(java, header)
    assert ferro.endswith("\n\n") and java.endswith("\n\n")


@pytest.mark.parametrize("cmd", ["dirs", "hash", "isro", "ruok", "crst", "srst"])
def test_exact(runs, cmd):
    java, ferro = answers(runs, cmd)
    assert ferro == java


def test_trace_mask(runs):
    for nth in (0, 1):
        java, ferro = answers(runs, "gtmk", nth)
        assert ferro == java
    assert answers(runs, "stmk") == ("42", "42")
    assert answers(runs, "gtmk", 1)[1] == "42"


def test_envi(runs):
    java, ferro = answers(runs, "envi")
    compare_kv(java, ferro, "=", EXCEPT_ENVI)


# --- whitelist ------------------------------------------------------------------------------
ALL_COMMANDS = ["conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr",
                "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs"]


@pytest.fixture(scope="module")
def whitelisted(tmp_path_factory):
    out = {}
    for impl in ("java", "ferrokeeper"):
        srv = start(impl, tmp_path_factory.mktemp(f"wl-{impl}"),
                    extra_cfg={"4lw.commands.whitelist": " ruok , conf"})
        try:
            out[impl] = {c: flw(srv.port, c)[0] for c in ALL_COMMANDS}
        finally:
            srv.stop()
    return out


@pytest.mark.parametrize("cmd", ALL_COMMANDS)
def test_whitelist(whitelisted, cmd):
    java, ferro = whitelisted["java"][cmd], whitelisted["ferrokeeper"][cmd]
    if cmd in ("srvr", "conf"):
        # Allowed (srvr always is): the outputs are compared above; here only that they ran.
        assert "is not executed" not in ferro and "is not executed" not in java
        return
    if cmd != "ruok":
        assert java == f"{cmd} is not executed because it is not in the whitelist.\n"
    assert ferro == java


# --- status / zkServer.sh ---------------------------------------------------------------------
def run_status(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("via", ["binary", "zkServer.sh"])
def test_status_standalone_and_not_running(tmp_path, via):
    srv = start("ferrokeeper", tmp_path / "srv")
    cmd = ([str(ferrokeeper_bin())] if via == "binary" else
           [str(REPO_ROOT / "bin" / "zkServer.sh")])
    env = {"FERROKEEPER_BIN": str(ferrokeeper_bin())}
    try:
        r = run_status(cmd + ["status", str(srv.cfg_path)], env)
        assert r.returncode == 0, r
        assert r.stdout.splitlines()[-1] == "Mode: standalone"
        assert re.search(r"^Mode: (standalone|leader|follower|observing)$", r.stdout, re.M)
        assert f"Using config: {srv.cfg_path}" in r.stderr
        assert f"Client port found: {srv.port}. Client address: localhost. Client SSL: false." in r.stdout
    finally:
        srv.stop()
    r = run_status(cmd + ["status", str(srv.cfg_path)], env)
    assert r.returncode == 1, r
    assert "Error contacting service. It is probably not running." in r.stdout


def test_zkserver_sh_version_and_zkcli_passthrough(tmp_path):
    env = {"FERROKEEPER_BIN": str(ferrokeeper_bin())}
    r = run_status([str(REPO_ROOT / "bin" / "zkServer.sh"), "version", "/nonexistent/zoo.cfg"], env)
    assert "Apache ZooKeeper, version" in r.stdout + r.stderr
    srv = start("ferrokeeper", tmp_path / "srv")
    try:
        zkcli = REPO_ROOT / "bin" / "zkCli.sh"
        if Path("/usr/share/zookeeper/bin/zkCli.sh").exists():
            r = subprocess.run([str(zkcli), "-server", srv.hosts, "ls", "/"], capture_output=True,
                               text=True, timeout=60)
            assert "[zookeeper]" in r.stdout, r
        r = subprocess.run([str(zkcli), "ls", "/"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, ZKCLI="/nonexistent/zkCli.sh"))
        assert r.returncode != 0
    finally:
        srv.stop()


# --- Java-style -D settings ---------------------------------------------------------------------
def test_jvmflags_reach_the_server(tmp_path):
    """SERVER_JVMFLAGS / JVMFLAGS / java.env -D properties are honoured like Java's."""
    import hashlib
    import base64
    digest = base64.b64encode(hashlib.sha1(b"super:secret").digest()).decode()
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "java.env").write_text('JVMFLAGS="$JVMFLAGS -Djute.maxbuffer=4096"\n')
    srv = ZkServer("ferrokeeper", tmp_path / "srv", extra_cfg={}, env={
        "ZOOCFGDIR": str(conf_dir),
        "SERVER_JVMFLAGS": "-Dzookeeper.4lw.commands.whitelist=ruok,wchs "
                           f"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:{digest}",
        "JVMFLAGS": "-Xmx512m -XX:+UseG1GC",
    })
    # No 4lw key in zoo.cfg: the whitelist comes from SERVER_JVMFLAGS only.
    srv.config_lines = lambda: [f"tickTime=2000", f"dataDir={srv.data_dir}", f"clientPort={srv.port}",
                                "admin.enableServer=false"]
    try:
        srv.start()
        assert flw(srv.port, "ruok")[0] == "imok"
        assert flw(srv.port, "wchs")[0].endswith("Total watches:0\n")
        assert flw(srv.port, "stat")[0] == "stat is not executed because it is not in the whitelist.\n"
        from kazoo.security import make_digest_acl
        from kazoo.exceptions import NoAuthError, ConnectionLoss
        owner = KazooClient(hosts=srv.hosts, auth_data=[("digest", "alice:pw")])
        owner.start()
        owner.create("/private", b"s3", acl=[make_digest_acl("alice", "pw", all=True)])
        other = KazooClient(hosts=srv.hosts)
        other.start()
        with pytest.raises(NoAuthError):
            other.get("/private")
        root = KazooClient(hosts=srv.hosts, auth_data=[("digest", "super:secret")])
        root.start()
        assert root.get("/private")[0] == b"s3"
        # jute.maxbuffer=4096 from java.env: a 10 kB request is refused (connection dropped).
        big = KazooClient(hosts=srv.hosts, connection_retry=None, command_retry=None)
        big.start()
        with pytest.raises(Exception) as exc:
            big.create("/big", b"x" * 10000)
        assert not isinstance(exc.value, NoAuthError)
        assert not owner.exists("/big")
        for c in (owner, other, root, big):
            c.stop()
            c.close()
    finally:
        srv.stop()


def test_zkserver_sh_start_status_stop(tmp_path):
    """bin/zkServer.sh start / status / stop with zkServer.sh's conventions (pid file in dataDir)."""
    srv = ZkServer("ferrokeeper", tmp_path / "bg")
    srv.write_config()
    script = str(REPO_ROOT / "bin" / "zkServer.sh")
    env = {"FERROKEEPER_BIN": str(ferrokeeper_bin()), "ZOO_LOG_DIR": str(tmp_path / "logs")}
    r = run_status([script, "start", str(srv.cfg_path)], env)
    try:
        assert r.returncode == 0, r
        assert "Starting zookeeper ... STARTED" in r.stdout
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = run_status([script, "status", str(srv.cfg_path)], env)
            if r.returncode == 0:
                break
            time.sleep(0.2)
        assert r.returncode == 0 and "Mode: standalone" in r.stdout, r
    finally:
        r = run_status([script, "stop", str(srv.cfg_path)], env)
    assert r.returncode == 0 and "Stopping zookeeper ... STOPPED" in r.stdout, r
    r = run_status([script, "status", str(srv.cfg_path)], env)
    assert r.returncode == 1
