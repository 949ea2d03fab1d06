"""Ensembles of ZooKeeper servers on loopback: each node its own ports and directory, each of
its own implementation (Java 3.8 or ferrokeeper), so mixed ensembles, rolling replacement and
crash tests are a few lines.

* ``Ensemble(workdir, ["ferrokeeper", "java", ...])`` -- sid i+1 runs impls[i].
* ``ens.start()`` starts every node and waits until a leader serves with a quorum.
* ``ens.node(sid)`` is a ``Node`` (a ``ZkServer`` with the ``server.N`` lines and ``myid``).
* ``ens.leader()`` / ``ens.modes()`` read ``srvr`` of every node.
* ``ens.replace(sid, impl)`` stops a node and starts the other implementation on the same myid,
  ports and data directory (the rolling-migration step).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import random
import socket

from servers import LOCALHOST, ZkServer, four_letter, wait_until


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so that no outgoing connection takes a
    node's port while that node is down (a restarted node binds the same ports again)."""
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(1000):
        port = random.randrange(10000, max(low, 10001))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOCALHOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


class Node(ZkServer):
    """One member of an ensemble."""

    def __init__(self, ensemble: "Ensemble", sid: int, impl: str):
        super().__init__(impl, ensemble.workdir / f"node{sid}", port=ensemble.client_ports[sid],
                         tick_time=ensemble.tick_time, extra_cfg=dict(ensemble.extra_cfg),
                         env=dict(ensemble.env),
                         java_classpath_extra=ensemble.java_classpath_extra)
        self.ensemble = ensemble
        self.sid = sid

    def config_lines(self) -> list[str]:
        lines = super().config_lines()
        e = self.ensemble
        lines += [f"initLimit={e.init_limit}", f"syncLimit={e.sync_limit}"]
        for sid in e.sids:
            if sid in e.members:
                q, el = e.peer_ports[sid]
                role = ":observer" if sid in e.observers else ""
                lines.append(f"server.{sid}={LOCALHOST}:{q}:{el}{role}")
        if self.sid in e.observers:
            lines.append("peerType=observer")
        lines += [f"{k}={v}" for k, v in e.node_cfg.get(self.sid, {}).items()]
        return lines

    def write_config(self) -> None:
        super().write_config()
        (self.data_dir / "myid").write_text(f"{self.sid}\n")

    def wait_ready(self, timeout: float = 60.0) -> None:
        # A peer answers srvr from the start; "ready" here means the process is up and answering.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise RuntimeError(f"node {self.sid} ({self.impl}) exited with "
                                   f"{self.proc.returncode}; log tail:\n{self.log_tail()}")
            if self.srvr() is not None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"node {self.sid} ({self.impl}) does not answer; log:\n{self.log_tail()}")

    def mode(self) -> str | None:
        """leader / follower / observer, or None while not serving (or down)."""
        out = self.srvr()
        if not out:
            return None
        for line in out.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def mntr(self) -> dict[str, str]:
        out = four_letter(self.port, "mntr")
        d = {}
        for line in out.splitlines():
            if "\t" in line:
                k, v = line.split("\t", 1)
                d[k] = v
        return d

    def pause(self) -> None:
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    @property
    def hosts(self) -> str:
        return f"{LOCALHOST}:{self.port}"


class Ensemble:
    def __init__(self, workdir: Path, impls: list[str], tick_time: int = 500, init_limit: int = 10,
                 sync_limit: int = 5, extra_cfg: dict | None = None, members: list[int] | None = None,
                 observers: set[int] | None = None, env: dict | None = None,
                 node_cfg: dict[int, dict] | None = None,
                 java_classpath_extra: list | None = None):
        self.workdir = Path(workdir)
        self.tick_time = tick_time
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.extra_cfg = extra_cfg or {}
        self.sids = list(range(1, len(impls) + 1))
        # Which sids the server.N lines list (all by default; the scale-up test changes it).
        self.members = set(members or self.sids)
        self.observers = set(observers or ())
        self.env = dict(env or {})
        # Per-node zoo.cfg keys (e.g. each node's AdminServer port).
        self.node_cfg = dict(node_cfg or {})
        self.java_classpath_extra = list(java_classpath_extra or [])
        self.client_ports = {sid: free_port() for sid in self.sids}
        self.peer_ports = {sid: (free_port(), free_port()) for sid in self.sids}
        self.nodes = {sid: Node(self, sid, impl) for sid, impl in zip(self.sids, impls)}

    def node(self, sid: int) -> Node:
        return self.nodes[sid]

    @property
    def hosts(self) -> str:
        return ",".join(n.hosts for n in self.nodes.values())

    def start(self, sids: list[int] | None = None, wait: bool = True, timeout: float = 90.0):
        for sid in sids or self.sids:
            self.nodes[sid].start()
        if wait:
            self.wait_serving(sids or self.sids, timeout=timeout)
        return self

    def modes(self, sids: list[int] | None = None) -> dict[int, str | None]:
        return {sid: self.nodes[sid].mode() for sid in (sids or self.sids)
                if self.nodes[sid].is_running()}

    def wait_serving(self, sids: list[int], timeout: float = 90.0) -> int:
        """Waits until every node in ``sids`` serves and exactly one leads; returns the leader."""
        def ok():
            m = self.modes(sids)
            if len(m) != len(sids) or any(v not in ("leader", "follower", "observer")
                                          for v in m.values()):
                return None
            leaders = [sid for sid, v in m.items() if v == "leader"]
            return leaders[0] if len(leaders) == 1 else None
        try:
            return wait_until(ok, timeout, interval=0.2, message=f"nodes {sids} serving")
        except TimeoutError:
            raise TimeoutError(f"ensemble not serving: {self.modes()}\n" + self.log_tails())

    def leader(self) -> int | None:
        for sid, m in self.modes().items():
            if m == "leader":
                return sid
        return None

    def replace(self, sid: int, impl: str) -> Node:
        old = self.nodes[sid]
        old.stop()
        new = Node(self, sid, impl)
        self.nodes[sid] = new
        new.start()
        return new

    def stop(self) -> None:
        for n in self.nodes.values():
            if n.is_running():
                try:
                    n.resume()  # a paused node would not see SIGTERM
                except OSError:
                    pass
            n.stop()

    def log_tails(self, lines: int = 25) -> str:
        return "\n".join(f"--- node {sid} ({n.impl}) ---\n{n.log_tail(lines)}"
                         for sid, n in self.nodes.items())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def dump_tree(zk, path: str = "/") -> dict[str, tuple]:
    """Every znode under ``path`` (``/zookeeper`` excluded) with data and the stat fields that
    must agree across servers."""
    out = {}
    stack = [path]
    while stack:
        p = stack.pop()
        if p.startswith("/zookeeper"):
            continue
        data, st = zk.get(p)
        out[p] = (data, st.czxid, st.mzxid, st.pzxid, st.version, st.cversion, st.aversion,
                  st.ephemeralOwner, st.numChildren)
        for c in zk.get_children(p):
            stack.append(p.rstrip("/") + "/" + c)
    return out
