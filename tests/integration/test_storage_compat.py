"""On-disk compatibility with Java ZooKeeper 3.8 (issue 3).

* Java -> ferrokeeper: Java writes a rich tree on a fresh dataDir (several log
  rolls and snapshots, snapCount=50), is stopped (SIGTERM) or crashed (SIGKILL),
  ferrokeeper starts on the same directory and must serve exactly the same tree
  (data, ACL, full stat, children); the ephemeral of a still-alive session is
  there and the session reconnects with its id and password. Then ferrokeeper
  writes more, is killed, and Java must serve ferrokeeper's state (round trip).
* ferrokeeper -> Java: the reverse on a directory ferrokeeper wrote.

Also: compressed snapshots (gz / snappy) both ways, a dataDir/dataLogDir split
both ways, the offline tools (verify, snapshot-dump, txnlog-dump) cross-checked
against Java's SnapshotFormatter and TxnLogToolkit, and autopurge at startup
keeping the same files Java keeps.

Java's log (WARN and above) must not report digest mismatches or load errors.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from servers import wait_until
from storage_util import (CONTAINER, EPHEMERAL, EPHEMERAL_SEQUENTIAL, OPEN_ACL,
                          PERSISTENT_SEQUENTIAL, PERSISTENT_SEQUENTIAL_WITH_TTL, PERSISTENT_WITH_TTL,
                          Zk, ZkError, diff_dumps, digest_id, dump_tree, log_entries, logs,
                          make_server, snapshots, zkraw, zxid_of)

R, W, C, D, A = 1, 2, 4, 8, 16
ALL = 31
AUTHS = [("digest", "alice:apw"), ("digest", "bob:bpw")]
ALICE = digest_id("alice", "apw")
BOB = digest_id("bob", "bpw")
BIG = 1_000_000
SNAP_CFG = {"snapCount": 50, "extendedTypesEnabled": "true"}
HOLDER_TIMEOUT_MS = 40000  # Java's max with tickTime=2000 is 20 ticks


class Registry:
    """Servers and clean-up functions of one test; all stopped/run at its end."""

    def __init__(self):
        self.servers, self.closers = [], []

    def __call__(self, srv):
        self.servers.append(srv)
        return srv

    def cleanup(self, fn):
        self.closers.append(fn)

    def close(self):
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception:
                pass
        for srv in self.servers:
            srv.stop()


@pytest.fixture
def reg():
    r = Registry()
    yield r
    r.close()


def java_problems(srv) -> list[str]:
    """Lines of a Java server log that point at a load/digest problem."""
    bad = ("igest", "Exception", "ERROR", "CRC", "corrupt", "Unreasonable")
    return [line for line in srv.log_text().splitlines() if any(b in line for b in bad)]


def build_rich_tree(port: int, seed: int = 7) -> dict:
    """Writes the rich tree through raw clients. Returns facts needed by the checks."""
    rng = random.Random(seed)
    zk = Zk(port, auths=AUTHS)
    facts = {}
    zk.create("/compat", b"root of the compat tree")
    # nested paths
    path = "/compat/nest"
    for depth in range(12):
        zk.create(path, f"depth {depth}".encode())
        path += f"/d{depth}"
    zk.create("/compat/unicode-\u00e9\u4e2d", "\u00e9\u4e2d".encode())
    # binary data
    zk.create("/compat/bin", b"")
    zk.create("/compat/bin/all-bytes", bytes(range(256)) * 4)
    zk.create("/compat/bin/empty", b"")
    zk.create("/compat/bin/null", None)
    big = rng.randbytes(BIG)
    zk.create("/compat/bin/big", big)
    zk.set("/compat/bin/big", big[::-1])
    zk.create("/compat/bin/big2", rng.randbytes(BIG // 2))
    # ACLs of every scheme
    zk.create("/compat/acl", b"acl parent")
    zk.create("/compat/acl/world", b"w", [(ALL, "world", "anyone")])
    zk.create("/compat/acl/world-ro", b"wro", [(R, "world", "anyone")])
    zk.create("/compat/acl/digest", b"d", [(R | W, "digest", ALICE)])
    zk.create("/compat/acl/digest2", b"d2", [(ALL, "digest", ALICE), (R | A, "digest", BOB)])
    zk.create("/compat/acl/ip-cidr", b"ip", [(ALL, "ip", "127.0.0.0/8")])
    zk.create("/compat/acl/ip-exact", b"ip1", [(R | C, "ip", "127.0.0.1")])
    zk.create("/compat/acl/auth", b"auth", [(ALL, "auth", "")])
    zk.create("/compat/acl/mixed", b"mix", [(R, "world", "anyone"), (W | C | D, "ip", "10.0.0.0/8"),
                                           (A, "digest", BOB)])
    zk.create("/compat/acl/noread", b"secret", [(C | D, "world", "anyone"), (A, "digest", BOB)])
    zk.create("/compat/acl/changed", b"c")
    zk.set_acl("/compat/acl/changed", [(R | A, "digest", BOB)])
    zk.set_acl("/compat/acl/changed", [(R | W | A, "digest", BOB), (R, "ip", "127.0.0.1/32")], 1)
    # sequential nodes (some deleted: cversion and pzxid move)
    zk.create("/compat/seq", b"")
    seqs = [zk.create("/compat/seq/n-", str(i).encode(), flags=PERSISTENT_SEQUENTIAL)[0]
            for i in range(15)]
    for p in seqs[::3]:
        zk.delete(p)
    # containers (kept non-empty, or never used: the container manager leaves those alone)
    zk.create("/compat/cont", b"container", flags=CONTAINER)
    zk.create("/compat/cont/child", b"x")
    zk.create("/compat/cont-empty", b"", flags=CONTAINER)
    # TTL nodes (an hour: they do not expire during the test)
    zk.create("/compat/ttl", b"")
    zk.create("/compat/ttl/t1", b"ttl", flags=PERSISTENT_WITH_TTL, ttl=3_600_000)
    zk.create("/compat/ttl/s-", b"ttl-seq", flags=PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=7_200_000)
    # failing requests (Java logs error txns) and multis (one failing)
    for _ in range(3):
        with pytest.raises(ZkError):
            zk.create("/compat/seq", b"dup")
        with pytest.raises(ZkError):
            zk.set("/compat/acl/world", b"v", version=42)
    zk.create("/compat/multi", b"")
    err, res, _ = zk.multi([
        ("create", zkraw.enc_create("/compat/multi/a", b"a", OPEN_ACL, 0)),
        ("create", zkraw.enc_create("/compat/multi/b", b"b", OPEN_ACL, 0)),
        ("setData", zkraw.enc_set_data("/compat/multi", b"after multi", -1)),
        ("check", zkraw.enc_path_version("/compat/multi", 1)),
    ])
    assert err == 0, res
    err, res, _ = zk.multi([
        ("create", zkraw.enc_create("/compat/multi/c", b"c", OPEN_ACL, 0)),
        ("delete", zkraw.enc_path_version("/compat/multi/a", 5)),
    ])
    assert any(r.get("type") == zkraw.OP["error"] for r in res), res
    # bulk writes: several log rolls and snapshots at snapCount=50, with concurrent writers so
    # that snapshots are fuzzy
    zk.create("/compat/bulk", b"")
    errors = []

    def writer(i):
        try:
            c = Zk(port)
            try:
                c.create(f"/compat/bulk/w{i}", b"")
                wr = random.Random(seed * 100 + i)
                for k in range(60):
                    p = f"/compat/bulk/w{i}/n{k % 20}"
                    if k < 20:
                        c.create(p, wr.randbytes(wr.randrange(0, 300)))
                    elif k % 7 == 0:
                        c.delete(p)
                        c.create(p, b"again")
                    else:
                        c.set(p, wr.randbytes(wr.randrange(0, 300)))
            finally:
                c.close()
        except Exception as exc:  # reported by the main thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for k in range(60):
        zk.set("/compat/bulk", f"main {k}".encode())
    for t in threads:
        t.join(120)
    assert not errors, errors
    # persistent ephemerals of a closed session must be gone; one closed session leaves nothing
    c = Zk(port)
    c.create("/compat/eph-closed", b"", flags=EPHEMERAL)
    c.close()
    zk.close()

    # an ephemeral held by a live session (kept open by the caller, not closed)
    holder = Zk(port, timeout_ms=HOLDER_TIMEOUT_MS)
    holder.create("/compat/eph-live", b"held", flags=EPHEMERAL)
    holder.create("/compat/seq/e-", b"eseq", flags=EPHEMERAL_SEQUENTIAL)
    facts["holder"] = holder
    return facts


def check_session_reconnects(srv, holder: Zk, reg):
    """The holder's ephemerals are present and its session reconnects with id + password."""
    sid, pw = holder.session_id, holder.passwd
    holder.drop()
    zk = Zk(srv.port, auths=AUTHS)
    reg.cleanup(zk.drop)
    stat = zk.exists("/compat/eph-live")
    assert stat is not None, "ephemeral of the live session lost"
    assert stat["ephemeralOwner"] == sid
    client = KazooClient(hosts=srv.hosts, client_id=(sid, pw), timeout=HOLDER_TIMEOUT_MS / 1000)
    reg.cleanup(lambda: (client.stop(), client.close()))
    states = []
    client.add_listener(states.append)
    client.start(timeout=15)
    assert client.client_id[0] == sid, f"got a new session {client.client_id[0]:#x}, wanted {sid:#x}"
    assert KazooState.LOST not in states, states
    data, kstat = client.get("/compat/eph-live")
    assert data == b"held" and kstat.ephemeralOwner == sid
    # closing the session now removes its ephemerals
    client.stop()
    wait_until(lambda: zk.exists("/compat/eph-live") is None, 10, message="ephemeral removed on close")
    zk.close()


