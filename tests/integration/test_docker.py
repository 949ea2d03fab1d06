"""The container images (docker/Dockerfile), docker/compose.yml and docker/k8s/.

Needs a Docker engine; without one the module is skipped and the reason printed. The module
builds ``debian:bookworm-slim`` with ``docker/make-base.sh`` when the engine lacks it, then both
flavours from the prebuilt binary (``$FERROKEEPER_BIN`` or ``target/release/ferrokeeper``) with
``docker/build.sh``, tagged ``ferrokeeper-test:{official,bitnami}-<run id>``; at the end these
tags move to ``ferrokeeper-test:cache-{official,bitnami}``, which keep the layers for the next run.

Every container, network and volume a test creates has a name starting ``fkt-<run id>-`` and the
label ``org.ferrokeeper.test=<run id>``, and is removed when the test ends, also on failure.
Containers only talk over networks the tests create; nothing is published on the host. Tests
wait for conditions (``zkServer.sh status``, ``ruok``, znode contents), never fixed sleeps.

The 3-server tests (replication, leader kill, partition, the 1 -> 3 scale-up, compose) are
skipped while the binary refuses quorum mode: the module starts one node with a 3-server
config and looks for "quorum mode ... not available yet" in its log. They run by themselves
once quorum mode is there.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import pytest

from servers import REPO_ROOT, ferrokeeper_bin, wait_until

DOCKER_DIR = REPO_ROOT / "docker"
BASE_IMAGE = "debian:bookworm-slim"
RUN_ID = uuid.uuid4().hex[:8]
# Tags of this run (another run may build other binaries at the same time), and the tags they
# are moved to at the end so that the next run finds the layers in the cache.
OFFICIAL = f"ferrokeeper-test:official-{RUN_ID}"
BITNAMI = f"ferrokeeper-test:bitnami-{RUN_ID}"
CACHE_TAGS = {"official": "ferrokeeper-test:cache-official", "bitnami": "ferrokeeper-test:cache-bitnami"}
PREFIX = f"fkt-{RUN_ID}"
LABEL = f"org.ferrokeeper.test={RUN_ID}"
QUORUM_REFUSED = re.compile(r"quorum mode.*not available yet")
SERVING_MODES = ("leader", "follower", "observer", "standalone")
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
# Bitnami's chart runs the image with these writable and everything else read-only.
BITNAMI_TMPFS = ("/tmp", "/opt/bitnami/zookeeper/conf", "/opt/bitnami/zookeeper/logs")


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        proc = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer within 30 s"
    if proc.returncode != 0 or not proc.stdout.strip():
        detail = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine reachable ({detail})"
    return None


_PROBLEM = _engine_problem()
if _PROBLEM:
    # A warning is printed in pytest's summary even with -q and without -rs.
    warnings.warn(f"container image tests skipped: {_PROBLEM}", pytest.PytestWarning)
    pytest.skip(_PROBLEM, allow_module_level=True)

try:
    import pytest_timeout  # noqa: F401

    # The first test also builds the images (a few minutes on a cold cache).
    pytestmark = [pytest.mark.timeout(1200)]
except ImportError:
    pass


# --- docker plumbing ---------------------------------------------------------------------------
def docker(*args, check=True, timeout=180, input=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}{proc.stderr}")
    return proc


class Resources:
    """Containers, networks and volumes of one test: unique names, one label, removed at the end."""

    _counter = itertools.count(1)

    def __init__(self):
        self.scope = f"{PREFIX}-{next(self._counter)}"
        self.label = f"org.ferrokeeper.test.scope={self.scope}"
        self._names = itertools.count(1)

    def name(self, kind: str) -> str:
        return f"{self.scope}-{kind}{next(self._names)}"

    def network(self) -> str:
        name = self.name("net")
        docker("network", "create", "--label", LABEL, "--label", self.label, name)
        return name

    def volume(self) -> str:
        name = self.name("vol")
        docker("volume", "create", "--label", LABEL, "--label", self.label, name)
        return name

    def run_args(self, image, cmd=(), *, name=None, network=None, env=None, volumes=(),
                 tmpfs=(), read_only=False, user=None, hostname=None, entrypoint=None,
                 extra=()) -> list:
        args = ["--label", LABEL, "--label", self.label]
        if name:
            args += ["--name", name]
        if network:
            args += ["--network", network]
        if hostname:
            args += ["--hostname", hostname]
        if user is not None:
            args += ["--user", user]
        if read_only:
            args += ["--read-only"]
        for path in tmpfs:
            args += ["--tmpfs", path]
        for vol in volumes:
            args += ["-v", vol]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        return [*args, *extra, image, *cmd]

    def start(self, image, cmd=(), **kwargs) -> str:
        """``docker run -d``; returns the container name."""
        kwargs.setdefault("name", self.name("c"))
        docker("run", "-d", *self.run_args(image, cmd, **kwargs))
        return kwargs["name"]

    def run(self, image, cmd=(), timeout=120, **kwargs) -> subprocess.CompletedProcess:
        """``docker run --rm`` in the foreground; returns the completed process."""
        return docker("run", "--rm", *self.run_args(image, cmd, **kwargs), check=False,
                      timeout=timeout)

    def cleanup(self):
        for kind, ls in (("container", ["ps", "-aq"]), ("network", ["network", "ls", "-q"]),
                         ("volume", ["volume", "ls", "-q"])):
            ids = docker(*ls, "--filter", f"label={self.label}", check=False).stdout.split()
            if not ids:
                continue
            if kind == "container":
                docker("rm", "-f", "-v", *ids, check=False)
            elif kind == "network":
                docker("network", "rm", *ids, check=False)
            else:
                docker("volume", "rm", "-f", *ids, check=False)


@pytest.fixture
def dk():
    res = Resources()
    yield res
    res.cleanup()


def _sweep_run():
    """Whatever this run created and a test's cleanup missed (an interrupted run, say)."""
    for ls, rm in ((["ps", "-aq"], ["rm", "-f", "-v"]), (["network", "ls", "-q"], ["network", "rm"]),
                   (["volume", "ls", "-q"], ["volume", "rm", "-f"])):
        ids = docker(*ls, "--filter", f"label={LABEL}", check=False).stdout.split()
        if ids:
            docker(*rm, *ids, check=False)


