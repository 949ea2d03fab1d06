"""Scripted sessions of the Java command-line client, zkCli.sh.

Each ``zkcli()`` call is one client session: the commands are fed on stdin
(zkCli runs them in order and exits at ``quit``, closing its session).
zkCli prints results on stdout and "Created ..."/error messages on stderr;
both are returned with zkCli's own banner and logger noise removed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import subprocess

from servers import ZKCLI

NOISE = re.compile(
    r"^(Connecting to |Welcome to ZooKeeper!|JLine support is |WATCHER::$|SLF4J: |log4j:"
    r"|WatchedEvent state:(SyncConnected|Closed) type:None path:null$)")


def clean(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not NOISE.match(line)]


def zkcli(server, *commands: str, timeout: float = 30.0) -> tuple[list[str], list[str]]:
    """Run one zkCli session; return (stdout lines, stderr lines) without noise."""
    script = "\n".join(commands + ("quit",)) + "\n"
    # zkCli.sh runs java as a child (no exec): use a process group so that a
    # hung session can be killed completely.
    proc = subprocess.Popen([ZKCLI, "-server", server.hosts], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(script, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"zkCli did not finish in {timeout}s:\n{stdout}\n{stderr}") from None
    # zkCli's exit status reflects its last command, so it is not checked here.
    return clean(stdout), clean(stderr)


def stat_fields(lines: list[str]) -> dict[str, str]:
    """The ``key = value`` lines of zkCli's stat output."""
    fields = {}
    for line in lines:
        key, sep, value = line.partition(" = ")
        if sep:
            fields[key] = value
    return fields


def digest_id(user: str, password: str) -> str:
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


def test_create_get_set_stat_ls(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath} hello",
                     f"get {zpath}",
                     f"set {zpath} world!",
                     f"create {zpath}/child",
                     f"get -s {zpath}",
                     f"ls {zpath}",
                     "ls /")
    assert err == [f"Created {zpath}", f"Created {zpath}/child"]
    assert out[0] == "hello"
    assert out[1] == "world!"
    stat = stat_fields(out[2:13])
    assert list(stat) == ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion",
                          "dataVersion", "aclVersion", "ephemeralOwner", "dataLength",
                          "numChildren"]
    assert stat["dataVersion"] == "1"
    assert stat["cversion"] == "1"
    assert stat["aclVersion"] == "0"
    assert stat["ephemeralOwner"] == "0x0"
    assert stat["dataLength"] == "6"
    assert stat["numChildren"] == "1"
    czxid, mzxid, pzxid = (int(stat[k], 16) for k in ("cZxid", "mZxid", "pZxid"))
    assert 0 < czxid < mzxid < pzxid  # create, then set, then the child's create
    assert out[13] == "[child]"
    children = out[14].strip("[]").split(", ")
    assert zpath[1:] in children and "zookeeper" in children
    assert children == sorted(children)
    assert len(out) == 15


def test_stat_and_delete(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath} abc",
                     f"stat {zpath}",
                     f"delete {zpath}",
                     f"stat {zpath}")
    assert err == [f"Created {zpath}", f"Node does not exist: {zpath}"]
    stat = stat_fields(out)
    assert len(out) == 11
    assert stat["dataVersion"] == "0" and stat["cversion"] == "0"
    assert stat["dataLength"] == "3" and stat["numChildren"] == "0"
    assert stat["cZxid"] == stat["mZxid"] == stat["pZxid"]
    assert stat["ctime"] == stat["mtime"]


def test_error_messages(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath} a",
                     f"create {zpath}/c",
                     f"create {zpath} again",
                     f"get {zpath}/nope",
                     f"delete {zpath}",
                     f"set -v 7 {zpath} x",
                     f"create {zpath}/x/y/z",
                     f"create -e {zpath}/eph",
                     f"create {zpath}/eph/child",
                     f"ls {zpath}/nope",
                     f"get {zpath}")
    assert err == [
        f"Created {zpath}",
        f"Created {zpath}/c",
        f"Node already exists: {zpath}",
        f"Node does not exist: {zpath}/nope",
        f"Node not empty: {zpath}",
        f"version No is not valid : {zpath}",
        f"Node does not exist: {zpath}/x/y/z",
        f"Created {zpath}/eph",
        f"Ephemerals cannot have children: {zpath}/eph/child",
        f"Node does not exist: {zpath}/nope",
    ]
    assert out == ["a"]  # the failed set did not change the data