def start_or_fail(srv):
    try:
        srv.start()
    except Exception as exc:
        pytest.fail(f"{srv.impl} failed to start on the other's dataDir: {exc}", pytrace=False)


def do_stop(srv, mode):
    if mode == "sigkill":
        srv.kill()
    else:
        srv.stop()


@pytest.mark.parametrize("mode", ["sigterm", "sigkill"])
def test_java_to_ferrokeeper(tmp_path, reg, mode):
    data = tmp_path / "data"
    java = reg(make_server("java", tmp_path / "java", data, **SNAP_CFG))
    start_or_fail(java)
    facts = build_rich_tree(java.port)
    reg.cleanup(facts["holder"].drop)
    zk = Zk(java.port, auths=AUTHS)
    before = dump_tree(zk)
    zk.close()
    assert len(snapshots(data)) >= 3 and len(logs(data)) >= 3, "workload did not roll logs/snapshots"
    do_stop(java, mode)
    java_files = set(data.glob("version-2/*"))

    fk = reg(make_server("ferrokeeper", tmp_path / "fk", data, port=java.port, **SNAP_CFG))
    start_or_fail(fk)
    zk = Zk(fk.port, auths=AUTHS)
    after = dump_tree(zk)
    zk.close()
    diffs = diff_dumps(before, after)
    assert not diffs, "ferrokeeper serves a different tree than Java wrote:\n" + "\n".join(diffs)
    check_session_reconnects(fk, facts["holder"], reg)

    # round trip: ferrokeeper appends to Java's history, Java reads it back
    zk = Zk(fk.port, auths=AUTHS)
    for k in range(120):
        zk.set("/compat/bulk", f"fk {k}".encode())
        if k % 10 == 0:
            zk.create(f"/compat/fk-{k}", bytes([k]) * k, [(R | W, "digest", ALICE)])
    zk.delete("/compat/cont/child")  # the container may now be reaped by either server
    zk.delete("/compat/cont")
    before2 = dump_tree(zk)
    zk.close()
    fk.kill()
    fk_files = set(data.glob("version-2/*")) - java_files
    java2 = reg(make_server("java", tmp_path / "java2", data, port=fk.port, **SNAP_CFG))
    start_or_fail(java2)
    zk = Zk(java2.port, auths=AUTHS)
    after2 = dump_tree(zk)
    zk.close()
    diffs = diff_dumps(before2, after2)
    assert not diffs, "Java serves a different tree than ferrokeeper wrote:\n" + "\n".join(diffs)
    problems = java_problems(java2)
    assert not problems, "Java complained while loading ferrokeeper's files:\n" + "\n".join(problems[:20])
    java2.stop()
    check_offline_tools(data, java_files, fk_files, tmp_path)