@pytest.fixture(scope="module", autouse=True)
def sweep():
    yield
    _sweep_run()


# --- images ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def images():
    binary = ferrokeeper_bin()
    if not binary.is_file():
        pytest.fail(f"ferrokeeper binary not found at {binary} (cargo build --release -p "
                    "ferrokeeper, or set FERROKEEPER_BIN)", pytrace=False)
    if docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        proc = subprocess.run([str(DOCKER_DIR / "make-base.sh"), BASE_IMAGE],
                              capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            pytest.fail(f"docker/make-base.sh failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}",
                        pytrace=False)
    env = dict(os.environ, FERROKEEPER_BIN=str(binary.resolve()), BASE_IMAGE=BASE_IMAGE)
    for flavour, tag in (("official", OFFICIAL), ("bitnami", BITNAMI)):
        proc = subprocess.run([str(DOCKER_DIR / "build.sh"), "--flavour", flavour, "--tag", tag,
                               "--quiet"], capture_output=True, text=True, env=env, timeout=1800)
        if proc.returncode != 0:
            pytest.fail(f"docker/build.sh --flavour {flavour} failed:\n"
                        f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}", pytrace=False)
    tags = {"official": OFFICIAL, "bitnami": BITNAMI}
    yield tags
    _sweep_run()
    for flavour, tag in tags.items():
        docker("tag", tag, CACHE_TAGS[flavour], check=False)
        docker("rmi", tag, check=False)


# --- inspecting running containers ------------------------------------------------------------
def sh(container: str, script: str, timeout=60, user=None) -> subprocess.CompletedProcess:
    args = ["exec"] + (["--user", user] if user else []) + [container, "bash", "-c", script]
    return docker(*args, check=False, timeout=timeout)


def running(container: str) -> bool:
    proc = docker("inspect", "-f", "{{.State.Running}}", container, check=False)
    return proc.stdout.strip() == "true"


def logs(container: str) -> str:
    proc = docker("logs", container, check=False)
    return proc.stdout + proc.stderr


def four_letter(container: str, word: str, port: int = 2181) -> str:
    # Reads until the server closes the connection, as four-letter words do.
    return sh(container, f"timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && "
                         f"printf {word} >&3 && cat <&3'").stdout


def status(container: str) -> tuple[int, str]:
    proc = sh(container, "zkServer.sh status 2>&1")
    return proc.returncode, proc.stdout


def mode(container: str) -> str | None:
    match = re.search(r"^Mode: (\w+)", status(container)[1], re.M)
    return match.group(1) if match else None


def alive_or_fail(container: str):
    if not running(container):
        raise AssertionError(f"container {container} exited "
                             f"({docker('inspect', '-f', '{{.State.ExitCode}}', container).stdout.strip()})"
                             f"; log:\n{logs(container)[-4000:]}")


def wait_mode(container: str, modes=SERVING_MODES, timeout: float = 60.0) -> str:
    def check():
        alive_or_fail(container)
        current = mode(container)
        return current if current in modes else None
    try:
        return wait_until(check, timeout, interval=0.3, message=f"{container} in mode {modes}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; status: {status(container)[1]!r}; log:\n"
                             f"{logs(container)[-4000:]}") from None


def read_file(container: str, path: str) -> str:
    """A file of a container: cat while it runs (tmpfs mounts are only visible then), else docker cp."""
    if running(container):
        proc = sh(container, f"cat {path}")
        if proc.returncode != 0:
            raise AssertionError(f"cat {path} in {container}: {proc.stderr}")
        return proc.stdout
    proc = subprocess.run(["docker", "cp", f"{container}:{path}", "-"], capture_output=True,
                          timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"docker cp {container}:{path}: {proc.stderr.decode()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        member = tar.next()
        return tar.extractfile(member).read().decode()


def http_get(container: str, port: int, path: str, expect: str, timeout: float = 30.0) -> str:
    """GET http://localhost:<port><path> inside the container until the answer contains ``expect``."""
    request = f"printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -q 5 -w 5 localhost {port}"
    last = [""]

    def check():
        last[0] = sh(container, request).stdout
        return last[0] if expect in last[0] else None
    try:
        return wait_until(check, timeout, interval=0.5, message=f"{expect!r} from :{port}{path}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last answer: {last[0][:500]!r}") from None


def cfg_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def zkcli(client: str, server: str, *cmd: str, timeout=60) -> subprocess.CompletedProcess:
    """One zkCli.sh command run inside the (running) container ``client``."""
    script = " ".join(["timeout", str(timeout - 5), "zkCli.sh", "-timeout", "10000", "-server",
                       server, *(f"'{c}'" for c in cmd)])
    return sh(client, script, timeout=timeout)


def wait_znode(client: str, server: str, path: str, value: str, timeout: float = 60.0):
    def check():
        out = zkcli(client, server, "get", path)
        return value in out.stdout.splitlines()
    wait_until(check, timeout, interval=0.5, message=f"{path}={value!r} on {server}")


def client_container(dk: Resources, image: str, network: str) -> str:
    """A container that only runs zkCli.sh (docker exec) against the servers of ``network``."""
    return dk.start(image, ["infinity"], network=network, entrypoint="sleep")


# --- official flavour ------------------------------------------------------------------------
def test_official_image_metadata(images):
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", images["official"]).stdout)
    assert config["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert config["Cmd"] == ["zkServer.sh", "start-foreground"]
    assert set(config["ExposedPorts"]) == {"2181/tcp", "2888/tcp", "3888/tcp", "8080/tcp", "7000/tcp"}
    assert set(config["Volumes"]) == {"/data", "/datalog", "/logs"}
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["ZOOCFGDIR"] == "/conf"
    for key, value in {"ZOO_CONF_DIR": "/conf", "ZOO_DATA_DIR": "/data", "ZOO_DATA_LOG_DIR": "/datalog",
                       "ZOO_LOG_DIR": "/logs", "ZOO_TICK_TIME": "2000", "ZOO_INIT_LIMIT": "5",
                       "ZOO_SYNC_LIMIT": "2", "ZOO_MAX_CLIENT_CNXNS": "60",
                       "ZOO_STANDALONE_ENABLED": "true", "ZOO_ADMINSERVER_ENABLED": "true",
                       "ZOO_AUTOPURGE_PURGEINTERVAL": "0", "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "3"}.items():
        assert env[key] == value, key
    # The tools probes and command overrides use, on PATH; the zookeeper user is 1000:1000.
    proc = docker("run", "--rm", "--label", LABEL, "--entrypoint", "bash", images["official"], "-c",
                  "set -e; for t in bash nc ps pgrep getent hostname timeout gosu setpriv openssl "
                  "java zkServer.sh zkCli.sh; do command -v $t >/dev/null || { echo missing $t; exit 1; }; "
                  "done; id -u zookeeper; id -g zookeeper; pwd; test -x bin/zkCli.sh; "
                  "stat -c %U /conf /data /datalog /logs | sort -u")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["1000", "1000", "/opt/ferrokeeper", "zookeeper"]


def test_standalone_with_no_env_serves_zkcli(dk, images):
    net = dk.network()
    server = dk.start(images["official"], network=net)
    wait_mode(server, ("standalone",))
    code, out = status(server)
    assert code == 0
    assert "Client port found: 2181. Client address: localhost. Client SSL: false." in out
    assert "Mode: standalone" in out.splitlines()
    # The official image's default config: no clientPort line, one server line, myid 1.
    assert cfg_lines(read_file(server, "/conf/zoo.cfg")) == [
        "dataDir=/data", "dataLogDir=/datalog", "tickTime=2000", "initLimit=5", "syncLimit=2",
        "autopurge.snapRetainCount=3", "autopurge.purgeInterval=0", "maxClientCnxns=60",
        "standaloneEnabled=true", "admin.enableServer=true", "server.1=localhost:2888:3888;2181"]
    assert read_file(server, "/data/myid").strip() == "1"
    # zkCli.sh from another container of the same image.
    created = dk.run(images["official"], ["zkCli.sh", "-server", f"{server}:2181", "create", "/x", "y"],
                     network=net)
    assert created.returncode == 0 and "Created /x" in created.stdout + created.stderr, created
    got = dk.run(images["official"], ["zkCli.sh", "-server", f"{server}:2181", "get", "/x"], network=net)
    assert "y" in got.stdout.splitlines(), got
    # The AdminServer is on by default (ZOO_ADMINSERVER_ENABLED=true).
    http_get(server, 8080, "/commands/ruok", '"command" : "ruok"')


def test_env_variables_generate_config_and_myid(dk, images):
    net = dk.network()
    env = {
        "ZOO_MY_ID": "3",
        "ZOO_SERVERS": "server.3=localhost:2888:3888;2181",
        "ZOO_TICK_TIME": "3000", "ZOO_INIT_LIMIT": "7", "ZOO_SYNC_LIMIT": "4",
        "ZOO_MAX_CLIENT_CNXNS": "100", "ZOO_AUTOPURGE_PURGEINTERVAL": "2",
        "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "4", "ZOO_STANDALONE_ENABLED": "true",
        "ZOO_ADMINSERVER_ENABLED": "false", "ZOO_4LW_COMMANDS_WHITELIST": "*",
        "ZOO_CFG_EXTRA": "metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
                         "PrometheusMetricsProvider metricsProvider.httpPort=7070 "
                         "globalOutstandingLimit=999",
        "ZOO_CONF_DIR": "/etc/zk", "ZOOCFGDIR": "/etc/zk",
        "ZOO_DATA_DIR": "/var/lib/zk/data", "ZOO_DATA_LOG_DIR": "/var/lib/zk/log",
        "ZOO_LOG_DIR": "/var/log/zk",
        "JVMFLAGS": "-Xmx512m -XX:+UseG1GC",
    }
    server = dk.start(images["official"], network=net, env=env,
                      tmpfs=("/etc/zk:uid=1000,gid=1000,mode=0755",))
    wait_mode(server, ("standalone",))
    assert cfg_lines(read_file(server, "/etc/zk/zoo.cfg")) == [
        "dataDir=/var/lib/zk/data", "dataLogDir=/var/lib/zk/log", "tickTime=3000", "initLimit=7",
        "syncLimit=4", "autopurge.snapRetainCount=4", "autopurge.purgeInterval=2",
        "maxClientCnxns=100", "standaloneEnabled=true", "admin.enableServer=false",
        "server.3=localhost:2888:3888;2181", "4lw.commands.whitelist=*",
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        "metricsProvider.httpPort=7070", "globalOutstandingLimit=999"]
    assert read_file(server, "/var/lib/zk/data/myid").strip() == "3"
    owners = sh(server, "stat -c %U /var/lib/zk/data /var/lib/zk/log /var/log/zk | sort -u").stdout
    assert owners.split() == ["zookeeper"]
    conf = four_letter(server, "conf")
    for expected in ("tickTime=3000", "maxClientCnxns=100"):
        assert expected in conf.splitlines(), conf
    assert "/var/lib/zk/log" in conf
    assert four_letter(server, "ruok") == "imok"
    http_get(server, 7070, "/metrics", "znode_count")
    assert sh(server, "nc -z -w 2 localhost 8080").returncode != 0, "AdminServer should be off"


def test_multi_server_config_is_written_as_given(dk, images):
    """ZOO_SERVERS lines go in verbatim (no server is started here)."""
    servers = ("server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181 "
               "server.3=zoo3:2888:3888:observer;0.0.0.0:2181")
    proc = dk.run(images["official"], ["-c", "/docker-entrypoint.sh true && cat /conf/zoo.cfg && "
                                             "echo --- && cat /data/myid"],
                  entrypoint="bash", env={"ZOO_MY_ID": "2", "ZOO_SERVERS": servers,
                                          "ZOO_CFG_EXTRA": "4lw.commands.whitelist=*"})
    assert proc.returncode == 0, proc.stderr
    conf, myid = proc.stdout.split("---\n")
    lines = cfg_lines(conf)
    assert lines[-4:] == ["server.1=zoo1:2888:3888;2181", "server.2=zoo2:2888:3888;2181",
                          "server.3=zoo3:2888:3888:observer;0.0.0.0:2181", "4lw.commands.whitelist=*"]
    assert not any(line.startswith("clientPort") for line in lines)
    assert myid.strip() == "2"


def test_existing_zoo_cfg_and_myid_are_left_alone(dk, images):
    net, conf, data = dk.network(), dk.volume(), dk.volume()
    mounts = (f"{conf}:/conf", f"{data}:/data")
    # First start: generated from the environment.
    first = dk.start(images["official"], network=net, volumes=mounts,
                     env={"ZOO_MY_ID": "4", "ZOO_TICK_TIME": "2500",
                          "ZOO_SERVERS": "server.4=localhost:2888:3888;2181"})
    wait_mode(first, ("standalone",))
    docker("rm", "-f", "-v", first)
    # Second start, other values: neither zoo.cfg nor myid is rewritten.
    second = dk.start(images["official"], network=net, volumes=mounts,
                      env={"ZOO_MY_ID": "6", "ZOO_TICK_TIME": "4000", "ZOO_4LW_COMMANDS_WHITELIST": "*",
                           "ZOO_SERVERS": "server.6=localhost:2888:3888;2181"})
    wait_mode(second, ("standalone",))
    lines = cfg_lines(read_file(second, "/conf/zoo.cfg"))
    assert "tickTime=2500" in lines and "server.4=localhost:2888:3888;2181" in lines
    assert "tickTime=4000" not in lines and "server.6=localhost:2888:3888;2181" not in lines
    assert not any(line.startswith("4lw.") for line in lines)
    assert read_file(second, "/data/myid").strip() == "4"
    docker("rm", "-f", "-v", second)
    # A zoo.cfg of one's own (here with a clientPort of its own) is used as it is.
    custom = ("# mine\ntickTime=2100\ninitLimit=5\nsyncLimit=2\ndataDir=/data\nclientPort=2191\n"
              "4lw.commands.whitelist=conf,srvr\nadmin.enableServer=false\n")
    put = dk.run(images["official"], ["-c", f"printf '%s' '{custom}' > /conf/zoo.cfg"],
                 entrypoint="bash", volumes=mounts)
    assert put.returncode == 0, put.stderr
    third = dk.start(images["official"], network=net, volumes=mounts,
                     env={"ZOO_MY_ID": "7", "ZOO_TICK_TIME": "4000"})
    wait_mode(third, ("standalone",))
    assert read_file(third, "/conf/zoo.cfg") == custom
    assert "tickTime=2100" in four_letter(third, "conf", port=2191).splitlines()
    assert read_file(third, "/data/myid").strip() == "4"


def test_server_runs_as_uid_1000(dk, images):
    net = dk.network()
    server = dk.start(images["official"], network=net)
    wait_mode(server, ("standalone",))
    proc = sh(server, "cat /proc/1/comm; awk '/^Uid:|^Gid:/ {print $2}' /proc/1/status; "
                      "stat -c %u:%g /data/myid /data/version-2")
    assert proc.stdout.split() == ["ferrokeeper", "1000", "1000", "1000:1000", "1000:1000"], proc.stdout
    # Started directly as 1000 (runAsUser in Kubernetes): no root drop needed.
    direct = dk.start(images["official"], network=net, user="1000:1000")
    wait_mode(direct, ("standalone",))
    assert sh(direct, "awk '/^Uid:/ {print $2}' /proc/1/status").stdout.strip() == "1000"


def test_sigterm_stops_pid1_quickly(dk, images):
    net = dk.network()
    server = dk.start(images["official"], network=net)
    wait_mode(server, ("standalone",))
    client = client_container(dk, images["official"], net)
    assert zkcli(client, f"{server}:2181", "create", "/persist", "kept").returncode == 0
    started = time.monotonic()
    docker("stop", "-t", "30", server)
    elapsed = time.monotonic() - started
    code = int(docker("inspect", "-f", "{{.State.ExitCode}}", server).stdout)
    assert elapsed < 5, f"docker stop took {elapsed:.1f}s (SIGTERM not handled by PID 1?)"
    assert code in (0, 143), f"exit code {code}; log:\n{logs(server)[-2000:]}"
    # Same container again: its config and data are still there.
    docker("start", server)
    wait_mode(server, ("standalone",))
    wait_znode(client, f"{server}:2181", "/persist", "kept")


# --- Bitnami-compatible flavour ---------------------------------------------------------------
def bitnami_env(**extra) -> dict:
    env = {"ALLOW_ANONYMOUS_LOGIN": "yes", "ZOO_4LW_COMMANDS_WHITELIST": "srvr, mntr, ruok, conf"}
    env.update(extra)
    return env


def test_bitnami_image_layout(images):
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", images["bitnami"]).stdout)
    assert config["User"] == "1001"
    assert config["Entrypoint"] == ["/opt/bitnami/scripts/zookeeper/entrypoint.sh"]
    assert config["Cmd"] == ["/opt/bitnami/scripts/zookeeper/run.sh"]
    assert {"2181/tcp", "2888/tcp", "3888/tcp", "8080/tcp"} <= set(config["ExposedPorts"])
    proc = docker("run", "--rm", "--label", LABEL, "--read-only", "--entrypoint", "bash",
                  images["bitnami"], "-c",
                  "set -e; readlink /entrypoint.sh /run.sh; "
                  "for s in entrypoint setup run healthcheck; do "
                  "test -x /opt/bitnami/scripts/zookeeper/$s.sh; done; "
                  "test -f /opt/bitnami/scripts/zookeeper-env.sh; "
                  "test -x /opt/bitnami/zookeeper/bin/zkServer.sh; test -x /opt/bitnami/zookeeper/bin/zkCli.sh; "
                  "test -d /opt/bitnami/zookeeper/conf.default; test -d /bitnami/zookeeper/data; "
                  "command -v zkServer.sh; id -u")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["/opt/bitnami/scripts/zookeeper/entrypoint.sh",
                                   "/opt/bitnami/scripts/zookeeper/run.sh",
                                   "/opt/bitnami/zookeeper/bin/zkServer.sh", "1001"]


def test_bitnami_standalone_read_only_root(dk, images):
    net, data = dk.network(), dk.volume()
    name = dk.name("bn")
    env = bitnami_env(
        ZOO_SERVERS=f"{name}:2888:3888::1 ",  # the chart with replicaCount=1: standalone
        ZOO_PORT_NUMBER="2191", ZOO_TICK_TIME="2200", ZOO_INIT_LIMIT="9", ZOO_SYNC_LIMIT="4",
        ZOO_MAX_CLIENT_CNXNS="77", ZOO_AUTOPURGE_INTERVAL="1", ZOO_AUTOPURGE_RETAIN_COUNT="5",
        ZOO_ENABLE_ADMIN_SERVER="yes", ZOO_ADMIN_SERVER_PORT_NUMBER="8081",
        ZOO_ENABLE_PROMETHEUS_METRICS="yes", ZOO_PROMETHEUS_METRICS_PORT_NUMBER="7001",
        ZOO_HEAP_SIZE="512", ZOO_LOG_LEVEL="WARN", ZOO_MAX_SESSION_TIMEOUT="30000",
        ZOO_CFG_globalOutstandingLimit="1234")
    server = dk.start(images["bitnami"], name=name, hostname=name, network=net, env=env,
                      read_only=True, tmpfs=BITNAMI_TMPFS, volumes=(f"{data}:/bitnami/zookeeper",))
    wait_until(lambda: alive_or_fail(server) or sh(
        server, "/opt/bitnami/scripts/zookeeper/healthcheck.sh").returncode == 0,
        60, interval=0.3, message="healthcheck.sh")
    assert wait_mode(server, ("standalone",)) == "standalone"
    assert sh(server, "awk '/^Uid:/ {print $2}' /proc/1/status; cat /proc/1/comm").stdout.split() == [
        "1001", "ferrokeeper"]
    assert sh(server, "touch /opt/bitnami/probe").returncode != 0, "root filesystem is writable"
    lines = cfg_lines(read_file(server, "/opt/bitnami/zookeeper/conf/zoo.cfg"))
    for expected in ("clientPort=2191", "tickTime=2200", "initLimit=9", "syncLimit=4",
                     "maxClientCnxns=77", "autopurge.purgeInterval=1", "autopurge.snapRetainCount=5",
                     "admin.enableServer=true", "admin.serverPort=8081", "maxSessionTimeout=30000",
                     "dataDir=/bitnami/zookeeper/data", "4lw.commands.whitelist=srvr, mntr, ruok, conf",
                     "metricsProvider.httpPort=7001", "globalOutstandingLimit=1234"):
        assert expected in lines, (expected, lines)
    assert not any(line.startswith("server.") for line in lines)
    assert read_file(server, "/bitnami/zookeeper/data/myid").strip() == "1"
    conf = four_letter(server, "conf", port=2191)
    assert "tickTime=2200" in conf.splitlines() and "maxClientCnxns=77" in conf.splitlines(), conf
    assert sh(server, "nc -z -w 2 127.0.0.1 8081").returncode == 0, "AdminServer not on 8081"
    http_get(server, 7001, "/metrics", "znode_count")
    log = logs(server)
    assert "ZOO_HEAP_SIZE=512 ignored" in log
    assert not re.search(r"\bINFO\b.*ferrokeeper::", log), "ZOO_LOG_LEVEL=WARN not applied"
    created = dk.run(images["bitnami"], ["zkCli.sh", "-server", f"{name}:2191", "create", "/bn", "v"],
                     network=net, read_only=True, tmpfs=("/tmp",))
    assert "Created /bn" in created.stdout + created.stderr, created
    got = dk.run(images["bitnami"], ["zkCli.sh", "-server", f"{name}:2191", "get", "/bn"], network=net)
    assert "v" in got.stdout.splitlines(), got
    started = time.monotonic()
    docker("stop", "-t", "30", server)
    assert time.monotonic() - started < 5
    assert int(docker("inspect", "-f", "{{.State.ExitCode}}", server).stdout) in (0, 143)


def test_bitnami_started_as_root_drops_to_1001(dk, images):
    net = dk.network()
    server = dk.start(images["bitnami"], network=net, user="0", env=bitnami_env())
    wait_mode(server, ("standalone",))
    proc = sh(server, "awk '/^Uid:/ {print $2}' /proc/1/status; stat -c %u /bitnami/zookeeper/data/myid")
    assert proc.stdout.split() == ["1001", "1001"], proc.stdout


@pytest.mark.parametrize("env, message", [
    ({}, "ALLOW_ANONYMOUS_LOGIN=yes"),
    ({"ALLOW_ANONYMOUS_LOGIN": "yes", "ZOO_ENABLE_AUTH": "yes"}, "not supported by ferrokeeper"),
    ({"ALLOW_ANONYMOUS_LOGIN": "yes", "ZOO_TLS_CLIENT_ENABLE": "true"}, "not supported by ferrokeeper"),
    ({"ALLOW_EMPTY_PASSWORD": "yes", "ZOO_SERVERS": "a:2888,b:2888"}, "should follow the syntax"),
    ({"ALLOW_EMPTY_PASSWORD": "yes", "ZOO_SERVERS": "a:2888:3888::1,b:2888:3888"}, "host:port:port[:role]::id"),
], ids=["no-anonymous-login", "sasl", "tls", "bad-servers", "mixed-id-syntax"])
def test_bitnami_refuses_bad_or_unsupported_settings(dk, images, env, message):
    proc = dk.run(images["bitnami"], read_only=True, tmpfs=BITNAMI_TMPFS + ("/bitnami/zookeeper",),
                  env=env, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def bitnami_setup(dk, image, env, hostname=None) -> tuple[list[str], str]:
    """Runs only setup.sh; returns (zoo.cfg lines, myid)."""
    proc = dk.run(image, ["-c", "/opt/bitnami/scripts/zookeeper/setup.sh && "
                                "cat /opt/bitnami/zookeeper/conf/zoo.cfg && echo --- && "
                                "cat /bitnami/zookeeper/data/myid"],
                  entrypoint="bash", env=env, hostname=hostname)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    conf, myid = proc.stdout.split("---\n")
    return cfg_lines(conf), myid.strip()


def test_bitnami_zoo_servers_and_server_id(dk, images):
    img = images["bitnami"]
    # The chart's form (host:2888:3888::id, blank-separated, trailing blank) and ZOO_SERVER_ID.
    lines, myid = bitnami_setup(dk, img, bitnami_env(
        ZOO_SERVER_ID="2",
        ZOO_SERVERS="zk-0.zk-hl.ns.svc.cluster.local:2888:3888::1 zk-1.zk-hl.ns.svc.cluster.local:2888:3888::2 "
                    "zk-2.zk-hl.ns.svc.cluster.local:2888:3888::3 "))
    assert [line for line in lines if line.startswith("server.")] == [
        "server.1=zk-0.zk-hl.ns.svc.cluster.local:2888:3888;2181",
        "server.2=zk-1.zk-hl.ns.svc.cluster.local:2888:3888;2181",
        "server.3=zk-2.zk-hl.ns.svc.cluster.local:2888:3888;2181"]
    assert myid == "2"
    # Ids with gaps and roles, mixed separators.
    lines, _ = bitnami_setup(dk, img, bitnami_env(
        ZOO_SERVERS="a:2888:3888::4,b:2888:3888:observer::7;c:2888:3888:participant::9"))
    assert [line for line in lines if line.startswith("server.")] == [
        "server.4=a:2888:3888;2181", "server.7=b:2888:3888:observer;2181",
        "server.9=c:2888:3888:participant;2181"]
    # The plain list: ids by position, ZOO_PORT_NUMBER on every line and as clientPort.
    lines, _ = bitnami_setup(dk, img, bitnami_env(
        ZOO_PORT_NUMBER="2200", ZOO_SERVERS="a:2888:3888,b:2888:3888,c:2888:3888"))
    assert [line for line in lines if line.startswith(("server.", "clientPort"))] == [
        "clientPort=2200", "server.1=a:2888:3888;2200", "server.2=b:2888:3888;2200",
        "server.3=c:2888:3888;2200"]
    # ZOO_CFG_* (underscores become dots; an existing key is replaced, not repeated); *_FILE.
    proc = dk.run(img, ["-c", "echo 6 > /tmp/id && ZOO_SERVER_ID_FILE=/tmp/id "
                              "/opt/bitnami/scripts/zookeeper/setup.sh >/dev/null 2>&1 && "
                              "cat /opt/bitnami/zookeeper/conf/zoo.cfg /bitnami/zookeeper/data/myid"],
                  entrypoint="bash", env=bitnami_env(ZOO_CFG_snapshot_trust_empty="true",
                                                     ZOO_CFG_tickTime="3333"))
    lines = cfg_lines(proc.stdout)
    assert "snapshot.trust.empty=true" in lines
    assert [line for line in lines if line.startswith("tickTime")] == ["tickTime=3333"]
    assert lines[-1] == "6"
    # In Kubernetes without ZOO_SERVER_ID: the pod ordinal + ZOO_MIN_SERVER_ID (default 1).
    k8s = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert bitnami_setup(dk, img, bitnami_env(**k8s), hostname="zk-4")[1] == "5"
    assert bitnami_setup(dk, img, bitnami_env(ZOO_MIN_SERVER_ID="10", **k8s), hostname="zk-4")[1] == "14"
    assert bitnami_setup(dk, img, bitnami_env(ZOO_SERVER_ID="3", **k8s), hostname="zk-4")[1] == "3"
    # Outside Kubernetes the Bitnami default stays 1, whatever the host name.
    assert bitnami_setup(dk, img, bitnami_env(), hostname="zk-4")[1] == "1"


# --- Kubernetes manifests and compose -------------------------------------------------------------
def _yaml():
    return pytest.importorskip("yaml", reason="PyYAML is needed to parse the manifests (pip install pyyaml)")


def test_k8s_manifests(dk, images):
    yaml = _yaml()
    docs = {}
    for path in sorted((DOCKER_DIR / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.setdefault(path.name, []).append(doc)
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs["zookeeper.yaml"]}
    assert set(objects) == {("Service", "zk-headless"), ("Service", "zk-client"),
                            ("PodDisruptionBudget", "zk-pdb"), ("StatefulSet", "zk")}
    sts = objects[("StatefulSet", "zk")]["spec"]
    headless = objects[("Service", "zk-headless")]["spec"]
    assert sts["podManagementPolicy"] == "Parallel"
    assert sts["serviceName"] == "zk-headless"
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    labels = sts["template"]["metadata"]["labels"]
    for selector in (sts["selector"]["matchLabels"], headless["selector"],
                     objects[("Service", "zk-client")]["spec"]["selector"],
                     objects[("PodDisruptionBudget", "zk-pdb")]["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert objects[("PodDisruptionBudget", "zk-pdb")]["spec"]["maxUnavailable"] == 1
    container = sts["template"]["spec"]["containers"][0]
    assert "zkServer.sh status" in " ".join(container["readinessProbe"]["exec"]["command"])
    assert "ruok" in " ".join(container["livenessProbe"]["exec"]["command"])
    port_names = {p["name"] for p in container["ports"]}
    for svc in ("zk-headless", "zk-client"):
        for port in objects[("Service", svc)]["spec"]["ports"]:
            assert port["targetPort"] in port_names
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ZK_REPLICAS"] == str(sts["replicas"])
    assert docs["kustomization.yaml"][0]["resources"] == ["zookeeper.yaml"]
    values = docs["bitnami-chart-values.yaml"][0]
    assert values["image"]["tag"] == "bitnami" and values["podManagementPolicy"] == "Parallel"

    # The StatefulSet's command, run in the image as pod zk-1 of namespace ns with the pod's
    # security context (uid 1000, read-only root, emptyDirs, a volume writable by fsGroup 1000):
    # it must derive myid 2 and one server line per replica.
    env["POD_NAMESPACE"] = "ns"
    conf, data = dk.volume(), dk.volume()
    mounts = (f"{conf}:/conf", f"{data}:/var/lib/zookeeper")
    chown = dk.run(images["official"], ["-c", "chown 1000:1000 /conf /var/lib/zookeeper"],
                   entrypoint="bash", volumes=mounts)
    assert chown.returncode == 0, chown.stderr
    command = container["command"]
    pod = dk.start(images["official"], command[1:], entrypoint=command[0], hostname="zk-1",
                   env=env, user="1000:1000", read_only=True, network=dk.network(),
                   tmpfs=("/logs:mode=1777", "/tmp:mode=1777"), volumes=mounts)

    def written():
        # Read through a second container: the pod may have exited already (quorum mode refused).
        proc = dk.run(images["official"], ["-c", "cat /conf/zoo.cfg && echo --- && "
                                                 "cat /var/lib/zookeeper/data/myid"],
                      entrypoint="bash", volumes=mounts)
        return proc.stdout if proc.returncode == 0 else None
    out = wait_until(written, 60, interval=0.5, message="zoo.cfg and myid from the StatefulSet command")
    conf_text, myid = out.split("---\n")
    assert myid.strip() == "2", logs(pod)
    lines = cfg_lines(conf_text)
    assert [line for line in lines if line.startswith("server.")] == [
        f"server.{i + 1}=zk-{i}.zk-headless.ns.svc.cluster.local:2888:3888;2181" for i in range(3)]
    assert "dataDir=/var/lib/zookeeper/data" in lines and "quorumListenOnAllIPs=true" in lines


def test_compose_file(images):
    yaml = _yaml()
    spec = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
    assert sorted(spec["services"]) == ["zoo1", "zoo2", "zoo3"]
    for i, name in enumerate(("zoo1", "zoo2", "zoo3"), start=1):
        env = spec["services"][name]["environment"]
        assert str(env["ZOO_MY_ID"]) == str(i)
        assert env["ZOO_SERVERS"].split() == [f"server.{j}=zoo{j}:2888:3888;2181" for j in (1, 2, 3)]
    if shutil.which("docker-compose"):
        proc = subprocess.run(["docker-compose", "-f", str(DOCKER_DIR / "compose.yml"), "config", "-q"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr


# --- 3-server ensembles (skipped while quorum mode is refused) -------------------------------------
@pytest.fixture(scope="module")
def quorum(images):
    """None when the binary runs quorum mode, else the reason to skip the ensemble tests."""
    res = Resources()
    try:
        net = res.network()
        name = res.name("probe")
        # Peers 2 and 3 are loopback ports nobody listens on: addresses that resolve, no DNS.
        servers = " ".join(f"server.{i}=127.0.0.1:{2887 + i}:{3887 + i};{2180 + i}" for i in (1, 2, 3))
        res.start(images["official"], name=name, hostname=name, network=net,
                  env={"ZOO_MY_ID": "1", "ZOO_SERVERS": servers, "ZOO_4LW_COMMANDS_WHITELIST": "ruok"})

        def settled():
            if not running(name):
                return "exited"
            return "up" if four_letter(name, "ruok") == "imok" else None
        state = wait_until(settled, 60, interval=0.3, message="the quorum probe to start or exit")
        text = logs(name)
        if state == "exited":
            if QUORUM_REFUSED.search(text):
                line = next(l for l in text.splitlines() if QUORUM_REFUSED.search(l))
                return f"the binary refuses quorum mode: {line.strip()}"
            pytest.fail(f"a node with a 3-server config exited; log:\n{text[-3000:]}", pytrace=False)
        return None
    finally:
        res.cleanup()


class Ensemble:
    """Three servers of one flavour on a network of their own, named <scope>-zk1..3."""

    def __init__(self, dk: Resources, images, flavour: str, tick_ms: int = 1000):
        self.dk, self.flavour = dk, flavour
        self.image = images[flavour]
        self.net = dk.network()
        self.names = {i: f"{dk.scope}-zk{i}" for i in (1, 2, 3)}
        self.volumes = {i: dk.volume() for i in (1, 2, 3)}
        # The official flavour keeps the txn log apart, in /datalog: it needs a volume of its own.
        self.log_volumes = {i: dk.volume() for i in (1, 2, 3)} if flavour == "official" else {}
        self.tick_ms = tick_ms
        self.client = client_container(dk, images["official"], self.net)

    def env(self, i: int, members=(1, 2, 3)) -> dict:
        if self.flavour == "official":
            servers = " ".join(f"server.{j}={self.names[j]}:2888:3888;2181" for j in members)
            return {"ZOO_MY_ID": str(i), "ZOO_SERVERS": servers, "ZOO_TICK_TIME": str(self.tick_ms),
                    "ZOO_4LW_COMMANDS_WHITELIST": "*"}
        servers = ",".join(f"{self.names[j]}:2888:3888::{j}" for j in members)
        return bitnami_env(ZOO_SERVER_ID=str(i), ZOO_SERVERS=servers, ZOO_TICK_TIME=str(self.tick_ms))

    def start(self, i: int, members=(1, 2, 3)) -> str:
        name = self.names[i]
        kwargs = dict(name=name, hostname=name, network=self.net, env=self.env(i, members))
        if self.flavour == "official":
            kwargs["volumes"] = (f"{self.volumes[i]}:/data", f"{self.log_volumes[i]}:/datalog")
        else:
            kwargs.update(read_only=True, tmpfs=BITNAMI_TMPFS,
                          volumes=(f"{self.volumes[i]}:/bitnami/zookeeper",))
        return self.dk.start(self.image, **kwargs)

    def host(self, i: int) -> str:
        return f"{self.names[i]}:2181"

    def wait_quorum(self, ids=(1, 2, 3), timeout: float = 90.0) -> int:
        """Waits until the servers ``ids`` serve with exactly one leader; returns its id."""
        def check():
            modes = {}
            for i in ids:
                alive_or_fail(self.names[i])
                modes[i] = mode(self.names[i])
            leaders = [i for i, m in modes.items() if m == "leader"]
            if len(leaders) == 1 and all(m in ("leader", "follower") for m in modes.values()):
                return leaders[0]
            return None
        try:
            return wait_until(check, timeout, interval=0.5, message=f"a quorum of {ids}")
        except TimeoutError as exc:
            detail = "\n".join(f"--- {self.names[i]}: {status(self.names[i])[1]!r}\n"
                               f"{logs(self.names[i])[-2000:]}" for i in ids)
            raise AssertionError(f"{exc}\n{detail}") from None

    def create(self, i: int, path: str, value: str):
        proc = zkcli(self.client, self.host(i), "create", path, value)
        assert f"Created {path}" in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    def wait_value(self, i: int, path: str, value: str, timeout: float = 60.0):
        wait_znode(self.client, self.host(i), path, value, timeout)


FLAVOURS = ["official", "bitnami"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_ensemble_replicates_and_survives_leader_kill(dk, images, quorum, flavour):
    if quorum:
        pytest.skip(quorum)
    ens = Ensemble(dk, images, flavour)
    for i in (1, 2, 3):
        ens.start(i)
    leader = ens.wait_quorum()
    follower = next(i for i in (1, 2, 3) if i != leader)
    ens.create(follower, "/repl", "v1")
    for i in (1, 2, 3):
        ens.wait_value(i, "/repl", "v1")
    docker("kill", ens.names[leader])
    rest = tuple(i for i in (1, 2, 3) if i != leader)
    ens.wait_quorum(rest)
    for i in rest:
        ens.wait_value(i, "/repl", "v1")
    ens.create(rest[0], "/after", "v2")
    docker("start", ens.names[leader])
    ens.wait_quorum()
    ens.wait_value(leader, "/after", "v2")
    ens.wait_value(leader, "/repl", "v1")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_ensemble_partitioned_node_stops_serving_and_catches_up(dk, images, quorum, flavour):
    if quorum:
        pytest.skip(quorum)
    ens = Ensemble(dk, images, flavour)
    for i in (1, 2, 3):
        ens.start(i)
    leader = ens.wait_quorum()
    cut = next(i for i in (1, 2, 3) if i != leader)
    rest = tuple(i for i in (1, 2, 3) if i != cut)
    docker("network", "disconnect", ens.net, ens.names[cut])
    try:
        ens.wait_quorum(rest)
        ens.create(rest[0], "/during-partition", "p")
        for i in rest:
            ens.wait_value(i, "/during-partition", "p")
        wait_until(lambda: NOT_SERVING in four_letter(ens.names[cut], "srvr"), 90, interval=0.5,
                   message="the isolated server to stop serving")
    finally:
        docker("network", "connect", ens.net, ens.names[cut], check=False)
    ens.wait_quorum()
    ens.wait_value(cut, "/during-partition", "p")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_scale_up_one_to_three_keeps_data(dk, images, quorum, flavour):
    """One server with data is redeployed as three: the two new, empty servers start first with
    the 3-server config, then the old one restarts with it. Nothing may be lost."""
    if quorum:
        pytest.skip(quorum)
    ens = Ensemble(dk, images, flavour)
    ens.start(1, members=(1,))
    wait_mode(ens.names[1], ("standalone",))
    ens.create(1, "/keep", "old-data")
    docker("rm", "-f", "-v", ens.names[1])
    ens.start(2)
    ens.start(3)
    # The two empty servers must not establish an (empty) ensemble without server 1.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for i in (2, 3):
            alive_or_fail(ens.names[i])
            assert mode(ens.names[i]) is None, f"{ens.names[i]} serves without the server that has the data"
        time.sleep(0.5)
    ens.start(1)
    ens.wait_quorum()
    for i in (1, 2, 3):
        ens.wait_value(i, "/keep", "old-data")


def test_compose_ensemble(dk, images, quorum):
    if quorum:
        pytest.skip(quorum)
    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose is not installed")
    yaml = _yaml()
    spec = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
    for svc in spec["services"].values():
        svc.pop("ports", None)  # nothing published on the host
        svc["labels"] = {LABEL.split("=")[0]: RUN_ID, dk.label.split("=")[0]: dk.scope}
    project = f"{dk.scope}-compose".replace(".", "-")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compose.yml"
        path.write_text(yaml.safe_dump(spec))
        base = ["docker-compose", "-p", project, "-f", str(path)]
        env = dict(os.environ, FERROKEEPER_IMAGE=images["official"])
        try:
            up = subprocess.run([*base, "up", "-d"], capture_output=True, text=True, env=env, timeout=300)
            assert up.returncode == 0, up.stderr
            names = {}
            for svc in ("zoo1", "zoo2", "zoo3"):
                ids = subprocess.run([*base, "ps", "-q", svc], capture_output=True, text=True,
                                     env=env, timeout=60).stdout.split()
                names[svc] = ids[0]
            modes = [wait_mode(names[svc], ("leader", "follower"), timeout=90) for svc in names]
            assert modes.count("leader") == 1
            proc = sh(names["zoo1"], "zkCli.sh -server zoo2:2181 create /compose c", timeout=60)
            assert "Created /compose" in proc.stdout + proc.stderr
            wait_until(lambda: "c" in sh(names["zoo3"], "zkCli.sh -server zoo3:2181 get /compose",
                                         timeout=60).stdout.splitlines(), 60, interval=0.5,
                       message="/compose on zoo3")
        finally:
            subprocess.run([*base, "down", "-v", "--remove-orphans"], capture_output=True, env=env,
                           timeout=300)