def test_deleteall(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath}",
                     f"create {zpath}/a",
                     f"create {zpath}/a/b",
                     f"create {zpath}/c",
                     f"ls {zpath}",
                     f"deleteall {zpath}",
                     f"ls {zpath}",
                     f"stat {zpath}")
    assert err == [f"Created {zpath}", f"Created {zpath}/a", f"Created {zpath}/a/b",
                   f"Created {zpath}/c", f"Node does not exist: {zpath}",
                   f"Node does not exist: {zpath}"]
    assert out == ["[a, c]"]


def test_sequential_nodes(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath}",
                     f"create {zpath}/plain",
                     f"create -s {zpath}/n- x",
                     f"create -s {zpath}/n- y",
                     f"delete {zpath}/plain",
                     f"create -s {zpath}/m",
                     f"create -s -e {zpath}/e-",
                     f"ls {zpath}")
    # The suffix is the parent's cversion (bumped by every create, not by delete).
    assert err == [f"Created {zpath}", f"Created {zpath}/plain",
                   f"Created {zpath}/n-0000000001", f"Created {zpath}/n-0000000002",
                   f"Created {zpath}/m0000000003", f"Created {zpath}/e-0000000004"]
    assert out == ["[e-0000000004, m0000000003, n-0000000001, n-0000000002]"]


def test_ephemeral_gone_after_session_close(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath}",
                     f"create -e {zpath}/eph data",
                     f"stat {zpath}/eph",
                     f"ls {zpath}")
    assert err == [f"Created {zpath}", f"Created {zpath}/eph"]
    stat = stat_fields(out)
    assert int(stat["ephemeralOwner"], 16) != 0
    assert stat["dataLength"] == "4"
    assert out[-1] == "[eph]"

    out, err = zkcli(server, f"ls {zpath}", f"stat {zpath}/eph")
    assert out == ["[]"]
    assert err == [f"Node does not exist: {zpath}/eph"]


def test_watch_events_printed(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath} v1",
                     f"get -w {zpath}",
                     f"set {zpath} v2",
                     f"ls -w {zpath}",
                     f"create {zpath}/c",
                     f"stat -w {zpath}/c",
                     f"delete {zpath}/c")
    assert err == [f"Created {zpath}", f"Created {zpath}/c"]
    events = [line for line in out if line.startswith("WatchedEvent")]
    assert events == [
        f"WatchedEvent state:SyncConnected type:NodeDataChanged path:{zpath}",
        f"WatchedEvent state:SyncConnected type:NodeChildrenChanged path:{zpath}",
        f"WatchedEvent state:SyncConnected type:NodeDeleted path:{zpath}/c",
    ]
    assert out[0] == "v1"
    assert "[]" in out


def test_acl_world_and_readonly(server, zpath):
    out, err = zkcli(server,
                     f"create {zpath} v1",
                     f"getAcl {zpath}",
                     f"setAcl {zpath} world:anyone:r",
                     f"getAcl {zpath}",
                     f"set {zpath} v2",
                     f"get {zpath}",
                     f"getAcl {zpath}/nope")
    assert out == ["'world,'anyone", ": cdrwa", "'world,'anyone", ": r", "v1"]
    assert err == [f"Created {zpath}", f"Insufficient permission : {zpath}",
                   f"Node does not exist: {zpath}/nope"]


def test_digest_acl_requires_auth(server, zpath):
    ident = digest_id("alice", "s3cret")
    out, err = zkcli(server,
                     f"create {zpath} secret-data",
                     f"setAcl {zpath} digest:{ident}:cdrwa",
                     f"get {zpath}",
                     f"set {zpath} x",
                     "addauth digest mallory:wrong",
                     f"get {zpath}")
    assert out == []
    assert err == [f"Created {zpath}"] + [f"Insufficient permission : {zpath}"] * 3

    out, err = zkcli(server,
                     "addauth digest alice:s3cret",
                     f"get {zpath}",
                     f"set {zpath} updated",
                     f"get {zpath}",
                     f"getAcl {zpath}")
    assert err == []
    assert out == ["secret-data", "updated", f"'digest,'{ident}", ": cdrwa"]


def test_container_node(server, zpath):
    out, err = zkcli(server,
                     f"create -c {zpath} c",
                     f"create {zpath}/child",
                     f"stat {zpath}",
                     f"ls {zpath}")
    assert err == [f"Created {zpath}", f"Created {zpath}/child"]
    stat = stat_fields(out)
    # Java reports containers with ephemeralOwner 0 to clients.
    assert stat["ephemeralOwner"] == "0x0"
    assert stat["numChildren"] == "1"
    assert out[-1] == "[child]"