@pytest.mark.parametrize("mode", ["sigterm", "sigkill"])
def test_ferrokeeper_to_java(tmp_path, reg, mode):
    data = tmp_path / "data"
    fk = reg(make_server("ferrokeeper", tmp_path / "fk", data, **SNAP_CFG))
    start_or_fail(fk)
    facts = build_rich_tree(fk.port)
    reg.cleanup(facts["holder"].drop)
    zk = Zk(fk.port, auths=AUTHS)
    before = dump_tree(zk)
    zk.close()
    assert len(snapshots(data)) >= 3 and len(logs(data)) >= 3, "workload did not roll logs/snapshots"
    do_stop(fk, mode)

    java = reg(make_server("java", tmp_path / "java", data, port=fk.port, **SNAP_CFG))
    start_or_fail(java)
    zk = Zk(java.port, auths=AUTHS)
    after = dump_tree(zk)
    zk.close()
    diffs = diff_dumps(before, after)
    assert not diffs, "Java serves a different tree than ferrokeeper wrote:\n" + "\n".join(diffs)
    check_session_reconnects(java, facts["holder"], reg)
    problems = java_problems(java)
    assert not problems, "Java complained while loading ferrokeeper's files:\n" + "\n".join(problems[:20])


def test_log_files_are_java_shaped(tmp_path, reg):
    """Every log ferrokeeper writes parses with Java's framing, zxids strictly increase across
    files, file names are the first zxid in them, and snapshots are named by a logged zxid."""
    data = tmp_path / "data"
    fk = reg(make_server("ferrokeeper", tmp_path / "fk", data, snapCount=20))
    start_or_fail(fk)
    zk = Zk(fk.port)
    zk.create("/shape", b"")
    for k in range(100):
        zk.create(f"/shape/n{k}", b"x" * k)
    zk.close()
    fk.stop()
    prev = 0
    for p in logs(data):
        raw = p.read_bytes()
        assert raw[:16] == b"ZKLG" + (2).to_bytes(4, "big") + bytes(8), f"{p.name}: header {raw[:16].hex()}"
        ents = log_entries(p)
        if not ents:
            continue
        assert ents[0]["zxid"] == int(p.name.split(".")[1], 16), f"{p.name} starts at {ents[0]['zxid']:#x}"
        for e in ents:
            assert e["zxid"] > prev, f"{p.name}@{e['offset']}: zxid {e['zxid']:#x} after {prev:#x}"
            prev = e["zxid"]
    assert len(snapshots(data)) >= 3


