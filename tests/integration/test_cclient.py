"""The ZooKeeper C client's shell, ``cli_mt``, driven over stdin.

cli_mt sends each command asynchronously and prints the completion on stderr
later (``<path>: rc = <code>`` plus a body), so ``CliMt.run`` sends one command
and waits until that command's completion has been printed completely.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest

from servers import CLI_MT

# C client return codes (zookeeper.h ZOO_ERRORS)
ZOK, ZNONODE, ZNOAUTH, ZNODEEXISTS, ZNOTEMPTY, ZNOCHILDRENFOREPHEMERALS = (
    0, -101, -102, -110, -111, -108)


def stat_end(line: str) -> bool:
    """Last line of cli_mt's dump of a Stat (``null`` when there is none)."""
    return line == "null" or line.startswith("\tephemeralOwner = ")


@dataclass
class Completion:
    rc: int
    body: list[str]  # lines after the rc line, without timing/watcher lines

    def stat(self) -> dict[str, str]:
        """Parse cli_mt's stat dump (``key=value`` / ``key = value`` pairs)."""
        fields = {}
        for line in self.body:
            for part in line.strip().split("\t"):
                key, sep, value = part.partition("=")
                if sep:
                    fields[key.strip()] = value.strip()
        return fields


class CliMt:
    """One cli_mt process (one ZooKeeper session)."""

    def __init__(self, hosts: str):
        self.proc = subprocess.Popen([CLI_MT, "-h", hosts], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, start_new_session=True)
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.session_id = int(self.wait_for(r"^Got a new session id: 0x([0-9a-f]+)$").group(1), 16)

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF marker
            self.cond.notify_all()

    def wait_for(self, pattern: str, start: int = 0, timeout: float = 15.0):
        """Wait for a line matching ``pattern`` at index >= start; return the match
        (its index is in ``self.last_index``)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = start
        with self.cond:
            while True:
                while index < len(self.lines):
                    line = self.lines[index]
                    if line is None:
                        raise AssertionError(f"cli_mt exited while waiting for {pattern!r}:\n"
                                             + self.transcript())
                    match = regex.search(line)
                    if match:
                        self.last_index = index
                        return match
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {pattern!r}:\n" + self.transcript())
                self.cond.wait(remaining)

    def transcript(self) -> str:
        return "\n".join(line for line in self.lines if line is not None)

    def send(self, command: str) -> int:
        with self.cond:
            mark = len(self.lines)
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return mark

    def run(self, command: str) -> Completion:
        """Send a command and wait for its completion to be fully printed."""
        verb, _, rest = command.partition(" ")
        path = rest.split(" ")[-1] if verb in ("create", "create2") else rest.split(" ")[0]
        mark = self.send(command)
        quoted = re.escape(path)
        if verb in ("create", "create2", "sync"):
            rc_pattern = rf"^\[{quoted}\]: rc = (-?\d+)$"
        elif verb == "set":
            rc_pattern = rf"^{quoted}: rc = (-?\d+) Stat:$"
        else:
            rc_pattern = rf"^{quoted}: rc = (-?\d+)$"
        rc = int(self.wait_for(rc_pattern, mark).group(1))
        rc_index = self.last_index

        if verb in ("get", "set", "create2", "ls2"):
            end = r"^(null|\tephemeralOwner = .*)$"
        elif verb == "ls":
            end = r"^time = \d+ msec$"
        elif verb in ("create", "sync") and rc == ZOK:
            end = r"^\tname = "
        else:
            end = None
        end_index = rc_index
        if end:
            self.wait_for(end, rc_index + 1)
            end_index = self.last_index
        with self.cond:
            body = [line for line in self.lines[rc_index + 1:end_index + 1]
                    if not line.startswith(("time = ", "Watcher "))]
        return Completion(rc, body)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


@pytest.fixture
def cli_factory(server):
    clients = []

    def make() -> CliMt:
        client = CliMt(server.hosts)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_create_get_set_ls_delete(cli_factory, zpath):
    cli = cli_factory()
    created = cli.run(f"create {zpath}")
    assert created.rc == ZOK and created.body == [f"\tname = {zpath}"]

    got = cli.run(f"get {zpath}")
    assert got.rc == ZOK
    assert got.body[:3] == [" value_len = 3", "new", "Stat:"]
    stat = got.stat()
    assert stat["version"] == "0" and stat["aversion"] == "0" and stat["ephemeralOwner"] == "0"
    assert stat["czxid"] == stat["mzxid"]

    updated = cli.run(f"set {zpath} hello-world")
    assert updated.rc == ZOK
    assert updated.stat()["version"] == "1"
    assert int(updated.stat()["mzxid"], 16) > int(stat["czxid"], 16)

    got = cli.run(f"get {zpath}")
    assert got.rc == ZOK and got.body[:2] == [" value_len = 11", "hello-world"]

    assert cli.run(f"create {zpath}/a").rc == ZOK
    created2 = cli.run(f"create2 {zpath}/b")
    assert created2.rc == ZOK and created2.body[0] == f"\tname = {zpath}/b"
    assert created2.stat()["version"] == "0"

    listing = cli.run(f"ls {zpath}")
    assert listing.rc == ZOK and sorted(listing.body) == ["\ta", "\tb"]
    listing2 = cli.run(f"ls2 {zpath}")
    assert listing2.rc == ZOK and sorted(listing2.body[:2]) == ["\ta", "\tb"]
    assert listing2.stat()["version"] == "1"

    assert cli.run(f"delete {zpath}").rc == ZNOTEMPTY
    assert cli.run(f"delete {zpath}/a").rc == ZOK
    assert cli.run(f"delete {zpath}/b").rc == ZOK
    assert cli.run(f"delete {zpath}").rc == ZOK
    missing = cli.run(f"get {zpath}")
    assert missing.rc == ZNONODE and missing.body == ["", "Stat:", "null"]


def test_error_codes(cli_factory, zpath):
    cli = cli_factory()
    assert cli.run(f"create {zpath}").rc == ZOK
    assert cli.run(f"create {zpath}").rc == ZNODEEXISTS
    assert cli.run(f"create {zpath}/no/parent").rc == ZNONODE
    assert cli.run(f"get {zpath}/nope").rc == ZNONODE
    assert cli.run(f"set {zpath}/nope x").rc == ZNONODE
    assert cli.run(f"delete {zpath}/nope").rc == ZNONODE
    assert cli.run(f"ls {zpath}/nope").rc == ZNONODE
    assert cli.run(f"create +e {zpath}/eph").rc == ZOK
    assert cli.run(f"create {zpath}/eph/child").rc == ZNOCHILDRENFOREPHEMERALS
    synced = cli.run(f"sync {zpath}")
    assert synced.rc == ZOK and synced.body == [f"\tname = {zpath}"]


def test_sequential_and_ephemeral(cli_factory, zpath):
    cli = cli_factory()
    assert cli.run(f"create {zpath}").rc == ZOK
    first = cli.run(f"create +s {zpath}/n-")
    second = cli.run(f"create +s {zpath}/n-")
    assert first.body == [f"\tname = {zpath}/n-0000000000"]
    assert second.body == [f"\tname = {zpath}/n-0000000001"]

    assert cli.run(f"create +e {zpath}/eph").rc == ZOK
    owner = int(cli.run(f"get {zpath}/eph").stat()["ephemeralOwner"], 16)
    assert owner == cli.session_id
    cli.close()

    other = cli_factory()
    assert other.session_id != cli.session_id
    assert other.run(f"get {zpath}/eph").rc == ZNONODE
    listing = other.run(f"ls {zpath}")
    assert sorted(listing.body) == ["\tn-0000000000", "\tn-0000000001"]


def test_watch_notifications(cli_factory, zpath):
    watcher, writer = cli_factory(), cli_factory()
    assert writer.run(f"create {zpath}").rc == ZOK
    mark = len(watcher.lines)
    assert watcher.run(f"get {zpath}").rc == ZOK   # sets a data watch
    assert watcher.run(f"ls {zpath}").rc == ZOK    # sets a child watch

    assert writer.run(f"set {zpath} changed").rc == ZOK
    watcher.wait_for(rf"^Watcher CHANGED_EVENT state = CONNECTED_STATE for path {zpath}$", mark)
    assert writer.run(f"create {zpath}/kid").rc == ZOK
    watcher.wait_for(rf"^Watcher CHILD_EVENT state = CONNECTED_STATE for path {zpath}$", mark)
    events = [line for line in watcher.lines[mark:] if line and line.startswith("Watcher ")]
    assert events == [
        f"Watcher CHANGED_EVENT state = CONNECTED_STATE for path {zpath}",
        f"Watcher CHILD_EVENT state = CONNECTED_STATE for path {zpath}",
    ]


def test_digest_auth(cli_factory, zk, zpath):
    from kazoo.security import make_digest_acl

    zk.create(zpath, b"top-secret", acl=[make_digest_acl("carol", "pw", all=True)])
    cli = cli_factory()
    denied = cli.run(f"get {zpath}")
    assert denied.rc == ZNOAUTH and denied.body == ["", "Stat:", "null"]
    cli.send("addauth digest carol:pw")
    allowed = cli.run(f"get {zpath}")
    assert allowed.rc == ZOK and allowed.body[:2] == [" value_len = 10", "top-secret"]