# ---------------------------------------------------------------- offline tools

JAVA_CP = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"


def run(cmd, timeout=60):
    import subprocess
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)


def fk(*args):
    from servers import ferrokeeper_bin
    return run([ferrokeeper_bin(), *args])


def java_snapshot_stats(path) -> dict:
    """Java's SnapshotFormatter -d: {path: {czxid, mzxid, pzxid, cversion, version, aversion, owner}}."""
    out = run(["java", "-cp", JAVA_CP, "org.apache.zookeeper.server.SnapshotFormatter", path])
    assert out.returncode == 0, out.stderr[-2000:]
    nodes, cur = {}, None
    keys = {"cZxid": "czxid", "mZxid": "mzxid", "pZxid": "pzxid", "cversion": "cversion",
            "dataVersion": "version", "aclVersion": "aversion", "ephemeralOwner": "ephemeralOwner"}
    for line in out.stdout.splitlines():
        if line.startswith("/"):
            cur = nodes.setdefault(line, {})
        elif line.startswith("  ") and cur is not None and " = " in line:
            k, v = line.lstrip().split(" = ", 1)
            if k in keys:
                cur[keys[k]] = int(v, 16) if v.startswith("0x") else int(v)
        elif line.startswith("Session Details"):
            cur = None
    return nodes


def fk_snapshot_stats(path) -> dict:
    import json
    out = fk("snapshot-dump", "--json", path)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    res = {}
    for n in doc["nodes"]:
        owner = n["ephemeralOwner"] & 0xFFFFFFFFFFFFFFFF
        res[n["path"] or "/"] = {"czxid": n["czxid"], "mzxid": n["mzxid"], "pzxid": n["pzxid"],
                                 "cversion": n["cversion"], "version": n["version"],
                                 "aversion": n["aversion"], "ephemeralOwner": owner}
    return res


def java_txn_count(path) -> int:
    out = run(["java", "-cp", JAVA_CP, "org.apache.zookeeper.server.persistence.TxnLogToolkit", path])
    import re
    m = re.search(r"EOF reached after (\d+) txns", out.stdout + out.stderr)
    assert m, (out.stdout + out.stderr)[-2000:]
    return int(m.group(1))


def check_offline_tools(data: Path, java_files: set, fk_files: set, tmp_path: Path):
    """verify / snapshot-dump / txnlog-dump on a directory holding Java's and ferrokeeper's files,
    cross-checked against Java's own SnapshotFormatter and TxnLogToolkit."""
    out = fk("verify", data)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    last = max(e["zxid"] for p in logs(data) for e in log_entries(p))
    assert f".. {last:#x}" in out.stdout, f"verify does not report the last zxid {last:#x}:\n{out.stdout[-1500:]}"
    for group, files in (("java", java_files), ("ferrokeeper", fk_files)):
        # complete snapshots only (a SIGKILLed Java leaves an empty or partial one behind)
        snaps = sorted((p for p in files if p.name.startswith("snapshot.")
                        and p.read_bytes()[-5:] == b"\x00\x00\x00\x01/"), key=lambda p: zxid_of(p.name))
        lgs = sorted((p for p in files if p.name.startswith("log.")), key=lambda p: zxid_of(p.name))
        assert snaps and lgs, f"no {group} files to check: {sorted(p.name for p in files)}"
        for snap in (snaps[0], snaps[-1]):
            ours, theirs = fk_snapshot_stats(snap), java_snapshot_stats(snap)
            assert ours == theirs, (f"{group} {snap.name}: snapshot-dump and Java's SnapshotFormatter "
                                    f"disagree: only ours {sorted(set(ours) - set(theirs))[:5]}, only "
                                    f"Java's {sorted(set(theirs) - set(ours))[:5]}, differing "
                                    f"{[p for p in ours if p in theirs and ours[p] != theirs[p]][:5]}")
        for lg in (lgs[0], lgs[-1]):
            out = fk("txnlog-dump", lg)
            assert out.returncode == 0, out.stderr
            zx = [int(m, 16) for m in __import__("re").findall(r" zxid (0x[0-9a-f]+) ", out.stdout)]
            expected = [e["zxid"] for e in log_entries(lg)]
            assert zx == expected, f"{group} {lg.name}: txnlog-dump zxids differ from the file's"
            assert java_txn_count(lg) == len(expected)
    # a flipped byte in a copy: verify names the file and the offset and fails
    import shutil
    bad = tmp_path / "bad-copy"
    shutil.copytree(data, bad)
    victim_log = sorted(logs(bad), key=lambda p: len(log_entries(p)))[-1]
    ent = log_entries(victim_log)[len(log_entries(victim_log)) // 2]
    raw = bytearray(victim_log.read_bytes())
    raw[ent["offset"] + 12 + ent["len"] // 2] ^= 0xFF
    victim_log.write_bytes(bytes(raw))
    out = fk("verify", bad)
    text = out.stdout + out.stderr
    assert out.returncode != 0, text[-2000:]
    assert victim_log.name in text and str(ent["offset"]) in text, text[-2000:]


def simple_workload(port: int, prefix: str, n: int, seed: int):
    rng = random.Random(seed)
    zk = Zk(port)
    if zk.exists(prefix) is None:
        zk.create(prefix, b"")
    for k in range(n):
        p = f"{prefix}/n{k % 40}"
        if zk.exists(p) is None:
            zk.create(p, rng.randbytes(rng.randrange(0, 4000)))
        else:
            zk.set(p, rng.randbytes(rng.randrange(0, 4000)))
    zk.close()


@pytest.mark.parametrize("java_method,fk_method", [("gz", "snappy"), ("snappy", "gz")])
def test_compressed_snapshots_both_ways(tmp_path, reg, java_method, fk_method):
    """Java writes compressed snapshots of one method, ferrokeeper (configured with the other)
    reads them and writes its own, Java reads those back."""
    data = tmp_path / "data"
    cp = ["/usr/share/java/snappy-java.jar"]
    java = reg(make_server("java", tmp_path / "java", data, java_cp=cp, snapCount=50,
                           snapshot__compression__method=java_method))
    start_or_fail(java)
    simple_workload(java.port, "/cz", 200, 1)
    zk = Zk(java.port)
    before = dump_tree(zk)
    zk.close()
    java.stop()
    assert any(p.name.endswith("." + java_method) for p in snapshots(data)), sorted(
        p.name for p in snapshots(data))

    fk = reg(make_server("ferrokeeper", tmp_path / "fk", data, port=java.port, snapCount=50,
                         snapshot__compression__method=fk_method))
    start_or_fail(fk)
    zk = Zk(fk.port)
    diffs = diff_dumps(before, dump_tree(zk))
    zk.close()
    assert not diffs, f"ferrokeeper reading Java's {java_method} snapshots:\n" + "\n".join(diffs)
    simple_workload(fk.port, "/cz", 200, 2)
    zk = Zk(fk.port)
    before2 = dump_tree(zk)
    zk.close()
    fk.kill()
    assert any(p.name.endswith("." + fk_method) for p in snapshots(data)), sorted(
        p.name for p in snapshots(data))
    out = fk_verify = run([__import__("servers").ferrokeeper_bin(), "verify", data])
    assert fk_verify.returncode == 0, out.stdout[-2000:]

    java2 = reg(make_server("java", tmp_path / "java2", data, port=fk.port, java_cp=cp, snapCount=50,
                            snapshot__compression__method=java_method))
    start_or_fail(java2)
    zk = Zk(java2.port)
    diffs = diff_dumps(before2, dump_tree(zk))
    zk.close()
    assert not diffs, f"Java reading ferrokeeper's {fk_method} snapshots:\n" + "\n".join(diffs)
    problems = java_problems(java2)
    assert not problems, "\n".join(problems[:20])


def test_split_data_log_dir_both_ways(tmp_path, reg):
    """dataDir (snapshots) and dataLogDir (logs) apart: Java -> ferrokeeper -> Java."""
    data, logdir = tmp_path / "snaps", tmp_path / "txnlogs"
    cfg = {"snapCount": 40, "dataLogDir": logdir}
    java = reg(make_server("java", tmp_path / "java", data, **cfg))
    start_or_fail(java)
    simple_workload(java.port, "/split", 150, 3)
    zk = Zk(java.port)
    before = dump_tree(zk)
    zk.close()
    java.kill()
    assert list(data.glob("version-2/snapshot.*")) and list(logdir.glob("version-2/log.*"))
    assert not list(data.glob("version-2/log.*"))

    fk = reg(make_server("ferrokeeper", tmp_path / "fk", data, port=java.port, **cfg))
    start_or_fail(fk)
    zk = Zk(fk.port)
    diffs = diff_dumps(before, dump_tree(zk))
    zk.close()
    assert not diffs, "\n".join(diffs)
    simple_workload(fk.port, "/split", 150, 4)
    zk = Zk(fk.port)
    before2 = dump_tree(zk)
    zk.close()
    fk.kill()
    assert not list(data.glob("version-2/log.*")), "ferrokeeper wrote a log into dataDir"
    assert not list(logdir.glob("version-2/snapshot.*")), "ferrokeeper wrote a snapshot into dataLogDir"
    out = run([__import__("servers").ferrokeeper_bin(), "verify", data, logdir])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-1000:]

    java2 = reg(make_server("java", tmp_path / "java2", data, port=fk.port, **cfg))
    start_or_fail(java2)
    zk = Zk(java2.port)
    diffs = diff_dumps(before2, dump_tree(zk))
    zk.close()
    assert not diffs, "\n".join(diffs)


def test_autopurge_at_startup_like_java(tmp_path, reg):
    """autopurge.purgeInterval=1 runs the first purge right at startup (Java's
    DatadirCleanupManager schedules it with delay 0): only snapRetainCount snapshots and the logs
    they need stay, on Java and on ferrokeeper alike, and no data is lost."""
    import shutil
    data = tmp_path / "data"
    fk = reg(make_server("ferrokeeper", tmp_path / "fk", data, snapCount=20))
    start_or_fail(fk)
    simple_workload(fk.port, "/purge", 300, 5)
    zk = Zk(fk.port)
    before = dump_tree(zk, skip=("/zookeeper",))
    zk.close()
    fk.stop()
    assert len(snapshots(data)) >= 8
    java_copy = tmp_path / "java-data"
    shutil.copytree(data, java_copy)
    cfg = {"autopurge__purgeInterval": 1, "autopurge__snapRetainCount": 3}

    pre = sorted(p.name for p in (data / "version-2").iterdir())
    pre_snaps = [p.name for p in snapshots(data)]

    def purged(d):
        left = {p.name for p in (d / "version-2").iterdir()}
        return left.isdisjoint(pre_snaps[:-3]) and set(pre_snaps[-3:]) <= left

    def kept(d):
        left = {p.name for p in (d / "version-2").iterdir()}
        return sorted(n for n in pre if n in left)

    java = reg(make_server("java", tmp_path / "java", java_copy, **cfg))
    start_or_fail(java)
    wait_until(lambda: purged(java_copy), 20, interval=0.2, message="Java's purge")
    java.stop()

    fk2 = reg(make_server("ferrokeeper", tmp_path / "fk2", data, port=fk.port, **cfg))
    start_or_fail(fk2)
    try:
        wait_until(lambda: purged(data), 20, interval=0.2, message="ferrokeeper's purge")
    except TimeoutError:
        pytest.fail(f"ferrokeeper did not purge at startup with autopurge.purgeInterval=1 "
                    f"(Java did): {len(snapshots(data))} snapshots left", pytrace=False)
    assert kept(data) == kept(java_copy), "ferrokeeper and Java keep different files"
    zk = Zk(fk2.port)
    diffs = diff_dumps(before, dump_tree(zk, skip=("/zookeeper",)))
    zk.close()
    assert not diffs, "\n".join(diffs)
    fk2.kill()
    fk2.start()
    zk = Zk(fk2.port)
    diffs = diff_dumps(before, dump_tree(zk, skip=("/zookeeper",)))
    zk.close()
    assert not diffs, "\n".join(diffs)


def test_offline_tools_exit_status(tmp_path, reg):
    """snapshot-dump / txnlog-dump fail (non-zero exit) on a missing or corrupt file, so that
    scripts can tell; verify fails on a corrupt directory."""
    data = tmp_path / "data"
    srv = reg(make_server("ferrokeeper", tmp_path / "fk", data))
    start_or_fail(srv)
    simple_workload(srv.port, "/tools", 30, 6)
    srv.stop()
    log = [p for p in logs(data) if len(log_entries(p)) > 5][0]
    ent = log_entries(log)[3]
    raw = bytearray(log.read_bytes())
    raw[ent["offset"] + 14] ^= 0xFF
    bad = tmp_path / "flipped.log"
    bad.write_bytes(bytes(raw))
    problems = []
    for args in (("txnlog-dump", tmp_path / "missing"), ("snapshot-dump", tmp_path / "missing"),
                 ("txnlog-dump", bad), ("snapshot-dump", bad)):
        out = fk(*args)
        if out.returncode == 0:
            problems.append(f"`ferrokeeper {args[0]} {args[1].name}` exits 0: {(out.stdout + out.stderr)[-200:]!r}")
    assert not problems, "\n".join(problems)
